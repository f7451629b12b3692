// SPDX-License-Identifier: Apache-2.0
/* The YAML file: OBI's keys, precedence under the environment and flags, every class of error
 * (file, line, key, accepted form), warnings for unknown and unsupported keys, --print-config
 * (loads back to the same settings) and --help-markdown. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "config_load.h"
#include "yaml_config.h"

static char dir[] = "/tmp/obi-test-yaml-XXXXXX";
static char path[128];

/* Writes the file and loads it with --config and the given environment. */
static int load_yaml(const char *yaml, char **envp)
{
	FILE *f = fopen(path, "w");

	fputs(yaml, f);
	fclose(f);
	return load(ARGS("--config", path), envp);
}

static const char user_file[] = "log_level: INFO\n"
				"trace_printer: text\n"
				"discovery:\n"
				"  instrument:\n"
				"    - open_ports: 8080\n"
				"otel_metrics_export:\n"
				"  endpoint: http://otel-collector:4318\n"
				"otel_traces_export:\n"
				"  endpoint: http://otel-collector:4318\n";

/* The file from the proxy debugger's OBI setup, unchanged. */
static void test_user_file(void)
{
	CHECK_INT(load_yaml(user_file, NO_ENV), 0);
	CHECK_STR(errors, "");
	CHECK_INT(cfg.log_level, LOG_INFO);
	CHECK_INT(cfg.trace_printer, PRINTER_TEXT);	/* asked for, although spans are exported */
	CHECK(cfg.trace_printer_set);
	CHECK_INT(cfg.instrument.n, 1);
	CHECK_INT(cfg.instrument.entry[0].ports.count, 1);
	CHECK(port_set_has(&cfg.instrument.entry[0].ports, 8080));
	CHECK_INT(cfg.instrument.entry[0].line, 5);
	CHECK_INT(cfg.open_ports.count, 0);
	CHECK_STR(cfg.traces.url, "http://otel-collector:4318/v1/traces");
	CHECK_STR(cfg.metrics.url, "http://otel-collector:4318/v1/metrics");
	CHECK(config_otlp_enabled(&cfg));
	CHECK(config_has_selector(&cfg));
	CHECK_STR(cfg.config_path, path);
	/* OBI's default exclusions are in place */
	CHECK_INT(cfg.default_exclude.n, 1);
	CHECK(strstr(cfg.default_exclude.entry[0].exe, "*otelcol"));
}

static void test_all_keys(void)
{
	static const char yaml[] =
		"# every key obi takes from OBI's file\n"
		"log_level: debug\n"
		"trace_printer: json\n"
		"open_port: [8000, 8001-8002]\n"
		"ebpf:\n"
		"  context_propagation: disabled\n"
		"  data_hooks: syscalls\n"
		"otel_traces_export:\n"
		"  endpoint: https://t.example:4318/custom/traces\n"
		"  protocol: http/protobuf\n"
		"  max_queue_size: 100\n"
		"  batch_timeout: 2s\n"
		"  sampler:\n"
		"    name: parentbased_traceidratio\n"
		"    arg: \"0.25\"\n"
		"otel_metrics_export:\n"
		"  endpoint: http://m.example:4318/\n"
		"  interval: 15s\n"
		"  ttl: 30s\n"
		"  protocol: http/protobuf\n"
		"discovery:\n"
		"  instrument:\n"
		"    - open_ports: 80,443\n"
		"      exe_path: \"*nginx\"\n"
		"      name: edge\n"
		"    - target_pids: [1, 2]\n"
		"    - target_pid_namespaces: /proc/self/ns/pid\n"
		"      containers_only: true\n"
		"  exclude_instrument:\n"
		"    - exe_path: \"{*prometheus,*grafana}\"\n"
		"  default_exclude_instrument: []\n";
	struct stat st;

	CHECK_INT(load_yaml(yaml, NO_ENV), 0);
	CHECK_STR(errors, "");
	CHECK_INT(cfg.log_level, LOG_DEBUG);
	CHECK_INT(cfg.trace_printer, PRINTER_JSON);
	CHECK_INT(cfg.open_ports.count, 3);
	CHECK(port_set_has(&cfg.open_ports, 8002));
	CHECK(!cfg.context_propagation);
	CHECK_INT(cfg.data_hooks, DATA_HOOKS_SYSCALLS);
	CHECK_STR(cfg.traces.url, "https://t.example:4318/custom/traces");
	CHECK_INT(cfg.bsp_max_queue_size, 100);
	CHECK_INT(cfg.bsp_schedule_delay_ms, 2000);
	CHECK_INT(cfg.sampler, SAMPLER_PARENTBASED_TRACEIDRATIO);
	CHECK(cfg.sampler_ratio == 0.25);
	CHECK_STR(cfg.metrics.url, "http://m.example:4318/v1/metrics");
	CHECK_INT(cfg.metric_interval_ms, 15000);
	CHECK_INT(cfg.metrics_ttl_ms, 30000);
	CHECK_INT(cfg.instrument.n, 3);
	CHECK_INT(cfg.instrument.entry[0].ports.count, 2);
	CHECK_STR(cfg.instrument.entry[0].exe, "*nginx");
	CHECK_STR(cfg.instrument.entry[0].name, "edge");
	CHECK_INT(cfg.instrument.entry[1].n_pids, 2);
	CHECK_INT(cfg.instrument.entry[1].pids[1], 2);
	CHECK_INT(stat("/proc/self/ns/pid", &st), 0);
	CHECK_INT(cfg.instrument.entry[2].n_pidns, 1);
	CHECK_INT(cfg.instrument.entry[2].pidns[0], st.st_ino);
	CHECK(cfg.instrument.entry[2].containers_only);
	CHECK_INT(cfg.exclude.n, 1);
	CHECK_STR(cfg.exclude.entry[0].exe, "{*prometheus,*grafana}");
	CHECK(cfg.default_exclude.set);
	CHECK_INT(cfg.default_exclude.n, 0);	/* [] allows the observability tools */
}

