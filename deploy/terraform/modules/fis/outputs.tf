output "experiment_template_ids" {
  description = "FIS experiment template IDs keyed by experiment (start one with `aws fis start-experiment --experiment-template-id`)."
  value = {
    stop_app_tier         = aws_fis_experiment_template.stop_app_tier.id
    blackhole_app_subnets = aws_fis_experiment_template.blackhole_app_subnets.id
    cut_cross_region      = aws_fis_experiment_template.cut_cross_region.id
    db_writer_failover    = aws_fis_experiment_template.db_writer_failover.id
    cache_az_power        = aws_fis_experiment_template.cache_az_power.id
    data_switchover       = aws_fis_experiment_template.data_switchover.id
  }
}

output "role_arn" {
  description = "ARN of the least-privilege role the experiments run as."
  value       = aws_iam_role.fis.arn
}

output "drill_experiment_template_ids" {
  description = "FIS experiment template IDs of the drill-wrapped experiments (the fault measured by meridian drill), keyed by fault."
  value       = { for k, t in aws_fis_experiment_template.drill : k => t.id }
}

output "drill_results_bucket" {
  description = "Bucket holding every drill's JSON report and SVG plot under drills/<region>/<automation execution id>/."
  value       = aws_s3_bucket.results.bucket
}

output "drill_actions" {
  description = "Per drill experiment: its FIS action and the fault template it injects (for tests and docs)."
  value = {
    for k, t in aws_fis_experiment_template.drill : k => {
      action_ids = [for a in t.action : a.action_id]
      fault      = jsondecode([for a in t.action : [for p in a.parameter : p.value if p.key == "documentParameters"][0]][0]).FaultTemplateId
    }
  }
}
