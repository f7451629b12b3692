// SPDX-License-Identifier: Apache-2.0
#include "parse.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

struct parse_item parse_trim(const char *p, const char *end)
{
	while (p < end && is_space(*p))
		p++;
	while (end > p && is_space(end[-1]))
		end--;
	return (struct parse_item){ p, (size_t)(end - p) };
}

struct parse_item parse_next_item(const char **s)
{
	const char *start = *s, *comma = strchr(start, ',');
	const char *end = comma ? comma : start + strlen(start);

	*s = comma ? comma + 1 : NULL;
	return parse_trim(start, end);
}

/* --- "k=v,k2=v2" lists --- */

#define KV_KEY_MAX 256
#define KV_VALUE_MAX 4096

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Copies it into out (size bytes), decoding %XX; rejects bad escapes and control characters. */
static int percent_decode(struct parse_item it, char *out, size_t size, char *why, size_t why_size)
{
	size_t i, n = 0;

	for (i = 0; i < it.len; i++) {
		unsigned char c = (unsigned char)it.p[i];

		if (c == '%') {
			int hi = i + 2 < it.len ? hex_digit(it.p[i + 1]) : -1;
			int lo = hi >= 0 ? hex_digit(it.p[i + 2]) : -1;

			if (lo < 0) {
				snprintf(why, why_size, "bad percent escape in \"%.*s\"",
					 (int)it.len, it.p);
				return -EINVAL;
			}
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f) {
			snprintf(why, why_size, "control character in \"%.*s\"", (int)it.len,
				 it.p);
			return -EINVAL;
		}
		if (n + 1 >= size) {
			snprintf(why, why_size, "\"%.*s\" is longer than %zu bytes", (int)it.len,
				 it.p, size - 1);
			return -EINVAL;
		}
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

int parse_kv_list(const char *s, parse_kv_fn fn, void *ctx, char *why, size_t why_size)
{
	char key[KV_KEY_MAX], value[KV_VALUE_MAX], scratch[256];
	int ret;

	if (!why) {
		why = scratch;
		why_size = sizeof(scratch);
	}
	if (!s || !parse_trim(s, s + strlen(s)).len)
		return 0;
	do {
		struct parse_item it = parse_next_item(&s);
		const char *eq = memchr(it.p, '=', it.len);

		if (!it.len) {
			snprintf(why, why_size, "empty item in the list");
			return -EINVAL;
		}
		if (!eq) {
			snprintf(why, why_size, "\"%.*s\" has no '='", (int)it.len, it.p);
			return -EINVAL;
		}
		if (!parse_trim(it.p, eq).len) {
			snprintf(why, why_size, "empty key in \"%.*s\"", (int)it.len, it.p);
			return -EINVAL;
		}
		ret = percent_decode(parse_trim(it.p, eq), key, sizeof(key), why, why_size);
		if (!ret)
			ret = percent_decode(parse_trim(eq + 1, it.p + it.len), value, sizeof(value), why,
					     why_size);
		if (!ret && fn)
			ret = fn(key, value, ctx);
		if (ret)
			return ret;
	} while (s);
	return 0;
}

/* --- durations --- */

/* One "<number><unit>" piece of a duration; *s advances past it. */
static int duration_piece(const char **s, double *ns)
{
	static const struct {
		const char *name;
		double ns;
	} units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "\xce\xbcs", 1e3 },
		{ "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 },
	};
	const char *p = *s;
	double v = 0, scale = 1;
	bool digits = false;
	size_t i, len;

	for (; *p >= '0' && *p <= '9'; p++, digits = true)
		v = v * 10 + (*p - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, digits = true)
			v += (*p - '0') * (scale /= 10);
	if (!digits)
		return -EINVAL;
	/* the longest unit name that matches ("ms" before "m") */
	for (i = 0, len = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t n = strlen(units[i].name);

		if (n > len && !strncmp(p, units[i].name, n)) {
			len = n;
			*ns = v * units[i].ns;
		}
	}
	if (!len)
		return -EINVAL;
	*s = p + len;
	return 0;
}

int parse_duration(const char *s, uint64_t *ns)
{
	double total = 0, piece;
	struct parse_item it = parse_trim(s, s + strlen(s));
	char buf[64];
	const char *p = buf;

	if (!it.len || it.len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, it.p, it.len);
	buf[it.len] = '\0';
	if (!strcmp(buf, "0")) {
		*ns = 0;
		return 0;
	}
	while (*p) {
		if (duration_piece(&p, &piece))
			return -EINVAL;
		total += piece;
	}
	if (total >= 1.8e19)
		return -ERANGE;
	*ns = (uint64_t)(total + 0.5);
	return 0;
}
