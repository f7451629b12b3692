#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Hostile traffic against traced servers: a python HTTP/1.1 server (this file run with
--serve: http.server with fixed Date and Server headers, so its answers are reproducible) and
nginx. The same traffic runs twice, first with no obi, then with obi selecting both servers:

  random    random bytes (and random bytes after "GET " or a status line) on 12 connections
  half_open 16 connections each sending half a request head, kept open while everything else
            runs; 4 are finished at the end, 12 closed unfinished
  slow      two requests sent one byte every 50 ms
  headers   64 headers of 1 KiB, one 65,000-byte header, one 70,000-byte header line
  pipeline  1,000 requests in one write on one connection, read back as 1,000 responses
  reset     GET of 4 MiB, 64 KiB read, then closed with SO_LINGER 0 (RST mid-response), and a
            RST in the middle of a request head
  short     10,000 connections of one request each (Connection: close)

The test fails unless every answer each client received is byte-identical in both runs (nginx's
Date header masked), obi stays up (checked after each kind of traffic) with a bounded RSS,
every span it prints is well-formed and names a request that was sent with the status it got,
the pipelined requests are all accounted for (answered spans + orphan_responses = 1,000 per
server: obi never loses one silently; they run first under an obi of their own, so that its
exit counters are theirs alone), every short connection gives its span, and obi exits 0 with
lost_events=0."""
import collections
import hashlib
import os
import random
import re
import socket
import struct
import sys
import threading
import time

import obi_harness as h

N_PIPELINED = 1000
N_SHORT = 10000
BIG = 4 << 20
FIXED_DATE = "Thu, 01 Jan 2026 00:00:00 GMT"
RSS_GROWTH_MAX_KB = 16 * 1024   # obi's RSS growth over the hostile run (ASan: see below)


# --- the python server (this file with --serve PORT) -----------------------------------------

def r_body(i):
    size = 16 + i % 64
    return (f"{i}:" + "x" * size)[:size].encode()


def big_body(n):
    block = hashlib.sha256(b"obi-hostile").digest() * 128   # 4 KiB
    return (block * (n // len(block) + 1))[:n]


def serve(port):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "obi-hostile/1"
        sys_version = ""

        def date_time_string(self, timestamp=None):
            return FIXED_DATE

        def log_message(self, fmt, *args):
            pass

        def reply(self, code, body):
            head = (f"HTTP/1.1 {code} {self.responses[code][0]}\r\nServer: obi-hostile/1\r\n"
                    f"Date: {FIXED_DATE}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
            self.wfile.write(head + body)   # one write per response

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path.startswith("/r/") and path[3:].isdigit():
                self.reply(200, r_body(int(path[3:])))
            elif path.startswith("/big/") and path[5:].isdigit():
                self.reply(200, big_body(int(path[5:])))
            elif path == "/h":
                n = sum(len(k) + len(v) for k, v in self.headers.items())
                self.reply(200, f"headers={len(self.headers)} bytes={n}\n".encode())
            else:
                self.reply(404, b"not found\n")

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.reply(200, f"received {len(body)} {hashlib.sha256(body).hexdigest()}\n"
                       .encode())

    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    print(f"READY port={port} pid={os.getpid()}", flush=True)
    srv.serve_forever()


# --- clients ---------------------------------------------------------------------------------

DATE_RE = re.compile(rb"\r\nDate: [^\r\n]*\r\n")


def normalize(data):
    """nginx's Date header changes every second: masked (the python server's is fixed)."""
    return DATE_RE.sub(b"\r\nDate: -\r\n", data)


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_all(s):
    out = []
    while True:
        chunk = s.recv(1 << 16)
        if not chunk:
            return b"".join(out)
        out.append(chunk)


def exchange(port, payload):
    """Sends payload, half-closes, reads to EOF."""
    with connect(port) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        return read_all(s)


def split_responses(data):
    """HTTP/1.1 responses with Content-Length, one after another: [(status, body)]."""
    out, pos = [], 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        h.check(end > 0, f"response {len(out)}: no end of head in {data[pos:pos + 200]!r}")
        head = data[pos:end].decode("latin-1")
        m = re.search(r"(?im)^content-length: *(\d+)", head)
        h.check(m, f"response {len(out)} without Content-Length: {head!r}")
        body_at = end + 4
        out.append((int(head.split(" ", 2)[1]), data[body_at:body_at + int(m.group(1))]))
        pos = body_at + int(m.group(1))
    return out


def sent_request(path, host):
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: obi-hostile\r\n\r\n".encode()


def t_random(port):
    rnd = random.Random(5)
    out = []
    for i in range(12):
        junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(16, 8192)))
        if i == 10:
            junk = b"GET " + junk
        elif i == 11:
            junk = b"HTTP/1.1 200 OK\r\n" + junk
        out.append(exchange(port, junk))
    return b"".join(out)


def t_half_open_start(port):
    socks = []
    for i in range(16):
        s = connect(port)
        s.sendall(f"GET /r/{i} HTTP/1.1\r\nHost: half\r\nX-Half: ".encode())
        socks.append(s)
    return socks


def t_half_open_end(socks):
    out = []
    for i, s in enumerate(socks):
        if i < 4:
            s.sendall(b"open\r\n\r\n")
            s.shutdown(socket.SHUT_WR)
            out.append(read_all(s))
        else:
            s.setblocking(False)
            try:
                out.append(b"early:" + s.recv(1 << 16))
            except BlockingIOError:
                out.append(b"")
        s.close()
    return b"|".join(out)


def t_slow(port):
    reqs = [sent_request("/r/5", "slow"),
            b"POST /slow HTTP/1.1\r\nHost: slow\r\nContent-Length: 10\r\n\r\n0123456789"]
    got = [None] * len(reqs)

    def one(k):
        with connect(port) as s:
            for b in reqs[k]:
                s.sendall(bytes([b]))
                time.sleep(0.05)
            s.shutdown(socket.SHUT_WR)
            got[k] = read_all(s)

    threads = [threading.Thread(target=one, args=(k,)) for k in range(len(reqs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    h.check(all(g is not None for g in got), "a slow sender did not finish within 60 s")
    return b"|".join(got)


def t_headers(port):
    many = "".join(f"X-Pad-{i:02d}: {'p' * 1000}\r\n" for i in range(64))
    heads = [f"GET /h HTTP/1.1\r\nHost: headers\r\n{many}\r\n",
             f"GET /h HTTP/1.1\r\nHost: headers\r\nX-Big: {'b' * 65000}\r\n\r\n",
             f"GET /h HTTP/1.1\r\nHost: headers\r\nX-Huge: {'h' * 70000}\r\n\r\n"]
    return b"|".join(exchange(port, x.encode()) for x in heads)


def t_pipeline(port):
    payload = b"".join(sent_request(f"/r/{i}", "pipe") for i in range(N_PIPELINED))
    data = exchange(port, payload)
    resps = split_responses(data)
    h.check_eq(len(resps), N_PIPELINED, f"responses to {N_PIPELINED} pipelined requests")
    return data


def t_reset(port):
    out = []
    for _ in range(4):
        s = connect(port)
        s.sendall(sent_request(f"/big/{BIG}", "reset"))
        got = b""
        while len(got) < 65536:
            chunk = s.recv(65536 - len(got))
            h.check(chunk, f"EOF after {len(got)} bytes of /big/{BIG}")
            got += chunk
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()   # RST: the server is still writing
        out.append(got)
    s = connect(port)
    s.sendall(b"GET /r/9 HTTP/1.1\r\nHost: re")
    time.sleep(0.05)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    return b"|".join(out)


def t_short(port):
    got = [None] * N_SHORT
    nthreads = 4

    def worker(k):
        for i in range(k, N_SHORT, nthreads):
            with connect(port) as s:
                s.sendall(f"GET /r/{i} HTTP/1.1\r\nHost: short\r\nConnection: close\r\n\r\n"
                          .encode())
                got[i] = read_all(s)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    h.check(all(g is not None for g in got), "short connections did not all finish")
    return b"|".join(got)


def run_traffic(port, obi=None, rss=None):
    """All the traffic against one server; {scenario: sha256 of what the clients received}.
    With obi: checks it is alive after each scenario and records its RSS in `rss`."""
    results = {}

    def done(name, data):
        results[name] = hashlib.sha256(normalize(data)).hexdigest()
        if obi is not None:
            h.check(obi.p.poll() is None, f"obi exited with code {obi.p.returncode} during the "
                    f"{name!r} traffic to port {port}")
            rss.append((f"{port}/{name}", h.otlp_rss_kb(obi.pid)))

    half = t_half_open_start(port)
    for name, fn in (("random", t_random), ("slow", t_slow), ("headers", t_headers),
                     ("pipeline", t_pipeline), ("reset", t_reset), ("short", t_short)):
        t0 = time.monotonic()
        done(name, fn(port))
        print(f"  port {port} {name}: {time.monotonic() - t0:.1f} s", flush=True)
    done("half_open", t_half_open_end(half))
    return results


# --- checks ----------------------------------------------------------------------------------

SENT_PATHS = {"/h", "/slow", f"/big/{BIG}"} | {f"/r/{i}" for i in range(N_SHORT)}
STATUSES = {0, 200, 400, 404, 414, 431, 494}


def check_spans(spans, ports, since):
    """Every span is well-formed and names a request that was sent, with a status a client
    got (0: the connection ended first)."""
    p = h.Problems()
    for i, s in enumerate(spans):
        if s.get("network.local.port") not in ports:
            p.append(f"span {i} of an unexpected port: {h.short(s)}")
            continue
        p.extend(h.span_problems(s, f"span {i} {h.short(s)}", since))
        p.true(s.get("kind") == "SERVER", f"span {i}: not a SERVER span: {h.short(s)}")
        p.true(s.get("url.path") in SENT_PATHS, f"span {i}: path never sent: {h.short(s)}")
        p.true(s.get("http.request.method") in ("GET", "POST"),
               f"span {i}: method never sent: {h.short(s)}")
        p.true(s.get("http.response.status_code") in STATUSES,
               f"span {i}: status no client got: {h.short(s)}")
    p.raise_if_any(f"{len(spans)} spans")


def main():
    py_port, ngx_port = h.free_port(), h.free_port()
    py = h.Proc([h.PYTHON, "-u", os.path.abspath(__file__), "--serve", str(py_port)],
                name="hostile-python")
    py.wait_output(r"^READY port=\d+")
    h.wait_listening(py_port, py)
    www = h.tmpdir("obi-it-hostile-www-")
    with open(os.path.join(www, "big"), "wb") as f:
        f.write(big_body(BIG))
    ngx = h.NginxServer(ngx_port, f"""
        location /r/ {{ return 200 "r\\n"; }}
        location = /h {{ return 200 "h\\n"; }}
        location = /big/{BIG} {{ alias {www}/big; }}
        location = /slow {{ return 200 "slow\\n"; }}
