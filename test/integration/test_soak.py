#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Soak (label soak; not run by default: `ctest -C soak -L soak`): OBI_SOAK_SECONDS (300) of
steady traffic at OBI_SOAK_RATE requests/s (200) with connection churn — 8 clients, each
opening a connection, sending 1 to 8 keep-alive requests and closing it — half through nginx
(a keep-alive reverse proxy: server and client spans, traceparent injection) to
servers/backend.py (a thread per connection), half straight to the backend; obi exports OTLP to
a sink in this test. Every 15 s it records obi's RSS and the entry counts of its BPF hash maps
(found through its programs' map_ids, counted with bpftool map dump; for the slot tables
conn_slots and thread_slots, the slots with an owner).

Checks: every request succeeded; after the traffic stops (and nginx's idle upstream
connections are closed) each map is back to (at most) its entry count before the traffic (thread_ctx
and thread_slots: plus one entry per live thread of the selected processes, deleted when the thread exits), obi's RSS
after the traffic is within 2 MiB of its RSS after the first minute (no growth while the
traffic is steady), and at exit every span was exported (spans_exported = spans, none
dropped), lost_events=0 and conns=0."""
import http.client
import os
import random
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import obi_harness as h

SECONDS = int(os.environ.get("OBI_SOAK_SECONDS", "300"))
RATE = int(os.environ.get("OBI_SOAK_RATE", "200"))
CLIENTS = 8
SAMPLE_S = 15
MAPS = ("traced_pids", "conn_slots", "inflight", "thread_ctx", "thread_slots", "thread_parent",
        "inject_slots", "connecting", "sock_hash")
RSS_SLACK_KB = 2048


class Sink(BaseHTTPRequestHandler):
    """OTLP/HTTP receiver that accepts everything and keeps nothing."""
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.posts += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        pass


class Load:
    """CLIENTS threads sharing RATE requests/s, each over short keep-alive connections."""

    def __init__(self, targets):
        self.targets = targets
        self.done = {t: 0 for t in targets}
        self.errors = []
        self.lock = threading.Lock()
        self.stop_at = time.monotonic() + SECONDS
        self.threads = [threading.Thread(target=self.client, args=(k,), daemon=True)
                        for k in range(CLIENTS)]

    def client(self, k):
        rnd = random.Random(k)
        interval = CLIENTS / RATE
        next_at = time.monotonic() + rnd.random() * interval
        i = 0
        while time.monotonic() < self.stop_at and not self.errors:
            port = self.targets[i % len(self.targets)]
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                for _ in range(rnd.randint(1, 8)):
                    time.sleep(max(0.0, next_at - time.monotonic()))
                    next_at += interval
                    conn.request("GET", f"/r/{i}")
                    resp = conn.getresponse()
                    body = resp.read()
                    if resp.status != 200 or len(body) != h.r_body_size(i):
                        raise RuntimeError(f"GET /r/{i} on port {port}: {resp.status}, "
                                           f"{len(body)} bytes")
                    with self.lock:
                        self.done[port] += 1
                    i += 1
            except Exception as e:
                self.errors.append(f"client {k}: {e}")
            finally:
                conn.close()


def exit_line(obi, marker):
    """The counters of obi's last stderr line containing `marker`, as {name: int}."""
    lines = [l for l in obi.err_lines if marker in l]
    h.check(lines, f"obi printed no {marker.strip()!r} line")
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", lines[-1].split("summary:")[1])}


def map_counts(maps):
    return {n: h.bpf_map_entries(maps[n]) for n in MAPS if n in maps}


