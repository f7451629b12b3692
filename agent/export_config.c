// SPDX-License-Identifier: Apache-2.0
/* obi_config -> otlp_options: the OTEL_EXPORTER_OTLP_*, OTEL_BSP_*, metric and sampler settings. */
#include "export_config.h"

#include <string.h>

/* an endpoint config_load accepts is never cut short by the exporter */
_Static_assert(sizeof(((struct otlp_signal *)0)->url) <= OTLP_URL_MAX,
	       "OTLP_URL_MAX is shorter than the endpoints config.c accepts");

static enum otlp_sampler sampler(enum sampler_kind kind)
{
	switch (kind) {
	case SAMPLER_PARENTBASED_ALWAYS_ON:
		return OTLP_SAMPLER_PARENTBASED_ALWAYS_ON;
	case SAMPLER_PARENTBASED_ALWAYS_OFF:
		return OTLP_SAMPLER_PARENTBASED_ALWAYS_OFF;
	case SAMPLER_PARENTBASED_TRACEIDRATIO:
		return OTLP_SAMPLER_PARENTBASED_TRACEIDRATIO;
	case SAMPLER_ALWAYS_ON:
		return OTLP_SAMPLER_ALWAYS_ON;
	case SAMPLER_ALWAYS_OFF:
		return OTLP_SAMPLER_ALWAYS_OFF;
	case SAMPLER_TRACEIDRATIO:
		return OTLP_SAMPLER_TRACEIDRATIO;
	}
	return OTLP_SAMPLER_PARENTBASED_ALWAYS_ON; /* the default, as in config.c */
}

static void signal_options(const struct otlp_signal *sig, struct otlp_signal_options *o)
{
	o->url = sig->url;
	o->headers = sig->headers;
	o->compression =
	    sig->compression == OTLP_COMPRESSION_GZIP ? OTLP_COMPRESS_GZIP : OTLP_COMPRESS_NONE;
	o->timeout_ms = sig->timeout_ms;
	o->json = sig->protocol == OTLP_PROTOCOL_HTTP_JSON;
	o->grpc = sig->protocol == OTLP_PROTOCOL_GRPC;
	o->certificate = sig->certificate;
	o->client_certificate = sig->client_certificate;
	o->client_key = sig->client_key;
	o->skip_verify = sig->skip_verify;
}

void export_config_otlp(const struct obi_config *cfg, struct otlp_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	signal_options(&cfg->traces, &opts->traces);
	signal_options(&cfg->metrics, &opts->metrics);
	opts->resource_attributes = cfg->resource_attributes;
	opts->max_queue_size = cfg->bsp_max_queue_size;
	opts->max_export_batch_size = cfg->bsp_max_export_batch_size;
	opts->schedule_delay_ms = cfg->bsp_schedule_delay_ms;
	opts->metric_interval_ms = cfg->metric_interval_ms;
	opts->metrics_ttl_ms = cfg->metrics_ttl_ms;
	opts->metrics_pull = cfg->prometheus_port != 0;
	opts->sampler = sampler(cfg->sampler);
	opts->sampler_ratio = cfg->sampler_ratio;
}

void export_config_prometheus(const struct obi_config *cfg, struct otlp_prom_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->port = cfg->prometheus_port;
	opts->path = cfg->prometheus_path;
	opts->address = cfg->prometheus_address;
}
