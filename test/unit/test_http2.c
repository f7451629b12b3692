// SPDX-License-Identifier: Apache-2.0
/*
 * The HTTP/2 and gRPC parser (agent/protocols/http2.c) against nghttp2 itself: a client and a
 * server session talk in memory, every write of theirs is kept as a kernel event, and the
 * events are fed to the parser through the calls the tracker makes (detect, open, feed,
 * close), as the server's and as the client's, whole and split at every position.
 *
 * OBI_H2_SEEDS=dir writes each conversation into dir in fuzz_http2's input format.
 */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "conn.h"
#include "printer.h"
#include "protocol.h"

#define MAX_EV	   256
#define MAX_SPANS  256
#define TS_STEP	   1000 /* event i happens at (i + 1) * TS_STEP */
#define ENTER_LEAD 100	/* a send's entry, before its exit */

/* ---- the conversation: what each side wrote, in order ----------------------------------- */

struct wire_ev {
	bool to_server;
	size_t len;
	uint8_t *bytes;
};

struct wire {
	struct wire_ev ev[MAX_EV];
	unsigned n;
};

/* A body sent in pieces, each released by the test (server streaming), maybe with trailers. */
struct body {
	size_t piece[8];
	unsigned n, next, ready;
	size_t off;
	const nghttp2_nv *trailers;
	size_t n_trailers;
};

struct pair {
	nghttp2_session *cli, *srv;
	struct wire w;
	int32_t req[256]; /* streams whose request the server has read whole */
	unsigned n_req;
	size_t pad; /* padding each side adds to HEADERS and DATA frames */
};

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct pair *p = ud;

	if (s == p->srv && (f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM) && p->n_req < 256)
		p->req[p->n_req++] = f->hd.stream_id;
	return 0;
}

static ssize_t select_padding(nghttp2_session *s, const nghttp2_frame *f, size_t max, void *ud)
{
	struct pair *p = ud;
	size_t want = f->hd.length + p->pad;

	return (ssize_t)(want < max ? want : max);
}

static ssize_t body_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
			 nghttp2_data_source *src, void *ud)
{
	struct body *b = src->ptr;
	size_t n;

	if (b->next == b->ready)
		return NGHTTP2_ERR_DEFERRED;
	n = b->piece[b->next] - b->off;
	n = n < len ? n : len;
	memset(buf, 'x', n);
	b->off += n;
	if (b->off == b->piece[b->next]) {
		b->next++;
		b->off = 0;
	}
	if (b->next == b->n) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (b->trailers) {
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
			nghttp2_submit_trailer(s, id, b->trailers, b->n_trailers);
		}
	}
	return (ssize_t)n;
}

static void pair_init(struct pair *p, size_t pad, size_t cli_table, size_t srv_table)
{
	nghttp2_session_callbacks *cbs;
	nghttp2_option *co, *so;

	memset(p, 0, sizeof(*p));
	p->pad = pad;
	nghttp2_session_callbacks_new(&cbs);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	if (pad)
		nghttp2_session_callbacks_set_select_padding_callback(cbs, select_padding);
	nghttp2_option_new(&co);
	nghttp2_option_new(&so);
	/* the encoders use as much table as their peer allows */
	nghttp2_option_set_max_deflate_dynamic_table_size(co, srv_table);
	nghttp2_option_set_max_deflate_dynamic_table_size(so, cli_table);
	CHECK(nghttp2_session_client_new2(&p->cli, cbs, p, co) == 0);
	CHECK(nghttp2_session_server_new2(&p->srv, cbs, p, so) == 0);
	nghttp2_option_del(co);
	nghttp2_option_del(so);
	nghttp2_session_callbacks_del(cbs);
	{
		nghttp2_settings_entry c = {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE,
					    (uint32_t)cli_table};
		nghttp2_settings_entry s = {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE,
					    (uint32_t)srv_table};

		nghttp2_submit_settings(p->cli, 0, &c, 1);
		nghttp2_submit_settings(p->srv, 0, &s, 1);
	}
}

static void pair_free(struct pair *p)
{
	nghttp2_session_del(p->cli);
	nghttp2_session_del(p->srv);
	for (unsigned i = 0; i < p->w.n; i++)
		free(p->w.ev[i].bytes);
}

/* Everything one side has to write, as one event, delivered to the other; its index or -1. */
static int flush(struct pair *p, bool client)
{
	nghttp2_session *from = client ? p->cli : p->srv, *to = client ? p->srv : p->cli;
	struct wire_ev *ev = &p->w.ev[p->w.n];
	const uint8_t *chunk;
	ssize_t n;

	ev->len = 0;
	ev->bytes = NULL;
	while ((n = nghttp2_session_mem_send(from, &chunk)) > 0) {
		ev->bytes = realloc(ev->bytes, ev->len + (size_t)n);
		memcpy(ev->bytes + ev->len, chunk, (size_t)n);
		ev->len += (size_t)n;
	}
	CHECK(n == 0);
	if (!ev->len)
		return -1;
	ev->to_server = client;
	CHECK_INT(nghttp2_session_mem_recv(to, ev->bytes, ev->len), ev->len);
	return (int)p->w.n++;
}

#define NV(n, v)                                                                                   \
	{                                                                                          \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE \
	}

static int32_t request(struct pair *p, const char *method, const char *path, const char *ctype,
		       struct body *b, const nghttp2_priority_spec *pri)
{
	nghttp2_nv nv[6] = {NV(":method", ""),
			    NV(":scheme", "http"),
			    NV(":path", ""),
			    NV(":authority", "api.example:8080"),
			    NV("user-agent", "h2test/1.0"),
			    NV("content-type", "")};
	nghttp2_data_provider d = {.source.ptr = b, .read_callback = body_read};

