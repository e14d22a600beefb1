/*
 * tokenizer.c - tokenizer.h: loading tokenizer.json and
 * tokenizer_config.json (validation, the id tables, the merge table, the
 * compiled Split regexes), then encoding and decoding.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer.h"

#include "arith.h"
#include "io.h"
#include "json.h"
#include "strmap.h"
#include "tok_regex.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DSCK_TOK_MAX_SPLITS 16 /* Split pre-tokenizers */

/* One merge: the pair (a, b) as key a << 32 | b; rank DSCK_TOK_NONE marks
 * an empty slot. */
struct tok_merge {
	uint64_t key;
	uint32_t rank; /* position in model.merges: lower merges first */
	uint32_t id;   /* the token a + b */
};

/* An added token, matched in raw text before the pre-tokenizer. */
struct tok_added {
	uint32_t id;
	uint32_t off, len;  /* its text in pool */
	unsigned first;     /* its first byte */
	int normalized;     /* matched in the second pass */
};

struct dsck_tok {
	uint32_t n_ids;           /* tokens: ids 0..n_ids-1 */
	char *pool;               /* every token text, each followed by NUL */
	uint32_t *off, *len;      /* [n_ids] text of id at pool + off[id] */
	unsigned char *special;   /* [n_ids] 1: added token marked special */
	unsigned char *dec;       /* ByteLevel-decoded bytes of every token */
	uint32_t *dec_off, *dec_len; /* [n_ids] */
	struct dsck_strmap ids;   /* text -> id; keys point into pool */
	struct tok_merge *merges; /* open addressing, load <= 1/2 */
	size_t merge_mask;        /* slots - 1, slots a power of two */
	struct tok_added *added;  /* sorted by first byte, then longest first */
	size_t n_added;
	uint32_t added_first[257]; /* added[added_first[b] .. added_first[b+1]) start with byte b */
	uint32_t byte_id[256];    /* id of the byte-level token of each byte */
	pcre2_code *re[DSCK_TOK_MAX_SPLITS]; /* the Split regexes, in order */
	size_t n_re;
	uint32_t bos, eos;        /* or DSCK_TOK_NONE */
	int add_bos;              /* tokenizer_config add_bos_token */
	int has_template;         /* tokenizer_config chat_template present */
	int ignore_merges;        /* BPE: a piece that is a vocab token is kept whole */
};

/* GPT-2 byte-to-unicode: the printable Latin-1 bytes map to themselves, the
 * other 68 bytes to U+0100.. in byte order, so every byte is a visible
 * character (tokenizers' ByteLevel bytes_char). */
static uint32_t byte_cp(unsigned b)
{
	uint32_t extra = 0;
	for (unsigned x = 0; x < 256; x++) {
		int printable = (x >= 33 && x <= 126) || (x >= 161 && x <= 172) ||
				x >= 174;
		if (x == b)
			return printable ? x : 256 + extra;
		if (!printable)
			extra++;
	}
	return 0;
}

/* UTF-8 of a code point below U+0800 (all byte-level characters are). */
static size_t cp_utf8(uint32_t cp, char *s)
{
	if (cp < 0x80) {
		s[0] = (char)cp;
		return 1;
	}
	s[0] = (char)(0xC0 | (cp >> 6));
	s[1] = (char)(0x80 | (cp & 0x3F));
	return 2;
}

/* ---- JSON field access ----------------------------------------------- */

static enum dsck_err field_missing(struct dsck_error *err, const char *name)
{
	dsck_error_tensor(err, name);
	return dsck_error_set(err, DSCK_E_CONFIG_MISSING, "required field '%s' is absent", name);
}

static enum dsck_err field_type(struct dsck_error *err, const char *name, const char *want)
{
	dsck_error_tensor(err, name);
	dsck_error_expect(err, "%s", want);
	return dsck_error_set(err, DSCK_E_CONFIG_TYPE, "field '%s' is not %s", name, want);
}

static enum dsck_err field_unsupported(struct dsck_error *err, const char *name,
				       const char *want, const char *found)
{
	dsck_error_tensor(err, name);
	if (want)
		dsck_error_expect(err, "%s", want);
	if (found)
		dsck_error_found(err, "%.200s", found);
	return dsck_error_set(err, DSCK_E_UNSUPPORTED, "tokenizer field '%s' has a value dsck does not support", name);
}

/* A field that is absent or null: *out NULL. Present: must have type t. */
static enum dsck_err get_opt(const cJSON *obj, const char *key, int t,
			     const char *name, const char *want,
			     const cJSON **out, struct dsck_error *err)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	*out = NULL;
	if (!it || cJSON_IsNull(it))
		return DSCK_OK;
	if (!(it->type & t))
		return field_type(err, name, want);
	*out = it;
	return DSCK_OK;
}

static enum dsck_err get_req(const cJSON *obj, const char *key, int t,
			     const char *name, const char *want,
			     const cJSON **out, struct dsck_error *err)
{
	enum dsck_err rc = get_opt(obj, key, t, name, want, out, err);
	if (rc == DSCK_OK && !*out)
		rc = field_missing(err, name);
	return rc;
}

/* A boolean option that must be absent, null, or equal to want. */
static enum dsck_err bool_must(const cJSON *obj, const char *key, int want,
			       const char *name, struct dsck_error *err)
{
	const cJSON *it;
	enum dsck_err rc = get_opt(obj, key, cJSON_True | cJSON_False, name,
				   "a boolean", &it, err);
	if (rc == DSCK_OK && it && cJSON_IsTrue(it) != want)
		rc = field_unsupported(err, name, want ? "true" : "false",
				       want ? "false" : "true");
	return rc;
}

/* A field that must be absent or null. */
static enum dsck_err null_must(const cJSON *obj, const char *key,
			       const char *name, struct dsck_error *err)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (it && !cJSON_IsNull(it))
		return field_unsupported(err, name, "null", "a value");
	return DSCK_OK;
}

static int str_is(const cJSON *it, const char *s)
{
	return it && cJSON_IsString(it) && strcmp(it->valuestring, s) == 0;
}

/* ---- the id tables ----------------------------------------------------- */

/* Record token text s[0..n) as id. The caller checked id < cap. */
static enum dsck_err id_set(struct dsck_tok *t, uint32_t id, const char *s,
			    size_t n, size_t *pool_used, const char *name,
			    struct dsck_error *err)
{
	if (t->off[id] != DSCK_TOK_NONE) {
		dsck_error_tensor(err, name);
		dsck_error_found(err, "id %u twice", id);
		return dsck_error_set(err, DSCK_E_CONFIG_RANGE, "two tokens have id %u", id);
	}
	memcpy(t->pool + *pool_used, s, n);
	t->pool[*pool_used + n] = '\0';
	t->off[id] = (uint32_t)*pool_used;
	t->len[id] = (uint32_t)n;
	int r = dsck_strmap_insert(&t->ids, t->pool + *pool_used, n, id, NULL);
	*pool_used += n + 1;
	if (r < 0)
		return dsck_error_set(err, DSCK_E_NOMEM, "token table");
	return DSCK_OK;
}

