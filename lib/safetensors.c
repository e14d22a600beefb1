/*
 * safetensors.c - strict safetensors reader and streaming writer
 * (safetensors.h; formats.md §2, rules ST-R1..ST-R16 and ST-W1..ST-W4).
 *
 * Reader: the 8-byte prefix decides N (ST-R1..R4) before anything is
 * allocated; only then are N bytes of header read (pread, never a map of the
 * file) and validated in rule order: dsck_json_validate for the JSON profile
 * but J-R6, then the tables are built straight from the tokens (json_scan.h),
 * never from a tree, so memory is the result's own size; the walk refuses
 * duplicate keys itself (struct st_parse). The result owns one arena
 * holding every name and metadata string, the tensors sorted by data offset,
 * and a hash map name -> index. Error offsets are FILE offsets: 8 + offset
 * in the header.
 *
 * Writer: the header is built with the JSON writer (jsonw.h, serde_json
 * escaping) in the byte form of the reference writer (compact output,
 * metadata first, tensors by dtype alignment rank descending then name),
 * padded with spaces so 8 + N is a multiple of 8, then the data are
 * streamed through the atomic writer.
 */
#include "safetensors.h"
#include "arith.h"
#include "json_scan.h"
#include "jsonw.h"

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
 * The header text is not valid JSON at offset off: name the tensor whose
 * entry holds that byte, so a corrupted header still says which tensor it
 * damaged (formats.md MF-R5). Entries are `"NAME":{...}` and the text
 * before off scanned as valid JSON, so the last `":{` before off closes the
 * key of the entry being read; a failure inside __metadata__ or before the
 * first entry names nothing.
 */
static void st_name_entry_at(const char *hdr, size_t off, struct dsck_error *err)
{
	for (size_t q = off; q-- > 1;) {
		if (hdr[q - 1] != '"' || hdr[q] != ':' || q + 1 >= off || hdr[q + 1] != '{')
			continue;
		size_t end = q - 1, start = end; /* the key is hdr[start..end) */
		while (start > 0 && !(hdr[start - 1] == '"' && (start < 2 || hdr[start - 2] != '\\')))
			start--;
		if (start > 0 && !(end - start == 12 && memcmp(hdr + start, "__metadata__", 12) == 0))
			dsck_error_tensor_n(err, hdr + start, end - start);
		return;
	}
}

/*
 * What a file that fails ST-R2..ST-R4 really is, when its first 8 bytes
 * say so: the usual broken downloads. A Git LFS pointer starts "version "
 * (read as a length: 2,336,927,755,350,992,246), an HTML error page "<!DOCTYP"
 * or "<html". Returns a sentence for the error, or NULL.
 */
static const char *st_prefix_hint(const unsigned char *buf)
{
	if (memcmp(buf, "version ", 8) == 0)
		return "this is a Git LFS pointer file, not the tensor data: fetch the real file (git lfs pull, or download it again)";
	if (memcmp(buf, "<!DOCTYP", 8) == 0 || memcmp(buf, "<!doctyp", 8) == 0 ||
	    memcmp(buf, "<html", 5) == 0 || memcmp(buf, "<HTML", 5) == 0)
		return "this is an HTML page, not a safetensors file: the download failed; download it again";
	return NULL;
}

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
	const char *hint = st_prefix_hint(buf);
	if (dsck_u64_to_size(n, &n_sz)) /* ST-R2 */
		return dsck_error_set(err, DSCK_E_HEADER_TOO_LARGE,
				      "%s", hint ? hint : "header length does not fit in memory");
	if (n > DSCK_ST_MAX_HEADER) { /* ST-R3, L-R1 */
		dsck_error_expect(err, "at most %llu bytes", DSCK_ST_MAX_HEADER);
		dsck_error_found(err, "%llu bytes", (unsigned long long)n);
		return dsck_error_set(err, DSCK_E_HEADER_TOO_LARGE, "%s",
				      hint ? hint : "header length above the 100,000,000-byte cap");
	}
	if (dsck_add_u64(8, n, &end) || end > file_size) { /* ST-R4 */
		dsck_error_expect(err, "a file of at least %llu bytes (8 + header of %llu)",
				  (unsigned long long)end, (unsigned long long)n);
		dsck_error_found(err, "%llu bytes", (unsigned long long)file_size);
		return dsck_error_set(err, DSCK_E_INVALID_HEADER_LENGTH, "%s",
				      hint ? hint : "header extends past the end of the file");
	}
	dsck_error_offset(err, -1);
	*n_out = n;
	return DSCK_OK;
}

