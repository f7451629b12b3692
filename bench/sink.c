// SPDX-License-Identifier: Apache-2.0
/*
 * The OTLP/HTTP sink of the benchmarks, in C so that it takes as little CPU as possible from
 * the machine under test (it stands in for a collector, which would normally run elsewhere).
 * Accepts POST /v1/traces and /v1/metrics (protobuf, Content-Length or chunked, optionally
 * gzip), answers 200 with an empty export response, and counts the spans by walking the
 * protobuf wire format. GET /stats answers the counters as JSON.
 *
 * usage: sink PORT        (prints "sink ready" on stdout once listening)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

static struct {
	unsigned long long trace_requests, metric_requests, other_requests, spans, bytes, bad_bodies;
} stats;

struct client {
	int fd;
	char *buf;
	size_t len, cap;
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

static void handle_post(const char *path, char *body, size_t len, bool gz)
{
	uint8_t *plain = (uint8_t *)body;
	size_t plain_len = len;
	bool traces = strstr(path, "/v1/traces") != NULL;

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
		long n = count_spans(plain, plain_len);

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
		bool post, known, gz, chunked, close_after;

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
			handle_post(path, body, body_len, gz);
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
			if (serve(c))
				continue;
drop:
			epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			close(c->fd);
			free(c->buf);
			free(c);
		}
	}
}
