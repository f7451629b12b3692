/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel <-> user space boundary: every struct that BPF writes and the agent reads.
 * Fixed-width types and explicit padding only; sizes are pinned with _Static_assert so the
 * BPF and host compilers agree.
 */
#ifndef OBI_BOUNDARY_H
#define OBI_BOUNDARY_H

#ifdef __BPF__
/* vmlinux.h provides __u8 ... __u64 */
#else
#include <linux/types.h>
#endif

/* Bytes copied from the first buffer of a syscall that starts an HTTP request (its whole head
 * is wanted: traceparent may be anywhere in it), and one that starts a response. */
#define OBI_CAP_REQUEST 4096
#define OBI_CAP_START 1024
/* Bytes copied from later buffers of a connection already seen speaking HTTP. */
#define OBI_CAP_CONT 256
#define OBI_CAP_MAX OBI_CAP_REQUEST
/* Bytes kept from the end of every buffer (chunked-encoding terminator detection). */
#define OBI_TAIL 8

#define OBI_PORT_WORDS (65536 / 64)
/* One bit per pid up to the kernel's PID_MAX_LIMIT (4194304): the pid_bits map. */
#define OBI_PID_WORDS (4194304 / 64)

enum obi_event_type {
	OBI_EV_DATA = 1,	/* bytes read or written on a TCP socket */
	OBI_EV_CLOSE = 2,	/* close() of a tracked TCP socket */
	OBI_EV_PROC_NEW = 3,	/* a process was selected in the kernel (listen, fork, pidns) */
	OBI_EV_PROC_EXIT = 4,	/* a selected process exited */
	OBI_EV_EXEC = 5,	/* some process called exec (only with exe selectors) */
	OBI_EV_LISTEN = 6,	/* an unselected process listens on a watched port (obi_proc_event) */
};

enum obi_dir {
	OBI_DIR_RECV = 0,
	OBI_DIR_SEND = 1,
};

/* Why the kernel selected a process by itself. */
enum obi_select_reason {
	OBI_SEL_LISTEN = 1,
	OBI_SEL_FORK = 2,
	OBI_SEL_PIDNS = 3,
};

/* Data event flags. */
#define OBI_F_MSG_START 0x1	/* buffer starts with an HTTP request or status line */
#define OBI_F_SENDFILE 0x2	/* bytes moved by sendfile: no payload */
#define OBI_F_DB_START 0x4	/* buffer starts a database request (RESP, PostgreSQL, MySQL) or
				 * MySQL's handshake */

struct obi_sockaddr {
	__u8 addr[16];		/* IPv4 in the first 4 bytes, or IPv6 (v4-mapped kept as is) */
	__u16 port;		/* host byte order */
	__u8 family;		/* AF_INET or AF_INET6 */
	__u8 _pad;
};
_Static_assert(sizeof(struct obi_sockaddr) == 20, "obi_sockaddr layout");

/* Trace context the kernel gave a request (server: the span it starts; client: its span). */
#define OBI_TP_IDS 0x01		/* trace_id and span_id are set */
#define OBI_TP_REMOTE 0x02	/* parent_id from the request's own traceparent header */
#define OBI_TP_LOCAL 0x04	/* parent_id = the server span this thread is handling */
#define OBI_TP_BAD 0x08		/* the request carried an invalid traceparent: new trace */
#define OBI_TP_INSERT 0x10	/* sk_msg was asked to insert a traceparent header */
#define OBI_TP_REWRITE 0x20	/* sk_msg was asked to rewrite the parent id in place */
#define OBI_TP_DONE 0x40	/* sk_msg did what it was asked */
#define OBI_TP_FOREIGN 0x80	/* the request carries a traceparent of another trace: left as is */

struct obi_trace {
	__u8 trace_id[16];
	__u8 span_id[8];
	__u8 parent_id[8];	/* all zero: no parent */
	__u8 flags;		/* W3C trace flags */
	__u8 state;		/* OBI_TP_* */
	__u8 _pad[6];
};
_Static_assert(sizeof(struct obi_trace) == 40, "obi_trace layout");

/* How the sampled flag (trace-flags bit 0) of a span without a parent is decided, for the
 * OTEL_TRACES_SAMPLER samplers (core/sampling.h): the kernel decides it where a span starts,
 * so what goes out on the wire and what is exported agree. */
#define OBI_SAMPLE_ROOT_ALWAYS 0
#define OBI_SAMPLE_ROOT_NEVER 1
#define OBI_SAMPLE_ROOT_RATIO 2	/* the trace id's last 8 bytes (big-endian) >> 1 < bound */

/* Blanks (spaces, tabs) accepted on each side of a traceparent value (TRACEPARENT_OWS_MAX in
 * user space): a bounded loop, run only over a traceparent header's own blanks. */
#define OBI_TP_OWS_MAX 16

/* The traceparent header sk_msg inserts after the request line. */
#define OBI_TP_HEADER_LEN 70	/* "traceparent: " + 55 + "\r\n" */

struct obi_event_hdr {
	__u8 type;		/* enum obi_event_type */
	__u8 _pad[3];
	__u32 pid;		/* tgid as seen from obi's PID namespace */
	__u32 tid;
	__u32 _pad2;
	__u64 ts_ns;		/* CLOCK_MONOTONIC, at syscall exit */
};
_Static_assert(sizeof(struct obi_event_hdr) == 24, "obi_event_hdr layout");

