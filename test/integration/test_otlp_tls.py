#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""OTLP over https with the TLS client settings, against the node receiver serving https with a
self-signed certificate made by `openssl req` for 127.0.0.1 (and, for the client, a second one):
1. no OTEL_EXPORTER_OTLP_CERTIFICATE: the receiver's certificate is not trusted, nothing is
   delivered and obi warns about the failed export;
2. OTEL_EXPORTER_OTLP_CERTIFICATE=the receiver's certificate: the 3 spans arrive;
3. the receiver requires a client certificate: OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE and
   _CLIENT_KEY present one (its CN seen by the receiver), the 3 spans arrive.
4. no certificate given, but the YAML file says otel_traces_export.insecure_skip_verify: true
   (OBI's key): the untrusted receiver gets the 3 spans."""
import os
import subprocess

import harness_otlp as ho
import obi_harness as h


def make_cert(d, name, cn):
    cert, key = os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN={cn}", "-addext", f"subjectAltName=IP:{cn}"
                    if cn[0].isdigit() else f"subjectAltName=DNS:{cn}",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def run(recv, env, name, args=()):
    port = h.free_port()
    www = h.start_http_server(port, {"f.txt": b"t" * 200})
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(port),
                 "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": recv.endpoint + "/v1/traces",
                 "OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_EXPORTER_OTLP_TIMEOUT": "2000",
                 **env}, name=name, args=args)
    obi.expect_instrumented([www.pid])
    for _ in range(3):
        h.check_eq(h.curl(f"http://127.0.0.1:{port}/f.txt")["http_code"], 200, "curl status")
    printed = obi.wait_spans(3, what=f"printed spans ({name})")
    return obi, printed


def main():
    d = h.tmpdir("obi-it-tls-")
    cert, key = make_cert(d, "server", "127.0.0.1")
    ccert, ckey = make_cert(d, "client", "obi-test-client")

    recv = ho.OtlpReceiver(args=["--tls-cert", cert, "--tls-key", key], name="recv-https")
    recv.endpoint = f"https://127.0.0.1:{recv.port}"
    obi, _ = run(recv, {}, "obi-untrusted")
    obi.wait_stderr(r"WARN .*otlp: export spans to https://.* failed", 10,
                    "the failed export to an untrusted certificate")
    obi.stop(expect_total=3)
    h.check_eq(recv.spans(), [], "spans delivered to an untrusted receiver")

    obi, printed = run(recv, {"OTEL_EXPORTER_OTLP_CERTIFICATE": cert}, "obi-trusted")
    recv.wait_for(lambda r: len(r.spans()) >= 3, 15, "3 spans over https")
    h.check_eq(sorted(s["span_id"] for s in recv.spans()),
               sorted(s["span_id"] for s in printed), "span ids over https")
    obi.stop(expect_total=3)
    recv.kill()

    recv = ho.OtlpReceiver(args=["--tls-cert", cert, "--tls-key", key, "--client-ca", ccert],
                           name="recv-mtls")
    recv.endpoint = f"https://127.0.0.1:{recv.port}"
    obi, printed = run(recv, {"OTEL_EXPORTER_OTLP_CERTIFICATE": cert,
                              "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE": ccert,
                              "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY": ckey}, "obi-mtls")
    recv.wait_for(lambda r: len(r.spans()) >= 3, 15, "3 spans over https with a client cert")
    h.check_eq(sorted(s["span_id"] for s in recv.spans()),
               sorted(s["span_id"] for s in printed), "span ids over mutual TLS")
    for r in recv.requests("traces"):
        h.check_eq(r.get("client_cn"), "obi-test-client", f"client CN of request {r['n']}")
    obi.stop(expect_total=3)
    recv.kill()

    recv = ho.OtlpReceiver(args=["--tls-cert", cert, "--tls-key", key], name="recv-skip")
    recv.endpoint = f"https://127.0.0.1:{recv.port}"
    conf = os.path.join(d, "obi.yaml")
    with open(conf, "w") as f:
        f.write("otel_traces_export:\n  insecure_skip_verify: true\n")
    obi, printed = run(recv, {}, "obi-skip-verify", args=["--config", conf])
    recv.wait_for(lambda r: len(r.spans()) >= 3, 15, "3 spans with insecure_skip_verify")
    h.check_eq(sorted(s["span_id"] for s in recv.spans()),
               sorted(s["span_id"] for s in printed), "span ids with insecure_skip_verify")
    obi.stop(expect_total=3)


h.run(main)
