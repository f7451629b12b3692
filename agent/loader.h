/* SPDX-License-Identifier: Apache-2.0 */
/* Brings obi's BPF programs up: tracefs, open, configure, load, attach; and down again. */
#ifndef OBI_LOADER_H
#define OBI_LOADER_H

#include "config.h"

struct obi_bpf;

/* Returns 0 and the attached skeleton in *out, or -errno after logging what failed. */
int loader_start(const struct obi_config *cfg, struct obi_bpf **out);
void loader_stop(struct obi_bpf *skel);

/*
 * traceparent injection: attaches sk_msg and the pass-through stream verdict to sock_hash
 * (pinned in bpffs, so connections in it keep working when obi dies), then sock_ops to the
 * cgroup v2 root. Returns 0 or -errno after logging why.
 */
int loader_injection_on(struct obi_bpf *skel);
/* Stops injecting at once (sk_msg passes everything) and stops adding sockets. */
void loader_injection_off(struct obi_bpf *skel);

/* Which selected processes get traceparent: only_pid (the start-up self-test's child) or, with
 * 0, all of them. loader_injection_on() starts with none. */
void loader_injection_scope(struct obi_bpf *skel, uint32_t only_pid);

/* Sums the per-CPU kernel counters (enum obi_counter) into out[OBI_CNT_MAX]. */
int loader_read_counters(struct obi_bpf *skel, unsigned long long *out);

#endif /* OBI_LOADER_H */
