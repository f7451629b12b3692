// SPDX-License-Identifier: Apache-2.0
/* Process selection as a pure decision (selector.c): entries ORed, criteria ANDed, exclusions,
 * the environment's selectors, globs with {a,b}, and what the kernel is asked to do alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "selector.h"

static struct obi_config cfg;

static void reset(void)
{
	memset(&cfg, 0, sizeof(cfg));
}

/* Adds an entry from "key=value;key=value" to list l. */
static void entry(struct selector_list *l, const char *spec)
{
	struct selector *s = &l->entry[l->n++];
	char buf[512], why[256], *save = NULL;

	memset(s, 0, sizeof(*s));
	s->line = (unsigned)l->n;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *kv = strtok_r(buf, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(kv, '=');
		int ret;

		*eq = '\0';
		ret = config_selector_set(s, kv, eq + 1, why, sizeof(why));
		if (ret)
			fprintf(stderr, "entry %s=%s: %s\n", kv, eq + 1, why);
		CHECK_INT(ret, 0);
	}
	l->set = true;
}

struct proc {
	uint32_t pid;
	const char *exe;
	uint64_t pidns;
	bool container;
	uint16_t ports[4];
	size_t n_ports;
};

static struct proc_facts facts(const struct proc *p)
{
	return (struct proc_facts){ .pid = p->pid, .exe = p->exe, .pidns = p->pidns,
				    .in_container = p->container, .ports = p->ports,
				    .n_ports = p->n_ports };
}

/* The verdict and, when selected or excluded, the reason of the deciding entry. */
static enum selector_verdict decide(const struct proc *p, char *reason)
{
	struct proc_facts f = facts(p);
	struct selector_view by;
	enum selector_verdict v = selector_decide(&cfg, &f, &by);

	snprintf(reason, 48, "%s", v == SELECTOR_NONE ? "" : by.reason);
	return v;
}

#define CHECK_DECIDE(proc, verdict, why)                                                   \
	do {                                                                               \
		char _r[48];                                                               \
		CHECK_INT(decide(proc, _r), verdict);                                      \
		CHECK_STR(_r, why);                                                        \
	} while (0)

static const struct proc py8080 = { 100, "/usr/bin/python3.11", 4026531836ULL, false, { 8080 }, 1 };
static const struct proc go8080 = { 101, "/srv/backend", 4026531836ULL, false, { 8080, 9090 }, 2 };
static const struct proc py9000 = { 102, "/usr/bin/python3.11", 4026532001ULL, true, { 9000 }, 1 };
static const struct proc envoy = { 103, "/usr/local/bin/envoy", 4026532001ULL, true, { 8000 }, 1 };
static const struct proc idle = { 104, "/usr/bin/sleep", 4026531836ULL, false, { 0 }, 0 };
static const struct proc otelcol = { 105, "/otelcol-contrib", 4026532002ULL, true, { 4318 }, 1 };
static const struct proc unknown = { 106, NULL, 0, false, { 8080 }, 1 };

static void test_glob(void)
{
	CHECK(selector_glob("*python*", "/usr/bin/python3.11"));
	CHECK(selector_glob("*", "/a/b/c"));		/* '*' crosses '/' as in OBI */
	CHECK(!selector_glob("*/node", "/usr/bin/nodejs"));
	CHECK(selector_glob("{*nginx,*envoy}", "/usr/local/bin/envoy"));
	CHECK(selector_glob("{*nginx,*envoy}", "/usr/sbin/nginx"));
	CHECK(!selector_glob("{*nginx,*envoy}", "/usr/sbin/haproxy"));
	CHECK(selector_glob("/opt/{a,b{1,2}}/srv", "/opt/b2/srv"));
	CHECK(!selector_glob("/opt/{a,b{1,2}}/srv", "/opt/b3/srv"));
	CHECK(selector_glob("*otelcol-contrib[!/]*", "/x/otelcol-contrib2"));
	CHECK(!selector_glob("*otelcol-contrib[!/]*", "/x/otelcol-contrib/y"));
	CHECK(selector_glob("{}x", "x"));
	CHECK(selector_glob("a{b", "a{b"));		/* no closing brace: literal */
}

/* The user's file: one entry, open_ports 8080 — nothing else. */
static void test_single_port_entry(void)
{
	reset();
	entry(&cfg.instrument, "open_ports=8080");
	CHECK_DECIDE(&py8080, SELECTOR_SELECTED, "instrument[0]");
	CHECK_DECIDE(&go8080, SELECTOR_SELECTED, "instrument[0]");
	CHECK_DECIDE(&py9000, SELECTOR_NONE, "");
	CHECK_DECIDE(&idle, SELECTOR_NONE, "");
	CHECK_DECIDE(&unknown, SELECTOR_SELECTED, "instrument[0]");
}