/*
 * State of one header validation. The header is read as tokens of the
 * validated text (json_scan.h), never as a tree: what it allocates is the
 * tables it returns, each sized once from the scan's counts.
 */
struct st_parse {
	const char *hdr;   /* header text, n bytes */
	size_t n;
	struct dsck_error *err;
	/*
	 * ST-R7 outranks ST-R8/R9 wherever __metadata__ stands, so the first
	 * tensor entry error is written to eerr (a copy of *err, or NULL) and
	 * reported only if the walk ends without a metadata error.
	 */
	struct dsck_error deferred, *eerr;
	enum dsck_err ent_rc;
	struct dsck_json_reader rd;
	/*
	 * J-R6 is checked here, not by the scan (DSCK_JSON_CALLER_DUPS):
	 * tensor names in st->by_name as they are read, __metadata__ by
	 * meta_seen, its keys in meta_keys, entry keys by st_entry's flags.
	 * A repeat is an error that stops the walk; on any error after the
	 * scan, dsck_json_dup_check names the first duplicate in document
	 * order, if there is one (a walk stopped early has not seen all).
	 */
	int meta_seen;
	struct dsck_strmap meta_keys;
	struct dsck_st *st;
	size_t tensors_cap, meta_cap; /* entries allocated (scan counts) */
	char *arena_next;             /* next free byte of st->arena */
	size_t arena_left;            /* bytes left there */
};

/* Offset of the key of the tensor named name (file offset), for errors
 * found after the walk: rescans the header (error paths only). */
static void st_at_name(const struct st_parse *p, const char *name, size_t len)
{
	int64_t off = dsck_json_root_key_find(p->hdr, p->n, name, len);
	dsck_error_offset(p->err, off >= 0 ? off + 8 : -1);
}

/* Decode key or string token t into the arena, NUL-terminated. The scan
 * counted these bytes (struct dsck_json_stats), so running out means the
 * counts and the walk disagree: refused, never written past. */
static enum dsck_err st_arena_put(struct st_parse *p, const struct dsck_json_tok *t,
				  const char **out)
{
	if (t->dec_len >= p->arena_left)
		return dsck_error_set(p->err, DSCK_E_OVERFLOW, "name arena size");
	dsck_json_decode(p->hdr, t, p->arena_next, t->dec_len + 1);
	*out = p->arena_next;
	p->arena_next += t->dec_len + 1;
	p->arena_left -= t->dec_len + 1;
	return DSCK_OK;
}

/* ST-R7 for the member whose key is key and value starts with val:
 * an object of strings, kept in header order. */
static enum dsck_err st_read_meta(struct st_parse *p, const struct dsck_json_tok *key,
				  const struct dsck_json_tok *val)
{
	struct dsck_st *st = p->st;
	struct dsck_json_tok mk, mv;
	enum dsck_err rc;

	if (val->type != DSCK_JSON_OBJ_BEGIN) {
		dsck_error_offset(p->err, (int64_t)key->pos + 8);
		dsck_error_expect(p->err, "an object of strings");
		return dsck_error_set(p->err, DSCK_E_INVALID_METADATA, "__metadata__ is not an object");
	}
	for (;;) {
		dsck_json_next(&p->rd, &mk);
		if (mk.type != DSCK_JSON_KEY)
			return DSCK_OK; /* its '}' */
		dsck_json_next(&p->rd, &mv);
		if (mv.type != DSCK_JSON_STRING) {
			char name[DSCK_ERROR_FIELD];
			dsck_json_decode(p->hdr, &mk, name, sizeof name);
			dsck_error_offset(p->err, (int64_t)key->pos + 8);
			dsck_error_tensor(p->err, name);
			dsck_error_expect(p->err, "a string value");
			return dsck_error_set(p->err, DSCK_E_INVALID_METADATA,
					      "__metadata__ value is not a string");
		}
		if (st->n_meta >= p->meta_cap)
			return dsck_error_set(p->err, DSCK_E_OVERFLOW, "metadata table size");
		struct dsck_st_meta *m = &st->meta[st->n_meta];
		rc = st_arena_put(p, &mk, &m->key);
		if (rc == DSCK_OK)
			rc = st_arena_put(p, &mv, &m->value);
		if (rc)
			return rc;
		int r = dsck_strmap_insert(&p->meta_keys, m->key, mk.dec_len,
					   (uint32_t)st->n_meta, NULL);
		if (r < 0)
			return dsck_error_set(p->err, DSCK_E_NOMEM, "metadata key set");
		if (r > 0)
			return dsck_error_set(p->err, DSCK_E_DUPLICATE_KEY, "__metadata__ key appears twice");
		st->n_meta++;
	}
}

