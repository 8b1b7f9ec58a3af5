"""Steps of the Meridian data-tier failover automation (SSM Automation, aws:executeScript).

The same document runs in every region (modules/dr). Each step below is one `handler` of the
document; each records what it saw and did in the DR ledger (a DynamoDB global table, so the record
survives the loss of any one region) before it returns. Nothing here calls the region judged down,
and nothing calls a control plane in us-east-1 unless us-east-1 is a surviving region.

Flow (mode "failover", started by the composite alarm "<observer> sees <suspect> down"):
  assess     is the suspect region the database writer? if not, nothing to do
  vote       record this region's verdict and its replica's RPO lag; wait for the other
             surviving region's verdict (two vantage points); decide() picks the target and whether
             data loss stays within the RPO objective (automatic) or a human must approve
  fence      switch the suspect region's ARC routing control off (data plane, any of 5 endpoints)
  database   FailoverGlobalCluster to this region's cluster, allow data loss; wait for the writer
  cache      promote this region's ElastiCache Global Datastore member
  topology   publish the new data topology (SSM parameter) in every surviving region
Mode "switchover" (planned, started by a person, RPO 0): assess, database (SwitchoverGlobalCluster),
cache, topology; no vote and no fencing.

decide() is pure and unit-tested offline (scripts/test_failover.py, run by deploy/check.sh).
"""

import json
import time

VOTE_FRESH_SECONDS = 300


# === Pure decision logic ===


def decide(votes, now, suspect, observers, objective_ms, priority):
    """Decide an unplanned failover from the observers' votes.

    votes: list of dicts {observer, suspect, down, at, rpo_lag_ms (int or None)}.
    observers: the regions that must agree (every region but the suspect).
    Returns a dict: decision ("auto", "approve" or "wait"), target (region or None), lag_ms, reason.
      auto     every observer saw the suspect down recently, and the target's last RPO lag is
               known and within the objective: fail over without a human;
      approve  the observers agree but the lag is unknown or above the objective (data loss
               beyond the RPO objective needs a human);
      wait     not every observer has voted "down" recently (one vantage point is not enough).
    The target is the observer with the lowest known lag; ties and unknown lags fall back to the
    priority order, so every region computes the same target from the same votes.
    """
    fresh = {}
    for v in votes:
        if v.get("suspect") != suspect or v.get("observer") not in observers:
            continue
        if now - float(v.get("at", 0)) > VOTE_FRESH_SECONDS:
            continue
        previous = fresh.get(v["observer"])
        if previous is None or float(v["at"]) > float(previous["at"]):
            fresh[v["observer"]] = v
    down = [o for o in observers if o in fresh and fresh[o].get("down")]
    if len(down) < len(observers) or len(observers) < 2:
        missing = sorted(set(observers) - set(down))
        return {"decision": "wait", "target": None, "lag_ms": None,
                "reason": f"no quorum: waiting for {', '.join(missing) or 'a second observer'}"}

    def rank(region):
        lag = fresh[region].get("rpo_lag_ms")
        known = lag is not None
        order = priority.index(region) if region in priority else len(priority)
        return (0 if known else 1, lag if known else 0, order)

    target = min(down, key=rank)
    lag = fresh[target].get("rpo_lag_ms")
    if lag is None:
        return {"decision": "approve", "target": target, "lag_ms": None,
                "reason": f"{target}: replication lag unknown, data loss cannot be bounded"}
    if lag > objective_ms:
        return {"decision": "approve", "target": target, "lag_ms": lag,
                "reason": f"{target}: last RPO lag {lag} ms is above the {objective_ms} ms objective"}
    return {"decision": "auto", "target": target, "lag_ms": lag,
            "reason": f"{len(down)} regions see {suspect} down; {target} lag {lag} ms <= {objective_ms} ms"}


def writer_region(global_cluster):
    """Region of the writer member of a DescribeGlobalClusters entry (None mid-failover)."""
    for member in global_cluster.get("GlobalClusterMembers", []):
        if member.get("IsWriter"):
            return member["DBClusterArn"].split(":")[3]
    return None


def latest_value(metric_data_result):
    """Newest datapoint of a GetMetricData result, or None when there is none."""
    points = sorted(zip(metric_data_result.get("Timestamps", []), metric_data_result.get("Values", [])))
    return points[-1][1] if points else None


