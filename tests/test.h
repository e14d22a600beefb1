/*
 * test.h - the in-tree unit-test harness: TAP-style lines, one per check.
 *
 *   CHECK(cond, "what is checked %d", x);   prints "ok N - ..." or "not ok N - ..."
 *   CHECK_EQ_U64(a, b, "...");              shows both values on failure
 *   return test_done();                     exit 1 if any check failed
 *
 * tests/run.sh counts the lines of every test program into the final
 * "N passed, N failed".
 */
#ifndef DSCK_TEST_H
#define DSCK_TEST_H

#include <inttypes.h>
#include <stdio.h>

static int test_n_run, test_n_failed;

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		int ok_ = !!(cond);                                          \
		test_n_run++;                                                \
		if (!ok_)                                                    \
			test_n_failed++;                                     \
		printf("%s %d - ", ok_ ? "ok" : "not ok", test_n_run);       \
		printf(__VA_ARGS__);                                         \
		if (!ok_)                                                    \
			printf("  [%s:%d: %s]", __FILE__, __LINE__, #cond);  \
		printf("\n");                                                \
		fflush(stdout);                                              \
	} while (0)

#define CHECK_EQ_U64(a, b, ...)                                              \
	do {                                                                 \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);             \
		CHECK(a_ == b_, __VA_ARGS__);                                \
		if (a_ != b_)                                                \
			printf("#   got %" PRIu64 ", want %" PRIu64 "\n", a_, b_); \
	} while (0)

static inline int test_done(void)
{
	printf("# %d checks, %d failed\n", test_n_run, test_n_failed);
	return test_n_failed ? 1 : 0;
}

#endif
