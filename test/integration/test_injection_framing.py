#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""traceparent goes only where a request starts: the kernel follows each injected connection's
framing, so a body is never modified, whatever its bytes.

servers/http_writer.py (selected by pid) writes requests to servers/echo_backend.py (not
selected), which answers each POST with the length and SHA-256 of the body it read and the
headers it got:
  (a) a POST whose body goes out in a send of its own and begins like a request
      ("GET /inner HTTP/1.1 ...", as message/http payloads and batch APIs do), 20 times on one
      keep-alive connection: every body byte-exact, exactly one traceparent per request (in
      its head), and a GET after them still gets its header (the framing came back to a
      request boundary);
  (b) the same body in a chunked request, its data in a send of its own: byte-exact; obi
      cannot follow chunks, so from then on that connection is left alone (the next GET has no
      traceparent) and counted;
  (c) a connection whose first bytes are not a request (a redis-like PING, then an HTTP GET
      on it): never touched, counted;
  (d) the next connection to that server (whose last connection began with something else)
      stays out of obi's SOCKHASH altogether (checked with bpftool, beside a connection (a)
      that is in it): its GET goes out untouched, counted;
exit summary: injected, inject_body_sends, inject_off_framing, inject_off_not_http,
inject_peer_not_http.
Without the framing (obi before this test), (a)'s bodies arrived altered in every try."""
import hashlib
import json

import obi_harness as h

N = 20
SIZE = 5000


def body(size):
    inner = b"GET /inner HTTP/1.1\r\nHost: inner\r\n\r\n"
    return (inner + h.echo_blob(size))[:size]


def request(w, name, mode, path, size):
    ok, r = w.cmd(f"request {name} {mode} {path} 0 {size}")
    h.check(ok, f"http_writer: {mode} {path}: {r}")
    return r


def echo_of(got, what):
    """The backend's JSON answer; a failure naming `what` when the exchange was broken (bytes
    inserted into a body shift everything after them on the connection)."""
    try:
        return json.loads(got["body"])
    except ValueError:
        h.fail(f"{what}: the backend's answer is not its JSON (status {got['status']}, "
               f"{got['body'][:120]!r}): the request stream was altered")


def main():
    port = h.free_port()
    backend = h.start_echo_backend(port)
    w = h.CommandClient("http_writer.py", name="http-writer")
    obi = h.Obi({"OTEL_EBPF_TARGET_PID": str(w.pid)})
    h.wait_propagation_on(obi)
    obi.expect_instrumented([w.pid], only=True)
    p = h.Problems()
    want_sha = hashlib.sha256(body(SIZE)).hexdigest()

    # (a) bodies that look like requests, in sends of their own
    ok, a = w.cmd(f"connect a {port} 1")
    h.check(ok, f"connect a: {a}")
    for i in range(N):
        got = request(w, "a", "body-request", f"/post/{i}", SIZE)
        echo = echo_of(got, f"(a) POST {i}")
        p.eq(f"(a) POST {i}: status, body length and sha256 at the backend",
             (got["status"], echo["length"], echo["sha256"]), (200, SIZE, want_sha))
        p.eq(f"(a) POST {i}: traceparent headers at the backend",
             len(h.header_values(echo["headers"], "traceparent")), 1)
    got = request(w, "a", "one", "/headers/after", 0)
    p.eq("(a) GET after the bodies: status", got["status"], 200)
    p.eq("(a) GET after the bodies: traceparent headers at the backend",
         len(h.header_values(echo_of(got, "(a) GET after"), "traceparent")), 1)

    # (b) the same body, chunked: followed no further
    ok, r = w.cmd(f"connect b {port} 1")
    h.check(ok, f"connect b: {r}")
    got = request(w, "b", "chunked-request", "/chunked", SIZE)
    echo = echo_of(got, "(b) chunked POST")
    p.eq("(b) chunked POST: status, length and sha256 at the backend",
         (got["status"], echo["length"], echo["sha256"]), (200, SIZE, want_sha))
    p.eq("(b) chunked POST: traceparent headers (the head came before the body)",
         len(h.header_values(echo["headers"], "traceparent")), 1)
    got = request(w, "b", "one", "/headers/after-chunked", 0)
    p.eq("(b) GET after the chunked body: traceparent headers (connection left alone)",
         len(h.header_values(echo_of(got, "(b) GET after"), "traceparent")), 0)

    # (c) a connection that starts with something else (the backend answers 400 and closes)
    ok, r = w.cmd(f"connect c {port} 1")
    h.check(ok, f"connect c: {r}")
    ok, r = w.cmd("raw c " + b"*1\r\n$4\r\nPING\r\n".hex())
    h.check(ok and r["received"] > 0, f"raw PING to the backend: {r}")

    # (d) the next connection to that server: kept out of sock_hash
    ok, d = w.cmd(f"connect d {port} 1")
    h.check(ok, f"connect d: {d}")
    in_map = h.sockhash_cookies(obi)
    p.eq("(a) connection in obi's sock_hash, (d) connection not",
         (a["cookie"] in in_map, d["cookie"] in in_map), (True, False))
    got = request(w, "d", "one", "/headers/d", 0)
    p.eq("(d) GET: status and traceparent headers at the backend",
         (got["status"], len(h.header_values(echo_of(got, "(d) GET"), "traceparent"))), (200, 0))
    p.raise_if_any("framing")
    obi.stop(expect_code=0)
    s = obi.summary()
    # the counters also hold the start-up self-test's requests (its bodies and injections,
    # never a connection left alone): these are lower bounds, exact for what is left alone
    p.true(s.get("injected", 0) >= N + 2,
           f"summary injected: at least {N + 2} (20 POSTs, a GET, the chunked POST), got {s}")
    p.true(s.get("inject_body_sends", 0) >= N,
           f"summary inject_body_sends: at least {N} (the bodies), got {s}")
    p.eq("summary inject_off_framing (the chunked body)", s.get("inject_off_framing"), 1)
    # the self-test's own connection speaking another protocol is the other one
    p.eq("summary inject_off_not_http (the PING, and the self-test's)",
         s.get("inject_off_not_http"), 2)
    p.eq("summary inject_peer_not_http (connection d)", s.get("inject_peer_not_http"), 1)
    p.raise_if_any(f"obi's exit summary {s}")
    backend.kill()


h.run(main)
