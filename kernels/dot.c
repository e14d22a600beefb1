/* dot.c - float32 dot products (dot.h): a reference and AVX2+FMA. */
#include "dot.h"
#include "fp8.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LANES 32

float dsck_k_dot_ref(const float *a, const float *b, size_t n)
{
	float s[LANES] = { 0 };
	size_t i = 0;
	for (; i + LANES <= n; i += LANES)
		for (int k = 0; k < LANES; k++)
			s[k] += a[i + k] * b[i + k];
	for (int w = LANES / 2; w >= 1; w /= 2) /* pairwise */
		for (int k = 0; k < w; k++)
			s[k] += s[k + w];
	float t = s[0];
	for (; i < n; i++)
		t += a[i] * b[i];
	return t;
}

float dsck_k_row_e4m3_ref(const uint8_t *codes, const float *scales, const float *x,
			  size_t n, size_t bc)
{
	const float *e4m3 = dsck_fp8_e4m3_table(); /* D-R1, the library's decoder */
	float total = 0;
	for (size_t c0 = 0, k = 0; c0 < n; c0 += bc, k++) {
		size_t m = n - c0 < bc ? n - c0 : bc;
		float s[16] = { 0 };
		size_t j = 0;
		for (; j + 16 <= m; j += 16)
			for (int l = 0; l < 16; l++)
				s[l] += e4m3[codes[c0 + j + l]] * x[c0 + j + l];
		for (int w = 8; w >= 1; w /= 2)
			for (int l = 0; l < w; l++)
				s[l] += s[l + w];
		float b = s[0];
		for (; j < m; j++)
			b += e4m3[codes[c0 + j]] * x[c0 + j];
		total += scales[k] * b;
	}
	return total;
}

void dsck_k_rows_e4m3_ref(const uint8_t *codes, const float *scales, const float *x,
			  size_t ldx, size_t S, size_t n, size_t bc, float *y, size_t ldy)
{
	for (size_t t = 0; t < S; t++)
		y[t * ldy] = dsck_k_row_e4m3_ref(codes, scales, x + t * ldx, n, bc);
}

void dsck_k_axpy_e4m3_ref(const uint8_t *codes, const float *scales, float a, float *y,
			  size_t n, size_t bc)
{
	const float *e4m3 = dsck_fp8_e4m3_table();
	for (size_t c0 = 0, k = 0; c0 < n; c0 += bc, k++) {
		size_t m = n - c0 < bc ? n - c0 : bc;
		float f = a * scales[k];
		for (size_t j = 0; j < m; j++)
			y[c0 + j] += f * e4m3[codes[c0 + j]];
	}
}

float dsck_k_dot_bf16_ref(const uint16_t *w, const float *x, size_t n)
{
	float s[LANES] = { 0 };
	size_t i = 0;
	for (; i + LANES <= n; i += LANES)
		for (int k = 0; k < LANES; k++)
			s[k] += dsck_fp8_bf16_to_f32(w[i + k]) * x[i + k];
	for (int v = LANES / 2; v >= 1; v /= 2)
		for (int k = 0; k < v; k++)
			s[k] += s[k + v];
	float t = s[0];
	for (; i < n; i++)
		t += dsck_fp8_bf16_to_f32(w[i]) * x[i];
	return t;
}

#if defined(__x86_64__)
#include <immintrin.h>

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,fma")))

/* 16 codes -> 16 floats / 256: an e4m3 code is a binary16 with its bits
 * moved (sign to bit 15, the other 7 bits up by 7): same mantissa, the
 * exponent bias 7 instead of 15, so the half-float value is 2^-8 times
 * the code's, subnormals included; vcvtph2ps widens exactly. The caller
 * folds the 2^8 into the block scale. 0x7F/0xFF become NaN. */
T512 static inline __m512 e4m3x16_div256(const uint8_t *p)
{
	__m256i b = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)p));
	__m256i mag = _mm256_and_si256(b, _mm256_set1_epi16(0x7F));
	__m256i h = _mm256_or_si256(_mm256_slli_epi16(mag, 7),
				    _mm256_slli_epi16(_mm256_and_si256(b, _mm256_set1_epi16(0x80)), 8));
	__m512 f = _mm512_cvtph_ps(h);
	__mmask16 nan = _mm256_cmpeq_epi16_mask(mag, _mm256_set1_epi16(0x7F));
	return _mm512_mask_blend_ps(nan, f, _mm512_set1_ps(NAN));
}

