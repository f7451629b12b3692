// SPDX-License-Identifier: Apache-2.0
/* Settings: port lists, env and flag precedence, validation errors, printer defaults, help. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "config.h"
#include "config_load.h"

static int ports(const char *s, struct port_set *ps)
{
	memset(ps, 0, sizeof(*ps));
	return config_parse_ports(s, ps);
}

static void test_parse_ports(void)
{
	static const char *const bad[] = {
		"0", "65536", "70-60", "a", "80,,81", "-5", "80-", "", ",", "80,", " ", "+80",
		"8 0", "80-90-100", "99999999999999999999999", "18446744073709551616", "0-80",
		"80-65536", "0x50", "80;81",
	};
	struct port_set ps;
	size_t i;

	CHECK_INT(ports("80", &ps), 0);
	CHECK_INT(ps.count, 1);
	CHECK(port_set_has(&ps, 80) && !port_set_has(&ps, 81) && !port_set_has(&ps, 79));
	CHECK_INT(ports("80,443", &ps), 0);
	CHECK_INT(ps.count, 2);
	CHECK(port_set_has(&ps, 443));
	CHECK_INT(ports("8000-8999", &ps), 0);
	CHECK_INT(ps.count, 1000);
	CHECK(port_set_has(&ps, 8000) && port_set_has(&ps, 8999));
	CHECK(!port_set_has(&ps, 7999) && !port_set_has(&ps, 9000));
	CHECK_INT(ports(" 80 , 443,\t8000 - 8001 ", &ps), 0);
	CHECK_INT(ps.count, 4);
	CHECK(port_set_has(&ps, 8001));
	CHECK_INT(ports("1-65535", &ps), 0);
	CHECK_INT(ps.count, 65535);
	CHECK(port_set_has(&ps, 65535) && !port_set_has(&ps, 0));
	CHECK_INT(ports("8080-8080,8080,8079-8081", &ps), 0);
	CHECK_INT(ps.count, 3);

	/* adds to what is there; duplicates count once */
	CHECK_INT(ports("80", &ps), 0);
	CHECK_INT(config_parse_ports("81,80", &ps), 0);
	CHECK_INT(ps.count, 2);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = ports(bad[i], &ps);

		if (ret != -EINVAL)
			fprintf(stderr, "ports \"%s\" accepted\n", bad[i]);
		CHECK_INT(ret, -EINVAL);
	}
}

static void test_defaults(void)
{
	CHECK_INT(load(NO_ARGS, NO_ENV), 0);
	CHECK_STR(errors, "");
	CHECK_INT(cfg.open_ports.count, 0);
	CHECK_INT(cfg.n_target_pids, 0);
	CHECK_STR(cfg.exe_glob, "");
	CHECK_INT(cfg.n_pidns, 0);
	CHECK_INT(cfg.trace_printer, PRINTER_TEXT);
	CHECK(!cfg.trace_printer_set);
	CHECK_INT(cfg.log_level, LOG_INFO);
	CHECK_STR(cfg.otlp_endpoint, "");
	CHECK(!cfg.demo && !cfg.help && !cfg.version);
	CHECK(!config_has_selector(&cfg));
}

