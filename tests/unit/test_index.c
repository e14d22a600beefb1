/*
 * test_index.c - index.json reader (IX-R1..IX-R4) and writer (IX-W1).
 *
 * Expected writer bytes were produced with Python:
 *   json.dumps(index, indent=2, sort_keys=True) + "\n"
 * which is what transformers writes.
 */
#include "index.h"
#include "io.h"
#include "../test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum dsck_err parse_text(const char *text, struct dsck_index *idx,
				struct dsck_error *err)
{
	dsck_error_clear(err);
	return dsck_index_parse(text, strlen(text), "t.json", idx, err);
}

/* Parse, expect code, release; returns 1 on the expected outcome. */
static int parse_expect(const char *text, enum dsck_err want)
{
	struct dsck_index idx;
	struct dsck_error err;
	enum dsck_err rc = parse_text(text, &idx, &err);
	if (rc == DSCK_OK)
		dsck_index_release(&idx);
	if (rc != want)
		printf("#   got %s (%s), want %s\n", dsck_err_name(rc), err.detail,
		       dsck_err_name(want));
	return rc == want;
}

static char *wm_with_shard(const char *shard_json)
{
	static char buf[4096];
	snprintf(buf, sizeof buf, "{\"weight_map\": {\"t\": %s}}", shard_json);
	return buf;
}

static void test_parse_ok(void)
{
	struct dsck_index idx;
	struct dsck_error err;
	const char *text =
		"{\"metadata\": {\"total_size\": 48, \"format\": \"pt\"},\n"
		" \"weight_map\": {\n"
		"  \"z.weight\": \"model-00002-of-00002.safetensors\",\n"
		"  \"a.weight\": \"model-00001-of-00002.safetensors\",\n"
		"  \"m.weight\": \"model-00002-of-00002.safetensors\"}}";
	CHECK(parse_text(text, &idx, &err) == DSCK_OK, "IX-R1..R4: a valid index parses");
	CHECK_EQ_U64(idx.n, 3, "three entries");
	CHECK_EQ_U64(idx.n_shards, 2, "two distinct shards");
	CHECK(idx.n_shards == 2 && strcmp(idx.shards[0], "model-00001-of-00002.safetensors") == 0 &&
	      strcmp(idx.shards[1], "model-00002-of-00002.safetensors") == 0,
	      "shards sorted");
	CHECK(idx.n == 3 && strcmp(idx.entries[0].name, "a.weight") == 0 &&
	      strcmp(idx.entries[1].name, "m.weight") == 0 &&
	      strcmp(idx.entries[2].name, "z.weight") == 0, "entries sorted by name");
	CHECK(idx.n == 3 && idx.entries[0].shard == 0 && idx.entries[1].shard == 1 &&
	      idx.entries[2].shard == 1, "entries point at the right sorted shard");
	uint32_t v = 99;
	CHECK(dsck_strmap_find(&idx.by_name, "m.weight", 8, &v) && v == 1,
	      "lookup by name");
	CHECK(!dsck_strmap_find(&idx.by_name, "nope", 4, &v), "lookup of an absent name");
	CHECK(idx.has_total_size && idx.total_size == 48, "IX-R3: total_size read");
	dsck_index_release(&idx);
	CHECK(idx.n == 0 && idx.entries == NULL, "release resets");
	dsck_index_release(&idx); /* twice is fine */

	CHECK(parse_text("{\"weight_map\": {}}", &idx, &err) == DSCK_OK &&
	      idx.n == 0 && idx.n_shards == 0 && !idx.has_total_size,
	      "empty weight_map, no metadata");
	dsck_index_release(&idx);
	CHECK(parse_text("{\"metadata\": {}, \"weight_map\": {}, \"extra\": [1]}", &idx, &err) ==
	      DSCK_OK && !idx.has_total_size, "metadata without total_size; unknown top-level key");
	dsck_index_release(&idx);
	CHECK(parse_text("{\"metadata\":{\"total_size\":9007199254740992},\"weight_map\":{}}",
			 &idx, &err) == DSCK_OK && idx.total_size == 9007199254740992ull,
	      "J-R7: total_size 2^53 accepted");
	dsck_index_release(&idx);
}

