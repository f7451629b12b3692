// SPDX-License-Identifier: Apache-2.0
/*
 * RESP2/RESP3 value scanner. Header lines ("*3", "$5", "+OK", "-ERR ...") are read byte by byte
 * and may be split over events; bulk payloads are skipped by their declared length, so a large
 * value costs nothing and need not have been captured. Only the type of each top-level value,
 * its first line and a command's first two elements are kept.
 */
#include "resp.h"

#include <string.h>

#define RESP_BULK_MAX (512LL << 20)	/* Redis's proto-max-bulk-len ceiling */
#define RESP_COUNT_MAX (1LL << 32)

void resp_scan_reset(struct resp_scan *s)
{
	memset(s, 0, sizeof(*s));
}

static bool is_type(char c)
{
	return c && strchr("*%~>|$!=+-:_#,(", c);
}

/* The number after the type byte: -1, or 0..max. */
static bool parse_count(const char *p, int64_t max, int64_t *out)
{
	int64_t v = 0;

	if (p[0] == '-' && p[1] == '1' && !p[2]) {
		*out = -1;
		return true;
	}
	if (!*p)
		return false;
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || v > max / 10)
			return false;
		v = v * 10 + (*p - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* A value ended at the current depth: close the aggregates it completes; at the top level,
 * report it. Returns false when fn asked to stop. */
static bool value_done(struct resp_scan *s, resp_value_fn fn, void *ctx, unsigned *count)
{
	bool go_on;

	while (s->depth > 0) {
		if (s->depth == 1)
			s->index++;
		if (--s->left[s->depth - 1] > 0)
			return true;
		s->depth--;
	}
	(*count)++;
	go_on = fn(&s->v, ctx);
	memset(&s->v, 0, sizeof(s->v));
	s->index = 0;
	return go_on;
}

static void copy_line(char *dst, const char *src)
{
	size_t n = strnlen(src, RESP_LINE - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* A complete header line (without its CRLF) in s->line. */
static bool line_done(struct resp_scan *s, resp_value_fn fn, void *ctx, unsigned *count)
{
	char t = s->line[0];
	int64_t n;

	if (s->depth == 0)
		s->v.type = t;
	switch (t) {
	case '*': case '%': case '~': case '>': case '|':
		if (s->line_cut || !parse_count(s->line + 1, RESP_COUNT_MAX, &n))
			break;
		if (s->depth == 0 && t == '*')
			s->v.elements = n;
		if (t == '%' || t == '|')
			n *= 2;		/* maps and attributes: a key and a value per entry */
		if (n <= 0)
			return value_done(s, fn, ctx, count);
		if (s->depth == RESP_DEPTH)
			break;
		s->left[s->depth++] = n;
		return true;
	case '$': case '!': case '=':
		if (s->line_cut || !parse_count(s->line + 1, RESP_BULK_MAX, &n))
			break;
		if (n < 0)
			return value_done(s, fn, ctx, count);
		s->in_bulk = true;
		s->bulk_left = n + 2;	/* and its CRLF */
		s->arg_len = 0;
		s->bulk_arg = 0;
		if (s->depth == 1 && s->v.type == '*' && s->index < 2)
			s->bulk_arg = 1 + s->index;
		else if (s->depth == 0 && t == '!')
			s->bulk_arg = 3;
		return true;
	case '+': case '-': case ':': case '_': case '#': case ',': case '(':
		if (s->depth == 0)
			copy_line(s->v.line, s->line + 1);
		return value_done(s, fn, ctx, count);
	}
	s->lost = true;
	return false;
}

/* Payload bytes of the bulk being read: kept when it is one of the values asked for. */
static void bulk_bytes(struct resp_scan *s, const uint8_t *p, size_t n)
{
	char *dst = s->bulk_arg == 3 ? s->v.blob_error : s->bulk_arg ? s->v.arg[s->bulk_arg - 1] : NULL;
	size_t size = s->bulk_arg == 3 ? RESP_LINE : RESP_ARG;

	if (!dst || !p)
		return;
	for (size_t i = 0; i < n && s->arg_len + 1 < size; i++) {
		if (p[i] == '\r' || p[i] == '\n')
			break;
		dst[s->arg_len++] = (char)p[i];
	}
	dst[s->arg_len] = '\0';
}

unsigned resp_scan(struct resp_scan *s, const uint8_t *buf, size_t cap, size_t len,
		   resp_value_fn fn, void *ctx, void *origin)
{
	unsigned count = 0;
	size_t pos = 0;

	if (cap > len)
		cap = len;
	while (pos < len && !s->lost) {
		if (s->in_bulk) {
			size_t n = len - pos < (uint64_t)s->bulk_left ? len - pos : (size_t)s->bulk_left;
			size_t known = pos < cap ? (cap - pos < n ? cap - pos : n) : 0;

			bulk_bytes(s, known ? buf + pos : NULL, known);
			pos += n;
			s->bulk_left -= n;
			if (s->bulk_left)
				continue;
			s->in_bulk = false;
			if (!value_done(s, fn, ctx, &count))
				break;
			continue;
		}
		if (pos >= cap) {
			s->lost = true;	/* a header the kernel did not capture */
			break;
		}
		uint8_t c = buf[pos++];

		if (s->line_len == 0 && !s->cr && !is_type((char)c)) {
			s->lost = true;
			break;
		}
		if (s->line_len == 0 && !s->cr && s->depth == 0)
			s->v.origin = origin;	/* a top-level value begins */
		if (c == '\n' && s->cr) {
			s->line[s->line_len] = '\0';
			s->cr = false;
			bool go_on = line_done(s, fn, ctx, &count);

			s->line_len = 0;
			s->line_cut = false;
			if (!go_on)
				break;
			continue;
		}
		if (s->cr && s->line_len + 1 < RESP_LINE)
			s->line[s->line_len++] = '\r';	/* a '\r' inside the line */
		s->cr = c == '\r';
		if (s->cr)
			continue;
		if (s->line_len + 1 < RESP_LINE)
			s->line[s->line_len++] = (char)c;
		else
			s->line_cut = true;
	}
	return count;
}

bool resp_is_command(const uint8_t *buf, size_t len)
{
	size_t i = 1;

	if (len < 4 || buf[0] != '*' || buf[1] < '1' || buf[1] > '9')
		return false;
	while (i < len && i < 5 && buf[i] >= '0' && buf[i] <= '9')
		i++;
	return i + 2 < len && buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '$';
}
