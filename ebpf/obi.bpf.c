// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The TCP data path of selected processes, seen through one of two hook sets the loader
 * chooses between: socket tp_btf tracepoints (sock_recv_length, sock_send_length,
 * inet_sock_set_state) or syscall tracepoints (read/write families, sendfile, close, listen);
 * and sched tp_btf hooks (fork, exec, exit) that keep the selection. Emits obi_data_event,
 * obi_close_event and obi_proc_event records on the `events` ring buffer.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "maps.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define IPPROTO_TCP 6
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define MSG_PEEK 2

enum buf_kind {
	BUF_PLAIN = 0,	/* (fd, buf, len) */
	BUF_IOV = 1,	/* (fd, iov, iovcnt) */
	BUF_MSG = 2,	/* (fd, msghdr, flags) */
	BUF_NONE = 3,	/* sendfile: no user buffer */
};

/* Where a call's bytes are: read from the syscall's registers at exit (see io_args_now). */
struct io_args {
	__u64 buf;
	__u32 fd;
	__u32 count;		/* BUF_PLAIN: bytes asked for; BUF_IOV: iovecs */
	__u8 kind;
};

/* Kernel objects are read with plain loads through typed pointers (the verifier turns them
 * into fault-safe loads), not with one bpf_probe_read_kernel() call per field. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define KERNEL_PTR(type, p) ((type *)bpf_rdonly_cast((const void *)(p), bpf_core_type_id_kernel(type)))

/* The file behind fd in the current task's table, or NULL. */
static __always_inline struct file *file_of_fd(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	__u64 file = 0;

	if (fd < 0 || fd >= (int)fdt->max_fds)
		return NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fdt->fd[fd]);
	return file ? KERNEL_PTR(struct file, file) : NULL;
}

/* Kernels before 6.13 count file references in f_count (the number itself). */
struct file___f_count {
	atomic_long_t f_count;
} __attribute__((preserve_access_index));

/* Closing fd drops the last reference to its file (not a dup'ed fd, not a copy a forked
 * child still holds): the connection really ends. */
static __always_inline bool last_reference(struct file *file)
{
	if (bpf_core_field_exists(file->f_ref))
		return file->f_ref.refcnt.counter <= 0;	/* file_ref_t: 0 = one reference */
	return ((struct file___f_count *)file)->f_count.counter <= 1;
}

/* The struct sock of a socket file, or NULL for any other file. */
static __always_inline struct sock *sock_of_file(struct file *file)
{
	struct socket *sock;

	if (!file || (file->f_inode->i_mode & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = KERNEL_PTR(struct socket, file->private_data);
	return sock->sk;
}

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

static __always_inline struct sock *tcp_sock_of_fd(int fd)
{
	struct sock *sk = sock_of_file(file_of_fd(fd));

	return sk && is_tcp(sk) ? sk : NULL;
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
	case W('D', 'E', 'L', 'E'):	/* DELETE */
	case W('O', 'P', 'T', 'I'):	/* OPTIONS */
	case W('P', 'A', 'T', 'C'):	/* PATCH */
	case W('C', 'O', 'N', 'N'):	/* CONNECT */
	case W('T', 'R', 'A', 'C'):	/* TRACE */
		return true;
	case W('H', 'T', 'T', 'P'):
		return b[4] == '/' && b[5] == '1' && b[6] == '.';
	}
#undef W
	return false;
}

#include "inject.bpf.h"

/*
 * The heavy halves of the syscall exits — planning a client request's span and traceparent,
 * and a server request's trace context — are programs of their own, tail-called with what
 * they need in the per-CPU scratch (struct handoff). The verifier then checks each once, not
 * once inside every syscall's program: most of obi's start-up time is verification. The
 * loader fills the array (enum obi_tail), only when it loads the syscall exits.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, OBI_TAIL_MAX);
	__type(key, __u32);
	__type(value, __u32);
} tails SEC(".maps");

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
	if (n == 0 || n > OBI_MAX_IOV)	/* the second test is for the verifier */
		return -1;
	if (bpf_probe_read_user(sc->iov, n * sizeof(sc->iov[0]), (void *)iovp))
		return -1;
	*base = sc->iov[0].base;
	*seg_len = sc->iov[0].len;
	return 0;
}

