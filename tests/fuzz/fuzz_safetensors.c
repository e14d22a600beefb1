/*
 * fuzz_safetensors.c - libFuzzer entry for the safetensors header reader.
 *
 * The input is a whole file: dsck_st_parse(data, n, n). On success the
 * result must satisfy what the reader promises (formats.md ST-R10..ST-R16):
 * tensors sorted by offset, contiguous from 0, covering the data exactly,
 * each span equal to its shape and dtype, every name found by lookup. A
 * broken promise aborts, which libFuzzer reports as a crash.
 */
#include "safetensors.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void fuzz_require(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dsck_st *st = NULL;
	struct dsck_error err;

	dsck_error_clear(&err);
	enum dsck_err rc = dsck_st_parse(data, size, size, "fuzz", &st, &err);
	if (rc != DSCK_OK) {
		fuzz_require(st == NULL && err.code == rc);
		return 0;
	}
	fuzz_require(st != NULL && st->file.fd < 0);
	fuzz_require(st->data_start == 8 + st->header_len);
	fuzz_require(st->data_start + st->data_len == size);
	fuzz_require(st->n_tensors <= DSCK_ST_MAX_TENSORS);
	uint64_t pos = 0;
	for (size_t i = 0; i < st->n_tensors; i++) {
		const struct dsck_st_tensor *t = &st->tensors[i];
		uint64_t nbytes = 0;
		fuzz_require(t->begin == pos && t->end >= t->begin);
		fuzz_require(t->ndim <= DSCK_MAX_DIMS);
		fuzz_require(dsck_dtype_nbytes(t->dtype, t->numel, &nbytes) == 0);
		fuzz_require(t->end - t->begin == nbytes);
		fuzz_require(t->name_len > 0 && t->name_len <= DSCK_ST_MAX_NAME);
		fuzz_require(strlen(t->name) == t->name_len);
		long k = dsck_st_find(st, t->name, t->name_len);
		fuzz_require(k == (long)i);
		pos = t->end;
	}
	fuzz_require(pos == st->data_len);
	for (size_t m = 0; m < st->n_meta; m++)
		fuzz_require(dsck_st_meta_get(st, st->meta[m].key) != NULL);
	fuzz_require(dsck_st_find(st, "__metadata__", 12) == -1);
	dsck_st_free(st);
	return 0;
}
