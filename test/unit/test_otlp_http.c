// SPDX-License-Identifier: Apache-2.0
/*
 * obi's OTLP transport (libcurl, multi interface) against a scripted HTTP/1.1 server on a
 * loopback socket (a port the kernel picks): the request it writes (target, Host, Content-Type,
 * configured headers, Content-Length, gzip body), responses framed by Content-Length, chunked
 * encoding (extensions, trailers) or the connection's end, 1xx interim answers, Retry-After,
 * keep-alive and reconnection after the receiver closed, timeouts, cancellation at exit, a name
 * that does not resolve, refused connections, malformed answers.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "transport.h"

#define MAX_STEPS 8

/* What the server does with request n of the script. */
struct step {
	const char *answer; /* raw bytes written back; NULL: never answer */
	bool close;	    /* close the connection after answering */
};

struct seen {
	char head[2048];
	uint8_t body[4096];
	size_t body_len;
	int conn; /* which accepted connection carried it, from 1 */
};

static struct {
	int fd;
	uint16_t port;
	pthread_t thread;
	_Atomic bool stop;
	struct step steps[MAX_STEPS];
	struct seen req[MAX_STEPS];
	_Atomic int n_req, n_conn;
} srv;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t mono_ns(void)
{
	return now_ms() * 1000000ULL;
}

/* Reads more into buf; false at the end of the connection or when stopping. */
static bool more(int fd, char *buf, size_t *have, size_t cap)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;

	while (!srv.stop) {
		if (poll(&p, 1, 20) <= 0)
			continue;
		n = read(fd, buf + *have, cap - *have);
		if (n <= 0)
			return false;
		*have += (size_t)n;
		return true;
	}
	return false;
}

/* Serves one connection along the script; false when the script says to stop answering. */
static bool serve(int fd, int conn)
{
	static char buf[16384];
	size_t have = 0, head_len, body_len;
	char *end, *cl;

	for (;;) {
		struct seen *r;
		int i;

		while (!(end = memmem(buf, have, "\r\n\r\n", 4)))
			if (!more(fd, buf, &have, sizeof(buf)))
				return true;
		head_len = (size_t)(end - buf) + 4;
		cl = strcasestr(buf, "\r\ncontent-length:");
		body_len = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
		while (have < head_len + body_len)
			if (!more(fd, buf, &have, sizeof(buf)))
				return true;
		i = srv.n_req;
		if (i >= MAX_STEPS)
			return false;
		r = &srv.req[i];
		snprintf(r->head, sizeof(r->head), "%.*s", (int)head_len, buf);
		r->body_len = body_len < sizeof(r->body) ? body_len : sizeof(r->body);
		memcpy(r->body, buf + head_len, r->body_len);
		r->conn = conn;
		memmove(buf, buf + head_len + body_len, have - head_len - body_len);
		have -= head_len + body_len;
		srv.n_req = i + 1;
		if (!srv.steps[i].answer) {
			while (!srv.stop)
				usleep(10000);
			return false;
		}
		if (write(fd, srv.steps[i].answer, strlen(srv.steps[i].answer)) < 0 ||
		    srv.steps[i].close)
			return true;
	}
}

static void *server_main(void *arg)
{
	while (!srv.stop) {
		struct pollfd p = {.fd = srv.fd, .events = POLLIN};
		int c;

		if (poll(&p, 1, 20) <= 0)
			continue;
		c = accept(srv.fd, NULL, NULL);
		if (c < 0)
			continue;
		serve(c, ++srv.n_conn);
		close(c);
	}
	return NULL;
}

