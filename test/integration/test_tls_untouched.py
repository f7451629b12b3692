#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A selected process's TLS connections are never altered and never stall, and after the first
one obi keeps them out of its SOCKHASH.

nginx serves a 20 MiB file over TLS (a certificate made with `openssl req` for the test);
servers/tls_client.py (Python's ssl, selected by pid) opens a keep-alive TLS connection, then a
second one. The first connection's first send is a ClientHello, not an HTTP request: it is in
obi's sock_hash (bpftool) but never touched (inject_off_not_http); the second is kept out of
sock_hash altogether (inject_peer_not_http). On both, two downloads of the 20 MiB file
arrive byte-exact (TLS would fail on any altered byte) within the client's 20 s timeout."""
import hashlib
import os
import subprocess

import obi_harness as h

BIG = 20 * 1024 * 1024


def main():
    d = h.tmpdir("obi-it-tls-")
    key, crt = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        key, "-out", crt, "-days", "1", "-subj", "/CN=127.0.0.1"],
                       capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    h.check(r.returncode == 0, f"openssl req failed: {r.stderr.decode(errors='replace')}")
    root = os.path.join(d, "www")
    os.mkdir(root)
    body = h.echo_blob(BIG)
    with open(os.path.join(root, "big"), "wb") as f:
        f.write(body)
    want = hashlib.sha256(body).hexdigest()
    plain, tls = h.free_port(), h.free_port()
    nginx = h.NginxServer(plain, "        return 200;", http_extra=f"""    server {{
        listen 127.0.0.1:{tls} ssl;
        ssl_certificate {crt};
        ssl_certificate_key {key};
        keepalive_requests 1000;
        location / {{ root {root}; }}
    }}""")
    h.wait_listening(tls, nginx)
    client = h.CommandClient("tls_client.py", name="tls-client")
    obi = h.Obi({"OTEL_EBPF_TARGET_PID": str(client.pid)})
    h.wait_propagation_on(obi)
    obi.expect_instrumented([client.pid], only=True)

    p = h.Problems()
    first = client.ok(f"connect first {tls}")
    got = [client.ok("get first /big") for _ in range(2)]
    second = client.ok(f"connect second {tls}")
    got += [client.ok("get second /big") for _ in range(2)]
    in_map = h.sockhash_cookies(obi)
    p.eq("first TLS connection in obi's sock_hash, second not",
         (first["cookie"] in in_map, second["cookie"] in in_map), (True, False))
    for i, g in enumerate(got):
        p.eq(f"download {i} ({'first' if i < 2 else 'second'} connection): status, length, "
             f"sha256", (g["status"], g["length"], g["sha256"]), (200, BIG, want))
    obi.stop()
    s = obi.summary()
    # the start-up self-test leaves one connection of another protocol alone too
    p.eq("summary inject_off_not_http (the first TLS connection, the self-test's)",
         s.get("inject_off_not_http"), 2)
    p.eq("summary inject_peer_not_http (the second TLS connection)",
         s.get("inject_peer_not_http"), 1)
    p.eq("summary rx_overlaps_failed", s.get("rx_overlaps_failed"), 0)
    nginx.kill()
    p.raise_if_any("TLS connections of a selected process")


h.run(main)
