#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Parent links under concurrency: 50 client threads at once, each with its own keep-alive
connection and 4 requests with paths of their own, through
  (i)  servers/trace_proxy.py (a thread per connection, forwarding with http.client from the
       thread that read the request: a thread-per-request server), and
  (ii) nginx (one worker, an event loop, keep-alive upstream),
both in front of servers/echo_backend.py; all selected by port, none sends a traceparent.

Each proxy gives exactly 200 SERVER, 200 CLIENT and the backend 200 SERVER spans (matched by
path). Reported for each proxy: the share of its CLIENT spans whose trace id and parent are those
of its SERVER span of the same request, and the share of backend SERVER spans whose trace id and
parent are those of the proxy's CLIENT span of the same request. Required: 100% / 100% for the
thread-per-request proxy, at least 95% / 95% for nginx."""
import http.client
import json
import sys
import threading
import time

import obi_harness as h

sys.path.insert(0, h.SERVERS)
from backend import r_body  # noqa: E402

CLIENTS = 50
PER_CLIENT = 4
N = CLIENTS * PER_CLIENT


def run_clients(port, base):
    """50 threads, one connection each, 4 GETs of /r/<base + 10 * client + k>; returns the
    failures."""
    start = threading.Barrier(CLIENTS)
    failures = []

    def client(c):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            start.wait(30)
            for k in range(PER_CLIENT):
                i = base + 10 * c + k
                conn.request("GET", f"/r/{i}")
                r = conn.getresponse()
                body = r.read()
                if (r.status, body) != (200, r_body(i)):
                    failures.append(f"/r/{i}: {r.status} {body[:40]!r}")
        except Exception as e:  # reported by the main thread
            failures.append(f"client {c}: {type(e).__name__}: {e}")
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    h.check(not any(t.is_alive() for t in threads), "client threads did not finish in 120 s")
    return failures


def shares(obi, name, proxy_pids, backend_pid, base, since):
    paths = {f"/r/{base + 10 * c + k}" for c in range(CLIENTS) for k in range(PER_CLIENT)}
    spans = obi.wait_spans(3 * N, pred=lambda s: s.get("url.path") in paths, timeout=60,
                           what=f"{name}: spans of its {N} requests (3 each)")
    roles = {}
    p = h.Problems()
    for s in spans:
        if s.get("process.pid") == backend_pid and s.get("kind") == "SERVER":
            role = "backend"
        elif s.get("process.pid") in proxy_pids:
            role = "proxy " + s.get("kind", "?")
        else:
            p.append(f"{name}: span of an unexpected process: {h.short(s)}")
            continue
        key = (role, s["url.path"])
        if key in roles:
            p.append(f"{name}: two {role} spans for {s['url.path']}")
        roles[key] = s
        h.expect_span(s, f"{name} {role} {s['url.path']}", {"http.response.status_code": 200},
                      since, p)
    for role in ("proxy SERVER", "proxy CLIENT", "backend"):
        n = sum(1 for r, _ in roles if r == role)
        p.eq(f"{name}: number of {role} spans", n, N)
    p.raise_if_any(f"{name}: the spans")

    client_ok = backend_ok = 0
    for path in paths:
        srv, cli = roles[("proxy SERVER", path)], roles[("proxy CLIENT", path)]
        be = roles[("backend", path)]
        if (cli["trace_id"], cli["parent_span_id"]) == (srv["trace_id"], srv["span_id"]):
            client_ok += 1
        if (be["trace_id"], be["parent_span_id"]) == (cli["trace_id"], cli["span_id"]):
            backend_ok += 1
    return client_ok / N, backend_ok / N


def main():
    p1, p2, p3 = h.free_port(), h.free_port(), h.free_port()
    backend = h.start_echo_backend(p3)
    proxy = h.start_trace_proxy(p1, p3)
    nginx = h.Nginx(p2, p3)
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": f"{p1},{p2},{p3}"})
    since = time.time_ns()
    h.wait_propagation_on(obi)
    obi.expect_instrumented([proxy.pid, nginx.worker, backend.pid])

    results = {}
    for name, port, pids, base, want in (
            ("threaded python proxy", p1, {proxy.pid}, 100000, 1.0),
            ("nginx", p2, {nginx.worker}, 200000, 0.95)):
        failures = run_clients(port, base)
        h.check(not failures, f"{name}: requests failed: {failures[:10]}")
        cli, be = shares(obi, name, pids, backend.pid, base, since)
        results[name] = {"proxy CLIENT parented by its SERVER": f"{100 * cli:.1f}%",
                         "backend SERVER parented by the proxy CLIENT": f"{100 * be:.1f}%",
                         "required": f">= {100 * want:.0f}%", "ok": cli >= want and be >= want}
        print(f"{name}: {json.dumps(results[name])}", flush=True)
    bad = {k: v for k, v in results.items() if not v["ok"]}
    h.check(not bad, f"parenting shares below the goal: {json.dumps(bad)}")
    obi.stop(expect_total=2 * 3 * N)


h.run(main)
