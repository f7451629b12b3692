// SPDX-License-Identifier: Apache-2.0
/*
 * OTLP protobuf request bodies from spans and metric series, written field by field into the
 * encoder's buffer (pb.h): no message tree, no copies of strings but the bytes on the wire.
 * Field numbers are those of proto/; the unit tests decode the output with protobuf-c's code
 * generated from the same files.
 */
#include "encode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/parse.h"
#include "pb.h"

/* ExportTraceServiceRequest / ExportMetricsServiceRequest */
#define F_REQ_RESOURCE 1 /* resource_spans, resource_metrics */
/* ResourceSpans / ResourceMetrics */
#define F_RES_RESOURCE 1
#define F_RES_SCOPE    2 /* scope_spans, scope_metrics */
/* ScopeSpans / ScopeMetrics */
#define F_SCOPE_SCOPE 1
#define F_SCOPE_ITEMS 2 /* spans, metrics */
/* InstrumentationScope */
#define F_IS_NAME    1
#define F_IS_VERSION 2
/* Resource */
#define F_RESOURCE_ATTRS 1
/* KeyValue, AnyValue */
#define F_KV_KEY     1
#define F_KV_VALUE   2
#define F_ANY_STRING 1
#define F_ANY_INT    3
/* Span, Status */
#define F_SPAN_TRACE_ID	  1
#define F_SPAN_SPAN_ID	  2
#define F_SPAN_TRACE_STATE 3
#define F_SPAN_PARENT_ID  4
#define F_SPAN_NAME	  5
#define F_SPAN_KIND	  6
#define F_SPAN_START	  7
#define F_SPAN_END	  8
#define F_SPAN_ATTRS	  9
#define F_SPAN_STATUS	  15
#define F_SPAN_FLAGS	  16
#define F_STATUS_CODE	  3
#define SPAN_KIND_SERVER  2
#define SPAN_KIND_CLIENT  3
#define STATUS_CODE_ERROR 2
/* Metric, Histogram, HistogramDataPoint */
#define F_METRIC_NAME	   1
#define F_METRIC_DESC	   2
#define F_METRIC_UNIT	   3
#define F_METRIC_HISTOGRAM 9
#define F_HIST_POINTS	   1
#define F_HIST_TEMPORALITY 2
#define CUMULATIVE	   2
#define F_POINT_START	   2
#define F_POINT_TIME	   3
#define F_POINT_COUNT	   4
#define F_POINT_SUM	   5
#define F_POINT_BUCKETS	   6
#define F_POINT_BOUNDS	   7
#define F_POINT_ATTRS	   9
#define F_POINT_MIN	   11
#define F_POINT_MAX	   12
/* Export*ServiceResponse, Export*PartialSuccess */
#define F_RESP_PARTIAL	   1
#define F_PARTIAL_REJECTED 1
#define F_PARTIAL_MESSAGE  2

/* length hints of nested messages (pb_begin): a wrong one costs a memmove, nothing else */
#define HINT_SPAN     600
#define HINT_POINT    400
#define HINT_RESOURCE 1000
#define HINT_METRIC   4096
#define HINT_BATCH    (1 << 16)

struct extra_attr {
	char *key, *value;
};

struct otlp_encoder {
	char host[256];
	struct extra_attr *extra; /* OTEL_RESOURCE_ATTRIBUTES */
	size_t n_extra;
	struct pb_buf out; /* the last request, reused */
	uint16_t *slot;	   /* scratch: resource index of each span */
	size_t slot_cap;
};

/* --- UTF-8 ------------------------------------------------------------------------------------ */

size_t otlp_utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Bytes of s[0..n) once each invalid byte is replaced by U+FFFD (3 bytes). */
static size_t utf8_clean_len(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, out, step;
	uint64_t w;

	/* ASCII, the usual case, eight bytes at a time */
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, u + i, 8);
		if (w & 0x8080808080808080ULL)
			break;
	}
	while (i < n && u[i] < 0x80)
		i++;
	for (out = i; i < n; i += step) {
		step = otlp_utf8_seq(u + i, n - i);
		out += step ? step : 3;
		step = step ? step : 1;
	}
	return out;
}