struct obi_data_event {
	struct obi_event_hdr hdr;
	__u64 sock_id;		/* kernel address of the struct sock: the connection's identity */
	__u64 enter_ns;		/* CLOCK_MONOTONIC: a client request met sk_msg; else = ts_ns */
	__u64 rx_total;		/* bytes received on this socket before this call */
	__u64 tx_total;		/* bytes sent on this socket before this call */
	struct obi_sockaddr local;
	struct obi_sockaddr remote;
	__u32 fd;
	__u32 len;		/* bytes the syscall moved */
	__u16 cap_len;		/* bytes of data[] that are valid */
	__u8 dir;		/* enum obi_dir */
	__u8 flags;		/* OBI_F_* */
	__u8 tail_len;		/* bytes of tail[] that are valid */
	__u8 _pad[3];
	__u8 tail[OBI_TAIL];	/* last bytes of the buffer */
	struct obi_trace trace;	/* for a request start: the span's ids */
	__u8 data[OBI_CAP_MAX];
};
_Static_assert(sizeof(struct obi_data_event) == 24 + 32 + 40 + 16 + 8 + 40 + OBI_CAP_MAX,
	       "obi_data_event layout");
#define OBI_DATA_HDR_SIZE (sizeof(struct obi_data_event) - OBI_CAP_MAX)

struct obi_close_event {
	struct obi_event_hdr hdr;
	__u64 sock_id;
	__u64 rx_total;
	__u64 tx_total;
	__u32 fd;
	__u32 _pad;
};
_Static_assert(sizeof(struct obi_close_event) == 56, "obi_close_event layout");

struct obi_proc_event {
	struct obi_event_hdr hdr;
	__u32 ppid;		/* for OBI_SEL_FORK: the selected parent */
	__u16 port;		/* for OBI_SEL_LISTEN and OBI_EV_LISTEN: the port */
	__u8 reason;		/* enum obi_select_reason */
	__u8 _pad;
};
_Static_assert(sizeof(struct obi_proc_event) == 32, "obi_proc_event layout");

/* Values of the traced_pids map. */
struct obi_pid_info {
	__u8 reason;		/* 0 = selected by user space, else enum obi_select_reason */
	__u8 _pad[7];
};

/* Which end of a database connection the selected process is (obi_conn.db_role). */
enum obi_db_role {
	OBI_DB_NONE = 0,
	OBI_DB_CLIENT = 1,
	OBI_DB_SERVER = 2,
	OBI_DB_MYSQL = 0x80,	/* with a role, from the kernel's db_start: a MySQL handshake */
};

/* Per-socket counters kept by the kernel (conn_slots map, for socket sock_id). */
struct obi_conn {
	__u64 rx_total;
	__u64 tx_total;
	__u32 pid;
	__u8 is_http;		/* a message start was seen on this socket */
	__u8 db_role;		/* enum obi_db_role: which end of a database connection */
	__u8 db_mysql;		/* the connection began with a MySQL handshake */
	__u8 _pad;
	/* the server request last read on this socket, until its response starts */
	__u64 req_id;		/* reading thread (pid_tgid); 0 = none */
	__u32 req_hash;		/* its path hash (0: not origin-form) */
	__u32 _pad2;
};
_Static_assert(sizeof(struct obi_conn) == 40, "obi_conn layout");

/* Slots of the `tails` program array (the syscall exits' heavy halves), filled by the loader. */
enum obi_tail {
	OBI_TAIL_PLAN_REQUEST = 0,	/* plan_request: a send that starts a request, unplanned */
	OBI_TAIL_EMIT_REQUEST = 1,	/* emit_request: a receive that starts a request */
	OBI_TAIL_MAX,
};

/* Kernel-side counters of events lost (ring buffer full) and skipped, per CPU. */
enum obi_counter {
	OBI_CNT_RINGBUF_FULL = 0,
	OBI_CNT_NOT_TCP,
	OBI_CNT_INJECTED,	/* traceparent headers inserted */
	OBI_CNT_REWRITTEN,	/* traceparent parent ids rewritten in place */
	OBI_CNT_INJECT_SKIPPED,	/* requests sent without injection (head not provably whole) */
	OBI_CNT_CONN_TABLE_FULL,	/* HTTP connections not followed: no free slot in conn_slots */
	OBI_CNT_INJECT_OFF_PROTO,	/* connections never touched: their first send is no request */
	OBI_CNT_INJECT_OFF_FRAMING,	/* connections no longer touched: a request's framing could
					 * not be followed (chunked, head over several sends, ...) */
	OBI_CNT_INJECT_BODY,	/* sends passed untouched as request bodies */
	OBI_CNT_INJECT_NO_STATE,	/* sends passed untouched: no framing state for the socket */
	OBI_CNT_INJECT_FAILED,	/* planned headers not written: a helper failed, or the bytes
				 * at the insertion point were not what the plan saw */
	OBI_CNT_INJECT_UNDO_FAILED,	/* of those, sends whose inserted room could not be taken
					 * back (they went out longer) */
	OBI_CNT_RX_OVERLAP,	/* received segments on SOCKHASH sockets that began with bytes
				 * already delivered, trimmed to their new bytes */
	OBI_CNT_RX_OVERLAP_FAILED,	/* of those, segments that could not be trimmed whole */
	OBI_CNT_INJECT_PEER_NOT_HTTP,	/* connections kept out of sock_hash: their server's
					 * last connection began with something else than HTTP/1 */
	OBI_CNT_MAX,
};

#endif /* OBI_BOUNDARY_H */
