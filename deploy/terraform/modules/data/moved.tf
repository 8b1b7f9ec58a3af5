# Resources that moved into per-region sub-modules (bucket): the moved blocks map
# the old state addresses onto the new ones, so the refactoring replaces and destroys nothing.
# Keep them until every state that predates the refactoring has been applied once.

# === S3 (s3.tf -> modules/data/bucket) ===

moved {
  from = aws_s3_bucket.primary
  to   = module.bucket_primary.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.primary
  to   = module.bucket_primary.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.primary
  to   = module.bucket_primary.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_versioning.primary
  to   = module.bucket_primary.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.primary
  to   = module.bucket_primary.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.primary
  to   = module.bucket_primary.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_logging.primary
  to   = module.bucket_primary.aws_s3_bucket_logging.this
}

moved {
  from = aws_s3_bucket_policy.primary
  to   = module.bucket_primary.aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket_replication_configuration.primary
  to   = module.bucket_primary.aws_s3_bucket_replication_configuration.this
}

moved {
  from = aws_s3_bucket.secondary_1
  to   = module.bucket_secondary_1.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.secondary_1
  to   = module.bucket_secondary_1.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.secondary_1
  to   = module.bucket_secondary_1.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_versioning.secondary_1
  to   = module.bucket_secondary_1.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.secondary_1
  to   = module.bucket_secondary_1.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.secondary_1
  to   = module.bucket_secondary_1.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_logging.secondary_1
  to   = module.bucket_secondary_1.aws_s3_bucket_logging.this
}

moved {
  from = aws_s3_bucket_policy.secondary_1
  to   = module.bucket_secondary_1.aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket_replication_configuration.secondary_1
  to   = module.bucket_secondary_1.aws_s3_bucket_replication_configuration.this
}

moved {
  from = aws_s3_bucket.secondary_2
  to   = module.bucket_secondary_2.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.secondary_2
  to   = module.bucket_secondary_2.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.secondary_2
  to   = module.bucket_secondary_2.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_versioning.secondary_2
  to   = module.bucket_secondary_2.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.secondary_2
  to   = module.bucket_secondary_2.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.secondary_2
  to   = module.bucket_secondary_2.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_logging.secondary_2
  to   = module.bucket_secondary_2.aws_s3_bucket_logging.this
}

moved {
  from = aws_s3_bucket_policy.secondary_2
  to   = module.bucket_secondary_2.aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket_replication_configuration.secondary_2
  to   = module.bucket_secondary_2.aws_s3_bucket_replication_configuration.this
}
