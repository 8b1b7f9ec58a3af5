#!/usr/bin/env python3
"""Constant-rate (open-loop) HTTP/1.1 load generator for the failover benchmark.

Request i is due at start + i/rate whether or not earlier ones have answered, so a stalled
upstream shows up as slow or failed requests instead of silently lowering the offered load
(no coordinated omission). Latency is measured from the due time. Connections are kept alive
and reused; a new one is opened whenever none is idle, so a frozen backend cannot starve the
schedule. Every request is written as one CSV line:

    due_unix_s,latency_ms,status,error

status is 0 when the exchange failed (error names why). Standard library only.
"""

import argparse
import asyncio
import sys
import time


class Pool:
    """Idle keep-alive connections to one host:port."""

    def __init__(self, host, port):
        self.host = host
        self.port = port
        self.idle = []
        self.opened = 0

    async def get(self):
        while self.idle:
            reader, writer = self.idle.pop()
            if not writer.is_closing() and not reader.at_eof():
                return reader, writer
            writer.close()
        self.opened += 1
        return await asyncio.open_connection(self.host, self.port)

    def put(self, conn):
        self.idle.append(conn)


async def read_response(reader):
    """Reads one response; returns (status, keep_alive)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = None
    chunked = False
    close = False
    for line in lines[1:]:
        if ":" not in line:
            continue
        name, value = line.split(":", 1)
        name = name.strip().lower()
        value = value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection" and "close" in value:
            close = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length is not None:
        await reader.readexactly(length)
    else:
        await reader.read()
        close = True
    return status, not close


async def one(pool, request, due, timeout, out):
    now = time.time()
    if due > now:
        await asyncio.sleep(due - now)
    conn = None
    status, error = 0, ""
    try:
        async with asyncio.timeout(timeout):
            conn = await pool.get()
            reader, writer = conn
            writer.write(request)
            await writer.drain()
            status, keep = await read_response(reader)
        if keep:
            pool.put(conn)
        else:
            conn[1].close()
        conn = None
    except TimeoutError:
        error = "timeout"
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as e:
        error = type(e).__name__
    finally:
        if conn is not None:
            conn[1].close()
    out.append((due, (time.time() - due) * 1000.0, status, error))


async def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", required=True, help="host:port")
    p.add_argument("--path", default="/e2e")
    p.add_argument("--host-header", default="api.example.com")
    p.add_argument("--rate", type=float, default=500.0, help="requests per second")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of scheduled load")
    p.add_argument("--timeout", type=float, default=10.0, help="per-request limit, seconds")
    p.add_argument("--out", required=True, help="CSV file to write")
    a = p.parse_args()

    host, port = a.target.rsplit(":", 1)
    pool = Pool(host, int(port))
    request = (
        f"GET {a.path} HTTP/1.1\r\nHost: {a.host_header}\r\nUser-Agent: meridian-loadgen\r\n\r\n"
    ).encode()
    out = []
    start = time.time() + 0.2
    total = int(a.rate * a.duration)
    tasks = []
    # Create tasks in slices just ahead of their due time, so memory stays flat.
    for i in range(total):
        due = start + i / a.rate
        ahead = due - time.time()
        if ahead > 0.05:
            await asyncio.sleep(ahead - 0.05)
        tasks.append(asyncio.create_task(one(pool, request, due, a.timeout, out)))
    await asyncio.gather(*tasks)
    for _, writer in pool.idle:
        writer.close()
    out.sort()
    with open(a.out, "w") as f:
        f.write(f"# start={start:.6f} rate={a.rate} connections_opened={pool.opened}\n")
        f.write("due_unix_s,latency_ms,status,error\n")
        for due, ms, status, error in out:
            f.write(f"{due:.6f},{ms:.3f},{status},{error}\n")
    print(f"loadgen: {len(out)} requests, {pool.opened} connections opened", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
