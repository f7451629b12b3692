#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Three hops, like an Envoy TCP-proxy setup: curl -> haproxy (`mode tcp`, P1) -> nginx (P2,
keep-alive upstream) -> the python backend (P3) echoing the headers it received (/headers); all
three selected with OTEL_EBPF_OPEN_PORT=P1,P2,P3, all started before obi.

Each of 3 curls (the first without a traceparent: haproxy's request gets one inserted; the second
with the client's own: continued and rewritten in place; the third again without, over nginx's
kept-alive upstream connection) gives exactly 5 spans of ONE trace:
SERVER(haproxy) -> CLIENT(haproxy) -> SERVER(nginx) -> CLIENT(nginx) -> SERVER(backend), each
span's parent_span_id the previous one's span_id; the backend received exactly one traceparent,
00-<trace>-<nginx CLIENT span id>-01."""
import json
import time

import obi_harness as h

CLIENT_T, CLIENT_P = "5af7651916cd43dd8448eb211c80319c", "c7ad6b7169203331"
REQUESTS = [None, (CLIENT_T, CLIENT_P), None]   # the client's own traceparent, if any


def main():
    p1, p2, p3 = h.free_port(), h.free_port(), h.free_port()
    backend = h.start_backend(p3, env={"OTEL_SERVICE_NAME": "obi-test-backend"})
    nginx = h.Nginx(p2, p3)
    haproxy = h.Haproxy(p1, p2)
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": f"{p1},{p2},{p3}"})
    since = time.time_ns()
    h.wait_propagation_on(obi)
    obi.expect_instrumented([haproxy.pid, nginx.worker, backend.pid])

    p = h.Problems()
    total = 0
    traces = []
    for i, theirs in enumerate(REQUESTS):
        args = ["-A", "obi-test-curl/1"]
        if theirs:
            args += ["-H", f"traceparent: 00-{theirs[0]}-{theirs[1]}-01"]
        r = h.curl(f"http://127.0.0.1:{p1}/headers", *args)
        h.check_eq(r["http_code"], 200, f"request {i}: curl through haproxy and nginx")
        got = json.loads(r["body"])
        total += 5
        spans = obi.wait_spans(total, what=f"spans after request {i} (5 per request)")[-5:]

        # order the 5 spans by role; each role exactly once
        want_roles = [("SERVER", haproxy.pid, p1), ("CLIENT", haproxy.pid, p2),
                      ("SERVER", nginx.worker, p2), ("CLIENT", nginx.worker, p3),
                      ("SERVER", backend.pid, p3)]
        roles = {}
        for s in spans:
            role = (s.get("kind"), s.get("process.pid"), s.get("server.port"))
            h.check(role not in roles and role in want_roles,
                    f"request {i}: unexpected or repeated span role {role} among "
                    f"{[h.short(x) for x in spans]}")
            roles[role] = s
        chain = [roles[r] for r in want_roles]
        names = ["haproxy SERVER", "haproxy CLIENT", "nginx SERVER", "nginx CLIENT",
                 "backend SERVER"]
        trace = theirs[0] if theirs else chain[0].get("trace_id")
        parent = theirs[1] if theirs else h.NO_PARENT
        for name, s in zip(names, chain):
            h.expect_span(s, f"request {i}: {name}", {
                "trace_id": trace, "parent_span_id": parent, "url.path": "/headers",
                "http.request.method": "GET", "http.response.status_code": 200}, since, p)
            parent = s.get("span_id")
        traces.append(trace)
        tps = h.header_values(got, "traceparent")
        p.eq(f"request {i}: traceparent headers the backend received", tps,
             [f"00-{trace}-{chain[3].get('span_id')}-01"])
        h.expect_distinct_ids(spans)

    p.eq("distinct trace ids of the 3 requests", len(set(traces)), len(REQUESTS))
    obi.stop(expect_total=total)
    p.raise_if_any("the three-hop chains")


h.run(main)
