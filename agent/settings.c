// SPDX-License-Identifier: Apache-2.0
/*
 * The settings table: one row per setting {flag, env var, YAML key, type, default, help,
 * accepted form, parse, show}, and the keys of a discovery entry. Each row binds a field of
 * struct obi_config to a parser and a formatter of settings_value.c. The rest of the
 * configuration reads these rows: config.c loads defaults, environment and flags with them,
 * settings_yaml.c the YAML file, config_print.c writes --help and --print-config from them.
 */
#include "settings.h"

#include <errno.h>
#include <string.h>

/* --- parse: one field of cfg from text -------------------------------------------------------- */

#define SET(name, ...)                                                                       \
	static int set_##name(struct obi_config *cfg, const char *val, struct setting_why *why) \
	{                                                                                      \
		return __VA_ARGS__;                                                            \
	}

/* A bare flag: sets the field of its name. */
#define SWITCH(name)                                                                         \
	static int set_##name(struct obi_config *cfg, const char *val, struct setting_why *why) \
	{                                                                                      \
		cfg->name = true;                                                              \
		return 0;                                                                      \
	}

SET(config_path,
    settings_parse_text(cfg->config_path, sizeof(cfg->config_path), val, "path", why))
SET(pids, settings_parse_pids(val, cfg->target_pids, CONFIG_MAX_PIDS, &cfg->n_target_pids, why))
SET(exe, settings_parse_text(cfg->exe_glob, sizeof(cfg->exe_glob), val, "pattern", why))
SET(pidns, settings_parse_pidns(val, cfg->pidns, CONFIG_MAX_PIDNS, &cfg->n_pidns, why))
SET(log_level, settings_parse_log_level(val, &cfg->log_level, why))
SET(propagation, settings_parse_propagation(val, &cfg->context_propagation, why))
SET(data_hooks, settings_parse_data_hooks(val, &cfg->data_hooks, why))
SET(endpoint, settings_parse_url(cfg->otlp_endpoint, sizeof(cfg->otlp_endpoint), val, why))
SET(traces_endpoint, settings_parse_url(cfg->traces.url, CONFIG_URL_MAX, val, why))
SET(metrics_endpoint, settings_parse_url(cfg->metrics.url, CONFIG_URL_MAX, val, why))
SET(headers, settings_parse_kv(cfg->otlp_headers, sizeof(cfg->otlp_headers), val, true, why))
SET(traces_headers,
    settings_parse_kv(cfg->traces.headers, sizeof(cfg->traces.headers), val, true, why))
SET(metrics_headers,
    settings_parse_kv(cfg->metrics.headers, sizeof(cfg->metrics.headers), val, true, why))
SET(resource_attributes, settings_parse_kv(cfg->resource_attributes,
					   sizeof(cfg->resource_attributes), val, false, why))
SET(protocol, settings_parse_protocol(val, &cfg->otlp_protocol, why))
SET(traces_protocol, settings_parse_protocol(val, &cfg->traces.protocol, why))
SET(metrics_protocol, settings_parse_protocol(val, &cfg->metrics.protocol, why))
SET(compression, settings_parse_compression(val, &cfg->otlp_compression, why))
#define TLS_SET(name, sig, field)                                                           \
	SET(name, settings_parse_text(cfg->sig.field, sizeof(cfg->sig.field), val, "path", why))
TLS_SET(certificate, otlp_tls, certificate)
TLS_SET(client_certificate, otlp_tls, client_certificate)
TLS_SET(client_key, otlp_tls, client_key)
TLS_SET(traces_certificate, traces, certificate)
TLS_SET(traces_client_certificate, traces, client_certificate)
TLS_SET(traces_client_key, traces, client_key)
TLS_SET(metrics_certificate, metrics, certificate)
TLS_SET(metrics_client_certificate, metrics, client_certificate)
TLS_SET(metrics_client_key, metrics, client_key)
#define INSECURE_SET(name, sig)                                                             \
	static int set_##name(struct obi_config *cfg, const char *val, struct setting_why *why) \
	{                                                                                      \
		bool on;                                                                       \
		int ret = settings_parse_bool(val, &on, why);                                  \
		if (!ret)                                                                      \
			cfg->sig.insecure = on ? OTLP_INSECURE_YES : OTLP_INSECURE_NO;         \
		return ret;                                                                    \
	}
