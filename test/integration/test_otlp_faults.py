#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""OTLP export under faults, python's http.server selected by OTEL_EBPF_OPEN_PORT as the traced
program and the node receiver (otlp_receiver/) as the collector:

1. endpoint down at start, then up; down again mid-run, then up: obi prints every request
   meanwhile, and every printed span reaches the receiver exactly once; the outage is logged
   once (warn) and its end once (info).
2. 503 with Retry-After twice, then 200: the same spans are sent three times, Retry-After
   honoured, delivered once, nothing counted failed.
3. 400 and 500 (OTLP: not retryable): each batch is sent once and counted failed; the first
   rejection of a status is logged with the receiver's body, the next ones are not; the next
   batch goes through.
4. a receiver that accepts and never answers: obi keeps printing every request (2000 of them),
   its queue stays bounded (the excess is dropped and counted), its memory does not grow, and
   SIGTERM makes it exit 0 within the export timeout.
5. SIGTERM with spans and metrics held (long delays): flushed before exit, exit code 0.
"""
import os
import http.client
import re
import time

import harness_otlp as ho
import obi_harness as h

BASE = {"OTEL_METRIC_EXPORT_INTERVAL": "600000", "OTEL_EXPORTER_OTLP_TIMEOUT": "2000"}


def setup(env, recv_endpoint):
    port = h.free_port()
    www = h.start_http_server(port, {"f.txt": b"b" * 100})
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(port), "OTEL_EXPORTER_OTLP_ENDPOINT": recv_endpoint,
                 **BASE, **env})
    obi.expect_instrumented([www.pid])
    return port, www, obi


def get(port, n=1):
    for _ in range(n):
        h.check_eq(h.curl(f"http://127.0.0.1:{port}/f.txt")["http_code"], 200, "curl status")


def received_ids(recv):
    return [s["span_id"] for s in recv.spans()]


def summary(obi):
    m = re.search(r"otlp summary: (.*)", obi.stderr())
    h.check(m, "no 'otlp summary:' line in obi's stderr")
    return {k: v for k, v in (kv.split("=", 1) for kv in m.group(1).split())}


def test_down_then_up():
    port = h.free_port()          # the receiver's port, nothing listens there yet
    endpoint = f"http://127.0.0.1:{port}"
    www_port, www, obi = setup({"OTEL_BSP_SCHEDULE_DELAY": "200"}, endpoint)
    get(www_port, 3)
    printed = obi.wait_spans(3, what="spans printed while the endpoint is down")
    obi.wait_stderr(r"WARN .*otlp: export spans to .* failed", 10, "the outage warning")
    time.sleep(1.0)
    recv = ho.OtlpReceiver(port=port, name="receiver-1")
    recv.wait_for(lambda r: len(r.spans()) >= 3, 30, "the 3 spans after the endpoint came up")
    obi.wait_stderr(r"INFO .*otlp: export spans to .* works again", 5, "the recovery line")

    # down mid-run: stop it, trace 2 more requests, bring a new receiver up on the same port
    time.sleep(0.5)
    recv.kill()
    get(www_port, 2)
    printed = obi.wait_spans(5, what="spans printed while the endpoint is down again")
    time.sleep(1.5)
    recv2 = ho.OtlpReceiver(port=port, name="receiver-2")
    recv2.wait_for(lambda r: len(r.spans()) >= 2, 30, "the 2 spans after the second outage")
    time.sleep(0.5)
    got = received_ids(recv) + received_ids(recv2)
    h.check_eq(sorted(got), sorted(s["span_id"] for s in printed),
               "span ids received over both outages (each exactly once)")
    err = obi.stderr()
    h.check_eq(len(re.findall(r"WARN .*otlp: export spans to .* failed", err)), 2,
               "outage warnings (one per outage, retries at debug level)")
    obi.stop(expect_total=5)
    s = summary(obi)
    h.check_eq((s["spans_exported"], s["spans_failed"], s["spans_dropped"]), ("5", "0", "0"),
               "summary counters")


def test_retry_after():
    recv = ho.OtlpReceiver(args=["--fail", "503:2", "--retry-after", "1"], name="receiver-503")
    # one batch of exactly the two spans: sent when the second one is queued
    port, www, obi = setup({"OTEL_BSP_SCHEDULE_DELAY": "30000",
                            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "2"}, recv.endpoint)
    get(port, 2)
    printed = obi.wait_spans(2, what="spans printed")
    recv.wait_for(lambda r: len(r.requests("traces")) >= 3, 15, "three trace requests")
    time.sleep(0.5)
    reqs = recv.requests("traces")
    h.check_eq([r["status"] for r in reqs], [503, 503, 200], "answers to the trace requests")
    spans = recv.spans(statuses=(503, 200))
    ids = sorted(s["span_id"] for s in printed)
    for r in reqs:
        h.check_eq(sorted(s["span_id"] for s in spans if s["request"] == r["n"]), ids,
                   f"spans in request {r['n']} (the same batch each time)")
    gaps = [(b["time_ms"] - a["time_ms"]) / 1000 for a, b in zip(reqs, reqs[1:])]
    h.check(all(g >= 0.95 for g in gaps), f"Retry-After: 1 not honoured, gaps {gaps} s")
    obi.stop(expect_total=2)
    s = summary(obi)
    h.check_eq((s["spans_exported"], s["spans_failed"]), ("2", "0"), "summary counters")


def test_rejected(status):
    body = f"test receiver says no ({status})"
    recv = ho.OtlpReceiver(args=["--fail", f"{status}:2", "--fail-body", body],
                          name=f"receiver-{status}")
    port, www, obi = setup({"OTEL_BSP_SCHEDULE_DELAY": "100"}, recv.endpoint)
    for i in range(3):
        get(port)
        obi.wait_spans(i + 1, what=f"span {i + 1} printed")
        recv.wait_for(lambda r, n=i + 1: len(r.requests("traces")) >= n, 10,
                      f"trace request {i + 1}")
    time.sleep(1.5)          # a retry, if any, would come within this
    reqs = recv.requests("traces")
    h.check_eq([r["status"] for r in reqs], [status, status, 200],
               f"answers to the trace requests (HTTP {status} is not retried)")
    h.check_eq(len(recv.spans()), 1, "spans accepted")
    warns = [l for l in obi.stderr().splitlines() if re.search(rf"WARN .*HTTP {status}\b", l)]
    h.check_eq(len(warns), 1, f"warnings for HTTP {status} (logged once)")
    h.check(body in warns[0], f"the warning should quote the receiver's body: {warns[0]}")
    obi.stop(expect_total=3)
    s = summary(obi)
    h.check_eq((s["spans_exported"], s["spans_failed"]), ("1", "2"), "summary counters")


def requests_keepalive(port, n):
    """n GETs from this process (not traced: only the server is selected)."""
    for _ in range(n):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/f.txt")
        r = c.getresponse()
        r.read()
        h.check_eq(r.status, 200, "GET status")
        c.close()


def test_never_answers():
    recv = ho.OtlpReceiver(args=["--hang", "1000000"], name="receiver-hang")
    env = {"OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_BSP_MAX_QUEUE_SIZE": "200",
           "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "50", "OTEL_EXPORTER_OTLP_TIMEOUT": "1000",
           "OTEL_METRIC_EXPORT_INTERVAL": "500"}
    if os.environ.get("ASAN_OPTIONS"):
        # AddressSanitizer keeps freed memory in a quarantine (256 MiB by default), so under it
        # RSS grows with what is allocated, not with what is held: without the quarantine the
        # RSS bound below measures obi again (leaks are still checked at exit).
        env["ASAN_OPTIONS"] = os.environ["ASAN_OPTIONS"] + ":quarantine_size_mb=0"
    port, www, obi = setup(env, recv.endpoint)
    requests_keepalive(port, 500)
    obi.wait_spans(500, timeout=30, settle=0.2, what="spans after 500 requests")
    rss_1 = h.otlp_rss_kb(obi.pid)
    requests_keepalive(port, 1500)
    obi.wait_spans(2000, timeout=30, settle=0.2, what="spans after 2000 requests")
    rss_2 = h.otlp_rss_kb(obi.pid)
    h.check(rss_2 - rss_1 < 8 * 1024,
            f"obi's RSS grew from {rss_1} KiB to {rss_2} KiB over 1500 requests "
            f"with a receiver that never answers")
    h.check(len(recv.requests()) >= 2, "obi should keep trying the silent receiver")
    t0 = time.monotonic()
    obi.stop(timeout=10, expect_total=2000)
    took = time.monotonic() - t0
    h.check(took < 4.0, f"exit took {took:.1f} s with OTEL_EXPORTER_OTLP_TIMEOUT=1000")
    s = summary(obi)
    queued = int(s["spans_queued"].split("/")[0])
    h.check_eq(queued, 0, "spans left in the queue after exit")
    total = int(s["spans_exported"]) + int(s["spans_failed"]) + int(s["spans_dropped"])
    h.check_eq(total, 2000, f"exported + failed + dropped (summary {s})")
    h.check(int(s["spans_dropped"]) >= 2000 - 200 - 50,
            f"the queue (200) should have overflowed: {s}")
    h.check_eq(s["spans_exported"], "0", "spans exported to a receiver that never answers")


def test_sigterm_flush():
    recv = ho.OtlpReceiver(name="receiver-flush")
    port, www, obi = setup({"OTEL_BSP_SCHEDULE_DELAY": "60000"}, recv.endpoint)
    get(port, 3)
    printed = obi.wait_spans(3, what="spans printed")
    time.sleep(0.5)
    h.check_eq(recv.requests(), [], "requests before SIGTERM (long delay and interval)")
    t0 = time.monotonic()
    obi.stop(expect_code=0, expect_total=3)
    took = time.monotonic() - t0
    h.check(took < 3.0, f"exit with a healthy receiver took {took:.1f} s")
    h.check_eq(sorted(received_ids(recv)), sorted(s["span_id"] for s in printed),
               "span ids flushed at exit")
    metrics = recv.requests("metrics")
    h.check_eq(len(metrics), 1, "metric requests flushed at exit")
    counts = [int(p["count"])
              for rm in metrics[0]["decoded"]["resourceMetrics"]
              for sm in rm["scopeMetrics"] for m in sm["metrics"]
              if m["name"] == "http.server.request.duration"
              for p in m["histogram"]["dataPoints"]]
    h.check_eq(counts, [3], "http.server.request.duration counts flushed at exit")


def main():
    ho.ensure_otlp_receiver()
    for name, fn in (("down then up", test_down_then_up), ("retry-after", test_retry_after),
                     ("400", lambda: test_rejected(400)), ("500", lambda: test_rejected(500)),
                     ("never answers", test_never_answers), ("sigterm flush",
                                                              test_sigterm_flush)):
        t0 = time.monotonic()
        fn()
        print(f"  ok: {name} ({time.monotonic() - t0:.1f} s)", flush=True)
        h.cleanup()


h.run(main)
