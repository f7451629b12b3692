// SPDX-License-Identifier: Apache-2.0
/* W3C Trace Context (level 2): the traceparent and tracestate headers' values. */
#include "tracecontext.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;	/* W3C: lowercase only */
}

static int parse_hex(const char *s, uint8_t *out, size_t n)
{
	bool nonzero = false;

	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = hi << 4 | lo;
		nonzero = nonzero || out[i];
	}
	return nonzero ? 0 : -EINVAL;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Past at most TRACEPARENT_OWS_MAX blanks at s; NULL when there are more. */
static const char *skip_ows(const char *s)
{
	for (int i = 0; i < TRACEPARENT_OWS_MAX && is_ows(*s); i++)
		s++;
	return is_ows(*s) ? NULL : s;
}

int traceparent_parse(const char *s, uint8_t trace_id[16], uint8_t parent_id[8], uint8_t *flags)
{
	const char *end;

	s = skip_ows(s);
	if (!s || strnlen(s, 55) != 55 || s[2] != '-' || s[35] != '-' || s[52] != '-')
		return -EINVAL;
	if (hexval(s[0]) < 0 || hexval(s[1]) < 0 || (s[0] == 'f' && s[1] == 'f'))
		return -EINVAL;
	if (parse_hex(s + 3, trace_id, 16) || parse_hex(s + 36, parent_id, 8))
		return -EINVAL;
	if (hexval(s[53]) < 0 || hexval(s[54]) < 0)
		return -EINVAL;
	/* a later version may go on with "-<more fields>"; 00 ends here */
	if (!(memcmp(s, "00", 2) && s[55] == '-')) {
		end = skip_ows(s + 55);
		if (!end || *end)
			return -EINVAL;
	}
	*flags = hexval(s[53]) << 4 | hexval(s[54]);
	return 0;
}

/* tracestate grammar (W3C Trace Context level 2, 3.3.1.3):
 *   key       = simple-key / tenant-id "@" system-id
 *   simple-key = lcalpha 0*255( lcalpha / DIGIT / "_" / "-" / "*" / "/" )
 *   tenant-id = ( lcalpha / DIGIT ) 0*240( lcalpha / DIGIT / "_" / "-" / "*" / "/" )
 *   system-id = lcalpha 0*13( lcalpha / DIGIT / "_" / "-" / "*" / "/" )
 *   value     = 0*255( %x20 / nblk-chr ) nblk-chr;  nblk-chr = %x21-2B / %x2D-3C / %x3E-7E */
static bool key_chr(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	       c == '*' || c == '/';
}

static bool key_valid(const char *k, size_t n)
{
	const char *at = memchr(k, '@', n);
	size_t tenant = at ? (size_t)(at - k) : n, system = at ? n - tenant - 1 : 0;

	if (!at ? n < 1 || n > 256 || !(k[0] >= 'a' && k[0] <= 'z')
		: tenant < 1 || tenant > 241 || system < 1 || system > 14 ||
			  !(at[1] >= 'a' && at[1] <= 'z') ||
			  !((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= '0' && k[0] <= '9')))
		return false;
	for (size_t i = 0; i < n; i++)
		if (k + i != at && !key_chr(k[i]))
			return false;
	return true;
}

static bool value_valid(const char *v, size_t n)
{
	if (n < 1 || n > 256 || v[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e || v[i] == ',' || v[i] == '=')
			return false;
	return true;
}

struct member {
	const char *p;
	size_t len, key_len;
};

/* Splits one header value into members; false when one is invalid or there are too many. */
static bool split_members(const char *v, size_t n, struct member *m, size_t *count)
{
	const char *end = v + n;

	while (v <= end) {
		const char *comma = memchr(v, ',', end - v), *e = comma ? comma : end;
		const char *eq;

		while (v < e && is_ows(*v))
			v++;
		while (e > v && is_ows(e[-1]))
			e--;
		if (v < e) {
			eq = memchr(v, '=', e - v);
			if (*count == TRACESTATE_MEMBERS || !eq || !key_valid(v, eq - v) ||
			    !value_valid(eq + 1, e - eq - 1))
				return false;
			m[(*count)++] = (struct member){ v, e - v, eq - v };
		}
		if (!comma)
			break;
		v = comma + 1;
	}
	return true;
}

int tracestate_combine(const char *const *vals, const size_t *lens, size_t n, char *out)
{
	struct member m[TRACESTATE_MEMBERS];
	size_t count = 0, total = 0, len = 0;
	bool drop_long;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!split_members(vals[i], lens[i], m, &count))
			return -EINVAL;
	for (size_t i = 0; i < count; i++) {
		for (size_t j = 0; j < i; j++)
			if (m[j].key_len == m[i].key_len && !memcmp(m[j].p, m[i].p, m[i].key_len))
				return -EINVAL; /* a key may appear once */
		total += m[i].len + (i > 0);
	}
	/* too long: members over 128 bytes go first, then the last ones */
	drop_long = total > TRACESTATE_MAX;
	for (size_t i = 0; i < count; i++) {
		if (drop_long && m[i].len > 128)
			continue;
		if (len + (len > 0) + m[i].len > TRACESTATE_MAX)
			break;
		if (len > 0)
			out[len++] = ',';
		memcpy(out + len, m[i].p, m[i].len);
		len += m[i].len;
	}
	out[len] = '\0';
	return (int)len;
}
