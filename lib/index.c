/*
 * index.c - model.safetensors.index.json reader and writer (index.h).
 *
 * The reader applies formats.md IX-R1..IX-R4 to the text alone: strict JSON
 * (J-R*), a weight_map of strings, an integral metadata.total_size, and the
 * shard-name policy. It reads the validated text as tokens (json_scan.h),
 * no cJSON tree: entry names go to one arena, each distinct shard name is
 * checked once. Cross-checks against the shard files themselves
 * (IX-R5..IX-R8) belong to ckpt.c, which has the directory.
 *
 * The writer emits byte for byte what transformers writes,
 * json.dumps(index, indent=2, sort_keys=True) + "\n" with Python's default
 * ensure_ascii (IX-W1), through the atomic writer (W-R1).
 */
#include "index.h"

#include "arith.h"
#include "io.h"
#include "json_scan.h"
#include "jsonw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_SUFFIX ".safetensors"
#define INDEX_MAX_SHARD_NAME 255u /* IX-R4, bytes: NAME_MAX of Linux */

int dsck_index_check_shard_name(const char *name, size_t len)
{
	size_t suffix = sizeof(INDEX_SUFFIX) - 1;

	/* IX-R4: one plain file name of 1..255 bytes. */
	if (!name || len == 0 || len > INDEX_MAX_SHARD_NAME)
		return -1;
	if ((len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];
		/* No separators of either convention, no NUL, no control bytes
		 * (0x00..0x1F and DEL) that would garble error lines. */
		if (ch == '/' || ch == '\\' || ch < 0x20 || ch == 0x7f)
			return -1;
	}
	if (len < suffix || memcmp(name + len - suffix, INDEX_SUFFIX, suffix) != 0)
		return -1;
	return 0;
}

/* ---- reader --------------------------------------------------------- */

/* Put a refused shard name in err->found, quoted, at most 120 bytes, with
 * control bytes shown as '?' so the error stays one line (G-R3). */
