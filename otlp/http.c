// SPDX-License-Identifier: Apache-2.0
/* OTLP/HTTP POSTs with libcurl: headers, gzip, timeouts, Retry-After, and their outcome. */
#include "http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "config.h"
#include "log.h"

struct otlp_http {
	CURL *curl; /* reused: keeps the connection alive between exports */
	struct curl_slist *headers;
	bool gzip;
	const _Atomic uint64_t *abort_at;
	char url[CONFIG_URL_MAX + 16];
	char errbuf[CURL_ERROR_SIZE];
	struct otlp_response *resp; /* the transfer in progress */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int otlp_http_global_init(void)
{
	static bool done;

	if (!done && curl_global_init(CURL_GLOBAL_DEFAULT))
		return -EIO;
	done = true;
	return 0;
}

static int add_header(const char *key, const char *value, void *ctx)
{
	struct curl_slist **list = ctx, *grown;
	char line[CONFIG_KV_LIST_MAX + 8];

	/* obi sets these itself; a second copy would confuse the receiver */
	if (!strcasecmp(key, "content-type") || !strcasecmp(key, "content-encoding") ||
	    !strcasecmp(key, "content-length")) {
		log_warn("otlp: ignoring header %s from the configuration (obi sets it)", key);
		return 0;
	}
	/* "Name;" is how curl sends a header with an empty value */
	if (value[0])
		snprintf(line, sizeof(line), "%s: %s", key, value);
	else
		snprintf(line, sizeof(line), "%s;", key);
	grown = curl_slist_append(*list, line);
	if (!grown)
		return -ENOMEM;
	*list = grown;
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct otlp_http *h = ctx;
	struct otlp_response *r = h->resp;
	size_t n = size * nmemb, keep = n;

	if (r->body_len + keep > OTLP_RESPONSE_MAX)
		keep = OTLP_RESPONSE_MAX - r->body_len;
	if (keep) {
		uint8_t *grown = realloc(r->body, r->body_len + keep + 1);

		if (!grown)
			return n;
		memcpy(grown + r->body_len, data, keep);
		r->body = grown;
		r->body_len += keep;
		r->body[r->body_len] = '\0';
	}
	return n;
}

/* "Name: value\r\n" without its line end and surrounding spaces; NULL unless Name matches. */
static const char *header_value(const char *line, size_t len, const char *name, char *out,
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

static size_t on_header(char *line, size_t size, size_t nmemb, void *ctx)
{
	struct otlp_http *h = ctx;
	size_t n = size * nmemb;
	char value[128];

	if (header_value(line, n, "retry-after", value, sizeof(value)))
		h->resp->retry_after_ms = otlp_retry_after_ms(value, time(NULL));
	else if (header_value(line, n, "content-type", value, sizeof(value)))
		h->resp->protobuf = !strncasecmp(value, "application/x-protobuf", 22);
	return n;
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct otlp_http *h = ctx;
	uint64_t deadline = h->abort_at ? atomic_load(h->abort_at) : 0;

	return deadline && mono_ns() >= deadline;
}

struct otlp_http *otlp_http_new(const char *url, const char *headers, bool gzip,
				const _Atomic uint64_t *abort_at)
{
	struct otlp_http *h = calloc(1, sizeof(*h));
	char ua[64];

	if (!h)
		return NULL;
	h->gzip = gzip;
	h->abort_at = abort_at;
	snprintf(h->url, sizeof(h->url), "%s", url);
	h->curl = curl_easy_init();
	h->headers = curl_slist_append(NULL, "Content-Type: application/x-protobuf");
	if (h->headers && gzip)
		h->headers = curl_slist_append(h->headers, "Content-Encoding: gzip");
	/* no "Expect: 100-continue" round trip before larger bodies */
	if (h->headers)
		h->headers = curl_slist_append(h->headers, "Expect:");
	if (!h->curl || !h->headers ||
	    config_parse_kv_list(headers, add_header, &h->headers, NULL, 0)) {
		otlp_http_free(h);
		return NULL;
	}
	snprintf(ua, sizeof(ua), "obi/%s", OBI_VERSION);
	curl_easy_setopt(h->curl, CURLOPT_URL, h->url);
	curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(h->curl, CURLOPT_USERAGENT, ua);
	curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(h->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(h->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h->curl, CURLOPT_XFERINFODATA, h);
	return h;
}

void otlp_http_free(struct otlp_http *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->headers);
	free(h);
}

void otlp_http_post(struct otlp_http *h, const uint8_t *body, size_t len, uint64_t timeout_ms,
		    struct otlp_response *resp)
{
	uint8_t *zipped = NULL;
	size_t zlen = 0;
	CURLcode rc;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after_ms = -1;
	if (h->gzip) {
		if (otlp_gzip(body, len, &zipped, &zlen)) {
			resp->curl_code = CURLE_OUT_OF_MEMORY;
			snprintf(resp->error, sizeof(resp->error), "gzip: out of memory");
			return;
		}
		body = zipped;
		len = zlen;
	}
	h->resp = resp;
	h->errbuf[0] = '\0';
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, (const char *)body);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	rc = curl_easy_perform(h->curl);
	resp->curl_code = rc;
	if (rc == CURLE_OK) {
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	} else {
		resp->status = 0;
		snprintf(resp->error, sizeof(resp->error), "%s",
			 rc == CURLE_ABORTED_BY_CALLBACK ? "cancelled at exit"
			 : h->errbuf[0]			 ? h->errbuf
							 : curl_easy_strerror(rc));
	}
	h->resp = NULL;
	free(zipped);
}

void otlp_response_free(struct otlp_response *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
}

enum otlp_outcome otlp_http_outcome(const struct otlp_response *r)
{
	if (r->curl_code != CURLE_OK) {
		switch (r->curl_code) {
		case CURLE_URL_MALFORMAT:
		case CURLE_UNSUPPORTED_PROTOCOL:
		case CURLE_NOT_BUILT_IN:
			return OTLP_REJECTED;
		default:
			return OTLP_RETRY; /* connection refused, reset, timeout, DNS ... */
		}
	}
	if (r->status >= 200 && r->status < 300)
		return OTLP_SENT;
	switch (r->status) {
	case 429:
	case 502:
	case 503:
	case 504:
		return OTLP_RETRY;
	}
	return OTLP_REJECTED;
}

int64_t otlp_retry_after_ms(const char *value, time_t now)
{
	const char *p = value;
	int64_t secs = 0;
	time_t when;

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
	when = curl_getdate(value, NULL);
	if (when == -1)
		return -1;
	return when > now ? (int64_t)(when - now) * 1000 : 0;
}

int otlp_gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	z_stream z = {0};
	uLong bound;
	int ret;

	*out = NULL;
	*out_len = 0;
	/* 15 + 16: gzip wrapper instead of zlib's */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return -ENOMEM;
	bound = deflateBound(&z, (uLong)len);
	*out = malloc(bound);
	if (!*out) {
		deflateEnd(&z);
		return -ENOMEM;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = *out;
	z.avail_out = (uInt)bound;
	ret = deflate(&z, Z_FINISH);
	*out_len = z.total_out;
	deflateEnd(&z);
	if (ret != Z_STREAM_END) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}
