/*
 * gen_st.c - the safetensors cases ST-01 ... ST-33 of the malformed-input
 * list (reference notes B.7), each with the error code formats.md gives it.
 * One case per variant: "ST-07b" is the second input of ST-07.
 *
 * Where dsck decides differently from the list's wording, the case says why:
 *   ST-16  strict: an unknown key in a tensor entry is INVALID_JSON (ST-R8).
 *   ST-23  dimensions above 2^53 are INVALID_JSON (J-R7) before any
 *          arithmetic; OVERFLOW is shown with dimensions that are exact.
 *   ST-29c a 1 MiB name breaks the 64 KiB key cap (J-R5) while the JSON is
 *          scanned (ST-R6), before ST-R9 looks at names: INVALID_JSON.
 *   ST-31  1,000,001 zero-size tensors (a 56 MB header) are refused by the
 *          tensor cap (L-R2) during the scan, before any table is allocated;
 *          an accepted 20,000-tensor file shows the accepting side stays
 *          fast (the 1,000,000-tensor memory bound is a unit test).
 * ST-34 (truncation sweep) and ST-35 (bit-flip sweep) expect "some error"
 * and "OK or some error", which a corpus case cannot state; they run as loops
 * in tests/unit/test_safetensors.c (test_sweeps).
 */
#include "corpus.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A header given as text, with data_len data bytes after it. */
static void st_case(struct corpus *c, const char *id, enum dsck_err expect,
		    const char *what, const char *hdr, size_t data_len)
{
	size_t len = 0;
	unsigned char *b = corpus_st_bytes(hdr, data_len, &len);
	if (!b)
		return;
	corpus_add(c, id, CORPUS_ST, expect, what, b, len);
	free(b);
}

/* Raw bytes: an 8-byte little-endian n, then body[0..body_len). For
 * headers that hold NUL bytes or lie about their length. */
static void st_case_raw(struct corpus *c, const char *id, enum dsck_err expect,
			const char *what, uint64_t n, const void *body,
			size_t body_len)
{
	unsigned char *b = malloc(8 + body_len);
	if (!b)
		return;
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(n >> (8 * i));
	if (body_len)
		memcpy(b + 8, body, body_len);
	corpus_add(c, id, CORPUS_ST, expect, what, b, 8 + body_len);
	free(b);
}

/* A one-tensor header with the given entry text. */
static void st_case_entry(struct corpus *c, const char *id, enum dsck_err expect,
			  const char *what, const char *entry, size_t data_len)
{
	char hdr[512];
	snprintf(hdr, sizeof hdr, "{\"t\":%s}", entry);
	st_case(c, id, expect, what, hdr, data_len);
}

#define VALID_T "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}"

static void gen_st_size(struct corpus *c)
{
	static const unsigned char seven[7] = { 1, 0, 0, 0, 0, 0, 0 };
	corpus_add(c, "ST-01a", CORPUS_ST, DSCK_E_HEADER_TOO_SMALL, "0-byte file (ST-R1)", "", 0);
	corpus_add(c, "ST-01b", CORPUS_ST, DSCK_E_HEADER_TOO_SMALL, "7-byte file (ST-R1)", seven, 7);
	st_case_raw(c, "ST-02", DSCK_E_INVALID_JSON, "N = 0: empty header is no JSON value (ST-R6)", 0, NULL, 0);
	st_case_raw(c, "ST-03", DSCK_E_HEADER_TOO_LARGE,
		    "N = 100,000,001 in a 10-byte file: cap decided before allocating (ST-R3)",
		    100000001ull, "{}", 2);
	st_case_raw(c, "ST-04a", DSCK_E_HEADER_TOO_LARGE, "N = 2^64-1 (ST-R3)", UINT64_MAX, "{}", 2);
	st_case_raw(c, "ST-04b", DSCK_E_HEADER_TOO_LARGE, "N = 2^64-8: 8 + N would wrap (ST-R3)",
		    UINT64_MAX - 7, "{}", 2);
	st_case_raw(c, "ST-05", DSCK_E_INVALID_HEADER_LENGTH,
		    "N = 1000 under the cap, file holds 2 header bytes (ST-R4)", 1000, "{}", 2);
}

