#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A/B of obi binaries by BPF run time per request, on bench/cost/hotloop (one keep-alive
connection, requests back to back). Rounds alternate the binaries (order rotating); every run
starts obi afresh selecting the hot loop's port, with kernel.bpf_stats_enabled=1.

    sudo bench/cost/ab.py BIN_A[,BIN_B...] [ROUNDS] [REQUESTS] [GAP_US [proxy]]

GAP_US: the hot loop's client sleeps that long after each response (cold caches, as at a
fixed rate; 200 is 5,000 req/s minus the request's own time). proxy: the selected server
forwards every request to an unselected origin over a connection of its own (sk_msg runs).

Prints ns per request of every run, then per binary the median and the per-program medians.
Uses bench/bench_harness.py's helpers (obi start/stop, program discovery, clean-up)."""
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import bench_harness as bench  # noqa: E402

HOTLOOP = os.path.join(bench.ROOT, "build", "bench", "hotloop")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    bins = sys.argv[1].split(",")
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 100000
    gap = sys.argv[4:6]
    if not os.access(HOTLOOP, os.X_OK):
        sys.exit("ab: %s missing: run bench/cost/build.sh" % HOTLOOP)
    bench.WORK = tempfile.mkdtemp(prefix="obi-ab-")
    total = {b: [] for b in bins}
    per = {b: {} for b in bins}
    try:
        bench.set_bpf_stats(True)
        for r in range(rounds):
            for b in bench.rotate(bins, r):
                bench.OBI = b
                port = bench.free_port()
                obi = bench.Obi([port], tag="ab").start()
                progs, _ = obi.bpf_ids()
                s0 = bench.prog_snapshot(progs)
                subprocess.run([HOTLOOP, str(port), str(n)] + gap, check=True, timeout=600)
                s1 = bench.prog_snapshot(progs)
                spans = obi.stop().get("summary", {}).get("spans")
                ns = 0
                for pid, p in s1.items():
                    d = p.get("run_time_ns", 0) - s0.get(pid, {}).get("run_time_ns", 0)
                    ns += d
                    per[b].setdefault(p.get("name", str(pid)), []).append(d / n)
                total[b].append(ns / n)
                print("%s round %d: %.0f ns/request, %s spans for %d requests"
                      % (b, r, ns / n, spans, n), flush=True)
    finally:
        bench.cleanup()
    for b in bins:
        print("%s: median %.0f ns/request (runs: %s)"
              % (b, statistics.median(total[b]), " ".join("%.0f" % x for x in total[b])))
        for name, xs in sorted(per[b].items(), key=lambda kv: -statistics.median(kv[1])):
            if statistics.median(xs) >= 1:
                print("    %-28s %6.0f" % (name, statistics.median(xs)))


if __name__ == "__main__":
    main()
