/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which processes are instrumented: the start-up scan of /proc (listening ports per network
 * namespace, pids, executables, PID namespaces), the processes the kernel selected by itself
 * (listen, fork) or reported (listen on a watched port, exec), and forgetting the ones that
 * exit. The rules are selector.h's; this file gathers the facts from /proc and keeps the
 * traced_pids map in step.
 */
#ifndef OBI_DISCOVERY_H
#define OBI_DISCOVERY_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "ebpf/obi.h"
#include "core/procinfo.h"
#include "traced_pids.h"

struct discovery;

/* traced_pids_fd: the BPF map of selected tgids. */
struct discovery *discovery_new(const struct obi_config *cfg, struct traced_pids *pids);
void discovery_free(struct discovery *d);

/* Selects every running process that matches a selector. Returns how many, or -errno. */
int discovery_scan(struct discovery *d);

/* Selects one pid from user space (demo, tests); logs it like the scan does. */
int discovery_select(struct discovery *d, uint32_t pid, const char *why);

void discovery_on_proc_new(struct discovery *d, const struct obi_proc_event *e);
void discovery_on_listen(struct discovery *d, uint32_t pid, uint16_t port);
void discovery_on_exec(struct discovery *d, uint32_t pid);
void discovery_on_exit(struct discovery *d, uint32_t pid);

/* False for a pid an exclude entry took out: its remaining events are not spans. */
bool discovery_traced(struct discovery *d, uint32_t pid);

/* Forgets excluded processes that are gone; call now and then. */
void discovery_sweep(struct discovery *d);

/* What is known of a selected pid (read from /proc on first use); never NULL. */
const struct proc_info *discovery_proc(struct discovery *d, uint32_t pid);

/* Number of processes instrumented now. */
unsigned discovery_count(const struct discovery *d);

#endif /* OBI_DISCOVERY_H */
