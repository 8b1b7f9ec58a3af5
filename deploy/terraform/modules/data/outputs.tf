output "global_cluster_id" {
  description = "Identifier of the Aurora global cluster."
  value       = aws_rds_global_cluster.this.id
}

output "global_writer_endpoint" {
  description = "Aurora global writer endpoint: always resolves to the current writer, also after a switchover or failover."
  value       = aws_rds_global_cluster.this.endpoint
}

output "aurora_engine_version" {
  description = "Aurora PostgreSQL engine version of the global cluster."
  value       = aws_rds_global_cluster.this.engine_version
}

output "aurora_storage_encrypted" {
  description = "Whether every Aurora cluster encrypts storage with KMS, keyed primary/secondary_1/secondary_2."
  value = {
    primary     = aws_rds_cluster.primary.storage_encrypted
    secondary_1 = aws_rds_cluster.secondary_1.storage_encrypted
    secondary_2 = aws_rds_cluster.secondary_2.storage_encrypted
  }
}

output "aurora_cluster_ids" {
  description = "Aurora cluster identifiers keyed by region name."
  value = {
    (var.regions["primary"].region)     = aws_rds_cluster.primary.cluster_identifier
    (var.regions["secondary_1"].region) = aws_rds_cluster.secondary_1.cluster_identifier
    (var.regions["secondary_2"].region) = aws_rds_cluster.secondary_2.cluster_identifier
  }
}

output "aurora_cluster_endpoints" {
  description = "Aurora cluster (writer) endpoints keyed by region name; only the current writer's accepts writes."
  value = {
    (var.regions["primary"].region)     = aws_rds_cluster.primary.endpoint
    (var.regions["secondary_1"].region) = aws_rds_cluster.secondary_1.endpoint
    (var.regions["secondary_2"].region) = aws_rds_cluster.secondary_2.endpoint
  }
}

output "aurora_reader_endpoints" {
  description = "Aurora reader endpoints keyed by region name; in a secondary, writes sent here are forwarded to the writer."
  value = {
    (var.regions["primary"].region)     = aws_rds_cluster.primary.reader_endpoint
    (var.regions["secondary_1"].region) = aws_rds_cluster.secondary_1.reader_endpoint
    (var.regions["secondary_2"].region) = aws_rds_cluster.secondary_2.reader_endpoint
  }
}

output "write_forwarding" {
  description = "enable_global_write_forwarding on every cluster (each can become a secondary), keyed by region name."
  value = {
    (var.regions["primary"].region)     = aws_rds_cluster.primary.enable_global_write_forwarding
    (var.regions["secondary_1"].region) = aws_rds_cluster.secondary_1.enable_global_write_forwarding
    (var.regions["secondary_2"].region) = aws_rds_cluster.secondary_2.enable_global_write_forwarding
  }
}

output "aurora_clusters" {
  description = "API-relevant facts of each Aurora cluster keyed by region: global member, encrypted with a KMS key, source_region (needed by encrypted cross-region secondaries), secondary or not, instance count."
  value = {
    (var.regions["primary"].region) = {
      global_member = aws_rds_cluster.primary.global_cluster_identifier != null
      kms_encrypted = aws_rds_cluster.primary.kms_key_id != null
      source_region = aws_rds_cluster.primary.source_region != null ? aws_rds_cluster.primary.source_region : ""
      secondary     = false
      instances     = length(aws_rds_cluster_instance.primary)
    }
    (var.regions["secondary_1"].region) = {
      global_member = aws_rds_cluster.secondary_1.global_cluster_identifier != null
      kms_encrypted = aws_rds_cluster.secondary_1.kms_key_id != null
      source_region = aws_rds_cluster.secondary_1.source_region != null ? aws_rds_cluster.secondary_1.source_region : ""
      secondary     = true
      instances     = length(aws_rds_cluster_instance.secondary_1)
    }
    (var.regions["secondary_2"].region) = {
      global_member = aws_rds_cluster.secondary_2.global_cluster_identifier != null
      kms_encrypted = aws_rds_cluster.secondary_2.kms_key_id != null
      source_region = aws_rds_cluster.secondary_2.source_region != null ? aws_rds_cluster.secondary_2.source_region : ""
      secondary     = true
      instances     = length(aws_rds_cluster_instance.secondary_2)
    }
  }
}

output "db_user_secret_arns" {
  description = "Secrets Manager ARNs (primary region; replicas share the name in every region) of the app and monitor database users, keyed app/monitor."
  value       = { for k, sct in aws_secretsmanager_secret.db_user : k => sct.arn }
}

output "cache_replication_group_ids" {
  description = "ElastiCache replication group ID per region."
  value = {
    (var.regions["primary"].region)     = aws_elasticache_replication_group.primary.replication_group_id
    (var.regions["secondary_1"].region) = aws_elasticache_replication_group.secondary_1.replication_group_id
    (var.regions["secondary_2"].region) = aws_elasticache_replication_group.secondary_2.replication_group_id
  }
}

output "master_secret_arn" {
  description = "ARN of the Secrets Manager secret with the Aurora master credentials (replicated to the secondaries)."
  value       = aws_secretsmanager_secret.master.arn
}

output "cache_global_replication_group_id" {
  description = "ID of the ElastiCache Global Datastore."
  value       = aws_elasticache_global_replication_group.this.global_replication_group_id
}

output "cache_endpoints" {
  description = "ElastiCache primary endpoint per region (secondaries' are read-only until promoted), keyed by region name."
  value = {
    (var.regions["primary"].region)     = aws_elasticache_replication_group.primary.primary_endpoint_address
    (var.regions["secondary_1"].region) = aws_elasticache_replication_group.secondary_1.primary_endpoint_address
    (var.regions["secondary_2"].region) = aws_elasticache_replication_group.secondary_2.primary_endpoint_address
  }
}

output "bucket_names" {
  description = "Data bucket names keyed by region name."
  value       = { for k in local.keys : var.regions[k].region => var.regions[k].bucket_name }
}

output "replication_rules" {
  description = "Every S3 replication rule: source region, rule ID, destination, RTC status and minutes, metrics status."
  value = flatten([
    for k, cfg in {
      primary     = module.bucket_primary.replication_rules
      secondary_1 = module.bucket_secondary_1.replication_rules
      secondary_2 = module.bucket_secondary_2.replication_rules
      } : [
      for r in cfg : {
        source_region   = var.regions[k].region
        id              = r.id
        destination     = r.destination[0].bucket
        rtc_status      = r.destination[0].replication_time[0].status
        rtc_minutes     = r.destination[0].replication_time[0].time[0].minutes
        metrics_status  = r.destination[0].metrics[0].status
        metrics_minutes = r.destination[0].metrics[0].event_threshold[0].minutes
      }
    ]
  ])
}
