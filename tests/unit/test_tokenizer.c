/*
 * test_tokenizer.c - runtime/tokenizer.h and runtime/chat.h against HF
 * `tokenizers`: every string of tests/oracle/tokenizer_fixtures/{synth,trained}_cases.json
 * (written by tests/oracle/gen_tokenizer_fixtures.py) must give the same ids
 * (without and with bos) and the same decodes, for the synthetic tokenizer
 * of dsck-synth --preset tiny and for a byte-level BPE trained with the
 * DeepSeek-V3 pre-tokenizer; arbitrary id lists must decode the same
 * (U+FFFD for broken UTF-8); the chat format must equal the chat template's
 * rendering. Malformed tokenizer.json files each give their error code.
 * Run from the repository root.
 */
#include "../test.h"

#include "chat.h"
#include "io.h"
#include "json.h"
#include "tok_regex.h"
#include "tokenizer.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIX "tests/oracle/tokenizer_fixtures"
#define BOS "<\uff5cbegin\u2581of\u2581sentence\uff5c>"
#define EOS "<\uff5cend\u2581of\u2581sentence\uff5c>"

static char *slurp(const char *path, size_t *len)
{
	struct dsck_error err;
	char *text = NULL;
	dsck_error_clear(&err);
	if (dsck_file_read_all(path, 64u << 20, &text, len, &err) != DSCK_OK)
		return NULL;
	return text;
}

static cJSON *load_json(const char *path)
{
	size_t len;
	char *text = slurp(path, &len);
	cJSON *root = NULL;
	struct dsck_error err;
	dsck_error_clear(&err);
	if (text)
		dsck_json_parse(text, len, DSCK_JSON_NUL_TERMINATED, &root, &err);
	free(text);
	return root;
}

/* Do ids[0..n) equal the JSON array of integers want? */
static int ids_equal(const uint32_t *ids, size_t n, const cJSON *want)
{
	size_t i = 0;
	const cJSON *it;
	if (!cJSON_IsArray(want) || (size_t)cJSON_GetArraySize(want) != n)
		return 0;
	cJSON_ArrayForEach(it, want) {
		uint64_t v;
		if (dsck_json_u64(it, &v) != 0 || v != ids[i++])
			return 0;
	}
	return 1;
}

static void show_mismatch(const char *what, const char *text, const uint32_t *ids, size_t n)
{
	printf("#   %s mismatch for \"%.60s\": got", what, text);
	for (size_t i = 0; i < n && i < 24; i++)
		printf(" %u", ids[i]);
	printf("%s\n", n > 24 ? " ..." : "");
}

static int decode_is(const struct dsck_tok *t, const uint32_t *ids, size_t n, int skip,
		     const char *want)
{
	char *text = NULL;
	size_t len = 0;
	struct dsck_error err;
	dsck_error_clear(&err);
	int ok = dsck_tok_decode(t, ids, n, skip, &text, &len, &err) == DSCK_OK &&
		 len == strlen(want) && memcmp(text, want, len) == 0;
	if (!ok)
		printf("#   decode%s mismatch: got \"%.60s\", want \"%.60s\"\n",
		       skip ? " (skip special)" : "", text ? text : "(error)", want);
	free(text);
	return ok;
}

/* JSON array of ids -> new uint32_t array. */
static uint32_t *ids_from_json(const cJSON *arr, size_t *n)
{
	size_t k = 0;
	const cJSON *it;
	uint32_t *ids = malloc(((size_t)cJSON_GetArraySize(arr) + 1) * sizeof *ids);
	if (!ids)
		return NULL;
	cJSON_ArrayForEach(it, arr) {
		uint64_t v = 0;
		dsck_json_u64(it, &v);
		ids[k++] = (uint32_t)v;
	}
	*n = k;
	return ids;
}

