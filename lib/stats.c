/*
 * stats.c - per-tensor streaming statistics with FP8 block dequantization
 * (stats.h).
 *
 * Work split: every selected tensor is cut into chunks of chunk_elems
 * elements (chunk_bytes of raw data). Chunks of all tensors are numbered
 * globally (tensor order, then position); workers take the next number from
 * an atomic counter and store the chunk's partial result in partials[number].
 * After the workers are joined, each tensor's partials are merged in chunk
 * order. Nothing the threads do changes a partial's value, so the merged
 * results do not depend on the thread count.
 *
 * Dequantization: a chunk is a range [e0, e1) of row-major elements of a 2-D
 * [rows, cols] weight. It is walked row segment by row segment; a segment of
 * row r, columns [c0, c1), needs the scales s[r / br][c0 / bc .. (c1-1) / bc].
 * Each worker caches one contiguous run of one scale row and reloads it when
 * a segment falls outside: a full row segment loads a whole scale row (then
 * cols <= chunk_elems, so the cache is bounded by chunk_elems / bc + 1), a
 * partial one (at most two per chunk) only its columns.
 */
#include "stats.h"
#include "arith.h"
#include "fp8.h"

#include <fnmatch.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATS_BATCH 4096 /* values per two-pass batch; 32 KiB of doubles */
#define SCALE_SUFFIX "_scale_inv"

/* ---- accumulator ------------------------------------------------------ */

void dsck_stats_init(struct dsck_stats *s)
{
	memset(s, 0, sizeof *s);
}

/* Statistics of one batch: exact two passes over at most STATS_BATCH values. */
static void stats_batch(const double *v, size_t n, struct dsck_stats *b)
{
	double sum = 0.0, mn = INFINITY, mx = -INFINITY, am = 0.0;
	dsck_stats_init(b);
	b->count = n;
	for (size_t i = 0; i < n; i++) {
		double x = v[i];
		if (isnan(x)) {
			b->nan_count++;
			continue;
		}
		if (isinf(x)) {
			b->inf_count++;
			continue;
		}
		if (x == 0.0)
			b->zero_count++;
		b->finite++;
		sum += x;
		if (x < mn)
			mn = x;
		if (x > mx)
			mx = x;
		if (fabs(x) > am)
			am = fabs(x);
	}
	if (b->finite == 0)
		return;
	b->min = mn;
	b->max = mx;
	b->absmax = am;
	b->mean = sum / (double)b->finite;
	double m2 = 0.0;
	for (size_t i = 0; i < n; i++) {
		if (isfinite(v[i])) {
			double d = v[i] - b->mean;
			m2 += d * d;
		}
	}
	b->m2 = m2;
}

void dsck_stats_merge(struct dsck_stats *into, const struct dsck_stats *b)
{
	uint64_t na = into->finite, nb = b->finite;
	into->count += b->count;
	into->nan_count += b->nan_count;
	into->inf_count += b->inf_count;
	into->zero_count += b->zero_count;
	if (nb == 0)
		return;
	if (na == 0) {
		into->finite = nb;
		into->min = b->min;
		into->max = b->max;
		into->absmax = b->absmax;
		into->mean = b->mean;
		into->m2 = b->m2;
		return;
	}
	double n = (double)na + (double)nb;
	double delta = b->mean - into->mean;
	into->mean += delta * ((double)nb / n);
	into->m2 += b->m2 + delta * delta * ((double)na * (double)nb / n);
	into->finite = na + nb;
	if (b->min < into->min)
		into->min = b->min;
	if (b->max > into->max)
		into->max = b->max;
	if (b->absmax > into->absmax)
		into->absmax = b->absmax;
}

void dsck_stats_add(struct dsck_stats *s, const double *v, size_t n)
{
	while (n > 0) {
		size_t m = n < STATS_BATCH ? n : STATS_BATCH;
		struct dsck_stats b;
		stats_batch(v, m, &b);
		dsck_stats_merge(s, &b);
		v += m;
		n -= m;
	}
}

