/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which processes are instrumented, decided from what is known of a process — pure functions,
 * no /proc here (discovery.c gathers the facts). OBI's rules: a process is selected when it
 * matches any instrument entry (entries are ORed), matching an entry means matching every
 * criterion it sets (ANDed), and no exclude_instrument or default_exclude_instrument entry
 * matches it. The environment's and flags' selectors (OTEL_EBPF_OPEN_PORT, _TARGET_PID,
 * _AUTO_TARGET_EXE, _TARGET_PID_NAMESPACE) are one entry each, so they are ORed as always.
 */
#ifndef OBI_SELECTOR_H
#define OBI_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct proc_facts {
	uint32_t pid;
	const char *exe;		/* full executable path; NULL when unknown */
	uint64_t pidns;			/* inode of its PID namespace; 0 when unknown */
	bool in_container;		/* in another network namespace than obi */
	const uint16_t *ports;		/* TCP ports it listens on */
	size_t n_ports;
};

/* One entry, wherever it comes from. A NULL / zero criterion is not a criterion. */
struct selector_view {
	const struct port_set *ports;
	const uint32_t *pids;
	size_t n_pids;
	const uint64_t *pidns;
	size_t n_pidns;
	const char *exe;
	bool containers_only;
	const char *name;		/* service name for what it selects; NULL: none */
	char reason[48];		/* "instrument[0]", "open-port", "exclude_instrument[1]" */
};

enum selector_which {
	SELECTOR_INSTRUMENT,		/* discovery.instrument, then the environment's selectors */
	SELECTOR_EXCLUDE,		/* exclude_instrument, then default_exclude_instrument */
};

size_t selector_count(const struct obi_config *cfg, enum selector_which which);
void selector_get(const struct obi_config *cfg, enum selector_which which, size_t i,
		  struct selector_view *v);

/* fnmatch(3) without flags (so '*' crosses '/'), plus OBI's {a,b} alternatives. */
bool selector_glob(const char *pattern, const char *s);

bool selector_matches(const struct selector_view *v, const struct proc_facts *f);

enum selector_verdict {
	SELECTOR_NONE,			/* no instrument entry matches */
	SELECTOR_SELECTED,		/* *by: the first instrument entry that matches */
	SELECTOR_EXCLUDED,		/* an entry matches, but *by: an exclude entry matches too */
};
enum selector_verdict selector_decide(const struct obi_config *cfg, const struct proc_facts *f,
				      struct selector_view *by);

/* True (and *by set) when an exclude entry matches: for processes the kernel selected. */
bool selector_excluded(const struct obi_config *cfg, const struct proc_facts *f,
		       struct selector_view *by);

/*
 * What the kernel does alone. listen() on select_ports selects at once (entries with only
 * open_ports), on watch_ports it is reported for selector_decide (open_ports with more
 * criteria); fork into one of pidns selects (entries with only target_pid_namespaces); exec is
 * reported when want_exec (an entry with exe_path or containers_only).
 */
struct selector_kernel {
	struct port_set select_ports;
	struct port_set watch_ports;
	uint64_t pidns[CONFIG_MAX_PIDNS];
	size_t n_pidns;
	bool want_exec;
};
void selector_kernel_plan(const struct obi_config *cfg, struct selector_kernel *k);

/* Which facts matter to some entry. */
struct selector_needs {
	bool exe, pidns, container, ports;
	struct port_set ports_of_interest;	/* every port named by any entry */
};
void selector_needs(const struct obi_config *cfg, struct selector_needs *n);

#endif /* OBI_SELECTOR_H */
