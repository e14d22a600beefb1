/*
 * convert_avx2.c - AVX2 conversion kernels (convert.h), bit-identical to the
 * reference kernels in convert_ref.c.
 *
 * Only the functions here carry __attribute__((target("avx2,f16c"))) (F16C
 * for the float16 conversions; every AVX2 CPU has it), so the rest
 * of the build stays generic x86-64 and the dispatcher (convert.c) calls
 * these only after checking the CPU. FMA is deliberately not enabled: the
 * semantics are one plain multiply or division per element, and a fused
 * operation would change the rounding. The vector loops use unaligned loads
 * and stores; the last n % width elements go through the scalar reference
 * helpers, which compute the same thing.
 *
 * Per lane the arithmetic mirrors convert_ref.c exactly:
 *   e4m3 -> f32:  decoded from the bits (e4m3_decode8), _mm256_mul_ps.
 *   f32 -> bf16:  (u + 0x7FFF + (u >> 16 & 1)) >> 16, NaN -> sign | 0x7FC0.
 *   x -> e4m3:    _mm256_div_ps (correctly rounded like scalar '/'), then
 *                 the magnitude bands of dsck_k_f32_to_e4m3_sat; the
 *                 subnormal band uses |q| + 2^14 in float: the sum's ulp is
 *                 2^(14-23) = 2^-9, so the addition itself rounds |q| to a
 *                 multiple of 2^-9 ties-to-even, and the low mantissa bits
 *                 of the sum are m = rne(|q| * 2^9).
 *   f32 -> f16:   vcvtps2ph with round-to-nearest-even, which rounds like
 *                 dsck_k_f32_to_f16_rne and overflows to inf; it returns a
 *                 NaN as sign|0x7E00|payload, so NaN lanes get their low
 *                 9 bits cleared.
 *   f16 -> f32:   vcvtph2ps: exact, quiets NaN keeping the payload.
 *   amax:         unsigned 32-bit maximum of the magnitude bits, as the
 *                 reference.
 */
#include "convert.h"

#if defined(__x86_64__) || defined(__i386__)

#include <cpuid.h>
#include <immintrin.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2,f16c")))
/* The per-vector helpers: always inlined, so the constants stay in
 * registers across the loop instead of being reloaded per call. */
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2,f16c")))

int dsck_k_avx2_usable(void)
{
	unsigned a, b, c, d;
	__builtin_cpu_init();
	/* F16C is CPUID.1:ECX bit 29 (clang's __builtin_cpu_supports has no
	 * name for it) */
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	return __builtin_cpu_supports("avx2") && (c & (1u << 29));
}

/* 8 floats -> 8 bf16 codes in the low 16 bits of each 32-bit lane. */
AVX2_INLINE __m256i bf16_rne8(__m256 v)
{
	__m256i u = _mm256_castps_si256(v);
	__m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16),
				       _mm256_set1_epi32(1));
	__m256i r = _mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF));
	r = _mm256_srli_epi32(_mm256_add_epi32(r, lsb), 16);
	__m256i qnan = _mm256_or_si256(
		_mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x8000)),
		_mm256_set1_epi32(0x7FC0));
	__m256i isnan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
	return _mm256_blendv_epi8(r, qnan, isnan);
}

/* 8 floats q -> 8 e4m3 codes in the low byte of each 32-bit lane. */
AVX2_INLINE __m256i e4m3_sat8(__m256 q)
{
	__m256i u = _mm256_castps_si256(q);
	__m256i sign = _mm256_and_si256(_mm256_srli_epi32(u, 24),
					_mm256_set1_epi32(0x80));
	__m256i a = _mm256_and_si256(u, _mm256_set1_epi32(0x7FFFFFFF));

	/* normal band: rebias, drop 20 bits ties-to-even */
	__m256i nb = _mm256_sub_epi32(a, _mm256_set1_epi32(120 << 23));
	__m256i lsb = _mm256_and_si256(_mm256_srli_epi32(nb, 20),
				       _mm256_set1_epi32(1));
	nb = _mm256_add_epi32(nb, _mm256_set1_epi32(0x7FFFF));
	nb = _mm256_srli_epi32(_mm256_add_epi32(nb, lsb), 20);

	/* subnormal band: |q| + 2^14 rounds |q| to a multiple of 2^-9 */
	__m256 sum = _mm256_add_ps(_mm256_castsi256_ps(a), _mm256_set1_ps(16384.0f));
	__m256i sb = _mm256_sub_epi32(_mm256_castps_si256(sum),
				      _mm256_set1_epi32(0x46800000));

	/* a is non-negative as int32, so signed compares order magnitudes */
	__m256i is_sub = _mm256_cmpgt_epi32(_mm256_set1_epi32(0x3C800000), a);
	__m256i is_sat = _mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x43DFFFFF));
	__m256i is_nan = _mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x7F800000));
	__m256i code = _mm256_blendv_epi8(nb, sb, is_sub);
	code = _mm256_blendv_epi8(code, _mm256_set1_epi32(0x7E), is_sat);
	code = _mm256_blendv_epi8(code, _mm256_set1_epi32(0x7F), is_nan);
	return _mm256_or_si256(code, sign);
}

