// SPDX-License-Identifier: Apache-2.0
/* PostgreSQL through the connection tracker (protocol 3 messages built here byte by byte),
 * and the SQL text helpers. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "conn.h"
#include "sql.h"

#define MAX_SPANS 16

static struct span got[MAX_SPANS];
static int n_got;

static void collect(struct span *s, void *ctx)
{
	if (n_got < MAX_SPANS)
		got[n_got] = *s;
	n_got++;
}

/* A message being built: bytes and their count. */
struct msg {
	uint8_t b[4096];
	size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void put32(struct msg *m, uint32_t v)
{
	uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };

	put(m, b, 4);
}

/* A typed message: type, length, then `n` payload bytes. */
static void typed(struct msg *m, char type, const void *payload, size_t n)
{
	put(m, &type, 1);
	put32(m, (uint32_t)n + 4);
	put(m, payload, n);
}

static void cstr_msg(struct msg *m, char type, const char *s)
{
	typed(m, type, s, strlen(s) + 1);
}

static void startup(struct msg *m, const char *user, const char *db)
{
	struct msg body = { .n = 0 };

	put32(&body, 196608);
	put(&body, "user", 5);
	put(&body, user, strlen(user) + 1);
	put(&body, "database", 9);
	put(&body, db, strlen(db) + 1);
	put(&body, "", 1);
	put32(m, (uint32_t)body.n + 4);
	put(m, body.b, body.n);
}

static void ready(struct msg *m)
{
	typed(m, 'Z', "I", 1);
}

static void event(struct conn_tracker *t, uint64_t sock, int dir, uint64_t ts, const struct msg *m,
		  size_t len, size_t cap)
{
	static struct obi_data_event e;
	size_t tail = m->n < OBI_TAIL ? m->n : OBI_TAIL;

	memset(&e, 0, sizeof(e));
	e.hdr.type = OBI_EV_DATA;
	e.hdr.pid = 100;
	e.hdr.tid = 101;
	e.hdr.ts_ns = ts;
	e.enter_ns = ts - 1;
	e.sock_id = sock;
	e.local.family = AF_INET;
	e.local.port = 41000;
	e.remote.family = AF_INET;
	e.remote.port = 5432;
	e.dir = dir;
	e.len = len;
	e.cap_len = cap < m->n ? cap : m->n;
	memcpy(e.data, m->b, e.cap_len);
	memcpy(e.tail, m->b + m->n - tail, tail);
	e.tail_len = tail;
	e.flags = OBI_F_DB_START;
	conn_tracker_data(t, &e, OBI_DATA_HDR_SIZE + e.cap_len);
}

static void send_msg(struct conn_tracker *t, uint64_t sock, uint64_t ts, const struct msg *m)
{
	event(t, sock, OBI_DIR_SEND, ts, m, m->n, OBI_CAP_MAX);
}

static void recv_msg(struct conn_tracker *t, uint64_t sock, uint64_t ts, const struct msg *m)
{
	event(t, sock, OBI_DIR_RECV, ts, m, m->n, OBI_CAP_MAX);
}

static struct conn_tracker *fresh(void)
{
	n_got = 0;
	memset(got, 0, sizeof(got));
	return conn_tracker_new(collect, NULL);
}

