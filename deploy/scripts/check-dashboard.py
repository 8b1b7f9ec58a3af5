#!/usr/bin/env python3
"""Check the Grafana dashboard: valid JSON, panels with queries, and every Meridian metric it
queries is either in README.md's metrics reference or one of the data-tier metrics announced for
issue 16 (listed below until the README documents them). A renamed metric breaks this check."""
import json
import re
import sys

# Announced by the data-tier work (issue 16) before they are in the README's reference.
ANNOUNCED = {"meridian_db_replication_lag_seconds", "meridian_rpo_guard_decisions_total", "meridian_db_writer"}

dashboard = json.load(open(sys.argv[1]))
documented = set(re.findall(r"^\| `(meridian_[a-z_]+)`", open(sys.argv[2]).read(), re.M))
documented |= {m for line in open(sys.argv[2]) if line.startswith("| `meridian_") for m in re.findall(r"`(meridian_[a-z_]+)`", line)}

queries = [t["expr"] for p in dashboard["panels"] if p.get("type") != "row" for t in p.get("targets", [])]
if not queries:
    sys.exit("dashboard has no queries")
used = set()
for q in queries:
    for m in re.findall(r"\bmeridian_[a-z_]+", q):
        used.add(re.sub(r"_(bucket|sum|count)$", "", m))
unknown = sorted(used - documented - ANNOUNCED)
print(f"{len(queries)} queries, {len(used)} metrics ({len(used & ANNOUNCED)} announced data-tier metrics)")
if unknown:
    sys.exit("metrics neither in README.md's reference nor announced: " + ", ".join(unknown))
