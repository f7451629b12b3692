// SPDX-License-Identifier: Apache-2.0
/*
 * OTLP/HTTP POSTs: headers, gzip, timeouts, Retry-After and their outcome. http:// endpoints
 * get a minimal HTTP/1.1 client: one non-blocking connection kept alive between exports,
 * Content-Length request bodies, responses framed by Content-Length, chunked encoding or the
 * connection's end. Anything else (https://, user:password@) goes to libcurl (curl.c). Both
 * fill the caller's struct otlp_response through response.h.
 */
#define _GNU_SOURCE /* strcasestr */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "core/parse.h"
#include "curl.h"
#include "core/log.h"

#define NS_PER_MS   1000000ULL
#define POLL_MS	    100		 /* longest wait before abort_at is looked at again */
#define IN_MAX	    8192	 /* longest response line; response bytes read at once */
#define HEADERS_MAX 64		 /* configured headers */
#define GZIP_LEVEL  Z_BEST_SPEED /* a third of level 6's CPU for 17 % more bytes */

struct otlp_http {
	bool gzip;
	const _Atomic uint64_t *abort_at;
	struct otlp_curl *curl; /* set: libcurl does the transfers */
	/* the own client */
	char host[256], port[8];
	char *head; /* the request head up to Content-Length */
	size_t head_len;
	int fd;			 /* the kept-alive connection, -1 when none */
	uint64_t deadline;	 /* of the current attempt (CLOCK_MONOTONIC ns) */
	otlp_http_read_fn *read; /* response bytes: sock_read, or a test's source */
	void *read_ctx;
	bool got_data; /* the current attempt received response bytes */
	char in[IN_MAX];
	size_t in_pos, in_len; /* in[in_pos..in_len): read, not yet parsed */
	/* gzip, reused from body to body */
	z_stream z;
	bool z_ready;
	uint8_t *zbuf;
	size_t zcap;
};

static otlp_http_read_fn sock_read;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* --- outcome ---------------------------------------------------------------------------------- */

enum otlp_outcome otlp_http_outcome(const struct otlp_response *r)
{
	if (r->err)
		return r->err == -EINVAL || r->err == -EPROTONOSUPPORT ? OTLP_REJECTED : OTLP_RETRY;
	if (r->status >= 200 && r->status < 300)
		return OTLP_SENT;
	switch (r->status) {
	case 429:
	case 502:
	case 503:
	case 504:
		return OTLP_RETRY;
	}
	return OTLP_REJECTED;
}

/* --- gzip ------------------------------------------------------------------------------------- */

