variable "name" {
  description = "Repository name prefix; repositories are <name> (Meridian) and <name>-app (the application)."
  type        = string
  default     = "meridian"
}

variable "replica_regions" {
  description = "Regions ECR replicates the repositories to (the home region is the provider's)."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key (home region) encrypting the repositories. Replicas use the AWS-managed ECR key of their region."
  type        = string
}

variable "github_repository" {
  description = "GitHub repository (owner/name) whose main-branch workflow may push images and deploy. Empty: no CI role."
  type        = string
  default     = ""
}

variable "github_oidc_provider_arn" {
  description = "ARN of an existing token.actions.githubusercontent.com OIDC provider; empty to create one."
  type        = string
  default     = ""
}

variable "deploy_regions" {
  description = "Regions the CI role may deploy to (ECS services and task definitions)."
  type        = list(string)
  default     = []
}

variable "untagged_image_expiry_days" {
  description = "Untagged images older than this are expired."
  type        = number
  default     = 14
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
