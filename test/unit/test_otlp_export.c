// SPDX-License-Identifier: Apache-2.0
/*
 * The exporter thread and its libcurl transport against a small HTTP/1.1 server inside the
 * test (127.0.0.1, a port the kernel picks): batch sizes, the flush at stop, retries on 503/429
 * (Retry-After) and none on 400, partial success, gzip and configured headers, metric exports, and
 * a stop bounded by the timeout while the receiver never answers.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "config.h"
#include "export_config.h"
#include "exporter.h"
#include "transport.h"
#include "metrics_service.pb-c.h"
#include "trace_service.pb-c.h"

#define MAX_REQ	   64
#define MAX_SCRIPT 16
#define MAX_CONNS  32

struct request {
	char path[64];
	char auth[128]; /* the authorization header */
	bool gzip;
	size_t spans;		/* traces: spans in the request */
	size_t points;		/* metrics: data points of http.server.request.duration */
	uint64_t first_span_id; /* traces: the first span's id, to recognize a retried body */
	int status;		/* what the server answered (0: hung) */
};

struct server {
	int fd;
	uint16_t port;
	pthread_t thread;
	pthread_mutex_t mu;
	bool stop;
	/* script, set before the exporter starts: answer n (0-based) with status[n], 0 = 200 */
	int status[MAX_SCRIPT];
	const char *retry_after; /* sent with non-2xx answers when set */
	int hang_at;		 /* request index never answered, -1 for none */
	int partial;		 /* rejected_spans in 200 answers to traces */
	struct request req[MAX_REQ];
	size_t n;
	int hung_fd;
	pthread_t conns[MAX_CONNS];
	size_t n_conns;
};

static struct server srv;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads until `want` bytes are in buf (or the head end when want is 0). Returns the length. */
static ssize_t read_more(int fd, char *buf, size_t have, size_t cap)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;

	if (poll(&p, 1, 100) <= 0)
		return have;
	n = read(fd, buf + have, cap - have);
	return n <= 0 ? -1 : (ssize_t)have + n;
}

static bool header(const char *head, const char *name, char *out, size_t size)
{
	const char *p = head;
	size_t len = strlen(name);

	while ((p = strstr(p, "\r\n"))) {
		p += 2;
		if (!strncasecmp(p, name, len) && p[len] == ':') {
			const char *v = p + len + 1, *end = strstr(v, "\r\n");

			while (*v == ' ')
				v++;
			snprintf(out, size, "%.*s", (int)(end - v), v);
			return true;
		}
	}
	return false;
}

static uint8_t *gunzip(const uint8_t *in, size_t len, size_t *out_len)
{
	size_t cap = 1 << 20;
	uint8_t *out = malloc(cap);
	z_stream z = {0};

	inflateInit2(&z, 15 + 16);
	z.next_in = (uint8_t *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (inflate(&z, Z_FINISH) != Z_STREAM_END) {
		free(out);
		out = NULL;
	}
	*out_len = z.total_out;
	inflateEnd(&z);
	return out;
}

static void decode(struct request *r, const uint8_t *body, size_t len)
{
	size_t i, j;

	if (!strcmp(r->path, "/v1/traces")) {
		Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *t =
		    opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
			NULL, len, body);

		for (i = 0; t && i < t->n_resource_spans; i++) {
			for (j = 0; j < t->resource_spans[i]->n_scope_spans; j++) {
				Opentelemetry__Proto__Trace__V1__ScopeSpans *ss =
				    t->resource_spans[i]->scope_spans[j];

				if (!r->spans && ss->n_spans && ss->spans[0]->span_id.len == 8)
					memcpy(&r->first_span_id, ss->spans[0]->span_id.data, 8);
				r->spans += ss->n_spans;
			}
		}
		if (t)
			opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
			    t, NULL);
	} else if (!strcmp(r->path, "/v1/metrics")) {
		Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest *m =
		    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
			NULL, len, body);

		for (i = 0; m && i < m->n_resource_metrics; i++) {
			Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm =
			    m->resource_metrics[i]->scope_metrics[0];

			for (j = 0; j < sm->n_metrics; j++)
				if (!strcmp(sm->metrics[j]->name, "http.server.request.duration"))
					r->points += sm->metrics[j]->histogram->n_data_points;
		}
		if (m)
			opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(
			    m, NULL);
	}
}

