/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A protobuf wire-format writer into one growable buffer, reused from request to request.
 * Scalars and strings are appended as they come; a nested message gets a length slot sized
 * from a hint (pb_begin) that pb_end fills in once the content is written, moving the content
 * only when the hint was wrong. A failed allocation sticks (pb_buf.failed) and later writes
 * are dropped, so callers check once at the end.
 */
#ifndef OBI_OTLP_PB_H
#define OBI_OTLP_PB_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum pb_wire {
	PB_VARINT = 0,
	PB_I64 = 1,
	PB_LEN = 2,
	PB_I32 = 5,
};

struct pb_buf {
	uint8_t *data;
	size_t len, cap;
	bool failed;
};

/* Makes room for n more bytes; false (and failed set) when out of memory. */
bool pb_grow(struct pb_buf *b, size_t n);
void pb_free(struct pb_buf *b);

/* Opens a nested message (field, PB_LEN) expected to hold about hint bytes; returns the mark
 * pb_end needs. */
size_t pb_begin(struct pb_buf *b, uint32_t field, size_t hint);
void pb_end(struct pb_buf *b, size_t mark);

static inline void pb_reset(struct pb_buf *b)
{
	b->len = 0;
	b->failed = false;
}

static inline size_t pb_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Writes v at p (room for 10 bytes); returns the bytes written. */
static inline size_t pb_put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static inline bool pb_room(struct pb_buf *b, size_t n)
{
	return b->cap - b->len >= n || pb_grow(b, n);
}

static inline void pb_varint(struct pb_buf *b, uint64_t v)
{
	if (pb_room(b, 10))
		b->len += pb_put_varint(b->data + b->len, v);
}

static inline void pb_tag(struct pb_buf *b, uint32_t field, enum pb_wire wire)
{
	pb_varint(b, (uint64_t)field << 3 | wire);
}

/* An int64/uint64/uint32/enum/bool field (negative int64: ten bytes, as protobuf wants). */
static inline void pb_uint(struct pb_buf *b, uint32_t field, uint64_t v)
{
	pb_tag(b, field, PB_VARINT);
	pb_varint(b, v);
}

static inline void pb_raw(struct pb_buf *b, const void *data, size_t len)
{
	if (pb_room(b, len)) {
		memcpy(b->data + b->len, data, len);
		b->len += len;
	}
}

static inline void pb_fixed64(struct pb_buf *b, uint32_t field, uint64_t v)
{
	uint64_t le = htole64(v);

	pb_tag(b, field, PB_I64);
	pb_raw(b, &le, 8);
}

static inline void pb_fixed32(struct pb_buf *b, uint32_t field, uint32_t v)
{
	uint32_t le = htole32(v);

	pb_tag(b, field, PB_I32);
	pb_raw(b, &le, 4);
}

static inline void pb_double(struct pb_buf *b, uint32_t field, double v)
{
	uint64_t bits;

	memcpy(&bits, &v, 8);
	pb_fixed64(b, field, bits);
}

/* A bytes or string field (the caller vouches for UTF-8). */
static inline void pb_bytes(struct pb_buf *b, uint32_t field, const void *data, size_t len)
{
	pb_tag(b, field, PB_LEN);
	pb_varint(b, len);
	pb_raw(b, data, len);
}

static inline void pb_str(struct pb_buf *b, uint32_t field, const char *s)
{
	pb_bytes(b, field, s, strlen(s));
}

#endif /* OBI_OTLP_PB_H */