static void index_error_found_name(struct dsck_error *err, const char *s, size_t len)
{
	char shown[121];
	size_t n = len < sizeof shown - 1 ? len : sizeof shown - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		shown[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	shown[n] = '\0';
	dsck_error_found(err, "\"%s\"%s", shown, len > n ? "..." : "");
}

static int index_cmp_entry(const void *a, const void *b)
{
	const struct dsck_index_entry *x = a, *y = b;
	return strcmp(x->name, y->name); /* bytewise: strcmp compares unsigned char */
}

static int index_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * State of one index read. The text is read as tokens (json_scan.h), never
 * as a tree: entries are built as the weight_map is walked. The rules of
 * IX-R2..IX-R4 are then judged in a fixed order, not in document order,
 * so each failure of the walk is only recorded here (its first instance).
 */
struct index_parse {
	const char *text;
	size_t len;
	struct dsck_json_reader rd;
	struct dsck_index *idx;
	size_t cap;                  /* entries allocated */
	char *arena_next;            /* next free byte of idx->names_ */
	/* J-R6, left to this walk (DSCK_JSON_CALLER_DUPS): top-level and
	 * metadata keys in sets, weight_map keys by sorting the entries,
	 * other values by dsck_json_dup_check. */
	struct dsck_strmap top_keys, meta_keys;
	int dup;                     /* a key repeats: J-R6 decides */
	int wm_seen, wm_object;      /* weight_map: present, an object */
	int meta_not_object;         /* IX-R3 */
	int ts_bad;                  /* metadata.total_size not an exact integer */
	int nonstring;               /* a weight_map value that is not a string */
	struct dsck_json_tok nonstring_key;
	int bad_shard;               /* a shard name that fails IX-R4 */
	struct dsck_json_tok bad_key, bad_val;
	struct dsck_strmap seen;     /* shard name -> first-seen number */
	size_t shards_cap;           /* entries allocated at idx->shards */
	struct dsck_json_tok last;   /* the previous entry's shard string */
	uint32_t last_shard;         /* and its number (valid when last.end) */
};

/* Decoded copy of key or string token t in the arena, NUL-terminated.
 * The arena holds the whole text's length, more than all keys decoded
 * (each key's quotes alone outweigh its NUL). */
static const char *index_arena_put(struct index_parse *p, const struct dsck_json_tok *t)
{
	char *dst = p->arena_next;
	dsck_json_decode(p->text, t, dst, t->dec_len + 1);
	p->arena_next += t->dec_len + 1;
	return dst;
}

/* Add key token t to set: 0 new, 1 a repeat (p->dup set), -1 no memory. */
static int index_key_add(struct index_parse *p, struct dsck_strmap *set,
			 const struct dsck_json_tok *t)
{
	const char *k = index_arena_put(p, t);
	int r = dsck_strmap_insert(set, k, t->dec_len, 0, NULL);
	if (r > 0)
		p->dup = 1;
	return r;
}

/* Skip the value whose first token is v; a skipped object may still hold
 * a duplicate key (J-R6). 0, or -1 out of memory. */
static int index_skip(struct index_parse *p, const struct dsck_json_tok *v)
{
	if (v->type == DSCK_JSON_OBJ_BEGIN || v->type == DSCK_JSON_ARR_BEGIN) {
		struct dsck_error e;
		dsck_error_clear(&e);
		enum dsck_err rc = dsck_json_dup_check(p->text, p->len, v->pos, &e);
		if (rc == DSCK_E_NOMEM)
			return -1;
		if (rc)
			p->dup = 1;
	}
	dsck_json_skip(&p->rd, v);
	return 0;
}

/*
 * Shard number (first-seen order) of string token v, the shard of weight
 * map key k. A name is checked against IX-R4 once, when first seen; the
 * 671B index names 163 shards in 92k entries, mostly the same as the
 * previous entry's (compared on the raw bytes first). Returns 0, or -1
 * out of memory; a refused name is recorded (p->bad_shard), not added.
 */
static int index_shard_of(struct index_parse *p, const struct dsck_json_tok *k,
			  const struct dsck_json_tok *v, uint32_t *shard)
{
	struct dsck_index *idx = p->idx;
	char name[INDEX_MAX_SHARD_NAME + 1];
	size_t raw = v->end - v->pos;
	uint32_t have;

	if (p->last.end && p->last.end - p->last.pos == raw &&
	    memcmp(p->text + p->last.pos, p->text + v->pos, raw) == 0) {
		*shard = p->last_shard;
		return 0;
	}
	/* longer names fail IX-R4 anyway: decode only what can pass */
	if (v->dec_len <= INDEX_MAX_SHARD_NAME)
		dsck_json_decode(p->text, v, name, sizeof name);
	if (v->dec_len > INDEX_MAX_SHARD_NAME ||
	    dsck_index_check_shard_name(name, v->dec_len) != 0) {
		if (!p->bad_shard) {
			p->bad_shard = 1;
			p->bad_key = *k;
			p->bad_val = *v;
		}
		*shard = 0;
		return 0;
	}
	if (dsck_strmap_find(&p->seen, name, v->dec_len, &have)) {
		*shard = have;
	} else {
		if (idx->n_shards == p->shards_cap) {
			size_t ncap = p->shards_cap ? p->shards_cap * 2 : 8;
			char **ns = realloc(idx->shards, ncap * sizeof *ns);
			if (!ns)
				return -1;
			idx->shards = ns;
			p->shards_cap = ncap;
		}
		char *copy = strdup(name);
		if (!copy)
			return -1;
		idx->shards[idx->n_shards] = copy;
		*shard = (uint32_t)idx->n_shards++;
		if (dsck_strmap_insert(&p->seen, copy, v->dec_len, *shard, NULL) < 0)
			return -1;
	}
	p->last = *v;
	p->last_shard = *shard;
	return 0;
}

/* The weight_map object (its '{' read): one entry per member. */
static int index_read_weight_map(struct index_parse *p)
{
	struct dsck_index *idx = p->idx;
	struct dsck_json_tok k, v;
	for (;;) {
		dsck_json_next(&p->rd, &k);
		if (k.type != DSCK_JSON_KEY)
			return 0; /* its '}' */
		dsck_json_next(&p->rd, &v);
		if (v.type != DSCK_JSON_STRING) {
			if (!p->nonstring) {
				p->nonstring = 1;
				p->nonstring_key = k;
			}
			if (index_skip(p, &v))
				return -1;
			continue;
		}
		if (idx->n == p->cap) {
			size_t ncap = p->cap ? p->cap * 2 : 1024;
			struct dsck_index_entry *ne = realloc(idx->entries, ncap * sizeof *ne);
			if (!ne)
				return -1;
			idx->entries = ne;
			p->cap = ncap;
		}
		struct dsck_index_entry *e = &idx->entries[idx->n];
		e->name = (char *)index_arena_put(p, &k);
		if (index_shard_of(p, &k, &v, &e->shard))
			return -1;
		idx->n++;
	}
}

/* The metadata object (its '{' read): IX-R3 for total_size; other keys
 * are skipped. */
static int index_read_metadata(struct index_parse *p)
{
	struct dsck_json_tok k, v;
	for (;;) {
		dsck_json_next(&p->rd, &k);
		if (k.type != DSCK_JSON_KEY)
			return 0; /* its '}' */
		int r = index_key_add(p, &p->meta_keys, &k);
		if (r)
			return r < 0 ? -1 : 0; /* a repeat: J-R6 decides */
		dsck_json_next(&p->rd, &v);
		if (dsck_json_tok_equals(p->text, &k, "total_size", 10)) {
			/* Negative, fractional, a string, or above 2^53 (J-R7). */
			if (v.type == DSCK_JSON_NUMBER && v.exact) {
				p->idx->has_total_size = 1;
				p->idx->total_size = v.value;
			} else {
				p->ts_bad = 1;
			}
		}
		if (index_skip(p, &v))
			return -1;
	}
}

/* The whole document (dsck_json_validate accepted it, top level an
 * object whose '{' is read); stops early only at a repeated key. */
static int index_read_top(struct index_parse *p)
{
	struct dsck_json_tok k, v;
	for (;;) {
		dsck_json_next(&p->rd, &k);
		if (k.type != DSCK_JSON_KEY)
			return 0; /* its '}' */
		int r = index_key_add(p, &p->top_keys, &k);
		if (r)
			return r < 0 ? -1 : 0;
		dsck_json_next(&p->rd, &v);
		if (dsck_json_tok_equals(p->text, &k, "weight_map", 10)) {
			p->wm_seen = 1;
			p->wm_object = v.type == DSCK_JSON_OBJ_BEGIN;
			r = p->wm_object ? index_read_weight_map(p) : index_skip(p, &v);
		} else if (dsck_json_tok_equals(p->text, &k, "metadata", 8)) {
			p->meta_not_object = v.type != DSCK_JSON_OBJ_BEGIN;
			r = p->meta_not_object ? index_skip(p, &v) : index_read_metadata(p);
		} else {
			r = index_skip(p, &v);
		}
		if (r || p->dup)
			return r;
	}
}

/* Key or string token t into err->tensor. */
static void index_error_tensor_tok(struct index_parse *p, const struct dsck_json_tok *t,
				   struct dsck_error *err)
{
	char name[DSCK_ERROR_FIELD];
	dsck_json_decode(p->text, t, name, sizeof name);
	dsck_error_tensor(err, name);
}

/* The first failure of IX-R2..IX-R4 the walk recorded, in rule order. */
static enum dsck_err index_judge(struct index_parse *p, struct dsck_error *err)
{
	if (!p->wm_object) {
		dsck_error_tensor(err, "weight_map");
		dsck_error_expect(err, "an object");
		return dsck_error_set(err, DSCK_E_INVALID_INDEX,
				      p->wm_seen ? "weight_map is not an object" : "weight_map is missing");
	}
	if (p->nonstring) {
		index_error_tensor_tok(p, &p->nonstring_key, err);
		dsck_error_expect(err, "a shard file name string");
		return dsck_error_set(err, DSCK_E_INVALID_INDEX, "weight_map value is not a string");
	}
	if (p->meta_not_object) {
		dsck_error_tensor(err, "metadata");
		dsck_error_expect(err, "an object");
		return dsck_error_set(err, DSCK_E_INVALID_INDEX, "metadata is not an object");
	}
	if (p->ts_bad) {
		dsck_error_tensor(err, "metadata.total_size");
		dsck_error_expect(err, "an integer in [0, 2^53]");
		return dsck_error_set(err, DSCK_E_INVALID_INDEX,
				      "metadata.total_size is not an exact integer");
	}
	if (p->bad_shard) {
		char shown[121];
		index_error_tensor_tok(p, &p->bad_key, err);
		dsck_error_expect(err, "a plain file name ending in .safetensors, 1..255 bytes");
		dsck_json_decode(p->text, &p->bad_val, shown, sizeof shown);
		index_error_found_name(err, shown, p->bad_val.dec_len);
		return dsck_error_set(err, DSCK_E_BAD_SHARD_PATH,
				      "shard name is not a plain file name inside the checkpoint directory");
	}
	return DSCK_OK;
}

/*
 * Sort the shard names and renumber the entries from first-seen to sorted
 * numbers; sort the entries by name. A repeated weight_map key shows as
 * two equal neighbours (p->dup).
 */
static enum dsck_err index_sort(struct index_parse *p, struct dsck_error *err)
{
	struct dsck_index *idx = p->idx;
	enum dsck_err rc = DSCK_OK;
	size_t ns = idx->n_shards;
	uint32_t *sorted = NULL; /* first-seen -> sorted */
	char **order = NULL;

	if (ns == 0)
		return DSCK_OK; /* no shard, so no entry: each names one */
	sorted = malloc(ns * sizeof *sorted);
	order = malloc(ns * sizeof *order);
	if (!sorted || !order) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "index shard order");
		goto out;
	}
	memcpy(order, idx->shards, ns * sizeof *order);
	qsort(idx->shards, ns, sizeof *idx->shards, index_cmp_str);
	for (size_t k = 0; k < ns; k++) {
		char **pos = bsearch(&order[k], idx->shards, ns, sizeof *idx->shards,
				     index_cmp_str);
		sorted[k] = (uint32_t)(pos - idx->shards);
	}
	for (size_t k = 0; k < idx->n; k++)
		idx->entries[k].shard = sorted[idx->entries[k].shard];
	qsort(idx->entries, idx->n, sizeof *idx->entries, index_cmp_entry);
	for (size_t k = 1; k < idx->n && !p->dup; k++)
		p->dup = strcmp(idx->entries[k - 1].name, idx->entries[k].name) == 0;
