# Route 53 Application Recovery Controller: one routing control per region, the traffic switch that
# evacuation and the database failover automation flip. Its configuration API lives in us-west-2
# (pass a us-west-2 provider); its data plane is a cluster of five regional endpoints, so flipping
# a switch depends on neither us-west-2 nor us-east-1. Route 53 health checks of type
# RECOVERY_CONTROL (modules/global) turn the switch into DNS answers.

resource "aws_route53recoverycontrolconfig_cluster" "this" {
  name = var.name
}

resource "aws_route53recoverycontrolconfig_control_panel" "this" {
  name        = "${var.name}-regions"
  cluster_arn = aws_route53recoverycontrolconfig_cluster.this.arn
}

resource "aws_route53recoverycontrolconfig_routing_control" "region" {
  for_each = toset(var.regions)

  name              = "${var.name}-${each.key}"
  cluster_arn       = aws_route53recoverycontrolconfig_cluster.this.arn
  control_panel_arn = aws_route53recoverycontrolconfig_control_panel.this.arn
}

# Safety rule: ARC refuses any change that would leave fewer than min_regions_on regions serving,
# whoever asks (a person at 3 am or the automation).
resource "aws_route53recoverycontrolconfig_safety_rule" "min_serving" {
  name              = "${var.name}-at-least-${var.min_regions_on}-on"
  control_panel_arn = aws_route53recoverycontrolconfig_control_panel.this.arn
  wait_period_ms    = 5000
  asserted_controls = [for r in var.regions : aws_route53recoverycontrolconfig_routing_control.region[r].arn]

  rule_config {
    inverted  = false
    threshold = var.min_regions_on
    type      = "ATLEAST"
  }
}
