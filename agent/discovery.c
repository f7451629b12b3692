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

#include "core/log.h"
#include "selector.h"

#define PROC_BUCKETS 1024
#define PROC_ROOT "/proc"
#define MAX_PORTS 32		/* listening ports of one process we look at */

struct proc_entry {
	struct proc_entry *next;
	struct proc_info info;
	char ports[64];		/* the selected ports it listens on, for the log line */
	bool named;		/* service name from the entry's `name` */
	bool dropped;		/* excluded: not traced; late events of it are ignored */
};

/* What is known of one process, for selector_decide. */
struct facts {
	struct proc_facts f;
	char exe[4096];
	uint16_t ports[MAX_PORTS];
};

/* Listening sockets on selected ports: socket inode -> port (open addressing). */
struct listen_set {
	uint64_t *inode;
	uint16_t *port;
	size_t cap, len;
};

struct discovery {
	const struct obi_config *cfg;
	struct traced_pids *pids;
	uint32_t self;
	uint64_t self_netns;
	unsigned count;
	struct selector_needs needs;
	bool ports_on_exec;	/* an entry combines open_ports with exe_path or containers_only */
	struct proc_entry *buckets[PROC_BUCKETS];
};

static uint64_t ns_inode(uint32_t pid, const char *ns)
{
	char path[64];
	struct stat st;

	if (pid)
		snprintf(path, sizeof(path), PROC_ROOT "/%u/ns/%s", pid, ns);
	else
		snprintf(path, sizeof(path), PROC_ROOT "/self/ns/%s", ns);
	return stat(path, &st) ? 0 : st.st_ino;
}

static bool ports_matter_on_exec(const struct obi_config *cfg)
{
	size_t n = selector_count(cfg, SELECTOR_INSTRUMENT), x = selector_count(cfg, SELECTOR_EXCLUDE);
	struct selector_view v;

	for (size_t i = 0; i < n; i++) {
		selector_get(cfg, SELECTOR_INSTRUMENT, i, &v);
		if (v.ports && (v.exe || v.containers_only))
			return true;
	}
	for (size_t i = 0; i < x; i++) {
		selector_get(cfg, SELECTOR_EXCLUDE, i, &v);
		if (v.ports)
			return true;
	}
	return false;
}

struct discovery *discovery_new(const struct obi_config *cfg, struct traced_pids *pids)
{
	struct discovery *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->cfg = cfg;
	d->pids = pids;
	d->self = getpid();
	d->self_netns = ns_inode(0, "net");
	selector_needs(cfg, &d->needs);
	d->ports_on_exec = ports_matter_on_exec(cfg);
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

static void read_info(struct proc_entry *p, uint32_t pid, const char *name)
{
	if (procinfo_read(PROC_ROOT, pid, &p->info))
		snprintf(p->info.comm, sizeof(p->info.comm), "pid%u", pid);
	p->info.pid = pid;
	if (name && name[0])
		snprintf(p->info.service_name, sizeof(p->info.service_name), "%s", name);
	if (!p->info.service_name[0])
		snprintf(p->info.service_name, sizeof(p->info.service_name), "%s", p->info.comm);
	if (!p->info.language[0])
		snprintf(p->info.language, sizeof(p->info.language), "generic");
	p->named = name && name[0];
}

/*
 * Adds pid to the table (and, when `to_kernel`, to traced_pids) and logs it once; name: the
 * service name the selecting entry gives, or NULL. A pid dropped earlier is taken back.
 */
static struct proc_entry *proc_add(struct discovery *d, uint32_t pid, const char *ports,
				   const char *why, bool to_kernel, const char *name)
{
	struct proc_entry **slot = proc_slot(d, pid), *p = *slot;

	if (p && !p->dropped)
		return p;
	if (pid == d->self)
		return NULL;
	if (to_kernel && traced_pids_add(d->pids, pid)) {
		log_warn("select pid %u: %s", pid, strerror(errno));
		return NULL;
	}
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
		*slot = p;
	}
	p->dropped = false;
	read_info(p, pid, name);
	snprintf(p->ports, sizeof(p->ports), "%s", ports && ports[0] ? ports : "-");
	d->count++;
	log_info("instrumenting process pid=%u cmd=%s service=%s lang=%s ports=%s reason=%s exe=%s",
		 pid, p->info.comm, p->info.service_name, p->info.language, p->ports, why,
		 p->info.exe[0] ? p->info.exe : "?");
	return p;
}

/* Takes pid out of traced_pids (an exclude entry matches it) and remembers it as dropped, so
 * the events it made before are not turned into spans. */
static void proc_drop(struct discovery *d, uint32_t pid, const char *by)
{
	struct proc_entry **slot = proc_slot(d, pid), *p = *slot;

	traced_pids_remove(d->pids, pid);
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return;
		read_info(p, pid, NULL);
		*slot = p;
	} else if (!p->dropped) {
		d->count--;
	} else {
		return;
	}
	p->dropped = true;
	log_info("excluded process pid=%u cmd=%s reason=%s exe=%s (not instrumented)", pid,
		 p->info.comm, by, p->info.exe[0] ? p->info.exe : "?");
}

