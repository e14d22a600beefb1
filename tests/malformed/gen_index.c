/*
 * gen_index.c - malformed-input cases IX-01 .. IX-10 (formats.md §6 and §9):
 * checkpoint directories whose model.safetensors.index.json, shard names or
 * shard files are wrong, each with the error code dsck_ckpt_open must give.
 * A few accepted cases pin the other side of a boundary (DSCK_OK).
 *
 * Every directory uses the same two valid shards unless a case changes
 * them: A holds "a" (F32 [2], 8 bytes) and "b" (I8 [4], 4 bytes); B holds
 * "c" (BF16 [2], 4 bytes). Payload total: 16 bytes.
 */
#include "corpus.h"
#include "../../lib/index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IX_NAME "model.safetensors.index.json"
#define SH_A "model-00001-of-00002.safetensors"
#define SH_B "model-00002-of-00002.safetensors"
#define HDR_A "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," \
	      "\"b\":{\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[8,12]}}"
#define HDR_B "{\"c\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}"
/* A with "c" too: a tensor stored in two shards. */
#define HDR_A_C "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," \
		"\"c\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]}}"
#define WM_AB "\"weight_map\":{\"a\":\"" SH_A "\",\"b\":\"" SH_A "\",\"c\":\"" SH_B "\"}"

static void add_st(struct corpus *c, const char *name, const char *header,
		   size_t data_len)
{
	size_t len;
	unsigned char *b = corpus_st_bytes(header, data_len, &len);
	corpus_dir_file(c, name, b, len);
	free(b);
}

static void add_text(struct corpus *c, const char *name, const char *text)
{
	corpus_dir_file(c, name, text, strlen(text));
}

static void add_shards(struct corpus *c)
{
	add_st(c, SH_A, HDR_A, 12);
	add_st(c, SH_B, HDR_B, 4);
}

/* A directory with both shards and the given index text. */
static void dir_with_index(struct corpus *c, const char *id, enum dsck_err expect,
			   const char *what, const char *index)
{
	corpus_add_dir(c, id, expect, what);
	add_shards(c);
	add_text(c, IX_NAME, index);
}

/* The shards plus an index whose only entry maps "a" to shard_json. */
static void dir_with_shard_name(struct corpus *c, const char *id, const char *what,
				const char *shard_json, enum dsck_err expect)
{
	char index[1024];
	snprintf(index, sizeof index, "{\"weight_map\":{\"a\":%s}}", shard_json);
	dir_with_index(c, id, expect, what, index);
}

/* An index of total length len: doc, then spaces (valid trailing JSON
 * whitespace, J-R1). */
static void dir_with_big_index(struct corpus *c, const char *id, enum dsck_err expect,
			       const char *what, size_t len)
{
	const char *doc = "{" WM_AB "}";
	char *big = malloc(len);
	if (!big) {
		fprintf(stderr, "malformed-corpus: out of memory\n");
		exit(3);
	}
	memset(big, ' ', len);
	memcpy(big, doc, strlen(doc));
	corpus_add_dir(c, id, expect, what);
	add_shards(c);
	corpus_dir_file(c, IX_NAME, big, len);
	free(big);
}

static void gen_ix01(struct corpus *c)
{
	dir_with_index(c, "IX-01a", DSCK_E_INVALID_JSON, "index is not JSON", "weight_map: a");
	dir_with_index(c, "IX-01b", DSCK_E_INVALID_JSON, "index top level is an array",
		       "[{" WM_AB "}]");
	/* L-R4 is 64 MiB (formats.md), so the 20 MB index of the case list is
	 * accepted; one byte over the cap is LIMIT, refused before reading. */
	dir_with_big_index(c, "IX-01c", DSCK_OK, "a 20 MB index (under the 64 MiB cap)",
			   20u * 1000u * 1000u);
	dir_with_big_index(c, "IX-01d", DSCK_E_LIMIT, "an index of 64 MiB + 1 byte (L-R4)",
			   (size_t)DSCK_INDEX_MAX_BYTES + 1);
	dir_with_index(c, "IX-01e", DSCK_E_INVALID_JSON, "index is empty", "");
	dir_with_index(c, "IX-01f", DSCK_E_INVALID_JSON, "index followed by a second value",
		       "{" WM_AB "}{}");
}

