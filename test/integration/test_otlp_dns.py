#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""OTLP export while name resolution hangs. The collector's name is looked up through a DNS
server that is a UDP socket of this test: it reads every query and never answers. obi runs in a
mount namespace of its own whose /etc/resolv.conf names that server (the host's file is not
touched), with OTEL_EXPORTER_OTLP_TIMEOUT=2000 and a resolver timeout of 30 s.

For OTLP/HTTP and OTLP/gRPC alike: the server's requests are answered as fast as without an
endpoint and every one is printed; the queries do reach the silent server (so what hangs is the
resolution, not an immediate failure); the failed export is logged within the export timeout
(plus slack), not after the resolver's 30 s; SIGTERM ends obi within the exit-flush bound (the
export timeout) while a lookup is still hanging, exit code 0, with every span accounted for in
the summary (none exported, none left in the queue)."""
import os
import re
import shutil
import socket
import threading
import time

import obi_harness as h

TIMEOUT_MS = 2000
NAME = "collector.obi-test.invalid"


class SilentDns:
    """A UDP socket on 127.0.0.x:53 that records the names asked and never answers."""

    def __init__(self):
        self.sock = None
        for last in range(153, 254):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind((f"127.0.0.{last}", 53))
            except OSError:
                s.close()
                continue
            self.sock, self.addr = s, f"127.0.0.{last}"
            break
        h.check(self.sock is not None, "no free 127.0.0.x:53 for the silent DNS server")
        self.names = []
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    @staticmethod
    def qname(packet):
        """The question's name of a DNS query (RFC 1035 4.1.2), or None."""
        labels, at = [], 12
        while at < len(packet):
            n = packet[at]
            if n == 0:
                return ".".join(labels)
            if n & 0xC0:
                return None
            labels.append(packet[at + 1:at + 1 + n].decode("ascii", "replace"))
            at += 1 + n
        return None

    def _serve(self):
        while True:
            try:
                data, _ = self.sock.recvfrom(4096)
            except OSError:
                return
            with self._lock:
                self.names.append(self.qname(data))

    def asked(self):
        with self._lock:
            return list(self.names)


def start_obi(protocol, port, resolv):
    url = f"http://{NAME}:{4317 if protocol == 'grpc' else 4318}"
    # obi's own mount namespace: its /etc/resolv.conf is the test's, the host's stays as it is
    wrapper = ["unshare", "-m", "--propagation", "private", "sh", "-c",
               'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"', "sh", resolv]
    env = {"OTEL_EBPF_OPEN_PORT": str(port), "OTEL_EXPORTER_OTLP_ENDPOINT": url,
           "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
           "OTEL_EXPORTER_OTLP_TIMEOUT": str(TIMEOUT_MS), "OTEL_BSP_SCHEDULE_DELAY": "200",
           "OTEL_METRIC_EXPORT_INTERVAL": "600000", "OTEL_EBPF_TRACE_PRINTER": "json"}
    return h.Obi(env, wrapper=wrapper, name=f"obi-{protocol}")


def check_protocol(protocol, www, port, dns, resolv):
    asked_before = len(dns.asked())
    obi = start_obi(protocol, port, resolv)
    obi.expect_instrumented([www.pid])
    p = h.Problems()
    t_first = time.monotonic()
    for i in range(3):
        r = h.curl(f"http://127.0.0.1:{port}/f.txt")
        p.eq(f"{protocol}: request {i} status", r["http_code"], 200)
        # the application never waits for obi's export: a hanging lookup is the exporter's
        p.true(r["time_total"] < 1.0,
               f"{protocol}: request {i} took {r['time_total']:.3f} s while DNS hangs")
    obi.wait_spans(3, what=f"{protocol}: spans printed while the lookup hangs")
    m = obi.wait_stderr(r"WARN .*otlp: export spans to .* failed(.*)",
                        timeout=TIMEOUT_MS / 1000 + 8, what=f"{protocol}: the export failure")
    took = time.monotonic() - t_first
    p.true(took < TIMEOUT_MS / 1000 + 6,
           f"{protocol}: the failed export was logged {took:.1f} s after the first request "
           f"(export timeout {TIMEOUT_MS} ms, resolver timeout 30 s)")
    asked = dns.asked()[asked_before:]
    p.true(any(n and n.startswith(NAME) for n in asked),
           f"{protocol}: the silent DNS server was asked for {NAME} (it saw {asked})")
    p.raise_if_any(f"obi exporting over {protocol} while DNS hangs: {m.group(0)}")

    # exit while a lookup is still hanging (the exporter retries all along)
    get_more = h.curl(f"http://127.0.0.1:{port}/f.txt")
    h.check_eq(get_more["http_code"], 200, f"{protocol}: request before SIGTERM")
    obi.wait_spans(4, what=f"{protocol}: the fourth span")
    t0 = time.monotonic()
    obi.stop(timeout=15, expect_code=0, expect_total=4)
    took = time.monotonic() - t0
    h.check(took < TIMEOUT_MS / 1000 + 3,
            f"{protocol}: exit took {took:.1f} s with a lookup hanging "
            f"(OTEL_EXPORTER_OTLP_TIMEOUT={TIMEOUT_MS})")
    m = re.search(r"otlp summary: (.*)", obi.stderr())
    h.check(m, f"{protocol}: no 'otlp summary:' line")
    s = dict(kv.split("=", 1) for kv in m.group(1).split())
    h.check_eq(s["spans_exported"], "0", f"{protocol}: spans exported ({s})")
    h.check_eq(int(s["spans_queued"].split("/")[0]), 0, f"{protocol}: spans left queued ({s})")
    total = int(s["spans_exported"]) + int(s["spans_failed"]) + int(s["spans_dropped"])
    h.check_eq(total, 4, f"{protocol}: exported + failed + dropped ({s})")


def main():
    for tool in ("unshare", "mount"):
        h.check(shutil.which(tool), f"{tool} is needed (util-linux)")
    dns = SilentDns()
    d = h.tmpdir("obi-it-dns-")
    resolv = os.path.join(d, "resolv.conf")
    with open(resolv, "w") as f:
        f.write(f"nameserver {dns.addr}\noptions timeout:30 attempts:1\n")
    # the name must not be known without DNS
    with open("/etc/hosts") as f:
        h.check(NAME not in f.read(), f"{NAME} is in /etc/hosts")
    port = h.free_port()
    www = h.start_http_server(port, {"f.txt": b"d" * 100})
    for protocol in ("http/protobuf", "grpc"):
        check_protocol(protocol, www, port, dns, resolv)


h.run(main)