/* s[0..n) with U+FFFD for each invalid byte; clean: utf8_clean_len(s, n). */
static void put_clean(struct pb_buf *b, const char *s, size_t n, size_t clean)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, step;

	if (clean == n) {
		pb_raw(b, s, n);
		return;
	}
	if (!pb_room(b, clean))
		return;
	for (i = 0; i < n; i += step) {
		step = otlp_utf8_seq(u + i, n - i);
		if (step) {
			memcpy(b->data + b->len, s + i, step);
			b->len += step;
		} else {
			memcpy(b->data + b->len, "\xef\xbf\xbd", 3);
			b->len += 3;
			step = 1;
		}
	}
}

/* A string field from s (at most max bytes), made valid UTF-8: receivers reject anything else. */
static void put_utf8(struct pb_buf *b, uint32_t field, const char *s, size_t max)
{
	size_t n = strnlen(s, max), clean = utf8_clean_len(s, n);

	pb_tag(b, field, PB_LEN);
	pb_varint(b, clean);
	put_clean(b, s, n, clean);
}

/* --- attributes ------------------------------------------------------------------------------- */

/* KeyValue{key, AnyValue{string_value}} with exact lengths: no slot to fix up afterwards. */
static void attr_str(struct pb_buf *b, uint32_t field, const char *key, const char *value,
		     size_t max)
{
	size_t klen = strlen(key), n = strnlen(value, max), vlen = utf8_clean_len(value, n);
	size_t any = 1 + pb_varint_len(vlen) + vlen;

	pb_tag(b, field, PB_LEN);
	pb_varint(b, 1 + pb_varint_len(klen) + klen + 1 + pb_varint_len(any) + any);
	pb_bytes(b, F_KV_KEY, key, klen);
	pb_tag(b, F_KV_VALUE, PB_LEN);
	pb_varint(b, any);
	pb_tag(b, F_ANY_STRING, PB_LEN);
	pb_varint(b, vlen);
	put_clean(b, value, n, vlen);
}

static void attr_int(struct pb_buf *b, uint32_t field, const char *key, int64_t value)
{
	size_t klen = strlen(key), any = 1 + pb_varint_len((uint64_t)value);

	pb_tag(b, field, PB_LEN);
	pb_varint(b, 1 + pb_varint_len(klen) + klen + 1 + pb_varint_len(any) + any);
	pb_bytes(b, F_KV_KEY, key, klen);
	pb_tag(b, F_KV_VALUE, PB_LEN);
	pb_varint(b, any);
	pb_uint(b, F_ANY_INT, (uint64_t)value);
}

/* --- encoder ---------------------------------------------------------------------------------- */

