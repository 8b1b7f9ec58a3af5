#!/usr/bin/env bash
# Roll a new Meridian image out to ONE region and wait until it is really serving:
#   1. register a new revision of the task family with the new image (everything else unchanged),
#   2. update the service (circuit breaker with rollback is on),
#   3. aws ecs wait services-stable,
#   4. every target in the public target group healthy on /.meridian/readyz,
#   5. the region's Route 53 health check reported healthy by every checker.
# Usage: rollout-region.sh REGION IMAGE_URI ROUTE53_HEALTH_CHECK_ID
# Called by deploy/github/workflows/deploy.yml once per region, one region at a time.
set -euo pipefail

region="$1"
image="$2"
health_check_id="$3"
name="${MERIDIAN_NAME:-meridian}"
cluster="$name-$region"
service="$name"
family="$name-$region"
deadline_seconds="${ROLLOUT_DEADLINE_SECONDS:-900}"

log() { echo "[$region] $*"; }

# 1. New revision from the latest one (Terraform's settings), only the meridian image changed.
aws ecs describe-task-definition --region "$region" --task-definition "$family" \
    --query taskDefinition --output json >taskdef.json
jq --arg image "$image" '
  .containerDefinitions |= map(if .name == "meridian" then .image = $image else . end)
  | {family, taskRoleArn, executionRoleArn, networkMode, containerDefinitions, volumes,
     placementConstraints, requiresCompatibilities, cpu, memory, runtimePlatform}
  | with_entries(select(.value != null))' taskdef.json >taskdef-new.json
revision_arn="$(aws ecs register-task-definition --region "$region" \
    --cli-input-json file://taskdef-new.json --query taskDefinition.taskDefinitionArn --output text)"
log "registered $revision_arn"

# 2. Roll out.
aws ecs update-service --region "$region" --cluster "$cluster" --service "$service" \
    --task-definition "$revision_arn" --query service.deployments[0].id --output text >/dev/null

# 3. ECS says the deployment finished (fails if the circuit breaker rolled back).
log "waiting for services-stable"
aws ecs wait services-stable --region "$region" --cluster "$cluster" --services "$service"
running="$(aws ecs describe-services --region "$region" --cluster "$cluster" --services "$service" \
    --query 'services[0].deployments[?status==`PRIMARY`].taskDefinition | [0]' --output text)"
if [ "$running" != "$revision_arn" ]; then
    log "primary deployment is $running, not $revision_arn: the circuit breaker rolled back"
    exit 1
fi

# 4 and 5. The ALB and Route 53 both see the region ready.
tg_arn="$(aws ecs describe-services --region "$region" --cluster "$cluster" --services "$service" \
    --query 'services[0].loadBalancers[0].targetGroupArn' --output text)"
end=$((SECONDS + deadline_seconds))
while :; do
    unhealthy="$(aws elbv2 describe-target-health --region "$region" --target-group-arn "$tg_arn" \
        --query 'length(TargetHealthDescriptions[?TargetHealth.State!=`healthy`])' --output text)"
    failing="$(aws route53 get-health-check-status --health-check-id "$health_check_id" \
        --query 'length(HealthCheckObservations[?!starts_with(StatusReport.Status, `Success`)])' --output text)"
    if [ "$unhealthy" = "0" ] && [ "$failing" = "0" ]; then
        log "all targets healthy, Route 53 health check $health_check_id healthy from every checker"
        break
    fi
    if [ "$SECONDS" -ge "$end" ]; then
        log "not healthy after ${deadline_seconds}s (unhealthy targets: $unhealthy, failing checkers: $failing)"
        exit 1
    fi
    sleep 10
done
