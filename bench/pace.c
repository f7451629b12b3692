// SPDX-License-Identifier: Apache-2.0
/*
 * pace: an open-loop HTTP/1.1 load generator that holds a fixed request rate (the part of wrk2
 * that wrk lacks). Request k is due at t0 + k/rate; it goes out on an idle keep-alive
 * connection as soon as it is due (or, when every connection is busy, as soon as one frees up).
 * One request in flight per connection, no pipelining, responses framed by Content-Length.
 *
 * Two latencies are recorded per request:
 *   service  = response complete - request actually written  (what the server added)
 *   intended = response complete - request due                (includes any queueing: no
 *                                                              coordinated omission)
 * and the generator's own accuracy: send lag = written - due, the achieved rate.
 *
 * usage: pace -p PORT [-H 127.0.0.1] [-r RATE] [-d SECONDS] [-w WARMUP_S] [-c CONNS] [-u PATH]
 * Prints one JSON object on stdout. Only the requests due after the warm-up are measured.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF 65536

struct conn {
	int fd;
	int busy;
	uint64_t due, sent;	/* of the request in flight */
	int64_t idx;		/* its index, -1 when idle */
	size_t have;		/* bytes buffered of the current response */
	char buf[BUF];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(uint64_t *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return -1;
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0;	/* ns -> us */
}

static void print_dist(const char *name, uint64_t *v, size_t n, int last)
{
	double sum = 0;

	qsort(v, n, sizeof(*v), cmp_u64);
	for (size_t i = 0; i < n; i++)
		sum += (double)v[i];
	printf("\"%s\":{\"n\":%zu,\"mean_us\":%.2f,\"p50_us\":%.2f,\"p90_us\":%.2f,"
	       "\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.2f}%s",
	       name, n, n ? sum / (double)n / 1000.0 : -1, pct(v, n, 50), pct(v, n, 90),
	       pct(v, n, 99), pct(v, n, 99.9), n ? (double)v[n - 1] / 1000.0 : -1, last ? "" : ",");
}

