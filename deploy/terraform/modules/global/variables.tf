variable "name" {
  description = "Name prefix for every resource (for example \"meridian\")."
  type        = string
  default     = "meridian"
}

variable "domain" {
  description = "DNS domain of the public Route 53 hosted zone (for example \"example.com\")."
  type        = string
}

variable "zone_id" {
  description = "ID of the public Route 53 hosted zone for var.domain."
  type        = string
}

variable "public_hostname" {
  description = "Hostname clients use; it points at CloudFront. Empty means api.<domain>."
  type        = string
  default     = ""
}

variable "cloudfront_certificate_arn" {
  description = "ARN of the ACM certificate in us-east-1 for the public hostname on CloudFront."
  type        = string
}

variable "regions" {
  description = "Per-region ingress, keyed by region name: public ALB (DNS name, zone ID), internal ALB (DNS name, zone ID) and VPC ID."
  type = map(object({
    alb_dns_name          = string
    alb_zone_id           = string
    internal_alb_dns_name = string
    internal_alb_zone_id  = string
    vpc_id                = string
  }))

  validation {
    condition     = length(var.regions) >= 2
    error_message = "Multi-region failover needs at least two regions."
  }
}

variable "secondary_origin_region" {
  description = "Region whose ingress is CloudFront's secondary origin (the primary origin is the latency record, which already avoids unhealthy regions)."
  type        = string
}

variable "health_check_interval" {
  description = "Route 53 health check request interval, seconds (10 = fast, or 30 = standard)."
  type        = number
  default     = 10

  validation {
    condition     = contains([10, 30], var.health_check_interval)
    error_message = "Route 53 supports request intervals of 10 or 30 seconds."
  }
}

variable "health_check_failure_threshold" {
  description = "Consecutive failed Route 53 checks before a region is considered unhealthy."
  type        = number
  default     = 2
}

variable "log_retention_days" {
  description = "Retention of the WAF log group, days."
  type        = number
  default     = 365
}

variable "kms_key_arn" {
  description = "ARN of a KMS key in us-east-1 for the WAF log group."
  type        = string
}

variable "waf_rate_limit" {
  description = "Requests per 5 minutes from one IP before CloudFront's WAF blocks it."
  type        = number
  default     = 2000
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
