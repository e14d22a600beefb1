/*
 * fuzz_json.c - libFuzzer entry for the strict JSON profile (lib/json.c).
 *
 * The first input byte picks the flags (bit 0: DSCK_JSON_INTEGERS; bit 1:
 * a root member cap of 4); the rest is the document, parsed from a buffer
 * of exactly its size (so ASan sees any read past it). On success every
 * number in an integer-only document must be an exact integer, and no
 * object may hold the same key twice (checked pairwise here, independent
 * of the hash set the parser uses). The token reader must then agree with
 * the tree item by item: same kinds, keys and strings, and a number is
 * exact exactly when cJSON's item is not marked DSCK_JSON_INEXACT.
 */
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void fuzz_require(int cond)
{
	if (!cond)
		abort();
}

static void fuzz_check_tree(const cJSON *item, unsigned flags, int depth)
{
	fuzz_require(depth <= DSCK_JSON_MAX_DEPTH + 1);
	if (cJSON_IsNumber(item) && (flags & DSCK_JSON_INTEGERS)) {
		uint64_t v;
		/* integers-only text: anything out of [0, 2^53] is flagged, never rounded */
		if (dsck_json_u64(item, &v) == 0)
			fuzz_require((double)v == item->valuedouble);
		else
			fuzz_require(item->type & DSCK_JSON_INEXACT);
	}
	for (const cJSON *c = item->child; c; c = c->next) {
		if (cJSON_IsObject(item)) {
			fuzz_require(c->string != NULL);
			fuzz_require(strlen(c->string) <= DSCK_JSON_MAX_KEY);
			for (const cJSON *d = c->next; d; d = d->next)
				fuzz_require(strcmp(c->string, d->string) != 0);
		}
		fuzz_check_tree(c, flags, depth + 1);
	}
}

/* The tokens of item, read from rd, match the tree. */
static void fuzz_check_tokens(struct dsck_json_reader *rd, const char *text,
			      const cJSON *item)
{
	struct dsck_json_tok t;
	dsck_json_next(rd, &t);
	if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
		int obj = cJSON_IsObject(item);
		fuzz_require(t.type == (obj ? DSCK_JSON_OBJ_BEGIN : DSCK_JSON_ARR_BEGIN));
		for (const cJSON *c = item->child; c; c = c->next) {
			if (obj) {
				dsck_json_next(rd, &t);
				fuzz_require(t.type == DSCK_JSON_KEY &&
					     dsck_json_tok_equals(text, &t, c->string, strlen(c->string)));
			}
			fuzz_check_tokens(rd, text, c);
		}
		dsck_json_next(rd, &t);
		fuzz_require(t.type == (obj ? DSCK_JSON_OBJ_END : DSCK_JSON_ARR_END));
	} else if (cJSON_IsString(item)) {
		fuzz_require(t.type == DSCK_JSON_STRING &&
			     dsck_json_tok_equals(text, &t, item->valuestring, strlen(item->valuestring)));
	} else if (cJSON_IsNumber(item)) {
		fuzz_require(t.type == DSCK_JSON_NUMBER);
		fuzz_require(t.exact == !(item->type & DSCK_JSON_INEXACT));
		if (t.exact)
			fuzz_require((double)t.value == item->valuedouble);
	} else if (cJSON_IsTrue(item)) {
		fuzz_require(t.type == DSCK_JSON_TRUE);
	} else if (cJSON_IsFalse(item)) {
		fuzz_require(t.type == DSCK_JSON_FALSE);
	} else {
		fuzz_require(t.type == DSCK_JSON_NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536) /* pairwise key check is quadratic */
		return 0;
	unsigned sel = data[0];
	struct dsck_json_opts o = { sel & 1 ? DSCK_JSON_INTEGERS : 0, sel & 2 ? 4 : 0,
				    sel & 4 ? "m" : NULL };
	size_t n = size - 1;
	char *text = malloc(n ? n : 1);
	if (!text)
		return 0;
	memcpy(text, data + 1, n);
	cJSON *root = NULL;
	struct dsck_error err;
	dsck_error_clear(&err);
	enum dsck_err rc = dsck_json_parse_opts(text, n, &o, &root, &err);
	if (rc == DSCK_OK) {
		fuzz_require(root != NULL);
		fuzz_require(dsck_utf8_valid_prefix(text, n) == n);
		fuzz_check_tree(root, o.flags, 1);
		struct dsck_json_reader rd;
		struct dsck_json_tok t;
		dsck_json_reader_init(&rd, text, n);
		fuzz_check_tokens(&rd, text, root);
		dsck_json_next(&rd, &t);
		fuzz_require(t.type == DSCK_JSON_END);
	} else {
		fuzz_require(root == NULL && err.code == rc);
		fuzz_require(err.offset < 0 || (uint64_t)err.offset <= n);
	}
	cJSON_Delete(root);
	free(text);
	return 0;
}