/* A tensor entry as its tokens give it; judged once its '}' is read. */
struct st_entry {
	int is_object;
	int have_dtype, have_shape, have_offs, have_unknown;
	int dup;                      /* one of the three keys appears twice (J-R6) */
	struct dsck_json_tok dtype;   /* first token of the dtype value */
	struct dsck_json_tok unknown; /* the first key that is not one of the three */
	int shape_array, shape_ints;  /* an array; every element an exact integer */
	size_t shape_n;               /* its elements, all of them */
	uint64_t shape[DSCK_MAX_DIMS];
	int offs_array, offs_ints;
	size_t offs_n;
	uint64_t offs[2];
};

/*
 * The value starting with t, read as an array of J-R7 integers: *n counts
 * every element, out[0..cap) keeps the first ones, *all_ints says each was
 * an exact integer in [0, 2^53]. Nothing is kept past cap, so a shape of
 * 10^7 zeros costs no memory.
 */
static void st_read_ints(struct dsck_json_reader *rd, const struct dsck_json_tok *t,
			 int *is_array, uint64_t *out, size_t cap, size_t *n,
			 int *all_ints)
{
	struct dsck_json_tok e;
	*n = 0;
	*all_ints = 1;
	*is_array = t->type == DSCK_JSON_ARR_BEGIN;
	if (!*is_array) {
		dsck_json_skip(rd, t);
		return;
	}
	for (;;) {
		dsck_json_next(rd, &e);
		if (e.type == DSCK_JSON_ARR_END || e.type == DSCK_JSON_END)
			return;
		if (e.type == DSCK_JSON_NUMBER && e.exact) {
			if (*n < cap)
				out[*n] = e.value;
		} else {
			*all_ints = 0;
			dsck_json_skip(rd, &e);
		}
		++*n;
	}
}

static int st_key_is(const struct st_parse *p, const struct dsck_json_tok *k, const char *s)
{
	return dsck_json_tok_equals(p->hdr, k, s, strlen(s));
}

/* The tokens of one entry value (first token v) into e. */
static void st_read_entry(struct st_parse *p, const struct dsck_json_tok *v,
			  struct st_entry *e)
{
	struct dsck_json_tok k, val;
	memset(e, 0, sizeof *e);
	e->is_object = v->type == DSCK_JSON_OBJ_BEGIN;
	if (!e->is_object) {
		dsck_json_skip(&p->rd, v);
		return;
	}
	for (;;) {
		dsck_json_next(&p->rd, &k);
		if (k.type != DSCK_JSON_KEY)
			return; /* its '}' */
		dsck_json_next(&p->rd, &val);
		if (e->have_unknown || e->dup) {
			dsck_json_skip(&p->rd, &val); /* the verdict is known */
		} else if (st_key_is(p, &k, "dtype")) {
			e->dup = e->have_dtype;
			e->have_dtype = 1;
			e->dtype = val;
			dsck_json_skip(&p->rd, &val);
		} else if (st_key_is(p, &k, "shape")) {
			e->dup = e->have_shape;
			e->have_shape = 1;
			st_read_ints(&p->rd, &val, &e->shape_array, e->shape, DSCK_MAX_DIMS,
				     &e->shape_n, &e->shape_ints);
		} else if (st_key_is(p, &k, "data_offsets")) {
			e->dup = e->have_offs;
			e->have_offs = 1;
			st_read_ints(&p->rd, &val, &e->offs_array, e->offs, 2,
				     &e->offs_n, &e->offs_ints);
		} else {
			e->have_unknown = 1;
			e->unknown = k;
			dsck_json_skip(&p->rd, &val);
		}
	}
}

