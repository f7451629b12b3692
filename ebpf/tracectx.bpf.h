/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * W3C trace context in the kernel: span ids, scanning a captured message head for its request
 * line and traceparent header, and the server span each thread is handling (so the client
 * requests it writes become children, and carry the ids on the wire).
 */
#ifndef OBI_TRACECTX_BPF_H
#define OBI_TRACECTX_BPF_H

#include "maps.bpf.h"

/*
 * The server spans a thread is handling: set when it reads a request, over when the response
 * on that socket starts. A thread that handles one request at a time (most servers) only has
 * its newest, in thread_ctx, updated in place. An event-loop proxy (nginx, haproxy, Envoy)
 * reads many requests before it forwards the first: when a request arrives while the thread's
 * newest is still open, that one moves to `inflight` under (thread, path hash), so an upstream
 * request is matched to the one with its path (proxies forward paths), else to the newest.
 * The socket's conn_slots entry says which thread read its request and the request's path.
 */
struct server_span {
	__u8 trace_id[16];
	__u8 span_id[8];
	__u64 sk;	 /* the socket the request came on */
	__u32 conn_slot; /* that socket's conn_slots index */
	__u32 path_hash;
	__u8 flags;
	__u8 live; /* thread_ctx: 0 once its response started */
	__u8 _pad[6];
};

/* The span a client request is a child of. */
struct parent_ctx {
	__u8 trace_id[16];
	__u8 span_id[8];
	__u8 flags;
};

/*
 * `inflight`: the spans a thread still handles besides its newest, by (thread, path hash), in
 * an array indexed by a hash of both — an array load where a hash map costs a first-touch
 * lookup, a locked update and a locked delete per overlapping request. One entry per slot;
 * a newer entry takes the slot (the LRU hash map before it evicted the least recent). Readers
 * and writers of one slot can be threads on two CPUs (a thread reads its creator's spans):
 * `seq` is odd while a writer, which took it with a compare-and-swap, changes the slot, and a
 * reader whose copy saw it change has missed.
 */
#define OBI_INFLIGHT_SLOT_BITS 14

struct inflight_slot {
	__u64 id; /* bpf_get_current_pid_tgid() of the reading thread; 0 = free */
	__u32 path_hash;
	__u32 seq;
	struct server_span sp;
};

OBI_SHARED struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << OBI_INFLIGHT_SLOT_BITS);
	__type(key, __u32);
	__type(value, struct inflight_slot);
} inflight OBI_MAP;

static __always_inline struct inflight_slot *inflight_at(__u64 id, __u32 hash)
{
	__u32 i = (((__u32)id ^ hash) * 2654435761U) >> (32 - OBI_INFLIGHT_SLOT_BITS);

	return bpf_map_lookup_elem(&inflight, &i);
}

/* Thread `id`'s span for path `hash` into *out; false if there is none. */
static __always_inline bool inflight_get(__u64 id, __u32 hash, struct server_span *out)
{
	struct inflight_slot *s = inflight_at(id, hash);
	__u32 seq;

	if (!s)
		return false;
	seq = s->seq;
	barrier();
	if ((seq & 1) || s->id != id || s->path_hash != hash)
		return false;
	*out = s->sp;
	barrier();
	return s->seq == seq;
}

/* Writes slot `s` as (id, hash, *sp), or frees it when sp is NULL: only `expect_sk`'s entry
 * when that is set. Gives up when another writer holds the slot. */
static __always_inline void inflight_set(struct inflight_slot *s, __u64 id, __u32 hash,
					 const struct server_span *sp, __u64 expect_sk)
{
	__u32 seq = s->seq;

	if ((seq & 1) || __sync_val_compare_and_swap(&s->seq, seq, seq + 1) != seq)
		return;
	if (!expect_sk || (s->id == id && s->path_hash == hash && s->sp.sk == expect_sk)) {
		s->id = sp ? id : 0;
		s->path_hash = hash;
		if (sp)
			s->sp = *sp;
	}
	barrier();
	s->seq = seq + 2;
}

