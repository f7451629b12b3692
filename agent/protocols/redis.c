// SPDX-License-Identifier: Apache-2.0
/*
 * Redis (RESP2 and RESP3) behind the tracker's protocol interface: one span per command,
 * pipelined commands answered in order, error replies as errors, SELECT followed for the
 * database index. A connection counts as Redis only once a reply parses as RESP: until then
 * its commands are held, and dropped (counted) if the answer turns out to be something else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/protocol.h"
#include "resp.h"

#define MAX_PENDING 256		/* commands waiting for replies on one connection */
#define AUX_SELECT 0x80000000u	/* pending.aux: a SELECT, with the index asked for in the low bits */

struct redis_conn {
	bool server;		/* the traced process is the Redis server */
	bool confirmed;		/* a reply parsed as RESP */
	bool rejected;		/* the answer was not RESP: not Redis, ignored from then on */
	struct resp_scan req, resp;
	struct proto_queue q;
	unsigned db;		/* the database index SELECT chose */
	uint64_t last_reply_ns;	/* the last event of the reply direction */
	struct proto_origin here;	/* the event being fed */
	struct proto_origin carried;	/* where an unfinished command began */
	/* during a call from the tracker */
	struct proto_env *env;
	const struct proto_conn *c;
	const struct obi_data_event *e;
};

/* "GET", "SET" ...: the command's first element, upper-cased; "" when not captured. */
static void command_name(const struct resp_value *v, char *out, size_t size)
{
	size_t i;

	for (i = 0; i + 1 < size && v->arg[0][i]; i++) {
		char ch = v->arg[0][i];

		out[i] = ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch;
	}
	out[i] = '\0';
}

/* The command with every argument replaced by '?': "SET ? ?". Never a key or a value. */
static void query_text(const char *name, int64_t elements, char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, "%s", name);

	for (int64_t i = 1; i < elements && n + 2 < size; i++) {
		out[n++] = ' ';
		out[n++] = '?';
	}
	out[n < size ? n : size - 1] = '\0';
}

static bool parse_index(const char *s, unsigned *out)
{
	unsigned v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 0xffff)
			return false;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return true;
}

/* A command written (client) or read (server) in full: its span waits for the reply. */
static bool on_command(const struct resp_value *v, void *ctx)
{
	struct redis_conn *r = ctx;
	const struct obi_data_event *e = r->e;
	struct pending *p;
	struct span *s;
	unsigned db = r->db;

	if (v->type != '*')
		return true;	/* inline commands and stray values give no span */
	p = proto_queue_push(r->env, &r->q, SPAN_REDIS, MAX_PENDING);
	if (!p)
		return true;
	s = &p->s;
	s->kind = r->server ? SPAN_SERVER : SPAN_CLIENT;
	s->db_system = SPAN_DB_REDIS;
	proto_span_from(r->env, s, v->origin ? v->origin : &r->here, r->server);
	s->handler_ns = proto_real_ns(r->env, e->hdr.ts_ns);
	command_name(v, s->db_operation, sizeof(s->db_operation));
	query_text(s->db_operation, v->elements, s->db_query, sizeof(s->db_query));
	if (!strcmp(s->db_operation, "SELECT") && parse_index(v->arg[1], &db))
		p->aux = AUX_SELECT | db;	/* semconv: the namespace it switches to */
	snprintf(s->db_namespace, sizeof(s->db_namespace), "%u", db);
	s->local = r->c->local;
	s->remote = r->c->remote;
	s->pid = r->c->pid;
	p->sent = true;
	return true;
}

/* The first word of an error reply ("ERR", "WRONGTYPE"): its db.response.status_code. */
static void error_code(const struct resp_value *v, char *out, size_t size)
{
	const char *text = v->type == '!' ? v->blob_error : v->line;
	size_t n = strcspn(text, " ");

	n = n < size - 1 ? n : size - 1;
	memcpy(out, text, n);
	out[n] = '\0';
}

