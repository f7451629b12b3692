/* SPDX-License-Identifier: Apache-2.0 */
/* Minimal assertions for obi's unit tests: count failures, report them, exit non-zero. */
#ifndef OBI_CHECK_H
#define OBI_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                    \
	do {                                                                           \
		check_count++;                                                         \
		if (!(cond)) {                                                         \
			check_failures++;                                              \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
		}                                                                      \
	} while (0)

#define CHECK_INT(a, b)                                                                \
	do {                                                                           \
		long long _a = (long long)(a), _b = (long long)(b);                    \
		check_count++;                                                         \
		if (_a != _b) {                                                        \
			check_failures++;                                              \
			fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, \
				#a, _a, _b);                                           \
		}                                                                      \
	} while (0)

#define CHECK_STR(a, b)                                                                \
	do {                                                                           \
		const char *_a = (a), *_b = (b);                                       \
		check_count++;                                                         \
		if (strcmp(_a, _b) != 0) {                                             \
			check_failures++;                                              \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, \
				__LINE__, #a, _a, _b);                                 \
		}                                                                      \
	} while (0)

/* Call at the end of main(): prints a summary, returns the process exit code. */
static inline int check_done(const char *name)
{
	fprintf(stderr, "%s: %d checks, %d failed\n", name, check_count, check_failures);
	return check_failures ? 1 : 0;
}

#endif /* OBI_CHECK_H */
