/* SPDX-License-Identifier: Apache-2.0 */
/* What the OTLP unit tests share: a server span and a process to encode, and lookups and checks
 * of the messages protobuf-c decodes back. Functions are static inline, constants unused-safe,
 * so each test includes what it needs. */
#ifndef OBI_TEST_OTLP_FIXTURES_H
#define OBI_TEST_OTLP_FIXTURES_H

#define OTLP_FIXTURE __attribute__((unused))

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "config.h"
#include "encode.h"
#include "export_config.h"
#include "exporter.h"
#include "transport.h"
#include "metrics.h"
#include "metrics_service.pb-c.h"
#include "resource.h"
#include "sampler.h"
#include "trace_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest pb_trace_req;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest pb_metrics_req;
typedef Opentelemetry__Proto__Metrics__V1__Metric pb_metric;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint pb_point;

#define T0 1765283285128844123ULL
#define MS 1000000ULL

#define STRING_VALUE OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE
#define INT_VALUE    OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE
#define CUMULATIVE                                                                                 \
	OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE

static const uint8_t OTLP_FIXTURE trace_a[16] = {0x69, 0x97, 0x7b, 0xee, 0x0c, 0x29, 0x64, 0xb8,
				    0xfe, 0x53, 0xcd, 0xd1, 0x6f, 0x8a, 0x9d, 0x19};
static const uint8_t OTLP_FIXTURE span_1[8] = {0x85, 0x6c, 0x9f, 0x70, 0x0e, 0x73, 0xbf, 0x0d};
static const uint8_t OTLP_FIXTURE span_2[8] = {0xca, 0xa7, 0xf1, 0xad, 0x1c, 0x68, 0xfa, 0x77};
static const uint8_t OTLP_FIXTURE span_3[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};



static inline void set_addr(struct span_addr *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, ip, a->addr) == 1) {
		a->family = AF_INET;
	} else {
		CHECK(inet_pton(AF_INET6, ip, a->addr) == 1);
		a->family = AF_INET6;
	}
	a->port = port;
}

static inline void proc(struct proc_info *pi, uint32_t pid, const char *service, const char *lang)
{
	memset(pi, 0, sizeof(*pi));
	pi->pid = pid;
	snprintf(pi->exe, sizeof(pi->exe), "/usr/bin/%s", service);
	snprintf(pi->comm, sizeof(pi->comm), "%s", service);
	snprintf(pi->service_name, sizeof(pi->service_name), "%s", service);
	snprintf(pi->language, sizeof(pi->language), "%s", lang);
}

/* A server span of GET /users/42 answered 200, 1.5 ms, from 10.0.0.2:40000 to :8080. */
static inline void server_span(struct span *s)
{
	memset(s, 0, sizeof(*s));
	s->kind = SPAN_SERVER;
	s->start_ns = T0;
	s->handler_ns = T0 + 100000;
	s->end_ns = T0 + 1500000;
	strcpy(s->method, "GET");
	strcpy(s->path, "/users/42");
	strcpy(s->route, "/users/*");
	strcpy(s->host_header, "api.example:8080");
	strcpy(s->user_agent, "curl/8.0");
	s->status = 200;
	s->req_body_size = 0;
	s->resp_body_size = 1234;
	set_addr(&s->local, "10.0.0.1", 8080);
	set_addr(&s->remote, "10.0.0.2", 40000);
	s->pid = 100;
	s->tid = 101;
	memcpy(s->trace_id, trace_a, 16);
	memcpy(s->span_id, span_1, 8);
	s->trace_flags = 1;
}

/* --- attribute lookups in decoded messages --------------------------------------------------- */

static inline const pb_kv *find_kv(pb_kv **kv, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(kv[i]->key, key))
			return kv[i];
	return NULL;
}

/* Checks key = string value; reports the key on failure. */
static inline void check_str_attr(pb_kv **kv, size_t n, const char *key, const char *want, int line)
{
	const pb_kv *a = find_kv(kv, n, key);

	check_count++;
	if (!a || a->value->value_case != STRING_VALUE || strcmp(a->value->string_value, want)) {
		check_failures++;
		fprintf(stderr, "%s:%d: attribute %s: expected \"%s\", got %s%s%s\n", __FILE__,
			line, key, want, a && a->value->value_case == STRING_VALUE ? "\"" : "",
			!a				       ? "nothing"
			: a->value->value_case == STRING_VALUE ? a->value->string_value
							       : "a non-string",
			a && a->value->value_case == STRING_VALUE ? "\"" : "");
	}
}

