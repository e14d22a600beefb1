/*
 * st_rewrite.c - oracle helper: `st-rewrite IN OUT` reads IN with the strict
 * reader and writes every tensor and every metadata pair to OUT with the
 * streaming writer, copying data in 1 MiB chunks through dsck_st_read.
 * tests/oracle/check_writer.py compares OUT byte for byte with what
 * safetensors.numpy.save_file wrote for IN (formats.md ST-W1, ST-W2).
 * Exit codes follow the tools (0 ok, 1 invalid input, 2 usage, 3 I/O).
 */
#include "safetensors.h"

#include <stdio.h>
#include <stdlib.h>

#define REWRITE_CHUNK (1u << 20) /* bytes per read/write */

static int rewrite_fail(const struct dsck_error *e)
{
	char line[1024];
	dsck_error_format(e, line, sizeof line);
	fprintf(stderr, "st-rewrite: error: %s\n", line);
	return dsck_err_exit_code(e->code);
}

int main(int argc, char **argv)
{
	struct dsck_error err;
	struct dsck_st *st = NULL;
	struct dsck_st_spec *specs = NULL;
	const char **kv = NULL;
	unsigned char *buf = NULL;
	struct dsck_stw stw;
	int opened = 0, status = 0;
	enum dsck_err rc;

	dsck_error_clear(&err);
	if (argc != 3) {
		fprintf(stderr, "usage: st-rewrite IN OUT\n");
		return DSCK_EXIT_USAGE;
	}
	rc = dsck_st_open(argv[1], &st, &err);
	if (rc)
		goto out;
	specs = calloc(st->n_tensors ? st->n_tensors : 1, sizeof *specs);
	kv = calloc(st->n_meta ? 2 * st->n_meta : 1, sizeof *kv);
	buf = malloc(REWRITE_CHUNK);
	if (!specs || !kv || !buf) {
		rc = dsck_error_set(&err, DSCK_E_NOMEM, "rewrite tables");
		goto out;
	}
	for (size_t i = 0; i < st->n_tensors; i++) {
		const struct dsck_st_tensor *t = &st->tensors[i];
		specs[i].name = t->name;
		specs[i].dtype = t->dtype;
		specs[i].ndim = t->ndim;
		for (uint32_t d = 0; d < t->ndim; d++)
			specs[i].shape[d] = t->shape[d];
	}
	for (size_t m = 0; m < st->n_meta; m++) {
		kv[2 * m] = st->meta[m].key;
		kv[2 * m + 1] = st->meta[m].value;
	}
	rc = dsck_stw_open(&stw, argv[2], specs, st->n_tensors, kv, st->n_meta, 0, &err);
	if (rc)
		goto out;
	opened = 1;
	/* specs[i] is st->tensors[i]; stw.order gives the on-disk order */
	for (size_t k = 0; k < stw.n; k++) {
		size_t i = stw.order[k];
		uint64_t size = st->tensors[i].end - st->tensors[i].begin;
		for (uint64_t off = 0; off < size;) {
			size_t n = size - off < REWRITE_CHUNK ? (size_t)(size - off) : REWRITE_CHUNK;
			rc = dsck_st_read(st, i, off, buf, n, &err);
			if (rc)
				goto out;
			rc = dsck_stw_write(&stw, buf, n, &err);
			if (rc)
				goto out;
			off += n;
		}
	}
	opened = 0;
	rc = dsck_stw_commit(&stw, &err);
out:
	if (opened)
		dsck_stw_abort(&stw);
	if (rc)
		status = rewrite_fail(&err);
	free(buf);
	free(kv);
	free(specs);
	dsck_st_free(st);
	return status;
}