/* ST-R8 and ST-R9 for the entry e of the tensor named t->name (key at
 * key_pos) into t, in the order the rules list them. Errors go to err. */
static enum dsck_err st_check_entry(const struct st_parse *p, size_t key_pos,
				    const struct st_entry *e, struct dsck_st_tensor *t,
				    struct dsck_error *err)
{
	char s[65]; /* values quoted in errors: their first 64 bytes */

	dsck_error_tensor_n(err, t->name, t->name_len);
	dsck_error_offset(err, (int64_t)key_pos + 8);
	if (!e->is_object) {
		dsck_error_expect(err, "an object with dtype, shape, data_offsets");
		return dsck_error_set(err, DSCK_E_INVALID_JSON, "tensor entry is not an object");
	}
	if (e->have_unknown) {
		dsck_json_decode(p->hdr, &e->unknown, s, sizeof s);
		dsck_error_found(err, "key \"%s\"", s);
		return dsck_error_set(err, DSCK_E_INVALID_JSON,
				      "unknown key in tensor entry (only dtype, shape, data_offsets)");
	}
	if (!e->have_dtype || !e->have_shape || !e->have_offs)
		return dsck_error_set(err, DSCK_E_INVALID_JSON, "tensor entry lacks \"%s\"",
				      !e->have_dtype ? "dtype" : !e->have_shape ? "shape" : "data_offsets");
	int is_str = e->dtype.type == DSCK_JSON_STRING;
	size_t dl = is_str ? dsck_json_decode(p->hdr, &e->dtype, s, sizeof s) : 0;
	if (!is_str || dl >= sizeof s || dsck_dtype_from_name(s, dl, &t->dtype)) {
		dsck_error_expect(err, "one of the 22 safetensors dtype names");
		if (is_str)
			dsck_error_found(err, "\"%s\"", s);
		else
			dsck_error_found(err, "a JSON value that is not a string");
		return dsck_error_set(err, DSCK_E_INVALID_DTYPE, "unknown dtype");
	}
	if (!e->shape_array)
		return dsck_error_set(err, DSCK_E_INVALID_JSON, "shape is not an array");
	if (e->shape_n > DSCK_MAX_DIMS) { /* L-R3 */
		dsck_error_expect(err, "at most %d dimensions", DSCK_MAX_DIMS);
		dsck_error_found(err, "%zu", e->shape_n);
		return dsck_error_set(err, DSCK_E_LIMIT, "too many dimensions");
	}
	if (!e->shape_ints) {
		dsck_error_expect(err, "integers in [0, 2^53]");
		return dsck_error_set(err, DSCK_E_INVALID_JSON,
				      "shape entry is not an exact non-negative integer");
	}
	t->ndim = (uint32_t)e->shape_n;
	memcpy(t->shape, e->shape, sizeof t->shape);
	if (!e->offs_array || !e->offs_ints || e->offs_n != 2) {
		dsck_error_expect(err, "[begin, end], integers in [0, 2^53]");
		return dsck_error_set(err, DSCK_E_INVALID_JSON,
				      "data_offsets is not an array of two integers");
	}
	t->begin = e->offs[0];
	t->end = e->offs[1];
	/* ST-R9: J-R3 and J-R5 already exclude NUL and keys over 64 KiB; kept
	 * here so the rule holds whatever the JSON profile becomes. */
	if (t->name_len == 0 || t->name_len > DSCK_ST_MAX_NAME ||
	    memchr(t->name, 0, t->name_len)) {
		dsck_error_expect(err, "1..%u bytes", DSCK_ST_MAX_NAME);
		dsck_error_found(err, "%u bytes", t->name_len);
		return dsck_error_set(err, DSCK_E_INVALID_NAME, "%s",
				      t->name_len == 0 ? "empty tensor name" : "tensor name length out of range");
	}
	return DSCK_OK;
}

/* One tensor member (key, value starting with val) into the next table
 * slot. An ST-R8/R9 error is recorded in p->ent_rc / p->eerr, not
 * returned: only arena or table overruns (which the counts exclude) are. */
