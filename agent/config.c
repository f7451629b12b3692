// SPDX-License-Identifier: Apache-2.0
/*
 * obi's settings. The table below is the only list of them: it drives the defaults, the YAML
 * file (yaml_config.c walks it, this file applies it), the environment, the command-line flags,
 * validation, --help, --help-markdown and --print-config.
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/parse.h"
#include "yaml_config.h"

/* PID_MAX_LIMIT on 64-bit kernels (include/linux/threads.h). */
#define PID_MAX 4194304
#define ENV_PREFIX "OTEL_EBPF_"

/* A bad value's reason, completed by the caller into "invalid NAME "value": reason (...)";
 * `warn`, when a value is accepted with a caveat, becomes a warning line. */
struct why {
	char text[PATH_MAX + 128];
	char warn[256];
};

typedef int (*setting_parse_fn)(struct obi_config *cfg, const char *val, struct why *why);
/* Writes the effective value as text ("" when unset). */
typedef void (*setting_show_fn)(const struct obi_config *cfg, char *buf, size_t size);

enum setting_type {
	SETTING_VALUE,		/* takes a value: --flag VALUE, --flag=VALUE, or the env var */
	SETTING_LIST,		/* the same; in YAML also a list of scalars (joined with commas) */
	SETTING_SWITCH,		/* a bare flag */
};

struct setting {
	const char *flag;	/* long flag without "--" */
	char short_flag;	/* 0: none */
	const char *env;	/* NULL: flag only */
	const char *yaml;	/* path in the YAML file ("a.b"); NULL: none */
	enum setting_type type;
	const char *metavar;	/* shown in --help */
	const char *def;	/* default as text, parsed before the environment; NULL: none */
	const char *help;
	const char *expected;	/* the accepted form, quoted in error lines */
	setting_parse_fn parse;
	setting_show_fn show;	/* NULL for switches */
};

static int fail(struct why *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct why *why, const char *fmt, ...)
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

static int parse_port(struct parse_item it, const char *what, uint64_t *port, struct why *why)
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
static int parse_port_item(struct parse_item it, struct port_set *ps, struct why *why)
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

static int parse_ports(const char *s, struct port_set *ps, struct why *why)
{
	int err;

	do {
		err = parse_port_item(parse_next_item(&s), ps, why);
		if (err)
			return err;
	} while (s);
	return 0;
}

int config_parse_ports(const char *s, struct port_set *ps)
{
	struct why why;

	return parse_ports(s, ps, &why);
}

static int set_open_ports(struct obi_config *cfg, const char *val, struct why *why)
{
	memset(&cfg->open_ports, 0, sizeof(cfg->open_ports));
	return parse_ports(val, &cfg->open_ports, why);
}

/* "1234,5678" into pids[] (replaced; duplicates count once). */
static int parse_pids(const char *val, uint32_t *pids, size_t max, size_t *n, struct why *why)
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

static int set_pids(struct obi_config *cfg, const char *val, struct why *why)
{
	return parse_pids(val, cfg->target_pids, CONFIG_MAX_PIDS, &cfg->n_target_pids, why);
}

static int copy_text(char *dst, size_t size, const char *val, const char *what, struct why *why)
{
	if (!val[0])
		return fail(why, "empty %s", what);
	if (strlen(val) >= size)
		return fail(why, "longer than %zu bytes", size - 1);
	strcpy(dst, val);
	return 0;
}

static int set_exe(struct obi_config *cfg, const char *val, struct why *why)
{
	return copy_text(cfg->exe_glob, sizeof(cfg->exe_glob), val, "pattern", why);
}

/* "4026531836", "pid:[4026531836]" or a path such as /proc/1234/ns/pid (symlink followed). */
static int parse_pidns_item(struct parse_item it, uint64_t *ino, struct why *why)
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

static int parse_pidns(const char *val, uint64_t *ns, size_t max, size_t *n, struct why *why)
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

static int set_pidns(struct obi_config *cfg, const char *val, struct why *why)
{
	return parse_pidns(val, cfg->pidns, CONFIG_MAX_PIDNS, &cfg->n_pidns, why);
}

static int set_printer(struct obi_config *cfg, const char *val, struct why *why)
{
	struct parse_item it = parse_trim(val, val + strlen(val));

	if (item_is(it, "disabled"))
		cfg->trace_printer = PRINTER_DISABLED;
	else if (item_is(it, "text"))
		cfg->trace_printer = PRINTER_TEXT;
	else if (item_is(it, "json"))
		cfg->trace_printer = PRINTER_JSON;
	else if (item_is(it, "json_indent"))
		return fail(why, "not supported (obi prints JSON Lines: use json)");
	else
		return fail(why, "unknown printer");
	cfg->trace_printer_set = true;
	return 0;
}

static int set_log_level(struct obi_config *cfg, const char *val, struct why *why)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };
	struct parse_item it = parse_trim(val, val + strlen(val));
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (item_is(it, names[i])) {
			cfg->log_level = (enum log_level)i;
			return 0;
		}
	}
	return fail(why, "unknown level");
}

static int set_data_hooks(struct obi_config *cfg, const char *val, struct why *why)
{
	struct parse_item it = parse_trim(val, val + strlen(val));

	if (item_is(it, "auto"))
		cfg->data_hooks = DATA_HOOKS_AUTO;
	else if (item_is(it, "sockets"))
		cfg->data_hooks = DATA_HOOKS_SOCKETS;
	else if (item_is(it, "syscalls"))
		cfg->data_hooks = DATA_HOOKS_SYSCALLS;
	else
		return fail(why, "unknown hooks");
	return 0;
}

/* OBI's values: disabled, all, or a list of headers (alias http) and tcp. obi carries context
 * in HTTP headers only: "all" and "headers,tcp" mean headers, with a warning; tcp alone (or the
 * withdrawn ip) is refused rather than silently doing nothing. */
