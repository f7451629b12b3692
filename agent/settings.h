/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside agent/'s configuration: the settings table and what it is made of. Lowest first:
 * settings_value.c (values as text, both ways), settings.c (the table, where each value came
 * from), settings_yaml.c (the table seen through YAML paths, for yaml_config.c). config.c
 * loads with them, config_print.c writes --help, --help-markdown and --print-config from them.
 */
#ifndef OBI_SETTINGS_H
#define OBI_SETTINGS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config_types.h"

/* A bad value's reason, completed by the caller into "invalid NAME "value": reason (...)";
 * `warn`, when a value is accepted with a caveat, becomes a warning line. */
struct setting_why {
	char text[PATH_MAX + 128];
	char warn[256];
};

typedef int (*setting_parse_fn)(struct obi_config *cfg, const char *val, struct setting_why *why);
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

/* --- settings.c: the table -------------------------------------------------------------------- */

#define SETTINGS_MAX 96	/* rows the table may grow to (settings.c checks) */

extern const struct setting settings[];
extern const size_t settings_count;

/* The keys of a discovery entry (YAML only), in --help-markdown's order. */
struct setting_entry_key {
	const char *key, *expected, *help;
};

extern const struct setting_entry_key settings_entry_keys[];
extern const size_t settings_entry_key_count;

/* Where a setting's value came from, for --print-config. */
enum setting_origin {
	SETTING_ORIGIN_NONE,
	SETTING_ORIGIN_DEFAULT,
	SETTING_ORIGIN_YAML,
	SETTING_ORIGIN_ENV,
	SETTING_ORIGIN_FLAG,
};

/* The row of an environment variable, or NULL. */
const struct setting *settings_find_env(const char *env);

/*
 * Parses val into cfg with st and records `origin` (and the YAML line) on success. On a bad
 * value writes "obi: <where>invalid <name> "val": reason (expected ...)" to err and returns
 * -EINVAL. name: the env var, "--flag" or YAML key the value came from; where: "file:line: "
 * or "".
 */
int settings_apply(struct obi_config *cfg, const struct setting *st, const char *where,
		   const char *name, const char *val, FILE *err, enum setting_origin origin,
		   unsigned line);

/* Forgets every origin (before the defaults are applied). */
void settings_clear_origins(void);

/* Where st's value came from; *line is the YAML line for SETTING_ORIGIN_YAML. */
enum setting_origin settings_origin(const struct setting *st, unsigned *line);

/* Writes s on one line, control characters as \xNN; _quoted between double quotes. */
void settings_put_clean(FILE *out, const char *s);
void settings_put_quoted(FILE *out, const char *s);

/* --- settings_yaml.c: the table seen through YAML paths ("a.b.c"), for yaml_config.c -------- */

enum setting_yaml_kind {
	SETTING_YAML_NONE = 0,		/* no setting has this path */
	SETTING_YAML_SETTING,		/* a setting takes a scalar here */
	SETTING_YAML_LIST_SETTING,	/* a setting takes a scalar or a list of scalars here */
	SETTING_YAML_SECTION,		/* a mapping holding settings */
};
enum setting_yaml_kind settings_yaml_kind(const char *path);

/* Applies a scalar to the setting at `path`, given at file:line. Returns 0, -ENOENT for no
 * such setting, or -EINVAL (one line naming file, line, key and the accepted form written to
 * err). */
int settings_yaml_set(struct obi_config *cfg, const char *path, const char *value, const char *file,
		      unsigned line, FILE *err);

/* The accepted form of the setting at `path`, for error lines; NULL if none. */
const char *settings_yaml_expected(const char *path);

/* The i-th YAML path of the table, or discovery entry key, or NULL past the last (for "did you
 * mean"). */
const char *settings_yaml_path_at(size_t i);
const char *settings_yaml_entry_key_at(size_t i);

/* --- settings_value.c: values as text, both ways ------------------------------------------- */