static int add_extra(const char *key, const char *value, void *ctx)
{
	struct otlp_encoder *enc = ctx;
	struct extra_attr *grown;
	size_t i;

	for (i = 0; i < enc->n_extra; i++)
		if (!strcmp(enc->extra[i].key, key))
			return 0; /* the first one wins */
	grown = realloc(enc->extra, (enc->n_extra + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	enc->extra = grown;
	grown[enc->n_extra].key = strdup(key);
	grown[enc->n_extra].value = strdup(value);
	if (!grown[enc->n_extra].key || !grown[enc->n_extra].value) {
		free(grown[enc->n_extra].key);
		free(grown[enc->n_extra].value);
		return -ENOMEM;
	}
	enc->n_extra++;
	return 0;
}

struct otlp_encoder *otlp_encoder_new(const char *resource_attributes, const char *host_name)
{
	struct otlp_encoder *enc = calloc(1, sizeof(*enc));

	if (!enc)
		return NULL;
	if (host_name)
		snprintf(enc->host, sizeof(enc->host), "%s", host_name);
	else if (gethostname(enc->host, sizeof(enc->host) - 1))
		snprintf(enc->host, sizeof(enc->host), "localhost");
	if (parse_kv_list(resource_attributes, add_extra, enc, NULL, 0)) {
		otlp_encoder_free(enc);
		return NULL;
	}
	return enc;
}

void otlp_encoder_free(struct otlp_encoder *enc)
{
	size_t i;

	if (!enc)
		return;
	for (i = 0; i < enc->n_extra; i++) {
		free(enc->extra[i].key);
		free(enc->extra[i].value);
	}
	free(enc->extra);
	pb_free(&enc->out);
	free(enc->slot);
	free(enc);
}

/* The keys obi sets on every resource; OTEL_RESOURCE_ATTRIBUTES cannot replace them. */
static const char *const own_resource_keys[] = {
    "service.name",
    "service.instance.id",
    "host.name",
    "os.type",
    "process.pid",
    "process.executable.name",
    "process.executable.path",
    "telemetry.sdk.name",
    "telemetry.sdk.language",
    "telemetry.sdk.version",
    "telemetry.distro.name",
    "telemetry.distro.version",
    "container.id",
};

/* True when obi sets key on r itself (the executable's path only when it is known). */
static bool own_resource_key(const struct otlp_resource *r, const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(own_resource_keys) / sizeof(own_resource_keys[0]); i++)
		if (!strcmp(key, own_resource_keys[i]))
			return (r->exe[0] || strcmp(key, "process.executable.path")) &&
			       (r->container_id[0] || strcmp(key, "container.id"));
	return false;
}

static void put_resource(struct pb_buf *b, const struct otlp_encoder *enc,
			 const struct otlp_resource *r)
{
	size_t mark = pb_begin(b, F_RES_RESOURCE, HINT_RESOURCE), i;
	char instance[300];

	snprintf(instance, sizeof(instance), "%s:%u", enc->host, r->pid);
	attr_str(b, F_RESOURCE_ATTRS, "service.name", r->service_name, sizeof(r->service_name));
	attr_str(b, F_RESOURCE_ATTRS, "service.instance.id", instance, sizeof(instance));
	attr_str(b, F_RESOURCE_ATTRS, "host.name", enc->host, sizeof(enc->host));
	attr_str(b, F_RESOURCE_ATTRS, "os.type", "linux", SIZE_MAX);
	attr_int(b, F_RESOURCE_ATTRS, "process.pid", r->pid);
	attr_str(b, F_RESOURCE_ATTRS, "process.executable.name", r->comm, sizeof(r->comm));
	if (r->exe[0])
		attr_str(b, F_RESOURCE_ATTRS, "process.executable.path", r->exe, sizeof(r->exe));
	attr_str(b, F_RESOURCE_ATTRS, "telemetry.sdk.name", OTLP_SDK_NAME, SIZE_MAX);
	attr_str(b, F_RESOURCE_ATTRS, "telemetry.sdk.language", r->language, sizeof(r->language));
	attr_str(b, F_RESOURCE_ATTRS, "telemetry.sdk.version", OBI_VERSION, SIZE_MAX);
	attr_str(b, F_RESOURCE_ATTRS, "telemetry.distro.name", OTLP_SDK_NAME, SIZE_MAX);
	attr_str(b, F_RESOURCE_ATTRS, "telemetry.distro.version", OBI_VERSION, SIZE_MAX);
	if (r->container_id[0])
		attr_str(b, F_RESOURCE_ATTRS, "container.id", r->container_id,
			 sizeof(r->container_id));
	for (i = 0; i < enc->n_extra; i++)
		if (!own_resource_key(r, enc->extra[i].key))
			attr_str(b, F_RESOURCE_ATTRS, enc->extra[i].key, enc->extra[i].value,
				 SIZE_MAX);
	pb_end(b, mark);
}

void otlp_encoder_resource_attrs(const struct otlp_encoder *enc, const struct otlp_resource *r,
				 otlp_attr_fn fn, void *ctx)
{
	char instance[300], pid[16];
	size_t i;

	snprintf(instance, sizeof(instance), "%s:%u", enc->host, r->pid);
	snprintf(pid, sizeof(pid), "%u", r->pid);
	fn(ctx, "service.name", r->service_name);
	fn(ctx, "service.instance.id", instance);
	fn(ctx, "host.name", enc->host);
	fn(ctx, "os.type", "linux");
	fn(ctx, "process.pid", pid);
	fn(ctx, "process.executable.name", r->comm);
	if (r->exe[0])
		fn(ctx, "process.executable.path", r->exe);
	fn(ctx, "telemetry.sdk.name", OTLP_SDK_NAME);
	fn(ctx, "telemetry.sdk.language", r->language);
	fn(ctx, "telemetry.sdk.version", OBI_VERSION);
	fn(ctx, "telemetry.distro.name", OTLP_SDK_NAME);
	fn(ctx, "telemetry.distro.version", OBI_VERSION);
	if (r->container_id[0])
		fn(ctx, "container.id", r->container_id);
	for (i = 0; i < enc->n_extra; i++)
		if (!own_resource_key(r, enc->extra[i].key))
			fn(ctx, enc->extra[i].key, enc->extra[i].value);
}

static void put_scope(struct pb_buf *b)
{
	size_t mark = pb_begin(b, F_SCOPE_SCOPE, 16);

	pb_str(b, F_IS_NAME, OTLP_SCOPE_NAME);
	pb_str(b, F_IS_VERSION, OBI_VERSION);
	pb_end(b, mark);
}

/* Index of r in list[0..*n), appended when absent. */
static size_t resource_slot(const struct otlp_resource **list, size_t *n,
			    const struct otlp_resource *r)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (list[i] == r)
			return i;
	list[*n] = r;
	return (*n)++;
}