static int set_propagation(struct obi_config *cfg, const char *val, struct why *why)
{
	bool headers = false, tcp = false;
	struct parse_item whole = parse_trim(val, val + strlen(val));

	if (item_is(whole, "disabled")) {
		cfg->context_propagation = false;
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
	cfg->context_propagation = true;
	return 0;
}

static int set_url(char *dst, size_t size, const char *val, struct why *why)
{
	size_t scheme = 0;
	const char *p;

	if (!strncasecmp(val, "http://", 7))
		scheme = 7;
	else if (!strncasecmp(val, "https://", 8))
		scheme = 8;
	else
		return fail(why, "not an http:// or https:// url");
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

static int set_traces_endpoint(struct obi_config *cfg, const char *val, struct why *why)
{
	return set_url(cfg->traces.url, CONFIG_URL_MAX, val, why);
}

static int set_metrics_endpoint(struct obi_config *cfg, const char *val, struct why *why)
{
	return set_url(cfg->metrics.url, CONFIG_URL_MAX, val, why);
}

static int set_endpoint(struct obi_config *cfg, const char *val, struct why *why)
{
	return set_url(cfg->otlp_endpoint, sizeof(cfg->otlp_endpoint), val, why);
}

/* --- "k=v,k2=v2" lists --------------------------------------------------------------------- */

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
	struct why *why = ctx;

	if (!is_token(key))
		return fail(why, "\"%s\" is not a valid header name", key);
	return 0;
}

static int set_kv(char *dst, size_t size, const char *val, parse_kv_fn check, struct why *why)
{
	int ret;

	if (strlen(val) >= size)
		return fail(why, "longer than %zu bytes", size - 1);
	ret = parse_kv_list(val, check, why, why->text, sizeof(why->text));
	if (ret)
		return ret;
	strcpy(dst, val);
	return 0;
}

static int set_headers(struct obi_config *cfg, const char *val, struct why *why)
{
	return set_kv(cfg->otlp_headers, sizeof(cfg->otlp_headers), val, check_header, why);
}

static int set_traces_headers(struct obi_config *cfg, const char *val, struct why *why)
{
	return set_kv(cfg->traces.headers, sizeof(cfg->traces.headers), val, check_header, why);
}

static int set_metrics_headers(struct obi_config *cfg, const char *val, struct why *why)
{
	return set_kv(cfg->metrics.headers, sizeof(cfg->metrics.headers), val, check_header,
		      why);
}

static int set_resource_attributes(struct obi_config *cfg, const char *val, struct why *why)
{
	return set_kv(cfg->resource_attributes, sizeof(cfg->resource_attributes), val, NULL, why);
}

/* --- protocol, compression ------------------------------------------------------------------ */

static int set_protocol(struct obi_config *cfg, const char *val, struct why *why)
{
	struct parse_item it = parse_trim(val, val + strlen(val));

	if (item_is(it, "http/protobuf"))
		return 0;
	if (item_is(it, "grpc") || item_is(it, "http/json"))
		return fail(why, "not supported yet");
	return fail(why, "unknown protocol");
}

static int parse_compression(const char *val, enum otlp_compression *c, struct why *why)
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

static int set_compression(struct obi_config *cfg, const char *val, struct why *why)
{
	return parse_compression(val, &cfg->otlp_compression, why);
}

static int set_traces_compression(struct obi_config *cfg, const char *val, struct why *why)
{
	return parse_compression(val, &cfg->traces.compression, why);
}

static int set_metrics_compression(struct obi_config *cfg, const char *val, struct why *why)
{
	return parse_compression(val, &cfg->metrics.compression, why);
}

/* --- numbers and durations ------------------------------------------------------------------ */

#define MS_MAX (24ULL * 3600 * 1000)	/* a day: the longest delay or timeout accepted */

/* Milliseconds in [1, MS_MAX]: a plain integer (OTEL_* standard) or, when units are allowed,
 * a duration such as 5s (OBI's form). */
static int parse_ms(const char *val, bool plain_ok, uint64_t *ms, struct why *why)
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

static int set_timeout(struct obi_config *cfg, const char *val, struct why *why)
{
	return parse_ms(val, true, &cfg->otlp_timeout_ms, why);
}

static int set_traces_timeout(struct obi_config *cfg, const char *val, struct why *why)
{
	return parse_ms(val, true, &cfg->traces.timeout_ms, why);
}

static int set_metrics_timeout(struct obi_config *cfg, const char *val, struct why *why)
{
	return parse_ms(val, true, &cfg->metrics.timeout_ms, why);
}

static int set_schedule_delay(struct obi_config *cfg, const char *val, struct why *why)
{
	return parse_ms(val, true, &cfg->bsp_schedule_delay_ms, why);
}

static int set_metric_export_interval(struct obi_config *cfg, const char *val, struct why *why)
{
	return parse_ms(val, true, &cfg->metric_interval_ms, why);
}

static int set_metrics_interval(struct obi_config *cfg, const char *val, struct why *why)
{
	return parse_ms(val, false, &cfg->metric_interval_ms, why);
}

static int set_metrics_ttl(struct obi_config *cfg, const char *val, struct why *why)
{
	return parse_ms(val, false, &cfg->metrics_ttl_ms, why);
}

#define QUEUE_MAX 1000000

static int parse_count(const char *val, uint32_t *out, struct why *why)
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

static int set_queue_size(struct obi_config *cfg, const char *val, struct why *why)
{
	return parse_count(val, &cfg->bsp_max_queue_size, why);
}

static int set_batch_size(struct obi_config *cfg, const char *val, struct why *why)
{
	return parse_count(val, &cfg->bsp_max_export_batch_size, why);
}

/* --- sampler -------------------------------------------------------------------------------- */

static int set_sampler(struct obi_config *cfg, const char *val, struct why *why)
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
			cfg->sampler = (enum sampler_kind)i;
			return 0;
		}
	}
	return fail(why, "unknown sampler");
}

static int set_sampler_arg(struct obi_config *cfg, const char *val, struct why *why)
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
	cfg->sampler_ratio = v;
	return 0;
}

static int set_config_path(struct obi_config *cfg, const char *val, struct why *why)
{
	return copy_text(cfg->config_path, sizeof(cfg->config_path), val, "path", why);
}

static int set_demo(struct obi_config *cfg, const char *val, struct why *why)
{
	cfg->demo = true;
	return 0;
}

static int set_help(struct obi_config *cfg, const char *val, struct why *why)
{
	cfg->help = true;
	return 0;
}

static int set_help_markdown(struct obi_config *cfg, const char *val, struct why *why)
{
	cfg->help_markdown = true;
	return 0;
}

static int set_print_config(struct obi_config *cfg, const char *val, struct why *why)
{
	cfg->print_config = true;
	return 0;
}

static int set_version(struct obi_config *cfg, const char *val, struct why *why)
{
	cfg->version = true;
	return 0;
}

/* --- effective values as text (--print-config) ----------------------------------------------- */

/* "80,443,8000-8999" */
static void show_port_set(const struct port_set *ps, char *buf, size_t size)
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

static void show_u32_list(const uint32_t *v, size_t n, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used + 12 < size; i++)
		used += snprintf(buf + used, size - used, "%s%u", i ? "," : "", v[i]);
}

static void show_u64_list(const uint64_t *v, size_t n, char *buf, size_t size)
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
	struct why *out = ctx;
	size_t used = strlen(out->text);

	snprintf(out->text + used, sizeof(out->text) - used, "%s%s=***", used ? "," : "", key);
	return 0;
}

static void show_masked(const char *list, char *buf, size_t size)
{
	struct why out = { "", "" };

	parse_kv_list(list, mask_one, &out, NULL, 0);
	snprintf(buf, size, "%s", out.text);
}

/* A duration in the largest unit that keeps it whole: 60000 -> "1m", 1500 -> "1500ms". */
static void show_duration_ms(uint64_t ms, char *buf, size_t size)
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

static const char *compression_name(enum otlp_compression c)
{
	return c == OTLP_COMPRESSION_GZIP ? "gzip" : "none";
}

#define SHOW(name, ...)                                                                     \
	static void show_##name(const struct obi_config *cfg, char *buf, size_t size)      \
	{                                                                                   \
		__VA_ARGS__;                                                                \
	}

