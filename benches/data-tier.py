#!/usr/bin/env python3
"""Data-tier timings on `meridian demo --with-database` (probe interval 250 ms, RPO budget 5 s).

Measures, with writes sent every 20 ms through the us-east-1 Meridian:
  - follow: from the promotion command's return to the first write that eu-west-1's database
    took, and the slowest write during the switch (held writes are released, not failed);
  - guard trip: from pausing replay on both replicas to the first write refused (rpo_guard);
  - guard clear: from resuming replay to the first write admitted again.
Usage: benches/data-tier.py [path/to/meridian]   (default target/debug/meridian)
The demo's fixed ports (8080-8082, 3001-3003, 9900, 9901) must be free.
"""
import http.client
import json
import subprocess
import sys
import threading
import time

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/debug/meridian"


def call(port, method, path, body=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=body)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict(r.getheaders()), data


def write(n):
    start = time.monotonic()
    status, headers, data = call(8080, "POST", "/ledger", body=f"w{n}")
    took = time.monotonic() - start
    region = json.loads(data).get("region") if status == 201 else json.loads(data).get("error")
    return status, region, took


def main():
    demo = subprocess.Popen([BIN, "demo", "--with-database"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if write(0)[0] == 201:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "demo did not start"
            time.sleep(0.2)
        n = 1
        # Promotion (old primary stopped first, eu-west-1 promoted, ap-southeast-1 re-pointed)
        # while a client keeps writing every 20 ms.
        log, stop = [], threading.Event()

        def writer():
            i = 100000
            while not stop.is_set():
                sent = time.monotonic()
                status, region, took = write(i)
                log.append((sent, sent + took, status, region))
                i += 1
                time.sleep(0.02)

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        call(9900, "POST", "/database/eu-west-1/promote")
        promoted = time.monotonic()
        deadline = time.monotonic() + 10
        while not any(r == "eu-west-1" for (_, _, _, r) in log) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        stop.set()
        t.join()
        during = [e for e in log if e[1] >= t0]
        last_old = max((e[1] for e in during if e[3] == "us-east-1"), default=t0)
        first_new = min(e[1] for e in during if e[3] == "eu-west-1")
        failed = [e for e in during if e[2] != 201]
        slowest = max(e[1] - e[0] for e in during)
        for e in failed:
            print(f"  failed: sent {e[0] - t0:+.3f} s, answered {e[1] - t0:+.3f} s: {e[2]} {e[3]}")
        print(f"promotion: command {promoted - t0:.3f} s; last write on the old writer "
              f"{last_old - t0:+.3f} s, first on the new one {first_new - t0:+.3f} s after it "
              f"started ({first_new - promoted:+.3f} s after it returned); "
              f"{len(during)} writes, {len(failed)} failed, slowest {slowest:.3f} s (held)")
        # RPO guard: both replicas stop applying (only ap-southeast-1 is left as a replica now
        # that us-east-1 is stopped, so pausing it leaves none within budget).
        call(9900, "POST", "/database/ap-southeast-1/replication/pause")
        paused = time.monotonic()
        state = None
        while time.monotonic() - paused < 30:
            doc = json.loads(call(9901, "GET", "/status")[2])
            if doc["database"]["guard"] == "tripped":
                state = time.monotonic() - paused
                break
            time.sleep(0.02)
        print(f"guard state tripped {state:.3f} s after replay paused (budget 5 s)")
        trip = None
        while time.monotonic() - paused < 30:
            status, region, took = write(n)
            n += 1
            if status == 503 and region == "rpo_guard":
                trip = time.monotonic() - paused
                break
            time.sleep(0.1)
        print(f"guard tripped {trip:.3f} s after replay paused (budget 5 s; includes the 2 s hold)")
        call(9900, "POST", "/database/ap-southeast-1/replication/resume")
        resumed = time.monotonic()
        clear = None
        while time.monotonic() - resumed < 30:
            status, region, took = write(n)
            n += 1
            if status == 201:
                clear = time.monotonic() - resumed
                break
            time.sleep(0.02)
        print(f"guard cleared {clear:.3f} s after replay resumed")
    finally:
        demo.terminate()
        demo.wait(timeout=30)


main()
