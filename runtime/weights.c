/* weights.c - mmap views of the weights and the dequantizing matmul (weights.h). */
#include "weights.h"

#include "../kernels/convert.h"
#include "../kernels/dot.h"

#include <cblas.h>

/* Prefill: from this many tokens a tile of dequantized rows goes through
 * sgemm (bench/run.sh: 128-token prefill 76 -> see README), fewer take
 * the row-by-row dots. */
#define BLAS_MIN_TOKENS 4
/* FP8 rows go through the several-token row kernel below this many
 * tokens, through dequantized tiles and sgemm from it on. */
#define FP8_ROWS_MAX_TOKENS 16
#define BLAS_TILE_ROWS 32

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Pieces live in chunks that never move, so weights may point at them. */
#define CHUNK_PIECES 4096
struct dsck_wchunk {
	struct dsck_wchunk *next;
	size_t used;
	struct dsck_wpiece p[CHUNK_PIECES];
};

static struct dsck_wpiece *pieces_alloc(struct dsck_wmap *m, uint32_t n)
{
	if (n > CHUNK_PIECES)
		return NULL;
	if (!m->chunks || m->chunks->used + n > CHUNK_PIECES) {
		struct dsck_wchunk *c = calloc(1, sizeof *c);
		if (!c)
			return NULL;
		c->next = m->chunks;
		m->chunks = c;
	}
	struct dsck_wpiece *p = m->chunks->p + m->chunks->used;
	m->chunks->used += n;
	return p;
}

enum dsck_err dsck_wmap_open(const struct dsck_ckpt *ck, int with_view, struct dsck_wmap *m,
			     struct dsck_error *err)
{
	enum dsck_err rc;
	memset(m, 0, sizeof *m);
	m->ck = ck;
	m->n = ck->n_shards;
	m->base = calloc(m->n ? m->n : 1, sizeof *m->base);
	m->len = calloc(m->n ? m->n : 1, sizeof *m->len);
	if (!m->base || !m->len)
		return dsck_error_set(err, DSCK_E_NOMEM, "weight maps");
	for (size_t i = 0; i < m->n; i++)
		m->base[i] = MAP_FAILED;
	for (size_t i = 0; i < m->n; i++) {
		const struct dsck_file *f = &ck->shards[i]->file;
		m->len[i] = f->size;
		/* read-only shared pages: the page cache holds the weights,
		 * nothing is copied (RT-R1) */
		m->base[i] = mmap(NULL, (size_t)f->size, PROT_READ, MAP_SHARED, f->fd, 0);
		if (m->base[i] == MAP_FAILED) {
			int e = errno;
			dsck_error_file(err, f->path);
			return dsck_error_set(err, dsck_err_from_errno(e), "mmap: %s", strerror(e));
		}
	}
	if (ck->mp_ranks || with_view) { /* RT-R2: an MP directory read whole */
		rc = dsck_logical_build(&m->lv, ck, err);
		if (rc)
			return rc;
		m->has_lv = 1;
	}
	return DSCK_OK;
}

void dsck_wmap_close(struct dsck_wmap *m)
{
	while (m->chunks) {
		struct dsck_wchunk *n = m->chunks->next;
		free(m->chunks);
		m->chunks = n;
	}
	if (m->has_lv)
		dsck_logical_release(&m->lv);
	for (size_t i = 0; m->base && i < m->n; i++)
		if (m->base[i] != MAP_FAILED)
			munmap(m->base[i], (size_t)m->len[i]);
	free(m->base);
	free(m->len);
	memset(m, 0, sizeof *m);
}

static const uint8_t *tensor_ptr(const struct dsck_wmap *m, const struct dsck_ckpt_tensor *ct)
{
	const struct dsck_st *st = m->ck->shards[ct->shard];
	return (const uint8_t *)m->base[ct->shard] + st->data_start + ct->t->begin;
}

/* The data of ck tensor index phys. */
static const uint8_t *phys_ptr(const struct dsck_wmap *m, uint32_t phys)
{
	return tensor_ptr(m, &m->ck->tensors[phys]);
}

/* Where the tensor `name` is: its pieces (phys index and rectangle) and
 * shape, from the logical view of an MP directory or the ckpt itself. */
struct src {
	const struct dsck_st_tensor *t0;   /* first piece's tensor: dtype */
	uint64_t rows, cols;
	uint32_t np;
	struct dsck_lpiece one;
	const struct dsck_lpiece *p;
};

