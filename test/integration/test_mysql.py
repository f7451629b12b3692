#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""MySQL-protocol client spans against a real MariaDB server (mariadb-install-db into a temp
dir, a free loopback port): a PyMySQL web app (COM_QUERY) and a libmariadb client of
server-side prepared statements (COM_STMT_PREPARE, COM_STMT_EXECUTE), compiled here.

Web app (servers/mysql_app.py, selected by its port), per request: one HTTP server span and one
SQLClient span per command (PyMySQL's SET AUTOCOMMIT at connect, the statement, COMMIT), each a
child of the server span, with operation, table, database, the statement with its literals as
'?', and the SQLSTATE of a failing one. The prepared-statement client (selected by its
executable): a PREPARE span, then one span per execution with the prepared text. Then the
server selected too: mariadbd's SQLServer spans. Answers are the same with and without obi."""
import json
import os
import subprocess
import time

import obi_harness as h
from db_servers import PASSWORD, USER, start_mariadb

SYSTEM_PYTHON = "/usr/bin/python3"


def build_stmt_client():
    cflags = subprocess.run(["pkg-config", "--cflags", "--libs", "libmariadb"],
                            capture_output=True, text=True)
    if cflags.returncode != 0:
        raise h.Skip("libmariadb-dev is not installed (scripts/install-deps.sh)")
    exe = os.path.join(h.tmpdir("obi-it-mysql-stmt-"), "mysql_stmt")
    subprocess.run(["cc", "-O1", "-Wall", "-Werror", "-o", exe, f"{h.SERVERS}/mysql_stmt.c",
                    *cflags.stdout.split()], check=True, capture_output=True, timeout=120)
    return exe


def get(port, path):
    r = h.curl(f"http://127.0.0.1:{port}{path}")
    h.check_eq(r["http_code"], 200, f"app status for {path}")
    return json.loads(r["body"])


def sql_children(spans, parent):
    got = [s for s in spans if s.get("type") == "SQLClient"
           and s.get("trace_id") == parent["trace_id"]]
    return sorted(got, key=lambda s: s["start_time_unix_nano"])


def shape(s):
    return (s.get("db.operation.name"), s.get("db.collection.name", ""), s.get("db.query.text"),
            s.get("db.response.status_code"))


def main():
    db_port, app_port = h.free_port(), h.free_port()
    db, root = start_mariadb(db_port)
    stmt = build_stmt_client()
    stmt_argv = [stmt, str(db_port), USER, PASSWORD, "shop"]
    app = h.Proc([SYSTEM_PYTHON, "-u", f"{h.SERVERS}/mysql_app.py", "--port", str(app_port),
                  "--db-port", str(db_port), "--db", "shop", "--user", USER,
                  "--password", PASSWORD], name="mysql-app")
    app.wait_output(r"^READY pid=\d+")
    h.wait_listening(app_port, app)
    paths = ["/item/1", "/add/77", "/missing", "/many"]
    plain = {p: get(app_port, p) for p in paths}
    plain_stmt = subprocess.run(stmt_argv, capture_output=True, timeout=60, env=h.clean_env())
    h.check_eq(plain_stmt.returncode, 0, f"mysql_stmt exit code ({plain_stmt.stderr[-300:]!r})")
    subprocess.run([*root, "DELETE FROM shop.items WHERE id = 77"], check=True,
                   capture_output=True, timeout=60)

    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(app_port),
                 "OTEL_EBPF_AUTO_TARGET_EXE": "*/mysql_stmt"})
    obi.expect_instrumented([app.pid], only=True)
    since = time.time_ns()
    p = h.Problems()
    for path in paths:
        p.eq(f"answer to {path} under obi", get(app_port, path), plain[path])
    p.raise_if_any("app answers")
    h.check_eq(plain["/missing"], {"errno": 1146}, "the failing query's error code")
    h.check_eq(plain["/many"], {"rows": 3000, "then": "ink"}, "the large result's rows")

    autocommit = ("SET", "", "SET AUTOCOMMIT = ?", None)
    expect = {
        "/item/1": [autocommit,
                    ("SELECT", "items", "SELECT name, price FROM items WHERE id = ?", None)],
        "/add/77": [autocommit,
                    ("INSERT", "items",
                     "INSERT INTO items (id, name, price) VALUES (?, ?, ?)", None),
                    ("COMMIT", "", "COMMIT", None)],
        "/missing": [autocommit,
                     ("SELECT", "no_such_table", "SELECT * FROM no_such_table", "42S02")],
        "/many": [autocommit, ("SELECT", "seq_1_to_3000", "SELECT seq FROM seq_1_to_3000", None),
                  ("SELECT", "items", "SELECT name FROM items WHERE id = ?", None)],
    }
    total = len(expect) + sum(len(v) for v in expect.values())
    spans = obi.wait_spans(total, what="HTTP and SQL spans")
    servers = {s["url.path"]: s for s in spans if s.get("type") == "HTTP"}
    h.check_eq(sorted(servers), sorted(expect), "HTTP server spans, one per request")
    for path, ops in expect.items():
        parent = servers[path]
        h.expect_span(parent, f"server span {path}", {"process.pid": app.pid}, since, p)
        kids = sql_children(spans, parent)
        p.eq(f"{path}: statements", [shape(s) for s in kids], ops)
        for s in kids:
            what = f"{path}: {s.get('db.query.text')}"
            p.eq(f"{what} parent", s["parent_span_id"], parent["span_id"])
            p.eq(f"{what} db.system.name", s.get("db.system.name"), "mariadb")
            p.eq(f"{what} db.namespace", s.get("db.namespace"), "shop")
            p.eq(f"{what} server.port", s.get("server.port"), db_port)
            p.eq(f"{what} error", s.get("error"), s.get("db.response.status_code") is not None)
            p.true(parent["start_time_unix_nano"] <= s["start_time_unix_nano"] <=
                   s["end_time_unix_nano"] <= parent["end_time_unix_nano"],
                   f"{what}: inside its server span")
    p.raise_if_any("SQL client spans of the web app")

    # server-side prepared statements: prepared once, executed twice by id, closed
    before = len(obi.spans)
    r = subprocess.run(stmt_argv, capture_output=True, timeout=60, env=h.clean_env())
    h.check_eq(r.returncode, 0, f"mysql_stmt exit code ({r.stderr[-300:]!r})")
    h.check_eq(r.stdout, plain_stmt.stdout, "mysql_stmt's answers under obi")
    obi.wait_spans(before + 3, what="the prepared statement's spans")
    got = [s for s in obi.spans[before:] if s.get("type") == "SQLClient"]
    query = "SELECT name FROM items WHERE id = ?"
    p.eq("prepared statement spans", [shape(s) for s in got],
         [("PREPARE", "items", query, None), ("SELECT", "items", query, None),
          ("SELECT", "items", query, None)])
    for s in got:
        p.eq(f"{s.get('db.operation.name')} db.namespace", s.get("db.namespace"), "shop")
        p.eq(f"{s.get('db.operation.name')} db.system.name", s.get("db.system.name"),
             "mariadb")
    p.raise_if_any("prepared statement spans")
    obi.stop()
    summary = obi.summary()
    # the large result is the one reply obi loses track of; it finds its end in the last bytes
    # of the read that ends it, not when the client speaks again (that would count again)
    h.check_eq((summary.get("lost_sync"), summary.get("unanswered")), (1, 0),
               "replies lost track of, spans unanswered")

    # the server selected too (one process, a thread per connection): SQLServer spans
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": f"{app_port},{db_port}"})
    h.check_eq(get(app_port, "/item/2"), {"rows": [["ink", 7.0]]}, "answer with the server traced")
    spans = obi.wait_spans(5, what="HTTP, SQL client and SQL server spans of one request")
    srv = sorted((s for s in spans if s.get("type") == "SQLServer"),
                 key=lambda s: s["start_time_unix_nano"])
    h.check_eq([(s["kind"], s.get("db.operation.name"), s.get("db.collection.name", ""),
                 s.get("db.query.text"), s.get("db.namespace"), s.get("db.system.name"),
                 s.get("network.local.port")) for s in srv],
               [("SERVER", "SET", "", "SET AUTOCOMMIT = ?", "shop", "mariadb", db_port),
                ("SERVER", "SELECT", "items", "SELECT name, price FROM items WHERE id = ?",
                 "shop", "mariadb", db_port)],
               "SQLServer spans of mariadbd")
    h.check(all(s["process.pid"] != app.pid for s in srv), "SQLServer spans are the server's")
    obi.stop(expect_total=5)
    app.kill()
    db.kill()


h.run(main)
