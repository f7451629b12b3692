// SPDX-License-Identifier: Apache-2.0
/*
 * The YAML configuration file. libyaml loads the document (anchors and aliases resolved); the
 * walk below knows only the shape: mappings are sections, scalars are values handed to the
 * settings table by their dotted path, and discovery's lists become selector entries. What a
 * value means, and its error message, is the settings table's business (settings_yaml.c).
 */
#include "yaml_config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "settings.h"

#define FILE_MAX (1 << 20)	/* a configuration file larger than this is a mistake */
#define PATH_LEN 256		/* longest dotted key path we build */
#define VALUE_MAX 16384		/* a list joined with commas */

struct walk {
	struct obi_config *cfg;
	const char *file;
	yaml_document_t *doc;
	FILE *err;
};

/*
 * OBI keys (v1 configuration) obi does not support: a warning says so, instead of "unknown".
 * A section name covers everything under it.
 */
static const char *const obi_only[] = {
	/* top level */
	"executable_path", "service_name", "service_namespace", "shutdown_timeout",
	"enforce_sys_caps", "channel_buffer_len", "channel_send_timeout",
	"channel_send_timeout_panic", "profile_port", "log_config", "log_format", "network",
	"filter", "attributes", "routes", "name_resolver",
	"internal_metrics", "metrics", "nodejs", "javaagent", "injector", "stats",
	/* ebpf */
	"ebpf.bpf_debug", "ebpf.wakeup_len", "ebpf.stats_wakeup_data_bytes", "ebpf.batch_length",
	"ebpf.batch_timeout", "ebpf.track_request_headers", "ebpf.http_request_timeout",
	"ebpf.override_bpfloop_enabled", "ebpf.traffic_control_backend",
	"ebpf.disable_black_box_cp", "ebpf.high_request_volume", "ebpf.heuristic_sql_detect",
	"ebpf.instrument_cuda", "ebpf.protocol_debug_print", "ebpf.redis_db_cache",
	"ebpf.buffer_sizes", "ebpf.mysql_prepared_statements_cache_size",
	"ebpf.postgres_prepared_statements_cache_size",
	"ebpf.mssql_prepared_statements_cache_size", "ebpf.kafka_topic_uuid_cache_size",
	"ebpf.mongo_requests_cache_size", "ebpf.payload_extraction", "ebpf.max_transaction_time",
	"ebpf.dns_request_timeout", "ebpf.log_enricher", "ebpf.couchbase_db_cache_size",
	"ebpf.bpf_fs_path", "ebpf.force_bpf_map_reader", "ebpf.maps_config",
	/* otel_traces_export */
	"otel_traces_export.insecure_skip_verify", "otel_traces_export.instrumentations",
	"otel_traces_export.backoff_initial_interval", "otel_traces_export.backoff_max_interval",
	"otel_traces_export.backoff_max_elapsed_time", "otel_traces_export.reporters_cache_len",
	"otel_traces_export.otel_sdk_log_level",
	/* otel_metrics_export */
	"otel_metrics_export.insecure_skip_verify", "otel_metrics_export.buckets",
	"otel_metrics_export.histogram_aggregation", "otel_metrics_export.reporters_cache_len",
	"otel_metrics_export.otel_sdk_log_level", "otel_metrics_export.features",
	"otel_metrics_export.instrumentations",
	"otel_metrics_export.allow_service_graph_self_references",
	"otel_metrics_export.extra_span_resource_attributes",
	/* prometheus_export */
	"prometheus_export.disable_build_info", "prometheus_export.features",
	"prometheus_export.instrumentations", "prometheus_export.buckets", "prometheus_export.ttl",
	"prometheus_export.service_cache_size",
	"prometheus_export.allow_service_graph_self_references",
	"prometheus_export.extra_resource_attributes",
	"prometheus_export.extra_span_resource_attributes",
	/* discovery */
	"discovery.services", "discovery.exclude_services", "discovery.default_exclude_services",
	"discovery.poll_interval", "discovery.skip_go_specific_tracers",
	"discovery.bpf_pid_filter_off", "discovery.exclude_otel_instrumented_services",
	"discovery.exclude_otel_instrumented_services_span_metrics",
	"discovery.default_otlp_grpc_port", "discovery.min_process_age",
	"discovery.route_harvester_timeout", "discovery.disabled_route_harvesters",
	"discovery.route_harvester_advanced",
};

