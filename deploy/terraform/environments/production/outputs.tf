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
  description = "Aurora lag alarms (metric and threshold in ms) per region (every cluster can become a secondary)."
  value       = { for r, m in local.monitoring_modules : r => m.aurora_lag_alarms }
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
  description = "FIS experiment template IDs per region: the faults, and the drill-wrapped faults (measured by meridian drill)."
  value       = { for r, m in local.fis_modules : r => { faults = m.experiment_template_ids, drills = m.drill_experiment_template_ids, results_bucket = m.drill_results_bucket } }
}

output "drill_actions" {
  description = "Per region and drill experiment: its FIS actions and the fault template it injects."
  value       = { for r, m in local.fis_modules : r => m.drill_actions }
}

output "failover_automation" {
  description = "Per region: the data-tier failover automation document, its steps, and the EventBridge rules that start it."
  value       = { for r, m in local.dr_modules : r => { document = m.document_name, steps = m.document_steps, triggers = m.trigger_rules, approval_topic = local.monitoring_modules[r].approval_topic.name } }
}

output "writer_down_alarms" {
  description = "Per observer region: its writer-down composite alarm about each sibling."
  value       = { for r, m in local.monitoring_modules : r => m.writer_down_alarms }
}

output "replication_alarms" {
  description = "Replication alarms per region (Aurora, ElastiCache, S3) and the number of pager subscriptions."
  value       = { for r, m in local.monitoring_modules : r => m.replication_alarm_names }
}

output "routing_controls" {
  description = "ARC routing control ARN per region, and the five data-plane endpoints that flip them."
  value       = { arns = module.arc.routing_control_arns, endpoints = module.arc.cluster_endpoints }
}

output "dr_ledger_table" {
  description = "DynamoDB global table where the failover automation records every step (replica in every region)."
  value       = aws_dynamodb_table.dr_ledger.name
}

output "edge" {
  description = "CloudFront behaviours and origins, and per region the public ALB's listener rules and security-group sources."
  sensitive   = true # built from blocks that hold the origin-verify secret (only names are output)
  value = {
    behaviors     = module.global.cloudfront_behaviors
    origins       = module.global.cloudfront_origins
    alb_rules     = { for r, m in local.region_modules : r => m.alb_listener_rules }
    alb_ingress   = { for r, m in local.region_modules : r => m.public_alb_ingress }
    serving_hcs   = module.global.serving_health_check_ids
    fallback_fqdn = module.global.fallback_hostname
  }
}

output "tasks" {
  description = "Per region: task definition facts (architecture, containers, Meridian env names) and capacity."
  value       = { for r, m in local.region_modules : r => { definition = m.task_definition, capacity = m.capacity } }
}

output "aurora_clusters" {
  description = "API-relevant facts of each Aurora cluster (global member, KMS, source_region, secondary, instances)."
  value       = module.data.aurora_clusters
}

output "dashboard_name" {
  description = "CloudWatch dashboard spanning the three regions (in us-east-1)."
  value       = module.monitoring_us_east_1.dashboard_name
}
