/*
 * shard_plan.c - dsck-shard's plans (shard_plan.h, formats.md §12).
 *
 * 1. The input as logical tensors (lview): for an HF checkpoint each
 *    tensor is itself (one piece); for an MP(N) directory the ranks'
 *    tensors are renamed back (MP-R1) and put together by their split:
 *    row or column slices side by side, a replica once, an expert whole.
 * 2. The output: per rank the slice of every logical tensor the split
 *    table gives it (MP-R2), or every logical tensor whole (HF). Each
 *    output tensor's pieces are the intersections of its rectangle with
 *    the logical tensor's pieces, so MP(N) -> MP(M) reads each input byte
 *    once and needs no HF hop.
 */
#include "shard_plan.h"

#include "arith.h"
#include "index.h"
#include "inventory.h"
#include "io.h"
#include "mp.h"
#include "strmap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NAME_CAP 1024
#define INDEX_NAME "model.safetensors.index.json"
#define DEFAULT_SHARD_BYTES 5000000000ull /* transformers' max_shard_size "5GB" */

struct lpiece {
	uint32_t phys;              /* ck->tensors index */
	uint64_t r0, c0, rows, cols; /* the rectangle of the logical view it covers */
};

struct ltensor {
	char *hf;                   /* owned */
	enum dsck_dtype dt;
	uint32_t ndim;
	uint64_t shape[DSCK_MAX_DIMS];
	int has_mi;                 /* has a place in the MP layout */
	struct dsck_mp_info mi;
	int mtp;                    /* a layer past num_hidden_layers */
	uint32_t p0, np;
	uint32_t shard;             /* HF input: its input shard */
	int64_t order;              /* grouping order */
};

struct lview {
	size_t n, cap;
	struct ltensor *t;
	size_t np, cap_p;
	struct lpiece *p;
	struct dsck_strmap by_name;
	uint64_t n_experts;         /* routed experts per MoE layer */
	int from_mp;
};

static void view2d(uint32_t ndim, const uint64_t *shape, uint64_t *rows, uint64_t *cols)
{
	*rows = 1;
	*cols = 1;
	if (ndim == 1)
		*cols = shape[0];
	if (ndim >= 2) {
		*rows = shape[0];
		for (uint32_t d = 1; d < ndim; d++)
			*cols *= shape[d];
	}
}

static void lview_release(struct lview *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->t[i].hf);
	free(v->t);
	free(v->p);
	dsck_strmap_release(&v->by_name);
	memset(v, 0, sizeof *v);
}

static int lview_grow(void **a, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 256;
	void *q = realloc(*a, nc * elem);
	if (!q)
		return -1;
	*a = q;
	*cap = nc;
	return 0;
}

static enum dsck_err add_piece(struct lview *v, uint32_t phys, uint64_t r0, uint64_t c0,
			       uint64_t rows, uint64_t cols, struct dsck_error *err)
{
	if (lview_grow((void **)&v->p, &v->cap_p, v->np, sizeof *v->p))
		return dsck_error_set(err, DSCK_E_NOMEM, "logical pieces");
	v->p[v->np++] = (struct lpiece){ phys, r0, c0, rows, cols };
	return DSCK_OK;
}

static enum dsck_err add_tensor(struct lview *v, const char *hf, const struct dsck_st_tensor *t,
				uint32_t shard, struct ltensor **out, struct dsck_error *err)
{
	char mp[NAME_CAP];
	if (lview_grow((void **)&v->t, &v->cap, v->n, sizeof *v->t))
		return dsck_error_set(err, DSCK_E_NOMEM, "logical tensors");
	struct ltensor *lt = &v->t[v->n];
	memset(lt, 0, sizeof *lt);
	lt->hf = strdup(hf);
	if (!lt->hf)
		return dsck_error_set(err, DSCK_E_NOMEM, "logical tensors");
	lt->dt = t->dtype;
	lt->ndim = t->ndim;
	memcpy(lt->shape, t->shape, sizeof lt->shape);
	lt->has_mi = dsck_mp_name(hf, mp, sizeof mp, &lt->mi) == 0;
	lt->shard = shard;
	lt->order = (int64_t)v->n;
	lt->p0 = (uint32_t)v->np;
	v->n++;
	*out = lt;
	return DSCK_OK;
}

