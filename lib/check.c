/* check.c - structural comparison of a checkpoint with its inventory (check.h). */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const finding_names[DSCK_FIND_KIND_COUNT] = {
	[DSCK_FIND_MISSING] = "missing",
	[DSCK_FIND_UNEXPECTED] = "unexpected",
	[DSCK_FIND_DTYPE] = "dtype",
	[DSCK_FIND_SHAPE] = "shape",
	[DSCK_FIND_NO_SCALE] = "no_scale",
	[DSCK_FIND_ORPHAN_SCALE] = "orphan_scale",
	[DSCK_FIND_CONFIG] = "config",
	[DSCK_FIND_VALUES] = "values",
	[DSCK_FIND_HASH] = "hash",
};
_Static_assert(sizeof finding_names / sizeof finding_names[0] == DSCK_FIND_KIND_COUNT,
	       "finding names must cover the enum");

const char *dsck_finding_kind_name(enum dsck_finding_kind k)
{
	return (unsigned)k < DSCK_FIND_KIND_COUNT ? finding_names[k] : "unknown";
}

static void shape_str(char *buf, size_t n, uint32_t ndim, const uint64_t *shape)
{
	size_t used = 0;
	used += (size_t)snprintf(buf, n, "[");
	for (uint32_t i = 0; i < ndim && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%llu",
					 i ? ", " : "", (unsigned long long)shape[i]);
	if (used < n)
		snprintf(buf + used, n - used, "]");
}

struct check_ctx {
	const struct dsck_ckpt *ck;
	dsck_finding_fn fn;
	void *user;
	size_t count;
};

static void report(struct check_ctx *c, enum dsck_finding_kind kind,
		   const struct dsck_ckpt_tensor *ct, const char *tensor,
		   const char *detail)
{
	struct dsck_finding f;
	memset(&f, 0, sizeof f);
	f.kind = kind;
	f.tensor = tensor;
	f.file = ct ? c->ck->shard_names[ct->shard] : NULL;
	f.detail = detail;
	c->count++;
	c->fn(&f, c->user);
}

static void report_ef(struct check_ctx *c, enum dsck_finding_kind kind,
		      const struct dsck_ckpt_tensor *ct, const char *tensor,
		      const char *expected, const char *found)
{
	struct dsck_finding f;
	memset(&f, 0, sizeof f);
	f.kind = kind;
	f.tensor = tensor;
	f.file = ct ? c->ck->shard_names[ct->shard] : NULL;
	snprintf(f.expected, sizeof f.expected, "%s", expected);
	snprintf(f.found, sizeof f.found, "%s", found);
	c->count++;
	c->fn(&f, c->user);
}

