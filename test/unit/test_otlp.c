// SPDX-License-Identifier: Apache-2.0
/*
 * OTLP encoding round trips through protobuf-c's decoder (every field of spans, resources and
 * histograms), histogram bucket math, the series cap and TTL, the sampler, Retry-After, the
 * outcome of HTTP answers, partial-success answers, and the exporter's queue overflow counting.
 */
#include "otlp_fixtures.h"

/* --- spans ------------------------------------------------------------------------------------ */

static void test_encode_traces(void)
{
	struct otlp_encoder *enc = test_encoder();
	struct proc_info pa, pb;
	struct otlp_resource *ra, *rb;
	struct span s[3];
	struct otlp_span_ref refs[3];
	pb_trace_req *req;
	const uint8_t *buf;
	size_t len;
	pb_span *sp;

	proc(&pa, 100, "api", "python");
	proc(&pb, 200, "proxy", "");
	ra = otlp_resource_new(&pa);
	rb = otlp_resource_new(&pb);

	/* 0: server 200 with route; 1: client of another process, 404, child of span 0;
	 * 2: server of the first process again, no response, odd method, bad UTF-8 in path */
	server_span(&s[0]);
	server_span(&s[1]);
	s[1].kind = SPAN_CLIENT;
	s[1].pid = 200;
	strcpy(s[1].method, "POST");
	strcpy(s[1].path, "/items");
	s[1].route[0] = '\0';
	strcpy(s[1].host_header, "[::1]:9000");
	s[1].user_agent[0] = '\0';
	s[1].status = 404;
	s[1].req_body_size = 100;
	s[1].resp_body_size = 9;
	set_addr(&s[1].local, "::1", 50000);
	set_addr(&s[1].remote, "::1", 9000);
	memcpy(s[1].span_id, span_2, 8);
	memcpy(s[1].parent_id, span_1, 8);
	strcpy(s[0].trace_state, "congo=t61rcWkgMzE,rojo@x=00f067aa0ba902b7");
	server_span(&s[2]);
	strcpy(s[2].method, "PURGE");
	strcpy(s[2].path, "/a\xff"
			  "b");
	s[2].route[0] = '\0';
	s[2].host_header[0] = '\0';
	s[2].status = 0;
	s[2].end_ns = T0 - 5; /* out of order: clamped to the start */
	memcpy(s[2].span_id, span_3, 8);
	refs[0] = (struct otlp_span_ref){&s[0], ra};
	refs[1] = (struct otlp_span_ref){&s[1], rb};
	refs[2] = (struct otlp_span_ref){&s[2], ra};

	CHECK_INT(otlp_encode_traces(enc, refs, 3, &buf, &len), 0);
	req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
	    NULL, len, buf);
	CHECK(req != NULL);
	if (!req)
		goto out;
	/* one ResourceSpans per process, in the order first seen */
	CHECK_INT(req->n_resource_spans, 2);
	check_resource(req->resource_spans[0]->resource, 100, "api", "python");
	check_resource(req->resource_spans[1]->resource, 200, "proxy", "generic");
	CHECK_INT(req->resource_spans[0]->n_scope_spans, 1);
	CHECK_INT(req->resource_spans[1]->n_scope_spans, 1);
	CHECK_STR(req->resource_spans[0]->scope_spans[0]->scope->name, "obi");
	CHECK_STR(req->resource_spans[0]->scope_spans[0]->scope->version, OBI_VERSION);
	CHECK_INT(req->resource_spans[0]->scope_spans[0]->n_spans, 2);
	CHECK_INT(req->resource_spans[1]->scope_spans[0]->n_spans, 1);

	/* span 0: server, named after its route, UNSET status */
	sp = req->resource_spans[0]->scope_spans[0]->spans[0];
	CHECK_INT(sp->trace_id.len, 16);
	CHECK(!memcmp(sp->trace_id.data, trace_a, 16));
	CHECK_INT(sp->span_id.len, 8);
	CHECK(!memcmp(sp->span_id.data, span_1, 8));
	CHECK_INT(sp->parent_span_id.len, 0);
	CHECK_STR(sp->trace_state, "congo=t61rcWkgMzE,rojo@x=00f067aa0ba902b7");
	CHECK_INT(sp->flags, 1);
	CHECK_STR(sp->name, "GET /users/*");
	CHECK_INT(sp->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER);
	CHECK_INT(sp->start_time_unix_nano, T0);
	CHECK_INT(sp->end_time_unix_nano, T0 + 1500000);
	CHECK(sp->status != NULL);
	CHECK_INT(sp->status->code,
		  OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_UNSET);
	CHECK_INT(sp->n_attributes, 13);
	STR_ATTR(sp->attributes, sp->n_attributes, "http.request.method", "GET");
	INT_ATTR(sp->attributes, sp->n_attributes, "http.response.status_code", 200);
	STR_ATTR(sp->attributes, sp->n_attributes, "url.path", "/users/42");
	STR_ATTR(sp->attributes, sp->n_attributes, "url.scheme", "http");
	STR_ATTR(sp->attributes, sp->n_attributes, "http.route", "/users/*");
	STR_ATTR(sp->attributes, sp->n_attributes, "server.address", "api.example");
	INT_ATTR(sp->attributes, sp->n_attributes, "server.port", 8080);
	STR_ATTR(sp->attributes, sp->n_attributes, "client.address", "10.0.0.2");
	STR_ATTR(sp->attributes, sp->n_attributes, "network.peer.address", "10.0.0.2");
	INT_ATTR(sp->attributes, sp->n_attributes, "network.peer.port", 40000);
	INT_ATTR(sp->attributes, sp->n_attributes, "http.request.body.size", 0);
	INT_ATTR(sp->attributes, sp->n_attributes, "http.response.body.size", 1234);
	STR_ATTR(sp->attributes, sp->n_attributes, "user_agent.original", "curl/8.0");
	NO_ATTR(sp->attributes, sp->n_attributes, "http.request.method_original");

	/* span 2: same process, no response (ERROR, no status attribute), unknown method */
	sp = req->resource_spans[0]->scope_spans[0]->spans[1];
	CHECK(!memcmp(sp->span_id.data, span_3, 8));
	CHECK_STR(sp->name, "HTTP");
	CHECK_INT(sp->end_time_unix_nano, T0);
	CHECK_INT(sp->status->code,
		  OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR);
	STR_ATTR(sp->attributes, sp->n_attributes, "http.request.method", "_OTHER");
	STR_ATTR(sp->attributes, sp->n_attributes, "http.request.method_original", "PURGE");
	NO_ATTR(sp->attributes, sp->n_attributes, "http.response.status_code");
	NO_ATTR(sp->attributes, sp->n_attributes, "http.route");
	STR_ATTR(sp->attributes, sp->n_attributes, "url.path",
		 "/a\xef\xbf\xbd"
		 "b");
	STR_ATTR(sp->attributes, sp->n_attributes, "server.address", "10.0.0.1");

	/* span 1: client of the other process, 404 is an error for a client, IPv6 */
	sp = req->resource_spans[1]->scope_spans[0]->spans[0];
	CHECK(!memcmp(sp->span_id.data, span_2, 8));
	CHECK_INT(sp->parent_span_id.len, 8);
	CHECK(!memcmp(sp->parent_span_id.data, span_1, 8));
	CHECK_STR(sp->name, "POST");
	CHECK_STR(sp->trace_state, ""); /* none: field 3 absent */
	CHECK_INT(sp->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT);
	CHECK_INT(sp->status->code,
		  OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR);
	CHECK_INT(sp->n_attributes, 10);
	INT_ATTR(sp->attributes, sp->n_attributes, "http.response.status_code", 404);
	STR_ATTR(sp->attributes, sp->n_attributes, "server.address", "::1");
	INT_ATTR(sp->attributes, sp->n_attributes, "server.port", 9000);
	STR_ATTR(sp->attributes, sp->n_attributes, "network.peer.address", "::1");
	INT_ATTR(sp->attributes, sp->n_attributes, "network.peer.port", 9000);
	INT_ATTR(sp->attributes, sp->n_attributes, "http.request.body.size", 100);
	INT_ATTR(sp->attributes, sp->n_attributes, "http.response.body.size", 9);
	NO_ATTR(sp->attributes, sp->n_attributes, "client.address");
	NO_ATTR(sp->attributes, sp->n_attributes, "user_agent.original");
	NO_ATTR(sp->attributes, sp->n_attributes, "http.route");
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
	    req, NULL);
