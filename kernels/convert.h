/*
 * convert.h - element conversion kernels of the convert tool: FP8 e4m3fn
 * weights with a float32 block scale to BF16/F32, and F32/BF16 back to
 * e4m3fn, with a plain C ABI.
 *
 * Semantics (every implementation is bit-identical to the reference):
 *
 *   e4m3 -> f32   y = (float)e4m3(code) * scale, one IEEE float32 multiply,
 *                 round-to-nearest-even, no fused operations. e4m3fn per
 *                 formats.md D-R1 (0x7F/0xFF are NaN, max finite 448).
 *   e4m3 -> bf16  the f32 result above rounded to BF16 round-to-nearest-even
 *                 (ties to even on the 16 dropped bits; a finite value may
 *                 round to +-inf). NaN becomes the quiet NaN sign|0x7FC0.
 *                 This is DeepSeek-V3's weight_dequant: x.float() * s, then
 *                 .to(torch.bfloat16).
 *   f32 -> e4m3   q = x / scale, one correctly rounded IEEE float32 division
 *                 (not x * (1/scale): the reciprocal is itself rounded, and
 *                 the two differ by one ulp on some inputs), then q rounded
 *                 to e4m3fn round-to-nearest-even:
 *                   - |q| >= 448 (finite or infinite) saturates to +-448
 *                     (0x7E/0xFE), as NVIDIA's cvt ... .satfinite does;
 *                   - NaN -> 0x7F, or 0xFF when the NaN's sign bit is set;
 *                   - |q| < 2^-6 rounds to a subnormal m * 2^-9 (m in 0..7,
 *                     or 8 = the smallest normal); below 2^-10 it is zero,
 *                     exactly 2^-10 ties to even, to zero;
 *                   - the sign is kept, also of zero (-0 -> 0x80).
 *   bf16 -> e4m3  the BF16 bits widened exactly to f32 (D-R3), then as above.
 *
 * The scale is an arbitrary float32; DeepSeek checkpoints use positive
 * finite block scales. Float32 subnormals are computed exactly (the kernels
 * never set flush-to-zero), and the rounding mode must be the default
 * round-to-nearest-even.
 *
 * Pointers need only their element type's alignment; no vector alignment is
 * required, and n may be any count (0 included). src and dst must not
 * overlap. Every function is thread-safe.
 */
#ifndef DSCK_CONVERT_H
#define DSCK_CONVERT_H

#include <stddef.h>
#include <stdint.h>

/* Dispatched kernels: the fastest implementation the CPU runs, chosen once
 * (thread-safe) on first use. DSCK_KERNELS=ref in the environment forces the
 * reference implementation. */
void dsck_k_e4m3_to_bf16(const uint8_t *src, size_t n, float scale,
			 uint16_t *dst);
void dsck_k_e4m3_to_f32(const uint8_t *src, size_t n, float scale, float *dst);
void dsck_k_f32_to_e4m3(const float *src, size_t n, float scale, uint8_t *dst);
void dsck_k_bf16_to_e4m3(const uint16_t *src, size_t n, float scale,
			 uint8_t *dst);

/* Name of the implementation the dispatcher chose: "ref" or "avx2". */
const char *dsck_k_impl_name(void);

/* Single-element helpers of the reference semantics. */
uint16_t dsck_k_f32_to_bf16_rne(float x);
uint8_t dsck_k_f32_to_e4m3_sat(float q);

/* The reference kernels: portable C, the definition of the results. */
void dsck_k_ref_e4m3_to_bf16(const uint8_t *src, size_t n, float scale,
			     uint16_t *dst);
void dsck_k_ref_e4m3_to_f32(const uint8_t *src, size_t n, float scale,
			    float *dst);
void dsck_k_ref_f32_to_e4m3(const float *src, size_t n, float scale,
			    uint8_t *dst);
void dsck_k_ref_bf16_to_e4m3(const uint16_t *src, size_t n, float scale,
			     uint8_t *dst);

/* The AVX2 kernels (x86 only; call them only when dsck_k_avx2_usable()). */
int dsck_k_avx2_usable(void);
void dsck_k_avx2_e4m3_to_bf16(const uint8_t *src, size_t n, float scale,
			      uint16_t *dst);
void dsck_k_avx2_e4m3_to_f32(const uint8_t *src, size_t n, float scale,
			     float *dst);
void dsck_k_avx2_f32_to_e4m3(const float *src, size_t n, float scale,
			     uint8_t *dst);
void dsck_k_avx2_bf16_to_e4m3(const uint16_t *src, size_t n, float scale,
			      uint8_t *dst);

#endif
