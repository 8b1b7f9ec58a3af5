#!/usr/bin/env python3
"""Monthly cost model of Meridian's production stack, per region. Writes (or, with --check,
verifies) the generated tables between the markers in docs/cost.md, so every figure there is the
arithmetic below on the prices below. Prices are AWS list prices as of mid-2025 as known to the
authors, not fetched live: verify them with the AWS Pricing Calculator before budgeting.

Usage: cost-model.py [--check] docs/cost.md"""
import math
import re
import sys

HOURS = 730
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-1"]

# --- load (docs/cost.md, "Baseline load") ---
RPS = {"us-east-1": 150, "eu-west-1": 90, "ap-southeast-1": 60}
TOTAL_RPS = sum(RPS.values())
REQ_MONTH = TOTAL_RPS * 2_592_000
RPS_PER_TASK = 50  # autoscaling target: 3,000 requests per task per minute
# Worst extra load each region takes when one neighbour is lost (latency routing):
N1_EXTRA = {"us-east-1": 90, "eu-west-1": 150, "ap-southeast-1": 50}
WRITE_SHARE = 0.20
KB_PER_REQUEST = 12  # 10 KB response + 1 KB request + headers

# --- prices (USD) ---
FARGATE = {  # (per vCPU-hour, per GB-hour), Linux
    "X86_64": {"us-east-1": (0.04048, 0.004445), "eu-west-1": (0.04048, 0.004445), "ap-southeast-1": (0.05056, 0.00553)},
    "ARM64": {"us-east-1": (0.03238, 0.00356), "eu-west-1": (0.03238, 0.00356), "ap-southeast-1": (0.04045, 0.00442)},
}
SPOT_DISCOUNT = 0.70
ALB_HOUR = {"us-east-1": 0.0225, "eu-west-1": 0.0252, "ap-southeast-1": 0.0252}
LCU_HOUR = 0.008
AURORA_R6G_LARGE = {"us-east-1": 0.26, "eu-west-1": 0.285, "ap-southeast-1": 0.315}
AURORA_STORAGE_GB = {"us-east-1": 0.10, "eu-west-1": 0.11, "ap-southeast-1": 0.11}
CACHE_R7G_LARGE = {"us-east-1": 0.219, "eu-west-1": 0.243, "ap-southeast-1": 0.263}
S3_GB = {"us-east-1": 0.023, "eu-west-1": 0.023, "ap-southeast-1": 0.025}
ENDPOINT_AZ_HOUR = {"us-east-1": 0.010, "eu-west-1": 0.011, "ap-southeast-1": 0.013}
LOGS_GB = {"us-east-1": 0.50, "eu-west-1": 0.57, "ap-southeast-1": 0.67}
INTER_REGION_GB = 0.02
ARC_CLUSTER_HOUR = 2.50

# --- the stack as built ---
TASK_VCPU, TASK_GB = 1, 2
BASE = {"us-east-1": 5, "eu-west-1": 5, "ap-southeast-1": 3}  # on-demand base (N-1)
AURORA_INSTANCES = {"us-east-1": 2, "eu-west-1": 2, "ap-southeast-1": 2}
INTERFACE_ENDPOINTS = 7  # ecr.api, ecr.dkr, logs, secretsmanager, appconfigdata, xray, ssm
AZS = 2
XRAY_SAMPLED = 0.01  # parent-based ratio sampling assumed at 1 %


def task_month(region, arch):
    cpu, gb = FARGATE[arch][region]
    return (TASK_VCPU * cpu + TASK_GB * gb) * HOURS


def needed_tasks(region, rps):
    return max(2, math.ceil(rps / RPS_PER_TASK))


