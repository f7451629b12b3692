#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""obi first (OTEL_EBPF_OPEN_PORT=<port>, nothing listening yet), then the server: the very
first request, sent on the first connection the port accepts, gives a span."""
import socket
import time

import obi_harness as h


def first_connection(port, proc, timeout=10.0):
    """Connects as soon as the port accepts (retrying on ECONNREFUSED); bounded."""
    deadline = time.monotonic() + timeout
    attempts = 0
    while True:
        attempts += 1
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(("127.0.0.1", port))
            return s, attempts
        except ConnectionRefusedError:
            s.close()
        h.check(proc.alive(), f"server exited early: {proc.output()}")
        h.check(time.monotonic() < deadline, f"port {port} did not accept within {timeout} s")
        time.sleep(0.002)


def get(sock, path, port):
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    f = sock.makefile("rb")
    status = int(f.readline().split()[1])
    length = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return status, f.read(length)


def main():
    port = h.free_port()
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(port)})
    h.check_eq(obi.instrumented_pids(), [], "instrumented pids before the server starts")
    since = time.time_ns()

    server = h.start_backend(port, wait=False)
    sock, attempts = first_connection(port, server)
    with sock:
        local_port = sock.getsockname()[1]
        got = get(sock, "/a", port)
    h.check_eq(got, (200, b"alpha\n"), f"first response (connected after {attempts} attempts)")
    obi.wait_instrumented(server.pid)
    [first] = obi.wait_spans(1, what="spans for the server's very first request")
    h.expect_span(first, "first request", {
        "kind": "SERVER", "http.request.method": "GET", "url.path": "/a",
        "http.response.status_code": 200, "http.response.body.size": 6,
        "network.local.port": port, "network.peer.port": local_port,
        "process.pid": server.pid, "service.name": h.exe_basename(server.pid),
        "telemetry.sdk.language": "python"}, since)

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        h.check_eq(get(sock, "/b", port), (200, b"bravo!!\n"), "second response")
    second = obi.wait_spans(2, what="spans after the second request")[1]
    h.expect_span(second, "second request", {
        "kind": "SERVER", "url.path": "/b", "http.response.status_code": 200,
        "process.pid": server.pid}, since)
    h.check_eq(obi.instrumented_pids(), [server.pid], "instrumented pids")
    obi.stop(expect_total=2)


h.run(main)
