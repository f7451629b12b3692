// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the HTTP/1.x head parser, body framing, chunked end and route heuristic. */
#include "check.h"
#include "http1.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct http1_msg m;

static int parse(const char *s)
{
	return http1_parse(s, strlen(s), &m);
}

static void test_simple_get(void)
{
	const char *req = "GET /index.html HTTP/1.1\r\nHost: example.com\r\n"
			  "User-Agent: curl/8.0\r\nAccept: */*\r\n\r\n";

	CHECK(http1_is_start(req, strlen(req)));
	CHECK_INT(parse(req), strlen(req));
	CHECK_INT(m.kind, HTTP1_REQUEST);
	CHECK_INT(m.version_minor, 1);
	CHECK_STR(m.method, "GET");
	CHECK_STR(m.path, "/index.html");
	CHECK_STR(m.host, "example.com");
	CHECK_STR(m.user_agent, "curl/8.0");
	CHECK_STR(m.traceparent, "");
	CHECK_INT(m.header_len, strlen(req));
	CHECK_INT(m.content_length, -1);
	CHECK(!m.chunked);
	CHECK(!m.conn_close);
	CHECK_INT(http1_body_length(&m, false), 0);
}

static void test_targets(void)
{
	CHECK_INT(parse("GET /a/b?q=1&r=2 HTTP/1.1\r\n\r\n"), 29);
	CHECK_STR(m.path, "/a/b");
	CHECK_INT(parse("GET /a#frag HTTP/1.1\r\n\r\n"), 24);
	CHECK_STR(m.path, "/a");
	CHECK_INT(parse("GET /?x HTTP/1.1\r\n\r\n"), 20);
	CHECK_STR(m.path, "/");

	/* Absolute form, as sent to a forward proxy. */
	CHECK(parse("GET http://example.com:8080/p/q?x=1 HTTP/1.1\r\n\r\n") > 0);
	CHECK_STR(m.path, "/p/q");
	CHECK_STR(m.host, "example.com:8080");
	CHECK(parse("GET http://example.com HTTP/1.1\r\n\r\n") > 0);
	CHECK_STR(m.path, "/");
	CHECK_STR(m.host, "example.com");
	CHECK(parse("GET https://example.com?x HTTP/1.1\r\n\r\n") > 0);
	CHECK_STR(m.path, "/");
	CHECK_STR(m.host, "example.com");
	CHECK(parse("GET http://user:pw@example.com/p HTTP/1.1\r\n\r\n") > 0);
	CHECK_STR(m.host, "example.com");
	CHECK_STR(m.path, "/p");
	/* A Host header overrides the authority, an empty one does not. */
	CHECK(parse("GET http://a.example/p HTTP/1.1\r\nHost: b.example\r\n\r\n") > 0);
	CHECK_STR(m.host, "b.example");
	CHECK(parse("GET http://a.example/p HTTP/1.1\r\nHost:\r\n\r\n") > 0);
	CHECK_STR(m.host, "a.example");

	CHECK(parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
	CHECK_STR(m.method, "OPTIONS");
	CHECK_STR(m.path, "*");
	CHECK(parse("CONNECT db.internal:5432 HTTP/1.1\r\n\r\n") > 0);
	CHECK_STR(m.method, "CONNECT");
	CHECK_STR(m.path, "");
	CHECK_STR(m.host, "db.internal:5432");
}

static void test_methods(void)
{
	static const char *const names[] = {
		"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
	};
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(buf, sizeof(buf), "%s /x HTTP/1.1\r\n\r\n", names[i]);
		CHECK(http1_is_start(buf, strlen(buf)));
		CHECK_INT(parse(buf), strlen(buf));
		CHECK_STR(m.method, names[i]);
	}
	CHECK(!http1_is_start("get / HTTP/1.1", 14));
	CHECK(!http1_is_start("GET", 3));
	CHECK(!http1_is_start("HTTP/1", 6));
	CHECK(http1_is_start("HTTP/1.", 7));
	CHECK(!http1_is_start("PRI * HTTP/2.0", 14));
	CHECK_INT(parse("get / HTTP/1.1\r\n\r\n"), -1);
	CHECK_INT(parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), -1);
}

