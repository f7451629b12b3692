// SPDX-License-Identifier: Apache-2.0
/*
 * The OTLP exporter thread: a bounded ring of spans filled by the event loop, batches POSTed
 * every OTEL_BSP_SCHEDULE_DELAY or as soon as a batch is full, metrics every
 * OTEL_METRIC_EXPORT_INTERVAL, retries with exponential back-off and jitter, and a flush
 * bounded by the export timeout at exit. One mutex guards the queue, the resources and the
 * metrics; the network is only touched by the thread, outside the lock.
 */
#include "exporter.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "encode.h"
#include "json.h"
#include "transport.h"
#include "core/log.h"
#include "metrics.h"
#include "resource.h"
#include "sampler.h"

#define NS_PER_MS	   1000000ULL
#define NS_PER_S	   1000000000ULL
#define RES_BUCKETS	   256
#define BACKOFF_FIRST_NS   (500 * NS_PER_MS)
#define BACKOFF_MAX_NS	   (10 * NS_PER_S)
#define RETRY_AFTER_MAX_NS (300 * NS_PER_S)
#define GIVE_UP_NS	   (60 * NS_PER_S) /* a batch failing this long is dropped (counted failed) */
#define SUMMARY_NS	   (60 * NS_PER_S) /* debug summary line period */
#define REAP_NS		   (10 * NS_PER_S) /* look for processes gone without an exit event */
#define EXPIRE_NS	   NS_PER_S /* metrics only pulled: look for expired series this often */
#define STATUS_LOGGED_MAX  600

struct qspan {
	struct span span;
	struct otlp_resource *res; /* holds a reference */
};

struct res_entry {
	struct res_entry *next;
	struct otlp_resource *res; /* holds a reference */
};

/* Retry state of one signal. */
struct retry {
	uint64_t at;	     /* CLOCK_MONOTONIC ns of the next attempt; 0: no retry pending */
	uint64_t first_fail; /* when the current body first failed */
	unsigned attempt;
	bool failing; /* logged as failing, not yet as recovered */
};

struct otlp_exporter {
	/* settings, fixed after new() */
	bool traces_on, metrics_on;
	bool metrics_pull; /* recorded for a scrape endpoint (metrics != NULL) */
	char *resource_attributes;
	uint32_t cap, batch;
	uint64_t delay_ns, interval_ns, ttl_ns;
	uint64_t traces_timeout_ms, metrics_timeout_ms;
	enum otlp_sampler sampler;
	double ratio;
	char traces_url[OTLP_URL_MAX], metrics_url[OTLP_URL_MAX];
	struct otlp_encoder *enc;   /* used by the thread only */
	struct otlp_span_ref *refs; /* the thread's: the batch being encoded */
	struct otlp_transport *traces_http, *metrics_http; /* used by the thread only */
	bool traces_json, metrics_json;	       /* OTLP/JSON bodies instead of protobuf */
	_Atomic uint64_t abort_at;	       /* set at stop: ends transfers in progress */
	unsigned seed;			       /* jitter, the thread's */
	bool status_logged[STATUS_LOGGED_MAX]; /* thread's: rejections logged once per status */

	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	/* guarded by mu */
	bool stopping;
	struct qspan *queue;
	uint32_t head, len; /* len counts spans being exported too */
	struct res_entry *res[RES_BUCKETS];
	struct otlp_metrics *metrics;
	struct otlp_exporter_stats st;
	bool drop_logged;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t unix_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* --- resources -------------------------------------------------------------------------------- */

/* The resource of pi's process, created (or replaced after an exec) as needed. Under mu. */
static struct otlp_resource *resource_for(struct otlp_exporter *ex, const struct proc_info *pi)
{
	struct res_entry **slot = &ex->res[pi->pid % RES_BUCKETS], *e;
	struct otlp_resource *r;

	for (e = *slot; e && e->res->pid != pi->pid; e = e->next)
		;
	if (e && otlp_resource_matches(e->res, pi))
		return e->res;
	r = otlp_resource_new(pi);
	if (!r)
		return NULL;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			otlp_resource_put(r);
			return NULL;
		}
		e->next = *slot;
		*slot = e;
	} else {
		/* the process exec()ed or was renamed: a new resource from now on */
		otlp_resource_put(e->res);
	}
	e->res = r;
	return r;
}

