/*
 * plan_exec.c - the streaming engine (plan.h, formats.md PL-R5..PL-R8).
 *
 * Order of a run:
 *   0. check every scale a dequantization will use (nothing exists yet);
 *   1. create OUT, fingerprint the plan, read the state file: refuse foreign
 *      outputs, remove stale temporaries (plan_state.c);
 *   2. check the outputs the state records, in parallel; keep those that
 *      pass, redo the rest;
 *   3. worker threads take items in file order from one cursor; a file's
 *      temporary is opened (header written) when its first item is taken;
 *      each item writes its tile with pwrite at its offsets; the thread
 *      that finishes a file's last item commits it (fdatasync, rename) and
 *      records it in the state file;
 *   4. side files (config, index, tokenizer), then the state file goes.
 * At most `threads` tiles are in memory at once: peak memory is the tile
 * budget plus the tables of the plan, whatever the model size.
 */
#include "plan_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define PE_DEFAULT_BUDGET (512ull << 20)
#define PE_MAX_TILE_ELEMS (1ull << 20)   /* 1 Mi elements: 1-4 MiB tiles */
#define PE_MIN_TILE_ELEMS (1ull << 14)
#define PE_MAX_THREADS 256u

enum dsck_err dsck_fs_free_bytes(const char *dir, uint64_t *out,
				 struct dsck_error *err)
{
	struct statvfs sv;
	if (statvfs(dir, &sv) != 0) {
		/* not there yet: ask the parent, where it will be created */
		char *parent = strdup(dir);
		if (!parent)
			return dsck_error_set(err, DSCK_E_NOMEM, "path");
		size_t n = strlen(parent);
		while (n > 1 && parent[n - 1] == '/')
			parent[--n] = 0;
		char *slash = strrchr(parent, '/');
		if (!slash)
			strcpy(parent, ".");
		else if (slash == parent)
			parent[1] = 0;
		else
			*slash = 0;
		int r = statvfs(parent, &sv);
		int saved = errno;
		free(parent);
		if (r != 0) {
			dsck_error_file(err, dir);
			return dsck_error_set(err, dsck_err_from_errno(saved),
					      "cannot find the output's file system");
		}
	}
	*out = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
	return DSCK_OK;
}

static char *join(const char *dir, const char *name)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);
	if (p)
		sprintf(p, "%s/%s", dir, name);
	return p;
}

/* Record the first failure; later ones are consequences. Caller holds mu. */
static void fail_locked(struct pe_engine *e, const struct dsck_error *err)
{
	if (!e->failed) {
		e->failed = 1;
		e->err = *err;
	}
}

static void fail(struct pe_engine *e, const struct dsck_error *err)
{
	pthread_mutex_lock(&e->mu);
	fail_locked(e, err);
	pthread_mutex_unlock(&e->mu);
}

/* Open file f's temporary and write its header. Caller holds mu. */
static enum dsck_err file_open(struct pe_engine *e, size_t f, struct dsck_error *err)
{
	struct pe_file *pf = &e->files[f];
	const struct dsck_plan_file *plf = &e->p->files[f];
	char *path = join(e->out_dir, plf->name);
	enum dsck_err rc;

	if (!path)
		return dsck_error_set(err, DSCK_E_NOMEM, "output path");
	rc = dsck_writer_open(&pf->w, path, err);
	if (!rc)
		rc = dsck_writer_write(&pf->w, plf->header, plf->header_len, err);
	if (!rc)
		rc = dsck_writer_truncate(&pf->w, plf->size, err);
	if (!rc)
		pf->opened = 1;
	else
		dsck_writer_abort(&pf->w);
	free(path);
	return rc;
}

/* All items of f are written: flush, rename, record. */
static enum dsck_err file_commit(struct pe_engine *e, size_t f, struct dsck_error *err)
{
	struct pe_file *pf = &e->files[f];
	enum dsck_err rc;

