// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The socket hook set, as tp_btf: sock_recv_length and sock_send_length (obi_data_event),
 * inet_sock_set_state (a listen, obi_proc_event; a connection's end, obi_close_event), and
 * tcp_destroy_sock (obi_close_event, loaded with either hook set).
 */
#include "vmlinux.h"
#include <bpf/bpf_tracing.h>

#include "data.bpf.h"
#include "select.bpf.h"

/*
 * Where the kernel has them, the loader uses these programs instead of the syscall exits.
 * They run only for socket I/O and TCP state changes, get the socket itself (no walk of the fd
 * table), and leave every task's syscalls off the traced slow path. The call's buffers still
 * come from the syscall's registers, so only the syscalls the exits know are read; anything
 * else (io_uring, recvmmsg, splice) is left alone.
 */
#define NR_READ	     0
#define NR_WRITE     1
#define NR_READV     19
#define NR_WRITEV    20
#define NR_SENDFILE  40
#define NR_SENDTO    44
#define NR_RECVFROM  45
#define NR_SENDMSG   46
#define NR_RECVMSG   47
#define PF_IO_WORKER 0x00000010

/* The current task's syscall registers, or NULL for an io_uring worker (no syscall). */
static __always_inline struct pt_regs *syscall_regs(void)
{
	struct task_struct *task = bpf_get_current_task_btf();

	if (task->flags & PF_IO_WORKER)
		return NULL;
	return (struct pt_regs *)bpf_task_pt_regs(task);
}

#define SOCK_IO(kind_)                                                                             \
	do {                                                                                       \
		struct io_args a = {                                                               \
		    .kind = kind_, .fd = regs->di, .buf = regs->si, .count = regs->dx};            \
		return io_event(ctx, id, tgid, tid, ret, sk, &a, dir, kind_, VIA_CALL);            \
	} while (0)

#define TCP_CLOSE 7
#define EAGAIN	  11

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
	if (!current_selected(&tgid, &tid) || sk->sk_protocol != IPPROTO_TCP || OBI_FLOOR)
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

	if (!current_selected(&tgid, &tid) || sk->sk_protocol != IPPROTO_TCP || OBI_FLOOR)
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
#define TCP_LAST_ACK  9
#define TCP_LISTEN    10

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
