/*
 * ckpt.c - open a checkpoint (directory, index.json or one .safetensors
 * file) as one name-sorted table of tensors (ckpt.h).
 *
 * Only headers are read: memory is O(sum of header sizes), never tensor
 * data. Shards are opened inside the directory by name with O_NOFOLLOW
 * (IX-R5) and cross-checked against the index (IX-R6..IX-R8); without an
 * index the directory is globbed (IX-R9). Shard descriptors stay open for
 * the life of the ckpt so dsck_ckpt_read is a pread.
 *
 * Headers are parsed by a pool of threads (one per online CPU, at most
 * CKPT_MAX_THREADS), with an index already while the index itself is read
 * (struct ckpt_spec). Results land in per-shard slots and the error
 * reported is the one of the lowest-numbered failing shard: the outcome
 * is the sequential one.
 */
#include "ckpt.h"

#include "arith.h"
#include "io.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CKPT_INDEX_NAME "model.safetensors.index.json"
#define CKPT_SINGLE_NAME "model.safetensors"
#define CKPT_CONFIG_NAME "config.json"
#define CKPT_SUFFIX ".safetensors"

static int ckpt_has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* "dir/name" in a new string, or NULL. */
static char *ckpt_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);
	if (!p)
		return NULL;
	memcpy(p, dir, a);
	p[a] = '/';
	memcpy(p + a + 1, name, b + 1);
	return p;
}

/* Does name exist in dirfd (any file type, symlinks not followed)?
 * Returns 1, 0, or -1 with errno set for another failure. */
static int ckpt_exists_at(int dirfd, const char *name)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

static int ckpt_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Name order, then shard order, so duplicates are adjacent and reported
 * with the lower shard first (deterministic messages). */
static int ckpt_cmp_tensor(const void *a, const void *b)
{
	const struct dsck_ckpt_tensor *x = a, *y = b;
	int c = strcmp(x->t->name, y->t->name);
	if (c)
		return c;
	return (x->shard > y->shard) - (x->shard < y->shard);
}

/* Append a copy of name to ck->shard_names (capacity *cap, grown here). */
static enum dsck_err ckpt_add_shard_name(struct dsck_ckpt *ck, size_t *cap,
					 const char *name, struct dsck_error *err)
{
	if (ck->n_shards == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		char **np = realloc(ck->shard_names, ncap * sizeof *np);
		if (!np)
			return dsck_error_set(err, DSCK_E_NOMEM, "shard list");
		ck->shard_names = np;
		*cap = ncap;
	}
	ck->shard_names[ck->n_shards] = strdup(name);
	if (!ck->shard_names[ck->n_shards])
		return dsck_error_set(err, DSCK_E_NOMEM, "shard name");
	ck->n_shards++;
	return DSCK_OK;
}

/* What ckpt_glob_entry needs while the directory is walked. */
struct ckpt_glob {
	struct dsck_ckpt *ck;
	size_t cap;                 /* entries allocated at ck->shard_names */
};

/* dsck_dir_each callback: collect one *.safetensors name (IX-R9). */
static enum dsck_err ckpt_glob_entry(const char *name, void *user,
				     struct dsck_error *err)
{
	struct ckpt_glob *g = user;

	if (!ckpt_has_suffix(name, CKPT_SUFFIX))
		return DSCK_OK;
	/* The same IX-R4 policy as for index names: a file whose name
	 * would garble a report is refused, not skipped silently. */
	if (dsck_index_check_shard_name(name, strlen(name)) != 0) {
		dsck_error_file(err, g->ck->dir);
		return dsck_error_set(err, DSCK_E_BAD_SHARD_PATH,
				      "a .safetensors file name holds control bytes");
	}
	return ckpt_add_shard_name(g->ck, &g->cap, name, err);
}

/* IX-R9: model.safetensors alone, else every *.safetensors in name order. */
static enum dsck_err ckpt_glob_shards(struct dsck_ckpt *ck, struct dsck_error *err)
{
	struct ckpt_glob g = { ck, 0 };
	enum dsck_err rc;
	int single = ckpt_exists_at(ck->dirfd, CKPT_SINGLE_NAME);