INSECURE_SET(insecure, otlp_tls)
INSECURE_SET(traces_insecure, traces)
INSECURE_SET(metrics_insecure, metrics)
SET(traces_skip_verify, settings_parse_bool(val, &cfg->traces.skip_verify, why))
SET(metrics_skip_verify, settings_parse_bool(val, &cfg->metrics.skip_verify, why))
SET(traces_compression, settings_parse_compression(val, &cfg->traces.compression, why))
SET(metrics_compression, settings_parse_compression(val, &cfg->metrics.compression, why))
SET(timeout, settings_parse_ms(val, true, &cfg->otlp_timeout_ms, why))
SET(traces_timeout, settings_parse_ms(val, true, &cfg->traces.timeout_ms, why))
SET(metrics_timeout, settings_parse_ms(val, true, &cfg->metrics.timeout_ms, why))
SET(queue_size, settings_parse_count(val, &cfg->bsp_max_queue_size, why))
SET(batch_size, settings_parse_count(val, &cfg->bsp_max_export_batch_size, why))
SET(schedule_delay, settings_parse_ms(val, true, &cfg->bsp_schedule_delay_ms, why))
SET(metric_export_interval, settings_parse_ms(val, true, &cfg->metric_interval_ms, why))
/* OBI's duration settings want a unit */
SET(metrics_interval, settings_parse_ms(val, false, &cfg->metric_interval_ms, why))
SET(metrics_ttl, settings_parse_ms(val, false, &cfg->metrics_ttl_ms, why))
SET(prometheus_port, settings_parse_port0(val, &cfg->prometheus_port, why))
SET(prometheus_path, settings_parse_http_path(cfg->prometheus_path, sizeof(cfg->prometheus_path),
					      val, why))
SET(prometheus_address, settings_parse_ip(cfg->prometheus_address,
					  sizeof(cfg->prometheus_address), val, why))
SET(sampler, settings_parse_sampler(val, &cfg->sampler, why))
SET(sampler_arg, settings_parse_ratio(val, &cfg->sampler_ratio, why))
SWITCH(print_config)
SWITCH(help_markdown)
SWITCH(demo)
SWITCH(help)
SWITCH(version)

/* The setting replaces the ports given before it (a YAML file's, the environment's). */
static int set_open_ports(struct obi_config *cfg, const char *val, struct setting_why *why)
{
	memset(&cfg->open_ports, 0, sizeof(cfg->open_ports));
	return settings_parse_ports(val, &cfg->open_ports, why);
}

/* An explicit choice, even of the default, is remembered: no OTLP default then. */
static int set_printer(struct obi_config *cfg, const char *val, struct setting_why *why)
{
	int ret = settings_parse_printer(val, &cfg->trace_printer, why);

	if (!ret)
		cfg->trace_printer_set = true;
	return ret;
}

/* --- show: the effective value as text (--print-config) --------------------------------------- */

static const char *compression_name(enum otlp_compression c)
{
	return c == OTLP_COMPRESSION_GZIP ? "gzip" : "none";
}

static const char *protocol_name(enum otlp_protocol p)
{
	return p == OTLP_PROTOCOL_HTTP_JSON ? "http/json"
	       : p == OTLP_PROTOCOL_GRPC    ? "grpc"
					    : "http/protobuf";
}

#define SHOW(name, ...)                                                                     \
	static void show_##name(const struct obi_config *cfg, char *buf, size_t size)      \
	{                                                                                   \
		__VA_ARGS__;                                                                \
	}

SHOW(open_ports, settings_show_ports(&cfg->open_ports, buf, size))
SHOW(pids, settings_show_u32_list(cfg->target_pids, cfg->n_target_pids, buf, size))
SHOW(exe, snprintf(buf, size, "%s", cfg->exe_glob))
SHOW(pidns, settings_show_u64_list(cfg->pidns, cfg->n_pidns, buf, size))
SHOW(printer, snprintf(buf, size, "%s", cfg->trace_printer == PRINTER_TEXT ? "text" :
				       cfg->trace_printer == PRINTER_JSON ? "json" : "disabled"))