static void test_post_and_chunked(void)
{
	const char *post = "POST /api/items HTTP/1.1\r\nHost: h\r\n"
			   "Content-Type: application/json\r\nContent-Length: 13\r\n\r\n"
			   "{\"a\":\"hello\"}";

	CHECK_INT(parse(post), strlen(post) - 13);
	CHECK_STR(m.method, "POST");
	CHECK_INT(m.content_length, 13);
	CHECK_INT(http1_body_length(&m, false), 13);

	CHECK(parse("PUT /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "5\r\nhello\r\n0\r\n\r\n") > 0);
	CHECK(m.chunked);
	CHECK_INT(http1_body_length(&m, false), -1);
	CHECK(parse("PUT /u HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n") > 0);
	CHECK(m.chunked);
	CHECK(parse("PUT /u HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n") > 0);
	CHECK(!m.chunked);
	CHECK(parse("PUT /u HTTP/1.1\r\nTransfer-Encoding: gzip\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n") > 0);
	CHECK(m.chunked);
}

static void test_content_length(void)
{
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n") > 0);
	CHECK_INT(m.content_length, 0);
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length:\t42 \r\n\r\n") > 0);
	CHECK_INT(m.content_length, 42);
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 42\r\ncontent-length: 42\r\n\r\n") > 0);
	CHECK_INT(m.content_length, 42);
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 42\r\nContent-Length: 43\r\n\r\n") > 0);
	CHECK_INT(m.content_length, -1);
	/* A conflict stays a conflict even when a third header repeats the first value. */
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n"
		    "Content-Length: 1\r\n\r\n") > 0);
	CHECK_INT(m.content_length, -1);
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n") > 0);
	CHECK_INT(m.content_length, -1);
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n") > 0);
	CHECK_INT(m.content_length, -1);
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n") > 0);
	CHECK_INT(m.content_length, -1);
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: \r\n\r\n") > 0);
	CHECK_INT(m.content_length, -1);
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n") > 0);
	CHECK_INT(m.content_length, -1);
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n") > 0);
	CHECK_INT(m.content_length, INT64_MAX);
	CHECK_INT(http1_body_length(&m, false), INT64_MAX);
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n") > 0);
	CHECK_INT(m.content_length, -1);
}

