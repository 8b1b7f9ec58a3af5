# Monitoring, the data-tier failover automation and fault-injection experiments, one instance of
# each per region, and the DR ledger (a DynamoDB global table with a replica in every region).

locals {
  s3_replication = {
    for r in local.regions : r => [
      for d in setsubtract(local.regions, [r]) : {
        source_bucket      = local.bucket_names[r]
        destination_bucket = local.bucket_names[d]
        rule_id            = "to-${d}"
      }
    ]
  }

  monitoring_modules = {
    "us-east-1"      = module.monitoring_us_east_1
    "eu-west-1"      = module.monitoring_eu_west_1
    "ap-southeast-1" = module.monitoring_ap_southeast_1
  }

  dr_modules = {
    "us-east-1"      = module.dr_us_east_1
    "eu-west-1"      = module.dr_eu_west_1
    "ap-southeast-1" = module.dr_ap_southeast_1
  }

  fis_modules = {
    "us-east-1"      = module.fis_us_east_1
    "eu-west-1"      = module.fis_eu_west_1
    "ap-southeast-1" = module.fis_ap_southeast_1
  }

  ledger_table = "${local.name}-dr-ledger"
}

# === DR ledger: votes between regions and a record of every automation step ===
# Multi-region replicas: each region reads and writes its own; losing any one region loses nothing.

resource "aws_dynamodb_table" "dr_ledger" {
  provider = aws.us_east_1

  name             = local.ledger_table
  billing_mode     = "PAY_PER_REQUEST"
  hash_key         = "pk"
  range_key        = "sk"
  stream_enabled   = true
  stream_view_type = "NEW_AND_OLD_IMAGES"

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = module.us_east_1.kms_key_arn
  }

  replica {
    region_name            = "eu-west-1"
    kms_key_arn            = module.eu_west_1.kms_key_arn
    point_in_time_recovery = true
  }

  replica {
    region_name            = "ap-southeast-1"
    kms_key_arn            = module.ap_southeast_1.kms_key_arn
    point_in_time_recovery = true
  }

  deletion_protection_enabled = true
}

module "monitoring_us_east_1" {
  source    = "../../modules/monitoring"
  providers = { aws = aws.us_east_1 }

  name                       = local.name
  region                     = "us-east-1"
  sibling_regions            = local.sibling_order["us-east-1"]
  kms_key_arn                = module.us_east_1.kms_key_arn
  alert_emails               = var.alert_emails
  pager_https_endpoints      = var.pager_https_endpoints
  alb_arn_suffix             = module.us_east_1.alb_arn_suffix
  target_group_arn_suffix    = module.us_east_1.target_group_arn_suffix
  task_log_group_name        = module.us_east_1.task_log_group_name
  s3_replication             = local.s3_replication["us-east-1"]
  aurora_cluster_id          = module.data.aurora_cluster_ids["us-east-1"]
  cache_replication_group_id = module.data.cache_replication_group_ids["us-east-1"]
  route53_health_check_ids   = module.global.health_check_ids

  # The writer region hosts the dashboard over all three.
  dashboard_regions = {
    for r, m in local.region_modules : r => {
      alb_arn_suffix          = m.alb_arn_suffix
      target_group_arn_suffix = m.target_group_arn_suffix
      aurora_cluster_id       = module.data.aurora_cluster_ids[r]
    }
  }
}

module "monitoring_eu_west_1" {
  source    = "../../modules/monitoring"
  providers = { aws = aws.eu_west_1 }

  name                       = local.name
  region                     = "eu-west-1"
  sibling_regions            = local.sibling_order["eu-west-1"]
  kms_key_arn                = module.eu_west_1.kms_key_arn
  alert_emails               = var.alert_emails
  pager_https_endpoints      = var.pager_https_endpoints
  alb_arn_suffix             = module.eu_west_1.alb_arn_suffix
  target_group_arn_suffix    = module.eu_west_1.target_group_arn_suffix
  task_log_group_name        = module.eu_west_1.task_log_group_name
  s3_replication             = local.s3_replication["eu-west-1"]
  aurora_cluster_id          = module.data.aurora_cluster_ids["eu-west-1"]
  cache_replication_group_id = module.data.cache_replication_group_ids["eu-west-1"]
}

module "monitoring_ap_southeast_1" {
  source    = "../../modules/monitoring"
  providers = { aws = aws.ap_southeast_1 }

  name                       = local.name
  region                     = "ap-southeast-1"
  sibling_regions            = local.sibling_order["ap-southeast-1"]
  kms_key_arn                = module.ap_southeast_1.kms_key_arn
  alert_emails               = var.alert_emails
  pager_https_endpoints      = var.pager_https_endpoints
  alb_arn_suffix             = module.ap_southeast_1.alb_arn_suffix
  target_group_arn_suffix    = module.ap_southeast_1.target_group_arn_suffix
  task_log_group_name        = module.ap_southeast_1.task_log_group_name
  s3_replication             = local.s3_replication["ap-southeast-1"]
  aurora_cluster_id          = module.data.aurora_cluster_ids["ap-southeast-1"]
  cache_replication_group_id = module.data.cache_replication_group_ids["ap-southeast-1"]
}

