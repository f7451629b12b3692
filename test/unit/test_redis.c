// SPDX-License-Identifier: Apache-2.0
/* Redis through the connection tracker: synthetic kernel events in, spans out; and the RESP
 * scanner on its own. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "conn.h"
#include "resp.h"

#define MAX_SPANS 32

static struct span got[MAX_SPANS];
static int n_got;

static void collect(struct span *s, void *ctx)
{
	if (n_got < MAX_SPANS)
		got[n_got] = *s;
	n_got++;
}

static struct obi_trace next_trace;

/* One data event of `len` bytes of which the kernel captured the first `cap` of `bytes`. */
static void data(struct conn_tracker *t, uint64_t sock, int dir, uint64_t ts, const char *bytes,
		 size_t len, size_t cap)
{
	static struct obi_data_event e;
	size_t n = strlen(bytes);

	memset(&e, 0, sizeof(e));
	e.hdr.type = OBI_EV_DATA;
	e.hdr.pid = 100;
	e.hdr.tid = 101;
	e.hdr.ts_ns = ts;
	e.enter_ns = ts - 1;
	e.sock_id = sock;
	e.local.family = AF_INET;
	e.local.port = 40000;
	e.remote.family = AF_INET;
	e.remote.port = 6379;
	e.dir = dir;
	e.len = len;
	e.cap_len = cap < n ? cap : n;
	memcpy(e.data, bytes, e.cap_len);
	e.flags = resp_is_command(e.data, e.cap_len) ? OBI_F_DB_START : 0;	/* as the kernel flags them */
	e.trace = next_trace;
	memset(&next_trace, 0, sizeof(next_trace));
	conn_tracker_data(t, &e, OBI_DATA_HDR_SIZE + e.cap_len);
}

static void send_text(struct conn_tracker *t, uint64_t sock, uint64_t ts, const char *s)
{
	data(t, sock, OBI_DIR_SEND, ts, s, strlen(s), OBI_CAP_MAX);
}

static void recv_text(struct conn_tracker *t, uint64_t sock, uint64_t ts, const char *s)
{
	data(t, sock, OBI_DIR_RECV, ts, s, strlen(s), OBI_CAP_MAX);
}

static struct conn_tracker *fresh(void)
{
	struct conn_tracker *t = conn_tracker_new(collect, NULL);

	n_got = 0;
	memset(got, 0, sizeof(got));
	return t;
}

/* SET then GET, one at a time: two client spans with their operations and timings. */
static void test_request_reply(void)
{
	struct conn_tracker *t = fresh();

	next_trace.state = OBI_TP_IDS | OBI_TP_LOCAL;
	memset(next_trace.trace_id, 0xaa, 16);
	memset(next_trace.span_id, 0xbb, 8);
	memset(next_trace.parent_id, 0xcc, 8);
	next_trace.flags = 1;
	send_text(t, 1, 1000, "*3\r\n$3\r\nset\r\n$5\r\nmykey\r\n$7\r\nmyvalue\r\n");
	recv_text(t, 1, 3000, "+OK\r\n");
	send_text(t, 1, 4000, "*2\r\n$3\r\nGET\r\n$5\r\nmykey\r\n");
	recv_text(t, 1, 9000, "$7\r\nmyvalue\r\n");
	CHECK_INT(n_got, 2);
	CHECK_INT(got[0].proto, SPAN_REDIS);
	CHECK_INT(got[0].kind, SPAN_CLIENT);
	CHECK_INT(got[0].db_system, SPAN_DB_REDIS);
	CHECK_STR(got[0].db_operation, "SET");
	CHECK_STR(got[0].db_query, "SET ? ?");
	CHECK_STR(got[0].db_namespace, "0");
	CHECK_INT(got[0].start_ns, 999);	/* the send's entry */
	CHECK_INT(got[0].end_ns, 3000);
	CHECK_INT(got[0].status, 0);
	CHECK(!got[0].error);
	CHECK(got[0].span_id[0] == 0xbb && got[0].parent_id[7] == 0xcc);
	CHECK_STR(got[1].db_operation, "GET");
	CHECK_STR(got[1].db_query, "GET ?");
	CHECK_INT(got[1].end_ns, 9000);
	CHECK_STR(span_type_name(&got[1]), "RedisClient");
	conn_tracker_free(t);
}

/* Three commands in one write, replies split over two reads: three spans in order, the error
 * one an error with its code, the later ones siblings of the first. */
