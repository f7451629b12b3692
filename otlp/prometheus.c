// SPDX-License-Identifier: Apache-2.0
/*
 * A metrics snapshot as a Prometheus scrape body (text 0.0.4 or OpenMetrics 1.0). Each series'
 * labels are built once as text (sorted by name, colliding names joined with ';' in the order
 * of their attribute keys, values escaped and made valid UTF-8), then the series of each
 * metric are sorted by that text, equal ones summed, and written bucket by bucket.
 */
#include "prometheus.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LABELS_MAX   48 /* per series: 4 of obi's, the point's or resource's attributes */
#define NAME_MAX_LEN 128

/* --- a growing text buffer -------------------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *grown;

		while (cap < b->len + n + 1)
			cap *= 2;
		grown = realloc(b->p, cap);
		if (!grown) {
			b->failed = true;
			return;
		}
		b->p = grown;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_u64(struct sbuf *b, unsigned long long v)
{
	char tmp[24];

	sb_put(b, tmp, (size_t)snprintf(tmp, sizeof(tmp), "%llu", v));
}

/* The shortest text that reads back as v (Go strconv's, as client_golang writes); canonical
 * (OpenMetrics' le): integers end in ".0". */
static void sb_double(struct sbuf *b, double v, bool canonical)
{
	char tmp[40];
	int p;

	if (isinf(v)) {
		sb_str(b, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (isnan(v)) {
		sb_str(b, "NaN");
		return;
	}
	for (p = 1; p < 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*g", p, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	/* as Go's 'g' with the shortest digits: an exponent only from 1e+06 (or below 1e-04) */
	snprintf(tmp, sizeof(tmp), "%.*g", p < 6 ? 6 : p, v);
	sb_str(b, tmp);
	if (canonical && !strpbrk(tmp, ".e"))
		sb_str(b, ".0");
}

/* A label value between double quotes: \, " and newline escaped, invalid UTF-8 as U+FFFD. */
static void sb_label_value(struct sbuf *b, const char *v)
{
	const unsigned char *u = (const unsigned char *)v;
	size_t n = strlen(v), i, step;

	sb_put(b, "\"", 1);
	for (i = 0; i < n; i += step) {
		step = otlp_utf8_seq(u + i, n - i);
		if (!step) {
			sb_put(b, "\xef\xbf\xbd", 3);
			step = 1;
		} else if (u[i] == '\\') {
			sb_put(b, "\\\\", 2);
		} else if (u[i] == '"') {
			sb_put(b, "\\\"", 2);
		} else if (u[i] == '\n') {
			sb_put(b, "\\n", 2);
		} else {
			sb_put(b, v + i, step);
		}
	}
	sb_put(b, "\"", 1);
}

/* --- names ------------------------------------------------------------------------------------ */

/* Every character outside [a-zA-Z0-9_] (and ':' in metric names) made '_', runs of '_' made
 * one, "key_" before a leading digit (as the Collector's exporter does). */
static void sanitize(const char *in, bool metric, char *out, size_t size)
{
	size_t k = 0;

	if (isdigit((unsigned char)in[0]))
		k = (size_t)snprintf(out, size, "key_");
	for (; *in && k + 1 < size; in++) {
		char c = *in;

		if (!isalnum((unsigned char)c) && !(metric && c == ':'))
			c = '_';
		if (c == '_' && k && out[k - 1] == '_')
			continue;
		out[k++] = c;
	}
	out[k] = '\0';
}

/* The Prometheus unit of an OTel unit: full words, {annotations} dropped, "1" as ratio. */
static const char *prom_unit(const char *unit)
{
	static const char *const units[][2] = {
	    {"s", "seconds"}, {"ms", "milliseconds"}, {"us", "microseconds"}, {"ns", "nanoseconds"},
	    {"By", "bytes"},  {"KiBy", "kibibytes"},  {"1", "ratio"},
	};
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(unit, units[i][0]))
			return units[i][1];
	return unit[0] == '{' ? "" : unit;
}

/* The metric name: sanitized, then _<unit> unless it holds the unit already. */
static void metric_name(const struct otlp_metric_def *def, char *out, size_t size)
{
	const char *unit = prom_unit(def->unit);
	size_t k;

	sanitize(def->name, true, out, size);
	if (!unit[0] || strstr(out, unit))
		return;
	k = strlen(out);
	snprintf(out + k, size - k, "_%s", unit);
}

/* --- label sets ------------------------------------------------------------------------------- */

struct label {
	char name[NAME_MAX_LEN];
	char *key, *value; /* the attribute's key, for the order of collisions */
};

struct label_set {
	struct label l[LABELS_MAX];
	size_t n;
	bool failed;
	/* filled while the resource's attributes are walked */
	char *service_name, *service_namespace, *instance;
	bool target; /* for target_info: keep the other resource attributes */
};

static void ls_add(struct label_set *ls, const char *key, const char *value)
{
	struct label *l;

	if (ls->n == LABELS_MAX)
		return;
	l = &ls->l[ls->n];
	sanitize(key, false, l->name, sizeof(l->name));
	l->key = strdup(key);
	l->value = strdup(value);
	if (!l->key || !l->value) {
		free(l->key);
		free(l->value);
		ls->failed = true;
		return;
	}
	ls->n++;
}

static void ls_free(struct label_set *ls)
{
	size_t i;

	for (i = 0; i < ls->n; i++) {
		free(ls->l[i].key);
		free(ls->l[i].value);
	}
	free(ls->service_name);
	free(ls->service_namespace);
	free(ls->instance);
}

static char **keep(char **slot, const char *value)
{
	free(*slot);
	*slot = strdup(value);
	return slot;
}

static void on_resource_attr(void *ctx, const char *key, const char *value)
{
	struct label_set *ls = ctx;
	char name[NAME_MAX_LEN];

	if (!strcmp(key, "service.name"))
		ls->failed |= !*keep(&ls->service_name, value);
	else if (!strcmp(key, "service.namespace"))
		ls->failed |= !*keep(&ls->service_namespace, value);
	else if (!strcmp(key, "service.instance.id"))
		ls->failed |= !*keep(&ls->instance, value);
	else if (ls->target) {
		/* job and instance come from the service attributes only */
		sanitize(key, false, name, sizeof(name));
		if (strcmp(name, "job") && strcmp(name, "instance"))
			ls_add(ls, key, value);
	}
}

/* job and instance of resource r, then (target: true) its other attributes. */
static void ls_resource(struct label_set *ls, const struct otlp_encoder *enc,
			const struct otlp_resource *r, bool target)
{
	char job[512];

	ls->target = target;
	otlp_encoder_resource_attrs(enc, r, on_resource_attr, ls);
	if (ls->service_namespace && ls->service_namespace[0])
		snprintf(job, sizeof(job), "%s/%s", ls->service_namespace,
			 ls->service_name ? ls->service_name : "");
	else
		snprintf(job, sizeof(job), "%s", ls->service_name ? ls->service_name : "");
	ls_add(ls, "job", job);
	ls_add(ls, "instance", ls->instance ? ls->instance : "");
}

/* The data point's attributes, as encode.c writes them. */
static void ls_point(struct label_set *ls, const struct otlp_series *se)
{
	char num[16];

	if (se->family == OTLP_FAMILY_DB) {
		struct span sys = {.db_system = se->db_system};

		ls_add(ls, "db.system.name", span_db_system_name(&sys));
		if (se->method[0])
			ls_add(ls, "db.operation.name", se->method);
		if (se->route[0])
			ls_add(ls, "db.collection.name", se->route);
		if (se->error_type[0])
			ls_add(ls, "error.type", se->error_type);
	} else {
		ls_add(ls, "http.request.method", se->method);
		if (se->status) {
			snprintf(num, sizeof(num), "%u", se->status);
			ls_add(ls, "http.response.status_code", num);
		}
		if (se->route[0])
			ls_add(ls, "http.route", se->route);
		ls_add(ls, "url.scheme", "http");
	}
	if (se->kind == SPAN_CLIENT) {
		ls_add(ls, "server.address", se->server_address);
		snprintf(num, sizeof(num), "%u", se->server_port);
		ls_add(ls, "server.port", num);
	}
	ls_add(ls, "otel.scope.name", OTLP_SCOPE_NAME);
	ls_add(ls, "otel.scope.version", OBI_VERSION);
}

static int label_cmp(const void *a, const void *b)
{
	const struct label *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->key, y->key);
}

/* name="value",... sorted by name; equal names' values joined with ';'. NULL: no memory. */
static char *ls_text(struct label_set *ls)
{
	struct sbuf b = {0};
	size_t i, j;

	if (ls->failed)
		return NULL;
	qsort(ls->l, ls->n, sizeof(ls->l[0]), label_cmp);
	sb_put(&b, "", 0);
	for (i = 0; i < ls->n; i = j) {
		struct sbuf v = {0};

		sb_str(&v, ls->l[i].value);
		for (j = i + 1; j < ls->n && !strcmp(ls->l[j].name, ls->l[i].name); j++) {
			sb_put(&v, ";", 1);
			sb_str(&v, ls->l[j].value);
		}
		if (i)
			sb_put(&b, ",", 1);
		sb_str(&b, ls->l[i].name);
		sb_put(&b, "=", 1);
		sb_label_value(&b, v.failed || !v.p ? "" : v.p);
		b.failed |= v.failed;
		free(v.p);
	}
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* --- rendering -------------------------------------------------------------------------------- */

struct row {
	char *labels;
	const struct otlp_series *se;
	char *key; /* target_info: "job\ninstance" */
};

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int c = x->key && y->key ? strcmp(x->key, y->key) : 0;

	return c ? c : strcmp(x->labels, y->labels);
}

static void free_rows(struct row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(rows[i].labels);
		free(rows[i].key);
	}
	free(rows);
}

