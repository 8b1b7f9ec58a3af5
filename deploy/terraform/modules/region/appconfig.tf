# Meridian's configuration, rendered here and delivered through AWS AppConfig. The agent sidecar
# serves it on localhost:2772; Meridian polls that URL with If-None-Match and keeps the old config
# when a fetch fails. A deployment is rolled back automatically when a guard alarm fires.

locals {
  meridian_config = templatefile("${path.module}/templates/meridian.toml.tftpl", {
    local_region = var.region
    app_port     = var.app_port
    drain        = local.meridian_drain_seconds
    grace        = local.meridian_grace_seconds
    siblings     = [for r in var.sibling_regions : { name = r, host = "ingress.${r}.${var.domain}" }]
  })
}

resource "aws_appconfig_application" "this" {
  name        = local.appconfig_application
  description = "Meridian reverse proxy configuration (${var.region})"
  tags        = local.tags
}

resource "aws_appconfig_configuration_profile" "meridian" {
  application_id     = aws_appconfig_application.this.id
  name               = local.appconfig_profile
  description        = "Meridian TOML configuration"
  location_uri       = "hosted"
  type               = "AWS.Freeform"
  kms_key_identifier = aws_kms_key.this.arn
  tags               = local.tags
}

# Guard alarms: a config rollout that makes targets fail or turn unready is rolled back.
resource "aws_cloudwatch_metric_alarm" "config_guard_5xx" {
  alarm_name          = "${local.prefix}-config-guard-target-5xx"
  alarm_description   = "AppConfig rollback guard: Meridian answers 5xx after a config deployment"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  dimensions          = { LoadBalancer = aws_lb.this["public"].arn_suffix }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = 50
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "config_guard_unhealthy" {
  alarm_name          = "${local.prefix}-config-guard-unhealthy"
  alarm_description   = "AppConfig rollback guard: Meridian tasks report not ready after a config deployment"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = { LoadBalancer = aws_lb.this["public"].arn_suffix, TargetGroup = aws_lb_target_group.this["public"].arn_suffix }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  tags                = local.tags
}

data "aws_iam_policy_document" "appconfig_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["appconfig.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "appconfig_monitor" {
  statement {
    actions = ["cloudwatch:DescribeAlarms"]
    resources = [
      aws_cloudwatch_metric_alarm.config_guard_5xx.arn,
      aws_cloudwatch_metric_alarm.config_guard_unhealthy.arn,
    ]
  }
}

resource "aws_iam_role" "appconfig_monitor" {
  name               = "${local.prefix}-appconfig-monitor"
  assume_role_policy = data.aws_iam_policy_document.appconfig_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "appconfig_monitor" {
  name   = "describe-guard-alarms"
  role   = aws_iam_role.appconfig_monitor.id
  policy = data.aws_iam_policy_document.appconfig_monitor.json
}

resource "aws_appconfig_environment" "this" {
  application_id = aws_appconfig_application.this.id
  name           = local.appconfig_environment
  description    = "Production Meridian fleet in ${var.region}"
  tags           = local.tags

  monitor {
    alarm_arn      = aws_cloudwatch_metric_alarm.config_guard_5xx.arn
    alarm_role_arn = aws_iam_role.appconfig_monitor.arn
  }

  monitor {
    alarm_arn      = aws_cloudwatch_metric_alarm.config_guard_unhealthy.arn
    alarm_role_arn = aws_iam_role.appconfig_monitor.arn
  }
}

# 4 steps of 25 % over 4 minutes, then a 5-minute bake with the guard alarms armed.
resource "aws_appconfig_deployment_strategy" "this" {
  name                           = "${var.name}-linear-25pct-4min"
  description                    = "Linear 25% steps over 4 minutes, 5 minutes bake"
  deployment_duration_in_minutes = 4
  growth_factor                  = 25
  growth_type                    = "LINEAR"
  final_bake_time_in_minutes     = 5
  replicate_to                   = "NONE"
  tags                           = local.tags
}

resource "aws_appconfig_hosted_configuration_version" "meridian" {
  application_id           = aws_appconfig_application.this.id
  configuration_profile_id = aws_appconfig_configuration_profile.meridian.configuration_profile_id
  description              = "Rendered by Terraform"
  content_type             = "application/toml"
  content                  = local.meridian_config
}

resource "aws_appconfig_deployment" "meridian" {
  application_id           = aws_appconfig_application.this.id
  environment_id           = aws_appconfig_environment.this.environment_id
  configuration_profile_id = aws_appconfig_configuration_profile.meridian.configuration_profile_id
  configuration_version    = aws_appconfig_hosted_configuration_version.meridian.version_number
  deployment_strategy_id   = aws_appconfig_deployment_strategy.this.id
  kms_key_identifier       = aws_kms_key.this.arn
  description              = "Meridian config for ${var.region}"
  tags                     = local.tags
}
