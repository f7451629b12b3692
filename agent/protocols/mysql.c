// SPDX-License-Identifier: Apache-2.0
/*
 * MySQL and MariaDB (client/server protocol 4.1) behind the tracker's protocol interface. One
 * span per command, from its first byte to the end of its reply: COM_QUERY, COM_STMT_PREPARE
 * (the statement remembered under the id PREPARE_OK gives it), COM_STMT_EXECUTE (the statement
 * found by that id) and COM_INIT_DB. The connection starts with the server's Handshake v10 (the
 * server version tells MariaDB from MySQL, its capabilities and the client's whether EOF
 * packets are deprecated); the handshake response names the database. ERR packets give the
 * SQLSTATE. A connection that asks for TLS (SSLRequest) or compression is left alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/protocol.h"
#include "sql.h"

#define MAX_PENDING    64	/* commands waiting for replies on one connection */
#define MAX_STATEMENTS 64	/* prepared statements remembered per connection */
#define KEEP	       1024	/* bytes kept of a packet's payload */
#define PACKET_MAX     0xffffff /* a payload this long goes on in the next packet */

/* Command bytes (the first byte of a command packet, sequence id 0). */
#define COM_QUIT		0x01
#define COM_INIT_DB		0x02
#define COM_QUERY		0x03
#define COM_FIELD_LIST		0x04
#define COM_CHANGE_USER		0x11
#define COM_BINLOG_DUMP		0x12
#define COM_STMT_PREPARE	0x16
#define COM_STMT_EXECUTE	0x17
#define COM_STMT_SEND_LONG_DATA 0x18
#define COM_STMT_CLOSE		0x19
#define COM_STMT_FETCH		0x1c
#define COM_BINLOG_DUMP_GTID	0x1e

/* Capability flags (handshake and handshake response). */
#define CLIENT_CONNECT_WITH_DB	       0x00000008
#define CLIENT_COMPRESS		       0x00000020
#define CLIENT_PROTOCOL_41	       0x00000200
#define CLIENT_SSL		       0x00000800
#define CLIENT_SECURE_CONNECTION       0x00008000
#define CLIENT_PLUGIN_AUTH_LENENC_DATA 0x00200000
#define CLIENT_DEPRECATE_EOF	       0x01000000
#define CLIENT_QUERY_ATTRIBUTES	       0x08000000

#define SERVER_MORE_RESULTS_EXISTS  0x0008
#define SERVER_STATUS_CURSOR_EXISTS 0x0040

#define AUX_SPAN 0x100 /* pending.aux: the command gets a span (low byte: the command) */

/* Where a connection is in its life. */
enum phase {
	GREETING, /* waiting for the server's handshake */
	RESPONSE, /* ... for the client's handshake response */
	AUTH,	  /* authentication exchange until the server's OK */
	READY,	  /* commands and replies */
};

/* What the reply to the oldest command expects next. */
enum reply {
	R_FIRST,       /* OK, ERR, PREPARE_OK or a result set's column count */
	R_COLUMNS,     /* column definitions */
	R_COLUMNS_EOF, /* the EOF after them (without CLIENT_DEPRECATE_EOF) */
	R_ROWS,	       /* rows until EOF, or OK with a 0xfe header */
	R_PARAMS,      /* PREPARE_OK's parameter definitions */
	R_PARAMS_EOF,
	R_PREP_COLUMNS, /* ... then its column definitions */
	R_PREP_COLUMNS_EOF,
};

/* One direction: packets framed by a 3-byte little-endian length and a sequence id. */
struct my_stream {
	bool lost;
	bool more; /* the last packet was PACKET_MAX long: the next one continues it */
	uint8_t hdr[4];
	unsigned hdr_len;
	bool in_packet; /* a header has begun */
	int64_t left;	/* payload bytes of the current packet still to come */
	uint32_t len;
	uint8_t seq;
	char buf[KEEP]; /* the start of its payload */
	size_t buf_len;
	struct proto_origin *origin; /* where the current packet began */
	struct proto_origin carried; /* ... when that was an earlier event */
};

struct statement {
	uint32_t id;
	char query[sizeof(((struct span *)0)->db_query)];
};