/* Each thread's newest server span (updated in place, not deleted, while the thread lives:
 * a hash update or delete takes a lock, a store does not). Like the connections, it has a
 * direct-mapped front, thread_slots (by thread id), and holds the threads whose slot is taken. */
OBI_SHARED struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64); /* bpf_get_current_pid_tgid() */
	__type(value, struct server_span);
} thread_ctx OBI_MAP;

#define OBI_THREAD_SLOT_BITS 13
#define OBI_THREAD_SLOTS     (1 << OBI_THREAD_SLOT_BITS)

struct thread_slot {
	__u64 id; /* the owning thread (pid_tgid); 0 = free */
	struct server_span sp;
};

OBI_SHARED struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, OBI_THREAD_SLOTS);
	__type(key, __u32);
	__type(value, struct thread_slot);
} thread_slots OBI_MAP;

/* Takes a thread-indexed slot whose owner field is `*owner` for thread `id`: when it is free,
 * already id's, or held by a thread of a process no longer selected (kernel tgids are obi's
 * when it sees the initial PID namespace; elsewhere a taken slot is left to its owner). */
static __always_inline bool thread_slot_take(__u64 *owner, __u64 id)
{
	__u64 cur = *owner;

	if (cur == id)
		return true;
	if (cur && (!pidns_initial || pid_selected(cur >> 32)))
		return false;
	return __sync_val_compare_and_swap(owner, cur, id) == cur;
}

/* Thread `id`'s newest server span, or NULL. */
static __always_inline struct server_span *thread_find(__u64 id)
{
	__u32 slot = (__u32)id & (OBI_THREAD_SLOTS - 1);
	struct thread_slot *s = bpf_map_lookup_elem(&thread_slots, &slot);

	if (s && s->id == id)
		return &s->sp;
	return bpf_map_lookup_elem(&thread_ctx, &id);
}

/* Keeps `sp` as thread `id`'s newest (it has none yet): in its slot when free, or held by a
 * thread of a process no longer selected; else in thread_ctx. */
static __always_inline void thread_new(__u64 id, const struct server_span *sp)
{
	__u32 slot = (__u32)id & (OBI_THREAD_SLOTS - 1);
	struct thread_slot *s = bpf_map_lookup_elem(&thread_slots, &slot);

	if (s && thread_slot_take(&s->id, id))
		s->sp = *sp;
	else
		bpf_map_update_elem(&thread_ctx, &id, sp, BPF_ANY);
}

/* Thread `id` exited. */
static __always_inline void thread_forget(__u64 id)
{
	__u32 slot = (__u32)id & (OBI_THREAD_SLOTS - 1);
	struct thread_slot *s = bpf_map_lookup_elem(&thread_slots, &slot);

	if (s && s->id == id)
		__sync_val_compare_and_swap(&s->id, id, 0);
	else
		bpf_map_delete_elem(&thread_ctx, &id);
}

/* Thread -> the thread that created it, for work handed to a new thread. */
OBI_SHARED struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);   /* kernel tid */
	__type(value, __u32); /* kernel tid of the creating thread */
} thread_parent OBI_MAP;

#define PARENT_LEVELS 3

enum inject_mode {
	INJ_NONE = 0,
	INJ_INSERT = 1,	 /* insert hdr[0..OBI_TP_HEADER_LEN) at off */
	INJ_REWRITE = 2, /* overwrite the parent id and flags at off with hdr[0..19) */
};

/* What the sk_msg program of a send decided for the request the send starts, for the
 * syscall's exit to report. */
/* A forwarded traceparent's "<16 hex parent id>-<2 hex flags>", rewritten in place */
#define OBI_TP_REWRITE_LEN 19

