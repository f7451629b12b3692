#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Redis client and server spans against a real redis-server and redis-py.

A web app (servers/redis_app.py, selected by its port) answers each request with Redis
commands on a connection of its own (redis-py with db=3, so every connection starts with
SELECT 3). For each request: one HTTP server span and one RedisClient span per command, each a
child of the server span, in order, with operation, namespace, query text (arguments as '?'),
error status and code. A pipeline of three commands in one write gives three spans; a 5 MB
value goes through byte-exact. A pool of connections shared by the request threads: each
command is the child of the request whose thread sent it. Then redis-server itself is selected too: RedisServer spans for
the commands it served. The app's answers are identical with and without obi."""
import concurrent.futures
import json
import time

import obi_harness as h
from db_servers import start_redis

SYSTEM_PYTHON = "/usr/bin/python3"


def get(port, path):
    r = h.curl(f"http://127.0.0.1:{port}{path}")
    h.check_eq(r["http_code"], 200, f"app status for {path}")
    return json.loads(r["body"])


def redis_spans(spans):
    return [s for s in spans if s.get("type") in ("RedisClient", "RedisServer")]


def check_children(spans, parent, ops, label, p):
    """The Redis client spans of one request: `ops` [(operation, query, error code or None)]
    in order, all children of `parent` in its trace."""
    got = [s for s in spans if s.get("type") == "RedisClient"
           and s.get("trace_id") == parent["trace_id"]]
    got.sort(key=lambda s: s["start_time_unix_nano"])
    p.eq(f"{label}: operations", [s.get("db.operation.name") for s in got],
         [o[0] for o in ops])
    for s, (op, query, code) in zip(got, ops):
        what = f"{label}: {op}"
        p.eq(f"{what} parent", s.get("parent_span_id"), parent["span_id"])
        p.eq(f"{what} kind", s.get("kind"), "CLIENT")
        p.eq(f"{what} db.system.name", s.get("db.system.name"), "redis")
        p.eq(f"{what} db.namespace", s.get("db.namespace"), "3")
        p.eq(f"{what} db.query.text", s.get("db.query.text"), query)
        p.eq(f"{what} db.response.status_code", s.get("db.response.status_code"), code)
        p.eq(f"{what} error", s.get("error"), code is not None)
        p.eq(f"{what} thread", s.get("thread.id"), parent["thread.id"])
        p.true(parent["start_time_unix_nano"] <= s["start_time_unix_nano"] <=
               s["end_time_unix_nano"] <= parent["end_time_unix_nano"],
               f"{what}: inside its server span")
    return got


