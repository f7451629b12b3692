// SPDX-License-Identifier: Apache-2.0
#include "loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "obi.h"
#include "obi.skel.h"

#define TRACEFS "/sys/kernel/tracing"

/* libbpf's messages (the verifier log among them) are shown at debug level. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];
	size_t len;

	if (log_get_level() > LOG_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	len = strlen(line);
	if (len && line[len - 1] == '\n')
		line[len - 1] = '\0';
	log_debug("libbpf: %s", line);
	return 0;
}

/* Syscall tracepoints need tracefs, which a fresh boot may not have mounted. */
static int ensure_tracefs(void)
{
	if (access(TRACEFS "/events/syscalls", F_OK) == 0)
		return 0;
	if (mount("nodev", TRACEFS, "tracefs", 0, NULL) && errno != EBUSY) {
		log_error("mount tracefs on " TRACEFS ": %s", strerror(errno));
		return -errno;
	}
	if (access(TRACEFS "/events/syscalls", F_OK)) {
		log_error("no syscall tracepoints under " TRACEFS "/events/syscalls: %s "
			  "(kernel without CONFIG_FTRACE_SYSCALLS?)", strerror(errno));
		return -ENOENT;
	}
	log_info("mounted tracefs on " TRACEFS);
	return 0;
}

/* Depth of our PID namespace: the number of entries on the NSpid line, minus one. */
static unsigned pidns_level(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned level = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "NSpid:", 6))
			continue;
		for (char *p = strtok(line + 6, " \t\n"); p; p = strtok(NULL, " \t\n"))
			level++;
		break;
	}
	fclose(f);
	return level ? level - 1 : 0;
}

static int configure(struct obi_bpf *skel, const struct obi_config *cfg)
{
	struct stat st;

	if (stat("/proc/self/ns/pid", &st)) {
		log_error("stat /proc/self/ns/pid: %s", strerror(errno));
		return -errno;
	}
	skel->rodata->pidns_dev = st.st_dev;
	skel->rodata->pidns_ino = st.st_ino;
	skel->rodata->pidns_level = pidns_level();
	skel->rodata->self_pid = getpid();
	skel->rodata->want_pidns = cfg->n_pidns > 0;
	skel->rodata->want_exec = cfg->exe_glob[0] != '\0';
	return 0;
}

static int fill_selectors(struct obi_bpf *skel, const struct obi_config *cfg)
{
	int ports_fd = bpf_map__fd(skel->maps.selected_ports);
	int ns_fd = bpf_map__fd(skel->maps.selected_pidns);

	for (__u32 w = 0; w < OBI_PORT_WORDS; w++) {
		__u64 bits = cfg->open_ports.bits[w];

		if (bits && bpf_map_update_elem(ports_fd, &w, &bits, BPF_ANY))
			return -errno;
	}
	for (size_t i = 0; i < cfg->n_pidns; i++) {
		__u32 inum = cfg->pidns[i];
		__u8 one = 1;

		if (bpf_map_update_elem(ns_fd, &inum, &one, BPF_ANY))
			return -errno;
	}
	return 0;
}

int loader_start(const struct obi_config *cfg, struct obi_bpf **out)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	struct obi_bpf *skel;
	int err;

	libbpf_set_print(libbpf_log);
	setrlimit(RLIMIT_MEMLOCK, &unlimited);	/* kernels before 5.11 charge maps to it */
	err = ensure_tracefs();
	if (err)
		return err;
	skel = obi_bpf__open();
	if (!skel) {
		log_error("open BPF object: %s", strerror(errno));
		return -errno;
	}
	err = configure(skel, cfg);
	if (err)
		goto cleanup;
	err = obi_bpf__load(skel);
	if (err) {
		log_error("load BPF programs: %s (run with OTEL_EBPF_LOG_LEVEL=debug for the verifier "
			  "log)", strerror(-err));
		goto cleanup;
	}
	err = fill_selectors(skel, cfg);
	if (err) {
		log_error("fill selector maps: %s", strerror(-err));
		goto cleanup;
	}
	err = obi_bpf__attach(skel);
	if (err) {
		log_error("attach BPF programs: %s", strerror(-err));
		goto cleanup;
	}
	*out = skel;
	return 0;
cleanup:
	obi_bpf__destroy(skel);
	return err;
}

void loader_stop(struct obi_bpf *skel)
{
	obi_bpf__destroy(skel);
}

int loader_read_counters(struct obi_bpf *skel, unsigned long long *out)
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(skel->maps.counters);
	__u64 *vals;

	if (ncpu <= 0)
		return -EINVAL;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (__u32 k = 0; k < OBI_CNT_MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[k] += vals[c];
	}
	free(vals);
	return 0;
}
