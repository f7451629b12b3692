// SPDX-License-Identifier: Apache-2.0
#include "discovery.h"

#include <bpf/bpf.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define PROC_BUCKETS 1024
#define PROC_ROOT "/proc"

struct proc_entry {
	struct proc_entry *next;
	struct proc_info info;
	char ports[64];		/* the selected ports it listens on, for the log line */
};

/* Listening sockets on selected ports: socket inode -> port (open addressing). */
struct listen_set {
	uint64_t *inode;
	uint16_t *port;
	size_t cap, len;
};

struct discovery {
	const struct obi_config *cfg;
	int map_fd;
	uint32_t self;
	unsigned count;
	struct proc_entry *buckets[PROC_BUCKETS];
};

struct discovery *discovery_new(const struct obi_config *cfg, int traced_pids_fd)
{
	struct discovery *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->cfg = cfg;
	d->map_fd = traced_pids_fd;
	d->self = getpid();
	return d;
}

void discovery_free(struct discovery *d)
{
	if (!d)
		return;
	for (size_t b = 0; b < PROC_BUCKETS; b++) {
		while (d->buckets[b]) {
			struct proc_entry *p = d->buckets[b];

			d->buckets[b] = p->next;
			free(p);
		}
	}
	free(d);
}

unsigned discovery_count(const struct discovery *d)
{
	return d->count;
}

static struct proc_entry **proc_slot(struct discovery *d, uint32_t pid)
{
	struct proc_entry **p = &d->buckets[pid % PROC_BUCKETS];

	while (*p && (*p)->info.pid != pid)
		p = &(*p)->next;
	return p;
}

