/*
 * manifest_compare.c - compare two manifests (manifest.h, MF-R4): every
 * file and tensor whose size, hash, dtype or shape differs, every one
 * missing and every one unexpected, then the model hash, reported one by
 * one through the caller's callback. Both sides are sorted by name, so one
 * merge walk per table finds everything in O(n).
 */
#include "manifest.h"
#include "manifest_int.h"

#include <stdio.h>
#include <string.h>

/* ---- comparing ------------------------------------------------------ */

const char *dsck_manifest_diff_name(enum dsck_manifest_diff_kind kind)
{
	switch (kind) {
	case DSCK_DIFF_FILE_SIZE: return "FILE_SIZE";
	case DSCK_DIFF_FILE_HASH: return "FILE_HASH";
	case DSCK_DIFF_FILE_MISSING: return "FILE_MISSING";
	case DSCK_DIFF_FILE_UNEXPECTED: return "FILE_UNEXPECTED";
	case DSCK_DIFF_TENSOR_DTYPE: return "TENSOR_DTYPE";
	case DSCK_DIFF_TENSOR_SHAPE: return "TENSOR_SHAPE";
	case DSCK_DIFF_TENSOR_HASH: return "TENSOR_HASH";
	case DSCK_DIFF_TENSOR_MISSING: return "TENSOR_MISSING";
	case DSCK_DIFF_TENSOR_UNEXPECTED: return "TENSOR_UNEXPECTED";
	case DSCK_DIFF_MODEL_HASH: return "MODEL_HASH";
	}
	return "UNKNOWN";
}

/* Counts and forwards one difference. */
struct mf_cmp {
	dsck_manifest_diff_fn cb;
	void *user;
	size_t count;
};

static void mf_report(struct mf_cmp *c, enum dsck_manifest_diff_kind kind,
		      const char *file, const char *tensor,
		      const char *expected, const char *found)
{
	struct dsck_manifest_diff d;
	c->count++;
	if (!c->cb)
		return;
	d.kind = kind;
	d.file = file;
	d.tensor = tensor;
	snprintf(d.expected, sizeof d.expected, "%s", expected ? expected : "");
	snprintf(d.found, sizeof d.found, "%s", found ? found : "");
	c->cb(&d, c->user);
}

static void mf_compare_files(const struct dsck_manifest *e,
			     const struct dsck_manifest *a, struct mf_cmp *c)
{
	size_t i = 0, j = 0;
	char x[32], y[32];
	while (i < e->n_files || j < a->n_files) {
		int r = i == e->n_files ? 1 : j == a->n_files ? -1
			: strcmp(e->files[i].name, a->files[j].name);
		if (r < 0) {
			mf_report(c, DSCK_DIFF_FILE_MISSING, e->files[i].name, NULL,
				  "present", "absent");
			i++;
		} else if (r > 0) {
			mf_report(c, DSCK_DIFF_FILE_UNEXPECTED, a->files[j].name, NULL,
				  "absent", "present");
			j++;
		} else {
			const struct dsck_manifest_file *fe = &e->files[i], *fa = &a->files[j];
			if (fe->size != fa->size) {
				snprintf(x, sizeof x, "%llu", (unsigned long long)fe->size);
				snprintf(y, sizeof y, "%llu", (unsigned long long)fa->size);
				mf_report(c, DSCK_DIFF_FILE_SIZE, fe->name, NULL, x, y);
			}
			if (strcmp(fe->sha256, fa->sha256) != 0)
				mf_report(c, DSCK_DIFF_FILE_HASH, fe->name, NULL,
					  fe->sha256, fa->sha256);
			i++;
			j++;
		}
	}
}

static void mf_compare_tensors(const struct dsck_manifest *e,
			       const struct dsck_manifest *a, struct mf_cmp *c)
{
	size_t i = 0, j = 0;
	char x[DSCK_DIFF_TEXT], y[DSCK_DIFF_TEXT];
	while (i < e->n_tensors || j < a->n_tensors) {
		int r = i == e->n_tensors ? 1 : j == a->n_tensors ? -1
			: strcmp(e->tensors[i].name, a->tensors[j].name);
		if (r < 0) {
			const struct dsck_manifest_tensor *t = &e->tensors[i++];
			mf_report(c, DSCK_DIFF_TENSOR_MISSING, t->file, t->name,
				  "present", "absent");
			continue;
		}
		if (r > 0) {
			const struct dsck_manifest_tensor *t = &a->tensors[j++];
			mf_report(c, DSCK_DIFF_TENSOR_UNEXPECTED, t->file, t->name,
				  "absent", "present");
			continue;
		}
		const struct dsck_manifest_tensor *te = &e->tensors[i++];
		const struct dsck_manifest_tensor *ta = &a->tensors[j++];
		const char *file = ta->file ? ta->file : te->file;
		if (te->dtype != ta->dtype) {
			const char *de = dsck_dtype_name(te->dtype), *da = dsck_dtype_name(ta->dtype);
			mf_report(c, DSCK_DIFF_TENSOR_DTYPE, file, te->name,
				  de ? de : "?", da ? da : "?");
		}
		if (te->ndim != ta->ndim ||
		    memcmp(te->shape, ta->shape, te->ndim * sizeof te->shape[0]) != 0) {
			dsck_manifest_shape_text(te, ", ", 1, x, sizeof x);
			dsck_manifest_shape_text(ta, ", ", 1, y, sizeof y);
			mf_report(c, DSCK_DIFF_TENSOR_SHAPE, file, te->name, x, y);
		}
		if (strcmp(te->sha256, ta->sha256) != 0)
			mf_report(c, DSCK_DIFF_TENSOR_HASH, file, te->name,
				  te->sha256, ta->sha256);
	}
}

size_t dsck_manifest_compare(const struct dsck_manifest *expected,
			     const struct dsck_manifest *actual,
			     dsck_manifest_diff_fn cb, void *user)
{
	struct mf_cmp c = { cb, user, 0 };
	mf_compare_files(expected, actual, &c);
	mf_compare_tensors(expected, actual, &c);
	if (strcmp(expected->model_sha256, actual->model_sha256) != 0)
		mf_report(&c, DSCK_DIFF_MODEL_HASH, NULL, NULL,
			  expected->model_sha256, actual->model_sha256);
	return c.count;
}
