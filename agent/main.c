// SPDX-License-Identifier: Apache-2.0
/* obi: select processes, attach the BPF programs, turn their traffic into spans. */
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "demo.h"
#include "discovery.h"
#include "export_config.h"
#include "otlp/exporter.h"
#include "otlp/prom_server.h"
#include "loader.h"
#include "core/log.h"
#include "obi.skel.h"
#include "printer.h"
#include "selftest.h"

#ifndef OBI_FLOOR
#define OBI_FLOOR 0 /* CMake OBI_BENCH_FLOOR: the benchmark floor build */
#endif
#define POLL_MS 20			/* ring buffer wake-ups are batched: poll this often */
#define SWEEP_NS 1000000000ULL		/* look for idle connections once a second */
#define IDLE_NS (300 * 1000000000ULL)	/* a connection silent this long is forgotten */
#define COUNTERS_NS (30 * 1000000000ULL)	/* the summary's counters at debug level, this often */

extern char **environ;

static volatile sig_atomic_t stop_signal;

struct agent {
	struct obi_config cfg;
	struct obi_bpf *skel;
	struct ring_buffer *rb;
	struct conn_tracker *conns;
	struct discovery *disc;
	struct traced_pids pids;
	struct otlp_exporter *otlp;	/* NULL: no OTLP export nor Prometheus endpoint */
	struct otlp_prom_server *prom;	/* NULL: no Prometheus endpoint */
	struct demo demo;
	bool demo_on;
	pid_t selftest_pid;		/* its events are not spans of anybody's */
	uint64_t events, bad_events;
};

static void on_signal(int sig)
{
	stop_signal = sig;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* The kernel stamps events with CLOCK_MONOTONIC; spans are reported in Unix time. */
static void sync_clock(struct agent *a)
{
	conn_tracker_set_clock(a->conns, clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC));
}

static void on_span(struct span *s, void *ctx)
{
	struct agent *a = ctx;
	const struct proc_info *pi;

	if (!discovery_traced(a->disc, s->pid))
		return;		/* made before an exclude entry took the process out */
	pi = discovery_proc(a->disc, s->pid);
	str_copy(s->service_name, sizeof(s->service_name), pi->service_name);
	str_copy(s->language, sizeof(s->language), pi->language);
	str_copy(s->container_id, sizeof(s->container_id), pi->container_id);
	printer_print(a->cfg.trace_printer, s, stdout);
	otlp_exporter_on_span(a->otlp, s, pi);
}

static int on_event(void *ctx, void *data, size_t size)
{
	const struct obi_event_hdr *h = data;
	struct agent *a = ctx;

	a->events++;
	if (size < sizeof(*h))
		goto bad;
	if (a->selftest_pid && h->pid == (uint32_t)a->selftest_pid)
		return 0;
	switch (h->type) {
	case OBI_EV_DATA:
		conn_tracker_data(a->conns, data, size);
		return 0;
	case OBI_EV_CLOSE:
		if (size < sizeof(struct obi_close_event))
			goto bad;
		conn_tracker_close(a->conns, data);
		return 0;
	case OBI_EV_PROC_NEW:
		if (size < sizeof(struct obi_proc_event))
			goto bad;
		discovery_on_proc_new(a->disc, data);
		return 0;
	case OBI_EV_EXEC:
		discovery_on_exec(a->disc, h->pid);
		return 0;
	case OBI_EV_LISTEN:
		if (size < sizeof(struct obi_proc_event))
			goto bad;
		discovery_on_listen(a->disc, h->pid, ((const struct obi_proc_event *)data)->port);
		return 0;
	case OBI_EV_PROC_EXIT:
		conn_tracker_proc_exit(a->conns, h->pid, h->ts_ns);
		discovery_on_exit(a->disc, h->pid);
		otlp_exporter_proc_exit(a->otlp, h->pid);
		return 0;
	}
bad:
	a->bad_events++;
	return 0;
}