double dsck_stats_std(const struct dsck_stats *s)
{
	if (s->finite == 0)
		return 0.0;
	return sqrt(s->m2 / (double)s->finite);
}

/* ---- job description -------------------------------------------------- */

/* One selected tensor and how it is cut. */
struct stats_item {
	const struct dsck_ckpt_tensor *ct;
	const struct dsck_ckpt_tensor *scale; /* NULL unless dequantized */
	int computed;
	uint64_t esize;          /* bytes per element (computed dtypes are >= 8 bits) */
	uint64_t numel;
	uint64_t chunk_elems;    /* elements per chunk, >= 1 */
	uint64_t first_chunk;    /* global number of its first chunk */
	uint64_t n_chunks;
	/* dequantization, when scale != NULL: weight [rows, cols], grid [srows, scols] */
	uint64_t rows, cols, br, bc, srows, scols, sesize;
};

struct stats_job {
	const struct dsck_ckpt *ck;
	struct stats_item *items;
	size_t n_items;
	struct dsck_stats *partials; /* [total_chunks] */
	uint64_t total_chunks;
	size_t raw_bytes;            /* per-worker data buffer */
	size_t scale_cap;            /* per-worker scale cache, elements */
	atomic_uint_fast64_t next;
	atomic_int stop;
	pthread_mutex_t lock;        /* guards everything below */
	uint64_t done_bytes, total_bytes;
	dsck_stats_progress_fn progress;
	void *progress_ctx;
	enum dsck_err rc;
	uint64_t err_chunk;
	struct dsck_error err;
};

struct stats_worker {
	struct stats_job *job;
	unsigned char *raw;          /* [raw_bytes] */
	double *batch;               /* [STATS_BATCH] */
	float *fbatch;               /* [STATS_BATCH] */
	unsigned char *sraw;         /* [scale_cap * 8] */
	float *scale;                /* [scale_cap]: s[s_row][s_lo .. s_hi] */
	const struct stats_item *s_item;
	uint64_t s_row, s_lo, s_hi;
	struct dsck_error err;
	pthread_t thread;
};

/* ---- chunk processing ------------------------------------------------- */

/* Make w->scale hold s[sr][lo..hi] of it's scale tensor. */
static enum dsck_err worker_load_scale(struct stats_worker *w,
				       const struct stats_item *it, uint64_t sr,
				       uint64_t lo, uint64_t hi)
{
	if (w->s_item == it && w->s_row == sr && w->s_lo <= lo && hi <= w->s_hi)
		return DSCK_OK;
	w->s_item = NULL;
	uint64_t n = hi - lo + 1; /* <= scale_cap by construction */
	uint64_t off = (sr * it->scols + lo) * it->sesize;
	enum dsck_err rc = dsck_ckpt_read(w->job->ck, it->scale, off, w->sraw,
					  (size_t)(n * it->sesize), &w->err);
	if (rc)
		return rc;
	dsck_fp8_convert_f32(it->scale->t->dtype, w->sraw, (size_t)n, w->scale);
	w->s_item = it;
	w->s_row = sr;
	w->s_lo = lo;
	w->s_hi = hi;
	return DSCK_OK;
}

/* Raw-valued tensor: convert and accumulate, batch by batch. */
static void chunk_plain(struct stats_worker *w, const struct stats_item *it,
			uint64_t n, struct dsck_stats *out)
{
	for (uint64_t off = 0; off < n; off += STATS_BATCH) {
		size_t m = (size_t)(n - off < STATS_BATCH ? n - off : STATS_BATCH);
		struct dsck_stats b;
		dsck_fp8_convert_f64(it->ct->t->dtype, w->raw + off * it->esize, m,
				     w->batch);
		stats_batch(w->batch, m, &b);
		dsck_stats_merge(out, &b);
	}
}

