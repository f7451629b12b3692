// SPDX-License-Identifier: Apache-2.0
/* OTEL_TRACES_SAMPLER decisions for exported spans. */
#include "sampler.h"

#include <string.h>

#include "core/sampling.h"

static const uint8_t no_parent[8];

bool otlp_sampler_ratio_keep(double ratio, const uint8_t trace_id[16])
{
	return sampling_ratio_keep(sampling_bound(ratio), trace_id);
}

bool otlp_sampler_keep(enum otlp_sampler kind, double ratio, const struct span *s)
{
	bool has_parent = memcmp(s->parent_id, no_parent, sizeof(no_parent)) != 0;
	bool parent_sampled = s->trace_flags & 1;

	switch (kind) {
	case OTLP_SAMPLER_ALWAYS_ON:
		return true;
	case OTLP_SAMPLER_ALWAYS_OFF:
		return false;
	case OTLP_SAMPLER_TRACEIDRATIO:
		return otlp_sampler_ratio_keep(ratio, s->trace_id);
	case OTLP_SAMPLER_PARENTBASED_ALWAYS_ON:
		return has_parent ? parent_sampled : true;
	case OTLP_SAMPLER_PARENTBASED_ALWAYS_OFF:
		return has_parent ? parent_sampled : false;
	case OTLP_SAMPLER_PARENTBASED_TRACEIDRATIO:
		return has_parent ? parent_sampled : otlp_sampler_ratio_keep(ratio, s->trace_id);
	}
	return true;
}
