/*
 * convert.c - runtime dispatch of the conversion kernels (convert.h).
 *
 * The implementation is chosen once, on the first call from any thread
 * (pthread_once): AVX-512 when the CPU has AVX512F/BW/VL, else AVX2 (with
 * F16C), else the reference. DSCK_KERNELS=ref|avx2|avx512 in the
 * environment forces one, to compare results or to rule SIMD code out when
 * chasing a problem; a forced set the CPU cannot run falls back to the best
 * usable one below it. Every implementation gives bit-identical results, so
 * the choice changes speed only.
 */
#include "convert.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct kernel_set {
	const char *name;
	void (*e4m3_to_bf16)(const uint8_t *, size_t, float, uint16_t *);
	void (*e4m3_to_f32)(const uint8_t *, size_t, float, float *);
	void (*f32_to_e4m3)(const float *, size_t, float, uint8_t *);
	void (*bf16_to_e4m3)(const uint16_t *, size_t, float, uint8_t *);
	void (*bf16_to_f32)(const uint16_t *, size_t, float *);
	void (*f32_to_bf16)(const float *, size_t, uint16_t *);
	void (*f16_to_f32)(const uint16_t *, size_t, float *);
	void (*f32_to_f16)(const float *, size_t, uint16_t *);
	void (*e4m3_to_f16)(const uint8_t *, size_t, float, uint16_t *);
	float (*amax_f32)(const float *, size_t);
};

static const struct kernel_set kernels_ref = {
	"ref",
	dsck_k_ref_e4m3_to_bf16,
	dsck_k_ref_e4m3_to_f32,
	dsck_k_ref_f32_to_e4m3,
	dsck_k_ref_bf16_to_e4m3,
	dsck_k_ref_bf16_to_f32,
	dsck_k_ref_f32_to_bf16,
	dsck_k_ref_f16_to_f32,
	dsck_k_ref_f32_to_f16,
	dsck_k_ref_e4m3_to_f16,
	dsck_k_ref_amax_f32,
};

static const struct kernel_set kernels_avx2 = {
	"avx2",
	dsck_k_avx2_e4m3_to_bf16,
	dsck_k_avx2_e4m3_to_f32,
	dsck_k_avx2_f32_to_e4m3,
	dsck_k_avx2_bf16_to_e4m3,
	dsck_k_avx2_bf16_to_f32,
	dsck_k_avx2_f32_to_bf16,
	dsck_k_avx2_f16_to_f32,
	dsck_k_avx2_f32_to_f16,
	dsck_k_avx2_e4m3_to_f16,
	dsck_k_avx2_amax_f32,
};

static const struct kernel_set kernels_avx512 = {
	"avx512",
	dsck_k_avx512_e4m3_to_bf16,
	dsck_k_avx512_e4m3_to_f32,
	dsck_k_avx512_f32_to_e4m3,
	dsck_k_avx512_bf16_to_e4m3,
	dsck_k_avx512_bf16_to_f32,
	dsck_k_avx512_f32_to_bf16,
	dsck_k_avx512_f16_to_f32,
	dsck_k_avx512_f32_to_f16,
	dsck_k_avx512_e4m3_to_f16,
	dsck_k_avx512_amax_f32,
};

static const struct kernel_set *kernels_active = &kernels_ref;
static pthread_once_t kernels_once = PTHREAD_ONCE_INIT;

/* Ranks: 0 ref, 1 avx2, 2 avx512. The highest usable rank not above the
 * forced one (or above any, without DSCK_KERNELS) wins. */
static void kernels_choose(void)
{
	const char *env = getenv("DSCK_KERNELS");
	int limit = 2;
	if (env && strcmp(env, "ref") == 0)
		limit = 0;
	else if (env && strcmp(env, "avx2") == 0)
		limit = 1;

	if (limit >= 2 && dsck_k_avx512_usable())
		kernels_active = &kernels_avx512;
	else if (limit >= 1 && dsck_k_avx2_usable())
		kernels_active = &kernels_avx2;
	else
		kernels_active = &kernels_ref;
}

static const struct kernel_set *kernels_get(void)
{
	pthread_once(&kernels_once, kernels_choose);
	return kernels_active;
}

const char *dsck_k_impl_name(void)
{
	return kernels_get()->name;
}

void dsck_k_e4m3_to_bf16(const uint8_t *src, size_t n, float scale,
			 uint16_t *dst)
{
	kernels_get()->e4m3_to_bf16(src, n, scale, dst);
}

void dsck_k_e4m3_to_f32(const uint8_t *src, size_t n, float scale, float *dst)
{
	kernels_get()->e4m3_to_f32(src, n, scale, dst);
}

void dsck_k_f32_to_e4m3(const float *src, size_t n, float scale, uint8_t *dst)
{
	kernels_get()->f32_to_e4m3(src, n, scale, dst);
}

void dsck_k_bf16_to_e4m3(const uint16_t *src, size_t n, float scale,
			 uint8_t *dst)
{
	kernels_get()->bf16_to_e4m3(src, n, scale, dst);
}

void dsck_k_bf16_to_f32(const uint16_t *src, size_t n, float *dst)
{
	kernels_get()->bf16_to_f32(src, n, dst);
}

void dsck_k_f32_to_bf16(const float *src, size_t n, uint16_t *dst)
{
	kernels_get()->f32_to_bf16(src, n, dst);
}

void dsck_k_f16_to_f32(const uint16_t *src, size_t n, float *dst)
{
	kernels_get()->f16_to_f32(src, n, dst);
}

void dsck_k_f32_to_f16(const float *src, size_t n, uint16_t *dst)
{
	kernels_get()->f32_to_f16(src, n, dst);
}

void dsck_k_e4m3_to_f16(const uint8_t *src, size_t n, float scale,
			uint16_t *dst)
{
	kernels_get()->e4m3_to_f16(src, n, scale, dst);
}

float dsck_k_amax_f32(const float *src, size_t n)
{
	return kernels_get()->amax_f32(src, n);
}
