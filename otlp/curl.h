/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The https:// transport: libcurl (and through it a TLS library) loaded with dlopen the first
 * time an https endpoint is configured, so that obi maps neither when every endpoint is plain
 * http://. Its headers are needed to build (libcurl4-openssl-dev), libcurl.so.4 only to run
 * with https endpoints.
 */
#ifndef OBI_OTLP_CURL_H
#define OBI_OTLP_CURL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "response.h"

struct otlp_curl;

/* url: the endpoint. headers: n "Name: value" lines sent with every POST. Loads libcurl on
 * first use (call before other threads start). Returns 0, -ENOENT when libcurl cannot be
 * loaded (logged), or -ENOMEM. */
int otlp_curl_new(const char *url, const char *const *headers, size_t n,
		  const _Atomic uint64_t *abort_at, struct otlp_curl **out);
void otlp_curl_free(struct otlp_curl *c);

/* One POST of body, at most timeout_ms long; fills resp (status, err, error, the rest through
 * otlp_response_header/_body). */
void otlp_curl_post(struct otlp_curl *c, const uint8_t *body, size_t len, uint64_t timeout_ms,
		    struct otlp_response *resp);

#endif /* OBI_OTLP_CURL_H */
