output "repository_urls" {
  description = "Repository URLs in the home region, keyed by repository name."
  value       = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}

output "registry_id" {
  description = "Registry (account) ID; replicas live at <registry_id>.dkr.ecr.<region>.amazonaws.com/<name>."
  value       = local.account_id
}

output "home_region" {
  description = "Region the images are pushed to."
  value       = data.aws_region.current.name
}

output "replica_regions" {
  description = "Regions ECR replicates the images to."
  value       = var.replica_regions
}

output "deploy_role_arn" {
  description = "ARN of the GitHub Actions deploy role (null when github_repository is empty)."
  value       = one(aws_iam_role.deploy[*].arn)
}