	nv[0].value = (uint8_t *)method, nv[0].valuelen = strlen(method);
	nv[2].value = (uint8_t *)path, nv[2].valuelen = strlen(path);
	nv[5].value = (uint8_t *)ctype, nv[5].valuelen = ctype ? strlen(ctype) : 0;
	return nghttp2_submit_request(p->cli, pri, nv, ctype ? 6 : 5, b ? &d : NULL, NULL);
}

static void respond(struct pair *p, int32_t id, const char *status, const char *ctype,
		    const char *grpc_status, struct body *b)
{
	nghttp2_nv nv[3] = {NV(":status", ""), NV("content-type", ""), NV("grpc-status", "")};
	nghttp2_data_provider d = {.source.ptr = b, .read_callback = body_read};
	size_t n = 1;

	nv[0].value = (uint8_t *)status, nv[0].valuelen = strlen(status);
	if (ctype)
		nv[n].value = (uint8_t *)ctype, nv[n++].valuelen = strlen(ctype);
	if (grpc_status)
		nv[2].value = (uint8_t *)grpc_status, nv[2].valuelen = strlen(grpc_status),
		nv[n] = nv[2], n++;
	CHECK(nghttp2_submit_response(p->srv, id, nv, n, b ? &d : NULL) == 0);
}

/* How many frames of a type (with all of `flags`) one direction of the wire holds. */
static unsigned count_frames(const struct wire *w, bool to_server, uint8_t type, uint8_t flags)
{
	static uint8_t buf[1 << 20];
	size_t len = 0, pos = to_server ? 24 : 0;
	unsigned n = 0;

	for (unsigned i = 0; i < w->n; i++) {
		if (w->ev[i].to_server != to_server || len + w->ev[i].len > sizeof(buf))
			continue;
		memcpy(buf + len, w->ev[i].bytes, w->ev[i].len);
		len += w->ev[i].len;
	}
	while (pos + 9 <= len) {
		size_t flen = (size_t)buf[pos] << 16 | buf[pos + 1] << 8 | buf[pos + 2];

		n += buf[pos + 3] == type && (buf[pos + 4] & flags) == flags;
		pos += 9 + flen;
	}
	return n;
}

/* ---- feeding the parser ------------------------------------------------------------------- */

static struct span got[MAX_SPANS];
static int n_got;

static void collect(struct span *s, void *ctx)
{
	if (n_got < MAX_SPANS)
		got[n_got] = *s;
	n_got++;
}

static struct proto_env env;
static struct obi_trace ids[MAX_EV]; /* the kernel's ids for an event, by index */

struct feeder {
	struct proto_conn c;
	void *state;
	bool server;
	bool opened;
};

static void feed_piece(struct feeder *f, const struct wire_ev *w, unsigned idx, size_t off,
		       size_t len, size_t cap)
{
	static struct obi_data_event e;

	memset(&e, 0, OBI_DATA_HDR_SIZE);
	e.hdr.type = OBI_EV_DATA;
	e.hdr.pid = 100;
	e.hdr.tid = 200 + idx;
	e.hdr.ts_ns = (uint64_t)(idx + 1) * TS_STEP;
	e.enter_ns = e.hdr.ts_ns - (w->to_server == f->server ? 0 : ENTER_LEAD);
	e.sock_id = 1;
	e.dir = w->to_server == f->server ? OBI_DIR_RECV : OBI_DIR_SEND;
	e.len = (uint32_t)len;
	e.cap_len = (uint16_t)cap;
	if (off == 0)
		e.trace = ids[idx];
	memcpy(e.data, w->bytes + off, cap);
	if (!f->opened) {
		CHECK(proto_http2.detect(&e));
		f->state = proto_http2.open(&env, &e);
		f->opened = true;
	}
	proto_http2.feed(&env, &f->c, f->state, &e);
}

/*
 * Feeds the wire as the server's (or the client's) events: each event in pieces of at most
 * `chunk` bytes, event `split` (if any) also cut at byte `at`; then the connection closes.
 */
static void replay(const struct wire *w, bool server, size_t chunk, int split, size_t at)
{
	struct feeder f = {.server = server};

	f.c.sock_id = 1;
	f.c.pid = 100;
	f.c.local.family = f.c.remote.family = AF_INET;
	f.c.local.port = server ? 8080 : 40000;
	f.c.remote.port = server ? 40000 : 8080;
	proto_env_init(&env, collect, NULL);
	n_got = 0;
	memset(got, 0, sizeof(got));
	for (unsigned i = 0; i < w->n; i++) {
		size_t off = 0, len = w->ev[i].len;

		while (off < len) {
			size_t n = len - off < chunk ? len - off : chunk;

			if ((int)i == split && off < at && off + n > at)
				n = at - off;
			if (i == 0 && off == 0 && n < 24)
				n = len < 24 ? len : 24; /* the preface opens the connection */
			feed_piece(&f, &w->ev[i], i, off, n, n);
			off += n;
		}
	}
	proto_http2.close(&env, &f.c, f.state, (uint64_t)(w->n + 1) * TS_STEP);
	proto_env_release(&env);
}

/* ---- what the spans must be ------------------------------------------------------------- */

struct want {
	enum span_proto proto;
	const char *method, *path, *route;
	uint16_t status;
	bool error;
	uint64_t req, resp;
	int start, handler, end; /* event indexes (-1: the close) */
};

static uint64_t ev_ts(const struct wire *w, int i)
{
	return (uint64_t)((i < 0 ? (int)w->n : i) + 1) * TS_STEP;
}