static void answer(int fd, struct request *r, int status)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse resp =
	    OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
	Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
	    OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
	char head[512], body[256] = "bad data from the test";
	size_t blen = strlen(body);
	int n;

	if (status == 200 && srv.partial && !strcmp(r->path, "/v1/traces")) {
		ps.rejected_spans = srv.partial;
		ps.error_message = "some rejected";
		resp.partial_success = &ps;
		blen =
		    opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack(
			&resp, (uint8_t *)body);
	} else if (status == 200) {
		blen = 0;
	}
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s%s\r\n",
		     status, status == 200 ? "application/x-protobuf" : "text/plain", blen,
		     status != 200 && srv.retry_after ? "Retry-After: " : "",
		     status != 200 && srv.retry_after ? srv.retry_after : "",
		     status != 200 && srv.retry_after ? "\r\n" : "");
	/* the exporter may have given up on this answer already (a timeout): no SIGPIPE */
	if (send(fd, head, (size_t)n, MSG_NOSIGNAL) < 0 || send(fd, body, blen, MSG_NOSIGNAL) < 0)
		return;
}

/* Serves one connection until it closes; false when it was left hanging. */
static bool serve(int fd, char *buf, size_t cap)
{
	size_t have = 0;

	for (;;) {
		char *end, value[128];
		size_t head_len, body_len;
		ssize_t got;
		struct request r = {0};
		uint8_t *plain = NULL;
		size_t plain_len;
		int idx, status;

		while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
			got = read_more(fd, buf, have, cap);
			if (got < 0 || srv.stop)
				return true;
			have = (size_t)got;
		}
		head_len = (size_t)(end - buf) + 4;
		buf[head_len - 2] = '\0';
		body_len =
		    header(buf, "content-length", value, sizeof(value)) ? strtoul(value, 0, 10) : 0;
		while (have < head_len + body_len) {
			got = read_more(fd, buf, have, cap);
			if (got < 0 || srv.stop)
				return true;
			have = (size_t)got;
		}
		sscanf(buf, "POST %63s", r.path);
		header(buf, "authorization", r.auth, sizeof(r.auth));
		r.gzip =
		    header(buf, "content-encoding", value, sizeof(value)) && !strcmp(value, "gzip");
		if (r.gzip)
			plain = gunzip((uint8_t *)buf + head_len, body_len, &plain_len);
		decode(&r, plain ? plain : (uint8_t *)buf + head_len, plain ? plain_len : body_len);
		free(plain);
		memmove(buf, buf + head_len + body_len, have - head_len - body_len);
		have -= head_len + body_len;

		pthread_mutex_lock(&srv.mu);
		idx = (int)srv.n;
		status = idx < MAX_SCRIPT && srv.status[idx] ? srv.status[idx] : 200;
		if (idx == srv.hang_at)
			status = 0;
		r.status = status;
		if (srv.n < MAX_REQ)
			srv.req[srv.n++] = r;
		pthread_mutex_unlock(&srv.mu);
		if (!status)
			return false;
		answer(fd, &r, status);
	}
}

/* One thread per connection, as a real receiver would take them in parallel. */
static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char *buf = malloc(1 << 20);

	if (buf && serve(fd, buf, 1 << 20))
		close(fd);
	else if (buf)
		srv.hung_fd = fd; /* left open, never answered */
	free(buf);
	return NULL;
}

static void *server_main(void *arg)
{
	while (!srv.stop) {
		struct pollfd p = {.fd = srv.fd, .events = POLLIN};
		int c;

		if (poll(&p, 1, 50) <= 0)
			continue;
		c = accept(srv.fd, NULL, NULL);
		if (c < 0)
			continue;
		if (srv.n_conns < MAX_CONNS)
			pthread_create(&srv.conns[srv.n_conns++], NULL, conn_main,
				       (void *)(intptr_t)c);
		else
			close(c);
	}
	return NULL;
}

