/* SPDX-License-Identifier: Apache-2.0 */
/*
 * obi's settings: loading them and writing them out. One table (settings.c) drives environment
 * parsing, the YAML file, command-line flags, validation, --help, --help-markdown and
 * --print-config. Precedence: defaults < YAML file < environment < flags.
 */
#ifndef OBI_CONFIG_H
#define OBI_CONFIG_H

#include <stdio.h>

#include "config_types.h"
#include "core/sampling.h"
#include "settings.h"

/* True when at least one process selector is configured (environment, flags or YAML). */
bool config_has_selector(const struct obi_config *cfg);

/*
 * Fills cfg from defaults, then the YAML file named by --config or OTEL_EBPF_CONFIG_PATH, then
 * the environment (envp: NULL-terminated "NAME=value" list, normally `environ`), then argv. On a
 * bad value it writes one line naming the variable, flag or file:line and key, and the accepted
 * form, to `err` and returns -EINVAL (the caller exits with code 2). Warnings (unknown keys and
 * variables, OBI keys obi does not support) go to `err` too. When no printer is chosen it
 * defaults to text, or to disabled when spans are exported.
 */
int config_load(struct obi_config *cfg, int argc, char **argv, char **envp, FILE *err);

/* True when spans or metrics are exported with OTLP. */
bool config_otlp_enabled(const struct obi_config *cfg);

/* OTEL_TRACES_SAMPLER and its argument as the rule that sets a new span's sampled flag (the
 * kernel's and the parsers'). */
struct sampling config_sampling(const struct obi_config *cfg);

/* Writes usage: every flag and every environment variable with its default. */
void config_print_help(FILE *out);

/* Writes the settings table as Markdown (the README's configuration reference). */
void config_print_markdown(FILE *out);

/* Writes the merged configuration as YAML that obi loads back (--print-config). Header values
 * are shown as "***". */
void config_print_yaml(const struct obi_config *cfg, FILE *out);

#endif /* OBI_CONFIG_H */