static void test_pipeline_and_errors(void)
{
	struct conn_tracker *t = fresh();

	next_trace.state = OBI_TP_IDS;
	memset(next_trace.trace_id, 0x11, 16);
	memset(next_trace.span_id, 0x22, 8);
	memset(next_trace.parent_id, 0x33, 8);
	send_text(t, 2, 100,
		  "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n*3\r\n$5\r\nLPUSH\r\n$1\r\nn\r\n$1\r\nx\r\n"
		  "*1\r\n$4\r\nPING\r\n");
	recv_text(t, 2, 200, ":1\r\n-WRONGTYPE Operation against a key\r\n");
	CHECK_INT(n_got, 2);
	recv_text(t, 2, 300, "+PONG\r\n");
	CHECK_INT(n_got, 3);
	CHECK_STR(got[0].db_operation, "INCR");
	CHECK(!got[0].error);
	CHECK_STR(got[1].db_operation, "LPUSH");
	CHECK(got[1].error);
	CHECK_INT(got[1].status, 1);
	CHECK_STR(got[1].db_status, "WRONGTYPE");
	CHECK_STR(got[2].db_operation, "PING");
	CHECK_INT(got[2].end_ns, 300);
	/* siblings: the first command's trace and parent, a span id of their own */
	CHECK(!memcmp(got[2].trace_id, got[0].trace_id, 16));
	CHECK(!memcmp(got[2].parent_id, got[0].parent_id, 8));
	CHECK(memcmp(got[2].span_id, got[0].span_id, 8) != 0);
	conn_tracker_free(t);
}

