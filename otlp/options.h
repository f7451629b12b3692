/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What an OTLP exporter is set up with: per signal the endpoint, headers, compression and
 * timeout; the resource attributes; the batch span processor; the metric export interval and
 * the lifetime of an exited process's series; the sampler. The program using otlp/ fills it
 * (obi: agent/export_config.c, from its settings); otlp/ neither reads the environment nor
 * applies defaults. Strings are borrowed: otlp_exporter_new copies what it keeps.
 */
#ifndef OBI_OTLP_OPTIONS_H
#define OBI_OTLP_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#define OTLP_URL_MAX 1040 /* longest endpoint the exporter keeps, NUL included */

enum otlp_compress {
	OTLP_COMPRESS_NONE = 0,
	OTLP_COMPRESS_GZIP,
};

/* OTEL_TRACES_SAMPLER's samplers (see sampler.h). */
enum otlp_sampler {
	OTLP_SAMPLER_PARENTBASED_ALWAYS_ON = 0,
	OTLP_SAMPLER_PARENTBASED_ALWAYS_OFF,
	OTLP_SAMPLER_PARENTBASED_TRACEIDRATIO,
	OTLP_SAMPLER_ALWAYS_ON,
	OTLP_SAMPLER_ALWAYS_OFF,
	OTLP_SAMPLER_TRACEIDRATIO,
};

/* One signal (traces or metrics). */
struct otlp_signal_options {
	const char *url;     /* where to POST; NULL or "": the signal is not exported */
	const char *headers; /* "k=v,..." list, already validated; NULL or "": none */
	enum otlp_compress compression;
	bool json;	     /* OTLP/HTTP JSON (application/json), else protobuf */
	bool grpc;	     /* OTLP/gRPC to url's scheme://host:port (its path is not used) */
	uint64_t timeout_ms; /* of one POST; the flush at stop is bounded by the longer one */
	/* TLS, PEM files; NULL or "": libcurl's default (the system's CA store, no client cert) */
	const char *certificate;	/* CA certificate(s) to trust */
	const char *client_certificate, *client_key;
	bool skip_verify;	/* https without checking the server's certificate and name */
};

struct otlp_options {
	struct otlp_signal_options traces, metrics;
	const char *resource_attributes; /* "k=v,..." list, already validated; NULL or "": none */
	/* batch span processor */
	uint32_t max_queue_size;	/* spans held; more are dropped (counted) */
	uint32_t max_export_batch_size; /* spans per POST, at most max_queue_size */
	uint64_t schedule_delay_ms;	/* longest a span waits for a batch to fill */
	/* metrics */
	uint64_t metric_interval_ms; /* between two exports */
	uint64_t metrics_ttl_ms;     /* series of an exited process are dropped after this */
	bool metrics_pull; /* a scrape endpoint reads them: record metrics even with no url */
	/* which spans are exported (metrics count every span) */
	enum otlp_sampler sampler;
	double sampler_ratio; /* 0..1, for the traceidratio samplers */
};

#endif /* OBI_OTLP_OPTIONS_H */
