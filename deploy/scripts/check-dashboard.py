#!/usr/bin/env python3
"""Check that every Meridian metric the deployment depends on exists.

Usage: check-dashboard.py DASHBOARD.json README.md [FILE ...]
The Grafana dashboard must be valid JSON with queries; every Meridian metric it queries, and every
one named in the other FILEs (the collector's export list, the CloudWatch alarms), must be either in
README.md's metrics reference or one of the data-tier metrics announced for issue 16 (listed below
until the README documents them). A renamed metric breaks this check instead of silently leaving an
alarm without data (the alarms treat missing data as not breaching)."""
import json
import pathlib
import re
import sys

# Announced by the data-tier work (issue 16) before they are in the README's reference.
ANNOUNCED = {"meridian_db_replication_lag_seconds", "meridian_rpo_guard_decisions_total", "meridian_db_writer"}
NAME = re.compile(r"\bmeridian_[a-z_]+")

dashboard = json.load(open(sys.argv[1]))
readme = open(sys.argv[2]).read()
documented = {m for line in readme.splitlines() if line.startswith("| `meridian_") for m in re.findall(r"`(meridian_[a-z_]+)`", line)}


def base(name):
    return re.sub(r"_(bucket|sum|count)$", "", name)


queries = [t["expr"] for p in dashboard["panels"] if p.get("type") != "row" for t in p.get("targets", [])]
if not queries:
    sys.exit("dashboard has no queries")
used = {base(m) for q in queries for m in NAME.findall(q)}
problems = []
unknown = sorted(used - documented - ANNOUNCED)
if unknown:
    problems.append("dashboard: " + ", ".join(unknown))
for path in sys.argv[3:]:
    names = {base(m) for m in NAME.findall(pathlib.Path(path).read_text())}
    missing = sorted(names - documented - ANNOUNCED)
    if missing:
        problems.append(f"{path}: " + ", ".join(missing))
    used |= names
print(f"{len(queries)} dashboard queries; {len(used)} Meridian metrics used in all ({len(used & ANNOUNCED)} announced data-tier metrics)")
if problems:
    sys.exit("metrics neither in README.md's reference nor announced: " + "; ".join(problems))
