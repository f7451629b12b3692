#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""OTLP/gRPC export against a grpcio receiver (grpc_receiver.py, decoding with classes protoc
generates from proto/): python's http.server answers GET 200 (x3) and GET 404 to curl.
1. OTEL_EXPORTER_OTLP_PROTOCOL unset, endpoint on port 4317 (gRPC inferred, as OBI does): every
   printed span arrives once with its ids, times, kind, name and status; the duration histogram
   of the process counts the four requests; the call carries obi's user agent.
2. grpc set explicitly, gzip (compressed messages, which grpcio inflates by grpc-encoding), the
   receiver answers UNAVAILABLE twice: retried, then every span arrives.
3. a receiver that never answers: SIGTERM ends obi within OTEL_EXPORTER_OTLP_TIMEOUT (1 s) and
   a margin, the spans counted as failed.
4. the endpoint written host:port without a scheme, OTEL_EXPORTER_OTLP_INSECURE=true (h2c); the
   receiver answers RESOURCE_EXHAUSTED with a google.rpc.RetryInfo of 1.5 s: the export is
   retried no sooner than that delay, then every span arrives.
5. RESOURCE_EXHAUSTED without RetryInfo is final: each span sent once, the spans counted failed."""
import os
import socket
import subprocess
import time

import harness_otlp as ho
import obi_harness as h

GRPC_PYTHON = "/usr/bin/python3"


class GrpcReceiver(ho.OtlpReceiver):
    """grpc_receiver.py as a harness Proc; requests() and spans() are OtlpReceiver's."""

    def __init__(self, port=0, args=(), name="grpc-receiver"):
        try:
            subprocess.run([GRPC_PYTHON, "-c", "import grpc, google.protobuf"], check=True,
                           capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            raise h.Skip("python3-grpcio and python3-protobuf are needed (install-deps.sh)")
        self.out_path = os.path.join(h.tmpdir("obi-it-grpc-"), "requests.jsonl")
        h.Proc.__init__(self, [GRPC_PYTHON, os.path.join(h.HERE, "grpc_receiver.py"),
                               "--port", str(port), "--out", self.out_path, *args], name=name)
        self.port = int(self.wait_output(r"^listening (\d+)$", timeout=30).group(1))
        self.endpoint = f"http://127.0.0.1:{self.port}"


def port_4317_free():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 4317))
        return True
    except OSError:
        return False
    finally:
        s.close()


def traffic(port):
    for _ in range(3):
        h.check_eq(h.curl(f"http://127.0.0.1:{port}/f.txt")["http_code"], 200, "GET status")
    h.check_eq(h.curl(f"http://127.0.0.1:{port}/missing")["http_code"], 404, "GET 404")


def check_spans(printed, recv):
    p = h.Problems()
    got = {}
    for r in recv.spans():
        p.true(r["span_id"] not in got, f"span {r['span_id']} received twice")
        got[r["span_id"]] = r
    p.eq("span ids received", sorted(got), sorted(s["span_id"] for s in printed))
    for s in printed:
        r = got.get(s["span_id"])
        if r is None:
            continue
        sp = r["span"]
        label = f"{s['url.path']} {s['http.response.status_code']}"
        p.eq(f"{label}: trace id", r["trace_id"], s["trace_id"])
        p.eq(f"{label}: kind", sp.get("kind"), "SPAN_KIND_SERVER")
        route = s.get("http.route")
        p.eq(f"{label}: name", sp.get("name"),
             f"{s['http.request.method']} {route}" if route else s["http.request.method"])
        p.eq(f"{label}: start", int(sp.get("startTimeUnixNano", 0)), s["start_time_unix_nano"])
        p.eq(f"{label}: end", int(sp.get("endTimeUnixNano", 0)), s["end_time_unix_nano"])
        p.eq(f"{label}: status attribute", r["attrs"].get("http.response.status_code"),
             s["http.response.status_code"])
        p.eq(f"{label}: url.path", r["attrs"].get("url.path"), s["url.path"])
    p.raise_if_any("OTLP/gRPC spans against the printed ones")


def duration_count(recv, pid):
    """The last exported count of http.server.request.duration points of process pid."""
    best = None
    for req in recv.requests("metrics"):
        if req.get("status") != 200:
            continue
        total = 0
        for rm in req.get("decoded", {}).get("resourceMetrics", []):
            res = ho.otlp_attrs(rm.get("resource", {}).get("attributes"))
            if res.get("process.pid") != pid:
                continue
            for sm in rm.get("scopeMetrics", []):
                for m in sm.get("metrics", []):
                    if m.get("name") == "http.server.request.duration":
                        total += sum(int(dp.get("count", 0))
                                     for dp in m["histogram"].get("dataPoints", []))
        best = total
    return best


def start(recv_endpoint, env):
    port = h.free_port()
    www = h.start_http_server(port, {"f.txt": b"g" * 300})
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(port), "OTEL_EXPORTER_OTLP_ENDPOINT": recv_endpoint,
                 "OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_METRIC_EXPORT_INTERVAL": "500",
                 **env}, name="obi-grpc")
    obi.expect_instrumented([www.pid])
    return port, www, obi


