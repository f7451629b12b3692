// SPDX-License-Identifier: Apache-2.0
/*
 * OTLP, batch, metric and sampler settings: defaults, per-signal resolution, precedence
 * (flags over environment, OBI's metrics interval over the standard one), header and resource
 * attribute lists, durations, the one-line errors for bad values, and the exporter's options
 * obi builds from them (export_config.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "export_config.h"
#include "parse.h"
#include "config_load.h"

static void test_defaults(void)
{
	CHECK_INT(load(NO_ARGS, NO_ENV), 0);
	CHECK_STR(errors, "");
	CHECK(!config_otlp_enabled(&cfg));
	CHECK_STR(cfg.traces.url, "");
	CHECK_STR(cfg.metrics.url, "");
	CHECK_INT(cfg.traces.timeout_ms, 10000);
	CHECK_INT(cfg.metrics.timeout_ms, 10000);
	CHECK_INT(cfg.traces.compression, OTLP_COMPRESSION_NONE);
	CHECK_INT(cfg.bsp_max_queue_size, 2048);
	CHECK_INT(cfg.bsp_max_export_batch_size, 512);
	CHECK_INT(cfg.bsp_schedule_delay_ms, 5000);
	CHECK_INT(cfg.metric_interval_ms, 60000);
	CHECK_INT(cfg.metrics_ttl_ms, 300000);
	CHECK_INT(cfg.sampler, SAMPLER_PARENTBASED_ALWAYS_ON);
	CHECK(cfg.sampler_ratio == 1.0);
	CHECK_STR(cfg.resource_attributes, "");
	CHECK_INT(cfg.trace_printer, PRINTER_TEXT);
}

static void test_endpoints(void)
{
	/* the base gets the signal paths, also after a trailing slash */
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318")), 0);
	CHECK_STR(cfg.traces.url, "http://c:4318/v1/traces");
	CHECK_STR(cfg.metrics.url, "http://c:4318/v1/metrics");
	CHECK(config_otlp_enabled(&cfg));
	CHECK_INT(cfg.trace_printer, PRINTER_DISABLED);
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EXPORTER_OTLP_ENDPOINT=https://c:4318/otlp/")), 0);
	CHECK_STR(cfg.traces.url, "https://c:4318/otlp/v1/traces");
	CHECK_STR(cfg.metrics.url, "https://c:4318/otlp/v1/metrics");

	/* per-signal endpoints are used as they are and win over the base */
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318",
				    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://t:1/custom")),
		  0);
	CHECK_STR(cfg.traces.url, "http://t:1/custom");
	CHECK_STR(cfg.metrics.url, "http://c:4318/v1/metrics");

	/* metrics only: spans are printed (text) since they are not exported */
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://m:2/m")), 0);
	CHECK_STR(cfg.traces.url, "");
	CHECK_STR(cfg.metrics.url, "http://m:2/m");
	CHECK(config_otlp_enabled(&cfg));
	CHECK_INT(cfg.trace_printer, PRINTER_TEXT);

	/* flags over the environment */
	CHECK_INT(load(ARGS("--otlp-traces-endpoint", "http://flag/t"),
		       ENV("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://env/t")),
		  0);
	CHECK_STR(cfg.traces.url, "http://flag/t");
}

