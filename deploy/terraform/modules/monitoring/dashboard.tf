# One dashboard over all regions (widgets name their region explicitly).

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
          title  = d.aurora_cluster_id == "" ? "${r}: Aurora writer commit latency" : "${r}: Aurora global lag (ms)"
          region = r
          stat   = "Maximum"
          period = 60
          metrics = d.aurora_cluster_id == "" ? [
            ["AWS/RDS", "CommitLatency", "DBClusterIdentifier", "${var.name}-${r}"],
            ] : [
            ["AWS/RDS", "AuroraGlobalDBReplicationLag", "DBClusterIdentifier", d.aurora_cluster_id],
            [".", "AuroraGlobalDBRPOLag", ".", "."],
          ]
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
