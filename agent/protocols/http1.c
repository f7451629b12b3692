// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP/1.x behind the tracker's protocol interface: the request and response streams of a
 * connection parsed in order (keep-alive, pipelining, heads split over events, bodies framed by
 * Content-Length, chunked encoding or the connection's end), each request queued until the
 * response that answers it.
 */
#include "http1.h"

#include <stdlib.h>
#include <string.h>

#include "agent/protocol.h"

#define MAX_PENDING 64		/* requests waiting for responses on one connection */
#define HEAD_MAX 8192		/* bytes of one message head we accumulate across events */
#define AUX_HEAD 1		/* pending.aux: a HEAD request, whose response has no body */

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

struct http1_conn {
	enum role role;
	struct stream req, resp;
	struct proto_queue q;
	const struct proto_conn *c;	/* during a call from the tracker */
};

/* Server spans fail on 5xx, client spans on 4xx and 5xx; unanswered requests always (and a
 * response whose status the capture cut off counts as none). */
static void emit(struct proto_env *env, struct pending *p, bool answered)
{
	struct span *s = &p->s;

	answered = answered && s->status != 0;
	s->error = !answered || (s->kind == SPAN_SERVER ? s->status >= 500 : s->status >= 400);
	proto_emit(env, s, answered);
}

/* A request head was parsed: queue its span. */
static void request_begin(struct proto_env *env, struct http1_conn *h, const struct stream *st,
			  const struct http1_msg *m, uint32_t tid, const struct obi_trace *kt)
{
	struct pending *p = proto_queue_push(env, &h->q, SPAN_HTTP, MAX_PENDING);
	struct span *s;

	if (!p)
		return;
	s = &p->s;
	s->kind = h->role == ROLE_SERVER ? SPAN_SERVER : SPAN_CLIENT;
	s->version = 10 + m->version_minor;
	s->start_ns = proto_real_ns(env, s->kind == SPAN_SERVER ? st->first_ns : st->first_enter_ns);
	str_copy(s->method, sizeof(s->method), m->method);
	str_copy(s->path, sizeof(s->path), m->path);
	http1_route_heuristic(m->path, s->route, sizeof(s->route));
	str_copy(s->host_header, sizeof(s->host_header), m->host);
	str_copy(s->user_agent, sizeof(s->user_agent), m->user_agent);
	s->local = h->c->local;
	s->remote = h->c->remote;
	s->pid = h->c->pid;
	s->tid = tid;
	p->aux = strcmp(m->method, "HEAD") == 0 ? AUX_HEAD : 0;
	if (s->kind == SPAN_SERVER) {
		struct proto_tc tc = { m->traceparent, m->traceparent_n, m->tracestate };

		proto_span_ids(env, s, &tc, kt);
	} else {
		proto_span_ids(env, s, NULL, kt);
	}
}

/* The newest queued request has been transferred whole. */
static void request_end(struct proto_env *env, struct http1_conn *h, const struct stream *st,
			uint64_t ts)
{
	struct pending *p = h->q.last;

	if (!p || p->sent)
		return;
	p->sent = true;
	p->s.req_body_size = st->body_seen;
	p->s.handler_ns = proto_real_ns(env, ts);
}

/* A response has been transferred whole: it answers the oldest request. */
static void response_end(struct proto_env *env, struct http1_conn *h, const struct stream *st,
			 uint64_t ts)
{
	struct pending *p;

	if (st->status >= 100 && st->status < 200)
		return;		/* interim response: the final one follows */
	p = proto_queue_pop(&h->q);
	if (!p) {
		env->stats.orphan_responses++;
		return;
	}
	p->s.status = st->status;
	p->s.resp_body_size = st->body_seen;
	p->s.end_ns = proto_real_ns(env, ts);
	if (!p->sent)
		p->s.handler_ns = p->s.end_ns;
	emit(env, p, true);
	proto_pending_free(env, p);
}

static bool is_request_stream(const struct http1_conn *h, const struct stream *st)
{
	return st == &h->req;
}

static void message_end(struct proto_env *env, struct http1_conn *h, struct stream *st,
			uint64_t ts)
{
	if (is_request_stream(h, st))
		request_end(env, h, st, ts);
	else
		response_end(env, h, st, ts);
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
static void head_done(struct proto_env *env, struct http1_conn *h, struct stream *st,
		      const struct http1_msg *m, const struct obi_data_event *e)
{
	int64_t body;

	head_buf_free(st);
	st->body_seen = 0;
	st->tail_len = 0;
	st->status = m->status;
	if (is_request_stream(h, st)) {
		request_begin(env, h, st, m, e->hdr.tid, &st->ktrace);
		body = http1_body_length(m, false);
	} else {
		body = http1_body_length(m, h->q.first && (h->q.first->aux & AUX_HEAD));
	}
	if (body == 0) {
		message_end(env, h, st, e->hdr.ts_ns);
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
static size_t feed_head(struct proto_env *env, struct http1_conn *h, struct stream *st,
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
		env->stats.not_http++;
		head_buf_free(st);
		st->st = ST_IDLE;
		return e->len - pos;	/* skip the rest of this event */
	}
	if (r > 0) {
		head_done(env, h, st, &m, e);
		return (size_t)r - before;
	}
	/* Incomplete: wait for the next event, unless the kernel did not capture it all. */
	if (pos + avail < e->len || len == HEAD_MAX) {
		env->stats.truncated_heads++;
		head_done(env, h, st, &m, e);
		return e->len - pos;
	}
	if (!st->head) {
		st->head = malloc(HEAD_MAX);
		if (!st->head) {
			head_done(env, h, st, &m, e);
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

static void feed_stream(struct proto_env *env, struct http1_conn *h, struct stream *st,
			const struct obi_data_event *e)
{
	size_t pos = 0;

	st->last_ns = e->hdr.ts_ns;
	/* A new message start while a body of uncertain length is open ends that body. */
	if ((e->flags & OBI_F_MSG_START) && (st->st == ST_UNTIL_CLOSE || st->st == ST_CHUNKED))
		message_end(env, h, st, st->last_ns);

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
			pos += feed_head(env, h, st, e, pos);
			break;
		case ST_BODY:
			n = e->len - pos < (uint64_t)st->body_left ? e->len - pos : (size_t)st->body_left;
			st->body_left -= n;
			st->body_seen += n;
			pos += n;
			if (st->body_left == 0)
				message_end(env, h, st, e->hdr.ts_ns);
			break;
		case ST_CHUNKED:
			st->body_seen += e->len - pos;
			pos = e->len;
			if (chunked_tail(st, e))
				message_end(env, h, st, e->hdr.ts_ns);
			break;
		case ST_UNTIL_CLOSE:
			st->body_seen += e->len - pos;
			pos = e->len;
			break;
		}
	}
}

/* A request start decides which side of the connection this process is; a response first
 * means its request was missed, and the connection waits for the next request. */
static enum role role_of(const struct obi_data_event *e)
{
	bool response = e->cap_len >= 5 && memcmp(e->data, "HTTP/", 5) == 0;

	if (response || !http1_is_start((const char *)e->data, e->cap_len))
		return ROLE_UNKNOWN;
	return e->dir == OBI_DIR_RECV ? ROLE_SERVER : ROLE_CLIENT;
}

static bool http1_detect(const struct obi_data_event *e)
{
	return role_of(e) != ROLE_UNKNOWN;
}

static void *http1_open(struct proto_env *env, const struct obi_data_event *first)
{
	struct http1_conn *h = calloc(1, sizeof(*h));

	if (h)
		h->role = role_of(first);
	return h;
}

static void http1_feed(struct proto_env *env, const struct proto_conn *c, void *state,
		       const struct obi_data_event *e)
{
	struct http1_conn *h = state;
	bool request_dir = (h->role == ROLE_SERVER) == (e->dir == OBI_DIR_RECV);

	h->c = c;
	feed_stream(env, h, request_dir ? &h->req : &h->resp, e);
}

/* A body delimited by the close is complete; unanswered requests are reported. */
static void http1_close(struct proto_env *env, const struct proto_conn *c, void *state,
			uint64_t ts)
{
	struct http1_conn *h = state;

	h->c = c;
	if (h->resp.st == ST_UNTIL_CLOSE || h->resp.st == ST_CHUNKED)
		message_end(env, h, &h->resp, ts);
	for (struct pending *p; (p = proto_queue_pop(&h->q)); proto_pending_free(env, p)) {
		p->s.status = 0;
		p->s.end_ns = proto_real_ns(env, ts);
		emit(env, p, false);
	}
	head_buf_free(&h->req);
	head_buf_free(&h->resp);
	free(h);
}

static void http1_discard(struct proto_env *env, void *state)
{
	struct http1_conn *h = state;

	proto_queue_free(&h->q);
	head_buf_free(&h->req);
	head_buf_free(&h->resp);
	free(h);
}

const struct protocol proto_http1 = {
	.name = "http1",
	.detect = http1_detect,
	.open = http1_open,
	.feed = http1_feed,
	.close = http1_close,
	.discard = http1_discard,
};
