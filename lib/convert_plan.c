/*
 * convert_plan.c - dsck-convert's plan (convert_plan.h, formats.md §11).
 *
 * Units are taken in input order (shard by shard, data offset order): a
 * tensor, and for an FP8 weight its scale, wherever that lives. A unit's
 * outputs stay together in one output file: the input shard of the weight
 * by default (same file names), or greedy groups of at most
 * --max-shard-size bytes named model-XXXXX-of-YYYYY.safetensors.
 */
#include "convert_plan.h"

#include "arith.h"
#include "inventory.h"
#include "io.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCALE_SUFFIX "_scale_inv"
#define CONFIG_NAME "config.json"

struct unit {
	int64_t w, s;           /* ckpt tensor indices; s = -1 when none */
	enum dsck_xform xf;
	enum dsck_dtype out;
	uint32_t shard;
	uint64_t bytes;         /* output bytes of the unit */
	uint32_t file;          /* output file */
};

int dsck_size_parse(const char *s, uint64_t *out)
{
	char *end;
	if (!s || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno) /* out of range */
		return -1;
	uint64_t mul = 1;
	static const struct { const char *suf; uint64_t mul; } tab[] = {
		{ "", 1 }, { "B", 1 },
		{ "K", 1000ull }, { "KB", 1000ull }, { "KiB", 1ull << 10 },
		{ "M", 1000000ull }, { "MB", 1000000ull }, { "MiB", 1ull << 20 },
		{ "G", 1000000000ull }, { "GB", 1000000000ull }, { "GiB", 1ull << 30 },
		{ "T", 1000000000000ull }, { "TB", 1000000000000ull }, { "TiB", 1ull << 40 },
	};
	size_t i;
	for (i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (strcmp(end, tab[i].suf) == 0)
			break;
	if (i == sizeof tab / sizeof tab[0])
		return -1;
	mul = tab[i].mul;
	uint64_t r;
	if (dsck_mul_u64(v, mul, &r) || r == 0)
		return -1;
	*out = r;
	return 0;
}

static int glob_any(const char *const *g, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(g[i], name, 0) == 0)
			return 1;
	return 0;
}

static int selected(const struct dsck_convert_opts *o, const char *name)
{
	if (o->n_only && !glob_any(o->only, o->n_only, name))
		return 0;
	return !glob_any(o->exclude, o->n_exclude, name);
}

static int64_t ck_index(const struct dsck_ckpt *ck, const char *name)
{
	const struct dsck_ckpt_tensor *ct = dsck_ckpt_find(ck, name, strlen(name));
	return ct ? (int64_t)(ct - ck->tensors) : -1;
}


/* Is tensor i the scale of an FP8 weight (then it travels with it)? */
static int is_fp8_scale(const struct dsck_ckpt *ck, const char *name)
{
	size_t n = strlen(name), k = sizeof SCALE_SUFFIX - 1;
	if (n <= k || strcmp(name + n - k, SCALE_SUFFIX) != 0)
		return 0;
	const struct dsck_ckpt_tensor *w = dsck_ckpt_find(ck, name, n - k);
	return w && w->t->dtype == DSCK_F8_E4M3;
}

/* CV-R2: the scale of FP8 weight w must be F32 [ceil(r/br), ceil(c/bc)]. */
static enum dsck_err scale_check(const struct dsck_ckpt *ck, int64_t w, int64_t s,
				 uint64_t br, uint64_t bc, struct dsck_error *err)
{
	const struct dsck_ckpt_tensor *wt = &ck->tensors[w];
	const char *path = ck->shards[wt->shard]->file.path;
	if (wt->t->ndim != 2) {
		dsck_error_file(err, path);
		dsck_error_tensor(err, wt->t->name);
		dsck_error_expect(err, "2 dimensions");
		dsck_error_found(err, "%u", wt->t->ndim);
		return dsck_error_set(err, DSCK_E_MODEL_MISMATCH, "an FP8 weight must be a matrix");
	}
	if (s < 0) {
		dsck_error_file(err, path);
		dsck_error_tensor(err, wt->t->name);
		dsck_error_expect(err, "%s" SCALE_SUFFIX, wt->t->name);
		dsck_error_found(err, "no such tensor");
		return dsck_error_set(err, DSCK_E_TENSOR_NOT_FOUND,
				      "FP8 weight without its scale; the download is incomplete");
	}
	const struct dsck_ckpt_tensor *st = &ck->tensors[s];
	uint64_t er = dsck_div_up_u64(wt->t->shape[0], br), ec = dsck_div_up_u64(wt->t->shape[1], bc);
	if (st->t->dtype != DSCK_F32 || st->t->ndim != 2 || st->t->shape[0] != er ||
	    st->t->shape[1] != ec) {
		dsck_error_file(err, ck->shards[st->shard]->file.path);
		dsck_error_tensor(err, st->t->name);
		dsck_error_expect(err, "F32 [%llu, %llu] for a %llu x %llu weight in %llux%llu blocks",
				  (unsigned long long)er, (unsigned long long)ec,
				  (unsigned long long)wt->t->shape[0],
				  (unsigned long long)wt->t->shape[1],
				  (unsigned long long)br, (unsigned long long)bc);
		if (st->t->ndim == 2)
			dsck_error_found(err, "%s [%llu, %llu]", dsck_dtype_name(st->t->dtype),
					 (unsigned long long)st->t->shape[0],
					 (unsigned long long)st->t->shape[1]);
		else
			dsck_error_found(err, "%s with %u dimensions",
					 dsck_dtype_name(st->t->dtype), st->t->ndim);
		return dsck_error_set(err, DSCK_E_MODEL_MISMATCH, "scale grid does not fit its weight");
	}
	return DSCK_OK;
}