static void test_precedence(void)
{
	static const char yaml[] = "log_level: debug\n"
				   "open_port: 80\n"
				   "trace_printer: json\n"
				   "otel_traces_export:\n"
				   "  endpoint: http://yaml:4318\n";
	char *env_path;

	/* defaults < YAML */
	CHECK_INT(load_yaml(yaml, NO_ENV), 0);
	CHECK_INT(cfg.log_level, LOG_DEBUG);
	CHECK(port_set_has(&cfg.open_ports, 80));
	CHECK_INT(cfg.bsp_max_queue_size, 2048);		/* not in the file: default */
	/* YAML < environment */
	CHECK_INT(load_yaml(yaml, ENV("OTEL_EBPF_LOG_LEVEL=warn", "OTEL_EBPF_OPEN_PORT=81",
				      "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://env:1/t")),
		  0);
	CHECK_INT(cfg.log_level, LOG_WARN);
	CHECK_INT(cfg.open_ports.count, 1);
	CHECK(port_set_has(&cfg.open_ports, 81));
	CHECK_STR(cfg.traces.url, "http://env:1/t");
	CHECK_INT(cfg.trace_printer, PRINTER_JSON);		/* from the file still */
	/* environment < flags */
	CHECK_INT(load(ARGS("--config", path, "--log-level", "error", "--open-port=82"),
		       ENV("OTEL_EBPF_LOG_LEVEL=warn", "OTEL_EBPF_OPEN_PORT=81")),
		  0);
	CHECK_INT(cfg.log_level, LOG_ERROR);
	CHECK(port_set_has(&cfg.open_ports, 82) && cfg.open_ports.count == 1);

	/* OTEL_EBPF_CONFIG_PATH, and --config (OBI's -config too) over it */
	env_path = malloc(strlen(path) + 32);
	sprintf(env_path, "OTEL_EBPF_CONFIG_PATH=%s", path);
	CHECK_INT(load(NO_ARGS, ENV(env_path)), 0);
	CHECK_INT(cfg.log_level, LOG_DEBUG);
	CHECK_INT(load(ARGS("-config", "/nonexistent/obi.yaml"), ENV(env_path)), -EINVAL);
	CHECK(strstr(errors, "\"/nonexistent/obi.yaml\": No such file or directory"));
	CHECK_INT(load(ARGS("-config=/nonexistent/x.yaml"), ENV(env_path)), -EINVAL);
	CHECK(strstr(errors, "\"/nonexistent/x.yaml\""));
	free(env_path);

	/* OBI's insecure_skip_verify, per signal */
	CHECK_INT(load_yaml("otel_traces_export:\n  endpoint: https://t:4318\n"
			    "  insecure_skip_verify: true\n"
			    "otel_metrics_export:\n  endpoint: https://m:4318\n",
			    NO_ENV),
		  0);
	CHECK_STR(errors, "");
	CHECK(cfg.traces.skip_verify);
	CHECK(!cfg.metrics.skip_verify);
	CHECK_INT(load_yaml("otel_metrics_export:\n  insecure_skip_verify: yes please\n", NO_ENV),
		  -EINVAL);
	CHECK(strstr(errors, "insecure_skip_verify") != NULL);

	/* a value left empty in the file is not set */
	CHECK_INT(load_yaml("log_level:\ntrace_printer: ~\notel_traces_export:\n", NO_ENV), 0);
	CHECK_STR(errors, "");
	CHECK_INT(cfg.log_level, LOG_INFO);
	CHECK(!cfg.trace_printer_set);
	/* an empty file, or one with comments only, sets nothing */
	CHECK_INT(load_yaml("", NO_ENV), 0);
	CHECK_INT(load_yaml("# nothing\n", NO_ENV), 0);
	CHECK_STR(errors, "");
	CHECK(!config_has_selector(&cfg));
}

