output "region" {
  description = "Region of this instance."
  value       = var.region
}

output "vpc_id" {
  description = "ID of the region's VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "IPv4 CIDR of the region's VPC."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "Private subnets (tasks, Aurora, ElastiCache), one per AZ."
  value       = aws_subnet.private[*].id
}

output "public_subnet_ids" {
  description = "Public subnets (ALB; the drill task runs here with a public IP)."
  value       = aws_subnet.public[*].id
}

output "availability_zones" {
  description = "Availability zones of the subnets, in subnet order."
  value       = local.azs
}

output "alb_listener_rules" {
  description = "The public ALB's listener: default action, and each rule's priority, kind of condition and action (values of the secret header are not shown)."
  sensitive   = true # built from blocks that hold the origin-verify secret (only names are output)
  value = {
    default_action = aws_lb_listener.public.default_action[0].type
    rules = {
      for k, r in { from_cloudfront = aws_lb_listener_rule.from_cloudfront, route53_readiness = aws_lb_listener_rule.route53_readiness } : k => {
        priority                    = r.priority
        conditions                  = sort(flatten([for c in r.condition : concat([for h in c.http_header : "http_header:${h.http_header_name}"], [for p in c.path_pattern : "path_pattern:${join(",", p.values)}"], [for m in c.http_request_method : "method:${join(",", m.values)}"])]))
        action                      = r.action[0].type
      }
    }
  }
}

output "public_alb_ingress" {
  description = "Ingress rules of the public ALB's two security groups: per group, the source of each rule (prefix list name or CIDR)."
  value = {
    for group, sg in { cloudfront = aws_security_group.alb.id, healthcheckers = aws_security_group.alb_healthcheckers.id } : group => [
      for rule in [aws_vpc_security_group_ingress_rule.alb_https, aws_vpc_security_group_ingress_rule.alb_route53] :
      rule.prefix_list_id == data.aws_ec2_managed_prefix_list.cloudfront.id ? data.aws_ec2_managed_prefix_list.cloudfront.name : (
        rule.prefix_list_id == data.aws_ec2_managed_prefix_list.route53_healthchecks.id ? data.aws_ec2_managed_prefix_list.route53_healthchecks.name : coalesce(rule.cidr_ipv4, "other")
      ) if rule.security_group_id == sg
    ]
  }
}

output "task_definition" {
  description = "The task definition's CPU architecture, container names, the Meridian container's environment variable names and OTLP endpoint, and each container health check's command."
  value = {
    cpu_architecture = one(aws_ecs_task_definition.this.runtime_platform).cpu_architecture
    containers       = [for c in local.containers : c.name]
    meridian_env     = sort(keys(local.meridian_environment))
    otlp_endpoint    = local.meridian_environment.OTEL_EXPORTER_OTLP_ENDPOINT
    health_checks    = { for c in local.containers : c.name => c.healthCheck.command if can(c.healthCheck.command) }
  }
}

output "capacity" {
  description = "On-demand base (minimum tasks), maximum tasks and Spot weight above the base."
  value       = { on_demand_base = var.min_capacity, max = var.max_capacity, spot_weight = var.spot_weight }
}

output "private_subnet_arns" {
  description = "ARNs of the private subnets (targets of the FIS network experiments)."
  value       = aws_subnet.private[*].arn
}

output "private_route_table_id" {
  description = "Route table of the private subnets; the peering module adds sibling routes to it."
  value       = aws_route_table.private.id
}

output "sibling_prefix_list_id" {
  description = "Managed prefix list holding the sibling VPC CIDRs."
  value       = aws_ec2_managed_prefix_list.siblings.id
}

output "db_security_group_id" {
  description = "Security group to attach to Aurora (5432 from tasks only)."
  value       = aws_security_group.db.id
}

output "cache_security_group_id" {
  description = "Security group to attach to ElastiCache (6379 from tasks only)."
  value       = aws_security_group.cache.id
}

output "kms_key_arn" {
  description = "ARN of the region's customer-managed KMS key."
  value       = aws_kms_key.this.arn
}

output "alb_arn" {
  description = "ARN of the public ALB."
  value       = aws_lb.this["public"].arn
}

output "alb_arn_suffix" {
  description = "ARN suffix of the public ALB (CloudWatch LoadBalancer dimension)."
  value       = aws_lb.this["public"].arn_suffix
}

output "alb_dns_name" {
  description = "DNS name of the public ALB."
  value       = aws_lb.this["public"].dns_name
}

output "alb_zone_id" {
  description = "Route 53 hosted zone ID of the public ALB (for alias records)."
  value       = aws_lb.this["public"].zone_id
}

output "internal_alb_dns_name" {
  description = "DNS name of the internal ALB that sibling regions reach over peering."
  value       = aws_lb.this["internal"].dns_name
}

output "internal_alb_zone_id" {
  description = "Route 53 hosted zone ID of the internal ALB."
  value       = aws_lb.this["internal"].zone_id
}

output "target_group_arn_suffix" {
  description = "ARN suffix of the public target group (CloudWatch TargetGroup dimension)."
  value       = aws_lb_target_group.this["public"].arn_suffix
}

output "target_group_health_check" {
  description = "Health check of the target groups: path, interval and thresholds."
  value = {
    path                = aws_lb_target_group.this["public"].health_check[0].path
    interval            = aws_lb_target_group.this["public"].health_check[0].interval
    unhealthy_threshold = aws_lb_target_group.this["public"].health_check[0].unhealthy_threshold
    internal_path       = aws_lb_target_group.this["internal"].health_check[0].path
  }
}

output "deregistration_delay" {
  description = "Deregistration delay of the target groups, seconds."
  value       = tonumber(aws_lb_target_group.this["public"].deregistration_delay)
}

output "ecs_cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "ecs_cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "ecs_service_name" {
  description = "Name of the ECS service."
  value       = aws_ecs_service.this.name
}

output "task_definition_family" {
  description = "Task definition family (the deploy workflow registers new revisions of it)."
  value       = aws_ecs_task_definition.this.family
}

output "task_log_group_name" {
  description = "CloudWatch log group of the task containers (Meridian's JSON logs included)."
  value       = aws_cloudwatch_log_group.tasks.name
}

output "meridian_config" {
  description = "The rendered Meridian TOML delivered through AppConfig."
  value       = local.meridian_config
}

output "meridian_config_url" {
  description = "URL Meridian polls (the AppConfig agent on localhost)."
  value       = local.appconfig_url
}

output "meridian_stop_timeout" {
  description = "ECS stopTimeout of the Meridian container, seconds."
  value       = var.stop_timeout
}

output "access_log_bucket" {
  description = "Name of the region's log bucket (ALB access logs; S3 server access logs go under s3-access/)."
  value       = aws_s3_bucket.alb_logs.bucket
}
