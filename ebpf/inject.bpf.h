/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * traceparent injection. sock_ops puts the outgoing TCP connections of selected processes in
 * sock_hash; sys_enter of a send that starts an HTTP request decides the client span's ids and
 * what to write (struct inject); the sk_msg program of that same call inserts the header after
 * the request line, or rewrites a forwarded header's parent id in place. A pass-through
 * sk_skb stream verdict keeps FIONREAD right for sockets in the map (see shared KERNEL.md).
 */
#ifndef OBI_INJECT_BPF_H
#define OBI_INJECT_BPF_H

#include "tracectx.bpf.h"

#define SK_PASS 1

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);		/* socket cookie */
	__type(value, __u64);
} sock_hash SEC(".maps");

/* Sockets a selected process is connecting (connect() runs in its context; the established
 * callback does not). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);		/* socket cookie */
	__type(value, __u8);
} connecting SEC(".maps");

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

	if (line_end < 10 || e < 10)	/* "GET / HTTP/1.1\r\n" ends at 15 */
		return false;
	return b[e - 1] == '\r' && b[e - 9] == 'H' && b[e - 8] == 'T' && b[e - 7] == 'T' &&
	       b[e - 6] == 'P' && b[e - 5] == '/' && b[e - 4] == '1' && b[e - 3] == '.';
}

/* Decides the ids of the client span a request starts and how its traceparent is carried. */
static __always_inline void plan_client_request(__u64 id, const __u8 *b, __u32 n,
						struct inject *inj)
{
	struct obi_trace theirs = {};
	struct parent_ctx tc = {};
	struct head_scan s;
	bool has_parent;
	__u32 at = 0;
	int tp_ok;

	if (!scan_head(n, &s))
		return;
	tp_ok = s.tp_count == 1 && parse_traceparent(b, s.tp_val, n, &theirs, &at);
	has_parent = current_server(id, path_hash(b, n), tp_ok ? theirs.trace_id : NULL, &tc);
	random_id(inj->t.span_id, 2);
	if (has_parent) {
		__builtin_memcpy(inj->t.trace_id, tc.trace_id, 16);
		__builtin_memcpy(inj->t.parent_id, tc.span_id, 8);
		inj->t.flags = tc.flags;
		inj->t.state = OBI_TP_IDS | OBI_TP_LOCAL;
	} else {
		random_id(inj->t.trace_id, 4);
		inj->t.flags = 1;
		inj->t.state = OBI_TP_IDS;
	}
	if (tp_ok) {
		if (has_parent && same_trace(theirs.trace_id, tc.trace_id)) {
			/* a proxy forwarding our own trace: point the parent at this span */
			inj->mode = INJ_REWRITE;
			inj->off = at + 36;
			put_hex(inj->hdr, inj->t.span_id, 8);
			inj->t.state |= OBI_TP_REWRITE;
		} else {
			/* the application's own context: follow it, leave the bytes alone */
			__builtin_memcpy(inj->t.trace_id, theirs.trace_id, 16);
			__builtin_memcpy(inj->t.parent_id, theirs.parent_id, 8);
			inj->t.flags = theirs.flags;
			inj->t.state = OBI_TP_IDS | OBI_TP_FOREIGN;
		}
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

/* sys_enter of a send: plan the client span of a request start; sys_exit reports it. True
 * when a plan was left in pending_inject. */
static __always_inline bool client_request(__u64 id, __u32 lport, __u32 rport, __u64 base,
					   __u64 len)
{
	__u32 zero = 0, n = len < OBI_CAP_MAX ? len : OBI_CAP_MAX;
	struct scratch *sc = bpf_map_lookup_elem(&scratch, &zero);
	struct inject inj = {};
	__u8 *b;

	if (!sc || n < 16)
		return false;
	b = sc->e.data;
	if (bpf_probe_read_user(b, n, (void *)base))
		return false;
	plan_client_request(id, b, n, &inj);
	if (!inject_on)
		inj.mode = INJ_NONE;
	inj.lport = lport;
	inj.rport = rport;
	__builtin_memcpy(inj.head, b, 4);
	return bpf_map_update_elem(&pending_inject, &id, &inj, BPF_ANY) == 0;
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
		if (!current_selected(&tgid, &tid))
			return 1;
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

static __always_inline void msg_insert(struct sk_msg_md *msg, struct inject *inj)
{
	__u32 off = inj->off & (OBI_CAP_MAX - 1), size;
	void *data, *data_end;

	if (off != inj->off || bpf_msg_push_data(msg, off, OBI_TP_HEADER_LEN, 0))
		return;
	/*
	 * One pull makes the whole message (the new bytes too) one linear element, so the header
	 * can be written, and so the request leaves in one segment: tcp_bpf sends each scatterlist
	 * element on its own, without MSG_MORE, and Nagle would hold a second segment for a
	 * delayed ACK (40 ms).
	 */
	size = msg->size;
	if (bpf_msg_pull_data(msg, 0, size < LINEAR_MAX ? size : LINEAR_MAX, 0))
		goto undo;
	data = (void *)(long)msg->data;
	data_end = (void *)(long)msg->data_end;
	if (data + off + OBI_TP_HEADER_LEN > data_end)
		goto undo;
	__builtin_memcpy(data + off, inj->hdr, OBI_TP_HEADER_LEN);
	inj->done = 2;
	count(OBI_CNT_INJECTED);
	return;
undo:
	bpf_msg_pop_data(msg, off, OBI_TP_HEADER_LEN, 0);
}

static __always_inline void msg_rewrite(struct sk_msg_md *msg, struct inject *inj)
{
	void *data, *data_end;

	if (bpf_msg_pull_data(msg, inj->off, inj->off + 16, 0))
		return;
	data = (void *)(long)msg->data;
	data_end = (void *)(long)msg->data_end;
	if (data + 16 > data_end)
		return;
	__builtin_memcpy(data, inj->hdr, 16);
	inj->done = 2;
	count(OBI_CNT_REWRITTEN);
}

SEC("sk_msg")
int obi_sk_msg(struct sk_msg_md *msg)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct inject *inj = bpf_map_lookup_elem(&pending_inject, &id);
	void *data, *data_end;
	__u32 got, want;

	if (!inj || inj->done || inj->mode == INJ_NONE)
		return SK_PASS;
	/* sk_msg_md's remote_port holds the network-order port in its upper half on little-endian
	 * hosts (the kernel shifts it by 16); accept either layout */
	if (msg->local_port != inj->lport ||
	    (msg->remote_port != inj->rport && msg->remote_port != inj->rport << 16))
		return SK_PASS;	/* another socket written by the same thread */
	inj->done = 1;		/* one attempt per call, whatever happens next */
	if (msg->size < inj->off + (inj->mode == INJ_REWRITE ? 16 : 0) ||
	    bpf_msg_pull_data(msg, 0, 4, 0))
		return SK_PASS;
	data = (void *)(long)msg->data;
	data_end = (void *)(long)msg->data_end;
	if (data + 4 > data_end)
		return SK_PASS;
	__builtin_memcpy(&got, data, 4);
	__builtin_memcpy(&want, inj->head, 4);
	if (got != want)
		return SK_PASS;	/* not the bytes the plan was made for */
	if (inj->mode == INJ_INSERT)
		msg_insert(msg, inj);
	else
		msg_rewrite(msg, inj);
	return SK_PASS;
}

/* Received bytes pass untouched; attaching this keeps FIONREAD right on this kernel. */
SEC("sk_skb/stream_verdict")
int obi_stream_verdict(struct __sk_buff *skb)
{
	return SK_PASS;
}

#endif /* OBI_INJECT_BPF_H */
