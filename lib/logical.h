/*
 * logical.h - a checkpoint seen as logical tensors (HF names, full shapes),
 * whatever its layout (formats.md MP-R4): in an HF checkpoint each tensor
 * is one piece of one file; in an MP(N) directory a tensor is the ranks'
 * slices put side by side (rows or columns), a replica read from rank 0,
 * or an expert on its rank. Used by dsck-shard's plans and the runtime.
 */
#ifndef DSCK_LOGICAL_H
#define DSCK_LOGICAL_H

#include "ckpt.h"
#include "mp.h"
#include "strmap.h"

#include <stddef.h>
#include <stdint.h>

/* 2-D view of a shape: 0-D is 1x1, 1-D is 1 x n, else shape[0] x the rest. */
void dsck_shape_2d(uint32_t ndim, const uint64_t *shape, uint64_t *rows, uint64_t *cols);

/* A rectangle of a 2-D view: rows [r0, r0 + rows) x cols [c0, c0 + cols). */
struct dsck_rect {
	uint64_t r0, c0, rows, cols;
};

/* The overlap of a and b into *out: 1, or 0 when they share no element. */
static inline int dsck_rect_overlap(struct dsck_rect a, struct dsck_rect b, struct dsck_rect *out)
{
	uint64_t r0 = a.r0 > b.r0 ? a.r0 : b.r0, c0 = a.c0 > b.c0 ? a.c0 : b.c0;
	uint64_t r1 = a.r0 + a.rows < b.r0 + b.rows ? a.r0 + a.rows : b.r0 + b.rows;
	uint64_t c1 = a.c0 + a.cols < b.c0 + b.cols ? a.c0 + a.cols : b.c0 + b.cols;
	if (r0 >= r1 || c0 >= c1)
		return 0;
	*out = (struct dsck_rect){ r0, c0, r1 - r0, c1 - c0 };
	return 1;
}

struct dsck_lpiece {
	uint32_t phys;              /* ck->tensors index */
	uint64_t r0, c0, rows, cols; /* the rectangle of the logical view it covers */
};

struct dsck_ltensor {
	char *hf;                   /* owned */
	enum dsck_dtype dt;
	uint32_t ndim;
	uint64_t shape[DSCK_MAX_DIMS];
	int has_mi;                 /* has a place in the MP layout */
	struct dsck_mp_info mi;
	int mtp;                    /* a layer past num_hidden_layers */
	uint32_t p0, np;
	uint32_t shard;             /* HF input: its input shard */
	int64_t order;              /* grouping order */
};

struct dsck_logical {
	size_t n, cap;
	struct dsck_ltensor *t;
	size_t np, cap_p;
	struct dsck_lpiece *p;
	struct dsck_strmap by_name;
	uint64_t n_experts;         /* routed experts per MoE layer */
	int from_mp;
};

/* Build the logical view of ck (which must outlive it); the view owns its
 * tables. Errors name the tensor the rank files do not make whole. */
enum dsck_err dsck_logical_build(struct dsck_logical *v, const struct dsck_ckpt *ck,
				 struct dsck_error *err);
void dsck_logical_release(struct dsck_logical *v);

/* The logical tensor of HF name `name`, or NULL. */
const struct dsck_ltensor *dsck_logical_find(const struct dsck_logical *v, const char *name);

#endif
