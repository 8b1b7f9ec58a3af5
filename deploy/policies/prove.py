#!/usr/bin/env python3
"""Prove that every Meridian checkov rule fires on the broken version it guards against.

Reads checkov's JSON report over deploy/policies/fixtures (one directory per check ID). In a
check's directory, each resource named fail_* must FAIL that check and each named pass_* must PASS
it. Prints one line per check; exits 1 if any check missed a fixture or has no fixtures."""
import json
import pathlib
import sys

report = json.load(open(sys.argv[1]))
reports = report if isinstance(report, list) else [report]
results = {}
for r in reports:
    for kind in ("passed_checks", "failed_checks"):
        for c in r.get("results", {}).get(kind, []):
            check_dir = pathlib.PurePath(c["file_path"]).parts[-2]
            name = c["resource"].split(".")[-1]
            results[(c["check_id"], check_dir, name)] = "FAILED" if kind == "failed_checks" else "PASSED"

fixtures = pathlib.Path(sys.argv[2])
bad = 0
for d in sorted(p for p in fixtures.iterdir() if p.is_dir()):
    check = d.name
    names = [line.split('"')[3] for line in (d / "main.tf").read_text().splitlines() if line.startswith("resource ")]
    wrong = []
    for n in names:
        want = "FAILED" if n.startswith("fail_") else "PASSED"
        got = results.get((check, check, n), "not evaluated")
        if got != want:
            wrong.append(f"{n}: {got}, expected {want}")
    fails = sum(n.startswith("fail_") for n in names)
    if wrong or not fails:
        bad += 1
        print(f"  {check}: " + ("; ".join(wrong) or "no failing fixture"))
    else:
        print(f"  {check}: fires on {fails} broken fixture(s), passes {len(names) - fails} good one(s)")
sys.exit(1 if bad else 0)
