// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP/1.x message-head parser over captured bytes: the start line, the handful of headers obi
 * reports (Host, User-Agent, traceparent) and the framing ones (Content-Length,
 * Transfer-Encoding, Connection). Bytes come from other processes, so every read is bounded.
 */
#include "http1.h"

#include <limits.h>
#include <string.h>

/* Result of scanning a piece of the start line: the bytes may simply stop early. */
enum scan {
	SCAN_BAD = -1,
	SCAN_MORE = 0,
	SCAN_OK = 1,
};

struct cursor {
	const char *p;
	const char *end;
};

/* Header state that does not fit in struct http1_msg but decides its fields. */
#define TRACESTATE_HEADERS 32	/* tracestate header lines combined; more make it invalid */

struct head_state {
	bool cl_bad; /* a Content-Length was invalid or conflicted: stays -1 */
	bool ts_over; /* more tracestate headers than TRACESTATE_HEADERS */
	size_t n_ts;
	const char *ts_val[TRACESTATE_HEADERS]; /* the tracestate values, into the head */
	size_t ts_len[TRACESTATE_HEADERS];
	bool saw_close;
	bool saw_keep_alive;
};

static const char *const methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
};

#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Case-insensitive comparison of s[0..n) with a lowercase literal. */
static bool ieq(const char *s, size_t n, const char *lit)
{
	size_t i;

	if (n != strlen(lit))
		return false;
	for (i = 0; i < n; i++)
		if (lower(s[i]) != lit[i])
			return false;
	return true;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void copy_field(char *dst, size_t size, const char *src, size_t n)
{
	if (n > size - 1) {
		n = size - 1;
		/* never cut a UTF-8 character in two: the field stays a prefix of the text */
		for (int i = 0; i < 3 && n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80; i++)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Compares the cursor with a literal as far as bytes go; advances past it on a full match. */
static enum scan expect(struct cursor *c, const char *lit)
{
	size_t n = strlen(lit), i;

	for (i = 0; i < n; i++) {
		if (c->p + i == c->end)
			return SCAN_MORE;
		if (c->p[i] != lit[i])
			return SCAN_BAD;
	}
	c->p += n;
	return SCAN_OK;
}

/* "HTTP/1.0" or "HTTP/1.1"; other minor versions do not exist. */
static enum scan scan_version(struct cursor *c, struct http1_msg *msg)
{
	enum scan r = expect(c, "HTTP/1.");

	if (r != SCAN_OK)
		return r;
	if (c->p == c->end)
		return SCAN_MORE;
	if (*c->p != '0' && *c->p != '1')
		return SCAN_BAD;
	msg->version_minor = *c->p++ - '0';
	return SCAN_OK;
}

/* CRLF or a bare LF. */
static enum scan scan_eol(struct cursor *c)
{
	if (c->p < c->end && *c->p == '\r')
		c->p++;
	if (c->p == c->end)
		return SCAN_MORE;
	if (*c->p != '\n')
		return SCAN_BAD;
	c->p++;
	return SCAN_OK;
}

static enum scan scan_method(struct cursor *c, struct http1_msg *msg)
{
	size_t avail = c->end - c->p;
	size_t limit = avail < 8 ? avail : 8; /* longest method + SP */
	const char *sp = memchr(c->p, ' ', limit);
	size_t n = sp ? (size_t)(sp - c->p) : limit;
	size_t i;

	/* Without the space yet, a prefix of a known method may still become one. */
	for (i = 0; i < N_METHODS; i++) {
		size_t mlen = strlen(methods[i]);

		if (sp && n == mlen && memcmp(c->p, methods[i], n) == 0) {
			copy_field(msg->method, sizeof(msg->method), c->p, n);
			c->p = sp + 1;
			return SCAN_OK;
		}
		if (!sp && n <= mlen && memcmp(c->p, methods[i], n) == 0)
			return SCAN_MORE;
	}
	return SCAN_BAD;
}

/* Path of an origin-form target: everything before the query or the fragment. */
static void set_path(struct http1_msg *msg, const char *t, size_t n)
{
	size_t i;

	for (i = 0; i < n && t[i] != '?' && t[i] != '#'; i++)
		;
	copy_field(msg->path, sizeof(msg->path), t, i);
}

/* scheme "://" authority [path] — what clients send to a forward proxy. */
static enum scan set_absolute(struct http1_msg *msg, const char *t, size_t n)
{
	size_t i = 0, auth, a;

	if (!((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z')))
		return SCAN_BAD;
	while (i < n && t[i] != ':' && t[i] != '/')
		i++;
	if (n - i < 3 || memcmp(t + i, "://", 3) != 0)
		return SCAN_BAD;
	auth = i + 3;
	for (i = auth; i < n && t[i] != '/' && t[i] != '?' && t[i] != '#'; i++)
		;
	/* Drop "user:password@": credentials have no place in a span. */
	for (a = i; a > auth; a--) {
		if (t[a - 1] == '@') {
			auth = a;
			break;
		}
	}
	copy_field(msg->host, sizeof(msg->host), t + auth, i - auth);
	if (i < n && t[i] == '/')
		set_path(msg, t + i, n - i);
	else
		copy_field(msg->path, sizeof(msg->path), "/", 1);
	return SCAN_OK;
}

static enum scan set_target(struct http1_msg *msg, const char *t, size_t n)
{
	if (strcmp(msg->method, "CONNECT") == 0) {
		copy_field(msg->host, sizeof(msg->host), t, n);
		return SCAN_OK;
	}
	if (t[0] == '/') {
		set_path(msg, t, n);
		return SCAN_OK;
	}
	if (n == 1 && t[0] == '*') {
		copy_field(msg->path, sizeof(msg->path), "*", 1);
		return SCAN_OK;
	}
	return set_absolute(msg, t, n);
}

/* Target bytes are visible ASCII or UTF-8; a control byte or a second space is not HTTP. */
static enum scan scan_target(struct cursor *c, struct http1_msg *msg)
{
	const char *t = c->p;

	while (c->p < c->end && *c->p != ' ') {
		unsigned char b = (unsigned char)*c->p;

		if (b < 0x21 || b == 0x7f)
			return SCAN_BAD;
		c->p++;
	}
	if (c->p == c->end) {
		/* a target longer than what was captured: keep the path seen so far */
		if (c->p > t && t[0] == '/')
			set_path(msg, t, c->p - t);
		return SCAN_MORE;
	}
	if (c->p == t)
		return SCAN_BAD;
	if (set_target(msg, t, c->p - t) != SCAN_OK)
		return SCAN_BAD;
	c->p++;
	return SCAN_OK;
}

static enum scan scan_request_line(struct cursor *c, struct http1_msg *msg)
{
	enum scan r;

	msg->kind = HTTP1_REQUEST;
	r = scan_method(c, msg);
	if (r == SCAN_OK)
		r = scan_target(c, msg);
	if (r == SCAN_OK)
		r = scan_version(c, msg);
	if (r == SCAN_OK)
		r = scan_eol(c);
	return r;
}

/* 3DIGIT, then the end of the line or a space and a reason phrase. */
static enum scan scan_status(struct cursor *c, struct http1_msg *msg)
{
	int i, status = 0;

	for (i = 0; i < 3; i++, c->p++) {
		if (c->p == c->end)
			return SCAN_MORE;
		if (!is_digit(*c->p) || (i == 0 && *c->p == '0'))
			return SCAN_BAD;
		status = status * 10 + (*c->p - '0');
	}
	msg->status = status;
	if (c->p < c->end && *c->p == ' ') {
		for (c->p++; c->p < c->end && *c->p != '\r' && *c->p != '\n'; c->p++) {
			unsigned char b = (unsigned char)*c->p;

			if ((b < 0x20 && b != '\t') || b == 0x7f)
				return SCAN_BAD;
		}
	}
	return scan_eol(c);
}

static enum scan scan_status_line(struct cursor *c, struct http1_msg *msg)
{
	enum scan r;

	msg->kind = HTTP1_RESPONSE;
	r = scan_version(c, msg);
	if (r == SCAN_OK)
		r = expect(c, " ");
	if (r == SCAN_OK)
		r = scan_status(c, msg);
	return r;
}

/* Next comma-separated element of a header value, trimmed and without ";parameters". */
static bool next_token(struct cursor *c, const char **tok, size_t *n)
{
	while (c->p < c->end) {
		const char *s = c->p, *e, *semi;

		while (c->p < c->end && *c->p != ',')
			c->p++;
		e = c->p;
		if (c->p < c->end)
			c->p++;
		semi = memchr(s, ';', e - s);
		if (semi)
			e = semi;
		while (s < e && is_ows(*s))
			s++;
		while (e > s && is_ows(e[-1]))
			e--;
		if (e > s) {
			*tok = s;
			*n = e - s;
			return true;
		}
	}
	return false;
}

static void on_content_length(struct http1_msg *msg, struct head_state *st, const char *v, size_t n)
{
	int64_t len = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!is_digit(v[i]) || len > (INT64_MAX - (v[i] - '0')) / 10) {
			st->cl_bad = true;
			break;
		}
		len = len * 10 + (v[i] - '0');
	}
	/* Two different lengths make the framing ambiguous (a smuggling vector): trust neither. */
	if (n == 0 || (msg->content_length >= 0 && msg->content_length != len))
		st->cl_bad = true;
	msg->content_length = st->cl_bad ? -1 : len;
}

static void on_transfer_encoding(struct http1_msg *msg, const char *v, size_t n)
{
	struct cursor c = { v, v + n };
	const char *tok, *last = NULL;
	size_t tn, last_n = 0;

	while (next_token(&c, &tok, &tn)) {
		last = tok;
		last_n = tn;
	}
	/* Only the final coding frames the body; an earlier "chunked" is wrapped by another. */
	msg->chunked = last && ieq(last, last_n, "chunked");
}

static void on_connection(struct http1_msg *msg, struct head_state *st, const char *v, size_t n)
{
	struct cursor c = { v, v + n };
	const char *tok;
	size_t tn;

	while (next_token(&c, &tok, &tn)) {
		if (ieq(tok, tn, "close"))
			st->saw_close = true;
		else if (ieq(tok, tn, "keep-alive"))
			st->saw_keep_alive = true;
	}
	msg->conn_close = st->saw_close || (msg->version_minor == 0 && !st->saw_keep_alive);
}

/* A tracestate header: kept to be combined with the others once the head is whole. */
static void on_tracestate(struct head_state *st, const char *v, size_t n)
{
	if (n == 0)
		return;
	if (st->n_ts == TRACESTATE_HEADERS) {
		st->ts_over = true;
		return;
	}
	st->ts_val[st->n_ts] = v;
	st->ts_len[st->n_ts++] = n;
}

/* One header line without its line ending. Lines without a colon are skipped, not fatal. */
static void on_header(struct http1_msg *msg, struct head_state *st, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	const char *v, *end = line + len, *raw;
	size_t name_len;

	if (!colon)
		return;
	name_len = colon - line;
	raw = colon + 1;
	for (v = colon + 1; v < end && is_ows(*v); v++)
		;
	while (end > v && is_ows(end[-1]))
		end--;

	/* the name's length picks the one or two names it can be */
	switch (name_len) {
	case 4:
		/* An empty Host must not erase the authority of an absolute-form target. */
		if (ieq(line, name_len, "host") && end > v)
			copy_field(msg->host, sizeof(msg->host), v, end - v);
		break;
	case 10:
		if (ieq(line, name_len, "user-agent"))
			copy_field(msg->user_agent, sizeof(msg->user_agent), v, end - v);
		else if (ieq(line, name_len, "connection"))
			on_connection(msg, st, v, end - v);
		else if (ieq(line, name_len, "tracestate"))
			on_tracestate(st, v, end - v);
		break;
	case 11:
		/* raw: traceparent_parse() judges the blanks around it, as the kernel does */
		if (ieq(line, name_len, "traceparent") && msg->traceparent_n++ == 0)
			copy_field(msg->traceparent, sizeof(msg->traceparent), raw,
				   line + len - raw);
		break;
	case 14:
		if (ieq(line, name_len, "content-length"))
			on_content_length(msg, st, v, end - v);
		break;
	case 17:
		if (ieq(line, name_len, "transfer-encoding"))
			on_transfer_encoding(msg, v, end - v);
		break;
	}
}

static int parse_headers(const char *buf, struct cursor *c, struct http1_msg *msg)
{
	struct head_state st;

	/* not the value slots: a memset of them on every head would cost more than the parse */
	st.cl_bad = st.ts_over = st.saw_close = st.saw_keep_alive = false;
	st.n_ts = 0;

	while (c->p < c->end) {
		const char *nl = memchr(c->p, '\n', c->end - c->p);
		const char *eol = nl;

		if (!nl)
			return 0;
		if (eol > c->p && eol[-1] == '\r')
			eol--;
		if (eol == c->p) {
			if (st.n_ts && !st.ts_over)
				tracestate_combine(st.ts_val, st.ts_len, st.n_ts, msg->tracestate);
			msg->header_len = nl + 1 - buf;
			return (int)msg->header_len;
		}
		on_header(msg, &st, c->p, eol - c->p);
		c->p = nl + 1;
	}
	return 0;
}

int http1_parse(const char *buf, size_t len, struct http1_msg *msg)
{
	struct cursor c;
	enum scan r;

	/* every field empty, without clearing the strings' ~600 unused bytes on every message */
	msg->kind = 0;
	msg->version_minor = 0;
	msg->method[0] = msg->path[0] = msg->host[0] = '\0';
	msg->user_agent[0] = msg->traceparent[0] = msg->tracestate[0] = '\0';
	msg->traceparent_n = 0;
	msg->status = 0;
	msg->header_len = 0;
	msg->content_length = -1;
	msg->chunked = false;
	msg->conn_close = false;
	/* Nothing seen yet is not a verdict: any message may start with the next bytes. */
	if (!buf || len == 0)
		return 0;
	/* The return value carries header_len; a head this large is never complete for us. */
	if (len > INT_MAX)
		len = INT_MAX;
	c.p = buf;
	c.end = buf + len;

	/* "HEAD" and "HTTP/" share their first byte; the second one tells them apart. */
	if (buf[0] == 'H' && (len == 1 || buf[1] == 'T'))
		r = scan_status_line(&c, msg);
	else
		r = scan_request_line(&c, msg);
	if (r != SCAN_OK)
		return r == SCAN_MORE ? 0 : -1;

	msg->conn_close = msg->version_minor == 0;
	return parse_headers(buf, &c, msg);
}

bool http1_is_start(const char *buf, size_t len)
{
	size_t i;

	if (!buf)
		return false;
	if (len >= 7 && memcmp(buf, "HTTP/1.", 7) == 0)
		return true;
	for (i = 0; i < N_METHODS; i++) {
		size_t n = strlen(methods[i]);

		if (len > n && memcmp(buf, methods[i], n) == 0 && buf[n] == ' ')
			return true;
	}
	return false;
}

int64_t http1_body_length(const struct http1_msg *msg, bool request_was_head)
{
	if (msg->kind == HTTP1_RESPONSE) {
		/* RFC 9112 6.3: these responses end at the empty line whatever they announce. */
		if (request_was_head || msg->status < 200 || msg->status == 204 ||
		    msg->status == 304)
			return 0;
		if (msg->chunked)
			return -1;
		return msg->content_length >= 0 ? msg->content_length : -1;
	}
	if (msg->chunked)
		return -1;
	return msg->content_length >= 0 ? msg->content_length : 0;
}

bool http1_chunked_end(const uint8_t *tail, size_t len)
{
	if (!tail || len < 5 || memcmp(tail + len - 5, "0\r\n\r\n", 5) != 0)
		return false;
	/*
	 * The last chunk follows the CRLF of the previous chunk (or starts the body). Without this
	 * check a size line like "10\r\n" followed by data beginning with CRLF would match.
	 */
	return len == 5 || tail[len - 6] == '\n';
}

/* A segment that is probably an id: any decimal digit, or a long run of hex and dashes (UUID). */
static bool is_id_segment(const char *s, size_t n)
{
	bool hex = n >= 16;
	size_t i;

	for (i = 0; i < n; i++) {
		char c = lower(s[i]);

		if (is_digit(c))
			return true;
		if (!(c >= 'a' && c <= 'f') && c != '-')
			hex = false;
	}
	return hex;
}

/* Appends what fits of s[0..n) to route, keeping room for the NUL. */
static void append(char *route, size_t size, size_t *out, const char *s, size_t n)
{
	if (n > size - 1 - *out)
		n = size - 1 - *out;
	memcpy(route + *out, s, n);
	*out += n;
}

void http1_route_heuristic(const char *path, char *route, size_t route_size)
{
	size_t out = 0;

	if (!route || route_size == 0)
		return;
	while (path && *path) {
		size_t n = 0;

		while (path[n] && path[n] != '/')
			n++;

		if (n == 0) {
			n = 1;
			append(route, route_size, &out, "/", 1);
		} else if (is_id_segment(path, n)) {
			append(route, route_size, &out, "*", 1);
		} else {
			append(route, route_size, &out, path, n);
		}
		path += n;
	}
	route[out] = '\0';
}
