/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Spans and metric series as OTLP protobuf request bodies (ExportTraceServiceRequest,
 * ExportMetricsServiceRequest), grouped by process: one ResourceSpans / ResourceMetrics per
 * resource, one scope (obi, its version). Attribute names follow the OpenTelemetry semantic
 * conventions for HTTP; strings taken from traffic are made valid UTF-8. The encoder writes
 * the protobuf wire format itself (pb.h) with the field numbers of proto/; one thread at a time
 * uses an encoder.
 */
#ifndef OBI_OTLP_ENCODE_H
#define OBI_OTLP_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "resource.h"
#include "core/span.h"

#define OTLP_SCOPE_NAME "obi"
#define OTLP_SDK_NAME	"obi" /* telemetry.sdk.name and telemetry.distro.name */

struct otlp_encoder;

/*
 * resource_attributes: OTEL_RESOURCE_ATTRIBUTES ("k=v,..." already validated, may be NULL),
 * added to every resource unless obi sets the key itself. host_name: NULL for gethostname().
 */
struct otlp_encoder *otlp_encoder_new(const char *resource_attributes, const char *host_name);
void otlp_encoder_free(struct otlp_encoder *enc);

struct otlp_span_ref {
	const struct span *span;
	const struct otlp_resource *res;
};

/* Encodes n spans as an ExportTraceServiceRequest into the encoder's buffer: *out stays valid
 * until the next encode with enc. Returns 0 or -ENOMEM. */
int otlp_encode_traces(struct otlp_encoder *enc, const struct otlp_span_ref *spans, size_t n,
		       const uint8_t **out, size_t *len);

/* Encodes n series as an ExportMetricsServiceRequest stamped now_unix_ns, as above. */
int otlp_encode_metrics(struct otlp_encoder *enc, const struct otlp_series *series, size_t n,
			uint64_t now_unix_ns, const uint8_t **out, size_t *len);

/* Reads a receiver's answer (Export{Trace,Metrics}ServiceResponse): rejected spans or data
 * points and its message (partial success). Returns 0, or -EINVAL when the body does not
 * decode. */
int otlp_decode_response(const uint8_t *body, size_t len, int64_t *rejected, char *msg,
			 size_t msg_size);

/* The metrics obi records: one per span kind, family and histogram, with its OTel name, unit
 * and description. */
struct otlp_metric_def {
	enum span_kind kind;
	enum otlp_family family;
	enum otlp_hist_id hist;
	const char *name, *unit, *description;
};

extern const struct otlp_metric_def otlp_metric_defs[];
extern const size_t otlp_metric_def_count;

/* Length of the valid UTF-8 sequence at s (at most n bytes, n > 0), 0 when invalid. */
size_t otlp_utf8_seq(const unsigned char *s, size_t n);

/* One attribute as text (integers in decimal). */
typedef void (*otlp_attr_fn)(void *ctx, const char *key, const char *value);

/* The attributes of r's resource, as the encoder writes them (OTEL_RESOURCE_ATTRIBUTES last,
 * but for the keys obi sets itself). */
void otlp_encoder_resource_attrs(const struct otlp_encoder *enc, const struct otlp_resource *r,
				 otlp_attr_fn fn, void *ctx);

/* Span name: "METHOD route", "METHOD" when the route is unknown, "HTTP" for unknown methods. */
void otlp_span_name(const struct span *s, char *out, size_t size);
/* Status ERROR: no response, a server answering >= 500, a client receiving >= 400. */
bool otlp_span_is_error(const struct span *s);

#endif /* OBI_OTLP_ENCODE_H */
