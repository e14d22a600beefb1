/*
 * manifest.c - compute checkpoint manifests (manifest.h, formats.md §7):
 * the file list (MF-R1), the per-file and per-tensor hashes (MF-R2), the
 * model hash (MF-R3), plus the helpers the manifest files share
 * (manifest_int.h). Writing and loading live in manifest_json.c, comparing
 * in manifest_compare.c.
 *
 * Computing: one job per file, taken from a shared queue by a pool of
 * pthreads. A shard is read once, front to back, in buf_bytes chunks; every
 * chunk feeds the file hash and, past the header, the hash of the tensor
 * whose byte range it covers (tensors tile the data buffer in offset order,
 * ST-R10/ST-R14). Each job writes only its own result slots, so only the
 * queue, the progress counter and the first error need the lock.
 */
#include "manifest.h"
#include "manifest_int.h"

#include "arith.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int mf_has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

int dsck_manifest_is_aux_name(const char *name)
{
	static const char *const exts[] = { ".json", ".jinja", ".model", ".txt",
					    ".tiktoken", ".py" };
	if (!name || name[0] == '.' || name[0] == '\0')
		return 0;
	if (strncmp(name, DSCK_MANIFEST_NAME_PREFIX,
		    sizeof(DSCK_MANIFEST_NAME_PREFIX) - 1) == 0)
		return 0;
	/* A name with control bytes could not be reported on one line. */
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
		if (mf_has_suffix(name, exts[i]))
			return 1;
	return 0;
}

void dsck_manifest_release(struct dsck_manifest *m)
{
	if (!m)
		return;
	if (m->files)
		for (size_t i = 0; i < m->n_files; i++)
			free(m->files[i].name);
	free(m->files);
	if (m->tensors)
		for (size_t i = 0; i < m->n_tensors; i++)
			free(m->tensors[i].name);
	free(m->tensors);
	*m = (struct dsck_manifest)DSCK_MANIFEST_INIT;
}

/* ---- shared by the manifest files (manifest_int.h) ------------------ */

int dsck_manifest_cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct dsck_manifest_file *)a)->name,
		      ((const struct dsck_manifest_file *)b)->name);
}

static int mf_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* uppercase is not the canonical form and is refused */
}

int dsck_manifest_hex_decode(const char *hex, unsigned char raw[32])
{
	for (size_t i = 0; i < 32; i++) {
		int hi = mf_hex_value(hex[2 * i]), lo;
		if (hi < 0)
			return -1;
		lo = mf_hex_value(hex[2 * i + 1]);
		if (lo < 0)
			return -1;
		raw[i] = (unsigned char)(hi << 4 | lo);
	}
	return hex[64] == '\0' ? 0 : -1;
}

void dsck_manifest_shape_text(const struct dsck_manifest_tensor *t,
			      const char *sep, int bracket, char *buf, size_t n)
{
	size_t len = 0;
	int w;
	buf[0] = '\0';
	if (bracket && (w = snprintf(buf, n, "[")) > 0)
		len = (size_t)w;
	for (uint32_t d = 0; d < t->ndim && len < n; d++) {
		w = snprintf(buf + len, n - len, "%s%llu", d ? sep : "",
			     (unsigned long long)t->shape[d]);
		if (w < 0)
			break;
		len += (size_t)w;
	}
	if (bracket && len < n)
		snprintf(buf + len, n - len, "]");
}

/*
 * MF-R3: SHA-256 over the tensors in bytewise name order (m->tensors is
 * sorted), each as name NUL dtype NUL shape NUL raw-digest.
 */
static enum dsck_err mf_model_hash(struct dsck_manifest *m, struct dsck_error *err)
{
	struct dsck_sha256 h;
	enum dsck_err rc = dsck_sha256_init(&h, err);
	char shape[DSCK_MAX_DIMS * 21 + 1];
	unsigned char raw[32];

