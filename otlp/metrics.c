// SPDX-License-Identifier: Apache-2.0
/* Cumulative explicit-bucket histograms per process and attribute set, with a series cap. */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BUCKETS 1024 /* hash buckets; chains stay short up to the series cap */

/* OpenTelemetry semantic conventions' advised boundaries for HTTP durations and body sizes. */
const double otlp_duration_bounds[OTLP_DURATION_BOUNDS] = {
    0, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
};
const double otlp_size_bounds[OTLP_SIZE_BOUNDS] = {
    0, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192,
};

/* ... and for database client operation durations. */
const double otlp_db_duration_bounds[OTLP_DB_DURATION_BOUNDS] = {
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10,
};

struct otlp_metrics {
	struct otlp_series *table[BUCKETS];
	size_t n, max;
	uint64_t dropped;
};

struct otlp_metrics *otlp_metrics_new(size_t max_series)
{
	struct otlp_metrics *m = calloc(1, sizeof(*m));

	if (m)
		m->max = max_series;
	return m;
}

void otlp_metrics_free(struct otlp_metrics *m)
{
	struct otlp_series *s, *next;
	size_t i;

	if (!m)
		return;
	for (i = 0; i < BUCKETS; i++) {
		for (s = m->table[i]; s; s = next) {
			next = s->next;
			otlp_resource_put(s->res);
			free(s);
		}
	}
	free(m);
}