static void server_start(const struct step *steps, size_t n)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	memset(&srv, 0, sizeof(srv));
	memcpy(srv.steps, steps, n * sizeof(*steps));
	srv.fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(srv.fd >= 0);
	CHECK_INT(bind(srv.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_INT(listen(srv.fd, 8), 0);
	getsockname(srv.fd, (struct sockaddr *)&a, &len);
	srv.port = ntohs(a.sin_port);
	pthread_create(&srv.thread, NULL, server_main, NULL);
}

static void server_stop(void)
{
	srv.stop = true;
	pthread_join(srv.thread, NULL);
	close(srv.fd);
}

static struct otlp_transport *client(const char *path, const char *headers, bool gzip,
				     const _Atomic uint64_t *abort_at)
{
	char url[128];
	struct otlp_transport *h;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", srv.port, path);
	h = otlp_transport_new(url, headers, gzip, OTLP_WIRE_PROTOBUF, NULL, NULL, abort_at);
	CHECK(h != NULL);
	return h;
}

static bool has_line(const char *head, const char *line)
{
	char want[256];

	snprintf(want, sizeof(want), "\r\n%s\r\n", line);
	return strstr(head, want) != NULL;
}

#define OK_EMPTY                                                                                   \
	"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"

static void test_request_and_keepalive(void)
{
	static const struct step steps[] = {
	    {"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\nContent-Length: 3\r\n\r\n"
	     "abc",
	     false},
	    {"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\n"
	     "bad req",
	     false},
	};
	struct otlp_response r;
	struct otlp_transport *h;
	char host[64];

	server_start(steps, 2);
	h = client("/v1/traces", "x-a=b%20c,x-empty=", false, NULL);
	if (!h)
		return;
	otlp_transport_post(h, (const uint8_t *)"\x0a\x00\x01", 3, 2000, &r);
	CHECK_INT(r.err, 0);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.body_len, 3);
	CHECK(r.body && !memcmp(r.body, "abc", 3));
	CHECK(r.protobuf);
	CHECK_INT(r.retry_after_ms, -1);
	CHECK_INT(otlp_transport_outcome(&r), OTLP_SENT);
	otlp_response_free(&r);
	CHECK(!strncmp(srv.req[0].head, "POST /v1/traces HTTP/1.1\r\n", 26));
	snprintf(host, sizeof(host), "Host: 127.0.0.1:%u", srv.port);
	CHECK(has_line(srv.req[0].head, host));
	CHECK(has_line(srv.req[0].head, "Content-Type: application/x-protobuf"));
	CHECK(has_line(srv.req[0].head, "Content-Length: 3"));
	CHECK(has_line(srv.req[0].head, "x-a: b c"));
	CHECK(has_line(srv.req[0].head, "x-empty:"));
	CHECK(has_line(srv.req[0].head, "User-Agent: obi/" OBI_VERSION));
	CHECK(!strcasestr(srv.req[0].head, "content-encoding"));
	CHECK_INT(srv.req[0].body_len, 3);
	CHECK(!memcmp(srv.req[0].body, "\x0a\x00\x01", 3));

	/* the same connection again; a 400 is final, its body kept for the log */
	otlp_transport_post(h, (const uint8_t *)"xy", 2, 2000, &r);
	CHECK_INT(r.status, 400);
	CHECK(!r.protobuf);
	CHECK(r.body && !strcmp((char *)r.body, "bad req"));
	CHECK_INT(otlp_transport_outcome(&r), OTLP_REJECTED);
	otlp_response_free(&r);
	CHECK_INT(srv.n_req, 2);
	CHECK_INT(srv.req[1].conn, 1);
	otlp_transport_free(h);
	server_stop();
}

