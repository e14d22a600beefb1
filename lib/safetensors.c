/*
 * safetensors.c - strict safetensors reader and streaming writer
 * (safetensors.h; formats.md §2, rules ST-R1..ST-R16 and ST-W1..ST-W4).
 *
 * Reader: the 8-byte prefix decides N (ST-R1..R4) before anything is
 * allocated; only then are N bytes of header read (pread, never a map of the
 * file) and validated in rule order. The result owns one arena holding every
 * name and metadata string, the tensors sorted by data offset, and a hash map
 * name -> index. Error offsets are FILE offsets: 8 + offset in the header.
 *
 * Writer: the header is built by hand in the byte form of the reference
 * writer (serde_json compact output, metadata first, tensors by dtype
 * alignment rank descending then name), padded with spaces so 8 + N is a
 * multiple of 8, then the data are streamed through the atomic writer.
 */
#include "safetensors.h"
#include "arith.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST_META_KEY "__metadata__"
#define ST_MAX_INT 9007199254740992ull /* 2^53: largest integer the reader takes (J-R7) */

static uint64_t st_le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void st_le64_put(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* "[2,2]" into buf (shape of ndim <= DSCK_MAX_DIMS entries). */
static void st_shape_str(const uint64_t *shape, uint32_t ndim, char *buf, size_t n)
{
	size_t used = 0;
	int k = snprintf(buf, n, "[");
	if (k > 0)
		used = (size_t)k;
	for (uint32_t d = 0; d < ndim && used < n; d++) {
		k = snprintf(buf + used, n - used, "%s%llu", d ? "," : "",
			     (unsigned long long)shape[d]);
		if (k > 0)
			used += (size_t)k;
	}
	if (used < n)
		snprintf(buf + used, n - used, "]");
}

/* ---- reader ---------------------------------------------------------- */

/*
 * ST-R1..ST-R4 on the first avail bytes of a file of file_size bytes:
 * decides N without allocating anything. On success *n_out = N and
 * 8 + N <= file_size.
 */
static enum dsck_err st_check_prefix(const unsigned char *buf, size_t avail,
				     uint64_t file_size, uint64_t *n_out,
				     struct dsck_error *err)
{
	uint64_t n, end;
	size_t n_sz;

	dsck_error_offset(err, 0);
	if (file_size < 8) { /* ST-R1 */
		dsck_error_expect(err, "at least 8 bytes");
		dsck_error_found(err, "%llu bytes", (unsigned long long)file_size);
		return dsck_error_set(err, DSCK_E_HEADER_TOO_SMALL,
				      "file too short for the 8-byte header length");
	}
	if (avail < 8)
		return dsck_error_set(err, DSCK_E_INVALID_HEADER_LENGTH,
				      "only %zu bytes of the file were given", avail);
	n = st_le64(buf);
	if (dsck_u64_to_size(n, &n_sz)) /* ST-R2 */
		return dsck_error_set(err, DSCK_E_HEADER_TOO_LARGE,
				      "header length %llu does not fit in memory",
				      (unsigned long long)n);
	if (n > DSCK_ST_MAX_HEADER) { /* ST-R3, L-R1 */
		dsck_error_expect(err, "at most %llu bytes", DSCK_ST_MAX_HEADER);
		dsck_error_found(err, "%llu bytes", (unsigned long long)n);
		return dsck_error_set(err, DSCK_E_HEADER_TOO_LARGE,
				      "header length above the 100,000,000-byte cap");
	}
	if (dsck_add_u64(8, n, &end) || end > file_size) { /* ST-R4 */
		dsck_error_expect(err, "a file of at least %llu bytes (8 + header of %llu)",
				  (unsigned long long)end, (unsigned long long)n);
		dsck_error_found(err, "%llu bytes", (unsigned long long)file_size);
		return dsck_error_set(err, DSCK_E_INVALID_HEADER_LENGTH,
				      "header extends past the end of the file");
	}
	dsck_error_offset(err, -1);
	*n_out = n;
	return DSCK_OK;
}

/* State of one header validation. */
struct st_parse {
	const char *hdr;   /* header text, N bytes */
	size_t n;
	struct dsck_error *err;
};

/* Point the error at the key of root member idx (file offset). */
static void st_at_member(const struct st_parse *p, size_t idx)
{
	int64_t off = dsck_json_root_key_offset(p->hdr, p->n, idx);
	dsck_error_offset(p->err, off >= 0 ? off + 8 : -1);
}

/* ST-R7: __metadata__ is an object of strings; counts them. */
static enum dsck_err st_check_meta(const struct st_parse *p, const cJSON *m,
				   size_t idx, size_t *count)
{
	size_t k = 0;
	if (!cJSON_IsObject(m)) {
		st_at_member(p, idx);
		dsck_error_expect(p->err, "an object of strings");
		return dsck_error_set(p->err, DSCK_E_INVALID_METADATA,
				      "__metadata__ is not an object");
	}
	for (const cJSON *c = m->child; c; c = c->next, k++) {
		if (!cJSON_IsString(c)) {
			st_at_member(p, idx);
			dsck_error_tensor(p->err, c->string);
			dsck_error_expect(p->err, "a string value");
			return dsck_error_set(p->err, DSCK_E_INVALID_METADATA,
					      "__metadata__ value is not a string");
		}
	}
	*count = k;
	return DSCK_OK;
}

/* Integer array item of J-R7 into out[0..n); -1 if any entry is not one. */
static int st_int_array(const cJSON *a, uint64_t *out, size_t n)
{
	size_t k = 0;
	for (const cJSON *c = a->child; c; c = c->next, k++)
		if (k >= n || dsck_json_u64(c, &out[k]))
			return -1;
	return k == n ? 0 : -1;
}

/* ST-R8 and ST-R9 for root member idx (key name) into t. */
static enum dsck_err st_tensor_entry(const struct st_parse *p, const cJSON *e,
				     size_t idx, struct dsck_st_tensor *t)
{
	const cJSON *dtype = NULL, *shape = NULL, *offs = NULL;
	const char *name = e->string;
	size_t name_len = dsck_json_strlen(name);
	struct dsck_error *err = p->err;
	uint64_t be[2];
	int n_shape;

	dsck_error_tensor_n(err, name, name_len);
	if (!cJSON_IsObject(e)) {
		st_at_member(p, idx);
		dsck_error_expect(err, "an object with dtype, shape, data_offsets");
		return dsck_error_set(err, DSCK_E_INVALID_JSON, "tensor entry is not an object");
	}
	for (const cJSON *c = e->child; c; c = c->next) {
		if (strcmp(c->string, "dtype") == 0)
			dtype = c;
		else if (strcmp(c->string, "shape") == 0)
			shape = c;
		else if (strcmp(c->string, "data_offsets") == 0)
			offs = c;
		else {
			st_at_member(p, idx);
			dsck_error_found(err, "key \"%.64s\"", c->string);
			return dsck_error_set(err, DSCK_E_INVALID_JSON,
					      "unknown key in tensor entry (only dtype, shape, data_offsets)");
		}
	}
	if (!dtype || !shape || !offs) {
		st_at_member(p, idx);
		return dsck_error_set(err, DSCK_E_INVALID_JSON,
				      "tensor entry lacks \"%s\"",
				      !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
	}
	if (!cJSON_IsString(dtype) ||
	    dsck_dtype_from_name(dtype->valuestring, strlen(dtype->valuestring), &t->dtype)) {
		st_at_member(p, idx);
		dsck_error_expect(err, "one of the 22 safetensors dtype names");
		if (cJSON_IsString(dtype))
			dsck_error_found(err, "\"%.64s\"", dtype->valuestring);
		else
			dsck_error_found(err, "a JSON value that is not a string");
		return dsck_error_set(err, DSCK_E_INVALID_DTYPE, "unknown dtype");
	}
	if (!cJSON_IsArray(shape)) {
		st_at_member(p, idx);
		return dsck_error_set(err, DSCK_E_INVALID_JSON, "shape is not an array");
	}
	n_shape = cJSON_GetArraySize(shape);
	if (n_shape > DSCK_MAX_DIMS) { /* L-R3 */
		st_at_member(p, idx);
		dsck_error_expect(err, "at most %d dimensions", DSCK_MAX_DIMS);
		dsck_error_found(err, "%d", n_shape);
		return dsck_error_set(err, DSCK_E_LIMIT, "too many dimensions");
	}
	t->ndim = (uint32_t)n_shape;
	if (st_int_array(shape, t->shape, t->ndim)) {
		st_at_member(p, idx);
		dsck_error_expect(err, "integers in [0, 2^53]");
		return dsck_error_set(err, DSCK_E_INVALID_JSON, "shape entry is not an exact non-negative integer");
	}
	if (!cJSON_IsArray(offs) || st_int_array(offs, be, 2)) {
		st_at_member(p, idx);
		dsck_error_expect(err, "[begin, end], integers in [0, 2^53]");
		return dsck_error_set(err, DSCK_E_INVALID_JSON, "data_offsets is not an array of two integers");
	}
	t->begin = be[0];
	t->end = be[1];
	/* ST-R9: J-R3 and J-R5 already exclude NUL and keys over 64 KiB; kept
	 * here so the rule holds whatever the JSON profile becomes. */
	if (name_len == 0 || name_len > DSCK_ST_MAX_NAME || memchr(name, 0, name_len)) {
		st_at_member(p, idx);
		dsck_error_expect(err, "1..%u bytes", DSCK_ST_MAX_NAME);
		dsck_error_found(err, "%zu bytes", name_len);
		return dsck_error_set(err, DSCK_E_INVALID_NAME, "%s",
				      name_len == 0 ? "empty tensor name" : "tensor name length out of range");
	}
	t->name = name; /* cJSON-owned until moved into the arena */
	t->name_len = (uint32_t)name_len;
	return DSCK_OK;
}

struct st_order {
	uint64_t begin, end;
	const char *name;
	size_t t;       /* index in header order */
	size_t member;  /* root member index, for error offsets */
};

/* ST-R10 order: data_offsets (begin, end) like the reference; then name so
 * equal zero-size ranges sort the same on every platform. */
static int st_order_cmp(const void *a, const void *b)
{
	const struct st_order *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* ST-R10..ST-R13 for one tensor, in offset order; *pos is the previous end. */
static enum dsck_err st_check_layout(const struct st_parse *p,
				     struct dsck_st_tensor *t, size_t member,
				     const char *prev_name, uint64_t *pos)
{
	struct dsck_error *err = p->err;
	uint64_t numel = 1, bits, nbytes;
	char shp[200];

	dsck_error_tensor_n(err, t->name, t->name_len);
	if (t->begin != *pos || t->end < t->begin) { /* ST-R10 */
		st_at_member(p, member);
		if (t->end < t->begin) {
			dsck_error_expect(err, "end >= begin");
			dsck_error_found(err, "[%llu,%llu]", (unsigned long long)t->begin,
					 (unsigned long long)t->end);
			return dsck_error_set(err, DSCK_E_INVALID_OFFSET, "data_offsets end before begin");
		}
		dsck_error_expect(err, "begin %llu%s%s%s", (unsigned long long)*pos,
				  prev_name ? " (end of '" : " (start of the data)",
				  prev_name ? prev_name : "", prev_name ? "')" : "");
		dsck_error_found(err, "begin %llu", (unsigned long long)t->begin);
		return dsck_error_set(err, DSCK_E_INVALID_OFFSET, "%s",
				      t->begin > *pos ? "gap before tensor data"
						      : "tensor data overlaps the previous tensor");
	}
	for (uint32_t d = 0; d < t->ndim; d++) { /* ST-R11 */
		if (dsck_mul_u64(numel, t->shape[d], &numel)) {
			st_at_member(p, member);
			st_shape_str(t->shape, t->ndim, shp, sizeof shp);
			dsck_error_found(err, "shape %s", shp);
			return dsck_error_set(err, DSCK_E_OVERFLOW, "element count overflows 64 bits");
		}
	}
	t->numel = numel;
	int r = dsck_dtype_nbytes(t->dtype, numel, &nbytes);
	if (r == 1) {
		st_at_member(p, member);
		dsck_error_found(err, "%llu elements of %u bits", (unsigned long long)numel,
				 dsck_dtype_bits(t->dtype));
		return dsck_error_set(err, DSCK_E_OVERFLOW, "bit count overflows 64 bits");
	}
	if (r == 2) { /* ST-R12 */
		st_at_member(p, member);
		(void)dsck_mul_u64(numel, dsck_dtype_bits(t->dtype), &bits);
		dsck_error_expect(err, "a multiple of 8 bits");
		dsck_error_found(err, "%llu bits", (unsigned long long)bits);
		return dsck_error_set(err, DSCK_E_MISALIGNED, "tensor is not a whole number of bytes");
	}
	if (t->end - t->begin != nbytes) { /* ST-R13 */
		st_at_member(p, member);
		st_shape_str(t->shape, t->ndim, shp, sizeof shp);
		dsck_error_expect(err, "%llu bytes for %s %s", (unsigned long long)nbytes,
				  dsck_dtype_name(t->dtype), shp);
		dsck_error_found(err, "%llu", (unsigned long long)(t->end - t->begin));
		return dsck_error_set(err, DSCK_E_TENSOR_INVALID_INFO,
				      "data_offsets span does not match shape and dtype");
	}
	*pos = t->end;
	return DSCK_OK;
}

/*
 * Validate header text hdr[0..n) (ST-R5..ST-R16) of a file of file_size
 * bytes. jflags may add DSCK_JSON_NUL_TERMINATED.
 */
static enum dsck_err st_parse_header(const char *hdr, size_t n, unsigned jflags,
				     uint64_t file_size, struct dsck_st **out,
				     struct dsck_error *err)
{
	struct st_parse p = { hdr, n, err };
	/* the scan stops at tensor 1,000,001 before cJSON builds anything */
	struct dsck_json_opts opts = { DSCK_JSON_INTEGERS | jflags, DSCK_ST_MAX_TENSORS, ST_META_KEY };
	cJSON *root = NULL;
	struct dsck_st *st = NULL;
	struct dsck_st_tensor *raw = NULL; /* header order */
	struct st_order *ord = NULL;
	const cJSON *meta = NULL;
	size_t n_members = 0, n_meta = 0, nt = 0, idx;
	uint64_t arena_len = 0, pos = 0, total;
	enum dsck_err rc;

	*out = NULL;
	/* ST-R5, ST-R6 (J-R1..J-R8), L-R2 during the scan */
	rc = dsck_json_parse_opts(hdr, n, &opts, &root, err);
	if (rc) {
		if (err && err->offset >= 0)
			err->offset += 8;
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		dsck_error_offset(err, 8);
		dsck_error_expect(err, "a JSON object");
		rc = dsck_error_set(err, DSCK_E_INVALID_JSON, "header is not a JSON object");
		goto out;
	}

	/* ST-R7 and the count for ST-R15, before sizing anything by it */
	idx = 0;
	for (const cJSON *c = root->child; c; c = c->next, idx++) {
		n_members++;
		if (strcmp(c->string, ST_META_KEY) == 0) {
			rc = st_check_meta(&p, c, idx, &n_meta);
			if (rc)
				goto out;
			meta = c;
		}
	}
	nt = n_members - (meta != NULL);
	if (nt > DSCK_ST_MAX_TENSORS) { /* ST-R15, L-R2 */
		dsck_error_expect(err, "at most %u tensors", DSCK_ST_MAX_TENSORS);
		dsck_error_found(err, "%zu", nt);
		rc = dsck_error_set(err, DSCK_E_LIMIT, "too many tensors");
		goto out;
	}

	st = calloc(1, sizeof *st);
	raw = calloc(nt ? nt : 1, sizeof *raw);
	ord = calloc(nt ? nt : 1, sizeof *ord);
	if (!st || !raw || !ord) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "tensor table for %zu tensors", nt);
		goto out;
	}
	st->file = (struct dsck_file)DSCK_FILE_INIT;
	st->by_name = (struct dsck_strmap)DSCK_STRMAP_INIT;

	/* ST-R8, ST-R9 per entry, header order */
	size_t t = 0;
	idx = 0;
	for (const cJSON *c = root->child; c; c = c->next, idx++) {
		if (c == meta)
			continue;
		rc = st_tensor_entry(&p, c, idx, &raw[t]);
		if (rc)
			goto out;
		ord[t].member = idx;
		ord[t].t = t;
		if (dsck_add_u64(arena_len, (uint64_t)raw[t].name_len + 1, &arena_len))
			goto arena_overflow;
		t++;
	}
	if (meta) {
		for (const cJSON *c = meta->child; c; c = c->next) {
			if (dsck_add_u64(arena_len, strlen(c->string) + 1, &arena_len) ||
			    dsck_add_u64(arena_len, strlen(c->valuestring) + 1, &arena_len))
				goto arena_overflow;
		}
	}

	/* One arena for every string: names, then metadata key/value pairs. */
	size_t arena_sz;
	if (dsck_u64_to_size(arena_len ? arena_len : 1, &arena_sz))
		goto arena_overflow;
	st->arena = malloc(arena_sz);
	st->meta = calloc(n_meta ? n_meta : 1, sizeof *st->meta);
	if (!st->arena || !st->meta) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "name arena of %zu bytes", arena_sz);
		goto out;
	}
	char *a = st->arena;
	for (size_t k = 0; k < nt; k++) {
		memcpy(a, raw[k].name, (size_t)raw[k].name_len + 1);
		raw[k].name = a;
		ord[k].name = a;
		a += raw[k].name_len + 1;
	}
	if (meta) {
		size_t m = 0;
		for (const cJSON *c = meta->child; c; c = c->next, m++) {
			size_t kl = strlen(c->string) + 1, vl = strlen(c->valuestring) + 1;
			memcpy(a, c->string, kl);
			st->meta[m].key = a;
			a += kl;
			memcpy(a, c->valuestring, vl);
			st->meta[m].value = a;
			a += vl;
		}
	}
	st->n_meta = n_meta;

	/* ST-R10..ST-R13 in data offset order (the reference sorts first) */
	for (size_t k = 0; k < nt; k++) {
		ord[k].begin = raw[k].begin;
		ord[k].end = raw[k].end;
	}
	if (nt > 1)
		qsort(ord, nt, sizeof *ord, st_order_cmp);
	for (size_t k = 0; k < nt; k++) {
		rc = st_check_layout(&p, &raw[ord[k].t], ord[k].member,
				     k ? ord[k - 1].name : NULL, &pos);
		if (rc)
			goto out;
	}
	dsck_error_tensor(err, ""); /* the checks above named each tensor */

	/* ST-R14: header and data cover the file exactly */
	if (dsck_add_u64(8, n, &total) || dsck_add_u64(total, pos, &total) ||
	    total != file_size) {
		dsck_error_offset(err, (int64_t)(8 + n));
		dsck_error_expect(err, "file size %llu (8 + %zu header + %llu data)",
				  (unsigned long long)total, n, (unsigned long long)pos);
		dsck_error_found(err, "%llu bytes", (unsigned long long)file_size);
		rc = dsck_error_set(err, DSCK_E_INCOMPLETE_BUFFER, "%s",
				    file_size > total ? "bytes after the last tensor"
						      : "data section truncated");
		goto out;
	}

	/* tensors in offset order, and the name index */
	st->tensors = calloc(nt ? nt : 1, sizeof *st->tensors);
	if (!st->tensors) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "tensor table");
		goto out;
	}
	for (size_t k = 0; k < nt; k++) {
		st->tensors[k] = raw[ord[k].t];
		int r = dsck_strmap_insert(&st->by_name, st->tensors[k].name,
					   st->tensors[k].name_len, (uint32_t)k, NULL);
		if (r < 0) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "name index");
			goto out;
		}
		if (r > 0) { /* J-R6 already refused this; kept as a guard */
			dsck_error_tensor(err, st->tensors[k].name);
			rc = dsck_error_set(err, DSCK_E_DUPLICATE_KEY, "tensor name appears twice");
			goto out;
		}
	}
	st->n_tensors = nt;
	st->header_len = n;
	st->data_start = 8 + (uint64_t)n;
	st->data_len = pos;
	if (n > 0 && hdr[0] != '{')
		st->warnings |= DSCK_ST_WARN_LEADING_WS;
	*out = st;
	st = NULL;
	rc = DSCK_OK;
	goto out;

