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

variable "aurora_app_password" {
  description = "Password of the application's database user meridian_app. Ephemeral: written only when db_user_password_version changes."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "aurora_monitor_password" {
  description = "Password of Meridian's monitoring database user meridian_monitor. Ephemeral, like aurora_app_password."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "db_user_password_version" {
  description = "Bump together with new aurora_app_password / aurora_monitor_password to rotate them."
  type        = number
  default     = 1
}

variable "origin_verify_secret" {
  description = "Secret value of the header CloudFront sends to the regional ALBs (openssl rand -hex 32). Kept in the state: the CloudFront and ELB APIs have no write-only form."
  type        = string
  sensitive   = true
}

variable "origin_verify_previous_secret" {
  description = "During a rotation only: the previous origin-verify value, still accepted by the ALBs until CloudFront sends the new one everywhere (docs/runbook.md)."
  type        = string
  sensitive   = true
  default     = ""
}

variable "failover_approvers" {
  description = "IAM principal ARNs (the on-call role) that may approve a database failover whose data loss may exceed the RPO objective."
  type        = list(string)
}

variable "pager_https_endpoints" {
  description = "HTTPS endpoints of the pager, subscribed to every region's alert topic."
  type        = list(string)
  default     = []
}
