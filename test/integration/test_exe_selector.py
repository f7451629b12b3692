#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""OTEL_EBPF_AUTO_TARGET_EXE: a copy of the python binary under a unique name in a temp dir,
selected by a glob on its path. A http.server run by the copy before obi (found by the start-up
scan) and one started after obi (selected when it execs) both give exactly one span per
request, with the copy's name as service name; a http.server run by the normal python binary
is not selected (no span, no 'instrumenting' line)."""
import os
import shutil
import sys
import time
import uuid

import obi_harness as h


def main():
    name = "obitestpy" + uuid.uuid4().hex[:8]
    d = h.tmpdir("obi-it-exe-")
    copy = os.path.join(d, name)
    shutil.copy2(os.path.realpath(sys.executable), copy)
    glob = f"{os.path.dirname(d)}/obi-it-exe-*/obitestpy{name[9:]}*"

    before_port, after_port, plain_port = h.free_port(), h.free_port(), h.free_port()
    body = b"exe selector\n"
    before = h.start_http_server(before_port, {"x.txt": body}, name="copy-before", python=copy)
    plain = h.start_http_server(plain_port, {"x.txt": body}, name="plain-python")
    h.check_eq(os.readlink(f"/proc/{before.pid}/exe"), copy, "exe of the server run by the copy")

    obi = h.Obi({"OTEL_EBPF_AUTO_TARGET_EXE": glob})
    since = time.time_ns()
    m = obi.wait_instrumented(before.pid)
    h.check("reason=exe" in m.string and f"exe={copy}" in m.string,
            f"instrumenting line of the server started before obi: reason=exe and exe={copy} "
            f"expected in {m.string!r}")
    after = h.start_http_server(after_port, {"x.txt": body}, name="copy-after", python=copy)
    m = obi.wait_instrumented(after.pid)
    h.check("reason=exe" in m.string, f"instrumenting line of the server started after obi: "
                                      f"reason=exe expected in {m.string!r}")
    obi.expect_instrumented([before.pid, after.pid], only=True)

    results = {}
    for label, port in (("before", before_port), ("plain", plain_port), ("after", after_port)):
        r = h.curl(f"http://127.0.0.1:{port}/x.txt")
        h.check_eq((r["http_code"], r["body"]), (200, body), f"curl to the {label} server")
        results[label] = r
    spans = obi.wait_spans(2, what="spans from the two servers run by the copy")
    by_pid = {s.get("process.pid"): s for s in spans}
    h.check_eq(sorted(by_pid), sorted([before.pid, after.pid]),
               f"pids of the spans (plain python server is {plain.pid})")
    p = h.Problems()
    for label, srv, port in (("before", before, before_port), ("after", after, after_port)):
        h.expect_span(by_pid[srv.pid], f"server started {label} obi", {
            "kind": "SERVER", "http.request.method": "GET", "url.path": "/x.txt",
            "http.response.status_code": 200, "http.response.body.size": len(body),
            "network.local.port": port, "network.peer.port": results[label]["local_port"],
            "service.name": name}, since, p)   # language: by exe name, so "generic" here
    p.raise_if_any("exe-selected spans")
    obi.stop(expect_total=2)


h.run(main)
