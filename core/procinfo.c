// SPDX-License-Identifier: Apache-2.0
#include "procinfo.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENVIRON_MAX (256 * 1024)
#define CGROUP_MAX 8192	/* bytes of /proc/PID/cgroup read */

static void copy_str(char *dst, size_t size, const char *src, size_t n)
{
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* service.name=<v> inside "k1=v1,k2=v2" (W3C baggage-like, values may be percent-encoded). */
static int service_from_resource_attrs(const char *s, char *out, size_t size)
{
	static const char key[] = "service.name=";

	while (*s) {
		const char *end = strchr(s, ',');
		size_t n = end ? (size_t)(end - s) : strlen(s);

		while (n && (*s == ' ' || *s == '\t'))
			s++, n--;
		if (n > sizeof(key) - 1 && strncmp(s, key, sizeof(key) - 1) == 0) {
			copy_str(out, size, s + sizeof(key) - 1, n - (sizeof(key) - 1));
			return 0;
		}
		if (!end)
			break;
		s = end + 1;
	}
	return -ENOENT;
}

int procinfo_service_from_environ(const char *env, size_t len, char *out, size_t size)
{
	const char *attrs = NULL;
	size_t off = 0;

	while (off < len) {
		const char *var = env + off;
		size_t n = strnlen(var, len - off);

		if (n > 18 && strncmp(var, "OTEL_SERVICE_NAME=", 18) == 0 && off + n < len) {
			copy_str(out, size, var + 18, n - 18);
			return 0;
		}
		if (n > 25 && strncmp(var, "OTEL_RESOURCE_ATTRIBUTES=", 25) == 0 && off + n < len)
			attrs = var + 25;
		off += n + 1;
	}
	if (attrs)
		return service_from_resource_attrs(attrs, out, size);
	return -ENOENT;
}

/* Go binaries carry a .go.buildinfo section. */
static int elf_has_section(int fd, const char *name)
{
	Elf64_Ehdr eh;
	Elf64_Shdr sh, strsh;
	char sname[32];
	int found = 0;

	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    eh.e_shstrndx >= eh.e_shnum)
		return 0;
	if (pread(fd, &strsh, sizeof(strsh), eh.e_shoff + (off_t)eh.e_shstrndx * sizeof(sh)) !=
	    sizeof(strsh))
		return 0;
	for (unsigned i = 0; i < eh.e_shnum && i < 4096 && !found; i++) {
		if (pread(fd, &sh, sizeof(sh), eh.e_shoff + (off_t)i * sizeof(sh)) != sizeof(sh))
			break;
		memset(sname, 0, sizeof(sname));
		if (pread(fd, sname, sizeof(sname) - 1, strsh.sh_offset + sh.sh_name) <= 0)
			continue;
		found = strcmp(sname, name) == 0;
	}
	return found;
}

const char *procinfo_language(const char *exe_path, int exe_fd)
{
	static const struct {
		const char *glob;
		const char *lang;
	} by_name[] = {
		{ "python*", "python" }, { "pypy*", "python" }, { "node", "nodejs" },
		{ "nodejs", "nodejs" },	 { "java", "java" },	{ "ruby*", "ruby" },
		{ "php*", "php" },	 { "dotnet", "dotnet" },
	};
	const char *base = strrchr(exe_path, '/');

	base = base ? base + 1 : exe_path;
	for (size_t i = 0; i < sizeof(by_name) / sizeof(by_name[0]); i++) {
		if (fnmatch(by_name[i].glob, base, 0) == 0)
			return by_name[i].lang;
	}
	if (exe_fd >= 0 && elf_has_section(exe_fd, ".go.buildinfo"))
		return "go";
	return "generic";
}

static ssize_t read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t total = 0, n;

	if (fd < 0)
		return -errno;
	while ((size_t)total < size && (n = read(fd, buf + total, size - total)) > 0)
		total += n;
	close(fd);
	return total;
}

static bool hex64_at(const char *s, size_t len)
{
	if (len != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int procinfo_container_id(const char *cgroup, char *out, size_t size)
{
	const char *found = NULL, *p = cgroup;

	/* every path component (between '/', a line's ':' or its end), its id after the last
	 * '-' of a runtime's prefix and before a ".scope"-like suffix */
	while (*p) {
		size_t len = strcspn(p, "/:\n");
		const char *dot = memchr(p, '.', len), *id = p;
		size_t id_len = dot ? (size_t)(dot - p) : len;

		for (size_t i = 0; i < id_len; i++)
			if (p[i] == '-')
				id = p + i + 1;
		id_len -= (size_t)(id - p);
		if (hex64_at(id, id_len))
			found = id;
		p += len;
		if (*p)
			p++;
	}
	if (!found || size < 65)
		return -ENOENT;
	memcpy(out, found, 64);
	out[64] = '\0';
	return 0;
}

int procinfo_read(const char *proc_root, uint32_t pid, struct proc_info *pi)
{
	char path[128], *env;
	ssize_t n;
	int fd;

	memset(pi, 0, sizeof(*pi));
	pi->pid = pid;
	snprintf(path, sizeof(path), "%s/%u/exe", proc_root, pid);
	n = readlink(path, pi->exe, sizeof(pi->exe) - 1);
	if (n > 0) {
		const char *base = strrchr(pi->exe, '/');

		snprintf(pi->comm, sizeof(pi->comm), "%s", base ? base + 1 : pi->exe);
	} else {
		snprintf(path, sizeof(path), "%s/%u/comm", proc_root, pid);
		n = read_file(path, pi->comm, sizeof(pi->comm) - 1);
		if (n <= 0)
			return n < 0 ? (int)n : -ENOENT;
		pi->comm[strcspn(pi->comm, "\n")] = '\0';
	}

	snprintf(path, sizeof(path), "%s/%u/environ", proc_root, pid);
	env = malloc(ENVIRON_MAX);
	n = env ? read_file(path, env, ENVIRON_MAX) : -ENOMEM;
	if (n <= 0 || procinfo_service_from_environ(env, n, pi->service_name,
						    sizeof(pi->service_name)) != 0)
		snprintf(pi->service_name, sizeof(pi->service_name), "%s", pi->comm);
	free(env);

	snprintf(path, sizeof(path), "%s/%u/cgroup", proc_root, pid);
	env = malloc(CGROUP_MAX + 1);
	n = env ? read_file(path, env, CGROUP_MAX) : -ENOMEM;
	if (n > 0) {
		env[n] = '\0';
		procinfo_container_id(env, pi->container_id, sizeof(pi->container_id));
	}
	free(env);

	snprintf(path, sizeof(path), "%s/%u/exe", proc_root, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(pi->language, sizeof(pi->language), "%s",
		 procinfo_language(pi->exe[0] ? pi->exe : pi->comm, fd));
	if (fd >= 0)
		close(fd);
	return 0;
}
