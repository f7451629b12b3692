// SPDX-License-Identifier: Apache-2.0
/*
 * The OTLP sink of the benchmarks, in C so that it takes as little CPU as possible from the
 * machine under test (it stands in for a collector, which would normally run elsewhere).
 * OTLP/HTTP: accepts POST /v1/traces and /v1/metrics (protobuf or JSON, Content-Length or
 * chunked, optionally gzip) and answers 200 with an empty export response. OTLP/gRPC: a
 * connection that opens with the HTTP/2 client preface is served by nghttp2 (h2c with prior
 * knowledge): each Export call is answered with an empty response message and grpc-status 0.
 * Spans are counted by walking the protobuf wire format, or the JSON document (cJSON).
 * GET /stats (HTTP/1.1) answers the counters as JSON.
 *
 * usage: sink PORT        (prints "sink ready" on stdout once listening)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <nghttp2/nghttp2.h>
#include <zlib.h>

static struct {
	unsigned long long trace_requests, metric_requests, other_requests, spans, bytes, bad_bodies;
} stats;

struct client {
	int fd;
	char *buf;
	size_t len, cap;
	nghttp2_session *h2;	/* set once the connection opened with the HTTP/2 preface */
};

/* --- protobuf: just enough to count ResourceSpans(1) -> ScopeSpans(2) -> Span(2) ---------- */

static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t c = *(*p)++;

		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return true;
	}
	return false;
}

/* Calls each length-delimited field `want` of the message [p, end) with its bytes; -1 if the
 * message is malformed. */
static long count_fields(const uint8_t *p, const uint8_t *end, unsigned want, int depth)
{
	long n = 0;

	while (p < end) {
		uint64_t key, v;

		if (!varint(&p, end, &key))
			return -1;
		switch (key & 7) {
		case 0:
			if (!varint(&p, end, &v))
				return -1;
			break;
		case 1:
			p += 8;
			break;
		case 5:
			p += 4;
			break;
		case 2:
			if (!varint(&p, end, &v) || v > (uint64_t)(end - p))
				return -1;
			if ((key >> 3) == want) {
				long sub = depth ? count_fields(p, p + v, 2, depth - 1) : 1;

				if (sub < 0)
					return -1;
				n += sub;
			}
			p += v;
			break;
		default:
			return -1;
		}
	}
	return p == end ? n : -1;
}

static long count_spans(const uint8_t *body, size_t len)
{
	/* ExportTraceServiceRequest.resource_spans(1) -> scope_spans(2) -> spans(2) */
	return count_fields(body, body + len, 1, 2);
}

/* The same count in the OTLP/JSON form: resourceSpans[].scopeSpans[].spans[]. */
static long count_json_spans(const uint8_t *body, size_t len)
{
	cJSON *doc = cJSON_ParseWithLength((const char *)body, len), *rs, *ss;
	long n = 0;

	if (!doc)
		return -1;
	cJSON_ArrayForEach(rs, cJSON_GetObjectItemCaseSensitive(doc, "resourceSpans"))
		cJSON_ArrayForEach(ss, cJSON_GetObjectItemCaseSensitive(rs, "scopeSpans"))
			n += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ss, "spans"));
	cJSON_Delete(doc);
	return n;
}

/* --- HTTP ------------------------------------------------------------------------------- */

static const char *header(const char *head, size_t head_len, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *p = memchr(head, '\n', head_len), *end = head + head_len;

	while (p && p + 1 < end) {
		const char *line = p + 1, *eol = memchr(line, '\n', end - line);

		if (!eol)
			break;
		if ((size_t)(eol - line) > nl + 1 && line[nl] == ':' && !strncasecmp(line, name, nl)) {
			const char *v = line + nl + 1;

			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*vlen = eol - v - (eol > v && eol[-1] == '\r');
			return v;
		}
		p = eol;
	}
	return NULL;
}

/* Decodes a chunked body in place; the decoded length, or -1 if incomplete/bad, and in *used
 * the bytes consumed. */
