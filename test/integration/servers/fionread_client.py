#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""HTTP/1.1 client that sizes every read with ioctl(FIONREAD), as nginx, Java and libuv do.

Prints "READY pid=<pid>", then runs one command per stdin line and answers each with one line
"RESULT <json>" (or "ERROR <json>" with "error" set). Connections have names:

  connect <name> <port>     opens a keep-alive connection to 127.0.0.1:<port> (replacing one of
                            that name); RESULT {"local_port", "cookie" (SO_COOKIE)}
  get <name> <path>         sends a GET, reads the response; RESULT {"status", "length",
                            "sha256", "body" (the body as latin-1 when <= 64 KiB, else null),
                            "reads", "fionread_zero", "short_reads", "fionread_max", "seconds"}
  post <name> <path> <n>    sends a POST whose head and n-byte body go in ONE sendall; the body
                            is blob(n) of echo_backend.py; RESULT as for get plus "sent_sha256"
  close <name>              closes that connection; RESULT {}

Reading: poll(POLLIN) with a 20 s timeout (a stall is an ERROR), then n = FIONREAD. Pending data
with n == 0 (seen with a non-blocking MSG_PEEK) is counted in "fionread_zero" and read with a
64 KiB recv so the test can report it; otherwise exactly n bytes are asked for and a recv that
returns fewer is counted in "short_reads".
"""
import array
import fcntl
import hashlib
import json
import os
import select
import socket
import sys
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from echo_backend import blob  # noqa: E402

SO_COOKIE = 57
POLL_TIMEOUT_MS = 20000


class Stall(Exception):
    pass


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.reads = self.fionread_zero = self.short_reads = self.fionread_max = 0

    def fill(self):
        """One FIONREAD-sized read into buf; False on EOF."""
        p = select.poll()
        p.register(self.sock, select.POLLIN)
        if not p.poll(POLL_TIMEOUT_MS):
            raise Stall(f"no data within {POLL_TIMEOUT_MS} ms (had {len(self.buf)} bytes)")
        arg = array.array("i", [0])
        fcntl.ioctl(self.sock.fileno(), termios.FIONREAD, arg, True)
        n = arg[0]
        self.fionread_max = max(self.fionread_max, n)
        if n == 0:
            try:
                peek = self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                return True   # woken up without data: poll again
            if peek == b"":
                return False  # EOF
            self.fionread_zero += 1   # data pending, yet FIONREAD says 0
        got = self.sock.recv(n or 65536)
        self.reads += 1
        if n and len(got) < n:
            self.short_reads += 1
        self.buf += got
        return bool(got)

    def take(self, n):
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


def read_response(rd):
    while b"\r\n\r\n" not in rd.buf:
        if not rd.fill():
            raise Stall(f"connection closed inside the response head: {bytes(rd.buf)[:200]!r}")
    end = rd.buf.index(b"\r\n\r\n") + 4
    head = rd.take(end).decode("latin-1")
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v.strip())
    h = hashlib.sha256()
    prefix = b""
    left = length
    while left > 0:
        if not rd.buf and not rd.fill():
            raise Stall(f"connection closed with {left} of {length} body bytes missing")
        piece = rd.take(min(left, len(rd.buf)))
        h.update(piece)
        if len(prefix) < 65536:
            prefix += piece[:65536 - len(prefix)]
        left -= len(piece)
    return {"status": status, "length": length, "sha256": h.hexdigest(),
            "body": prefix.decode("latin-1") if length <= len(prefix) else None}


def main():
    print(f"READY pid={os.getpid()}", flush=True)
    conns = {}   # name -> (socket, Reader, port)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        rd = None
        try:
            if cmd[0] == "connect":
                name, port = cmd[1], int(cmd[2])
                if name in conns:
                    conns.pop(name)[0].close()
                sock = socket.create_connection(("127.0.0.1", port), timeout=20)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conns[name] = (sock, Reader(sock), port)
                cookie = int.from_bytes(sock.getsockopt(socket.SOL_SOCKET, SO_COOKIE, 8),
                                        sys.byteorder)
                out = {"local_port": sock.getsockname()[1], "cookie": cookie}
            elif cmd[0] in ("get", "post"):
                sock, rd, port = conns[cmd[1]]
                rd.reads = rd.fionread_zero = rd.short_reads = rd.fionread_max = 0
                t0 = time.monotonic()
                path = cmd[2]
                if cmd[0] == "get":
                    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                                 f"User-Agent: obi-fionread-client/1\r\n\r\n".encode())
                    extra = {}
                else:
                    body = blob(int(cmd[3]))
                    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                                 f"User-Agent: obi-fionread-client/1\r\n"
                                 f"Content-Type: application/octet-stream\r\n"
                                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                    extra = {"sent_sha256": hashlib.sha256(body).hexdigest()}
                out = read_response(rd)
                out.update(extra, reads=rd.reads, fionread_zero=rd.fionread_zero,
                           short_reads=rd.short_reads, fionread_max=rd.fionread_max,
                           seconds=round(time.monotonic() - t0, 3))
            elif cmd[0] == "close":
                if cmd[1] in conns:
                    conns.pop(cmd[1])[0].close()
                out = {}
            else:
                raise ValueError(f"unknown command {cmd[0]!r}")
            print("RESULT " + json.dumps(out), flush=True)
        except (OSError, Stall, ValueError, IndexError, KeyError) as e:
            stats = {}
            if rd:
                stats = {"reads": rd.reads, "fionread_zero": rd.fionread_zero,
                         "short_reads": rd.short_reads, "buffered": len(rd.buf)}
            print("ERROR " + json.dumps({"error": f"{type(e).__name__}: {e}", **stats}),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
