// SPDX-License-Identifier: Apache-2.0
#include "conn.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "http1.h"

#define CONN_BUCKETS 16384
#define CONN_MAX 65536
#define MAX_PENDING 64		/* requests waiting for responses on one connection */
#define HEAD_MAX 8192		/* bytes of one message head we accumulate across events */
#define SPARE_MAX 256		/* finished requests' memory kept for the next ones */

enum role {
	ROLE_UNKNOWN = 0,
	ROLE_SERVER,
	ROLE_CLIENT,
};

enum stream_state {
	ST_IDLE = 0,		/* between messages */
	ST_HEAD,		/* head started, empty line not seen yet */
	ST_BODY,		/* body_left bytes to go */
	ST_CHUNKED,		/* chunked body, ends with "0\r\n\r\n" */
	ST_UNTIL_CLOSE,		/* response body delimited by the end of the connection */
};

/* One direction of a connection: requests, or responses. */
struct stream {
	enum stream_state st;
	uint16_t status;	/* of the response being transferred */
	uint64_t first_ns;	/* exit time of the first event of this message */
	uint64_t first_enter_ns;	/* entry time of that event */
	uint64_t last_ns;	/* exit time of the latest event carrying it */
	int64_t body_left;
	uint64_t body_seen;
	char *head;		/* a head split over events, accumulated (HEAD_MAX bytes) */
	size_t head_len;
	uint8_t tail[OBI_TAIL];	/* last bytes of a chunked body, across events */
	uint8_t tail_len;
	struct obi_trace ktrace;	/* the kernel's ids for this message, if it gave any */
};

/* A request waiting for its response; FIFO per connection (pipelining). */
struct pending {
	struct pending *next;
	struct span s;
	bool was_head;		/* HEAD request: its response has no body */
	bool sent;		/* the request is complete (read or written whole) */
};

struct conn {
	struct conn *next;
	uint64_t sock_id;
	uint32_t pid;
	enum role role;
	uint64_t last_ns;
	struct span_addr local, remote;
	struct stream req, resp;
	struct pending *q_first, *q_last;
	unsigned q_len;
};

struct conn_tracker {
	conn_span_fn fn;
	void *ctx;
	int64_t clock_offset;
	uint64_t rng[2];
	struct conn_stats stats;
	/* memory of finished requests, newest first: the next request reuses it while the
	 * cache still has it, instead of a calloc of a whole span and a free per request */
	struct pending *spare;
	unsigned n_spare;
	struct conn *buckets[CONN_BUCKETS];
};

static uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

/* xorshift128+: ids must be unpredictable enough to never collide, not secret. */
static uint64_t rand64(struct conn_tracker *t)
{
	uint64_t s1 = t->rng[0];
	const uint64_t s0 = t->rng[1];

	t->rng[0] = s0;
	s1 ^= s1 << 23;
	t->rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
	return t->rng[1] + s0;
}

static void rand_id(struct conn_tracker *t, uint8_t *id, size_t len)
{
	bool zero = true;

	while (zero) {
		for (size_t i = 0; i < len; i += 8) {
			uint64_t r = rand64(t);

			memcpy(id + i, &r, len - i < 8 ? len - i : 8);
		}
		for (size_t i = 0; i < len; i++)
			zero = zero && id[i] == 0;
	}
}

struct conn_tracker *conn_tracker_new(conn_span_fn fn, void *ctx)
{
	struct conn_tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->fn = fn;
	t->ctx = ctx;
	if (getrandom(t->rng, sizeof(t->rng), 0) != sizeof(t->rng) || !(t->rng[0] | t->rng[1]))
		t->rng[0] = 0x9e3779b97f4a7c15ULL;
	return t;
}

void conn_tracker_set_clock(struct conn_tracker *t, int64_t mono_to_real_ns)
{
	t->clock_offset = mono_to_real_ns;
}

void conn_tracker_stats(const struct conn_tracker *t, struct conn_stats *out)
{
	*out = t->stats;
}

/* ---- trace context ------------------------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;	/* W3C: lowercase only */
}

static int parse_hex(const char *s, uint8_t *out, size_t n)
{
	bool nonzero = false;

	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = hi << 4 | lo;
		nonzero = nonzero || out[i];
	}
	return nonzero ? 0 : -EINVAL;
}

