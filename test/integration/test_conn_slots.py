#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""2,500 keep-alive connections open at once to a selected server, two requests on each.

obi keeps a connection's kernel state in conn_slots, an open-addressed table of 32,768 slots:
the first free one of the 8 from the connection's home slot (a multiplicative hash of the low
32 bits of the socket's address). With 2,500 sockets about 95 find their home slot taken and
sit further on. Checks: 5,000 SERVER spans, each with its connection's peer port, path,
status and body size; while the connections are open exactly 2,500 more slots have an owner
than before, some of them away from their home slot (the probing was exercised), none further
than 7; after the close the table is back to where it was, and no connection was refused for
want of a slot (conn_table_full=0 in the exit summary)."""
import asyncio
import resource
import time

import obi_harness as h

N = 2500

# One-thread asyncio HTTP/1.1 server: GET /c/<i> -> 200 with a body of i % 97 + 1 bytes.
SERVER = r"""
import asyncio, resource, sys
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            body = b"x" * (int(path.rsplit("/", 1)[1]) % 97 + 1)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), backlog=4096)
    print("READY", flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""


def body_size(i):
    return i % 97 + 1


async def request(reader, writer, i):
    writer.write(f"GET /c/{i} HTTP/1.1\r\nHost: slots\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    body = await reader.readexactly(length)
    h.check(head.startswith(b"HTTP/1.1 200 ") and len(body) == body_size(i),
            f"request {i}: unexpected answer {head[:60]!r} with {len(body)} body bytes")


SLOT_BITS, PROBE = 15, 8


def home(sk):
    return ((sk & 0xffffffff) * 2654435761 & 0xffffffff) >> (32 - SLOT_BITS)


def owned_slots(maps):
    """{slot index: owning socket address} of conn_slots."""
    dump = h._bpftool_json("map", "dump", "id", str(maps["conn_slots"]))
    return {e["formatted"]["key"]: e["formatted"]["value"]["sk"] for e in dump
            if e["formatted"]["value"]["sk"]}


async def clients(port, maps):
    """Opens the N connections, makes two rounds of requests, counts the kernel's connection
    state while all are open, closes them. Returns ({request index % N: client port}, counts)."""
    conns = []
    for start in range(0, N, 250):
        conns += await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port)
                                        for _ in range(start, min(N, start + 250))))
    peer = {i: w.get_extra_info("sockname")[1] for i, (_, w) in enumerate(conns)}
    h.check_eq(len(set(peer.values())), N, "distinct client ports")
    for rnd in range(2):
        await asyncio.gather(*(request(r, w, rnd * N + i) for i, (r, w) in enumerate(conns)))
    during = owned_slots(maps)
    for _, w in conns:
        w.close()
    await asyncio.sleep(0.2)
    return peer, during


def main():
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < N + 200:
        h.fail(f"RLIMIT_NOFILE hard limit {hard} is below the {N + 200} descriptors this test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    port = h.free_port()
    server = h.Proc([h.PYTHON, "-c", SERVER, str(port)], name="asyncio-server")
    server.wait_output(r"^READY")
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(port)})
    obi.expect_instrumented([server.pid], only=True)
    maps = h.bpf_maps_of(obi.pid)
    before = owned_slots(maps)
    since = time.time_ns()
    peer, during = asyncio.run(clients(port, maps))
    distance = [(slot - home(sk)) % (1 << SLOT_BITS) for slot, sk in during.items()
                if slot not in before]
    print(f"owned slots before {len(before)}, with {N} connections open {len(during)}; "
          f"away from home: {sum(1 for d in distance if d)} (farthest {max(distance)})",
          flush=True)

    spans = obi.wait_spans(2 * N, timeout=30, what="SERVER spans")
    p = h.Problems()
    p.eq("slots taken by the connections", len(during) - len(before), N)
    p.true(any(distance), "every connection sat in its home slot: the probing was not exercised")
    p.true(max(distance) < PROBE, f"a connection {max(distance)} slots from its home slot")
    seen = {}
    for s in spans:
        path = s.get("url.path", "")
        try:
            j = int(path.rsplit("/", 1)[1])
        except (IndexError, ValueError):
            p.append(f"span with unexpected path {path!r}")
            continue
        seen[j] = seen.get(j, 0) + 1
        h.expect_span(s, f"span {path}", {
            "kind": "SERVER", "http.request.method": "GET", "http.response.status_code": 200,
            "http.response.body.size": body_size(j), "network.local.port": port,
            "network.peer.port": peer[j % N], "process.pid": server.pid,
            "parent_span_id": h.NO_PARENT}, since, p)
    p.eq("paths with exactly one span", sum(1 for j in range(2 * N) if seen.get(j) == 1), 2 * N)

    deadline = time.monotonic() + 15
    while True:
        after = owned_slots(maps)
        if after == before or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    p.eq("owned slots after the connections closed", len(after), len(before))
    p.raise_if_any(f"{N} concurrent connections")
    obi.stop(expect_total=2 * N)
    h.check_eq(obi.summary().get("conn_table_full"), 0, "connections refused for want of a slot")


h.run(main)