/* Each error: exit path -EINVAL and one line, exactly. */
static void check_error(const char *yaml, const char *want_after_path)
{
	char want[1024];

	snprintf(want, sizeof(want), "obi: %s%s\n", path, want_after_path);
	CHECK_INT(load_yaml(yaml, NO_ENV), -EINVAL);
	if (strcmp(errors, want))
		fprintf(stderr, "for:\n%s", yaml);
	CHECK_STR(errors, want);
}

static void test_errors(void)
{
	char many[4096] = "discovery:\n  instrument:\n";

	check_error("log_level: verbose\n",
		    ":1: invalid log_level \"verbose\": unknown level (expected debug, info, warn "
		    "or error)");
	check_error("otel_traces_export:\n  sampler:\n    arg: 2\n",
		    ":3: invalid otel_traces_export.sampler.arg \"2\": not a ratio between 0 and 1 "
		    "(expected a number from 0 to 1, e.g. 0.25)");
	check_error("otel_metrics_export:\n  endpoint: otel-collector:4318\n",
		    ":2: invalid otel_metrics_export.endpoint \"otel-collector:4318\": not an "
		    "http:// or https:// url (only an OTLP/gRPC endpoint may be written without "
		    "a scheme) (expected an http:// or https:// url, e.g. "
		    "http://localhost:4318/v1/metrics)");
	check_error("otel_metrics_export:\n  interval: 15\n",
		    ":2: invalid otel_metrics_export.interval \"15\": missing unit (expected a "
		    "duration such as 15s or 500ms, 1 ms to 24 h)");
	check_error("log_level: [debug]\n",
		    ":1: invalid log_level: a list (expected debug, info, warn or error)");
	check_error("open_port: {a: 1}\n",
		    ":1: invalid open_port: a mapping (expected a comma list of ports and "
		    "ranges, e.g. 80,443,8000-8999)");
	check_error("open_port: [80, [81]]\n",
		    ":1: invalid open_port: a list item is a list (expected a comma list of ports "
		    "and ranges, e.g. 80,443,8000-8999)");
	check_error("otel_traces_export: http://c:4318\n",
		    ":1: otel_traces_export is a value (expected a mapping of keys)");
	check_error("- log_level: info\n",
		    ":1: the file is a list (expected a mapping of settings such as log_level: "
		    "info)");
	check_error("log_level: info\nlog_level: debug\n",
		    ":2: duplicate key \"log_level\" (first at line 1)");
	check_error("ebpf:\n  context_propagation: tcp\n",
		    ":2: invalid ebpf.context_propagation \"tcp\": not supported: obi propagates "
		    "context in HTTP headers only (expected headers or disabled (OBI's all and "
		    "http mean headers here))");
	check_error("ebpf:\n  data_hooks: kprobes\n",
		    ":2: invalid ebpf.data_hooks \"kprobes\": unknown hooks (expected auto, sockets "
		    "or syscalls)");
	check_error("? [a]\n: b\n", ":1: a key under the top level is a list (expected a name)");
	check_error("log_level: info\n  bad: indent\n",
		    ":2:6: not valid YAML: mapping values are not allowed in this context");
	check_error("a: [\n", ":2:1: not valid YAML: did not find expected node content while "
			      "parsing a flow node");
	check_error("discovery: [a]\n", ":1: discovery is a list (expected a mapping with "
					"instrument and exclude_instrument)");
	check_error("discovery:\n  instrument:\n    open_ports: 80\n",
		    ":3: discovery.instrument is a mapping (expected a list of entries, each "
		    "starting with '- ')");
	check_error("discovery:\n  instrument:\n    - 8080\n",
		    ":3: discovery.instrument[0] is a value (expected a mapping of selectors such "
		    "as open_ports: 8080)");
	check_error("discovery:\n  exclude_instrument:\n    - name: x\n",
		    ":3: discovery.exclude_instrument[0] selects nothing (expected at least one of "
		    "open_ports, exe_path, target_pids, target_pid_namespaces, containers_only)");
	check_error("discovery:\n  instrument:\n    - open_ports: 8080\n    - open_ports: 80-70\n",
		    ":4: invalid discovery.instrument[1].open_ports \"80-70\": range start exceeds "
		    "end (expected a comma list of ports and ranges, e.g. 80,443,8000-8999)");
	check_error("discovery:\n  instrument:\n    - exe_path: [a, b]\n",
		    ":3: invalid discovery.instrument[0].exe_path: a list (expected a glob on the "
		    "executable path, e.g. \"*/python3*\" or \"{*nginx,*envoy}\")");
	check_error("discovery:\n  instrument:\n    - containers_only: maybe\n",
		    ":3: invalid discovery.instrument[0].containers_only \"maybe\": not a boolean "
		    "(expected true or false)");
	for (int i = 0; i <= CONFIG_MAX_ENTRIES; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
			 "    - open_ports: %d\n", 1000 + i);
	check_error(many, ":19: discovery.instrument has more than 16 entries");

	/* the file itself */
	CHECK_INT(load(ARGS("--config", "/nonexistent/obi.yaml"), NO_ENV), -EINVAL);
	CHECK_STR(errors, "obi: invalid OTEL_EBPF_CONFIG_PATH (--config) \"/nonexistent/obi.yaml\": "
			  "No such file or directory (expected the path of a readable YAML file)\n");
	CHECK_INT(load(ARGS("--config", dir), NO_ENV), -EINVAL);
	CHECK(strstr(errors, "Is a directory"));
	CHECK_INT(load(ARGS("--config="), NO_ENV), -EINVAL);
	CHECK_STR(errors, "obi: invalid --config \"\": empty path (expected the path of a readable "
			  "YAML file)\n");
	/* not UTF-8 */
	CHECK_INT(load_yaml("log_level: \xff\xfe\n", NO_ENV), -EINVAL);
	CHECK(strstr(errors, "not valid YAML"));
	/* a bad environment still counts after a good file */
	CHECK_INT(load_yaml("log_level: info\n", ENV("OTEL_EBPF_LOG_LEVEL=loud")), -EINVAL);
	CHECK(!strncmp(errors, "obi: invalid OTEL_EBPF_LOG_LEVEL \"loud\"", 38));
}

