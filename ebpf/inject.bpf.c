// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * traceparent injection: cgroup sock_ops puts the outgoing TCP connections of selected
 * processes in sock_hash; sk_msg, run inside every send on them, plans a request's client span
 * and writes its traceparent, leaving the plan for the send's exit to put in its
 * obi_data_event; a pass-through sk_skb stream verdict keeps FIONREAD right (shared KERNEL.md).
 */
#include "vmlinux.h"

#include "data.bpf.h"

#define SK_PASS 1

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* socket cookie */
	__type(value, __u64);
} sock_hash SEC(".maps");

/* Sockets a selected process is connecting (connect() runs in its context; the established
 * callback does not). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* socket cookie */
	__type(value, __u8);
} connecting SEC(".maps");

/* A server a selected process talks to: address (IPv4 in the first 4 bytes) and port. */
struct peer {
	__u32 addr[4];
	__u16 port; /* network order */
	__u16 family;
};

/*
 * Servers whose connections began with something other than an HTTP/1 request (a database,
 * TLS, HTTP/2): the next connections to them stay out of sock_hash, so neither their sends
 * nor their receive path meet obi's socket programs. Each entry is trusted for PEER_TTL_NS,
 * then the next connection is looked at again.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct peer);
	__type(value, __u64); /* when it was seen: bpf_ktime_get_ns() */
} not_http_peers SEC(".maps");

#define PEER_TTL_NS (600ULL * 1000000000ULL)

/* sock_ops and sk_msg hold the remote port in network order in the upper 16 bits on
 * little-endian hosts (the kernel shifts it by 16); accept either layout */
static __always_inline __u16 port_of(__u32 remote_port)
{
	return remote_port > 0xffff ? remote_port >> 16 : remote_port;
}

/* The server of a sock_ops or sk_msg context (both name its fields alike; each access must
 * stay a direct load of that context, so a macro and not a function of either type). */
#define PEER_OF(ctx, k)                                                              \
	do {                                                                         \
		(k)->family = (ctx)->family;                                         \
		(k)->port = port_of((ctx)->remote_port);                             \
		if ((k)->family == AF_INET) {                                        \
			(k)->addr[0] = (ctx)->remote_ip4;                            \
		} else {                                                             \
			(k)->addr[0] = (ctx)->remote_ip6[0];                         \
			(k)->addr[1] = (ctx)->remote_ip6[1];                         \
			(k)->addr[2] = (ctx)->remote_ip6[2];                         \
			(k)->addr[3] = (ctx)->remote_ip6[3];                         \
		}                                                                    \
	} while (0)

static __always_inline bool peer_not_http(struct bpf_sock_ops *skops)
{
	struct peer k = {};
	__u64 *seen;

	PEER_OF(skops, &k);
	seen = bpf_map_lookup_elem(&not_http_peers, &k);
	return seen && bpf_ktime_get_ns() - *seen < PEER_TTL_NS;
}

static __always_inline void remember_not_http(struct sk_msg_md *msg)
{
	struct peer k = {};
	__u64 now = bpf_ktime_get_ns();

	PEER_OF(msg, &k);
	bpf_map_update_elem(&not_http_peers, &k, &now, BPF_ANY);
}

SEC("sockops")
int obi_sockops(struct bpf_sock_ops *skops)
{
	__u32 tgid, tid;
	__u64 cookie;
	__u8 one = 1;

	if (!inject_on || (skops->family != AF_INET && skops->family != AF_INET6))
		return 1;
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		if (!current_selected(&tgid, &tid) || !inject_for(tgid))
			return 1;
		if (peer_not_http(skops)) {
			count(OBI_CNT_INJECT_PEER_NOT_HTTP);
			return 1;
		}
		cookie = bpf_get_socket_cookie(skops);
		bpf_map_update_elem(&connecting, &cookie, &one, BPF_ANY);
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		cookie = bpf_get_socket_cookie(skops);
		if (!bpf_map_lookup_elem(&connecting, &cookie))
			return 1;
		bpf_map_delete_elem(&connecting, &cookie);
		bpf_sock_hash_update(skops, &sock_hash, &cookie, BPF_NOEXIST);
		break;
	}
	return 1;
}

#define LINEAR_MAX 16384

/*
 * Where the next request starts on a connection, followed through every send: injection only
 * ever looks at a send that starts a request, never at a body, and a connection whose framing
 * obi cannot follow (its first bytes are no request, a chunked body, a head over several
 * sends, pipelined requests in one send) is never touched again.
 */