# === AWS side: each handler is one step of the automation document ===


def _cfg(events):
    return json.loads(events["Config"]) if isinstance(events.get("Config"), str) else events["Config"]


def _record(cfg, execution_id, step, detail):
    import boto3

    table = boto3.resource("dynamodb", region_name=cfg["local_region"]).Table(cfg["ledger_table"])
    table.put_item(Item={
        "pk": f"run#{execution_id}",
        "sk": f"{time.time():.3f}#{step}",
        "region": cfg["local_region"],
        "step": step,
        "detail": json.dumps(detail, default=str),
    })


def assess(events, context):
    import boto3

    cfg = _cfg(events)
    rds = boto3.client("rds", region_name=cfg["local_region"])
    gc = rds.describe_global_clusters(GlobalClusterIdentifier=cfg["global_cluster_id"])["GlobalClusters"][0]
    writer = writer_region(gc)
    suspect = events["SuspectRegion"]
    if events["Mode"] == "switchover":
        action = "none" if writer == cfg["local_region"] else "proceed"
        reason = "this region already holds the writer" if action == "none" else f"planned switchover from {writer}"
    elif writer != suspect:
        action, reason = "none", f"the writer is {writer}, not {suspect}: nothing to fail over"
    else:
        action, reason = "proceed", f"{suspect} holds the writer and is judged down from {cfg['local_region']}"
    detail = {"writer": writer, "suspect": suspect, "mode": events["Mode"], "action": action,
              "reason": reason, "failover_state": gc.get("FailoverState")}
    _record(cfg, events["ExecutionId"], "assess", detail)
    return {"Action": action, "Writer": writer or "", "Reason": reason}


def vote(events, context):
    import boto3

    cfg = _cfg(events)
    region, suspect = cfg["local_region"], events["SuspectRegion"]
    cw = boto3.client("cloudwatch", region_name=region)
    end = time.time()
    data = cw.get_metric_data(
        MetricDataQueries=[{
            "Id": "lag",
            "MetricStat": {"Metric": {"Namespace": "AWS/RDS", "MetricName": "AuroraGlobalDBRPOLag",
                                      "Dimensions": [{"Name": "DBClusterIdentifier", "Value": cfg["cluster_ids"][region]}]},
                           "Period": 60, "Stat": "Maximum"},
        }],
        StartTime=end - 900, EndTime=end,
    )["MetricDataResults"][0]
    lag = latest_value(data)
    alarm = cw.describe_alarms(AlarmNames=[cfg["composite_alarms"][suspect]], AlarmTypes=["CompositeAlarm"])
    down = any(a["StateValue"] == "ALARM" for a in alarm.get("CompositeAlarms", []))
    table = boto3.resource("dynamodb", region_name=region).Table(cfg["ledger_table"])
    mine = {"observer": region, "suspect": suspect, "down": down, "at": end,
            "rpo_lag_ms": None if lag is None else int(lag)}
    table.put_item(Item={"pk": f"vote#{suspect}", "sk": region, "vote": json.dumps(mine)})

    observers = [r for r in cfg["regions"] if r != suspect]
    deadline = time.time() + int(cfg["quorum_wait_seconds"])
    while True:
        items = table.query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"vote#{suspect}"},
                            ConsistentRead=True)["Items"]
        votes = [json.loads(i["vote"]) for i in items]
        verdict = decide(votes, time.time(), suspect, observers, int(cfg["rpo_objective_ms"]), cfg["priority"])
        if verdict["decision"] != "wait" or time.time() >= deadline:
            break
        time.sleep(10)
    if verdict["decision"] == "wait":
        # One vantage point only after the wait: a second region is silent too. A human decides.
        verdict = {**verdict, "decision": "approve", "target": region,
                   "reason": verdict["reason"] + f"; no quorum after {cfg['quorum_wait_seconds']} s"}
    if verdict["target"] != region:
        verdict = {**verdict, "decision": "defer", "reason": verdict["reason"] + f"; {verdict['target']} acts"}
    _record(cfg, events["ExecutionId"], "vote", {"mine": mine, "votes": votes, "verdict": verdict})
    return {"Decision": verdict["decision"], "Target": verdict["target"] or "",
            "LagMs": -1 if verdict["lag_ms"] is None else verdict["lag_ms"], "Reason": verdict["reason"]}


