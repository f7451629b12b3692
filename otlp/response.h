/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A receiver's answer to one OTLP POST, as the transport (transport.c) fills it: status or
 * transfer error, Retry-After, Content-Type and the first bytes of the body. What it means for
 * the exporter (sent, retry, rejected) is transport.h's otlp_transport_outcome.
 */
#ifndef OBI_OTLP_RESPONSE_H
#define OBI_OTLP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define OTLP_RESPONSE_MAX (64 * 1024) /* response bytes kept (partial success, errors) */

struct otlp_response {
	long status;		/* HTTP status, 0 when none was received */
	int err;		/* 0, or -errno of the transfer (see otlp_transport_outcome) */
	char error[256];	/* what failed when there is no status, else "" */
	int64_t retry_after_ms; /* Retry-After, -1 when absent */
	uint8_t *body;		/* the first OTLP_RESPONSE_MAX bytes, malloc'ed (may be NULL) */
	size_t body_len, body_cap;
	bool protobuf; /* Content-Type: application/x-protobuf */
	/* OTLP/gRPC, from the headers or trailers */
	int grpc_status;	/* grpc-status, -1 when none came */
	char grpc_message[256]; /* grpc-message, percent-decoded */
	int64_t
	    grpc_retry_ms; /* google.rpc.RetryInfo's delay in grpc-status-details-bin, else -1 */
};

/* Empties resp before a transfer: no status, no body, no Retry-After. */
void otlp_response_init(struct otlp_response *resp);
void otlp_response_free(struct otlp_response *resp);

/* Notes a response header line ("Name: value", line end optional) that matters (Retry-After,
 * Content-Type) in r. */
void otlp_response_header(struct otlp_response *r, const char *line, size_t len);
/* Appends data to r->body, up to OTLP_RESPONSE_MAX bytes in all. */
void otlp_response_body(struct otlp_response *r, const void *data, size_t len);

/* The value of a "Name: value" line when Name matches (any case), without its line end and
 * surrounding spaces, written into out (truncated to size); NULL otherwise. */
const char *otlp_response_header_value(const char *line, size_t len, const char *name, char *out,
				       size_t size);

/* The retry delay (ms) of a google.rpc.RetryInfo in a base64 grpc-status-details-bin value, 0
 * when it has none, -1 when there is no RetryInfo or the value does not decode. */
int64_t otlp_grpc_retry_info_ms(const char *details_b64);

/* A Retry-After value: delay-seconds or an HTTP date (relative to now). -1 when unreadable. */
int64_t otlp_retry_after_ms(const char *value, time_t now);

#endif /* OBI_OTLP_RESPONSE_H */