static void test_signal_settings(void)
{
	char **env = ENV(
	    "OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318",
	    "OTEL_EXPORTER_OTLP_HEADERS=api-key=s%3Dcret, x-tenant = a b ",
	    "OTEL_EXPORTER_OTLP_METRICS_HEADERS=x-only=m", "OTEL_EXPORTER_OTLP_COMPRESSION=gzip",
	    "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION=none", "OTEL_EXPORTER_OTLP_TIMEOUT=2500",
	    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=3s", "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
	    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf");

	CHECK_INT(load(NO_ARGS, env), 0);
	CHECK_STR(errors, "");
	CHECK_STR(cfg.traces.headers, "api-key=s%3Dcret, x-tenant = a b ");
	CHECK_STR(cfg.metrics.headers, "x-only=m");
	CHECK_INT(cfg.traces.compression, OTLP_COMPRESSION_GZIP);
	CHECK_INT(cfg.metrics.compression, OTLP_COMPRESSION_NONE);
	CHECK_INT(cfg.traces.timeout_ms, 3000);
	CHECK_INT(cfg.metrics.timeout_ms, 2500);
	CHECK_INT(load(ARGS("--otlp-compression=none", "--otlp-timeout", "700"), env), 0);
	CHECK_INT(cfg.traces.compression, OTLP_COMPRESSION_NONE);
	CHECK_INT(cfg.traces.timeout_ms, 3000); /* the per-signal env still wins over general */
	CHECK_INT(cfg.metrics.timeout_ms, 700);
	CHECK_INT(cfg.traces.protocol, OTLP_PROTOCOL_HTTP_PROTOBUF);
	CHECK_INT(cfg.metrics.protocol, OTLP_PROTOCOL_HTTP_PROTOBUF);
	/* http/json: the general setting for both signals, a per-signal one for its signal */
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EXPORTER_OTLP_PROTOCOL=http/json")), 0);
	CHECK_INT(cfg.traces.protocol, OTLP_PROTOCOL_HTTP_JSON);
	CHECK_INT(cfg.metrics.protocol, OTLP_PROTOCOL_HTTP_JSON);
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=http/json")), 0);
	CHECK_INT(cfg.traces.protocol, OTLP_PROTOCOL_HTTP_PROTOBUF);
	CHECK_INT(cfg.metrics.protocol, OTLP_PROTOCOL_HTTP_JSON);
	/* grpc: the endpoint as given, no /v1/ path; inferred from port 4317 when no protocol is
	 * set, for the signal whose endpoint it is */
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4317")), 0);
	CHECK_INT(cfg.traces.protocol, OTLP_PROTOCOL_GRPC);
	CHECK_INT(cfg.metrics.protocol, OTLP_PROTOCOL_GRPC);
	CHECK_STR(cfg.traces.url, "http://c:4317");
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4317",
				    "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf")),
		  0);
	CHECK_INT(cfg.traces.protocol, OTLP_PROTOCOL_HTTP_PROTOBUF);
	CHECK_STR(cfg.traces.url, "http://c:4317/v1/traces");
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://c:43170",
				    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=https://[::1]:4317/",
				    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc")),
		  0);
	CHECK_INT(cfg.traces.protocol, OTLP_PROTOCOL_GRPC);
	CHECK_STR(cfg.traces.url, "http://c:43170");
	CHECK_INT(cfg.metrics.protocol, OTLP_PROTOCOL_GRPC);
	CHECK_STR(cfg.metrics.url, "https://[::1]:4317/");
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://[::4317]:80")), 0);
	CHECK_INT(cfg.traces.protocol, OTLP_PROTOCOL_HTTP_PROTOBUF);
}

/* TLS files (general, per signal), OTEL_EXPORTER_OTLP_INSECURE for a gRPC endpoint written
 * without a scheme, and what reaches the exporter's options. */
static void test_tls_settings(void)
{
	struct otlp_options o;

	CHECK_INT(load(NO_ARGS, ENV("OTEL_EXPORTER_OTLP_ENDPOINT=https://c:4318",
				    "OTEL_EXPORTER_OTLP_CERTIFICATE=/ca.pem",
				    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=/cert.pem",
				    "OTEL_EXPORTER_OTLP_CLIENT_KEY=/key.pem",
				    "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE=/mca.pem",
				    "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY=/mkey.pem")),
		  0);
	CHECK_STR(errors, "");
	export_config_otlp(&cfg, &o);
	CHECK_STR(o.traces.certificate, "/ca.pem");
	CHECK_STR(o.traces.client_certificate, "/cert.pem");
	CHECK_STR(o.traces.client_key, "/key.pem");
	CHECK_STR(o.metrics.certificate, "/mca.pem");
	CHECK_STR(o.metrics.client_certificate, "/cert.pem");
	CHECK_STR(o.metrics.client_key, "/mkey.pem");
	CHECK(!o.traces.skip_verify && !o.metrics.skip_verify);

	/* host:port: gRPC (inferred from 4317 or asked for), https unless INSECURE is true */
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EXPORTER_OTLP_ENDPOINT=collector:4317")), 0);
	CHECK_INT(cfg.traces.protocol, OTLP_PROTOCOL_GRPC);
	CHECK_STR(cfg.traces.url, "https://collector:4317");
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EXPORTER_OTLP_ENDPOINT=collector:4317",
				    "OTEL_EXPORTER_OTLP_INSECURE=true")),
		  0);
	CHECK_STR(cfg.traces.url, "http://collector:4317");
	CHECK_STR(cfg.metrics.url, "http://collector:4317");
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EXPORTER_OTLP_ENDPOINT=collector:9000",
				    "OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
				    "OTEL_EXPORTER_OTLP_INSECURE=true",
				    "OTEL_EXPORTER_OTLP_METRICS_INSECURE=false")),
		  0);
	CHECK_STR(cfg.traces.url, "http://collector:9000");
	CHECK_STR(cfg.metrics.url, "https://collector:9000");
	/* a scheme wins over INSECURE */
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EXPORTER_OTLP_ENDPOINT=https://collector:4317",
				    "OTEL_EXPORTER_OTLP_INSECURE=true")),
		  0);
	CHECK_STR(cfg.traces.url, "https://collector:4317");
	/* OTLP/HTTP needs its scheme */
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EXPORTER_OTLP_ENDPOINT=collector:4318")), -EINVAL);
	CHECK(strstr(errors, "invalid OTEL_EXPORTER_OTLP_ENDPOINT \"collector:4318\": not an http") != NULL);
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EXPORTER_OTLP_INSECURE=maybe")), -EINVAL);
	CHECK(strstr(errors, "OTEL_EXPORTER_OTLP_INSECURE") != NULL);
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EXPORTER_OTLP_ENDPOINT=ftp://c:21")), -EINVAL);
}

