/*
 * fuzz_json.c - libFuzzer entry for the strict JSON profile (lib/json.c).
 *
 * The first input byte picks the flags (bit 0: DSCK_JSON_INTEGERS; bit 1:
 * a root member cap of 4); the rest is the document, parsed from a buffer
 * of exactly its size (so ASan sees any read past it). On success every
 * number in an integer-only document must be an exact integer, and no
 * object may hold the same key twice (checked pairwise here, independent
 * of the hash set the parser uses).
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
	} else {
		fuzz_require(root == NULL && err.code == rc);
		fuzz_require(err.offset < 0 || (uint64_t)err.offset <= n);
	}
	cJSON_Delete(root);
	free(text);
	return 0;
}
