/* SPDX-License-Identifier: Apache-2.0 */
/* W3C Trace Context header values. */
#ifndef OBI_TRACECONTEXT_H
#define OBI_TRACECONTEXT_H

#include <stdint.h>

/* Parses a W3C traceparent value ("00-<32 hex>-<16 hex>-<2 hex>"). Returns 0 or -EINVAL. */
int traceparent_parse(const char *s, uint8_t trace_id[16], uint8_t parent_id[8], uint8_t *flags);

#endif /* OBI_TRACECONTEXT_H */
