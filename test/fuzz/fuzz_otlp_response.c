// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for what obi reads back from an OTLP/HTTP receiver: the HTTP/1.1 client's
 * response reader (otlp_http_read_response, otlp/http.c) and the partial-success decoder
 * (otlp_decode_response, otlp/encode.c). The answer arrives in reads whose sizes the input
 * chooses, as a socket would deliver it, and must parse exactly as when it arrives whole.
 *
 * Input: plan byte, seed byte, then the bytes the receiver sends. plan bits 0-2: the largest
 * read (read_max), bit 3: read sizes vary between 1 and that (xorshift from seed), bit 4: the
 * connection ends with ECONNRESET rather than an orderly close, bits 5-7: the decoder's message
 * buffer size (msg_sizes).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "encode.h"
#include "http.h"

static const size_t read_max[] = {1, 2, 3, 7, 16, 100, 4096, SIZE_MAX};
static const size_t msg_sizes[] = {256, 0, 1, 2, 7, 16, 64, 1024};

struct source {
	const uint8_t *p;
	size_t left, fed;
	size_t max;   /* largest read */
	uint32_t rng; /* 0: every read is max (or what is left) */
	int end;      /* what a read returns once everything was fed */
	bool ended;
};

static ssize_t source_read(void *ctx, void *buf, size_t cap)
{
	struct source *s = ctx;
	size_t n = cap < s->left ? cap : s->left;

	/* a read of 0 bytes would look like the end; after the end nothing may be asked */
	if (!cap || s->ended)
		abort();
	if (!n) {
		s->ended = true;
		return s->end;
	}
	if (s->rng) {
		s->rng ^= s->rng << 13;
		s->rng ^= s->rng >> 17;
		s->rng ^= s->rng << 5;
		if (n > 1 + s->rng % s->max)
			n = 1 + s->rng % s->max;
	} else if (n > s->max) {
		n = s->max;
	}
	memcpy(buf, s->p, n);
	s->p += n;
	s->left -= n;
	s->fed += n;
	return (ssize_t)n;
}

/* What the exporter may rely on, whatever the bytes were. */
static void check(const struct otlp_response *r, int err, bool keep, size_t fed)
{
	if (err && err != -EPROTO && err != -ENODATA && err != -E2BIG && err != -ECONNRESET &&
	    err != -ENOMEM)
		abort();
	/* 1xx answers are skipped: a status is a final one */
	if (r->status && (r->status < 200 || r->status > 999))
		abort();
	if ((!err && !r->status) || (keep && err))
		abort();
	if (r->body_len > fed || r->body_len > OTLP_RESPONSE_MAX || (r->body_len && !r->body))
		abort();
	if (r->body && r->body[r->body_len] != '\0')
		abort();
	if (r->retry_after_ms < -1)
		abort();
}

/* How the split answer must match the whole one: the same result, bytes and headers. A
 * Retry-After date is relative to time(NULL), which may tick between the two reads. */
static void compare(const struct otlp_response *a, int a_err, bool a_keep,
		    const struct otlp_response *b, int b_err, bool b_keep)
{
	int64_t dt = a->retry_after_ms - b->retry_after_ms;

	if (a_err != b_err || a_keep != b_keep || a->status != b->status ||
	    a->protobuf != b->protobuf || a->body_len != b->body_len)
		abort();
	if (a->body_len && memcmp(a->body, b->body, a->body_len))
		abort();
	if ((a->retry_after_ms < 0) != (b->retry_after_ms < 0) || dt < -1000 || dt > 1000)
		abort();
}

static void decode(const uint8_t *body, size_t len, size_t msg_size)
{
	/* exactly msg_size bytes so that ASan sees a write past it */
	char *msg = malloc(msg_size ? msg_size : 1);
	int64_t rejected;
	int err;

	if (!msg)
		return;
	err = otlp_decode_response(body, len, &rejected, msg, msg_size);
	if (err && err != -EINVAL)
		abort();
	if (msg_size && strnlen(msg, msg_size) == msg_size)
		abort();
	free(msg);
}

static int read_answer(const uint8_t *data, size_t size, uint8_t plan, uint8_t seed, bool whole,
		       struct otlp_response *r, bool *keep, size_t *fed)
{
	struct source s = {
	    .p = data,
	    .left = size,
	    .max = whole ? SIZE_MAX : read_max[plan & 7],
	    .rng = !whole && (plan & 8) ? seed | 0x100u : 0,
	    .end = plan & 16 ? -ECONNRESET : 0,
	};
	int err = otlp_http_read_response(source_read, &s, r, keep);

	*fed = s.fed;
	return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct otlp_response whole, split;
	bool whole_keep, split_keep;
	int whole_err, split_err;
	uint8_t plan, seed;
	size_t fed;

	if (size < 2)
		return 0;
	plan = data[0];
	seed = data[1];
	data += 2;
	size -= 2;

	whole_err = read_answer(data, size, plan, seed, true, &whole, &whole_keep, &fed);
	check(&whole, whole_err, whole_keep, fed);
	split_err = read_answer(data, size, plan, seed, false, &split, &split_keep, &fed);
	check(&split, split_err, split_keep, fed);
	compare(&whole, whole_err, whole_keep, &split, split_err, split_keep);

	/* the exporter decodes the body of an accepted answer; any bytes as a body, too */
	if (whole.body_len)
		decode(whole.body, whole.body_len, msg_sizes[plan >> 5]);
	decode(data, size, msg_sizes[plan >> 5]);
	otlp_response_free(&whole);
	otlp_response_free(&split);
	return 0;
}