static void test_batch_and_intervals(void)
{
	CHECK_INT(
	    load(NO_ARGS, ENV("OTEL_BSP_MAX_QUEUE_SIZE=100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=100",
			      "OTEL_BSP_SCHEDULE_DELAY=200", "OTEL_METRIC_EXPORT_INTERVAL=1000",
			      "OTEL_EBPF_METRICS_TTL=30s")),
	    0);
	CHECK_STR(errors, "");
	CHECK_INT(cfg.bsp_max_queue_size, 100);
	CHECK_INT(cfg.bsp_max_export_batch_size, 100);
	CHECK_INT(cfg.bsp_schedule_delay_ms, 200);
	CHECK_INT(cfg.metric_interval_ms, 1000);
	CHECK_INT(cfg.metrics_ttl_ms, 30000);

	/* OBI's OTEL_EBPF_METRICS_INTERVAL (a duration) wins over OTEL_METRIC_EXPORT_INTERVAL,
	 * whatever the order in the environment */
	CHECK_INT(load(NO_ARGS,
		       ENV("OTEL_EBPF_METRICS_INTERVAL=15s", "OTEL_METRIC_EXPORT_INTERVAL=1000")),
		  0);
	CHECK_INT(cfg.metric_interval_ms, 15000);
	CHECK_INT(load(NO_ARGS,
		       ENV("OTEL_METRIC_EXPORT_INTERVAL=1000", "OTEL_EBPF_METRICS_INTERVAL=500ms")),
		  0);
	CHECK_INT(cfg.metric_interval_ms, 500);
	/* and a flag wins over both */
	CHECK_INT(
	    load(ARGS("--metric-export-interval=2000"), ENV("OTEL_EBPF_METRICS_INTERVAL=15s")), 0);
	CHECK_INT(cfg.metric_interval_ms, 2000);
}

static void test_durations(void)
{
	uint64_t ns;

	CHECK_INT(parse_duration("500ms", &ns), 0);
	CHECK_INT(ns, 500000000ULL);
	CHECK_INT(parse_duration("1m30s", &ns), 0);
	CHECK_INT(ns, 90000000000ULL);
	CHECK_INT(parse_duration("1.5s", &ns), 0);
	CHECK_INT(ns, 1500000000ULL);
	CHECK_INT(parse_duration("2h", &ns), 0);
	CHECK_INT(ns, 7200000000000ULL);
	CHECK_INT(parse_duration("10us", &ns), 0);
	CHECK_INT(ns, 10000);
	CHECK_INT(parse_duration("10\xc2\xb5s", &ns), 0);
	CHECK_INT(ns, 10000);
	CHECK_INT(parse_duration("7ns", &ns), 0);
	CHECK_INT(ns, 7);
	CHECK_INT(parse_duration(" 5m ", &ns), 0);
	CHECK_INT(ns, 300000000000ULL);
	CHECK_INT(parse_duration("0", &ns), 0);
	CHECK_INT(ns, 0);
	CHECK_INT(parse_duration("15", &ns), -EINVAL);
	CHECK_INT(parse_duration("", &ns), -EINVAL);
	CHECK_INT(parse_duration("s", &ns), -EINVAL);
	CHECK_INT(parse_duration("-5s", &ns), -EINVAL);
	CHECK_INT(parse_duration("5 s", &ns), -EINVAL);
	CHECK_INT(parse_duration("5d", &ns), -EINVAL);
	CHECK_INT(parse_duration("1e3s", &ns), -EINVAL);
}