static void gen_ix02(struct corpus *c)
{
	dir_with_index(c, "IX-02a", DSCK_E_INVALID_INDEX, "weight_map missing",
		       "{\"metadata\":{\"total_size\":16}}");
	dir_with_index(c, "IX-02b", DSCK_E_INVALID_INDEX, "weight_map is an array",
		       "{\"weight_map\":[\"" SH_A "\"]}");
	dir_with_index(c, "IX-02c", DSCK_E_INVALID_INDEX, "weight_map is a string",
		       "{\"weight_map\":\"" SH_A "\"}");
	dir_with_shard_name(c, "IX-02d", "weight_map value is a number", "1",
			    DSCK_E_INVALID_INDEX);
	dir_with_shard_name(c, "IX-02e", "weight_map value is null", "null",
			    DSCK_E_INVALID_INDEX);
	dir_with_shard_name(c, "IX-02f", "weight_map value is an object",
			    "{\"file\":\"" SH_A "\"}", DSCK_E_INVALID_INDEX);
}

static void gen_ix03(struct corpus *c)
{
	/* transformers#47176 family: values used as paths. */
	dir_with_shard_name(c, "IX-03a", "shard \"/etc/passwd\"", "\"/etc/passwd\"",
			    DSCK_E_BAD_SHARD_PATH);
	dir_with_shard_name(c, "IX-03b", "shard \"../x.safetensors\"", "\"../x.safetensors\"",
			    DSCK_E_BAD_SHARD_PATH);
	dir_with_shard_name(c, "IX-03c", "shard \"a/../../x.safetensors\"",
			    "\"a/../../x.safetensors\"", DSCK_E_BAD_SHARD_PATH);
	dir_with_shard_name(c, "IX-03d", "shard \"..\\\\x.safetensors\" (backslash)",
			    "\"..\\\\x.safetensors\"", DSCK_E_BAD_SHARD_PATH);
	dir_with_shard_name(c, "IX-03e", "shard \"a/b.safetensors\"", "\"a/b.safetensors\"",
			    DSCK_E_BAD_SHARD_PATH);
	dir_with_shard_name(c, "IX-03f", "absolute shard path to a real shard name",
			    "\"/tmp/" SH_A "\"", DSCK_E_BAD_SHARD_PATH);
}

static void gen_ix04(struct corpus *c)
{
	char name[400], json[420];

	/* J-R3 refuses \u0000 in any string before IX-R4 is reached. */
	dir_with_shard_name(c, "IX-04a", "shard name with an escaped NUL",
			    "\"a\\u0000.safetensors\"", DSCK_E_INVALID_JSON);
	dir_with_shard_name(c, "IX-04b", "shard name with a newline",
			    "\"a\\n.safetensors\"", DSCK_E_BAD_SHARD_PATH);
	memset(name, 'a', sizeof name);
	memcpy(name + 300 - 12, ".safetensors", 12);
	name[300] = '\0';
	snprintf(json, sizeof json, "\"%s\"", name);
	dir_with_shard_name(c, "IX-04c", "shard name of 300 bytes", json, DSCK_E_BAD_SHARD_PATH);
	dir_with_shard_name(c, "IX-04d", "shard name \".\"", "\".\"", DSCK_E_BAD_SHARD_PATH);
	dir_with_shard_name(c, "IX-04e", "shard name \"\"", "\"\"", DSCK_E_BAD_SHARD_PATH);
	dir_with_shard_name(c, "IX-04f", "shard name \"..\"", "\"..\"", DSCK_E_BAD_SHARD_PATH);
	dir_with_shard_name(c, "IX-04g", "shard name without the .safetensors suffix",
			    "\"model.bin\"", DSCK_E_BAD_SHARD_PATH);
	dir_with_shard_name(c, "IX-04h", "shard name with a DEL byte",
			    "\"a\\u007f.safetensors\"", DSCK_E_BAD_SHARD_PATH);

	/* The boundary: 256 bytes refused, 255 bytes accepted (a real file). */
	memset(name, 'a', sizeof name);
	memcpy(name + 256 - 12, ".safetensors", 12);
	name[256] = '\0';
	snprintf(json, sizeof json, "\"%s\"", name);
	dir_with_shard_name(c, "IX-04i", "shard name of 256 bytes", json, DSCK_E_BAD_SHARD_PATH);

	memset(name, 'a', sizeof name);
	memcpy(name + 255 - 12, ".safetensors", 12);
	name[255] = '\0';
	char index[800];
	snprintf(index, sizeof index, "{\"weight_map\":{\"c\":\"%s\"}}", name);
	corpus_add_dir(c, "IX-04j", DSCK_OK, "shard name of 255 bytes (the cap) is accepted");
	add_st(c, name, HDR_B, 4);
	add_text(c, IX_NAME, index);
}

