/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Metric series in the Prometheus text exposition format 0.0.4 or OpenMetrics 1.0, translated
 * as the OpenTelemetry compatibility specification (Prometheus and OpenMetrics) writes it:
 * names with unit suffixes (http_server_request_duration_seconds), histograms as cumulative
 * _bucket{le} series ending in +Inf with _sum and _count, attribute names with every character
 * outside [a-zA-Z0-9_] made '_', job and instance labels from service.name (service.namespace)
 * and service.instance.id on every series, otel_scope_name and otel_scope_version, the other
 * resource attributes in one target_info per job and instance.
 */
#ifndef OBI_OTLP_PROMETHEUS_H
#define OBI_OTLP_PROMETHEUS_H

#include <stddef.h>

#include "encode.h"
#include "metrics.h"

enum otlp_prom_format {
	OTLP_PROM_TEXT = 0,    /* text/plain; version=0.0.4 */
	OTLP_PROM_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
};

/* The format an Accept header asks for: OpenMetrics when it accepts
 * application/openmetrics-text at least as much as text/plain, else text. NULL: text. */
enum otlp_prom_format otlp_prom_negotiate(const char *accept);

/* The Content-Type of a body in format f. */
const char *otlp_prom_content_type(enum otlp_prom_format f);

/*
 * Renders n series (a metrics snapshot) into a new NUL-terminated buffer (*out, free() it;
 * *len without the NUL). enc gives the resource attributes (host name, OTEL_RESOURCE_ATTRIBUTES);
 * it is only read. Families and series are sorted, so equal snapshots render the same bytes;
 * series whose labels come out equal (a process that exec()ed keeps its job and instance) are
 * summed. Returns 0 or -ENOMEM.
 */
int otlp_prom_render(const struct otlp_encoder *enc, const struct otlp_series *series, size_t n,
		     enum otlp_prom_format f, char **out, size_t *len);

#endif /* OBI_OTLP_PROMETHEUS_H */
