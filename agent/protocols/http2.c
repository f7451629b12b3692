// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP/2 (RFC 9113) and gRPC behind the tracker's protocol interface. Each direction's frames
 * are followed across events (a frame may be split over events, an event may hold several);
 * header blocks (HEADERS, CONTINUATION, PUSH_PROMISE) go through nghttp2's HPACK inflater, one
 * per direction; of DATA only the length counts. One span per stream: request headers, then
 * response headers, then the response's END_STREAM (trailers), concurrent streams each with
 * their own. A connection is HTTP/2 when its first event starts with the client preface.
 *
 * What the events must hold: each direction's bytes in order from the connection's first byte,
 * none twice; data[0, cap_len) are the next bytes, and the len - cap_len after them that were
 * not captured must lie in DATA payload or padding. Anywhere else they lose that direction: its
 * framing (a frame header, SETTINGS, RST_STREAM, GOAWAY: counted in lost_sync) or its HPACK
 * state (a header block: the streams left without a span counted in h2_undecodable). The
 * kernel's ids (e->trace) are taken by the first request HEADERS frame that begins in the event.
 *
 * Memory per connection: this state (7 KiB), two inflaters (each 2 KiB plus a dynamic table
 * of at most the peer's SETTINGS_HEADER_TABLE_SIZE, 4 KiB by default, TABLE_MAX at most) and
 * one span (1.7 KiB) per open stream, MAX_STREAMS at most; CONN_MAX connections at most.
 */
#include <nghttp2/nghttp2.h>
#include <stdlib.h>
#include <string.h>

#include "agent/protocol.h"
#include "http1.h"

#define PREFACE	      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PREFACE_LEN   24
#define FRAME_HDR     9
#define MAX_STREAMS   128   /* streams followed at once on one connection */
#define CONN_MAX      4096  /* HTTP/2 connections followed at once */
#define TABLE_DEFAULT 4096  /* RFC 9113 6.5.2: SETTINGS_HEADER_TABLE_SIZE's initial value */
#define TABLE_MAX     65536 /* the largest HPACK table obi keeps, whatever the peer allows */

/* RFC 9113 6: frame types, flags, settings, error codes */
enum frame_type {
	F_DATA = 0,
	F_HEADERS = 1,
	F_PRIORITY = 2,
	F_RST_STREAM = 3,
	F_SETTINGS = 4,
	F_PUSH_PROMISE = 5,
	F_PING = 6,
	F_GOAWAY = 7,
	F_WINDOW_UPDATE = 8,
	F_CONTINUATION = 9,
};
#define FL_END_STREAM		   0x01
#define FL_ACK			   0x01
#define FL_END_HEADERS		   0x04
#define FL_PADDED		   0x08
#define FL_PRIORITY		   0x20
#define SETTINGS_HEADER_TABLE_SIZE 0x1
#define ERR_REFUSED_STREAM	   0x7
#define ERR_CANCEL		   0x8
#define ERR_ENHANCE_YOUR_CALM	   0xb
#define ERR_INADEQUATE_SECURITY	   0xc

/* gRPC status codes (grpc/doc/statuscodes.md) */
enum grpc_code {
	GRPC_OK = 0,
	GRPC_CANCELLED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_UNIMPLEMENTED = 12,
	GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14,
	GRPC_DATA_LOSS = 15,
	GRPC_UNAUTHENTICATED = 16,
};

/* Where a frame began: the event that carried its first byte. */
struct origin {
	uint64_t ts_ns, enter_ns;
	uint32_t tid;
	uint32_t seq; /* the event's number in its direction, from 1 */
	struct obi_trace trace;
};

enum block_kind {
	B_IGNORE = 0, /* decoded to keep HPACK state, nothing else (PUSH_PROMISE, the
		       * responses of pushed or untracked streams) */
	B_REQUEST,    /* a new stream's request headers */
	B_RESPONSE,   /* response headers (an interim 1xx or the final one) */
	B_TRAILERS,   /* headers after those, on either side */
};

/* The header block being decoded in one direction. */
struct block {
	enum block_kind kind;
	uint32_t stream;
	bool end_stream; /* its HEADERS frame ends the stream's side */
	bool grpc;	 /* content-type: application/grpc... */
	bool ts_over;	 /* tracestate values beyond tracestate[] */
	uint16_t status; /* :status, 0 if none or invalid */
	int grpc_status; /* -1: none */
	unsigned n_traceparent;
	size_t ts_len;
	struct origin at;
	char method[16];
	char path[256];
	char authority[128];
	char user_agent[128];
	char traceparent[128];
	char tracestate[2 * TRACESTATE_MAX]; /* the values joined by ',' */
};

/* One direction of the connection: a frame parser and its HPACK inflater. */
struct dir {
	nghttp2_hd_inflater *hd;
	size_t table_bound;    /* the encoder's table size limit in force in the inflater */
	size_t table_want;     /* the peer's setting, applied between header blocks */
	bool lost;	       /* frame boundaries lost (bytes not captured, malformed framing) */
	bool hpack_failed;     /* a header block could not be decoded: the inflater is gone */
	bool in_block;	       /* a header block started and has not ended */
	unsigned preface_left; /* client preface bytes still to come (the request side) */
	uint8_t hdr[FRAME_HDR];
	unsigned hdr_len;
	/* the frame being read */
	uint8_t type, flags;
	bool need_pad; /* PADDED: the first payload byte is the pad length */
	uint32_t stream, len, pos;
	uint32_t pre;		/* payload bytes before the fragment (pad length, priority, id) */
	uint32_t frag_end;	/* payload offset where the padding starts */
	uint8_t fixed[8];	/* a SETTINGS entry, RST_STREAM's code, GOAWAY's first words */
	struct origin here;	/* the event being fed */
	struct origin frame_at; /* where the frame being read began */
	uint32_t ids_seq;	/* the event whose kernel ids a request took */
	struct block blk;
};

struct stream {
	uint32_t id;
	bool req_done;	/* the request side ended (END_STREAM) */
	bool resp_seen; /* the final response headers came */
	uint16_t http_status;
	int grpc_status; /* -1: none yet */
	struct pending *p;
};

struct h2_conn {
	bool server;	    /* the traced process reads the requests */
	uint8_t req_ev_dir; /* enum obi_dir of the request side's events */
	struct dir req, resp;
	uint32_t last_req_id; /* highest stream id a request opened */
	unsigned n;
	struct stream streams[MAX_STREAMS];
	/* during a call from the tracker */
	struct proto_env *env;
	const struct proto_conn *c;
	const struct obi_data_event *e;
};

enum end_how {
	END_STREAM,  /* the response's END_STREAM */
	END_RESET,   /* RST_STREAM */
	END_REFUSED, /* above a GOAWAY's last stream id */
	END_CLOSED,  /* the connection ended */
};

static struct dir *other(struct h2_conn *h, struct dir *d)
{
	return d == &h->req ? &h->resp : &h->req;
}

static bool broken(const struct dir *d)
{
	return d->lost || d->hpack_failed;
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* ---- streams and their spans -------------------------------------------------------------- */

static struct stream *stream_find(struct h2_conn *h, uint32_t id)
{
	for (unsigned i = 0; i < h->n; i++)
		if (h->streams[i].id == id)
			return &h->streams[i];
	return NULL;
}

static void stream_remove(struct h2_conn *h, struct stream *st)
{
	*st = h->streams[--h->n];
}

/* gRPC's status of a stream that ended without grpc-status (grpc/doc/http-grpc-status-mapping.md,
 * PROTOCOL-HTTP2.md "Errors"). */
static unsigned grpc_code_of(const struct h2_conn *h, const struct stream *st, enum end_how how,
			     uint32_t err)
{
	if (st->grpc_status >= 0)
		return (unsigned)st->grpc_status;
	switch (how) {
	case END_RESET:
		switch (err) {
		case ERR_REFUSED_STREAM:
			return GRPC_UNAVAILABLE;
		case ERR_CANCEL:
			return GRPC_CANCELLED;
		case ERR_ENHANCE_YOUR_CALM:
			return GRPC_RESOURCE_EXHAUSTED;
		case ERR_INADEQUATE_SECURITY:
			return GRPC_PERMISSION_DENIED;
		}
		return GRPC_INTERNAL;
	case END_REFUSED:
		return GRPC_UNAVAILABLE;
	case END_CLOSED:
		/* what each side's library reports when the connection goes away mid-call */
		return h->server ? GRPC_CANCELLED : GRPC_UNAVAILABLE;
	case END_STREAM:
		break;
	}
	switch (st->http_status) {
	case 400:
		return GRPC_INTERNAL;
	case 401:
		return GRPC_UNAUTHENTICATED;
	case 403:
		return GRPC_PERMISSION_DENIED;
	case 404:
		return GRPC_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504:
		return GRPC_UNAVAILABLE;
	}
	return GRPC_UNKNOWN; /* 200 without grpc-status, or no response */
}

/* A server span fails on the codes that mean the server failed; a client span on any but OK. */
static bool grpc_is_error(bool server, unsigned code)
{
	if (!server)
		return code != GRPC_OK;
	switch (code) {
	case GRPC_UNKNOWN:
	case GRPC_DEADLINE_EXCEEDED:
	case GRPC_UNIMPLEMENTED:
	case GRPC_INTERNAL:
	case GRPC_UNAVAILABLE:
	case GRPC_DATA_LOSS:
		return true;
	}
	return false;
}

/* The stream ended at ts: its span is emitted and the stream forgotten. */
static void stream_end(struct h2_conn *h, struct stream *st, uint64_t ts, enum end_how how,
		       uint32_t err)
{
	struct span *s = &st->p->s;
	bool answered = st->resp_seen && st->http_status != 0;

	s->end_ns = proto_real_ns(h->env, ts);
	if (s->proto == SPAN_GRPC) {
		s->status = grpc_code_of(h, st, how, err);
		s->error = grpc_is_error(h->server, s->status);
	} else {
		s->status = answered ? st->http_status : 0;
		s->error = !answered || (h->server ? s->status >= 500 : s->status >= 400);
	}
	proto_emit(h->env, s, answered);
	proto_pending_free(h->env, st->p);
	stream_remove(h, st);
}

/* The open streams, given no span: their responses can no longer be decoded (counted). */
static void streams_drop(struct h2_conn *h)
{
	while (h->n) {
		h->env->stats.h2_undecodable++;
		proto_pending_free(h->env, h->streams[h->n - 1].p);
		h->n--;
	}
}

/* A request's span, from the tracker's memory of finished ones. */
static struct pending *pending_get(struct proto_env *env, enum span_proto proto)
{
	struct proto_queue q = {0};

	return proto_queue_push(env, &q, proto, 1);
}

static void request_set_ids(struct h2_conn *h, struct dir *d, struct span *s)
{
	struct block *b = &d->blk;
	const struct obi_trace *kt = NULL;

	/* the kernel's ids are for the first request that begins in their event */
	if ((b->at.trace.state & OBI_TP_IDS) && d->ids_seq != b->at.seq) {
		d->ids_seq = b->at.seq;
		kt = &b->at.trace;
	}
	if (h->server) {
		char ts[TRACESTATE_MAX + 1] = "";
		const char *val = b->tracestate;
		size_t len = b->ts_len;
		struct proto_tc tc = {b->traceparent, b->n_traceparent, ts};

		if (!b->ts_over && len)
			tracestate_combine(&val, &len, 1, ts);
		proto_span_ids(h->env, s, &tc, kt);
	} else {
		proto_span_ids(h->env, s, NULL, kt);
	}
}

/* A new stream's request headers are whole: its span starts where its HEADERS frame began. */
static void request_open(struct h2_conn *h, struct dir *d)
{
	struct block *b = &d->blk;
	struct proto_env *env = h->env;
	struct stream *st;
	struct pending *p;
	struct span *s;

	if (broken(d) || broken(other(h, d))) {
		env->stats.h2_undecodable++;
		return;
	}
	if (h->n == MAX_STREAMS) {
		env->stats.pipeline_overflow++;
		return;
	}
	p = pending_get(env, b->grpc ? SPAN_GRPC : SPAN_HTTP);
	if (!p)
		return;
	s = &p->s;
	s->kind = h->server ? SPAN_SERVER : SPAN_CLIENT;
	s->version = 20;
	s->start_ns = proto_real_ns(env, h->server ? b->at.ts_ns : b->at.enter_ns);
	s->tid = b->at.tid;
	s->local = h->c->local;
	s->remote = h->c->remote;
	s->pid = h->c->pid;
	str_copy(s->method, sizeof(s->method), b->method);
	b->path[strcspn(b->path, "?#")] = '\0';
	str_copy(s->path, sizeof(s->path), b->path);
	if (b->grpc)
		str_copy(s->route, sizeof(s->route), b->path); /* /package.Service/Method */
	else
		http1_route_heuristic(b->path, s->route, sizeof(s->route));
	str_copy(s->host_header, sizeof(s->host_header), b->authority);
	str_copy(s->user_agent, sizeof(s->user_agent), b->user_agent);
	request_set_ids(h, d, s);
	st = &h->streams[h->n++];
	*st = (struct stream){.id = b->stream, .grpc_status = -1, .p = p};
	if (b->end_stream) {
		st->req_done = true;
		s->handler_ns = proto_real_ns(env, h->e->hdr.ts_ns);
	}
}

/* One side of a stream ended (END_STREAM on a DATA or HEADERS frame). */
static void side_end(struct h2_conn *h, struct dir *d, struct stream *st)
{
	if (d == &h->req) {
		if (!st->req_done)
			st->p->s.handler_ns = proto_real_ns(h->env, h->e->hdr.ts_ns);
		st->req_done = true;
	} else {
		stream_end(h, st, h->e->hdr.ts_ns, END_STREAM, 0);
	}
}

/* A header block ended: what it says goes to its stream. */
static void block_done(struct h2_conn *h, struct dir *d)
{
	struct block *b = &d->blk;
	struct stream *st;

	if (b->kind == B_REQUEST) {
		request_open(h, d);
		return;
	}
	st = b->kind == B_IGNORE ? NULL : stream_find(h, b->stream);
	if (!st)
		return;
	if (b->kind == B_RESPONSE) {
		if (b->status >= 100 && b->status < 200 && !b->end_stream)
			return; /* interim: the final response follows */
		st->resp_seen = true;
		st->http_status = b->status >= 200 ? b->status : 0;
	}
	if (d == &h->resp && b->grpc_status >= 0)
		st->grpc_status = b->grpc_status;
	if (b->end_stream)
		side_end(h, d, st);
}

/* ---- header blocks ---------------------------------------------------------------------- */

static bool name_is(const nghttp2_nv *nv, const char *name)
{
	size_t n = strlen(name);

	return nv->namelen == n && memcmp(nv->name, name, n) == 0;
}

static void value_copy(char *dst, size_t size, const nghttp2_nv *nv)
{
	size_t n = nv->valuelen < size - 1 ? nv->valuelen : size - 1;

	memcpy(dst, nv->value, n);
	dst[n] = '\0';
}

/* Digits only, at most `max`; -1 else. */
static int number(const nghttp2_nv *nv, int max)
{
	int v = 0;

	if (nv->valuelen == 0 || nv->valuelen > 5)
		return -1;
	for (size_t i = 0; i < nv->valuelen; i++) {
		if (nv->value[i] < '0' || nv->value[i] > '9')
			return -1;
		v = v * 10 + (nv->value[i] - '0');
	}
	return v <= max ? v : -1;
}

static void tracestate_add(struct block *b, const nghttp2_nv *nv)
{
	size_t need = nv->valuelen + (b->ts_len ? 1 : 0);

	if (b->ts_len + need >= sizeof(b->tracestate)) {
		b->ts_over = true;
		return;
	}
	if (b->ts_len)
		b->tracestate[b->ts_len++] = ',';
	memcpy(b->tracestate + b->ts_len, nv->value, nv->valuelen);
	b->ts_len += nv->valuelen;
	b->tracestate[b->ts_len] = '\0';
}

static void request_header(struct block *b, const nghttp2_nv *nv)
{
	static const char grpc_type[] = "application/grpc";

	if (name_is(nv, ":method"))
		value_copy(b->method, sizeof(b->method), nv);
	else if (name_is(nv, ":path"))
		value_copy(b->path, sizeof(b->path), nv);
	else if (name_is(nv, ":authority") || (name_is(nv, "host") && !b->authority[0]))
		value_copy(b->authority, sizeof(b->authority), nv);
	else if (name_is(nv, "user-agent"))
		value_copy(b->user_agent, sizeof(b->user_agent), nv);
	else if (name_is(nv, "content-type"))
		b->grpc = nv->valuelen >= sizeof(grpc_type) - 1 &&
			  memcmp(nv->value, grpc_type, sizeof(grpc_type) - 1) == 0;
	else if (name_is(nv, "traceparent") && b->n_traceparent++ == 0)
		value_copy(b->traceparent, sizeof(b->traceparent), nv);
	else if (name_is(nv, "tracestate"))
		tracestate_add(b, nv);
}

static void on_header(struct block *b, const nghttp2_nv *nv)
{
	switch (b->kind) {
	case B_REQUEST:
		request_header(b, nv);
		break;
	case B_RESPONSE:
		if (name_is(nv, ":status")) {
			int v = number(nv, 999);

			b->status = v >= 100 ? (uint16_t)v : 0;
		} else if (name_is(nv, "grpc-status")) {
			b->grpc_status = number(nv, 999); /* a trailers-only response */
		}
		break;
	case B_TRAILERS:
		if (name_is(nv, "grpc-status"))
			b->grpc_status = number(nv, 999);
		break;
	case B_IGNORE:
		break;
	}
}

/* A decode error, or header bytes the kernel did not capture: nghttp2's inflater cannot
 * recover, so nothing more of this direction's headers is known. */
static void hpack_fail(struct h2_conn *h, struct dir *d)
{
	d->hpack_failed = true;
	if (d == &h->resp)
		streams_drop(h);
}

/* Bytes of a header block fragment (in NULL: not captured); final: the block's last. */
static void inflate(struct h2_conn *h, struct dir *d, const uint8_t *in, size_t n, bool final)
{
	if (d->hpack_failed)
		return;
	if (!in) {
		hpack_fail(h, d);
		return;
	}
	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t r = nghttp2_hd_inflate_hd2(d->hd, &nv, &flags, in, n, final);

		if (r < 0 || (size_t)r > n) {
			hpack_fail(h, d);
			return;
		}
		in += r;
		n -= (size_t)r;
		if (flags & NGHTTP2_HD_INFLATE_EMIT)
			on_header(&d->blk, &nv);
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(d->hd);
			return;
		}
		if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && n == 0)
			return;
	}
}