static void test_framing(void)
{
	static const struct step steps[] = {
	    /* chunked, with an extension and a trailer, and Retry-After */
	    {"HTTP/1.1 503 Unavailable\r\nRetry-After: 7\r\nTransfer-Encoding: chunked\r\n\r\n"
	     "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
	     false},
	    /* an interim answer, then the real one (LF-only line ends are taken too) */
	    {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\nRetry-After: 2\n\n", false},
	    /* no length: the body runs to the connection's end */
	    {"HTTP/1.0 200 OK\r\nContent-Type: application/x-protobuf\r\n\r\nuntil-eof", true},
	    {OK_EMPTY, false},
	};
	struct otlp_response r;
	struct otlp_transport *h;

	server_start(steps, 4);
	h = client("", "", false, NULL);
	if (!h)
		return;
	otlp_transport_post(h, (const uint8_t *)"a", 1, 2000, &r);
	CHECK_INT(r.err, 0);
	CHECK_INT(r.status, 503);
	CHECK_INT(r.retry_after_ms, 7000);
	CHECK(r.body && !strcmp((char *)r.body, "hello world"));
	CHECK_INT(otlp_transport_outcome(&r), OTLP_RETRY);
	otlp_response_free(&r);
	/* no path in the url: "/" */
	CHECK(!strncmp(srv.req[0].head, "POST / HTTP/1.1\r\n", 17));

	otlp_transport_post(h, (const uint8_t *)"b", 1, 2000, &r);
	CHECK_INT(r.status, 204);
	CHECK_INT(r.retry_after_ms, 2000);
	CHECK_INT(r.body_len, 0);
	otlp_response_free(&r);

	otlp_transport_post(h, (const uint8_t *)"c", 1, 2000, &r);
	CHECK_INT(r.status, 200);
	CHECK(r.body && !strcmp((char *)r.body, "until-eof"));
	otlp_response_free(&r);

	/* chunked and 204 kept the connection; the end-of-connection body did not */
	otlp_transport_post(h, (const uint8_t *)"d", 1, 2000, &r);
	CHECK_INT(r.status, 200);
	otlp_response_free(&r);
	CHECK_INT(srv.req[1].conn, 1);
	CHECK_INT(srv.req[2].conn, 1);
	CHECK_INT(srv.req[3].conn, 2);
	otlp_transport_free(h);
	server_stop();
}

static void test_receiver_closes(void)
{
	/* the receiver closes an idle kept-alive connection without saying so */
	static const struct step steps[] = {{OK_EMPTY, true}, {OK_EMPTY, false}};
	struct otlp_response r;
	struct otlp_transport *h;

	server_start(steps, 2);
	h = client("/v1/metrics", "", false, NULL);
	if (!h)
		return;
	otlp_transport_post(h, (const uint8_t *)"1", 1, 2000, &r);
	CHECK_INT(r.status, 200);
	otlp_response_free(&r);
	usleep(50000);
	otlp_transport_post(h, (const uint8_t *)"2", 1, 2000, &r);
	CHECK_INT(r.err, 0);
	CHECK_INT(r.status, 200);
	otlp_response_free(&r);
	CHECK_INT(srv.n_req, 2);
	CHECK_INT(srv.req[1].conn, 2);
	otlp_transport_free(h);
	server_stop();
}

static void test_gzip(void)
{
	static const struct step steps[] = {{OK_EMPTY, false}};
	uint8_t in[3000], back[4000];
	struct otlp_response r;
	struct otlp_transport *h;
	z_stream z = {0};
	size_t i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i % 7 == 0 ? i : 'a');
	server_start(steps, 1);
	h = client("/v1/traces", "", true, NULL);
	if (!h)
		return;
	otlp_transport_post(h, in, sizeof(in), 2000, &r);
	CHECK_INT(r.status, 200);
	otlp_response_free(&r);
	CHECK(has_line(srv.req[0].head, "Content-Encoding: gzip"));
	CHECK(srv.req[0].body_len > 18 && srv.req[0].body_len < sizeof(in));
	/* gzip magic, not a zlib header; inflates to the very bytes posted */
	CHECK(srv.req[0].body[0] == 0x1f && srv.req[0].body[1] == 0x8b);
	CHECK_INT(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = srv.req[0].body;
	z.avail_in = (uInt)srv.req[0].body_len;
	z.next_out = back;
	z.avail_out = sizeof(back);
	CHECK_INT(inflate(&z, Z_FINISH), Z_STREAM_END);
	CHECK_INT(z.total_out, sizeof(in));
	CHECK(!memcmp(in, back, sizeof(in)));
	inflateEnd(&z);
	otlp_transport_free(h);
	server_stop();
}

static void test_failures(void)
{
	static const struct step steps[] = {{NULL, false}};
	static const struct step junk[] = {{"SSH-2.0-OpenSSH\r\n\r\n", false}};
	_Atomic uint64_t abort_at = 0;
	struct otlp_response r;
	struct otlp_transport *h;
	uint64_t t0, took;

	/* a receiver that never answers: the timeout, then cancellation at exit */
	server_start(steps, 1);
	h = client("/v1/traces", "", false, &abort_at);
	if (!h)
		return;
	t0 = now_ms();
	otlp_transport_post(h, (const uint8_t *)"x", 1, 300, &r);
	took = now_ms() - t0;
	CHECK_INT(r.err, -ETIMEDOUT);
	CHECK_INT(r.status, 0);
	CHECK_STR(r.error, "timed out after 300 ms");
	CHECK_INT(otlp_transport_outcome(&r), OTLP_RETRY);
	CHECK(took >= 290 && took < 1000);
	otlp_response_free(&r);
	abort_at = mono_ns() + 200000000ULL;
	t0 = now_ms();
	otlp_transport_post(h, (const uint8_t *)"x", 1, 10000, &r);
	took = now_ms() - t0;
	CHECK_INT(r.err, -ECANCELED);
	CHECK_STR(r.error, "cancelled at exit");
	CHECK(took < 1000);
	otlp_response_free(&r);
	otlp_transport_free(h);
	server_stop();

	/* something that is not HTTP */
	server_start(junk, 1);
	h = client("/v1/traces", "", false, NULL);
	if (!h)
		return;
	otlp_transport_post(h, (const uint8_t *)"x", 1, 2000, &r);
	CHECK_INT(r.err, -EPROTO);
	CHECK_INT(otlp_transport_outcome(&r), OTLP_RETRY);
	otlp_response_free(&r);
	otlp_transport_free(h);
	server_stop();

	/* a name that does not resolve: an error (or the timeout), never longer than it */
	h = otlp_transport_new("http://obi-unresolvable.invalid:4318/v1/traces", "", false,
			       OTLP_WIRE_PROTOBUF, NULL, NULL, NULL);
	CHECK(h != NULL);
	if (!h)
		return;
	t0 = now_ms();
	otlp_transport_post(h, (const uint8_t *)"x", 1, 1000, &r);
	took = now_ms() - t0;
	CHECK(r.err == -EHOSTUNREACH || r.err == -ETIMEDOUT);
	CHECK_INT(r.status, 0);
	CHECK_INT(otlp_transport_outcome(&r), OTLP_RETRY);
	CHECK(took < 1500);
	otlp_response_free(&r);
	otlp_transport_free(h);

	/* nothing listens any more on that port */
	h = client("/v1/traces", "", false, NULL);
	if (!h)
		return;
	otlp_transport_post(h, (const uint8_t *)"x", 1, 2000, &r);
	CHECK_INT(r.err, -ECONNREFUSED);
	CHECK(strstr(r.error, "connect to 127.0.0.1 port") != NULL);
	CHECK_INT(otlp_transport_outcome(&r), OTLP_RETRY);
	otlp_response_free(&r);
	otlp_transport_free(h);
}

/* A body in many small pieces: kept up to OTLP_RESPONSE_MAX, the buffer grown by doubling
 * (it was reallocated for every piece: 9.5 s under ASan for 64 KiB read a byte at a time). */
static void test_body_pieces(void)
{
	struct otlp_response r = {0};
	size_t i;

	for (i = 0; i < 1000; i++)
		otlp_response_body(&r, "x", 1);
	CHECK_INT(r.body_len, 1000);
	CHECK_INT(r.body_cap, 1024);
	CHECK(r.body && r.body[999] == 'x' && r.body[1000] == '\0');
	for (; i < OTLP_RESPONSE_MAX + 100; i++)
		otlp_response_body(&r, "y", 1);
	CHECK_INT(r.body_len, OTLP_RESPONSE_MAX);
	CHECK_INT(r.body_cap, OTLP_RESPONSE_MAX + 1);
	CHECK(r.body && r.body[OTLP_RESPONSE_MAX - 1] == 'y' && r.body[OTLP_RESPONSE_MAX] == '\0');
	otlp_response_free(&r);
	CHECK(!r.body && !r.body_len && !r.body_cap);
}

int main(void)
{
	test_request_and_keepalive();
	test_framing();
	test_receiver_closes();
	test_gzip();
	test_failures();
	test_body_pieces();
	return check_done("test_otlp_http");
}
