#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Connections whose end the close hooks cannot see still end in obi.

1. 20 connections to a selected server that, after the client has closed, shuts its side
   down, waits for the client's ACK (TCP then has the socket CLOSED while the server still
   holds it) and only then closes: no TCP state change happens at that close.
2. A selected server killed (SIGKILL) with 10 keep-alive connections open: its sockets are
   closed by its exit, not by close().

obi ends these connections when the kernel destroys the socket (tcp_destroy_sock). Checks: the
spans (status 200, path), the kernel's connection state (owned conn_slots) back to its count
before each part, and obi's exit summary conns=0."""
import signal
import socket
import time

import obi_harness as h

# GET /<anything> -> 200 "ok"; after the client's EOF: shutdown(SHUT_WR), 0.3 s, close().
LATE_CLOSER = r"""
import socket, sys, threading, time
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(64)
print("READY", flush=True)

def serve(c):
    while True:
        req = c.recv(65536)
        if not req:
            break
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    c.shutdown(socket.SHUT_WR)
    time.sleep(0.3)
    c.close()

while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


def state_entries(maps):
    return h.bpf_map_entries(maps["conn_slots"])


def wait_back(maps, want, what):
    deadline = time.monotonic() + 10
    while (got := state_entries(maps)) != want and time.monotonic() < deadline:
        time.sleep(0.2)
    h.check_eq(got, want, what)


def get(port, path, close=True):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: end\r\n\r\n".encode())
    data = b""
    while not data.endswith(b"\r\n\r\nok"):
        chunk = s.recv(65536)
        h.check(chunk, f"GET {path}: connection closed after {data!r}")
        data += chunk
    h.check(data.startswith(b"HTTP/1.1 200 "), f"GET {path}: {data!r}")
    if close:
        s.close()
    return s


def main():
    late_port, kill_port = h.free_port(), h.free_port()
    late = h.Proc([h.PYTHON, "-c", LATE_CLOSER, str(late_port)], name="late-closer")
    late.wait_output(r"^READY")
    doomed = h.Proc([h.PYTHON, "-c", LATE_CLOSER, str(kill_port)], name="doomed-server")
    doomed.wait_output(r"^READY")
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": f"{late_port},{kill_port}"})
    obi.expect_instrumented([late.pid, doomed.pid], only=True)
    maps = h.bpf_maps_of(obi.pid)
    before = state_entries(maps)
    since = time.time_ns()

    for i in range(20):
        get(late_port, f"/late/{i}")
    time.sleep(0.5)   # every server socket: shut down, ACKed, then closed
    wait_back(maps, before, "connection state entries after 20 late closes")

    held = [get(kill_port, f"/held/{i}", close=False) for i in range(10)]
    h.check(state_entries(maps) >= before + 10, "no kernel state for the 10 held connections")
    doomed.p.send_signal(signal.SIGKILL)
    doomed.p.wait(timeout=10)
    wait_back(maps, before, "connection state entries after the server was killed")
    for s in held:
        s.close()

    spans = obi.wait_spans(30, timeout=15, what="30 SERVER spans")
    p = h.Problems()
    paths = sorted(s.get("url.path", "") for s in spans)
    p.eq("paths", paths, sorted([f"/late/{i}" for i in range(20)] +
                                [f"/held/{i}" for i in range(10)]))
    for s in spans:
        h.expect_span(s, f"span {s.get('url.path')}", {
            "kind": "SERVER", "http.response.status_code": 200,
            "http.response.body.size": 2}, since, p)
    p.raise_if_any("late and killed closes")
    obi.stop(expect_total=30)
    summary = obi.summary()
    h.check_eq(summary.get("conns"), 0, f"connections open at obi's exit ({summary})")


h.run(main)