static int find_src(const struct dsck_wmap *m, const char *name, struct src *s)
{
	memset(s, 0, sizeof *s);
	if (m->has_lv) {
		const struct dsck_ltensor *lt = dsck_logical_find(&m->lv, name);
		if (!lt)
			return 0;
		dsck_shape_2d(lt->ndim, lt->shape, &s->rows, &s->cols);
		s->np = lt->np;
		s->p = m->lv.p + lt->p0;
		s->t0 = m->ck->tensors[s->p[0].phys].t;
		return 1;
	}
	const struct dsck_ckpt_tensor *ct = dsck_ckpt_find(m->ck, name, strlen(name));
	if (!ct)
		return 0;
	s->t0 = ct->t;
	dsck_shape_2d(ct->t->ndim, ct->t->shape, &s->rows, &s->cols);
	s->one = (struct dsck_lpiece){ (uint32_t)(ct - m->ck->tensors), 0, 0, s->rows, s->cols };
	s->np = 1;
	s->p = &s->one;
	return 1;
}

enum dsck_err dsck_weight_get(const struct dsck_wmap *cm, const char *name,
			      uint64_t rows, uint64_t cols, int optional,
			      struct dsck_weight *w, int *found,
			      struct dsck_error *err)
{
	struct dsck_wmap *m = (struct dsck_wmap *)cm; /* pieces are allocated from its arena */
	const struct dsck_ckpt *ck = m->ck;
	struct src s, ss;
	int have = find_src(m, name, &s);
	memset(w, 0, sizeof *w);
	if (found)
		*found = have;
	if (!have) {
		if (optional)
			return DSCK_OK;
		dsck_error_file(err, ck->path);
		dsck_error_tensor(err, name);
		return dsck_error_set(err, DSCK_E_TENSOR_NOT_FOUND, "the model needs this tensor");
	}
	w->name = s.t0->name;
	w->dtype = s.t0->dtype;
	w->rows = s.rows;
	w->cols = s.cols;
	w->br = ck->has_config ? ck->cfg.block_rows : 128;
	w->bc = ck->has_config ? ck->cfg.block_cols : 128;
	if ((rows && w->rows != rows) || (cols && w->cols != cols)) {
		dsck_error_file(err, ck->path);
		dsck_error_tensor(err, name);
		dsck_error_expect(err, "[%llu, %llu]", (unsigned long long)rows, (unsigned long long)cols);
		dsck_error_found(err, "[%llu, %llu]", (unsigned long long)w->rows,
				 (unsigned long long)w->cols);
		return dsck_error_set(err, DSCK_E_MODEL_MISMATCH, "shape does not fit the config");
	}
	if (w->dtype != DSCK_F8_E4M3 && w->dtype != DSCK_BF16 && w->dtype != DSCK_F32) {
		dsck_error_tensor(err, name);
		return dsck_error_set(err, DSCK_E_UNSUPPORTED, "dtype %s is not a weight dtype",
				      dsck_dtype_name(w->dtype));
	}
	w->p = pieces_alloc(m, s.np);
	if (!w->p)
		return dsck_error_set(err, DSCK_E_NOMEM, "weight pieces");
	w->np = s.np;
	for (uint32_t k = 0; k < s.np; k++)
		w->p[k] = (struct dsck_wpiece){ phys_ptr(m, s.p[k].phys), NULL, s.p[k].rows,
						s.p[k].cols, 0, 0, s.p[k].r0, s.p[k].c0,
						s.p[k].rows, s.p[k].cols };
	if (w->dtype == DSCK_F8_E4M3) {
		char sname[1100];
		snprintf(sname, sizeof sname, "%s_scale_inv", name);
		/* a scale is split with its weight: piece k of one is piece k of
		 * the other, block-aligned (MP-R5) */
		if (!find_src(m, sname, &ss) || ss.np != s.np) {
			dsck_error_tensor(err, name);
			return dsck_error_set(err, DSCK_E_TENSOR_NOT_FOUND, "FP8 weight without its scale");
		}
		if (ss.t0->dtype != DSCK_F32 || ss.rows != (w->rows + w->br - 1) / w->br ||
		    ss.cols != (w->cols + w->bc - 1) / w->bc) {
			dsck_error_tensor(err, sname);
			return dsck_error_set(err, DSCK_E_MODEL_MISMATCH, "scale grid does not fit its weight");
		}
		for (uint32_t k = 0; k < s.np; k++)
			w->p[k].scale = (const float *)(const void *)phys_ptr(m, ss.p[k].phys);
	}
	return DSCK_OK;
}

