// SPDX-License-Identifier: Apache-2.0
/* W3C Trace Context: the traceparent header's value. */
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

int traceparent_parse(const char *s, uint8_t trace_id[16], uint8_t parent_id[8], uint8_t *flags)
{
	uint8_t f;

	/* version 00 is exactly 55 characters: 00-32hex-16hex-2hex */
	if (strlen(s) != 55 || s[0] != '0' || s[1] != '0' || s[2] != '-' || s[35] != '-' ||
	    s[52] != '-')
		return -EINVAL;
	if (parse_hex(s + 3, trace_id, 16) || parse_hex(s + 36, parent_id, 8))
		return -EINVAL;
	if (hexval(s[53]) < 0 || hexval(s[54]) < 0)
		return -EINVAL;
	f = hexval(s[53]) << 4 | hexval(s[54]);
	*flags = f;
	return 0;
}