/* Bytes of an added token's "content" and its flags. */
static enum dsck_err added_read(const cJSON *a, uint64_t *id, const char **content,
				int *special, int *normalized,
				struct dsck_error *err)
{
	const cJSON *it;
	enum dsck_err rc;
	if (!cJSON_IsObject(a))
		return field_type(err, "added_tokens[]", "an object");
	if ((rc = get_req(a, "id", cJSON_Number, "added_tokens[].id", "an integer", &it, err)))
		return rc;
	if (dsck_json_u64(it, id) != 0)
		return field_type(err, "added_tokens[].id", "a non-negative integer");
	if ((rc = get_req(a, "content", cJSON_String, "added_tokens[].content", "a string", &it, err)))
		return rc;
	*content = it->valuestring;
	if (!**content) {
		dsck_error_tensor(err, "added_tokens[].content");
		return dsck_error_set(err, DSCK_E_CONFIG_RANGE, "an added token is empty");
	}
	if ((rc = get_opt(a, "special", cJSON_True | cJSON_False, "added_tokens[].special",
			  "a boolean", &it, err)))
		return rc;
	*special = it && cJSON_IsTrue(it);
	if ((rc = get_opt(a, "normalized", cJSON_True | cJSON_False,
			  "added_tokens[].normalized", "a boolean", &it, err)))
		return rc;
	*normalized = it ? cJSON_IsTrue(it) : !*special; /* tokenizers' default */
	if ((rc = bool_must(a, "lstrip", 0, "added_tokens[].lstrip", err)) ||
	    (rc = bool_must(a, "rstrip", 0, "added_tokens[].rstrip", err)) ||
	    (rc = bool_must(a, "single_word", 0, "added_tokens[].single_word", err)))
		return rc;
	return DSCK_OK;
}

static int added_cmp(const void *x, const void *y)
{
	const struct tok_added *a = x, *b = y;
	if (a->first != b->first)
		return a->first < b->first ? -1 : 1;
	if (a->len != b->len)
		return a->len > b->len ? -1 : 1; /* longest first */
	return a->id < b->id ? -1 : a->id > b->id;
}

/* vocab and added_tokens -> off/len/special, the text map and the added
 * token table; then the byte tokens and the density check. */
static enum dsck_err ids_build(struct dsck_tok *t, const cJSON *vocab,
			       const cJSON *added, struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	size_t n_v = (size_t)cJSON_GetArraySize(vocab);
	size_t n_a = added ? (size_t)cJSON_GetArraySize(added) : 0;
	uint64_t cap, pool = 0;
	const cJSON *it;

	if (n_v > DSCK_TOK_MAX_IDS || n_a > DSCK_TOK_MAX_IDS) {
		dsck_error_tensor(err, n_v > DSCK_TOK_MAX_IDS ? "model.vocab" : "added_tokens");
		dsck_error_expect(err, "at most %u entries", DSCK_TOK_MAX_IDS);
		return dsck_error_set(err, DSCK_E_LIMIT, "too many tokens");
	}
	cap = (uint64_t)n_v + n_a;
	/* pool: every text plus a NUL; each text is shorter than the file */
	cJSON_ArrayForEach(it, vocab)
		if (dsck_add_u64(pool, dsck_json_strlen(it->string) + 1, &pool))
			return dsck_error_set(err, DSCK_E_OVERFLOW, "token texts");
	if (added)
		cJSON_ArrayForEach(it, added) {
			const cJSON *c = cJSON_IsObject(it) ?
				cJSON_GetObjectItemCaseSensitive(it, "content") : NULL;
			if (cJSON_IsString(c) &&
			    dsck_add_u64(pool, dsck_json_strlen(c->valuestring) + 1, &pool))
				return dsck_error_set(err, DSCK_E_OVERFLOW, "token texts");
		}
	if (pool > UINT32_MAX) {
		dsck_error_expect(err, "at most %u bytes of token text", UINT32_MAX);
		return dsck_error_set(err, DSCK_E_LIMIT, "token texts too long");
	}
	size_t cap_n = (size_t)cap ? (size_t)cap : 1;
	t->pool = malloc((size_t)pool + 1);
	t->off = malloc(cap_n * sizeof *t->off);
	t->len = calloc(cap_n, sizeof *t->len);
	t->special = calloc(cap_n, 1);
	t->added = calloc(n_a ? n_a : 1, sizeof *t->added);
	if (!t->pool || !t->off || !t->len || !t->special || !t->added ||
	    dsck_strmap_reserve(&t->ids, (size_t)cap) != 0)
		return dsck_error_set(err, DSCK_E_NOMEM, "token table");
	for (size_t i = 0; i < cap_n; i++)
		t->off[i] = DSCK_TOK_NONE;

	size_t used = 0;
	cJSON_ArrayForEach(it, vocab) {
		uint64_t id;
		if (!cJSON_IsNumber(it) || dsck_json_u64(it, &id) != 0) {
			dsck_error_found(err, "%.200s", it->string);
			return field_type(err, "model.vocab", "token -> non-negative integer id");
		}
		if (id >= cap) {
			dsck_error_tensor(err, "model.vocab");
			dsck_error_expect(err, "ids below %llu (the number of tokens)",
					  (unsigned long long)cap);
			dsck_error_found(err, "%llu", (unsigned long long)id);
			return dsck_error_set(err, DSCK_E_CONFIG_RANGE, "token ids are not dense");
		}
		if ((rc = id_set(t, (uint32_t)id, it->string, dsck_json_strlen(it->string),
				 &used, "model.vocab", err)))
			return rc;
	}
	if (added)
		cJSON_ArrayForEach(it, added) {
			uint64_t id = 0;
			const char *content = "";
			int special = 0, normalized = 0;
			uint32_t have;
			if ((rc = added_read(it, &id, &content, &special, &normalized, err)))
				return rc;
			size_t n = dsck_json_strlen(content);
			if (dsck_strmap_find(&t->ids, content, n, &have)) {
				if (have != id) {
					dsck_error_tensor(err, "added_tokens[].id");
					dsck_error_expect(err, "%u (its vocab id)", have);
					dsck_error_found(err, "%llu", (unsigned long long)id);
					return dsck_error_set(err, DSCK_E_CONFIG_RANGE,
							      "added token '%.80s' has another id than in the vocab",
							      content);
				}
			} else {
				if (id >= cap) {
					dsck_error_tensor(err, "added_tokens[].id");
					dsck_error_found(err, "%llu", (unsigned long long)id);
					return dsck_error_set(err, DSCK_E_CONFIG_RANGE, "token ids are not dense");
				}
				if ((rc = id_set(t, (uint32_t)id, content, n, &used,
						 "added_tokens[].id", err)))
					return rc;
			}
			struct tok_added *a = &t->added[t->n_added++];
			a->id = (uint32_t)id;
			a->off = t->off[id];
			a->len = t->len[id];
			a->first = (unsigned char)content[0];
			a->normalized = normalized;
			if (special)
				t->special[id] = 1;
		}

	/* dense: ids 0..N-1 with N the number of tokens */
	size_t count = t->ids.count;
	for (size_t i = 0; i < cap_n; i++)
		if ((i < count) != (t->off[i] != DSCK_TOK_NONE)) {
			dsck_error_tensor(err, "model.vocab");
			dsck_error_expect(err, "ids 0..%zu", count ? count - 1 : 0);
			dsck_error_found(err, "no token has id %zu", i < count ? i : count);
			return dsck_error_set(err, DSCK_E_CONFIG_RANGE, "token ids are not dense");
		}
	t->n_ids = (uint32_t)count;

	qsort(t->added, t->n_added, sizeof *t->added, added_cmp);
	for (size_t i = 0, b = 0; b <= 256; b++) {
		while (i < t->n_added && t->added[i].first < b)
			i++;
		t->added_first[b] = (uint32_t)i;
	}

	for (unsigned b = 0; b < 256; b++) {
		char s[2];
		size_t n = cp_utf8(byte_cp(b), s);
		if (!dsck_strmap_find(&t->ids, s, n, &t->byte_id[b])) {
			dsck_error_tensor(err, "model.vocab");
			dsck_error_found(err, "no token for byte 0x%02X", b);
			return dsck_error_set(err, DSCK_E_CONFIG_RANGE,
					      "the vocab lacks a byte-level token");
		}
	}
	return DSCK_OK;
}

