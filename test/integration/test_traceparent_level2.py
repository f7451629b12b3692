#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""W3C Trace Context level 2 on the receiving side. The python backend is selected with
OTEL_EBPF_OPEN_PORT; every case is one curl (its own connection) with its header lines as
written (curl keeps the blanks around a value), and its SERVER span is found by curl's port.

traceparent: blanks (spaces, tabs) before and after the value are allowed (up to 16 a side, the
kernel's bound); version cc is read by its first 55 characters when the 56th is absent or '-';
version 00 with anything after the flags, cc followed by '.', ff, uppercase and all-zero ids are
invalid: a new trace, no parent, counted in `summary:` bad_traceparent.

tracestate (with a valid traceparent): the span's "trace_state" is its headers combined by
commas, blanks around members and empty members dropped; 32 members are kept, 33 drop it; over
512 bytes the last members go; an invalid member (uppercase key, no '=', '=' in the value) or a
repeated key drops the whole tracestate while the traceparent is kept; with an invalid traceparent
there is none (a new trace)."""
import json
import time

import obi_harness as h


def tid(i):
    return f"{i:02x}c7651916cd43dd8448eb211c8031{i:02x}"


def par(i):
    return f"c7ad6b71692033{i:02x}"


def tp(i, version="00", tail=""):
    return f"{version}-{tid(i)}-{par(i)}-01{tail}"


def members(n, start=1):
    return ",".join(f"bar{i:02d}=v{i:02d}" for i in range(start, start + n))


LONG16 = ",".join(f"k{i:02d}=" + f"{i:030d}" for i in range(16))  # 16 x 34 + 15 = 559 bytes
LONG14 = ",".join(f"k{i:02d}=" + f"{i:030d}" for i in range(14))  # 489 bytes

# (label, header lines, trace context to continue (trace, parent) or None, trace_state or None)
CASES = [
    ("blanks before", [f"traceparent:  \t {tp(1)}"], (tid(1), par(1)), None),
    ("blanks after", [f"traceparent: {tp(2)} \t "], (tid(2), par(2)), None),
    ("16 blanks each side", [f"traceparent:{' ' * 16}{tp(3)}{chr(9) * 16}"], (tid(3), par(3)),
     None),
    ("version cc", [f"traceparent: {tp(4, 'cc')}"], (tid(4), par(4)), None),
    ("version cc, more fields", [f"traceparent: {tp(5, 'cc', '-what-the-future-will-be-like')}"],
     (tid(5), par(5)), None),
    ("version cc then '.'", [f"traceparent: {tp(6, 'cc', '.what-the-future-will-be-like')}"],
     None, None),
    ("version 00 then '-'", [f"traceparent: {tp(7, '00', '-what-the-future-will-be-like')}"],
     None, None),
    ("version ff", [f"traceparent: {tp(8, 'ff')}"], None, None),
    ("version CC (uppercase)", [f"traceparent: {tp(9, 'CC')}"], None, None),
    ("blank inside the value", [f"traceparent: 00-{tid(10)}-{par(10)} -01"], None, None),
    ("17 blanks before", [f"traceparent:{' ' * 17}{tp(11)}"], None, None),
    ("cc, all-zero trace id", [f"traceparent: cc-{'0' * 32}-{par(12)}-01"], None, None),
    ("cc, uppercase parent", [f"traceparent: cc-{tid(13)}-{par(13).upper()}-01"], None, None),
    ("two traceparent headers", [f"traceparent: {tp(14)}", f"traceparent: {tp(15)}"], None, None),
    ("tracestate", [f"traceparent: {tp(20)}", "tracestate: congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"],
     (tid(20), par(20)), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
    ("tracestate in two headers", [f"traceparent: {tp(21)}", "tracestate: foo=1",
                                   "tracestate: bar@vendor=2"],
     (tid(21), par(21)), "foo=1,bar@vendor=2"),
    ("tracestate blanks and empty members",
     [f"traceparent: {tp(22)}", "tracestate: \tfoo=1 \t , \t ,bar=a b ,, baz=3 "],
     (tid(22), par(22)), "foo=1,bar=a b,baz=3"),
    ("tracestate 32 members", [f"traceparent: {tp(23)}", f"tracestate: {members(32)}"],
     (tid(23), par(23)), members(32)),
    ("tracestate 33 members", [f"traceparent: {tp(24)}", f"tracestate: {members(16)}",
                               f"tracestate: {members(17, 17)}"], (tid(24), par(24)), None),
    ("tracestate over 512 bytes", [f"traceparent: {tp(25)}", f"tracestate: {LONG16}"],
     (tid(25), par(25)), LONG14),
    ("tracestate uppercase key", [f"traceparent: {tp(26)}", "tracestate: foo=1,BAR=2"],
     (tid(26), par(26)), None),
    ("tracestate member without '='", [f"traceparent: {tp(27)}", "tracestate: foo=1,bar"],
     (tid(27), par(27)), None),
    ("tracestate '=' in a value", [f"traceparent: {tp(28)}", "tracestate: foo=bar=baz"],
     (tid(28), par(28)), None),
    ("tracestate key repeated", [f"traceparent: {tp(29)}", "tracestate: foo=1",
                                 "tracestate: foo=2"], (tid(29), par(29)), None),
    ("tracestate with an invalid traceparent", [f"traceparent: {tp(30, 'ff')}",
                                                "tracestate: foo=1"], None, None),
    ("tracestate without traceparent", ["tracestate: foo=1"], None, None),
]
SENT_IDS = {tid(i) for i in range(1, 31)} | {par(i) for i in range(1, 31)}
N_BAD = sum(1 for _, lines, want, _ in CASES
            if want is None and any(l.lower().startswith("traceparent") for l in lines))


def main():
    port = h.free_port()
    backend = h.start_backend(port)
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(port)})
    since = time.time_ns()
    obi.expect_instrumented([backend.pid])

    sent = []
    for label, lines, want, state in CASES:
        args = []
        for line in lines:
            args += ["-H", line]
        r = h.curl(f"http://127.0.0.1:{port}/headers", *args)
        h.check_eq(r["http_code"], 200, f"curl ({label})")
        sent.append((label, want, state, r["local_port"], json.loads(r["body"])))
    spans = obi.wait_spans(len(CASES), what="backend SERVER spans, one per case")
    by_port = {s.get("network.peer.port"): s for s in spans}

    p = h.Problems()
    new_traces = []
    for label, want, state, cport, got in sent:
        s = by_port.get(cport)
        if s is None:
            p.append(f"{label}: no span with network.peer.port {cport} (curl's port)")
            continue
        fields = {"kind": "SERVER", "process.pid": backend.pid, "url.path": "/headers"}
        if want is None:
            fields["parent_span_id"] = h.NO_PARENT
            p.true(s.get("trace_id") not in SENT_IDS,
                   f"{label}: trace_id {s.get('trace_id')} should be new, not one we sent")
            new_traces.append(s.get("trace_id"))
        else:
            fields.update({"trace_id": want[0], "parent_span_id": want[1]})
        h.expect_span(s, label, fields, since, p)
        p.eq(f"{label}: trace_state", s.get("trace_state"), state)
        p.true(s.get("span_id") not in SENT_IDS, f"{label}: span_id {s.get('span_id')} reused")
    p.eq("new trace ids of the invalid cases are all distinct", len(set(new_traces)),
         len(new_traces))
    h.expect_distinct_ids(spans)

    obi.stop(expect_total=len(CASES))
    p.eq("summary bad_traceparent (one per invalid traceparent)",
         obi.summary().get("bad_traceparent"), N_BAD)
    p.raise_if_any("W3C trace context level 2 (receiving side)")


h.run(main)
