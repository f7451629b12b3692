// SPDX-License-Identifier: Apache-2.0
/*
 * Start-up proof that traceparent injection is harmless on this kernel. A child of obi is
 * selected like any traced process and talks HTTP to itself over loopback, through the real
 * path (tracepoints, sock_ops, sk_msg, the pass-through stream verdict). The server side checks
 * that every request arrives byte for byte with exactly one traceparent after the request line;
 * the client side checks that FIONREAD sees waiting data, that epoll wakes it, and that large
 * responses and keep-alive requests complete (the sockmap FIONREAD regression, KERNEL.md).
 */
#define _GNU_SOURCE	/* memmem */
#include "selftest.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ebpf/obi.h"
#include "selftest_tcp.h"

#define BIG_BODY (1 << 20)		/* request body, bytes */
#define BIG_RESPONSE (8 << 20)		/* response body, bytes */
#define KEEPALIVE_REQUESTS 50
#define NAGLE_REQUESTS 20
#define SENDFILE_BODY (256 << 10)	/* request body sent with sendfile, bytes */
#define WAIT_MS 3000			/* any single wait longer than this is a stall */
#define CHILD_TIMEOUT_S 20

/* Exit codes of the child, and what they mean. */
static const char *const failures[] = {
	[1] = "set-up of the loopback connection failed",
	[2] = "no traceparent header arrived (the kernel did not inject)",
	[3] = "the request arrived changed (bytes other than one traceparent header differ)",
	[4] = "the request stalled on its way",
	[5] = "FIONREAD reported 0 while response data was waiting",
	[6] = "epoll did not report waiting response data",
	[7] = "a large response did not arrive whole",
	[8] = "a keep-alive exchange failed",
	[9] = "the child timed out",
	[10] = "a request written with writev did not arrive with exactly one traceparent added",
	[11] = "a request whose body went out with sendfile did not arrive with exactly one "
	       "traceparent added",
	[12] = "a connection speaking another protocol did not arrive unchanged",
	[13] = "with Nagle's algorithm on, a request did not arrive with its header in one segment",
};

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 31 + (i >> 11));
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static int wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, WAIT_MS) == 1 ? 0 : -1;
}

/* Reads until `want` bytes are in buf (or the head's end when want is 0). */
static ssize_t read_request(int fd, char *buf, size_t size, size_t want)
{
	size_t got = 0;

	while (got < size) {
		ssize_t n;

		if (wait_readable(fd))
			return -1;
		n = read(fd, buf + got, size - got);
		if (n <= 0)
			return -1;
		got += n;
		buf[got < size ? got : size - 1] = '\0';
		if (want ? got >= want : strstr(buf, "\r\n\r\n") != NULL)
			return got;
	}
	return -1;
}

/* The request `sent` must arrive as `got`: identical but for one traceparent header line
 * right after the request line. Returns 0, 2 (no header) or 3 (changed). */
static int compare_request(const char *sent, size_t sent_len, const char *got, size_t got_len)
{
	const char *eol = memchr(sent, '\n', sent_len);
	size_t line = eol - sent + 1;
	const char *h = got + line;

	if (got_len == sent_len)
		return memcmp(sent, got, sent_len) ? 3 : 2;
	if (got_len != sent_len + OBI_TP_HEADER_LEN || memcmp(sent, got, line))
		return 3;
	if (memcmp(h, "traceparent: 00-", 16) || h[48] != '-' || h[65] != '-' ||
	    memcmp(h + 68, "\r\n", 2))
		return 3;
	return memcmp(sent + line, h + OBI_TP_HEADER_LEN, sent_len - line) ? 3 : 0;
}

static int check_post(int cli, int srv, char *sent, char *got, bool body_apart)
{
	int head = sprintf(sent, "POST /obi-selftest HTTP/1.1\r\nHost: selftest\r\n"
				 "Content-Length: %d\r\n\r\n", BIG_BODY);
	size_t len = head + BIG_BODY;
	ssize_t n;

	for (size_t i = 0; i < BIG_BODY; i++)
		sent[head + i] = pattern(i);
	if (body_apart) {
		if (write_all(cli, sent, head) || write_all(cli, sent + head, BIG_BODY / 2) ||
		    write_all(cli, sent + head + BIG_BODY / 2, BIG_BODY / 2))
			return 4;
	} else if (write_all(cli, sent, len)) {
		return 4;
	}
	n = read_request(srv, got, len + OBI_TP_HEADER_LEN + 1, len + OBI_TP_HEADER_LEN);
	if (n < 0) {
		/* without injection the request is shorter: see what arrived */
		return 2;
	}
	return compare_request(sent, len, got, n);
}

struct responder {
	int fd;
	size_t body;
	int count;
};

/* Server side: answers `count` requests with `body` bytes each. */
static void *respond(void *arg)
{
	struct responder *r = arg;
	char req[4096], head[128];
	char *body = malloc(r->body ? r->body : 1);

	for (size_t i = 0; i < r->body; i++)
		body[i] = pattern(i);
	for (int i = 0; i < r->count; i++) {
		int n;

		if (read_request(r->fd, req, sizeof(req), 0) < 0)
			break;
		n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
			     r->body);
		if (write_all(r->fd, head, n) || write_all(r->fd, body, r->body))
			break;
	}
	free(body);
	return NULL;
}

