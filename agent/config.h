/* SPDX-License-Identifier: Apache-2.0 */
/*
 * obi's settings. One table in config.c drives environment parsing, command-line flags,
 * validation and --help. Precedence: defaults < environment < flags.
 */
#ifndef OBI_CONFIG_H
#define OBI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"
#include "printer.h"

#define CONFIG_MAX_PIDS 256
#define CONFIG_MAX_PIDNS 64

struct port_set {
	uint64_t bits[65536 / 64];
	unsigned count;		/* number of ports in the set */
};

static inline bool port_set_has(const struct port_set *ps, uint16_t port)
{
	return ps->bits[port >> 6] & (1ULL << (port & 63));
}

struct obi_config {
	/* selection */
	struct port_set open_ports;		/* OTEL_EBPF_OPEN_PORT */
	uint32_t target_pids[CONFIG_MAX_PIDS];	/* OTEL_EBPF_TARGET_PID */
	size_t n_target_pids;
	char exe_glob[4096];			/* OTEL_EBPF_AUTO_TARGET_EXE, "" if unset */
	uint64_t pidns[CONFIG_MAX_PIDNS];	/* OTEL_EBPF_TARGET_PID_NAMESPACE: ns inodes */
	size_t n_pidns;
	/* output */
	enum printer_kind trace_printer;	/* OTEL_EBPF_TRACE_PRINTER */
	bool trace_printer_set;			/* chosen explicitly */
	enum log_level log_level;		/* OTEL_EBPF_LOG_LEVEL */
	char otlp_endpoint[1024];		/* OTEL_EXPORTER_OTLP_ENDPOINT, "" if unset */
	/* modes */
	bool demo;				/* --demo, or no selector given */
	bool help;
	bool version;
};

/* True when at least one process selector is configured. */
bool config_has_selector(const struct obi_config *cfg);

/*
 * Fills cfg from defaults, then the environment (envp: NULL-terminated "NAME=value" list,
 * normally `environ`), then argv. On a bad value it writes one line naming the variable or
 * flag and the accepted form to `err` and returns -EINVAL (the caller exits with code 2).
 * When no printer is chosen and no OTLP endpoint is set, the printer defaults to text.
 */
int config_load(struct obi_config *cfg, int argc, char **argv, char **envp, FILE *err);

/* Parses "80,443,8000-8999" into ps (adds to it). Returns 0 or -EINVAL. */
int config_parse_ports(const char *s, struct port_set *ps);

/* Writes usage: every flag and every environment variable with its default. */
void config_print_help(FILE *out);

#endif /* OBI_CONFIG_H */
