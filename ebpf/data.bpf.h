/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The data path both hook sets share (syscalls.bpf.c, sockets.bpf.c): io_event turns bytes
 * moved through a socket into an obi_data_event on `events`, end_conn into an obi_close_event.
 * The heavy halves of a request start are global functions of data.bpf.c.
 */
#ifndef OBI_DATA_BPF_H
#define OBI_DATA_BPF_H

#include <bpf/bpf_endian.h>

#include "plan.bpf.h"

#define AF_INET	    2
#define AF_INET6    10
#define SOCK_STREAM 1
#define IPPROTO_TCP 6
#define MSG_PEEK    2

enum buf_kind {
	BUF_PLAIN = 0, /* (fd, buf, len) */
	BUF_IOV = 1,   /* (fd, iov, iovcnt) */
	BUF_MSG = 2,   /* (fd, msghdr, flags) */
	BUF_NONE = 3,  /* sendfile: no user buffer */
};

/* Where a call's bytes are: read from the syscall's registers at exit. */
struct io_args {
	__u64 buf;
	__u32 fd;
	__u32 count; /* BUF_PLAIN: bytes asked for; BUF_IOV: iovecs */
	__u8 kind;
};

/* Kernels before 6.13 count file references in f_count (the number itself). */
struct file___f_count {
	atomic_long_t f_count;
} __attribute__((preserve_access_index));

/*
 * The heavy halves of the syscall exits — planning a client request's span and traceparent,
 * and a server request's trace context — are programs of their own, tail-called with what
 * they need in the per-CPU scratch (struct handoff). The verifier then checks each once, not
 * once inside every syscall's program: most of obi's start-up time is verification. The
 * loader fills the array (enum obi_tail), only when it loads the syscall exits.
 */
OBI_SHARED struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, OBI_TAIL_MAX);
	__type(key, __u32);
	__type(value, __u32);
} tails OBI_MAP;

/* The same halves as global functions (data.bpf.c), for the socket tp_btf programs, whose
 * program type cannot share that program array. Both read sc->h and the scratch event. */
int plan_request_fn(void);
int emit_request_fn(void);

/* How a data event's heavy half is reached. */
enum via {
	VIA_TAIL,
	VIA_CALL,
};

/* The socket's index in conn_slots: a multiplicative hash of its address (the low half; a
 * privileged program may read a pointer as a number). Not the socket's own hash: TCP gives
 * that a new value when the connection closes. */
static __always_inline __u32 conn_slot_of(const struct sock *sk)
{
	__u32 lo;

	/* a 32-bit copy of the pointer is a number to the verifier; arithmetic on it is refused */
	asm volatile("%[lo] = %[p]" : [lo] "=w"(lo) : [p] "w"(sk));
	return (lo * 2654435761U) >> (32 - OBI_CONN_SLOT_BITS);
}

static __always_inline bool is_tcp(struct sock *sk)
{
	if (sk->sk_type == SOCK_STREAM && sk->sk_protocol == IPPROTO_TCP)
		return true;
	count(OBI_CNT_NOT_TCP);
	return false;
}

static __always_inline void read_addrs(struct sock *sk, struct obi_data_event *e)
{
	struct sock_common *c = &sk->__sk_common;
	__u16 family = c->skc_family;
	__u32 *l = (__u32 *)e->local.addr, *r = (__u32 *)e->remote.addr;

	e->local.family = family;
	e->remote.family = family;
	e->local.port = c->skc_num;
	e->remote.port = bpf_ntohs(c->skc_dport);
	if (family == AF_INET6) {
		for (int i = 0; i < 4; i++) {
			l[i] = c->skc_v6_rcv_saddr.in6_u.u6_addr32[i];
			r[i] = c->skc_v6_daddr.in6_u.u6_addr32[i];
		}
	} else {
		l[0] = c->skc_rcv_saddr;
		r[0] = c->skc_daddr;
		l[1] = l[2] = l[3] = r[1] = r[2] = r[3] = 0;
	}
}

/* The first bytes open an HTTP/1 message: a request line or a status line. User space does
 * the full parse; this only keeps everything else off the ring buffer. */
