/*
 * convert.c - runtime dispatch of the conversion kernels (convert.h).
 *
 * The implementation is chosen once, on the first call from any thread
 * (pthread_once): AVX2 when the CPU has it, else the reference. Setting
 * DSCK_KERNELS=ref in the environment forces the reference, to compare
 * results or to rule the SIMD code out when chasing a problem. Every
 * implementation gives bit-identical results, so the choice changes speed
 * only.
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
};

static const struct kernel_set kernels_ref = {
	"ref",
	dsck_k_ref_e4m3_to_bf16,
	dsck_k_ref_e4m3_to_f32,
	dsck_k_ref_f32_to_e4m3,
	dsck_k_ref_bf16_to_e4m3,
};

static const struct kernel_set kernels_avx2 = {
	"avx2",
	dsck_k_avx2_e4m3_to_bf16,
	dsck_k_avx2_e4m3_to_f32,
	dsck_k_avx2_f32_to_e4m3,
	dsck_k_avx2_bf16_to_e4m3,
};

static const struct kernel_set *kernels_active = &kernels_ref;
static pthread_once_t kernels_once = PTHREAD_ONCE_INIT;

static void kernels_choose(void)
{
	const char *env = getenv("DSCK_KERNELS");
	if (env && strcmp(env, "ref") == 0)
		kernels_active = &kernels_ref;
	else if (dsck_k_avx2_usable())
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