SHOW(open_ports, show_port_set(&cfg->open_ports, buf, size))
SHOW(pids, show_u32_list(cfg->target_pids, cfg->n_target_pids, buf, size))
SHOW(exe, snprintf(buf, size, "%s", cfg->exe_glob))
SHOW(pidns, show_u64_list(cfg->pidns, cfg->n_pidns, buf, size))
SHOW(printer, snprintf(buf, size, "%s", cfg->trace_printer == PRINTER_TEXT ? "text" :
				       cfg->trace_printer == PRINTER_JSON ? "json" : "disabled"))
SHOW(log_level, static const char *const n[] = { "debug", "info", "warn", "error" };
     snprintf(buf, size, "%s", n[cfg->log_level & 3]))
SHOW(propagation, snprintf(buf, size, "%s", cfg->context_propagation ? "headers" : "disabled"))
SHOW(data_hooks, snprintf(buf, size, "%s", cfg->data_hooks == DATA_HOOKS_SOCKETS    ? "sockets"
					  : cfg->data_hooks == DATA_HOOKS_SYSCALLS ? "syscalls"
										   : "auto"))
SHOW(endpoint, snprintf(buf, size, "%s", cfg->otlp_endpoint))
SHOW(traces_endpoint, snprintf(buf, size, "%s", cfg->traces.url))
SHOW(metrics_endpoint, snprintf(buf, size, "%s", cfg->metrics.url))
SHOW(headers, show_masked(cfg->otlp_headers, buf, size))
SHOW(traces_headers, show_masked(cfg->traces.headers, buf, size))
SHOW(metrics_headers, show_masked(cfg->metrics.headers, buf, size))
SHOW(protocol, snprintf(buf, size, "http/protobuf"))
SHOW(compression, snprintf(buf, size, "%s", compression_name(cfg->otlp_compression)))
SHOW(traces_compression, snprintf(buf, size, "%s", compression_name(cfg->traces.compression)))
SHOW(metrics_compression, snprintf(buf, size, "%s", compression_name(cfg->metrics.compression)))
SHOW(timeout, snprintf(buf, size, "%llu", (unsigned long long)cfg->otlp_timeout_ms))
SHOW(traces_timeout, snprintf(buf, size, "%llu", (unsigned long long)cfg->traces.timeout_ms))
SHOW(metrics_timeout, snprintf(buf, size, "%llu", (unsigned long long)cfg->metrics.timeout_ms))
SHOW(queue_size, snprintf(buf, size, "%u", cfg->bsp_max_queue_size))
SHOW(batch_size, snprintf(buf, size, "%u", cfg->bsp_max_export_batch_size))
SHOW(schedule_delay, show_duration_ms(cfg->bsp_schedule_delay_ms, buf, size))
SHOW(metric_export_interval,
     snprintf(buf, size, "%llu", (unsigned long long)cfg->metric_interval_ms))
SHOW(metrics_interval, show_duration_ms(cfg->metric_interval_ms, buf, size))
SHOW(metrics_ttl, show_duration_ms(cfg->metrics_ttl_ms, buf, size))
SHOW(sampler, static const char *const n[] = {
	     [SAMPLER_PARENTBASED_ALWAYS_ON] = "parentbased_always_on",
	     [SAMPLER_PARENTBASED_ALWAYS_OFF] = "parentbased_always_off",
	     [SAMPLER_PARENTBASED_TRACEIDRATIO] = "parentbased_traceidratio",
	     [SAMPLER_ALWAYS_ON] = "always_on",
	     [SAMPLER_ALWAYS_OFF] = "always_off",
	     [SAMPLER_TRACEIDRATIO] = "traceidratio" };
     snprintf(buf, size, "%s", n[cfg->sampler % 6]))
SHOW(sampler_arg, snprintf(buf, size, "%g", cfg->sampler_ratio))
SHOW(resource_attributes, snprintf(buf, size, "%s", cfg->resource_attributes))
SHOW(config_path, snprintf(buf, size, "%s", cfg->config_path))

/* One row per setting: flag, short flag, environment variable, YAML key, type, metavar,
 * default, help, accepted form, parse, show. The YAML keys are OBI's where OBI has one. */
