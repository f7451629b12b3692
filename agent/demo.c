// SPDX-License-Identifier: Apache-2.0
#include "demo.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"

/* A backend with a little work per request, so the latencies mean something. */
static const char backend_py[] =
	"import http.server, json, random, sys, time\n"
	"class H(http.server.BaseHTTPRequestHandler):\n"
	"    protocol_version = 'HTTP/1.1'\n"
	"    def do_GET(self):\n"
	"        time.sleep(random.uniform(0.001, 0.02))\n"
	"        if self.path.startswith('/api/items/'):\n"
	"            code, body = 200, json.dumps({'id': self.path.rsplit('/', 1)[1]}).encode()\n"
	"        else:\n"
	"            code, body = 404, b'not found\\n'\n"
	"        self.send_response(code)\n"
	"        self.send_header('Content-Type', 'application/json')\n"
	"        self.send_header('Content-Length', str(len(body)))\n"
	"        self.end_headers()\n"
	"        self.wfile.write(body)\n"
	"    def log_message(self, *a): pass\n"
	"http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n";

/* A proxy: each request is forwarded to the backend by the thread that read it. */
static const char proxy_py[] =
	"import http.client, http.server, sys\n"
	"class H(http.server.BaseHTTPRequestHandler):\n"
	"    protocol_version = 'HTTP/1.1'\n"
	"    def do_GET(self):\n"
	"        up = http.client.HTTPConnection('127.0.0.1', int(sys.argv[2]), timeout=5)\n"
	"        up.request('GET', self.path, headers={'Host': 'backend:' + sys.argv[2]})\n"
	"        r = up.getresponse(); body = r.read(); up.close()\n"
	"        self.send_response(r.status)\n"
	"        self.send_header('Content-Length', str(len(body)))\n"
	"        self.end_headers()\n"
	"        self.wfile.write(body)\n"
	"    def log_message(self, *a): pass\n"
	"http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n";

static const char client_py[] =
	"import sys, time, urllib.request, urllib.error\n"
	"n = 0\n"
	"while True:\n"
	"    n += 1\n"
	"    path = '/api/items/%d?verbose=1' % n if n % 5 else '/missing'\n"
	"    try:\n"
	"        urllib.request.urlopen('http://127.0.0.1:%s%s' % (sys.argv[1], path), timeout=5).read()\n"
	"    except urllib.error.HTTPError:\n"
	"        pass\n"
	"    except OSError as e:\n"
	"        print('demo client:', e, file=sys.stderr)\n"
	"    time.sleep(1)\n";

/* Asks the kernel for a free port on loopback. */
static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int port = -1;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

int demo_prepare(struct demo *d, struct obi_config *cfg)
{
	int b = free_port(), p = free_port();

	memset(d, 0, sizeof(*d));
	if (b <= 0 || p <= 0 || b == p)
		return -EADDRNOTAVAIL;
	d->backend_port = b;
	d->proxy_port = p;
	cfg->open_ports.bits[b >> 6] |= 1ULL << (b & 63);
	cfg->open_ports.bits[p >> 6] |= 1ULL << (p & 63);
	cfg->open_ports.count += 2;
	return 0;
}

static pid_t spawn(const char *service, const char *script, const char *arg1, const char *arg2)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);	/* never outlive obi */
		/* Ctrl-C reaches the whole process group: obi stops the demo itself (SIGTERM);
		 * ignored, python does not print a KeyboardInterrupt traceback per server */
		signal(SIGINT, SIG_IGN);
		if (service)
			setenv("OTEL_SERVICE_NAME", service, 1);
		execlp("python3", "python3", "-c", script, arg1, arg2, (char *)NULL);
		fprintf(stderr, "obi demo: exec python3: %s\n", strerror(errno));
		_exit(127);
	}
	return pid;
}

int demo_start(struct demo *d)
{
	char bport[8], pport[8];

	snprintf(bport, sizeof(bport), "%u", d->backend_port);
	snprintf(pport, sizeof(pport), "%u", d->proxy_port);
	d->backend = spawn("demo-backend", backend_py, bport, NULL);
	d->proxy = spawn("demo-proxy", proxy_py, pport, bport);
	if (d->backend < 0 || d->proxy < 0) {
		demo_stop(d);
		return -ECHILD;
	}
	usleep(300 * 1000);	/* let both listen before the client's first request */
	d->client = spawn(NULL, client_py, pport, NULL);
	log_info("demo: client -> demo-proxy 127.0.0.1:%u -> demo-backend 127.0.0.1:%u, one request "
		 "a second (Ctrl-C stops)", d->proxy_port, d->backend_port);
	return d->client < 0 ? -ECHILD : 0;
}

void demo_stop(struct demo *d)
{
	pid_t pids[] = { d->client, d->proxy, d->backend };

	for (size_t i = 0; i < sizeof(pids) / sizeof(pids[0]); i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGTERM);
			waitpid(pids[i], NULL, 0);
		}
	}
	d->client = d->proxy = d->backend = 0;
}
