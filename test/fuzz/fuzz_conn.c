// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for agent/conn.c: a sequence of kernel records (data, close, process exit,
 * idle sweep) decoded from the input and fed to one conn_tracker, as the ring buffer would.
 * Covers the HTTP/1 stream state machine (keep-alive, pipelining, split heads, bodies, chunked
 * tails), the database parsers and HTTP/2's opening on a flagged client preface, and checks
 * every span it emits: strings end inside their arrays, status <= 999, an unanswered HTTP span
 * is an error, times are ordered, and the JSON printer can always print it.
 *
 * Input: records, each starting with an op byte (see next_record). Data records sit in a heap
 * block of exactly the ring buffer's record size, so ASan flags any read past cap_len.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn.h"
#include "printer.h"

#define N_SOCKS 4
#define N_PIDS 2

struct input {
	const uint8_t *p;
	size_t left;
};

static const uint64_t sock_ids[N_SOCKS] = { 0xffff888012340000ULL, 0xffff888012340800ULL, 1,
					    0xffffffffffffffffULL };
static const uint32_t pids[N_PIDS] = { 100, 200 };

static uint64_t now_ns;
static uint64_t spans_seen;
static unsigned scans_left;	/* process exits and sweeps walk the whole table: few per input */

static uint8_t take8(struct input *in)
{
	uint8_t v = 0;

	if (in->left) {
		v = *in->p++;
		in->left--;
	}
	return v;
}

static uint16_t take16(struct input *in)
{
	return take8(in) | (uint16_t)take8(in) << 8;
}

static void take(struct input *in, void *dst, size_t n)
{
	size_t k = n < in->left ? n : in->left;

	memcpy(dst, in->p, k);
	memset((uint8_t *)dst + k, 0, n - k);
	in->p += k;
	in->left -= k;
}

static void check_str(const char *s, size_t size)
{
	if (strnlen(s, size) == size)
		abort();
}

/* A database span: terminated strings, status 1 exactly when it is an error. */
static void check_db_span(const struct span *s)
{
	check_str(s->db_operation, sizeof(s->db_operation));
	check_str(s->db_collection, sizeof(s->db_collection));
	check_str(s->db_namespace, sizeof(s->db_namespace));
	check_str(s->db_status, sizeof(s->db_status));
	check_str(s->db_query, sizeof(s->db_query));
	if (s->status != (s->error ? 1 : 0))
		abort();
}

static void check_http_span(const struct span *s)
{
	check_str(s->method, sizeof(s->method));
	check_str(s->path, sizeof(s->path));
	check_str(s->route, sizeof(s->route));
	check_str(s->host_header, sizeof(s->host_header));
	check_str(s->user_agent, sizeof(s->user_agent));
	if (s->status > 999)
		abort();
	if (s->proto == SPAN_GRPC)
		return;		/* status is the grpc-status code: 0 is OK */
	if (s->status == 0 && !s->error)
		abort();
	if (s->status != 0 && s->status < 200)
		abort();	/* interim responses never end a span */
}

static void on_span(struct span *s, void *ctx)
{
	static char line[8192];

	(void)ctx;
	spans_seen++;
	if (s->proto == SPAN_HTTP || s->proto == SPAN_GRPC)
		check_http_span(s);
	else if (s->proto == SPAN_REDIS || s->proto == SPAN_SQL)
		check_db_span(s);
	else
		abort();	/* no other parser is in the tracker */
	check_str(s->service_name, sizeof(s->service_name));
	check_str(s->language, sizeof(s->language));
	if (s->kind != SPAN_SERVER && s->kind != SPAN_CLIENT)
		abort();
	/* the input's clock only moves forward: a span's times must be ordered */
	if (s->start_ns > s->handler_ns || s->handler_ns > s->end_ns)
		abort();
	if (s->pid != pids[0] && s->pid != pids[1])
		abort();
	if (printer_format_json(s, line, sizeof(line)) <= 0 ||
	    printer_format_text(s, line, sizeof(line)) <= 0)
		abort();
}

/*
 * A data record: op bits 3..4 pick the socket, bit 5 the pid, bit 6 the direction, bit 7 sets
 * OBI_F_MSG_START; then a mode byte (bits 0..1: len == cap_len, len > cap_len, len < cap_len,
 * len much larger; bit 2: OBI_F_SENDFILE; bit 3: a record shorter than its cap_len claims;
 * bits 4..7: clock step), cap_len (u16), extra length (u16), tail_len (bit 7: OBI_F_DB_START,
 * the rest the length), tail[8], trace state and,
 * when it has OBI_TP_IDS, the 33 bytes of ids and flags; then cap_len bytes of data.
 */