static void test_env(void)
{
	CHECK_INT(load(NO_ARGS, ENV("PATH=/usr/bin", "OTEL_EBPF_OPEN_PORT=8000-9000",
				    "OTEL_EBPF_TARGET_PID=42, 7,42",
				    "OTEL_EBPF_AUTO_TARGET_EXE=*/python3*",
				    "OTEL_EBPF_TARGET_PID_NAMESPACE=4026531836,pid:[4026532000]",
				    "OTEL_EBPF_TRACE_PRINTER=json", "OTEL_EBPF_LOG_LEVEL=DEBUG",
				    "OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:4318")),
		  0);
	CHECK_STR(errors, "");
	CHECK_INT(cfg.open_ports.count, 1001);
	CHECK(port_set_has(&cfg.open_ports, 8000) && port_set_has(&cfg.open_ports, 9000));
	CHECK_INT(cfg.n_target_pids, 2);
	CHECK_INT(cfg.target_pids[0], 42);
	CHECK_INT(cfg.target_pids[1], 7);
	CHECK_STR(cfg.exe_glob, "*/python3*");
	CHECK_INT(cfg.n_pidns, 2);
	CHECK_INT(cfg.pidns[0], 4026531836ULL);
	CHECK_INT(cfg.pidns[1], 4026532000ULL);
	CHECK_INT(cfg.trace_printer, PRINTER_JSON);
	CHECK(cfg.trace_printer_set);
	CHECK_INT(cfg.log_level, LOG_DEBUG);
	CHECK_STR(cfg.otlp_endpoint, "http://otel-collector:4318");
	CHECK(config_has_selector(&cfg));
	CHECK(!cfg.demo);

	/* set but empty is unset */
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EBPF_OPEN_PORT=", "OTEL_EBPF_TRACE_PRINTER=",
				    "OTEL_EBPF_LOG_LEVEL=", "OTEL_EBPF_UNKNOWN=")),
		  0);
	CHECK_STR(errors, "");
	CHECK_INT(cfg.open_ports.count, 0);
	CHECK(!cfg.trace_printer_set);
	CHECK_INT(cfg.log_level, LOG_INFO);

	/* the first of two definitions wins, as with getenv() */
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EBPF_OPEN_PORT=80", "OTEL_EBPF_OPEN_PORT=81")), 0);
	CHECK(port_set_has(&cfg.open_ports, 80) && !port_set_has(&cfg.open_ports, 81));

	/* a name that only starts like a setting is not that setting */
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EBPF_OPEN_PORTS=80")), 0);
	CHECK_INT(cfg.open_ports.count, 0);
	CHECK_STR(errors, "obi: ignoring unsupported OTEL_EBPF_OPEN_PORTS (see --help)\n");
}

static void test_flags(void)
{
	CHECK_INT(load(ARGS("--open-port", "443", "--pid=1", "--exe", "/usr/bin/*",
			    "--pid-namespace=4026531836", "--trace-printer", "disabled",
			    "--log-level=Warn", "--otlp-endpoint", "HTTPS://collector:4318",
			    "--demo", "-h", "--version"),
		       NO_ENV),
		  0);
	CHECK_STR(errors, "");
	CHECK(port_set_has(&cfg.open_ports, 443));
	CHECK_INT(cfg.n_target_pids, 1);
	CHECK_INT(cfg.target_pids[0], 1);
	CHECK_STR(cfg.exe_glob, "/usr/bin/*");
	CHECK_INT(cfg.n_pidns, 1);
	CHECK_INT(cfg.trace_printer, PRINTER_DISABLED);
	CHECK(cfg.trace_printer_set);
	CHECK_INT(cfg.log_level, LOG_WARN);
	CHECK_STR(cfg.otlp_endpoint, "HTTPS://collector:4318");
	CHECK(cfg.demo && cfg.help && cfg.version);

	CHECK_INT(load(ARGS("-V"), NO_ENV), 0);
	CHECK(cfg.version && !cfg.help);
	CHECK_INT(load(ARGS("--help"), NO_ENV), 0);
	CHECK(cfg.help && !cfg.version);
}

static void test_precedence(void)
{
	char **env = ENV("OTEL_EBPF_OPEN_PORT=80", "OTEL_EBPF_LOG_LEVEL=error",
			 "OTEL_EBPF_TARGET_PID=10,11");

	/* a flag replaces the environment's value for its setting, not others */
	CHECK_INT(load(ARGS("--open-port", "443", "--log-level=debug"), env), 0);
	CHECK_INT(cfg.open_ports.count, 1);
	CHECK(port_set_has(&cfg.open_ports, 443) && !port_set_has(&cfg.open_ports, 80));
	CHECK_INT(cfg.log_level, LOG_DEBUG);
	CHECK_INT(cfg.n_target_pids, 2);

	/* the last flag wins */
	CHECK_INT(load(ARGS("--pid", "5", "--pid=6,7"), env), 0);
	CHECK_INT(cfg.n_target_pids, 2);
	CHECK_INT(cfg.target_pids[0], 6);
	CHECK_INT(cfg.target_pids[1], 7);

	CHECK_INT(load(NO_ARGS, env), 0);
	CHECK_INT(cfg.log_level, LOG_ERROR);
	CHECK(port_set_has(&cfg.open_ports, 80));
}

static void test_printer_default(void)
{
	char **endpoint = ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318");

	CHECK_INT(load(NO_ARGS, endpoint), 0);
	CHECK_INT(cfg.trace_printer, PRINTER_DISABLED);
	CHECK(!cfg.trace_printer_set);
	CHECK_INT(load(ARGS("--trace-printer=text"), endpoint), 0);
	CHECK_INT(cfg.trace_printer, PRINTER_TEXT);
	CHECK(cfg.trace_printer_set);
	CHECK_INT(load(ARGS("--trace-printer", "disabled"), NO_ENV), 0);
	CHECK_INT(cfg.trace_printer, PRINTER_DISABLED);
	CHECK(cfg.trace_printer_set);
	CHECK_INT(load(ARGS("--otlp-endpoint=https://c:4318"), ENV("OTEL_EBPF_TRACE_PRINTER=json")),
		  0);
	CHECK_INT(cfg.trace_printer, PRINTER_JSON);
}