static void test_responses(void)
{
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			 "Content-Length: 5\r\n\r\nhello";

	CHECK(http1_is_start(ok, strlen(ok)));
	CHECK_INT(parse(ok), strlen(ok) - 5);
	CHECK_INT(m.kind, HTTP1_RESPONSE);
	CHECK_INT(m.status, 200);
	CHECK_INT(m.version_minor, 1);
	CHECK_STR(m.method, "");
	CHECK_INT(m.content_length, 5);
	CHECK_INT(http1_body_length(&m, false), 5);
	/* The same response to a HEAD request carries no body. */
	CHECK_INT(http1_body_length(&m, true), 0);

	CHECK_INT(parse("HTTP/1.1 204 No Content\r\n\r\n"), 27);
	CHECK_INT(m.status, 204);
	CHECK_INT(http1_body_length(&m, false), 0);
	CHECK(parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n") > 0);
	CHECK_INT(m.status, 304);
	CHECK_INT(m.content_length, 100);
	CHECK_INT(http1_body_length(&m, false), 0);
	CHECK(parse("HTTP/1.1 100 Continue\r\n\r\n") > 0);
	CHECK_INT(m.status, 100);
	CHECK_INT(http1_body_length(&m, false), 0);
	CHECK(parse("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n") > 0);
	CHECK_INT(http1_body_length(&m, false), 0);
	CHECK(parse("HTTP/1.1 500 Internal Server Error\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n") > 0);
	CHECK_INT(m.status, 500);
	CHECK_INT(http1_body_length(&m, false), -1);
	/* No framing: the body runs until the connection closes. */
	CHECK(parse("HTTP/1.1 200 OK\r\n\r\n") > 0);
	CHECK_INT(http1_body_length(&m, false), -1);
	/* The reason phrase is optional, and so is its space. */
	CHECK_INT(parse("HTTP/1.1 404\r\n\r\n"), 16);
	CHECK_INT(m.status, 404);
	CHECK_INT(parse("HTTP/1.1 404 \r\n\r\n"), 17);
	CHECK_INT(m.status, 404);
	CHECK(parse("HTTP/1.1 999 Whatever\r\n\r\n") > 0);
	CHECK_INT(m.status, 999);
}

static void test_connection(void)
{
	CHECK(parse("GET / HTTP/1.0\r\n\r\n") > 0);
	CHECK_INT(m.version_minor, 0);
	CHECK(m.conn_close);
	CHECK(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") > 0);
	CHECK(!m.conn_close);
	CHECK(parse("HTTP/1.0 200 OK\r\n\r\n") > 0);
	CHECK(m.conn_close);
	CHECK(parse("HTTP/1.0 200 OK\r\nconnection: keep-alive\r\n\r\n") > 0);
	CHECK(!m.conn_close);
	CHECK(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n") > 0);
	CHECK(m.conn_close);
	CHECK(parse("GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n") > 0);
	CHECK(m.conn_close);
	CHECK(parse("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n") > 0);
	CHECK(!m.conn_close);
	CHECK(parse("GET / HTTP/1.1\r\nConnection: closed\r\n\r\n") > 0);
	CHECK(!m.conn_close);
}

static void test_incomplete(void)
{
	const char *full = "GET /split?x=1 HTTP/1.1\r\nHost: split.example\r\n"
			   "User-Agent: t\r\n\r\n";
	size_t cut = strlen("GET /split?x=1 HTTP/1.1\r\nHost: split.example\r\nUser-A");
	size_t i;

	CHECK_INT(http1_parse(full, cut, &m), 0);
	CHECK_INT(m.kind, HTTP1_REQUEST);
	CHECK_STR(m.method, "GET");
	CHECK_STR(m.path, "/split");
	CHECK_STR(m.host, "split.example");
	CHECK_STR(m.user_agent, "");
	CHECK_INT(m.header_len, 0);
	CHECK_INT(http1_parse(full, strlen(full) - 2, &m), 0);
	CHECK_STR(m.user_agent, "t");
	CHECK_INT(http1_parse(full, strlen(full), &m), strlen(full));
	CHECK_STR(m.user_agent, "t");

	/* Every prefix of a valid message is "need more", never "not HTTP". */
	for (i = 0; i < strlen(full); i++)
		CHECK_INT(http1_parse(full, i, &m), 0);
	CHECK_INT(http1_parse("HTTP/1.1 200 OK\r\n\r\n", 12, &m), 0);
	CHECK_INT(m.kind, HTTP1_RESPONSE);
	CHECK_INT(m.status, 200);

	CHECK_INT(http1_parse("", 0, &m), 0);
	CHECK_INT(m.content_length, -1);
	CHECK(!http1_is_start("", 0));
	CHECK_INT(http1_parse(NULL, 0, &m), 0);
	CHECK(!http1_is_start(NULL, 0));
	CHECK_INT(http1_parse("G", 1, &m), 0);
	CHECK_INT(http1_parse("H", 1, &m), 0);
	CHECK_INT(http1_parse("X", 1, &m), -1);
	CHECK_INT(http1_parse("\0", 1, &m), -1);
	CHECK(!http1_is_start("G", 1));
	CHECK(!http1_is_start("H", 1));
}

static void test_bare_lf(void)
{
	const char *req = "GET /lf HTTP/1.1\nHost: lf.example\nContent-Length: 3\n\nabc";

	CHECK_INT(parse(req), strlen(req) - 3);
	CHECK_STR(m.path, "/lf");
	CHECK_STR(m.host, "lf.example");
	CHECK_INT(m.content_length, 3);
	CHECK_INT(parse("HTTP/1.1 200 OK\nContent-Length: 0\r\n\n"), 36);
	CHECK_INT(m.content_length, 0);
}

static void test_pipelined(void)
{
	const char *buf = "GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
			  "POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"
			  "DELETE /three/7 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
	static const char *const paths[] = { "/one", "/two", "/three/7" };
	size_t off = 0, len = strlen(buf);
	int i, r;

	for (i = 0; i < 3; i++) {
		r = http1_parse(buf + off, len - off, &m);
		CHECK(r > 0);
		if (r <= 0)
			return;
		CHECK_STR(m.path, paths[i]);
		off += r + http1_body_length(&m, false);
	}
	CHECK_INT(off, len);
	CHECK_STR(m.method, "DELETE");
	CHECK(m.conn_close);
	CHECK_INT(http1_parse(buf + off, len - off, &m), 0);
}

static void test_garbage(void)
{
	static const char nul_target[] = "GET /a\0b HTTP/1.1\r\n\r\n";
	unsigned char rnd[512];
	size_t i;
	int bad = 0;

	CHECK_INT(parse("GETX / HTTP/1.1\r\n\r\n"), -1);
	CHECK_INT(parse("GETX /"), -1);
	CHECK_INT(parse("HTTP/2 200\r\n\r\n"), -1);
	CHECK_INT(parse("HTTP/1.2 200 OK\r\n\r\n"), -1);
	CHECK_INT(parse("HTTP/1.1 2000 OK\r\n\r\n"), -1);
	CHECK_INT(parse("HTTP/1.1 20 OK\r\n\r\n"), -1);
	CHECK_INT(parse("HTTP/1.1 099 OK\r\n\r\n"), -1);
	CHECK_INT(parse("HTTP/1.1  200 OK\r\n\r\n"), -1);
	CHECK_INT(parse("HTTP/1.1 200 O\x01K\r\n\r\n"), -1);
	CHECK_INT(http1_parse(nul_target, sizeof(nul_target) - 1, &m), -1);
	CHECK_INT(parse("GET /a\tb HTTP/1.1\r\n\r\n"), -1);
	CHECK_INT(parse("GET  / HTTP/1.1\r\n\r\n"), -1);
	CHECK_INT(parse("GET / HTTP/1.1 \r\n\r\n"), -1);
	CHECK_INT(parse("GET /\r\n\r\n"), -1);
	CHECK_INT(parse("GET / HTTP/1.1\rX\r\n\r\n"), -1);
	CHECK_INT(parse("GET / http/1.1\r\n\r\n"), -1);
	CHECK_INT(parse("GET example.com HTTP/1.1\r\n\r\n"), -1);
	CHECK_INT(parse("GET 1http://x/ HTTP/1.1\r\n\r\n"), -1);
	CHECK_INT(parse("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), -1);

	/* Fixed seed: the test is reproducible. */
	srand(42);
	for (i = 0; i < sizeof(rnd); i++)
		rnd[i] = (unsigned char)(rand() & 0xff);
	for (i = 0; i < 64; i++)
		bad += http1_parse((const char *)rnd + i, sizeof(rnd) - i, &m) == -1;
	CHECK_INT(bad, 64);
}

static void test_truncation(void)
{
	char req[4096], big[600];
	size_t i;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(req, sizeof(req),
		 "GET /%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\ntraceparent: %s\r\n\r\n", big,
		 big, big, big);
	CHECK_INT(parse(req), strlen(req));
	CHECK_INT(strlen(m.path), sizeof(m.path) - 1);
	CHECK_INT(m.path[0], '/');
	CHECK_INT(strlen(m.host), sizeof(m.host) - 1);
	CHECK_INT(strlen(m.user_agent), sizeof(m.user_agent) - 1);
	CHECK_INT(strlen(m.traceparent), sizeof(m.traceparent) - 1);
	for (i = 1; i < sizeof(m.path) - 1; i++)
		if (m.path[i] != 'a')
			break;
	CHECK_INT(i, sizeof(m.path) - 1);
}

static void test_header_names(void)
{
	const char *tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	char req[256];

	CHECK(parse("GET / HTTP/1.1\r\nHOST: up.example\r\nuser-agent: lower\r\n\r\n") > 0);
	CHECK_STR(m.host, "up.example");
	CHECK_STR(m.user_agent, "lower");
	snprintf(req, sizeof(req),
		 "GET / HTTP/1.1\r\nhOsT:   \t spaced.example \t \r\n"
		 "TRACEPARENT: %s\r\n\r\n",
		 tp);
	CHECK(parse(req) > 0);
	CHECK_STR(m.host, "spaced.example");
	CHECK_STR(m.traceparent, " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	CHECK_INT(m.traceparent_n, 1);
	/* Lines without a colon are skipped; names only match whole. */
	CHECK(parse("GET / HTTP/1.1\r\nnot a header\r\nHost: h\r\nHosts: x\r\n"
		    "X-Host: y\r\nHost : z\r\n\r\n") > 0);
	CHECK_STR(m.host, "h");
}

/* traceparent: raw, blanks and all (traceparent_parse() judges them), the first of several
 * and their count; tracestate: every header combined and checked. */
static void test_trace_context(void)
{
	CHECK(parse("GET / HTTP/1.1\r\ntraceparent:\t cc-x \r\nTraceParent: 00-y\r\n"
		    "tracestate: a=1 , b=2\r\nHost: h\r\nTRACESTATE: c=3\r\n"
		    "tracestate:\r\n\r\n") > 0);
	CHECK_STR(m.traceparent, "\t cc-x ");
	CHECK_INT(m.traceparent_n, 2);
	CHECK_STR(m.tracestate, "a=1,b=2,c=3");
	CHECK(parse("GET / HTTP/1.1\r\ntracestate: a=1\r\ntracestate: a=2\r\n\r\n") > 0);
	CHECK_STR(m.tracestate, "");
	CHECK(parse("GET / HTTP/1.1\r\ntracestate: a=1,B=2\r\n\r\n") > 0);
	CHECK_STR(m.tracestate, "");
	/* the fields of the last message are gone */
	CHECK(parse("GET / HTTP/1.1\r\n\r\n") > 0);
	CHECK_STR(m.traceparent, "");
	CHECK_INT(m.traceparent_n, 0);
	CHECK_STR(m.tracestate, "");
	/* only a whole head is combined */
	CHECK(parse("GET / HTTP/1.1\r\ntracestate: a=1\r\n") == 0);
	CHECK_STR(m.tracestate, "");
}

static void test_chunked_end(void)
{
	const char *body = "5\r\nhello\r\n0\r\n\r\n";

	CHECK(http1_chunked_end((const uint8_t *)body, strlen(body)));
	CHECK(http1_chunked_end((const uint8_t *)"0\r\n\r\n", 5));
	CHECK(http1_chunked_end((const uint8_t *)"\r\n0\r\n\r\n", 7));
	CHECK(!http1_chunked_end((const uint8_t *)"0\r\n\r", 4));
	CHECK(!http1_chunked_end((const uint8_t *)"5\r\nhello\r\n", 10));
	CHECK(!http1_chunked_end((const uint8_t *)"\r\n0\r\n", 5));
	/* A chunk size of 0x10 followed by data that starts with CRLF is not the end. */
	CHECK(!http1_chunked_end((const uint8_t *)"\r\n10\r\n\r\n", 8));
	CHECK(!http1_chunked_end((const uint8_t *)"", 0));
	CHECK(!http1_chunked_end(NULL, 0));
}

static void check_route(const char *path, const char *want)
{
	char route[256];

	http1_route_heuristic(path, route, sizeof(route));
	CHECK_STR(route, want);
}

static void test_route(void)
{
	char small[8];

	check_route("/users/123/orders", "/users/*/orders");
	check_route("/", "/");
	check_route("", "");
	check_route("/api/v1/items", "/api/*/items");
	check_route("/users/123", "/users/*");
	check_route("/users/123/", "/users/*/");
	check_route("//a//", "//a//");
	check_route("/o/550e8400-e29b-41d4-a716-446655440000", "/o/*");
	check_route("/o/deadbeefcafebabe", "/o/*");
	check_route("/o/deadbeefcafebab", "/o/deadbeefcafebab");
	check_route("/o/Deadbeef-Cafe-Babe", "/o/*");
	check_route("/static/application", "/static/application");
	check_route("*", "*");

	/* Truncation keeps the NUL inside the buffer. */
	memset(small, 'x', sizeof(small));
	http1_route_heuristic("/abcdefghij", small, sizeof(small));
	CHECK_STR(small, "/abcdef");
	http1_route_heuristic("/1/2/3/4/5", small, sizeof(small));
	CHECK_STR(small, "/*/*/*/");
	http1_route_heuristic("/abc", small, 1);
	CHECK_STR(small, "");
	small[0] = 'x';
	http1_route_heuristic("/abc", small, 0);
	CHECK_INT(small[0], 'x');
}

/* A capture that ends inside the target keeps the path seen so far; UTF-8 is never cut. */
static void test_truncated_fields(void)
{
	struct http1_msg m;
	char buf[600], want[256];
	int r;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, "GET /long/", 10);
	memset(buf + 10, 'x', 300);
	r = http1_parse(buf, 310, &m);
	CHECK_INT(r, 0);
	CHECK_STR(m.method, "GET");
	CHECK_INT(strlen(m.path), 255);
	CHECK(strncmp(m.path, "/long/xxx", 9) == 0);

	/* "/a" then 200 two-byte characters: byte 255 is the second half of one */
	memcpy(buf, "GET /a", 6);
	for (int i = 0; i < 200; i++)
		memcpy(buf + 6 + 2 * i, "\xc3\xa9", 2);
	memcpy(buf + 406, " HTTP/1.1\r\n\r\n", 13);
	r = http1_parse(buf, 419, &m);
	CHECK_INT(r, 419);
	CHECK_INT(strlen(m.path), 254);	/* "/a" + 126 whole characters */
	memcpy(want, buf + 4, 254);
	want[254] = '\0';
	CHECK_STR(m.path, want);
}

int main(void)
{
	test_simple_get();
	test_targets();
	test_methods();
	test_post_and_chunked();
	test_content_length();
	test_responses();
	test_connection();
	test_incomplete();
	test_bare_lf();
	test_pipelined();
	test_garbage();
	test_truncation();
	test_header_names();
	test_trace_context();
	test_chunked_end();
	test_route();
	test_truncated_fields();
	return check_done("test_http1");
}
