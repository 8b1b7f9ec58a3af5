# Two ALBs in front of the same tasks:
# - public: CloudFront and Route 53 health checks reach the region through it, and nothing else
#   (security groups: CloudFront's origin-facing prefix list and the Route 53 health checkers'
#   prefix list only; listener: CloudFront's secret origin-verify header, or the readiness path);
# - internal: sibling regions' Meridian reach this region through it over VPC peering (the tasks
#   have no internet route, so they could not reach the public one).
# Both health-check Meridian's readiness path on the main port, so a draining or app-less Meridian
# leaves rotation.

locals {
  albs = {
    public   = { internal = false, subnets = aws_subnet.public[*].id, sgs = [aws_security_group.alb.id, aws_security_group.alb_healthcheckers.id] }
    internal = { internal = true, subnets = aws_subnet.private[*].id, sgs = [aws_security_group.internal_alb.id] }
  }
}

# Log bucket of the region: ALB access logs and S3 server access logs of the data bucket.
resource "aws_s3_bucket" "alb_logs" {
  bucket        = "${local.prefix}-alb-logs-${local.account_id}"
  force_destroy = false
  tags          = local.tags
}

resource "aws_s3_bucket_public_access_block" "alb_logs" {
  bucket                  = aws_s3_bucket.alb_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

# ALB access logs support SSE-S3 only (not SSE-KMS).
resource "aws_s3_bucket_server_side_encryption_configuration" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id
  rule {
    id     = "expire"
    status = "Enabled"
    filter {}
    expiration {
      days = 90
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_elb_service_account" "this" {}

data "aws_iam_policy_document" "alb_logs" {
  statement {
    sid       = "ElbWritesAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.alb_logs.arn}/AWSLogs/${local.account_id}/*"]
    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.this.arn]
    }
  }

  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.alb_logs.arn}/s3-access/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.alb_logs.arn, "${aws_s3_bucket.alb_logs.arn}/*"]
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

resource "aws_s3_bucket_policy" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id
  policy = data.aws_iam_policy_document.alb_logs.json
}

resource "aws_lb" "this" {
  for_each = local.albs

  name                       = substr("${var.name}-${each.key}-${var.region}", 0, 32)
  load_balancer_type         = "application"
  internal                   = each.value.internal
  subnets                    = each.value.subnets
  security_groups            = each.value.sgs
  drop_invalid_header_fields = true
  enable_deletion_protection = var.alb_deletion_protection
  # Meridian's own header_read timeout is 10 s; the ALB idle timeout must exceed Meridian's
  # per-request deadline (10 s) so the ALB never cuts a request Meridian is still failing over.
  idle_timeout = 60
  tags         = local.tags

  access_logs {
    bucket  = aws_s3_bucket.alb_logs.id
    prefix  = each.key
    enabled = true
  }

  depends_on = [aws_s3_bucket_policy.alb_logs]
}

resource "aws_lb_target_group" "this" {
  for_each = local.albs

  name        = substr("${var.name}-${each.key}-${var.region}", 0, 32)
  port        = 8080
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = aws_vpc.this.id

  # Drain arithmetic (see docs/architecture.md): ECS deregisters the task, waits this long, then
  # sends SIGTERM. 20 s > timeouts.request (10 s), so every request the ALB already sent finishes.
  deregistration_delay = var.deregistration_delay

  health_check {
    enabled             = true
    path                = "/.meridian/readyz"
    port                = "traffic-port"
    protocol            = "HTTP"
    matcher             = "200"
    interval            = 5
    timeout             = 2
    healthy_threshold   = 2
    unhealthy_threshold = 2 # 2 x 5 s = 10 s to leave rotation, inside Meridian's 15 s drain
  }

  tags = local.tags
}

# Public listener: only requests that carry CloudFront's origin-verify header (and Route 53's
# readiness checks, which cannot send headers) reach Meridian; anything else that got past the
# security groups is answered 403 by the ALB itself.
resource "aws_lb_listener" "public" {
  load_balancer_arn = aws_lb.this["public"].arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "text/plain"
      message_body = "forbidden: use the public hostname"
      status_code  = "403"
    }
  }

  tags = local.tags
}

resource "aws_lb_listener_rule" "from_cloudfront" {
  listener_arn = aws_lb_listener.public.arn
  priority     = 10

  condition {
    http_header {
      http_header_name = var.origin_verify_header
      # Several values during a rotation (docs/runbook.md); at most five per rule.
      values = var.origin_verify_secrets
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this["public"].arn
  }

  tags = local.tags
}

# Route 53 health checkers cannot add a header: they may read the readiness path, nothing else.
resource "aws_lb_listener_rule" "route53_readiness" {
  listener_arn = aws_lb_listener.public.arn
  priority     = 20

  condition {
    path_pattern {
      values = ["/.meridian/readyz"]
    }
  }

  condition {
    http_request_method {
      values = ["GET"]
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this["public"].arn
  }

  tags = local.tags
}

# Internal listener: sibling regions' Meridian over VPC peering (the security group admits only
# the sibling VPC ranges).
resource "aws_lb_listener" "internal" {
  load_balancer_arn = aws_lb.this["internal"].arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this["internal"].arn
  }

  tags = local.tags
}