SHOW(log_level, static const char *const n[] = { "debug", "info", "warn", "error" };
     snprintf(buf, size, "%s", n[cfg->log_level & 3]))
SHOW(propagation, snprintf(buf, size, "%s", cfg->context_propagation ? "headers" : "disabled"))
SHOW(data_hooks, snprintf(buf, size, "%s", cfg->data_hooks == DATA_HOOKS_SOCKETS    ? "sockets"
					  : cfg->data_hooks == DATA_HOOKS_SYSCALLS ? "syscalls"
										   : "auto"))
SHOW(endpoint, snprintf(buf, size, "%s", cfg->otlp_endpoint))
SHOW(traces_endpoint, snprintf(buf, size, "%s", cfg->traces.url))
SHOW(metrics_endpoint, snprintf(buf, size, "%s", cfg->metrics.url))
SHOW(headers, settings_show_masked(cfg->otlp_headers, buf, size))
SHOW(traces_headers, settings_show_masked(cfg->traces.headers, buf, size))
SHOW(metrics_headers, settings_show_masked(cfg->metrics.headers, buf, size))
SHOW(protocol, snprintf(buf, size, "%s", protocol_name(cfg->otlp_protocol)))
SHOW(traces_protocol, snprintf(buf, size, "%s", protocol_name(cfg->traces.protocol)))
SHOW(metrics_protocol, snprintf(buf, size, "%s", protocol_name(cfg->metrics.protocol)))
SHOW(compression, snprintf(buf, size, "%s", compression_name(cfg->otlp_compression)))
#define TLS_SHOW(name, sig, field) SHOW(name, snprintf(buf, size, "%s", cfg->sig.field))
TLS_SHOW(certificate, otlp_tls, certificate)
TLS_SHOW(client_certificate, otlp_tls, client_certificate)
TLS_SHOW(client_key, otlp_tls, client_key)
TLS_SHOW(traces_certificate, traces, certificate)
TLS_SHOW(traces_client_certificate, traces, client_certificate)
TLS_SHOW(traces_client_key, traces, client_key)
TLS_SHOW(metrics_certificate, metrics, certificate)
TLS_SHOW(metrics_client_certificate, metrics, client_certificate)
TLS_SHOW(metrics_client_key, metrics, client_key)
#define INSECURE_SHOW(name, sig)                                                            \
	SHOW(name, snprintf(buf, size, "%s",                                                \
			    cfg->sig.insecure == OTLP_INSECURE_YES ? "true"                     \
			    : cfg->sig.insecure == OTLP_INSECURE_NO ? "false"                   \
								     : ""))
INSECURE_SHOW(insecure, otlp_tls)
INSECURE_SHOW(traces_insecure, traces)
INSECURE_SHOW(metrics_insecure, metrics)
SHOW(traces_skip_verify, snprintf(buf, size, "%s", cfg->traces.skip_verify ? "true" : "false"))
SHOW(metrics_skip_verify, snprintf(buf, size, "%s", cfg->metrics.skip_verify ? "true" : "false"))
SHOW(traces_compression, snprintf(buf, size, "%s", compression_name(cfg->traces.compression)))
SHOW(metrics_compression, snprintf(buf, size, "%s", compression_name(cfg->metrics.compression)))
SHOW(timeout, snprintf(buf, size, "%llu", (unsigned long long)cfg->otlp_timeout_ms))
SHOW(traces_timeout, snprintf(buf, size, "%llu", (unsigned long long)cfg->traces.timeout_ms))
SHOW(metrics_timeout, snprintf(buf, size, "%llu", (unsigned long long)cfg->metrics.timeout_ms))
SHOW(queue_size, snprintf(buf, size, "%u", cfg->bsp_max_queue_size))
SHOW(batch_size, snprintf(buf, size, "%u", cfg->bsp_max_export_batch_size))
SHOW(schedule_delay, settings_show_duration_ms(cfg->bsp_schedule_delay_ms, buf, size))
SHOW(metric_export_interval,
     snprintf(buf, size, "%llu", (unsigned long long)cfg->metric_interval_ms))
