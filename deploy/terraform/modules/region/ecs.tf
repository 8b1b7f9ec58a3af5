# ECS cluster and the Fargate service. One task = Meridian (front, port 8080) + the application
# (127.0.0.1:3000) + the AppConfig agent (127.0.0.1:2772).

resource "aws_cloudwatch_log_group" "tasks" {
  name              = "/meridian/${var.region}/tasks"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = local.tags
}

# Meridian's metrics as CloudWatch embedded-metric-format records (written by the collector).
resource "aws_cloudwatch_log_group" "metrics" {
  name              = "/meridian/${var.region}/metrics"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = local.tags
}

resource "aws_ecs_cluster" "this" {
  name = local.prefix
  tags = local.tags

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    base              = var.min_capacity
    weight            = 1
  }
}

# The ADOT collector's configuration: OTLP from Meridian on localhost -> X-Ray; Meridian's
# Prometheus metrics (admin listener, loopback) -> CloudWatch (EMF) for the alarms that judge a
# sibling region from this region's vantage point.
locals {
  adot_image = var.adot_image != "" ? var.adot_image : "${local.account_id}.dkr.ecr.${var.region}.amazonaws.com/ecr-public/aws-observability/aws-otel-collector:${var.adot_version}"
  adot_config = templatefile("${path.module}/templates/adot-collector.yaml.tftpl", {
    region            = var.region
    metrics_log_group = aws_cloudwatch_log_group.metrics.name
    metrics_namespace = var.metrics_namespace
  })

  # Environment of the Meridian container beyond its config file.
  meridian_environment = merge(
    {
      # OpenTelemetry standard variables: Meridian's OTLP exporter (issue 20) sends to the ADOT
      # sidecar on localhost; the config-file keys for OTLP are not defined yet.
      OTEL_EXPORTER_OTLP_ENDPOINT = "http://localhost:4318"
      OTEL_EXPORTER_OTLP_PROTOCOL = "http/protobuf"
      OTEL_SERVICE_NAME           = "meridian"
      OTEL_RESOURCE_ATTRIBUTES    = "cloud.provider=aws,cloud.region=${var.region},deployment.environment=production"
    },
    # For Meridian's [database] section (issue 16, keys not defined yet): the monitoring user and
    # where each region's database and the global writer endpoint are.
    var.database_view.writer_endpoint == "" ? {} : {
      MERIDIAN_DB_MONITOR_USER       = var.database_view.monitor_user
      MERIDIAN_DB_WRITER_ENDPOINT    = var.database_view.writer_endpoint
      MERIDIAN_DB_REGION_ENDPOINTS   = jsonencode(var.database_view.region_endpoints)
      MERIDIAN_DB_TOPOLOGY_PARAMETER = var.topology_parameter_name
    },
  )

  meridian_secrets = concat(
    [{ name = "MERIDIAN_FORWARD_SECRET", valueFrom = var.forward_secret_arn }],
    var.database_view.monitor_secret_arn == "" ? [] : [{ name = "MERIDIAN_DB_MONITOR_PASSWORD", valueFrom = "${var.database_view.monitor_secret_arn}:password::" }],
  )

  app_secrets = var.app_database_secret_arn == "" ? [] : [
    { name = "DATABASE_USER", valueFrom = "${var.app_database_secret_arn}:username::" },
    { name = "DATABASE_PASSWORD", valueFrom = "${var.app_database_secret_arn}:password::" },
  ]

  log_options = {
    "awslogs-group"         = aws_cloudwatch_log_group.tasks.name
    "awslogs-region"        = var.region
    "awslogs-stream-prefix" = "task"
  }

  containers = [
    {
      name      = "meridian"
      image     = var.meridian_image
      essential = true
      # ENTRYPOINT is ["/meridian", "run"]; point it at the AppConfig agent instead of a file.
      command                = ["--config", local.appconfig_url]
      portMappings           = [{ containerPort = 8080, protocol = "tcp", name = "http" }]
      user                   = "65532:65532"
      readonlyRootFilesystem = true
      # Drain (15 s) + grace (30 s) = 45 s < 60 s: Meridian finishes before SIGKILL.
      stopTimeout = var.stop_timeout
      environment = [for k, v in local.meridian_environment : { name = k, value = v }]
      secrets     = local.meridian_secrets
      # Stopped first (it depends on the others), so the app, the agent and the collector outlive
      # its drain (the last spans of a draining task are still exported).
      dependsOn = [
        { containerName = "app", condition = "START" },
        { containerName = "appconfig-agent", condition = "START" },
        { containerName = "otel-collector", condition = "START" },
      ]
      logConfiguration = { logDriver = "awslogs", options = merge(local.log_options, { "awslogs-stream-prefix" = "meridian" }) }
    },
    {
      name                   = "app"
      image                  = var.app_image
      essential              = true
      readonlyRootFilesystem = true
      stopTimeout            = var.stop_timeout
      environment            = [for k, v in var.app_environment : { name = k, value = v }]
      secrets                = local.app_secrets
      logConfiguration       = { logDriver = "awslogs", options = merge(local.log_options, { "awslogs-stream-prefix" = "app" }) }
    },
    {
      name  = "appconfig-agent"
      image = local.appconfig_agent_image
      # Not essential: if the agent dies, Meridian keeps serving its last good configuration.
      essential              = false
      readonlyRootFilesystem = true
      stopTimeout            = var.stop_timeout
      environment = [
        { name = "SERVICE_REGION", value = var.region },
        { name = "PREFETCH_LIST", value = "/applications/${local.appconfig_application}/environments/${local.appconfig_environment}/configurations/${local.appconfig_profile}" },
        { name = "POLL_INTERVAL", value = "30" },
        { name = "LOG_LEVEL", value = "info" },
      ]
      logConfiguration = { logDriver = "awslogs", options = merge(local.log_options, { "awslogs-stream-prefix" = "appconfig-agent" }) }
    },
    {
      # AWS Distro for OpenTelemetry: traces to X-Ray, Meridian's metrics to CloudWatch. Not
      # essential: without it Meridian serves on and counts the spans it drops (issue 20).
      name                   = "otel-collector"
      image                  = local.adot_image
      essential              = false
      readonlyRootFilesystem = true
      user                   = "10001:10001"
      stopTimeout            = var.stop_timeout
      memoryReservation      = 128
      environment            = [{ name = "AOT_CONFIG_CONTENT", value = local.adot_config }]
      healthCheck            = { command = ["CMD", "/healthcheck"], interval = 30, timeout = 5, retries = 3, startPeriod = 10 }
      logConfiguration       = { logDriver = "awslogs", options = merge(local.log_options, { "awslogs-stream-prefix" = "otel-collector" }) }
    },
  ]
}