/*
 * The exit of a send that starts an HTTP request, when the sk_msg program of the call left no
 * plan (injection off, or a connection obi did not see open): the client span's ids, from the
 * head already captured in the scratch event, then the event.
 */
static __always_inline int do_plan_request(void)
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

SEC("tracepoint")
int plan_request(void *ctx)
{
	return do_plan_request();
}

/* The same, called by the socket tp_btf programs (a global function: verified once). */
__noinline int plan_request_fn(void)
{
	return do_plan_request();
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

/* The exit of a receive that read a request start: its server span's ids, then the event.
 * The exit already marked the socket's request as read by this thread (conn->req_id). */
static __always_inline int do_emit_request(void)
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

SEC("tracepoint")
int emit_request(void *ctx)
{
	return do_emit_request();
}

__noinline int emit_request_fn(void)
{
	return do_emit_request();
}

/*
 * sys_exit_*: emit the call as a data event if it carries HTTP, and count its bytes. The
 * arguments come from the registers the syscall entry saved (x86-64: rdi, rsi, rdx, r10),
 * which the read and write families leave as they were: no syscall has an enter program. A
 * client request's span start and ids come from the sk_msg program that ran inside the send
 * (inject.bpf.h); without one (injection off, a connection opened before obi) the request is
 * planned here, and its span starts when the send returns. `dir` and `kind` are the program's
 * own constants, so each program is verified only for the paths it can take.
 */
enum peek_arg {
	PEEK_NONE,	/* read, readv, writes */
	PEEK_ARG3,	/* recvmsg(fd, msg, flags) */
	PEEK_ARG4,	/* recvfrom(fd, buf, len, flags, ...) */
};

/* How a data event's heavy half is reached: syscall tracepoints tail-call it (verified once,
 * on its own); the socket tp_btf programs, whose program type cannot share that program
 * array, call global functions instead. */
enum via {
	VIA_TAIL,
	VIA_CALL,
};

static __always_inline int io_event(void *ctx, __u64 id, __u32 tgid, __u32 tid, long ret,
				    struct sock *sk, struct io_args *a, __u8 dir, __u8 kind,
				    enum via via);

static __always_inline int exit_io(void *ctx, long ret, __u8 dir, __u8 kind, enum peek_arg peek)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct task_struct *task = bpf_get_current_task_btf();
	struct io_args a = { .kind = kind };
	__u32 tgid, tid;
	struct pt_regs *regs;
	struct sock *sk;

	if (!current_selected(&tgid, &tid))
		return 0;
	if (ret <= 0) {
		/* a failed send: whatever its sk_msg program planned did not go out whole */
		if (dir == OBI_DIR_SEND && inject_on)
			inject_forget(id);
		return 0;
	}

	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	a.fd = regs->di;
	a.buf = regs->si;
	a.count = regs->dx;
	/* a MSG_PEEK read leaves the bytes queued: they are counted when really read */
	if ((peek == PEEK_ARG3 && (regs->dx & MSG_PEEK)) ||
	    (peek == PEEK_ARG4 && (regs->r10 & MSG_PEEK)))
		return 0;
	sk = sock_of_file(file_of_fd(a.fd));
	if (!sk)
		return 0;
	return io_event(ctx, id, tgid, tid, ret, sk, &a, dir, kind, VIA_TAIL);
}

/* The data event of `ret` bytes moved through `sk` by the current task, with the call's
 * buffers in `a`; `dir`, `kind` and `via` are the caller's constants. */
static __always_inline int io_event(void *ctx, __u64 id, __u32 tgid, __u32 tid, long ret,
				    struct sock *sk, struct io_args *a, __u8 dir, __u8 kind,
				    enum via via)
{
	__u64 base = 0, seg_len = 0, cap, key = (__u64)sk, first = 0;
	__u32 slot = conn_slot_of(sk);
	struct obi_conn *conn;
	struct obi_data_event *e;
	bool start = false, response = false, whole = false;
	__u32 zero = 0;
	struct scratch *sc;

