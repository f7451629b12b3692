// SPDX-License-Identifier: Apache-2.0
/*
 * OTLP/JSON: spans and histograms encoded by obi, rewritten as JSON (otlp/json.c), parsed back
 * with cJSON and compared field by field with the protobuf request decoded by protobuf-c:
 * lowerCamelCase names, ids as hex, enums as integers, 64-bit integers as strings, doubles as
 * numbers, empty fields left out; then partial-success answers in JSON.
 */
#include <arpa/inet.h>
#include <cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "encode.h"
#include "json.h"
#include "metrics.h"
#include "metrics_service.pb-c.h"
#include "resource.h"
#include "trace_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;

#define T0 1765283285128844123ULL
#define MS 1000000ULL

static const uint8_t trace_a[16] = {0x69, 0x97, 0x7b, 0xee, 0x0c, 0x29, 0x64, 0xb8,
				    0xfe, 0x53, 0xcd, 0xd1, 0x6f, 0x8a, 0x9d, 0x19};
static const uint8_t span_1[8] = {0x85, 0x6c, 0x9f, 0x70, 0x0e, 0x73, 0xbf, 0x0d};
static const uint8_t span_2[8] = {0xca, 0xa7, 0xf1, 0xad, 0x1c, 0x68, 0xfa, 0x77};

static void proc(struct proc_info *pi, uint32_t pid, const char *service)
{
	memset(pi, 0, sizeof(*pi));
	pi->pid = pid;
	snprintf(pi->exe, sizeof(pi->exe), "/usr/bin/%s", service);
	snprintf(pi->comm, sizeof(pi->comm), "%s", service);
	snprintf(pi->service_name, sizeof(pi->service_name), "%s", service);
	snprintf(pi->language, sizeof(pi->language), "python");
}

static void span_of(struct span *s, enum span_kind kind, const uint8_t *id, const uint8_t *parent)
{
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->start_ns = T0;
	s->handler_ns = T0 + 100000;
	s->end_ns = T0 + 1500000;
	strcpy(s->method, "GET");
	strcpy(s->path, "/users/42");
	strcpy(s->route, "/users/*");
	strcpy(s->user_agent, "curl/8.0 \"quoted\" \\ \x01");
	s->status = kind == SPAN_SERVER ? 200 : 503;
	s->resp_body_size = 1234;
	s->local.family = s->remote.family = AF_INET;
	inet_pton(AF_INET, "10.0.0.1", s->local.addr);
	inet_pton(AF_INET, "10.0.0.2", s->remote.addr);
	s->local.port = 8080;
	s->remote.port = 40000;
	s->pid = 100;
	memcpy(s->trace_id, trace_a, 16);
	memcpy(s->span_id, id, 8);
	if (parent)
		memcpy(s->parent_id, parent, 8);
	s->trace_flags = 1;
}

static void hex(const ProtobufCBinaryData *b, char *out)
{
	size_t i;

	for (i = 0; i < b->len; i++)
		sprintf(out + 2 * i, "%02x", b->data[i]);
	out[2 * b->len] = '\0';
}

static cJSON *get(const cJSON *o, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(o, name);
}

static const char *str(const cJSON *o, const char *name)
{
	const cJSON *v = get(o, name);

	return cJSON_IsString(v) ? v->valuestring : "(absent)";
}

/* A 64-bit integer: a JSON string holding its decimal digits. */
static void check_u64(const cJSON *o, const char *name, uint64_t want, int line)
{
	char s[24];

	snprintf(s, sizeof(s), "%" PRIu64, want);
	if (strcmp(str(o, name), s))
		fprintf(stderr, "line %d: %s is %s, want \"%s\"\n", line, name, str(o, name), s);
	CHECK_STR(str(o, name), s);
}

/* Attributes: the same keys in the same order, values of the same kind and content. */
static void check_attrs(const cJSON *arr, pb_kv **kv, size_t n)
{
	size_t i;

	CHECK_INT(cJSON_GetArraySize(arr), n);
	for (i = 0; i < n && i < (size_t)cJSON_GetArraySize(arr); i++) {
		const cJSON *a = cJSON_GetArrayItem(arr, (int)i), *v = get(a, "value");

		CHECK_STR(str(a, "key"), kv[i]->key);
		switch (kv[i]->value->value_case) {
		case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
			CHECK_STR(str(v, "stringValue"), kv[i]->value->string_value);
			break;
		case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
			check_u64(v, "intValue", (uint64_t)kv[i]->value->int_value, __LINE__);
			break;
		case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
			CHECK(cJSON_IsBool(get(v, "boolValue")));
			CHECK_INT(cJSON_IsTrue(get(v, "boolValue")), kv[i]->value->bool_value);
			break;
		default:
			CHECK(!"an attribute kind obi does not write");
		}
		CHECK_INT(cJSON_GetArraySize(v), 1); /* one value, nothing else */
	}
}