struct pairs {
	char text[512];
	size_t n;
};

static int collect(const char *key, const char *value, void *ctx)
{
	struct pairs *p = ctx;
	size_t len = strlen(p->text);

	snprintf(p->text + len, sizeof(p->text) - len, "[%s]=[%s]", key, value);
	p->n++;
	return 0;
}

static int kv(const char *s, struct pairs *p, char *why, size_t why_size)
{
	memset(p, 0, sizeof(*p));
	return parse_kv_list(s, collect, p, why, why_size);
}

static void test_kv_lists(void)
{
	struct pairs p;
	char why[256];

	CHECK_INT(kv("a=1,b=2", &p, why, sizeof(why)), 0);
	CHECK_STR(p.text, "[a]=[1][b]=[2]");
	/* spaces around items, keys and values go; inner ones stay; values percent-decoded */
	CHECK_INT(kv(" authorization = Basic%20dXNlcg%3D%3D , x = a b ", &p, why, sizeof(why)), 0);
	CHECK_STR(p.text, "[authorization]=[Basic dXNlcg==][x]=[a b]");
	CHECK_INT(kv("k=", &p, why, sizeof(why)), 0);
	CHECK_STR(p.text, "[k]=[]");
	CHECK_INT(kv("k=a=b", &p, why, sizeof(why)), 0);
	CHECK_STR(p.text, "[k]=[a=b]");
	CHECK_INT(kv("k=%e2%82%ac", &p, why, sizeof(why)), 0);
	CHECK_STR(p.text, "[k]=[\xe2\x82\xac]");
	CHECK_INT(kv("", &p, why, sizeof(why)), 0);
	CHECK_INT(p.n, 0);
	CHECK_INT(kv("  ", &p, why, sizeof(why)), 0);
	CHECK_INT(p.n, 0);

	CHECK_INT(kv("novalue", &p, why, sizeof(why)), -EINVAL);
	CHECK_STR(why, "\"novalue\" has no '='");
	CHECK_INT(kv("=v", &p, why, sizeof(why)), -EINVAL);
	CHECK_STR(why, "empty key in \"=v\"");
	CHECK_INT(kv("a=1,,b=2", &p, why, sizeof(why)), -EINVAL);
	CHECK_STR(why, "empty item in the list");
	CHECK_INT(kv("a=%zz", &p, why, sizeof(why)), -EINVAL);
	CHECK_STR(why, "bad percent escape in \"%zz\"");
	CHECK_INT(kv("a=%4", &p, why, sizeof(why)), -EINVAL);
	CHECK_INT(kv("a=x%0d%0ay", &p, why, sizeof(why)), -EINVAL);
	CHECK_STR(why, "control character in \"x%0d%0ay\"");
	CHECK_INT(kv("a=%00", &p, why, sizeof(why)), -EINVAL);
	/* the callback's answer stops the walk and is returned */
	CHECK_INT(parse_kv_list("a=1", NULL, NULL, NULL, 0), 0);

	CHECK_INT(load(NO_ARGS, ENV("OTEL_RESOURCE_ATTRIBUTES=deployment.environment=prod,"
				    "team=a%2Cb")),
		  0);
	CHECK_STR(cfg.resource_attributes, "deployment.environment=prod,team=a%2Cb");
}