/* Block-scaled FP8 weight: elements [e0, e0 + n) already in w->raw. */
static enum dsck_err chunk_scaled(struct stats_worker *w,
				  const struct stats_item *it, uint64_t e0,
				  uint64_t n, struct dsck_stats *out)
{
	enum dsck_err rc = DSCK_OK;
	uint64_t g = e0, e1 = e0 + n;
	while (g < e1) {
		uint64_t r = g / it->cols, c0 = g % it->cols;
		uint64_t c1 = (it->cols - c0 <= e1 - g) ? it->cols : c0 + (e1 - g);
		rc = worker_load_scale(w, it, r / it->br, c0 / it->bc,
				       (c1 - 1) / it->bc);
		if (rc)
			goto out;
		for (uint64_t cb = c0; cb < c1; cb += STATS_BATCH) {
			uint64_t ce = c1 - cb < STATS_BATCH ? c1 : cb + STATS_BATCH;
			size_t m = (size_t)(ce - cb);
			dsck_fp8_convert_f32(it->ct->t->dtype, w->raw + (g - e0) + (cb - c0),
					     m, w->fbatch);
			size_t j = 0;
			for (uint64_t c = cb; c < ce;) {
				uint64_t blk = c / it->bc;
				uint64_t stop = (blk + 1) * it->bc;
				float sc = w->scale[blk - w->s_lo];
				if (stop > ce)
					stop = ce;
				for (; c < stop; c++, j++) {
					float y = w->fbatch[j] * sc; /* fp32, as the reference kernel */
					w->batch[j] = (double)y;
				}
			}
			struct dsck_stats b;
			stats_batch(w->batch, m, &b);
			dsck_stats_merge(out, &b);
		}
		g += c1 - c0;
	}
out:
	return rc;
}

static enum dsck_err chunk_run(struct stats_worker *w, const struct stats_item *it,
			       uint64_t k, struct dsck_stats *out)
{
	const struct dsck_ckpt *ck = w->job->ck;
	uint64_t e0 = k * it->chunk_elems;
	uint64_t n = it->numel - e0 < it->chunk_elems ? it->numel - e0 : it->chunk_elems;
	size_t bytes = (size_t)(n * it->esize); /* <= raw_bytes */
	enum dsck_err rc = dsck_ckpt_read(ck, it->ct, e0 * it->esize, w->raw, bytes,
					  &w->err);
	if (rc)
		goto out;
	{
		const struct dsck_st *st = ck->shards[it->ct->shard];
		dsck_file_drop_cache(&st->file,
				     st->data_start + it->ct->t->begin + e0 * it->esize,
				     bytes);
	}
	if (it->scale)
		rc = chunk_scaled(w, it, e0, n, out);
	else
		chunk_plain(w, it, n, out);
out:
	return rc;
}

/* The item owning global chunk g: the last item whose first_chunk <= g
 * (items without chunks share their successor's first_chunk). */
static const struct stats_item *job_item_of(const struct stats_job *job,
					    uint64_t g)
{
	size_t lo = 0, hi = job->n_items; /* answer in [lo, hi) */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (job->items[mid].first_chunk <= g)
			lo = mid;
		else
			hi = mid;
	}
	return &job->items[lo];
}

static void *worker_main(void *arg)
{
	struct stats_worker *w = arg;
	struct stats_job *job = w->job;
	for (;;) {
		if (atomic_load(&job->stop))
			break;
		uint64_t g = atomic_fetch_add(&job->next, 1);
		if (g >= job->total_chunks)
			break;
		const struct stats_item *it = job_item_of(job, g);
		struct dsck_stats part;
		dsck_stats_init(&part);
		dsck_error_clear(&w->err);
		enum dsck_err rc = chunk_run(w, it, g - it->first_chunk, &part);
		pthread_mutex_lock(&job->lock);
		if (rc) {
			if (job->rc == DSCK_OK || g < job->err_chunk) {
				job->rc = rc;
				job->err_chunk = g;
				job->err = w->err;
			}
			atomic_store(&job->stop, 1);
		} else {
			job->partials[g] = part;
			job->done_bytes += part.count * it->esize;
			if (job->progress)
				job->progress(job->progress_ctx, job->done_bytes,
					      job->total_bytes);
		}
		pthread_mutex_unlock(&job->lock);
		if (rc)
			break;
	}
	return NULL;
}

