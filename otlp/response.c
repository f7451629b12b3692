// SPDX-License-Identifier: Apache-2.0
/* What an OTLP receiver answered, as both transports fill it: status, Retry-After, Content-Type
 * and the first bytes of the body. */
#define _GNU_SOURCE /* strptime */
#include "response.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *otlp_response_header_value(const char *line, size_t len, const char *name, char *out,
				       size_t size)
{
	size_t nlen = strlen(name), vlen;
	const char *v;

	if (len <= nlen || strncasecmp(line, name, nlen) || line[nlen] != ':')
		return NULL;
	v = line + nlen + 1;
	vlen = len - nlen - 1;
	while (vlen && isspace((unsigned char)*v))
		v++, vlen--;
	while (vlen && isspace((unsigned char)v[vlen - 1]))
		vlen--;
	if (vlen >= size)
		vlen = size - 1;
	memcpy(out, v, vlen);
	out[vlen] = '\0';
	return out;
}

void otlp_response_init(struct otlp_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->retry_after_ms = -1;
}

void otlp_response_header(struct otlp_response *r, const char *line, size_t len)
{
	char value[128];

	if (otlp_response_header_value(line, len, "retry-after", value, sizeof(value)))
		r->retry_after_ms = otlp_retry_after_ms(value, time(NULL));
	else if (otlp_response_header_value(line, len, "content-type", value, sizeof(value)))
		r->protobuf = !strncasecmp(value, "application/x-protobuf", 22);
}

void otlp_response_body(struct otlp_response *r, const void *data, size_t len)
{
	size_t keep = len, cap;
	uint8_t *grown;

	if (r->body_len + keep > OTLP_RESPONSE_MAX)
		keep = OTLP_RESPONSE_MAX - r->body_len;
	if (!keep)
		return;
	if (r->body_len + keep + 1 > r->body_cap) {
		/* doubled: a body in many small reads or chunks is not copied once per piece */
		for (cap = r->body_cap ? r->body_cap : 256; cap < r->body_len + keep + 1;)
			cap *= 2;
		if (cap > OTLP_RESPONSE_MAX + 1)
			cap = OTLP_RESPONSE_MAX + 1;
		grown = realloc(r->body, cap);
		if (!grown)
			return;
		r->body = grown;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, keep);
	r->body_len += keep;
	r->body[r->body_len] = '\0';
}

void otlp_response_free(struct otlp_response *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->body_len = resp->body_cap = 0;
}

int64_t otlp_retry_after_ms(const char *value, time_t now)
{
	/* IMF-fixdate, and the obsolete RFC 850 and asctime forms (RFC 9110, 5.6.7) */
	static const char *const formats[] = {"%a, %d %b %Y %H:%M:%S GMT",
					      "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"};
	const char *p = value, *end;
	int64_t secs = 0;
	struct tm tm;
	time_t when;
	size_t i;

	while (isspace((unsigned char)*p))
		p++;
	if (isdigit((unsigned char)*p)) {
		for (; isdigit((unsigned char)*p); p++) {
			if (secs > 86400 * 365)
				return -1;
			secs = secs * 10 + (*p - '0');
		}
		while (isspace((unsigned char)*p))
			p++;
		return *p ? -1 : secs * 1000;
	}
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(p, formats[i], &tm);
		while (end && isspace((unsigned char)*end))
			end++;
		if (!end || *end)
			continue;
		when = timegm(&tm);
		if (when == -1)
			return -1;
		return when > now ? (int64_t)(when - now) * 1000 : 0;
	}
	return -1;
}