/* ByteLevel decoding of every token, once: dec_off/dec_len per id. */
static enum dsck_err dec_build(struct dsck_tok *t, struct dsck_error *err)
{
	int16_t cp_byte[324];
	size_t total = 0;

	for (size_t i = 0; i < 324; i++)
		cp_byte[i] = -1;
	for (unsigned b = 0; b < 256; b++)
		cp_byte[byte_cp(b)] = (int16_t)b;
	for (uint32_t id = 0; id < t->n_ids; id++)
		total += t->len[id]; /* decoded <= text length; sum < pool size */
	t->dec = malloc(total ? total : 1);
	t->dec_off = malloc((t->n_ids ? t->n_ids : 1) * sizeof *t->dec_off);
	t->dec_len = malloc((t->n_ids ? t->n_ids : 1) * sizeof *t->dec_len);
	if (!t->dec || !t->dec_off || !t->dec_len)
		return dsck_error_set(err, DSCK_E_NOMEM, "decode table");
	size_t used = 0;
	for (uint32_t id = 0; id < t->n_ids; id++) {
		const unsigned char *s = (const unsigned char *)t->pool + t->off[id];
		size_t n = t->len[id], o = used;
		int mapped = 1;
		for (size_t i = 0; i < n && mapped;) {
			uint32_t cp;
			if (s[i] < 0x80) {
				cp = s[i++];
			} else if ((s[i] & 0xE0) == 0xC0 && i + 1 < n) {
				cp = ((uint32_t)(s[i] & 0x1F) << 6) | (s[i + 1] & 0x3F);
				i += 2;
			} else {
				cp = 0xFFFF; /* 3- or 4-byte character: never mapped */
				i++;
			}
			if (cp < 324 && cp_byte[cp] >= 0)
				t->dec[o++] = (unsigned char)cp_byte[cp];
			else
				mapped = 0;
		}
		if (!mapped) { /* tokenizers keeps such a token's own UTF-8 */
			memcpy(t->dec + used, s, n);
			o = used + n;
		}
		t->dec_off[id] = (uint32_t)used;
		t->dec_len[id] = (uint32_t)(o - used);
		used = o;
	}
	return DSCK_OK;
}

/* ---- merges ------------------------------------------------------------ */

static uint64_t merge_hash(uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return key;
}

/* Insert pair key -> (rank, id); 1 when the pair is there already. */
static int merge_put(struct dsck_tok *t, uint64_t key, uint32_t rank, uint32_t id)
{
	size_t i = (size_t)merge_hash(key) & t->merge_mask;
	while (t->merges[i].rank != DSCK_TOK_NONE) {
		if (t->merges[i].key == key)
			return 1;
		i = (i + 1) & t->merge_mask;
	}
	t->merges[i].key = key;
	t->merges[i].rank = rank;
	t->merges[i].id = id;
	return 0;
}

static const struct tok_merge *tok_merge_find(const struct dsck_tok *t, uint32_t a, uint32_t b)
{
	uint64_t key = ((uint64_t)a << 32) | b;
	size_t i = (size_t)merge_hash(key) & t->merge_mask;
	while (t->merges[i].rank != DSCK_TOK_NONE) {
		if (t->merges[i].key == key)
			return &t->merges[i];
		i = (i + 1) & t->merge_mask;
	}
	return NULL;
}

static enum dsck_err merge_part(const struct dsck_tok *t, const char *s, size_t n,
				size_t rank, uint32_t *id, struct dsck_error *err)
{
	if (dsck_strmap_find(&t->ids, s, n, id))
		return DSCK_OK;
	dsck_error_tensor(err, "model.merges");
	dsck_error_found(err, "'%.*s'", (int)(n > 200 ? 200 : n), s);
	return dsck_error_set(err, DSCK_E_CONFIG_RANGE,
			      "merge %zu names a token that is not in the vocab", rank);
}

static enum dsck_err merges_build(struct dsck_tok *t, const cJSON *merges,
				  struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	size_t n = (size_t)cJSON_GetArraySize(merges), cap = 16, rank = 0;
	char *joined = NULL;
	size_t joined_cap = 0;
	const cJSON *it;

	if (n > DSCK_TOK_MAX_IDS) {
		dsck_error_tensor(err, "model.merges");
		dsck_error_expect(err, "at most %u merges", DSCK_TOK_MAX_IDS);
		return dsck_error_set(err, DSCK_E_LIMIT, "too many merges");
	}
	while (cap < 2 * n)
		cap *= 2; /* load at most 1/2; n <= 2^24 so no overflow */
	t->merges = malloc(cap * sizeof *t->merges);
	if (!t->merges)
		return dsck_error_set(err, DSCK_E_NOMEM, "merge table");
	t->merge_mask = cap - 1;
	for (size_t i = 0; i < cap; i++)
		t->merges[i].rank = DSCK_TOK_NONE;

	cJSON_ArrayForEach(it, merges) {
		const char *a, *b;
		size_t na, nb;
		if (cJSON_IsString(it)) {
			/* "a b": exactly one space; "#version" lines are skipped
			 * and take no rank, as tokenizers reads them */
			const char *s = it->valuestring, *sp = strchr(s, ' ');
			if (strncmp(s, "#version", 8) == 0)
				continue;
			if (!sp || strchr(sp + 1, ' ')) {
				dsck_error_tensor(err, "model.merges");
				dsck_error_found(err, "'%.200s'", s);
				rc = dsck_error_set(err, DSCK_E_CONFIG_RANGE,
						    "merge %zu is not two tokens separated by one space", rank);
				goto out;
			}
			a = s;
			na = (size_t)(sp - s);
			b = sp + 1;
			nb = strlen(b);
		} else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 &&
			   cJSON_IsString(it->child) && cJSON_IsString(it->child->next)) {
			a = it->child->valuestring;
			na = dsck_json_strlen(a);
			b = it->child->next->valuestring;
			nb = dsck_json_strlen(b);
		} else {
			rc = field_type(err, "model.merges", "\"a b\" strings or [\"a\", \"b\"] pairs");
			goto out;
		}
		uint32_t ia, ib, in;
		if ((rc = merge_part(t, a, na, rank, &ia, err)) ||
		    (rc = merge_part(t, b, nb, rank, &ib, err)))
			goto out;
		if (na + nb > joined_cap) { /* both below the file size */
			free(joined);
			joined_cap = 2 * (na + nb);
			if (!(joined = malloc(joined_cap))) {
				rc = dsck_error_set(err, DSCK_E_NOMEM, "merge table");
				goto out;
			}
		}
		memcpy(joined, a, na);
		memcpy(joined + na, b, nb);
		if ((rc = merge_part(t, joined, na + nb, rank, &in, err)))
			goto out;
		if (merge_put(t, ((uint64_t)ia << 32) | ib, (uint32_t)rank, in)) {
			dsck_error_tensor(err, "model.merges");
			dsck_error_found(err, "'%.100s' '%.100s'", a, b);
			rc = dsck_error_set(err, DSCK_E_CONFIG_RANGE,
					    "merge %zu repeats an earlier merge", rank);
			goto out;
		}
		rank++;
	}
