#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Process churn. (1) 1,000 short-lived selected processes: a forking HTTP server (perl, light
enough to fork fast; selected by port) forks one child per connection, which answers one
GET /pid with its own pid and exits, while the parent closes its copy of the socket at once;
each child is selected at fork and gives exactly one span carrying its pid, status 200.
(2) 2,000 short-lived unselected processes at the same time: two unselected spawners fork
children that each listen on a port of their own, make one request to an unselected server
and exit. Checks: no unselected process is ever instrumented or traced; obi's traced_pids BPF
map returns to its size before the churn (no stale pids), obi's exit summary counts
processes=1 (the forking parent) and conns=0; obi's RSS stays flat."""
import collections
import os
import threading
import time

import obi_harness as h

N_SELECTED = 1000
N_UNSELECTED = 2000
RSS_GROWTH_MAX_KB = 8 * 1024

# perl -e FORKING_SERVER PORT: one child per connection answers "GET" with its pid and exits.
FORKING_SERVER = r"""
use strict; use IO::Socket::INET; use POSIX ();
my $ls = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0], Listen => 128,
                               ReuseAddr => 1) or die "listen: $!";
$SIG{CHLD} = "IGNORE";
$| = 1;
print "READY port=$ARGV[0] pid=$$\n";
while (1) {
    my $c = $ls->accept or next;
    my $pid = fork();
    if (defined $pid && $pid == 0) {
        close $ls;
        my $req = "";
        while ($req !~ /\r\n\r\n/) { sysread($c, $req, 4096, length $req) or last; }
        my $body = "$$";
        syswrite($c, "HTTP/1.1 200 OK\r\nContent-Length: " . length($body) .
                     "\r\nConnection: close\r\n\r\n$body");
        close $c;
        POSIX::_exit(0);
    }
    close $c;    # the parent's copy, while the child serves
}
"""

# perl -e SPAWNER N PORT OUT: N children one after another, each listening on a port of its own
# and GETting / from PORT; their pids go to OUT, then "DONE".
SPAWNER = r"""
use strict; use IO::Socket::INET; use POSIX ();
my ($n, $port, $out) = @ARGV;
my @pids;
$| = 1;
for (1 .. $n) {
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        my $ls = IO::Socket::INET->new(LocalAddr => "127.0.0.1", Listen => 1) or POSIX::_exit(2);
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port)
            or POSIX::_exit(3);
        syswrite($s, "GET / HTTP/1.1\r\nHost: unselected\r\nConnection: close\r\n\r\n");
        my $buf;
        1 while sysread($s, $buf, 65536);
        POSIX::_exit(0);
    }
    waitpid($pid, 0);
    die "child $pid: status $?\n" if $?;
    push @pids, $pid;
}
open(my $f, ">", $out) or die "$out: $!";
print $f join("\n", @pids);
close $f;
print "DONE\n";
"""


