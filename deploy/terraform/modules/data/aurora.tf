# Aurora PostgreSQL Global Database: one writer cluster (primary region) and two read-only
# secondaries that forward writes to it (global write forwarding). One writer means no write
# conflicts; the cost is cross-region latency on forwarded writes.

data "aws_caller_identity" "current" {
  provider = aws.primary
}

data "aws_partition" "current" {
  provider = aws.primary
}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  pg_family  = "aurora-postgresql${split(".", var.aurora_engine_version)[0]}"

  db_users = {
    app     = { username = "meridian_app", purpose = "the application (DML on its own schema)" }
    monitor = { username = "meridian_monitor", purpose = "Meridian's database view (pg_monitor)" }
  }
}

# Master password: an ephemeral input written with write-only arguments to the cluster and to
# Secrets Manager, so it is never stored in the Terraform state or the plan.
resource "aws_secretsmanager_secret" "master" {
  provider = aws.primary

  name        = "${var.name}/aurora/master"
  description = "Aurora global database master credentials"
  kms_key_id  = var.regions["primary"].kms_key_arn
  tags        = var.tags

  replica {
    region     = var.regions["secondary_1"].region
    kms_key_id = var.regions["secondary_1"].kms_key_arn
  }

  replica {
    region     = var.regions["secondary_2"].region
    kms_key_id = var.regions["secondary_2"].kms_key_arn
  }
}

resource "aws_secretsmanager_secret_version" "master" {
  provider = aws.primary

  secret_id                = aws_secretsmanager_secret.master.id
  secret_string_wo         = jsonencode({ username = "meridian_admin", password = var.master_password })
  secret_string_wo_version = var.master_password_version
}

# Least-privilege database users, created once by SQL (deploy/README.md, "First deployment"):
#   meridian_app      the application: DML on its schema only
#   meridian_monitor  Meridian's database view: pg_monitor (replication status, no table access)
# Their passwords are ephemeral inputs written write-only, replicated to every region, and injected
# into their own container only.
resource "aws_secretsmanager_secret" "db_user" {
  provider = aws.primary
  for_each = local.db_users

  name        = "${var.name}/aurora/${each.key}"
  description = "Aurora user ${each.value.username}: ${each.value.purpose}"
  kms_key_id  = var.regions["primary"].kms_key_arn
  tags        = var.tags

  replica {
    region     = var.regions["secondary_1"].region
    kms_key_id = var.regions["secondary_1"].kms_key_arn
  }

  replica {
    region     = var.regions["secondary_2"].region
    kms_key_id = var.regions["secondary_2"].kms_key_arn
  }
}

resource "aws_secretsmanager_secret_version" "db_user" {
  provider = aws.primary
  for_each = local.db_users

  secret_id                = aws_secretsmanager_secret.db_user[each.key].id
  secret_string_wo         = jsonencode({ username = each.value.username, password = each.key == "app" ? var.app_password : var.monitor_password })
  secret_string_wo_version = var.db_user_password_version
}

resource "aws_rds_global_cluster" "this" {
  provider = aws.primary

  global_cluster_identifier = "${var.name}-global"
  engine                    = "aurora-postgresql"
  engine_version            = var.aurora_engine_version
  database_name             = "meridian"
  storage_encrypted         = true
  deletion_protection       = var.deletion_protection
}

# === Enhanced monitoring role (IAM is global; one role serves all three regions) ===