static void check_cases(const char *name, const struct dsck_tok *t, const char *cases_path)
{
	cJSON *root = load_json(cases_path);
	const cJSON *enc = cJSON_GetObjectItemCaseSensitive(root, "encode");
	const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decode");
	const cJSON *chat = cJSON_GetObjectItemCaseSensitive(root, "chat");
	const cJSON *c;
	size_t n_enc = 0, bad_ids = 0, bad_bos = 0, bad_dec = 0, bad_stream = 0;
	size_t n_dec = 0, bad_list = 0, n_chat = 0, bad_chat = 0;

	CHECK(cJSON_IsArray(enc) && cJSON_IsArray(dec), "%s: fixture file %s read", name, cases_path);
	cJSON_ArrayForEach(c, enc) {
		const char *text = cJSON_GetObjectItemCaseSensitive(c, "text")->valuestring;
		size_t len = strlen(text), n = 0, nb = 0;
		uint32_t *ids = NULL, *idb = NULL;
		struct dsck_error err;
		dsck_error_clear(&err);
		n_enc++;
		if (dsck_tok_encode(t, text, len, 0, &ids, &n, &err) != DSCK_OK ||
		    !ids_equal(ids, n, cJSON_GetObjectItemCaseSensitive(c, "ids"))) {
			if (bad_ids++ < 5)
				show_mismatch("ids", text, ids, n);
		}
		if (dsck_tok_encode(t, text, len, 1, &idb, &nb, &err) != DSCK_OK ||
		    !ids_equal(idb, nb, cJSON_GetObjectItemCaseSensitive(c, "ids_bos"))) {
			if (bad_bos++ < 5)
				show_mismatch("ids_bos", text, idb, nb);
		}
		if (idb && (!decode_is(t, idb, nb, 0, cJSON_GetObjectItemCaseSensitive(c, "decode")->valuestring) ||
			    !decode_is(t, idb, nb, 1, cJSON_GetObjectItemCaseSensitive(c, "decode_skip")->valuestring)))
			bad_dec++;
		/* streaming: the pieces of the ids without bos are the text */
		if (ids) {
			size_t o = 0;
			char *buf = malloc(len + 1);
			for (size_t i = 0; buf && i < n; i++) {
				size_t k;
				const char *p = dsck_tok_decode_piece(t, ids[i], &k);
				if (o + k > len)
					break;
				memcpy(buf + o, p, k);
				o += k;
			}
			if (!buf || o != len || memcmp(buf, text, len) != 0)
				bad_stream++;
			free(buf);
		}
		free(ids);
		free(idb);
	}
	CHECK(n_enc > 100 && bad_ids == 0, "%s: ids of %zu strings equal HF tokenizers (%zu differ)",
	      name, n_enc, bad_ids);
	CHECK(bad_bos == 0, "%s: ids with bos of %zu strings equal HF (%zu differ)", name, n_enc, bad_bos);
	CHECK(bad_dec == 0, "%s: decodes of %zu strings equal HF, with and without special tokens (%zu differ)",
	      name, n_enc, bad_dec);
	CHECK(bad_stream == 0, "%s: streamed pieces rebuild all %zu strings (%zu differ)", name, n_enc,
	      bad_stream);

	cJSON_ArrayForEach(c, dec) {
		size_t n = 0;
		uint32_t *ids = ids_from_json(cJSON_GetObjectItemCaseSensitive(c, "ids"), &n);
		n_dec++;
		if (!ids || !decode_is(t, ids, n, 0, cJSON_GetObjectItemCaseSensitive(c, "text")->valuestring) ||
		    !decode_is(t, ids, n, 1, cJSON_GetObjectItemCaseSensitive(c, "text_skip")->valuestring))
			bad_list++;
		free(ids);
	}
	CHECK(n_dec > 100 && bad_list == 0, "%s: %zu id lists decode as HF does (%zu differ)", name, n_dec,
	      bad_list);

	cJSON_ArrayForEach(c, chat) {
		const char *user = cJSON_GetObjectItemCaseSensitive(c, "user")->valuestring;
		const char *want = cJSON_GetObjectItemCaseSensitive(c, "text")->valuestring;
		char *s = NULL;
		uint32_t *ids = NULL;
		size_t n = 0;
		struct dsck_error err;
		dsck_error_clear(&err);
		n_chat++;
		if (dsck_chat_format(t, user, &s, &err) != DSCK_OK || strcmp(s, want) != 0 ||
		    dsck_tok_encode(t, s, strlen(s), 0, &ids, &n, &err) != DSCK_OK ||
		    !ids_equal(ids, n, cJSON_GetObjectItemCaseSensitive(c, "ids"))) {
			bad_chat++;
			printf("#   chat: got \"%s\", want \"%s\"\n", s ? s : "(error)", want);
		}
		free(s);
		free(ids);
	}
	if (n_chat)
		CHECK(bad_chat == 0, "%s: chat format of %zu user turns equals the chat template's, ids too",
		      name, n_chat);
	cJSON_Delete(root);
}

