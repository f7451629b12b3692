/* SPDX-License-Identifier: Apache-2.0 */
/* Trace printers: one line per span on stdout, OBI's text layout or JSON Lines. */
#ifndef OBI_PRINTER_H
#define OBI_PRINTER_H

#include <stddef.h>
#include <stdio.h>

#include "core/span.h"

enum printer_kind {
	PRINTER_DISABLED = 0,
	PRINTER_TEXT = 1,
	PRINTER_JSON = 2,
};

/*
 * Text layout (OBI's, with real microseconds; local time):
 *   2025-12-09 12:28:05.128844 (1.389336ms[1.389336ms]) HTTPClient 200 GET /(/) \
 *   [172.19.0.5 as envoy:59806]->[172.19.0.4 as localhost:8000] contentLen:78B responseLen:223B \
 *   svc=[envoy generic] traceparent=[00-<trace>-<span>[<parent>]-<flags>]
 * (total duration[duration after the request was fully read/written]); HTTP = server,
 * HTTPClient = client; "/path(route)": the route is the heuristic one (ids become "*") unless
 * a better one is known.
 * Server: [peerIP as peerIP:peerPort]->[localIP as service:localPort].
 * Client: [localIP as service:localPort]->[peerIP as hostHeaderName:peerPort] (peerIP when no Host).
 *
 * JSON Lines: one object per span with these keys (always present unless noted):
 *   "time" (RFC 3339 UTC with microseconds), "start_time_unix_nano", "handler_start_unix_nano",
 *   "end_time_unix_nano", "duration_ns", "handler_duration_ns", "kind" ("SERVER"|"CLIENT"),
 *   "type" ("HTTP"|"HTTPClient"), "trace_id", "span_id", "parent_span_id" (16 zeros: no parent),
 *   "trace_flags" ("01"), "traceparent", "http.request.method", "url.path", "http.route" (only
 *   when known), "http.response.status_code", "http.request.body.size",
 *   "http.response.body.size", "server.address" (Host header host, else the server's IP),
 *   "server.port" (the server side's port), "client.address" (server spans),
 *   "network.local.address", "network.local.port", "network.peer.address",
 *   "network.peer.port", "user_agent.original" (when captured), "process.pid", "thread.id",
 *   "service.name", "telemetry.sdk.language", "error" (bool), "otel.status_code"
 *   ("ERROR"|"UNSET").
 */

/* Formats one span as a single line ending in '\n' into buf (NUL-terminated).
 * Returns the line length, or -ENOSPC when buf is too small. */
int printer_format_text(const struct span *s, char *buf, size_t size);
int printer_format_json(const struct span *s, char *buf, size_t size);

/* Formats a duration the way the text printer shows it: "305.572µs", "1.260901ms", "2.5s". */
int printer_format_duration(uint64_t ns, char *buf, size_t size);

/* Writes one span to `out` with the chosen printer (no-op when disabled) and flushes. */
void printer_print(enum printer_kind kind, const struct span *s, FILE *out);

#endif /* OBI_PRINTER_H */