int traceparent_parse(const char *s, uint8_t trace_id[16], uint8_t parent_id[8], uint8_t *flags)
{
	uint8_t f;

	/* version 00 is exactly 55 characters: 00-32hex-16hex-2hex */
	if (strlen(s) != 55 || s[0] != '0' || s[1] != '0' || s[2] != '-' || s[35] != '-' ||
	    s[52] != '-')
		return -EINVAL;
	if (parse_hex(s + 3, trace_id, 16) || parse_hex(s + 36, parent_id, 8))
		return -EINVAL;
	if (hexval(s[53]) < 0 || hexval(s[54]) < 0)
		return -EINVAL;
	f = hexval(s[53]) << 4 | hexval(s[54]);
	*flags = f;
	return 0;
}

/* ---- connections --------------------------------------------------------------------------- */

static struct conn **conn_slot(struct conn_tracker *t, uint64_t sock_id)
{
	struct conn **p = &t->buckets[hash64(sock_id) % CONN_BUCKETS];

	while (*p && (*p)->sock_id != sock_id)
		p = &(*p)->next;
	return p;
}

static void addr_from(struct span_addr *dst, const struct obi_sockaddr *src)
{
	dst->family = src->family;
	memcpy(dst->addr, src->addr, sizeof(dst->addr));
	dst->port = src->port;
}

static uint64_t to_real(const struct conn_tracker *t, uint64_t mono)
{
	return mono + t->clock_offset;
}

static void emit(struct conn_tracker *t, struct pending *p)
{
	struct span *s = &p->s;

	if (s->status == 0)
		t->stats.spans_unanswered++;
	s->error = s->status == 0 || (s->kind == SPAN_SERVER ? s->status >= 500 : s->status >= 400);
	if (s->handler_ns == 0 || s->handler_ns > s->end_ns)
		s->handler_ns = s->start_ns;
	t->stats.spans++;
	t->fn(s, t->ctx);
}

/*
 * A span's ids: the kernel's when it gave them (it saw the request first and may already have
 * put them on the wire), else — for a request that was not the first of its read — new ones,
 * continuing the request's own traceparent when it has a valid one.
 */
static void span_ids(struct conn_tracker *t, struct span *s, const struct http1_msg *m,
		     const struct obi_trace *kt)
{
	if (kt && (kt->state & OBI_TP_IDS)) {
		memcpy(s->trace_id, kt->trace_id, 16);
		memcpy(s->span_id, kt->span_id, 8);
		memcpy(s->parent_id, kt->parent_id, 8);
		s->trace_flags = kt->flags;
		if (kt->state & OBI_TP_BAD)
			t->stats.bad_traceparent++;
		return;
	}
	rand_id(t, s->span_id, 8);
	s->trace_flags = 1;
	if (s->kind == SPAN_SERVER && m->traceparent[0]) {
		if (traceparent_parse(m->traceparent, s->trace_id, s->parent_id, &s->trace_flags) == 0)
			return;
		t->stats.bad_traceparent++;
		memset(s->parent_id, 0, 8);
		s->trace_flags = 1;
	}
	rand_id(t, s->trace_id, 16);
}

/* A pending request as calloc would give it, from the spare list when it has one. */
static struct pending *pending_new(struct conn_tracker *t)
{
	struct pending *p = t->spare;
	struct span *s;

	if (!p)
		return calloc(1, sizeof(*p));
	t->spare = p->next;
	t->n_spare--;
	p->next = NULL;
	p->was_head = false;
	p->sent = false;
	/* the fixed fields zeroed; the strings empty (every reader stops at their end) */
	s = &p->s;
	memset(s, 0, offsetof(struct span, method));
	s->method[0] = s->language[0] = s->path[0] = s->route[0] = '\0';
	s->host_header[0] = s->user_agent[0] = s->service_name[0] = '\0';
	return p;
}

static void pending_free(struct conn_tracker *t, struct pending *p)
{
	if (t->n_spare == SPARE_MAX) {
		free(p);
		return;
	}
	p->next = t->spare;
	t->spare = p;
	t->n_spare++;
}

