// SPDX-License-Identifier: Apache-2.0
/*
 * The settings table written out: --help (usage), --help-markdown (the README's configuration
 * reference) and --print-config (the merged configuration as YAML obi loads back, each value
 * with where it came from).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "settings.h"

/* --- --help ----------------------------------------------------------------------------------- */

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
	for (st = settings; st < settings + settings_count; st++) {
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

/* --- --help-markdown -------------------------------------------------------------------------- */

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
	for (st = settings; st < settings + settings_count; st++) {
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
	for (size_t i = 0; i < settings_entry_key_count; i++) {
		fputc('|', out);
		put_cell(out, settings_entry_keys[i].key, true);
		put_cell(out, settings_entry_keys[i].expected, false);
		put_cell(out, settings_entry_keys[i].help, false);
		fputc('\n', out);
	}
}

/* --- --print-config --------------------------------------------------------------------------- */

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
	unsigned line;

	switch (settings_origin(st, &line)) {
	case SETTING_ORIGIN_DEFAULT:
		fputs("  # default\n", out);
		break;
	case SETTING_ORIGIN_YAML:
		fprintf(out, "  # line %u of the file\n", line);
		break;
	case SETTING_ORIGIN_ENV:
		fprintf(out, "  # %s\n", st->env);
		break;
	case SETTING_ORIGIN_FLAG:
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
	const struct setting *list[SETTINGS_MAX];
	const char *prev = "";
	char value[CONFIG_KV_LIST_MAX];
	size_t n = 0;

	for (const struct setting *st = settings; st < settings + settings_count; st++)
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
		settings_show_ports(&s->ports, buf, sizeof(buf));
		ENTRY_KEY("open_ports");
	}
	if (s->exe[0]) {
		snprintf(buf, sizeof(buf), "%s", s->exe);
		ENTRY_KEY("exe_path");
	}
	if (s->n_pids) {
		settings_show_u32_list(s->pids, s->n_pids, buf, sizeof(buf));
		ENTRY_KEY("target_pids");
	}
	if (s->n_pidns) {
		settings_show_u64_list(s->pidns, s->n_pidns, buf, sizeof(buf));
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

/* The file is named in the header; the environment's selectors are discovery entries. */
static bool shown_above(const struct setting *st)
{
	static const char *const env[] = {
		"OTEL_EBPF_CONFIG_PATH", "OTEL_EBPF_OPEN_PORT", "OTEL_EBPF_TARGET_PID",
		"OTEL_EBPF_AUTO_TARGET_EXE", "OTEL_EBPF_TARGET_PID_NAMESPACE",
	};

	for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++)
		if (!strcmp(st->env, env[i]))
			return true;
	return false;
}

void config_print_yaml(const struct obi_config *cfg, FILE *out)
{
	char value[CONFIG_KV_LIST_MAX];
	bool env_entries = cfg->n_target_pids || cfg->exe_glob[0] || cfg->n_pidns;

	fprintf(out, "# obi configuration as loaded (defaults < YAML file < environment < flags)\n");
	if (cfg->config_path[0]) {
		fputs("# file: ", out);
		settings_put_clean(out, cfg->config_path);
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
	for (const struct setting *st = settings; st < settings + settings_count; st++) {
		if (st->yaml || !st->show || !st->env || shown_above(st))
			continue;
		st->show(cfg, value, sizeof(value));
		if (!value[0])
			continue;
		fprintf(out, "#   %s=", st->env);
		settings_put_clean(out, value);
		fputc('\n', out);
	}
}
