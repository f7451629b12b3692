/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maps shared by every obi BPF program, and the pid filter every program starts with. */
#ifndef OBI_MAPS_BPF_H
#define OBI_MAPS_BPF_H

#include "obi.h"

/* Set by the loader before load (rodata). */
const volatile __u64 pidns_dev;		/* obi's PID namespace: st_dev of /proc/self/ns/pid */
const volatile __u64 pidns_ino;		/* ... and its inode */
const volatile __u32 pidns_level;	/* depth of obi's PID namespace (0 = initial) */
const volatile __u32 self_pid;		/* obi itself, never selected */
const volatile __u8 want_pidns;		/* a PID-namespace selector is configured */
const volatile __u8 want_exec;		/* an executable selector is configured */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);			/* tgid in obi's PID namespace */
	__type(value, struct obi_pid_info);
} traced_pids SEC(".maps");

/* One bit per TCP port: listening on a set port selects the process. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, OBI_PORT_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} selected_ports SEC(".maps");

/* PID-namespace inodes whose processes are all selected. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u8);
} selected_pidns SEC(".maps");

/* Byte counters of sockets that have carried HTTP, keyed by struct sock address. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, __u64);
	__type(value, struct obi_conn);
} conn_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

/* Per-CPU room to assemble a data event before it is copied to the ring buffer. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct obi_data_event);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OBI_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(enum obi_counter c)
{
	__u32 key = c;
	__u64 *v = bpf_map_lookup_elem(&counters, &key);

	if (v)
		*v += 1;
}

/* The current task's tgid and tid as obi's /proc shows them; false if not visible to obi. */
static __always_inline bool current_ids(__u32 *tgid, __u32 *tid)
{
	struct bpf_pidns_info ns = {};

	if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)))
		return false;
	*tgid = ns.tgid;
	*tid = ns.pid;
	return true;
}

static __always_inline bool pid_selected(__u32 tgid)
{
	return bpf_map_lookup_elem(&traced_pids, &tgid) != NULL;
}

/* Ring buffer wake-ups are batched: user space polls every few ms; wake it only when the
 * buffer is filling up. */
static __always_inline __u64 wakeup_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > (1 << 20) ? BPF_RB_FORCE_WAKEUP
									  : BPF_RB_NO_WAKEUP;
}

#endif /* OBI_MAPS_BPF_H */
