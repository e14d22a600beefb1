/*
 * tokenizer.h - the byte-level BPE tokenizer of a DeepSeek-V3-family
 * checkpoint (tokenizer.json in the HF `tokenizers` format, reference notes
 * §8), giving the same ids as HF `tokenizers` for the files it accepts.
 *
 * Supported tokenizer.json (anything else is DSCK_E_UNSUPPORTED, naming the
 * field in err->tensor):
 *   normalizer     null
 *   pre_tokenizer  Sequence of Split (pattern {"Regex": R} or {"String": S},
 *                  behavior "Isolated", invert false), ending with one
 *                  ByteLevel (add_prefix_space false, use_regex false); a
 *                  lone ByteLevel with the same options is accepted too
 *   model          BPE: byte_fallback false, dropout null, no
 *                  continuing_subword_prefix / end_of_word_suffix,
 *                  unk_token null or a vocab token, ignore_merges either way;
 *                  merges as "a b" strings or ["a", "b"] pairs
 *   decoder        ByteLevel (its options do not change decoding) or null
 *   added_tokens   lstrip, rstrip and single_word false; normalized either
 *                  way (with no normalizer it changes nothing but the match
 *                  order below); special either way
 *   post_processor anything: only a TemplateProcessing whose single template
 *                  starts with a SpecialToken is read, for the bos fallback
 * Checked: vocab ids unique; vocab and added-token ids together are exactly
 * 0..N-1; an added token already in the vocab has its vocab id; all 256
 * byte-level characters are in the vocab; every merge names two vocab
 * tokens whose concatenation is in the vocab, and no pair is listed twice.
 *
 * Error codes of dsck_tok_load:
 *   NOT_FOUND, IO, NOMEM        reading the files
 *   LIMIT                       tokenizer.json over 64 MiB, tokenizer_config.json
 *                               over 1 MiB, more than 2^24 ids or merges
 *   INVALID_JSON, INVALID_UTF8, DUPLICATE_KEY   the strict JSON profile (formats.md §1)
 *   CONFIG_MISSING              a required field is absent ("model", "model.vocab", ...)
 *   CONFIG_TYPE                 a field has the wrong JSON type
 *   CONFIG_RANGE                ids not unique or not dense, a merge naming a token
 *                               not in the vocab, a duplicate merge, a missing byte token
 *   UNSUPPORTED                 another model type, normalizer or pre-tokenizer,
 *                               an option set that changes the result, a regex PCRE2
 *                               cannot compile
 * err->file names the file, err->tensor the field.
 *
 * Encoding (dsck_tok_encode), exactly as tokenizers' encode with
 * add_special_tokens=False, with an optional bos in front:
 *   1. added tokens are cut out of the raw text: first those with
 *      normalized=false, then those with normalized=true in the text between;
 *      each pass takes the leftmost match, the longest one there;
 *   2. each remaining stretch is split by every Split regex in turn (PCRE2
 *      with UTF and UCP, JIT where available): each current piece becomes
 *      its matches and the text between them, empty pieces dropped;
 *   3. each piece's bytes become byte-level symbols, which are merged by
 *      rank as tokenizers' BPE does (a heap of (rank, position); a popped
 *      entry is applied when the pair now there merges to the same id).
 * The text must be valid UTF-8 (INVALID_UTF8 otherwise, naming the byte).
 * The regexes' Unicode properties (\p{L}, \p{N}, \s, ...) come from the
 * PCRE2 library's tables, tokenizers' from Oniguruma's (Unicode 16.0 in
 * tokenizers 0.23). PCRE2 10.42 has Unicode 14.0, so every \p{L}, \p{M},
 * \p{N}, \p{P} and \p{S} of a Split regex is widened by the 10,294 code
 * points Unicode 16.0 added to it (tok_regex.h, formats.md RT-R15): ids
 * then equal tokenizers' for every assigned code point (159,801 of Unicode
 * 17.0, each in five contexts: tests/oracle/compare_tokenizer_unicode.py).
 *
 * Decoding follows tokenizers' ByteLevel decoder: each token's characters
 * are mapped back to bytes (a token with a character outside the byte map,
 * such as a special token, gives its UTF-8 text as it is), the bytes are
 * concatenated, and every ill-formed UTF-8 subsequence becomes U+FFFD
 * (Rust's String::from_utf8_lossy: one U+FFFD per maximal subpart). Ids the
 * tokenizer does not define are skipped, as tokenizers does.
 *
 * A loaded tokenizer is read-only: any number of threads may encode and
 * decode with it at once.
 */
