/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OTLP/HTTP JSON: the protobuf export request obi encodes (encode.h), rewritten in the protobuf
 * JSON mapping the OTLP specification asks for: lowerCamelCase field names, trace and span ids
 * as hex strings (other bytes base64), enums as integers, 64-bit integers as strings, fields at
 * their default value left out. The message is read back with protobuf-c's code generated from
 * proto/ and walked through its descriptors, the JSON built with cJSON.
 */
#ifndef OBI_OTLP_JSON_H
#define OBI_OTLP_JSON_H

#include <stddef.h>
#include <stdint.h>

enum otlp_json_kind {
	OTLP_JSON_TRACES = 0, /* ExportTraceServiceRequest */
	OTLP_JSON_METRICS,    /* ExportMetricsServiceRequest */
};

/* The JSON of the protobuf request pb (len bytes) in *out (malloc'ed, NUL-terminated, *out_len
 * bytes; release with free). Returns 0, -EINVAL (pb does not decode) or -ENOMEM. */
int otlp_json_request(enum otlp_json_kind kind, const uint8_t *pb, size_t len, char **out,
		      size_t *out_len);

/* A JSON export response's partial success: *rejected (spans or data points) and its message
 * (truncated to msg_size, "" when none). Returns 0, or -EINVAL when body is not such JSON. */
int otlp_json_decode_response(const uint8_t *body, size_t len, int64_t *rejected, char *msg,
			      size_t msg_size);

#endif /* OBI_OTLP_JSON_H */