int discovery_select(struct discovery *d, uint32_t pid, const char *why)
{
	return proc_add(d, pid, NULL, why, true, NULL) ? 0 : -ESRCH;
}

bool discovery_traced(struct discovery *d, uint32_t pid)
{
	struct proc_entry *p = *proc_slot(d, pid);

	return !p || !p->dropped;
}

const struct proc_info *discovery_proc(struct discovery *d, uint32_t pid)
{
	struct proc_entry *p = *proc_slot(d, pid);

	/* a pid the kernel reports but we did not hear of yet (event order): learn it now */
	if (!p)
		p = proc_add(d, pid, NULL, "kernel", false, NULL);
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
	if (!p->dropped)
		d->count--;
	free(p);
	traced_pids_remove(d->pids, pid);
	log_debug("process exited pid=%u", pid);
}

static void gather(struct discovery *d, uint32_t pid, struct facts *x, const uint16_t *ports,
		   size_t n_ports)
{
	char path[64];
	ssize_t n;

	memset(&x->f, 0, sizeof(x->f));
	x->f.pid = pid;
	if (d->needs.exe) {
		snprintf(path, sizeof(path), PROC_ROOT "/%u/exe", pid);
		n = readlink(path, x->exe, sizeof(x->exe) - 1);
		if (n > 0) {
			x->exe[n] = '\0';
			x->f.exe = x->exe;
		}
	}
	if (d->needs.pidns)
		x->f.pidns = ns_inode(pid, "pid");
	if (d->needs.container) {
		uint64_t net = ns_inode(pid, "net");

		x->f.in_container = net && net != d->self_netns;
	}
	n_ports = n_ports < MAX_PORTS ? n_ports : MAX_PORTS;
	memcpy(x->ports, ports, n_ports * sizeof(ports[0]));
	x->f.ports = x->ports;
	x->f.n_ports = n_ports;
}

/* A process the kernel selected (listen on a selected port, fork of a selected process, fork
 * into a selected PID namespace): an exclude entry may still take it out. */
void discovery_on_proc_new(struct discovery *d, const struct obi_proc_event *e)
{
	struct proc_entry *p = *proc_slot(d, e->hdr.pid), *parent = NULL;
	struct selector_view by;
	static struct facts x;
	const char *name = NULL;
	char ports[16] = "";
	char why[48];
	uint16_t port = e->port;

	if (p && !p->dropped)
		return;
	switch (e->reason) {
	case OBI_SEL_LISTEN:
		snprintf(ports, sizeof(ports), "%u", e->port);
		snprintf(why, sizeof(why), "listen");
		break;
	case OBI_SEL_FORK:
		snprintf(why, sizeof(why), "fork-of-%u", e->ppid);
		parent = *proc_slot(d, e->ppid);
		break;
	default:
		snprintf(why, sizeof(why), "pid-namespace");
		break;
	}
	gather(d, e->hdr.pid, &x, &port, e->reason == OBI_SEL_LISTEN);
	if (selector_excluded(d->cfg, &x.f, &by)) {
		proc_drop(d, e->hdr.pid, by.reason);
		return;
	}
	if (parent && parent->named)
		name = parent->info.service_name;
	else if (selector_decide(d->cfg, &x.f, &by) == SELECTOR_SELECTED)
		name = by.name;
	proc_add(d, e->hdr.pid, ports, why, false, name);
}

/* A process listens on a watched port: selected when an entry with more criteria matches. */
void discovery_on_listen(struct discovery *d, uint32_t pid, uint16_t port)
{
	struct proc_entry *p = *proc_slot(d, pid);
	struct selector_view by;
	static struct facts x;
	char ports[16];

	if (p && !p->dropped)
		return;
	gather(d, pid, &x, &port, 1);
	if (selector_decide(d->cfg, &x.f, &by) != SELECTOR_SELECTED)
		return;
	snprintf(ports, sizeof(ports), "%u", port);
	proc_add(d, pid, ports, by.reason, true, by.name);
}

static size_t pid_ports(uint32_t pid, const struct listen_set *ls, char *out, size_t size,
			uint16_t *ports, size_t max);
static void scan_net_file(const struct discovery *d, const char *path, struct listen_set *ls);

/* The ports of interest pid listens on, read from its own network namespace. */
static size_t ports_of(struct discovery *d, uint32_t pid, uint16_t *ports, size_t max)
{
	struct listen_set ls = {};
	char path[64], text[64];
	size_t n;

	snprintf(path, sizeof(path), PROC_ROOT "/%u/net/tcp", pid);
	scan_net_file(d, path, &ls);
	snprintf(path, sizeof(path), PROC_ROOT "/%u/net/tcp6", pid);
	scan_net_file(d, path, &ls);
	n = ls.len ? pid_ports(pid, &ls, text, sizeof(text), ports, max) : 0;
	free(ls.inode);
	free(ls.port);
	return n;
}