#ifndef DSCK_TOKENIZER_H
#define DSCK_TOKENIZER_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define DSCK_TOK_NONE UINT32_MAX /* "no such token" */
#define DSCK_TOK_BOS_DEFAULT (-1) /* add_bos: as tokenizer_config's add_bos_token says */

#define DSCK_TOK_MAX_JSON (64u << 20)   /* tokenizer.json, bytes */
#define DSCK_TOK_MAX_CONFIG (1u << 20)  /* tokenizer_config.json, bytes */
#define DSCK_TOK_MAX_IDS (1u << 24)     /* ids and merges */

struct dsck_tok;

/*
 * Load dir_or_file: a directory holding tokenizer.json, or the path of a
 * tokenizer.json; tokenizer_config.json beside it is read when present
 * (bos_token, eos_token, add_bos_token, chat_template). Without it bos is
 * the first SpecialToken of the post_processor's single template (if any,
 * and add_bos then defaults to true) and eos is <｜end▁of▁sentence｜> when
 * the vocabulary has it. On success *out is a new tokenizer the caller
 * releases with dsck_tok_free; on error *out is NULL.
 */
enum dsck_err dsck_tok_load(const char *dir_or_file, struct dsck_tok **out,
			    struct dsck_error *err);

/* The same from tokenizer.json text alone (no tokenizer_config.json:
 * bos/eos from the fallbacks above); for the fuzz target and embedding.
 * text need not be NUL-terminated; the caller keeps it. */
enum dsck_err dsck_tok_parse(const char *text, size_t len, struct dsck_tok **out,
			     struct dsck_error *err);

/* Free a tokenizer and everything it owns; accepts NULL. */
void dsck_tok_free(struct dsck_tok *tok);

/*
 * Token ids of text[0..len) into a new array *ids of *n entries that the
 * caller frees (never NULL on success, even for 0 ids). add_bos: 0 none,
 * > 0 the bos id first (DSCK_E_CONFIG_MISSING when there is none),
 * DSCK_TOK_BOS_DEFAULT as dsck_tok_add_bos_default says.
 */
enum dsck_err dsck_tok_encode(const struct dsck_tok *tok, const char *text,
			      size_t len, int add_bos, uint32_t **ids, size_t *n,
			      struct dsck_error *err);

/*
 * Text of ids[0..n) into a new NUL-terminated buffer *text of *len bytes
 * (NUL excluded) that the caller frees; always valid UTF-8 (see above).
 * skip_special drops the added tokens marked special.
 */
enum dsck_err dsck_tok_decode(const struct dsck_tok *tok, const uint32_t *ids,
			      size_t n, int skip_special, char **text,
			      size_t *len, struct dsck_error *err);

/*
 * The bytes one token decodes to, before any UTF-8 repair, for streaming:
 * returns a pointer into the tokenizer (valid until dsck_tok_free, not
 * NUL-terminated) and sets *len; an unknown id gives "" and 0. A character
 * may span tokens: callers hold back an incomplete UTF-8 tail.
 */
const char *dsck_tok_decode_piece(const struct dsck_tok *tok, uint32_t id,
				  size_t *len);

/* Id of the token whose text is the NUL-terminated s (vocab or added
 * token), or DSCK_TOK_NONE; s stays the caller's. */
uint32_t dsck_tok_id(const struct dsck_tok *tok, const char *s);

/* The text of token id as tokenizer.json spells it (the byte-level form
 * for vocab tokens), pointing into the tokenizer, NUL-terminated, *len
 * bytes; NULL for an unknown id. */
const char *dsck_tok_text(const struct dsck_tok *tok, uint32_t id, size_t *len);

/* Is id an added token marked special (skipped by skip_special)? */
int dsck_tok_is_special(const struct dsck_tok *tok, uint32_t id);

/* bos and eos ids, or DSCK_TOK_NONE. */
uint32_t dsck_tok_bos(const struct dsck_tok *tok);
uint32_t dsck_tok_eos(const struct dsck_tok *tok);

/* Number of ids, N: every id in 0..N-1 is a token. */
uint32_t dsck_tok_vocab_size(const struct dsck_tok *tok);

/* tokenizer_config's add_bos_token (see dsck_tok_load for the default). */
int dsck_tok_add_bos_default(const struct dsck_tok *tok);

/* Did tokenizer_config.json hold a chat_template? */
int dsck_tok_has_chat_template(const struct dsck_tok *tok);

#endif
