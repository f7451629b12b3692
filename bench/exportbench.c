// SPDX-License-Identifier: Apache-2.0
/*
 * CPU cost of obi's OTLP path per span, without BPF or traffic: synthetic server spans (the
 * attributes obi fills from real HTTP/1 requests) go through otlp_exporter_on_span at a fixed
 * rate into a receiver named by OTEL_EXPORTER_OTLP_ENDPOINT (bench/sink.c, built by
 * bench/run.sh into build/bench/sink). Prints the CPU of
 * the calling thread (the event loop's share: queue, metrics), of the exporter thread (encode,
 * gzip, HTTP), and of the encoder alone, each in µs per span.
 *
 * usage: exportbench [-n SPANS] [-r RATE/s, 0: as fast as the queue drains] [-o FILE]
 *        OTEL_* settings come from the environment, as for obi. -o: write the first encoded
 *        batch (an ExportTraceServiceRequest) to FILE, e.g. to see how well it compresses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/export_config.h"
#include "otlp/encode.h"
#include "otlp/exporter.h"
#include "otlp/resource.h"

#define N_PROCS	  4
#define N_PATHS	  50
#define ENC_BATCH 512

extern char **environ;

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t process_cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ULL +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ULL;
}

/* Span i: a server span of one of N_PROCS processes, as obi makes them from wrk/pace traffic. */
static void make_span(struct span *s, uint64_t i)
{
	static const uint16_t statuses[] = {200, 200, 200, 200, 200, 200, 201, 404, 500, 304};
	uint64_t id = i * 0x9e3779b97f4a7c15ULL + 1;

	memset(s, 0, sizeof(*s));
	s->kind = SPAN_SERVER;
	s->start_ns = 1765283285128844123ULL + i * 200000;
	s->handler_ns = s->start_ns + 20000;
	s->end_ns = s->start_ns + 150000 + (i % 7) * 10000;
	strcpy(s->method, i % 10 == 9 ? "POST" : "GET");
	snprintf(s->path, sizeof(s->path), "/api/v1/items/%llu", (unsigned long long)(i % N_PATHS));
	strcpy(s->route, "/api/v1/items/*");
	strcpy(s->host_header, "localhost:8080");
	strcpy(s->user_agent, "Mozilla/5.0 (X11; Linux x86_64) pace/1.0");
	s->status = statuses[i % 10];
	s->req_body_size = i % 10 == 9 ? 512 : 0;
	s->resp_body_size = 17;
	s->local.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", s->local.addr);
	s->local.port = 8080;
	s->remote.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", s->remote.addr);
	s->remote.port = (uint16_t)(40000 + i % 20);
	s->pid = 1000 + (uint32_t)(i % N_PROCS);
	s->tid = s->pid;
	memcpy(s->trace_id, &id, 8);
	memcpy(s->trace_id + 8, &i, 8);
	memcpy(s->span_id, &id, 8);
	s->trace_flags = 1;
}

static void make_proc(struct proc_info *pi, uint32_t pid)
{
	memset(pi, 0, sizeof(*pi));
	pi->pid = pid;
	snprintf(pi->exe, sizeof(pi->exe), "/usr/sbin/nginx");
	snprintf(pi->comm, sizeof(pi->comm), "nginx");
	snprintf(pi->service_name, sizeof(pi->service_name), "nginx-%u", pid);
	snprintf(pi->language, sizeof(pi->language), "generic");
}

/* The encoder alone: batches of ENC_BATCH spans, the first written to save_to (may be NULL).
 * Returns ns of CPU per span. */
