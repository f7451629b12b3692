#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""backend.py plus routes that let a test check bytes end to end (trace-context tests).

Every route of backend.py, and:
  GET  /headers/<any>    200, like /headers (a path of its own per request)
  GET  /blob/<n>         200, blob(n): n pseudo-random bytes (SHAKE-256 of "obi-blob-<n>"), so
                         a client can check a large response with its SHA-256
  POST <any path>        200, JSON {"length": bytes read, "sha256": hex of the body,
                         "headers": [[name, value], ...] as received (repeats kept)}; the body
                         is read by Content-Length or chunked

Same threading (listen backlog 128) and "READY port=<port> pid=<pid>" line as backend.py.
"""
import argparse
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backend  # noqa: E402

_blobs = {}


def blob(n):
    """The body of /blob/<n> (also imported by tests to know the expected SHA-256)."""
    return hashlib.shake_256(b"obi-blob-%d" % n).digest(n)


class Handler(backend.Handler):
    def route(self):
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        if len(parts) >= 2 and parts[0] == "headers":
            return 200, json.dumps([[k, v] for k, v in self.headers.items()]).encode()
        if len(parts) == 2 and parts[0] == "blob" and parts[1].isdigit():
            n = int(parts[1])
            if n not in _blobs:
                _blobs[n] = blob(n)
            return 200, _blobs[n]
        return super().route()

    def read_body(self):
        h = hashlib.sha256()
        length = 0
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunk = self.rfile.read(size)
                h.update(chunk)
                length += len(chunk)
                self.rfile.readline()
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 65536))
                if not chunk:
                    break
                h.update(chunk)
                length += len(chunk)
                remaining -= len(chunk)
        return length, h.hexdigest()

    def do_POST(self):
        length, digest = self.read_body()
        out = {"length": length, "sha256": digest,
               "headers": [[k, v] for k, v in self.headers.items()]}
        self.reply(200, json.dumps(out).encode(), "application/json")

    do_PUT = do_POST


class Server(backend.ThreadingServer):
    request_queue_size = 128   # many clients may connect at once


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bind", default="127.0.0.1")
    args = ap.parse_args()

    Handler.protocol_version = "HTTP/1.1"
    srv = Server((args.bind, args.port), Handler)
    srv.verbose = False
    print(f"READY port={srv.server_address[1]} pid={os.getpid()}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