/* Forgets pid's resource: queued spans and metric series keep it alive until they go. */
static void resource_exit(struct otlp_exporter *ex, uint32_t pid, uint64_t now)
{
	struct res_entry **pp = &ex->res[pid % RES_BUCKETS], *e;

	for (; (e = *pp); pp = &e->next) {
		if (e->res->pid != pid)
			continue;
		*pp = e->next;
		e->res->exited = true;
		e->res->exit_ns = now;
		otlp_resource_put(e->res);
		free(e);
		return;
	}
}

/* Processes gone without an exit event (missed or raced) are forgotten too. Under mu. */
static void resources_reap(struct otlp_exporter *ex, uint64_t now)
{
	struct res_entry *e, *next;
	char path[32];
	struct stat sb;
	size_t b;

	for (b = 0; b < RES_BUCKETS; b++) {
		for (e = ex->res[b]; e; e = next) {
			next = e->next;
			snprintf(path, sizeof(path), "/proc/%u", e->res->pid);
			if (stat(path, &sb) && errno == ENOENT)
				resource_exit(ex, e->res->pid, now);
		}
	}
}

/* --- the producer side (event loop) ----------------------------------------------------------- */

void otlp_exporter_on_span(struct otlp_exporter *ex, const struct span *s,
			   const struct proc_info *pi)
{
	struct otlp_resource *r;
	struct qspan *q;

	if (!ex)
		return;
	pthread_mutex_lock(&ex->mu);
	r = resource_for(ex, pi);
	if (!r)
		goto out;
	if (ex->metrics)
		otlp_metrics_record(ex->metrics, s, r);
	if (!ex->traces_on)
		goto out;
	if (!otlp_sampler_keep(ex->sampler, ex->ratio, s)) {
		ex->st.spans_sampled_out++;
		goto out;
	}
	if (ex->len == ex->cap) {
		ex->st.spans_dropped++;
		if (!ex->drop_logged)
			log_warn(
			    "otlp: span queue full (%u spans, OTEL_BSP_MAX_QUEUE_SIZE): dropping "
			    "new spans until the exporter catches up (counted in the summary)",
			    ex->cap);
		ex->drop_logged = true;
		goto out;
	}
	q = &ex->queue[(ex->head + ex->len) % ex->cap];
	span_copy(&q->span, s);
	q->res = r;
	otlp_resource_get(r);
	ex->len++;
	ex->st.spans_queued++;
	if (ex->len == ex->batch)
		pthread_cond_signal(&ex->cond);
out:
	pthread_mutex_unlock(&ex->mu);
}

void otlp_exporter_proc_exit(struct otlp_exporter *ex, uint32_t pid)
{
	if (!ex)
		return;
	pthread_mutex_lock(&ex->mu);
	resource_exit(ex, pid, mono_ns());
	pthread_mutex_unlock(&ex->mu);
}

int otlp_exporter_snapshot(struct otlp_exporter *ex, struct otlp_series **out, size_t *n)
{
	int err = -ENOENT;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&ex->mu);
	if (ex->metrics)
		err = otlp_metrics_snapshot(ex->metrics, out, n);
	pthread_mutex_unlock(&ex->mu);
	return err;
}

void otlp_exporter_snapshot_free(struct otlp_exporter *ex, struct otlp_series *snap, size_t n)
{
	pthread_mutex_lock(&ex->mu);
	otlp_metrics_snapshot_free(snap, n);
	pthread_mutex_unlock(&ex->mu);
}

const char *otlp_exporter_resource_attributes(const struct otlp_exporter *ex)
{
	return ex->resource_attributes;
}

void otlp_exporter_get_stats(struct otlp_exporter *ex, struct otlp_exporter_stats *st)
{
	pthread_mutex_lock(&ex->mu);
	*st = ex->st;
	st->queue_len = ex->len;
	st->queue_cap = ex->cap;
	st->series = ex->metrics ? otlp_metrics_series(ex->metrics) : 0;
	st->series_dropped = ex->metrics ? otlp_metrics_dropped(ex->metrics) : 0;
	pthread_mutex_unlock(&ex->mu);
}