static __always_inline bool http_start(const __u8 *b)
{
	__u32 w = b[0] | (b[1] << 8) | (b[2] << 16) | ((__u32)b[3] << 24);

#define W(a, b, c, d) ((a) | ((b) << 8) | ((c) << 16) | ((__u32)(d) << 24))
	switch (w) {
	case W('G', 'E', 'T', ' '):
	case W('P', 'U', 'T', ' '):
		return true;
	case W('P', 'O', 'S', 'T'):
	case W('H', 'E', 'A', 'D'):
		return b[4] == ' ';
	case W('D', 'E', 'L', 'E'): /* DELETE */
	case W('O', 'P', 'T', 'I'): /* OPTIONS */
	case W('P', 'A', 'T', 'C'): /* PATCH */
	case W('C', 'O', 'N', 'N'): /* CONNECT */
	case W('T', 'R', 'A', 'C'): /* TRACE */
		return true;
	case W('H', 'T', 'T', 'P'):
		return b[4] == '/' && b[5] == '1' && b[6] == '.';
	}
#undef W
	return false;
}

/* Nothing has gone the other way on the socket yet: the other end has not spoken (for a read,
 * nothing was sent; for a send, nothing received). */
static __always_inline bool db_first_words(struct sock *sk, __u8 dir)
{
	if (dir == OBI_DIR_SEND)
		return !BPF_CORE_READ((struct tcp_sock *)sk, bytes_received);
	return !BPF_CORE_READ((struct tcp_sock *)sk, bytes_sent);
}

/* A MySQL Handshake v10: a 3-byte length (it is short), sequence id 0, protocol 10, then the
 * server version's first bytes ("8.0.", "5.5.5-10.", "11.4"); user space checks the rest. */
static __always_inline bool mysql_handshake(const __u8 *b)
{
	return b[1] == 0 && b[2] == 0 && b[3] == 0 && b[4] == 0x0a && b[5] >= '1' && b[5] <= '9' &&
	       b[6] >= 0x20 && b[6] < 0x7f && b[7] >= 0x20 && b[7] < 0x7f;
}

/* A MySQL command packet: sequence id 0, COM_INIT_DB, COM_QUERY, COM_STMT_PREPARE or
 * COM_STMT_EXECUTE (the commands obi makes spans of). */
static __always_inline bool mysql_command(const __u8 *b)
{
	return b[3] == 0 && (b[4] == 0x02 || b[4] == 0x03 || b[4] == 0x16 || b[4] == 0x17);
}

/*
 * The first bytes open a database request or a database connection; returns the role they
 * prove for the traced process (OBI_DB_CLIENT or OBI_DB_SERVER), or OBI_DB_NONE, with
 * OBI_DB_MYSQL for a MySQL handshake. A request says which end sends it: its sender is the
 * client. PostgreSQL's frontend messages say so alone: a startup message or SSLRequest
 * (length, then protocol 3.0 or the SSL code), a Query or a Parse ('Q', 'P', a length below
 * 16 MiB). A RESP command ("*<n>\r\n$") does not: a reply can look the same, so it counts only
 * where the socket has carried nothing the other way yet (a connection's first request) or the
 * connection is known. MySQL's server speaks first: its handshake, where nothing went the
 * other way yet, proves both ends; a command counts on a connection that began with one.
 */
static __always_inline __u8 db_start(const __u8 *b, struct sock *sk, struct obi_conn *conn,
				     __u8 dir)
{
	__u8 me = dir == OBI_DIR_SEND ? OBI_DB_CLIENT : OBI_DB_SERVER; /* if b is a request */

	if (b[0] == '*') {
		bool cmd = b[1] >= '1' && b[1] <= '9' &&
			   ((b[2] == '\r' && b[3] == '\n' && b[4] == '$') ||
			    (b[2] >= '0' && b[2] <= '9' && b[3] == '\r' && b[4] == '\n' && b[5] == '$'));

		if (!cmd)
			return OBI_DB_NONE;
		if (conn)
			return conn->db_role == me ? me : OBI_DB_NONE;
		return db_first_words(sk, dir) ? me : OBI_DB_NONE;
	}
	if (!conn && mysql_handshake(b) && db_first_words(sk, dir))
		return OBI_DB_MYSQL | (dir == OBI_DIR_SEND ? OBI_DB_SERVER : OBI_DB_CLIENT);
	if ((b[0] == 'Q' || b[0] == 'P') && b[1] == 0 && (b[2] | b[3] | b[4]))
		return me;
	if (conn && conn->db_mysql && mysql_command(b))
		return conn->db_role == me ? me : OBI_DB_NONE;
	if (b[0] || b[1] || b[2] > 0x27)	/* a startup message is under 10 kB */
		return OBI_DB_NONE;
	if ((b[4] == 0 && b[5] == 3 && b[6] == 0 && b[7] == 0) ||
	    (b[4] == 0x04 && b[5] == 0xd2 && b[6] == 0x16 && (b[7] == 0x2f || b[7] == 0x30)))
		return me;
	return OBI_DB_NONE;
}

