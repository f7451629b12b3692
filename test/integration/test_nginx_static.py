#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""nginx serving a 300000-byte static file with `sendfile on;` (the body leaves through
sendfile(), only the head through write/writev), started before obi and selected by port:
three GETs on one keep-alive connection (curl with three URLs) give exactly three SERVER spans
with http.response.body.size 300000 from the worker; a HEAD (curl -I) gives status 200 and
body size 0; a HEAD then a GET on one connection give two spans (the HEAD's Content-Length
must not swallow the next response); a 404 gives one span with nginx's error-page size."""
import http.client
import json
import os
import subprocess
import time

import obi_harness as h

SIZE = 300000


def curl_many(urls, *args):
    """One curl for several URLs (one keep-alive connection); returns its -w json per URL."""
    argv = ["curl", "-sS", "--noproxy", "*", "--max-time", "20", "-w", "%{json}\n"]
    for u in urls:
        argv += ["-o", "/dev/null", u]
    r = subprocess.run([*argv, *args], stdin=subprocess.DEVNULL, capture_output=True,
                       env=h.clean_env(), timeout=30)
    h.check(r.returncode == 0, f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.decode()}")
    return [json.loads(line) for line in r.stdout.decode().splitlines() if line.strip()]


def main():
    port = h.free_port()
    www = h.tmpdir("obi-it-www-")
    data = bytes((i * 13 + 7) % 256 for i in range(SIZE))
    with open(os.path.join(www, "big.bin"), "wb") as f:
        f.write(data)
    nginx = h.NginxServer(port, f"""
        sendfile on;
        tcp_nopush on;
        keepalive_timeout 30s;
        location / {{ root {www}; }}
""")
    [worker] = nginx.workers
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(port)})
    since = time.time_ns()
    obi.expect_instrumented([nginx.pid, worker], only=True)
    url = f"http://127.0.0.1:{port}/big.bin"
    common = {"kind": "SERVER", "type": "HTTP", "http.request.body.size": 0,
              "server.address": "127.0.0.1", "server.port": port, "client.address": "127.0.0.1",
              "network.local.address": "127.0.0.1", "network.local.port": port,
              "network.peer.address": "127.0.0.1", "process.pid": worker,
              "service.name": "nginx", "parent_span_id": h.NO_PARENT}
    p = h.Problems()

    # three GETs on one connection: sendfile bodies, keep-alive
    got = curl_many([url + "?n=1", url + "?n=2", url + "?n=3"])
    h.check_eq([(g["http_code"], g["size_download"]) for g in got], [(200, SIZE)] * 3,
               "curl: (status, size) of the three GETs")
    h.check_eq(len({g["local_port"] for g in got}), 1,
               f"curl used one connection for the three GETs (local ports "
               f"{[g['local_port'] for g in got]})")
    gets = obi.wait_spans(3, what="spans after three GETs on one connection")
    for i, s in enumerate(gets):
        h.expect_span(s, f"GET #{i + 1}", {
            **common, "http.request.method": "GET", "url.path": "/big.bin",
            "http.response.status_code": 200, "http.response.body.size": SIZE,
            "network.peer.port": got[0]["local_port"]}, since, p)
    p.raise_if_any("spans of the three GETs")
    starts = [s["start_time_unix_nano"] for s in gets]
    h.check(starts == sorted(starts) and gets[0]["end_time_unix_nano"] <= starts[1]
            and gets[1]["end_time_unix_nano"] <= starts[2],
            "the three keep-alive GETs should be sequential and not overlap: "
            f"{[(s['start_time_unix_nano'], s['end_time_unix_nano']) for s in gets]}")

    # HEAD: Content-Length 300000 but no body
    [head] = curl_many([url], "-I")
    h.check_eq(head["http_code"], 200, "curl -I status")
    s_head = obi.wait_spans(4, what="spans after the HEAD")[3]
    h.expect_span(s_head, "HEAD", {
        **common, "http.request.method": "HEAD", "url.path": "/big.bin",
        "http.response.status_code": 200, "http.response.body.size": 0,
        "network.peer.port": head["local_port"]}, since)

    # HEAD then GET on one connection
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("HEAD", "/big.bin")
    r1 = conn.getresponse()
    r1.read()
    local_port = conn.sock.getsockname()[1]
    conn.request("GET", "/big.bin")
    r2 = conn.getresponse()
    body2 = r2.read()
    conn.close()
    h.check_eq((r1.status, r2.status, body2 == data), (200, 200, True),
               "http.client HEAD then GET (statuses, GET body)")
    s_h2, s_g2 = obi.wait_spans(6, what="spans after HEAD + GET on one connection")[4:]
    h.expect_span(s_h2, "HEAD (then GET)", {
        **common, "http.request.method": "HEAD", "url.path": "/big.bin",
        "http.response.status_code": 200, "http.response.body.size": 0,
        "network.peer.port": local_port}, since, p)
    h.expect_span(s_g2, "GET (after HEAD)", {
        **common, "http.request.method": "GET", "url.path": "/big.bin",
        "http.response.status_code": 200, "http.response.body.size": SIZE,
        "network.peer.port": local_port}, since, p)
    p.raise_if_any("spans of HEAD then GET on one connection")

    # 404: nginx's own error page
    missing = h.curl(f"http://127.0.0.1:{port}/missing.bin")
    h.check_eq(missing["http_code"], 404, "curl GET /missing.bin status")
    s_404 = obi.wait_spans(7, what="spans after the 404")[6]
    h.expect_span(s_404, "GET 404", {
        **common, "http.request.method": "GET", "url.path": "/missing.bin",
        "http.response.status_code": 404,
        "http.response.body.size": missing["size_download"],
        "network.peer.port": missing["local_port"], "error": False}, since)
    h.check(missing["size_download"] > 0, "nginx's 404 page should have a body")
    h.expect_distinct_ids(obi.spans)
    obi.stop(expect_total=7)


h.run(main)
