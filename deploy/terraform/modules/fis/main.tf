# AWS FIS experiments that prove the failover design in one region:
#   stop-app-tier        stop every task of the Meridian service (ALB -> Route 53 -> CloudFront failover)
#   blackhole-app-subnets drop all traffic of the private subnets (tasks look alive to ECS but are unreachable)
#   cut-cross-region     drop traffic to the sibling VPCs (Meridian's failover path is gone; local traffic must be unaffected)
#   db-writer-failover   Aurora writer failover inside this region's cluster (writes must follow
#                        within the database view's probe interval; meaningful in the writer region)
#   cache-az-power       power cut to one AZ's ElastiCache nodes (Multi-AZ failover of the member)
#   data-switchover      the data-tier automation (modules/dr) in switchover mode: Aurora global
#                        switchover and Global Datastore promotion to this region, no data loss
# Each stops at once when the region's guard alarm fires; drill.tf wraps each in a
# "drill-<fault>" experiment measured by `meridian drill`.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  fault_templates = {
    stop_app_tier         = aws_fis_experiment_template.stop_app_tier.id
    blackhole_app_subnets = aws_fis_experiment_template.blackhole_app_subnets.id
    cut_cross_region      = aws_fis_experiment_template.cut_cross_region.id
    db_writer_failover    = aws_fis_experiment_template.db_writer_failover.id
    cache_az_power        = aws_fis_experiment_template.cache_az_power.id
    data_switchover       = aws_fis_experiment_template.data_switchover.id
  }
}

locals {
  prefix     = "${var.name}-${var.region}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
}

resource "aws_cloudwatch_log_group" "fis" {
  name              = "/meridian/${var.region}/fis"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# === Role: only what the three actions need ===

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["fis.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "fis" {
  statement {
    sid       = "StopMeridianTasks"
    actions   = ["ecs:StopTask"]
    resources = ["arn:${local.partition}:ecs:${var.region}:${local.account_id}:task/${var.ecs_cluster_name}/*"]
  }

  statement {
    sid       = "DescribeMeridianTasks"
    actions   = ["ecs:DescribeTasks"]
    resources = ["arn:${local.partition}:ecs:${var.region}:${local.account_id}:task/${var.ecs_cluster_name}/*"]
  }

  statement {
    sid       = "ListMeridianTasks"
    actions   = ["ecs:ListTasks"]
    resources = ["*"] # ListTasks is authorised by the ecs:cluster condition (Fargate has no container instances)
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.ecs_cluster_arn]
    }
  }

  statement {
    sid = "DescribeNetwork"
    actions = [
      "ec2:DescribeSubnets", "ec2:DescribeNetworkAcls", "ec2:DescribeVpcs", "ec2:DescribeManagedPrefixLists",
    ]
    resources = ["*"] # Describe* actions have no resource-level permissions
  }

  statement {
    sid       = "ReadSiblingPrefixList"
    actions   = ["ec2:GetManagedPrefixListEntries"]
    resources = ["arn:${local.partition}:ec2:${var.region}:${local.account_id}:prefix-list/${var.sibling_prefix_list_id}"]
  }

  statement {
    sid       = "CreateDisruptionAcls"
    actions   = ["ec2:CreateNetworkAcl"]
    resources = ["arn:${local.partition}:ec2:${var.region}:${local.account_id}:network-acl/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/managedByFIS"
      values   = ["true"]
    }
  }

  statement {
    sid       = "CreateDisruptionAclsInVpc"
    actions   = ["ec2:CreateNetworkAcl"]
    resources = ["arn:${local.partition}:ec2:${var.region}:${local.account_id}:vpc/*"]
  }

  statement {
    sid       = "TagDisruptionAcls"
    actions   = ["ec2:CreateTags"]
    resources = ["arn:${local.partition}:ec2:${var.region}:${local.account_id}:network-acl/*"]
    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["CreateNetworkAcl"]
    }
  }

  statement {
    sid       = "ManageOnlyFisAcls"
    actions   = ["ec2:CreateNetworkAclEntry", "ec2:DeleteNetworkAcl"]
    resources = ["arn:${local.partition}:ec2:${var.region}:${local.account_id}:network-acl/*"]
    condition {
      test     = "StringEquals"
      variable = "ec2:ResourceTag/managedByFIS"
      values   = ["true"]
    }
  }

  statement {
    sid       = "SwapAclAssociations"
    actions   = ["ec2:ReplaceNetworkAclAssociation"]
    resources = concat(var.private_subnet_arns, ["arn:${local.partition}:ec2:${var.region}:${local.account_id}:network-acl/*"])
  }

  statement {
    sid       = "FailOverTheLocalAuroraWriter"
    actions   = ["rds:FailoverDBCluster", "rds:DescribeDBClusters"]
    resources = [var.aurora_cluster_arn]
  }

  statement {
    sid       = "InterruptCacheAzPower"
    actions   = ["elasticache:InterruptClusterAzPower", "elasticache:DescribeReplicationGroups"]
    resources = [var.cache_replication_group_arn]
  }

  statement {
    sid       = "ResolveTargets"
    actions   = ["tag:GetResources"]
    resources = ["*"] # the Resource Groups Tagging API has no resource-level permissions
  }

  statement {
    sid     = "RunAutomations"
    actions = ["ssm:StartAutomationExecution", "ssm:GetAutomationExecution", "ssm:StopAutomationExecution"]
    resources = [
      "arn:${local.partition}:ssm:${var.region}:${local.account_id}:automation-definition/${aws_ssm_document.drill.name}:*",
      "arn:${local.partition}:ssm:${var.region}:${local.account_id}:automation-definition/${var.dr_document_name}:*",
      "arn:${local.partition}:ssm:${var.region}:${local.account_id}:automation-execution/*",
    ]
  }

  statement {
    sid       = "PassAutomationRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.drill_automation.arn, var.dr_automation_role_arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ssm.amazonaws.com"]
    }
  }

  statement {
    sid       = "WriteExperimentLogs"
    actions   = ["logs:CreateLogDelivery", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies"]
    resources = ["*"] # log delivery APIs have no resource-level permissions
  }

  statement {
    sid       = "FindExperimentLogGroup"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
  }
}