/* The counters; "summary" at exit, "counters so far" every COUNTERS_NS at debug level. */
static void log_summary(struct agent *a, enum log_level level, const char *what)
{
	unsigned long long k[OBI_CNT_MAX] = {};
	struct conn_stats st;

	conn_tracker_stats(a->conns, &st);
	loader_read_counters(a->skel, k);
	log_msg(level,
		"%s: processes=%u spans=%llu unanswered=%llu events=%llu lost_events=%llu "
		"not_http=%llu orphan_responses=%llu truncated_heads=%llu pipeline_overflow=%llu "
		"conns=%llu conns_dropped=%llu bad_traceparent=%llu conn_table_full=%llu lost_sync=%llu "
		"injected=%llu rewritten=%llu inject_skipped=%llu inject_body_sends=%llu "
		"inject_off_not_http=%llu inject_off_framing=%llu inject_no_state=%llu "
		"inject_failed=%llu inject_undo_failed=%llu rx_overlaps_trimmed=%llu rx_overlaps_failed=%llu "
		"inject_peer_not_http=%llu h2_undecodable=%llu",
		what, discovery_count(a->disc), (unsigned long long)st.spans,
		(unsigned long long)st.spans_unanswered, (unsigned long long)a->events,
		k[OBI_CNT_RINGBUF_FULL], (unsigned long long)st.not_http,
		(unsigned long long)st.orphan_responses, (unsigned long long)st.truncated_heads,
		(unsigned long long)st.pipeline_overflow, (unsigned long long)st.conns,
		(unsigned long long)st.conns_dropped, (unsigned long long)st.bad_traceparent,
		k[OBI_CNT_CONN_TABLE_FULL], (unsigned long long)st.lost_sync, k[OBI_CNT_INJECTED],
		k[OBI_CNT_REWRITTEN], k[OBI_CNT_INJECT_SKIPPED], k[OBI_CNT_INJECT_BODY],
		k[OBI_CNT_INJECT_OFF_PROTO], k[OBI_CNT_INJECT_OFF_FRAMING], k[OBI_CNT_INJECT_NO_STATE],
		k[OBI_CNT_INJECT_FAILED], k[OBI_CNT_INJECT_UNDO_FAILED], k[OBI_CNT_RX_OVERLAP],
		k[OBI_CNT_RX_OVERLAP_FAILED], k[OBI_CNT_INJECT_PEER_NOT_HTTP],
		(unsigned long long)st.h2_undecodable);
}

static int run_loop(struct agent *a)
{
	uint64_t next_sweep = clock_ns(CLOCK_MONOTONIC) + SWEEP_NS;
	uint64_t next_counters = next_sweep - SWEEP_NS + COUNTERS_NS;
	int err = 0;

	while (!stop_signal) {
		err = ring_buffer__poll(a->rb, POLL_MS);
		if (err == -EINTR) {
			err = 0;
			continue;
		}
		if (err < 0) {
			log_error("poll ring buffer: %s", strerror(-err));
			break;
		}
		/* wake-ups are suppressed in the kernel: take whatever is there */
		ring_buffer__consume(a->rb);
		if (clock_ns(CLOCK_MONOTONIC) >= next_sweep) {
			uint64_t now = clock_ns(CLOCK_MONOTONIC);

			sync_clock(a);
			conn_tracker_sweep(a->conns, now, IDLE_NS);
			discovery_sweep(a->disc);
			next_sweep = now + SWEEP_NS;
			if (now >= next_counters && log_get_level() == LOG_DEBUG) {
				log_summary(a, LOG_DEBUG, "counters so far");
				next_counters = now + COUNTERS_NS;
			}
		}
	}
	ring_buffer__consume(a->rb);
	return err < 0 ? err : 0;
}

static void selftest_ready(pid_t child, void *arg)
{
	loader_injection_scope(arg, (uint32_t)child);
}

/* Turns traceparent injection on only once the self-test has shown it harmless here: until
 * then it reaches the self-test's own child and nobody else. */
static void start_injection(struct agent *a)
{
	const char *why;
	int err;

	if (!a->cfg.context_propagation) {
		log_info("traceparent propagation disabled (OTEL_EBPF_BPF_CONTEXT_PROPAGATION)");
		return;
	}
	err = loader_injection_on(a->skel);
	if (OBI_FLOOR && !err) {
		/* the floor's sk_msg passes every send as it is: nothing to prove */
		loader_injection_scope(a->skel, 0);
		log_warn("benchmark floor build: the injection programs run and change nothing");
		return;
	}
	if (!err)
		err = selftest_injection(&a->pids, &a->selftest_pid, selftest_ready, a->skel, &why);
	else
		why = "could not attach the injection programs (see above)";
	if (err) {
		loader_injection_off(a->skel);
		log_error("traceparent propagation OFF: start-up self-test failed: %s; spans are "
			  "still traced, but traces do not continue into other processes", why);
		return;
	}
	loader_injection_scope(a->skel, 0);
	log_info("traceparent propagation on: start-up self-test passed (injection intact with "
		 "write, writev, sendfile bodies and Nagle on and off, another protocol untouched, "
		 "FIONREAD and epoll right, 8 MiB responses and keep-alive complete)");
}

