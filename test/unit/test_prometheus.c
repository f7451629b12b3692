// SPDX-License-Identifier: Apache-2.0
/*
 * The Prometheus renderer: the exact text 0.0.4 and OpenMetrics 1.0 bodies of a known snapshot
 * (names with unit suffixes, cumulative buckets to +Inf, _sum and _count, job, instance and
 * scope labels, target_info), label value escaping and UTF-8 repair, label name sanitizing and
 * collisions, series of one job and instance summed, and the Accept header negotiation.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "check.h"
#include "config.h"
#include "encode.h"
#include "exporter.h"
#include "metrics.h"
#include "prometheus.h"
#include "resource.h"

#define T0 1765283285128844123ULL
#define MS 1000000ULL

static void set_addr(struct span_addr *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	CHECK(inet_pton(AF_INET, ip, a->addr) == 1);
	a->family = AF_INET;
	a->port = port;
}

static struct otlp_resource *resource(uint32_t pid, const char *service, const char *exe)
{
	struct proc_info pi;

	memset(&pi, 0, sizeof(pi));
	pi.pid = pid;
	snprintf(pi.exe, sizeof(pi.exe), "%s", exe);
	snprintf(pi.comm, sizeof(pi.comm), "%s", strrchr(exe, '/') + 1);
	snprintf(pi.service_name, sizeof(pi.service_name), "%s", service);
	snprintf(pi.language, sizeof(pi.language), "python");
	return otlp_resource_new(&pi);
}

/* A Redis LPUSH answered with an error after 2 ms. */
static void redis_span(struct span *s)
{
	memset(s, 0, sizeof(*s));
	s->kind = SPAN_CLIENT;
	s->proto = SPAN_REDIS;
	s->db_system = SPAN_DB_REDIS;
	s->start_ns = T0;
	s->end_ns = T0 + 2 * MS;
	strcpy(s->db_operation, "LPUSH");
	s->error = true;
	strcpy(s->db_status, "WRONGTYPE");
	set_addr(&s->local, "10.0.0.1", 50000);
	set_addr(&s->remote, "10.0.0.7", 6379);
}

static void server_span(struct span *s, const char *route, uint64_t dur_ns, uint64_t resp)
{
	memset(s, 0, sizeof(*s));
	s->kind = SPAN_SERVER;
	s->proto = SPAN_HTTP;
	s->start_ns = T0;
	s->end_ns = T0 + dur_ns;
	strcpy(s->method, "GET");
	snprintf(s->route, sizeof(s->route), "%s", route);
	s->status = 200;
	s->resp_body_size = resp;
	set_addr(&s->local, "10.0.0.1", 8080);
	set_addr(&s->remote, "10.0.0.2", 40000);
}

static char *render(struct otlp_encoder *enc, struct otlp_metrics *m, enum otlp_prom_format f)
{
	struct otlp_series *snap;
	size_t n, len = 0;
	char *out = NULL;

	CHECK_INT(otlp_metrics_snapshot(m, &snap, &n), 0);
	CHECK_INT(otlp_prom_render(enc, snap, n, f, &out, &len), 0);
	otlp_metrics_snapshot_free(snap, n);
	CHECK(out != NULL);
	if (out)
		CHECK_INT(strlen(out), len);
	return out ? out : strdup("");
}

#define LABELS_DB                                                                                  \
	"db_operation_name=\"LPUSH\",db_system_name=\"redis\",error_type=\"WRONGTYPE\","           \
	"instance=\"testhost:100\",job=\"api\",otel_scope_name=\"obi\",otel_scope_version="        \
	"\"" OBI_VERSION "\",server_address=\"10.0.0.7\",server_port=\"6379\""