/* Client side: one GET and its response, checking FIONREAD and epoll on the way. */
static int exchange(int cli, int ep, size_t body)
{
	static const char req[] = "GET /obi-selftest HTTP/1.1\r\nHost: selftest\r\n\r\n";
	size_t want = 0, got = 0, head_len = 0;
	char *buf = malloc(body + 4096);
	int rc = 0;

	if (!buf || write_all(cli, req, sizeof(req) - 1))
		rc = 8;
	while (!rc && (!want || got < want)) {
		struct epoll_event ev;
		int avail = 0;
		ssize_t n;

		if (epoll_wait(ep, &ev, 1, WAIT_MS) != 1) {
			rc = 6;
			break;
		}
		if (ioctl(cli, FIONREAD, &avail) || avail <= 0) {
			rc = 5;
			break;
		}
		n = read(cli, buf + got, body + 4096 - got);
		if (n <= 0) {
			rc = 7;
			break;
		}
		got += n;
		if (!want) {
			char *end = memmem(buf, got, "\r\n\r\n", 4);

			if (end) {
				head_len = end + 4 - buf;
				want = head_len + body;
			}
		}
	}
	for (size_t i = 0; !rc && i < body; i++) {
		if ((uint8_t)buf[head_len + i] != pattern(i))
			rc = 7;
	}
	free(buf);
	return rc;
}

static int responses(int cli, int srv, size_t body, int count, int fail)
{
	struct responder r = { .fd = srv, .body = body, .count = count };
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC), rc = 0;
	pthread_t t;

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, cli, &ev) ||
	    pthread_create(&t, NULL, respond, &r))
		return 1;
	for (int i = 0; i < count && !rc; i++)
		rc = exchange(cli, ep, body);
	if (rc) {
		shutdown(srv, SHUT_RDWR);	/* unblock the responder */
		rc = rc == 5 || rc == 6 ? rc : fail;
	}
	pthread_join(t, NULL);
	close(ep);
	return rc;
}

/* A request written with writev in three pieces (line, header, blank line). */
static int check_writev(int cli, int srv, char *got)
{
	static char line[] = "GET /obi-selftest-writev HTTP/1.1\r\n", host[] = "Host: selftest\r\n",
		    end[] = "\r\n";
	struct iovec iov[] = { { line, sizeof(line) - 1 }, { host, sizeof(host) - 1 }, { end, 2 } };
	char sent[128];
	size_t len = (size_t)snprintf(sent, sizeof(sent), "%s%s%s", line, host, end);
	ssize_t n;

	if (writev(cli, iov, 3) != (ssize_t)len)
		return 10;
	n = read_request(srv, got, len + OBI_TP_HEADER_LEN + 1, len + OBI_TP_HEADER_LEN);
	return n < 0 || compare_request(sent, len, got, (size_t)n) ? 10 : 0;
}

/* A POST whose head is written and whose body goes out with sendfile from a file. */
static int check_sendfile(int cli, int srv, char *sent, char *got)
{
	int head = sprintf(sent, "POST /obi-selftest-sendfile HTTP/1.1\r\nHost: selftest\r\n"
				 "Content-Length: %d\r\n\r\n", SENDFILE_BODY);
	size_t len = (size_t)head + SENDFILE_BODY;
	int fd = memfd_create("obi-selftest", MFD_CLOEXEC), rc = 0;
	off_t off = 0;
	ssize_t n;

	for (size_t i = 0; i < SENDFILE_BODY; i++)
		sent[head + i] = (char)pattern(i);
	if (fd < 0 || write_all(fd, sent + head, SENDFILE_BODY) || write_all(cli, sent, head))
		rc = 11;
	while (!rc && off < SENDFILE_BODY) {
		if (sendfile(cli, fd, &off, SENDFILE_BODY - (size_t)off) <= 0)
			rc = 11;
	}
	if (fd >= 0)
		close(fd);
	if (rc)
		return rc;
	n = read_request(srv, got, len + OBI_TP_HEADER_LEN + 1, len + OBI_TP_HEADER_LEN);
	return n < 0 || compare_request(sent, len, got, (size_t)n) ? 11 : 0;
}

/*
 * Keep-alive requests on a connection with Nagle's algorithm on (no TCP_NODELAY): each must
 * leave in one segment with its header, or the second part would wait for the delayed ACK of
 * the first (40 ms a request). The server's count of data segments received says so.
 */
static int check_nagle(int cli, int srv, char *got)
{
	static const char req[] = "GET /obi-selftest-nagle HTTP/1.1\r\nHost: selftest\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	const size_t len = sizeof(req) - 1, rlen = sizeof(resp) - 1;
	uint32_t before, after;

	if (selftest_data_segs_in(srv, &before))
		return 13;
	for (int i = 0; i < NAGLE_REQUESTS; i++) {
		ssize_t n;

		if (write_all(cli, req, len))
			return 13;
		n = read_request(srv, got, len + OBI_TP_HEADER_LEN + 1, len + OBI_TP_HEADER_LEN);
		if (n < 0 || compare_request(req, len, got, (size_t)n) || write_all(srv, resp, rlen) ||
		    read_request(cli, got, rlen + 1, rlen) != (ssize_t)rlen)
			return 13;
	}
	if (selftest_data_segs_in(srv, &after) || after - before != NAGLE_REQUESTS)
		return 13;
	return 0;
}

