// SPDX-License-Identifier: Apache-2.0
/*
 * obi's settings. The table below is the only list of them: it drives the defaults, the
 * environment, the command-line flags, validation and --help.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* PID_MAX_LIMIT on 64-bit kernels (include/linux/threads.h). */
#define PID_MAX 4194304
#define ENV_PREFIX "OTEL_EBPF_"

/* A bad value's reason, completed by the caller into "invalid NAME "value": reason (...)". */
struct why {
	char text[PATH_MAX + 128];
};

typedef int (*setting_parse_fn)(struct obi_config *cfg, const char *val, struct why *why);

enum setting_type {
	SETTING_VALUE,		/* takes a value: --flag VALUE, --flag=VALUE, or the env var */
	SETTING_SWITCH,		/* a bare flag */
};

struct setting {
	const char *flag;	/* long flag without "--" */
	char short_flag;	/* 0: none */
	const char *env;	/* NULL: flag only */
	enum setting_type type;
	const char *metavar;	/* shown in --help */
	const char *def;	/* default as text, parsed before the environment; NULL: none */
	const char *help;
	const char *expected;	/* the accepted form, quoted in error lines */
	setting_parse_fn parse;
};

/* A trimmed piece of a comma list. */
struct item {
	const char *p;
	size_t len;
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

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static struct item trim(const char *p, const char *end)
{
	while (p < end && is_space(*p))
		p++;
	while (end > p && is_space(end[-1]))
		end--;
	return (struct item){ p, (size_t)(end - p) };
}

/* Splits the next comma-separated item off *s; *s becomes NULL after the last one. */
static struct item next_item(const char **s)
{
	const char *start = *s, *comma = strchr(start, ',');
	const char *end = comma ? comma : start + strlen(start);

	*s = comma ? comma + 1 : NULL;
	return trim(start, end);
}

static bool item_is(struct item it, const char *word)
{
	return it.len == strlen(word) && !strncasecmp(it.p, word, it.len);
}

/* Decimal digits only, no sign; -ERANGE above max. */
static int parse_uint(struct item it, uint64_t max, uint64_t *out)
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

static int parse_port(struct item it, const char *what, uint64_t *port, struct why *why)
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
static int parse_port_item(struct item it, struct port_set *ps, struct why *why)
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
		err = parse_port(trim(it.p, dash), "start", &lo, why);
		if (!err)
			err = parse_port(trim(dash + 1, it.p + it.len), "end", &hi, why);
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
		err = parse_port_item(next_item(&s), ps, why);
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

static int set_pids(struct obi_config *cfg, const char *val, struct why *why)
{
	uint64_t pid;
	size_t i;

	cfg->n_target_pids = 0;
	do {
		struct item it = next_item(&val);
		int err = parse_uint(it, PID_MAX, &pid);

		if (!it.len)
			return fail(why, "empty item in the list");
		if (err == -EINVAL)
			return fail(why, "\"%.*s\" is not a pid", (int)it.len, it.p);
		if (err || pid == 0)
			return fail(why, "pid %.*s is out of range 1-%d", (int)it.len, it.p,
				    PID_MAX);
		for (i = 0; i < cfg->n_target_pids && cfg->target_pids[i] != pid; i++)
			;
		if (i < cfg->n_target_pids)
			continue;
		if (cfg->n_target_pids == CONFIG_MAX_PIDS)
			return fail(why, "more than %d pids", CONFIG_MAX_PIDS);
		cfg->target_pids[cfg->n_target_pids++] = (uint32_t)pid;
	} while (val);
	return 0;
}

static int set_exe(struct obi_config *cfg, const char *val, struct why *why)
{
	if (!val[0])
		return fail(why, "empty pattern");
	if (strlen(val) >= sizeof(cfg->exe_glob))
		return fail(why, "longer than %zu bytes", sizeof(cfg->exe_glob) - 1);
	strcpy(cfg->exe_glob, val);
	return 0;
}

/* "4026531836", "pid:[4026531836]" or a path such as /proc/1234/ns/pid (symlink followed). */
static int parse_pidns_item(struct item it, uint64_t *ino, struct why *why)
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

static int set_pidns(struct obi_config *cfg, const char *val, struct why *why)
{
	uint64_t ino;
	size_t i;

	cfg->n_pidns = 0;
	do {
		struct item it = next_item(&val);
		int err;

		if (!it.len)
			return fail(why, "empty item in the list");
		err = parse_pidns_item(it, &ino, why);
		if (err)
			return err;
		for (i = 0; i < cfg->n_pidns && cfg->pidns[i] != ino; i++)
			;
		if (i < cfg->n_pidns)
			continue;
		if (cfg->n_pidns == CONFIG_MAX_PIDNS)
			return fail(why, "more than %d namespaces", CONFIG_MAX_PIDNS);
		cfg->pidns[cfg->n_pidns++] = ino;
	} while (val);
	return 0;
}

static int set_printer(struct obi_config *cfg, const char *val, struct why *why)
{
	struct item it = trim(val, val + strlen(val));

	if (item_is(it, "disabled"))
		cfg->trace_printer = PRINTER_DISABLED;
	else if (item_is(it, "text"))
		cfg->trace_printer = PRINTER_TEXT;
	else if (item_is(it, "json"))
		cfg->trace_printer = PRINTER_JSON;
	else
		return fail(why, "unknown printer");
	cfg->trace_printer_set = true;
	return 0;
}

static int set_log_level(struct obi_config *cfg, const char *val, struct why *why)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };
	struct item it = trim(val, val + strlen(val));
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (item_is(it, names[i])) {
			cfg->log_level = (enum log_level)i;
			return 0;
		}
	}
	return fail(why, "unknown level");
}