static int is_float16(enum dsck_dtype d) { return d == DSCK_BF16 || d == DSCK_F16; }

/* CV-R1..CV-R3: what happens to unit u. */
static enum dsck_err decide(const struct dsck_ckpt *ck, const struct dsck_convert_opts *o,
			    const struct dsck_inventory *inv, uint64_t br, uint64_t bc,
			    struct unit *u, struct dsck_convert_stats *stats,
			    struct dsck_error *err)
{
	const struct dsck_st_tensor *t = ck->tensors[u->w].t;
	int sel = selected(o, t->name);
	u->xf = DSCK_XF_COPY;
	u->out = t->dtype;
	if (t->dtype == DSCK_F8_E4M3) {
		if (sel && o->to != DSCK_F8_E4M3) {
			enum dsck_err rc = scale_check(ck, u->w, u->s, br, bc, err);
			if (rc)
				return rc;
			u->xf = DSCK_XF_DEQUANT;
			u->out = o->to;
			stats->dequant++;
			stats->scales_dropped++;
		}
	} else if (t->dtype == DSCK_BF16 || t->dtype == DSCK_F16 || t->dtype == DSCK_F32) {
		if (o->to == DSCK_F8_E4M3) {
			long k = dsck_inventory_find(inv, t->name, strlen(t->name));
			if (sel && k >= 0 && inv->t[k].role == DSCK_ROLE_PROJ && t->ndim == 2) {
				u->xf = DSCK_XF_QUANT;
				u->out = DSCK_F8_E4M3;
				stats->quant++;
			} else if (sel && k >= 0 && inv->t[k].dtype != t->dtype) {
				/* the rest takes the dtypes of an upstream FP8
				 * checkpoint: BF16, the router bias F32 */
				u->xf = DSCK_XF_CAST;
				u->out = inv->t[k].dtype;
				stats->cast++;
			}
		} else if (sel && t->dtype != o->to &&
			   !(t->dtype == DSCK_F32 && is_float16(o->to))) {
			/* F32 tensors (the router bias) are never narrowed */
			u->xf = DSCK_XF_CAST;
			u->out = o->to;
			stats->cast++;
		}
	}
	if (u->xf == DSCK_XF_COPY)
		stats->copied++;
	return DSCK_OK;
}

static uint64_t shape_bytes(enum dsck_dtype d, uint32_t ndim, const uint64_t *shape)
{
	uint64_t n = 1, b = 0;
	for (uint32_t i = 0; i < ndim; i++)
		n *= shape[i];
	dsck_dtype_nbytes(d, n, &b);
	return b;
}

static uint64_t unit_bytes(const struct dsck_ckpt *ck, const struct unit *u,
			   uint64_t br, uint64_t bc)
{
	const struct dsck_st_tensor *t = ck->tensors[u->w].t;
	uint64_t b = shape_bytes(u->out, t->ndim, t->shape);
	if (u->xf == DSCK_XF_COPY && u->s >= 0)
		b += ck->tensors[u->s].t->end - ck->tensors[u->s].t->begin;
	if (u->xf == DSCK_XF_QUANT)
		b += dsck_div_up_u64(t->shape[0], br) * dsck_div_up_u64(t->shape[1], bc) * 4;
	return b;
}