T512 static float row_e4m3_avx512(const uint8_t *codes, const float *scales, const float *x,
				  size_t n, size_t bc)
{
	if (bc % 16)
		return dsck_k_row_e4m3_ref(codes, scales, x, n, bc);
	__m512 total = _mm512_setzero_ps();
	float tail = 0;
	size_t c0 = 0, k = 0;
	for (; c0 + bc <= n; c0 += bc, k++) { /* whole blocks, two FMA chains */
		__m512 s0 = _mm512_setzero_ps(), s1 = s0;
		size_t j = 0;
		for (; j + 32 <= bc; j += 32) {
			s0 = _mm512_fmadd_ps(e4m3x16_div256(codes + c0 + j), _mm512_loadu_ps(x + c0 + j), s0);
			s1 = _mm512_fmadd_ps(e4m3x16_div256(codes + c0 + j + 16),
					     _mm512_loadu_ps(x + c0 + j + 16), s1);
		}
		if (j < bc)
			s0 = _mm512_fmadd_ps(e4m3x16_div256(codes + c0 + j), _mm512_loadu_ps(x + c0 + j), s0);
		/* the 2^8 of the decode goes with the scale (exact) */
		total = _mm512_fmadd_ps(_mm512_set1_ps(scales[k] * 256.0f), _mm512_add_ps(s0, s1), total);
	}
	if (c0 < n)
		tail = dsck_k_row_e4m3_ref(codes + c0, scales + k, x + c0, n - c0, bc);
	return _mm512_reduce_add_ps(total) + tail;
}

#define TVBMI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi,fma")))

/* vpermb indexes: word i of the first 32 takes code i, of the second code
 * 32 + i, into its high byte (the low byte is zeroed by the mask). */
static const uint8_t vbmi_order[2][64] = {
#define W(i) 0, (i)
#define W8(i) W(i), W(i + 1), W(i + 2), W(i + 3), W(i + 4), W(i + 5), W(i + 6), W(i + 7)
	{ W8(0), W8(8), W8(16), W8(24) },
	{ W8(32), W8(40), W8(48), W8(56) },
#undef W8
#undef W
};

/*
 * 64 codes at p as four vectors of 16 floats, each code / 256 (the caller
 * folds the 2^8 into the block scale), NaN codes marked in *nan: vpermb
 * puts 32 codes each in the high byte of a 16-bit word, one arithmetic
 * shift right moves the magnitude into binary16's exponent and mantissa
 * while copying the sign, and one AND clears the copied sign bit from the
 * exponent, so 32 codes take three integer operations instead of ten; NaN
 * codes (0x7F, 0xFF, D-R1) are found once per 64 bytes.
 */
TVBMI static inline void e4m3x64_div256(const uint8_t *p, __m512 w[4], __mmask64 *nan)
{
	const __m512i ilo = _mm512_loadu_si512(vbmi_order[0]), ihi = _mm512_loadu_si512(vbmi_order[1]);
	const __mmask64 high = 0xAAAAAAAAAAAAAAAAull; /* the odd (high) byte of each word */
	const __m512i keep = _mm512_set1_epi16((short)0xBFFF);
	__m512i b = _mm512_loadu_si512(p);
	*nan |= _mm512_cmpeq_epi8_mask(_mm512_or_si512(b, _mm512_set1_epi8((char)0x80)),
				       _mm512_set1_epi8(-1));
	__m512i lo = _mm512_and_si512(_mm512_srai_epi16(_mm512_maskz_permutexvar_epi8(high, ilo, b), 1),
				      keep);
	__m512i hi = _mm512_and_si512(_mm512_srai_epi16(_mm512_maskz_permutexvar_epi8(high, ihi, b), 1),
				      keep);
	w[0] = _mm512_cvtph_ps(_mm512_castsi512_si256(lo));
	w[1] = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(lo, 1));
	w[2] = _mm512_cvtph_ps(_mm512_castsi512_si256(hi));
	w[3] = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(hi, 1));
}

/*
 * The same row with AVX512-VBMI (e4m3x64_div256), about 1.5x the codes per
 * cycle (15 against 11 GB/s on one core with the row in L2). Blocks of bc
 * columns with bc a multiple of 64 (DeepSeek's 128); otherwise the
 * AVX-512BW version.
 */
