output "public_hostname" {
  description = "Hostname clients use (CloudFront)."
  value       = module.global.public_hostname
}

output "regions" {
  description = "Per-region ALB DNS name, ECS cluster and service, and the Meridian config URL."
  value = {
    for r, m in local.region_modules : r => {
      alb_dns_name         = m.alb_dns_name
      ecs_cluster          = m.ecs_cluster_name
      ecs_service          = m.ecs_service_name
      task_family          = m.task_definition_family
      meridian_config_url  = m.meridian_config_url
      health_check_id      = module.global.health_check_ids[r]
      target_group_checks  = m.target_group_health_check
      deregistration_delay = m.deregistration_delay
      stop_timeout         = m.meridian_stop_timeout
    }
  }
}

output "route53_health_checks" {
  description = "Route 53 health check settings per region."
  value       = module.global.health_checks
}

output "cloudfront_distribution_id" {
  description = "CloudFront distribution ID."
  value       = module.global.cloudfront_distribution_id
}

output "global_writer_endpoint" {
  description = "Aurora global writer endpoint (follows the writer through switchover and failover)."
  value       = module.data.global_writer_endpoint
}

output "write_forwarding" {
  description = "Global write forwarding on each Aurora secondary, keyed by region."
  value       = module.data.write_forwarding
}

output "s3_replication_rules" {
  description = "Every S3 replication rule with its Replication Time Control settings."
  value       = module.data.replication_rules
}

output "aurora_lag_alarms" {
  description = "Aurora lag alarms (metric and threshold in ms) per secondary region."
  value = {
    "eu-west-1"      = module.monitoring_eu_west_1.aurora_lag_alarms
    "ap-southeast-1" = module.monitoring_ap_southeast_1.aurora_lag_alarms
  }
}

output "ecr_repository_urls" {
  description = "ECR repositories in us-east-1 (replicated to the other regions)."
  value       = module.ecr.repository_urls
}

output "deploy_role_arn" {
  description = "GitHub Actions OIDC deploy role."
  value       = module.ecr.deploy_role_arn
}

output "fis_experiments" {
  description = "FIS experiment template IDs per region."
  value = {
    "us-east-1"      = module.fis_us_east_1.experiment_template_ids
    "eu-west-1"      = module.fis_eu_west_1.experiment_template_ids
    "ap-southeast-1" = module.fis_ap_southeast_1.experiment_template_ids
  }
}

output "dashboard_name" {
  description = "CloudWatch dashboard spanning the three regions (in us-east-1)."
  value       = module.monitoring_us_east_1.dashboard_name
}
