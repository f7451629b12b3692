#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""obi's benchmark suite (issue 5, "Benchmark suite"). Run it with `sudo bench/run.sh [--quick]`,
which builds obi and the paced load generator first. Scenarios:

  1 saturated overhead   nginx + wrk: no obi / obi / obi+OTLP / proxy with traceparent injection
  2 fixed rate           5,000 req/s from bench/pace.c: added p50/p99 latency
  3 cost per request     BPF run_time_ns per request (kernel.bpf_stats_enabled=1), obi CPU per span
  4 memory               obi VmRSS idle and under load, bytes_memlock of obi's BPF maps
  5 loss                 10,000 req/s for 30 s: spans == requests; past saturation: counted drops
  6 versus an SDK        Node.js bare / OpenTelemetry JS SDK / bare under obi
  7 start-up             exec -> "obi ready" -> first span
  8 database             pgbench select-only against a private postgresql-15: tps, BPF ns/query
  9 export protocols     obi's OTLP path alone (build/exportbench): CPU per span for
                         http/protobuf, http/json and grpc into the sink

Variants of a scenario run interleaved over several rounds (the order rotates each round) and
the tables report medians, because absolute numbers drift on shared 2-core machines. Every
process started here is stopped at the end, also on failure or Ctrl-C; kernel.bpf_stats_enabled
is restored. Python standard library only.
"""
import argparse
import datetime
import json
import re
import os
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time

from bench_harness import (HERE, Nginx, NodeServer, OBI, OBI_FLOOR, Obi, PACE, PG_BIN, Postgres, ROOT,
                           Sink, cleanup, fmt, free_port, http_get, log, machine_cpu_s,
                           make_work_dir, maps_of, median, met, pace, pgbench, prog_snapshot,
                           restore_bpf_stats, rotate, set_bpf_stats, spawn, stop, table, wrk)


# --- the scenarios --------------------------------------------------------------------------

class Suite:
    def __init__(self, args):
        self.quick = args.quick
        self.q = lambda full, quick: quick if self.quick else full
        self.sink = Sink()
        self.export_ok, self.export_note = self.check_export()
        self.floor_ok = os.access(OBI_FLOOR, os.X_OK)
        self.raw = {}
        self.md = []

    def check_export(self):
        """OTLP export works if obi pointed at the sink delivers the spans of a few requests."""
        port = free_port()
        before = self.sink.stats()["spans"]
        obi = Obi([port], endpoint=self.sink.endpoint, tag="preflight").start()
        ng = Nginx("preflight", port).start()
        for _ in range(10):
            http_get(port)
        ng.stop()
        res = obi.stop()
        got = self.sink.stats()["spans"] - before
        ignored = "ignored" in obi.stderr() and "OTEL_EXPORTER_OTLP_ENDPOINT" in obi.stderr()
        if got >= 10 and not ignored:
            return True, "OTLP/HTTP export to the local sink works (%d spans of %d requests " \
                         "arrived in the preflight)" % (got, 11)
        return False, "OTLP export not available in this build (the sink received %d spans; " \
                      "obi summary %s)" % (got, res.get("summary"))

    def obi_export_kw(self):
        return {"endpoint": self.sink.endpoint} if self.export_ok else {}

    def emit(self, title, text):
        self.md.append("## %s\n\n%s\n" % (title, text))

    # 1 -----------------------------------------------------------------------------------
    def s1(self):
        rounds, dur = self.q(6, 1), self.q(10, 3)
        variants = ["nginx", "nginx+obi", "nginx+obi+otlp", "nginx+obi floor", "proxy",
                    "proxy+obi inject", "proxy+obi no-inject", "proxy+obi floor"]
        if not self.export_ok:
            variants.remove("nginx+obi+otlp")
        if not self.floor_ok:
            variants = [v for v in variants if "floor" not in v]
        runs = {v: [] for v in variants}
        log("scenario 1: saturated, %d rounds x %d variants x %d s" % (rounds, len(variants), dur))
        for r in range(rounds):
            for v in rotate(variants, r):
                runs[v].append(self.s1_trial(v, dur))
                log("  round %d %-20s %8.0f req/s p50 %.0f us p99 %.0f us" % (
                    r + 1, v, runs[v][-1]["rps"], runs[v][-1]["p50_us"], runs[v][-1]["p99_us"]))
        self.raw["s1"] = runs
        med = {v: {k: median([x.get(k) for x in runs[v]])
                   for k in ("rps", "p50_us", "p99_us", "cpu_us_per_span", "spans_per_request",
                             "obi_cpu_share", "sink_cpu_share")} for v in variants}
        base = {v: "proxy" if v.startswith("proxy") else "nginx" for v in variants}
        rows = []
        for v in variants:
            b = med[base[v]]
            ratio = med[v]["rps"] / b["rps"]
            med[v]["ratio"] = ratio
            rows.append([v, fmt(med[v]["rps"], 0), fmt(ratio, 3), fmt(med[v]["p50_us"], 0),
                         fmt(med[v]["p99_us"], 0), fmt(med[v]["spans_per_request"], 2),
                         fmt(med[v]["cpu_us_per_span"], 2), fmt(med[v]["obi_cpu_share"], 1, "%"),
                         fmt(med[v]["sink_cpu_share"], 1, "%") if "otlp" in v else "",
                         " ".join(fmt(x["rps"], 0) for x in runs[v])])
        inj = [x.get("traceparent_at_backend") for x in runs["proxy+obi inject"]]
        noinj = [x.get("traceparent_at_backend") for x in runs["proxy+obi no-inject"]]
        goals = [["req/s ratio, obi (printer disabled) / no obi", "≥ 0.90",
                  fmt(med["nginx+obi"]["ratio"], 3), met(med["nginx+obi"]["ratio"] >= 0.90)]]
        if self.export_ok:
            goals.append(["req/s ratio, obi + OTLP export / no obi", "≥ 0.90",
                          fmt(med["nginx+obi+otlp"]["ratio"], 3),
                          met(med["nginx+obi+otlp"]["ratio"] >= 0.90)])
        else:
            goals.append(["req/s ratio, obi + OTLP export / no obi", "≥ 0.90",
                          "not available: " + self.export_note, "n/a"])
        goals.append(["req/s ratio, proxy with obi injecting traceparent / proxy without obi",
                      "≥ 0.90", fmt(med["proxy+obi inject"]["ratio"], 3),
                      met(med["proxy+obi inject"]["ratio"] >= 0.90)])
        for v in ("nginx+obi floor", "proxy+obi floor"):
            if v in med:
                goals.append(["req/s ratio, the floor of obi's hooks (%s) / no obi" % v,
                              "reported", fmt(med[v]["ratio"], 3), ""])
        self.summary_rows += [["1 saturated: " + g[0], g[1], g[2], g[3]] for g in goals]
        self.s1_med = med
        text = table(["goal", "target", "result", "met?"], goals) + "\n\n"
        text += table(["variant", "req/s (median)", "ratio", "p50 µs", "p99 µs", "spans/req",
                       "obi CPU µs/span", "obi CPU % of a core", "sink CPU % of a core",
                       "req/s per round"], rows)
        text += ("\n\nwrk -t1 -c20 -d%ds --latency, %d rounds, variant order rotated each round; "
                 "nginx 1 worker, keep-alive, `return 200` with a 17-byte body; obi and nginx are "
                 "restarted for every run (obi first, then nginx, so every connection is "
                 "opened under obi). *nginx+obi*: printer disabled, no export. *nginx+obi+otlp*: "
                 "OTLP/HTTP export to a local sink (`bench/sink.c`, printer disabled). *proxy*: a second "
                 "nginx (1 worker) in front of the first, `proxy_pass` with 32 keep-alive "
                 "upstream connections; with obi both nginx are selected (3 spans per request: "
                 "proxy server, proxy client, origin server), printer disabled, no export; "
                 "*inject* = `OTEL_EBPF_BPF_CONTEXT_PROPAGATION=headers` (the proxy's upstream "
                 "connections are in obi's SOCKHASH and every proxied request gets a "
                 "`traceparent` from `sk_msg`), *no-inject* = `disabled`, which isolates the cost "
                 "of injection. *floor*: obi built with `-DOBI_BENCH_FLOOR=ON`, the same "
                 "hooks (and for the proxy the same SOCKHASH programs) with programs that "
                 "return right after the pid filter: what any tracer on these hooks costs "
                 "at least. Injection checked after each run by a request to the origin's "
                 "`/tp` (echoes the received traceparent) through the proxy: inject runs "
                 "received one %s, no-inject runs %s. The ratio is against the median of the "
                 "same setup without obi. obi CPU = utime+stime from /proc/PID/stat during the "
                 "measured wrk run, per span.") % (
            dur, rounds, "in %d of %d runs" % (sum(1 for x in inj if x), len(inj)),
            "in %d of %d runs" % (sum(1 for x in noinj if x), len(noinj)))
        self.emit("1. Saturated overhead (nginx + wrk)", text)

    def setup(self, v, tag):
        """Starts the variant v: obi first (if any), then nginx (origin, or origin + proxy).
        Returns (port to load, obi or None, [nginx...], the front nginx last)."""
        proxy = v.startswith("proxy")
        port = free_port()
        bport = free_port() if proxy else None
        obi = None
        if "obi" in v:
            kw = self.obi_export_kw() if "otlp" in v else {}
            ports = [port, bport] if proxy else [port]
            obi = Obi(ports, propagation="disabled" if "no-inject" in v else "headers",
                      tag=tag, exe=OBI_FLOOR if "floor" in v else None, **kw).start()
        servers = []
        try:
            if proxy:
                servers.append(Nginx("origin", bport).start())
                servers.append(Nginx("proxy", port, backend=bport).start())
            else:
                servers.append(Nginx("origin", port).start())
        except Exception:
            for s in servers:
                s.stop()
            if obi:
                obi.stop()
            raise
        return port, obi, servers

    def s1_trial(self, v, dur):
        proxy = v.startswith("proxy")
        port, obi, servers = self.setup(v, "s1")
        try:
            warm = wrk(port, 1)
            c0, k0 = (obi.cpu_s() if obi else 0), self.sink.cpu_s()
            res = wrk(port, dur)
            c1, k1 = (obi.cpu_s() if obi else 0), self.sink.cpu_s()
            res["sink_cpu_share"] = (k1 - k0) / dur * 100
            if proxy:
                _, body = http_get(port, "/tp")
                tp = body.decode().strip().split("=", 1)[1]
                res["traceparent_at_backend"] = tp or None
            sent = servers[-1].requests()
        finally:
            for s in reversed(servers):
                s.stop()
        if obi:
            o = obi.stop()
            res["sink_spans_total"] = self.sink.stats()["spans"]  # counts (and frees) the bodies
            spans = o.get("summary", {}).get("spans")
            if "floor" in v:
                spans = None  # the floor makes none
            res["obi"] = o
            res["propagation"] = obi.propagation_line()
            if spans:
                res["spans_per_request"] = spans / sent
                res["cpu_us_per_span"] = (c1 - c0) * 1e6 / (res["requests"] *
                                                          res["spans_per_request"])
            res["obi_cpu_share"] = (c1 - c0) / dur * 100
        res["warm_rps"] = warm["rps"]
        return res

    # 2 -----------------------------------------------------------------------------------
    def s2(self):
        rounds, dur, warm, rate = self.q(5, 1), self.q(6, 3), self.q(2, 1), 5000
        variants = (["nginx", "nginx+obi"] + (["nginx+obi+otlp"] if self.export_ok else []) +
                    ["proxy", "proxy+obi inject", "proxy+obi no-inject"])
        runs = {v: [] for v in variants}
        log("scenario 2: %d req/s, %d rounds x %d variants x %d s" % (rate, rounds,
                                                                     len(variants), dur))
        for r in range(rounds):
            for v in rotate(variants, r):
                port, obi, servers = self.setup(v, "s2")
                try:
                    pace(port, rate, warm)  # warm-up
                    w0 = sum(s.cpu_ns() for s in servers)
                    m0, o0 = machine_cpu_s(), (obi.cpu_ns() if obi else 0)
                    res = pace(port, rate, dur)
                    w1 = sum(s.cpu_ns() for s in servers)
                    m1, o1 = machine_cpu_s(), (obi.cpu_ns() if obi else 0)
                    n = res["requests"]
                    res["nginx_us_per_req"] = (w1 - w0) / 1e3 / n
                    res["obi_us_per_req"] = (o1 - o0) / 1e3 / n
                    res["machine_us_per_req"] = (m1 - m0) * 1e6 / n
                finally:
                    for s in reversed(servers):
                        s.stop()
                    if obi:
                        res["obi"] = obi.stop()
                self.sink.stats()
                runs[v].append(res)
                log("  round %d %-16s %7.0f req/s service p50 %.1f us p99 %.1f us, send lag "
                    "p50 %.1f us" % (r + 1, v, res["achieved_rate"], res["service"]["p50_us"],
                                     res["service"]["p99_us"], res["send_lag"]["p50_us"]))
        self.raw["s2"] = runs
        med = {v: {"rate": median([x["achieved_rate"] for x in runs[v]]),
                   "p50": median([x["service"]["p50_us"] for x in runs[v]]),
                   "p99": median([x["service"]["p99_us"] for x in runs[v]]),
                   "ip50": median([x["intended"]["p50_us"] for x in runs[v]]),
                   "ip99": median([x["intended"]["p99_us"] for x in runs[v]]),
                   "lag50": median([x["send_lag"]["p50_us"] for x in runs[v]]),
                   "lag99": median([x["send_lag"]["p99_us"] for x in runs[v]]),
                   "backlog": max(x["max_backlog"] for x in runs[v])} for v in variants}
        for v in variants:
            for k in ("nginx_us_per_req", "obi_us_per_req", "machine_us_per_req"):
                med[v][k] = median([x[k] for x in runs[v]])
        rows = []
        for v in variants:
            m = med[v]
            b = med["proxy" if v.startswith("proxy") else "nginx"]
            rows.append([v, fmt(m["rate"], 0), fmt(m["p50"], 1), fmt(m["p99"], 1),
                         fmt(m["p50"] - b["p50"], 1), fmt(m["p99"] - b["p99"], 1),
                         fmt(m["nginx_us_per_req"], 2),
                         fmt(m["nginx_us_per_req"] - b["nginx_us_per_req"], 2),
                         fmt(m["obi_us_per_req"], 2) if "obi" in v else "",
                         fmt(m["ip50"], 1), fmt(m["ip99"], 1), fmt(m["lag50"], 1),
                         fmt(m["lag99"], 1), m["backlog"],
                         " ".join(fmt(x["service"]["p50_us"], 1) for x in runs[v])])
        goals = []
        for v in variants:
            if "obi" not in v or "no-inject" in v:
                continue
            b = med["proxy" if v.startswith("proxy") else "nginx"]
            add = med[v]["p50"] - b["p50"]
            goals.append(["added p50 latency at 5,000 req/s, %s" % v, "≤ 10 µs",
                          "%+.1f µs (p99 %+.1f µs)" % (add, med[v]["p99"] - b["p99"]),
                          met(add <= 10)])
        self.summary_rows += [["2 fixed rate: " + g[0], g[1], g[2], g[3]] for g in goals]
        text = table(["goal", "target", "result", "met?"], goals) + "\n\n"
        text += table(["variant", "achieved req/s", "p50 µs", "p99 µs", "added p50 µs",
                       "added p99 µs", "nginx CPU µs/req", "added nginx CPU µs/req",
                       "obi CPU µs/req", "p50 from due µs", "p99 from due µs", "send lag p50 µs",
                       "send lag p99 µs", "max backlog", "p50 per round"], rows)
        text += ("\n\n`bench/pace` (C, epoll, open loop): %d req/s over 32 keep-alive "
                 "connections for %d s after a %d s warm-up, %d rounds interleaved, nginx as in "
                 "scenario 1. Latency = response complete − request written (service time); "
                 "*from due* also counts the wait when the generator was late (no coordinated "
                 "omission). The generator's own accuracy: the achieved rate, and the send lag "
                 "(written − due; it wakes with epoll_pwait2 and 1 ns timer slack, so the lag is "
                 "scheduling delay on the shared cores). Added = variant median − no-obi "
                 "median (proxy variants: against the proxy without obi). nginx CPU = the nginx workers' and "
                 "masters' run time (/proc/PID/task/*/schedstat) per request: without bpf_stats "
                 "on, its growth under obi is the cost of obi's BPF programs (and of any kernel "
                 "path they change, such as the SOCKHASH) in the traced process itself. The proxy "
                 "variants are those of scenario 1.") % (rate, dur, warm, rounds)
        self.emit("2. Fixed rate (5,000 req/s)", text)

    # 3 + 4 -------------------------------------------------------------------------------
    def s3(self):
        rounds, dur, rate = self.q(3, 1), self.q(10, 3), 5000
        variants = ["nginx+obi" + ("+otlp" if self.export_ok else ""), "proxy+obi inject"]
        if self.floor_ok:
            variants += ["nginx+obi floor", "proxy+obi floor"]
        runs = {v: [] for v in variants}
        log("scenario 3/4: BPF cost and memory, %d req/s, %d rounds x %d s" % (rate, rounds, dur))
        set_bpf_stats(True)
        try:
            for r in range(rounds):
                for v in rotate(variants, r):
                    runs[v].append(self.s3_trial(v, rate, dur))
                    x = runs[v][-1]
                    log("  round %d %-18s BPF %.0f ns/request, obi CPU %.2f us/span, RSS %d KiB"
                        % (r + 1, v, x["bpf_ns_per_request"], x["cpu_us_per_span"],
                           x["rss_load_kib"]))
        finally:
            restore_bpf_stats()
        self.raw["s3"] = runs
        main_v = variants[0]
        rows, goals = [], []
        for v in variants:
            xs = runs[v]
            rows.append([v, fmt(median([x["rate"] for x in xs]), 0),
                         fmt(median([x["spans_per_request"] for x in xs]), 2),
                         fmt(median([x["bpf_ns_per_request"] for x in xs]), 0),
                         fmt(median([x["bpf_ns_per_span"] for x in xs]), 0),
                         fmt(median([x["cpu_us_per_span"] for x in xs]), 2),
                         fmt(median([x["cpu_sched_us_per_span"] for x in xs]), 2),
                         fmt(median([x["cpu_idle_pct"] for x in xs]), 2, "%")])
        bpf_req = median([x["bpf_ns_per_request"] for x in runs[main_v]])
        cpu_span = median([x["cpu_us_per_span"] for x in runs[main_v]])
        goals.append(["BPF run time per HTTP request (%s)" % main_v, "≤ 1 µs",
                      "%.2f µs" % (bpf_req / 1000), met(bpf_req <= 1000)])
        if self.export_ok:
            goals.append(["obi user+system CPU per span, OTLP export on, printer off",
                          "≤ 3 µs", "%.2f µs" % cpu_span, met(cpu_span <= 3)])
        else:
            goals.append(["obi user+system CPU per span, OTLP export on, printer off",
                          "≤ 3 µs", "export not available; printer off, no export: %.2f µs"
                          % cpu_span, "n/a"])
        for v, floor in ((main_v, "nginx+obi floor"), ("proxy+obi inject", "proxy+obi floor")):
            if floor not in runs:
                continue
            f = median([x["bpf_ns_per_request"] for x in runs[floor]])
            o = median([x["bpf_ns_per_request"] for x in runs[v]])
            goals.append(["BPF run time per request, %s ÷ the floor of its hooks (%.0f ns)"
                          % (v, f), "≤ 1.3", fmt(o / f, 2) if f else "—",
                          met(f and o / f <= 1.3)])
        self.summary_rows += [["3 cost: " + g[0], g[1], g[2], g[3]] for g in goals]
        text = table(["goal", "target", "result", "met?"], goals) + "\n\n"
        text += table(["setup", "req/s", "spans/req", "BPF ns/request", "BPF ns/span",
                       "obi CPU µs/span (stat)", "obi CPU µs/span (schedstat)",
                       "obi CPU idle (% of a core)"], rows)
        for v in variants:
            names = sorted({k for x in runs[v] for k in x["thread_us_per_span"]})
            text += ("\n\nobi CPU by thread, %s (schedstat, median): %s." % (v, "; ".join(
                "%s %.2f µs per span under load, %.2f%% of a core idle" % (
                    k, median([x["thread_us_per_span"].get(k, 0) for x in runs[v]]),
                    median([x["thread_idle_pct"].get(k, 0) for x in runs[v]]))
                for k in names)))
        for v in variants:
            text += "\n\nPer program, %s (median over rounds):\n\n" % v
            text += self.prog_table(runs[v])
        text += ("\n\n`kernel.bpf_stats_enabled=1` during these runs only (restored after). obi's "
                 "programs are the ones behind its own file descriptors (`/proc/PID/fdinfo`: "
                 "prog and link fds), their `run_time_ns`/`run_cnt` from `bpftool prog show`, "
                 "differenced over a %d s run of `bench/pace` at %d req/s (after a 1 s warm-up); "
                 "requests = the generator's count. The per-request figure includes every "
                 "program obi attached, also the ones that ran for other processes on the "
                 "machine during the window (the pid filter runs first in each of them), and the "
                 "~20-40 ns that bpf_stats itself adds per run. obi CPU = utime+stime of all "
                 "threads from /proc/PID/stat (10 ms ticks), and the sum of the threads' "
                 "/proc/PID/task/*/schedstat (ns), over the same window, divided by the spans in "
                 "it (requests × spans per request from the summary). *proxy+obi inject*: the "
                 "setup of scenario 1, 3 spans per request, traceparent injected into every "
                 "proxied request, printer disabled, no export. CPU idle = obi's CPU in 2 s "
                 "before the load, as a share of a core. *floor*: as in scenario 1, the same "
                 "hooks with programs that return after the pid filter (no spans: its "
                 "per-span figures use the spans per request of the real setup).") % (dur, rate)
        self.emit("3. Cost per request", text)
        self.s4_text(runs[main_v])

    def prog_table(self, xs):
        names = {}
        for x in xs:
            for name, p in x["progs"].items():
                names.setdefault(name, []).append(p)
        rows = []
        total = median([x["bpf_ns_per_request"] for x in xs]) or 1
        for name, ps in sorted(names.items(), key=lambda kv: -median([p["ns_per_req"]
                                                                      for p in kv[1]])):
            nsr = median([p["ns_per_req"] for p in ps])
            rows.append(["`%s`" % name, ps[0]["type"], fmt(median([p["runs_per_req"] for p in ps]), 2),
                         fmt(median([p["ns_per_run"] for p in ps]), 0), fmt(nsr, 1),
                         fmt(100 * nsr / total, 1, "%"), fmt(ps[0].get("verified_insns"))])
        total_vi = sum(ps[0].get("verified_insns") or 0 for ps in names.values())
        return table(["program", "type", "runs/request", "ns/run", "ns/request", "share",
                      "verified insns at load"], rows) + (
            "\n\nThe verifier processed %d instructions in all to load these programs "
            "(`verified_insns` in fdinfo), which is most of obi's start-up time without the "
            "self-test (scenario 7)." % total_vi if total_vi else "")

    def s3_trial(self, v, rate, dur):
        proxy = v.startswith("proxy")
        port = free_port()
        bport = free_port() if proxy else None
        kw = self.obi_export_kw() if "otlp" in v else {}
        obi = Obi([port, bport] if proxy else [port], tag="s3",
                  exe=OBI_FLOOR if "floor" in v else None, **kw).start()
        servers = []
        if proxy:
            servers.append(Nginx("origin", bport).start())
        servers.append(Nginx("proxy" if proxy else "origin", port,
                             backend=bport if proxy else None).start())
        try:
            i0c, i0n, it0 = obi.cpu_s(), obi.cpu_ns(), obi.thread_cpu_ns()
            time.sleep(2)
            i1c, i1n, it1 = obi.cpu_s(), obi.cpu_ns(), obi.thread_cpu_ns()
            rss_idle = obi.rss_kib()
            mem_idle = obi.memory()
            maps = maps_of(obi)
            pace(port, rate, 1)  # warm-up
            progs, _ = obi.bpf_ids()
            s0, c0, n0 = prog_snapshot(progs), obi.cpu_s(), obi.cpu_ns()
            t0 = obi.thread_cpu_ns()
            obi.rss_max_kib = 0
            res = pace(port, rate, dur)
            s1, c1, n1 = prog_snapshot(progs), obi.cpu_s(), obi.cpu_ns()
            t1 = obi.thread_cpu_ns()
            rss_load = max(obi.rss_max_kib, obi.rss_kib())
            mem_load = obi.memory()
            hwm = obi.status("VmHWM")
            total_req = servers[-1].requests()
        finally:
            for s in reversed(servers):
                s.stop()
        o = obi.stop()
        self.sink.stats()  # counts (and frees) the bodies held by the sink
        reqs = res["requests"]
        # the floor makes no spans: its per-span figures use the real setup's
        spr = (3 if proxy else 1) if "floor" in v else o["summary"]["spans"] / total_req
        out = {"rate": res["achieved_rate"], "requests": reqs, "spans_per_request": spr,
               "rss_idle_kib": rss_idle, "rss_load_kib": rss_load, "vmhwm_kib": hwm,
               "maps": [{k: m.get(k) for k in ("id", "name", "type", "max_entries",
                                               "bytes_memlock")} for m in maps],
               "cpu_idle_pct": (i1c - i0c) / 2 * 100,
               "cpu_us_per_span": (c1 - c0) * 1e6 / (reqs * spr),
               "cpu_sched_us_per_span": (n1 - n0) / 1e3 / (reqs * spr),
               "cpu_sched_idle_pct": (i1n - i0n) / 2e9 * 100, "obi": o, "progs": {},
               "mem_idle": mem_idle, "mem_load": mem_load}
        out["thread_idle_pct"] = {k: (it1[k] - it0.get(k, 0)) / 2e9 * 100 for k in it1}
        out["thread_us_per_span"] = {k: (t1[k] - t0.get(k, 0)) / 1e3 / (reqs * spr) for k in t1}
        total_ns = 0
        for pid, p in s1.items():
            q = s0.get(pid, {})
            dns = p.get("run_time_ns", 0) - q.get("run_time_ns", 0)
            dcnt = p.get("run_cnt", 0) - q.get("run_cnt", 0)
            total_ns += dns
            name = p.get("name", str(pid))
            out["progs"][name] = {"type": p.get("type"), "ns": dns, "runs": dcnt,
                                  "verified_insns": obi.verified.get(pid),
                                  "ns_per_req": dns / reqs, "runs_per_req": dcnt / reqs,
                                  "ns_per_run": dns / dcnt if dcnt else 0}
        out["bpf_ns_per_request"] = total_ns / reqs
        out["bpf_ns_per_span"] = total_ns / (reqs * spr)
        return out

    def s4_text(self, xs):
        idle = median([x["rss_idle_kib"] for x in xs]) / 1024
        load = median([x["rss_load_kib"] for x in xs]) / 1024
        hwm = max(x["vmhwm_kib"] for x in xs) / 1024
        maps = xs[0]["maps"]
        total = sum(m["bytes_memlock"] or 0 for m in maps) / 2**20
        s5 = getattr(self, "s5_rss_kib", None)
        s1 = [x["obi"]["rss_max_kib"] for v, runs in self.raw.get("s1", {}).items()
              if "obi" in v for x in runs]
        peak = max([load] + ([s5 / 1024] if s5 else []) + [k / 1024 for k in s1])
        priv_idle = median([x["mem_idle"].get("Private", 0) for x in xs]) / 1024
        priv_load = median([x["mem_load"].get("Private", 0) for x in xs]) / 1024
        # the goal is on private memory: pages only obi has (shared libraries' pages are every
        # user's); RSS beside it
        goals = [["obi private memory idle (RSS %.1f MiB)" % idle, "≤ 20 MiB",
                  "%.1f MiB" % priv_idle, met(priv_idle <= 20)],
                 ["obi private memory under load, 5,000 req/s (RSS %.1f MiB; RSS peak over every "
                  "loaded run of the suite %.1f MiB, VmHWM %.1f MiB)" % (load, peak, hwm),
                  "≤ 20 MiB", "%.1f MiB" % priv_load, met(priv_load <= 20)],
                 ["BPF maps, sum of bytes_memlock", "≤ 32 MiB", "%.1f MiB" % total,
                  met(total <= 32)]]
        self.summary_rows += [["4 memory: " + g[0], g[1], g[2], g[3]] for g in goals]
        rows = [["`%s`" % m["name"], m["type"], m["max_entries"],
                 fmt((m["bytes_memlock"] or 0) / 1024, 0)]
                for m in sorted(maps, key=lambda m: -(m["bytes_memlock"] or 0))]
        text = table(["goal", "target", "result", "met?"], goals) + "\n\n"
        keys = [("VmRSS", "VmRSS (the goal's measure)"), ("RssAnon", "RssAnon (heap, stacks)"),
                ("RssFile", "RssFile (file and BPF mappings)"),
                ("bpf_map_mappings", "of which BPF map mappings (ring buffer, data pages "
                                     "mapped twice)"),
                ("shared_libs", "of which shared libraries (libc, libelf, libz, libyaml)"),
                ("Pss", "Pss (shared pages divided among their users)"),
                ("Private", "Private (Private_Clean + Private_Dirty: pages only obi maps)")]
        text += table(["obi memory, KiB (median)", "idle", "under load (5,000 req/s)"],
                      [[label, fmt(median([x["mem_idle"].get(k) for x in xs]), 0),
                        fmt(median([x["mem_load"].get(k) for x in xs]), 0)] for k, label in keys])
        text += "\n\n"
        text += table(["map", "type", "max_entries", "bytes_memlock KiB"], rows)
        text += ("\n\nRSS = VmRSS of obi from /proc/PID/status: idle = after `obi ready` with "
                 "nginx started and 2 s without traffic, under load = highest of 5 samples/s "
                 "during the scenario 3 runs (export %s, printer off); the peak also covers "
                 "scenarios 1 and 5. Maps = every map referenced by obi's programs or held by "
                 "its file descriptors (`bpftool map show`), default sizes; memlock does not "
                 "change with load (the maps are preallocated or accounted at creation).") % (
            "on" if self.export_ok else "not available")
        self.emit("4. Memory", text)

    # 5 -----------------------------------------------------------------------------------
    def s5(self):
        rate, dur = 10000, self.q(30, 5)
        kw = self.obi_export_kw()
        rows, goals = [], []
        log("scenario 5: loss, %d req/s for %d s" % (rate, dur))
        port = free_port()
        obi = Obi([port], tag="s5", **kw).start()
        sink0 = self.sink.stats()["spans"]
        ng = Nginx("origin", port).start()
        try:
            n0 = ng.requests()
            res = pace(port, rate, dur, conns=64)
            n1 = ng.requests()
        finally:
            ng.stop()
        o = obi.stop()
        self.s5_rss_kib = o["rss_max_kib"]
        sink_spans = self.sink.stats()["spans"] - sink0
        served = n1 - n0 - 1
        expected = n1  # nginx started under obi: every request it ever served
        s = o.get("summary", {})
        ok = s.get("spans") == expected and (not self.export_ok or sink_spans == expected)
        rows.append(["%d req/s × %d s (achieved %.0f req/s, max backlog %d)" % (
            rate, dur, res["achieved_rate"], res["max_backlog"]), served, expected,
            s.get("spans"), s.get("lost_events"), s.get("unanswered"),
            o.get("otlp", {}).get("spans_exported", "n/a"),
            o.get("otlp", {}).get("spans_dropped", "n/a"),
            sink_spans if self.export_ok else "n/a", met(ok)])
        goals.append(["spans == requests at %d req/s for %d s" % (rate, dur), "zero loss",
                      "%s spans / %d requests (%s), achieved %.0f req/s" % (
                          s.get("spans"), expected,
                          ("sink received %d" % sink_spans) if self.export_ok else "no export",
                          res["achieved_rate"]), met(ok)])
        self.raw["s5"] = {"steady": {"pace": res, "obi": o, "served": served,
                                     "sink_spans": sink_spans}}

        # past saturation: wrk flat out; then obi frozen (SIGSTOP) for 3 s under wrk so that its
        # 4 MiB ring buffer overflows. Each lost record must show up as a counted drop.
        for label, freeze in (("wrk saturated, obi running", 0),
                              ("wrk saturated, obi frozen 3 s (SIGSTOP) mid-run", 3)):
            port = free_port()
            obi = Obi([port], tag="s5", **kw).start()
            sink0 = self.sink.stats()["spans"]
            ng = Nginx("origin", port).start()
            try:
                n0 = ng.requests()
                if freeze:
                    def freezer():
                        time.sleep(2)
                        obi.p.send_signal(signal.SIGSTOP)
                        time.sleep(freeze)
                        obi.p.send_signal(signal.SIGCONT)
                    t = threading.Thread(target=freezer)
                    t.start()
                w = wrk(port, self.q(10, 6))
                if freeze:
                    t.join()
                n1 = ng.requests()
            finally:
                ng.stop()
                if obi.p.poll() is None:
                    obi.p.send_signal(signal.SIGCONT)
            time.sleep(0.5)
            o = obi.stop()
            sink_spans = self.sink.stats()["spans"] - sink0
            served = n1 - n0 - 1
            expected = n1
            s = o.get("summary", {})
            ox = o.get("otlp", {})
            missing = expected - (s.get("spans") or 0)
            drops = (s.get("lost_events") or 0) + (ox.get("spans_dropped") or 0)
            silent = missing > 0 and drops == 0
            exp_ok = (not self.export_ok or sink_spans + (ox.get("spans_dropped") or 0)
                      + (ox.get("spans_failed") or 0) == s.get("spans"))
            rows.append([label + " (%.0f req/s)" % w["rps"], served, expected, s.get("spans"),
                         s.get("lost_events"), s.get("unanswered"),
                         ox.get("spans_exported", "n/a"), ox.get("spans_dropped", "n/a"),
                         sink_spans if self.export_ok else "n/a",
                         met(not silent and exp_ok)])
            goals.append(["no silent loss: %s" % label, "missing spans only with counted drops",
                          "%d of %d requests without a span; lost_events=%s, export "
                          "spans_dropped=%s" % (missing, expected, s.get("lost_events"),
                                                ox.get("spans_dropped", "n/a")),
                          met(not silent and exp_ok)])
            self.raw["s5"][label] = {"wrk": w, "obi": o, "served": served,
                                     "sink_spans": sink_spans}
            log("  %s: %d requests, %s spans, lost_events %s" % (label, expected, s.get("spans"),
                                                                 s.get("lost_events")))
        self.summary_rows += [["5 loss: " + g[0], g[1], g[2], g[3]] for g in goals]
        text = table(["goal", "target", "result", "met?"], goals) + "\n\n"
        text += table(["run", "requests served (nginx)", "requests incl. checks", "spans (obi)",
                       "lost_events (kernel)", "unanswered", "exported", "export dropped",
                       "sink received", "accounted?"], rows)
        text += ("\n\nobi with %s, printer disabled. Requests served = nginx's stub_status "
                 "counter difference (the 3 extra are the readiness check and the two "
                 "stub_status reads, which obi also sees). spans = the `summary:` line at exit; "
                 "exported/dropped = obi's `otlp summary:`; sink received = spans counted by the "
                 "sink. `lost_events` counts ring-buffer records (not spans) that did not fit: a "
                 "lost record loses at most one span each, and its request may show up as "
                 "unanswered. Accounted = no request without a span unless drops were counted, "
                 "and every span obi made is either received by the sink or counted as dropped/"
                 "failed by the exporter.") % (
            "OTLP export to the sink" if self.export_ok else "no export (not available)")
        self.emit("5. Loss", text)

    # 6 -----------------------------------------------------------------------------------
    def s6(self):
        rounds, dur = self.q(4, 1), self.q(10, 3)
        obi_label = "node under obi" + (" (OTLP export)" if self.export_ok
                                        else " (printer disabled, export not available)")
        variants = ["node bare", "node + OpenTelemetry JS SDK", obi_label]
        runs = {v: [] for v in variants}
        log("scenario 6: Node.js vs SDK, %d rounds x %d s" % (rounds, dur))
        for r in range(rounds):
            for v in rotate(variants, r):
                port = free_port()
                obi = None
                if "obi" in v:
                    obi = Obi([port], tag="s6", **self.obi_export_kw()).start()
                sink0 = self.sink.stats()["spans"]
                srv = NodeServer(port, sdk="SDK" in v, endpoint=self.sink.endpoint).start()
                try:
                    wrk(port, 2)  # warm-up (JIT)
                    res = wrk(port, dur)
                finally:
                    srv.stop()
                    if obi:
                        res["obi"] = obi.stop()
                time.sleep(0.3)
                res["sink_spans"] = self.sink.stats()["spans"] - sink0
                runs[v].append(res)
                log("  round %d %-30s %7.0f req/s p50 %.0f us p99 %.0f us, sink spans %d" % (
                    r + 1, v, res["rps"], res["p50_us"], res["p99_us"], res["sink_spans"]))
        self.raw["s6"] = runs
        med = {v: {k: median([x[k] for x in runs[v]]) for k in ("rps", "p50_us", "p99_us")}
               for v in variants}
        b = med["node bare"]
        rows = []
        for v in variants:
            med[v]["overhead"] = 1 - med[v]["rps"] / b["rps"]
            rows.append([v, fmt(med[v]["rps"], 0), fmt(100 * med[v]["overhead"], 1, "%"),
                         fmt(med[v]["p50_us"], 0), fmt(med[v]["p99_us"], 0),
                         fmt(median([x["sink_spans"] for x in runs[v]]), 0),
                         " ".join(fmt(x["rps"], 0) for x in runs[v])])
        sdk, ob = med[variants[1]]["overhead"], med[obi_label]["overhead"]
        ratio = ob / sdk if sdk > 0 else None
        goals = [["obi's overhead / SDK's overhead (throughput)", "≤ 0.25",
                  "%s (obi %.1f%%, SDK %.1f%%)" % (fmt(ratio, 3), 100 * ob, 100 * sdk),
                  met(ratio is not None and ratio <= 0.25)]]
        self.summary_rows += [["6 vs SDK: " + g[0], g[1], g[2], g[3]] for g in goals]
        text = table(["goal", "target", "result", "met?"], goals) + "\n\n"
        text += table(["variant", "req/s (median)", "overhead", "p50 µs", "p99 µs",
                       "spans at the sink per run", "req/s per round"], rows)
        text += ("\n\nNode.js %s `http.createServer`, keep-alive, fixed 16-byte body "
                 "(`bench/node/server.js`); wrk -t1 -c20 -d%ds after a 2 s warm-up, %d rounds "
                 "interleaved. SDK: `@opentelemetry/sdk-trace-node` + "
                 "`@opentelemetry/instrumentation-http` + `@opentelemetry/exporter-trace-otlp-"
                 "proto` with a BatchSpanProcessor at its defaults (`bench/node/otel.js`, "
                 "versions pinned in `bench/node/package-lock.json`), traces only, to the same "
                 "sink. Overhead = 1 − req/s ÷ bare req/s. The SDK's batch processor drops spans "
                 "when its queue is full, so it may export fewer spans than requests.") % (
            subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip(),
            dur, rounds)
        self.emit("6. Versus the OpenTelemetry JS SDK (Node.js)", text)

    # 7 -----------------------------------------------------------------------------------
    def s7(self):
        rounds = self.q(5, 2)
        variants = ["propagation on (self-test)", "propagation disabled"]
        runs = {v: [] for v in variants}
        log("scenario 7: start-up, %d rounds" % rounds)
        port = free_port()
        ng = Nginx("origin", port).start()
        try:
            for r in range(rounds):
                for v in rotate(variants, r):
                    runs[v].append(self.s7_trial(port, "disabled" if "disabled" in v else "headers"))
                    x = runs[v][-1]
                    log("  round %d %-28s ready %.0f ms, first span %.0f ms" % (
                        r + 1, v, x["ready_ms"], x["span_ms"]))
        finally:
            ng.stop()
        self.raw["s7"] = runs
        rows = []
        for v in variants:
            xs = runs[v]
            rows.append([v, fmt(median([x["ready_ms"] for x in xs]), 0),
                         fmt(median([x["span_ms"] for x in xs]), 0),
                         fmt(median([x["resp_to_span_ms"] for x in xs]), 1),
                         fmt(max(x["span_ms"] for x in xs), 0)])
        worst = max(x["span_ms"] for x in runs[variants[0]])
        med = median([x["span_ms"] for x in runs[variants[0]]])
        goals = [["exec of obi → first span of a request sent right after `obi ready` "
                  "(default settings, median / worst)", "≤ 1 s", "%.0f ms / %.0f ms" % (med, worst),
                  met(med <= 1000)]]
        self.summary_rows += [["7 start-up: " + g[0], g[1], g[2], g[3]] for g in goals]
        text = table(["goal", "target", "result", "met?"], goals) + "\n\n"
        text += table(["variant", "exec → obi ready ms", "exec → first span ms",
                       "response → span printed ms", "worst exec → span ms"], rows)
        text += ("\n\nnginx already running; obi started with the printer on JSON to a pipe, "
                 "selecting nginx's port; times taken by this script with CLOCK_MONOTONIC: "
                 "exec, the `obi ready` line on stderr, then one GET on a new connection, its "
                 "response, and the first span line on stdout (obi polls its ring buffer every "
                 "20 ms). *on* includes the traceparent injection self-test (1 MiB POSTs, 8 MiB "
                 "responses, 50 keep-alive exchanges); *disabled* skips it. %d rounds.") % rounds
        self.emit("7. Start-up", text)

    def s7_trial(self, port, propagation):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update(OTEL_EBPF_OPEN_PORT=str(port), OTEL_EBPF_TRACE_PRINTER="json",
                   OTEL_EBPF_BPF_CONTEXT_PROPAGATION=propagation)
        t0 = time.monotonic()
        p = spawn([OBI], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ, "out")
        sel.register(p.stderr, selectors.EVENT_READ, "err")
        bufs = {"out": b"", "err": b""}
        t_ready = t_resp = t_span = None
        errlog = b""
        try:
            while t_span is None:
                if time.monotonic() - t0 > 30:
                    raise RuntimeError("start-up: no span in 30 s:\n%s" % errlog.decode())
                for key, _ in sel.select(0.5):
                    data = os.read(key.fileobj.fileno(), 65536)
                    now = time.monotonic()
                    if not data:
                        sel.unregister(key.fileobj)
                        continue
                    bufs[key.data] += data
                    if key.data == "err":
                        errlog += data
                        if t_ready is None and b"obi ready" in bufs["err"]:
                            t_ready = now
                            http_get(port)
                            t_resp = time.monotonic()
                    elif t_ready is not None and b"\n" in bufs["out"]:
                        t_span = now
                if p.poll() is not None and t_span is None:
                    raise RuntimeError("obi exited during start-up:\n%s" % errlog.decode())
        finally:
            sel.close()
            stop(p, signal.SIGINT)
            p.stdout.close()
            p.stderr.close()
        return {"ready_ms": (t_ready - t0) * 1e3, "span_ms": (t_span - t0) * 1e3,
                "resp_to_span_ms": (t_span - t_resp) * 1e3}

    # 8 -----------------------------------------------------------------------------------
    S8_VARIANTS = ["no obi", "obi: pgbench", "obi: pgbench + postgres",
                   "obi: pgbench, propagation disabled"]

    def s8(self):
        rounds, dur, scale = self.q(5, 1), self.q(10, 3), 10
        variants = self.S8_VARIANTS
        title = "8. Database (PostgreSQL, pgbench select-only)"
        if not os.access(os.path.join(PG_BIN, "postgres"), os.X_OK):
            note = "not run: %s/postgres missing (postgresql-15, scripts/install-deps.sh)" % PG_BIN
            self.summary_rows.append(["8 database: tps ratio, obi / no obi", "≥ 0.90", note,
                                      "n/a"])
            self.emit(title, note + ".")
            return
        runs = {v: [] for v in variants}
        log("scenario 8: database, postgresql + pgbench -S, %d rounds x %d variants x %d s" % (
            rounds, len(variants), dur))
        t0 = time.monotonic()
        pg = Postgres(free_port()).start()
        try:
            pg.pgbench_init(scale)
            t_setup = time.monotonic() - t0
            version = pg.version()
            pgbench(pg, self.q(3, 1))  # warm-up (caches, the table's pages), without obi
            set_bpf_stats(True)
            try:
                for r in range(rounds):
                    for v in rotate(variants, r):
                        runs[v].append(self.s8_trial(v, pg, dur))
                        x = runs[v][-1]
                        log("  round %d %-24s %7.0f tps%s" % (
                            r + 1, v, x["tps"], "" if "obi" not in x else
                            ", BPF %.0f ns/query, %s spans / %d queries, obi CPU %.2f us/span"
                            % (x["bpf_ns_per_query"], x["spans"], x["transactions"],
                               x["cpu_us_per_span"] or 0)))
            finally:
                restore_bpf_stats()
        finally:
            pg.stop()
        self.raw["s8"] = runs
        keys = ("tps", "latency_avg_ms", "machine_us_per_query", "bpf_ns_per_query",
                "bpf_ns_per_span", "spans_per_query", "cpu_us_per_span", "cpu_us_per_query")
        med = {v: {k: median([x.get(k) for x in runs[v]]) for k in keys} for v in variants}
        base = med["no obi"]["tps"]
        rows, goals = [], []
        for v in variants:
            m = med[v]
            m["ratio"] = m["tps"] / base if base else None
            obi = v != "no obi"
            last = runs[v][-1]
            rows.append([v, fmt(m["tps"], 0), fmt(m["ratio"], 3), fmt(m["latency_avg_ms"], 3),
                         fmt(m["machine_us_per_query"], 1),
                         fmt(m["bpf_ns_per_query"], 0) if obi else "",
                         fmt(m["bpf_ns_per_span"], 0) if obi else "",
                         ("%s / %d" % (last.get("spans"), last["transactions"])) if obi else "",
                         fmt(m["spans_per_query"], 3) if obi else "",
                         fmt(m["cpu_us_per_span"], 2) if obi else "",
                         last.get("processes", "") if obi else "",
                         " ".join(fmt(x["tps"], 0) for x in runs[v])])
        for v in variants[1:3]:
            goals.append(["tps ratio, %s / no obi" % v, "≥ 0.90", fmt(med[v]["ratio"], 3),
                          met(med[v]["ratio"] is not None and med[v]["ratio"] >= 0.90)])
        for v in variants[1:3]:
            goals.append(["BPF run time per query, %s" % v, "no goal yet: reported",
                          "%s ns (obi CPU %s µs per span, %s spans per query)" % (
                              fmt(med[v]["bpf_ns_per_query"], 0), fmt(med[v]["cpu_us_per_span"], 2),
                              fmt(med[v]["spans_per_query"], 3)), "n/a"])
        self.summary_rows += [["8 database: " + g[0], g[1], g[2], g[3]] for g in goals]
        text = table(["goal", "target", "result", "met?"], goals) + "\n\n"
        text += table(["variant", "tps (median)", "ratio", "latency avg ms", "machine CPU µs/query",
                       "BPF ns/query", "BPF ns/span", "spans / queries (last round)",
                       "spans/query", "obi CPU µs/span", "processes (last round)",
                       "tps per round"], rows)
        for v in variants[1:]:
            text += "\n\nPer program, %s (median over rounds):\n\n" % v
            text += self.prog_table([{"progs": x["progs"],
                                      "bpf_ns_per_request": x["bpf_ns_per_query"]}
                                     for x in runs[v]]).replace("/request", "/query")
        text += ("\n\n%s started by the suite: `initdb --auth=trust` into its temp dir, "
                 "`postgres -p <free port> -c listen_addresses=127.0.0.1 -c fsync=off` (defaults "
                 "otherwise), `pgbench -i -s %d` (1,000,000 rows in `pgbench_accounts`); set-up "
                 "%.0f s. Load: `pgbench -M prepared -S -c 4 -j 2 -T %d -n` on loopback (the "
                 "extended protocol with a named prepared statement; select-only, so every "
                 "transaction is one `SELECT abalance FROM pgbench_accounts WHERE aid = $1`), "
                 "after a %d s warm-up without obi; %d rounds, variant order rotated each round. "
                 "tps = pgbench's own `tps = ...`, excluding connection time; ratio against the "
                 "median without obi. obi is started before each pgbench run and stopped after "
                 "it, so every connection is opened under obi; the server stays up. *obi: "
                 "pgbench*: `OTEL_EBPF_AUTO_TARGET_EXE=*/pgbench`, printer disabled, no export: "
                 "one client span per query. *obi: pgbench + postgres*: also "
                 "`OTEL_EBPF_OPEN_PORT=<postgres port>`, which selects the postmaster and the "
                 "backends it forks for pgbench's connections: a client and a server span per "
                 "query. *propagation disabled*: the first with "
                 "`OTEL_EBPF_BPF_CONTEXT_PROPAGATION=disabled` (no goal: it isolates what the "
                 "default `headers` costs here, where there is no HTTP request to inject into: "
                 "pgbench's connections in obi's SOCKHASH, with its `sk_msg` and `sk_skb` "
                 "programs on every send and receive). `kernel.bpf_stats_enabled=1` in every variant of this scenario (restored "
                 "after), which adds ~20-40 ns per program run to the obi variants' tps as well. "
                 "queries = pgbench's transactions processed; BPF ns/query = Δ`run_time_ns` over "
                 "all of obi's programs during the pgbench run ÷ queries (the programs of scenario "
                 "3's table; runs for unselected processes included); spans = `spans=` of obi's "
                 "exit summary, which also counts pgbench's few set-up statements and one PREPARE "
                 "per connection; obi CPU = schedstat of obi's threads over the pgbench run ÷ "
                 "spans; machine CPU = busy time of all CPUs (/proc/stat) ÷ queries, client, "
                 "server, kernel and obi together. processes = obi's `instrumenting process` "
                 "log lines (pgbench; the postmaster and its backends). The tps goal is scenario 1's: "
                 "pgbench saturates both cores, so lost tps is obi's whole cost per query; BPF "
                 "and CPU per query have no goal yet.") % (
            version, scale, t_setup, dur, self.q(3, 1), rounds)
        self.emit(title, text)

    def s8_trial(self, v, pg, dur):
        obi = None
        if v != "no obi":
            obi = Obi([pg.port] if "postgres" in v else [], tag="s8",
                      propagation="disabled" if "disabled" in v else "headers",
                      env={"OTEL_EBPF_AUTO_TARGET_EXE": "*/pgbench"}).start()
        try:
            progs = obi.bpf_ids()[0] if obi else set()
            s0 = prog_snapshot(progs) if obi else {}
            c0, m0 = (obi.cpu_ns() if obi else 0), machine_cpu_s()
            res = pgbench(pg, dur)
            c1, m1 = (obi.cpu_ns() if obi else 0), machine_cpu_s()
            s1 = prog_snapshot(progs) if obi else {}
        finally:
            o = obi.stop() if obi else None
        q = res["transactions"]
        res["machine_us_per_query"] = (m1 - m0) * 1e6 / q
        if not obi:
            return res
        s = o.get("summary", {})
        res.update(obi=o, spans=s.get("spans"), progs={},
                   processes=obi.stderr().count("instrumenting process"))
        total_ns = 0
        for pid, p in s1.items():
            p0 = s0.get(pid, {})
            dns = p.get("run_time_ns", 0) - p0.get("run_time_ns", 0)
            dcnt = p.get("run_cnt", 0) - p0.get("run_cnt", 0)
            total_ns += dns
            res["progs"][p.get("name", str(pid))] = {
                "type": p.get("type"), "ns": dns, "runs": dcnt,
                "verified_insns": obi.verified.get(pid), "ns_per_req": dns / q,
                "runs_per_req": dcnt / q, "ns_per_run": dns / dcnt if dcnt else 0}
        res["bpf_ns_per_query"] = total_ns / q
        spans = res["spans"] or 0
        res["spans_per_query"] = spans / q
        res["bpf_ns_per_span"] = total_ns / spans if spans else None
        res["cpu_us_per_span"] = (c1 - c0) / 1e3 / spans if spans else None
        res["cpu_us_per_query"] = (c1 - c0) / 1e3 / q
        return res

    # 9 -----------------------------------------------------------------------------------
    def s9(self):
        """CPU per span of obi's OTLP path for each protocol: bench/exportbench.c feeds synthetic
        server spans at a fixed rate through the exporter into the sink, which counts them."""
        exe = os.environ.get("EXPORTBENCH_BIN", os.path.join(ROOT, "build", "exportbench"))
        if not os.access(exe, os.X_OK):
            self.emit("9. Export cost per protocol", "not run: %s missing (bench/run.sh builds "
                      "it)" % exe)
            return
        rounds, n, rate = self.q(5, 1), self.q(100000, 20000), 20000
        protos = ["http/protobuf", "http/json", "grpc"]
        runs = {p: [] for p in protos}
        log("scenario 9: export protocols, %d rounds x %d spans at %d/s" % (rounds, n, rate))
        for r in range(rounds):
            for proto in rotate(protos, r):
                x = self.s9_trial(exe, proto, n, rate)
                runs[proto].append(x)
                log("  round %d %-14s exporter %.3f us/span, total %.3f, sink %d of %d spans" % (
                    r + 1, proto, x["exporter_us"], x["total_us"], x["sink_spans"], n))
        self.raw["s9"] = runs
        rows = []
        for proto in protos:
            xs = runs[proto]
            rows.append([proto, fmt(median([x["caller_us"] for x in xs]), 3),
                         fmt(median([x["exporter_us"] for x in xs]), 3),
                         fmt(median([x["total_us"] for x in xs]), 3),
                         fmt(median([x["body_bytes"] / n for x in xs]), 0),
                         "%d / %d" % (min(x["sink_spans"] for x in xs), n),
                         str(max(x["failed"] for x in xs))])
        self.summary_rows += [
            ["9 export: obi CPU per span, %s (caller + exporter thread)" % proto, "reported",
             "%s µs" % fmt(median([x["total_us"] for x in runs[proto]]), 2), ""]
            for proto in protos]
        text = table(["protocol", "caller µs/span", "exporter thread µs/span", "total µs/span",
                      "bytes/span at the sink", "spans at the sink (worst round)",
                      "spans_failed (worst)"], rows)
        text += ("\n\n`exportbench -n %d -r %d`: synthetic HTTP server spans of 4 processes "
                 "through obi's exporter (queue, metrics, encoding, libcurl) into the sink, no "
                 "BPF and no traffic; CPU from getrusage (process) and the calling thread's "
                 "clock, so the sink's own CPU is not included. Default settings otherwise (no "
                 "compression, batches as obi makes them). %d rounds, protocol order rotated each "
                 "round, medians.") % (n, rate, rounds)
        self.emit("9. Export cost per protocol", text)

    def s9_trial(self, exe, proto, n, rate):
        before = self.sink.stats()
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update(OTEL_EXPORTER_OTLP_ENDPOINT=self.sink.endpoint,
                   OTEL_EXPORTER_OTLP_PROTOCOL=proto)
        p = subprocess.run([exe, "-n", str(n), "-r", str(rate)], env=env, capture_output=True,
                           text=True, timeout=600)
        if p.returncode:
            raise RuntimeError("exportbench %s failed: %s" % (proto, p.stderr[-500:]))
        after = self.sink.stats()
        num = lambda pat: float(re.search(pat, p.stdout).group(1))
        failed = re.search(r"spans_failed=(\d+)", p.stderr)
        return {"caller_us": num(r"on_span \(caller\):\s+([\d.]+)"),
                "exporter_us": num(r"exporter thread:\s+([\d.]+)"),
                "total_us": num(r"total:\s+([\d.]+)"),
                "sink_spans": after["spans"] - before["spans"],
                "body_bytes": after["bytes"] - before["bytes"],
                "bad_bodies": after["bad_bodies"] - before["bad_bodies"],
                "failed": int(failed.group(1)) if failed else -1}

    # -------------------------------------------------------------------------------------
    def run(self, which):
        self.summary_rows = []
        t0 = time.monotonic()
        steps = {"1": self.s1, "2": self.s2, "3": self.s3, "5": self.s5, "6": self.s6,
                 "7": self.s7, "8": self.s8, "9": self.s9}
        # 5 before 3/4 so that the memory peak covers the loss runs
        for k in ("1", "2", "5", "3", "6", "7", "8", "9"):
            if k in which or (k == "3" and "4" in which):
                steps[k]()
        self.elapsed = time.monotonic() - t0


def machine_info():
    def sh(*a):
        try:
            return subprocess.run(a, capture_output=True, text=True, cwd=ROOT).stdout.strip()
        except OSError:
            return "?"
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = sh("git", "rev-parse", "--short", "HEAD")
    dirty = " + uncommitted changes" if sh("git", "status", "--porcelain", "--", "agent",
                                           "ebpf", "otlp") else ""
    return {"kernel": os.uname().release, "cpus": os.cpu_count(), "cpu": model,
            "load": open("/proc/loadavg").read().split()[:3], "commit": commit + dirty,
            "nginx": sh("nginx", "-v") or subprocess.run(["nginx", "-v"], capture_output=True,
                                                         text=True).stderr.strip(),
            "wrk": sh("wrk", "--version").splitlines()[0] if sh("wrk", "--version") else "wrk"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1-2 short rounds (development)")
    ap.add_argument("--scenarios", default="123456789", help="which scenarios, e.g. 13")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: run as root (sudo bench/run.sh)")
    for tool in ("nginx", "wrk", "bpftool", "node"):
        if not shutil.which(tool):
            sys.exit("bench: %s not found" % tool)
    for path in (OBI, PACE):
        if not os.access(path, os.X_OK):
            sys.exit("bench: %s missing: run bench/run.sh (it builds)" % path)
    make_work_dir()

    def on_signal(sig, _):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    info = machine_info()
    started = datetime.datetime.now()
    try:
        suite = Suite(args)
        suite.run(args.scenarios)
    finally:
        cleanup()

    head = ["# obi benchmark results — %s%s" % (started.strftime("%Y-%m-%d %H:%M"),
                                               " (--quick)" if args.quick else ""), "",
            "Machine: %s CPUs (%s), kernel %s, load average at start %s. obi %s. %s; %s. "
            "Suite took %.0f s; load average at the end %s (other work on the machine shows "
            "up as noise). %s." % (info["cpus"], info["cpu"], info["kernel"],
                                   " ".join(info["load"]), info["commit"], info["nginx"],
                                   info["wrk"], suite.elapsed,
                                   " ".join(open("/proc/loadavg").read().split()[:3]),
                                   suite.export_note), "",
            "## Summary", "",
            table(["scenario: goal", "target", "result", "met?"],
                  sorted(suite.summary_rows, key=lambda r: r[0][0])), ""]
    md = "\n".join(head) + "\n" + "\n".join(suite.md)
    os.makedirs(args.out, exist_ok=True)
    name = started.strftime("%Y-%m-%d") + ("-quick" if args.quick else "")
    if sorted(set(args.scenarios)) != sorted("123456789"):
        name += "-s" + "".join(sorted(set(args.scenarios)))  # a partial run keeps the full one
    with open(os.path.join(args.out, name + ".md"), "w") as f:
        f.write(md)
    with open(os.path.join(args.out, name + ".json"), "w") as f:
        json.dump({"info": info, "quick": args.quick, "raw": suite.raw,
                   "summary": suite.summary_rows}, f, indent=1, default=str)
    print(md)
    log("written %s.md and %s.json in %s" % (name, name, args.out))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        cleanup()
        sys.exit(130)
