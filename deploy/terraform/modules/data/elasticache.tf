# ElastiCache (Redis) Global Datastore: the primary replication group takes writes; secondaries in
# the other regions replicate asynchronously (typically < 1 s) and serve local reads. The cache is
# last-writer-wins: it holds nothing that is not also in Aurora or recomputable.

resource "aws_elasticache_subnet_group" "primary" {
  provider = aws.primary

  name       = "${var.name}-${var.regions["primary"].region}"
  subnet_ids = var.regions["primary"].subnet_ids
  tags       = var.tags
}

resource "aws_elasticache_replication_group" "primary" {
  provider = aws.primary

  replication_group_id       = "${var.name}-${var.regions["primary"].region}"
  description                = "Meridian cache, Global Datastore primary"
  engine                     = "redis"
  engine_version             = var.cache_engine_version
  node_type                  = var.cache_node_type
  num_cache_clusters         = 2
  port                       = 6379
  automatic_failover_enabled = true
  multi_az_enabled           = true
  at_rest_encryption_enabled = true
  kms_key_id                 = var.regions["primary"].kms_key_arn
  transit_encryption_enabled = true
  auto_minor_version_upgrade = true
  snapshot_retention_limit   = 7
  subnet_group_name          = aws_elasticache_subnet_group.primary.name
  security_group_ids         = [var.regions["primary"].cache_security_group_id]
  tags                       = var.tags
}

resource "aws_elasticache_global_replication_group" "this" {
  provider = aws.primary

  global_replication_group_id_suffix   = var.name
  primary_replication_group_id         = aws_elasticache_replication_group.primary.replication_group_id
  global_replication_group_description = "Meridian cache across regions"
}

resource "aws_elasticache_subnet_group" "secondary_1" {
  provider = aws.secondary_1

  name       = "${var.name}-${var.regions["secondary_1"].region}"
  subnet_ids = var.regions["secondary_1"].subnet_ids
  tags       = var.tags
}

# Engine, version, node type and encryption settings come from the global datastore
# (the provider rejects them here); kms_key_id picks this region's key for data at rest.
resource "aws_elasticache_replication_group" "secondary_1" {
  provider = aws.secondary_1

  replication_group_id        = "${var.name}-${var.regions["secondary_1"].region}"
  description                 = "Meridian cache, Global Datastore secondary"
  global_replication_group_id = aws_elasticache_global_replication_group.this.global_replication_group_id
  num_cache_clusters          = 2
  automatic_failover_enabled  = true
  multi_az_enabled            = true
  kms_key_id                  = var.regions["secondary_1"].kms_key_arn
  auto_minor_version_upgrade  = true
  snapshot_retention_limit    = 7
  subnet_group_name           = aws_elasticache_subnet_group.secondary_1.name
  security_group_ids          = [var.regions["secondary_1"].cache_security_group_id]
  tags                        = var.tags
}

resource "aws_elasticache_subnet_group" "secondary_2" {
  provider = aws.secondary_2

  name       = "${var.name}-${var.regions["secondary_2"].region}"
  subnet_ids = var.regions["secondary_2"].subnet_ids
  tags       = var.tags
}

# Engine, version, node type and encryption settings come from the global datastore
# (the provider rejects them here); kms_key_id picks this region's key for data at rest.
resource "aws_elasticache_replication_group" "secondary_2" {
  provider = aws.secondary_2

  replication_group_id        = "${var.name}-${var.regions["secondary_2"].region}"
  description                 = "Meridian cache, Global Datastore secondary"
  global_replication_group_id = aws_elasticache_global_replication_group.this.global_replication_group_id
  num_cache_clusters          = 2
  automatic_failover_enabled  = true
  multi_az_enabled            = true
  kms_key_id                  = var.regions["secondary_2"].kms_key_arn
  auto_minor_version_upgrade  = true
  snapshot_retention_limit    = 7
  subnet_group_name           = aws_elasticache_subnet_group.secondary_2.name
  security_group_ids          = [var.regions["secondary_2"].cache_security_group_id]
  tags                        = var.tags
}