/* gzip (RFC 1952) of in into h->zbuf, with the deflate state of the previous body reset. */
static int gzip_body(struct otlp_http *h, const uint8_t *in, size_t len, size_t *out_len)
{
	uLong bound;
	int ret;

	if (!h->z_ready) {
		/* 15 + 16: gzip wrapper instead of zlib's */
		if (deflateInit2(&h->z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
		    Z_OK)
			return -ENOMEM;
		h->z_ready = true;
	} else if (deflateReset(&h->z) != Z_OK) {
		return -ENOMEM;
	}
	bound = deflateBound(&h->z, (uLong)len);
	if (bound > h->zcap) {
		uint8_t *grown = realloc(h->zbuf, bound);

		if (!grown)
			return -ENOMEM;
		h->zbuf = grown;
		h->zcap = bound;
	}
	h->z.next_in = (Bytef *)in;
	h->z.avail_in = (uInt)len;
	h->z.next_out = h->zbuf;
	h->z.avail_out = (uInt)bound;
	ret = deflate(&h->z, Z_FINISH);
	*out_len = h->z.total_out;
	return ret == Z_STREAM_END ? 0 : -ENOMEM;
}

/* --- set-up ----------------------------------------------------------------------------------- */

struct header_lines {
	char *v[HEADERS_MAX + 4];
	size_t n;
	bool host, user_agent; /* set by the configuration */
};

static int add_line(struct header_lines *hl, const char *name, const char *value)
{
	size_t size = strlen(name) + strlen(value) + 3;

	if (hl->n == sizeof(hl->v) / sizeof(hl->v[0]))
		return -E2BIG;
	hl->v[hl->n] = malloc(size);
	if (!hl->v[hl->n])
		return -ENOMEM;
	/* "Name:" with nothing after it is how both transports send an empty value */
	snprintf(hl->v[hl->n++], size, "%s:%s%s", name, value[0] ? " " : "", value);
	return 0;
}

static int add_header(const char *key, const char *value, void *ctx)
{
	struct header_lines *hl = ctx;

	/* obi sets these itself; a second copy would confuse the receiver */
	if (!strcasecmp(key, "content-type") || !strcasecmp(key, "content-encoding") ||
	    !strcasecmp(key, "content-length") || !strcasecmp(key, "transfer-encoding")) {
		log_warn("otlp: ignoring header %s from the configuration (obi sets it)", key);
		return 0;
	}
	hl->host |= !strcasecmp(key, "host");
	hl->user_agent |= !strcasecmp(key, "user-agent");
	return add_line(hl, key, value);
}

/* Splits http://host[:port][/target] (host may be [IPv6]); false for what the own client does
 * not take (other schemes, user:password@). */
static bool split_url(const char *url, char *host, size_t host_size, char *port, size_t port_size,
		      const char **target)
{
	const char *auth, *end, *colon;
	size_t n;

	if (strncasecmp(url, "http://", 7))
		return false;
	auth = url + 7;
	end = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', (size_t)(end - auth)))
		return false;
	if (*auth == '[') {
		const char *close = memchr(auth, ']', (size_t)(end - auth));

		if (!close)
			return false;
		n = (size_t)(close - auth - 1);
		colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
		auth++;
	} else {
		colon = memchr(auth, ':', (size_t)(end - auth));
		n = (size_t)((colon ? colon : end) - auth);
	}
	if (!n || n >= host_size || (colon && (size_t)(end - colon - 1) >= port_size))
		return false;
	memcpy(host, auth, n);
	host[n] = '\0';
	if (colon && end > colon + 1)
		snprintf(port, port_size, "%.*s", (int)(end - colon - 1), colon + 1);
	else
		snprintf(port, port_size, "80");
	if (strspn(port, "0123456789") != strlen(port))
		return false;
	*target = *end == '/' || *end == '?' ? end : "/";
	return true;
}

/* The request head up to Content-Length, for the own client. */
static int build_head(struct otlp_http *h, const char *url, const char *target,
		      const struct header_lines *hl)
{
	size_t size = strlen(target) + strlen(url) + 64, i, k;
	const char *authority = url + 7;
	int n;

	for (i = 0; i < hl->n; i++)
		size += strlen(hl->v[i]) + 2;
	h->head = malloc(size);
	if (!h->head)
		return -ENOMEM;
	/* the target up to a fragment; Host: the url's authority as written */
	n = snprintf(h->head, size, "POST %.*s HTTP/1.1\r\n", (int)strcspn(target, "#"), target);
	k = (size_t)n;
	if (!hl->host)
		k += (size_t)snprintf(h->head + k, size - k, "Host: %.*s\r\n",
				      (int)strcspn(authority, "/?#"), authority);
	for (i = 0; i < hl->n; i++)
		k += (size_t)snprintf(h->head + k, size - k, "%s\r\n", hl->v[i]);
	h->head_len = k;
	return 0;
}

struct otlp_http *otlp_http_new(const char *url, const char *headers, bool gzip,
				const _Atomic uint64_t *abort_at)
{
	struct otlp_http *h = calloc(1, sizeof(*h));
	struct header_lines hl = {0};
	const char *target;
	char ua[64];
	size_t i;
	int err;

	if (!h)
		return NULL;
	h->fd = -1;
	h->read = sock_read;
	h->read_ctx = h;
	h->gzip = gzip;
	h->abort_at = abort_at;
	snprintf(ua, sizeof(ua), "obi/%s", OBI_VERSION);
	err = add_line(&hl, "Content-Type", "application/x-protobuf");
	if (!err && gzip)
		err = add_line(&hl, "Content-Encoding", "gzip");
	if (!err)
		err = parse_kv_list(headers, add_header, &hl, NULL, 0);
	if (!err && !hl.user_agent)
		err = add_line(&hl, "User-Agent", ua);
	if (!err && split_url(url, h->host, sizeof(h->host), h->port, sizeof(h->port), &target))
		err = build_head(h, url, target, &hl);
	else if (!err)
		err = otlp_curl_new(url, (const char *const *)hl.v, hl.n, abort_at, &h->curl);
	for (i = 0; i < hl.n; i++)
		free(hl.v[i]);
	if (err) {
		otlp_http_free(h);
		return NULL;
	}
	return h;
}

static void close_conn(struct otlp_http *h)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}