/* Four vectors of byte-valued 32-bit lanes (32 elements in order) -> 32
 * bytes in order. The packs work within 128-bit halves, so after them the
 * eight dwords (4 bytes = 4 elements each) hold v0[0..3] v1[0..3] v2[0..3]
 * v3[0..3] v0[4..7] v1[4..7] v2[4..7] v3[4..7]; the dword permutation
 * 0,4,1,5,2,6,3,7 restores element order. Values are 0..255, so neither
 * saturating pack changes them. */
AVX2_INLINE __m256i pack_bytes32(__m256i v0, __m256i v1, __m256i v2, __m256i v3)
{
	__m256i p01 = _mm256_packus_epi32(v0, v1);
	__m256i p23 = _mm256_packus_epi32(v2, v3);
	__m256i b = _mm256_packus_epi16(p01, p23);
	return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* 8 e4m3 codes -> the 8 exact floats of dsck_fp8_e4m3_table(), computed
 * from the bits (a table gather is slower): a normal code |c| = eeee mmm is
 * the float32 with exponent e + 120 and mantissa mmm << 20, i.e.
 * (|c| << 20) + (120 << 23); a subnormal code (|c| < 8) is m * 2^-9, from
 * an 8-entry in-register table indexed by the low 3 bits (vpermps); 0x7F
 * is the table's quiet NaN 0x7FC00000; the sign bit is ORed in last. */
AVX2_INLINE __m256 e4m3_decode8(__m128i b)
{
	const __m256 sub_tab = _mm256_setr_ps(0.0f, 0x1p-9f, 0x2p-9f, 0x3p-9f,
					      0x4p-9f, 0x5p-9f, 0x6p-9f, 0x7p-9f);
	__m256i c = _mm256_cvtepu8_epi32(b);
	__m256i mag = _mm256_and_si256(c, _mm256_set1_epi32(0x7F));
	__m256i sign = _mm256_slli_epi32(_mm256_xor_si256(c, mag), 24);
	__m256i v = _mm256_add_epi32(_mm256_slli_epi32(mag, 20),
				     _mm256_set1_epi32(120 << 23));
	__m256i sub = _mm256_castps_si256(_mm256_permutevar8x32_ps(sub_tab, mag));
	__m256i is_sub = _mm256_cmpgt_epi32(_mm256_set1_epi32(8), mag);
	__m256i is_nan = _mm256_cmpeq_epi32(mag, _mm256_set1_epi32(0x7F));
	v = _mm256_blendv_epi8(v, sub, is_sub);
	v = _mm256_blendv_epi8(v, _mm256_set1_epi32(0x7FC00000), is_nan);
	return _mm256_castsi256_ps(_mm256_or_si256(v, sign));
}

/* 8 e4m3 codes at p times the scale: the f32 product of the reference,
 * same operand order (decoded value * scale). */
AVX2_INLINE __m256 e4m3_load8(const uint8_t *p, __m256 vs)
{
	__m128i b = _mm_loadl_epi64((const __m128i *)(const void *)p);
	return _mm256_mul_ps(e4m3_decode8(b), vs);
}

AVX2 void dsck_k_avx2_e4m3_to_f32(const uint8_t *src, size_t n, float scale,
				  float *dst)
{
	__m256 vs = _mm256_set1_ps(scale);
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(dst + i, e4m3_load8(src + i, vs));
	if (i < n)
		dsck_k_ref_e4m3_to_f32(src + i, n - i, scale, dst + i);
}

AVX2 void dsck_k_avx2_e4m3_to_bf16(const uint8_t *src, size_t n, float scale,
				   uint16_t *dst)
{
	__m256 vs = _mm256_set1_ps(scale);
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m256i lo = bf16_rne8(e4m3_load8(src + i, vs));
		__m256i hi = bf16_rne8(e4m3_load8(src + i + 8, vs));
		/* codes are 0..0xFFFF, so the unsigned-saturating pack is exact;
		 * it interleaves 128-bit halves, 0xD8 puts them back in order */
		__m256i w = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xD8);
		_mm256_storeu_si256((__m256i *)(void *)(dst + i), w);
	}
	if (i < n)
		dsck_k_ref_e4m3_to_bf16(src + i, n - i, scale, dst + i);
}