static void check_span(const struct wire *w, const struct span *s, const struct want *x,
		       bool server)
{
	CHECK_INT(s->kind, server ? SPAN_SERVER : SPAN_CLIENT);
	CHECK_INT(s->proto, x->proto);
	CHECK_INT(s->version, 20);
	CHECK_STR(s->method, x->method);
	CHECK_STR(s->path, x->path);
	CHECK_STR(s->route, x->route ? x->route : x->path);
	CHECK_STR(s->host_header, "api.example:8080");
	CHECK_STR(s->user_agent, "h2test/1.0");
	CHECK_INT(s->status, x->status);
	CHECK_INT(s->error, x->error);
	CHECK_INT(s->req_body_size, x->req);
	CHECK_INT(s->resp_body_size, x->resp);
	CHECK_INT(s->start_ns, ev_ts(w, x->start) - (server ? 0 : ENTER_LEAD));
	CHECK_INT(s->handler_ns, ev_ts(w, x->handler));
	CHECK_INT(s->end_ns, ev_ts(w, x->end));
	CHECK_INT(s->pid, 100);
	CHECK_INT(s->tid, 200 + x->start);
	CHECK_INT(s->local.port, server ? 8080 : 40000);
}

/* The spans of the last replay are exactly `want`, in order. */
static bool check_spans(const struct wire *w, const struct want *want, int n, bool server)
{
	int before = check_failures;

	CHECK_INT(n_got, n);
	for (int i = 0; i < n && i < n_got; i++)
		check_span(w, &got[i], &want[i], server);
	return check_failures == before;
}

/* Both sides' views, whole events and pieces of 1, 7 and 100 bytes; a client span is an
 * error where `cli_error` says (its rules differ). */
static void check_all(const struct wire *w, struct want *want, int n, const bool *cli_error)
{
	static const size_t chunks[] = {OBI_CAP_MAX, 1, 7, 100};

	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		replay(w, true, chunks[c], -1, 0);
		if (!check_spans(w, want, n, true))
			fprintf(stderr, "  (server side, pieces of %zu)\n", chunks[c]);
	}
	for (int i = 0; i < n; i++)
		want[i].error = cli_error ? cli_error[i] : want[i].error;
	replay(w, false, OBI_CAP_MAX, -1, 0);
	if (!check_spans(w, want, n, false))
		fprintf(stderr, "  (client side)\n");
	replay(w, false, 3, -1, 0);
	check_spans(w, want, n, false);
}

/* Every event cut at every position: the same spans each time. */
static void check_every_split(const struct wire *w, const struct want *want, int n)
{
	for (unsigned i = 0; i < w->n; i++) {
		for (size_t at = 1; at < w->ev[i].len; at++) {
			replay(w, true, OBI_CAP_MAX, (int)i, at);
			if (!check_spans(w, want, n, true)) {
				fprintf(stderr, "  (event %u cut at %zu)\n", i, at);
				return;
			}
		}
	}
}

/* fuzz_http2's input: a role byte, then records (direction and length, u16, bytes). */
static void write_seed(const struct wire *w, const char *name)
{
	const char *dir = getenv("OBI_H2_SEEDS");
	char path[512];
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/seed_%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return;
	fputc(0, f);
	for (unsigned i = 0; i < w->n; i++) {
		for (size_t off = i ? 0 : 24; off < w->ev[i].len; off += 4096) {
			size_t n = w->ev[i].len - off < 4096 ? w->ev[i].len - off : 4096;

			fputc(w->ev[i].to_server ? 0 : 1, f);
			fputc((int)(n & 0xff), f);
			fputc((int)(n >> 8), f);
			fwrite(w->ev[i].bytes + off, 1, n, f);
		}
	}
	fclose(f);
}

/* ---- conversations ------------------------------------------------------------------------ */

/* A GET and a POST with a body on one connection: HTTP spans with paths, routes, sizes. */
static void test_get_post(void)
{
	struct pair p;
	struct body post = {.piece = {1000}, .n = 1, .ready = 1};
	struct body ok = {.piece = {5}, .n = 1, .ready = 1};
	int e_req, e_get, e_post;

	pair_init(&p, 0, 4096, 4096);
	request(&p, "GET", "/users/42?full=1", NULL, NULL, NULL);
	request(&p, "POST", "/upload", "text/plain", &post, NULL);
	e_req = flush(&p, true);
	flush(&p, false); /* the server's SETTINGS and ACK */
	CHECK_INT(p.n_req, 2);
	respond(&p, 1, "200", "text/plain", NULL, &ok);
	e_get = flush(&p, false);
	respond(&p, 3, "503", NULL, NULL, NULL);
	e_post = flush(&p, false);
	flush(&p, true); /* the client's ACK */
	{
		struct want w[] = {
		    {SPAN_HTTP, "GET", "/users/42", "/users/*", 200, false, 0, 5, e_req, e_req,
		     e_get},
		    {SPAN_HTTP, "POST", "/upload", NULL, 503, true, 1000, 0, e_req, e_req, e_post},
		};
		bool cli[] = {false, true};

		check_all(&p.w, w, 2, cli);
	}
	write_seed(&p.w, "get_post");
	pair_free(&p);
}

/* gRPC: unary, server streaming (the span ends at the trailers, not the first headers), a
 * trailers-only error, an error status in trailers. */
