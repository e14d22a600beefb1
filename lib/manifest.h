/*
 * manifest.h - checkpoint manifests for dsck-verify (formats.md §7, MF-R1..R4).
 *
 * A manifest records, for one checkpoint, the SHA-256 and size of every file
 * dsck reads or copies (MF-R1), the SHA-256, dtype and shape of every tensor
 * (MF-R2), and model_sha256, a hash over all tensors that does not depend on
 * how they are split into files (MF-R3). On disk:
 *
 *   {
 *     "dsck_manifest": 1,
 *     "files": {
 *       "NAME": {"sha256": "HEX", "size": N},
 *       ...
 *     },
 *     "model_sha256": "HEX",
 *     "tensors": {
 *       "NAME": {"dtype": "F8_E4M3", "sha256": "HEX", "shape": [N, ...]},
 *       ...
 *     }
 *   }
 *
 * keys sorted bytewise at every level, one file or tensor per line, written
 * atomically (W-R1). Computing reads every file once, in bounded chunks:
 * shard bytes feed the file hash and the hash of the tensor they belong to
 * (tensors are contiguous in a shard, ST-R10), so memory is threads x buffer
 * plus the headers, whatever the checkpoint size.
 */
#ifndef DSCK_MANIFEST_H
#define DSCK_MANIFEST_H

#include "ckpt.h"
#include "dtype.h"
#include "err.h"
#include "hash.h"
#include "safetensors.h"

#include <stddef.h>
#include <stdint.h>

#define DSCK_MANIFEST_VERSION 1
#define DSCK_MANIFEST_MAX_BYTES (256u << 20)   /* a 10^6-tensor manifest fits */
#define DSCK_MANIFEST_BUF_DEFAULT (8u << 20)   /* bytes read per chunk, per thread */
#define DSCK_MANIFEST_MAX_THREADS 256u
/* A file whose name starts with this is never part of a manifest, so a
 * manifest saved inside the checkpoint directory does not list itself. */
#define DSCK_MANIFEST_NAME_PREFIX "dsck-manifest"

struct dsck_manifest_file {
	char *name;                   /* file name inside the checkpoint directory, owned */
	uint64_t size;                /* bytes */
	char sha256[DSCK_SHA256_HEX]; /* lowercase hex */
};

struct dsck_manifest_tensor {
	char *name;                   /* owned */
	const char *file;             /* shard file (a view of a files[].name) when
					 computed; NULL when loaded from JSON */
	enum dsck_dtype dtype;
	uint32_t ndim;
	uint64_t shape[DSCK_MAX_DIMS];
	char sha256[DSCK_SHA256_HEX]; /* of the raw little-endian bytes (MF-R2) */
};

/* A manifest; owns its arrays and names. Release with dsck_manifest_release. */
struct dsck_manifest {
	char model_sha256[DSCK_SHA256_HEX];    /* MF-R3 */
	size_t n_files;
	struct dsck_manifest_file *files;      /* sorted by name, bytewise */
	size_t n_tensors;
	struct dsck_manifest_tensor *tensors;  /* sorted by name, bytewise */
};

#define DSCK_MANIFEST_INIT { { 0 }, 0, NULL, 0, NULL }

/*
 * Progress: bytes hashed so far and the total, both over all files. Called
 * from worker threads, one call at a time (under a lock), after each chunk;
 * keep it cheap.
 */
typedef void (*dsck_manifest_progress_fn)(uint64_t done, uint64_t total,
					  void *user);

struct dsck_manifest_opts {
	unsigned threads;        /* files hashed in parallel; 0 means 1 */
	size_t buf_bytes;        /* per-thread read buffer; 0 means 8 MiB */
	dsck_manifest_progress_fn progress; /* may be NULL */
	void *user;              /* passed to progress */
};

/*
 * MF-R1 policy for files other than shards: a top-level, non-hidden name
 * ending in .json, .jinja, .model, .txt, .tiktoken or .py (index, config,
 * generation config, tokenizer files, chat templates, model code), not
 * starting with DSCK_MANIFEST_NAME_PREFIX, without control bytes. Returns 1
 * if name is included.
 */
int dsck_manifest_is_aux_name(const char *name);

/*
 * Hash the checkpoint ck (opened with dsck_ckpt_open). For a directory or an
 * index path: every shard of ck plus every regular file of ck->dir the aux
 * policy admits (a symlink among them is BAD_SHARD_PATH, as for shards,
 * IX-R5); for a single .safetensors path: that file alone. Peak memory is
 * threads x buf_bytes plus the tables. *out is overwritten and owned by the
 * caller; on error it is left empty.
 */
