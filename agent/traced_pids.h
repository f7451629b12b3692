/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * User space's side of the kernel's traced_pids map. Threads cache in the kernel whether their
 * process is selected; every change made here bumps the user-space half of sel_gen so that
 * they ask again.
 */
#ifndef OBI_TRACED_PIDS_H
#define OBI_TRACED_PIDS_H

#include <stdint.h>

struct traced_pids {
	int pids_fd;		/* traced_pids */
	int gen_fd;		/* sel_gen */
	uint32_t gen;		/* sel_gen[1], written by user space only */
};

int traced_pids_add(struct traced_pids *t, uint32_t pid);
void traced_pids_remove(struct traced_pids *t, uint32_t pid);

#endif /* OBI_TRACED_PIDS_H */
