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

variable "vpc_id" {
  description = "VPC of the region (the drill task's security group)."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets where the drill task runs with a public IP (it measures the public hostname like a client)."
  type        = list(string)
}

variable "public_hostname" {
  description = "Hostname clients use (CloudFront); the drill's target."
  type        = string
}

variable "meridian_image" {
  description = "Meridian image (its `drill` subcommand is the measurement)."
  type        = string
}

variable "aws_cli_image" {
  description = "AWS CLI image that stores the drill report. Empty means the ECR pull-through cache of public.ecr.aws/aws-cli/aws-cli:<aws_cli_version>."
  type        = string
  default     = ""
}

variable "aws_cli_version" {
  description = "Tag of the AWS CLI image pulled through the cache."
  type        = string
  default     = "2.22.0"
}

variable "drill_rate" {
  description = "Request rate of the drill. Through CloudFront it shares one IP: keep rate x 300 s under the WAF per-IP limit (2000 per 5 minutes by default)."
  type        = string
  default     = "5/s"
}

variable "drill_duration" {
  description = "How long the drill runs (60 s baseline, then the fault)."
  type        = string
  default     = "300s"
}

variable "access_log_bucket" {
  description = "Bucket receiving the results bucket's S3 server access logs (the region's log bucket)."
  type        = string
}

variable "aurora_cluster_arn" {
  description = "ARN of this region's Aurora cluster (the in-region writer failover experiment)."
  type        = string
}

variable "cache_replication_group_arn" {
  description = "ARN of this region's ElastiCache replication group (the AZ power experiment)."
  type        = string
}

variable "cache_fault_availability_zone" {
  description = "Availability zone whose ElastiCache nodes lose power in the cache experiment."
  type        = string
}

variable "dr_document_name" {
  description = "Name of this region's data-tier failover automation document (modules/dr), run in switchover mode by the data-switchover experiment."
  type        = string
}

variable "dr_automation_role_arn" {
  description = "Role of that automation (FIS passes it)."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
