/*
 * index.c - model.safetensors.index.json reader and writer (index.h).
 *
 * The reader applies formats.md IX-R1..IX-R4 to the text alone: strict JSON
 * (J-R*), a weight_map of strings, an integral metadata.total_size, and the
 * shard-name policy. Cross-checks against the shard files themselves
 * (IX-R5..IX-R8) belong to ckpt.c, which has the directory.
 *
 * The writer emits byte for byte what transformers writes,
 * json.dumps(index, indent=2, sort_keys=True) + "\n" with Python's default
 * ensure_ascii (IX-W1), through the atomic writer (W-R1).
 */
#include "index.h"

#include "arith.h"
#include "io.h"
#include "json.h"
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

/* Read the optional "metadata" object (IX-R3). */
static enum dsck_err index_parse_metadata(const cJSON *root,
					  struct dsck_index *idx,
					  struct dsck_error *err)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
	if (!meta)
		return DSCK_OK;
	if (!cJSON_IsObject(meta)) {
		dsck_error_tensor(err, "metadata");
		dsck_error_expect(err, "an object");
		return dsck_error_set(err, DSCK_E_INVALID_INDEX,
				      "metadata is not an object");
	}
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(meta, "total_size");
	if (!ts)
		return DSCK_OK;
	if (dsck_json_u64(ts, &idx->total_size) != 0) {
		/* Negative, fractional, a string, or above 2^53 (J-R7). */
		dsck_error_tensor(err, "metadata.total_size");
		dsck_error_expect(err, "an integer in [0, 2^53]");
		return dsck_error_set(err, DSCK_E_INVALID_INDEX,
				      "metadata.total_size is not an exact integer");
	}
	idx->has_total_size = 1;
	return DSCK_OK;
}

/*
 * Collect the distinct shard names (IX-R4 checked on each), sort them, and
 * point every entry at its shard. shard_of[i] holds the first-seen shard
 * number of weight_map item i on entry; entries[i].shard is set on return.
 */
static enum dsck_err index_build_shards(struct dsck_index *idx,
					const cJSON *wm, struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	struct dsck_strmap seen = DSCK_STRMAP_INIT;
	uint32_t *first = NULL;     /* first-seen number -> sorted position */
	char **order = NULL;        /* first-seen order, views of idx->shards */
	size_t i = 0;

	idx->shards = calloc(idx->n ? idx->n : 1, sizeof *idx->shards);
	if (!idx->shards) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "index shard table");
		goto out;
	}
	for (const cJSON *it = wm->child; it; it = it->next, i++) {
		const char *s = it->valuestring;
		size_t len = dsck_json_strlen(s);
		uint32_t have;
		if (dsck_index_check_shard_name(s, len) != 0) {
			dsck_error_tensor(err, it->string);
			dsck_error_expect(err, "a plain file name ending in .safetensors, 1..255 bytes");
			index_error_found_name(err, s, len);
			rc = dsck_error_set(err, DSCK_E_BAD_SHARD_PATH,
					    "shard name is not a plain file name inside the checkpoint directory");
			goto out;
		}
		int r = dsck_strmap_insert(&seen, s, len, (uint32_t)idx->n_shards, &have);
		if (r < 0) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "index shard set");
			goto out;
		}
		if (r == 0) {
			idx->shards[idx->n_shards] = strdup(s);
			if (!idx->shards[idx->n_shards]) {
				rc = dsck_error_set(err, DSCK_E_NOMEM, "shard name");
				goto out;
			}
			have = (uint32_t)idx->n_shards++;
		}
		idx->entries[i].shard = have;
	}

	/* Sort the names and translate first-seen numbers to sorted ones. */
	order = malloc((idx->n_shards ? idx->n_shards : 1) * sizeof *order);
	first = malloc((idx->n_shards ? idx->n_shards : 1) * sizeof *first);
	if (!order || !first) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "index shard order");
		goto out;
	}
	memcpy(order, idx->shards, idx->n_shards * sizeof *order);
	qsort(idx->shards, idx->n_shards, sizeof *idx->shards, index_cmp_str);
	for (size_t k = 0; k < idx->n_shards; k++) {
		char **pos = bsearch(&order[k], idx->shards, idx->n_shards,
				     sizeof *idx->shards, index_cmp_str);
		first[k] = (uint32_t)(pos - idx->shards);
	}
	for (size_t k = 0; k < idx->n; k++)
		idx->entries[k].shard = first[idx->entries[k].shard];