/* The distinct resources of n items in order of first appearance (into res, which has room
 * for n), each item's index among them in enc->slot. Returns how many, or 0 when out of
 * memory (with n > 0). */
static size_t group_resources(struct otlp_encoder *enc, const struct otlp_resource **res,
			      const struct otlp_resource *(*res_of)(const void *, size_t),
			      const void *items, size_t n)
{
	size_t n_res = 0, i;

	if (n > enc->slot_cap) {
		uint16_t *grown = realloc(enc->slot, n * sizeof(*grown));

		if (!grown)
			return 0;
		enc->slot = grown;
		enc->slot_cap = n;
	}
	for (i = 0; i < n; i++)
		enc->slot[i] = (uint16_t)resource_slot(res, &n_res, res_of(items, i));
	return n_res;
}

/* Finishes a request: its bytes, or -ENOMEM when the buffer could not grow. */
static int finish(struct otlp_encoder *enc, const uint8_t **out, size_t *len)
{
	*out = enc->out.failed ? NULL : enc->out.data;
	*len = enc->out.failed ? 0 : enc->out.len;
	return enc->out.failed ? -ENOMEM : 0;
}

/* --- spans ------------------------------------------------------------------------------------ */

/* A database span's name, its db.query.summary: "SELECT users", else the operation, else the
 * system ("redis"). */
static void db_span_name(const struct span *s, char *out, size_t size)
{
	if (!s->db_operation[0])
		snprintf(out, size, "%s", span_db_system_name(s));
	else if (s->db_collection[0])
		snprintf(out, size, "%s %s", s->db_operation, s->db_collection);
	else
		snprintf(out, size, "%s", s->db_operation);
}

void otlp_span_name(const struct span *s, char *out, size_t size)
{
	const char *method;
	size_t n, r;

	if (!size)
		return;
	if (!span_is_http(s)) {
		db_span_name(s, out, size);
		return;
	}
	method = otlp_http_method(s->method);
	n = strlen(method), r = strnlen(s->route, sizeof(s->route));
	if (method[0] == '_')
		method = "HTTP", n = 4, r = 0;
	n = n < size - 1 ? n : size - 1;
	memcpy(out, method, n);
	/* "METHOD route" */
	if (r && n + 1 < size - 1) {
		out[n++] = ' ';
		r = r < size - 1 - n ? r : size - 1 - n;
		memcpy(out + n, s->route, r);
		n += r;
	}
	out[n] = '\0';
}

bool otlp_span_is_error(const struct span *s)
{
	if (!span_is_http(s) || s->proto == SPAN_GRPC)
		return s->error;	/* as the parser judged it (gRPC: status is grpc-status) */
	if (s->status == 0)
		return true;
	return s->kind == SPAN_CLIENT ? s->status >= 400 : s->status >= 500;
}

