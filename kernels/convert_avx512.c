/*
 * convert_avx512.c - AVX-512 conversion kernels (convert.h), bit-identical
 * to the reference kernels in convert_ref.c.
 *
 * Only the functions here carry the AVX-512 target attribute (F, BW, VL),
 * so the rest of the build stays generic x86-64 and the dispatcher
 * (convert.c) calls these only after checking the CPU. FMA is not used and
 * no expression here is a multiply feeding an add, so no contraction can
 * change a rounding: the semantics are one plain multiply or division per
 * element. MXCSR is never touched (no FTZ/DAZ), so float32 subnormals are
 * exact as in the reference.
 *
 * Every kernel runs 16 float32 lanes per step; the main loops take 32 or 64
 * elements per iteration and the last n % 16 elements go through the same
 * code with masked loads and stores (masked-off lanes are neither read nor
 * written, so no access goes past the buffers).
 *
 * Per lane the arithmetic mirrors convert_ref.c exactly:
 *   e4m3 decode:  computed from the bits, no table gather: a normal code
 *                 |c| = eeee mmm is the float32 with exponent e + 120 and
 *                 mantissa mmm << 20, i.e. (|c| << 20) + (120 << 23); the
 *                 subnormal codes m * 2^-9 (|c| < 8) come from a 16-entry
 *                 in-register table (vpermps), 0x7F is the quiet NaN of the
 *                 decode table; the sign bit is ORed in last. Then
 *                 _mm512_mul_ps by the scale, same operand order as the
 *                 reference (table value * scale).
 *   f32 -> bf16:  (u + 0x7FFF + (u >> 16 & 1)) >> 16, NaN -> sign | 0x7FC0.
 *                 The shift is folded into the narrowing: one vpermt2w
 *                 picks the high halves of two vectors.
 *   f32 -> f16:   vcvtps2ph with round-to-nearest-even, which rounds like
 *                 the reference, overflows to inf, and gives a NaN as
 *                 sign|0x7E00|payload; the payload bits (low 9) are
 *                 cleared in NaN lanes.
 *   f16 -> f32:   vcvtph2ps: exact, quiets NaN keeping the payload, as the
 *                 reference.
 *   x -> e4m3:    _mm512_div_ps (correctly rounded like scalar '/'), then
 *                 the magnitude bands of dsck_k_f32_to_e4m3_sat; the
 *                 subnormal band uses |q| + 2^14 in float (see
 *                 convert_avx2.c): the low mantissa bits of the sum are
 *                 m = rne(|q| * 2^9).
 *   amax:         unsigned 32-bit maximum of the magnitude bits, as the
 *                 reference.
 */
#include "convert.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <string.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))
/* The per-vector helpers: always inlined, so the constants stay in
 * registers across the loop instead of being reloaded per call. */
#define AVX512_INLINE static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512vl")))

int dsck_k_avx512_usable(void)
{
	/* __builtin_cpu_supports reports AVX-512 only when the OS also saves
	 * the opmask and zmm state (XCR0), so this is the whole check. */
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") &&
	       __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512vl");
}

/* Lanes 0..r-1 of a 16-lane step, r in 1..16. */
static inline __mmask16 tail_mask(size_t r)
{
	return (__mmask16)(0xFFFFu >> (16 - r));
}

/* 16 e4m3 codes -> the 16 exact floats of dsck_fp8_e4m3_table(). */
AVX512_INLINE __m512 e4m3_decode16(__m128i b)
{
	const __m512i sub_tab = _mm512_castps_si512(_mm512_setr_ps(
		0.0f, 0x1p-9f, 0x2p-9f, 0x3p-9f, 0x4p-9f, 0x5p-9f, 0x6p-9f, 0x7p-9f,
		0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f));
	__m512i c = _mm512_cvtepu8_epi32(b);
	__m512i mag = _mm512_and_si512(c, _mm512_set1_epi32(0x7F));
	__m512i sign = _mm512_slli_epi32(_mm512_xor_si512(c, mag), 24);
	__m512i v = _mm512_add_epi32(_mm512_slli_epi32(mag, 20),
				     _mm512_set1_epi32(120 << 23));
	__mmask16 is_sub = _mm512_cmplt_epu32_mask(mag, _mm512_set1_epi32(8));
	__mmask16 is_nan = _mm512_cmpeq_epi32_mask(mag, _mm512_set1_epi32(0x7F));
	v = _mm512_mask_permutexvar_epi32(v, is_sub, mag, sub_tab);
	v = _mm512_mask_mov_epi32(v, is_nan, _mm512_set1_epi32(0x7FC00000));
	return _mm512_castsi512_ps(_mm512_or_si512(v, sign));
}