data "aws_iam_policy_document" "rds_monitoring_assume" {
  provider = aws.primary

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rds_monitoring" {
  provider = aws.primary

  name               = "${var.name}-rds-monitoring"
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  provider = aws.primary

  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

# === Primary (writer) region ===

resource "aws_db_subnet_group" "primary" {
  provider = aws.primary

  name       = "${var.name}-${var.regions["primary"].region}"
  subnet_ids = var.regions["primary"].subnet_ids
  tags       = var.tags
}

resource "aws_rds_cluster_parameter_group" "primary" {
  provider = aws.primary

  name        = "${var.name}-${var.regions["primary"].region}"
  family      = local.pg_family
  description = "Meridian Aurora PostgreSQL: slow-query and DDL logging"
  tags        = var.tags

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  parameter {
    name  = "log_statement"
    value = "ddl"
  }
}

resource "aws_rds_cluster" "primary" {
  provider = aws.primary

  cluster_identifier        = "${var.name}-${var.regions["primary"].region}"
  global_cluster_identifier = aws_rds_global_cluster.this.id
  engine                    = aws_rds_global_cluster.this.engine
  engine_version            = aws_rds_global_cluster.this.engine_version
  # Takes effect when a switchover or failover makes this cluster a secondary.
  enable_global_write_forwarding      = true
  database_name                       = "meridian"
  master_username                     = "meridian_admin"
  master_password_wo                  = var.master_password
  master_password_wo_version          = var.master_password_version
  db_subnet_group_name                = aws_db_subnet_group.primary.name
  db_cluster_parameter_group_name     = aws_rds_cluster_parameter_group.primary.name
  vpc_security_group_ids              = [var.regions["primary"].db_security_group_id]
  storage_encrypted                   = true
  kms_key_id                          = var.regions["primary"].kms_key_arn
  backup_retention_period             = var.backup_retention_days
  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = ["postgresql"]
  copy_tags_to_snapshot               = true
  deletion_protection                 = var.deletion_protection
  final_snapshot_identifier           = "${var.name}-${var.regions["primary"].region}-final"
  tags                                = var.tags

  lifecycle {
    # A planned switchover (docs/runbook.md) moves the writer role; Terraform must not fight it.
    ignore_changes = [global_cluster_identifier, replication_source_identifier]
  }
}

resource "aws_rds_cluster_instance" "primary" {
  provider = aws.primary
  count    = var.aurora_primary_instances

  identifier                            = "${var.name}-${var.regions["primary"].region}-${count.index}"
  cluster_identifier                    = aws_rds_cluster.primary.id
  engine                                = aws_rds_cluster.primary.engine
  engine_version                        = aws_rds_cluster.primary.engine_version
  instance_class                        = var.aurora_instance_class
  db_subnet_group_name                  = aws_db_subnet_group.primary.name
  auto_minor_version_upgrade            = true
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.regions["primary"].kms_key_arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.rds_monitoring.arn
  tags                                  = var.tags
}
# === Secondary regions: read replicas of the global cluster that forward writes to the writer ===
# Each has aurora_secondary_instances (>= 2) instances, so the one promoted in a failover is
# itself highly available at once (a writer and a reader in two AZs).
# (The two blocks are identical but for the provider: Terraform cannot iterate over providers.)

resource "aws_db_subnet_group" "secondary_1" {
  provider = aws.secondary_1

  name       = "${var.name}-${var.regions["secondary_1"].region}"
  subnet_ids = var.regions["secondary_1"].subnet_ids
  tags       = var.tags
}

resource "aws_rds_cluster_parameter_group" "secondary_1" {
  provider = aws.secondary_1

  name        = "${var.name}-${var.regions["secondary_1"].region}"
  family      = local.pg_family
  description = "Meridian Aurora PostgreSQL: slow-query and DDL logging"
  tags        = var.tags

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  parameter {
    name  = "log_statement"
    value = "ddl"
  }
}

resource "aws_rds_cluster" "secondary_1" {
  provider = aws.secondary_1

  cluster_identifier             = "${var.name}-${var.regions["secondary_1"].region}"
  global_cluster_identifier      = aws_rds_global_cluster.this.id
  engine                         = aws_rds_global_cluster.this.engine
  engine_version                 = aws_rds_global_cluster.this.engine_version
  enable_global_write_forwarding = true
  # An encrypted cross-region secondary is created from the primary's region: the RDS API needs
  # the source region to pre-sign the copy (it refuses the KMS key without it).
  source_region                       = var.regions["primary"].region
  db_subnet_group_name                = aws_db_subnet_group.secondary_1.name
  db_cluster_parameter_group_name     = aws_rds_cluster_parameter_group.secondary_1.name
  vpc_security_group_ids              = [var.regions["secondary_1"].db_security_group_id]
  storage_encrypted                   = true
  kms_key_id                          = var.regions["secondary_1"].kms_key_arn
  backup_retention_period             = var.backup_retention_days
  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = ["postgresql"]
  copy_tags_to_snapshot               = true
  deletion_protection                 = var.deletion_protection
  final_snapshot_identifier           = "${var.name}-${var.regions["secondary_1"].region}-final"
  tags                                = var.tags

  lifecycle {
    ignore_changes = [global_cluster_identifier, replication_source_identifier]
  }

  depends_on = [aws_rds_cluster_instance.primary]
}

resource "aws_rds_cluster_instance" "secondary_1" {
  provider = aws.secondary_1
  count    = var.aurora_secondary_instances

  identifier                            = "${var.name}-${var.regions["secondary_1"].region}-${count.index}"
  cluster_identifier                    = aws_rds_cluster.secondary_1.id
  engine                                = aws_rds_cluster.secondary_1.engine
  engine_version                        = aws_rds_cluster.secondary_1.engine_version
  instance_class                        = var.aurora_instance_class
  db_subnet_group_name                  = aws_db_subnet_group.secondary_1.name
  auto_minor_version_upgrade            = true
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.regions["secondary_1"].kms_key_arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.rds_monitoring.arn
  tags                                  = var.tags
}

resource "aws_db_subnet_group" "secondary_2" {
  provider = aws.secondary_2

  name       = "${var.name}-${var.regions["secondary_2"].region}"
  subnet_ids = var.regions["secondary_2"].subnet_ids
  tags       = var.tags
}

resource "aws_rds_cluster_parameter_group" "secondary_2" {
  provider = aws.secondary_2

  name        = "${var.name}-${var.regions["secondary_2"].region}"
  family      = local.pg_family
  description = "Meridian Aurora PostgreSQL: slow-query and DDL logging"
  tags        = var.tags

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  parameter {
    name  = "log_statement"
    value = "ddl"
  }
}

resource "aws_rds_cluster" "secondary_2" {
  provider = aws.secondary_2

  cluster_identifier             = "${var.name}-${var.regions["secondary_2"].region}"
  global_cluster_identifier      = aws_rds_global_cluster.this.id
  engine                         = aws_rds_global_cluster.this.engine
  engine_version                 = aws_rds_global_cluster.this.engine_version
  enable_global_write_forwarding = true
  # An encrypted cross-region secondary is created from the primary's region: the RDS API needs
  # the source region to pre-sign the copy (it refuses the KMS key without it).
  source_region                       = var.regions["primary"].region
  db_subnet_group_name                = aws_db_subnet_group.secondary_2.name
  db_cluster_parameter_group_name     = aws_rds_cluster_parameter_group.secondary_2.name
  vpc_security_group_ids              = [var.regions["secondary_2"].db_security_group_id]
  storage_encrypted                   = true
  kms_key_id                          = var.regions["secondary_2"].kms_key_arn
  backup_retention_period             = var.backup_retention_days
  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = ["postgresql"]
  copy_tags_to_snapshot               = true
  deletion_protection                 = var.deletion_protection
  final_snapshot_identifier           = "${var.name}-${var.regions["secondary_2"].region}-final"
  tags                                = var.tags

  lifecycle {
    ignore_changes = [global_cluster_identifier, replication_source_identifier]
  }

  depends_on = [aws_rds_cluster_instance.primary]
}

resource "aws_rds_cluster_instance" "secondary_2" {
  provider = aws.secondary_2
  count    = var.aurora_secondary_instances

  identifier                            = "${var.name}-${var.regions["secondary_2"].region}-${count.index}"
  cluster_identifier                    = aws_rds_cluster.secondary_2.id
  engine                                = aws_rds_cluster.secondary_2.engine
  engine_version                        = aws_rds_cluster.secondary_2.engine_version
  instance_class                        = var.aurora_instance_class
  db_subnet_group_name                  = aws_db_subnet_group.secondary_2.name
  auto_minor_version_upgrade            = true
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.regions["secondary_2"].kms_key_arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.rds_monitoring.arn
  tags                                  = var.tags
}
