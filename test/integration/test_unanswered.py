#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Requests left unanswered and traffic that is not HTTP (servers/raw_server.py).
(1) A selected server that reads a request and closes without answering: exactly one SERVER
span, status 0, error. (2) A client selected by OTEL_EBPF_TARGET_PID whose (unselected) server
closes without answering: exactly one CLIENT span, status 0, error. (3) Non-HTTP traffic to a
selected server — random bytes, a TLS ClientHello-like blob, a "GET " followed by binary junk,
an HTTP response sent as if it were a request, and junk after a real request on a keep-alive
connection — gives no span; obi stays up (a valid GET afterwards gives its span, it exits 0)
and its exit summary counts the spans, the unanswered requests and the not_http heads. A redis
PING among them, which this server answers "-ERR not http", is a Redis exchange on the wire:
one RedisServer span, PING, an error with code ERR."""
import random
import socket
import time

import obi_harness as h

RAW = h.SERVERS + "/raw_server.py"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
ERR = b"-ERR not http\r\n"


def start_raw(port, mode, name):
    p = h.Proc([h.PYTHON, "-u", RAW, "--port", str(port), "--mode", mode], name=name)
    p.wait_output(r"^READY port=\d+")
    h.wait_listening(port, p)
    return p


def exchange(port, *messages):
    """Sends each message on one connection and reads the reply to it (until the expected
    answer is complete), then half-closes and reads to EOF. Returns (client port, replies)."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        cport = s.getsockname()[1]
        for msg, want in messages:
            s.sendall(msg)
            got = b""
            while len(got) < len(want):
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            replies.append(got)
            h.check_eq(got, want, f"reply to {msg[:40]!r}")
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
    return cport, replies


def junk_part(obi, port, srv, since):
    rnd = random.Random(20261123)
    random_bytes = b"\x00\x01" + bytes(rnd.randrange(256) for _ in range(4094))
    client_hello = (b"\x16\x03\x01\x01\xfc\x01\x00\x01\xf8\x03\x03" +
                    bytes(rnd.randrange(256) for _ in range(32)) + b"\x20" +
                    bytes(rnd.randrange(256) for _ in range(32)) +
                    b"\x00\x04\x13\x01\x13\x02\x01\x00" + b"\x00" * 435)
    redis = b"*1\r\n$4\r\nPING\r\n"
    get_junk = b"GET \x00\x01\x02\xff\xfe binary junk\x7f\r\n\r\n"
    response_as_request = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    for msg in (random_bytes, client_hello, redis, get_junk, response_as_request):
        exchange(port, (msg, ERR))
    good = b"GET /ok HTTP/1.1\r\nHost: junk.example\r\n\r\n"
    cport_ka, _ = exchange(port, (good, OK), (random_bytes, ERR))
    time.sleep(0.3)   # obi polls every 20 ms: any span from the junk would be out by now
    mine = [s for s in obi.spans if s.get("network.local.port") == port]
    redis_spans = [s for s in mine if s.get("type") == "RedisServer"]
    junk_spans = [h.short(s) for s in mine if s.get("type") != "RedisServer"]
    h.check(len(junk_spans) == 1 and "'/ok'" in junk_spans[0],
            f"spans of the server after the non-HTTP traffic: expected only the GET /ok, got "
            f"{junk_spans}")
    h.check_eq([(s.get("db.operation.name"), s.get("db.response.status_code"), s.get("error"))
                for s in redis_spans], [("PING", "ERR", True)],
               "the redis PING answered -ERR: one RedisServer span")
    cport_final, _ = exchange(port, (b"GET /final HTTP/1.1\r\nHost: junk.example\r\n\r\n", OK))
    spans = obi.wait_spans(2, lambda s: s.get("network.local.port") == port and
                           s.get("type") == "HTTP",
                           what="HTTP spans from the non-HTTP server (GET /ok and GET /final)")
    p = h.Problems()
    for s, path, cport in ((spans[0], "/ok", cport_ka), (spans[1], "/final", cport_final)):
        h.expect_span(s, f"GET {path} among junk", {
            "kind": "SERVER", "http.request.method": "GET", "url.path": path,
            "http.response.status_code": 200, "http.response.body.size": 2,
            "http.request.body.size": 0, "server.address": "junk.example",
            "network.local.port": port, "network.peer.port": cport,
            "process.pid": srv.pid}, since, p)
    p.raise_if_any("spans from the server fed non-HTTP traffic")


