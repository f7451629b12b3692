/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Planning a client request's span and how its traceparent goes out: the ids, and whether the
 * header is inserted after the request line or a forwarded one's parent id rewritten in place.
 * Used by plan_client (data.bpf.c), which the sk_msg program and the send exits call.
 */
#ifndef OBI_PLAN_BPF_H
#define OBI_PLAN_BPF_H

#include "tracectx.bpf.h"

/* Arithmetic, not a lookup table: a static const array lands in .rodata beside the loader's
 * const volatile settings, which libbpf 1.1 describes with overlapping BTF offsets. */
static __always_inline __u8 hex_digit(__u8 v)
{
	return v < 10 ? '0' + v : 'a' + v - 10;
}

static __always_inline void put_hex(__u8 *out, const __u8 *id, __u32 len)
{
	for (__u32 i = 0; i < 16; i++) {
		if (i >= len)
			break;
		out[2 * i] = hex_digit(id[i] >> 4);
		out[2 * i + 1] = hex_digit(id[i] & 15);
	}
}

/* "traceparent: 00-<trace>-<span>-<flags>\r\n" */
static __always_inline void build_header(__u8 *h, const struct obi_trace *t)
{
	__builtin_memcpy(h, "traceparent: 00-", 16);
	put_hex(h + 16, t->trace_id, 16);
	h[48] = '-';
	put_hex(h + 49, t->span_id, 8);
	h[65] = '-';
	h[66] = hex_digit(t->flags >> 4);
	h[67] = hex_digit(t->flags & 15);
	h[68] = '\r';
	h[69] = '\n';
}

/* The request line ends in " HTTP/1.x\r\n" at line_end. */
static __always_inline bool http1_request_line(const __u8 *b, __s32 line_end)
{
	__u32 e = (__u32)line_end & (OBI_CAP_MAX - 1);

	if (line_end < 10 || e < 10) /* "GET / HTTP/1.1\r\n" ends at 15 */
		return false;
	return b[e - 1] == '\r' && b[e - 9] == 'H' && b[e - 8] == 'T' && b[e - 7] == 'T' &&
	       b[e - 6] == 'P' && b[e - 5] == '/' && b[e - 4] == '1' && b[e - 3] == '.';
}

/* Decides the ids of the client span a request starts and, when `wire` (sk_msg), how its
 * traceparent is carried. */
static __always_inline void plan_client_request(__u64 id, const __u8 *b, __u32 n,
						struct inject *inj, bool wire)
{
	struct obi_trace theirs = {};
	struct parent_ctx tc = {};
	struct head_scan s;
	bool has_parent;
	__u32 at = 0;
	int tp_ok;

	if (!scan_head(n, &s))
		return;
	at = s.tp_count == 1 ? traceparent_in_head(s.tp_val, n, &theirs) : 0;
	tp_ok = at > 0;
	at = (at - 1) & (OBI_CAP_MAX - 1);
	/* no NULL for "none": the verifier cannot tie a pointer chosen by a global function's
	 * result to later tests of that result; no span has the all-zero trace id */
	if (!tp_ok)
		__builtin_memset(theirs.trace_id, 0, 16);
	has_parent = current_server(id, path_hash(b, n), theirs.trace_id, &tc);
	random_id(inj->t.span_id, 2);
	if (has_parent) {
		__builtin_memcpy(inj->t.trace_id, tc.trace_id, 16);
		__builtin_memcpy(inj->t.parent_id, tc.span_id, 8);
		inj->t.flags = span_flags(tc.trace_id, true, tc.flags);
		inj->t.state = OBI_TP_IDS | OBI_TP_LOCAL;
	} else {
		random_id(inj->t.trace_id, 4);
		inj->t.flags = span_flags(inj->t.trace_id, false, 0);
		inj->t.state = OBI_TP_IDS;
	}
	if (tp_ok) {
		if (has_parent && same_trace(theirs.trace_id, tc.trace_id)) {
			/* a proxy forwarding our own trace: point the parent at this span */
			if (!wire)
				return;
			inj->mode = INJ_REWRITE;
			inj->off = at + 36;
			put_hex(inj->hdr, inj->t.span_id, 8);
			inj->hdr[16] = '-';
			inj->hdr[17] = hex_digit(inj->t.flags >> 4);
			inj->hdr[18] = hex_digit(inj->t.flags & 15);
			inj->t.state |= OBI_TP_REWRITE;
		} else {
			/* the application's own context: follow it, leave the bytes alone */
			__builtin_memcpy(inj->t.trace_id, theirs.trace_id, 16);
			__builtin_memcpy(inj->t.parent_id, theirs.parent_id, 8);
			inj->t.flags = span_flags(theirs.trace_id, true, theirs.flags);
			inj->t.state = OBI_TP_IDS | OBI_TP_FOREIGN;
		}
	} else if (!wire) {
		return; /* the exit of a send: nothing can be written any more */
	} else if (s.tp_count == 0 && s.head_end > 0 && http1_request_line(b, s.line_end)) {
		/* the whole head is here and has no traceparent: never two */
		inj->mode = INJ_INSERT;
		inj->off = s.line_end + 1;
		build_header(inj->hdr, &inj->t);
		inj->t.state |= OBI_TP_INSERT;
	} else {
		count(OBI_CNT_INJECT_SKIPPED);
	}
}

/*
 * plan_client_request() for both callers, as a global function (data.bpf.c): the verifier
 * checks it once on its own and its callers see only the result, instead of carrying every path
 * of the plan into what they do after it (that roughly tripled the instructions verified at
 * start-up). Returns 1 when it planned, 0 when it could not.
 */
int plan_client(__u64 id, __u32 n, struct inject *inj, int wire);

#endif /* OBI_PLAN_BPF_H */