out:
	free(joined);
	return rc;
}

/* ---- pre-tokenizer, model, decoder -------------------------------------- */

static enum dsck_err regex_add(struct dsck_tok *t, const cJSON *pattern,
			       struct dsck_error *err)
{
	const cJSON *re = NULL, *lit = NULL;
	enum dsck_err rc;
	uint32_t opts = PCRE2_UTF | PCRE2_UCP;
	int code;
	PCRE2_SIZE at;

	if (!cJSON_IsObject(pattern))
		return field_type(err, "pre_tokenizer.pattern", "an object");
	if ((rc = get_opt(pattern, "Regex", cJSON_String, "pre_tokenizer.pattern.Regex",
			  "a string", &re, err)) ||
	    (rc = get_opt(pattern, "String", cJSON_String, "pre_tokenizer.pattern.String",
			  "a string", &lit, err)))
		return rc;
	if (!re == !lit)
		return field_unsupported(err, "pre_tokenizer.pattern", "{\"Regex\": R} or {\"String\": S}", NULL);
	if (lit)
		opts |= PCRE2_LITERAL;
	if (t->n_re == DSCK_TOK_MAX_SPLITS) {
		dsck_error_tensor(err, "pre_tokenizer.pretokenizers");
		dsck_error_expect(err, "at most %d Splits", DSCK_TOK_MAX_SPLITS);
		return dsck_error_set(err, DSCK_E_LIMIT, "too many Split pre-tokenizers");
	}
	const char *src = re ? re->valuestring : lit->valuestring;
	pcre2_code *c = pcre2_compile((PCRE2_SPTR)src, dsck_json_strlen(src), opts,
				      &code, &at, NULL);
	if (!c) {
		PCRE2_UCHAR msg[120];
		pcre2_get_error_message(code, msg, sizeof msg);
		dsck_error_tensor(err, "pre_tokenizer.pattern.Regex");
		dsck_error_found(err, "%.120s (at pattern byte %zu)", (const char *)msg, (size_t)at);
		return dsck_error_set(err, DSCK_E_UNSUPPORTED, "PCRE2 cannot compile the Split regex");
	}
	if (re) {
		/* RT-R15: the pattern compiled, and errors named, as written;
		 * then compiled again with its classes widened to Unicode 16.0 */
		size_t wlen = 0;
		char *wide = dsck_tok_regex_widen(src, dsck_json_strlen(src), &wlen);
		int nomem = !wide;
		pcre2_code_free(c);
		c = wide ? pcre2_compile((PCRE2_SPTR)wide, wlen, opts, &code, &at, NULL) : NULL;
		free(wide);
		if (!c) {
			dsck_error_tensor(err, "pre_tokenizer.pattern.Regex");
			return nomem ? dsck_error_set(err, DSCK_E_NOMEM, "Split regex")
				     : dsck_error_set(err, DSCK_E_UNSUPPORTED,
						      "PCRE2 cannot compile the Split regex with Unicode 16.0 classes");
		}
	}
	(void)pcre2_jit_compile(c, PCRE2_JIT_COMPLETE); /* interpreter when no JIT */
	t->re[t->n_re++] = c;
	return DSCK_OK;
}

static enum dsck_err bytelevel_check(const cJSON *p, struct dsck_error *err)
{
	enum dsck_err rc;
	if ((rc = bool_must(p, "add_prefix_space", 0, "pre_tokenizer.ByteLevel.add_prefix_space", err)) ||
	    (rc = bool_must(p, "use_regex", 0, "pre_tokenizer.ByteLevel.use_regex", err)))
		return rc;
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(p, "use_regex");
	if (!u) /* tokenizers' default is true */
		return field_unsupported(err, "pre_tokenizer.ByteLevel.use_regex", "false", "absent (true)");
	return DSCK_OK;
}

static enum dsck_err pretok_build(struct dsck_tok *t, const cJSON *pt,
				  struct dsck_error *err)
{
	enum dsck_err rc;
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(pt, "type"), *list, *p;

	if (str_is(type, "ByteLevel"))
		return bytelevel_check(pt, err);
	if (!str_is(type, "Sequence"))
		return field_unsupported(err, "pre_tokenizer.type", "Sequence or ByteLevel",
					 cJSON_IsString(type) ? type->valuestring : "absent");
	if ((rc = get_req(pt, "pretokenizers", cJSON_Array, "pre_tokenizer.pretokenizers",
			  "an array", &list, err)))
		return rc;
	size_t i = 0, n = (size_t)cJSON_GetArraySize(list);
	cJSON_ArrayForEach(p, list) {
		const cJSON *pty = cJSON_IsObject(p) ?
			cJSON_GetObjectItemCaseSensitive(p, "type") : NULL;
		const cJSON *pat, *beh;
		if (++i == n) { /* the last one: ByteLevel */
			if (!str_is(pty, "ByteLevel"))
				return field_unsupported(err, "pre_tokenizer.pretokenizers[-1].type",
							 "ByteLevel", cJSON_IsString(pty) ? pty->valuestring : "absent");
			return bytelevel_check(p, err);
		}
		if (!str_is(pty, "Split"))
			return field_unsupported(err, "pre_tokenizer.pretokenizers[].type", "Split",
						 cJSON_IsString(pty) ? pty->valuestring : "absent");
		if ((rc = get_req(p, "behavior", cJSON_String, "pre_tokenizer.Split.behavior",
				  "a string", &beh, err)))
			return rc;
		if (strcmp(beh->valuestring, "Isolated") != 0)
			return field_unsupported(err, "pre_tokenizer.Split.behavior", "Isolated",
						 beh->valuestring);
		if ((rc = bool_must(p, "invert", 0, "pre_tokenizer.Split.invert", err)) ||
		    (rc = get_req(p, "pattern", cJSON_Object, "pre_tokenizer.Split.pattern",
				  "an object", &pat, err)) ||
		    (rc = regex_add(t, pat, err)))
			return rc;
	}
	return field_unsupported(err, "pre_tokenizer.pretokenizers", "Splits then ByteLevel", "an empty list");
}

