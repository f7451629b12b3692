// SPDX-License-Identifier: Apache-2.0
/*
 * hotloop PORT N: one keep-alive connection, N HTTP/1.1 requests back to back. A child process
 * listens on 127.0.0.1:PORT (obi selects it when it listens) and answers each request like
 * the bench's nginx does: recv() of the request, one writev() of head and 17-byte body. The
 * parent is the client (write() then read()), forked before the listen, so it is not selected.
 * With nothing else between the syscalls, BPF run time per request varies far less between
 * runs than under nginx and the paced load generator (see bench/cost/README.md).
 *
 * hotloop PORT N GAP_US: the client sleeps GAP_US microseconds after each response, as at a
 * fixed request rate: the programs then run with the caches as other work left them (what
 * the suite's scenario 3 at 5,000 req/s sees), not hot from the previous request.
 *
 * hotloop PORT N GAP_US proxy: the selected child is a proxy instead: it forwards each request
 * over one keep-alive connection it opens to an unselected origin on PORT + 1 (so obi's sk_msg
 * program runs on every forwarded request) and relays the answer.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char request[] =
	"GET /api/items/1 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: hotloop\r\nAccept: */*\r\n\r\n";
static const char head[] = "HTTP/1.1 200 OK\r\nServer: hotloop\r\nContent-Type: text/plain\r\n"
			   "Content-Length: 17\r\nConnection: keep-alive\r\n\r\n";
static const char body[] = "hello from nginx\n";

static int listen_on(const struct sockaddr_in *addr)
{
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);

	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (const void *)addr, sizeof(*addr)) || listen(ls, 8)) {
		perror("hotloop: listen");
		_exit(1);
	}
	return ls;
}

static void serve(int ls)
{
	struct iovec iov[2] = { { (void *)head, sizeof(head) - 1 }, { (void *)body, sizeof(body) - 1 } };
	int one = 1, c;
	char buf[4096];

	c = accept(ls, NULL, NULL);
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (recv(c, buf, sizeof(buf), 0) > 0)
		if (writev(c, iov, 2) < 0)
			break;
	_exit(0);
}

static size_t response_len(void)
{
	return sizeof(head) - 1 + sizeof(body) - 1;
}

/* Reads exactly one response (response_len() bytes) from fd into buf. */
static int read_response(int fd, char *buf, size_t size)
{
	size_t got = 0;

	while (got < response_len()) {
		ssize_t r = read(fd, buf + got, size - got);

		if (r <= 0)
			return -1;
		got += r;
	}
	return 0;
}

/* The proxy: listens on addr, forwards to the origin listening on addr's port + 1. */
static void proxy(const struct sockaddr_in *addr)
{
	struct sockaddr_in up_addr = *addr;
	int one = 1, ls = listen_on(addr), c, up;
	char buf[4096];
	ssize_t n;

	up_addr.sin_port = htons(ntohs(addr->sin_port) + 1);
	c = accept(ls, NULL, NULL);
	up = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(up, (const void *)&up_addr, sizeof(up_addr))) {
		perror("hotloop: connect to origin");
		_exit(1);
	}
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while ((n = recv(c, buf, sizeof(buf), 0)) > 0) {
		if (write(up, buf, n) != n || read_response(up, buf, sizeof(buf)) ||
		    write(c, buf, response_len()) < 0)
			break;
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET }, origin;
	int one = 1, c, status = 0, failed = 0;
	struct timespec gap = { 0 };
	pid_t kids[2] = { 0, 0 };
	bool via_proxy;
	char buf[4096];
	long n;

	if (argc < 3 || argc > 5 || (argc == 5 && strcmp(argv[4], "proxy"))) {
		fprintf(stderr, "usage: hotloop PORT REQUESTS [GAP_US [proxy]]\n");
		return 2;
	}
	addr.sin_port = htons(atoi(argv[1]));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	n = atol(argv[2]);
	if (argc >= 4) {
		long us = atol(argv[3]);

		gap.tv_sec = us / 1000000;
		gap.tv_nsec = us % 1000000 * 1000;
	}
	via_proxy = argc == 5;
	if (via_proxy) {
		/* the origin listens before the proxy can connect to it */
		int ls;

		origin = addr;
		origin.sin_port = htons(ntohs(addr.sin_port) + 1);
		ls = listen_on(&origin);
		kids[1] = fork();
		if (kids[1] == 0)
			serve(ls);
		close(ls);
		kids[0] = fork();
		if (kids[0] == 0)
			proxy(&addr);
	} else {
		kids[0] = fork();
		if (kids[0] == 0)
			serve(listen_on(&addr));
	}
	c = socket(AF_INET, SOCK_STREAM, 0);
	for (int tries = 0; connect(c, (const void *)&addr, sizeof(addr)); tries++) {
		if (tries == 500) {
			perror("hotloop: connect");
			return 1;
		}
		usleep(10000);
	}
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (long i = 0; i < n; i++) {
		if (write(c, request, sizeof(request) - 1) < 0 || read_response(c, buf, sizeof(buf))) {
			fprintf(stderr, "hotloop: request %ld failed\n", i);
			return 1;
		}
		if (gap.tv_sec || gap.tv_nsec)
			nanosleep(&gap, NULL);
	}
	close(c);
	for (int k = 0; k < 2; k++) {
		if (kids[k] && (waitpid(kids[k], &status, 0) < 0 || !WIFEXITED(status) ||
				WEXITSTATUS(status)))
			failed = 1;
	}
	return failed;
}
