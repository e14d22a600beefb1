/*
 * summary.c - what dsck-inspect says about a checkpoint without reading
 * tensor data: bytes and counts by dtype, parameter counts (from the
 * inventory the config implies, and from the tensors present), the layout,
 * and findings (formats.md §5 comparison, ST-R6 whitespace warnings). An
 * auto_map is not a finding, since real configs carry it: the output notes it
 * (CF-R8). Every pass is O(tensors) with hash lookups: the 671B layout
 * (91,991 tensors in 163 shards) takes milliseconds after the headers.
 */
#include "inspect.h"

#include "arith.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define SCALE_SUFFIX "_scale_inv"

static int name_is_scale(const char *name, size_t len)
{
	size_t k = sizeof SCALE_SUFFIX - 1;
	return len >= k && memcmp(name + len - k, SCALE_SUFFIX, k) == 0;
}

/* Append a finding; NULL when out of memory. */
static struct insp_finding *finding_add(struct insp_summary *s, const char *kind,
					uint64_t count, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static struct insp_finding *finding_add(struct insp_summary *s, const char *kind,
					uint64_t count, const char *fmt, ...)
{
	if (s->n_findings == s->cap_findings) {
		size_t ncap = s->cap_findings ? s->cap_findings * 2 : 8;
		struct insp_finding *nf = realloc(s->findings, ncap * sizeof *nf);
		if (!nf)
			return NULL;
		s->findings = nf;
		s->cap_findings = ncap;
	}
	struct insp_finding *f = &s->findings[s->n_findings++];
	memset(f, 0, sizeof *f);
	f->kind = kind;
	f->count = count;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof f->message, fmt, ap);
	va_end(ap);
	return f;
}

static void finding_example(struct insp_finding *f, const char *name)
{
	if (f && f->n_examples < INSP_EXAMPLES)
		f->examples[f->n_examples++] = name;
}

/* Collected names of one kind before the finding is written. */
struct name_list {
	uint64_t count;
	size_t n;
	const char *names[INSP_EXAMPLES];
};

static void name_list_add(struct name_list *l, const char *name)
{
	l->count++;
	if (l->n < INSP_EXAMPLES)
		l->names[l->n++] = name;
}

static enum dsck_err name_list_flush(struct insp_summary *s, const struct name_list *l,
				     const char *kind, const char *what,
				     struct dsck_error *err)
{
	if (l->count == 0)
		return DSCK_OK;
	struct insp_finding *f = finding_add(s, kind, l->count, "%llu %s",
					     (unsigned long long)l->count, what);
	if (!f)
		return dsck_error_set(err, DSCK_E_NOMEM, "findings");
	for (size_t i = 0; i < l->n; i++)
		finding_example(f, l->names[i]);
	return DSCK_OK;
}

static int shape_equal(const struct dsck_st_tensor *t, const struct dsck_inv_tensor *e)
{
	if (t->ndim != e->ndim)
		return 0;
	for (uint32_t d = 0; d < t->ndim; d++)
		if (t->shape[d] != e->shape[d])
			return 0;
	return 1;
}

/* Compare the tensors with the inventory: counts, missing, unexpected,
 * dtype and shape (formats.md §5). */
static enum dsck_err summary_compare(const struct dsck_ckpt *ck,
				     struct insp_summary *s,
				     struct dsck_error *err)
{
	struct name_list missing = { 0 }, unexpected = { 0 }, dtype = { 0 }, shape = { 0 };
	enum dsck_err rc = DSCK_OK;
	const struct dsck_inventory *inv = &s->inv;

