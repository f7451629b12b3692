// SPDX-License-Identifier: Apache-2.0
/*
 * OTLP POSTs through libcurl's multi interface: headers, gzip, timeouts, cancellation at exit,
 * and their outcome. One easy handle per transport, reused so that libcurl keeps the
 * connection; its multi handle is driven here, on the exporter's thread, waking at least every
 * POLL_MS to look at abort_at. The answer goes into the caller's struct otlp_response
 * (response.h).
 */
#define _GNU_SOURCE /* strcasecmp */
#include "transport.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

#include "core/log.h"
#include "core/parse.h"

#define NS_PER_MS  1000000ULL
#define POLL_MS	   100		/* longest wait before abort_at is looked at again */
#define STALL_MS   5		/* a stalled transfer's wait for input (see run) */
#define GZIP_LEVEL Z_BEST_SPEED /* a third of level 6's CPU for 17 % more bytes */

struct otlp_transport {
	CURLM *multi; /* holds the connection cache between exports */
	CURL *easy;
	curl_socket_t socks[4]; /* what libcurl watches now (CURLMOPT_SOCKETFUNCTION) */
	struct curl_slist *headers;
	char *url;
	bool gzip;
	enum otlp_wire wire;
	uint8_t *frame; /* gRPC: the 5-byte prefix and the message */
	size_t frame_cap;
	const _Atomic uint64_t *abort_at;
	char errbuf[CURL_ERROR_SIZE];
	struct otlp_response *resp; /* the transfer in progress */
	/* gzip, reused from body to body */
	z_stream z;
	bool z_ready;
	uint8_t *zbuf;
	size_t zcap;
};

