// SPDX-License-Identifier: Apache-2.0
/*
 * Setting values as text, both ways: the parsers that turn "80,443,8000-8999", "5s" or
 * "parentbased_traceidratio" into typed values with a one-line reason when they cannot, and the
 * formatters that write ports, pid lists, masked headers and durations back for --print-config.
 * Which field a value goes to is the table's business (settings.c).
 */
#include "settings.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include "core/parse.h"

/* PID_MAX_LIMIT on 64-bit kernels (include/linux/threads.h). */
#define PID_MAX 4194304

/* --- ports, pids, namespaces, text ------------------------------------------------------------ */

static int fail(struct setting_why *why, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct setting_why *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why->text, sizeof(why->text), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool item_is(struct parse_item it, const char *word)
{
	return it.len == strlen(word) && !strncasecmp(it.p, word, it.len);
}

/* Decimal digits only, no sign; -ERANGE above max. */
static int parse_uint(struct parse_item it, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;
	size_t i;

	if (!it.len)
		return -EINVAL;
	for (i = 0; i < it.len; i++) {
		unsigned d = (unsigned char)it.p[i] - '0';

		if (d > 9)
			return -EINVAL;
		if (n > (max - d) / 10)
			return -ERANGE;
		n = n * 10 + d;
	}
	*out = n;
	return 0;
}

static void port_set_add(struct port_set *ps, unsigned port)
{
	uint64_t bit = 1ULL << (port & 63);

	if (!(ps->bits[port >> 6] & bit)) {
		ps->bits[port >> 6] |= bit;
		ps->count++;
	}
}

static int parse_port(struct parse_item it, const char *what, uint64_t *port,
		      struct setting_why *why)
{
	int err;

	if (!it.len)
		return fail(why, "missing range %s", what);
	err = parse_uint(it, 65535, port);
	if (err == -EINVAL)
		return fail(why, "\"%.*s\" is not a port number", (int)it.len, it.p);
	if (err || *port == 0)
		return fail(why, "port %.*s is out of range 1-65535", (int)it.len, it.p);
	return 0;
}

/* One "80" or "8000-8999" item. */
static int parse_port_item(struct parse_item it, struct port_set *ps, struct setting_why *why)
{
	const char *dash = memchr(it.p, '-', it.len);
	uint64_t lo, hi, port;
	int err;

	if (!it.len)
		return fail(why, "empty item in the list");
	if (!dash) {
		err = parse_port(it, "start", &lo, why);
		hi = lo;
	} else {
		err = parse_port(parse_trim(it.p, dash), "start", &lo, why);
		if (!err)
			err = parse_port(parse_trim(dash + 1, it.p + it.len), "end", &hi, why);
	}
	if (err)
		return err;
	if (lo > hi)
		return fail(why, "range start exceeds end");
	for (port = lo; port <= hi; port++)
		port_set_add(ps, (unsigned)port);
	return 0;
}

int settings_parse_ports(const char *s, struct port_set *ps, struct setting_why *why)
{
	int err;

	do {
		err = parse_port_item(parse_next_item(&s), ps, why);
		if (err)
			return err;
	} while (s);
	return 0;
}

/* config.h's, for the unit tests and callers that need no reason */
int config_parse_ports(const char *s, struct port_set *ps)
{
	struct setting_why why;

	return settings_parse_ports(s, ps, &why);
}

/* "1234,5678" into pids[] (replaced; duplicates count once). */
int settings_parse_pids(const char *val, uint32_t *pids, size_t max, size_t *n,
			struct setting_why *why)
{
	uint64_t pid;
	size_t i;

	*n = 0;
	do {
		struct parse_item it = parse_next_item(&val);
		int err = parse_uint(it, PID_MAX, &pid);

		if (!it.len)
			return fail(why, "empty item in the list");
		if (err == -EINVAL)
			return fail(why, "\"%.*s\" is not a pid", (int)it.len, it.p);
		if (err || pid == 0)
			return fail(why, "pid %.*s is out of range 1-%d", (int)it.len, it.p,
				    PID_MAX);
		for (i = 0; i < *n && pids[i] != pid; i++)
			;
		if (i < *n)
			continue;
		if (*n == max)
			return fail(why, "more than %zu pids", max);
		pids[(*n)++] = (uint32_t)pid;
	} while (val);
	return 0;
}

int settings_parse_text(char *dst, size_t size, const char *val, const char *what,
			struct setting_why *why)
{
	if (!val[0])
		return fail(why, "empty %s", what);
	if (strlen(val) >= size)
		return fail(why, "longer than %zu bytes", size - 1);
	strcpy(dst, val);
	return 0;
}

/* "4026531836", "pid:[4026531836]" or a path such as /proc/1234/ns/pid (symlink followed). */
static int parse_pidns_item(struct parse_item it, uint64_t *ino, struct setting_why *why)
{
	char path[PATH_MAX];
	struct stat st;

	if (it.len > 5 && !strncmp(it.p, "pid:[", 5) && it.p[it.len - 1] == ']') {
		it.p += 5;
		it.len -= 6;
	}
	if (!parse_uint(it, UINT64_MAX, ino) && *ino)
		return 0;
	if (!memchr(it.p, '/', it.len))
		return fail(why, "\"%.*s\" is not a namespace inode, pid:[inode] or path",
			    (int)it.len, it.p);
	if (it.len >= sizeof(path))
		return fail(why, "path longer than %zu bytes", sizeof(path) - 1);
	memcpy(path, it.p, it.len);
	path[it.len] = '\0';
	if (stat(path, &st))
		return fail(why, "stat %s: %s", path, strerror(errno));
	*ino = st.st_ino;
	return 0;
}

int settings_parse_pidns(const char *val, uint64_t *ns, size_t max, size_t *n,
			 struct setting_why *why)
{
	uint64_t ino;
	size_t i;

	*n = 0;
	do {
		struct parse_item it = parse_next_item(&val);
		int err;

		if (!it.len)
			return fail(why, "empty item in the list");
		err = parse_pidns_item(it, &ino, why);
		if (err)
			return err;
		for (i = 0; i < *n && ns[i] != ino; i++)
			;
		if (i < *n)
			continue;
		if (*n == max)
			return fail(why, "more than %zu namespaces", max);
		ns[(*n)++] = ino;
	} while (val);
	return 0;
}

/* --- modes ------------------------------------------------------------------------------------ */

int settings_parse_printer(const char *val, enum printer_kind *out, struct setting_why *why)
{
	struct parse_item it = parse_trim(val, val + strlen(val));

	if (item_is(it, "disabled"))
		*out = PRINTER_DISABLED;
	else if (item_is(it, "text"))
		*out = PRINTER_TEXT;
	else if (item_is(it, "json"))
		*out = PRINTER_JSON;
	else if (item_is(it, "json_indent"))
		return fail(why, "not supported (obi prints JSON Lines: use json)");
	else
		return fail(why, "unknown printer");
	return 0;
}

int settings_parse_log_level(const char *val, enum log_level *out, struct setting_why *why)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };
	struct parse_item it = parse_trim(val, val + strlen(val));
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (item_is(it, names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return fail(why, "unknown level");
}

int settings_parse_data_hooks(const char *val, enum data_hooks *out, struct setting_why *why)
{
	struct parse_item it = parse_trim(val, val + strlen(val));

	if (item_is(it, "auto"))
		*out = DATA_HOOKS_AUTO;
	else if (item_is(it, "sockets"))
		*out = DATA_HOOKS_SOCKETS;
	else if (item_is(it, "syscalls"))
		*out = DATA_HOOKS_SYSCALLS;
	else
		return fail(why, "unknown hooks");
	return 0;
}

/* OBI's values: disabled, all, or a list of headers (alias http) and tcp. obi carries context
 * in HTTP headers only: "all" and "headers,tcp" mean headers, with a warning; tcp alone (or the
 * withdrawn ip) is refused rather than silently doing nothing. */
int settings_parse_propagation(const char *val, bool *on, struct setting_why *why)
{
	bool headers = false, tcp = false;
	struct parse_item whole = parse_trim(val, val + strlen(val));

	if (item_is(whole, "disabled")) {
		*on = false;
		return 0;
	}
	if (item_is(whole, "all")) {
		headers = tcp = true;
	} else {
		do {
			struct parse_item it = parse_next_item(&val);

			if (item_is(it, "headers") || item_is(it, "http"))
				headers = true;
			else if (item_is(it, "tcp"))
				tcp = true;
			else if (item_is(it, "ip"))
				return fail(why, "not supported: obi propagates context in HTTP "
						 "headers only");
			else
				return fail(why, "unknown mode");
		} while (val);
	}
	if (!headers)
		return fail(why, "not supported: obi propagates context in HTTP headers only");
	if (tcp)
		snprintf(why->warn, sizeof(why->warn),
			 "obi propagates context in HTTP headers only (no TCP options): using "
			 "headers");
	*on = true;
	return 0;
}

/* --- urls, "k=v,k2=v2" lists ------------------------------------------------------------------ */

int settings_parse_url(char *dst, size_t size, const char *val, struct setting_why *why)
{
	size_t scheme = 0;
	const char *p;

	if (!strncasecmp(val, "http://", 7))
		scheme = 7;
	else if (!strncasecmp(val, "https://", 8))
		scheme = 8;
	else if (strstr(val, "://"))
		return fail(why, "not an http:// or https:// url");
	/* else host:port without a scheme: only OTLP/gRPC takes one (config.c decides) */
	if (!val[scheme] || val[scheme] == '/')
		return fail(why, "missing host");
	for (p = val; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return fail(why, "space or control character in the url");
	if (strlen(val) >= size)
		return fail(why, "longer than %zu bytes", size - 1);
	strcpy(dst, val);
	return 0;
}

/* RFC 9110 token characters: what a header name may hold. */
static bool is_token(const char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
			return false;
	return true;
}

static int check_header(const char *key, const char *value, void *ctx)
{
	struct setting_why *why = ctx;

	if (!is_token(key))
		return fail(why, "\"%s\" is not a valid header name", key);
	return 0;
}

int settings_parse_kv(char *dst, size_t size, const char *val, bool headers,
		      struct setting_why *why)
{
	int ret;

	if (strlen(val) >= size)
		return fail(why, "longer than %zu bytes", size - 1);
	ret = parse_kv_list(val, headers ? check_header : NULL, why, why->text, sizeof(why->text));
	if (ret)
		return ret;
	strcpy(dst, val);
	return 0;
}

/* --- protocol, compression -------------------------------------------------------------------- */

int settings_parse_protocol(const char *val, enum otlp_protocol *out, struct setting_why *why)
{
	struct parse_item it = parse_trim(val, val + strlen(val));

	if (item_is(it, "http/protobuf"))
		*out = OTLP_PROTOCOL_HTTP_PROTOBUF;
	else if (item_is(it, "http/json"))
		*out = OTLP_PROTOCOL_HTTP_JSON;
	else if (item_is(it, "grpc"))
		*out = OTLP_PROTOCOL_GRPC;
	else
		return fail(why, "unknown protocol");
	return 0;
}

int settings_parse_compression(const char *val, enum otlp_compression *c,
			       struct setting_why *why)
{
	struct parse_item it = parse_trim(val, val + strlen(val));

	if (item_is(it, "gzip"))
		*c = OTLP_COMPRESSION_GZIP;
	else if (item_is(it, "none"))
		*c = OTLP_COMPRESSION_NONE;
	else
		return fail(why, "unknown compression");
	return 0;
}

/* --- numbers and durations -------------------------------------------------------------------- */

#define MS_MAX (24ULL * 3600 * 1000)	/* a day: the longest delay or timeout accepted */

/* Milliseconds in [1, MS_MAX]: a plain integer (OTEL_* standard) or, when units are allowed,
 * a duration such as 5s (OBI's form). */
int settings_parse_ms(const char *val, bool plain_ok, uint64_t *ms, struct setting_why *why)
{
	struct parse_item it = parse_trim(val, val + strlen(val));
	uint64_t n = 0;
	int err;

	err = parse_uint(it, UINT64_MAX, &n);
	if (err == -EINVAL) {
		if (parse_duration(val, &n))
			return fail(why, "not a duration");
		n = (n + 999999) / 1000000;
	} else if (!plain_ok) {
		return fail(why, "missing unit");
	} else if (err) {
		return fail(why, "out of range 1-%llu", MS_MAX);
	}
	if (n < 1 || n > MS_MAX)
		return fail(why, "out of range 1 ms - 24 h");
	*ms = n;
	return 0;
}

#define QUEUE_MAX 1000000

int settings_parse_count(const char *val, uint32_t *out, struct setting_why *why)
{
	uint64_t n = 0;
	int err = parse_uint(parse_trim(val, val + strlen(val)), QUEUE_MAX, &n);

	if (err == -EINVAL)
		return fail(why, "not a number");
	if (err || n == 0)
		return fail(why, "out of range 1-%d", QUEUE_MAX);
	*out = (uint32_t)n;
	return 0;
}

/* --- sampler ---------------------------------------------------------------------------------- */

int settings_parse_sampler(const char *val, enum sampler_kind *out, struct setting_why *why)
{
	static const char *const names[] = {
		[SAMPLER_PARENTBASED_ALWAYS_ON] = "parentbased_always_on",
		[SAMPLER_PARENTBASED_ALWAYS_OFF] = "parentbased_always_off",
		[SAMPLER_PARENTBASED_TRACEIDRATIO] = "parentbased_traceidratio",
		[SAMPLER_ALWAYS_ON] = "always_on",
		[SAMPLER_ALWAYS_OFF] = "always_off",
		[SAMPLER_TRACEIDRATIO] = "traceidratio",
	};
	struct parse_item it = parse_trim(val, val + strlen(val));
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (item_is(it, names[i])) {
			*out = (enum sampler_kind)i;
			return 0;
		}
	}
	return fail(why, "unknown sampler");
}

int settings_parse_ratio(const char *val, double *out, struct setting_why *why)
{
	struct parse_item it = parse_trim(val, val + strlen(val));
	char buf[64], *end;
	double v;

	if (!it.len || it.len >= sizeof(buf))
		return fail(why, "not a number");
	memcpy(buf, it.p, it.len);
	buf[it.len] = '\0';
	errno = 0;
	v = strtod(buf, &end);
	if (*end || errno || !(v >= 0.0 && v <= 1.0))
		return fail(why, "not a ratio between 0 and 1");
	*out = v;
	return 0;
}

/* --- the Prometheus endpoint ------------------------------------------------------------------- */

int settings_parse_port0(const char *val, uint16_t *out, struct setting_why *why)
{
	uint64_t n = 0;
	int err = parse_uint(parse_trim(val, val + strlen(val)), 65535, &n);

	if (err == -EINVAL)
		return fail(why, "not a port number");
	if (err)
		return fail(why, "out of range 0-65535");
	*out = (uint16_t)n;
	return 0;
}

int settings_parse_http_path(char *dst, size_t size, const char *val, struct setting_why *why)
{
	const char *p;

	if (val[0] != '/')
		return fail(why, "does not start with /");
	for (p = val; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#')
			return fail(why, "space, control character, ? or # in the path");
	if (strlen(val) >= size)
		return fail(why, "longer than %zu bytes", size - 1);
	strcpy(dst, val);
	return 0;
}

int settings_parse_ip(char *dst, size_t size, const char *val, struct setting_why *why)
{
	struct parse_item it = parse_trim(val, val + strlen(val));
	unsigned char addr[16];
	char buf[64];

	if (!it.len || it.len >= sizeof(buf))
		return fail(why, "not an IP address");
	memcpy(buf, it.p, it.len);
	buf[it.len] = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1)
		inet_ntop(AF_INET, addr, buf, sizeof(buf));
	else if (inet_pton(AF_INET6, buf, addr) == 1)
		inet_ntop(AF_INET6, addr, buf, sizeof(buf));
	else
		return fail(why, "not an IPv4 or IPv6 address");
	snprintf(dst, size, "%s", buf);
	return 0;
}

int settings_parse_bool(const char *val, bool *out, struct setting_why *why)
{
	struct parse_item it = parse_trim(val, val + strlen(val));

	if (item_is(it, "true"))
		*out = true;
	else if (item_is(it, "false"))
		*out = false;
	else
		return fail(why, "not a boolean");
	return 0;
}

/* --- values as text (--print-config) ---------------------------------------------------------- */

/* "80,443,8000-8999" */
void settings_show_ports(const struct port_set *ps, char *buf, size_t size)
{
	size_t used = 0;
	unsigned p = 1;

	buf[0] = '\0';
	while (p <= 65535 && used + 16 < size) {
		unsigned hi = p;

		if (!port_set_has(ps, (uint16_t)p)) {
			p++;
			continue;
		}
		while (hi < 65535 && port_set_has(ps, (uint16_t)(hi + 1)))
			hi++;
		used += snprintf(buf + used, size - used, "%s%u", used ? "," : "", p);
		if (hi > p)
			used += snprintf(buf + used, size - used, "-%u", hi);
		p = hi + 1;
	}
}

void settings_show_u32_list(const uint32_t *v, size_t n, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used + 12 < size; i++)
		used += snprintf(buf + used, size - used, "%s%u", i ? "," : "", v[i]);
}