static enum dsck_err model_check(struct dsck_tok *t, const cJSON *m,
				 struct dsck_error *err)
{
	enum dsck_err rc;
	const cJSON *type, *it;

	if ((rc = get_req(m, "type", cJSON_String, "model.type", "a string", &type, err)))
		return rc;
	if (strcmp(type->valuestring, "BPE") != 0)
		return field_unsupported(err, "model.type", "BPE", type->valuestring);
	if ((rc = bool_must(m, "byte_fallback", 0, "model.byte_fallback", err)) ||
	    (rc = null_must(m, "dropout", "model.dropout", err)) ||
	    (rc = null_must(m, "continuing_subword_prefix", "model.continuing_subword_prefix", err)) ||
	    (rc = null_must(m, "end_of_word_suffix", "model.end_of_word_suffix", err)))
		return rc;
	if ((rc = get_opt(m, "ignore_merges", cJSON_True | cJSON_False, "model.ignore_merges",
			  "a boolean", &it, err)))
		return rc;
	t->ignore_merges = it && cJSON_IsTrue(it);
	/* unk_token: never used, every byte has a token; it must be one */
	if ((rc = get_opt(m, "unk_token", cJSON_String, "model.unk_token", "a string", &it, err)))
		return rc;
	if (it && !dsck_strmap_find(&t->ids, it->valuestring, dsck_json_strlen(it->valuestring),
				    &(uint32_t){ 0 })) {
		dsck_error_tensor(err, "model.unk_token");
		return dsck_error_set(err, DSCK_E_CONFIG_RANGE, "unk_token is not in the vocab");
	}
	return DSCK_OK;
}

/* bos from the post_processor: the first piece of a TemplateProcessing
 * single template when it is a SpecialToken. */
static void post_bos(struct dsck_tok *t, const cJSON *pp)
{
	const cJSON *single, *st, *id;
	if (!cJSON_IsObject(pp) || !str_is(cJSON_GetObjectItemCaseSensitive(pp, "type"),
					   "TemplateProcessing"))
		return;
	single = cJSON_GetObjectItemCaseSensitive(pp, "single");
	if (!cJSON_IsArray(single) || !cJSON_IsObject(single->child))
		return;
	st = cJSON_GetObjectItemCaseSensitive(single->child, "SpecialToken");
	id = cJSON_IsObject(st) ? cJSON_GetObjectItemCaseSensitive(st, "id") : NULL;
	if (cJSON_IsString(id)) {
		t->bos = dsck_tok_id(t, id->valuestring);
		t->add_bos = t->bos != DSCK_TOK_NONE;
	}
}

/* ---- tokenizer_config.json ------------------------------------------- */

/* bos_token / eos_token: absent, null, "text", or {"content": "text"}. */
static enum dsck_err config_token(const struct dsck_tok *t, const cJSON *cfg,
				  const char *key, uint32_t *id, struct dsck_error *err)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(cfg, key);
	if (!it)
		return DSCK_OK;
	if (cJSON_IsNull(it)) {
		*id = DSCK_TOK_NONE;
		return DSCK_OK;
	}
	if (cJSON_IsObject(it))
		it = cJSON_GetObjectItemCaseSensitive(it, "content");
	if (!cJSON_IsString(it))
		return field_type(err, key, "a string or {\"content\": string}");
	*id = dsck_tok_id(t, it->valuestring);
	if (*id == DSCK_TOK_NONE) {
		dsck_error_tensor(err, key);
		dsck_error_found(err, "'%.200s'", it->valuestring);
		return dsck_error_set(err, DSCK_E_CONFIG_RANGE, "%s is not a token of tokenizer.json", key);
	}
	return DSCK_OK;
}

static enum dsck_err config_load(struct dsck_tok *t, const char *path,
				 struct dsck_error *err)
{
	char *text = NULL;
	size_t len;
	cJSON *cfg = NULL;
	const cJSON *it;
	enum dsck_err rc = dsck_file_read_all(path, DSCK_TOK_MAX_CONFIG, &text, &len, err);

	if (rc == DSCK_E_NOT_FOUND) { /* optional */
		dsck_error_clear(err);
		return DSCK_OK;
	}
	if (rc)
		goto out;
	if ((rc = dsck_json_parse(text, len, DSCK_JSON_NUL_TERMINATED, &cfg, err)))
		goto out;
	if (!cJSON_IsObject(cfg)) {
		rc = field_type(err, "(top level)", "an object");
		goto out;
	}
	if ((rc = config_token(t, cfg, "bos_token", &t->bos, err)) ||
	    (rc = config_token(t, cfg, "eos_token", &t->eos, err)) ||
	    (rc = get_opt(cfg, "add_bos_token", cJSON_True | cJSON_False, "add_bos_token",
			  "a boolean", &it, err)))
		goto out;
	if (it)
		t->add_bos = cJSON_IsTrue(it);
	it = cJSON_GetObjectItemCaseSensitive(cfg, "chat_template");
	t->has_template = (cJSON_IsString(it) && it->valuestring[0]) ||
			  (cJSON_IsArray(it) && cJSON_GetArraySize(it) > 0);
out:
	if (rc)
		dsck_error_file(err, path);
	cJSON_Delete(cfg);
	free(text);
	return rc;
}

/* ---- load ---------------------------------------------------------------- */

static enum dsck_err tok_build(struct dsck_tok *t, const cJSON *root,
			       struct dsck_error *err)
{
	enum dsck_err rc;
	const cJSON *model, *vocab, *merges, *added, *pt, *dec, *norm, *type;

	/* the model type first: another type is UNSUPPORTED, whatever else */
	if (!cJSON_IsObject(root))
		return field_type(err, "(top level)", "an object");
	if ((rc = get_req(root, "model", cJSON_Object, "model", "an object", &model, err)) ||
	    (rc = get_req(model, "type", cJSON_String, "model.type", "a string", &type, err)))
		return rc;
	if (strcmp(type->valuestring, "BPE") != 0)
		return field_unsupported(err, "model.type", "BPE", type->valuestring);
	norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
	if (norm && !cJSON_IsNull(norm)) {
		const cJSON *nt = cJSON_IsObject(norm) ?
			cJSON_GetObjectItemCaseSensitive(norm, "type") : NULL;
		return field_unsupported(err, "normalizer", "null",
					 cJSON_IsString(nt) ? nt->valuestring : "a normalizer");
	}
	if ((rc = get_req(model, "vocab", cJSON_Object, "model.vocab", "an object", &vocab, err)) ||
	    (rc = get_req(model, "merges", cJSON_Array, "model.merges", "an array", &merges, err)) ||
	    (rc = get_opt(root, "added_tokens", cJSON_Array, "added_tokens", "an array", &added, err)) ||
	    (rc = get_req(root, "pre_tokenizer", cJSON_Object, "pre_tokenizer", "an object", &pt, err)) ||
	    (rc = get_req(root, "decoder", cJSON_Object, "decoder", "an object", &dec, err)))
		return rc;
	if (!str_is(cJSON_GetObjectItemCaseSensitive(dec, "type"), "ByteLevel"))
		return field_unsupported(err, "decoder.type", "ByteLevel", NULL);
	if ((rc = ids_build(t, vocab, added, err)) ||
	    (rc = model_check(t, model, err)) ||
	    (rc = merges_build(t, merges, err)) ||
	    (rc = dec_build(t, err)) ||
	    (rc = pretok_build(t, pt, err)))
		return rc;
	post_bos(t, cJSON_GetObjectItemCaseSensitive(root, "post_processor"));
	t->eos = dsck_tok_id(t, "<\uff5cend\u2581of\u2581sentence\uff5c>");
	return DSCK_OK;
}