	if (single < 0) {
		int e = errno;
		dsck_error_file(err, ck->dir);
		return dsck_error_set(err, dsck_err_from_errno(e), "stat %s: %s",
				      CKPT_SINGLE_NAME, strerror(e));
	}
	if (single)
		return ckpt_add_shard_name(ck, &g.cap, CKPT_SINGLE_NAME, err);
	rc = dsck_dir_each(ck->dirfd, ck->dir, ckpt_glob_entry, &g, err);
	if (rc)
		return rc;
	if (ck->n_shards == 0) {
		dsck_error_file(err, ck->dir);
		return dsck_error_set(err, DSCK_E_NOT_FOUND,
				      "no " CKPT_INDEX_NAME ", no " CKPT_SINGLE_NAME
				      " and no *.safetensors file");
	}
	qsort(ck->shard_names, ck->n_shards, sizeof *ck->shard_names, ckpt_cmp_str);
	return DSCK_OK;
}

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
static enum dsck_err ckpt_open_shards(struct dsck_ckpt *ck, struct dsck_error *err)
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
static void ckpt_spec_start(struct ckpt_spec *sp, const struct dsck_ckpt *ck)
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
static void ckpt_spec_finish(struct ckpt_spec *sp, int stop)
{
	if (sp->running)
		ckpt_pool_finish(&sp->pool, stop);
	sp->running = 0;
}

/* Move the results for ck->shard_names (sorted, like sp->names) into
 * ck->shards; a merge of the two sorted lists. */
