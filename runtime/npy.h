/*
 * npy.h - write a float32 array as a NumPy .npy file (format 1.0), so
 * numpy.load reads logits and hidden states dsck-run writes. Atomic (W-R1).
 */
#ifndef DSCK_NPY_H
#define DSCK_NPY_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

/* data: row-major float32 of shape[0] x ... x shape[ndim-1] (ndim 1..4). */
enum dsck_err dsck_npy_write_f32(const char *path, const float *data, uint32_t ndim,
				 const uint64_t *shape, struct dsck_error *err);

#endif
