#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Two threads of a selected server that share a thread_slots slot, each handling a request
while the other's is open, each making a client call inside it.

obi keeps each thread's current server span in its slot of the direct-mapped thread_slots
table (8,192 slots, by thread id), or in the thread_ctx hash map when another thread holds that
slot. The server starts worker A, then creates and ends threads until one gets a thread id
equal to A's modulo 8,192: worker B. Both read their request, wait for each other, then call
an unselected backend, then answer with the headers the backend received. Checks: 2 SERVER and 2 CLIENT spans;
each client call is a child of the server span of its own thread (same trace, parent = that
span) and carried that client span's traceparent; B's span went to thread_ctx (one entry more
than before)."""
import json
import socket
import time

import obi_harness as h

SLOTS = 8192

SERVER = r"""
import queue, socket, sys, threading
port, backend, slots = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
both_read = threading.Barrier(2)

def worker(q):
    conn = q.get()
    path = conn.recv(65536).split(b" ")[1]
    both_read.wait()
    c = socket.create_connection(("127.0.0.1", backend))
    c.sendall(b"GET /headers HTTP/1.1\r\nHost: backend\r\nConnection: close\r\n\r\n")
    got = b""
    while chunk := c.recv(65536):
        got += chunk
    c.close()
    # the thread's id, then the headers the backend received
    body = str(threading.get_native_id()).encode() + b"\n" + got.partition(b"\r\n\r\n")[2]
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                 % len(body) + body)
    conn.close()
    threading.Event().wait(30)    # stay alive: obi forgets a thread's span when it exits

def start(q, want):
    # a thread that becomes the worker if its tid is `want` modulo slots (any tid if None)
    got = queue.Queue()
    def run():
        tid = threading.get_native_id()
        ok = want is None or (tid % slots == want and tid != a_tid)
        got.put((ok, tid))
        if ok:
            worker(q)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    ok, tid = got.get()
    if not ok:
        t.join()
    return ok, tid

qa, qb = queue.Queue(), queue.Queue()
a_tid = None
_, a_tid = start(qa, None)
for tries in range(400000):
    ok, b_tid = start(qb, a_tid % slots)
    if ok:
        break
else:
    print("NO_TWIN", flush=True)
    sys.exit(1)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(8)
print("READY a=%d b=%d tries=%d" % (a_tid, b_tid, tries + 1), flush=True)
for q in (qa, qb):
    conn, _ = ls.accept()
    q.put(conn)
threading.Event().wait(30)
"""


def main():
    port, backend_port = h.free_port(), h.free_port()
    backend = h.start_backend(backend_port, name="unselected-backend")
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(port)})
    server = h.Proc([h.PYTHON, "-c", SERVER, str(port), str(backend_port), str(SLOTS)],
                    name="twin-threads")
    m = server.wait_output(r"^READY a=(\d+) b=(\d+) tries=(\d+)", timeout=60)
    a_tid, b_tid = int(m.group(1)), int(m.group(2))
    print(f"worker A tid {a_tid}, worker B tid {b_tid} ({m.group(3)} threads tried)", flush=True)
    h.check_eq(a_tid % SLOTS, b_tid % SLOTS, "the workers' slot")
    obi.wait_instrumented(server.pid)
    maps = h.bpf_maps_of(obi.pid)
    before = h.bpf_map_entries(maps["thread_ctx"])
    since = time.time_ns()

    socks = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(2)]
    for s, path in zip(socks, ("/a", "/b")):
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: twins\r\n\r\n".encode())
    answers = []
    for s in socks:
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        s.close()
        answers.append(data)
    bodies = [a.partition(b"\r\n\r\n")[2].decode() for a in answers]
    tids = [int(b.partition("\n")[0]) for b in bodies]
    h.check_eq(tids, [a_tid, b_tid], "threads that answered /a and /b")
    sent_tp = {tid: h.header_values(json.loads(b.partition("\n")[2]), "traceparent")
               for tid, b in zip(tids, bodies)}
    overflow = h.bpf_map_entries(maps["thread_ctx"]) - before

    spans = obi.wait_spans(4, timeout=15, what="2 SERVER and 2 CLIENT spans")
    by = {(s.get("kind"), s.get("url.path")): s for s in spans}
    p = h.Problems()
    by.update({("CLIENT", s.get("thread.id")): s for s in spans if s.get("kind") == "CLIENT"})
    p.eq("spans by kind and path", sorted((s.get("kind"), s.get("url.path")) for s in spans),
         [("CLIENT", "/headers"), ("CLIENT", "/headers"), ("SERVER", "/a"), ("SERVER", "/b")])
    for name, tid in (("a", a_tid), ("b", b_tid)):
        srv, cli = by.get(("SERVER", f"/{name}")), by.get(("CLIENT", tid))
        if not srv or not cli:
            continue
        h.expect_span(srv, f"SERVER /{name}", {"process.pid": server.pid, "thread.id": tid,
                                               "http.response.status_code": 200,
                                               "parent_span_id": h.NO_PARENT}, since, p)
        h.expect_span(cli, f"CLIENT /down/{name}", {
            "process.pid": server.pid, "thread.id": tid, "server.port": backend_port,
            "trace_id": srv.get("trace_id"), "parent_span_id": srv.get("span_id")}, since, p)
        p.eq(f"traceparent the backend got from thread {name}", sent_tp[tid],
             [f"00-{cli.get('trace_id')}-{cli.get('span_id')}-01"])
    p.eq("thread_ctx entries added (worker B, whose slot A holds)", overflow, 1)
    p.raise_if_any("two threads sharing a slot")
    obi.stop(expect_total=4)


h.run(main)