/* A request head was parsed: queue its span. */
static void request_begin(struct conn_tracker *t, struct conn *c, const struct stream *st,
			  const struct http1_msg *m, uint32_t tid, const struct obi_trace *kt)
{
	struct pending *p;
	struct span *s;

	if (c->q_len == MAX_PENDING) {
		t->stats.pipeline_overflow++;
		return;
	}
	p = pending_new(t);
	if (!p)
		return;
	if (c->q_last)
		c->q_last->next = p;
	else
		c->q_first = p;
	c->q_last = p;
	c->q_len++;
	s = &p->s;
	s->kind = c->role == ROLE_SERVER ? SPAN_SERVER : SPAN_CLIENT;
	s->start_ns = to_real(t, s->kind == SPAN_SERVER ? st->first_ns : st->first_enter_ns);
	str_copy(s->method, sizeof(s->method), m->method);
	str_copy(s->path, sizeof(s->path), m->path);
	http1_route_heuristic(m->path, s->route, sizeof(s->route));
	str_copy(s->host_header, sizeof(s->host_header), m->host);
	str_copy(s->user_agent, sizeof(s->user_agent), m->user_agent);
	s->local = c->local;
	s->remote = c->remote;
	s->pid = c->pid;
	s->tid = tid;
	p->was_head = strcmp(m->method, "HEAD") == 0;
	span_ids(t, s, m, kt);
}

/* The newest queued request has been transferred whole. */
static void request_end(struct conn_tracker *t, struct conn *c, const struct stream *st,
			uint64_t ts)
{
	struct pending *p;

	p = c->q_last;
	if (!p || p->sent)
		return;
	p->sent = true;
	p->s.req_body_size = st->body_seen;
	p->s.handler_ns = to_real(t, ts);
}

static struct pending *queue_pop(struct conn *c)
{
	struct pending *p = c->q_first;

	if (!p)
		return NULL;
	c->q_first = p->next;
	if (!c->q_first)
		c->q_last = NULL;
	c->q_len--;
	return p;
}

/* A response has been transferred whole: it answers the oldest request. */
static void response_end(struct conn_tracker *t, struct conn *c, const struct stream *st,
			 uint64_t ts)
{
	struct pending *p;

	if (st->status >= 100 && st->status < 200)
		return;		/* interim response: the final one follows */
	p = queue_pop(c);
	if (!p) {
		t->stats.orphan_responses++;
		return;
	}
	p->s.status = st->status;
	p->s.resp_body_size = st->body_seen;
	p->s.end_ns = to_real(t, ts);
	if (!p->sent)
		p->s.handler_ns = p->s.end_ns;
	emit(t, p);
	pending_free(t, p);
}

static bool is_request_stream(const struct conn *c, const struct stream *st)
{
	return st == &c->req;
}

static void message_end(struct conn_tracker *t, struct conn *c, struct stream *st, uint64_t ts)
{
	if (is_request_stream(c, st))
		request_end(t, c, st, ts);
	else
		response_end(t, c, st, ts);
	st->st = ST_IDLE;
	st->head_len = 0;
}

static void head_buf_free(struct stream *st)
{
	free(st->head);
	st->head = NULL;
	st->head_len = 0;
}

/* The head of a message is known (complete, or as complete as the capture allows). */
static void head_done(struct conn_tracker *t, struct conn *c, struct stream *st,
		      const struct http1_msg *m, const struct obi_data_event *e)
{
	int64_t body;

	head_buf_free(st);
	st->body_seen = 0;
	st->tail_len = 0;
	st->status = m->status;
	if (is_request_stream(c, st)) {
		request_begin(t, c, st, m, e->hdr.tid, &st->ktrace);
		body = http1_body_length(m, false);
	} else {
		body = http1_body_length(m, c->q_first && c->q_first->was_head);
	}
	if (body == 0) {
		message_end(t, c, st, e->hdr.ts_ns);
	} else if (body > 0) {
		st->st = ST_BODY;
		st->body_left = body;
	} else {
		st->st = m->chunked ? ST_CHUNKED : ST_UNTIL_CLOSE;
	}
}

/*
 * Feeds the head bytes of one event, from the event's offset `pos`; returns how many of the
 * event's bytes the head used. A head that fits one event is parsed in place; only a head split
 * over events is copied aside.
 */
static size_t feed_head(struct conn_tracker *t, struct conn *c, struct stream *st,
			const struct obi_data_event *e, size_t pos)
{
	size_t avail = e->cap_len > pos ? e->cap_len - pos : 0;
	const char *buf = (const char *)e->data + pos;
	size_t before = 0, len = avail;
	struct http1_msg m;
	int r;

	if (st->head) {
		size_t n = HEAD_MAX - st->head_len < avail ? HEAD_MAX - st->head_len : avail;

		memcpy(st->head + st->head_len, buf, n);
		before = st->head_len;
		st->head_len += n;
		buf = st->head;
		len = st->head_len;
	}
	r = http1_parse(buf, len, &m);
	if (r < 0) {
		t->stats.not_http++;
		head_buf_free(st);
		st->st = ST_IDLE;
		return e->len - pos;	/* skip the rest of this event */
	}
	if (r > 0) {
		head_done(t, c, st, &m, e);
		return (size_t)r - before;
	}
	/* Incomplete: wait for the next event, unless the kernel did not capture it all. */
	if (pos + avail < e->len || len == HEAD_MAX) {
		t->stats.truncated_heads++;
		head_done(t, c, st, &m, e);
		return e->len - pos;
	}
	if (!st->head) {
		st->head = malloc(HEAD_MAX);
		if (!st->head) {
			head_done(t, c, st, &m, e);
			return e->len - pos;
		}
		memcpy(st->head, buf, avail);
		st->head_len = avail;
	}
	st->st = ST_HEAD;
	return e->len - pos;
}

