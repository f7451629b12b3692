/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the configuration tests: config_load() on a fake argv and environment. */
#ifndef OBI_TEST_CONFIG_LOAD_H
#define OBI_TEST_CONFIG_LOAD_H

#include <stdio.h>
#include <stdlib.h>

#include "config.h"

#define ARGS(...) ((char *[]){ "obi", __VA_ARGS__, NULL })
#define NO_ARGS ((char *[]){ "obi", NULL })
#define ENV(...) ((char *[]){ __VA_ARGS__, NULL })
#define NO_ENV ((char *[]){ NULL })

static struct obi_config cfg;
static char errors[16384];	/* what config_load wrote to its error stream */

/* Runs config_load on a fake argv and envp; what it writes to `err` lands in errors[]. */
static int load(char **argv, char **envp)
{
	char *text = NULL;
	size_t size = 0;
	FILE *err = open_memstream(&text, &size);
	int argc = 0, ret;

	while (argv[argc])
		argc++;
	ret = config_load(&cfg, argc, argv, envp, err);
	fclose(err);
	snprintf(errors, sizeof(errors), "%s", text);
	free(text);
	return ret;
}

#endif /* OBI_TEST_CONFIG_LOAD_H */
