// SPDX-License-Identifier: Apache-2.0
/*
 * Loading obi's settings: the table's defaults, then the YAML file (yaml_config.c), then the
 * environment, then the flags, and last the OTLP settings resolved per signal. What a setting
 * is, and how its value reads, is the table's (settings.c); this file only knows the order.
 */
#define _GNU_SOURCE /* memrchr */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "ebpf/obi.h"
#include "settings.h"
#include "yaml_config.h"

#define ENV_PREFIX "OTEL_EBPF_"
#define CONFIG_PATH_ENV "OTEL_EBPF_CONFIG_PATH"

static int load_defaults(struct obi_config *cfg, FILE *err)
{
	const struct setting *st;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	settings_clear_origins();
	for (st = settings; st < settings + settings_count; st++) {
		if (!st->def)
			continue;
		ret = settings_apply(cfg, st, "", st->flag, st->def, err, SETTING_ORIGIN_DEFAULT, 0);
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
		for (st = settings; st < settings + settings_count; st++)
			if (st->env && !strncmp(*envp, st->env, eq - *envp) &&
			    !st->env[eq - *envp])
				break;
		if (st == settings + settings_count)
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
	for (st = settings; st < settings + settings_count; st++) {
		val = st->env ? env_value(envp, st->env) : NULL;
		if (!val)
			continue;
		ret = settings_apply(cfg, st, "", st->env, val, err, SETTING_ORIGIN_ENV, 0);
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
		for (st = settings; st < settings + settings_count; st++)
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
	for (st = settings; st < settings + settings_count; st++)
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
		settings_put_quoted(err, arg);
		fprintf(err, " (see --help)\n");
		return -EINVAL;
	}
	snprintf(name, sizeof(name), "--%s", st->flag);
	if (st->type == SETTING_SWITCH) {
		if (val) {
			fprintf(err, "obi: flag %s takes no value\n", name);
			return -EINVAL;
		}
		return settings_apply(cfg, st, "", name, "", err, SETTING_ORIGIN_FLAG, 0);
	}
	if (!val && *i + 1 < argc && strncmp(argv[*i + 1], "--", 2))
		val = argv[++*i];
	if (!val) {
		fprintf(err, "obi: flag %s needs a value (expected %s)\n", name, st->expected);
		return -EINVAL;
	}
	return settings_apply(cfg, st, "", name, val, err, SETTING_ORIGIN_FLAG, 0);
}

/* The YAML file to load: --config (the last one) over OTEL_EBPF_CONFIG_PATH. A malformed
 * --config is left for the flag pass to report. */
static const char *config_path_arg(int argc, char **argv, char **envp)
{
	const struct setting *config = settings_find_env(CONFIG_PATH_ENV);
	const char *path = env_value(envp, CONFIG_PATH_ENV), *val;

	for (int i = 1; i < argc; i++) {
		const struct setting *st = find_flag(argv[i], &val);

		if (!st || st != config)
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
/* The url's port is 4317, OTLP/gRPC's (OBI picks grpc then when no protocol is set). */
static bool url_port_4317(const char *url)
{
	const char *host = strstr(url, "://"), *end, *colon;

	host = host ? host + 3 : url;	/* host:port written without a scheme */
	end = host + strcspn(host, "/?#");
	colon = memrchr(host, ':', (size_t)(end - host));
	return colon && !memchr(colon, ']', (size_t)(end - colon)) && end - colon == 5 &&
	       !strncmp(colon, ":4317", 5);
}

static bool url_has_scheme(const char *url)
{
	return !strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8);
}

/* OTLP/gRPC: the endpoint names the server only (the service path is gRPC's), taken as given;
 * one written without a scheme is https:// unless OTEL_EXPORTER_OTLP_[signal_]INSECURE is true,
 * as the OpenTelemetry SDKs read it. */
static void resolve_grpc_url(const struct obi_config *cfg, struct otlp_signal *sig)
{
	char bare[sizeof(sig->url)];

	if (!sig->url[0])
		snprintf(sig->url, sizeof(sig->url), "%s", cfg->otlp_endpoint);
	if (!sig->url[0] || url_has_scheme(sig->url))
		return;
	if (sig->insecure == OTLP_INSECURE_UNSET)
		sig->insecure = cfg->otlp_tls.insecure;
	snprintf(bare, sizeof(bare), "%s", sig->url);
	snprintf(sig->url, sizeof(sig->url), "%s://%.*s",
		 sig->insecure == OTLP_INSECURE_YES ? "http" : "https", CONFIG_URL_MAX, bare);
}

static void resolve_protocol(const struct obi_config *cfg, struct otlp_signal *sig)
{
	if (sig->protocol == OTLP_PROTOCOL_UNSET)
		sig->protocol = cfg->otlp_protocol;
	if (sig->protocol == OTLP_PROTOCOL_UNSET)
		sig->protocol = url_port_4317(sig->url[0] ? sig->url : cfg->otlp_endpoint)
				    ? OTLP_PROTOCOL_GRPC
				    : OTLP_PROTOCOL_HTTP_PROTOBUF;
}

/* A value found wrong only once every setting is known, reported as settings_apply reports one:
 * where it came from, its name there, what was wrong and what is expected. */
static void report_setting(FILE *err, const struct obi_config *cfg, const struct setting *st,
			   const char *val, const char *reason)
{
	unsigned line = 0;

	switch (settings_origin(st, &line)) {
	case SETTING_ORIGIN_YAML:
		fprintf(err, "obi: %s:%u: invalid %s ", cfg->config_path, line, st->yaml);
		break;
	case SETTING_ORIGIN_FLAG:
		fprintf(err, "obi: invalid --%s ", st->flag);
		break;
	default:
		fprintf(err, "obi: invalid %s ", st->env);
		break;
	}
	settings_put_quoted(err, val);
	fprintf(err, ": %s (expected %s)\n", reason, st->expected);
}

static int resolve_signal(const struct obi_config *cfg, struct otlp_signal *sig,
			  const char *path, const char *url_env, FILE *err)
{
	size_t len = strlen(cfg->otlp_endpoint);
	const char *given = sig->url[0] ? sig->url : cfg->otlp_endpoint;

	resolve_protocol(cfg, sig);
	if (sig->protocol != OTLP_PROTOCOL_GRPC && given[0] && !url_has_scheme(given)) {
		report_setting(err, cfg,
			       settings_find_env(sig->url[0] ? url_env : "OTEL_EXPORTER_OTLP_ENDPOINT"),
			       given, "not an http:// or https:// url (only an OTLP/gRPC endpoint may "
				      "be written without a scheme)");
		return -EINVAL;
	}
	if (sig->protocol == OTLP_PROTOCOL_GRPC) {
		resolve_grpc_url(cfg, sig);
	} else if (!sig->url[0] && len) {
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
	if (!sig->certificate[0])
		strcpy(sig->certificate, cfg->otlp_tls.certificate);
	if (!sig->client_certificate[0])
		strcpy(sig->client_certificate, cfg->otlp_tls.client_certificate);
	if (!sig->client_key[0])
		strcpy(sig->client_key, cfg->otlp_tls.client_key);
	return 0;
}

static int resolve_otlp(struct obi_config *cfg, FILE *err)
{
	const struct setting *batch = settings_find_env("OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
	unsigned line;

	if (resolve_signal(cfg, &cfg->traces, "/v1/traces", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
			   err) ||
	    resolve_signal(cfg, &cfg->metrics, "/v1/metrics", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
			   err))
		return -EINVAL;
	/* a small queue (OBI's max_queue_size: 100) shrinks the default batch with it */
	if (cfg->bsp_max_export_batch_size > cfg->bsp_max_queue_size &&
	    settings_origin(batch, &line) == SETTING_ORIGIN_DEFAULT)
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
	struct setting_why why = { "", "" };
	int i, ret;

	ret = load_defaults(cfg, err);
	if (!ret && path) {
		ret = settings_find_env(CONFIG_PATH_ENV)->parse(cfg, path, &why);
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

struct sampling config_sampling(const struct obi_config *cfg)
{
	struct sampling s = SAMPLING_DEFAULT;

	switch (cfg->sampler) {
	case SAMPLER_PARENTBASED_ALWAYS_ON:
		break;
	case SAMPLER_ALWAYS_ON:
		s.ignore_parent = true;
		break;
	case SAMPLER_PARENTBASED_ALWAYS_OFF:
		s.root = OBI_SAMPLE_ROOT_NEVER;
		break;
	case SAMPLER_ALWAYS_OFF:
		s.root = OBI_SAMPLE_ROOT_NEVER;
		s.ignore_parent = true;
		break;
	case SAMPLER_PARENTBASED_TRACEIDRATIO:
		s.root = OBI_SAMPLE_ROOT_RATIO;
		break;
	case SAMPLER_TRACEIDRATIO:
		s.root = OBI_SAMPLE_ROOT_RATIO;
		s.ignore_parent = true;
		break;
	}
	s.bound = sampling_bound(cfg->sampler_ratio);
	return s;
}
