variable "name" {
  description = "Name prefix for every resource (for example \"meridian\")."
  type        = string
  default     = "meridian"
}

variable "region" {
  description = "Region this instance runs in (must match the aws provider passed in)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key (in this region) that encrypts the SNS alert topic."
  type        = string
}

variable "alert_emails" {
  description = "E-mail addresses subscribed to this region's alert topic (each must confirm)."
  type        = list(string)
  default     = []
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the region's public ALB (CloudWatch LoadBalancer dimension)."
  type        = string
}

variable "target_group_arn_suffix" {
  description = "ARN suffix of the region's public target group (CloudWatch TargetGroup dimension)."
  type        = string
}

variable "task_log_group_name" {
  description = "Log group of the Meridian containers; the failover metric filter reads it."
  type        = string
}

variable "failover_alarm_threshold" {
  description = "Meridian failovers per minute (sum) that count as abnormal."
  type        = number
  default     = 60
}

variable "aurora_cluster_id" {
  description = "Identifier of this region's Aurora cluster (member of the global database; the lag metrics exist while it is a secondary)."
  type        = string
}

variable "aurora_commit_latency_threshold_ms" {
  description = "Alarm when the writer's average CommitLatency exceeds this many milliseconds for 3 minutes."
  type        = number
  default     = 100
}

variable "writer_down_lag_ms" {
  description = "Replication lag (ms) above which this region's replica counts as no longer hearing from the writer, in the writer-down composite alarms."
  type        = number
  default     = 1000
}

variable "cache_replication_group_id" {
  description = "ElastiCache replication group of this region (Global Datastore member); its nodes are <id>-001 and <id>-002."
  type        = string
}

variable "cache_lag_threshold_seconds" {
  description = "Alarm when the Global Datastore member is more than this many seconds behind the primary."
  type        = number
  default     = 2
}

variable "sibling_regions" {
  description = "The other regions: this region's vantage point on each (writer-down composite alarms)."
  type        = list(string)
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of Meridian's metrics (exported by the task's OpenTelemetry collector)."
  type        = string
  default     = "Meridian"
}

variable "pager_https_endpoints" {
  description = "HTTPS endpoints of a pager (PagerDuty, Opsgenie, ...) subscribed to this region's alert topic."
  type        = list(string)
  default     = []
}

variable "aurora_lag_threshold_ms" {
  description = "Alarm threshold for AuroraGlobalDBReplicationLag and AuroraGlobalDBRPOLag, milliseconds. Keep it well under the 5 s RPO budget."
  type        = number
  default     = 2000

  validation {
    condition     = var.aurora_lag_threshold_ms < 5000
    error_message = "The lag alarm must fire well before the 5 s RPO budget is spent."
  }
}

variable "s3_replication" {
  description = "S3 replication rules whose source bucket is in this region: source bucket, destination bucket and rule ID."
  type = list(object({
    source_bucket      = string
    destination_bucket = string
    rule_id            = string
  }))
  default = []
}

variable "s3_replication_latency_threshold_seconds" {
  description = "Alarm when S3 ReplicationLatency (maximum) exceeds this many seconds."
  type        = number
  default     = 900
}

variable "route53_health_check_ids" {
  description = "Route 53 health check IDs keyed by region; alarms on them are created only in us-east-1, where Route 53 publishes its metrics."
  type        = map(string)
  default     = {}
}

variable "dashboard_regions" {
  description = "When non-empty, create the cross-region dashboard here: per region its ALB and target group ARN suffixes and its Aurora cluster ID."
  type = map(object({
    alb_arn_suffix          = string
    target_group_arn_suffix = string
    aurora_cluster_id       = string
  }))
  default = {}
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
