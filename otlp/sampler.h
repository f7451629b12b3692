/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which spans are exported (OTEL_TRACES_SAMPLER). Decisions are deterministic: the ratio samplers
 * look at the trace id only, so every span of a trace gets the same answer in every process, and
 * the parent-based ones follow the sampled flag of the span's parent.
 */
#ifndef OBI_OTLP_SAMPLER_H
#define OBI_OTLP_SAMPLER_H

#include <stdbool.h>

#include "core/span.h"
#include "options.h"

/* True when the span is to be exported. ratio: OTEL_TRACES_SAMPLER_ARG, 0..1. */
bool otlp_sampler_keep(enum otlp_sampler kind, double ratio, const struct span *s);

/* The traceidratio decision alone: the trace id's last 8 bytes, read as a big-endian number
 * and shifted right by one, fall below ratio * 2^63. */
bool otlp_sampler_ratio_keep(double ratio, const uint8_t trace_id[16]);

#endif /* OBI_OTLP_SAMPLER_H */