module "dr_us_east_1" {
  source    = "../../modules/dr"
  providers = { aws = aws.us_east_1 }

  name                    = local.name
  region                  = "us-east-1"
  regions                 = local.regions
  failover_priority       = ["eu-west-1", "us-east-1", "ap-southeast-1"]
  global_cluster_id       = module.data.global_cluster_id
  cluster_ids             = module.data.aurora_cluster_ids
  cache_global_id         = module.data.cache_global_replication_group_id
  cache_group_ids         = module.data.cache_replication_group_ids
  cache_endpoints         = module.data.cache_endpoints
  ledger_table_name       = aws_dynamodb_table.dr_ledger.name
  kms_key_arn             = module.us_east_1.kms_key_arn
  routing_control_arns    = module.arc.routing_control_arns
  arc_endpoints           = module.arc.cluster_endpoints
  writer_down_alarm_names = { for s, a in module.monitoring_us_east_1.writer_down_alarms : s => a.name }
  writer_down_alarm_arns  = { for s, a in module.monitoring_us_east_1.writer_down_alarms : s => a.arn }
  approval_topic_arn      = module.monitoring_us_east_1.approval_topic.arn
  approvers               = var.failover_approvers
  topology_parameter_name = local.topology_parameter
  initial_writer_region   = local.writer_region
}

module "dr_eu_west_1" {
  source    = "../../modules/dr"
  providers = { aws = aws.eu_west_1 }

  name                    = local.name
  region                  = "eu-west-1"
  regions                 = local.regions
  failover_priority       = ["eu-west-1", "us-east-1", "ap-southeast-1"]
  global_cluster_id       = module.data.global_cluster_id
  cluster_ids             = module.data.aurora_cluster_ids
  cache_global_id         = module.data.cache_global_replication_group_id
  cache_group_ids         = module.data.cache_replication_group_ids
  cache_endpoints         = module.data.cache_endpoints
  ledger_table_name       = aws_dynamodb_table.dr_ledger.name
  kms_key_arn             = module.eu_west_1.kms_key_arn
  routing_control_arns    = module.arc.routing_control_arns
  arc_endpoints           = module.arc.cluster_endpoints
  writer_down_alarm_names = { for s, a in module.monitoring_eu_west_1.writer_down_alarms : s => a.name }
  writer_down_alarm_arns  = { for s, a in module.monitoring_eu_west_1.writer_down_alarms : s => a.arn }
  approval_topic_arn      = module.monitoring_eu_west_1.approval_topic.arn
  approvers               = var.failover_approvers
  topology_parameter_name = local.topology_parameter
  initial_writer_region   = local.writer_region
}

module "dr_ap_southeast_1" {
  source    = "../../modules/dr"
  providers = { aws = aws.ap_southeast_1 }

  name                    = local.name
  region                  = "ap-southeast-1"
  regions                 = local.regions
  failover_priority       = ["eu-west-1", "us-east-1", "ap-southeast-1"]
  global_cluster_id       = module.data.global_cluster_id
  cluster_ids             = module.data.aurora_cluster_ids
  cache_global_id         = module.data.cache_global_replication_group_id
  cache_group_ids         = module.data.cache_replication_group_ids
  cache_endpoints         = module.data.cache_endpoints
  ledger_table_name       = aws_dynamodb_table.dr_ledger.name
  kms_key_arn             = module.ap_southeast_1.kms_key_arn
  routing_control_arns    = module.arc.routing_control_arns
  arc_endpoints           = module.arc.cluster_endpoints
  writer_down_alarm_names = { for s, a in module.monitoring_ap_southeast_1.writer_down_alarms : s => a.name }
  writer_down_alarm_arns  = { for s, a in module.monitoring_ap_southeast_1.writer_down_alarms : s => a.arn }
  approval_topic_arn      = module.monitoring_ap_southeast_1.approval_topic.arn
  approvers               = var.failover_approvers
  topology_parameter_name = local.topology_parameter
  initial_writer_region   = local.writer_region
}

module "fis_us_east_1" {
  source    = "../../modules/fis"
  providers = { aws = aws.us_east_1 }