static void test_and_within_entry(void)
{
	reset();
	entry(&cfg.instrument, "open_ports=8000-9000;exe_path=*python*");
	CHECK_DECIDE(&py8080, SELECTOR_SELECTED, "instrument[0]");
	CHECK_DECIDE(&py9000, SELECTOR_SELECTED, "instrument[0]");
	CHECK_DECIDE(&go8080, SELECTOR_NONE, "");	/* port yes, exe no */
	CHECK_DECIDE(&envoy, SELECTOR_NONE, "");	/* port yes, exe no */
	CHECK_DECIDE(&unknown, SELECTOR_NONE, "");	/* exe unknown: not a match */

	reset();
	entry(&cfg.instrument, "open_ports=9000;containers_only=true");
	CHECK_DECIDE(&py9000, SELECTOR_SELECTED, "instrument[0]");
	entry(&cfg.exclude, "exe_path=*python*");
	CHECK_DECIDE(&py9000, SELECTOR_EXCLUDED, "exclude_instrument[0]");

	reset();
	entry(&cfg.instrument, "target_pids=100,101;open_ports=9090");
	CHECK_DECIDE(&go8080, SELECTOR_SELECTED, "instrument[0]");
	CHECK_DECIDE(&py8080, SELECTOR_NONE, "");	/* pid yes, port no */

	reset();
	entry(&cfg.instrument, "target_pid_namespaces=4026532001;exe_path=*envoy");
	CHECK_DECIDE(&envoy, SELECTOR_SELECTED, "instrument[0]");
	CHECK_DECIDE(&py9000, SELECTOR_NONE, "");
}

static void test_or_between_entries(void)
{
	reset();
	entry(&cfg.instrument, "exe_path=*envoy");
	entry(&cfg.instrument, "open_ports=8080;exe_path=/srv/*");
	entry(&cfg.instrument, "target_pids=104");
	CHECK_DECIDE(&envoy, SELECTOR_SELECTED, "instrument[0]");
	CHECK_DECIDE(&go8080, SELECTOR_SELECTED, "instrument[1]");
	CHECK_DECIDE(&idle, SELECTOR_SELECTED, "instrument[2]");
	CHECK_DECIDE(&py8080, SELECTOR_NONE, "");
}

static void test_exclude(void)
{
	reset();
	entry(&cfg.instrument, "open_ports=1-65535");
	entry(&cfg.exclude, "exe_path=*python*");
	entry(&cfg.exclude, "open_ports=9090;target_pids=101");
	CHECK_DECIDE(&py8080, SELECTOR_EXCLUDED, "exclude_instrument[0]");
	CHECK_DECIDE(&go8080, SELECTOR_EXCLUDED, "exclude_instrument[1]");
	CHECK_DECIDE(&envoy, SELECTOR_SELECTED, "instrument[0]");
	CHECK_DECIDE(&idle, SELECTOR_NONE, "");		/* excluded only matters when selected */

	/* default excludes come after the user's and say so */
	entry(&cfg.default_exclude, "exe_path={*beyla,*otelcol,*otelcol-contrib}");
	CHECK_DECIDE(&otelcol, SELECTOR_EXCLUDED, "default_exclude_instrument[0]");

	/* for processes the kernel selected: only the exclusions */
	struct proc_facts f = facts(&py8080);
	struct selector_view by;

	CHECK(selector_excluded(&cfg, &f, &by));
	CHECK_STR(by.reason, "exclude_instrument[0]");
	f = facts(&envoy);
	CHECK(!selector_excluded(&cfg, &f, &by));
}

/* OTEL_EBPF_OPEN_PORT, _TARGET_PID, _AUTO_TARGET_EXE, _TARGET_PID_NAMESPACE: ORed, as before,
 * and ORed with the file's entries. */