static void check_api(void)
{
	struct dsck_tok *t = NULL;
	struct dsck_error err;
	uint32_t *ids = NULL;
	size_t n = 0;
	char *s = NULL;

	dsck_error_clear(&err);
	CHECK(dsck_tok_load(FIX "/synth/tokenizer.json", &t, &err) == DSCK_OK,
	      "synth: loads from the path of tokenizer.json");
	if (!t)
		return;
	CHECK_EQ_U64(dsck_tok_vocab_size(t), 672, "synth: 672 tokens");
	CHECK_EQ_U64(dsck_tok_bos(t), 0, "synth: bos is id 0");
	CHECK_EQ_U64(dsck_tok_eos(t), 1, "synth: eos is id 1");
	CHECK_EQ_U64(dsck_tok_id(t, EOS), 1, "synth: id of <｜end▁of▁sentence｜>");
	CHECK(dsck_tok_id(t, "no such token") == DSCK_TOK_NONE, "unknown text has no id");
	CHECK(dsck_tok_add_bos_default(t) && dsck_tok_has_chat_template(t),
	      "synth: add_bos_token and chat_template read from tokenizer_config.json");
	CHECK(dsck_tok_is_special(t, 0) && !dsck_tok_is_special(t, dsck_tok_id(t, "<think>")) &&
	      !dsck_tok_is_special(t, 100), "synth: special flags");
	CHECK(dsck_tok_encode(t, "a\xC3", 2, 0, &ids, &n, &err) == DSCK_E_INVALID_UTF8 && !ids &&
	      err.offset == 1, "invalid UTF-8 text is refused at its byte");
	CHECK(dsck_tok_encode(t, "", 0, DSCK_TOK_BOS_DEFAULT, &ids, &n, &err) == DSCK_OK && n == 1 &&
	      ids[0] == 0, "empty text with the default bos rule gives [bos]");
	free(ids);
	ids = NULL;
	/* decode: unknown ids are skipped; a lone continuation byte is U+FFFD */
	uint32_t odd[] = { 5000000, dsck_tok_id(t, "\xC2\xA8") /* byte 0xA8 */, 77 };
	size_t len = 0;
	CHECK(dsck_tok_decode(t, odd, 3, 0, &s, &len, &err) == DSCK_OK && len == 4 &&
	      memcmp(s, "\xEF\xBF\xBD", 3) == 0 && s[3] == (char)(77 - 2),
	      "decode: unknown id skipped, broken UTF-8 becomes U+FFFD");
	free(s);
	s = NULL;
	size_t k;
	const char *p = dsck_tok_decode_piece(t, 4000000, &k);
	CHECK(p && k == 0, "decode_piece of an unknown id is empty");
	CHECK(dsck_chat_format(t, "Hi", &s, &err) == DSCK_OK &&
	      strcmp(s, BOS "<\uff5cUser\uff5c>Hi<\uff5cAssistant\uff5c>") == 0,
	      "chat format: <｜begin▁of▁sentence｜><｜User｜>TEXT<｜Assistant｜>");
	free(s);
	dsck_tok_free(t);
	dsck_tok_free(NULL);
}

