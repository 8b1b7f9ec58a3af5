variable "name" {
  description = "Name prefix for every resource (for example \"meridian\")."
  type        = string
  default     = "meridian"
}

variable "regions" {
  description = "The three regions, keyed primary (the writer; matches provider aws.primary), secondary_1 and secondary_2: region name, private subnets, the security groups for Aurora and ElastiCache, the KMS key, the data bucket name and the bucket that receives its access logs."
  type = map(object({
    region                  = string
    subnet_ids              = list(string)
    db_security_group_id    = string
    cache_security_group_id = string
    kms_key_arn             = string
    bucket_name             = string
    access_log_bucket       = string
  }))

  validation {
    condition     = toset(keys(var.regions)) == toset(["primary", "secondary_1", "secondary_2"])
    error_message = "regions must have exactly the keys primary, secondary_1 and secondary_2."
  }
}

variable "aurora_engine_version" {
  description = "Aurora PostgreSQL version. Global write forwarding needs 16.4+, 15.8+ or 14.13+."
  type        = string
  default     = "16.4"
}

variable "aurora_instance_class" {
  description = "Instance class of every Aurora instance (global databases need r5/r6g/r7g or larger)."
  type        = string
  default     = "db.r6g.large"
}

variable "aurora_primary_instances" {
  description = "Instances in the writer cluster (writer + readers)."
  type        = number
  default     = 2
}

variable "aurora_secondary_instances" {
  description = "Instances in each secondary cluster. At least 2, so the cluster promoted in a failover has a writer and a standby in another AZ from its first minute."
  type        = number
  default     = 2

  validation {
    condition     = var.aurora_secondary_instances >= 2
    error_message = "A secondary that can be promoted needs at least two instances."
  }
}

variable "master_password" {
  description = "Aurora master password (ephemeral: used only when master_password_version changes, never stored in state)."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "master_password_version" {
  description = "Bump together with a new master_password to rotate it."
  type        = number
  default     = 1
}

variable "app_password" {
  description = "Password of the application's database user meridian_app (ephemeral: written only when db_user_password_version changes)."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "monitor_password" {
  description = "Password of Meridian's monitoring user meridian_monitor (ephemeral, like app_password)."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "db_user_password_version" {
  description = "Bump together with new app_password / monitor_password to rotate them."
  type        = number
  default     = 1
}

variable "cache_node_type" {
  description = "ElastiCache node type (Global Datastore needs m5/r5/m6g/r6g/r7g or larger)."
  type        = string
  default     = "cache.r7g.large"
}

variable "cache_engine_version" {
  description = "Redis engine version for the Global Datastore."
  type        = string
  default     = "7.1"
}

variable "backup_retention_days" {
  description = "Aurora backup retention (point-in-time recovery window), days."
  type        = number
  default     = 7
}

variable "deletion_protection" {
  description = "Protect the Aurora clusters from deletion."
  type        = bool
  default     = true
}

variable "replication_time_minutes" {
  description = "S3 Replication Time Control threshold, minutes (RTC supports 15 only)."
  type        = number
  default     = 15
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