static __always_inline void emit_data(struct obi_data_event *e, __u64 cap)
{
	if (bpf_ringbuf_output(&events, e, OBI_DATA_HDR_SIZE + cap, wakeup_flags()))
		count(OBI_CNT_RINGBUF_FULL);
}

/* Resolves the buffer of a call to its first segment; a vectored call's first OBI_MAX_IOV
 * iovecs land in sc->iov (one user copy for the capture and the tail). */
static __always_inline int first_segment(struct io_args *a, struct scratch *sc, __u64 *base,
					 __u64 *seg_len)
{
	__u64 iovp = a->buf;
	__u32 n;

	if (a->kind == BUF_PLAIN) {
		/* never past the caller's buffer: the page after it may not be mapped */
		*base = a->buf;
		*seg_len = a->count;
		return 0;
	}
	if (a->kind == BUF_MSG) {
		struct user_msghdr msg = {};

		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)a->buf))
			return -1;
		iovp = (__u64)msg.msg_iov;
		a->count = msg.msg_iovlen;
	}
	/* the kernel copied every iovec of the call, so all of these are readable */
	n = a->count < OBI_MAX_IOV ? a->count : OBI_MAX_IOV;
	barrier_var(n);
	if (n == 0 || n > OBI_MAX_IOV) /* the second test is for the verifier */
		return -1;
	if (bpf_probe_read_user(sc->iov, n * sizeof(sc->iov[0]), (void *)iovp))
		return -1;
	*base = sc->iov[0].base;
	*seg_len = sc->iov[0].len;
	return 0;
}

/* The last OBI_TAIL of the call's `len` bytes, all captured in e->data. */
static __always_inline void tail_from_capture(struct obi_data_event *e, __u64 len)
{
	__u64 n = len < OBI_TAIL ? len : OBI_TAIL, off = len - n;

	for (__u32 i = 0; i < OBI_TAIL; i++) {
		if (i >= n)
			break;
		e->tail[i] = e->data[(off + i) & (OBI_CAP_MAX - 1)];
	}
	e->tail_len = n;
}

/* Copies the last OBI_TAIL bytes moved by the call into e->tail. */
static __always_inline void read_tail(struct io_args *a, struct scratch *sc, __u64 base,
				      __u64 total, struct obi_data_event *e)
{
	__u64 end = base + total;

	if (a->kind != BUF_PLAIN) {
		/* the iovec holding the last byte */
		__u64 left = total, len = 0;

		for (__u32 i = 0; i < OBI_MAX_IOV; i++) {
			if (i >= a->count)
				return;
			len = sc->iov[i].len;
			if (left <= len) {
				end = sc->iov[i].base + left;
				total = left;
				break;
			}
			left -= len;
		}
		if (left > len)
			return;
	}
	if (total > OBI_TAIL)
		total = OBI_TAIL;
	if (total && !bpf_probe_read_user(e->tail, total, (void *)(end - total)))
		e->tail_len = total;
}

/* A send that starts a request: the plan its sk_msg program made (ids, whether the header
 * went out, when the request met the socket), if it made one for these bytes. */
static __always_inline bool planned_request(__u64 id, struct obi_data_event *e)
{
	struct inject *inj = inject_find(id);
	__u32 planned, sent;
	bool ours;

	if (!inj)
		return false;
	__builtin_memcpy(&planned, inj->head, 4);
	__builtin_memcpy(&sent, e->data, 4);
	ours = inj->lport == e->local.port && inj->rport == bpf_htons(e->remote.port) &&
	       planned == sent;
	if (ours) {
		e->trace = inj->t;
		if (inj->done == 2)
			e->trace.state |= OBI_TP_DONE;
		e->enter_ns = inj->enter_ns;
	}
	inject_forget(id);
	return ours;
}

