#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Two servers, only one selected by OTEL_EBPF_OPEN_PORT; traffic to both; spans only from the
selected one (and none from curl)."""
import time

import obi_harness as h

N = 5


def main():
    sel_port, other_port = h.free_port(), h.free_port()
    selected = h.start_backend(sel_port, name="selected")
    other = h.start_backend(other_port, name="other")
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(sel_port)})
    since = time.time_ns()
    obi.expect_instrumented([selected.pid], only=True)

    sent = []
    for i in range(N):
        for port in (other_port, sel_port):
            r = h.curl(f"http://127.0.0.1:{port}/r/{i}")
            h.check_eq((r["http_code"], len(r["body"])), (200, h.r_body_size(i)),
                       f"GET /r/{i} on port {port}")
            if port == sel_port:
                sent.append((i, r["local_port"]))

    spans = obi.wait_spans(N, what=f"spans (only the {N} requests to the selected server)")
    p = h.Problems()
    for s, (i, cport) in zip(spans, sent):
        h.expect_span(s, f"span /r/{i}", {
            "kind": "SERVER", "url.path": f"/r/{i}", "http.response.status_code": 200,
            "http.response.body.size": h.r_body_size(i), "network.local.port": sel_port,
            "network.peer.port": cport, "process.pid": selected.pid}, since, p)
    p.raise_if_any("spans of the selected server")
    obi.expect_instrumented([selected.pid], only=True)
    obi.stop(expect_total=N)


h.run(main)
