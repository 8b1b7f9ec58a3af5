output "arn" {
  description = "ARN of the bucket."
  value       = aws_s3_bucket.this.arn
}

output "versioning_id" {
  description = "ID of the bucket's versioning configuration (for other buckets' replicate_after)."
  value       = aws_s3_bucket_versioning.this.id
}

output "replication_rules" {
  description = "The bucket's replication rules as applied (rule blocks of aws_s3_bucket_replication_configuration)."
  value       = aws_s3_bucket_replication_configuration.this.rule
}
