output "public_hostname" {
  description = "Hostname clients use (alias to CloudFront)."
  value       = local.public_hostname
}

output "origin_hostname" {
  description = "Latency-routed hostname CloudFront uses as its primary origin."
  value       = local.origin_hostname
}

output "ingress_hostnames" {
  description = "Per-region ingress hostnames, keyed by region."
  value       = local.ingress_host
}

output "health_check_ids" {
  description = "Route 53 health check IDs, keyed by region."
  value       = { for r, hc in aws_route53_health_check.region : r => hc.id }
}

output "serving_health_check_ids" {
  description = "Per region, the health check its DNS answers are tied to (calculated: readiness AND routing control, when ARC is configured), keyed by region."
  value       = local.serving_check
}

output "fallback_hostname" {
  description = "CloudFront's secondary origin for reads (Route 53 failover record)."
  value       = local.fallback_hostname
}

output "health_checks" {
  description = "Route 53 health check settings, keyed by region (type, path, interval, threshold)."
  value = {
    for r, hc in aws_route53_health_check.region : r => {
      type              = hc.type
      resource_path     = hc.resource_path
      request_interval  = hc.request_interval
      failure_threshold = hc.failure_threshold
    }
  }
}

output "latency_record_regions" {
  description = "Regions with a latency-based answer for the origin hostname."
  value       = sort([for r in aws_route53_record.origin : r.latency_routing_policy[0].region])
}

output "cloudfront_distribution_id" {
  description = "ID of the CloudFront distribution."
  value       = aws_cloudfront_distribution.this.id
}

output "cloudfront_domain_name" {
  description = "Domain name of the CloudFront distribution."
  value       = aws_cloudfront_distribution.this.domain_name
}

output "cloudfront_failover_status_codes" {
  description = "Origin statuses on which CloudFront fails over to the secondary origin."
  value       = one(one(aws_cloudfront_distribution.this.origin_group).failover_criteria).status_codes
}

output "cloudfront_behaviors" {
  description = "Every CloudFront cache behaviour: path pattern (\"default\" for the default), target origin, allowed methods and whether the target is an origin group."
  value = concat(
    [for b in aws_cloudfront_distribution.this.default_cache_behavior : {
      path_pattern    = "default"
      target_origin   = b.target_origin_id
      allowed_methods = sort(b.allowed_methods)
      origin_group    = contains(local.origin_group_ids, b.target_origin_id)
    }],
    [for b in aws_cloudfront_distribution.this.ordered_cache_behavior : {
      path_pattern    = b.path_pattern
      target_origin   = b.target_origin_id
      allowed_methods = sort(b.allowed_methods)
      origin_group    = contains(local.origin_group_ids, b.target_origin_id)
    }],
  )
}

output "cloudfront_origins" {
  description = "CloudFront origins: domain, connect attempts and timeout, and the names of the custom headers each sends (values are secret)."
  sensitive   = true # built from blocks that hold the origin-verify secret (only names are output)
  value = {
    for o in aws_cloudfront_distribution.this.origin : o.origin_id => {
      domain_name         = o.domain_name
      connection_attempts = o.connection_attempts
      connection_timeout  = o.connection_timeout
      custom_headers      = sort([for h in o.custom_header : h.name])
    }
  }
}
