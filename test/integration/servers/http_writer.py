#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""HTTP/1.1 client that controls exactly how a request is written (for obi's traceparent
injection tests). Prints "READY pid=<pid>", then runs one command per stdin line and answers
each with "RESULT <json>" or "ERROR <json>":

  connect <name> <port> <nodelay 0|1>     keep-alive connection to 127.0.0.1:<port>;
        RESULT {"local_port", "cookie" (SO_COOKIE)}
  request <name> <mode> <path> <pad> <body>
        one request; <pad> headers X-Pad-NN of 100 bytes each, a <body>-byte body (blob(n) of
        echo_backend.py, Content-Length) when > 0. <mode> says how it is written:
          one           head and body in one send()
          body-apart    head in one send(), body in another
          head-split    the request line in one send(), the rest in another
          body-request  like body-apart, with a body that begins like a request of its own
                        ("GET /inner HTTP/1.1\r\nHost: inner\r\n\r\n", then blob bytes)
          chunked-request  head in one send() (Transfer-Encoding: chunked), then one chunk whose
                        size line, data (the body-request body) and end each go in a send()
          page-edge     (no body) head in one libc send() from a buffer whose last byte is the
                        last byte of a page followed by a PROT_NONE page
          page-untouched  the same, followed by a mapped page never touched (not present)
        RESULT {"status", "body" (text), "seconds", "sent_sha256" of the body}
  raw <name> <hex>      sends the bytes (hex) in one send(), reads what comes back until the
        peer closes or 2 s pass; RESULT {"received": bytes}
  repeat <name> <count> <path>   <count> GETs of <path>0, <path>1, ... one after the other,
        each in one send();
        RESULT {"statuses": {status: n}, "seconds"}
"""
import ctypes
import hashlib
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from echo_backend import blob  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
libc.send.restype = ctypes.c_ssize_t
libc.send.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
PROT_RW, MAP_PRIVATE_ANON = 3, 0x22


def send_at_page_end(sock, data, guard):
    """send() of data from a buffer ending at a page end; the next page is PROT_NONE (guard) or
    mapped but never touched."""
    pages = (len(data) + PAGE - 1) // PAGE + 1
    base = libc.mmap(None, pages * PAGE, PROT_RW, MAP_PRIVATE_ANON, -1, 0)
    if base in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "mmap")
    end = base + (pages - 1) * PAGE
    if guard and libc.mprotect(end, PAGE, 0):
        raise OSError(ctypes.get_errno(), "mprotect")
    ctypes.memmove(end - len(data), data, len(data))
    n = libc.send(sock.fileno(), end - len(data), len(data), 0)
    if n != len(data):
        raise OSError(ctypes.get_errno(), f"send returned {n} of {len(data)}")


def read_response(sock, buf):
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise OSError("connection closed in the response head")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v)
    body = bytearray(rest)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise OSError("connection closed in the response body")
        body += chunk
    buf[:] = body[length:]
    return int(lines[0].split()[1]), bytes(body[:length])


def main():
    print(f"READY pid={os.getpid()}", flush=True)
    conns = {}
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        try:
            if cmd[0] == "connect":
                name, port, nodelay = cmd[1], int(cmd[2]), cmd[3] == "1"
                s = socket.create_connection(("127.0.0.1", port), timeout=20)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(nodelay))
                conns[name] = (s, bytearray(), port)
                out = {"local_port": s.getsockname()[1],
                       "cookie": int.from_bytes(s.getsockopt(socket.SOL_SOCKET, 57, 8),
                                                sys.byteorder)}   # SO_COOKIE
            elif cmd[0] == "request":
                name, mode, path, pad, size = cmd[1], cmd[2], cmd[3], int(cmd[4]), int(cmd[5])
                s, buf, port = conns[name]
                body = blob(size) if size else b""
                if mode in ("body-request", "chunked-request") and size:
                    inner = b"GET /inner HTTP/1.1\r\nHost: inner\r\n\r\n"
                    body = (inner + blob(size))[:size]
                head = f"{'POST' if size else 'GET'} {path} HTTP/1.1\r\n"
                rest = f"Host: 127.0.0.1:{port}\r\nUser-Agent: obi-http-writer/1\r\n"
                rest += "".join(f"X-Pad-{i:02d}: {i:02d}-{'v' * 90}\r\n" for i in range(pad))
                if size and mode == "chunked-request":
                    rest += "Content-Type: message/http\r\nTransfer-Encoding: chunked\r\n"
                elif size:
                    rest += f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n"
                rest += "\r\n"
                t0 = time.monotonic()
                if mode == "one":
                    s.sendall((head + rest).encode() + body)
                elif mode in ("body-apart", "body-request"):
                    s.sendall((head + rest).encode())
                    s.sendall(body)
                elif mode == "chunked-request":
                    # the chunk's data in a send of its own, so that a send starts like a request
                    s.sendall((head + rest).encode())
                    s.sendall(f"{len(body):x}\r\n".encode())
                    s.sendall(body)
                    s.sendall(b"\r\n0\r\n\r\n")
                elif mode == "head-split":
                    s.sendall(head.encode())
                    time.sleep(0.05)
                    s.sendall(rest.encode() + body)
                elif mode in ("page-edge", "page-untouched") and not size:
                    send_at_page_end(s, (head + rest).encode(), mode == "page-edge")
                else:
                    raise ValueError(f"unknown mode {mode!r}")
                status, got = read_response(s, buf)
                out = {"status": status, "body": got.decode("latin-1"),
                       "seconds": round(time.monotonic() - t0, 4),
                       "sent_sha256": hashlib.sha256(body).hexdigest()}
            elif cmd[0] == "raw":
                s, buf, port = conns[cmd[1]]
                s.sendall(bytes.fromhex(cmd[2]))
                s.settimeout(2)
                got = 0
                try:
                    while chunk := s.recv(65536):
                        got += len(chunk)
                except socket.timeout:
                    pass
                out = {"received": got}
            elif cmd[0] == "repeat":
                name, count, path = cmd[1], int(cmd[2]), cmd[3]
                s, buf, port = conns[name]
                statuses = {}
                t0 = time.monotonic()
                for i in range(count):
                    s.sendall(f"GET {path}{i} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
                    status, _ = read_response(s, buf)
                    statuses[status] = statuses.get(status, 0) + 1
                out = {"statuses": statuses, "seconds": round(time.monotonic() - t0, 4)}
            else:
                raise ValueError(f"unknown command {cmd[0]!r}")
            print("RESULT " + json.dumps(out), flush=True)
        except (OSError, ValueError, IndexError, KeyError) as e:
            print("ERROR " + json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
