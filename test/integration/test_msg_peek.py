#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Servers that look at a request with MSG_PEEK before reading it (servers/raw_server.py
--mode peek: recv(MSG_PEEK) then recv; --mode peekmsg: recvmsg(MSG_PEEK) then recvmsg). obi
reads a receive's flags from the registers the syscall saved: a peek leaves the bytes queued and
must not count as a read, so each of three keep-alive requests gives exactly one SERVER span
(status 200, body sizes right), nothing is unanswered, orphaned or counted as not HTTP."""
import socket
import time

import obi_harness as h

RAW = h.SERVERS + "/raw_server.py"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


def start_raw(port, mode):
    p = h.Proc([h.PYTHON, "-u", RAW, "--port", str(port), "--mode", mode], name=f"raw-{mode}")
    p.wait_output(r"^READY port=\d+")
    h.wait_listening(port, p)
    return p


def three_requests(port, tag):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        cport = s.getsockname()[1]
        for i in range(3):
            s.sendall(f"GET /{tag}/{i} HTTP/1.1\r\nHost: peek.example\r\n\r\n".encode())
            got = b""
            while len(got) < len(OK):
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            h.check_eq(got, OK, f"answer to GET /{tag}/{i}")
    return cport


def main():
    ports = {"peek": h.free_port(), "peekmsg": h.free_port()}
    servers = {m: start_raw(port, m) for m, port in ports.items()}
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": ",".join(str(p) for p in ports.values())})
    since = time.time_ns()
    obi.expect_instrumented([s.pid for s in servers.values()], only=True)
    p = h.Problems()
    for mode, port in ports.items():
        cport = three_requests(port, mode)
        spans = obi.wait_spans(3, lambda s, port=port: s.get("network.local.port") == port,
                               what=f"spans of the {mode} server")
        time.sleep(0.2)   # a duplicate would be out by now
        mine = [s for s in obi.spans if s.get("network.local.port") == port]
        p.eq(f"{mode}: spans", len(mine), 3)
        for i, s in enumerate(spans):
            h.expect_span(s, f"{mode} GET /{mode}/{i}", {
                "kind": "SERVER", "http.request.method": "GET", "url.path": f"/{mode}/{i}",
                "http.response.status_code": 200, "http.response.body.size": 2,
                "http.request.body.size": 0, "server.address": "peek.example",
                "network.local.port": port, "network.peer.port": cport,
                "process.pid": servers[mode].pid}, since, p)
    obi.stop(expect_code=0, expect_total=6)
    summary = obi.summary()
    for k, want in (("spans", 6), ("unanswered", 0), ("orphan_responses", 0), ("not_http", 0)):
        p.eq(f"summary {k}", summary.get(k), want)
    p.raise_if_any("spans of servers that peek")
    print(f"obi summary: {summary}", flush=True)


if __name__ == "__main__":
    h.run(main)
