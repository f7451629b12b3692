#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Raw TCP client for obi's integration tests.

Prints "READY pid=<pid>", waits for a line on stdin, connects to 127.0.0.1:<port>, sends the
request (a Python bytes literal given as text, e.g. 'b"GET / HTTP/1.1\\r\\n\\r\\n"'), reads until
the server closes, closes its socket and prints "RESULT local_port=<port> received=<bytes>".
Then waits for stdin to close (or a second line) and exits, so obi can look at it meanwhile.
--half-close S: after sending, shut the sending direction (shutdown(SHUT_WR)) and wait S seconds
before reading, so a server that answers and closes has done so (and its FIN has arrived).
"""
import argparse
import ast
import os
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--half-close", type=float, default=None, metavar="S")
    ap.add_argument("request", help="bytes literal to send")
    args = ap.parse_args()
    req = ast.literal_eval(args.request)
    print(f"READY pid={os.getpid()}", flush=True)
    if not sys.stdin.readline():
        return 1
    s = socket.create_connection(("127.0.0.1", args.port), timeout=10)
    local_port = s.getsockname()[1]
    s.sendall(req)
    if args.half_close is not None:
        s.shutdown(socket.SHUT_WR)
        time.sleep(args.half_close)
    received = 0
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        received += len(chunk)
    s.close()
    print(f"RESULT local_port={local_port} received={received}", flush=True)
    sys.stdin.readline()
    return 0


if __name__ == "__main__":
    sys.exit(main())
