#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""HTTP client for obi's integration tests: one keep-alive connection (http.client).

Prints "READY pid=<pid>", waits for a line on stdin, then sends a GET for each path on ONE
connection and prints "RESULT <json>" with the connection's local port and, per request,
[path, status, body length]. Then waits for stdin to close (or a second line) and exits, so the
process stays alive while obi looks at it.
"""
import argparse
import http.client
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host-header", help="Host header to send (default host:port)")
    ap.add_argument("paths", nargs="+")
    args = ap.parse_args()

    print(f"READY pid={os.getpid()}", flush=True)
    if not sys.stdin.readline():
        return 1
    conn = http.client.HTTPConnection(args.host, args.port, timeout=10)
    conn.connect()
    local_port = conn.sock.getsockname()[1]
    results = []
    for path in args.paths:
        headers = {"User-Agent": "obi-test-client/1"}
        if args.host_header:
            conn.putrequest("GET", path, skip_host=True)
            conn.putheader("Host", args.host_header)
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders()
        else:
            conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        results.append([path, resp.status, len(body)])
    conn.close()
    print("RESULT " + json.dumps({"local_port": local_port, "results": results}), flush=True)
    sys.stdin.readline()
    return 0


if __name__ == "__main__":
    sys.exit(main())
