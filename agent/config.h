/* SPDX-License-Identifier: Apache-2.0 */
/*
 * obi's settings. One table in config.c drives environment parsing, command-line flags,
 * validation and --help. Precedence: defaults < environment < flags.
 */
#ifndef OBI_CONFIG_H
#define OBI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"
#include "printer.h"

#define CONFIG_MAX_PIDS 256
#define CONFIG_MAX_PIDNS 64

struct port_set {
	uint64_t bits[65536 / 64];
	unsigned count;		/* number of ports in the set */
};

static inline bool port_set_has(const struct port_set *ps, uint16_t port)
{
	return ps->bits[port >> 6] & (1ULL << (port & 63));
}

/* OTLP settings: OTEL_EXPORTER_OTLP_* and the batch, metric and sampler settings. */
#define CONFIG_URL_MAX 1024
#define CONFIG_KV_LIST_MAX 8192	/* a "k=v,k2=v2" setting (headers, resource attributes) */

enum otlp_compression {
	OTLP_COMPRESSION_UNSET = 0,	/* per-signal setting not given: the general one applies */
	OTLP_COMPRESSION_NONE = 1,
	OTLP_COMPRESSION_GZIP = 2,
};

enum sampler_kind {
	SAMPLER_PARENTBASED_ALWAYS_ON = 0,	/* the default */
	SAMPLER_PARENTBASED_ALWAYS_OFF,
	SAMPLER_PARENTBASED_TRACEIDRATIO,
	SAMPLER_ALWAYS_ON,
	SAMPLER_ALWAYS_OFF,
	SAMPLER_TRACEIDRATIO,
};

/* One signal (traces or metrics). The per-signal settings as given; config_load then resolves
 * them against the general OTEL_EXPORTER_OTLP_* ones, so after it every field is effective. */
struct otlp_signal {
	char url[CONFIG_URL_MAX + 16];	/* where to POST; "" = the signal is not exported */
	char headers[CONFIG_KV_LIST_MAX];	/* "k=v,..." list, validated; "" = none */
	enum otlp_compression compression;
	uint64_t timeout_ms;		/* 0 before resolution = not given */
};

struct obi_config {
	/* selection */
	struct port_set open_ports;		/* OTEL_EBPF_OPEN_PORT */
	uint32_t target_pids[CONFIG_MAX_PIDS];	/* OTEL_EBPF_TARGET_PID */
	size_t n_target_pids;
	char exe_glob[4096];			/* OTEL_EBPF_AUTO_TARGET_EXE, "" if unset */
	uint64_t pidns[CONFIG_MAX_PIDNS];	/* OTEL_EBPF_TARGET_PID_NAMESPACE: ns inodes */
	size_t n_pidns;
	/* output */
	enum printer_kind trace_printer;	/* OTEL_EBPF_TRACE_PRINTER */
	bool trace_printer_set;			/* chosen explicitly */
	enum log_level log_level;		/* OTEL_EBPF_LOG_LEVEL */
	bool context_propagation;		/* OTEL_EBPF_BPF_CONTEXT_PROPAGATION */
	char otlp_endpoint[CONFIG_URL_MAX];	/* OTEL_EXPORTER_OTLP_ENDPOINT, "" if unset */
	/* OTLP export (OTEL_EXPORTER_OTLP_{,TRACES_,METRICS_}*); see struct otlp_signal */
	char otlp_headers[CONFIG_KV_LIST_MAX];	/* OTEL_EXPORTER_OTLP_HEADERS */
	enum otlp_compression otlp_compression;	/* OTEL_EXPORTER_OTLP_COMPRESSION */
	uint64_t otlp_timeout_ms;		/* OTEL_EXPORTER_OTLP_TIMEOUT */
	struct otlp_signal traces, metrics;
	char resource_attributes[CONFIG_KV_LIST_MAX];	/* OTEL_RESOURCE_ATTRIBUTES, validated */
	/* batch span processor */
	uint32_t bsp_max_queue_size;		/* OTEL_BSP_MAX_QUEUE_SIZE */
	uint32_t bsp_max_export_batch_size;	/* OTEL_BSP_MAX_EXPORT_BATCH_SIZE */
	uint64_t bsp_schedule_delay_ms;		/* OTEL_BSP_SCHEDULE_DELAY */
	/* metrics */
	uint64_t metric_interval_ms;	/* OTEL_METRIC_EXPORT_INTERVAL, OTEL_EBPF_METRICS_INTERVAL */
	uint64_t metrics_ttl_ms;	/* OTEL_EBPF_METRICS_TTL: series of an exited process */
	/* sampling of exported spans (printing and metrics see every span) */
	enum sampler_kind sampler;		/* OTEL_TRACES_SAMPLER */
	double sampler_ratio;			/* OTEL_TRACES_SAMPLER_ARG, default 1.0 */
	/* modes */
	bool demo;				/* --demo, or no selector given */
	bool help;
	bool version;
};

/* True when at least one process selector is configured. */
bool config_has_selector(const struct obi_config *cfg);

/*
 * Fills cfg from defaults, then the environment (envp: NULL-terminated "NAME=value" list,
 * normally `environ`), then argv. On a bad value it writes one line naming the variable or
 * flag and the accepted form to `err` and returns -EINVAL (the caller exits with code 2).
 * When no printer is chosen it defaults to text, or to disabled when spans are exported.
 */
int config_load(struct obi_config *cfg, int argc, char **argv, char **envp, FILE *err);

/* Parses "80,443,8000-8999" into ps (adds to it). Returns 0 or -EINVAL. */
int config_parse_ports(const char *s, struct port_set *ps);

/*
 * Walks a W3C-baggage-like list "key=value,key2=value2" (OTEL_EXPORTER_OTLP_HEADERS,
 * OTEL_RESOURCE_ATTRIBUTES): items and both sides of '=' are trimmed of spaces, values are
 * percent-decoded. Calls fn for each pair with NUL-terminated copies; stops when fn returns
 * non-zero and returns that. Returns -EINVAL on a malformed list, with the reason in `why`
 * (may be NULL). An empty list has no pairs.
 */
typedef int (*config_kv_fn)(const char *key, const char *value, void *ctx);
int config_parse_kv_list(const char *s, config_kv_fn fn, void *ctx, char *why, size_t why_size);

/* Parses a Go-style duration ("500ms", "1m30s", "1.5s"; units ns us µs ms s m h) into ns.
 * Returns 0 or -EINVAL / -ERANGE. */
int config_parse_duration(const char *s, uint64_t *ns);

/* True when spans or metrics are exported with OTLP. */
bool config_otlp_enabled(const struct obi_config *cfg);

/* Writes usage: every flag and every environment variable with its default. */
void config_print_help(FILE *out);

#endif /* OBI_CONFIG_H */