/* ---- malformed files ----------------------------------------------------- */

static char tmpdir[] = "/tmp/dsck-test-tok-XXXXXX";

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(text, 1, len, f);
		fclose(f);
	}
}

/* base with the first occurrence of from replaced by to, as a tokenizer.json
 * alone in tmpdir; then dsck_tok_load must give code, naming field. */
static void check_bad(const char *base, const char *from, const char *to,
		      enum dsck_err code, const char *field, const char *what)
{
	char path[256];
	const char *at = strstr(base, from);
	size_t nb = strlen(base), nf = strlen(from), nt = strlen(to);
	char *text = malloc(nb - nf + nt + 1);
	struct dsck_tok *t = NULL;
	struct dsck_error err;
	dsck_error_clear(&err);
	if (!at || !text) {
		CHECK(0, "malformed: %s (pattern not found in the base file)", what);
		free(text);
		return;
	}
	memcpy(text, base, (size_t)(at - base));
	memcpy(text + (at - base), to, nt);
	memcpy(text + (at - base) + nt, at + nf, nb - (size_t)(at - base) - nf + 1);
	snprintf(path, sizeof path, "%s/tokenizer.json", tmpdir);
	write_file(path, text, strlen(text));
	enum dsck_err rc = dsck_tok_load(tmpdir, &t, &err);
	CHECK(rc == code && !t == (code != DSCK_OK) && (!field || strcmp(err.tensor, field) == 0),
	      "malformed: %s -> %s%s%s", what, dsck_err_name(code), field ? " naming " : "",
	      field ? field : "");
	if (rc != code || (field && strcmp(err.tensor, field) != 0))
		printf("#   got %s, field '%s': %s\n", dsck_err_name(rc), err.tensor, err.detail);
	dsck_tok_free(t);
	free(text);
}

