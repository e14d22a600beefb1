/*
 * safetensors.h - strict safetensors reader and streaming writer.
 *
 * Layout (formats.md §2): 8 bytes little-endian u64 N; N bytes of UTF-8 JSON
 * header mapping tensor name -> {dtype, shape, data_offsets:[begin,end]} plus
 * an optional "__metadata__" string->string map; then the data buffer, which
 * tensors cover exactly, contiguously, in offset order (ST-R1..ST-R16).
 *
 * The reader reads the header only; tensor data are read on demand with
 * dsck_st_read into caller buffers, never mapped whole.
 */
#ifndef DSCK_SAFETENSORS_H
#define DSCK_SAFETENSORS_H

#include "dtype.h"
#include "err.h"
#include "io.h"
#include "strmap.h"

#include <stddef.h>
#include <stdint.h>

#define DSCK_ST_MAX_HEADER 100000000ull /* ST-R3: reference parity, decimal bytes */
#define DSCK_ST_MAX_TENSORS 1000000u    /* L-R2 */
#define DSCK_ST_MAX_NAME 65536u         /* ST-R9, bytes */
#define DSCK_MAX_DIMS 8                 /* L-R3 */

/* Warnings: valid files that inspect reports. */
enum dsck_st_warn {
	DSCK_ST_WARN_LEADING_WS = 1 << 0, /* header does not start with '{' (ST-R6) */
};

/* One tensor of a file. Names are NUL-terminated and contain no NUL. */
struct dsck_st_tensor {
	const char *name;       /* view into the dsck_st's arena */
	uint32_t name_len;
	enum dsck_dtype dtype;
	uint32_t ndim;
	uint64_t shape[DSCK_MAX_DIMS];
	uint64_t numel;
	uint64_t begin, end;    /* relative to the data start, end exclusive */
};

struct dsck_st_meta {
	const char *key, *value; /* views into the arena */
};

/* A parsed safetensors file. Owns its arena, tables and open file. */
struct dsck_st {
	struct dsck_file file;      /* fd closed when the st was parsed from memory */
	uint64_t header_len;        /* N */
	uint64_t data_start;        /* 8 + N: file offset of the data buffer */
	uint64_t data_len;          /* bytes of the data buffer */
	size_t n_tensors;
	struct dsck_st_tensor *tensors; /* in data offset order */
	size_t n_meta;
	struct dsck_st_meta *meta;      /* in header order */
	unsigned warnings;              /* enum dsck_st_warn */
	struct dsck_strmap by_name;     /* name -> index into tensors */
	char *arena;
};

/*
 * Validate a header. buf holds the first buf_len bytes of a file whose
 * total size is file_size (buf_len >= 8 + N is needed, else
 * INVALID_HEADER_LENGTH). Pure function, no I/O: the fuzz entry point.
 * On success *out is a new dsck_st (file closed) to free with dsck_st_free.
 * path is used in errors only and may be NULL.
 */
enum dsck_err dsck_st_parse(const void *buf, size_t buf_len, uint64_t file_size,
			    const char *path, struct dsck_st **out,
			    struct dsck_error *err);

/* Open path and read and validate its header (only the header bytes). */
enum dsck_err dsck_st_open(const char *path, struct dsck_st **out,
			   struct dsck_error *err);

/* Same for a shard name inside dirfd, refusing symlinks (IX-R5). */
enum dsck_err dsck_st_open_at(int dirfd, const char *name, const char *display,
			      struct dsck_st **out, struct dsck_error *err);

/* Index of name in st->tensors, or -1. O(1). */
long dsck_st_find(const struct dsck_st *st, const char *name, size_t len);

/* Read n bytes at byte offset off inside tensor i into buf. */
enum dsck_err dsck_st_read(const struct dsck_st *st, size_t i, uint64_t off,
			   void *buf, size_t n, struct dsck_error *err);

/* Value of a __metadata__ key, or NULL. */
const char *dsck_st_meta_get(const struct dsck_st *st, const char *key);

/* Free everything; accepts NULL. */
void dsck_st_free(struct dsck_st *st);

/* ---- writer --------------------------------------------------------- */

/* What the writer needs to know of a tensor before any data is written. */
struct dsck_st_spec {
	const char *name;
	enum dsck_dtype dtype;
	uint32_t ndim;
	uint64_t shape[DSCK_MAX_DIMS];
};

/*
 * Streaming writer. dsck_stw_open computes the whole header first (tensors
 * ordered like the reference writer, ST-W2; header padded with spaces to a
 * multiple of 8, ST-W1) and writes it; the caller then streams every
 * tensor's bytes in the order of stw->order with dsck_stw_write (any chunk
 * sizes); dsck_stw_commit checks every byte arrived and commits atomically.
 * Or, with sparse set, data are left as file holes (zeros) and commit only
 * sets the size. The writer copies specs and metadata; it owns all it holds.
 */
struct dsck_stw {
	struct dsck_writer w;
	size_t n;
	size_t *order;           /* order[k] = index into the caller's specs of the k-th tensor on disk */
	uint64_t *begin, *end;   /* data offsets of spec i */
	uint64_t data_start;     /* 8 + N */
	uint64_t total_size;     /* file size */
	uint64_t written;        /* data bytes streamed so far */
	int sparse;
};

enum dsck_err dsck_stw_open(struct dsck_stw *stw, const char *path,
			    const struct dsck_st_spec *specs, size_t n,
			    const char *const *meta_kv, size_t n_meta,
			    int sparse, struct dsck_error *err);
enum dsck_err dsck_stw_write(struct dsck_stw *stw, const void *buf, size_t n,
			     struct dsck_error *err);
enum dsck_err dsck_stw_commit(struct dsck_stw *stw, struct dsck_error *err);
void dsck_stw_abort(struct dsck_stw *stw);

/*
 * Serialize a header alone (8-byte length + JSON + padding) into a new buffer
 * the caller frees; the same bytes dsck_stw_open writes. meta_kv holds
 * n_meta key/value pairs as 2*n_meta strings.
 */
enum dsck_err dsck_st_header_build(const struct dsck_st_spec *specs, size_t n,
				   const char *const *meta_kv, size_t n_meta,
				   char **out, size_t *out_len, size_t *order,
				   uint64_t *begin, uint64_t *end,
				   struct dsck_error *err);

#endif
