/*
 * plan_int.h - private to plan_exec.c, plan_tile.c and plan_state.c: the
 * engine's run state, the tiling of tensors into work items, and the
 * resume state file.
 */
#ifndef DSCK_PLAN_INT_H
#define DSCK_PLAN_INT_H

#include "plan.h"

#include <pthread.h>
#include <stdint.h>

/* A contiguous byte range of a file: output segments of a tile, in the
 * order their bytes sit in the tile's output buffer. */
struct pe_seg {
	uint64_t off;
	uint64_t len;
};

/* How a tensor (or one piece of it) is cut: a rows x cols view of elements
 * of esz bytes, in tiles of tr x tc. COPY of a whole tensor is the view
 * 1 x nbytes of bytes. */
struct pe_geom {
	uint64_t rows, cols;
	uint64_t tr, tc;
	uint64_t ntr, ntc;      /* tiles down and across */
};

/* One work item: tile (ti, tj) of unit u (piece u, or 0 for the whole
 * tensor) of plan tensor t, the k-th on disk of plan file f. */
struct pe_item {
	uint32_t f;
	uint32_t k;             /* disk position of the tensor in its file */
	uint32_t t;
	uint32_t u;
	uint64_t ti, tj;
};

/* Per-thread buffers, grown on demand up to one tile's needs. */
struct pe_buf {
	uint8_t *in;
	size_t in_cap;
	float *f32;
	size_t f32_cap;
	uint8_t *out;
	size_t out_cap;
	float *scl;
	size_t scl_cap;
	struct pe_seg *iseg, *oseg;
	size_t iseg_cap, oseg_cap;
	uint8_t *chk;              /* resume checks: bytes read back */
	size_t chk_cap;
};

struct pe_file {
	int todo;                  /* written by this run */
	int kept;                  /* complete from an earlier run, checked */
	int opened, committed;
	struct dsck_writer w;
	uint64_t n_items, done;
	int redone;                /* recorded by an earlier run but failed its check */
	int has_rec;               /* the state file records it from an earlier run */
	uint64_t rec_size;
};

struct pe_engine {
	const struct dsck_plan *p;
	const struct dsck_ckpt *ck;
	const struct dsck_plan_opts *opts;
	char *out_dir;
	int dirfd;
	uint64_t tile_elems;       /* elements per tile (budget / threads) */
	struct pe_file *files;

	pthread_mutex_t mu;        /* cursor, file opens and counts, progress, error */
	struct pe_item cur;        /* next item to hand out */
	int cur_valid;
	uint64_t done_bytes, total_bytes;
	int failed;
	struct dsck_error err;

	pthread_mutex_t state_mu;  /* state file rewrites */
	char plan_hex[65];

	uint64_t bytes_read, bytes_written;
	unsigned n_committed;
};

/* ---- plan_tile.c ---- */
/* Units of tensor t: its pieces, or 1. */
uint32_t pe_units(const struct dsck_plan *p, size_t t);
void pe_geom(const struct pe_engine *e, size_t t, uint32_t u, struct pe_geom *g);
/* Items of plan file f (0 when it has none). */
uint64_t pe_file_items(const struct pe_engine *e, size_t f);
/* Output segments of item it into b->oseg; *n segments, *bytes in all. */
enum dsck_err pe_item_out_segs(const struct pe_engine *e, const struct pe_item *it,
			       struct pe_buf *b, size_t *n, uint64_t *bytes,
			       struct dsck_error *err);
/* Run item it: read and transform; then write it, or, with check set,
 * compare it with the bytes at its offsets in check (*match). */
enum dsck_err pe_item_run(struct pe_engine *e, const struct pe_item *it,
			  struct pe_buf *b, const struct dsck_file *check,
			  int *match, uint64_t *out_len, uint64_t *in_len,
			  struct dsck_error *err);
/* Advance *it to the next item of the same file; 0 when it had none. */
int pe_item_next(const struct pe_engine *e, struct pe_item *it);
/* First item of file f; 0 when it has none. */
int pe_item_first(const struct pe_engine *e, size_t f, struct pe_item *it);
void pe_buf_release(struct pe_buf *b);
/* PL-R3 before any write: every value of scale tensor `scale` (a ckpt
 * index) finite and > 0, else BAD_VALUE naming it. */
enum dsck_err pe_scale_check(const struct pe_engine *e, uint32_t scale,
			     struct pe_buf *b, struct dsck_error *err);
/* Grow b->out to n bytes; -1 when out of memory. */
int pe_ensure_bytes(struct pe_buf *b, uint64_t n);

/* ---- plan_state.c ---- */
enum dsck_err pe_fingerprint(struct pe_engine *e, struct dsck_error *err);
/* Read the state file, decide kept candidates, refuse foreign outputs,
 * remove stale temporaries, write a fresh state. */
enum dsck_err pe_state_begin(struct pe_engine *e, struct dsck_error *err);
/* Rewrite the state file with every committed output (name, size). */
enum dsck_err pe_state_record(struct pe_engine *e, struct dsck_error *err);
/* Check a candidate: header bytes, size, and every tile computed again and
 * compared with the output. */
enum dsck_err pe_state_check(struct pe_engine *e, size_t f, struct pe_buf *b,
			     int *ok, struct dsck_error *err);
enum dsck_err pe_state_finish(struct pe_engine *e, struct dsck_error *err);
enum dsck_err pe_side_write(struct pe_engine *e, size_t i, struct dsck_error *err);

#endif