out:
	otlp_resource_put(ra);
	otlp_resource_put(rb);
	otlp_encoder_free(enc);
}

static void test_span_status_and_name(void)
{
	static const struct {
		enum span_kind kind;
		uint16_t status;
		bool error;
	} cases[] = {
	    {SPAN_SERVER, 0, true},    {SPAN_SERVER, 200, false}, {SPAN_SERVER, 404, false},
	    {SPAN_SERVER, 499, false}, {SPAN_SERVER, 500, true},  {SPAN_SERVER, 503, true},
	    {SPAN_CLIENT, 0, true},    {SPAN_CLIENT, 200, false}, {SPAN_CLIENT, 399, false},
	    {SPAN_CLIENT, 400, true},  {SPAN_CLIENT, 404, true},  {SPAN_CLIENT, 500, true},
	};
	struct span s;
	char name[300];
	size_t i;

	server_span(&s);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s.kind = cases[i].kind;
		s.status = cases[i].status;
		if (otlp_span_is_error(&s) != cases[i].error)
			fprintf(stderr, "kind %d status %u\n", s.kind, s.status);
		CHECK(otlp_span_is_error(&s) == cases[i].error);
	}
	/* gRPC: status is the grpc-status code (0 is OK); the parser judged the error */
	s.proto = SPAN_GRPC;
	s.status = 0;
	s.error = false;
	CHECK(!otlp_span_is_error(&s));
	s.status = 14;
	s.error = true;
	CHECK(otlp_span_is_error(&s));
	s.status = 5;
	s.error = false;	/* NOT_FOUND on a server span */
	CHECK(!otlp_span_is_error(&s));
	s.proto = SPAN_HTTP;
	s.error = false;
	otlp_span_name(&s, name, sizeof(name));
	CHECK_STR(name, "GET /users/*");
	s.route[0] = '\0';
	otlp_span_name(&s, name, sizeof(name));
	CHECK_STR(name, "GET");
	strcpy(s.route, "/users/*");
	otlp_span_name(&s, name, 8); /* truncated to what fits */
	CHECK_STR(name, "GET /us");
	otlp_span_name(&s, name, 4);
	CHECK_STR(name, "GET");
	s.route[0] = '\0';
	strcpy(s.method, "get"); /* methods are case-sensitive: not GET */
	otlp_span_name(&s, name, sizeof(name));
	CHECK_STR(name, "HTTP");
	CHECK_STR(otlp_http_method("PATCH"), "PATCH");
	CHECK_STR(otlp_http_method("OPTIONS"), "OPTIONS");
	CHECK_STR(otlp_http_method("FOO"), "_OTHER");
	CHECK_STR(otlp_http_method(""), "_OTHER");
	CHECK_STR(otlp_http_method("PUT"), "PUT");
	CHECK_STR(otlp_http_method("POSTX"), "_OTHER"); /* a known method's first letters */
	CHECK_STR(otlp_http_method("P"), "_OTHER");
	CHECK_STR(otlp_http_method("_OTHER"), "_OTHER");
}