static void server_start(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	memset(&srv, 0, sizeof(srv));
	srv.hang_at = -1;
	srv.hung_fd = -1;
	pthread_mutex_init(&srv.mu, NULL);
	srv.fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(srv.fd >= 0);
	CHECK_INT(bind(srv.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_INT(listen(srv.fd, 16), 0);
	getsockname(srv.fd, (struct sockaddr *)&a, &len);
	srv.port = ntohs(a.sin_port);
	pthread_create(&srv.thread, NULL, server_main, NULL);
}

static void server_stop(void)
{
	size_t i;

	srv.stop = true;
	pthread_join(srv.thread, NULL);
	for (i = 0; i < srv.n_conns; i++)
		pthread_join(srv.conns[i], NULL);
	close(srv.fd);
	if (srv.hung_fd >= 0)
		close(srv.hung_fd);
	pthread_mutex_destroy(&srv.mu);
}

static size_t requests(void)
{
	size_t n;

	pthread_mutex_lock(&srv.mu);
	n = srv.n;
	pthread_mutex_unlock(&srv.mu);
	return n;
}

/* Waits up to ms for at least n requests. */
static bool wait_requests(size_t n, uint64_t ms)
{
	uint64_t end = now_ms() + ms;

	while (requests() < n && now_ms() < end)
		usleep(10000);
	return requests() >= n;
}

/* --- the exporter under test ----------------------------------------------------------------- */

static struct obi_config cfg;

/* config_load with OTEL_EXPORTER_OTLP_ENDPOINT at the test server plus `extra` settings. */
static void configure(const char *const *extra)
{
	char *env[24], endpoint[64];
	static char *argv[] = {"obi", NULL};
	size_t n = 0;

	snprintf(endpoint, sizeof(endpoint), "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%u",
		 srv.port);
	env[n++] = endpoint;
	while (extra && *extra && n < 23)
		env[n++] = (char *)*extra++;
	env[n] = NULL;
	CHECK_INT(config_load(&cfg, 1, argv, env, stderr), 0);
}

static void make_span(struct span *s, uint64_t id, uint16_t status)
{
	memset(s, 0, sizeof(*s));
	s->kind = SPAN_SERVER;
	s->start_ns = 1765283285128844123ULL;
	s->end_ns = s->start_ns + 2000000;
	strcpy(s->method, "GET");
	strcpy(s->path, "/x");
	s->status = status;
	s->local.family = AF_INET;
	s->local.port = 8080;
	s->remote.family = AF_INET;
	s->remote.port = 40000;
	s->pid = 4242;
	s->trace_id[15] = 1;
	memcpy(s->span_id, &id, 8);
	s->trace_flags = 1;
}

static struct proc_info pi = {.pid = 4242,
			      .exe = "/usr/bin/app",
			      .comm = "app",
			      .service_name = "app",
			      .language = "generic"};

static struct otlp_exporter *exporter(const char *const *extra)
{
	struct otlp_exporter *ex = NULL;
	struct otlp_options opts;

	configure(extra);
	export_config_otlp(&cfg, &opts);
	CHECK_INT(otlp_exporter_new(&opts, &ex), 0);
	return ex;
}

static void feed(struct otlp_exporter *ex, uint64_t first_id, int n)
{
	struct span s;
	int i;

	for (i = 0; i < n; i++) {
		make_span(&s, first_id + (uint64_t)i, 200);
		otlp_exporter_on_span(ex, &s, &pi);
	}
}

static void test_batches_and_flush(void)
{
	static const char *const extra[] = {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE=2",
					    "OTEL_BSP_SCHEDULE_DELAY=60000",
					    "OTEL_METRIC_EXPORT_INTERVAL=600000", NULL};
	struct otlp_exporter *ex;
	struct otlp_exporter_stats st;

	server_start();
	ex = exporter(extra);
	if (!ex)
		return;
	feed(ex, 1, 5);
	CHECK_INT(otlp_exporter_start(ex), 0);
	/* two full batches go at once; the fifth span waits for the (long) schedule delay */
	CHECK(wait_requests(2, 5000));
	usleep(300000);
	CHECK_INT(requests(), 2);
	CHECK_INT(srv.req[0].spans, 2);
	CHECK_INT(srv.req[1].spans, 2);
	CHECK_STR(srv.req[0].path, "/v1/traces");
	/* stop flushes the rest (one request) and the metrics (one request) */
	otlp_exporter_get_stats(ex, &st);
	CHECK_INT(st.spans_exported, 4);
	CHECK_INT(st.queue_len, 1);
	otlp_exporter_stop(ex);
	CHECK_INT(requests(), 4);
	CHECK_INT(srv.req[2].spans, 1);
	CHECK_STR(srv.req[3].path, "/v1/metrics");
	CHECK_INT(srv.req[3].points, 1);
	CHECK(!srv.req[0].gzip);
	server_stop();
}

static void test_retries(void)
{
	static const char *const extra[] = {
	    "OTEL_BSP_SCHEDULE_DELAY=20", "OTEL_METRIC_EXPORT_INTERVAL=600000",
	    "OTEL_EXPORTER_OTLP_TRACES_HEADERS=authorization=Bearer%20t0k",
	    "OTEL_EXPORTER_OTLP_COMPRESSION=gzip", NULL};
	struct otlp_exporter *ex;
	struct otlp_exporter_stats st;
	uint64_t t0;

	/* 503 with Retry-After: 1, then 429 (back-off), then 200: the same body three times */
	server_start();
	srv.status[0] = 503;
	srv.status[1] = 429;
	srv.retry_after = "1";
	ex = exporter(extra);
	if (!ex)
		return;
	feed(ex, 7, 3);
	t0 = now_ms();
	CHECK_INT(otlp_exporter_start(ex), 0);
	CHECK(wait_requests(3, 8000));
	/* Retry-After: 1 s honoured twice (both answers carry it) */
	CHECK(now_ms() - t0 >= 1900);
	usleep(100000);
	otlp_exporter_get_stats(ex, &st);
	CHECK_INT(st.spans_exported, 3);
	CHECK_INT(st.spans_failed, 0);
	CHECK_INT(st.span_requests, 3);
	CHECK_INT(srv.req[0].spans, 3);
	CHECK_INT(srv.req[2].spans, 3);
	CHECK_INT(srv.req[0].first_span_id, 7);
	CHECK_INT(srv.req[1].first_span_id, 7);
	CHECK_INT(srv.req[2].first_span_id, 7);
	CHECK(srv.req[0].gzip && srv.req[2].gzip);
	CHECK_STR(srv.req[0].auth, "Bearer t0k");
	otlp_exporter_stop(ex);
	server_stop();
}

static void test_rejected_and_partial(void)
{
	static const char *const extra[] = {"OTEL_BSP_SCHEDULE_DELAY=20",
					    "OTEL_METRIC_EXPORT_INTERVAL=600000", NULL};
	struct otlp_exporter *ex;
	struct otlp_exporter_stats st;

	/* 400: not retried, the batch counted failed; the next batch is sent and partly
	 * rejected by the receiver */
	server_start();
	srv.status[0] = 400;
	srv.partial = 1;
	ex = exporter(extra);
	if (!ex)
		return;
	CHECK_INT(otlp_exporter_start(ex), 0);
	feed(ex, 1, 2);
	CHECK(wait_requests(1, 3000));
	usleep(700000); /* longer than any back-off: a retry would have come */
	CHECK_INT(requests(), 1);
	feed(ex, 10, 3);
	CHECK(wait_requests(2, 3000));
	usleep(100000);
	otlp_exporter_get_stats(ex, &st);
	CHECK_INT(srv.req[0].status, 400);
	CHECK_INT(srv.req[1].spans, 3);
	CHECK_INT(st.spans_failed, 2 + 1);
	CHECK_INT(st.spans_exported, 2);
	otlp_exporter_stop(ex);
	server_stop();
}

static void test_metrics_interval(void)
{
	static const char *const extra[] = {
	    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:9/",
	    "OTEL_BSP_SCHEDULE_DELAY=600000", "OTEL_EBPF_METRICS_INTERVAL=100ms",
	    "OTEL_EXPORTER_OTLP_TIMEOUT=300", NULL};
	struct otlp_exporter *ex;
	struct otlp_exporter_stats st;
	struct span s;
	size_t i, metric_reqs = 0;

	server_start();
	ex = exporter(extra);
	if (!ex)
		return;
	CHECK_INT(otlp_exporter_start(ex), 0);
	make_span(&s, 1, 200);
	otlp_exporter_on_span(ex, &s, &pi);
	make_span(&s, 2, 404);
	otlp_exporter_on_span(ex, &s, &pi);
	CHECK(wait_requests(3, 3000));
	/* the server has the third request before the exporter has counted its answer */
	for (int waited = 0; waited < 3000; waited += 10) {
		otlp_exporter_get_stats(ex, &st);
		if (st.metric_exports >= 3)
			break;
		usleep(10000);
	}
	CHECK(st.metric_exports >= 3);
	for (i = 0; i < requests(); i++) {
		CHECK_STR(srv.req[i].path, "/v1/metrics");
		CHECK_INT(srv.req[i].points, 2); /* 200 and 404: two series */
		metric_reqs++;
	}
	CHECK(metric_reqs >= 3);
	/* spans to a port where nothing listens: still queued at stop, then counted failed */
	otlp_exporter_stop(ex);
	server_stop();
}

static void test_stop_while_hanging(void)
{
	static const char *const extra[] = {"OTEL_BSP_SCHEDULE_DELAY=20",
					    "OTEL_METRIC_EXPORT_INTERVAL=600000",
					    "OTEL_EXPORTER_OTLP_TIMEOUT=400", NULL};
	struct otlp_exporter *ex;
	uint64_t t0, took;

	/* the receiver accepts the first request and never answers it */
	server_start();
	srv.hang_at = 0;
	ex = exporter(extra);
	if (!ex)
		return;
	CHECK_INT(otlp_exporter_start(ex), 0);
	feed(ex, 1, 2);
	CHECK(wait_requests(1, 3000));
	t0 = now_ms();
	otlp_exporter_stop(ex); /* the request in flight is cut at the timeout */
	took = now_ms() - t0;
	if (took > 1200)
		fprintf(stderr, "stop took %llu ms\n", (unsigned long long)took);
	CHECK(took <= 1200);
	server_stop();
}

int main(void)
{
	test_batches_and_flush();
	test_retries();
	test_rejected_and_partial();
	test_metrics_interval();
	test_stop_while_hanging();
	return check_done("test_otlp_export");
}