def get_pid(port):
    """GET /pid on a new connection: (client port, pid of the child that answered)."""
    cport, data = h.exchange_until_close(
        port, b"GET /pid HTTP/1.1\r\nHost: churn\r\nConnection: close\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    h.check(head.startswith(b"HTTP/1.1 200 "), f"GET /pid: unexpected answer {data[:200]!r}")
    return cport, int(body)


def map_counts(maps):
    names = ("traced_pids", "conn_slots", "thread_ctx", "thread_slots", "thread_parent",
             "inflight")
    return {n: h.bpf_map_entries(maps[n]) for n in names if n in maps}


def main():
    port, other_port = h.free_port(), h.free_port()
    backend = h.Proc(["perl", "-e", FORKING_SERVER, str(port)], name="forking-server")
    backend.wait_output(r"^READY port=\d+")
    h.wait_listening(port, backend)
    other = h.start_backend(other_port, name="unselected-backend")
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(port)})
    since = time.time_ns()
    obi.expect_instrumented([backend.pid], only=True)
    maps = h.bpf_maps_of(obi.pid)
    h.check("traced_pids" in maps, f"obi's BPF maps have no traced_pids: {sorted(maps)}")
    before = map_counts(maps)
    rss_before = h.otlp_rss_kb(obi.pid)

    # (2) unselected churn, from two spawners, while (1) the selected children come and go
    t0 = time.monotonic()
    d = h.tmpdir("obi-it-churn-")
    spawners = [h.Proc(["perl", "-e", SPAWNER, str(N_UNSELECTED // 2), str(other_port),
                        os.path.join(d, f"pids{k}")], name=f"spawner{k}") for k in range(2)]
    answered = []   # (client port, pid): pids and ports may be reused (pid_max is 32768 here)

    def client(n):
        for _ in range(n):
            answered.append(get_pid(port))

    threads = [threading.Thread(target=client, args=(N_SELECTED // 4,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    h.check_eq(len(answered), N_SELECTED, "requests answered by forked children")
    children = {pid for _, pid in answered}
    h.check(backend.pid not in children, "the forking parent answered a request itself")
    print(f"{N_SELECTED} selected children in {time.monotonic() - t0:.1f} s", flush=True)
    unselected = {other.pid}
    for k, sp in enumerate(spawners):
        sp.wait_output(r"^DONE$", timeout=300)
        with open(os.path.join(d, f"pids{k}")) as f:
            unselected |= {int(x) for x in f.read().split()} | {sp.pid}
    print(f"{N_UNSELECTED} unselected children in {time.monotonic() - t0:.1f} s", flush=True)

    spans = obi.wait_spans(N_SELECTED, lambda s: s.get("network.local.port") == port,
                           timeout=60, what=f"spans of the {N_SELECTED} forked children")
    p = h.Problems()
    for i, s in enumerate(spans):
        h.expect_span(s, f"span {i}", {
            "kind": "SERVER", "http.request.method": "GET", "url.path": "/pid",
            "http.response.status_code": 200, "server.address": "churn"}, since, p)
    got = collections.Counter((s.get("network.peer.port"), s.get("process.pid")) for s in spans)
    want = collections.Counter(answered)
    p.true(got == want, f"(client port, pid) of the spans differ from the answers: missing "
           f"{list((want - got).items())[:5]}, unexpected {list((got - want).items())[:5]}")
    p.raise_if_any("spans of the forked children")

    instrumented = set(obi.instrumented_pids())
    h.check_eq(instrumented, children | {backend.pid}, "pids obi instrumented")
    # a pid that served as a selected child and, after it exited, as an unselected one is
    # ambiguous: left out (counted)
    reused = unselected & children
    wrongly = sorted((unselected - reused) & ({s.get("process.pid") for s in obi.spans} |
                                              instrumented))
    print(f"pids reused between selected and unselected processes: {len(reused)}", flush=True)
    h.check(not wrongly, f"unselected processes traced or instrumented: {wrongly[:20]}")

    # every selected child has exited: traced_pids is back to its size before the churn
    deadline = time.monotonic() + 10
    while True:
        after = map_counts(maps)
        if after["traced_pids"] == before["traced_pids"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    rss_after = h.otlp_rss_kb(obi.pid)
    print(f"BPF map entries before {before}, after {after}", flush=True)
    print(f"obi RSS before {rss_before} KiB, after {rss_after} KiB", flush=True)
    h.check_eq(after["traced_pids"], before["traced_pids"],
               "traced_pids entries after the churn (stale pids?)")
    limit = RSS_GROWTH_MAX_KB * (16 if h.sanitized() else 1)
    h.check(rss_after - rss_before <= limit,
            f"obi's RSS grew by {rss_after - rss_before} KiB over the churn (limit {limit})")

    obi.stop(expect_code=0)
    summary = obi.summary()
    print(f"obi summary: {summary}", flush=True)
    for k, want in (("processes", 1), ("conns", 0), ("lost_events", 0)):
        p.eq(f"summary {k}", summary.get(k), want)
    p.raise_if_any(f"obi's exit summary {summary}")


h.run(main)
