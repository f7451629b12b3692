#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""nginx on P1 (keep-alive upstream) in front of the python backend on P2, both selected with
OTEL_EBPF_OPEN_PORT=P1,P2; one curl to nginx gives exactly 3 spans: SERVER at the nginx
worker, CLIENT at the nginx worker (peer P2), SERVER at the backend."""
import time

import obi_harness as h

SIZE = 4321


def main():
    p1, p2 = h.free_port(), h.free_port()
    backend = h.start_backend(p2, env={"OTEL_SERVICE_NAME": "obi-test-backend"})
    nginx = h.Nginx(p1, p2)
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": f"{p1},{p2}"})
    since = time.time_ns()
    obi.expect_instrumented([nginx.worker, backend.pid])

    r = h.curl(f"http://127.0.0.1:{p1}/size/{SIZE}?via=nginx", "-A", "obi-test-curl/1")
    h.check_eq((r["http_code"], len(r["body"])), (200, SIZE), "curl through nginx")

    spans = obi.wait_spans(3, what="spans for one proxied request")
    by_role = {}
    for s in spans:
        role = (s.get("kind"), s.get("process.pid"))
        h.check(role not in by_role, f"two {role} spans: {[h.short(x) for x in spans]}")
        by_role[role] = s
    want_roles = {("SERVER", nginx.worker), ("CLIENT", nginx.worker), ("SERVER", backend.pid)}
    h.check_eq(set(by_role), want_roles, "(kind, pid) of the 3 spans (nginx worker "
               f"{nginx.worker}, backend {backend.pid})")
    ng_srv = by_role[("SERVER", nginx.worker)]
    ng_cli = by_role[("CLIENT", nginx.worker)]
    be_srv = by_role[("SERVER", backend.pid)]

    p = h.Problems()
    common = {"http.request.method": "GET", "url.path": f"/size/{SIZE}",
              "http.response.status_code": 200, "http.request.body.size": 0,
              "http.response.body.size": SIZE}
    h.expect_span(ng_srv, "nginx SERVER", {
        **common, "kind": "SERVER", "server.address": "127.0.0.1", "server.port": p1,
        "network.local.port": p1,
        "network.peer.port": r["local_port"], "client.address": "127.0.0.1",
        "service.name": "nginx"}, since, p)
    h.expect_span(ng_cli, "nginx CLIENT", {
        **common, "kind": "CLIENT", "server.address": h.Nginx.UPSTREAM, "server.port": p2,
        "network.peer.address": "127.0.0.1", "network.peer.port": p2,
        "service.name": "nginx"}, since, p)
    h.expect_span(be_srv, "backend SERVER", {
        **common, "kind": "SERVER", "server.address": h.Nginx.UPSTREAM, "server.port": p2,
        "network.local.port": p2,
        "network.peer.port": ng_cli.get("network.local.port"),
        "service.name": "obi-test-backend", "telemetry.sdk.language": "python"}, since, p)
    p.true(ng_srv.get("start_time_unix_nano", 0) <= ng_cli.get("start_time_unix_nano", 0)
           <= be_srv.get("start_time_unix_nano", 0),
           "start times should be nginx SERVER <= nginx CLIENT <= backend SERVER")
    p.true(be_srv.get("end_time_unix_nano", 0) <= ng_cli.get("end_time_unix_nano", 0)
           <= ng_srv.get("end_time_unix_nano", 0),
           "end times should be backend SERVER <= nginx CLIENT <= nginx SERVER")
    p.raise_if_any("proxied spans")
    h.expect_distinct_ids(spans)
    obi.stop(expect_total=3)


h.run(main)