/* Add unit u's output tensors to the plan's last file. */
static enum dsck_err emit(const struct dsck_ckpt *ck, struct dsck_plan *p,
			  const struct unit *u, struct dsck_error *err)
{
	const struct dsck_st_tensor *t = ck->tensors[u->w].t;
	struct dsck_plan_tensor pt;
	enum dsck_err rc;
	size_t wi;

	memset(&pt, 0, sizeof pt);
	pt.name = (char *)t->name;
	pt.dtype = u->out;
	pt.ndim = t->ndim;
	memcpy(pt.shape, t->shape, sizeof pt.shape);
	pt.xf = u->xf;
	pt.src = (uint32_t)u->w;
	pt.src_scale = u->xf == DSCK_XF_DEQUANT ? u->s : -1;
	pt.out_scale = -1;
	if (u->xf == DSCK_XF_QUANT)
		pt.out_scale = (int64_t)p->n + 1;
	rc = dsck_plan_add_tensor(p, &pt, &wi, err);
	if (rc)
		return rc;
	if (u->xf == DSCK_XF_QUANT) {
		size_t n = strlen(t->name) + sizeof SCALE_SUFFIX;
		char *name = malloc(n);
		if (!name)
			return dsck_error_set(err, DSCK_E_NOMEM, "scale name");
		snprintf(name, n, "%s" SCALE_SUFFIX, t->name);
		memset(&pt, 0, sizeof pt);
		pt.name = name;
		pt.dtype = DSCK_F32;
		pt.ndim = 2;
		pt.shape[0] = dsck_div_up_u64(t->shape[0], p->block_rows);
		pt.shape[1] = dsck_div_up_u64(t->shape[1], p->block_cols);
		pt.xf = DSCK_XF_QSCALE;
		pt.src = (uint32_t)u->w;
		pt.src_scale = -1;
		pt.out_scale = (int64_t)wi;
		rc = dsck_plan_add_tensor(p, &pt, NULL, err);
		free(name);
		if (!rc && dsck_ckpt_find(ck, p->t[p->n - 1].name, strlen(p->t[p->n - 1].name))) {
			dsck_error_tensor(err, p->t[p->n - 1].name);
			rc = dsck_error_set(err, DSCK_E_MODEL_MISMATCH,
					    "the input already has a tensor of this name; it is not an FP8 scale of a BF16 weight");
		}
		return rc;
	}
	if (u->xf == DSCK_XF_COPY && u->s >= 0) {
		const struct dsck_st_tensor *s = ck->tensors[u->s].t;
		memset(&pt, 0, sizeof pt);
		pt.name = (char *)s->name;
		pt.dtype = s->dtype;
		pt.ndim = s->ndim;
		memcpy(pt.shape, s->shape, sizeof pt.shape);
		pt.xf = DSCK_XF_COPY;
		pt.src = (uint32_t)u->s;
		pt.src_scale = -1;
		pt.out_scale = -1;
		rc = dsck_plan_add_tensor(p, &pt, NULL, err);
	}
	return rc;
}

static enum dsck_err add_config(const struct dsck_ckpt *ck, const struct dsck_convert_opts *o,
				struct dsck_plan *p, int any_fp8, int quantized_now,
				struct dsck_error *err)
{
	char *text = NULL, *out = NULL;
	size_t len = 0, out_len = 0;
	char quant[256];
	const char *dtype = o->to == DSCK_F16 ? "float16" : o->to == DSCK_F32 ? "float32" : "bfloat16";
	enum dsck_err rc = dsck_file_read_all_at(ck->dirfd, CONFIG_NAME, CONFIG_NAME,
						 1u << 20, &text, &len, err);
	if (rc)
		return rc;
	snprintf(quant, sizeof quant,
		 "{\"activation_scheme\": \"dynamic\", \"fmt\": \"e4m3\", \"quant_method\": \"fp8\", "
		 "%s\"weight_block_size\": [%llu, %llu]}",
		 o->ue8m0 ? "\"scale_fmt\": \"ue8m0\", " : "",
		 (unsigned long long)p->block_rows, (unsigned long long)p->block_cols);
	/* CV-R5: quantization_config describes the FP8 tensors written; kept
	 * as it is when FP8 tensors are only copied */
	rc = dsck_config_edit(text, len, dtype,
			      quantized_now ? quant : NULL,
			      any_fp8 && !quantized_now, &out, &out_len, err);
	if (!rc)
		rc = dsck_plan_add_side(p, CONFIG_NAME, out, out_len, NULL, 0, err);
	free(text);
	free(out);
	return rc;
}

enum dsck_err dsck_convert_plan_build(const struct dsck_ckpt *ck,
				      const struct dsck_convert_opts *o,
				      struct dsck_plan *p,
				      struct dsck_convert_stats *stats,
				      struct dsck_error *err)
{
	struct dsck_inventory inv;
	struct unit *u = NULL;
	size_t nu = 0;
	enum dsck_err rc = DSCK_OK;
	int any_fp8 = 0, quantized_now = 0;
	uint32_t n_out = 0;

