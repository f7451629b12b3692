// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for traceparent_parse (agent/conn.c), the parser of the W3C traceparent
 * header values obi reads from requests. The input is the header value. Checked against a
 * reference written from the W3C Trace Context spec (version 00): the parser accepts exactly
 * the valid values, and what it returns prints back to the same string.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

static bool lower_hex(const char *s, size_t n, bool *nonzero)
{
	*nonzero = false;
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
		*nonzero = *nonzero || s[i] != '0';
	}
	return true;
}

/* "00-" 32 lowercase hex (not all zero) "-" 16 lowercase hex (not all zero) "-" 2 hex. */
static bool reference_valid(const char *s)
{
	bool trace_nz, parent_nz, unused;

	return strlen(s) == 55 && !strncmp(s, "00-", 3) && s[35] == '-' && s[52] == '-' &&
	       lower_hex(s + 3, 32, &trace_nz) && trace_nz && lower_hex(s + 36, 16, &parent_nz) &&
	       parent_nz && lower_hex(s + 53, 2, &unused);
}

static void to_hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t trace_id[16], parent_id[8], flags = 0;
	char back[64];
	char *s;
	int r;

	/* header values reach the parser as C strings: exactly size + 1 bytes, so ASan sees any
	 * read past the terminator */
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	r = traceparent_parse(s, trace_id, parent_id, &flags);
	if ((r == 0) != reference_valid(s))
		abort();
	if (r == 0) {
		memcpy(back, "00-", 3);
		to_hex(trace_id, 16, back + 3);
		back[35] = '-';
		to_hex(parent_id, 8, back + 36);
		back[52] = '-';
		to_hex(&flags, 1, back + 53);
		if (strcmp(back, s) != 0)
			abort();
	}
	free(s);
	return 0;
}
