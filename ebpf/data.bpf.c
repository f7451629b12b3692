// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The data path's global functions, each verified once per program that calls it: claiming a
 * connection slot, planning a client request's span, and the heavy halves of a request start's
 * obi_data_event (plan_request_fn, emit_request_fn). No hook of its own; it defines every map
 * and setting the units share (maps.bpf.h).
 */
#include "vmlinux.h"

#define OBI_DEFINE_SHARED
#include "data.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Claims slot `s` (whose owner was `owner`) for connection `key` of process `pid`. */
static __always_inline struct obi_conn *conn_claim(struct conn_slot *s, __u64 owner, __u64 key,
						   __u32 pid)
{
	struct obi_conn fresh = {.pid = pid};

	if (__sync_val_compare_and_swap(&s->sk, owner, key) != owner)
		return NULL;
	s->c = fresh;
	return &s->c;
}

/* New state for connection `key` of process `pid`: the first free slot of its window, else
 * one held by a process that is no longer selected (it exited before obi saw its sockets end).
 * Returns the slot's index + 1, or 0 (counted) when every slot of the window holds a live
 * connection. A global function: the verifier checks it once, not inside every data program's
 * paths (and its result is a number, so the caller looks the slot up again: conn_at). */
__noinline int conn_new(__u64 key, __u32 home, __u32 pid)
{
	for (__u32 i = 0; i < OBI_CONN_PROBE; i++) {
		struct conn_slot *s = conn_slot_at(home, i);

		if (s && !s->sk && conn_claim(s, 0, key, pid))
			return ((home + i) & (OBI_CONN_SLOTS - 1)) + 1;
	}
	for (__u32 i = 0; i < OBI_CONN_PROBE; i++) {
		struct conn_slot *s = conn_slot_at(home, i);
		__u64 owner = s ? s->sk : 0;

		if (owner && !pid_selected(s->c.pid) && conn_claim(s, owner, key, pid))
			return ((home + i) & (OBI_CONN_SLOTS - 1)) + 1;
	}
	count(OBI_CNT_CONN_TABLE_FULL);
	return 0;
}

/* parse_traceparent() over the scratch event's head (tracectx.bpf.h). */
__noinline int traceparent_in_head(__u32 v, __u32 n, struct obi_trace *t)
{
	__u32 zero = 0, at = 0;
	struct scratch *sc = bpf_map_lookup_elem(&scratch, &zero);

	if (!sc || !t || n > OBI_CAP_MAX)
		return 0;
	return parse_traceparent(sc->e.data, v, n, t, &at) ? at + 1 : 0;
}

/*
 * plan_client_request() for both callers, as a global function: the verifier checks it once on
 * its own and its callers see only the result, instead of carrying every path of the plan into
 * what they do after it (that roughly tripled the instructions verified at start-up).
 */
__noinline int plan_client(__u64 id, __u32 n, struct inject *inj, int wire)
{
	__u32 zero = 0;
	struct scratch *sc = bpf_map_lookup_elem(&scratch, &zero);

	if (!sc || !inj || n < 8 || n > OBI_CAP_MAX)	/* 8: a database request can be that short */
		return 0;
	plan_client_request(id, sc->e.data, n, inj, wire);
	return 1;
}

/*
 * The exit of a send that starts an HTTP request, when the sk_msg program of the call left no
 * plan (injection off, or a connection obi did not see open): the client span's ids, from the
 * head already captured in the scratch event, then the event.
 */
__noinline int plan_request_fn(void)
{
	__u32 zero = 0;
	struct scratch *sc = bpf_map_lookup_elem(&scratch, &zero);
	struct inject inj = {};
	struct obi_data_event *e;
	__u64 cap;

	if (!sc)
		return 0;
	e = &sc->e;
	cap = e->cap_len;
	if (cap > OBI_CAP_MAX)
		cap = OBI_CAP_MAX;
	if (plan_client(sc->h.id, cap, &inj, 0))
		e->trace = inj.t;
	emit_data(e, cap);
	return 0;
}

/* The exit of a receive that read a request start: its server span's ids, then the event.
 * The exit already marked the socket's request as read by this thread (conn->req_id). */
__noinline int emit_request_fn(void)
{
	__u32 zero = 0;
	struct scratch *sc = bpf_map_lookup_elem(&scratch, &zero);
	struct obi_data_event *e;
	__u64 cap;

	if (!sc)
		return 0;
	e = &sc->e;
	server_request(sc->h.id, sc->h.sk, sc->h.slot, e->data, e->cap_len, &e->trace);
	cap = e->cap_len;
	if (cap > OBI_CAP_MAX)
		cap = OBI_CAP_MAX;
	emit_data(e, cap);
	return 0;
}