static void test_parse_errors(void)
{
	struct dsck_index idx;
	struct dsck_error err;

	/* IX-R1 */
	CHECK(parse_expect("not json", DSCK_E_INVALID_JSON), "IX-R1: not JSON");
	CHECK(parse_expect("[]", DSCK_E_INVALID_JSON), "IX-R1: top level an array");
	CHECK(parse_expect("\"s\"", DSCK_E_INVALID_JSON), "IX-R1: top level a string");
	CHECK(parse_expect("{\"weight_map\": {}} {}", DSCK_E_INVALID_JSON), "IX-R1: two values");
	CHECK(parse_expect("", DSCK_E_INVALID_JSON), "IX-R1: empty text");

	/* IX-R2 */
	CHECK(parse_expect("{}", DSCK_E_INVALID_INDEX), "IX-R2: weight_map missing");
	CHECK(parse_expect("{\"weight_map\": []}", DSCK_E_INVALID_INDEX), "IX-R2: weight_map an array");
	CHECK(parse_expect("{\"weight_map\": \"a.safetensors\"}", DSCK_E_INVALID_INDEX),
	      "IX-R2: weight_map a string");
	CHECK(parse_expect("{\"weight_map\": null}", DSCK_E_INVALID_INDEX), "IX-R2: weight_map null");
	CHECK(parse_expect(wm_with_shard("1"), DSCK_E_INVALID_INDEX), "IX-R2: value a number");
	CHECK(parse_expect(wm_with_shard("null"), DSCK_E_INVALID_INDEX), "IX-R2: value null");
	CHECK(parse_expect(wm_with_shard("[\"a.safetensors\"]"), DSCK_E_INVALID_INDEX),
	      "IX-R2: value an array");
	CHECK(parse_expect("{\"weight_map\": {\"t\": \"a.safetensors\", \"t\": \"a.safetensors\"}}",
			   DSCK_E_DUPLICATE_KEY), "IX-R2/J-R6: duplicate tensor key");
	CHECK(parse_expect("{\"weight_map\": {}, \"weight_map\": {}}", DSCK_E_DUPLICATE_KEY),
	      "J-R6: duplicate weight_map");
	/* J-R6 is decided by the reader's walk: duplicates anywhere, ranked
	 * above every IX rule, the first in document order named. */
	CHECK(parse_text("{\"weight_map\": {\"b\": \"a.safetensors\", \"a\": \"a.safetensors\", "
			 "\"c\": \"a.safetensors\", \"\\u0061\": \"a.safetensors\"}, \"x\": {\"k\": 1, \"k\": 2}}",
			 &idx, &err) == DSCK_E_DUPLICATE_KEY && strcmp(err.tensor, "a") == 0 &&
	      err.offset == 82, "J-R6: weight_map keys apart, one escaped: the first named at its offset");
	CHECK(parse_expect("{\"x\": [{\"k\": 1, \"k\": 2}], \"weight_map\": {}}", DSCK_E_DUPLICATE_KEY),
	      "J-R6: inside an unknown top-level value");
	CHECK(parse_expect("{\"x\": 1, \"weight_map\": {}, \"x\": 2}", DSCK_E_DUPLICATE_KEY),
	      "J-R6: an unknown top-level key twice");
	CHECK(parse_expect("{\"metadata\": {\"f\": {\"k\": 1, \"k\": 2}}, \"weight_map\": {}}",
			   DSCK_E_DUPLICATE_KEY), "J-R6: inside a metadata value");
	CHECK(parse_expect("{\"metadata\": {\"total_size\": 1, \"total_size\": 1}, \"weight_map\": {}}",
			   DSCK_E_DUPLICATE_KEY), "J-R6: total_size twice");
	CHECK(parse_expect("{\"metadata\": 1, \"weight_map\": {\"t\": \"../a.safetensors\"}, \"m\": 1, \"m\": 1}",
			   DSCK_E_DUPLICATE_KEY), "J-R6 outranks IX-R3 and IX-R4");
	CHECK(parse_expect("[{\"k\": 1, \"k\": 2}]", DSCK_E_DUPLICATE_KEY),
	      "J-R6 outranks IX-R1 (top level not an object)");
	/* IX rules in rule order, whatever the document order. */
	CHECK(parse_expect("{\"metadata\": 1, \"weight_map\": {\"t\": \"../a.safetensors\", \"u\": 1}}",
			   DSCK_E_INVALID_INDEX), "IX-R2 (a value not a string) before IX-R3 and IX-R4");
	CHECK(parse_text("{\"weight_map\": {\"t\": \"../a.safetensors\", \"u\": \"a.safetensors\", "
			 "\"v\": \"/b.safetensors\"}, \"metadata\": {\"total_size\": -1}}", &idx, &err) ==
		      DSCK_E_INVALID_INDEX && strcmp(err.tensor, "metadata.total_size") == 0,
	      "IX-R3 before IX-R4, metadata after weight_map");
	CHECK(parse_text("{\"weight_map\": {\"t\": \"a.safetensors\", \"u\": \"../a.safetensors\", "
			 "\"v\": \"/b.safetensors\"}}", &idx, &err) == DSCK_E_BAD_SHARD_PATH &&
	      strcmp(err.tensor, "u") == 0, "IX-R4: the first refused shard name in weight_map order");

	/* IX-R3 */
	static const char *const bad_sizes[] = { "-1", "1.5", "\"16\"", "18446744073709551616",
						  "9007199254740994", "null", "true", "[16]" };
	for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
		char t[256];
		snprintf(t, sizeof t, "{\"metadata\": {\"total_size\": %s}, \"weight_map\": {}}",
			 bad_sizes[i]);
		CHECK(parse_expect(t, DSCK_E_INVALID_INDEX), "IX-R3: total_size %s refused",
		      bad_sizes[i]);
	}
	CHECK(parse_expect("{\"metadata\": [], \"weight_map\": {}}", DSCK_E_INVALID_INDEX),
	      "IX-R3: metadata an array");
	CHECK(parse_expect("{\"metadata\": \"x\", \"weight_map\": {}}", DSCK_E_INVALID_INDEX),
	      "IX-R3: metadata a string");

	/* IX-R4 through the parser */
	static const char *const bad_shards[] = {
		"\"/etc/passwd\"", "\"../x.safetensors\"", "\"a/../../x.safetensors\"",
		"\"..\\\\x.safetensors\"", "\"a/b.safetensors\"", "\"./a.safetensors\"",
		"\".\"", "\"..\"", "\"\"", "\"a\\n.safetensors\"", "\"x.safetensor\"",
		"\"/abs/model.safetensors\"", "\"a\\u007f.safetensors\"",
	};
	for (size_t i = 0; i < sizeof bad_shards / sizeof bad_shards[0]; i++)
		CHECK(parse_expect(wm_with_shard(bad_shards[i]), DSCK_E_BAD_SHARD_PATH),
		      "IX-R4: shard %s refused", bad_shards[i]);
	CHECK(parse_expect(wm_with_shard("\"a\\u0000.safetensors\""), DSCK_E_INVALID_JSON),
	      "J-R3: a NUL in a shard name is refused by the JSON profile");

	/* Error context names the tensor and the file. */
	CHECK(parse_text(wm_with_shard("\"../x.safetensors\""), &idx, &err) == DSCK_E_BAD_SHARD_PATH &&
	      strcmp(err.tensor, "t") == 0 && strcmp(err.file, "t.json") == 0,
	      "error names the tensor key and the file");
	CHECK(idx.entries == NULL && idx.shards == NULL && idx.n == 0,
	      "a failed parse leaves the index empty");
	dsck_index_release(&idx);
}

