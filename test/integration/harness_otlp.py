# SPDX-License-Identifier: Apache-2.0
"""The OTLP receiver of obi's integration tests: otlp_receiver/receiver.js (node with the official
OpenTelemetry JS protobuf decoders) started as a harness Proc, and the decoded requests as
python values. Beside obi_harness.py, which it builds on (obi_harness does not import it):

    import obi_harness as h
    import harness_otlp as ho

    recv = ho.OtlpReceiver()
    obi = h.Obi({"OTEL_EXPORTER_OTLP_ENDPOINT": recv.endpoint, ...})
"""
import json
import os
import shutil
import subprocess
import time

from obi_harness import HERE, Proc, Skip, check, fail, tmpdir

OTLP_RECEIVER_DIR = os.path.join(HERE, "otlp_receiver")
_OTLP_DECODERS = os.path.join(OTLP_RECEIVER_DIR, "node_modules", "@opentelemetry",
                              "otlp-proto-exporter-base", "build", "src", "generated", "root.js")


def ensure_otlp_receiver():
    """Installs the receiver's npm packages with `npm ci` (the committed package-lock.json) when
    they are missing; scripts/install-deps.sh does the same. Skips without node and npm."""
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            raise Skip(f"{tool} is not installed (scripts/install-deps.sh installs it)")
    if os.path.exists(_OTLP_DECODERS):
        return
    r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=OTLP_RECEIVER_DIR,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=600)
    if r.returncode != 0 or not os.path.exists(_OTLP_DECODERS):
        fail(f"npm ci in {OTLP_RECEIVER_DIR} failed with code {r.returncode}:\n"
             f"{r.stdout.decode(errors='replace')}\n{r.stderr.decode(errors='replace')}")


def otlp_value(v):
    """A decoded AnyValue as a python value (intValue arrives as a string: int64)."""
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "boolValue" in v:
        return v["boolValue"]
    if "doubleValue" in v:
        return v["doubleValue"]
    return v


def otlp_attrs(kvs):
    """[{key, value}] as {key: value}; a repeated key fails (OTLP forbids it)."""
    out = {}
    for kv in kvs or []:
        check(kv["key"] not in out, f"attribute {kv['key']!r} repeated in {kvs!r}")
        out[kv["key"]] = otlp_value(kv.get("value", {}))
    return out


def otlp_hex(b64):
    """An id decoded as base64 (protobufjs bytes) as lowercase hex; "" for none."""
    import base64
    return base64.b64decode(b64 or "").hex()


class OtlpReceiver(Proc):
    """test/integration/otlp_receiver/receiver.js on 127.0.0.1 (`port` 0: the kernel picks).
    `args`: its fault options (--fail STATUS:COUNT, --retry-after S, --hang N, --partial N).
    Every request it got is a JSON object in requests(): path, headers, status it answered,
    and 'decoded' (the protobufjs object)."""

    def __init__(self, port=0, args=(), name="otlp-receiver"):
        ensure_otlp_receiver()
        self.out_path = os.path.join(tmpdir("obi-it-otlp-"), "requests.jsonl")
        super().__init__(["node", os.path.join(OTLP_RECEIVER_DIR, "receiver.js"),
                          "--port", str(port), "--out", self.out_path, *args], name=name)
        self.port = int(self.wait_output(r"^listening (\d+)$").group(1))
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def requests(self, signal=None):
        try:
            with open(self.out_path, "rb") as f:
                data = f.read().decode("utf-8", "replace")
        except OSError:
            return []
        out = []
        for line in data.split("\n")[:-1]:   # the last piece may be a line being written
            r = json.loads(line)
            if signal is None or r.get("signal") == signal:
                out.append(r)
        return out

    def spans(self, statuses=(200,)):
        """Spans of the trace requests answered with one of `statuses`, flattened: dicts with
        'request' (its index n), 'resource' and 'attrs' (as dicts), 'scope', 'span' (decoded),
        'trace_id', 'span_id', 'parent_span_id' (hex)."""
        out = []
        for r in self.requests("traces"):
            if r.get("status") not in statuses:
                continue
            for rs in r.get("decoded", {}).get("resourceSpans", []):
                res = otlp_attrs(rs.get("resource", {}).get("attributes"))
                for ss in rs.get("scopeSpans", []):
                    for sp in ss.get("spans", []):
                        out.append({"request": r["n"], "resource": res,
                                    "scope": ss.get("scope", {}), "span": sp,
                                    "attrs": otlp_attrs(sp.get("attributes")),
                                    "trace_id": otlp_hex(sp.get("traceId")),
                                    "span_id": otlp_hex(sp.get("spanId")),
                                    "parent_span_id": otlp_hex(sp.get("parentSpanId"))})
        return out

    def wait_for(self, cond, timeout, what):
        """Waits until cond(self) is true; fails naming `what` with the requests seen."""
        deadline = time.monotonic() + timeout
        while not cond(self):
            if not self.alive():
                fail(f"{self.name} exited with code {self.p.returncode} while waiting for "
                     f"{what}; its output:\n{self.output()}")
            if time.monotonic() > deadline:
                seen = [(r["n"], r["path"], r["status"]) for r in self.requests()]
                fail(f"{what}: not within {timeout} s; requests received (n, path, status): "
                     f"{seen}")
            time.sleep(0.05)
