#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""OTLP export, checked by a receiver that decodes with the official OpenTelemetry JS protobuf
definitions (otlp_receiver/): python's http.server selected by OTEL_EBPF_OPEN_PORT answers
GET 200 (x3), GET 404 and POST 501 to curl. Every span the JSON printer prints arrives once,
with the same ids, times, kind, name, status and attributes, in one ResourceSpans for the
process (resource attributes exact); the cumulative histograms count exactly these requests,
bucket by bucket. Run four ways: base endpoint; gzip + per-signal endpoints + headers;
OTEL_TRACES_SAMPLER=always_off (no span exported, metrics still count every request);
OTEL_EXPORTER_OTLP_PROTOCOL=http/json (the receiver reads the JSON with the same definitions;
the mapping's spellings checked on the raw JSON: hex ids, integer enums, int64 as strings)."""
import os
import socket
import subprocess
import time

import harness_otlp as ho
import obi_harness as h

DURATION_BOUNDS = [0, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
SIZE_BOUNDS = [0, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]
SPAN_KEYS = ["http.request.method", "http.response.status_code", "url.path", "http.route",
             "server.address", "server.port", "client.address", "network.peer.address",
             "network.peer.port", "http.request.body.size", "http.response.body.size",
             "user_agent.original"]
UA = "obi-otlp-test/1"


def bucket(bounds, v):
    """Index of the bucket holding v: (bounds[i-1], bounds[i]], the last one unbounded."""
    for i, b in enumerate(bounds):
        if v <= b:
            return i
    return len(bounds)


def obi_version():
    out = subprocess.run([h.OBI_BIN, "--version"], capture_output=True, text=True).stdout
    return out.split()[1]


def traffic(port):
    """Five requests to http.server; returns what curl saw for each."""
    got = []
    for _ in range(3):
        r = h.curl(f"http://127.0.0.1:{port}/f.txt?q=1", "-A", UA)
        h.check_eq(r["http_code"], 200, "GET /f.txt status")
        got.append(r)
    r = h.curl(f"http://127.0.0.1:{port}/missing", "-A", UA)
    h.check_eq(r["http_code"], 404, "GET /missing status")
    got.append(r)
    r = h.curl(f"http://127.0.0.1:{port}/f.txt", "-A", UA, "--data-binary", "x" * 50)
    h.check_eq(r["http_code"], 501, "POST /f.txt status (http.server has no POST)")
    got.append(r)
    return got


def expected_resource(www, version):
    host = socket.gethostname()
    exe = os.readlink(f"/proc/{www.pid}/exe")
    return {
        "service.name": os.path.basename(exe), "service.instance.id": f"{host}:{www.pid}",
        "host.name": host, "os.type": "linux", "process.pid": www.pid,
        "process.executable.name": os.path.basename(exe), "process.executable.path": exe,
        "telemetry.sdk.name": "obi", "telemetry.sdk.language": "python",
        "telemetry.sdk.version": version, "telemetry.distro.name": "obi",
        "telemetry.distro.version": version, "deployment.environment": "it test",
    }


def check_spans(printed, received, resource, version):
    p = h.Problems()
    by_id = {}
    for r in received:
        p.true(r["span_id"] not in by_id, f"span {r['span_id']} received twice")
        by_id[r["span_id"]] = r
    p.eq("span ids received", sorted(by_id), sorted(s["span_id"] for s in printed))
    for s in printed:
        r = by_id.get(s["span_id"])
        if r is None:
            continue
        label = f"{s['http.request.method']} {s['url.path']} {s['http.response.status_code']}"
        sp = r["span"]
        p.eq(f"{label}: trace id", r["trace_id"], s["trace_id"])
        p.eq(f"{label}: parent span id", r["parent_span_id"], "")
        p.eq(f"{label}: kind", sp.get("kind"), "SPAN_KIND_SERVER")
        route = s.get("http.route")
        p.eq(f"{label}: name", sp.get("name"),
             f"{s['http.request.method']} {route}" if route else s["http.request.method"])
        p.eq(f"{label}: start", int(sp.get("startTimeUnixNano", 0)), s["start_time_unix_nano"])
        p.eq(f"{label}: end", int(sp.get("endTimeUnixNano", 0)), s["end_time_unix_nano"])
        status = sp.get("status", {}).get("code", "STATUS_CODE_UNSET")
        p.eq(f"{label}: status", status,
             "STATUS_CODE_ERROR" if s["otel.status_code"] == "ERROR" else "STATUS_CODE_UNSET")
        want = {k: s[k] for k in SPAN_KEYS if k in s}
        want["url.scheme"] = "http"
        p.eq(f"{label}: attributes", r["attrs"], want)
        p.eq(f"{label}: resource", r["resource"], resource)
        p.eq(f"{label}: scope", (r["scope"].get("name"), r["scope"].get("version")),
             ("obi", version))
    p.raise_if_any("OTLP spans against the printed ones")


def metric_points(req, pid):
    """{metric name: (metric, [points])} of the resource of `pid` in one metrics request."""
    out = {}
    for rm in req.get("decoded", {}).get("resourceMetrics", []):
        res = ho.otlp_attrs(rm.get("resource", {}).get("attributes"))
        if res.get("process.pid") != pid:
            continue
        for sm in rm.get("scopeMetrics", []):
            h.check_eq((sm["scope"].get("name"), sm["scope"].get("version")),
                       ("obi", obi_version()), "metrics scope")
            for m in sm.get("metrics", []):
                out[m["name"]] = (m, m["histogram"].get("dataPoints", []))
    return out


def total_count(req, pid):
    pts = metric_points(req, pid).get("http.server.request.duration", (None, []))[1]
    return sum(int(pt.get("count", 0)) for pt in pts)


def check_metrics(recv, printed, pid, resource):
    """The last metrics request holds every printed request, bucket by bucket."""
    n = len(printed)
    recv.wait_for(lambda r: any(total_count(q, pid) == n for q in r.requests("metrics")), 15,
                  f"a metrics request counting {n} requests")
    req = [q for q in recv.requests("metrics") if total_count(q, pid) == n][-1]
    for rm in req["decoded"]["resourceMetrics"]:
        res = ho.otlp_attrs(rm["resource"]["attributes"])
        if res.get("process.pid") == pid:
            h.check_eq(res, resource, "metrics resource")
    metrics = metric_points(req, pid)
    p = h.Problems()
    p.eq("metric names", sorted(metrics), sorted([
        "http.server.request.duration", "http.server.request.body.size",
        "http.server.response.body.size"]))
    specs = {"http.server.request.duration": ("s", DURATION_BOUNDS,
                                              lambda s: s["duration_ns"] / 1e9),
             "http.server.request.body.size": ("By", SIZE_BOUNDS,
                                               lambda s: s["http.request.body.size"]),
             "http.server.response.body.size": ("By", SIZE_BOUNDS,
                                                lambda s: s["http.response.body.size"])}
    for name, (unit, bounds, value) in specs.items():
        if name not in metrics:
            continue
        m, points = metrics[name]
        p.eq(f"{name}: unit", m.get("unit"), unit)
        p.eq(f"{name}: temporality", m["histogram"].get("aggregationTemporality"),
             "AGGREGATION_TEMPORALITY_CUMULATIVE")
        want = {}
        for s in printed:
            key = (s["http.request.method"], s["http.response.status_code"],
                   s.get("http.route", ""))
            w = want.setdefault(key, {"count": 0, "buckets": [0] * (len(bounds) + 1),
                                      "sum": 0.0})
            w["count"] += 1
            w["buckets"][bucket(bounds, value(s))] += 1
            w["sum"] += value(s)
        got = {}
        for pt in points:
            a = ho.otlp_attrs(pt.get("attributes"))
            key = (a.get("http.request.method"), a.get("http.response.status_code"),
                   a.get("http.route", ""))
            p.eq(f"{name} {key}: attributes", a, {
                "http.request.method": key[0], "http.response.status_code": key[1],
                "http.route": key[2], "url.scheme": "http"} if key[2] else {
                "http.request.method": key[0], "http.response.status_code": key[1],
                "url.scheme": "http"})
            p.eq(f"{name} {key}: bounds", pt.get("explicitBounds"), bounds)
            got[key] = {"count": int(pt["count"]),
                        "buckets": [int(c) for c in pt.get("bucketCounts", [])],
                        "sum": pt.get("sum", 0.0)}
        p.eq(f"{name}: series", sorted(got), sorted(want))
        for key in want:
            if key not in got:
                continue
            p.eq(f"{name} {key}: count", got[key]["count"], want[key]["count"])
            p.eq(f"{name} {key}: bucket counts", got[key]["buckets"], want[key]["buckets"])
            p.true(abs(got[key]["sum"] - want[key]["sum"]) <= 1e-6 * max(1, want[key]["sum"]),
                   f"{name} {key}: sum {got[key]['sum']} != {want[key]['sum']}")
    p.raise_if_any("OTLP metrics against the printed requests")


def check_json_mapping(recv):
    """The OTLP/JSON spellings in the JSON obi sent, beyond what decoding it shows."""
    p = h.Problems()
    spans = points = 0
    for req in recv.requests():
        for rs in req.get("json", {}).get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for sp in ss.get("spans", []):
                    spans += 1
                    p.true(isinstance(sp.get("traceId"), str) and len(sp["traceId"]) == 32,
                           f"traceId as 32 hex digits: {sp.get('traceId')!r}")
                    p.true(isinstance(sp.get("spanId"), str) and len(sp["spanId"]) == 16,
                           f"spanId as 16 hex digits: {sp.get('spanId')!r}")
                    p.eq("kind as an integer", sp.get("kind"), 2)
                    p.true(isinstance(sp.get("startTimeUnixNano"), str),
                           f"startTimeUnixNano as a string: {sp.get('startTimeUnixNano')!r}")
                    p.true("parentSpanId" not in sp, "an empty parentSpanId is left out")
        for rm in req.get("json", {}).get("resourceMetrics", []):
            for sm in rm.get("scopeMetrics", []):
                for m in sm.get("metrics", []):
                    hist = m.get("histogram", {})
                    p.eq(f"{m.get('name')}: aggregationTemporality",
                         hist.get("aggregationTemporality"), 2)
                    for dp in hist.get("dataPoints", []):
                        points += 1
                        p.true(isinstance(dp.get("count"), str) and
                               all(isinstance(c, str) for c in dp.get("bucketCounts", [])),
                               f"count and bucketCounts as strings: {dp}")
                        p.true(all(isinstance(b, (int, float)) for b in
                                   dp.get("explicitBounds", [])), f"explicitBounds numbers: {dp}")
    p.true(spans >= 5 and points >= 1, f"JSON spans ({spans}) and data points ({points}) seen")
    p.raise_if_any("OTLP/JSON mapping")


def run_variant(label, extra_env, sampled=True, content_type="application/x-protobuf"):
    port = h.free_port()
    www = h.start_http_server(port, {"f.txt": b"a" * 1234})
    recv = ho.OtlpReceiver(name=f"otlp-receiver-{label}")
    env = {"OTEL_EBPF_OPEN_PORT": str(port), "OTEL_BSP_SCHEDULE_DELAY": "200",
           "OTEL_METRIC_EXPORT_INTERVAL": "1000",
           "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=it%20test"}
    for k, v in extra_env.items():
        env[k] = v.replace("{endpoint}", recv.endpoint)
    obi = h.Obi(env, name=f"obi-{label}")
    obi.expect_instrumented([www.pid])
    version = obi_version()
    traffic(port)
    printed = obi.wait_spans(5, what=f"printed spans ({label})")
    resource = expected_resource(www, version)
    if sampled:
        recv.wait_for(lambda r: len(r.spans()) >= 5, 15, f"5 spans at the receiver ({label})")
        received = recv.spans()
        check_spans(printed, received, resource, version)
        # one ResourceSpans per process and request
        for req in recv.requests("traces"):
            pids = [ho.otlp_attrs(rs["resource"]["attributes"])["process.pid"]
                    for rs in req["decoded"].get("resourceSpans", [])]
            h.check(len(pids) == len(set(pids)),
                    f"request {req['n']}: several ResourceSpans for one process: {pids}")
    check_metrics(recv, printed, www.pid, resource)
    if not sampled:
        time.sleep(0.5)
        h.check_eq(recv.spans(), [], "spans exported with OTEL_TRACES_SAMPLER=always_off")
        h.check_eq(len(recv.requests("traces")), 0, "trace requests with always_off")
    for req in recv.requests():
        h.check_eq(req["status"], 200, f"receiver answer to request {req['n']} ({req['path']})")
        h.check_eq(req["headers"].get("content-type"), content_type,
                   f"content-type of request {req['n']}")
        h.check(req["method"] == "POST", f"request {req['n']} is a {req['method']}")
    obi.stop(expect_total=5)
    h.check("otlp summary:" in obi.stderr(), "no 'otlp summary:' line at exit")
    return recv


def main():
    ho.ensure_otlp_receiver()
    # 1: the base endpoint, plain protobuf
    run_variant("base", {"OTEL_EXPORTER_OTLP_ENDPOINT": "{endpoint}"})

    # 2: per-signal endpoints used as they are, gzip, headers percent-decoded
    recv = run_variant("gzip", {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "{endpoint}/v1/traces",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "{endpoint}/v1/metrics",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-obi-test=a%20b,authorization=Bearer%20t0k"})
    for req in recv.requests():
        h.check_eq(req["headers"].get("content-encoding"), "gzip",
                   f"content-encoding of request {req['n']}")
        h.check_eq(req["headers"].get("x-obi-test"), "a b", f"x-obi-test of request {req['n']}")
        h.check_eq(req["headers"].get("authorization"), "Bearer t0k",
                   f"authorization of request {req['n']}")

    # 3: the sampler drops every span from export; metrics still see every request
    run_variant("always-off", {"OTEL_EXPORTER_OTLP_ENDPOINT": "{endpoint}",
                               "OTEL_TRACES_SAMPLER": "always_off"}, sampled=False)

    # 4: OTLP/JSON for both signals
    recv = run_variant("json", {"OTEL_EXPORTER_OTLP_ENDPOINT": "{endpoint}",
                                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
                       content_type="application/json")
    check_json_mapping(recv)


h.run(main)
