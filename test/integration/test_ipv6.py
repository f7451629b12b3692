#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""IPv6: python http.server on [::1] (IPv6 only) and a dual-stack one on [::] reached over IPv4
(127.0.0.1, which the kernel shows as ::ffff:127.0.0.1), both started before obi and selected
by OTEL_EBPF_OPEN_PORT. One GET each gives exactly one SERVER span each, with the addresses
printed as "::1" and "127.0.0.1" (never "::ffff:...") and the right ports; then the text
printer shows them as [::1 as ::1:<port>] and [127.0.0.1 as 127.0.0.1:<port>]."""
import re
import socket
import time

import obi_harness as h


def check_sockets(port_v6, port_dual):
    """The premise: the v6 server's socket is IPv6-only on ::1, the dual-stack one accepts
    IPv4 (its accepted sockets are AF_INET6 with v4-mapped addresses)."""
    with socket.create_connection(("127.0.0.1", port_dual), timeout=5) as s:
        h.check_eq(s.family, socket.AF_INET, "client socket family to the dual-stack server")
    try:
        socket.create_connection(("127.0.0.1", port_v6), timeout=5).close()
        h.fail(f"the [::1] server on port {port_v6} also accepts IPv4: not the premise")
    except OSError:
        pass


def main():
    port_v6, port_dual = h.free_port("::1"), h.free_port("::")
    body6, body4 = b"six\n" * 100, b"four\n" * 77
    srv6 = h.start_http_server(port_v6, {"v6.txt": body6}, name="http.server-v6", bind="::1")
    dual = h.start_http_server(port_dual, {"v4.txt": body4}, name="http.server-dual", bind="::")
    svc6, svc_dual = h.exe_basename(srv6.pid), h.exe_basename(dual.pid)
    check_sockets(port_v6, port_dual)

    # --- JSON printer ---
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": f"{port_v6},{port_dual}"})
    since = time.time_ns()
    obi.expect_instrumented([srv6.pid, dual.pid], only=True)

    r6 = h.curl(f"http://[::1]:{port_v6}/v6.txt?q=6", "-g")
    h.check_eq((r6["http_code"], r6["body"], r6["local_ip"]), (200, body6, "::1"),
               "curl GET http://[::1]/v6.txt (status, body, local ip)")
    [s6] = obi.wait_spans(1, what="spans after the GET over IPv6")
    r4 = h.curl(f"http://127.0.0.1:{port_dual}/v4.txt")
    h.check_eq((r4["http_code"], r4["body"], r4["local_ip"]), (200, body4, "127.0.0.1"),
               "curl GET http://127.0.0.1/v4.txt to the dual-stack server")
    s4 = obi.wait_spans(2, what="spans after the GET over IPv4 to [::]")[1]

    p = h.Problems()
    common = {"kind": "SERVER", "type": "HTTP", "http.request.method": "GET",
              "http.response.status_code": 200, "http.request.body.size": 0,
              "parent_span_id": h.NO_PARENT, "telemetry.sdk.language": "python"}
    h.expect_span(s6, "GET over IPv6", {
        **common, "url.path": "/v6.txt", "http.response.body.size": len(body6),
        "server.address": "::1", "server.port": port_v6, "client.address": "::1",
        "network.local.address": "::1", "network.local.port": port_v6,
        "network.peer.address": "::1", "network.peer.port": r6["local_port"],
        "process.pid": srv6.pid, "service.name": svc6}, since, p)
    h.expect_span(s4, "GET over IPv4 to a dual-stack socket", {
        **common, "url.path": "/v4.txt", "http.response.body.size": len(body4),
        "server.address": "127.0.0.1", "server.port": port_dual, "client.address": "127.0.0.1",
        "network.local.address": "127.0.0.1", "network.local.port": port_dual,
        "network.peer.address": "127.0.0.1", "network.peer.port": r4["local_port"],
        "process.pid": dual.pid, "service.name": svc_dual}, since, p)
    p.raise_if_any("IPv6 span fields")
    obi.stop(expect_total=2)

    # --- text printer: the same two requests, [ip as name:port] endpoints ---
    obi_t = h.Obi({"OTEL_EBPF_OPEN_PORT": f"{port_v6},{port_dual}"}, printer="text",
                  name="obi-text")
    obi_t.expect_instrumented([srv6.pid, dual.pid], only=True)
    r6 = h.curl(f"http://[::1]:{port_v6}/v6.txt", "-g")
    h.check_eq(r6["http_code"], 200, "curl GET over IPv6 (text printer run)")
    [line6] = obi_t.wait_lines(1)
    r4 = h.curl(f"http://127.0.0.1:{port_dual}/v4.txt")
    h.check_eq(r4["http_code"], 200, "curl GET over IPv4 to [::] (text printer run)")
    line4 = obi_t.wait_lines(2)[1]
    want6 = (f" HTTP 200 GET /v6.txt(", f"[::1 as ::1:{r6['local_port']}]->"
             f"[::1 as {svc6}:{port_v6}] contentLen:0B responseLen:{len(body6)}B ")
    want4 = (f" HTTP 200 GET /v4.txt(", f"[127.0.0.1 as 127.0.0.1:{r4['local_port']}]->"
             f"[127.0.0.1 as {svc_dual}:{port_dual}] contentLen:0B responseLen:{len(body4)}B ")
    for label, line, want in (("IPv6 line", line6, want6), ("v4-mapped line", line4, want4)):
        for part in want:
            p.true(part in line, f"{label}: {part!r} expected in {line!r}")
        p.true("ffff" not in line, f"{label}: a v4-mapped address is printed raw: {line!r}")
        p.true(re.search(r"\) \[[0-9a-f:.]+ as [0-9a-f:.]+:\d+\]->\[[0-9a-f:.]+ as ", line),
               f"{label}: endpoints not in the [ip as name:port]->[ip as name:port] form")
    p.raise_if_any("text printer lines")
    obi_t.stop(expect_total=2)


h.run(main)