/* Row r (global) of piece p as fp32 into out[p->cols]. */
static void piece_row(const struct dsck_weight *w, const struct dsck_wpiece *p, uint64_t r,
		      float *out)
{
	uint64_t lr = r - p->row0 + p->sr0; /* row of the stored tensor */
	if (w->dtype == DSCK_F32) {
		memcpy(out, p->data + (lr * p->pc + p->sc0) * 4, p->cols * 4);
	} else if (w->dtype == DSCK_BF16) {
		dsck_k_bf16_to_f32((const uint16_t *)(const void *)(p->data + (lr * p->pc + p->sc0) * 2),
				   p->cols, out);
	} else {
		uint64_t grid = (p->pc + w->bc - 1) / w->bc;
		const float *srow = p->scale + (lr / w->br) * grid + p->sc0 / w->bc;
		const uint8_t *src = p->data + lr * p->pc + p->sc0;
		for (uint64_t c0 = 0, k = 0; c0 < p->cols; c0 += w->bc, k++) {
			uint64_t n = p->cols - c0 < w->bc ? p->cols - c0 : w->bc;
			dsck_k_e4m3_to_f32(src + c0, n, srow[k], out + c0);
		}
	}
}

enum dsck_err dsck_weight_get_rect(const struct dsck_wmap *cm, const char *name,
				   uint64_t r0, uint64_t rows, uint64_t c0, uint64_t cols,
				   struct dsck_weight *w, struct dsck_error *err)
{
	struct dsck_wmap *m = (struct dsck_wmap *)cm;
	struct dsck_weight whole;
	enum dsck_err rc = dsck_weight_get(cm, name, 0, 0, 0, &whole, NULL, err);
	if (rc)
		return rc;
	if (!rows)
		rows = whole.rows;
	if (!cols)
		cols = whole.cols;
	if (r0 + rows > whole.rows || c0 + cols > whole.cols ||
	    (whole.dtype == DSCK_F8_E4M3 && (r0 % whole.br || c0 % whole.bc))) {
		dsck_error_tensor(err, name);
		return dsck_error_set(err, DSCK_E_UNSUPPORTED,
				      "a rank's slice must be whole blocks inside the tensor");
	}
	*w = whole;
	w->rows = rows;
	w->cols = cols;
	w->np = 0;
	w->p = pieces_alloc(m, whole.np);
	if (!w->p)
		return dsck_error_set(err, DSCK_E_NOMEM, "weight pieces");
	for (uint32_t k = 0; k < whole.np; k++) {
		const struct dsck_wpiece *q = &whole.p[k];
		struct dsck_rect o;
		if (!dsck_rect_overlap((struct dsck_rect){ q->row0, q->col0, q->rows, q->cols },
				       (struct dsck_rect){ r0, c0, rows, cols }, &o))
			continue;
		struct dsck_wpiece *p = &w->p[w->np++];
		*p = *q;
		p->sr0 = q->sr0 + (o.r0 - q->row0);
		p->sc0 = q->sc0 + (o.c0 - q->col0);
		p->row0 = o.r0 - r0;
		p->col0 = o.c0 - c0;
		p->rows = o.rows;
		p->cols = o.cols;
	}
	return DSCK_OK;
}

void dsck_weight_row(const struct dsck_weight *w, uint64_t r, float *out)
{
	for (uint32_t i = 0; i < w->np; i++) {
		const struct dsck_wpiece *p = &w->p[i];
		if (r >= p->row0 && r < p->row0 + p->rows)
			piece_row(w, p, r, out + p->col0);
	}
}

void dsck_weight_vec(const struct dsck_weight *w, float *out)
{
	dsck_weight_row(w, 0, out);
}

struct mm_ctx {
	const struct dsck_weight *w;
	const float *x;
	size_t S;
	float *y;                /* [S, w->rows], less its first y0 rows */
	uint64_t y0;
};

/*
 * Row r of an FP8 or BF16 weight as one contiguous run of its stored codes
 * (and, FP8, block scales), whatever the pieces: a row inside one
 * full-width piece is pointed at; a row split by columns over pieces (an
 * MP directory's wo or w2 read whole) is copied into buf and sbuf, each
 * piece's columns and scales in place. So the kernels see the same bytes
 * for an HF and an MP layout, and give the same bits (RT-R2). buf holds
 * cols elements, sbuf ceil(cols / bc) scales. Returns 0 when a piece is
 * not whole FP8 blocks (never so for files MP-R5 accepts); the caller
 * then widens the row.
 */