def fence(events, context):
    import boto3

    cfg = _cfg(events)
    suspect = events["SuspectRegion"]
    errors = []
    for ep in cfg["arc_endpoints"]:
        try:
            client = boto3.client("route53-recovery-cluster", region_name=ep["region"], endpoint_url=ep["endpoint"])
            client.update_routing_control_state(RoutingControlArn=cfg["routing_controls"][suspect],
                                                RoutingControlState="Off")
            _record(cfg, events["ExecutionId"], "fence", {"routing_control": suspect, "state": "Off", "via": ep})
            return {"FencedVia": ep["region"]}
        except Exception as exc:  # try the next of the five endpoints
            errors.append(f"{ep['region']}: {exc}")
    _record(cfg, events["ExecutionId"], "fence", {"error": errors})
    raise RuntimeError("no ARC endpoint accepted the change: " + "; ".join(errors))


def database(events, context):
    import boto3

    cfg = _cfg(events)
    region = cfg["local_region"]
    rds = boto3.client("rds", region_name=region)
    target = cfg["cluster_arns"][region]
    if events["Mode"] == "switchover":
        rds.switchover_global_cluster(GlobalClusterIdentifier=cfg["global_cluster_id"], TargetDbClusterIdentifier=target)
    else:
        rds.failover_global_cluster(GlobalClusterIdentifier=cfg["global_cluster_id"], TargetDbClusterIdentifier=target,
                                    AllowDataLoss=True)
    started = time.time()
    _record(cfg, events["ExecutionId"], "database", {"call": events["Mode"], "target": target})
    while time.time() - started < 540:
        gc = rds.describe_global_clusters(GlobalClusterIdentifier=cfg["global_cluster_id"])["GlobalClusters"][0]
        if writer_region(gc) == region and not gc.get("FailoverState"):
            took = round(time.time() - started, 1)
            _record(cfg, events["ExecutionId"], "database", {"writer": region, "seconds": took})
            return {"Writer": region, "Seconds": took}
        time.sleep(10)
    raise RuntimeError(f"{region} is not the writer 540 s after {events['Mode']}")


def cache(events, context):
    import boto3

    cfg = _cfg(events)
    region = cfg["local_region"]
    ec = boto3.client("elasticache", region_name=region)
    try:
        ec.failover_global_replication_group(GlobalReplicationGroupId=cfg["cache_global_id"], PrimaryRegion=region,
                                             PrimaryReplicationGroupId=cfg["cache_group_ids"][region])
        how = "failover-global-replication-group"
    except Exception as exc:
        if events["Mode"] == "switchover":
            raise
        # The old primary's region cannot take part: take this member out of the datastore, which
        # leaves it a standalone read-write replication group (re-added after failback).
        ec.disassociate_global_replication_group(GlobalReplicationGroupId=cfg["cache_global_id"],
                                                 ReplicationGroupId=cfg["cache_group_ids"][region],
                                                 ReplicationGroupRegion=region)
        how = f"disassociate-global-replication-group (failover refused: {exc})"
    _record(cfg, events["ExecutionId"], "cache", {"primary": region, "how": how})
    return {"CachePrimary": region, "How": how}


def topology(events, context):
    import boto3

    cfg = _cfg(events)
    region = cfg["local_region"]
    value = json.dumps({"db_writer_region": region, "cache_primary_region": region,
                        "cache_writer_host": cfg["cache_endpoints"][region], "since": time.time(),
                        "by": events["ExecutionId"], "mode": events["Mode"]})
    skip = events["SuspectRegion"] if events["Mode"] == "failover" else None
    done, failed = [], {}
    for r in cfg["regions"]:
        if r == skip:
            continue
        try:
            boto3.client("ssm", region_name=r).put_parameter(Name=cfg["topology_parameter"], Value=value,
                                                             Type="String", Overwrite=True)
            done.append(r)
        except Exception as exc:
            failed[r] = str(exc)
    _record(cfg, events["ExecutionId"], "topology", {"value": value, "published": done, "failed": failed})
    if region not in done:
        raise RuntimeError(f"could not publish the topology in {region}: {failed}")
    return {"Published": ",".join(done)}
