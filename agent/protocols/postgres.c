// SPDX-License-Identifier: Apache-2.0
/*
 * PostgreSQL (frontend/backend protocol 3.0) behind the tracker's protocol interface. One span
 * per unit of work, from its first frontend message to the ReadyForQuery that ends it: a
 * simple Query, or an extended-protocol Parse/Bind/Execute ... Sync. Prepared statements are
 * remembered by name per connection; the database and user come from the startup message;
 * CommandComplete names the operation when the statement is unknown; ErrorResponse gives the
 * SQLSTATE. A connection that asks for TLS (SSLRequest answered 'S') is left alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/protocol.h"
#include "sql.h"

#define MAX_PENDING 64		/* units waiting for ReadyForQuery on one connection */
#define AUX_PARSED 1		/* pending.aux: the unit prepared a statement */
#define AUX_EXECUTED 2		/* ... and bound or executed one */
#define MAX_STATEMENTS 64	/* prepared statements remembered per connection */
#define KEEP 1024		/* bytes kept of a message's payload */
#define MSG_MAX (1 << 30)	/* the protocol's own limit on a message */
#define V3 196608		/* protocol 3.0 in a startup message */
#define SSL_REQUEST 80877103
#define GSSENC_REQUEST 80877104

/* One direction: messages framed by a type byte and a 4-byte length. */
struct pg_stream {
	bool lost;
	bool untyped;		/* the next message has no type byte (startup, SSLRequest) */
	uint8_t hdr[5];
	unsigned hdr_len, hdr_want;
	int64_t left;		/* payload bytes of the current message still to come */
	char type;
	char buf[KEEP];		/* the start of its payload */
	size_t buf_len;
	struct proto_origin *origin;	/* where the current message began */
	struct proto_origin carried;	/* ... when that was an earlier event */
};

struct statement {
	char name[64];
	char query[sizeof(((struct span *)0)->db_query)];
	char op[32], table[128];
};

struct pg_conn {
	bool server;		/* the traced process is the PostgreSQL server */
	bool confirmed;		/* the backend answered in the protocol */
	bool ignored;		/* TLS, or not PostgreSQL after all */
	bool ssl_asked;		/* an SSLRequest waits for its one-byte answer */
	bool unit_open;		/* an extended-protocol unit is waiting for its Sync */
	char database[128], user[64];
	struct pg_stream fe, be;
	struct proto_queue q;
	struct statement stmt[MAX_STATEMENTS];
	unsigned n_stmt, next_stmt;
	struct proto_origin here;	/* the event being fed */
	/* during a call from the tracker */
	struct proto_env *env;
	const struct proto_conn *c;
	const struct obi_data_event *e;
};

typedef void (*pg_msg_fn)(struct pg_conn *p, char type, const char *payload, size_t kept,
			  size_t len);

