/*
 * ckpt_shards.c - parse a checkpoint's shard headers in parallel (G-R5).
 *
 * A pool of threads (one per online CPU, at most CKPT_MAX_THREADS) opens
 * and parses headers into per-shard slots; the error reported is the one
 * of the lowest-numbered failing shard, so the outcome is the sequential
 * one. With an index, the directory's shards are parsed speculatively while
 * the index itself is read (struct ckpt_spec).
 */
#include "ckpt_int.h"

#include "index.h"
#include "io.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


/* Open and parse shard name inside ck->dirfd (IX-R5; IX-R6 when the
 * name comes from an index). */
static enum dsck_err ckpt_open_shard(const struct dsck_ckpt *ck, int indexed,
				     const char *name, struct dsck_st **out,
				     struct dsck_error *err)
{
	char *display = ckpt_join(ck->dir, name);
	if (!display)
		return dsck_error_set(err, DSCK_E_NOMEM, "shard path");
	enum dsck_err rc = dsck_st_open_at(ck->dirfd, name, display, out, err);
	if (rc == DSCK_E_NOT_FOUND && indexed) {
		/* IX-R6: the index names a file that is not there. */
		dsck_error_file(err, display);
		rc = dsck_error_set(err, DSCK_E_MISSING_SHARD,
				    "the index names this shard but the file does not exist");
	}
	free(display);
	return rc;
}

/*
 * Worker: take names in increasing order until none is left. A name above
 * the lowest failure so far is not parsed: its outcome could never be
 * reported, and every name below that failure was taken before it.
 */
static void *ckpt_pool_worker(void *arg)
{
	struct ckpt_pool *pool = arg;
	struct dsck_error e;
	for (;;) {
		size_t i = atomic_fetch_add(&pool->next, 1);
		if (i >= pool->n || i > atomic_load(&pool->first_fail) ||
		    atomic_load(&pool->stop))
			break;
		if (pool->out[i])
			continue;
		if (pool->init)
			e = *pool->init;
		else
			dsck_error_clear(&e);
		enum dsck_err rc = ckpt_open_shard(pool->ck, pool->indexed, pool->names[i],
						   &pool->out[i], &e);
		if (rc == DSCK_OK || !pool->init)
			continue;
		pthread_mutex_lock(&pool->lock);
		if (i < atomic_load(&pool->first_fail)) {
			pool->fail_rc = rc;
			pool->fail_err = e;
			atomic_store(&pool->first_fail, i);
		}
		pthread_mutex_unlock(&pool->lock);
	}
	return NULL;
}

/* Threads for n headers: the online CPUs, at most CKPT_MAX_THREADS and at
 * most n (1: the calling thread alone). */
static size_t ckpt_thread_count(size_t n)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t t = cpus > 1 ? (size_t)cpus : 1;
	if (t > CKPT_MAX_THREADS)
		t = CKPT_MAX_THREADS;
	return t < n ? t : (n ? n : 1);
}

/* Set up pool over names/out and start up to extra threads besides the
 * caller; a thread that cannot be started only leaves more to the rest.
 * Returns -1 (nothing started) if the lock cannot be made. */
static int ckpt_pool_start(struct ckpt_pool *pool, const struct dsck_ckpt *ck,
			   int indexed, char *const *names, struct dsck_st **out,
			   size_t n, const struct dsck_error *init, size_t extra)
{
	memset(pool, 0, sizeof *pool);
	pool->ck = ck;
	pool->indexed = indexed;
	pool->names = names;
	pool->out = out;
	pool->n = n;
	pool->init = init;
	atomic_init(&pool->next, 0);
	atomic_init(&pool->first_fail, n);
	atomic_init(&pool->stop, 0);
	if (pthread_mutex_init(&pool->lock, NULL) != 0)
		return -1;
	while (pool->started < extra && pool->started < CKPT_MAX_THREADS &&
	       pthread_create(&pool->tid[pool->started], NULL, ckpt_pool_worker, pool) == 0)
		pool->started++;
	return 0;
}

/* Work in the calling thread too (unless stopping), then join. */
static void ckpt_pool_finish(struct ckpt_pool *pool, int stop)
{
	if (stop)
		atomic_store(&pool->stop, 1);
	else
		ckpt_pool_worker(pool);
	for (size_t t = 0; t < pool->started; t++)
		pthread_join(pool->tid[t], NULL);
	pool->started = 0;
	pthread_mutex_destroy(&pool->lock);
}

/*
 * Open every name of ck->shard_names whose slot is still empty, in
 * parallel: headers are independent and parsing them is most of opening
 * a checkpoint. The outcome equals the sequential one: the error of the
 * lowest-numbered failing shard, each result in its own slot. Peak memory
 * grows by at most one header buffer per extra thread (L-R1 bounds each).
 */
