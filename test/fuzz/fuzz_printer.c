// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for agent/printer.c: a span whose every byte comes from the input (strings
 * with any bytes, unterminated or not; any numbers, kinds, address families), printed with both
 * layouts. Checks: a line always fits PRINTER_LINE_MAX (8192), it is one line ending in '\n',
 * valid UTF-8; the JSON line is one valid JSON object (RFC 8259, checked by a small validator
 * below); a smaller buffer gives -ENOSPC and an empty string, never an overflow.
 */
#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "printer.h"

#define LINE_MAX_BYTES 8192	/* printer.c's PRINTER_LINE_MAX: what obi prints with */

/* Length of the valid UTF-8 sequence at p (RFC 3629), 0 when invalid. Written apart from
 * printer.c's on purpose: an oracle that shared its code could not catch its mistakes. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	if (p[0] == 0xed)
		hi = 0x9f;
	if (p[0] == 0xf0)
		lo = 0x90;
	if (p[0] == 0xf4)
		hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

static bool utf8_valid(const unsigned char *p, size_t n)
{
	for (size_t i = 0, k; i < n; i += k) {
		k = utf8_seq(p + i, n - i);
		if (!k)
			return false;
	}
	return true;
}

/* ---- a minimal RFC 8259 validator ----------------------------------------------------------- */

struct json {
	const unsigned char *p, *end;
	int depth;
};

static bool j_value(struct json *j);

static void j_ws(struct json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static bool j_lit(struct json *j, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n))
		return false;
	j->p += n;
	return true;
}

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool j_string(struct json *j)
{
	if (j->p >= j->end || *j->p != '"')
		return false;
	j->p++;
	while (j->p < j->end && *j->p != '"') {
		size_t k;

		if (*j->p < 0x20)
			return false;	/* control characters must be escaped */
		if (*j->p == '\\') {
			j->p++;
			if (j->p >= j->end)
				return false;
			if (*j->p == 'u') {
				if (j->end - j->p < 5 || !is_hex(j->p[1]) || !is_hex(j->p[2]) ||
				    !is_hex(j->p[3]) || !is_hex(j->p[4]))
					return false;
				j->p += 5;
			} else if (strchr("\"\\/bfnrt", *j->p) && *j->p) {
				j->p++;
			} else {
				return false;
			}
			continue;
		}
		k = utf8_seq(j->p, j->end - j->p);
		if (!k)
			return false;
		j->p += k;
	}
	if (j->p >= j->end)
		return false;
	j->p++;
	return true;
}

static bool j_digits(struct json *j)
{
	const unsigned char *start = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > start;
}

static bool j_number(struct json *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (!j_digits(j))
		return false;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!j_digits(j))
			return false;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!j_digits(j))
			return false;
	}
	return true;
}

static bool j_members(struct json *j, char close, bool object)
{
	j->p++;
	j_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return true;
	}
	for (;;) {
		if (object) {
			if (!j_string(j))
				return false;
			j_ws(j);
			if (j->p >= j->end || *j->p != ':')
				return false;
			j->p++;
		}
		if (!j_value(j))
			return false;
		j_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			j_ws(j);
			continue;
		}
		if (j->p < j->end && *j->p == close) {
			j->p++;
			return true;
		}
		return false;
	}
}

static bool j_value(struct json *j)
{
	bool ok;

	j_ws(j);
	if (j->p >= j->end || ++j->depth > 32)
		return false;
	switch (*j->p) {
	case '{':
		ok = j_members(j, '}', true);
		break;
	case '[':
		ok = j_members(j, ']', false);
		break;
	case '"':
		ok = j_string(j);
		break;
	case 't':
		ok = j_lit(j, "true");
		break;
	case 'f':
		ok = j_lit(j, "false");
		break;
	case 'n':
		ok = j_lit(j, "null");
		break;
	default:
		ok = j_number(j);
		break;
	}
	j->depth--;
	return ok;
}

/* One JSON object, then exactly "\n". */
static bool json_line_valid(const char *line, size_t n)
{
	struct json j = { (const unsigned char *)line, (const unsigned char *)line + n - 1, 0 };

	if (n < 3 || line[0] != '{' || line[n - 1] != '\n')
		return false;
	if (!j_value(&j))
		return false;
	return j.p == j.end;
}

/* ---- the target ----------------------------------------------------------------------------- */

static void check_line(const char *buf, int n, bool json)
{
	if (n <= 0 || (size_t)n >= LINE_MAX_BYTES || strlen(buf) != (size_t)n)
		abort();
	/* one line: the only newline (or carriage return) is the last byte */
	if (buf[n - 1] != '\n' || memchr(buf, '\n', n - 1) || memchr(buf, '\r', n))
		abort();
	if (!utf8_valid((const unsigned char *)buf, n))
		abort();
	if (json && !json_line_valid(buf, n))
		abort();
}

/* A buffer of exactly `size` bytes: a line that does not fit is -ENOSPC and "", nothing more. */
static void check_small(const struct span *s, size_t size, int full_len, bool json)
{
	char *buf = malloc(size ? size : 1);
	int n;

	if (!buf)
		return;
	n = json ? printer_format_json(s, buf, size) : printer_format_text(s, buf, size);
	if ((size_t)full_len < size) {
		if (n != full_len)
			abort();
	} else if (n != -ENOSPC || (size && buf[0] != '\0')) {
		abort();
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char line[LINE_MAX_BYTES];
	struct span *s;
	size_t small;
	char dur[64];
	int n;

	if (size < sizeof(*s))
		return 0;
	/* the span on the heap, exactly its size: ASan sees reads past its last field */
	s = malloc(sizeof(*s));
	if (!s)
		return 0;
	memcpy(s, data, sizeof(*s));
	s->error = data[offsetof(struct span, error)] & 1;	/* a bool holds 0 or 1 */
	small = size > sizeof(*s) ? data[sizeof(*s)] * 32 : 0;

	n = printer_format_text(s, line, sizeof(line));
	check_line(line, n, false);
	check_small(s, small, n, false);

	n = printer_format_json(s, line, sizeof(line));
	check_line(line, n, true);
	check_small(s, small, n, true);

	n = printer_format_duration(s->end_ns, dur, sizeof(dur));
	if (n <= 0 || strlen(dur) != (size_t)n)
		abort();
	free(s);
	return 0;
}
