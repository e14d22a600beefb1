/*
 * plan.h - a conversion plan and the one streaming engine that executes it
 * (formats.md §10, PL-R1..PL-R8).
 *
 * A plan lists output files; each file is an ordered list of output tensors;
 * each output tensor is computed from one input tensor of a dsck_ckpt by a
 * transform (copy, cast, dequantize, quantize), optionally through
 * rectangular pieces (a slice of the input placed at an offset of the
 * output: resharding). The plan also names side files: small files written
 * from memory (config.json, index.json) and files copied verbatim from the
 * source directory (tokenizer, generation config).
 *
 * Tools build a plan (convert_plan.c, later shard), print it for --dry-run,
 * check free space against dsck_plan_out_bytes, and hand it to
 * dsck_plan_execute, which streams every tensor in tiles through bounded
 * per-thread buffers, writes each tile with pwrite at its known offset into
 * a temporary file, and commits each output atomically (W-R1). The engine
 * never holds a tensor whole.
 *
 * The plan owns every string and table it holds (names are copied in); it
 * points into itself, so it is used where dsck_plan_init made it, never
 * copied.
 */
#ifndef DSCK_PLAN_H
#define DSCK_PLAN_H

#include "ckpt.h"
#include "config.h"
#include "dtype.h"
#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define DSCK_PLAN_MAX_META 4

enum dsck_xform {
	DSCK_XF_COPY,    /* bytes as they are; dtype in == dtype out */
	DSCK_XF_CAST,    /* BF16/F16/F32 -> BF16/F16/F32, through f32, RNE */
	DSCK_XF_DEQUANT, /* F8_E4M3 x block scale -> BF16/F16/F32 (PL-R3) */
	DSCK_XF_QUANT,   /* BF16/F16/F32 -> F8_E4M3 + its scale grid (PL-R4) */
	DSCK_XF_QSCALE,  /* the F32 scale grid of a QUANT tensor: written by
			  * the QUANT tensor's tiles, has no work of its own */
};

/* A rectangle of a source's 2-D view copied to a place in the output's
 * 2-D view (rows = shape[0], cols = the product of the other dims). The
 * pieces of one output may come from several sources (MP rank files). */
struct dsck_plan_piece {
	uint32_t src;                 /* index into ck->tensors of the piece's source */
	uint64_t src_row, src_col;
	uint64_t dst_row, dst_col;
	uint64_t rows, cols;
};

struct dsck_plan_tensor {
	char *name;                   /* owned */
	enum dsck_dtype dtype;        /* output dtype */
	uint32_t ndim;
	uint64_t shape[DSCK_MAX_DIMS];
	enum dsck_xform xf;
	uint32_t src;                 /* index into ck->tensors */
	int64_t src_scale;            /* DEQUANT: index into ck->tensors of the scale */
	int64_t out_scale;            /* QUANT: index into plan tensors of its QSCALE
				       * (same file); QSCALE: index of its QUANT */
	uint32_t piece0, npieces;     /* COPY: pieces[piece0..+npieces); 0 pieces = whole */
};

struct dsck_plan_file {
	char *name;                   /* file name inside the output directory, owned */
	size_t t0, n;                 /* tensors[t0 .. t0+n) */
	/* Filled by dsck_plan_layout: */
	char *header;                 /* 8-byte length + JSON + padding, owned */
	size_t header_len;
	uint64_t size;                /* whole file, bytes */
	size_t *order;                /* order[k]: k-th tensor on disk (relative to t0) */
	uint64_t *begin;              /* data offset of tensor t0+i */
};

/* A side file: written from memory (data != NULL) or copied verbatim from
 * src_name inside the source directory. */
struct dsck_plan_side {
	char *name;                   /* output file name, owned */
	char *data;                   /* owned, or NULL */
	size_t len;
	char *src_name;               /* owned, or NULL */
	uint64_t size;                /* bytes it will have */
};

struct dsck_plan {
	size_t n, cap;
	struct dsck_plan_tensor *t;
	size_t n_files, cap_files;
	struct dsck_plan_file *files;
	size_t n_pieces, cap_pieces;
	struct dsck_plan_piece *pieces;
	size_t n_side, cap_side;
	struct dsck_plan_side *side;
	uint64_t block_rows, block_cols;   /* FP8 block of DEQUANT and QUANT */
	int scale_ue8m0;                   /* QUANT: round scales up to 2^k */
	const char *meta_kv[2 * DSCK_PLAN_MAX_META]; /* __metadata__ of every output file */
	size_t n_meta;                     /* pairs */
	char meta_store[2 * DSCK_PLAN_MAX_META][64];
	char kind[16];                     /* "convert", "shard": names the state file */
};

/* Empty plan; block 128x128, metadata {"format": "pt"}. */
void dsck_plan_init(struct dsck_plan *p, const char *kind);
void dsck_plan_release(struct dsck_plan *p);

/* Add a __metadata__ pair to every output file (copied; at most
 * DSCK_PLAN_MAX_META pairs of at most 63 bytes each). */