/* Is "<weight>.weight_scale_inv" present for an F8 tensor named w? */
static const struct dsck_ckpt_tensor *find_scale(const struct dsck_ckpt *ck,
						 const char *w, char *buf, size_t n)
{
	size_t len = strlen(w);
	if (len + sizeof "_scale_inv" > n)
		return NULL;
	memcpy(buf, w, len);
	memcpy(buf + len, "_scale_inv", sizeof "_scale_inv");
	return dsck_ckpt_find(ck, buf, strlen(buf));
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

/* Counts projections stored as F8 vs BF16 to tell which layout the
 * checkpoint really has, whatever config.json claims. */
static void count_layout(const struct dsck_ckpt *ck, const struct dsck_inventory *inv,
			 size_t *n_f8, size_t *n_bf16, size_t *n_scales)
{
	*n_f8 = *n_bf16 = *n_scales = 0;
	for (size_t i = 0; i < ck->n; i++) {
		const struct dsck_st_tensor *t = ck->tensors[i].t;
		if (ends_with(t->name, "_scale_inv"))
			(*n_scales)++;
		long k = dsck_inventory_find(inv, t->name, t->name_len);
		if (k < 0 || inv->t[k].role != DSCK_ROLE_PROJ)
			continue;
		if (t->dtype == DSCK_F8_E4M3)
			(*n_f8)++;
		else if (t->dtype == DSCK_BF16 || t->dtype == DSCK_F16 || t->dtype == DSCK_F32)
			(*n_bf16)++;
	}
}

enum dsck_err dsck_check_structure(const struct dsck_ckpt *ck, dsck_finding_fn fn,
				   void *user, size_t *n_findings,
				   struct dsck_error *err)
{
	struct dsck_inventory inv;
	struct check_ctx c = { ck, fn, user, 0 };
	enum dsck_err rc;
	char exp[96], got[96], namebuf[1024];

	memset(&inv, 0, sizeof inv);
	*n_findings = 0;
	if (!ck->has_config)
		return dsck_error_set(err, DSCK_E_CONFIG_MISSING,
				      "%s has no config.json: the expected tensors cannot be derived",
				      ck->dir ? ck->dir : ck->path);

	/* Which layout do the tensors have? A BF16 checkpoint that kept
	 * quantization_config is the common stale-metadata case: say so once
	 * and check the tensors as BF16, instead of one finding per tensor. */
	enum dsck_ckpt_dtype want = ck->cfg.quantized ? DSCK_CKPT_FP8 : DSCK_CKPT_BF16;
	rc = dsck_inventory_build(&ck->cfg, want, &inv, err);
	if (rc)
		goto out;
	size_t n_f8, n_bf16, n_scales;
	count_layout(ck, &inv, &n_f8, &n_bf16, &n_scales);
	if (want == DSCK_CKPT_FP8 && n_f8 == 0 && n_scales == 0 && n_bf16 > 0) {
		report(&c, DSCK_FIND_CONFIG, NULL, "config.json",
		       "config.json has quantization_config but every projection is BF16 and no weight_scale_inv exists; remove quantization_config (checked as BF16 below)");
		want = DSCK_CKPT_BF16;
	} else if (want == DSCK_CKPT_BF16 && n_f8 > 0) {
		report(&c, DSCK_FIND_CONFIG, NULL, "config.json",
		       "config.json has no quantization_config but projections are F8_E4M3 (checked as FP8 below)");
		want = DSCK_CKPT_FP8;
	}
	if ((want == DSCK_CKPT_FP8) != (ck->cfg.quantized != 0)) {
		struct dsck_config cfg2 = ck->cfg;
		cfg2.quantized = want == DSCK_CKPT_FP8;
		if (cfg2.quantized && cfg2.block_rows == 0)
			cfg2.block_rows = cfg2.block_cols = 128;
		dsck_inventory_release(&inv);
		rc = dsck_inventory_build(&cfg2, want, &inv, err);
		if (rc)
			goto out;
	}

	/* The 16-bit tensors of the inventory are in the config's torch_dtype
	 * (a dsck-convert --to f16/f32 output says float16/float32 there). */
	enum dsck_dtype wide = DSCK_BF16;
	if (strcmp(ck->cfg.torch_dtype, "float16") == 0)
		wide = DSCK_F16;
	else if (strcmp(ck->cfg.torch_dtype, "float32") == 0)
		wide = DSCK_F32;

	/* Expected -> present. */
	for (size_t i = 0; i < inv.n; i++) {
		const struct dsck_inv_tensor *e = &inv.t[i];
		const struct dsck_ckpt_tensor *ct = dsck_ckpt_find(ck, e->name, strlen(e->name));
		if (!ct) {
			if (e->role == DSCK_ROLE_SCALE) {
				const struct dsck_inv_tensor *w = &inv.t[e->scale_of];
				const struct dsck_ckpt_tensor *wt =
					dsck_ckpt_find(ck, w->name, strlen(w->name));
				if (wt && wt->t->dtype == DSCK_F8_E4M3) {
					report(&c, DSCK_FIND_NO_SCALE, wt, w->name,
					       "FP8 weight without its weight_scale_inv: it cannot be dequantized");
					continue;
				}
			}
			report(&c, DSCK_FIND_MISSING, NULL, e->name, NULL);
			continue;
		}
		const struct dsck_st_tensor *t = ct->t;
		if (e->role == DSCK_ROLE_SCALE) {
			const struct dsck_inv_tensor *w = &inv.t[e->scale_of];
			if (!dsck_ckpt_find(ck, w->name, strlen(w->name)))
				report(&c, DSCK_FIND_ORPHAN_SCALE, ct, e->name,
				       "scale whose weight does not exist");
		}
		enum dsck_dtype want_dt = e->dtype == DSCK_BF16 ? wide : e->dtype;
		if (t->dtype != want_dt) {
			if (e->role == DSCK_ROLE_ROUTER_BIAS)
				report_ef(&c, DSCK_FIND_DTYPE, ct, e->name, "F32 (router bias)",
					  dsck_dtype_name(t->dtype));
			else
				report_ef(&c, DSCK_FIND_DTYPE, ct, e->name,
					  dsck_dtype_name(want_dt), dsck_dtype_name(t->dtype));
		}
		int same = t->ndim == e->ndim;
		for (uint32_t d = 0; same && d < t->ndim; d++)
			same = t->shape[d] == e->shape[d];
		if (!same) {
			shape_str(exp, sizeof exp, e->ndim, e->shape);
			shape_str(got, sizeof got, t->ndim, t->shape);
			/* A scale's expected shape is its block grid. */
			report_ef(&c, DSCK_FIND_SHAPE, ct, e->name, exp, got);
		}
	}

	/* Present -> expected. */
	for (size_t i = 0; i < ck->n; i++) {
		const struct dsck_ckpt_tensor *ct = &ck->tensors[i];
		const struct dsck_st_tensor *t = ct->t;
		if (dsck_inventory_find(&inv, t->name, t->name_len) >= 0)
			continue;
		if (ends_with(t->name, "_scale_inv")) {
			size_t wl = t->name_len - (sizeof "_scale_inv" - 1);
			const struct dsck_ckpt_tensor *w = dsck_ckpt_find(ck, t->name, wl);
			if (!w || w->t->dtype != DSCK_F8_E4M3) {
				report(&c, DSCK_FIND_ORPHAN_SCALE, ct, t->name,
				       w ? "scale of a weight that is not F8_E4M3"
					 : "scale whose weight does not exist");
				continue;
			}
		}
		if (t->dtype == DSCK_F8_E4M3 && !find_scale(ck, t->name, namebuf, sizeof namebuf)) {
			report(&c, DSCK_FIND_NO_SCALE, ct, t->name,
			       "unexpected FP8 tensor without weight_scale_inv");
			continue;
		}
		report(&c, DSCK_FIND_UNEXPECTED, ct, t->name, NULL);
	}
	*n_findings = c.count;
out:
	dsck_inventory_release(&inv);
	return rc;
}
