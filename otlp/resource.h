/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One instrumented process as an OTLP resource. Queued spans and metric series point at it; it
 * lives while any of them does (reference count, guarded by the exporter's lock). Its fields
 * never change after creation: a process that exec()s gets a new resource.
 */
#ifndef OBI_OTLP_RESOURCE_H
#define OBI_OTLP_RESOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/procinfo.h"

struct otlp_resource {
	uint32_t pid;
	unsigned refs;
	bool exited;	  /* the process is gone: its metric series expire after the TTL */
	uint64_t exit_ns; /* CLOCK_MONOTONIC time it was seen gone */
	char service_name[128];
	char language[16];
	char exe[512]; /* full path, "" when unknown */
	char comm[64]; /* executable name */
	char container_id[65]; /* "" outside a container */
};

/* A resource for pi with one reference, or NULL when out of memory. */
struct otlp_resource *otlp_resource_new(const struct proc_info *pi);
void otlp_resource_get(struct otlp_resource *r);
/* Drops one reference; frees at zero. NULL is ignored. */
void otlp_resource_put(struct otlp_resource *r);
/* True when r still describes the process pi describes (same service, executable, language). */
bool otlp_resource_matches(const struct otlp_resource *r, const struct proc_info *pi);

#endif /* OBI_OTLP_RESOURCE_H */