/* libcurl telling which sockets it watches: kept for wait_input. */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *user, void *sockp)
{
	struct otlp_transport *t = user;
	size_t n = sizeof(t->socks) / sizeof(t->socks[0]), i, free_at = n;

	(void)e, (void)sockp;
	for (i = 0; i < n; i++) {
		if (t->socks[i] == fd) {
			if (what == CURL_POLL_REMOVE)
				t->socks[i] = CURL_SOCKET_BAD;
			return 0;
		}
		if (t->socks[i] == CURL_SOCKET_BAD && free_at == n)
			free_at = i;
	}
	if (what != CURL_POLL_REMOVE && free_at < n)
		t->socks[free_at] = fd;
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* --- outcome ---------------------------------------------------------------------------------- */

/* gRPC status codes (grpc/doc/statuscodes.md) */
enum {
	GRPC_OK = 0,
	GRPC_CANCELLED = 1,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_ABORTED = 10,
	GRPC_OUT_OF_RANGE = 11,
	GRPC_UNAVAILABLE = 14,
	GRPC_DATA_LOSS = 15,
};

static enum otlp_outcome grpc_outcome(const struct otlp_response *r)
{
	switch (r->grpc_status) {
	case GRPC_OK:
		return OTLP_SENT;
	case GRPC_CANCELLED:
	case GRPC_DEADLINE_EXCEEDED:
	case GRPC_ABORTED:
	case GRPC_OUT_OF_RANGE:
	case GRPC_UNAVAILABLE:
	case GRPC_DATA_LOSS:
		return OTLP_RETRY;
	case GRPC_RESOURCE_EXHAUSTED:
		return r->grpc_retry_ms >= 0 ? OTLP_RETRY : OTLP_REJECTED;
	}
	return OTLP_REJECTED;
}

enum otlp_outcome otlp_transport_outcome(const struct otlp_response *r)
{
	if (r->err)
		return r->err == -EINVAL || r->err == -EPROTONOSUPPORT ? OTLP_REJECTED : OTLP_RETRY;
	/* a gRPC answer over HTTP 200 carries its own status */
	if (r->status == 200 && r->grpc_status >= 0)
		return grpc_outcome(r);
	if (r->status >= 200 && r->status < 300)
		return OTLP_SENT;
	switch (r->status) {
	case 429:
	case 502:
	case 503:
	case 504:
		return OTLP_RETRY;
	}
	return OTLP_REJECTED;
}

/* --- gzip ------------------------------------------------------------------------------------- */

/* gzip (RFC 1952) of in into t->zbuf, with the deflate state of the previous body reset. */
static int gzip_body(struct otlp_transport *t, const uint8_t *in, size_t len, size_t *out_len)
{
	uLong bound;
	int ret;

	if (!t->z_ready) {
		/* 15 + 16: gzip wrapper instead of zlib's */
		if (deflateInit2(&t->z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
		    Z_OK)
			return -ENOMEM;
		t->z_ready = true;
	} else if (deflateReset(&t->z) != Z_OK) {
		return -ENOMEM;
	}
	bound = deflateBound(&t->z, (uLong)len);
	if (bound > t->zcap) {
		uint8_t *grown = realloc(t->zbuf, bound);

		if (!grown)
			return -ENOMEM;
		t->zbuf = grown;
		t->zcap = bound;
	}
	t->z.next_in = (Bytef *)in;
	t->z.avail_in = (uInt)len;
	t->z.next_out = t->zbuf;
	t->z.avail_out = (uInt)bound;
	ret = deflate(&t->z, Z_FINISH);
	*out_len = t->z.total_out;
	return ret == Z_STREAM_END ? 0 : -ENOMEM;
}

/* --- set-up ----------------------------------------------------------------------------------- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct header_list {
	struct curl_slist *list;
	bool user_agent; /* set by the configuration */
	int err;
};

static int add_line(struct header_list *hl, const char *name, const char *value)
{
	size_t size = strlen(name) + strlen(value) + 3;
	struct curl_slist *grown;
	char *line = malloc(size);

	if (!line)
		return -ENOMEM;
	/* "Name;" is how libcurl sends a header with an empty value ("Name:" would remove it) */
	if (value[0])
		snprintf(line, size, "%s: %s", name, value);
	else
		snprintf(line, size, "%s;", name);
	grown = curl_slist_append(hl->list, line);
	free(line);
	if (!grown)
		return -ENOMEM;
	hl->list = grown;
	return 0;
}

static int add_header(const char *key, const char *value, void *ctx)
{
	struct header_list *hl = ctx;

	/* obi sets these itself; a second copy would confuse the receiver */
	if (!strcasecmp(key, "content-type") || !strcasecmp(key, "content-encoding") ||
	    !strcasecmp(key, "content-length") || !strcasecmp(key, "transfer-encoding")) {
		log_warn("otlp: ignoring header %s from the configuration (obi sets it)", key);
		return 0;
	}
	hl->user_agent |= !strcasecmp(key, "user-agent");
	return add_line(hl, key, value);
}

static int header_list(const char *headers, bool gzip, enum otlp_wire wire, struct curl_slist **out)
{
	static const char *const type[] = {"application/x-protobuf", "application/json",
					   "application/grpc"};
	struct header_list hl = {0};
	int err;

	err = add_line(&hl, "Content-Type", type[wire]);
	/* no "Expect: 100-continue" round trip before larger bodies */
	if (!err)
		err = (hl.list = curl_slist_append(hl.list, "Expect:")) ? 0 : -ENOMEM;
	/* gRPC: trailers asked for (they carry grpc-status); a compressed message says so in its
	 * prefix and in grpc-encoding, HTTP's content coding is not used */
	if (!err && wire == OTLP_WIRE_GRPC)
		err = add_line(&hl, "TE", "trailers");
	if (!err && gzip)
		err = add_line(&hl, wire == OTLP_WIRE_GRPC ? "grpc-encoding" : "Content-Encoding",
			       "gzip");
	if (!err)
		err = parse_kv_list(headers ? headers : "", add_header, &hl, NULL, 0);
	if (!err && !hl.user_agent)
		err = add_line(&hl, "User-Agent", "obi/" OBI_VERSION);
	if (err) {
		curl_slist_free_all(hl.list);
		return err;
	}
	*out = hl.list;
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct otlp_transport *t = ctx;

	otlp_response_body(t->resp, data, size * nmemb);
	return size * nmemb;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ctx)
{
	struct otlp_transport *t = ctx;

	otlp_response_header(t->resp, line, size * nmemb);
	return size * nmemb;
}

static void set_options(struct otlp_transport *t)
{
	CURL *e = t->easy;

	curl_easy_setopt(e, CURLOPT_URL, t->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
	/* no signals from a resolver timeout: the threaded resolver needs none */
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	/* a transfer that times out while its name is still being looked up leaves the lookup's
	 * thread to finish alone: without this, libcurl joins it, and a hanging DNS server held
	 * the exporter (and obi's exit) for the resolver's own timeout, not the export's */
	curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	/* a new connection per gRPC call: with libcurl 7.88 the second call on a kept HTTP/2
	 * connection fails ("Error in the HTTP2 framing layer") against grpcio */
	if (t->wire == OTLP_WIRE_GRPC)
		curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	if (t->wire == OTLP_WIRE_GRPC)
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
				 strncasecmp(t->url, "https://", 8)
				     ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
				     : CURL_HTTP_VERSION_2TLS);
}

/* gRPC's url: scheme://host:port of url, then the method's path. */
static char *grpc_url(const char *url, const char *method)
{
	const char *host = strstr(url, "://");
	size_t n = host ? (size_t)(host + 3 - url) + strcspn(host + 3, "/?#") : strlen(url);
	size_t size = n + strlen(method) + 1;
	char *out = malloc(size);

	if (out)
		snprintf(out, size, "%.*s%s", (int)n, url, method);
	return out;
}

struct otlp_transport *otlp_transport_new(const char *url, const char *headers, bool gzip,
					  enum otlp_wire wire, const char *grpc_method,
					  const struct otlp_tls *tls, const _Atomic uint64_t *abort_at)
{
	struct otlp_transport *t;

	pthread_once(&global_once, global_init);
	if (global_rc) {
		log_error("otlp: initialize libcurl failed: %s", curl_easy_strerror(global_rc));
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->gzip = gzip;
	t->abort_at = abort_at;
	t->wire = wire;
	t->url =
	    wire == OTLP_WIRE_GRPC ? grpc_url(url, grpc_method ? grpc_method : "") : strdup(url);
	t->multi = curl_multi_init();
	t->easy = curl_easy_init();
	for (size_t i = 0; i < sizeof(t->socks) / sizeof(t->socks[0]); i++)
		t->socks[i] = CURL_SOCKET_BAD;
	if (t->multi) {
		curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
		curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t);
	}
	if (!t->url || !t->multi || !t->easy || header_list(headers, gzip, wire, &t->headers)) {
		otlp_transport_free(t);
		return NULL;
	}
	set_options(t);
	/* libcurl copies these strings */
	if (tls && tls->certificate && tls->certificate[0])
		curl_easy_setopt(t->easy, CURLOPT_CAINFO, tls->certificate);
	if (tls && tls->client_certificate && tls->client_certificate[0])
		curl_easy_setopt(t->easy, CURLOPT_SSLCERT, tls->client_certificate);
	if (tls && tls->client_key && tls->client_key[0])
		curl_easy_setopt(t->easy, CURLOPT_SSLKEY, tls->client_key);
	if (tls && tls->skip_verify) {
		curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return t;
}

void otlp_transport_free(struct otlp_transport *t)
{
	if (!t)
		return;
	if (t->easy)
		curl_easy_cleanup(t->easy);
	if (t->multi)
		curl_multi_cleanup(t->multi);
	curl_slist_free_all(t->headers);
	if (t->z_ready)
		deflateEnd(&t->z);
	free(t->zbuf);
	free(t->frame);
	free(t->url);
	free(t);
}

/* --- one transfer ----------------------------------------------------------------------------- */

/* A curl error as an errno, as otlp_transport_outcome reads it. */
static int curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_URL_MALFORMAT:
		return -EINVAL;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_NOT_BUILT_IN:
		return -EPROTONOSUPPORT;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_WEIRD_SERVER_REPLY:
		return -EPROTO;
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return -ENODATA;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO; /* reset, TLS handshake ... */
	}
}

