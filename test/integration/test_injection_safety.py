#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""traceparent injection is harmless (../shared/KERNEL.md: a socket in a SOCKHASH can report
FIONREAD 0 with data waiting, and nginx then stalls on large responses).

nginx (P1, keep-alive upstream, proxy buffering on) in front of servers/echo_backend.py (P2),
both selected by port; servers/fionread_client.py selected by pid, so its own sockets go into
obi's SOCKHASH too (checked with bpftool, like nginx's upstream sockets). One keep-alive client
connection to nginx (this script, http.client). Checked with obi running, then after `kill -9`
of obi on the connections opened before (the same client connection: its local port must not
change) and on new ones:
  (a) 3 downloads of a 20 MiB body through nginx, each within 20 s, SHA-256 right;
  (b) 2,000 keep-alive GETs through nginx: zero failures, every body right, within 30 s (no
      stall per request; about 2 s here without obi);
  (c) a 1 MiB POST through nginx arrives with the same SHA-256 and Content-Length, with exactly
      one traceparent while obi runs (none after it died); a POST with a 2.5 KiB head arrives
      with every header intact and never two traceparents;
  (d) the FIONREAD client, straight to the backend and through nginx: 2 responses of 8 MiB read
      with FIONREAD-sized reads, FIONREAD > 0 whenever data is pending and every read returns
      exactly FIONREAD bytes, SHA-256 right; its GET /headers carries exactly one traceparent
      while obi runs; a 1 MiB POST written in one call (head + body) arrives intact."""
import hashlib
import http.client
import json
import os
import sys
import time

import obi_harness as h

sys.path.insert(0, h.SERVERS)
from backend import r_body  # noqa: E402

BIG = 20 * 1024 * 1024
BIG_TIMEOUT = 20.0
KEEPALIVE = 2000
KEEPALIVE_BOUND = 30.0   # seconds for all 2,000 (about 2 s here without obi)
POST = 1024 * 1024
FION = 8 * 1024 * 1024
PADS = {f"X-Pad-{i:02d}": f"{i:02d}-" + "v" * 90 for i in range(24)}   # ~2.5 KiB of head

UPSTREAM = "obi_backend"


def sha(b):
    return hashlib.sha256(b).hexdigest()


class Phase:
    """One round of checks (a)-(d); problems are collected, with the phase name."""

    def __init__(self, name, p, nginx_port, backend_port, fc, conn, obi_alive):
        self.name, self.p = name, p
        self.nginx_port, self.backend_port = nginx_port, backend_port
        self.fc, self.conn, self.alive = fc, conn, obi_alive
        self.times = {}

    def bad(self, msg):
        self.p.append(f"{self.name}: {msg}")

    def client_port(self):
        return self.conn.sock.getsockname()[1] if self.conn.sock else None

    def downloads(self):
        want = sha(h.echo_blob(BIG))
        for i in range(3):
            t0 = time.monotonic()
            got, digest = 0, hashlib.sha256()
            try:
                self.conn.request("GET", f"/blob/{BIG}")
                r = self.conn.getresponse()
                while True:
                    piece = r.read(1 << 20)
                    if not piece:
                        break
                    got += len(piece)
                    digest.update(piece)
                    if time.monotonic() - t0 > BIG_TIMEOUT:
                        raise TimeoutError(f"over {BIG_TIMEOUT} s")
                status = r.status
            except (OSError, http.client.HTTPException) as e:
                self.bad(f"(a) 20 MiB download {i}: {type(e).__name__}: {e} after {got} bytes "
                         f"in {time.monotonic() - t0:.1f} s")
                self.conn.close()
                return
            took = time.monotonic() - t0
            self.times.setdefault("20MiB", []).append(round(took, 2))
            if (status, got, digest.hexdigest()) != (200, BIG, want):
                self.bad(f"(a) 20 MiB download {i}: status {status}, {got} bytes, sha256 "
                         f"{digest.hexdigest()} (want 200, {BIG}, {want})")
            if took > BIG_TIMEOUT:
                self.bad(f"(a) 20 MiB download {i} took {took:.1f} s (bound {BIG_TIMEOUT} s)")

    def keepalive(self):
        failures = []
        t0 = time.monotonic()
        for i in range(KEEPALIVE):
            try:
                self.conn.request("GET", f"/r/{i}")
                r = self.conn.getresponse()
                body = r.read()
                if (r.status, body) != (200, r_body(i)):
                    failures.append(f"/r/{i}: {r.status} {body[:40]!r}")
            except (OSError, http.client.HTTPException) as e:
                failures.append(f"/r/{i}: {type(e).__name__}: {e}")
                self.conn.close()
                break   # a timeout: do not wait 20 s more per request
            if len(failures) >= 5:
                break
        took = time.monotonic() - t0
        self.times["2000 keep-alive"] = round(took, 2)
        if failures:
            self.bad(f"(b) keep-alive requests failed (stopped at the first error or after 5 "
                     f"wrong answers): {failures}")
        elif took > KEEPALIVE_BOUND:
            self.bad(f"(b) {KEEPALIVE} keep-alive requests took {took:.1f} s (bound "
                     f"{KEEPALIVE_BOUND} s): a stall per request")

    def posts(self):
        body = os.urandom(POST)
        want_tp = 1 if self.alive else 0
        for label, extra in (("1 MiB POST", {}), ("1 MiB POST with a 2.5 KiB head", PADS)):
            try:
                self.conn.request("POST", "/upload", body=body,
                                  headers={"Content-Type": "application/octet-stream", **extra})
                r = self.conn.getresponse()
                status, got = r.status, json.loads(r.read())
            except (OSError, http.client.HTTPException, ValueError) as e:
                self.bad(f"(c) {label}: {type(e).__name__}: {e}")
                self.conn.close()
                continue
            hdrs = got.get("headers", [])
            tps = h.header_values(hdrs, "traceparent")
            self.p.eq(f"{self.name}: (c) {label}: status, length, sha256 at the backend",
                      (status, got.get("length"), got.get("sha256")), (200, POST, sha(body)))
            self.p.eq(f"{self.name}: (c) {label}: Content-Length at the backend",
                      h.header_values(hdrs, "Content-Length"), [str(POST)])
            if extra:
                self.p.eq(f"{self.name}: (c) {label}: the padding headers at the backend",
                          {k: v for k, v in hdrs if k.startswith("X-Pad-")}, PADS)
                self.p.true(len(tps) <= want_tp, f"{self.name}: (c) {label}: {len(tps)} "
                            f"traceparent headers at the backend: {tps}")
            else:
                self.p.eq(f"{self.name}: (c) {label}: number of traceparent headers", len(tps),
                          want_tp)

    def fionread(self, conns):
        want_big = sha(h.echo_blob(FION))
        for name in conns:
            if name.startswith("direct"):
                ok, r = self.fc.cmd(f"get {name} /headers")
                if not ok:
                    self.bad(f"(d) {name}: GET /headers: {r}")
                    continue
                tps = h.header_values(json.loads(r["body"]), "traceparent")
                self.p.eq(f"{self.name}: (d) {name}: traceparent headers at the backend "
                          f"({tps})", len(tps), 1 if self.alive else 0)
            for i in range(2):
                ok, r = self.fc.cmd(f"get {name} /blob/{FION}")
                if not ok:
                    self.bad(f"(d) {name}: 8 MiB response {i}: {r}")
                    break
                self.times.setdefault(f"fionread {name}", []).append(r["seconds"])
                self.p.eq(f"{self.name}: (d) {name}: 8 MiB response {i}: status, length, sha256,"
                          f" reads with FIONREAD 0 while data was pending, short reads",
                          (r["status"], r["length"], r["sha256"], r["fionread_zero"],
                           r["short_reads"]), (200, FION, want_big, 0, 0))
            if name.startswith("direct"):
                ok, r = self.fc.cmd(f"post {name} /upload {POST}")
                if not ok:
                    self.bad(f"(d) {name}: 1 MiB POST in one write: {r}")
                    continue
                got = json.loads(r["body"])
                self.p.eq(f"{self.name}: (d) {name}: 1 MiB POST in one write: length, sha256, "
                          f"traceparent headers", (got["length"], got["sha256"],
                                                   len(h.header_values(got["headers"],
                                                                       "traceparent"))),
                          (POST, r["sent_sha256"], 1 if self.alive else 0))

    def run(self, fc_conns):
        port0 = self.client_port()
        self.downloads()
        self.keepalive()
        self.posts()
        self.fionread(fc_conns)
        if port0 is not None and self.client_port() != port0:
            self.bad(f"the keep-alive client connection to nginx was not kept: local port "
                     f"{port0} became {self.client_port()}")
        print(f"{self.name}: seconds {json.dumps(self.times)}", flush=True)


def connect_fc(fc, name, port):
    ok, r = fc.cmd(f"connect {name} {port}")
    h.check(ok, f"fionread client: connect {name} to {port}: {r}")
    return r["cookie"]


def main():
    p1, p2 = h.free_port(), h.free_port()
    backend = h.start_echo_backend(p2)
    nginx = h.NginxServer(p1, f"""        client_max_body_size 64m;
        keepalive_requests 100000;
        keepalive_timeout 600s;
        client_header_timeout 600s;
        location / {{
            proxy_pass http://{UPSTREAM};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering on;
        }}""", http_extra=f"""    upstream {UPSTREAM} {{
        server 127.0.0.1:{p2};
        keepalive 8;
        keepalive_requests 100000;
        keepalive_timeout 600s;
    }}""")
    worker = nginx.workers[0]
    fc = h.CommandClient("fionread_client.py", name="fionread-client")
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": f"{p1},{p2}", "OTEL_EBPF_TARGET_PID": str(fc.pid)})
    h.wait_propagation_on(obi)
    obi.expect_instrumented([worker, backend.pid, fc.pid])

    p = h.Problems()
    cookies = {"direct": connect_fc(fc, "direct", p2), "nginx": connect_fc(fc, "nginx", p1)}
    conn = http.client.HTTPConnection("127.0.0.1", p1, timeout=BIG_TIMEOUT)
    conn.connect()

    Phase("with obi", p, p1, p2, fc, conn, True).run(["direct", "nginx"])

    # the sockets the checks are about really are in obi's SOCKHASH
    in_map = h.sockhash_cookies(obi)
    upstream = h.tcp_cookies(worker, p2)
    h.check(upstream, f"nginx worker {worker} has no connection to the backend port {p2}")
    p.eq("fionread client sockets in obi's sock_hash", {k: c in in_map for k, c in
                                                         cookies.items()},
         {"direct": True, "nginx": True})
    p.eq(f"nginx upstream sockets in obi's sock_hash ({sorted(upstream)}; map {sorted(in_map)})",
         upstream <= in_map, True)

    obi.kill9()
    Phase("after kill -9, connections opened before", p, p1, p2, fc, conn, False).run(
        ["direct", "nginx"])
    p.eq("nginx upstream connections of before the kill still open",
         upstream <= h.tcp_cookies(worker, p2), True)
    conn.close()
    conn2 = http.client.HTTPConnection("127.0.0.1", p1, timeout=BIG_TIMEOUT)
    conn2.connect()
    connect_fc(fc, "direct2", p2)
    connect_fc(fc, "nginx2", p1)
    Phase("after kill -9, new connections", p, p1, p2, fc, conn2, False).run(
        ["direct2", "nginx2"])
    conn2.close()
    p.raise_if_any("injection safety")


h.run(main)