	for (size_t i = 0; rc == DSCK_OK && i < m->n_tensors; i++) {
		const struct dsck_manifest_tensor *t = &m->tensors[i];
		const char *dt = dsck_dtype_name(t->dtype);
		dsck_manifest_shape_text(t, ",", 0, shape, sizeof shape);
		if (!dt || dsck_manifest_hex_decode(t->sha256, raw) != 0) {
			dsck_error_tensor(err, t->name);
			rc = dsck_error_set(err, DSCK_E_INVALID_MANIFEST,
					    "tensor without a dtype or hash");
			break;
		}
		if ((rc = dsck_sha256_update(&h, t->name, strlen(t->name) + 1, err)) ||
		    (rc = dsck_sha256_update(&h, dt, strlen(dt) + 1, err)) ||
		    (rc = dsck_sha256_update(&h, shape, strlen(shape) + 1, err)) ||
		    (rc = dsck_sha256_update(&h, raw, sizeof raw, err)))
			break;
	}
	if (rc) {
		dsck_sha256_release(&h);
		return rc;
	}
	return dsck_sha256_final(&h, m->model_sha256, err);
}

/* ---- computing ------------------------------------------------------ */

struct mf_job {
	size_t file;                /* slot in m->files */
	const struct dsck_st *st;   /* the shard, or NULL for an aux file */
};

struct mf_run {
	const struct dsck_ckpt *ck;
	struct dsck_manifest *m;
	size_t *tensor_slot;        /* per shard: first entry of slot_of */
	size_t *slot_of;            /* shard s, local tensor j -> m->tensors slot */
	struct mf_job *jobs;
	size_t n_jobs;
	size_t buf_bytes;

	pthread_mutex_t lock;       /* guards everything below */
	size_t next_job;
	int failed;
	enum dsck_err rc;
	struct dsck_error err;      /* the first failure */
	uint64_t done, total;       /* bytes */
	dsck_manifest_progress_fn progress;
	void *user;
	int no_feed;                /* MP(N): tensors are hashed logically after */
};

/* Count n more bytes done; returns nonzero if another job has failed. */
static int mf_run_advance(struct mf_run *run, uint64_t n)
{
	int stop;
	pthread_mutex_lock(&run->lock);
	run->done += n;
	stop = run->failed;
	if (!stop && run->progress)
		run->progress(run->done, run->total, run->user);
	pthread_mutex_unlock(&run->lock);
	return stop;
}

static void mf_run_fail(struct mf_run *run, enum dsck_err rc,
			const struct dsck_error *err)
{
	pthread_mutex_lock(&run->lock);
	if (!run->failed) {
		run->failed = 1;
		run->rc = rc;
		run->err = *err;
	}
	pthread_mutex_unlock(&run->lock);
}

/*
 * State of the per-tensor hashing inside one shard: tensor cur (in offset
 * order) is being hashed in h.
 */
struct mf_tensor_feed {
	const struct dsck_st *st;
	const size_t *slots;        /* local tensor -> m->tensors slot */
	struct dsck_manifest *m;
	size_t cur;
	struct dsck_sha256 h;       /* live while cur < st->n_tensors */
};

static enum dsck_err mf_feed_start(struct mf_tensor_feed *f, struct dsck_error *err)
{
	if (f->cur >= f->st->n_tensors)
		return DSCK_OK;
	return dsck_sha256_init(&f->h, err);
}

/* Finish tensor cur and start the next. */
static enum dsck_err mf_feed_next(struct mf_tensor_feed *f, struct dsck_error *err)
{
	enum dsck_err rc = dsck_sha256_final(&f->h,
					     f->m->tensors[f->slots[f->cur]].sha256,
					     err);
	if (rc)
		return rc;
	f->cur++;
	return mf_feed_start(f, err);
}

/*
 * Feed the bytes buf[0..n) found at file offset pos to the tensor hashes.
 * Bytes before data_start are header and belong to no tensor.
 */
