#!/usr/bin/python3
"""The lab's replication link: a TCP relay in front of one region's PostgreSQL.

Patroni gives every node a `connect_address`; replicas stream from the writer's. In the lab
that address is this relay (region IP, port 5433), which forwards to the region's PostgreSQL
(port 5432). It reads each connection's startup packet to learn the client's
`application_name` (Patroni names a replica's stream after its member, i.e. its region), so a
link can be cut per pair of regions: while the file CUT_DIR/<this region>/<peer region> exists,
the relay refuses that peer's connections and drops the ones open, discarding whatever it held
in flight, as a network partition between the two regions would. Remove the file and the
replica reconnects (wal_retrieve_retry_interval).

Applications and Meridian connect to port 5432 directly and are never cut.
Standard library only: it runs with Debian's /usr/bin/python3, like Patroni.
"""

import argparse
import asyncio
import os
import struct

SSL_REQUEST = 80877103
GSS_REQUEST = 80877104
CANCEL_REQUEST = 80877102


def cut(cut_dir, region, peer):
    return peer is not None and os.path.exists(os.path.join(cut_dir, region, peer))


async def read_startup(reader, writer, upstream_w, upstream_r):
    """Passes SSL/GSS negotiation through, returns (startup packet bytes, application_name)."""
    while True:
        head = await reader.readexactly(8)
        length, code = struct.unpack("!ii", head)
        if length == 8 and code in (SSL_REQUEST, GSS_REQUEST):
            upstream_w.write(head)
            await upstream_w.drain()
            answer = await upstream_r.readexactly(1)
            writer.write(answer)
            await writer.drain()
            if answer != b"N":
                # Encrypted from here on: the name cannot be read; relay it uncut.
                return head[:0], None
            continue
        if length < 8 or length > 10000:
            raise ValueError("not a PostgreSQL startup packet")
        rest = await reader.readexactly(length - 8)
        packet = head + rest
        if code == CANCEL_REQUEST:
            return packet, None
        fields = rest.split(b"\x00")
        params = dict(zip(fields[0::2], fields[1::2]))
        name = params.get(b"application_name")
        return packet, name.decode("utf-8", "replace") if name else None


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def serve(args, client_r, client_w):
    try:
        up_r, up_w = await asyncio.open_connection(args.upstream_host, args.upstream_port)
    except OSError:
        client_w.close()
        return
    try:
        packet, peer = await read_startup(client_r, client_w, up_w, up_r)
    except (asyncio.IncompleteReadError, ValueError, ConnectionError):
        client_w.close()
        up_w.close()
        return
    if cut(args.cut_dir, args.region, peer):
        client_w.close()
        up_w.close()
        return
    up_w.write(packet)
    tasks = [
        asyncio.ensure_future(pipe(client_r, up_w)),
        asyncio.ensure_future(pipe(up_r, client_w)),
    ]
    # Watch the cut file while the connection lives; a cut drops it, buffers and all.
    while not all(t.done() for t in tasks):
        if cut(args.cut_dir, args.region, peer):
            for t in tasks:
                t.cancel()
            client_w.transport.abort()
            up_w.transport.abort()
            break
        await asyncio.wait(tasks, timeout=0.1)


async def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", required=True, help="host:port")
    p.add_argument("--upstream", required=True, help="host:port of PostgreSQL")
    p.add_argument("--region", required=True, help="the region this relay fronts")
    p.add_argument("--cut-dir", required=True)
    args = p.parse_args()
    host, port = args.listen.rsplit(":", 1)
    args.upstream_host, up_port = args.upstream.rsplit(":", 1)
    args.upstream_port = int(up_port)
    server = await asyncio.start_server(
        lambda r, w: serve(args, r, w), host, int(port), reuse_address=True
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