/* The first bytes of the call's first segment into e->data, enough to recognise a message
 * start and to be the capture of a continuation; returns how many it read. */
static __always_inline __u64 capture_first(struct obi_data_event *e, __u64 base, __u64 seg_len)
{
	__u64 first = seg_len < OBI_CAP_CONT ? seg_len : OBI_CAP_CONT;

	if (bpf_probe_read_user(e->data, first, (void *)base))
		return 0; /* still counted, not parsed */
	return first;
}

/*
 * A slot for socket *key, which obi has not seen before: claimed at a message start on a TCP
 * socket. NULL: not (yet) a connection obi follows. The key comes by address: kept on
 * io_event's stack, not copied, it leaves the data programs about a fifth fewer instructions
 * to verify.
 */
static __always_inline struct obi_conn *conn_of(struct sock *sk, const __u64 *key, __u32 slot,
						__u32 tgid, bool start)
{
	__u64 addr = 0;
	int at;

	if (!start || !is_tcp(sk))
		return NULL;
	/* the socket's address as a number: a global function refuses a pointer argument */
	bpf_probe_read_kernel(&addr, sizeof(addr), key);
	at = conn_new(addr, slot, tgid);
	return at ? conn_at(at - 1, *key) : NULL;
}

/* The event's header, addresses and sizes; the connection's byte counts move on. */
static __always_inline void fill_header(struct obi_data_event *e, struct obi_conn *conn,
					struct sock *sk, __u64 key, __u32 tgid, __u32 tid, __u32 fd,
					long ret, __u8 dir, __u8 kind, bool start)
{
	e->hdr.type = OBI_EV_DATA;
	e->hdr.pid = tgid;
	e->hdr.tid = tid;
	e->hdr.ts_ns = bpf_ktime_get_ns();
	e->sock_id = key;
	e->enter_ns = e->hdr.ts_ns; /* planned_request() may know better */
	e->rx_total = conn->rx_total;
	e->tx_total = conn->tx_total;
	read_addrs(sk, e);
	e->fd = fd;
	e->len = ret;
	e->dir = dir;
	e->flags = (start ? OBI_F_MSG_START : 0) | (kind == BUF_NONE ? OBI_F_SENDFILE : 0);
	e->tail_len = 0;
	if (dir == OBI_DIR_RECV)
		conn->rx_total += ret;
	else
		conn->tx_total += ret;
}

/* The rest of the capture after its `first` bytes: a message start's head, up to its limit;
 * returns the capture's length. */
static __always_inline __u64 capture_rest(struct obi_data_event *e, __u64 base, __u64 seg_len,
					  __u64 first, bool start, bool response, __u8 kind)
{
	__u64 cap = !start ? OBI_CAP_CONT : response ? OBI_CAP_START : OBI_CAP_REQUEST;

	if (kind == BUF_NONE)
		cap = 0;
	if (cap > seg_len)
		cap = seg_len;
	if (cap > OBI_CAP_MAX)
		cap = OBI_CAP_MAX;
	if (cap > first) {
		__u64 rest = cap - first;

		if (rest > OBI_CAP_MAX) /* cap - first < OBI_CAP_MAX, said for the verifier */
			rest = OBI_CAP_MAX;
		if (bpf_probe_read_user(e->data + first, rest, (void *)(base + first)))
			cap = first;
	}
	e->cap_len = cap;
	return cap;
}

/* A response start ends the server span it answers; a request start goes on to its heavy half
 * (its span's ids), unless its sk_msg program planned it. Everything else is emitted here. */
