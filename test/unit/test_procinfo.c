// SPDX-License-Identifier: Apache-2.0
/* core/procinfo.c: the container id from /proc/PID/cgroup, as each runtime writes it. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "procinfo.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void check_id(const char *cgroup, const char *want, int line)
{
	char out[65] = "unchanged";
	int rc = procinfo_container_id(cgroup, out, sizeof(out));

	check_count++;
	if (want ? rc != 0 || strcmp(out, want) : rc == 0) {
		check_failures++;
		fprintf(stderr, "%s:%d: container id of %s: expected %s, got %s (rc %d)\n", __FILE__,
			line, cgroup, want ? want : "none", rc ? "none" : out, rc);
	}
}

#define ID_OF(cg, want) check_id(cg, want, __LINE__)

int main(void)
{
	struct proc_info pi;

	/* Docker, cgroup v1 and v2 with the systemd driver */
	ID_OF("12:pids:/docker/" ID "\n11:memory:/docker/" ID "\n", ID);
	ID_OF("0::/system.slice/docker-" ID ".scope\n", ID);
	/* containerd, CRI-O and Podman under Kubernetes or alone */
	ID_OF("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/"
	      "cri-containerd-" ID ".scope\n", ID);
	ID_OF("0::/kubepods/besteffort/pod5678/crio-" ID "\n", ID);
	ID_OF("0::/machine.slice/libpod-" ID ".scope/container\n", ID);
	ID_OF("1:name=systemd:/kubepods/burstable/podabc/" ID "\n", ID);
	/* no container: a host process, a systemd service, an id one digit short or in capitals */
	ID_OF("0::/user.slice/user-0.slice/session-1.scope\n", NULL);
	ID_OF("0::/system.slice/nginx.service\n", NULL);
	ID_OF("0::/docker/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n", NULL);
	ID_OF("0::/docker/0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\n", NULL);
	ID_OF("", NULL);

	/* this test runs on the host: its own process has none */
	CHECK_INT(procinfo_read("/proc", (uint32_t)getpid(), &pi), 0);
	CHECK_STR(pi.container_id, "");
	return check_done("test_procinfo");
}
