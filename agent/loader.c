// SPDX-License-Identifier: Apache-2.0
#define _GNU_SOURCE	/* vasprintf, strchrnul */
#include "loader.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "core/log.h"
#include "ebpf/obi.h"
#include "obi.skel.h"
#include "selector.h"

#define TRACEFS "/sys/kernel/tracing"
#define BPFFS "/sys/fs/bpf"
#define PIN_DIR BPFFS "/obi"
#define BPF_FS_MAGIC 0xcafe4a11
#define PROC_PID_INIT_INO 0xEFFFFFFCU	/* the initial PID namespace's fixed inode */

/* What injection set up, for loader_injection_off() and the exit path. */
static struct {
	struct bpf_link *sockops;
	char pin[128];
} inj;

/* libbpf's messages are shown at debug level, a line each: one message can be a whole
 * verifier log, whose last lines say why a program was refused. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *text, *line, *next;

	if (log_get_level() > LOG_DEBUG || vasprintf(&text, fmt, ap) < 0)
		return 0;
	for (line = text; *line; line = next) {
		next = strchrnul(line, '\n');
		if (*next)
			*next++ = '\0';
		log_debug("libbpf: %s", line);
	}
	free(text);
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

/* True when the kernel's BTF has every tracepoint named (their btf_trace_* typedefs). */
static bool have_tracepoints(const char *const *names, size_t n)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	bool all = vmlinux != NULL;

	for (size_t i = 0; all && i < n; i++)
		all = btf__find_by_name_kind(vmlinux, names[i], BTF_KIND_TYPEDEF) > 0;
	btf__free(vmlinux);
	return all;
}

static bool have_socket_tracepoints(void)
{
	static const char *const needed[] = { "btf_trace_sock_recv_length",
					      "btf_trace_sock_send_length",
					      "btf_trace_inet_sock_set_state" };

	return have_tracepoints(needed, sizeof(needed) / sizeof(needed[0]));
}

/*
 * Chooses the hooks that see socket data: the socket tracepoints (three tp_btf programs) or
 * the syscall tracepoints (the read/write exits, close and listen). Only the chosen set is
 * loaded. Returns 1 for sockets, 0 for syscalls, -errno when sockets are asked for and missing.
 */
static int choose_data_hooks(struct obi_bpf *skel, enum data_hooks want)
{
	struct bpf_program *syscall_progs[] = {
		skel->progs.trace_exit_read, skel->progs.trace_exit_readv,
		skel->progs.trace_exit_recvfrom, skel->progs.trace_exit_recvmsg,
		skel->progs.trace_exit_write, skel->progs.trace_exit_writev,
		skel->progs.trace_exit_sendto, skel->progs.trace_exit_sendmsg,
		skel->progs.trace_exit_sendfile64, skel->progs.trace_enter_close,
		skel->progs.trace_enter_listen, skel->progs.plan_request, skel->progs.emit_request,
	};
	struct bpf_program *socket_progs[] = {
		skel->progs.obi_sock_recv, skel->progs.obi_sock_send, skel->progs.obi_sock_state,
	};
	static const char *const destroy = "btf_trace_tcp_destroy_sock";
	bool sockets = want != DATA_HOOKS_SYSCALLS && have_socket_tracepoints();

	if (want == DATA_HOOKS_SOCKETS && !sockets) {
		log_error("OTEL_EBPF_BPF_DATA_HOOKS=sockets: the kernel has no tracepoints "
			  "sock_recv_length, sock_send_length and inet_sock_set_state in its BTF");
		return -ENOTSUP;
	}
	for (size_t i = 0; i < sizeof(syscall_progs) / sizeof(syscall_progs[0]); i++)
		bpf_program__set_autoload(syscall_progs[i], !sockets);
	for (size_t i = 0; i < sizeof(socket_progs) / sizeof(socket_progs[0]); i++)
		bpf_program__set_autoload(socket_progs[i], sockets);
	/* with either set: the end of connections whose close the set did not see */
	bpf_program__set_autoload(skel->progs.obi_tcp_destroy, have_tracepoints(&destroy, 1));
	log_info("socket data seen through %s", sockets ? "socket tracepoints (tp_btf)"
							: "syscall tracepoints");
	return sockets;
}