/* MTP layers and the expert count come from config.json when present. */
static void lview_finish(struct lview *v, const struct dsck_ckpt *ck)
{
	uint64_t max_e = 0;
	for (size_t i = 0; i < v->n; i++) {
		struct ltensor *lt = &v->t[i];
		if (ck->has_config && lt->has_mi && lt->mi.layer >= 0 &&
		    (uint64_t)lt->mi.layer >= ck->cfg.num_hidden_layers)
			lt->mtp = 1;
		if (lt->has_mi && lt->mi.expert >= 0 && (uint64_t)lt->mi.expert + 1 > max_e)
			max_e = (uint64_t)lt->mi.expert + 1;
	}
	v->n_experts = ck->has_config && ck->cfg.n_routed_experts ? ck->cfg.n_routed_experts : max_e;
}

static enum dsck_err lview_from_hf(struct lview *v, const struct dsck_ckpt *ck,
				   struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	for (uint32_t s = 0; s < ck->n_shards && !rc; s++) {
		const struct dsck_st *st = ck->shards[s];
		for (size_t i = 0; i < st->n_tensors && !rc; i++) {
			const struct dsck_st_tensor *t = &st->tensors[i];
			const struct dsck_ckpt_tensor *ct = dsck_ckpt_find(ck, t->name, t->name_len);
			if (!ct || ct->shard != s)
				continue;
			struct ltensor *lt;
			uint64_t r, c;
			rc = add_tensor(v, t->name, t, s, &lt, err);
			view2d(t->ndim, t->shape, &r, &c);
			if (!rc)
				rc = add_piece(v, (uint32_t)(ct - ck->tensors), 0, 0, r, c, err);
			if (!rc)
				lt->np = 1;
		}
	}
	return rc;
}

struct mp_item {
	uint32_t lt, rank, phys;
};

