#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The Prometheus scrape endpoint (OTEL_EBPF_PROMETHEUS_PORT, no OTLP endpoint) in front of
python's http.server: 7 GETs of a 1234-byte file and 2 of a missing one, then

1. /metrics read with curl: the exact counts, cumulative buckets, sums and labels (job and
   instance from service.name and service.instance.id, target_info) in text 0.0.4; the same
   counts in OpenMetrics when Accept asks for it; HEAD, 404 and 405;
2. a real Prometheus (Debian's) scraping obi every second on loopback: its HTTP API answers the
   same counts for http_server_request_duration_seconds_count, with obi's job and instance
   (honor_labels), and the target is up."""
import json
import os
import re
import shutil
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

import obi_harness as h

GETS, MISSES = 7, 2
BODY = 1234

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(body):
    """{(name, frozenset of (label, value)): value} of every sample line; comments apart."""
    samples, comments = {}, []
    for line in body.splitlines():
        if line.startswith("#"):
            comments.append(line)
            continue
        m = SAMPLE.match(line)
        h.check(m, f"not a sample line: {line!r}")
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        key = (m.group(1), labels)
        h.check(key not in samples, f"duplicate sample: {line!r}")
        v = m.group(3)
        samples[key] = int(v) if re.fullmatch(r"-?[0-9]+", v) else float(v)
    return samples, comments


def scrape(port, *args):
    return h.curl(f"http://127.0.0.1:{port}/metrics", *args)


def series(samples, name, **want):
    """The samples of `name` whose labels include `want`, as {frozenset of labels: value}."""
    w = set(want.items())
    return {labels: v for (n, labels), v in samples.items() if n == name and w <= labels}


def one(samples, name, **want):
    got = series(samples, name, **want)
    h.check(len(got) == 1, f"expected one {name} sample with {want}, got {len(got)}: {got}")
    return next(iter(got.values()))


def check_text(samples, comments, svc, instance, pid, p):
    base = {"job": svc, "instance": instance, "http_request_method": "GET",
            "url_scheme": "http", "otel_scope_name": "obi"}
    for status, count in (("200", GETS), ("404", MISSES)):
        lab = {**base, "http_response_status_code": status}
        p.eq(f"duration _count {status}",
             one(samples, "http_server_request_duration_seconds_count", **lab), count)
        p.eq(f"duration +Inf {status}",
             one(samples, "http_server_request_duration_seconds_bucket", le="+Inf", **lab), count)
        p.true(0 < one(samples, "http_server_request_duration_seconds_sum", **lab) < count,
               f"duration _sum {status} between 0 and {count} s")
        buckets = series(samples, "http_server_request_duration_seconds_bucket", **lab)
        p.eq(f"duration buckets {status}", len(buckets), 16)
        by_le = sorted((float(dict(k)["le"]), v) for k, v in buckets.items())
        p.true(all(a[1] <= b[1] for a, b in zip(by_le, by_le[1:])),
               f"duration buckets {status} cumulative: {by_le}")
        p.eq(f"duration le=0 {status}",
             one(samples, "http_server_request_duration_seconds_bucket", le="0", **lab), 0)
        p.eq(f"request body le=0 {status}",
             one(samples, "http_server_request_body_size_bytes_bucket", le="0", **lab), count)
        p.eq(f"request body _sum {status}",
             one(samples, "http_server_request_body_size_bytes_sum", **lab), 0)
    ok = {**base, "http_response_status_code": "200"}
    p.eq("response body le=1024", one(samples, "http_server_response_body_size_bytes_bucket",
                                      le="1024", **ok), 0)
    p.eq("response body le=2048", one(samples, "http_server_response_body_size_bytes_bucket",
                                      le="2048", **ok), GETS)
    p.eq("response body +Inf", one(samples, "http_server_response_body_size_bytes_bucket",
                                   le="+Inf", **ok), GETS)
    p.eq("response body _sum", one(samples, "http_server_response_body_size_bytes_sum", **ok),
         GETS * BODY)
    p.eq("response body _count", one(samples, "http_server_response_body_size_bytes_count",
                                     **ok), GETS)
    p.eq("target_info", one(samples, "target_info", job=svc, instance=instance,
                            process_pid=str(pid), telemetry_sdk_language="python",
                            os_type="linux"), 1)
    p.eq("no client series", series(samples, "http_client_request_duration_seconds_count"), {})
    for c in ("# TYPE http_server_request_duration_seconds histogram",
              "# HELP http_server_request_duration_seconds Duration of HTTP server requests.",
              "# TYPE http_server_response_body_size_bytes histogram",
              "# TYPE target_info gauge"):
        p.true(c in comments, f"comment line {c!r}")


def check_openmetrics(port, svc, instance, p):
    r = scrape(port, "-H", "Accept: application/openmetrics-text;version=1.0.0")
    p.eq("OpenMetrics content type", r["content_type"],
         "application/openmetrics-text; version=1.0.0; charset=utf-8")
    body = r["body"].decode()
    p.true(body.endswith("\n# EOF\n"), "OpenMetrics body ends with # EOF")
    samples, comments = parse(body[:-len("# EOF\n")])
    lab = {"job": svc, "instance": instance, "http_response_status_code": "200"}
    p.eq("OpenMetrics _count", one(samples, "http_server_request_duration_seconds_count", **lab),
         GETS)
    p.eq("OpenMetrics le=1.0", one(samples, "http_server_request_duration_seconds_bucket",
                                   le="1.0", **lab), GETS)
    for c in ("# TYPE target info", "# UNIT http_server_request_duration_seconds seconds"):
        p.true(c in comments, f"OpenMetrics comment line {c!r}")


def prom_query(port, query):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as f:
        r = json.load(f)
    h.check(r.get("status") == "success", f"prometheus query {query}: {r}")
    return r["data"]["result"]


def wait_ready(port, proc):
    """Prometheus listens before its storage is open and answers queries with 503 until
    /-/ready says 200."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 30
    last = None
    while time.monotonic() < deadline:
        h.check(proc.alive(), "prometheus exited while starting")
        try:
            with opener.open(f"http://127.0.0.1:{port}/-/ready", timeout=5) as f:
                if f.status == 200:
                    return
        except (urllib.error.URLError, OSError) as e:
            last = e
        time.sleep(0.2)
    h.check(False, f"prometheus not ready after 30 s: {last}")


def run_prometheus(obi_port, svc, instance):
    prom = shutil.which("prometheus")
    if not prom:
        raise h.Skip("prometheus is not installed (scripts/install-deps.sh installs it)")
    d = h.tmpdir("obi-it-prom-")
    web = h.free_port()
    cfg = os.path.join(d, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: obi\n    honor_labels: true\n"
                f"    static_configs:\n      - targets: ['127.0.0.1:{obi_port}']\n")
    p = h.Proc([prom, f"--config.file={cfg}", f"--storage.tsdb.path={d}/data",
                f"--web.listen-address=127.0.0.1:{web}"], name="prometheus")
    h.wait_listening(web, p, timeout=30)
    wait_ready(web, p)
    want = {"200": GETS, "404": MISSES}
    deadline, got = time.monotonic() + 30, {}
    while time.monotonic() < deadline:
        res = prom_query(web, "http_server_request_duration_seconds_count")
        got = {r["metric"].get("http_response_status_code"): r for r in res}
        if {k: int(float(v["value"][1])) for k, v in got.items()} == want:
            break
        time.sleep(0.5)
    pr = h.Problems()
    pr.eq("prometheus: statuses", sorted(got), sorted(want))
    for status, r in got.items():
        pr.eq(f"prometheus: count {status}", int(float(r["value"][1])), want.get(status))
        pr.eq(f"prometheus: job {status}", r["metric"].get("job"), svc)
        pr.eq(f"prometheus: instance {status}", r["metric"].get("instance"), instance)
        pr.eq(f"prometheus: http_request_method {status}",
              r["metric"].get("http_request_method"), "GET")
    up = prom_query(web, 'up{job="obi"}')
    pr.eq("prometheus: up", [u["value"][1] for u in up], ["1"])
    # Prometheus 2 asks for OpenMetrics, whose le values are canonical ("2048.0"), and keeps
    # them as they are (Prometheus 3 normalizes them)
    bucket = prom_query(web, 'http_server_response_body_size_bytes_bucket'
                             '{http_response_status_code="200",le=~"2048(\\\\.0)?"}')
    pr.eq("prometheus: response body le=2048", [b["value"][1] for b in bucket], [str(GETS)])
    info = prom_query(web, f'target_info{{instance="{instance}"}}')
    pr.eq("prometheus: target_info", [i["value"][1] for i in info], ["1"])
    pr.raise_if_any("what prometheus scraped from obi")
    p.kill()


def main():
    port, prom_port = h.free_port(), h.free_port("::")
    www = h.start_http_server(port, {"f.txt": b"x" * BODY})
    svc = h.exe_basename(www.pid)
    instance = f"{socket.gethostname()}:{www.pid}"
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(port),
                 "OTEL_EBPF_PROMETHEUS_PORT": str(prom_port)})
    obi.wait_stderr(rf"prometheus: serving metrics on \*:{prom_port}/metrics")
    obi.expect_instrumented([www.pid], only=True)

    for _ in range(GETS):
        h.check_eq(h.curl(f"http://127.0.0.1:{port}/f.txt")["http_code"], 200, "GET /f.txt")
    for _ in range(MISSES):
        h.check_eq(h.curl(f"http://127.0.0.1:{port}/nope")["http_code"], 404, "GET /nope")
    obi.wait_spans(GETS + MISSES)

    r = scrape(prom_port)
    h.check_eq(r["http_code"], 200, "GET /metrics status")
    h.check_eq(r["content_type"], "text/plain; version=0.0.4; charset=utf-8",
               "GET /metrics content type")
    samples, comments = parse(r["body"].decode())
    p = h.Problems()
    check_text(samples, comments, svc, instance, www.pid, p)
    check_openmetrics(prom_port, svc, instance, p)
    head = h.curl(f"http://127.0.0.1:{prom_port}/metrics", "-I")
    p.eq("HEAD /metrics", (head["http_code"], head["size_download"]), (200, 0))
    p.eq("POST /metrics", scrape(prom_port, "-X", "POST", "-d", "x")["http_code"], 405)
    p.eq("GET /other", h.curl(f"http://127.0.0.1:{prom_port}/other")["http_code"], 404)
    p.eq("GET over IPv6", h.curl(f"http://[::1]:{prom_port}/metrics")["http_code"], 200)
    p.raise_if_any("the scrape endpoint")

    run_prometheus(prom_port, svc, instance)
    obi.stop(expect_total=GETS + MISSES)
    m = obi.wait_stderr(r"prometheus summary: scrapes=(\d+) not_found=(\d+) not_allowed=(\d+)")
    h.check(int(m.group(1)) >= 4 and (m.group(2), m.group(3)) == ("1", "1"),
            f"prometheus summary line: {m.group(0)}")


h.run(main)
