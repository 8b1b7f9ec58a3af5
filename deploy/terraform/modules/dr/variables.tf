variable "name" {
  description = "Name prefix (for example \"meridian\")."
  type        = string
  default     = "meridian"
}

variable "region" {
  description = "Region of this instance (must match the aws provider passed in): the region the automation fails over TO."
  type        = string
}

variable "regions" {
  description = "Every region of the platform."
  type        = list(string)
}

variable "failover_priority" {
  description = "Order in which regions are preferred as the new writer when their RPO lags are equal or unknown."
  type        = list(string)
}

variable "global_cluster_id" {
  description = "Aurora global cluster identifier."
  type        = string
}

variable "cluster_ids" {
  description = "Aurora cluster identifier per region."
  type        = map(string)
}

variable "cache_global_id" {
  description = "ElastiCache Global Datastore ID."
  type        = string
}

variable "cache_group_ids" {
  description = "ElastiCache replication group ID per region."
  type        = map(string)
}

variable "cache_endpoints" {
  description = "ElastiCache primary endpoint per region (published in the topology after a promotion)."
  type        = map(string)
}

variable "ledger_table_name" {
  description = "DynamoDB global table (with a replica in this region) where every step records what it saw and did, and where regions exchange their votes."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key in this region (the ledger replica's and the SNS topic's key)."
  type        = string
}

variable "routing_control_arns" {
  description = "ARC routing control ARN per region (the fence step switches the lost region off). Empty: no fencing step effect (it fails)."
  type        = map(string)
}

variable "arc_endpoints" {
  description = "The ARC cluster's data-plane endpoints ({endpoint, region}); the fence step tries each in turn."
  type        = list(object({ endpoint = string, region = string }))
}

variable "writer_down_alarm_names" {
  description = "Name of this region's writer-down composite alarm about each sibling, keyed by sibling region (the vote step reads its state)."
  type        = map(string)
}

variable "writer_down_alarm_arns" {
  description = "ARN of this region's writer-down composite alarm about each sibling, keyed by sibling region (each starts the automation)."
  type        = map(string)
}

variable "approval_topic_arn" {
  description = "SNS topic for the approval requests (aws:approve): its name must start with \"Automation\"."
  type        = string

  validation {
    condition     = startswith(element(split(":", var.approval_topic_arn), 5), "Automation")
    error_message = "aws:approve publishes only to SNS topics whose name starts with \"Automation\"."
  }
}

variable "approvers" {
  description = "IAM principals (user or role ARNs) allowed to approve a failover whose data loss may exceed the RPO objective."
  type        = list(string)

  validation {
    condition     = length(var.approvers) >= 1
    error_message = "Name at least one approver (the on-call role)."
  }
}

variable "approval_timeout_seconds" {
  description = "How long the approval step waits for a human before the automation stops (and records that it stopped)."
  type        = number
  default     = 3600
}

variable "rpo_objective_ms" {
  description = "RPO objective: the automation fails over without a human only when the target's last RPO lag is at most this."
  type        = number
  default     = 5000
}

variable "quorum_wait_seconds" {
  description = "How long the vote step waits for the other surviving region's verdict before asking a human (at most 540: one script step runs 600 s at most)."
  type        = number
  default     = 240

  validation {
    condition     = var.quorum_wait_seconds >= 30 && var.quorum_wait_seconds <= 540
    error_message = "Between 30 and 540 seconds."
  }
}

variable "topology_parameter_name" {
  description = "SSM parameter holding the current data topology in every region."
  type        = string
  default     = "/meridian/data/topology"
}

variable "initial_writer_region" {
  description = "Region of the writer when Terraform creates the topology parameter (the automation owns it afterwards)."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
