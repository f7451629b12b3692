// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for traceparent_parse (core/tracecontext.c), the parser of the W3C
 * traceparent header values obi reads from requests. The input is the header value. Checked
 * against a reference written from the W3C Trace Context level 2 spec (and the kernel's bound
 * on blanks around the value): the parser accepts exactly the valid values, and what it returns
 * prints back to the same characters. The same input, as a tracestate header value, goes to
 * tracestate_combine: checked against a reference of the tracestate grammar.
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

static size_t blanks(const char *s)
{
	size_t n = 0;

	while (s[n] == ' ' || s[n] == '\t')
		n++;
	return n;
}

/* OWS (at most TRACEPARENT_OWS_MAX each side) around "<2 hex version, not ff>-<32 lowercase
 * hex, not all zero>-<16 lowercase hex, not all zero>-<2 hex flags>"; version 00 ends there, a
 * later one may go on with '-' and anything. *value: where the 55 characters start. */
static bool reference_valid(const char *s, const char **value)
{
	size_t lead = blanks(s), len, tail;
	bool trace_nz, parent_nz, unused;

	if (lead > TRACEPARENT_OWS_MAX)
		return false;
	s += lead;
	*value = s;
	len = strlen(s);
	if (len < 55 || !lower_hex(s, 2, &unused) || !strncmp(s, "ff", 2) || s[2] != '-' ||
	    s[35] != '-' || s[52] != '-' || !lower_hex(s + 3, 32, &trace_nz) || !trace_nz ||
	    !lower_hex(s + 36, 16, &parent_nz) || !parent_nz || !lower_hex(s + 53, 2, &unused))
		return false;
	if (strncmp(s, "00", 2) && s[55] == '-')
		return true;
	tail = blanks(s + 55);
	return tail <= TRACEPARENT_OWS_MAX && 55 + tail == len;
}

static void to_hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static bool key_chr(char c)
{
	return strchr("abcdefghijklmnopqrstuvwxyz0123456789_-*/", c) && c;
}

/* simple-key / tenant "@" system, per W3C level 2 */
static bool ref_key(const char *k, size_t n)
{
	size_t at = n, ats = 0;

	for (size_t i = 0; i < n; i++) {
		if (k[i] == '@') {
			at = i;
			ats++;
		} else if (!key_chr(k[i])) {
			return false;
		}
	}
	if (ats > 1)
		return false;
	if (ats == 0)
		return n >= 1 && n <= 256 && k[0] >= 'a' && k[0] <= 'z';
	return at >= 1 && at <= 241 &&
	       ((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= '0' && k[0] <= '9')) &&
	       n - at - 1 >= 1 && n - at - 1 <= 14 && k[at + 1] >= 'a' &&
	       k[at + 1] <= 'z';
}

static bool ref_value(const char *v, size_t n)
{
	if (n < 1 || n > 256 || v[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] < ' ' || v[i] > '~' || v[i] == ',' || v[i] == '=')
			return false;
	return true;
}

/* The members of a list, blanks around them and empty ones dropped; false when one is bad. */
static bool ref_members(const char *s, char m[][600], size_t *count)
{
	const char *p = s;

	*count = 0;
	for (;;) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		const char *eq;

		while (n && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n) {
			eq = memchr(p, '=', n);
			if (!eq || !ref_key(p, eq - p) || !ref_value(eq + 1, n - (eq + 1 - p)) ||
			    *count == 64)
				return false;
			memcpy(m[*count], p, n);
			m[(*count)++][n] = '\0';
		}
		if (!e)
			return true;
		p = e + 1;
	}
}

static void check_tracestate(const char *s, size_t size)
{
	static char in[64][600], kept[64][600];
	char out[TRACESTATE_MAX + 1];
	const char *vals[1] = { s };
	size_t lens[1] = { size }, n_in, n_out, j = 0;
	bool valid;
	int r;

	r = tracestate_combine(vals, lens, 1, out);
	valid = strlen(s) == size && ref_members(s, in, &n_in) && n_in <= TRACESTATE_MEMBERS;
	for (size_t a = 0; valid && a < n_in; a++)
		for (size_t b = 0; valid && b < a; b++)
			valid = strcspn(in[a], "=") != strcspn(in[b], "=") ||
				strncmp(in[a], in[b], strcspn(in[a], "="));
	if (strlen(s) != size)
		return; /* a NUL inside: the header parser never passes one */
	if ((r >= 0) != valid || (r < 0 && out[0]) || (r >= 0 && (size_t)r != strlen(out)))
		abort();
	if (r < 0)
		return;
	/* what is kept: at most 512 bytes of the members, in order, none changed */
	if (r > TRACESTATE_MAX || !ref_members(out, kept, &n_out))
		abort();
	for (size_t i = 0; i < n_out; i++) {
		while (j < n_in && strcmp(in[j], kept[i]))
			j++;
		if (j++ == n_in)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t trace_id[16], parent_id[8], flags = 0;
	const char *value = NULL;
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
	if ((r == 0) != reference_valid(s, &value))
		abort();
	if (r == 0) {
		memcpy(back, value, 3);
		to_hex(trace_id, 16, back + 3);
		back[35] = '-';
		to_hex(parent_id, 8, back + 36);
		back[52] = '-';
		to_hex(&flags, 1, back + 53);
		if (memcmp(back, value, 55) != 0)
			abort();
	}
	check_tracestate(s, size);
	free(s);
	return 0;
}