static void test_shard_names(void)
{
	char name[300];
	CHECK(dsck_index_check_shard_name("model.safetensors", 17) == 0, "IX-R4: plain name");
	CHECK(dsck_index_check_shard_name("model-00001-of-000163.safetensors", 33) == 0,
	      "IX-R4: upstream shard name");
	CHECK(dsck_index_check_shard_name(".safetensors", 12) == 0, "IX-R4: bare suffix is a file name");
	CHECK(dsck_index_check_shard_name("", 0) != 0, "IX-R4: empty");
	CHECK(dsck_index_check_shard_name("a.safetensors", 0) != 0, "IX-R4: length 0");
	CHECK(dsck_index_check_shard_name("a\0b.safetensors", 15) != 0, "IX-R4: embedded NUL");
	CHECK(dsck_index_check_shard_name("a\tb.safetensors", 15) != 0, "IX-R4: tab");
	CHECK(dsck_index_check_shard_name("a\\b.safetensors", 15) != 0, "IX-R4: backslash");
	CHECK(dsck_index_check_shard_name("model.SAFETENSORS", 17) != 0, "IX-R4: suffix is exact case");
	/* 255 bytes allowed, 256 refused. */
	memset(name, 'a', sizeof name);
	memcpy(name + 255 - 12, ".safetensors", 12);
	CHECK(dsck_index_check_shard_name(name, 255) == 0, "IX-R4: 255 bytes allowed");
	memset(name, 'a', sizeof name);
	memcpy(name + 256 - 12, ".safetensors", 12);
	CHECK(dsck_index_check_shard_name(name, 256) != 0, "IX-R4: 256 bytes refused");
	/* Non-ASCII UTF-8 is a plain file name. */
	CHECK(dsck_index_check_shard_name("\xc3\xa9.safetensors", 14) == 0, "IX-R4: UTF-8 allowed");
}