/* A database span's attributes, as the semantic conventions for database calls name them. */
static void put_db_span_attrs(struct pb_buf *b, const struct span *s)
{
	char peer[64];

	attr_str(b, F_SPAN_ATTRS, "db.system.name", span_db_system_name(s), SIZE_MAX);
	if (s->db_operation[0])
		attr_str(b, F_SPAN_ATTRS, "db.operation.name", s->db_operation,
			 sizeof(s->db_operation));
	if (s->db_collection[0])
		attr_str(b, F_SPAN_ATTRS, "db.collection.name", s->db_collection,
			 sizeof(s->db_collection));
	if (s->db_namespace[0])
		attr_str(b, F_SPAN_ATTRS, "db.namespace", s->db_namespace, sizeof(s->db_namespace));
	if (s->db_query[0])
		attr_str(b, F_SPAN_ATTRS, "db.query.text", s->db_query, sizeof(s->db_query));
	if (s->db_status[0])
		attr_str(b, F_SPAN_ATTRS, "db.response.status_code", s->db_status,
			 sizeof(s->db_status));
	if (s->error)
		attr_str(b, F_SPAN_ATTRS, "error.type", s->db_status[0] ? s->db_status : "_OTHER",
			 sizeof(s->db_status));
	otlp_addr_str(s->kind == SPAN_CLIENT ? &s->remote : &s->local, peer, sizeof(peer));
	attr_str(b, F_SPAN_ATTRS, "server.address", peer, sizeof(peer));
	attr_int(b, F_SPAN_ATTRS, "server.port",
		 s->kind == SPAN_CLIENT ? s->remote.port : s->local.port);
	otlp_addr_str(&s->remote, peer, sizeof(peer));
	attr_str(b, F_SPAN_ATTRS, "network.peer.address", peer, sizeof(peer));
	attr_int(b, F_SPAN_ATTRS, "network.peer.port", s->remote.port);
}

static void put_span_attrs(struct pb_buf *b, const struct span *s, const char *method)
{
	const struct span_addr *server = s->kind == SPAN_CLIENT ? &s->remote : &s->local;
	char peer[64], host[sizeof(s->host_header)];

	attr_str(b, F_SPAN_ATTRS, "http.request.method", method, SIZE_MAX);
	if (method[0] == '_')
		attr_str(b, F_SPAN_ATTRS, "http.request.method_original", s->method,
			 sizeof(s->method));
	if (s->status)
		attr_int(b, F_SPAN_ATTRS, "http.response.status_code", s->status);
	attr_str(b, F_SPAN_ATTRS, "url.path", s->path, sizeof(s->path));
	attr_str(b, F_SPAN_ATTRS, "url.scheme", "http", SIZE_MAX);
	if (s->route[0])
		attr_str(b, F_SPAN_ATTRS, "http.route", s->route, sizeof(s->route));
	otlp_server_address(s, server, host, sizeof(host));
	attr_str(b, F_SPAN_ATTRS, "server.address", host, sizeof(host));
	attr_int(b, F_SPAN_ATTRS, "server.port", server->port);
	otlp_addr_str(&s->remote, peer, sizeof(peer));
	if (s->kind == SPAN_SERVER)
		attr_str(b, F_SPAN_ATTRS, "client.address", peer, sizeof(peer));
	attr_str(b, F_SPAN_ATTRS, "network.peer.address", peer, sizeof(peer));
	attr_int(b, F_SPAN_ATTRS, "network.peer.port", s->remote.port);
	attr_int(b, F_SPAN_ATTRS, "http.request.body.size", (int64_t)s->req_body_size);
	attr_int(b, F_SPAN_ATTRS, "http.response.body.size", (int64_t)s->resp_body_size);
	if (s->user_agent[0])
		attr_str(b, F_SPAN_ATTRS, "user_agent.original", s->user_agent,
			 sizeof(s->user_agent));
}

