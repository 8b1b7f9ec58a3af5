variable "name" {
  description = "Name prefix for every resource (for example \"meridian\")."
  type        = string
  default     = "meridian"
}

variable "region" {
  description = "Region the experiments run in (must match the aws provider passed in)."
  type        = string
}

variable "ecs_cluster_name" {
  description = "ECS cluster whose Meridian service the experiments disrupt."
  type        = string
}

variable "ecs_cluster_arn" {
  description = "ARN of that ECS cluster (the condition that scopes the role's ecs:ListTasks)."
  type        = string
}

variable "ecs_service_name" {
  description = "ECS service whose tasks are stopped."
  type        = string
}

variable "private_subnet_arns" {
  description = "Private subnets (tasks) whose connectivity the network experiments disrupt."
  type        = list(string)
}

variable "sibling_prefix_list_id" {
  description = "Managed prefix list of the sibling regions' VPC CIDRs (the cross-region cut blocks it)."
  type        = string
}

variable "stop_condition_alarm_arn" {
  description = "CloudWatch alarm (in this region) that stops every experiment when it fires."
  type        = string
}

variable "duration" {
  description = "How long the network disruptions last (ISO 8601 duration)."
  type        = string
  default     = "PT5M"
}

variable "kms_key_arn" {
  description = "KMS key (in this region) for the experiment log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the experiment log group, days."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
