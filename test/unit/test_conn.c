// SPDX-License-Identifier: Apache-2.0
/* conn tracker: synthetic kernel events in, spans out. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "conn.h"

#define MAX_SPANS 16

static struct span got[MAX_SPANS];
static int n_got;

static void collect(struct span *s, void *ctx)
{
	if (n_got < MAX_SPANS)
		got[n_got] = *s;
	n_got++;
}

/* The ports of the events data() makes. */
static uint16_t remote_port = 40000;
static uint16_t local_port = 8080;

/* The ids the kernel attaches to the next event, if any. */
static struct obi_trace next_trace;

/* One data event: `text` of which the kernel captured at most `cap` bytes, `len` moved. */
static void data(struct conn_tracker *t, uint64_t sock, uint32_t tid, int dir, uint64_t ts,
		 const char *text, size_t len, size_t cap)
{
	static struct obi_data_event e;
	size_t tl = strlen(text);

	memset(&e, 0, sizeof(e));
	e.hdr.type = OBI_EV_DATA;
	e.hdr.pid = 100;
	e.hdr.tid = tid;
	e.hdr.ts_ns = ts;
	e.enter_ns = ts - 1;
	e.sock_id = sock;
	e.local.family = AF_INET;
	e.local.port = local_port;
	e.remote.family = AF_INET;
	e.remote.port = remote_port;
	e.dir = dir;
	e.len = len;
	if (cap > tl)
		cap = tl;
	e.cap_len = cap;
	memcpy(e.data, text, cap);
	if (len == tl) {
		size_t n = tl < OBI_TAIL ? tl : OBI_TAIL;

		memcpy(e.tail, text + tl - n, n);
		e.tail_len = n;
	}
	e.flags = (cap >= 4 && (memcmp(text, "GET ", 4) == 0 || memcmp(text, "POST", 4) == 0 ||
				memcmp(text, "HTTP", 4) == 0))
			  ? OBI_F_MSG_START
			  : 0;
	e.trace = next_trace;
	memset(&next_trace, 0, sizeof(next_trace));
	conn_tracker_data(t, &e, OBI_DATA_HDR_SIZE + cap);
}

static void text(struct conn_tracker *t, uint64_t sock, uint32_t tid, int dir, uint64_t ts,
		 const char *s)
{
	data(t, sock, tid, dir, ts, s, strlen(s), OBI_CAP_START);
}

static void close_sock_by(struct conn_tracker *t, uint32_t pid, uint64_t sock, uint64_t ts)
{
	struct obi_close_event e = { .hdr = { .type = OBI_EV_CLOSE, .pid = pid, .ts_ns = ts },
				     .sock_id = sock };

	conn_tracker_close(t, &e);
}

static void close_sock(struct conn_tracker *t, uint64_t sock, uint64_t ts)
{
	close_sock_by(t, 100, sock, ts);
}

static bool zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (b[i])
			return false;
	}
	return true;
}