	sc = bpf_map_lookup_elem(&scratch, &zero);
	if (!sc)
		return 0;
	e = &sc->e;
	if (kind != BUF_NONE) {
		if (first_segment(a, sc, &base, &seg_len))
			return 0;
		whole = seg_len >= (__u64)ret;	/* every byte of the call is in this segment */
		if (whole)
			seg_len = ret;
		/* the first bytes, enough to recognise a message start and to be the capture of a
		 * continuation; a start's longer capture reads only the rest */
		first = seg_len < OBI_CAP_CONT ? seg_len : OBI_CAP_CONT;
		if (bpf_probe_read_user(e->data, first, (void *)base))
			first = 0;	/* still counted, not parsed */
		start = first >= 7 && http_start(e->data);
		response = start && e->data[0] == 'H' && e->data[1] == 'T';
	}
	conn = conn_find(key, slot);
	if (!conn) {
		if (!start || !is_tcp(sk))
			return 0;	/* not (yet) an HTTP connection: nothing to say */
		/* the socket's address as a number: a global function refuses a pointer argument */
		__u64 addr = 0;
		int at;

		bpf_probe_read_kernel(&addr, sizeof(addr), &key);
		at = conn_new(addr, slot, tgid);
		if (!at)
			return 0;
		conn = conn_at(at - 1, key);
		if (!conn)
			return 0;
	}

	e->hdr.type = OBI_EV_DATA;
	e->hdr.pid = tgid;
	e->hdr.tid = tid;
	e->hdr.ts_ns = bpf_ktime_get_ns();
	e->sock_id = key;
	e->enter_ns = e->hdr.ts_ns;	/* planned_request() may know better */
	e->rx_total = conn->rx_total;
	e->tx_total = conn->tx_total;
	read_addrs(sk, e);
	e->fd = a->fd;
	e->len = ret;
	e->dir = dir;
	e->flags = (start ? OBI_F_MSG_START : 0) | (kind == BUF_NONE ? OBI_F_SENDFILE : 0);
	e->tail_len = 0;
	if (dir == OBI_DIR_RECV)
		conn->rx_total += ret;
	else
		conn->tx_total += ret;

	cap = !start ? OBI_CAP_CONT : response ? OBI_CAP_START : OBI_CAP_REQUEST;
	if (kind == BUF_NONE)
		cap = 0;
	if (cap > seg_len)
		cap = seg_len;
	if (cap > OBI_CAP_MAX)
		cap = OBI_CAP_MAX;
	if (cap > first) {
		__u64 rest = cap - first;

		if (rest > OBI_CAP_MAX)	/* cap - first < OBI_CAP_MAX, said for the verifier */
			rest = OBI_CAP_MAX;
		if (bpf_probe_read_user(e->data + first, rest, (void *)(base + first)))
			cap = first;
	}
	e->cap_len = cap;
	if (kind != BUF_NONE && whole && (__u64)ret <= cap)
		tail_from_capture(e, ret);	/* the call's last bytes are already here */
	else if (kind != BUF_NONE)
		read_tail(a, sc, base, ret, e);
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

#define EXIT(name, kind, dir, peek)                                   \
	SEC("tracepoint/syscalls/sys_exit_" #name)                    \
	int trace_exit_##name(struct trace_event_raw_sys_exit *ctx) \
	{                                                             \
		return exit_io(ctx, ctx->ret, dir, kind, peek);       \
	}

EXIT(read, BUF_PLAIN, OBI_DIR_RECV, PEEK_NONE)
EXIT(readv, BUF_IOV, OBI_DIR_RECV, PEEK_NONE)
EXIT(recvfrom, BUF_PLAIN, OBI_DIR_RECV, PEEK_ARG4)
EXIT(recvmsg, BUF_MSG, OBI_DIR_RECV, PEEK_ARG3)
EXIT(write, BUF_PLAIN, OBI_DIR_SEND, PEEK_NONE)
EXIT(writev, BUF_IOV, OBI_DIR_SEND, PEEK_NONE)
EXIT(sendto, BUF_PLAIN, OBI_DIR_SEND, PEEK_NONE)
EXIT(sendmsg, BUF_MSG, OBI_DIR_SEND, PEEK_NONE)
/* sendfile(out_fd, in_fd, offset, count): body bytes with no user buffer */
EXIT(sendfile64, BUF_NONE, OBI_DIR_SEND, PEEK_NONE)

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
	server_response(key, conn);	/* a request closed unanswered */
	conn_forget(key, slot);
}

SEC("tracepoint/syscalls/sys_enter_close")
int trace_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	struct obi_conn *conn;
	struct file *file;
	__u32 tgid, tid;
	struct sock *sk;
	__u64 key;