static void test_grpc(void)
{
	static const nghttp2_nv ok[] = {NV("grpc-status", "0")};
	static const nghttp2_nv not_found[] = {NV("grpc-status", "5"),
					       NV("grpc-message", "no such key")};
	struct pair p;
	struct body msg = {.piece = {17}, .n = 1, .ready = 1};
	struct body msg2[3] = {{.piece = {9}, .n = 1, .ready = 1},
			       {.piece = {9}, .n = 1, .ready = 1},
			       {.piece = {9}, .n = 1, .ready = 1}};
	struct body reply = {.piece = {22}, .n = 1, .ready = 1, .trailers = ok, .n_trailers = 1};
	struct body stream = {
	    .piece = {100, 200, 300}, .n = 3, .ready = 1, .trailers = ok, .n_trailers = 1};
	struct body empty = {
	    .piece = {5}, .n = 1, .ready = 1, .trailers = not_found, .n_trailers = 2};
	int e_req, e_unary, e_s1, e_s3, e_tonly, e_nf;
	const char *g = "application/grpc";

	pair_init(&p, 0, 4096, 4096);
	request(&p, "POST", "/helloworld.Greeter/SayHello", g, &msg, NULL);
	request(&p, "POST", "/store.Items/List", "application/grpc+proto", &msg2[0], NULL);
	request(&p, "POST", "/store.Items/Gone", g, &msg2[1], NULL);
	request(&p, "POST", "/store.Items/Get", g, &msg2[2], NULL);
	e_req = flush(&p, true);
	flush(&p, false);
	CHECK_INT(p.n_req, 4);
	respond(&p, 1, "200", g, NULL, &reply);
	e_unary = flush(&p, false);
	respond(&p, 3, "200", g, NULL, &stream);
	e_s1 = flush(&p, false);
	stream.ready = 2;
	nghttp2_session_resume_data(p.srv, 3);
	flush(&p, false);
	respond(&p, 5, "200", g, "12", NULL); /* trailers-only: UNIMPLEMENTED */
	e_tonly = flush(&p, false);
	stream.ready = 3;
	nghttp2_session_resume_data(p.srv, 3);
	e_s3 = flush(&p, false);
	respond(&p, 7, "200", g, NULL, &empty);
	e_nf = flush(&p, false);
	{
		struct want w[] = {
		    {SPAN_GRPC, "POST", "/helloworld.Greeter/SayHello", NULL, 0, false, 17, 22,
		     e_req, e_req, e_unary},
		    {SPAN_GRPC, "POST", "/store.Items/Gone", NULL, 12, true, 9, 0, e_req, e_req,
		     e_tonly},
		    {SPAN_GRPC, "POST", "/store.Items/List", NULL, 0, false, 9, 600, e_req, e_req,
		     e_s3},
		    {SPAN_GRPC, "POST", "/store.Items/Get", NULL, 5, false, 9, 5, e_req, e_req,
		     e_nf},
		};
		bool cli[] = {false, true, false, true};

		CHECK(e_s1 < e_s3);
		check_every_split(&p.w, w, 4);
		check_all(&p.w, w, 4, cli);
		replay(&p.w, true, OBI_CAP_MAX, -1, 0);
		CHECK_STR(span_type_name(&got[0]), "GRPC");
		{
			char line[2048];

			CHECK(printer_format_text(&got[0], line, sizeof(line)) > 0);
			CHECK(strstr(line, "]) GRPC 0 POST /helloworld.Greeter/SayHello"
					   "(/helloworld.Greeter/SayHello) ") != NULL);
			CHECK(strstr(line, " contentLen:17B responseLen:22B ") != NULL);
		}
		replay(&p.w, false, OBI_CAP_MAX, -1, 0);
		CHECK_STR(span_type_name(&got[0]), "GRPCClient");
	}
	write_seed(&p.w, "grpc");
	pair_free(&p);
}

/* Three streams at once, PRIORITY and padding on every HEADERS and DATA, answered out of order:
 * each span its own end; bodies without their padding. Also cut at every position. */
static void test_concurrent_padded(void)
{
	struct pair p;
	struct body b1 = {.piece = {10}, .n = 1, .ready = 1};
	struct body b3 = {.piece = {30}, .n = 1, .ready = 1};
	struct body b5 = {.piece = {50}, .n = 1, .ready = 1};
	struct body up = {.piece = {7}, .n = 1, .ready = 1};
	nghttp2_priority_spec pri;
	int e_req, e5, e1, e3;

	pair_init(&p, 16, 4096, 4096);
	nghttp2_priority_spec_init(&pri, 0, 32, 0);
	request(&p, "GET", "/a", NULL, NULL, &pri);
	request(&p, "PUT", "/b", "text/plain", &up, &pri);
	request(&p, "GET", "/c", NULL, NULL, &pri);
	e_req = flush(&p, true);
	flush(&p, false);
	CHECK_INT(p.n_req, 3);
	respond(&p, 5, "200", NULL, NULL, &b5);
	e5 = flush(&p, false);
	respond(&p, 1, "404", NULL, NULL, &b1);
	e1 = flush(&p, false);
	respond(&p, 3, "201", NULL, NULL, &b3);
	e3 = flush(&p, false);
	CHECK_INT(count_frames(&p.w, true, NGHTTP2_HEADERS, NGHTTP2_FLAG_PRIORITY), 3);
	CHECK_INT(count_frames(&p.w, true, NGHTTP2_HEADERS, NGHTTP2_FLAG_PADDED), 3);
	CHECK_INT(count_frames(&p.w, true, NGHTTP2_DATA, NGHTTP2_FLAG_PADDED), 1);
	CHECK_INT(count_frames(&p.w, false, NGHTTP2_DATA, NGHTTP2_FLAG_PADDED), 3);
	{
		struct want w[] = {
		    {SPAN_HTTP, "GET", "/c", NULL, 200, false, 0, 50, e_req, e_req, e5},
		    {SPAN_HTTP, "GET", "/a", NULL, 404, false, 0, 10, e_req, e_req, e1},
		    {SPAN_HTTP, "PUT", "/b", NULL, 201, false, 7, 30, e_req, e_req, e3},
		};
		bool cli[] = {false, true, false};

		check_every_split(&p.w, w, 3);
		check_all(&p.w, w, 3, cli);
	}
	write_seed(&p.w, "concurrent_padded");
	pair_free(&p);
}