static enum dsck_err ckpt_spec_adopt(struct ckpt_spec *sp, struct dsck_ckpt *ck,
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
static void ckpt_spec_release(struct ckpt_spec *sp)
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

/* Global table sorted by name, duplicates refused (IX-R7 / IX-R9), byte
 * totals with checked sums (G-R2). */
static enum dsck_err ckpt_build_table(struct dsck_ckpt *ck, struct dsck_error *err)
{
	size_t n = 0, k = 0;
	for (size_t s = 0; s < ck->n_shards; s++) {
		const struct dsck_st *st = ck->shards[s];
		if (st->n_tensors > SIZE_MAX / sizeof *ck->tensors - n)
			return dsck_error_set(err, DSCK_E_OVERFLOW, "checkpoint byte totals");
		n += st->n_tensors;
	}
	ck->tensors = calloc(n ? n : 1, sizeof *ck->tensors);
	if (!ck->tensors)
		return dsck_error_set(err, DSCK_E_NOMEM, "tensor table");
	for (size_t s = 0; s < ck->n_shards; s++) {
		const struct dsck_st *st = ck->shards[s];
		for (size_t i = 0; i < st->n_tensors; i++) {
			uint64_t sum;
			ck->tensors[k].t = &st->tensors[i];
			ck->tensors[k].shard = (uint32_t)s;
			k++;
			if (dsck_add_u64(ck->payload_bytes,
					 st->tensors[i].end - st->tensors[i].begin, &sum))
				return dsck_error_set(err, DSCK_E_OVERFLOW, "payload byte total");
			ck->payload_bytes = sum;
		}
	}
	ck->n = n;
	qsort(ck->tensors, n, sizeof *ck->tensors, ckpt_cmp_tensor);
	if (dsck_strmap_reserve(&ck->by_name, n))
		return dsck_error_set(err, DSCK_E_NOMEM, "tensor name map");
	for (size_t i = 0; i < n; i++) {
		const struct dsck_ckpt_tensor *ct = &ck->tensors[i];
		if (i > 0 && strcmp(ck->tensors[i - 1].t->name, ct->t->name) == 0) {
			dsck_error_file(err, ck->dir);
			dsck_error_tensor(err, ct->t->name);
			dsck_error_expect(err, "one shard");
			dsck_error_found(err, "%s and %s",
					 ck->shard_names[ck->tensors[i - 1].shard],
					 ck->shard_names[ct->shard]);
			return dsck_error_set(err, DSCK_E_INDEX_MISMATCH,
					      "tensor is stored in two shards");
		}
		if (dsck_strmap_insert(&ck->by_name, ct->t->name, ct->t->name_len,
				       (uint32_t)i, NULL) != 0)
			return dsck_error_set(err, DSCK_E_NOMEM, "tensor name map");
	}
	ck->names = &ck->by_name;
	return DSCK_OK;
}

/* Sum of header and file sizes over the shards (G-R2). */
static enum dsck_err ckpt_sum_files(struct dsck_ckpt *ck, struct dsck_error *err)
{
	for (size_t s = 0; s < ck->n_shards; s++) {
		const struct dsck_st *st = ck->shards[s];
		uint64_t hdr, file;
		if (dsck_add_u64(ck->header_bytes, st->data_start, &hdr) ||
		    dsck_add_u64(ck->file_bytes, st->file.size, &file))
			return dsck_error_set(err, DSCK_E_OVERFLOW, "checkpoint byte totals");
		ck->header_bytes = hdr;
		ck->file_bytes = file;
	}
	return DSCK_OK;
}

/*
 * The common case with an index: every entry is in the shard it names and
 * the shards hold nothing else (IX-R7). Then the table is the index's
 * entry order, already by name, and the index's name map serves
 * dsck_ckpt_find: no sort, no second map, and each lookup is in one
 * shard's small map. Sets *done when that holds; otherwise the table is
 * left empty for ckpt_build_table and ckpt_check_index, which find and
 * report the failure exactly.
 */
static enum dsck_err ckpt_table_from_index(struct dsck_ckpt *ck, int *done,
					   struct dsck_error *err)
{
	const struct dsck_index *idx = &ck->idx;
	struct dsck_ckpt_tensor *t = NULL;
	size_t held = 0;
	uint64_t payload = 0;

	*done = 0;
	/* Entries are distinct names, each found below in its shard; with
	 * as many shard tensors as entries, none is left over (and none is
	 * in two shards). Shard numbers of the index and of ck coincide:
	 * shard_names were copied from idx->shards in order. */
	for (size_t s = 0; s < ck->n_shards; s++) {
		if (ck->shards[s]->n_tensors > idx->n - held)
			return DSCK_OK;
		held += ck->shards[s]->n_tensors;
	}
	if (held != idx->n)
		return DSCK_OK;
	t = malloc((idx->n ? idx->n : 1) * sizeof *t);
	if (!t)
		return dsck_error_set(err, DSCK_E_NOMEM, "tensor table");
	for (size_t i = 0; i < idx->n; i++) {
		const struct dsck_index_entry *e = &idx->entries[i];
		const struct dsck_st *st = ck->shards[e->shard];
		long k = dsck_st_find(st, e->name, strlen(e->name));
		if (k < 0 || dsck_add_u64(payload, st->tensors[k].end - st->tensors[k].begin,
					  &payload)) {
			free(t);
			return DSCK_OK;
		}
		t[i].t = &st->tensors[k];
		t[i].shard = e->shard;
	}
	ck->tensors = t;
	ck->n = idx->n;
	ck->payload_bytes = payload;
	ck->names = &idx->by_name;
	*done = 1;
	return DSCK_OK;
}

/* IX-R8: total_size, when given, is the sum of the tensors' sizes. */
static enum dsck_err ckpt_check_total(struct dsck_ckpt *ck, const char *index_display,
				      struct dsck_error *err)
{
	const struct dsck_index *idx = &ck->idx;
	if (idx->has_total_size && idx->total_size != ck->payload_bytes) {
		dsck_error_file(err, index_display);
		dsck_error_tensor(err, "metadata.total_size");
		dsck_error_expect(err, "%llu", (unsigned long long)idx->total_size);
		dsck_error_found(err, "%llu bytes of tensors",
				 (unsigned long long)ck->payload_bytes);
		return dsck_error_set(err, DSCK_E_INDEX_MISMATCH,
				      "total_size differs from the sum of tensor sizes");
	}
	return DSCK_OK;
}

/* IX-R7: the index and the shards agree exactly (the general path, which
 * names the first disagreement in name order). */
static enum dsck_err ckpt_check_index(struct dsck_ckpt *ck, const char *index_display,
				      struct dsck_error *err)
{
	const struct dsck_index *idx = &ck->idx;

	/* Index shard numbers and ck shard numbers coincide: shard_names
	 * were copied from idx->shards in order. */
	for (size_t i = 0; i < ck->n; i++) {
		const struct dsck_ckpt_tensor *ct = &ck->tensors[i];
		uint32_t e;
		if (!dsck_strmap_find(&idx->by_name, ct->t->name, ct->t->name_len, &e)) {
			dsck_error_file(err, index_display);
			dsck_error_tensor(err, ct->t->name);
			dsck_error_found(err, "in %s", ck->shard_names[ct->shard]);
			return dsck_error_set(err, DSCK_E_INDEX_MISMATCH,
					      "shard holds a tensor the index does not list");
		}
		if (idx->entries[e].shard != ct->shard) {
			dsck_error_file(err, index_display);
			dsck_error_tensor(err, ct->t->name);
			dsck_error_expect(err, "in %s", idx->shards[idx->entries[e].shard]);
			dsck_error_found(err, "in %s", ck->shard_names[ct->shard]);
			return dsck_error_set(err, DSCK_E_INDEX_MISMATCH,
					      "tensor is not in the shard the index names");
		}
	}
	for (size_t i = 0; i < idx->n; i++) {
		const struct dsck_index_entry *ie = &idx->entries[i];
		if (!dsck_ckpt_find(ck, ie->name, strlen(ie->name))) {
			dsck_error_file(err, index_display);
			dsck_error_tensor(err, ie->name);
			dsck_error_expect(err, "in %s", idx->shards[ie->shard]);
			dsck_error_found(err, "absent");
			return dsck_error_set(err, DSCK_E_INDEX_MISMATCH,
					      "the index lists a tensor its shard does not hold");
		}
	}
	return DSCK_OK;
}

/* Directory flow; index_name is NULL to look for the default index. */
static enum dsck_err ckpt_open_dir(struct dsck_ckpt *ck, const char *index_name,
				   struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	char *cfg_path = NULL, *index_display = NULL, *text = NULL;
	size_t len = 0;
	struct ckpt_spec spec;
	int r;

	memset(&spec, 0, sizeof spec);

	ck->dirfd = open(ck->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ck->dirfd < 0) {
		int e = errno;
		dsck_error_file(err, ck->dir);
		rc = dsck_error_set(err, dsck_err_from_errno(e), "open directory: %s",
				    strerror(e));
		goto out;
	}

	/* config.json is a fixed name, not a path taken from a file, so the
	 * config loader may open it by path. Errors propagate. */
	r = ckpt_exists_at(ck->dirfd, CKPT_CONFIG_NAME);
	if (r > 0) {
		cfg_path = ckpt_join(ck->dir, CKPT_CONFIG_NAME);
		if (!cfg_path) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "config path");
			goto out;
		}
		rc = dsck_config_load(cfg_path, &ck->cfg, err);
		if (rc)
			goto out;
		ck->has_config = 1;
	}

	if (!index_name) {
		r = ckpt_exists_at(ck->dirfd, CKPT_INDEX_NAME);
		if (r < 0) {
			int e = errno;
			dsck_error_file(err, ck->dir);
			rc = dsck_error_set(err, dsck_err_from_errno(e), "stat %s: %s",
					    CKPT_INDEX_NAME, strerror(e));
			goto out;
		}
		if (r > 0)
			index_name = CKPT_INDEX_NAME;
	}

	if (index_name) {
		index_display = ckpt_join(ck->dir, index_name);
		if (!index_display) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "index path");
			goto out;
		}
		/* Shard names are known once the index is parsed; their
		 * headers are parsed meanwhile on the other CPUs. */
		ckpt_spec_start(&spec, ck);
		/* IX-R1 / L-R4: refused by size before the buffer exists. */
		rc = dsck_file_read_all_at(ck->dirfd, index_name, index_display,
					   DSCK_INDEX_MAX_BYTES, &text, &len, err);
		if (rc == DSCK_OK)
			rc = dsck_index_parse(text, len, index_display, &ck->idx, err);
		if (rc)
			goto out;
		ck->has_index = 1;
		ckpt_spec_finish(&spec, 0);
		size_t cap = 0;
		for (size_t i = 0; i < ck->idx.n_shards; i++) {
			rc = ckpt_add_shard_name(ck, &cap, ck->idx.shards[i], err);
			if (rc)
				goto out;
		}
		rc = ckpt_spec_adopt(&spec, ck, err);
		if (rc)
			goto out;
		ckpt_spec_release(&spec);
	} else {
		rc = ckpt_glob_shards(ck, err);
		if (rc)
			goto out;
	}

	rc = ckpt_open_shards(ck, err);
	if (rc)
		goto out;
	rc = ckpt_sum_files(ck, err);
	if (rc)
		goto out;
	int done = 0;
	if (ck->has_index) {
		rc = ckpt_table_from_index(ck, &done, err);
		if (rc)
			goto out;
	}
	if (!done) {
		rc = ckpt_build_table(ck, err);
		if (rc)
			goto out;
		if (ck->has_index)
			rc = ckpt_check_index(ck, index_display, err);
		if (rc)
			goto out;
	}
	if (ck->has_index)
		rc = ckpt_check_total(ck, index_display, err);