void discovery_on_exec(struct discovery *d, uint32_t pid)
{
	struct proc_entry *p = *proc_slot(d, pid);
	uint16_t ports[MAX_PORTS] = { 0 };
	struct selector_view by;
	static struct facts x;
	size_t n = 0;

	if (d->ports_on_exec)
		n = ports_of(d, pid, ports, MAX_PORTS);
	gather(d, pid, &x, ports, n);
	if (p && !p->dropped) {
		/* a selected process became another program: an exclude entry may match it now */
		if (selector_excluded(d->cfg, &x.f, &by)) {
			proc_drop(d, pid, by.reason);
			return;
		}
		/* refresh what we print for it (a name from the entry stays) */
		char name[sizeof(p->info.service_name)];

		snprintf(name, sizeof(name), "%s", p->info.service_name);
		if (procinfo_read(PROC_ROOT, pid, &p->info) == 0) {
			if (p->named)
				snprintf(p->info.service_name, sizeof(name), "%s", name);
			log_info("instrumented process pid=%u is now cmd=%s service=%s lang=%s exe=%s",
				 pid, p->info.comm, p->info.service_name, p->info.language,
				 p->info.exe[0] ? p->info.exe : "?");
		}
		return;
	}
	if (selector_decide(d->cfg, &x.f, &by) == SELECTOR_SELECTED)
		proc_add(d, pid, NULL, by.reason, true, by.name);
}

/* Forgets dropped processes that are gone (the kernel reports exits of selected ones only). */
void discovery_sweep(struct discovery *d)
{
	char path[64];

	for (size_t b = 0; b < PROC_BUCKETS; b++) {
		for (struct proc_entry **pp = &d->buckets[b]; *pp;) {
			struct proc_entry *p = *pp;

			snprintf(path, sizeof(path), PROC_ROOT "/%u", p->info.pid);
			if (p->dropped && access(path, F_OK)) {
				*pp = p->next;
				free(p);
				continue;
			}
			pp = &p->next;
		}
	}
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
		if (state == 0x0A && inode && port_set_has(&d->needs.ports_of_interest, port))
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

/* The ports of interest pid listens on, as "80,8080" in out and as numbers in ports[]; returns
 * how many. */
static size_t pid_ports(uint32_t pid, const struct listen_set *ls, char *out, size_t size,
			uint16_t *ports, size_t max)
{
	char path[64];
	struct dirent *de;
	size_t used = 0, n = 0;
	DIR *fds;

	out[0] = '\0';
	snprintf(path, sizeof(path), PROC_ROOT "/%u/fd", pid);
	fds = opendir(path);
	if (!fds)
		return 0;
	while ((de = readdir(fds)) && n < max) {
		char link[300], target[64];
		unsigned long long inode;
		ssize_t len;
		int port;
		size_t i;

		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (sscanf(target, "socket:[%llu]", &inode) != 1)
			continue;
		port = listen_port(ls, inode);
		if (port < 0)
			continue;
		for (i = 0; i < n && ports[i] != port; i++)
			;
		if (i < n)
			continue;
		ports[n++] = (uint16_t)port;
		if (used + 8 < size)
			used += snprintf(out + used, size - used, "%s%d", used ? "," : "", port);
	}
	closedir(fds);
	return n;
}

/* Target pids of the environment and of YAML entries that are not running. */
static void warn_missing_pids(struct discovery *d)
{
	size_t n = selector_count(d->cfg, SELECTOR_INSTRUMENT);
	struct selector_view v;
	char path[64];

	for (size_t i = 0; i < n; i++) {
		selector_get(d->cfg, SELECTOR_INSTRUMENT, i, &v);
		for (size_t j = 0; j < v.n_pids; j++) {
			snprintf(path, sizeof(path), PROC_ROOT "/%u", v.pids[j]);
			if (access(path, F_OK))
				log_warn("target pid %u (%s): no such process", v.pids[j], v.reason);
		}
	}
}

int discovery_scan(struct discovery *d)
{
	struct listen_set ls = {};
	DIR *proc = opendir(PROC_ROOT);
	struct selector_view by;
	static struct facts x;
	struct dirent *de;
	int selected = 0;

	if (!proc)
		return -errno;
	if (d->needs.ports)
		scan_listening(d, proc, &ls);
	rewinddir(proc);
	while ((de = readdir(proc))) {
		uint16_t ports[MAX_PORTS] = { 0 };
		char text[64] = "";
		uint32_t pid;
		size_t n = 0;

		if (!all_digits(de->d_name))
			continue;
		pid = strtoul(de->d_name, NULL, 10);
		if (pid == d->self)
			continue;
		if (ls.len)
			n = pid_ports(pid, &ls, text, sizeof(text), ports, MAX_PORTS);
		gather(d, pid, &x, ports, n);
		switch (selector_decide(d->cfg, &x.f, &by)) {
		case SELECTOR_SELECTED:
			if (proc_add(d, pid, text, by.reason, true, by.name))
				selected++;
			break;
		case SELECTOR_EXCLUDED:
			log_info("excluded process pid=%u reason=%s exe=%s (not instrumented)", pid,
				 by.reason, x.f.exe ? x.f.exe : "?");
			break;
		default:
			break;
		}
	}
	closedir(proc);
	free(ls.inode);
	free(ls.port);
	warn_missing_pids(d);
	return selected;
}