AVX2 void dsck_k_avx2_f32_to_e4m3(const float *src, size_t n, float scale,
				  uint8_t *dst)
{
	__m256 vs = _mm256_set1_ps(scale);
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m256i c0 = e4m3_sat8(_mm256_div_ps(_mm256_loadu_ps(src + i), vs));
		__m256i c1 = e4m3_sat8(_mm256_div_ps(_mm256_loadu_ps(src + i + 8), vs));
		__m256i c2 = e4m3_sat8(_mm256_div_ps(_mm256_loadu_ps(src + i + 16), vs));
		__m256i c3 = e4m3_sat8(_mm256_div_ps(_mm256_loadu_ps(src + i + 24), vs));
		_mm256_storeu_si256((__m256i *)(void *)(dst + i),
				    pack_bytes32(c0, c1, c2, c3));
	}
	for (; i < n; i++)
		dst[i] = dsck_k_f32_to_e4m3_sat(src[i] / scale);
}

/* 8 bf16 codes -> 8 floats (exact: the codes become the high 16 bits). */
AVX2_INLINE __m256 bf16_load8(const uint16_t *p)
{
	__m128i h = _mm_loadu_si128((const __m128i *)(const void *)p);
	return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

AVX2 void dsck_k_avx2_bf16_to_e4m3(const uint16_t *src, size_t n, float scale,
				   uint8_t *dst)
{
	__m256 vs = _mm256_set1_ps(scale);
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m256i c0 = e4m3_sat8(_mm256_div_ps(bf16_load8(src + i), vs));
		__m256i c1 = e4m3_sat8(_mm256_div_ps(bf16_load8(src + i + 8), vs));
		__m256i c2 = e4m3_sat8(_mm256_div_ps(bf16_load8(src + i + 16), vs));
		__m256i c3 = e4m3_sat8(_mm256_div_ps(bf16_load8(src + i + 24), vs));
		_mm256_storeu_si256((__m256i *)(void *)(dst + i),
				    pack_bytes32(c0, c1, c2, c3));
	}
	if (i < n)
		dsck_k_ref_bf16_to_e4m3(src + i, n - i, scale, dst + i);
}

AVX2 void dsck_k_avx2_bf16_to_f32(const uint16_t *src, size_t n, float *dst)
{
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		_mm256_storeu_ps(dst + i, bf16_load8(src + i));
		_mm256_storeu_ps(dst + i + 8, bf16_load8(src + i + 8));
	}
	if (i < n)
		dsck_k_ref_bf16_to_f32(src + i, n - i, dst + i);
}

AVX2 void dsck_k_avx2_f32_to_bf16(const float *src, size_t n, uint16_t *dst)
{
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m256i lo = bf16_rne8(_mm256_loadu_ps(src + i));
		__m256i hi = bf16_rne8(_mm256_loadu_ps(src + i + 8));
		__m256i w = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xD8);
		_mm256_storeu_si256((__m256i *)(void *)(dst + i), w);
	}
	if (i < n)
		dsck_k_ref_f32_to_bf16(src + i, n - i, dst + i);
}

AVX2 void dsck_k_avx2_f16_to_f32(const uint16_t *src, size_t n, float *dst)
{
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m128i h0 = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
		__m128i h1 = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 8));
		_mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h0));
		_mm256_storeu_ps(dst + i + 8, _mm256_cvtph_ps(h1));
	}
	if (i < n)
		dsck_k_ref_f16_to_f32(src + i, n - i, dst + i);
}

/* 8 floats -> 8 f16 codes, round-to-nearest-even, NaN -> sign|0x7E00. */
AVX2_INLINE __m128i f16_rne8(__m256 v)
{
	__m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m128i mag = _mm_and_si128(h, _mm_set1_epi16(0x7FFF));
	__m128i is_nan = _mm_cmpgt_epi16(mag, _mm_set1_epi16(0x7C00));
	return _mm_andnot_si128(_mm_and_si128(is_nan, _mm_set1_epi16(0x01FF)), h);
}

