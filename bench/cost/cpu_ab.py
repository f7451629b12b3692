#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A/B of obi binaries by their own CPU per span (user space: events -> spans -> OTLP) and by
the BPF run time per request, as the suite's scenario 3 measures them, but with the binaries
alternating in one run (kernel.bpf_stats_enabled=1 during it, restored after).

    sudo bench/cost/cpu_ab.py BIN_A[,BIN_B...] [ROUNDS] [nginx|proxy] [RATE]

Each run: a fresh OTLP sink (bench/sink), obi (printer disabled, OTLP export to the sink),
nginx (or nginx as a reverse proxy in front of a second one, 3 spans per request), then
bench/pace at RATE req/s (default 5000) for 8 s after a 1 s warm-up. CPU = the sum of obi's
threads' run time (/proc/PID/task/*/schedstat) over the 8 s, per span the sink received.
BPF = run_time_ns of obi's programs over the same 8 s per request pace completed. Unlike
ab.py's hot loop, many requests are in flight at once (32 connections), as in the suite.
Prints every run (main thread and exporter thread separately), then per binary the medians."""
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
BUILD = os.path.join(os.path.dirname(HERE), "..", "build", "bench")
os.environ.setdefault("SINK_BIN", os.path.join(BUILD, "sink"))
os.environ.setdefault("PACE_BIN", os.path.join(BUILD, "pace"))
import bench_harness as bench  # noqa: E402


def run(binary, mode, rate):
    bench.OBI = binary
    sink = bench.Sink()
    origin = bench.Nginx("origin", bench.free_port())
    front = bench.Nginx("proxy", bench.free_port(), backend=origin.port) if mode == "proxy" \
        else origin
    ports = [origin.port] + ([front.port] if front is not origin else [])
    obi = bench.Obi(ports, endpoint=sink.endpoint, tag="cpu_ab")
    try:
        obi.start()
        origin.start()
        if front is not origin:
            front.start()
        bench.pace(front.port, rate, 1)
        progs, _ = obi.bpf_ids()
        s0, t0, b0 = sink.stats()["spans"], obi.thread_cpu_ns(), bench.prog_snapshot(progs)
        res = bench.pace(front.port, rate, 8)
        t1, b1 = obi.thread_cpu_ns(), bench.prog_snapshot(progs)
        # the exporter sends a batch at most every OTEL_BSP_SCHEDULE_DELAY: let it drain
        for _ in range(50):
            spans = sink.stats()["spans"] - s0
            if spans >= 8 * rate * (3 if mode == "proxy" else 1):
                break
            time.sleep(0.1)
    finally:
        for n in {id(front): front, id(origin): origin}.values():
            if n.p:
                n.stop()
        obi.stop()
        sink.p.kill()
    bpf_ns = sum(p.get("run_time_ns", 0) - b0.get(i, {}).get("run_time_ns", 0)
                 for i, p in b1.items())
    cpu = {k: (t1[k] - t0.get(k, 0)) / 1e3 / spans for k in t1}
    return cpu, bpf_ns / res["requests"]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    bins = [os.path.abspath(b) for b in sys.argv[1].split(",")]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    mode = sys.argv[3] if len(sys.argv) > 3 else "nginx"
    rate = int(sys.argv[4]) if len(sys.argv) > 4 else 5000
    bench.WORK = tempfile.mkdtemp(prefix="obi-cpu-ab-")
    res = {b: [] for b in bins}
    bpf = {b: [] for b in bins}
    try:
        bench.set_bpf_stats(True)
        for r in range(rounds):
            for b in bench.rotate(bins, r):
                x, ns = run(b, mode, rate)
                res[b].append(x)
                bpf[b].append(ns)
                print("round %d %s: %.3f us/span (%s), BPF %.0f ns/request" % (
                    r + 1, b, sum(x.values()),
                    ", ".join("%s %.3f" % (k, v) for k, v in sorted(x.items())), ns),
                    flush=True)
    finally:
        bench.restore_bpf_stats()
        bench.cleanup()
    for b in bins:
        tot = [sum(x.values()) for x in res[b]]
        parts = {k: statistics.median(x.get(k, 0) for x in res[b]) for k in res[b][0]}
        print("%s: median %.3f us/span (runs %s; %s); BPF median %.0f ns/request (runs %s)" % (
            b, statistics.median(tot), " ".join("%.3f" % t for t in tot),
            ", ".join("%s %.3f" % (k, v) for k, v in sorted(parts.items())),
            statistics.median(bpf[b]), " ".join("%.0f" % n for n in bpf[b])))


if __name__ == "__main__":
    main()