static void test_sampler(void)
{
	static const struct {
		const char *name;
		enum sampler_kind kind;
	} names[] = {
	    {"parentbased_always_on", SAMPLER_PARENTBASED_ALWAYS_ON},
	    {"parentbased_always_off", SAMPLER_PARENTBASED_ALWAYS_OFF},
	    {"parentbased_traceidratio", SAMPLER_PARENTBASED_TRACEIDRATIO},
	    {"always_on", SAMPLER_ALWAYS_ON},
	    {"always_off", SAMPLER_ALWAYS_OFF},
	    {"TraceIdRatio", SAMPLER_TRACEIDRATIO},
	};
	char env[128];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(env, sizeof(env), "OTEL_TRACES_SAMPLER=%s", names[i].name);
		CHECK_INT(load(NO_ARGS, ENV(env)), 0);
		CHECK_INT(cfg.sampler, names[i].kind);
	}
	CHECK_INT(
	    load(NO_ARGS, ENV("OTEL_TRACES_SAMPLER=traceidratio", "OTEL_TRACES_SAMPLER_ARG=0.25")),
	    0);
	CHECK(cfg.sampler_ratio == 0.25);
	CHECK_INT(load(ARGS("--traces-sampler-arg", "0"), ENV("OTEL_TRACES_SAMPLER_ARG=0.25")), 0);
	CHECK(cfg.sampler_ratio == 0.0);
}

/* Every setting the exporter uses reaches its options, per signal and with each sampler. */
static void test_export_options(void)
{
	static const struct {
		const char *name;
		enum otlp_sampler kind;
	} samplers[] = {
	    {"parentbased_always_on", OTLP_SAMPLER_PARENTBASED_ALWAYS_ON},
	    {"parentbased_always_off", OTLP_SAMPLER_PARENTBASED_ALWAYS_OFF},
	    {"parentbased_traceidratio", OTLP_SAMPLER_PARENTBASED_TRACEIDRATIO},
	    {"always_on", OTLP_SAMPLER_ALWAYS_ON},
	    {"always_off", OTLP_SAMPLER_ALWAYS_OFF},
	    {"traceidratio", OTLP_SAMPLER_TRACEIDRATIO},
	};
	struct otlp_options o;
	char env[128];
	size_t i;

	CHECK_INT(
	    load(NO_ARGS,
		 ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318",
		     "OTEL_EXPORTER_OTLP_TRACES_HEADERS=k=v",
		     "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=gzip",
		     "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT=700", "OTEL_RESOURCE_ATTRIBUTES=team=a",
		     "OTEL_BSP_MAX_QUEUE_SIZE=100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=10",
		     "OTEL_BSP_SCHEDULE_DELAY=200", "OTEL_METRIC_EXPORT_INTERVAL=1000",
		     "OTEL_EBPF_METRICS_TTL=30s", "OTEL_TRACES_SAMPLER_ARG=0.25")),
	    0);
	export_config_otlp(&cfg, &o);
	CHECK_STR(o.traces.url, "http://c:4318/v1/traces");
	CHECK_STR(o.metrics.url, "http://c:4318/v1/metrics");
	CHECK_STR(o.traces.headers, "k=v");
	CHECK_STR(o.metrics.headers, "");
	CHECK_INT(o.traces.compression, OTLP_COMPRESS_GZIP);
	CHECK_INT(o.metrics.compression, OTLP_COMPRESS_NONE);
	CHECK(!o.traces.json && !o.metrics.json);
	CHECK_INT(o.traces.timeout_ms, 10000);
	CHECK_INT(o.metrics.timeout_ms, 700);
	CHECK_STR(o.resource_attributes, "team=a");
	CHECK_INT(o.max_queue_size, 100);
	CHECK_INT(o.max_export_batch_size, 10);
	CHECK_INT(o.schedule_delay_ms, 200);
	CHECK_INT(o.metric_interval_ms, 1000);
	CHECK_INT(o.metrics_ttl_ms, 30000);
	CHECK_INT(o.sampler, OTLP_SAMPLER_PARENTBASED_ALWAYS_ON);
	CHECK(o.sampler_ratio == 0.25);

	for (i = 0; i < sizeof(samplers) / sizeof(samplers[0]); i++) {
		snprintf(env, sizeof(env), "OTEL_TRACES_SAMPLER=%s", samplers[i].name);
		CHECK_INT(load(NO_ARGS, ENV(env)), 0);
		export_config_otlp(&cfg, &o);
		CHECK_INT(o.sampler, samplers[i].kind);
		CHECK_STR(o.traces.url, ""); /* nothing exported */
	}
}

