/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maps shared by every obi BPF program, and the pid filter every program starts with. */
#ifndef OBI_MAPS_BPF_H
#define OBI_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "obi.h"
#include "head.bpf.h"

/*
 * A map or setting more than one unit uses is written once, in a header: data.bpf.c defines it
 * (OBI_DEFINE_SHARED), the other units see an identical extern declaration, and linking the
 * units into one object (bpftool gen object) resolves each to the one definition. OBI_MAP is
 * the maps section spelt out: in this folder's headers SEC() marks nothing but programs.
 */
#ifdef OBI_DEFINE_SHARED
#define OBI_SHARED
#define OBI_MAP __attribute__((section(".maps"), used))
#else
#define OBI_SHARED extern
#define OBI_MAP	   __attribute__((section(".maps")))
#endif

/* Set by the loader before load (rodata). */
OBI_SHARED const volatile __u64 pidns_ino;    /* obi's PID namespace: inode of /proc/self/ns/pid */
OBI_SHARED const volatile __u8 pidns_initial; /* obi runs in the initial PID namespace */
OBI_SHARED const volatile __u32 self_pid;     /* obi itself, never selected */
OBI_SHARED const volatile __u8 want_pidns;    /* a PID-namespace selector is configured */
OBI_SHARED const volatile __u8 want_exec;     /* an executable selector is configured */
/* OTEL_TRACES_SAMPLER, as core/sampling.h's struct sampling: how a span's sampled flag is set */
OBI_SHARED const volatile __u8 sample_root;	     /* OBI_SAMPLE_ROOT_* */
OBI_SHARED const volatile __u8 sample_ignore_parent; /* the sampler is not parent-based */
OBI_SHARED const volatile __u64 sample_bound;	     /* of OBI_SAMPLE_ROOT_RATIO */

OBI_SHARED struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tgid in obi's PID namespace */
	__type(value, struct obi_pid_info);
} traced_pids OBI_MAP;

/*
 * traced_pids again, as one bit per pid, kept only when obi sees the initial PID namespace
 * (its pids are then the kernel's): the first check of every program is an array load and a
 * bit test instead of a hash lookup. Written by both sides with atomic or/and (user space
 * through an mmap of the map).
 */
OBI_SHARED struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, OBI_PID_WORDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} pid_bits OBI_MAP;

/* One bit per TCP port: listening on a set port selects the process. */
OBI_SHARED struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, OBI_PORT_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} selected_ports OBI_MAP;

/* One bit per TCP port whose listeners user space must judge (a selector that also names an
 * executable, pid or namespace): listen() on one is reported, not selected. */
OBI_SHARED struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, OBI_PORT_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} watched_ports OBI_MAP;

/* PID-namespace inodes whose processes are all selected. */
OBI_SHARED struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u8);
} selected_pidns OBI_MAP;

/*
 * The state of sockets that have carried HTTP (struct obi_conn): an open-addressed table, each
 * connection in the first slot it found free among OBI_CONN_PROBE from its home slot (a hash
 * of the socket's address), owned by one socket at a time. Finding a connection is an inlined
 * array load or a few; a hash-map lookup costs about 100 ns more on a syscall's first touch
 * (bench/cost/README.md, "Where a run's time goes"), and every data event of a selected
 * process makes one. One map, so the verifier sees one kind of pointer to a connection's state.
 */
#define OBI_CONN_SLOT_BITS 15
#define OBI_CONN_SLOTS	   (1 << OBI_CONN_SLOT_BITS)
#define OBI_CONN_PROBE	   8

struct conn_slot {
	__u64 sk; /* the owning socket (struct sock address); 0 = free */
	struct obi_conn c;
};

OBI_SHARED struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, OBI_CONN_SLOTS);
	__type(key, __u32);
	__type(value, struct conn_slot);
} conn_slots OBI_MAP;

OBI_SHARED struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events OBI_MAP;

/* What a program hands to the program it tail-calls (see `tails` in data.bpf.h). */
struct handoff {
	__u64 id;   /* bpf_get_current_pid_tgid() */
	__u64 sk;   /* struct sock address */
	__u32 slot; /* its conn_slots index */
	__u32 _pad;
};

#define OBI_MAX_IOV 8

/* A vectored call's first iovecs, read once by the exit program. */
struct user_iov {
	__u64 base;
	__u64 len;
};

/* Per-CPU room to assemble a data event before it is copied to the ring buffer; the slack
 * lets head scans read a few bytes past the data without a bounds check per byte. */
struct scratch {
	struct obi_data_event e;
	/* also room for a capture read in two parts: OBI_CAP_CONT bytes, then up to
	 * OBI_CAP_MAX more (the verifier cannot relate the two lengths) */
	__u8 slack[OBI_CAP_CONT];
	/* results of a head scan live here, not on the stack: the verifier then sees them as
	 * plain numbers and the scan loop converges after one pass */
	struct head_scan scan;
	struct handoff h;
	struct user_iov iov[OBI_MAX_IOV];
};

OBI_SHARED struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch OBI_MAP;

OBI_SHARED struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OBI_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters OBI_MAP;

static __always_inline void count(enum obi_counter c)
{
	__u32 key = c;
	__u64 *v = bpf_map_lookup_elem(&counters, &key);

	if (v)
		*v += 1;
}

#define MAX_PIDNS_DEPTH 8