static inline void check_int_attr(pb_kv **kv, size_t n, const char *key, int64_t want, int line)
{
	const pb_kv *a = find_kv(kv, n, key);

	check_count++;
	if (!a || a->value->value_case != INT_VALUE || a->value->int_value != want) {
		check_failures++;
		fprintf(stderr, "%s:%d: attribute %s: expected int %lld, got %s %lld\n", __FILE__,
			line, key, (long long)want, !a ? "nothing" : "",
			a && a->value->value_case == INT_VALUE ? (long long)a->value->int_value
							       : 0);
	}
}

#define STR_ATTR(kv, n, key, want) check_str_attr(kv, n, key, want, __LINE__)
#define INT_ATTR(kv, n, key, want) check_int_attr(kv, n, key, want, __LINE__)
#define NO_ATTR(kv, n, key)	   CHECK(find_kv(kv, n, key) == NULL)

static inline void check_resource(Opentelemetry__Proto__Resource__V1__Resource *r, uint32_t pid,
			   const char *service, const char *lang)
{
	char buf[64];

	CHECK(r != NULL);
	if (!r)
		return;
	/* obi's 12 attributes plus deployment.environment from OTEL_RESOURCE_ATTRIBUTES */
	CHECK_INT(r->n_attributes, 13);
	STR_ATTR(r->attributes, r->n_attributes, "service.name", service);
	snprintf(buf, sizeof(buf), "testhost:%u", pid);
	STR_ATTR(r->attributes, r->n_attributes, "service.instance.id", buf);
	STR_ATTR(r->attributes, r->n_attributes, "host.name", "testhost");
	STR_ATTR(r->attributes, r->n_attributes, "os.type", "linux");
	INT_ATTR(r->attributes, r->n_attributes, "process.pid", pid);
	STR_ATTR(r->attributes, r->n_attributes, "process.executable.name", service);
	snprintf(buf, sizeof(buf), "/usr/bin/%s", service);
	STR_ATTR(r->attributes, r->n_attributes, "process.executable.path", buf);
	STR_ATTR(r->attributes, r->n_attributes, "telemetry.sdk.name", "obi");
	STR_ATTR(r->attributes, r->n_attributes, "telemetry.sdk.language", lang);
	STR_ATTR(r->attributes, r->n_attributes, "telemetry.sdk.version", OBI_VERSION);
	STR_ATTR(r->attributes, r->n_attributes, "telemetry.distro.name", "obi");
	STR_ATTR(r->attributes, r->n_attributes, "telemetry.distro.version", OBI_VERSION);
	/* added by the user, percent-decoded; the user's service.name does not replace obi's */
	STR_ATTR(r->attributes, r->n_attributes, "deployment.environment", "prod eu");
}

static inline struct otlp_encoder *test_encoder(void)
{
	struct otlp_encoder *enc =
	    otlp_encoder_new("deployment.environment=prod%20eu, service.name=ignored", "testhost");

	CHECK(enc != NULL);
	return enc;
}

static inline const pb_metric *find_metric(Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm,
				    const char *name)
{
	size_t i;

	for (i = 0; i < sm->n_metrics; i++)
		if (!strcmp(sm->metrics[i]->name, name))
			return sm->metrics[i];
	return NULL;
}

static inline void check_point_buckets(const pb_point *p, const uint64_t *want, size_t n, int line)
{
	size_t i;

	check_count++;
	if (p->n_bucket_counts != n) {
		check_failures++;
		fprintf(stderr, "%s:%d: %zu buckets, expected %zu\n", __FILE__, line,
			p->n_bucket_counts, n);
		return;
	}
	for (i = 0; i < n; i++) {
		if (p->bucket_counts[i] != want[i]) {
			check_failures++;
			fprintf(stderr, "%s:%d: bucket %zu: %llu, expected %llu\n", __FILE__, line,
				i, (unsigned long long)p->bucket_counts[i],
				(unsigned long long)want[i]);
		}
	}
}

#endif /* OBI_TEST_OTLP_FIXTURES_H */