out:
	ckpt_spec_release(&spec);
	free(text);
	free(index_display);
	free(cfg_path);
	return rc;
}

/* One explicitly named .safetensors file: it is the whole checkpoint. */
static enum dsck_err ckpt_open_file(struct dsck_ckpt *ck, const char *base,
				    struct dsck_error *err)
{
	size_t cap = 0;
	enum dsck_err rc;

	ck->dirfd = open(ck->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ck->dirfd < 0) {
		int e = errno;
		dsck_error_file(err, ck->dir);
		return dsck_error_set(err, dsck_err_from_errno(e), "open directory: %s",
				      strerror(e));
	}
	rc = ckpt_add_shard_name(ck, &cap, base, err);
	if (rc)
		return rc;
	ck->shards = calloc(1, sizeof *ck->shards);
	if (!ck->shards)
		return dsck_error_set(err, DSCK_E_NOMEM, "shard table");
	/* The user named this path, so it is opened as given. */
	rc = dsck_st_open(ck->path, &ck->shards[0], err);
	if (rc)
		return rc;
	rc = ckpt_sum_files(ck, err);
	if (rc)
		return rc;
	return ckpt_build_table(ck, err);
}

enum dsck_err dsck_ckpt_open(const char *path, struct dsck_ckpt **out,
			     struct dsck_error *err)
{
	enum dsck_err rc;
	struct dsck_ckpt *ck = NULL;
	struct stat st;
	const char *slash, *base;