static void put_span(struct pb_buf *b, const struct span *s)
{
	static const uint8_t no_parent[8];
	size_t mark = pb_begin(b, F_SCOPE_ITEMS, HINT_SPAN), status;
	char name[sizeof(s->db_operation) + sizeof(s->route) + 2];

	pb_bytes(b, F_SPAN_TRACE_ID, s->trace_id, sizeof(s->trace_id));
	pb_bytes(b, F_SPAN_SPAN_ID, s->span_id, sizeof(s->span_id));
	if (s->trace_state[0])
		put_utf8(b, F_SPAN_TRACE_STATE, s->trace_state, sizeof(s->trace_state));
	if (memcmp(s->parent_id, no_parent, sizeof(no_parent)))
		pb_bytes(b, F_SPAN_PARENT_ID, s->parent_id, sizeof(s->parent_id));
	otlp_span_name(s, name, sizeof(name));
	put_utf8(b, F_SPAN_NAME, name, sizeof(name));
	pb_uint(b, F_SPAN_KIND, s->kind == SPAN_CLIENT ? SPAN_KIND_CLIENT : SPAN_KIND_SERVER);
	pb_fixed64(b, F_SPAN_START, s->start_ns);
	pb_fixed64(b, F_SPAN_END, s->end_ns > s->start_ns ? s->end_ns : s->start_ns);
	if (span_is_http(s))
		put_span_attrs(b, s, otlp_http_method(s->method));
	else
		put_db_span_attrs(b, s);
	/* always present, empty for UNSET, as other SDKs send it */
	status = pb_begin(b, F_SPAN_STATUS, 2);
	if (otlp_span_is_error(s))
		pb_uint(b, F_STATUS_CODE, STATUS_CODE_ERROR);
	pb_end(b, status);
	if (s->trace_flags)
		pb_fixed32(b, F_SPAN_FLAGS, s->trace_flags);
	pb_end(b, mark);
}

static const struct otlp_resource *span_res(const void *items, size_t i)
{
	return ((const struct otlp_span_ref *)items)[i].res;
}

int otlp_encode_traces(struct otlp_encoder *enc, const struct otlp_span_ref *spans, size_t n,
		       const uint8_t **out, size_t *len)
{
	const struct otlp_resource **res = malloc((n ? n : 1) * sizeof(*res));
	struct pb_buf *b = &enc->out;
	size_t n_res, r, i, rs, ss;

	pb_reset(b);
	n_res = res ? group_resources(enc, res, span_res, spans, n) : 0;
	if (!res || (n && !n_res)) {
		free(res);
		b->failed = true;
		return finish(enc, out, len);
	}
	for (r = 0; r < n_res; r++) {
		rs = pb_begin(b, F_REQ_RESOURCE, HINT_BATCH);
		put_resource(b, enc, res[r]);
		ss = pb_begin(b, F_RES_SCOPE, HINT_BATCH);
		put_scope(b);
		for (i = 0; i < n; i++)
			if (enc->slot[i] == r)
				put_span(b, spans[i].span);
		pb_end(b, ss);
		pb_end(b, rs);
	}
	free(res);
	return finish(enc, out, len);
}

/* --- metrics ---------------------------------------------------------------------------------- */

const struct otlp_metric_def otlp_metric_defs[] = {
    {SPAN_SERVER, OTLP_FAMILY_HTTP, OTLP_HIST_DURATION, "http.server.request.duration", "s",
     "Duration of HTTP server requests."},
    {SPAN_SERVER, OTLP_FAMILY_HTTP, OTLP_HIST_REQ_SIZE, "http.server.request.body.size", "By",
     "Size of HTTP server request bodies."},
    {SPAN_SERVER, OTLP_FAMILY_HTTP, OTLP_HIST_RESP_SIZE, "http.server.response.body.size", "By",
     "Size of HTTP server response bodies."},
    {SPAN_CLIENT, OTLP_FAMILY_HTTP, OTLP_HIST_DURATION, "http.client.request.duration", "s",
     "Duration of HTTP client requests."},
    {SPAN_CLIENT, OTLP_FAMILY_HTTP, OTLP_HIST_REQ_SIZE, "http.client.request.body.size", "By",
     "Size of HTTP client request bodies."},
    {SPAN_CLIENT, OTLP_FAMILY_HTTP, OTLP_HIST_RESP_SIZE, "http.client.response.body.size", "By",
     "Size of HTTP client response bodies."},
    {SPAN_CLIENT, OTLP_FAMILY_DB, OTLP_HIST_DURATION, "db.client.operation.duration", "s",
     "Duration of database client operations."},
};

#define N_METRICS (sizeof(otlp_metric_defs) / sizeof(otlp_metric_defs[0]))

const size_t otlp_metric_def_count = N_METRICS;