/* Forty requests whose headers repeat (indexed from the dynamic table, evicted as it fills),
 * with both sides' tables raised above the default by SETTINGS_HEADER_TABLE_SIZE. */
static void test_dynamic_table(size_t table, const char *seed)
{
	static char long_val[300], paths[40][32];
	static struct want w[40];
	struct pair p;

	memset(long_val, 'v', sizeof(long_val) - 1);
	pair_init(&p, 0, table, table);
	request(&p, "GET", "/warmup", NULL, NULL, NULL);
	flush(&p, true);
	flush(&p, false);
	respond(&p, 1, "204", NULL, NULL, NULL);
	flush(&p, false);
	flush(&p, true); /* the client has the server's SETTINGS: its table grows */
	for (int i = 0; i < 40; i++) {
		char cookie[64];
		nghttp2_nv nv[] = {NV(":method", "GET"),
				   NV(":scheme", "http"),
				   NV(":path", ""),
				   NV(":authority", "api.example:8080"),
				   NV("user-agent", "h2test/1.0"),
				   NV("x-tenant", "acme"),
				   NV("x-long", ""),
				   NV("cookie", "")};
		int e_req, e_resp;

		snprintf(paths[i], sizeof(paths[i]), "/item/%c%d", 'a' + i % 26, i);
		snprintf(cookie, sizeof(cookie), "session=%d", i % 5);
		long_val[i % 7] = (char)('a' + i % 7); /* seven distinct long values */
		nv[2].value = (uint8_t *)paths[i], nv[2].valuelen = strlen(paths[i]);
		nv[6].value = (uint8_t *)long_val, nv[6].valuelen = strlen(long_val);
		nv[7].value = (uint8_t *)cookie, nv[7].valuelen = strlen(cookie);
		nghttp2_submit_request(p.cli, NULL, nv, 8, NULL, NULL);
		e_req = flush(&p, true);
		{
			nghttp2_nv rv[] = {NV(":status", "200"), NV("x-served-by", "node-7"),
					   NV("x-long", ""), NV("cache-control", "no-store")};

			rv[2].value = (uint8_t *)long_val, rv[2].valuelen = strlen(long_val);
			nghttp2_submit_response(p.srv, 3 + 2 * i, rv, 4, NULL);
		}
		e_resp = flush(&p, false);
		w[i] = (struct want){SPAN_HTTP, "GET", paths[i], "/item/*", 200,   false,
				     0,		0,     e_req,	 e_req,	    e_resp};
	}
	{
		static struct want all[41];

		all[0] =
		    (struct want){SPAN_HTTP, "GET", "/warmup", NULL, 204, false, 0, 0, 0, 0, 2};
		memcpy(all + 1, w, sizeof(w));
		check_all(&p.w, all, 41, NULL);
	}
	write_seed(&p.w, seed);
	pair_free(&p);
}

/* Header blocks over 16 KiB: HEADERS + CONTINUATION both ways, split across events. */
static void test_continuation(void)
{
	static char big[30000];
	struct pair p;
	int e_req, e_resp;

	for (size_t i = 0; i + 1 < sizeof(big); i++)
		big[i] = (char)('!' + (i * 7919) % 90); /* hardly compressible */
	pair_init(&p, 0, 4096, 4096);
	{
		nghttp2_nv nv[] = {
		    NV(":method", "GET"),	    NV(":scheme", "http"),
		    NV(":path", "/big/headers"),    NV(":authority", "api.example:8080"),
		    NV("user-agent", "h2test/1.0"), NV("x-big", "")};

		nv[5].value = (uint8_t *)big, nv[5].valuelen = strlen(big);
		nghttp2_submit_request(p.cli, NULL, nv, 6, NULL, NULL);
	}
	e_req = flush(&p, true);
	flush(&p, false);
	{
		nghttp2_nv rv[] = {NV(":status", "200"), NV("x-big", "")};

		rv[1].value = (uint8_t *)big, rv[1].valuelen = strlen(big) - 1;
		nghttp2_submit_response(p.srv, 1, rv, 2, NULL);
	}
	e_resp = flush(&p, false);
	CHECK(count_frames(&p.w, true, NGHTTP2_CONTINUATION, 0) >= 1);
	CHECK(count_frames(&p.w, false, NGHTTP2_CONTINUATION, 0) >= 1);
	{
		struct want w[] = {{SPAN_HTTP, "GET", "/big/headers", NULL, 200, false, 0, 0, e_req,
				    e_req, e_resp}};

		check_all(&p.w, w, 1, NULL);
	}
	write_seed(&p.w, "continuation");
	pair_free(&p);
}