enum frame_state {
	FRAME_IDLE = 0,	/* the next send starts a request */
	FRAME_BODY,	/* body_left bytes of a request body come first */
	FRAME_OFF,	/* leave every byte alone */
};

struct msg_frame {
	__u64 body_left;
	__u8 state;
	__u8 sent; /* a send was seen: the next is not the connection's first */
	__u8 _pad[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct msg_frame);
} msg_frames SEC(".maps");

static __always_inline void frame_off(struct msg_frame *fr, enum obi_counter why)
{
	fr->state = FRAME_OFF;
	count(why);
}

/* A send while a body is still expected: all body, or the body's end and more (pipelining,
 * which obi does not follow). */
static __always_inline void frame_body(struct msg_frame *fr, __u32 size)
{
	count(OBI_CNT_INJECT_BODY);
	if (size > fr->body_left) {
		frame_off(fr, OBI_CNT_INJECT_OFF_FRAMING);
		return;
	}
	fr->body_left -= size;
	if (!fr->body_left)
		fr->state = FRAME_IDLE;
}

/* The framing of the request that starts this send, from the scan of its head (sc->scan):
 * where its body ends, counted from the send's `size` bytes. */
static __always_inline void frame_request(struct msg_frame *fr, struct scratch *sc, __u32 n,
					  __u32 size)
{
	struct head_scan *s = &sc->scan;
	__u64 body = 0, in_send;

	if (s->head_end <= 0 || s->te_count || s->cl_count > 1) {
		/* the head goes on in the next send, or the body is chunked or ambiguous */
		frame_off(fr, OBI_CNT_INJECT_OFF_FRAMING);
		return;
	}
	if (s->cl_count && !content_length(sc->e.data, s->cl_val, n, &body)) {
		frame_off(fr, OBI_CNT_INJECT_OFF_FRAMING);
		return;
	}
	in_send = size - (__u32)s->head_end;
	if (in_send > body) {
		frame_off(fr, OBI_CNT_INJECT_OFF_FRAMING);	/* another request follows in it */
		return;
	}
	fr->body_left = body - in_send;
	fr->state = fr->body_left ? FRAME_BODY : FRAME_IDLE;
}