/* discovery's own keys: the three lists. */
static const char *const discovery_lists[] = {
	"instrument", "exclude_instrument", "default_exclude_instrument",
};

/* Keys of an OBI discovery entry obi does not support. The k8s ones select: an entry holding
 * one is left out whole (obi cannot tell, and guessing would widen or narrow the selection). */
static const char *const entry_k8s[] = {
	"k8s_namespace", "k8s_pod_name", "k8s_deployment_name", "k8s_replicaset_name",
	"k8s_statefulset_name", "k8s_daemonset_name", "k8s_job_name", "k8s_cronjob_name",
	"k8s_owner_name", "k8s_container_name", "k8s_pod_labels", "k8s_pod_annotations",
};
static const char *const entry_other[] = { "namespace", "exports", "sampler", "routes", "metrics" };

#define N(a) (sizeof(a) / sizeof((a)[0]))

static bool in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], s))
			return true;
	return false;
}

/* True for an OBI key obi lacks: the path itself or a section above it is listed. */
static bool obi_has(const char *path)
{
	for (size_t i = 0; i < N(obi_only); i++) {
		size_t len = strlen(obi_only[i]);

		if (!strncmp(path, obi_only[i], len) && (!path[len] || path[len] == '.'))
			return true;
	}
	return false;
}

static unsigned line_of(const yaml_node_t *n)
{
	return (unsigned)n->start_mark.line + 1;
}

