/*
 * arith.h - checked arithmetic for every size that comes from a file.
 *
 * Each helper returns 0 and stores the result, or returns 1 on overflow and
 * leaves *out unspecified. No guard may depend on a value it is guarding
 * (formats.md G-R2): compute with these, then compare.
 */
#ifndef DSCK_ARITH_H
#define DSCK_ARITH_H

#include <errno.h>
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>

static inline int dsck_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return __builtin_add_overflow(a, b, out);
}

static inline int dsck_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return __builtin_mul_overflow(a, b, out);
}

static inline int dsck_sub_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return __builtin_sub_overflow(a, b, out);
}

/* ceil(a / b) for b > 0; cannot overflow. b == 0 reports overflow. */
static inline int dsck_ceil_div_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	if (b == 0)
		return 1;
	*out = a / b + (a % b != 0);
	return 0;
}

/* ceil(a / b) for b > 0 known to be nonzero (block sizes, rank counts):
 * the form a/b + (a%b != 0) cannot overflow, so no check is needed. */
static inline uint64_t dsck_div_up_u64(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

/* Round a up to a multiple of align (align > 0). */
static inline int dsck_align_up_u64(uint64_t a, uint64_t align, uint64_t *out)
{
	uint64_t q;
	if (dsck_ceil_div_u64(a, align, &q))
		return 1;
	return dsck_mul_u64(q, align, out);
}

/* uint64 -> size_t, for allocation sizes (matters on 32-bit targets). */
static inline int dsck_u64_to_size(uint64_t a, size_t *out)
{
	if (a > (uint64_t)SIZE_MAX)
		return 1;
	*out = (size_t)a;
	return 0;
}

/* A decimal unsigned integer that is the whole of s (no sign, no space),
 * at most max: 0 and *out set, or -1 (out of range, overflow, other text).
 * For command-line values. */
static inline int dsck_u64_parse(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	if (!s || s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

#endif
