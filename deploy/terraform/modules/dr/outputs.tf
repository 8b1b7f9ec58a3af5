output "document_name" {
  description = "Name of the failover automation document in this region (aws ssm start-automation-execution --document-name ...)."
  value       = aws_ssm_document.failover.name
}

output "automation_role_arn" {
  description = "Role the automation runs as."
  value       = aws_iam_role.automation.arn
}

output "trigger_rules" {
  description = "EventBridge rules that start the automation, keyed by the sibling region they watch."
  value       = { for r, rule in aws_cloudwatch_event_rule.writer_down : r => rule.name }
}

output "document_steps" {
  description = "Step names and actions of the automation document, in order."
  value       = [for s in local.document.mainSteps : "${s.name}:${s.action}"]
}