static long dechunk(char *b, size_t len, size_t *used)
{
	size_t in = 0, out = 0;

	for (;;) {
		char *eol = memmem(b + in, len - in, "\r\n", 2), *endp;
		unsigned long size;

		if (!eol)
			return -1;
		size = strtoul(b + in, &endp, 16);
		in = eol - b + 2;
		if (size == 0) {
			/* trailers up to an empty line */
			char *fin = memmem(b + in - 2, len - in + 2, "\r\n\r\n", 4);

			if (!fin)
				return -1;
			*used = fin - b + 4;
			return out;
		}
		if (size > len - in || len - in - size < 2)
			return -1;
		memmove(b + out, b + in, size);
		out += size;
		in += size + 2;
	}
}

static void reply(int fd, int code, const char *ctype, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n", code,
			 code == 200 ? "OK" : "Not Found", ctype, len);

	if (write(fd, head, n) != n || (len && write(fd, body, len) != (ssize_t)len))
		return;	/* the peer went away: its loss */
}

static void handle_post(bool traces, char *body, size_t len, bool gz, bool json)
{
	uint8_t *plain = (uint8_t *)body;
	size_t plain_len = len;

	if (gz) {
		z_stream z = { 0 };
		size_t cap = len * 8 + 4096;

		plain = malloc(cap);
		if (!plain || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
			free(plain);
			stats.bad_bodies++;
			return;
		}
		z.next_in = (uint8_t *)body;
		z.avail_in = len;
		for (;;) {
			z.next_out = plain + z.total_out;
			z.avail_out = cap - z.total_out;
			int rc = inflate(&z, Z_NO_FLUSH);

			if (rc == Z_STREAM_END)
				break;
			if (rc != Z_OK && rc != Z_BUF_ERROR) {
				stats.bad_bodies++;
				goto out;
			}
			if (z.avail_out == 0) {
				uint8_t *grown = realloc(plain, cap * 2);

				if (!grown)
					goto out;
				plain = grown;
				cap *= 2;
			} else if (z.avail_in == 0) {
				stats.bad_bodies++;
				goto out;
			}
		}
		plain_len = z.total_out;
	}
	stats.bytes += plain_len;
	if (traces) {
		long n = json ? count_json_spans(plain, plain_len) : count_spans(plain, plain_len);

		stats.trace_requests++;
		if (n < 0)
			stats.bad_bodies++;
		else
			stats.spans += n;
	} else {
		stats.metric_requests++;
	}
out:
	if (gz) {
		free(plain);
	}
}

/* Handles every complete request in c->buf; false when the connection should close. */
static bool serve(struct client *c)
{
	for (;;) {
		char *end = memmem(c->buf, c->len, "\r\n\r\n", 4), *body, path[256] = "";
		size_t head_len, vlen, body_len, used;
		const char *v;
		bool post, known, gz, json, chunked, close_after;

		if (!end)
			return c->len < (1 << 16);
		head_len = end - c->buf + 4;
		post = c->len >= 5 && !memcmp(c->buf, "POST ", 5);
		{
			/* the request target: the line is copied first, the buffer has no NUL */
			char line[300];
			size_t ll = head_len < sizeof(line) - 1 ? head_len : sizeof(line) - 1;

			memcpy(line, c->buf, ll);
			line[ll] = 0;
			sscanf(line, "%*s %255s", path);
		}
		v = header(c->buf, head_len, "Content-Encoding", &vlen);
		gz = v && vlen >= 4 && !strncasecmp(v, "gzip", 4);
		v = header(c->buf, head_len, "Content-Type", &vlen);
		json = v && vlen >= 16 && !strncasecmp(v, "application/json", 16);
		v = header(c->buf, head_len, "Transfer-Encoding", &vlen);
		chunked = v && vlen >= 7 && !strncasecmp(v, "chunked", 7);
		v = header(c->buf, head_len, "Connection", &vlen);
		close_after = v && vlen >= 5 && !strncasecmp(v, "close", 5);
		body = c->buf + head_len;
		if (chunked) {
			long n = dechunk(body, c->len - head_len, &used);

			if (n < 0)
				return true;	/* wait for more */
			body_len = n;
		} else {
			v = header(c->buf, head_len, "Content-Length", &vlen);
			body_len = v ? strtoul(v, NULL, 10) : 0;
			if (c->len - head_len < body_len)
				return true;
			used = body_len;
		}
		known = strstr(path, "/v1/traces") || strstr(path, "/v1/metrics");
		if (post && known) {
			handle_post(strstr(path, "/v1/traces") != NULL, body, body_len, gz, json);
			if (json)
				reply(c->fd, 200, "application/json", "{}", 2);
			else
				reply(c->fd, 200, "application/x-protobuf", "", 0);
		} else if (!post && !strcmp(path, "/stats")) {
			char json[512];
			int n = snprintf(json, sizeof(json),
					 "{\"trace_requests\": %llu, \"metric_requests\": %llu, "
					 "\"other_requests\": %llu, \"spans\": %llu, \"bytes\": %llu, "
					 "\"bad_bodies\": %llu}",
					 stats.trace_requests, stats.metric_requests, stats.other_requests,
					 stats.spans, stats.bytes, stats.bad_bodies);
			reply(c->fd, 200, "application/json", json, n);
		} else {
			stats.other_requests++;
			reply(c->fd, 404, "text/plain", "", 0);
		}
		if (close_after)
			return false;
		used += head_len;
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
	}
}

