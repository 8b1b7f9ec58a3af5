"""AWS API rules that the Terraform AWS provider accepts at plan time but the AWS API refuses at
apply time (or quotas it does not know). Each check has a failing and a passing fixture in
deploy/policies/fixtures/<ID>/, and deploy/check.sh proves every check fires on its failing one."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from checkov.common.models.enums import CheckCategories, CheckResult  # noqa: E402
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck  # noqa: E402

from _helpers import blocks, first, is_set, strings  # noqa: E402

READ_METHODS = {"GET", "HEAD", "OPTIONS"}


class CloudFrontOriginGroupReadOnly(BaseResourceCheck):
    """CloudFront refuses a cache behaviour that targets an origin group and allows POST, PUT,
    PATCH or DELETE ("AllowedMethods cannot include POST, PUT, PATCH, or DELETE for a cached
    behavior associated with an origin group")."""

    def __init__(self):
        super().__init__(
            name="CloudFront: a behaviour that targets an origin group allows only GET, HEAD, OPTIONS",
            id="CKV_MERIDIAN_1",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["aws_cloudfront_distribution"],
        )

    def scan_resource_conf(self, conf):
        groups = {first(g, "origin_id") for g in blocks(conf, "origin_group")}
        behaviours = blocks(conf, "default_cache_behavior") + blocks(conf, "ordered_cache_behavior")
        for b in behaviours:
            if first(b, "target_origin_id") in groups:
                methods = set(strings(b.get("allowed_methods")))
                if methods - READ_METHODS:
                    self.details.append(f"behaviour to origin group {first(b, 'target_origin_id')} allows {sorted(methods - READ_METHODS)}")
                    return CheckResult.FAILED
        return CheckResult.PASSED


class AuroraEncryptedSecondaryNeedsSourceRegion(BaseResourceCheck):
    """An encrypted cross-region secondary of an Aurora global database is created from the
    primary's region: CreateDBCluster needs SourceRegion to pre-sign the request, else the KMS key
    of the other region is refused (terraform-aws-modules/rds-aurora sets source_region in its
    global-cluster example)."""

    def __init__(self):
        super().__init__(
            name="Aurora: an encrypted global-database secondary sets source_region",
            id="CKV_MERIDIAN_2",
            categories=[CheckCategories.ENCRYPTION],
            supported_resources=["aws_rds_cluster"],
        )

    def scan_resource_conf(self, conf):
        if not is_set(conf, "global_cluster_identifier"):
            return CheckResult.PASSED
        primary = any(is_set(conf, k) for k in ("master_username", "master_password", "master_password_wo",
                                                 "manage_master_user_password", "snapshot_identifier"))
        if primary or not is_set(conf, "kms_key_id"):
            return CheckResult.PASSED
        return CheckResult.PASSED if is_set(conf, "source_region") else CheckResult.FAILED


class NoIngressFromTheInternet(BaseResourceCheck):
    """Nothing is reachable from 0.0.0.0/0 or ::/0: the public ALB admits CloudFront's
    origin-facing prefix list and Route 53's health checkers only."""

    def __init__(self):
        super().__init__(
            name="Security groups: no ingress from 0.0.0.0/0 or ::/0 (the ALB is reached through CloudFront)",
            id="CKV_MERIDIAN_3",
            categories=[CheckCategories.NETWORKING],
            supported_resources=["aws_vpc_security_group_ingress_rule", "aws_security_group_rule", "aws_security_group"],
        )

    def scan_resource_conf(self, conf):
        rules = [conf]
        if "ingress" in conf:
            rules = blocks(conf, "ingress")
        elif first(conf, "type") not in (None, "ingress") and "cidr_ipv4" not in conf:
            return CheckResult.PASSED
        for r in rules:
            cidrs = strings(r.get("cidr_ipv4")) + strings(r.get("cidr_ipv6")) + strings(r.get("cidr_blocks")) + strings(r.get("ipv6_cidr_blocks"))
            if any(c in ("0.0.0.0/0", "::/0") for c in cidrs):
                return CheckResult.FAILED
        return CheckResult.PASSED


class S3ReplicationTimeControlNeedsMetrics(BaseResourceCheck):
    """S3 refuses a replication rule with Replication Time Control enabled unless replication
    metrics are enabled too (PutBucketReplication: "Replication Time Control requires metrics")."""

    def __init__(self):
        super().__init__(
            name="S3 replication: Replication Time Control comes with replication metrics",
            id="CKV_MERIDIAN_4",
            categories=[CheckCategories.BACKUP_AND_RECOVERY],
            supported_resources=["aws_s3_bucket_replication_configuration"],
        )

    def scan_resource_conf(self, conf):
        for rule in blocks(conf, "rule"):
            for dest in blocks(rule, "destination"):
                rtc = [first(r, "status") for r in blocks(dest, "replication_time")]
                metrics = [first(m, "status") for m in blocks(dest, "metrics")]
                if "Enabled" in rtc and "Enabled" not in metrics:
                    return CheckResult.FAILED
        return CheckResult.PASSED


class GlobalDatastoreMemberInheritsEngine(BaseResourceCheck):
    """A replication group joining an ElastiCache Global Datastore takes its engine, version, node
    type, encryption and parameter group from the datastore; CreateReplicationGroup refuses them."""

    INHERITED = ("engine", "engine_version", "node_type", "at_rest_encryption_enabled",
                 "transit_encryption_enabled", "parameter_group_name", "num_node_groups")

    def __init__(self):
        super().__init__(
            name="ElastiCache: a Global Datastore member sets no engine, version, node type, encryption or parameter group",
            id="CKV_MERIDIAN_5",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["aws_elasticache_replication_group"],
        )

    def scan_resource_conf(self, conf):
        if not is_set(conf, "global_replication_group_id"):
            return CheckResult.PASSED
        bad = [k for k in self.INHERITED if is_set(conf, k)]
        if bad:
            self.details.append("inherited from the datastore: " + ", ".join(bad))
            return CheckResult.FAILED
        return CheckResult.PASSED


class CloudFrontOriginTimeouts(BaseResourceCheck):
    """CloudFront origin limits: connection attempts 1-3, connection timeout 1-10 s, response
    (read) and keep-alive timeouts at most 60 s without a quota increase."""

    def __init__(self):
        super().__init__(
            name="CloudFront: origin attempts 1-3, connect timeout 1-10 s, read and keep-alive timeouts <= 60 s",
            id="CKV_MERIDIAN_6",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["aws_cloudfront_distribution"],
        )

    def scan_resource_conf(self, conf):
        def num(v, default):
            try:
                return int(v)
            except (TypeError, ValueError):
                return default  # unresolved reference: cannot judge here

        for o in blocks(conf, "origin"):
            if not 1 <= num(first(o, "connection_attempts"), 3) <= 3:
                return CheckResult.FAILED
            if not 1 <= num(first(o, "connection_timeout"), 10) <= 10:
                return CheckResult.FAILED
            for c in blocks(o, "custom_origin_config"):
                if num(first(c, "origin_read_timeout"), 30) > 60 or num(first(c, "origin_keepalive_timeout"), 5) > 60:
                    return CheckResult.FAILED
        return CheckResult.PASSED


class EcsHealthCheckCommandForm(BaseResourceCheck):
    """RegisterTaskDefinition: a container health check's command must start with "CMD" (run the
    arguments directly) or "CMD-SHELL" (through the image's shell)."""

    def __init__(self):
        super().__init__(
            name="ECS: a container health check command starts with CMD or CMD-SHELL",
            id="CKV_MERIDIAN_7",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["aws_ecs_task_definition"],
        )

    def scan_resource_conf(self, conf):
        import json

        defs = first(conf, "container_definitions")
        if isinstance(defs, str):
            try:
                defs = json.loads(defs)
            except ValueError:
                return CheckResult.UNKNOWN  # an unresolved reference: terraform test covers it
        if not isinstance(defs, list):
            return CheckResult.UNKNOWN
        for c in defs:
            if not isinstance(c, dict):
                continue
            command = (c.get("healthCheck") or {}).get("command")
            if command and strings(command)[:1] not in (["CMD"], ["CMD-SHELL"]):
                self.details.append(f"container {c.get('name')}: health check {command}")
                return CheckResult.FAILED
        return CheckResult.PASSED


cloudfront_origin_group_read_only = CloudFrontOriginGroupReadOnly()
ecs_health_check_command = EcsHealthCheckCommandForm()
aurora_secondary_source_region = AuroraEncryptedSecondaryNeedsSourceRegion()
no_ingress_from_internet = NoIngressFromTheInternet()
s3_rtc_needs_metrics = S3ReplicationTimeControlNeedsMetrics()
global_datastore_member = GlobalDatastoreMemberInheritsEngine()
cloudfront_origin_timeouts = CloudFrontOriginTimeouts()
