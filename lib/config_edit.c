/*
 * config_edit.c - the config.json a conversion writes (formats.md CV-R5,
 * MP-R8): the source text with the smallest edits, so every field dsck does
 * not understand (auto_map, rope settings, new keys) passes through byte
 * for byte. An edit sets a top-level member to a JSON value (added at the
 * end when missing) or removes it.
 */
#include "config.h"

#include "json_scan.h"
#include "jsonw.h"

#include <stdlib.h>
#include <string.h>

struct edit {
	const char *keys[2];   /* the member's names (a second spelling or NULL) */
	const char *value;     /* JSON text, or NULL to remove */
	int add;               /* append as keys[0] when no member has a name */
	int seen;
};

struct member {
	size_t kpos;     /* opening quote of the key */
	size_t vpos;     /* first byte of the value */
	size_t vend;     /* just past the value */
	struct edit *e;  /* the edit that names it, or NULL */
};

static struct edit *edit_of(const char *text, const struct dsck_json_tok *t,
			    struct edit *ed, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 2 && ed[i].keys[k]; k++)
			if (dsck_json_tok_equals(text, t, ed[i].keys[k], strlen(ed[i].keys[k])))
				return &ed[i];
	return NULL;
}

static enum dsck_err rewrite(const char *text, size_t len, struct edit *ed, size_t ne,
			     char **out, size_t *out_len, struct dsck_error *err)
{
	struct dsck_json_reader r;
	struct dsck_json_tok t, v;
	struct member *m = NULL;
	size_t n = 0, cap = 0;
	struct dsck_jsonw w = DSCK_JSONW_INIT;
	struct dsck_json_opts jo = { 0, 0, NULL };
	enum dsck_err rc;

	*out = NULL;
	rc = dsck_json_validate(text, len, &jo, NULL, err);
	if (rc)
		return rc;
	dsck_json_reader_init(&r, text, len);
	dsck_json_next(&r, &t);
	if (t.type != DSCK_JSON_OBJ_BEGIN)
		return dsck_error_set(err, DSCK_E_CONFIG_TYPE, "config.json is not an object");
	for (;;) {
		dsck_json_next(&r, &t);
		if (t.type != DSCK_JSON_KEY)
			break;
		dsck_json_next(&r, &v);
		size_t vpos = v.pos;
		dsck_json_skip(&r, &v);
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			struct member *q = realloc(m, cap * sizeof *m);
			if (!q) {
				rc = dsck_error_set(err, DSCK_E_NOMEM, "config edit");
				goto out;
			}
			m = q;
		}
		m[n] = (struct member){ t.pos, vpos, r.pos, edit_of(text, &t, ed, ne) };
		/* the reader's end may take in blanks after the value: trim
		 * them so removals keep the file's own layout */
		while (m[n].vend > m[n].vpos && strchr(" \n\t\r,", text[m[n].vend - 1]))
			m[n].vend--;
		if (m[n].e)
			m[n].e->seen = 1;
		n++;
	}

	size_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		if (!m[i].e)
			continue;
		if (m[i].e->value) {
			dsck_jsonw_put(&w, text + pos, m[i].vpos - pos);
			dsck_jsonw_puts(&w, m[i].e->value);
			pos = m[i].vend;
		} else if (i > 0) { /* drop ", key: value" */
			if (m[i - 1].vend > pos)
				dsck_jsonw_put(&w, text + pos, m[i - 1].vend - pos);
			pos = m[i].vend;
		} else { /* the first member: drop "key: value, " */
			dsck_jsonw_put(&w, text + pos, m[i].kpos - pos);
			pos = n > 1 ? m[i + 1].kpos : m[i].vend;
		}
	}
	size_t tail = n ? m[n - 1].vend : pos;
	if (tail < pos) /* the last member was removed */
		tail = pos;
	dsck_jsonw_put(&w, text + pos, tail - pos);
	size_t members = n;
	for (size_t i = 0; i < ne; i++) {
		if (ed[i].seen || !ed[i].add || !ed[i].value)
			continue;
		dsck_jsonw_puts(&w, members ? ",\n  " : "\n  ");
		dsck_jsonw_str(&w, ed[i].keys[0], DSCK_JSONW_UTF8);
		dsck_jsonw_puts(&w, ": ");
		dsck_jsonw_puts(&w, ed[i].value);
		members++;
	}
	dsck_jsonw_put(&w, text + tail, len - tail);
	rc = dsck_jsonw_check(&w, "config.json", err);
	if (!rc) {
		*out = dsck_jsonw_take(&w, out_len);
		if (!*out)
			rc = dsck_error_set(err, DSCK_E_NOMEM, "config edit");
	}
out:
	dsck_jsonw_release(&w);
	free(m);
	return rc;
}

enum dsck_err dsck_config_edit(const char *text, size_t len, const char *dtype,
			       const char *quant_json, int keep_quant,
			       char **out, size_t *out_len,
			       struct dsck_error *err)
{
	struct dsck_jsonw q = DSCK_JSONW_INIT;
	dsck_jsonw_str(&q, dtype, DSCK_JSONW_UTF8);
	enum dsck_err rc = dsck_jsonw_check(&q, "config edit", err);
	if (rc) {
		dsck_jsonw_release(&q);
		return rc;
	}
	struct edit ed[2] = {
		{ { "torch_dtype", "dtype" }, q.p, 1, 0 },
		{ { "quantization_config", NULL }, quant_json, 1, 0 },
	};
	rc = rewrite(text, len, ed, keep_quant ? 1 : 2, out, out_len, err);
	dsck_jsonw_release(&q);
	return rc;
}

enum dsck_err dsck_config_set(const char *text, size_t len, const char *key,
			      const char *value_json, char **out, size_t *out_len,
			      struct dsck_error *err)
{
	struct edit ed[1] = { { { key, NULL }, value_json, 1, 0 } };
	return rewrite(text, len, ed, 1, out, out_len, err);
}
