#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The database servers of the integration tests, from Debian's packages, each started on a
free loopback port with its data in a temp dir: postgresql-15, mariadb-server, redis-server."""
import os
import pwd
import shutil
import subprocess

import obi_harness as h

PG_BIN = "/usr/lib/postgresql/15/bin"
MARIADBD = "/usr/sbin/mariadbd"
USER, PASSWORD = "app", "app-pw"   # MariaDB's application user


def as_postgres(argv, **kw):
    return subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True,
                          capture_output=True, timeout=120, **kw)


def start_postgres(port, pgbench=True):
    """postgresql-15 on 127.0.0.1:port, trust auth, database shop with table items (and
    pgbench's tables unless pgbench=False); returns the server's Proc."""
    if not os.path.exists(f"{PG_BIN}/postgres"):
        raise h.Skip("postgresql-15 is not installed (scripts/install-deps.sh)")
    pw = pwd.getpwnam("postgres")
    base = h.tmpdir("obi-it-pg-")
    data, sock = os.path.join(base, "data"), os.path.join(base, "sock")
    for d in (data, sock):
        os.mkdir(d, 0o700)
        os.chown(d, pw.pw_uid, pw.pw_gid)
    as_postgres([f"{PG_BIN}/initdb", "-D", data, "--auth=trust", "-U", "postgres", "-E", "UTF8"])
    srv = h.Proc(["runuser", "-u", "postgres", "--", f"{PG_BIN}/postgres", "-D", data,
                  "-p", str(port), "-k", sock, "-c", "listen_addresses=127.0.0.1",
                  "-c", "fsync=off"], name="postgres")
    h.wait_listening(port, srv, timeout=30)
    psql = [f"{PG_BIN}/psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-q",
            "-v", "ON_ERROR_STOP=1"]
    as_postgres([*psql, "-c", "CREATE DATABASE shop"])
    as_postgres([*psql, "-d", "shop", "-c",
                 "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric); "
                 "INSERT INTO items VALUES (1, 'pen', 2.5), (2, 'ink', 7)"])
    if pgbench:
        as_postgres([f"{PG_BIN}/pgbench", "-i", "-q", "-s", "1", "-h", "127.0.0.1", "-p",
                     str(port), "-U", "postgres", "shop"])
    return srv


def start_mariadb(port):
    """mariadbd on 127.0.0.1:port, database shop with table items, user USER; returns the
    server's Proc and the argv of a root client (append an SQL string)."""
    if not os.path.exists(MARIADBD) or not shutil.which("mariadb-install-db"):
        raise h.Skip("mariadb-server is not installed (scripts/install-deps.sh)")
    pw = pwd.getpwnam("mysql")
    base = h.tmpdir("obi-it-mysql-")
    os.chmod(base, 0o755)
    data, run = os.path.join(base, "data"), os.path.join(base, "run")
    for d in (data, run):
        os.mkdir(d, 0o700)
        os.chown(d, pw.pw_uid, pw.pw_gid)
    sock = os.path.join(run, "mysqld.sock")
    subprocess.run(["mariadb-install-db", "--no-defaults", "--user=mysql", f"--datadir={data}",
                    "--auth-root-authentication-method=socket", "--skip-test-db"],
                   check=True, capture_output=True, timeout=120)
    srv = h.Proc(["runuser", "-u", "mysql", "--", MARIADBD, "--no-defaults",
                  f"--datadir={data}", f"--socket={sock}", f"--pid-file={run}/mysqld.pid",
                  f"--port={port}", "--bind-address=127.0.0.1", "--skip-networking=0",
                  "--skip-log-bin", "--innodb-buffer-pool-size=16M", "--skip-name-resolve"],
                 name="mariadbd")
    h.wait_listening(port, srv, timeout=60)
    root = ["mariadb", "--no-defaults", f"--socket={sock}", "-u", "root", "-e"]
    subprocess.run([*root,
                    "CREATE DATABASE shop; "
                    f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; "
                    f"GRANT ALL ON shop.* TO '{USER}'@'127.0.0.1'; "
                    "CREATE TABLE shop.items (id int PRIMARY KEY, name text, price decimal(8,2)); "
                    "INSERT INTO shop.items VALUES (1, 'pen', 2.5), (2, 'ink', 7)"],
                   check=True, capture_output=True, timeout=60)
    return srv, root


def start_redis(port, tmp):
    """redis-server on 127.0.0.1:port, no persistence, its files in tmp."""
    exe = shutil.which("redis-server")
    if not exe:
        raise h.Skip("redis-server is not installed (scripts/install-deps.sh)")
    srv = h.Proc([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--dir", tmp, "--daemonize", "no"], name="redis-server")
    h.wait_listening(port, srv)
    return srv
