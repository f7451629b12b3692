#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A small web app that talks to Redis through redis-py, for obi's integration tests.

    redis_app.py --port P --redis-port R [--db N]

HTTP/1.1 on 127.0.0.1:P, one thread per request, one Redis connection per request thread:
  GET /kv/<key>      SET <key> v-<key>, then GET <key>                      (2 commands)
  GET /pipeline      INCR n, LPUSH n x (a WRONGTYPE error), PING in one write (3 commands)
  GET /big/<bytes>   SET big <bytes of data>, GET big; answers the sha256 of what came back
  GET /error         a command Redis does not know (an error reply)
  GET /pooled/<key>  GET <key> through one connection pool all request threads share
Answers 200 with a JSON body. Prints "READY pid=<pid>" once it listens. Needs Debian's
python3-redis (it runs under /usr/bin/python3).
"""
import argparse
import hashlib
import http.server
import json
import os
import socketserver
import sys

import redis


class App(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    redis_port = 0
    db = 0
    pool = None   # shared by every request thread (/pooled)

    def log_message(self, *args):
        pass

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.redis_port, db=self.db,
                           socket_timeout=10, single_connection_client=True)

    def do_GET(self):
        if self.path.startswith("/pooled/"):
            r = redis.Redis(connection_pool=self.pool)
            value = r.get(self.path.split("/")[2])
            return self.answer({"value": value.decode() if value else None})
        r = self.client()
        try:
            body = self.work(r)
        finally:
            r.close()
        self.answer(body)

    def answer(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def work(self, r):
        parts = self.path.strip("/").split("/")
        if parts[0] == "kv":
            r.set(parts[1], "v-" + parts[1])
            return {"value": r.get(parts[1]).decode()}
        if parts[0] == "pipeline":
            r.delete("n")
            p = r.pipeline(transaction=False)
            p.incr("n")
            p.lpush("n", "x")
            p.ping()
            out = p.execute(raise_on_error=False)
            return {"results": [type(x).__name__ for x in out]}
        if parts[0] == "big":
            n = int(parts[1])
            value = bytes((i * 7 + 13) & 0xff for i in range(n))
            r.set("big", value)
            got = r.get("big")
            return {"sent": hashlib.sha256(value).hexdigest(),
                    "got": hashlib.sha256(got).hexdigest(), "length": len(got)}
        if parts[0] == "error":
            try:
                r.execute_command("NOSUCHCOMMAND", "a")
            except redis.ResponseError as e:
                return {"error": str(e).split(" ")[0]}
        return {"unknown": self.path}


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--db", type=int, default=0)
    args = ap.parse_args()
    App.redis_port = args.redis_port
    App.db = args.db
    App.pool = redis.ConnectionPool(host="127.0.0.1", port=args.redis_port, db=args.db,
                                    socket_timeout=10, max_connections=4)
    srv = Server(("127.0.0.1", args.port), App)
    print(f"READY pid={os.getpid()}", flush=True)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