static void test_simple_server(void)
{
	struct conn_tracker *t = conn_tracker_new(collect, NULL);

	n_got = 0;
	conn_tracker_set_clock(t, 1000000);
	text(t, 1, 7, OBI_DIR_RECV, 100, "GET /a/1?x=y HTTP/1.1\r\nHost: h:8080\r\n\r\n");
	CHECK_INT(n_got, 0);
	text(t, 1, 7, OBI_DIR_SEND, 300, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
	CHECK_INT(n_got, 1);
	CHECK_INT(got[0].kind, SPAN_SERVER);
	CHECK_STR(got[0].method, "GET");
	CHECK_STR(got[0].path, "/a/1");
	CHECK_STR(got[0].route, "/a/*");
	CHECK_STR(got[0].host_header, "h:8080");
	CHECK_INT(got[0].status, 200);
	CHECK_INT(got[0].resp_body_size, 5);
	CHECK_INT(got[0].req_body_size, 0);
	CHECK_INT(got[0].start_ns, 1000100);
	CHECK_INT(got[0].end_ns, 1000300);
	CHECK_INT(got[0].tid, 7);
	CHECK_INT(got[0].local.port, 8080);
	CHECK(!got[0].error);
	CHECK(!zero(got[0].trace_id, 16));
	CHECK(!zero(got[0].span_id, 8));
	CHECK(zero(got[0].parent_id, 8));
	conn_tracker_free(t);
}

/* Three requests in one read, answered by three writes, in order. */
static void test_pipelined(void)
{
	struct conn_tracker *t = conn_tracker_new(collect, NULL);

	n_got = 0;
	text(t, 2, 1, OBI_DIR_RECV, 10,
	     "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /missing HTTP/1.1\r\n\r\n");
	text(t, 2, 1, OBI_DIR_SEND, 20, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na");
	text(t, 2, 1, OBI_DIR_SEND, 21,
	     "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nbHTTP/1.1 404 Not Found\r\n"
	     "Content-Length: 0\r\n\r\n");
	CHECK_INT(n_got, 3);
	CHECK_STR(got[0].path, "/a");
	CHECK_STR(got[1].path, "/b");
	CHECK_STR(got[2].path, "/missing");
	CHECK_INT(got[0].status, 200);
	CHECK_INT(got[1].status, 200);
	CHECK_INT(got[2].status, 404);
	conn_tracker_free(t);
}

/* A head split over reads, a body in a later read, a response body over several writes. */
static void test_split(void)
{
	struct conn_tracker *t = conn_tracker_new(collect, NULL);

	n_got = 0;
	text(t, 3, 1, OBI_DIR_RECV, 10, "POST /up HTTP/1.1\r\nHo");
	text(t, 3, 1, OBI_DIR_RECV, 11, "st: x\r\nContent-Length: 10\r\n\r\n");
	text(t, 3, 1, OBI_DIR_RECV, 12, "0123456789");
	text(t, 3, 1, OBI_DIR_SEND, 20, "HTTP/1.1 201 Created\r\nContent-Length: 3000\r\n\r\n");
	CHECK_INT(n_got, 0);
	data(t, 3, 1, OBI_DIR_SEND, 21, "xxxxxxxx", 2000, 8);
	CHECK_INT(n_got, 0);
	data(t, 3, 1, OBI_DIR_SEND, 22, "xxxxxxxx", 1000, 8);
	CHECK_INT(n_got, 1);
	CHECK_STR(got[0].method, "POST");
	CHECK_STR(got[0].host_header, "x");
	CHECK_INT(got[0].req_body_size, 10);
	CHECK_INT(got[0].resp_body_size, 3000);
	CHECK_INT(got[0].status, 201);
	CHECK_INT(got[0].start_ns, 10);
	CHECK_INT(got[0].handler_ns, 12);
	CHECK_INT(got[0].end_ns, 22);
	conn_tracker_free(t);
}

static void test_chunked_and_close(void)
{
	struct conn_tracker *t = conn_tracker_new(collect, NULL);

	n_got = 0;
	text(t, 4, 1, OBI_DIR_RECV, 10, "GET /c HTTP/1.1\r\n\r\n");
	text(t, 4, 1, OBI_DIR_SEND, 20, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	text(t, 4, 1, OBI_DIR_SEND, 21, "5\r\nhello\r\n");
	CHECK_INT(n_got, 0);
	text(t, 4, 1, OBI_DIR_SEND, 22, "0\r\n");
	CHECK_INT(n_got, 0);
	text(t, 4, 1, OBI_DIR_SEND, 22, "\r\n");	/* terminator split over two writes */
	CHECK_INT(n_got, 1);
	CHECK_INT(got[0].end_ns, 22);
	/* a request the peer never gets an answer to */
	text(t, 4, 1, OBI_DIR_RECV, 30, "GET /slow HTTP/1.1\r\n\r\n");
	close_sock(t, 4, 40);
	CHECK_INT(n_got, 2);
	CHECK_STR(got[1].path, "/slow");
	CHECK_INT(got[1].status, 0);
	CHECK(got[1].error);
	conn_tracker_free(t);
}

static void kernel_ids(uint8_t fill, const uint8_t *trace, const uint8_t *parent, uint8_t state)
{
	memset(&next_trace, 0, sizeof(next_trace));
	memset(next_trace.span_id, fill, 8);
	memcpy(next_trace.trace_id, trace, 16);
	if (parent)
		memcpy(next_trace.parent_id, parent, 8);
	next_trace.flags = 1;
	next_trace.state = state;
}

/* Spans carry the ids the kernel gave (and maybe already put on the wire). */
static void test_kernel_ids(void)
{
	static const uint8_t trace[16] = { 0x0a, 0xf7, 0x65, 0x19 };
	static const uint8_t remote_parent[8] = { 0xb7, 0xad };
	uint8_t server_span[8];
	struct conn_tracker *t = conn_tracker_new(collect, NULL);

	n_got = 0;
	kernel_ids(0x11, trace, remote_parent, OBI_TP_IDS | OBI_TP_REMOTE);
	text(t, 5, 9, OBI_DIR_RECV, 10, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	memset(server_span, 0x11, 8);
	kernel_ids(0x22, trace, server_span, OBI_TP_IDS | OBI_TP_LOCAL | OBI_TP_INSERT);
	text(t, 6, 9, OBI_DIR_SEND, 11, "GET /up HTTP/1.1\r\nHost: backend\r\n\r\n");
	text(t, 6, 9, OBI_DIR_RECV, 12, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n");
	text(t, 5, 9, OBI_DIR_SEND, 13, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
	CHECK_INT(n_got, 2);
	CHECK_INT(got[0].kind, SPAN_CLIENT);
	CHECK_INT(got[1].kind, SPAN_SERVER);
	CHECK(memcmp(got[0].trace_id, trace, 16) == 0);
	CHECK(memcmp(got[1].trace_id, trace, 16) == 0);
	CHECK(memcmp(got[1].parent_id, remote_parent, 8) == 0);
	CHECK(memcmp(got[0].parent_id, got[1].span_id, 8) == 0);
	CHECK_INT(got[0].span_id[0], 0x22);
	CHECK(got[0].error);	/* client >= 400 */
	CHECK(got[1].error);	/* server >= 500 */

	/* a head split over two reads keeps the ids of its first read */
	kernel_ids(0x33, trace, NULL, OBI_TP_IDS);
	text(t, 7, 1, OBI_DIR_RECV, 20, "GET /split HTTP/1.1\r\nHo");
	text(t, 7, 1, OBI_DIR_RECV, 21, "st: x\r\n\r\n");
	text(t, 7, 1, OBI_DIR_SEND, 22, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	CHECK_INT(n_got, 3);
	CHECK_INT(got[2].span_id[0], 0x33);
	CHECK(zero(got[2].parent_id, 8));
	conn_tracker_free(t);
}

/* Requests after the first in one read get ids from user space, honouring their header. */
static void test_pipelined_traceparent(void)
{
	struct conn_tracker *t = conn_tracker_new(collect, NULL);
	static const uint8_t trace[16] = { 1 };

	n_got = 0;
	kernel_ids(0x44, trace, NULL, OBI_TP_IDS);
	text(t, 8, 1, OBI_DIR_RECV, 10,
	     "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\ntraceparent: "
	     "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n"
	     "GET /3 HTTP/1.1\r\ntraceparent: 00-00000000000000000000000000000000-b7ad6b7169203331-01"
	     "\r\n\r\n");
	text(t, 8, 1, OBI_DIR_SEND, 11,
	     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0"
	     "\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	CHECK_INT(n_got, 3);
	CHECK_INT(got[0].span_id[0], 0x44);
	CHECK_INT(got[1].trace_id[0], 0x0a);
	CHECK_INT(got[1].parent_id[0], 0xb7);
	CHECK(got[1].span_id[0] != 0x44 || got[1].span_id[1] != 0x44);
	CHECK(zero(got[2].parent_id, 8));	/* invalid header: new trace */
	CHECK(!zero(got[2].trace_id, 16));
	conn_tracker_free(t);
}

/* A forking server: the parent (pid 99) closes its copy of the accepted socket while the child
 * (pid 100, the events' pid) is between reading the request and answering it. */
static void test_close_by_other_process(void)
{
	struct conn_tracker *t = conn_tracker_new(collect, NULL);
	struct conn_stats st;

	n_got = 0;
	text(t, 9, 7, OBI_DIR_RECV, 100, "GET /pid HTTP/1.1\r\nHost: h\r\n\r\n");
	close_sock_by(t, 99, 9, 150);
	CHECK_INT(n_got, 0);
	text(t, 9, 7, OBI_DIR_SEND, 200, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	CHECK_INT(n_got, 1);
	CHECK_INT(got[0].status, 200);
	CHECK_STR(got[0].path, "/pid");
	close_sock(t, 9, 300);
	conn_tracker_stats(t, &st);
	CHECK_INT(st.conns, 0);
	CHECK_INT(st.spans_unanswered, 0);
	conn_tracker_free(t);
}

/* The kernel reused a socket's memory for a new connection and obi never saw the old one
 * close: the new addresses end the old connection (its request unanswered) and start anew. */
static void test_socket_reused(void)
{
	struct conn_tracker *t = conn_tracker_new(collect, NULL);
	struct conn_stats st;

	n_got = 0;
	text(t, 9, 7, OBI_DIR_RECV, 100, "GET /old HTTP/1.1\r\nHost: h\r\n\r\n");
	remote_port = 40001;
	text(t, 9, 8, OBI_DIR_RECV, 200, "GET /new HTTP/1.1\r\nHost: h\r\n\r\n");
	CHECK_INT(n_got, 1);
	CHECK_STR(got[0].path, "/old");
	CHECK_INT(got[0].remote.port, 40000);
	CHECK_INT(got[0].status, 0);
	text(t, 9, 8, OBI_DIR_SEND, 300, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	remote_port = 40000;
	CHECK_INT(n_got, 2);
	CHECK_STR(got[1].path, "/new");
	CHECK_INT(got[1].remote.port, 40001);
	CHECK_INT(got[1].status, 200);
	conn_tracker_stats(t, &st);
	CHECK_INT(st.conns, 1);
	conn_tracker_free(t);
}

/* A client that half-closed reads the answer after TCP closed the socket: the kernel gave the
 * local port back (events read port 0), and it is still the same connection. */
static void test_closed_socket_port_zero(void)
{
	struct conn_tracker *t = conn_tracker_new(collect, NULL);
	struct conn_stats st;

	n_got = 0;
	local_port = 51000;
	text(t, 11, 7, OBI_DIR_SEND, 100, "GET /a HTTP/1.0\r\nHost: h\r\n\r\n");
	local_port = 0;
	text(t, 11, 7, OBI_DIR_RECV, 200, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
	local_port = 8080;
	CHECK_INT(n_got, 1);
	CHECK_STR(got[0].path, "/a");
	CHECK_INT(got[0].status, 200);
	CHECK_INT(got[0].local.port, 51000);
	conn_tracker_stats(t, &st);
	CHECK_INT(st.orphan_responses, 0);
	conn_tracker_free(t);
}

/* A request's memory is reused once its span is out: nothing of the previous request shows
 * through in the next one's span, and more finished requests than are kept are freed (ASan). */
static void test_reused_request_memory(void)
{
	struct conn_tracker *t = conn_tracker_new(collect, NULL);
	static const char one[] = "GET /x HTTP/1.1\r\n\r\n";
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	char many[60 * sizeof(one)];

	n_got = 0;
	conn_tracker_set_clock(t, 1000000);
	text(t, 3, 7, OBI_DIR_RECV, 100,
	     "POST /users/42 HTTP/1.1\r\nHost: shop:80\r\nUser-Agent: curl/8\r\n"
	     "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
	     "Content-Length: 3\r\n\r\nabc");
	text(t, 3, 7, OBI_DIR_SEND, 200,
	     "HTTP/1.1 500 Oops\r\nContent-Length: 2\r\n\r\nno");
	text(t, 3, 8, OBI_DIR_RECV, 300, "GET /b HTTP/1.1\r\n\r\n");
	text(t, 3, 8, OBI_DIR_SEND, 400, "HTTP/1.1 204 No Content\r\n\r\n");
	CHECK_INT(n_got, 2);
	CHECK_STR(got[0].host_header, "shop:80");
	CHECK(!zero(got[0].parent_id, 8));
	CHECK(got[0].error);
	CHECK_STR(got[1].method, "GET");
	CHECK_STR(got[1].path, "/b");
	CHECK_STR(got[1].route, "/b");
	CHECK_STR(got[1].host_header, "");
	CHECK_STR(got[1].user_agent, "");
	CHECK(zero(got[1].parent_id, 8));
	CHECK(memcmp(got[1].trace_id, got[0].trace_id, 16) != 0);
	CHECK_INT(got[1].status, 204);
	CHECK(!got[1].error);
	CHECK_INT(got[1].req_body_size, 0);
	CHECK_INT(got[1].resp_body_size, 0);
	CHECK_INT(got[1].start_ns, 1000300);
	CHECK_INT(got[1].end_ns, 1000400);

	/* 300 requests waiting at once (60 on each of 5 connections), then all answered */
	many[0] = '\0';
	for (int i = 0; i < 60; i++)
		strcat(many, one);
	for (uint64_t sock = 10; sock < 15; sock++)
		data(t, sock, 9, OBI_DIR_RECV, 500, many, strlen(many), OBI_CAP_MAX);
	for (uint64_t sock = 10; sock < 15; sock++)
		for (int i = 0; i < 60; i++)
			text(t, sock, 9, OBI_DIR_SEND, 600, ok);
	CHECK_INT(n_got, 2 + 300);
	conn_tracker_free(t);
}

static void test_garbage(void)
{
	struct conn_tracker *t = conn_tracker_new(collect, NULL);
	struct conn_stats st;

	n_got = 0;
	text(t, 7, 1, OBI_DIR_RECV, 10, "GET \x01\x02\x03 garbage\r\n\r\n");
	text(t, 7, 1, OBI_DIR_SEND, 11, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	CHECK_INT(n_got, 0);
	conn_tracker_stats(t, &st);
	CHECK_INT(st.not_http, 1);
	CHECK_INT(st.orphan_responses, 1);
	conn_tracker_free(t);
}

#define TP_IDS "0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331"

static int tp(const char *v)
{
	uint8_t tr[16], p[8], f = 0xaa;
	int r = traceparent_parse(v, tr, p, &f);

	/* a value taken is read in full: ids and flags as written */
	if (r == 0) {
		CHECK_INT(tr[0], 0x0a);
		CHECK_INT(tr[15], 0x9c);
		CHECK_INT(p[0], 0xb7);
		CHECK_INT(p[7], 0x31);
	}
	return r == 0 ? f : -1;
}

/* W3C Trace Context level 2, traceparent: blanks around, versions, lengths, hex, zero ids. */
static void test_traceparent_parse(void)
{
	CHECK_INT(tp("00-" TP_IDS "-01"), 1);
	CHECK_INT(tp("00-" TP_IDS "-00"), 0);
	CHECK_INT(tp("00-" TP_IDS "-ff"), 0xff); /* unknown flags are kept */
	/* OWS around the value; inside it, none */
	CHECK_INT(tp(" 00-" TP_IDS "-01"), 1);
	CHECK_INT(tp("\t00-" TP_IDS "-01"), 1);
	CHECK_INT(tp("00-" TP_IDS "-01 "), 1);
	CHECK_INT(tp("00-" TP_IDS "-01\t"), 1);
	CHECK_INT(tp(" \t 00-" TP_IDS "-01 \t "), 1);
	CHECK_INT(tp("                00-" TP_IDS "-01                "), 1); /* 16 each side */
	CHECK_INT(tp("                 00-" TP_IDS "-01"), -1);			  /* 17 */
	CHECK_INT(tp("00-" TP_IDS "-01                 "), -1);
	CHECK_INT(tp("00 -" TP_IDS "-01"), -1);
	CHECK_INT(tp("00-" TP_IDS " -01"), -1);
	CHECK_INT(tp("00-" TP_IDS "-01 x"), -1);
	/* version 00: exactly 55 characters */
	CHECK_INT(tp("00-" TP_IDS "-01-"), -1);
	CHECK_INT(tp("00-" TP_IDS "-01-what-the-future-will-be-like"), -1);
	CHECK_INT(tp("00-" TP_IDS "-01."), -1);
	CHECK_INT(tp("00-" TP_IDS "-1"), -1);
	CHECK_INT(tp("00-" TP_IDS "-011"), -1);
	CHECK_INT(tp("00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01"), -1);
	CHECK_INT(tp("00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01"), -1);
	CHECK_INT(tp(""), -1);
	CHECK_INT(tp("   "), -1);
	/* later versions: the first 55 characters, then the end or '-' */
	CHECK_INT(tp("cc-" TP_IDS "-01"), 1);
	CHECK_INT(tp("01-" TP_IDS "-01"), 1);
	CHECK_INT(tp("cc-" TP_IDS "-01-what-the-future-will-be-like"), 1);
	CHECK_INT(tp("cc-" TP_IDS "-01- "), 1);
	CHECK_INT(tp(" cc-" TP_IDS "-01 "), 1);
	CHECK_INT(tp("cc-" TP_IDS "-01.what-the-future-will-be-like"), -1);
	CHECK_INT(tp("cc-" TP_IDS "-01what"), -1);
	CHECK_INT(tp("cc-" TP_IDS "-01 -what"), -1);
	CHECK_INT(tp("cc-" TP_IDS "-0"), -1);
	CHECK_INT(tp("cc-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01-0"), -1);
	/* the same rules for ids and flags in any version */
	CHECK_INT(tp("cc-00000000000000000000000000000000-b7ad6b7169203331-01"), -1);
	CHECK_INT(tp("cc-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"), -1);
	CHECK_INT(tp("cc-" TP_IDS "-0g"), -1);
	CHECK_INT(tp("cc-" TP_IDS "-0F"), -1);
	/* version ff, and versions that are no lowercase hex */
	CHECK_INT(tp("ff-" TP_IDS "-01"), -1);
	CHECK_INT(tp("fe-" TP_IDS "-01"), 1);
	CHECK_INT(tp("CC-" TP_IDS "-01"), -1);
	CHECK_INT(tp("0g-" TP_IDS "-01"), -1);
	CHECK_INT(tp(".0-" TP_IDS "-01"), -1);
	CHECK_INT(tp("000-" TP_IDS "-01"), -1);
	/* uppercase hex, all-zero ids */
	CHECK_INT(tp("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"), -1);
	CHECK_INT(tp("00-0af7651916cd43dd8448eb211c80319c-B7AD6B7169203331-01"), -1);
	CHECK_INT(tp("00-" TP_IDS "-0A"), -1);
	CHECK_INT(tp("00-00000000000000000000000000000000-b7ad6b7169203331-01"), -1);
	CHECK_INT(tp("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"), -1);
}

static int ts(const char *v, char *out)
{
	const char *vals[1] = { v };
	size_t lens[1] = { strlen(v) };

	return tracestate_combine(vals, lens, 1, out);
}

/* W3C tracestate: members, blanks, keys, values, counts and length. */
static void test_tracestate_combine(void)
{
	const char *vals[3] = { "foo=1", " , ", "bar=2 ,baz=3" };
	size_t lens[3] = { 5, 3, 12 };
	char out[TRACESTATE_MAX + 1], in[8192], want[TRACESTATE_MAX + 1];
	size_t n;

	/* several headers are one list, as if joined by commas */
	CHECK_INT(tracestate_combine(vals, lens, 3, out), 17);
	CHECK_STR(out, "foo=1,bar=2,baz=3");
	vals[2] = "foo=2";
	lens[2] = 5;
	CHECK(tracestate_combine(vals, lens, 3, out) < 0); /* a key twice, over two headers */
	CHECK_STR(out, "");
	CHECK_INT(ts("", out), 0);
	CHECK_INT(ts(" ,\t, ", out), 0);
	CHECK_INT(ts("foo=1 \t , \t bar=2, \t baz=3", out), 17);
	CHECK_STR(out, "foo=1,bar=2,baz=3");
	CHECK_INT(ts("foo=1,,bar=2,", out), 11);
	CHECK_STR(out, "foo=1,bar=2");
	/* keys: simple, multi-tenant, every allowed character */
	CHECK(ts("abcdefghijklmnopqrstuvwxyz0123456789_-*/=1", out) > 0);
	CHECK(ts("1tenant@vendor=1,t@v_-*/09=2", out) > 0);
	CHECK(ts("foo =1", out) < 0);
	CHECK(ts("FOO=1", out) < 0);
	CHECK(ts("foo.bar=1", out) < 0);
	CHECK(ts("1foo=1", out) < 0);
	CHECK(ts("foo@=1,bar=2", out) < 0);
	CHECK(ts("@foo=1,bar=2", out) < 0);
	CHECK(ts("foo@@bar=1,bar=2", out) < 0);
	CHECK(ts("foo@bar@baz=1,bar=2", out) < 0);
	CHECK(ts("foo@1bar=1", out) < 0);
	CHECK(ts("_foo@bar=1", out) < 0);
	CHECK(ts("=1", out) < 0);
	CHECK(ts("foo", out) < 0);
	/* key lengths: 256, tenant 241, system 14 */
	memset(in, 'k', 256);
	strcpy(in + 256, "=1");
	CHECK_INT(ts(in, out), 258);
	memset(in, 'k', 257);
	strcpy(in + 257, "=1");
	CHECK(ts(in, out) < 0);
	memset(in, 't', 241);
	strcpy(in + 241, "@vvvvvvvvvvvvvv=1");
	CHECK_INT(ts(in, out), 258);
	memset(in, 't', 242);
	strcpy(in + 242, "@vvvvvvvvvvvvvv=1");
	CHECK(ts(in, out) < 0);
	memset(in, 't', 241);
	strcpy(in + 241, "@vvvvvvvvvvvvvvv=1");
	CHECK(ts(in, out) < 0);
	/* values: printable but ',' and '=', 1 to 256 characters, no trailing space */
	CHECK_INT(ts("foo= !\"#$%&'()*+-./0123456789:;<>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
		     "abcdefghijklmnopqrstuvwxyz{|}~",
		     out),
		  97);
	CHECK(ts("foo=bar=baz", out) < 0);
	CHECK(ts("foo=,bar=3", out) < 0);
	CHECK(ts("foo=\x7f", out) < 0);
	CHECK(ts("foo=\x01", out) < 0);
	CHECK(ts("foo=a\xc3\xa9", out) < 0);
	strcpy(in, "foo=");
	memset(in + 4, 'v', 256);
	in[260] = '\0';
	CHECK_INT(ts(in, out), 260);
	strcpy(in + 260, "v");
	CHECK(ts(in, out) < 0);
	/* an invalid member drops the whole tracestate */
	CHECK(ts("foo=1,bar=2,BAD=3,baz=4", out) < 0);
	CHECK_STR(out, "");
	/* 32 members, not 33; empty ones do not count */
	n = 0;
	for (int i = 1; i <= 32; i++)
		n += sprintf(in + n, "%sbar%02d=%02d", i > 1 ? ",," : "", i, i);
	CHECK_INT(ts(in, out), 32 * 8 + 31);
	CHECK(strstr(out, "bar32=32") != NULL);
	strcpy(in + n, ",bar33=33");
	CHECK(ts(in, out) < 0);
	/* over 512 bytes: members over 128 go first, then the last ones */
	n = 0;
	for (int i = 0; i < 16; i++)
		n += sprintf(in + n, "%sk%02d=%030d", i ? "," : "", i, i); /* 34 bytes each */
	CHECK_INT(strlen(in), 16 * 34 + 15);
	/* 15 members would be 524 bytes: 14 are kept */
	snprintf(want, sizeof(want), "%.*s", 14 * 35 - 1, in);
	CHECK_INT(ts(in, out), 14 * 35 - 1);
	CHECK_STR(out, want);
	n += sprintf(in + n, ",big=%0200d", 0);
	CHECK(ts(in, out) > 0);
	CHECK(strstr(out, "big=") == NULL);
	CHECK(strlen(out) <= TRACESTATE_MAX);
	CHECK_STR(out, want);
	/* exactly 512 is kept whole */
	n = 0;
	for (int i = 0; i < 14; i++)
		n += sprintf(in + n, "%sk%02d=%030d", i ? "," : "", i, i);
	n += sprintf(in + n, ",z=%0*d", (int)(TRACESTATE_MAX - n - 3), 7);
	CHECK_INT(n, TRACESTATE_MAX);
	CHECK_INT(ts(in, out), TRACESTATE_MAX);
	CHECK_STR(out, in);
}

/* Server requests carry their tracestate into the span, not into a new trace; the client
 * spans a server span makes carry it too. */
static void test_tracestate_spans(void)
{
	static const uint8_t trace[16] = { 0x0a, 0xf7, 0x65, 0x19 };
	static const uint8_t remote_parent[8] = { 0xb7, 0xad };
	uint8_t server_span[8];
	struct conn_tracker *t = conn_tracker_new(collect, NULL);
	struct conn_stats st;

	n_got = 0;
	kernel_ids(0x11, trace, remote_parent, OBI_TP_IDS | OBI_TP_REMOTE);
	text(t, 5, 9, OBI_DIR_RECV, 10,
	     "GET / HTTP/1.1\r\ntraceparent: 00-" TP_IDS "-01\r\ntracestate: foo=1\r\n"
	     "Host: a\r\ntracestate:  bar=2 \r\n\r\n");
	memset(server_span, 0x11, 8);
	kernel_ids(0x22, trace, server_span, OBI_TP_IDS | OBI_TP_LOCAL | OBI_TP_INSERT);
	text(t, 6, 9, OBI_DIR_SEND, 11, "GET /up HTTP/1.1\r\nHost: backend\r\n\r\n");
	text(t, 6, 9, OBI_DIR_RECV, 12, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	/* a client span of another server span: none */
	memset(server_span, 0x12, 8);
	kernel_ids(0x23, trace, server_span, OBI_TP_IDS | OBI_TP_LOCAL | OBI_TP_INSERT);
	text(t, 7, 9, OBI_DIR_SEND, 13, "GET /up HTTP/1.1\r\nHost: backend\r\n\r\n");
	text(t, 7, 9, OBI_DIR_RECV, 14, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	text(t, 5, 9, OBI_DIR_SEND, 15, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	CHECK_INT(n_got, 3);
	CHECK_INT(got[0].kind, SPAN_CLIENT);
	CHECK_STR(got[0].trace_state, "foo=1,bar=2");
	CHECK_STR(got[1].trace_state, "");
	CHECK_INT(got[2].kind, SPAN_SERVER);
	CHECK_STR(got[2].trace_state, "foo=1,bar=2");

	/* the kernel found the traceparent invalid: a new trace, without the tracestate */
	kernel_ids(0x31, trace, NULL, OBI_TP_IDS | OBI_TP_BAD);
	text(t, 8, 9, OBI_DIR_RECV, 20,
	     "GET / HTTP/1.1\r\ntraceparent: ff-" TP_IDS "-01\r\ntracestate: foo=1\r\n\r\n");
	text(t, 8, 9, OBI_DIR_SEND, 21, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	CHECK_INT(n_got, 4);
	CHECK_STR(got[3].trace_state, "");

	/* user space's ids (requests after the first of a read): the same rules */
	kernel_ids(0x41, trace, NULL, OBI_TP_IDS);
	text(t, 9, 9, OBI_DIR_RECV, 30,
	     "GET /1 HTTP/1.1\r\ntracestate: a=1\r\n\r\n"
	     "GET /2 HTTP/1.1\r\ntraceparent:\t cc-" TP_IDS "-01-future \r\n"
	     "tracestate: a=1,b=2\r\n\r\n"
	     "GET /3 HTTP/1.1\r\ntraceparent: 00-" TP_IDS "-01\r\ntraceparent: 00-" TP_IDS
	     "-01\r\ntracestate: a=1\r\n\r\n"
	     "GET /4 HTTP/1.1\r\ntraceparent: 00-" TP_IDS "-01\r\ntracestate: a=1,A=2\r\n\r\n");
	text(t, 9, 9, OBI_DIR_SEND, 31,
	     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0"
	     "\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	CHECK_INT(n_got, 8);
	CHECK_STR(got[4].trace_state, ""); /* no traceparent: a new trace */
	CHECK_INT(got[5].trace_id[0], 0x0a);
	CHECK_INT(got[5].parent_id[0], 0xb7);
	CHECK_STR(got[5].trace_state, "a=1,b=2");
	CHECK(zero(got[6].parent_id, 8)); /* two traceparent headers: invalid, a new trace */
	CHECK(got[6].trace_id[0] != 0x0a || got[6].trace_id[1] != 0xf7);
	CHECK_STR(got[6].trace_state, "");
	CHECK_INT(got[7].parent_id[0], 0xb7); /* invalid tracestate: traceparent kept */
	CHECK_STR(got[7].trace_state, "");
	conn_tracker_stats(t, &st);
	CHECK_INT(st.bad_traceparent, 2);
	conn_tracker_free(t);
}

int main(void)
{
	test_simple_server();
	test_pipelined();
	test_split();
	test_chunked_and_close();
	test_kernel_ids();
	test_pipelined_traceparent();
	test_reused_request_memory();
	test_garbage();
	test_close_by_other_process();
	test_socket_reused();
	test_closed_socket_port_zero();
	test_traceparent_parse();
	test_tracestate_combine();
	test_tracestate_spans();
	return check_done("test_conn");
}