/* RST_STREAM ends a stream (gRPC: CANCELLED), GOAWAY ends those above its last stream id. */
static void test_rst_goaway(void)
{
	struct pair p;
	struct body b = {.piece = {8}, .n = 1, .ready = 1};
	int e_req, e_rst, e_ok, e_away;

	pair_init(&p, 0, 4096, 4096);
	request(&p, "POST", "/chat.Room/Join", "application/grpc", &b, NULL);
	request(&p, "GET", "/fine", NULL, NULL, NULL);
	request(&p, "GET", "/late", NULL, NULL, NULL);
	e_req = flush(&p, true);
	flush(&p, false);
	nghttp2_submit_rst_stream(p.cli, 0, 1, NGHTTP2_CANCEL);
	e_rst = flush(&p, true);
	respond(&p, 3, "200", NULL, NULL, NULL);
	e_ok = flush(&p, false);
	nghttp2_submit_goaway(p.srv, 0, 3, NGHTTP2_NO_ERROR, NULL, 0);
	e_away = flush(&p, false);
	CHECK_INT(count_frames(&p.w, true, NGHTTP2_RST_STREAM, 0), 1);
	CHECK_INT(count_frames(&p.w, false, NGHTTP2_GOAWAY, 0), 1);
	{
		struct want w[] = {
		    {SPAN_GRPC, "POST", "/chat.Room/Join", NULL, 1, false, 8, 0, e_req, e_req,
		     e_rst},
		    {SPAN_HTTP, "GET", "/fine", NULL, 200, false, 0, 0, e_req, e_req, e_ok},
		    {SPAN_HTTP, "GET", "/late", NULL, 0, true, 0, 0, e_req, e_req, e_away},
		};
		bool cli[] = {true, false, true};

		check_every_split(&p.w, w, 3);
		check_all(&p.w, w, 3, cli);
	}
	write_seed(&p.w, "rst_goaway");
	pair_free(&p);
}

/* A pushed stream (PUSH_PROMISE and its response decoded, not spanned: the next response
 * reuses what they put in the table) and an interim 100 before a final response. */
static void test_push_interim(void)
{
	static const nghttp2_nv promise[] = {
	    NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/style.css"),
	    NV(":authority", "api.example:8080"), NV("x-push-tag", "tag-0123456789")};
	static const nghttp2_nv tagged[] = {NV(":status", "200"),
					    NV("x-push-tag", "tag-0123456789")};
	static const nghttp2_nv cont[] = {NV(":status", "100")};
	struct pair p;
	struct body css = {.piece = {40}, .n = 1, .ready = 1};
	struct body up = {.piece = {3}, .n = 1, .ready = 1};
	struct body page = {.piece = {11}, .n = 1, .ready = 1};
	int e_req, e_page, e_push, e_up;
	int32_t pushed;

	pair_init(&p, 0, 4096, 4096);
	request(&p, "GET", "/page", NULL, NULL, NULL);
	request(&p, "POST", "/expect", "text/plain", &up, NULL);
	e_req = flush(&p, true);
	flush(&p, false);
	flush(&p, true); /* the client's SETTINGS ACK */
	CHECK(nghttp2_submit_headers(p.srv, 0, 3, NULL, cont, 1, NULL) == 0);
	flush(&p, false);
	pushed = nghttp2_submit_push_promise(p.srv, 0, 1, promise, 5, NULL);
	CHECK_INT(pushed, 2);
	{
		nghttp2_data_provider d = {.source.ptr = &page, .read_callback = body_read};

		CHECK(nghttp2_submit_response(p.srv, 1, tagged, 2, &d) == 0);
	}
	e_page = flush(&p, false);
	{
		nghttp2_data_provider d = {.source.ptr = &css, .read_callback = body_read};

		CHECK(nghttp2_submit_response(p.srv, pushed, tagged, 2, &d) == 0);
	}
	e_push = flush(&p, false);
	respond(&p, 3, "200", NULL, NULL, NULL);
	e_up = flush(&p, false);
	CHECK_INT(count_frames(&p.w, false, NGHTTP2_PUSH_PROMISE, 0), 1);
	CHECK_INT(count_frames(&p.w, false, NGHTTP2_HEADERS, 0), 4); /* the 100 too */
	CHECK(e_push > e_page);
	{
		struct want w[] = {
		    {SPAN_HTTP, "GET", "/page", NULL, 200, false, 0, 11, e_req, e_req, e_page},
		    {SPAN_HTTP, "POST", "/expect", NULL, 200, false, 3, 0, e_req, e_req, e_up},
		};

		check_all(&p.w, w, 2, NULL);
	}
	write_seed(&p.w, "push_interim");
	pair_free(&p);
}

/* ---- hand-made frames ------------------------------------------------------------------- */

static void wire_add(struct wire *w, bool to_server, const void *bytes, size_t len)
{
	struct wire_ev *ev = &w->ev[w->n++];

	ev->to_server = to_server;
	ev->len = len;
	ev->bytes = malloc(len);
	memcpy(ev->bytes, bytes, len);
}

/* A frame of `type` on `stream` with the payload given, appended to buf; returns its size. */
static size_t frame(uint8_t *buf, uint8_t type, uint8_t flags, uint32_t stream, const void *payload,
		    size_t len)
{
	buf[0] = (uint8_t)(len >> 16), buf[1] = (uint8_t)(len >> 8), buf[2] = (uint8_t)len;
	buf[3] = type, buf[4] = flags;
	buf[5] = (uint8_t)(stream >> 24), buf[6] = (uint8_t)(stream >> 16);
	buf[7] = (uint8_t)(stream >> 8), buf[8] = (uint8_t)stream;
	if (len)
		memcpy(buf + 9, payload, len);
	return 9 + len;
}

static void wire_free(struct wire *w)
{
	for (unsigned i = 0; i < w->n; i++)
		free(w->ev[i].bytes);
	w->n = 0;
}

/* :method GET, :scheme http, :path / (static table), :authority and user-agent literal
 * without indexing: a request that leaves the dynamic table as it is */
static const uint8_t GET_BLOCK[] = {
    0x82, 0x86, 0x84, 0x01, 16,	  'a',	'p', 'i', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', ':',
    '8',  '0',	'8',  '0',  0x0f, 0x2b, 10,  'h', '2', 't', 'e', 's', 't', '/', '1', '.', '0'};
static const uint8_t STATUS_200[] = {0x88};

