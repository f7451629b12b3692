#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""kill -9 obi under steady keep-alive traffic to a selected server: the traffic never fails,
the connection opened before the kill keeps working (also for a 4 MiB response), and 200 more
requests after the kill all succeed."""
import http.client
import threading
import time

import obi_harness as h

BIG = 4 * 1024 * 1024


def request(conn, i):
    conn.request("GET", f"/r/{i}")
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200 or len(body) != h.r_body_size(i) or resp.will_close:
        raise AssertionError(f"GET /r/{i}: status {resp.status}, {len(body)} bytes "
                             f"(expected 200, {h.r_body_size(i)}), will_close={resp.will_close}")


class Traffic(threading.Thread):
    """Sequential keep-alive requests on one connection until stopped (bounded)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.conn.connect()
        self.stop = threading.Event()
        self.done = 0
        self.error = None

    def run(self):
        try:
            for i in range(200000):
                if self.stop.is_set():
                    return
                request(self.conn, i)
                self.done += 1
        except Exception as e:  # reported by the main thread
            self.error = f"after {self.done} requests: {type(e).__name__}: {e}"


def main():
    port = h.free_port()
    h.start_backend(port)
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(port)})

    traffic = Traffic(port)
    traffic.start()
    try:
        deadline = time.monotonic() + 10
        while len(obi.spans) < 50 and time.monotonic() < deadline and traffic.is_alive():
            time.sleep(0.05)
        h.check(traffic.error is None, f"traffic failed before the kill: {traffic.error}")
        h.check(len(obi.spans) >= 50,
                f"expected spans for the steady traffic before the kill, got {len(obi.spans)}")
        before = traffic.done
        obi.kill9()
        h.check_eq(obi.returncode, -9, "obi's exit status after SIGKILL")
        time.sleep(1.0)
        h.check(traffic.error is None, f"steady traffic failed after the kill: {traffic.error}")
        h.check(traffic.done > before,
                f"steady traffic stalled after the kill ({traffic.done} requests done, "
                f"{before} at the kill)")
    finally:
        traffic.stop.set()
        traffic.join(15)
    h.check(not traffic.is_alive(), "traffic thread stuck (a request hangs)")
    h.check(traffic.error is None, f"steady traffic failed: {traffic.error}")

    # the connection opened before the kill: more small requests and one large response
    for i in range(50):
        request(traffic.conn, 1000 + i)
    traffic.conn.request("GET", f"/size/{BIG}")
    resp = traffic.conn.getresponse()
    body = resp.read()
    h.check_eq((resp.status, len(body)), (200, BIG), "4 MiB response on the old connection")
    traffic.conn.close()

    # 200 more requests on a fresh keep-alive connection, then 5 fresh connections
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for i in range(200):
        request(conn, i)
    conn.close()
    for i in range(5):
        r = h.curl(f"http://127.0.0.1:{port}/r/{i}")
        h.check_eq((r["http_code"], len(r["body"])), (200, h.r_body_size(i)), "curl after kill")


h.run(main)