/* Bytes moved so far by the transfer, both ways: progress when it changes. */
static curl_off_t moved(CURL *e)
{
	curl_off_t up = 0, down = 0;

	curl_easy_getinfo(e, CURLINFO_SIZE_UPLOAD_T, &up);
	curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &down);
	return up + down;
}

/*
 * Waits until one of the transfer's sockets can be read, at most STALL_MS. libcurl 7.88 keeps
 * asking to write an HTTP/2 stream whose flow-control window is used up, so curl_multi_poll
 * returns at once for the writable socket and the thread spins (bench/ scenario 9 measured
 * a million polls and 57 µs of CPU per span for gRPC against a receiver that keeps the default
 * 64 KiB window) until the peer's WINDOW_UPDATE arrives: input, which is what this waits for.
 * Any other stall costs at most STALL_MS before libcurl is asked again.
 */
static void wait_input(struct otlp_transport *t)
{
	struct pollfd p[sizeof(t->socks) / sizeof(t->socks[0])];
	nfds_t n = 0;

	for (size_t i = 0; i < sizeof(t->socks) / sizeof(t->socks[0]); i++)
		if (t->socks[i] != CURL_SOCKET_BAD)
			p[n++] = (struct pollfd){.fd = t->socks[i], .events = POLLIN};
	poll(p, n, STALL_MS);
}

/* Drives the multi handle until the transfer ends; CURLE_ABORTED_BY_CALLBACK when abort_at
 * passed first. */
