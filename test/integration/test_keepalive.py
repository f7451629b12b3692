#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""1000 requests on ONE keep-alive connection to a selected HTTP/1.1 server: exactly 1000 SERVER
spans, in the order sent, each with its own path, status and body size."""
import http.client
import time

import obi_harness as h

N = 1000


def main():
    port = h.free_port()
    server = h.start_backend(port)
    svc = h.exe_basename(server.pid)
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(port)})
    since = time.time_ns()

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.connect()
    local_port = conn.sock.getsockname()[1]
    for i in range(N):
        conn.request("GET", f"/r/{i}")
        resp = conn.getresponse()
        body = resp.read()
        h.check(resp.status == 200 and len(body) == h.r_body_size(i),
                f"request {i}: expected 200 with {h.r_body_size(i)} bytes, got {resp.status} "
                f"with {len(body)}")
        h.check(not resp.will_close, f"request {i}: server wants to close the connection")
    h.check_eq(conn.sock.getsockname()[1], local_port, "client port (one connection)")
    conn.close()

    spans = obi.wait_spans(N, timeout=20, what="SERVER spans")
    p = h.Problems()
    for i, s in enumerate(spans):
        h.expect_span(s, f"span {i}", {
            "kind": "SERVER", "http.request.method": "GET", "url.path": f"/r/{i}",
            "http.response.status_code": 200, "http.request.body.size": 0,
            "http.response.body.size": h.r_body_size(i), "server.port": port,
            "network.local.port": port, "network.peer.port": local_port,
            "process.pid": server.pid, "service.name": svc,
            "parent_span_id": h.NO_PARENT}, since, p)
    starts = [s.get("start_time_unix_nano", 0) for s in spans]
    p.true(starts == sorted(starts), "start times of spans in printed order are not increasing")
    for i in range(1, len(spans)):
        a, b = spans[i - 1], spans[i]
        if b.get("start_time_unix_nano", 0) < a.get("end_time_unix_nano", 0):
            p.append(f"span {i} starts before span {i - 1} ended (sequential requests)")
    p.raise_if_any(f"{N} keep-alive spans (printed order: "
                   f"{[s.get('url.path') for s in spans[:5]]} ...)")
    h.expect_distinct_ids(spans)
    h.check_eq(len({s["trace_id"] for s in spans}), N, "distinct trace ids")
    obi.stop(expect_total=N)


h.run(main)
