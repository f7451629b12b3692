#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""OTLP/gRPC test receiver: a grpcio server (Debian's python3-grpcio; run it with /usr/bin/python3)
serving the two Export methods through a generic handler that takes the raw request bytes, decoded
with python classes protoc generates from the repository's proto/ at start-up. Each request is one
JSON line in --out, in the form of otlp_receiver/receiver.js (n, path, signal, headers, status,
decoded: protobuf's JSON form, ids base64), so harness_otlp reads both alike.

usage: grpc_receiver.py --port N --out FILE [--unavailable COUNT] [--hang COUNT]
                        [--exhausted COUNT [--retry-delay MS]]
  --unavailable 2   answer the first 2 requests with UNAVAILABLE
  --hang 1          never answer the first request
  --exhausted 1     answer the first request (after the hung and unavailable ones) with
                    RESOURCE_EXHAUSTED; with --retry-delay, its grpc-status-details-bin trailer
                    carries a google.rpc.Status whose details hold a google.rpc.RetryInfo
Prints "listening PORT" when ready."""
import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures

import grpc
from google.protobuf import json_format

PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")
PROTOS = ["common", "resource", "trace", "histogram_point", "metrics", "trace_service",
          "metrics_service"]
# google.rpc.Status and google.rpc.RetryInfo as googleapis defines them (field numbers and types),
# for the error details a collector sends with RESOURCE_EXHAUSTED
RPC_STATUS_PROTO = """syntax = "proto3";
package google.rpc;
import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
message Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
message RetryInfo { google.protobuf.Duration retry_delay = 1; }
"""


def load_classes():
    out = tempfile.mkdtemp(prefix="obi-grpc-pb-")
    subprocess.run(["protoc", f"-I{PROTO_DIR}", f"--python_out={out}"] +
                   [os.path.join(PROTO_DIR, p + ".proto") for p in PROTOS], check=True)
    with open(os.path.join(out, "rpc_status.proto"), "w") as f:
        f.write(RPC_STATUS_PROTO)
    subprocess.run(["protoc", f"-I{out}", "-I/usr/include", f"--python_out={out}",
                    os.path.join(out, "rpc_status.proto")], check=True)
    sys.path.insert(0, out)
    ts = importlib.import_module("trace_service_pb2")
    ms = importlib.import_module("metrics_service_pb2")
    return {
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export":
            ("traces", ts.ExportTraceServiceRequest, ts.ExportTraceServiceResponse),
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export":
            ("metrics", ms.ExportMetricsServiceRequest, ms.ExportMetricsServiceResponse),
    }


def exhausted_details(delay_ms):
    """A google.rpc.Status for RESOURCE_EXHAUSTED asking to retry after delay_ms."""
    from google.protobuf import any_pb2
    rpc = importlib.import_module("rpc_status_pb2")
    info = rpc.RetryInfo()
    info.retry_delay.seconds = delay_ms // 1000
    info.retry_delay.nanos = delay_ms % 1000 * 1000000
    detail = any_pb2.Any()
    detail.Pack(info)
    return rpc.Status(code=grpc.StatusCode.RESOURCE_EXHAUSTED.value[0],
                      message="test receiver: exhausted", details=[detail]).SerializeToString()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--unavailable", type=int, default=0)
    ap.add_argument("--hang", type=int, default=0)
    ap.add_argument("--exhausted", type=int, default=0)
    ap.add_argument("--retry-delay", type=int, default=-1, help="ms; -1: no RetryInfo")
    args = ap.parse_args()
    methods = load_classes()
    lock = threading.Lock()
    seen = [0]
    out = open(args.out, "a", buffering=1)

    def handler_for(path):
        signal, req_type, resp_type = methods[path]

        def export(raw, context):
            with lock:
                seen[0] += 1
                n = seen[0]
            entry = {"n": n, "time_ms": int(time.time() * 1000), "method": "POST",
                     "path": path, "signal": signal, "bytes": len(raw),
                     "headers": {k: v for k, v in context.invocation_metadata()
                                 if not k.endswith("-bin")}}
            try:
                msg = req_type.FromString(raw)
                entry["decoded"] = json_format.MessageToDict(msg)
            except Exception as e:  # noqa: BLE001 - recorded for the test to report
                entry["error"] = str(e)
            if n <= args.hang:
                entry["status"] = "hang"
                out.write(json.dumps(entry) + "\n")
                time.sleep(3600)
            if n <= args.hang + args.unavailable:
                entry["status"] = "UNAVAILABLE"
                out.write(json.dumps(entry) + "\n")
                context.abort(grpc.StatusCode.UNAVAILABLE, "test receiver: unavailable")
            if n <= args.hang + args.unavailable + args.exhausted:
                entry["status"] = "RESOURCE_EXHAUSTED"
                out.write(json.dumps(entry) + "\n")
                if args.retry_delay >= 0:
                    context.set_trailing_metadata(
                        (("grpc-status-details-bin", exhausted_details(args.retry_delay)),))
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "test receiver: exhausted")
            entry["status"] = 200 if "decoded" in entry else "INVALID_ARGUMENT"
            out.write(json.dumps(entry) + "\n")
            if "error" in entry:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, entry["error"])
            return resp_type().SerializeToString()

        # no deserializer: the method gets the request's bytes as they came
        return grpc.unary_unary_rpc_method_handler(export)

    class Generic(grpc.GenericRpcHandler):
        def service(self, details):
            return handler_for(details.method) if details.method in methods else None

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((Generic(),))
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    print(f"listening {port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
