/*
 * dot.h - float32 dot products for the forward pass's matmuls.
 *
 * The sum order is fixed by the implementation, not by IEEE sequential
 * order: the reference keeps 32 running sums (lane i takes elements
 * i, i+32, ...), adds them pairwise, then the tail in order; the AVX2+FMA
 * version keeps the same 32 lanes in four 8-wide registers but fuses each
 * multiply-add (one rounding instead of two), so the two agree to a few
 * ulps of the sum of |a_i b_i|, not bitwise. dsck_k_dot_ref is the
 * definition the test compares against within that bound.
 */
#ifndef DSCK_DOT_H
#define DSCK_DOT_H

#include <stddef.h>

float dsck_k_dot(const float *a, const float *b, size_t n);
float dsck_k_dot_ref(const float *a, const float *b, size_t n);
float dsck_k_dot_avx2(const float *a, const float *b, size_t n);
/* Name of the implementation dsck_k_dot uses: "ref" or "avx2". */
const char *dsck_k_dot_impl(void);

#endif
