/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The demo obi runs when no process is selected: a backend behind a proxy (python3) and a
 * client loop, so a first run shows real traces at once.
 */
#ifndef OBI_DEMO_H
#define OBI_DEMO_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"

struct demo {
	pid_t backend, proxy, client;
	uint16_t backend_port, proxy_port;
};

/* Picks free ports for the demo services and selects them in cfg (OTEL_EBPF_OPEN_PORT). */
int demo_prepare(struct demo *d, struct obi_config *cfg);
/* Starts the services (after the BPF programs are attached, so they are traced from their
 * first request). Returns 0 or -errno. */
int demo_start(struct demo *d);
void demo_stop(struct demo *d);

#endif /* OBI_DEMO_H */
