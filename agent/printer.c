// SPDX-License-Identifier: Apache-2.0
/*
 * Trace printers: OBI's one-line text layout and JSON Lines, one span per line on stdout.
 * Strings from traffic are escaped so that every span stays on one line (text), and made valid
 * UTF-8 before cJSON writes them (json), so that every line is valid JSON whatever bytes the
 * peer sent.
 */
#include "printer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cJSON.h>

#include "core/log.h"

#define NSEC_PER_USEC UINT64_C(1000)
#define NSEC_PER_MSEC UINT64_C(1000000)
#define NSEC_PER_SEC UINT64_C(1000000000)

#define FIELD_LEN(f) (sizeof(((struct span *)0)->f) - 1)

/*
 * Worst-case JSON line: every byte of a string field can become at most 6 bytes (cJSON's
 * "\u001f"; a byte that is not UTF-8 becomes the 3 of U+FFFD), so the strings take at most
 * 6 * (method 15 + path 255 + route 255 + host 127 + user agent 127 + service 127 + language 15)
 * = 5526 bytes. The rest is bounded by
 * JSON_FIXED_MAX: key names and punctuation (~590 bytes), 11 integers of at most 20 digits
 * (220), 4 addresses of at most 45 (180), ids, flags, traceparent and time (~150) = ~1140
 * (test_printer's largest span measures 1068). A tracestate (up to 512 bytes, checked to be
 * printable ASCII) is at most 2 bytes a character ('"' and '\\' escaped) and its key. The text
 * line is smaller: 4-byte escapes, no user agent or tracestate (3534 bytes measured).
 * Total < 8192.
 */
#define JSON_FIXED_MAX 1400
#define JSON_STRINGS_MAX                                                                   \
	(6 * (FIELD_LEN(method) + FIELD_LEN(path) + FIELD_LEN(route) + FIELD_LEN(host_header) + \
	      FIELD_LEN(user_agent) + FIELD_LEN(service_name) + FIELD_LEN(language)))
#define PRINTER_LINE_MAX 8192
#define JSON_TRACE_STATE_MAX (2 * FIELD_LEN(trace_state) + sizeof(",\"trace_state\":\"\""))
/* a container id is 64 hex digits: nothing to escape */
#define JSON_CONTAINER_MAX (FIELD_LEN(container_id) + sizeof(",\"container.id\":\"\""))
_Static_assert(JSON_FIXED_MAX + JSON_STRINGS_MAX + JSON_TRACE_STATE_MAX + JSON_CONTAINER_MAX <=
		   PRINTER_LINE_MAX,
	       "printer line too small");
/* and a database span's strings, in the same union */
#define JSON_DB_STRINGS_MAX                                                                  \
	(6 * (FIELD_LEN(db_operation) + FIELD_LEN(db_collection) + FIELD_LEN(db_namespace) +    \
	      FIELD_LEN(db_status) + FIELD_LEN(db_query) + FIELD_LEN(service_name) +            \
	      FIELD_LEN(language)))
_Static_assert(JSON_FIXED_MAX + JSON_DB_STRINGS_MAX + JSON_CONTAINER_MAX <= PRINTER_LINE_MAX,
	       "printer line too small");

/* Appends to a caller's buffer, always NUL-terminated; remembers when something did not fit. */
struct line {
	char *buf;
	size_t size;
	size_t len;
	bool full;
};

/* What both layouts derive from a span before printing it. */
struct span_view {
	bool client;
	uint64_t total_ns;
	uint64_t handler_ns;
	char local_ip[INET6_ADDRSTRLEN];
	char remote_ip[INET6_ADDRSTRLEN];
	char host[sizeof(((struct span *)0)->host_header)];	/* Host header without port */
	char trace_id[33];
	char span_id[17];
	char parent_id[17];
	char flags[3];
};

static void line_init(struct line *l, char *buf, size_t size)
{
	l->buf = buf;
	l->size = size;
	l->len = 0;
	l->full = size == 0;
	if (size)
		buf[0] = '\0';
}

static int line_end(struct line *l)
{
	if (l->full) {
		if (l->size)
			l->buf[0] = '\0';
		return -ENOSPC;
	}
	return (int)l->len;
}

static void put_mem(struct line *l, const void *p, size_t n)
{
	if (l->full || n >= l->size - l->len) {
		l->full = true;
		return;
	}
	memcpy(l->buf + l->len, p, n);
	l->len += n;
	l->buf[l->len] = '\0';
}