/* span_copy() is *dst = *src as far as any reader of the NUL-terminated strings can tell. */
static void test_span_copy(void)
{
	static struct span src, dst;
	char long_str[300];

	memset(&src, 0, sizeof(src));
	src.kind = SPAN_CLIENT;
	src.start_ns = 1, src.handler_ns = 2, src.end_ns = 3;
	src.status = 503, src.error = true, src.req_body_size = 4, src.resp_body_size = 5;
	src.local.port = 80, src.remote.port = 40000, src.pid = 7, src.tid = 8;
	memset(src.trace_id, 0x11, 16), memset(src.span_id, 0x22, 8);
	memset(src.parent_id, 0x33, 8), src.trace_flags = 1;
	strcpy(src.method, "DELETE");
	strcpy(src.language, "python");
	memset(src.path, 'p', sizeof(src.path) - 1); /* a string that fills its field */
	strcpy(src.route, "/users/*");
	src.host_header[0] = '\0';
	strcpy(src.user_agent, "curl/7.88.1");
	strcpy(src.service_name, "checkout");
	memset(&dst, 0xab, sizeof(dst)); /* what the queue slot held before */
	span_copy(&dst, &src);
	CHECK(!memcmp(&dst, &src, offsetof(struct span, method)));
	CHECK_STR(dst.method, "DELETE");
	CHECK_STR(dst.language, "python");
	CHECK_INT(strnlen(dst.path, sizeof(dst.path)), sizeof(dst.path) - 1);
	CHECK_STR(dst.path, src.path);
	CHECK_STR(dst.route, "/users/*");
	CHECK_STR(dst.host_header, "");
	CHECK_STR(dst.user_agent, "curl/7.88.1");
	CHECK_STR(dst.service_name, "checkout");
	/* str_copy truncates to the field and always ends the string */
	memset(long_str, 'x', sizeof(long_str) - 1);
	long_str[sizeof(long_str) - 1] = '\0';
	CHECK_INT(str_copy(dst.method, sizeof(dst.method), long_str), sizeof(dst.method) - 1);
	CHECK_INT(strlen(dst.method), sizeof(dst.method) - 1);
}

/* --- metrics ---------------------------------------------------------------------------------- */

static void test_bucket_index(void)
{
	/* bucket i holds (bounds[i-1], bounds[i]]: a value on a bound belongs to the lower one */
	CHECK_INT(otlp_bucket_index(otlp_duration_bounds, OTLP_DURATION_BOUNDS, -1), 0);
	CHECK_INT(otlp_bucket_index(otlp_duration_bounds, OTLP_DURATION_BOUNDS, 0), 0);
	CHECK_INT(otlp_bucket_index(otlp_duration_bounds, OTLP_DURATION_BOUNDS, 1e-9), 1);
	CHECK_INT(otlp_bucket_index(otlp_duration_bounds, OTLP_DURATION_BOUNDS, 0.005), 1);
	CHECK_INT(otlp_bucket_index(otlp_duration_bounds, OTLP_DURATION_BOUNDS, 0.0051), 2);
	CHECK_INT(otlp_bucket_index(otlp_duration_bounds, OTLP_DURATION_BOUNDS, 0.3), 8);
	CHECK_INT(otlp_bucket_index(otlp_duration_bounds, OTLP_DURATION_BOUNDS, 10), 14);
	CHECK_INT(otlp_bucket_index(otlp_duration_bounds, OTLP_DURATION_BOUNDS, 10.001), 15);
	CHECK_INT(otlp_bucket_index(otlp_size_bounds, OTLP_SIZE_BOUNDS, 0), 0);
	CHECK_INT(otlp_bucket_index(otlp_size_bounds, OTLP_SIZE_BOUNDS, 1), 1);
	CHECK_INT(otlp_bucket_index(otlp_size_bounds, OTLP_SIZE_BOUNDS, 32), 1);
	CHECK_INT(otlp_bucket_index(otlp_size_bounds, OTLP_SIZE_BOUNDS, 33), 2);
	CHECK_INT(otlp_bucket_index(otlp_size_bounds, OTLP_SIZE_BOUNDS, 1234), 7);
	CHECK_INT(otlp_bucket_index(otlp_size_bounds, OTLP_SIZE_BOUNDS, 8192), 9);
	CHECK_INT(otlp_bucket_index(otlp_size_bounds, OTLP_SIZE_BOUNDS, 8193), 10);
	/* the advised boundaries, as the issue lists them */
	CHECK(otlp_duration_bounds[0] == 0 && otlp_duration_bounds[1] == 0.005 &&
	      otlp_duration_bounds[7] == 0.25 && otlp_duration_bounds[14] == 10);
	CHECK(otlp_size_bounds[0] == 0 && otlp_size_bounds[1] == 32 && otlp_size_bounds[9] == 8192);
}