/* Keeps the last bytes of a chunked body (the terminator may be split over writes) and tells
 * whether they end it. */
static bool chunked_tail(struct stream *st, const struct obi_data_event *e)
{
	size_t n = e->tail_len < OBI_TAIL ? e->tail_len : OBI_TAIL;

	if (e->len > n) {
		st->tail_len = 0;	/* bytes before the tail are unknown */
	} else if (st->tail_len + n > OBI_TAIL) {
		size_t keep = OBI_TAIL - n;

		memmove(st->tail, st->tail + st->tail_len - keep, keep);
		st->tail_len = keep;
	}
	memcpy(st->tail + st->tail_len, e->tail, n);
	st->tail_len += n;
	return http1_chunked_end(st->tail, st->tail_len);
}

static void feed(struct conn_tracker *t, struct conn *c, struct stream *st,
		 const struct obi_data_event *e)
{
	size_t pos = 0;

	st->last_ns = e->hdr.ts_ns;
	/* A new message start while a body of uncertain length is open ends that body. */
	if ((e->flags & OBI_F_MSG_START) && (st->st == ST_UNTIL_CLOSE || st->st == ST_CHUNKED))
		message_end(t, c, st, st->last_ns);

	while (pos < e->len) {
		size_t n;

		switch (st->st) {
		case ST_IDLE:
			if (pos >= e->cap_len)
				return;	/* bytes the kernel did not capture: cannot parse */
			st->first_ns = e->hdr.ts_ns;
			st->first_enter_ns = e->enter_ns;
			/* the kernel's ids belong to the message its event starts with */
			st->ktrace = e->trace;
			if (pos)
				st->ktrace.state = 0;
			/* fall through */
		case ST_HEAD:
			pos += feed_head(t, c, st, e, pos);
			break;
		case ST_BODY:
			n = e->len - pos < (uint64_t)st->body_left ? e->len - pos : (size_t)st->body_left;
			st->body_left -= n;
			st->body_seen += n;
			pos += n;
			if (st->body_left == 0)
				message_end(t, c, st, e->hdr.ts_ns);
			break;
		case ST_CHUNKED:
			st->body_seen += e->len - pos;
			pos = e->len;
			if (chunked_tail(st, e))
				message_end(t, c, st, e->hdr.ts_ns);
			break;
		case ST_UNTIL_CLOSE:
			st->body_seen += e->len - pos;
			pos = e->len;
			break;
		}
	}
}

static void conn_remove(struct conn_tracker *t, struct conn **p, uint64_t ts);