	if (fdatasync(pf->w.fd) == 0) /* PL-R7: written back, so droppable */
		posix_fadvise(pf->w.fd, 0, 0, POSIX_FADV_DONTNEED);
	rc = dsck_writer_commit(&pf->w, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&e->mu);
	pf->committed = 1;
	unsigned n = ++e->n_committed;
	pthread_mutex_unlock(&e->mu);
	rc = pe_state_record(e, err);
	if (!rc && e->opts->stop_after && n >= e->opts->stop_after)
		rc = dsck_error_set(err, DSCK_E_IO, "stopped after %u files (stop_after)", n);
	return rc;
}

/* Next todo file with items after f (or from 0 when f is SIZE_MAX). */
static int cursor_file(struct pe_engine *e, size_t from)
{
	for (size_t f = from; f < e->p->n_files; f++)
		if (e->files[f].todo && e->files[f].n_items &&
		    pe_item_first(e, f, &e->cur))
			return 1;
	return 0;
}

static void *worker(void *arg)
{
	struct pe_engine *e = arg;
	struct pe_buf b;
	struct dsck_error err;
	memset(&b, 0, sizeof b);

	for (;;) {
		struct pe_item it;
		uint64_t out_len = 0, in_len = 0;
		enum dsck_err rc = DSCK_OK;

		dsck_error_clear(&err);
		pthread_mutex_lock(&e->mu);
		if (e->failed || !e->cur_valid) {
			pthread_mutex_unlock(&e->mu);
			break;
		}
		it = e->cur;
		if (!pe_item_next(e, &e->cur))
			e->cur_valid = cursor_file(e, (size_t)it.f + 1);
		struct pe_file *pf = &e->files[it.f];
		if (!pf->opened)
			rc = file_open(e, it.f, &err);
		if (rc) {
			fail_locked(e, &err);
			pthread_mutex_unlock(&e->mu);
			break;
		}
		pthread_mutex_unlock(&e->mu);

		rc = pe_item_run(e, &it, &b, NULL, NULL, &out_len, &in_len, &err);

		pthread_mutex_lock(&e->mu);
		if (rc) {
			fail_locked(e, &err);
			pthread_mutex_unlock(&e->mu);
			break;
		}
		e->bytes_read += in_len;
		e->bytes_written += out_len;
		e->done_bytes += out_len;
		if (e->opts->progress)
			e->opts->progress(e->opts->progress_user, e->done_bytes, e->total_bytes);
		int last = ++pf->done == pf->n_items;
		pthread_mutex_unlock(&e->mu);
		if (last) {
			rc = file_commit(e, it.f, &err);
			if (rc) {
				fail(e, &err);
				break;
			}
		}
	}
	pe_buf_release(&b);
	return NULL;
}

/*
 * Threads that call fn(e, i, buf, err) for every i < n that want(e, i)
 * accepts, each index once, in turn; the first failure stops the rest.
 * Used before the writers start: resume checks (one file per call) and
 * the scale check (one tensor per call).
 */
struct each_ctx {
	struct pe_engine *e;
	pthread_mutex_t mu;
	size_t next, n;
	int (*want)(const struct pe_engine *e, size_t i);
	enum dsck_err (*fn)(struct pe_engine *e, size_t i, struct pe_buf *b,
			    struct dsck_error *err);
};

static void *each_worker(void *arg)
{
	struct each_ctx *c = arg;
	struct pe_buf b;
	struct dsck_error err;
	memset(&b, 0, sizeof b);
	for (;;) {
		pthread_mutex_lock(&c->mu);
		while (c->next < c->n && !c->want(c->e, c->next))
			c->next++;
		size_t i = c->next++;
		int stop = i >= c->n || c->e->failed;
		pthread_mutex_unlock(&c->mu);
		if (stop)
			break;
		dsck_error_clear(&err);
		if (c->fn(c->e, i, &b, &err)) {
			fail(c->e, &err);
			break;
		}
	}
	pe_buf_release(&b);
	return NULL;
}

/* PL-R6: check one output the state file records; keep it or redo it. */
static int want_recorded(const struct pe_engine *e, size_t f)
{
	return e->files[f].has_rec;
}

