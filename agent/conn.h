/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The connection tracker: every connection the kernel reports, each handed to the protocol
 * parser its first event opens (protocol.h), until it ends (close, the process's exit, idle).
 */
#ifndef OBI_CONN_H
#define OBI_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "ebpf/obi.h"
#include "core/sampling.h"
#include "core/span.h"
#include "core/tracecontext.h"

struct conn_tracker;

/* Called for every finished span; the span is only valid during the call. */
typedef void (*conn_span_fn)(struct span *s, void *ctx);

struct conn_stats {
	uint64_t spans;			/* spans emitted */
	uint64_t spans_unanswered;	/* requests ended by close/exit/timeout with no response */
	uint64_t not_http;		/* message starts no parser accepted (HTTP/1 heads, a
					 * RESP-like start answered in another protocol) */
	uint64_t orphan_responses;	/* responses with no request waiting */
	uint64_t truncated_heads;	/* heads longer than what the kernel captured */
	uint64_t pipeline_overflow;	/* requests dropped: too many waiting on one connection */
	uint64_t conns_dropped;		/* connections not tracked: table full (HTTP/2: its own cap) */
	uint64_t bad_traceparent;	/* incoming traceparent headers that were invalid */
	uint64_t db_unknown_statements;	/* executions of statements prepared before obi */
	uint64_t lost_sync;		/* times a parser lost a connection's message boundaries
					 * (bytes not captured); it resumes at the next one */
	uint64_t h2_undecodable;	/* HTTP/2 streams given no span: a header block of their
					 * connection could not be decoded (HPACK state lost) */
	uint64_t conns;			/* connections tracked now */
	uint64_t h2_conns;		/* of those, HTTP/2 ones */
};

struct conn_tracker *conn_tracker_new(conn_span_fn fn, void *ctx);
void conn_tracker_free(struct conn_tracker *t);

/* How the spans the parsers start get their sampled flag (the default: parentbased_always_on). */
void conn_tracker_set_sampling(struct conn_tracker *t, const struct sampling *s);

/* Offset added to the kernel's CLOCK_MONOTONIC stamps to get Unix time. */
void conn_tracker_set_clock(struct conn_tracker *t, int64_t mono_to_real_ns);

/* `size` is the record size from the ring buffer (the header plus cap_len bytes of data). */
void conn_tracker_data(struct conn_tracker *t, const struct obi_data_event *e, size_t size);
void conn_tracker_close(struct conn_tracker *t, const struct obi_close_event *e);
void conn_tracker_proc_exit(struct conn_tracker *t, uint32_t pid, uint64_t ts_ns);

/* Ends connections idle for longer than idle_ns (pending requests reported unanswered). */
void conn_tracker_sweep(struct conn_tracker *t, uint64_t now_ns, uint64_t idle_ns);

void conn_tracker_stats(const struct conn_tracker *t, struct conn_stats *out);

#endif /* OBI_CONN_H */
