#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A thread-per-connection HTTP/1.1 reverse proxy: the thread that read a request forwards it to
the upstream with http.client (a new upstream connection per request) and relays the answer.

All request headers are forwarded except hop-by-hop ones and Host (so a client's traceparent
and tracestate go through as sent); the request body (Content-Length) too. Answers 502 when the
upstream fails. Prints "READY port=<port> pid=<pid>" once listening.
"""
import argparse
import http.client
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
       "upgrade", "host", "content-length"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def forward(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP]
        try:
            up = http.client.HTTPConnection("127.0.0.1", self.server.upstream, timeout=20)
            up.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            up.putheader("Host", f"upstream:{self.server.upstream}")
            for k, v in headers:
                up.putheader(k, v)
            if body is not None:
                up.putheader("Content-Length", str(len(body)))
            up.endheaders(body)
            r = up.getresponse()
            code, data = r.status, r.read()
            ctype = r.getheader("Content-Type", "text/plain")
            up.close()
        except OSError as e:
            code, data, ctype = 502, f"upstream: {e}\n".encode(), "text/plain"
        head = (f"HTTP/1.1 {code} {self.responses.get(code, ('Status',))[0]}\r\n"
                f"Content-Type: {ctype}\r\nContent-Length: {len(data)}\r\n\r\n").encode()
        self.wfile.write(head + (data if self.command != "HEAD" else b""))

    do_GET = do_POST = do_PUT = do_HEAD = forward


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128   # 50 clients connect at once


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", type=int, required=True, help="upstream port on 127.0.0.1")
    args = ap.parse_args()
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.upstream = args.upstream
    print(f"READY port={srv.server_address[1]} pid={os.getpid()}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