  name                          = local.name
  region                        = "us-east-1"
  ecs_cluster_name              = module.us_east_1.ecs_cluster_name
  ecs_cluster_arn               = module.us_east_1.ecs_cluster_arn
  ecs_service_name              = module.us_east_1.ecs_service_name
  private_subnet_arns           = module.us_east_1.private_subnet_arns
  sibling_prefix_list_id        = module.us_east_1.sibling_prefix_list_id
  stop_condition_alarm_arn      = module.monitoring_us_east_1.experiment_guard_alarm_arn
  kms_key_arn                   = module.us_east_1.kms_key_arn
  vpc_id                        = module.us_east_1.vpc_id
  public_subnet_ids             = module.us_east_1.public_subnet_ids
  public_hostname               = module.global.public_hostname
  meridian_image                = "${local.registry}.us-east-1.amazonaws.com/${local.name}:${var.meridian_image_tag}"
  access_log_bucket             = module.us_east_1.access_log_bucket
  aurora_cluster_arn            = "arn:aws:rds:us-east-1:${local.account_id}:cluster:${module.data.aurora_cluster_ids["us-east-1"]}"
  cache_replication_group_arn   = "arn:aws:elasticache:us-east-1:${local.account_id}:replicationgroup:${module.data.cache_replication_group_ids["us-east-1"]}"
  cache_fault_availability_zone = module.us_east_1.availability_zones[0]
  dr_document_name              = module.dr_us_east_1.document_name
  dr_automation_role_arn        = module.dr_us_east_1.automation_role_arn
}

module "fis_eu_west_1" {
  source    = "../../modules/fis"
  providers = { aws = aws.eu_west_1 }

  name                          = local.name
  region                        = "eu-west-1"
  ecs_cluster_name              = module.eu_west_1.ecs_cluster_name
  ecs_cluster_arn               = module.eu_west_1.ecs_cluster_arn
  ecs_service_name              = module.eu_west_1.ecs_service_name
  private_subnet_arns           = module.eu_west_1.private_subnet_arns
  sibling_prefix_list_id        = module.eu_west_1.sibling_prefix_list_id
  stop_condition_alarm_arn      = module.monitoring_eu_west_1.experiment_guard_alarm_arn
  kms_key_arn                   = module.eu_west_1.kms_key_arn
  vpc_id                        = module.eu_west_1.vpc_id
  public_subnet_ids             = module.eu_west_1.public_subnet_ids
  public_hostname               = module.global.public_hostname
  meridian_image                = "${local.registry}.eu-west-1.amazonaws.com/${local.name}:${var.meridian_image_tag}"
  access_log_bucket             = module.eu_west_1.access_log_bucket
  aurora_cluster_arn            = "arn:aws:rds:eu-west-1:${local.account_id}:cluster:${module.data.aurora_cluster_ids["eu-west-1"]}"
  cache_replication_group_arn   = "arn:aws:elasticache:eu-west-1:${local.account_id}:replicationgroup:${module.data.cache_replication_group_ids["eu-west-1"]}"
  cache_fault_availability_zone = module.eu_west_1.availability_zones[0]
  dr_document_name              = module.dr_eu_west_1.document_name
  dr_automation_role_arn        = module.dr_eu_west_1.automation_role_arn
}

module "fis_ap_southeast_1" {
  source    = "../../modules/fis"
  providers = { aws = aws.ap_southeast_1 }

  name                          = local.name
  region                        = "ap-southeast-1"
  ecs_cluster_name              = module.ap_southeast_1.ecs_cluster_name
  ecs_cluster_arn               = module.ap_southeast_1.ecs_cluster_arn
  ecs_service_name              = module.ap_southeast_1.ecs_service_name
  private_subnet_arns           = module.ap_southeast_1.private_subnet_arns
  sibling_prefix_list_id        = module.ap_southeast_1.sibling_prefix_list_id
  stop_condition_alarm_arn      = module.monitoring_ap_southeast_1.experiment_guard_alarm_arn
  kms_key_arn                   = module.ap_southeast_1.kms_key_arn
  vpc_id                        = module.ap_southeast_1.vpc_id
  public_subnet_ids             = module.ap_southeast_1.public_subnet_ids
  public_hostname               = module.global.public_hostname
  meridian_image                = "${local.registry}.ap-southeast-1.amazonaws.com/${local.name}:${var.meridian_image_tag}"
  access_log_bucket             = module.ap_southeast_1.access_log_bucket
  aurora_cluster_arn            = "arn:aws:rds:ap-southeast-1:${local.account_id}:cluster:${module.data.aurora_cluster_ids["ap-southeast-1"]}"
  cache_replication_group_arn   = "arn:aws:elasticache:ap-southeast-1:${local.account_id}:replicationgroup:${module.data.cache_replication_group_ids["ap-southeast-1"]}"
  cache_fault_availability_zone = module.ap_southeast_1.availability_zones[0]
  dr_document_name              = module.dr_ap_southeast_1.document_name
  dr_automation_role_arn        = module.dr_ap_southeast_1.automation_role_arn
}