static int configure(struct obi_bpf *skel, const struct obi_config *cfg,
		     const struct selector_kernel *plan)
{
	struct stat st;

	if (stat("/proc/self/ns/pid", &st)) {
		log_error("stat /proc/self/ns/pid: %s", strerror(errno));
		return -errno;
	}
	skel->rodata->pidns_ino = st.st_ino;
	skel->rodata->pidns_initial = st.st_ino == PROC_PID_INIT_INO;
	skel->rodata->self_pid = getpid();
	skel->rodata->want_pidns = plan->n_pidns > 0;
	skel->rodata->want_exec = plan->want_exec;
	struct sampling s = config_sampling(cfg);
	skel->rodata->sample_root = s.root;
	skel->rodata->sample_ignore_parent = s.ignore_parent;
	skel->rodata->sample_bound = s.bound;
	return 0;
}

/* The syscall exits' heavy halves (enum obi_tail), when they are loaded. */
static int fill_tails(struct obi_bpf *skel)
{
	int map_fd = bpf_map__fd(skel->maps.tails);
	struct {
		__u32 slot;
		struct bpf_program *prog;
	} slots[] = {
		{ OBI_TAIL_PLAN_REQUEST, skel->progs.plan_request },
		{ OBI_TAIL_EMIT_REQUEST, skel->progs.emit_request },
	};

	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		int fd = bpf_program__fd(slots[i].prog);

		if (!bpf_program__autoload(slots[i].prog))
			continue;
		if (bpf_map_update_elem(map_fd, &slots[i].slot, &fd, BPF_ANY))
			return -errno;
	}
	return 0;
}

/* The kernel's share of the selection (selector.h): ports selected or watched at listen(),
 * PID namespaces selected at fork. */
static int fill_selectors(struct obi_bpf *skel, const struct selector_kernel *plan)
{
	int ports_fd = bpf_map__fd(skel->maps.selected_ports);
	int watch_fd = bpf_map__fd(skel->maps.watched_ports);
	int ns_fd = bpf_map__fd(skel->maps.selected_pidns);

	for (__u32 w = 0; w < OBI_PORT_WORDS; w++) {
		__u64 bits = plan->select_ports.bits[w], watch = plan->watch_ports.bits[w];

		if (bits && bpf_map_update_elem(ports_fd, &w, &bits, BPF_ANY))
			return -errno;
		if (watch && bpf_map_update_elem(watch_fd, &w, &watch, BPF_ANY))
			return -errno;
	}
	for (size_t i = 0; i < plan->n_pidns; i++) {
		__u32 inum = plan->pidns[i];
		__u8 one = 1;

		if (bpf_map_update_elem(ns_fd, &inum, &one, BPF_ANY))
			return -errno;
	}
	return 0;
}

int loader_start(const struct obi_config *cfg, struct obi_bpf **out)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	static struct selector_kernel plan;
	struct obi_bpf *skel;
	int err;

	libbpf_set_print(libbpf_log);
	setrlimit(RLIMIT_MEMLOCK, &unlimited);	/* kernels before 5.11 charge maps to it */
	skel = obi_bpf__open();
	if (!skel) {
		log_error("open BPF object: %s", strerror(errno));
		return -errno;
	}
	err = choose_data_hooks(skel, cfg->data_hooks);
	if (err == 0)
		err = ensure_tracefs();
	if (err < 0)
		goto cleanup;
	selector_kernel_plan(cfg, &plan);
	err = configure(skel, cfg, &plan);
	if (err)
		goto cleanup;
	err = obi_bpf__load(skel);
	if (err) {
		log_error("load BPF programs: %s (run with OTEL_EBPF_LOG_LEVEL=debug for the verifier "
			  "log)", strerror(-err));
		goto cleanup;
	}
	err = fill_tails(skel);
	if (err) {
		log_error("fill the tail-call array: %s", strerror(-err));
		goto cleanup;
	}
	err = fill_selectors(skel, &plan);
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

