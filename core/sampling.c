// SPDX-License-Identifier: Apache-2.0
/* Where a span's sampled flag is decided; ebpf/tracectx.bpf.h span_flags() is the kernel's copy
 * of sampling_flags(), and test_sampling checks that both agree. */
#include "sampling.h"

#include "ebpf/obi.h"

#define BOUND_ALL (UINT64_C(1) << 63)

uint64_t sampling_bound(double ratio)
{
	if (ratio >= 1.0)
		return BOUND_ALL;
	if (!(ratio > 0.0))
		return 0;
	/* 63 bits keep the product exact enough in a double and below 2^64 */
	return (uint64_t)(ratio * 9223372036854775808.0);
}

bool sampling_ratio_keep(uint64_t bound, const uint8_t trace_id[16])
{
	uint64_t x = 0;

	for (int i = 8; i < 16; i++)
		x = x << 8 | trace_id[i];
	return (x >> 1) < bound;
}

uint8_t sampling_flags(const struct sampling *s, const uint8_t trace_id[16], bool has_parent,
		       uint8_t parent_flags)
{
	bool keep;

	if (has_parent && !s->ignore_parent)
		return parent_flags;
	switch (s->root) {
	case OBI_SAMPLE_ROOT_NEVER:
		keep = false;
		break;
	case OBI_SAMPLE_ROOT_RATIO:
		keep = sampling_ratio_keep(s->bound, trace_id);
		break;
	default:
		keep = true;
	}
	return (uint8_t)((has_parent ? parent_flags & ~1u : 0u) | (keep ? 1u : 0u));
}