void otlp_http_free(struct otlp_http *h)
{
	if (!h)
		return;
	close_conn(h);
	otlp_curl_free(h->curl);
	if (h->z_ready)
		deflateEnd(&h->z);
	free(h->zbuf);
	free(h->head);
	free(h);
}

/* --- the own client: connection --------------------------------------------------------------- */

/* Waits for events on the connection until deadline (-ETIMEDOUT) or abort_at (-ECANCELED). */
static int wait_fd(struct otlp_http *h, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = mono_ns(), abort_at = h->abort_at ? atomic_load(h->abort_at) : 0;
		struct pollfd p = {.fd = h->fd, .events = events};
		uint64_t ms = (deadline - now + NS_PER_MS - 1) / NS_PER_MS;
		int n;

		if (abort_at && now >= abort_at)
			return -ECANCELED;
		if (now >= deadline)
			return -ETIMEDOUT;
		n = poll(&p, 1, ms < POLL_MS ? (int)ms : POLL_MS);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* Connects to one address of the endpoint. Returns 0 or -errno. */
static int connect_addr(struct otlp_http *h, const struct addrinfo *ai, uint64_t deadline)
{
	int one = 1, err = 0;
	socklen_t len = sizeof(err);

	h->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->fd < 0)
		return -errno;
	if (connect(h->fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
		err = -errno;
	} else {
		err = wait_fd(h, POLLOUT, deadline);
		if (!err && getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0)
			err = -err;
	}
	if (err) {
		close_conn(h);
		return err;
	}
	setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

static int connect_endpoint(struct otlp_http *h, uint64_t deadline, char *why, size_t size)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *list, *ai;
	int err = -EHOSTUNREACH, gai;

	gai = getaddrinfo(h->host, h->port, &hints, &list);
	if (gai) {
		snprintf(why, size, "resolve %s: %s", h->host, gai_strerror(gai));
		return -EHOSTUNREACH;
	}
	for (ai = list; ai; ai = ai->ai_next) {
		err = connect_addr(h, ai, deadline);
		if (!err || err == -ETIMEDOUT || err == -ECANCELED)
			break;
	}
	freeaddrinfo(list);
	if (err && err != -ETIMEDOUT && err != -ECANCELED)
		snprintf(why, size, "connect to %s port %s: %s", h->host, h->port, strerror(-err));
	return err;
}

/* A kept-alive connection with something to read before a request was sent: the receiver
 * closed it (or talks out of turn). */
static bool stale(struct otlp_http *h)
{
	struct pollfd p = {.fd = h->fd, .events = POLLIN};

	return poll(&p, 1, 0) != 0;
}

static int send_request(struct otlp_http *h, const uint8_t *body, size_t len, uint64_t deadline)
{
	char clen[48];
	struct iovec iov[3] = {
	    {h->head, h->head_len},
	    {clen, (size_t)snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n\r\n", len)},
	    {(void *)body, len},
	};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 3};
	ssize_t n;
	int err;

	while (msg.msg_iovlen) {
		n = sendmsg(h->fd, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		if (n < 0) {
			err = wait_fd(h, POLLOUT, deadline);
			if (err)
				return err;
			continue;
		}
		/* drop what went out */
		while (msg.msg_iovlen && (size_t)n >= msg.msg_iov->iov_len) {
			n -= (ssize_t)msg.msg_iov->iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen) {
			msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + n;
			msg.msg_iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* --- the own client: response ----------------------------------------------------------------- */

/* The connection's otlp_http_read_fn: recv, waiting up to the attempt's deadline. */
static ssize_t sock_read(void *ctx, void *buf, size_t cap)
{
	struct otlp_http *h = ctx;
	ssize_t n;
	int err;

	for (;;) {
		n = recv(h->fd, buf, cap, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		err = wait_fd(h, POLLIN, h->deadline);
		if (err)
			return err;
	}
}

/* More response bytes into h->in. Returns 0, -ENODATA at the connection's end, or -errno. */
static int fill(struct otlp_http *h)
{
	ssize_t n;

	if (h->in_pos) {
		memmove(h->in, h->in + h->in_pos, h->in_len - h->in_pos);
		h->in_len -= h->in_pos;
		h->in_pos = 0;
	}
	if (h->in_len == sizeof(h->in))
		return -E2BIG; /* a line longer than the buffer */
	n = h->read(h->read_ctx, h->in + h->in_len, sizeof(h->in) - h->in_len);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -ENODATA;
	h->in_len += (size_t)n;
	h->got_data = true;
	return 0;
}

/* The next line (LF or CRLF ended), NUL-terminated in h->in, valid until the next read. */
static int read_line(struct otlp_http *h, char **line, size_t *len)
{
	char *nl;
	int err;

	while (!(nl = memchr(h->in + h->in_pos, '\n', h->in_len - h->in_pos))) {
		err = fill(h);
		if (err)
			return err;
	}
	*line = h->in + h->in_pos;
	*len = (size_t)(nl - *line);
	h->in_pos += *len + 1;
	if (*len && (*line)[*len - 1] == '\r')
		(*len)--;
	(*line)[*len] = '\0';
	return 0;
}

/* n body bytes, or up to the connection's end when to_eof. */
static int read_body(struct otlp_http *h, uint64_t n, bool to_eof, struct otlp_response *resp)
{
	int err;

	while (n || to_eof) {
		size_t have = h->in_len - h->in_pos, take = have < n || to_eof ? have : (size_t)n;

		otlp_response_body(resp, h->in + h->in_pos, take);
		h->in_pos += take;
		n -= to_eof ? 0 : take;
		if (!n && !to_eof)
			break;
		err = fill(h);
		if (err)
			return to_eof && err == -ENODATA ? 0 : err;
	}
	return 0;
}

/* Digits only (no sign, no "0x", no blanks): what an HTTP length or chunk size may be. The
 * number of digits read, 0 if there were none or the value overflows. */
static size_t parse_digits(const char *s, unsigned base, unsigned long long *out)
{
	unsigned long long v = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		char c = s[i];
		unsigned d = c >= '0' && c <= '9'	      ? (unsigned)(c - '0')
			     : base == 16 && c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			     : base == 16 && c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
								    : base;

		if (d >= base)
			break;
		if (v > (~0ULL - d) / base)
			return 0;
		v = v * base + d;
	}
	*out = v;
	return i;
}

static int read_chunked(struct otlp_http *h, struct otlp_response *resp)
{
	unsigned long long size;
	size_t len, digits;
	char *line, *end;
	int err;

	for (;;) {
		err = read_line(h, &line, &len);
		if (err)
			return err;
		digits = parse_digits(line, 16, &size);
		end = line + digits;
		if (!digits || (*end && *end != ';' && *end != ' ' && *end != '\t'))
			return -EPROTO;
		if (!size)
			break;
		err = read_body(h, size, false, resp);
		if (!err)
			err = read_line(h, &line, &len);
		if (err)
			return err;
		if (len)
			return -EPROTO;
	}
	/* trailer fields up to an empty line */
	do
		err = read_line(h, &line, &len);
	while (!err && len);
	return err;
}

/* Status line, headers, body. *keep: the connection may carry the next request. */
static int read_response(struct otlp_http *h, struct otlp_response *resp, bool *keep)
{
	bool chunked, has_len, close;
	unsigned long long clen = 0;
	char *line, value[64];
	int minor, err;
	size_t len;
	long status;

	do { /* 1xx interim answers have no body: skipped */
		err = read_line(h, &line, &len);
		if (err)
			return err;
		if (sscanf(line, "HTTP/1.%d %3ld", &minor, &status) != 2 || status < 100)
			return -EPROTO;
		close = minor == 0;
		chunked = has_len = false;
		for (;;) {
			err = read_line(h, &line, &len);
			if (err)
				return err;
			if (!len)
				break;
			if (otlp_response_header_value(line, len, "content-length", value,
						       sizeof(value))) {
				has_len =
				    value[0] && parse_digits(value, 10, &clen) == strlen(value);
				if (!has_len)
					return -EPROTO;
			} else if (otlp_response_header_value(line, len, "transfer-encoding", value,
							      sizeof(value))) {
				chunked = strcasestr(value, "chunked") != NULL;
			} else if (otlp_response_header_value(line, len, "connection", value,
							      sizeof(value))) {
				close = strcasestr(value, "close") ||
					(close && !strcasestr(value, "keep-alive"));
			}
			otlp_response_header(resp, line, len);
		}
	} while (status < 200);
	resp->status = status;
	if (status == 204 || status == 304)
		err = 0;
	else if (chunked)
		err = read_chunked(h, resp);
	else if (has_len)
		err = read_body(h, clen, false, resp);
	else
		close = true, err = read_body(h, 0, true, resp);
	*keep = !err && !close;
	return err;
}

int otlp_http_read_response(otlp_http_read_fn *read, void *ctx, struct otlp_response *resp,
			    bool *keep)
{
	struct otlp_http *h = calloc(1, sizeof(*h));
	int err;

	otlp_response_init(resp);
	*keep = false;
	if (!h)
		return -ENOMEM;
	h->fd = -1;
	h->read = read;
	h->read_ctx = ctx;
	err = read_response(h, resp, keep);
	free(h);
	return err;
}

static void describe(int err, uint64_t timeout_ms, char *why, size_t size)
{
	if (err == -ETIMEDOUT)
		snprintf(why, size, "timed out after %llu ms", (unsigned long long)timeout_ms);
	else if (err == -ECANCELED)
		snprintf(why, size, "cancelled at exit");
	else if (err == -ENODATA)
		snprintf(why, size, "connection closed before a complete answer");
	else if (err == -EPROTO)
		snprintf(why, size, "malformed HTTP answer");
	else if (err == -E2BIG)
		snprintf(why, size, "HTTP answer with a line longer than %d bytes", IN_MAX);
	else
		snprintf(why, size, "%s", strerror(-err));
}

static void post_plain(struct otlp_http *h, const uint8_t *body, size_t len, uint64_t timeout_ms,
		       struct otlp_response *resp)
{
	uint64_t deadline = mono_ns() + timeout_ms * NS_PER_MS;
	bool reused, keep;
	int err;

	h->deadline = deadline;
	for (;;) {
		reused = h->fd >= 0 && !stale(h);
		if (!reused) {
			close_conn(h);
			err = connect_endpoint(h, deadline, resp->error, sizeof(resp->error));
			if (err)
				break;
		}
		h->in_pos = h->in_len = 0;
		h->got_data = false;
		err = send_request(h, body, len, deadline);
		if (!err)
			err = read_response(h, resp, &keep);
		if (!err) {
			if (!keep)
				close_conn(h);
			return;
		}
		close_conn(h);
		/* a kept-alive connection the receiver closed meanwhile: once more, anew */
		if (!reused || h->got_data ||
		    (err != -ENODATA && err != -ECONNRESET && err != -EPIPE))
			break;
	}
	if (!resp->error[0])
		describe(err, timeout_ms, resp->error, sizeof(resp->error));
	resp->status = 0;
	resp->err = err;
	otlp_response_free(resp);
}

void otlp_http_post(struct otlp_http *h, const uint8_t *body, size_t len, uint64_t timeout_ms,
		    struct otlp_response *resp)
{
	size_t zlen;

	otlp_response_init(resp);
	if (h->gzip) {
		if (gzip_body(h, body, len, &zlen)) {
			resp->err = -ENOMEM;
			snprintf(resp->error, sizeof(resp->error), "gzip: out of memory");
			return;
		}
		body = h->zbuf;
		len = zlen;
	}
	if (h->curl)
		otlp_curl_post(h->curl, body, len, timeout_ms, resp);
	else
		post_plain(h, body, len, timeout_ms, resp);
}