arena_overflow:
	rc = dsck_error_set(err, DSCK_E_OVERFLOW, "name arena size");
out:
	dsck_st_free(st);
	free(raw);
	free(ord);
	cJSON_Delete(root);
	return rc;
}

enum dsck_err dsck_st_parse(const void *buf, size_t buf_len, uint64_t file_size,
			    const char *path, struct dsck_st **out,
			    struct dsck_error *err)
{
	uint64_t n = 0;
	enum dsck_err rc;

	*out = NULL;
	if (buf_len > file_size) {
		rc = dsck_error_set(err, DSCK_E_USAGE, "buffer of %zu bytes is longer than the file", buf_len);
		goto out;
	}
	rc = st_check_prefix(buf, buf_len, file_size, &n, err);
	if (rc)
		goto out;
	if (buf_len - 8 < n) {
		dsck_error_offset(err, 0);
		rc = dsck_error_set(err, DSCK_E_INVALID_HEADER_LENGTH,
				    "only %zu of the %llu header bytes were given",
				    buf_len - 8, (unsigned long long)n);
		goto out;
	}
	rc = st_parse_header((const char *)buf + 8, (size_t)n, 0, file_size, out, err);
out:
	if (rc)
		dsck_error_file(err, path);
	return rc;
}

/* Header of the open file f: read 8 bytes, then exactly N, then validate. */
static enum dsck_err st_open_file(struct dsck_file *f, struct dsck_st **out,
				  struct dsck_error *err)
{
	unsigned char pre[8];
	char *hdr = NULL;
	uint64_t n = 0;
	size_t avail = f->size < 8 ? (size_t)f->size : 8;
	struct dsck_st *st = NULL;
	enum dsck_err rc;

