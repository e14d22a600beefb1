/*
 * check.h - a checkpoint against the inventory its config implies.
 *
 * Reports every finding (never stops at the first) through a callback:
 * missing and unexpected tensors, wrong dtype or shape, wrong scale grid, an
 * FP8 weight without its scale, a scale without an FP8 weight, a router bias
 * that is not F32, and a config whose quantization_config disagrees with the
 * tensors (a BF16 checkpoint that kept quantization_config in config.json).
 */
#ifndef DSCK_CHECK_H
#define DSCK_CHECK_H

#include "ckpt.h"
#include "err.h"
#include "inventory.h"

#include <stddef.h>

enum dsck_finding_kind {
	DSCK_FIND_MISSING,        /* expected tensor absent */
	DSCK_FIND_UNEXPECTED,     /* tensor the config does not imply */
	DSCK_FIND_DTYPE,          /* wrong dtype */
	DSCK_FIND_SHAPE,          /* wrong shape (scales: wrong grid) */
	DSCK_FIND_NO_SCALE,       /* FP8 weight without weight_scale_inv */
	DSCK_FIND_ORPHAN_SCALE,   /* weight_scale_inv without an FP8 weight */
	DSCK_FIND_CONFIG,         /* config.json disagrees with the checkpoint as a whole */
	DSCK_FIND_VALUES,         /* --scan: NaN/Inf values, bad scales */
	DSCK_FIND_HASH,           /* manifest: file or tensor hash/size differs */
	DSCK_FIND_KIND_COUNT
};

/* One finding. Strings are views valid only during the callback. */
struct dsck_finding {
	enum dsck_finding_kind kind;
	const char *file;      /* shard or file name, may be NULL */
	const char *tensor;    /* tensor name, may be NULL */
	char expected[96];
	char found[96];
	const char *detail;    /* one sentence, may be NULL */
};

typedef void (*dsck_finding_fn)(const struct dsck_finding *f, void *user);

/* Stable name of a kind ("missing", "dtype", ...), for --json. */
const char *dsck_finding_kind_name(enum dsck_finding_kind k);

/*
 * Compare ck (which must have a config) with the inventory of its config.
 * Calls fn for every finding and stores their number in *n_findings.
 * Returns an error only when the check itself cannot run (no config,
 * inventory cannot be built, out of memory).
 */
enum dsck_err dsck_check_structure(const struct dsck_ckpt *ck, dsck_finding_fn fn,
				   void *user, size_t *n_findings,
				   struct dsck_error *err);

#endif