AVX2 void dsck_k_avx2_f32_to_f16(const float *src, size_t n, uint16_t *dst)
{
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		_mm_storeu_si128((__m128i *)(void *)(dst + i),
				 f16_rne8(_mm256_loadu_ps(src + i)));
		_mm_storeu_si128((__m128i *)(void *)(dst + i + 8),
				 f16_rne8(_mm256_loadu_ps(src + i + 8)));
	}
	if (i < n)
		dsck_k_ref_f32_to_f16(src + i, n - i, dst + i);
}

AVX2 void dsck_k_avx2_e4m3_to_f16(const uint8_t *src, size_t n, float scale,
				  uint16_t *dst)
{
	__m256 vs = _mm256_set1_ps(scale);
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm_storeu_si128((__m128i *)(void *)(dst + i),
				 f16_rne8(e4m3_load8(src + i, vs)));
	if (i < n)
		dsck_k_ref_e4m3_to_f16(src + i, n - i, scale, dst + i);
}

AVX2 float dsck_k_avx2_amax_f32(const float *src, size_t n)
{
	const __m256i abs = _mm256_set1_epi32(0x7FFFFFFF);
	__m256i m0 = _mm256_setzero_si256(), m1 = m0, m2 = m0, m3 = m0;
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		const __m256i *p = (const __m256i *)(const void *)(src + i);
		m0 = _mm256_max_epu32(m0, _mm256_and_si256(_mm256_loadu_si256(p), abs));
		m1 = _mm256_max_epu32(m1, _mm256_and_si256(_mm256_loadu_si256(p + 1), abs));
		m2 = _mm256_max_epu32(m2, _mm256_and_si256(_mm256_loadu_si256(p + 2), abs));
		m3 = _mm256_max_epu32(m3, _mm256_and_si256(_mm256_loadu_si256(p + 3), abs));
	}
	m0 = _mm256_max_epu32(_mm256_max_epu32(m0, m1), _mm256_max_epu32(m2, m3));
	uint32_t lanes[8];
	_mm256_storeu_si256((__m256i *)(void *)lanes, m0);
	uint32_t m = 0;
	for (int k = 0; k < 8; k++)
		m = lanes[k] > m ? lanes[k] : m;
	/* the tail, then NaN -> the quiet NaN, as the reference does */
	float r = dsck_k_ref_amax_f32(src + i, n - i);
	uint32_t t;
	memcpy(&t, &r, sizeof t);
	m = t > m ? t : m;
	m = m > 0x7F800000u ? 0x7FC00000u : m;
	memcpy(&r, &m, sizeof r);
	return r;
}

#else /* not x86: no AVX2; the entry points exist and compute the reference */

int dsck_k_avx2_usable(void)
{
	return 0;
}

void dsck_k_avx2_e4m3_to_f32(const uint8_t *src, size_t n, float scale,
			     float *dst)
{
	dsck_k_ref_e4m3_to_f32(src, n, scale, dst);
}

void dsck_k_avx2_e4m3_to_bf16(const uint8_t *src, size_t n, float scale,
			      uint16_t *dst)
{
	dsck_k_ref_e4m3_to_bf16(src, n, scale, dst);
}

void dsck_k_avx2_f32_to_e4m3(const float *src, size_t n, float scale,
			     uint8_t *dst)
{
	dsck_k_ref_f32_to_e4m3(src, n, scale, dst);
}

void dsck_k_avx2_bf16_to_e4m3(const uint16_t *src, size_t n, float scale,
			      uint8_t *dst)
{
	dsck_k_ref_bf16_to_e4m3(src, n, scale, dst);
}

void dsck_k_avx2_bf16_to_f32(const uint16_t *src, size_t n, float *dst)
{
	dsck_k_ref_bf16_to_f32(src, n, dst);
}

void dsck_k_avx2_f32_to_bf16(const float *src, size_t n, uint16_t *dst)
{
	dsck_k_ref_f32_to_bf16(src, n, dst);
}

void dsck_k_avx2_f16_to_f32(const uint16_t *src, size_t n, float *dst)
{
	dsck_k_ref_f16_to_f32(src, n, dst);
}

void dsck_k_avx2_f32_to_f16(const float *src, size_t n, uint16_t *dst)
{
	dsck_k_ref_f32_to_f16(src, n, dst);
}

void dsck_k_avx2_e4m3_to_f16(const uint8_t *src, size_t n, float scale,
			     uint16_t *dst)
{
	dsck_k_ref_e4m3_to_f16(src, n, scale, dst);
}

float dsck_k_avx2_amax_f32(const float *src, size_t n)
{
	return dsck_k_ref_amax_f32(src, n);
}

#endif
