/* logical.c - logical tensors of a checkpoint, any layout (logical.h, MP-R4). */
#include "logical.h"

#include "inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_CAP 1024

void dsck_shape_2d(uint32_t ndim, const uint64_t *shape, uint64_t *rows, uint64_t *cols)
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

void dsck_logical_release(struct dsck_logical *v)
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

static enum dsck_err add_piece(struct dsck_logical *v, uint32_t phys, uint64_t r0, uint64_t c0,
			       uint64_t rows, uint64_t cols, struct dsck_error *err)
{
	if (lview_grow((void **)&v->p, &v->cap_p, v->np, sizeof *v->p))
		return dsck_error_set(err, DSCK_E_NOMEM, "logical pieces");
	v->p[v->np++] = (struct dsck_lpiece){ phys, r0, c0, rows, cols };
	return DSCK_OK;
}

static enum dsck_err add_tensor(struct dsck_logical *v, const char *hf, const struct dsck_st_tensor *t,
				uint32_t shard, struct dsck_ltensor **out, struct dsck_error *err)
{
	char mp[NAME_CAP];
	if (lview_grow((void **)&v->t, &v->cap, v->n, sizeof *v->t))
		return dsck_error_set(err, DSCK_E_NOMEM, "logical tensors");
	struct dsck_ltensor *lt = &v->t[v->n];
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
static void lview_finish(struct dsck_logical *v, const struct dsck_ckpt *ck)
{
	uint64_t max_e = 0;
	for (size_t i = 0; i < v->n; i++) {
		struct dsck_ltensor *lt = &v->t[i];
		if (ck->has_config && lt->has_mi && lt->mi.layer >= 0 &&
		    (uint64_t)lt->mi.layer >= ck->cfg.num_hidden_layers)
			lt->mtp = 1;
		if (lt->has_mi && lt->mi.expert >= 0 && (uint64_t)lt->mi.expert + 1 > max_e)
			max_e = (uint64_t)lt->mi.expert + 1;
	}
	v->n_experts = ck->has_config && ck->cfg.n_routed_experts ? ck->cfg.n_routed_experts : max_e;
}

static enum dsck_err lview_from_hf(struct dsck_logical *v, const struct dsck_ckpt *ck,
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
			struct dsck_ltensor *lt;
			uint64_t r, c;
			rc = add_tensor(v, t->name, t, s, &lt, err);
			dsck_shape_2d(t->ndim, t->shape, &r, &c);
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
static enum dsck_err lview_from_mp(struct dsck_logical *v, const struct dsck_ckpt *ck,
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
				struct dsck_ltensor *lt;
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
		struct dsck_ltensor *lt = &v->t[it[a].lt];
		const struct dsck_st_tensor *t0 = ck->tensors[it[a].phys].t;
		uint64_t r, c;
		dsck_shape_2d(t0->ndim, t0->shape, &r, &c);
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
static void lview_order(struct dsck_logical *v, const struct dsck_ckpt *ck)
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

enum dsck_err dsck_logical_build(struct dsck_logical *v, const struct dsck_ckpt *ck,
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

const struct dsck_ltensor *dsck_logical_find(const struct dsck_logical *v, const char *name)
{
	uint32_t k;
	if (!v->by_name.cap || !dsck_strmap_find(&v->by_name, name, strlen(name), &k))
		return NULL;
	return &v->t[k];
}