static void gen_st_json(struct corpus *c)
{
	st_case(c, "ST-06a", DSCK_E_INVALID_UTF8, "byte 0xFF in a name (ST-R5)",
		"{\"a\xFF\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16);
	st_case(c, "ST-06b", DSCK_E_INVALID_UTF8, "overlong encoding C0 AF of '/' (ST-R5)",
		"{\"a\xC0\xAF\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16);
	st_case(c, "ST-06c", DSCK_E_INVALID_UTF8, "surrogate U+D800 encoded as bytes ED A0 80 (ST-R5)",
		"{\"a\xED\xA0\x80\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16);
	st_case(c, "ST-07a", DSCK_E_INVALID_JSON, "header '{' (ST-R6)", "{", 0);
	st_case(c, "ST-07b", DSCK_E_INVALID_JSON, "header '{\"a\":' (ST-R6)", "{\"a\":", 0);
	st_case(c, "ST-07c", DSCK_E_INVALID_JSON, "header '{}x' (J-R1)", "{}x", 0);
	st_case(c, "ST-07d", DSCK_E_INVALID_JSON, "header '{}{}' (J-R1)", "{}{}", 0);
	st_case(c, "ST-08a", DSCK_E_INVALID_JSON, "top level '[]' (ST-R6)", "[]", 0);
	st_case(c, "ST-08b", DSCK_E_INVALID_JSON, "top level '\"s\"' (ST-R6)", "\"s\"", 0);
	st_case(c, "ST-08c", DSCK_E_INVALID_JSON, "top level '0' (ST-R6)", "0", 0);
	st_case(c, "ST-08d", DSCK_E_INVALID_JSON, "top level 'null' (ST-R6)", "null", 0);
	st_case(c, "ST-09a", DSCK_OK, "leading whitespace before '{' accepted, warned (ST-R6)",
		" \n\t\r" VALID_T, 16);
	st_case(c, "ST-09b", DSCK_OK, "trailing '\\t\\r\\n ' accepted (ST-R6)", VALID_T "\t\r\n ", 16);
	{
		static const char pad[] = "{}\0\0\0\0\0\0"; /* 8 bytes */
		st_case_raw(c, "ST-10", DSCK_E_INVALID_JSON, "NUL bytes as header padding (J-R1)", 8, pad, 8);
	}
	st_case(c, "ST-11a", DSCK_E_DUPLICATE_KEY, "same tensor twice, identical entries (J-R6)",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
		"\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16);
	st_case(c, "ST-11b", DSCK_E_DUPLICATE_KEY, "same tensor twice, differing entries (J-R6)",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
		"\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}", 32);
	st_case(c, "ST-12a", DSCK_E_DUPLICATE_KEY, "__metadata__ twice (J-R6)",
		"{\"__metadata__\":{\"a\":\"1\"},\"__metadata__\":{\"b\":\"2\"}}", 0);
	st_case(c, "ST-12b", DSCK_E_DUPLICATE_KEY, "a key twice inside __metadata__ (J-R6)",
		"{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0);
	st_case(c, "ST-13a", DSCK_E_INVALID_METADATA, "__metadata__ value a number (ST-R7)",
		"{\"__metadata__\":{\"k\":1}}", 0);
	st_case(c, "ST-13b", DSCK_E_INVALID_METADATA, "__metadata__ value null (ST-R7)",
		"{\"__metadata__\":{\"k\":null}}", 0);
	st_case(c, "ST-13c", DSCK_E_INVALID_METADATA, "__metadata__ value a nested object (ST-R7)",
		"{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0);
	st_case(c, "ST-13d", DSCK_E_INVALID_METADATA, "__metadata__ value an array (ST-R7)",
		"{\"__metadata__\":{\"k\":[\"v\"]}}", 0);
	st_case(c, "ST-13e", DSCK_E_INVALID_METADATA, "__metadata__ itself a string (ST-R7)",
		"{\"__metadata__\":\"v\"}", 0);
}

static void gen_st_entries(struct corpus *c)
{
	st_case_entry(c, "ST-14a", DSCK_E_INVALID_DTYPE, "dtype \"F128\" (ST-R8)",
		      "{\"dtype\":\"F128\",\"shape\":[2],\"data_offsets\":[0,32]}", 32);
	st_case_entry(c, "ST-14b", DSCK_E_INVALID_DTYPE, "dtype \"f32\", wrong case (ST-R8)",
		      "{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8);
	st_case_entry(c, "ST-14c", DSCK_E_INVALID_DTYPE, "dtype \"\" (ST-R8)",
		      "{\"dtype\":\"\",\"shape\":[2],\"data_offsets\":[0,8]}", 8);
	st_case_entry(c, "ST-14d", DSCK_E_INVALID_DTYPE, "dtype a number (ST-R8)",
		      "{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}", 8);
	st_case_entry(c, "ST-15a", DSCK_E_INVALID_JSON, "entry without dtype (ST-R8)",
		      "{\"shape\":[2],\"data_offsets\":[0,8]}", 8);
	st_case_entry(c, "ST-15b", DSCK_E_INVALID_JSON, "entry without shape (ST-R8)",
		      "{\"dtype\":\"F32\",\"data_offsets\":[0,8]}", 8);
	st_case_entry(c, "ST-15c", DSCK_E_INVALID_JSON, "entry without data_offsets (ST-R8)",
		      "{\"dtype\":\"F32\",\"shape\":[2]}", 8);
	st_case_entry(c, "ST-15d", DSCK_E_INVALID_JSON, "entry not an object (ST-R8)", "[\"F32\",[2],[0,8]]", 8);
	st_case_entry(c, "ST-16", DSCK_E_INVALID_JSON, "unknown key in a tensor entry: strict (ST-R8)",
		      "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":\"x\"}", 8);
	st_case_entry(c, "ST-17a", DSCK_E_INVALID_JSON, "shape entry -1 (J-R8)",
		      "{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}", 8);
	st_case_entry(c, "ST-17b", DSCK_E_INVALID_JSON, "shape entry 1.5 (J-R8)",
		      "{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}", 8);
	st_case_entry(c, "ST-17c", DSCK_E_INVALID_JSON, "shape entry 1e3 (J-R8)",
		      "{\"dtype\":\"F32\",\"shape\":[1e3],\"data_offsets\":[0,4000]}", 4000);
	st_case_entry(c, "ST-17d", DSCK_E_INVALID_JSON, "shape entry \"4\" (ST-R8)",
		      "{\"dtype\":\"F32\",\"shape\":[\"4\"],\"data_offsets\":[0,16]}", 16);
	st_case_entry(c, "ST-17e", DSCK_E_INVALID_JSON, "shape entry 2^64 (J-R7)",
		      "{\"dtype\":\"U8\",\"shape\":[18446744073709551616],\"data_offsets\":[0,0]}", 0);
	st_case_entry(c, "ST-18a", DSCK_E_INVALID_JSON, "data_offsets with 1 element (ST-R8)",
		      "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}", 8);
	st_case_entry(c, "ST-18b", DSCK_E_INVALID_JSON, "data_offsets with 3 elements (ST-R8)",
		      "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}", 8);
	st_case_entry(c, "ST-18c", DSCK_E_INVALID_JSON, "negative data_offsets (J-R8)",
		      "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}", 8);
	st_case_entry(c, "ST-18d", DSCK_E_INVALID_JSON, "float data_offsets (J-R8)",
		      "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8.0]}", 8);
	st_case_entry(c, "ST-18e", DSCK_E_INVALID_JSON, "string data_offsets (ST-R8)",
		      "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[\"0\",\"8\"]}", 8);
}

static void gen_st_layout(struct corpus *c)
{
	st_case(c, "ST-19", DSCK_E_INVALID_OFFSET, "BEGIN > END (ST-R10)",
		"{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
		"\"b\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,2]}}", 4);
	st_case(c, "ST-20a", DSCK_E_INVALID_OFFSET, "first tensor at 16: leading hole (ST-R10)",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}", 32);
	st_case(c, "ST-20b", DSCK_E_INVALID_OFFSET, "a gap between two tensors (ST-R10)",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
		"\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[20,36]}}", 36);
	{
		char hdr[1024];
		size_t p = 0;
		p += (size_t)snprintf(hdr + p, sizeof hdr - p, "{");
		for (int k = 0; k < 10; k++)
			p += (size_t)snprintf(hdr + p, sizeof hdr - p,
					      "%s\"t%d\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}",
					      k ? "," : "", k);
		snprintf(hdr + p, sizeof hdr - p, "}");
		st_case(c, "ST-21", DSCK_E_INVALID_OFFSET, "10 tensors all at [0,16]: aliasing (ST-R10)", hdr, 16);
	}
	st_case_entry(c, "ST-22", DSCK_E_TENSOR_INVALID_INFO, "I32 [2,2] in [0,4] (ST-R13)",
		      "{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,4]}", 4);
	st_case_entry(c, "ST-23a", DSCK_E_INVALID_JSON,
		      "shape [2, 2^64-2]: dimension above 2^53 refused before arithmetic (J-R7)",
		      "{\"dtype\":\"U8\",\"shape\":[2,18446744073709551614],\"data_offsets\":[0,4]}", 4);
	st_case_entry(c, "ST-23b", DSCK_E_INVALID_JSON,
		      "shape [2, 2^63-1]: dimension above 2^53 (J-R7)",
		      "{\"dtype\":\"U8\",\"shape\":[2,9223372036854775807],\"data_offsets\":[0,4]}", 4);
	st_case_entry(c, "ST-23c", DSCK_E_OVERFLOW, "shape [2^32, 2^32]: element count overflows (ST-R11)",
		      "{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}", 0);
	st_case_entry(c, "ST-23d", DSCK_E_OVERFLOW, "I16 x 2^60 elements: bit count overflows (ST-R11)",
		      "{\"dtype\":\"I16\",\"shape\":[1048576,1048576,1048576],\"data_offsets\":[0,0]}", 0);
	st_case_entry(c, "ST-24", DSCK_E_MISALIGNED, "F4 x 3 = 12 bits (ST-R12)",
		      "{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}", 2);
	{
		/* valid file + a ZIP end-of-central-directory record: a polyglot */
		size_t len = 0;
		unsigned char *b = corpus_st_bytes(VALID_T, 16, &len);
		unsigned char *p = b ? realloc(b, len + 22) : NULL;
		if (p) {
			memset(p + len, 0, 22);
			memcpy(p + len, "PK\x05\x06", 4);
			corpus_add(c, "ST-25", CORPUS_ST, DSCK_E_INCOMPLETE_BUFFER,
				   "valid file + ZIP end-of-central-directory record: polyglot (ST-R14)",
				   p, len + 22);
			free(p);
		} else {
			free(b);
		}
	}
	st_case(c, "ST-26", DSCK_E_INCOMPLETE_BUFFER, "data section 2 bytes short (ST-R14)", VALID_T, 14);
	st_case(c, "ST-27a", DSCK_OK, "'{}' with no data: 0 tensors", "{}", 0);
	st_case(c, "ST-27b", DSCK_OK, "metadata only, no tensors", "{\"__metadata__\":{\"k\":\"v\"}}", 0);
	st_case_entry(c, "ST-28a", DSCK_OK, "zero-size F32 [2,0] at [0,0] (ST-R16)",
		      "{\"dtype\":\"F32\",\"shape\":[2,0],\"data_offsets\":[0,0]}", 0);
	st_case_entry(c, "ST-28b", DSCK_OK, "scalar I32 [] at [0,4] (ST-R16)",
		      "{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]}", 4);
}

static void gen_st_names(struct corpus *c)
{
	st_case(c, "ST-29a", DSCK_E_INVALID_NAME, "empty tensor name (ST-R9)",
		"{\"\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16);
	st_case(c, "ST-29b", DSCK_E_INVALID_JSON, "tensor name with \\u0000 (J-R3)",
		"{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16);
	{
		size_t n = 1u << 20, p = 0;
		char *hdr = malloc(n + 128);
		if (hdr) {
			hdr[p++] = '{';
			hdr[p++] = '"';
			memset(hdr + p, 'n', n);
			p += n;
			snprintf(hdr + p, 128, "\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}");
			st_case(c, "ST-29c", DSCK_E_INVALID_JSON,
				"1 MiB tensor name: key cap during the scan (J-R5)", hdr, 16);
			free(hdr);
		}
	}
	{
		size_t n = 100000, p = 0;
		char *hdr = malloc(2 * n + 64);
		if (hdr) {
			p += (size_t)sprintf(hdr, "{\"__metadata__\":");
			memset(hdr + p, '[', n);
			p += n;
			memset(hdr + p, ']', n);
			p += n;
			snprintf(hdr + p, 8, "}");
			st_case(c, "ST-30a", DSCK_E_INVALID_JSON,
				"__metadata__ nested 100,000 deep: depth cap, no deep stack (J-R4)", hdr, 0);
			p = (size_t)sprintf(hdr, "{\"t\":{\"dtype\":\"F32\",\"shape\":");
			memset(hdr + p, '[', 100);
			p += 100;
			hdr[p++] = '2';
			memset(hdr + p, ']', 100);
			p += 100;
			snprintf(hdr + p, 64, ",\"data_offsets\":[0,8]}}");
			st_case(c, "ST-30b", DSCK_E_INVALID_JSON,
				"shape nested 100 deep inside a tensor entry (J-R4)", hdr, 8);
			free(hdr);
		}
	}
	st_case(c, "ST-32a", DSCK_E_INVALID_JSON, "invalid escape \\x in a name (J-R3)",
		"{\"a\\x41\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16);
	st_case(c, "ST-32b", DSCK_E_INVALID_JSON, "lone \\ud800 in a name (J-R3)",
		"{\"a\\ud800\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16);
	st_case(c, "ST-32c", DSCK_E_INVALID_JSON, "\\u0000 in a __metadata__ key (J-R3)",
		"{\"__metadata__\":{\"k\\u0000\":\"v\"}}", 0);
	static const struct {
		const char *id, *num, *what;
	} nums[] = {
		{ "ST-33a", "+1", "'+1' in shape (J-R7)" },
		{ "ST-33b", "01", "'01' in shape (J-R7)" },
		{ "ST-33c", "1.0", "'1.0' in shape (J-R8)" },
		{ "ST-33d", "1e1", "'1e1' in shape (J-R8)" },
		{ "ST-33e", "NaN", "'NaN' in shape (J-R7)" },
		{ "ST-33f", "Infinity", "'Infinity' in shape (J-R7)" },
	};
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		char e[128];
		snprintf(e, sizeof e, "{\"dtype\":\"F32\",\"shape\":[%s],\"data_offsets\":[0,4]}", nums[i].num);
		st_case_entry(c, nums[i].id, DSCK_E_INVALID_JSON, nums[i].what, e, 4);
	}
	st_case(c, "ST-33g", DSCK_E_INVALID_JSON, "'+16' in data_offsets (J-R7)",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,+16]}}", 16);
}

/* ST-31: many zero-size tensors. Names are hex counters, entries ~52 bytes. */
static void gen_st_many(struct corpus *c, const char *id, enum dsck_err expect,
			const char *what, size_t n)
{
	size_t cap = n * 64 + 16, p = 0;
	char *hdr = malloc(cap);
	if (!hdr)
		return;
	hdr[p++] = '{';
	for (size_t k = 0; k < n; k++)
		p += (size_t)snprintf(hdr + p, cap - p,
				      "%s\"%zx\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}",
				      k ? "," : "", k);
	snprintf(hdr + p, cap - p, "}");
	st_case(c, id, expect, what, hdr, 0);
	free(hdr);
}

void gen_st(struct corpus *c)
{
	gen_st_size(c);
	gen_st_json(c);
	gen_st_entries(c);
	gen_st_layout(c);
	gen_st_names(c);
	gen_st_many(c, "ST-31a", DSCK_E_LIMIT,
		    "1,000,001 zero-size tensors: tensor cap during the scan (L-R2, ST-R15)",
		    1000001);
	gen_st_many(c, "ST-31b", DSCK_OK,
		    "20,000 zero-size tensors at one offset: accepted in linear time (ST-R16)",
		    20000);
}