static const struct setting settings[] = {
	{ "config", 0, "OTEL_EBPF_CONFIG_PATH", NULL, SETTING_VALUE, "FILE", NULL,
	  "load settings from this YAML file (OBI's keys; the environment and flags override it)",
	  "the path of a readable YAML file", set_config_path, show_config_path },
	{ "open-port", 0, "OTEL_EBPF_OPEN_PORT", "open_port", SETTING_LIST, "PORTS", NULL,
	  "instrument processes listening on any of these ports",
	  "a comma list of ports and ranges, e.g. 80,443,8000-8999", set_open_ports,
	  show_open_ports },
	{ "pid", 0, "OTEL_EBPF_TARGET_PID", NULL, SETTING_VALUE, "PIDS", NULL,
	  "instrument these processes",
	  "a comma list of process ids, e.g. 1234,5678", set_pids, show_pids },
	{ "exe", 0, "OTEL_EBPF_AUTO_TARGET_EXE", NULL, SETTING_VALUE, "GLOB", NULL,
	  "instrument processes whose full executable path matches this glob",
	  "a glob on the executable path, e.g. */python3*", set_exe, show_exe },
	{ "pid-namespace", 0, "OTEL_EBPF_TARGET_PID_NAMESPACE", NULL, SETTING_VALUE, "NS", NULL,
	  "instrument processes in these pid namespaces",
	  "a comma list of namespace inodes, pid:[inode] or paths, e.g. /proc/1234/ns/pid",
	  set_pidns, show_pidns },
	{ "trace-printer", 0, "OTEL_EBPF_TRACE_PRINTER", "trace_printer", SETTING_VALUE, "MODE",
	  NULL, "print one line per span on stdout (default text, disabled with an OTLP endpoint)",
	  "disabled, text or json", set_printer, show_printer },
	{ "log-level", 0, "OTEL_EBPF_LOG_LEVEL", "log_level", SETTING_VALUE, "LEVEL", "info",
	  "log messages at this level and above on stderr",
	  "debug, info, warn or error", set_log_level, show_log_level },
	{ "context-propagation", 0, "OTEL_EBPF_BPF_CONTEXT_PROPAGATION",
	  "ebpf.context_propagation", SETTING_VALUE, "MODE", "headers",
	  "carry trace context into outgoing HTTP/1 requests of instrumented processes "
	  "(inserts a traceparent header; proven harmless by a self-test at start)",
	  "headers or disabled (OBI's all and http mean headers here)", set_propagation,
	  show_propagation },
	{ "data-hooks", 0, "OTEL_EBPF_BPF_DATA_HOOKS", "ebpf.data_hooks", SETTING_VALUE, "HOOKS",
	  "auto", "where the kernel side sees socket data: socket tracepoints (auto: when the "
	  "kernel has them; no syscall is slowed down) or syscall tracepoints",
	  "auto, sockets or syscalls", set_data_hooks, show_data_hooks },
	{ "otlp-endpoint", 0, "OTEL_EXPORTER_OTLP_ENDPOINT", NULL, SETTING_VALUE, "URL", NULL,
	  "export spans and metrics with OTLP/HTTP to <URL>/v1/traces and <URL>/v1/metrics",
	  "an http:// or https:// url, e.g. http://localhost:4318", set_endpoint, show_endpoint },
	{ "otlp-traces-endpoint", 0, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	  "otel_traces_export.endpoint", SETTING_VALUE, "URL", NULL,
	  "export spans to this url (/v1/traces is added when it has no path)",
	  "an http:// or https:// url, e.g. http://localhost:4318/v1/traces",
	  set_traces_endpoint, show_traces_endpoint },
	{ "otlp-metrics-endpoint", 0, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
	  "otel_metrics_export.endpoint", SETTING_VALUE, "URL", NULL,
	  "export metrics to this url (/v1/metrics is added when it has no path)",
	  "an http:// or https:// url, e.g. http://localhost:4318/v1/metrics",
	  set_metrics_endpoint, show_metrics_endpoint },
	{ "otlp-headers", 0, "OTEL_EXPORTER_OTLP_HEADERS", NULL, SETTING_VALUE, "LIST", NULL,
	  "HTTP headers sent with every export, values percent-decoded",
	  "a comma list of name=value, e.g. authorization=Basic%20abc,x-tenant=a", set_headers,
	  show_headers },
	{ "otlp-traces-headers", 0, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", NULL, SETTING_VALUE,
	  "LIST", NULL, "HTTP headers for span exports (replace --otlp-headers)",
	  "a comma list of name=value, e.g. x-tenant=a", set_traces_headers, show_traces_headers },
	{ "otlp-metrics-headers", 0, "OTEL_EXPORTER_OTLP_METRICS_HEADERS", NULL, SETTING_VALUE,
	  "LIST", NULL, "HTTP headers for metric exports (replace --otlp-headers)",
	  "a comma list of name=value, e.g. x-tenant=a", set_metrics_headers,
	  show_metrics_headers },
	{ "otlp-protocol", 0, "OTEL_EXPORTER_OTLP_PROTOCOL", NULL, SETTING_VALUE, "PROTO",
	  "http/protobuf", "OTLP transport (only http/protobuf for now)", "http/protobuf",
	  set_protocol, show_protocol },
	{ "otlp-traces-protocol", 0, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	  "otel_traces_export.protocol", SETTING_VALUE, "PROTO", NULL, "OTLP transport for spans",
	  "http/protobuf", set_protocol, show_protocol },
	{ "otlp-metrics-protocol", 0, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
	  "otel_metrics_export.protocol", SETTING_VALUE, "PROTO", NULL,
	  "OTLP transport for metrics", "http/protobuf", set_protocol, show_protocol },
	{ "otlp-compression", 0, "OTEL_EXPORTER_OTLP_COMPRESSION", NULL, SETTING_VALUE, "ALG",
	  "none", "compress export bodies", "gzip or none", set_compression, show_compression },
	{ "otlp-traces-compression", 0, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", NULL,
	  SETTING_VALUE, "ALG", NULL, "compress span exports", "gzip or none",
	  set_traces_compression, show_traces_compression },
	{ "otlp-metrics-compression", 0, "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", NULL,
	  SETTING_VALUE, "ALG", NULL, "compress metric exports", "gzip or none",
	  set_metrics_compression, show_metrics_compression },
	{ "otlp-timeout", 0, "OTEL_EXPORTER_OTLP_TIMEOUT", NULL, SETTING_VALUE, "MS", "10000",
	  "give up one export request after this long; also bounds the flush at exit",
	  "milliseconds (or a duration such as 10s), 1 ms to 24 h", set_timeout, show_timeout },
	{ "otlp-traces-timeout", 0, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", NULL, SETTING_VALUE,
	  "MS", NULL, "timeout of one span export request",
	  "milliseconds (or a duration such as 10s), 1 ms to 24 h", set_traces_timeout,
	  show_traces_timeout },
	{ "otlp-metrics-timeout", 0, "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", NULL, SETTING_VALUE,
	  "MS", NULL, "timeout of one metric export request",
	  "milliseconds (or a duration such as 10s), 1 ms to 24 h", set_metrics_timeout,
	  show_metrics_timeout },
	{ "bsp-max-queue-size", 0, "OTEL_BSP_MAX_QUEUE_SIZE", "otel_traces_export.max_queue_size",
	  SETTING_VALUE, "N", "2048", "spans held for export at most; more are dropped and counted",
	  "a number from 1 to 1000000", set_queue_size, show_queue_size },
	{ "bsp-max-export-batch-size", 0, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", NULL, SETTING_VALUE,
	  "N", "512", "spans per export request at most (not above the queue size)",
	  "a number from 1 to 1000000", set_batch_size, show_batch_size },
	{ "bsp-schedule-delay", 0, "OTEL_BSP_SCHEDULE_DELAY", "otel_traces_export.batch_timeout",
	  SETTING_VALUE, "MS", "5000",
	  "export the spans held this often (sooner when a batch is full)",
	  "milliseconds (or a duration such as 5s), 1 ms to 24 h", set_schedule_delay,
	  show_schedule_delay },
	/* OBI's OTEL_EBPF_METRICS_INTERVAL comes after the standard name: it wins when both are set */
	{ "metric-export-interval", 0, "OTEL_METRIC_EXPORT_INTERVAL", NULL, SETTING_VALUE, "MS",
	  "60000", "export metrics this often",
	  "milliseconds (or a duration such as 60s), 1 ms to 24 h", set_metric_export_interval,
	  show_metric_export_interval },
	{ "metrics-interval", 0, "OTEL_EBPF_METRICS_INTERVAL", "otel_metrics_export.interval",
	  SETTING_VALUE, "DURATION", NULL,
	  "export metrics this often (OBI's name; wins over OTEL_METRIC_EXPORT_INTERVAL)",
	  "a duration such as 15s or 500ms, 1 ms to 24 h", set_metrics_interval,
	  show_metrics_interval },
	{ "metrics-ttl", 0, "OTEL_EBPF_METRICS_TTL", "otel_metrics_export.ttl", SETTING_VALUE,
	  "DURATION", "5m", "forget the metric series of a process this long after it exited",
	  "a duration such as 5m or 30s, 1 ms to 24 h", set_metrics_ttl, show_metrics_ttl },
	{ "traces-sampler", 0, "OTEL_TRACES_SAMPLER", "otel_traces_export.sampler.name",
	  SETTING_VALUE, "NAME", "parentbased_always_on",
	  "which spans are exported (the printer and metrics see all of them)",
	  "parentbased_always_on, parentbased_always_off, parentbased_traceidratio, always_on, "
	  "always_off or traceidratio", set_sampler, show_sampler },
	{ "traces-sampler-arg", 0, "OTEL_TRACES_SAMPLER_ARG", "otel_traces_export.sampler.arg",
	  SETTING_VALUE, "RATIO", "1.0", "share of traces the traceidratio samplers keep",
	  "a number from 0 to 1, e.g. 0.25", set_sampler_arg, show_sampler_arg },
	{ "resource-attributes", 0, "OTEL_RESOURCE_ATTRIBUTES", NULL, SETTING_VALUE, "LIST", NULL,
	  "resource attributes added to every exported process (obi's own keys keep obi's value)",
	  "a comma list of key=value, e.g. deployment.environment=prod",
	  set_resource_attributes, show_resource_attributes },
	{ "print-config", 0, NULL, NULL, SETTING_SWITCH, NULL, NULL,
	  "print the merged configuration as YAML and exit", NULL, set_print_config, NULL },
	{ "help-markdown", 0, NULL, NULL, SETTING_SWITCH, NULL, NULL,
	  "print this reference as a Markdown table and exit", NULL, set_help_markdown, NULL },
	{ "demo", 0, NULL, NULL, SETTING_SWITCH, NULL, NULL,
	  "run the built-in demo (also the mode when no process is selected)", NULL, set_demo,
	  NULL },
	{ "help", 'h', NULL, NULL, SETTING_SWITCH, NULL, NULL, "show this help and exit", NULL,
	  set_help, NULL },
	{ "version", 'V', NULL, NULL, SETTING_SWITCH, NULL, NULL, "show the version and exit",
	  NULL, set_version, NULL },
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

/* Writes s on one line: control characters as \xNN. */
static void put_clean(FILE *out, const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			fprintf(out, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, out);
	}
}