/* Lists replace what the destination held, but for ports, which are added to ps. */
int settings_parse_ports(const char *s, struct port_set *ps, struct setting_why *why);
int settings_parse_pids(const char *val, uint32_t *pids, size_t max, size_t *n,
			struct setting_why *why);
int settings_parse_pidns(const char *val, uint64_t *ns, size_t max, size_t *n,
			 struct setting_why *why);
/* A non-empty text that fits in size bytes; `what` names it in the reason ("empty path"). */
int settings_parse_text(char *dst, size_t size, const char *val, const char *what,
			struct setting_why *why);
int settings_parse_bool(const char *val, bool *out, struct setting_why *why);
int settings_parse_printer(const char *val, enum printer_kind *out, struct setting_why *why);
int settings_parse_log_level(const char *val, enum log_level *out, struct setting_why *why);
int settings_parse_data_hooks(const char *val, enum data_hooks *out, struct setting_why *why);
int settings_parse_propagation(const char *val, bool *on, struct setting_why *why);
int settings_parse_url(char *dst, size_t size, const char *val, struct setting_why *why);
/* "k=v,k2=v2"; headers: every key an RFC 9110 token. */
int settings_parse_kv(char *dst, size_t size, const char *val, bool headers,
		      struct setting_why *why);
int settings_parse_protocol(const char *val, enum otlp_protocol *out, struct setting_why *why);
int settings_parse_compression(const char *val, enum otlp_compression *out,
			       struct setting_why *why);
/* Milliseconds from 1 ms to 24 h: a plain integer when plain_ok, or a duration such as 5s. */
int settings_parse_ms(const char *val, bool plain_ok, uint64_t *ms, struct setting_why *why);
/* A queue or batch size, 1 to 1000000. */
int settings_parse_count(const char *val, uint32_t *out, struct setting_why *why);
int settings_parse_sampler(const char *val, enum sampler_kind *out, struct setting_why *why);
int settings_parse_ratio(const char *val, double *out, struct setting_why *why);
/* A TCP port, 0 to 65535 (0: off). */
int settings_parse_port0(const char *val, uint16_t *out, struct setting_why *why);
/* An absolute URL path without query or fragment, e.g. /metrics. */
int settings_parse_http_path(char *dst, size_t size, const char *val, struct setting_why *why);
/* An IPv4 or IPv6 address literal (written back in its normal form). */
int settings_parse_ip(char *dst, size_t size, const char *val, struct setting_why *why);

/* "80,443,8000-8999", "1,2", a "name=***" list (header values may be secrets), and a duration
 * in the largest unit that keeps it whole (60000 -> "1m"). */
void settings_show_ports(const struct port_set *ps, char *buf, size_t size);
void settings_show_u32_list(const uint32_t *v, size_t n, char *buf, size_t size);
void settings_show_u64_list(const uint64_t *v, size_t n, char *buf, size_t size);
void settings_show_masked(const char *list, char *buf, size_t size);
void settings_show_duration_ms(uint64_t ms, char *buf, size_t size);

/* --- public: parts of the table other files use by name ----------------------------------- */

/* Parses "80,443,8000-8999" into ps (adds to it). Returns 0 or -EINVAL. */
int config_parse_ports(const char *s, struct port_set *ps);

/* Discovery entries from scalars, for yaml_config.c (settings_yaml.c). */
/* The accepted form of a discovery entry key; NULL for a key obi does not know. */
const char *config_selector_expected(const char *key);

/* Sets one key of a discovery entry from a scalar ("open_ports", "exe_path", "target_pids",
 * "target_pid_namespaces", "containers_only", "name"). Returns 0, -ENOENT for a key obi does
 * not know, or -EINVAL with the reason in why. */
int config_selector_set(struct selector *s, const char *key, const char *value, char *why,
			size_t why_size);

/* True when the entry sets at least one criterion. */
bool config_selector_has_criteria(const struct selector *s);

#endif /* OBI_SETTINGS_H */
