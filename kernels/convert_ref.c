/*
 * convert_ref.c - reference conversion kernels (convert.h): portable C, one
 * element at a time. These functions define the results; the SIMD kernels
 * must match them bit for bit (tests/unit/test_kernels.c).
 *
 * All float arithmetic is a single IEEE operation per step (one multiply or
 * one division): this file is built with -std=c11, where GCC does not
 * contract expressions into FMAs, and none of the expressions here could be
 * contracted anyway. Rounding to the narrow formats is done on the bit
 * patterns with integer arithmetic, so it does not depend on libm.
 */
#include "convert.h"
#include "fp8.h"

#include <string.h>

static uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

static float bits_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/*
 * float32 -> bfloat16, round-to-nearest-even on the 16 dropped bits: adding
 * 0x7FFF plus the lowest kept bit carries into the kept half exactly when the
 * dropped half is above one half ulp, or equal to it with an odd kept half.
 * A carry out of the largest finite exponent gives infinity, as it should.
 * NaN is not rounded (that could turn it into infinity): it becomes the
 * quiet NaN with the same sign.
 */
uint16_t dsck_k_f32_to_bf16_rne(float x)
{
	uint32_t u = f32_bits(x);
	if ((u & 0x7FFFFFFFu) > 0x7F800000u)
		return (uint16_t)((u >> 16 & 0x8000u) | 0x7FC0u);
	return (uint16_t)((u + 0x7FFFu + (u >> 16 & 1u)) >> 16);
}

/*
 * float32 q -> e4m3fn, round-to-nearest-even, saturating (convert.h).
 * Magnitude bands of a = |q| bits:
 *   NaN                  0x7F
 *   a >= 448 (0x43E00000), inf included: 0x7E (448). Values in (448, 464]
 *                        would round to 448 anyway; above that e4m3fn has
 *                        no encoding (0x7F is NaN), so they saturate.
 *   2^-6 <= a < 448      normal: rebias the exponent from 127 to 7
 *                        (subtract 120 << 23), then drop 20 mantissa bits
 *                        with the same carry rule as for bf16. The carry may
 *                        move into the exponent (e.g. 1.9375 -> 2.0) and at
 *                        most reaches 448 = 0x7E.
 *   a < 2^-6             subnormal: m = rne(a * 2^9), in 0..8 (8 encodes the
 *                        smallest normal 2^-6, which is the next code).
 *                        a has exponent e and 24-bit significand s (implicit
 *                        bit set when e > 0), so a * 2^9 = s * 2^(e - 141):
 *                        shift s right by 141 - e with ties-to-even. A shift
 *                        of 26 or more leaves less than a quarter: zero.
 */
uint8_t dsck_k_f32_to_e4m3_sat(float q)
{
	uint32_t u = f32_bits(q);
	uint32_t sign = u >> 24 & 0x80u;
	uint32_t a = u & 0x7FFFFFFFu;
	uint32_t code;

	if (a > 0x7F800000u) {
		code = 0x7F;
	} else if (a >= 0x43E00000u) {
		code = 0x7E;
	} else if (a >= 0x3C800000u) {
		a -= 120u << 23;
		code = (a + 0x7FFFFu + (a >> 20 & 1u)) >> 20;
	} else {
		uint32_t e = a >> 23;
		uint32_t s = (a & 0x7FFFFFu) | (e ? 0x800000u : 0);
		uint32_t sh = 141 - (e ? e : 1); /* a subnormal float has e = 1 scale */
		if (sh >= 26)
			code = 0;
		else
			code = (s + (1u << (sh - 1)) - 1u + (s >> sh & 1u)) >> sh;
	}
	return (uint8_t)(sign | code);
}

void dsck_k_ref_e4m3_to_f32(const uint8_t *src, size_t n, float scale,
			    float *dst)
{
	const float *tab = dsck_fp8_e4m3_table();
	for (size_t i = 0; i < n; i++)
		dst[i] = tab[src[i]] * scale;
}

void dsck_k_ref_e4m3_to_bf16(const uint8_t *src, size_t n, float scale,
			     uint16_t *dst)
{
	const float *tab = dsck_fp8_e4m3_table();
	for (size_t i = 0; i < n; i++)
		dst[i] = dsck_k_f32_to_bf16_rne(tab[src[i]] * scale);
}

void dsck_k_ref_f32_to_e4m3(const float *src, size_t n, float scale,
			    uint8_t *dst)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = dsck_k_f32_to_e4m3_sat(src[i] / scale);
}

void dsck_k_ref_bf16_to_e4m3(const uint16_t *src, size_t n, float scale,
			     uint8_t *dst)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = dsck_k_f32_to_e4m3_sat(bits_f32((uint32_t)src[i] << 16) /
						scale);
}
