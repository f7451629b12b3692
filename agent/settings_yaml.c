// SPDX-License-Identifier: Apache-2.0
/*
 * The settings table seen from the YAML file: which dotted paths ("otel_traces_export.endpoint")
 * are settings, lists or sections, applying a scalar found at file:line, and the keys of a
 * discovery entry. yaml_config.c walks the document with these; it knows no setting itself.
 */
#include "settings.h"

#include <errno.h>
#include <string.h>

static const struct setting *find_yaml(const char *path)
{
	for (const struct setting *st = settings; st < settings + settings_count; st++)
		if (st->yaml && !strcmp(st->yaml, path))
			return st;
	return NULL;
}

enum setting_yaml_kind settings_yaml_kind(const char *path)
{
	const struct setting *st = find_yaml(path);
	size_t len = strlen(path);

	if (st)
		return st->type == SETTING_LIST ? SETTING_YAML_LIST_SETTING : SETTING_YAML_SETTING;
	for (st = settings; st < settings + settings_count; st++)
		if (st->yaml && !strncmp(st->yaml, path, len) && st->yaml[len] == '.')
			return SETTING_YAML_SECTION;
	return SETTING_YAML_NONE;
}

int settings_yaml_set(struct obi_config *cfg, const char *path, const char *value, const char *file,
		      unsigned line, FILE *err)
{
	const struct setting *st = find_yaml(path);
	char where[PATH_MAX + 32];

	if (!st)
		return -ENOENT;
	snprintf(where, sizeof(where), "%s:%u: ", file, line);
	return settings_apply(cfg, st, where, path, value, err, SETTING_ORIGIN_YAML, line);
}

const char *settings_yaml_expected(const char *path)
{
	const struct setting *st = find_yaml(path);

	return st ? st->expected : NULL;
}

const char *settings_yaml_path_at(size_t i)
{
	for (const struct setting *st = settings; st < settings + settings_count; st++)
		if (st->yaml && !i--)
			return st->yaml;
	return NULL;
}

/* --- discovery entries ------------------------------------------------------------------------ */

const char *settings_yaml_entry_key_at(size_t i)
{
	return i < settings_entry_key_count ? settings_entry_keys[i].key : NULL;
}

const char *config_selector_expected(const char *key)
{
	for (size_t i = 0; i < settings_entry_key_count; i++)
		if (!strcmp(settings_entry_keys[i].key, key))
			return settings_entry_keys[i].expected;
	return NULL;
}

int config_selector_set(struct selector *s, const char *key, const char *value, char *why,
			size_t why_size)
{
	struct setting_why w = { "", "" };
	int ret;

	if (!strcmp(key, "open_ports")) {
		memset(&s->ports, 0, sizeof(s->ports));
		ret = settings_parse_ports(value, &s->ports, &w);
	} else if (!strcmp(key, "exe_path")) {
		ret = settings_parse_text(s->exe, sizeof(s->exe), value, "pattern", &w);
	} else if (!strcmp(key, "target_pids")) {
		ret = settings_parse_pids(value, s->pids, CONFIG_ENTRY_PIDS, &s->n_pids, &w);
	} else if (!strcmp(key, "target_pid_namespaces")) {
		ret = settings_parse_pidns(value, s->pidns, CONFIG_ENTRY_PIDNS, &s->n_pidns, &w);
	} else if (!strcmp(key, "containers_only")) {
		ret = settings_parse_bool(value, &s->containers_only, &w);
	} else if (!strcmp(key, "name")) {
		ret = settings_parse_text(s->name, sizeof(s->name), value, "name", &w);
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
