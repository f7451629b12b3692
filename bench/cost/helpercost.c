// SPDX-License-Identifier: Apache-2.0
/* helpercost: runs helpercost.bpf.o's program in each mode over 200,000 getppid() calls and
 * prints run_time_ns per run and the cost of one operation (see helpercost.bpf.c). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define REPEAT 16
#define CALLS 200000

static const char *modes[] = {
	"the loop alone (the floor of a run)", "bpf_get_current_pid_tgid", "LRU hash lookup",
	"hash lookup", "array lookup", "per-CPU array value read", "bpf_probe_read_user 64 B",
	"bpf_ktime_get_ns", "bpf_ringbuf_output 200 B", "bpf_get_prandom_u32",
	"bpf_task_storage_get", "bpf_probe_read_kernel 8 B",
};

static double ns_per_run(int prog, __u64 mode, int cfg)
{
	struct bpf_prog_info a = {}, b = {};
	__u32 len = sizeof(a), one = 1;

	bpf_map_update_elem(cfg, &one, &mode, BPF_ANY);
	for (int i = 0; i < CALLS / 10; i++)
		syscall(SYS_getppid);
	bpf_obj_get_info_by_fd(prog, &a, &len);
	for (int i = 0; i < CALLS; i++)
		syscall(SYS_getppid);
	len = sizeof(b);
	bpf_obj_get_info_by_fd(prog, &b, &len);
	return (double)(b.run_time_ns - a.run_time_ns) / (double)(b.run_cnt - a.run_cnt);
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "helpercost.bpf.o";
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	__u64 key = 0xffff888812345600ULL, value[5] = { 1 }, pid = getpid();
	struct bpf_program *prog;
	__u32 zero = 0;
	int cfg, fd;
	double floor;

	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "helpercost: cannot load %s\n", path);
		return 1;
	}
	prog = bpf_object__find_program_by_name(obj, "helpercost");
	if (!bpf_program__attach(prog)) {
		fprintf(stderr, "helpercost: cannot attach (tracefs mounted?)\n");
		return 1;
	}
	/* the hash maps hold 20,000 keys besides the one looked up */
	for (__u64 k = 1; k <= 20000; k++) {
		__u64 other = k * 2654435761ULL;

		bpf_map_update_elem(bpf_object__find_map_fd_by_name(obj, "lru"), &other, value, 0);
		bpf_map_update_elem(bpf_object__find_map_fd_by_name(obj, "hash"), &other, value, 0);
	}
	bpf_map_update_elem(bpf_object__find_map_fd_by_name(obj, "lru"), &key, value, 0);
	bpf_map_update_elem(bpf_object__find_map_fd_by_name(obj, "hash"), &key, value, 0);
	if (mmap((void *)0x7ffff0000000ULL, 4096, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
		perror("helpercost: mmap");
		return 1;
	}
	memset((void *)0x7ffff0000000ULL, 1, 4096);
	cfg = bpf_object__find_map_fd_by_name(obj, "cfg");
	bpf_map_update_elem(cfg, &zero, &pid, BPF_ANY);
	fd = bpf_program__fd(prog);
	floor = ns_per_run(fd, 0, cfg);
	printf("| operation (hot, %d per run) | ns per run | ns per operation |\n|---|---|---|\n", REPEAT);
	printf("| %s | %.1f | |\n", modes[0], floor);
	for (__u64 m = 1; m < sizeof(modes) / sizeof(modes[0]); m++) {
		double ns = ns_per_run(fd, m, cfg);

		printf("| %s | %.1f | %.1f |\n", modes[m], ns, (ns - floor) / REPEAT);
	}
	return 0;
}