enum dsck_err dsck_tok_parse(const char *text, size_t len, struct dsck_tok **out,
			     struct dsck_error *err)
{
	cJSON *root = NULL;
	struct dsck_tok *t = calloc(1, sizeof *t);
	enum dsck_err rc;

	*out = NULL;
	if (!t)
		return dsck_error_set(err, DSCK_E_NOMEM, "tokenizer");
	t->bos = t->eos = DSCK_TOK_NONE;
	if (len > DSCK_TOK_MAX_JSON)
		rc = dsck_error_set(err, DSCK_E_LIMIT, "tokenizer.json larger than the limit");
	else
		rc = dsck_json_parse(text, len, 0, &root, err);
	if (rc == DSCK_OK)
		rc = tok_build(t, root, err);
	cJSON_Delete(root);
	if (rc) {
		dsck_tok_free(t);
		return rc;
	}
	*out = t;
	return DSCK_OK;
}

enum dsck_err dsck_tok_load(const char *dir_or_file, struct dsck_tok **out,
			    struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	struct dsck_tok *t = NULL;
	struct stat st;
	char *json_path = NULL, *cfg_path = NULL, *text = NULL;
	size_t n = strlen(dir_or_file), len;
	cJSON *root = NULL;

	*out = NULL;
	json_path = malloc(n + sizeof "/tokenizer.json");
	cfg_path = malloc(n + sizeof "/tokenizer_config.json");
	t = calloc(1, sizeof *t);
	if (!json_path || !cfg_path || !t) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "tokenizer");
		goto out;
	}
	t->bos = t->eos = DSCK_TOK_NONE;
	if (stat(dir_or_file, &st) == 0 && S_ISDIR(st.st_mode)) {
		sprintf(json_path, "%s/tokenizer.json", dir_or_file);
		sprintf(cfg_path, "%s/tokenizer_config.json", dir_or_file);
	} else {
		const char *slash = strrchr(dir_or_file, '/');
		size_t d = slash ? (size_t)(slash - dir_or_file) + 1 : 0;
		memcpy(json_path, dir_or_file, n + 1);
		memcpy(cfg_path, dir_or_file, d);
		memcpy(cfg_path + d, "tokenizer_config.json", sizeof "tokenizer_config.json");
	}
	rc = dsck_file_read_all(json_path, DSCK_TOK_MAX_JSON, &text, &len, err);
	if (rc == DSCK_OK)
		rc = dsck_json_parse(text, len, DSCK_JSON_NUL_TERMINATED, &root, err);
	free(text); /* the tree holds copies */
	if (rc == DSCK_OK)
		rc = tok_build(t, root, err);
	cJSON_Delete(root); /* before the config: peak memory is one tree */
	if (rc) {
		dsck_error_file(err, json_path);
		goto out;
	}
	if ((rc = config_load(t, cfg_path, err))) /* names its file */
		goto out;
	*out = t;
	t = NULL;
out:
	free(json_path);
	free(cfg_path);
	dsck_tok_free(t);
	return rc;
}

void dsck_tok_free(struct dsck_tok *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_re; i++)
		pcre2_code_free(t->re[i]);
	dsck_strmap_release(&t->ids);
	free(t->merges);
	free(t->added);
	free(t->dec);
	free(t->dec_off);
	free(t->dec_len);
	free(t->special);
	free(t->off);
	free(t->len);
	free(t->pool);
	free(t);
}

/* ---- lookups ------------------------------------------------------------ */

uint32_t dsck_tok_id(const struct dsck_tok *t, const char *s)
{
	uint32_t id;
	return dsck_strmap_find(&t->ids, s, strlen(s), &id) ? id : DSCK_TOK_NONE;
}

const char *dsck_tok_text(const struct dsck_tok *t, uint32_t id, size_t *len)
{
	if (id >= t->n_ids)
		return NULL;
	*len = t->len[id];
	return t->pool + t->off[id];
}

int dsck_tok_is_special(const struct dsck_tok *t, uint32_t id)
{
	return id < t->n_ids && t->special[id];
}

uint32_t dsck_tok_bos(const struct dsck_tok *t) { return t->bos; }
uint32_t dsck_tok_eos(const struct dsck_tok *t) { return t->eos; }
uint32_t dsck_tok_vocab_size(const struct dsck_tok *t) { return t->n_ids; }
int dsck_tok_add_bos_default(const struct dsck_tok *t) { return t->add_bos; }
int dsck_tok_has_chat_template(const struct dsck_tok *t) { return t->has_template; }

/* ---- encoding ------------------------------------------------------------ */

struct span {
	size_t off, len; /* bytes of the text */
};

/* One BPE symbol (tokenizers' Symbol): a token over len bytes, in a list. */
struct sym {
	uint32_t id;
	size_t len;       /* 0: merged into its left neighbour */
	ptrdiff_t prev, next; /* -1 at the ends */
};

/* A candidate merge of the symbol at pos with its right neighbour. */
struct cand {
	uint32_t rank, id;
	size_t pos;
};

/* Scratch of one encode call; everything grows as needed. */
struct enc {
	const struct dsck_tok *t;
	const char *text;
	uint32_t *ids;
	size_t n, cap;
	struct span *cur, *nxt;
	size_t n_cur, cap_cur, n_nxt, cap_nxt;
	struct sym *sym;
	size_t cap_sym;
	struct cand *heap;
	size_t n_heap, cap_heap;
	char *mapped;     /* byte-level text of a piece (ignore_merges) */
	size_t cap_mapped;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit;
};

/* Grow *p (elements of size sz) to hold need; 0, or -1 out of memory. */
static int grow(void *p, size_t *cap, size_t need, size_t sz)
{
	void **pp = p;
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 64;
	while (c < need) {
		if (c > SIZE_MAX / 2 / sz)
			return -1;
		c *= 2;
	}
	void *np = realloc(*pp, c * sz);
	if (!np)
		return -1;
	*pp = np;
	*cap = c;
	return 0;
}

static enum dsck_err push_id(struct enc *e, uint32_t id, struct dsck_error *err)
{
	if (grow(&e->ids, &e->cap, e->n + 1, sizeof *e->ids))
		return dsck_error_set(err, DSCK_E_NOMEM, "token ids");
	e->ids[e->n++] = id;
	return DSCK_OK;
}

