variable "bucket_name" {
  description = "Name of the data bucket (created in the region of the provider passed in)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of this region: default encryption of the bucket (with S3 bucket keys)."
  type        = string
}

variable "access_log_bucket" {
  description = "Bucket in the same region that receives this bucket's access logs (prefix s3-access/<bucket>/)."
  type        = string
}

variable "replication_role_arn" {
  description = "IAM role S3 assumes to replicate (one role, in the writer region's account, serves every bucket)."
  type        = string
}

variable "replication_rules" {
  description = "One rule per destination bucket: rule ID, priority, destination bucket ARN and the destination region's KMS key for the replicas."
  type = list(object({
    id          = string
    priority    = number
    bucket_arn  = string
    kms_key_arn = string
  }))
}

variable "replication_time_minutes" {
  description = "Replication Time Control threshold and replication-metrics event threshold, minutes (RTC supports 15 only)."
  type        = number
  default     = 15
}

variable "replicate_after" {
  description = "Versioning IDs of the destination buckets: replication is configured only once every destination is versioned."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to the bucket."
  type        = map(string)
  default     = {}
}