static void test_encode_metrics(void)
{
	struct otlp_encoder *enc = test_encoder();
	struct otlp_metrics *m = otlp_metrics_new(100);
	struct proc_info pa, pb;
	struct otlp_resource *ra, *rb;
	struct otlp_series *snap;
	pb_metrics_req *req;
	Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm;
	const pb_metric *met;
	const pb_point *p;
	struct span s;
	const uint8_t *buf;
	size_t len, n, i;

	proc(&pa, 100, "api", "python");
	proc(&pb, 200, "proxy", "go");
	ra = otlp_resource_new(&pa);
	rb = otlp_resource_new(&pb);

	/* api: three GETs of the route answered 200 (1.5 ms, 3 ms, 0.3 s), one 500; proxy: a client
	 * call */
	server_span(&s);
	otlp_metrics_record(m, &s, ra);
	s.end_ns = T0 + 3 * MS;
	s.resp_body_size = 10;
	otlp_metrics_record(m, &s, ra);
	s.end_ns = T0 + 300 * MS;
	s.resp_body_size = 100000;
	otlp_metrics_record(m, &s, ra);
	s.status = 500;
	otlp_metrics_record(m, &s, ra);
	server_span(&s);
	s.kind = SPAN_CLIENT;
	s.route[0] = '\0';
	s.host_header[0] = '\0';
	s.req_body_size = 33;
	set_addr(&s.remote, "10.9.9.9", 9000);
	otlp_metrics_record(m, &s, rb);
	CHECK_INT(otlp_metrics_series(m), 3);

	CHECK_INT(otlp_metrics_snapshot(m, &snap, &n), 0);
	CHECK_INT(n, 3);
	CHECK_INT(otlp_encode_metrics(enc, snap, n, T0 + 1000 * MS, &buf, &len), 0);
	otlp_metrics_snapshot_free(snap, n);
	req = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
	    NULL, len, buf);
	CHECK(req != NULL);
	if (!req)
		goto out;
	CHECK_INT(req->n_resource_metrics, 2);
	for (i = 0; i < req->n_resource_metrics; i++) {
		Opentelemetry__Proto__Resource__V1__Resource *r =
		    req->resource_metrics[i]->resource;
		const pb_kv *pid = find_kv(r->attributes, r->n_attributes, "process.pid");

		CHECK(pid != NULL);
		if (!pid)
			continue;
		CHECK_INT(req->resource_metrics[i]->n_scope_metrics, 1);
		sm = req->resource_metrics[i]->scope_metrics[0];
		CHECK_STR(sm->scope->name, "obi");
		CHECK_STR(sm->scope->version, OBI_VERSION);
		if (pid->value->int_value == 100) {
			uint64_t dur_200[16] = {[1] = 2, [8] = 1};
			uint64_t resp_200[11] = {[1] = 1, [7] = 1, [10] = 1};
			uint64_t req_200[11] = {[0] = 3};
			const pb_point *ok = NULL, *err = NULL;
			size_t k;

			check_resource(r, 100, "api", "python");
			CHECK_INT(sm->n_metrics, 3);
			met = find_metric(sm, "http.server.request.duration");
			CHECK(met && met->data_case ==
					 OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM);
			if (!met)
				continue;
			CHECK_STR(met->unit, "s");
			CHECK_INT(met->histogram->aggregation_temporality, CUMULATIVE);
			CHECK_INT(met->histogram->n_data_points, 2);
			for (k = 0; k < met->histogram->n_data_points; k++) {
				p = met->histogram->data_points[k];
				if (find_kv(p->attributes, p->n_attributes,
					    "http.response.status_code")
					->value->int_value == 200)
					ok = p;
				else
					err = p;
			}
			CHECK(ok && err);
			if (!ok || !err)
				continue;
			CHECK_INT(ok->n_attributes, 4);
			STR_ATTR(ok->attributes, ok->n_attributes, "http.request.method", "GET");
			INT_ATTR(ok->attributes, ok->n_attributes, "http.response.status_code",
				 200);
			STR_ATTR(ok->attributes, ok->n_attributes, "http.route", "/users/*");
			STR_ATTR(ok->attributes, ok->n_attributes, "url.scheme", "http");
			CHECK(ok->has_count && ok->count == 3);
			CHECK(ok->has_sum && fabs(ok->sum - (0.0015 + 0.003 + 0.3)) < 1e-9);
			CHECK(ok->has_min && fabs(ok->min - 0.0015) < 1e-12);
			CHECK(ok->has_max && fabs(ok->max - 0.3) < 1e-12);
			CHECK_INT(ok->start_time_unix_nano, T0);
			CHECK_INT(ok->time_unix_nano, T0 + 1000 * MS);
			CHECK_INT(ok->n_explicit_bounds, 15);
			CHECK(ok->explicit_bounds[1] == 0.005 && ok->explicit_bounds[14] == 10);
			check_point_buckets(ok, dur_200, 16, __LINE__);
			CHECK_INT(err->count, 1);
			INT_ATTR(err->attributes, err->n_attributes, "http.response.status_code",
				 500);

			met = find_metric(sm, "http.server.response.body.size");
			CHECK(met != NULL);
			if (!met)
				continue;
			CHECK_STR(met->unit, "By");
			for (k = 0, p = NULL; k < met->histogram->n_data_points; k++)
				if (find_kv(met->histogram->data_points[k]->attributes,
					    met->histogram->data_points[k]->n_attributes,
					    "http.response.status_code")
					->value->int_value == 200)
					p = met->histogram->data_points[k];
			CHECK(p != NULL);
			if (!p)
				continue;
			CHECK_INT(p->n_explicit_bounds, 10);
			CHECK(p->explicit_bounds[9] == 8192);
			check_point_buckets(p, resp_200, 11, __LINE__);
			CHECK(fabs(p->sum - 101244) < 1e-9 && p->min == 10 && p->max == 100000);
			met = find_metric(sm, "http.server.request.body.size");
			CHECK(met != NULL);
			for (k = 0; met && k < met->histogram->n_data_points; k++) {
				p = met->histogram->data_points[k];
				if (p->count == 3) {
					check_point_buckets(p, req_200, 11, __LINE__);
					/* all zero: still sent (optional fields present at zero) */
					CHECK(p->has_sum && p->sum == 0 && p->has_max &&
					      p->max == 0);
				}
			}
		} else {
			uint64_t req_sz[11] = {[2] = 1};

			CHECK_INT(pid->value->int_value, 200);
			CHECK_INT(sm->n_metrics, 3);
			CHECK(find_metric(sm, "http.server.request.duration") == NULL);
			CHECK(find_metric(sm, "http.client.request.duration") != NULL);
			CHECK(find_metric(sm, "http.client.response.body.size") != NULL);
			met = find_metric(sm, "http.client.request.body.size");
			CHECK(met != NULL);
			if (!met)
				continue;
			CHECK_STR(met->unit, "By");
			CHECK_INT(met->histogram->n_data_points, 1);
			p = met->histogram->data_points[0];
			CHECK_INT(p->n_attributes, 5);
			STR_ATTR(p->attributes, p->n_attributes, "http.request.method", "GET");
			INT_ATTR(p->attributes, p->n_attributes, "http.response.status_code", 200);
			STR_ATTR(p->attributes, p->n_attributes, "url.scheme", "http");
			STR_ATTR(p->attributes, p->n_attributes, "server.address", "10.9.9.9");
			INT_ATTR(p->attributes, p->n_attributes, "server.port", 9000);
			NO_ATTR(p->attributes, p->n_attributes, "http.route");
			check_point_buckets(p, req_sz, 11, __LINE__);
		}
	}
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(
	    req, NULL);