static int open_conn(const char *host, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd, one = 1;

	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Returns the length of a complete response at the start of b, 0 if incomplete, -1 if bad. */
static long response_len(const char *b, size_t n)
{
	const char *end = memmem(b, n, "\r\n\r\n", 4), *p;
	long head, clen = -1;

	if (!end)
		return n > BUF / 2 ? -1 : 0;
	head = end - b + 4;
	if (n < 12 || memcmp(b, "HTTP/1.", 7))
		return -1;
	for (p = b; p && p < end; p = memchr(p, '\n', (size_t)(end - p))) {
		if (*p == '\n')
			p++;
		if ((size_t)(end - p) > 15 && !strncasecmp(p, "content-length:", 15))
			clen = strtol(p + 15, NULL, 10);
	}
	if (clen < 0)
		return -1;	/* only Content-Length framing is supported */
	return (size_t)(head + clen) <= n ? head + clen : 0;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *path = "/";
	int port = 0, nconns = 32, opt;
	double rate = 5000, dur = 10, warm = 1;
	char req[512];
	int reqlen;

	while ((opt = getopt(argc, argv, "H:p:r:d:w:c:u:")) != -1) {
		switch (opt) {
		case 'H': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 'd': dur = atof(optarg); break;
		case 'w': warm = atof(optarg); break;
		case 'c': nconns = atoi(optarg); break;
		case 'u': path = optarg; break;
		default:
			fprintf(stderr, "usage: pace -p PORT [-H host] [-r rate] [-d s] [-w s] [-c conns] "
					"[-u path]\n");
			return 2;
		}
	}
	if (port <= 0 || rate <= 0 || dur <= 0 || nconns <= 0 || warm < 0) {
		fprintf(stderr, "pace: bad arguments\n");
		return 2;
	}
	reqlen = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: pace\r\n\r\n",
			  path, host, port);
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);	/* wake up on time, not 50 us late */

	int64_t total = (int64_t)((warm + dur) * rate), first = (int64_t)(warm * rate);
	int64_t next = 0, done = 0, errors = 0, measured = 0, max_backlog = 0;
	uint64_t period = (uint64_t)(1e9 / rate);
	uint64_t *svc = calloc((size_t)(total - first + 1), sizeof(uint64_t));
	uint64_t *itd = calloc((size_t)(total - first + 1), sizeof(uint64_t));
	uint64_t *lag = calloc((size_t)(total - first + 1), sizeof(uint64_t));
	struct conn *c = calloc((size_t)nconns, sizeof(*c));
	int *idle = calloc((size_t)nconns, sizeof(int)), nidle = 0;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event evs[256];

	if (!svc || !itd || !lag || !c || !idle || ep < 0)
		return 1;
	for (int i = 0; i < nconns; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };

		c[i].fd = open_conn(host, port);
		if (c[i].fd < 0) {
			fprintf(stderr, "pace: connect %s:%d: %s\n", host, port, strerror(errno));
			return 1;
		}
		c[i].idx = -1;
		epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
		idle[nidle++] = i;
	}

	uint64_t t0 = now_ns() + 5000000, tmeas = t0 + (uint64_t)first * period;
	uint64_t tend_meas = 0, deadline = t0 + (uint64_t)total * period + 5000000000ULL;

	while (done < total) {
		uint64_t now = now_ns();

		/* send everything that is due, as long as a connection is free */
		while (next < total && t0 + (uint64_t)next * period <= now && nidle > 0) {
			struct conn *k = &c[idle[--nidle]];
			uint64_t due = t0 + (uint64_t)next * period;

			k->busy = 1;
			k->due = due;
			k->idx = next;
			k->have = 0;
			k->sent = now_ns();
			if (write(k->fd, req, (size_t)reqlen) != reqlen) {
				fprintf(stderr, "pace: write: %s\n", strerror(errno));
				return 1;
			}
			if (next >= first)
				lag[next - first] = k->sent - due;
			next++;
		}
		if (next < total && t0 + (uint64_t)next * period <= now) {
			int64_t backlog = (int64_t)((now - t0) / period) + 1 - next;

			if (backlog > max_backlog)
				max_backlog = backlog;
		}
		if (now > deadline) {
			fprintf(stderr, "pace: gave up waiting for %lld responses\n",
				(long long)(total - done));
			break;
		}

		struct timespec to = { 0, 0 };
		int timeout_set = 0;

		if (next < total && nidle > 0) {
			uint64_t due = t0 + (uint64_t)next * period;

			if (due > now) {
				to.tv_sec = (time_t)((due - now) / 1000000000ULL);
				to.tv_nsec = (long)((due - now) % 1000000000ULL);
			}
			timeout_set = 1;
		} else if (next >= total || nidle == 0) {
			to.tv_sec = 1;
			timeout_set = 1;
		}
		int n = epoll_pwait2(ep, evs, 256, timeout_set ? &to : NULL, NULL);

		if (n < 0 && errno != EINTR) {
			perror("pace: epoll_pwait2");
			return 1;
		}
		for (int e = 0; e < n; e++) {
			int i = (int)evs[e].data.u32;
			struct conn *k = &c[i];
			ssize_t r = read(k->fd, k->buf + k->have, BUF - k->have);
			long len;

			if (r <= 0) {
				fprintf(stderr, "pace: connection %d closed by the server (%s)\n", i,
					r < 0 ? strerror(errno) : "eof");
				return 1;
			}
			k->have += (size_t)r;
			len = response_len(k->buf, k->have);
			if (len < 0) {
				fprintf(stderr, "pace: bad response on connection %d\n", i);
				return 1;
			}
			if (len == 0 || !k->busy)
				continue;
			uint64_t t = now_ns();

			if (memcmp(k->buf + 9, "200", 3))
				errors++;
			if (k->idx >= first) {
				svc[measured] = t - k->sent;
				itd[measured] = t - k->due;
				measured++;
				if (t > tend_meas)
					tend_meas = t;
			}
			done++;
			k->busy = 0;
			k->idx = -1;
			k->have -= (size_t)len;
			if (k->have)
				memmove(k->buf, k->buf + len, k->have);
			idle[nidle++] = i;
		}
	}

	double span_s = tend_meas > tmeas ? (double)(tend_meas - tmeas) / 1e9 : 0;
	int64_t nlag = next > first ? next - first : 0;

	printf("{\"target_rate\":%.1f,\"achieved_rate\":%.1f,\"requests\":%lld,\"measured\":%lld,"
	       "\"errors\":%lld,\"conns\":%d,\"max_backlog\":%lld,",
	       rate, span_s > 0 ? (double)measured / span_s : 0, (long long)done,
	       (long long)measured, (long long)errors, nconns, (long long)max_backlog);
	print_dist("service", svc, (size_t)measured, 0);
	print_dist("intended", itd, (size_t)measured, 0);
	print_dist("send_lag", lag, (size_t)nlag, 1);
	printf("}\n");
	for (int i = 0; i < nconns; i++)
		close(c[i].fd);
	return done == total ? 0 : 1;
}