/* The cgroup v2 mount (hybrid hosts have it at /sys/fs/cgroup/unified). */
static int cgroup2_root(char *path, size_t size)
{
	FILE *f = fopen("/proc/mounts", "re");
	char dev[64], dir[256], type[32];
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fscanf(f, "%63s %255s %31s %*s %*d %*d", dev, dir, type) == 3) {
		if (strcmp(type, "cgroup2") == 0) {
			snprintf(path, size, "%s", dir);
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

static bool map_empty(int fd)
{
	__u64 key;

	return bpf_map_get_next_key(fd, NULL, &key) != 0;
}

/* obi's mounts may not be the host's: it runs in a mount namespace other than init's (a
 * container), or it cannot tell (init's namespace hidden from it). */
static bool maybe_private_mounts(void)
{
	struct stat self, init;

	if (stat("/proc/self/ns/mnt", &self) || stat("/proc/1/ns/mnt", &init))
		return true;
	return self.st_ino != init.st_ino;
}

/* bpffs for the pinned sock_hash; pins of earlier runs whose connections are all gone are
 * removed. */
static int prepare_pin_dir(void)
{
	char path[300];
	struct dirent *de;
	DIR *dir;

	struct statfs fs;

	if (statfs(BPFFS, &fs) == 0 && fs.f_type != BPF_FS_MAGIC) {
		if (mount("bpf", BPFFS, "bpf", 0, NULL))
			return -errno;
		if (maybe_private_mounts())
			log_warn("injection: mounted a bpffs of obi's own at " BPFFS ", in a mount "
				 "namespace that may be a container's: there, connections obi puts in "
				 "its SOCKHASH do not survive obi; mount the host's "
				 "(-v /sys/fs/bpf:/sys/fs/bpf)");
		else
			log_info("injection: mounted bpffs at " BPFFS);
	}
	if (mkdir(PIN_DIR, 0700) && errno != EEXIST)
		return -errno;
	dir = opendir(PIN_DIR);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		int fd;

		if (strncmp(de->d_name, "sockhash-", 9))
			continue;
		snprintf(path, sizeof(path), PIN_DIR "/%s", de->d_name);
		fd = bpf_obj_get(path);
		if (fd >= 0 && map_empty(fd))
			unlink(path);
		else if (fd >= 0)
			log_debug("%s still holds live connections; kept", path);
		if (fd >= 0)
			close(fd);
	}
	closedir(dir);
	return 0;
}

int loader_injection_on(struct obi_bpf *skel)
{
	int map_fd = bpf_map__fd(skel->maps.sock_hash);
	char cgroup[256];
	int err, cg_fd;

	err = prepare_pin_dir();
	if (err) {
		log_error("injection: bpffs " PIN_DIR ": %s", strerror(-err));
		return err;
	}
	/* verdict programs first: a socket gets its psock with both when it enters the map */
	if (bpf_prog_attach(bpf_program__fd(skel->progs.obi_sk_msg), map_fd, BPF_SK_MSG_VERDICT, 0) ||
	    bpf_prog_attach(bpf_program__fd(skel->progs.obi_stream_verdict), map_fd,
			    BPF_SK_SKB_STREAM_VERDICT, 0)) {
		err = -errno;
		log_error("injection: attach verdict programs to sock_hash: %s", strerror(-err));
		return err;
	}
	snprintf(inj.pin, sizeof(inj.pin), PIN_DIR "/sockhash-%d", getpid());
	unlink(inj.pin);
	if (bpf_obj_pin(map_fd, inj.pin)) {
		err = -errno;
		log_error("injection: pin sock_hash at %s: %s", inj.pin, strerror(-err));
		inj.pin[0] = '\0';
		return err;
	}
	err = cgroup2_root(cgroup, sizeof(cgroup));
	if (err) {
		log_error("injection: no cgroup v2 mount in /proc/mounts (sock_ops needs one)");
		return err;
	}
	cg_fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0) {
		err = -errno;
		log_error("injection: open %s: %s", cgroup, strerror(-err));
		return err;
	}
	inj.sockops = bpf_program__attach_cgroup(skel->progs.obi_sockops, cg_fd);
	close(cg_fd);
	if (!inj.sockops) {
		err = -errno;
		log_error("injection: attach sock_ops to %s: %s", cgroup, strerror(-err));
		return err;
	}
	skel->data_inject->inject_only_tgid = UINT32_MAX;	/* nobody, until the self-test says */
	skel->data_inject->inject_on = 1;
	log_debug("injection: sock_ops on %s, sock_hash pinned at %s", cgroup, inj.pin);
	return 0;
}

void loader_injection_scope(struct obi_bpf *skel, uint32_t only_pid)
{
	skel->data_inject->inject_only_tgid = only_pid;
}

void loader_injection_off(struct obi_bpf *skel)
{
	skel->data_inject->inject_on = 0;
	bpf_link__destroy(inj.sockops);
	inj.sockops = NULL;
}

void loader_stop(struct obi_bpf *skel)
{
	int map_fd = bpf_map__fd(skel->maps.sock_hash);

	loader_injection_off(skel);
	/* Connections still in sock_hash keep their psock while the pin holds the map: dropping
	 * it now would discard bytes they have received but not read yet. */
	if (inj.pin[0] && map_empty(map_fd))
		unlink(inj.pin);
	else if (inj.pin[0])
		log_info("connections opened while injecting stay in %s until they close; a later "
			 "obi removes it once they have", inj.pin);
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