/* --- sending ---------------------------------------------------------------------------------- */

/* The readable part of an error body: google.rpc.Status's message when it is one, else the
 * bytes with anything unprintable escaped. */
static void describe_body(const struct otlp_response *r, char *out, size_t size)
{
	const uint8_t *b = r->body, *end = b ? b + r->body_len : b;
	size_t k = 0, len = 0;
	int shift = 0;

	if (r->protobuf) {
		/* field 1 (code, varint) then field 2 (message, length-delimited) */
		if (b < end && *b == 0x08)
			for (b++; b < end && (*b++ & 0x80);)
				;
		if (b < end && *b == 0x12) {
			for (b++; b < end && shift < 35; shift += 7) {
				len |= (size_t)(*b & 0x7f) << shift;
				if (!(*b++ & 0x80))
					break;
			}
			if (len <= (size_t)(end - b))
				end = b + len;
			else
				b = r->body;
		} else {
			b = r->body;
		}
	}
	for (; b < end && k + 5 < size && k < 512; b++) {
		if (*b >= 0x20 && *b < 0x7f)
			out[k++] = (char)*b;
		else
			k += (size_t)snprintf(out + k, size - k, "\\x%02x", *b);
	}
	out[k < size ? k : size - 1] = '\0';
}

/* The OTLP/gRPC services' Export methods (the collector protos trace_service.proto, metrics_service.proto) */
#define TRACES_GRPC_METHOD  "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
#define METRICS_GRPC_METHOD "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"

static struct otlp_transport *signal_transport(const struct otlp_signal_options *o,
					       const char *grpc_method,
					       const _Atomic uint64_t *abort_at)
{
	enum otlp_wire wire = o->grpc	? OTLP_WIRE_GRPC
			      : o->json ? OTLP_WIRE_JSON
					: OTLP_WIRE_PROTOBUF;

	struct otlp_tls tls = {o->certificate, o->client_certificate, o->client_key,
			       o->skip_verify};

	return otlp_transport_new(o->url, o->headers, o->compression == OTLP_COMPRESS_GZIP, wire,
				  grpc_method, &tls, abort_at);
}

/* A gRPC call answered over HTTP 200 but failed: its status is in r->error. */
static bool grpc_failed(const struct otlp_response *r)
{
	return r->status == 200 && r->error[0];
}

/* Logs a permanent rejection: the first of each status at warn with the body, later at debug. */
static void log_rejected(struct otlp_exporter *ex, const char *what, const char *url,
			 const struct otlp_response *r)
{
	char body[600];
	bool first =
	    r->status > 0 && r->status < STATUS_LOGGED_MAX && !ex->status_logged[r->status];

	describe_body(r, body, sizeof(body));
	if (r->status > 0 && r->status < STATUS_LOGGED_MAX)
		ex->status_logged[r->status] = true;
	if (r->status && !grpc_failed(r))
		log_msg(first ? LOG_WARN : LOG_DEBUG,
			"otlp: %s rejected by %s: HTTP %ld, not retried: %s%s", what, url,
			r->status, body[0] ? body : "(empty body)",
			first ? " (further rejections with this status are logged at debug level)"
			      : "");
	else
		log_warn("otlp: %s to %s failed for good: %s", what, url, r->error);
}

static uint64_t backoff_ns(struct otlp_exporter *ex, struct retry *rt, int64_t retry_after_ms)
{
	uint64_t d = BACKOFF_FIRST_NS << (rt->attempt < 6 ? rt->attempt : 6);

	if (retry_after_ms >= 0) {
		d = (uint64_t)retry_after_ms * NS_PER_MS;
		return d < RETRY_AFTER_MAX_NS ? d : RETRY_AFTER_MAX_NS;
	}
	if (d > BACKOFF_MAX_NS)
		d = BACKOFF_MAX_NS;
	/* full delay halved, plus a random part of the other half */
	return d / 2 + (uint64_t)((double)rand_r(&ex->seed) / RAND_MAX * (double)(d / 2));
}

/* What went wrong with one attempt, for a log line. */
static const char *failure_text(const struct otlp_response *r, char *buf, size_t size)
{
	if (r->status && !grpc_failed(r))
		snprintf(buf, size, "HTTP %ld", r->status);
	else
		snprintf(buf, size, "%s", r->error);
	return buf;
}