static int cand_less(const struct cand *a, const struct cand *b)
{
	return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(struct enc *e, struct cand c)
{
	size_t i = e->n_heap++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!cand_less(&c, &e->heap[p]))
			break;
		e->heap[i] = e->heap[p];
		i = p;
	}
	e->heap[i] = c;
}

static struct cand heap_pop(struct enc *e)
{
	struct cand top = e->heap[0], last = e->heap[--e->n_heap];
	size_t i = 0, n = e->n_heap;
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		const struct cand *best = &last;
		if (l < n && cand_less(&e->heap[l], best)) {
			m = l;
			best = &e->heap[l];
		}
		if (l + 1 < n && cand_less(&e->heap[l + 1], best))
			m = l + 1;
		if (m == i)
			break;
		e->heap[i] = e->heap[m];
		i = m;
	}
	if (n)
		e->heap[i] = last;
	return top;
}

/* Push the merge of the symbol at pos with its right neighbour, if any. */
static void cand_push(struct enc *e, size_t pos)
{
	const struct sym *s = &e->sym[pos];
	if (s->next < 0)
		return;
	const struct tok_merge *m = tok_merge_find(e->t, s->id, e->sym[s->next].id);
	if (m)
		heap_push(e, (struct cand){ m->rank, m->id, pos });
}

/* BPE of one piece text[off..off+len), len >= 1, as tokenizers' BPE
 * merge_word + Word::merge_all: a min-heap of (rank, position); a popped
 * candidate is stale (skipped) when its symbol is gone, has no right
 * neighbour, or the pair now there does not merge to the same id. */
static enum dsck_err bpe_piece(struct enc *e, size_t off, size_t len,
			       struct dsck_error *err)
{
	const struct dsck_tok *t = e->t;
	const unsigned char *s = (const unsigned char *)e->text + off;
	enum dsck_err rc = DSCK_OK;

	if (len == 1)
		return push_id(e, t->byte_id[s[0]], err);
	if (t->ignore_merges) {
		uint32_t id;
		size_t m = 0;
		if (len > SIZE_MAX / 2 || grow(&e->mapped, &e->cap_mapped, 2 * len, 1))
			return dsck_error_set(err, DSCK_E_NOMEM, "tokenizer scratch");
		for (size_t i = 0; i < len; i++) {
			size_t k = 0;
			const char *bt = dsck_tok_text(t, t->byte_id[s[i]], &k);
			memcpy(e->mapped + m, bt, k);
			m += k;
		}
		if (dsck_strmap_find(&t->ids, e->mapped, m, &id))
			return push_id(e, id, err);
	}
	/* heap: at most len - 1 initial candidates plus 2 per merge, and
	 * there are at most len - 1 merges */
	if (len > SIZE_MAX / 4 || grow(&e->sym, &e->cap_sym, len, sizeof *e->sym) ||
	    grow(&e->heap, &e->cap_heap, 3 * len, sizeof *e->heap))
		return dsck_error_set(err, DSCK_E_NOMEM, "tokenizer scratch");
	for (size_t i = 0; i < len; i++) {
		e->sym[i].id = t->byte_id[s[i]];
		e->sym[i].len = 1;
		e->sym[i].prev = (ptrdiff_t)i - 1;
		e->sym[i].next = i + 1 < len ? (ptrdiff_t)i + 1 : -1;
	}
	e->n_heap = 0;
	for (size_t i = 0; i + 1 < len; i++)
		cand_push(e, i);
	while (e->n_heap) {
		struct cand c = heap_pop(e);
		struct sym *cur = &e->sym[c.pos];
		if (cur->len == 0 || cur->next < 0)
			continue;
		size_t r = (size_t)cur->next;
		const struct tok_merge *m = tok_merge_find(t, cur->id, e->sym[r].id);
		if (!m || m->id != c.id)
			continue;
		cur->id = c.id;
		cur->len += e->sym[r].len;
		cur->next = e->sym[r].next;
		e->sym[r].len = 0;
		if (cur->next >= 0)
			e->sym[cur->next].prev = (ptrdiff_t)c.pos;
		if (cur->prev >= 0)
			cand_push(e, (size_t)cur->prev);
		cand_push(e, c.pos);
	}
	for (ptrdiff_t i = 0; i >= 0 && rc == DSCK_OK; i = e->sym[i].next)
		rc = push_id(e, e->sym[i].id, err);
	return rc;
}

static enum dsck_err span_push(struct enc *e, size_t off, size_t len,
			       struct dsck_error *err)
{
	if (len == 0) /* tokenizers drops empty pieces */
		return DSCK_OK;
	if (grow(&e->nxt, &e->cap_nxt, e->n_nxt + 1, sizeof *e->nxt))
		return dsck_error_set(err, DSCK_E_NOMEM, "tokenizer scratch");
	e->nxt[e->n_nxt++] = (struct span){ off, len };
	return DSCK_OK;
}

/* Length of the UTF-8 character starting with byte c (valid text). */
static size_t utf8_len(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* Split piece p by regex re into matches and the text between them, as
 * tokenizers' Split with behavior Isolated over onig's find_iter: the
 * search resumes at the end of each match; an empty match right after the
 * previous match is skipped by moving one character on. */
static enum dsck_err split_piece(struct enc *e, const pcre2_code *re, struct span p,
				 struct dsck_error *err)
{
	const unsigned char *subj = (const unsigned char *)e->text + p.off;
	size_t last_end = 0, prev = 0, last_match_end = 0;
	int have_last = 0;
	enum dsck_err rc = DSCK_OK;

	while (last_end <= p.len) {
		int r = pcre2_match(re, subj, p.len, last_end, PCRE2_NO_UTF_CHECK, e->md, e->mctx);
		if (r == PCRE2_ERROR_NOMATCH)
			break;
		if (r < 0) {
			PCRE2_UCHAR msg[120];
			pcre2_get_error_message(r, msg, sizeof msg);
			dsck_error_offset(err, (int64_t)p.off);
			return dsck_error_set(err, DSCK_E_LIMIT, "Split regex: %s", (const char *)msg);
		}
		const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md);
		size_t ms = ov[0], me = ov[1];
		if (ms == me && have_last && last_match_end == me) {
			last_end += last_end < p.len ? utf8_len(subj[last_end]) : 1;
			continue;
		}
		last_end = me;
		last_match_end = me;
		have_last = 1;
		if ((rc = span_push(e, p.off + prev, ms - prev, err)) ||
		    (rc = span_push(e, p.off + ms, me - ms, err)))
			return rc;
		prev = me;
	}
	return span_push(e, p.off + prev, p.len - prev, err);
}

/* Text without added tokens: the Split regexes in turn, then BPE. */
static enum dsck_err encode_plain(struct enc *e, size_t off, size_t len,
				  struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	if (len == 0)
		return DSCK_OK;
	e->n_nxt = 0;
	if ((rc = span_push(e, off, len, err)))
		return rc;
	for (size_t k = 0; k < e->t->n_re; k++) {
		struct span *sw = e->cur;
		size_t cw = e->cap_cur;
		e->cur = e->nxt;
		e->cap_cur = e->cap_nxt;
		e->n_cur = e->n_nxt;
		e->nxt = sw;
		e->cap_nxt = cw;
		e->n_nxt = 0;
		for (size_t i = 0; i < e->n_cur; i++)
			if ((rc = split_piece(e, e->t->re[k], e->cur[i], err)))
				return rc;
	}
	for (size_t i = 0; i < e->n_nxt; i++)
		if ((rc = bpe_piece(e, e->nxt[i].off, e->nxt[i].len, err)))
			return rc;
	return DSCK_OK;
}

