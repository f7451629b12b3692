#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""TCP client for test_rx_overlap.py. Prints "READY pid=<pid>"; for each stdin line
"connect <port> <tag>" connects to 127.0.0.1:<port>, prints "CONNECTED <tag> cookie=<SO_COOKIE>",
reads until EOF and prints "READ <tag> <json>": length, cookie and first_diff, the first offset
where the bytes differ from the pattern the test's peer sends (null when none)."""
import json
import os
import socket
import sys

SO_COOKIE = 57


def pattern(i):
    return (i * 7 + i // 251) & 0xff


def main():
    print(f"READY pid={os.getpid()}", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] != "connect":
            continue
        port, tag = int(cmd[1]), cmd[2]
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        cookie = int.from_bytes(sock.getsockopt(socket.SOL_SOCKET, SO_COOKIE, 8), sys.byteorder)
        print(f"CONNECTED {tag} cookie={cookie}", flush=True)
        got = bytearray()
        while True:
            piece = sock.recv(65536)
            if not piece:
                break
            got += piece
        sock.close()
        diff = next((i for i, b in enumerate(got) if b != pattern(i)), None)
        print(f"READ {tag} " + json.dumps({"length": len(got), "first_diff": diff,
                                             "cookie": cookie}), flush=True)


if __name__ == "__main__":
    main()
