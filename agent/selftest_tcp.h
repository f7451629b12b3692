/* SPDX-License-Identifier: Apache-2.0 */
#ifndef OBI_SELFTEST_TCP_H
#define OBI_SELFTEST_TCP_H

#include <stdint.h>

/* The data segments the socket has received so far (TCP_INFO tcpi_data_segs_in); 0 or -1. */
int selftest_data_segs_in(int fd, uint32_t *segs);

#endif /* OBI_SELFTEST_TCP_H */
