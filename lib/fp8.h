/*
 * fp8.h - scalar reference conversions of every computable dtype to float.
 *
 * The element formats (formats.md §3):
 *   F8_E4M3  e4m3fn: 1 sign, 4 exponent (bias 7), 3 mantissa bits; no
 *            infinities; 0x7F and 0xFF are NaN; max finite 448; subnormals
 *            m * 2^-9 (D-R1). Decoded through a 256-entry table built once.
 *   F8_E5M2  1/5/2, bias 15, IEEE-like: infinities, NaNs, subnormals. It is
 *            exactly the high byte of an IEEE half.
 *   F8_E8M0  unsigned biased exponent, value 2^(e-127); 0xFF is NaN (D-R2).
 *   BF16     the 16 high bits of an IEEE single: exact (D-R3).
 *   F16      IEEE half, subnormals, infinities and NaNs.
 *   F32/F64  IEEE, little-endian.
 *   BOOL, U8..U64, I8..I64: integers as values (I64/U64 above 2^53 round to
 *            the nearest double).
 * Tensor bytes are little-endian (safetensors); dsck builds for little-endian
 * hosts only (checked at compile time in fp8.c).
 *
 * Every function is pure and thread-safe. Conversions never fail for a
 * supported dtype; NaN payloads are not preserved (a NaN in is a NaN out).
 */
#ifndef DSCK_FP8_H
#define DSCK_FP8_H

#include "dtype.h"

#include <stddef.h>
#include <stdint.h>

/* e4m3fn byte -> float (table lookup). */
float dsck_fp8_e4m3_to_f32(uint8_t b);

/* The 256-entry e4m3fn table, indexed by the byte; built on first use. */
const float *dsck_fp8_e4m3_table(void);

/* e5m2 byte -> float. */
float dsck_fp8_e5m2_to_f32(uint8_t b);

/* e8m0 byte -> float: 2^(b-127), NaN for 0xFF (0x00 is 2^-127, a subnormal). */
float dsck_fp8_e8m0_to_f32(uint8_t b);

/* bfloat16 bits -> float, exact. */
float dsck_fp8_bf16_to_f32(uint16_t h);

/* IEEE half bits -> float, exact (every half is a float). */
float dsck_fp8_f16_to_f32(uint16_t h);

/* True when dsck_fp8_convert_f64/_f32 accept t (the 13 dtypes of §3 plus
 * U16, U32, U64). */
int dsck_fp8_can_convert(enum dsck_dtype t);

/*
 * Convert n elements of dtype t from src (raw little-endian tensor bytes,
 * any alignment) into dst[0..n). Returns 0, or -1 when t is not
 * convertible (dst untouched). The _f32 form rounds F64 and 64-bit
 * integers to float; every other dtype is exact in float.
 */
int dsck_fp8_convert_f64(enum dsck_dtype t, const void *src, size_t n,
			 double *dst);
int dsck_fp8_convert_f32(enum dsck_dtype t, const void *src, size_t n,
			 float *dst);

#endif