void settings_show_u64_list(const uint64_t *v, size_t n, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used + 22 < size; i++)
		used += snprintf(buf + used, size - used, "%s%llu", i ? "," : "",
				 (unsigned long long)v[i]);
}

/* "name=***,name2=***": header values may be secrets. */
static int mask_one(const char *key, const char *value, void *ctx)
{
	struct setting_why *out = ctx;
	size_t used = strlen(out->text);

	snprintf(out->text + used, sizeof(out->text) - used, "%s%s=***", used ? "," : "", key);
	return 0;
}

void settings_show_masked(const char *list, char *buf, size_t size)
{
	struct setting_why out = { "", "" };

	parse_kv_list(list, mask_one, &out, NULL, 0);
	snprintf(buf, size, "%s", out.text);
}

/* A duration in the largest unit that keeps it whole: 60000 -> "1m", 1500 -> "1500ms". */
void settings_show_duration_ms(uint64_t ms, char *buf, size_t size)
{
	if (ms && ms % 3600000 == 0)
		snprintf(buf, size, "%lluh", (unsigned long long)(ms / 3600000));
	else if (ms && ms % 60000 == 0)
		snprintf(buf, size, "%llum", (unsigned long long)(ms / 60000));
	else if (ms && ms % 1000 == 0)
		snprintf(buf, size, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, size, "%llums", (unsigned long long)ms);
}
