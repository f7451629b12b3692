/* SPDX-License-Identifier: Apache-2.0 */
/*
 * obi's OTLP settings (config.h) as the exporter's options (otlp/options.h): the one place where
 * the agent's configuration meets otlp/, above both, beside main.c.
 */
#ifndef OBI_EXPORT_CONFIG_H
#define OBI_EXPORT_CONFIG_H

#include "config.h"
#include "otlp/options.h"
#include "otlp/prom_server.h"

/* Fills opts from cfg as config_load left it (per-signal settings resolved). The strings of
 * opts point into cfg: cfg must outlive opts (otlp_exporter_open copies what it keeps). */
void export_config_otlp(const struct obi_config *cfg, struct otlp_options *opts);

/* The Prometheus endpoint's options (OTEL_EBPF_PROMETHEUS_*); strings point into cfg. */
void export_config_prometheus(const struct obi_config *cfg, struct otlp_prom_options *opts);

#endif /* OBI_EXPORT_CONFIG_H */