static const char *text_of(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static const char *kind_name(const yaml_node_t *n)
{
	return n->type == YAML_MAPPING_NODE ? "a mapping" :
	       n->type == YAML_SEQUENCE_NODE ? "a list" : "a value";
}

/* An empty plain value ("key:"), "~" or "null": the key is not set. */
static bool is_null(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = text_of(n);
	return !s[0] || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

static int bad(struct walk *w, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(struct walk *w, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	fprintf(w->err, "obi: %s:%u: ", w->file, line_of(n));
	va_start(ap, fmt);
	vfprintf(w->err, fmt, ap);
	va_end(ap);
	fputc('\n', w->err);
	return -EINVAL;
}

static void warn(struct walk *w, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void warn(struct walk *w, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	fprintf(w->err, "obi: warning: %s:%u: ", w->file, line_of(n));
	va_start(ap, fmt);
	vfprintf(w->err, fmt, ap);
	va_end(ap);
	fputc('\n', w->err);
}

/* Levenshtein distance, capped: enough to catch a typo. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64], i, j;

	if (la >= 63 || lb >= 63)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0], up;

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t best = diag + (a[i - 1] != b[j - 1]);

			up = row[j];
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

/* Keeps `cand` in best when its last part after `prefix` is closer to `key`. */
static void consider(const char *prefix, const char *cand, const char *key, char *best,
		     size_t *best_d)
{
	size_t plen = strlen(prefix), d;
	const char *rest;

	if (strncmp(cand, prefix, plen))
		return;
	rest = cand + plen;
	if (strchr(rest, '.'))
		return;
	d = distance(key, rest);
	if (d < *best_d && d <= (strlen(key) > 6 ? 2u : 1u)) {
		snprintf(best, PATH_LEN, "%s", rest);
		*best_d = d;
	}
}

/* The known key at the same level closest to `key` into best (PATH_LEN bytes), or "".
 * prefix: "" or "section.". */
static void suggest(const char *prefix, const char *key, char *best)
{
	size_t best_d = 99, i, plen = strlen(prefix);
	char part[PATH_LEN];
	const char *p;

	best[0] = '\0';
	for (i = 0; (p = settings_yaml_path_at(i)); i++) {
		/* the path cut to the level of prefix + one part */
		const char *dot;
		size_t len;

		if (strncmp(p, prefix, plen))
			continue;
		dot = strchr(p + plen, '.');
		len = dot ? (size_t)(dot - p) : strlen(p);
		if (len >= sizeof(part))
			continue;
		memcpy(part, p, len);
		part[len] = '\0';
		consider(prefix, part, key, best, &best_d);
	}
	for (i = 0; i < N(obi_only); i++)
		consider(prefix, obi_only[i], key, best, &best_d);
	if (!prefix[0])
		consider("", "discovery", key, best, &best_d);
	if (!strcmp(prefix, "discovery."))
		for (i = 0; i < N(discovery_lists); i++)
			consider("", discovery_lists[i], key, best, &best_d);
}

static void warn_unknown(struct walk *w, const yaml_node_t *key, const char *prefix,
			 const char *name)
{
	char near[PATH_LEN], hint[2 * PATH_LEN + 32] = "";

	suggest(prefix, name, near);
	if (near[0])
		snprintf(hint, sizeof(hint), " (did you mean %s%s?)", prefix, near);
	warn(w, key, "unknown key \"%s%s\" ignored%s", prefix, name, hint);
}

static void warn_unknown_entry_key(struct walk *w, const yaml_node_t *k, const char *name,
				   const char *key)
{
	char near[PATH_LEN] = "", hint[PATH_LEN + 32] = "";
	size_t best_d = 99, i;
	const char *c;

	for (i = 0; (c = settings_yaml_entry_key_at(i)); i++)
		consider("", c, key, near, &best_d);
	for (i = 0; i < N(entry_k8s); i++)
		consider("", entry_k8s[i], key, near, &best_d);
	for (i = 0; i < N(entry_other); i++)
		consider("", entry_other[i], key, near, &best_d);
	if (near[0])
		snprintf(hint, sizeof(hint), " (did you mean %s?)", near);
	warn(w, k, "unknown key \"%s\" ignored%s", name, hint);
}

/*
 * A scalar, or a list of scalars joined with commas when `list_ok`, into out. Returns 1 when
 * the value is null (unset), 0 when out holds it, or -EINVAL.
 */
static int value_text(struct walk *w, const yaml_node_t *n, bool list_ok, const char *key,
		      const char *expected, char *out, size_t size)
{
	size_t used = 0;

	if (is_null(n))
		return 1;
	if (n->type == YAML_SCALAR_NODE) {
		if (strlen(text_of(n)) >= size)
			return bad(w, n, "invalid %s: longer than %zu bytes (expected %s)", key,
				   size - 1, expected);
		strcpy(out, text_of(n));
		return 0;
	}
	if (n->type != YAML_SEQUENCE_NODE || !list_ok)
		return bad(w, n, "invalid %s: %s (expected %s)", key, kind_name(n), expected);
	out[0] = '\0';
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *item = yaml_document_get_node(w->doc, *it);
		size_t len;

		if (!item || item->type != YAML_SCALAR_NODE)
			return bad(w, item ? item : n, "invalid %s: a list item is %s (expected %s)",
				   key, item ? kind_name(item) : "missing", expected);
		len = strlen(text_of(item));
		if (used + len + 2 > size)
			return bad(w, n, "invalid %s: longer than %zu bytes (expected %s)", key,
				   size - 1, expected);
		used += snprintf(out + used, size - used, "%s%s", used ? "," : "", text_of(item));
	}
	if (!used)
		return bad(w, n, "invalid %s: an empty list (expected %s)", key, expected);
	return 0;
}

/* The scalar key of a mapping pair, refusing non-scalar keys and repeated ones. */
static int pair_key(struct walk *w, const yaml_node_t *map, const yaml_node_pair_t *pair,
		    const char *prefix, const char **key)
{
	yaml_node_t *k = yaml_document_get_node(w->doc, pair->key);

	if (!k || k->type != YAML_SCALAR_NODE)
		return bad(w, k ? k : map, "a key under %s is %s (expected a name)",
			   prefix[0] ? prefix : "the top level", k ? kind_name(k) : "missing");
	*key = text_of(k);
	for (const yaml_node_pair_t *p = map->data.mapping.pairs.start; p < pair; p++) {
		yaml_node_t *earlier = yaml_document_get_node(w->doc, p->key);

		if (earlier && earlier->type == YAML_SCALAR_NODE && !strcmp(text_of(earlier), *key))
			return bad(w, k, "duplicate key \"%s%s\" (first at line %u)", prefix, *key,
				   line_of(earlier));
	}
	return 0;
}

/* ---- discovery ---------------------------------------------------------------------------- */

/* One entry of a discovery list: 1 when it is left out (k8s selectors), 0 when kept. */
static int walk_entry(struct walk *w, const yaml_node_t *node, const char *list, size_t idx,
		      struct selector *s)
{
	char where[64], value[VALUE_MAX], why[PATH_MAX + 128], prefix[64];
	const char *k8s = NULL;

	snprintf(where, sizeof(where), "discovery.%s[%zu]", list, idx);
	snprintf(prefix, sizeof(prefix), "%s.", where);
	if (node->type != YAML_MAPPING_NODE)
		return bad(w, node, "%s is %s (expected a mapping of selectors such as "
				    "open_ports: 8080)", where, kind_name(node));
	memset(s, 0, sizeof(*s));
	s->line = line_of(node);
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(w->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(w->doc, pair->value);
		const char *key, *expected;
		char name[160];
		int ret = pair_key(w, node, pair, prefix, &key);

		if (ret)
			return ret;
		expected = config_selector_expected(key);
		snprintf(name, sizeof(name), "%s%s", prefix, key);
		if (!expected) {
			if (in_list(entry_k8s, N(entry_k8s), key))
				k8s = k8s ? k8s : key;
			else if (in_list(entry_other, N(entry_other), key))
				warn(w, k, "\"%s\" is an OBI setting obi does not support; ignored",
				     name);
			else
				warn_unknown_entry_key(w, k, name, key);
			continue;
		}
		ret = value_text(w, v, strcmp(key, "exe_path") && strcmp(key, "name") &&
				       strcmp(key, "containers_only"),
				 name, expected, value, sizeof(value));
		if (ret == 1)
			continue;
		if (ret)
			return ret;
		if (config_selector_set(s, key, value, why, sizeof(why)))
			return bad(w, v, "invalid %s \"%s\": %s (expected %s)", name, value, why,
				   expected);
	}
	if (k8s) {
		warn(w, node, "%s left out: obi does not support the Kubernetes selector %s", where,
		     k8s);
		return 1;
	}
	if (!config_selector_has_criteria(s))
		return bad(w, node, "%s selects nothing (expected at least one of open_ports, "
				    "exe_path, target_pids, target_pid_namespaces, containers_only)",
			   where);
	return 0;
}

static int walk_list(struct walk *w, const yaml_node_t *node, const char *name,
		     struct selector_list *l)
{
	size_t idx = 0;

	memset(l, 0, sizeof(*l));
	l->set = true;
	if (is_null(node))
		return 0;
	if (node->type != YAML_SEQUENCE_NODE)
		return bad(w, node, "discovery.%s is %s (expected a list of entries, each starting "
				    "with '- ')", name, kind_name(node));
	for (yaml_node_item_t *it = node->data.sequence.items.start;
	     it < node->data.sequence.items.top; it++, idx++) {
		yaml_node_t *entry = yaml_document_get_node(w->doc, *it);
		int ret;

		if (!entry)
			continue;
		if (l->n == CONFIG_MAX_ENTRIES)
			return bad(w, entry, "discovery.%s has more than %d entries", name,
				   CONFIG_MAX_ENTRIES);
		ret = walk_entry(w, entry, name, idx, &l->entry[l->n]);
		if (ret < 0)
			return ret;
		if (!ret)
			l->n++;
	}
	return 0;
}

static int walk_discovery(struct walk *w, const yaml_node_t *node)
{
	struct obi_config *cfg = w->cfg;

	if (is_null(node))
		return 0;
	if (node->type != YAML_MAPPING_NODE)
		return bad(w, node, "discovery is %s (expected a mapping with instrument and "
				    "exclude_instrument)", kind_name(node));
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(w->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(w->doc, pair->value);
		char path[PATH_LEN];
		const char *key;
		int ret = pair_key(w, node, pair, "discovery.", &key);

		if (ret)
			return ret;
		if (!strcmp(key, "instrument"))
			ret = walk_list(w, v, key, &cfg->instrument);
		else if (!strcmp(key, "exclude_instrument"))
			ret = walk_list(w, v, key, &cfg->exclude);
		else if (!strcmp(key, "default_exclude_instrument"))
			ret = walk_list(w, v, key, &cfg->default_exclude);
		else if (snprintf(path, sizeof(path), "discovery.%s", key) && obi_has(path))
			warn(w, k, "\"%s\" is an OBI setting obi does not support; ignored", path);
		else
			warn_unknown(w, k, "discovery.", key);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- settings ----------------------------------------------------------------------------- */

static int walk_mapping(struct walk *w, const yaml_node_t *map, const char *prefix);

static int walk_pair(struct walk *w, const yaml_node_t *k, const yaml_node_t *v,
		     const char *prefix, const char *key)
{
	static char value[VALUE_MAX];
	char path[PATH_LEN];
	enum setting_yaml_kind kind;
	int ret;

	if ((size_t)snprintf(path, sizeof(path), "%s%s", prefix, key) >= sizeof(path))
		return bad(w, k, "key \"%.40s...\" is too long", path);
	if (!prefix[0] && !strcmp(key, "discovery"))
		return walk_discovery(w, v);
	kind = settings_yaml_kind(path);
	switch (kind) {
	case SETTING_YAML_SETTING:
	case SETTING_YAML_LIST_SETTING:
		ret = value_text(w, v, kind == SETTING_YAML_LIST_SETTING, path,
				 settings_yaml_expected(path), value, sizeof(value));
		if (ret)
			return ret < 0 ? ret : 0;
		return settings_yaml_set(w->cfg, path, value, w->file, line_of(v), w->err);
	case SETTING_YAML_SECTION:
		if (is_null(v))
			return 0;
		if (v->type != YAML_MAPPING_NODE)
			return bad(w, v, "%s is %s (expected a mapping of keys)", path,
				   kind_name(v));
		snprintf(path + strlen(path), sizeof(path) - strlen(path), ".");
		return walk_mapping(w, v, path);
	default:
		if (obi_has(path))
			warn(w, k, "\"%s\" is an OBI setting obi does not support; ignored", path);
		else
			warn_unknown(w, k, prefix, key);
		return 0;
	}
}

/* prefix: "" at the top, else "section." */
static int walk_mapping(struct walk *w, const yaml_node_t *map, const char *prefix)
{
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(w->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(w->doc, pair->value);
		const char *key;
		int ret = pair_key(w, map, pair, prefix, &key);

		if (!ret && !v)
			ret = bad(w, k, "%s%s has no value", prefix, key);
		if (!ret)
			ret = walk_pair(w, k, v, prefix, key);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- loading ------------------------------------------------------------------------------ */

static int syntax_error(const char *file, const yaml_parser_t *p, FILE *err)
{
	const yaml_mark_t *m = p->problem ? &p->problem_mark : &p->context_mark;

	if (p->error == YAML_READER_ERROR)
		fprintf(err, "obi: %s: not valid YAML: %s at byte %zu (expected UTF-8 text)\n",
			file, p->problem ? p->problem : "unreadable", p->problem_offset);
	else
		fprintf(err, "obi: %s:%zu:%zu: not valid YAML: %s%s%s\n", file, m->line + 1,
			m->column + 1, p->problem ? p->problem : "syntax error",
			p->context ? " " : "", p->context ? p->context : "");
	return -EINVAL;
}

int yaml_config_load_buffer(struct obi_config *cfg, const char *name, const unsigned char *buf,
			    size_t len, FILE *err)
{
	struct walk w = { .cfg = cfg, .file = name, .err = err };
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	yaml_node_t *root;
	int ret = 0;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		ret = syntax_error(name, &parser, err);
		yaml_parser_delete(&parser);
		return ret;
	}
	w.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root && !is_null(root) && root->type != YAML_MAPPING_NODE)
		ret = bad(&w, root, "the file is %s (expected a mapping of settings such as "
				    "log_level: info)", kind_name(root));
	else if (root && root->type == YAML_MAPPING_NODE)
		ret = walk_mapping(&w, root, "");
	/* a second document would be silently ignored: say so */
	if (!ret && root) {
		if (!yaml_parser_load(&parser, &extra)) {
			ret = syntax_error(name, &parser, err);
		} else {
			yaml_node_t *r2 = yaml_document_get_root_node(&extra);

			if (r2)
				warn(&w, r2, "only the first YAML document of the file is read");
			yaml_document_delete(&extra);
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return ret;
}

int yaml_config_load(struct obi_config *cfg, const char *path, FILE *err)
{
	unsigned char *buf;
	size_t len;
	FILE *f = fopen(path, "rb");
	int ret;

	if (!f) {
		fprintf(err, "obi: invalid OTEL_EBPF_CONFIG_PATH (--config) \"%s\": %s (expected "
			     "the path of a readable YAML file)\n", path, strerror(errno));
		return -EINVAL;
	}
	buf = malloc(FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	len = fread(buf, 1, FILE_MAX + 1, f);
	ret = ferror(f) ? -errno : 0;
	fclose(f);
	if (ret)
		fprintf(err, "obi: invalid OTEL_EBPF_CONFIG_PATH (--config) \"%s\": %s (expected "
			     "the path of a readable YAML file)\n", path, strerror(-ret));
	else if (len > FILE_MAX)
		fprintf(err, "obi: %s: larger than %d bytes (expected a YAML configuration "
			     "file)\n", path, FILE_MAX), ret = -EINVAL;
	else
		ret = yaml_config_load_buffer(cfg, path, buf, len, err);
	free(buf);
	return ret ? -EINVAL : 0;
}
