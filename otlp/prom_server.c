// SPDX-License-Identifier: Apache-2.0
/*
 * The scrape endpoint on libmicrohttpd: one internal polling thread, every request answered on
 * its first call (a body is never read: MHD closes such a connection after the answer).
 * GET/HEAD of the path: 200 with the metrics; another path: 404; another method on the path:
 * 405 with Allow. Limits: connections, per-IP connections, request memory (the head must fit),
 * an idle timeout.
 */
#include "prom_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "encode.h"
#include "prometheus.h"

#define CONN_LIMIT     16	   /* connections at once */
#define PER_IP_LIMIT   8	   /* ... from one address */
#define CONN_MEMORY    (32 * 1024) /* per connection: the request head must fit in it */
#define CONN_TIMEOUT_S 10	   /* idle connections are closed after this */

struct otlp_prom_server {
	struct MHD_Daemon *d;
	struct otlp_exporter *ex;
	struct otlp_encoder *enc; /* resource attributes only: read by the server thread */
	char path[OTLP_PROM_PATH_MAX];
	uint16_t port;
	_Atomic uint64_t scrapes, not_found, not_allowed, failed;
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("prometheus: %s", msg);
}

static enum MHD_Result answer_text(struct MHD_Connection *c, unsigned status, const char *text,
				   const char *allow)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* The metrics in the format asked for: a snapshot under the exporter's lock, rendered without. */
static enum MHD_Result answer_metrics(struct otlp_prom_server *srv, struct MHD_Connection *c)
{
	const char *accept =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	enum otlp_prom_format f = otlp_prom_negotiate(accept);
	struct otlp_series *snap = NULL;
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *body = NULL;
	size_t n = 0, len = 0;
	int err;

	err = otlp_exporter_snapshot(srv->ex, &snap, &n);
	if (!err)
		err = otlp_prom_render(srv->enc, snap, n, f, &body, &len);
	otlp_exporter_snapshot_free(srv->ex, snap, n);
	if (err) {
		atomic_fetch_add(&srv->failed, 1);
		return answer_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n", NULL);
	}
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, otlp_prom_content_type(f));
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	atomic_fetch_add(&srv->scrapes, 1);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct otlp_prom_server *srv = cls;

	if (strcmp(url, srv->path)) {
		atomic_fetch_add(&srv->not_found, 1);
		return answer_text(c, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		atomic_fetch_add(&srv->not_allowed, 1);
		return answer_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
				   "GET, HEAD");
	}
	return answer_metrics(srv, c);
}

/* The daemon on address:port, or on every interface (IPv6 and IPv4; IPv4 alone where the host
 * has no IPv6). */
static struct MHD_Daemon *listen_on(struct otlp_prom_server *srv, const char *address)
{
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	struct MHD_Daemon *d;

	if (address && address[0]) {
		if (inet_pton(AF_INET, address, &in4->sin_addr) == 1) {
			in4->sin_family = AF_INET;
			in4->sin_port = htons(srv->port);
		} else if (inet_pton(AF_INET6, address, &in6->sin6_addr) == 1) {
			in6->sin6_family = AF_INET6;
			in6->sin6_port = htons(srv->port);
			flags |= MHD_USE_IPv6;
		} else {
			errno = EINVAL;
			return NULL;
		}
	} else {
		flags |= MHD_USE_DUAL_STACK;
	}
#define OPTIONS                                                                                    \
	MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT,     \
	    (unsigned)PER_IP_LIMIT, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,       \
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S, MHD_OPTION_EXTERNAL_LOGGER,   \
	    mhd_log, NULL
	if (address && address[0])
		return MHD_start_daemon(flags, srv->port, NULL, NULL, on_request, srv, OPTIONS,
					MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
					MHD_OPTION_END);
	d = MHD_start_daemon(flags, srv->port, NULL, NULL, on_request, srv, OPTIONS,
			     MHD_OPTION_END);
	if (!d && errno != EADDRINUSE)
		d = MHD_start_daemon(flags & ~(unsigned)MHD_USE_DUAL_STACK, srv->port, NULL, NULL,
				     on_request, srv, OPTIONS, MHD_OPTION_END);
#undef OPTIONS
	return d;
}

int otlp_prom_server_start(const struct otlp_prom_options *opts, struct otlp_exporter *ex,
			   struct otlp_prom_server **out)
{
	struct otlp_prom_server *srv;
	sigset_t all, old;
	int err;

	*out = NULL;
	if (!opts->port)
		return 0;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->ex = ex;
	srv->port = opts->port;
	snprintf(srv->path, sizeof(srv->path), "%s",
		 opts->path && opts->path[0] ? opts->path : "/metrics");
	srv->enc = otlp_encoder_new(otlp_exporter_resource_attributes(ex), NULL);
	if (!srv->enc) {
		free(srv);
		return -ENOMEM;
	}
	/* signals go to the event loop's thread, never to the server's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	errno = 0;
	srv->d = listen_on(srv, opts->address);
	err = errno ? errno : EADDRINUSE;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!srv->d) {
		log_error("prometheus: listen on %s%s%s:%u: %s",
			  opts->address && strchr(opts->address, ':') ? "[" : "",
			  opts->address && opts->address[0] ? opts->address : "*",
			  opts->address && strchr(opts->address, ':') ? "]" : "", opts->port,
			  strerror(err));
		otlp_encoder_free(srv->enc);
		free(srv);
		return -err;
	}
	log_info("prometheus: serving metrics on %s%s%s:%u%s",
		 opts->address && strchr(opts->address, ':') ? "[" : "",
		 opts->address && opts->address[0] ? opts->address : "*",
		 opts->address && strchr(opts->address, ':') ? "]" : "", opts->port, srv->path);
	*out = srv;
	return 0;
}

void otlp_prom_server_stop(struct otlp_prom_server *srv)
{
	if (!srv)
		return;
	MHD_stop_daemon(srv->d);
	log_info("prometheus summary: scrapes=%llu not_found=%llu not_allowed=%llu failed=%llu",
		 (unsigned long long)atomic_load(&srv->scrapes),
		 (unsigned long long)atomic_load(&srv->not_found),
		 (unsigned long long)atomic_load(&srv->not_allowed),
		 (unsigned long long)atomic_load(&srv->failed));
	otlp_encoder_free(srv->enc);
	free(srv);
}
