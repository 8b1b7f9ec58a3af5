# One dashboard over all regions (widgets name their region explicitly): ALB traffic and 5xx,
# Meridian failovers, Aurora lag and commit latency, and which regions each region's Meridians reach.

locals {
  dashboard_widgets = flatten([
    for r, d in var.dashboard_regions : [
      {
        type   = "metric"
        width  = 8
        height = 6
        properties = {
          title  = "${r}: requests and 5xx"
          region = r
          stat   = "Sum"
          period = 60
          metrics = [
            ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", d.alb_arn_suffix],
            [".", "HTTPCode_ELB_5XX_Count", ".", "."],
            [".", "HTTPCode_Target_5XX_Count", ".", "."],
          ]
        }
      },
      {
        type   = "metric"
        width  = 8
        height = 6
        properties = {
          title  = "${r}: Meridian failovers and healthy tasks"
          region = r
          period = 60
          metrics = [
            ["Meridian", "Failovers", { stat = "Sum" }],
            ["AWS/ApplicationELB", "HealthyHostCount", "LoadBalancer", d.alb_arn_suffix, "TargetGroup", d.target_group_arn_suffix, { stat = "Minimum" }],
          ]
        }
      },
      {
        type   = "metric"
        width  = 8
        height = 6
        properties = {
          # Lag exists while the cluster is a secondary, commit latency while it is the writer.
          title  = "${r}: Aurora lag and commit latency (ms)"
          region = r
          stat   = "Maximum"
          period = 60
          metrics = [
            ["AWS/RDS", "AuroraGlobalDBReplicationLag", "DBClusterIdentifier", d.aurora_cluster_id],
            [".", "AuroraGlobalDBRPOLag", ".", "."],
            [".", "CommitLatency", ".", ".", { stat = "Average" }],
          ]
        }
      },
      {
        type   = "metric"
        width  = 8
        height = 6
        properties = {
          title   = "${r}: regions its Meridians reach (meridian_endpoint_up, max over tasks)"
          region  = r
          stat    = "Maximum"
          period  = 60
          metrics = [for seen in keys(var.dashboard_regions) : [var.metrics_namespace, "meridian_endpoint_up", "region", seen]]
        }
      },
    ]
  ])
}

resource "aws_cloudwatch_dashboard" "global" {
  count = length(var.dashboard_regions) > 0 ? 1 : 0

  dashboard_name = "${var.name}-global"
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