static void put_quoted(FILE *out, const char *s)
{
	fputc('"', out);
	put_clean(out, s);
	fputc('"', out);
}

/* Where each setting's value came from, for --print-config. */
enum origin { ORIGIN_NONE, ORIGIN_DEFAULT, ORIGIN_YAML, ORIGIN_ENV, ORIGIN_FLAG };

static struct {
	enum origin kind;
	unsigned line;		/* ORIGIN_YAML */
} origins[64];

_Static_assert(sizeof(origins) / sizeof(origins[0]) >= N_SETTINGS, "origins[] too small");

/* name: the env var, "--flag" or YAML key the value came from, and `where` ("file:line: " or
 * ""), for the error line. */
static int apply_at(struct obi_config *cfg, const struct setting *st, const char *where,
		    const char *name, const char *val, FILE *err)
{
	struct why why = { "", "" };

	if (!st->parse(cfg, val, &why)) {
		if (why.warn[0]) {
			fprintf(err, "obi: warning: %s%s ", where, name);
			put_quoted(err, val);
			fprintf(err, ": %s\n", why.warn);
		}
		return 0;
	}
	fprintf(err, "obi: %sinvalid %s ", where, name);
	put_quoted(err, val);
	fputs(": ", err);
	put_clean(err, why.text);
	fprintf(err, " (expected %s)\n", st->expected);
	return -EINVAL;
}

static int apply(struct obi_config *cfg, const struct setting *st, const char *name,
		 const char *val, FILE *err, enum origin kind)
{
	int ret = apply_at(cfg, st, "", name, val, err);

	if (!ret) {
		origins[st - settings].kind = kind;
		origins[st - settings].line = 0;
	}
	return ret;
}

static int load_defaults(struct obi_config *cfg, FILE *err)
{
	const struct setting *st;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	memset(origins, 0, sizeof(origins));
	for (st = settings; st < settings + N_SETTINGS; st++) {
		if (!st->def)
			continue;
		ret = apply(cfg, st, st->flag, st->def, err, ORIGIN_DEFAULT);
		if (ret)
			return ret;
	}
	return 0;
}

/* The value of NAME in envp, or NULL; set but empty counts as unset. */
static const char *env_value(char **envp, const char *name)
{
	size_t len = strlen(name);

	for (; envp && *envp; envp++) {
		if (!strncmp(*envp, name, len) && (*envp)[len] == '=')
			return (*envp)[len + 1] ? *envp + len + 1 : NULL;
	}
	return NULL;
}

/* A typo such as OTEL_EBPF_OPEN_PORTS would otherwise be silently ignored. */
static void warn_unknown_env(char **envp, FILE *err)
{
	const struct setting *st;
	const char *eq;

	for (; envp && *envp; envp++) {
		eq = strchr(*envp, '=');
		if (strncmp(*envp, ENV_PREFIX, strlen(ENV_PREFIX)) || !eq || !eq[1])
			continue;
		for (st = settings; st < settings + N_SETTINGS; st++)
			if (st->env && !strncmp(*envp, st->env, eq - *envp) &&
			    !st->env[eq - *envp])
				break;
		if (st == settings + N_SETTINGS)
			fprintf(err, "obi: ignoring unsupported %.*s (see --help)\n",
				(int)(eq - *envp), *envp);
	}
}

static int load_env(struct obi_config *cfg, char **envp, FILE *err)
{
	const struct setting *st;
	const char *val;
	int ret;

	warn_unknown_env(envp, err);
	for (st = settings; st < settings + N_SETTINGS; st++) {
		val = st->env ? env_value(envp, st->env) : NULL;
		if (!val)
			continue;
		ret = apply(cfg, st, st->env, val, err, ORIGIN_ENV);
		if (ret)
			return ret;
	}
	return 0;
}

/* Matches "--name", "--name=value", "-x", or Go's single-dash "-name" and "-name=value" (OBI
 * is started with -config FILE); *val points after '=' when present. */
static const struct setting *find_flag(const char *arg, const char **val)
{
	const struct setting *st;
	size_t len;

	*val = NULL;
	if (arg[0] == '-' && arg[1] && arg[1] != '-' && !arg[2]) {
		for (st = settings; st < settings + N_SETTINGS; st++)
			if (st->short_flag && st->short_flag == arg[1])
				return st;
		return NULL;
	}
	if (arg[0] != '-' || !arg[1])
		return NULL;
	arg += arg[1] == '-' ? 2 : 1;
	len = strcspn(arg, "=");
	if (arg[len] == '=')
		*val = arg + len + 1;
	for (st = settings; st < settings + N_SETTINGS; st++)
		if (!strncmp(st->flag, arg, len) && !st->flag[len])
			return st;
	return NULL;
}

/* Applies argv[*i], consuming the next argument when it is the flag's value. */
static int load_arg(struct obi_config *cfg, int argc, char **argv, int *i, FILE *err)
{
	const char *arg = argv[*i], *val;
	const struct setting *st = find_flag(arg, &val);
	char name[64];

	if (!st) {
		fprintf(err, "obi: %s ", arg[0] == '-' ? "unknown flag" : "unexpected argument");
		put_quoted(err, arg);
		fprintf(err, " (see --help)\n");
		return -EINVAL;
	}
	snprintf(name, sizeof(name), "--%s", st->flag);
	if (st->type == SETTING_SWITCH) {
		if (val) {
			fprintf(err, "obi: flag %s takes no value\n", name);
			return -EINVAL;
		}
		return apply(cfg, st, name, "", err, ORIGIN_FLAG);
	}
	if (!val && *i + 1 < argc && strncmp(argv[*i + 1], "--", 2))
		val = argv[++*i];
	if (!val) {
		fprintf(err, "obi: flag %s needs a value (expected %s)\n", name, st->expected);
		return -EINVAL;
	}
	return apply(cfg, st, name, val, err, ORIGIN_FLAG);
}

/* The YAML file to load: --config (the last one) over OTEL_EBPF_CONFIG_PATH. A malformed
 * --config is left for the flag pass to report. */
