# Production: Meridian in us-east-1 (Aurora writer), eu-west-1 and ap-southeast-1.
#
#   client -> CloudFront (origin group) -> origin.<domain> (Route 53 latency + health checks)
#          -> regional ALB -> Meridian (front container) -> app (same task)
#          -> Aurora Global (global writer endpoint) / ElastiCache Global Datastore / S3
#   Meridian -> sibling region: https://ingress.<sibling>.<domain> -> internal ALB over VPC peering

locals {
  name         = "meridian"
  default_tags = { "project" = "meridian", "environment" = "production", "managed-by" = "terraform" }

  regions = ["us-east-1", "eu-west-1", "ap-southeast-1"]

  # Non-overlapping, because the VPCs are peered.
  vpc_cidrs = {
    "us-east-1"      = "10.10.0.0/16"
    "eu-west-1"      = "10.20.0.0/16"
    "ap-southeast-1" = "10.30.0.0/16"
  }

  # Meridian's failover order from each region: nearest sibling first.
  sibling_order = {
    "us-east-1"      = ["eu-west-1", "ap-southeast-1"]
    "eu-west-1"      = ["us-east-1", "ap-southeast-1"]
    "ap-southeast-1" = ["us-east-1", "eu-west-1"]
  }

  account_id   = data.aws_caller_identity.current.account_id
  registry     = "${local.account_id}.dkr.ecr"
  bucket_names = { for r in local.regions : r => "${local.name}-data-${r}-${local.account_id}" }

  # No value below changes in a failover, so no Terraform apply is part of one:
  # - writes: the Aurora global writer endpoint, which follows the writer (and Meridian sends writes
  #   to the writer's region in the first place); the local reader endpoint forwards writes too;
  # - reads: the local cluster's reader endpoint;
  # - cache: local reads; cache writes to the Global Datastore primary, whose region the failover
  #   automation publishes in the SSM parameter TOPOLOGY_PARAMETER (REDIS_WRITE_HOST is the
  #   initial primary until then).
  writer_region = "us-east-1"
  app_environment = {
    for r in local.regions : r => {
      DATABASE_WRITE_HOST       = module.data.global_writer_endpoint
      DATABASE_READ_HOST        = module.data.aurora_reader_endpoints[r]
      DATABASE_NAME             = "meridian"
      DATABASE_WRITE_FORWARDING = "true"
      REDIS_READ_HOST           = module.data.cache_endpoints[r]
      REDIS_WRITE_HOST          = module.data.cache_endpoints[local.writer_region]
      TOPOLOGY_PARAMETER        = local.topology_parameter
      DATA_BUCKET               = local.bucket_names[r]
      AWS_REGION                = r
    }
  }

  topology_parameter = "/meridian/data/topology"

  # Capacity with one region lost (docs/cost.md): the on-demand base of each region carries its
  # own share plus what latency routing sends it from the largest lost neighbour, at the
  # autoscaling target of 50 req/s per task; Spot only above that.
  capacity = {
    "us-east-1"      = { base = 5, max = 12 }
    "eu-west-1"      = { base = 5, max = 12 }
    "ap-southeast-1" = { base = 3, max = 8 }
  }

  origin_verify_secrets = compact([var.origin_verify_secret, var.origin_verify_previous_secret])

  database_view = {
    for r in local.regions : r => {
      monitor_user       = "meridian_monitor"
      monitor_secret_arn = replace(module.data.db_user_secret_arns["monitor"], ":us-east-1:", ":${r}:")
      writer_endpoint    = module.data.global_writer_endpoint
      region_endpoints   = module.data.aurora_reader_endpoints
    }
  }
  app_secret_arns = { for r in local.regions : r => replace(module.data.db_user_secret_arns["app"], ":us-east-1:", ":${r}:") }
}

data "aws_caller_identity" "current" {
  provider = aws.us_east_1
}

# === Meridian's forwarding-mark secret: one value, replicated to every region ===
# An ephemeral input written write-only: it never enters the Terraform state.

resource "aws_secretsmanager_secret" "forward" {
  provider = aws.us_east_1

  name        = "${local.name}/forward-secret"
  description = "Meridian cross-region forwarding-mark HMAC secret (MERIDIAN_FORWARD_SECRET)"
  kms_key_id  = module.us_east_1.kms_key_arn

  replica {
    region     = "eu-west-1"
    kms_key_id = module.eu_west_1.kms_key_arn
  }

  replica {
    region     = "ap-southeast-1"
    kms_key_id = module.ap_southeast_1.kms_key_arn
  }
}

resource "aws_secretsmanager_secret_version" "forward" {
  provider = aws.us_east_1

  secret_id                = aws_secretsmanager_secret.forward.id
  secret_string_wo         = var.forward_secret
  secret_string_wo_version = var.forward_secret_version
}

locals {
  # Replicas keep the primary's ARN but for the region.
  forward_secret_arns = { for r in local.regions : r => replace(aws_secretsmanager_secret.forward.arn, ":us-east-1:", ":${r}:") }
}

# === Registry ===

module "ecr" {
  source    = "../../modules/ecr"
  providers = { aws = aws.us_east_1 }