/* Walks `len` bytes (the first `cap` known) of one direction, message by message. */
static void pg_scan(struct pg_conn *p, struct pg_stream *s, const uint8_t *buf, size_t cap,
		    size_t len, pg_msg_fn fn)
{
	size_t pos = 0;

	if (cap > len)
		cap = len;
	while (pos < len && !s->lost && !p->ignored) {
		if (!s->hdr_want) {
			s->hdr_want = s->untyped ? 4 : 5;
			s->hdr_len = 0;
			s->origin = &p->here;	/* a message begins in this event */
		}
		if (s->hdr_len < s->hdr_want) {
			if (pos >= cap) {
				s->lost = true;	/* a header the kernel did not capture */
				return;
			}
			s->hdr[s->hdr_len++] = buf[pos++];
			if (s->hdr_len < s->hdr_want)
				continue;
			const uint8_t *l = s->hdr + s->hdr_want - 4;
			int64_t n = (int64_t)l[0] << 24 | l[1] << 16 | l[2] << 8 | l[3];

			s->type = s->untyped ? 0 : (char)s->hdr[0];
			if (n < 4 || n > MSG_MAX) {
				s->lost = true;
				return;
			}
			s->left = n - 4;
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
		s->hdr_want = 0;
		s->untyped = false;
		fn(p, s->type, s->buf, s->buf_len, s->buf_len);
	}
	if (s->hdr_want && s->origin == &p->here) {
		/* a message goes on in the next event: keep where it began */
		s->carried = p->here;
		s->origin = &s->carried;
	}
}

static size_t cstr_len(const char *p, size_t n)
{
	const char *z = memchr(p, '\0', n);

	return z ? (size_t)(z - p) : n;
}

static void copy_cstr(char *dst, size_t size, const char *src, size_t n)
{
	n = cstr_len(src, n);
	n = n < size - 1 ? n : size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static struct statement *find_statement(struct pg_conn *p, const char *name)
{
	for (unsigned i = 0; i < p->n_stmt; i++)
		if (!strcmp(p->stmt[i].name, name))
			return &p->stmt[i];
	return NULL;
}

/* Parse: the statement remembered under its name (the unnamed one too), oldest replaced. */
static struct statement *remember(struct pg_conn *p, const char *payload, size_t n)
{
	size_t name_len = cstr_len(payload, n);
	char name[64];
	struct statement *st;

	copy_cstr(name, sizeof(name), payload, n);
	st = find_statement(p, name);
	if (!st) {
		st = &p->stmt[p->n_stmt < MAX_STATEMENTS ? p->n_stmt++ : p->next_stmt++];
		p->next_stmt %= MAX_STATEMENTS;
		strcpy(st->name, name);
	}
	if (name_len + 1 > n)
		n = name_len + 1;
	sql_sanitize(payload + name_len + 1, n - name_len - 1, st->query, sizeof(st->query));
	sql_operation(st->query, st->op, sizeof(st->op), st->table, sizeof(st->table));
	return st;
}

/* A unit of work begins: its span waits for ReadyForQuery. */
static struct pending *unit_begin(struct pg_conn *p)
{
	const struct obi_data_event *e = p->e;
	struct pending *u = proto_queue_push(p->env, &p->q, SPAN_SQL, MAX_PENDING);
	struct span *s;

	if (!u)
		return NULL;
	s = &u->s;
	s->kind = p->server ? SPAN_SERVER : SPAN_CLIENT;
	s->db_system = SPAN_DB_POSTGRESQL;
	proto_span_from(p->env, s, p->fe.origin ? p->fe.origin : &p->here, p->server);
	s->handler_ns = proto_real_ns(p->env, e->hdr.ts_ns);
	str_copy(s->db_namespace, sizeof(s->db_namespace), p->database);
	s->local = p->c->local;
	s->remote = p->c->remote;
	s->pid = p->c->pid;
	return u;
}

static void set_statement(struct span *s, const struct statement *st)
{
	str_copy(s->db_query, sizeof(s->db_query), st->query);
	str_copy(s->db_operation, sizeof(s->db_operation), st->op);
	str_copy(s->db_collection, sizeof(s->db_collection), st->table);
}

/* The startup message: protocol 3.0 with its "key\0value\0" parameters, or a request for TLS. */
static void on_startup(struct pg_conn *p, const char *payload, size_t n)
{
	uint32_t v;

	if (n < 4) {
		p->ignored = true;
		return;
	}
	v = (uint32_t)(uint8_t)payload[0] << 24 | (uint8_t)payload[1] << 16 |
	    (uint8_t)payload[2] << 8 | (uint8_t)payload[3];
	if (v == SSL_REQUEST || v == GSSENC_REQUEST) {
		p->ssl_asked = true;
		p->fe.untyped = true;	/* after a refusal ('N') the startup message follows */
		return;
	}
	if (v != V3) {
		p->ignored = true;	/* a cancel request, or another protocol */
		return;
	}
	for (size_t i = 4; i < n;) {
		size_t k = cstr_len(payload + i, n - i), vi = i + k + 1;

		if (!k || vi >= n)
			break;
		if (!strncmp(payload + i, "database", k) && k == 8)
			copy_cstr(p->database, sizeof(p->database), payload + vi, n - vi);
		else if (!strncmp(payload + i, "user", k) && k == 4)
			copy_cstr(p->user, sizeof(p->user), payload + vi, n - vi);
		i = vi + cstr_len(payload + vi, n - vi) + 1;
	}
	if (!p->database[0])
		str_copy(p->database, sizeof(p->user), p->user);	/* the server's default */
}

static void on_frontend(struct pg_conn *p, char type, const char *payload, size_t kept,
			size_t len)
{
	struct statement *st = NULL;
	struct pending *u;

	switch (type) {
	case 0:
		on_startup(p, payload, kept);
		return;
	case 'Q':
		u = unit_begin(p);
		if (u) {
			struct statement tmp;

			sql_sanitize(payload, kept, tmp.query, sizeof(tmp.query));
			sql_operation(tmp.query, tmp.op, sizeof(tmp.op), tmp.table, sizeof(tmp.table));
			set_statement(&u->s, &tmp);
		}
		return;
	case 'P':
		st = remember(p, payload, kept);
		/* fall through */
	case 'B':
	case 'E':
		if (!p->unit_open)
			p->unit_open = unit_begin(p) != NULL;
		u = p->unit_open ? p->q.last : NULL;
		if (u)
			u->aux |= type == 'P' ? AUX_PARSED : AUX_EXECUTED;
		if (!u || u->s.db_query[0])
			return;
		if (type == 'B') {
			/* Bind: portal name, then the statement's */
			size_t portal = cstr_len(payload, kept);
			char name[64] = "";

			if (portal + 1 < kept)
				copy_cstr(name, sizeof(name), payload + portal + 1, kept - portal - 1);
			st = find_statement(p, name);
			if (!st)
				p->env->stats.db_unknown_statements++;	/* prepared before obi */
		}
		if (st)
			set_statement(&u->s, st);
		return;
	case 'S':
		p->unit_open = false;
		return;
	}
}

/* "SELECT 5", "INSERT 0 1": the operation of a unit whose statement obi did not see. */
static void on_complete(struct span *s, const char *tag, size_t n)
{
	if (s->db_operation[0])
		return;
	copy_cstr(s->db_operation, sizeof(s->db_operation), tag, n);
	s->db_operation[strcspn(s->db_operation, " ")] = '\0';
}

/* ErrorResponse fields: a code byte and a string each; 'C' is the SQLSTATE. */
static void on_error(struct span *s, const char *f, size_t n)
{
	s->error = true;
	for (size_t i = 0; i < n && f[i];) {
		size_t k = cstr_len(f + i + 1, n - i - 1);

		if (f[i] == 'C') {
			copy_cstr(s->db_status, sizeof(s->db_status), f + i + 1, n - i - 1);
			return;
		}
		i += k + 2;
	}
}

static void on_backend(struct pg_conn *p, char type, const char *payload, size_t kept,
		       size_t len)
{
	struct pending *u = p->q.first;

	p->confirmed = true;
	switch (type) {
	case 'C':
		if (u)
			on_complete(&u->s, payload, kept);
		return;
	case 'E':
		if (u)
			on_error(&u->s, payload, kept);
		return;
	case 'Z':
		u = proto_queue_pop(&p->q);
		if (!u)
			return;	/* the end of the start-up exchange */
		u->s.end_ns = proto_real_ns(p->env, p->e->hdr.ts_ns);
		u->s.status = u->s.error;	/* OBI's printers: 0 ok, 1 error */
		if (u->aux == AUX_PARSED)	/* a round trip that only prepared the statement */
			str_copy(u->s.db_operation, sizeof(u->s.db_operation), "PREPARE");
		proto_emit(p->env, &u->s, true);
		proto_pending_free(p->env, u);
		return;
	}
}

/* The first bytes a client sends on a new connection: a startup message of protocol 3.0, or a
 * request for TLS; on a connection opened before obi, a simple Query or a Parse. */
static bool pg_first_bytes(const uint8_t *b, size_t n, bool *untyped)
{
	uint32_t len, v;

	if (n >= 8) {
		len = (uint32_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
		v = (uint32_t)b[4] << 24 | b[5] << 16 | b[6] << 8 | b[7];
		if ((v == SSL_REQUEST && len == 8) || (v == GSSENC_REQUEST && len == 8) ||
		    (v == V3 && len >= 9 && len < 10000)) {
			*untyped = true;
			return true;
		}
	}
	if (n >= 6 && (b[0] == 'Q' || b[0] == 'P')) {
		len = (uint32_t)b[1] << 24 | b[2] << 16 | b[3] << 8 | b[4];
		/* a Query ends with its statement's NUL, where the length says */
		*untyped = false;
		return len >= 5 && len < (1u << 24) && (b[0] == 'P' || len + 1 > n || b[len] == 0);
	}
	return false;
}

static bool pg_detect(const struct obi_data_event *e)
{
	bool untyped;

	return (e->flags & OBI_F_DB_START) && pg_first_bytes(e->data, e->cap_len, &untyped);
}

static void *pg_open(struct proto_env *env, const struct obi_data_event *first)
{
	struct pg_conn *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->server = first->dir == OBI_DIR_RECV;
	pg_first_bytes(first->data, first->cap_len, &p->fe.untyped);
	p->confirmed = p->fe.untyped;	/* a startup message is PostgreSQL's and no one else's */
	return p;
}

static void flush(struct pg_conn *p, uint64_t ts, bool answered);

static void flush(struct pg_conn *p, uint64_t ts, bool answered)
{
	for (struct pending *u; (u = proto_queue_pop(&p->q));) {
		if (p->confirmed) {
			u->s.end_ns = proto_real_ns(p->env, ts);
			u->s.error = u->s.error || !answered;
			u->s.status = u->s.error;
			proto_emit(p->env, &u->s, answered);
		} else {
			p->env->stats.not_http++;
		}
		proto_pending_free(p->env, u);
	}
}

/* The write ends with ReadyForQuery ("Z", length 5, status I, T or E): the end of a reply,
 * found in the last bytes the kernel keeps of every write even when its messages could not
 * be followed. */
static bool ends_ready(const struct obi_data_event *e)
{
	size_t n = e->tail_len < OBI_TAIL ? e->tail_len : OBI_TAIL;
	const uint8_t *t = e->tail + n - 6;

	return n >= 6 && t[0] == 'Z' && !t[1] && !t[2] && !t[3] && t[4] == 5 &&
	       (t[5] == 'I' || t[5] == 'T' || t[5] == 'E');
}

static void backend_event(struct pg_conn *p, const struct obi_data_event *e)
{
	const uint8_t *b = e->data;
	size_t cap = e->cap_len, len = e->len;

	if (p->ssl_asked && cap >= 1) {
		p->ssl_asked = false;
		if (b[0] != 'N') {
			p->ignored = true;	/* TLS (or GSS) from here on: not readable here */
			return;
		}
		b++, cap--, len--;
	}
	if (!p->be.lost)
		pg_scan(p, &p->be, b, cap, len, on_backend);
	if (!p->be.lost)
		return;
	if (!p->confirmed) {
		flush(p, e->hdr.ts_ns, false);	/* not PostgreSQL after all */
		p->ignored = true;
	} else if (ends_ready(e)) {
		on_backend(p, 'Z', "I", 1, 1);	/* the reply obi lost track of ends here */
		p->be.lost = false;
		p->be.hdr_want = 0;
	}
}

static void pg_feed(struct proto_env *env, const struct proto_conn *c, void *state,
		    const struct obi_data_event *e)
{
	struct pg_conn *p = state;
	bool frontend = (e->dir == OBI_DIR_RECV) == p->server;
	bool fe_lost = p->fe.lost, be_lost = p->be.lost;

	if (p->ignored)
		return;
	p->env = env;
	p->c = c;
	p->e = e;
	if (frontend) {
		proto_origin_set(&p->here, e);
		if (p->fe.lost && pg_first_bytes(e->data, e->cap_len, &p->fe.untyped)) {
			p->fe.lost = false;	/* a message starts this write: in step again */
			p->fe.hdr_want = 0;
		}
		pg_scan(p, &p->fe, e->data, e->cap_len, e->len, on_frontend);
	} else {
		backend_event(p, e);
	}
	if ((!fe_lost && p->fe.lost) || (!be_lost && p->be.lost))
		env->stats.lost_sync++;
	if (p->ignored)
		flush(p, e->hdr.ts_ns, false);
}

static void pg_close(struct proto_env *env, const struct proto_conn *c, void *state, uint64_t ts)
{
	struct pg_conn *p = state;

	p->env = env;
	flush(p, ts, false);
	free(p);
}

static void pg_discard(struct proto_env *env, void *state)
{
	struct pg_conn *p = state;

	proto_queue_free(&p->q);
	free(p);
}

const struct protocol proto_postgres = {
	.name = "postgresql",
	.detect = pg_detect,
	.open = pg_open,
	.feed = pg_feed,
	.close = pg_close,
	.discard = pg_discard,
};
