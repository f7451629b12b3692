// SPDX-License-Identifier: Apache-2.0
/*
 * OTLP protobuf request bodies from spans and metric series. The protobuf-c messages of one
 * request are built in an arena (pointers only, no copies of long strings when they are valid
 * UTF-8), packed once, and the arena is freed at once.
 */
#include "encode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "metrics_service.pb-c.h"
#include "trace_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope pb_scope;
typedef Opentelemetry__Proto__Resource__V1__Resource pb_resource;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans pb_resource_spans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans pb_scope_spans;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Trace__V1__Status pb_status;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest pb_trace_req;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse pb_trace_resp;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics pb_resource_metrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics pb_scope_metrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric pb_metric;
typedef Opentelemetry__Proto__Metrics__V1__Histogram pb_histogram;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint pb_point;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest pb_metrics_req;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse pb_metrics_resp;

#define CUMULATIVE                                                                                 \
	OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE
#define SPAN_ATTRS_MAX	   16
#define RESOURCE_ATTRS_MAX 16 /* obi's own; OTEL_RESOURCE_ATTRIBUTES pairs come on top */
#define ARENA_CHUNK	   (64 * 1024)

struct extra_attr {
	char *key, *value;
};

struct otlp_encoder {
	char host[256];
	struct extra_attr *extra; /* OTEL_RESOURCE_ATTRIBUTES */
	size_t n_extra;
};

/* --- arena ------------------------------------------------------------------------------------ */

struct chunk {
	struct chunk *next;
	size_t used, size;
	max_align_t data[];
};

struct arena {
	struct chunk *head;
	bool failed; /* an allocation failed: the request is not packed */
};

static void *arena_alloc(struct arena *a, size_t size)
{
	struct chunk *c = a->head;
	void *p;

	size = (size + 15) & ~(size_t)15;
	if (!c || c->used + size > c->size) {
		size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;

		c = malloc(sizeof(*c) + cap);
		if (!c) {
			a->failed = true;
			return NULL;
		}
		c->next = a->head;
		c->used = 0;
		c->size = cap;
		a->head = c;
	}
	p = (char *)c->data + c->used;
	c->used += size;
	memset(p, 0, size);
	return p;
}

