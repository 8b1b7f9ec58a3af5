# Monitoring and fault-injection experiments, one instance per region.

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
}

module "monitoring_us_east_1" {
  source    = "../../modules/monitoring"
  providers = { aws = aws.us_east_1 }

  name                     = local.name
  region                   = "us-east-1"
  kms_key_arn              = module.us_east_1.kms_key_arn
  alert_emails             = var.alert_emails
  alb_arn_suffix           = module.us_east_1.alb_arn_suffix
  target_group_arn_suffix  = module.us_east_1.target_group_arn_suffix
  task_log_group_name      = module.us_east_1.task_log_group_name
  s3_replication           = local.s3_replication["us-east-1"]
  route53_health_check_ids = module.global.health_check_ids

  # The writer region hosts the dashboard over all three.
  dashboard_regions = {
    for r, m in local.region_modules : r => {
      alb_arn_suffix          = m.alb_arn_suffix
      target_group_arn_suffix = m.target_group_arn_suffix
      aurora_cluster_id       = r == "us-east-1" ? "" : module.data.aurora_cluster_ids[r]
    }
  }
}

module "monitoring_eu_west_1" {
  source    = "../../modules/monitoring"
  providers = { aws = aws.eu_west_1 }

  name                        = local.name
  region                      = "eu-west-1"
  kms_key_arn                 = module.eu_west_1.kms_key_arn
  alert_emails                = var.alert_emails
  alb_arn_suffix              = module.eu_west_1.alb_arn_suffix
  target_group_arn_suffix     = module.eu_west_1.target_group_arn_suffix
  task_log_group_name         = module.eu_west_1.task_log_group_name
  s3_replication              = local.s3_replication["eu-west-1"]
  aurora_secondary_cluster_id = module.data.aurora_cluster_ids["eu-west-1"]
}

module "monitoring_ap_southeast_1" {
  source    = "../../modules/monitoring"
  providers = { aws = aws.ap_southeast_1 }

  name                        = local.name
  region                      = "ap-southeast-1"
  kms_key_arn                 = module.ap_southeast_1.kms_key_arn
  alert_emails                = var.alert_emails
  alb_arn_suffix              = module.ap_southeast_1.alb_arn_suffix
  target_group_arn_suffix     = module.ap_southeast_1.target_group_arn_suffix
  task_log_group_name         = module.ap_southeast_1.task_log_group_name
  s3_replication              = local.s3_replication["ap-southeast-1"]
  aurora_secondary_cluster_id = module.data.aurora_cluster_ids["ap-southeast-1"]
}

module "fis_us_east_1" {
  source    = "../../modules/fis"
  providers = { aws = aws.us_east_1 }

  name                     = local.name
  region                   = "us-east-1"
  ecs_cluster_name         = module.us_east_1.ecs_cluster_name
  ecs_cluster_arn          = module.us_east_1.ecs_cluster_arn
  ecs_service_name         = module.us_east_1.ecs_service_name
  private_subnet_arns      = module.us_east_1.private_subnet_arns
  sibling_prefix_list_id   = module.us_east_1.sibling_prefix_list_id
  stop_condition_alarm_arn = module.monitoring_us_east_1.experiment_guard_alarm_arn
  kms_key_arn              = module.us_east_1.kms_key_arn
}

module "fis_eu_west_1" {
  source    = "../../modules/fis"
  providers = { aws = aws.eu_west_1 }

  name                     = local.name
  region                   = "eu-west-1"
  ecs_cluster_name         = module.eu_west_1.ecs_cluster_name
  ecs_cluster_arn          = module.eu_west_1.ecs_cluster_arn
  ecs_service_name         = module.eu_west_1.ecs_service_name
  private_subnet_arns      = module.eu_west_1.private_subnet_arns
  sibling_prefix_list_id   = module.eu_west_1.sibling_prefix_list_id
  stop_condition_alarm_arn = module.monitoring_eu_west_1.experiment_guard_alarm_arn
  kms_key_arn              = module.eu_west_1.kms_key_arn
}

module "fis_ap_southeast_1" {
  source    = "../../modules/fis"
  providers = { aws = aws.ap_southeast_1 }

  name                     = local.name
  region                   = "ap-southeast-1"
  ecs_cluster_name         = module.ap_southeast_1.ecs_cluster_name
  ecs_cluster_arn          = module.ap_southeast_1.ecs_cluster_arn
  ecs_service_name         = module.ap_southeast_1.ecs_service_name
  private_subnet_arns      = module.ap_southeast_1.private_subnet_arns
  sibling_prefix_list_id   = module.ap_southeast_1.sibling_prefix_list_id
  stop_condition_alarm_arn = module.monitoring_ap_southeast_1.experiment_guard_alarm_arn
  kms_key_arn              = module.ap_southeast_1.kms_key_arn
}