static enum dsck_err st_read_tensor(struct st_parse *p, const struct dsck_json_tok *key,
				    const struct dsck_json_tok *val)
{
	struct dsck_st *st = p->st;
	struct st_entry e;
	enum dsck_err rc;

	if (st->n_tensors >= p->tensors_cap)
		return dsck_error_set(p->err, DSCK_E_OVERFLOW, "tensor table size");
	if (key->dec_len > DSCK_ST_MAX_NAME) /* J-R5 excludes it; keeps name_len exact */
		return dsck_error_set(p->err, DSCK_E_OVERFLOW, "tensor name length");
	struct dsck_st_tensor *t = &st->tensors[st->n_tensors];
	rc = st_arena_put(p, key, &t->name);
	if (rc)
		return rc;
	t->name_len = (uint32_t)key->dec_len;
	int r = dsck_strmap_insert(&st->by_name, t->name, t->name_len,
				   (uint32_t)st->n_tensors, NULL);
	if (r < 0)
		return dsck_error_set(p->err, DSCK_E_NOMEM, "name index");
	st_read_entry(p, val, &e);
	if (r > 0 || e.dup)
		return dsck_error_set(p->err, DSCK_E_DUPLICATE_KEY, "a key appears twice");
	p->ent_rc = st_check_entry(p, key->pos, &e, t, p->eerr);
	st->n_tensors++;
	return DSCK_OK;
}

/* ST-R10 order: data_offsets (begin, end) like the reference; then name so
 * equal zero-size ranges sort the same on every platform. */