	memset(&inv, 0, sizeof inv);
	memset(stats, 0, sizeof *stats);
	dsck_plan_init(p, "convert");
	if (ck->mp_ranks) {
		dsck_error_file(err, ck->path);
		return dsck_error_set(err, DSCK_E_UNSUPPORTED,
				      "a directory of DeepSeek model-parallel files (%u ranks): convert the HF layout (dsck-shard --hf), then reshard the result",
				      ck->mp_ranks);
	}
	if (ck->has_config) {
		p->block_rows = ck->cfg.block_rows;
		p->block_cols = ck->cfg.block_cols;
	}
	p->scale_ue8m0 = o->ue8m0;
	if (o->to == DSCK_F8_E4M3) {
		if (!ck->has_config) {
			dsck_error_file(err, ck->path);
			dsck_error_tensor(err, CONFIG_NAME);
			return dsck_error_set(err, DSCK_E_CONFIG_MISSING,
					      "--to fp8 needs config.json to know which tensors are FP8 projections");
		}
		rc = dsck_inventory_build(&ck->cfg, DSCK_CKPT_FP8, &inv, err);
		if (rc)
			return rc;
	}
	u = calloc(ck->n ? ck->n : 1, sizeof *u);
	if (!u) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "convert units");
		goto out;
	}
	/* units in input order */
	for (uint32_t s = 0; s < ck->n_shards && !rc; s++) {
		const struct dsck_st *st = ck->shards[s];
		for (size_t i = 0; i < st->n_tensors && !rc; i++) {
			const char *name = st->tensors[i].name;
			if (is_fp8_scale(ck, name))
				continue;
			struct unit *x = &u[nu];
			x->w = ck_index(ck, name);
			if (x->w < 0 || ck->tensors[x->w].shard != s)
				continue; /* listed for another shard; ckpt resolved it there */
			x->s = -1;
			x->shard = s;
			if (ck->tensors[x->w].t->dtype == DSCK_F8_E4M3) {
				char sname[DSCK_ST_MAX_NAME + sizeof SCALE_SUFFIX];
				snprintf(sname, sizeof sname, "%s" SCALE_SUFFIX, name);
				x->s = ck_index(ck, sname);
			}
			rc = decide(ck, o, &inv, p->block_rows, p->block_cols, x, stats, err);
			x->bytes = unit_bytes(ck, x, p->block_rows, p->block_cols);
			any_fp8 |= x->out == DSCK_F8_E4M3;
			quantized_now |= x->xf == DSCK_XF_QUANT;
			nu++;
		}
	}
	if (rc)
		goto out;

	/* grouping */
	if (o->max_shard_size) {
		uint64_t acc = 0;
		for (size_t i = 0; i < nu; i++) {
			if (i == 0 || (acc && acc + u[i].bytes > o->max_shard_size)) {
				n_out++;
				acc = 0;
			}
			u[i].file = n_out - 1;
			acc += u[i].bytes;
		}
		for (uint32_t f = 0; f < n_out && !rc; f++) {
			char name[64];
			if (n_out == 1)
				snprintf(name, sizeof name, "model.safetensors");
			else
				snprintf(name, sizeof name, "model-%05u-of-%05u.safetensors", f + 1, n_out);
			rc = dsck_plan_add_file(p, name, err);
			for (size_t i = 0; i < nu && !rc; i++)
				if (u[i].file == f)
					rc = emit(ck, p, &u[i], err);
		}
	} else {
		for (uint32_t s = 0; s < ck->n_shards && !rc; s++) {
			int opened = 0;
			for (size_t i = 0; i < nu && !rc; i++) {
				if (u[i].shard != s)
					continue;
				if (!opened) {
					rc = dsck_plan_add_file(p, ck->shard_names[s], err);
					opened = 1;
					n_out++;
				}
				if (!rc)
					rc = emit(ck, p, &u[i], err);
			}
		}
	}
	if (rc)
		goto out;

	/* side files: copies, config.json, index */
	size_t plen = strlen(ck->path);
	int single_file = plen >= 12 && strcmp(ck->path + plen - 12, ".safetensors") == 0;
	/* CV-R6: config.json is written edited, the other files copied */
	if (!single_file)
		rc = dsck_plan_add_dir_files(p, ck, "config.json", err);
	if (!rc && ck->has_config && !single_file)
		rc = add_config(ck, o, p, any_fp8, quantized_now, err);
	if (!rc && (n_out > 1 || ck->has_index))
		rc = dsck_plan_add_index(p, err);
	if (!rc)
		rc = dsck_plan_layout(p, err);
out:
	if (rc)
		dsck_plan_release(p);
	dsck_inventory_release(&inv);
	free(u);
	return rc;
}