def test_inferred():
    if not port_4317_free():
        raise h.Skip("127.0.0.1:4317 is in use: the inference test needs that port")
    recv = GrpcReceiver(port=4317)
    port, www, obi = start(recv.endpoint, {})
    traffic(port)
    printed = obi.wait_spans(4, what="printed spans")
    recv.wait_for(lambda r: len(r.spans()) >= 4, 15, "4 spans over gRPC")
    check_spans(printed, recv)
    recv.wait_for(lambda r: duration_count(r, www.pid) == 4, 15,
                  "http.server.request.duration counting 4 requests")
    for req in recv.requests():
        h.check_eq(req["status"], 200, f"answer to request {req['n']}")
        h.check(req["headers"].get("user-agent", "").startswith("obi/"),
                f"user-agent of request {req['n']}: {req['headers'].get('user-agent')!r}")
    obi.stop(expect_total=4)
    for want in ("spans_exported=4 ", "spans_failed=0 ", "metric_failures=0 "):
        h.check(want in obi.stderr(), f"otlp summary without {want!r}")
    recv.kill()


def test_unavailable_retried():
    recv = GrpcReceiver(args=["--unavailable", "2"])
    port, www, obi = start(recv.endpoint, {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                                           "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
                                           "OTEL_METRIC_EXPORT_INTERVAL": "600000"})
    traffic(port)
    printed = obi.wait_spans(4, what="printed spans")
    recv.wait_for(lambda r: len(r.spans()) >= 4, 20, "4 spans after two UNAVAILABLE answers")
    check_spans(printed, recv)
    statuses = [r["status"] for r in recv.requests("traces")]
    h.check(statuses[:2] == ["UNAVAILABLE", "UNAVAILABLE"] and 200 in statuses,
            f"trace requests answered {statuses}")
    obi.stop(expect_total=4)
    recv.kill()


def test_dead_collector():
    recv = GrpcReceiver(args=["--hang", "1000000"])
    port, www, obi = start(recv.endpoint, {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                                           "OTEL_EXPORTER_OTLP_TIMEOUT": "1000"})
    traffic(port)
    obi.wait_spans(4, what="printed spans")
    recv.wait_for(lambda r: len(r.requests("traces")) >= 1, 10, "a hanging trace request")
    t0 = time.monotonic()
    obi.stop(timeout=10, expect_total=4)
    took = time.monotonic() - t0
    h.check(took < 3.0, f"exit took {took:.1f} s with OTEL_EXPORTER_OTLP_TIMEOUT=1000")
    h.check("spans_exported=0 " in obi.stderr() and "spans_failed=4 " in obi.stderr(),
            "the 4 spans should be counted failed, none exported, with a hung receiver")
    recv.kill()


def test_exhausted_retry_info():
    recv = GrpcReceiver(args=["--exhausted", "1", "--retry-delay", "1500"])
    port, www, obi = start(f"127.0.0.1:{recv.port}",
                           {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                            "OTEL_EXPORTER_OTLP_INSECURE": "true",
                            "OTEL_METRIC_EXPORT_INTERVAL": "600000"})
    traffic(port)
    printed = obi.wait_spans(4, what="printed spans")
    recv.wait_for(lambda r: len(r.spans()) >= 4, 20, "4 spans after RESOURCE_EXHAUSTED")
    check_spans(printed, recv)
    reqs = {r["n"]: r for r in recv.requests("traces")}
    h.check_eq(reqs[1]["status"], "RESOURCE_EXHAUSTED", "the first trace request's answer")
    # The spans of the refused request come again in a later one (a slow obi may have sent
    # the others in batches of their own meanwhile), no sooner than RetryInfo asked.
    refused = {sp["span_id"] for sp in recv.spans(statuses=("RESOURCE_EXHAUSTED",))}
    h.check(len(refused) >= 1, "the refused request held no span")
    again = [sp["request"] for sp in recv.spans() if sp["span_id"] in refused]
    h.check_eq(len(again), len(refused), "spans of the refused request delivered later")
    gap = reqs[min(again)]["time_ms"] - reqs[1]["time_ms"]
    h.check(gap >= 1400, f"retried {gap} ms after RESOURCE_EXHAUSTED asking for 1500 ms")
    obi.stop(expect_total=4)
    h.check("spans_exported=4 " in obi.stderr(), "otlp summary without spans_exported=4")
    recv.kill()


def test_exhausted_final():
    recv = GrpcReceiver(args=["--exhausted", "1000"])
    port, www, obi = start(recv.endpoint, {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                                           "OTEL_METRIC_EXPORT_INTERVAL": "600000"})
    traffic(port)
    obi.wait_spans(4, what="printed spans")
    recv.wait_for(lambda r: len(r.requests("traces")) >= 1, 10, "a trace request")
    obi.wait_stderr(r"WARN .*otlp: export spans .*RESOURCE_EXHAUSTED|WARN .*otlp: .*status 8", 10,
                    "the final RESOURCE_EXHAUSTED logged")
    time.sleep(1.5)  # a retry, if one were made, would come within the first backoff
    # A slow obi may send the 4 spans in more than one batch; none may be sent twice.
    sent = [sp["span_id"] for sp in recv.spans(statuses=("RESOURCE_EXHAUSTED",))]
    h.check_eq(sorted(sent), sorted(set(sent)), "spans sent again after a final RESOURCE_EXHAUSTED")
    h.check_eq(len(sent), 4, "spans sent once each")
    obi.stop(expect_total=4)
    h.check("spans_exported=0 " in obi.stderr() and "spans_failed=4 " in obi.stderr(),
            "the 4 spans should be counted failed after RESOURCE_EXHAUSTED without RetryInfo")
    recv.kill()


def main():
    for t in (test_inferred, test_unavailable_retried, test_dead_collector,
              test_exhausted_retry_info, test_exhausted_final):
        t0 = time.monotonic()
        try:
            t()
        except h.Skip as e:
            print(f"  skip: {t.__name__[5:].replace('_', ' ')}: {e}")
            continue
        print(f"  ok: {t.__name__[5:].replace('_', ' ')} ({time.monotonic() - t0:.1f} s)")


h.run(main)
