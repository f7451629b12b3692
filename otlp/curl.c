// SPDX-License-Identifier: Apache-2.0
/* OTLP/HTTP POSTs to https:// endpoints with libcurl, loaded at run time (dlopen). */
#include "curl.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

#define LIBCURL "libcurl.so.4"

/* The libcurl functions obi calls, resolved from LIBCURL. */
static struct {
	bool loaded;
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
	CURLcode (*easy_perform)(CURL *curl);
	CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *curl);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
	void (*slist_free_all)(struct curl_slist *list);
} api;

struct otlp_curl {
	CURL *curl; /* reused: keeps the connection alive between exports */
	struct curl_slist *headers;
	const _Atomic uint64_t *abort_at;
	char *url;
	char errbuf[CURL_ERROR_SIZE];
	struct otlp_response *resp; /* the transfer in progress */
};

/* dlopen + dlsym + curl_global_init, once. Returns 0 or -ENOENT. */
static int load_libcurl(void)
{
	void *lib;

	if (api.loaded)
		return 0;
	lib = dlopen(LIBCURL, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		log_error("otlp: https endpoints need %s (libcurl4): %s", LIBCURL, dlerror());
		return -ENOENT;
	}
#define SYM(field, name)                                                                           \
	do {                                                                                       \
		*(void **)&api.field = dlsym(lib, name);                                           \
		if (!api.field)                                                                    \
			goto missing;                                                              \
	} while (0)
	SYM(global_init, "curl_global_init");
	SYM(easy_init, "curl_easy_init");
	SYM(easy_setopt, "curl_easy_setopt");
	SYM(easy_perform, "curl_easy_perform");
	SYM(easy_getinfo, "curl_easy_getinfo");
	SYM(easy_cleanup, "curl_easy_cleanup");
	SYM(easy_strerror, "curl_easy_strerror");
	SYM(slist_append, "curl_slist_append");
	SYM(slist_free_all, "curl_slist_free_all");
#undef SYM
	if (api.global_init(CURL_GLOBAL_DEFAULT)) {
		log_error("otlp: initialize libcurl failed");
		goto fail;
	}
	api.loaded = true;
	return 0;
missing:
	log_error("otlp: %s lacks a function obi needs: %s", LIBCURL, dlerror());
fail:
	dlclose(lib);
	return -ENOENT;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct otlp_curl *c = ctx;

	otlp_response_body(c->resp, data, size * nmemb);
	return size * nmemb;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ctx)
{
	struct otlp_curl *c = ctx;

	otlp_response_header(c->resp, line, size * nmemb);
	return size * nmemb;
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct otlp_curl *c = ctx;
	uint64_t deadline = c->abort_at ? atomic_load(c->abort_at) : 0;

	return deadline && mono_ns() >= deadline;
}

int otlp_curl_new(const char *url, const char *const *headers, size_t n,
		  const _Atomic uint64_t *abort_at, struct otlp_curl **out)
{
	struct otlp_curl *c;
	size_t i;
	int err;

	*out = NULL;
	err = load_libcurl();
	if (err)
		return err;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->abort_at = abort_at;
	c->url = strdup(url);
	c->curl = api.easy_init();
	/* no "Expect: 100-continue" round trip before larger bodies */
	c->headers = api.slist_append(NULL, "Expect:");
	for (i = 0; c->headers && i < n; i++) {
		struct curl_slist *grown = api.slist_append(c->headers, headers[i]);

		if (!grown) {
			api.slist_free_all(c->headers);
			c->headers = NULL;
			break;
		}
		c->headers = grown;
	}
	if (!c->url || !c->curl || !c->headers) {
		otlp_curl_free(c);
		return -ENOMEM;
	}
	api.easy_setopt(c->curl, CURLOPT_URL, c->url);
	api.easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	api.easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
	api.easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	api.easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	api.easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	api.easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	api.easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
	api.easy_setopt(c->curl, CURLOPT_HEADERDATA, c);
	api.easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
	api.easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	api.easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
	*out = c;
	return 0;
}

void otlp_curl_free(struct otlp_curl *c)
{
	if (!c)
		return;
	if (c->curl)
		api.easy_cleanup(c->curl);
	if (c->headers)
		api.slist_free_all(c->headers);
	free(c->url);
	free(c);
}

/* A curl error as an errno, as otlp_http_outcome reads it. */
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
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO; /* reset, DNS, TLS handshake ... */
	}
}

void otlp_curl_post(struct otlp_curl *c, const uint8_t *body, size_t len, uint64_t timeout_ms,
		    struct otlp_response *resp)
{
	CURLcode rc;

	c->resp = resp;
	c->errbuf[0] = '\0';
	api.easy_setopt(c->curl, CURLOPT_POSTFIELDS, (const char *)body);
	api.easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	api.easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	api.easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	rc = api.easy_perform(c->curl);
	if (rc == CURLE_OK) {
		api.easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	} else {
		resp->status = 0;
		resp->err = curl_errno(rc);
		snprintf(resp->error, sizeof(resp->error), "%s",
			 rc == CURLE_ABORTED_BY_CALLBACK ? "cancelled at exit"
			 : c->errbuf[0]			 ? c->errbuf
							 : api.easy_strerror(rc));
	}
	c->resp = NULL;
}
