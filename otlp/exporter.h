/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OTLP export of spans and HTTP metrics from a thread of its own. The event loop only hands
 * spans over (otlp_exporter_on_span: a copy into a bounded queue and a histogram update under a
 * short lock); the thread batches, encodes and POSTs them, retries with back-off, and exports
 * the metrics periodically. Nothing here waits on the network in the caller's thread, except
 * otlp_exporter_stop, which flushes for at most the export timeout.
 */
#ifndef OBI_OTLP_EXPORTER_H
#define OBI_OTLP_EXPORTER_H

#include <stddef.h>
#include <stdint.h>

#include "core/procinfo.h"
#include "core/span.h"
#include "metrics.h"
#include "options.h"

struct otlp_exporter;

struct otlp_exporter_stats {
	uint64_t spans_queued;	    /* taken into the queue */
	uint64_t spans_exported;    /* accepted by the receiver */
	uint64_t spans_dropped;	    /* not queued: the queue was full */
	uint64_t spans_failed;	    /* rejected, given up after retries, or unsent at exit */
	uint64_t spans_sampled_out; /* not exported by the sampler's decision */
	uint64_t span_requests;	    /* POSTs to the traces endpoint, retries included */
	uint64_t metric_exports;    /* metric requests accepted */
	uint64_t metric_failures;   /* metric requests that failed (each attempt) */
	uint64_t series;	    /* metric series held now */
	uint64_t series_dropped;    /* spans not counted in metrics: series cap reached */
	uint64_t series_expired;    /* series dropped after their process exited */
	uint32_t queue_len, queue_cap;
};

/* Creates an exporter for opts without starting its thread (tests). Returns 0 or -errno. */
int otlp_exporter_new(const struct otlp_options *opts, struct otlp_exporter **out);
int otlp_exporter_start(struct otlp_exporter *ex);

/* new + start; *out stays NULL (and 0 is returned) when opts exports nothing (no url) and no
 * scrape endpoint reads the metrics (metrics_pull). Call
 * before any other thread is started (the first exporter sets libcurl up). */
int otlp_exporter_open(const struct otlp_options *opts, struct otlp_exporter **out);

/* A finished span of the process pi (copied; sampled for traces, always counted in metrics).
 * ex may be NULL. */
void otlp_exporter_on_span(struct otlp_exporter *ex, const struct span *s,
			   const struct proc_info *pi);

/* The process exited: its metric series expire after metrics_ttl_ms. ex may be NULL. */
void otlp_exporter_proc_exit(struct otlp_exporter *ex, uint32_t pid);

/* A copy of every metric series (for a scrape endpoint, from any thread): see
 * otlp_metrics_snapshot. Release it with otlp_exporter_snapshot_free (the resource references
 * are guarded by the exporter's lock). Returns 0, -ENOMEM, or -ENOENT when no metrics are
 * recorded. */
int otlp_exporter_snapshot(struct otlp_exporter *ex, struct otlp_series **out, size_t *n);
void otlp_exporter_snapshot_free(struct otlp_exporter *ex, struct otlp_series *snap, size_t n);

/* The resource attributes the exporter adds (OTEL_RESOURCE_ATTRIBUTES as given), for a scrape
 * endpoint's own encoder. */
const char *otlp_exporter_resource_attributes(const struct otlp_exporter *ex);

void otlp_exporter_get_stats(struct otlp_exporter *ex, struct otlp_exporter_stats *st);

/* Flushes what is held (spans, then metrics) for at most the export timeout, stops the thread,
 * logs a summary line and frees everything. ex may be NULL. */
void otlp_exporter_stop(struct otlp_exporter *ex);

#endif /* OBI_OTLP_EXPORTER_H */
