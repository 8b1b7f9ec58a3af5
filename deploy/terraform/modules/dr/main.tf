# The data-tier failover automation of one region (SSM Automation). The same document exists in
# every region; the one that runs is in a surviving region, started by that region's own
# writer-down composite alarm (EventBridge) or by a person (planned switchover). Its steps are the
# handlers of scripts/failover.py; every step writes what it saw and did to the DR ledger, a
# DynamoDB global table, and the execution history stays in SSM (aws ssm get-automation-execution).

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  prefix     = "${var.name}-${var.region}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  script     = file("${path.module}/scripts/failover.py")

  # Everything the steps need, fixed at deploy time (JSON, passed to every step).
  config = jsonencode({
    local_region        = var.region
    regions             = var.regions
    priority            = var.failover_priority
    global_cluster_id   = var.global_cluster_id
    cluster_ids         = var.cluster_ids
    cluster_arns        = { for r, id in var.cluster_ids : r => "arn:${local.partition}:rds:${r}:${local.account_id}:cluster:${id}" }
    cache_global_id     = var.cache_global_id
    cache_group_ids     = var.cache_group_ids
    cache_endpoints     = var.cache_endpoints
    ledger_table        = var.ledger_table_name
    routing_controls    = var.routing_control_arns
    arc_endpoints       = var.arc_endpoints
    composite_alarms    = var.writer_down_alarm_names
    rpo_objective_ms    = var.rpo_objective_ms
    quorum_wait_seconds = var.quorum_wait_seconds
    topology_parameter  = var.topology_parameter_name
  })

  script_step = { for name in ["assess", "vote", "fence", "database", "cache", "topology"] : name => {
    name           = name
    action         = "aws:executeScript"
    timeoutSeconds = 600
    onFailure      = "Abort"
    inputs = {
      Runtime = "python3.11"
      Handler = name
      Script  = local.script
      InputPayload = {
        Config        = local.config
        SuspectRegion = "{{ SuspectRegion }}"
        Mode          = "{{ Mode }}"
        ExecutionId   = "{{ automation:EXECUTION_ID }}"
      }
    }
  } }

  document = {
    schemaVersion = "0.3"
    description   = "Meridian data-tier failover from ${var.region}: Aurora Global Database and ElastiCache Global Datastore to this region. Mode failover (unplanned: two regions must see the writer down; data loss only within ${var.rpo_objective_ms} ms of RPO lag, else a human approves) or switchover (planned, no data loss)."
    assumeRole    = aws_iam_role.automation.arn
    parameters = {
      SuspectRegion = { type = "String", description = "Region judged down (failover) or the current writer region (switchover).", allowedValues = var.regions }
      Mode          = { type = "String", default = "failover", allowedValues = ["failover", "switchover"] }
    }
    mainSteps = [
      merge(local.script_step["assess"], {
        outputs = [{ Name = "Action", Selector = "$.Payload.Action", Type = "String" }, { Name = "Reason", Selector = "$.Payload.Reason", Type = "String" }]
      }),
      {
        name   = "ActOrStop"
        action = "aws:branch"
        inputs = {
          Choices = [
            { NextStep = "SwitchoverOrFailover", Variable = "{{ assess.Action }}", StringEquals = "proceed" },
          ]
          Default = "NothingToDo"
        }
      },
      {
        name   = "SwitchoverOrFailover"
        action = "aws:branch"
        inputs = {
          Choices = [{ NextStep = "database", Variable = "{{ Mode }}", StringEquals = "switchover" }]
          Default = "vote"
        }
      },
      merge(local.script_step["vote"], {
        outputs = [
          { Name = "Decision", Selector = "$.Payload.Decision", Type = "String" },
          { Name = "Reason", Selector = "$.Payload.Reason", Type = "String" },
        ]
      }),
      {
        name   = "AutomaticOrApproval"
        action = "aws:branch"
        inputs = {
          Choices = [
            { NextStep = "fence", Variable = "{{ vote.Decision }}", StringEquals = "auto" },
            { NextStep = "ApproveDataLoss", Variable = "{{ vote.Decision }}", StringEquals = "approve" },
          ]
          Default = "NothingToDo"
        }
      },
      {
        name           = "ApproveDataLoss"
        action         = "aws:approve"
        timeoutSeconds = var.approval_timeout_seconds
        onFailure      = "Abort"
        inputs = {
          NotificationArn      = var.approval_topic_arn
          Message              = "Meridian: fail the database over to ${var.region} with possible data loss beyond the RPO objective? {{ vote.Reason }}"
          MinRequiredApprovals = 1
          Approvers            = var.approvers
        }
      },
      local.script_step["fence"],
      local.script_step["database"],
      local.script_step["cache"],
      merge(local.script_step["topology"], { isEnd = true }),
      {
        name   = "NothingToDo"
        action = "aws:sleep"
        isEnd  = true
        inputs = { Duration = "PT1S" }
      },
    ]
  }
}

resource "aws_ssm_document" "failover" {
  name            = "${local.prefix}-data-failover"
  document_type   = "Automation"
  document_format = "JSON"
  content         = jsonencode(local.document)
  tags            = var.tags
}

# === The automation's role: only these clusters, this datastore, this table, these controls ===