static void test_pid_namespace(void)
{
	char list[128];
	struct stat st;

	CHECK_INT(stat("/proc/self/ns/pid", &st), 0);
	CHECK_INT(load(ARGS("--pid-namespace", "/proc/self/ns/pid"), NO_ENV), 0);
	CHECK_INT(cfg.n_pidns, 1);
	CHECK_INT(cfg.pidns[0], st.st_ino);
	CHECK(config_has_selector(&cfg));

	/* the same namespace three ways counts once; spaces around items are fine */
	snprintf(list, sizeof(list),
		 "OTEL_EBPF_TARGET_PID_NAMESPACE=/proc/self/ns/pid, %llu ,pid:[%llu]",
		 (unsigned long long)st.st_ino, (unsigned long long)st.st_ino);
	CHECK_INT(load(NO_ARGS, ENV(list)), 0);
	CHECK_STR(errors, "");
	CHECK_INT(cfg.n_pidns, 1);
	CHECK_INT(cfg.pidns[0], st.st_ino);

	CHECK_INT(load(ARGS("--pid-namespace", "/nonexistent/ns/pid"), NO_ENV), -EINVAL);
	CHECK(strstr(errors, "--pid-namespace"));
	CHECK(strstr(errors, "stat /nonexistent/ns/pid: No such file or directory"));
}

static void check_rejected(char **argv, char **envp, const char *name, const char *value)
{
	char want[256];

	snprintf(want, sizeof(want), "obi: invalid %s \"%s\": ", name, value);
	CHECK_INT(load(argv, envp), -EINVAL);
	if (strncmp(errors, want, strlen(want)))
		fprintf(stderr, "error line \"%s\" does not start with \"%s\"\n", errors, want);
	CHECK(!strncmp(errors, want, strlen(want)));
	CHECK(strstr(errors, " (expected "));
	CHECK(strchr(errors, '\n') == errors + strlen(errors) - 1);
}

static void test_bad_values(void)
{
	static const struct {
		const char *env, *flag, *value;
	} bad[] = {
		{ "OTEL_EBPF_OPEN_PORT", "--open-port", "80-70" },
		{ "OTEL_EBPF_OPEN_PORT", "--open-port", "http" },
		{ "OTEL_EBPF_TARGET_PID", "--pid", "0" },
		{ "OTEL_EBPF_TARGET_PID", "--pid", "12,abc" },
		{ "OTEL_EBPF_TARGET_PID", "--pid", "-1" },
		{ "OTEL_EBPF_TARGET_PID", "--pid", "99999999999" },
		{ "OTEL_EBPF_TARGET_PID_NAMESPACE", "--pid-namespace", "net:[4026531840]x" },
		{ "OTEL_EBPF_TARGET_PID_NAMESPACE", "--pid-namespace", "0" },
		{ "OTEL_EBPF_TARGET_PID_NAMESPACE", "--pid-namespace", "1,,2" },
		{ "OTEL_EBPF_TRACE_PRINTER", "--trace-printer", "counter" },
		{ "OTEL_EBPF_TRACE_PRINTER", "--trace-printer", "texts" },
		{ "OTEL_EBPF_LOG_LEVEL", "--log-level", "verbose" },
		{ "OTEL_EXPORTER_OTLP_ENDPOINT", "--otlp-endpoint", "localhost:4318" },
		{ "OTEL_EXPORTER_OTLP_ENDPOINT", "--otlp-endpoint", "ftp://c:21" },
		{ "OTEL_EXPORTER_OTLP_ENDPOINT", "--otlp-endpoint", "http://" },
		{ "OTEL_EXPORTER_OTLP_ENDPOINT", "--otlp-endpoint", "http://a b" },
	};
	char env[256], flag[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(env, sizeof(env), "%s=%s", bad[i].env, bad[i].value);
		check_rejected(NO_ARGS, ENV(env), bad[i].env, bad[i].value);
		snprintf(flag, sizeof(flag), "%s=%s", bad[i].flag, bad[i].value);
		check_rejected(ARGS(flag), NO_ENV, bad[i].flag, bad[i].value);
		check_rejected(ARGS((char *)bad[i].flag, (char *)bad[i].value), NO_ENV, bad[i].flag,
			       bad[i].value);
	}

	/* the example from the brief, whole */
	CHECK_INT(load(NO_ARGS, ENV("OTEL_EBPF_OPEN_PORT=80-70")), -EINVAL);
	CHECK_STR(errors, "obi: invalid OTEL_EBPF_OPEN_PORT \"80-70\": range start exceeds end "
			  "(expected a comma list of ports and ranges, e.g. 80,443,8000-8999)\n");
	/* an empty flag value is a value, and a bad one */
	check_rejected(ARGS("--exe="), NO_ENV, "--exe", "");
	check_rejected(ARGS("--open-port", ""), NO_ENV, "--open-port", "");
	/* control characters from the value stay on one line */
	check_rejected(ARGS("--log-level", "a\nb"), NO_ENV, "--log-level", "a\\x0ab");
}

