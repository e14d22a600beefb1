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
/*
 * float32 -> IEEE binary16, round-to-nearest-even (convert.h). Magnitude
 * bands of a = |x| bits:
 *   NaN                  sign|0x7E00 (payload dropped)
 *   a >= 65520 (0x477FF000), inf included: sign|0x7C00. 65520 is the tie
 *                        between 65504 (odd mantissa 0x3FF) and 2^16, so
 *                        it rounds up, to infinity, like everything above.
 *   2^-14 <= a < 65520   normal: rebias the exponent from 127 to 15
 *                        (subtract 112 << 23), drop 13 mantissa bits with
 *                        the carry rule of the bf16 rounding. The carry
 *                        may move into the exponent; it would reach
 *                        0x7C00 (inf) only for a >= 65520, handled above.
 *   a < 2^-14            subnormal: m = rne(a * 2^24), in 0..1024 (1024
 *                        encodes the smallest normal 2^-14, the next
 *                        code). a * 2^24 = s * 2^(e - 126) with s the
 *                        24-bit significand: shift s right by 126 - e
 *                        (>= 14) with ties-to-even; a shift of 25 or more
 *                        leaves less than one half: zero.
 */
uint16_t dsck_k_f32_to_f16_rne(float x)
{
	uint32_t u = f32_bits(x);
	uint32_t sign = u >> 16 & 0x8000u;
	uint32_t a = u & 0x7FFFFFFFu;
	uint32_t code;

	if (a > 0x7F800000u) {
		code = 0x7E00;
	} else if (a >= 0x477FF000u) {
		code = 0x7C00;
	} else if (a >= 0x38800000u) {
		a -= 112u << 23;
		code = (a + 0xFFFu + (a >> 13 & 1u)) >> 13;
	} else {
		uint32_t e = a >> 23;
		uint32_t s = (a & 0x7FFFFFu) | (e ? 0x800000u : 0);
		uint32_t sh = 126 - (e ? e : 1); /* a subnormal float has e = 1 scale */
		if (sh >= 25)
			code = 0;
		else
			code = (s + (1u << (sh - 1)) - 1u + (s >> sh & 1u)) >> sh;
	}
	return (uint16_t)(sign | code);
}

/*
 * IEEE binary16 -> float32, exact. A subnormal m * 2^-24 (m in 1..1023) is
 * normalised by shifting m up until its leading bit reaches bit 10, one
 * exponent step per shift. NaN keeps sign and payload and gets the quiet
 * bit, as F16C's vcvtph2ps does.
 */
static float f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t e = h >> 10 & 0x1Fu, m = h & 0x3FFu;

	if (e == 0x1F)
		return bits_f32(sign | 0x7F800000u | (m ? 0x400000u | m << 13 : 0));
	if (e != 0)
		return bits_f32(sign | (e + 112u) << 23 | m << 13);
	if (m == 0)
		return bits_f32(sign);
	e = 113; /* exponent field of 2^-14, the scale of bit 10 of m */
	while (!(m & 0x400u)) {
		m <<= 1;
		e--;
	}
	return bits_f32(sign | e << 23 | (m & 0x3FFu) << 13);
}

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

void dsck_k_ref_bf16_to_f32(const uint16_t *src, size_t n, float *dst)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = bits_f32((uint32_t)src[i] << 16);
}

void dsck_k_ref_f32_to_bf16(const float *src, size_t n, uint16_t *dst)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = dsck_k_f32_to_bf16_rne(src[i]);
}

void dsck_k_ref_f16_to_f32(const uint16_t *src, size_t n, float *dst)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = f16_to_f32(src[i]);
}

void dsck_k_ref_f32_to_f16(const float *src, size_t n, uint16_t *dst)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = dsck_k_f32_to_f16_rne(src[i]);
}

void dsck_k_ref_e4m3_to_f16(const uint8_t *src, size_t n, float scale,
			    uint16_t *dst)
{
	const float *tab = dsck_fp8_e4m3_table();
	for (size_t i = 0; i < n; i++)
		dst[i] = dsck_k_f32_to_f16_rne(tab[src[i]] * scale);
}

/*
 * Largest |x|, on the bit patterns: with the sign cleared, the float32
 * order of non-NaN values is the unsigned integer order of their bits, and
 * every NaN (above 0x7F800000) is larger than +inf. So one integer maximum
 * finds the answer and whether a NaN is present, independent of the
 * element order (the SIMD kernels take the same maximum in lanes).
 */
float dsck_k_ref_amax_f32(const float *src, size_t n)
{
	uint32_t m = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t a = f32_bits(src[i]) & 0x7FFFFFFFu;
		if (a > m)
			m = a;
	}
	return bits_f32(m > 0x7F800000u ? 0x7FC00000u : m);
}
