// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "traced_pids.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <sys/mman.h>

#include "obi.skel.h"
#include "ebpf/obi.h"

#define BITS_SIZE ((size_t)OBI_PID_WORDS * sizeof(uint64_t))

/* 0 or a negative errno. */
int traced_pids_open(struct traced_pids *t, struct obi_bpf *skel)
{
	void *bits;

	t->map_fd = bpf_map__fd(skel->maps.traced_pids);
	t->bits = NULL;
	if (!skel->rodata->pidns_initial)
		return 0;	/* the kernel checks traced_pids itself */
	bits = mmap(NULL, BITS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		    bpf_map__fd(skel->maps.pid_bits), 0);
	if (bits == MAP_FAILED)
		return -errno;
	t->bits = bits;
	return 0;
}

void traced_pids_close(struct traced_pids *t)
{
	if (t->bits)
		munmap(t->bits, BITS_SIZE);
	t->bits = NULL;
}

/* 0 or -1 with errno set. The map first, then the bit: whoever sees the bit finds the entry. */
int traced_pids_add(struct traced_pids *t, uint32_t pid)
{
	struct obi_pid_info info = {};

	if (bpf_map_update_elem(t->map_fd, &pid, &info, BPF_ANY))
		return -1;
	if (t->bits && pid / 64 < OBI_PID_WORDS)
		__atomic_fetch_or(&t->bits[pid / 64], 1ULL << (pid % 64), __ATOMIC_SEQ_CST);
	return 0;
}

void traced_pids_remove(struct traced_pids *t, uint32_t pid)
{
	if (t->bits && pid / 64 < OBI_PID_WORDS)
		__atomic_fetch_and(&t->bits[pid / 64], ~(1ULL << (pid % 64)), __ATOMIC_SEQ_CST);
	bpf_map_delete_elem(t->map_fd, &pid);
}