out:
	free(order);
	free(sorted);
	return rc;
}

enum dsck_err dsck_index_parse(const char *text, size_t len, const char *path,
			       struct dsck_index *idx, struct dsck_error *err)
{
	struct dsck_json_opts opts = { DSCK_JSON_CALLER_DUPS, 0, NULL };
	struct index_parse p;
	struct dsck_json_tok t;
	struct dsck_error scanned;
	int walked = 0; /* the scan passed: J-R6 is still to decide */
	enum dsck_err rc;

	memset(idx, 0, sizeof *idx);
	idx->by_name = (struct dsck_strmap)DSCK_STRMAP_INIT;
	memset(&p, 0, sizeof p);
	p.text = text;
	p.len = len;
	p.idx = idx;
	p.top_keys = p.meta_keys = p.seen = (struct dsck_strmap)DSCK_STRMAP_INIT;
	if (path)
		dsck_error_file(err, path);

	/* IX-R1 / L-R4: capped before anything is allocated. */
	if (len > DSCK_INDEX_MAX_BYTES) {
		dsck_error_expect(err, "at most %u bytes", DSCK_INDEX_MAX_BYTES);
		dsck_error_found(err, "%zu bytes", len);
		rc = dsck_error_set(err, DSCK_E_LIMIT, "index file too large");
		goto out;
	}
	rc = dsck_json_validate(text, len, &opts, NULL, err);
	if (rc)
		goto out;
	walked = 1;
	if (err)
		scanned = *err;
	dsck_json_reader_init(&p.rd, text, len);
	dsck_json_next(&p.rd, &t);
	if (t.type != DSCK_JSON_OBJ_BEGIN) {
		dsck_error_expect(err, "a JSON object");
		rc = dsck_error_set(err, DSCK_E_INVALID_JSON, "index top level is not an object");
		goto out;
	}
	idx->names_ = malloc(len + 1);
	if (!idx->names_) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "index names");
		goto out;
	}
	p.arena_next = idx->names_;
	if (index_read_top(&p) != 0) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "index entries");
		goto out;
	}
	if (p.dup) {
		rc = DSCK_E_DUPLICATE_KEY; /* named below */
		goto out;
	}
	rc = index_judge(&p, err);
	if (rc)
		goto out;
	rc = index_sort(&p, err);
	if (rc)
		goto out;
	if (p.dup) {
		rc = DSCK_E_DUPLICATE_KEY;
		goto out;
	}
	if (dsck_strmap_reserve(&idx->by_name, idx->n)) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "index name map");
		goto out;
	}
	for (size_t i = 0; i < idx->n; i++) {
		const struct dsck_index_entry *e = &idx->entries[i];
		/* names are unique (sorted, no equal neighbours) */
		if (dsck_strmap_insert(&idx->by_name, e->name, strlen(e->name),
				       (uint32_t)i, NULL) != 0) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "index name map");
			goto out;
		}
	}
	if (path)
		dsck_error_clear(err);
