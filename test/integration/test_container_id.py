#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""container.id, from the process's cgroup as container runtimes name it: a python backend
moved into a cgroup named like Docker's (/docker/<64 hex digits>, in the pids hierarchy or the
unified one) gets that id as "container.id" in the JSON printer's span and in its OTLP
resource; a backend outside it gets none."""
import os

import harness_otlp as ho
import obi_harness as h

CID = "c0ffee00" * 8


def cgroup_dir():
    """A writable cgroup hierarchy where a process can be moved, or None."""
    for root in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if os.path.exists(os.path.join(root, "cgroup.procs")):
            return root
    return None


def main():
    root = cgroup_dir()
    if not root:
        raise h.Skip("no cgroup hierarchy with cgroup.procs")
    d = os.path.join(root, "docker", CID)
    os.makedirs(d, exist_ok=True)
    inside, outside = h.free_port(), h.free_port()
    a = h.start_backend(inside)
    b = h.start_backend(outside)
    try:
        with open(os.path.join(d, "cgroup.procs"), "w") as f:
            f.write(str(a.pid))
        with open(f"/proc/{a.pid}/cgroup") as f:
            h.check(CID in f.read(), f"the backend did not move into {d}")
        recv = ho.OtlpReceiver()
        obi = h.Obi({"OTEL_EBPF_OPEN_PORT": f"{inside},{outside}",
                     "OTEL_EXPORTER_OTLP_ENDPOINT": recv.endpoint,
                     "OTEL_BSP_SCHEDULE_DELAY": "200"})
        obi.expect_instrumented([a.pid, b.pid])
        h.curl(f"http://127.0.0.1:{inside}/r/1")
        h.curl(f"http://127.0.0.1:{outside}/r/2")
        spans = obi.wait_spans(2, what="a span of each backend")
        by_pid = {s["process.pid"]: s for s in spans}
        h.check_eq(by_pid[a.pid].get("container.id"), CID, "printed container.id (inside)")
        h.check_eq(by_pid[b.pid].get("container.id"), None, "printed container.id (outside)")
        recv.wait_for(lambda r: len(r.spans()) >= 2, 15, "both spans at the receiver")
        res = {x["resource"].get("process.pid"): x["resource"] for x in recv.spans()}
        h.check_eq(res[a.pid].get("container.id"), CID, "OTLP resource container.id (inside)")
        h.check_eq(res[b.pid].get("container.id"), None, "OTLP resource container.id (outside)")
        obi.stop(expect_total=2)
    finally:
        # back to the hierarchy's root, so the test's cgroup can go
        try:
            with open(os.path.join(root, "cgroup.procs"), "w") as f:
                f.write(str(a.pid))
        except OSError:
            pass
        a.kill()
        b.kill()
        for p in (d, os.path.dirname(d)):
            try:
                os.rmdir(p)
            except OSError:
                pass


h.run(main)
