// SPDX-License-Identifier: Apache-2.0
/*
 * syscalltax [N]: what obi costs a process it does not instrument. Times N getppid() calls
 * and N one-byte read()s of /dev/zero (no socket anywhere) and prints ns per call. Run it
 * without obi and beside obi on each hook set (bench/cost/tax.sh): a syscall tracepoint
 * program runs for every task's call of its syscall, and any attached syscall tracepoint puts
 * every syscall of every task on the kernel's traced slow path; the socket tracepoints do not.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	int fd = open("/dev/zero", O_RDONLY);
	double t0, t1, t2;
	char byte;

	if (fd < 0 || n <= 0) {
		perror("syscalltax: /dev/zero");
		return 1;
	}
	t0 = now_ns();
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	t1 = now_ns();
	for (long i = 0; i < n; i++)
		if (read(fd, &byte, 1) != 1)
			return 1;
	t2 = now_ns();
	printf("getppid %.0f ns, read(/dev/zero) %.0f ns\n", (t1 - t0) / n, (t2 - t1) / n);
	return 0;
}