static void put_str(struct line *l, const char *s)
{
	put_mem(l, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void put_fmt(struct line *l, const char *fmt, ...)
{
	size_t room = l->size - l->len;
	va_list ap;
	int n;

	if (l->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		l->buf[l->len] = '\0';
		l->full = true;
		return;
	}
	l->len += n;
}

/* Length of the valid UTF-8 sequence at p (1 for ASCII), or 0 when the byte starts none. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	/* RFC 3629 table: no overlong forms, no surrogates, nothing above U+10FFFF */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/* Text: control characters and bytes that are not UTF-8 become \xNN; the rest is copied. */
static void put_text_esc(struct line *l, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strnlen(s, max), i = 0, k;

	while (i < n) {
		k = utf8_len(p + i, n - i);
		if (k == 0 || (k == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
			put_fmt(l, "\\x%02x", p[i]);
			k = 1;
		} else {
			put_mem(l, p + i, k);
		}
		i += k;
	}
}

/* Appends ".ddd" with `digits` digits of frac, trailing zeros trimmed (nothing when 0). */
static void put_fraction(struct line *l, uint64_t frac, int digits)
{
	while (digits > 0 && frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	if (digits > 0)
		put_fmt(l, ".%0*" PRIu64, digits, frac);
}

/* Go's time.Duration.String(): 0s, 850ns, 305.572µs, 1.260901ms, 2.5s, 1m5.5s, 1h0m0s. */
static void put_duration(struct line *l, uint64_t ns)
{
	uint64_t sec = ns / NSEC_PER_SEC;

	if (ns == 0) {
		put_str(l, "0s");
	} else if (ns < NSEC_PER_USEC) {
		put_fmt(l, "%" PRIu64 "ns", ns);
	} else if (ns < NSEC_PER_MSEC) {
		put_fmt(l, "%" PRIu64, ns / NSEC_PER_USEC);
		put_fraction(l, ns % NSEC_PER_USEC, 3);
		put_str(l, "\u00b5s");
	} else if (ns < NSEC_PER_SEC) {
		put_fmt(l, "%" PRIu64, ns / NSEC_PER_MSEC);
		put_fraction(l, ns % NSEC_PER_MSEC, 6);
		put_str(l, "ms");
	} else {
		if (sec >= 3600)
			put_fmt(l, "%" PRIu64 "h", sec / 3600);
		if (sec >= 60)
			put_fmt(l, "%" PRIu64 "m", sec / 60 % 60);
		put_fmt(l, "%" PRIu64, sec % 60);
		put_fraction(l, ns % NSEC_PER_SEC, 9);
		put_str(l, "s");
	}
}

int printer_format_duration(uint64_t ns, char *buf, size_t size)
{
	struct line l;

	line_init(&l, buf, size);
	put_duration(&l, ns);
	return line_end(&l);
}

/* "2025-12-09 12:28:05.128844" in local time, or RFC 3339 UTC "2025-12-09T12:28:05.128844Z". */
static void put_time(struct line *l, uint64_t ns, bool utc)
{
	time_t sec = (time_t)(ns / NSEC_PER_SEC);
	unsigned usec = (unsigned)(ns % NSEC_PER_SEC / NSEC_PER_USEC);
	char stamp[64];
	struct tm tm;

	if (!(utc ? gmtime_r(&sec, &tm) : localtime_r(&sec, &tm)))
		memset(&tm, 0, sizeof(tm));
	strftime(stamp, sizeof(stamp), utc ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
	put_fmt(l, "%s.%06u%s", stamp, usec, utc ? "Z" : "");
}

/* Dotted IPv4 (also for ::ffff:a.b.c.d), compressed IPv6, "" for an unknown family. */
static void addr_to_str(const struct span_addr *a, char *buf, size_t size)
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };
	const char *ok = NULL;

	if (a->family == AF_INET)
		ok = inet_ntop(AF_INET, a->addr, buf, size);
	else if (a->family == AF_INET6 && !memcmp(a->addr, v4mapped, sizeof(v4mapped)))
		ok = inet_ntop(AF_INET, a->addr + 12, buf, size);
	else if (a->family == AF_INET6)
		ok = inet_ntop(AF_INET6, a->addr, buf, size);
	if (!ok)
		buf[0] = '\0';
}

/* Host header without its port: "envoy:9000" -> "envoy", "[::1]:80" -> "::1", "::1" kept. */
static void host_without_port(const char *hdr, size_t max, char *out, size_t size)
{
	size_t n = strnlen(hdr, max);
	const char *end = hdr + n, *colon;

	if (n && hdr[0] == '[') {
		const char *close = memchr(hdr, ']', n);

		if (close) {
			hdr++;
			end = close;
		}
	} else {
		colon = memchr(hdr, ':', n);
		if (colon && !memchr(colon + 1, ':', end - colon - 1))
			end = colon;
	}
	n = (size_t)(end - hdr) < size - 1 ? (size_t)(end - hdr) : size - 1;
	memcpy(out, hdr, n);
	out[n] = '\0';
}

static void hex_to_str(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static void span_view_init(const struct span *s, struct span_view *v)
{
	/* clamp out-of-order timestamps instead of printing wrapped-around durations */
	uint64_t end = s->end_ns > s->start_ns ? s->end_ns : s->start_ns;
	uint64_t handler = s->handler_ns;

	if (handler < s->start_ns || handler > end)
		handler = s->start_ns;
	v->client = s->kind == SPAN_CLIENT;
	v->total_ns = end - s->start_ns;
	v->handler_ns = end - handler;
	addr_to_str(&s->local, v->local_ip, sizeof(v->local_ip));
	addr_to_str(&s->remote, v->remote_ip, sizeof(v->remote_ip));
	v->host[0] = '\0';
	if (span_is_http(s))
		host_without_port(s->host_header, sizeof(s->host_header), v->host, sizeof(v->host));
	hex_to_str(s->trace_id, sizeof(s->trace_id), v->trace_id);
	hex_to_str(s->span_id, sizeof(s->span_id), v->span_id);
	hex_to_str(s->parent_id, sizeof(s->parent_id), v->parent_id);
	hex_to_str(&s->trace_flags, 1, v->flags);
}

/* "[ip as name:port]" */
static void put_endpoint(struct line *l, const char *ip, const char *name, size_t max,
			 uint16_t port)
{
	put_fmt(l, "[%s as ", ip);
	put_text_esc(l, name, max);
	put_fmt(l, ":%u]", port);
}

/* Server: [peer as peer:port]->[local as service:port].
 * Client: [local as service:port]->[peer as host:port]. */
static void put_endpoints(struct line *l, const struct span *s, const struct span_view *v)
{
	const char *host = v->host[0] ? v->host : v->remote_ip;

	if (v->client) {
		put_endpoint(l, v->local_ip, s->service_name, sizeof(s->service_name),
			     s->local.port);
		put_str(l, "->");
		put_endpoint(l, v->remote_ip, host, sizeof(v->host), s->remote.port);
	} else {
		put_endpoint(l, v->remote_ip, v->remote_ip, sizeof(v->remote_ip), s->remote.port);
		put_str(l, "->");
		put_endpoint(l, v->local_ip, s->service_name, sizeof(s->service_name),
			     s->local.port);
	}
}

int printer_format_text(const struct span *s, char *buf, size_t size)
{
	struct span_view v;
	struct line l;

	span_view_init(s, &v);
	line_init(&l, buf, size);
	put_time(&l, s->start_ns, false);
	put_str(&l, " (");
	put_duration(&l, v.total_ns);
	put_str(&l, "[");
	put_duration(&l, v.handler_ns);
	put_fmt(&l, "]) %s %u ", span_type_name(s), s->status);
	if (span_is_http(s)) {
		/* "GET /users/42(route)": method, path, route */
		put_text_esc(&l, s->method, sizeof(s->method));
		put_str(&l, " ");
		put_text_esc(&l, s->path, sizeof(s->path));
		put_str(&l, "(");
		put_text_esc(&l, s->route, sizeof(s->route));
	} else {
		/* "SELECT users(SELECT * FROM users WHERE id = ?)" */
		put_text_esc(&l, s->db_operation, sizeof(s->db_operation));
		put_str(&l, " ");
		put_text_esc(&l, s->db_collection, sizeof(s->db_collection));
		put_str(&l, "(");
		put_text_esc(&l, s->db_query, sizeof(s->db_query));
	}
	put_str(&l, ") ");
	put_endpoints(&l, s, &v);
	put_fmt(&l, " contentLen:%" PRIu64 "B responseLen:%" PRIu64 "B svc=[", s->req_body_size,
		s->resp_body_size);
	put_text_esc(&l, s->service_name, sizeof(s->service_name));
	put_str(&l, " ");
	put_text_esc(&l, s->language, sizeof(s->language));
	put_fmt(&l, "] traceparent=[00-%s-%s[%s]-%s]\n", v.trace_id, v.span_id, v.parent_id,
		v.flags);
	return line_end(&l);
}

/*
 * JSON: the members go into a cJSON object, and cJSON writes the line (quoting and escaping
 * included). Two things are done first, because cJSON would not: strings from traffic are made
 * valid UTF-8 (cJSON copies bytes >= 0x80 as they are), and integers are handed over as raw
 * JSON text, since cJSON's numbers are doubles and would round nanosecond times.
 */
struct json_line {
	cJSON *obj;
	bool failed;
};

#define JSON_CLEAN_MAX 1024 /* longest string field handed to json_str(), NUL included */
_Static_assert(sizeof(((struct span *)0)->db_query) <= JSON_CLEAN_MAX &&
		       sizeof(((struct span *)0)->trace_state) <= JSON_CLEAN_MAX,
	       "json_str() buffer too small");

/* Copies at most max bytes of s, each byte that starts no valid UTF-8 sequence as U+FFFD. */
static void utf8_clean(const char *s, size_t max, char *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strnlen(s, max < JSON_CLEAN_MAX ? max : JSON_CLEAN_MAX - 1), i = 0, o = 0, k;

	while (i < n) {
		k = utf8_len(p + i, n - i);
		if (k == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			k = 1;
		} else {
			memcpy(out + o, p + i, k);
			o += k;
		}
		i += k;
	}
	out[o] = '\0';
}

static void json_add(struct json_line *j, const char *key, cJSON *item)
{
	/* keys are string constants: cJSON keeps the pointer instead of a copy */
	if (!item || !cJSON_AddItemToObjectCS(j->obj, key, item)) {
		cJSON_Delete(item);
		j->failed = true;
	}
}

static void json_str(struct json_line *j, const char *key, const char *val, size_t max)
{
	char clean[3 * JSON_CLEAN_MAX];

	utf8_clean(val, max, clean);
	json_add(j, key, cJSON_CreateString(clean));
}

static void json_u64(struct json_line *j, const char *key, uint64_t val)
{
	char digits[24];

	snprintf(digits, sizeof(digits), "%" PRIu64, val);
	json_add(j, key, cJSON_CreateRaw(digits));
}

static void json_time(struct json_line *j, const struct span *s, const struct span_view *v)
{
	char buf[64];
	struct line l;

	line_init(&l, buf, sizeof(buf));
	put_time(&l, s->start_ns, true);
	json_str(j, "time", buf, sizeof(buf));
	json_u64(j, "start_time_unix_nano", s->start_ns);
	json_u64(j, "handler_start_unix_nano", s->handler_ns);
	json_u64(j, "end_time_unix_nano", s->end_ns);
	json_u64(j, "duration_ns", v->total_ns);
	json_u64(j, "handler_duration_ns", v->handler_ns);
}

static void json_ids(struct json_line *j, const struct span_view *v)
{
	char traceparent[64];

	snprintf(traceparent, sizeof(traceparent), "00-%s-%s-%s", v->trace_id, v->span_id,
		 v->flags);
	json_str(j, "trace_id", v->trace_id, sizeof(v->trace_id));
	json_str(j, "span_id", v->span_id, sizeof(v->span_id));
	json_str(j, "parent_span_id", v->parent_id, sizeof(v->parent_id));
	json_str(j, "trace_flags", v->flags, sizeof(v->flags));
	json_str(j, "traceparent", traceparent, sizeof(traceparent));
}

static void json_http(struct json_line *j, const struct span *s)
{
	json_str(j, "http.request.method", s->method, sizeof(s->method));
	json_str(j, "url.path", s->path, sizeof(s->path));
	if (s->route[0])
		json_str(j, "http.route", s->route, sizeof(s->route));
	json_u64(j, "http.response.status_code", s->status);
	json_u64(j, "http.request.body.size", s->req_body_size);
	json_u64(j, "http.response.body.size", s->resp_body_size);
}

/* Database spans: the semantic conventions' db.* attributes. */
static void json_db(struct json_line *j, const struct span *s)
{
	json_str(j, "db.system.name", span_db_system_name(s), 16);
	json_str(j, "db.operation.name", s->db_operation, sizeof(s->db_operation));
	if (s->db_collection[0])
		json_str(j, "db.collection.name", s->db_collection, sizeof(s->db_collection));
	if (s->db_namespace[0])
		json_str(j, "db.namespace", s->db_namespace, sizeof(s->db_namespace));
	if (s->db_query[0])
		json_str(j, "db.query.text", s->db_query, sizeof(s->db_query));
	if (s->db_status[0]) {
		json_str(j, "db.response.status_code", s->db_status, sizeof(s->db_status));
		json_str(j, "error.type", s->db_status, sizeof(s->db_status));
	}
}

static void json_network(struct json_line *j, const struct span *s, const struct span_view *v)
{
	const struct span_addr *server = v->client ? &s->remote : &s->local;
	const char *server_ip = v->client ? v->remote_ip : v->local_ip;

	json_str(j, "server.address", v->host[0] ? v->host : server_ip, sizeof(v->host));
	json_u64(j, "server.port", server->port);
	if (!v->client)
		json_str(j, "client.address", v->remote_ip, sizeof(v->remote_ip));
	json_str(j, "network.local.address", v->local_ip, sizeof(v->local_ip));
	json_u64(j, "network.local.port", s->local.port);
	json_str(j, "network.peer.address", v->remote_ip, sizeof(v->remote_ip));
	json_u64(j, "network.peer.port", s->remote.port);
}

static void json_members(struct json_line *j, const struct span *s, const struct span_view *v)
{
	json_time(j, s, v);
	json_str(j, "kind", v->client ? "CLIENT" : "SERVER", 8);
	json_str(j, "type", span_type_name(s), 16);
	json_ids(j, v);
	if (s->trace_state[0])
		json_str(j, "trace_state", s->trace_state, sizeof(s->trace_state));
	if (span_is_http(s))
		json_http(j, s);
	else
		json_db(j, s);
	json_network(j, s, v);
	if (span_is_http(s) && s->user_agent[0])
		json_str(j, "user_agent.original", s->user_agent, sizeof(s->user_agent));
	json_u64(j, "process.pid", s->pid);
	json_u64(j, "thread.id", s->tid);
	json_str(j, "service.name", s->service_name, sizeof(s->service_name));
	json_str(j, "telemetry.sdk.language", s->language, sizeof(s->language));
	if (s->container_id[0])
		json_str(j, "container.id", s->container_id, sizeof(s->container_id));
	json_add(j, "error", cJSON_CreateBool(s->error));
	json_str(j, "otel.status_code", s->error ? "ERROR" : "UNSET", 8);
}

int printer_format_json(const struct span *s, char *buf, size_t size)
{
	/* cJSON wants a little more room than it writes; the line is checked against size below */
	char out[PRINTER_LINE_MAX + 16];
	struct json_line j = { .obj = cJSON_CreateObject() };
	struct span_view v;
	size_t len = 0;

	if (size)
		buf[0] = '\0';
	if (!j.obj)
		return -ENOMEM;
	span_view_init(s, &v);
	json_members(&j, s, &v);
	if (!j.failed && !cJSON_PrintPreallocated(j.obj, out, (int)sizeof(out), 0))
		j.failed = true;
	cJSON_Delete(j.obj);
	if (!j.failed)
		len = strlen(out);
	if (j.failed || len + 2 > size || len + 1 > PRINTER_LINE_MAX)
		return -ENOSPC;
	memcpy(buf, out, len);
	buf[len] = '\n';
	buf[len + 1] = '\0';
	return (int)len + 1;
}

void printer_print(enum printer_kind kind, const struct span *s, FILE *out)
{
	char buf[PRINTER_LINE_MAX];
	int n;

	if (kind == PRINTER_TEXT)
		n = printer_format_text(s, buf, sizeof(buf));
	else if (kind == PRINTER_JSON)
		n = printer_format_json(s, buf, sizeof(buf));
	else
		return;
	if (n < 0) {
		log_warn("trace printer: span line longer than %zu bytes, dropped", sizeof(buf));
		return;
	}
	/* one fwrite per line: stdio's per-stream lock keeps lines whole */
	fwrite(buf, 1, (size_t)n, out);
	fflush(out);
}