static enum dsck_err mf_feed(struct mf_tensor_feed *f, const unsigned char *buf,
			     uint64_t pos, size_t n, struct dsck_error *err)
{
	const struct dsck_st *st = f->st;
	uint64_t p = pos, end = pos + n; /* pos + n <= file size: no overflow */
	enum dsck_err rc;

	if (p < st->data_start)
		p = end < st->data_start ? end : st->data_start;
	while (p < end) {
		uint64_t rel = p - st->data_start;
		/* Zero-size tensors and finished ones end at or before rel. */
		while (f->cur < st->n_tensors && st->tensors[f->cur].end <= rel)
			if ((rc = mf_feed_next(f, err)))
				return rc;
		if (f->cur >= st->n_tensors)
			break; /* past the last tensor: cannot happen after ST-R14 */
		uint64_t take = st->tensors[f->cur].end - rel;
		if (take > end - p)
			take = end - p;
		rc = dsck_sha256_update(&f->h, buf + (p - pos), (size_t)take, err);
		if (rc)
			return rc;
		p += take;
	}
	return DSCK_OK;
}

/* Hash one file of the job list; a shard also hashes its tensors. */
static enum dsck_err mf_hash_job(struct mf_run *run, const struct mf_job *job,
				 unsigned char *buf, struct dsck_error *err)
{
	struct dsck_manifest_file *mfile = &run->m->files[job->file];
	struct dsck_file own = DSCK_FILE_INIT;
	const struct dsck_file *f;
	struct dsck_sha256 fh = { NULL };
	struct mf_tensor_feed feed = { 0 };
	enum dsck_err rc;
	uint64_t pos = 0;

	if (job->st) {
		f = &job->st->file;
	} else {
		size_t dlen = strlen(run->ck->dir) + strlen(mfile->name) + 2;
		char *display = malloc(dlen);
		if (!display)
			return dsck_error_set(err, DSCK_E_NOMEM, "file path");
		snprintf(display, dlen, "%s/%s", run->ck->dir, mfile->name);
		/* O_NOFOLLOW: never read outside the directory (IX-R5). */
		rc = dsck_file_openat(&own, run->ck->dirfd, mfile->name, display, err);
		free(display);
		if (rc)
			return rc;
		f = &own;
	}
	mfile->size = f->size;

	rc = dsck_sha256_init(&fh, err);
	if (rc)
		goto out;
	if (job->st && !run->no_feed) {
		feed.st = job->st;
		feed.m = run->m;
		feed.slots = &run->slot_of[run->tensor_slot[job->file]];
		rc = mf_feed_start(&feed, err);
		if (rc)
			goto out;
	}
	while (pos < f->size) {
		uint64_t left = f->size - pos;
		size_t n = left < run->buf_bytes ? (size_t)left : run->buf_bytes;
		rc = dsck_file_pread(f, pos, buf, n, err);
		if (rc)
			goto out;
		rc = dsck_sha256_update(&fh, buf, n, err);
		if (rc)
			goto out;
		if (job->st && !run->no_feed && (rc = mf_feed(&feed, buf, pos, n, err)))
			goto out;
		dsck_file_drop_cache(f, pos, n);
		pos += n;
		if (mf_run_advance(run, n)) {
			rc = DSCK_E_IO; /* another job failed; its error is kept */
			goto out;
		}
	}
	if (job->st && !run->no_feed) {
		/* Trailing zero-size tensors, and the last one. */
		while (feed.cur < job->st->n_tensors)
			if ((rc = mf_feed_next(&feed, err)))
				goto out;
	}
	rc = dsck_sha256_final(&fh, mfile->sha256, err);
out:
	dsck_sha256_release(&fh);
	dsck_sha256_release(&feed.h); /* no-op unless a tensor hash is live */
	dsck_file_close(&own);
	return rc;
}

