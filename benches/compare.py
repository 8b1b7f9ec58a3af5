#!/usr/bin/env python3
"""Compares one benches/e2e.sh run with the reference run in benches/baseline.json.

    benches/compare.py benches/baseline.json target/e2e/<run>/

Throughput is compared as Meridian's ratios to nginx paired by round (the same round's load for
both), because absolute figures move with whatever else the machine runs; failover as errors,
slow answers and the worst latency. Prints a Markdown table; e2e.sh writes it to compare.md.
"""
import json
import os
import sys


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    base = json.load(open(sys.argv[1]))
    run = sys.argv[2]
    print(f"Against the baseline ({base['commit']}, {base['date']}; {base['settings']}):\n")
    print("| measure | baseline | this run |")
    print("|---|---|---|")
    tp_path = os.path.join(run, "throughput.json")
    if os.path.exists(tp_path):
        now = json.load(open(tp_path))["paired_with_nginx"]
        was = base["throughput"]["paired_with_nginx"]
        for target in sorted(set(now) & set(was)):
            for key, label in (("rps", "req/s"), ("cpu", "CPU/request"), ("p99", "p99")):
                print(f"| {target} {label} x nginx (paired median) | {was[target][key]:.2f} "
                      f"| {now[target][key]:.2f} |")
    fo_path = os.path.join(run, "failover.json")
    if os.path.exists(fo_path):
        was = {(r["proxy"], r["fault"]): r for r in base["failover"]}
        for r in json.load(open(fo_path)):
            b = was.get((r["proxy"], r["fault"]))
            if b is None:
                continue
            fmt = "{errors} errors, {slow} slow, worst {worst_ms} ms"
            print(f"| {r['proxy']} failover, origin {r['fault']} | {fmt.format(**b)} "
                  f"| {fmt.format(**r)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
