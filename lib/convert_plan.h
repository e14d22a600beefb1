/*
 * convert_plan.h - the plan of dsck-convert (formats.md §11, CV-R1..CV-R7):
 * which tensors change dtype and how, where each lands, and the side files
 * of a complete Hugging Face directory.
 */
#ifndef DSCK_CONVERT_PLAN_H
#define DSCK_CONVERT_PLAN_H

#include "ckpt.h"
#include "plan.h"

#include <stddef.h>
#include <stdint.h>

struct dsck_convert_opts {
	enum dsck_dtype to;            /* DSCK_BF16, DSCK_F16, DSCK_F32 or DSCK_F8_E4M3 */
	int ue8m0;                     /* --to fp8: scales rounded up to 2^k */
	const char *const *only;       /* fnmatch globs on tensor names; none = all */
	size_t n_only;
	const char *const *exclude;
	size_t n_exclude;
	uint64_t max_shard_size;       /* bytes; 0 keeps the input's grouping */
};

/* Counts for --dry-run and the summary line. */
struct dsck_convert_stats {
	size_t dequant, quant, cast, copied, scales_dropped;
};

/*
 * Build the plan converting ck under o into p (initialised here, laid out
 * on success; the caller releases it). Errors name the tensor: an FP8
 * weight without its scale (TENSOR_NOT_FOUND), a scale grid of the wrong
 * shape or dtype (MODEL_MISMATCH), --to fp8 without config.json
 * (CONFIG_MISSING).
 */
enum dsck_err dsck_convert_plan_build(const struct dsck_ckpt *ck,
				      const struct dsck_convert_opts *o,
				      struct dsck_plan *p,
				      struct dsck_convert_stats *stats,
				      struct dsck_error *err);

/* "5GB" (10^9), "4GiB" (2^30), "500MB", "123" bytes; -1 on a bad size. */
int dsck_size_parse(const char *s, uint64_t *out);

#endif
