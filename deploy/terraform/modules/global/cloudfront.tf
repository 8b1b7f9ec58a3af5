# CloudFront in front of the regions, with a read path and a write path. Read-only paths go through
# an origin group that fails over from the latency record to a fixed second region on
# 500/502/503/504 or a connect failure; AWS allows only GET, HEAD and OPTIONS on a behaviour that
# targets an origin group. Everything else (writes included) goes to the latency record directly.

data "aws_cloudfront_cache_policy" "disabled" {
  name = "Managed-CachingDisabled"
}

data "aws_cloudfront_origin_request_policy" "all_viewer_except_host" {
  name = "Managed-AllViewerExceptHostHeader"
}

data "aws_cloudfront_response_headers_policy" "security" {
  name = "Managed-SecurityHeadersPolicy"
}

locals {
  # Settings shared by every origin. origin_read_timeout covers Meridian's whole request deadline
  # (10 s); 60 s is the most CloudFront allows without a quota increase.
  origin_settings = {
    http_port                = 80
    https_port               = 443
    origin_protocol_policy   = "https-only"
    origin_ssl_protocols     = ["TLSv1.2"]
    origin_read_timeout      = 15
    origin_keepalive_timeout = 5
  }

  # The two ways into the platform (docs/architecture.md, "Reads and writes at the edge"):
  #   read-latency  primary of the "reads" origin group: one connect attempt of 3 s, then the group
  #                 moves on to the secondary (fail over in seconds, not the default 3 x 10 s);
  #   read-fixed    secondary of the group: fallback.<domain>, a Route 53 failover record (a fixed
  #                 second region, then a third when the second is not serving);
  #   write-latency the write path, NOT in an origin group (AWS refuses POST/PUT/PATCH/DELETE on a
  #                 behaviour that targets one). Two connect attempts: a refused connect sent
  #                 nothing, so CloudFront may retry it; what reached Meridian is never replayed by
  #                 CloudFront. Route 53 moves it off a lost region; any region's Meridian forwards
  #                 a write to the database writer's region.
  origins = {
    read-latency  = { domain = local.origin_hostname, attempts = 1, timeout = 3 }
    read-fixed    = { domain = local.fallback_hostname, attempts = 1, timeout = 3 }
    write-latency = { domain = local.origin_hostname, attempts = 2, timeout = 3 }
  }

  read_methods     = ["GET", "HEAD", "OPTIONS"]
  all_methods      = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
  read_origin_id   = "reads"
  write_origin_id  = "write-latency"
  origin_group_ids = [local.read_origin_id]
}