	rc = dsck_file_pread(f, 0, pre, avail, err);
	if (rc)
		goto out;
	rc = st_check_prefix(pre, avail, f->size, &n, err);
	if (rc)
		goto out;
	/* n <= DSCK_ST_MAX_HEADER and 8 + n <= file size: safe to allocate */
	hdr = malloc((size_t)n + 1);
	if (!hdr) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "header of %llu bytes", (unsigned long long)n);
		goto out;
	}
	rc = dsck_file_pread(f, 8, hdr, (size_t)n, err);
	if (rc)
		goto out;
	hdr[n] = '\0';
	rc = st_parse_header(hdr, (size_t)n, DSCK_JSON_NUL_TERMINATED, f->size, &st, err);
	if (rc)
		goto out;
	st->file = *f;
	*f = (struct dsck_file)DSCK_FILE_INIT;
	*out = st;
out:
	free(hdr);
	if (rc)
		dsck_error_file(err, f->path);
	dsck_file_close(f);
	return rc;
}

enum dsck_err dsck_st_open(const char *path, struct dsck_st **out,
			   struct dsck_error *err)
{
	struct dsck_file f;
	*out = NULL;
	enum dsck_err rc = dsck_file_open(&f, path, err);
	if (rc)
		return rc;
	return st_open_file(&f, out, err);
}