static int mp_item_cmp(const void *a, const void *b)
{
	const struct mp_item *x = a, *y = b;
	if (x->lt != y->lt)
		return x->lt < y->lt ? -1 : 1;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* MP-R4: put an MP(N) directory's rank tensors back together. */
static enum dsck_err lview_from_mp(struct lview *v, const struct dsck_ckpt *ck,
				   struct dsck_error *err)
{
	uint32_t N = ck->mp_ranks;
	struct mp_item *it = calloc(ck->n ? ck->n : 1, sizeof *it);
	size_t ni = 0, phys = 0;
	enum dsck_err rc = DSCK_OK;
	char hf[NAME_CAP];

	v->from_mp = 1;
	if (!it)
		return dsck_error_set(err, DSCK_E_NOMEM, "MP table");
	for (uint32_t r = 0; r < N && !rc; r++) {
		const struct dsck_st *st = ck->shards[r];
		for (size_t i = 0; i < st->n_tensors && !rc; i++, phys++) {
			const struct dsck_st_tensor *t = ck->tensors[phys].t;
			uint32_t k;
			if (dsck_mp_hf_name(t->name, hf, sizeof hf)) {
				dsck_error_file(err, st->file.path);
				dsck_error_tensor(err, t->name);
				rc = dsck_error_set(err, DSCK_E_MODEL_MISMATCH,
						    "not a tensor name of DeepSeek's MP layout");
				break;
			}
			if (!dsck_strmap_find(&v->by_name, hf, strlen(hf), &k)) {
				struct ltensor *lt;
				rc = add_tensor(v, hf, t, r, &lt, err);
				k = (uint32_t)(v->n - 1);
				if (!rc && dsck_strmap_insert(&v->by_name, v->t[k].hf,
							      strlen(v->t[k].hf), k, NULL))
					rc = dsck_error_set(err, DSCK_E_NOMEM, "MP table");
			}
			it[ni++] = (struct mp_item){ k, r, (uint32_t)phys };
		}
	}
	if (!rc)
		qsort(it, ni, sizeof *it, mp_item_cmp);
	for (size_t a = 0, b; a < ni && !rc; a = b) {
		for (b = a; b < ni && it[b].lt == it[a].lt; b++)
			;
		struct ltensor *lt = &v->t[it[a].lt];
		const struct dsck_st_tensor *t0 = ck->tensors[it[a].phys].t;
		uint64_t r, c;
		view2d(t0->ndim, t0->shape, &r, &c);
		enum dsck_split sp = lt->has_mi ? lt->mi.split : DSCK_SPLIT_REPLICA;
		size_t want = sp == DSCK_SPLIT_EXPERT ? 1 : N;
		/* MP-R4: the right number of copies, in rank order, one shape */
		size_t odd = SIZE_MAX;
		for (size_t j = a; j < b && odd == SIZE_MAX; j++) {
			const struct dsck_st_tensor *t = ck->tensors[it[j].phys].t;
			if ((want == N && it[j].rank != j - a) || t->dtype != t0->dtype ||
			    t->ndim != t0->ndim ||
			    memcmp(t->shape, t0->shape, t0->ndim * sizeof t0->shape[0]) != 0)
				odd = j;
		}
		int bad = b - a != want || odd != SIZE_MAX ||
			  ((sp == DSCK_SPLIT_ROWS || sp == DSCK_SPLIT_COLS) && t0->ndim != 2);
		if (bad) {
			dsck_error_tensor(err, lt->hf);
			if (b - a != want) {
				dsck_error_file(err, ck->dir);
				dsck_error_expect(err, "%s: on %zu rank file(s)", dsck_split_name(sp), want);
				dsck_error_found(err, "on %zu", b - a);
			} else if (odd != SIZE_MAX) {
				const struct dsck_st_tensor *t = ck->tensors[it[odd].phys].t;
				dsck_error_file(err, ck->shards[it[odd].rank]->file.path);
				dsck_error_expect(err, "%s %u-D as on rank %u (dim 0 = %llu)",
						  dsck_dtype_name(t0->dtype), t0->ndim, it[a].rank,
						  (unsigned long long)t0->shape[0]);
				dsck_error_found(err, "%s %u-D (dim 0 = %llu)", dsck_dtype_name(t->dtype),
						 t->ndim, (unsigned long long)(t->ndim ? t->shape[0] : 0));
			} else {
				dsck_error_file(err, ck->dir);
				dsck_error_expect(err, "a matrix to split by %s", dsck_split_name(sp));
				dsck_error_found(err, "%u dimensions", t0->ndim);
			}
			rc = dsck_error_set(err, DSCK_E_MODEL_MISMATCH,
					    "the rank files do not make this tensor whole");
			break;
		}
		lt->p0 = (uint32_t)v->np;
		if (sp == DSCK_SPLIT_ROWS) {
			lt->shape[0] = r * N;
			for (size_t j = a; j < b && !rc; j++)
				rc = add_piece(v, it[j].phys, (j - a) * r, 0, r, c, err);
			lt->np = N;
		} else if (sp == DSCK_SPLIT_COLS) {
			lt->shape[1] = c * N;
			for (size_t j = a; j < b && !rc; j++)
				rc = add_piece(v, it[j].phys, 0, (j - a) * c, r, c, err);
			lt->np = N;
		} else { /* a replica is read from rank 0, an expert from its rank */
			rc = add_piece(v, it[a].phys, 0, 0, r, c, err);
			lt->np = 1;
		}
	}
	free(it);
	return rc;
}

/* Inventory order for HF output from MP input, so files group as upstream. */
static void lview_order(struct lview *v, const struct dsck_ckpt *ck)
{
	struct dsck_inventory inv;
	struct dsck_error ignored;
	if (!v->from_mp || !ck->has_config)
		return;
	memset(&inv, 0, sizeof inv);
	enum dsck_ckpt_dtype dt = ck->cfg.quantized ? DSCK_CKPT_FP8 : DSCK_CKPT_BF16;
	if (dsck_inventory_build(&ck->cfg, dt, &inv, &ignored) == DSCK_OK)
		for (size_t i = 0; i < v->n; i++) {
			long k = dsck_inventory_find(&inv, v->t[i].hf, strlen(v->t[i].hf));
			v->t[i].order = k >= 0 ? k : (int64_t)(inv.n + i);
		}
	dsck_inventory_release(&inv);
}

static int is_scale(const struct ltensor *lt)
{
	size_t n = strlen(lt->hf);
	return n > 16 && strcmp(lt->hf + n - 16, "weight_scale_inv") == 0;
}

/* The scale of an FP8 weight, when the view has it. */
static const struct ltensor *scale_of(const struct lview *v, const struct ltensor *w)
{
	char name[NAME_CAP];
	uint32_t k;
	size_t n = strlen(w->hf);
	if (w->dt != DSCK_F8_E4M3 || n < 6 || strcmp(w->hf + n - 6, "weight") != 0 ||
	    (size_t)snprintf(name, sizeof name, "%s_scale_inv", w->hf) >= sizeof name)
		return NULL;
	if (v->by_name.cap && dsck_strmap_find(&v->by_name, name, strlen(name), &k))
		return &v->t[k];
	return NULL;
}

/* MP-R5: can lt be split over n ranks? 0, or -1 with the reason in err. */
static int split_ok(const struct lview *v, const struct ltensor *lt, uint32_t n,
		    uint64_t br, uint64_t bc, struct dsck_error *err)
{
	if (!lt->has_mi) {
		dsck_error_tensor(err, lt->hf);
		dsck_error_set(err, DSCK_E_UNSUPPORTED, "has no place in DeepSeek's MP layout");
		return -1;
	}
	uint64_t r, c;
	view2d(lt->ndim, lt->shape, &r, &c);
	enum dsck_split sp = lt->mi.split;
	if (sp == DSCK_SPLIT_EXPERT) {
		if (v->n_experts % n) {
			dsck_error_tensor(err, lt->hf);
			dsck_error_set(err, DSCK_E_UNSUPPORTED,
				       "%llu routed experts per layer do not divide into %u ranks",
				       (unsigned long long)v->n_experts, n);
			return -1;
		}
		return 0;
	}
	if (sp == DSCK_SPLIT_REPLICA)
		return 0;
	int rows = sp == DSCK_SPLIT_ROWS;
	uint64_t dim = rows ? r : c, blk = rows ? br : bc;
	const struct ltensor *s = scale_of(v, lt);
	if (s) {
		uint64_t sr, sc;
		view2d(s->ndim, s->shape, &sr, &sc);
		uint64_t sdim = rows ? sr : sc;
		if (sdim % n || (dim / n) % blk) {
			dsck_error_tensor(err, lt->hf);
			dsck_error_set(err, DSCK_E_UNSUPPORTED,
				       "its scale grid has %llu block %s, which do not divide into %u ranks of whole %llu-%s blocks",
				       (unsigned long long)sdim, rows ? "rows" : "columns", n,
				       (unsigned long long)blk, rows ? "row" : "column");
			return -1;
		}
	}
	if (dim % n) {
		dsck_error_tensor(err, lt->hf);
		dsck_error_set(err, DSCK_E_UNSUPPORTED, "%llu %s do not divide into %u ranks",
			       (unsigned long long)dim, rows ? "rows" : "columns", n);
		return -1;
	}
	return 0;
}

static int skip_for_mp(const struct ltensor *lt, int keep_mtp)
{
	return lt->mtp && !keep_mtp;
}

/* The first tensor of v that n ranks cannot take, or 0. */
static int view_split_ok(const struct lview *v, int keep_mtp, uint32_t n, uint64_t br,
			 uint64_t bc, struct dsck_error *err)
{
	for (size_t i = 0; i < v->n; i++) {
		const struct ltensor *lt = &v->t[i];
		if (skip_for_mp(lt, keep_mtp) || is_scale(lt))
			continue; /* a scale is judged with its weight */
		if (split_ok(v, lt, n, br, bc, err))
			return -1;
	}
	return 0;
}

static enum dsck_err lview_build(struct lview *v, const struct dsck_ckpt *ck,
				 struct dsck_error *err)
{
	enum dsck_err rc;
	memset(v, 0, sizeof *v);
	if (ck->mp_ranks) {
		rc = lview_from_mp(v, ck, err);
	} else {
		rc = lview_from_hf(v, ck, err);
		if (!rc && dsck_strmap_reserve(&v->by_name, v->n))
			rc = dsck_error_set(err, DSCK_E_NOMEM, "logical names");
		for (size_t i = 0; i < v->n && !rc; i++)
			if (dsck_strmap_insert(&v->by_name, v->t[i].hf, strlen(v->t[i].hf),
					       (uint32_t)i, NULL))
				rc = dsck_error_set(err, DSCK_E_NOMEM, "logical names");
	}
	if (!rc) {
		lview_finish(v, ck);
		lview_order(v, ck);
	}
	return rc;
}

static void block_of(const struct dsck_ckpt *ck, uint64_t *br, uint64_t *bc)
{
	*br = ck->has_config ? ck->cfg.block_rows : 128;
	*bc = ck->has_config ? ck->cfg.block_cols : 128;
}

enum dsck_err dsck_shard_check_mp(const struct dsck_ckpt *ck, int keep_mtp,
				  uint32_t n, uint32_t max_n, uint32_t *valid,
				  size_t cap, size_t *n_valid,
				  struct dsck_error *err)
{
	struct lview v;
	uint64_t br, bc;
	struct dsck_error scratch;
	enum dsck_err rc = lview_build(&v, ck, err);
	block_of(ck, &br, &bc);
	*n_valid = 0;
	for (uint32_t k = 1; !rc && k <= max_n; k++) {
		dsck_error_clear(&scratch);
		if (view_split_ok(&v, keep_mtp, k, br, bc, &scratch) == 0 && *n_valid < cap)
			valid[(*n_valid)++] = k;
	}
	if (!rc && view_split_ok(&v, keep_mtp, n, br, bc, err))
		rc = err ? err->code : DSCK_E_UNSUPPORTED;
	lview_release(&v);
	return rc;
}

/* Pieces of output rectangle [r0, r0+rows) x [c0, c0+cols) of lt. */
static enum dsck_err emit(struct dsck_plan *p, const struct lview *v,
			  const struct ltensor *lt, const char *name,
			  uint64_t r0, uint64_t rows, uint64_t c0, uint64_t cols,
			  struct dsck_error *err)
{
	struct dsck_plan_tensor pt;
	enum dsck_err rc = DSCK_OK;
	uint64_t lr, lc;
	view2d(lt->ndim, lt->shape, &lr, &lc);
	memset(&pt, 0, sizeof pt);
	pt.name = (char *)name;
	pt.dtype = lt->dt;
	pt.ndim = lt->ndim;
	memcpy(pt.shape, lt->shape, sizeof pt.shape);
	if (rows != lr || cols != lc) { /* a slice of a 2-D tensor */
		pt.shape[0] = rows;
		pt.shape[1] = cols;
	}
	pt.xf = DSCK_XF_COPY;
	pt.src = v->p[lt->p0].phys;
	pt.src_scale = -1;
	pt.out_scale = -1;
	pt.piece0 = (uint32_t)p->n_pieces;
	for (uint32_t k = 0; k < lt->np && !rc; k++) {
		const struct lpiece *q = &v->p[lt->p0 + k];
		uint64_t a0 = q->r0 > r0 ? q->r0 : r0;
		uint64_t a1 = q->r0 + q->rows < r0 + rows ? q->r0 + q->rows : r0 + rows;
		uint64_t b0 = q->c0 > c0 ? q->c0 : c0;
		uint64_t b1 = q->c0 + q->cols < c0 + cols ? q->c0 + q->cols : c0 + cols;
		if (a0 >= a1 || b0 >= b1)
			continue;
		struct dsck_plan_piece pc = { q->phys, a0 - q->r0, b0 - q->c0,
					      a0 - r0, b0 - c0, a1 - a0, b1 - b0 };
		rc = dsck_plan_add_piece(p, &pc, NULL, err);
		pt.npieces++;
	}
	if (!rc)
		rc = dsck_plan_add_tensor(p, &pt, NULL, err);
	return rc;
}

static enum dsck_err build_mp(struct dsck_plan *p, const struct lview *v,
			      const struct dsck_ckpt *ck, const struct dsck_shard_opts *o,
			      struct dsck_error *err)
{
	uint32_t n = o->mp;
	uint64_t br, bc;
	char file[64], mp[NAME_CAP], nbuf[16];
	enum dsck_err rc;

	block_of(ck, &br, &bc);
	if (view_split_ok(v, o->keep_mtp, n, br, bc, err))
		return err ? err->code : DSCK_E_UNSUPPORTED;
	snprintf(nbuf, sizeof nbuf, "%u", n);
	rc = dsck_plan_add_meta(p, "dsck.mp", nbuf, err);
	int mtp_out = 0;
	for (size_t i = 0; i < v->n; i++)
		mtp_out |= v->t[i].mtp && o->keep_mtp;
	/* MP-R3: what the files hold, not what was asked */
	if (!rc)
		rc = dsck_plan_add_meta(p, "dsck.mtp", mtp_out ? "kept" : "dropped", err);
	uint64_t per = v->n_experts / n;
	for (uint32_t r = 0; r < n && !rc; r++) {
		snprintf(file, sizeof file, "model%u-mp%u.safetensors", r, n);
		rc = dsck_plan_add_file(p, file, err);
		for (size_t i = 0; i < v->n && !rc; i++) {
			const struct ltensor *lt = &v->t[i];
			if (skip_for_mp(lt, o->keep_mtp))
				continue;
			uint64_t lr, lc;
			struct dsck_mp_info mi;
			view2d(lt->ndim, lt->shape, &lr, &lc);
			dsck_mp_name(lt->hf, mp, sizeof mp, &mi);
			switch (lt->mi.split) {
			case DSCK_SPLIT_EXPERT:
				if ((uint64_t)lt->mi.expert / per == r)
					rc = emit(p, v, lt, mp, 0, lr, 0, lc, err);
				break;
			case DSCK_SPLIT_ROWS:
				rc = emit(p, v, lt, mp, r * (lr / n), lr / n, 0, lc, err);
				break;
			case DSCK_SPLIT_COLS:
				rc = emit(p, v, lt, mp, 0, lr, r * (lc / n), lc / n, err);
				break;
			case DSCK_SPLIT_REPLICA:
				rc = emit(p, v, lt, mp, 0, lr, 0, lc, err);
				break;
			}
		}
	}
	return rc;
}

static int order_cmp(const void *a, const void *b)
{
	const struct ltensor *const *x = a, *const *y = b;
	return (*x)->order < (*y)->order ? -1 : (*x)->order > (*y)->order;
}

static enum dsck_err build_hf(struct dsck_plan *p, const struct lview *v,
			      const struct dsck_ckpt *ck, const struct dsck_shard_opts *o,
			      struct dsck_index *like, struct dsck_error *err)
{
	const struct ltensor **ord = calloc(v->n ? v->n : 1, sizeof *ord);
	uint32_t *file = calloc(v->n ? v->n : 1, sizeof *file);
	uint32_t n_files = 0;
	enum dsck_err rc = DSCK_OK;
	char name[64];

	if (!ord || !file) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "grouping");
		goto out;
	}
	for (size_t i = 0; i < v->n; i++)
		ord[i] = &v->t[i];
	qsort(ord, v->n, sizeof *ord, order_cmp);
	int by_size = o->max_shard_size || o->max_tensors || (v->from_mp && !like && !o->merge);
	uint64_t limit = o->max_shard_size ? o->max_shard_size
			 : o->max_tensors ? UINT64_MAX : DEFAULT_SHARD_BYTES;
	if (like) {
		/* MP-R7: the grouping of an index, file names included */
		for (size_t i = 0; i < v->n && !rc; i++) {
			uint32_t k;
			if (!dsck_strmap_find(&like->by_name, ord[i]->hf, strlen(ord[i]->hf), &k)) {
				dsck_error_file(err, o->like);
				dsck_error_tensor(err, ord[i]->hf);
				rc = dsck_error_set(err, DSCK_E_INDEX_MISMATCH,
						    ord[i]->mtp ? "the checkpoint has this MTP tensor but the index does not"
								: "the checkpoint has this tensor but the index does not");
				break;
			}
			file[i] = like->entries[k].shard;
		}
		for (size_t e = 0; e < like->n && !rc; e++) {
			uint32_t k;
			if (!dsck_strmap_find(&v->by_name, like->entries[e].name,
					      strlen(like->entries[e].name), &k)) {
				dsck_error_file(err, o->like);
				dsck_error_tensor(err, like->entries[e].name);
				rc = dsck_error_set(err, DSCK_E_INDEX_MISMATCH,
						    "the index lists this tensor but the checkpoint does not have it (an MTP layer dropped? shard with --keep-mtp)");
			}
		}
		n_files = (uint32_t)like->n_shards;
	} else if (o->merge) {
		n_files = 1;
	} else if (by_size) {
		uint64_t acc = 0, cnt = 0;
		for (size_t i = 0; i < v->n; i++) {
			uint64_t b = 0, ne = 1;
			for (uint32_t d = 0; d < ord[i]->ndim; d++)
				ne *= ord[i]->shape[d];
			dsck_dtype_nbytes(ord[i]->dt, ne, &b);
			if (i == 0 || (cnt && (acc + b > limit || (o->max_tensors && cnt == o->max_tensors)))) {
				n_files++;
				acc = cnt = 0;
			}
			file[i] = n_files - 1;
			acc += b;
			cnt++;
		}
	} else { /* HF input: its own grouping */
		for (size_t i = 0; i < v->n; i++)
			file[i] = ord[i]->shard;
		n_files = (uint32_t)ck->n_shards;
	}
	for (uint32_t f = 0; f < n_files && !rc; f++) {
		const char *fname = name;
		int any = 0;
		for (size_t i = 0; i < v->n && !any; i++)
			any = file[i] == f;
		if (!any)
			continue;
		if (like)
			fname = like->shards[f];
		else if (!by_size && !o->merge)
			fname = ck->shard_names[f];
		else if (n_files == 1)
			snprintf(name, sizeof name, "model.safetensors");
		else
			snprintf(name, sizeof name, "model-%05u-of-%05u.safetensors", f + 1, n_files);
		rc = dsck_plan_add_file(p, fname, err);
		for (size_t i = 0; i < v->n && !rc; i++) {
			if (file[i] != f)
				continue;
			uint64_t lr, lc;
			view2d(ord[i]->ndim, ord[i]->shape, &lr, &lc);
			rc = emit(p, v, ord[i], ord[i]->hf, 0, lr, 0, lc, err);
		}
	}
