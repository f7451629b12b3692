/* SPDX-License-Identifier: Apache-2.0 */
/* One finished HTTP span, as the printers and exporters see it. */
#ifndef OBI_SPAN_H
#define OBI_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tracecontext.h"

enum span_kind {
	SPAN_SERVER = 1,	/* request read on this socket, response written */
	SPAN_CLIENT = 2,	/* request written on this socket, response read */
};

struct span_addr {
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* IPv4 in the first 4 bytes for AF_INET */
	uint16_t port;		/* host byte order */
};

/* What the span's protocol-specific fields hold; printers and encoders switch on it. */
enum span_proto {
	SPAN_HTTP = 0,		/* HTTP/1.x (and HTTP/2 once parsed): the HTTP fields */
	SPAN_GRPC,		/* gRPC over HTTP/2: the HTTP fields, status = grpc-status */
	SPAN_SQL,		/* PostgreSQL, MySQL/MariaDB: the database fields */
	SPAN_REDIS,		/* RESP: the database fields */
	SPAN_PROTO_MAX,
};

enum span_db_system {
	SPAN_DB_POSTGRESQL = 1,
	SPAN_DB_MYSQL,
	SPAN_DB_MARIADB,
	SPAN_DB_REDIS,
};

struct span {
	enum span_kind kind;
	enum span_proto proto;
	/* Unix time in ns (CLOCK_REALTIME). */
	uint64_t start_ns;	/* first byte of the request seen */
	uint64_t handler_ns;	/* request fully read (server) or written (client) */
	uint64_t end_ns;	/* response complete */
	uint16_t status;	/* HTTP status, gRPC status code; 0 when unanswered (HTTP) */
	bool error;		/* as the protocol's parser judged it (see there) */
	uint8_t version;	/* protocol version: 10, 11 or 20 for HTTP/1.0, 1.1, 2 */
	uint64_t req_body_size;	/* bytes of request payload (HTTP body, gRPC messages) */
	uint64_t resp_body_size;
	struct span_addr local;	/* this process's end of the connection */
	struct span_addr remote;	/* the other end */
	uint32_t pid;
	uint32_t tid;
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_id[8];	/* all zero: no parent */
	uint8_t trace_flags;
	uint8_t db_system;	/* enum span_db_system (database spans) */
	/* Strings, NUL-terminated, last (span_copy() copies each only up to its end): the
	 * protocol's, then the common ones. */
	union {
		struct {	/* SPAN_HTTP, SPAN_GRPC */
			char method[16];
			char path[256];		/* without query string; gRPC: /pkg.Service/Method */
			char route[256];	/* "" when unknown */
			char host_header[128];	/* Host header (HTTP/2: :authority), "" if none */
			char user_agent[128];
		};
		struct {	/* SPAN_SQL, SPAN_REDIS */
			char db_operation[32];	/* SELECT, INSERT ..., or the Redis command */
			char db_collection[128];	/* the main table, "" when unknown */
			char db_namespace[128];	/* database name, Redis database index */
			char db_status[16];	/* SQLSTATE, MySQL error code, Redis error prefix */
			char db_query[512];	/* the statement, literals replaced by '?' */
		};
	};
	char language[16];	/* "go", "python", "nodejs", "java", ... or "generic" */
	char service_name[128];
	char container_id[65];	/* the process's container, "" outside one */
	char trace_state[TRACESTATE_MAX + 1];	/* W3C tracestate, "" if none (the server
						 * request's; a client span its server's) */
};

static inline bool span_is_http(const struct span *s)
{
	return s->proto == SPAN_HTTP || s->proto == SPAN_GRPC;
}

/* OBI's type names for the trace printers: "HTTP", "HTTPClient", "GRPC", "SQLClient" ... */
static inline const char *span_type_name(const struct span *s)
{
	static const char *const names[SPAN_PROTO_MAX][2] = {
		[SPAN_HTTP] = { "HTTP", "HTTPClient" },
		[SPAN_GRPC] = { "GRPC", "GRPCClient" },
		[SPAN_SQL] = { "SQLServer", "SQLClient" },
		[SPAN_REDIS] = { "RedisServer", "RedisClient" },
	};
	unsigned p = (unsigned)s->proto < SPAN_PROTO_MAX ? (unsigned)s->proto : SPAN_HTTP;

	return names[p][s->kind == SPAN_CLIENT];
}

/* Copies src (at most size - 1 bytes of it) into dst and ends it; returns the length copied. */
static inline size_t str_copy(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}

/* db.system.name: "postgresql", "mysql", "mariadb", "redis"; "" for other spans. */
static inline const char *span_db_system_name(const struct span *s)
{
	switch (s->db_system) {
	case SPAN_DB_POSTGRESQL:
		return "postgresql";
	case SPAN_DB_MYSQL:
		return "mysql";
	case SPAN_DB_MARIADB:
		return "mariadb";
	case SPAN_DB_REDIS:
		return "redis";
	}
	return "";
}

/* The protocol's strings of a span emptied (a reused span shows nothing of the last one). */
static inline void span_clear_strings(struct span *s)
{
	s->language[0] = s->service_name[0] = s->trace_state[0] = s->container_id[0] = '\0';
	if (span_is_http(s)) {
		s->method[0] = s->path[0] = s->route[0] = '\0';
		s->host_header[0] = s->user_agent[0] = '\0';
	} else {
		s->db_operation[0] = s->db_collection[0] = s->db_namespace[0] = '\0';
		s->db_status[0] = s->db_query[0] = '\0';
	}
}

/*
 * *dst = *src, without the unused tails of the string fields: a span queued for export is
 * written to memory the cache has long lost, and its strings are mostly short.
 */
static inline void span_copy(struct span *dst, const struct span *src)
{
#define COPY(f) str_copy(dst->f, sizeof(dst->f), src->f)
	memcpy(dst, src, offsetof(struct span, method));	/* the fixed fields */
	if (span_is_http(src)) {
		COPY(method);
		COPY(path);
		COPY(route);
		COPY(host_header);
		COPY(user_agent);
	} else {
		COPY(db_operation);
		COPY(db_collection);
		COPY(db_namespace);
		COPY(db_status);
		COPY(db_query);
	}
	COPY(language);
	COPY(service_name);
	COPY(container_id);
	COPY(trace_state);
#undef COPY
}
_Static_assert(offsetof(struct span, method) == offsetof(struct span, db_operation),
	       "span_copy: the protocols' strings start at the same place");
_Static_assert(sizeof(struct span) < offsetof(struct span, trace_state) +
					     sizeof(((struct span *)0)->trace_state) +
					     _Alignof(struct span),
	       "span_copy: the strings end struct span");

#endif /* OBI_SPAN_H */
