variable "domain" {
  description = "DNS domain of the public Route 53 hosted zone (for example \"example.com\")."
  type        = string
}

variable "zone_id" {
  description = "ID of the public Route 53 hosted zone for var.domain."
  type        = string
}

variable "regional_certificate_arns" {
  description = "ACM certificate ARN per region (keyed by region name) for the ALBs; each must cover ingress.<region>.<domain> and origin.<domain>."
  type        = map(string)
}

variable "cloudfront_certificate_arn" {
  description = "ACM certificate ARN in us-east-1 for the public hostname on CloudFront."
  type        = string
}

variable "meridian_image_tag" {
  description = "Immutable tag of the Meridian image in ECR (the deploy workflow sets it to the commit SHA)."
  type        = string
}

variable "app_image_tag" {
  description = "Immutable tag of the application image in ECR."
  type        = string
}

variable "alert_emails" {
  description = "E-mail addresses that receive every region's alerts."
  type        = list(string)
  default     = []
}

variable "github_repository" {
  description = "GitHub repository (owner/name) allowed to deploy through OIDC; empty for no CI role."
  type        = string
  default     = ""
}

variable "forward_secret" {
  description = "Meridian forwarding-mark HMAC secret (for example `openssl rand -hex 32`). Ephemeral: written to Secrets Manager only when forward_secret_version changes."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "forward_secret_version" {
  description = "Bump together with a new forward_secret to rotate it (every region must restart Meridian: see docs/runbook.md)."
  type        = number
  default     = 1
}

variable "aurora_master_password" {
  description = "Aurora master password. Ephemeral: written only when aurora_master_password_version changes."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "aurora_master_password_version" {
  description = "Bump together with a new aurora_master_password to rotate it."
  type        = number
  default     = 1
}

variable "aurora_writer_region" {
  description = "Region whose Aurora cluster is currently the global writer. Terraform creates it in us-east-1; after a switchover or failover set this to the new writer's region (docs/runbook.md) so the apps there stop expecting write forwarding."
  type        = string
  default     = "us-east-1"
}

variable "cache_primary_region" {
  description = "Region of the ElastiCache Global Datastore primary member, where cache writes go. Set after failover-global-replication-group (docs/runbook.md)."
  type        = string
  default     = "us-east-1"
}
