/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reading a captured HTTP/1 request head in the kernel: the scan for the request line's end,
 * the head's end and the framing and traceparent headers, a Content-Length value and the
 * traceparent parser. Pure functions over a buffer, with no map or helper, so that the same
 * source is also compiled for user space and checked there against obi's user-space parsers
 * (test/fuzz/fuzz_head_scan.c). Needs __u8..__u64, bool, barrier_var() and ebpf/obi.h.
 */
#ifndef OBI_HEAD_BPF_H
#define OBI_HEAD_BPF_H

struct head_scan {
	__s32 line_end; /* index of the '\n' ending the request line, -1 if none */
	__s32 head_end; /* index just past the empty line ending the head, -1 if unseen */
	__s32 tp_val;	/* index just past "traceparent:", -1 if none */
	__u32 tp_count; /* traceparent headers seen */
	__s32 cl_val;	/* index just past "content-length:", -1 if none */
	__u16 cl_count; /* Content-Length headers seen */
	__u16 te_count; /* Transfer-Encoding headers seen */
};

/* "tracepar" and "ent:" as little-endian words, for a case-insensitive compare (| 0x20). */
#define TP_NAME_LO 0x7261706563617274ULL
#define TP_NAME_HI 0x3a746e65U
#define ONES	   0x0101010101010101ULL
#define HIGHS	   0x8080808080808080ULL
#define NEWLINES   0x0a0a0a0a0a0a0a0aULL

/* "content-length:" and "transfer-encoding:", the framing headers of a request body. */
#define CL_NAME_LO 0x2d746e65746e6f63ULL /* "content-" */
#define CL_NAME_HI 0x3a6874676e656cULL	 /* "length:" */
#define TE_NAME_LO 0x726566736e617274ULL /* "transfer" */
#define TE_NAME_MID 0x6e69646f636e652dULL /* "-encodin" */

/* Case folds only the letters' bytes (| 0x20): a '-' or ':' must be itself, not a control
 * byte that | 0x20 turns into one ('\r' | 0x20 is '-'). */
static __always_inline bool cl_name_at(const __u8 *p)
{
	__u64 lo, hi = 0;

	__builtin_memcpy(&lo, p, 8);
	__builtin_memcpy(&hi, p + 8, 7);
	return (lo | 0x0020202020202020ULL) == CL_NAME_LO && (hi | 0x0000202020202020ULL) == CL_NAME_HI;
}

static __always_inline bool te_name_at(const __u8 *p)
{
	__u64 lo, mid;

	__builtin_memcpy(&lo, p, 8);
	__builtin_memcpy(&mid, p + 8, 8);
	return (lo | 0x2020202020202020ULL) == TE_NAME_LO &&
	       (mid | 0x2020202020202000ULL) == TE_NAME_MID;
}

static __always_inline bool tp_name_at(const __u8 *p)
{
	__u64 lo;
	__u32 hi;

	__builtin_memcpy(&lo, p, 8);
	__builtin_memcpy(&hi, p + 8, 4);
	return (lo | 0x2020202020202020ULL) == TP_NAME_LO && (hi | 0x00202020U) == TP_NAME_HI;
}

/* One eight-byte word of the head at b[base], n bytes captured: words without a '\n' cost a
 * load and three ALU ops. 1 when the scan is over. */
static __always_inline long scan_word_at(const __u8 *b, __u32 base, __u32 n, struct head_scan *s)
{
	__u64 x, y;

	__builtin_memcpy(&x, b + base, 8);
	y = x ^ NEWLINES;
	if (!((y - ONES) & ~y & HIGHS))
		return 0;
	for (__u32 j = 0; j < 8; j++) {
		__u32 p = base + j;

		if (p + 1 >= n)
			return 1;
		if (b[p] != '\n')
			continue;
		/* a line starts at p + 1: the end of the head, or maybe traceparent */
		if (s->line_end < 0)
			s->line_end = p;
		if (b[p + 1] == '\n') {
			s->head_end = p + 2;
			return 1;
		} else if (b[p + 1] == '\r' && p + 2 < n && b[p + 2] == '\n') {
			s->head_end = p + 3;
			return 1;
		} else if (p + 13 <= n && tp_name_at(b + p + 1)) {
			s->tp_count++;
			s->tp_val = p + 13;
		} else if (p + 16 <= n && cl_name_at(b + p + 1)) {
			s->cl_count++;
			s->cl_val = p + 16;
		} else if (p + 17 <= n && te_name_at(b + p + 1)) {
			s->te_count++;
		}
	}
	return 0;
}

static __always_inline int hex_nibble(__u8 c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* W3C: lowercase only */
}