static double encode_only(struct span *spans, struct proc_info *procs, size_t n,
			  const char *save_to)
{
	struct otlp_resource *res[N_PROCS];
	struct otlp_span_ref refs[ENC_BATCH];
	struct otlp_encoder *enc = otlp_encoder_new(NULL, NULL);
	uint64_t t0, bytes = 0;
	size_t i, k, done = 0;
	const uint8_t *body;
	size_t len;

	if (!enc)
		return -1;
	for (i = 0; i < N_PROCS; i++)
		res[i] = otlp_resource_new(&procs[i]);
	t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	while (done < n) {
		for (k = 0; k < ENC_BATCH && done + k < n; k++)
			refs[k] =
			    (struct otlp_span_ref){&spans[done + k], res[(done + k) % N_PROCS]};
		if (otlp_encode_traces(enc, refs, k, &body, &len))
			return -1;
		bytes += len;
		if (!done && save_to) {
			FILE *f = fopen(save_to, "w");

			if (f)
				fwrite(body, 1, len, f);
			if (!f || fclose(f))
				perror(save_to);
		}
		done += k;
	}
	t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
	printf("encode only:      %7.3f us/span  (%.0f bytes/span)\n", (double)t0 / 1e3 / (double)n,
	       (double)bytes / (double)n);
	for (i = 0; i < N_PROCS; i++)
		otlp_resource_put(res[i]);
	otlp_encoder_free(enc);
	return (double)t0 / (double)n;
}

int main(int argc, char **argv)
{
	static struct obi_config cfg;
	static char *cfg_argv[] = {"exportbench", NULL};
	struct otlp_options opts;
	struct otlp_exporter *ex;
	struct otlp_exporter_stats st;
	struct proc_info procs[N_PROCS];
	struct span *spans;
	const char *save_to = NULL;
	size_t n = 100000, i;
	double rate = 20000;
	uint64_t t0, main0, proc0, main_ns, proc_ns, wall;
	int opt;

	while ((opt = getopt(argc, argv, "n:r:o:")) != -1) {
		if (opt == 'o')
			save_to = optarg;
		else if (opt == 'n')
			n = strtoul(optarg, NULL, 10);
		else if (opt == 'r')
			rate = strtod(optarg, NULL);
		else
			return 2;
	}
	if (!getenv("OTEL_EXPORTER_OTLP_ENDPOINT") &&
	    !getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
		fprintf(stderr, "exportbench: set OTEL_EXPORTER_OTLP_ENDPOINT (a receiver such as "
				"build/bench/sink)\n");
		return 2;
	}
	if (config_load(&cfg, 1, cfg_argv, environ, stderr))
		return 2;
	spans = malloc(n * sizeof(*spans));
	if (!spans)
		return 1;
	for (i = 0; i < N_PROCS; i++)
		make_proc(&procs[i], 1000 + (uint32_t)i);
	for (i = 0; i < n; i++)
		make_span(&spans[i], i);
	encode_only(spans, procs, n, save_to);

	export_config_otlp(&cfg, &opts);
	if (otlp_exporter_open(&opts, &ex) || !ex)
		return 1;
	t0 = clock_ns(CLOCK_MONOTONIC);
	main0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	proc0 = process_cpu_ns();
	for (i = 0; i < n; i++) {
		if (rate > 0) {
			uint64_t due = t0 + (uint64_t)((double)i * 1e9 / rate);

			/* sleep in steps of 1 ms or more, as a busy event loop would not wake */
			if (clock_ns(CLOCK_MONOTONIC) + 1000000 < due)
				usleep(1000);
		} else {
			otlp_exporter_get_stats(ex, &st);
			while (st.queue_len >= st.queue_cap - 1) {
				usleep(200);
				otlp_exporter_get_stats(ex, &st);
			}
		}
		otlp_exporter_on_span(ex, &spans[i], &procs[i % N_PROCS]);
	}
	main_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - main0;
	otlp_exporter_stop(ex);
	proc_ns = process_cpu_ns() - proc0;
	wall = clock_ns(CLOCK_MONOTONIC) - t0;
	printf("on_span (caller): %7.3f us/span\n", (double)main_ns / 1e3 / (double)n);
	printf("exporter thread:  %7.3f us/span  (process CPU minus the caller's)\n",
	       (double)(proc_ns - main_ns) / 1e3 / (double)n);
	printf("total:            %7.3f us/span  (%zu spans in %.2f s)\n",
	       (double)proc_ns / 1e3 / (double)n, n, (double)wall / 1e9);
	free(spans);
	return 0;
}
