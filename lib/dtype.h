/*
 * dtype.h - the one dtype table: safetensors names and bit widths.
 *
 * The 22 dtypes of the safetensors reference reader are all accepted when
 * reading (formats.md ST-R8); the names are exact and case-sensitive.
 * dsck computes with the 13 of formats.md §3 (FP8 e4m3 weights, BF16, F32 ...).
 */
#ifndef DSCK_DTYPE_H
#define DSCK_DTYPE_H

#include <stddef.h>
#include <stdint.h>

enum dsck_dtype {
	DSCK_BOOL,
	DSCK_U8,
	DSCK_I8,
	DSCK_I16,
	DSCK_U16,
	DSCK_I32,
	DSCK_U32,
	DSCK_I64,
	DSCK_U64,
	DSCK_F16,
	DSCK_BF16,
	DSCK_F32,
	DSCK_F64,
	DSCK_F8_E4M3,
	DSCK_F8_E5M2,
	DSCK_F8_E8M0,
	DSCK_F8_E4M3FNUZ,
	DSCK_F8_E5M2FNUZ,
	DSCK_F4,
	DSCK_F6_E2M3,
	DSCK_F6_E3M2,
	DSCK_C64,
	DSCK_DTYPE_COUNT
};

/* Name as written in a safetensors header ("F8_E4M3"). NULL if out of range. */
const char *dsck_dtype_name(enum dsck_dtype t);

/* Width of one element in bits (4, 6, 8, 16, 32, 64); 0 if out of range. */
unsigned dsck_dtype_bits(enum dsck_dtype t);

/*
 * Rank used by the safetensors writer to order tensors: the reference
 * writer sorts by this, descending, then by name (formats.md ST-W2).
 */
unsigned dsck_dtype_align_rank(enum dsck_dtype t);

/* Parse a header dtype name of len bytes. Returns 0 and sets *out, or -1. */
int dsck_dtype_from_name(const char *s, size_t len, enum dsck_dtype *out);

/* True for the float types dsck can turn into f32 (stats, dequantization). */
int dsck_dtype_is_float(enum dsck_dtype t);

/*
 * Bytes of numel elements: returns 0 on success, 1 if numel * bits
 * overflows 64 bits (ST-R11), 2 if it is not a whole number of bytes (ST-R12).
 */
int dsck_dtype_nbytes(enum dsck_dtype t, uint64_t numel, uint64_t *out);

#endif
