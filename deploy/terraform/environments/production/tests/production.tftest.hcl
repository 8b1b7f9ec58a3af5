# Offline plan-and-apply of the whole production environment against mocked AWS providers.
# Run: terraform test (deploy/check.sh does, with a local provider mirror and no network).
# The assertions pin the failover design: break one of these properties and the test fails.

mock_provider "aws" {
  alias  = "us_east_1"
  source = "./tests/mocks"
}

mock_provider "aws" {
  alias  = "eu_west_1"
  source = "./tests/mocks"
}

mock_provider "aws" {
  alias  = "ap_southeast_1"
  source = "./tests/mocks"
}

variables {
  domain  = "example.com"
  zone_id = "Z0000000000000000000"
  regional_certificate_arns = {
    "us-east-1"      = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000001"
    "eu-west-1"      = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000002"
    "ap-southeast-1" = "arn:aws:acm:ap-southeast-1:123456789012:certificate/00000000-0000-0000-0000-000000000003"
  }
  cloudfront_certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000004"
  meridian_image_tag         = "0123456789abcdef"
  app_image_tag              = "fedcba9876543210"
  github_repository          = "example/meridian"
  forward_secret             = "test-forward-secret"
  aurora_master_password     = "test-master-password"
}

run "three_regions_with_alb_service_and_readiness_checks" {
  command = apply

  assert {
    condition     = toset(keys(output.regions)) == toset(["us-east-1", "eu-west-1", "ap-southeast-1"])
    error_message = "Meridian must run in exactly us-east-1, eu-west-1 and ap-southeast-1."
  }

  assert {
    condition     = alltrue([for r, v in output.regions : v.alb_dns_name != "" && v.ecs_service == "meridian" && v.ecs_cluster == "meridian-${r}"])
    error_message = "Every region needs its ALB and its ECS service."
  }

  assert {
    condition     = alltrue([for r, v in output.regions : v.target_group_checks.path == "/.meridian/readyz" && v.target_group_checks.internal_path == "/.meridian/readyz"])
    error_message = "Target groups must health-check Meridian's readiness path /.meridian/readyz."
  }

  assert {
    condition     = alltrue([for r, v in output.regions : v.deregistration_delay < v.stop_timeout && v.stop_timeout >= 45 && v.deregistration_delay > 10])
    error_message = "Drain arithmetic broken: need request deadline (10 s) < deregistration delay < stopTimeout, and stopTimeout >= drain + grace (45 s)."
  }

  assert {
    condition     = alltrue([for r, v in output.regions : startswith(v.meridian_config_url, "http://localhost:2772/applications/")])
    error_message = "Meridian must poll its configuration from the AppConfig agent on localhost:2772."
  }
}

run "route53_health_checks_are_fast" {
  command = apply

  assert {
    condition     = length(output.route53_health_checks) == 3
    error_message = "One Route 53 health check per region."
  }

  assert {
    condition = alltrue([for r, hc in output.route53_health_checks :
      hc.request_interval == 10 && hc.failure_threshold == 2 && hc.type == "HTTPS" && hc.resource_path == "/.meridian/readyz"
    ])
    error_message = "Route 53 health checks must be HTTPS on /.meridian/readyz with request_interval 10 and failure_threshold 2."
  }
}

run "aurora_write_forwarding_on_both_secondaries" {
  command = apply

  assert {
    condition     = output.write_forwarding == { "eu-west-1" = true, "ap-southeast-1" = true }
    error_message = "Global write forwarding must be enabled on both Aurora secondaries."
  }
}

run "s3_replication_time_control_on_every_rule" {
  command = apply

  assert {
    condition     = length(output.s3_replication_rules) == 6
    error_message = "Each of the three buckets replicates to the two others: six rules."
  }

  assert {
    condition = alltrue([for rule in output.s3_replication_rules :
      rule.rtc_status == "Enabled" && rule.rtc_minutes == 15 && rule.metrics_status == "Enabled" && rule.metrics_minutes == 15
    ])
    error_message = "Every replication rule needs Replication Time Control (15 min) and replication metrics."
  }
}

run "rpo_alarms_fire_well_before_five_seconds" {
  command = apply

  assert {
    condition     = length(flatten([for r, alarms in output.aurora_lag_alarms : values(alarms)])) == 4
    error_message = "Each secondary needs an RPO-lag and a replication-lag alarm."
  }

  assert {
    condition     = alltrue(flatten([for r, alarms in output.aurora_lag_alarms : [for a in values(alarms) : a.threshold < 5000]]))
    error_message = "Aurora lag alarms must fire under 5 s (5000 ms)."
  }

  assert {
    condition     = toset(flatten([for r, alarms in output.aurora_lag_alarms : [for a in values(alarms) : a.metric]])) == toset(["AuroraGlobalDBRPOLag", "AuroraGlobalDBReplicationLag"])
    error_message = "Alarm on both AuroraGlobalDBRPOLag and AuroraGlobalDBReplicationLag."
  }
}
