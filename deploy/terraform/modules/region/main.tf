# One Meridian region: network, ALBs, ECS service (Meridian + app + AppConfig agent), config delivery.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# Pinned by name: the subnet layout never shifts when AWS adds a zone.
data "aws_availability_zones" "available" {
  state = "available"

  filter {
    name   = "zone-name"
    values = var.availability_zones
  }
}

locals {
  prefix     = "${var.name}-${var.region}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  azs        = sort(data.aws_availability_zones.available.names)
  tags       = merge(var.tags, { "meridian:region" = var.region })

  # Meridian's shutdown contract (config/example.toml [shutdown]) and the timeouts that follow from it.
  meridian_drain_seconds   = 15 # /readyz answers 503 at once; listener still accepts
  meridian_grace_seconds   = 30 # in-flight requests may finish within this
  meridian_request_timeout = 10 # timeouts.request: no request lives longer

  appconfig_application = var.name
  appconfig_environment = "production"
  appconfig_profile     = "meridian-toml"
  appconfig_url         = "http://localhost:2772/applications/${local.appconfig_application}/environments/${local.appconfig_environment}/configurations/${local.appconfig_profile}"

  appconfig_agent_image = var.appconfig_agent_image != "" ? var.appconfig_agent_image : "${local.account_id}.dkr.ecr.${var.region}.amazonaws.com/ecr-public/aws-appconfig/aws-appconfig-agent:2.x"
}

# === KMS: one customer-managed key per region for logs, SNS, secrets replicas and data at rest ===

# Key policy (a resource policy: "Resource": "*" means this key). Written with jsonencode rather
# than aws_iam_policy_document because the identity-policy linters misread "*" in key policies.
locals {
  kms_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsEncrypt"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.amazonaws.com" }
        Action    = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
        Resource  = "*"
        Condition = { ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*" } }
      },
      {
        Sid       = "CloudWatchAlarmsPublishToEncryptedSns"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
    ]
  })
}

resource "aws_kms_key" "this" {
  description             = "${local.prefix}: logs, alerts, secrets and data at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = local.kms_policy
  tags                    = local.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${local.prefix}"
  target_key_id = aws_kms_key.this.key_id
}