static void check_warning(const char *yaml, const char *want_after_path)
{
	char want[1024];

	snprintf(want, sizeof(want), "obi: warning: %s%s\n", path, want_after_path);
	CHECK_INT(load_yaml(yaml, NO_ENV), 0);
	CHECK_STR(errors, want);
}

static void test_warnings(void)
{
	check_warning("otel_traces_export:\n  endpont: http://c:4318\n",
		      ":2: unknown key \"otel_traces_export.endpont\" ignored (did you mean "
		      "otel_traces_export.endpoint?)");
	check_warning("trace_printr: text\n",
		      ":1: unknown key \"trace_printr\" ignored (did you mean trace_printer?)");
	check_warning("discovery:\n  instrumnet:\n    - open_ports: 80\n",
		      ":2: unknown key \"discovery.instrumnet\" ignored (did you mean "
		      "discovery.instrument?)");
	check_warning("discovery:\n  instrument:\n    - open_ports: 80\n      exe_pth: x\n",
		      ":4: unknown key \"discovery.instrument[0].exe_pth\" ignored (did you mean "
		      "exe_path?)");
	check_warning("frobnicate: 1\n", ":1: unknown key \"frobnicate\" ignored");
	check_warning("prometheus_export:\n  port: 9090\n  ttl: 5m\n",
		      ":3: \"prometheus_export.ttl\" is an OBI setting obi does not support; ignored");
	CHECK_INT(cfg.prometheus_port, 9090);
	CHECK_STR(cfg.prometheus_path, "/metrics");
	check_warning("otel_metrics_export:\n  features: [application]\n",
		      ":2: \"otel_metrics_export.features\" is an OBI setting obi does not "
		      "support; ignored");
	check_warning("discovery:\n  skip_go_specific_tracers: true\n",
		      ":2: \"discovery.skip_go_specific_tracers\" is an OBI setting obi does not "
		      "support; ignored");
	check_warning("discovery:\n  instrument:\n    - open_ports: 80\n      exports: [traces]\n",
		      ":4: \"discovery.instrument[0].exports\" is an OBI setting obi does not "
		      "support; ignored");
	check_warning("ebpf:\n  context_propagation: all\n",
		      ":2: ebpf.context_propagation \"all\": obi propagates context in HTTP headers "
		      "only (no TCP options): using headers");
	CHECK(cfg.context_propagation);

	/* an entry with a Kubernetes selector is left out whole (it cannot be judged) */
	check_warning("discovery:\n  instrument:\n    - k8s_namespace: shop\n      open_ports: 80\n"
		      "    - open_ports: 81\n",
		      ":3: discovery.instrument[0] left out: obi does not support the Kubernetes "
		      "selector k8s_namespace");
	CHECK_INT(cfg.instrument.n, 1);
	CHECK(port_set_has(&cfg.instrument.entry[0].ports, 81));
	/* with none left, nothing is instrumented (and no demo starts): said once more */
	CHECK_INT(load_yaml("discovery:\n  instrument:\n    - k8s_namespace: shop\n", NO_ENV), 0);
	CHECK(strstr(errors, "discovery.instrument has no entry obi can use: no process will be "
			     "instrumented\n"));
	CHECK(config_has_selector(&cfg));
	CHECK_INT(load_yaml("discovery:\n  instrument: []\n", ENV("OTEL_EBPF_OPEN_PORT=80")), 0);
	CHECK_STR(errors, "");

	check_warning("log_level: info\n---\nlog_level: debug\n",
		      ":3: only the first YAML document of the file is read");
	CHECK_INT(cfg.log_level, LOG_INFO);
}