/*
 * The peer's SETTINGS_HEADER_TABLE_SIZE is the bound of this direction's encoder. It is only
 * ever raised here: a smaller table takes effect through the size update the encoder must put
 * in its next header block (RFC 7541 4.2), which the inflater follows, whereas shrinking the
 * table from the SETTINGS frame could come before header blocks the encoder made earlier.
 */
static void table_apply(struct dir *d)
{
	if (d->table_want <= d->table_bound || d->in_block || d->hpack_failed)
		return;
	if (nghttp2_hd_inflate_change_table_size(d->hd, d->table_want) == 0)
		d->table_bound = d->table_want;
}

static void block_begin(struct h2_conn *h, struct dir *d)
{
	struct block *b = &d->blk;
	struct stream *st = stream_find(h, d->stream);

	b->stream = d->stream;
	b->end_stream = d->flags & FL_END_STREAM;
	b->grpc = b->ts_over = false;
	b->status = 0;
	b->grpc_status = -1;
	b->n_traceparent = 0;
	b->ts_len = 0;
	b->at = d->frame_at;
	b->method[0] = b->path[0] = b->authority[0] = b->user_agent[0] = '\0';
	b->traceparent[0] = b->tracestate[0] = '\0';
	d->in_block = true;
	if (d->type == F_PUSH_PROMISE)
		b->kind = B_IGNORE;
	else if (st)
		b->kind = d == &h->resp && !st->resp_seen ? B_RESPONSE : B_TRAILERS;
	else if (d == &h->req && (d->stream & 1) && d->stream > h->last_req_id)
		b->kind = B_REQUEST;
	else
		b->kind = B_IGNORE; /* a pushed stream's response, or one not followed */
	if (b->kind == B_REQUEST)
		h->last_req_id = d->stream;
}

