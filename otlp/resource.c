// SPDX-License-Identifier: Apache-2.0
/* Reference-counted copies of what obi knows about an instrumented process. */
#include "resource.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct otlp_resource *otlp_resource_new(const struct proc_info *pi)
{
	struct otlp_resource *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->pid = pi->pid;
	r->refs = 1;
	snprintf(r->service_name, sizeof(r->service_name), "%s", pi->service_name);
	snprintf(r->language, sizeof(r->language), "%s",
		 pi->language[0] ? pi->language : "generic");
	snprintf(r->exe, sizeof(r->exe), "%s", pi->exe);
	snprintf(r->comm, sizeof(r->comm), "%s", pi->comm);
	snprintf(r->container_id, sizeof(r->container_id), "%s", pi->container_id);
	return r;
}

void otlp_resource_get(struct otlp_resource *r)
{
	r->refs++;
}

void otlp_resource_put(struct otlp_resource *r)
{
	if (r && --r->refs == 0)
		free(r);
}

bool otlp_resource_matches(const struct otlp_resource *r, const struct proc_info *pi)
{
	const char *lang = pi->language[0] ? pi->language : "generic";

	return r->pid == pi->pid &&
	       !strncmp(r->service_name, pi->service_name, sizeof(r->service_name) - 1) &&
	       !strncmp(r->exe, pi->exe, sizeof(r->exe) - 1) &&
	       !strncmp(r->comm, pi->comm, sizeof(r->comm) - 1) &&
	       !strncmp(r->language, lang, sizeof(r->language) - 1);
}
