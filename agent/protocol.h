/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The interface between the connection tracker (conn.c) and the protocol parsers
 * (protocols/<name>.c). The tracker keeps every connection and chooses its parser from the
 * connection's first event; the parser sees each direction's events in order and emits spans
 * through what protocol.c shares with every parser. A new protocol is one file implementing
 * struct protocol plus one row in conn.c's protocol table. Calls go one way: conn.c → parsers
 * → protocol.c.
 */
#ifndef OBI_PROTOCOL_H
#define OBI_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"

struct proto_env;

/* What the tracker knows of a connection, for its parser. */
struct proto_conn {
	uint64_t sock_id;
	uint32_t pid;		/* the process the parser's side of the connection belongs to */
	struct span_addr local, remote;
};

/* A request waiting for its response; parsers queue them (struct proto_queue). */
struct pending {
	struct pending *next;
	uint32_t aux;		/* the parser's own (HTTP/1: a HEAD request) */
	bool sent;		/* the request is complete (read or written whole) */
	struct span s;
};

/* Requests in the order they were made: pipelined protocols answer the oldest first. */
struct proto_queue {
	struct pending *first, *last;
	unsigned len;
};

/* Where a request began: the event that carried its first byte. A request may complete events
 * later (a large value); its span starts, and takes the kernel's ids, where it began. */
struct proto_origin {
	struct obi_trace trace;	/* the kernel's ids for the event's first request */
	uint64_t ts_ns, enter_ns;
	uint32_t tid;
	unsigned used;		/* requests that began there so far */
};

/* The origin of the event being fed (resets its count). */
void proto_origin_set(struct proto_origin *o, const struct obi_data_event *e);

/* A request's span from where it began: start time, thread, and ids: the kernel's for the
 * first request of that event, the same trace and parent for the others (pipelined siblings). */
void proto_span_from(struct proto_env *env, struct span *s, struct proto_origin *o,
		     bool server);

struct protocol {
	const char *name;
	/* The connection's first event (flagged as a message start by the kernel) opens this
	 * protocol, as a request in either direction. */
	bool (*detect)(const struct obi_data_event *e);
	/* The parser's state for a new connection; NULL when out of memory. */
	void *(*open)(struct proto_env *env, const struct obi_data_event *first);
	/* One event of the connection, in the order the kernel saw them. */
	void (*feed)(struct proto_env *env, const struct proto_conn *c, void *state,
		     const struct obi_data_event *e);
	/* The connection ended at ts (CLOCK_MONOTONIC): pending requests are emitted
	 * unanswered, the state is freed. */
	void (*close)(struct proto_env *env, const struct proto_conn *c, void *state,
		      uint64_t ts);
	/* Frees the state, emitting nothing (the tracker is going away). */
	void (*discard)(struct proto_env *env, void *state);
};

/* --- what the parsers share (protocol.c) ------------------------------------------------- */

/* The tracker's side of every parser call: where spans go, the clock, counters, id source and
 * the memory of finished requests. */
struct proto_env {
	conn_span_fn fn;
	void *ctx;
	int64_t clock_offset;	/* CLOCK_MONOTONIC to Unix time */
	uint64_t rng[2];
	struct conn_stats stats;	/* kept by the parsers and the tracker alike */
	/* memory of finished requests, newest first: the next request reuses it while the
	 * cache still has it, instead of a calloc of a whole span and a free per request */
	struct pending *spare;
	unsigned n_spare;
	struct proto_ts_slot *ts_slots;	/* recent server spans' tracestates, by span id */
	struct sampling sampling;	/* the sampled flag of the spans user space starts */
};

void proto_env_init(struct proto_env *env, conn_span_fn fn, void *ctx);
/* Frees the memory kept for reuse. */
void proto_env_release(struct proto_env *env);

/* CLOCK_MONOTONIC (the kernel's stamps) to Unix time. */
uint64_t proto_real_ns(const struct proto_env *env, uint64_t mono_ns);

/* The W3C trace context headers of a server request, as its parser found them. */
struct proto_tc {
	const char *traceparent;	/* raw value of the first traceparent header, "" if none */
	unsigned n_traceparent;		/* traceparent headers: more than one is invalid */
	const char *tracestate;		/* combined and checked (tracestate_combine()), "" if
					 * none or invalid */
};

/* A span's ids: the kernel's when it gave them (kt with OBI_TP_IDS), else new ones continuing
 * tc's traceparent (a server request's; tc may be NULL) when it is valid. A span that
 * continues the request's traceparent takes its tracestate too, and keeps it for the client
 * spans made while it is handled (proto_emit()). */
void proto_span_ids(struct proto_env *env, struct span *s, const struct proto_tc *tc,
		    const struct obi_trace *kt);

/* A new request at the end of q, with its span zeroed and its strings empty for protocol
 * `proto`; NULL when q holds max already (counted as pipeline_overflow) or out of memory. */
struct pending *proto_queue_push(struct proto_env *env, struct proto_queue *q,
				 enum span_proto proto, unsigned max);
/* The oldest request of q, taken off it; NULL when empty. */
struct pending *proto_queue_pop(struct proto_queue *q);
/* Frees every request of q, emitting nothing (a parser's discard). */
void proto_queue_free(struct proto_queue *q);
/* Gives p's memory back (kept for the next request while it is warm). */
void proto_pending_free(struct proto_env *env, struct pending *p);

/* Emits the finished span s (the parser set its status, error and end); `answered` false for
 * a request the connection's end or the process's exit cut off (counted). A client span whose
 * parent is a recent server span of its process with a tracestate takes that tracestate. */
void proto_emit(struct proto_env *env, struct span *s, bool answered);

/* The protocols obi parses (protocols/<name>.c). */
extern const struct protocol proto_http1;
extern const struct protocol proto_redis;
extern const struct protocol proto_postgres;
extern const struct protocol proto_mysql;
extern const struct protocol proto_http2;

#endif /* OBI_PROTOCOL_H */