static void log_failure(struct otlp_exporter *ex, struct retry *rt, const char *what,
			const char *url, const struct otlp_response *r, uint64_t wait_ns)
{
	char why[300];

	if (atomic_load(&ex->abort_at))
		return; /* exiting: the flush reports what is left */
	failure_text(r, why, sizeof(why));
	log_msg(rt->failing ? LOG_DEBUG : LOG_WARN,
		"otlp: export %s to %s failed: %s; retrying in %.1f s%s", what, url, why,
		(double)wait_ns / 1e9, rt->failing ? "" : " (until it works again: debug level)");
	rt->failing = true;
}

static void log_recovered(struct retry *rt, const char *what, const char *url)
{
	if (rt->failing)
		log_info("otlp: export %s to %s works again", what, url);
	rt->failing = false;
	rt->attempt = 0;
	rt->at = 0;
}

/* After a failed attempt: when to try again, or 0 to give up (deadline: 0 = none). */
static uint64_t next_attempt(struct otlp_exporter *ex, struct retry *rt,
			     const struct otlp_response *r, uint64_t now, uint64_t deadline)
{
	uint64_t wait = backoff_ns(ex, rt, r->retry_after_ms);

	if (!rt->attempt)
		rt->first_fail = now;
	rt->attempt++;
	if (now - rt->first_fail >= GIVE_UP_NS || (deadline && now + wait >= deadline))
		return 0;
	return now + wait;
}

/* POSTs body (protobuf; rewritten as OTLP/JSON when json) through t. True when the receiver
 * accepted it with a partial success worth logging (*rejected, msg). */
static bool post(struct otlp_transport *t, bool json, enum otlp_json_kind kind, const uint8_t *body,
		 size_t len, uint64_t timeout_ms, struct otlp_response *resp, int64_t *rejected,
		 char *msg, size_t size)
{
	char *js = NULL;
	size_t jlen;
	int err;

	if (json) {
		err = otlp_json_request(kind, body, len, &js, &jlen);
		if (err) {
			otlp_response_init(resp);
			resp->err = err;
			snprintf(resp->error, sizeof(resp->error), "json: %s", strerror(-err));
			return false;
		}
		body = (const uint8_t *)js;
		len = jlen;
	}
	otlp_transport_post(t, body, len, timeout_ms, resp);
	free(js);
	if (otlp_transport_outcome(resp) != OTLP_SENT || !resp->body_len)
		return false;
	err = json ? otlp_json_decode_response(resp->body, resp->body_len, rejected, msg, size)
		   : otlp_decode_response(resp->body, resp->body_len, rejected, msg, size);
	return !err && (*rejected || msg[0]);
}

/* POSTs the n spans at the head of the queue. Called without mu. */
static enum otlp_outcome send_spans(struct otlp_exporter *ex, uint32_t head, uint32_t n,
				    uint64_t timeout_ms, struct otlp_response *resp,
				    int64_t *rejected)
{
	const uint8_t *body;
	size_t len;
	char msg[256];
	uint32_t i;

	*rejected = 0;
	memset(resp, 0, sizeof(*resp));
	for (i = 0; i < n; i++) {
		const struct qspan *q = &ex->queue[(head + i) % ex->cap];

		ex->refs[i] = (struct otlp_span_ref){&q->span, q->res};
	}
	if (otlp_encode_traces(ex->enc, ex->refs, n, &body, &len)) {
		resp->err = -ENOMEM;
		snprintf(resp->error, sizeof(resp->error), "encode: out of memory");
		return OTLP_REJECTED;
	}
	if (post(ex->traces_http, ex->traces_json, OTLP_JSON_TRACES, body, len, timeout_ms, resp,
		 rejected, msg, sizeof(msg)))
		log_warn("otlp: %s accepted spans partially: %lld of %u rejected: %s",
			 ex->traces_url, (long long)*rejected, n, msg[0] ? msg : "(no message)");
	if (*rejected < 0 || *rejected > n)
		*rejected = *rejected < 0 ? 0 : n;
	return otlp_transport_outcome(resp);
}