static int set_endpoint(struct obi_config *cfg, const char *val, struct why *why)
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
	if (strlen(val) >= sizeof(cfg->otlp_endpoint))
		return fail(why, "longer than %zu bytes", sizeof(cfg->otlp_endpoint) - 1);
	strcpy(cfg->otlp_endpoint, val);
	return 0;
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

static int set_version(struct obi_config *cfg, const char *val, struct why *why)
{
	cfg->version = true;
	return 0;
}

static const struct setting settings[] = {
	{ "open-port", 0, "OTEL_EBPF_OPEN_PORT", SETTING_VALUE, "PORTS", NULL,
	  "instrument processes listening on any of these ports",
	  "a comma list of ports and ranges, e.g. 80,443,8000-8999", set_open_ports },
	{ "pid", 0, "OTEL_EBPF_TARGET_PID", SETTING_VALUE, "PIDS", NULL,
	  "instrument these processes",
	  "a comma list of process ids, e.g. 1234,5678", set_pids },
	{ "exe", 0, "OTEL_EBPF_AUTO_TARGET_EXE", SETTING_VALUE, "GLOB", NULL,
	  "instrument processes whose full executable path matches this glob",
	  "a glob on the executable path, e.g. */python3*", set_exe },
	{ "pid-namespace", 0, "OTEL_EBPF_TARGET_PID_NAMESPACE", SETTING_VALUE, "NS", NULL,
	  "instrument processes in these pid namespaces",
	  "a comma list of namespace inodes, pid:[inode] or paths, e.g. /proc/1234/ns/pid",
	  set_pidns },
	{ "trace-printer", 0, "OTEL_EBPF_TRACE_PRINTER", SETTING_VALUE, "MODE", NULL,
	  "print one line per span on stdout (default text, disabled with an OTLP endpoint)",
	  "disabled, text or json", set_printer },
	{ "log-level", 0, "OTEL_EBPF_LOG_LEVEL", SETTING_VALUE, "LEVEL", "info",
	  "log messages at this level and above on stderr",
	  "debug, info, warn or error", set_log_level },
	{ "otlp-endpoint", 0, "OTEL_EXPORTER_OTLP_ENDPOINT", SETTING_VALUE, "URL", NULL,
	  "export spans with OTLP/HTTP to this collector",
	  "an http:// or https:// url, e.g. http://localhost:4318", set_endpoint },
	{ "demo", 0, NULL, SETTING_SWITCH, NULL, NULL,
	  "run the built-in demo (also the mode when no process is selected)", NULL, set_demo },
	{ "help", 'h', NULL, SETTING_SWITCH, NULL, NULL, "show this help and exit", NULL,
	  set_help },
	{ "version", 'V', NULL, SETTING_SWITCH, NULL, NULL, "show the version and exit", NULL,
	  set_version },
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

/* name: the env var or "--flag" the value came from, for the error line. */
static int apply(struct obi_config *cfg, const struct setting *st, const char *name,
		 const char *val, FILE *err)
{
	struct why why = { "" };

	if (!st->parse(cfg, val, &why))
		return 0;
	fprintf(err, "obi: invalid %s ", name);
	put_quoted(err, val);
	fputs(": ", err);
	put_clean(err, why.text);
	fprintf(err, " (expected %s)\n", st->expected);
	return -EINVAL;
}

static int load_defaults(struct obi_config *cfg, FILE *err)
{
	const struct setting *st;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	for (st = settings; st < settings + N_SETTINGS; st++) {
		if (!st->def)
			continue;
		ret = apply(cfg, st, st->flag, st->def, err);
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
		ret = apply(cfg, st, st->env, val, err);
		if (ret)
			return ret;
	}
	return 0;
}

/* Matches "--name", "--name=value" or "-x"; *val points after '=' when present. */
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
	if (strncmp(arg, "--", 2))
		return NULL;
	arg += 2;
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
		return apply(cfg, st, name, "", err);
	}
	if (!val && *i + 1 < argc && strncmp(argv[*i + 1], "--", 2))
		val = argv[++*i];
	if (!val) {
		fprintf(err, "obi: flag %s needs a value (expected %s)\n", name, st->expected);
		return -EINVAL;
	}
	return apply(cfg, st, name, val, err);
}

int config_load(struct obi_config *cfg, int argc, char **argv, char **envp, FILE *err)
{
	int i, ret;

	ret = load_defaults(cfg, err);
	if (!ret)
		ret = load_env(cfg, envp, err);
	for (i = 1; !ret && i < argc; i++)
		ret = load_arg(cfg, argc, argv, &i, err);
	if (ret)
		return ret;
	if (!cfg->trace_printer_set)
		cfg->trace_printer = cfg->otlp_endpoint[0] ? PRINTER_DISABLED : PRINTER_TEXT;
	return 0;
}

bool config_has_selector(const struct obi_config *cfg)
{
	return cfg->open_ports.count || cfg->n_target_pids || cfg->exe_glob[0] || cfg->n_pidns;
}

void config_print_help(FILE *out)
{
	const struct setting *st;

	fprintf(out, "usage: obi [flags]\n\n"
		     "Instruments HTTP servers and clients with eBPF and prints or exports one "
		     "span per request.\n"
		     "A process is instrumented when it matches any selector (--open-port, --pid, "
		     "--exe,\n--pid-namespace). Each flag overrides its environment variable.\n\n"
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
		if (st->expected)
			fprintf(out, "        value: %s\n", st->expected);
	}
}