static void block_end(struct h2_conn *h, struct dir *d)
{
	static const uint8_t end[1];

	inflate(h, d, end, 0, true);
	d->in_block = false;
	block_done(h, d);
	table_apply(d);
}

/* ---- frames ------------------------------------------------------------------------------- */

/* The frame layer of this direction is lost: nothing more of it can be read. */
static void dir_lost(struct h2_conn *h, struct dir *d)
{
	if (!d->lost)
		h->env->stats.lost_sync++;
	d->lost = true;
	if (d == &h->resp)
		streams_drop(h);
}

static void settings_entry(struct h2_conn *h, struct dir *d)
{
	uint32_t id = (uint32_t)d->fixed[0] << 8 | d->fixed[1], v = be32(d->fixed + 2);
	struct dir *o = other(h, d);

	if (id != SETTINGS_HEADER_TABLE_SIZE)
		return;
	v = v < TABLE_MAX ? v : TABLE_MAX;
	if (v > o->table_want) {
		o->table_want = v;
		table_apply(o);
	}
}

/* Control frames' payload bytes, which are all needed (GOAWAY: its first 8). */
static bool control_bytes(struct h2_conn *h, struct dir *d, const uint8_t *p, size_t n)
{
	uint32_t pos = d->pos;

	if (d->type == F_GOAWAY && pos >= 8)
		return true; /* debug data */
	if (!p)
		return false;
	for (size_t i = 0; i < n && (d->type != F_GOAWAY || pos + i < 8); i++) {
		if (d->type == F_SETTINGS) {
			d->fixed[(pos + i) % 6] = p[i];
			if ((pos + i) % 6 == 5)
				settings_entry(h, d);
		} else {
			d->fixed[pos + i] = p[i];
		}
	}
	return true;
}