SHOW(metrics_interval, settings_show_duration_ms(cfg->metric_interval_ms, buf, size))
SHOW(metrics_ttl, settings_show_duration_ms(cfg->metrics_ttl_ms, buf, size))
SHOW(sampler, static const char *const n[] = {
	     [SAMPLER_PARENTBASED_ALWAYS_ON] = "parentbased_always_on",
	     [SAMPLER_PARENTBASED_ALWAYS_OFF] = "parentbased_always_off",
	     [SAMPLER_PARENTBASED_TRACEIDRATIO] = "parentbased_traceidratio",
	     [SAMPLER_ALWAYS_ON] = "always_on",
	     [SAMPLER_ALWAYS_OFF] = "always_off",
	     [SAMPLER_TRACEIDRATIO] = "traceidratio" };
     snprintf(buf, size, "%s", n[cfg->sampler % 6]))
SHOW(sampler_arg, snprintf(buf, size, "%g", cfg->sampler_ratio))
SHOW(resource_attributes, snprintf(buf, size, "%s", cfg->resource_attributes))
SHOW(config_path, snprintf(buf, size, "%s", cfg->config_path))
SHOW(prometheus_port, snprintf(buf, size, "%u", cfg->prometheus_port))
SHOW(prometheus_path, snprintf(buf, size, "%s", cfg->prometheus_path))
SHOW(prometheus_address, snprintf(buf, size, "%s", cfg->prometheus_address))

/* One row per setting: flag, short flag, environment variable, YAML key, type, metavar,
 * default, help, accepted form, parse, show. The YAML keys are OBI's where OBI has one. */
