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
