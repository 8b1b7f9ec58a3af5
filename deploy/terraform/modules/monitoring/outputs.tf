output "sns_topic_arn" {
  description = "ARN of this region's alert topic."
  value       = aws_sns_topic.alerts.arn
}

output "experiment_guard_alarm_arn" {
  description = "ARN of the alarm FIS experiments in this region use as their stop condition."
  value       = aws_cloudwatch_metric_alarm.experiment_guard.arn
}

output "failover_metric" {
  description = "Namespace and name of the custom metric counting Meridian failovers, and the log filter pattern."
  value = {
    namespace = "Meridian"
    name      = aws_cloudwatch_log_metric_filter.failover.metric_transformation[0].name
    pattern   = aws_cloudwatch_log_metric_filter.failover.pattern
  }
}

output "aurora_lag_alarms" {
  description = "Aurora lag alarms in this region: metric name and threshold (ms)."
  value       = { for k, a in aws_cloudwatch_metric_alarm.aurora_lag : k => { metric = a.metric_name, threshold = a.threshold } }
}

output "route53_alarm_names" {
  description = "Names of the Route 53 health check alarms (us-east-1 only)."
  value       = [for a in aws_cloudwatch_metric_alarm.route53_health : a.alarm_name]
}

output "dashboard_name" {
  description = "Name of the cross-region dashboard, if this instance created it."
  value       = one(aws_cloudwatch_dashboard.global[*].dashboard_name)
}

output "writer_down_alarms" {
  description = "Name and ARN of this region's writer-down composite alarm about each sibling, keyed by sibling region."
  value       = { for r, a in aws_cloudwatch_composite_alarm.writer_down : r => { name = a.alarm_name, arn = a.arn } }
}

output "replication_alarm_names" {
  description = "Replication alarms in this region: Aurora lag, Aurora writer commit latency, ElastiCache Global Datastore lag, S3 failed replication (per rule)."
  value = {
    aurora_lag      = [for a in aws_cloudwatch_metric_alarm.aurora_lag : a.alarm_name]
    aurora_writer   = aws_cloudwatch_metric_alarm.aurora_commit_latency.alarm_name
    cache_lag       = aws_cloudwatch_metric_alarm.cache_replication_lag.alarm_name
    s3_failed       = [for a in aws_cloudwatch_metric_alarm.s3_replication_failed : a.alarm_name]
    s3_latency      = [for a in aws_cloudwatch_metric_alarm.s3_replication_latency : a.alarm_name]
    pager_endpoints = length(aws_sns_topic_subscription.pager)
  }
}

output "approval_topic" {
  description = "SNS topic (name and ARN) that receives the failover automation's approval requests; its name starts with Automation, as aws:approve requires."
  value       = { name = aws_sns_topic.approvals.name, arn = aws_sns_topic.approvals.arn }
}
