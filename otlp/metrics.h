/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RED metrics as OpenTelemetry explicit-bucket histograms with cumulative temporality.
 * HTTP: one series per process (resource), span kind and attribute set (method, status, route,
 * and the server address and port for clients) holds three histograms: request duration,
 * request body size and response body size. Databases: one series per process and client
 * attribute set (system, operation, collection, error type, server address and port) holds
 * the operation duration. The number of series is capped: what would exceed the cap
 * is dropped and counted. Not thread-safe: the exporter calls it under its lock.
 */
#ifndef OBI_OTLP_METRICS_H
#define OBI_OTLP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "resource.h"
#include "core/span.h"

#define OTLP_DURATION_BOUNDS	15 /* seconds */
#define OTLP_DB_DURATION_BOUNDS 9 /* seconds */
#define OTLP_SIZE_BOUNDS	10 /* bytes */
#define OTLP_MAX_BUCKETS	(OTLP_DURATION_BOUNDS + 1)
#define OTLP_METRICS_MAX_SERIES 4096

extern const double otlp_duration_bounds[OTLP_DURATION_BOUNDS];
extern const double otlp_size_bounds[OTLP_SIZE_BOUNDS];
extern const double otlp_db_duration_bounds[OTLP_DB_DURATION_BOUNDS];

/* Which metrics a series belongs to. */
enum otlp_family {
	OTLP_FAMILY_HTTP = 0,	/* http.{server,client}.* */
	OTLP_FAMILY_DB,		/* db.client.operation.duration */
};

enum otlp_hist_id {
	OTLP_HIST_DURATION = 0, /* http.{server,client}.request.duration, s */
	OTLP_HIST_REQ_SIZE,	/* http.{server,client}.request.body.size, By */
	OTLP_HIST_RESP_SIZE,	/* http.{server,client}.response.body.size, By */
	OTLP_HIST_N,
};

struct otlp_hist {
	uint64_t count;
	double sum, min, max;
	uint64_t buckets[OTLP_MAX_BUCKETS]; /* bounds + 1 used */
};

struct otlp_series {
	struct otlp_series *next;  /* hash chain (meaningless in a snapshot) */
	struct otlp_resource *res; /* holds a reference */
	uint64_t hash;
	enum span_kind kind;
	enum otlp_family family;
	uint8_t db_system;	  /* enum span_db_system (database series) */
	char method[32];	  /* http.request.method, normalized ("_OTHER"); db.operation.name */
	char route[256];	  /* http.route, db.collection.name; "" when unknown */
	char error_type[16];	  /* database series: error.type, "" when none */
	char server_address[128]; /* clients only */
	uint16_t server_port;	  /* clients only */
	uint16_t status;	  /* http.response.status_code, 0: none */
	uint64_t start_unix_ns;	  /* first request recorded: start of the cumulative sums */
	struct otlp_hist h[OTLP_HIST_N];
};

struct otlp_metrics;

struct otlp_metrics *otlp_metrics_new(size_t max_series);
/* Frees every series and drops their resource references. */
void otlp_metrics_free(struct otlp_metrics *m);

/* Records one finished span of the process `res` (a reference is taken for a new series).
 * Database server spans have no metric in the semantic conventions and are not recorded. */
void otlp_metrics_record(struct otlp_metrics *m, const struct span *s, struct otlp_resource *res);

/* Copies every series into a new array (resource references taken); *n: how many. Release
 * with otlp_metrics_snapshot_free. Returns 0 or -ENOMEM. */
int otlp_metrics_snapshot(struct otlp_metrics *m, struct otlp_series **out, size_t *n);
void otlp_metrics_snapshot_free(struct otlp_series *snap, size_t n);

/* Drops the series of processes that exited at least ttl_ns before now (CLOCK_MONOTONIC).
 * Returns how many were dropped. */
size_t otlp_metrics_expire(struct otlp_metrics *m, uint64_t now_ns, uint64_t ttl_ns);

size_t otlp_metrics_series(const struct otlp_metrics *m);
/* Spans not recorded because the series cap was reached. */
uint64_t otlp_metrics_dropped(const struct otlp_metrics *m);

/* Index of the bucket v falls in: bucket i holds (bounds[i-1], bounds[i]]; n = bounds. */
size_t otlp_bucket_index(const double *bounds, size_t n, double v);

/* The method as semantic conventions want it: a known method as is, anything else "_OTHER"
 * (the only result that starts with an underscore). */
const char *otlp_http_method(const char *method);

/* Host of the Host header without its port ("a:80" -> "a", "[::1]:80" -> "::1"), else the IP
 * of `fallback`. Writes into out; returns out. */
char *otlp_server_address(const struct span *s, const struct span_addr *fallback, char *out,
			  size_t size);
/* Dotted IPv4 (also for IPv4-mapped IPv6), compressed IPv6, "" for an unknown family. */
char *otlp_addr_str(const struct span_addr *a, char *out, size_t size);

#endif /* OBI_OTLP_METRICS_H */