struct my_conn {
	bool server;  /* the traced process is the MySQL server */
	bool ignored; /* TLS, replication, or not MySQL after all */
	enum phase phase;
	uint8_t system; /* SPAN_DB_MYSQL or SPAN_DB_MARIADB */
	uint32_t server_caps, client_caps;
	char database[128];
	struct my_stream cl, sv; /* client → server, server → client */
	struct proto_queue q;
	enum reply reply;	/* of q.first */
	uint64_t reply_left;	/* definitions still to come */
	uint16_t prep_columns;	/* PREPARE_OK's column count, after its parameters */
	uint64_t last_reply_ns; /* the last event of the server's direction */
	struct statement stmt[MAX_STATEMENTS];
	unsigned n_stmt, next_stmt;
	uint32_t last_prepared;	  /* MariaDB's statement id -1: the one prepared last */
	struct proto_origin here; /* the event being fed */
	/* during a call from the tracker */
	struct proto_env *env;
	const struct proto_conn *c;
	const struct obi_data_event *e;
};

static void on_reply(struct my_conn *p, struct pending *u, const uint8_t *pl, size_t kept,
		     uint32_t len);

typedef void (*my_packet_fn)(struct my_conn *p, struct my_stream *s, const uint8_t *payload,
			     size_t kept);

static uint32_t le16(const uint8_t *b)
{
	return b[0] | b[1] << 8;
}