#define TARGET                                                                                     \
	"target_info{deployment_environment=\"prod\",host_name=\"testhost\",instance=\"testhost:"  \
	"100\",job=\"api\",os_type=\"linux\",process_executable_name=\"api\","                     \
	"process_executable_path=\"/usr/bin/"                                                      \
	"api\",process_pid=\"100\",telemetry_distro_name=\"obi\","                                 \
	"telemetry_distro_version=\"" OBI_VERSION "\",telemetry_sdk_language=\"python\","          \
	"telemetry_sdk_name=\"obi\",telemetry_sdk_version=\"" OBI_VERSION "\"} 1\n"

static const char want_text[] =
    "# HELP target_info Target metadata\n"
    "# TYPE target_info gauge\n" TARGET
    "# HELP db_client_operation_duration_seconds Duration of database client operations.\n"
    "# TYPE db_client_operation_duration_seconds histogram\n"
    "db_client_operation_duration_seconds_bucket{" LABELS_DB ",le=\"0.001\"} 0\n"
    "db_client_operation_duration_seconds_bucket{" LABELS_DB ",le=\"0.005\"} 2\n"
    "db_client_operation_duration_seconds_bucket{" LABELS_DB ",le=\"0.01\"} 2\n"
    "db_client_operation_duration_seconds_bucket{" LABELS_DB ",le=\"0.05\"} 2\n"
    "db_client_operation_duration_seconds_bucket{" LABELS_DB ",le=\"0.1\"} 2\n"
    "db_client_operation_duration_seconds_bucket{" LABELS_DB ",le=\"0.5\"} 2\n"
    "db_client_operation_duration_seconds_bucket{" LABELS_DB ",le=\"1\"} 2\n"
    "db_client_operation_duration_seconds_bucket{" LABELS_DB ",le=\"5\"} 2\n"
    "db_client_operation_duration_seconds_bucket{" LABELS_DB ",le=\"10\"} 3\n"
    "db_client_operation_duration_seconds_bucket{" LABELS_DB ",le=\"+Inf\"} 3\n"
    "db_client_operation_duration_seconds_sum{" LABELS_DB "} 7.004\n"
    "db_client_operation_duration_seconds_count{" LABELS_DB "} 3\n";

static const char want_om[] =
    "# TYPE target info\n"
    "# HELP target Target metadata\n" TARGET
    "# TYPE db_client_operation_duration_seconds histogram\n"
    "# UNIT db_client_operation_duration_seconds seconds\n"
    "# HELP db_client_operation_duration_seconds Duration of database client operations.\n"
    "db_client_operation_duration_seconds_bucket{" LABELS_DB ",le=\"0.001\"} 0\n"
    "db_client_operation_duration_seconds_bucket{" LABELS_DB ",le=\"0.005\"} 2\n"
    "db_client_operation_duration_seconds_bucket{" LABELS_DB ",le=\"0.01\"} 2\n"
    "db_client_operation_duration_seconds_bucket{" LABELS_DB ",le=\"0.05\"} 2\n"
    "db_client_operation_duration_seconds_bucket{" LABELS_DB ",le=\"0.1\"} 2\n"
    "db_client_operation_duration_seconds_bucket{" LABELS_DB ",le=\"0.5\"} 2\n"
    "db_client_operation_duration_seconds_bucket{" LABELS_DB ",le=\"1.0\"} 2\n"
    "db_client_operation_duration_seconds_bucket{" LABELS_DB ",le=\"5.0\"} 2\n"
    "db_client_operation_duration_seconds_bucket{" LABELS_DB ",le=\"10.0\"} 3\n"
    "db_client_operation_duration_seconds_bucket{" LABELS_DB ",le=\"+Inf\"} 3\n"
    "db_client_operation_duration_seconds_sum{" LABELS_DB "} 7.004\n"
    "db_client_operation_duration_seconds_count{" LABELS_DB "} 3\n"
    "# EOF\n";