out:
	free(first);
	free(order);
	dsck_strmap_release(&seen);
	return rc;
}

enum dsck_err dsck_index_parse(const char *text, size_t len, const char *path,
			       struct dsck_index *idx, struct dsck_error *err)
{
	enum dsck_err rc;
	cJSON *root = NULL;
	size_t i = 0;

	memset(idx, 0, sizeof *idx);
	idx->by_name = (struct dsck_strmap)DSCK_STRMAP_INIT;
	if (path)
		dsck_error_file(err, path);

	/* IX-R1 / L-R4: capped before the parser allocates anything. */
	if (len > DSCK_INDEX_MAX_BYTES) {
		dsck_error_expect(err, "at most %u bytes", DSCK_INDEX_MAX_BYTES);
		dsck_error_found(err, "%zu bytes", len);
		rc = dsck_error_set(err, DSCK_E_LIMIT, "index file too large");
		goto out;
	}
	rc = dsck_json_parse(text, len, 0, &root, err);
	if (rc)
		goto out;
	if (!cJSON_IsObject(root)) {
		dsck_error_expect(err, "a JSON object");
		rc = dsck_error_set(err, DSCK_E_INVALID_JSON,
				    "index top level is not an object");
		goto out;
	}

	/* IX-R2: weight_map is an object of strings; keys are unique (J-R6,
	 * already enforced by the parser). */
	const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
	if (!cJSON_IsObject(wm)) {
		dsck_error_tensor(err, "weight_map");
		dsck_error_expect(err, "an object");
		rc = dsck_error_set(err, DSCK_E_INVALID_INDEX,
				    wm ? "weight_map is not an object" : "weight_map is missing");
		goto out;
	}
	for (const cJSON *it = wm->child; it; it = it->next) {
		if (!cJSON_IsString(it) || !it->valuestring) {
			dsck_error_tensor(err, it->string);
			dsck_error_expect(err, "a shard file name string");
			rc = dsck_error_set(err, DSCK_E_INVALID_INDEX,
					    "weight_map value is not a string");
			goto out;
		}
		idx->n++;
	}

	rc = index_parse_metadata(root, idx, err);
	if (rc)
		goto out;

	idx->entries = calloc(idx->n ? idx->n : 1, sizeof *idx->entries);
	if (!idx->entries) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "index entries");
		goto out;
	}
	for (const cJSON *it = wm->child; it; it = it->next, i++) {
		idx->entries[i].name = strdup(it->string);
		if (!idx->entries[i].name) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "index entry name");
			goto out;
		}
	}
	rc = index_build_shards(idx, wm, err);
	if (rc)
		goto out;

	qsort(idx->entries, idx->n, sizeof *idx->entries, index_cmp_entry);
	if (dsck_strmap_reserve(&idx->by_name, idx->n)) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "index name map");
		goto out;
	}
	for (i = 0; i < idx->n; i++) {
		const char *nm = idx->entries[i].name;
		/* Keys were unique in the JSON, so a collision here is only
		 * possible on allocation failure. */
		if (dsck_strmap_insert(&idx->by_name, nm, strlen(nm), (uint32_t)i,
				       NULL) != 0) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "index name map");
			goto out;
		}
	}
	if (path)
		dsck_error_clear(err);
out:
	cJSON_Delete(root);
	if (rc)
		dsck_index_release(idx);
	return rc;
}

void dsck_index_release(struct dsck_index *idx)
{
	if (!idx)
		return;
	if (idx->entries)
		for (size_t i = 0; i < idx->n; i++)
			free(idx->entries[i].name);
	free(idx->entries);
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
	enum dsck_err rc = DSCK_OK;
	struct dsck_jsonw b = DSCK_JSONW_INIT;
	size_t *ord = NULL;
	struct index_sort_ctx ctx = { names };

	dsck_error_file(err, path);
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
	rc = dsck_write_file_atomic(path, b.p, b.len, err);
out:
	free(ord);
	dsck_jsonw_release(&b);
	return rc;
}
