// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "traced_pids.h"

#include <bpf/bpf.h>

#include "obi.h"

static void changed(struct traced_pids *t)
{
	uint32_t key = 1;

	t->gen++;
	bpf_map_update_elem(t->gen_fd, &key, &t->gen, BPF_ANY);
}

/* 0 or -1 with errno set. */
int traced_pids_add(struct traced_pids *t, uint32_t pid)
{
	struct obi_pid_info info = {};

	if (bpf_map_update_elem(t->pids_fd, &pid, &info, BPF_ANY))
		return -1;
	changed(t);
	return 0;
}

void traced_pids_remove(struct traced_pids *t, uint32_t pid)
{
	if (bpf_map_delete_elem(t->pids_fd, &pid) == 0)
		changed(t);
}