static void test_bad_values(void)
{
	static const struct {
		const char *env;
		const char *line;
	} bad[] = {
	    {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc/json",
	     "obi: invalid OTEL_EXPORTER_OTLP_TRACES_PROTOCOL \"grpc/json\": unknown protocol "
	     "(expected http/protobuf, http/json or grpc)\n"},
	    {"OTEL_EXPORTER_OTLP_PROTOCOL=udp",
	     "obi: invalid OTEL_EXPORTER_OTLP_PROTOCOL \"udp\": unknown protocol (expected "
	     "http/protobuf, http/json or grpc)\n"},
	    {"OTEL_EXPORTER_OTLP_COMPRESSION=zstd",
	     "obi: invalid OTEL_EXPORTER_OTLP_COMPRESSION \"zstd\": unknown compression "
	     "(expected gzip or none)\n"},
	    {"OTEL_EXPORTER_OTLP_TIMEOUT=soon",
	     "obi: invalid OTEL_EXPORTER_OTLP_TIMEOUT \"soon\": not a duration (expected "
	     "milliseconds (or a duration such as 10s), 1 ms to 24 h)\n"},
	    {"OTEL_EXPORTER_OTLP_TIMEOUT=0",
	     "obi: invalid OTEL_EXPORTER_OTLP_TIMEOUT \"0\": out of range 1 ms - 24 h "
	     "(expected milliseconds (or a duration such as 10s), 1 ms to 24 h)\n"},
	    {"OTEL_BSP_MAX_QUEUE_SIZE=0",
	     "obi: invalid OTEL_BSP_MAX_QUEUE_SIZE \"0\": out of range 1-1000000 (expected a "
	     "number from 1 to 1000000)\n"},
	    {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE=-1",
	     "obi: invalid OTEL_BSP_MAX_EXPORT_BATCH_SIZE \"-1\": not a number (expected a "
	     "number from 1 to 1000000)\n"},
	    {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE=4096",
	     "obi: invalid OTEL_BSP_MAX_EXPORT_BATCH_SIZE \"4096\": larger than "
	     "OTEL_BSP_MAX_QUEUE_SIZE (2048) (expected a number from 1 to the queue size)\n"},
	    {"OTEL_BSP_SCHEDULE_DELAY=5x",
	     "obi: invalid OTEL_BSP_SCHEDULE_DELAY \"5x\": not a duration (expected "
	     "milliseconds (or a duration such as 5s), 1 ms to 24 h)\n"},
	    {"OTEL_EBPF_METRICS_INTERVAL=15",
	     "obi: invalid OTEL_EBPF_METRICS_INTERVAL \"15\": missing unit (expected a "
	     "duration such as 15s or 500ms, 1 ms to 24 h)\n"},
	    {"OTEL_METRIC_EXPORT_INTERVAL=25h",
	     "obi: invalid OTEL_METRIC_EXPORT_INTERVAL \"25h\": out of range 1 ms - 24 h "
	     "(expected milliseconds (or a duration such as 60s), 1 ms to 24 h)\n"},
	    {"OTEL_TRACES_SAMPLER=sometimes",
	     "obi: invalid OTEL_TRACES_SAMPLER \"sometimes\": unknown sampler (expected "
	     "parentbased_always_on, parentbased_always_off, parentbased_traceidratio, "
	     "always_on, always_off or traceidratio)\n"},
	    {"OTEL_TRACES_SAMPLER_ARG=1.5",
	     "obi: invalid OTEL_TRACES_SAMPLER_ARG \"1.5\": not a ratio between 0 and 1 "
	     "(expected a number from 0 to 1, e.g. 0.25)\n"},
	    {"OTEL_TRACES_SAMPLER_ARG=half",
	     "obi: invalid OTEL_TRACES_SAMPLER_ARG \"half\": not a ratio between 0 and 1 "
	     "(expected a number from 0 to 1, e.g. 0.25)\n"},
	    {"OTEL_EXPORTER_OTLP_HEADERS=novalue",
	     "obi: invalid OTEL_EXPORTER_OTLP_HEADERS \"novalue\": \"novalue\" has no '=' "
	     "(expected a comma list of name=value, e.g. authorization=Basic%20abc,x-tenant=a)"
	     "\n"},
	    {"OTEL_EXPORTER_OTLP_TRACES_HEADERS=bad name=1",
	     "obi: invalid OTEL_EXPORTER_OTLP_TRACES_HEADERS \"bad name=1\": \"bad name\" is "
	     "not a valid header name (expected a comma list of name=value, e.g. "
	     "x-tenant=a)\n"},
	    {"OTEL_EXPORTER_OTLP_METRICS_HEADERS=a=%0d%0aInjected: 1",
	     "obi: invalid OTEL_EXPORTER_OTLP_METRICS_HEADERS \"a=%0d%0aInjected: 1\": control "
	     "character in \"%0d%0aInjected: 1\" (expected a comma list of name=value, e.g. "
	     "x-tenant=a)\n"},
	    {"OTEL_RESOURCE_ATTRIBUTES=a=1,b",
	     "obi: invalid OTEL_RESOURCE_ATTRIBUTES \"a=1,b\": \"b\" has no '=' (expected a "
	     "comma list of key=value, e.g. deployment.environment=prod)\n"},
	    {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=collector:4318",
	     "obi: invalid OTEL_EXPORTER_OTLP_TRACES_ENDPOINT \"collector:4318\": not an "
	     "http:// or https:// url (only an OTLP/gRPC endpoint may be written without a "
	     "scheme) (expected an http:// or https:// url, e.g. http://localhost:4318/v1/traces)\n"},
	    {"OTEL_EBPF_METRICS_TTL=forever",
	     "obi: invalid OTEL_EBPF_METRICS_TTL \"forever\": not a duration (expected a "
	     "duration such as 5m or 30s, 1 ms to 24 h)\n"},
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(load(NO_ARGS, ENV((char *)bad[i].env)), -EINVAL);
		if (strcmp(errors, bad[i].line))
			fprintf(stderr, "for %s\n", bad[i].env);
		CHECK_STR(errors, bad[i].line);
	}
	/* flags are named as flags */
	CHECK_INT(load(ARGS("--otlp-protocol=udp"), NO_ENV), -EINVAL);
	CHECK_STR(errors, "obi: invalid --otlp-protocol \"udp\": unknown protocol (expected "
			  "http/protobuf, http/json or grpc)\n");
	CHECK_INT(
	    load(ARGS("--bsp-max-queue-size", "10", "--bsp-max-export-batch-size=11"), NO_ENV),
	    -EINVAL);
	CHECK(strstr(errors, "larger than OTEL_BSP_MAX_QUEUE_SIZE (10)"));
}

