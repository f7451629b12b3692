/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OTLP/HTTP transport: one POST of a protobuf body (optionally gzip) with libcurl, and what the
 * answer means for the exporter: sent, retry later (connection errors, timeouts, 429, 502, 503,
 * 504, honouring Retry-After) or rejected for good (other statuses).
 */
#ifndef OBI_OTLP_HTTP_H
#define OBI_OTLP_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define OTLP_RESPONSE_MAX (64 * 1024) /* response bytes kept (partial success, errors) */

enum otlp_outcome {
	OTLP_SENT = 0,
	OTLP_RETRY,    /* transient: the same body may be sent again */
	OTLP_REJECTED, /* permanent for this body */
};

struct otlp_response {
	long status;		/* HTTP status, 0 when none was received */
	int curl_code;		/* CURLE_OK or the transfer's error */
	char error[256];	/* what failed when there is no status, else "" */
	int64_t retry_after_ms; /* Retry-After, -1 when absent */
	uint8_t *body;		/* the first OTLP_RESPONSE_MAX bytes, malloc'ed (may be NULL) */
	size_t body_len;
	bool protobuf; /* Content-Type: application/x-protobuf */
};

struct otlp_http;

/*
 * url: where to POST. headers: "k=v,..." list (validated by config), may be "". gzip: compress.
 * abort_at: a CLOCK_MONOTONIC deadline in ns (0: none) that ends a transfer in progress, read at
 * every progress tick; may be NULL. Returns NULL when libcurl cannot be set up.
 */
struct otlp_http *otlp_http_new(const char *url, const char *headers, bool gzip,
				const _Atomic uint64_t *abort_at);
void otlp_http_free(struct otlp_http *h);

/* One POST, at most timeout_ms long. Fills resp (release with otlp_response_free). */
void otlp_http_post(struct otlp_http *h, const uint8_t *body, size_t len, uint64_t timeout_ms,
		    struct otlp_response *resp);
void otlp_response_free(struct otlp_response *resp);

enum otlp_outcome otlp_http_outcome(const struct otlp_response *resp);

/* A Retry-After value: delay-seconds or an HTTP date (relative to now). -1 when unreadable. */
int64_t otlp_retry_after_ms(const char *value, time_t now);

/* gzip (RFC 1952) of in. Returns 0 or -ENOMEM. */
int otlp_gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len);

/* libcurl's global set-up; call once from the main thread before any other thread starts. */
int otlp_http_global_init(void);

#endif /* OBI_OTLP_HTTP_H */