	if (ck->n != inv->n &&
	    !finding_add(s, "tensor_count", (uint64_t)ck->n,
			 "checkpoint has %zu tensors, the config implies %zu (%zu main + %zu MTP)",
			 ck->n, inv->n, inv->n_main, inv->n_mtp))
		goto nomem;
	for (size_t i = 0; i < inv->n; i++) {
		const struct dsck_inv_tensor *e = &inv->t[i];
		const struct dsck_ckpt_tensor *ct = dsck_ckpt_find(ck, e->name, strlen(e->name));
		if (!ct) {
			name_list_add(&missing, e->name);
			continue;
		}
		if (ct->t->dtype != e->dtype)
			name_list_add(&dtype, e->name);
		else if (!shape_equal(ct->t, e))
			name_list_add(&shape, e->name);
	}
	for (size_t i = 0; i < ck->n; i++) {
		const struct dsck_st_tensor *t = ck->tensors[i].t;
		if (dsck_inventory_find(inv, t->name, t->name_len) < 0)
			name_list_add(&unexpected, t->name);
	}
	rc = name_list_flush(s, &missing, "missing", "tensors the config implies are missing", err);
	if (!rc)
		rc = name_list_flush(s, &unexpected, "unexpected",
				     "tensors are not implied by the config", err);
	if (!rc)
		rc = name_list_flush(s, &dtype, "dtype",
				     "tensors have a dtype other than the config implies", err);
	if (!rc)
		rc = name_list_flush(s, &shape, "shape",
				     "tensors have a shape other than the config implies", err);
	goto out;
nomem:
	rc = dsck_error_set(err, DSCK_E_NOMEM, "findings");
out:
	return rc;
}

enum dsck_err insp_summary_build(const struct dsck_ckpt *ck,
				 struct insp_summary *s, struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	struct name_list ws = { 0 };

	memset(s, 0, sizeof *s);
	s->block_rows = s->block_cols = 128;
	for (size_t i = 0; i < ck->n; i++) {
		const struct dsck_st_tensor *t = ck->tensors[i].t;
		uint64_t nb = t->end - t->begin;
		if ((unsigned)t->dtype < DSCK_DTYPE_COUNT) {
			s->count_by_dtype[t->dtype]++;
			s->bytes_by_dtype[t->dtype] += nb; /* <= payload, which fit */
		}
		if (t->dtype == DSCK_F8_E4M3)
			s->layout_fp8 = 1;
		if (!name_is_scale(t->name, t->name_len) &&
		    dsck_add_u64(s->params_present, t->numel, &s->params_present)) {
			rc = dsck_error_set(err, DSCK_E_OVERFLOW, "parameter count");
			goto out;
		}
	}

	for (size_t i = 0; i < ck->n_shards; i++)
		if (ck->shards[i]->warnings & DSCK_ST_WARN_LEADING_WS)
			name_list_add(&ws, ck->shard_names[i]);
	rc = name_list_flush(s, &ws, "leading_whitespace",
			     "shard headers start with whitespace before '{' (accepted, ST-R6)",
			     err);
	if (rc)
		goto out;

	if (!ck->has_config) {
		if (!finding_add(s, "no_config", 0,
				 "no config.json: parameter counts from the config and the inventory check are skipped"))
			goto nomem;
		goto out;
	}

	const struct dsck_config *cfg = &ck->cfg;
	if (cfg->quantized) {
		s->block_rows = cfg->block_rows;
		s->block_cols = cfg->block_cols;
	}
	if (cfg->quantized && !s->layout_fp8 &&
	    !finding_add(s, "quantization", 0,
			 "config.json has quantization_config but no tensor is F8_E4M3"))
		goto nomem;
	if (!cfg->quantized && s->layout_fp8 &&
	    !finding_add(s, "quantization", 0,
			 "tensors are F8_E4M3 but config.json has no quantization_config"))
		goto nomem;

	rc = dsck_inventory_build(cfg, s->layout_fp8 ? DSCK_CKPT_FP8 : DSCK_CKPT_BF16,
				  &s->inv, err);
	if (rc)
		goto out;
	s->has_inv = 1;
	rc = summary_compare(ck, s, err);
	goto out;
nomem:
	rc = dsck_error_set(err, DSCK_E_NOMEM, "findings");
out:
	return rc;
}

void insp_summary_release(struct insp_summary *s)
{
	if (s->has_inv)
		dsck_inventory_release(&s->inv);
	free(s->findings);
	memset(s, 0, sizeof *s);
}
