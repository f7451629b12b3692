#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""PID namespaces. (1) servers/backend.py as pid 1 of a new PID namespace
(`unshare --pid --fork --mount-proc`), selected by OTEL_EBPF_TARGET_PID_NAMESPACE=
/proc/<its host pid>/ns/pid: its span carries the host pid (what obi's /proc shows), not the
namespace-local 1 that the server itself reports (/pid); a backend in the host namespace is not
selected; a second backend started later inside that namespace (`nsenter --target ... --pid
--mount`) is selected at fork and its span carries its host pid too. (2) Sidecar: obi itself
runs inside a new PID namespace together with a backend (`unshare ... sh -c 'backend & exec
obi'`), selected by OTEL_EBPF_OPEN_PORT: the span and the 'instrumenting process' line carry
the pid as that namespace shows it (the small number the backend reports), not the host pid."""
import os
import re
import time

import obi_harness as h

BACKEND = os.path.join(h.SERVERS, "backend.py")


def ns_inode(pid):
    return os.stat(f"/proc/{pid}/ns/pid").st_ino


def only_child(pid, what, timeout=10.0):
    """The single child of `pid` (e.g. the process unshare/nsenter forked into the namespace)."""
    deadline = time.monotonic() + timeout
    while True:
        kids = h.children_of(pid)
        if len(kids) == 1:
            return kids[0]
        if time.monotonic() > deadline:
            h.fail(f"{what}: expected one child of pid {pid}, found {kids}")
        time.sleep(0.02)


def get_pid(port):
    """GET /pid from the backend; returns (pid it reports, curl's client port)."""
    r = h.curl(f"http://127.0.0.1:{port}/pid")
    h.check_eq(r["http_code"], 200, f"curl GET /pid on port {port}")
    return int(r["body"]), r["local_port"], len(r["body"])


def target_namespace_part():
    ns_port, ns2_port, host_port = h.free_port(), h.free_port(), h.free_port()
    ns_srv = h.Proc(["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", h.PYTHON,
                     "-u", BACKEND, "--port", str(ns_port)], name="ns-backend")
    ns_local = int(ns_srv.wait_output(r"^READY port=\d+ pid=(\d+)").group(1))
    h.wait_listening(ns_port, ns_srv)
    ns_host_pid = only_child(ns_srv.pid, "unshare")
    h.check(ns_inode(ns_host_pid) != ns_inode(os.getpid()),
            f"pid {ns_host_pid} should be in a new PID namespace")
    h.check_eq(ns_local, 1, "pid of the namespaced backend as it sees itself")
    host_srv = h.start_backend(host_port, name="host-backend")
    svc = h.exe_basename(ns_host_pid)

    obi = h.Obi({"OTEL_EBPF_TARGET_PID_NAMESPACE": f"/proc/{ns_host_pid}/ns/pid"})
    try:
        namespaced_requests(obi, ns_srv, ns_host_pid, ns2_port, host_srv, host_port, ns_port, svc)
    except h.TestFailure:
        obi.stop(expect_code=None)   # its exit summary (events=...) goes into the report
        raise


def namespaced_requests(obi, ns_srv, ns_host_pid, ns2_port, host_srv, host_port, ns_port,
                        svc):
    since = time.time_ns()
    m = obi.wait_instrumented(ns_host_pid)
    h.check("reason=pid-namespace" in m.string,
            f"instrumenting line: reason=pid-namespace expected in {m.string!r}")
    obi.expect_instrumented([ns_host_pid], only=True)

    seen, cport1, size1 = get_pid(ns_port)
    h.check_eq(seen, 1, "pid reported by the namespaced backend")
    [s1] = obi.wait_spans(1, what="spans after the GET to the namespaced backend")
    seen_host, _, _ = get_pid(host_port)
    h.check_eq(seen_host, host_srv.pid, "pid reported by the host backend")

    # a second process in the namespace, started after obi: selected at fork
    ns2 = h.Proc(["nsenter", "--target", str(ns_host_pid), "--pid", "--mount", h.PYTHON, "-u",
                  BACKEND, "--port", str(ns2_port)], name="nsenter-backend")
    ns2_local = int(ns2.wait_output(r"^READY port=\d+ pid=(\d+)").group(1))
    h.wait_listening(ns2_port, ns2)
    ns2_host_pid = only_child(ns2.pid, "nsenter")
    h.check_eq(ns_inode(ns2_host_pid), ns_inode(ns_host_pid),
               f"PID namespace of the nsenter child {ns2_host_pid}")
    m = obi.wait_instrumented(ns2_host_pid)
    h.check("reason=pid-namespace" in m.string,
            f"instrumenting line of the nsenter child: reason=pid-namespace expected in "
            f"{m.string!r}")
    seen2, cport2, size2 = get_pid(ns2_port)
    h.check_eq(seen2, ns2_local, "pid reported by the second namespaced backend")
    h.check(seen2 != ns2_host_pid, f"the second backend should see a namespace-local pid, "
                                   f"got its host pid {seen2}")
    s2 = obi.wait_spans(2, what="spans after the GET to the second namespaced backend")[1]

    p = h.Problems()
    common = {"kind": "SERVER", "http.request.method": "GET", "url.path": "/pid",
              "http.response.status_code": 200, "service.name": svc,
              "telemetry.sdk.language": "python"}
    h.expect_span(s1, "namespaced backend (pid 1 inside)", {
        **common, "http.response.body.size": size1, "network.local.port": ns_port,
        "network.peer.port": cport1, "process.pid": ns_host_pid}, since, p)
    h.expect_span(s2, "second namespaced backend (nsenter)", {
        **common, "http.response.body.size": size2, "network.local.port": ns2_port,
        "network.peer.port": cport2, "process.pid": ns2_host_pid}, since, p)
    p.raise_if_any(f"spans of the namespaced backends (host pids {ns_host_pid}, "
                   f"{ns2_host_pid}; namespace pids 1, {ns2_local})")
    obi.expect_instrumented([ns_host_pid, ns2_host_pid], only=True)
    obi.stop(expect_total=2)


def sidecar_part():
    port = h.free_port()
    log = os.path.join(h.tmpdir("obi-it-log-"), "sidecar-backend.log")
    script = (f'"{h.PYTHON}" -u "{BACKEND}" --port {port} >"{log}" 2>&1 & '
              'exec "$0" "$@"')
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(port)}, name="obi-sidecar",
                wrapper=["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script])
    obi_host_pid = only_child(obi.pid, "unshare (sidecar)")
    obi.term_pid = obi_host_pid
    h.check(os.readlink(f"/proc/{obi_host_pid}/exe") == os.path.realpath(h.OBI_BIN),
            f"pid {obi_host_pid} should be obi")

    deadline = time.monotonic() + 10
    while True:
        try:
            with open(log) as f:
                m = re.search(r"^READY port=\d+ pid=(\d+)", f.read(), re.M)
        except OSError:
            m = None
        if m:
            break
        h.check(time.monotonic() < deadline, f"the sidecar backend did not print READY; "
                                             f"obi stderr:\n{obi.stderr()}")
        time.sleep(0.02)
    ns_pid = int(m.group(1))
    h.wait_listening(port)
    backend_host_pid = [c for c in h.children_of(obi_host_pid)]
    h.check_eq(len(backend_host_pid), 1, f"children of the sidecar obi {obi_host_pid}")
    backend_host_pid = backend_host_pid[0]
    h.check(ns_pid != backend_host_pid and ns_pid < 10,
            f"the sidecar backend should see a small namespace pid, got {ns_pid} (host pid "
            f"{backend_host_pid})")

    m = obi.wait_instrumented(ns_pid)
    h.check(re.search(r"\bcmd=python", m.string),
            f"instrumenting line for pid {ns_pid} should be the backend: {m.string!r}")
    obi.expect_instrumented([ns_pid], only=True)
    since = time.time_ns()
    seen, cport, size = get_pid(port)
    h.check_eq(seen, ns_pid, "pid reported by the sidecar backend")
    [s] = obi.wait_spans(1, what="spans in the sidecar namespace")
    h.expect_span(s, "sidecar backend", {
        "kind": "SERVER", "http.request.method": "GET", "url.path": "/pid",
        "http.response.status_code": 200, "http.response.body.size": size,
        "network.local.port": port, "network.peer.port": cport, "process.pid": ns_pid,
        "telemetry.sdk.language": "python"}, since - 10**9)
    obi.stop(expect_total=1)


def main():
    # both parts run even when the first fails, so one run reports both
    failures = []
    for part in (target_namespace_part, sidecar_part):
        try:
            part()
        except h.TestFailure as e:
            failures.append(f"{part.__name__}: {e}")
    if failures:
        h.fail("\n".join(failures))


h.run(main)
