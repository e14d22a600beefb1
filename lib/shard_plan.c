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
#include "logical.h"
#include "mp.h"
#include "strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_CAP 1024
#define DEFAULT_SHARD_BYTES 5000000000ull /* transformers' max_shard_size "5GB" */

static int is_scale(const struct dsck_ltensor *lt)
{
	size_t n = strlen(lt->hf);
	return n > 16 && strcmp(lt->hf + n - 16, "weight_scale_inv") == 0;
}

/* The scale of an FP8 weight, when the view has it. */
static const struct dsck_ltensor *scale_of(const struct dsck_logical *v, const struct dsck_ltensor *w)
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
static int split_ok(const struct dsck_logical *v, const struct dsck_ltensor *lt, uint32_t n,
		    uint64_t br, uint64_t bc, struct dsck_error *err)
{
	if (!lt->has_mi) {
		dsck_error_tensor(err, lt->hf);
		dsck_error_set(err, DSCK_E_UNSUPPORTED, "has no place in DeepSeek's MP layout");
		return -1;
	}
	uint64_t r, c;
	dsck_shape_2d(lt->ndim, lt->shape, &r, &c);
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
	const struct dsck_ltensor *s = scale_of(v, lt);
	if (s) {
		uint64_t sr, sc;
		dsck_shape_2d(s->ndim, s->shape, &sr, &sc);
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

static int skip_for_mp(const struct dsck_ltensor *lt, int keep_mtp)
{
	return lt->mtp && !keep_mtp;
}

/* The first tensor of v that n ranks cannot take, or 0. */
static int view_split_ok(const struct dsck_logical *v, int keep_mtp, uint32_t n, uint64_t br,
			 uint64_t bc, struct dsck_error *err)
{
	for (size_t i = 0; i < v->n; i++) {
		const struct dsck_ltensor *lt = &v->t[i];
		if (skip_for_mp(lt, keep_mtp) || is_scale(lt))
			continue; /* a scale is judged with its weight */
		if (split_ok(v, lt, n, br, bc, err))
			return -1;
	}
	return 0;
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
	struct dsck_logical v;
	uint64_t br, bc;
	struct dsck_error scratch;
	enum dsck_err rc = dsck_logical_build(&v, ck, err);
	block_of(ck, &br, &bc);
	*n_valid = 0;
	for (uint32_t k = 1; !rc && k <= max_n; k++) {
		dsck_error_clear(&scratch);
		if (view_split_ok(&v, keep_mtp, k, br, bc, &scratch) == 0 && *n_valid < cap)
			valid[(*n_valid)++] = k;
	}
	if (!rc && view_split_ok(&v, keep_mtp, n, br, bc, err))
		rc = err ? err->code : DSCK_E_UNSUPPORTED;
	dsck_logical_release(&v);
	return rc;
}

/* Pieces of output rectangle [r0, r0+rows) x [c0, c0+cols) of lt. */
static enum dsck_err emit(struct dsck_plan *p, const struct dsck_logical *v,
			  const struct dsck_ltensor *lt, const char *name,
			  uint64_t r0, uint64_t rows, uint64_t c0, uint64_t cols,
			  struct dsck_error *err)
{
	struct dsck_plan_tensor pt;
	enum dsck_err rc = DSCK_OK;
	uint64_t lr, lc;
	dsck_shape_2d(lt->ndim, lt->shape, &lr, &lc);
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
		const struct dsck_lpiece *q = &v->p[lt->p0 + k];
		struct dsck_rect o;
		if (!dsck_rect_overlap((struct dsck_rect){ q->r0, q->c0, q->rows, q->cols },
				       (struct dsck_rect){ r0, c0, rows, cols }, &o))
			continue;
		struct dsck_plan_piece pc = { q->phys, o.r0 - q->r0, o.c0 - q->c0,
					      o.r0 - r0, o.c0 - c0, o.rows, o.cols };
		rc = dsck_plan_add_piece(p, &pc, NULL, err);
		pt.npieces++;
	}
	if (!rc)
		rc = dsck_plan_add_tensor(p, &pt, NULL, err);
	return rc;
}

static enum dsck_err build_mp(struct dsck_plan *p, const struct dsck_logical *v,
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
			const struct dsck_ltensor *lt = &v->t[i];
			if (skip_for_mp(lt, o->keep_mtp))
				continue;
			uint64_t lr, lc;
			struct dsck_mp_info mi;
			dsck_shape_2d(lt->ndim, lt->shape, &lr, &lc);
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
	const struct dsck_ltensor *const *x = a, *const *y = b;
	return (*x)->order < (*y)->order ? -1 : (*x)->order > (*y)->order;
}

static enum dsck_err build_hf(struct dsck_plan *p, const struct dsck_logical *v,
			      const struct dsck_ckpt *ck, const struct dsck_shard_opts *o,
			      struct dsck_index *like, struct dsck_error *err)
{
	const struct dsck_ltensor **ord = calloc(v->n ? v->n : 1, sizeof *ord);
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
			dsck_shape_2d(ord[i]->ndim, ord[i]->shape, &lr, &lc);
			rc = emit(p, v, ord[i], ord[i]->hf, 0, lr, 0, lc, err);
		}
	}
out:
	free(ord);
	free(file);
	return rc;
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

enum dsck_err dsck_shard_plan_build(const struct dsck_ckpt *ck,
				    const struct dsck_shard_opts *o,
				    struct dsck_plan *p, struct dsck_error *err)
{
	struct dsck_logical v;
	struct dsck_index like;
	int have_like = 0;
	enum dsck_err rc;
	char *text = NULL;
	size_t len = 0;

	memset(&like, 0, sizeof like);
	dsck_plan_init(p, "shard");
	rc = dsck_logical_build(&v, ck, err);
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
	/* MP-R8: every other regular file is copied (tokenizer, config.json) */
	if (!rc && !single_file)
		rc = dsck_plan_add_dir_files(p, ck, no_mtp ? "config.json" : NULL, err);
	if (!rc && !o->mp && (p->n_files > 1 || ck->has_index || have_like))
		rc = dsck_plan_add_index(p, err);
	if (!rc)
		rc = dsck_plan_layout(p, err);
	if (rc)
		dsck_plan_release(p);
	if (have_like)
		dsck_index_release(&like);
	free(text);
	dsck_logical_release(&v);
	return rc;
}