static void test_env_entries(void)
{
	struct port_set ps = {};

	reset();
	config_parse_ports("8000", &ps);
	cfg.open_ports = ps;
	cfg.target_pids[0] = 100;
	cfg.n_target_pids = 1;
	CHECK_INT(selector_count(&cfg, SELECTOR_INSTRUMENT), 2);
	CHECK_DECIDE(&envoy, SELECTOR_SELECTED, "open-port");
	CHECK_DECIDE(&py8080, SELECTOR_SELECTED, "pid");	/* not on 8000: still selected */
	CHECK_DECIDE(&go8080, SELECTOR_NONE, "");

	snprintf(cfg.exe_glob, sizeof(cfg.exe_glob), "/srv/*");
	cfg.pidns[0] = 4026532002ULL;
	cfg.n_pidns = 1;
	CHECK_DECIDE(&go8080, SELECTOR_SELECTED, "exe");
	CHECK_DECIDE(&otelcol, SELECTOR_SELECTED, "pid-namespace");

	entry(&cfg.instrument, "exe_path=*sleep");
	CHECK_INT(selector_count(&cfg, SELECTOR_INSTRUMENT), 5);
	CHECK_DECIDE(&idle, SELECTOR_SELECTED, "instrument[0]");
	CHECK_DECIDE(&envoy, SELECTOR_SELECTED, "open-port");
	entry(&cfg.exclude, "target_pids=103");
	CHECK_DECIDE(&envoy, SELECTOR_EXCLUDED, "exclude_instrument[0]");
}

static void test_kernel_plan(void)
{
	static struct selector_kernel k;
	struct port_set ps = {};

	reset();
	config_parse_ports("8000-8001", &ps);
	cfg.open_ports = ps;
	entry(&cfg.instrument, "open_ports=8080");			/* kernel alone */
	entry(&cfg.instrument, "open_ports=9000,8000;exe_path=*envoy");	/* watched */
	entry(&cfg.instrument, "target_pid_namespaces=4026532001");	/* kernel at fork */
	entry(&cfg.instrument, "target_pid_namespaces=4026532002;open_ports=7000"); /* watched */
	entry(&cfg.exclude, "open_ports=6000");				/* not the kernel's */
	selector_kernel_plan(&cfg, &k);
	CHECK_INT(k.select_ports.count, 3);
	CHECK(port_set_has(&k.select_ports, 8000) && port_set_has(&k.select_ports, 8001) &&
	      port_set_has(&k.select_ports, 8080));
	CHECK_INT(k.watch_ports.count, 2);	/* 8000 is selected already: not watched */
	CHECK(port_set_has(&k.watch_ports, 9000) && port_set_has(&k.watch_ports, 7000));
	CHECK_INT(k.n_pidns, 1);
	CHECK_INT(k.pidns[0], 4026532001ULL);
	CHECK(k.want_exec);

	reset();
	entry(&cfg.instrument, "open_ports=8080");
	selector_kernel_plan(&cfg, &k);
	CHECK(!k.want_exec);
	CHECK_INT(k.select_ports.count, 1);
	CHECK_INT(k.watch_ports.count, 0);

	struct selector_needs nd;

	entry(&cfg.exclude, "exe_path=*x;open_ports=5000");
	selector_needs(&cfg, &nd);
	CHECK(nd.exe && nd.ports && !nd.pidns && !nd.container);
	CHECK_INT(nd.ports_of_interest.count, 2);
}

static void test_entry_values(void)
{
	struct selector s = {};
	char why[256];

	CHECK_INT(config_selector_set(&s, "open_ports", "80,443,8000-8002", why, sizeof(why)), 0);
	CHECK_INT(s.ports.count, 5);
	CHECK_INT(config_selector_set(&s, "open_ports", "0", why, sizeof(why)), -22);
	CHECK_STR(why, "port 0 is out of range 1-65535");
	CHECK_INT(config_selector_set(&s, "target_pids", "1,2,x", why, sizeof(why)), -22);
	CHECK_STR(why, "\"x\" is not a pid");
	CHECK_INT(config_selector_set(&s, "containers_only", "yes", why, sizeof(why)), -22);
	CHECK_STR(why, "not a boolean");
	CHECK_INT(config_selector_set(&s, "containers_only", "True", why, sizeof(why)), 0);
	CHECK(s.containers_only);
	CHECK_INT(config_selector_set(&s, "exe_path", "", why, sizeof(why)), -22);
	CHECK_INT(config_selector_set(&s, "k8s_namespace", "x", why, sizeof(why)), -2);
	CHECK_INT(config_selector_set(&s, "name", "checkout", why, sizeof(why)), 0);
	CHECK_STR(s.name, "checkout");
	CHECK(config_selector_expected("open_ports") != NULL);
	CHECK(config_selector_expected("k8s_namespace") == NULL);

	memset(&s, 0, sizeof(s));
	CHECK(!config_selector_has_criteria(&s));
	config_selector_set(&s, "name", "only-a-name", why, sizeof(why));
	CHECK(!config_selector_has_criteria(&s));
}

int main(void)
{
	test_glob();
	test_single_port_entry();
	test_and_within_entry();
	test_or_between_entries();
	test_exclude();
	test_env_entries();
	test_kernel_plan();
	test_entry_values();
	return check_done("test_config_select");
}
