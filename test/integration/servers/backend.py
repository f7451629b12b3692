#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Backend for obi's integration tests: an HTTP server with fixed, predictable bodies.

Routes (any other path answers 404 with the body "not found\\n"):
  GET  /                 200 "ok\\n"
  GET  /a, /b            200 "alpha\\n" (6 B), "bravo!!\\n" (8 B)
  GET  /r/<i>            200, a body of r_body_size(i) = 16 + i % 64 bytes
  GET  /size/<n>         200, n bytes of "a"
  GET  /status/<code>    <code>, body "status <code>\\n"
  GET  /headers          200, the request headers as a JSON list of [name, value] pairs
  GET  /pid              200, the pid of the process that answered (os.getpid(), as its own
                         PID namespace shows it), in decimal with no newline
  POST <any path>        200, reads Content-Length bytes and answers "received <n>\\n"

HTTP/1.1 keep-alive with Content-Length on every response, written in one send (pipelined requests are answered in
order); --protocol HTTP/1.0 closes after each response. One thread per connection, or one forked
child per connection with --fork. Prints "READY port=<port> pid=<pid>" once listening.
"""
import argparse
import json
import os
import socketserver
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


def r_body_size(i):
    return 16 + i % 64


def r_body(i):
    size = r_body_size(i)
    return (f"{i}:" + "x" * size)[:size].encode()


FIXED = {"/": b"ok\n", "/a": b"alpha\n", "/b": b"bravo!!\n"}


class Handler(BaseHTTPRequestHandler):
    server_version = "obi-test-backend/1"
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def reply(self, code, body, ctype="text/plain"):
        # status line, headers and body in ONE write: no Nagle/delayed-ACK stall between them
        self.log_request(code)
        reason = self.responses.get(code, ("Status",))[0]
        head = (f"{self.protocol_version} {code} {reason}\r\n"
                f"Server: {self.version_string()}\r\n"
                f"Date: {self.date_time_string()}\r\n"
                f"Content-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
        self.wfile.write(head + (body if self.command != "HEAD" else b""))

    def route(self):
        path = self.path.split("?", 1)[0]
        if path in FIXED:
            return 200, FIXED[path]
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[1].isdigit():
            n = int(parts[1])
            if parts[0] == "r":
                return 200, r_body(n)
            if parts[0] == "size":
                return 200, b"a" * n
            if parts[0] == "status" and 100 <= n <= 599:
                return n, b"status %d\n" % n
        if path == "/pid":
            return 200, str(os.getpid()).encode()
        if path == "/headers":
            return 200, json.dumps([[k, v] for k, v in self.headers.items()]).encode()
        return 404, b"not found\n"

    def do_GET(self):
        code, body = self.route()
        ctype = "application/json" if self.path.startswith("/headers") else "text/plain"
        self.reply(code, body, ctype)

    do_HEAD = do_GET

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        remaining = n
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                break
            remaining -= len(chunk)
        self.reply(200, b"received %d\n" % (n - remaining))

    do_PUT = do_POST


class ThreadingServer(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class ForkingServer(socketserver.ForkingMixIn, HTTPServer):
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--protocol", default="HTTP/1.1", choices=["HTTP/1.0", "HTTP/1.1"])
    ap.add_argument("--fork", action="store_true", help="one forked child per connection")
    ap.add_argument("--verbose", action="store_true", help="log each request on stderr")
    args = ap.parse_args()

    Handler.protocol_version = args.protocol
    cls = ForkingServer if args.fork else ThreadingServer
    srv = cls((args.bind, args.port), Handler)
    srv.verbose = args.verbose
    print(f"READY port={srv.server_address[1]} pid={os.getpid()}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