/* 16 floats -> 16 bf16 codes in the HIGH 16 bits of each 32-bit lane (the
 * low bits are garbage; bf16_pack32 keeps only the high halves). */
AVX512_INLINE __m512i bf16_rne16_hi(__m512 v)
{
	__m512i u = _mm512_castps_si512(v);
	__m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16),
				       _mm512_set1_epi32(1));
	__m512i r = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)),
				     lsb);
	__m512i qnan = _mm512_or_si512(
		_mm512_and_si512(u, _mm512_set1_epi32((int)0x80000000u)),
		_mm512_set1_epi32(0x7FC00000));
	__mmask16 is_nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
	return _mm512_mask_mov_epi32(r, is_nan, qnan);
}

/* The high 16-bit halves of the 32 lanes of lo, hi in order: 32 codes. */
AVX512_INLINE __m512i bf16_pack32(__m512i lo, __m512i hi)
{
	const __m512i odd = _mm512_set_epi16(
		63, 61, 59, 57, 55, 53, 51, 49, 47, 45, 43, 41, 39, 37, 35, 33,
		31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
	return _mm512_permutex2var_epi16(lo, odd, hi);
}

/* 16 floats -> 16 f16 codes, round-to-nearest-even, NaN -> sign|0x7E00. */
AVX512_INLINE __m256i f16_rne16(__m512 v)
{
	__m256i h = _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__mmask16 is_nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
	return _mm256_mask_mov_epi16(h, is_nan,
				     _mm256_and_si256(h, _mm256_set1_epi16((short)0xFE00)));
}

/* 16 floats q -> 16 e4m3 codes in the low byte of each 32-bit lane. */
AVX512_INLINE __m512i e4m3_sat16(__m512 q)
{
	__m512i u = _mm512_castps_si512(q);
	__m512i sign = _mm512_and_si512(_mm512_srli_epi32(u, 24),
					_mm512_set1_epi32(0x80));
	__m512i a = _mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF));

	/* normal band: rebias, drop 20 bits ties-to-even */
	__m512i nb = _mm512_sub_epi32(a, _mm512_set1_epi32(120 << 23));
	__m512i lsb = _mm512_and_si512(_mm512_srli_epi32(nb, 20),
				       _mm512_set1_epi32(1));
	nb = _mm512_add_epi32(nb, _mm512_set1_epi32(0x7FFFF));
	nb = _mm512_srli_epi32(_mm512_add_epi32(nb, lsb), 20);

	/* subnormal band: |q| + 2^14 rounds |q| to a multiple of 2^-9 */
	__m512 sum = _mm512_add_ps(_mm512_castsi512_ps(a), _mm512_set1_ps(16384.0f));
	__m512i sb = _mm512_sub_epi32(_mm512_castps_si512(sum),
				      _mm512_set1_epi32(0x46800000));

	__mmask16 is_sub = _mm512_cmplt_epu32_mask(a, _mm512_set1_epi32(0x3C800000));
	__mmask16 is_sat = _mm512_cmpgt_epu32_mask(a, _mm512_set1_epi32(0x43DFFFFF));
	__mmask16 is_nan = _mm512_cmpgt_epu32_mask(a, _mm512_set1_epi32(0x7F800000));
	__m512i code = _mm512_mask_mov_epi32(nb, is_sub, sb);
	code = _mm512_mask_mov_epi32(code, is_sat, _mm512_set1_epi32(0x7E));
	code = _mm512_mask_mov_epi32(code, is_nan, _mm512_set1_epi32(0x7F));
	return _mm512_or_si512(code, sign);
}

