// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the YAML configuration file (agent/yaml_config.c, the settings table in
 * agent/settings*.c) and the selection rules it feeds (agent/selector.c): any bytes load or are
 * refused with one message, never crash; what loads prints (--print-config) and decides.
 */
#include "config.h"
#include "selector.h"
#include "yaml_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct obi_config cfg;
static FILE *sink;

/* A few processes to judge with whatever entries the input made. */
static void decide_some(void)
{
	static const uint16_t ports[] = { 80, 8080, 9000 };
	static const struct proc_facts procs[] = {
		{ 1, "/usr/bin/python3", 4026531836ULL, false, ports, 3 },
		{ 42, "/usr/local/bin/envoy", 4026532000ULL, true, ports + 1, 1 },
		{ 7, NULL, 0, false, NULL, 0 },
		{ 9, "/a{b,c}/[x]*?/otelcol-contrib", 1, true, ports + 2, 1 },
	};
	struct selector_kernel *k = malloc(sizeof(*k));
	struct selector_view by;

	for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
		/* the deciding entry is named for the log line: its reason must be a string */
		if (selector_decide(&cfg, &procs[i], &by) != SELECTOR_NONE &&
		    strnlen(by.reason, sizeof(by.reason)) == sizeof(by.reason))
			abort();
	}
	if (k) {
		selector_kernel_plan(&cfg, k);
		free(k);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!sink)
		sink = fopen("/dev/null", "w");
	memset(&cfg, 0, sizeof(cfg));
	if (yaml_config_load_buffer(&cfg, "fuzz.yaml", data, size, sink))
		return 0;
	if (cfg.instrument.n > CONFIG_MAX_ENTRIES || cfg.exclude.n > CONFIG_MAX_ENTRIES ||
	    cfg.default_exclude.n > CONFIG_MAX_ENTRIES)
		abort();
	config_print_yaml(&cfg, sink);
	decide_some();
	return 0;
}