static void test_limits(void)
{
	static char glob[sizeof(cfg.exe_glob) + 1], list[8 * (CONFIG_MAX_PIDS + 1)];
	char *p = list;
	int i;

	memset(glob, '*', sizeof(cfg.exe_glob) - 1);
	CHECK_INT(load(ARGS("--exe", glob), NO_ENV), 0);
	CHECK_INT(strlen(cfg.exe_glob), sizeof(cfg.exe_glob) - 1);
	glob[sizeof(cfg.exe_glob) - 1] = '*';
	CHECK_INT(load(ARGS("--exe", glob), NO_ENV), -EINVAL);
	CHECK(strstr(errors, "longer than 4095 bytes"));

	for (i = 1; i <= CONFIG_MAX_PIDS; i++)
		p += sprintf(p, "%s%d", i > 1 ? "," : "", i);
	CHECK_INT(load(ARGS("--pid", list), NO_ENV), 0);
	CHECK_INT(cfg.n_target_pids, CONFIG_MAX_PIDS);
	CHECK_INT(cfg.target_pids[CONFIG_MAX_PIDS - 1], CONFIG_MAX_PIDS);
	sprintf(p, ",%d", CONFIG_MAX_PIDS + 1);
	CHECK_INT(load(ARGS("--pid", list), NO_ENV), -EINVAL);
	CHECK(strstr(errors, "more than 256 pids"));
	CHECK_INT(load(ARGS("--pid", "4194304"), NO_ENV), 0);
	CHECK_INT(load(ARGS("--pid", "4194305"), NO_ENV), -EINVAL);
}

static void test_bad_args(void)
{
	CHECK_INT(load(ARGS("--bogus"), NO_ENV), -EINVAL);
	CHECK_STR(errors, "obi: unknown flag \"--bogus\" (see --help)\n");
	CHECK_INT(load(ARGS("--open-ports=80"), NO_ENV), -EINVAL);
	CHECK(strstr(errors, "unknown flag \"--open-ports=80\""));
	CHECK_INT(load(ARGS("-x"), NO_ENV), -EINVAL);
	CHECK(strstr(errors, "unknown flag \"-x\""));
	CHECK_INT(load(ARGS("serve"), NO_ENV), -EINVAL);
	CHECK_STR(errors, "obi: unexpected argument \"serve\" (see --help)\n");
	CHECK_INT(load(ARGS("--pid"), NO_ENV), -EINVAL);
	CHECK_STR(errors, "obi: flag --pid needs a value "
			  "(expected a comma list of process ids, e.g. 1234,5678)\n");
	CHECK_INT(load(ARGS("--open-port", "--demo"), NO_ENV), -EINVAL);
	CHECK(strstr(errors, "flag --open-port needs a value"));
	CHECK_INT(load(ARGS("--demo=yes"), NO_ENV), -EINVAL);
	CHECK_STR(errors, "obi: flag --demo takes no value\n");
	/* a bad environment is reported even when a flag would override it */
	CHECK_INT(load(ARGS("--open-port", "80"), ENV("OTEL_EBPF_OPEN_PORT=x")), -EINVAL);
	CHECK(strstr(errors, "OTEL_EBPF_OPEN_PORT"));
}