/* A hex digit, as traceparent writes them (lowercase). */
static __always_inline bool lower_hex(__u8 c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* The planned header inserted at inj->off, after the request line: written only when the
 * message itself still shows the request line ending there and the request's first bytes. */
static __always_inline void msg_insert(struct sk_msg_md *msg, struct inject *inj)
{
	__u32 off = inj->off & (OBI_CAP_MAX - 1), size, at;
	__u8 *data, *data_end, *p;

	if (off != inj->off || off < 2)
		return;
	if (bpf_msg_push_data(msg, off, OBI_TP_HEADER_LEN, 0)) {
		count(OBI_CNT_INJECT_FAILED);
		return;
	}
	/*
	 * One pull makes the whole message (the new bytes too) one linear element, so the header
	 * can be written, and so the request leaves in one segment: tcp_bpf sends each scatterlist
	 * element on its own, without MSG_MORE, and Nagle would hold a second segment for a
	 * delayed ACK (40 ms).
	 */
	size = msg->size;
	if (bpf_msg_pull_data(msg, 0, size < LINEAR_MAX ? size : LINEAR_MAX, 0))
		goto undo;
	data = (__u8 *)(long)msg->data;
	data_end = (__u8 *)(long)msg->data_end;
	at = off - 2;
	barrier_var(at);	/* one variable offset, not off with a negative constant */
	p = data + at;		/* the request line's CR LF, then the room */
	if (data + 4 > data_end || p + 2 + OBI_TP_HEADER_LEN > data_end)
		goto undo;
	if (p[0] != '\r' || p[1] != '\n' || data[0] != inj->head[0] || data[1] != inj->head[1] ||
	    data[2] != inj->head[2] || data[3] != inj->head[3])
		goto undo;
	__builtin_memcpy(p + 2, inj->hdr, OBI_TP_HEADER_LEN);
	inj->done = 2;
	count(OBI_CNT_INJECTED);
	return;
undo:
	count(OBI_CNT_INJECT_FAILED);
	if (bpf_msg_pop_data(msg, off, OBI_TP_HEADER_LEN, 0))
		count(OBI_CNT_INJECT_UNDO_FAILED);
}

/* A forwarded traceparent of this trace gets this span as its parent (and the trace's flags):
 * written only over a "-<16 hex>-<2 hex>" the message itself shows at inj->off - 1. */
static __always_inline void msg_rewrite(struct sk_msg_md *msg, struct inject *inj)
{
	__u8 *data, *data_end;
	__u32 off = inj->off;

	if (off < 1 || bpf_msg_pull_data(msg, off - 1, off + OBI_TP_REWRITE_LEN, 0)) {
		count(OBI_CNT_INJECT_FAILED);
		return;
	}
	data = (__u8 *)(long)msg->data;
	data_end = (__u8 *)(long)msg->data_end;
	if (data + 1 + OBI_TP_REWRITE_LEN > data_end || data[0] != '-' || data[17] != '-') {
		count(OBI_CNT_INJECT_FAILED);
		return;
	}
	for (int i = 1; i <= OBI_TP_REWRITE_LEN; i++) {
		if (i != 17 && !lower_hex(data[i])) {
			count(OBI_CNT_INJECT_FAILED);
			return;
		}
	}
	__builtin_memcpy(data + 1, inj->hdr, OBI_TP_REWRITE_LEN);
	inj->done = 2;
	count(OBI_CNT_REWRITTEN);
}

/* A request start in the first bytes of a send: its head (up to OBI_CAP_MAX bytes) into the
 * scratch event's data; 0 if the message does not start a request. */
static __always_inline __u32 request_head(struct sk_msg_md *msg, __u8 *b)
{
	__u32 n = msg->size < OBI_CAP_MAX ? msg->size : OBI_CAP_MAX;
	void *data, *data_end;
	__u8 head[8];
	__u64 len;

	if (n < 16 || bpf_msg_pull_data(msg, 0, n, 0))
		return 0;
	data = (void *)(long)msg->data;
	data_end = (void *)(long)msg->data_end;
	if (data + 8 > data_end)
		return 0;
	__builtin_memcpy(head, data, 8);
	if (!http_start(head) || head[0] == 'H') /* "HTTP/": a response */
		return 0;
	if (data + n > data_end)
		n = data_end - data;	 /* the pull linearises at most a page or so */
	len = n & (2 * OBI_CAP_MAX - 1); /* n <= OBI_CAP_MAX: bounds the verifier sees in 64 bits */
	barrier_var(len);
	if (len < 16 || len > OBI_CAP_MAX || bpf_probe_read_kernel(b, len, data))
		return 0;
	return len;
}

/*
 * The first part of a request: plan its client span, carry the traceparent, leave the plan for
 * the syscall's exit. A later part of the same call finds the plan still there and passes.
 */
SEC("sk_msg")
int plan_msg(struct sk_msg_md *msg)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 zero = 0, n, rport, tgid, tid, size = msg->size;
	struct inject *planned, inj = {};
	struct inject_slot *slot;
	struct msg_frame *fr;
	struct scratch *sc;
	struct bpf_sock *sk;
	bool first;

	if (!inject_on || !current_selected(&tgid, &tid) || !inject_for(tgid) || OBI_FLOOR)
		return SK_PASS;
	sk = msg->sk;
	if (!sk)
		return SK_PASS;
	fr = bpf_sk_storage_get(&msg_frames, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!fr) {
		count(OBI_CNT_INJECT_NO_STATE);
		return SK_PASS;
	}
	first = !fr->sent;
	fr->sent = 1;
	if (fr->state == FRAME_OFF)
		return SK_PASS;
	if (fr->state == FRAME_BODY) {
		frame_body(fr, size);
		return SK_PASS;
	}
	rport = port_of(msg->remote_port);
	planned = inject_find(id);
	if (planned && planned->lport == msg->local_port && planned->rport == rport) {
		/* a later part of a planned call that its request did not frame: more requests */
		frame_off(fr, OBI_CNT_INJECT_OFF_FRAMING);
		return SK_PASS;
	}
	sc = bpf_map_lookup_elem(&scratch, &zero);
	if (!sc)
		return SK_PASS;
	n = request_head(msg, sc->e.data);
	if (!n) {
		/* a send at a request boundary that is no request: not HTTP/1, or lost; the server
		 * is not asked again for a while */
		frame_off(fr, OBI_CNT_INJECT_OFF_PROTO);
		if (first)
			remember_not_http(msg);
		return SK_PASS;
	}
	/* the slot first: a header goes out only with a plan the exit will find */
	slot = inject_slot_of(id, 0);
	if (!slot || !thread_slot_take(&slot->id, id)) {
		slot = inject_slot_of(id, 1);
		if (!slot || !thread_slot_take(&slot->id, id)) {
			struct head_scan s;

			count(OBI_CNT_INJECT_SKIPPED);
			if (scan_head(n, &s))	/* no plan, but the framing still */
				frame_request(fr, sc, n, size);
			else
				frame_off(fr, OBI_CNT_INJECT_OFF_FRAMING);
			return SK_PASS;
		}
	}
	inj.enter_ns = bpf_ktime_get_ns();
	plan_client(id, n, &inj, 1);	/* scans the head into sc->scan */
	frame_request(fr, sc, n, size);
	inj.lport = msg->local_port;
	inj.rport = rport;
	__builtin_memcpy(inj.head, sc->e.data, 4);
	if (inj.mode == INJ_INSERT && size >= inj.off)
		msg_insert(msg, &inj);
	else if (inj.mode == INJ_REWRITE && size >= inj.off + OBI_TP_REWRITE_LEN)
		msg_rewrite(msg, &inj);
	slot->inj = inj;
	return SK_PASS;
}