/* Start-up, then a simple query answered with rows, then one that fails. */
static void test_simple_query(void)
{
	struct conn_tracker *t = fresh();
	struct msg m = { .n = 0 };
	static const char err[] = "SERROR\0VERROR\0C42P01\0Mrelation \"nope\" does not exist\0\0";

	startup(&m, "app", "shop");
	send_msg(t, 1, 10, &m);
	m.n = 0;
	typed(&m, 'R', "\0\0\0\0", 4);
	cstr_msg(&m, 'S', "server_version\00015");
	ready(&m);
	recv_msg(t, 1, 20, &m);
	CHECK_INT(n_got, 0);

	m.n = 0;
	cstr_msg(&m, 'Q', "SELECT name, price FROM items WHERE id = 42 AND name = 'x''y'");
	send_msg(t, 1, 100, &m);
	m.n = 0;
	typed(&m, 'T', "\0\0", 2);
	typed(&m, 'D', "\0\0", 2);
	cstr_msg(&m, 'C', "SELECT 1");
	ready(&m);
	recv_msg(t, 1, 150, &m);
	CHECK_INT(n_got, 1);
	CHECK_INT(got[0].proto, SPAN_SQL);
	CHECK_INT(got[0].db_system, SPAN_DB_POSTGRESQL);
	CHECK_INT(got[0].kind, SPAN_CLIENT);
	CHECK_STR(got[0].db_operation, "SELECT");
	CHECK_STR(got[0].db_collection, "items");
	CHECK_STR(got[0].db_namespace, "shop");
	CHECK_STR(got[0].db_query, "SELECT name, price FROM items WHERE id = ? AND name = ?");
	CHECK_INT(got[0].start_ns, 99);
	CHECK_INT(got[0].end_ns, 150);
	CHECK(!got[0].error);
	CHECK_STR(span_type_name(&got[0]), "SQLClient");

	m.n = 0;
	cstr_msg(&m, 'Q', "DELETE FROM nope");
	send_msg(t, 1, 200, &m);
	m.n = 0;
	typed(&m, 'E', err, sizeof(err) - 1);
	ready(&m);
	recv_msg(t, 1, 220, &m);
	CHECK_INT(n_got, 2);
	CHECK(got[1].error);
	CHECK_INT(got[1].status, 1);
	CHECK_STR(got[1].db_status, "42P01");
	CHECK_STR(got[1].db_operation, "DELETE");
	CHECK_STR(got[1].db_collection, "nope");
	conn_tracker_free(t);
}

/* Extended protocol: a named statement prepared once, executed twice by name; an unnamed
 * Parse/Bind/Execute/Sync in one write; and an Execute of a statement obi never saw. */
static void test_extended(void)
{
	struct conn_tracker *t = fresh();
	struct msg m = { .n = 0 };
	struct conn_stats st;
	static const char parse[] = "s1\0INSERT INTO orders (id, total) VALUES ($1, $2)\0\0\0";
	static const char bind[] = "\0s1\0\0\0\0\0\0\0";
	static const char bind_unknown[] = "\0s9\0\0\0\0\0\0\0";

	startup(&m, "app", "shop");
	send_msg(t, 2, 10, &m);
	m.n = 0;
	ready(&m);
	recv_msg(t, 2, 11, &m);

	m.n = 0;
	typed(&m, 'P', parse, sizeof(parse) - 1);
	typed(&m, 'S', "", 0);
	send_msg(t, 2, 100, &m);
	m.n = 0;
	typed(&m, '1', "", 0);
	ready(&m);
	recv_msg(t, 2, 110, &m);
	CHECK_INT(n_got, 1);	/* the Parse's own round trip: it only prepared */
	CHECK_STR(got[0].db_operation, "PREPARE");
	CHECK_STR(got[0].db_collection, "orders");

	for (int i = 0; i < 2; i++) {
		m.n = 0;
		typed(&m, 'B', bind, sizeof(bind) - 1);
		typed(&m, 'E', "\0\0\0\0\0", 5);
		typed(&m, 'S', "", 0);
		send_msg(t, 2, 200 + i * 100, &m);
		m.n = 0;
		typed(&m, '2', "", 0);
		cstr_msg(&m, 'C', "INSERT 0 1");
		ready(&m);
		recv_msg(t, 2, 250 + i * 100, &m);
	}
	CHECK_INT(n_got, 3);
	CHECK_STR(got[2].db_query, "INSERT INTO orders (id, total) VALUES ($1, $2)");
	CHECK_STR(got[2].db_collection, "orders");
	CHECK_INT(got[2].start_ns, 299);
	CHECK_INT(got[2].end_ns, 350);

	m.n = 0;
	typed(&m, 'B', bind_unknown, sizeof(bind_unknown) - 1);
	typed(&m, 'E', "\0\0\0\0\0", 5);
	typed(&m, 'S', "", 0);
	send_msg(t, 2, 500, &m);
	m.n = 0;
	typed(&m, '2', "", 0);
	cstr_msg(&m, 'C', "UPDATE 3");
	ready(&m);
	recv_msg(t, 2, 520, &m);
	CHECK_INT(n_got, 4);
	CHECK_STR(got[3].db_operation, "UPDATE");	/* from CommandComplete */
	CHECK_STR(got[3].db_query, "");
	conn_tracker_stats(t, &st);
	CHECK_INT(st.db_unknown_statements, 1);
	conn_tracker_free(t);
}

