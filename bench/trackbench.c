// SPDX-License-Identifier: Apache-2.0
/*
 * CPU cost of obi's event path per span, without BPF, traffic or export: the data events of
 * keep-alive HTTP/1.1 exchanges, as the kernel side hands them over (a request read by a
 * server, then its response written as one event of head and body, like nginx's), go through
 * conn_tracker_data over C connections in turn. Prints the thread CPU time per span. The
 * numbers move by a few percent between runs, against the ±15 % of a run with real traffic:
 * this is the tool to A/B a change to the parser or the connection tracker.
 *
 * usage: trackbench [-n SPANS] [-c CONNS] [-r ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/conn.h"

static const char request[] = "GET /api/items/%u HTTP/1.1\r\n"
			      "Host: 127.0.0.1:8080\r\n"
			      "User-Agent: wrk\r\n"
			      "Accept: */*\r\n"
			      "\r\n";
static const char response[] = "HTTP/1.1 200 OK\r\n"
			       "Server: nginx/1.22.1\r\n"
			       "Date: Tue, 24 Nov 2026 00:00:00 GMT\r\n"
			       "Content-Type: text/plain\r\n"
			       "Content-Length: 17\r\n"
			       "Connection: keep-alive\r\n"
			       "\r\n"
			       "hello from nginx\n";

static uint64_t spans;

static void on_span(struct span *s, void *ctx)
{
	(void)ctx;
	spans += s->status == 200;
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void event(struct obi_data_event *e, uint32_t conn, uint8_t dir, const char *data,
		  size_t len, uint64_t ts)
{
	e->hdr.type = OBI_EV_DATA;
	e->hdr.pid = 4242;
	e->hdr.tid = 4242;
	e->hdr.ts_ns = ts;
	e->enter_ns = ts;
	e->sock_id = 0xffff888800000000ULL + (uint64_t)conn * 4096;
	e->local.family = e->remote.family = 2;
	e->local.addr[0] = e->remote.addr[0] = 127;
	e->local.addr[3] = e->remote.addr[3] = 1;
	e->local.port = 8080;
	e->remote.port = (uint16_t)(40000 + conn);
	e->fd = 7;
	e->len = (uint32_t)len;
	e->cap_len = (uint16_t)len;
	e->dir = dir;
	e->flags = OBI_F_MSG_START;
	e->tail_len = OBI_TAIL;
	memcpy(e->tail, data + len - OBI_TAIL, OBI_TAIL);
	memset(&e->trace, 0, sizeof(e->trace));
	memcpy(e->data, data, len);
}

int main(int argc, char **argv)
{
	unsigned n = 2000000, conns = 32, rounds = 5;
	int opt;
	static struct obi_data_event req, resp;
	static char lines[1000][128];
	static int lens[1000];

	while ((opt = getopt(argc, argv, "n:c:r:")) != -1) {
		switch (opt) {
		case 'n': n = (unsigned)atoi(optarg); break;
		case 'c': conns = (unsigned)atoi(optarg); break;
		case 'r': rounds = (unsigned)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: trackbench [-n SPANS] [-c CONNS] [-r ROUNDS]\n");
			return 2;
		}
	}
	if (!conns)
		conns = 1;
	for (unsigned i = 0; i < 1000; i++)
		lens[i] = snprintf(lines[i], sizeof(lines[i]), request, i);
	for (unsigned r = 0; r < rounds; r++) {
		struct conn_tracker *t = conn_tracker_new(on_span, NULL);
		uint64_t ts = 1000000000ULL, t0;

		if (!t)
			return 1;
		spans = 0;
		t0 = cpu_ns();
		for (unsigned i = 0; i < n; i++) {
			uint32_t c = i % conns;
			size_t len = (size_t)lens[i % 1000];

			event(&req, c, OBI_DIR_RECV, lines[i % 1000], len, ts += 1000);
			conn_tracker_data(t, &req, OBI_DATA_HDR_SIZE + len);
			event(&resp, c, OBI_DIR_SEND, response, sizeof(response) - 1, ts += 1000);
			conn_tracker_data(t, &resp, OBI_DATA_HDR_SIZE + sizeof(response) - 1);
		}
		t0 = cpu_ns() - t0;
		if (spans != n) {
			fprintf(stderr, "trackbench: %llu spans for %u exchanges\n",
				(unsigned long long)spans, n);
			return 1;
		}
		printf("round %u: %.1f ns per span (%u spans over %u connections)\n", r,
		       (double)t0 / n, n, conns);
		conn_tracker_free(t);
	}
	return 0;
}