static void check_span(const cJSON *js, const pb_span *sp)
{
	char want[40];

	hex(&sp->trace_id, want);
	CHECK_STR(str(js, "traceId"), want);
	hex(&sp->span_id, want);
	CHECK_STR(str(js, "spanId"), want);
	if (sp->parent_span_id.len) {
		hex(&sp->parent_span_id, want);
		CHECK_STR(str(js, "parentSpanId"), want);
	} else {
		CHECK(!get(js, "parentSpanId"));
	}
	CHECK_STR(str(js, "name"), sp->name);
	CHECK(cJSON_IsNumber(get(js, "kind")));
	CHECK_INT(get(js, "kind") ? get(js, "kind")->valueint : -1, sp->kind);
	check_u64(js, "startTimeUnixNano", sp->start_time_unix_nano, __LINE__);
	check_u64(js, "endTimeUnixNano", sp->end_time_unix_nano, __LINE__);
	if (sp->flags) {
		CHECK(cJSON_IsNumber(get(js, "flags")));
		CHECK_INT(get(js, "flags") ? (uint32_t)get(js, "flags")->valuedouble : 0,
			  sp->flags);
	}
	check_attrs(get(js, "attributes"), sp->attributes, sp->n_attributes);
	if (sp->status && sp->status->code) {
		CHECK_INT(get(get(js, "status"), "code") ? get(get(js, "status"), "code")->valueint
							 : -1,
			  sp->status->code);
	}
}

static void test_traces(void)
{
	struct otlp_encoder *enc = otlp_encoder_new("deployment.environment=prod", "testhost");
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *req;
	struct otlp_span_ref refs[2];
	struct otlp_resource *res;
	const cJSON *rs, *ss, *spans;
	struct proc_info pi;
	struct span s[2];
	const uint8_t *buf;
	size_t len, jlen, i;
	char *json;
	cJSON *j;

	proc(&pi, 100, "api");
	res = otlp_resource_new(&pi);
	span_of(&s[0], SPAN_SERVER, span_1, NULL);
	span_of(&s[1], SPAN_CLIENT, span_2, span_1);
	refs[0] = (struct otlp_span_ref){&s[0], res};
	refs[1] = (struct otlp_span_ref){&s[1], res};
	CHECK_INT(otlp_encode_traces(enc, refs, 2, &buf, &len), 0);
	CHECK_INT(otlp_json_request(OTLP_JSON_TRACES, buf, len, &json, &jlen), 0);
	CHECK_INT(jlen, strlen(json));
	/* names in lowerCamelCase only */
	CHECK(!strstr(json, "_id\"") && !strstr(json, "_unix_nano\"") && !strstr(json, "scope_"));
	req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
	    NULL, len, buf);
	j = cJSON_Parse(json);
	CHECK(req && j);
	if (!req || !j)
		return;
	CHECK_INT(cJSON_GetArraySize(get(j, "resourceSpans")), req->n_resource_spans);
	rs = cJSON_GetArrayItem(get(j, "resourceSpans"), 0);
	check_attrs(get(get(rs, "resource"), "attributes"),
		    req->resource_spans[0]->resource->attributes,
		    req->resource_spans[0]->resource->n_attributes);
	ss = cJSON_GetArrayItem(get(rs, "scopeSpans"), 0);
	CHECK_STR(str(get(ss, "scope"), "name"),
		  req->resource_spans[0]->scope_spans[0]->scope->name);
	spans = get(ss, "spans");
	CHECK_INT(cJSON_GetArraySize(spans), 2);
	for (i = 0; i < 2; i++)
		check_span(cJSON_GetArrayItem(spans, (int)i),
			   req->resource_spans[0]->scope_spans[0]->spans[i]);
	/* the literal spellings the mapping asks for */
	CHECK(strstr(json, "\"traceId\":\"69977bee0c2964b8fe53cdd16f8a9d19\""));
	CHECK(strstr(json, "\"parentSpanId\":\"856c9f700e73bf0d\""));
	CHECK(strstr(json, "\"startTimeUnixNano\":\"1765283285128844123\""));
	CHECK(strstr(json, "\"kind\":2") && strstr(json, "\"kind\":3"));
	cJSON_Delete(j);
	free(json);
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
	    req, NULL);
	/* bytes that are not a request */
	CHECK_INT(otlp_json_request(OTLP_JSON_TRACES, (const uint8_t *)"\x0a\xff", 2, &json, &jlen),
		  -EINVAL);
	otlp_resource_put(res);
	otlp_encoder_free(enc);
}

static void check_point(const cJSON *jp,
			const Opentelemetry__Proto__Metrics__V1__HistogramDataPoint *p)
{
	const cJSON *bc = get(jp, "bucketCounts"), *eb = get(jp, "explicitBounds");
	size_t i;

	check_u64(jp, "startTimeUnixNano", p->start_time_unix_nano, __LINE__);
	check_u64(jp, "timeUnixNano", p->time_unix_nano, __LINE__);
	check_u64(jp, "count", p->count, __LINE__);
	CHECK(cJSON_IsNumber(get(jp, "sum")));
	CHECK(get(jp, "sum") && get(jp, "sum")->valuedouble == p->sum);
	CHECK_INT(cJSON_GetArraySize(bc), p->n_bucket_counts);
	for (i = 0; i < p->n_bucket_counts; i++) {
		char s[24];
		const cJSON *v = cJSON_GetArrayItem(bc, (int)i);

		snprintf(s, sizeof(s), "%" PRIu64, p->bucket_counts[i]);
		CHECK(cJSON_IsString(v) && !strcmp(v->valuestring, s));
	}
	CHECK_INT(cJSON_GetArraySize(eb), p->n_explicit_bounds);
	for (i = 0; i < p->n_explicit_bounds; i++) {
		const cJSON *v = cJSON_GetArrayItem(eb, (int)i);

		CHECK(cJSON_IsNumber(v) && v->valuedouble == p->explicit_bounds[i]);
	}
	check_attrs(get(jp, "attributes"), p->attributes, p->n_attributes);
}

