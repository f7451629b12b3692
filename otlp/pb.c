// SPDX-License-Identifier: Apache-2.0
/* The growable buffer and the length slots of nested messages of the protobuf writer. */
#include "pb.h"

#include <stdlib.h>

#define PB_MIN_CAP 4096

bool pb_grow(struct pb_buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : PB_MIN_CAP;
	uint8_t *grown;

	if (b->failed)
		return false;
	while (cap - b->len < n) {
		if (cap > SIZE_MAX / 2)
			goto fail;
		cap *= 2;
	}
	grown = realloc(b->data, cap);
	if (!grown)
		goto fail;
	b->data = grown;
	b->cap = cap;
	return true;
fail:
	b->failed = true;
	return false;
}

void pb_free(struct pb_buf *b)
{
	free(b->data);
	*b = (struct pb_buf){0};
}

size_t pb_begin(struct pb_buf *b, uint32_t field, size_t hint)
{
	size_t slot;

	pb_tag(b, field, PB_LEN);
	slot = pb_varint_len(hint);
	if (!pb_room(b, slot))
		return 0;
	b->len += slot;
	/* the mark: where the content starts, and the slot size in the low bits */
	return b->len << 4 | slot;
}

void pb_end(struct pb_buf *b, size_t mark)
{
	size_t start = mark >> 4, slot = mark & 15, len, need;

	if (b->failed || !mark)
		return;
	len = b->len - start;
	need = pb_varint_len(len);
	if (need != slot) {
		/* the hint was off: move the content to fit the length's real size */
		if (need > slot && !pb_room(b, need - slot))
			return;
		memmove(b->data + start - slot + need, b->data + start, len);
		b->len = b->len - slot + need;
	}
	pb_put_varint(b->data + start - slot, len);
}
