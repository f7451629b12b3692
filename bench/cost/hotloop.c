// SPDX-License-Identifier: Apache-2.0
/*
 * hotloop PORT N: one keep-alive connection, N HTTP/1.1 requests back to back. A child process
 * listens on 127.0.0.1:PORT (obi selects it when it listens) and answers each request like
 * the bench's nginx does: recv() of the request, one writev() of head and 17-byte body. The
 * parent is the client (write() then read()), forked before the listen, so it is not selected.
 * With nothing else between the syscalls, BPF run time per request varies far less between
 * runs than under nginx and the paced load generator (see bench/cost/README.md).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static const char request[] =
	"GET /api/items/1 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: hotloop\r\nAccept: */*\r\n\r\n";
static const char head[] = "HTTP/1.1 200 OK\r\nServer: hotloop\r\nContent-Type: text/plain\r\n"
			   "Content-Length: 17\r\nConnection: keep-alive\r\n\r\n";
static const char body[] = "hello from nginx\n";

static void serve(const struct sockaddr_in *addr)
{
	struct iovec iov[2] = { { (void *)head, sizeof(head) - 1 }, { (void *)body, sizeof(body) - 1 } };
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0), c;
	char buf[4096];

	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (const void *)addr, sizeof(*addr)) || listen(ls, 8)) {
		perror("hotloop: listen");
		_exit(1);
	}
	c = accept(ls, NULL, NULL);
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (recv(c, buf, sizeof(buf), 0) > 0)
		if (writev(c, iov, 2) < 0)
			break;
	_exit(0);
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	size_t want = sizeof(head) - 1 + sizeof(body) - 1;
	int one = 1, c, status = 0;
	char buf[4096];
	pid_t child;
	long n;

	if (argc != 3) {
		fprintf(stderr, "usage: hotloop PORT REQUESTS\n");
		return 2;
	}
	addr.sin_port = htons(atoi(argv[1]));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	n = atol(argv[2]);
	child = fork();
	if (child == 0)
		serve(&addr);
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
		size_t got = 0;

		if (write(c, request, sizeof(request) - 1) < 0)
			return 1;
		while (got < want) {
			ssize_t r = read(c, buf, sizeof(buf));

			if (r <= 0) {
				fprintf(stderr, "hotloop: response %ld cut short\n", i);
				return 1;
			}
			got += r;
		}
	}
	close(c);
	waitpid(child, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
