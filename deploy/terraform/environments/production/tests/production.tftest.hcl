# Offline plan-and-apply of the whole production environment against mocked AWS providers.
# Run: terraform test (deploy/check.sh does, with a local provider mirror and no network).
# The assertions pin the failover design and the AWS API rules the provider does not check itself:
# break one of these properties and the test fails (deploy/check.sh proves it for the API rules by
# running this file on mutated copies; see deploy/policies/mutations.txt).
# One run: every apply of the whole stack against mocks costs ~20 s.

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

mock_provider "aws" {
  alias  = "us_west_2"
  source = "./tests/mocks"
}

# Two different managed prefix lists (a mock would give both the same ID).
override_data {
  target = module.us_east_1.data.aws_ec2_managed_prefix_list.cloudfront
  values = { id = "pl-3b927c52" }
}

override_data {
  target = module.us_east_1.data.aws_ec2_managed_prefix_list.route53_healthchecks
  values = { id = "pl-06b2a3e8d1c7f9a01" }
}

override_data {
  target = module.eu_west_1.data.aws_ec2_managed_prefix_list.cloudfront
  values = { id = "pl-3b927c52" }
}

override_data {
  target = module.eu_west_1.data.aws_ec2_managed_prefix_list.route53_healthchecks
  values = { id = "pl-06b2a3e8d1c7f9a01" }
}

override_data {
  target = module.ap_southeast_1.data.aws_ec2_managed_prefix_list.cloudfront
  values = { id = "pl-3b927c52" }
}

override_data {
  target = module.ap_southeast_1.data.aws_ec2_managed_prefix_list.route53_healthchecks
  values = { id = "pl-06b2a3e8d1c7f9a01" }
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
  aurora_app_password        = "test-app-password"
  aurora_monitor_password    = "test-monitor-password"
  origin_verify_secret       = "0123456789abcdef0123456789abcdef"
  failover_approvers         = ["arn:aws:iam::123456789012:role/on-call"]
  pager_https_endpoints      = ["https://events.pagerduty.example/integration/abc/enqueue"]
}

