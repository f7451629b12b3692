// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The syscall hook set: sys_exit_* of the read and write families and sendfile, whose calls on
 * sockets become obi_data_event records; sys_enter_close (obi_close_event) and sys_enter_listen
 * (obi_proc_event); and plan_request / emit_request, the tail-called heavy halves of the exits.
 */
#include "vmlinux.h"

#include "data.bpf.h"
#include "select.bpf.h"

#define S_IFMT	 00170000
#define S_IFSOCK 0140000

/* Kernel objects are read with plain loads through typed pointers (the verifier turns them
 * into fault-safe loads), not with one bpf_probe_read_kernel() call per field. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define KERNEL_PTR(type, p)                                                                        \
	((type *)bpf_rdonly_cast((const void *)(p), bpf_core_type_id_kernel(type)))

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

/* Closing fd drops the last reference to its file (not a dup'ed fd, not a copy a forked
 * child still holds): the connection really ends. */
static __always_inline bool last_reference(struct file *file)
{
	if (bpf_core_field_exists(file->f_ref))
		return file->f_ref.refcnt.counter <= 0; /* file_ref_t: 0 = one reference */
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

static __always_inline struct sock *tcp_sock_of_fd(int fd)
{
	struct sock *sk = sock_of_file(file_of_fd(fd));

	return sk && is_tcp(sk) ? sk : NULL;
}

/*
 * sys_exit_*: emit the call as a data event if it carries HTTP, and count its bytes. The
 * arguments come from the registers the syscall entry saved (x86-64: rdi, rsi, rdx, r10),
 * which the read and write families leave as they were: no syscall has an enter program. A
 * client request's span start and ids come from the sk_msg program that ran inside the send
 * (inject.bpf.c); without one (injection off, a connection opened before obi) the request is
 * planned here, and its span starts when the send returns.
 */
enum peek_arg {
	PEEK_NONE, /* read, readv, writes */
	PEEK_ARG3, /* recvmsg(fd, msg, flags) */
	PEEK_ARG4, /* recvfrom(fd, buf, len, flags, ...) */
};

static __always_inline int exit_io(void *ctx, long ret, __u8 dir, __u8 kind, enum peek_arg peek)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct task_struct *task = bpf_get_current_task_btf();
	struct io_args a = {.kind = kind};
	__u32 tgid, tid;
	struct pt_regs *regs;
	struct sock *sk;

	if (!current_selected(&tgid, &tid) || OBI_FLOOR)
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

#define EXIT(name, kind, dir, peek)                                                                \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                                 \
	int trace_exit_##name(struct trace_event_raw_sys_exit *ctx)                                \
	{                                                                                          \
		return exit_io(ctx, ctx->ret, dir, kind, peek);                                    \
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

/* The heavy halves the exits tail-call through `tails` (the loader fills it, enum obi_tail). */
SEC("tracepoint")
int plan_request(void *ctx)
{
	return plan_request_fn();
}

SEC("tracepoint")
int emit_request(void *ctx)
{
	return emit_request_fn();
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
	sk = sock_of_file(file); /* conn_slots holds TCP sockets only */
	if (!sk || !last_reference(file))
		return 0;
	key = (__u64)sk;
	conn = conn_find(key, conn_slot_of(sk));
	if (conn)
		end_conn(key, conn_slot_of(sk), conn, tgid, tid, ctx->args[0]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_listen")
int trace_enter_listen(struct trace_event_raw_sys_enter *ctx)
{
	struct sock *sk = tcp_sock_of_fd(ctx->args[0]);

	if (sk)
		on_listen(sk->__sk_common.skc_num);
	return 0;
}