static void test_help(void)
{
	static const char *const names[] = {
	    "OTEL_EXPORTER_OTLP_ENDPOINT",
	    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
	    "OTEL_EXPORTER_OTLP_HEADERS",
	    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
	    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
	    "OTEL_EXPORTER_OTLP_PROTOCOL",
	    "OTEL_EXPORTER_OTLP_COMPRESSION, default none",
	    "OTEL_EXPORTER_OTLP_TIMEOUT, default 10000",
	    "OTEL_BSP_MAX_QUEUE_SIZE, default 2048",
	    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE, default 512",
	    "OTEL_BSP_SCHEDULE_DELAY, default 5000",
	    "OTEL_METRIC_EXPORT_INTERVAL, default 60000",
	    "OTEL_EBPF_METRICS_INTERVAL",
	    "OTEL_EBPF_METRICS_TTL, default 5m",
	    "OTEL_TRACES_SAMPLER, default parentbased_always_on",
	    "OTEL_TRACES_SAMPLER_ARG",
	    "OTEL_RESOURCE_ATTRIBUTES",
	    "--otlp-traces-endpoint",
	    "--bsp-schedule-delay",
	    "--traces-sampler",
	};
	char *text = NULL;
	size_t size = 0, i;
	FILE *out = open_memstream(&text, &size);

	config_print_help(out);
	fclose(out);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strstr(text, names[i]))
			fprintf(stderr, "help does not list %s\n", names[i]);
		CHECK(strstr(text, names[i]));
	}
	free(text);
}

int main(void)
{
	test_defaults();
	test_endpoints();
	test_signal_settings();
	test_tls_settings();
	test_batch_and_intervals();
	test_durations();
	test_kv_lists();
	test_sampler();
	test_export_options();
	test_bad_values();
	test_help();
	return check_done("test_otlp_config");
}