/* --- OTLP/gRPC: HTTP/2 through nghttp2 -------------------------------------------------- */

struct call {
	bool traces, gz;
	uint8_t *body;	/* the request's length-prefixed messages */
	size_t len, cap;
	bool answered;
};

static ssize_t h2_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *user)
{
	struct client *c = user;
	ssize_t n = write(c->fd, data, len);	/* a blocking socket: the sink waits for its peer */

	(void)s, (void)flags;
	return n < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : n;
}

static int h2_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
	(void)user;
	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
		struct call *call = calloc(1, sizeof(*call));

		if (!call)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		nghttp2_session_set_stream_user_data(s, f->hd.stream_id, call);
	}
	return 0;
}

static int h2_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
		     const uint8_t *value, size_t vlen, uint8_t flags, void *user)
{
	struct call *call = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);

	(void)flags, (void)user;
	if (!call)
		return 0;
	if (nlen == 5 && !memcmp(name, ":path", 5))
		call->traces = memmem(value, vlen, "TraceService", 12) != NULL;
	else if (nlen == 13 && !memcmp(name, "grpc-encoding", 13))
		call->gz = vlen == 4 && !memcmp(value, "gzip", 4);
	return 0;
}

static int h2_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
		   void *user)
{
	struct call *call = nghttp2_session_get_stream_user_data(s, id);

	(void)flags, (void)user;
	if (!call)
		return 0;
	if (call->cap - call->len < len) {
		size_t cap = (call->len + len) * 2;
		uint8_t *grown = realloc(call->body, cap);

		if (!grown)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		call->body = grown;
		call->cap = cap;
	}
	memcpy(call->body + call->len, data, len);
	call->len += len;
	return 0;
}

