/*
 * test_json.c - unit tests of lib/json.c: the strict JSON profile
 * (formats.md J-R1..J-R8), each guard on both sides of its boundary, error
 * offsets and details, duplicate keys by hash set, and dsck_json_u64.
 */
#include "../test.h"
#include "json.h"

#include <stdlib.h>
#include <string.h>

#define I DSCK_JSON_INTEGERS

struct json_case {
	const char *what;
	const char *text; /* NUL-terminated unless len is set */
	size_t len;       /* 0: strlen(text) */
	unsigned flags;
	enum dsck_err expect;
	long offset;      /* expected error offset; -2: do not check */
};

static const struct json_case json_cases[] = {
	/* J-R1: one value, JSON whitespace only around it */
	{ "J-R1 object", "{}", 0, 0, DSCK_OK, -2 },
	{ "J-R1 scalars at top level", "\"s\"", 0, 0, DSCK_OK, -2 },
	{ "J-R1 number at top level", "0", 0, 0, DSCK_OK, -2 },
	{ "J-R1 surrounding whitespace", " \t\r\n{} \t\r\n", 0, 0, DSCK_OK, -2 },
	{ "J-R1 empty text", "", 0, 0, DSCK_E_INVALID_JSON, 0 },
	{ "J-R1 whitespace only", "   ", 0, 0, DSCK_E_INVALID_JSON, 3 },
	{ "J-R1 second value", "{}{}", 0, 0, DSCK_E_INVALID_JSON, 2 },
	{ "J-R1 trailing garbage", "{}x", 0, 0, DSCK_E_INVALID_JSON, 2 },
	{ "J-R1 NUL padding", "{}\0\0", 4, 0, DSCK_E_INVALID_JSON, 2 },
	{ "J-R1 form feed is not JSON whitespace", "\f{}", 0, 0, DSCK_E_INVALID_JSON, 0 },
	{ "J-R1 vertical tab is not JSON whitespace", "{}\v", 0, 0, DSCK_E_INVALID_JSON, 2 },
	{ "J-R1 BOM is not accepted", "\xEF\xBB\xBF{}", 0, 0, DSCK_E_INVALID_JSON, 0 },
	{ "J-R1 unclosed object", "{", 0, 0, DSCK_E_INVALID_JSON, 1 },
	{ "J-R1 missing value", "{\"a\":", 0, 0, DSCK_E_INVALID_JSON, 5 },
	{ "J-R1 missing colon", "{\"a\" 1}", 0, 0, DSCK_E_INVALID_JSON, 5 },
	{ "J-R1 trailing comma in object", "{\"a\":1,}", 0, 0, DSCK_E_INVALID_JSON, 7 },
	{ "J-R1 trailing comma in array", "[1,]", 0, 0, DSCK_E_INVALID_JSON, 3 },
	{ "J-R1 missing comma", "[1 2]", 0, 0, DSCK_E_INVALID_JSON, 3 },
	{ "J-R1 non-string key", "{1:2}", 0, 0, DSCK_E_INVALID_JSON, 1 },
	{ "J-R1 single quotes", "{'a':1}", 0, 0, DSCK_E_INVALID_JSON, 1 },
	{ "J-R1 literal prefix", "tru", 0, 0, DSCK_E_INVALID_JSON, 0 },
	{ "J-R1 literals", "[true,false,null]", 0, 0, DSCK_OK, -2 },
	{ "J-R1 capitalised literal", "True", 0, 0, DSCK_E_INVALID_JSON, 0 },
	{ "J-R1 comment", "{}//", 0, 0, DSCK_E_INVALID_JSON, 2 },
	{ "J-R1 mismatched close", "[}", 0, 0, DSCK_E_INVALID_JSON, 1 },

	/* J-R2: UTF-8 (checked over all bytes first) */
	{ "J-R2 two-byte char", "\"\xC3\xA9\"", 0, 0, DSCK_OK, -2 },
	{ "J-R2 four-byte U+10FFFF", "\"\xF4\x8F\xBF\xBF\"", 0, 0, DSCK_OK, -2 },
	{ "J-R2 U+10FFFF+1", "\"\xF4\x90\x80\x80\"", 0, 0, DSCK_E_INVALID_UTF8, 1 },
	{ "J-R2 byte 0xFF", "\"\xFF\"", 0, 0, DSCK_E_INVALID_UTF8, 1 },
	{ "J-R2 overlong '/' C0 AF", "\"\xC0\xAF\"", 0, 0, DSCK_E_INVALID_UTF8, 1 },
	{ "J-R2 overlong 3-byte E0 80 AF", "\"\xE0\x80\xAF\"", 0, 0, DSCK_E_INVALID_UTF8, 1 },
	{ "J-R2 smallest 3-byte E0 A0 80", "\"\xE0\xA0\x80\"", 0, 0, DSCK_OK, -2 },
	{ "J-R2 overlong 4-byte F0 8F BF BF", "\"\xF0\x8F\xBF\xBF\"", 0, 0, DSCK_E_INVALID_UTF8, 1 },
	{ "J-R2 smallest 4-byte F0 90 80 80", "\"\xF0\x90\x80\x80\"", 0, 0, DSCK_OK, -2 },
	{ "J-R2 surrogate D800 as bytes", "\"\xED\xA0\x80\"", 0, 0, DSCK_E_INVALID_UTF8, 1 },
	{ "J-R2 last before surrogates U+D7FF", "\"\xED\x9F\xBF\"", 0, 0, DSCK_OK, -2 },
	{ "J-R2 first after surrogates U+E000", "\"\xEE\x80\x80\"", 0, 0, DSCK_OK, -2 },
	{ "J-R2 lone continuation byte", "\"\x80\"", 0, 0, DSCK_E_INVALID_UTF8, 1 },
	{ "J-R2 truncated sequence at end", "\"\xE2\x82", 0, 0, DSCK_E_INVALID_UTF8, 1 },
	{ "J-R2 wins over an earlier grammar error", "x\xFF", 0, 0, DSCK_E_INVALID_UTF8, 1 },

	/* J-R3: strings */
	{ "J-R3 all short escapes", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", 0, 0, DSCK_OK, -2 },
	{ "J-R3 raw tab in string", "\"a\tb\"", 0, 0, DSCK_E_INVALID_JSON, 2 },
	{ "J-R3 raw newline in string", "\"a\nb\"", 0, 0, DSCK_E_INVALID_JSON, 2 },
	{ "J-R3 raw 0x1F in string", "\"\x1f\"", 0, 0, DSCK_E_INVALID_JSON, 1 },
	{ "J-R3 raw 0x7F is allowed", "\"\x7f\"", 0, 0, DSCK_OK, -2 },
	{ "J-R3 raw NUL in string", "\"a\0\"", 4, 0, DSCK_E_INVALID_JSON, 2 },
	{ "J-R3 invalid escape \\x", "\"\\x41\"", 0, 0, DSCK_E_INVALID_JSON, 1 },
	{ "J-R3 escaped single quote", "\"\\'\"", 0, 0, DSCK_E_INVALID_JSON, 1 },
	{ "J-R3 \\u0000", "\"a\\u0000\"", 0, 0, DSCK_E_INVALID_JSON, 2 },
	{ "J-R3 \\u0001 is allowed", "\"a\\u0001\"", 0, 0, DSCK_OK, -2 },
	{ "J-R3 short \\u escape", "\"\\u12\"", 0, 0, DSCK_E_INVALID_JSON, 1 },
	{ "J-R3 non-hex \\u escape", "\"\\u12G4\"", 0, 0, DSCK_E_INVALID_JSON, 1 },
	{ "J-R3 lone high surrogate", "\"\\ud800\"", 0, 0, DSCK_E_INVALID_JSON, 1 },
	{ "J-R3 high surrogate then text", "\"\\ud800abcdef\"", 0, 0, DSCK_E_INVALID_JSON, 1 },
	{ "J-R3 two high surrogates", "\"\\ud800\\ud800\"", 0, 0, DSCK_E_INVALID_JSON, 1 },
	{ "J-R3 lone low surrogate", "\"\\udc00\"", 0, 0, DSCK_E_INVALID_JSON, 1 },
	{ "J-R3 surrogate pair", "\"\\ud83d\\ude00\"", 0, 0, DSCK_OK, -2 },
	{ "J-R3 upper-case hex pair", "\"\\uD83D\\uDE00\"", 0, 0, DSCK_OK, -2 },
	{ "J-R3 unterminated string", "\"abc", 0, 0, DSCK_E_INVALID_JSON, 0 },
	{ "J-R3 escape at end", "\"abc\\", 0, 0, DSCK_E_INVALID_JSON, 0 },

	/* J-R7: number grammar */
	{ "J-R7 zero", "0", 0, 0, DSCK_OK, -2 },
	{ "J-R7 negative, fraction, exponent", "[-1.5e-3,1E+2,0.0,-0]", 0, 0, DSCK_OK, -2 },
	{ "J-R7 leading plus", "+1", 0, 0, DSCK_E_INVALID_JSON, 0 },
	{ "J-R7 leading zero", "01", 0, 0, DSCK_E_INVALID_JSON, 0 },
	{ "J-R7 negative leading zero", "-01", 0, 0, DSCK_E_INVALID_JSON, 0 },
	{ "J-R7 bare minus", "-", 0, 0, DSCK_E_INVALID_JSON, 1 },
	{ "J-R7 leading dot", ".5", 0, 0, DSCK_E_INVALID_JSON, 0 },
	{ "J-R7 trailing dot", "1.", 0, 0, DSCK_E_INVALID_JSON, 2 },
	{ "J-R7 empty exponent", "1e", 0, 0, DSCK_E_INVALID_JSON, 2 },
	{ "J-R7 exponent sign only", "1e+", 0, 0, DSCK_E_INVALID_JSON, 3 },
	{ "J-R7 NaN", "NaN", 0, 0, DSCK_E_INVALID_JSON, 0 },
	{ "J-R7 Infinity", "[Infinity]", 0, 0, DSCK_E_INVALID_JSON, 1 },
	{ "J-R7 -Infinity", "-Infinity", 0, 0, DSCK_E_INVALID_JSON, 1 },
	{ "J-R7 hex", "0x10", 0, 0, DSCK_E_INVALID_JSON, 1 },
	{ "J-R7 63-character number",
	  "100000000000000000000000000000000000000000000000000000000000000", 0, 0, DSCK_OK, -2 },
	{ "J-R7 64-character number is refused (cJSON buffer)",
	  "1000000000000000000000000000000000000000000000000000000000000000", 0, 0, DSCK_E_INVALID_JSON, 0 },

	/* J-R8: integer-only documents */
	{ "J-R8 integers accepted", "{\"a\":[0,1,9007199254740993]}", 0, I, DSCK_OK, -2 },
	{ "J-R8 fraction 1.0", "[1.0]", 0, I, DSCK_E_INVALID_JSON, 2 },
	{ "J-R8 exponent 1e3", "[1e3]", 0, I, DSCK_E_INVALID_JSON, 2 },
	{ "J-R8 exponent 1E3", "[1E3]", 0, I, DSCK_E_INVALID_JSON, 2 },
	{ "J-R8 minus", "[-1]", 0, I, DSCK_E_INVALID_JSON, 1 },
	{ "J-R8 minus zero", "[-0]", 0, I, DSCK_E_INVALID_JSON, 1 },
	{ "J-R8 leading plus", "[+1]", 0, I, DSCK_E_INVALID_JSON, 1 },

	/* J-R6: duplicates, after decoding escapes */
	{ "J-R6 distinct keys", "{\"a\":1,\"b\":2,\"A\":3}", 0, 0, DSCK_OK, -2 },
	{ "J-R6 duplicate key", "{\"a\":1,\"b\":2,\"a\":3}", 0, 0, DSCK_E_DUPLICATE_KEY, 13 },
	{ "J-R6 identical duplicate entries", "{\"a\":1,\"a\":1}", 0, 0, DSCK_E_DUPLICATE_KEY, 7 },
	{ "J-R6 duplicate through an escape", "{\"a\":1,\"\\u0061\":1}", 0, 0, DSCK_E_DUPLICATE_KEY, 7 },
	{ "J-R6 duplicate in nested object", "[{\"x\":{\"k\":1,\"k\":2}}]", 0, 0, DSCK_E_DUPLICATE_KEY, 13 },
	{ "J-R6 same key in sibling objects", "[{\"k\":1},{\"k\":2}]", 0, 0, DSCK_OK, -2 },
	{ "J-R6 same key at two depths", "{\"k\":{\"k\":1}}", 0, 0, DSCK_OK, -2 },
	{ "J-R6 empty key twice", "{\"\":1,\"\":2}", 0, 0, DSCK_E_DUPLICATE_KEY, 6 },
};

static void test_table(void)
{
	for (size_t i = 0; i < sizeof json_cases / sizeof json_cases[0]; i++) {
		const struct json_case *c = &json_cases[i];
		size_t len = c->len ? c->len : strlen(c->text);
		struct dsck_error err;
		cJSON *root = (cJSON *)1;
		dsck_error_clear(&err);
		enum dsck_err rc = dsck_json_parse(c->text, len, c->flags, &root, &err);
		CHECK(rc == c->expect, "%s: %s (got %s: %s)", c->what,
		      dsck_err_name(c->expect), dsck_err_name(rc), err.detail);
		CHECK((rc == DSCK_OK) == (root != NULL), "%s: tree iff OK", c->what);
		if (rc == DSCK_OK)
			CHECK(err.code == DSCK_OK, "%s: error untouched on success", c->what);
		else
			CHECK(err.code == rc && err.detail[0], "%s: error filled", c->what);
		if (c->offset != -2 && rc != DSCK_OK)
			CHECK_EQ_U64(err.offset, c->offset, "%s: error offset", c->what);
		cJSON_Delete(root);
	}
}

/* One parse: code, and the parse is not given a NUL after the text. */
static enum dsck_err parse_buf(const char *text, size_t len, unsigned flags,
			       struct dsck_error *err)
{
	/* exact-size heap copy: ASan reports any read past len */
	char *copy = malloc(len ? len : 1);
	cJSON *root = NULL;
	memcpy(copy, text, len);
	dsck_error_clear(err);
	enum dsck_err rc = dsck_json_parse(copy, len, flags, &root, err);
	cJSON_Delete(root);
	free(copy);
	return rc;
}

/* J-R4: depth 64 is accepted, 65 refused, 100,000 refused without a deep stack. */
static void test_depth(void)
{
	struct dsck_error err;
	size_t n = 100000;
	char *s = malloc(2 * n + 16);
	for (size_t depth = 63; depth <= 66; depth++) {
		memset(s, '[', depth);
		memset(s + depth, ']', depth);
		enum dsck_err rc = parse_buf(s, 2 * depth, 0, &err);
		if (depth <= DSCK_JSON_MAX_DEPTH)
			CHECK(rc == DSCK_OK, "J-R4 arrays nested %zu deep accepted", depth);
		else
			CHECK(rc == DSCK_E_INVALID_JSON && err.offset == DSCK_JSON_MAX_DEPTH,
			      "J-R4 arrays nested %zu deep refused at byte 64 (%s)", depth, err.detail);
	}
	/* objects: {"a":{"a":...{}...}} */
	for (size_t depth = 64; depth <= 65; depth++) {
		size_t p = 0;
		for (size_t k = 0; k + 1 < depth; k++) {
			memcpy(s + p, "{\"a\":", 5);
			p += 5;
		}
		memcpy(s + p, "{}", 2);
		p += 2;
		memset(s + p, '}', depth - 1);
		p += depth - 1;
		enum dsck_err rc = parse_buf(s, p, 0, &err);
		CHECK(rc == (depth <= 64 ? DSCK_OK : DSCK_E_INVALID_JSON),
		      "J-R4 objects nested %zu deep: %s", depth, dsck_err_name(rc));
	}
	memset(s, '[', n);
	CHECK(parse_buf(s, n, 0, &err) == DSCK_E_INVALID_JSON, "J-R4 100,000 '[' refused");
	free(s);
}

/* J-R5: key of 65,536 decoded bytes accepted, 65,537 refused; escapes count decoded. */
static void test_key_length(void)
{
	struct dsck_error err;
	size_t cap = DSCK_JSON_MAX_KEY;
	char *s = malloc(6 * cap + 64);
	for (size_t klen = cap - 1; klen <= cap + 1; klen++) {
		size_t p = 0;
		s[p++] = '{';
		s[p++] = '"';
		memset(s + p, 'k', klen);
		p += klen;
		memcpy(s + p, "\":1}", 4);
		p += 4;
		enum dsck_err rc = parse_buf(s, p, 0, &err);
		CHECK(rc == (klen <= cap ? DSCK_OK : DSCK_E_INVALID_JSON),
		      "J-R5 key of %zu bytes: %s", klen, dsck_err_name(rc));
		if (klen > cap)
			CHECK(err.offset == 1 && strstr(err.detail, "key"),
			      "J-R5 error at the key, says so (%s)", err.detail);
	}
	/* \u00e9 decodes to 2 bytes: cap/2 of them is exactly the cap */
	for (size_t nesc = cap / 2; nesc <= cap / 2 + 1; nesc++) {
		size_t p = 0;
		s[p++] = '{';
		s[p++] = '"';
		for (size_t k = 0; k < nesc; k++) {
			memcpy(s + p, "\\u00e9", 6);
			p += 6;
		}
		memcpy(s + p, "\":1}", 4);
		p += 4;
		enum dsck_err rc = parse_buf(s, p, 0, &err);
		CHECK(rc == (2 * nesc <= cap ? DSCK_OK : DSCK_E_INVALID_JSON),
		      "J-R5 key of %zu decoded bytes from escapes: %s", 2 * nesc, dsck_err_name(rc));
	}
	/* a long string value is not a key: no cap */
	{
		size_t p = 0;
		s[p++] = '[';
		s[p++] = '"';
		memset(s + p, 'v', cap + 10);
		p += cap + 10;
		memcpy(s + p, "\"]", 2);
		p += 2;
		CHECK(parse_buf(s, p, 0, &err) == DSCK_OK, "J-R5 long string value accepted");
	}
	free(s);
}

static cJSON *parse_ok(const char *text, unsigned flags)
{
	cJSON *root = NULL;
	struct dsck_error err;
	dsck_error_clear(&err);
	if (dsck_json_parse(text, strlen(text), flags, &root, &err) != DSCK_OK)
		return NULL;
	return root;
}

/* J-R7: dsck_json_u64 takes exact integers in [0, 2^53], never rounds. */
static void test_u64(void)
{
	static const struct {
		const char *lit;
		int ok;
		uint64_t v;
	} cases[] = {
		{ "0", 1, 0 },
		{ "1", 1, 1 },
		{ "9007199254740991", 1, 9007199254740991ull },
		{ "9007199254740992", 1, 9007199254740992ull },  /* 2^53 */
		{ "9007199254740993", 0, 0 },                    /* 2^53 + 1 rounds to 2^53 */
		{ "9007199254740994", 0, 0 },                    /* exact in a double, above the cap */
		{ "18446744073709551615", 0, 0 },
		{ "18446744073709551616", 0, 0 },
		{ "100000000000000000000000000000", 0, 0 },
		{ "1.0", 1, 1 },
		{ "1e3", 1, 1000 },
		{ "1.5e1", 1, 15 },
		{ "2500e-2", 1, 25 },
		{ "0.5", 0, 0 },
		{ "1e-1", 0, 0 },
		{ "9.007199254740992e15", 1, 9007199254740992ull },
		{ "9.007199254740993e15", 0, 0 },
		{ "9007199254740992.5", 0, 0 },
		{ "-1", 0, 0 },
		{ "-0", 1, 0 },
		{ "0e99999999999", 1, 0 },
		{ "1e99999999999", 0, 0 },
		{ "1e-99999999999", 0, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text[96];
		snprintf(text, sizeof text, "[%s]", cases[i].lit);
		cJSON *root = parse_ok(text, 0);
		uint64_t v = 12345;
		int r = root ? dsck_json_u64(root->child, &v) : -2;
		CHECK(r == (cases[i].ok ? 0 : -1) && (!cases[i].ok || v == cases[i].v),
		      "J-R7 dsck_json_u64(%s) %s", cases[i].lit,
		      cases[i].ok ? "accepted, exact" : "refused");
		cJSON_Delete(root);
	}
	/* integer-only documents: the same boundary */
	cJSON *root = parse_ok("[9007199254740992,9007199254740993]", I);
	uint64_t v = 0;
	CHECK(root && dsck_json_u64(root->child, &v) == 0 && v == 9007199254740992ull,
	      "J-R7 2^53 accepted in an integer document");
	CHECK(root && dsck_json_u64(root->child->next, &v) == -1,
	      "J-R7 2^53+1 refused in an integer document");
	cJSON_Delete(root);
	/* non-numbers, and trees built without dsck_json_parse */
	root = parse_ok("[\"4\",null,true,[]]", 0);
	int all = root != NULL;
	for (cJSON *c = root ? root->child : NULL; c; c = c->next)
		all = all && dsck_json_u64(c, &v) == -1;
	CHECK(all, "J-R7 strings, null, booleans, arrays are not integers");
	cJSON_Delete(root);
	cJSON *num = cJSON_CreateNumber(42);
	CHECK(dsck_json_u64(num, &v) == 0 && v == 42, "dsck_json_u64 on a cJSON-built number");
	cJSON_Delete(num);
	num = cJSON_CreateNumber(-1);
	CHECK(dsck_json_u64(num, &v) == -1, "dsck_json_u64 refuses a cJSON-built -1");
	cJSON_Delete(num);
	CHECK(dsck_json_u64(NULL, &v) == -1, "dsck_json_u64(NULL) refused");
	/* INEXACT flag leaves the value intact for float readers */
	root = parse_ok("{\"eps\":1e-6,\"theta\":10000.5}", 0);
	CHECK(root && cJSON_IsNumber(cJSON_GetObjectItem(root, "eps")) &&
	      cJSON_GetObjectItem(root, "eps")->valuedouble == 1e-6 &&
	      cJSON_GetObjectItem(root, "theta")->valuedouble == 10000.5,
	      "inexact numbers keep their double value and type");
	cJSON_Delete(root);
}

/* Content: escapes decoded, UTF-8 kept; keys looked up by cJSON. */
static void test_content(void)
{
	cJSON *root = parse_ok("{\"k\\n\":\"\\ud83d\\ude00\\u00e9\\/\",\"n\":[1,2]}", 0);
	CHECK(root != NULL, "escapes parse");
	const cJSON *v = root ? cJSON_GetObjectItem(root, "k\n") : NULL;
	CHECK(v && cJSON_IsString(v) && strcmp(v->valuestring, "\xF0\x9F\x98\x80\xC3\xA9/") == 0,
	      "surrogate pair and \\u00e9 decoded to UTF-8");
	CHECK(v && dsck_json_strlen(v->valuestring) == 7, "dsck_json_strlen in bytes");
	CHECK(dsck_json_strlen(NULL) == 0, "dsck_json_strlen(NULL) is 0");
	cJSON_Delete(root);
}

/* Not NUL-terminated input, and the NUL_TERMINATED flag. */
static void test_termination(void)
{
	struct dsck_error err;
	const char *t = "{\"a\":[1,2,3]}";
	CHECK(parse_buf(t, strlen(t), I, &err) == DSCK_OK, "unterminated exact-size buffer parses");
	CHECK(parse_buf(t, 5, 0, &err) == DSCK_E_INVALID_JSON, "prefix of a document is refused");
	cJSON *root = NULL;
	dsck_error_clear(&err);
	CHECK(dsck_json_parse(t, strlen(t), DSCK_JSON_NUL_TERMINATED, &root, &err) == DSCK_OK &&
	      root, "NUL_TERMINATED flag parses in place");
	cJSON_Delete(root);
	/* a number ending exactly at the end of the buffer */
	CHECK(parse_buf("12345", 5, I, &err) == DSCK_OK, "number at the very end of the buffer");
}

/* L-R2 through max_root_members: the cap and one over it, decided while scanning. */
static void test_root_cap(void)
{
	struct dsck_error err;
	cJSON *root = NULL;
	struct dsck_json_opts o = { 0, 3, NULL };
	const char *three = "{\"a\":1,\"b\":2,\"c\":3}";
	const char *four = "{\"a\":1,\"b\":2,\"c\":3,\"d\":4}";
	dsck_error_clear(&err);
	CHECK(dsck_json_parse_opts(three, strlen(three), &o, &root, &err) == DSCK_OK,
	      "3 root members under a cap of 3");
	cJSON_Delete(root);
	root = NULL;
	dsck_error_clear(&err);
	CHECK(dsck_json_parse_opts(four, strlen(four), &o, &root, &err) == DSCK_E_LIMIT &&
	      root == NULL && err.offset == 19, "4 root members over a cap of 3: LIMIT at the 4th key");
	const char *arr = "[[1,2,3,4],1,2]";
	dsck_error_clear(&err);
	CHECK(dsck_json_parse_opts(arr, strlen(arr), &o, &root, &err) == DSCK_OK,
	      "cap counts only top-level members");
	cJSON_Delete(root);
	root = NULL;
	const char *arr4 = "[1,2,3,[]]";
	dsck_error_clear(&err);
	CHECK(dsck_json_parse_opts(arr4, strlen(arr4), &o, &root, &err) == DSCK_E_LIMIT,
	      "cap applies to a top-level array");
	/* a cap on a broken document after the cap: the cap decides first */
	const char *late = "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":}";
	dsck_error_clear(&err);
	CHECK(dsck_json_parse_opts(late, strlen(late), &o, &root, &err) == DSCK_E_LIMIT,
	      "cap is hit before the later syntax error");
}

/* exempt_key: one member with that key (after unescaping) is not counted. */
static void test_exempt_key(void)
{
	static const struct {
		const char *text;
		enum dsck_err want;
		const char *what;
	} cases[] = {
		{ "{\"m\":{},\"a\":1,\"b\":2}", DSCK_OK, "exempt key plus 2 under a cap of 2" },
		{ "{\"a\":1,\"m\":{},\"b\":2}", DSCK_OK, "exempt key in the middle" },
		{ "{\"\\u006d\":{},\"a\":1,\"b\":2}", DSCK_OK, "exempt key spelled with an escape" },
		{ "{\"a\":1,\"b\":2,\"c\":3}", DSCK_E_LIMIT, "3 plain members over a cap of 2" },
		{ "{\"m\":{},\"a\":1,\"b\":2,\"c\":3}", DSCK_E_LIMIT, "exempt key plus 3" },
		{ "{\"m\":1,\"m\":2,\"a\":3,\"b\":4}", DSCK_E_LIMIT, "only one member is exempt" },
		{ "{\"mm\":1,\"a\":2,\"b\":3}", DSCK_E_LIMIT, "a longer key is not exempt" },
		{ "{\"\":1,\"a\":2,\"b\":3}", DSCK_E_LIMIT, "a shorter key is not exempt" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct dsck_json_opts o = { 0, 2, "m" };
		struct dsck_error err;
		cJSON *root = NULL;
		dsck_error_clear(&err);
		enum dsck_err rc = dsck_json_parse_opts(cases[i].text, strlen(cases[i].text), &o, &root, &err);
		CHECK(rc == cases[i].want, "%s: %s (got %s)", cases[i].what,
		      dsck_err_name(cases[i].want), dsck_err_name(rc));
		cJSON_Delete(root);
	}
}

/* Offsets of root keys by name (error messages of the safetensors reader). */
static void test_root_key_find(void)
{
	const char *t = " {\"a\":{\"x\":1,\"y\":[{\"z\":2}]}, \"b\" : 2 ,\"\\u0063\":3}";
	size_t n = strlen(t);
	CHECK(dsck_json_root_key_find(t, n, "a", 1) == 2, "root key 'a' offset");
	CHECK(dsck_json_root_key_find(t, n, "b", 1) == 29, "root key 'b' offset (nested keys skipped)");
	CHECK(dsck_json_root_key_find(t, n, "c", 1) == 38, "root key 'c' found through its escape");
	CHECK(dsck_json_root_key_find(t, n, "x", 1) == -1, "nested key is not a root key: -1");
	CHECK(dsck_json_root_key_find(t, n, "", 0) == -1, "absent key: -1");
	CHECK(dsck_json_root_key_find("[1]", 3, "a", 1) == -1, "no keys in an array: -1");
}

/* Many keys in one object: a hash set, so 200,000 keys stay fast. */
static void test_many_keys(void)
{
	size_t n = 200000;
	char *s = malloc(n * 16 + 16);
	size_t p = 0;
	s[p++] = '{';
	for (size_t k = 0; k < n; k++)
		p += (size_t)sprintf(s + p, "%s\"k%zu\":%zu", k ? "," : "", k, k);
	s[p++] = '}';
	struct dsck_error err;
	CHECK(parse_buf(s, p, I, &err) == DSCK_OK, "200,000 distinct keys accepted");
	/* the same with the last key repeating the first */
	p--;
	p += (size_t)sprintf(s + p, ",\"k0\":1}");
	CHECK(parse_buf(s, p, I, &err) == DSCK_E_DUPLICATE_KEY && strcmp(err.tensor, "k0") == 0,
	      "duplicate among 200,001 keys found and named");
	free(s);
}

static void test_utf8_prefix(void)
{
	CHECK(dsck_utf8_valid_prefix("abc", 3) == 3, "utf8: ASCII valid");
	CHECK(dsck_utf8_valid_prefix("ab\xC3", 3) == 2, "utf8: truncated at end");
	CHECK(dsck_utf8_valid_prefix("a\xC3\xA9\xFF", 4) == 3, "utf8: stops at 0xFF");
	CHECK(dsck_utf8_valid_prefix("", 0) == 0, "utf8: empty");
	CHECK(dsck_utf8_valid_prefix("\xE2\x82\xAC", 3) == 3, "utf8: euro sign");
	CHECK(dsck_utf8_valid_prefix("\xE2\x28\xA1", 3) == 0, "utf8: bad continuation");
}

int main(void)
{
	test_table();
	test_depth();
	test_key_length();
	test_u64();
	test_content();
	test_termination();
	test_root_cap();
	test_exempt_key();
	test_root_key_find();
	test_many_keys();
	test_utf8_prefix();
	return test_done();
}