  name              = local.name
  replica_regions   = ["eu-west-1", "ap-southeast-1"]
  kms_key_arn       = module.us_east_1.kms_key_arn
  github_repository = var.github_repository
  deploy_regions    = local.regions
}

# === Regions ===

module "us_east_1" {
  source    = "../../modules/region"
  providers = { aws = aws.us_east_1 }

  name               = local.name
  region             = "us-east-1"
  availability_zones = ["us-east-1a", "us-east-1b"]
  sibling_regions    = local.sibling_order["us-east-1"]
  domain             = var.domain
  vpc_cidr           = local.vpc_cidrs["us-east-1"]
  sibling_vpc_cidrs  = [for r in local.sibling_order["us-east-1"] : local.vpc_cidrs[r]]
  certificate_arn    = var.regional_certificate_arns["us-east-1"]
  meridian_image     = "${local.registry}.us-east-1.amazonaws.com/${local.name}:${var.meridian_image_tag}"
  app_image          = "${local.registry}.us-east-1.amazonaws.com/${local.name}-app:${var.app_image_tag}"
  app_environment    = local.app_environment["us-east-1"]
  app_bucket_arn     = "arn:aws:s3:::${local.bucket_names["us-east-1"]}"
  forward_secret_arn = local.forward_secret_arns["us-east-1"]

  min_capacity            = local.capacity["us-east-1"].base
  max_capacity            = local.capacity["us-east-1"].max
  origin_verify_secrets   = local.origin_verify_secrets
  app_database_secret_arn = local.app_secret_arns["us-east-1"]
  database_view           = local.database_view["us-east-1"]
  topology_parameter_name = local.topology_parameter
}

module "eu_west_1" {
  source    = "../../modules/region"
  providers = { aws = aws.eu_west_1 }

  name               = local.name
  region             = "eu-west-1"
  availability_zones = ["eu-west-1a", "eu-west-1b"]
  sibling_regions    = local.sibling_order["eu-west-1"]
  domain             = var.domain
  vpc_cidr           = local.vpc_cidrs["eu-west-1"]
  sibling_vpc_cidrs  = [for r in local.sibling_order["eu-west-1"] : local.vpc_cidrs[r]]
  certificate_arn    = var.regional_certificate_arns["eu-west-1"]
  meridian_image     = "${local.registry}.eu-west-1.amazonaws.com/${local.name}:${var.meridian_image_tag}"
  app_image          = "${local.registry}.eu-west-1.amazonaws.com/${local.name}-app:${var.app_image_tag}"
  app_environment    = local.app_environment["eu-west-1"]
  app_bucket_arn     = "arn:aws:s3:::${local.bucket_names["eu-west-1"]}"
  forward_secret_arn = local.forward_secret_arns["eu-west-1"]

  min_capacity            = local.capacity["eu-west-1"].base
  max_capacity            = local.capacity["eu-west-1"].max
  origin_verify_secrets   = local.origin_verify_secrets
  app_database_secret_arn = local.app_secret_arns["eu-west-1"]
  database_view           = local.database_view["eu-west-1"]
  topology_parameter_name = local.topology_parameter
}

module "ap_southeast_1" {
  source    = "../../modules/region"
  providers = { aws = aws.ap_southeast_1 }

  name               = local.name
  region             = "ap-southeast-1"
  availability_zones = ["ap-southeast-1a", "ap-southeast-1b"]
  sibling_regions    = local.sibling_order["ap-southeast-1"]
  domain             = var.domain
  vpc_cidr           = local.vpc_cidrs["ap-southeast-1"]
  sibling_vpc_cidrs  = [for r in local.sibling_order["ap-southeast-1"] : local.vpc_cidrs[r]]
  certificate_arn    = var.regional_certificate_arns["ap-southeast-1"]
  meridian_image     = "${local.registry}.ap-southeast-1.amazonaws.com/${local.name}:${var.meridian_image_tag}"
  app_image          = "${local.registry}.ap-southeast-1.amazonaws.com/${local.name}-app:${var.app_image_tag}"
  app_environment    = local.app_environment["ap-southeast-1"]
  app_bucket_arn     = "arn:aws:s3:::${local.bucket_names["ap-southeast-1"]}"
  forward_secret_arn = local.forward_secret_arns["ap-southeast-1"]

  min_capacity            = local.capacity["ap-southeast-1"].base
  max_capacity            = local.capacity["ap-southeast-1"].max
  origin_verify_secrets   = local.origin_verify_secrets
  app_database_secret_arn = local.app_secret_arns["ap-southeast-1"]
  database_view           = local.database_view["ap-southeast-1"]
  topology_parameter_name = local.topology_parameter
}

locals {
  region_modules = {
    "us-east-1"      = module.us_east_1
    "eu-west-1"      = module.eu_west_1
    "ap-southeast-1" = module.ap_southeast_1
  }
}

# === Peering: full mesh, so every Meridian reaches every sibling's internal ALB ===

module "peering_use1_euw1" {
  source    = "../../modules/peering"
  providers = { aws.requester = aws.us_east_1, aws.accepter = aws.eu_west_1 }

