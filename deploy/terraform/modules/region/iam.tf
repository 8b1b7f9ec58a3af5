# Task execution role (ECS agent: pull images, write logs, read the one secret) and task role
# (the containers: AppConfig agent reads its one profile; the app uses its one bucket).

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${var.region}:${local.account_id}:*"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${local.prefix}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions
  }

  statement {
    sid     = "PullImages"
    actions = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = [
      "arn:${local.partition}:ecr:${var.region}:${local.account_id}:repository/${var.name}",
      "arn:${local.partition}:ecr:${var.region}:${local.account_id}:repository/${var.name}-app",
      "arn:${local.partition}:ecr:${var.region}:${local.account_id}:repository/ecr-public/aws-appconfig/*",
      "arn:${local.partition}:ecr:${var.region}:${local.account_id}:repository/ecr-public/aws-observability/*",
    ]
  }

  statement {
    sid     = "PullThroughCacheFirstPull"
    actions = ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
    resources = [
      "arn:${local.partition}:ecr:${var.region}:${local.account_id}:repository/ecr-public/aws-appconfig/*",
      "arn:${local.partition}:ecr:${var.region}:${local.account_id}:repository/ecr-public/aws-observability/*",
    ]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.tasks.arn}:*"]
  }

  # The forwarding secret, and (when the data tier is wired) the app's and Meridian's database
  # credentials: each container gets only its own through ECS `secrets`.
  statement {
    sid       = "ReadTaskSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = compact([var.forward_secret_arn, var.app_database_secret_arn, var.database_view.monitor_secret_arn])
  }

  statement {
    sid       = "DecryptForwardSecret"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-log-secret"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_iam_role" "task" {
  name               = "${local.prefix}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "task" {
  statement {
    sid       = "AppConfigAgentReadsMeridianProfile"
    actions   = ["appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"]
    resources = ["${aws_appconfig_application.this.arn}/environment/${aws_appconfig_environment.this.environment_id}/configuration/${aws_appconfig_configuration_profile.meridian.configuration_profile_id}"]
  }

  dynamic "statement" {
    for_each = var.app_bucket_arn == "" ? [] : [var.app_bucket_arn]
    content {
      sid       = "AppUsesItsBucket"
      actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
      resources = ["${statement.value}/*"]
    }
  }

  dynamic "statement" {
    for_each = var.app_bucket_arn == "" ? [] : [var.app_bucket_arn]
    content {
      sid       = "AppListsItsBucket"
      actions   = ["s3:ListBucket"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.app_bucket_arn == "" ? [] : [var.app_bucket_arn]
    content {
      sid       = "AppUsesDataKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [aws_kms_key.this.arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${var.region}.amazonaws.com"]
      }
    }
  }
}

# The OpenTelemetry collector sidecar: traces to X-Ray, metrics (EMF) to its one log group.
data "aws_iam_policy_document" "task_telemetry" {
  statement {
    sid = "XRayWrite"
    actions = [
      "xray:PutTraceSegments", "xray:PutTelemetryRecords",
      "xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries",
    ]
    resources = ["*"] # X-Ray's write and sampling calls have no resource-level permissions
  }

  statement {
    sid       = "EmfMetrics"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.metrics.arn}:*"]
  }

  # The data topology the failover automation publishes (which region holds the database writer
  # and the cache primary): read by Meridian's database view and the app.
  statement {
    sid       = "ReadDataTopology"
    actions   = ["ssm:GetParameter"]
    resources = ["arn:${local.partition}:ssm:${var.region}:${local.account_id}:parameter${var.topology_parameter_name}"]
  }
}

resource "aws_iam_role_policy" "task_telemetry" {
  name   = "telemetry-and-topology"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task_telemetry.json
}

resource "aws_iam_role_policy" "task" {
  name   = "appconfig-and-bucket"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}
