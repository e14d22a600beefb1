/* dot.c - float32 dot products (dot.h): a reference and AVX2+FMA. */
#include "dot.h"

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

#if defined(__x86_64__)
#include <immintrin.h>

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

const char *dsck_k_dot_impl(void)
{
	return pick() ? "avx2" : "ref";
}
