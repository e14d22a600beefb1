/*
 * manifest_logical.c - tensor hashes of an MP(N) directory (MF-R6): each
 * logical tensor (HF name, full shape, lib/logical.h) hashed over its bytes
 * in row-major order, read from the ranks' slices, so the model hash of an
 * MP directory equals that of the HF checkpoint it holds.
 */
#include "manifest_int.h"

#include "logical.h"

#include <stdlib.h>
#include <string.h>

static int cmp_tensor(const void *a, const void *b)
{
	return strcmp(((const struct dsck_manifest_tensor *)a)->name,
		      ((const struct dsck_manifest_tensor *)b)->name);
}

/* Feed bytes [off, off+n) of physical tensor phys to h, in chunks. */
static enum dsck_err feed_range(const struct dsck_ckpt *ck, uint32_t phys, uint64_t off,
				uint64_t n, unsigned char *buf, size_t cap,
				struct dsck_sha256 *h, struct dsck_error *err)
{
	const struct dsck_ckpt_tensor *ct = &ck->tensors[phys];
	while (n) {
		size_t k = n < cap ? (size_t)n : cap;
		enum dsck_err rc = dsck_ckpt_read(ck, ct, off, buf, k, err);
		if (!rc)
			rc = dsck_sha256_update(h, buf, k, err);
		if (rc)
			return rc;
		off += k;
		n -= k;
	}
	return DSCK_OK;
}

/* SHA-256 of logical tensor lt's bytes in row-major order (MF-R2). */
static enum dsck_err hash_logical(const struct dsck_ckpt *ck, const struct dsck_logical *v,
				  const struct dsck_ltensor *lt, unsigned char *buf, size_t cap,
				  char hex[DSCK_SHA256_HEX], struct dsck_error *err)
{
	struct dsck_sha256 h;
	uint64_t rows, cols, esz = dsck_dtype_bits(lt->dt) / 8;
	const struct dsck_lpiece *p = v->p + lt->p0;
	enum dsck_err rc = dsck_sha256_init(&h, err);
	if (rc)
		return rc;
	dsck_shape_2d(lt->ndim, lt->shape, &rows, &cols);
	int by_rows = 1;
	for (uint32_t k = 0; k < lt->np; k++)
		by_rows &= p[k].c0 == 0 && p[k].cols == cols;
	if (by_rows) { /* whole rows, one piece after another */
		for (uint32_t k = 0; k < lt->np && !rc; k++)
			rc = feed_range(ck, p[k].phys, 0, p[k].rows * p[k].cols * esz, buf, cap, &h, err);
	} else { /* column slices: row r is every piece's row r in turn */
		uint64_t row_bytes = cols * esz;
		uint64_t step = cap / (row_bytes ? row_bytes : 1);
		if (step == 0)
			step = 1;
		for (uint64_t r = 0; r < rows && !rc; r += step) {
			uint64_t nr = rows - r < step ? rows - r : step;
			for (uint64_t i = 0; i < nr && !rc; i++)
				for (uint32_t k = 0; k < lt->np && !rc; k++) {
					uint64_t seg = p[k].cols * esz;
					rc = feed_range(ck, p[k].phys, (r + i - p[k].r0) * seg, seg, buf, cap,
							&h, err);
				}
		}
	}
	if (rc) {
		dsck_sha256_release(&h);
		return rc;
	}
	return dsck_sha256_final(&h, hex, err);
}

enum dsck_err mf_logical_tensors(const struct dsck_ckpt *ck, struct dsck_manifest *m,
				 size_t buf_bytes, struct dsck_error *err)
{
	struct dsck_logical v;
	unsigned char *buf = malloc(buf_bytes);
	enum dsck_err rc;

	if (!buf)
		return dsck_error_set(err, DSCK_E_NOMEM, "read buffer");
	rc = dsck_logical_build(&v, ck, err);
	if (rc) {
		free(buf);
		return rc;
	}
	m->tensors = calloc(v.n ? v.n : 1, sizeof *m->tensors);
	if (!m->tensors)
		rc = dsck_error_set(err, DSCK_E_NOMEM, "tensor table");
	for (size_t i = 0; i < v.n && !rc; i++) {
		const struct dsck_ltensor *lt = &v.t[i];
		struct dsck_manifest_tensor *t = &m->tensors[i];
		t->name = strdup(lt->hf);
		if (!t->name) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "tensor name");
			break;
		}
		m->n_tensors++;
		t->dtype = lt->dt;
		t->ndim = lt->ndim;
		memcpy(t->shape, lt->shape, sizeof t->shape);
		rc = hash_logical(ck, &v, lt, buf, buf_bytes, t->sha256, err);
		if (rc)
			dsck_error_tensor(err, lt->hf);
	}
	if (!rc)
		qsort(m->tensors, m->n_tensors, sizeof *m->tensors, cmp_tensor);
	dsck_logical_release(&v);
	free(buf);
	return rc;
}
