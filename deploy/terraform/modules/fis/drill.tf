# `meridian drill` as the measurement of every experiment. An experiment "drill-<fault>" runs one
# SSM automation that
#   1. starts a drill task (public subnet of this region, public IP: it measures what a client of
#      the public hostname sees, through CloudFront, Route 53 and every region),
#   2. waits until the task runs, then 60 s of baseline (the drill's --fault-at 60s),
#   3. starts the fault experiment (one of the templates in main.tf),
#   4. waits for the drill to finish; its sidecar stores the JSON report and the SVG plot in the
#      results bucket under drills/<region>/<execution id>/, and the automation fails when the
#      drill missed an objective (exit 1) or could not store its report.

locals {
  drill_prefix  = "drills/${var.region}"
  aws_cli_image = var.aws_cli_image != "" ? var.aws_cli_image : "${local.account_id}.dkr.ecr.${var.region}.amazonaws.com/ecr-public/aws-cli/aws-cli:${var.aws_cli_version}"
  drill_args = [
    "drill", "--target", "https://${var.public_hostname}", "--rate", var.drill_rate, "--duration", var.drill_duration,
    "--write-share", "0.5", "--fault-at", "60s", "--rto", "60s", "--rpo", "5s", "--json", "/results/drill.json",
  ]
}

resource "aws_s3_bucket" "results" {
  bucket = "${local.prefix}-drill-results-${local.account_id}"
  tags   = var.tags
}