def main():
    tmp = h.tmpdir()
    redis_port, app_port = h.free_port(), h.free_port()
    redis_srv = start_redis(redis_port, tmp)
    app = h.Proc([SYSTEM_PYTHON, "-u", f"{h.SERVERS}/redis_app.py", "--port", str(app_port),
                  "--redis-port", str(redis_port), "--db", "3"], name="redis-app")
    app.wait_output(r"^READY pid=\d+")
    h.wait_listening(app_port, app)

    # without obi: the answers to compare with
    plain = {path: get(app_port, path) for path in ("/kv/alpha", "/pipeline", "/big/5000000",
                                                     "/error")}
    h.check_eq(plain["/pipeline"]["results"], ["int", "ResponseError", "bool"],
               "pipeline results without obi")

    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(app_port)})
    obi.expect_instrumented([app.pid], only=True)
    since = time.time_ns()
    traced = {}
    for path in plain:
        traced[path] = get(app_port, path)
    p = h.Problems()
    for path, want in plain.items():
        p.eq(f"answer to {path} under obi", traced[path], want)
    h.check_eq(traced["/big/5000000"]["sent"], traced["/big/5000000"]["got"],
               "5 MB value byte-exact through Redis under obi")
    p.raise_if_any("app answers")

    # per request: SELECT 3 (connect), then the commands
    expect = {
        "/kv/alpha": [("SELECT", "SELECT ?", None), ("SET", "SET ? ?", None),
                      ("GET", "GET ?", None)],
        # the pipeline takes a second connection from redis-py's pool: SELECT again
        "/pipeline": [("SELECT", "SELECT ?", None), ("DEL", "DEL ?", None),
                      ("SELECT", "SELECT ?", None), ("INCRBY", "INCRBY ? ?", None), ("LPUSH", "LPUSH ? ?", "WRONGTYPE"),
                      ("PING", "PING", None)],
        "/big/5000000": [("SELECT", "SELECT ?", None), ("SET", "SET ? ?", None),
                         ("GET", "GET ?", None)],
        "/error": [("SELECT", "SELECT ?", None), ("NOSUCHCOMMAND", "NOSUCHCOMMAND ?", "ERR")],
    }
    total = len(expect) + sum(len(v) for v in expect.values())
    spans = obi.wait_spans(total, what="HTTP and Redis spans")
    servers = {s["url.path"]: s for s in spans if s.get("type") == "HTTP"}
    h.check_eq(sorted(servers), sorted(expect), "HTTP server spans, one per request")
    for path, ops in expect.items():
        h.expect_span(servers[path], f"server span {path}", {"process.pid": app.pid}, since, p)
        check_children(spans, servers[path], ops, path, p)
    h.check_eq(len(redis_spans(spans)), total - len(expect), "Redis client spans in all")
    pipe = sorted((s for s in spans if s.get("trace_id") == servers["/pipeline"]["trace_id"]
                   and s.get("type") == "RedisClient"), key=lambda s: s["start_time_unix_nano"])
    p.true(len({s["span_id"] for s in pipe}) == len(pipe), "pipeline spans have their own ids")
    p.raise_if_any("Redis client spans")
    obi.stop(expect_total=total)

    # one connection pool shared by the request threads: 12 requests, 4 at a time, so pooled
    # connections serve requests of several threads; each GET is its own request's child
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(app_port)})
    obi.expect_instrumented([app.pid], only=True)
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda i: get(app_port, f"/pooled/k{i}"), range(12)))
    spans = obi.wait_spans(24, lambda s: s.get("type") in ("HTTP", "RedisClient") and
                           s.get("db.operation.name") != "SELECT", what="pooled requests' spans")
    servers = {s["span_id"]: s for s in spans if s.get("type") == "HTTP"}
    gets = [s for s in spans if s.get("db.operation.name") == "GET"]
    h.check_eq(len(servers), 12, "server spans of the pooled requests")
    h.check_eq(sorted(servers[g["parent_span_id"]]["url.path"] if g["parent_span_id"] in servers
                      else None for g in gets),
               sorted(f"/pooled/k{i}" for i in range(12)),
               "each pooled GET is the child of its own request")
    p = h.Problems()
    for g in gets:
        parent = servers.get(g["parent_span_id"])
        if parent:
            p.eq(f"pooled GET of {parent['url.path']}: thread", g["thread.id"], parent["thread.id"])
            p.eq(f"pooled GET of {parent['url.path']}: trace", g["trace_id"], parent["trace_id"])
    p.raise_if_any("pooled connections")
    h.check(len({g["network.local.port"] for g in gets}) <= 4, "at most 4 pooled connections")
    obi.stop()

    # redis-server selected as well: its server spans for one request
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(app_port),
                 "OTEL_EBPF_TARGET_PID": str(redis_srv.pid)})
    obi.expect_instrumented([app.pid, redis_srv.pid], only=True)
    get(app_port, "/kv/beta")
    spans = obi.wait_spans(7, what="HTTP, Redis client and Redis server spans")
    srv_spans = sorted((s for s in spans if s.get("type") == "RedisServer"),
                       key=lambda s: s["start_time_unix_nano"])
    h.check_eq([(s["kind"], s.get("db.operation.name"), s.get("db.namespace"))
                for s in srv_spans],
               [("SERVER", "SELECT", "3"), ("SERVER", "SET", "3"), ("SERVER", "GET", "3")],
               "RedisServer spans of redis-server")
    for s in srv_spans:
        h.check_eq(s["process.pid"], redis_srv.pid, "RedisServer span's process")
        h.check_eq(s["network.local.port"], redis_port, "RedisServer span's local port")
    obi.stop(expect_total=7)
    app.kill()
    redis_srv.kill()


h.run(main)