/* A large result: its rows go past what the kernel captured of the read; the reply's end is
 * found by the ReadyForQuery in the read's last bytes. An SSLRequest answered 'S' leaves the
 * connection alone. */
static void test_large_result_and_tls(void)
{
	struct conn_tracker *t = fresh();
	struct msg m = { .n = 0 }, big = { .n = 0 };

	startup(&m, "app", "shop");
	send_msg(t, 3, 10, &m);
	m.n = 0;
	ready(&m);
	recv_msg(t, 3, 11, &m);
	m.n = 0;
	cstr_msg(&m, 'Q', "SELECT * FROM events");
	send_msg(t, 3, 100, &m);
	for (int i = 0; i < 100; i++)
		typed(&big, 'D', "\0\1\0\0\0\4abcd", 10);
	cstr_msg(&big, 'C', "SELECT 100");
	ready(&big);
	event(t, 3, OBI_DIR_RECV, 180, &big, big.n, 256);
	CHECK_INT(n_got, 1);
	CHECK_INT(got[0].end_ns, 180);
	CHECK_STR(got[0].db_collection, "events");
	m.n = 0;
	cstr_msg(&m, 'Q', "SELECT 1");
	send_msg(t, 3, 200, &m);
	m.n = 0;
	cstr_msg(&m, 'C', "SELECT 1");
	ready(&m);
	recv_msg(t, 3, 210, &m);
	CHECK_INT(n_got, 2);	/* in step again */

	m.n = 0;
	put32(&m, 8);
	put32(&m, 80877103);
	send_msg(t, 4, 10, &m);
	m.n = 0;
	put(&m, "S", 1);
	recv_msg(t, 4, 11, &m);
	m.n = 0;
	put(&m, "\x16\x03\x01\x00\x10", 5);	/* a TLS ClientHello's start */
	send_msg(t, 4, 12, &m);
	CHECK_INT(n_got, 2);
	conn_tracker_free(t);
}

static void test_sql_text(void)
{
	char q[256], op[32], table[128];

	sql_sanitize("select  *\n from t where a = 'it''s' and b=E'\\'x' and c = 3.5e2", 200, q,
		     sizeof(q));
	CHECK_STR(q, "select * from t where a = ? and b=? and c = ?");
	sql_sanitize("SELECT 1, t2.c3 FROM t2 LIMIT 10", 100, q, sizeof(q));
	CHECK_STR(q, "SELECT ?, t2.c3 FROM t2 LIMIT ?");
	sql_sanitize("SELECT $$dollar 'quoted'$$, $tag$x$tag$, $1 FROM t2", 100, q, sizeof(q));
	CHECK_STR(q, "SELECT ?, ?, $1 FROM t2");
	sql_sanitize("SELECT \"Col 1\", col2 FROM \"My Table\"", 100, q, sizeof(q));
	CHECK_STR(q, "SELECT \"Col 1\", col2 FROM \"My Table\"");
	sql_operation("select a from (select b from x) sub", op, sizeof(op), table, sizeof(table));
	CHECK_STR(op, "SELECT");
	CHECK_STR(table, "");	/* a subquery: no table a simple scan can name */
	sql_operation("insert into public.users (a) values (?)", op, sizeof(op), table,
		      sizeof(table));
	CHECK_STR(op, "INSERT");
	CHECK_STR(table, "public.users");
	sql_operation("UPDATE ONLY accounts SET x = ?", op, sizeof(op), table, sizeof(table));
	CHECK_STR(table, "accounts");
	sql_operation("WITH r AS (SELECT * FROM a) SELECT * FROM r", op, sizeof(op), table,
		      sizeof(table));
	CHECK_STR(op, "WITH");
	CHECK_STR(table, "r");
	sql_operation("BEGIN", op, sizeof(op), table, sizeof(table));
	CHECK_STR(op, "BEGIN");
	CHECK_STR(table, "");
}

int main(void)
{
	test_simple_query();
	test_extended();
	test_large_result_and_tls();
	test_sql_text();
	return check_done("test_postgres");
}