static const char *config_path_arg(int argc, char **argv, char **envp)
{
	const char *path = env_value(envp, "OTEL_EBPF_CONFIG_PATH"), *val;

	for (int i = 1; i < argc; i++) {
		const struct setting *st = find_flag(argv[i], &val);

		if (!st || st->parse != set_config_path)
			continue;
		if (!val && i + 1 < argc && strncmp(argv[i + 1], "--", 2))
			val = argv[++i];
		if (val && val[0])
			path = val;
	}
	return path;
}

/* True when the url has nothing (or only "/") after its host. */
static bool url_without_path(const char *url)
{
	const char *host = strstr(url, "://"), *slash;

	if (!host)
		return false;
	slash = strchr(host + 3, '/');
	return !slash || !slash[1];
}

/* A per-signal setting not given takes the general one; the base url gets the signal's path.
 * A per-signal url without a path gets it too, as OBI (its OpenTelemetry SDK) does: the user's
 * "otel_traces_export: endpoint: http://collector:4318" posts to /v1/traces. */
static void resolve_signal(const struct obi_config *cfg, struct otlp_signal *sig, const char *path)
{
	size_t len = strlen(cfg->otlp_endpoint);

	if (!sig->url[0] && len) {
		if (cfg->otlp_endpoint[len - 1] == '/')
			len--;
		snprintf(sig->url, sizeof(sig->url), "%.*s%s", (int)len, cfg->otlp_endpoint, path);
	} else if (sig->url[0] && url_without_path(sig->url)) {
		len = strlen(sig->url);
		if (sig->url[len - 1] == '/')
			sig->url[--len] = '\0';
		snprintf(sig->url + len, sizeof(sig->url) - len, "%s", path);
	}
	if (!sig->headers[0])
		strcpy(sig->headers, cfg->otlp_headers);
	if (sig->compression == OTLP_COMPRESSION_UNSET)
		sig->compression = cfg->otlp_compression;
	if (!sig->timeout_ms)
		sig->timeout_ms = cfg->otlp_timeout_ms;
}

static enum origin origin_of(setting_parse_fn parse)
{
	for (const struct setting *st = settings; st < settings + N_SETTINGS; st++)
		if (st->parse == parse)
			return origins[st - settings].kind;
	return ORIGIN_NONE;
}

static int resolve_otlp(struct obi_config *cfg, FILE *err)
{
	resolve_signal(cfg, &cfg->traces, "/v1/traces");
	resolve_signal(cfg, &cfg->metrics, "/v1/metrics");
	/* a small queue (OBI's max_queue_size: 100) shrinks the default batch with it */
	if (cfg->bsp_max_export_batch_size > cfg->bsp_max_queue_size &&
	    origin_of(set_batch_size) == ORIGIN_DEFAULT)
		cfg->bsp_max_export_batch_size = cfg->bsp_max_queue_size;
	if (cfg->bsp_max_export_batch_size > cfg->bsp_max_queue_size) {
		fprintf(err, "obi: invalid OTEL_BSP_MAX_EXPORT_BATCH_SIZE \"%u\": larger than "
			     "OTEL_BSP_MAX_QUEUE_SIZE (%u) (expected a number from 1 to the queue "
			     "size)\n", cfg->bsp_max_export_batch_size, cfg->bsp_max_queue_size);
		return -EINVAL;
	}
	return 0;
}

/* OBI's discovery.default_exclude_instrument: observability tools never instrumented, unless
 * the file sets the list (an empty list allows them). */
static void default_excludes(struct obi_config *cfg)
{
	struct selector *s = &cfg->default_exclude.entry[0];

	if (cfg->default_exclude.set)
		return;
	memset(&cfg->default_exclude, 0, sizeof(cfg->default_exclude));
	snprintf(s->exe, sizeof(s->exe), "%s",
		 "{*beyla,*alloy,*prometheus-config-reloader,*ebpf-instrument,*obi,*otelcol,"
		 "*otelcol-contrib,*otelcol-contrib[!/]*}");
	cfg->default_exclude.n = 1;
}

int config_load(struct obi_config *cfg, int argc, char **argv, char **envp, FILE *err)
{
	const char *path = config_path_arg(argc, argv, envp);
	int i, ret;

	ret = load_defaults(cfg, err);
	if (!ret && path) {
		ret = set_config_path(cfg, path, &(struct why){ "", "" });
		if (!ret)
			ret = yaml_config_load(cfg, path, err);
	}
	if (!ret)
		ret = load_env(cfg, envp, err);
	for (i = 1; !ret && i < argc; i++)
		ret = load_arg(cfg, argc, argv, &i, err);
	if (!ret)
		ret = resolve_otlp(cfg, err);
	if (ret)
		return ret;
	if (!cfg->trace_printer_set)
		cfg->trace_printer = cfg->traces.url[0] ? PRINTER_DISABLED : PRINTER_TEXT;
	default_excludes(cfg);
	if (cfg->instrument.set && !cfg->instrument.n && !cfg->open_ports.count &&
	    !cfg->n_target_pids && !cfg->exe_glob[0] && !cfg->n_pidns)
		fprintf(err, "obi: warning: %s: discovery.instrument has no entry obi can use: no "
			     "process will be instrumented\n", cfg->config_path);
	return 0;
}

bool config_otlp_enabled(const struct obi_config *cfg)
{
	return cfg->traces.url[0] || cfg->metrics.url[0];
}

/* A discovery.instrument list in the file counts even when obi could use none of its entries:
 * the user chose what to instrument, so no demo. */
bool config_has_selector(const struct obi_config *cfg)
{
	return cfg->open_ports.count || cfg->n_target_pids || cfg->exe_glob[0] || cfg->n_pidns ||
	       cfg->instrument.set;
}

void config_print_help(FILE *out)
{
	const struct setting *st;

	fprintf(out, "usage: obi [flags]\n\n"
		     "Instruments HTTP servers and clients with eBPF and prints or exports one "
		     "span per request.\n"
		     "A process is instrumented when it matches any selector (--open-port, --pid, "
		     "--exe,\n--pid-namespace, or an entry of discovery.instrument in the YAML file) "
		     "and no\nexclude_instrument entry. Precedence: defaults < YAML file "
		     "(--config) < environment < flags.\n\n"
		     "flags:\n");
	for (st = settings; st < settings + N_SETTINGS; st++) {
		fprintf(out, "  ");
		if (st->short_flag)
			fprintf(out, "-%c, ", st->short_flag);
		fprintf(out, "--%s", st->flag);
		if (st->metavar)
			fprintf(out, " %s", st->metavar);
		if (st->env)
			fprintf(out, "  (env %s%s%s)", st->env, st->def ? ", default " : "",
				st->def ? st->def : "");
		fprintf(out, "\n        %s\n", st->help);
		if (st->yaml)
			fprintf(out, "        yaml: %s\n", st->yaml);
		if (st->expected)
			fprintf(out, "        value: %s\n", st->expected);
	}
}

/* --- YAML: the table seen through YAML paths ------------------------------------------------- */

