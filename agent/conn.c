// SPDX-License-Identifier: Apache-2.0
#include "conn.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

#define CONN_BUCKETS 16384
#define CONN_MAX 65536

/* The protocols, tried in this order on a connection's first event. */
static const struct protocol *const protocols[] = {
	&proto_http1,
	&proto_redis,
	&proto_postgres,
	&proto_mysql,
	&proto_http2,	/* the client preface, which no other row accepts */
};

struct conn {
	struct conn *next;
	struct proto_conn info;
	uint64_t last_ns;
	const struct protocol *proto;	/* NULL until an event opens one */
	void *state;			/* the protocol's */
};

struct conn_tracker {
	struct proto_env env;	/* what the parsers share; its stats are the tracker's too */
	struct conn *buckets[CONN_BUCKETS];
};

static uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

struct conn_tracker *conn_tracker_new(conn_span_fn fn, void *ctx)
{
	struct conn_tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	proto_env_init(&t->env, fn, ctx);
	return t;
}

void conn_tracker_set_sampling(struct conn_tracker *t, const struct sampling *s)
{
	t->env.sampling = *s;
}

void conn_tracker_set_clock(struct conn_tracker *t, int64_t mono_to_real_ns)
{
	t->env.clock_offset = mono_to_real_ns;
}

void conn_tracker_stats(const struct conn_tracker *t, struct conn_stats *out)
{
	*out = t->env.stats;
}

/* ---- connections --------------------------------------------------------------------------- */

static struct conn **conn_slot(struct conn_tracker *t, uint64_t sock_id)
{
	struct conn **p = &t->buckets[hash64(sock_id) % CONN_BUCKETS];

	while (*p && (*p)->info.sock_id != sock_id)
		p = &(*p)->next;
	return p;
}

static void addr_from(struct span_addr *dst, const struct obi_sockaddr *src)
{
	dst->family = src->family;
	memcpy(dst->addr, src->addr, sizeof(dst->addr));
	dst->port = src->port;
}

/* ---- connections, continued ----------------------------------------------------------- */

static void conn_remove(struct conn_tracker *t, struct conn **p, uint64_t ts);

static bool same_addr(const struct span_addr *a, const struct obi_sockaddr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* The event is of this connection: same ends, except that a socket TCP has closed reads local
 * port 0 (the kernel gives the port back when the connection goes to CLOSE, and the
 * application may still read what it received). */
static bool same_conn(const struct conn *c, const struct obi_data_event *e)
{
	struct obi_sockaddr local = e->local;

	if (local.port == 0)
		local.port = c->info.local.port;
	return same_addr(&c->info.local, &local) && same_addr(&c->info.remote, &e->remote);
}

static struct conn *conn_get(struct conn_tracker *t, const struct obi_data_event *e)
{
	struct conn **p = conn_slot(t, e->sock_id);
	struct conn *c = *p;

	if (c && !same_conn(c, e)) {
		/* a connection's addresses never change: the kernel freed the socket and gave its
		 * memory to a new one, and obi did not see the old one end (two processes closing
		 * their copies at once: neither close was the last at its start) */
		conn_remove(t, p, e->hdr.ts_ns);
		p = conn_slot(t, e->sock_id);
		c = *p;
	}
	if (c)
		return c;
	if (!(e->flags & (OBI_F_MSG_START | OBI_F_DB_START)))
		return NULL;	/* join a connection only at a message boundary */
	if (t->env.stats.conns >= CONN_MAX) {
		t->env.stats.conns_dropped++;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->info.sock_id = e->sock_id;
	c->info.pid = e->hdr.pid;
	addr_from(&c->info.local, &e->local);
	addr_from(&c->info.remote, &e->remote);
	*p = c;
	t->env.stats.conns++;
	return c;
}

/* The protocol the event opens, tried in table order; the connection waits for an event
 * that opens one (an HTTP/1 response first: its request was missed). */
static bool conn_open_protocol(struct conn_tracker *t, struct conn *c,
			       const struct obi_data_event *e)
{
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++) {
		if (!protocols[i]->detect(e))
			continue;
		c->state = protocols[i]->open(&t->env, e);
		if (!c->state)
			return false;
		c->proto = protocols[i];
		c->info.pid = e->hdr.pid;
		return true;
	}
	return false;
}

void conn_tracker_data(struct conn_tracker *t, const struct obi_data_event *e, size_t size)
{
	struct conn *c;

	if (size < OBI_DATA_HDR_SIZE || size < OBI_DATA_HDR_SIZE + e->cap_len)
		return;
	c = conn_get(t, e);
	if (!c)
		return;
	c->last_ns = e->hdr.ts_ns;
	if (!c->proto && !conn_open_protocol(t, c, e))
		return;
	c->proto->feed(&t->env, &c->info, c->state, e);
}

static void conn_remove(struct conn_tracker *t, struct conn **p, uint64_t ts)
{
	struct conn *c = *p;

	if (c->proto)
		c->proto->close(&t->env, &c->info, c->state, ts);
	*p = c->next;
	free(c);
	t->env.stats.conns--;
}

void conn_tracker_close(struct conn_tracker *t, const struct obi_close_event *e)
{
	struct conn **p = conn_slot(t, e->sock_id);

	/* Another process closing its copy of the socket (a forking server's parent, right after
	 * handing the connection to a child) does not end the connection its owner still uses;
	 * the owner's close, its exit or the idle sweep does. */
	if (*p && (*p)->info.pid == e->hdr.pid)
		conn_remove(t, p, e->hdr.ts_ns);
}

/* Removes every connection for which `match` holds. */
static void conn_remove_if(struct conn_tracker *t, uint64_t ts,
			   bool (*match)(const struct conn *, uint64_t), uint64_t arg)
{
	for (size_t b = 0; b < CONN_BUCKETS; b++) {
		struct conn **p = &t->buckets[b];

		while (*p) {
			if (match(*p, arg))
				conn_remove(t, p, ts);
			else
				p = &(*p)->next;
		}
	}
}

static bool owned_by(const struct conn *c, uint64_t pid)
{
	return c->info.pid == pid;
}

static bool idle_before(const struct conn *c, uint64_t deadline)
{
	return c->last_ns < deadline;
}

void conn_tracker_proc_exit(struct conn_tracker *t, uint32_t pid, uint64_t ts_ns)
{
	conn_remove_if(t, ts_ns, owned_by, pid);
}

void conn_tracker_sweep(struct conn_tracker *t, uint64_t now_ns, uint64_t idle_ns)
{
	if (now_ns > idle_ns)
		conn_remove_if(t, now_ns, idle_before, now_ns - idle_ns);
}

void conn_tracker_free(struct conn_tracker *t)
{
	if (!t)
		return;
	for (size_t b = 0; b < CONN_BUCKETS; b++) {
		while (t->buckets[b]) {
			struct conn *c = t->buckets[b];

			t->buckets[b] = c->next;
			if (c->proto)
				c->proto->discard(&t->env, c->state);
			free(c);
		}
	}
	proto_env_release(&t->env);
	free(t);
}