	*out = NULL;
	ck = calloc(1, sizeof *ck);
	if (!ck)
		return dsck_error_set(err, DSCK_E_NOMEM, "checkpoint");
	ck->dirfd = -1;
	ck->by_name = (struct dsck_strmap)DSCK_STRMAP_INIT;
	ck->path = strdup(path);
	if (!ck->path) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "checkpoint path");
		goto out;
	}
	if (stat(path, &st) != 0) {
		int e = errno;
		dsck_error_file(err, path);
		rc = dsck_error_set(err, dsck_err_from_errno(e), "%s", strerror(e));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		ck->dir = strdup(path);
		if (!ck->dir) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "checkpoint path");
			goto out;
		}
		rc = ckpt_open_dir(ck, NULL, err);
		goto out;
	}

	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	ck->dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path))
			: strdup(".");
	if (!ck->dir) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "checkpoint path");
		goto out;
	}
	if (S_ISREG(st.st_mode) && ckpt_has_suffix(base, ".json")) {
		rc = ckpt_open_dir(ck, base, err);
	} else if (S_ISREG(st.st_mode) && ckpt_has_suffix(base, CKPT_SUFFIX)) {
		rc = ckpt_open_file(ck, base, err);
	} else {
		dsck_error_file(err, path);
		rc = dsck_error_set(err, DSCK_E_USAGE,
				    "not a checkpoint directory, an index .json or a .safetensors file");
	}
out:
	if (rc) {
		dsck_ckpt_close(ck);
		return rc;
	}
	*out = ck;
	return DSCK_OK;
}

const struct dsck_ckpt_tensor *dsck_ckpt_find(const struct dsck_ckpt *ck,
					      const char *name, size_t len)
{
	uint32_t i;
	if (!ck->names || !dsck_strmap_find(ck->names, name, len, &i))
		return NULL;
	return &ck->tensors[i];
}

enum dsck_err dsck_ckpt_read(const struct dsck_ckpt *ck,
			     const struct dsck_ckpt_tensor *ct, uint64_t off,
			     void *buf, size_t n, struct dsck_error *err)
{
	const struct dsck_st *st;
	if (!ct || ct->shard >= ck->n_shards)
		return dsck_error_set(err, DSCK_E_USAGE, "tensor not from this checkpoint");
	st = ck->shards[ct->shard];
	/* ct->t points into st->tensors, so the difference is its index. */
	return dsck_st_read(st, (size_t)(ct->t - st->tensors), off, buf, n, err);
}

void dsck_ckpt_close(struct dsck_ckpt *ck)
{
	if (!ck)
		return;
	if (ck->shards)
		for (size_t i = 0; i < ck->n_shards; i++)
			dsck_st_free(ck->shards[i]);
	free(ck->shards);
	if (ck->shard_names)
		for (size_t i = 0; i < ck->n_shards; i++)
			free(ck->shard_names[i]);
	free(ck->shard_names);
	free(ck->tensors);
	dsck_strmap_release(&ck->by_name);
	if (ck->has_index)
		dsck_index_release(&ck->idx);
	if (ck->dirfd >= 0)
		close(ck->dirfd);
	free(ck->dir);
	free(ck->path);
	free(ck);
}
