# Global entry: CloudFront (with an origin group) -> Route 53 latency record origin.<domain> ->
# the nearest healthy regional ALB. Also the per-region ingress names, and the private zones
# that make ingress.<region>.<domain> resolve to the internal ALB inside the peered VPCs.

locals {
  public_hostname = var.public_hostname != "" ? var.public_hostname : "api.${var.domain}"
  origin_hostname = "origin.${var.domain}"
  # CloudFront's fixed second origin: a failover record, so evacuating that region (an ARC routing
  # control set off) moves it to the next region without touching CloudFront.
  fallback_hostname = "fallback.${var.domain}"
  ingress_host      = { for r, _ in var.regions : r => "ingress.${r}.${var.domain}" }
}

# === Health checks: one per region, on Meridian's readiness through the public ALB ===

resource "aws_route53_health_check" "region" {
  for_each = var.regions

  type              = "HTTPS"
  fqdn              = local.ingress_host[each.key]
  port              = 443
  enable_sni        = true
  resource_path     = "/.meridian/readyz"
  request_interval  = var.health_check_interval
  failure_threshold = var.health_check_failure_threshold
  measure_latency   = true
  reference_name    = substr("${var.name}-${each.key}", 0, 28)
  tags              = merge(var.tags, { Name = "${var.name}-${each.key}-readyz" })
}

# === Traffic switches: Route 53 ARC routing controls (data plane in five regions) ===
# A region serves only while BOTH its readiness check passes AND its routing control is on. The
# routing control is flipped through ARC's cluster data plane (any of five regional endpoints),
# never through the Route 53 control plane in us-east-1 (docs/runbook.md).

resource "aws_route53_health_check" "switch" {
  for_each = var.routing_control_arns

  type                = "RECOVERY_CONTROL"
  routing_control_arn = each.value
  tags                = merge(var.tags, { Name = "${var.name}-${each.key}-switch" })
}

resource "aws_route53_health_check" "serving" {
  for_each = length(var.routing_control_arns) > 0 ? var.regions : {}

  type                   = "CALCULATED"
  child_health_threshold = 2
  child_healthchecks     = [aws_route53_health_check.region[each.key].id, aws_route53_health_check.switch[each.key].id]
  reference_name         = substr("${var.name}-${each.key}-on", 0, 27)
  tags                   = merge(var.tags, { Name = "${var.name}-${each.key}-serving" })
}

locals {
  # The check a region's answers are tied to: readiness AND switch when ARC is configured.
  serving_check = {
    for r, _ in var.regions : r => length(var.routing_control_arns) > 0 ? aws_route53_health_check.serving[r].id : aws_route53_health_check.region[r].id
  }
}

# === Public records ===

# ingress.<region>.<domain>: one region, no routing policy (health checks and operators use it).
resource "aws_route53_record" "ingress" {
  for_each = var.regions

  zone_id = var.zone_id
  name    = local.ingress_host[each.key]
  type    = "A"

  alias {
    name                   = each.value.alb_dns_name
    zone_id                = each.value.alb_zone_id
    evaluate_target_health = true
  }
}

# origin.<domain>: latency-based, each answer tied to its region's health check. Alias records
# carry the ALB's own 60 s TTL; unhealthy answers are withdrawn as soon as the check flips.
resource "aws_route53_record" "origin" {
  for_each = var.regions

  zone_id         = var.zone_id
  name            = local.origin_hostname
  type            = "A"
  set_identifier  = each.key
  health_check_id = local.serving_check[each.key]

  latency_routing_policy {
    region = each.key
  }

  alias {
    name                   = each.value.alb_dns_name
    zone_id                = each.value.alb_zone_id
    evaluate_target_health = true
  }
}

# fallback.<domain>: CloudFront's secondary origin for reads. PRIMARY is the configured second
# region, SECONDARY the next one; each answer is tied to its region's serving check.
resource "aws_route53_record" "fallback" {
  for_each = { for i, r in var.fallback_origin_regions : r => i == 0 ? "PRIMARY" : "SECONDARY" }

  zone_id         = var.zone_id
  name            = local.fallback_hostname
  type            = "A"
  set_identifier  = "${each.value}-${each.key}"
  health_check_id = local.serving_check[each.key]

  failover_routing_policy {
    type = each.value
  }

  alias {
    name                   = var.regions[each.key].alb_dns_name
    zone_id                = var.regions[each.key].alb_zone_id
    evaluate_target_health = true
  }
}

resource "aws_route53_record" "public" {
  for_each = toset(["A", "AAAA"])

  zone_id = var.zone_id
  name    = local.public_hostname
  type    = each.key

  alias {
    name                   = aws_cloudfront_distribution.this.domain_name
    zone_id                = aws_cloudfront_distribution.this.hosted_zone_id
    evaluate_target_health = false
  }
}

# === Private zones: inside the peered VPCs, ingress.<region>.<domain> is the internal ALB ===

resource "aws_route53_zone" "ingress_private" {
  for_each = var.regions

  name    = local.ingress_host[each.key]
  comment = "Sibling traffic to ${each.key} stays on VPC peering"
  tags    = var.tags

  dynamic "vpc" {
    for_each = var.regions
    content {
      vpc_id     = vpc.value.vpc_id
      vpc_region = vpc.key
    }
  }
}

resource "aws_route53_record" "ingress_private" {
  for_each = var.regions

  zone_id = aws_route53_zone.ingress_private[each.key].zone_id
  name    = local.ingress_host[each.key]
  type    = "A"

  alias {
    name                   = each.value.internal_alb_dns_name
    zone_id                = each.value.internal_alb_zone_id
    evaluate_target_health = true
  }
}
