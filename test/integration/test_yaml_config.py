#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The proxy debugger's OBI configuration file, byte for byte, behaves as written: loaded with
OTEL_EBPF_CONFIG_PATH, obi selects the process listening on 8080 (and not another server),
prints one text line per request (trace_printer: text, although spans are exported), and
exports spans to http://otel-collector:4318/v1/traces and metrics to .../v1/metrics. The
hostname resolves to a receiver on 127.0.0.1:4318 through /etc/hosts bind-mounted in a private
mount namespace around obi (unshare). Needs the fixed ports 8080 and 4318: skipped when taken."""
import os
import re
import socket
import time

import harness_otlp as ho
import obi_harness as h

USER_FILE = """log_level: INFO
trace_printer: text
discovery:
  instrument:
    - open_ports: 8080
otel_metrics_export:
  endpoint: http://otel-collector:4318
otel_traces_export:
  endpoint: http://otel-collector:4318
"""

TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \(\S+\[\S+\]\) HTTP 200 GET "
                       r"/obi\.txt\(/obi\.txt\) \[127\.0\.0\.1 as 127\.0\.0\.1:\d+\]->"
                       r"\[127\.0\.0\.1 as \S+:8080\] contentLen:0B responseLen:12B svc=\[\S+ "
                       r"python\] traceparent=\[00-[0-9a-f]{32}-[0-9a-f]{16}\[0{16}\]-01\]$")


def port_free(port):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def main():
    for port in (8080, 4318):
        if not port_free(port):
            raise h.Skip(f"port {port} is taken: the user's file names it")
    d = h.tmpdir("obi-it-yaml-")
    conf = os.path.join(d, "obi-config.yaml")
    with open(conf, "w") as f:
        f.write(USER_FILE)
    hosts = os.path.join(d, "hosts")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost\n127.0.0.1 otel-collector\n")

    recv = ho.OtlpReceiver(port=4318)
    body = b"yaml config\n"
    selected = h.start_http_server(8080, {"obi.txt": body}, name="server-8080")
    other_port = h.free_port()
    other = h.start_http_server(other_port, {"obi.txt": body}, name="server-other")
    wrapper = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
               f'mount --bind "{hosts}" /etc/hosts && exec "$0" "$@"']
    obi = h.Obi({"OTEL_EBPF_CONFIG_PATH": conf}, printer=None, wrapper=wrapper)
    obi.expect_instrumented([selected.pid], only=True)
    h.check(not [l for l in obi.stderr() if "warning" in l],
            f"obi warned about the file: {[l for l in obi.stderr() if 'warning' in l]}")

    for _ in range(3):
        r = h.curl("http://127.0.0.1:8080/obi.txt")
        h.check_eq((r["http_code"], r["body"]), (200, body), "curl to the server on 8080")
    r = h.curl(f"http://127.0.0.1:{other_port}/obi.txt")
    h.check_eq(r["http_code"], 200, "curl to the server on another port")

    lines = obi.wait_lines(3)
    for line in lines:
        h.check(TEXT_LINE.match(line), f"text line of a request to 8080: got {line!r}")
    trace_ids = {re.search(r"traceparent=\[00-([0-9a-f]{32})", l).group(1) for l in lines}

    # spans arrive at /v1/traces within the batch delay; SIGTERM flushes the metrics too
    recv.wait_for(lambda r: len(r.spans()) >= 3, 15, "3 spans at the receiver")
    obi.stop()
    recv.wait_for(lambda r: r.requests("metrics"), 5, "a metrics export at the receiver")
    reqs = recv.requests()
    h.check_eq({q["path"] for q in reqs}, {"/v1/traces", "/v1/metrics"}, "paths obi posted to")
    h.check_eq({q["headers"].get("host") for q in reqs}, {"otel-collector:4318"},
               "Host header of the exports (the file's endpoint)")
    got = recv.spans()
    h.check_eq(len(got), 3, "spans exported")
    h.check_eq({s["trace_id"] for s in got}, trace_ids, "exported trace ids (the printed ones)")
    h.check_eq({s["attrs"].get("server.port") for s in got}, {8080}, "server.port of the spans")


h.run(main)