static CURLcode run(struct otlp_transport *t)
{
	CURLcode rc = CURLE_OK;
	CURLMsg *msg;
	int running = 1, left, ready = 0, idle = 0;
	curl_off_t last = -1;

	if (curl_multi_add_handle(t->multi, t->easy))
		return CURLE_OUT_OF_MEMORY;
	while (running) {
		uint64_t abort_at = t->abort_at ? atomic_load(t->abort_at) : 0;
		curl_off_t now;

		if (abort_at && mono_ns() >= abort_at) {
			rc = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		if (curl_multi_perform(t->multi, &running) != CURLM_OK) {
			rc = CURLE_OUT_OF_MEMORY;
			break;
		}
		while ((msg = curl_multi_info_read(t->multi, &left)))
			if (msg->msg == CURLMSG_DONE)
				rc = msg->data.result;
		if (!running)
			break;
		/* woken by a ready socket, and libcurl moved nothing: twice in a row is a spin */
		now = moved(t->easy);
		idle = ready && now == last ? idle + 1 : 0;
		last = now;
		if (idle >= 2) {
			wait_input(t);
			ready = 1;
			continue;
		}
		if (curl_multi_poll(t->multi, NULL, 0, POLL_MS, &ready) != CURLM_OK) {
			rc = CURLE_OUT_OF_MEMORY;
			break;
		}
	}
	curl_multi_remove_handle(t->multi, t->easy);
	return rc;
}

static bool connected(struct otlp_transport *t)
{
	char *ip = NULL;

	return !curl_easy_getinfo(t->easy, CURLINFO_PRIMARY_IP, &ip) && ip && ip[0];
}

static void transfer(struct otlp_transport *t, const uint8_t *body, size_t len, uint64_t timeout_ms,
		     struct otlp_response *resp)
{
	CURLcode rc;

	t->resp = resp;
	t->errbuf[0] = '\0';
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, (const char *)body);
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	/* the whole transfer, name resolution and connection included */
	curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	rc = run(t);
	t->resp = NULL;
	if (rc == CURLE_OK) {
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &resp->status);
		return;
	}
	resp->status = 0;
	resp->err = rc == CURLE_ABORTED_BY_CALLBACK ? -ECANCELED : curl_errno(rc);
	/* after a connection, libcurl's "unsupported protocol" is an answer that is not HTTP/1.x
	 * (HTTP/0.9 is refused): the receiver's fault, not the url's */
	if (rc == CURLE_UNSUPPORTED_PROTOCOL && connected(t))
		resp->err = -EPROTO;
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		snprintf(resp->error, sizeof(resp->error), "cancelled at exit");
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		snprintf(resp->error, sizeof(resp->error), "timed out after %llu ms",
			 (unsigned long long)timeout_ms);
	else
		snprintf(resp->error, sizeof(resp->error), "%s",
			 t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
	otlp_response_free(resp);
}

/* gRPC's message framing: a compressed flag, the length (4 bytes, big endian), the message. */
static int grpc_frame(struct otlp_transport *t, const uint8_t *msg, size_t len)
{
	if (len > UINT32_MAX)
		return -E2BIG;
	if (len + 5 > t->frame_cap) {
		uint8_t *grown = realloc(t->frame, len + 5);

		if (!grown)
			return -ENOMEM;
		t->frame = grown;
		t->frame_cap = len + 5;
	}
	t->frame[0] = t->gzip;
	t->frame[1] = (uint8_t)(len >> 24);
	t->frame[2] = (uint8_t)(len >> 16);
	t->frame[3] = (uint8_t)(len >> 8);
	t->frame[4] = (uint8_t)len;
	memcpy(t->frame + 5, msg, len);
	return 0;
}

/* A gRPC answer: the response message without its prefix (a compressed one is not read), the
 * RetryInfo delay as the retry delay, and the status in error when not OK. */
static void grpc_answer(struct otlp_response *r)
{
	bool whole = r->body_len >= 5 && r->body && !r->body[0];

	if (whole) {
		memmove(r->body, r->body + 5, r->body_len - 5);
		r->body_len -= 5;
		r->body[r->body_len] = '\0';
	} else {
		r->body_len = 0;
	}
	r->protobuf = whole;
	if (r->grpc_retry_ms >= 0)
		r->retry_after_ms = r->grpc_retry_ms;
	if (r->status == 200 && r->grpc_status > 0)
		snprintf(r->error, sizeof(r->error), "grpc-status %d: %s", r->grpc_status,
			 r->grpc_message[0] ? r->grpc_message : "(no message)");
	else if (r->status == 200 && r->grpc_status < 0 && !r->err)
		snprintf(r->error, sizeof(r->error), "no grpc-status in the answer");
}

void otlp_transport_post(struct otlp_transport *t, const uint8_t *body, size_t len,
			 uint64_t timeout_ms, struct otlp_response *resp)
{
	size_t zlen;

	otlp_response_init(resp);
	if (t->gzip) {
		if (gzip_body(t, body, len, &zlen)) {
			resp->err = -ENOMEM;
			snprintf(resp->error, sizeof(resp->error), "gzip: out of memory");
			return;
		}
		body = t->zbuf;
		len = zlen;
	}
	if (t->wire == OTLP_WIRE_GRPC) {
		if (grpc_frame(t, body, len)) {
			resp->err = -ENOMEM;
			snprintf(resp->error, sizeof(resp->error), "grpc: out of memory");
			return;
		}
		body = t->frame;
		len += 5;
	}
	transfer(t, body, len, timeout_ms, resp);
	if (t->wire == OTLP_WIRE_GRPC)
		grpc_answer(resp);
}