static void *mf_worker(void *arg)
{
	struct mf_run *run = arg;
	unsigned char *buf = malloc(run->buf_bytes);
	struct dsck_error err;

	dsck_error_clear(&err);
	if (!buf) {
		enum dsck_err rc = dsck_error_set(&err, DSCK_E_NOMEM, "read buffer");
		mf_run_fail(run, rc, &err);
		return NULL;
	}
	for (;;) {
		size_t j;
		pthread_mutex_lock(&run->lock);
		j = run->failed ? run->n_jobs : run->next_job;
		if (j < run->n_jobs)
			run->next_job++;
		pthread_mutex_unlock(&run->lock);
		if (j >= run->n_jobs)
			break;
		enum dsck_err rc = mf_hash_job(run, &run->jobs[j], buf, &err);
		if (rc) {
			mf_run_fail(run, rc, &err);
			break;
		}
	}
	free(buf);
	return NULL;
}

/* Is name one of the checkpoint's shards? (shard_names is small: linear.) */
static int mf_is_shard(const struct dsck_ckpt *ck, const char *name)
{
	for (size_t i = 0; i < ck->n_shards; i++)
		if (strcmp(ck->shard_names[i], name) == 0)
			return 1;
	return 0;
}

/* Does ck come from one explicitly named .safetensors file? */
static int mf_ckpt_is_single_file(const struct dsck_ckpt *ck)
{
	struct stat st;
	return !ck->has_index && stat(ck->path, &st) == 0 && S_ISREG(st.st_mode) &&
	       mf_has_suffix(ck->path, ".safetensors");
}

/* What mf_list_aux needs while the directory is walked. */
struct mf_lister {
	const struct dsck_ckpt *ck;
	struct dsck_manifest *m;
	size_t cap;                 /* entries allocated at m->files */
};

/* dsck_dir_each callback: add name to m->files if the aux policy admits
 * it; a symlink is refused, as for shards (IX-R5). */
static enum dsck_err mf_list_aux(const char *name, void *user,
				 struct dsck_error *err)
{
	struct mf_lister *l = user;
	struct dsck_manifest *m = l->m;
	struct stat st;

	if (!dsck_manifest_is_aux_name(name) || mf_is_shard(l->ck, name))
		return DSCK_OK;
	if (fstatat(l->ck->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		int e = errno;
		dsck_error_file(err, name);
		return dsck_error_set(err, dsck_err_from_errno(e), "stat: %s", strerror(e));
	}
	if (S_ISDIR(st.st_mode))
		return DSCK_OK;
	if (S_ISLNK(st.st_mode)) {
		dsck_error_file(err, name);
		return dsck_error_set(err, DSCK_E_BAD_SHARD_PATH,
				      "is a symbolic link; checkpoint files must be regular files inside the directory");
	}
	if (m->n_files == l->cap) {
		size_t ncap;
		struct dsck_manifest_file *nf;
		if (__builtin_mul_overflow(l->cap, (size_t)2, &ncap) ||
		    ncap > SIZE_MAX / sizeof *nf)
			return dsck_error_set(err, DSCK_E_NOMEM, "file table");
		nf = realloc(m->files, ncap * sizeof *nf);
		if (!nf)
			return dsck_error_set(err, DSCK_E_NOMEM, "file table");
		/* release() frees names up to n_files: keep the tail empty */
		memset(nf + l->cap, 0, (ncap - l->cap) * sizeof *nf);
		m->files = nf;
		l->cap = ncap;
	}
	m->files[m->n_files].name = strdup(name);
	if (!m->files[m->n_files].name)
		return dsck_error_set(err, DSCK_E_NOMEM, "file name");
	m->n_files++;
	return DSCK_OK;
}

/* List the files of the manifest into m->files (unsorted, hashes empty):
 * the shards first, in shard order, then aux files of the directory. On
 * error m holds what was listed; the caller releases it. */
static enum dsck_err mf_list_files(const struct dsck_ckpt *ck,
				   struct dsck_manifest *m, struct dsck_error *err)
{
	struct mf_lister l = { ck, m, ck->n_shards + 16 };

