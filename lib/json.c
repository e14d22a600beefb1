/*
 * json.c - the strict JSON profile (formats.md J-R1..J-R8) on top of cJSON.
 *
 * dsck_json_validate (json_scan.c) checks the whole profile first, duplicate
 * keys included, so cJSON only ever builds a tree for an accepted text.
 * cJSON items carry no byte positions and keep numbers as doubles; a walk
 * of the tree beside the token reader (both in document order) marks each
 * number whose literal is not an exact integer in [0, 2^53]
 * (DSCK_JSON_INEXACT), so dsck_json_u64 never takes a rounded value.
 *
 * The safetensors and index readers do not come here: they read tokens
 * directly, so a hostile header or index never becomes a tree (memory
 * O(text bytes)).
 */
#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JSON_2POW53 9007199254740992ull

/* Pre-order, children in list order: the document order of the tokens.
 * Recursion depth is at most DSCK_JSON_MAX_DEPTH + 1 (J-R4 was checked). */
static void mark_inexact(struct dsck_json_reader *rd, cJSON *item)
{
	if (cJSON_IsNumber(item)) {
		struct dsck_json_tok t;
		do
			dsck_json_next(rd, &t);
		while (t.type != DSCK_JSON_NUMBER && t.type != DSCK_JSON_END);
		if (t.type == DSCK_JSON_NUMBER && !t.exact)
			item->type |= DSCK_JSON_INEXACT;
		return;
	}
	for (cJSON *c = item->child; c; c = c->next)
		mark_inexact(rd, c);
}

enum dsck_err dsck_json_parse_opts(const char *text, size_t len,
				   const struct dsck_json_opts *opts,
				   cJSON **out, struct dsck_error *err)
{
	struct dsck_json_reader rd;
	char *copy = NULL;
	cJSON *root = NULL;
	enum dsck_err rc;

	*out = NULL;
	rc = dsck_json_validate(text, len, opts, NULL, err);
	if (rc)
		goto out;

	/* cJSON wants a terminated buffer of length + 1 */
	const char *src = text;
	if (!(opts->flags & DSCK_JSON_NUL_TERMINATED)) {
		copy = malloc(len + 1); /* len <= DSCK_JSON_MAX_TEXT: no wrap */
		if (!copy) {
			rc = dsck_error_set(err, DSCK_E_NOMEM, "copying a %zu-byte JSON document", len);
			goto out;
		}
		memcpy(copy, text, len);
		copy[len] = '\0';
		src = copy;
	}
	root = cJSON_ParseWithLength(src, len + 1);
	if (!root) {
		/* The scan accepted the grammar (and capped numbers at cJSON's
		 * buffer), so only an allocation can have failed. */
		rc = dsck_error_set(err, DSCK_E_NOMEM, "building the JSON tree");
		goto out;
	}
	dsck_json_reader_init(&rd, text, len);
	mark_inexact(&rd, root);
	*out = root;
	root = NULL;
out:
	cJSON_Delete(root);
	free(copy);
	return rc;
}

enum dsck_err dsck_json_parse(const char *text, size_t len, unsigned flags,
			      cJSON **out, struct dsck_error *err)
{
	struct dsck_json_opts o = { flags, 0, NULL };
	return dsck_json_parse_opts(text, len, &o, out, err);
}

int dsck_json_u64(const cJSON *item, uint64_t *out)
{
	if (!cJSON_IsNumber(item) || (item->type & DSCK_JSON_INEXACT))
		return -1;
	double v = item->valuedouble;
	/* also guards trees not built by dsck_json_parse (no flag set) */
	if (!isfinite(v) || v < 0 || v > (double)JSON_2POW53 || floor(v) != v)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

size_t dsck_json_strlen(const char *s)
{
	return s ? strlen(s) : 0;
}
