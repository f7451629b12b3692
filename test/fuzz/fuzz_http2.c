// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for agent/protocols/http2.c: the frames and header blocks of both
 * directions of one HTTP/2 connection, split into events anywhere, fed through the calls the
 * tracker makes. The connection opens with the client preface (given, so the input is frames);
 * every span it emits is checked: strings end inside their arrays, times are ordered, an
 * unanswered HTTP span is an error, and the printers can print it.
 *
 * Input: a role byte (bit 0: the traced process is the client), then records: a byte (bit 0:
 * the server's bytes, bit 1: the kernel captured only the first half), a length (u16, little
 * endian) and that many bytes. test_http2 writes seeds of real conversations
 * (OBI_H2_SEEDS=dir). Events sit in heap blocks of their record size, so ASan flags any read
 * past cap_len.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "printer.h"
#include "protocol.h"

static uint64_t now_ns;

static void check_str(const char *s, size_t size)
{
	if (strnlen(s, size) == size)
		abort();
}

static void on_span(struct span *s, void *ctx)
{
	static char line[8192];

	(void)ctx;
	if (s->proto != SPAN_HTTP && s->proto != SPAN_GRPC)
		abort();
	check_str(s->method, sizeof(s->method));
	check_str(s->path, sizeof(s->path));
	check_str(s->route, sizeof(s->route));
	check_str(s->host_header, sizeof(s->host_header));
	check_str(s->user_agent, sizeof(s->user_agent));
	check_str(s->trace_state, sizeof(s->trace_state));
	if (s->status > 999 || s->version != 20)
		abort();
	if (s->proto == SPAN_HTTP &&
	    ((s->status == 0 && !s->error) || (s->status && s->status < 200)))
		abort(); /* unanswered is an error; interim responses never end a span */
	if (s->start_ns > s->handler_ns || s->handler_ns > s->end_ns || s->end_ns > now_ns)
		abort();
	if (printer_format_json(s, line, sizeof(line)) <= 0 ||
	    printer_format_text(s, line, sizeof(line)) <= 0)
		abort();
}

static void feed(struct proto_env *env, const struct proto_conn *c, void **state, bool server,
		 bool to_server, const uint8_t *bytes, size_t len, size_t cap)
{
	size_t size = OBI_DATA_HDR_SIZE + cap;
	struct obi_data_event *e = calloc(1, size);

	if (!e)
		abort();
	now_ns += 1000;
	e->hdr.type = OBI_EV_DATA;
	e->hdr.pid = 100;
	e->hdr.tid = 101;
	e->hdr.ts_ns = now_ns;
	e->enter_ns = now_ns - 10;
	e->sock_id = 1;
	e->dir = to_server == server ? OBI_DIR_RECV : OBI_DIR_SEND;
	e->len = (uint32_t)len;
	e->cap_len = (uint16_t)cap;
	memcpy(e->data, bytes, cap);
	if (!*state) {
		if (!proto_http2.detect(e))
			abort();
		*state = proto_http2.open(env, e);
		if (!*state)
			abort();
	}
	proto_http2.feed(env, c, *state, e);
	free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	struct proto_conn c = {.sock_id = 1, .pid = 100};
	struct proto_env env;
	void *state = NULL;
	bool server;

	if (size < 1)
		return 0;
	server = !(data[0] & 1);
	data++, size--;
	proto_env_init(&env, on_span, NULL);
	now_ns = 1000000;
	c.local.family = c.remote.family = AF_INET;
	feed(&env, &c, &state, server, true, preface, 24, 24);
	while (size >= 3) {
		uint8_t op = data[0];
		size_t len = data[1] | (size_t)data[2] << 8;

		data += 3, size -= 3;
		len = len < size ? len : size;
		len = len < OBI_CAP_MAX ? len : OBI_CAP_MAX;
		feed(&env, &c, &state, server, !(op & 1), data, len, op & 2 ? len / 2 : len);
		data += len, size -= len;
	}
	now_ns += 1000;
	proto_http2.close(&env, &c, state, now_ns);
	if (env.stats.spans_unanswered > env.stats.spans)
		abort();
	proto_env_release(&env);
	return 0;
}