static int st_tensor_cmp(const struct dsck_st_tensor *x, const struct dsck_st_tensor *y)
{
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Sort key of one tensor: 32 bytes, so sorting never moves whole tensors. */
struct st_order {
	uint64_t begin, end;
	const char *name;
	size_t idx; /* index in header order; SIZE_MAX once moved into place */
};

static int st_order_cmp(const void *a, const void *b)
{
	const struct st_order *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return strcmp(x->name, y->name);
}

/*
 * Put st->tensors (header order) into ST-R10 order. Files written by dsck
 * or the reference writer list tensors in data order already: checked in
 * O(n) with no allocation. Otherwise a 32-byte key per tensor is sorted,
 * the tensors are permuted in place, one cycle at a time, and st->by_name
 * (built in header order) is rebuilt.
 */
static enum dsck_err st_sort_tensors(struct dsck_st *st, struct dsck_error *err)
{
	struct dsck_st_tensor *t = st->tensors;
	size_t nt = st->n_tensors, k;
	struct st_order *ord;

	for (k = 1; k < nt; k++)
		if (st_tensor_cmp(&t[k - 1], &t[k]) > 0)
			break;
	if (k >= nt)
		return DSCK_OK;
	ord = calloc(nt, sizeof *ord);
	if (!ord)
		return dsck_error_set(err, DSCK_E_NOMEM, "sort keys for %zu tensors", nt);
	for (k = 0; k < nt; k++) {
		ord[k].begin = t[k].begin;
		ord[k].end = t[k].end;
		ord[k].name = t[k].name;
		ord[k].idx = k;
	}
	qsort(ord, nt, sizeof *ord, st_order_cmp);
	/* slot j receives t[ord[j].idx]; follow each cycle from its start */
	for (k = 0; k < nt; k++) {
		if (ord[k].idx == k || ord[k].idx == SIZE_MAX)
			continue;
		struct dsck_st_tensor first = t[k];
		size_t j = k;
		for (;;) {
			size_t src = ord[j].idx;
			ord[j].idx = SIZE_MAX;
			if (src == k) {
				t[j] = first;
				break;
			}
			t[j] = t[src];
			j = src;
		}
	}
	free(ord);
	/* The names are unique (the walk refused repeats), so only memory
	 * can fail here. */
	dsck_strmap_release(&st->by_name);
	if (dsck_strmap_reserve(&st->by_name, nt))
		return dsck_error_set(err, DSCK_E_NOMEM, "name index");
	for (k = 0; k < nt; k++)
		if (dsck_strmap_insert(&st->by_name, t[k].name, t[k].name_len,
				       (uint32_t)k, NULL) != 0)
			return dsck_error_set(err, DSCK_E_NOMEM, "name index");
	return DSCK_OK;
}

/* ST-R10..ST-R13 for tensor t, in offset order; *pos is the previous end. */
static enum dsck_err st_check_layout(const struct st_parse *p,
				     struct dsck_st_tensor *t,
				     const char *prev_name, uint64_t *pos)
{
	struct dsck_error *err = p->err;
	uint64_t numel = 1, bits, nbytes;
	char shp[200];

	dsck_error_tensor_n(err, t->name, t->name_len);
	if (t->begin != *pos || t->end < t->begin) { /* ST-R10 */
		st_at_name(p, t->name, t->name_len);
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
			st_at_name(p, t->name, t->name_len);
			st_shape_str(t->shape, t->ndim, shp, sizeof shp);
			dsck_error_found(err, "shape %s", shp);
			return dsck_error_set(err, DSCK_E_OVERFLOW, "element count overflows 64 bits");
		}
	}
	t->numel = numel;
	int r = dsck_dtype_nbytes(t->dtype, numel, &nbytes);
	if (r == 1) {
		st_at_name(p, t->name, t->name_len);
		dsck_error_found(err, "%llu elements of %u bits", (unsigned long long)numel,
				 dsck_dtype_bits(t->dtype));
		return dsck_error_set(err, DSCK_E_OVERFLOW, "bit count overflows 64 bits");
	}
	if (r == 2) { /* ST-R12 */
		st_at_name(p, t->name, t->name_len);
		(void)dsck_mul_u64(numel, dsck_dtype_bits(t->dtype), &bits);
		dsck_error_expect(err, "a multiple of 8 bits");
		dsck_error_found(err, "%llu bits", (unsigned long long)bits);
		return dsck_error_set(err, DSCK_E_MISALIGNED, "tensor is not a whole number of bytes");
	}
	if (t->end - t->begin != nbytes) { /* ST-R13 */
		st_at_name(p, t->name, t->name_len);
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
 * bytes. Memory: the tensor table (exact count), one arena of exactly the
 * decoded name and metadata bytes, the metadata table, the name index, and
 * (only for headers not in data order) 32 bytes a tensor while sorting.
 */
static enum dsck_err st_parse_header(const char *hdr, size_t n, uint64_t file_size,
				     struct dsck_st **out, struct dsck_error *err)
{
	/* the scan stops at tensor 1,000,001 before anything is allocated;
	 * duplicate keys are found by the walk below (struct st_parse) */
	struct dsck_json_opts opts = { DSCK_JSON_INTEGERS | DSCK_JSON_CALLER_DUPS,
				       DSCK_ST_MAX_TENSORS, ST_META_KEY };
	struct dsck_json_stats stats;
	struct dsck_error scanned; /* *err once the scan passed */
	int walked = 0;            /* the scan passed: J-R6 is still to decide */
	struct dsck_json_tok key, val;
	struct st_parse p;
	struct dsck_st *st = NULL;
	uint64_t arena_len, pos = 0, total;
	size_t arena_sz, nt;
	enum dsck_err rc;

	*out = NULL;
	memset(&p, 0, sizeof p);
	p.hdr = hdr;
	p.n = n;
	p.err = err;
	p.meta_keys = (struct dsck_strmap)DSCK_STRMAP_INIT;
	/* ST-R5, ST-R6 (J-R1..J-R8 but J-R6), L-R2 */
	rc = dsck_json_validate(hdr, n, &opts, &stats, err);
	if (rc) {
		if (err && err->offset >= 0) {
			if (!err->tensor[0])
				st_name_entry_at(hdr, (size_t)err->offset, err);
			err->offset += 8;
		}
		goto out;
	}
	walked = 1;
	if (err)
		scanned = *err;
	dsck_json_reader_init(&p.rd, hdr, n);
	dsck_json_next(&p.rd, &key);
	if (key.type != DSCK_JSON_OBJ_BEGIN) {
		dsck_error_offset(err, 8);
		dsck_error_expect(err, "a JSON object");
		rc = dsck_error_set(err, DSCK_E_INVALID_JSON, "header is not a JSON object");
		goto out;
	}
	nt = stats.root_members;
	if (nt > DSCK_ST_MAX_TENSORS) { /* ST-R15, L-R2: the scan refused more */
		dsck_error_expect(err, "at most %u tensors", DSCK_ST_MAX_TENSORS);
		dsck_error_found(err, "%zu", nt);
		rc = dsck_error_set(err, DSCK_E_LIMIT, "too many tensors");
		goto out;
	}
	/* names, then metadata keys and values, each with its NUL */
	if (dsck_add_u64(stats.root_key_bytes, stats.exempt_string_bytes, &arena_len) ||
	    dsck_u64_to_size(arena_len ? arena_len : 1, &arena_sz)) {
		rc = dsck_error_set(err, DSCK_E_OVERFLOW, "name arena size");
		goto out;
	}
	p.tensors_cap = nt;
	p.meta_cap = stats.exempt_found ? stats.exempt_members : 0;
	st = calloc(1, sizeof *st);
	if (!st) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "tensor table for %zu tensors", nt);
		goto out;
	}
	st->file = (struct dsck_file)DSCK_FILE_INIT;
	st->by_name = (struct dsck_strmap)DSCK_STRMAP_INIT;
	st->tensors = calloc(nt ? nt : 1, sizeof *st->tensors);
	st->meta = calloc(p.meta_cap ? p.meta_cap : 1, sizeof *st->meta);
	st->arena = malloc(arena_sz);
	if (!st->tensors || !st->meta || !st->arena ||
	    dsck_strmap_reserve(&st->by_name, nt) ||
	    dsck_strmap_reserve(&p.meta_keys, p.meta_cap)) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "tables for %zu tensors (%zu arena bytes)",
				    nt, arena_sz);
		goto out;
	}
	p.st = st;
	p.arena_next = st->arena;
	p.arena_left = arena_sz;
	if (err) {
		p.deferred = *err;
		p.eerr = &p.deferred;
	}

	/* ST-R7 at once; ST-R8, ST-R9 per entry in header order, first error kept */
	for (;;) {
		dsck_json_next(&p.rd, &key);
		if (key.type != DSCK_JSON_KEY)
			break; /* the root's '}' */
		dsck_json_next(&p.rd, &val);
		if (dsck_json_tok_equals(hdr, &key, ST_META_KEY, sizeof ST_META_KEY - 1)) {
			if (p.meta_seen++)
				rc = dsck_error_set(err, DSCK_E_DUPLICATE_KEY, "__metadata__ appears twice");
			else
				rc = st_read_meta(&p, &key, &val);
		} else if (p.ent_rc)
			dsck_json_skip(&p.rd, &val); /* an earlier entry decided */
		else
			rc = st_read_tensor(&p, &key, &val);
		if (rc)
			goto out;
	}
	if (p.ent_rc) {
		if (err)
			*err = p.deferred;
		rc = p.ent_rc;
		goto out;
	}

	/* ST-R10..ST-R13 in data offset order (the reference sorts first) */
	rc = st_sort_tensors(st, err);
	if (rc)
		goto out;
	for (size_t k = 0; k < st->n_tensors; k++) {
		rc = st_check_layout(&p, &st->tensors[k], k ? st->tensors[k - 1].name : NULL, &pos);
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
				    file_size > total ? "bytes after the last tensor (not a plain safetensors file)"
						      : "data section truncated: an incomplete download or copy; fetch this file again");
		goto out;
	}

	st->header_len = n;
	st->data_start = 8 + (uint64_t)n;
	st->data_len = pos;
	if (n > 0 && hdr[0] != '{')
		st->warnings |= DSCK_ST_WARN_LEADING_WS;
	*out = st;
	st = NULL;
	rc = DSCK_OK;