/* Anchors and aliases, flow style, quoted scalars: YAML as any tool writes it. */
static void test_yaml_forms(void)
{
	CHECK_INT(load_yaml("common: &ports 8000-8001\n"
			    "discovery: {instrument: [{open_ports: *ports}, {exe_path: '*envoy'}]}\n",
			    NO_ENV),
		  0);
	CHECK(strstr(errors, "unknown key \"common\" ignored"));	/* the anchor's holder */
	CHECK_INT(cfg.instrument.n, 2);
	CHECK_INT(cfg.instrument.entry[0].ports.count, 2);
	CHECK_STR(cfg.instrument.entry[1].exe, "*envoy");
}

static void test_print_config(void)
{
	static const char yaml[] =
		"log_level: warn\n"
		"otel_traces_export:\n"
		"  endpoint: http://c:4318\n"
		"  sampler: {name: traceidratio, arg: 0.5}\n"
		"discovery:\n"
		"  instrument:\n"
		"    - open_ports: 8000-8002,9000\n"
		"      exe_path: \"*envoy*\"\n"
		"      name: 'edge \"proxy\"'\n"
		"  exclude_instrument:\n"
		"    - target_pids: 1\n";
	char *text = NULL, *again = NULL;
	size_t size = 0;
	FILE *out;

	CHECK_INT(load_yaml(yaml, ENV("OTEL_EBPF_TARGET_PID=42",
				      "OTEL_EXPORTER_OTLP_HEADERS=authorization=secret")),
		  0);
	out = open_memstream(&text, &size);
	config_print_yaml(&cfg, out);
	fclose(out);
	CHECK(strstr(text, "log_level: warn  # line 1 of the file\n"));
	CHECK(strstr(text, "otel_traces_export:\n"));
	CHECK(strstr(text, "  endpoint: \"http://c:4318/v1/traces\"  # line 3 of the file\n"));
	CHECK(strstr(text, "  sampler:\n    arg: 0.5  # line 4 of the file\n"
			   "    name: traceidratio  # line 4 of the file\n"));
	CHECK(strstr(text, "    - open_ports: 8000-8002,9000\n      exe_path: \"*envoy*\"\n"
			   "      name: \"edge \\\"proxy\\\"\"\n"));
	CHECK(strstr(text, "    # OTEL_EBPF_TARGET_PID (--pid)\n    - target_pids: 42\n"));
	CHECK(strstr(text, "  exclude_instrument:\n    # line 11 of the file\n"
			   "    - target_pids: 1\n"));
	CHECK(strstr(text, "#   OTEL_EXPORTER_OTLP_HEADERS=authorization=***\n"));
	CHECK(!strstr(text, "secret"));

	/* what it prints loads back to the same settings */
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	CHECK_INT(load(ARGS("--config", path), NO_ENV), 0);
	CHECK_STR(errors, "");
	CHECK_INT(cfg.log_level, LOG_WARN);
	CHECK_INT(cfg.sampler, SAMPLER_TRACEIDRATIO);
	CHECK_INT(cfg.instrument.n, 2);
	CHECK_INT(cfg.instrument.entry[0].ports.count, 4);
	CHECK_STR(cfg.instrument.entry[0].name, "edge \"proxy\"");
	CHECK_INT(cfg.instrument.entry[1].pids[0], 42);
	CHECK_INT(cfg.exclude.n, 1);
	CHECK_INT(cfg.default_exclude.n, 1);
	out = open_memstream(&again, &size);
	config_print_yaml(&cfg, out);
	fclose(out);
	/* same settings; only the origins and the file name differ */
	CHECK(strstr(again, "    - open_ports: 8000-8002,9000\n      exe_path: \"*envoy*\"\n"));
	CHECK(strstr(again, "  endpoint: \"http://c:4318/v1/traces\""));
	free(text);
	free(again);
}

