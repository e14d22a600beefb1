/*
 * mp.h - DeepSeek's model-parallel layout (inference/convert.py): the one
 * naming and split table (formats.md §12, MP-R1..MP-R3).
 *
 * An HF tensor name maps to an MP name by segments: the "model." prefix
 * goes, self_attn -> attn, mlp -> ffn, weight_scale_inv -> scale,
 * e_score_correction_bias -> bias, and the module key (the second-to-last
 * segment) is renamed by the table below, which also gives how the tensor
 * is split over ranks: rows (dim 0), columns (dim 1), replicated, or, for
 * routed experts, placed whole on one rank keeping the global index.
 */
#ifndef DSCK_MP_H
#define DSCK_MP_H

#include <stddef.h>
#include <stdint.h>

enum dsck_split {
	DSCK_SPLIT_REPLICA,  /* every rank holds all of it */
	DSCK_SPLIT_ROWS,     /* dim 0: rank r holds rows [r*R/N, (r+1)*R/N) */
	DSCK_SPLIT_COLS,     /* dim 1: rank r holds columns [r*C/N, (r+1)*C/N) */
	DSCK_SPLIT_EXPERT,   /* routed expert e: whole on rank e / (E/N) */
};

struct dsck_mp_info {
	enum dsck_split split;
	int64_t layer;       /* layers.N, else -1 */
	int64_t expert;      /* routed expert index, else -1 */
};

/* MP name of HF name hf into out (cap bytes) and its split. Returns 0, or
 * -1 when the name has no place in the layout (an unknown module key) or
 * does not fit out. */
int dsck_mp_name(const char *hf, char *out, size_t cap, struct dsck_mp_info *info);

/* The inverse: HF name of MP name mp. Returns 0 or -1 as above. */
int dsck_mp_hf_name(const char *mp, char *out, size_t cap);

/* "model{r}-mp{n}.safetensors" -> *rank, *n (r < n, no leading zeros);
 * -1 for any other name. */
int dsck_mp_file_parse(const char *name, uint32_t *rank, uint32_t *n);

const char *dsck_split_name(enum dsck_split s);

#endif