  name      = "${local.name}-us-east-1-eu-west-1"
  requester = { region = "us-east-1", vpc_id = module.us_east_1.vpc_id, cidr = module.us_east_1.vpc_cidr, route_table_id = module.us_east_1.private_route_table_id }
  accepter  = { region = "eu-west-1", vpc_id = module.eu_west_1.vpc_id, cidr = module.eu_west_1.vpc_cidr, route_table_id = module.eu_west_1.private_route_table_id }
}

module "peering_use1_apse1" {
  source    = "../../modules/peering"
  providers = { aws.requester = aws.us_east_1, aws.accepter = aws.ap_southeast_1 }

  name      = "${local.name}-us-east-1-ap-southeast-1"
  requester = { region = "us-east-1", vpc_id = module.us_east_1.vpc_id, cidr = module.us_east_1.vpc_cidr, route_table_id = module.us_east_1.private_route_table_id }
  accepter  = { region = "ap-southeast-1", vpc_id = module.ap_southeast_1.vpc_id, cidr = module.ap_southeast_1.vpc_cidr, route_table_id = module.ap_southeast_1.private_route_table_id }
}

module "peering_euw1_apse1" {
  source    = "../../modules/peering"
  providers = { aws.requester = aws.eu_west_1, aws.accepter = aws.ap_southeast_1 }

  name      = "${local.name}-eu-west-1-ap-southeast-1"
  requester = { region = "eu-west-1", vpc_id = module.eu_west_1.vpc_id, cidr = module.eu_west_1.vpc_cidr, route_table_id = module.eu_west_1.private_route_table_id }
  accepter  = { region = "ap-southeast-1", vpc_id = module.ap_southeast_1.vpc_id, cidr = module.ap_southeast_1.vpc_cidr, route_table_id = module.ap_southeast_1.private_route_table_id }
}

# === Traffic switches (ARC routing controls; configuration API in us-west-2) ===

module "arc" {
  source    = "../../modules/arc"
  providers = { aws = aws.us_west_2 }

  name    = local.name
  regions = local.regions
}

# === Global entry ===

module "global" {
  source    = "../../modules/global"
  providers = { aws = aws.us_east_1 }

  name                       = local.name
  domain                     = var.domain
  zone_id                    = var.zone_id
  cloudfront_certificate_arn = var.cloudfront_certificate_arn
  fallback_origin_regions    = ["eu-west-1", "us-east-1"]
  origin_verify_secret       = var.origin_verify_secret
  routing_control_arns       = module.arc.routing_control_arns
  kms_key_arn                = module.us_east_1.kms_key_arn

  regions = {
    for r, m in local.region_modules : r => {
      alb_dns_name          = m.alb_dns_name
      alb_zone_id           = m.alb_zone_id
      internal_alb_dns_name = m.internal_alb_dns_name
      internal_alb_zone_id  = m.internal_alb_zone_id
      vpc_id                = m.vpc_id
    }
  }
}

# === Data: Aurora Global, ElastiCache Global Datastore, replicated S3 ===

module "data" {
  source = "../../modules/data"
  providers = {
    aws.primary     = aws.us_east_1
    aws.secondary_1 = aws.eu_west_1
    aws.secondary_2 = aws.ap_southeast_1
  }

  name                     = local.name
  master_password          = var.aurora_master_password
  master_password_version  = var.aurora_master_password_version
  app_password             = var.aurora_app_password
  monitor_password         = var.aurora_monitor_password
  db_user_password_version = var.db_user_password_version

  # Named outputs, not whole module objects: the regions take the data endpoints as input, so a
  # reference to a whole region module here would be a dependency cycle.
  regions = {
    primary = {
      region                  = "us-east-1"
      subnet_ids              = module.us_east_1.private_subnet_ids
      db_security_group_id    = module.us_east_1.db_security_group_id
      cache_security_group_id = module.us_east_1.cache_security_group_id
      kms_key_arn             = module.us_east_1.kms_key_arn
      bucket_name             = local.bucket_names["us-east-1"]
      access_log_bucket       = module.us_east_1.access_log_bucket
    }
    secondary_1 = {
      region                  = "eu-west-1"
      subnet_ids              = module.eu_west_1.private_subnet_ids
      db_security_group_id    = module.eu_west_1.db_security_group_id
      cache_security_group_id = module.eu_west_1.cache_security_group_id
      kms_key_arn             = module.eu_west_1.kms_key_arn
      bucket_name             = local.bucket_names["eu-west-1"]
      access_log_bucket       = module.eu_west_1.access_log_bucket
    }
    secondary_2 = {
      region                  = "ap-southeast-1"
      subnet_ids              = module.ap_southeast_1.private_subnet_ids
      db_security_group_id    = module.ap_southeast_1.db_security_group_id
      cache_security_group_id = module.ap_southeast_1.cache_security_group_id
      kms_key_arn             = module.ap_southeast_1.kms_key_arn
      bucket_name             = local.bucket_names["ap-southeast-1"]
      access_log_bucket       = module.ap_southeast_1.access_log_bucket
    }
  }
}
