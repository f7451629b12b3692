#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The sampled flag is decided where a span starts and carried: a client (this script, not
selected) -> nginx (selected, proxying) -> servers/echo_backend.py (selected), which answers
/headers with the headers it received, so the test sees the traceparent nginx's request carried.
For every request: the trace has nginx's SERVER span, nginx's CLIENT span and the backend's
SERVER span, all printed; the traceparent the backend received says the trace's decision
("-01" or "-00"), and the OTLP receiver got all three spans of a sampled trace and none of an
unsampled one; obi's summary counts the spans it sampled out.

  - parentbased_traceidratio, ratio 0: every trace unsampled ("-00"), nothing exported.
  - parentbased_traceidratio, ratio 0.5: each trace's flag is the traceidratio rule on its
    trace id (its last 8 bytes, big-endian, shifted right by one, below 0.5 * 2^63), and
    exactly the sampled traces are exported.
  - the default sampler (parentbased_always_on) with an incoming "-00" traceparent: followed,
    nothing exported; with "-01": all exported.
  - traceidratio (not parent-based), ratio 1, incoming "-00": the parent's flag does not
    decide, every span sampled and sent on "-01"."""
import json
import os
import re
import urllib.request

import harness_otlp as ho
import obi_harness as h

UPSTREAM = "obi_backend"
BOUND_HALF = 1 << 62   # 0.5 * 2^63


def ratio_keep(trace_id_hex, bound):
    return (int(trace_id_hex[16:], 16) >> 1) < bound


def get(port, path, traceparent=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if traceparent:
        req.add_header("traceparent", traceparent)
    with urllib.request.urlopen(req, timeout=10) as r:
        return h.header_values(json.loads(r.read()), "traceparent")


def otlp_summary(obi):
    """The counters of obi's 'otlp summary:' line (printed at exit)."""
    lines = [l for l in obi.stderr().splitlines() if "otlp summary:" in l]
    h.check(lines, "obi printed no 'otlp summary:' line")
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", lines[-1].split("summary:", 1)[1])}


def run(label, p, env, requests, expect_flag):
    """`requests`: [(path, incoming traceparent or None)]; expect_flag(trace id, incoming)
    says the flag ("01"/"00") the trace must carry."""
    nginx, port, backend, backend_port = start_chain()
    recv = ho.OtlpReceiver(name=f"otlp-receiver-{label}")
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": f"{port},{backend_port}",
                 "OTEL_EXPORTER_OTLP_ENDPOINT": recv.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200",
                 "OTEL_EBPF_TRACE_PRINTER": "json", **env}, name=f"obi-{label}")
    h.wait_propagation_on(obi)
    obi.expect_instrumented([nginx.workers[0], backend.pid])
    received = {}
    for path, incoming in requests:
        tps = get(port, path, incoming)
        if len(tps) != 1:
            p.append(f"{label}: {path}: the backend got traceparents {tps}, not one")
            continue
        received[path] = tps[0]
    printed = obi.wait_spans(3 * len(requests), timeout=20, what=f"printed spans ({label})")
    # every printed span of a request's trace carries the flag its traceparent carried on
    by_trace = {}
    for s in printed:
        by_trace.setdefault(s["trace_id"], []).append(s)
    want_exported = set()
    for path, incoming in requests:
        tp = received.get(path)
        if not tp:
            continue
        trace_id, flag = tp.split("-")[1], tp.split("-")[3]
        want = expect_flag(trace_id, incoming)
        p.eq(f"{label}: {path}: sampled flag the backend received (trace {trace_id})", flag,
             want)
        spans = by_trace.get(trace_id, [])
        p.eq(f"{label}: {path}: printed spans of the trace (kind, trace_flags)",
             sorted((s["kind"], s["trace_flags"]) for s in spans),
             sorted([("SERVER", want), ("CLIENT", want), ("SERVER", want)]))
        if want == "01":
            want_exported |= {s["span_id"] for s in spans}
    obi.stop(expect_total=3 * len(requests))
    exported = {s["span_id"] for s in recv.spans()}
    p.eq(f"{label}: span ids exported", sorted(exported), sorted(want_exported))
    sampled_out = otlp_summary(obi).get("spans_sampled_out")
    p.eq(f"{label}: spans_sampled_out in obi's summary", sampled_out,
         3 * len(requests) - len(want_exported))
    for proc in (recv, nginx, backend):
        proc.kill()
    return len(want_exported) // 3


def start_chain():
    """A fresh echo backend and nginx for each obi: nginx's keep-alive upstream connections
    opened under an earlier obi stay in that obi's SOCKHASH, where nothing is injected."""
    p1, p2 = h.free_port(), h.free_port()
    backend = h.start_echo_backend(p2)
    nginx = h.NginxServer(p1, f"""        location / {{
            proxy_pass http://{UPSTREAM};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}""", http_extra=f"""    upstream {UPSTREAM} {{
        server 127.0.0.1:{p2};
        keepalive 4;
    }}""")
    return nginx, p1, backend, p2


def main():
    ho.ensure_otlp_receiver()
    p = h.Problems()
    plain = [(f"/headers/{i}", None) for i in range(12)]

    run("ratio-0", p,
        {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
         "OTEL_TRACES_SAMPLER_ARG": "0"}, plain[:6], lambda t, _: "00")

    kept = run("ratio-0.5", p,
               {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": "0.5"},
               [(f"/headers/half-{i}", None) for i in range(40)],
               lambda t, _: "01" if ratio_keep(t, BOUND_HALF) else "00")
    # 40 traces at 0.5: both outcomes occur (all one way has odds of 2^-39)
    if not 0 < kept < 40:
        p.append(f"ratio 0.5 kept {kept} of 40 traces")

    def incoming(flag):
        return f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-{flag}"

    mixed = [(f"/headers/in-{i}", incoming("00" if i % 2 else "01")) for i in range(8)]
    flags = {path: tp[-2:] for path, tp in mixed}
    run("default-incoming", p, {}, mixed,
        lambda t, tp: tp[-2:])
    run("traceidratio-1", p,
        {"OTEL_TRACES_SAMPLER": "traceidratio",
         "OTEL_TRACES_SAMPLER_ARG": "1"},
        [(path, tp) for path, tp in mixed if flags[path] == "00"], lambda t, tp: "01")
    p.raise_if_any("sampled flags")


h.run(main)