/* Releases the n spans at the head of the queue. Under mu. */
static void pop_spans(struct otlp_exporter *ex, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		struct qspan *q = &ex->queue[(ex->head + i) % ex->cap];

		otlp_resource_put(q->res);
		q->res = NULL;
	}
	ex->head = (ex->head + n) % ex->cap;
	ex->len -= n;
}

/*
 * One attempt at the batch at the head of the queue. Called and returns with mu held.
 * deadline: no retry is scheduled past it (0: none). Returns true when the batch is done with
 * (sent, rejected or given up), false when it waits for a retry.
 */
static bool export_batch(struct otlp_exporter *ex, struct retry *rt, uint64_t deadline)
{
	uint32_t n = ex->len < ex->batch ? ex->len : ex->batch, head = ex->head;
	uint64_t timeout_ms = ex->traces_timeout_ms, now;
	struct otlp_response resp;
	enum otlp_outcome out;
	int64_t rejected;
	char why[300];

	if (deadline) {
		now = mono_ns();
		if (now >= deadline)
			return false;
		if ((deadline - now) / NS_PER_MS < timeout_ms)
			timeout_ms = (deadline - now) / NS_PER_MS + 1;
	}
	ex->st.span_requests++;
	pthread_mutex_unlock(&ex->mu);
	out = send_spans(ex, head, n, timeout_ms, &resp, &rejected);
	now = mono_ns();
	if (out == OTLP_SENT)
		log_recovered(rt, "spans", ex->traces_url);
	else if (out == OTLP_REJECTED)
		log_rejected(ex, "spans", ex->traces_url, &resp);
	else if ((rt->at = next_attempt(ex, rt, &resp, now, deadline)))
		log_failure(ex, rt, "spans", ex->traces_url, &resp, rt->at - now);
	else if (!atomic_load(&ex->abort_at))
		log_warn("otlp: giving up on %u spans after %u attempts in %.0f s: %s", n,
			 rt->attempt, (double)(now - rt->first_fail) / 1e9,
			 failure_text(&resp, why, sizeof(why)));
	else
		log_warn("otlp: %u spans not exported at exit: %s", n,
			 failure_text(&resp, why, sizeof(why)));
	otlp_response_free(&resp);
	pthread_mutex_lock(&ex->mu);
	if (out == OTLP_RETRY && rt->at)
		return false;
	if (out == OTLP_SENT) {
		ex->st.spans_exported += n - (uint64_t)rejected;
		ex->st.spans_failed += (uint64_t)rejected;
	} else {
		ex->st.spans_failed += n;
	}
	rt->attempt = 0;
	rt->at = 0;
	pop_spans(ex, n);
	return true;
}

/* Snapshot (under mu), encode and POST the metrics; returns with mu held. */
static enum otlp_outcome export_metrics(struct otlp_exporter *ex, uint64_t timeout_ms,
					struct otlp_response *resp)
{
	struct otlp_series *snap = NULL;
	const uint8_t *body;
	size_t n = 0, len = 0;
	int64_t rejected;
	char msg[256];
	int err;

	memset(resp, 0, sizeof(*resp));
	err = otlp_metrics_snapshot(ex->metrics, &snap, &n);
	pthread_mutex_unlock(&ex->mu);
	if (!err && n)
		err = otlp_encode_metrics(ex->enc, snap, n, unix_ns(), &body, &len);
	if (!err && n) {
		if (post(ex->metrics_http, ex->metrics_json, OTLP_JSON_METRICS, body, len,
			 timeout_ms, resp, &rejected, msg, sizeof(msg)))
			log_warn(
			    "otlp: %s accepted metrics partially: %lld data points rejected: %s",
			    ex->metrics_url, (long long)rejected, msg[0] ? msg : "(no message)");
	}
	pthread_mutex_lock(&ex->mu);
	otlp_metrics_snapshot_free(snap, n);
	if (err) {
		resp->err = -ENOMEM;
		snprintf(resp->error, sizeof(resp->error), "encode metrics: out of memory");
		return OTLP_REJECTED;
	}
	return n ? otlp_transport_outcome(resp) : OTLP_SENT;
}

