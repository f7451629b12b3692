#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""JSON printer with awkward input: 20 GETs (one connection each, written byte for byte on a
raw socket) to servers/backend.py with odd targets — percent-encoding, quotes, backslashes,
UTF-8, a 2000-character path, a path cut inside a UTF-8 character, query strings — and a
User-Agent holding quotes, a backslash and UTF-8. Every stdout line must parse with json.loads
and carry the keys agent/printer.h lists; url.path is exactly the path without the query (a path
longer than obi keeps is a prefix of the real one, never a replacement character);
user_agent.original is exact."""
import time

import obi_harness as h

UA = 'obi "json" test \\ agent/1.0 (\u00fcn\u00ef; \'q\'; {"k":1})'

TARGETS = [
    b"/plain",
    b"/percent%20encoded%2Fslash%3Fq%3D1",
    b'/quote"inside"/x',
    b"/back\\slash\\\\double",
    "/utf8/\u00fcn\u00efc\u00f6d\u00e9/\u65e5\u672c\u8a9e".encode(),
    "/emoji/\U0001f600/end".encode(),
    b'/query/path?x=1&y="2"&z=\\',
    b"/?only=query",
    b"/a/b/c/../d/./e",
    b"/ctl%09tab%0Anl%00nul",
    b"/long/" + b"x" * 1994,                                  # a 2000-character path
    b"/longutf8/" + "\u00e9".encode() * 300,                  # 610 bytes, 2-byte characters
    b'/json{"a":[1,2],"b":"c\\"d"}',
    b"/semi;param=1;other=2",
    b"/%E2%82%AC/%C3%A9",
    b"/x?",
    b"//double//slashes//",
    b"/apostrophe'single'<tag>&amp;",
    b"/mixed%22quote\\%5C/" + "\u00df".encode() + b"?q=%22",
    b"/" + "\U0001f642".encode() * 20 + b"?" + b"q" * 300,    # short path, long query
]


CAPTURED_HEAD = 1024   # README: only the first 1 KiB of a head is captured per read


def request(port, target):
    return (b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1:" + str(port).encode() +
            b"\r\nUser-Agent: " + UA.encode() + b"\r\nAccept: */*\r\nConnection: close\r\n\r\n")


def raw_get(port, target):
    """One GET on its own connection; returns (status, response body size, client port)."""
    cport, data = h.exchange_until_close(port, request(port, target))
    head, sep, body = data.partition(b"\r\n\r\n")
    h.check(sep, f"no complete response to GET {target[:80]!r}: {data[:200]!r}")
    status = int(head.split(b" ", 2)[1])
    clen = [int(l.split(b":", 1)[1]) for l in head.split(b"\r\n")[1:]
            if l.lower().startswith(b"content-length:")]
    h.check_eq(clen, [len(body)], f"Content-Length of the response to {target[:80]!r}")
    return status, len(body), cport


def main():
    h.check_eq(len(TARGETS), 20, "number of targets")
    h.check(len(UA.encode()) < 128, "the user agent fits obi's 127 bytes")
    port = h.free_port()
    backend = h.start_backend(port)
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(port)})
    since = time.time_ns()
    obi.expect_instrumented([backend.pid], only=True)

    sent = {}
    for t in TARGETS:
        status, size, cport = raw_get(port, t)
        sent[cport] = (t, status, size)
    h.check_eq(sorted(st for _, st, _ in sent.values()), [200] + [404] * 19,
               "statuses from the backend (only /?only=query exists)")
    spans = obi.wait_spans(len(TARGETS), what="spans for the 20 odd targets")

    p = h.Problems()
    for line in obi.lines:   # the harness already failed on a line that is not a JSON object
        p.true(line.startswith("{") and line.endswith("}") and "\n" not in line,
               f"not one JSON object per line: {line[:120]!r}")
    by_port = {}
    for s in spans:
        by_port.setdefault(s.get("network.peer.port"), []).append(s)
    for cport, (t, status, size) in sent.items():
        real = t.split(b"?", 1)[0].decode("utf-8")
        shown = t.decode("utf-8", "replace")
        label = f"GET {shown[:50]!r}{f'... ({len(t)} bytes)' if len(shown) > 50 else ''}"
        got = by_port.get(cport, [])
        if len(got) != 1:
            p.append(f"{label}: expected 1 span with network.peer.port {cport}, got {len(got)}")
            continue
        s = got[0]
        want = {"kind": "SERVER", "http.request.method": "GET",
                "http.response.status_code": status, "http.request.body.size": 0,
                "http.response.body.size": size, "server.port": port,
                "network.local.port": port, "process.pid": backend.pid}
        if len(request(port, t)) <= CAPTURED_HEAD:
            want.update({"user_agent.original": UA, "server.address": "127.0.0.1"})
        else:   # the headers lie beyond the captured 1 KiB: absent is right, wrong is not
            for k, v in (("user_agent.original", UA), ("server.address", "127.0.0.1")):
                if k in s and s[k] != v:
                    p.append(f"{label}: {k}: expected {v!r} or absent, got {s[k]!r}")
        h.expect_span(s, label, want, since, p)
        path = s.get("url.path")
        if not isinstance(path, str):
            continue
        if len(real.encode()) <= 255:
            p.eq(f"{label}: url.path", path, real)
        else:
            p.true(real.startswith(path) and len(path.encode()) >= 200,
                   f"{label}: url.path should be a prefix of the real path of at least 200 "
                   f"bytes ({len(real.encode())} bytes in all), got {path!r}")
        if "http.route" in s:
            p.true(isinstance(s["http.route"], str) and s["http.route"].startswith("/"),
                   f"{label}: http.route {s['http.route']!r} should be a string path")
    p.raise_if_any("spans of the odd targets")
    h.expect_distinct_ids(spans)
    obi.stop(expect_total=len(TARGETS))


h.run(main)
