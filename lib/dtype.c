/* dtype.c - the dtype table (dtype.h). */
#include "dtype.h"
#include "arith.h"

#include <string.h>

struct dtype_row {
	const char *name;
	unsigned bits;
	unsigned align_rank; /* position in the reference writer's enum */
	int is_float;
};

/*
 * align_rank follows the order of the reference Dtype enum (safetensors
 * src/tensor.rs, "MUST be in increasing alignment order"): BOOL F4 F6_E2M3
 * F6_E3M2 U8 I8 F8_E5M2 F8_E4M3 F8_E8M0 F8_E4M3FNUZ F8_E5M2FNUZ I16 U16 F16
 * BF16 I32 U32 F32 C64 F64 I64 U64; verified against safetensors.save_file
 * by tests/oracle/check_writer.py.
 */
static const struct dtype_row dtype_table[] = {
	[DSCK_BOOL] = { "BOOL", 8, 0, 0 },
	[DSCK_U8] = { "U8", 8, 4, 0 },
	[DSCK_I8] = { "I8", 8, 5, 0 },
	[DSCK_I16] = { "I16", 16, 11, 0 },
	[DSCK_U16] = { "U16", 16, 12, 0 },
	[DSCK_I32] = { "I32", 32, 15, 0 },
	[DSCK_U32] = { "U32", 32, 16, 0 },
	[DSCK_I64] = { "I64", 64, 20, 0 },
	[DSCK_U64] = { "U64", 64, 21, 0 },
	[DSCK_F16] = { "F16", 16, 13, 1 },
	[DSCK_BF16] = { "BF16", 16, 14, 1 },
	[DSCK_F32] = { "F32", 32, 17, 1 },
	[DSCK_F64] = { "F64", 64, 19, 1 },
	[DSCK_F8_E4M3] = { "F8_E4M3", 8, 7, 1 },
	[DSCK_F8_E5M2] = { "F8_E5M2", 8, 6, 1 },
	[DSCK_F8_E8M0] = { "F8_E8M0", 8, 8, 1 },
	[DSCK_F8_E4M3FNUZ] = { "F8_E4M3FNUZ", 8, 9, 0 },
	[DSCK_F8_E5M2FNUZ] = { "F8_E5M2FNUZ", 8, 10, 0 },
	[DSCK_F4] = { "F4", 4, 1, 0 },
	[DSCK_F6_E2M3] = { "F6_E2M3", 6, 2, 0 },
	[DSCK_F6_E3M2] = { "F6_E3M2", 6, 3, 0 },
	[DSCK_C64] = { "C64", 64, 18, 0 },
};
_Static_assert(sizeof dtype_table / sizeof dtype_table[0] == DSCK_DTYPE_COUNT,
	       "dtype table must cover the enum");

const char *dsck_dtype_name(enum dsck_dtype t)
{
	return (unsigned)t < DSCK_DTYPE_COUNT ? dtype_table[t].name : NULL;
}

unsigned dsck_dtype_bits(enum dsck_dtype t)
{
	return (unsigned)t < DSCK_DTYPE_COUNT ? dtype_table[t].bits : 0;
}

unsigned dsck_dtype_align_rank(enum dsck_dtype t)
{
	return (unsigned)t < DSCK_DTYPE_COUNT ? dtype_table[t].align_rank : 0;
}

int dsck_dtype_is_float(enum dsck_dtype t)
{
	return (unsigned)t < DSCK_DTYPE_COUNT && dtype_table[t].is_float;
}

int dsck_dtype_from_name(const char *s, size_t len, enum dsck_dtype *out)
{
	for (unsigned i = 0; i < DSCK_DTYPE_COUNT; i++) {
		const char *n = dtype_table[i].name;
		if (strlen(n) == len && memcmp(n, s, len) == 0) {
			*out = (enum dsck_dtype)i;
			return 0;
		}
	}
	return -1;
}

int dsck_dtype_nbytes(enum dsck_dtype t, uint64_t numel, uint64_t *out)
{
	uint64_t bits;
	if (dsck_mul_u64(numel, dsck_dtype_bits(t), &bits))
		return 1;
	if (bits % 8 != 0)
		return 2;
	*out = bits / 8;
	return 0;
}
