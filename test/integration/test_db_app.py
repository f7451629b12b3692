#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""One web app on PostgreSQL, MariaDB and Redis at once (servers/db_app.py), traced by obi as a
user runs it: OTEL_EBPF_OPEN_PORT=<the app's port>, nothing else.

Each GET /order/N makes seven database calls — Redis GET (a pooled connection shared by every
request thread), PostgreSQL BEGIN and SELECT (psycopg2), MariaDB SET AUTOCOMMIT, INSERT and
COMMIT (PyMySQL), Redis SET — and GET /broken one failing PostgreSQL query. Eight requests,
four at a time from separate threads, then /broken: exactly one HTTP server span per request
and, under each, exactly its database client spans in order, with their system, operation,
table, query text (literals as '?'), error status, parent = that server span, the same thread
and times inside it; no other span. The app's answers are the same with and without obi."""
import concurrent.futures
import json
import subprocess
import time

import obi_harness as h
from db_servers import PASSWORD, USER, start_mariadb, start_postgres, start_redis

SYSTEM_PYTHON = "/usr/bin/python3"
ORDERS = [1, 2, 1, 2, 2, 1, 1, 2]

ORDER_CALLS = [
    ("RedisClient", "redis", "GET", "", "GET ?", None),
    ("SQLClient", "postgresql", "BEGIN", "", "BEGIN", None),
    ("SQLClient", "postgresql", "SELECT", "items", "SELECT name, price FROM items WHERE id = ?",
     None),
    ("SQLClient", "mariadb", "SET", "", "SET AUTOCOMMIT = ?", None),
    ("SQLClient", "mariadb", "INSERT", "orders", "INSERT INTO orders (item, qty) VALUES (?, ?)",
     None),
    ("SQLClient", "mariadb", "COMMIT", "", "COMMIT", None),
    ("RedisClient", "redis", "SET", "", "SET ? ?", None),
]
BROKEN_CALLS = [
    ("SQLClient", "postgresql", "BEGIN", "", "BEGIN", None),
    ("SQLClient", "postgresql", "SELECT", "no_such_table", "SELECT * FROM no_such_table",
     "42P01"),
]
NAMESPACE = {"postgresql": "shop", "mariadb": "shop", "redis": "0"}


def get(port, path):
    r = h.curl(f"http://127.0.0.1:{port}{path}")
    h.check_eq(r["http_code"], 200, f"app status for {path}")
    return json.loads(r["body"])


def run_requests(port):
    """The orders, four at a time; then /broken. Answers by (index, path), without whether the
    cache had the item (that depends on which of the concurrent requests came first)."""
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        futs = {(i, f"/order/{n}"): ex.submit(get, port, f"/order/{n}")
                for i, n in enumerate(ORDERS)}
        out = {k: f.result() for k, f in futs.items()}
    for answer in out.values():
        answer.pop("cached")
    out[(len(ORDERS), "/broken")] = get(port, "/broken")
    return out


def main():
    tmp = h.tmpdir("obi-it-dbapp-")
    pg_port, my_port, redis_port, app_port = (h.free_port() for _ in range(4))
    pg = start_postgres(pg_port, pgbench=False)
    my, my_root = start_mariadb(my_port)
    subprocess.run([*my_root, "CREATE TABLE shop.orders (id int AUTO_INCREMENT PRIMARY KEY, "
                    "item int, qty int)"], check=True, capture_output=True, timeout=60)
    rd = start_redis(redis_port, tmp)
    def start_app(name):
        app = h.Proc([SYSTEM_PYTHON, "-u", f"{h.SERVERS}/db_app.py", "--port", str(app_port),
                      "--pg-port", str(pg_port), "--mysql-port", str(my_port),
                      "--mysql-user", USER, "--mysql-password", PASSWORD,
                      "--redis-port", str(redis_port)], name=name)
        app.wait_output(r"^READY pid=\d+")
        h.wait_listening(app_port, app)
        return app

    # without obi, then a new app (its Redis pool opens its connections under obi: one opened
    # before obi started is not followed, see README)
    app = start_app("db-app-plain")
    plain = run_requests(app_port)
    app.kill()
    app = start_app("db-app")
    h.check_eq(plain[(len(ORDERS), "/broken")], {"sqlstate": "42P01"},
               "the failing query's SQLSTATE without obi")

    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(app_port)})
    obi.expect_instrumented([app.pid], only=True)
    since = time.time_ns()
    traced = run_requests(app_port)
    h.check_eq(traced, plain, "the app's answers under obi")

    total = len(ORDERS) * (1 + len(ORDER_CALLS)) + 1 + len(BROKEN_CALLS)
    spans = obi.wait_spans(total, timeout=20, what="HTTP and database spans")
    servers = sorted((s for s in spans if s.get("type") == "HTTP"),
                     key=lambda s: s["start_time_unix_nano"])
    h.check_eq(sorted(s["url.path"] for s in servers),
               sorted([f"/order/{n}" for n in ORDERS] + ["/broken"]),
               "HTTP server spans, one per request")
    h.expect_distinct_ids(spans)
    p = h.Problems()
    for srv in servers:
        path = srv["url.path"]
        h.expect_span(srv, f"server span {path}", {"process.pid": app.pid}, since, p)
        kids = sorted((s for s in spans if s.get("trace_id") == srv["trace_id"]
                       and s is not srv), key=lambda s: s["start_time_unix_nano"])
        want = BROKEN_CALLS if path == "/broken" else ORDER_CALLS
        p.eq(f"{path} ({srv['span_id']}): database calls",
             [(s.get("type"), s.get("db.system.name"), s.get("db.operation.name"),
               s.get("db.collection.name", ""), s.get("db.query.text"),
               s.get("db.response.status_code")) for s in kids], want)
        for s in kids:
            what = f"{path}: {s.get('db.system.name')} {s.get('db.query.text')}"
            p.eq(f"{what} kind", s.get("kind"), "CLIENT")
            p.eq(f"{what} parent", s.get("parent_span_id"), srv["span_id"])
            p.eq(f"{what} thread", s.get("thread.id"), srv["thread.id"])
            p.eq(f"{what} db.namespace", s.get("db.namespace"),
                 NAMESPACE.get(s.get("db.system.name")))
            p.eq(f"{what} error", s.get("error"), s.get("db.response.status_code") is not None)
            p.true(srv["start_time_unix_nano"] <= s["start_time_unix_nano"] <=
                   s["end_time_unix_nano"] <= srv["end_time_unix_nano"],
                   f"{what}: inside its server span")
    p.raise_if_any("database client spans of the three-database app")
    obi.stop(expect_total=total)
    app.kill()
    for srv in (rd, my, pg):
        srv.kill()


h.run(main)