enum dsck_err dsck_st_open_at(int dirfd, const char *name, const char *display,
			      struct dsck_st **out, struct dsck_error *err)
{
	struct dsck_file f;
	*out = NULL;
	enum dsck_err rc = dsck_file_openat(&f, dirfd, name, display ? display : name, err);
	if (rc)
		return rc;
	return st_open_file(&f, out, err);
}

long dsck_st_find(const struct dsck_st *st, const char *name, size_t len)
{
	uint32_t v;
	if (!st || !name || !dsck_strmap_find(&st->by_name, name, len, &v))
		return -1;
	return (long)v;
}

enum dsck_err dsck_st_read(const struct dsck_st *st, size_t i, uint64_t off,
			   void *buf, size_t n, struct dsck_error *err)
{
	uint64_t end, at;
	if (!st || i >= st->n_tensors)
		return dsck_error_set(err, DSCK_E_USAGE, "no tensor number %zu", i);
	const struct dsck_st_tensor *t = &st->tensors[i];
	enum dsck_err rc;
	if (dsck_add_u64(off, n, &end) || end > t->end - t->begin) {
		dsck_error_file(err, st->file.path);
		dsck_error_tensor_n(err, t->name, t->name_len);
		dsck_error_expect(err, "a range inside the tensor's %llu bytes",
				  (unsigned long long)(t->end - t->begin));
		dsck_error_found(err, "%zu bytes at %llu", n, (unsigned long long)off);
		return dsck_error_set(err, DSCK_E_USAGE, "read outside the tensor");
	}
	if (st->file.fd < 0)
		return dsck_error_set(err, DSCK_E_USAGE, "parsed from memory: no file to read from");
	if (dsck_add_u64(st->data_start, t->begin, &at) || dsck_add_u64(at, off, &at))
		return dsck_error_set(err, DSCK_E_OVERFLOW, "file offset");
	rc = dsck_file_pread(&st->file, at, buf, n, err);
	if (rc)
		dsck_error_tensor_n(err, t->name, t->name_len);
	return rc;
}

