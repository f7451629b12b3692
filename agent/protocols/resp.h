/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A resumable scanner of RESP2/RESP3 values (the Redis protocol) over captured bytes: it walks
 * one direction of a connection value by value, across events, skipping bulk payloads by their
 * length even where the kernel did not capture them, and reports each complete top-level value.
 */
#ifndef OBI_RESP_H
#define OBI_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESP_DEPTH 8		/* nesting followed; deeper values lose the scanner */
#define RESP_LINE 64		/* bytes of a header line or simple string kept */
#define RESP_ARG 32		/* bytes kept of a command's first two elements */

/* A complete top-level value. */
struct resp_value {
	char type;		/* its first byte: '*', '+', '-', '$', '>', '|' ... */
	char line[RESP_LINE];	/* simple strings and errors: their text, cut to fit */
	char blob_error[RESP_LINE];	/* '!' blob errors: the start of their text */
	/* arrays (commands): the element count and the first two bulk strings, cut to fit
	 * ("" when the kernel did not capture them) */
	int64_t elements;
	char arg[2][RESP_ARG];
	void *origin;		/* the caller's tag of the bytes its first byte came in */
};

struct resp_scan {
	bool lost;		/* the bytes no longer make sense, or were not captured */
	bool in_bulk;		/* bulk_left payload bytes (and the CRLF) to go */
	int64_t bulk_left;
	unsigned depth;		/* open aggregates */
	int64_t left[RESP_DEPTH];	/* elements still to come in each */
	int64_t index;		/* of the current element in the top-level array */
	unsigned bulk_arg;	/* 1 + the arg[] the bulk being read goes to; 0: none */
	size_t arg_len;
	char line[RESP_LINE];	/* the header line being read */
	size_t line_len;
	bool cr;		/* the last byte of the line so far was '\r' */
	bool line_cut;		/* longer than RESP_LINE: the rest is not kept */
	struct resp_value v;	/* the top-level value being read */
};

/* Called for each complete top-level value; returns false to stop the scan. */
typedef bool (*resp_value_fn)(const struct resp_value *v, void *ctx);

/* Starts over at a value boundary. */
void resp_scan_reset(struct resp_scan *s);

/*
 * Scans `len` bytes of which the first `cap` are known (`buf`); the rest are only counted.
 * A top-level value that begins in these bytes gets `origin` as its tag.
 * Stops and sets s->lost when a header falls in the unknown bytes or the bytes are not RESP.
 * Returns the number of top-level values reported.
 */
unsigned resp_scan(struct resp_scan *s, const uint8_t *buf, size_t cap, size_t len,
		   resp_value_fn fn, void *ctx, void *origin);

/* True when buf starts like a RESP command: "*<count>\r\n$" (a count of 1 to 9999). */
bool resp_is_command(const uint8_t *buf, size_t len);

#endif /* OBI_RESP_H */