	m->files = calloc(l.cap, sizeof *m->files);
	if (!m->files)
		return dsck_error_set(err, DSCK_E_NOMEM, "file table");
	for (size_t i = 0; i < ck->n_shards; i++) {
		m->files[i].name = strdup(ck->shard_names[i]);
		if (!m->files[i].name)
			return dsck_error_set(err, DSCK_E_NOMEM, "file name");
		m->n_files++;
	}
	if (mf_ckpt_is_single_file(ck))
		return DSCK_OK;
	return dsck_dir_each(ck->dirfd, ck->dir, mf_list_aux, &l, err);
}

/* Fill m->tensors (same order as ck->tensors: by name) and the slot map
 * shard-local tensor -> slot. */
static enum dsck_err mf_list_tensors(const struct dsck_ckpt *ck,
				     struct dsck_manifest *m, struct mf_run *run,
				     struct dsck_error *err)
{
	size_t total = 0;
	m->tensors = calloc(ck->n ? ck->n : 1, sizeof *m->tensors);
	run->tensor_slot = calloc(ck->n_shards + 1, sizeof *run->tensor_slot);
	run->slot_of = calloc(ck->n ? ck->n : 1, sizeof *run->slot_of);
	if (!m->tensors || !run->tensor_slot || !run->slot_of)
		return dsck_error_set(err, DSCK_E_NOMEM, "tensor table");
	for (size_t i = 0; i < ck->n; i++) {
		const struct dsck_ckpt_tensor *ct = &ck->tensors[i];
		struct dsck_manifest_tensor *t = &m->tensors[i];
		t->name = strdup(ct->t->name);
		if (!t->name)
			return dsck_error_set(err, DSCK_E_NOMEM, "tensor name");
		m->n_tensors++;
		/* files[s] is shard s until the files are sorted; the view is
		 * fixed up after sorting. */
		t->file = NULL;
		t->dtype = ct->t->dtype;
		t->ndim = ct->t->ndim;
		memcpy(t->shape, ct->t->shape, sizeof t->shape);
	}
	for (size_t s = 0; s < ck->n_shards; s++) {
		const struct dsck_st *st = ck->shards[s];
		run->tensor_slot[s] = total;
		for (size_t j = 0; j < st->n_tensors; j++) {
			const struct dsck_ckpt_tensor *ct =
				dsck_ckpt_find(ck, st->tensors[j].name, st->tensors[j].name_len);
			if (!ct)
				return dsck_error_set(err, DSCK_E_TENSOR_NOT_FOUND,
						      "shard tensor missing from the table");
			run->slot_of[total + j] = (size_t)(ct - ck->tensors);
		}
		total += st->n_tensors;
	}
	return DSCK_OK;
}

enum dsck_err dsck_manifest_compute(const struct dsck_ckpt *ck,
				    const struct dsck_manifest_opts *opts,
				    struct dsck_manifest *out,
				    struct dsck_error *err)
{
	enum dsck_err rc;
	struct dsck_manifest m = DSCK_MANIFEST_INIT;
	struct mf_run run;
	pthread_t *tids = NULL;
	size_t n_threads = opts && opts->threads ? opts->threads : 1, started = 0;
	size_t *sorted_pos = NULL;
	int lock_ok = 0;

	*out = (struct dsck_manifest)DSCK_MANIFEST_INIT;
	memset(&run, 0, sizeof run);
	run.ck = ck;
	run.m = &m;
	run.buf_bytes = opts && opts->buf_bytes ? opts->buf_bytes : DSCK_MANIFEST_BUF_DEFAULT;
	run.progress = opts ? opts->progress : NULL;
	run.user = opts ? opts->user : NULL;
	dsck_error_clear(&run.err);
	if (n_threads > DSCK_MANIFEST_MAX_THREADS)
		n_threads = DSCK_MANIFEST_MAX_THREADS;

