#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A small web app on MySQL/MariaDB through PyMySQL, for obi's integration tests.

    mysql_app.py --port P --db-port Q --db NAME --user U --password W

HTTP/1.1 on 127.0.0.1:P, one thread per request, one database connection per request:
  GET /item/<id>   SELECT name, price FROM items WHERE id = <id>
  GET /add/<id>    INSERT INTO items (id, name, price) VALUES (<id>, 'n<id>', 1.5), then COMMIT
  GET /missing     SELECT * FROM no_such_table (fails: 1146, 42S02)
  GET /many        SELECT seq FROM seq_1_to_3000 (MariaDB's sequence engine: a result far
                   larger than what obi captures of a read), then on the same connection
                   SELECT name FROM items WHERE id = 2
Answers 200 with a JSON body. Prints "READY pid=<pid>". Needs Debian's python3-pymysql (it
runs under /usr/bin/python3).
"""
import argparse
import http.server
import json
import os
import socketserver
import sys

import pymysql


class App(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connect_args = {}

    def log_message(self, *args):
        pass

    def do_GET(self):
        conn = pymysql.connect(**self.connect_args)
        try:
            body = self.work(conn)
        finally:
            conn.close()
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def work(self, conn):
        parts = self.path.strip("/").split("/")
        cur = conn.cursor()
        if parts[0] == "item":
            cur.execute("SELECT name, price FROM items WHERE id = %s", (int(parts[1]),))
            return {"rows": [[r[0], float(r[1])] for r in cur.fetchall()]}
        if parts[0] == "add":
            i = int(parts[1])
            cur.execute("INSERT INTO items (id, name, price) VALUES (%s, %s, 1.5)",
                        (i, f"n{i}"))
            conn.commit()
            return {"added": i}
        if parts[0] == "missing":
            try:
                cur.execute("SELECT * FROM no_such_table")
            except pymysql.Error as e:
                return {"errno": e.args[0]}
        if parts[0] == "many":
            cur.execute("SELECT seq FROM seq_1_to_3000")
            rows = len(cur.fetchall())
            cur.execute("SELECT name FROM items WHERE id = %s", (2,))
            return {"rows": rows, "then": cur.fetchall()[0][0]}
        return {"unknown": self.path}


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db-port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    args = ap.parse_args()
    App.connect_args = {"host": "127.0.0.1", "port": args.db_port, "user": args.user,
                        "password": args.password, "database": args.db}
    srv = Server(("127.0.0.1", args.port), App)
    print(f"READY pid={os.getpid()}", flush=True)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
