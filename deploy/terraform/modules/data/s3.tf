# S3: one versioned, KMS-encrypted, private bucket per region, each replicating to the other two
# with Replication Time Control (99.99 % of objects within 15 minutes, typically seconds) and
# replication metrics on every rule.

locals {
  keys = ["primary", "secondary_1", "secondary_2"]

  # For each source bucket, one rule per destination.
  replication_rules = {
    for src in local.keys : src => [
      for i, dst in sort(tolist(setsubtract(local.keys, [src]))) : {
        id          = "to-${var.regions[dst].region}"
        priority    = i + 1
        bucket_arn  = "arn:${local.partition}:s3:::${var.regions[dst].bucket_name}"
        kms_key_arn = var.regions[dst].kms_key_arn
      }
    ]
  }

  bucket_arns = { for k in local.keys : k => "arn:${local.partition}:s3:::${var.regions[k].bucket_name}" }
}

data "aws_iam_policy_document" "replication_assume" {
  provider = aws.primary

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "replication" {
  provider = aws.primary

  statement {
    sid       = "ReadSourceConfig"
    actions   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    resources = values(local.bucket_arns)
  }

  statement {
    sid       = "ReadSourceObjects"
    actions   = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"]
    resources = [for arn in values(local.bucket_arns) : "${arn}/*"]
  }

  statement {
    sid       = "WriteReplicas"
    actions   = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
    resources = [for arn in values(local.bucket_arns) : "${arn}/*"]
  }

  statement {
    sid       = "DecryptSource"
    actions   = ["kms:Decrypt"]
    resources = [for k in local.keys : var.regions[k].kms_key_arn]
    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values   = [for k in local.keys : "s3.${var.regions[k].region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "EncryptReplicas"
    actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
    resources = [for k in local.keys : var.regions[k].kms_key_arn]
    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values   = [for k in local.keys : "s3.${var.regions[k].region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "replication" {
  provider = aws.primary

  name               = "${var.name}-s3-replication"
  assume_role_policy = data.aws_iam_policy_document.replication_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "replication" {
  provider = aws.primary

  name   = "replicate-data-buckets"
  role   = aws_iam_role.replication.id
  policy = data.aws_iam_policy_document.replication.json
}

# === One bucket per region (modules/data/bucket), with that region's provider ===
# Replication to a bucket needs versioning on it first: each bucket waits for the others'.

module "bucket_primary" {
  source    = "./bucket"
  providers = { aws = aws.primary }

  bucket_name              = var.regions["primary"].bucket_name
  kms_key_arn              = var.regions["primary"].kms_key_arn
  access_log_bucket        = var.regions["primary"].access_log_bucket
  replication_role_arn     = aws_iam_role.replication.arn
  replication_rules        = local.replication_rules["primary"]
  replication_time_minutes = var.replication_time_minutes
  replicate_after          = [module.bucket_secondary_1.versioning_id, module.bucket_secondary_2.versioning_id]
  tags                     = var.tags
}

module "bucket_secondary_1" {
  source    = "./bucket"
  providers = { aws = aws.secondary_1 }

  bucket_name              = var.regions["secondary_1"].bucket_name
  kms_key_arn              = var.regions["secondary_1"].kms_key_arn
  access_log_bucket        = var.regions["secondary_1"].access_log_bucket
  replication_role_arn     = aws_iam_role.replication.arn
  replication_rules        = local.replication_rules["secondary_1"]
  replication_time_minutes = var.replication_time_minutes
  replicate_after          = [module.bucket_primary.versioning_id, module.bucket_secondary_2.versioning_id]
  tags                     = var.tags
}

module "bucket_secondary_2" {
  source    = "./bucket"
  providers = { aws = aws.secondary_2 }

  bucket_name              = var.regions["secondary_2"].bucket_name
  kms_key_arn              = var.regions["secondary_2"].kms_key_arn
  access_log_bucket        = var.regions["secondary_2"].access_log_bucket
  replication_role_arn     = aws_iam_role.replication.arn
  replication_rules        = local.replication_rules["secondary_2"]
  replication_time_minutes = var.replication_time_minutes
  replicate_after          = [module.bucket_primary.versioning_id, module.bucket_secondary_1.versioning_id]
  tags                     = var.tags
}
