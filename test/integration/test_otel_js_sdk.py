#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""W3C interop with an implementation obi did not write: node_sdk/server.js, a Node.js HTTP
service instrumented with the OpenTelemetry JS SDK (@opentelemetry/sdk-trace-node and
instrumentation-http from npm, exact versions in node_sdk/package-lock.json; `npm ci` when
node_modules is missing), writing its finished spans as JSON lines. It runs behind nginx (P1,
keep-alive upstream); only nginx is selected (OTEL_EBPF_OPEN_PORT=P1).

3 curls: without a traceparent (nginx's request gets one inserted), with the client's own (its
parent id rewritten in place), and without again (over nginx's kept-alive upstream connection).
Each gives exactly nginx SERVER -> nginx CLIENT from obi and exactly one SDK span: kind SERVER,
the same trace id, parent = obi's nginx CLIENT span id (remote), sampled; the service received
exactly one traceparent, 00-<trace>-<nginx CLIENT span id>-01."""
import json
import os
import shutil
import subprocess
import time

import obi_harness as h

SDK_DIR = os.path.join(h.HERE, "node_sdk")
SDK_MARKER = os.path.join(SDK_DIR, "node_modules", "@opentelemetry", "sdk-trace-node",
                          "package.json")
CLIENT_T, CLIENT_P = "7af7651916cd43dd8448eb211c80319c", "e7ad6b7169203331"
REQUESTS = [None, (CLIENT_T, CLIENT_P), None]
SPAN_KIND_SERVER = 1   # @opentelemetry/api SpanKind.SERVER


def ensure_node_sdk():
    """npm ci of node_sdk/ (the committed package-lock.json) when its packages are missing."""
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            raise h.Skip(f"{tool} is not installed (Debian: apt-get install nodejs npm; "
                         "scripts/install-deps.sh installs them)")
    if os.path.exists(SDK_MARKER):
        return
    r = subprocess.run(["npm", "ci", "--prefix", SDK_DIR, "--no-audit", "--no-fund"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=600)
    if r.returncode != 0 or not os.path.exists(SDK_MARKER):
        h.fail(f"npm ci --prefix {SDK_DIR} failed with code {r.returncode}:\n"
               f"{r.stdout.decode(errors='replace')}\n{r.stderr.decode(errors='replace')}")


def sdk_spans(path):
    try:
        with open(path, "rb") as f:
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [json.loads(l) for l in data.split("\n")[:-1]]


def sdk_path(span):
    a = span.get("attributes", {})
    return (a.get("url.path") or a.get("http.target") or "").split("?")[0]


def main():
    ensure_node_sdk()
    with open(os.path.join(SDK_DIR, "node_modules", "@opentelemetry", "sdk-trace-node",
                           "package.json")) as f:
        sdk_version = json.load(f)["version"]
    p1, p2 = h.free_port(), h.free_port()
    out = os.path.join(h.tmpdir("obi-it-sdk-"), "spans.jsonl")
    node = h.Proc(["node", os.path.join(SDK_DIR, "server.js"), "--port", str(p2), "--out", out],
                  name="node-sdk-service")
    node.wait_output(r"^listening \d+$", timeout=30)
    nginx = h.Nginx(p1, p2)
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(p1)})
    since = time.time_ns()
    h.wait_propagation_on(obi)
    obi.expect_instrumented([nginx.pid, nginx.worker], only=True)   # not the node service

    p = h.Problems()
    for i, theirs in enumerate(REQUESTS):
        path = f"/sdk/{i}"
        args = ["-H", f"traceparent: 00-{theirs[0]}-{theirs[1]}-01"] if theirs else []
        r = h.curl(f"http://127.0.0.1:{p1}{path}", *args)
        h.check_eq(r["http_code"], 200, f"request {i}: curl through nginx to the SDK service")
        got = json.loads(r["body"])
        spans = obi.wait_spans(2 * (i + 1), what=f"obi spans after request {i} (2 each)")[-2:]
        roles = {s.get("kind"): s for s in spans}
        h.check_eq(sorted(roles), ["CLIENT", "SERVER"], f"request {i}: kinds of obi's 2 spans")
        srv, cli = roles["SERVER"], roles["CLIENT"]
        trace = theirs[0] if theirs else srv.get("trace_id")
        h.expect_span(srv, f"request {i}: nginx SERVER", {
            "process.pid": nginx.worker, "url.path": path, "trace_id": trace,
            "parent_span_id": theirs[1] if theirs else h.NO_PARENT}, since, p)
        h.expect_span(cli, f"request {i}: nginx CLIENT", {
            "process.pid": nginx.worker, "url.path": path, "server.port": p2,
            "trace_id": trace, "parent_span_id": srv.get("span_id")}, since, p)
        p.eq(f"request {i}: traceparent headers the SDK service received",
             h.header_values(got["headers"], "traceparent"),
             [f"00-{trace}-{cli.get('span_id')}-01"])

        deadline = time.monotonic() + 10
        while not [s for s in sdk_spans(out) if sdk_path(s) == path]:
            h.check(time.monotonic() < deadline, f"request {i}: no SDK span for {path} within "
                    f"10 s; SDK spans: {sdk_spans(out)}")
            time.sleep(0.05)
        mine = [s for s in sdk_spans(out) if sdk_path(s) == path]
        p.eq(f"request {i}: number of SDK spans for {path}", len(mine), 1)
        s = mine[0]
        p.eq(f"request {i}: SDK span (kind, trace id, parent span id, parent remote, flags)",
             (s["kind"], s["traceId"], s["parentSpanId"], s["parentIsRemote"], s["traceFlags"]),
             (SPAN_KIND_SERVER, trace, cli.get("span_id"), True, 1))
        p.eq(f"request {i}: the SDK's active span seen by the handler",
             (got.get("traceId"), got.get("spanId")), (s["traceId"], s["spanId"]))
        print(f"request {i}: obi nginx CLIENT {cli.get('span_id')} -> SDK {s['name']} span "
              f"{s['spanId']} (parent {s['parentSpanId']}, trace {s['traceId']})", flush=True)
    p.eq("SDK spans in all", len(sdk_spans(out)), len(REQUESTS))
    obi.stop(expect_total=2 * len(REQUESTS))
    p.raise_if_any(f"obi -> OpenTelemetry JS SDK {sdk_version}")


h.run(main)