static __always_inline int dispatch(void *ctx, struct scratch *sc, struct obi_conn *conn, __u64 id,
				    __u64 key, __u32 slot, __u8 dir, bool start, bool response,
				    __u64 cap, enum via via)
{
	struct obi_data_event *e = &sc->e;

	__builtin_memset(&e->trace, 0, sizeof(e->trace));
	if (response) {
		server_response(key, conn);
	} else if (start && (dir == OBI_DIR_RECV || !planned_request(id, e))) {
		if (dir == OBI_DIR_RECV) {
			/* until its response starts; the path hash only matters once the span
			 * leaves thread_ctx for inflight, which sets it (remember_server) */
			conn->req_id = id;
			conn->req_hash = 0;
		}
		sc->h.id = id;
		sc->h.sk = key;
		sc->h.slot = slot;
		if (via == VIA_CALL)
			return dir == OBI_DIR_RECV ? emit_request_fn() : plan_request_fn();
		bpf_tail_call(ctx, &tails,
			      dir == OBI_DIR_RECV ? OBI_TAIL_EMIT_REQUEST : OBI_TAIL_PLAN_REQUEST);
		/* reached only if the tail call failed: the event goes without ids */
	}
	emit_data(e, cap);
	return 0;
}

/*
 * The data event of `ret` bytes moved through `sk` by the current task, with the call's
 * buffers in `a`. `dir`, `kind` and `via` are each calling program's own constants, so each is
 * verified only for the paths it can take.
 */
static __always_inline int io_event(void *ctx, __u64 id, __u32 tgid, __u32 tid, long ret,
				    struct sock *sk, struct io_args *a, __u8 dir, __u8 kind,
				    enum via via)
{
	__u64 base = 0, seg_len = 0, first = 0, cap, key = (__u64)sk;
	bool start = false, response = false, whole = false;
	__u32 slot = conn_slot_of(sk), zero = 0;
	__u8 db = OBI_DB_NONE;
	struct obi_data_event *e;
	struct obi_conn *conn;
	struct scratch *sc;

	sc = bpf_map_lookup_elem(&scratch, &zero);
	if (!sc)
		return 0;
	e = &sc->e;
	if (kind != BUF_NONE) {
		if (first_segment(a, sc, &base, &seg_len))
			return 0;
		whole = seg_len >= (__u64)ret; /* every byte of the call is in this segment */
		if (whole)
			seg_len = ret;
		first = capture_first(e, base, seg_len);
		start = first >= 7 && http_start(e->data);
		response = start && e->data[0] == 'H' && e->data[1] == 'T';
	}
	conn = conn_find(key, slot);
	if (!start && first >= 8)
		db = db_start(e->data, sk, conn, dir);
	if (!conn)
		conn = conn_of(sk, &key, slot, tgid, start || db);
	if (!conn)
		return 0; /* nothing to say */
	if (db & OBI_DB_MYSQL) {
		conn->db_mysql = 1;
		db &= ~OBI_DB_MYSQL;
	}
	if (db && !conn->db_role)
		conn->db_role = db;
	fill_header(e, conn, sk, key, tgid, tid, a->fd, ret, dir, kind, start);
	if (db)
		e->flags |= OBI_F_DB_START;
	cap = capture_rest(e, base, seg_len, first, start || db, response, kind);
	if (kind != BUF_NONE && whole && (__u64)ret <= cap)
		tail_from_capture(e, ret); /* the call's last bytes are already here */
	else if (kind != BUF_NONE)
		read_tail(a, sc, base, ret, e);
	/* a database client's request gets its span's ids and parent as an HTTP one does */
	start =
	    start || (dir == OBI_DIR_SEND && db == OBI_DB_CLIENT && conn->db_role == OBI_DB_CLIENT);
	return dispatch(ctx, sc, conn, id, key, slot, dir, start, response, cap, via);
}

/* The socket's connection is over: the close event, and its request no longer a parent. */
static __always_inline void end_conn(__u64 key, __u32 slot, struct obi_conn *conn, __u32 pid,
				     __u32 tid, __u32 fd)
{
	struct obi_close_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (e) {
		e->hdr.type = OBI_EV_CLOSE;
		e->hdr.pid = pid;
		e->hdr.tid = tid;
		e->hdr.ts_ns = bpf_ktime_get_ns();
		e->sock_id = key;
		e->rx_total = conn->rx_total;
		e->tx_total = conn->tx_total;
		e->fd = fd;
		bpf_ringbuf_submit(e, wakeup_flags());
	} else {
		count(OBI_CNT_RINGBUF_FULL);
	}
	server_response(key, conn); /* a request closed unanswered */
	conn_forget(key, slot);
}

#endif /* OBI_DATA_BPF_H */
