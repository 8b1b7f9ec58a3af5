# Alerting for one region: SNS topic (e-mail and pager subscriptions), ALB and Meridian alarms,
# Aurora lag and writer health, ElastiCache Global Datastore lag, S3 replication latency and
# failures, this region's writer-down composite alarms about each sibling, Route 53 health
# (us-east-1 only) and, in one region, the global dashboard.

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

# Approval requests of the failover automation (aws:approve). SSM Automation publishes approval
# requests only to a topic whose name starts with "Automation"; same subscribers as the alerts.
resource "aws_sns_topic" "approvals" {
  name              = "Automation-${local.prefix}-failover-approvals"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "approvals_email" {
  for_each = toset(var.alert_emails)

  topic_arn = aws_sns_topic.approvals.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_sns_topic_subscription" "approvals_pager" {
  for_each = toset(var.pager_https_endpoints)

  topic_arn              = aws_sns_topic.approvals.arn
  protocol               = "https"
  endpoint               = each.value
  endpoint_auto_confirms = true
}

# A pager (PagerDuty, Opsgenie, an incident webhook) subscribes to every region's topic, so an
# alert still arrives when the region that raised it is the one in trouble.
resource "aws_sns_topic_subscription" "pager" {
  for_each = toset(var.pager_https_endpoints)

  topic_arn              = aws_sns_topic.alerts.arn
  protocol               = "https"
  endpoint               = each.value
  endpoint_auto_confirms = true
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

# === Aurora Global Database: lag of this region's cluster, and the writer's health ===
# The lag metrics exist only while the cluster is a secondary; the alarms exist in every region
# because the writer role moves (switchover, failover). Missing data is not an alarm here: a
# replication that stops publishing is caught by the replication signal below.

resource "aws_cloudwatch_metric_alarm" "aurora_lag" {
  for_each = {
    rpo         = "AuroraGlobalDBRPOLag"
    replication = "AuroraGlobalDBReplicationLag"
  }

  alarm_name          = "${local.prefix}-aurora-${each.key}-lag"
  alarm_description   = "${each.value} above ${var.aurora_lag_threshold_ms} ms: writes acknowledged in the writer region could be lost in a failover"
  namespace           = "AWS/RDS"
  metric_name         = each.value
  dimensions          = { DBClusterIdentifier = var.aurora_cluster_id }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = var.aurora_lag_threshold_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

# Writer health, from whichever region holds the writer: commits slow down before they stop.
resource "aws_cloudwatch_metric_alarm" "aurora_commit_latency" {
  alarm_name          = "${local.prefix}-aurora-commit-latency"
  alarm_description   = "Aurora writer in ${var.region}: commit latency above ${var.aurora_commit_latency_threshold_ms} ms"
  namespace           = "AWS/RDS"
  metric_name         = "CommitLatency"
  dimensions          = { DBClusterIdentifier = var.aurora_cluster_id }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = var.aurora_commit_latency_threshold_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

# === ElastiCache Global Datastore replication lag (secondary members; both nodes) ===

resource "aws_cloudwatch_metric_alarm" "cache_replication_lag" {
  alarm_name          = "${local.prefix}-cache-replication-lag"
  alarm_description   = "ElastiCache Global Datastore member ${var.cache_replication_group_id} more than ${var.cache_lag_threshold_seconds} s behind the primary region"
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = var.cache_lag_threshold_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags

  metric_query {
    id          = "lag"
    expression  = "MAX([node1, node2])"
    label       = "GlobalDatastoreReplicationLag (max of the nodes)"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = { node1 = "001", node2 = "002" }
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/ElastiCache"
        metric_name = "GlobalDatastoreReplicationLag"
        dimensions  = { CacheClusterId = "${var.cache_replication_group_id}-${metric_query.value}" }
        stat        = "Maximum"
        period      = 60
      }
    }
  }
}

# === This region's vantage point on its siblings (the failover automation's trigger) ===
# "R sees W down as the writer" = Meridian's probes in R find no endpoint of W up
#   AND R's Aurora replica is lagging or has stopped hearing from the writer.
# Composite alarms are regional: each region judges from its own signals, and the automation
# (modules/dr) acts only when the other surviving region judges the same (two vantage points).

resource "aws_cloudwatch_metric_alarm" "sibling_unreachable" {
  for_each = toset(var.sibling_regions)

  alarm_name          = "${local.prefix}-sees-${each.key}-unreachable"
  alarm_description   = "No Meridian task in ${var.region} reaches any endpoint of ${each.key} (meridian_endpoint_up)"
  namespace           = var.metrics_namespace
  metric_name         = "meridian_endpoint_up"
  dimensions          = { region = each.key }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  # No data means this region's own Meridians are not reporting: it cannot vouch for anything.
  treat_missing_data = "notBreaching"
  tags               = var.tags
}

resource "aws_cloudwatch_metric_alarm" "replication_signal" {
  alarm_name          = "${local.prefix}-aurora-replication-signal"
  alarm_description   = "Input of the writer-down composite alarms: this region's Aurora replica lags over ${var.writer_down_lag_ms} ms or has stopped reporting lag (always in ALARM in the writer's own region, where the metric does not exist)"
  namespace           = "AWS/RDS"
  metric_name         = "AuroraGlobalDBReplicationLag"
  dimensions          = { DBClusterIdentifier = var.aurora_cluster_id }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = var.writer_down_lag_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  tags                = var.tags
}

resource "aws_cloudwatch_composite_alarm" "writer_down" {
  for_each = toset(var.sibling_regions)

  alarm_name        = "${local.prefix}-sees-${each.key}-writer-down"
  alarm_description = "From ${var.region}: ${each.key} is unreachable and replication from the writer has stalled. Starts the data-tier failover automation in ${var.region} (docs/runbook.md)."
  alarm_rule        = "ALARM(\"${aws_cloudwatch_metric_alarm.sibling_unreachable[each.key].alarm_name}\") AND ALARM(\"${aws_cloudwatch_metric_alarm.replication_signal.alarm_name}\")"
  alarm_actions     = [aws_sns_topic.alerts.arn]
  ok_actions        = [aws_sns_topic.alerts.arn]
  tags              = var.tags
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

resource "aws_cloudwatch_metric_alarm" "s3_replication_failed" {
  for_each = { for r in var.s3_replication : r.rule_id => r }

  alarm_name          = "${local.prefix}-s3-replication-failed-${each.key}"
  alarm_description   = "S3 replication ${each.value.source_bucket} -> ${each.value.destination_bucket}: objects failed to replicate"
  namespace           = "AWS/S3"
  metric_name         = "OperationsFailedReplication"
  dimensions          = { SourceBucket = each.value.source_bucket, DestinationBucket = each.value.destination_bucket, RuleId = each.value.rule_id }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

# === Route 53 health checks (AWS/Route53 metrics exist only in us-east-1) ===
# Informational: nothing automatic depends on them, since they vanish with us-east-1.

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
