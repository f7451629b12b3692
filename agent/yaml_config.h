/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The YAML configuration file (OTEL_EBPF_CONFIG_PATH, --config), with OBI's keys: walks the
 * document with libyaml and hands every scalar to the settings table (settings_yaml.c), and the
 * discovery lists to struct selector_list. Unknown keys and OBI keys obi does not support are
 * warnings; bad values, wrong shapes and syntax errors name the file, line and key.
 */
#ifndef OBI_YAML_CONFIG_H
#define OBI_YAML_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "config_types.h"

/* Loads `path` into cfg (over what is there). Returns 0, or -EINVAL with one error line on
 * err. */
int yaml_config_load(struct obi_config *cfg, const char *path, FILE *err);

/* The same from memory; `name` stands for the file in messages (tests, fuzzing). */
int yaml_config_load_buffer(struct obi_config *cfg, const char *name, const unsigned char *buf,
			    size_t len, FILE *err);

#endif /* OBI_YAML_CONFIG_H */
