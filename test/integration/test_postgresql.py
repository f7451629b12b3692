#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""PostgreSQL client spans against a real postgresql-15 (initdb into a temp dir, a free
loopback port): a psycopg2 web app (simple query protocol) and pgbench -M prepared (the
extended protocol with named prepared statements).

Web app (servers/pg_app.py, selected by its port), per request: one HTTP server span and one
SQLClient span per statement (psycopg2's BEGIN, the statement, COMMIT), each a child of the
server span, with operation, table, database, the statement with its literals as '?', and the
SQLSTATE of a failing one. pgbench (selected by its executable): its prepared UPDATE/SELECT/
INSERT statements by table. Then the server selected too: the backend's SQLServer spans.
Answers are the same with and without obi."""
import json
import subprocess
import time

import obi_harness as h
from db_servers import PG_BIN, as_postgres, start_postgres

SYSTEM_PYTHON = "/usr/bin/python3"


def get(port, path):
    r = h.curl(f"http://127.0.0.1:{port}{path}")
    h.check_eq(r["http_code"], 200, f"app status for {path}")
    return json.loads(r["body"])


def sql_children(spans, parent):
    got = [s for s in spans if s.get("type") == "SQLClient"
           and s.get("trace_id") == parent["trace_id"]]
    return sorted(got, key=lambda s: s["start_time_unix_nano"])


def main():
    pg_port, app_port = h.free_port(), h.free_port()
    pg = start_postgres(pg_port)
    app = h.Proc([SYSTEM_PYTHON, "-u", f"{h.SERVERS}/pg_app.py", "--port", str(app_port),
                  "--pg-port", str(pg_port), "--db", "shop"], name="pg-app")
    app.wait_output(r"^READY pid=\d+")
    h.wait_listening(app_port, app)
    paths = ["/item/1", "/add/77", "/missing"]
    plain = {p: get(app_port, p) for p in paths}
    as_postgres([f"{PG_BIN}/psql", "-h", "127.0.0.1", "-p", str(pg_port), "-U", "postgres",
                 "-d", "shop", "-q", "-c", "DELETE FROM items WHERE id = 77"])

    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(app_port), "OTEL_EBPF_AUTO_TARGET_EXE": "*/pgbench"})
    obi.expect_instrumented([app.pid], only=True)
    since = time.time_ns()
    p = h.Problems()
    for path in paths:
        p.eq(f"answer to {path} under obi", get(app_port, path), plain[path])
    p.raise_if_any("app answers")
    h.check_eq(plain["/missing"], {"sqlstate": "42P01"}, "the failing query's SQLSTATE")

    expect = {
        "/item/1": [("BEGIN", "", "BEGIN", None),
                    ("SELECT", "items", "SELECT name, price FROM items WHERE id = ?", None)],
        "/add/77": [("BEGIN", "", "BEGIN", None),
                    ("INSERT", "items",
                     "INSERT INTO items (id, name, price) VALUES (?, ?, ?)", None),
                    ("COMMIT", "", "COMMIT", None)],
        "/missing": [("BEGIN", "", "BEGIN", None),
                     ("SELECT", "no_such_table", "SELECT * FROM no_such_table", "42P01")],
    }
    total = len(expect) + sum(len(v) for v in expect.values())
    spans = obi.wait_spans(total, what="HTTP and SQL spans")
    servers = {s["url.path"]: s for s in spans if s.get("type") == "HTTP"}
    h.check_eq(sorted(servers), sorted(expect), "HTTP server spans, one per request")
    for path, ops in expect.items():
        parent = servers[path]
        h.expect_span(parent, f"server span {path}", {"process.pid": app.pid}, since, p)
        kids = sql_children(spans, parent)
        p.eq(f"{path}: statements", [(s.get("db.operation.name"), s.get("db.collection.name", ""),
                                      s.get("db.query.text"), s.get("db.response.status_code"))
                                     for s in kids], ops)
        for s in kids:
            what = f"{path}: {s.get('db.query.text')}"
            p.eq(f"{what} parent", s["parent_span_id"], parent["span_id"])
            p.eq(f"{what} db.system.name", s.get("db.system.name"), "postgresql")
            p.eq(f"{what} db.namespace", s.get("db.namespace"), "shop")
            p.eq(f"{what} server.port", s.get("server.port"), pg_port)
            p.eq(f"{what} error", s.get("error"), s.get("db.response.status_code") is not None)
            p.true(parent["start_time_unix_nano"] <= s["start_time_unix_nano"] <=
                   s["end_time_unix_nano"] <= parent["end_time_unix_nano"],
                   f"{what}: inside its server span")
    p.raise_if_any("SQL client spans of the web app")

    # pgbench, prepared statements (Parse once per statement, then Bind/Execute by name)
    before = len(obi.spans)
    r = subprocess.run([f"{PG_BIN}/pgbench", "-M", "prepared", "-t", "5", "-c", "1", "-n",
                        "-h", "127.0.0.1", "-p", str(pg_port), "-U", "postgres", "shop"],
                       capture_output=True, timeout=60, env=h.clean_env())
    h.check_eq(r.returncode, 0, f"pgbench exit code ({r.stderr.decode()[-300:]})")
    # per transaction: BEGIN, 3 UPDATEs, a SELECT, an INSERT, END; each of the 7 statements
    # prepared once in a round trip of its own (PREPARE); two queries of pgbench's set-up
    obi.wait_spans(before + 5 * 7 + 7 + 2, what="pgbench's SQL spans")
    bench = [s for s in obi.spans[before:] if s.get("type") == "SQLClient"]
    ops = {}
    for s in bench:
        key = (s.get("db.operation.name"), s.get("db.collection.name", ""))
        ops[key] = ops.get(key, 0) + 1
    h.check_eq(ops, {("BEGIN", ""): 5, ("UPDATE", "pgbench_accounts"): 5,
                     ("SELECT", "pgbench_accounts"): 5, ("UPDATE", "pgbench_tellers"): 5,
                     ("UPDATE", "pgbench_branches"): 5, ("INSERT", "pgbench_history"): 5,
                     ("END", ""): 5, ("PREPARE", ""): 2, ("PREPARE", "pgbench_accounts"): 2,
                     ("PREPARE", "pgbench_tellers"): 1, ("PREPARE", "pgbench_branches"): 1,
                     ("PREPARE", "pgbench_history"): 1, ("SELECT", "pgbench_branches"): 1,
                     ("SELECT", "pg_catalog.pg_class"): 1},
               "pgbench statements by operation and table")
    selects = {s.get("db.query.text") for s in bench if s.get("db.operation.name") == "SELECT"
               and s.get("db.collection.name") == "pgbench_accounts"}
    h.check_eq(selects, {"SELECT abalance FROM pgbench_accounts WHERE aid = $1;"},
               "pgbench's prepared SELECT, its parameter a placeholder")
    obi.stop()

    # the server selected too (its backends are forked per connection): SQLServer spans
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": f"{app_port},{pg_port}"})
    h.check_eq(get(app_port, "/item/2"), {"rows": [["ink", 7.0]]}, "answer with the server traced")
    spans = obi.wait_spans(5, what="HTTP, SQL client and SQL server spans of one request")
    srv = sorted((s for s in spans if s.get("type") == "SQLServer"),
                 key=lambda s: s["start_time_unix_nano"])
    h.check_eq([(s["kind"], s.get("db.operation.name"), s.get("db.collection.name", ""),
                 s.get("db.namespace"), s.get("network.local.port")) for s in srv],
               [("SERVER", "BEGIN", "", "shop", pg_port),
                ("SERVER", "SELECT", "items", "shop", pg_port)],
               "SQLServer spans of the postgres backend")
    h.check(all(s["process.pid"] != app.pid for s in srv), "SQLServer spans are the backend's")
    obi.stop(expect_total=5)
    app.kill()
    pg.kill()


h.run(main)