out:
	free(ord);
	free(file);
	return rc;
}

/* MP-R8: every other regular file is copied (tokenizer, config.json). */
struct side_ctx {
	const struct dsck_ckpt *ck;
	struct dsck_plan *p;
	int skip_config;           /* config.json is written edited instead */
};

static enum dsck_err side_one(const char *name, void *user, struct dsck_error *err)
{
	struct side_ctx *c = user;
	struct stat sb;
	size_t n = strlen(name);
	if (name[0] == '.' || strcmp(name, INDEX_NAME) == 0 ||
	    (n >= 12 && strcmp(name + n - 12, ".safetensors") == 0) ||
	    (c->skip_config && strcmp(name, "config.json") == 0))
		return DSCK_OK;
	if (fstatat(c->ck->dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
		return DSCK_OK;
	return dsck_plan_add_side(c->p, name, NULL, 0, name, (uint64_t)sb.st_size, err);
}

static enum dsck_err add_config_without_mtp(const struct dsck_ckpt *ck, struct dsck_plan *p,
					    struct dsck_error *err)
{
	char *text = NULL, *out = NULL;
	size_t len = 0, out_len = 0;
	enum dsck_err rc = dsck_file_read_all_at(ck->dirfd, "config.json", "config.json",
						 1u << 20, &text, &len, err);
	if (!rc)
		rc = dsck_config_set(text, len, "num_nextn_predict_layers", "0", &out, &out_len, err);
	if (!rc)
		rc = dsck_plan_add_side(p, "config.json", out, out_len, NULL, 0, err);
	free(text);
	free(out);
	return rc;
}

static int side_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dsck_plan_side *)a)->name,
		      ((const struct dsck_plan_side *)b)->name);
}

