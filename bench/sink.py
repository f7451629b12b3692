#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A tiny OTLP/HTTP sink for the benchmarks: accepts POST /v1/traces and /v1/metrics (protobuf,
optionally gzip), answers 200 with an empty ExportServiceResponse and counts what it got.
It walks the protobuf wire format just far enough to count spans, so no OpenTelemetry library
is needed. The spans are counted lazily, when GET /stats asks for the counters (JSON): while
a benchmark runs the sink only reads and answers, so it takes as little CPU as possible from the
machine under test.

usage: sink.py PORT        (prints "sink ready" on stdout once listening)
"""
import gzip
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
PENDING = []  # trace bodies not counted yet
STATS = {"trace_requests": 0, "metric_requests": 0, "other_requests": 0, "spans": 0,
         "bytes": 0, "bad_bodies": 0}


def varint(b, i):
    shift = result = 0
    while True:
        c = b[i]
        i += 1
        result |= (c & 0x7F) << shift
        if not c & 0x80:
            return result, i
        shift += 7


def fields(b):
    """Yields (field number, wire type, value) of one message; value is bytes for
    length-delimited fields."""
    i, n = 0, len(b)
    while i < n:
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 1:
            v, i = None, i + 8
        elif wt == 2:
            ln, i = varint(b, i)
            v, i = b[i:i + ln], i + ln
        elif wt == 5:
            v, i = None, i + 4
        else:
            raise ValueError("wire type %d" % wt)
        yield num, wt, v


def count_spans(body):
    # ExportTraceServiceRequest.resource_spans(1) -> ResourceSpans.scope_spans(2)
    #   -> ScopeSpans.spans(2)
    n = 0
    for f, wt, rs in fields(body):
        if f != 1 or wt != 2:
            continue
        for f2, wt2, ss in fields(rs):
            if f2 != 2 or wt2 != 2:
                continue
            for f3, wt3, _ in fields(ss):
                if f3 == 2 and wt3 == 2:
                    n += 1
    return n


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _reply(self, code, body=b"", ctype="application/x-protobuf"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_POST(self):
        body = self.read_body()
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        path = self.path.split("?")[0]
        with LOCK:
            STATS["bytes"] += len(body)
        if path.endswith("/v1/traces"):
            with LOCK:
                STATS["trace_requests"] += 1
                PENDING.append(body)
        elif path.endswith("/v1/metrics"):
            with LOCK:
                STATS["metric_requests"] += 1
        else:
            with LOCK:
                STATS["other_requests"] += 1
            self._reply(404)
            return
        self._reply(200)

    def do_GET(self):
        if self.path == "/stats":
            with LOCK:
                for b in PENDING:
                    try:
                        STATS["spans"] += count_spans(b)
                    except (ValueError, IndexError):
                        STATS["bad_bodies"] += 1
                PENDING.clear()
                body = json.dumps(STATS).encode()
            self._reply(200, body, "application/json")
        else:
            self._reply(404)


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    srv.daemon_threads = True
    print("sink ready", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