/* 16 bf16 codes -> 16 floats (exact: the codes become the high 16 bits). */
AVX512_INLINE __m512 bf16_widen16(__m256i h)
{
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

AVX512 void dsck_k_avx512_e4m3_to_f32(const uint8_t *src, size_t n,
				      float scale, float *dst)
{
	__m512 vs = _mm512_set1_ps(scale);
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m128i b0 = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
		__m128i b1 = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 16));
		_mm512_storeu_ps(dst + i, _mm512_mul_ps(e4m3_decode16(b0), vs));
		_mm512_storeu_ps(dst + i + 16, _mm512_mul_ps(e4m3_decode16(b1), vs));
	}
	for (; i < n; i += 16) {
		__mmask16 k = tail_mask(n - i < 16 ? n - i : 16);
		__m128i b = _mm_maskz_loadu_epi8(k, src + i);
		_mm512_mask_storeu_ps(dst + i, k, _mm512_mul_ps(e4m3_decode16(b), vs));
	}
}

AVX512 void dsck_k_avx512_e4m3_to_bf16(const uint8_t *src, size_t n,
				       float scale, uint16_t *dst)
{
	__m512 vs = _mm512_set1_ps(scale);
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m128i b0 = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
		__m128i b1 = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 16));
		__m512i r0 = bf16_rne16_hi(_mm512_mul_ps(e4m3_decode16(b0), vs));
		__m512i r1 = bf16_rne16_hi(_mm512_mul_ps(e4m3_decode16(b1), vs));
		_mm512_storeu_si512((void *)(dst + i), bf16_pack32(r0, r1));
	}
	for (; i < n; i += 16) {
		__mmask16 k = tail_mask(n - i < 16 ? n - i : 16);
		__m128i b = _mm_maskz_loadu_epi8(k, src + i);
		__m512i r = bf16_rne16_hi(_mm512_mul_ps(e4m3_decode16(b), vs));
		_mm512_mask_cvtepi32_storeu_epi16(dst + i, k, _mm512_srli_epi32(r, 16));
	}
}

AVX512 void dsck_k_avx512_e4m3_to_f16(const uint8_t *src, size_t n,
				      float scale, uint16_t *dst)
{
	__m512 vs = _mm512_set1_ps(scale);
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m128i b0 = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
		__m128i b1 = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 16));
		_mm256_storeu_si256((__m256i *)(void *)(dst + i),
				    f16_rne16(_mm512_mul_ps(e4m3_decode16(b0), vs)));
		_mm256_storeu_si256((__m256i *)(void *)(dst + i + 16),
				    f16_rne16(_mm512_mul_ps(e4m3_decode16(b1), vs)));
	}
	for (; i < n; i += 16) {
		__mmask16 k = tail_mask(n - i < 16 ? n - i : 16);
		__m128i b = _mm_maskz_loadu_epi8(k, src + i);
		_mm256_mask_storeu_epi16(dst + i, k,
					 f16_rne16(_mm512_mul_ps(e4m3_decode16(b), vs)));
	}
}

AVX512 void dsck_k_avx512_f32_to_e4m3(const float *src, size_t n, float scale,
				      uint8_t *dst)
{
	__m512 vs = _mm512_set1_ps(scale);
	size_t i = 0;
	for (; i + 64 <= n; i += 64) {
		for (size_t j = 0; j < 64; j += 16) {
			__m512i c = e4m3_sat16(_mm512_div_ps(_mm512_loadu_ps(src + i + j), vs));
			_mm_storeu_si128((__m128i *)(void *)(dst + i + j),
					 _mm512_cvtepi32_epi8(c));
		}
	}
	for (; i < n; i += 16) {
		__mmask16 k = tail_mask(n - i < 16 ? n - i : 16);
		__m512 x = _mm512_maskz_loadu_ps(k, src + i);
		_mm512_mask_cvtepi32_storeu_epi8(dst + i, k,
						 e4m3_sat16(_mm512_div_ps(x, vs)));
	}
}