/* One metrics attempt and its bookkeeping. Called and returns with mu held. */
static void metrics_round(struct otlp_exporter *ex, struct retry *rt, uint64_t deadline)
{
	char why[300];
	struct otlp_response resp;
	enum otlp_outcome out;
	uint64_t now;

	if (!otlp_metrics_series(ex->metrics)) {
		rt->at = 0;
		return;
	}
	out = export_metrics(ex, ex->metrics_timeout_ms, &resp);
	if (out == OTLP_SENT)
		ex->st.metric_exports++;
	else
		ex->st.metric_failures++;
	/* no logging under the lock: stderr may block, the event loop must not */
	pthread_mutex_unlock(&ex->mu);
	now = mono_ns();
	if (out == OTLP_SENT) {
		log_recovered(rt, "metrics", ex->metrics_url);
	} else {
		if (out == OTLP_REJECTED)
			log_rejected(ex, "metrics", ex->metrics_url, &resp);
		/* cumulative values: the next interval's export carries everything anyway */
		else if ((rt->at = next_attempt(ex, rt, &resp, now, deadline)))
			log_failure(ex, rt, "metrics", ex->metrics_url, &resp, rt->at - now);
		else if (atomic_load(&ex->abort_at))
			log_warn("otlp: metrics not exported at exit: %s",
				 failure_text(&resp, why, sizeof(why)));
	}
	if (out != OTLP_RETRY || !rt->at) {
		rt->at = 0;
		rt->attempt = 0;
	}
	otlp_response_free(&resp);
	pthread_mutex_lock(&ex->mu);
}

/* --- the thread ------------------------------------------------------------------------------- */

/* The summary line. Called with mu held; logs without it. */
static void log_stats(struct otlp_exporter *ex, enum log_level level)
{
	struct otlp_exporter_stats st = ex->st;
	uint32_t len = ex->len;
	size_t series = ex->metrics ? otlp_metrics_series(ex->metrics) : 0;
	uint64_t series_dropped = ex->metrics ? otlp_metrics_dropped(ex->metrics) : 0;

	pthread_mutex_unlock(&ex->mu);
	log_msg(level,
		"otlp summary: spans_exported=%llu spans_dropped=%llu spans_failed=%llu "
		"spans_sampled_out=%llu spans_queued=%u/%u span_requests=%llu metric_exports=%llu "
		"metric_failures=%llu series=%zu series_dropped=%llu series_expired=%llu",
		(unsigned long long)st.spans_exported, (unsigned long long)st.spans_dropped,
		(unsigned long long)st.spans_failed, (unsigned long long)st.spans_sampled_out, len,
		ex->cap, (unsigned long long)st.span_requests,
		(unsigned long long)st.metric_exports, (unsigned long long)st.metric_failures,
		series, (unsigned long long)series_dropped, (unsigned long long)st.series_expired);
	pthread_mutex_lock(&ex->mu);
}

static void wait_until(struct otlp_exporter *ex, uint64_t when)
{
	struct timespec ts = {.tv_sec = (time_t)(when / NS_PER_S),
			      .tv_nsec = (long)(when % NS_PER_S)};

	pthread_cond_timedwait(&ex->cond, &ex->mu, &ts);
}

