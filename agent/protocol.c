// SPDX-License-Identifier: Apache-2.0
/* What every protocol parser shares: span ids, clock, the request queue and its memory. */
#include "protocol.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/tracecontext.h"

#define SPARE_MAX 256		/* finished requests' memory kept for the next ones */
#define TS_SLOT_BITS 8		/* server spans whose tracestate their client spans find */

_Static_assert(TRACEPARENT_OWS_MAX == OBI_TP_OWS_MAX, "kernel and user space: same blanks");

/* A server span's tracestate, for its client spans: direct-mapped by span id (random), a newer
 * span takes the slot. */
struct proto_ts_slot {
	uint32_t pid;		/* 0: free */
	uint8_t span_id[8];
	uint8_t trace_id[16];
	char trace_state[TRACESTATE_MAX + 1];
};

void proto_env_init(struct proto_env *env, conn_span_fn fn, void *ctx)
{
	memset(env, 0, sizeof(*env));
	env->fn = fn;
	env->ctx = ctx;
	if (getrandom(env->rng, sizeof(env->rng), 0) != sizeof(env->rng) ||
	    !(env->rng[0] | env->rng[1]))
		env->rng[0] = 0x9e3779b97f4a7c15ULL;
}

void proto_env_release(struct proto_env *env)
{
	while (env->spare) {
		struct pending *p = env->spare;

		env->spare = p->next;
		free(p);
	}
	env->n_spare = 0;
	free(env->ts_slots);
	env->ts_slots = NULL;
}

static struct proto_ts_slot *ts_slot(struct proto_env *env, const uint8_t span_id[8])
{
	uint32_t h;

	memcpy(&h, span_id, 4);
	return &env->ts_slots[h & ((1u << TS_SLOT_BITS) - 1)];
}

/* Server span s carries a tracestate: kept for the client spans it makes. */
static void ts_remember(struct proto_env *env, const struct span *s)
{
	struct proto_ts_slot *t;

	if (!env->ts_slots)
		env->ts_slots = calloc(1u << TS_SLOT_BITS, sizeof(*env->ts_slots));
	if (!env->ts_slots)
		return;
	t = ts_slot(env, s->span_id);
	t->pid = s->pid;
	memcpy(t->span_id, s->span_id, 8);
	memcpy(t->trace_id, s->trace_id, 16);
	str_copy(t->trace_state, sizeof(t->trace_state), s->trace_state);
}

/* Client span s takes its parent's tracestate when that is a server span of its process
 * that had one. */
static void ts_inherit(struct proto_env *env, struct span *s)
{
	const struct proto_ts_slot *t;

	if (!env->ts_slots || s->trace_state[0])
		return;
	t = ts_slot(env, s->parent_id);
	if (t->pid && t->pid == s->pid && !memcmp(t->span_id, s->parent_id, 8) &&
	    !memcmp(t->trace_id, s->trace_id, 16))
		str_copy(s->trace_state, sizeof(s->trace_state), t->trace_state);
}

/* xorshift128+: ids must be unpredictable enough to never collide, not secret. */
static uint64_t rand64(struct proto_env *env)
{
	uint64_t s1 = env->rng[0];
	const uint64_t s0 = env->rng[1];

	env->rng[0] = s0;
	s1 ^= s1 << 23;
	env->rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
	return env->rng[1] + s0;
}

static void rand_id(struct proto_env *env, uint8_t *id, size_t len)
{
	bool zero = true;

	while (zero) {
		for (size_t i = 0; i < len; i += 8) {
			uint64_t r = rand64(env);

			memcpy(id + i, &r, len - i < 8 ? len - i : 8);
		}
		for (size_t i = 0; i < len; i++)
			zero = zero && id[i] == 0;
	}
}

uint64_t proto_real_ns(const struct proto_env *env, uint64_t mono)
{
	return mono + env->clock_offset;
}

void proto_emit(struct proto_env *env, struct span *s, bool answered)
{
	if (!answered)
		env->stats.spans_unanswered++;
	if (s->handler_ns == 0 || s->handler_ns > s->end_ns)
		s->handler_ns = s->start_ns;
	if (s->kind == SPAN_CLIENT)
		ts_inherit(env, s);
	env->stats.spans++;
	env->fn(s, env->ctx);
}

