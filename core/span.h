/* SPDX-License-Identifier: Apache-2.0 */
/* One finished HTTP span, as the printers and exporters see it. */
#ifndef OBI_SPAN_H
#define OBI_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum span_kind {
	SPAN_SERVER = 1,	/* request read on this socket, response written */
	SPAN_CLIENT = 2,	/* request written on this socket, response read */
};

struct span_addr {
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* IPv4 in the first 4 bytes for AF_INET */
	uint16_t port;		/* host byte order */
};

struct span {
	enum span_kind kind;
	/* Unix time in ns (CLOCK_REALTIME). */
	uint64_t start_ns;	/* first byte of the request seen */
	uint64_t handler_ns;	/* request fully read (server) or written (client) */
	uint64_t end_ns;	/* response complete */
	uint16_t status;	/* 0 when the connection ended before a response */
	bool error;		/* no response, or server >= 500 / client >= 400 */
	uint64_t req_body_size;
	uint64_t resp_body_size;
	struct span_addr local;	/* this process's end of the connection */
	struct span_addr remote;	/* the other end */
	uint32_t pid;
	uint32_t tid;
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_id[8];	/* all zero: no parent */
	uint8_t trace_flags;
	/* Strings, NUL-terminated, last (span_copy() copies each only up to its end). */
	char method[16];
	char language[16];	/* "go", "python", "nodejs", "java", ... or "generic" */
	char path[256];		/* without query string */
	char route[256];	/* "" when unknown */
	char host_header[128];	/* Host header value, "" if none */
	char user_agent[128];
	char service_name[128];
};

/* Copies src (at most size - 1 bytes of it) into dst and ends it; returns the length copied. */
static inline size_t str_copy(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}

/*
 * *dst = *src, without the unused tails of the string fields: a span queued for export is
 * written to memory the cache has long lost, and its strings are mostly short.
 */
static inline void span_copy(struct span *dst, const struct span *src)
{
	memcpy(dst, src, offsetof(struct span, method));
	str_copy(dst->method, sizeof(dst->method), src->method);
	str_copy(dst->language, sizeof(dst->language), src->language);
	str_copy(dst->path, sizeof(dst->path), src->path);
	str_copy(dst->route, sizeof(dst->route), src->route);
	str_copy(dst->host_header, sizeof(dst->host_header), src->host_header);
	str_copy(dst->user_agent, sizeof(dst->user_agent), src->user_agent);
	str_copy(dst->service_name, sizeof(dst->service_name), src->service_name);
}
_Static_assert(sizeof(struct span) < offsetof(struct span, service_name) +
					     sizeof(((struct span *)0)->service_name) +
					     _Alignof(struct span),
	       "span_copy: the strings end struct span");

#endif /* OBI_SPAN_H */