out:
	otlp_metrics_free(m);
	otlp_resource_put(ra);
	otlp_resource_put(rb);
	otlp_encoder_free(enc);
}

static void test_series_cap_and_ttl(void)
{
	struct otlp_metrics *m = otlp_metrics_new(2);
	struct proc_info pa, pb;
	struct otlp_resource *ra, *rb;
	struct span s;

	proc(&pa, 100, "api", "python");
	proc(&pb, 200, "proxy", "go");
	ra = otlp_resource_new(&pa);
	rb = otlp_resource_new(&pb);
	server_span(&s);
	otlp_metrics_record(m, &s, ra);
	otlp_metrics_record(m, &s, ra); /* same series */
	otlp_metrics_record(m, &s, rb); /* same attributes, other process: a series of its own */
	CHECK_INT(otlp_metrics_series(m), 2);
	s.status = 201;
	otlp_metrics_record(m, &s, ra); /* a third series: over the cap, dropped and counted */
	otlp_metrics_record(m, &s, ra);
	CHECK_INT(otlp_metrics_series(m), 2);
	CHECK_INT(otlp_metrics_dropped(m), 2);
	/* the series hold references: the resources outlive the caller's */
	CHECK_INT(ra->refs, 2);

	/* ra's process exits at t=1000; TTL 500: kept at 1499, gone at 1500 */
	ra->exited = true;
	ra->exit_ns = 1000;
	CHECK_INT(otlp_metrics_expire(m, 1499, 500), 0);
	CHECK_INT(otlp_metrics_expire(m, 1500, 500), 1);
	CHECK_INT(otlp_metrics_series(m), 1);
	CHECK_INT(ra->refs, 1);
	/* room again */
	otlp_metrics_record(m, &s, rb);
	CHECK_INT(otlp_metrics_series(m), 2);
	otlp_metrics_free(m);
	CHECK_INT(rb->refs, 1);
	otlp_resource_put(ra);
	otlp_resource_put(rb);
}

