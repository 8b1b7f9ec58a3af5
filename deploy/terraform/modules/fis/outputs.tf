output "experiment_template_ids" {
  description = "FIS experiment template IDs keyed by experiment (start one with `aws fis start-experiment --experiment-template-id`)."
  value = {
    stop_app_tier         = aws_fis_experiment_template.stop_app_tier.id
    blackhole_app_subnets = aws_fis_experiment_template.blackhole_app_subnets.id
    cut_cross_region      = aws_fis_experiment_template.cut_cross_region.id
  }
}

output "role_arn" {
  description = "ARN of the least-privilege role the experiments run as."
  value       = aws_iam_role.fis.arn
}
