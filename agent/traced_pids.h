/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * User space's changes to the selection the kernel checks: the traced_pids map, and its copy
 * as one bit per pid (pid_bits, read by every BPF program first) when obi sees the initial
 * PID namespace.
 */
#ifndef OBI_TRACED_PIDS_H
#define OBI_TRACED_PIDS_H

#include <stdint.h>

struct obi_bpf;

struct traced_pids {
	int map_fd;		/* traced_pids */
	uint64_t *bits;		/* pid_bits, mapped; NULL when the kernel does not use it */
};

int traced_pids_open(struct traced_pids *t, struct obi_bpf *skel);
void traced_pids_close(struct traced_pids *t);
int traced_pids_add(struct traced_pids *t, uint32_t pid);
void traced_pids_remove(struct traced_pids *t, uint32_t pid);

#endif /* OBI_TRACED_PIDS_H */
