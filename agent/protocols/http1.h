/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/1.0 and HTTP/1.1 message-head parser over captured bytes. */
#ifndef OBI_HTTP1_H
#define OBI_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/tracecontext.h"

enum http1_kind {
	HTTP1_REQUEST = 1,
	HTTP1_RESPONSE = 2,
};

/* http1_parse() empties each field by name (not the whole struct): a new field goes there too. */
struct http1_msg {
	enum http1_kind kind;
	int version_minor;		/* 0 or 1 */
	/* requests */
	char method[16];
	char path[256];			/* origin-form path without query; from absolute form too */
	char host[128];			/* Host header, else the authority of an absolute-form target */
	char user_agent[128];
	char traceparent[128];		/* raw value of a traceparent header (blanks around it
					 * kept), "" if none; cut at 127 bytes, past what matters */
	unsigned traceparent_n;		/* traceparent headers (W3C: two are invalid) */
	/* the tracestate headers combined and checked (tracestate_combine()), "" if none or
	 * invalid */
	char tracestate[TRACESTATE_MAX + 1];
	/* responses */
	int status;			/* 100..999 */
	/* both */
	size_t header_len;		/* bytes up to and including the empty line; 0 if incomplete */
	int64_t content_length;		/* -1 when absent or invalid */
	bool chunked;			/* Transfer-Encoding: chunked */
	bool conn_close;		/* Connection: close, or HTTP/1.0 without keep-alive */
};

/*
 * Parses the head of one HTTP/1.x message starting at buf[0].
 * Returns  > 0: the head is complete; the value is header_len.
 *            0: the start line is valid but the head is incomplete; the fields parsed so far
 *               (start line and every complete header line) are filled in.
 *           -1: not an HTTP/1.x message start (or malformed start line).
 * Never reads past buf[len - 1]; every string field is NUL-terminated and truncated to fit.
 */
int http1_parse(const char *buf, size_t len, struct http1_msg *msg);

/* Cheap test of the first bytes: a known method followed by a space, or "HTTP/1.". */
bool http1_is_start(const char *buf, size_t len);

/* Bytes of body that follow a head per the message's framing:
 * content_length when set, 0 for requests without one, -1 when unknown (read until close or
 * chunked). `is_head_response` and status 1xx/204/304 responses have no body. */
int64_t http1_body_length(const struct http1_msg *msg, bool request_was_head);

/* True when `tail` (the last bytes of a chunked body seen so far) ends the body ("0\r\n\r\n"). */
bool http1_chunked_end(const uint8_t *tail, size_t len);

/* OBI's default route heuristic: path segments that look like ids become "*". */
void http1_route_heuristic(const char *path, char *route, size_t route_size);

#endif /* OBI_HTTP1_H */