/* The added token of the given pass starting at text[i] (the longest one),
 * or NULL. */
static const struct tok_added *added_at(const struct dsck_tok *t, const char *text,
					size_t i, size_t end, int pass)
{
	unsigned b = (unsigned char)text[i];
	for (uint32_t k = t->added_first[b]; k < t->added_first[b + 1]; k++) {
		const struct tok_added *a = &t->added[k];
		if (a->normalized == pass && a->len <= end - i &&
		    memcmp(t->pool + a->off, text + i, a->len) == 0)
			return a;
	}
	return NULL;
}

/* Cut the added tokens of pass 0 (normalized=false) out of text[off..+len),
 * the ones of pass 1 out of what is between, encode the rest plainly. */
static enum dsck_err encode_added(struct enc *e, size_t off, size_t len, int pass,
				  struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	size_t end = off + len, start = off;
	for (size_t i = off; i < end && rc == DSCK_OK;) {
		const struct tok_added *a = added_at(e->t, e->text, i, end, pass);
		if (!a) {
			i++;
			continue;
		}
		rc = pass ? encode_plain(e, start, i - start, err) :
			    encode_added(e, start, i - start, 1, err);
		if (rc == DSCK_OK)
			rc = push_id(e, a->id, err);
		i += a->len;
		start = i;
	}
	if (rc == DSCK_OK)
		rc = pass ? encode_plain(e, start, end - start, err) :
			    encode_added(e, start, end - start, 1, err);
	return rc;
}

enum dsck_err dsck_tok_encode(const struct dsck_tok *t, const char *text,
			      size_t len, int add_bos, uint32_t **ids, size_t *n,
			      struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	struct enc e = { 0 };
	size_t valid = dsck_utf8_valid_prefix(text, len);

	*ids = NULL;
	*n = 0;
	e.t = t;
	e.text = text;
	if (valid != len) {
		dsck_error_offset(err, (int64_t)valid);
		return dsck_error_set(err, DSCK_E_INVALID_UTF8, "text to encode is not valid UTF-8");
	}
	if (add_bos == DSCK_TOK_BOS_DEFAULT)
		add_bos = t->add_bos;
	if (add_bos && t->bos == DSCK_TOK_NONE)
		return dsck_error_set(err, DSCK_E_CONFIG_MISSING, "the tokenizer has no bos token");
	e.md = pcre2_match_data_create(1, NULL);
	e.mctx = pcre2_match_context_create(NULL);
	if (!e.md || !e.mctx) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "regex match data");
		goto out;
	}
	/* a JIT stack above the 32 KiB default, for long pieces; none when
	 * PCRE2 has no JIT (the interpreter uses the heap) */
	e.jit = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
	if (e.jit)
		pcre2_jit_stack_assign(e.mctx, NULL, e.jit);
	if (grow(&e.ids, &e.cap, len / 3 + 16, sizeof *e.ids)) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "token ids");
		goto out;
	}
	if (add_bos)
		e.ids[e.n++] = t->bos;
	if ((rc = encode_added(&e, 0, len, 0, err)))
		goto out;
	*ids = e.ids;
	*n = e.n;
	e.ids = NULL;
out:
	free(e.ids);
	free(e.cur);
	free(e.nxt);
	free(e.sym);
	free(e.heap);
	free(e.mapped);
	pcre2_match_data_free(e.md);
	pcre2_match_context_free(e.mctx);
	pcre2_jit_stack_free(e.jit);
	return rc;
}

/* ---- decoding ---------------------------------------------------------- */

const char *dsck_tok_decode_piece(const struct dsck_tok *t, uint32_t id, size_t *len)
{
	if (id >= t->n_ids) {
		*len = 0;
		return "";
	}
	*len = t->dec_len[id];
	return (const char *)t->dec + t->dec_off[id];
}

/* Bytes of the well-formed UTF-8 character at s[0..n), or 0 with *bad the
 * length of the maximal subpart to replace by one U+FFFD (>= 1). */
static size_t utf8_char(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned c = s[0];
	size_t w = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 :
		   (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
	*bad = 1;
	if (w == 0)
		return 0;
	for (size_t k = 1; k < w; k++) {
		unsigned lo = 0x80, hi = 0xBF;
		if (k == 1) {
			if (c == 0xE0)
				lo = 0xA0;
			else if (c == 0xED)
				hi = 0x9F;
			else if (c == 0xF0)
				lo = 0x90;
			else if (c == 0xF4)
				hi = 0x8F;
		}
		if (k >= n || s[k] < lo || s[k] > hi) {
			*bad = k;
			return 0;
		}
	}
	return w;
}

enum dsck_err dsck_tok_decode(const struct dsck_tok *t, const uint32_t *ids,
			      size_t n, int skip_special, char **text,
			      size_t *len, struct dsck_error *err)
{
	enum dsck_err rc = DSCK_OK;
	uint64_t total = 0, cap;
	unsigned char *raw = NULL, *outb = NULL;
	size_t used = 0, o = 0, cap_s, total_s;

	*text = NULL;
	*len = 0;
	for (size_t i = 0; i < n; i++)
		if (ids[i] < t->n_ids && !(skip_special && t->special[ids[i]]) &&
		    dsck_add_u64(total, t->dec_len[ids[i]], &total))
			return dsck_error_set(err, DSCK_E_OVERFLOW, "decoded text");
	/* each bad byte becomes 3 bytes at most */
	if (dsck_mul_u64(total, 3, &cap) || dsck_add_u64(cap, 1, &cap) ||
	    dsck_u64_to_size(cap, &cap_s) || dsck_u64_to_size(total, &total_s))
		return dsck_error_set(err, DSCK_E_OVERFLOW, "decoded text");
	raw = malloc(total_s ? total_s : 1);
	outb = malloc(cap_s);
	if (!raw || !outb) {
		rc = dsck_error_set(err, DSCK_E_NOMEM, "decoded text");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t id = ids[i];
		if (id >= t->n_ids || (skip_special && t->special[id]))
			continue; /* tokenizers skips ids it does not know */
		memcpy(raw + used, t->dec + t->dec_off[id], t->dec_len[id]);
		used += t->dec_len[id];
	}
	for (size_t i = 0; i < used;) {
		size_t bad, w = utf8_char(raw + i, used - i, &bad);
		if (w) {
			memcpy(outb + o, raw + i, w);
			o += w;
			i += w;
		} else {
			memcpy(outb + o, "\xEF\xBF\xBD", 3); /* U+FFFD */
			o += 3;
			i += bad;
		}
	}
	outb[o] = '\0';
	*text = (char *)outb;
	*len = o;
	outb = NULL;
out:
	free(raw);
	free(outb);
	return rc;
}