resource "aws_s3_bucket_public_access_block" "results" {
  bucket                  = aws_s3_bucket.results.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "results" {
  bucket = aws_s3_bucket.results.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "results" {
  bucket = aws_s3_bucket.results.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "results" {
  bucket = aws_s3_bucket.results.id
  rule {
    bucket_key_enabled = true
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "results" {
  bucket = aws_s3_bucket.results.id
  rule {
    id     = "keep-a-year"
    status = "Enabled"
    filter {}
    expiration {
      days = 365
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_logging" "results" {
  bucket        = aws_s3_bucket.results.id
  target_bucket = var.access_log_bucket
  target_prefix = "s3-access/${aws_s3_bucket.results.bucket}/"
}

data "aws_iam_policy_document" "results_tls" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.results.arn, "${aws_s3_bucket.results.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "results" {
  bucket = aws_s3_bucket.results.id
  policy = data.aws_iam_policy_document.results_tls.json
}

# === The drill task: meridian drill + a sidecar that stores its report ===

resource "aws_security_group" "drill" {
  name        = "${local.prefix}-drill"
  description = "meridian drill: HTTPS out to the public hostname (CloudFront), nothing in"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_egress_rule" "drill_https" {
  security_group_id = aws_security_group.drill.id
  description       = "HTTPS to the public hostname, ECR and S3"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_cloudwatch_log_group" "drill" {
  name              = "/meridian/${var.region}/drill"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "drill_execution" {
  name               = "${local.prefix}-drill-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "drill_execution" {
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # no resource-level permissions
  }

  statement {
    sid     = "PullImages"
    actions = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage", "ecr:BatchImportUpstreamImage"]
    resources = [
      "arn:${local.partition}:ecr:${var.region}:${local.account_id}:repository/${var.name}",
      "arn:${local.partition}:ecr:${var.region}:${local.account_id}:repository/ecr-public/aws-cli/*",
    ]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.drill.arn}:*"]
  }
}

resource "aws_iam_role_policy" "drill_execution" {
  name   = "pull-and-log"
  role   = aws_iam_role.drill_execution.id
  policy = data.aws_iam_policy_document.drill_execution.json
}

resource "aws_iam_role" "drill_task" {
  name               = "${local.prefix}-drill-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "drill_task" {
  statement {
    sid       = "StoreReports"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.results.arn}/${local.drill_prefix}/*"]
  }

  statement {
    sid       = "EncryptReports"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "drill_task" {
  name   = "store-drill-reports"
  role   = aws_iam_role.drill_task.id
  policy = data.aws_iam_policy_document.drill_task.json
}

resource "aws_ecs_task_definition" "drill" {
  family                   = "${local.prefix}-drill"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 512
  memory                   = 1024
  execution_role_arn       = aws_iam_role.drill_execution.arn
  task_role_arn            = aws_iam_role.drill_task.arn
  tags                     = var.tags

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "ARM64"
  }

  volume {
    name = "results"
  }

  container_definitions = jsonencode([
    {
      name                   = "drill"
      image                  = var.meridian_image
      essential              = false
      user                   = "65532:65532"
      readonlyRootFilesystem = true
      entryPoint             = ["/meridian"]
      command                = local.drill_args
      mountPoints            = [{ sourceVolume = "results", containerPath = "/results" }]
      logConfiguration       = { logDriver = "awslogs", options = { "awslogs-group" = aws_cloudwatch_log_group.drill.name, "awslogs-region" = var.region, "awslogs-stream-prefix" = "drill" } }
    },
    {
      # Runs once the drill has exited, whatever its exit code: the report of a failed drill
      # is the one most worth keeping. The automation overrides the destination per run.
      name                   = "store"
      image                  = local.aws_cli_image
      essential              = true
      readonlyRootFilesystem = true
      environment            = [{ name = "HOME", value = "/results" }]
      command                = ["s3", "cp", "/results/", "s3://${aws_s3_bucket.results.bucket}/${local.drill_prefix}/manual/", "--recursive", "--exclude", ".aws/*"]
      dependsOn              = [{ containerName = "drill", condition = "COMPLETE" }]
      mountPoints            = [{ sourceVolume = "results", containerPath = "/results" }]
      logConfiguration       = { logDriver = "awslogs", options = { "awslogs-group" = aws_cloudwatch_log_group.drill.name, "awslogs-region" = var.region, "awslogs-stream-prefix" = "store" } }
    },
  ])
}

# === The drill automation: drill task, baseline, fault, report ===

resource "aws_iam_role" "drill_automation" {
  name               = "${local.prefix}-drill-automation"
  assume_role_policy = data.aws_iam_policy_document.ssm_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "ssm_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ssm.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "drill_automation" {
  statement {
    sid       = "RunDrill"
    actions   = ["ecs:RunTask"]
    resources = ["arn:${local.partition}:ecs:${var.region}:${local.account_id}:task-definition/${aws_ecs_task_definition.drill.family}:*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.ecs_cluster_arn]
    }
  }

  statement {
    sid       = "WatchDrill"
    actions   = ["ecs:DescribeTasks"]
    resources = ["arn:${local.partition}:ecs:${var.region}:${local.account_id}:task/${var.ecs_cluster_name}/*"]
  }

  statement {
    sid       = "PassDrillRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.drill_execution.arn, aws_iam_role.drill_task.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  statement {
    sid     = "InjectFault"
    actions = ["fis:StartExperiment"]
    resources = concat(
      [for t in local.fault_templates : "arn:${local.partition}:fis:${var.region}:${local.account_id}:experiment-template/${t}"],
      ["arn:${local.partition}:fis:${var.region}:${local.account_id}:experiment/*"],
    )
  }
}

resource "aws_iam_role_policy" "drill_automation" {
  name   = "run-drill-inject-fault"
  role   = aws_iam_role.drill_automation.id
  policy = data.aws_iam_policy_document.drill_automation.json
}

resource "aws_ssm_document" "drill" {
  name            = "${local.prefix}-drill"
  document_type   = "Automation"
  document_format = "JSON"
  tags            = var.tags
  content = jsonencode({
    schemaVersion = "0.3"
    description   = "Run meridian drill from ${var.region} against https://${var.public_hostname}, inject a fault experiment 60 s in, store the drill's JSON report in s3://${aws_s3_bucket.results.bucket}/${local.drill_prefix}/<execution id>/."
    assumeRole    = aws_iam_role.drill_automation.arn
    parameters = {
      FaultTemplateId = { type = "String", description = "FIS experiment template that injects the fault." }
      Scenario        = { type = "String", description = "Scenario name recorded in the drill report." }
    }
    mainSteps = [
      {
        name   = "StartDrill"
        action = "aws:executeAwsApi"
        inputs = {
          Service         = "ecs"
          Api             = "RunTask"
          cluster         = var.ecs_cluster_name
          taskDefinition  = aws_ecs_task_definition.drill.arn
          launchType      = "FARGATE"
          platformVersion = "1.4.0"
          networkConfiguration = {
            awsvpcConfiguration = { subnets = var.public_subnet_ids, securityGroups = [aws_security_group.drill.id], assignPublicIp = "ENABLED" }
          }
          overrides = {
            containerOverrides = [
              { name = "drill", command = concat(local.drill_args, ["--scenario", "{{ Scenario }}"]) },
              { name = "store", command = ["s3", "cp", "/results/", "s3://${aws_s3_bucket.results.bucket}/${local.drill_prefix}/{{ automation:EXECUTION_ID }}/", "--recursive", "--exclude", ".aws/*"] },
            ]
          }
        }
        outputs = [{ Name = "TaskArn", Selector = "$.tasks[0].taskArn", Type = "String" }]
      },
      {
        name           = "WaitForDrill"
        action         = "aws:waitForAwsResourceProperty"
        timeoutSeconds = 600
        inputs         = { Service = "ecs", Api = "DescribeTasks", cluster = var.ecs_cluster_name, tasks = ["{{ StartDrill.TaskArn }}"], PropertySelector = "$.tasks[0].lastStatus", DesiredValues = ["RUNNING"] }
      },
      { name = "Baseline", action = "aws:sleep", inputs = { Duration = "PT60S" } },
      {
        name    = "InjectFault"
        action  = "aws:executeAwsApi"
        inputs  = { Service = "fis", Api = "StartExperiment", experimentTemplateId = "{{ FaultTemplateId }}" }
        outputs = [{ Name = "ExperimentId", Selector = "$.experiment.id", Type = "String" }]
      },
      {
        name           = "WaitForReport"
        action         = "aws:waitForAwsResourceProperty"
        timeoutSeconds = 1800
        inputs         = { Service = "ecs", Api = "DescribeTasks", cluster = var.ecs_cluster_name, tasks = ["{{ StartDrill.TaskArn }}"], PropertySelector = "$.tasks[0].lastStatus", DesiredValues = ["STOPPED"] }
      },
      {
        name   = "CheckReport"
        action = "aws:executeScript"
        isEnd  = true
        inputs = {
          Runtime      = "python3.11"
          Handler      = "check"
          InputPayload = { Cluster = var.ecs_cluster_name, Task = "{{ StartDrill.TaskArn }}", Location = "s3://${aws_s3_bucket.results.bucket}/${local.drill_prefix}/{{ automation:EXECUTION_ID }}/", Experiment = "{{ InjectFault.ExperimentId }}" }
          Script       = <<-PY
            import boto3
            def check(events, context):
                task = boto3.client("ecs").describe_tasks(cluster=events["Cluster"], tasks=[events["Task"]])["tasks"][0]
                codes = {c["name"]: c.get("exitCode") for c in task["containers"]}
                if codes.get("store") != 0:
                    raise RuntimeError(f"drill report not stored: {codes}")
                if codes.get("drill") != 0:
                    raise RuntimeError(f"drill missed an objective (exit {codes.get('drill')}); report at {events['Location']}")
                return {"Report": events["Location"] + "drill.json", "Experiment": events["Experiment"], "ExitCodes": codes}
          PY
        }
        outputs = [{ Name = "Report", Selector = "$.Payload.Report", Type = "String" }]
      },
    ]
  })
}

# One "drill-<fault>" experiment per fault: the measurement and the fault in one run.
resource "aws_fis_experiment_template" "drill" {
  for_each = local.fault_templates

  description = "${var.region}: meridian drill measures RTO/RPO while ${each.key} runs; report in s3://${aws_s3_bucket.results.bucket}/${local.drill_prefix}/"
  role_arn    = aws_iam_role.fis.arn
  tags        = merge(var.tags, { Name = "${local.prefix}-drill-${each.key}" })

  stop_condition {
    source = "aws:cloudwatch:alarm"
    value  = var.stop_condition_alarm_arn
  }

  action {
    name      = "drill"
    action_id = "aws:ssm:start-automation-execution"
    parameter {
      key   = "documentArn"
      value = aws_ssm_document.drill.arn
    }
    parameter {
      key   = "documentParameters"
      value = jsonencode({ FaultTemplateId = each.value, Scenario = each.key })
    }
    parameter {
      key   = "maxDuration"
      value = "PT40M"
    }
  }

  log_configuration {
    log_schema_version = 2
    cloudwatch_logs_configuration {
      log_group_arn = "${aws_cloudwatch_log_group.fis.arn}:*"
    }
  }
}