static int row_view(const struct dsck_weight *w, uint64_t r, uint8_t *buf, float *sbuf,
		    const void **codes, const float **scales)
{
	size_t es = w->dtype == DSCK_BF16 ? 2 : 1;
	for (uint32_t i = 0; i < w->np; i++) {
		const struct dsck_wpiece *p = &w->p[i];
		if (r < p->row0 || r >= p->row0 + p->rows || p->col0 || p->cols != w->cols)
			continue;
		uint64_t lr = r - p->row0 + p->sr0;
		*codes = p->data + (lr * p->pc + p->sc0) * es;
		if (w->dtype == DSCK_F8_E4M3)
			*scales = p->scale + (lr / w->br) * ((p->pc + w->bc - 1) / w->bc) + p->sc0 / w->bc;
		return 1;
	}
	for (uint32_t i = 0; i < w->np; i++) {
		const struct dsck_wpiece *p = &w->p[i];
		if (r < p->row0 || r >= p->row0 + p->rows)
			continue;
		uint64_t lr = r - p->row0 + p->sr0;
		if (w->dtype == DSCK_F8_E4M3) {
			if (p->col0 % w->bc || p->sc0 % w->bc ||
			    (p->col0 + p->cols != w->cols && p->cols % w->bc))
				return 0;
			uint64_t grid = (p->pc + w->bc - 1) / w->bc, nb = (p->cols + w->bc - 1) / w->bc;
			memcpy(sbuf + p->col0 / w->bc, p->scale + (lr / w->br) * grid + p->sc0 / w->bc,
			       nb * sizeof *sbuf);
		}
		memcpy(buf + p->col0 * es, p->data + (lr * p->pc + p->sc0) * es, p->cols * es);
	}
	*codes = buf;
	*scales = sbuf;
	return 1;
}

static void mm_rows(void *vctx, size_t b, size_t e)
{
	struct mm_ctx *c = vctx;
	const struct dsck_weight *w = c->w;
	/* a weight of one full-width piece writes every column of its rows */
	int whole = w->np == 1 && w->p[0].col0 == 0 && w->p[0].cols == w->cols;
	int fp8 = w->dtype == DSCK_F8_E4M3, bf16 = w->dtype == DSCK_BF16;
	if ((fp8 && c->S < FP8_ROWS_MAX_TOKENS) || (bf16 && c->S == 1)) {
		/* one or a few tokens: each row straight from its codes (RT-R1),
		 * no float32 copy of it; several tokens share one decode of it */
		uint8_t *buf = whole ? NULL : malloc(w->cols * 2);
		float *sbuf = whole ? NULL : malloc(((w->cols + w->bc - 1) / w->bc) * sizeof *sbuf);
		const void *codes;
		const float *scales = NULL;
		size_t o = b;
		if (!whole && (!buf || !sbuf))
			abort(); /* a few KiB per thread */
		for (; o < e && row_view(w, o, buf, sbuf, &codes, &scales); o++) {
			if (bf16)
				c->y[o - c->y0] = dsck_k_dot_bf16(codes, c->x, (size_t)w->cols);
			else if (c->S == 1)
				c->y[o - c->y0] = dsck_k_row_e4m3(codes, scales, c->x, (size_t)w->cols,
								   (size_t)w->bc);
			else
				dsck_k_rows_e4m3(codes, scales, c->x, (size_t)w->cols, c->S,
						 (size_t)w->cols, (size_t)w->bc, c->y + o - c->y0,
						 (size_t)w->rows);
		}
		free(buf);
		free(sbuf);
		if (o == e)
			return;
		b = o; /* a piece off the block grid: the rows that are left widened */
	}
	if (c->S >= BLAS_MIN_TOKENS) {
		/* RT-R1: several tokens: dequantize a tile of rows, then one
		 * sgemm y[:, o..o+k) = x . tile^T (OpenBLAS, one thread here:
		 * the pool splits the rows) */
		float *tile = malloc(BLAS_TILE_ROWS * w->cols * sizeof *tile);
		if (!tile)
			abort();
		for (size_t o = b; o < e; o += BLAS_TILE_ROWS) {
			size_t k = e - o < BLAS_TILE_ROWS ? e - o : BLAS_TILE_ROWS;
			for (size_t r = 0; r < k; r++) {
				if (!whole)
					memset(tile + r * w->cols, 0, w->cols * sizeof *tile);
				dsck_weight_row(w, o + r, tile + r * w->cols);
			}
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c->S, (int)k,
				    (int)w->cols, 1.0f, c->x, (int)w->cols, tile, (int)w->cols, 0.0f,
				    c->y + o - c->y0, (int)w->rows);
		}
		free(tile);
		return;
	}
	float *row = malloc(w->cols * sizeof *row);
	if (!row)
		abort(); /* a few KiB per thread: out of memory here is fatal */
	for (size_t o = b; o < e; o++) {
		if (!whole)
			memset(row, 0, w->cols * sizeof *row);
		dsck_weight_row(w, o, row);
		for (size_t s = 0; s < c->S; s++)
			c->y[s * w->rows + o - c->y0] = dsck_k_dot(c->x + s * w->cols, row, w->cols);
	}
	free(row);
}