/*
 * The number of `pid` in obi's PID namespace, or 0 when that namespace cannot see it. obi's
 * depth is not known to itself inside a container (its /proc shows no ancestors), so the
 * levels of `pid` are searched for obi's namespace.
 */
static __always_inline __u32 pid_nr_in_obi_ns(struct pid *pid)
{
	unsigned int level = BPF_CORE_READ(pid, level);

	if (pidns_initial)
		return BPF_CORE_READ(pid, numbers[0].nr);
	for (unsigned int i = 0; i < MAX_PIDNS_DEPTH && i <= level; i++) {
		struct upid up = {};

		bpf_probe_read_kernel(&up, sizeof(up), &pid->numbers[i]);
		if (BPF_CORE_READ(up.ns, ns.inum) == pidns_ino)
			return up.nr;
	}
	return 0;
}

/*
 * The current task's tgid and tid as obi's /proc shows them; false if obi cannot see it.
 * (bpf_get_ns_current_pid_tgid() would only answer for tasks whose own namespace is obi's,
 * not for those in containers below it.)
 */
static __always_inline bool current_ids(__u32 *tgid, __u32 *tid)
{
	struct task_struct *task;

	if (pidns_initial) {
		/* obi sees the initial namespace: the kernel's ids are its ids */
		__u64 id = bpf_get_current_pid_tgid();

		*tgid = id >> 32;
		*tid = (__u32)id;
		return true;
	}
	task = (struct task_struct *)bpf_get_current_task();
	*tid = pid_nr_in_obi_ns(BPF_CORE_READ(task, thread_pid));
	*tgid = pid_nr_in_obi_ns(BPF_CORE_READ(task, group_leader, thread_pid));
	return *tgid && *tid;
}

/* The benchmark floor (CMake OBI_BENCH_FLOOR): data programs stop right after their pid
 * filter, the verifier drops the rest. */
#ifndef OBI_FLOOR
#define OBI_FLOOR 0
#endif

static __always_inline bool pid_selected(__u32 tgid)
{
	return bpf_map_lookup_elem(&traced_pids, &tgid) != NULL;
}

/* Keeps pid_bits in step with traced_pids (pid in obi's namespace, so the kernel's here). */
static __always_inline void pid_bit(__u32 pid, bool on)
{
	__u32 word = pid / 64;
	__u64 *bits, bit = 1ULL << (pid % 64);

	if (!pidns_initial || word >= OBI_PID_WORDS)
		return;
	bits = bpf_map_lookup_elem(&pid_bits, &word);
	if (!bits)
		return;
	if (on)
		__sync_fetch_and_or(bits, bit);
	else
		__sync_fetch_and_and(bits, ~bit);
}

/* The current task's ids (current_ids) when its process is selected. */
static __always_inline bool current_selected(__u32 *tgid, __u32 *tid)
{
	if (pidns_initial) {
		__u64 id = bpf_get_current_pid_tgid(), *bits;
		__u32 word = (id >> 32) / 64;

		*tgid = id >> 32;
		*tid = (__u32)id;
		bits = bpf_map_lookup_elem(&pid_bits, &word);
		return bits && (*bits >> (*tgid % 64)) & 1;
	}
	return current_ids(tgid, tid) && pid_selected(*tgid);
}

static __always_inline struct conn_slot *conn_slot_at(__u32 home, __u32 i)
{
	__u32 k = (home + i) & (OBI_CONN_SLOTS - 1);

	return bpf_map_lookup_elem(&conn_slots, &k);
}

/* The state of connection `key`, whose home slot is `home`, or NULL if obi has none. Every
 * slot of the window is looked at: a slot freed before it does not end the search. */
static __always_inline struct obi_conn *conn_find(__u64 key, __u32 home)
{
	for (__u32 i = 0; i < OBI_CONN_PROBE; i++) {
		struct conn_slot *s = conn_slot_at(home, i);

		if (s && s->sk == key)
			return &s->c;
	}
	return NULL;
}

/* New state for connection `key` of process `pid`: the first free slot of its window, else
 * one held by a process that is no longer selected (it exited before obi saw its sockets end).
 * Returns the slot's index + 1, or 0 (counted) when every slot of the window holds a live
 * connection. A global function: the verifier checks it once, not inside every data program's
 * paths (and its result is a number, so the caller looks the slot up again: conn_at). */
int conn_new(__u64 key, __u32 home, __u32 pid);

/* The state in slot `index` if connection `key` owns it, else NULL. */
static __always_inline struct obi_conn *conn_at(__u32 index, __u64 key)
{
	struct conn_slot *s = bpf_map_lookup_elem(&conn_slots, &index);

	return s && s->sk == key ? &s->c : NULL;
}

/* Connection `key` is over: its slot is free again (every one it holds: two CPUs may have
 * claimed one each for its first bytes). */
static __always_inline void conn_forget(__u64 key, __u32 home)
{
	for (__u32 i = 0; i < OBI_CONN_PROBE; i++) {
		struct conn_slot *s = conn_slot_at(home, i);

		if (s && s->sk == key)
			__sync_val_compare_and_swap(&s->sk, key, 0);
	}
}

/* Ring buffer wake-ups are batched: user space polls every few ms; wake it only when the
 * buffer is filling up. */
static __always_inline __u64 wakeup_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > (1 << 20) ? BPF_RB_FORCE_WAKEUP
									 : BPF_RB_NO_WAKEUP;
}

#endif /* OBI_MAPS_BPF_H */
