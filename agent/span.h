/* SPDX-License-Identifier: Apache-2.0 */
/* One finished HTTP span, as the printers and exporters see it. */
#ifndef OBI_SPAN_H
#define OBI_SPAN_H

#include <stdbool.h>
#include <stdint.h>

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
	char method[16];
	char path[256];		/* without query string */
	char route[256];	/* "" when unknown */
	char host_header[128];	/* Host header value, "" if none */
	char user_agent[128];
	uint16_t status;	/* 0 when the connection ended before a response */
	bool error;		/* no response, or server >= 500 / client >= 400 */
	uint64_t req_body_size;
	uint64_t resp_body_size;
	struct span_addr local;	/* this process's end of the connection */
	struct span_addr remote;	/* the other end */
	uint32_t pid;
	uint32_t tid;
	char service_name[128];
	char language[16];	/* "go", "python", "nodejs", "java", ... or "generic" */
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_id[8];	/* all zero: no parent */
	uint8_t trace_flags;
};

#endif /* OBI_SPAN_H */
