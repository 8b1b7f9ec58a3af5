# Terraform state that survives the loss of us-east-1: the state bucket in us-east-1 and its copy in
# eu-west-1 replicate to each other (versioned, KMS, Replication Time Control). Locking uses S3's
# own lock file (use_lockfile), so there is no lock table to lose. Normal operation uses the
# us-east-1 bucket (backend.hcl); while us-east-1 is down, the eu-west-1 bucket (backend-dr.hcl).
# DR never needs Terraform (docs/runbook.md); this is for rebuilding afterwards.
#
# Applied once, by hand, with local state kept outside the repository (deploy/README.md).

terraform {
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

provider "aws" {
  alias  = "primary"
  region = "us-east-1"
}

provider "aws" {
  alias  = "replica"
  region = "eu-west-1"
}

variable "name" {
  description = "Name prefix of the state buckets."
  type        = string
  default     = "meridian-tfstate"
}

variable "log_bucket_suffix" {
  description = "Suffix of the server-access-log bucket of each state bucket."
  type        = string
  default     = "logs"
}

data "aws_caller_identity" "current" {
  provider = aws.primary
}

locals {
  account_id = data.aws_caller_identity.current.account_id
  buckets = {
    primary = { region = "us-east-1", name = "${var.name}-us-east-1-${local.account_id}" }
    replica = { region = "eu-west-1", name = "${var.name}-eu-west-1-${local.account_id}" }
  }
}

module "primary" {
  source    = "./bucket"
  providers = { aws = aws.primary }

  bucket_name      = local.buckets.primary.name
  peer_bucket_arn  = "arn:aws:s3:::${local.buckets.replica.name}"
  peer_kms_key_arn = module.replica.kms_key_arn
  replication_role = aws_iam_role.replication.arn
  log_bucket_name  = "${local.buckets.primary.name}-${var.log_bucket_suffix}"
  replicate_after  = module.replica.versioning_id
}

module "replica" {
  source    = "./bucket"
  providers = { aws = aws.replica }

  bucket_name      = local.buckets.replica.name
  peer_bucket_arn  = "arn:aws:s3:::${local.buckets.primary.name}"
  peer_kms_key_arn = module.primary.kms_key_arn
  replication_role = aws_iam_role.replication.arn
  log_bucket_name  = "${local.buckets.replica.name}-${var.log_bucket_suffix}"
  replicate_after  = module.primary.versioning_id
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

resource "aws_iam_role" "replication" {
  provider = aws.primary

  name               = "${var.name}-replication"
  assume_role_policy = data.aws_iam_policy_document.replication_assume.json
}

data "aws_iam_policy_document" "replication" {
  provider = aws.primary

  statement {
    actions   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    resources = [for b in local.buckets : "arn:aws:s3:::${b.name}"]
  }

  statement {
    actions   = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging", "s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
    resources = [for b in local.buckets : "arn:aws:s3:::${b.name}/*"]
  }

  statement {
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [module.primary.kms_key_arn, module.replica.kms_key_arn]
    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values   = [for b in local.buckets : "s3.${b.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "replication" {
  provider = aws.primary

  name   = "replicate-state"
  role   = aws_iam_role.replication.id
  policy = data.aws_iam_policy_document.replication.json
}

output "backend_configs" {
  description = "Backend settings for environments/production: backend.hcl (normal) and backend-dr.hcl (while us-east-1 is down)."
  value = {
    normal = { bucket = local.buckets.primary.name, region = "us-east-1", key = "meridian/production.tfstate", use_lockfile = true, encrypt = true, kms_key_id = module.primary.kms_key_arn }
    dr     = { bucket = local.buckets.replica.name, region = "eu-west-1", key = "meridian/production.tfstate", use_lockfile = true, encrypt = true, kms_key_id = module.replica.kms_key_arn }
  }
}