/* The response message: an empty Export*ServiceResponse (flag 0, length 0), then trailers. */
static ssize_t h2_response_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
				uint32_t *flags, nghttp2_data_source *src, void *user)
{
	static const nghttp2_nv ok[] = {
		{(uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1, NGHTTP2_NV_FLAG_NONE},
	};

	(void)src, (void)user;
	if (len < 5)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	memset(buf, 0, 5);
	*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
	if (nghttp2_submit_trailer(s, id, ok, 1))
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	return 5;
}

static void h2_answer(nghttp2_session *s, int32_t id, struct call *call)
{
	static const nghttp2_nv head[] = {
		{(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
		{(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16,
		 NGHTTP2_NV_FLAG_NONE},
	};
	nghttp2_data_provider body = {.read_callback = h2_response_body};
	size_t at = 0;

	/* each length-prefixed message: 1 byte compressed flag, 4 bytes big-endian length */
	while (call->len - at >= 5) {
		uint32_t n = (uint32_t)call->body[at + 1] << 24 | (uint32_t)call->body[at + 2] << 16 |
			     (uint32_t)call->body[at + 3] << 8 | call->body[at + 4];

		if (n > call->len - at - 5)
			break;
		handle_post(call->traces, (char *)call->body + at + 5, n,
			    call->body[at] && call->gz, false);
		at += 5 + (size_t)n;
	}
	if (at != call->len)
		stats.bad_bodies++;
	call->answered = true;
	nghttp2_submit_response(s, id, head, 2, &body);
}

static int h2_frame(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
	struct call *call = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);

	(void)user;
	if (call && !call->answered && (f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
	    (f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS))
		h2_answer(s, f->hd.stream_id, call);
	return 0;
}

static int h2_close(nghttp2_session *s, int32_t id, uint32_t code, void *user)
{
	struct call *call = nghttp2_session_get_stream_user_data(s, id);

	(void)code, (void)user;
	if (call) {
		free(call->body);
		free(call);
		nghttp2_session_set_stream_user_data(s, id, NULL);
	}
	return 0;
}

static bool h2_open(struct client *c)
{
	nghttp2_session_callbacks *cb;
	nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}};
	int rc;

	if (nghttp2_session_callbacks_new(&cb))
		return false;
	nghttp2_session_callbacks_set_send_callback(cb, h2_send);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, h2_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, h2_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2_frame);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_close);
	rc = nghttp2_session_server_new(&c->h2, cb, c);
	nghttp2_session_callbacks_del(cb);
	return !rc && !nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, settings, 1);
}

/* Feeds what the connection sent to its HTTP/2 session; false when it should close. */
static bool h2_serve(struct client *c)
{
	ssize_t used = nghttp2_session_mem_recv(c->h2, (uint8_t *)c->buf, c->len);

	if (used < 0)
		return false;
	c->len = 0;
	return !nghttp2_session_send(c->h2) &&
	       (nghttp2_session_want_read(c->h2) || nghttp2_session_want_write(c->h2));
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, ls, ep;
	struct epoll_event ev = { .events = EPOLLIN };

	if (argc != 2) {
		fprintf(stderr, "usage: sink PORT\n");
		return 2;
	}
	sa.sin_port = htons(atoi(argv[1]));
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 128)) {
		perror("sink: listen");
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	printf("sink ready\n");
	fflush(stdout);
	for (;;) {
		struct epoll_event evs[16];
		int n = epoll_wait(ep, evs, 16, -1);

		for (int i = 0; i < n; i++) {
			struct client *c = evs[i].data.ptr;
			ssize_t got;

			if (!c) {
				int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);

				if (fd < 0)
					continue;
				c = calloc(1, sizeof(*c));
				if (!c) {
					close(fd);
					continue;
				}
				c->fd = fd;
				/* answers go out as they are made, as a gRPC server's do (HTTP/2
				 * writes a response's HEADERS and DATA apart: Nagle would hold the
				 * second for the client's delayed ACK) */
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				ev.data.ptr = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				continue;
			}
			if (c->cap - c->len < 65536) {
				char *grown = realloc(c->buf, c->cap ? c->cap * 2 : 1 << 17);

				if (!grown)
					goto drop;
				c->buf = grown;
				c->cap = c->cap ? c->cap * 2 : 1 << 17;
			}
			got = read(c->fd, c->buf + c->len, c->cap - c->len);
			if (got <= 0)
				goto drop;
			c->len += got;
			if (!c->h2 && !memcmp(c->buf, NGHTTP2_CLIENT_MAGIC,
					      c->len < NGHTTP2_CLIENT_MAGIC_LEN
						  ? c->len
						  : NGHTTP2_CLIENT_MAGIC_LEN)) {
				if (c->len < NGHTTP2_CLIENT_MAGIC_LEN)
					continue;	/* maybe the preface: wait for all of it */
				if (!h2_open(c))
					goto drop;
			}
			if (c->h2 ? h2_serve(c) : serve(c))
				continue;
drop:
			epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			close(c->fd);
			if (c->h2)
				nghttp2_session_del(c->h2);
			free(c->buf);
			free(c);
		}
	}
}