static enum dsck_err check_recorded(struct pe_engine *e, size_t f, struct pe_buf *b,
				    struct dsck_error *err)
{
	int ok = 0;
	enum dsck_err rc = pe_state_check(e, f, b, &ok, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&e->mu);
	e->files[f].kept = ok;
	e->files[f].todo = !ok;
	e->files[f].redone = !ok;
	e->files[f].has_rec = ok;
	pthread_mutex_unlock(&e->mu);
	return DSCK_OK;
}

/* PL-R3: the scales of every DEQUANT tensor, checked before anything is
 * created, so a damaged scale anywhere fails the run with nothing written.
 * Threads take tensors in turn: the reads are small and scattered. */
static int want_dequant(const struct pe_engine *e, size_t t)
{
	return e->p->t[t].xf == DSCK_XF_DEQUANT;
}

static enum dsck_err check_scales(struct pe_engine *e, size_t t, struct pe_buf *b,
				  struct dsck_error *err)
{
	return pe_scale_check(e, (uint32_t)e->p->t[t].src_scale, b, err);
}

static enum dsck_err run_threads(struct pe_engine *e, unsigned n,
				 void *(*fn)(void *), void *arg,
				 struct dsck_error *err)
{
	pthread_t *tid = calloc(n, sizeof *tid);
	unsigned started = 0;
	if (!tid)
		return dsck_error_set(err, DSCK_E_NOMEM, "threads");
	for (; started < n; started++)
		if (pthread_create(&tid[started], NULL, fn, arg) != 0)
			break;
	if (started == 0) {
		free(tid);
		return dsck_error_set(err, DSCK_E_NOMEM, "cannot start a thread");
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	free(tid);
	(void)e;
	return DSCK_OK;
}

static enum dsck_err run_each(struct pe_engine *e, unsigned threads, size_t n,
			      int (*want)(const struct pe_engine *, size_t),
			      enum dsck_err (*fn)(struct pe_engine *, size_t, struct pe_buf *,
						  struct dsck_error *),
			      struct dsck_error *err)
{
	struct each_ctx c = { .e = e, .next = 0, .n = n, .want = want, .fn = fn };
	pthread_mutex_init(&c.mu, NULL);
	enum dsck_err rc = run_threads(e, threads, each_worker, &c, err);
	pthread_mutex_destroy(&c.mu);
	if (!rc && e->failed) {
		*err = e->err;
		rc = e->err.code;
	}
	return rc;
}

static unsigned online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

enum dsck_err dsck_plan_execute(const struct dsck_plan *p,
				const struct dsck_ckpt *ck, const char *out_dir,
				const struct dsck_plan_opts *opts,
				struct dsck_plan_result *res,
				struct dsck_error *err)
{
	struct pe_engine e;
	enum dsck_err rc;
	unsigned threads;
	uint64_t budget;

	memset(&e, 0, sizeof e);
	memset(res, 0, sizeof *res);
	e.p = p;
	e.ck = ck;
	e.opts = opts;
	e.dirfd = -1;
	pthread_mutex_init(&e.mu, NULL);
	pthread_mutex_init(&e.state_mu, NULL);
	dsck_error_clear(&e.err);

	/* PL-R7: a tile waits on the disk most of its time, so by default two
	 * threads per core keep reads and writes in flight (bench/convert.sh:
	 * -j 4 on 2 cores 5-30% faster than -j 2, -j 8 no faster) */
	threads = opts->threads ? opts->threads : 2 * online_cpus();
	if (threads > PE_MAX_THREADS)
		threads = PE_MAX_THREADS;
	budget = opts->mem_budget ? opts->mem_budget : PE_DEFAULT_BUDGET;
	/* per element a tile holds <= 4 input, 4 f32 and 4 output bytes */
	e.tile_elems = budget / threads / 12;
	if (e.tile_elems > PE_MAX_TILE_ELEMS)
		e.tile_elems = PE_MAX_TILE_ELEMS;
	if (e.tile_elems < PE_MIN_TILE_ELEMS)
		e.tile_elems = PE_MIN_TILE_ELEMS;
	res->threads = threads;