/* Decodes 2*len hex digits at b[off]; false on a bad digit or an all-zero id. */
static __always_inline bool hex_id(const __u8 *b, __u32 off, __u8 *out, __u32 len)
{
	__u8 any = 0;

	for (__u32 i = 0; i < 16; i++) {
		int hi, lo;

		if (i >= len)
			break;
		hi = hex_nibble(b[(off + 2 * i) & (OBI_CAP_MAX - 1)]);
		lo = hex_nibble(b[(off + 2 * i + 1) & (OBI_CAP_MAX - 1)]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = hi << 4 | lo;
		any |= out[i];
	}
	return any != 0;
}

static __always_inline bool is_blank(const __u8 *b, __u32 p)
{
	__u8 c = b[p & (OBI_CAP_MAX - 1)];

	return c == ' ' || c == '\t';
}

/* Past the blanks at b[v] (at most OBI_TP_OWS_MAX); n + 1 when there are more. */
static __always_inline __u32 skip_blanks(const __u8 *b, __u32 v, __u32 n)
{
	for (int i = 0; i < OBI_TP_OWS_MAX; i++) {
		if (v >= n || !is_blank(b, v))
			return v;
		v++;
	}
	return v < n && is_blank(b, v) ? n + 1 : v;
}

/* The traceparent value ends at b[v]: only blanks up to the line's end ("\r\n" or "\n"), or
 * up to the end of what was captured. */
static __always_inline bool value_ends(const __u8 *b, __u32 v, __u32 n)
{
	v = skip_blanks(b, v, n);
	if (v >= n)
		return v == n;
	if (b[v & (OBI_CAP_MAX - 1)] == '\n')
		return true;
	return b[v & (OBI_CAP_MAX - 1)] == '\r' &&
	       (v + 1 >= n || b[(v + 1) & (OBI_CAP_MAX - 1)] == '\n');
}

/*
 * Parses the traceparent value after "traceparent:" at b[v], blanks around it allowed (W3C
 * Trace Context level 2, as traceparent_parse() in user space):
 * "<version>-<32 hex trace>-<16 hex parent>-<2 hex flags>". Version ff is invalid, 00 ends
 * there, a later one may go on with "-<more fields>". *value_at: where the value starts.
 */
static __always_inline bool parse_traceparent(const __u8 *b, __u32 v, __u32 n, struct obi_trace *t,
					      __u32 *value_at)
{
	int v_hi, v_lo;

	v = skip_blanks(b, v, n);
	if (v + 55 > n || v + 55 > OBI_CAP_MAX)
		return false;
	v &= OBI_CAP_MAX - 1;
	*value_at = v;
	v_hi = hex_nibble(b[v]);
	v_lo = hex_nibble(b[(v + 1) & (OBI_CAP_MAX - 1)]);
	if (v_hi < 0 || v_lo < 0 || (v_hi == 15 && v_lo == 15) ||
	    b[(v + 2) & (OBI_CAP_MAX - 1)] != '-' || b[(v + 35) & (OBI_CAP_MAX - 1)] != '-' || b[(v + 52) & (OBI_CAP_MAX - 1)] != '-')
		return false;
	if (!((v_hi | v_lo) && v + 55 < n && b[(v + 55) & (OBI_CAP_MAX - 1)] == '-') &&
	    !value_ends(b, v + 55, n))
		return false;
	if (!hex_id(b, v + 3, t->trace_id, 16) || !hex_id(b, v + 36, t->parent_id, 8))
		return false;
	if (hex_nibble(b[(v + 53) & (OBI_CAP_MAX - 1)]) < 0 ||
	    hex_nibble(b[(v + 54) & (OBI_CAP_MAX - 1)]) < 0)
		return false;
	t->flags = hex_nibble(b[(v + 53) & (OBI_CAP_MAX - 1)]) << 4 |
		   hex_nibble(b[(v + 54) & (OBI_CAP_MAX - 1)]);
	return true;
}

/* Content-Length's value at b[at]: decimal digits after optional blanks, ended by CR, LF or a
 * blank. False when it is not one. */
static __always_inline bool content_length(const __u8 *b, __s32 at, __u32 n, __u64 *len)
{
	__u64 v = 0;
	bool digits = false;

	for (__u32 i = 0; i < 24; i++) {
		__u32 p = (__u32)at + i;
		__u8 c;

		if (p >= n || p >= OBI_CAP_MAX)
			return false;
		barrier_var(p);	/* index b by p itself, masked: a bound the verifier sees */
		c = b[p & (OBI_CAP_MAX - 1)];
		if (c == ' ' || c == '\t') {
			if (digits)
				break;
			continue;
		}
		if (c == '\r' || c == '\n')
			break;
		if (c < '0' || c > '9' || v > 0xffffffffffffULL)
			return false;
		v = v * 10 + (c - '0');
		digits = true;
	}
	*len = v;
	return digits;
}

#endif /* OBI_HEAD_BPF_H */
