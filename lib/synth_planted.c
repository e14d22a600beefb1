/*
 * synth_planted.c - the planted weights of dsck-synth (synth.h, formats.md
 * SY-R8).
 *
 * A planted model keeps the identity of the last token in the residual
 * stream and reads the next token straight off it:
 *   embed_tokens  row t = 10 * e_d(t), d(t) = k when the last byte of token
 *                 t's text is 'a' + k (k < 26), else 26 (special tokens,
 *                 ids beyond the tokenizer, any other last byte)
 *   lm_head       row of the token "a"+k (k >= 1) = 1 * e_(k-1); row of "a"
 *                 = e_25 + e_26; every other row zero
 * RMSNorm turns 10 * e_d into sqrt(hidden_size) * e_d (about 17.9 for
 * hidden 320), so the logit of the next letter is about 17.9 and every
 * other logit about zero. Every block adds a contribution orders of
 * magnitude smaller (synth.c: tiny FP8 scales), so greedy decoding follows
 * the rule, and a conversion that loses or corrupts a scale breaks it.
 */
#include "synth.h"

#include <stdlib.h>
#include <string.h>

enum dsck_err dsck_synth_planted_make(const struct dsck_config *cfg,
				      struct dsck_synth_planted *pl,
				      struct dsck_error *err)
{
	enum dsck_err rc;
	int16_t *last = NULL;
	uint64_t v = cfg->vocab_size;

	memset(pl, 0, sizeof *pl);
	if (cfg->hidden_size <= DSCK_PLANTED_OTHER) {
		dsck_error_tensor(err, "hidden_size");
		dsck_error_expect(err, ">= %d", DSCK_PLANTED_OTHER + 1);
		dsck_error_found(err, "%llu", (unsigned long long)cfg->hidden_size);
		return dsck_error_set(err, DSCK_E_CONFIG_RANGE,
				      "planted weights need a dimension per letter and one more");
	}
	if (cfg->tie_word_embeddings) {
		dsck_error_tensor(err, "tie_word_embeddings");
		dsck_error_expect(err, "false");
		dsck_error_found(err, "true");
		return dsck_error_set(err, DSCK_E_CONFIG_RANGE,
				      "planted weights need an lm_head of their own");
	}
	if (v == 0 || v > SIZE_MAX / sizeof *last)
		return dsck_error_set(err, DSCK_E_NOMEM, "planted token tables");
	last = malloc((size_t)v * sizeof *last);
	pl->dim_of = malloc((size_t)v);
	pl->letter_of = malloc((size_t)v);
	if (!last || !pl->dim_of || !pl->letter_of) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "planted token tables");
		goto out;
	}
	rc = dsck_synth_tokenizer_last_bytes(cfg, last, (size_t)v, err);
	if (rc)
		goto out;
	memset(pl->letter_of, -1, (size_t)v);
	for (uint64_t t = 0; t < v; t++)
		pl->dim_of[t] = last[t] >= 'a' && last[t] <= 'z'
					? (uint8_t)(last[t] - 'a')
					: DSCK_PLANTED_OTHER;
	/* the single-byte tokens: byte b has id 2 + b (synth_tokenizer.c) */
	for (int k = 0; k < 26; k++) {
		uint64_t id = 2 + (uint64_t)('a' + k);
		if (id < v && last[id] == 'a' + k)
			pl->letter_of[id] = (int8_t)k;
	}
	pl->vocab = v;
out:
	free(last);
	if (rc)
		dsck_synth_planted_release(pl);
	return rc;
}

void dsck_synth_planted_release(struct dsck_synth_planted *pl)
{
	free(pl->dim_of);
	free(pl->letter_of);
	memset(pl, 0, sizeof *pl);
}

float dsck_synth_planted_embed(const struct dsck_synth_planted *pl,
			       uint64_t r, uint64_t c)
{
	uint64_t d = r < pl->vocab ? pl->dim_of[r] : DSCK_PLANTED_OTHER;
	return c == d ? DSCK_PLANTED_EMBED : 0.0f;
}

float dsck_synth_planted_head(const struct dsck_synth_planted *pl,
			      uint64_t r, uint64_t c)
{
	int k = r < pl->vocab ? pl->letter_of[r] : -1;
	if (k < 0)
		return 0.0f;
	if (k == 0) /* "a" follows "z" and every token not ending in a letter */
		return c == 25 || c == DSCK_PLANTED_OTHER ? DSCK_PLANTED_HEAD : 0.0f;
	return c == (uint64_t)(k - 1) ? DSCK_PLANTED_HEAD : 0.0f;
}