/* A connection whose first bytes are another protocol's (a Redis PING), then bytes that look
 * like an HTTP request: everything arrives as sent. */
static int check_other_protocol(int cli, int srv, char *got)
{
	static const char ping[] = "*1\r\n$4\r\nPING\r\n";
	static const char get[] = "GET /obi-selftest HTTP/1.1\r\nHost: selftest\r\n\r\n";
	ssize_t n;

	if (write_all(cli, ping, sizeof(ping) - 1) ||
	    read_request(srv, got, sizeof(ping), sizeof(ping) - 1) != (ssize_t)sizeof(ping) - 1 ||
	    memcmp(got, ping, sizeof(ping) - 1) || write_all(cli, get, sizeof(get) - 1))
		return 12;
	n = read_request(srv, got, sizeof(get) + OBI_TP_HEADER_LEN, sizeof(get) - 1);
	return n == (ssize_t)sizeof(get) - 1 && !memcmp(got, get, sizeof(get) - 1) ? 0 : 12;
}

/* One more loopback connection to the listener lst at a, with Nagle's algorithm on or off. */
static int connect_pair(int lst, const struct sockaddr_in *a, bool nodelay, int *cli, int *srv)
{
	int one = 1;

	*cli = socket(AF_INET, SOCK_STREAM, 0);
	if (*cli < 0 || connect(*cli, (const struct sockaddr *)a, sizeof(*a)))
		return 1;
	*srv = accept(lst, NULL, NULL);
	if (*srv < 0)
		return 1;
	if (nodelay) {
		setsockopt(*cli, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(*srv, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	return 0;
}

static int child_main(int go_fd)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	char *sent = malloc(BIG_BODY + 4096), *got = malloc(BIG_BODY + 8192), go;
	int lst, cli, srv, rc, one = 1;

	if (read(go_fd, &go, 1) != 1 || !sent || !got)
		return 1;
	lst = socket(AF_INET, SOCK_STREAM, 0);
	cli = socket(AF_INET, SOCK_STREAM, 0);
	if (lst < 0 || cli < 0 || bind(lst, (struct sockaddr *)&a, sizeof(a)) || listen(lst, 1) ||
	    getsockname(lst, (struct sockaddr *)&a, &alen) ||
	    connect(cli, (struct sockaddr *)&a, sizeof(a)))
		return 1;
	srv = accept(lst, NULL, NULL);
	if (srv < 0)
		return 1;
	/* the responder writes head and body apart: no Nagle wait for a delayed ACK */
	setsockopt(cli, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(srv, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	rc = check_post(cli, srv, sent, got, false);
	if (!rc)
		rc = check_post(cli, srv, sent, got, true);
	if (!rc)
		rc = check_writev(cli, srv, got);
	if (!rc)
		rc = check_sendfile(cli, srv, sent, got);
	if (!rc)
		rc = responses(cli, srv, BIG_RESPONSE, 2, 7);
	if (!rc)
		rc = responses(cli, srv, 100, KEEPALIVE_REQUESTS, 8);
	if (!rc)
		rc = connect_pair(lst, &a, false, &cli, &srv) ?: check_nagle(cli, srv, got);
	/* last: its server is then known not to speak HTTP, and later connections to it stay
	 * out of sock_hash */
	if (!rc)
		rc = connect_pair(lst, &a, true, &cli, &srv) ?: check_other_protocol(cli, srv, got);
	return rc;
}

/* Waits for the child at most CHILD_TIMEOUT_S; returns its exit code, or 9 on time-out. */
static int reap(pid_t pid)
{
	for (int i = 0; i < CHILD_TIMEOUT_S * 100; i++) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 9;
		if (r < 0)
			return 9;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return 9;
}

int selftest_injection(struct traced_pids *pids, pid_t *child, void (*ready)(pid_t, void *),
		       void *arg, const char **why)
{
	int go[2], rc;
	pid_t pid;

	*why = failures[1];
	if (pipe(go))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(go[1]);
		_exit(child_main(go[0]));
	}
	close(go[0]);
	*child = pid;
	if (ready)
		ready(pid, arg);
	/* select the child before it connects: sock_ops adds only selected processes' sockets */
	if (traced_pids_add(pids, pid) || write(go[1], "g", 1) != 1)
		rc = 1;
	else
		rc = reap(pid);
	close(go[1]);
	if (rc)
		reap(pid);
	traced_pids_remove(pids, pid);
	if (rc == 0)
		return 0;
	*why = rc > 0 && rc < (int)(sizeof(failures) / sizeof(failures[0])) && failures[rc]
		       ? failures[rc]
		       : "the child failed";
	return -EIO;
}