static void test_help(void)
{
	static const char *const names[] = {
		"OTEL_EBPF_OPEN_PORT", "OTEL_EBPF_TARGET_PID", "OTEL_EBPF_AUTO_TARGET_EXE",
		"OTEL_EBPF_TARGET_PID_NAMESPACE", "OTEL_EBPF_TRACE_PRINTER", "OTEL_EBPF_LOG_LEVEL",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "--open-port", "--pid ", "--exe", "--pid-namespace",
		"--trace-printer", "--log-level", "--otlp-endpoint", "--demo", "-h, --help",
		"-V, --version", "default info",
	};
	char *text = NULL;
	size_t size = 0, i;
	FILE *out = open_memstream(&text, &size);

	config_print_help(out);
	fclose(out);
	CHECK(!strncmp(text, "usage: obi", 10));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strstr(text, names[i]))
			fprintf(stderr, "help does not list %s\n", names[i]);
		CHECK(strstr(text, names[i]));
	}
	free(text);
}

/* OTEL_TRACES_SAMPLER as the rule for a new span's sampled flag (the kernel's too). */
static void test_sampling(void)
{
	uint8_t id[16] = { 0 };
	struct sampling sm;

	/* the default, parentbased_always_on: roots sampled, a parent's flag followed */
	CHECK_INT(load(NO_ARGS, NO_ENV), 0);
	sm = config_sampling(&cfg);
	CHECK_INT(sampling_flags(&sm, id, false, 0), 1);
	CHECK_INT(sampling_flags(&sm, id, true, 0), 0);
	CHECK_INT(sampling_flags(&sm, id, true, 0x03), 0x03);

	/* parentbased_traceidratio 0.5: roots by the trace id's last 8 bytes >> 1 < 2^62 */
	CHECK_INT(load(NO_ARGS, ENV("OTEL_TRACES_SAMPLER=parentbased_traceidratio",
				    "OTEL_TRACES_SAMPLER_ARG=0.5")), 0);
	sm = config_sampling(&cfg);
	memset(id + 8, 0x7f, 8); /* >> 1 is below 2^62 */
	CHECK_INT(sampling_flags(&sm, id, false, 0), 1);
	id[8] = 0x80; /* >> 1 is 2^62 and more */
	CHECK_INT(sampling_flags(&sm, id, false, 0), 0);
	CHECK_INT(sampling_flags(&sm, id, true, 1), 1); /* the parent decides */
	memset(id, 0xff, 8); /* the high half never matters */
	CHECK_INT(sampling_flags(&sm, id, false, 0), 0);

	/* ratio 0: nothing starts sampled; a sampled parent is still followed */
	CHECK_INT(load(NO_ARGS, ENV("OTEL_TRACES_SAMPLER=parentbased_traceidratio",
				    "OTEL_TRACES_SAMPLER_ARG=0")), 0);
	sm = config_sampling(&cfg);
	memset(id, 0, sizeof(id));
	CHECK_INT(sampling_flags(&sm, id, false, 0), 0);
	CHECK_INT(sampling_flags(&sm, id, true, 1), 1);

	/* not parent-based: traceidratio 1 samples an unsampled parent's child, keeping its
	 * other flag bits; always_off samples nothing */
	CHECK_INT(load(NO_ARGS, ENV("OTEL_TRACES_SAMPLER=traceidratio",
				    "OTEL_TRACES_SAMPLER_ARG=1")), 0);
	sm = config_sampling(&cfg);
	memset(id, 0xff, sizeof(id));
	CHECK_INT(sampling_flags(&sm, id, true, 0x02), 0x03);
	CHECK_INT(load(NO_ARGS, ENV("OTEL_TRACES_SAMPLER=always_off")), 0);
	sm = config_sampling(&cfg);
	CHECK_INT(sampling_flags(&sm, id, true, 0x01), 0);
	CHECK_INT(sampling_flags(&sm, id, false, 0), 0);
	CHECK_INT(load(NO_ARGS, ENV("OTEL_TRACES_SAMPLER=parentbased_always_off")), 0);
	sm = config_sampling(&cfg);
	CHECK_INT(sampling_flags(&sm, id, false, 0), 0);
	CHECK_INT(sampling_flags(&sm, id, true, 1), 1);

	/* the bound: 1 keeps every id, 0 none */
	CHECK(sampling_bound(1.0) == UINT64_C(1) << 63);
	CHECK(sampling_bound(0.0) == 0);
	CHECK(sampling_ratio_keep(sampling_bound(1.0), id));
}

int main(void)
{
	test_parse_ports();
	test_defaults();
	test_env();
	test_flags();
	test_precedence();
	test_printer_default();
	test_pid_namespace();
	test_bad_values();
	test_limits();
	test_bad_args();
	test_help();
	test_sampling();
	return check_done("test_config");
}