/* Adds pid to the table (and, when `to_kernel`, to traced_pids) and logs it once. */
static struct proc_entry *proc_add(struct discovery *d, uint32_t pid, const char *ports,
				   const char *why, bool to_kernel)
{
	struct proc_entry **slot = proc_slot(d, pid), *p = *slot;
	struct obi_pid_info val = {};

	if (p)
		return p;
	if (pid == d->self)
		return NULL;
	if (to_kernel && bpf_map_update_elem(d->map_fd, &pid, &val, BPF_ANY)) {
		log_warn("select pid %u: %s", pid, strerror(errno));
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	if (procinfo_read(PROC_ROOT, pid, &p->info))
		snprintf(p->info.comm, sizeof(p->info.comm), "pid%u", pid);
	p->info.pid = pid;
	if (!p->info.service_name[0])
		snprintf(p->info.service_name, sizeof(p->info.service_name), "%s", p->info.comm);
	if (!p->info.language[0])
		snprintf(p->info.language, sizeof(p->info.language), "generic");
	snprintf(p->ports, sizeof(p->ports), "%s", ports && ports[0] ? ports : "-");
	*slot = p;
	d->count++;
	log_info("instrumenting process pid=%u cmd=%s service=%s lang=%s ports=%s reason=%s exe=%s",
		 pid, p->info.comm, p->info.service_name, p->info.language, p->ports, why,
		 p->info.exe[0] ? p->info.exe : "?");
	return p;
}

int discovery_select(struct discovery *d, uint32_t pid, const char *why)
{
	return proc_add(d, pid, NULL, why, true) ? 0 : -ESRCH;
}

const struct proc_info *discovery_proc(struct discovery *d, uint32_t pid)
{
	struct proc_entry *p = *proc_slot(d, pid);

	/* a pid the kernel reports but we did not hear of yet (event order): learn it now */
	if (!p)
		p = proc_add(d, pid, NULL, "kernel", false);
	if (!p) {
		static struct proc_info unknown;

		snprintf(unknown.comm, sizeof(unknown.comm), "unknown");
		snprintf(unknown.service_name, sizeof(unknown.service_name), "unknown");
		snprintf(unknown.language, sizeof(unknown.language), "generic");
		unknown.pid = pid;
		return &unknown;
	}
	return &p->info;
}

static void proc_forget(struct discovery *d, uint32_t pid)
{
	struct proc_entry **slot = proc_slot(d, pid), *p = *slot;

	if (!p)
		return;
	*slot = p->next;
	free(p);
	d->count--;
	bpf_map_delete_elem(d->map_fd, &pid);
	log_debug("process exited pid=%u", pid);
}

void discovery_on_proc_new(struct discovery *d, const struct obi_proc_event *e)
{
	char ports[16] = "";
	char why[48];

	switch (e->reason) {
	case OBI_SEL_LISTEN:
		snprintf(ports, sizeof(ports), "%u", e->port);
		snprintf(why, sizeof(why), "listen");
		break;
	case OBI_SEL_FORK:
		snprintf(why, sizeof(why), "fork-of-%u", e->ppid);
		break;
	default:
		snprintf(why, sizeof(why), "pid-namespace");
		break;
	}
	proc_add(d, e->hdr.pid, ports, why, false);
}

static bool exe_matches(const struct discovery *d, uint32_t pid)
{
	char path[64], exe[4096];
	ssize_t n;

	if (!d->cfg->exe_glob[0])
		return false;
	snprintf(path, sizeof(path), PROC_ROOT "/%u/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	return fnmatch(d->cfg->exe_glob, exe, 0) == 0;
}

void discovery_on_exec(struct discovery *d, uint32_t pid)
{
	struct proc_entry *p = *proc_slot(d, pid);

	if (p) {
		/* a selected process became another program: refresh what we print for it */
		if (procinfo_read(PROC_ROOT, pid, &p->info) == 0)
			log_info("instrumented process pid=%u is now cmd=%s service=%s lang=%s exe=%s",
				 pid, p->info.comm, p->info.service_name, p->info.language,
				 p->info.exe[0] ? p->info.exe : "?");
		return;
	}
	if (exe_matches(d, pid))
		proc_add(d, pid, NULL, "exe", true);
}

void discovery_on_exit(struct discovery *d, uint32_t pid)
{
	proc_forget(d, pid);
}

/* ---- start-up scan ------------------------------------------------------------------------- */

static void listen_add(struct listen_set *ls, uint64_t inode, uint16_t port)
{
	if (ls->len * 2 >= ls->cap) {
		struct listen_set bigger = { .cap = ls->cap ? ls->cap * 2 : 256 };

		bigger.inode = calloc(bigger.cap, sizeof(*bigger.inode));
		bigger.port = calloc(bigger.cap, sizeof(*bigger.port));
		if (!bigger.inode || !bigger.port) {
			free(bigger.inode);
			free(bigger.port);
			return;
		}
		for (size_t i = 0; i < ls->cap; i++) {
			if (ls->inode[i])
				listen_add(&bigger, ls->inode[i], ls->port[i]);
		}
		free(ls->inode);
		free(ls->port);
		*ls = bigger;
	}
	for (size_t i = inode % ls->cap;; i = (i + 1) % ls->cap) {
		if (ls->inode[i] == inode)
			return;
		if (!ls->inode[i]) {
			ls->inode[i] = inode;
			ls->port[i] = port;
			ls->len++;
			return;
		}
	}
}

static int listen_port(const struct listen_set *ls, uint64_t inode)
{
	if (!ls->cap)
		return -1;
	for (size_t i = inode % ls->cap; ls->inode[i]; i = (i + 1) % ls->cap) {
		if (ls->inode[i] == inode)
			return ls->port[i];
	}
	return -1;
}

/* Adds the LISTEN sockets on selected ports of /proc/PID/net/tcp{,6} (one network namespace). */
static void scan_net_file(const struct discovery *d, const char *path, struct listen_set *ls)
{
	FILE *f = fopen(path, "re");
	char line[512];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned port, state;
		unsigned long long inode;
		char local[64];

		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*d: %63[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*d %*d %llu", local, &port,
			   &state, &inode) != 4)
			continue;
		if (state == 0x0A && inode && port_set_has(&d->cfg->open_ports, port))
			listen_add(ls, inode, port);
	}
	fclose(f);
}

static bool all_digits(const char *s)
{
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return false;
	}
	return true;
}

