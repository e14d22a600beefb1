/*
 * inspect.h - the pieces of dsck-inspect: the summary of a checkpoint
 * (summary.c) and its text / JSON renderings (output.c). main.c only parses
 * arguments and calls these.
 *
 * Everything here is header-only work (O(tensors), hash lookups, no tensor
 * data), except the statistics, which come from lib/stats.h.
 */
#ifndef DSCK_INSPECT_H
#define DSCK_INSPECT_H

#include "ckpt.h"
#include "dtype.h"
#include "err.h"
#include "inventory.h"
#include "stats.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define INSP_EXAMPLES 5 /* names listed per finding */

/* One inconsistency worth a line. Not an error: inspect still exits 0. */
struct insp_finding {
	const char *kind;              /* stable id: "tensor_count", "missing", ... */
	char message[320];
	uint64_t count;                /* how many things it covers */
	size_t n_examples;
	const char *examples[INSP_EXAMPLES]; /* views into the ckpt or inventory */
};

struct insp_summary {
	uint64_t count_by_dtype[DSCK_DTYPE_COUNT];
	uint64_t bytes_by_dtype[DSCK_DTYPE_COUNT];
	uint64_t params_present;       /* elements of tensors not named *_scale_inv */
	int layout_fp8;                /* any F8_E4M3 tensor */
	uint64_t block_rows, block_cols; /* layout block (config, else 128 x 128) */
	int has_inv;                   /* config present and inventory built */
	struct dsck_inventory inv;
	size_t n_findings, cap_findings;
	struct insp_finding *findings;
};

/* Fill s from ck (which it borrows; keep ck open while s is used). */
enum dsck_err insp_summary_build(const struct dsck_ckpt *ck,
				 struct insp_summary *s, struct dsck_error *err);
void insp_summary_release(struct insp_summary *s);

/* What to print. Globs may be NULL (all tensors). */
struct insp_view {
	int tensors;                   /* --tensors given */
	const char *tensors_glob;
	int stats;                     /* --stats given */
	const struct dsck_tensor_stats *st; /* stats results, name order */
	size_t n_st;
};

/* Text: summary, then the tensor table and the stats table when asked. */
int insp_print_text(FILE *out, const struct dsck_ckpt *ck,
		    const struct insp_summary *s, const struct insp_view *v);

/* One JSON document (--json). Returns 0, or -1 when out of memory. */
int insp_print_json(FILE *out, const struct dsck_ckpt *ck,
		    const struct insp_summary *s, const struct insp_view *v);

/* One JSON object per selected tensor per line (--jsonl). */
int insp_print_jsonl(FILE *out, const struct dsck_ckpt *ck,
		     const struct insp_view *v);

#endif