static void test_server_address(void)
{
	struct span s;
	char out[128];

	server_span(&s);
	CHECK_STR(otlp_server_address(&s, &s.local, out, sizeof(out)), "api.example");
	strcpy(s.host_header, "[2001:db8::1]:443");
	CHECK_STR(otlp_server_address(&s, &s.local, out, sizeof(out)), "2001:db8::1");
	strcpy(s.host_header, "2001:db8::1");
	CHECK_STR(otlp_server_address(&s, &s.local, out, sizeof(out)), "2001:db8::1");
	strcpy(s.host_header, "plain");
	CHECK_STR(otlp_server_address(&s, &s.local, out, sizeof(out)), "plain");
	s.host_header[0] = '\0';
	CHECK_STR(otlp_server_address(&s, &s.local, out, sizeof(out)), "10.0.0.1");
	CHECK_STR(otlp_server_address(&s, &s.remote, out, sizeof(out)), "10.0.0.2");
	/* IPv4-mapped IPv6 is shown as IPv4, as the printer does */
	set_addr(&s.remote, "::ffff:192.0.2.7", 1);
	CHECK_STR(otlp_addr_str(&s.remote, out, sizeof(out)), "192.0.2.7");
	/* every digit count of the dotted form, and a buffer one byte short */
	set_addr(&s.remote, "0.10.100.255", 1);
	CHECK_STR(otlp_addr_str(&s.remote, out, sizeof(out)), "0.10.100.255");
	set_addr(&s.remote, "255.255.255.255", 1);
	CHECK_STR(otlp_addr_str(&s.remote, out, 16), "255.255.255.255");
	CHECK_STR(otlp_addr_str(&s.remote, out, 15), "");
	set_addr(&s.remote, "2001:db8::7", 1);
	CHECK_STR(otlp_addr_str(&s.remote, out, sizeof(out)), "2001:db8::7");
	s.remote.family = 0;
	CHECK_STR(otlp_addr_str(&s.remote, out, sizeof(out)), "");
}

/* --- sampler ---------------------------------------------------------------------------------- */

static void trace_low(uint8_t id[16], uint64_t low)
{
	int i;

	memset(id, 0xab, 8);
	for (i = 15; i >= 8; i--, low >>= 8)
		id[i] = (uint8_t)low;
}

static void test_sampler(void)
{
	struct span s;
	int kept = 0, i;

	server_span(&s);
	/* ratio: the low 8 bytes >> 1 compared with ratio * 2^63 */
	trace_low(s.trace_id, 0);
	CHECK(otlp_sampler_ratio_keep(0.5, s.trace_id));
	CHECK(!otlp_sampler_ratio_keep(0.0, s.trace_id));
	trace_low(s.trace_id, 0x7ffffffffffffffeULL); /* >> 1 = 2^62 - 1: kept at 0.5 */
	CHECK(otlp_sampler_ratio_keep(0.5, s.trace_id));
	trace_low(s.trace_id, 0x8000000000000000ULL); /* >> 1 = 2^62: not kept at 0.5 */
	CHECK(!otlp_sampler_ratio_keep(0.5, s.trace_id));
	CHECK(otlp_sampler_ratio_keep(0.51, s.trace_id));
	trace_low(s.trace_id, UINT64_MAX);
	CHECK(!otlp_sampler_ratio_keep(0.999999, s.trace_id));
	CHECK(otlp_sampler_ratio_keep(1.0, s.trace_id));
	/* the high bytes do not matter */
	memset(s.trace_id, 0, 8);
	CHECK(!otlp_sampler_ratio_keep(0.999999, s.trace_id));
	/* about the ratio over many ids, and deterministic */
	for (i = 0; i < 10000; i++) {
		trace_low(s.trace_id, (uint64_t)i * 0x9e3779b97f4a7c15ULL);
		kept += otlp_sampler_ratio_keep(0.25, s.trace_id);
		CHECK(otlp_sampler_ratio_keep(0.25, s.trace_id) ==
		      otlp_sampler_ratio_keep(0.25, s.trace_id));
	}
	CHECK(kept > 2300 && kept < 2700);

	/* root span (no parent) */
	trace_low(s.trace_id, UINT64_MAX); /* dropped by any ratio below 1 */
	CHECK(otlp_sampler_keep(OTLP_SAMPLER_ALWAYS_ON, 0, &s));
	CHECK(!otlp_sampler_keep(OTLP_SAMPLER_ALWAYS_OFF, 1, &s));
	CHECK(!otlp_sampler_keep(OTLP_SAMPLER_TRACEIDRATIO, 0.5, &s));
	CHECK(otlp_sampler_keep(OTLP_SAMPLER_TRACEIDRATIO, 1.0, &s));
	CHECK(otlp_sampler_keep(OTLP_SAMPLER_PARENTBASED_ALWAYS_ON, 0, &s));
	CHECK(!otlp_sampler_keep(OTLP_SAMPLER_PARENTBASED_ALWAYS_OFF, 1, &s));
	CHECK(!otlp_sampler_keep(OTLP_SAMPLER_PARENTBASED_TRACEIDRATIO, 0.5, &s));
	/* a sampled parent: parent-based samplers keep whatever the ratio says */
	memcpy(s.parent_id, span_2, 8);
	s.trace_flags = 1;
	CHECK(otlp_sampler_keep(OTLP_SAMPLER_PARENTBASED_ALWAYS_ON, 0, &s));
	CHECK(otlp_sampler_keep(OTLP_SAMPLER_PARENTBASED_ALWAYS_OFF, 0, &s));
	CHECK(otlp_sampler_keep(OTLP_SAMPLER_PARENTBASED_TRACEIDRATIO, 0.0, &s));
	CHECK(!otlp_sampler_keep(OTLP_SAMPLER_TRACEIDRATIO, 0.5, &s));
	/* a parent that was not sampled */
	s.trace_flags = 0;
	CHECK(!otlp_sampler_keep(OTLP_SAMPLER_PARENTBASED_ALWAYS_ON, 1, &s));
	CHECK(!otlp_sampler_keep(OTLP_SAMPLER_PARENTBASED_TRACEIDRATIO, 1.0, &s));
	CHECK(otlp_sampler_keep(OTLP_SAMPLER_ALWAYS_ON, 0, &s));
	CHECK(otlp_sampler_keep(OTLP_SAMPLER_TRACEIDRATIO, 1.0, &s));
}

