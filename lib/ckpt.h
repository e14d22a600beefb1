/*
 * ckpt.h - a checkpoint seen as one set of named tensors, whatever the files.
 *
 * dsck_ckpt_open takes a checkpoint directory, an index.json or a single
 * .safetensors file. For a directory: config.json is parsed when present;
 * model.safetensors.index.json is used when present (every shard it names
 * opened with O_NOFOLLOW inside the directory and cross-checked, IX-R6..R8);
 * else model.safetensors; else every *.safetensors in name order (in rank
 * order for the files model{r}-mp{N}.safetensors of an MP(N) directory,
 * MP-R4). Only headers are read. A weight and its scale may live in
 * different shards.
 */
#ifndef DSCK_CKPT_H
#define DSCK_CKPT_H

#include "config.h"
#include "err.h"
#include "index.h"
#include "safetensors.h"
#include "strmap.h"

#include <stddef.h>
#include <stdint.h>

struct dsck_ckpt_tensor {
	const struct dsck_st_tensor *t; /* view into shards[shard] */
	uint32_t shard;
};

struct dsck_ckpt {
	char *path;                  /* as given */
	char *dir;                   /* directory holding the shards */
	int dirfd;
	int has_config;
	struct dsck_config cfg;
	uint32_t mp_ranks;           /* N for an MP(N) directory (MP-R4): then
				      * tensors are rank by rank in data order,
				      * names repeat, and dsck_ckpt_find finds
				      * nothing; else 0 */
	int has_index;
	struct dsck_index idx;
	size_t n_shards;
	struct dsck_st **shards;     /* parsed headers */
	char **shard_names;          /* file names inside dir */
	size_t n;
	struct dsck_ckpt_tensor *tensors; /* sorted by name */
	struct dsck_strmap by_name;  /* name -> index into tensors, when built */
	const struct dsck_strmap *names; /* the map dsck_ckpt_find uses: by_name,
				      * or idx.by_name when tensors are in the
				      * index's entry order */
	uint64_t payload_bytes;      /* sum of tensor bytes */
	uint64_t file_bytes;         /* sum of shard file sizes */
	uint64_t header_bytes;       /* sum of 8 + N over shards */
};

/* Open and cross-check; the ckpt owns everything. Free with dsck_ckpt_close. */
enum dsck_err dsck_ckpt_open(const char *path, struct dsck_ckpt **out,
			     struct dsck_error *err);

/* Tensor by name or NULL. O(1). */
const struct dsck_ckpt_tensor *dsck_ckpt_find(const struct dsck_ckpt *ck,
					      const char *name, size_t len);

/* Read n bytes at offset off of a tensor into buf. */
enum dsck_err dsck_ckpt_read(const struct dsck_ckpt *ck,
			     const struct dsck_ckpt_tensor *ct, uint64_t off,
			     void *buf, size_t n, struct dsck_error *err);

void dsck_ckpt_close(struct dsck_ckpt *ck);

#endif
