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

# === Bucket: primary ===

resource "aws_s3_bucket" "primary" {
  provider = aws.primary

  bucket = var.regions["primary"].bucket_name
  tags   = var.tags
}

resource "aws_s3_bucket_public_access_block" "primary" {
  provider = aws.primary

  bucket                  = aws_s3_bucket.primary.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "primary" {
  provider = aws.primary

  bucket = aws_s3_bucket.primary.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "primary" {
  provider = aws.primary

  bucket = aws_s3_bucket.primary.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "primary" {
  provider = aws.primary

  bucket = aws_s3_bucket.primary.id
  rule {
    bucket_key_enabled = true
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.regions["primary"].kms_key_arn
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "primary" {
  provider = aws.primary

  bucket = aws_s3_bucket.primary.id
  rule {
    id     = "noncurrent-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_logging" "primary" {
  provider = aws.primary

  bucket        = aws_s3_bucket.primary.id
  target_bucket = var.regions["primary"].access_log_bucket
  target_prefix = "s3-access/${var.regions["primary"].bucket_name}/"
}

data "aws_iam_policy_document" "tls_only_primary" {
  provider = aws.primary

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.primary.arn, "${aws_s3_bucket.primary.arn}/*"]
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

resource "aws_s3_bucket_policy" "primary" {
  provider = aws.primary

  bucket = aws_s3_bucket.primary.id
  policy = data.aws_iam_policy_document.tls_only_primary.json
}

resource "aws_s3_bucket_replication_configuration" "primary" {
  provider = aws.primary

  bucket = aws_s3_bucket.primary.id
  role   = aws_iam_role.replication.arn

  dynamic "rule" {
    for_each = local.replication_rules["primary"]
    content {
      id       = rule.value.id
      priority = rule.value.priority
      status   = "Enabled"

      filter {}

      delete_marker_replication {
        status = "Enabled"
      }

      source_selection_criteria {
        sse_kms_encrypted_objects {
          status = "Enabled"
        }
        replica_modifications {
          status = "Enabled"
        }
      }

      destination {
        bucket        = rule.value.bucket_arn
        storage_class = "STANDARD"

        encryption_configuration {
          replica_kms_key_id = rule.value.kms_key_arn
        }

        replication_time {
          status = "Enabled"
          time {
            minutes = var.replication_time_minutes
          }
        }

        metrics {
          status = "Enabled"
          event_threshold {
            minutes = var.replication_time_minutes
          }
        }
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.primary, aws_s3_bucket_versioning.secondary_1, aws_s3_bucket_versioning.secondary_2]
}

# === Bucket: secondary_1 ===

resource "aws_s3_bucket" "secondary_1" {
  provider = aws.secondary_1

  bucket = var.regions["secondary_1"].bucket_name
  tags   = var.tags
}

resource "aws_s3_bucket_public_access_block" "secondary_1" {
  provider = aws.secondary_1

  bucket                  = aws_s3_bucket.secondary_1.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "secondary_1" {
  provider = aws.secondary_1

  bucket = aws_s3_bucket.secondary_1.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "secondary_1" {
  provider = aws.secondary_1

  bucket = aws_s3_bucket.secondary_1.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "secondary_1" {
  provider = aws.secondary_1

  bucket = aws_s3_bucket.secondary_1.id
  rule {
    bucket_key_enabled = true
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.regions["secondary_1"].kms_key_arn
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "secondary_1" {
  provider = aws.secondary_1

  bucket = aws_s3_bucket.secondary_1.id
  rule {
    id     = "noncurrent-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_logging" "secondary_1" {
  provider = aws.secondary_1

  bucket        = aws_s3_bucket.secondary_1.id
  target_bucket = var.regions["secondary_1"].access_log_bucket
  target_prefix = "s3-access/${var.regions["secondary_1"].bucket_name}/"
}

data "aws_iam_policy_document" "tls_only_secondary_1" {
  provider = aws.secondary_1

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.secondary_1.arn, "${aws_s3_bucket.secondary_1.arn}/*"]
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

resource "aws_s3_bucket_policy" "secondary_1" {
  provider = aws.secondary_1

  bucket = aws_s3_bucket.secondary_1.id
  policy = data.aws_iam_policy_document.tls_only_secondary_1.json
}

resource "aws_s3_bucket_replication_configuration" "secondary_1" {
  provider = aws.secondary_1

  bucket = aws_s3_bucket.secondary_1.id
  role   = aws_iam_role.replication.arn

  dynamic "rule" {
    for_each = local.replication_rules["secondary_1"]
    content {
      id       = rule.value.id
      priority = rule.value.priority
      status   = "Enabled"

      filter {}

      delete_marker_replication {
        status = "Enabled"
      }

      source_selection_criteria {
        sse_kms_encrypted_objects {
          status = "Enabled"
        }
        replica_modifications {
          status = "Enabled"
        }
      }

      destination {
        bucket        = rule.value.bucket_arn
        storage_class = "STANDARD"

        encryption_configuration {
          replica_kms_key_id = rule.value.kms_key_arn
        }

        replication_time {
          status = "Enabled"
          time {
            minutes = var.replication_time_minutes
          }
        }

        metrics {
          status = "Enabled"
          event_threshold {
            minutes = var.replication_time_minutes
          }
        }
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.primary, aws_s3_bucket_versioning.secondary_1, aws_s3_bucket_versioning.secondary_2]
}

# === Bucket: secondary_2 ===

resource "aws_s3_bucket" "secondary_2" {
  provider = aws.secondary_2

  bucket = var.regions["secondary_2"].bucket_name
  tags   = var.tags
}

resource "aws_s3_bucket_public_access_block" "secondary_2" {
  provider = aws.secondary_2

  bucket                  = aws_s3_bucket.secondary_2.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "secondary_2" {
  provider = aws.secondary_2

  bucket = aws_s3_bucket.secondary_2.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "secondary_2" {
  provider = aws.secondary_2

  bucket = aws_s3_bucket.secondary_2.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "secondary_2" {
  provider = aws.secondary_2

  bucket = aws_s3_bucket.secondary_2.id
  rule {
    bucket_key_enabled = true
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.regions["secondary_2"].kms_key_arn
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "secondary_2" {
  provider = aws.secondary_2

  bucket = aws_s3_bucket.secondary_2.id
  rule {
    id     = "noncurrent-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_logging" "secondary_2" {
  provider = aws.secondary_2

  bucket        = aws_s3_bucket.secondary_2.id
  target_bucket = var.regions["secondary_2"].access_log_bucket
  target_prefix = "s3-access/${var.regions["secondary_2"].bucket_name}/"
}

data "aws_iam_policy_document" "tls_only_secondary_2" {
  provider = aws.secondary_2

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.secondary_2.arn, "${aws_s3_bucket.secondary_2.arn}/*"]
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

resource "aws_s3_bucket_policy" "secondary_2" {
  provider = aws.secondary_2

  bucket = aws_s3_bucket.secondary_2.id
  policy = data.aws_iam_policy_document.tls_only_secondary_2.json
}

resource "aws_s3_bucket_replication_configuration" "secondary_2" {
  provider = aws.secondary_2

  bucket = aws_s3_bucket.secondary_2.id
  role   = aws_iam_role.replication.arn

  dynamic "rule" {
    for_each = local.replication_rules["secondary_2"]
    content {
      id       = rule.value.id
      priority = rule.value.priority
      status   = "Enabled"

      filter {}

      delete_marker_replication {
        status = "Enabled"
      }

      source_selection_criteria {
        sse_kms_encrypted_objects {
          status = "Enabled"
        }
        replica_modifications {
          status = "Enabled"
        }
      }

      destination {
        bucket        = rule.value.bucket_arn
        storage_class = "STANDARD"

        encryption_configuration {
          replica_kms_key_id = rule.value.kms_key_arn
        }

        replication_time {
          status = "Enabled"
          time {
            minutes = var.replication_time_minutes
          }
        }

        metrics {
          status = "Enabled"
          event_threshold {
            minutes = var.replication_time_minutes
          }
        }
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.primary, aws_s3_bucket_versioning.secondary_1, aws_s3_bucket_versioning.secondary_2]
}