def main():
    backend_port, nginx_port = h.free_port(), h.free_port()
    backend = h.start_backend(backend_port)
    nginx = h.NginxServer(nginx_port, """
        location / {
            proxy_pass http://soak_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
""", http_extra=f"""
    upstream soak_backend {{
        server 127.0.0.1:{backend_port};
        keepalive 8;
        keepalive_timeout 2s;
    }}""")
    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    sink.posts = 0
    sink.daemon_threads = True
    threading.Thread(target=sink.serve_forever, daemon=True).start()

    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": f"{backend_port},{nginx_port}",
                 "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink.server_address[1]}",
                 "OTEL_BSP_SCHEDULE_DELAY": "500", "OTEL_METRIC_EXPORT_INTERVAL": "5000"},
                printer=None)
    obi.expect_instrumented([backend.pid, nginx.pid] + nginx.workers)
    maps = h.bpf_maps_of(obi.pid)
    missing = [n for n in MAPS if n not in maps]
    h.check(not missing, f"obi's BPF maps {sorted(maps)} lack {missing}")
    time.sleep(2)
    before = map_counts(maps)
    samples = [(0, h.otlp_rss_kb(obi.pid), before)]
    print(f"soak: {SECONDS} s at {RATE} requests/s, {CLIENTS} clients; obi pid {obi.pid}",
          flush=True)
    print(f"{'t(s)':>5} {'RSS KiB':>8}  " + " ".join(f"{n:>14}" for n in MAPS), flush=True)

    def show(t, rss, counts):
        print(f"{t:5.0f} {rss:8d}  " + " ".join(f"{counts.get(n, -1):14d}" for n in MAPS),
              flush=True)
    show(*samples[0])

    load = Load([nginx_port, backend_port])
    t0 = time.monotonic()
    for t in load.threads:
        t.start()
    while any(t.is_alive() for t in load.threads):
        time.sleep(SAMPLE_S)
        h.check(obi.p.poll() is None, f"obi exited with code {obi.p.returncode} under load")
        samples.append((time.monotonic() - t0, h.otlp_rss_kb(obi.pid), map_counts(maps)))
        show(*samples[-1])
    h.check(not load.errors, f"requests failed: {load.errors[:5]}")
    total = sum(load.done.values())
    print(f"requests: {total} ({load.done}) in {time.monotonic() - t0:.0f} s", flush=True)

    # thread_ctx keeps one entry per live thread of a selected process that has served a
    # request (updated in place, deleted when the thread exits): those are not a leak
    traced = [backend.pid, nginx.pid] + nginx.workers
    live_threads = sum(len(os.listdir(f"/proc/{pid}/task")) for pid in traced
                       if os.path.isdir(f"/proc/{pid}/task"))
    allowed = dict(before)
    allowed["thread_ctx"] = before.get("thread_ctx", 0) + live_threads
    allowed["thread_slots"] = before.get("thread_slots", 0) + live_threads
    # idle: nginx closes its upstream connections after 2 s, obi handles the closes
    deadline = time.monotonic() + 30
    while True:
        time.sleep(2)
        after = map_counts(maps)
        if all(after[n] <= allowed[n] for n in after) or time.monotonic() > deadline:
            break
    rss_after = h.otlp_rss_kb(obi.pid)
    show(time.monotonic() - t0, rss_after, after)
    warm = [rss for t, rss, _ in samples if t >= 60] or [samples[-1][1]]
    p = h.Problems()
    for n in MAPS:
        # at most as many as before: obi's start-up self-test may leave entries, which the
        # LRU maps later evict
        p.true(after.get(n, 0) <= allowed.get(n, 0), f"BPF map {n}: {after.get(n)} entries "
               f"after the traffic, {before.get(n)} before, {allowed.get(n)} allowed "
               f"({live_threads} live threads in the selected processes)")
    p.true(rss_after <= warm[0] + RSS_SLACK_KB and max(warm) <= warm[0] + RSS_SLACK_KB,
           f"obi's RSS grew: {warm[0]} KiB after the first minute, at most {max(warm)} during "
           f"the traffic, {rss_after} after it (slack {RSS_SLACK_KB} KiB)")

    obi.stop(expect_code=0, timeout=20)
    summary, exported = exit_line(obi, " summary: processes="), exit_line(obi, "otlp summary:")
    print(f"obi summary: {summary}\notlp: {exported}\nsink POSTs: {sink.posts}", flush=True)
    want_spans = 3 * load.done[nginx_port] + load.done[backend_port]
    p.eq("spans (3 per request through nginx, 1 per direct request)", summary.get("spans"),
         want_spans)
    p.eq("spans_exported", exported.get("spans_exported"), want_spans)
    p.eq("spans_dropped", exported.get("spans_dropped"), 0)
    p.eq("lost_events", summary.get("lost_events"), 0)
    p.eq("conns at exit", summary.get("conns"), 0)
    sink.shutdown()
    p.raise_if_any("soak")


h.run(main)