out:
	if (rc && walked) /* the walk stopped at its first error (J-R6) */
		rc = dsck_json_dup_outrank(hdr, n, rc, &scanned, 8, err);
	dsck_strmap_release(&p.meta_keys);
	dsck_st_free(st);
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
	rc = st_parse_header((const char *)buf + 8, (size_t)n, file_size, out, err);
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
	hdr = malloc(n ? (size_t)n : 1);
	if (!hdr) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "header of %llu bytes", (unsigned long long)n);
		goto out;
	}
	rc = dsck_file_pread(f, 8, hdr, (size_t)n, err);
	if (rc)
		goto out;
	rc = st_parse_header(hdr, (size_t)n, f->size, &st, err);
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

/* The header JSON of the ordered tensors, appended to b (ST-W1, ST-W2). */
static void st_emit_header(struct dsck_jsonw *b, const struct dsck_st_spec *specs,
			   const struct st_worder *wo, size_t n,
			   const char *const *meta_kv, size_t n_meta,
			   const uint64_t *begin, const uint64_t *end)
{
	dsck_jsonw_put(b, "{", 1);
	if (n_meta) {
		dsck_jsonw_puts(b, "\"" ST_META_KEY "\":{");
		for (size_t m = 0; m < n_meta; m++) {
			if (m)
				dsck_jsonw_put(b, ",", 1);
			dsck_jsonw_str(b, meta_kv[2 * m], DSCK_JSONW_UTF8);
			dsck_jsonw_put(b, ":", 1);
			dsck_jsonw_str(b, meta_kv[2 * m + 1], DSCK_JSONW_UTF8);
		}
		dsck_jsonw_put(b, "}", 1);
		if (n)
			dsck_jsonw_put(b, ",", 1);
	}
	for (size_t k = 0; k < n; k++) {
		const struct dsck_st_spec *s = &specs[wo[k].i];
		if (k)
			dsck_jsonw_put(b, ",", 1);
		dsck_jsonw_str(b, s->name, DSCK_JSONW_UTF8);
		dsck_jsonw_puts(b, ":{\"dtype\":\"");
		dsck_jsonw_puts(b, dsck_dtype_name(s->dtype));
		dsck_jsonw_puts(b, "\",\"shape\":[");
		for (uint32_t d = 0; d < s->ndim; d++) {
			if (d)
				dsck_jsonw_put(b, ",", 1);
			dsck_jsonw_u64(b, s->shape[d]);
		}
		dsck_jsonw_puts(b, "],\"data_offsets\":[");
		dsck_jsonw_u64(b, begin[wo[k].i]);
		dsck_jsonw_put(b, ",", 1);
		dsck_jsonw_u64(b, end[wo[k].i]);
		dsck_jsonw_puts(b, "]}");
	}
	dsck_jsonw_put(b, "}", 1);
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
	struct dsck_jsonw hb = DSCK_JSONW_INIT;
	size_t pad;
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

	/* 8 placeholder bytes for N, then the JSON; the limit keeps the
	 * buffer from growing past a header the reader would refuse (ST-R3,
	 * L-R1). DSCK_ST_MAX_HEADER is a multiple of 8, so a JSON text within
	 * it stays within it once padded. */
	hb.limit = 8 + (size_t)DSCK_ST_MAX_HEADER;
	dsck_jsonw_put(&hb, "\0\0\0\0\0\0\0\0", 8);
	st_emit_header(&hb, specs, wo, n, meta_kv, n_meta, b, e);
	if (hb.over) {
		dsck_error_expect(err, "at most %llu bytes", DSCK_ST_MAX_HEADER);
		rc = dsck_error_set(err, DSCK_E_HEADER_TOO_LARGE, "header would be too large");
		goto out;
	}
	pad = (8 - (hb.len - 8) % 8) % 8; /* ST-W1: 8 + N is a multiple of 8 */
	dsck_jsonw_put(&hb, "       ", pad);
	rc = dsck_jsonw_check(&hb, "header", err);
	if (rc)
		goto out;
	st_le64_put((unsigned char *)hb.p, hb.len - 8);
	for (size_t k = 0; k < n; k++) {
		if (order)
			order[k] = wo[k].i;
		if (begin)
			begin[k] = b[k];
		if (end)
			end[k] = e[k];
	}
	*out = dsck_jsonw_take(&hb, out_len);
	rc = DSCK_OK;
out:
	dsck_jsonw_release(&hb);
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

	*stw = (struct dsck_stw){ .w = DSCK_WRITER_INIT };
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

/*
 * Leaves stw in the state of a writer never opened: the inner writer back
 * at DSCK_WRITER_INIT (fd -1, not 0: a zeroed writer would close stdin on
 * the next abort), tables NULL. So abort is idempotent, and commit may call
 * it after dsck_writer_commit has already released the inner writer.
 */
void dsck_stw_abort(struct dsck_stw *stw)
{
	dsck_writer_abort(&stw->w);
	free(stw->order);
	free(stw->begin);
	free(stw->end);
	*stw = (struct dsck_stw){ .w = DSCK_WRITER_INIT };
}
