#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""CLIENT spans: a python http.client process selected by OTEL_EBPF_TARGET_PID sends 3 GETs on
one keep-alive connection to a server that is NOT selected."""
import json
import os
import time

import obi_harness as h


def main():
    port = h.free_port()
    server = h.start_backend(port, name="unselected-backend")
    paths = ["/r/5", "/size/3000", "/missing?q=1"]
    client = h.Proc([h.PYTHON, "-u", os.path.join(h.SERVERS, "client.py"), "--port", str(port),
                     "--host-header", f"localhost:{port}", *paths], name="client", stdin=True,
                    env={"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test,"
                                                     "service.name=obi-test-client"})
    client.wait_output(r"^READY pid=\d+")

    obi = h.Obi({"OTEL_EBPF_TARGET_PID": str(client.pid)})
    since = time.time_ns()
    obi.expect_instrumented([client.pid], only=True)

    client.send_line("go")
    res = json.loads(client.wait_output(r"^RESULT (.*)$").group(1))
    want = [["/r/5", 200, h.r_body_size(5)], ["/size/3000", 200, 3000],
            ["/missing?q=1", 404, len(h.BACKEND_NOT_FOUND)]]
    h.check_eq(res["results"], want, "client's own view of its 3 requests")

    spans = obi.wait_spans(3, what="CLIENT spans")
    p = h.Problems()
    for i, (s, (path, status, size)) in enumerate(zip(spans, want)):
        h.expect_span(s, f"client span {i} ({path})", {
            "kind": "CLIENT", "type": "HTTPClient", "http.request.method": "GET",
            "url.path": path.split("?")[0], "http.response.status_code": status,
            "http.request.body.size": 0, "http.response.body.size": size,
            "server.address": "localhost", "server.port": port,
            "network.local.address": "127.0.0.1", "network.local.port": res["local_port"],
            "network.peer.address": "127.0.0.1", "network.peer.port": port,
            "process.pid": client.pid, "thread.id": client.pid,
            "service.name": "obi-test-client", "telemetry.sdk.language": "python",
            "parent_span_id": h.NO_PARENT}, since, p)
        if "user_agent.original" in s:
            p.eq(f"client span {i}: user_agent.original", s["user_agent.original"],
                 "obi-test-client/1")
    p.raise_if_any("client span fields")
    h.expect_distinct_ids(spans)
    ends = [s["end_time_unix_nano"] for s in spans]
    h.check(ends == sorted(ends), f"client spans should be printed in request order: {ends}")
    client.send_line("quit")
    obi.stop(expect_total=3)


h.run(main)
