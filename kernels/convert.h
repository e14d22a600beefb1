/*
 * convert.h - element conversion kernels of the convert tool: FP8 e4m3fn
 * weights with a float32 block scale to BF16/F32/F16, F32/BF16 back to
 * e4m3fn, plain BF16/F16 <-> F32 conversions and the absolute maximum of a
 * float32 buffer, with a plain C ABI.
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
 * Plain format conversions (no scale):
 *
 *   bf16 -> f32   exact: the BF16 bits become the high half of the f32.
 *   f32 -> bf16   round-to-nearest-even as for e4m3 -> bf16 above; NaN
 *                 becomes sign|0x7FC0.
 *   f16 -> f32    IEEE binary16 widened exactly: subnormals become normal
 *                 floats, +-inf stays infinite, a NaN keeps its sign and
 *                 payload (shifted up 13 bits) and gets the quiet bit
 *                 (0x7E00 -> 0x7FC00000, 0x7C01 -> 0x7FC02000), as the
 *                 x86 F16C instructions and lib/fp8.c do. numpy agrees on
 *                 every quiet NaN and on all other codes.
 *   f32 -> f16    round-to-nearest-even, as numpy's astype(float16):
 *                 |x| >= 65520 (the tie above 65504, the largest finite
 *                 half) and infinity become +-inf; |x| < 2^-14 rounds to
 *                 a subnormal m * 2^-24 (m in 0..1023, or 1024 = the
 *                 smallest normal), exactly 2^-25 ties to even, to zero;
 *                 the sign is kept, also of zero; NaN -> sign|0x7E00 (the
 *                 payload is dropped).
 *   e4m3 -> f16   the f32 product of e4m3 -> f32, then f32 -> f16 as above
 *                 (products past 65504 round to +-inf).
 *   amax f32      the largest |x| over n floats (+0 for n = 0); +inf if any
 *                 element is infinite and none is NaN; the quiet NaN
 *                 0x7FC00000 if any element is NaN, so the caller can
 *                 refuse the tensor. The result does not depend on the
 *                 order of the elements (it is an integer maximum of the
 *                 magnitude bits), so every implementation agrees.
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
 * (thread-safe) on first use, in the order avx512 > avx2 > ref. The
 * environment variable DSCK_KERNELS=ref|avx2|avx512 forces one; a forced
 * implementation the CPU cannot run falls back to the best usable one below
 * it (avx512 -> avx2 -> ref). Any other value is ignored. Every kernel has
 * an AVX2 and an AVX-512 version; none dispatches to the reference only. */
void dsck_k_e4m3_to_bf16(const uint8_t *src, size_t n, float scale,
			 uint16_t *dst);
void dsck_k_e4m3_to_f32(const uint8_t *src, size_t n, float scale, float *dst);
void dsck_k_f32_to_e4m3(const float *src, size_t n, float scale, uint8_t *dst);
void dsck_k_bf16_to_e4m3(const uint16_t *src, size_t n, float scale,
			 uint8_t *dst);
void dsck_k_bf16_to_f32(const uint16_t *src, size_t n, float *dst);
void dsck_k_f32_to_bf16(const float *src, size_t n, uint16_t *dst);
void dsck_k_f16_to_f32(const uint16_t *src, size_t n, float *dst);
void dsck_k_f32_to_f16(const float *src, size_t n, uint16_t *dst);
void dsck_k_e4m3_to_f16(const uint8_t *src, size_t n, float scale,
			uint16_t *dst);
float dsck_k_amax_f32(const float *src, size_t n);

/* Name of the implementation the dispatcher chose: "ref", "avx2" or
 * "avx512". */
const char *dsck_k_impl_name(void);

/* Single-element helpers of the reference semantics. */
uint16_t dsck_k_f32_to_bf16_rne(float x);
uint16_t dsck_k_f32_to_f16_rne(float x);
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
void dsck_k_ref_bf16_to_f32(const uint16_t *src, size_t n, float *dst);
void dsck_k_ref_f32_to_bf16(const float *src, size_t n, uint16_t *dst);
void dsck_k_ref_f16_to_f32(const uint16_t *src, size_t n, float *dst);
void dsck_k_ref_f32_to_f16(const float *src, size_t n, uint16_t *dst);
void dsck_k_ref_e4m3_to_f16(const uint8_t *src, size_t n, float scale,
			    uint16_t *dst);
float dsck_k_ref_amax_f32(const float *src, size_t n);

/* The AVX2 kernels (x86 only; call them only when dsck_k_avx2_usable(),
 * which requires AVX2 and F16C: every AVX2 CPU has F16C). On other
 * architectures they exist and compute the reference. */
int dsck_k_avx2_usable(void);
void dsck_k_avx2_e4m3_to_bf16(const uint8_t *src, size_t n, float scale,
			      uint16_t *dst);
void dsck_k_avx2_e4m3_to_f32(const uint8_t *src, size_t n, float scale,
			     float *dst);
void dsck_k_avx2_f32_to_e4m3(const float *src, size_t n, float scale,
			     uint8_t *dst);
void dsck_k_avx2_bf16_to_e4m3(const uint16_t *src, size_t n, float scale,
			      uint8_t *dst);
void dsck_k_avx2_bf16_to_f32(const uint16_t *src, size_t n, float *dst);
void dsck_k_avx2_f32_to_bf16(const float *src, size_t n, uint16_t *dst);
void dsck_k_avx2_f16_to_f32(const uint16_t *src, size_t n, float *dst);
void dsck_k_avx2_f32_to_f16(const float *src, size_t n, uint16_t *dst);
void dsck_k_avx2_e4m3_to_f16(const uint8_t *src, size_t n, float scale,
			     uint16_t *dst);
float dsck_k_avx2_amax_f32(const float *src, size_t n);

/* The AVX-512 kernels (x86-64 only; call them only when
 * dsck_k_avx512_usable(): AVX512F, AVX512BW and AVX512VL with the OS
 * saving the zmm state). On other architectures they exist and compute the
 * reference. */
int dsck_k_avx512_usable(void);
void dsck_k_avx512_e4m3_to_bf16(const uint8_t *src, size_t n, float scale,
				uint16_t *dst);
void dsck_k_avx512_e4m3_to_f32(const uint8_t *src, size_t n, float scale,
			       float *dst);
void dsck_k_avx512_f32_to_e4m3(const float *src, size_t n, float scale,
			       uint8_t *dst);
void dsck_k_avx512_bf16_to_e4m3(const uint16_t *src, size_t n, float scale,
				uint8_t *dst);
void dsck_k_avx512_bf16_to_f32(const uint16_t *src, size_t n, float *dst);
void dsck_k_avx512_f32_to_bf16(const float *src, size_t n, uint16_t *dst);
void dsck_k_avx512_f16_to_f32(const uint16_t *src, size_t n, float *dst);
void dsck_k_avx512_f32_to_f16(const float *src, size_t n, uint16_t *dst);
void dsck_k_avx512_e4m3_to_f16(const uint8_t *src, size_t n, float scale,
			       uint16_t *dst);
float dsck_k_avx512_amax_f32(const float *src, size_t n);

#endif