static void finish(struct redis_conn *r, struct pending *p, uint64_t end_ns, bool answered)
{
	struct span *s = &p->s;

	s->end_ns = proto_real_ns(r->env, end_ns);
	s->error = s->error || !answered;
	s->status = s->error;	/* OBI's printers: 0 ok, 1 error */
	proto_emit(r->env, s, answered);
	proto_pending_free(r->env, p);
}

static bool on_reply(const struct resp_value *v, void *ctx)
{
	struct redis_conn *r = ctx;
	struct pending *p;

	if (v->type == '>' || v->type == '|')
		return true;	/* pushed messages and attributes answer no command */
	r->confirmed = true;
	p = proto_queue_pop(&r->q);
	if (!p) {
		r->env->stats.orphan_responses++;
		return true;
	}
	if (v->type == '-' || v->type == '!') {
		p->s.error = true;
		error_code(v, p->s.db_status, sizeof(p->s.db_status));
	} else if (p->aux & AUX_SELECT) {
		r->db = p->aux & 0xffff;
	}
	finish(r, p, r->e->hdr.ts_ns, true);
	return true;
}

/* Commands whose replies obi lost track of end at the last reply bytes seen (counted); a
 * connection never confirmed as Redis gives no spans at all. */
static void flush_pending(struct redis_conn *r, uint64_t end_ns, bool answered)
{
	for (struct pending *p; (p = proto_queue_pop(&r->q));) {
		if (!r->confirmed) {
			r->env->stats.not_http++;
			proto_pending_free(r->env, p);
			continue;
		}
		if (answered)
			r->env->stats.lost_sync++;
		finish(r, p, end_ns, answered);
	}
}

static bool redis_detect(const struct obi_data_event *e)
{
	return (e->flags & OBI_F_DB_START) && resp_is_command(e->data, e->cap_len);
}

static void *redis_open(struct proto_env *env, const struct obi_data_event *first)
{
	struct redis_conn *r = calloc(1, sizeof(*r));

	if (r)
		r->server = first->dir == OBI_DIR_RECV;
	return r;
}

static void redis_feed(struct proto_env *env, const struct proto_conn *c, void *state,
		       const struct obi_data_event *e)
{
	struct redis_conn *r = state;
	bool request = (e->dir == OBI_DIR_RECV) == r->server;

	bool was_lost = r->req.lost;

	if (r->rejected)
		return;
	r->env = env;
	r->c = c;
	r->e = e;
	if (!request) {
		r->last_reply_ns = e->hdr.ts_ns;
		resp_scan(&r->resp, e->data, e->cap_len, e->len, on_reply, r, NULL);
		if (r->resp.lost && !r->confirmed) {
			flush_pending(r, e->hdr.ts_ns, false);
			r->rejected = true;
		}
		return;
	}
	if (r->resp.lost) {
		/* the client speaks again: what it asked before has been answered */
		flush_pending(r, r->last_reply_ns, true);
		resp_scan_reset(&r->resp);
	}
	if (r->req.lost && resp_is_command(e->data, e->cap_len))
		resp_scan_reset(&r->req);	/* a command starts this event: in step again */
	proto_origin_set(&r->here, e);
	if (!r->req.lost)
		resp_scan(&r->req, e->data, e->cap_len, e->len, on_command, r, &r->here);
	if (r->req.v.origin == &r->here) {
		/* a command goes on in the next event: keep where it began */
		r->carried = r->here;
		r->req.v.origin = &r->carried;
	}
	if (r->req.lost && !was_lost)
		env->stats.lost_sync++;
}

static void redis_close(struct proto_env *env, const struct proto_conn *c, void *state,
			uint64_t ts)
{
	struct redis_conn *r = state;

	r->env = env;
	r->c = c;
	flush_pending(r, ts, false);
	free(r);
}

static void redis_discard(struct proto_env *env, void *state)
{
	struct redis_conn *r = state;

	proto_queue_free(&r->q);
	free(r);
}

const struct protocol proto_redis = {
	.name = "redis",
	.detect = redis_detect,
	.open = redis_open,
	.feed = redis_feed,
	.close = redis_close,
	.discard = redis_discard,
};