static int start(struct agent *a)
{
	struct otlp_options otlp_opts;
	struct otlp_prom_options prom_opts;
	int err, n;

	if (OBI_FLOOR)
		log_warn("benchmark floor build (OBI_BENCH_FLOOR): the BPF programs stop after "
			 "their pid filter; no spans, no metrics");
	if (geteuid() != 0) {
		log_error("obi must run as root (it loads BPF programs: CAP_BPF, CAP_PERFMON, "
			  "CAP_SYS_ADMIN)");
		return -EPERM;
	}
	if (a->demo_on && (err = demo_prepare(&a->demo, &a->cfg))) {
		log_error("demo: pick ports: %s", strerror(-err));
		return err;
	}
	export_config_otlp(&a->cfg, &otlp_opts);
	err = otlp_exporter_open(&otlp_opts, &a->otlp);
	if (err)
		return err;
	export_config_prometheus(&a->cfg, &prom_opts);
	err = otlp_prom_server_start(&prom_opts, a->otlp, &a->prom);
	if (err)
		return err;
	err = loader_start(&a->cfg, &a->skel);
	if (err)
		return err;
	err = traced_pids_open(&a->pids, a->skel);
	if (err) {
		log_error("map pid_bits: %s", strerror(-err));
		return err;
	}
	start_injection(a);
	a->conns = conn_tracker_new(on_span, a);
	a->disc = discovery_new(&a->cfg, &a->pids);
	if (!a->conns || !a->disc)
		return -ENOMEM;
	struct sampling sampling = config_sampling(&a->cfg);
	conn_tracker_set_sampling(a->conns, &sampling);
	sync_clock(a);
	a->rb = ring_buffer__new(bpf_map__fd(a->skel->maps.events), on_event, a, NULL);
	if (!a->rb) {
		log_error("open ring buffer: %s", strerror(errno));
		return -errno;
	}
	/* the self-test's child is gone: once its events are read, its pid is anybody's again */
	ring_buffer__consume(a->rb);
	a->selftest_pid = 0;
	n = discovery_scan(a->disc);
	if (n < 0) {
		log_error("scan /proc: %s", strerror(-n));
		return n;
	}
	if (a->demo_on && (err = demo_start(&a->demo))) {
		log_error("demo: start python3 services: %s", strerror(-err));
		return err;
	}
	log_info("obi ready: %d process(es) instrumented at start, printer=%s", n,
		 a->cfg.trace_printer == PRINTER_TEXT ? "text" :
		 a->cfg.trace_printer == PRINTER_JSON ? "json" : "disabled");
	return 0;
}

static void stop(struct agent *a)
{
	if (a->demo_on)
		demo_stop(&a->demo);
	if (a->skel && a->conns && a->disc)
		log_summary(a, LOG_INFO, "summary");
	otlp_prom_server_stop(a->prom);
	otlp_exporter_stop(a->otlp);	/* flushes, bounded by OTEL_EXPORTER_OTLP_TIMEOUT */
	ring_buffer__free(a->rb);
	discovery_free(a->disc);
	conn_tracker_free(a->conns);
	traced_pids_close(&a->pids);
	if (a->skel)
		loader_stop(a->skel);
}

int main(int argc, char **argv)
{
	static struct agent a;
	struct sigaction sa = { .sa_handler = on_signal };
	int err;

	if (config_load(&a.cfg, argc, argv, environ, stderr))
		return 2;
	if (a.cfg.help) {
		config_print_help(stdout);
		return 0;
	}
	if (a.cfg.help_markdown) {
		config_print_markdown(stdout);
		return 0;
	}
	if (a.cfg.print_config) {
		config_print_yaml(&a.cfg, stdout);
		return 0;
	}
	if (a.cfg.version) {
		printf("obi %s\n", OBI_VERSION);
		return 0;
	}
	log_set_level(a.cfg.log_level);
	a.demo_on = a.cfg.demo || !config_has_selector(&a.cfg);
	if (a.demo_on)
		log_info("no process selected (OTEL_EBPF_OPEN_PORT, OTEL_EBPF_TARGET_PID, ...): "
			 "running the demo");
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	err = start(&a);
	if (!err)
		err = run_loop(&a);
	stop(&a);
	return err ? 1 : 0;
}