static void scan_listening(const struct discovery *d, DIR *proc, struct listen_set *ls)
{
	uint64_t seen_netns[256];
	size_t n_seen = 0;
	struct dirent *de;

	rewinddir(proc);
	while ((de = readdir(proc))) {
		char path[300];
		struct stat st;
		size_t i;

		if (!all_digits(de->d_name))
			continue;
		snprintf(path, sizeof(path), PROC_ROOT "/%s/ns/net", de->d_name);
		if (stat(path, &st))
			continue;
		for (i = 0; i < n_seen && seen_netns[i] != st.st_ino; i++)
			;
		if (i < n_seen)
			continue;
		if (n_seen < sizeof(seen_netns) / sizeof(seen_netns[0]))
			seen_netns[n_seen++] = st.st_ino;
		snprintf(path, sizeof(path), PROC_ROOT "/%s/net/tcp", de->d_name);
		scan_net_file(d, path, ls);
		snprintf(path, sizeof(path), PROC_ROOT "/%s/net/tcp6", de->d_name);
		scan_net_file(d, path, ls);
	}
}

/* The selected ports pid listens on, as "80,8080"; empty when none. */
static void pid_ports(uint32_t pid, const struct listen_set *ls, char *out, size_t size)
{
	char path[64];
	struct dirent *de;
	size_t used = 0;
	DIR *fds;

	out[0] = '\0';
	snprintf(path, sizeof(path), PROC_ROOT "/%u/fd", pid);
	fds = opendir(path);
	if (!fds)
		return;
	while ((de = readdir(fds))) {
		char link[64], target[64];
		unsigned long long inode;
		ssize_t n;
		int port;

		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (sscanf(target, "socket:[%llu]", &inode) != 1)
			continue;
		port = listen_port(ls, inode);
		if (port < 0 || used + 8 >= size)
			continue;
		used += snprintf(out + used, size - used, "%s%d", used ? "," : "", port);
	}
	closedir(fds);
}

static bool pidns_matches(const struct discovery *d, uint32_t pid)
{
	char path[64];
	struct stat st;

	if (!d->cfg->n_pidns)
		return false;
	snprintf(path, sizeof(path), PROC_ROOT "/%u/ns/pid", pid);
	if (stat(path, &st))
		return false;
	for (size_t i = 0; i < d->cfg->n_pidns; i++) {
		if (d->cfg->pidns[i] == st.st_ino)
			return true;
	}
	return false;
}

static bool pid_listed(const struct discovery *d, uint32_t pid)
{
	for (size_t i = 0; i < d->cfg->n_target_pids; i++) {
		if (d->cfg->target_pids[i] == pid)
			return true;
	}
	return false;
}

int discovery_scan(struct discovery *d)
{
	struct listen_set ls = {};
	DIR *proc = opendir(PROC_ROOT);
	struct dirent *de;
	int selected = 0;

	if (!proc)
		return -errno;
	if (d->cfg->open_ports.count)
		scan_listening(d, proc, &ls);
	rewinddir(proc);
	while ((de = readdir(proc))) {
		uint32_t pid;
		char ports[64] = "";
		const char *why = NULL;

		if (!all_digits(de->d_name))
			continue;
		pid = strtoul(de->d_name, NULL, 10);
		if (pid == d->self)
			continue;
		if (ls.len)
			pid_ports(pid, &ls, ports, sizeof(ports));
		if (ports[0])
			why = "open-port";
		else if (pid_listed(d, pid))
			why = "pid";
		else if (exe_matches(d, pid))
			why = "exe";
		else if (pidns_matches(d, pid))
			why = "pid-namespace";
		if (why && proc_add(d, pid, ports, why, true))
			selected++;
	}
	closedir(proc);
	free(ls.inode);
	free(ls.port);
	for (size_t i = 0; i < d->cfg->n_target_pids; i++) {
		if (!*proc_slot(d, d->cfg->target_pids[i]))
			log_warn("target pid %u: no such process", d->cfg->target_pids[i]);
	}
	return selected;
}
