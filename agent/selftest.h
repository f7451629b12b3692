/* SPDX-License-Identifier: Apache-2.0 */
/* The start-up self-test that proves traceparent injection harmless before it is used. */
#ifndef OBI_SELFTEST_H
#define OBI_SELFTEST_H

#include <sys/types.h>

#include "traced_pids.h"

/*
 * Runs the injection self-test in a child process selected through traced_pids_fd (its pid is
 * stored in *child so its events can be ignored). `ready`, when set, is called with the
 * child's pid before the child opens its connection (to let injection reach it). Returns 0
 * when every check passed, otherwise -errno with *why naming the check that failed. Takes
 * about 0.1 s when it passes.
 */
int selftest_injection(struct traced_pids *pids, pid_t *child, void (*ready)(pid_t, void *),
		       void *arg, const char **why);

#endif /* OBI_SELFTEST_H */