static void put_meta(struct sbuf *b, const char *family, const char *type, const char *unit,
		     const char *help, enum otlp_prom_format f)
{
	if (f == OTLP_PROM_OPENMETRICS) {
		sb_str(b, "# TYPE ");
		sb_str(b, family);
		sb_put(b, " ", 1);
		sb_str(b, type);
		if (unit && unit[0]) {
			sb_str(b, "\n# UNIT ");
			sb_str(b, family);
			sb_put(b, " ", 1);
			sb_str(b, unit);
		}
		sb_str(b, "\n# HELP ");
	} else {
		sb_str(b, "# HELP ");
	}
	sb_str(b, family);
	sb_put(b, " ", 1);
	sb_str(b, help); /* obi's own texts: nothing to escape */
	if (f == OTLP_PROM_TEXT) {
		sb_str(b, "\n# TYPE ");
		sb_str(b, family);
		sb_put(b, " ", 1);
		sb_str(b, type);
	}
	sb_put(b, "\n", 1);
}

/* name{labels[,le="x"]} */
static void put_sample_name(struct sbuf *b, const char *name, const char *suffix,
			    const char *labels)
{
	sb_str(b, name);
	sb_str(b, suffix);
	sb_put(b, "{", 1);
	sb_str(b, labels);
}

