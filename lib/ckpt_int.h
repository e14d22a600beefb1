/*
 * ckpt_int.h - internals shared by ckpt.c (opening a checkpoint) and
 * ckpt_shards.c (parsing its shard headers in parallel). Not installed.
 */
#ifndef DSCK_CKPT_INT_H
#define DSCK_CKPT_INT_H

#include "ckpt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#define CKPT_SUFFIX ".safetensors"

/* Most worker threads a pool starts: past this, the kernel's file opens
 * and the memory allocator stop scaling for ~100 KB headers. */
#define CKPT_MAX_THREADS 16

/*
 * A pool of threads parsing the headers of names[0..n) inside dirfd into
 * out[i] (a slot already filled is skipped). With init set, of the
 * failures the one of the lowest-numbered name is kept, so the error
 * reported is the sequential one whatever the threads' timing; memory is
 * O(threads), not O(names): an index may name millions of shard files.
 * Without init (speculation) failures leave out[i] NULL and are not kept.
 */
struct ckpt_pool {
	const struct dsck_ckpt *ck;    /* dirfd and dir, unchanged while it runs */
	int indexed;                   /* names come from an index (IX-R6) */
	char *const *names;
	struct dsck_st **out;
	size_t n;
	const struct dsck_error *init; /* the caller's err before any shard */
	atomic_size_t next;            /* next name to take */
	atomic_size_t first_fail;      /* lowest failing name so far, or n */
	atomic_int stop;               /* take no more names */
	pthread_mutex_t lock;          /* guards fail_rc, fail_err */
	enum dsck_err fail_rc;
	struct dsck_error fail_err;
	pthread_t tid[CKPT_MAX_THREADS];
	size_t started;                /* threads running besides the caller */
};

/*
 * Speculation: the headers of the directory's regular *.safetensors files
 * are parsed by other threads while the calling thread reads the index,
 * which alone says which shards count. Afterwards ckpt_spec_adopt moves
 * the results of the files the index names into ck->shards; a file the
 * listing missed or whose parse failed is opened again by
 * ckpt_open_shards, so outcomes and errors are exactly the ones without
 * speculation. Files the index does not name cost a header read each.
 * A listing that fails only disables speculation (without it, the
 * directory is never listed when there is an index).
 */
struct ckpt_spec {
	char **names;                 /* sorted */
	size_t n, cap;
	struct dsck_st **out;         /* per name; NULL: not parsed or failed */
	int running;                  /* pool started, not yet finished */
	struct ckpt_pool pool;
	const struct dsck_ckpt *ck;
};

/* "dir/name" in a new string, or NULL. */
char *ckpt_join(const char *dir, const char *name);
int ckpt_has_suffix(const char *s, const char *suffix);
/* qsort comparator for an array of C strings. */
int ckpt_cmp_str(const void *a, const void *b);

/* Open every name of ck->shard_names whose slot is still empty, in
 * parallel, with the sequential outcome (G-R5). */
enum dsck_err ckpt_open_shards(struct dsck_ckpt *ck, struct dsck_error *err);

/* Speculative header parsing while the index is read (see struct ckpt_spec). */
void ckpt_spec_start(struct ckpt_spec *sp, const struct dsck_ckpt *ck);
void ckpt_spec_finish(struct ckpt_spec *sp, int stop);
enum dsck_err ckpt_spec_adopt(struct ckpt_spec *sp, struct dsck_ckpt *ck,
			      struct dsck_error *err);
void ckpt_spec_release(struct ckpt_spec *sp);

#endif
