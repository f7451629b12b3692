// SPDX-License-Identifier: Apache-2.0
/*
 * OTLP encoding of database spans decoded back with protobuf-c, and obi's protobuf writer
 * checked against proto/: every field number and wire type it writes, walked through the
 * descriptors protoc-c generated (a number or type proto/ does not have fails).
 */
#include "otlp_fixtures.h"

/* A Redis client span: SELECT-style namespace, the query with its arguments hidden, an error
 * reply; as a span and as db.client.operation.duration, with the database buckets. */
static void redis_span(struct span *s, bool error)
{
	memset(s, 0, sizeof(*s));
	s->kind = SPAN_CLIENT;
	s->proto = SPAN_REDIS;
	s->db_system = SPAN_DB_REDIS;
	s->start_ns = T0;
	s->handler_ns = T0 + 1000;
	s->end_ns = T0 + 2 * MS;
	strcpy(s->db_operation, "LPUSH");
	strcpy(s->db_namespace, "3");
	strcpy(s->db_query, "LPUSH ? ?");
	if (error) {
		s->error = true;
		s->status = 1;
		strcpy(s->db_status, "WRONGTYPE");
	}
	set_addr(&s->local, "10.0.0.1", 50000);
	set_addr(&s->remote, "10.0.0.7", 6379);
	s->pid = 100;
	memcpy(s->trace_id, trace_a, 16);
	memcpy(s->span_id, span_2, 8);
}

static void test_encode_db(void)
{
	struct otlp_encoder *enc = test_encoder();
	struct otlp_metrics *m = otlp_metrics_new(100);
	struct otlp_resource *ra;
	struct otlp_series *snap;
	struct otlp_span_ref ref;
	struct proc_info pa;
	pb_trace_req *req;
	pb_metrics_req *mreq = NULL;
	const pb_metric *met;
	const uint8_t *buf;
	struct span s, ok;
	size_t len, n;
	pb_span *sp;

	proc(&pa, 100, "api", "python");
	ra = otlp_resource_new(&pa);
	redis_span(&s, true);
	ref = (struct otlp_span_ref){&s, ra};
	CHECK_INT(otlp_encode_traces(enc, &ref, 1, &buf, &len), 0);
	req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
	    NULL, len, buf);
	CHECK(req != NULL);
	if (!req)
		goto out;
	sp = req->resource_spans[0]->scope_spans[0]->spans[0];
	CHECK_STR(sp->name, "LPUSH");
	CHECK_INT(sp->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT);
	check_str_attr(sp->attributes, sp->n_attributes, "db.system.name", "redis", __LINE__);
	check_str_attr(sp->attributes, sp->n_attributes, "db.operation.name", "LPUSH", __LINE__);
	check_str_attr(sp->attributes, sp->n_attributes, "db.namespace", "3", __LINE__);
	check_str_attr(sp->attributes, sp->n_attributes, "db.query.text", "LPUSH ? ?", __LINE__);
	check_str_attr(sp->attributes, sp->n_attributes, "db.response.status_code", "WRONGTYPE",
		       __LINE__);
	check_str_attr(sp->attributes, sp->n_attributes, "error.type", "WRONGTYPE", __LINE__);
	check_str_attr(sp->attributes, sp->n_attributes, "server.address", "10.0.0.7", __LINE__);
	check_int_attr(sp->attributes, sp->n_attributes, "server.port", 6379, __LINE__);
	CHECK(find_kv(sp->attributes, sp->n_attributes, "url.path") == NULL);
	CHECK(find_kv(sp->attributes, sp->n_attributes, "db.collection.name") == NULL);
	CHECK_INT(sp->status->code,
		  OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR);
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
	    req, NULL);

	/* two operations, one failed: two series of db.client.operation.duration; a server span
	 * of the database records nothing */
	redis_span(&ok, false);
	otlp_metrics_record(m, &ok, ra);
	otlp_metrics_record(m, &ok, ra);
	otlp_metrics_record(m, &s, ra);
	ok.kind = SPAN_SERVER;
	otlp_metrics_record(m, &ok, ra);
	CHECK_INT(otlp_metrics_series(m), 2);
	CHECK_INT(otlp_metrics_snapshot(m, &snap, &n), 0);
	CHECK_INT(otlp_encode_metrics(enc, snap, n, T0 + 1000 * MS, &buf, &len), 0);
	otlp_metrics_snapshot_free(snap, n);
	mreq = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
	    NULL, len, buf);
	CHECK(mreq != NULL);
	if (!mreq)
		goto out;
	met = find_metric(mreq->resource_metrics[0]->scope_metrics[0],
			  "db.client.operation.duration");
	CHECK(met != NULL);
	CHECK(find_metric(mreq->resource_metrics[0]->scope_metrics[0],
			  "http.client.request.duration") == NULL);
	if (met) {
		static const uint64_t want[10] = {0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
		const pb_point *p0 = met->histogram->data_points[0];
		const pb_point *p1 = met->histogram->data_points[1];
		const pb_point *failed =
		    find_kv(p0->attributes, p0->n_attributes, "error.type") ? p0 : p1;
		const pb_point *fine = failed == p0 ? p1 : p0;

		CHECK_STR(met->unit, "s");
		CHECK_INT(met->histogram->n_data_points, 2);
		CHECK_INT(fine->count, 2);
		CHECK_INT(failed->count, 1);
		CHECK_INT(fine->n_explicit_bounds, 9);
		check_point_buckets(failed, want, 10, __LINE__); /* 2 ms: (0.001, 0.005] */
		check_str_attr(failed->attributes, failed->n_attributes, "error.type", "WRONGTYPE",
			       __LINE__);
		check_str_attr(fine->attributes, fine->n_attributes, "db.system.name", "redis",
			       __LINE__);
		check_str_attr(fine->attributes, fine->n_attributes, "db.operation.name", "LPUSH",
			       __LINE__);
		check_int_attr(fine->attributes, fine->n_attributes, "server.port", 6379, __LINE__);
	}
out:
	if (mreq)
		opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(
		    mreq, NULL);
	otlp_metrics_free(m);
	otlp_resource_put(ra);
	otlp_encoder_free(enc);
}