/* A packed repeated fixed64 or double field. */
static void put_packed64(struct pb_buf *b, uint32_t field, const void *values, size_t n)
{
	const uint8_t *v = values;
	size_t i;

	pb_tag(b, field, PB_LEN);
	pb_varint(b, n * 8);
	for (i = 0; i < n; i++) {
		uint64_t x;

		memcpy(&x, v + i * 8, 8);
		x = htole64(x);
		pb_raw(b, &x, 8);
	}
}

static void put_http_point_attrs(struct pb_buf *b, const struct otlp_series *se)
{
	attr_str(b, F_POINT_ATTRS, "http.request.method", se->method, sizeof(se->method));
	if (se->status)
		attr_int(b, F_POINT_ATTRS, "http.response.status_code", se->status);
	if (se->route[0])
		attr_str(b, F_POINT_ATTRS, "http.route", se->route, sizeof(se->route));
	attr_str(b, F_POINT_ATTRS, "url.scheme", "http", SIZE_MAX);
}

static void put_db_point_attrs(struct pb_buf *b, const struct otlp_series *se)
{
	struct span sys = { .db_system = se->db_system };

	attr_str(b, F_POINT_ATTRS, "db.system.name", span_db_system_name(&sys), SIZE_MAX);
	if (se->method[0])
		attr_str(b, F_POINT_ATTRS, "db.operation.name", se->method, sizeof(se->method));
	if (se->route[0])
		attr_str(b, F_POINT_ATTRS, "db.collection.name", se->route, sizeof(se->route));
	if (se->error_type[0])
		attr_str(b, F_POINT_ATTRS, "error.type", se->error_type, sizeof(se->error_type));
}

static void put_point(struct pb_buf *b, const struct otlp_series *se, enum otlp_hist_id id,
		      uint64_t now)
{
	const struct otlp_hist *h = &se->h[id];
	size_t mark = pb_begin(b, F_HIST_POINTS, HINT_POINT);
	const double *bounds = id != OTLP_HIST_DURATION ? otlp_size_bounds
			       : se->family == OTLP_FAMILY_DB ? otlp_db_duration_bounds
							       : otlp_duration_bounds;
	size_t n_bounds = id != OTLP_HIST_DURATION ? OTLP_SIZE_BOUNDS
			  : se->family == OTLP_FAMILY_DB ? OTLP_DB_DURATION_BOUNDS
							  : OTLP_DURATION_BOUNDS;

	if (se->family == OTLP_FAMILY_DB)
		put_db_point_attrs(b, se);
	else
		put_http_point_attrs(b, se);
	if (se->kind == SPAN_CLIENT) {
		attr_str(b, F_POINT_ATTRS, "server.address", se->server_address,
			 sizeof(se->server_address));
		attr_int(b, F_POINT_ATTRS, "server.port", se->server_port);
	}
	pb_fixed64(b, F_POINT_START, se->start_unix_ns);
	pb_fixed64(b, F_POINT_TIME, now > se->start_unix_ns ? now : se->start_unix_ns);
	pb_fixed64(b, F_POINT_COUNT, h->count);
	pb_double(b, F_POINT_SUM, h->sum);
	put_packed64(b, F_POINT_BUCKETS, h->buckets, n_bounds + 1);
	put_packed64(b, F_POINT_BOUNDS, bounds, n_bounds);
	pb_double(b, F_POINT_MIN, h->min);
	pb_double(b, F_POINT_MAX, h->max);
	pb_end(b, mark);
}

static bool series_of(const struct otlp_series *se, uint16_t slot, size_t r,
		      const struct otlp_metric_def *def)
{
	return slot == r && se->kind == def->kind && se->family == def->family;
}

/* The metrics of one resource (index r): one Metric per definition that has points. */
static void put_scope_metrics(struct pb_buf *b, const uint16_t *slot, size_t r,
			      const struct otlp_series *series, size_t n, uint64_t now)
{
	size_t mark = pb_begin(b, F_RES_SCOPE, HINT_BATCH), d, i, m, h;

	put_scope(b);
	for (d = 0; d < N_METRICS; d++) {
		const struct otlp_metric_def *def = &otlp_metric_defs[d];

		for (i = 0; i < n && !series_of(&series[i], slot[i], r, def); i++)
			;
		if (i == n)
			continue;
		m = pb_begin(b, F_SCOPE_ITEMS, HINT_METRIC);
		pb_str(b, F_METRIC_NAME, def->name);
		pb_str(b, F_METRIC_DESC, def->description);
		pb_str(b, F_METRIC_UNIT, def->unit);
		h = pb_begin(b, F_METRIC_HISTOGRAM, HINT_METRIC);
		for (; i < n; i++)
			if (series_of(&series[i], slot[i], r, def))
				put_point(b, &series[i], def->hist, now);
		pb_uint(b, F_HIST_TEMPORALITY, CUMULATIVE);
		pb_end(b, h);
		pb_end(b, m);
	}
	pb_end(b, mark);
}

