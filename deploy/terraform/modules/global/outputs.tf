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
