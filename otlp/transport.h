/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OTLP transport: one POST of an encoded body (optionally gzip) through libcurl, for http://
 * and https:// alike, and what the answer means for the exporter: sent, retry later (connection
 * errors, timeouts, 429, 502, 503, 504, honouring Retry-After) or rejected for good (other
 * statuses). Each transport owns a libcurl multi handle driven on the caller's thread (the
 * exporter's), so the connection is kept between exports, name resolution runs in libcurl's
 * resolver thread under the same timeout as the transfer, a transfer in progress ends when
 * abort_at passes, and proxies (HTTP(S)_PROXY, NO_PROXY) apply as libcurl reads them.
 */
#ifndef OBI_OTLP_TRANSPORT_H
#define OBI_OTLP_TRANSPORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "response.h"

/* How a body travels. */
enum otlp_wire {
	OTLP_WIRE_PROTOBUF = 0, /* OTLP/HTTP, application/x-protobuf */
	OTLP_WIRE_JSON,		/* OTLP/HTTP, application/json */
	OTLP_WIRE_GRPC,		/* OTLP/gRPC: HTTP/2, length-prefixed message, grpc-status */
};

enum otlp_outcome {
	OTLP_SENT = 0,
	OTLP_RETRY,    /* transient: the same body may be sent again */
	OTLP_REJECTED, /* permanent for this body */
};

struct otlp_transport;

/* TLS files (PEM) for https://; NULL or "" fields: libcurl's defaults. */
struct otlp_tls {
	const char *certificate, *client_certificate, *client_key;
	bool skip_verify;	/* neither the certificate chain nor the host name is checked */
};

/*
 * url: where to POST. headers: "k=v,..." list (validated by the caller), may be "". gzip:
 * compress. wire: see above; for OTLP_WIRE_GRPC the POST goes to url's scheme://host:port
 * followed by grpc_method ("/package.Service/Method"), h2c with prior knowledge for http://,
 * HTTP/2 negotiated by ALPN for https://. abort_at: a CLOCK_MONOTONIC deadline in ns (0: none) that
 * ends a transfer in progress; may be NULL. Sets libcurl up on first use: call before other threads
 * start. Returns NULL when out of memory or when libcurl cannot be set up (logged).
 */
struct otlp_transport *otlp_transport_new(const char *url, const char *headers, bool gzip,
					  enum otlp_wire wire, const char *grpc_method,
					  const struct otlp_tls *tls, const _Atomic uint64_t *abort_at);
void otlp_transport_free(struct otlp_transport *t);

/* One POST, at most timeout_ms long, name resolution and connection included. Fills resp
 * (release with otlp_response_free). */
void otlp_transport_post(struct otlp_transport *t, const uint8_t *body, size_t len,
			 uint64_t timeout_ms, struct otlp_response *resp);

/* err -EINVAL (a url the transport cannot use) and -EPROTONOSUPPORT are permanent, any other
 * error is retried; then the HTTP status decides and, for gRPC, grpc-status as the OTLP
 * specification says: OK sent; CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE,
 * UNAVAILABLE, DATA_LOSS retried; RESOURCE_EXHAUSTED retried only with a RetryInfo (its delay
 * then in retry_after_ms); any other code (or none) rejected. */
enum otlp_outcome otlp_transport_outcome(const struct otlp_response *resp);

#endif /* OBI_OTLP_TRANSPORT_H */
