/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sampled flag (W3C trace-flags bit 0) of a span where it starts, for the samplers of
 * OTEL_TRACES_SAMPLER. The kernel decides it the same way for the spans it starts (ebpf/obi.h
 * OBI_SAMPLE_*), so the traceparent obi sends on says what obi exports: an unsampled trace goes
 * out "-00" and none of its spans is exported.
 */
#ifndef OBI_SAMPLING_H
#define OBI_SAMPLING_H

#include <stdbool.h>
#include <stdint.h>

struct sampling {
	uint8_t root;	    /* OBI_SAMPLE_ROOT_*: a span without a parent */
	bool ignore_parent; /* not parent-based: a parent's flag does not decide */
	uint64_t bound;	    /* OBI_SAMPLE_ROOT_RATIO (and ignore_parent): sampling_bound() */
};

/* parentbased_always_on, OTEL_TRACES_SAMPLER's default */
#define SAMPLING_DEFAULT ((struct sampling){ 0 })

/* The bound of a ratio (0..1, OTEL_TRACES_SAMPLER_ARG): ratio * 2^63, 2^63 for 1 and above. */
uint64_t sampling_bound(double ratio);

/* The traceidratio rule: the trace id's last 8 bytes, read big-endian and shifted right by one,
 * fall below bound. Every process deciding on the same trace id agrees. */
bool sampling_ratio_keep(uint64_t bound, const uint8_t trace_id[16]);

/* The trace flags of a span starting now in trace trace_id; parent_flags are its parent's when
 * it has one (remote or in this process). Bits other than "sampled" come from the parent. */
uint8_t sampling_flags(const struct sampling *s, const uint8_t trace_id[16], bool has_parent,
		       uint8_t parent_flags);

#endif /* OBI_SAMPLING_H */
