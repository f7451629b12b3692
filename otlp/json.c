// SPDX-License-Identifier: Apache-2.0
/* OTLP/JSON: protobuf-c's descriptors walked into cJSON objects (see json.h). */
#include "json.h"

#include <cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_service.pb-c.h"
#include "trace_service.pb-c.h"

static cJSON *message_json(const ProtobufCMessage *m);

/* snake_case → lowerCamelCase, as protoc derives json_name. */
static void json_name(const char *name, char *out, size_t size)
{
	size_t k = 0;
	bool up = false;

	for (; *name && k + 1 < size; name++) {
		if (*name == '_') {
			up = true;
			continue;
		}
		out[k++] = up && *name >= 'a' && *name <= 'z' ? (char)(*name - 'a' + 'A') : *name;
		up = false;
	}
	out[k] = '\0';
}

/* OTLP's ids are hex; any other bytes field base64, as the protobuf JSON mapping says. */
static cJSON *bytes_json(const char *field, const ProtobufCBinaryData *b)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	bool hex = !strcmp(field, "trace_id") || !strcmp(field, "span_id") ||
		   !strcmp(field, "parent_span_id");
	char *s = malloc(b->len * 2 + 4);
	size_t i, k = 0;
	cJSON *j;

	if (!s)
		return NULL;
	for (i = 0; hex && i < b->len; i++)
		k += (size_t)sprintf(s + k, "%02x", b->data[i]);
	for (i = 0; !hex && i < b->len; i += 3) {
		uint32_t v = (uint32_t)b->data[i] << 16;

		v |= i + 1 < b->len ? (uint32_t)b->data[i + 1] << 8 : 0;
		v |= i + 2 < b->len ? b->data[i + 2] : 0;
		s[k++] = b64[v >> 18 & 63];
		s[k++] = b64[v >> 12 & 63];
		s[k++] = i + 1 < b->len ? b64[v >> 6 & 63] : '=';
		s[k++] = i + 2 < b->len ? b64[v & 63] : '=';
	}
	s[k] = '\0';
	j = cJSON_CreateString(s);
	free(s);
	return j;
}

static cJSON *double_json(double d)
{
	/* the mapping's names for what JSON numbers cannot hold */
	if (isnan(d))
		return cJSON_CreateString("NaN");
	if (isinf(d))
		return cJSON_CreateString(d > 0 ? "Infinity" : "-Infinity");
	return cJSON_CreateNumber(d);
}

static cJSON *int64_json(const char *fmt, uint64_t bits)
{
	char s[24];

	snprintf(s, sizeof(s), fmt, bits);
	return cJSON_CreateString(s);
}

/* One value of field f at p. */
static cJSON *value_json(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		return cJSON_CreateNumber(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return cJSON_CreateNumber(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return int64_json("%" PRId64, *(const uint64_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return int64_json("%" PRIu64, *(const uint64_t *)p);
	case PROTOBUF_C_TYPE_FLOAT:
		return double_json(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return double_json(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return cJSON_CreateBool(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_STRING:
		return cJSON_CreateString(*(char *const *)p ? *(char *const *)p : "");
	case PROTOBUF_C_TYPE_BYTES:
		return bytes_json(f->name, p);
	case PROTOBUF_C_TYPE_MESSAGE:
		return message_json(*(ProtobufCMessage *const *)p);
	}
	return NULL;
}

static size_t value_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	default:
		return 4;
	}
}

/* A proto3 field without presence at its default: left out, as proto3 JSON does. */
static bool is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
	static const uint8_t zero[16];

	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		return !*(char *const *)p || !**(char *const *)p;
	case PROTOBUF_C_TYPE_MESSAGE:
		return !*(void *const *)p;
	case PROTOBUF_C_TYPE_BYTES:
		return !((const ProtobufCBinaryData *)p)->len;
	default:
		return !memcmp(p, zero, value_size(f));
	}
}

/* Whether field f of m is there, and where its value (or array) is; *count for a repeated one. */
static bool field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
			  const void **p, size_t *count)
{
	const char *base = (const char *)m;

	*p = base + f->offset;
	*count = 1;
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		*count = *(const size_t *)(base + f->quantifier_offset);
		*p = *(void *const *)*p;
		return *count > 0;
	}
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
	    f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING)
		return *(const protobuf_c_boolean *)(base + f->quantifier_offset);
	return !is_default(f, *p);
}

static cJSON *field_json(const ProtobufCFieldDescriptor *f, const void *p, size_t count)
{
	cJSON *arr;
	size_t i;

	if (f->label != PROTOBUF_C_LABEL_REPEATED)
		return value_json(f, p);
	arr = cJSON_CreateArray();
	for (i = 0; arr && i < count; i++) {
		cJSON *v = value_json(f, (const char *)p + i * value_size(f));

		if (!v || !cJSON_AddItemToArray(arr, v)) {
			cJSON_Delete(v);
			cJSON_Delete(arr);
			return NULL;
		}
	}
	return arr;
}

static cJSON *message_json(const ProtobufCMessage *m)
{
	cJSON *obj = cJSON_CreateObject();
	unsigned i;

	for (i = 0; obj && i < m->descriptor->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &m->descriptor->fields[i];
		const void *p;
		size_t count;
		char name[64];
		cJSON *v;

		if (!field_present(m, f, &p, &count))
			continue;
		v = field_json(f, p, count);
		json_name(f->name, name, sizeof(name));
		if (!v || !cJSON_AddItemToObject(obj, name, v)) {
			cJSON_Delete(v);
			cJSON_Delete(obj);
			return NULL;
		}
	}
	return obj;
}

int otlp_json_request(enum otlp_json_kind kind, const uint8_t *pb, size_t len, char **out,
		      size_t *out_len)
{
	const ProtobufCMessageDescriptor *d =
	    kind == OTLP_JSON_TRACES
		? &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor
		: &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor;
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, pb);
	cJSON *j;

	*out = NULL;
	if (!m)
		return -EINVAL;
	j = message_json(m);
	protobuf_c_message_free_unpacked(m, NULL);
	if (j)
		*out = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!*out)
		return -ENOMEM;
	*out_len = strlen(*out);
	return 0;
}

int otlp_json_decode_response(const uint8_t *body, size_t len, int64_t *rejected, char *msg,
			      size_t msg_size)
{
	cJSON *j = cJSON_ParseWithLength((const char *)body, len), *ps, *n, *e;

	*rejected = 0;
	if (msg_size)
		msg[0] = '\0';
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return -EINVAL;
	}
	ps = cJSON_GetObjectItemCaseSensitive(j, "partialSuccess");
	n = cJSON_GetObjectItemCaseSensitive(ps, "rejectedSpans");
	if (!n)
		n = cJSON_GetObjectItemCaseSensitive(ps, "rejectedDataPoints");
	/* int64 as a string, as the mapping writes it, or a plain number */
	if (cJSON_IsString(n))
		*rejected = strtoll(n->valuestring, NULL, 10);
	else if (cJSON_IsNumber(n))
		*rejected = (int64_t)n->valuedouble;
	e = cJSON_GetObjectItemCaseSensitive(ps, "errorMessage");
	if (cJSON_IsString(e) && msg_size)
		snprintf(msg, msg_size, "%s", e->valuestring);
	cJSON_Delete(j);
	return 0;
}