	rc = mf_list_files(ck, &m, err);
	if (rc)
		goto out;
	/* MF-R6: an MP directory's names repeat across rank files; its
	 * tensors are the logical ones, hashed once the files are done */
	run.no_feed = ck->mp_ranks != 0;
	if (!run.no_feed) {
		rc = mf_list_tensors(ck, &m, &run, err);
		if (rc)
			goto out;
	}

	/* Jobs in listing order: files[s] is shard s for s < n_shards. */
	run.jobs = calloc(m.n_files ? m.n_files : 1, sizeof *run.jobs);
	if (!run.jobs) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "job table");
		goto out;
	}
	for (size_t i = 0; i < m.n_files; i++) {
		run.jobs[i].file = i;
		run.jobs[i].st = i < ck->n_shards ? ck->shards[i] : NULL;
	}
	run.n_jobs = m.n_files;
	/* The total for progress: shard sizes are known; aux files are
	 * stat'ed here and re-measured by fstat when hashed. */
	for (size_t i = 0; i < m.n_files; i++) {
		uint64_t sz = 0, sum;
		struct stat st;
		if (i < ck->n_shards)
			sz = ck->shards[i]->file.size;
		else if (fstatat(ck->dirfd, m.files[i].name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			sz = (uint64_t)st.st_size;
		if (dsck_add_u64(run.total, sz, &sum)) {
			rc = dsck_error_set(err, DSCK_E_OVERFLOW, "byte total");
			goto out;
		}
		run.total = sum;
	}

	if (pthread_mutex_init(&run.lock, NULL) != 0) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "lock");
		goto out;
	}
	lock_ok = 1;
	if (n_threads > run.n_jobs)
		n_threads = run.n_jobs ? run.n_jobs : 1;
	tids = calloc(n_threads, sizeof *tids);
	if (!tids) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "thread table");
		goto out;
	}
	/* Start what we can; with none started the caller's thread works. */
	for (started = 0; started < n_threads; started++)
		if (pthread_create(&tids[started], NULL, mf_worker, &run) != 0)
			break;
	if (started == 0)
		mf_worker(&run);
	for (size_t i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	if (run.failed) {
		if (err)
			*err = run.err;
		rc = run.rc;
		goto out;
	}

	/* Sort files; point tensors at their shard's (moved) name. */
	sorted_pos = malloc((ck->n_shards ? ck->n_shards : 1) * sizeof *sorted_pos);
	if (!sorted_pos) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "file order");
		goto out;
	}
	qsort(m.files, m.n_files, sizeof *m.files, dsck_manifest_cmp_file);
	for (size_t s = 0; s < ck->n_shards; s++) {
		struct dsck_manifest_file key = { ck->shard_names[s], 0, { 0 } };
		struct dsck_manifest_file *hit = bsearch(&key, m.files, m.n_files,
							 sizeof *m.files, dsck_manifest_cmp_file);
		sorted_pos[s] = hit ? (size_t)(hit - m.files) : 0;
	}
	if (run.no_feed) {
		rc = mf_logical_tensors(ck, &m, run.buf_bytes, err);
		if (rc)
			goto out;
	} else {
		for (size_t i = 0; i < m.n_tensors; i++)
			m.tensors[i].file = m.files[sorted_pos[ck->tensors[i].shard]].name;
	}

	rc = mf_model_hash(&m, err);
	if (rc)
		goto out;
	*out = m;
	m = (struct dsck_manifest)DSCK_MANIFEST_INIT;
out:
	free(sorted_pos);
	free(tids);
	if (lock_ok)
		pthread_mutex_destroy(&run.lock);
	free(run.jobs);
	free(run.tensor_slot);
	free(run.slot_of);
	dsck_manifest_release(&m);
	return rc;
}

