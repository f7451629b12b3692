// SPDX-License-Identifier: Apache-2.0
/* SQL statement text for spans: literals hidden, operation and main table found by a scan of
 * tokens (no parser: what a simple scan cannot tell is left empty). */
#include "sql.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '$' || (unsigned char)c >= 0x80;
}

/* The end of a quoted string starting at q[i] (the quote), '' and \' (E'') escapes kept in. */
static size_t skip_quoted(const char *q, size_t len, size_t i, bool backslash)
{
	char quote = q[i++];

	while (i < len) {
		if (backslash && q[i] == '\\') {
			i += 2;
			continue;
		}
		if (q[i] == quote) {
			if (i + 1 < len && q[i + 1] == quote) {
				i += 2;
				continue;
			}
			return i + 1;
		}
		i++;
	}
	return len;
}

/* A dollar quote's tag at q[i] ("$$" or "$tag$"): its length, 0 when it is not one. */
static size_t dollar_tag(const char *q, size_t len, size_t i)
{
	size_t j = i + 1;

	if (j < len && q[j] >= '0' && q[j] <= '9')
		return 0;	/* $1: a placeholder */
	while (j < len && is_ident(q[j]) && q[j] != '$')
		j++;
	return j < len && q[j] == '$' ? j + 1 - i : 0;
}

static size_t skip_dollar(const char *q, size_t len, size_t i, size_t tag)
{
	for (size_t j = i + tag; j + tag <= len; j++)
		if (!memcmp(q + j, q + i, tag))
			return j + tag;
	return len;
}

void sql_sanitize(const char *q, size_t len, char *out, size_t size)
{
	size_t i = 0, n = 0, tag;
	bool space = false;

#define PUT(c)                              \
	do {                                \
		if (n + 1 < size)           \
			out[n++] = (c);     \
	} while (0)
	if (!size)
		return;
	while (i < len && q[i]) {
		char c = q[i];
		bool prev_ident;

		if (is_space(c)) {
			space = n > 0;
			i++;
			continue;
		}
		if (space) {
			PUT(' ');
			space = false;
		}
		prev_ident = n > 0 && is_ident(out[n - 1]);	/* "t1" is a name, "LIMIT 1" a literal */
		if (c == '\'' || ((c == 'E' || c == 'e') && i + 1 < len && q[i + 1] == '\'' &&
				  !prev_ident)) {
			bool esc = c != '\'';

			i = skip_quoted(q, len, esc ? i + 1 : i, esc);
			PUT('?');
		} else if (c == '$' && (tag = dollar_tag(q, len, i))) {
			i = skip_dollar(q, len, i, tag);
			PUT('?');
		} else if (c >= '0' && c <= '9' && !prev_ident) {
			while (i < len && (is_ident(q[i]) || q[i] == '.'))
				i++;	/* 42, 3.14, 1e5, 0x1f */
			PUT('?');
		} else if (c == '"' ) {
			size_t end = skip_quoted(q, len, i, false);	/* a quoted identifier */

			for (; i < end; i++)
				PUT(q[i]);
		} else {
			PUT(c);
			i++;
		}
	}
	out[n] = '\0';
#undef PUT
}

/* The next word of s (an identifier, possibly schema-qualified or quoted) at *p. */
static size_t next_word(const char *s, size_t *p, char *out, size_t size)
{
	size_t i = *p, n = 0;

	while (s[i] && is_space(s[i]))
		i++;
	while (s[i] && (is_ident(s[i]) || s[i] == '.' || s[i] == '"')) {
		if (s[i] != '"' && n + 1 < size)
			out[n++] = s[i];
		i++;
	}
	if (!n && s[i] && !is_space(s[i]))
		i++;	/* punctuation is a word of its own, kept empty */
	out[n] = '\0';
	*p = i;
	return n;
}

static void upper(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'z')
			*s -= 'a' - 'A';
}

/* The word after the first `after` keyword at nesting depth 0 from *p on. */
static void table_after(const char *q, size_t p, const char *after, char *out, size_t size)
{
	char w[128];
	int depth = 0;

	while (q[p]) {
		if (is_space(q[p])) {
			p++;
			continue;
		}
		if (q[p] == '(') {
			depth++;
			p++;
			continue;
		}
		if (q[p] == ')') {
			depth--;
			p++;
			continue;
		}
		if (!next_word(q, &p, w, sizeof(w)))
			continue;
		if (depth == 0 && !strcasecmp(w, after)) {
			next_word(q, &p, out, size);
			if (!strcasecmp(out, "ONLY"))
				next_word(q, &p, out, size);
			return;
		}
	}
}

void sql_operation(const char *q, char *op, size_t op_size, char *collection,
		   size_t collection_size)
{
	size_t p = 0;

	collection[0] = '\0';
	next_word(q, &p, op, op_size);
	upper(op);
	if (!strcmp(op, "WITH")) {
		/* WITH x AS (...) SELECT ... FROM t: the first FROM outside the parentheses */
		table_after(q, p, "FROM", collection, collection_size);
	}
	if (!strcmp(op, "SELECT") || !strcmp(op, "DELETE"))
		table_after(q, p, "FROM", collection, collection_size);
	else if (!strcmp(op, "INSERT") || !strcmp(op, "REPLACE"))
		table_after(q, p, "INTO", collection, collection_size);
	else if (!strcmp(op, "UPDATE") && next_word(q, &p, collection, collection_size) &&
		 !strcasecmp(collection, "ONLY"))
		next_word(q, &p, collection, collection_size);
	if (collection[0] == '?' || collection[0] == '$')
		collection[0] = '\0';
}
