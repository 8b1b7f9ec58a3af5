variable "name" {
  description = "Name prefix for every resource in this region (for example \"meridian\")."
  type        = string
  default     = "meridian"
}

variable "region" {
  description = "AWS region this module instance runs in. Must match the region of the aws provider passed in; it is also Meridian's local_region."
  type        = string
}

variable "sibling_regions" {
  description = "The other regions, in Meridian's preferred failover order. Each is reached at https://ingress.<region>.<domain>."
  type        = list(string)
}

variable "domain" {
  description = "DNS domain of the public Route 53 zone (for example \"example.com\"). Sibling ingress hostnames are ingress.<region>.<domain>."
  type        = string
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of this region's VPC. Must not overlap the siblings' CIDRs (the VPCs are peered)."
  type        = string
}

variable "sibling_vpc_cidrs" {
  description = "IPv4 CIDRs of the sibling regions' VPCs: the only destinations of cross-region traffic from tasks, and the only sources allowed on the internal ALB."
  type        = list(string)
}

variable "availability_zones" {
  description = "Availability zone names to spread subnets, ALBs and tasks over (at least 2), for example [\"us-east-1a\", \"us-east-1b\"]."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "Use at least two availability zones."
  }
}

variable "certificate_arn" {
  description = "ARN of the ACM certificate (in this region) for the ALBs. It must cover ingress.<region>.<domain> and origin.<domain>."
  type        = string
}

variable "meridian_image" {
  description = "Meridian container image (ECR URI with an immutable tag or digest)."
  type        = string
}

variable "app_image" {
  description = "Application container image that Meridian fronts in the same task."
  type        = string
}

variable "app_port" {
  description = "Port the application container listens on (Meridian reaches it on 127.0.0.1)."
  type        = number
  default     = 3000
}

variable "app_environment" {
  description = "Plain environment variables for the application container (no secrets here)."
  type        = map(string)
  default     = {}
}

variable "app_bucket_arn" {
  description = "ARN of this region's data bucket; the task role may read and write objects in it. Empty to grant nothing."
  type        = string
  default     = ""
}

variable "appconfig_agent_image" {
  description = "AWS AppConfig agent image. Empty means the ECR pull-through cache of public.ecr.aws/aws-appconfig/aws-appconfig-agent:2.x in this account and region (tasks have no internet route)."
  type        = string
  default     = ""
}

variable "forward_secret_arn" {
  description = "ARN of the Secrets Manager secret (in this region) holding Meridian's forwarding-mark HMAC secret."
  type        = string
}

variable "task_cpu" {
  description = "Fargate task CPU units (Meridian + application + AppConfig agent)."
  type        = number
  default     = 1024
}

variable "task_memory" {
  description = "Fargate task memory in MiB."
  type        = number
  default     = 2048
}

variable "min_capacity" {
  description = "Minimum number of tasks, all on on-demand Fargate (capacity provider base): size it to carry this region's share with one region lost (docs/cost.md). At least one per AZ."
  type        = number
  default     = 2
}

variable "max_capacity" {
  description = "Maximum number of tasks autoscaling may run."
  type        = number
  default     = 12
}

variable "spot_weight" {
  description = "Weight of FARGATE_SPOT against FARGATE (weight 1) for tasks above the on-demand base."
  type        = number
  default     = 3
}

variable "requests_per_target" {
  description = "Target-tracking goal for ALBRequestCountPerTarget (requests per task per minute)."
  type        = number
  default     = 3000
}

variable "cpu_target" {
  description = "Target-tracking goal for average ECS service CPU utilisation, percent."
  type        = number
  default     = 60
}

variable "deregistration_delay" {
  description = "ALB target deregistration delay in seconds. Must exceed Meridian's overall request deadline (timeouts.request = 10s) so in-flight requests finish before ECS stops the task."
  type        = number
  default     = 20
}

variable "stop_timeout" {
  description = "ECS stopTimeout for the Meridian container, seconds (Fargate max 120). Must exceed shutdown.drain + shutdown.grace = 15 + 30 = 45 s."
  type        = number
  default     = 60

  validation {
    condition     = var.stop_timeout >= 45 && var.stop_timeout <= 120
    error_message = "stop_timeout must cover Meridian's drain + grace (45 s) and Fargate allows at most 120 s."
  }
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log groups, days."
  type        = number
  default     = 365
}

variable "alb_deletion_protection" {
  description = "Protect the ALBs from deletion (turn off only to tear an environment down)."
  type        = bool
  default     = true
}

variable "cpu_architecture" {
  description = "CPU architecture of the Fargate tasks: ARM64 (Graviton, the default: cheaper per vCPU-hour) or X86_64. The image is built for both."
  type        = string
  default     = "ARM64"

  validation {
    condition     = contains(["ARM64", "X86_64"], var.cpu_architecture)
    error_message = "cpu_architecture is ARM64 or X86_64."
  }
}

variable "origin_verify_header" {
  description = "Header CloudFront adds to every origin request; the public ALB forwards only requests that carry it with one of origin_verify_secrets."
  type        = string
  default     = "X-Origin-Verify"
}

variable "origin_verify_secrets" {
  description = "Accepted values of the origin-verify header: the current one, and the previous one during a rotation (at most 5)."
  type        = list(string)
  sensitive   = true

  validation {
    condition     = length(var.origin_verify_secrets) >= 1 && length(var.origin_verify_secrets) <= 5
    error_message = "One to five accepted origin-verify values (an ALB rule condition takes at most five)."
  }
}

variable "adot_image" {
  description = "AWS Distro for OpenTelemetry collector image. Empty means the ECR pull-through cache of public.ecr.aws/aws-observability/aws-otel-collector:<adot_version>."
  type        = string
  default     = ""
}

variable "adot_version" {
  description = "Tag of the ADOT collector image pulled through the cache (pin it; check public.ecr.aws for the current release)."
  type        = string
  default     = "v0.40.0"
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of Meridian's metrics exported by the collector (EMF)."
  type        = string
  default     = "Meridian"
}

variable "app_database_secret_arn" {
  description = "ARN (in this region) of the Secrets Manager secret with the app's database username and password (JSON keys username, password). Empty: the app gets no database credentials."
  type        = string
  default     = ""
}

variable "database_view" {
  description = "For Meridian's database view: the monitoring user, its secret's ARN in this region (JSON key password), the Aurora global writer endpoint and each region's reader endpoint. Empty writer_endpoint: not wired."
  type = object({
    monitor_user       = string
    monitor_secret_arn = string
    writer_endpoint    = string
    region_endpoints   = map(string)
  })
  default = { monitor_user = "", monitor_secret_arn = "", writer_endpoint = "", region_endpoints = {} }
}

variable "topology_parameter_name" {
  description = "SSM parameter (in every region) holding the current data topology (database writer region, cache primary region), updated by the failover automation."
  type        = string
  default     = "/meridian/data/topology"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
