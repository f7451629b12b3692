// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the kernel's reading of a request head (ebpf/head.bpf.h), compiled here
 * from the same source the BPF programs use. The input is the captured head (at most
 * OBI_CAP_MAX bytes). Checked:
 *  - the word-at-a-time scan against a plain line-by-line reference of what it must find: the
 *    request line's end, the head's end, the traceparent, Content-Length and Transfer-Encoding
 *    header lines (names case-insensitive, at a line's start, followed by ':');
 *  - on a whole head with one traceparent header, the kernel's parser against user space's
 *    traceparent_parse() (core/tracecontext.c) on the same value: both accept or both refuse,
 *    and agree on the ids and flags, so the kernel and the exporter never judge a header apart;
 *  - on one Content-Length header, the kernel's value against a reference reading.
 */
#include <linux/types.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#define barrier_var(v) ((void)(v))

#include "obi.h"
#include "head.bpf.h"
#include "core/tracecontext.h"

struct ref_scan {
	long line_end, head_end, tp_val, cl_val;
	unsigned tp_count, cl_count, te_count;
};

static bool name_at(const uint8_t *b, size_t p, size_t n, const char *name)
{
	size_t len = strlen(name);

	if (p + len > n)
		return false;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = b[p + i];

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != (uint8_t)name[i])
			return false;
	}
	return true;
}

/* What the scan must find, line by line: a line starts after each '\n' of the head. */
static void reference(const uint8_t *b, size_t n, struct ref_scan *r)
{
	*r = (struct ref_scan){ -1, -1, -1, -1, 0, 0, 0 };
	for (size_t p = 0; p + 1 < n; p++) {
		if (b[p] != '\n')
			continue;
		if (r->line_end < 0)
			r->line_end = (long)p;
		if (b[p + 1] == '\n') {
			r->head_end = (long)p + 2;
			return;
		}
		if (b[p + 1] == '\r' && p + 2 < n && b[p + 2] == '\n') {
			r->head_end = (long)p + 3;
			return;
		}
		if (name_at(b, p + 1, n, "traceparent:")) {
			r->tp_count++;
			r->tp_val = (long)p + 13;
		} else if (name_at(b, p + 1, n, "content-length:")) {
			r->cl_count++;
			r->cl_val = (long)p + 16;
		} else if (name_at(b, p + 1, n, "transfer-encodin")) {
			r->te_count++;
		}
	}
}

/* Content-Length's value, as the kernel must read it: within 24 bytes and the capture, blanks,
 * then decimal digits (refused once the value passed 2^48 before another digit), ended by a
 * blank, CR or LF (or the 24 bytes' end); blanks or a line end before any digit refuse it. */
static bool reference_length(const uint8_t *b, size_t at, size_t n, uint64_t *len)
{
	bool digits = false;
	uint64_t v = 0;

	for (size_t i = at; i < at + 24; i++) {
		uint8_t c;

		if (i >= n || i >= OBI_CAP_MAX)
			return false;
		c = b[i];
		if ((c == ' ' || c == '\t') && !digits)
			continue;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			break;
		if (c < '0' || c > '9' || v > 0xffffffffffffULL)
			return false;
		v = v * 10 + (uint64_t)(c - '0');
		digits = true;
	}
	*len = v;
	return digits;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the kernel's buffer: OBI_CAP_MAX bytes and slack the scan may read past the capture */
	static uint8_t b[OBI_CAP_MAX + 64];
	struct head_scan s = { -1, -1, -1, 0, -1, 0, 0 };
	struct ref_scan r;
	__u32 n = size < OBI_CAP_MAX ? (__u32)size : OBI_CAP_MAX;

	memset(b, 0, sizeof(b));
	memcpy(b, data, n);
	for (__u32 w = 0; w < OBI_CAP_MAX / 8; w++) {
		if (w * 8 >= n || scan_word_at(b, w * 8, n, &s))
			break;
	}
	reference(b, n, &r);
	if (s.line_end != r.line_end || s.head_end != r.head_end || s.tp_count != r.tp_count ||
	    (r.tp_count && s.tp_val != r.tp_val) || s.cl_count != r.cl_count ||
	    (r.cl_count && s.cl_val != r.cl_val) || s.te_count != r.te_count) {
		fprintf(stderr,
			"scan: kernel line_end %d head_end %d tp %u@%d cl %u@%d te %u; reference "
			"%ld %ld %u@%ld %u@%ld %u\n",
			s.line_end, s.head_end, s.tp_count, s.tp_val, s.cl_count, s.cl_val,
			s.te_count, r.line_end, r.head_end, r.tp_count, r.tp_val, r.cl_count,
			r.cl_val, r.te_count);
		abort();
	}

	if (s.tp_count == 1 && s.head_end > 0) {
		/* the value as user space gets it: after the colon to the line's end */
		const uint8_t *v = b + s.tp_val, *eol = memchr(v, '\n', b + n - v);
		size_t len = eol ? (size_t)(eol - v) : 0;
		struct obi_trace kt = { 0 };
		uint8_t trace[16], parent[8], flags = 0;
		__u32 at = 0;
		char value[OBI_CAP_MAX + 1];
		bool k, u;

		if (len && v[len - 1] == '\r')
			len--;
		if (!eol || memchr(v, '\0', len))
			return 0; /* a NUL ends a C string early: not the same input any more */
		memcpy(value, v, len);
		value[len] = '\0';
		k = parse_traceparent(b, (__u32)s.tp_val, n, &kt, &at);
		u = traceparent_parse(value, trace, parent, &flags) == 0;
		if (k != u || (k && (memcmp(kt.trace_id, trace, 16) || memcmp(kt.parent_id, parent, 8) ||
				     kt.flags != flags))) {
			fprintf(stderr, "traceparent \"%s\": kernel %s, user space %s\n", value,
				k ? "valid" : "invalid", u ? "valid" : "invalid");
			abort();
		}
	}

	if (s.cl_count == 1) {
		__u64 kl = 0;
		uint64_t rl = 0;
		bool k = content_length(b, s.cl_val, n, &kl);
		bool ref = reference_length(b, (size_t)s.cl_val, n, &rl);

		if (k != ref || (k && kl != rl)) {
			fprintf(stderr, "content-length at %d: kernel %d %llu, reference %d %llu\n",
				s.cl_val, k, (unsigned long long)kl, ref, (unsigned long long)rl);
			abort();
		}
	}
	return 0;
}
