/*
 * config_edit.c - the config.json a conversion writes (formats.md CV-R5):
 * the source text with the smallest edits, so every field dsck does not
 * understand (auto_map, rope settings, new keys) passes through byte for
 * byte:
 *   - torch_dtype (and dtype, the newer spelling) set to the output dtype;
 *     torch_dtype added when neither is there;
 *   - quantization_config replaced by quant_json, added when missing, or
 *     removed when quant_json is NULL.
 */
#include "config.h"

#include "json_scan.h"
#include "jsonw.h"

#include <stdlib.h>
#include <string.h>

struct member {
	size_t kpos;     /* opening quote of the key */
	size_t vpos;     /* first byte of the value */
	size_t vend;     /* just past the value */
	int kind;        /* 0 other, 1 torch_dtype/dtype, 2 quantization_config */
};

enum dsck_err dsck_config_edit(const char *text, size_t len, const char *dtype,
			       const char *quant_json, int keep_quant,
			       char **out, size_t *out_len,
			       struct dsck_error *err)
{
	struct dsck_json_reader r;
	struct dsck_json_tok t, v;
	struct member *m = NULL;
	size_t n = 0, cap = 0;
	struct dsck_jsonw w = DSCK_JSONW_INIT;
	enum dsck_err rc;
	int have_dtype = 0, have_quant = 0;

	*out = NULL;
	struct dsck_json_opts jo = { 0, 0, NULL };
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
		m[n].kpos = t.pos;
		m[n].vpos = vpos;
		m[n].vend = r.pos;
		m[n].kind = 0;
		if (dsck_json_tok_equals(text, &t, "torch_dtype", 11) ||
		    dsck_json_tok_equals(text, &t, "dtype", 5))
			m[n].kind = 1;
		else if (!keep_quant && dsck_json_tok_equals(text, &t, "quantization_config", 19))
			m[n].kind = 2;
		have_dtype |= m[n].kind == 1;
		have_quant |= m[n].kind == 2;
		n++;
	}
	/* the value end the reader reports may include trailing blanks of a
	 * container; trim so removals keep the file's own layout */
	for (size_t i = 0; i < n; i++)
		while (m[i].vend > m[i].vpos &&
		       (text[m[i].vend - 1] == ' ' || text[m[i].vend - 1] == '\n' ||
			text[m[i].vend - 1] == '\t' || text[m[i].vend - 1] == '\r' ||
			text[m[i].vend - 1] == ','))
			m[i].vend--;

	size_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		if (m[i].kind == 1) {
			dsck_jsonw_put(&w, text + pos, m[i].vpos - pos);
			dsck_jsonw_str(&w, dtype, DSCK_JSONW_UTF8);
			pos = m[i].vend;
		} else if (m[i].kind == 2 && quant_json) {
			dsck_jsonw_put(&w, text + pos, m[i].vpos - pos);
			dsck_jsonw_puts(&w, quant_json);
			pos = m[i].vend;
		} else if (m[i].kind == 2) {
			/* drop ", key: value" (or "key: value, " when first) */
			if (i > 0) {
				dsck_jsonw_put(&w, text + pos, m[i - 1].vend - pos);
				pos = m[i].vend;
			} else if (n > 1) {
				dsck_jsonw_put(&w, text + pos, m[i].kpos - pos);
				pos = m[i + 1].kpos;
			} else {
				dsck_jsonw_put(&w, text + pos, m[i].kpos - pos);
				pos = m[i].vend;
			}
		}
	}
	size_t tail = n ? m[n - 1].vend : pos;
	if (tail < pos) /* the last member was removed */
		tail = pos;
	dsck_jsonw_put(&w, text + pos, tail - pos);
	if (!have_dtype) {
		dsck_jsonw_puts(&w, n ? ",\n  \"torch_dtype\": " : "\n  \"torch_dtype\": ");
		dsck_jsonw_str(&w, dtype, DSCK_JSONW_UTF8);
		n++;
	}
	if (!have_quant && quant_json && !keep_quant) {
		dsck_jsonw_puts(&w, n ? ",\n  \"quantization_config\": " : "\n  \"quantization_config\": ");
		dsck_jsonw_puts(&w, quant_json);
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
