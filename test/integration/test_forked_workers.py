#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Forked workers. (1) nginx with worker_processes 2 started after obi (selected by port): the
master is selected when it calls listen(), its two workers at fork; obi logs an
'instrumenting process pid=<worker>' line for each worker (reason fork-of-<master> or listen);
every span carries the pid of the worker that answered (nginx's $pid, echoed in the body), never
the master's. (2) servers/backend.py --fork (socketserver.ForkingMixIn: one child per
connection) started before obi: each request is answered by a fresh child, and its span carries
that child's pid (echoed by /pid), not the parent's."""
import re
import time

import obi_harness as h

N_NGINX = 12
N_FORK = 5


def nginx_part(obi, port, since):
    nginx = h.NginxServer(port, """
        location / { return 200 "$pid"; }
""", workers=2)
    workers = nginx.workers
    obi.expect_instrumented([nginx.pid, *workers])
    p = h.Problems()
    for w in workers:
        m = obi.wait_instrumented(w)
        line = m.string
        p.true(re.search(r"\bcmd=nginx\b", line), f"worker {w}: cmd=nginx expected in {line!r}")
        r = re.search(r"\breason=(\S+)", line)
        p.true(r and (r.group(1) in (f"fork-of-{nginx.pid}", "listen")),
               f"worker {w}: reason fork-of-{nginx.pid} or listen expected in {line!r}")
    p.raise_if_any("instrumenting lines of the nginx workers")

    answers = []
    for i in range(N_NGINX):   # one connection each, so both workers can get some
        r = h.curl(f"http://127.0.0.1:{port}/w/{i}")
        h.check_eq(r["http_code"], 200, f"curl GET /w/{i} status")
        pid = int(r["body"])
        h.check(pid in workers, f"nginx answered from pid {pid}, not one of its workers "
                                f"{workers}")
        answers.append((f"/w/{i}", r["local_port"], pid, len(r["body"])))
    spans = obi.wait_spans(N_NGINX, lambda s: s.get("network.local.port") == port,
                           what="nginx spans")
    by_port = {s.get("network.peer.port"): s for s in spans}
    h.check_eq(len(by_port), N_NGINX, "distinct client ports among the nginx spans")
    for path, cport, pid, size in answers:
        s = by_port.get(cport)
        if s is None:
            p.append(f"no span for {path} (client port {cport})")
            continue
        h.expect_span(s, f"nginx {path}", {
            "kind": "SERVER", "http.request.method": "GET", "url.path": path,
            "http.response.status_code": 200, "http.response.body.size": size,
            "network.local.port": port, "process.pid": pid, "service.name": "nginx"},
            since, p)
    p.raise_if_any("nginx worker spans")
    served = sorted({a[2] for a in answers})
    print(f"nginx: workers {workers}, answered by {served}", flush=True)
    return nginx


def fork_part(obi, backend, port, since):
    answers = []
    for i in range(N_FORK):
        r = h.curl(f"http://127.0.0.1:{port}/pid")
        h.check_eq(r["http_code"], 200, f"curl GET /pid #{i} status")
        child = int(r["body"])
        h.check(child != backend.pid, f"request #{i} answered by the parent {backend.pid}, "
                                      "expected a forked child")
        answers.append((r["local_port"], child, len(r["body"])))
    h.check_eq(len({a[1] for a in answers}), N_FORK,
               f"one child per connection: pids {[a[1] for a in answers]}")
    spans = obi.wait_spans(N_FORK, lambda s: s.get("network.local.port") == port,
                           what="forking-server spans")
    by_port = {s.get("network.peer.port"): s for s in spans}
    p = h.Problems()
    for i, (cport, child, size) in enumerate(answers):
        s = by_port.get(cport)
        if s is None:
            p.append(f"no span for request #{i} (client port {cport})")
            continue
        h.expect_span(s, f"forked child #{i}", {
            "kind": "SERVER", "http.request.method": "GET", "url.path": "/pid",
            "http.response.status_code": 200, "http.response.body.size": size,
            "network.local.port": port, "network.peer.port": cport, "process.pid": child,
            "telemetry.sdk.language": "python"}, since, p)
    for cport, child, size in answers:
        m = obi.wait_instrumented(child)
        p.true(f"reason=fork-of-{backend.pid}" in m.string,
               f"child {child}: reason=fork-of-{backend.pid} expected in {m.string!r}")
    p.raise_if_any("forked-child spans")


def main():
    ngx_port, fork_port = h.free_port(), h.free_port()
    backend = h.start_backend(fork_port, fork=True, name="forking-backend")
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": f"{ngx_port},{fork_port}"})
    since = time.time_ns()
    obi.expect_instrumented([backend.pid])
    nginx = nginx_part(obi, ngx_port, since)
    fork_part(obi, backend, fork_port, since)
    parents = [s for s in obi.spans if s.get("process.pid") in (backend.pid, nginx.pid)]
    h.check(not parents, f"spans from the nginx master {nginx.pid} or the forking parent "
                         f"{backend.pid}: {[h.short(s) for s in parents]}")
    h.expect_distinct_ids(obi.spans)
    obi.stop(expect_total=N_NGINX + N_FORK)


h.run(main)