def main():
    drop_port, junk_port, lost_port = h.free_port(), h.free_port(), h.free_port()
    drop = start_raw(drop_port, "drop", "raw-drop")
    junk = start_raw(junk_port, "nonhttp", "raw-nonhttp")
    lost = start_raw(lost_port, "drop", "raw-drop-unselected")
    lost_req = b"GET /lost?x=1 HTTP/1.1\r\nHost: lost.example\r\nUser-Agent: obi-raw/1\r\n\r\n"
    client = h.Proc([h.PYTHON, "-u", h.SERVERS + "/raw_client.py", "--port", str(lost_port),
                     repr(lost_req)], name="raw-client", stdin=True)
    client.wait_output(r"^READY pid=\d+")

    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": f"{drop_port},{junk_port}",
                 "OTEL_EBPF_TARGET_PID": str(client.pid)})
    since = time.time_ns()
    obi.expect_instrumented([drop.pid, junk.pid, client.pid], only=True)
    p = h.Problems()

    # (1) server reads the request and closes
    cport, replies = exchange(drop_port, (b"GET /unanswered HTTP/1.1\r\nHost: drop.example\r\n"
                                          b"\r\n", b""))
    [s_srv] = obi.wait_spans(1, what="spans after the request the server left unanswered")
    h.expect_span(s_srv, "unanswered SERVER", {
        "kind": "SERVER", "http.request.method": "GET", "url.path": "/unanswered",
        "http.response.status_code": 0, "error": True, "otel.status_code": "ERROR",
        "http.request.body.size": 0, "http.response.body.size": 0,
        "server.address": "drop.example", "server.port": drop_port,
        "network.local.port": drop_port, "network.peer.port": cport,
        "process.pid": drop.pid}, since, p)

    # (2) client whose server closes without answering
    client.send_line("go")
    m = client.wait_output(r"^RESULT local_port=(\d+) received=(\d+)")
    h.check_eq(int(m.group(2)), 0, "bytes the client received from the dropping server")
    s_cli = obi.wait_spans(2, what="spans after the client's unanswered request")[1]
    h.expect_span(s_cli, "unanswered CLIENT", {
        "kind": "CLIENT", "http.request.method": "GET", "url.path": "/lost",
        "http.response.status_code": 0, "error": True, "otel.status_code": "ERROR",
        "http.request.body.size": 0, "http.response.body.size": 0,
        "server.address": "lost.example", "server.port": lost_port,
        "network.peer.address": "127.0.0.1", "network.peer.port": lost_port,
        "network.local.port": int(m.group(1)), "process.pid": client.pid,
        "user_agent.original": "obi-raw/1"}, since, p)
    p.raise_if_any("unanswered spans")

    # (3) non-HTTP traffic
    junk_part(obi, junk_port, junk, since)
    h.check(obi.p.poll() is None, f"obi exited ({obi.p.returncode}) after the non-HTTP traffic")
    obi.stop(expect_code=0, expect_total=5)
    summary = obi.summary()
    for k, want in (("spans", 5), ("unanswered", 2), ("lost_events", 0)):
        p.eq(f"summary {k}", summary.get(k), want)
    # "GET <junk>", the response sent as a request, the junk after GET /ok (and the server's
    # "-ERR" replies on connections obi saw speak HTTP) reach the parser and fail it
    p.true(summary.get("not_http", 0) >= 2,
           f"summary not_http: expected at least 2, got {summary.get('not_http')}")
    p.raise_if_any(f"obi's exit summary {summary}")
    print(f"obi summary: {summary}", flush=True)
    client.send_line("bye")


h.run(main)