""", http_extra="    keepalive_requests 1000;\n    sendfile on;")

    ports = (py_port, ngx_port)
    selector = {"OTEL_EBPF_OPEN_PORT": f"{py_port},{ngx_port}"}
    print("without obi:", flush=True)
    baseline = {port: run_traffic(port) for port in ports}

    # pipelining alone first, so that obi's counters at exit are about it alone
    obi = h.Obi(selector, name="obi-pipeline")
    obi.expect_instrumented([py.pid, ngx.pid] + ngx.workers)
    for port in ports:
        t_pipeline(port)
    time.sleep(1)
    obi.stop(expect_code=0)
    pipe_summary = obi.summary()
    pipe = list(obi.spans)   # a head cut at 1 KiB may lack its Host: not filtered by it
    per_port = {port: sum(s.get("network.local.port") == port for s in pipe) for port in ports}
    print(f"pipelined: {N_PIPELINED} requests to each server: spans {per_port}, "
          f"pipeline_overflow {pipe_summary['pipeline_overflow']}, orphan_responses "
          f"{pipe_summary['orphan_responses']}, unanswered {pipe_summary['unanswered']}",
          flush=True)
    check_spans(obi.spans, set(ports), 0)

    obi = h.Obi(selector)
    since = time.time_ns()
    obi.expect_instrumented([py.pid, ngx.pid] + ngx.workers)
    rss = [("ready", h.otlp_rss_kb(obi.pid))]
    print(f"with obi (pid {obi.pid}):", flush=True)
    traced = {port: run_traffic(port, obi, rss) for port in ports}
    p = h.Problems()
    for port, name in ((py_port, "python"), (ngx_port, "nginx")):
        for k, digest in baseline[port].items():
            p.eq(f"{name} {k}: sha256 of the answers with obi vs without", traced[port][k],
                 digest)
    p.raise_if_any("answers changed under obi")

    # every short connection is one complete request/response: one span each
    for port in ports:
        obi.wait_spans(N_SHORT, lambda s, port=port: (s.get("network.local.port") == port and
                                                      s.get("server.address") == "short"),
                       timeout=60, settle=0.2,
                       what=f"spans of the {N_SHORT} short connections to port {port}")
    time.sleep(1)
    with obi._cond:
        spans = list(obi.spans)
    check_spans(spans, set(ports), since)
    rss.append(("end", h.otlp_rss_kb(obi.pid)))
    obi.stop(expect_code=0)
    summary = obi.summary()
    by_kind = collections.Counter((s.get("network.local.port"), s.get("server.address"))
                                  for s in spans)
    print(f"spans by (port, Host): {dict(by_kind)}", flush=True)
    print(f"obi summary: {summary}", flush=True)
    print(f"obi RSS (KiB): {rss}", flush=True)

    # no silent loss: each of the responses (one write each) either ended a span or was counted
    # as an orphan, its request unseen (beyond the captured 1 KiB of a read) or dropped (past
    # MAX_PENDING waiting requests: pipeline_overflow)
    answered = len(pipe) - pipe_summary["unanswered"]
    h.check_eq(answered + pipe_summary["orphan_responses"], len(ports) * N_PIPELINED,
               "pipelined requests accounted for (answered spans + orphan_responses)")
    h.check_eq(summary["lost_events"], 0, "lost_events in obi's summary")
    growth = max(kb for _, kb in rss) - rss[0][1]
    limit = RSS_GROWTH_MAX_KB * (16 if h.sanitized() else 1)   # ASan's quarantine is 256 MiB
    h.check(growth <= limit, f"obi's RSS grew by {growth} KiB (limit {limit}): {rss}")

if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
    else:
        h.run(main)
