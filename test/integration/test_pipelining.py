#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Three pipelined requests written in ONE send on a raw socket (GET /a, GET /b, GET /missing):
three SERVER spans in order with statuses 200, 200, 404."""
import socket
import time

import obi_harness as h


def read_response(f):
    """Reads one HTTP/1.1 response with Content-Length from a buffered socket file."""
    status_line = f.readline().decode()
    h.check(status_line.startswith("HTTP/1.1 "), f"bad status line {status_line!r}")
    status = int(status_line.split()[1])
    length = None
    while True:
        line = f.readline().decode()
        h.check(line != "", "connection closed inside the headers")
        if line in ("\r\n", "\n"):
            break
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    h.check(length is not None, "response without Content-Length")
    return status, f.read(length)


def main():
    port = h.free_port()
    server = h.start_backend(port)
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(port)})
    since = time.time_ns()

    reqs = [f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: raw\r\n\r\n"
            for path in ("/a", "/b", "/missing")]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        local_port = sock.getsockname()[1]
        sock.sendall("".join(reqs).encode())
        f = sock.makefile("rb")
        got = [read_response(f) for _ in range(3)]
    want = [(200, b"alpha\n"), (200, b"bravo!!\n"), (404, h.BACKEND_NOT_FOUND)]
    h.check_eq(got, want, "the three pipelined responses")

    spans = obi.wait_spans(3, what="SERVER spans")
    p = h.Problems()
    for i, (s, path, (status, body)) in enumerate(zip(spans, ("/a", "/b", "/missing"), want)):
        h.expect_span(s, f"span {i} ({path})", {
            "kind": "SERVER", "http.request.method": "GET", "url.path": path,
            "http.response.status_code": status, "http.request.body.size": 0,
            "http.response.body.size": len(body), "network.local.port": port,
            "network.peer.port": local_port, "process.pid": server.pid}, since, p)
    p.raise_if_any("pipelined spans, printed order " + str([h.short(s) for s in spans]))
    h.expect_distinct_ids(spans)
    obi.stop(expect_total=3)


h.run(main)