const char *dsck_st_meta_get(const struct dsck_st *st, const char *key)
{
	if (!st || !key)
		return NULL;
	for (size_t i = 0; i < st->n_meta; i++)
		if (strcmp(st->meta[i].key, key) == 0)
			return st->meta[i].value;
	return NULL;
}

void dsck_st_free(struct dsck_st *st)
{
	if (!st)
		return;
	dsck_file_close(&st->file);
	dsck_strmap_release(&st->by_name);
	free(st->tensors);
	free(st->meta);
	free(st->arena);
	free(st);
}

/* ---- writer ---------------------------------------------------------- */

/* Output buffer; with p == NULL it only counts (first pass). */
struct st_hbuf {
	char *p;
	size_t len;
	int overflow;
};

static void hb_put(struct st_hbuf *b, const void *s, size_t n)
{
	if (b->p)
		memcpy(b->p + b->len, s, n);
	if (__builtin_add_overflow(b->len, n, &b->len))
		b->overflow = 1;
}

static void hb_str(struct st_hbuf *b, const char *s)
{
	hb_put(b, s, strlen(s));
}

static void hb_u64(struct st_hbuf *b, uint64_t v)
{
	char tmp[24];
	int k = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
	hb_put(b, tmp, (size_t)k);
}

/* A JSON string as serde_json writes it: '"' and '\\' escaped, \b \f \n
 * \r \t short, other bytes below 0x20 as \u00xx (lower-case hex), all
 * other bytes (0x7f, UTF-8) as they are. */