out:
	if (rc && walked) /* the walk may have stopped early (J-R6) */
		rc = dsck_json_dup_outrank(text, len, rc, &scanned, 0, err);
	dsck_strmap_release(&p.seen);
	dsck_strmap_release(&p.meta_keys);
	dsck_strmap_release(&p.top_keys);
	if (rc)
		dsck_index_release(idx);
	return rc;
}

void dsck_index_release(struct dsck_index *idx)
{
	if (!idx)
		return;
	free(idx->entries);
	free(idx->names_);
	if (idx->shards)
		for (size_t i = 0; i < idx->n_shards; i++)
			free(idx->shards[i]);
	free(idx->shards);
	dsck_strmap_release(&idx->by_name);
	memset(idx, 0, sizeof *idx);
}

/* ---- writer --------------------------------------------------------- */

/* qsort_r context: the write order is a permutation of indices into names. */
struct index_sort_ctx {
	const char *const *names;
};

static int index_cmp_by_name(const void *a, const void *b, void *arg)
{
	const struct index_sort_ctx *ctx = arg;
	return strcmp(ctx->names[*(const size_t *)a], ctx->names[*(const size_t *)b]);
}

enum dsck_err dsck_index_write(const char *path, const char *const *names,
			       const uint32_t *shard_of, size_t n,
			       const char *const *shard_names,
			       uint64_t total_size, struct dsck_error *err)
{
	char *text = NULL;
	size_t len = 0;
	enum dsck_err rc = dsck_index_build(names, shard_of, n, shard_names,
					    total_size, &text, &len, err);
	if (!rc)
		rc = dsck_write_file_atomic(path, text, len, err);
	if (rc)
		dsck_error_file(err, path);
	free(text);
	return rc;
}