resource "aws_cloudfront_distribution" "this" {
  enabled         = true
  comment         = "${var.name}: multi-region ingress"
  aliases         = [local.public_hostname]
  is_ipv6_enabled = true
  http_version    = "http2and3"
  price_class     = "PriceClass_All"
  web_acl_id      = aws_wafv2_web_acl.cloudfront.arn
  tags            = var.tags

  dynamic "origin" {
    for_each = local.origins
    content {
      origin_id           = origin.key
      domain_name         = origin.value.domain
      connection_attempts = origin.value.attempts
      connection_timeout  = origin.value.timeout

      # The regional ALBs forward only requests that carry this header (CloudFront replaces a
      # viewer's header of the same name, so a client cannot forge it).
      custom_header {
        name  = var.origin_verify_header
        value = var.origin_verify_secret
      }

      custom_origin_config {
        http_port                = local.origin_settings.http_port
        https_port               = local.origin_settings.https_port
        origin_protocol_policy   = local.origin_settings.origin_protocol_policy
        origin_ssl_protocols     = local.origin_settings.origin_ssl_protocols
        origin_read_timeout      = local.origin_settings.origin_read_timeout
        origin_keepalive_timeout = local.origin_settings.origin_keepalive_timeout
      }
    }
  }

  origin_group {
    origin_id = local.read_origin_id

    failover_criteria {
      status_codes = [500, 502, 503, 504]
    }

    member {
      origin_id = "read-latency"
    }

    member {
      origin_id = "read-fixed"
    }
  }

  # Everything not listed as a read path: every method, to the latency record (no origin group).
  default_cache_behavior {
    target_origin_id           = local.write_origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = local.all_methods
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = data.aws_cloudfront_cache_policy.disabled.id
    origin_request_policy_id   = data.aws_cloudfront_origin_request_policy.all_viewer_except_host.id
    response_headers_policy_id = data.aws_cloudfront_response_headers_policy.security.id
  }

  # Read-only paths: GET/HEAD/OPTIONS through the origin group, so a region that fails to connect
  # or answers 5xx is replaced by the fixed second region within the same request. Any other
  # method on these paths is refused by CloudFront (403): the API keeps writes off them.
  dynamic "ordered_cache_behavior" {
    for_each = var.read_path_patterns
    content {
      path_pattern               = ordered_cache_behavior.value
      target_origin_id           = local.read_origin_id
      viewer_protocol_policy     = "redirect-to-https"
      allowed_methods            = local.read_methods
      cached_methods             = ["GET", "HEAD"]
      compress                   = true
      cache_policy_id            = data.aws_cloudfront_cache_policy.disabled.id
      origin_request_policy_id   = data.aws_cloudfront_origin_request_policy.all_viewer_except_host.id
      response_headers_policy_id = data.aws_cloudfront_response_headers_policy.security.id
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    acm_certificate_arn      = var.cloudfront_certificate_arn
    ssl_support_method       = "sni-only"
    minimum_protocol_version = "TLSv1.2_2021"
  }

  logging_config {
    bucket          = aws_s3_bucket.cloudfront_logs.bucket_domain_name
    prefix          = "cloudfront/"
    include_cookies = false
  }
}

# === WAF on CloudFront: AWS managed baseline, known bad inputs (Log4Shell etc.), per-IP rate limit ===

resource "aws_wafv2_web_acl" "cloudfront" {
  name        = "${var.name}-cloudfront"
  description = "Meridian edge protection"
  scope       = "CLOUDFRONT"
  tags        = var.tags

  default_action {
    allow {}
  }

  rule {
    name     = "aws-common"
    priority = 10
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesCommonRuleSet"
        vendor_name = "AWS"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-aws-common"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "aws-known-bad-inputs"
    priority = 20
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
        vendor_name = "AWS"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-aws-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  # Counted, not blocked: API clients often call from cloud-hosting ranges this list contains.
  # Watch the counts; switch to `none {}` to block once they are understood.
  rule {
    name     = "aws-anonymous-ip"
    priority = 25
    override_action {
      count {}
    }
    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesAnonymousIpList"
        vendor_name = "AWS"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-aws-anonymous-ip"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "per-ip-rate"
    priority = 30
    action {
      block {}
    }
    statement {
      rate_based_statement {
        limit              = var.waf_rate_limit
        aggregate_key_type = "IP"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-per-ip-rate"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name}-cloudfront"
    sampled_requests_enabled   = true
  }
}

resource "aws_cloudwatch_log_group" "waf" {
  # WAF requires the aws-waf-logs- prefix.
  name              = "aws-waf-logs-${var.name}-cloudfront"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_wafv2_web_acl_logging_configuration" "cloudfront" {
  resource_arn            = aws_wafv2_web_acl.cloudfront.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]
}

# === CloudFront standard logs (the legacy log format needs ACL-capable ownership) ===

data "aws_caller_identity" "current" {}

resource "aws_s3_bucket" "cloudfront_logs" {
  bucket = "${var.name}-cloudfront-logs-${data.aws_caller_identity.current.account_id}"
  tags   = var.tags
}

resource "aws_s3_bucket_ownership_controls" "cloudfront_logs" {
  bucket = aws_s3_bucket.cloudfront_logs.id
  rule {
    object_ownership = "BucketOwnerPreferred"
  }
}

resource "aws_s3_bucket_public_access_block" "cloudfront_logs" {
  bucket                  = aws_s3_bucket.cloudfront_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "cloudfront_logs" {
  bucket = aws_s3_bucket.cloudfront_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "cloudfront_logs" {
  bucket = aws_s3_bucket.cloudfront_logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "cloudfront_logs" {
  bucket = aws_s3_bucket.cloudfront_logs.id
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