/* --- the wire format against proto/ -------------------------------------------------------- */

static unsigned wire_fields_seen;

static bool read_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64 && *i < n; shift += 7) {
		uint8_t b = p[(*i)++];

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

/* The wire type a field of this type is written with (packed repeated scalars: 2). */
static int wire_type_of(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 1;
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		return 5;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE:
		return 2;
	default:
		return 0;
	}
}

/*
 * Walks an encoded message field by field with the descriptor protoc-c generated from proto/:
 * every field number obi writes must exist in that message and come with its type's wire type
 * (a packed repeated scalar as length-delimited); sub-messages are walked with their own
 * descriptors. Returns false after reporting the first mismatch.
 */
static bool walk_message(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n,
			 const char *where)
{
	size_t i = 0;

	while (i < n) {
		const ProtobufCFieldDescriptor *f;
		uint64_t tag, len = 0;
		int wt, want;
		char path[512];

		if (!read_varint(p, n, &i, &tag)) {
			fprintf(stderr, "%s: truncated tag\n", where);
			return false;
		}
		wt = (int)(tag & 7);
		f = protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3));
		if (!f) {
			fprintf(stderr, "%s: field number %llu is not in %s\n", where,
				(unsigned long long)(tag >> 3), d->name);
			return false;
		}
		snprintf(path, sizeof(path), "%s.%s", where, f->name);
		want = wire_type_of(f);
		if (wt != want && !(wt == 2 && f->label == PROTOBUF_C_LABEL_REPEATED && want != 2)) {
			fprintf(stderr, "%s: wire type %d, %s has %d\n", path, wt, d->name, want);
			return false;
		}
		wire_fields_seen++;
		switch (wt) {
		case 0:
			if (!read_varint(p, n, &i, &len))
				return false;
			break;
		case 1:
			i += 8;
			break;
		case 5:
			i += 4;
			break;
		case 2:
			if (!read_varint(p, n, &i, &len) || len > n - i) {
				fprintf(stderr, "%s: bad length\n", path);
				return false;
			}
			if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
			    !walk_message(f->descriptor, p + i, (size_t)len, path))
				return false;
			i += (size_t)len;
			break;
		default:
			fprintf(stderr, "%s: wire type %d\n", path, wt);
			return false;
		}
		if (i > n) {
			fprintf(stderr, "%s: runs past its message\n", path);
			return false;
		}
	}
	return true;
}

static void test_wire_matches_proto(void)
{
	struct otlp_encoder *enc = test_encoder();
	struct otlp_metrics *m = otlp_metrics_new(100);
	struct otlp_span_ref refs[4];
	struct otlp_series *snap;
	struct otlp_resource *ra;
	struct proc_info pa;
	struct span s[4];
	const uint8_t *buf;
	size_t len, n;

	proc(&pa, 100, "api", "python");
	ra = otlp_resource_new(&pa);
	/* a server span with a parent, tracestate and every HTTP field; a client span that got
	 * no response; two database spans, one failed */
	server_span(&s[0]);
	memcpy(s[0].parent_id, span_2, 8);
	strcpy(s[0].trace_state, "congo=t61rcWkgMzE");
	server_span(&s[1]);
	s[1].kind = SPAN_CLIENT;
	s[1].status = 0;
	redis_span(&s[2], true);
	redis_span(&s[3], false);
	for (int i = 0; i < 4; i++) {
		refs[i] = (struct otlp_span_ref){ &s[i], ra };
		otlp_metrics_record(m, &s[i], ra);
	}
	wire_fields_seen = 0;
	CHECK_INT(otlp_encode_traces(enc, refs, 4, &buf, &len), 0);
	CHECK(walk_message(
	    &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor, buf,
	    len, "ExportTraceServiceRequest"));
	CHECK(wire_fields_seen > 100); /* the walk saw the spans' fields, not an empty body */
	CHECK_INT(otlp_metrics_snapshot(m, &snap, &n), 0);
	CHECK(n >= 3);
	wire_fields_seen = 0;
	CHECK_INT(otlp_encode_metrics(enc, snap, n, T0 + 1000 * MS, &buf, &len), 0);
	otlp_metrics_snapshot_free(snap, n);
	CHECK(walk_message(
	    &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor,
	    buf, len, "ExportMetricsServiceRequest"));
	CHECK(wire_fields_seen > 100);

	/* the walk itself fails on a number proto/ does not have, and on a wrong wire type (its
	 * two complaints on stderr are expected) */
	{
		static const uint8_t bad_number[] = { 0x98, 0x06, 0x01 };  /* field 99, varint */
		static const uint8_t bad_type[] = { 0x0d, 0, 0, 0, 0 };    /* field 1 as fixed32 */

		CHECK(!walk_message(&opentelemetry__proto__trace__v1__span__descriptor, bad_number,
				    sizeof(bad_number), "Span"));
		CHECK(!walk_message(&opentelemetry__proto__trace__v1__span__descriptor, bad_type,
				    sizeof(bad_type), "Span"));
	}
	otlp_metrics_free(m);
	otlp_resource_put(ra);
	otlp_encoder_free(enc);
}

int main(void)
{
	test_encode_db();
	test_wire_matches_proto();
	return check_done("test_otlp_wire");
}