def lines():
    """(service, {region or 'global': USD}, note) rows."""
    rows = []

    def row(name, per_region, note):
        rows.append((name, per_region, note))

    row("Fargate on-demand base (Graviton)", {r: BASE[r] * task_month(r, "ARM64") for r in REGIONS},
        "5/5/3 tasks x 1 vCPU/2 GB, ARM64 (N-1 sizing)")
    spot = {r: max(0, needed_tasks(r, RPS[r]) - BASE[r]) * task_month(r, "ARM64") * (1 - SPOT_DISCOUNT) for r in REGIONS}
    row("Fargate Spot above the base", spot, "0 at baseline: the base covers it")
    lcu = {r: RPS[r] * KB_PER_REQUEST * 3600 / 1e6 for r in REGIONS}  # GB/h processed = LCUs
    row("ALB, public", {r: ALB_HOUR[r] * HOURS + lcu[r] * LCU_HOUR * HOURS for r in REGIONS}, "hours + processed-bytes LCUs")
    row("ALB, internal (sibling ingress)", {r: ALB_HOUR[r] * HOURS for r in REGIONS}, "hours; LCUs negligible")
    row("Aurora instances (db.r6g.large)", {r: AURORA_INSTANCES[r] * AURORA_R6G_LARGE[r] * HOURS for r in REGIONS},
        "2 per cluster: a promoted secondary is HA at once")
    row("Aurora storage (200 GB each)", {r: 200 * AURORA_STORAGE_GB[r] for r in REGIONS}, "Aurora Standard")
    write_ios = WRITE_SHARE * REQ_MONTH * 2 / 1e6
    row("Aurora I/O (writer)", {"us-east-1": (write_ios + 200) * 0.20}, "311 M write + 200 M read I/Os x 0.20/M")
    row("Aurora replicated write I/O", {r: write_ios * 0.20 for r in REGIONS[1:]}, "0.20/M per secondary region")
    row("Aurora replication transfer", {r: 100 * INTER_REGION_GB for r in REGIONS[1:]}, "~100 GB redo per secondary")
    row("ElastiCache (2 x cache.r7g.large)", {r: 2 * CACHE_R7G_LARGE[r] * HOURS for r in REGIONS}, "")
    row("ElastiCache replication transfer", {r: 50 * INTER_REGION_GB for r in REGIONS[1:]}, "~50 GB per secondary")
    row("S3 storage (500 GB each)", {r: 500 * S3_GB[r] for r in REGIONS}, "")
    row("S3 requests", {"us-east-1": 5 * 3 * 5 + 50 * 0.4}, "5 M PUTs x 3 buckets, 50 M GETs")
    row("S3 replication transfer + RTC + metrics", {r: 100 * 2 / 3 * INTER_REGION_GB + 200 / 3 * 0.015 + 2 * 4 * 0.30 for r in REGIONS},
        "100 GB new/month to 2 peers; RTC 0.015/GB; 4 metrics per rule")
    # Meridian forwards writes to the writer's region (issue 16): writes arriving elsewhere cross once.
    fwd_gb = {r: WRITE_SHARE * RPS[r] * KB_PER_REQUEST * 2_592_000 / 1e6 for r in REGIONS[1:]}
    row("Cross-region: writes forwarded to the writer", {r: fwd_gb[r] * INTER_REGION_GB for r in REGIONS[1:]},
        "20 % writes of eu-west-1/ap-southeast-1 x 12 KB")
    row("Cross-region: probes and failovers", {r: 120 / 3 * INTER_REGION_GB for r in REGIONS}, "~27 GB probes + ~93 GB failed-over requests")
    row("VPC interface endpoints", {r: INTERFACE_ENDPOINTS * AZS * HOURS * ENDPOINT_AZ_HOUR[r] + 3 * 0.01 for r in REGIONS},
        "7 endpoints x 2 AZ")
    row("CloudWatch (logs, alarms, Container Insights, EMF metrics)",
        {r: 50 * LOGS_GB[r] + 15 + 30 * 0.10 + 3 * 0.50 + 15 * 0.30 + 2.5 + 50 * 0.03 for r in REGIONS},
        "50 GB logs, ~30 alarms + 2 composite, 15 EMF metrics, flow logs")
    row("X-Ray traces", {r: max(0, REQ_MONTH * RPS[r] / TOTAL_RPS * XRAY_SAMPLED - 100_000 / 3) / 1e6 * 5.0 for r in REGIONS},
        "1 % sampled, 5.00 per million recorded")
    row("Secrets, KMS, SSM, DynamoDB ledger, drills", {r: 4 * 0.40 + 1 + 1 + 1.5 + 9 for r in REGIONS},
        "4 secrets, key, ledger replica, 6 drill experiments/month x 15 action-min x 0.10")
    cf_out = KB_PER_REQUEST / 12 * 10 * REQ_MONTH / 1e6
    row("CloudFront data out", {"global": (cf_out * 0.8 - 1024) * 0.085 + cf_out * 0.2 * 0.114}, "80 % NA/EU, 20 % APAC")
    row("CloudFront requests", {"global": (REQ_MONTH * 0.8 - 10e6) / 1e4 * 0.0100 + REQ_MONTH * 0.2 / 1e4 * 0.0120}, "HTTPS")
    row("CloudFront to origin", {"global": 778 * 0.02}, "request bodies")
    row("WAF on CloudFront", {"global": 5 + 4 + REQ_MONTH / 1e6 * 0.60}, "")
    row("Route 53 health checks and zones", {"global": 3 * 3.5 + 6 * 0.50 + 4 * 0.50}, "readiness (HTTPS, fast, latency) + 6 ARC/calculated + zones")
    row("Route 53 ARC cluster", {"global": ARC_CLUSTER_HOUR * HOURS}, "one cluster, 5 regional endpoints")
    return rows


