/* SPDX-License-Identifier: Apache-2.0 */
/* W3C Trace Context (level 2) header values: traceparent and tracestate. */
#ifndef OBI_TRACECONTEXT_H
#define OBI_TRACECONTEXT_H

#include <stddef.h>
#include <stdint.h>

/* Blanks (spaces, tabs) accepted on each side of a traceparent value: the kernel's bound too
 * (OBI_TP_OWS_MAX, ebpf/obi.h), so both judge a header alike. */
#define TRACEPARENT_OWS_MAX 16

/*
 * Parses a traceparent header value, optional whitespace around it included:
 * "<version>-<32 hex trace id>-<16 hex parent id>-<2 hex flags>", lowercase hex, ids not all
 * zero. Version ff is invalid; version 00 is exactly those 55 characters; a higher version is
 * read by its first 55 when the 56th is absent or '-' (its further fields are ignored).
 * Returns 0 or -EINVAL.
 */
int traceparent_parse(const char *s, uint8_t trace_id[16], uint8_t parent_id[8], uint8_t *flags);

#define TRACESTATE_MAX	   512 /* bytes of a combined tracestate kept (W3C: at least 512) */
#define TRACESTATE_MEMBERS 32  /* W3C: at most 32 list members */

/*
 * Combines the values of a request's tracestate headers (in order, as if joined by commas)
 * into out (at least TRACESTATE_MAX + 1 bytes): the list members without blanks around them
 * or empty ones, joined by ','. Every member must follow the W3C key/value grammar, no key
 * may repeat, and there may be at most TRACESTATE_MEMBERS; else the whole tracestate is
 * invalid. A list longer than TRACESTATE_MAX loses its members over 128 bytes first, then its
 * last ones, as W3C advises. Returns the length written (0: none), or -EINVAL (out is "").
 */
int tracestate_combine(const char *const *vals, const size_t *lens, size_t n, char *out);

#endif /* OBI_TRACECONTEXT_H */