run "platform" {
  command = apply

  # --- AWS API rules (each guarded by a mutation in deploy/check.sh) ---

  assert {
    condition = alltrue([for b in output.edge.behaviors :
      length(setsubtract(b.allowed_methods, ["GET", "HEAD", "OPTIONS"])) == 0 if b.origin_group
    ])
    error_message = "API rule: a CloudFront cache behaviour that targets an origin group may allow only GET, HEAD and OPTIONS."
  }

  assert {
    condition = alltrue([for r, c in output.aurora_clusters :
      c.source_region != "" if c.secondary && c.global_member && c.kms_encrypted
    ])
    error_message = "API rule: an encrypted cross-region Aurora secondary cluster needs source_region."
  }

  assert {
    condition     = alltrue([for r, g in output.edge.alb_ingress : length(g.cloudfront) == 1])
    error_message = "API rule: the CloudFront origin-facing prefix list weighs 55 rules; its security group (60 rules) can hold nothing else."
  }

  assert {
    condition     = alltrue([for r, a in output.failover_automation : startswith(a.approval_topic, "Automation")])
    error_message = "API rule: aws:approve publishes only to an SNS topic whose name starts with Automation."
  }

  assert {
    condition = alltrue(flatten([for r, t in output.tasks : [for name, cmd in t.definition.health_checks :
      contains(["CMD", "CMD-SHELL"], cmd[0])
    ]]))
    error_message = "API rule: an ECS container health check command starts with CMD or CMD-SHELL."
  }

  # --- Edge: reads fail over, writes reach the platform, the ALB only answers CloudFront ---

  assert {
    condition = length([for b in output.edge.behaviors : b if b.path_pattern == "default" && !b.origin_group &&
    contains(b.allowed_methods, "POST") && contains(b.allowed_methods, "DELETE")]) == 1
    error_message = "Writes need a path: the default behaviour takes every method to a non-failover origin."
  }

  assert {
    condition     = length([for b in output.edge.behaviors : b if b.origin_group]) >= 1
    error_message = "Reads need CloudFront origin failover: at least one behaviour targets the origin group."
  }

  assert {
    condition     = alltrue([for id, o in output.edge.origins : contains(o.custom_headers, "X-Origin-Verify")])
    error_message = "Every CloudFront origin must send the origin-verify header."
  }

  assert {
    condition = alltrue([for r, l in output.edge.alb_rules :
      l.default_action == "fixed-response" && tolist(l.rules.from_cloudfront.conditions) == tolist(["http_header:X-Origin-Verify"]) &&
      l.rules.from_cloudfront.action == "forward" && contains(l.rules.route53_readiness.conditions, "path_pattern:/.meridian/readyz")
    ])
    error_message = "The public ALB must answer 403 by default and forward only CloudFront's header (or the readiness path)."
  }

  assert {
    condition = alltrue([for r, g in output.edge.alb_ingress :
      tolist(g.cloudfront) == tolist(["com.amazonaws.global.cloudfront.origin-facing"]) && tolist(g.healthcheckers) == tolist(["com.amazonaws.${r}.route53-healthchecks"])
    ])
    error_message = "The public ALB admits only CloudFront's origin-facing and Route 53's health-checker prefix lists."
  }

  # --- Regions, services, drain ---

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

  # --- Tasks: Graviton, the ADOT sidecar, OTLP on localhost; capacity with one region lost ---

  assert {
    condition = alltrue([for r, t in output.tasks :
      t.definition.cpu_architecture == "ARM64" && contains(t.definition.containers, "otel-collector") &&
      t.definition.otlp_endpoint == "http://localhost:4318"
    ])
    error_message = "Tasks run on Graviton (ARM64) with the ADOT collector sidecar; Meridian exports OTLP to localhost:4318."
  }

  assert {
    # Baseline req/s per region (docs/cost.md) and 50 req/s per task: with any one region lost,
    # the survivors' on-demand bases carry the whole load.
    condition = alltrue([for lost in keys(output.tasks) :
      sum([for r, t in output.tasks : t.capacity.on_demand_base if r != lost]) * 50 >= 300
    ])
    error_message = "N-1 sizing: with any one region lost, the other regions' on-demand bases must carry 300 req/s at 50 req/s per task."
  }

  assert {
    condition     = alltrue([for r, t in output.tasks : t.capacity.on_demand_base >= 2 && t.capacity.max > t.capacity.on_demand_base])
    error_message = "Each region keeps at least two on-demand tasks and may scale out (Spot) above its base."
  }

  # --- Route 53 ---

  assert {
    condition = alltrue([for r, hc in output.route53_health_checks :
      hc.request_interval == 10 && hc.failure_threshold == 2 && hc.type == "HTTPS" && hc.resource_path == "/.meridian/readyz"
    ])
    error_message = "Route 53 health checks must be HTTPS on /.meridian/readyz with request_interval 10 and failure_threshold 2."
  }

  assert {
    condition     = length(output.route53_health_checks) == 3 && length(output.edge.serving_hcs) == 3 && length(output.routing_controls.arns) == 3
    error_message = "Each region's DNS answers are tied to a serving check (readiness AND its ARC routing control)."
  }

  # --- Data tier ---

  assert {
    condition     = output.write_forwarding == { "us-east-1" = true, "eu-west-1" = true, "ap-southeast-1" = true }
    error_message = "Global write forwarding must be enabled on every cluster that can become a secondary."
  }

  assert {
    condition     = alltrue([for r, c in output.aurora_clusters : c.instances >= 2])
    error_message = "Every Aurora cluster needs at least two instances, so a promoted secondary is highly available."
  }

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

  # --- Monitoring in every region ---

  assert {
    condition     = length(flatten([for r, alarms in output.aurora_lag_alarms : values(alarms)])) == 6
    error_message = "Every region (each cluster can become a secondary) needs an RPO-lag and a replication-lag alarm."
  }

  assert {
    condition     = alltrue(flatten([for r, alarms in output.aurora_lag_alarms : [for a in values(alarms) : a.threshold < 5000]]))
    error_message = "Aurora lag alarms must fire under 5 s (5000 ms)."
  }

  assert {
    condition = alltrue([for r, a in output.replication_alarms :
      a.cache_lag != "" && a.aurora_writer != "" && length(a.s3_failed) == 2 && length(a.s3_latency) == 2 && a.pager_endpoints == 1
    ])
    error_message = "Every region alarms on ElastiCache lag, Aurora writer health and S3 replication failures and latency, and pages."
  }

  # --- Failover automation: two vantage points, no us-east-1 dependency ---

  assert {
    condition = alltrue([for r, alarms in output.writer_down_alarms :
      toset(keys(alarms)) == toset([for o in keys(output.regions) : o if o != r])
    ])
    error_message = "Each region judges each sibling (writer-down composite alarm per observer and sibling)."
  }

  assert {
    condition = alltrue([for r, a in output.failover_automation :
      length(a.triggers) == 2 && contains(a.steps, "vote:aws:executeScript") && contains(a.steps, "ApproveDataLoss:aws:approve") &&
      contains(a.steps, "fence:aws:executeScript") && contains(a.steps, "database:aws:executeScript") && contains(a.steps, "cache:aws:executeScript")
    ])
    error_message = "Every region has the failover automation (vote, approval above the RPO objective, fence, database, cache), started by its composite alarms."
  }

  # --- FIS: every fault measured by meridian drill ---

  assert {
    condition = alltrue(flatten([for r, drills in output.drill_actions : [for k, d in drills :
      tolist(d.action_ids) == tolist(["aws:ssm:start-automation-execution"]) && d.fault == output.fis_experiments[r].faults[k]
    ]]))
    error_message = "Each drill experiment runs the drill automation with its own fault template."
  }

  assert {
    condition     = alltrue([for r, e in output.fis_experiments : length(setsubtract(["db_writer_failover", "cache_az_power", "data_switchover", "stop_app_tier"], keys(e.drills))) == 0])
    error_message = "Database and cache failover experiments exist, each wrapped in a drill."
  }
}