/* Two 2 ms operations and one of 7 s: the exact bodies in both formats. */
static void test_exact(void)
{
	struct otlp_encoder *enc = otlp_encoder_new("deployment.environment=prod", "testhost");
	struct otlp_metrics *m = otlp_metrics_new(100);
	struct otlp_resource *r = resource(100, "api", "/usr/bin/api");
	struct span s;
	char *text, *om;

	redis_span(&s);
	otlp_metrics_record(m, &s, r);
	otlp_metrics_record(m, &s, r);
	s.end_ns = T0 + 7000 * MS;
	otlp_metrics_record(m, &s, r);
	text = render(enc, m, OTLP_PROM_TEXT);
	om = render(enc, m, OTLP_PROM_OPENMETRICS);
	CHECK_STR(text, want_text);
	CHECK_STR(om, want_om);
	free(text);
	free(om);
	otlp_metrics_free(m);
	otlp_resource_put(r);
	otlp_encoder_free(enc);
}

static bool has_line(const char *body, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = body; (p = strstr(p, line)); p++)
		if ((p == body || p[-1] == '\n') && p[n] == '\n')
			return true;
	fprintf(stderr, "line not found: %s\n", line);
	return false;
}

#define HTTP_LABELS(route)                                                                         \
	"http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"" route        \
	"\",instance=\"testhost:200\",job=\"web\",otel_scope_name=\"obi\",otel_scope_version="     \
	"\"" OBI_VERSION "\",url_scheme=\"http\""

/* Escaping, UTF-8 repair, a process that exec()ed (one job and instance: summed, one
 * target_info), label name collisions and a leading digit. */
static void test_http_and_escaping(void)
{
	struct otlp_encoder *enc = otlp_encoder_new("a.b=1,a_b=2,2x=y,job=nope", "testhost");
	struct otlp_metrics *m = otlp_metrics_new(100);
	struct otlp_resource *r1 = resource(200, "web", "/usr/bin/web");
	struct otlp_resource *r2 = resource(200, "web", "/usr/local/bin/web");
	struct span s;
	char *text;

	server_span(&s, "/a\"b\\c\nd\xff", 3 * MS, 100);
	otlp_metrics_record(m, &s, r1);
	server_span(&s, "/users/*", 30 * MS, 5000);
	otlp_metrics_record(m, &s, r1);
	server_span(&s, "/users/*", 600 * MS, 0);
	otlp_metrics_record(m, &s, r2);
	text = render(enc, m, OTLP_PROM_TEXT);
	CHECK(has_line(text, "http_server_request_duration_seconds_count{" HTTP_LABELS(
				 "/a\\\"b\\\\c\\nd\xef\xbf\xbd") "} 1"));
	CHECK(has_line(text, "http_server_request_duration_seconds_bucket{" HTTP_LABELS(
				 "/users/*") ",le=\"0.025\"} 0"));
	CHECK(has_line(text, "http_server_request_duration_seconds_bucket{" HTTP_LABELS(
				 "/users/*") ",le=\"0.05\"} 1"));
	CHECK(has_line(text, "http_server_request_duration_seconds_bucket{" HTTP_LABELS(
				 "/users/*") ",le=\"0.75\"} 2"));
	CHECK(has_line(text, "http_server_request_duration_seconds_bucket{" HTTP_LABELS(
				 "/users/*") ",le=\"+Inf\"} 2"));
	CHECK(has_line(
	    text, "http_server_request_duration_seconds_sum{" HTTP_LABELS("/users/*") "} 0.63"));
	CHECK(has_line(
	    text, "http_server_request_duration_seconds_count{" HTTP_LABELS("/users/*") "} 2"));
	CHECK(has_line(text, "http_server_response_body_size_bytes_bucket{" HTTP_LABELS(
				 "/users/*") ",le=\"0\"} 1"));
	CHECK(has_line(text, "http_server_response_body_size_bytes_bucket{" HTTP_LABELS(
				 "/users/*") ",le=\"4096\"} 1"));
	CHECK(has_line(text, "http_server_response_body_size_bytes_bucket{" HTTP_LABELS(
				 "/users/*") ",le=\"8192\"} 2"));
	CHECK(has_line(
	    text, "http_server_response_body_size_bytes_sum{" HTTP_LABELS("/users/*") "} 5000"));
	CHECK(has_line(text,
		       "http_server_request_body_size_bytes_count{" HTTP_LABELS("/users/*") "} 2"));
	CHECK(has_line(text, "# TYPE http_server_request_body_size_bytes histogram"));
	CHECK(has_line(text, "# HELP http_server_request_duration_seconds Duration of HTTP server "
			     "requests."));
	/* one target_info for job web, instance testhost:200; collisions joined in key order */
	CHECK(strstr(text, "a_b=\"1;2\",") != NULL);
	CHECK(strstr(text, "key_2x=\"y\",") != NULL);
	CHECK(strstr(text, "job=\"nope\"") == NULL);
	CHECK(strstr(strstr(text, "target_info{") + 1, "target_info{") == NULL);
	CHECK(strstr(text, "client") == NULL);
	free(text);
	otlp_metrics_free(m);
	otlp_resource_put(r1);
	otlp_resource_put(r2);
	otlp_encoder_free(enc);
}