TVBMI static float row_e4m3_vbmi(const uint8_t *codes, const float *scales, const float *x,
				 size_t n, size_t bc)
{
	if (bc % 64)
		return row_e4m3_avx512(codes, scales, x, n, bc);
	__m512 total = _mm512_setzero_ps(), w[4];
	__mmask64 nan = 0;
	float tail = 0;
	size_t c0 = 0, k = 0;
	for (; c0 + bc <= n; c0 += bc, k++) {
		__m512 s0 = _mm512_setzero_ps(), s1 = s0;
		for (size_t j = 0; j < bc; j += 64) {
			const float *xp = x + c0 + j;
			e4m3x64_div256(codes + c0 + j, w, &nan);
			s0 = _mm512_fmadd_ps(w[0], _mm512_loadu_ps(xp), s0);
			s1 = _mm512_fmadd_ps(w[1], _mm512_loadu_ps(xp + 16), s1);
			s0 = _mm512_fmadd_ps(w[2], _mm512_loadu_ps(xp + 32), s0);
			s1 = _mm512_fmadd_ps(w[3], _mm512_loadu_ps(xp + 48), s1);
		}
		total = _mm512_fmadd_ps(_mm512_set1_ps(scales[k] * 256.0f), _mm512_add_ps(s0, s1), total);
	}
	if (nan)
		return NAN;
	if (c0 < n)
		tail = dsck_k_row_e4m3_ref(codes + c0, scales + k, x + c0, n - c0, bc);
	return _mm512_reduce_add_ps(total) + tail;
}

/*
 * The VBMI row kernel for up to 4 tokens at once: each 64 codes are decoded
 * once and multiplied into every token's two chains, in the order
 * row_e4m3_vbmi uses for one, so each result equals its one-token result
 * bit for bit. NaN codes give NaN for every token. bc a multiple of 64.
 */
TVBMI static void rows4_e4m3_vbmi(const uint8_t *codes, const float *scales, const float *x,
				  size_t ldx, size_t S, size_t n, size_t bc, float *y, size_t ldy)
{
	__m512 total[4], w[4];
	__mmask64 nan = 0;
	size_t c0 = 0, k = 0;
	for (size_t t = 0; t < 4; t++)
		total[t] = _mm512_setzero_ps();
	for (; c0 + bc <= n; c0 += bc, k++) {
		__m512 s0[4], s1[4];
		for (size_t t = 0; t < 4; t++)
			s0[t] = s1[t] = _mm512_setzero_ps();
		for (size_t j = 0; j < bc; j += 64) {
			e4m3x64_div256(codes + c0 + j, w, &nan);
			for (size_t t = 0; t < S; t++) {
				const float *xp = x + t * ldx + c0 + j;
				s0[t] = _mm512_fmadd_ps(w[0], _mm512_loadu_ps(xp), s0[t]);
				s1[t] = _mm512_fmadd_ps(w[1], _mm512_loadu_ps(xp + 16), s1[t]);
				s0[t] = _mm512_fmadd_ps(w[2], _mm512_loadu_ps(xp + 32), s0[t]);
				s1[t] = _mm512_fmadd_ps(w[3], _mm512_loadu_ps(xp + 48), s1[t]);
			}
		}
		__m512 f = _mm512_set1_ps(scales[k] * 256.0f);
		for (size_t t = 0; t < S; t++)
			total[t] = _mm512_fmadd_ps(f, _mm512_add_ps(s0[t], s1[t]), total[t]);
	}
	for (size_t t = 0; t < S; t++) {
		float tail = c0 < n ? dsck_k_row_e4m3_ref(codes + c0, scales + k, x + t * ldx + c0,
							   n - c0, bc) : 0;
		y[t * ldy] = nan ? NAN : _mm512_reduce_add_ps(total[t]) + tail;
	}
}

TVBMI static void rows_e4m3_vbmi(const uint8_t *codes, const float *scales, const float *x,
				 size_t ldx, size_t S, size_t n, size_t bc, float *y, size_t ldy)
{
	if (bc % 64) {
		for (size_t t = 0; t < S; t++)
			y[t * ldy] = row_e4m3_avx512(codes, scales, x + t * ldx, n, bc);
		return;
	}
	for (size_t t = 0; t < S; t += 4)
		rows4_e4m3_vbmi(codes, scales, x + t * ldx, ldx, S - t < 4 ? S - t : 4, n, bc,
				y + t * ldy, ldy);
}

T512 static void axpy_e4m3_avx512(const uint8_t *codes, const float *scales, float a,
				  float *y, size_t n, size_t bc)
{
	if (bc % 16) {
		dsck_k_axpy_e4m3_ref(codes, scales, a, y, n, bc);
		return;
	}
	size_t c0 = 0, k = 0;
	for (; c0 + bc <= n; c0 += bc, k++) {
		/* the decode's 2^-8 folded into the factor (exact) */
		__m512 f = _mm512_set1_ps(a * scales[k] * 256.0f);
		for (size_t j = 0; j < bc; j += 16)
			_mm512_storeu_ps(y + c0 + j, _mm512_fmadd_ps(f, e4m3x16_div256(codes + c0 + j),
								       _mm512_loadu_ps(y + c0 + j)));
	}
	if (c0 < n)
		dsck_k_axpy_e4m3_ref(codes + c0, scales + k, a, y + c0, n - c0, bc);
}

