/*
 * weights.h - the model's weights as read-only views of the checkpoint
 * files (mmap), in their stored dtype: FP8 e4m3 with F32 block scales,
 * BF16 or F32. Kernels dequantize tiles on the fly; no dequantized copy of
 * a weight is ever made (formats.md RT-R1).
 *
 * A weight is a matrix [rows, cols] (a vector is 1 x n) made of pieces: one
 * for an HF checkpoint, the ranks' slices for an MP directory read whole.
 */
#ifndef DSCK_WEIGHTS_H
#define DSCK_WEIGHTS_H

#include "ckpt.h"
#include "err.h"
#include "logical.h"
#include "pool.h"

#include <stddef.h>
#include <stdint.h>

/* A rectangle [sr0, sr0+rows) x [sc0, sc0+cols) of a stored tensor of
 * pr x pc elements (its row stride is pc), placed at (row0, col0) of the
 * weight. sc0 and sr0 are whole FP8 blocks (MP-R5). */
struct dsck_wpiece {
	const uint8_t *data;       /* the stored tensor, row-major [pr, pc] */
	const float *scale;        /* FP8: its grid [ceil(pr/br), ceil(pc/bc)], else NULL */
	uint64_t pr, pc;
	uint64_t sr0, sc0;
	uint64_t row0, col0;       /* place in the weight */
	uint64_t rows, cols;
};

struct dsck_weight {
	const char *name;          /* view of the checkpoint's name */
	enum dsck_dtype dtype;     /* F8_E4M3, BF16 or F32 */
	uint64_t rows, cols;
	uint64_t br, bc;           /* FP8 block */
	uint32_t np;
	struct dsck_wpiece *p;     /* np pieces, owned by the dsck_wmap */
};

struct dsck_wchunk;

/* Every shard of a checkpoint mapped read-only, and for an MP(N) directory
 * its logical view (the ranks' slices of each tensor, MP-R4). */
struct dsck_wmap {
	const struct dsck_ckpt *ck;
	size_t n;
	void **base;               /* mmap of shard i, or MAP_FAILED */
	uint64_t *len;
	int has_lv;
	struct dsck_logical lv;
	struct dsck_wchunk *chunks; /* storage of the weights' pieces */
};

/* Map ck; with_view builds the logical view also for an HF checkpoint
 * (ranks slice through it); an MP directory always gets it. */
enum dsck_err dsck_wmap_open(const struct dsck_ckpt *ck, int with_view, struct dsck_wmap *m,
			     struct dsck_error *err);
void dsck_wmap_close(struct dsck_wmap *m);

/*
 * The weight of HF name `name` (its scale "<name>_scale_inv" when FP8).
 * Shapes are checked against rows x cols (0 = any); a missing tensor is
 * TENSOR_NOT_FOUND unless optional, then *found = 0.
 */
enum dsck_err dsck_weight_get(const struct dsck_wmap *m, const char *name,
			      uint64_t rows, uint64_t cols, int optional,
			      struct dsck_weight *w, int *found,
			      struct dsck_error *err);

/* y[s, o] = sum_i x[s, i] * W[o, i] for s < S, o < rows: x [S, cols],
 * y [S, rows], fp32, W dequantized in the kernel, rows split over the pool.
 * tmp: per-thread scratch handled inside. */
void dsck_matmul(struct dsck_pool *pool, const struct dsck_weight *w,
		 const float *x, size_t S, float *y);

/* y[i] = W[r0 + i, :] . x for i < n, on the calling thread: x [cols]. */
void dsck_weight_dot_rows(const struct dsck_weight *w, uint64_t r0, uint64_t n, const float *x,
			  float *y);

/* One product y = x . w^T of dsck_matmul. */
struct dsck_mm {
	const struct dsck_weight *w;
	const float *x;            /* [S, w->cols] */
	size_t S;
	float *y;                  /* [S, w->rows] */
};

/* The n products of mm in one pool run (their rows share the threads, one
 * wait for all); each is the same arithmetic as dsck_matmul. */
void dsck_matmul_n(struct dsck_pool *pool, const struct dsck_mm *mm, size_t n);

/* y[:] += a * W[r, :] (y [cols]), on the calling thread; scratch [cols]
 * is used when the row must be widened first. */
void dsck_weight_axpy_row(const struct dsck_weight *w, uint64_t r, float a, float *y,
			  float *scratch);

/* ya = x . wa^T and yb = x . wb^T (both [S, cols] inputs) in one pool run. */
void dsck_matmul2(struct dsck_pool *pool, const struct dsck_weight *wa,
		  const struct dsck_weight *wb, const float *x, size_t S, float *ya, float *yb);

/*
 * The rectangle rows [r0, r0+rows) x cols [c0, c0+cols) of the weight of
 * HF name `name` (a rank's slice, MP-R2), whatever the layout; the view
 * must exist (dsck_wmap_open with a rank count). rows or cols 0: all.
 */
enum dsck_err dsck_weight_get_rect(const struct dsck_wmap *m, const char *name,
				   uint64_t r0, uint64_t rows, uint64_t c0, uint64_t cols,
				   struct dsck_weight *w, struct dsck_error *err);

/* Row r of W as fp32 into out[cols] (embedding lookup). */
void dsck_weight_row(const struct dsck_weight *w, uint64_t r, float *out);

/* A vector weight (norms, bias) as fp32 into out[cols]. */
void dsck_weight_vec(const struct dsck_weight *w, float *out);

#endif
