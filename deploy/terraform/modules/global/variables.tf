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

variable "fallback_origin_regions" {
  description = "CloudFront's secondary origin for reads, fallback.<domain>: a Route 53 failover record answering with the first region while it serves, else the second. The primary origin is the latency record, which already avoids regions that do not serve."
  type        = list(string)

  validation {
    condition     = length(var.fallback_origin_regions) == 2 && length(distinct(var.fallback_origin_regions)) == 2
    error_message = "Name two different regions: the failover record's PRIMARY and SECONDARY."
  }
}

variable "routing_control_arns" {
  description = "Route 53 ARC routing control ARN per region (modules/arc). When set, a region serves only while its readiness check passes and its routing control is on. Empty: readiness checks only."
  type        = map(string)
  default     = {}
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

variable "read_path_patterns" {
  description = "CloudFront path patterns that serve only reads (GET, HEAD, OPTIONS): they go through the failover origin group. Other methods on them are refused by CloudFront, so list only paths the API never writes to. Everything else takes the write path (all methods, no origin group)."
  type        = list(string)
  default     = ["/ledger/*"]

  validation {
    condition     = length(var.read_path_patterns) <= 24 && alltrue([for p in var.read_path_patterns : p != "*" && p != "/*"])
    error_message = "At most 24 read path patterns (CloudFront allows 25 behaviours), and not the catch-all: the default behaviour is the write path."
  }
}

variable "origin_verify_header" {
  description = "Name of the header CloudFront adds to every origin request; the regional ALBs forward only requests that carry it with the secret value."
  type        = string
  default     = "X-Origin-Verify"
}

variable "origin_verify_secret" {
  description = "Value of the origin-verify header (at least 32 characters). CloudFront's API has no write-only form: it is in the state, which is KMS-encrypted (docs/runbook.md: rotation)."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.origin_verify_secret) >= 32
    error_message = "Use at least 32 random characters (openssl rand -hex 32)."
  }
}