static void gen_ix05(struct corpus *c)
{
	const char *index = "{\"weight_map\":{\"c\":\"" SH_B "\"}}";

	corpus_add_dir(c, "IX-05a", DSCK_E_BAD_SHARD_PATH,
		       "shard is a symlink out of the directory (dangling)");
	corpus_dir_symlink(c, SH_B, "../../outside.safetensors");
	add_text(c, IX_NAME, index);

	corpus_add_dir(c, "IX-05b", DSCK_E_BAD_SHARD_PATH,
		       "shard is a symlink to an absolute path");
	corpus_dir_symlink(c, SH_B, "/etc/hostname");
	add_text(c, IX_NAME, index);

	corpus_add_dir(c, "IX-05c", DSCK_E_BAD_SHARD_PATH,
		       "shard is a symlink to a valid shard inside the directory");
	add_st(c, "real.safetensors", HDR_B, 4);
	corpus_dir_symlink(c, SH_B, "real.safetensors");
	add_text(c, IX_NAME, index);

	corpus_add_dir(c, "IX-05d", DSCK_E_BAD_SHARD_PATH,
		       "no index: a *.safetensors in the directory is a symlink");
	add_st(c, SH_A, HDR_A, 12);
	corpus_dir_symlink(c, SH_B, "/etc/hostname");

	corpus_add_dir(c, "IX-05e", DSCK_E_BAD_SHARD_PATH, "the index itself is a symlink");
	add_shards(c);
	add_text(c, "real-index.json", "{" WM_AB "}");
	corpus_dir_symlink(c, IX_NAME, "real-index.json");
}

static void gen_ix06(struct corpus *c)
{
	corpus_add_dir(c, "IX-06a", DSCK_E_MISSING_SHARD, "the only shard is missing");
	add_text(c, IX_NAME, "{" WM_AB "}");

	corpus_add_dir(c, "IX-06b", DSCK_E_MISSING_SHARD, "the second of two shards is missing");
	add_st(c, SH_A, HDR_A, 12);
	add_text(c, IX_NAME, "{" WM_AB "}");
}

static void gen_ix07(struct corpus *c)
{
	dir_with_index(c, "IX-07a", DSCK_E_INDEX_MISMATCH,
		       "tensor mapped to shard A is absent from A",
		       "{\"weight_map\":{\"a\":\"" SH_A "\",\"b\":\"" SH_A "\",\"c\":\"" SH_B "\","
		       "\"d\":\"" SH_A "\"}}");

	corpus_add_dir(c, "IX-07b", DSCK_E_INDEX_MISMATCH, "tensor present in both A and B");
	add_st(c, SH_A, HDR_A_C, 12);
	add_st(c, SH_B, HDR_B, 4);
	add_text(c, IX_NAME, "{\"weight_map\":{\"a\":\"" SH_A "\",\"c\":\"" SH_B "\"}}");

	dir_with_index(c, "IX-07c", DSCK_E_INDEX_MISMATCH,
		       "shard holds a tensor the index does not list",
		       "{\"weight_map\":{\"a\":\"" SH_A "\",\"c\":\"" SH_B "\"}}");

	dir_with_index(c, "IX-07d", DSCK_E_INDEX_MISMATCH,
		       "tensor mapped to B but stored in A",
		       "{\"weight_map\":{\"a\":\"" SH_A "\",\"b\":\"" SH_B "\",\"c\":\"" SH_B "\"}}");

	corpus_add_dir(c, "IX-07e", DSCK_E_INDEX_MISMATCH,
		       "no index: one tensor name in two files (IX-R9)");
	add_st(c, SH_A, HDR_A_C, 12);
	add_st(c, SH_B, HDR_B, 4);

	corpus_add_dir(c, "IX-07f", DSCK_OK,
		       "no index: model.safetensors alone is used, a broken sibling ignored (IX-R9)");
	add_st(c, "model.safetensors", HDR_B, 4);
	add_text(c, "junk.safetensors", "not safetensors");

	dir_with_index(c, "IX-07g", DSCK_OK, "a consistent index", "{" WM_AB "}");

	corpus_add_dir(c, "IX-07h", DSCK_OK, "no index: every *.safetensors in name order");
	add_shards(c);
}

