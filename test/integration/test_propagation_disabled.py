#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""OTEL_EBPF_BPF_CONTEXT_PROPAGATION.

`disabled`: obi logs that propagation is disabled (and never that it is on), pins no sock_hash,
and writes nothing into requests: through nginx and through the threaded python proxy the
backend receives NO traceparent, and a client's own traceparent passes through nginx byte for
byte; spans are still produced (3 per request: the proxy's SERVER and CLIENT, linked inside the
process, and the backend's SERVER, a trace of its own).

`ip` (OBI's IP-options mode, not supported) and an unknown value, as the variable or as
--context-propagation: exit code 2 and one stderr line naming the variable or flag."""
import json
import os
import subprocess
import time

import obi_harness as h

CLIENT_TP = "00-6af7651916cd43dd8448eb211c80319c-d7ad6b7169203331-01"

BAD = [
    ({"OTEL_EBPF_BPF_CONTEXT_PROPAGATION": "ip"}, [], "OTEL_EBPF_BPF_CONTEXT_PROPAGATION"),
    ({"OTEL_EBPF_BPF_CONTEXT_PROPAGATION": "sometimes"}, [],
     "OTEL_EBPF_BPF_CONTEXT_PROPAGATION"),
    ({}, ["--context-propagation", "ip"], "--context-propagation"),
]


def bad_values(p, port):
    for env, args, name in BAD:
        what = " ".join([f"{k}={v}" for k, v in env.items()] + ["obi"] + args)
        try:
            r = subprocess.run([h.OBI_BIN, *args], stdin=subprocess.DEVNULL, capture_output=True,
                               env=h.clean_env({"OTEL_EBPF_OPEN_PORT": str(port), **env}),
                               timeout=10)
        except subprocess.TimeoutExpired:
            p.append(f"{what}: did not exit within 10 s (should reject the value at once)")
            continue
        err = [l for l in r.stderr.decode(errors="replace").splitlines() if l.strip()]
        p.eq(f"{what}: exit code", r.returncode, 2)
        p.eq(f"{what}: stdout", r.stdout.decode(errors="replace"), "")
        if len(err) != 1:
            p.append(f"{what}: expected exactly one stderr line, got {len(err)}: {err}")
        elif name not in err[0]:
            p.append(f"{what}: the stderr line should name {name}: {err[0]!r}")
        else:
            print(f"{what}: {err[0]}", flush=True)


def main():
    p = h.Problems()
    p1, p2, p3 = h.free_port(), h.free_port(), h.free_port()
    bad_values(p, p3)

    backend = h.start_echo_backend(p3)
    nginx = h.Nginx(p1, p3)
    proxy = h.start_trace_proxy(p2, p3)
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": f"{p1},{p2},{p3}",
                 "OTEL_EBPF_BPF_CONTEXT_PROPAGATION": "disabled"})
    since = time.time_ns()
    obi.expect_instrumented([nginx.worker, proxy.pid, backend.pid])
    obi.wait_stderr(r"traceparent propagation disabled \(OTEL_EBPF_BPF_CONTEXT_PROPAGATION\)",
                    5.0, "log line 'traceparent propagation disabled (...)'")
    p.true("traceparent propagation on" not in obi.stderr(),
           "obi logged that propagation is on although it is disabled")
    p.true(not os.path.exists(f"/sys/fs/bpf/obi/sockhash-{obi.pid}"),
           f"obi pinned /sys/fs/bpf/obi/sockhash-{obi.pid} although propagation is disabled")

    total = 0
    for name, port, pid in (("nginx", p1, nginx.worker), ("python proxy", p2, proxy.pid)):
        for own in (None, CLIENT_TP):
            label = f"{name}, {'the client sends its own traceparent' if own else 'no traceparent'}"
            args = ["-H", f"traceparent: {own}"] if own else []
            r = h.curl(f"http://127.0.0.1:{port}/headers", *args)
            p.eq(f"{label}: status", r["http_code"], 200)
            got = json.loads(r["body"])
            p.eq(f"{label}: traceparent headers the backend received",
                 h.header_values(got, "traceparent"), [own] if own else [])
            total += 3
            spans = obi.wait_spans(total, what=f"spans after: {label}")[-3:]
            roles = {(s.get("kind"), s.get("process.pid")): s for s in spans}
            want = {("SERVER", pid), ("CLIENT", pid), ("SERVER", backend.pid)}
            if set(roles) != want:
                p.append(f"{label}: span roles {sorted(roles, key=str)}, expected "
                         f"{sorted(want, key=str)}")
                continue
            srv, cli, be = roles[("SERVER", pid)], roles[("CLIENT", pid)], roles[("SERVER",
                                                                                   backend.pid)]
            trace = own.split("-")[1] if own else srv.get("trace_id")
            h.expect_span(srv, f"{label}: proxy SERVER", {
                "trace_id": trace, "parent_span_id": own.split("-")[2] if own else h.NO_PARENT},
                since, p)
            h.expect_span(cli, f"{label}: proxy CLIENT", {
                "trace_id": trace, "parent_span_id": srv.get("span_id")}, since, p)
            if own:   # the backend continues the client's header, which reached it unchanged
                h.expect_span(be, f"{label}: backend SERVER", {
                    "trace_id": trace, "parent_span_id": own.split("-")[2]}, since, p)
            else:     # nothing was injected: a trace of its own
                h.expect_span(be, f"{label}: backend SERVER", {
                    "parent_span_id": h.NO_PARENT}, since, p)
                p.true(be.get("trace_id") != trace, f"{label}: the backend span has the "
                       f"proxy's trace id {trace} although nothing was injected")
    obi.stop(expect_total=total)
    p.raise_if_any("OTEL_EBPF_BPF_CONTEXT_PROPAGATION")


h.run(main)