struct inject {
	struct obi_trace t;
	__u64 enter_ns; /* when sk_msg saw the request: the client span's start */
	__u32 off;
	__u16 lport; /* host order */
	__u16 rport; /* network order */
	__u8 mode;
	__u8 done;    /* 2: the header went out */
	__u8 head[4]; /* first bytes of the request, checked by the exit */
	__u8 _pad[2];
	__u8 hdr[72];
};

/*
 * The plan a send's sk_msg program leaves for the send's exit, in one of the sending thread's
 * two slots (inject_slot_of). One map, no hash map behind it: when other live threads hold
 * both, sk_msg leaves the request as it is (counted as skipped) and the exit plans the span
 * itself.
 */
struct inject_slot {
	__u64 id; /* the owning thread (pid_tgid); 0 = free */
	struct inject inj;
};

OBI_SHARED struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, OBI_THREAD_SLOTS);
	__type(key, __u32);
	__type(value, struct inject_slot);
} inject_slots OBI_MAP;

/* A thread's plan is in one of two slots: way 0 by thread id, way 1 by a multiplicative hash
 * of it, so two threads sending at once whose ids share way 0 still both get a plan. */
static __always_inline struct inject_slot *inject_slot_of(__u64 id, int way)
{
	__u32 tid = (__u32)id;
	__u32 slot =
	    way ? (tid * 2654435761U) >> (32 - OBI_THREAD_SLOT_BITS) : tid & (OBI_THREAD_SLOTS - 1);

	return bpf_map_lookup_elem(&inject_slots, &slot);
}

/* The plan thread `id`'s send left, or NULL. */
static __always_inline struct inject *inject_find(__u64 id)
{
	struct inject_slot *s = inject_slot_of(id, 0);

	if (s && s->id == id)
		return &s->inj;
	s = inject_slot_of(id, 1);
	return s && s->id == id ? &s->inj : NULL;
}

/* Thread `id`'s plans are used, or void. */
static __always_inline void inject_forget(__u64 id)
{
	for (int way = 0; way < 2; way++) {
		struct inject_slot *s = inject_slot_of(id, way);

		if (s && s->id == id)
			__sync_val_compare_and_swap(&s->id, id, 0);
	}
}

/* Written by user space: 1 = insert/rewrite traceparent; while the start-up self-test runs,
 * only for the process inject_only_tgid (the self-test's child; 0 = every selected one). */
OBI_SHARED volatile __u8 inject_on __attribute__((section(".data.inject")));
OBI_SHARED volatile __u32 inject_only_tgid __attribute__((section(".data.inject")));

/* Injection applies to this process now. */
static __always_inline bool inject_for(__u32 tgid)
{
	__u32 only = inject_only_tgid;

	return inject_on && (!only || only == tgid);
}

/* One eight-byte word of the per-CPU scratch event's head (scan_word_at). */
static long scan_word(__u32 w, void *arg)
{
	__u32 zero = 0, base = (w * 8) & (OBI_CAP_MAX - 1), n = *(__u32 *)arg;
	struct scratch *sc = bpf_map_lookup_elem(&scratch, &zero);

	if (!sc || base >= n)
		return 1;
	return scan_word_at(sc->e.data, base, n, &sc->scan);
}

/*
 * Finds the request line's end, the head's end and any traceparent header in the first n bytes
 * of the per-CPU scratch event's data (where both callers captured the head).
 */
static __always_inline bool scan_head(__u32 n, struct head_scan *out)
{
	__u32 zero = 0;
	struct scratch *sc = bpf_map_lookup_elem(&scratch, &zero);

	if (!sc)
		return false;
	sc->scan.line_end = sc->scan.head_end = sc->scan.tp_val = sc->scan.cl_val = -1;
	sc->scan.tp_count = sc->scan.cl_count = sc->scan.te_count = 0;
	bpf_loop(OBI_CAP_MAX / 8, scan_word, &n, 0);
	*out = sc->scan;
	return true;
}

/*
 * parse_traceparent() over the per-CPU scratch event's head, as a global function (data.bpf.c):
 * the verifier checks its paths once, not along every path of its callers. Returns 1 + where
 * the value starts in the head, or 0 when it is invalid.
 */