static void test_metrics(void)
{
	struct otlp_encoder *enc = otlp_encoder_new("", "testhost");
	struct otlp_metrics *m = otlp_metrics_new(100);
	Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest *req;
	Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm;
	const cJSON *jm;
	struct otlp_series *snap;
	struct otlp_resource *res;
	struct proc_info pi;
	struct span s;
	const uint8_t *buf;
	size_t len, jlen, n, i, k, points = 0;
	char *json;
	cJSON *j;

	proc(&pi, 100, "api");
	res = otlp_resource_new(&pi);
	span_of(&s, SPAN_SERVER, span_1, NULL);
	otlp_metrics_record(m, &s, res);
	s.end_ns = T0 + 300 * MS;
	otlp_metrics_record(m, &s, res);
	CHECK_INT(otlp_metrics_snapshot(m, &snap, &n), 0);
	CHECK_INT(otlp_encode_metrics(enc, snap, n, T0 + 1000 * MS, &buf, &len), 0);
	otlp_metrics_snapshot_free(snap, n);
	CHECK_INT(otlp_json_request(OTLP_JSON_METRICS, buf, len, &json, &jlen), 0);
	req = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
	    NULL, len, buf);
	j = cJSON_Parse(json);
	CHECK(req && j && req->n_resource_metrics == 1);
	if (!req || !j || req->n_resource_metrics != 1)
		return;
	sm = req->resource_metrics[0]->scope_metrics[0];
	jm = get(cJSON_GetArrayItem(
		     get(cJSON_GetArrayItem(get(j, "resourceMetrics"), 0), "scopeMetrics"), 0),
		 "metrics");
	CHECK_INT(cJSON_GetArraySize(jm), sm->n_metrics);
	for (i = 0; i < sm->n_metrics && i < (size_t)cJSON_GetArraySize(jm); i++) {
		const cJSON *mi = cJSON_GetArrayItem(jm, (int)i), *h = get(mi, "histogram");
		const Opentelemetry__Proto__Metrics__V1__Histogram *ph = sm->metrics[i]->histogram;

		CHECK_STR(str(mi, "name"), sm->metrics[i]->name);
		CHECK_STR(str(mi, "unit"), sm->metrics[i]->unit);
		CHECK(ph != NULL && h != NULL);
		if (!ph || !h)
			continue;
		CHECK(cJSON_IsNumber(get(h, "aggregationTemporality")));
		CHECK_INT(get(h, "aggregationTemporality")->valueint, ph->aggregation_temporality);
		CHECK_INT(cJSON_GetArraySize(get(h, "dataPoints")), ph->n_data_points);
		for (k = 0; k < ph->n_data_points; k++, points++)
			check_point(cJSON_GetArrayItem(get(h, "dataPoints"), (int)k),
				    ph->data_points[k]);
	}
	CHECK(points >= 3); /* duration and both body sizes at least */
	CHECK(strstr(json, "\"count\":\"2\""));
	cJSON_Delete(j);
	free(json);
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(
	    req, NULL);
	otlp_metrics_free(m);
	otlp_resource_put(res);
	otlp_encoder_free(enc);
}

static void test_response(void)
{
	static const char part[] =
	    "{\"partialSuccess\":{\"rejectedSpans\":\"3\",\"errorMessage\":\"too old\"}}";
	static const char num[] = "{\"partialSuccess\":{\"rejectedDataPoints\":7}}";
	int64_t rejected;
	char msg[64];

	CHECK_INT(otlp_json_decode_response((const uint8_t *)part, strlen(part), &rejected, msg,
					    sizeof(msg)),
		  0);
	CHECK_INT(rejected, 3);
	CHECK_STR(msg, "too old");
	CHECK_INT(otlp_json_decode_response((const uint8_t *)num, strlen(num), &rejected, msg,
					    sizeof(msg)),
		  0);
	CHECK_INT(rejected, 7);
	CHECK_STR(msg, "");
	CHECK_INT(otlp_json_decode_response((const uint8_t *)"{}", 2, &rejected, msg, sizeof(msg)),
		  0);
	CHECK_INT(rejected, 0);
	CHECK_INT(
	    otlp_json_decode_response((const uint8_t *)"\x0a\x00", 2, &rejected, msg, sizeof(msg)),
	    -EINVAL);
}

int main(void)
{
	test_traces();
	test_metrics();
	test_response();
	return check_done("test_otlp_json");
}