size_t otlp_bucket_index(const double *bounds, size_t n, double v)
{
	size_t lo = 0, hi = n;

	/* the first bound >= v; n when v is above every bound */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (bounds[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const char *otlp_http_method(const char *method)
{
	static const char *const known[] = {
	    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
	};
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (method[0] == known[i][0] && !strcmp(method, known[i]))
			return known[i];
	return "_OTHER";
}

/* Dotted IPv4 of the 4 bytes at a; inet_ntop's result, without its printf. */
static char *ipv4_str(const uint8_t *a, char *out, size_t size)
{
	char buf[16], *p = buf;
	int i;

	for (i = 0; i < 4; i++) {
		if (a[i] >= 100)
			*p++ = (char)('0' + a[i] / 100);
		if (a[i] >= 10)
			*p++ = (char)('0' + a[i] / 10 % 10);
		*p++ = (char)('0' + a[i] % 10);
		*p++ = i < 3 ? '.' : '\0';
	}
	if ((size_t)(p - buf) > size)
		return NULL;
	memcpy(out, buf, (size_t)(p - buf));
	return out;
}

char *otlp_addr_str(const struct span_addr *a, char *out, size_t size)
{
	static const uint8_t v4mapped[12] = {[10] = 0xff, [11] = 0xff};
	const char *ok = NULL;

	if (a->family == AF_INET)
		ok = ipv4_str(a->addr, out, size);
	else if (a->family == AF_INET6 && !memcmp(a->addr, v4mapped, sizeof(v4mapped)))
		ok = ipv4_str(a->addr + 12, out, size);
	else if (a->family == AF_INET6)
		ok = inet_ntop(AF_INET6, a->addr, out, size);
	if (!ok && size)
		out[0] = '\0';
	return out;
}

char *otlp_server_address(const struct span *s, const struct span_addr *fallback, char *out,
			  size_t size)
{
	const char *h = s->host_header, *end;
	size_t n = strnlen(h, sizeof(s->host_header));

	end = h + n;
	if (n && h[0] == '[') {
		const char *close = memchr(h, ']', n);

		if (close) {
			h++;
			end = close;
		}
	} else if (memchr(h, ':', n)) {
		const char *colon = memchr(h, ':', n);

		/* one colon: host:port; more: a bare IPv6 address, kept whole */
		if (!memchr(colon + 1, ':', (size_t)(end - colon - 1)))
			end = colon;
	}
	if (end == h)
		return otlp_addr_str(fallback, out, size);
	n = (size_t)(end - h) < size - 1 ? (size_t)(end - h) : size - 1;
	memcpy(out, h, n);
	out[n] = '\0';
	return out;
}

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len--)
		h = (h ^ *p++) * 1099511628211ULL;
	return h;
}

/* The attributes of an HTTP span's series. */
static void http_key(struct otlp_series *k, const struct span *s)
{
	/* one of otlp_http_method's literals, ended where it ends: str_copy's strnlen bound
	 * (sizeof(k->method) - 1) is longer than the literal, an over-read gcc refuses */
	const char *method = otlp_http_method(s->method);
	size_t method_len = strlen(method);

	k->family = OTLP_FAMILY_HTTP;
	if (method_len >= sizeof(k->method))
		method_len = sizeof(k->method) - 1;
	memcpy(k->method, method, method_len);
	k->method[method_len] = '\0';
	str_copy(k->route, sizeof(k->route), s->route);
	k->status = s->status;
	if (s->kind == SPAN_CLIENT)
		otlp_server_address(s, &s->remote, k->server_address, sizeof(k->server_address));
}

/* ... and of a database client span's. */
static void db_key(struct otlp_series *k, const struct span *s)
{
	k->family = OTLP_FAMILY_DB;
	k->db_system = s->db_system;
	str_copy(k->method, sizeof(k->method), s->db_operation);
	str_copy(k->route, sizeof(s->db_collection), s->db_collection);	/* the smaller */
	if (s->error)
		str_copy(k->error_type, sizeof(k->error_type),
			 s->db_status[0] ? s->db_status : "_OTHER");
	otlp_addr_str(&s->remote, k->server_address, sizeof(k->server_address));
}

/* The series key of a span: everything but the histograms, which stay unset. */
static void series_key(struct otlp_series *k, const struct span *s, struct otlp_resource *res)
{
	k->res = res;
	k->kind = s->kind;
	k->db_system = 0;
	k->status = 0;
	k->error_type[0] = k->server_address[0] = '\0';
	k->server_port = s->kind == SPAN_CLIENT ? s->remote.port : 0;
	if (span_is_http(s))
		http_key(k, s);
	else
		db_key(k, s);
	k->hash = fnv(14695981039346656037ULL, &res, sizeof(res));
	k->hash = fnv(k->hash, &k->kind, sizeof(k->kind));
	k->hash = fnv(k->hash, &k->family, sizeof(k->family));
	k->hash = fnv(k->hash, k->method, strlen(k->method));
	k->hash = fnv(k->hash, k->route, strlen(k->route) + 1);
	k->hash = fnv(k->hash, k->server_address, strlen(k->server_address) + 1);
	k->hash = fnv(k->hash, &k->server_port, sizeof(k->server_port));
	k->hash = fnv(k->hash, &k->status, sizeof(k->status));
	k->hash = fnv(k->hash, k->error_type, strlen(k->error_type));
}

static bool same_key(const struct otlp_series *a, const struct otlp_series *b)
{
	return a->hash == b->hash && a->res == b->res && a->kind == b->kind &&
	       a->family == b->family && a->db_system == b->db_system &&
	       a->status == b->status && a->server_port == b->server_port &&
	       !strcmp(a->method, b->method) && !strcmp(a->route, b->route) &&
	       !strcmp(a->server_address, b->server_address) &&
	       !strcmp(a->error_type, b->error_type);
}

static void hist_add(struct otlp_hist *h, const double *bounds, size_t n, double v)
{
	if (!h->count || v < h->min)
		h->min = v;
	if (!h->count || v > h->max)
		h->max = v;
	h->count++;
	h->sum += v;
	h->buckets[otlp_bucket_index(bounds, n, v)]++;
}

void otlp_metrics_record(struct otlp_metrics *m, const struct span *s, struct otlp_resource *res)
{
	struct otlp_series key, *se;
	uint64_t end = s->end_ns > s->start_ns ? s->end_ns : s->start_ns;
	double seconds = (double)(end - s->start_ns) / 1e9;
	size_t b;

	if (!span_is_http(s) && s->kind != SPAN_CLIENT)
		return;
	series_key(&key, s, res);
	b = key.hash % BUCKETS;
	for (se = m->table[b]; se && !same_key(se, &key); se = se->next)
		;
	if (!se) {
		if (m->n >= m->max || !(se = malloc(sizeof(*se)))) {
			m->dropped++;
			return;
		}
		*se = key;
		memset(se->h, 0, sizeof(se->h));
		se->start_unix_ns = s->start_ns;
		otlp_resource_get(res);
		se->next = m->table[b];
		m->table[b] = se;
		m->n++;
	}
	if (se->family == OTLP_FAMILY_DB) {
		hist_add(&se->h[OTLP_HIST_DURATION], otlp_db_duration_bounds,
			 OTLP_DB_DURATION_BOUNDS, seconds);
		return;
	}
	hist_add(&se->h[OTLP_HIST_DURATION], otlp_duration_bounds, OTLP_DURATION_BOUNDS, seconds);
	hist_add(&se->h[OTLP_HIST_REQ_SIZE], otlp_size_bounds, OTLP_SIZE_BOUNDS,
		 (double)s->req_body_size);
	hist_add(&se->h[OTLP_HIST_RESP_SIZE], otlp_size_bounds, OTLP_SIZE_BOUNDS,
		 (double)s->resp_body_size);
}

int otlp_metrics_snapshot(struct otlp_metrics *m, struct otlp_series **out, size_t *n)
{
	struct otlp_series *snap, *se;
	size_t i, k = 0;

	*out = NULL;
	*n = 0;
	if (!m->n)
		return 0;
	snap = malloc(m->n * sizeof(*snap));
	if (!snap)
		return -ENOMEM;
	for (i = 0; i < BUCKETS; i++) {
		for (se = m->table[i]; se; se = se->next) {
			snap[k] = *se;
			snap[k].next = NULL;
			otlp_resource_get(se->res);
			k++;
		}
	}
	*out = snap;
	*n = k;
	return 0;
}

void otlp_metrics_snapshot_free(struct otlp_series *snap, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		otlp_resource_put(snap[i].res);
	free(snap);
}

size_t otlp_metrics_expire(struct otlp_metrics *m, uint64_t now_ns, uint64_t ttl_ns)
{
	struct otlp_series **pp, *se;
	size_t i, dropped = 0;

	for (i = 0; i < BUCKETS; i++) {
		for (pp = &m->table[i]; (se = *pp);) {
			if (se->res->exited && now_ns >= se->res->exit_ns + ttl_ns) {
				*pp = se->next;
				otlp_resource_put(se->res);
				free(se);
				m->n--;
				dropped++;
			} else {
				pp = &se->next;
			}
		}
	}
	return dropped;
}

size_t otlp_metrics_series(const struct otlp_metrics *m)
{
	return m->n;
}

uint64_t otlp_metrics_dropped(const struct otlp_metrics *m)
{
	return m->dropped;
}