/* --- HTTP helpers ----------------------------------------------------------------------------- */

/* gRPC answers (HTTP 200, grpc-status in the trailers): the OTLP retry rules per code, and
 * RESOURCE_EXHAUSTED retried only with a RetryInfo, read from grpc-status-details-bin. */
static void test_grpc_outcome(void)
{
	/* google.rpc.Status{code 8, "slow down", [Any{RetryInfo{retry_delay 2.5 s}}]}, unpadded */
	static const char details[] =
	    "grpc-status-details-bin: CAgSCXNsb3cgZG93bho2Cih0eXBlLmdvb2dsZWFw"
	    "aXMuY29tL2dvb2dsZS5ycGMuUmV0cnlJbmZvEgoKCAgCEIDKte4B\r\n";
	static const int retried[] = {1, 4, 10, 11, 14, 15}, final[] = {2, 3, 5, 7, 9, 12, 13, 16};
	struct otlp_response r;
	size_t i;

	otlp_response_init(&r);
	r.status = 200;
	CHECK_INT(otlp_transport_outcome(&r), OTLP_SENT); /* no grpc-status: plain HTTP */
	otlp_response_header(&r, "grpc-status: 0\r\n", 16);
	CHECK_INT(otlp_transport_outcome(&r), OTLP_SENT);
	for (i = 0; i < sizeof(retried) / sizeof(retried[0]); i++) {
		r.grpc_status = retried[i];
		CHECK_INT(otlp_transport_outcome(&r), OTLP_RETRY);
	}
	for (i = 0; i < sizeof(final) / sizeof(final[0]); i++) {
		r.grpc_status = final[i];
		CHECK_INT(otlp_transport_outcome(&r), OTLP_REJECTED);
	}
	otlp_response_header(&r, "grpc-status: 8", 14);
	CHECK_INT(r.grpc_status, 8);
	CHECK_INT(otlp_transport_outcome(&r), OTLP_REJECTED);
	otlp_response_header(&r, details, strlen(details));
	CHECK_INT(r.grpc_retry_ms, 2500);
	CHECK_INT(otlp_transport_outcome(&r), OTLP_RETRY);
	otlp_response_header(&r, "grpc-message: too%20many%2C slow", 32);
	CHECK_STR(r.grpc_message, "too many, slow");
	otlp_response_header(&r, "grpc-status: x1", 15);
	CHECK_INT(r.grpc_status, 2); /* unreadable: UNKNOWN */
	CHECK_INT(otlp_grpc_retry_info_ms("!!"), -1);
	CHECK_INT(otlp_grpc_retry_info_ms("CAg"), -1); /* a Status without RetryInfo */
}

static void test_retry_after_and_outcome(void)
{
	struct otlp_response r = {.retry_after_ms = -1};
	static const long retried[] = {429, 502, 503, 504};
	static const long final[] = {400, 401, 403, 404, 413, 500, 501};
	time_t now = 1445412480; /* Wed, 21 Oct 2015 07:28:00 GMT */
	size_t i;

	CHECK_INT(otlp_retry_after_ms("120", now), 120000);
	CHECK_INT(otlp_retry_after_ms(" 0 ", now), 0);
	CHECK_INT(otlp_retry_after_ms("Wed, 21 Oct 2015 07:28:30 GMT", now), 30000);
	CHECK_INT(otlp_retry_after_ms("Wed, 21 Oct 2015 07:27:00 GMT", now), 0);
	CHECK_INT(otlp_retry_after_ms("soon", now), -1);
	CHECK_INT(otlp_retry_after_ms("12abc", now), -1);

	for (r.status = 200; r.status < 300; r.status += 4)
		CHECK_INT(otlp_transport_outcome(&r), OTLP_SENT);
	for (i = 0; i < sizeof(retried) / sizeof(retried[0]); i++) {
		r.status = retried[i];
		CHECK_INT(otlp_transport_outcome(&r), OTLP_RETRY);
	}
	for (i = 0; i < sizeof(final) / sizeof(final[0]); i++) {
		r.status = final[i];
		CHECK_INT(otlp_transport_outcome(&r), OTLP_REJECTED);
	}
	r.status = 0;
	r.err = -ECONNREFUSED;
	CHECK_INT(otlp_transport_outcome(&r), OTLP_RETRY);
	r.err = -ETIMEDOUT;
	CHECK_INT(otlp_transport_outcome(&r), OTLP_RETRY);
	r.err = -ECONNRESET;
	CHECK_INT(otlp_transport_outcome(&r), OTLP_RETRY);
	r.err = -EPROTONOSUPPORT;
	CHECK_INT(otlp_transport_outcome(&r), OTLP_REJECTED);
	r.err = -EINVAL;
	CHECK_INT(otlp_transport_outcome(&r), OTLP_REJECTED);
	test_grpc_outcome();
}

/* --- partial success ------------------------------------------------------------------------- */