T512 float dsck_k_dot_bf16_avx512(const uint16_t *w, const float *x, size_t n)
{
	__m512 s0 = _mm512_setzero_ps(), s1 = s0;
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m512i a = _mm512_slli_epi32(
			_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(w + i))), 16);
		__m512i b = _mm512_slli_epi32(
			_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(w + i + 16))), 16);
		s0 = _mm512_fmadd_ps(_mm512_castsi512_ps(a), _mm512_loadu_ps(x + i), s0);
		s1 = _mm512_fmadd_ps(_mm512_castsi512_ps(b), _mm512_loadu_ps(x + i + 16), s1);
	}
	float t = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
	for (; i < n; i++)
		t += dsck_fp8_bf16_to_f32(w[i]) * x[i];
	return t;
}

static int avx512_ok(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
}

static int vbmi_ok(void)
{
	__builtin_cpu_init();
	return avx512_ok() && __builtin_cpu_supports("avx512vbmi");
}

__attribute__((target("avx2,fma"))) float dsck_k_dot_avx2(const float *a, const float *b,
							   size_t n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	size_t i = 0;
	for (; i + LANES <= n; i += LANES) {
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
		s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
		s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
	}
	/* the reference's pairwise tree over the 32 lanes */
	s0 = _mm256_add_ps(s0, s2);
	s1 = _mm256_add_ps(s1, s3);
	s0 = _mm256_add_ps(s0, s1);
	__m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
	h = _mm_add_ps(h, _mm_movehl_ps(h, h));
	h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
	float t = _mm_cvtss_f32(h);
	for (; i < n; i++)
		t += a[i] * b[i];
	return t;
}

/* The entry points for tests: each runs its kernel where the CPU has it,
 * else the next one down. */
float dsck_k_row_e4m3_avx512(const uint8_t *codes, const float *scales, const float *x,
			     size_t n, size_t bc)
{
	return avx512_ok() ? row_e4m3_avx512(codes, scales, x, n, bc)
			   : dsck_k_row_e4m3_ref(codes, scales, x, n, bc);
}

float dsck_k_row_e4m3_avx512vbmi(const uint8_t *codes, const float *scales, const float *x,
				 size_t n, size_t bc)
{
	return vbmi_ok() ? row_e4m3_vbmi(codes, scales, x, n, bc)
			 : dsck_k_row_e4m3_avx512(codes, scales, x, n, bc);
}

void dsck_k_rows_e4m3_avx512vbmi(const uint8_t *codes, const float *scales, const float *x,
				  size_t ldx, size_t S, size_t n, size_t bc, float *y, size_t ldy)
{
	if (vbmi_ok())
		rows_e4m3_vbmi(codes, scales, x, ldx, S, n, bc, y, ldy);
	else
		dsck_k_rows_e4m3_ref(codes, scales, x, ldx, S, n, bc, y, ldy);
}

void dsck_k_axpy_e4m3_avx512(const uint8_t *codes, const float *scales, float a, float *y,
			     size_t n, size_t bc)
{
	if (avx512_ok())
		axpy_e4m3_avx512(codes, scales, a, y, n, bc);
	else
		dsck_k_axpy_e4m3_ref(codes, scales, a, y, n, bc);
}

