// SPDX-License-Identifier: Apache-2.0
/* MySQL and MariaDB through the connection tracker: client/server protocol packets built here
 * byte by byte (handshake, queries and result sets with and without CLIENT_DEPRECATE_EOF,
 * errors, prepared statements by id, a reply larger than the capture, TLS left alone). */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "conn.h"

#define MAX_SPANS 16

#define CAPS_41	      (0x0200 | 0x8000 | 0x00080000) /* PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH */
#define WITH_DB	      0x0008
#define SSL	      0x0800
#define DEPRECATE_EOF 0x01000000

static struct span got[MAX_SPANS];
static int n_got;

static void collect(struct span *s, void *ctx)
{
	if (n_got < MAX_SPANS)
		got[n_got] = *s;
	n_got++;
}

/* Bytes being built: packets and their count. */
struct msg {
	uint8_t b[8192];
	size_t n;
	uint8_t seq; /* the next packet's sequence id */
};

static void put(struct msg *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void put16(uint8_t *b, uint32_t v)
{
	b[0] = v;
	b[1] = v >> 8;
}

static void put32(uint8_t *b, uint32_t v)
{
	put16(b, v);
	put16(b + 2, v >> 16);
}

/* A packet: 3-byte length, sequence id, payload. */
static void packet(struct msg *m, const void *payload, size_t n)
{
	uint8_t h[4] = {n, n >> 8, n >> 16, m->seq++};

	put(m, h, 4);
	put(m, payload, n);
}

static void start(struct msg *m, uint8_t seq)
{
	m->n = 0;
	m->seq = seq;
}

static void handshake(struct msg *m, const char *version, uint32_t caps)
{
	uint8_t p[256] = {0x0a};
	size_t n = 1, v = strlen(version) + 1;

	memcpy(p + n, version, v);
	n += v;
	n += 4 + 8 + 1; /* thread id, scramble, filler */
	put16(p + n, caps);
	p[n + 2] = 8;	     /* charset */
	put16(p + n + 3, 2); /* status: autocommit */
	put16(p + n + 5, caps >> 16);
	n += 7 + 1 + 10 + 13;
	memcpy(p + n, "mysql_native_password", 22);
	start(m, 0);
	packet(m, p, n + 22);
}

static void response(struct msg *m, uint32_t caps, const char *db)
{
	uint8_t p[256] = {0};
	size_t n = 32;

	put32(p, caps);
	put32(p + 4, 1 << 24);
	p[8] = 45;
	if (!(caps & SSL) || db) {
		memcpy(p + n, "app", 4);
		n += 4;
		p[n++] = 20; /* auth data */
		n += 20;
		if (db) {
			memcpy(p + n, db, strlen(db) + 1);
			n += strlen(db) + 1;
		}
	}
	start(m, 1);
	packet(m, p, n);
}

static void ok(struct msg *m, uint8_t header, uint32_t status)
{
	uint8_t p[7] = {header, 0, 0};

	put16(p + 3, status);
	packet(m, p, 7);
}

static void eof(struct msg *m, uint32_t status)
{
	uint8_t p[5] = {0xfe, 0, 0};

	put16(p + 3, status);
	packet(m, p, 5);
}

static void command(struct msg *m, uint8_t cmd, const void *arg, size_t n)
{
	uint8_t p[1024] = {cmd};

	memcpy(p + 1, arg, n);
	start(m, 0);
	packet(m, p, n + 1);
}

static void query(struct msg *m, const char *q)
{
	command(m, 0x03, q, strlen(q));
}

static void stmt_cmd(struct msg *m, uint8_t cmd, uint32_t id)
{
	uint8_t p[10] = {0};

	put32(p, id);
	p[5] = 1; /* iteration count */
	command(m, cmd, p, cmd == 0x17 ? 9 : 4);
}

/* A text result set of `rows` rows of one column "v" (EOF packets unless deprecated). */
static void result(struct msg *m, int rows, bool deprecate, uint32_t status)
{
	static const uint8_t coldef[] =
	    "\3def\4shop\5items\5items\1v\1v\x0c\x08\0\x0b\0\0\0\3\0\0\0\0";
	uint8_t one = 1;

	start(m, 1);
	packet(m, &one, 1);
	packet(m, coldef, sizeof(coldef) - 1);
	if (!deprecate)
		eof(m, 2);
	for (int i = 0; i < rows; i++)
		packet(m, "\3abc", 4);
	if (deprecate)
		ok(m, 0xfe, status);
	else
		eof(m, status);
}

static void err(struct msg *m, uint32_t code, const char *state, const char *text)
{
	uint8_t p[256] = {0xff};

	put16(p + 1, code);
	p[3] = '#';
	memcpy(p + 4, state, 5);
	memcpy(p + 9, text, strlen(text));
	start(m, 1);
	packet(m, p, 9 + strlen(text));
}

/* An event of m's bytes from `off`, `len` of them moved, the first `cap` captured. */
static void event_at(struct conn_tracker *t, uint64_t sock, int dir, uint64_t ts,
		     const struct msg *m, size_t off, size_t len, size_t cap)
{
	static struct obi_data_event e;
	size_t tail = len < OBI_TAIL ? len : OBI_TAIL;

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
	e.remote.port = 3306;
	e.dir = dir;
	e.len = len;
	e.cap_len = cap < len ? cap : len;
	memcpy(e.data, m->b + off, e.cap_len);
	memcpy(e.tail, m->b + off + len - tail, tail);
	e.tail_len = tail;
	e.flags = OBI_F_DB_START;
	conn_tracker_data(t, &e, OBI_DATA_HDR_SIZE + e.cap_len);
}

static void event(struct conn_tracker *t, uint64_t sock, int dir, uint64_t ts, const struct msg *m,
		  size_t len, size_t cap)
{
	event_at(t, sock, dir, ts, m, 0, len, cap);
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

/* A client's connection: handshake, response (caps, database), the server's OK. */
static void connect_as_client(struct conn_tracker *t, uint64_t sock, const char *version,
			      uint32_t server_caps, uint32_t client_caps, const char *db)
{
	struct msg m;

	handshake(&m, version, server_caps);
	recv_msg(t, sock, 1, &m);
	response(&m, client_caps, db);
	send_msg(t, sock, 2, &m);
	start(&m, 2);
	ok(&m, 0, 2);
	recv_msg(t, sock, 3, &m);
}

/* MariaDB, classic EOF packets: a query answered with rows, one failing, COM_INIT_DB. */
static void test_query(void)
{
	struct conn_tracker *t = fresh();
	struct msg m;

	connect_as_client(t, 1, "5.5.5-10.11.19-MariaDB-0+deb12u1", CAPS_41 | WITH_DB | 0xffff,
			  CAPS_41 | WITH_DB, "shop");
	CHECK_INT(n_got, 0);
	query(&m, "SELECT name, price FROM items WHERE id = 42 AND name = 'x''y'");
	send_msg(t, 1, 100, &m);
	result(&m, 2, false, 2);
	recv_msg(t, 1, 150, &m);
	CHECK_INT(n_got, 1);
	CHECK_INT(got[0].proto, SPAN_SQL);
	CHECK_INT(got[0].db_system, SPAN_DB_MARIADB);
	CHECK_INT(got[0].kind, SPAN_CLIENT);
	CHECK_STR(got[0].db_operation, "SELECT");
	CHECK_STR(got[0].db_collection, "items");
	CHECK_STR(got[0].db_namespace, "shop");
	CHECK_STR(got[0].db_query, "SELECT name, price FROM items WHERE id = ? AND name = ?");
	CHECK_INT(got[0].start_ns, 99);
	CHECK_INT(got[0].end_ns, 150);
	CHECK(!got[0].error);
	CHECK_INT(got[0].status, 0);

	query(&m, "SELECT * FROM nope");
	send_msg(t, 1, 200, &m);
	err(&m, 1146, "42S02", "Table 'shop.nope' doesn't exist");
	recv_msg(t, 1, 220, &m);
	CHECK_INT(n_got, 2);
	CHECK(got[1].error);
	CHECK_INT(got[1].status, 1);
	CHECK_STR(got[1].db_status, "42S02");
	CHECK_STR(got[1].db_collection, "nope");

	command(&m, 0x02, "other", 5);
	send_msg(t, 1, 300, &m);
	start(&m, 1);
	ok(&m, 0, 2);
	recv_msg(t, 1, 310, &m);
	query(&m, "INSERT INTO t (a) VALUES (1)");
	send_msg(t, 1, 400, &m);
	start(&m, 1);
	ok(&m, 0, 2);
	recv_msg(t, 1, 410, &m);
	CHECK_INT(n_got, 4);
	CHECK_STR(got[2].db_operation, "USE");
	CHECK_STR(got[2].db_namespace, "other");
	CHECK_STR(got[3].db_operation, "INSERT");
	CHECK_STR(got[3].db_namespace, "other");
	CHECK_STR(got[3].db_query, "INSERT INTO t (a) VALUES (?)");

	/* COM_QUIT: no reply, no span */
	command(&m, 0x01, "", 0);
	send_msg(t, 1, 500, &m);
	conn_tracker_free(t);
	CHECK_INT(n_got, 4);
}

/* MySQL 8 with CLIENT_DEPRECATE_EOF on both sides: rows end with an OK (0xfe); two result sets
 * of one CALL (SERVER_MORE_RESULTS_EXISTS) are one span. */
static void test_deprecate_eof(void)
{
	struct conn_tracker *t = fresh();
	struct msg m, two;

	connect_as_client(t, 2, "8.0.36", CAPS_41 | DEPRECATE_EOF | WITH_DB,
			  CAPS_41 | DEPRECATE_EOF, NULL);
	query(&m, "SELECT v FROM items");
	send_msg(t, 2, 100, &m);
	result(&m, 3, true, 2);
	recv_msg(t, 2, 120, &m);
	CHECK_INT(n_got, 1);
	CHECK_INT(got[0].db_system, SPAN_DB_MYSQL);
	CHECK_STR(got[0].db_namespace, "");
	CHECK_STR(got[0].db_collection, "items");
	CHECK_INT(got[0].end_ns, 120);

	query(&m, "CALL two()");
	send_msg(t, 2, 200, &m);
	result(&two, 1, true, 2 | 0x0008);
	result(&m, 1, true, 2 | 0x0008);
	memcpy(two.b + two.n, m.b, m.n);
	two.n += m.n;
	recv_msg(t, 2, 210, &two);
	CHECK_INT(n_got, 1); /* the final OK is still to come */
	start(&m, 9);
	ok(&m, 0, 2);
	recv_msg(t, 2, 220, &m);
	CHECK_INT(n_got, 2);
	CHECK_STR(got[1].db_operation, "CALL");
	CHECK_INT(got[1].end_ns, 220);
	conn_tracker_free(t);
}

/* COM_STMT_PREPARE remembered under PREPARE_OK's id, executed by it, closed; an id obi never
 * saw prepared gives a span of what is known. */
static void test_prepared(void)
{
	struct conn_tracker *t = fresh();
	struct msg m, two;
	struct conn_stats st;
	static const char insert[] = "INSERT INTO orders (id, total) VALUES (?, ?)";
	uint8_t prep[12] = {0};

	connect_as_client(t, 3, "5.5.5-10.11.19-MariaDB", CAPS_41 | WITH_DB, CAPS_41 | WITH_DB,
			  "shop");
	command(&m, 0x16, insert, sizeof(insert) - 1);
	send_msg(t, 3, 100, &m);
	put32(prep + 1, 7);
	put16(prep + 5, 0); /* columns */
	put16(prep + 7, 2); /* parameters */
	start(&m, 1);
	packet(&m, prep, sizeof(prep));
	packet(&m, "\3def\0\0\0\1?\0\x0c\x3f\0\0\0\0\0\xfd\x80\0\0\0\0", 23);
	packet(&m, "\3def\0\0\0\1?\0\x0c\x3f\0\0\0\0\0\xfd\x80\0\0\0\0", 23);
	eof(&m, 2);
	recv_msg(t, 3, 110, &m);
	CHECK_INT(n_got, 1);
	CHECK_STR(got[0].db_operation, "PREPARE");
	CHECK_STR(got[0].db_collection, "orders");
	CHECK_STR(got[0].db_query, insert);

	stmt_cmd(&m, 0x17, 7);
	send_msg(t, 3, 200, &m);
	start(&m, 1);
	ok(&m, 0, 2);
	recv_msg(t, 3, 210, &m);
	CHECK_INT(n_got, 2);
	CHECK_STR(got[1].db_operation, "INSERT");
	CHECK_STR(got[1].db_collection, "orders");
	CHECK_STR(got[1].db_query, insert);
	CHECK_STR(got[1].db_namespace, "shop");
	CHECK_INT(got[1].start_ns, 199);

	stmt_cmd(&m, 0x19, 7); /* COM_STMT_CLOSE: no reply */
	send_msg(t, 3, 300, &m);
	stmt_cmd(&m, 0x17, 7); /* now unknown */
	send_msg(t, 3, 400, &m);
	err(&m, 1243, "HY000", "Unknown prepared statement handler");
	recv_msg(t, 3, 410, &m);
	CHECK_INT(n_got, 3);
	CHECK_STR(got[2].db_operation, "EXECUTE");
	CHECK_STR(got[2].db_query, "");
	CHECK_STR(got[2].db_status, "HY000");
	conn_tracker_stats(t, &st);
	CHECK_INT(st.db_unknown_statements, 1);

	/* MariaDB's execute-direct: PREPARE and EXECUTE of id -1 in one write, both answered */
	command(&m, 0x16, "DELETE FROM orders WHERE id = ?", 31);
	stmt_cmd(&two, 0x17, 0xffffffff);
	memcpy(m.b + m.n, two.b, two.n);
	m.n += two.n;
	send_msg(t, 3, 500, &m);
	put32(prep + 1, 8);
	put16(prep + 7, 0);
	start(&m, 1);
	packet(&m, prep, sizeof(prep));
	start(&two, 1);
	ok(&two, 0, 2);
	memcpy(m.b + m.n, two.b, two.n);
	m.n += two.n;
	recv_msg(t, 3, 520, &m);
	CHECK_INT(n_got, 5);
	CHECK_STR(got[3].db_operation, "PREPARE");
	CHECK_STR(got[4].db_operation, "DELETE");
	CHECK_STR(got[4].db_query, "DELETE FROM orders WHERE id = ?");
	CHECK_INT(got[4].start_ns, 499);
	CHECK_INT(got[4].end_ns, 520);
	conn_tracker_stats(t, &st);
	CHECK_INT(st.db_unknown_statements, 1);
	conn_tracker_free(t);
}

/* A result set far beyond the capture: the reply ends at the write whose last bytes are the
 * final EOF; the next query is followed again. */
static void test_large_result(void)
{
	struct conn_tracker *t = fresh();
	struct msg m;

	connect_as_client(t, 4, "5.5.5-10.11.19-MariaDB", CAPS_41, CAPS_41, NULL);
	query(&m, "SELECT v FROM items");
	send_msg(t, 4, 100, &m);
	result(&m, 1000, false, 0x22);				   /* 4 kB of rows */
	event(t, 4, OBI_DIR_RECV, 110, &m, m.n - 9, OBI_CAP_CONT); /* not the end yet */
	CHECK_INT(n_got, 0);
	event_at(t, 4, OBI_DIR_RECV, 120, &m, m.n - 9, 9, 0); /* the final EOF, in the tail */
	CHECK_INT(n_got, 1);
	CHECK_INT(got[0].end_ns, 120);
	CHECK(!got[0].error);

	query(&m, "SELECT v FROM items WHERE id = 1");
	send_msg(t, 4, 200, &m);
	result(&m, 1, false, 2);
	recv_msg(t, 4, 210, &m);
	CHECK_INT(n_got, 2);
	CHECK_STR(got[1].db_query, "SELECT v FROM items WHERE id = ?");
	CHECK_INT(got[1].end_ns, 210);
	conn_tracker_free(t);
}

/* An SSLRequest: the rest of the connection is TLS and left alone; so is compression. */
static void test_ssl(void)
{
	struct conn_tracker *t = fresh();
	struct msg m;

	handshake(&m, "8.0.36", CAPS_41 | SSL);
	recv_msg(t, 5, 1, &m);
	response(&m, CAPS_41 | SSL, NULL);
	send_msg(t, 5, 2, &m);
	query(&m, "SELECT 1");
	send_msg(t, 5, 100, &m);
	result(&m, 1, false, 2);
	recv_msg(t, 5, 110, &m);
	conn_tracker_free(t);
	CHECK_INT(n_got, 0);

	/* compression (CLIENT_COMPRESS on both sides): left alone too */
	t = fresh();
	connect_as_client(t, 5, "8.0.36", CAPS_41 | 0x20, CAPS_41 | 0x20, NULL);
	query(&m, "SELECT 1");
	send_msg(t, 5, 100, &m);
	result(&m, 1, false, 2);
	recv_msg(t, 5, 110, &m);
	conn_tracker_free(t);
	CHECK_INT(n_got, 0);
}

/* The traced process is the server: it sends the handshake and reads the commands. */
static void test_server(void)
{
	struct conn_tracker *t = fresh();
	struct msg m;

	handshake(&m, "5.5.5-10.11.19-MariaDB", CAPS_41 | WITH_DB);
	send_msg(t, 6, 1, &m);
	response(&m, CAPS_41 | WITH_DB, "shop");
	recv_msg(t, 6, 2, &m);
	start(&m, 2);
	ok(&m, 0, 2);
	send_msg(t, 6, 3, &m);
	query(&m, "UPDATE items SET v = 'x' WHERE id = 3");
	recv_msg(t, 6, 100, &m);
	start(&m, 1);
	ok(&m, 0, 2);
	send_msg(t, 6, 130, &m);
	CHECK_INT(n_got, 1);
	CHECK_INT(got[0].kind, SPAN_SERVER);
	CHECK_STR(got[0].db_operation, "UPDATE");
	CHECK_STR(got[0].db_query, "UPDATE items SET v = ? WHERE id = ?");
	CHECK_INT(got[0].start_ns, 100);
	CHECK_INT(got[0].end_ns, 130);
	conn_tracker_free(t);
}

/* Bytes that only look like a handshake's start open nothing. */
static void test_not_mysql(void)
{
	struct conn_tracker *t = fresh();
	struct msg m;

	start(&m, 0);
	packet(&m,
	       "\x0a"
	       "8.0\x01garbage",
	       12);
	recv_msg(t, 7, 1, &m);
	query(&m, "SELECT 1");
	send_msg(t, 7, 100, &m);
	result(&m, 1, false, 2);
	recv_msg(t, 7, 110, &m);
	conn_tracker_free(t);
	CHECK_INT(n_got, 0);
}

int main(void)
{
	test_query();
	test_deprecate_eof();
	test_prepared();
	test_large_result();
	test_ssl();
	test_server();
	test_not_mysql();
	return check_done("test_mysql");
}