static uint64_t min_nonzero(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/* What is held at exit, for at most the export timeout (abort_at). Under mu. */
static void flush(struct otlp_exporter *ex)
{
	uint64_t deadline = atomic_load(&ex->abort_at);
	struct retry rt = {0};

	while (ex->traces_on && ex->len && mono_ns() < deadline) {
		if (rt.at && mono_ns() < rt.at) {
			wait_until(ex, rt.at);
			continue;
		}
		if (!export_batch(ex, &rt, deadline) && !rt.at)
			break;
	}
	if (ex->len) {
		log_warn("otlp: %u spans not exported at exit (timeout)", ex->len);
		ex->st.spans_failed += ex->len;
		pop_spans(ex, ex->len);
	}
	rt = (struct retry){0};
	if (ex->metrics_on && mono_ns() < deadline)
		metrics_round(ex, &rt, deadline);
}

static void *exporter_main(void *arg)
{
	struct otlp_exporter *ex = arg;
	struct retry trt = {0}, mrt = {0};
	uint64_t now = mono_ns();
	uint64_t next_traces = now + ex->delay_ns, next_metrics = now + ex->interval_ns;
	uint64_t next_summary = now + SUMMARY_NS, next_reap = now + REAP_NS;
	/* exported metrics expire after each export; pulled-only ones on a timer of their own */
	uint64_t next_expire = ex->metrics && !ex->metrics_on ? now + EXPIRE_NS : 0;

	pthread_mutex_lock(&ex->mu);
	while (!ex->stopping) {
		now = mono_ns();
		if (ex->traces_on && !ex->len && now >= next_traces)
			next_traces = now + ex->delay_ns;
		if (ex->traces_on && ex->len &&
		    (trt.at ? now >= trt.at : ex->len >= ex->batch || now >= next_traces)) {
			export_batch(ex, &trt, 0);
			continue;
		}
		if (ex->metrics_on && now >= (mrt.at ? mrt.at : next_metrics)) {
			if (!mrt.at)
				next_metrics = now + ex->interval_ns;
			metrics_round(ex, &mrt, next_metrics);
			ex->st.series_expired +=
			    otlp_metrics_expire(ex->metrics, mono_ns(), ex->ttl_ns);
			continue;
		}
		if (next_expire && now >= next_expire) {
			ex->st.series_expired += otlp_metrics_expire(ex->metrics, now, ex->ttl_ns);
			next_expire = now + EXPIRE_NS;
		}
		if (now >= next_reap) {
			resources_reap(ex, now);
			next_reap = now + REAP_NS;
		}
		if (now >= next_summary) {
			log_stats(ex, LOG_DEBUG);
			next_summary = now + SUMMARY_NS;
		}
		wait_until(
		    ex, min_nonzero(
			    min_nonzero(min_nonzero(ex->traces_on ? (trt.at ?: next_traces) : 0,
						    ex->metrics_on ? (mrt.at ?: next_metrics) : 0),
					next_expire),
			    next_reap < next_summary ? next_reap : next_summary));
	}
	flush(ex);
	pthread_mutex_unlock(&ex->mu);
	return NULL;
}

/* --- life cycle ------------------------------------------------------------------------------- */

static void exporter_free(struct otlp_exporter *ex)
{
	struct res_entry *e, *next;
	size_t b;

	if (ex->queue)
		pop_spans(ex, ex->len);
	for (b = 0; b < RES_BUCKETS; b++) {
		for (e = ex->res[b]; e; e = next) {
			next = e->next;
			otlp_resource_put(e->res);
			free(e);
		}
	}
	otlp_metrics_free(ex->metrics);
	otlp_transport_free(ex->traces_http);
	otlp_transport_free(ex->metrics_http);
	otlp_encoder_free(ex->enc);
	free(ex->refs);
	free(ex->queue);
	free(ex->resource_attributes);
	pthread_cond_destroy(&ex->cond);
	pthread_mutex_destroy(&ex->mu);
	free(ex);
}

static int init_sync(struct otlp_exporter *ex)
{
	pthread_condattr_t ca;
	int err;

	err = pthread_mutex_init(&ex->mu, NULL);
	if (err)
		return -err;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	err = pthread_cond_init(&ex->cond, &ca);
	pthread_condattr_destroy(&ca);
	return -err;
}

static bool has_url(const struct otlp_signal_options *sig)
{
	return sig->url && sig->url[0];
}

int otlp_exporter_new(const struct otlp_options *opts, struct otlp_exporter **out)
{
	struct otlp_exporter *ex = calloc(1, sizeof(*ex));
	int err;

	*out = NULL;
	if (!ex)
		return -ENOMEM;
	err = init_sync(ex);
	if (err) {
		free(ex);
		return err;
	}
	ex->traces_on = has_url(&opts->traces);
	ex->metrics_on = has_url(&opts->metrics);
	ex->metrics_pull = opts->metrics_pull;
	ex->cap = ex->st.queue_cap = opts->max_queue_size;
	ex->batch = opts->max_export_batch_size;
	ex->delay_ns = opts->schedule_delay_ms * NS_PER_MS;
	ex->interval_ns = opts->metric_interval_ms * NS_PER_MS;
	ex->ttl_ns = opts->metrics_ttl_ms * NS_PER_MS;
	ex->traces_timeout_ms = opts->traces.timeout_ms;
	ex->metrics_timeout_ms = opts->metrics.timeout_ms;
	ex->sampler = opts->sampler;
	ex->ratio = opts->sampler_ratio;
	ex->seed = (unsigned)mono_ns();
	snprintf(ex->traces_url, sizeof(ex->traces_url), "%s",
		 ex->traces_on ? opts->traces.url : "");
	snprintf(ex->metrics_url, sizeof(ex->metrics_url), "%s",
		 ex->metrics_on ? opts->metrics.url : "");
	ex->enc = otlp_encoder_new(opts->resource_attributes, NULL);
	ex->resource_attributes =
	    strdup(opts->resource_attributes ? opts->resource_attributes : "");
	err = ex->enc && ex->resource_attributes ? 0 : -ENOMEM;
	if (!err && ex->traces_on) {
		ex->queue = calloc(ex->cap, sizeof(*ex->queue));
		ex->refs = calloc(ex->batch, sizeof(*ex->refs));
		ex->traces_http =
		    signal_transport(&opts->traces, TRACES_GRPC_METHOD, &ex->abort_at);
		ex->traces_json = opts->traces.json && !opts->traces.grpc;
		err = ex->queue && ex->refs && ex->traces_http ? 0 : -ENOMEM;
	}
	if (!err && ex->metrics_on) {
		ex->metrics_http =
		    signal_transport(&opts->metrics, METRICS_GRPC_METHOD, &ex->abort_at);
		ex->metrics_json = opts->metrics.json && !opts->metrics.grpc;
		err = ex->metrics_http ? 0 : -ENOMEM;
	}
	if (!err && (ex->metrics_on || ex->metrics_pull)) {
		ex->metrics = otlp_metrics_new(OTLP_METRICS_MAX_SERIES);
		err = ex->metrics ? 0 : -ENOMEM;
	}
	if (err) {
		exporter_free(ex);
		return err;
	}
	*out = ex;
	return 0;
}

int otlp_exporter_start(struct otlp_exporter *ex)
{
	sigset_t all, old;
	int err;

	/* signals go to the event loop's thread, never to this one */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&ex->thread, NULL, exporter_main, ex);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	ex->started = true;
	return 0;
}