static const struct otlp_resource *series_res(const void *items, size_t i)
{
	return ((const struct otlp_series *)items)[i].res;
}

int otlp_encode_metrics(struct otlp_encoder *enc, const struct otlp_series *series, size_t n,
			uint64_t now_unix_ns, const uint8_t **out, size_t *len)
{
	const struct otlp_resource **res = malloc((n ? n : 1) * sizeof(*res));
	struct pb_buf *b = &enc->out;
	size_t n_res, r, rm;

	pb_reset(b);
	n_res = res ? group_resources(enc, res, series_res, series, n) : 0;
	if (!res || (n && !n_res)) {
		free(res);
		b->failed = true;
		return finish(enc, out, len);
	}
	for (r = 0; r < n_res; r++) {
		rm = pb_begin(b, F_REQ_RESOURCE, HINT_BATCH);
		put_resource(b, enc, res[r]);
		put_scope_metrics(b, enc->slot, r, series, n, now_unix_ns);
		pb_end(b, rm);
	}
	free(res);
	return finish(enc, out, len);
}

/* --- responses -------------------------------------------------------------------------------- */

struct pb_reader {
	const uint8_t *p, *end;
};

static int read_varint(struct pb_reader *r, uint64_t *v)
{
	unsigned shift;

	*v = 0;
	for (shift = 0; shift < 64 && r->p < r->end; shift += 7) {
		uint8_t c = *r->p++;

		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return 0;
	}
	return -EINVAL;
}

/* The next field: its number, wire type and value; for PB_LEN its bytes in sub. */
static int read_field(struct pb_reader *r, uint32_t *field, uint32_t *wire, uint64_t *v,
		      struct pb_reader *sub)
{
	uint64_t key, skip = 0;

	if (read_varint(r, &key) || !(key >> 3) || key >> 32)
		return -EINVAL;
	*field = (uint32_t)(key >> 3);
	*wire = key & 7;
	*v = 0;
	switch (*wire) {
	case PB_VARINT:
		return read_varint(r, v);
	case PB_I64:
		skip = 8;
		break;
	case PB_I32:
		skip = 4;
		break;
	case PB_LEN:
		if (read_varint(r, &skip) || skip > (uint64_t)(r->end - r->p))
			return -EINVAL;
		sub->p = r->p;
		sub->end = r->p + skip;
		break;
	default:
		return -EINVAL;
	}
	if (skip > (uint64_t)(r->end - r->p))
		return -EINVAL;
	r->p += skip;
	return 0;
}

int otlp_decode_response(const uint8_t *body, size_t len, int64_t *rejected, char *msg,
			 size_t msg_size)
{
	/* Export{Trace,Metrics}ServiceResponse { partial_success = 1 { rejected = 1, message = 2 }
	 * }: the same layout for both signals */
	struct pb_reader r = {body, body + len}, ps, str;
	uint32_t field, wire;
	uint64_t v;

	*rejected = 0;
	if (msg_size)
		msg[0] = '\0';
	while (r.p < r.end) {
		if (read_field(&r, &field, &wire, &v, &ps))
			return -EINVAL;
		if (field != F_RESP_PARTIAL || wire != PB_LEN)
			continue;
		while (ps.p < ps.end) {
			if (read_field(&ps, &field, &wire, &v, &str))
				return -EINVAL;
			if (field == F_PARTIAL_REJECTED && wire == PB_VARINT)
				*rejected = (int64_t)v;
			else if (field == F_PARTIAL_MESSAGE && wire == PB_LEN && msg_size)
				snprintf(msg, msg_size, "%.*s", (int)(str.end - str.p),
					 (const char *)str.p);
		}
	}
	return 0;
}