static void test_markdown(void)
{
	static const char *const names[] = {
		"`OTEL_EBPF_CONFIG_PATH`", "`--config FILE`", "`open_port`", "`log_level`",
		"`trace_printer`", "`ebpf.context_propagation`", "`otel_traces_export.endpoint`",
		"`otel_traces_export.sampler.name`", "`otel_traces_export.sampler.arg`",
		"`otel_metrics_export.endpoint`", "`otel_metrics_export.interval`",
		"`OTEL_EXPORTER_OTLP_HEADERS`", "`--print-config`", "`-h, --help`",
		"| `open_ports` |", "| `exe_path` |", "| `target_pids` |",
		"| `target_pid_namespaces` |", "| `containers_only` |",
	};
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);

	config_print_markdown(out);
	fclose(out);
	CHECK(!strncmp(text, "| Environment variable | YAML key | Flag | Default |", 51));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strstr(text, names[i]))
			fprintf(stderr, "markdown lacks %s\n", names[i]);
		CHECK(strstr(text, names[i]));
	}
	free(text);
}

/* The same loader from memory, as the fuzzer drives it. */
static void test_buffer(void)
{
	static const unsigned char yaml[] = "log_level: error\n";
	char *text = NULL;
	size_t size = 0;
	FILE *err = open_memstream(&text, &size);

	memset(&cfg, 0, sizeof(cfg));
	CHECK_INT(yaml_config_load_buffer(&cfg, "mem.yaml", yaml, sizeof(yaml) - 1, err), 0);
	CHECK_INT(cfg.log_level, LOG_ERROR);
	CHECK_INT(yaml_config_load_buffer(&cfg, "mem.yaml", (const unsigned char *)"a: [", 4, err),
		  -EINVAL);
	fclose(err);
	CHECK(strstr(text, "obi: mem.yaml:2:1: not valid YAML"));
	free(text);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/obi.yaml", dir);
	test_user_file();
	test_all_keys();
	test_precedence();
	test_errors();
	test_warnings();
	test_yaml_forms();
	test_print_config();
	test_markdown();
	test_buffer();
	unlink(path);
	rmdir(dir);
	return check_done("test_config_yaml");
}
