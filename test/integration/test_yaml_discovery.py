#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""discovery.instrument / exclude_instrument from a YAML file, with OBI's semantics, against
real servers (python http.server run by renamed copies of python, so exe_path can tell them
apart), some started before obi (start-up scan) and some after (listen, in the kernel or
reported to user space):

  instrument:
    - open_ports: P1                            # alone: selected in the kernel at listen()
    - open_ports: P2,P3,P5                      # AND: port and executable
      exe_path: "*/<copy A>"
  exclude_instrument:
    - exe_path: "*/<copy X>"                    # removes what an instrument entry selects

  A1  copy A on P2, before obi      -> selected (scan, instrument[1])
  B1  plain python on P3, before    -> not selected (port yes, exe no)
  A2  copy A on P3, after obi       -> selected when it listens (watched port, instrument[1])
  P   plain python on P1, after     -> selected in the kernel at listen (reason listen)
  X   copy X on P1, after           -> selected by the kernel at listen, then excluded
  B2  plain python on P5, after     -> not selected (watched port reported, exe no)

One request to each: exactly one SERVER span each from A1, A2 and P, none from B1, B2, X; one
"instrumenting" line each for A1, A2, P and an "excluded process" line for X."""
import os
import shutil
import sys
import time
import uuid

import obi_harness as h


def main():
    d = h.tmpdir("obi-it-yamldisc-")
    tag = uuid.uuid4().hex[:8]
    copy_a = os.path.join(d, f"obitestpya{tag}")
    copy_x = os.path.join(d, f"obitestpyx{tag}")
    for c in (copy_a, copy_x):
        shutil.copy2(os.path.realpath(sys.executable), c)
    p1, p2, p3, p5 = (h.free_port() for _ in range(4))
    conf = os.path.join(d, "obi.yaml")
    with open(conf, "w") as f:
        f.write(f"""discovery:
  instrument:
    - open_ports: {p1}
    - open_ports: {p2},{p3},{p5}
      exe_path: "*/obitestpya{tag}"
  exclude_instrument:
    - exe_path: "*/obitestpyx{tag}"
""")
    body = b"discovery\n"
    files = {"x.txt": body}
    a1 = h.start_http_server(p2, files, name="A1-copyA-P2", python=copy_a)
    b1 = h.start_http_server(p3, files, name="B1-plain-P3")

    obi = h.Obi({"OTEL_EBPF_CONFIG_PATH": conf})
    m = obi.wait_instrumented(a1.pid)
    h.check("reason=instrument[1]" in m.string, f"A1's line: reason=instrument[1] expected in "
                                                 f"{m.string!r}")
    # B1 holds P3: stop it, and let A2 take P3 after obi started
    b1.kill()
    a2 = h.start_http_server(p3, files, name="A2-copyA-P3-after", python=copy_a)
    m = obi.wait_instrumented(a2.pid)
    h.check("reason=instrument[1]" in m.string and f"ports={p3}" in m.string,
            f"A2's line: reason=instrument[1] and ports={p3} expected in {m.string!r}")
    p = h.start_http_server(p1, files, name="P-plain-P1-after")
    m = obi.wait_instrumented(p.pid)
    h.check("reason=listen" in m.string, f"P's line: reason=listen expected in {m.string!r}")
    p.kill()
    x = h.start_http_server(p1, files, name="X-copyX-P1-after", python=copy_x)
    obi.wait_stderr(rf"excluded process pid={x.pid} .*reason=exclude_instrument\[0\]", 10,
                    f"'excluded process pid={x.pid}' line")
    b2 = h.start_http_server(p5, files, name="B2-plain-P5-after")

    since = time.time_ns()
    for proc, port in ((a1, p2), (a2, p3), (x, p1), (b2, p5)):
        r = h.curl(f"http://127.0.0.1:{port}/x.txt")
        h.check_eq((r["http_code"], r["body"]), (200, body), f"curl to {proc.name}")
    spans = obi.wait_spans(2, what="spans of A1 and A2")
    h.check_eq(sorted(s["process.pid"] for s in spans), sorted([a1.pid, a2.pid]),
               "pids of the spans (none from B1, X, B2)")
    for s in spans:
        h.expect_span(s, f"span of pid {s['process.pid']}",
                      {"kind": "SERVER", "url.path": "/x.txt", "http.response.status_code": 200,
                       "http.response.body.size": len(body)}, since)
    h.check_eq(sorted(set(obi.instrumented_pids())), sorted([a1.pid, a2.pid, p.pid]),
               "instrumented pids (P was, before it exited)")
    h.check(b1.pid not in obi.instrumented_pids() and b2.pid not in obi.instrumented_pids(),
            "B1 and B2 must not be instrumented")


h.run(main)