/* SELECT 3 switches the namespace of the later commands; its own span names the target. */
static void test_select(void)
{
	struct conn_tracker *t = fresh();

	send_text(t, 3, 10, "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n");
	recv_text(t, 3, 20, "+OK\r\n");
	send_text(t, 3, 30, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
	recv_text(t, 3, 40, "$-1\r\n");
	send_text(t, 3, 50, "*2\r\n$6\r\nSELECT\r\n$2\r\n99\r\n");
	recv_text(t, 3, 60, "-ERR DB index is out of range\r\n");
	send_text(t, 3, 70, "*1\r\n$4\r\nPING\r\n");
	recv_text(t, 3, 80, "+PONG\r\n");
	CHECK_INT(n_got, 4);
	CHECK_STR(got[0].db_namespace, "3");
	CHECK_STR(got[1].db_namespace, "3");
	CHECK_STR(got[2].db_namespace, "99");
	CHECK(got[2].error);
	CHECK_STR(got[2].db_status, "ERR");
	CHECK_STR(got[3].db_namespace, "3");	/* the failed SELECT changed nothing */
	conn_tracker_free(t);
}

/* A large value: the reply's bulk payload spans events the kernel captured only the start of;
 * the scanner skips it by length and the next reply still pairs. RESP3 aggregates too. */
static void test_large_and_resp3(void)
{
	struct conn_tracker *t = fresh();
	static char big[4096];

	send_text(t, 4, 10, "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n");
	/* "$1000000\r\n" + 1,000,000 bytes + CRLF, in a 400,000-byte read and the rest */
	strcpy(big, "$1000000\r\n");
	memset(big + 10, 'v', sizeof(big) - 11);
	data(t, 4, OBI_DIR_RECV, 20, big, 400000, 256);
	CHECK_INT(n_got, 0);
	data(t, 4, OBI_DIR_RECV, 30, big + 10, 1000012 - 400000, 256);
	CHECK_INT(n_got, 1);
	CHECK_INT(got[0].end_ns, 30);
	send_text(t, 4, 40, "*2\r\n$7\r\nHGETALL\r\n$1\r\nh\r\n");
	recv_text(t, 4, 50, "%2\r\n+a\r\n:1\r\n+b\r\n*2\r\n#t\r\n_\r\n");
	CHECK_INT(n_got, 2);
	CHECK_STR(got[1].db_operation, "HGETALL");
	CHECK_INT(got[1].end_ns, 50);
	/* an attribute before the reply and a pushed message answer nothing */
	send_text(t, 4, 60, "*1\r\n$4\r\nPING\r\n");
	recv_text(t, 4, 70, ">2\r\n+message\r\n+hi\r\n|1\r\n+ttl\r\n:5\r\n+PONG\r\n");
	CHECK_INT(n_got, 3);
	CHECK_INT(got[2].end_ns, 70);
	CHECK(!got[2].error);
	conn_tracker_free(t);
}

/* A RESP-looking request answered in another protocol gives no span (counted); the close of
 * a Redis connection with a command in flight gives an unanswered error span. */
static void test_not_redis_and_close(void)
{
	struct conn_tracker *t = fresh();
	struct obi_close_event ce = { .hdr = { .type = OBI_EV_CLOSE, .pid = 100, .ts_ns = 500 },
				      .sock_id = 6 };
	struct conn_stats st;

	send_text(t, 5, 10, "*1\r\n$4\r\nPING\r\n");
	recv_text(t, 5, 20, "HTTP/1.1 400 Bad Request\r\n\r\n");
	send_text(t, 5, 30, "*1\r\n$4\r\nPING\r\n");
	CHECK_INT(n_got, 0);
	conn_tracker_stats(t, &st);
	CHECK_INT(st.not_http, 1);

	send_text(t, 6, 100, "*1\r\n$4\r\nPING\r\n");
	recv_text(t, 6, 110, "+PONG\r\n");
	send_text(t, 6, 120, "*2\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n");
	conn_tracker_close(t, &ce);
	CHECK_INT(n_got, 2);
	CHECK_STR(got[1].db_operation, "BLPOP");
	CHECK(got[1].error);
	CHECK_INT(got[1].end_ns, 500);
	conn_tracker_stats(t, &st);
	CHECK_INT(st.spans_unanswered, 1);
	conn_tracker_free(t);
}

/* A command whose value goes out in a later write (redis-py sends a large value on its own):
 * its span starts at the write that began it and carries that write's ids from the kernel. */
static void test_command_over_writes(void)
{
	struct conn_tracker *t = fresh();
	static char value[3000];

	next_trace.state = OBI_TP_IDS | OBI_TP_LOCAL;
	memset(next_trace.trace_id, 0x5a, 16);
	memset(next_trace.span_id, 0x5b, 8);
	memset(next_trace.parent_id, 0x5c, 8);
	send_text(t, 8, 1000, "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$3000\r\n");
	memset(value, 'x', sizeof(value) - 1);
	data(t, 8, OBI_DIR_SEND, 5000, value, 3000, 256);
	send_text(t, 8, 5001, "\r\n");
	recv_text(t, 8, 6000, "+OK\r\n");
	CHECK_INT(n_got, 1);
	CHECK_STR(got[0].db_operation, "SET");
	CHECK_INT(got[0].start_ns, 999);
	CHECK_INT(got[0].handler_ns, 5001);
	CHECK(got[0].span_id[0] == 0x5b && got[0].parent_id[0] == 0x5c);
	conn_tracker_free(t);
}

/* The server side: redis-server selected, commands read, replies written. */
static void test_server(void)
{
	struct conn_tracker *t = fresh();

	recv_text(t, 7, 10, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
	send_text(t, 7, 25, "$1\r\nv\r\n");
	CHECK_INT(n_got, 1);
	CHECK_INT(got[0].kind, SPAN_SERVER);
	CHECK_INT(got[0].start_ns, 10);
	CHECK_INT(got[0].end_ns, 25);
	CHECK_STR(span_type_name(&got[0]), "RedisServer");
	conn_tracker_free(t);
}

static unsigned n_values;
static struct resp_value last;

static bool count_value(const struct resp_value *v, void *ctx)
{
	n_values++;
	last = *v;
	return true;
}

/* The scanner alone: headers split at every byte, and what it refuses. */
static void test_scanner(void)
{
	const char *cmd = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nhello\r\n";
	struct resp_scan s;

	resp_scan_reset(&s);
	n_values = 0;
	for (size_t i = 0; cmd[i]; i++)
		resp_scan(&s, (const uint8_t *)cmd + i, 1, 1, count_value, NULL, NULL);
	CHECK_INT(n_values, 1);
	CHECK(!s.lost);
	CHECK_INT(last.elements, 3);
	CHECK_STR(last.arg[0], "SET");
	CHECK_STR(last.arg[1], "key");

	resp_scan_reset(&s);
	CHECK_INT(resp_scan(&s, (const uint8_t *)"GET / HTTP/1.1\r\n", 16, 16, count_value, NULL, NULL), 0);
	CHECK(s.lost);
	resp_scan_reset(&s);
	/* a header in bytes the kernel did not capture */
	CHECK_INT(resp_scan(&s, (const uint8_t *)"+OK\r\n", 5, 20, count_value, NULL, NULL), 1);
	CHECK(s.lost);
	resp_scan_reset(&s);
	CHECK_INT(resp_scan(&s, (const uint8_t *)"$99999999999\r\n", 14, 14, count_value, NULL, NULL), 0);
	CHECK(s.lost);

	CHECK(resp_is_command((const uint8_t *)"*1\r\n$4\r\nPING\r\n", 14));
	CHECK(!resp_is_command((const uint8_t *)"*0\r\n", 4));
	CHECK(!resp_is_command((const uint8_t *)"*1\r\n:4\r\n", 8));
	CHECK(!resp_is_command((const uint8_t *)"GET / HTTP/1.1", 14));
}

int main(void)
{
	test_request_reply();
	test_pipeline_and_errors();
	test_select();
	test_large_and_resp3();
	test_not_redis_and_close();
	test_server();
	test_command_over_writes();
	test_scanner();
	return check_done("test_redis");
}