static const struct setting *find_yaml(const char *path)
{
	for (const struct setting *st = settings; st < settings + N_SETTINGS; st++)
		if (st->yaml && !strcmp(st->yaml, path))
			return st;
	return NULL;
}

enum config_yaml_kind config_yaml_kind(const char *path)
{
	const struct setting *st = find_yaml(path);
	size_t len = strlen(path);

	if (st)
		return st->type == SETTING_LIST ? CONFIG_YAML_LIST_SETTING : CONFIG_YAML_SETTING;
	for (st = settings; st < settings + N_SETTINGS; st++)
		if (st->yaml && !strncmp(st->yaml, path, len) && st->yaml[len] == '.')
			return CONFIG_YAML_SECTION;
	return CONFIG_YAML_NONE;
}

int config_yaml_set(struct obi_config *cfg, const char *path, const char *value, const char *file,
		    unsigned line, FILE *err)
{
	const struct setting *st = find_yaml(path);
	char where[PATH_MAX + 32];
	int ret;

	if (!st)
		return -ENOENT;
	snprintf(where, sizeof(where), "%s:%u: ", file, line);
	ret = apply_at(cfg, st, where, path, value, err);
	if (!ret) {
		origins[st - settings].kind = ORIGIN_YAML;
		origins[st - settings].line = line;
	}
	return ret;
}

const char *config_yaml_expected(const char *path)
{
	const struct setting *st = find_yaml(path);

	return st ? st->expected : NULL;
}

/* --- discovery entries ----------------------------------------------------------------------- */

static const struct {
	const char *key, *expected, *help;
} selector_keys[] = {
	{ "open_ports", "a comma list of ports and ranges, e.g. 80,443,8000-8999",
	  "the process listens on one of these ports" },
	{ "exe_path", "a glob on the executable path, e.g. \"*/python3*\" or \"{*nginx,*envoy}\"",
	  "its executable path matches this glob" },
	{ "target_pids", "a comma list (or a YAML list) of process ids, e.g. 1234,5678",
	  "it is one of these processes (obi's own key: OBI has no YAML key for pids)" },
	{ "target_pid_namespaces",
	  "a comma list of namespace inodes, pid:[inode] or paths, e.g. /proc/1234/ns/pid",
	  "it runs in one of these PID namespaces (obi's own key)" },
	{ "containers_only", "true or false",
	  "it runs in another network namespace than obi (a container)" },
	{ "name", "a service name, e.g. checkout",
	  "not a criterion: the service name given to what the entry selects" },
};

#define N_SELECTOR_KEYS (sizeof(selector_keys) / sizeof(selector_keys[0]))

const char *config_selector_expected(const char *key)
{
	for (size_t i = 0; i < N_SELECTOR_KEYS; i++)
		if (!strcmp(selector_keys[i].key, key))
			return selector_keys[i].expected;
	return NULL;
}

static int parse_bool(const char *val, bool *out, struct why *why)
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

int config_selector_set(struct selector *s, const char *key, const char *value, char *why,
			size_t why_size)
{
	struct why w = { "", "" };
	int ret;

	if (!strcmp(key, "open_ports")) {
		memset(&s->ports, 0, sizeof(s->ports));
		ret = parse_ports(value, &s->ports, &w);
	} else if (!strcmp(key, "exe_path")) {
		ret = copy_text(s->exe, sizeof(s->exe), value, "pattern", &w);
	} else if (!strcmp(key, "target_pids")) {
		ret = parse_pids(value, s->pids, CONFIG_ENTRY_PIDS, &s->n_pids, &w);
	} else if (!strcmp(key, "target_pid_namespaces")) {
		ret = parse_pidns(value, s->pidns, CONFIG_ENTRY_PIDNS, &s->n_pidns, &w);
	} else if (!strcmp(key, "containers_only")) {
		ret = parse_bool(value, &s->containers_only, &w);
	} else if (!strcmp(key, "name")) {
		ret = copy_text(s->name, sizeof(s->name), value, "name", &w);
	} else {
		return -ENOENT;
	}
	if (ret)
		snprintf(why, why_size, "%s", w.text);
	return ret;
}

bool config_selector_has_criteria(const struct selector *s)
{
	return s->ports.count || s->n_pids || s->n_pidns || s->exe[0] || s->containers_only;
}

/* --- --help-markdown ------------------------------------------------------------------------- */

/* A table cell: '|' escaped, nothing else changed. */
static void put_cell(FILE *out, const char *s, bool code)
{
	fputs(code ? " `" : " ", out);
	for (; *s; s++) {
		if (*s == '|')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputs(code ? "` |" : " |", out);
}

void config_print_markdown(FILE *out)
{
	const struct setting *st;
	char flag[64];

	fprintf(out, "| Environment variable | YAML key | Flag | Default | Accepted | Meaning |\n"
		     "|---|---|---|---|---|---|\n");
	for (st = settings; st < settings + N_SETTINGS; st++) {
		if (st->short_flag)
			snprintf(flag, sizeof(flag), "-%c, --%s", st->short_flag, st->flag);
		else
			snprintf(flag, sizeof(flag), "--%s%s%s", st->flag, st->metavar ? " " : "",
				 st->metavar ? st->metavar : "");
		fputc('|', out);
		put_cell(out, st->env ? st->env : "—", st->env);
		put_cell(out, st->yaml ? st->yaml : "—", st->yaml);
		put_cell(out, flag, true);
		put_cell(out, st->def ? st->def : "—", st->def);
		put_cell(out, st->expected ? st->expected : "—", false);
		put_cell(out, st->help, false);
		fputc('\n', out);
	}
	fprintf(out, "\nEntries of `discovery.instrument`, `discovery.exclude_instrument` and "
		     "`discovery.default_exclude_instrument` (YAML only):\n\n"
		     "| Key | Accepted | A process matches when |\n|---|---|---|\n");
	for (size_t i = 0; i < N_SELECTOR_KEYS; i++) {
		fputc('|', out);
		put_cell(out, selector_keys[i].key, true);
		put_cell(out, selector_keys[i].expected, false);
		put_cell(out, selector_keys[i].help, false);
		fputc('\n', out);
	}
}

/* --- --print-config -------------------------------------------------------------------------- */

/* A YAML scalar: plain when that is unambiguous text, else double-quoted with escapes. */
static void put_yaml_scalar(FILE *out, const char *v)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789_./,-";

	if (v[0] && v[0] != '-' && strspn(v, safe) == strlen(v)) {
		fputs(v, out);
		return;
	}
	fputc('"', out);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			fprintf(out, "\\%c", *v);
		else if ((unsigned char)*v < 0x20 || *v == 0x7f)
			fprintf(out, "\\x%02x", (unsigned char)*v);
		else
			fputc(*v, out);
	}
	fputc('"', out);
}

static void put_origin(FILE *out, const struct setting *st)
{
	size_t i = st - settings;

	switch (origins[i].kind) {
	case ORIGIN_DEFAULT:
		fputs("  # default\n", out);
		break;
	case ORIGIN_YAML:
		fprintf(out, "  # line %u of the file\n", origins[i].line);
		break;
	case ORIGIN_ENV:
		fprintf(out, "  # %s\n", st->env);
		break;
	case ORIGIN_FLAG:
		fprintf(out, "  # --%s\n", st->flag);
		break;
	default:
		fputs("  # derived\n", out);
		break;
	}
}

