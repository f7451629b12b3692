// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for what obi reads back from an OTLP receiver once libcurl has framed the
 * answer: the header lines the transport notes (Retry-After, Content-Type: response.c), the
 * body kept in pieces as libcurl hands them over, and the partial-success decoder
 * (otlp_decode_response, otlp/encode.c). The body arrives in pieces whose sizes the input
 * chooses and must be kept exactly as when it arrives whole.
 *
 * Input: plan byte, then header lines ("\n" ends each, an empty line ends them), then the body.
 * plan bits 0-2: the largest piece (piece_max), bits 5-7: the decoder's message buffer size
 * (msg_sizes).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "response.h"

static const size_t piece_max[] = {1, 2, 3, 7, 16, 100, 4096, SIZE_MAX};
static const size_t msg_sizes[] = {256, 0, 1, 2, 7, 16, 64, 1024};

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

/* Headers, then the body in pieces of at most max bytes. Returns where the body started. */
static size_t read_answer(const uint8_t *data, size_t size, size_t max, struct otlp_response *r)
{
	size_t pos = 0, start;

	otlp_response_init(r);
	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - data - pos) + 1 : size - pos;

		otlp_response_header(r, (const char *)data + pos, len);
		pos += len;
		if (len <= 2 && (len == 1 || data[pos - 2] == '\r'))
			break;
	}
	start = pos;
	while (pos < size) {
		size_t n = size - pos < max ? size - pos : max;

		otlp_response_body(r, data + pos, n);
		pos += n;
	}
	return start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct otlp_response whole, split;
	size_t start;
	uint8_t plan;
	int64_t dt;

	if (size < 1)
		return 0;
	plan = data[0];
	data++;
	size--;
	start = read_answer(data, size, SIZE_MAX, &whole);
	read_answer(data, size, piece_max[plan & 7], &split);
	/* kept: the first OTLP_RESPONSE_MAX body bytes, NUL-terminated, whatever the pieces */
	if (whole.body_len != split.body_len || whole.body_len > OTLP_RESPONSE_MAX ||
	    whole.body_len > size - start || (whole.body_len && !whole.body))
		abort();
	if (whole.body_len && (memcmp(whole.body, split.body, whole.body_len) ||
			       memcmp(whole.body, data + start, whole.body_len) ||
			       whole.body[whole.body_len] != '\0'))
		abort();
	/* a Retry-After date is relative to time(NULL), which may tick between the two reads */
	dt = whole.retry_after_ms - split.retry_after_ms;
	if (whole.retry_after_ms < -1 || whole.protobuf != split.protobuf ||
	    (whole.retry_after_ms < 0) != (split.retry_after_ms < 0) || dt < -1000 || dt > 1000)
		abort();
	if (whole.body_len)
		decode(whole.body, whole.body_len, msg_sizes[plan >> 5]);
	decode(data, size, msg_sizes[plan >> 5]);
	otlp_response_free(&whole);
	otlp_response_free(&split);
	return 0;
}