/* The request's own traceparent (tc), when valid, into s; new ids else. */
static bool ids_from_header(struct proto_env *env, struct span *s, const struct proto_tc *tc)
{
	uint8_t flags;

	rand_id(env, s->span_id, 8);
	if (tc && tc->n_traceparent == 1 &&
	    traceparent_parse(tc->traceparent, s->trace_id, s->parent_id, &flags) == 0) {
		s->trace_flags = sampling_flags(&env->sampling, s->trace_id, true, flags);
		return true;
	}
	if (tc && tc->n_traceparent)
		env->stats.bad_traceparent++;
	memset(s->parent_id, 0, 8);
	rand_id(env, s->trace_id, 16);
	s->trace_flags = sampling_flags(&env->sampling, s->trace_id, false, 0);
	return false;
}

/*
 * The kernel's ids when it gave them (it saw the request first and may already have put them
 * on the wire), else — for a request that was not the first of its read — new ones,
 * continuing the request's own traceparent when it has a valid one; with it, its tracestate.
 */
void proto_span_ids(struct proto_env *env, struct span *s, const struct proto_tc *tc,
		    const struct obi_trace *kt)
{
	bool remote;

	if (kt && (kt->state & OBI_TP_IDS)) {
		memcpy(s->trace_id, kt->trace_id, 16);
		memcpy(s->span_id, kt->span_id, 8);
		memcpy(s->parent_id, kt->parent_id, 8);
		s->trace_flags = kt->flags;
		if (kt->state & OBI_TP_BAD)
			env->stats.bad_traceparent++;
		remote = kt->state & OBI_TP_REMOTE;
	} else {
		remote = ids_from_header(env, s, tc);
	}
	/* W3C: a tracestate goes with the traceparent it came with, never into a new trace */
	if (remote && tc && tc->tracestate && tc->tracestate[0]) {
		str_copy(s->trace_state, sizeof(s->trace_state), tc->tracestate);
		ts_remember(env, s);
	}
}

/* A pending request as calloc would give it, from the spare list when it has one. */
static struct pending *pending_new(struct proto_env *env, enum span_proto proto)
{
	struct pending *p = env->spare;

	if (!p) {
		p = calloc(1, sizeof(*p));
		if (p)
			p->s.proto = proto;
		return p;
	}
	env->spare = p->next;
	env->n_spare--;
	p->next = NULL;
	p->aux = 0;
	p->sent = false;
	/* the fixed fields zeroed; the strings empty (every reader stops at their end) */
	memset(&p->s, 0, offsetof(struct span, method));
	p->s.proto = proto;
	span_clear_strings(&p->s);
	return p;
}

void proto_pending_free(struct proto_env *env, struct pending *p)
{
	if (env->n_spare == SPARE_MAX) {
		free(p);
		return;
	}
	p->next = env->spare;
	env->spare = p;
	env->n_spare++;
}

struct pending *proto_queue_push(struct proto_env *env, struct proto_queue *q,
				 enum span_proto proto, unsigned max)
{
	struct pending *p;

	if (q->len == max) {
		env->stats.pipeline_overflow++;
		return NULL;
	}
	p = pending_new(env, proto);
	if (!p)
		return NULL;
	if (q->last)
		q->last->next = p;
	else
		q->first = p;
	q->last = p;
	q->len++;
	return p;
}

void proto_queue_free(struct proto_queue *q)
{
	for (struct pending *p; (p = proto_queue_pop(q)); free(p))
		;
}

struct pending *proto_queue_pop(struct proto_queue *q)
{
	struct pending *p = q->first;

	if (!p)
		return NULL;
	q->first = p->next;
	if (!q->first)
		q->last = NULL;
	q->len--;
	return p;
}

void proto_origin_set(struct proto_origin *o, const struct obi_data_event *e)
{
	o->trace = e->trace;
	o->ts_ns = e->hdr.ts_ns;
	o->enter_ns = e->enter_ns;
	o->tid = e->hdr.tid;
	o->used = 0;
}

void proto_span_from(struct proto_env *env, struct span *s, struct proto_origin *o, bool server)
{
	s->start_ns = proto_real_ns(env, server ? o->ts_ns : o->enter_ns);
	s->tid = o->tid;
	if (o->used++ == 0) {
		proto_span_ids(env, s, NULL, &o->trace);
		return;
	}
	proto_span_ids(env, s, NULL, NULL);
	if (o->trace.state & OBI_TP_IDS) {
		memcpy(s->trace_id, o->trace.trace_id, 16);
		memcpy(s->parent_id, o->trace.parent_id, 8);
		s->trace_flags = o->trace.flags;
	}
}
