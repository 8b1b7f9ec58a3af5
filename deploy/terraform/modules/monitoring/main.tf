# Alerting for one region: SNS topic, ALB and Meridian alarms, Aurora lag (secondaries), S3
# replication latency, Route 53 health (us-east-1 only) and, in one region, the global dashboard.

locals {
  prefix = "${var.name}-${var.region}"
  alb    = { LoadBalancer = var.alb_arn_suffix }
  tg     = { LoadBalancer = var.alb_arn_suffix, TargetGroup = var.target_group_arn_suffix }
}

resource "aws_sns_topic" "alerts" {
  name              = "${local.prefix}-alerts"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alert_emails)

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

# === ALB ===

resource "aws_cloudwatch_metric_alarm" "elb_5xx" {
  alarm_name          = "${local.prefix}-alb-elb-5xx"
  alarm_description   = "The ALB itself answers 5xx (no healthy target, or targets unreachable)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_ELB_5XX_Count"
  dimensions          = local.alb
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = 25
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "target_5xx" {
  alarm_name          = "${local.prefix}-alb-target-5xx"
  alarm_description   = "Meridian answers 5xx: every region it tried failed, or the request was unsafe to retry"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  dimensions          = local.alb
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = 25
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  alarm_name          = "${local.prefix}-alb-unhealthy-hosts"
  alarm_description   = "Meridian tasks fail /.meridian/readyz (draining, or the local app is down)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = local.tg
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

# === Meridian's failover rate, from its JSON logs ===
# A failover line: {"level":"INFO","fields":{"message":"failover","event":"failover",
# "from_region":"us-east-1","to_region":"eu-west-1",...},"target":"meridian::proxy"}

resource "aws_cloudwatch_log_metric_filter" "failover" {
  name           = "${local.prefix}-meridian-failover"
  log_group_name = var.task_log_group_name
  pattern        = "{ $.fields.event = \"failover\" }"

  metric_transformation {
    namespace     = "Meridian"
    name          = "Failovers"
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "failover_rate" {
  alarm_name          = "${local.prefix}-meridian-failover-rate"
  alarm_description   = "Meridian in ${var.region} is sending many requests to sibling regions"
  namespace           = "Meridian"
  metric_name         = aws_cloudwatch_log_metric_filter.failover.metric_transformation[0].name
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = var.failover_alarm_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

# Stop condition for FIS experiments in this region: clients keep seeing errors for longer than
# the failover budget (5 minutes of sustained ALB 5xx), so the experiment has found real damage.
resource "aws_cloudwatch_metric_alarm" "experiment_guard" {
  alarm_name          = "${local.prefix}-fis-stop"
  alarm_description   = "Stop fault injection: sustained 5xx beyond the failover budget"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_ELB_5XX_Count"
  dimensions          = local.alb
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  threshold           = 100
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

# === Aurora Global Database lag (secondary regions only) ===

resource "aws_cloudwatch_metric_alarm" "aurora_lag" {
  for_each = var.aurora_secondary_cluster_id == "" ? {} : {
    rpo         = "AuroraGlobalDBRPOLag"
    replication = "AuroraGlobalDBReplicationLag"
  }

  alarm_name          = "${local.prefix}-aurora-${each.key}-lag"
  alarm_description   = "${each.value} above ${var.aurora_lag_threshold_ms} ms: writes acknowledged in the writer region could be lost in a failover"
  namespace           = "AWS/RDS"
  metric_name         = each.value
  dimensions          = { DBClusterIdentifier = var.aurora_secondary_cluster_id }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = var.aurora_lag_threshold_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

# === S3 replication latency (metrics live in the source bucket's region) ===

resource "aws_cloudwatch_metric_alarm" "s3_replication_latency" {
  for_each = { for r in var.s3_replication : r.rule_id => r }

  alarm_name          = "${local.prefix}-s3-replication-${each.key}"
  alarm_description   = "S3 replication ${each.value.source_bucket} -> ${each.value.destination_bucket} is slower than its RTC budget"
  namespace           = "AWS/S3"
  metric_name         = "ReplicationLatency"
  dimensions          = { SourceBucket = each.value.source_bucket, DestinationBucket = each.value.destination_bucket, RuleId = each.value.rule_id }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = var.s3_replication_latency_threshold_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

# === Route 53 health checks (AWS/Route53 metrics exist only in us-east-1) ===

resource "aws_cloudwatch_metric_alarm" "route53_health" {
  for_each = var.region == "us-east-1" ? var.route53_health_check_ids : {}

  alarm_name          = "${var.name}-route53-${each.key}-unhealthy"
  alarm_description   = "Route 53 sees ${each.key} as unhealthy: its latency answer is withdrawn"
  namespace           = "AWS/Route53"
  metric_name         = "HealthCheckStatus"
  dimensions          = { HealthCheckId = each.value }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}
