#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""HTTPS client for obi's tests (Python's ssl; the server's certificate is not verified: the
tests make a self-signed one). Prints "READY pid=<pid>", then one command per stdin line,
answered by "RESULT <json>" or "ERROR <json>":

  connect <name> <port>   a keep-alive TLS connection to 127.0.0.1:<port>;
                          RESULT {"cookie" (SO_COOKIE of its TCP socket)}
  get <name> <path>       GET <path> on it; RESULT {"status", "length", "sha256", "seconds"}
"""
import hashlib
import http.client
import json
import os
import socket
import ssl
import sys
import time

SO_COOKIE = 57


def main():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    print(f"READY pid={os.getpid()}", flush=True)
    conns = {}
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        try:
            if cmd[0] == "connect":
                name, port = cmd[1], int(cmd[2])
                c = http.client.HTTPSConnection("127.0.0.1", port, timeout=20, context=ctx)
                c.connect()
                conns[name] = c
                raw = c.sock.getsockopt(socket.SOL_SOCKET, SO_COOKIE, 8)
                out = {"cookie": int.from_bytes(raw, sys.byteorder)}
            elif cmd[0] == "get":
                c = conns[cmd[1]]
                t0 = time.monotonic()
                c.request("GET", cmd[2])
                r = c.getresponse()
                h = hashlib.sha256()
                length = 0
                while True:
                    piece = r.read(1 << 16)
                    if not piece:
                        break
                    h.update(piece)
                    length += len(piece)
                out = {"status": r.status, "length": length, "sha256": h.hexdigest(),
                       "seconds": round(time.monotonic() - t0, 3)}
            else:
                raise ValueError(f"unknown command {cmd[0]!r}")
            print("RESULT " + json.dumps(out), flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is the test's answer
            print("ERROR " + json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)


if __name__ == "__main__":
    main()