static void test_decode_response(void)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse resp =
	    OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
	Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
	    OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
	uint8_t buf[256];
	int64_t rejected;
	char msg[64];
	size_t len;

	/* packed by protobuf-c, after an unknown field (9, a two-byte varint) */
	ps.rejected_spans = 300;
	ps.error_message = "too old";
	resp.partial_success = &ps;
	buf[0] = 9 << 3;
	buf[1] = 0x81;
	buf[2] = 0x01;
	len = 3 + opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack(
		      &resp, buf + 3);
	CHECK_INT(otlp_decode_response(buf, len, &rejected, msg, sizeof(msg)), 0);
	CHECK_INT(rejected, 300);
	CHECK_STR(msg, "too old");
	/* the message is cut to the caller's buffer */
	CHECK_INT(otlp_decode_response(buf, len, &rejected, msg, 4), 0);
	CHECK_STR(msg, "too");
	/* truncated: not a response */
	CHECK_INT(otlp_decode_response(buf, len - 1, &rejected, msg, sizeof(msg)), -EINVAL);
	/* empty: all accepted */
	CHECK_INT(otlp_decode_response(buf, 0, &rejected, msg, sizeof(msg)), 0);
	CHECK_INT(rejected, 0);
	CHECK_STR(msg, "");
}

/* --- exporter queue ----------------------------------------------------------------------------*/

static void test_queue_overflow(void)
{
	static char *env[] = {"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9",
			      "OTEL_BSP_MAX_QUEUE_SIZE=4", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=2",
			      NULL};
	static char *argv[] = {"obi", NULL};
	static struct obi_config cfg;
	struct otlp_options opts;
	struct otlp_exporter *ex;
	struct otlp_exporter_stats st;
	struct proc_info pi;
	struct span s;
	int i;

	CHECK_INT(config_load(&cfg, 1, argv, env, stderr), 0);
	export_config_otlp(&cfg, &opts);
	/* not started: nothing drains the queue */
	CHECK_INT(otlp_exporter_new(&opts, &ex), 0);
	if (!ex)
		return;
	proc(&pi, 100, "api", "python");
	server_span(&s);
	for (i = 0; i < 7; i++)
		otlp_exporter_on_span(ex, &s, &pi);
	otlp_exporter_get_stats(ex, &st);
	CHECK_INT(st.spans_queued, 4);
	CHECK_INT(st.spans_dropped, 3);
	CHECK_INT(st.queue_len, 4);
	CHECK_INT(st.queue_cap, 4);
	/* metrics count every span, queued or not */
	CHECK_INT(st.series, 1);
	otlp_exporter_proc_exit(ex, 100);
	otlp_exporter_stop(ex);

	/* the sampler drops before the queue: counted as sampled out, not as dropped */
	env[1] = "OTEL_TRACES_SAMPLER=always_off";
	CHECK_INT(config_load(&cfg, 1, argv, env, stderr), 0);
	export_config_otlp(&cfg, &opts);
	CHECK_INT(otlp_exporter_new(&opts, &ex), 0);
	if (!ex)
		return;
	for (i = 0; i < 5; i++)
		otlp_exporter_on_span(ex, &s, &pi);
	otlp_exporter_get_stats(ex, &st);
	CHECK_INT(st.spans_queued, 0);
	CHECK_INT(st.spans_sampled_out, 5);
	CHECK_INT(st.spans_dropped, 0);
	CHECK_INT(st.series, 1);
	otlp_exporter_stop(ex);
}

/* container.id: obi's when the process is in a container (from its cgroup), else the user's. */
static void test_container_id(void)
{
	struct otlp_encoder *enc = otlp_encoder_new("container.id=from-the-user", "testhost");
	struct proc_info pa, pb;
	struct otlp_resource *ra, *rb;
	struct otlp_span_ref refs[2];
	struct span s[2];
	pb_trace_req *req;
	const uint8_t *buf;
	size_t len;

	proc(&pa, 100, "api", "python");
	proc(&pb, 200, "proxy", "");
	strcpy(pa.container_id, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	ra = otlp_resource_new(&pa);
	rb = otlp_resource_new(&pb);
	server_span(&s[0]);
	server_span(&s[1]);
	s[1].pid = 200;
	refs[0] = (struct otlp_span_ref){ &s[0], ra };
	refs[1] = (struct otlp_span_ref){ &s[1], rb };
	CHECK_INT(otlp_encode_traces(enc, refs, 2, &buf, &len), 0);
	req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
	    NULL, len, buf);
	CHECK(req != NULL && req->n_resource_spans == 2);
	if (req && req->n_resource_spans == 2) {
		const Opentelemetry__Proto__Resource__V1__Resource *a = req->resource_spans[0]->resource,
								   *b = req->resource_spans[1]->resource;
		size_t seen = 0;

		STR_ATTR(a->attributes, a->n_attributes, "container.id", pa.container_id);
		STR_ATTR(b->attributes, b->n_attributes, "container.id", "from-the-user");
		for (size_t i = 0; i < a->n_attributes; i++)
			seen += !strcmp(a->attributes[i]->key, "container.id");
		CHECK_INT(seen, 1); /* never twice */
	}
	if (req)
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
		    req, NULL);
	otlp_resource_put(ra);
	otlp_resource_put(rb);
	otlp_encoder_free(enc);
}

int main(void)
{
	test_encode_traces();
	test_span_status_and_name();
	test_span_copy();
	test_bucket_index();
	test_encode_metrics();
	test_series_cap_and_ttl();
	test_server_address();
	test_sampler();
	test_retry_after_and_outcome();
	test_decode_response();
	test_queue_overflow();
	test_container_id();
	return check_done("test_otlp");
}