static int avx2_fma(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#else
float dsck_k_dot_avx2(const float *a, const float *b, size_t n)
{
	return dsck_k_dot_ref(a, b, n);
}

float dsck_k_row_e4m3_avx512(const uint8_t *codes, const float *scales, const float *x,
			     size_t n, size_t bc)
{
	return dsck_k_row_e4m3_ref(codes, scales, x, n, bc);
}

float dsck_k_row_e4m3_avx512vbmi(const uint8_t *codes, const float *scales, const float *x,
				 size_t n, size_t bc)
{
	return dsck_k_row_e4m3_ref(codes, scales, x, n, bc);
}

static float row_e4m3_avx512(const uint8_t *codes, const float *scales, const float *x,
			     size_t n, size_t bc)
{
	return dsck_k_row_e4m3_ref(codes, scales, x, n, bc);
}

void dsck_k_axpy_e4m3_avx512(const uint8_t *codes, const float *scales, float a, float *y,
			     size_t n, size_t bc)
{
	dsck_k_axpy_e4m3_ref(codes, scales, a, y, n, bc);
}

static void axpy_e4m3_avx512(const uint8_t *codes, const float *scales, float a, float *y,
			     size_t n, size_t bc)
{
	dsck_k_axpy_e4m3_ref(codes, scales, a, y, n, bc);
}

void dsck_k_rows_e4m3_avx512vbmi(const uint8_t *codes, const float *scales, const float *x,
				  size_t ldx, size_t S, size_t n, size_t bc, float *y, size_t ldy)
{
	dsck_k_rows_e4m3_ref(codes, scales, x, ldx, S, n, bc, y, ldy);
}

static void rows_e4m3_vbmi(const uint8_t *codes, const float *scales, const float *x,
			   size_t ldx, size_t S, size_t n, size_t bc, float *y, size_t ldy)
{
	dsck_k_rows_e4m3_ref(codes, scales, x, ldx, S, n, bc, y, ldy);
}

static float row_e4m3_vbmi(const uint8_t *codes, const float *scales, const float *x,
			   size_t n, size_t bc)
{
	return dsck_k_row_e4m3_ref(codes, scales, x, n, bc);
}

float dsck_k_dot_bf16_avx512(const uint16_t *w, const float *x, size_t n)
{
	return dsck_k_dot_bf16_ref(w, x, n);
}

static int avx512_ok(void)
{
	return 0;
}

static int vbmi_ok(void)
{
	return 0;
}

static int avx2_fma(void)
{
	return 0;
}
#endif

static int use_avx2 = -1; /* decided on the first call, from any thread */

static int pick(void)
{
	int v = __atomic_load_n(&use_avx2, __ATOMIC_RELAXED);
	if (v < 0) { /* every thread computes the same answer */
		const char *e = getenv("DSCK_KERNELS");
		v = !(e && strcmp(e, "ref") == 0) && avx2_fma();
		__atomic_store_n(&use_avx2, v, __ATOMIC_RELAXED);
	}
	return v;
}

float dsck_k_dot(const float *a, const float *b, size_t n)
{
	return pick() ? dsck_k_dot_avx2(a, b, n) : dsck_k_dot_ref(a, b, n);
}

static int use_avx512 = -1;

/* 0: the references, 1: AVX-512BW, 2: AVX-512BW and VBMI */
static int pick512(void)
{
	int v = __atomic_load_n(&use_avx512, __ATOMIC_RELAXED);
	if (v < 0) {
		const char *e = getenv("DSCK_KERNELS");
		v = !(e && (strcmp(e, "ref") == 0 || strcmp(e, "avx2") == 0)) && avx512_ok();
		v += v && vbmi_ok();
		__atomic_store_n(&use_avx512, v, __ATOMIC_RELAXED);
	}
	return v;
}

float dsck_k_dot_bf16(const uint16_t *w, const float *x, size_t n)
{
	return pick512() ? dsck_k_dot_bf16_avx512(w, x, n) : dsck_k_dot_bf16_ref(w, x, n);
}

float dsck_k_row_e4m3(const uint8_t *codes, const float *scales, const float *x, size_t n,
		      size_t bc)
{
	switch (pick512()) {
	case 2:
		return row_e4m3_vbmi(codes, scales, x, n, bc);
	case 1:
		return row_e4m3_avx512(codes, scales, x, n, bc);
	default:
		return dsck_k_row_e4m3_ref(codes, scales, x, n, bc);
	}
}

void dsck_k_rows_e4m3(const uint8_t *codes, const float *scales, const float *x, size_t ldx,
		      size_t S, size_t n, size_t bc, float *y, size_t ldy)
{
	switch (pick512()) {
	case 2:
		rows_e4m3_vbmi(codes, scales, x, ldx, S, n, bc, y, ldy);
		return;
	case 1:
		for (size_t t = 0; t < S; t++)
			y[t * ldy] = row_e4m3_avx512(codes, scales, x + t * ldx, n, bc);
		return;
	default:
		dsck_k_rows_e4m3_ref(codes, scales, x, ldx, S, n, bc, y, ldy);
	}
}

void dsck_k_axpy_e4m3(const uint8_t *codes, const float *scales, float a, float *y, size_t n,
		      size_t bc)
{
	if (pick512())
		axpy_e4m3_avx512(codes, scales, a, y, n, bc);
	else
		dsck_k_axpy_e4m3_ref(codes, scales, a, y, n, bc);
}

const char *dsck_k_dot_impl(void)
{
	return pick() ? "avx2" : "ref";
}