resource "aws_ecs_task_definition" "this" {
  family                   = local.prefix
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode(local.containers)
  tags                     = local.tags

  # Graviton by default: the image is built for linux/arm64 and linux/amd64 (deploy workflow).
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }
}

resource "aws_ecs_service" "this" {
  name                               = var.name
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.this.arn
  desired_count                      = var.min_capacity
  platform_version                   = "1.4.0"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 30
  propagate_tags                     = "SERVICE"
  enable_execute_command             = false
  tags                               = local.tags

  # On-demand for the base (the minimum, sized to carry this region's share with one region lost:
  # docs/cost.md), Spot for most of what autoscaling adds above it.
  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    base              = var.min_capacity
    weight            = 1
  }

  capacity_provider_strategy {
    capacity_provider = "FARGATE_SPOT"
    weight            = var.spot_weight
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this["public"].arn
    container_name   = "meridian"
    container_port   = 8080
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this["internal"].arn
    container_name   = "meridian"
    container_port   = 8080
  }

  lifecycle {
    # Autoscaling owns the running count. The deploy workflow owns which revision runs: it takes
    # the family's latest revision (Terraform's container settings), swaps in the new image and
    # rolls it out region by region (deploy/github/workflows/deploy.yml).
    ignore_changes = [desired_count, task_definition]
  }

  depends_on = [aws_lb_listener.public, aws_lb_listener.internal, aws_ecs_cluster_capacity_providers.this]
}

# === Autoscaling: requests per target and CPU, whichever asks for more tasks ===

resource "aws_appautoscaling_target" "this" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_capacity
  max_capacity       = var.max_capacity
  tags               = local.tags
}

resource "aws_appautoscaling_policy" "requests" {
  name               = "${local.prefix}-requests-per-target"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  resource_id        = aws_appautoscaling_target.this.resource_id
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.requests_per_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.this["public"].arn_suffix}/${aws_lb_target_group.this["public"].arn_suffix}"
    }
  }
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${local.prefix}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  resource_id        = aws_appautoscaling_target.this.resource_id
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

# Tasks have no internet route, so the AppConfig agent image (public.ecr.aws) is pulled through
# this account's ECR pull-through cache, via the ECR VPC endpoints.
resource "aws_ecr_pull_through_cache_rule" "ecr_public" {
  count = var.appconfig_agent_image == "" ? 1 : 0

  ecr_repository_prefix = "ecr-public"
  upstream_registry_url = "public.ecr.aws"
}