static uint32_t le32(const uint8_t *b)
{
	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Walks `len` bytes (the first `cap` known) of one direction, packet by packet. */
static void my_scan(struct my_conn *p, struct my_stream *s, const uint8_t *buf, size_t cap,
		    size_t len, my_packet_fn fn)
{
	size_t pos = 0;

	if (cap > len)
		cap = len;
	while (pos < len && !s->lost && !p->ignored) {
		if (!s->in_packet) {
			s->in_packet = true;
			s->hdr_len = 0;
			s->origin = &p->here; /* a packet begins in this event */
		}
		if (s->hdr_len < 4) {
			if (pos >= cap) {
				s->lost = true; /* a header the kernel did not capture */
				return;
			}
			s->hdr[s->hdr_len++] = buf[pos++];
			if (s->hdr_len < 4)
				continue;
			s->len = s->hdr[0] | s->hdr[1] << 8 | s->hdr[2] << 16;
			s->seq = s->hdr[3];
			s->left = s->len;
			s->buf_len = 0;
		}
		size_t take = len - pos < (uint64_t)s->left ? len - pos : (size_t)s->left;
		size_t known = pos < cap ? (cap - pos < take ? cap - pos : take) : 0;
		size_t keep = KEEP - s->buf_len < known ? KEEP - s->buf_len : known;

		memcpy(s->buf + s->buf_len, buf + pos, keep);
		s->buf_len += keep;
		pos += take;
		s->left -= take;
		if (s->left)
			continue;
		s->in_packet = false;
		if (s->more)
			s->more = s->len == PACKET_MAX; /* the rest of a long payload */
		else {
			s->more = s->len == PACKET_MAX;
			fn(p, s, (const uint8_t *)s->buf, s->buf_len);
		}
	}
	if (s->in_packet && s->origin == &p->here) {
		/* a packet goes on in the next event: keep where it began */
		s->carried = p->here;
		s->origin = &s->carried;
	}
}

/* A length-encoded integer at b[*at] (n bytes known); false when it is not all there. */
static bool lenenc(const uint8_t *b, size_t n, size_t *at, uint64_t *v)
{
	size_t i = *at, w;

	if (i >= n)
		return false;
	w = b[i] < 0xfb ? 0 : b[i] == 0xfc ? 2 : b[i] == 0xfd ? 3 : b[i] == 0xfe ? 8 : 9;
	if (w == 9 || i + 1 + w > n)
		return false; /* 0xfb (NULL) and 0xff are no integers */
	*v = w ? 0 : b[i];
	for (size_t k = 0; k < w; k++)
		*v |= (uint64_t)b[i + 1 + k] << (8 * k);
	*at = i + 1 + w;
	return true;
}

static size_t cstr_len(const uint8_t *p, size_t n)
{
	const uint8_t *z = memchr(p, '\0', n);

	return z ? (size_t)(z - p) : n;
}

static void copy_str(char *dst, size_t size, const uint8_t *src, size_t n)
{
	n = n < size - 1 ? n : size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* A Handshake v10: protocol 10, a NUL-terminated version of printable bytes, then at least the
 * thread id, the first scramble bytes and the low capability flags; returns the version's
 * length, or 0. */
static size_t handshake_version(const uint8_t *pl, size_t n)
{
	size_t v;

	if (n < 2 || pl[0] != 0x0a)
		return 0;
	v = cstr_len(pl + 1, n - 1);
	if (!v || v > 64 || 1 + v + 1 + 4 + 8 + 1 + 2 > n)
		return 0;
	for (size_t i = 0; i < v; i++)
		if (pl[1 + i] < 0x20 || pl[1 + i] > 0x7e)
			return 0;
	return v;
}

/* The connection's first bytes are a whole Handshake v10 packet, sequence id 0. */
static bool my_first_bytes(const uint8_t *b, size_t n)
{
	uint32_t len;

	if (n < 4)
		return false;
	len = b[0] | b[1] << 8 | b[2] << 16;
	return b[3] == 0 && len >= 20 && len < 1024 && len + 4 <= n &&
	       handshake_version(b + 4, len);
}

static void on_handshake(struct my_conn *p, const uint8_t *pl, size_t n)
{
	size_t v = handshake_version(pl, n), at = 1 + v + 1 + 4 + 8 + 1;
	char version[65];

	if (!v) {
		p->ignored = true;
		return;
	}
	copy_str(version, sizeof(version), pl + 1, v);
	p->system = !strncmp(version, "5.5.5-", 6) || strstr(version, "MariaDB") ? SPAN_DB_MARIADB
										 : SPAN_DB_MYSQL;
	p->server_caps = le16(pl + at);
	if (at + 2 + 1 + 2 + 2 <= n)
		p->server_caps |= le16(pl + at + 5) << 16;
	p->phase = RESPONSE;
}

/* HandshakeResponse41: capabilities, max packet, charset, 23 zero bytes, user, auth data, and
 * with CLIENT_CONNECT_WITH_DB the database. A response that stops after the 32 fixed bytes
 * with CLIENT_SSL asks for TLS. */
static void on_response(struct my_conn *p, const uint8_t *pl, size_t kept, uint32_t len)
{
	size_t at = 32, u;
	uint64_t auth = 0;

	if (kept < 4) {
		p->ignored = true;
		return;
	}
	p->client_caps = le32(pl);
	if (p->client_caps & CLIENT_SSL && len <= 32) {
		p->ignored = true; /* TLS from here on: not readable here */
		return;
	}
	if (p->client_caps & p->server_caps & CLIENT_COMPRESS) {
		p->ignored = true; /* compressed packets from the server's OK on */
		return;
	}
	p->phase = AUTH;
	if (!(p->client_caps & CLIENT_PROTOCOL_41) || kept <= at)
		return;
	u = cstr_len(pl + at, kept - at);
	at += u + 1;
	if (at >= kept)
		return;
	if (p->client_caps & CLIENT_PLUGIN_AUTH_LENENC_DATA) {
		if (!lenenc(pl, kept, &at, &auth))
			return;
	} else if (p->client_caps & CLIENT_SECURE_CONNECTION) {
		if (at >= kept)
			return;
		auth = pl[at++];
	} else {
		auth = cstr_len(pl + at, kept - at) + 1;
	}
	at += auth;
	if ((p->client_caps & CLIENT_CONNECT_WITH_DB) && at < kept)
		copy_str(p->database, sizeof(p->database), pl + at, cstr_len(pl + at, kept - at));
}

static bool deprecate_eof(const struct my_conn *p)
{
	return p->server_caps & p->client_caps & CLIENT_DEPRECATE_EOF;
}

static struct statement *find_statement(struct my_conn *p, uint32_t id)
{
	if (id == 0xffffffff)
		id = p->last_prepared;
	for (unsigned i = 0; i < p->n_stmt; i++)
		if (p->stmt[i].id == id)
			return &p->stmt[i];
	return NULL;
}

/* PREPARE_OK: the statement's text under its id, the oldest replaced. */
static void remember(struct my_conn *p, uint32_t id, const char *query)
{
	struct statement *st = find_statement(p, id);

	if (!st) {
		st = &p->stmt[p->n_stmt < MAX_STATEMENTS ? p->n_stmt++ : p->next_stmt++];
		p->next_stmt %= MAX_STATEMENTS;
		st->id = id;
	}
	str_copy(st->query, sizeof(st->query), query);
	p->last_prepared = id;
}

static void forget(struct my_conn *p, uint32_t id)
{
	struct statement *st = find_statement(p, id);

	if (st)
		st->id = 0; /* the server never gives id 0 */
}

/* The statement's text, literals hidden, with its operation and table. */
static void set_query(struct span *s, const uint8_t *text, size_t n)
{
	sql_sanitize((const char *)text, n, s->db_query, sizeof(s->db_query));
	sql_operation(s->db_query, s->db_operation, sizeof(s->db_operation), s->db_collection,
		      sizeof(s->db_collection));
}

/* A command with a reply: its span (when `span`) waits for the reply's last packet. */
static struct pending *command_begin(struct my_conn *p, uint8_t cmd, bool span)
{
	struct pending *u = proto_queue_push(p->env, &p->q, SPAN_SQL, MAX_PENDING);
	struct span *s;

	if (!u)
		return NULL;
	u->aux = cmd | (span ? AUX_SPAN : 0);
	s = &u->s;
	s->kind = p->server ? SPAN_SERVER : SPAN_CLIENT;
	s->db_system = p->system;
	proto_span_from(p->env, s, p->cl.origin ? p->cl.origin : &p->here, p->server);
	s->handler_ns = proto_real_ns(p->env, p->e->hdr.ts_ns);
	str_copy(s->db_namespace, sizeof(s->db_namespace), p->database);
	s->local = p->c->local;
	s->remote = p->c->remote;
	s->pid = p->c->pid;
	if (p->q.len == 1)
		p->reply = R_FIRST;
	return u;
}

/* COM_QUERY's text: after the query attributes when both ends use them (none sent here). */
static size_t query_start(const struct my_conn *p, const uint8_t *pl, size_t kept)
{
	size_t at = 1;
	uint64_t params = 0, sets = 0;

	if (!(p->server_caps & p->client_caps & CLIENT_QUERY_ATTRIBUTES))
		return 1;
	if (!lenenc(pl, kept, &at, &params) || !lenenc(pl, kept, &at, &sets) || params)
		return kept; /* attributes obi does not read: no text */
	return at;
}

static void on_command(struct my_conn *p, const uint8_t *pl, size_t kept)
{
	uint8_t cmd = kept ? pl[0] : 0;
	struct pending *u;
	size_t at;

	switch (cmd) {
	case COM_QUIT:
	case COM_STMT_SEND_LONG_DATA:
		return; /* no reply */
	case COM_STMT_CLOSE:
		if (kept >= 5)
			forget(p, le32(pl + 1));
		return;
	case COM_BINLOG_DUMP:
	case COM_BINLOG_DUMP_GTID:
		p->ignored = true; /* a replication stream, not commands */
		return;
	case COM_QUERY:
	case COM_STMT_PREPARE:
		u = command_begin(p, cmd, true);
		if (!u)
			return;
		at = cmd == COM_QUERY ? query_start(p, pl, kept) : 1;
		set_query(&u->s, pl + at, kept - at);
		if (cmd == COM_STMT_PREPARE)
			str_copy(u->s.db_operation, sizeof(u->s.db_operation), "PREPARE");
		return;
	case COM_STMT_EXECUTE: {
		uint32_t id = kept >= 5 ? le32(pl + 1) : 0;
		struct statement *st = kept >= 5 ? find_statement(p, id) : NULL;
		struct pending *prep = p->q.last;

		u = command_begin(p, cmd, true);
		if (!u)
			return;
		if (id == 0xffffffff && prep && (prep->aux & 0xff) == COM_STMT_PREPARE) {
			/* MariaDB's execute-direct: the statement prepared in the same breath */
			set_query(&u->s, (const uint8_t *)prep->s.db_query,
				  strlen(prep->s.db_query));
		} else if (st) {
			set_query(&u->s, (const uint8_t *)st->query, strlen(st->query));
		} else {
			p->env->stats.db_unknown_statements++; /* prepared before obi */
			str_copy(u->s.db_operation, sizeof(u->s.db_operation), "EXECUTE");
		}
		return;
	}
	case COM_INIT_DB:
		u = command_begin(p, cmd, true);
		if (u) {
			str_copy(u->s.db_operation, sizeof(u->s.db_operation), "USE");
			copy_str(u->s.db_namespace, sizeof(u->s.db_namespace), pl + 1,
				 kept > 1 ? kept - 1 : 0);
		}
		return;
	case COM_CHANGE_USER:
		p->phase = AUTH; /* a new authentication exchange */
		return;
	default:
		command_begin(p, cmd, false); /* followed, no span */
		return;
	}
}

static void on_client(struct my_conn *p, struct my_stream *s, const uint8_t *pl, size_t kept)
{
	if (p->phase == RESPONSE && s->seq == 1) {
		on_response(p, pl, kept, s->len);
		return;
	}
	if (s->seq != 0 || p->phase < AUTH)
		return; /* authentication data, LOCAL INFILE contents */
	p->phase = READY;
	on_command(p, pl, kept);
}

/* ERR: code, then with CLIENT_PROTOCOL_41 '#' and the SQLSTATE. */
static void on_error(struct span *s, const uint8_t *pl, size_t kept)
{
	s->error = true;
	if (kept >= 9 && pl[3] == '#')
		copy_str(s->db_status, sizeof(s->db_status), pl + 4, 5);
	else if (kept >= 3)
		snprintf(s->db_status, sizeof(s->db_status), "%u", le16(pl + 1));
}

/* The status flags of an OK packet (header 0x00, or 0xfe ending rows with DEPRECATE_EOF). */
static uint32_t ok_status(const uint8_t *pl, size_t kept)
{
	size_t at = 1;
	uint64_t v;

	if (!lenenc(pl, kept, &at, &v) || !lenenc(pl, kept, &at, &v) || at + 2 > kept)
		return 0;
	return le16(pl + at);
}

static void finish(struct my_conn *p, uint64_t end_ns, bool answered)
{
	struct pending *u = proto_queue_pop(&p->q);

	if (!u)
		return;
	p->reply = R_FIRST;
	if ((u->aux & 0xff) == COM_INIT_DB && !u->s.error && answered)
		str_copy(p->database, sizeof(p->database), u->s.db_namespace);
	if (u->aux & AUX_SPAN) {
		u->s.end_ns = proto_real_ns(p->env, end_ns);
		u->s.error = u->s.error || !answered;
		u->s.status = u->s.error; /* OBI's printers: 0 ok, 1 error */
		proto_emit(p->env, &u->s, answered);
	}
	proto_pending_free(p->env, u);
}

/* The end of a result set (EOF, or OK with a 0xfe header): another may follow. */
static void rows_end(struct my_conn *p, const uint8_t *pl, size_t kept)
{
	uint32_t status = deprecate_eof(p) ? ok_status(pl, kept) : kept >= 5 ? le16(pl + 3) : 0;

	if (status & SERVER_MORE_RESULTS_EXISTS)
		p->reply = R_FIRST;
	else
		finish(p, p->e->hdr.ts_ns, true);
}

/* PREPARE_OK: id, columns, parameters; their definitions follow. */
static void prepare_ok(struct my_conn *p, struct pending *u, const uint8_t *pl)
{
	uint16_t params = le16(pl + 7);

	remember(p, le32(pl + 1), u->s.db_query);
	p->prep_columns = le16(pl + 5);
	if (params) {
		p->reply = R_PARAMS;
		p->reply_left = params;
	} else if (p->prep_columns) {
		p->reply = R_PREP_COLUMNS;
		p->reply_left = p->prep_columns;
	} else {
		finish(p, p->e->hdr.ts_ns, true);
	}
}

/* Commands whose reply is a result set (or PREPARE_OK); the others answer with one packet. */
static bool full_reply(uint8_t cmd)
{
	return cmd == COM_QUERY || cmd == COM_STMT_PREPARE || cmd == COM_STMT_EXECUTE;
}

/* The reply's first packet. */
static void reply_first(struct my_conn *p, struct pending *u, const uint8_t *pl, size_t kept,
			uint32_t len)
{
	uint8_t cmd = u->aux & 0xff;
	size_t at = 0;
	uint64_t n;

	if (!kept && full_reply(cmd)) {
		p->sv.lost = true; /* a packet with nothing known of it */
	} else if (kept && pl[0] == 0xff) {
		on_error(&u->s, pl, kept);
		finish(p, p->e->hdr.ts_ns, true);
	} else if (cmd == COM_STMT_FETCH || cmd == COM_FIELD_LIST) {
		p->reply = R_ROWS; /* rows (or definitions) until EOF */
		on_reply(p, u, pl, kept, len);
	} else if (!full_reply(cmd)) {
		finish(p, p->e->hdr.ts_ns, true); /* OK, or COM_STATISTICS' text */
	} else if (pl[0] == 0x00 && cmd == COM_STMT_PREPARE && kept >= 9) {
		prepare_ok(p, u, pl);
	} else if (pl[0] == 0x00) {
		if (!(ok_status(pl, kept) & SERVER_MORE_RESULTS_EXISTS))
			finish(p, p->e->hdr.ts_ns, true);
	} else if (pl[0] == 0xfb) {
		/* LOCAL INFILE: the client sends the file, then the server's OK */
	} else if (lenenc(pl, kept, &at, &n) && n && at == len) {
		p->reply = R_COLUMNS;
		p->reply_left = n;
	} else {
		p->sv.lost = true; /* not a reply obi can follow */
	}
}

/* A packet of the reply to the oldest command u. Definitions are only counted: a packet of
 * them none of whose payload the kernel captured counts as well. */
static void on_reply(struct my_conn *p, struct pending *u, const uint8_t *pl, size_t kept,
		     uint32_t len)
{
	switch (p->reply) {
	case R_FIRST:
		reply_first(p, u, pl, kept, len);
		return;
	case R_COLUMNS:
	case R_PARAMS:
	case R_PREP_COLUMNS:
		if (--p->reply_left)
			return;
		if (!deprecate_eof(p)) {
			p->reply++; /* its EOF */
			return;
		}
		break;
	case R_COLUMNS_EOF:
		/* a cursor's rows come with COM_STMT_FETCH */
		if (kept >= 5 && pl[0] == 0xfe && (le16(pl + 3) & SERVER_STATUS_CURSOR_EXISTS)) {
			finish(p, p->e->hdr.ts_ns, true);
			return;
		}
		break;
	case R_PARAMS_EOF:
	case R_PREP_COLUMNS_EOF:
		break;
	case R_ROWS:
		if (kept && pl[0] == 0xff) {
			on_error(&u->s, pl, kept);
			finish(p, p->e->hdr.ts_ns, true);
		} else if (kept && pl[0] == 0xfe && len < PACKET_MAX) {
			rows_end(p, pl, kept);
		}
		return;
	}
	/* the definitions are over */
	if (p->reply <= R_COLUMNS_EOF) {
		p->reply = R_ROWS;
	} else if (p->reply <= R_PARAMS_EOF && p->prep_columns) {
		p->reply = R_PREP_COLUMNS;
		p->reply_left = p->prep_columns;
	} else {
		finish(p, p->e->hdr.ts_ns, true);
	}
}

static void on_server(struct my_conn *p, struct my_stream *s, const uint8_t *pl, size_t kept)
{
	struct pending *u = p->q.first;

	switch (p->phase) {
	case GREETING:
		on_handshake(p, pl, kept);
		return;
	case RESPONSE:
		return;
	case AUTH:
		if (kept && pl[0] == 0x00 && !u)
			p->phase = READY;
		else if (kept && pl[0] == 0xff && !u)
			p->ignored = true; /* refused: the server closes the connection */
		return;
	case READY:
		if (!u) {
			p->env->stats.orphan_responses++;
			return;
		}
		on_reply(p, u, pl, kept, s->len);
		return;
	}
}

static bool my_detect(const struct obi_data_event *e)
{
	return (e->flags & OBI_F_DB_START) && my_first_bytes(e->data, e->cap_len);
}

static void *my_open(struct proto_env *env, const struct obi_data_event *first)
{
	struct my_conn *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->server = first->dir == OBI_DIR_SEND; /* the server sends the handshake */
	p->system = SPAN_DB_MYSQL;
	return p;
}

/* Commands still waiting: answered, or (`answered` false) cut off by the connection's end. */
static void flush(struct my_conn *p, uint64_t ts, bool answered)
{
	while (p->q.first) {
		if (answered)
			p->env->stats.lost_sync++;
		finish(p, ts, answered);
	}
}

/* The write ends with the packet that ends a result set: EOF (0xfe, warnings, status) or, with
 * CLIENT_DEPRECATE_EOF, an OK with a 0xfe header and no more results; found in the last bytes
 * the kernel keeps of every write even when its packets could not be followed. */
static bool ends_reply(const struct my_conn *p, const struct obi_data_event *e)
{
	size_t n = e->tail_len < OBI_TAIL ? e->tail_len : OBI_TAIL;
	const uint8_t *t = e->tail;

	if (n < OBI_TAIL)
		return false;
	if (deprecate_eof(p)) /* 07 00 00 seq | fe 00 00 status(2) warnings(2) */
		return t[1] == 0xfe && !t[2] && !t[3] && !(t[4] & SERVER_MORE_RESULTS_EXISTS);
	/* 05 00 00 seq fe warnings(2) status(2): the last 8 of its 9 bytes */
	return !t[0] && !t[1] && t[3] == 0xfe && !(t[6] & SERVER_MORE_RESULTS_EXISTS);
}

static void server_event(struct my_conn *p, const struct obi_data_event *e)
{
	p->last_reply_ns = e->hdr.ts_ns;
	if (!p->sv.lost)
		my_scan(p, &p->sv, e->data, e->cap_len, e->len, on_server);
	if (p->sv.lost && p->phase < READY) {
		p->ignored = true; /* not MySQL after all */
	} else if (p->sv.lost && ends_reply(p, e)) {
		finish(p, e->hdr.ts_ns, true); /* the reply obi lost track of ends here */
		p->sv.lost = false;
		p->sv.in_packet = false;
		p->sv.more = false;
	}
}

/* A command packet starts these bytes: sequence 0, a command byte, a length that fits. */
static bool starts_command(const struct obi_data_event *e)
{
	const uint8_t *b = e->data;

	return e->cap_len >= 5 && b[3] == 0 && b[4] && b[4] < 0x20 &&
	       (uint32_t)(b[0] | b[1] << 8 | b[2] << 16) + 4 <= e->len;
}

static void client_event(struct my_conn *p, const struct obi_data_event *e)
{
	proto_origin_set(&p->here, e);
	if (p->sv.lost) {
		/* the client speaks again: what it asked before has been answered */
		flush(p, p->last_reply_ns, true);
		p->sv.lost = false;
		p->sv.in_packet = false;
		p->sv.more = false;
	}
	if (p->cl.lost && starts_command(e)) {
		p->cl.lost = false; /* a command starts this write: in step again */
		p->cl.in_packet = false;
		p->cl.more = false;
	}
	if (!p->cl.lost)
		my_scan(p, &p->cl, e->data, e->cap_len, e->len, on_client);
}

static void my_feed(struct proto_env *env, const struct proto_conn *c, void *state,
		    const struct obi_data_event *e)
{
	struct my_conn *p = state;
	bool client = (e->dir == OBI_DIR_RECV) == p->server;
	bool cl_lost = p->cl.lost, sv_lost = p->sv.lost;

	if (p->ignored)
		return;
	p->env = env;
	p->c = c;
	p->e = e;
	if (client)
		client_event(p, e);
	else
		server_event(p, e);
	if ((!cl_lost && p->cl.lost) || (!sv_lost && p->sv.lost))
		env->stats.lost_sync++;
	if (p->ignored)
		flush(p, e->hdr.ts_ns, false);
}

static void my_close(struct proto_env *env, const struct proto_conn *c, void *state, uint64_t ts)
{
	struct my_conn *p = state;

	p->env = env;
	flush(p, ts, false);
	free(p);
}

static void my_discard(struct proto_env *env, void *state)
{
	struct my_conn *p = state;

	proto_queue_free(&p->q);
	free(p);
}

const struct protocol proto_mysql = {
    .name = "mysql",
    .detect = my_detect,
    .open = my_open,
    .feed = my_feed,
    .close = my_close,
    .discard = my_discard,
};
