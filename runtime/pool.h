/*
 * pool.h - a fixed set of worker threads for the forward pass: run
 * fn(ctx, i) for i in [0, n) split into contiguous ranges, and wait.
 */
#ifndef DSCK_POOL_H
#define DSCK_POOL_H

#include <stddef.h>

struct dsck_pool;

typedef void (*dsck_pool_fn)(void *ctx, size_t begin, size_t end);

/* A pool of n threads (the caller counts as one: n - 1 are started).
 * NULL when out of memory. */
struct dsck_pool *dsck_pool_create(unsigned n);
unsigned dsck_pool_size(const struct dsck_pool *p);
/* Run fn over [0, n) in chunks of whole `grain` items that the threads
 * take in turn (about four per thread); returns when all are done. Calls
 * do not nest. */
void dsck_pool_run(struct dsck_pool *p, size_t n, size_t grain, dsck_pool_fn fn, void *ctx);
void dsck_pool_free(struct dsck_pool *p);

#endif