	e.out_dir = strdup(out_dir);
	e.files = calloc(p->n_files ? p->n_files : 1, sizeof *e.files);
	if (!e.out_dir || !e.files) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "engine");
		goto out;
	}
	rc = run_each(&e, threads, p->n, want_dequant, check_scales, err);
	if (rc)
		goto out;
	for (size_t f = 0; f < p->n_files; f++)
		e.files[f].w = (struct dsck_writer)DSCK_WRITER_INIT;
	if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
		dsck_error_file(err, out_dir);
		rc = dsck_error_set(err, dsck_err_from_errno(errno), "cannot create the output directory");
		goto out;
	}
	e.dirfd = open(out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (e.dirfd < 0) {
		dsck_error_file(err, out_dir);
		rc = dsck_error_set(err, dsck_err_from_errno(errno), "cannot open the output directory");
		goto out;
	}
	struct stat so, sd;
	if (fstat(e.dirfd, &sd) == 0 && ck->dirfd >= 0 && fstat(ck->dirfd, &so) == 0 &&
	    so.st_dev == sd.st_dev && so.st_ino == sd.st_ino) {
		dsck_error_file(err, out_dir);
		rc = dsck_error_set(err, DSCK_E_USAGE,
				    "the output directory is the source directory; choose another DST");
		goto out;
	}
	rc = pe_fingerprint(&e, err);
	if (!rc)
		rc = pe_state_begin(&e, err);
	if (rc)
		goto out;

	/* 2. check what an interrupted run left */
	size_t n_rec = 0;
	for (size_t f = 0; f < p->n_files; f++) {
		e.files[f].todo = !e.files[f].has_rec;
		n_rec += e.files[f].has_rec;
	}
	if (n_rec) {
		rc = run_each(&e, threads < n_rec ? threads : (unsigned)n_rec, p->n_files,
			      want_recorded, check_recorded, err);
		if (rc)
			goto out;
		for (size_t f = 0; f < p->n_files; f++) {
			res->files_kept += e.files[f].kept;
			res->files_redone += e.files[f].redone;
		}
	}

	/* 3. items */
	for (size_t f = 0; f < p->n_files; f++) {
		struct pe_file *pf = &e.files[f];
		if (!pf->todo)
			continue;
		pf->n_items = pe_file_items(&e, f);
		e.total_bytes += p->files[f].size - p->files[f].header_len;
		if (pf->n_items == 0) { /* header only: nothing for a worker */
			rc = file_open(&e, f, err);
			if (!rc)
				rc = file_commit(&e, f, err);
			if (rc)
				goto out;
		}
	}
	e.cur_valid = cursor_file(&e, 0);
	if (e.cur_valid) {
		unsigned n = threads;
		rc = run_threads(&e, n, worker, &e, err);
		if (rc)
			goto out;
	}
	if (e.failed) {
		*err = e.err;
		rc = e.err.code;
		goto out;
	}
	if (opts->progress)
		opts->progress(opts->progress_user, e.total_bytes, e.total_bytes);

	/* 4. side files, then the run is complete */
	for (size_t i = 0; i < p->n_side && !rc; i++)
		rc = pe_side_write(&e, i, err);
	if (!rc)
		rc = pe_state_finish(&e, err);
	for (size_t f = 0; f < p->n_files; f++)
		res->files_written += e.files[f].committed;
	res->bytes_read = e.bytes_read;
	res->bytes_written = e.bytes_written;
out:
	if (e.files) {
		for (size_t f = 0; f < p->n_files; f++) {
			if (e.files[f].opened && !e.files[f].committed)
				dsck_writer_abort(&e.files[f].w); /* W-R1: no final name */
		}
	}
	if (e.dirfd >= 0)
		close(e.dirfd);
	free(e.files);
	free(e.out_dir);
	pthread_mutex_destroy(&e.mu);
	pthread_mutex_destroy(&e.state_mu);
	return rc;
}