static enum dsck_err add_index(struct dsck_plan *p, struct dsck_error *err)
{
	const char **names = calloc(p->n ? p->n : 1, sizeof *names);
	uint32_t *shard_of = calloc(p->n ? p->n : 1, sizeof *shard_of);
	const char **files = calloc(p->n_files ? p->n_files : 1, sizeof *files);
	char *text = NULL;
	size_t len = 0;
	uint64_t total = 0;
	enum dsck_err rc = DSCK_OK;

	if (!names || !shard_of || !files) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "index");
		goto out;
	}
	for (size_t f = 0; f < p->n_files; f++) {
		files[f] = p->files[f].name;
		for (size_t i = 0; i < p->files[f].n; i++) {
			size_t t = p->files[f].t0 + i;
			names[t] = p->t[t].name;
			shard_of[t] = (uint32_t)f;
			total += dsck_plan_tensor_bytes(p, t);
		}
	}
	rc = dsck_index_build(names, shard_of, p->n, files, total, &text, &len, err);
	if (!rc)
		rc = dsck_plan_add_side(p, INDEX_NAME, text, len, NULL, 0, err);
out:
	free(text);
	free(names);
	free(shard_of);
	free(files);
	return rc;
}

enum dsck_err dsck_shard_plan_build(const struct dsck_ckpt *ck,
				    const struct dsck_shard_opts *o,
				    struct dsck_plan *p, struct dsck_error *err)
{
	struct lview v;
	struct dsck_index like;
	int have_like = 0;
	enum dsck_err rc;
	char *text = NULL;
	size_t len = 0;