int traceparent_in_head(__u32 v, __u32 n, struct obi_trace *t);

static __always_inline void random_id(__u8 *id, __u32 words)
{
	__u32 any = 0;

	for (__u32 i = 0; i < 4; i++) {
		__u32 r;

		if (i >= words)
			break;
		r = bpf_get_prandom_u32();
		any |= r;
		__builtin_memcpy(id + 4 * i, &r, 4);
	}
	if (!any)
		id[0] = 1; /* W3C: an all-zero id is invalid */
}

static __always_inline bool same_trace(const __u8 *a, const __u8 *b)
{
	__u64 a0, a1, b0, b1;

	__builtin_memcpy(&a0, a, 8);
	__builtin_memcpy(&a1, a + 8, 8);
	__builtin_memcpy(&b0, b, 8);
	__builtin_memcpy(&b1, b + 8, 8);
	barrier_var(a0); /* or clang merges the compares into a memcmp call BPF lacks */
	barrier_var(a1);
	return a0 == b0 && a1 == b1;
}

/* FNV-1a of a request's path (up to '?' or ' ', at most 64 bytes); 0 when the target is not
 * origin-form. */
static __always_inline __u32 path_hash(const __u8 *b, __u32 n)
{
	__u32 h = 2166136261U, start = 0;

	for (__u32 i = 1; i < 9; i++) {
		if (i < n && b[i] == ' ') {
			start = i + 1;
			break;
		}
	}
	if (!start || start >= n || b[start] != '/')
		return 0;
	for (__u32 i = 0; i < 64; i++) {
		__u32 p = start + i;
		__u8 c;

		if (p >= n)
			break;
		c = b[p & (OBI_CAP_MAX - 1)];
		if (c == ' ' || c == '?')
			break;
		h = (h ^ c) * 16777619U;
	}
	return h | 1;
}

static __always_inline void parent_from(const struct server_span *sp, struct parent_ctx *out)
{
	__builtin_memcpy(out->trace_id, sp->trace_id, 16);
	__builtin_memcpy(out->span_id, sp->span_id, 8);
	out->flags = sp->flags;
}

/* The server span of thread `id` a client request with this path (and forwarded trace) is
 * part of: the one its forwarded traceparent names, else the one of its path, else the
 * thread's newest. */
static __always_inline bool server_of_thread(__u64 id, __u32 hash, const __u8 *trace,
					     struct parent_ctx *out)
{
	struct server_span *newest = thread_find(id), by_path;

	if (newest && !newest->live)
		newest = NULL;
	if (newest && ((hash && newest->path_hash == hash) ||
		       (trace && same_trace(newest->trace_id, trace)))) {
		parent_from(newest, out);
		return true;
	}
	if (hash && inflight_get(id, hash, &by_path)) {
		parent_from(&by_path, out);
		return true;
	}
	if (newest) {
		parent_from(newest, out);
		return true;
	}
	return false;
}

/* The server span the current thread (or the thread that created it) is handling, if any. */
static __always_inline bool current_server(__u64 id, __u32 hash, const __u8 *trace,
					   struct parent_ctx *out)
{
	__u32 tid = (__u32)id;

	for (int i = 0; i <= PARENT_LEVELS; i++) {
		__u32 *parent;

		if (server_of_thread(id, hash, trace, out))
			return true;
		parent = bpf_map_lookup_elem(&thread_parent, &tid);
		if (!parent)
			return false;
		tid = *parent;
		id = (id & 0xffffffff00000000ULL) | tid;
	}
	return false;
}