static void check_malformed(void)
{
	size_t len;
	char *base = slurp(FIX "/synth/tokenizer.json", &len);
	char path[256];
	struct dsck_tok *t = NULL;
	struct dsck_error err;

	if (!mkdtemp(tmpdir) || !base) {
		CHECK(0, "temporary directory and base file");
		free(base);
		return;
	}
	check_bad(base, "", "", DSCK_OK, NULL, "the base file unchanged loads");
	check_bad(base, "\"normalizer\": null", "\"normalizer\": null,", DSCK_E_INVALID_JSON, NULL,
		  "bad JSON (trailing comma)");
	check_bad(base, "\"model\":", "\"modelx\":", DSCK_E_CONFIG_MISSING, "model", "no model");
	check_bad(base, "\"type\": \"BPE\"", "\"type\": \"Unigram\"", DSCK_E_UNSUPPORTED, "model.type",
		  "model type Unigram");
	check_bad(base, "\"merges\": [", "\"merges\": [\"zzqq x\",", DSCK_E_CONFIG_RANGE, "model.merges",
		  "a merge naming an unknown token");
	check_bad(base, "\"merges\": [", "\"merges\": [\"a b c\",", DSCK_E_CONFIG_RANGE, "model.merges",
		  "a merge of three parts");
	check_bad(base, "\"merges\": [", "\"merges\": [[\"a\"],", DSCK_E_CONFIG_TYPE, "model.merges",
		  "a merge pair of one part");
	check_bad(base, "\"merges\": [", "\"merges\": [\"a b\", \"a b\",", DSCK_E_CONFIG_RANGE,
		  "model.merges", "a merge listed twice");
	check_bad(base, EOS "\": 1", EOS "\": 0", DSCK_E_CONFIG_RANGE, "model.vocab", "duplicate ids");
	check_bad(base, EOS "\": 1", EOS "\": 99999", DSCK_E_CONFIG_RANGE, "model.vocab",
		  "ids not dense");
	check_bad(base, EOS "\": 1", EOS "\": 1.5", DSCK_E_CONFIG_TYPE, "model.vocab", "a fractional id");
	check_bad(base, "\"id\": 1,", "\"id\": 7,", DSCK_E_CONFIG_RANGE, "added_tokens[].id",
		  "an added token with another id than in the vocab");
	check_bad(base, "\"normalizer\": null", "\"normalizer\": {\"type\": \"NFC\"}", DSCK_E_UNSUPPORTED,
		  "normalizer", "normalizer NFC");
	check_bad(base, "\"lstrip\": false", "\"lstrip\": true", DSCK_E_UNSUPPORTED,
		  "added_tokens[].lstrip", "an added token with lstrip");
	check_bad(base, "\"Isolated\"", "\"Removed\"", DSCK_E_UNSUPPORTED, "pre_tokenizer.Split.behavior",
		  "Split behavior Removed");
	check_bad(base, "\"invert\": false", "\"invert\": true", DSCK_E_UNSUPPORTED,
		  "pre_tokenizer.Split.invert", "Split invert");
	check_bad(base, "\"Regex\": \"\\\\p{N}{1,3}\"", "\"Regex\": \"(\\\\p{N}\"", DSCK_E_UNSUPPORTED,
		  "pre_tokenizer.pattern.Regex", "a regex PCRE2 cannot compile");
	check_bad(base, "\"use_regex\": false", "\"use_regex\": true", DSCK_E_UNSUPPORTED,
		  "pre_tokenizer.ByteLevel.use_regex", "ByteLevel with its own regex");
	check_bad(base, "\"byte_fallback\": false", "\"byte_fallback\": true", DSCK_E_UNSUPPORTED,
		  "model.byte_fallback", "byte_fallback");
	check_bad(base, "\"type\": \"Sequence\"", "\"type\": \"Whitespace\"", DSCK_E_UNSUPPORTED,
		  "pre_tokenizer.type", "pre-tokenizer Whitespace");
	check_bad(base, "\"decoder\": {\n    \"type\": \"ByteLevel\"",
		  "\"decoder\": {\n    \"type\": \"Metaspace\"", DSCK_E_UNSUPPORTED, "decoder.type",
		  "decoder Metaspace");
	check_bad(base, "\"version\": \"1.0\",", "\"version\": \"1.0\", \"version\": \"1.0\",",
		  DSCK_E_DUPLICATE_KEY, NULL, "a duplicate key");
	check_bad(base, "\"\u0120\": 34", "\"\u0120x\": 34", DSCK_E_CONFIG_RANGE, NULL,
		  "a vocab without the byte-level token of the space");

	/* a truncated file */
	snprintf(path, sizeof path, "%s/tokenizer.json", tmpdir);
	write_file(path, base, len / 2);
	dsck_error_clear(&err);
	CHECK(dsck_tok_load(tmpdir, &t, &err) == DSCK_E_INVALID_JSON && !t, "malformed: truncated file -> INVALID_JSON");
	/* over 64 MiB (sparse) */
	int fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && ftruncate(fd, (off_t)DSCK_TOK_MAX_JSON + 1) == 0, "sparse file over the cap");
	if (fd >= 0)
		close(fd);
	dsck_error_clear(&err);
	CHECK(dsck_tok_load(tmpdir, &t, &err) == DSCK_E_LIMIT && !t, "malformed: tokenizer.json over 64 MiB -> LIMIT");
	/* a bos_token in tokenizer_config.json that is no token */
	write_file(path, base, len);
	char cfg[256];
	snprintf(cfg, sizeof cfg, "%s/tokenizer_config.json", tmpdir);
	write_file(cfg, "{\"bos_token\": \"<nope>\"}", 23);
	dsck_error_clear(&err);
	CHECK(dsck_tok_load(tmpdir, &t, &err) == DSCK_E_CONFIG_RANGE && !t &&
	      strcmp(err.tensor, "bos_token") == 0, "malformed: bos_token not a token -> CONFIG_RANGE");
	write_file(cfg, "{\"add_bos_token\": 1}", 20);
	dsck_error_clear(&err);
	CHECK(dsck_tok_load(tmpdir, &t, &err) == DSCK_E_CONFIG_TYPE && !t,
	      "malformed: add_bos_token not a boolean -> CONFIG_TYPE");
	unlink(cfg);
	unlink(path);
	dsck_error_clear(&err);
	CHECK(dsck_tok_load(tmpdir, &t, &err) == DSCK_E_NOT_FOUND && !t, "missing tokenizer.json -> NOT_FOUND");
	rmdir(tmpdir);
	free(base);
}