static void hb_json_str(struct st_hbuf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t run = 0;
	hb_put(b, "\"", 1);
	for (size_t i = 0;; i++) {
		unsigned char c = u[i];
		const char *esc = NULL;
		char uesc[7];
		if (c == 0)
			break;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			if (c < 0x20) {
				memcpy(uesc, "\\u00", 4);
				uesc[4] = hex[c >> 4];
				uesc[5] = hex[c & 15];
				uesc[6] = '\0';
				esc = uesc;
			}
		}
		if (!esc) {
			run++;
			continue;
		}
		hb_put(b, s + i - run, run);
		run = 0;
		hb_str(b, esc);
	}
	size_t len = strlen(s);
	hb_put(b, s + len - run, run);
	hb_put(b, "\"", 1);
}

struct st_worder {
	unsigned rank;
	const char *name;
	size_t i;
};

/* ST-W2: dtype alignment rank descending, then name bytewise ascending. */
static int st_worder_cmp(const void *a, const void *b)
{
	const struct st_worder *x = a, *y = b;
	if (x->rank != y->rank)
		return x->rank > y->rank ? -1 : 1;
	return strcmp(x->name, y->name); /* compares as unsigned char */
}

/* One header pass over the ordered tensors into b. */
static void st_emit_header(struct st_hbuf *b, const struct dsck_st_spec *specs,
			   const struct st_worder *wo, size_t n,
			   const char *const *meta_kv, size_t n_meta,
			   const uint64_t *begin, const uint64_t *end)
{
	hb_put(b, "{", 1);
	if (n_meta) {
		hb_str(b, "\"" ST_META_KEY "\":{");
		for (size_t m = 0; m < n_meta; m++) {
			if (m)
				hb_put(b, ",", 1);
			hb_json_str(b, meta_kv[2 * m]);
			hb_put(b, ":", 1);
			hb_json_str(b, meta_kv[2 * m + 1]);
		}
		hb_put(b, "}", 1);
		if (n)
			hb_put(b, ",", 1);
	}
	for (size_t k = 0; k < n; k++) {
		const struct dsck_st_spec *s = &specs[wo[k].i];
		if (k)
			hb_put(b, ",", 1);
		hb_json_str(b, s->name);
		hb_str(b, ":{\"dtype\":\"");
		hb_str(b, dsck_dtype_name(s->dtype));
		hb_str(b, "\",\"shape\":[");
		for (uint32_t d = 0; d < s->ndim; d++) {
			if (d)
				hb_put(b, ",", 1);
			hb_u64(b, s->shape[d]);
		}
		hb_str(b, "],\"data_offsets\":[");
		hb_u64(b, begin[wo[k].i]);
		hb_put(b, ",", 1);
		hb_u64(b, end[wo[k].i]);
		hb_str(b, "]}");
	}
	hb_put(b, "}", 1);
}

/* ST-W3 and what the reader would refuse: checks one spec, sets *nbytes. */
static enum dsck_err st_check_spec(const struct dsck_st_spec *s, uint64_t *nbytes,
				   struct dsck_error *err)
{
	size_t len;
	uint64_t numel = 1;
	if (!s->name || !(len = strlen(s->name)))
		return dsck_error_set(err, DSCK_E_INVALID_NAME, "empty tensor name");
	if (strcmp(s->name, ST_META_KEY) == 0)
		return dsck_error_set(err, DSCK_E_INVALID_NAME, "\"__metadata__\" is reserved");
	if (len > DSCK_ST_MAX_NAME) {
		dsck_error_expect(err, "at most %u bytes", DSCK_ST_MAX_NAME);
		dsck_error_found(err, "%zu bytes", len);
		return dsck_error_set(err, DSCK_E_INVALID_NAME, "tensor name too long");
	}
	if (dsck_utf8_valid_prefix(s->name, len) != len)
		return dsck_error_set(err, DSCK_E_INVALID_UTF8, "tensor name is not UTF-8");
	if ((unsigned)s->dtype >= DSCK_DTYPE_COUNT)
		return dsck_error_set(err, DSCK_E_INVALID_DTYPE, "dtype %d", (int)s->dtype);
	if (s->ndim > DSCK_MAX_DIMS)
		return dsck_error_set(err, DSCK_E_LIMIT, "%u dimensions (at most %d)",
				      s->ndim, DSCK_MAX_DIMS);
	for (uint32_t d = 0; d < s->ndim; d++) {
		if (s->shape[d] > ST_MAX_INT)
			return dsck_error_set(err, DSCK_E_LIMIT, "dimension above 2^53");
		if (dsck_mul_u64(numel, s->shape[d], &numel))
			return dsck_error_set(err, DSCK_E_OVERFLOW, "element count overflows 64 bits");
	}
	int r = dsck_dtype_nbytes(s->dtype, numel, nbytes);
	if (r == 1)
		return dsck_error_set(err, DSCK_E_OVERFLOW, "bit count overflows 64 bits");
	if (r == 2)
		return dsck_error_set(err, DSCK_E_MISALIGNED, "not a whole number of bytes");
	return DSCK_OK;
}

