// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for agent/http1.c: parses successive messages from one buffer the way the
 * agent walks a captured stream, and checks the invariants the rest of obi relies on.
 */
#include "http1.h"

#include <stdlib.h>
#include <string.h>

/* Fields are printed and exported as C strings: they must end inside their arrays. */
static void check_msg(const struct http1_msg *m, size_t len, int r)
{
	if (strnlen(m->method, sizeof(m->method)) == sizeof(m->method) ||
	    strnlen(m->path, sizeof(m->path)) == sizeof(m->path) ||
	    strnlen(m->host, sizeof(m->host)) == sizeof(m->host) ||
	    strnlen(m->user_agent, sizeof(m->user_agent)) == sizeof(m->user_agent) ||
	    strnlen(m->traceparent, sizeof(m->traceparent)) == sizeof(m->traceparent))
		abort();
	if (r > 0 && ((size_t)r != m->header_len || m->header_len > len))
		abort();
	if (r > 0 && m->kind == HTTP1_RESPONSE && (m->status < 100 || m->status > 999))
		abort();
}

/* The route buffer is exactly route_size bytes so ASan sees any overflow. */
static void fuzz_route(const char *path, size_t route_size)
{
	char *route = malloc(route_size ? route_size : 1);

	if (!route)
		return;
	http1_route_heuristic(path, route, route_size);
	if (route_size && strnlen(route, route_size) == route_size)
		abort();
	free(route);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct http1_msg m;
	size_t off = 0;
	int r;

	http1_chunked_end(data, size);
	while (off <= size) {
		int64_t body;

		http1_is_start(buf + off, size - off);
		r = http1_parse(buf + off, size - off, &m);
		check_msg(&m, size - off, r);
		fuzz_route(m.path, size ? data[off % size] % 32 : 0);
		fuzz_route(m.path, 256);
		if (r <= 0)
			break;
		body = http1_body_length(&m, (size & 1) != 0);
		off += r;
		if (body > 0 && (uint64_t)body > size - off)
			break;
		if (body > 0)
			off += body;
		/* A chunked body ends with the last-chunk marker; stop at the first one seen. */
		if (body < 0)
			break;
	}
	return 0;
}