static size_t preface_and_settings(uint8_t *buf)
{
	memcpy(buf, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
	return 24 + frame(buf + 24, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
}

/* A header block nghttp2 cannot decode: that stream and every later one are counted, none
 * gets a span, whether the broken block is a request's or a response's. */
static void test_hpack_error(void)
{
	static const uint8_t bad[] = {0xbf}; /* index 63: the dynamic table is empty */
	struct wire w = {0};
	uint8_t buf[256];
	size_t n;

	n = preface_and_settings(buf);
	n += frame(buf + n, NGHTTP2_HEADERS, 5, 1, bad, sizeof(bad));
	n += frame(buf + n, NGHTTP2_HEADERS, 5, 3, GET_BLOCK, sizeof(GET_BLOCK));
	wire_add(&w, true, buf, n);
	n = frame(buf, NGHTTP2_HEADERS, 5, 1, STATUS_200, 1);
	n += frame(buf + n, NGHTTP2_HEADERS, 5, 3, STATUS_200, 1);
	wire_add(&w, false, buf, n);
	replay(&w, true, OBI_CAP_MAX, -1, 0);
	CHECK_INT(n_got, 0);
	CHECK_INT(env.stats.h2_undecodable, 2);
	wire_free(&w);

	/* the response side breaks: the open stream and the next are counted */
	n = preface_and_settings(buf);
	n += frame(buf + n, NGHTTP2_HEADERS, 5, 1, GET_BLOCK, sizeof(GET_BLOCK));
	wire_add(&w, true, buf, n);
	n = frame(buf, NGHTTP2_HEADERS, 5, 1, bad, 1);
	wire_add(&w, false, buf, n);
	n = frame(buf, NGHTTP2_HEADERS, 5, 3, GET_BLOCK, sizeof(GET_BLOCK));
	wire_add(&w, true, buf, n);
	n = frame(buf, NGHTTP2_HEADERS, 5, 3, STATUS_200, 1);
	wire_add(&w, false, buf, n);
	replay(&w, false, OBI_CAP_MAX, -1, 0);
	CHECK_INT(n_got, 0);
	CHECK_INT(env.stats.h2_undecodable, 2);
	wire_free(&w);
}

/* More streams open at once than followed: the extra ones are counted, the others get their
 * spans (unanswered at the close). */
static void test_stream_cap(void)
{
	static uint8_t buf[200 * 64];
	struct wire w = {0};
	size_t n = preface_and_settings(buf);

	for (uint32_t i = 0; i < 130; i++)
		n += frame(buf + n, NGHTTP2_HEADERS, 5, 1 + 2 * i, GET_BLOCK, sizeof(GET_BLOCK));
	wire_add(&w, true, buf, n);
	replay(&w, true, OBI_CAP_MAX, -1, 0);
	CHECK_INT(n_got, 128);
	CHECK_INT(env.stats.pipeline_overflow, 2);
	CHECK_INT(env.stats.spans_unanswered, 128);
	CHECK_INT(got[0].status, 0);
	CHECK(got[0].error);
	CHECK_INT(got[0].end_ns, 2 * TS_STEP);
	wire_free(&w);
}

/* DATA payload the kernel did not capture (len > cap_len) still counts, exactly; a frame
 * header it did not capture loses the direction (counted once). */
static void test_uncaptured(void)
{
	static uint8_t buf[70000], zeros[20000];
	struct feeder f = {.server = true};
	struct wire w = {0};
	size_t n = preface_and_settings(buf);

	f.c.pid = 100;
	proto_env_init(&env, collect, NULL);
	n_got = 0;
	n += frame(buf + n, NGHTTP2_HEADERS, 4, 1, GET_BLOCK, sizeof(GET_BLOCK));
	n += frame(buf + n, NGHTTP2_DATA, 0, 1, zeros, 16384);
	n += frame(buf + n, NGHTTP2_DATA, 1, 1, zeros, 3000);
	wire_add(&w, true, buf, n);
	n = frame(buf, NGHTTP2_HEADERS, 5, 1, STATUS_200, 1);
	wire_add(&w, false, buf, n);
	/* the request's event: its first 100 bytes captured (headers and the first DATA
	 * header), then the rest of the first DATA's payload missing, then the second DATA
	 * frame whole */
	feed_piece(&f, &w.ev[0], 0, 0, 24 + 9 + 9 + sizeof(GET_BLOCK) + 9 + 16384, 100);
	feed_piece(&f, &w.ev[0], 0, w.ev[0].len - 3009, 3009, 3009);
	feed_piece(&f, &w.ev[1], 1, 0, w.ev[1].len, w.ev[1].len);
	CHECK_INT(n_got, 1);
	CHECK_INT(got[0].req_body_size, 16384 + 3000);
	CHECK_INT(got[0].status, 200);
	CHECK_INT(env.stats.lost_sync, 0);
	/* a response whose frame header was not captured */
	feed_piece(&f, &w.ev[1], 2, 0, w.ev[1].len, 0);
	CHECK_INT(env.stats.lost_sync, 1);
	proto_http2.close(&env, &f.c, f.state, 10 * TS_STEP);
	proto_env_release(&env);
	wire_free(&w);
}

/* At most 4096 HTTP/2 connections at once: the next is counted, and refused until one ends. */
static void test_conn_cap(void)
{
	static struct obi_data_event e;
	static void *open[4096];
	struct proto_conn c = {0};

	memcpy(e.data, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
	e.len = e.cap_len = 24;
	proto_env_init(&env, collect, NULL);
	for (int i = 0; i < 4096; i++) {
		open[i] = proto_http2.open(&env, &e);
		CHECK(open[i] != NULL);
	}
	CHECK_INT(env.stats.h2_conns, 4096);
	CHECK(proto_http2.open(&env, &e) == NULL);
	CHECK_INT(env.stats.conns_dropped, 1);
	proto_http2.close(&env, &c, open[0], 1);
	open[0] = proto_http2.open(&env, &e);
	CHECK(open[0] != NULL);
	for (int i = 0; i < 4096; i++)
		proto_http2.discard(&env, open[i]);
	CHECK_INT(env.stats.h2_conns, 0);
	proto_env_release(&env);
}

/* Only the whole client preface at the start of the first event opens HTTP/2. */
static void test_detect(void)
{
	static struct obi_data_event e;
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

	memcpy(e.data, preface, 24);
	e.len = e.cap_len = 24;
	CHECK(proto_http2.detect(&e));
	e.cap_len = 23;
	CHECK(!proto_http2.detect(&e));
	e.cap_len = 24;
	e.data[23] = 'x';
	CHECK(!proto_http2.detect(&e));
	memcpy(e.data, "GET / HTTP/1.1\r\n\r\n", 18);
	CHECK(!proto_http2.detect(&e));
	CHECK(!proto_http1.detect(&e) == false);
	memcpy(e.data, preface, 24);
	CHECK(!proto_http1.detect(&e) && !proto_redis.detect(&e) && !proto_postgres.detect(&e) &&
	      !proto_mysql.detect(&e));
}

/* Through the tracker, as the kernel's events arrive: the protocol table opens HTTP/2. */
static void test_tracker(void)
{
	struct pair p;
	struct conn_tracker *t = conn_tracker_new(collect, NULL);
	static struct obi_data_event e;
	struct conn_stats st;

	pair_init(&p, 0, 4096, 4096);
	request(&p, "GET", "/via/tracker", NULL, NULL, NULL);
	flush(&p, true);
	flush(&p, false);
	respond(&p, 1, "200", NULL, NULL, NULL);
	flush(&p, false);
	n_got = 0;
	for (unsigned i = 0; i < p.w.n; i++) {
		memset(&e, 0, OBI_DATA_HDR_SIZE);
		e.hdr.type = OBI_EV_DATA;
		e.hdr.pid = 100;
		e.hdr.ts_ns = e.enter_ns = (i + 1) * TS_STEP;
		e.sock_id = 7;
		e.dir = p.w.ev[i].to_server ? OBI_DIR_RECV : OBI_DIR_SEND;
		e.flags = i == 0 ? OBI_F_MSG_START : 0;
		e.len = e.cap_len = (uint16_t)p.w.ev[i].len;
		memcpy(e.data, p.w.ev[i].bytes, e.len);
		conn_tracker_data(t, &e, OBI_DATA_HDR_SIZE + e.cap_len);
	}
	CHECK_INT(n_got, 1);
	CHECK_STR(got[0].path, "/via/tracker");
	CHECK_INT(got[0].status, 200);
	CHECK_INT(got[0].version, 20);
	CHECK_INT(got[0].kind, SPAN_SERVER);
	conn_tracker_stats(t, &st);
	CHECK_INT(st.spans, 1);
	conn_tracker_free(t);
	pair_free(&p);
}

/* A server request's traceparent and tracestate (decoded from HPACK) put its span in the
 * caller's trace; the kernel's ids, when it gave them, win. */
static void test_trace_context(void)
{
	struct pair p;
	nghttp2_nv nv[] = {
	    NV(":method", "GET"),
	    NV(":scheme", "http"),
	    NV(":path", "/tc"),
	    NV(":authority", "api.example:8080"),
	    NV("user-agent", "h2test/1.0"),
	    NV("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
	    NV("tracestate", "vendor=x"),
	    NV("tracestate", "other=y")};
	static const uint8_t trace[16] = {0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd,
					  0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c};

	pair_init(&p, 0, 4096, 4096);
	nghttp2_submit_request(p.cli, NULL, nv, 8, NULL, NULL);
	nghttp2_submit_request(p.cli, NULL, nv, 8, NULL, NULL);
	flush(&p, true);
	flush(&p, false);
	respond(&p, 1, "200", NULL, NULL, NULL);
	respond(&p, 3, "200", NULL, NULL, NULL);
	flush(&p, false);
	memset(&ids[0], 0, sizeof(ids[0]));
	replay(&p.w, true, OBI_CAP_MAX, -1, 0);
	CHECK_INT(n_got, 2);
	CHECK(!memcmp(got[0].trace_id, trace, 16));
	CHECK(got[0].parent_id[0] == 0xb7 && got[0].parent_id[7] == 0x31);
	CHECK_STR(got[0].trace_state, "vendor=x,other=y");
	CHECK(!memcmp(got[1].trace_id, trace, 16));
	/* the kernel's ids go to the first request that begins in their event */
	ids[0].state = OBI_TP_IDS;
	memset(ids[0].trace_id, 0x11, 16);
	memset(ids[0].span_id, 0x22, 8);
	replay(&p.w, true, OBI_CAP_MAX, -1, 0);
	CHECK_INT(n_got, 2);
	CHECK(got[0].trace_id[0] == 0x11 && got[0].span_id[0] == 0x22);
	CHECK(!memcmp(got[1].trace_id, trace, 16));
	memset(&ids[0], 0, sizeof(ids[0]));
	pair_free(&p);
}

int main(void)
{
	test_detect();
	test_get_post();
	test_grpc();
	test_concurrent_padded();
	test_dynamic_table(4096, "dynamic_table");
	test_dynamic_table(65536, "table_64k");
	test_dynamic_table(256, "table_256");
	test_continuation();
	test_rst_goaway();
	test_push_interim();
	test_hpack_error();
	test_stream_cap();
	test_conn_cap();
	test_uncaptured();
	test_tracker();
	test_trace_context();
	return check_done("test_http2");
}
