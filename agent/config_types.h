/* SPDX-License-Identifier: Apache-2.0 */
/*
 * obi's settings. One table (settings.c) drives environment parsing, the YAML file, command-line
 * flags, validation, --help, --help-markdown and --print-config.
 * Precedence: defaults < YAML file < environment < flags.
 */
#ifndef OBI_CONFIG_TYPES_H
#define OBI_CONFIG_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/log.h"
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

/*
 * One entry of discovery.instrument or discovery.exclude_instrument in the YAML file: a process
 * matches when it matches every criterion the entry sets (AND); a process is selected when it
 * matches any instrument entry (OR) and no exclude entry. See selector.h.
 */
#define CONFIG_MAX_ENTRIES 16		/* per list */
#define CONFIG_ENTRY_PIDS 64
#define CONFIG_ENTRY_PIDNS 16
#define CONFIG_ENTRY_EXE 1024
#define CONFIG_ENTRY_NAME 128

struct selector {
	struct port_set ports;			/* open_ports: listens on one of them */
	uint32_t pids[CONFIG_ENTRY_PIDS];	/* target_pids */
	size_t n_pids;
	uint64_t pidns[CONFIG_ENTRY_PIDNS];	/* target_pid_namespaces: namespace inodes */
	size_t n_pidns;
	char exe[CONFIG_ENTRY_EXE];		/* exe_path: glob on the executable path */
	bool containers_only;			/* containers_only: not in obi's network namespace */
	char name[CONFIG_ENTRY_NAME];		/* name: service name of what it selects */
	unsigned line;				/* where it starts in the YAML file */
};

/* A list of entries; `set` tells an empty list given in the file from no list at all. */
struct selector_list {
	struct selector entry[CONFIG_MAX_ENTRIES];
	size_t n;
	bool set;
};

/* OTLP settings: OTEL_EXPORTER_OTLP_* and the batch, metric and sampler settings. */
#define CONFIG_URL_MAX 1024
#define CONFIG_TLS_PATH_MAX 1024	/* a certificate or key file */
#define CONFIG_KV_LIST_MAX 8192	/* a "k=v,k2=v2" setting (headers, resource attributes) */

enum otlp_compression {
	OTLP_COMPRESSION_UNSET = 0,	/* per-signal setting not given: the general one applies */
	OTLP_COMPRESSION_NONE = 1,
	OTLP_COMPRESSION_GZIP = 2,
};

enum otlp_protocol {
	OTLP_PROTOCOL_UNSET = 0,	/* per-signal setting not given: the general one applies */
	OTLP_PROTOCOL_HTTP_PROTOBUF = 1,
	OTLP_PROTOCOL_HTTP_JSON = 2,
	OTLP_PROTOCOL_GRPC = 3,
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
	enum otlp_protocol protocol;
	uint64_t timeout_ms;		/* 0 before resolution = not given */
	/* TLS (PEM files): CA to trust instead of the system's, client certificate and key */
	char certificate[CONFIG_TLS_PATH_MAX], client_certificate[CONFIG_TLS_PATH_MAX];
	char client_key[CONFIG_TLS_PATH_MAX];
	/* OTEL_EXPORTER_OTLP_INSECURE: a gRPC endpoint given without a scheme is http:// (true)
	 * or https:// (false, the default); an endpoint with a scheme is taken as written */
	enum otlp_insecure { OTLP_INSECURE_UNSET = 0, OTLP_INSECURE_NO, OTLP_INSECURE_YES } insecure;
	bool skip_verify;	/* OBI's insecure_skip_verify: https without certificate checks */
};

/* Where the kernel side sees a process's socket data (loader.c). */
enum data_hooks {
	DATA_HOOKS_AUTO = 0,	/* the socket tracepoints where the kernel has them, else syscalls */
	DATA_HOOKS_SOCKETS,	/* tp_btf sock_recv_length/sock_send_length/inet_sock_set_state */
	DATA_HOOKS_SYSCALLS,	/* syscall tracepoints (sys_exit_read ... , sys_enter_close) */
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
	enum data_hooks data_hooks;		/* OTEL_EBPF_BPF_DATA_HOOKS */
	char otlp_endpoint[CONFIG_URL_MAX];	/* OTEL_EXPORTER_OTLP_ENDPOINT, "" if unset */
	/* OTLP export (OTEL_EXPORTER_OTLP_{,TRACES_,METRICS_}*); see struct otlp_signal */
	char otlp_headers[CONFIG_KV_LIST_MAX];	/* OTEL_EXPORTER_OTLP_HEADERS */
	enum otlp_compression otlp_compression;	/* OTEL_EXPORTER_OTLP_COMPRESSION */
	enum otlp_protocol otlp_protocol;	/* OTEL_EXPORTER_OTLP_PROTOCOL */
	struct otlp_signal otlp_tls;	/* OTEL_EXPORTER_OTLP_{CERTIFICATE,CLIENT_*}: TLS only */
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
	/* Prometheus scrape endpoint (OTEL_EBPF_PROMETHEUS_*) */
	uint16_t prometheus_port;		/* 0: off */
	char prometheus_path[256];		/* "/metrics" */
	char prometheus_address[64];		/* IPv4 or IPv6 literal, "": every interface */
	/* sampling of exported spans (printing and metrics see every span) */
	enum sampler_kind sampler;		/* OTEL_TRACES_SAMPLER */
	double sampler_ratio;			/* OTEL_TRACES_SAMPLER_ARG, default 1.0 */
	/* YAML file (OTEL_EBPF_CONFIG_PATH, --config) and what only it can say */
	char config_path[4096];			/* "" when none */
	struct selector_list instrument;	/* discovery.instrument */
	struct selector_list exclude;		/* discovery.exclude_instrument */
	struct selector_list default_exclude;	/* discovery.default_exclude_instrument */
	/* modes */
	bool demo;				/* --demo, or no selector given */
	bool help;
	bool help_markdown;			/* --help-markdown */
	bool print_config;			/* --print-config */
	bool version;
};

#endif /* OBI_CONFIG_TYPES_H */
