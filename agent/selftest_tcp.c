// SPDX-License-Identifier: Apache-2.0
/* TCP_INFO's count of data segments received, which glibc's struct tcp_info does not name: in
 * a file of its own, as <linux/tcp.h> and <netinet/tcp.h> do not go together. */
#include "selftest_tcp.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

int selftest_data_segs_in(int fd, uint32_t *segs)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) ||
	    len < offsetof(struct tcp_info, tcpi_data_segs_in) + sizeof(ti.tcpi_data_segs_in))
		return -1;
	*segs = ti.tcpi_data_segs_in;
	return 0;
}