resource "aws_iam_role" "fis" {
  name               = "${local.prefix}-fis"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "fis" {
  name   = "meridian-experiments"
  role   = aws_iam_role.fis.id
  policy = data.aws_iam_policy_document.fis.json
}

# === Experiments ===

resource "aws_fis_experiment_template" "stop_app_tier" {
  description = "${var.region}: stop every Meridian task; expect Route 53 to withdraw the region within ~20 s and no client-visible errors via CloudFront"
  role_arn    = aws_iam_role.fis.arn
  tags        = merge(var.tags, { Name = "${local.prefix}-stop-app-tier" })

  stop_condition {
    source = "aws:cloudwatch:alarm"
    value  = var.stop_condition_alarm_arn
  }

  target {
    name           = "meridian-tasks"
    resource_type  = "aws:ecs:task"
    selection_mode = "ALL"
    parameters = {
      cluster = var.ecs_cluster_name
      service = var.ecs_service_name
    }
  }

  action {
    name      = "stop-tasks"
    action_id = "aws:ecs:stop-task"
    target {
      key   = "Tasks"
      value = "meridian-tasks"
    }
  }

  log_configuration {
    log_schema_version = 2
    cloudwatch_logs_configuration {
      log_group_arn = "${aws_cloudwatch_log_group.fis.arn}:*"
    }
  }
}

resource "aws_fis_experiment_template" "blackhole_app_subnets" {
  description = "${var.region}: blackhole all traffic of the task subnets for ${var.duration}; tasks stay RUNNING but unreachable"
  role_arn    = aws_iam_role.fis.arn
  tags        = merge(var.tags, { Name = "${local.prefix}-blackhole-app-subnets" })

  stop_condition {
    source = "aws:cloudwatch:alarm"
    value  = var.stop_condition_alarm_arn
  }

  target {
    name           = "task-subnets"
    resource_type  = "aws:ec2:subnet"
    selection_mode = "ALL"
    resource_arns  = var.private_subnet_arns
  }

  action {
    name      = "disrupt-all"
    action_id = "aws:network:disrupt-connectivity"
    parameter {
      key   = "duration"
      value = var.duration
    }
    parameter {
      key   = "scope"
      value = "all"
    }
    target {
      key   = "Subnets"
      value = "task-subnets"
    }
  }

  log_configuration {
    log_schema_version = 2
    cloudwatch_logs_configuration {
      log_group_arn = "${aws_cloudwatch_log_group.fis.arn}:*"
    }
  }
}

resource "aws_fis_experiment_template" "cut_cross_region" {
  description = "${var.region}: block traffic to the sibling VPCs for ${var.duration}; local traffic must be unaffected, failover attempts fail fast"
  role_arn    = aws_iam_role.fis.arn
  tags        = merge(var.tags, { Name = "${local.prefix}-cut-cross-region" })

  stop_condition {
    source = "aws:cloudwatch:alarm"
    value  = var.stop_condition_alarm_arn
  }

  target {
    name           = "task-subnets"
    resource_type  = "aws:ec2:subnet"
    selection_mode = "ALL"
    resource_arns  = var.private_subnet_arns
  }

  action {
    name      = "disrupt-siblings"
    action_id = "aws:network:disrupt-connectivity"
    parameter {
      key   = "duration"
      value = var.duration
    }
    parameter {
      key   = "scope"
      value = "prefix-list"
    }
    parameter {
      key   = "prefixListIdentifier"
      value = var.sibling_prefix_list_id
    }
    target {
      key   = "Subnets"
      value = "task-subnets"
    }
  }

  log_configuration {
    log_schema_version = 2
    cloudwatch_logs_configuration {
      log_group_arn = "${aws_cloudwatch_log_group.fis.arn}:*"
    }
  }
}

resource "aws_fis_experiment_template" "db_writer_failover" {
  description = "${var.region}: fail the Aurora writer over to another instance of this region's cluster; writes must follow the new writer"
  role_arn    = aws_iam_role.fis.arn
  tags        = merge(var.tags, { Name = "${local.prefix}-db-writer-failover" })

  stop_condition {
    source = "aws:cloudwatch:alarm"
    value  = var.stop_condition_alarm_arn
  }

  target {
    name           = "cluster"
    resource_type  = "aws:rds:cluster"
    selection_mode = "ALL"
    resource_arns  = [var.aurora_cluster_arn]
  }

  action {
    name      = "failover-writer"
    action_id = "aws:rds:failover-db-cluster"
    target {
      key   = "Clusters"
      value = "cluster"
    }
  }

  log_configuration {
    log_schema_version = 2
    cloudwatch_logs_configuration {
      log_group_arn = "${aws_cloudwatch_log_group.fis.arn}:*"
    }
  }
}

resource "aws_fis_experiment_template" "cache_az_power" {
  description = "${var.region}: cut power to this region's ElastiCache nodes in ${var.cache_fault_availability_zone} for ${var.duration}; the member fails over to its other AZ"
  role_arn    = aws_iam_role.fis.arn
  tags        = merge(var.tags, { Name = "${local.prefix}-cache-az-power" })

  stop_condition {
    source = "aws:cloudwatch:alarm"
    value  = var.stop_condition_alarm_arn
  }

  target {
    name           = "cache"
    resource_type  = "aws:elasticache:replicationgroup"
    selection_mode = "ALL"
    resource_arns  = [var.cache_replication_group_arn]
    parameters = {
      availabilityZoneIdentifier = var.cache_fault_availability_zone
    }
  }

  action {
    name      = "interrupt-az-power"
    action_id = "aws:elasticache:replicationgroup-interrupt-az-power"
    parameter {
      key   = "duration"
      value = var.duration
    }
    target {
      key   = "ReplicationGroups"
      value = "cache"
    }
  }

  log_configuration {
    log_schema_version = 2
    cloudwatch_logs_configuration {
      log_group_arn = "${aws_cloudwatch_log_group.fis.arn}:*"
    }
  }
}

resource "aws_fis_experiment_template" "data_switchover" {
  description = "${var.region}: planned switchover of Aurora and the Global Datastore to this region through the data-tier automation (RPO 0)"
  role_arn    = aws_iam_role.fis.arn
  tags        = merge(var.tags, { Name = "${local.prefix}-data-switchover" })

  stop_condition {
    source = "aws:cloudwatch:alarm"
    value  = var.stop_condition_alarm_arn
  }

  action {
    name      = "switchover"
    action_id = "aws:ssm:start-automation-execution"
    parameter {
      key   = "documentArn"
      value = "arn:${local.partition}:ssm:${var.region}:${local.account_id}:document/${var.dr_document_name}"
    }
    parameter {
      key   = "documentParameters"
      value = jsonencode({ SuspectRegion = var.region, Mode = "switchover" })
    }
    parameter {
      key   = "maxDuration"
      value = "PT30M"
    }
  }

  log_configuration {
    log_schema_version = 2
    cloudwatch_logs_configuration {
      log_group_arn = "${aws_cloudwatch_log_group.fis.arn}:*"
    }
  }
}