static void test_size_cap(void)
{
	/* L-R4: exactly 64 MiB accepted, one byte more refused before parsing. */
	size_t cap = DSCK_INDEX_MAX_BYTES;
	char *big = malloc(cap + 1);
	struct dsck_index idx;
	struct dsck_error err;
	CHECK(big != NULL, "allocate 64 MiB");
	if (!big)
		return;
	const char *doc = "{\"weight_map\": {}}";
	memset(big, ' ', cap + 1);
	memcpy(big, doc, strlen(doc));
	dsck_error_clear(&err);
	CHECK(dsck_index_parse(big, cap, "big.json", &idx, &err) == DSCK_OK,
	      "L-R4: a 64 MiB index is accepted");
	dsck_index_release(&idx);
	CHECK(dsck_index_parse(big, cap + 1, "big.json", &idx, &err) == DSCK_E_LIMIT,
	      "L-R4: 64 MiB + 1 is LIMIT");
	free(big);
}

static char *slurp(const char *path, size_t *len)
{
	char *text = NULL;
	struct dsck_error err;
	if (dsck_file_read_all(path, 1 << 20, &text, len, &err) != DSCK_OK)
		return NULL;
	return text;
}

static void test_write(void)
{
	char dir[] = "/tmp/dsck-test-index-XXXXXX";
	char path[256];
	struct dsck_error err;
	size_t len;
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);

	const char *names[] = { "model.b", "q\"\\\n\xc3\xa9\xf0\x9f\x98\x80\x7f", "model.a" };
	const uint32_t shard_of[] = { 1, 0, 0 };
	const char *shards[] = { "model-00001-of-00002.safetensors",
				 "model-00002-of-00002.safetensors" };
	const char *want =
		"{\n  \"metadata\": {\n    \"total_size\": 1234\n  },\n  \"weight_map\": {\n"
		"    \"model.a\": \"model-00001-of-00002.safetensors\",\n"
		"    \"model.b\": \"model-00002-of-00002.safetensors\",\n"
		"    \"q\\\"\\\\\\n\\u00e9\\ud83d\\ude00\\u007f\": \"model-00001-of-00002.safetensors\"\n"
		"  }\n}\n";
	dsck_error_clear(&err);
	CHECK(dsck_index_write(path, names, shard_of, 3, shards, 1234, &err) == DSCK_OK,
	      "IX-W1: write");
	char *got = slurp(path, &len);
	CHECK(got && len == strlen(want) && memcmp(got, want, len) == 0,
	      "IX-W1: bytes equal json.dumps(indent=2, sort_keys=True) + newline");
	if (got && strcmp(got, want) != 0)
		printf("# got:\n%s", got);

	/* Round trip through the reader. */
	struct dsck_index idx;
	CHECK(got && dsck_index_parse(got, len, path, &idx, &err) == DSCK_OK &&
	      idx.n == 3 && idx.n_shards == 2 && idx.total_size == 1234 &&
	      strcmp(idx.entries[2].name, names[1]) == 0 && idx.entries[2].shard == 0,
	      "IX-W1: what is written reads back");
	if (got)
		dsck_index_release(&idx);
	free(got);

	/* Empty map: Python writes {} on one line. */
	CHECK(dsck_index_write(path, NULL, NULL, 0, NULL, 0, &err) == DSCK_OK, "write empty");
	got = slurp(path, &len);
	CHECK(got && strcmp(got, "{\n  \"metadata\": {\n    \"total_size\": 0\n  },\n"
			    "  \"weight_map\": {}\n}\n") == 0, "IX-W1: empty weight_map as {}");
	free(got);

	/* Refusals leave the previous file untouched (W-R1). */
	const char *dup[] = { "a", "a" };
	const uint32_t zero[] = { 0, 0 };
	CHECK(dsck_index_write(path, dup, zero, 2, shards, 0, &err) == DSCK_E_INVALID_INDEX,
	      "writer refuses a duplicate name");
	const char *bad_shard[] = { "../x.safetensors" };
	CHECK(dsck_index_write(path, names, zero, 1, bad_shard, 0, &err) == DSCK_E_BAD_SHARD_PATH,
	      "writer refuses a shard name outside the directory (IX-R4)");
	const char *bad_utf8[] = { "\xff" };
	CHECK(dsck_index_write(path, bad_utf8, zero, 1, shards, 0, &err) == DSCK_E_INVALID_UTF8,
	      "writer refuses a name that is not UTF-8");
	got = slurp(path, &len);
	CHECK(got && strstr(got, "\"weight_map\": {}") != NULL, "old file intact after refusals");
	free(got);

	unlink(path);
	CHECK(rmdir(dir) == 0, "no temporary files left behind");
}

int main(void)
{
	test_parse_ok();
	test_parse_errors();
	test_shard_names();
	test_size_cap();
	test_write();
	return test_done();
}
