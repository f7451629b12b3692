/* SPDX-License-Identifier: Apache-2.0 */
/* What obi knows of an instrumented process: executable, service name, language. */
#ifndef OBI_PROCINFO_H
#define OBI_PROCINFO_H

#include <stddef.h>
#include <stdint.h>

struct proc_info {
	uint32_t pid;
	char exe[512];		/* full executable path, "" when unreadable */
	char comm[64];		/* executable basename (or /proc/PID/comm) */
	char service_name[128];
	char language[16];
	char container_id[65];	/* from /proc/PID/cgroup, "" outside a container */
};

/* Reads /proc/PID: exe, environment (service name) and language. Returns 0 or -errno. */
int procinfo_read(const char *proc_root, uint32_t pid, struct proc_info *pi);

/* Service name from a NUL-separated environment block: OTEL_SERVICE_NAME, else service.name
 * in OTEL_RESOURCE_ATTRIBUTES. Returns 0 when found, -ENOENT otherwise. */
int procinfo_service_from_environ(const char *env, size_t len, char *out, size_t size);

/* The container a process runs in, from its /proc/PID/cgroup text: the last 64-hex-digit
 * component of a cgroup path, bare or as docker-<id>.scope, cri-containerd-<id>.scope,
 * crio-<id>, libpod-<id> and the like (Docker, containerd, CRI-O, Podman, Kubernetes).
 * Returns 0, or -ENOENT when there is none. */
int procinfo_container_id(const char *cgroup, char *out, size_t size);

/* "python", "nodejs", "java", "ruby", "php", "dotnet", "go" or "generic". `exe_fd` may be -1. */
const char *procinfo_language(const char *exe_path, int exe_fd);

#endif /* OBI_PROCINFO_H */
