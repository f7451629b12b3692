/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Prometheus scrape endpoint: libmicrohttpd serving GET and HEAD of one path from a thread
 * of its own, each scrape a snapshot of the exporter's metrics rendered by prometheus.c in the
 * format the Accept header asks for. Bounded: a few connections, small requests, idle
 * connections closed after a timeout. The event loop never waits on it beyond the snapshot's
 * short lock.
 */
#ifndef OBI_OTLP_PROM_SERVER_H
#define OBI_OTLP_PROM_SERVER_H

#include <stdint.h>

#include "exporter.h"

#define OTLP_PROM_PATH_MAX 256

struct otlp_prom_options {
	uint16_t port;	     /* 0: no endpoint */
	const char *path;    /* e.g. "/metrics" */
	const char *address; /* an IPv4 or IPv6 literal; NULL or "": every interface */
};

struct otlp_prom_server;

/* Listens and serves ex's metrics (ex records them: metrics_pull). *out stays NULL when
 * opts->port is 0. Returns 0 or -errno (logged: the port is taken, a bad address). */
int otlp_prom_server_start(const struct otlp_prom_options *opts, struct otlp_exporter *ex,
			   struct otlp_prom_server **out);

/* Stops the thread, logs a summary line, frees. srv may be NULL. */
void otlp_prom_server_stop(struct otlp_prom_server *srv);

#endif /* OBI_OTLP_PROM_SERVER_H */