int otlp_exporter_open(const struct otlp_options *opts, struct otlp_exporter **out)
{
	int err;

	*out = NULL;
	if (!has_url(&opts->traces) && !has_url(&opts->metrics) && !opts->metrics_pull)
		return 0;
	err = otlp_exporter_new(opts, out);
	if (!err)
		err = otlp_exporter_start(*out);
	if (err) {
		log_error("otlp: start the exporter: %s", strerror(-err));
		if (*out)
			exporter_free(*out);
		*out = NULL;
		return err;
	}
	if (!(*out)->traces_on && !(*out)->metrics_on) {
		log_info("otlp: no OTLP endpoint: metrics recorded for the scrape endpoint only");
		return 0;
	}
	log_info("otlp: exporting%s%s%s%s (batches of %u every %llu ms, metrics every %llu ms)",
		 (*out)->traces_on ? " spans to " : "", (*out)->traces_url,
		 (*out)->metrics_on ? " metrics to " : "", (*out)->metrics_url,
		 opts->max_export_batch_size, (unsigned long long)opts->schedule_delay_ms,
		 (unsigned long long)opts->metric_interval_ms);
	return 0;
}

void otlp_exporter_stop(struct otlp_exporter *ex)
{
	uint64_t timeout_ms;

	if (!ex)
		return;
	timeout_ms = ex->traces_timeout_ms > ex->metrics_timeout_ms ? ex->traces_timeout_ms
								    : ex->metrics_timeout_ms;
	pthread_mutex_lock(&ex->mu);
	ex->stopping = true;
	atomic_store(&ex->abort_at, mono_ns() + timeout_ms * NS_PER_MS);
	pthread_cond_signal(&ex->cond);
	pthread_mutex_unlock(&ex->mu);
	if (ex->started)
		pthread_join(ex->thread, NULL);
	pthread_mutex_lock(&ex->mu);
	log_stats(ex, LOG_INFO);
	pthread_mutex_unlock(&ex->mu);
	exporter_free(ex);
}
