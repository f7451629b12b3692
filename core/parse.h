/* SPDX-License-Identifier: Apache-2.0 */
/* Small value parsers every layer uses: comma lists, "k=v" lists and Go-style durations. */
#ifndef OBI_PARSE_H
#define OBI_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* A piece of a string, trimmed of spaces and tabs; not NUL-terminated. */
struct parse_item {
	const char *p;
	size_t len;
};

/* [p, end) without leading and trailing spaces and tabs. */
struct parse_item parse_trim(const char *p, const char *end);

/* Splits the next comma-separated item off *s, trimmed; *s becomes NULL after the last one. */
struct parse_item parse_next_item(const char **s);

/*
 * Walks a W3C-baggage-like list "key=value,key2=value2" (OTEL_EXPORTER_OTLP_HEADERS,
 * OTEL_RESOURCE_ATTRIBUTES): items and both sides of '=' are trimmed of spaces, values are
 * percent-decoded. Calls fn (may be NULL) for each pair with NUL-terminated copies; stops when
 * fn returns non-zero and returns that. Returns -EINVAL on a malformed list, with the reason in
 * `why` (may be NULL). An empty list has no pairs.
 */
typedef int (*parse_kv_fn)(const char *key, const char *value, void *ctx);
int parse_kv_list(const char *s, parse_kv_fn fn, void *ctx, char *why, size_t why_size);

/* Parses a Go-style duration ("500ms", "1m30s", "1.5s"; units ns us µs ms s m h) into ns.
 * Returns 0 or -EINVAL / -ERANGE. */
int parse_duration(const char *s, uint64_t *ns);

#endif /* OBI_PARSE_H */