void dsck_weight_dot_rows(const struct dsck_weight *w, uint64_t r0, uint64_t n, const float *x,
			  float *y)
{
	struct mm_ctx c = { w, x, 1, y, r0 };
	mm_rows(&c, r0, r0 + n);
}

void dsck_weight_axpy_row(const struct dsck_weight *w, uint64_t r, float a, float *y,
			  float *scratch)
{
	if (w->dtype == DSCK_F8_E4M3)
		for (uint32_t i = 0; i < w->np; i++) {
			const struct dsck_wpiece *p = &w->p[i];
			if (r < p->row0 || r >= p->row0 + p->rows || p->col0 || p->cols != w->cols)
				continue;
			/* the row is whole in this piece: straight from its codes */
			uint64_t lr = r - p->row0 + p->sr0, grid = (p->pc + w->bc - 1) / w->bc;
			dsck_k_axpy_e4m3(p->data + lr * p->pc + p->sc0,
					 p->scale + (lr / w->br) * grid + p->sc0 / w->bc, a, y,
					 (size_t)p->cols, (size_t)w->bc);
			return;
		}
	memset(scratch, 0, w->cols * sizeof *scratch);
	dsck_weight_row(w, r, scratch);
	for (uint64_t j = 0; j < w->cols; j++)
		y[j] += a * scratch[j];
}

void dsck_matmul(struct dsck_pool *pool, const struct dsck_weight *w,
		 const float *x, size_t S, float *y)
{
	struct mm_ctx c = { w, x, S, y, 0 };
	dsck_pool_run(pool, w->rows, 16, mm_rows, &c);
}

/* Several products in one pool run: their rows side by side, job k's
 * rows at [first[k], first[k+1]) (one wait instead of n). */
struct mmn_ctx {
	struct mm_ctx *job;
	const uint64_t *first;  /* n + 1 */
	size_t n;
};

static void mmn_rows(void *vctx, size_t b, size_t e)
{
	struct mmn_ctx *c = vctx;
	size_t k = 0;
	while (c->first[k + 1] <= b) /* the job holding row b */
		k++;
	for (; k < c->n && c->first[k] < e; k++) {
		uint64_t lo = b > c->first[k] ? b : c->first[k];
		uint64_t hi = e < c->first[k + 1] ? e : c->first[k + 1];
		if (lo < hi)
			mm_rows(&c->job[k], lo - c->first[k], hi - c->first[k]);
	}
}

void dsck_matmul_n(struct dsck_pool *pool, const struct dsck_mm *mm, size_t n)
{
	struct mm_ctx small[8];
	uint64_t small_first[9];
	struct mm_ctx *job = n <= 8 ? small : malloc(n * sizeof *job);
	uint64_t *first = n <= 8 ? small_first : malloc((n + 1) * sizeof *first);
	if (!job || !first)
		abort(); /* a few words per product */
	first[0] = 0;
	for (size_t k = 0; k < n; k++) {
		job[k] = (struct mm_ctx){ mm[k].w, mm[k].x, mm[k].S, mm[k].y, 0 };
		first[k + 1] = first[k] + mm[k].w->rows;
	}
	struct mmn_ctx c = { job, first, n };
	dsck_pool_run(pool, first[n], 16, mmn_rows, &c);
	if (job != small) {
		free(job);
		free(first);
	}
}

void dsck_matmul2(struct dsck_pool *pool, const struct dsck_weight *wa,
		  const struct dsck_weight *wb, const float *x, size_t S, float *ya, float *yb)
{
	struct dsck_mm mm[2] = { { wa, x, S, ya }, { wb, x, S, yb } };
	dsck_matmul_n(pool, mm, 2);
}
