#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""OTEL_EBPF_TRACE_PRINTER=text: one curl to a selected http.server gives exactly one line in
the layout of agent/printer.h, checked field by field."""
import datetime
import re
import time

import obi_harness as h

DUR = r"\d+(?:\.\d+)?(?:ns|\u00b5s|ms|s)"
LINE = re.compile(
    r"^(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}) "
    rf"\((?P<dur>{DUR})\[(?P<hdur>{DUR})\]\) "
    r"(?P<type>HTTP) (?P<status>\d{3}) (?P<method>[A-Z]+) (?P<path>\S*?)\((?P<route>[^)]*)\) "
    r"\[(?P<peer_ip>[0-9.]+) as (?P<peer_name>[0-9.]+):(?P<peer_port>\d+)\]->"
    r"\[(?P<local_ip>[0-9.]+) as (?P<svc_host>[^:\]]+):(?P<local_port>\d+)\] "
    r"contentLen:(?P<req_len>\d+)B responseLen:(?P<resp_len>\d+)B "
    r"svc=\[(?P<svc>\S+) (?P<lang>\S+)\] "
    r"traceparent=\[00-(?P<trace>[0-9a-f]{32})-(?P<span>[0-9a-f]{16})\[(?P<parent>[0-9a-f]{16})\]"
    r"-(?P<flags>[0-9a-f]{2})\]$")
UNITS = {"ns": 1, "\u00b5s": 10**3, "ms": 10**6, "s": 10**9}


def dur_ns(text):
    m = re.match(r"^(\d+(?:\.\d+)?)(ns|\u00b5s|ms|s)$", text)
    return float(m.group(1)) * UNITS[m.group(2)]


def main():
    port = h.free_port()
    body = b"t" * 777
    www = h.start_http_server(port, {"hello.txt": body})
    svc = h.exe_basename(www.pid)
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(port)}, printer="text")

    before = time.time()
    r = h.curl(f"http://127.0.0.1:{port}/hello.txt?q=1")
    after = time.time()
    h.check_eq((r["http_code"], r["body"]), (200, body), "curl GET /hello.txt")

    [line] = obi.wait_lines(1)
    m = LINE.match(line)
    h.check(m, f"the span line does not match the layout of agent/printer.h:\n  line:  {line!r}"
               f"\n  regex: {LINE.pattern}")
    g = m.groupdict()
    p = h.Problems()
    ts = datetime.datetime.strptime(g["ts"], "%Y-%m-%d %H:%M:%S.%f").timestamp()  # local time
    p.true(before - 2 <= ts <= after + 2,
           f"timestamp {g['ts']} (local time) not within 2 s of the request "
           f"({datetime.datetime.fromtimestamp(before)})")
    d, hd = dur_ns(g["dur"]), dur_ns(g["hdur"])
    p.true(0 < hd <= d < 5e9, f"durations {g['dur']}[{g['hdur']}]: expected 0 < "
                               "handler duration <= total duration < 5 s")
    for k, want in (("type", "HTTP"), ("status", "200"), ("method", "GET"),
                    ("path", "/hello.txt"), ("peer_ip", "127.0.0.1"),
                    ("peer_name", "127.0.0.1"), ("peer_port", str(r["local_port"])),
                    ("local_ip", "127.0.0.1"), ("svc_host", svc), ("local_port", str(port)),
                    ("req_len", "0"), ("resp_len", str(len(body))), ("svc", svc),
                    ("lang", "python"), ("parent", h.NO_PARENT), ("flags", "01")):
        p.eq(k, g[k], want)
    # route: "" when unknown, or OBI's heuristic route, which keeps this path as it is
    p.true(g["route"] in ("", "/hello.txt"),
           f"route: expected '' (unknown) or '/hello.txt' (heuristic), got {g['route']!r}")
    p.true(g["trace"] != "0" * 32, "trace id is zero")
    p.true(g["span"] != h.NO_PARENT, "span id is zero")
    p.raise_if_any(f"text span line {line!r}")
    obi.stop(expect_total=1)


h.run(main)