static bool same_addr(const struct span_addr *a, const struct obi_sockaddr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* The event is of this connection: same ends, except that a socket TCP has closed reads local
 * port 0 (the kernel gives the port back when the connection goes to CLOSE, and the
 * application may still read what it received). */
static bool same_conn(const struct conn *c, const struct obi_data_event *e)
{
	struct obi_sockaddr local = e->local;

	if (local.port == 0)
		local.port = c->local.port;
	return same_addr(&c->local, &local) && same_addr(&c->remote, &e->remote);
}

static struct conn *conn_get(struct conn_tracker *t, const struct obi_data_event *e)
{
	struct conn **p = conn_slot(t, e->sock_id);
	struct conn *c = *p;

	if (c && !same_conn(c, e)) {
		/* a connection's addresses never change: the kernel freed the socket and gave its
		 * memory to a new one, and obi did not see the old one end (two processes closing
		 * their copies at once: neither close was the last at its start) */
		conn_remove(t, p, e->hdr.ts_ns);
		p = conn_slot(t, e->sock_id);
		c = *p;
	}
	if (c)
		return c;
	if (!(e->flags & OBI_F_MSG_START))
		return NULL;	/* join a connection only at a message boundary */
	if (t->stats.conns >= CONN_MAX) {
		t->stats.conns_dropped++;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->sock_id = e->sock_id;
	c->pid = e->hdr.pid;
	addr_from(&c->local, &e->local);
	addr_from(&c->remote, &e->remote);
	*p = c;
	t->stats.conns++;
	return c;
}

/* The first message start on a connection tells which side of it this process is. */
static enum role role_of(const struct obi_data_event *e)
{
	bool response = e->cap_len >= 5 && memcmp(e->data, "HTTP/", 5) == 0;

	if (response || !http1_is_start((const char *)e->data, e->cap_len))
		return ROLE_UNKNOWN;	/* a response first: we missed its request */
	return e->dir == OBI_DIR_RECV ? ROLE_SERVER : ROLE_CLIENT;
}

void conn_tracker_data(struct conn_tracker *t, const struct obi_data_event *e, size_t size)
{
	struct conn *c;
	bool request_dir;

	if (size < OBI_DATA_HDR_SIZE || size < OBI_DATA_HDR_SIZE + e->cap_len)
		return;
	c = conn_get(t, e);
	if (!c)
		return;
	c->last_ns = e->hdr.ts_ns;
	if (c->role == ROLE_UNKNOWN) {
		c->role = role_of(e);
		if (c->role == ROLE_UNKNOWN)
			return;
		c->pid = e->hdr.pid;
	}
	request_dir = (c->role == ROLE_SERVER) == (e->dir == OBI_DIR_RECV);
	feed(t, c, request_dir ? &c->req : &c->resp, e);
}

/* Ends a connection: a body delimited by close is complete; unanswered requests are reported. */
static void conn_end(struct conn_tracker *t, struct conn *c, uint64_t ts)
{
	if (c->resp.st == ST_UNTIL_CLOSE || c->resp.st == ST_CHUNKED)
		message_end(t, c, &c->resp, ts);
	for (struct pending *p; (p = queue_pop(c)); pending_free(t, p)) {
		p->s.status = 0;
		p->s.end_ns = to_real(t, ts);
		emit(t, p);
	}
	head_buf_free(&c->req);
	head_buf_free(&c->resp);
}

static void conn_remove(struct conn_tracker *t, struct conn **p, uint64_t ts)
{
	struct conn *c = *p;

	conn_end(t, c, ts);
	*p = c->next;
	free(c);
	t->stats.conns--;
}

void conn_tracker_close(struct conn_tracker *t, const struct obi_close_event *e)
{
	struct conn **p = conn_slot(t, e->sock_id);

	/* Another process closing its copy of the socket (a forking server's parent, right after
	 * handing the connection to a child) does not end the connection its owner still uses;
	 * the owner's close, its exit or the idle sweep does. */
	if (*p && (*p)->pid == e->hdr.pid)
		conn_remove(t, p, e->hdr.ts_ns);
}

/* Removes every connection for which `match` holds. */
static void conn_remove_if(struct conn_tracker *t, uint64_t ts,
			   bool (*match)(const struct conn *, uint64_t), uint64_t arg)
{
	for (size_t b = 0; b < CONN_BUCKETS; b++) {
		struct conn **p = &t->buckets[b];

		while (*p) {
			if (match(*p, arg))
				conn_remove(t, p, ts);
			else
				p = &(*p)->next;
		}
	}
}

static bool owned_by(const struct conn *c, uint64_t pid)
{
	return c->pid == pid;
}

static bool idle_before(const struct conn *c, uint64_t deadline)
{
	return c->last_ns < deadline;
}

void conn_tracker_proc_exit(struct conn_tracker *t, uint32_t pid, uint64_t ts_ns)
{
	conn_remove_if(t, ts_ns, owned_by, pid);
}

void conn_tracker_sweep(struct conn_tracker *t, uint64_t now_ns, uint64_t idle_ns)
{
	if (now_ns > idle_ns)
		conn_remove_if(t, now_ns, idle_before, now_ns - idle_ns);
}

void conn_tracker_free(struct conn_tracker *t)
{
	if (!t)
		return;
	for (size_t b = 0; b < CONN_BUCKETS; b++) {
		while (t->buckets[b]) {
			struct conn *c = t->buckets[b];

			t->buckets[b] = c->next;
			for (struct pending *p; (p = queue_pop(c)); free(p))
				;
			head_buf_free(&c->req);
			head_buf_free(&c->resp);
			free(c);
		}
	}
	while (t->spare) {
		struct pending *p = t->spare;

		t->spare = p->next;
		free(p);
	}
	free(t);
}
