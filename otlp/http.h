/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OTLP/HTTP transport: one POST of a protobuf body (optionally gzip) and what the answer means
 * for the exporter: sent, retry later (connection errors, timeouts, 429, 502, 503, 504,
 * honouring Retry-After) or rejected for good (other statuses). http:// endpoints are served by
 * a small HTTP/1.1 client over a kept-alive connection; https:// ones by libcurl, loaded at run
 * time (curl.h) so that its TLS libraries are not mapped when no endpoint needs them.
 */
#ifndef OBI_OTLP_HTTP_H
#define OBI_OTLP_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "response.h"

enum otlp_outcome {
	OTLP_SENT = 0,
	OTLP_RETRY,    /* transient: the same body may be sent again */
	OTLP_REJECTED, /* permanent for this body */
};

struct otlp_http;

/*
 * url: where to POST. headers: "k=v,..." list (validated by the caller), may be "". gzip: compress.
 * abort_at: a CLOCK_MONOTONIC deadline in ns (0: none) that ends a transfer in progress; may be
 * NULL. An https url loads libcurl: call before other threads start. Returns NULL when out of
 * memory or when libcurl is needed and cannot be loaded (logged).
 */
struct otlp_http *otlp_http_new(const char *url, const char *headers, bool gzip,
				const _Atomic uint64_t *abort_at);
void otlp_http_free(struct otlp_http *h);

/* One POST, at most timeout_ms long. Fills resp (release with otlp_response_free). */
void otlp_http_post(struct otlp_http *h, const uint8_t *body, size_t len, uint64_t timeout_ms,
		    struct otlp_response *resp);

/* err -EINVAL (a url the transport cannot use) and -EPROTONOSUPPORT are permanent, any other
 * error is retried; then the status decides. */
enum otlp_outcome otlp_http_outcome(const struct otlp_response *resp);

/* A source of response bytes: puts up to cap of them in buf and returns how many, 0 at the end
 * of the connection, or -errno. */
typedef ssize_t otlp_http_read_fn(void *ctx, void *buf, size_t cap);

/* The own client's response reader on any source (tests, fuzzing): one answer after 1xx
 * interim ones, framed by Content-Length, chunked encoding or the source's end. Fills resp as
 * far as it got (release with otlp_response_free); *keep: the connection could carry another
 * request. Returns 0, -EPROTO (malformed), -ENODATA (ended early), -E2BIG (a line longer than
 * the client's buffer), -ENOMEM or the source's -errno. */
int otlp_http_read_response(otlp_http_read_fn *read, void *ctx, struct otlp_response *resp,
			    bool *keep);

#endif /* OBI_OTLP_HTTP_H */