	if (!current_selected(&tgid, &tid))
		return 0;
	file = file_of_fd(ctx->args[0]);
	sk = sock_of_file(file);	/* conn_slots holds TCP sockets only */
	if (!sk || !last_reference(file))
		return 0;
	key = (__u64)sk;
	conn = conn_find(key, conn_slot_of(sk));
	if (conn)
		end_conn(key, conn_slot_of(sk), conn, tgid, tid, ctx->args[0]);
	return 0;
}

static __always_inline void emit_proc(__u8 type, __u32 pid, __u32 ppid, __u16 port, __u8 reason)
{
	struct obi_proc_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count(OBI_CNT_RINGBUF_FULL);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->hdr.type = type;
	e->hdr.pid = pid;
	e->hdr.ts_ns = bpf_ktime_get_ns();
	e->ppid = ppid;
	e->port = port;
	e->reason = reason;
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

static __always_inline void select_pid(__u32 pid, __u32 ppid, __u16 port, __u8 reason)
{
	struct obi_pid_info info = { .reason = reason };

	if (pid == self_pid)
		return;
	if (bpf_map_update_elem(&traced_pids, &pid, &info, BPF_NOEXIST) == 0) {
		pid_bit(pid, true);
		emit_proc(OBI_EV_PROC_NEW, pid, ppid, port, reason);
	}
}

static __always_inline bool port_in(void *map, __u16 port)
{
	__u32 word = port >> 6;
	__u64 *bits = bpf_map_lookup_elem(map, &word);

	return bits && (*bits & (1ULL << (port & 63)));
}

/* listen() on a selected port selects the process before its first accept; on a watched port
 * it is reported for user space to decide (selectors that combine a port with other things). */
static __always_inline void on_listen(__u16 port)
{
	__u32 tgid, tid;

	if (!current_ids(&tgid, &tid) || pid_selected(tgid) || tgid == self_pid)
		return;
	if (port_in(&selected_ports, port))
		select_pid(tgid, 0, port, OBI_SEL_LISTEN);
	else if (port_in(&watched_ports, port))
		emit_proc(OBI_EV_LISTEN, tgid, 0, port, OBI_SEL_LISTEN);
}

SEC("tracepoint/syscalls/sys_enter_listen")
int trace_enter_listen(struct trace_event_raw_sys_enter *ctx)
{
	struct sock *sk = tcp_sock_of_fd(ctx->args[0]);

	if (sk)
		on_listen(sk->__sk_common.skc_num);
	return 0;
}

/*
 * The socket hooks: where the kernel has them (sock:sock_recv_length, sock:sock_send_length
 * and sock:inet_sock_set_state, as tp_btf), the loader uses these three programs instead of
 * the syscall tracepoints above. They run only for socket I/O and TCP state changes, get the
 * socket itself (no walk of the fd table), and leave every task's syscalls off the traced slow
 * path. The call's buffers still come from the syscall's registers, so only the syscalls the
 * exits above know are read; anything else (io_uring, recvmmsg, splice) is left alone.
 */
#define NR_READ 0
#define NR_WRITE 1
#define NR_READV 19
#define NR_WRITEV 20
#define NR_SENDFILE 40
#define NR_SENDTO 44
#define NR_RECVFROM 45
#define NR_SENDMSG 46
#define NR_RECVMSG 47
#define PF_IO_WORKER 0x00000010

/* The current task's syscall registers, or NULL for an io_uring worker (no syscall). */
static __always_inline struct pt_regs *syscall_regs(void)
{
	struct task_struct *task = bpf_get_current_task_btf();

	if (task->flags & PF_IO_WORKER)
		return NULL;
	return (struct pt_regs *)bpf_task_pt_regs(task);
}

#define SOCK_IO(kind_)                                                                  	do {                                                                            		struct io_args a = { .kind = kind_, .fd = regs->di, .buf = regs->si,      				     .count = regs->dx };                                		return io_event(ctx, id, tgid, tid, ret, sk, &a, dir, kind_, VIA_CALL);  	} while (0)

#define TCP_CLOSE 7
#define EAGAIN 11

SEC("tp_btf/sock_recv_length")
int BPF_PROG(obi_sock_recv, struct sock *sk, int ret, int flags)
{
	__u64 id = bpf_get_current_pid_tgid(), key = (__u64)sk;
	const __u8 dir = OBI_DIR_RECV;
	struct obi_conn *conn;
	struct pt_regs *regs;
	__u32 tgid, tid;

	/* conn_slots holds TCP sockets only: a selected process's UDP or unix socket I/O stops
	 * here, before any capture */
	if (!current_selected(&tgid, &tid) || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (ret <= 0) {
		/* end of stream or an error on a connection TCP already ended while the
		 * application still held it (obi_sock_state left it for now): over */
		if (ret != -EAGAIN && sk->__sk_common.skc_state == TCP_CLOSE) {
			conn = conn_find(key, conn_slot_of(sk));
			if (conn)
				end_conn(key, conn_slot_of(sk), conn, tgid, tid, 0);
		}
		return 0;
	}
	/* a MSG_PEEK read leaves the bytes queued: they are counted when really read */
	if (flags & MSG_PEEK)
		return 0;
	regs = syscall_regs();
	if (!regs)
		return 0;
	switch (regs->orig_ax) {
	case NR_READ:
	case NR_RECVFROM:
		SOCK_IO(BUF_PLAIN);
	case NR_READV:
		SOCK_IO(BUF_IOV);
	case NR_RECVMSG:
		SOCK_IO(BUF_MSG);
	}
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(obi_sock_send, struct sock *sk, int ret, int flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	const __u8 dir = OBI_DIR_SEND;
	struct pt_regs *regs;
	__u32 tgid, tid;

	if (!current_selected(&tgid, &tid) || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (ret <= 0) {
		/* a failed send: whatever its sk_msg program planned did not go out whole */
		if (inject_on)
			inject_forget(id);
		return 0;
	}
	regs = syscall_regs();
	if (!regs)
		return 0;
	switch (regs->orig_ax) {
	case NR_WRITE:
	case NR_SENDTO:
		SOCK_IO(BUF_PLAIN);
	case NR_WRITEV:
		SOCK_IO(BUF_IOV);
	case NR_SENDMSG:
		SOCK_IO(BUF_MSG);
	case NR_SENDFILE:
		SOCK_IO(BUF_NONE);
	}
	return 0;
}

#define TCP_FIN_WAIT1 4
#define TCP_LAST_ACK 9
#define TCP_LISTEN 10

/* The application has let go of the socket: orphaned already, or tcp_close() running in the
 * release of its file, whose last reference is gone (file_ref_t: negative once released). */
static __always_inline bool app_released(const struct sock *sk)
{
	struct socket *sock = sk->sk_socket;
	struct file *file;

	if (!sock)
		return true;
	file = sock->file;
	if (!file)
		return true;
	if (bpf_core_field_exists(file->f_ref))
		return file->f_ref.refcnt.counter < 0;
	return ((struct file___f_count *)file)->f_count.counter <= 0;
}

/*
 * A TCP socket starts listening (in the task calling listen()), or its connection ends. It
 * ends for obi when the application has let go of it and TCP moves on (FIN_WAIT1 or LAST_ACK
 * from close(), CLOSE for an abortive close): once per socket, whichever process held the last
 * reference. A connection TCP ends while the application still holds it (a reset, the peer's
 * FIN after our shutdown(SHUT_WR)) may still have bytes to read: it ends at the read that
 * finds the end (obi_sock_recv). A shutdown() alone never ends it.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(obi_sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	struct obi_conn *conn;
	__u64 key = (__u64)sk;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (newstate == TCP_LISTEN) {
		on_listen(sk->__sk_common.skc_num);
		return 0;
	}
	if ((newstate != TCP_CLOSE && newstate != TCP_FIN_WAIT1 && newstate != TCP_LAST_ACK) ||
	    !app_released(sk))
		return 0;
	conn = conn_find(key, conn_slot_of(sk));
	if (conn)
		end_conn(key, conn_slot_of(sk), conn, conn->pid, 0, 0);
	return 0;
}

/*
 * The socket is destroyed: whatever obi still keeps for it ends now. The hooks above end a
 * connection when the application lets go of it; this catches what they cannot see: a socket
 * TCP had already closed when the application closed it (no state change then), and, on the
 * syscall hooks, the sockets a process leaves open when it exits. Loaded with either set.
 */
SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(obi_tcp_destroy, struct sock *sk)
{
	__u64 key = (__u64)sk;
	__u32 slot = conn_slot_of(sk);
	struct obi_conn *conn = conn_find(key, slot);

	if (conn)
		end_conn(key, slot, conn, conn->pid, 0, 0);
	return 0;
}

/* The pid of `task` in obi's PID namespace, or 0 when obi cannot see it. */
static __always_inline __u32 ns_tgid_of(struct task_struct *task, __u32 *ns_inum)
{
	struct pid *pid = BPF_CORE_READ(task, group_leader, thread_pid);

	if (ns_inum) {
		unsigned int level = BPF_CORE_READ(pid, level);
		struct upid up = {};

		bpf_probe_read_kernel(&up, sizeof(up), &pid->numbers[level & 31]);
		*ns_inum = BPF_CORE_READ(up.ns, ns.inum);
	}
	return pid_nr_in_obi_ns(pid);
}

/* Children of selected processes are selected at fork (nginx, haproxy, gunicorn workers), and
 * so is every new process in a selected PID namespace. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(trace_process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ppid, tid, child_pid, ns_inum = 0;

	if (!current_ids(&ppid, &tid))
		return 0;
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid)) {
		/* a new thread of a selected process: remember who created it */
		__u32 child_tid = BPF_CORE_READ(child, pid);
		__u32 parent_tid = (__u32)bpf_get_current_pid_tgid();

		if (pid_selected(ppid))
			bpf_map_update_elem(&thread_parent, &child_tid, &parent_tid, BPF_ANY);
		return 0;
	}
	child_pid = ns_tgid_of(child, want_pidns ? &ns_inum : NULL);
	if (!child_pid)
		return 0;
	if (pid_selected(ppid))
		select_pid(child_pid, ppid, 0, OBI_SEL_FORK);
	else if (want_pidns && bpf_map_lookup_elem(&selected_pidns, &ns_inum))
		select_pid(child_pid, ppid, 0, OBI_SEL_PIDNS);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(trace_process_exec, struct task_struct *task, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	__u32 tgid, tid;

	/* selected processes: user space refreshes what it prints for them; others only matter
	 * to an executable selector */
	if (!current_ids(&tgid, &tid) || (!want_exec && !pid_selected(tgid)))
		return 0;
	emit_proc(OBI_EV_EXEC, tgid, 0, 0, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(trace_process_exit, struct task_struct *task)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid, tid, ktid = (__u32)id;

	if (!current_ids(&tgid, &tid) || !pid_selected(tgid))
		return 0;
	/* every thread of a selected process: forget what was kept for it */
	bpf_map_delete_elem(&thread_parent, &ktid);
	thread_forget(id);
	if (tgid != tid)
		return 0;
	bpf_map_delete_elem(&traced_pids, &tgid);
	pid_bit(tgid, false);
	emit_proc(OBI_EV_PROC_EXIT, tgid, 0, 0, 0);
	return 0;
}