/* RT-R15: the rewrite of a Split regex's classes. The widened class of S
 * starts with the first range Unicode 16.0 added to it (U+2427..U+2429). */
static void check_widen(void)
{
	static const struct {
		const char *in, *starts, *ends;
	} cases[] = {
		{ "\\p{S}+", "[\\p{S}\\x{2427}-\\x{2429}", "]+" },
		{ "\\pS", "[\\p{S}\\x{2427}-\\x{2429}", "]" },
		{ " ?[\\p{P}\\p{S}]+", " ?[\\p{P}\\x{", "]+" },
		{ "[^\\r\\n\\p{S}]?", "[^\\r\\n\\p{S}\\x{2427}-\\x{2429}", "]?" },
		{ "\\P{S}", "[^\\p{S}\\x{2427}-\\x{2429}", "]" },
	};
	static const char *const same[] = {
		"\\p{Lu}\\p{Han}\\d+", "[\\P{S}x]", "\\Q\\p{S}\\E", "\\[\\p", "[]\\p{Zs}]",
		"[[:alpha:]\\]]", "",
	};
	int ok = 1;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len = 0;
		char *w = dsck_tok_regex_widen(cases[i].in, strlen(cases[i].in), &len);
		size_t a = strlen(cases[i].starts), b = strlen(cases[i].ends);
		int good = w && len == strlen(w) && len > a + b && memcmp(w, cases[i].starts, a) == 0 &&
			   memcmp(w + len - b, cases[i].ends, b) == 0 && !strstr(w + a, "[");
		if (!good)
			printf("#   %s -> %.80s\n", cases[i].in, w ? w : "(null)");
		ok &= good;
		free(w);
	}
	CHECK(ok, "\\p{X} widened inside and outside classes, \\P{X} outside one negated");
	ok = 1;
	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
		size_t len = 0;
		char *w = dsck_tok_regex_widen(same[i], strlen(same[i]), &len);
		ok &= w && strcmp(w, same[i]) == 0 && len == strlen(same[i]);
		free(w);
	}
	CHECK(ok, "other properties, \\P{X} in a class, \\Q..\\E, escapes and POSIX classes unchanged");
}

int main(void)
{
	static const char *const names[] = { "synth", "trained" };
	for (size_t i = 0; i < 2; i++) {
		char dir[128], cases[128];
		struct dsck_tok *t = NULL;
		struct dsck_error err;
		dsck_error_clear(&err);
		snprintf(dir, sizeof dir, FIX "/%s", names[i]);
		snprintf(cases, sizeof cases, FIX "/%s_cases.json", names[i]);
		enum dsck_err rc = dsck_tok_load(dir, &t, &err);
		CHECK(rc == DSCK_OK, "%s: tokenizer loads (%s %s)", names[i], dsck_err_name(rc), err.detail);
		if (t)
			check_cases(names[i], t, cases);
		dsck_tok_free(t);
	}
	check_api();
	check_malformed();
	check_widen();
	return test_done();
}