static int cmp_yaml(const void *a, const void *b)
{
	return strcmp((*(const struct setting *const *)a)->yaml,
		      (*(const struct setting *const *)b)->yaml);
}

/* Prints the settings that have a YAML key, nested by path ("a.b.c"). */
static void print_yaml_settings(const struct obi_config *cfg, FILE *out)
{
	const struct setting *list[N_SETTINGS];
	const char *prev = "";
	char value[CONFIG_KV_LIST_MAX];
	size_t n = 0;

	for (const struct setting *st = settings; st < settings + N_SETTINGS; st++)
		if (st->yaml)
			list[n++] = st;
	qsort(list, n, sizeof(list[0]), cmp_yaml);
	for (size_t i = 0; i < n; i++) {
		const char *p = list[i]->yaml, *q = prev;
		int depth = 0;

		list[i]->show(cfg, value, sizeof(value));
		if (!value[0])
			continue;
		/* skip the sections already open */
		for (;;) {
			const char *dp = strchr(p, '.'), *dq = strchr(q, '.');

			if (!dp || !dq || dp - p != dq - q || strncmp(p, q, dp - p))
				break;
			p = dp + 1;
			q = dq + 1;
			depth++;
		}
		for (const char *dot; (dot = strchr(p, '.')); p = dot + 1, depth++)
			fprintf(out, "%*s%.*s:\n", depth * 2, "", (int)(dot - p), p);
		fprintf(out, "%*s%s: ", depth * 2, "", p);
		put_yaml_scalar(out, value);
		put_origin(out, list[i]);
		prev = list[i]->yaml;
	}
}

static void print_entry(const struct selector *s, const char *origin, FILE *out)
{
	char buf[CONFIG_ENTRY_EXE + 64];
	const char *lead = "    - ";

#define ENTRY_KEY(key)                                          \
	do {                                                    \
		fprintf(out, "%s%s: ", lead, key);              \
		put_yaml_scalar(out, buf);                      \
		fputc('\n', out);                               \
		lead = "      ";                                \
	} while (0)

	fprintf(out, "    # %s\n", origin);
	if (s->ports.count) {
		show_port_set(&s->ports, buf, sizeof(buf));
		ENTRY_KEY("open_ports");
	}
	if (s->exe[0]) {
		snprintf(buf, sizeof(buf), "%s", s->exe);
		ENTRY_KEY("exe_path");
	}
	if (s->n_pids) {
		show_u32_list(s->pids, s->n_pids, buf, sizeof(buf));
		ENTRY_KEY("target_pids");
	}
	if (s->n_pidns) {
		show_u64_list(s->pidns, s->n_pidns, buf, sizeof(buf));
		ENTRY_KEY("target_pid_namespaces");
	}
	if (s->containers_only) {
		snprintf(buf, sizeof(buf), "true");
		ENTRY_KEY("containers_only");
	}
	if (s->name[0]) {
		snprintf(buf, sizeof(buf), "%s", s->name);
		ENTRY_KEY("name");
	}
#undef ENTRY_KEY
}

static void print_list(const char *key, const struct selector_list *l, FILE *out)
{
	char origin[64];

	fprintf(out, "  %s:%s\n", key, l->n ? "" : " []");
	for (size_t i = 0; i < l->n; i++) {
		if (l->entry[i].line)
			snprintf(origin, sizeof(origin), "line %u of the file", l->entry[i].line);
		else
			snprintf(origin, sizeof(origin), "default");
		print_entry(&l->entry[i], origin, out);
	}
}

/* The environment's (or flags') pid, exe and namespace selectors: one entry each, as they are
 * ORed (the ports are the top-level open_port). */
static void print_env_entries(const struct obi_config *cfg, FILE *out)
{
	struct selector s;

	if (cfg->n_target_pids) {
		memset(&s, 0, sizeof(s));
		s.n_pids = cfg->n_target_pids < CONFIG_ENTRY_PIDS ? cfg->n_target_pids :
								      CONFIG_ENTRY_PIDS;
		memcpy(s.pids, cfg->target_pids, s.n_pids * sizeof(s.pids[0]));
		print_entry(&s, "OTEL_EBPF_TARGET_PID (--pid)", out);
	}
	if (cfg->exe_glob[0]) {
		memset(&s, 0, sizeof(s));
		snprintf(s.exe, sizeof(s.exe), "%s", cfg->exe_glob);
		print_entry(&s, "OTEL_EBPF_AUTO_TARGET_EXE (--exe)", out);
	}
	if (cfg->n_pidns) {
		memset(&s, 0, sizeof(s));
		s.n_pidns = cfg->n_pidns < CONFIG_ENTRY_PIDNS ? cfg->n_pidns : CONFIG_ENTRY_PIDNS;
		memcpy(s.pidns, cfg->pidns, s.n_pidns * sizeof(s.pidns[0]));
		print_entry(&s, "OTEL_EBPF_TARGET_PID_NAMESPACE (--pid-namespace)", out);
	}
}

void config_print_yaml(const struct obi_config *cfg, FILE *out)
{
	char value[CONFIG_KV_LIST_MAX];
	bool env_entries = cfg->n_target_pids || cfg->exe_glob[0] || cfg->n_pidns;

	fprintf(out, "# obi configuration as loaded (defaults < YAML file < environment < flags)\n");
	if (cfg->config_path[0]) {
		fputs("# file: ", out);
		put_clean(out, cfg->config_path);
		fputc('\n', out);
	}
	print_yaml_settings(cfg, out);
	fprintf(out, "discovery:\n  instrument:%s\n", cfg->instrument.n || env_entries ? "" : " []");
	for (size_t i = 0; i < cfg->instrument.n; i++) {
		char origin[64];

		snprintf(origin, sizeof(origin), "line %u of the file", cfg->instrument.entry[i].line);
		print_entry(&cfg->instrument.entry[i], origin, out);
	}
	print_env_entries(cfg, out);
	print_list("exclude_instrument", &cfg->exclude, out);
	print_list("default_exclude_instrument", &cfg->default_exclude, out);
	fprintf(out, "# settings without a YAML key (environment variables and flags only):\n");
	for (const struct setting *st = settings; st < settings + N_SETTINGS; st++) {
		if (st->yaml || !st->show || !st->env || st->parse == set_config_path ||
		    st->parse == set_open_ports || st->parse == set_pids || st->parse == set_exe ||
		    st->parse == set_pidns)
			continue;
		st->show(cfg, value, sizeof(value));
		if (!value[0])
			continue;
		fprintf(out, "#   %s=", st->env);
		put_clean(out, value);
		fputc('\n', out);
	}
}

const char *config_yaml_path_at(size_t i)
{
	for (const struct setting *st = settings; st < settings + N_SETTINGS; st++)
		if (st->yaml && !i--)
			return st->yaml;
	return NULL;
}

const char *config_selector_key_at(size_t i)
{
	return i < N_SELECTOR_KEYS ? selector_keys[i].key : NULL;
}
