/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Selecting processes in the kernel: at fork, in a selected PID namespace, or on listen() on a
 * selected port (sched.bpf.c, syscalls.bpf.c, sockets.bpf.c). Emits obi_proc_event records.
 */
#ifndef OBI_SELECT_BPF_H
#define OBI_SELECT_BPF_H

#include "maps.bpf.h"

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
	struct obi_pid_info info = {.reason = reason};

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

#endif /* OBI_SELECT_BPF_H */