	memset(&like, 0, sizeof like);
	dsck_plan_init(p, "shard");
	rc = lview_build(&v, ck, err);
	if (!rc && o->like) {
		rc = dsck_file_read_all(o->like, DSCK_INDEX_MAX_BYTES, &text, &len, err);
		if (!rc)
			rc = dsck_index_parse(text, len, o->like, &like, err);
		have_like = !rc;
	}
	if (!rc)
		rc = o->mp ? build_mp(p, &v, ck, o, err)
			   : build_hf(p, &v, ck, o, have_like ? &like : NULL, err);
	size_t plen = strlen(ck->path);
	int single_file = plen >= 12 && strcmp(ck->path + plen - 12, ".safetensors") == 0;
	/* MP-R8: HF output without the MTP layers the config declares (they
	 * were dropped on the way to MP) says so, or verify would miss them */
	int no_mtp = !o->mp && ck->has_config && ck->cfg.num_nextn_predict_layers > 0;
	for (size_t i = 0; i < v.n && no_mtp; i++)
		no_mtp = !v.t[i].mtp;
	if (!rc && no_mtp && !single_file)
		rc = add_config_without_mtp(ck, p, err);
	if (!rc && !single_file) {
		struct side_ctx c = { ck, p, no_mtp };
		rc = dsck_dir_each(ck->dirfd, ck->dir, side_one, &c, err);
		if (!rc)
			qsort(p->side, p->n_side, sizeof *p->side, side_cmp);
	}
	if (!rc && !o->mp && (p->n_files > 1 || ck->has_index || have_like))
		rc = add_index(p, err);
	if (!rc)
		rc = dsck_plan_layout(p, err);
	if (rc)
		dsck_plan_release(p);
	if (have_like)
		dsck_index_release(&like);
	free(text);
	lview_release(&v);
	return rc;
}