static void gen_ix08(struct corpus *c)
{
	static const struct {
		const char *id, *value, *what;
		enum dsck_err expect;
	} v[] = {
		{ "IX-08a", "-16", "total_size negative", DSCK_E_INVALID_INDEX },
		{ "IX-08b", "16.5", "total_size a fraction", DSCK_E_INVALID_INDEX },
		{ "IX-08c", "\"16\"", "total_size a string", DSCK_E_INVALID_INDEX },
		{ "IX-08d", "18446744073709551616", "total_size 2^64", DSCK_E_INVALID_INDEX },
		{ "IX-08e", "17", "total_size differs from the sum (16)", DSCK_E_INDEX_MISMATCH },
		{ "IX-08f", "16", "total_size equals the sum", DSCK_OK },
		{ "IX-08g", "9007199254740994", "total_size above 2^53 (J-R7)", DSCK_E_INVALID_INDEX },
		{ "IX-08h", "null", "total_size null", DSCK_E_INVALID_INDEX },
	};
	char index[512];
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		snprintf(index, sizeof index, "{\"metadata\":{\"total_size\":%s}," WM_AB "}",
			 v[i].value);
		dir_with_index(c, v[i].id, v[i].expect, v[i].what, index);
	}
	dir_with_index(c, "IX-08i", DSCK_E_INVALID_INDEX, "metadata is an array",
		       "{\"metadata\":[16]," WM_AB "}");
	dir_with_index(c, "IX-08j", DSCK_OK, "metadata without total_size",
		       "{\"metadata\":{\"format\":\"pt\"}," WM_AB "}");
}

static void gen_ix09(struct corpus *c)
{
	dir_with_index(c, "IX-09a", DSCK_E_DUPLICATE_KEY,
		       "duplicate tensor key in weight_map, same shard",
		       "{\"weight_map\":{\"a\":\"" SH_A "\",\"b\":\"" SH_A "\",\"c\":\"" SH_B "\","
		       "\"a\":\"" SH_A "\"}}");
	dir_with_index(c, "IX-09b", DSCK_E_DUPLICATE_KEY,
		       "duplicate tensor key in weight_map, different shards",
		       "{\"weight_map\":{\"a\":\"" SH_A "\",\"b\":\"" SH_A "\",\"c\":\"" SH_B "\","
		       "\"a\":\"" SH_B "\"}}");
	dir_with_index(c, "IX-09c", DSCK_E_DUPLICATE_KEY, "weight_map given twice",
		       "{" WM_AB "," WM_AB "}");
}

static void gen_ix10(struct corpus *c)
{
	dir_with_index(c, "IX-10a", DSCK_E_BAD_SHARD_PATH,
		       "one shard spelled \"a.safetensors\" and \"./a.safetensors\"",
		       "{\"weight_map\":{\"a\":\"" SH_A "\",\"b\":\"./" SH_A "\",\"c\":\"" SH_B "\"}}");
	dir_with_index(c, "IX-10b", DSCK_E_BAD_SHARD_PATH,
		       "one shard spelled with a trailing \"/.\"",
		       "{\"weight_map\":{\"a\":\"" SH_A "\",\"b\":\"" SH_A "/.\",\"c\":\"" SH_B "\"}}");
}

void gen_index(struct corpus *c)
{
	gen_ix01(c);
	gen_ix02(c);
	gen_ix03(c);
	gen_ix04(c);
	gen_ix05(c);
	gen_ix06(c);
	gen_ix07(c);
	gen_ix08(c);
	gen_ix09(c);
	gen_ix10(c);
}
