#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""SERVER spans of python's http.server (started before obi, selected by OTEL_EBPF_OPEN_PORT):
a GET of a 1234-byte file with a query string, a 404, and a 100-byte POST to the backend."""
import time

import obi_harness as h


def main():
    files_port, post_port = h.free_port(), h.free_port()
    f_body = bytes((i * 7) % 251 for i in range(1234))
    www = h.start_http_server(files_port, {"f.txt": f_body})
    backend = h.start_backend(post_port)
    svc_www, svc_backend = h.exe_basename(www.pid), h.exe_basename(backend.pid)

    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": f"{files_port},{post_port}"})
    since = time.time_ns()
    obi.expect_instrumented([www.pid, backend.pid], only=True)

    ua = "obi-test-curl/1"
    ok = h.curl(f"http://127.0.0.1:{files_port}/f.txt?x=1", "-A", ua)
    h.check_eq(ok["http_code"], 200, "curl GET /f.txt status")
    h.check_eq(ok["body"], f_body, "curl GET /f.txt body")
    [s_ok] = obi.wait_spans(1, what="spans after the GET /f.txt?x=1")

    missing = h.curl(f"http://127.0.0.1:{files_port}/nope.txt", "-A", ua,
                     "-H", "Host: files.example:8080")
    h.check_eq(missing["http_code"], 404, "curl GET /nope.txt status")
    s_404 = obi.wait_spans(2, what="spans after the 404")[1]

    post = h.curl(f"http://127.0.0.1:{post_port}/upload", "-A", ua, "--data-binary",
                  "x" * 100, "-H", "Content-Type: application/octet-stream")
    h.check_eq(post["http_code"], 200, "curl POST /upload status")
    h.check_eq(post["body"], b"received 100\n", "curl POST /upload body")
    s_post = obi.wait_spans(3, what="spans after the POST")[2]

    p = h.Problems()
    common = {"kind": "SERVER", "type": "HTTP", "parent_span_id": h.NO_PARENT,
              "client.address": "127.0.0.1", "network.local.address": "127.0.0.1",
              "network.peer.address": "127.0.0.1", "telemetry.sdk.language": "python"}
    h.expect_span(s_ok, "GET /f.txt?x=1", {
        **common, "http.request.method": "GET", "url.path": "/f.txt",
        "http.response.status_code": 200, "http.request.body.size": 0,
        "http.response.body.size": 1234, "server.address": "127.0.0.1",
        "server.port": files_port, "network.local.port": files_port,
        "network.peer.port": ok["local_port"], "process.pid": www.pid,
        "service.name": svc_www}, since, p)
    h.expect_span(s_404, "GET /nope.txt", {
        **common, "http.request.method": "GET", "url.path": "/nope.txt",
        "http.response.status_code": 404, "http.request.body.size": 0,
        "http.response.body.size": missing["size_download"], "server.address": "files.example",
        "server.port": files_port, "network.local.port": files_port,
        "network.peer.port": missing["local_port"], "process.pid": www.pid,
        "service.name": svc_www}, since, p)
    h.expect_span(s_post, "POST /upload", {
        **common, "http.request.method": "POST", "url.path": "/upload",
        "http.response.status_code": 200, "http.request.body.size": 100,
        "http.response.body.size": len(b"received 100\n"), "server.address": "127.0.0.1",
        "server.port": post_port, "network.local.port": post_port,
        "network.peer.port": post["local_port"], "process.pid": backend.pid,
        "service.name": svc_backend}, since, p)
    for label, s in (("GET /f.txt", s_ok), ("GET /nope.txt", s_404), ("POST", s_post)):
        if "user_agent.original" in s:
            p.eq(f"{label}: user_agent.original", s["user_agent.original"], ua)
    p.raise_if_any("span fields")
    h.expect_distinct_ids([s_ok, s_404, s_post])
    h.check(len({s["trace_id"] for s in (s_ok, s_404, s_post)}) == 3,
            "three independent requests should have three trace ids")
    obi.stop(expect_total=3)


h.run(main)
