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
#include <stdint.h>

float dsck_k_dot(const float *a, const float *b, size_t n);
float dsck_k_dot_ref(const float *a, const float *b, size_t n);
float dsck_k_dot_avx2(const float *a, const float *b, size_t n);
/*
 * One FP8 weight row times x: sum over column blocks k of
 * scales[k] * sum_{j in block k} e4m3(codes[j]) * x[j], blocks of bc
 * columns (the last may be partial), n columns in all. The block sums are
 * taken before the scale, not over float32(code * scale) as a dequantized
 * copy would: the two differ by about an ulp of the row's sum of |terms|.
 * e4m3fn per D-R1 (0x7F/0xFF are NaN). The AVX-512 version needs bc a
 * multiple of 16 (DeepSeek's 128), the VBMI one a multiple of 64, else
 * each runs the next one down; each runs the next one down on a CPU
 * without its instructions, so tests may call any of them.
 */
float dsck_k_row_e4m3(const uint8_t *codes, const float *scales, const float *x, size_t n,
		      size_t bc);
float dsck_k_row_e4m3_ref(const uint8_t *codes, const float *scales, const float *x,
			  size_t n, size_t bc);
float dsck_k_row_e4m3_avx512(const uint8_t *codes, const float *scales, const float *x,
			     size_t n, size_t bc);
float dsck_k_row_e4m3_avx512vbmi(const uint8_t *codes, const float *scales, const float *x,
				 size_t n, size_t bc);

/*
 * One FP8 row against S token vectors: y[t * ldy] = the row kernel of
 * x + t * ldx, t < S. The VBMI version decodes the codes once for up to 4
 * tokens and gives each token its one-token result bit for bit; without
 * VBMI each token runs the row kernel.
 */
void dsck_k_rows_e4m3(const uint8_t *codes, const float *scales, const float *x, size_t ldx,
		      size_t S, size_t n, size_t bc, float *y, size_t ldy);
void dsck_k_rows_e4m3_ref(const uint8_t *codes, const float *scales, const float *x,
			  size_t ldx, size_t S, size_t n, size_t bc, float *y, size_t ldy);
void dsck_k_rows_e4m3_avx512vbmi(const uint8_t *codes, const float *scales, const float *x,
				  size_t ldx, size_t S, size_t n, size_t bc, float *y, size_t ldy);

/*
 * y[j] += (a * scales[j / bc]) * e4m3(codes[j]) for j < n: one FP8 row
 * added into y (a product x^T W taken row by row). The factor a * scale is
 * rounded once per block; NaN codes give NaN. The AVX-512 version needs bc
 * a multiple of 16, else it runs the reference.
 */
void dsck_k_axpy_e4m3(const uint8_t *codes, const float *scales, float a, float *y, size_t n,
		      size_t bc);
void dsck_k_axpy_e4m3_ref(const uint8_t *codes, const float *scales, float a, float *y,
			  size_t n, size_t bc);
void dsck_k_axpy_e4m3_avx512(const uint8_t *codes, const float *scales, float a, float *y,
			     size_t n, size_t bc);

/* sum_i bf16(w[i]) * x[i] (BF16 widened exactly, D-R3); the sum order of
 * dsck_k_dot_ref for the reference, 16-lane FMA chains for AVX-512. */
float dsck_k_dot_bf16(const uint16_t *w, const float *x, size_t n);
float dsck_k_dot_bf16_ref(const uint16_t *w, const float *x, size_t n);
float dsck_k_dot_bf16_avx512(const uint16_t *w, const float *x, size_t n);

/* Name of the implementation dsck_k_dot uses: "ref" or "avx2". */
const char *dsck_k_dot_impl(void);

#endif