/* ---- setup ------------------------------------------------------------ */

static int dtype_is_fp8(enum dsck_dtype t)
{
	return t == DSCK_F8_E4M3 || t == DSCK_F8_E5M2;
}

static const struct dsck_ckpt_tensor *scale_find(const struct dsck_ckpt *ck,
						 const char *name, size_t len,
						 enum dsck_err *rc,
						 struct dsck_error *err)
{
	const struct dsck_ckpt_tensor *found = NULL;
	size_t n = len + sizeof SCALE_SUFFIX;
	char *buf = malloc(n);
	*rc = DSCK_OK;
	if (!buf) {
		*rc = dsck_error_set(err, DSCK_E_NOMEM, "scale name");
		goto out;
	}
	memcpy(buf, name, len);
	memcpy(buf + len, SCALE_SUFFIX, sizeof SCALE_SUFFIX);
	found = dsck_ckpt_find(ck, buf, n - 1);
out:
	free(buf);
	return found;
}

static void shape_format(char *buf, size_t n, const struct dsck_st_tensor *t)
{
	size_t used = 0;
	buf[0] = '\0';
	used += (size_t)snprintf(buf, n, "%s [", dsck_dtype_name(t->dtype));
	for (uint32_t d = 0; d < t->ndim && used < n; d++)
		used += (size_t)snprintf(buf + used, n - used, "%s%llu", d ? ", " : "",
					 (unsigned long long)t->shape[d]);
	if (used < n)
		snprintf(buf + used, n - used, "]");
}

/* Check a weight/scale pair and fill the item's dequantization fields. */
static enum dsck_err item_set_scale(const struct dsck_ckpt *ck,
				    struct stats_item *it,
				    const struct dsck_ckpt_tensor *sc, uint64_t br,
				    uint64_t bc, struct dsck_error *err)
{
	const struct dsck_st_tensor *wt = it->ct->t, *st = sc->t;
	uint64_t srows = 0, scols = 0;
	char found[128];
	enum dsck_err rc = DSCK_OK;
	if (wt->ndim != 2) {
		dsck_error_file(err, ck->shard_names[it->ct->shard]);
		dsck_error_tensor(err, wt->name);
		shape_format(found, sizeof found, wt);
		dsck_error_expect(err, "a 2-D [out, in] weight");
		dsck_error_found(err, "%s", found);
		rc = dsck_error_set(err, DSCK_E_MODEL_MISMATCH,
				    "FP8 weight with block scale '%s' is not 2-D", st->name);
		goto out;
	}
	dsck_ceil_div_u64(wt->shape[0], br, &srows);
	dsck_ceil_div_u64(wt->shape[1], bc, &scols);
	if (st->ndim != 2 || st->shape[0] != srows || st->shape[1] != scols ||
	    !dsck_fp8_can_convert(st->dtype) || !dsck_dtype_is_float(st->dtype)) {
		dsck_error_file(err, ck->shard_names[sc->shard]);
		dsck_error_tensor(err, st->name);
		shape_format(found, sizeof found, st);
		dsck_error_expect(err, "F32 [%llu, %llu] = [ceil(%llu/%llu), ceil(%llu/%llu)]",
				  (unsigned long long)srows, (unsigned long long)scols,
				  (unsigned long long)wt->shape[0], (unsigned long long)br,
				  (unsigned long long)wt->shape[1], (unsigned long long)bc);
		dsck_error_found(err, "%s", found);
		rc = dsck_error_set(err, DSCK_E_MODEL_MISMATCH,
				    "block scale of '%s' has the wrong shape or dtype",
				    wt->name);
		goto out;
	}
	it->scale = sc;
	it->rows = wt->shape[0];
	it->cols = wt->shape[1];
	it->br = br;
	it->bc = bc;
	it->srows = srows;
	it->scols = scols;
	it->sesize = dsck_dtype_bits(st->dtype) / 8;
out:
	return rc;
}