/* One target_info per job and instance: the first resource in label order. */
static int put_target_info(struct sbuf *b, const struct otlp_encoder *enc,
			   const struct otlp_series *series, size_t n, enum otlp_prom_format f)
{
	struct row *rows = calloc(n ? n : 1, sizeof(*rows));
	size_t k = 0, i, j;

	if (!rows)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct label_set ls = {0};
		struct sbuf key = {0};

		for (j = 0; j < i && series[j].res != series[i].res; j++)
			;
		if (j < i)
			continue;
		ls_resource(&ls, enc, series[i].res, true);
		sb_str(&key, ls.service_namespace ? ls.service_namespace : "");
		sb_put(&key, "/", 1);
		sb_str(&key, ls.service_name ? ls.service_name : "");
		sb_put(&key, "\n", 1);
		sb_str(&key, ls.instance ? ls.instance : "");
		rows[k].labels = ls_text(&ls);
		rows[k].key = key.p;
		ls_free(&ls);
		if (!rows[k].labels || key.failed) {
			free_rows(rows, k + 1);
			return -ENOMEM;
		}
		k++;
	}
	qsort(rows, k, sizeof(*rows), row_cmp);
	if (k)
		put_meta(b, f == OTLP_PROM_OPENMETRICS ? "target" : "target_info",
			 f == OTLP_PROM_OPENMETRICS ? "info" : "gauge", NULL, "Target metadata", f);
	for (i = 0; i < k; i++) {
		if (i && !strcmp(rows[i].key, rows[i - 1].key))
			continue;
		put_sample_name(b, "target_info", "", rows[i].labels);
		sb_str(b, "} 1\n");
	}
	free_rows(rows, k);
	return 0;
}

static const double *hist_bounds(const struct otlp_series *se, enum otlp_hist_id id, size_t *n)
{
	if (id != OTLP_HIST_DURATION) {
		*n = OTLP_SIZE_BOUNDS;
		return otlp_size_bounds;
	}
	*n = se->family == OTLP_FAMILY_DB ? OTLP_DB_DURATION_BOUNDS : OTLP_DURATION_BOUNDS;
	return se->family == OTLP_FAMILY_DB ? otlp_db_duration_bounds : otlp_duration_bounds;
}