enum dsck_err ckpt_open_shards(struct dsck_ckpt *ck, struct dsck_error *err)
{
	struct ckpt_pool pool;
	struct dsck_error init;
	size_t n = ck->n_shards;

	if (!ck->shards)
		ck->shards = calloc(n ? n : 1, sizeof *ck->shards);
	if (!ck->shards)
		return dsck_error_set(err, DSCK_E_NOMEM, "shard table");
	if (err)
		init = *err;
	else
		dsck_error_clear(&init);
	if (ckpt_pool_start(&pool, ck, ck->has_index, ck->shard_names, ck->shards,
			    n, &init, ckpt_thread_count(n) - 1))
		return dsck_error_set(err, DSCK_E_NOMEM, "shard worker lock");
	ckpt_pool_finish(&pool, 0);
	if (atomic_load(&pool.first_fail) < n) {
		if (err)
			*err = pool.fail_err;
		return pool.fail_rc;
	}
	return DSCK_OK;
}

/* dsck_dir_each callback: a name worth parsing ahead of the index. */
static enum dsck_err ckpt_spec_entry(const char *name, void *user,
				     struct dsck_error *err)
{
	struct ckpt_spec *sp = user;
	struct stat st;
	(void)err;
	/* Regular files only: opening a FIFO would block (IX-R5 refuses
	 * symlinks anyway; those shards are opened later, for their error). */
	if (!ckpt_has_suffix(name, CKPT_SUFFIX) ||
	    dsck_index_check_shard_name(name, strlen(name)) != 0 ||
	    fstatat(sp->ck->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(st.st_mode))
		return DSCK_OK;
	if (sp->n == sp->cap) {
		size_t ncap = sp->cap ? sp->cap * 2 : 64;
		char **nn = realloc(sp->names, ncap * sizeof *nn);
		if (!nn)
			return DSCK_E_NOMEM;
		sp->names = nn;
		sp->cap = ncap;
	}
	if (!(sp->names[sp->n] = strdup(name)))
		return DSCK_E_NOMEM;
	sp->n++;
	return DSCK_OK;
}

/* List the directory and start parsing in threads besides the caller. */
void ckpt_spec_start(struct ckpt_spec *sp, const struct dsck_ckpt *ck)
{
	struct dsck_error ignored;
	size_t nt;
	memset(sp, 0, sizeof *sp);
	sp->ck = ck;
	dsck_error_clear(&ignored);
	if (ckpt_thread_count(2) < 2 ||
	    dsck_dir_each(ck->dirfd, ck->dir, ckpt_spec_entry, sp, &ignored) != DSCK_OK ||
	    sp->n == 0)
		return;
	qsort(sp->names, sp->n, sizeof *sp->names, ckpt_cmp_str);
	sp->out = calloc(sp->n, sizeof *sp->out);
	nt = ckpt_thread_count(sp->n);
	if (!sp->out || nt < 2 ||
	    ckpt_pool_start(&sp->pool, ck, 0, sp->names, sp->out, sp->n, NULL, nt - 1))
		return;
	sp->running = 1;
}

/* Join the threads: helping them (the index is read) or stopping them. */
void ckpt_spec_finish(struct ckpt_spec *sp, int stop)
{
	if (sp->running)
		ckpt_pool_finish(&sp->pool, stop);
	sp->running = 0;
}

/* Move the results for ck->shard_names (sorted, like sp->names) into
 * ck->shards; a merge of the two sorted lists. */
enum dsck_err ckpt_spec_adopt(struct ckpt_spec *sp, struct dsck_ckpt *ck,
				     struct dsck_error *err)
{
	size_t j = 0;
	ck->shards = calloc(ck->n_shards ? ck->n_shards : 1, sizeof *ck->shards);
	if (!ck->shards)
		return dsck_error_set(err, DSCK_E_NOMEM, "shard table");
	if (!sp->out)
		return DSCK_OK;
	for (size_t i = 0; i < ck->n_shards && j < sp->n; i++) {
		int c = -1;
		while (j < sp->n && (c = strcmp(sp->names[j], ck->shard_names[i])) < 0)
			j++;
		if (j < sp->n && c == 0) {
			ck->shards[i] = sp->out[j];
			sp->out[j++] = NULL;
		}
	}
	return DSCK_OK;
}

/* Stop and join any threads; free what no shard adopted. */
void ckpt_spec_release(struct ckpt_spec *sp)
{
	ckpt_spec_finish(sp, 1);
	for (size_t i = 0; i < sp->n; i++) {
		if (sp->out)
			dsck_st_free(sp->out[i]);
		free(sp->names[i]);
	}
	free(sp->out);
	free(sp->names);
	memset(sp, 0, sizeof *sp);
}