static int threads_default(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)(n < DSCK_STATS_MAX_THREADS ? n : DSCK_STATS_MAX_THREADS) : 1;
}

static void workers_free(struct stats_worker *ws, int n)
{
	for (int i = 0; ws && i < n; i++) {
		free(ws[i].raw);
		free(ws[i].batch);
		free(ws[i].fbatch);
		free(ws[i].sraw);
		free(ws[i].scale);
	}
	free(ws);
}

enum dsck_err dsck_stats_compute_opts(const struct dsck_ckpt *ck,
				      const struct dsck_stats_opts *opts,
				      struct dsck_tensor_stats **out,
				      size_t *n_out, struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	struct stats_job job;
	struct stats_worker *ws = NULL;
	struct dsck_tensor_stats *res = NULL;
	int n_threads = 0, started = 0, lock_init = 0;
	uint64_t chunk_bytes = opts->chunk_bytes ? opts->chunk_bytes : DSCK_STATS_CHUNK_BYTES;
	uint64_t br = 128, bc = 128;

	memset(&job, 0, sizeof job);
	*out = NULL;
	*n_out = 0;
	job.ck = ck;
	job.progress = opts->progress;
	job.progress_ctx = opts->progress_ctx;
	if (ck->has_config && ck->cfg.quantized && ck->cfg.block_rows && ck->cfg.block_cols) {
		br = ck->cfg.block_rows;
		bc = ck->cfg.block_cols;
	}

	/* Selection, in ck->tensors (name) order. */
	for (size_t i = 0; i < ck->n; i++)
		if (!opts->glob || fnmatch(opts->glob, ck->tensors[i].t->name, 0) == 0)
			job.n_items++;
	if (job.n_items == 0)
		goto out;
	job.items = calloc(job.n_items, sizeof *job.items);
	res = calloc(job.n_items, sizeof *res);
	if (!job.items || !res) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "stats tables for %zu tensors",
				    job.n_items);
		goto out;
	}

	size_t k = 0;
	for (size_t i = 0; i < ck->n; i++) {
		const struct dsck_ckpt_tensor *ct = &ck->tensors[i];
		const struct dsck_st_tensor *t = ct->t;
		if (opts->glob && fnmatch(opts->glob, t->name, 0) != 0)
			continue;
		struct stats_item *it = &job.items[k];
		struct dsck_tensor_stats *r = &res[k];
		k++;
		it->ct = ct;
		it->numel = t->numel;
		it->computed = dsck_fp8_can_convert(t->dtype);
		it->esize = dsck_dtype_bits(t->dtype) / 8;
		it->chunk_elems = it->esize ? chunk_bytes / it->esize : 1;
		if (it->chunk_elems == 0)
			it->chunk_elems = 1;
		it->first_chunk = job.total_chunks;
		r->name = t->name;
		r->tensor = i;
		r->dtype = t->dtype;
		r->computed = it->computed;
		dsck_stats_init(&r->s);
		if (!it->computed)
			continue;
		if (dtype_is_fp8(t->dtype)) {
			const struct dsck_ckpt_tensor *sc =
				scale_find(ck, t->name, t->name_len, &rc, err);
			if (rc)
				goto out;
			if (sc) {
				rc = item_set_scale(ck, it, sc, br, bc, err);
				if (rc)
					goto out;
				r->dequantized = 1;
				r->scale_name = sc->t->name;
				r->block_rows = br;
				r->block_cols = bc;
				uint64_t need = it->cols < it->chunk_elems ? it->cols : it->chunk_elems;
				uint64_t cap = need / bc + 2;
				if (cap > job.scale_cap)
					job.scale_cap = (size_t)cap;
			}
		}
		dsck_ceil_div_u64(it->numel, it->chunk_elems, &it->n_chunks);
		uint64_t raw = (it->numel < it->chunk_elems ? it->numel : it->chunk_elems) * it->esize;
		if (raw > job.raw_bytes)
			job.raw_bytes = (size_t)raw;
		if (dsck_add_u64(job.total_chunks, it->n_chunks, &job.total_chunks) ||
		    dsck_add_u64(job.total_bytes, it->numel * it->esize, &job.total_bytes)) {
			rc = dsck_error_set(err, DSCK_E_OVERFLOW, "stats work size");
			goto out;
		}
	}

	if (job.total_chunks > 0) {
		size_t np;
		if (dsck_u64_to_size(job.total_chunks, &np) ||
		    !(job.partials = calloc(np, sizeof *job.partials))) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "stats partials (%llu chunks)",
					    (unsigned long long)job.total_chunks);
			goto out;
		}
		n_threads = opts->threads > 0 ? opts->threads : threads_default();
		if (n_threads > DSCK_STATS_MAX_THREADS)
			n_threads = DSCK_STATS_MAX_THREADS;
		if ((uint64_t)n_threads > job.total_chunks)
			n_threads = (int)job.total_chunks;
		ws = calloc((size_t)n_threads, sizeof *ws);
		if (!ws) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "stats workers");
			goto out;
		}
		for (int i = 0; i < n_threads; i++) {
			struct stats_worker *w = &ws[i];
			w->job = &job;
			w->raw = malloc(job.raw_bytes ? job.raw_bytes : 1);
			w->batch = malloc(STATS_BATCH * sizeof *w->batch);
			w->fbatch = malloc(STATS_BATCH * sizeof *w->fbatch);
			w->sraw = malloc(job.scale_cap * 8 + 8);
			w->scale = malloc(job.scale_cap * sizeof(float) + sizeof(float));
			if (!w->raw || !w->batch || !w->fbatch || !w->sraw || !w->scale) {
				rc = dsck_error_set(err, DSCK_E_NOMEM,
						    "stats buffers (%zu bytes per thread)",
						    job.raw_bytes);
				goto out;
			}
		}
		atomic_init(&job.next, 0);
		atomic_init(&job.stop, 0);
		if (pthread_mutex_init(&job.lock, NULL) != 0) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "stats mutex");
			goto out;
		}
		lock_init = 1;
		dsck_error_clear(&job.err);
		/* Worker 0 runs here; a thread that cannot start just leaves its
		 * chunks to the others. */
		for (int i = 1; i < n_threads; i++) {
			if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0)
				break;
			started = i;
		}
		worker_main(&ws[0]);
		for (int i = 1; i <= started; i++)
			pthread_join(ws[i].thread, NULL);
		if (job.rc) {
			if (err)
				*err = job.err;
			rc = job.rc;
			goto out;
		}
	}

	for (size_t i = 0; i < job.n_items; i++) {
		const struct stats_item *it = &job.items[i];
		for (uint64_t c = 0; c < it->n_chunks; c++)
			dsck_stats_merge(&res[i].s, &job.partials[it->first_chunk + c]);
		if (!it->computed)
			res[i].s.count = it->numel;
	}
	*out = res;
	*n_out = job.n_items;
	res = NULL;
out:
	if (lock_init)
		pthread_mutex_destroy(&job.lock);
	workers_free(ws, n_threads);
	free(job.partials);
	free(job.items);
	free(res);
	return rc;
}

enum dsck_err dsck_stats_compute(const struct dsck_ckpt *ck, const char *glob,
				 int threads, dsck_stats_progress_fn progress,
				 void *progress_ctx, struct dsck_tensor_stats **out,
				 size_t *n_out, struct dsck_error *err)
{
	struct dsck_stats_opts o = { glob, threads, 0, progress, progress_ctx };
	return dsck_stats_compute_opts(ck, &o, out, n_out, err);
}

void dsck_stats_free(struct dsck_tensor_stats *results)
{
	free(results);
}