AVX512 void dsck_k_avx512_bf16_to_e4m3(const uint16_t *src, size_t n,
				       float scale, uint8_t *dst)
{
	__m512 vs = _mm512_set1_ps(scale);
	size_t i = 0;
	for (; i + 64 <= n; i += 64) {
		for (size_t j = 0; j < 64; j += 16) {
			__m256i h = _mm256_loadu_si256((const __m256i *)(const void *)(src + i + j));
			__m512i c = e4m3_sat16(_mm512_div_ps(bf16_widen16(h), vs));
			_mm_storeu_si128((__m128i *)(void *)(dst + i + j),
					 _mm512_cvtepi32_epi8(c));
		}
	}
	for (; i < n; i += 16) {
		__mmask16 k = tail_mask(n - i < 16 ? n - i : 16);
		__m256i h = _mm256_maskz_loadu_epi16(k, src + i);
		_mm512_mask_cvtepi32_storeu_epi8(dst + i, k,
						 e4m3_sat16(_mm512_div_ps(bf16_widen16(h), vs)));
	}
}

AVX512 void dsck_k_avx512_bf16_to_f32(const uint16_t *src, size_t n,
				      float *dst)
{
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m256i h0 = _mm256_loadu_si256((const __m256i *)(const void *)(src + i));
		__m256i h1 = _mm256_loadu_si256((const __m256i *)(const void *)(src + i + 16));
		_mm512_storeu_ps(dst + i, bf16_widen16(h0));
		_mm512_storeu_ps(dst + i + 16, bf16_widen16(h1));
	}
	for (; i < n; i += 16) {
		__mmask16 k = tail_mask(n - i < 16 ? n - i : 16);
		__m256i h = _mm256_maskz_loadu_epi16(k, src + i);
		_mm512_mask_storeu_ps(dst + i, k, bf16_widen16(h));
	}
}

AVX512 void dsck_k_avx512_f32_to_bf16(const float *src, size_t n,
				      uint16_t *dst)
{
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m512i r0 = bf16_rne16_hi(_mm512_loadu_ps(src + i));
		__m512i r1 = bf16_rne16_hi(_mm512_loadu_ps(src + i + 16));
		_mm512_storeu_si512((void *)(dst + i), bf16_pack32(r0, r1));
	}
	for (; i < n; i += 16) {
		__mmask16 k = tail_mask(n - i < 16 ? n - i : 16);
		__m512i r = bf16_rne16_hi(_mm512_maskz_loadu_ps(k, src + i));
		_mm512_mask_cvtepi32_storeu_epi16(dst + i, k, _mm512_srli_epi32(r, 16));
	}
}

AVX512 void dsck_k_avx512_f16_to_f32(const uint16_t *src, size_t n,
				     float *dst)
{
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m256i h0 = _mm256_loadu_si256((const __m256i *)(const void *)(src + i));
		__m256i h1 = _mm256_loadu_si256((const __m256i *)(const void *)(src + i + 16));
		_mm512_storeu_ps(dst + i, _mm512_cvtph_ps(h0));
		_mm512_storeu_ps(dst + i + 16, _mm512_cvtph_ps(h1));
	}
	for (; i < n; i += 16) {
		__mmask16 k = tail_mask(n - i < 16 ? n - i : 16);
		__m256i h = _mm256_maskz_loadu_epi16(k, src + i);
		_mm512_mask_storeu_ps(dst + i, k, _mm512_cvtph_ps(h));
	}
}