enum dsck_err dsck_manifest_compute(const struct dsck_ckpt *ck,
				    const struct dsck_manifest_opts *opts,
				    struct dsck_manifest *out,
				    struct dsck_error *err);

/* Write m as JSON to path (atomic, sorted keys, the layout above). */
enum dsck_err dsck_manifest_write(const struct dsck_manifest *m, const char *path,
				  struct dsck_error *err);

/* The same text to an open fd the caller owns (stdout for "-"). */
enum dsck_err dsck_manifest_write_fd(const struct dsck_manifest *m, int fd,
				     struct dsck_error *err);

/*
 * Parse manifest text (strict JSON, J-R*). A document of the wrong shape
 * (missing or unknown keys, a version other than 1, a hash that is not 64
 * lowercase hex digits, an unknown dtype, more than 8 dimensions, a file name
 * with '/' or control bytes) is INVALID_MANIFEST naming the key. path is
 * for errors and may be NULL. *out is owned by the caller; empty on error.
 */
enum dsck_err dsck_manifest_parse(const char *text, size_t len, const char *path,
				  struct dsck_manifest *out, struct dsck_error *err);

/* Read (at most DSCK_MANIFEST_MAX_BYTES) and parse a manifest file. */
enum dsck_err dsck_manifest_load(const char *path, struct dsck_manifest *out,
				 struct dsck_error *err);

/* Free everything m owns and reset it to empty; accepts an empty manifest. */
void dsck_manifest_release(struct dsck_manifest *m);

/* ---- comparison (MF-R4) --------------------------------------------- */

enum dsck_manifest_diff_kind {
	DSCK_DIFF_FILE_SIZE,         /* sizes differ */
	DSCK_DIFF_FILE_HASH,         /* SHA-256 differs */
	DSCK_DIFF_FILE_MISSING,      /* expected, not present */
	DSCK_DIFF_FILE_UNEXPECTED,   /* present, not expected */
	DSCK_DIFF_TENSOR_DTYPE,
	DSCK_DIFF_TENSOR_SHAPE,
	DSCK_DIFF_TENSOR_HASH,
	DSCK_DIFF_TENSOR_MISSING,
	DSCK_DIFF_TENSOR_UNEXPECTED,
	DSCK_DIFF_MODEL_HASH,        /* model_sha256 differs */
};

#define DSCK_DIFF_TEXT 160

/* One difference; every pointer is a view valid during the callback only. */
struct dsck_manifest_diff {
	enum dsck_manifest_diff_kind kind;
	const char *file;   /* file at fault, or the shard holding the tensor
			       (from whichever side knows it); NULL if unknown */
	const char *tensor; /* NULL for file and model differences */
	char expected[DSCK_DIFF_TEXT]; /* "" when not applicable (unexpected) */
	char found[DSCK_DIFF_TEXT];    /* "" when not applicable (missing) */
};

typedef void (*dsck_manifest_diff_fn)(const struct dsck_manifest_diff *d,
				      void *user);

/*
 * Compare expected against actual and report every difference through cb
 * (may be NULL), files first then tensors, each in name order, then the
 * model hash. Returns the number of differences; 0 means identical.
 */
size_t dsck_manifest_compare(const struct dsck_manifest *expected,
			     const struct dsck_manifest *actual,
			     dsck_manifest_diff_fn cb, void *user);

/*
 * MF-R5: compare only the files of expected against the directory path (or
 * the directory holding path), for a checkpoint that no longer opens. Each
 * file is read with O_NOFOLLOW in bounded chunks and hashed; a missing,
 * unreadable, resized or changed file is reported through cb (FILE_MISSING,
 * FILE_SIZE, FILE_HASH). *n_diffs receives their number. Errors only when
 * the comparison itself cannot run (directory, memory, a read failing).
 */
enum dsck_err dsck_manifest_compare_files(const char *path,
					  const struct dsck_manifest *expected,
					  dsck_manifest_diff_fn cb, void *user,
					  size_t *n_diffs, struct dsck_error *err);

/* Stable identifier of a kind ("TENSOR_HASH"), for --json. Never NULL. */
const char *dsck_manifest_diff_name(enum dsck_manifest_diff_kind kind);

#endif