/* Keeps a server span for the client requests the thread will write. */
static __always_inline void remember_server(__u64 id, __u64 sk, __u32 slot, __u32 hash,
					    const struct obi_trace *t)
{
	struct server_span sp = {
	    .sk = sk, .conn_slot = slot, .path_hash = hash, .flags = t->flags, .live = 1};
	struct server_span *newest = thread_find(id);

	__builtin_memcpy(sp.trace_id, t->trace_id, 16);
	__builtin_memcpy(sp.span_id, t->span_id, 8);
	if (newest) {
		if (newest->live && newest->path_hash && newest->sk != sk) {
			/* the thread handles several requests at once: keep the older findable (a
			 * pipelined one on the same socket is answered first anyway), and tell its
			 * socket where it went, for server_response */
			struct inflight_slot *slot = inflight_at(id, newest->path_hash);
			struct obi_conn *c = conn_find(newest->sk, newest->conn_slot);

			if (slot)
				inflight_set(slot, id, newest->path_hash, newest, 0);
			if (c && c->req_id == id)
				c->req_hash = newest->path_hash;
		}
		*newest = sp;
	} else {
		thread_new(id, &sp);
	}
}

/* The trace flags of a span starting here in trace trace_id, with its parent's flags when it
 * has a parent: core/sampling.c's sampling_flags(), in the kernel, so the flag obi sends on is
 * the one its exporter decides by. */
static __always_inline __u8 span_flags(const __u8 *trace_id, bool has_parent, __u8 parent_flags)
{
	__u64 x = 0;
	__u8 keep;

	if (has_parent && !sample_ignore_parent)
		return parent_flags;
	if (sample_root == OBI_SAMPLE_ROOT_NEVER) {
		keep = 0;
	} else if (sample_root == OBI_SAMPLE_ROOT_RATIO) {
		for (int i = 8; i < 16; i++)
			x = x << 8 | trace_id[i];
		keep = (x >> 1) < sample_bound;
	} else {
		keep = 1;
	}
	return (has_parent ? parent_flags & ~1 : 0) | keep;
}

/* A server request was read on `sk` (whose conn_slots entry names this thread as the reader): its
 * span continues the caller's trace or starts one. */
static __always_inline void server_request(__u64 id, __u64 sk, __u32 slot, const __u8 *b, __u32 n,
					   struct obi_trace *t)
{
	struct obi_trace theirs = {};
	struct head_scan s;

	__builtin_memset(t, 0, sizeof(*t));
	if (!scan_head(n, &s))
		s.tp_count = 0;
	/* W3C: two traceparent headers are as invalid as a bad one */
	if (s.tp_count == 1 && traceparent_in_head(s.tp_val, n, &theirs)) {
		__builtin_memcpy(t->trace_id, theirs.trace_id, 16);
		__builtin_memcpy(t->parent_id, theirs.parent_id, 8);
		t->flags = span_flags(theirs.trace_id, true, theirs.flags);
		t->state = OBI_TP_IDS | OBI_TP_REMOTE;
	} else {
		__builtin_memset(t, 0, sizeof(*t));
		random_id(t->trace_id, 4);
		t->flags = span_flags(t->trace_id, false, 0);
		t->state = OBI_TP_IDS | (s.tp_count ? OBI_TP_BAD : 0);
	}
	random_id(t->span_id, 2);
	remember_server(id, sk, slot, path_hash(b, n), t);
}

/* The response on `sk` starts (or the socket closes): its server span is no longer a parent
 * for anything. */
static __always_inline void server_response(__u64 sk, struct obi_conn *conn)
{
	__u64 id = conn->req_id;
	__u32 hash = conn->req_hash;
	struct inflight_slot *slot;
	struct server_span *sp;

	if (!id)
		return;
	conn->req_id = 0;
	sp = thread_find(id);
	if (sp && sp->live && sp->sk == sk) {
		sp->live = 0;
		return;
	}
	/* not the reading thread's newest: moved to inflight when a later request came */
	slot = hash ? inflight_at(id, hash) : NULL;
	if (slot && slot->id == id && slot->sp.sk == sk)
		inflight_set(slot, id, hash, NULL, sk);
}

#endif /* OBI_TRACECTX_BPF_H */