/* Metadata pairs: non-NULL, UTF-8, keys within J-R5 and unique (J-R6). */
static enum dsck_err st_check_meta_kv(const char *const *meta_kv, size_t n_meta,
				      struct dsck_error *err)
{
	struct dsck_strmap seen = DSCK_STRMAP_INIT;
	enum dsck_err rc = DSCK_OK;
	const char *k = NULL;
	for (size_t m = 0; m < n_meta; m++) {
		const char *v = meta_kv[2 * m + 1];
		k = meta_kv[2 * m];
		if (!k || !v) {
			rc = dsck_error_set(err, DSCK_E_USAGE, "metadata pair %zu is NULL", m);
			goto out;
		}
		size_t kl = strlen(k), vl = strlen(v);
		if (dsck_utf8_valid_prefix(k, kl) != kl || dsck_utf8_valid_prefix(v, vl) != vl) {
			rc = dsck_error_set(err, DSCK_E_INVALID_UTF8, "metadata is not UTF-8");
			goto out;
		}
		if (kl > DSCK_JSON_MAX_KEY) {
			rc = dsck_error_set(err, DSCK_E_LIMIT, "metadata key over %d bytes", DSCK_JSON_MAX_KEY);
			goto out;
		}
		int r = dsck_strmap_insert(&seen, k, kl, 0, NULL);
		if (r < 0) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "metadata key set");
			goto out;
		}
		if (r > 0) {
			rc = dsck_error_set(err, DSCK_E_DUPLICATE_KEY, "metadata key given twice");
			goto out;
		}
	}
out:
	if (rc && k)
		dsck_error_tensor(err, k);
	dsck_strmap_release(&seen);
	return rc;
}

enum dsck_err dsck_st_header_build(const struct dsck_st_spec *specs, size_t n,
				   const char *const *meta_kv, size_t n_meta,
				   char **out, size_t *out_len, size_t *order,
				   uint64_t *begin, uint64_t *end,
				   struct dsck_error *err)
{
	struct st_worder *wo = NULL;
	uint64_t *nb = NULL, *b = NULL, *e = NULL, pos = 0;
	struct dsck_strmap names = DSCK_STRMAP_INIT;
	struct st_hbuf hb = { NULL, 0, 0 };
	char *buf = NULL;
	enum dsck_err rc;

	*out = NULL;
	*out_len = 0;
	if (n > DSCK_ST_MAX_TENSORS) {
		rc = dsck_error_set(err, DSCK_E_LIMIT, "%zu tensors (at most %u)", n, DSCK_ST_MAX_TENSORS);
		goto out;
	}
	wo = calloc(n ? n : 1, sizeof *wo);
	nb = calloc(n ? n : 1, sizeof *nb);
	b = calloc(n ? n : 1, sizeof *b);
	e = calloc(n ? n : 1, sizeof *e);
	if (!wo || !nb || !b || !e) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "writer tables");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		rc = st_check_spec(&specs[i], &nb[i], err);
		if (rc) {
			dsck_error_tensor(err, specs[i].name);
			goto out;
		}
		int r = dsck_strmap_insert(&names, specs[i].name, strlen(specs[i].name),
					   (uint32_t)i, NULL);
		if (r) {
			dsck_error_tensor(err, specs[i].name);
			rc = r < 0 ? dsck_error_set(err, DSCK_E_NOMEM, "name set")
				   : dsck_error_set(err, DSCK_E_DUPLICATE_KEY, "tensor name given twice");
			goto out;
		}
		wo[i].rank = dsck_dtype_align_rank(specs[i].dtype);
		wo[i].name = specs[i].name;
		wo[i].i = i;
	}
	rc = st_check_meta_kv(meta_kv, n_meta, err);
	if (rc)
		goto out;
	if (n > 1)
		qsort(wo, n, sizeof *wo, st_worder_cmp);
	for (size_t k = 0; k < n; k++) {
		size_t i = wo[k].i;
		b[i] = pos;
		if (dsck_add_u64(pos, nb[i], &pos) || pos > ST_MAX_INT) {
			dsck_error_tensor(err, specs[i].name);
			rc = dsck_error_set(err, DSCK_E_LIMIT, "data offsets above 2^53");
			goto out;
		}
		e[i] = pos;
	}

	/* pass 1 counts, pass 2 writes the same bytes */
	st_emit_header(&hb, specs, wo, n, meta_kv, n_meta, b, e);
	size_t json_len = hb.len, hdr_len, pad;
	pad = (8 - json_len % 8) % 8; /* ST-W1: 8 + N is a multiple of 8 */
	if (hb.overflow || __builtin_add_overflow(json_len, pad, &hdr_len) ||
	    hdr_len > DSCK_ST_MAX_HEADER) {
		dsck_error_expect(err, "at most %llu bytes", DSCK_ST_MAX_HEADER);
		rc = dsck_error_set(err, DSCK_E_HEADER_TOO_LARGE, "header would be too large");
		goto out;
	}
	buf = malloc(8 + hdr_len);
	if (!buf) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "header of %zu bytes", hdr_len);
		goto out;
	}
	st_le64_put((unsigned char *)buf, hdr_len);
	hb.p = buf + 8;
	hb.len = 0;
	st_emit_header(&hb, specs, wo, n, meta_kv, n_meta, b, e);
	memset(buf + 8 + json_len, ' ', pad);
	for (size_t k = 0; k < n; k++) {
		if (order)
			order[k] = wo[k].i;
		if (begin)
			begin[k] = b[k];
		if (end)
			end[k] = e[k];
	}
	*out = buf;
	*out_len = 8 + hdr_len;
	buf = NULL;
	rc = DSCK_OK;
