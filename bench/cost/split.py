#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Where a saturated server's lost throughput goes: the kernel side of obi (its BPF programs,
the hooks they ride on, sk_msg) against its user space (events -> spans -> export).

    sudo bench/cost/split.py [ROUNDS] [nginx|proxy] [VARIANTS]

The servers of the suite's scenario 1 (nginx, or nginx as a reverse proxy in front of a
second one), wrk flat out for 8 s, variants interleaved (order rotating) over ROUNDS rounds:

  bare         no obi
  obi          obi selecting the servers (printer disabled, no export; injection on)
  obi-stopped  the same obi stopped (SIGSTOP) after a 1 s warm-up: every BPF program still
               runs in full, but no user-space work is done (the ring buffer fills, then each
               event's output fails and is counted), so obi takes no CPU time of its own
  obi-export   obi exporting OTLP to bench/sink
  obi-noinject obi with OTEL_EBPF_BPF_CONTEXT_PROPAGATION=disabled (no sockmap, no sk_msg)

bare - obi-stopped is what the kernel side costs the servers; obi-stopped - obi what obi's
own threads cost them. Prints every run and the medians (req/s and ratio to bare).

PIN=W,P,O (environment) pins wrk to CPU W, the proxy nginx (master and worker) to CPU P and
the origin nginx to CPU O (nginx mode: W,O); obi is never pinned. Three single-threaded busy
processes on two CPUs: where the scheduler puts them moves throughput more than obi does.
Needs build/obi, build/bench/sink (bench/run.sh builds it), nginx, wrk."""
import os
import signal
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
os.environ.setdefault("SINK_BIN", os.path.join(os.path.dirname(HERE), "..", "build", "bench",
                                               "sink"))
import bench_harness as bench  # noqa: E402

ALL = ["bare", "obi", "obi-stopped", "obi-export", "obi-noinject"]


def pin(nginx, cpu):
    """nginx's master and workers on one CPU."""
    pid = nginx.p.pid
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        pids = [pid] + [int(x) for x in f.read().split()]
    for p in pids:
        subprocess.run(["taskset", "-pc", str(cpu), str(p)], check=True, capture_output=True)


def wrk(port, dur, cpus):
    """req/s of wrk as the suite runs it, on CPU cpus[0] if pinned."""
    return bench.wrk(port, dur, prefix=["taskset", "-c", str(cpus[0])] if cpus else ())["rps"]


def trial(v, mode, dur, cpus):
    sink = bench.Sink() if v == "obi-export" else None
    origin = bench.Nginx("origin", bench.free_port())
    front = bench.Nginx("proxy", bench.free_port(), backend=origin.port) if mode == "proxy" \
        else origin
    obi = None
    try:
        ports = [origin.port] + ([front.port] if front is not origin else [])
        if v != "bare":
            obi = bench.Obi(ports, endpoint=sink.endpoint if sink else None,
                            propagation="disabled" if v == "obi-noinject" else "headers")
            obi.start()
        origin.start()
        if front is not origin:
            front.start()
        if cpus:
            pin(origin, cpus[-1])
            if front is not origin:
                pin(front, cpus[1])
        wrk(front.port, 1, cpus)
        if v == "obi-stopped":
            os.kill(obi.p.pid, signal.SIGSTOP)
        rps = wrk(front.port, dur, cpus)
        if v == "obi-stopped":
            os.kill(obi.p.pid, signal.SIGCONT)
        return rps
    finally:
        if obi:
            obi.stop()
        for n in {id(front): front, id(origin): origin}.values():
            if n.p:
                n.stop()
        if sink:
            sink.p.kill()


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    mode = sys.argv[2] if len(sys.argv) > 2 else "proxy"
    variants = sys.argv[3].split(",") if len(sys.argv) > 3 else ALL
    if mode not in ("nginx", "proxy") or not set(variants) <= set(ALL) or "bare" not in variants:
        sys.exit(__doc__)
    cpus = [int(c) for c in os.environ["PIN"].split(",")] if os.environ.get("PIN") else None
    if cpus and len(cpus) != (3 if mode == "proxy" else 2):
        sys.exit(__doc__)
    bench.WORK = tempfile.mkdtemp(prefix="obi-split-")
    res = {v: [] for v in variants}
    try:
        for r in range(rounds):
            for v in bench.rotate(variants, r):
                res[v].append(trial(v, mode, 8, cpus))
                print("round %d %-13s %8.0f req/s" % (r + 1, v, res[v][-1]), flush=True)
    finally:
        bench.cleanup()
    base = statistics.median(res["bare"])
    for v in variants:
        m = statistics.median(res[v])
        print("%-13s median %8.0f req/s  ratio %.3f  runs %s" %
              (v, m, m / base, " ".join("%.0f" % x for x in res[v])))


if __name__ == "__main__":
    main()