AVX512 void dsck_k_avx512_f32_to_f16(const float *src, size_t n,
				     uint16_t *dst)
{
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		_mm256_storeu_si256((__m256i *)(void *)(dst + i),
				    f16_rne16(_mm512_loadu_ps(src + i)));
		_mm256_storeu_si256((__m256i *)(void *)(dst + i + 16),
				    f16_rne16(_mm512_loadu_ps(src + i + 16)));
	}
	for (; i < n; i += 16) {
		__mmask16 k = tail_mask(n - i < 16 ? n - i : 16);
		_mm256_mask_storeu_epi16(dst + i, k,
					 f16_rne16(_mm512_maskz_loadu_ps(k, src + i)));
	}
}

AVX512 float dsck_k_avx512_amax_f32(const float *src, size_t n)
{
	const __m512i abs = _mm512_set1_epi32(0x7FFFFFFF);
	__m512i m0 = _mm512_setzero_si512(), m1 = m0, m2 = m0, m3 = m0;
	size_t i = 0;
	for (; i + 64 <= n; i += 64) {
		m0 = _mm512_max_epu32(m0, _mm512_and_si512(_mm512_loadu_si512(src + i), abs));
		m1 = _mm512_max_epu32(m1, _mm512_and_si512(_mm512_loadu_si512(src + i + 16), abs));
		m2 = _mm512_max_epu32(m2, _mm512_and_si512(_mm512_loadu_si512(src + i + 32), abs));
		m3 = _mm512_max_epu32(m3, _mm512_and_si512(_mm512_loadu_si512(src + i + 48), abs));
	}
	/* masked-off lanes load as 0, which never raises the maximum */
	for (; i < n; i += 16) {
		__mmask16 k = tail_mask(n - i < 16 ? n - i : 16);
		m0 = _mm512_max_epu32(m0, _mm512_and_si512(_mm512_maskz_loadu_epi32(k, src + i), abs));
	}
	m0 = _mm512_max_epu32(_mm512_max_epu32(m0, m1), _mm512_max_epu32(m2, m3));
	uint32_t m = (uint32_t)_mm512_reduce_max_epu32(m0);
	float r;
	m = m > 0x7F800000u ? 0x7FC00000u : m;
	memcpy(&r, &m, sizeof r);
	return r;
}

#else /* not x86-64: no AVX-512; the entry points exist and compute the reference */

int dsck_k_avx512_usable(void)
{
	return 0;
}

void dsck_k_avx512_e4m3_to_f32(const uint8_t *src, size_t n, float scale,
			       float *dst)
{
	dsck_k_ref_e4m3_to_f32(src, n, scale, dst);
}

void dsck_k_avx512_e4m3_to_bf16(const uint8_t *src, size_t n, float scale,
				uint16_t *dst)
{
	dsck_k_ref_e4m3_to_bf16(src, n, scale, dst);
}

void dsck_k_avx512_e4m3_to_f16(const uint8_t *src, size_t n, float scale,
			       uint16_t *dst)
{
	dsck_k_ref_e4m3_to_f16(src, n, scale, dst);
}

void dsck_k_avx512_f32_to_e4m3(const float *src, size_t n, float scale,
			       uint8_t *dst)
{
	dsck_k_ref_f32_to_e4m3(src, n, scale, dst);
}

void dsck_k_avx512_bf16_to_e4m3(const uint16_t *src, size_t n, float scale,
				uint8_t *dst)
{
	dsck_k_ref_bf16_to_e4m3(src, n, scale, dst);
}

void dsck_k_avx512_bf16_to_f32(const uint16_t *src, size_t n, float *dst)
{
	dsck_k_ref_bf16_to_f32(src, n, dst);
}

void dsck_k_avx512_f32_to_bf16(const float *src, size_t n, uint16_t *dst)
{
	dsck_k_ref_f32_to_bf16(src, n, dst);
}

void dsck_k_avx512_f16_to_f32(const uint16_t *src, size_t n, float *dst)
{
	dsck_k_ref_f16_to_f32(src, n, dst);
}

void dsck_k_avx512_f32_to_f16(const float *src, size_t n, uint16_t *dst)
{
	dsck_k_ref_f32_to_f16(src, n, dst);
}

float dsck_k_avx512_amax_f32(const float *src, size_t n)
{
	return dsck_k_ref_amax_f32(src, n);
}

#endif
