# Security groups: each allows only the flows the request path needs.
#   CloudFront, Route 53 health checkers --443--> public ALB --8080--> tasks
#   sibling VPCs --443--> internal ALB --8080--> tasks
#   tasks --443--> VPC endpoints, S3 (gateway), sibling internal ALBs
#   tasks --5432--> Aurora (local; secondaries forward writes), --6379--> ElastiCache (local reads,
#   primary member for writes, possibly in a sibling region)

resource "aws_security_group" "alb" {
  name        = "${local.prefix}-alb"
  description = "Public ALB: HTTPS from CloudFront origin-facing servers only"
  vpc_id      = aws_vpc.this.id
  tags        = local.tags
}

# CloudFront's origin-facing servers only. AWS counts this managed prefix list as 55 rules
# against the security group's rule quota (60 by default), so the group holds nothing else.
data "aws_ec2_managed_prefix_list" "cloudfront" {
  name = "com.amazonaws.global.cloudfront.origin-facing"
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from CloudFront origin-facing servers only"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = data.aws_ec2_managed_prefix_list.cloudfront.id
}

# Route 53 health checkers, in a second group (the first is full with CloudFront's list).
data "aws_ec2_managed_prefix_list" "route53_healthchecks" {
  name = "com.amazonaws.${var.region}.route53-healthchecks"
}

resource "aws_security_group" "alb_healthcheckers" {
  name        = "${local.prefix}-alb-healthcheckers"
  description = "Public ALB: HTTPS from Route 53 health checkers only"
  vpc_id      = aws_vpc.this.id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb_route53" {
  security_group_id = aws_security_group.alb_healthcheckers.id
  description       = "HTTPS from Route 53 health checkers (readiness path only, by listener rule)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = data.aws_ec2_managed_prefix_list.route53_healthchecks.id
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To Meridian's main listener"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
  referenced_security_group_id = aws_security_group.tasks.id
}

resource "aws_security_group" "internal_alb" {
  name        = "${local.prefix}-internal-alb"
  description = "Internal ALB: HTTPS from sibling regions' Meridian over VPC peering"
  vpc_id      = aws_vpc.this.id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "internal_alb_siblings" {
  security_group_id = aws_security_group.internal_alb.id
  description       = "HTTPS from sibling VPCs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = aws_ec2_managed_prefix_list.siblings.id
}

resource "aws_vpc_security_group_egress_rule" "internal_alb_to_tasks" {
  security_group_id            = aws_security_group.internal_alb.id
  description                  = "To Meridian's main listener"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
  referenced_security_group_id = aws_security_group.tasks.id
}

resource "aws_security_group" "tasks" {
  name        = "${local.prefix}-tasks"
  description = "Meridian tasks: 8080 from the ALBs only"
  vpc_id      = aws_vpc.this.id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_alb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Client traffic and readiness checks from the public ALB"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_internal_alb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Failover traffic from sibling regions via the internal ALB"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
  referenced_security_group_id = aws_security_group.internal_alb.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_endpoints" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "AWS APIs through interface endpoints"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.endpoints.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_s3" {
  security_group_id = aws_security_group.tasks.id
  description       = "S3 (ECR image layers, data bucket) through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = aws_vpc_endpoint.s3.prefix_list_id
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_siblings" {
  security_group_id = aws_security_group.tasks.id
  description       = "Meridian failover to sibling regions' internal ALBs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = aws_ec2_managed_prefix_list.siblings.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_db" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "PostgreSQL (Aurora)"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.db.id
}

# Meridian's database view (issue 16) watches every region's database, and apps in any region
# write through the Aurora global writer endpoint, which can be in a sibling region.
resource "aws_vpc_security_group_egress_rule" "tasks_to_sibling_db" {
  security_group_id = aws_security_group.tasks.id
  description       = "PostgreSQL to sibling regions' Aurora (database view, global writer endpoint)"
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
  prefix_list_id    = aws_ec2_managed_prefix_list.siblings.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_cache" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Redis (ElastiCache)"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = aws_security_group.cache.id
}

# Global Datastore secondaries are read-only: cache writes from this region go to the primary
# member in the writer region, over peering.
resource "aws_vpc_security_group_egress_rule" "tasks_to_sibling_cache" {
  security_group_id = aws_security_group.tasks.id
  description       = "Redis writes to the Global Datastore primary in a sibling region"
  ip_protocol       = "tcp"
  from_port         = 6379
  to_port           = 6379
  prefix_list_id    = aws_ec2_managed_prefix_list.siblings.id
}

# The data tier's groups live here so the task group can name them; the data module attaches them.
resource "aws_security_group" "db" {
  name        = "${local.prefix}-db"
  description = "Aurora PostgreSQL: 5432 from tasks only"
  vpc_id      = aws_vpc.this.id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "db_from_tasks" {
  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from tasks"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.tasks.id
}

resource "aws_vpc_security_group_ingress_rule" "db_from_siblings" {
  security_group_id = aws_security_group.db.id
  description       = "PostgreSQL from sibling regions' tasks (this cluster may hold the global writer)"
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
  prefix_list_id    = aws_ec2_managed_prefix_list.siblings.id
}

resource "aws_vpc_security_group_ingress_rule" "cache_from_siblings" {
  security_group_id = aws_security_group.cache.id
  description       = "Redis writes from sibling regions' tasks (this member may be the Global Datastore primary)"
  ip_protocol       = "tcp"
  from_port         = 6379
  to_port           = 6379
  prefix_list_id    = aws_ec2_managed_prefix_list.siblings.id
}

resource "aws_security_group" "cache" {
  name        = "${local.prefix}-cache"
  description = "ElastiCache Redis: 6379 from tasks only"
  vpc_id      = aws_vpc.this.id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "cache_from_tasks" {
  security_group_id            = aws_security_group.cache.id
  description                  = "Redis from tasks"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = aws_security_group.tasks.id
}