static void data_record(struct conn_tracker *t, struct input *in, uint8_t op)
{
	uint8_t mode = take8(in);
	size_t cap = take16(in) % (OBI_CAP_MAX + 1);
	uint32_t extra = take16(in);
	size_t size;
	struct obi_data_event *e;

	if (cap > in->left)
		cap = in->left;
	size = OBI_DATA_HDR_SIZE + cap;
	e = calloc(1, size);
	if (!e)
		return;
	now_ns += (uint64_t)(mode >> 4) * 1000;
	e->hdr.type = OBI_EV_DATA;
	e->hdr.pid = pids[(op >> 5) & 1];
	e->hdr.tid = e->hdr.pid + (op >> 3 & 3);
	e->hdr.ts_ns = now_ns;
	e->enter_ns = now_ns - (mode >> 4) * 100;
	e->sock_id = sock_ids[(op >> 3) & 3];
	e->local.family = (op >> 3) & 1 ? AF_INET6 : AF_INET;
	e->local.port = 8080;
	e->remote.family = e->local.family;
	e->remote.port = 40000 + ((op >> 3) & 3);
	e->dir = (op >> 6) & 1 ? OBI_DIR_SEND : OBI_DIR_RECV;
	e->flags = (op & 0x80 ? OBI_F_MSG_START : 0) | (mode & 4 ? OBI_F_SENDFILE : 0);
	e->cap_len = cap;
	switch (mode & 3) {
	case 0:
		e->len = cap;
		break;
	case 1:
		e->len = cap + extra;
		break;
	case 2:
		e->len = cap - extra % (cap + 1);
		break;
	default:
		e->len = cap + (extra << 12);
		break;
	}
	e->tail_len = take8(in);
	if (e->tail_len & 0x80)
		e->flags |= OBI_F_DB_START;
	e->tail_len &= 0x7f;
	take(in, e->tail, sizeof(e->tail));
	e->trace.state = take8(in);
	if (e->trace.state & OBI_TP_IDS) {
		take(in, e->trace.trace_id, sizeof(e->trace.trace_id));
		take(in, e->trace.span_id, sizeof(e->trace.span_id));
		take(in, e->trace.parent_id, sizeof(e->trace.parent_id));
		e->trace.flags = take8(in);
	}
	take(in, e->data, cap);
	/* a short record must be ignored, not read past its end */
	conn_tracker_data(t, e, mode & 8 && cap ? size - 1 : size);
	free(e);
}

static void close_record(struct conn_tracker *t, uint8_t op)
{
	struct obi_close_event e = { 0 };

	e.hdr.type = OBI_EV_CLOSE;
	e.hdr.pid = pids[(op >> 5) & 1];
	e.hdr.ts_ns = now_ns;
	e.sock_id = sock_ids[(op >> 3) & 3];
	conn_tracker_close(t, &e);
}

static void next_record(struct conn_tracker *t, struct input *in)
{
	uint8_t op = take8(in);

	switch (op & 7) {
	case 5:
		close_record(t, op);
		break;
	case 6:
		if (scans_left && scans_left--)
			conn_tracker_proc_exit(t, pids[(op >> 5) & 1], now_ns);
		break;
	case 7:
		/* an idle sweep some seconds later; op's high bits pick the idle limit */
		now_ns += (uint64_t)take8(in) * 1000000000ULL;
		if (scans_left && scans_left--)
			conn_tracker_sweep(t, now_ns, (uint64_t)(op >> 3) * 1000000000ULL);
		break;
	default:
		data_record(t, in, op);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One tracker for the whole run (its 16384-bucket table is costly to build for every
	 * input); every input ends with all its connections closed, so none carries state over. */
	static struct conn_tracker *t;
	struct input in = { data, size };
	struct conn_stats before, st;

	if (!t) {
		t = conn_tracker_new(on_span, NULL);
		if (!t)
			abort();
		conn_tracker_set_clock(t, 1700000000LL * 1000000000LL);
	}
	now_ns = 1000000000ULL;
	spans_seen = 0;
	scans_left = 4;
	conn_tracker_stats(t, &before);
	while (in.left)
		next_record(t, &in);

	conn_tracker_stats(t, &st);
	if (st.spans - before.spans != spans_seen ||
	    st.spans_unanswered - before.spans_unanswered > spans_seen)
		abort();
	/* each process closing every socket ends every connection: nothing stays behind */
	for (int i = 0; i < N_SOCKS * N_PIDS; i++)
		close_record(t, (uint8_t)(i << 3));
	conn_tracker_stats(t, &st);
	if (st.conns != 0 || st.spans - before.spans != spans_seen)
		abort();
	return 0;
}
