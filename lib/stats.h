/*
 * stats.h - streaming statistics of the dequantized values of tensors.
 *
 * For every selected tensor: element count, NaN / Inf / zero counts, and over
 * the finite values min, max, absmax, mean and population standard deviation.
 * An FP8 weight (F8_E4M3 or F8_E5M2) with a companion "<name>_scale_inv"
 * tensor anywhere in the checkpoint is dequantized with its block scales
 * first (reference notes §4.1):
 *
 *     y[m, n] = float(x[m, n]) * s[m / br, n / bc]   (computed in float32)
 *
 * where br x bc is quantization_config.weight_block_size (128 x 128 when the
 * checkpoint has no config or no quantization_config) and the scale grid of a
 * 2-D [out, in] weight is [ceil(out/br), ceil(in/bc)]; a partial edge block
 * uses its block's scale. The scale is checked before any data is read.
 *
 * Data are streamed through bounded per-thread buffers: a tensor is cut into
 * fixed chunks of chunk_bytes raw bytes (8 MiB by default); workers take
 * chunks from a shared counter; each chunk yields a partial result; partials
 * are merged per tensor in chunk order afterwards. The chunk boundaries and
 * the merge order depend only on the tensor and chunk_bytes, never on the
 * thread count or scheduling, so results are bitwise reproducible for any
 * number of threads.
 *
 * Accumulation is in double: within a chunk in batches of 4096 values (exact
 * two-pass mean and sum of squared deviations per batch), batches and chunks
 * combined with Chan's pairwise update of (count, mean, M2).
 */
#ifndef DSCK_STATS_H
#define DSCK_STATS_H

#include "ckpt.h"
#include "dtype.h"
#include "err.h"

#include <stddef.h>
#include <stdint.h>

/* Mergeable accumulator. min/max/absmax/mean/m2 describe the finite values. */
struct dsck_stats {
	uint64_t count;      /* every element */
	uint64_t finite;     /* count - nan_count - inf_count */
	uint64_t nan_count;
	uint64_t inf_count;  /* +Inf and -Inf */
	uint64_t zero_count; /* +0 and -0 */
	double min, max;     /* 0 when finite == 0 */
	double absmax;       /* max |y| over finite values; 0 when none */
	double mean;         /* 0 when finite == 0 */
	double m2;           /* sum of (y - mean)^2 over finite values */
};

/* Empty accumulator. */
void dsck_stats_init(struct dsck_stats *s);

/* Add n values in order (one batch: two-pass, then merged into s). */
void dsck_stats_add(struct dsck_stats *s, const double *v, size_t n);

/* into := into followed by b (Chan et al. pairwise update). */
void dsck_stats_merge(struct dsck_stats *into, const struct dsck_stats *b);

/* Population standard deviation sqrt(m2 / finite); 0 when finite == 0. */
double dsck_stats_std(const struct dsck_stats *s);

/* Result for one tensor. Names are views into the checkpoint. */
struct dsck_tensor_stats {
	const char *name;
	size_t tensor;            /* index into ck->tensors */
	enum dsck_dtype dtype;
	int computed;             /* 0: dtype has no numeric meaning here (F4, C64...) */
	int dequantized;          /* 1: block scales were applied */
	const char *scale_name;   /* the companion scale when dequantized, else NULL */
	uint64_t block_rows, block_cols; /* br x bc used when dequantized */
	struct dsck_stats s;
};

/*
 * Progress: bytes of tensor data processed so far out of the total of the
 * selected tensors. Called after each chunk, from worker threads, one call
 * at a time (serialized by the library); must not call back into stats.
 */
typedef void (*dsck_stats_progress_fn)(void *ctx, uint64_t done_bytes,
				       uint64_t total_bytes);

#define DSCK_STATS_CHUNK_BYTES (8u << 20) /* raw bytes per work unit and per thread buffer */
#define DSCK_STATS_MAX_THREADS 256

struct dsck_stats_opts {
	const char *glob;          /* fnmatch(3) pattern on tensor names; NULL: all */
	int threads;               /* <= 0: online CPUs; capped at DSCK_STATS_MAX_THREADS */
	uint64_t chunk_bytes;      /* 0: DSCK_STATS_CHUNK_BYTES; small values are for tests */
	dsck_stats_progress_fn progress; /* may be NULL */
	void *progress_ctx;
};

/*
 * Compute the statistics of every tensor of ck whose name matches the
 * pattern, in ck->tensors order (name order). On success *out is a new array
 * of *n_out results (possibly 0 and NULL) to free with dsck_stats_free.
 * Errors: MODEL_MISMATCH for a scale of the wrong shape or dtype or an FP8
 * weight with a scale that is not 2-D (naming both tensors), IO/NOMEM, and
 * the error of the lowest-numbered failing chunk when several fail.
 */
enum dsck_err dsck_stats_compute_opts(const struct dsck_ckpt *ck,
				      const struct dsck_stats_opts *opts,
				      struct dsck_tensor_stats **out,
				      size_t *n_out, struct dsck_error *err);

/* Same with default chunking. */
enum dsck_err dsck_stats_compute(const struct dsck_ckpt *ck, const char *glob,
				 int threads, dsck_stats_progress_fn progress,
				 void *progress_ctx, struct dsck_tensor_stats **out,
				 size_t *n_out, struct dsck_error *err);

void dsck_stats_free(struct dsck_tensor_stats *results);

#endif
