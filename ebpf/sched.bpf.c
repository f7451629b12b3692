// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The sched tp_btf hooks that keep the selection of processes: sched_process_fork and
 * sched_process_exec, sched_process_exit. Emit obi_proc_event records.
 */
#include "vmlinux.h"
#include <bpf/bpf_tracing.h>

#include "select.bpf.h"
#include "tracectx.bpf.h"

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
int BPF_PROG(trace_process_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
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