/* The rows [i, j) share their labels: their histograms summed. */
static void put_histogram(struct sbuf *b, const char *name, const struct row *rows, size_t i,
			  size_t j, enum otlp_hist_id id, enum otlp_prom_format f)
{
	struct otlp_hist sum = {0};
	size_t nb, k, r;
	const double *bounds = hist_bounds(rows[i].se, id, &nb);
	const char *labels = rows[i].labels;
	uint64_t cum = 0;

	for (r = i; r < j; r++) {
		const struct otlp_hist *h = &rows[r].se->h[id];

		sum.count += h->count;
		sum.sum += h->sum;
		for (k = 0; k <= nb; k++)
			sum.buckets[k] += h->buckets[k];
	}
	for (k = 0; k <= nb; k++) {
		cum += sum.buckets[k];
		put_sample_name(b, name, "_bucket", labels);
		sb_str(b, labels[0] ? ",le=\"" : "le=\"");
		if (k < nb)
			sb_double(b, bounds[k], f == OTLP_PROM_OPENMETRICS);
		else
			sb_str(b, "+Inf");
		sb_str(b, "\"} ");
		sb_u64(b, (unsigned long long)cum);
		sb_put(b, "\n", 1);
	}
	put_sample_name(b, name, "_sum", labels);
	sb_str(b, "} ");
	sb_double(b, sum.sum, false);
	sb_put(b, "\n", 1);
	put_sample_name(b, name, "_count", labels);
	sb_str(b, "} ");
	sb_u64(b, (unsigned long long)sum.count);
	sb_put(b, "\n", 1);
}

static int put_metric(struct sbuf *b, const struct otlp_metric_def *def,
		      const struct otlp_encoder *enc, const struct otlp_series *series, size_t n,
		      enum otlp_prom_format f)
{
	struct row *rows = calloc(n ? n : 1, sizeof(*rows));
	char name[NAME_MAX_LEN + 32];
	size_t k = 0, i, j;

	if (!rows)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct label_set ls = {0};

		if (series[i].kind != def->kind || series[i].family != def->family)
			continue;
		ls_resource(&ls, enc, series[i].res, false);
		ls_point(&ls, &series[i]);
		rows[k].labels = ls_text(&ls);
		rows[k].se = &series[i];
		ls_free(&ls);
		if (!rows[k].labels) {
			free_rows(rows, k);
			return -ENOMEM;
		}
		k++;
	}
	if (k) {
		metric_name(def, name, sizeof(name));
		put_meta(b, name, "histogram", prom_unit(def->unit), def->description, f);
	}
	qsort(rows, k, sizeof(*rows), row_cmp);
	for (i = 0; i < k; i = j) {
		for (j = i + 1; j < k && !strcmp(rows[j].labels, rows[i].labels); j++)
			;
		put_histogram(b, name, rows, i, j, def->hist, f);
	}
	free_rows(rows, k);
	return 0;
}

int otlp_prom_render(const struct otlp_encoder *enc, const struct otlp_series *series, size_t n,
		     enum otlp_prom_format f, char **out, size_t *len)
{
	struct sbuf b = {0};
	size_t d;
	int err;

	*out = NULL;
	*len = 0;
	sb_put(&b, "", 0);
	err = put_target_info(&b, enc, series, n, f);
	for (d = 0; !err && d < otlp_metric_def_count; d++)
		err = put_metric(&b, &otlp_metric_defs[d], enc, series, n, f);
	if (!err && f == OTLP_PROM_OPENMETRICS)
		sb_str(&b, "# EOF\n");
	if (err || b.failed) {
		free(b.p);
		return -ENOMEM;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

/* --- content negotiation ---------------------------------------------------------------------- */

/* The q of one media range ("type/sub;a=b;q=0.5"): 1 when absent. */
static double media_q(const char *p, const char *end)
{
	const char *q;

	for (q = p; q + 2 < end; q++)
		if (*q == ';') {
			const char *s = q + 1;

			while (s < end && (*s == ' ' || *s == '\t'))
				s++;
			if (end - s > 2 && (s[0] == 'q' || s[0] == 'Q') && s[1] == '=')
				return strtod(s + 2, NULL);
		}
	return 1.0;
}

static bool media_is(const char *p, const char *end, const char *type)
{
	size_t n = strlen(type);

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return (size_t)(end - p) >= n && !strncasecmp(p, type, n) &&
	       (p + n == end || p[n] == ';' || p[n] == ' ');
}

enum otlp_prom_format otlp_prom_negotiate(const char *accept)
{
	double q_om = 0, q_text = 0, q;
	const char *p = accept, *end;

	while (p && *p) {
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		q = media_q(p, end);
		if (media_is(p, end, "application/openmetrics-text") && q > q_om)
			q_om = q;
		else if ((media_is(p, end, "text/plain") || media_is(p, end, "text/*") ||
			  media_is(p, end, "*/*")) &&
			 q > q_text)
			q_text = q;
		p = *end ? end + 1 : end;
	}
	return q_om > 0 && q_om >= q_text ? OTLP_PROM_OPENMETRICS : OTLP_PROM_TEXT;
}

const char *otlp_prom_content_type(enum otlp_prom_format f)
{
	return f == OTLP_PROM_OPENMETRICS
		   ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
		   : "text/plain; version=0.0.4; charset=utf-8";
}
