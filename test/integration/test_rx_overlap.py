#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A retransmitted segment that overlaps bytes already received reaches the application once,
also on a socket obi put in its SOCKHASH.

TCP queues such a segment whole and leaves the reader to skip the overlap by sequence number;
this kernel's sockmap receive path hands whole segments on, so without obi's trimming the
overlap is read twice (seen under CPU contention as an 8 MiB response through nginx with a
2-MSS block repeated). Here the peer is this script speaking TCP through raw sockets on
loopback, so the overlap is certain: a client (servers/overlap_client.py, selected by pid, so its
connection enters obi's SOCKHASH) connects; the peer answers the handshake, sends bytes
[0, 1000), then a segment carrying [500, 2000), then FIN. The client must read exactly
[0, 2000). Checked without obi (the kernel alone), with obi (the socket in obi's sock_hash,
rx_overlaps_trimmed counted), and with overlaps inside one segment's worth of a larger stream.
Needs nftables (the kernel would otherwise answer the client's SYN to a port nobody listens on
with a reset)."""
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time

import obi_harness as h

ETH_P_IP = 0x0800
TABLE = "obi_test_overlap"


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def tcp_packet(sport, dport, seq, ack, flags, payload=b"", window=65535):
    src = dst = socket.inet_aton("127.0.0.1")
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff, 5 << 4,
                      flags, window, 0, 0) + payload
    pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, socket.IPPROTO_TCP,
                     0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


class Peer:
    """The far end of one connection on 127.0.0.1:port, spoken through raw sockets."""

    def __init__(self, port):
        self.port = port
        self.rx = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
        self.rx.bind(("lo", ETH_P_IP))
        self.rx.settimeout(5)
        self.tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)

    def wait_syn(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pkt = self.rx.recv(65535)
            if len(pkt) < 40 or pkt[9] != socket.IPPROTO_TCP:
                continue
            ihl = (pkt[0] & 15) * 4
            sport, dport, seq = struct.unpack("!HHI", pkt[ihl:ihl + 8])
            if dport == self.port and pkt[ihl + 13] & SYN and not pkt[ihl + 13] & ACK:
                return sport, seq
        h.fail(f"no SYN to port {self.port} seen on lo")

    def send(self, cport, seq, ack, flags, payload=b""):
        self.tx.sendto(tcp_packet(self.port, cport, seq, ack, flags, payload), ("127.0.0.1", 0))

    def close(self):
        self.rx.close()
        self.tx.close()


def exchange(tag, label, port, client, pieces, total, p, obi=None):
    """The client connects to port; the peer sends `pieces` ((offset, length) of DATA, in
    order), then FIN; the client must read DATA[:total] exactly."""
    data = bytes((i * 7 + i // 251) & 0xff for i in range(total))
    peer = Peer(port)
    try:
        client.send_line(f"connect {port} {tag}")
        cport, c_isn = peer.wait_syn()
        s_isn = 0x10000000
        peer.send(cport, s_isn, c_isn + 1, SYN | ACK)
        m = client.wait_output(rf"^CONNECTED {tag} cookie=(\d+)$", timeout=10)
        if obi:
            p.eq(f"{label}: the client's socket in obi's sock_hash",
                 int(m.group(1)) in h.sockhash_cookies(obi), True)
        for off, length in pieces:
            peer.send(cport, s_isn + 1 + off, c_isn + 1, ACK | PSH, data[off:off + length])
            time.sleep(0.05)   # each segment is queued (and read by the receive path) alone
        peer.send(cport, s_isn + 1 + total, c_isn + 1, ACK | FIN)
        line = client.wait_output(rf"^READ {tag} (\{{.*\}})$", timeout=10)
        got = json.loads(line.group(1))
    finally:
        peer.close()
    p.eq(f"{label}: bytes the client read (length, first difference)",
         (got["length"], got["first_diff"]), (total, None))
    return got


def main():
    if not shutil.which("nft"):
        raise h.Skip("nft is not installed (scripts/install-deps.sh)")
    port = h.free_port()
    # the kernel must not reset the client's SYN to a port nobody listens on: drop what
    # arrives for the port before TCP sees it (the raw socket has its copy already)
    rules = f"""table inet {TABLE} {{
    chain input {{
        type filter hook input priority -300; policy accept;
        tcp dport {port} drop
    }}
}}"""
    subprocess.run(["nft", "delete", "table", "inet", TABLE], capture_output=True)
    r = subprocess.run(["nft", "-f", "-"], input=rules.encode(), capture_output=True)
    h.check(r.returncode == 0, f"nft: {r.stderr.decode(errors='replace')}")
    try:
        run(port)
    finally:
        subprocess.run(["nft", "delete", "table", "inet", TABLE], capture_output=True)


def run(port):
    p = h.Problems()
    client = h.Proc([h.PYTHON, "-u", os.path.join(h.SERVERS, "overlap_client.py")],
                    name="overlap-client", stdin=True)
    client.wait_output(r"^READY pid=\d+")
    cases = [
        ("one overlap", [(0, 1000), (500, 1500)], 2000),
        ("an overlap of several steps, then in order", [(0, 12000), (1000, 14000),
                                                      (15000, 1000)], 16000),
    ]
    # the kernel alone: TCP's own reader skips the overlap
    exchange("t0", "without obi: " + cases[0][0], port, client, cases[0][1], cases[0][2], p)

    obi = h.Obi({"OTEL_EBPF_TARGET_PID": str(client.pid)})
    h.wait_propagation_on(obi)
    obi.expect_instrumented([client.pid])
    for i, (label, pieces, total) in enumerate(cases):
        exchange(f"t{i + 1}", "with obi: " + label, port, client, pieces, total, p, obi)
    obi.stop()
    p.eq("rx_overlaps_trimmed in obi's summary", obi.summary().get("rx_overlaps_trimmed"),
         len(cases))
    p.eq("rx_overlaps_failed in obi's summary", obi.summary().get("rx_overlaps_failed"), 0)
    client.kill()
    p.raise_if_any("overlapping segments")


h.run(main)
