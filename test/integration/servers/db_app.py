#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A small shop on three databases at once, for obi's integration tests.

    db_app.py --port P --pg-port A --mysql-port B --mysql-user U --mysql-password W
              --redis-port C

HTTP/1.1 on 127.0.0.1:P, a thread per request. Redis through one redis-py connection pool
shared by every request thread; PostgreSQL (psycopg2) and MariaDB (PyMySQL) through a
connection of the request's own, both on database `shop`.
  GET /order/<id>  Redis GET cache:<id> (a miss); PostgreSQL SELECT the item's name and price;
                   MariaDB INSERT the order, COMMIT; Redis SET cache:<id> to the item's name
  GET /broken      PostgreSQL SELECT from a table that does not exist (42P01)
Answers 200 with a JSON body. Prints "READY pid=<pid>". Runs under /usr/bin/python3 (Debian's
python3-psycopg2, python3-pymysql, python3-redis).
"""
import argparse
import http.server
import json
import os
import socketserver
import sys

import psycopg2
import pymysql
import redis


class App(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    pg_dsn = ""
    mysql_args = {}
    cache = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        parts = self.path.strip("/").split("/")
        if parts[0] == "order":
            body = self.order(int(parts[1]))
        elif parts[0] == "broken":
            body = self.broken()
        else:
            body = {"error": "no such page"}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def order(self, item):
        cached = self.cache.get(f"cache:{item}")
        pg = psycopg2.connect(self.pg_dsn)
        try:
            cur = pg.cursor()
            cur.execute("SELECT name, price FROM items WHERE id = %s", (item,))
            name, price = cur.fetchone()
        finally:
            pg.close()
        my = pymysql.connect(**self.mysql_args)
        try:
            with my.cursor() as cur:
                cur.execute("INSERT INTO orders (item, qty) VALUES (%s, %s)", (item, 1))
            my.commit()
        finally:
            my.close()
        self.cache.set(f"cache:{item}", name)
        return {"item": item, "name": name, "price": float(price),
                "cached": cached.decode() if cached else None}

    def broken(self):
        pg = psycopg2.connect(self.pg_dsn)
        try:
            pg.cursor().execute("SELECT * FROM no_such_table")
        except psycopg2.Error as e:
            return {"sqlstate": e.pgcode}
        finally:
            pg.close()
        return {"sqlstate": None}


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pg-port", type=int, required=True)
    ap.add_argument("--mysql-port", type=int, required=True)
    ap.add_argument("--mysql-user", required=True)
    ap.add_argument("--mysql-password", required=True)
    ap.add_argument("--redis-port", type=int, required=True)
    a = ap.parse_args()
    App.pg_dsn = f"host=127.0.0.1 port={a.pg_port} user=postgres dbname=shop"
    App.mysql_args = {"host": "127.0.0.1", "port": a.mysql_port, "user": a.mysql_user,
                      "password": a.mysql_password, "database": "shop"}
    App.cache = redis.Redis(connection_pool=redis.ConnectionPool(
        host="127.0.0.1", port=a.redis_port, socket_timeout=10))
    srv = Server(("127.0.0.1", a.port), App)
    print(f"READY pid={os.getpid()}", flush=True)
    sys.stdout.flush()
    srv.serve_forever()


main()
