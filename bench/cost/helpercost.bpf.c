// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What one operation costs inside a tracepoint program on this kernel: the program on
 * sys_exit_getppid does `mode`'s operation 16 times for the pid in cfg[0]; helpercost.c
 * compares run_time_ns per run with mode 0 (the loop alone). Mode 0's own cost is the floor
 * every program run pays with kernel.bpf_stats_enabled=1.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define REPEAT 16
#define KEY 0xffff888812345600ULL

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);		/* [0] pid, [1] mode */
	__type(key, __u32);
	__type(value, __u64);
} cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, __u64);
	__type(value, __u64[5]);
} lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, __u64);
	__type(value, __u64[5]);
} hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 32768);
	__type(key, __u32);
	__type(value, __u64[5]);
} array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[4096]);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64[5]);
} task_store SEC(".maps");

/* helpercost.c maps a page of its own here, for the user copies */
#define USER_PAGE 0x7ffff0000000ULL

SEC("tracepoint/syscalls/sys_exit_getppid")
int helpercost(void *ctx)
{
	__u32 zero = 0, one = 1;
	__u64 *pid = bpf_map_lookup_elem(&cfg, &zero), *mode = bpf_map_lookup_elem(&cfg, &one);
	__u64 key = KEY, acc = 0, m;

	if (!pid || !mode || bpf_get_current_pid_tgid() >> 32 != *pid)
		return 0;
	m = *mode;
	for (int i = 0; i < REPEAT; i++) {
		__u8 *s = bpf_map_lookup_elem(&scratch, &zero);
		__u64 *v = NULL;
		__u32 k = i * 977;

		barrier_var(i);
		switch (m) {
		case 1: acc += bpf_get_current_pid_tgid(); break;
		case 2: v = bpf_map_lookup_elem(&lru, &key); break;
		case 3: v = bpf_map_lookup_elem(&hash, &key); break;
		case 4: v = bpf_map_lookup_elem(&array, &k); break;
		case 5: if (s) acc += s[0]; break;
		case 6: if (s) bpf_probe_read_user(s, 64, (void *)USER_PAGE); break;
		case 7: acc += bpf_ktime_get_ns(); break;
		case 8: if (s) bpf_ringbuf_output(&ring, s, 200, BPF_RB_NO_WAKEUP); break;
		case 9: acc += bpf_get_prandom_u32(); break;
		case 10: v = bpf_task_storage_get(&task_store, bpf_get_current_task_btf(), 0,
						  BPF_LOCAL_STORAGE_GET_F_CREATE); break;
		case 11: bpf_probe_read_kernel(&acc, 8, (void *)bpf_get_current_task()); break;
		}
		if (v)
			acc += v[0];
	}
	if (acc == 1)
		bpf_printk("helpercost: never mind");	/* keeps acc alive */
	return 0;
}