enum dsck_err dsck_plan_add_meta(struct dsck_plan *p, const char *key,
				 const char *value, struct dsck_error *err);
/* Append a piece; *out (optional) receives its index. */
enum dsck_err dsck_plan_add_piece(struct dsck_plan *p,
				  const struct dsck_plan_piece *pc, size_t *out,
				  struct dsck_error *err);

/* Start a new output file; tensors added next belong to it. */
enum dsck_err dsck_plan_add_file(struct dsck_plan *p, const char *name,
				 struct dsck_error *err);
/* Append a tensor to the last file; *out (optional) receives its index. */
enum dsck_err dsck_plan_add_tensor(struct dsck_plan *p,
				   const struct dsck_plan_tensor *spec,
				   size_t *out, struct dsck_error *err);
enum dsck_err dsck_plan_add_side(struct dsck_plan *p, const char *name,
				 const void *data, size_t len,
				 const char *src_name, uint64_t size,
				 struct dsck_error *err);

/* Side files copied from ck's directory: every regular, non-hidden file
 * that is not a .safetensors shard, the index, or `skip` (may be NULL),
 * in name order (CV-R6, MP-R8). */
enum dsck_err dsck_plan_add_dir_files(struct dsck_plan *p, const struct dsck_ckpt *ck,
				      const char *skip, struct dsck_error *err);
/* A model.safetensors.index.json side file for the plan's files (IX-W1;
 * total_size = the sum of tensor bytes); call after every tensor is added. */
enum dsck_err dsck_plan_add_index(struct dsck_plan *p, struct dsck_error *err);

/* Output bytes of tensor i (checked: the shape's product times the dtype). */
uint64_t dsck_plan_tensor_bytes(const struct dsck_plan *p, size_t i);

/* Compute every file's header, offsets and size (after all adds). */
enum dsck_err dsck_plan_layout(struct dsck_plan *p, struct dsck_error *err);

/* Bytes the outputs will occupy: shard files plus side files. */
uint64_t dsck_plan_out_bytes(const struct dsck_plan *p);
/* Bytes of tensor data the engine reads from the input. */
uint64_t dsck_plan_in_bytes(const struct dsck_plan *p, const struct dsck_ckpt *ck);

/* ---- execution -------------------------------------------------------- */

struct dsck_plan_opts {
	unsigned threads;              /* 0: two per online CPU (PL-R7) */
	uint64_t mem_budget;           /* bytes of tile buffers over all threads; 0: 512 MiB */
	int force;                     /* overwrite outputs that exist without a state file */
	/* Called with bytes done and total (input plus output bytes of the
	 * tiles) from one thread at a time; may be NULL. */
	void (*progress)(void *user, uint64_t done, uint64_t total);
	void *progress_user;
	/* Tests: stop with DSCK_E_IO after this many files are committed, as
	 * an interrupted run would (0: never). */
	unsigned stop_after;
};

struct dsck_plan_result {
	size_t files_written;          /* outputs produced by this run */
	size_t files_kept;             /* complete outputs of an interrupted run, checked and kept */
	size_t files_redone;           /* outputs of an interrupted run that failed the check */
	uint64_t bytes_read, bytes_written;
	unsigned threads;
};

/*
 * Execute plan p reading from ck into the directory out_dir (created when
 * missing; its parent must exist). Resume (PL-R6): a state file
 * out_dir/.dsck-<kind>.state records each committed output; on a rerun of
 * the same plan, a recorded output is kept when its header bytes and size
 * match and every tile, computed again, equals its bytes on disk; the rest
 * is redone. Outputs that exist without a matching state file are refused
 * (DSCK_E_USAGE) unless opts->force. On error no output being written
 * keeps a final name (W-R1).
 */
enum dsck_err dsck_plan_execute(const struct dsck_plan *p,
				const struct dsck_ckpt *ck, const char *out_dir,
				const struct dsck_plan_opts *opts,
				struct dsck_plan_result *res,
				struct dsck_error *err);

/* CV-R7: NOSPACE (naming dst, needed and free bytes) when free_bytes is
 * less than the plan's output bytes. */
enum dsck_err dsck_plan_check_space(const struct dsck_plan *p, const char *dst,
				    uint64_t free_bytes, struct dsck_error *err);

/* The result as one line for people, without a tool name or newline:
 * "N files written[, K kept from the interrupted run][, R redone after
 * failing their check]; read X, wrote Y in T s (Z/s)", cut to n bytes. */
void dsck_plan_result_line(const struct dsck_plan_result *res, double seconds, char *buf,
			   size_t n);

/* The result as a JSON object for --json (the caller deletes it); NULL
 * when out of memory. */
struct cJSON;
struct cJSON *dsck_plan_result_json(const struct dsck_plan_result *res, const char *dst,
				    double seconds);

/* Free bytes available to an unprivileged writer in dir (or in its parent
 * when dir does not exist yet). */
enum dsck_err dsck_fs_free_bytes(const char *dir, uint64_t *out,
				 struct dsck_error *err);

#endif
