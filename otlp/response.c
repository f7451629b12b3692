// SPDX-License-Identifier: Apache-2.0
/* What an OTLP receiver answered, as the transport fills it: status, Retry-After, Content-Type,
 * gRPC's status, message and RetryInfo, and the first bytes of the body. */
#define _GNU_SOURCE /* strptime */
#include "response.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
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
	resp->grpc_status = -1;
	resp->grpc_retry_ms = -1;
}

static int b64_digit(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' || c == '-' ? 62 : c == '/' || c == '_' ? 63 : -1;
}

/* base64 (padded or not, as gRPC's -bin headers come) into out; returns the length or -1. */
static ssize_t b64_decode(const char *s, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	size_t n = 0;
	int bits = 0, d;

	for (; *s && *s != '='; s++) {
		d = b64_digit(*s);
		if (d < 0)
			return -1;
		acc = acc << 6 | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return -1;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	return (ssize_t)n;
}

static bool pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	unsigned shift = 0;

	*v = 0;
	while (*p < end && shift < 64) {
		uint8_t b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
		shift += 7;
	}
	return false;
}

/* The next field of a protobuf message: its number, and for a length-delimited one where its
 * bytes are (wire types 0 and 2 only: all google.rpc.Status, Any and Duration use). */
static bool pb_next(const uint8_t **p, const uint8_t *end, uint32_t *field, uint64_t *v,
		    const uint8_t **data)
{
	uint64_t key;

	if (!pb_varint(p, end, &key) || !pb_varint(p, end, v))
		return false;
	*field = (uint32_t)(key >> 3);
	if ((key & 7) == 0)
		return true;
	if ((key & 7) != 2 || *v > (uint64_t)(end - *p))
		return false;
	*data = *p;
	*p += *v;
	return true;
}

/* google.protobuf.Duration's milliseconds, -1 when unreadable. */
static int64_t duration_ms(const uint8_t *p, const uint8_t *end)
{
	uint64_t v, s = 0, ns = 0;
	const uint8_t *d;
	uint32_t f;

	while (p < end) {
		if (!pb_next(&p, end, &f, &v, &d))
			return -1;
		if (f == 1)
			s = v;
		else if (f == 2)
			ns = v;
	}
	return s > 86400000 ? -1 : (int64_t)(s * 1000 + ns / 1000000);
}

int64_t otlp_grpc_retry_info_ms(const char *details_b64)
{
	static const char type[] = "type.googleapis.com/google.rpc.RetryInfo";
	uint8_t buf[1024];
	const uint8_t *p = buf, *end, *d = NULL;
	ssize_t n = b64_decode(details_b64, buf, sizeof(buf));
	uint64_t v;
	uint32_t f;

	if (n < 0)
		return -1;
	/* google.rpc.Status { 3: repeated Any details }, Any { 1: type_url, 2: value },
	 * RetryInfo { 1: Duration retry_delay } */
	for (end = buf + n; p < end;) {
		const uint8_t *a, *aend, *url = NULL, *val = NULL;
		uint64_t url_len = 0, val_len = 0;

		if (!pb_next(&p, end, &f, &v, &d))
			return -1;
		if (f != 3 || !d)
			continue;
		for (a = d, aend = d + v; a < aend;) {
			if (!pb_next(&a, aend, &f, &v, &d))
				return -1;
			if (f == 1)
				url = d, url_len = v;
			else if (f == 2)
				val = d, val_len = v;
		}
		if (url && url_len == sizeof(type) - 1 && !memcmp(url, type, url_len)) {
			const uint8_t *r = val, *rend = val + val_len;

			while (val && r < rend) {
				if (!pb_next(&r, rend, &f, &v, &d))
					return -1;
				if (f == 1)
					return duration_ms(d, d + v);
			}
			return 0; /* RetryInfo without a delay */
		}
	}
	return -1;
}

/* grpc-message is percent-encoded. */
static void percent_decode(const char *in, char *out, size_t size)
{
	size_t k = 0;

	for (; *in && k + 1 < size; in++) {
		unsigned c;

		if (*in == '%' && sscanf(in + 1, "%2x", &c) == 1 &&
		    isxdigit((unsigned char)in[1]) && isxdigit((unsigned char)in[2])) {
			out[k++] = (char)c;
			in += 2;
		} else {
			out[k++] = *in;
		}
	}
	out[k] = '\0';
}

void otlp_response_header(struct otlp_response *r, const char *line, size_t len)
{
	char value[128], details[1500];

	if (otlp_response_header_value(line, len, "retry-after", value, sizeof(value)))
		r->retry_after_ms = otlp_retry_after_ms(value, time(NULL));
	else if (otlp_response_header_value(line, len, "content-type", value, sizeof(value)))
		r->protobuf = !strncasecmp(value, "application/x-protobuf", 22);
	else if (otlp_response_header_value(line, len, "grpc-status", value, sizeof(value)))
		r->grpc_status =
		    strspn(value, "0123456789") == strlen(value) && value[0] && strlen(value) < 4
			? atoi(value)
			: 2; /* UNKNOWN */
	else if (otlp_response_header_value(line, len, "grpc-message", value, sizeof(value)))
		percent_decode(value, r->grpc_message, sizeof(r->grpc_message));
	else if (len < 1500 && otlp_response_header_value(line, len, "grpc-status-details-bin",
							  details, sizeof(details)))
		r->grpc_retry_ms = otlp_grpc_retry_info_ms(details);
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