out:
	free(buf);
	free(wo);
	free(nb);
	free(b);
	free(e);
	dsck_strmap_release(&names);
	return rc;
}

enum dsck_err dsck_stw_open(struct dsck_stw *stw, const char *path,
			    const struct dsck_st_spec *specs, size_t n,
			    const char *const *meta_kv, size_t n_meta,
			    int sparse, struct dsck_error *err)
{
	char *hdr = NULL;
	size_t hdr_len = 0;
	enum dsck_err rc;

	memset(stw, 0, sizeof *stw);
	stw->w = (struct dsck_writer)DSCK_WRITER_INIT;
	stw->n = n;
	stw->sparse = sparse;
	stw->order = calloc(n ? n : 1, sizeof *stw->order);
	stw->begin = calloc(n ? n : 1, sizeof *stw->begin);
	stw->end = calloc(n ? n : 1, sizeof *stw->end);
	if (!stw->order || !stw->begin || !stw->end) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "writer tables");
		goto out;
	}
	rc = dsck_st_header_build(specs, n, meta_kv, n_meta, &hdr, &hdr_len,
				  stw->order, stw->begin, stw->end, err);
	if (rc)
		goto out;
	stw->data_start = hdr_len;
	stw->total_size = hdr_len;
	if (n) /* the last tensor on disk ends the data */
		stw->total_size += stw->end[stw->order[n - 1]];
	rc = dsck_writer_open(&stw->w, path, err);
	if (rc)
		goto out;
	rc = dsck_writer_write(&stw->w, hdr, hdr_len, err);
out:
	free(hdr);
	if (rc) {
		dsck_error_file(err, path);
		dsck_stw_abort(stw);
	}
	return rc;
}

enum dsck_err dsck_stw_write(struct dsck_stw *stw, const void *buf, size_t n,
			     struct dsck_error *err)
{
	uint64_t after;
	if (stw->sparse)
		return dsck_error_set(err, DSCK_E_USAGE, "sparse writer takes no data");
	if (dsck_add_u64(stw->written, n, &after) ||
	    after > stw->total_size - stw->data_start) {
		dsck_error_file(err, stw->w.final_path);
		dsck_error_expect(err, "%llu data bytes in all",
				  (unsigned long long)(stw->total_size - stw->data_start));
		dsck_error_found(err, "%llu", (unsigned long long)stw->written + n);
		return dsck_error_set(err, DSCK_E_USAGE, "more data than the tensors hold");
	}
	enum dsck_err rc = dsck_writer_write(&stw->w, buf, n, err);
	if (rc == DSCK_OK)
		stw->written = after;
	return rc;
}

enum dsck_err dsck_stw_commit(struct dsck_stw *stw, struct dsck_error *err)
{
	enum dsck_err rc;
	uint64_t data = stw->total_size - stw->data_start;
	if (stw->sparse) {
		/* SY-R4: never-written data are holes, read back as zeros */
		rc = dsck_writer_truncate(&stw->w, stw->total_size, err);
		if (rc)
			goto fail;
	} else if (stw->written != data || stw->w.pos != stw->total_size) {
		dsck_error_file(err, stw->w.final_path);
		dsck_error_expect(err, "%llu data bytes", (unsigned long long)data);
		dsck_error_found(err, "%llu", (unsigned long long)stw->written);
		rc = dsck_error_set(err, DSCK_E_IO, "incomplete tensor data; nothing was committed");
		goto fail;
	}
	rc = dsck_writer_commit(&stw->w, err); /* frees w either way */
	dsck_stw_abort(stw);
	return rc;
fail:
	dsck_stw_abort(stw);
	return rc;
}

void dsck_stw_abort(struct dsck_stw *stw)
{
	dsck_writer_abort(&stw->w);
	free(stw->order);
	free(stw->begin);
	free(stw->end);
	memset(stw, 0, sizeof *stw);
	stw->w = (struct dsck_writer)DSCK_WRITER_INIT;
}
