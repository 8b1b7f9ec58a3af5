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

  # The application talks to its LOCAL Aurora cluster: in the writer region the cluster endpoint,
  # in a secondary the reader endpoint, where global write forwarding sends writes on to the
  # writer. No database connection crosses a region. Cache reads are local; cache writes go to the
  # Global Datastore primary member, over peering. After a database or cache failover, set
  # aurora_writer_region / cache_primary_region and apply (docs/runbook.md).
  app_environment = {
    for r in local.regions : r => {
      DATABASE_HOST             = r == var.aurora_writer_region ? module.data.aurora_cluster_endpoints[r] : module.data.aurora_reader_endpoints[r]
      DATABASE_WRITE_FORWARDING = r == var.aurora_writer_region ? "false" : "true"
      REDIS_READ_HOST           = module.data.cache_endpoints[r]
      REDIS_WRITE_HOST          = module.data.cache_endpoints[var.cache_primary_region]
      DATA_BUCKET               = local.bucket_names[r]
      AWS_REGION                = r
    }
  }
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

# === Global entry ===

module "global" {
  source    = "../../modules/global"
  providers = { aws = aws.us_east_1 }

  name                       = local.name
  domain                     = var.domain
  zone_id                    = var.zone_id
  cloudfront_certificate_arn = var.cloudfront_certificate_arn
  secondary_origin_region    = "eu-west-1"
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

  name                    = local.name
  master_password         = var.aurora_master_password
  master_password_version = var.aurora_master_password_version

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