def render():
    rows = lines()
    cols = REGIONS + ["global"]
    out = ["| service | " + " | ".join(cols) + " | total | note |", "|---|" + "---:|" * (len(cols) + 1) + "---|"]
    totals = {c: 0.0 for c in cols}
    for name, per, note in rows:
        cells = []
        for c in cols:
            v = per.get(c)
            totals[c] += v or 0
            cells.append(f"{v:,.1f}" if v is not None else "")
        out.append(f"| {name} | " + " | ".join(cells) + f" | {sum(per.values()):,.1f} | {note} |")
    grand = sum(totals.values())
    out.append("| **subtotal** | " + " | ".join(f"**{totals[c]:,.0f}**" for c in cols) + f" | **{grand:,.0f}** | |")
    per_100k = grand / (REQ_MONTH / 1e5)

    x86 = sum(BASE[r] * task_month(r, "X86_64") for r in REGIONS)
    arm = sum(BASE[r] * task_month(r, "ARM64") for r in REGIONS)
    graviton = [
        "| Fargate base (13 tasks) | x86_64 | ARM64 (Graviton) | saved |",
        "|---|---:|---:|---:|",
        f"| per month | {x86:,.1f} | {arm:,.1f} | **{x86 - arm:,.1f}** ({(x86 - arm) / x86:.0%}) |",
    ]

    needed = {r: needed_tasks(r, RPS[r]) for r in REGIONS}
    n1 = {r: math.ceil((RPS[r] + N1_EXTRA[r]) / RPS_PER_TASK) for r in REGIONS}
    premium = sum((BASE[r] - needed[r]) * task_month(r, "ARM64") for r in REGIONS)
    capacity = ["| region | baseline req/s | tasks needed | + worst neighbour lost | tasks needed | on-demand base |",
                "|---|---:|---:|---:|---:|---:|"]
    for r in REGIONS:
        capacity.append(f"| {r} | {RPS[r]} | {needed[r]} | +{N1_EXTRA[r]} = {RPS[r] + N1_EXTRA[r]} | {n1[r]} | {BASE[r]} |")

    summary = [
        f"Total **~{grand:,.0f} USD/month**; per request {grand:,.0f} / {REQ_MONTH / 1e6:,.1f} M = "
        f"**{per_100k:.2f} USD per 100,000 requests**.",
        f"The N-1 base runs {sum(BASE.values()) - sum(needed.values())} more tasks than the baseline needs: "
        f"**{premium:,.0f} USD/month** of standing insurance, on Graviton.",
    ]
    return "\n".join(out), "\n".join(graviton), "\n".join(capacity), "\n".join(summary)


def main():
    check = "--check" in sys.argv
    path = [a for a in sys.argv[1:] if not a.startswith("--")][0]
    text = open(path).read()
    parts = dict(zip(["costs", "graviton", "capacity", "summary"], render()))
    new = text
    for key, body in parts.items():
        pattern = re.compile(rf"(<!-- cost-model:{key} -->\n)(?:.*?\n)?(<!-- /cost-model:{key} -->)", re.S)
        if not pattern.search(new):
            sys.exit(f"{path}: marker cost-model:{key} missing")
        new = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), new)
    if check:
        if new != text:
            sys.exit(f"{path} is out of date: run deploy/scripts/cost-model.py {path}")
        print("cost tables match deploy/scripts/cost-model.py")
    else:
        open(path, "w").write(new)


if __name__ == "__main__":
    main()
