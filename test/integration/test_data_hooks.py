#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""OTEL_EBPF_BPF_DATA_HOOKS: obi sees socket data through the socket tracepoints (tp_btf on
sock_recv_length, sock_send_length and inet_sock_set_state) or through the syscall tracepoints.
Each set is loaded alone (the log names it, obi holds only its programs) and gives the same
spans for the same traffic: keep-alive GET and POST, a 404, an HTTP/1.0 exchange the server
closes, and a request whose server closes the connection unanswered — and a selected client
that half-closes (shutdown(SHUT_WR)) after its request and reads the answer only after the
server has answered and closed: its connection is over for TCP before the client reads, and the
span must still get the response. `auto` takes the socket tracepoints on this kernel. (A bad
value: test_bad_config.py.)"""
import os
import re
import socket
import time

import obi_harness as h

SOCKET_PROGS = {"obi_sock_recv", "obi_sock_send", "obi_sock_state"}
SYSCALL_PROGS = {"trace_exit_read", "trace_exit_writev", "trace_exit_recvfrom",
                 "trace_enter_close", "trace_enter_listen"}
LOG = {"sockets": "socket data seen through socket tracepoints (tp_btf)",
       "syscalls": "socket data seen through syscall tracepoints"}
# what a span must say, by path, in both modes
WANT = {
    "/a": {"http.request.method": "GET", "http.response.status_code": 200,
           "http.response.body.size": 6},
    "/upload": {"http.request.method": "POST", "http.response.status_code": 200,
                "http.request.body.size": 5, "http.response.body.size": 11},
    "/missing": {"http.request.method": "GET", "http.response.status_code": 404,
                 "http.response.body.size": 10},
    "/b": {"http.request.method": "GET", "http.response.status_code": 200,
           "http.response.body.size": 8},
}


def prog_names(pid):
    """Names of the BPF programs process `pid` holds open."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                m = re.search(r"^prog_id:\s*(\d+)", f.read(), re.M)
        except OSError:
            continue
        if m:
            ids.add(int(m.group(1)))
    return {p.get("name") for p in h._bpftool_json("prog", "show") if p["id"] in ids}


def read_response(s):
    """One Content-Length response from socket s."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        h.check(chunk, f"connection closed mid-head: {data!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    n = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
    while len(body) < n:
        chunk = s.recv(65536)
        h.check(chunk, "connection closed mid-body")
        body += chunk
    return head.split(b"\r\n", 1)[0], body


def traffic(port, slow_port):
    """Keep-alive GET /a, POST /upload, GET /missing; an HTTP/1.0 GET /b the server closes; a
    GET /slow the server closes unanswered. Returns the keep-alive connection's client port."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        cport = s.getsockname()[1]
        for req in (b"GET /a HTTP/1.1\r\nHost: hooks\r\n\r\n",
                    b"POST /upload HTTP/1.1\r\nHost: hooks\r\nContent-Length: 5\r\n\r\nhello",
                    b"GET /missing HTTP/1.1\r\nHost: hooks\r\n\r\n"):
            s.sendall(req)
            read_response(s)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /b HTTP/1.0\r\nHost: hooks\r\n\r\n")
        while s.recv(65536):
            pass
    with socket.create_connection(("127.0.0.1", slow_port), timeout=10) as s:
        s.sendall(b"GET /slow HTTP/1.1\r\nHost: hooks\r\n\r\n")
        h.check_eq(s.recv(65536), b"", "the dropping server's answer")
    return cport


def half_closing_client(port):
    c = h.Proc([h.PYTHON, "-u", os.path.join(h.SERVERS, "raw_client.py"), "--port", str(port),
                "--half-close", "0.5", 'b"GET /a HTTP/1.0\\r\\nHost: hooks\\r\\n\\r\\n"'],
               name="half-close-client", stdin=True)
    c.wait_output(r"^READY pid=\d+")
    return c


def run_mode(mode, backend, port, silent, slow_port, old_port, p):
    client = half_closing_client(old_port)
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": f"{port},{slow_port}",
                 "OTEL_EBPF_TARGET_PID": str(client.pid),
                 "OTEL_EBPF_BPF_DATA_HOOKS": mode})
    since = time.time_ns()
    obi.expect_instrumented([backend.pid, silent.pid, client.pid], only=True)
    p.true(LOG["sockets" if mode == "auto" else mode] in obi.stderr(),
           f"{mode}: stderr names the hooks")
    names = prog_names(obi.pid)
    sockets = mode != "syscalls"
    p.eq(f"{mode}: socket programs loaded", SOCKET_PROGS <= names, sockets)
    p.eq(f"{mode}: syscall programs loaded", bool(SYSCALL_PROGS & names), not sockets)
    cport = traffic(port, slow_port)
    client.send_line("go")
    res = client.wait_output(r"^RESULT local_port=(\d+) received=(\d+)")
    obi.wait_spans(6, what=f"{mode}: spans")
    time.sleep(0.3)
    client.send_line("quit")
    spans = {s.get("url.path"): s for s in obi.spans if s.get("kind") == "SERVER"}
    clients = [s for s in obi.spans if s.get("kind") == "CLIENT"]
    p.eq(f"{mode}: client spans", len(clients), 1)
    if clients:
        h.expect_span(clients[0], f"{mode} half-closing client GET /a", {
            "kind": "CLIENT", "http.request.method": "GET", "url.path": "/a",
            "http.response.status_code": 200, "http.response.body.size": 6,
            "network.local.port": int(res.group(1)), "network.peer.port": old_port,
            "process.pid": client.pid}, since, p)
    p.eq(f"{mode}: span paths", sorted(spans), sorted(list(WANT) + ["/slow"]))
    for path, fields in WANT.items():
        if path in spans:
            extra = {"network.peer.port": cport} if path != "/b" else {}
            h.expect_span(spans[path], f"{mode} {path}",
                          {"kind": "SERVER", "url.path": path, "process.pid": backend.pid,
                           "network.local.port": port, **fields, **extra}, since, p)
    if "/slow" in spans:
        # closed by the server before any answer: the close ends it, status 0
        h.expect_span(spans["/slow"], f"{mode} /slow",
                      {"kind": "SERVER", "http.response.status_code": 0,
                       "process.pid": silent.pid}, since, p)
    obi.stop(expect_code=0, expect_total=6)
    summary = obi.summary()
    p.eq(f"{mode}: summary unanswered", summary.get("unanswered"), 1)
    p.eq(f"{mode}: summary not_http", summary.get("not_http"), 0)


def main():
    port, slow_port, old_port = h.free_port(), h.free_port(), h.free_port()
    backend = h.start_backend(port)
    h.start_backend(old_port, protocol="HTTP/1.0", name="http10-backend")  # not selected
    silent = h.Proc([h.PYTHON, "-u", os.path.join(h.SERVERS, "raw_server.py"), "--port",
                     str(slow_port), "--mode", "drop"], name="drop")
    silent.wait_output(r"^READY port=\d+")
    h.wait_listening(slow_port, silent)
    p = h.Problems()
    for mode in ("sockets", "syscalls", "auto"):
        run_mode(mode, backend, port, silent, slow_port, old_port, p)
    p.raise_if_any("data hooks")


if __name__ == "__main__":
    h.run(main)
