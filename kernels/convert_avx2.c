/*
 * convert_avx2.c - AVX2 conversion kernels (convert.h), bit-identical to the
 * reference kernels in convert_ref.c.
 *
 * Only the functions here carry __attribute__((target("avx2"))), so the rest
 * of the build stays generic x86-64 and the dispatcher (convert.c) calls
 * these only after checking the CPU. FMA is deliberately not enabled: the
 * semantics are one plain multiply or division per element, and a fused
 * operation would change the rounding. The vector loops use unaligned loads
 * and stores; the last n % width elements go through the scalar reference
 * helpers, which compute the same thing.
 *
 * Per lane the arithmetic mirrors convert_ref.c exactly:
 *   e4m3 -> f32:  gather from the 256-entry decode table, _mm256_mul_ps.
 *   f32 -> bf16:  (u + 0x7FFF + (u >> 16 & 1)) >> 16, NaN -> sign | 0x7FC0.
 *   x -> e4m3:    _mm256_div_ps (correctly rounded like scalar '/'), then
 *                 the magnitude bands of dsck_k_f32_to_e4m3_sat; the
 *                 subnormal band uses |q| + 2^14 in float: the sum's ulp is
 *                 2^(14-23) = 2^-9, so the addition itself rounds |q| to a
 *                 multiple of 2^-9 ties-to-even, and the low mantissa bits
 *                 of the sum are m = rne(|q| * 2^9).
 */
#include "convert.h"
#include "fp8.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#define AVX2 __attribute__((target("avx2")))

int dsck_k_avx2_usable(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2");
}

/* 8 floats -> 8 bf16 codes in the low 16 bits of each 32-bit lane. */
AVX2 static __m256i bf16_rne8(__m256 v)
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
AVX2 static __m256i e4m3_sat8(__m256 q)
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
AVX2 static __m256i pack_bytes32(__m256i v0, __m256i v1, __m256i v2, __m256i v3)
{
	__m256i p01 = _mm256_packus_epi32(v0, v1);
	__m256i p23 = _mm256_packus_epi32(v2, v3);
	__m256i b = _mm256_packus_epi16(p01, p23);
	return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

AVX2 static __m256 e4m3_load8(const float *tab, const uint8_t *p, __m256 vs)
{
	__m128i b = _mm_loadl_epi64((const __m128i *)(const void *)p);
	__m256i idx = _mm256_cvtepu8_epi32(b);
	return _mm256_mul_ps(_mm256_i32gather_ps(tab, idx, 4), vs);
}

AVX2 void dsck_k_avx2_e4m3_to_f32(const uint8_t *src, size_t n, float scale,
				  float *dst)
{
	const float *tab = dsck_fp8_e4m3_table();
	__m256 vs = _mm256_set1_ps(scale);
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(dst + i, e4m3_load8(tab, src + i, vs));
	for (; i < n; i++)
		dst[i] = tab[src[i]] * scale;
}

AVX2 void dsck_k_avx2_e4m3_to_bf16(const uint8_t *src, size_t n, float scale,
				   uint16_t *dst)
{
	const float *tab = dsck_fp8_e4m3_table();
	__m256 vs = _mm256_set1_ps(scale);
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m256i lo = bf16_rne8(e4m3_load8(tab, src + i, vs));
		__m256i hi = bf16_rne8(e4m3_load8(tab, src + i + 8, vs));
		/* codes are 0..0xFFFF, so the unsigned-saturating pack is exact;
		 * it interleaves 128-bit halves, 0xD8 puts them back in order */
		__m256i w = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xD8);
		_mm256_storeu_si256((__m256i *)(void *)(dst + i), w);
	}
	for (; i < n; i++)
		dst[i] = dsck_k_f32_to_bf16_rne(tab[src[i]] * scale);
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
AVX2 static __m256 bf16_load8(const uint16_t *p)
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

#endif