static void arena_free(struct arena *a)
{
	struct chunk *c, *next;

	for (c = a->head; c; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
}

static char *arena_printf(struct arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	p = n >= 0 ? arena_alloc(a, (size_t)n + 1) : NULL;
	if (!p)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

/* --- UTF-8 ------------------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
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

/* s (at most max bytes) as a NUL-terminated valid UTF-8 string: itself when it already is one,
 * else an arena copy with U+FFFD for each bad byte. Protobuf receivers reject invalid UTF-8. */
static char *utf8_clean(struct arena *a, const char *s, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strnlen(s, max), i, k, step;
	bool valid = n < max;
	char *out;

	for (i = 0; valid && i < n; i += step)
		valid = (step = utf8_seq(u + i, n - i)) != 0;
	if (valid)
		return (char *)s;
	out = arena_alloc(a, 3 * n + 1);
	if (!out)
		return NULL;
	for (i = 0, k = 0; i < n; i += step) {
		step = utf8_seq(u + i, n - i);
		if (step) {
			memcpy(out + k, s + i, step);
			k += step;
		} else {
			memcpy(out + k, "\xef\xbf\xbd", 3);
			k += 3;
			step = 1;
		}
	}
	out[k] = '\0';
	return out;
}

/* --- attributes ------------------------------------------------------------------------------- */

struct attrs {
	pb_kv **items;
	size_t n, cap;
	struct arena *a;
};

static void attrs_init(struct attrs *at, struct arena *a, size_t cap)
{
	at->a = a;
	at->n = 0;
	at->cap = cap;
	at->items = arena_alloc(a, cap * sizeof(*at->items));
}

static pb_any *attrs_add(struct attrs *at, const char *key)
{
	pb_kv *kv;
	pb_any *v;

	if (!at->items || at->n == at->cap)
		return NULL;
	kv = arena_alloc(at->a, sizeof(*kv));
	v = arena_alloc(at->a, sizeof(*v));
	if (!kv || !v)
		return NULL;
	opentelemetry__proto__common__v1__key_value__init(kv);
	opentelemetry__proto__common__v1__any_value__init(v);
	kv->key = (char *)key;
	kv->value = v;
	at->items[at->n++] = kv;
	return v;
}

/* value: at most max bytes, made valid UTF-8. */
static void attr_str(struct attrs *at, const char *key, const char *value, size_t max)
{
	char *clean = utf8_clean(at->a, value, max);
	pb_any *v = clean ? attrs_add(at, key) : NULL;

	if (!v)
		return;
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	v->string_value = clean;
}

static void attr_int(struct attrs *at, const char *key, int64_t value)
{
	pb_any *v = attrs_add(at, key);

	if (!v)
		return;
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
	v->int_value = value;
}

static bool attrs_has(const struct attrs *at, const char *key)
{
	size_t i;

	for (i = 0; i < at->n; i++)
		if (!strcmp(at->items[i]->key, key))
			return true;
	return false;
}

/* --- encoder ---------------------------------------------------------------------------------- */

static int add_extra(const char *key, const char *value, void *ctx)
{
	struct otlp_encoder *enc = ctx;
	struct extra_attr *grown = realloc(enc->extra, (enc->n_extra + 1) * sizeof(*grown));

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
	if (config_parse_kv_list(resource_attributes, add_extra, enc, NULL, 0)) {
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
	free(enc);
}

static pb_resource *build_resource(const struct otlp_encoder *enc, const struct otlp_resource *r,
				   struct arena *a)
{
	pb_resource *res = arena_alloc(a, sizeof(*res));
	struct attrs at;
	size_t i;

	if (!res)
		return NULL;
	opentelemetry__proto__resource__v1__resource__init(res);
	attrs_init(&at, a, RESOURCE_ATTRS_MAX + enc->n_extra);
	attr_str(&at, "service.name", r->service_name, sizeof(r->service_name));
	attr_str(&at, "service.instance.id", arena_printf(a, "%s:%u", enc->host, r->pid) ?: "",
		 SIZE_MAX);
	attr_str(&at, "host.name", enc->host, sizeof(enc->host));
	attr_str(&at, "os.type", "linux", SIZE_MAX);
	attr_int(&at, "process.pid", r->pid);
	attr_str(&at, "process.executable.name", r->comm, sizeof(r->comm));
	if (r->exe[0])
		attr_str(&at, "process.executable.path", r->exe, sizeof(r->exe));
	attr_str(&at, "telemetry.sdk.name", OTLP_SDK_NAME, SIZE_MAX);
	attr_str(&at, "telemetry.sdk.language", r->language, sizeof(r->language));
	attr_str(&at, "telemetry.sdk.version", OBI_VERSION, SIZE_MAX);
	attr_str(&at, "telemetry.distro.name", OTLP_SDK_NAME, SIZE_MAX);
	attr_str(&at, "telemetry.distro.version", OBI_VERSION, SIZE_MAX);
	for (i = 0; i < enc->n_extra; i++)
		if (!attrs_has(&at, enc->extra[i].key))
			attr_str(&at, enc->extra[i].key, enc->extra[i].value, SIZE_MAX);
	res->n_attributes = at.n;
	res->attributes = at.items;
	return res;
}

static pb_scope *build_scope(struct arena *a)
{
	pb_scope *scope = arena_alloc(a, sizeof(*scope));

	if (!scope)
		return NULL;
	opentelemetry__proto__common__v1__instrumentation_scope__init(scope);
	scope->name = OTLP_SCOPE_NAME;
	scope->version = OBI_VERSION;
	return scope;
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

/* --- spans ------------------------------------------------------------------------------------ */

void otlp_span_name(const struct span *s, char *out, size_t size)
{
	const char *method = otlp_http_method(s->method);

	if (!strcmp(method, "_OTHER"))
		snprintf(out, size, "HTTP");
	else if (s->route[0])
		snprintf(out, size, "%s %.*s", method, (int)sizeof(s->route), s->route);
	else
		snprintf(out, size, "%s", method);
}

bool otlp_span_is_error(const struct span *s)
{
	if (s->status == 0)
		return true;
	return s->kind == SPAN_CLIENT ? s->status >= 400 : s->status >= 500;
}

static void span_attrs(const struct span *s, struct attrs *at)
{
	struct arena *a = at->a;
	const struct span_addr *server = s->kind == SPAN_CLIENT ? &s->remote : &s->local;
	const char *method = otlp_http_method(s->method);
	char *peer = arena_alloc(a, 64), *host = arena_alloc(a, sizeof(s->host_header));

	if (!peer || !host)
		return;
	attr_str(at, "http.request.method", method, SIZE_MAX);
	if (!strcmp(method, "_OTHER"))
		attr_str(at, "http.request.method_original", s->method, sizeof(s->method));
	if (s->status)
		attr_int(at, "http.response.status_code", s->status);
	attr_str(at, "url.path", s->path, sizeof(s->path));
	attr_str(at, "url.scheme", "http", SIZE_MAX);
	if (s->route[0])
		attr_str(at, "http.route", s->route, sizeof(s->route));
	otlp_server_address(s, server, host, sizeof(s->host_header));
	attr_str(at, "server.address", host, sizeof(s->host_header));
	attr_int(at, "server.port", server->port);
	otlp_addr_str(&s->remote, peer, 64);
	if (s->kind == SPAN_SERVER)
		attr_str(at, "client.address", peer, 64);
	attr_str(at, "network.peer.address", peer, 64);
	attr_int(at, "network.peer.port", s->remote.port);
	attr_int(at, "http.request.body.size", (int64_t)s->req_body_size);
	attr_int(at, "http.response.body.size", (int64_t)s->resp_body_size);
	if (s->user_agent[0])
		attr_str(at, "user_agent.original", s->user_agent, sizeof(s->user_agent));
}

static pb_span *build_span(const struct span *s, struct arena *a)
{
	static const uint8_t no_parent[8];
	pb_span *ps = arena_alloc(a, sizeof(*ps));
	pb_status *st = arena_alloc(a, sizeof(*st));
	char *name = arena_alloc(a, sizeof(s->method) + sizeof(s->route) + 2);
	struct attrs at;

	if (!ps || !st || !name)
		return NULL;
	opentelemetry__proto__trace__v1__span__init(ps);
	opentelemetry__proto__trace__v1__status__init(st);
	ps->trace_id.data = (uint8_t *)s->trace_id;
	ps->trace_id.len = sizeof(s->trace_id);
	ps->span_id.data = (uint8_t *)s->span_id;
	ps->span_id.len = sizeof(s->span_id);
	if (memcmp(s->parent_id, no_parent, sizeof(no_parent))) {
		ps->parent_span_id.data = (uint8_t *)s->parent_id;
		ps->parent_span_id.len = sizeof(s->parent_id);
	}
	ps->flags = s->trace_flags;
	otlp_span_name(s, name, sizeof(s->method) + sizeof(s->route) + 2);
	ps->name = utf8_clean(a, name, SIZE_MAX) ?: "HTTP";
	ps->kind = s->kind == SPAN_CLIENT
		       ? OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT
		       : OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
	ps->start_time_unix_nano = s->start_ns;
	ps->end_time_unix_nano = s->end_ns > s->start_ns ? s->end_ns : s->start_ns;
	if (otlp_span_is_error(s))
		st->code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
	ps->status = st;
	attrs_init(&at, a, SPAN_ATTRS_MAX);
	span_attrs(s, &at);
	ps->n_attributes = at.n;
	ps->attributes = at.items;
	return ps;
}

/* Packs a built request; frees nothing. */
static int pack(const ProtobufCMessage *msg, struct arena *a, uint8_t **out, size_t *len)
{
	size_t size;

	*out = NULL;
	*len = 0;
	if (a->failed)
		return -ENOMEM;
	size = protobuf_c_message_get_packed_size(msg);
	*out = malloc(size ? size : 1);
	if (!*out)
		return -ENOMEM;
	*len = protobuf_c_message_pack(msg, *out);
	return 0;
}

int otlp_encode_traces(const struct otlp_encoder *enc, const struct otlp_span_ref *spans, size_t n,
		       uint8_t **out, size_t *len)
{
	struct arena a = {0};
	pb_trace_req req =
	    OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	const struct otlp_resource **res = arena_alloc(&a, (n + 1) * sizeof(*res));
	size_t *count = arena_alloc(&a, (n + 1) * sizeof(*count)), n_res = 0, i, r;
	pb_scope_spans **ss;
	pb_scope *scope = build_scope(&a);
	int ret;

	if (!res || !count || !scope) {
		arena_free(&a);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		count[resource_slot(res, &n_res, spans[i].res)]++;
	req.resource_spans = arena_alloc(&a, (n_res + 1) * sizeof(*req.resource_spans));
	ss = arena_alloc(&a, (n_res + 1) * sizeof(*ss));
	for (r = 0; req.resource_spans && ss && r < n_res; r++) {
		pb_resource_spans *rs = arena_alloc(&a, sizeof(*rs));

		ss[r] = arena_alloc(&a, sizeof(*ss[r]));
		if (!rs || !ss[r])
			break;
		opentelemetry__proto__trace__v1__resource_spans__init(rs);
		opentelemetry__proto__trace__v1__scope_spans__init(ss[r]);
		rs->resource = build_resource(enc, res[r], &a);
		rs->n_scope_spans = 1;
		rs->scope_spans = &ss[r];
		ss[r]->scope = scope;
		ss[r]->spans = arena_alloc(&a, count[r] * sizeof(*ss[r]->spans));
		req.resource_spans[r] = rs;
	}
	req.n_resource_spans = n_res;
	for (i = 0; !a.failed && i < n; i++) {
		pb_scope_spans *to = ss[resource_slot(res, &n_res, spans[i].res)];
		pb_span *ps = build_span(spans[i].span, &a);

		if (ps && to->spans)
			to->spans[to->n_spans++] = ps;
	}
	ret = pack(&req.base, &a, out, len);
	arena_free(&a);
	return ret;
}

/* --- metrics ---------------------------------------------------------------------------------- */

struct metric_def {
	enum span_kind kind;
	enum otlp_hist_id hist;
	const char *name, *unit, *description;
};

static const struct metric_def metric_defs[] = {
    {SPAN_SERVER, OTLP_HIST_DURATION, "http.server.request.duration", "s",
     "Duration of HTTP server requests."},
    {SPAN_SERVER, OTLP_HIST_REQ_SIZE, "http.server.request.body.size", "By",
     "Size of HTTP server request bodies."},
    {SPAN_SERVER, OTLP_HIST_RESP_SIZE, "http.server.response.body.size", "By",
     "Size of HTTP server response bodies."},
    {SPAN_CLIENT, OTLP_HIST_DURATION, "http.client.request.duration", "s",
     "Duration of HTTP client requests."},
    {SPAN_CLIENT, OTLP_HIST_REQ_SIZE, "http.client.request.body.size", "By",
     "Size of HTTP client request bodies."},
    {SPAN_CLIENT, OTLP_HIST_RESP_SIZE, "http.client.response.body.size", "By",
     "Size of HTTP client response bodies."},
};

#define N_METRICS (sizeof(metric_defs) / sizeof(metric_defs[0]))

static pb_point *build_point(const struct otlp_series *se, const struct otlp_hist *h,
			     enum otlp_hist_id id, uint64_t now, struct arena *a)
{
	pb_point *p = arena_alloc(a, sizeof(*p));
	struct attrs at;

	if (!p)
		return NULL;
	opentelemetry__proto__metrics__v1__histogram_data_point__init(p);
	attrs_init(&at, a, 8);
	attr_str(&at, "http.request.method", se->method, sizeof(se->method));
	if (se->status)
		attr_int(&at, "http.response.status_code", se->status);
	if (se->route[0])
		attr_str(&at, "http.route", se->route, sizeof(se->route));
	attr_str(&at, "url.scheme", "http", SIZE_MAX);
	if (se->kind == SPAN_CLIENT) {
		attr_str(&at, "server.address", se->server_address, sizeof(se->server_address));
		attr_int(&at, "server.port", se->server_port);
	}
	p->n_attributes = at.n;
	p->attributes = at.items;
	p->has_start_time_unix_nano = p->has_time_unix_nano = p->has_count = true;
	p->start_time_unix_nano = se->start_unix_ns;
	p->time_unix_nano = now > se->start_unix_ns ? now : se->start_unix_ns;
	p->count = h->count;
	p->has_sum = p->has_min = p->has_max = true;
	p->sum = h->sum;
	p->min = h->min;
	p->max = h->max;
	p->n_explicit_bounds = id == OTLP_HIST_DURATION ? OTLP_DURATION_BOUNDS : OTLP_SIZE_BOUNDS;
	p->explicit_bounds =
	    (double *)(id == OTLP_HIST_DURATION ? otlp_duration_bounds : otlp_size_bounds);
	p->n_bucket_counts = p->n_explicit_bounds + 1;
	p->bucket_counts = (uint64_t *)h->buckets;
	return p;
}

/* The metrics of one resource: one Metric per definition that has points. */
static pb_scope_metrics *build_scope_metrics(const struct otlp_resource *r,
					     const struct otlp_series *series, size_t n,
					     uint64_t now, pb_scope *scope, struct arena *a)
{
	pb_scope_metrics *sm = arena_alloc(a, sizeof(*sm));
	size_t d, i, points;

	if (!sm)
		return NULL;
	opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
	sm->metrics = arena_alloc(a, N_METRICS * sizeof(*sm->metrics));
	sm->scope = scope;
	for (d = 0; sm->metrics && d < N_METRICS; d++) {
		const struct metric_def *def = &metric_defs[d];
		pb_metric *m;
		pb_histogram *h;

		for (i = 0, points = 0; i < n; i++)
			points += series[i].res == r && series[i].kind == def->kind;
		if (!points)
			continue;
		m = arena_alloc(a, sizeof(*m));
		h = arena_alloc(a, sizeof(*h));
		if (!m || !h)
			break;
		opentelemetry__proto__metrics__v1__metric__init(m);
		opentelemetry__proto__metrics__v1__histogram__init(h);
		m->name = (char *)def->name;
		m->unit = (char *)def->unit;
		m->description = (char *)def->description;
		m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
		m->histogram = h;
		h->aggregation_temporality = CUMULATIVE;
		h->data_points = arena_alloc(a, points * sizeof(*h->data_points));
		for (i = 0; h->data_points && i < n; i++) {
			const struct otlp_series *se = &series[i];
			pb_point *p;

			if (se->res != r || se->kind != def->kind)
				continue;
			p = build_point(se, &se->h[def->hist], def->hist, now, a);
			if (p)
				h->data_points[h->n_data_points++] = p;
		}
		sm->metrics[sm->n_metrics++] = m;
	}
	return sm;
}

int otlp_encode_metrics(const struct otlp_encoder *enc, const struct otlp_series *series, size_t n,
			uint64_t now_unix_ns, uint8_t **out, size_t *len)
{
	struct arena a = {0};
	pb_metrics_req req =
	    OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
	const struct otlp_resource **res = arena_alloc(&a, (n + 1) * sizeof(*res));
	pb_scope_metrics **sm = arena_alloc(&a, (n + 1) * sizeof(*sm));
	pb_scope *scope = build_scope(&a);
	size_t n_res = 0, i, r;
	int ret;

	if (!res || !sm || !scope) {
		arena_free(&a);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		resource_slot(res, &n_res, series[i].res);
	req.resource_metrics = arena_alloc(&a, (n_res + 1) * sizeof(*req.resource_metrics));
	for (r = 0; req.resource_metrics && r < n_res; r++) {
		pb_resource_metrics *rm = arena_alloc(&a, sizeof(*rm));

		sm[r] = build_scope_metrics(res[r], series, n, now_unix_ns, scope, &a);
		if (!rm || !sm[r])
			break;
		opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
		rm->resource = build_resource(enc, res[r], &a);
		rm->n_scope_metrics = 1;
		rm->scope_metrics = &sm[r];
		req.resource_metrics[req.n_resource_metrics++] = rm;
	}
	ret = pack(&req.base, &a, out, len);
	arena_free(&a);
	return ret;
}

/* --- responses -------------------------------------------------------------------------------- */

int otlp_decode_response(bool traces, const uint8_t *body, size_t len, int64_t *rejected, char *msg,
			 size_t msg_size)
{
	*rejected = 0;
	if (msg_size)
		msg[0] = '\0';
	if (traces) {
		pb_trace_resp *r =
		    opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
			NULL, len, body);

		if (!r)
			return -EINVAL;
		if (r->partial_success) {
			*rejected = r->partial_success->rejected_spans;
			snprintf(msg, msg_size, "%s", r->partial_success->error_message ?: "");
		}
		opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(
		    r, NULL);
	} else {
		pb_metrics_resp *r =
		    opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__unpack(
			NULL, len, body);

		if (!r)
			return -EINVAL;
		if (r->partial_success) {
			*rejected = r->partial_success->rejected_data_points;
			snprintf(msg, msg_size, "%s", r->partial_success->error_message ?: "");
		}
		opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__free_unpacked(
		    r, NULL);
	}
	return 0;
}