static void test_empty(void)
{
	struct otlp_encoder *enc = otlp_encoder_new(NULL, "testhost");
	char *out;
	size_t len;

	CHECK_INT(otlp_prom_render(enc, NULL, 0, OTLP_PROM_TEXT, &out, &len), 0);
	CHECK_STR(out, "");
	free(out);
	CHECK_INT(otlp_prom_render(enc, NULL, 0, OTLP_PROM_OPENMETRICS, &out, &len), 0);
	CHECK_STR(out, "# EOF\n");
	free(out);
	otlp_encoder_free(enc);
}

static void test_negotiate(void)
{
	/* what Prometheus 2.x sends */
	CHECK_INT(otlp_prom_negotiate("application/openmetrics-text;version=1.0.0,application/"
				      "openmetrics-text;version=0.0.1;q=0.75,text/plain;version="
				      "0.0.4;q=0.5,*/*;q=0.1"),
		  OTLP_PROM_OPENMETRICS);
	CHECK_INT(otlp_prom_negotiate(NULL), OTLP_PROM_TEXT);
	CHECK_INT(otlp_prom_negotiate("*/*"), OTLP_PROM_TEXT);
	CHECK_INT(otlp_prom_negotiate("text/plain"), OTLP_PROM_TEXT);
	CHECK_INT(otlp_prom_negotiate("application/openmetrics-text"), OTLP_PROM_OPENMETRICS);
	CHECK_INT(otlp_prom_negotiate("application/openmetrics-text; q=0"), OTLP_PROM_TEXT);
	CHECK_INT(otlp_prom_negotiate("text/plain;q=1, application/openmetrics-text;q=0.5"),
		  OTLP_PROM_TEXT);
	CHECK_INT(otlp_prom_negotiate("application/openmetrics-textile"), OTLP_PROM_TEXT);
	CHECK_STR(otlp_prom_content_type(OTLP_PROM_TEXT),
		  "text/plain; version=0.0.4; charset=utf-8");
	CHECK_STR(otlp_prom_content_type(OTLP_PROM_OPENMETRICS),
		  "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

/* No OTLP endpoint, metrics pulled: the exporter records them, a snapshot holds them, and an
 * exited process's series expire on the exporter's own timer. */
static void test_pull_only_exporter(void)
{
	struct otlp_options opts = {
	    .max_queue_size = 16,
	    .max_export_batch_size = 4,
	    .schedule_delay_ms = 5000,
	    .metric_interval_ms = 60000,
	    .metrics_ttl_ms = 50,
	    .traces = {.timeout_ms = 1000},
	    .metrics = {.timeout_ms = 1000},
	};
	struct timespec pause = {.tv_sec = 1, .tv_nsec = 400000000};
	struct otlp_exporter_stats st;
	struct otlp_exporter *ex = NULL;
	struct otlp_series *snap;
	struct proc_info pi;
	struct span s;
	size_t n;

	CHECK_INT(otlp_exporter_open(&opts, &ex), 0);
	CHECK(ex == NULL); /* nothing to export, nothing pulled */
	opts.metrics_pull = true;
	CHECK_INT(otlp_exporter_open(&opts, &ex), 0);
	CHECK(ex != NULL);
	if (!ex)
		return;
	memset(&pi, 0, sizeof(pi));
	pi.pid = 300;
	strcpy(pi.service_name, "svc");
	strcpy(pi.comm, "svc");
	server_span(&s, "/x", 2 * MS, 10);
	otlp_exporter_on_span(ex, &s, &pi);
	otlp_exporter_on_span(ex, &s, &pi);
	otlp_exporter_on_span(ex, &s, &pi);
	CHECK_INT(otlp_exporter_snapshot(ex, &snap, &n), 0);
	CHECK_INT(n, 1);
	if (n)
		CHECK_INT(snap[0].h[OTLP_HIST_DURATION].count, 3);
	otlp_exporter_snapshot_free(ex, snap, n);
	otlp_exporter_get_stats(ex, &st);
	CHECK_INT(st.series, 1);
	CHECK_INT(st.spans_queued, 0);
	otlp_exporter_proc_exit(ex, 300);
	nanosleep(&pause, NULL);
	CHECK_INT(otlp_exporter_snapshot(ex, &snap, &n), 0);
	CHECK_INT(n, 0);
	otlp_exporter_snapshot_free(ex, snap, n);
	otlp_exporter_get_stats(ex, &st);
	CHECK_INT(st.series_expired, 1);
	otlp_exporter_stop(ex);
}

/* OTEL_EBPF_PROMETHEUS_*: defaults, accepted and refused values (exit code 2 in obi). */
static void test_settings(void)
{
	static struct obi_config cfg;
	static char *argv[] = {"obi", NULL};
	FILE *err = fopen("/dev/null", "w");
	char *env[3] = {NULL, NULL, NULL};

	CHECK_INT(config_load(&cfg, 1, argv, env, err), 0);
	CHECK_INT(cfg.prometheus_port, 0);
	CHECK_STR(cfg.prometheus_path, "/metrics");
	CHECK_STR(cfg.prometheus_address, "");
	env[0] = "OTEL_EBPF_PROMETHEUS_PORT=9400";
	env[1] = "OTEL_EBPF_PROMETHEUS_ADDRESS=::0001";
	CHECK_INT(config_load(&cfg, 1, argv, env, err), 0);
	CHECK_INT(cfg.prometheus_port, 9400);
	CHECK_STR(cfg.prometheus_address, "::1");
	env[1] = "OTEL_EBPF_PROMETHEUS_PATH=/internal/metrics";
	CHECK_INT(config_load(&cfg, 1, argv, env, err), 0);
	CHECK_STR(cfg.prometheus_path, "/internal/metrics");
	env[1] = NULL;
	env[0] = "OTEL_EBPF_PROMETHEUS_PORT=65536";
	CHECK_INT(config_load(&cfg, 1, argv, env, err), -EINVAL);
	env[0] = "OTEL_EBPF_PROMETHEUS_PATH=metrics";
	CHECK_INT(config_load(&cfg, 1, argv, env, err), -EINVAL);
	env[0] = "OTEL_EBPF_PROMETHEUS_PATH=/metrics?x=1";
	CHECK_INT(config_load(&cfg, 1, argv, env, err), -EINVAL);
	env[0] = "OTEL_EBPF_PROMETHEUS_ADDRESS=localhost";
	CHECK_INT(config_load(&cfg, 1, argv, env, err), -EINVAL);
	if (err)
		fclose(err);
}

int main(void)
{
	test_exact();
	test_http_and_escaping();
	test_empty();
	test_negotiate();
	test_pull_only_exporter();
	test_settings();
	return check_done("test_prometheus");
}
