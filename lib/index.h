/*
 * index.h - model.safetensors.index.json: weight_map (tensor -> shard file)
 * and metadata.total_size (formats.md §6, IX-R1..IX-R9).
 *
 * Shard names are plain file names inside the checkpoint directory: no '/',
 * no '\\', not "." or "..", no control bytes, at most 255 bytes, ending in
 * ".safetensors" (IX-R4).
 */
#ifndef DSCK_INDEX_H
#define DSCK_INDEX_H

#include "err.h"
#include "strmap.h"

#include <stddef.h>
#include <stdint.h>

#define DSCK_INDEX_MAX_BYTES (64u << 20) /* L-R4: 64 MiB */

struct dsck_index_entry {
	char *name;      /* tensor name, in the index's own storage */
	uint32_t shard;  /* index into shards[] */
};

struct dsck_index {
	size_t n_shards;
	char **shards;                    /* distinct shard names, sorted */
	size_t n;
	struct dsck_index_entry *entries; /* sorted by tensor name */
	struct dsck_strmap by_name;       /* tensor name -> entry */
	int has_total_size;
	uint64_t total_size;
	char *names_;                     /* private: storage of every name */
};

/* Parse index text; path is for errors. Owns everything it allocates. */
enum dsck_err dsck_index_parse(const char *text, size_t len, const char *path,
			       struct dsck_index *idx, struct dsck_error *err);

/* Shard-name policy of IX-R4: 0 if name is allowed, else -1. */
int dsck_index_check_shard_name(const char *name, size_t len);

/*
 * Write an index: names[i] lives in shard shard_names[shard_of[i]].
 * Output is what transformers writes: {"metadata": {"total_size": N},
 * "weight_map": {...}} with keys sorted, 2-space indent (IX-W1). Atomic.
 */
enum dsck_err dsck_index_write(const char *path, const char *const *names,
			       const uint32_t *shard_of, size_t n,
			       const char *const *shard_names,
			       uint64_t total_size, struct dsck_error *err);

/* The same text into a new buffer the caller frees (*out, *out_len). */
enum dsck_err dsck_index_build(const char *const *names, const uint32_t *shard_of,
			       size_t n, const char *const *shard_names,
			       uint64_t total_size, char **out, size_t *out_len,
			       struct dsck_error *err);

void dsck_index_release(struct dsck_index *idx);

#endif
