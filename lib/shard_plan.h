/*
 * shard_plan.h - the plans of dsck-shard (formats.md §12, MP-R1..MP-R8):
 * HF -> MP(N) in the layout of DeepSeek's inference/convert.py, MP(N) ->
 * MP(M), MP(N) -> HF, and HF re-splits. The input is seen as logical
 * tensors (HF names, full shapes), each made of pieces of the input files:
 * one piece in an HF checkpoint, the ranks' slices in an MP directory.
 */
#ifndef DSCK_SHARD_PLAN_H
#define DSCK_SHARD_PLAN_H

#include "ckpt.h"
#include "plan.h"

#include <stddef.h>
#include <stdint.h>

struct dsck_shard_opts {
	uint32_t mp;               /* --mp N: write MP(N); 0: write HF */
	int keep_mtp;              /* keep the MTP layers in MP output (MP-R3) */
	const char *like;          /* HF output: the shard grouping of this index.json */
	uint64_t max_shard_size;   /* HF output: bytes of tensor data per file; 0: none */
	uint64_t max_tensors;      /* HF output: tensors per file; 0: none */
	int merge;                 /* HF output: one model.safetensors */
};

/*
 * Build the plan of o over ck into p (initialised here, laid out on
 * success; the caller releases it). A split the layout cannot make is
 * DSCK_E_UNSUPPORTED naming the tensor and the reason (MP-R5).
 */
enum dsck_err dsck_shard_plan_build(const struct dsck_ckpt *ck,
				    const struct dsck_shard_opts *o,
				    struct dsck_plan *p, struct dsck_error *err);

/*
 * MP-R5 alone: can ck be split over n ranks? DSCK_OK, or UNSUPPORTED with
 * the first tensor that cannot and why. *valid (cap entries) receives the
 * rank counts in 1..max_n that work, *n_valid their number.
 */
enum dsck_err dsck_shard_check_mp(const struct dsck_ckpt *ck, int keep_mtp,
				  uint32_t n, uint32_t max_n, uint32_t *valid,
				  size_t cap, size_t *n_valid,
				  struct dsck_error *err);

#endif