const struct setting settings[] = {
	{ "config", 0, "OTEL_EBPF_CONFIG_PATH", NULL, SETTING_VALUE, "FILE", NULL,
	  "load settings from this YAML file (OBI's keys; the environment and flags override it)",
	  "the path of a readable YAML file", set_config_path, show_config_path },
	{ "open-port", 0, "OTEL_EBPF_OPEN_PORT", "open_port", SETTING_LIST, "PORTS", NULL,
	  "instrument processes listening on any of these ports",
	  "a comma list of ports and ranges, e.g. 80,443,8000-8999", set_open_ports,
	  show_open_ports },
	{ "pid", 0, "OTEL_EBPF_TARGET_PID", NULL, SETTING_VALUE, "PIDS", NULL,
	  "instrument these processes",
	  "a comma list of process ids, e.g. 1234,5678", set_pids, show_pids },
	{ "exe", 0, "OTEL_EBPF_AUTO_TARGET_EXE", NULL, SETTING_VALUE, "GLOB", NULL,
	  "instrument processes whose full executable path matches this glob",
	  "a glob on the executable path, e.g. */python3*", set_exe, show_exe },
	{ "pid-namespace", 0, "OTEL_EBPF_TARGET_PID_NAMESPACE", NULL, SETTING_VALUE, "NS", NULL,
	  "instrument processes in these pid namespaces",
	  "a comma list of namespace inodes, pid:[inode] or paths, e.g. /proc/1234/ns/pid",
	  set_pidns, show_pidns },
	{ "trace-printer", 0, "OTEL_EBPF_TRACE_PRINTER", "trace_printer", SETTING_VALUE, "MODE",
	  NULL, "print one line per span on stdout (default text, disabled with an OTLP endpoint)",
	  "disabled, text or json", set_printer, show_printer },
	{ "log-level", 0, "OTEL_EBPF_LOG_LEVEL", "log_level", SETTING_VALUE, "LEVEL", "info",
	  "log messages at this level and above on stderr",
	  "debug, info, warn or error", set_log_level, show_log_level },
	{ "context-propagation", 0, "OTEL_EBPF_BPF_CONTEXT_PROPAGATION",
	  "ebpf.context_propagation", SETTING_VALUE, "MODE", "headers",
	  "carry trace context into outgoing HTTP/1 requests of instrumented processes "
	  "(inserts a traceparent header; proven harmless by a self-test at start)",
	  "headers or disabled (OBI's all and http mean headers here)", set_propagation,
	  show_propagation },
	{ "data-hooks", 0, "OTEL_EBPF_BPF_DATA_HOOKS", "ebpf.data_hooks", SETTING_VALUE, "HOOKS",
	  "auto", "where the kernel side sees socket data: socket tracepoints (auto: when the "
	  "kernel has them; no syscall is slowed down) or syscall tracepoints",
	  "auto, sockets or syscalls", set_data_hooks, show_data_hooks },
	{ "otlp-endpoint", 0, "OTEL_EXPORTER_OTLP_ENDPOINT", NULL, SETTING_VALUE, "URL", NULL,
	  "export spans and metrics to <URL>/v1/traces and <URL>/v1/metrics (OTLP/HTTP) or to "
	  "<URL> (OTLP/gRPC, where host:port without a scheme is accepted too)",
	  "an http:// or https:// url, e.g. http://localhost:4318", set_endpoint, show_endpoint },
	{ "otlp-traces-endpoint", 0, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	  "otel_traces_export.endpoint", SETTING_VALUE, "URL", NULL,
	  "export spans to this url (/v1/traces is added when it has no path)",
	  "an http:// or https:// url, e.g. http://localhost:4318/v1/traces",
	  set_traces_endpoint, show_traces_endpoint },
	{ "otlp-metrics-endpoint", 0, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
	  "otel_metrics_export.endpoint", SETTING_VALUE, "URL", NULL,
	  "export metrics to this url (/v1/metrics is added when it has no path)",
	  "an http:// or https:// url, e.g. http://localhost:4318/v1/metrics",
	  set_metrics_endpoint, show_metrics_endpoint },
	{ "otlp-headers", 0, "OTEL_EXPORTER_OTLP_HEADERS", NULL, SETTING_VALUE, "LIST", NULL,
	  "HTTP headers sent with every export, values percent-decoded",
	  "a comma list of name=value, e.g. authorization=Basic%20abc,x-tenant=a", set_headers,
	  show_headers },
	{ "otlp-traces-headers", 0, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", NULL, SETTING_VALUE,
	  "LIST", NULL, "HTTP headers for span exports (replace --otlp-headers)",
	  "a comma list of name=value, e.g. x-tenant=a", set_traces_headers, show_traces_headers },
	{ "otlp-metrics-headers", 0, "OTEL_EXPORTER_OTLP_METRICS_HEADERS", NULL, SETTING_VALUE,
	  "LIST", NULL, "HTTP headers for metric exports (replace --otlp-headers)",
	  "a comma list of name=value, e.g. x-tenant=a", set_metrics_headers,
	  show_metrics_headers },
	{ "otlp-protocol", 0, "OTEL_EXPORTER_OTLP_PROTOCOL", NULL, SETTING_VALUE, "PROTO",
	  NULL, "OTLP transport; unset: grpc for an endpoint on port 4317, else http/protobuf",
	  "http/protobuf, http/json or grpc", set_protocol, show_protocol },
	{ "otlp-traces-protocol", 0, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	  "otel_traces_export.protocol", SETTING_VALUE, "PROTO", NULL, "OTLP transport for spans",
	  "http/protobuf, http/json or grpc", set_traces_protocol, show_traces_protocol },
	{ "otlp-metrics-protocol", 0, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
	  "otel_metrics_export.protocol", SETTING_VALUE, "PROTO", NULL,
	  "OTLP transport for metrics", "http/protobuf, http/json or grpc", set_metrics_protocol,
	  show_metrics_protocol },
#define TLS_ROW(flag, env, what, name)                                                      \
	{ flag, 0, env, NULL, SETTING_VALUE, "FILE", NULL, what, "a PEM file", set_##name,       \
	  show_##name }
	TLS_ROW("otlp-certificate", "OTEL_EXPORTER_OTLP_CERTIFICATE",
		"CA certificate(s) trusted for https endpoints instead of the system's", certificate),
	TLS_ROW("otlp-client-certificate", "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
		"client certificate presented to https endpoints", client_certificate),
	TLS_ROW("otlp-client-key", "OTEL_EXPORTER_OTLP_CLIENT_KEY",
		"private key of the client certificate", client_key),
	TLS_ROW("otlp-traces-certificate", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
		"CA certificate(s) for the span endpoint", traces_certificate),
	TLS_ROW("otlp-traces-client-certificate", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
		"client certificate for the span endpoint", traces_client_certificate),
	TLS_ROW("otlp-traces-client-key", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
		"client key for the span endpoint", traces_client_key),
	TLS_ROW("otlp-metrics-certificate", "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
		"CA certificate(s) for the metrics endpoint", metrics_certificate),
	TLS_ROW("otlp-metrics-client-certificate",
		"OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
		"client certificate for the metrics endpoint", metrics_client_certificate),
	TLS_ROW("otlp-metrics-client-key", "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
		"client key for the metrics endpoint", metrics_client_key),
#define INSECURE_ROW(flag, env, what, name)                                                 \
	{ flag, 0, env, NULL, SETTING_VALUE, "BOOL", NULL, what, "true or false", set_##name,    \
	  show_##name }
	INSECURE_ROW("otlp-insecure", "OTEL_EXPORTER_OTLP_INSECURE",
		     "a gRPC endpoint written without a scheme is http:// (true) or https:// "
		     "(false, the default)", insecure),
	INSECURE_ROW("otlp-traces-insecure", "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
		     "the same for the span endpoint", traces_insecure),
	INSECURE_ROW("otlp-metrics-insecure", "OTEL_EXPORTER_OTLP_METRICS_INSECURE",
		     "the same for the metrics endpoint", metrics_insecure),
	{ "otlp-traces-insecure-skip-verify", 0, NULL, "otel_traces_export.insecure_skip_verify",
	  SETTING_VALUE, "BOOL", "false",
	  "https to the span endpoint without checking its certificate (testing only)",
	  "true or false", set_traces_skip_verify, show_traces_skip_verify },
	{ "otlp-metrics-insecure-skip-verify", 0, NULL,
	  "otel_metrics_export.insecure_skip_verify", SETTING_VALUE, "BOOL", "false",
	  "https to the metrics endpoint without checking its certificate (testing only)",
	  "true or false", set_metrics_skip_verify, show_metrics_skip_verify },
	{ "otlp-compression", 0, "OTEL_EXPORTER_OTLP_COMPRESSION", NULL, SETTING_VALUE, "ALG",
	  "none", "compress export bodies", "gzip or none", set_compression, show_compression },
	{ "otlp-traces-compression", 0, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", NULL,
	  SETTING_VALUE, "ALG", NULL, "compress span exports", "gzip or none",
	  set_traces_compression, show_traces_compression },
	{ "otlp-metrics-compression", 0, "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", NULL,
	  SETTING_VALUE, "ALG", NULL, "compress metric exports", "gzip or none",
	  set_metrics_compression, show_metrics_compression },
	{ "otlp-timeout", 0, "OTEL_EXPORTER_OTLP_TIMEOUT", NULL, SETTING_VALUE, "MS", "10000",
	  "give up one export request after this long; also bounds the flush at exit",
	  "milliseconds (or a duration such as 10s), 1 ms to 24 h", set_timeout, show_timeout },
	{ "otlp-traces-timeout", 0, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", NULL, SETTING_VALUE,
	  "MS", NULL, "timeout of one span export request",
	  "milliseconds (or a duration such as 10s), 1 ms to 24 h", set_traces_timeout,
	  show_traces_timeout },
	{ "otlp-metrics-timeout", 0, "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", NULL, SETTING_VALUE,
	  "MS", NULL, "timeout of one metric export request",
	  "milliseconds (or a duration such as 10s), 1 ms to 24 h", set_metrics_timeout,
	  show_metrics_timeout },
	{ "bsp-max-queue-size", 0, "OTEL_BSP_MAX_QUEUE_SIZE", "otel_traces_export.max_queue_size",
	  SETTING_VALUE, "N", "2048", "spans held for export at most; more are dropped and counted",
	  "a number from 1 to 1000000", set_queue_size, show_queue_size },
	{ "bsp-max-export-batch-size", 0, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", NULL, SETTING_VALUE,
	  "N", "512", "spans per export request at most (not above the queue size)",
	  "a number from 1 to 1000000", set_batch_size, show_batch_size },
	{ "bsp-schedule-delay", 0, "OTEL_BSP_SCHEDULE_DELAY", "otel_traces_export.batch_timeout",
	  SETTING_VALUE, "MS", "5000",
	  "export the spans held this often (sooner when a batch is full)",
	  "milliseconds (or a duration such as 5s), 1 ms to 24 h", set_schedule_delay,
	  show_schedule_delay },
	/* OBI's OTEL_EBPF_METRICS_INTERVAL comes after the standard name: it wins when both are set */
	{ "metric-export-interval", 0, "OTEL_METRIC_EXPORT_INTERVAL", NULL, SETTING_VALUE, "MS",
	  "60000", "export metrics this often",
	  "milliseconds (or a duration such as 60s), 1 ms to 24 h", set_metric_export_interval,
	  show_metric_export_interval },
	{ "metrics-interval", 0, "OTEL_EBPF_METRICS_INTERVAL", "otel_metrics_export.interval",
	  SETTING_VALUE, "DURATION", NULL,
	  "export metrics this often (OBI's name; wins over OTEL_METRIC_EXPORT_INTERVAL)",
	  "a duration such as 15s or 500ms, 1 ms to 24 h", set_metrics_interval,
	  show_metrics_interval },
	{ "metrics-ttl", 0, "OTEL_EBPF_METRICS_TTL", "otel_metrics_export.ttl", SETTING_VALUE,
	  "DURATION", "5m", "forget the metric series of a process this long after it exited",
	  "a duration such as 5m or 30s, 1 ms to 24 h", set_metrics_ttl, show_metrics_ttl },
	{ "prometheus-port", 0, "OTEL_EBPF_PROMETHEUS_PORT", "prometheus_export.port",
	  SETTING_VALUE, "PORT", "0",
	  "serve the metrics for Prometheus to scrape on this port (0: off); OTLP export is not "
	  "needed for it", "a port number from 0 to 65535", set_prometheus_port,
	  show_prometheus_port },
	{ "prometheus-path", 0, "OTEL_EBPF_PROMETHEUS_PATH", "prometheus_export.path",
	  SETTING_VALUE, "PATH", "/metrics", "the scrape endpoint's path (GET and HEAD only)",
	  "an absolute url path, e.g. /metrics", set_prometheus_path, show_prometheus_path },
	{ "prometheus-address", 0, "OTEL_EBPF_PROMETHEUS_ADDRESS", "prometheus_export.address",
	  SETTING_VALUE, "ADDR", NULL,
	  "listen on this address only (default: every interface, IPv6 and IPv4, as OBI; "
	  "obi's own setting)", "an IPv4 or IPv6 address, e.g. 127.0.0.1 or ::1",
	  set_prometheus_address, show_prometheus_address },
	{ "traces-sampler", 0, "OTEL_TRACES_SAMPLER", "otel_traces_export.sampler.name",
	  SETTING_VALUE, "NAME", "parentbased_always_on",
	  "which spans are exported (the printer and metrics see all of them)",
	  "parentbased_always_on, parentbased_always_off, parentbased_traceidratio, always_on, "
	  "always_off or traceidratio", set_sampler, show_sampler },
	{ "traces-sampler-arg", 0, "OTEL_TRACES_SAMPLER_ARG", "otel_traces_export.sampler.arg",
	  SETTING_VALUE, "RATIO", "1.0", "share of traces the traceidratio samplers keep",
	  "a number from 0 to 1, e.g. 0.25", set_sampler_arg, show_sampler_arg },
	{ "resource-attributes", 0, "OTEL_RESOURCE_ATTRIBUTES", NULL, SETTING_VALUE, "LIST", NULL,
	  "resource attributes added to every exported process (obi's own keys keep obi's value)",
	  "a comma list of key=value, e.g. deployment.environment=prod",
	  set_resource_attributes, show_resource_attributes },
	{ "print-config", 0, NULL, NULL, SETTING_SWITCH, NULL, NULL,
	  "print the merged configuration as YAML and exit", NULL, set_print_config, NULL },
	{ "help-markdown", 0, NULL, NULL, SETTING_SWITCH, NULL, NULL,
	  "print this reference as a Markdown table and exit", NULL, set_help_markdown, NULL },
	{ "demo", 0, NULL, NULL, SETTING_SWITCH, NULL, NULL,
	  "run the built-in demo (also the mode when no process is selected)", NULL, set_demo,
	  NULL },
	{ "help", 'h', NULL, NULL, SETTING_SWITCH, NULL, NULL, "show this help and exit", NULL,
	  set_help, NULL },
	{ "version", 'V', NULL, NULL, SETTING_SWITCH, NULL, NULL, "show the version and exit",
	  NULL, set_version, NULL },
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

const size_t settings_count = N_SETTINGS;

/* The keys of a discovery.instrument or exclude_instrument entry (config_selector_set). */
const struct setting_entry_key settings_entry_keys[] = {
	{ "open_ports", "a comma list of ports and ranges, e.g. 80,443,8000-8999",
	  "the process listens on one of these ports" },
	{ "exe_path", "a glob on the executable path, e.g. \"*/python3*\" or \"{*nginx,*envoy}\"",
	  "its executable path matches this glob" },
	{ "target_pids", "a comma list (or a YAML list) of process ids, e.g. 1234,5678",
	  "it is one of these processes (obi's own key: OBI has no YAML key for pids)" },
	{ "target_pid_namespaces",
	  "a comma list of namespace inodes, pid:[inode] or paths, e.g. /proc/1234/ns/pid",
	  "it runs in one of these PID namespaces (obi's own key)" },
	{ "containers_only", "true or false",
	  "it runs in another network namespace than obi (a container)" },
	{ "name", "a service name, e.g. checkout",
	  "not a criterion: the service name given to what the entry selects" },
};

const size_t settings_entry_key_count =
	sizeof(settings_entry_keys) / sizeof(settings_entry_keys[0]);

/* --- where each value came from --------------------------------------------------------------- */

static struct {
	enum setting_origin kind;
	unsigned line;		/* SETTING_ORIGIN_YAML */
} origins[SETTINGS_MAX];

_Static_assert(N_SETTINGS <= SETTINGS_MAX, "SETTINGS_MAX too small");

void settings_clear_origins(void)
{
	memset(origins, 0, sizeof(origins));
}

enum setting_origin settings_origin(const struct setting *st, unsigned *line)
{
	*line = origins[st - settings].line;
	return origins[st - settings].kind;
}

const struct setting *settings_find_env(const char *env)
{
	for (const struct setting *st = settings; st < settings + N_SETTINGS; st++)
		if (st->env && !strcmp(st->env, env))
			return st;
	return NULL;
}

/* Writes s on one line: control characters as \xNN. */
void settings_put_clean(FILE *out, const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			fprintf(out, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, out);
	}
}

void settings_put_quoted(FILE *out, const char *s)
{
	fputc('"', out);
	settings_put_clean(out, s);
	fputc('"', out);
}

int settings_apply(struct obi_config *cfg, const struct setting *st, const char *where,
		   const char *name, const char *val, FILE *err, enum setting_origin origin,
		   unsigned line)
{
	struct setting_why why = { "", "" };

	if (!st->parse(cfg, val, &why)) {
		if (why.warn[0]) {
			fprintf(err, "obi: warning: %s%s ", where, name);
			settings_put_quoted(err, val);
			fprintf(err, ": %s\n", why.warn);
		}
		origins[st - settings].kind = origin;
		origins[st - settings].line = line;
		return 0;
	}
	fprintf(err, "obi: %sinvalid %s ", where, name);
	settings_put_quoted(err, val);
	fputs(": ", err);
	settings_put_clean(err, why.text);
	fprintf(err, " (expected %s)\n", st->expected);
	return -EINVAL;
}
