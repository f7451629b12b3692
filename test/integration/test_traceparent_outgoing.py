#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Outgoing traceparent injection, request by request, from servers/http_writer.py (selected by
pid: its connections go into obi's SOCKHASH) to servers/echo_backend.py (selected by port),
which echoes the headers it received. No request carries a traceparent of its own.

Each request gives exactly a CLIENT span (writer) and a SERVER span (backend); the backend
received exactly ONE traceparent, 00-<CLIENT trace>-<CLIENT span>-01, its SERVER span has that
trace and the CLIENT span as parent, and every other byte is intact (headers, body SHA-256,
Content-Length) — when the request is written
  - in one send() (GET; POST of 1 MiB),
  - from a buffer that ends at a page followed by a PROT_NONE page, or by a page never touched
    (obi must read only the bytes the call sends),
  - with a 2.5 KiB head (the issue: headers over 1 KiB),
  - head and body in separate send()s (POST of 256 KiB),
  - as 50 keep-alive GETs on one connection without TCP_NODELAY, the backend already waiting
    in recv(): each backend span parented by its CLIENT span, all 50 within 1.5 s (a request
    split by the insertion would wait for a delayed ACK, about 40 ms each).
A head split over two send()s (request line first) arrives intact with at most one
traceparent (obi may leave a head it cannot see whole alone)."""
import json
import time

import obi_harness as h

PADS = {f"X-Pad-{i:02d}": f"{i:02d}-" + "v" * 90 for i in range(24)}
KEEPALIVE = 50
KEEPALIVE_BOUND = 1.5

# (label, mode, path, pad headers, body bytes, whole head visible to obi in one write)
CASES = [
    ("GET in one send", "one", "/headers/one", 0, 0, True),
    ("GET from a buffer ending before a PROT_NONE page", "page-edge", "/headers/edge", 0, 0, True),
    ("GET from a buffer ending before an untouched page", "page-untouched", "/headers/untouched",
     0, 0, True),
    ("GET with a 2.5 KiB head", "one", "/headers/big-head", 24, 0, True),
    ("1 MiB POST in one send", "one", "/upload/one", 0, 1 << 20, True),
    ("256 KiB POST, body in a second send", "body-apart", "/upload/apart", 0, 256 << 10, True),
    ("GET with the request line in its own send", "head-split", "/headers/split", 0, 0, False),
]


def main():
    port = h.free_port()
    backend = h.start_echo_backend(port)
    writer = h.CommandClient("http_writer.py", name="http-writer")
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(port), "OTEL_EBPF_TARGET_PID": str(writer.pid)})
    since = time.time_ns()
    h.wait_propagation_on(obi)
    obi.expect_instrumented([backend.pid, writer.pid])

    p = h.Problems()
    answers = {}
    for label, mode, path, pad, size, _ in CASES:
        writer.ok(f"connect {path} {port} 1")   # a connection per case: spans stay apart
        answers[path] = writer.ok(f"request {path} {mode} {path} {pad} {size}")
    writer.ok(f"connect ka {port} 0")
    ka = writer.ok(f"repeat ka {KEEPALIVE} /headers/ka-")

    n = 2 * (len(CASES) + KEEPALIVE)
    spans = obi.wait_spans(n, timeout=30, what="spans (a CLIENT and a SERVER per request)")
    by = {}
    for s in spans:
        role = {writer.pid: "CLIENT", backend.pid: "SERVER"}.get(s.get("process.pid"), "?")
        if role != s.get("kind") or (role, s.get("url.path")) in by:
            p.append(f"unexpected or repeated span: {h.short(s)}")
        by[(role, s.get("url.path"))] = s

    def chain(label, path, echoed, whole=True):
        cli, srv = by.get(("CLIENT", path)), by.get(("SERVER", path))
        if not cli or not srv:
            p.append(f"{label}: spans missing (CLIENT {bool(cli)}, SERVER {bool(srv)})")
            return
        h.expect_span(cli, f"{label}: CLIENT", {"parent_span_id": h.NO_PARENT}, since, p)
        tps = h.header_values(echoed, "traceparent")
        if whole:
            p.eq(f"{label}: traceparent headers the backend received", tps,
                 [f"00-{cli['trace_id']}-{cli['span_id']}-01"])
            h.expect_span(srv, f"{label}: backend SERVER", {
                "trace_id": cli["trace_id"], "parent_span_id": cli["span_id"]}, since, p)
        else:
            p.true(len(tps) <= 1, f"{label}: {len(tps)} traceparent headers: {tps}")
            print(f"{label}: the backend received {len(tps)} traceparent header(s)", flush=True)

    for label, mode, path, pad, size, whole in CASES:
        r = answers[path]
        p.eq(f"{label}: status", r["status"], 200)
        if size:
            got = json.loads(r["body"])
            p.eq(f"{label}: body length and SHA-256 at the backend",
                 (got["length"], got["sha256"]), (size, r["sent_sha256"]))
            p.eq(f"{label}: Content-Length at the backend",
                 h.header_values(got["headers"], "Content-Length"), [str(size)])
            echoed = got["headers"]
        else:
            echoed = json.loads(r["body"])
        want = [["Host", f"127.0.0.1:{port}"], ["User-Agent", "obi-http-writer/1"]]
        want += [[k, v] for k, v in PADS.items()][:pad]
        p.eq(f"{label}: the other headers at the backend, in order",
             [kv for kv in echoed if kv[0].lower() not in ("traceparent", "content-type",
                                                           "content-length")], want)
        chain(label, path, echoed, whole)

    p.eq(f"{KEEPALIVE} keep-alive GETs: statuses", ka["statuses"], {"200": KEEPALIVE})
    p.true(ka["seconds"] <= KEEPALIVE_BOUND, f"{KEEPALIVE} keep-alive GETs took {ka['seconds']}"
           f" s (bound {KEEPALIVE_BOUND} s): a stall per request")
    linked = 0
    for i in range(KEEPALIVE):
        cli, srv = by.get(("CLIENT", f"/headers/ka-{i}")), by.get(("SERVER", f"/headers/ka-{i}"))
        if cli and srv and (srv["trace_id"], srv["parent_span_id"]) == (cli["trace_id"],
                                                                         cli["span_id"]):
            linked += 1
    print(f"{KEEPALIVE} keep-alive GETs: {ka['seconds']} s, {linked} backend spans parented by "
          "their CLIENT span", flush=True)
    p.eq(f"{KEEPALIVE} keep-alive GETs: backend spans parented by their CLIENT span", linked,
         KEEPALIVE)
    obi.stop(expect_total=n)
    p.raise_if_any("outgoing traceparent injection")


h.run(main)
