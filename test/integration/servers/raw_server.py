#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Misbehaving TCP server for obi's integration tests (one thread per connection).

--mode drop:    reads until the end of a request head (an empty line) or EOF, then closes the
                connection without answering.
--mode nonhttp: answers every read with "-ERR not http\\r\\n" (a redis-style error), except a
                read that starts with a well-formed "GET /<path> HTTP/1.1" head, which gets
                "HTTP/1.1 200 OK" with the 2-byte body "ok"; closes when the peer does.
--mode peek:    like nonhttp, but every request is first looked at with recv(MSG_PEEK) (a
                protocol sniffer), then read with recv.
--mode peekmsg: the same with recvmsg(MSG_PEEK), then recvmsg.

Prints "READY port=<port> pid=<pid>" once listening.
"""
import argparse
import os
import re
import socket
import threading

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
ERR = b"-ERR not http\r\n"
GOOD_GET = re.compile(rb"^GET /[!-~]* HTTP/1\.1\r\n(?:[!-~]+: [ -~]*\r\n)*\r\n\Z")


def drop(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    conn.close()


def nonhttp(conn):
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        conn.sendall(OK if GOOD_GET.match(chunk) else ERR)
    conn.close()


def peeking(conn, use_msg):
    """Peeks at each request until its head is complete, then reads exactly those bytes."""
    while True:
        while True:
            if use_msg:
                seen = conn.recvmsg(65536, 0, socket.MSG_PEEK)[0]
            else:
                seen = conn.recv(65536, socket.MSG_PEEK)
            if not seen or b"\r\n\r\n" in seen:
                break
        if not seen:
            break
        n = seen.index(b"\r\n\r\n") + 4
        got = conn.recvmsg(n)[0] if use_msg else conn.recv(n)
        conn.sendall(OK if GOOD_GET.match(got) else ERR)
    conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", choices=["drop", "nonhttp", "peek", "peekmsg"], required=True)
    args = ap.parse_args()
    handler = {"drop": drop, "nonhttp": nonhttp,
               "peek": lambda c: peeking(c, False), "peekmsg": lambda c: peeking(c, True)}[args.mode]
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(64)
    print(f"READY port={args.port} pid={os.getpid()}", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handler, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