data "aws_iam_policy_document" "automation_assume" {
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

resource "aws_iam_role" "automation" {
  name               = "${local.prefix}-data-failover"
  assume_role_policy = data.aws_iam_policy_document.automation_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "automation" {
  statement {
    sid     = "GlobalDatabase"
    actions = ["rds:DescribeGlobalClusters", "rds:FailoverGlobalCluster", "rds:SwitchoverGlobalCluster"]
    resources = concat(
      ["arn:${local.partition}:rds::${local.account_id}:global-cluster:${var.global_cluster_id}"],
      [for r, id in var.cluster_ids : "arn:${local.partition}:rds:${r}:${local.account_id}:cluster:${id}"],
    )
  }

  statement {
    sid       = "ReadLagAndAlarms"
    actions   = ["cloudwatch:GetMetricData", "cloudwatch:DescribeAlarms"]
    resources = ["*"] # GetMetricData has no resource-level permissions; DescribeAlarms is read-only
  }

  statement {
    sid       = "Ledger"
    actions   = ["dynamodb:PutItem", "dynamodb:Query"]
    resources = ["arn:${local.partition}:dynamodb:${var.region}:${local.account_id}:table/${var.ledger_table_name}"]
  }

  statement {
    sid       = "LedgerKey"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.region}.amazonaws.com", "sns.${var.region}.amazonaws.com"]
    }
  }

  dynamic "statement" {
    for_each = length(var.routing_control_arns) > 0 ? [1] : []
    content {
      sid       = "FlipRoutingControls"
      actions   = ["route53-recovery-cluster:UpdateRoutingControlState", "route53-recovery-cluster:GetRoutingControlState"]
      resources = values(var.routing_control_arns)
    }
  }

  statement {
    sid     = "PromoteCache"
    actions = ["elasticache:FailoverGlobalReplicationGroup", "elasticache:DisassociateGlobalReplicationGroup", "elasticache:DescribeGlobalReplicationGroups"]
    resources = concat(
      ["arn:${local.partition}:elasticache::${local.account_id}:globalreplicationgroup:${var.cache_global_id}"],
      [for r, id in var.cache_group_ids : "arn:${local.partition}:elasticache:${r}:${local.account_id}:replicationgroup:${id}"],
    )
  }

  statement {
    sid       = "PublishTopology"
    actions   = ["ssm:PutParameter"]
    resources = [for r in var.regions : "arn:${local.partition}:ssm:${r}:${local.account_id}:parameter${var.topology_parameter_name}"]
  }

  statement {
    sid       = "AskForApproval"
    actions   = ["sns:Publish"]
    resources = [var.approval_topic_arn]
  }
}

resource "aws_iam_role_policy" "automation" {
  name   = "data-failover"
  role   = aws_iam_role.automation.id
  policy = data.aws_iam_policy_document.automation.json
}

# === Trigger: this region's writer-down composite alarm about each sibling ===

data "aws_iam_policy_document" "events_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "events" {
  name               = "${local.prefix}-start-data-failover"
  assume_role_policy = data.aws_iam_policy_document.events_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "events" {
  statement {
    sid       = "StartFailover"
    actions   = ["ssm:StartAutomationExecution"]
    resources = ["arn:${local.partition}:ssm:${var.region}:${local.account_id}:automation-definition/${aws_ssm_document.failover.name}:*"]
  }

  statement {
    sid       = "PassAutomationRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.automation.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ssm.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "events" {
  name   = "start-data-failover"
  role   = aws_iam_role.events.id
  policy = data.aws_iam_policy_document.events.json
}

resource "aws_cloudwatch_event_rule" "writer_down" {
  for_each = var.writer_down_alarm_arns

  name        = "${local.prefix}-writer-down-${each.key}"
  description = "${var.region} sees ${each.key} down as the database writer: start the data-tier failover here"
  event_pattern = jsonencode({
    source        = ["aws.cloudwatch"]
    "detail-type" = ["CloudWatch Alarm State Change"]
    resources     = [each.value]
    detail        = { state = { value = ["ALARM"] } }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "writer_down" {
  for_each = var.writer_down_alarm_arns

  rule     = aws_cloudwatch_event_rule.writer_down[each.key].name
  arn      = "arn:${local.partition}:ssm:${var.region}:${local.account_id}:automation-definition/${aws_ssm_document.failover.name}:$DEFAULT"
  role_arn = aws_iam_role.events.arn
  input    = jsonencode({ SuspectRegion = [each.key], Mode = ["failover"] })
}

# === The data topology the apps and Meridian read (updated only by the automation) ===

resource "aws_ssm_parameter" "topology" {
  name        = var.topology_parameter_name
  description = "Where the Aurora writer and the ElastiCache primary are; written by the data-tier failover automation"
  type        = "String"
  value       = jsonencode({ db_writer_region = var.initial_writer_region, cache_primary_region = var.initial_writer_region, cache_writer_host = var.cache_endpoints[var.initial_writer_region], since = 0, by = "terraform", mode = "initial" })
  tags        = var.tags

  lifecycle {
    # The automation owns the value after creation.
    ignore_changes = [value]
  }
}

# What an operator needs to flip a routing control from this region without Terraform state or
# the ARC configuration API (docs/runbook.md, section 0): the five data-plane endpoints and every
# region's routing control ARN.
resource "aws_ssm_parameter" "arc" {
  name        = "/${var.name}/dr/arc"
  description = "ARC cluster data-plane endpoints and routing control ARNs (read by the runbook)"
  type        = "String"
  value       = jsonencode({ endpoints = var.arc_endpoints, routing_controls = var.routing_control_arns })
  tags        = var.tags
}