/* ---- files only (MF-R5) ------------------------------------------------ */

static void mf_file_diff(dsck_manifest_diff_fn cb, void *user, size_t *n,
			 enum dsck_manifest_diff_kind kind, const char *file,
			 const char *expected, const char *found)
{
	struct dsck_manifest_diff d;
	memset(&d, 0, sizeof d);
	d.kind = kind;
	d.file = file;
	snprintf(d.expected, sizeof d.expected, "%s", expected);
	snprintf(d.found, sizeof d.found, "%s", found);
	(*n)++;
	if (cb)
		cb(&d, user);
}

/* SHA-256 of the whole of f through buf (buf_bytes), dropping the cache. */
static enum dsck_err mf_hash_whole(const struct dsck_file *f, unsigned char *buf,
				   size_t buf_bytes, char hex[DSCK_SHA256_HEX],
				   struct dsck_error *err)
{
	struct dsck_sha256 h = { NULL };
	enum dsck_err rc = dsck_sha256_init(&h, err);
	for (uint64_t pos = 0; !rc && pos < f->size;) {
		size_t n = f->size - pos < buf_bytes ? (size_t)(f->size - pos) : buf_bytes;
		rc = dsck_file_pread(f, pos, buf, n, err);
		if (!rc)
			rc = dsck_sha256_update(&h, buf, n, err);
		dsck_file_drop_cache(f, pos, n);
		pos += n;
	}
	if (!rc)
		rc = dsck_sha256_final(&h, hex, err);
	dsck_sha256_release(&h);
	return rc;
}

enum dsck_err dsck_manifest_compare_files(const char *path,
					  const struct dsck_manifest *expected,
					  dsck_manifest_diff_fn cb, void *user,
					  size_t *n_diffs, struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	char *copy = strdup(path), *dir;
	unsigned char *buf = malloc(DSCK_MANIFEST_BUF_DEFAULT);
	struct stat sb;
	int dirfd = -1;

	*n_diffs = 0;
	if (!copy || !buf) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "file comparison");
		goto out;
	}
	dir = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ? copy : dirname(copy);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		int e = errno;
		dsck_error_file(err, dir);
		rc = dsck_error_set(err, dsck_err_from_errno(e), "open: %s", strerror(e));
		goto out;
	}
	for (size_t i = 0; i < expected->n_files; i++) {
		const struct dsck_manifest_file *mf = &expected->files[i];
		struct dsck_file f;
		struct dsck_error ferr;
		char hex[DSCK_SHA256_HEX], exp[32], got[32];
		dsck_error_clear(&ferr);
		if (dsck_file_openat(&f, dirfd, mf->name, mf->name, &ferr)) {
			mf_file_diff(cb, user, n_diffs, DSCK_DIFF_FILE_MISSING, mf->name,
				     "", ferr.code == DSCK_E_NOT_FOUND ? "" : ferr.detail);
			continue;
		}
		rc = mf_hash_whole(&f, buf, DSCK_MANIFEST_BUF_DEFAULT, hex, err);
		if (!rc && f.size != mf->size) {
			snprintf(exp, sizeof exp, "%llu bytes", (unsigned long long)mf->size);
			snprintf(got, sizeof got, "%llu bytes", (unsigned long long)f.size);
			mf_file_diff(cb, user, n_diffs, DSCK_DIFF_FILE_SIZE, mf->name, exp, got);
		} else if (!rc && strcmp(hex, mf->sha256) != 0) {
			mf_file_diff(cb, user, n_diffs, DSCK_DIFF_FILE_HASH, mf->name,
				     mf->sha256, hex);
		}
		dsck_file_close(&f);
		if (rc)
			goto out;
	}
out:
	if (dirfd >= 0)
		close(dirfd);
	free(copy);
	free(buf);
	return rc;
}