/* Frame headers that make no sense: the connection's framing is not followed any further. */
static bool frame_valid(const struct h2_conn *h, const struct dir *d)
{
	if (d->in_block != (d->type == F_CONTINUATION) ||
	    (d->in_block && d->stream != d->blk.stream))
		return false; /* RFC 9113 6.10: CONTINUATION, and only it, follows */
	switch (d->type) {
	case F_DATA:
	case F_HEADERS:
	case F_PUSH_PROMISE:
	case F_RST_STREAM:
		if (!d->stream || (d->type == F_RST_STREAM && d->len != 4))
			return false;
		return d->len >= d->pre;
	case F_SETTINGS:
		return !d->stream && (d->flags & FL_ACK ? d->len == 0 : d->len % 6 == 0);
	case F_GOAWAY:
		return !d->stream && d->len >= 8;
	}
	return true;
}

static void frame_end(struct h2_conn *h, struct dir *d);

static void frame_begin(struct h2_conn *h, struct dir *d)
{
	const uint8_t *b = d->hdr;

	d->len = (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
	d->type = b[3];
	d->flags = b[4];
	d->stream = be32(b + 5) & 0x7fffffff;
	d->pos = 0;
	d->need_pad = (d->flags & FL_PADDED) &&
		      (d->type == F_DATA || d->type == F_HEADERS || d->type == F_PUSH_PROMISE);
	d->pre = d->need_pad;
	if (d->type == F_HEADERS && (d->flags & FL_PRIORITY))
		d->pre += 5;
	else if (d->type == F_PUSH_PROMISE)
		d->pre += 4;
	d->frag_end = d->len;
	if (!frame_valid(h, d)) {
		dir_lost(h, d);
		return;
	}
	if (d->type == F_HEADERS || d->type == F_PUSH_PROMISE)
		block_begin(h, d);
	if (d->len == 0)
		frame_end(h, d);
}

static void frame_end(struct h2_conn *h, struct dir *d)
{
	struct stream *st = stream_find(h, d->stream);

	d->hdr_len = 0;
	switch (d->type) {
	case F_DATA:
		if (st && d == &h->req)
			st->p->s.req_body_size += d->frag_end - d->pre;
		else if (st)
			st->p->s.resp_body_size += d->frag_end - d->pre;
		if (st && (d->flags & FL_END_STREAM))
			side_end(h, d, st);
		break;
	case F_HEADERS:
	case F_PUSH_PROMISE:
	case F_CONTINUATION:
		if (d->flags & FL_END_HEADERS)
			block_end(h, d);
		break;
	case F_RST_STREAM:
		if (st)
			stream_end(h, st, h->e->hdr.ts_ns, END_RESET, be32(d->fixed));
		break;
	case F_GOAWAY:
		/* the server's GOAWAY: the client's streams above its last stream id were not
		 * and will not be processed (RFC 9113 6.8) */
		for (unsigned i = h->n; d == &h->resp && i-- > 0;)
			if (h->streams[i].id > (be32(d->fixed) & 0x7fffffff))
				stream_end(h, &h->streams[i], h->e->hdr.ts_ns, END_REFUSED, 0);
		break;
	}
}

/* Payload bytes of the frame being read (p NULL: not captured); returns how many it used. */
static size_t payload_step(struct h2_conn *h, struct dir *d, const uint8_t *p, size_t n)
{
	size_t k = n < d->len - d->pos ? n : d->len - d->pos, m;
	bool header =
	    d->type == F_HEADERS || d->type == F_PUSH_PROMISE || d->type == F_CONTINUATION;

	if (d->need_pad && d->pos == 0) {
		if (!p || d->pre + p[0] > d->len) {
			dir_lost(h, d);
			return n;
		}
		d->frag_end = d->len - p[0];
		m = 1;
	} else if (d->pos < d->pre) {
		m = k < d->pre - d->pos ? k : d->pre - d->pos; /* priority, promised id */
	} else if (d->pos < d->frag_end) {
		m = k < d->frag_end - d->pos ? k : d->frag_end - d->pos;
		if (header) {
			inflate(h, d, p, m, false);
		} else if ((d->type == F_SETTINGS || d->type == F_RST_STREAM ||
			    d->type == F_GOAWAY) &&
			   !control_bytes(h, d, p, m)) {
			dir_lost(h, d);
			return n;
		}
	} else {
		m = k; /* padding */
	}
	d->pos += m;
	if (d->pos == d->len)
		frame_end(h, d);
	return m;
}

/* Bytes of one direction, in order (p NULL: n bytes the kernel did not capture); returns how
 * many it used. */
static size_t dir_step(struct h2_conn *h, struct dir *d, const uint8_t *p, size_t n)
{
	size_t k;

	if (d->preface_left) {
		k = n < d->preface_left ? n : d->preface_left;
		if (!p || memcmp(p, &PREFACE[PREFACE_LEN - d->preface_left], k) != 0) {
			dir_lost(h, d);
			return n;
		}
		d->preface_left -= k;
		return k;
	}
	if (d->hdr_len == FRAME_HDR)
		return payload_step(h, d, p, n);
	if (!p) {
		dir_lost(h, d);
		return n;
	}
	if (d->hdr_len == 0)
		d->frame_at = d->here;
	k = n < FRAME_HDR - d->hdr_len ? n : FRAME_HDR - d->hdr_len;
	memcpy(d->hdr + d->hdr_len, p, k);
	d->hdr_len += k;
	if (d->hdr_len == FRAME_HDR)
		frame_begin(h, d);
	return k;
}

/* ---- the protocol interface --------------------------------------------------------------- */

static bool http2_detect(const struct obi_data_event *e)
{
	return e->cap_len >= PREFACE_LEN && e->len >= PREFACE_LEN &&
	       memcmp(e->data, PREFACE, PREFACE_LEN) == 0;
}

static void h2_free(struct proto_env *env, struct h2_conn *h)
{
	nghttp2_hd_inflate_del(h->req.hd);
	nghttp2_hd_inflate_del(h->resp.hd);
	free(h);
	env->stats.h2_conns--;
}

static void *http2_open(struct proto_env *env, const struct obi_data_event *first)
{
	struct h2_conn *h;

	if (env->stats.h2_conns >= CONN_MAX) {
		env->stats.conns_dropped++;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	env->stats.h2_conns++;
	if (nghttp2_hd_inflate_new(&h->req.hd) || nghttp2_hd_inflate_new(&h->resp.hd)) {
		h2_free(env, h);
		return NULL;
	}
	h->server = first->dir == OBI_DIR_RECV;
	h->req_ev_dir = first->dir;
	h->req.preface_left = PREFACE_LEN;
	h->req.table_bound = h->req.table_want = TABLE_DEFAULT;
	h->resp.table_bound = h->resp.table_want = TABLE_DEFAULT;
	return h;
}

static void http2_feed(struct proto_env *env, const struct proto_conn *c, void *state,
		       const struct obi_data_event *e)
{
	struct h2_conn *h = state;
	struct dir *d = e->dir == h->req_ev_dir ? &h->req : &h->resp;
	size_t cap = e->cap_len < e->len ? e->cap_len : e->len, pos = 0;

	h->env = env;
	h->c = c;
	h->e = e;
	d->here = (struct origin){.ts_ns = e->hdr.ts_ns,
				  .enter_ns = e->enter_ns,
				  .tid = e->hdr.tid,
				  .seq = d->here.seq + 1,
				  .trace = e->trace};
	if (!d->here.seq)
		d->here.seq = 1; /* 0 is "no event" */
	while (pos < e->len && !d->lost) {
		const uint8_t *p = pos < cap ? e->data + pos : NULL;
		size_t used = dir_step(h, d, p, (pos < cap ? cap : e->len) - pos);

		if (!used)
			break;
		pos += used;
	}
}

static void http2_close(struct proto_env *env, const struct proto_conn *c, void *state, uint64_t ts)
{
	struct h2_conn *h = state;

	h->env = env;
	h->c = c;
	while (h->n) {
		struct stream *first = &h->streams[0];

		for (unsigned i = 1; i < h->n; i++) /* the oldest first */
			if (h->streams[i].id < first->id)
				first = &h->streams[i];
		stream_end(h, first, ts, END_CLOSED, 0);
	}
	h2_free(env, h);
}

static void http2_discard(struct proto_env *env, void *state)
{
	struct h2_conn *h = state;

	for (unsigned i = 0; i < h->n; i++)
		free(h->streams[i].p);
	h2_free(env, h);
}

const struct protocol proto_http2 = {
    .name = "http2",
    .detect = http2_detect,
    .open = http2_open,
    .feed = http2_feed,
    .close = http2_close,
    .discard = http2_discard,
};
