output "routing_control_arns" {
  description = "Routing control ARN per region."
  value       = { for r, c in aws_route53recoverycontrolconfig_routing_control.region : r => c.arn }
}

output "cluster_arn" {
  description = "ARN of the ARC cluster."
  value       = aws_route53recoverycontrolconfig_cluster.this.arn
}

output "cluster_endpoints" {
  description = "The ARC cluster's five regional data-plane endpoints (endpoint URL and region); any one of them can read or flip a routing control."
  value       = [for e in aws_route53recoverycontrolconfig_cluster.this.cluster_endpoints : { endpoint = e.endpoint, region = e.region }]
}