/*
 * sk_msg stays attached to the pinned sock_hash when obi is killed, and the connections in it
 * keep working. Its work is behind a tail call through a program array only obi's own file
 * descriptor holds: when obi dies the kernel empties the array, the call falls through, and
 * nothing is written into anybody's requests any more.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, int(void *));
} msg_tails SEC(".maps") = {
    .values = {[0] = (void *)&plan_msg},
};

/* Runs inside every send on a connection in sock_hash, once per part the kernel hands it (a
 * large send comes in several). */
SEC("sk_msg")
int obi_sk_msg(struct sk_msg_md *msg)
{
	bpf_tail_call(msg, &msg_tails, 0);
	return SK_PASS;
}

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/* Per socket in sock_hash: the sequence number after the last byte the receive path handed on.
 * sk_skb programs cannot use socket storage, so by cookie; a socket whose entry was evicted
 * (over 16,384 receiving at once) starts again from its next segment. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* socket cookie */
	__type(value, __u32);
} rx_next SEC(".maps");

#define TRIM_STEP 4095	  /* the most bpf_skb_adjust_room removes at once in sk_skb */
#define TRIM_STEPS 256	  /* ~1 MiB: more than any segment TCP queues */

struct trim {
	struct __sk_buff *skb;
	__u32 left; /* bytes still to cut off the segment's head */
};

/* One cut, as a bpf_loop callback: the verifier checks it once, not once per step. */
static long trim_step(__u32 i, void *arg)
{
	struct trim *t = arg;
	__u32 step = t->left < TRIM_STEP ? t->left : TRIM_STEP;

	if (!step || bpf_skb_adjust_room(t->skb, -(__s32)step, 0, 0))
		return 1;
	t->left -= step;
	return 0;
}

/*
 * Every received segment of a socket in sock_hash passes here, in order; attaching this keeps
 * FIONREAD right on this kernel (shared KERNEL.md). The kernel hands it whole segments: one
 * that TCP queued although it begins with bytes already received (a retransmission overlapping
 * what arrived, which TCP leaves for the reader to skip by sequence number) would reach the
 * application twice. So the already-delivered head of such a segment is cut off here, and the
 * application reads each byte once, as without obi.
 */
SEC("sk_skb/stream_verdict")
int obi_stream_verdict(struct __sk_buff *skb)
{
	struct sk_buff *k = bpf_cast_to_kern_ctx(skb);
	__u64 cookie = bpf_get_socket_cookie(skb);
	__u32 seq, len = skb->len, end, over, *next;

	if (OBI_FLOOR)
		return SK_PASS;
	/* TCP_SKB_CB(skb)->seq: where the segment's first byte sits in the stream */
	if (bpf_probe_read_kernel(&seq, sizeof(seq), &((struct tcp_skb_cb *)k->cb)->seq))
		return SK_PASS;
	end = seq + len;
	next = bpf_map_lookup_elem(&rx_next, &cookie);
	if (!next) {
		bpf_map_update_elem(&rx_next, &cookie, &end, BPF_ANY);
		return SK_PASS;
	}
	over = *next - seq;
	if ((__s32)over <= 0 || !len) {
		*next = end;
		return SK_PASS;
	}
	count(OBI_CNT_RX_OVERLAP);
	if (over > len)
		over = len;
	struct trim t = {.skb = skb, .left = over};

	bpf_loop(TRIM_STEPS, trim_step, &t, 0);
	if (t.left)
		count(OBI_CNT_RX_OVERLAP_FAILED);
	if ((__s32)(end - *next) > 0)
		*next = end;
	return skb->len ? SK_PASS : SK_DROP;
}