enum dsck_err dsck_index_build(const char *const *names, const uint32_t *shard_of,
			       size_t n, const char *const *shard_names,
			       uint64_t total_size, char **out, size_t *out_len,
			       struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	struct dsck_jsonw b = DSCK_JSONW_INIT;
	size_t *ord = NULL;
	struct index_sort_ctx ctx = { names };

	*out = NULL;
	ord = malloc((n ? n : 1) * sizeof *ord);
	if (!ord) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "index order");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		ord[i] = i;
	/* sort_keys=True: Python orders str keys by code point, which for
	 * valid UTF-8 is the bytewise order strcmp gives. */
	qsort_r(ord, n, sizeof *ord, index_cmp_by_name, &ctx);

	/* json.dumps(indent=2, sort_keys=True), ensure_ascii as its default */
	dsck_jsonw_puts(&b, "{\n  \"metadata\": {\n    \"total_size\": ");
	dsck_jsonw_u64(&b, total_size);
	dsck_jsonw_puts(&b, "\n  },\n  \"weight_map\": {");
	for (size_t k = 0; k < n; k++) {
		size_t i = ord[k];
		const char *shard = shard_names[shard_of[i]];
		if (k > 0 && strcmp(names[ord[k - 1]], names[i]) == 0) {
			dsck_error_tensor(err, names[i]);
			rc = dsck_error_set(err, DSCK_E_INVALID_INDEX,
					    "tensor name given twice");
			goto out;
		}
		if (dsck_index_check_shard_name(shard, strlen(shard)) != 0) {
			dsck_error_tensor(err, names[i]);
			index_error_found_name(err, shard, strlen(shard));
			rc = dsck_error_set(err, DSCK_E_BAD_SHARD_PATH,
					    "shard name is not a plain file name (IX-R4)");
			goto out;
		}
		dsck_jsonw_puts(&b, k ? ",\n    " : "\n    ");
		if (dsck_jsonw_str(&b, names[i], DSCK_JSONW_ASCII) != 0) {
			dsck_error_tensor(err, names[i]);
			rc = dsck_error_set(err, DSCK_E_INVALID_UTF8,
					    "tensor name is not valid UTF-8");
			goto out;
		}
		dsck_jsonw_put(&b, ": ", 2);
		if (dsck_jsonw_str(&b, shard, DSCK_JSONW_ASCII) != 0) {
			dsck_error_tensor(err, names[i]);
			rc = dsck_error_set(err, DSCK_E_INVALID_UTF8,
					    "shard name is not valid UTF-8");
			goto out;
		}
	}
	/* json.dumps writes an empty dict as {} even with indent. */
	dsck_jsonw_puts(&b, n ? "\n  }\n}\n" : "}\n}\n");
	rc = dsck_jsonw_check(&b, "index text", err);
	if (rc)
		goto out;
	*out = dsck_jsonw_take(&b, out_len);
	if (!*out)
		rc = dsck_error_set(err, DSCK_E_NOMEM, "index text");
out:
	free(ord);
	dsck_jsonw_release(&b);
	return rc;
}
