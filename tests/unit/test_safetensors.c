/*
 * test_safetensors.c - unit tests of lib/safetensors.c: every reader rule
 * ST-R1..ST-R16 on both sides of its boundary, error context (file, tensor,
 * file offset, expected/found), lookup and reads, the writer (ST-W1..W4)
 * round trip, refusals and atomicity, and the ST-34 truncation and ST-35
 * bit-flip sweeps of the malformed-input list (kept here rather than in the
 * corpus, which has no "any error" outcome).
 */
#include "../test.h"
#include "json.h"
#include "safetensors.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifndef TEST_ASAN
#define TEST_ASAN 0
#endif

static char tmpdir[64];

/* ---- helpers ---------------------------------------------------------- */

/* 8-byte LE n, then the header bytes, then data_len bytes 0, 1, 2, ... */
static unsigned char *st_make(const char *hdr, size_t hlen, size_t data_len,
			      size_t *out_len)
{
	unsigned char *b = malloc(8 + hlen + data_len + 1);
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
	memcpy(b + 8, hdr, hlen);
	for (size_t i = 0; i < data_len; i++)
		b[8 + hlen + i] = (unsigned char)i;
	*out_len = 8 + hlen + data_len;
	return b;
}

/* 8-byte prefix declaring n, then nothing. */
static void st_prefix(unsigned char *b, uint64_t n)
{
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(n >> (8 * i));
}

/* Parse header text + data_len data bytes from memory (exact-size copy,
 * so ASan sees any read past the end). */
static enum dsck_err parse_hdr(const char *hdr, size_t data_len,
			       struct dsck_st **out, struct dsck_error *err)
{
	size_t len;
	unsigned char *b = st_make(hdr, strlen(hdr), data_len, &len);
	unsigned char *exact = malloc(len ? len : 1);
	memcpy(exact, b, len);
	free(b);
	struct dsck_st *st = NULL;
	dsck_error_clear(err);
	enum dsck_err rc = dsck_st_parse(exact, len, len, "mem.safetensors", &st, err);
	free(exact);
	if (out)
		*out = st;
	else
		dsck_st_free(st);
	return rc;
}

/* Code of a header with no data bytes (the layout rules fail first where
 * tests use it, or the case has no tensors). */
static enum dsck_err parse_code(const char *hdr)
{
	struct dsck_error err;
	return parse_hdr(hdr, 0, NULL, &err);
}

static char *tmp_path(const char *name)
{
	static char buf[4][256];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
	return buf[k];
}

static void write_file(const char *path, const void *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (f) {
		if (n)
			fwrite(b, 1, n, f);
		fclose(f);
	}
}

static enum dsck_err open_code(const char *path, struct dsck_error *err)
{
	struct dsck_st *st = NULL;
	dsck_error_clear(err);
	enum dsck_err rc = dsck_st_open(path, &st, err);
	dsck_st_free(st);
	return rc;
}

#define T_U8(name, shape, b, e) \
	"\"" name "\":{\"dtype\":\"U8\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

/* ---- ST-R1..ST-R4: the 8-byte prefix ---------------------------------- */

static void test_prefix(void)
{
	struct dsck_error err;
	struct dsck_st *st = NULL;
	unsigned char b[64] = { 0 };

	for (size_t n = 0; n < 8; n++) {
		dsck_error_clear(&err);
		CHECK(dsck_st_parse(b, n, n, "f", &st, &err) == DSCK_E_HEADER_TOO_SMALL,
		      "ST-R1 %zu-byte file: HEADER_TOO_SMALL", n);
	}
	CHECK(strcmp(err.file, "f") == 0 && strcmp(err.found, "7 bytes") == 0,
	      "ST-R1 error names file and size (%s, %s)", err.file, err.found);
	st_prefix(b, 0);
	dsck_error_clear(&err);
	CHECK(dsck_st_parse(b, 8, 8, "f", &st, &err) == DSCK_E_INVALID_JSON,
	      "ST-R1 8-byte file, N = 0: passes the size rules, empty header is INVALID_JSON");

	/* ST-R3 boundary, decided on the 8 bytes alone (buffer of 8 bytes) */
	st_prefix(b, DSCK_ST_MAX_HEADER + 1);
	dsck_error_clear(&err);
	CHECK(dsck_st_parse(b, 8, 8 + DSCK_ST_MAX_HEADER + 1, "f", &st, &err) ==
		      DSCK_E_HEADER_TOO_LARGE,
	      "ST-R3 N = 100,000,001: HEADER_TOO_LARGE from the prefix alone");
	CHECK(err.offset == 0 && strstr(err.found, "100000001"), "ST-R3 error at byte 0, found N");
	st_prefix(b, DSCK_ST_MAX_HEADER);
	dsck_error_clear(&err);
	CHECK(dsck_st_parse(b, 8, 8 + DSCK_ST_MAX_HEADER, "f", &st, &err) ==
		      DSCK_E_INVALID_HEADER_LENGTH,
	      "ST-R3 N = 100,000,000 passes the cap (then needs the header bytes)");
	st_prefix(b, DSCK_ST_MAX_HEADER + 1);
	dsck_error_clear(&err);
	CHECK(dsck_st_parse(b, 8, 8, "f", &st, &err) == DSCK_E_HEADER_TOO_LARGE,
	      "ST-R3 N = 100,000,001 in an 8-byte file: HEADER_TOO_LARGE before ST-R4");

	/* ST-R4 and wrap-around (ST-04) */
	st_prefix(b, UINT64_MAX);
	dsck_error_clear(&err);
	CHECK(dsck_st_parse(b, 8, 8, "f", &st, &err) == DSCK_E_HEADER_TOO_LARGE,
	      "ST-04 N = 2^64-1: HEADER_TOO_LARGE");
	st_prefix(b, UINT64_MAX - 7);
	dsck_error_clear(&err);
	CHECK(dsck_st_parse(b, 8, 8, "f", &st, &err) == DSCK_E_HEADER_TOO_LARGE,
	      "ST-04 N = 2^64-8 (8 + N wraps): HEADER_TOO_LARGE");
	memcpy(b + 8, "{}      ", 8);
	st_prefix(b, 8);
	dsck_error_clear(&err);
	CHECK(dsck_st_parse(b, 16, 16, "f", &st, &err) == DSCK_OK, "ST-R4 8 + N = file size: accepted");
	dsck_st_free(st);
	st = NULL;
	st_prefix(b, 9);
	dsck_error_clear(&err);
	CHECK(dsck_st_parse(b, 16, 16, "f", &st, &err) == DSCK_E_INVALID_HEADER_LENGTH,
	      "ST-R4 8 + N = file size + 1: INVALID_HEADER_LENGTH");
	CHECK(strstr(err.expected, "17") && strstr(err.found, "16"),
	      "ST-R4 expected/found sizes (%s / %s)", err.expected, err.found);
	st_prefix(b, 8);
	dsck_error_clear(&err);
	CHECK(dsck_st_parse(b, 12, 16, "f", &st, &err) == DSCK_E_INVALID_HEADER_LENGTH,
	      "buffer shorter than 8 + N: INVALID_HEADER_LENGTH, nothing read past it");
	CHECK(st == NULL, "no result on error");
}

/* ST-R3 from a file: the cap is applied before the header buffer exists. */
static void test_prefix_file(void)
{
	struct dsck_error err;
	unsigned char b[8];
	const char *p = tmp_path("big.safetensors");

	/* sparse file of 8 + 100,000,001 bytes: refused without reading */
	int fd = open(p, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	st_prefix(b, DSCK_ST_MAX_HEADER + 1);
	CHECK(fd >= 0 && write(fd, b, 8) == 8 &&
	      ftruncate(fd, 8 + (off_t)DSCK_ST_MAX_HEADER + 1) == 0, "sparse file made");
	close(fd);
	CHECK(open_code(p, &err) == DSCK_E_HEADER_TOO_LARGE,
	      "ST-R3 file with N = 100,000,001: HEADER_TOO_LARGE");
	CHECK(strcmp(err.file, p) == 0, "ST-R3 error names the file");

#if !TEST_ASAN
	/* In a child whose address space cannot hold another 100 MB, the
	 * 100,000,001 case still says HEADER_TOO_LARGE (not NOMEM): the cap
	 * is decided before any allocation. The exact-cap file must allocate,
	 * and does get NOMEM there: the limit is real. */
	const char *q = tmp_path("cap.safetensors");
	fd = open(q, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	st_prefix(b, DSCK_ST_MAX_HEADER);
	CHECK(fd >= 0 && write(fd, b, 8) == 8 &&
	      ftruncate(fd, 8 + (off_t)DSCK_ST_MAX_HEADER) == 0, "sparse cap file made");
	close(fd);
	pid_t pid = fork();
	if (pid == 0) {
		long pages = 0;
		FILE *f = fopen("/proc/self/statm", "r");
		if (!f || fscanf(f, "%ld", &pages) != 1)
			_exit(9);
		fclose(f);
		struct rlimit rl;
		rl.rlim_cur = rl.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (48u << 20);
		if (setrlimit(RLIMIT_AS, &rl))
			_exit(8);
		struct dsck_error e;
		int bad = 0;
		if (open_code(p, &e) != DSCK_E_HEADER_TOO_LARGE)
			bad |= 1;
		if (open_code(q, &e) != DSCK_E_NOMEM)
			bad |= 2;
		_exit(bad);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "ST-R3 under a 48 MB address-space margin: 100,000,001 refused without allocating, "
	      "100,000,000 tries to allocate (child status %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	unlink(q);
#endif
	/* exactly at the cap, a real header: "{}" and spaces */
	size_t n = DSCK_ST_MAX_HEADER;
	char *hdr = malloc(n);
	memset(hdr, ' ', n);
	hdr[0] = '{';
	hdr[1] = '}';
	fd = open(p, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	st_prefix(b, n);
	CHECK(fd >= 0 && write(fd, b, 8) == 8 && write(fd, hdr, n) == (ssize_t)n,
	      "100,000,000-byte header written");
	close(fd);
	CHECK(open_code(p, &err) == DSCK_OK, "ST-R3 header of exactly 100,000,000 bytes accepted");
	free(hdr);
	unlink(p);
}

/* ---- ST-R5, ST-R6: UTF-8 and the JSON profile -------------------------- */

static void test_json_rules(void)
{
	struct dsck_error err;
	struct dsck_st *st = NULL;

	CHECK(parse_hdr("{\"a\xFF\":1}", 0, NULL, &err) == DSCK_E_INVALID_UTF8 &&
	      err.offset == 8 + 3, "ST-R5 byte 0xFF: INVALID_UTF8 at file offset 11");
	CHECK(parse_code("{\"\xC0\xAF\":1}") == DSCK_E_INVALID_UTF8, "ST-R5 overlong");
	CHECK(parse_code("{\"\xED\xA0\x80\":1}") == DSCK_E_INVALID_UTF8, "ST-R5 surrogate bytes");
	CHECK(parse_code("{\"\xF4\x90\x80\x80\":1}") == DSCK_E_INVALID_UTF8, "ST-R5 above U+10FFFF");
	CHECK(parse_code("{{\xFF") == DSCK_E_INVALID_UTF8, "ST-R5 before ST-R6");

	CHECK(parse_hdr("{", 0, NULL, &err) == DSCK_E_INVALID_JSON && err.offset == 9,
	      "ST-R6 '{': INVALID_JSON at file offset 9 (%s)", err.detail);
	CHECK(parse_code("{}x") == DSCK_E_INVALID_JSON, "ST-R6 trailing garbage");
	CHECK(parse_code("{}{}") == DSCK_E_INVALID_JSON, "ST-R6 two objects");
	CHECK(parse_code("[]") == DSCK_E_INVALID_JSON, "ST-R6 top-level array");
	CHECK(parse_code("\"s\"") == DSCK_E_INVALID_JSON, "ST-R6 top-level string");
	CHECK(parse_code("0") == DSCK_E_INVALID_JSON, "ST-R6 top-level number");
	CHECK(parse_code("null") == DSCK_E_INVALID_JSON, "ST-R6 top-level null");

	CHECK(parse_hdr(" \t\r\n{}", 0, &st, &err) == DSCK_OK && st &&
	      (st->warnings & DSCK_ST_WARN_LEADING_WS), "ST-R6 leading whitespace accepted, warned");
	dsck_st_free(st);
	CHECK(parse_hdr("{} \t\r\n", 0, &st, &err) == DSCK_OK && st && st->warnings == 0,
	      "ST-R6 trailing whitespace accepted, no warning");
	dsck_st_free(st);
	{
		size_t len;
		unsigned char *b = st_make("{}\0\0\0\0\0\0", 8, 0, &len);
		dsck_error_clear(&err);
		CHECK(dsck_st_parse(b, len, len, "f", &st, &err) == DSCK_E_INVALID_JSON &&
		      err.offset == 10, "ST-R6 NUL padding: INVALID_JSON at file offset 10");
		free(b);
	}
	CHECK(parse_code("{\"a\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}") ==
		      DSCK_E_INVALID_JSON, "ST-R6/J-R8 1.0 in shape");
	CHECK(parse_code("{\"a\":{\"dtype\":\"U8\",\"shape\":[1e0],\"data_offsets\":[0,1]}}") ==
		      DSCK_E_INVALID_JSON, "ST-R6/J-R8 1e0 in shape");
	CHECK(parse_code("{\"a\":{\"dtype\":\"U8\",\"shape\":[01],\"data_offsets\":[0,1]}}") ==
		      DSCK_E_INVALID_JSON, "ST-R6/J-R7 leading zero in shape");
	CHECK(parse_code("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,+1]}}") ==
		      DSCK_E_INVALID_JSON, "ST-R6/J-R7 '+1' in offsets");
	CHECK(parse_code("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,NaN]}}") ==
		      DSCK_E_INVALID_JSON, "ST-R6/J-R7 NaN in offsets");
	/* duplicates (J-R6) */
	CHECK(parse_hdr("{" T_U8("a", "[1]", 0, 1) "," T_U8("a", "[1]", 0, 1) "}", 1, NULL, &err) ==
		      DSCK_E_DUPLICATE_KEY && strcmp(err.tensor, "a") == 0 && err.offset == 8 + 53,
	      "J-R6 identical duplicate tensor: DUPLICATE_KEY naming it at its second key (%lld)",
	      (long long)err.offset);
	CHECK(parse_code("{\"__metadata__\":{},\"__metadata__\":{}}") == DSCK_E_DUPLICATE_KEY,
	      "J-R6 __metadata__ twice");
	CHECK(parse_code("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}") == DSCK_E_DUPLICATE_KEY,
	      "J-R6 metadata key twice");
	/* J-R6 is decided by the reader's walk, which must still rank it
	 * above every later rule and see duplicates wherever they are. */
	CHECK(parse_hdr("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"dtype\":\"U8\"}}",
			1, NULL, &err) == DSCK_E_DUPLICATE_KEY && strcmp(err.tensor, "dtype") == 0 &&
	      err.offset == 8 + 52, "J-R6 an entry key twice in a valid file, named at its second key");
	CHECK(parse_hdr("{\"a\":{\"dtype\":\"X\",\"shape\":[1],\"data_offsets\":[0,1]}," T_U8("b", "[1]", 1, 2)
			"," T_U8("\\u0062", "[1]", 2, 3) "}", 3, NULL, &err) == DSCK_E_DUPLICATE_KEY &&
	      strcmp(err.tensor, "b") == 0,
	      "J-R6 outranks an earlier entry error (ST-R8); escapes compared decoded");
	CHECK(parse_code("{\"__metadata__\":{\"k\":1}," T_U8("a", "[1]", 0, 1) "," T_U8("a", "[1]", 0, 1) "}") ==
		      DSCK_E_DUPLICATE_KEY, "J-R6 outranks an earlier metadata error (ST-R7)");
	CHECK(parse_code("{\"__metadata__\":{\"k\":{\"x\":\"1\",\"x\":\"2\"}}}") == DSCK_E_DUPLICATE_KEY,
	      "J-R6 inside a metadata value that is not a string");
	CHECK(parse_code("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],"
			 "\"z\":{\"q\":1,\"q\":1}}}") == DSCK_E_DUPLICATE_KEY,
	      "J-R6 inside the value of an unknown entry key");
	CHECK(parse_code("{\"a\":{\"dtype\":{\"q\":1,\"q\":1},\"shape\":[1],\"data_offsets\":[0,1]}}") ==
		      DSCK_E_DUPLICATE_KEY, "J-R6 inside a dtype that is an object");
	CHECK(parse_code("[{\"q\":1,\"q\":1}]") == DSCK_E_DUPLICATE_KEY,
	      "J-R6 outranks a top level that is not an object");
	CHECK(parse_code("{" T_U8("a", "[1]", 4, 5) "," T_U8("a", "[1]", 0, 1) "}") == DSCK_E_DUPLICATE_KEY,
	      "J-R6 outranks a layout error (ST-R10)");
	/* depth: the deepest valid header is 3; 64 is allowed by J-R4, 65 not */
	char deep[300];
	size_t p = 0;
	p += (size_t)sprintf(deep, "{\"__metadata__\":");
	for (int k = 0; k < 64; k++)
		deep[p++] = '[';
	for (int k = 0; k < 64; k++)
		deep[p++] = ']';
	deep[p++] = '}';
	deep[p] = '\0';
	CHECK(parse_code(deep) == DSCK_E_INVALID_JSON, "ST-30 depth 65 inside __metadata__: INVALID_JSON");
	p = (size_t)sprintf(deep, "{\"__metadata__\":");
	for (int k = 0; k < 63; k++)
		deep[p++] = '[';
	for (int k = 0; k < 63; k++)
		deep[p++] = ']';
	deep[p++] = '}';
	deep[p] = '\0';
	CHECK(parse_code(deep) == DSCK_E_INVALID_METADATA,
	      "depth 64 passes J-R4, then ST-R7 refuses the array");
}

/* ---- ST-R7: __metadata__ ----------------------------------------------- */

static void test_metadata(void)
{
	struct dsck_error err;
	struct dsck_st *st = NULL;

	CHECK(parse_hdr("{\"__metadata__\":{\"format\":\"pt\",\"e\":\"\"}}", 0, &st, &err) == DSCK_OK &&
	      st && st->n_meta == 2 && st->n_tensors == 0, "ST-R7 string metadata accepted");
	CHECK(st && strcmp(dsck_st_meta_get(st, "format"), "pt") == 0 &&
	      strcmp(dsck_st_meta_get(st, "e"), "") == 0 && !dsck_st_meta_get(st, "x"),
	      "dsck_st_meta_get finds values, NULL for an absent key");
	CHECK(st && strcmp(st->meta[0].key, "format") == 0 && strcmp(st->meta[1].key, "e") == 0,
	      "metadata kept in header order");
	dsck_st_free(st);
	CHECK(parse_code("{\"__metadata__\":{}}") == DSCK_OK, "ST-R7 empty metadata object");
	static const char *bad[] = {
		"{\"__metadata__\":{\"k\":1}}",
		"{\"__metadata__\":{\"k\":null}}",
		"{\"__metadata__\":{\"k\":{}}}",
		"{\"__metadata__\":{\"k\":[]}}",
		"{\"__metadata__\":{\"k\":true}}",
		"{\"__metadata__\":\"s\"}",
		"{\"__metadata__\":[]}",
		"{\"__metadata__\":0}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(parse_hdr(bad[i], 0, NULL, &err) == DSCK_E_INVALID_METADATA && err.offset == 9,
		      "ST-R7 %s: INVALID_METADATA at the key", bad[i]);
	/* the key is exact: other spellings are tensors */
	CHECK(parse_code("{\"__Metadata__\":{\"k\":\"v\"}}") == DSCK_E_INVALID_JSON,
	      "ST-R9 '__Metadata__' is a tensor entry (and not a valid one)");
	CHECK(parse_code("{\"__metadata__\":{\"k\":\"v\"}," T_U8("w", "[2]", 0, 2) "}") != DSCK_OK,
	      "data still required with metadata");
}

/* ---- ST-R8, ST-R9: tensor entries and names ---------------------------- */

static void test_entries(void)
{
	struct dsck_error err;
	struct dsck_st *st = NULL;
	char h[512];

	/* every dtype name with one element (sub-byte types: 8 elements) */
	for (int t = 0; t < DSCK_DTYPE_COUNT; t++) {
		unsigned bits = dsck_dtype_bits((enum dsck_dtype)t);
		unsigned n = bits % 8 ? 8 : 1;
		unsigned bytes = n * bits / 8;
		snprintf(h, sizeof h, "{\"x\":{\"dtype\":\"%s\",\"shape\":[%u],\"data_offsets\":[0,%u]}}",
			 dsck_dtype_name((enum dsck_dtype)t), n, bytes);
		CHECK(parse_hdr(h, bytes, &st, &err) == DSCK_OK && st && st->tensors[0].dtype == (enum dsck_dtype)t,
		      "ST-R8 dtype %s accepted", dsck_dtype_name((enum dsck_dtype)t));
		dsck_st_free(st);
	}
	static const char *dt_bad[] = { "\"F128\"", "\"f32\"", "\"\"", "1", "null", "[\"F32\"]", "\"F32 \"", "\"BF16\\u0000\"" };
	for (size_t i = 0; i < sizeof dt_bad / sizeof dt_bad[0]; i++) {
		snprintf(h, sizeof h, "{\"x\":{\"dtype\":%s,\"shape\":[1],\"data_offsets\":[0,4]}}", dt_bad[i]);
		enum dsck_err want = i == 7 ? DSCK_E_INVALID_JSON : DSCK_E_INVALID_DTYPE;
		CHECK(parse_hdr(h, 4, NULL, &err) == want, "ST-R8 dtype %s: %s (%s)", dt_bad[i],
		      dsck_err_name(want), err.detail);
	}
	CHECK(parse_hdr("{\"x\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, NULL, &err) ==
		      DSCK_E_INVALID_DTYPE && strcmp(err.tensor, "x") == 0 && err.offset == 9 &&
		      strstr(err.found, "F128"),
	      "ST-R8 bad dtype error: tensor, offset of its key, found value");

	/* ctx: the error names the tensor and its key (0 where the JSON scan,
	 * which knows no tensors, refuses first) */
	static const struct {
		const char *entry;
		enum dsck_err want;
		const char *what;
		int ctx;
		size_t data;
	} ent[] = {
		{ "{\"shape\":[1],\"data_offsets\":[0,1]}", DSCK_E_INVALID_JSON, "missing dtype", 1, 1 },
		{ "{\"dtype\":\"U8\",\"data_offsets\":[0,1]}", DSCK_E_INVALID_JSON, "missing shape", 1, 1 },
		{ "{\"dtype\":\"U8\",\"shape\":[1]}", DSCK_E_INVALID_JSON, "missing data_offsets", 1, 1 },
		{ "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"extra\":1}", DSCK_E_INVALID_JSON, "ST-16 unknown key", 1, 1 },
		{ "{\"dtype\":\"U8\",\"Shape\":[1],\"data_offsets\":[0,1]}", DSCK_E_INVALID_JSON, "key case matters", 1, 1 },
		{ "[]", DSCK_E_INVALID_JSON, "entry is an array", 1, 1 },
		{ "\"U8\"", DSCK_E_INVALID_JSON, "entry is a string", 1, 1 },
		{ "null", DSCK_E_INVALID_JSON, "entry is null", 1, 1 },
		{ "{\"dtype\":\"U8\",\"shape\":1,\"data_offsets\":[0,1]}", DSCK_E_INVALID_JSON, "shape not an array", 1, 1 },
		{ "{\"dtype\":\"U8\",\"shape\":[\"1\"],\"data_offsets\":[0,1]}", DSCK_E_INVALID_JSON, "shape entry a string", 1, 1 },
		{ "{\"dtype\":\"U8\",\"shape\":[null],\"data_offsets\":[0,1]}", DSCK_E_INVALID_JSON, "shape entry null", 1, 1 },
		{ "{\"dtype\":\"U8\",\"shape\":[[1]],\"data_offsets\":[0,1]}", DSCK_E_INVALID_JSON, "shape entry an array", 1, 1 },
		{ "{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}", DSCK_E_INVALID_JSON, "shape -1", 0, 1 },
		{ "{\"dtype\":\"U8\",\"shape\":[18446744073709551616],\"data_offsets\":[0,1]}", DSCK_E_INVALID_JSON, "shape 2^64", 1, 1 },
		{ "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1]}", DSCK_E_INVALID_JSON, "one offset", 1, 1 },
		{ "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}", DSCK_E_INVALID_JSON, "three offsets", 1, 1 },
		{ "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[]}", DSCK_E_INVALID_JSON, "no offsets", 1, 1 },
		{ "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,\"1\"]}", DSCK_E_INVALID_JSON, "string offset", 1, 1 },
		{ "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":{\"a\":0}}", DSCK_E_INVALID_JSON, "offsets an object", 1, 1 },
		{ "{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}", DSCK_OK, "L-R3 8 dimensions", 1, 1 },
		{ "{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}", DSCK_E_LIMIT, "L-R3 9 dimensions", 1, 1 },
		{ "{\"dtype\":\"U8\",\"shape\":[0,9007199254740992],\"data_offsets\":[0,0]}", DSCK_OK, "J-R7 dimension 2^53", 1, 0 },
		{ "{\"dtype\":\"U8\",\"shape\":[0,9007199254740993],\"data_offsets\":[0,0]}", DSCK_E_INVALID_JSON, "J-R7 dimension 2^53+1", 1, 0 },
		{ "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}", DSCK_OK, "well-formed entry", 1, 1 },
	};
	for (size_t i = 0; i < sizeof ent / sizeof ent[0]; i++) {
		snprintf(h, sizeof h, "{\"x\":%s}", ent[i].entry);
		enum dsck_err rc = parse_hdr(h, ent[i].data, NULL, &err);
		CHECK(rc == ent[i].want, "ST-R8 %s: %s (got %s: %s)", ent[i].what,
		      dsck_err_name(ent[i].want), dsck_err_name(rc), err.detail);
		if (rc != DSCK_OK && ent[i].ctx)
			CHECK(strcmp(err.tensor, "x") == 0 && err.offset == 9,
			      "ST-R8 %s: error names the tensor and its key offset", ent[i].what);
	}

	/* ST-R9 names */
	CHECK(parse_hdr("{" T_U8("", "[1]", 0, 1) "}", 1, NULL, &err) == DSCK_E_INVALID_NAME,
	      "ST-R9 empty name: INVALID_NAME");
	CHECK(parse_code("{" T_U8("a\\u0000b", "[1]", 0, 1) "}") == DSCK_E_INVALID_JSON,
	      "ST-R9/J-R3 name with \\u0000: INVALID_JSON");
	for (size_t len = DSCK_ST_MAX_NAME; len <= DSCK_ST_MAX_NAME + 1; len++) {
		char *big = malloc(len + 128);
		size_t p = 0;
		big[p++] = '{';
		big[p++] = '"';
		memset(big + p, 'n', len);
		p += len;
		p += (size_t)sprintf(big + p, "\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}");
		CHECK(parse_hdr(big, 1, &st, &err) == (len <= DSCK_ST_MAX_NAME ? DSCK_OK : DSCK_E_INVALID_JSON),
		      "ST-R9/J-R5 name of %zu bytes: %s", len, len <= DSCK_ST_MAX_NAME ? "accepted" : "refused");
		if (st)
			CHECK(st->tensors[0].name_len == len && dsck_st_find(st, big + 2, len) == 0,
			      "longest name found by lookup");
		dsck_st_free(st);
		st = NULL;
		free(big);
	}
	CHECK(parse_hdr("{\"\\u00e9\\n\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, &st, &err) ==
		      DSCK_OK && st && strcmp(st->tensors[0].name, "\xC3\xA9\n") == 0 && st->tensors[0].name_len == 3,
	      "names are unescaped UTF-8");
	dsck_st_free(st);
}

/* ---- ST-R10..ST-R16: layout --------------------------------------------- */

static void test_layout(void)
{
	struct dsck_error err;
	struct dsck_st *st = NULL;

	/* header order does not matter; tensors come back in offset order */
	CHECK(parse_hdr("{" T_U8("c", "[3]", 3, 6) "," T_U8("a", "[1]", 0, 1) "," T_U8("b", "[2]", 1, 3) "}",
			6, &st, &err) == DSCK_OK, "ST-R10 any header order");
	CHECK(st && st->n_tensors == 3 && strcmp(st->tensors[0].name, "a") == 0 &&
	      strcmp(st->tensors[1].name, "b") == 0 && strcmp(st->tensors[2].name, "c") == 0 &&
	      st->tensors[2].begin == 3 && st->tensors[2].end == 6, "tensors sorted by data offset");
	CHECK(st && st->header_len == strlen("{" T_U8("c", "[3]", 3, 6) "," T_U8("a", "[1]", 0, 1) "," T_U8("b", "[2]", 1, 3) "}") &&
	      st->data_start == 8 + st->header_len && st->data_len == 6, "header_len, data_start, data_len");
	dsck_st_free(st);

	CHECK(parse_hdr("{" T_U8("a", "[4]", 4, 8) "}", 8, NULL, &err) == DSCK_E_INVALID_OFFSET &&
	      strcmp(err.tensor, "a") == 0 && strstr(err.expected, "begin 0"),
	      "ST-R10 leading hole: INVALID_OFFSET (%s / %s)", err.expected, err.found);
	CHECK(parse_hdr("{" T_U8("a", "[4]", 0, 4) "," T_U8("b", "[4]", 5, 9) "}", 9, NULL, &err) ==
		      DSCK_E_INVALID_OFFSET && strcmp(err.tensor, "b") == 0 && strstr(err.expected, "'a'"),
	      "ST-R10 gap: names the tensor after it and the one before (%s)", err.expected);
	CHECK(parse_hdr("{" T_U8("a", "[4]", 0, 4) "," T_U8("b", "[4]", 3, 7) "}", 7, NULL, &err) ==
		      DSCK_E_INVALID_OFFSET, "ST-R10 overlap");
	CHECK(parse_hdr("{" T_U8("a", "[4]", 0, 4) "," T_U8("b", "[0]", 4, 2) "}", 4, NULL, &err) ==
		      DSCK_E_INVALID_OFFSET && strcmp(err.tensor, "b") == 0, "ST-19 begin > end");
	{
		char h[2048];
		size_t p = 0;
		p += (size_t)sprintf(h + p, "{");
		for (int k = 0; k < 10; k++)
			p += (size_t)sprintf(h + p, "%s\"t%d\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}",
					     k ? "," : "", k);
		sprintf(h + p, "}");
		CHECK(parse_code(h) == DSCK_E_INVALID_OFFSET, "ST-21 ten tensors aliasing [0,16]");
	}
	CHECK(parse_hdr("{" T_U8("z1", "[0]", 0, 0) "," T_U8("z2", "[2,0]", 0, 0) "," T_U8("a", "[2]", 0, 2) ","
			T_U8("z3", "[0]", 2, 2) "}", 2, &st, &err) == DSCK_OK,
	      "ST-R16 zero-size tensors sharing an offset are allowed");
	CHECK(st && st->n_tensors == 4 && st->tensors[3].begin == 2, "zero-size after the last tensor");
	dsck_st_free(st);
	CHECK(parse_hdr("{\"s\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, &st, &err) == DSCK_OK &&
	      st && st->tensors[0].ndim == 0 && st->tensors[0].numel == 1, "ST-R16 scalar: numel 1");
	dsck_st_free(st);
	CHECK(parse_code("{\"s\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,0]}}") ==
		      DSCK_E_TENSOR_INVALID_INFO, "scalar with 0 bytes refused");

	/* ST-R11 */
	CHECK(parse_hdr("{\"x\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 0, NULL, &err) ==
		      DSCK_E_OVERFLOW && strstr(err.found, "4294967296"), "ST-R11 numel 2^64: OVERFLOW (%s)", err.found);
	CHECK(parse_code("{\"x\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967295],\"data_offsets\":[0,18446744069414584320]}}") ==
		      DSCK_E_INVALID_JSON, "offsets above 2^53 refused (J-R7)");
	CHECK(parse_hdr("{\"x\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967295],\"data_offsets\":[0,0]}}", 0, NULL, &err) ==
		      DSCK_E_OVERFLOW && strstr(err.detail, "bit"), "ST-R11 numel 2^64-2^32 fits, x 8 bits overflows: OVERFLOW");
	CHECK(parse_code("{\"x\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,0]}}") ==
		      DSCK_E_INVALID_JSON, "dimension 2^61 is above 2^53");
	CHECK(parse_code("{\"x\":{\"dtype\":\"U8\",\"shape\":[1048576,1048576,1048576],\"data_offsets\":[0,0]}}") ==
		      DSCK_E_TENSOR_INVALID_INFO, "ST-R11 2^60 x 8 bits = 2^63 fits: then ST-R13");
	CHECK(parse_code("{\"x\":{\"dtype\":\"I16\",\"shape\":[1048576,1048576,1048576],\"data_offsets\":[0,0]}}") ==
		      DSCK_E_OVERFLOW, "ST-R11 2^60 x 16 bits = 2^64 overflows: OVERFLOW");
	/* ST-R12 */
	CHECK(parse_code("{\"x\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,1]}}") == DSCK_E_MISALIGNED,
	      "ST-R12 F4 x 3 = 12 bits: MISALIGNED");
	CHECK(parse_hdr("{\"x\":{\"dtype\":\"F4\",\"shape\":[4],\"data_offsets\":[0,2]}}", 2, NULL, &err) == DSCK_OK,
	      "ST-R12 F4 x 4 = 2 bytes");
	CHECK(parse_code("{\"x\":{\"dtype\":\"F6_E2M3\",\"shape\":[3],\"data_offsets\":[0,2]}}") == DSCK_E_MISALIGNED,
	      "ST-R12 F6 x 3 = 18 bits: MISALIGNED");
	CHECK(parse_hdr("{\"x\":{\"dtype\":\"F6_E3M2\",\"shape\":[4],\"data_offsets\":[0,3]}}", 3, NULL, &err) == DSCK_OK,
	      "ST-R12 F6 x 4 = 3 bytes");
	/* ST-R13 */
	CHECK(parse_hdr("{\"w\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,4]}}", 4, NULL, &err) ==
		      DSCK_E_TENSOR_INVALID_INFO &&
		      strcmp(err.expected, "16 bytes for I32 [2,2]") == 0 && strcmp(err.found, "4") == 0 &&
		      strcmp(err.tensor, "w") == 0 && err.offset == 9,
	      "ST-R13 I32 [2,2] in 4 bytes: expected '%s', found '%s'", err.expected, err.found);
	{
		char line[600];
		dsck_error_format(&err, line, sizeof line);
		CHECK(strstr(line, "mem.safetensors: tensor 'w': byte 9:") == line &&
		      strstr(line, "(expected 16 bytes for I32 [2,2], found 4)"),
		      "ST-R13 one-line message: %s", line);
	}
	CHECK(parse_hdr("{\"w\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,17]}}", 17, NULL, &err) ==
		      DSCK_E_TENSOR_INVALID_INFO, "ST-R13 one byte too many");
	CHECK(parse_hdr("{\"w\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, NULL, &err) == DSCK_OK,
	      "ST-R13 exact size");

	/* ST-R14 */
	CHECK(parse_hdr("{" T_U8("a", "[4]", 0, 4) "}", 5, NULL, &err) == DSCK_E_INCOMPLETE_BUFFER &&
	      strstr(err.found, "66 bytes") && strstr(err.expected, "65 (8 + 53 header + 4 data)"),
	      "ST-R14 one byte appended: INCOMPLETE_BUFFER (expected %s, found %s)", err.expected, err.found);
	CHECK(parse_hdr("{" T_U8("a", "[4]", 0, 4) "}", 3, NULL, &err) == DSCK_E_INCOMPLETE_BUFFER,
	      "ST-R14 one byte missing");
	CHECK(parse_hdr("{" T_U8("a", "[4]", 0, 4) "}", 4, NULL, &err) == DSCK_OK, "ST-R14 exact");
	CHECK(parse_hdr("{}", 1, NULL, &err) == DSCK_E_INCOMPLETE_BUFFER, "ST-R14 no tensors, one data byte");
	CHECK(parse_hdr("{}", 0, &st, &err) == DSCK_OK && st && st->n_tensors == 0 && st->data_len == 0,
	      "ST-27 {} with no data: 0 tensors");
	dsck_st_free(st);
}

/* ST-R15: one tensor over the cap is refused while scanning. The accepted
 * side at 1,000,000 tensors is test_memory_bound; 100,000 here show every
 * name is found. */
static void test_tensor_cap(void)
{
	struct dsck_error err;
	struct dsck_st *st = NULL;
	size_t n = DSCK_ST_MAX_TENSORS + 1, cap = n * 60 + 64, p = 0;
	char *h = malloc(cap);
	p += (size_t)sprintf(h + p, "{");
	for (size_t k = 0; k < n; k++)
		p += (size_t)sprintf(h + p, "%s\"%zx\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}",
				     k ? "," : "", k);
	sprintf(h + p, "}");
	CHECK(parse_hdr(h, 0, NULL, &err) == DSCK_E_LIMIT && strstr(err.expected, "1000000") &&
	      strstr(err.detail, "top-level"),
	      "ST-R15 1,000,001 tensors: LIMIT while scanning (%s)", err.detail);
	/* the same with __metadata__ (escaped, even) in front: still one too many */
	{
		const char *pre = "{\"\\u005f_metadata__\":{},";
		char *h2 = malloc(strlen(pre) + strlen(h) + 1);
		strcpy(h2, pre);
		strcat(h2, h + 1);
		CHECK(parse_hdr(h2, 0, NULL, &err) == DSCK_E_LIMIT,
		      "ST-R15 metadata (escaped) does not count, tensors do");
		free(h2);
	}
	/* with metadata, 1,000,001 members is 1,000,000 tensors: only the count decides */
	p = 0;
	p += (size_t)sprintf(h + p, "{\"__metadata__\":{}");
	for (size_t k = 0; k < 100000; k++)
		p += (size_t)sprintf(h + p, ",\"%zx\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[%zu,%zu]}",
				     k, k, k + 1);
	sprintf(h + p, "}");
	CHECK(parse_hdr(h, 100000, &st, &err) == DSCK_OK && st && st->n_tensors == 100000,
	      "100,000 tensors accepted");
	int all = st != NULL;
	for (size_t k = 0; st && k < st->n_tensors; k++) {
		char name[32];
		int len = snprintf(name, sizeof name, "%zx", k);
		long i = dsck_st_find(st, name, (size_t)len);
		all = all && i >= 0 && st->tensors[i].begin == k;
	}
	CHECK(all, "every one of 100,000 names found at its offset");
	dsck_st_free(st);
	free(h);
}

/*
 * Bounded memory: a header is read as tokens, never as a tree, so what a
 * parse allocates is its tables (112-byte tensors, the name index, one
 * arena), not a node per JSON value. Pinned in a child whose address space
 * may grow by only 3 x the header + 64 MB beyond what it holds with the
 * file in memory: 1,000,000 tensors (a 58 MB header; a cJSON tree of it
 * took about 1 GB) parse there, and so does a header of 1,000,000 tensors
 * listed out of data order, which adds the 32-byte sort keys. Skipped
 * under ASan, whose shadow memory and quarantine a limit cannot budget.
 */
#if !TEST_ASAN
static int mem_child_parse(int shuffled)
{
	size_t n = DSCK_ST_MAX_TENSORS, cap = n * 80 + 64, p = 0; /* entries <= 70 bytes */
	char *h = malloc(cap);
	if (!h)
		return 10;
	h[p++] = '{';
	for (size_t k = 0; k < n; k++) {
		/* shuffled: tensor k holds bytes [j, j+1) for j a permutation of k */
		size_t j = shuffled ? (k * 7919) % n : k;
		p += (size_t)snprintf(h + p, cap - p,
				      "%s\"%zx\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[%zu,%zu]}",
				      k ? "," : "", k, j, j + 1);
	}
	h[p++] = '}';
	size_t len;
	unsigned char *b = st_make(h, p, n, &len);
	free(h);
	long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!b || !f || fscanf(f, "%ld", &pages) != 1)
		return 9;
	fclose(f);
	struct rlimit rl;
	rl.rlim_cur = rl.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) +
				    3 * (rlim_t)p + (64u << 20);
	if (setrlimit(RLIMIT_AS, &rl))
		return 8;
	struct dsck_st *st = NULL;
	struct dsck_error e;
	dsck_error_clear(&e);
	if (dsck_st_parse(b, len, len, NULL, &st, &e) != DSCK_OK)
		return 1;
	if (st->n_tensors != n || st->tensors[n - 1].end != n ||
	    dsck_st_find(st, "f423f", 5) != (long)(shuffled ? (size_t)999999 * 7919 % n : 999999))
		return 2;
	dsck_st_free(st);
	free(b);
	return 0;
}
#endif

static void test_memory_bound(void)
{
#if !TEST_ASAN
	for (int shuffled = 0; shuffled <= 1; shuffled++) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0)
			_exit(mem_child_parse(shuffled));
		int status = -1;
		waitpid(pid, &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "1,000,000 tensors%s parse within 3 x header + 64 MB of address space "
		      "(child status %d)", shuffled ? " out of data order" : "",
		      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
#endif
}

/* ---- lookup, reads, open_at ------------------------------------------- */

static void test_lookup_read(void)
{
	struct dsck_error err;
	struct dsck_st *st = NULL;
	const char *hdr = "{\"__metadata__\":{\"format\":\"pt\"},"
			  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]},"
			  "\"a\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]},"
			  "\"ab\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[12,12]}}";
	size_t len;
	unsigned char *b = st_make(hdr, strlen(hdr), 12, &len);
	const char *path = tmp_path("lk.safetensors");
	write_file(path, b, len);

	dsck_error_clear(&err);
	CHECK(dsck_st_open(path, &st, &err) == DSCK_OK && st, "open a 3-tensor file");
	if (!st) {
		free(b);
		return;
	}
	CHECK(dsck_st_find(st, "a", 1) == 0 && dsck_st_find(st, "b", 1) == 1 && dsck_st_find(st, "ab", 2) == 2,
	      "dsck_st_find gives offset-order indices");
	CHECK(dsck_st_find(st, "c", 1) == -1 && dsck_st_find(st, "ab", 1) == 0 &&
	      dsck_st_find(st, "abc", 3) == -1 && dsck_st_find(st, "__metadata__", 12) == -1,
	      "dsck_st_find: absent names -1, length respected, metadata is no tensor");
	CHECK(dsck_st_find(NULL, "a", 1) == -1, "dsck_st_find(NULL)");
	CHECK(strcmp(dsck_st_meta_get(st, "format"), "pt") == 0, "metadata read from file");
	CHECK(st->file.fd >= 0 && st->file.size == len, "file kept open with its size");

	unsigned char buf[16];
	memset(buf, 0xAA, sizeof buf);
	dsck_error_clear(&err);
	CHECK(dsck_st_read(st, 1, 0, buf, 8, &err) == DSCK_OK &&
	      memcmp(buf, b + 8 + strlen(hdr) + 4, 8) == 0, "dsck_st_read whole tensor b");
	CHECK(dsck_st_read(st, 1, 3, buf, 5, &err) == DSCK_OK &&
	      memcmp(buf, b + 8 + strlen(hdr) + 7, 5) == 0, "dsck_st_read tail at an offset");
	CHECK(dsck_st_read(st, 1, 3, buf, 0, &err) == DSCK_OK, "zero-length read");
	CHECK(dsck_st_read(st, 2, 0, buf, 0, &err) == DSCK_OK, "zero-length read of a zero-size tensor");
	dsck_error_clear(&err);
	CHECK(dsck_st_read(st, 1, 4, buf, 5, &err) == DSCK_E_USAGE && strcmp(err.tensor, "b") == 0,
	      "read one byte past the tensor: USAGE naming it");
	CHECK(dsck_st_read(st, 1, UINT64_MAX, buf, 2, &err) == DSCK_E_USAGE, "read offset wrap refused");
	CHECK(dsck_st_read(st, 3, 0, buf, 1, &err) == DSCK_E_USAGE, "tensor index out of range");
	dsck_st_free(st);

	/* parsed from memory: no file to read */
	dsck_error_clear(&err);
	CHECK(dsck_st_parse(b, len, len, NULL, &st, &err) == DSCK_OK && st->file.fd < 0, "parse from memory");
	CHECK(dsck_st_read(st, 0, 0, buf, 4, &err) == DSCK_E_USAGE, "read from a memory parse: USAGE");
	dsck_st_free(st);
	dsck_st_free(NULL);

	/* open_at: regular file yes, symlink no (IX-R5) */
	int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	const char *link = tmp_path("link.safetensors");
	CHECK(symlink(path, link) == 0, "symlink made");
	dsck_error_clear(&err);
	CHECK(dsck_st_open_at(dfd, "lk.safetensors", "dir/lk.safetensors", &st, &err) == DSCK_OK && st,
	      "dsck_st_open_at on a regular file");
	CHECK(st && strcmp(st->file.path, "dir/lk.safetensors") == 0, "display name kept");
	dsck_st_free(st);
	dsck_error_clear(&err);
	CHECK(dsck_st_open_at(dfd, "link.safetensors", "dir/link.safetensors", &st, &err) == DSCK_E_BAD_SHARD_PATH &&
	      st == NULL, "dsck_st_open_at refuses a symlink: BAD_SHARD_PATH");
	dsck_error_clear(&err);
	CHECK(dsck_st_open_at(dfd, "none.safetensors", "none", &st, &err) == DSCK_E_NOT_FOUND,
	      "dsck_st_open_at on a missing file: NOT_FOUND");
	close(dfd);
	unlink(link);
	/* a file with an error: path in the message */
	b[8 + 1] = 'X';
	write_file(path, b, len);
	CHECK(open_code(path, &err) == DSCK_E_INVALID_JSON && strcmp(err.file, path) == 0 && err.offset == 9,
	      "open error names the file, offset in the file");
	write_file(path, b, 5);
	CHECK(open_code(path, &err) == DSCK_E_HEADER_TOO_SMALL, "5-byte file: HEADER_TOO_SMALL via open");
	free(b);
	unlink(path);
}

/* ---- writer ----------------------------------------------------------- */

static int dir_has_tmp(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	int found = 0;
	while (d && (e = readdir(d)))
		if (strstr(e->d_name, ".dsck-tmp-"))
			found = 1;
	if (d)
		closedir(d);
	return found;
}

static unsigned char *read_whole(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b = NULL;
	long sz;
	*n = 0;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)sz + 1);
	if (fread(b, 1, (size_t)sz, f) != (size_t)sz) {
		free(b);
		b = NULL;
	} else {
		*n = (size_t)sz;
	}
	fclose(f);
	return b;
}

static void test_writer(void)
{
	struct dsck_error err;
	struct dsck_stw stw;
	struct dsck_st *st = NULL;
	const char *path = tmp_path("w.safetensors");
	struct dsck_st_spec specs[] = {
		{ "weight", DSCK_U8, 2, { 3, 5 } },
		{ "bias", DSCK_F32, 1, { 5 } },
		{ "scalar", DSCK_I64, 0, { 0 } },
		{ "empty", DSCK_F16, 2, { 0, 7 } },
		{ "a.scale", DSCK_F32, 1, { 2 } },
		{ "q\"u\\o\te\x01", DSCK_BF16, 1, { 3 } },
	};
	size_t n = sizeof specs / sizeof specs[0];
	const char *kv[] = { "format", "pt" };

	dsck_error_clear(&err);
	CHECK(dsck_stw_open(&stw, path, specs, n, kv, 1, 0, &err) == DSCK_OK, "writer opens");
	/* ST-W2 order: I64 (rank 20), F32 (17: a.scale < bias), BF16, F16, U8 */
	static const char *want[] = { "scalar", "a.scale", "bias", "q\"u\\o\te\x01", "empty", "weight" };
	int ord_ok = stw.n == n;
	for (size_t k = 0; k < n && ord_ok; k++)
		ord_ok = strcmp(specs[stw.order[k]].name, want[k]) == 0;
	CHECK(ord_ok, "ST-W2 order: rank descending, then name");
	CHECK(stw.data_start % 8 == 0, "ST-W1 data start is a multiple of 8");
	/* stream each tensor's bytes: byte j of tensor i is (i * 31 + j) */
	uint64_t total = 0;
	for (size_t k = 0; k < n; k++) {
		size_t i = stw.order[k];
		CHECK(stw.begin[i] == total, "tensor %s begins at %llu", specs[i].name, (unsigned long long)total);
		uint64_t sz = stw.end[i] - stw.begin[i];
		for (uint64_t j = 0; j < sz; j++) {
			unsigned char c = (unsigned char)(i * 31 + j);
			if (dsck_stw_write(&stw, &c, 1, &err) != DSCK_OK)
				break;
		}
		total += sz;
	}
	CHECK(total == 8 + 20 + 8 + 6 + 0 + 15, "data total %llu", (unsigned long long)total);
	CHECK(access(path, F_OK) != 0, "W-R1 nothing under the final name before commit");
	unsigned char extra = 0;
	CHECK(dsck_stw_write(&stw, &extra, 1, &err) == DSCK_E_USAGE, "ST-W4 writing past the data: USAGE");
	CHECK(dsck_stw_commit(&stw, &err) == DSCK_OK, "commit");
	CHECK(!dir_has_tmp(), "no temporary file left after commit");

	/* read back */
	dsck_error_clear(&err);
	CHECK(dsck_st_open(path, &st, &err) == DSCK_OK && st, "written file opens (%s)", err.detail);
	if (st) {
		int ok = st->n_tensors == n;
		for (size_t i = 0; i < n && ok; i++) {
			long k = dsck_st_find(st, specs[i].name, strlen(specs[i].name));
			ok = k >= 0 && st->tensors[k].dtype == specs[i].dtype && st->tensors[k].ndim == specs[i].ndim;
			for (uint32_t d = 0; ok && d < specs[i].ndim; d++)
				ok = st->tensors[k].shape[d] == specs[i].shape[d];
			uint64_t sz = ok ? st->tensors[k].end - st->tensors[k].begin : 0;
			unsigned char buf[64];
			if (ok && sz && dsck_st_read(st, (size_t)k, 0, buf, (size_t)sz, &err) != DSCK_OK)
				ok = 0;
			for (uint64_t j = 0; ok && j < sz; j++)
				ok = buf[j] == (unsigned char)(i * 31 + j);
		}
		CHECK(ok, "round trip: names, dtypes, shapes, data");
		CHECK(strcmp(dsck_st_meta_get(st, "format"), "pt") == 0 && st->n_meta == 1, "round trip: metadata");
		CHECK(st->warnings == 0, "written header starts with '{'");
		dsck_st_free(st);
	}
	/* header_build gives the same bytes as the file's start */
	char *hb = NULL;
	size_t hb_len = 0;
	size_t order[6];
	uint64_t bg[6], en[6];
	CHECK(dsck_st_header_build(specs, n, kv, 1, &hb, &hb_len, order, bg, en, &err) == DSCK_OK,
	      "dsck_st_header_build");
	size_t flen;
	unsigned char *file = read_whole(path, &flen);
	CHECK(file && hb && flen == hb_len + total && memcmp(file, hb, hb_len) == 0,
	      "header_build bytes equal the written header");
	size_t close = hb_len;
	while (hb && close > 8 && hb[close - 1] == ' ')
		close--;
	CHECK(hb && hb_len % 8 == 0 && hb[close - 1] == '}' && hb_len - close < 8 &&
	      memcmp(hb + 8, "{\"__metadata__\":{\"format\":\"pt\"},\"scalar\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},", 89) == 0,
	      "ST-W1 compact, metadata first, padded with spaces");
	CHECK(hb && strstr(hb + 8, "\"q\\\"u\\\\o\\te\\u0001\":{\"dtype\":\"BF16\""),
	      "names JSON-escaped like serde_json");
	CHECK(hb && strstr(hb + 8, "\"empty\":{\"dtype\":\"F16\",\"shape\":[0,7],\"data_offsets\":[42,42]}"),
	      "zero-size tensor at the running offset");
	free(hb);
	free(file);
	/* NULL output arrays are allowed */
	CHECK(dsck_st_header_build(specs, n, NULL, 0, &hb, &hb_len, NULL, NULL, NULL, &err) == DSCK_OK &&
	      memcmp(hb + 8, "{\"scalar\"", 9) == 0, "header without metadata, NULL tables");
	free(hb);
	unlink(path);

	/* no tensors, no metadata: the reference's 16 bytes */
	CHECK(dsck_st_header_build(NULL, 0, NULL, 0, &hb, &hb_len, NULL, NULL, NULL, &err) == DSCK_OK &&
	      hb_len == 16 && memcmp(hb, "\x08\0\0\0\0\0\0\0{}      ", 16) == 0, "empty file is '{}' + 6 spaces");
	free(hb);
	/* metadata only (ST-27, safetensors#466) */
	CHECK(dsck_stw_open(&stw, path, NULL, 0, kv, 1, 0, &err) == DSCK_OK &&
	      dsck_stw_commit(&stw, &err) == DSCK_OK, "metadata-only file written");
	dsck_error_clear(&err);
	CHECK(dsck_st_open(path, &st, &err) == DSCK_OK && st && st->n_tensors == 0 &&
	      strcmp(dsck_st_meta_get(st, "format"), "pt") == 0, "metadata-only file reads back");
	dsck_st_free(st);
	unlink(path);
}

static void test_writer_refusals(void)
{
	struct dsck_error err;
	struct dsck_stw stw;
	const char *path = tmp_path("r.safetensors");
	char *hb = NULL;
	size_t hl;
	struct {
		struct dsck_st_spec s[2];
		size_t n;
		enum dsck_err want;
		const char *what;
	} cases[] = {
		{ { { "__metadata__", DSCK_U8, 1, { 1 } } }, 1, DSCK_E_INVALID_NAME, "ST-W3 name __metadata__" },
		{ { { "", DSCK_U8, 1, { 1 } } }, 1, DSCK_E_INVALID_NAME, "ST-W3 empty name" },
		{ { { NULL, DSCK_U8, 1, { 1 } } }, 1, DSCK_E_INVALID_NAME, "ST-W3 NULL name" },
		{ { { "a", DSCK_U8, 1, { 1 } }, { "a", DSCK_F32, 1, { 1 } } }, 2, DSCK_E_DUPLICATE_KEY, "ST-W3 duplicate name" },
		{ { { "a\xFF", DSCK_U8, 1, { 1 } } }, 1, DSCK_E_INVALID_UTF8, "name not UTF-8" },
		{ { { "a", DSCK_DTYPE_COUNT, 1, { 1 } } }, 1, DSCK_E_INVALID_DTYPE, "dtype out of range" },
		{ { { "a", DSCK_U8, 9, { 1, 1, 1, 1, 1, 1, 1, 1 } } }, 1, DSCK_E_LIMIT, "9 dimensions" },
		{ { { "a", DSCK_F4, 1, { 3 } } }, 1, DSCK_E_MISALIGNED, "F4 x 3" },
		{ { { "a", DSCK_U8, 2, { 1ull << 32, 1ull << 32 } } }, 1, DSCK_E_OVERFLOW, "numel overflow" },
		{ { { "a", DSCK_U8, 1, { (1ull << 53) + 1 } } }, 1, DSCK_E_LIMIT, "dimension above 2^53" },
		{ { { "a", DSCK_U8, 1, { 1ull << 53 } }, { "b", DSCK_U8, 1, { 1 } } }, 2, DSCK_E_LIMIT, "offsets above 2^53" },
		{ { { "a", DSCK_U8, 1, { 1ull << 53 } } }, 1, DSCK_OK, "offsets up to 2^53" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		dsck_error_clear(&err);
		enum dsck_err rc = dsck_st_header_build(cases[i].s, cases[i].n, NULL, 0, &hb, &hl, NULL, NULL, NULL, &err);
		CHECK(rc == cases[i].want, "%s: %s (got %s: %s)", cases[i].what, dsck_err_name(cases[i].want),
		      dsck_err_name(rc), err.detail);
		CHECK((rc == DSCK_OK) == (hb != NULL), "%s: buffer iff OK", cases[i].what);
		free(hb);
		hb = NULL;
	}
	const char *dup_kv[] = { "k", "1", "k", "2" };
	struct dsck_st_spec one = { "a", DSCK_U8, 1, { 1 } };
	CHECK(dsck_st_header_build(&one, 1, dup_kv, 2, &hb, &hl, NULL, NULL, NULL, &err) == DSCK_E_DUPLICATE_KEY,
	      "duplicate metadata key refused");
	const char *null_kv[] = { "k", NULL };
	CHECK(dsck_st_header_build(&one, 1, null_kv, 1, &hb, &hl, NULL, NULL, NULL, &err) == DSCK_E_USAGE,
	      "NULL metadata value refused");
	/* a refused open leaves nothing */
	struct dsck_st_spec dup[2] = { { "a", DSCK_U8, 1, { 1 } }, { "a", DSCK_U8, 1, { 1 } } };
	dsck_error_clear(&err);
	CHECK(dsck_stw_open(&stw, path, dup, 2, NULL, 0, 0, &err) == DSCK_E_DUPLICATE_KEY &&
	      strcmp(err.file, path) == 0 && strcmp(err.tensor, "a") == 0, "refused open names file and tensor");
	CHECK(access(path, F_OK) != 0 && !dir_has_tmp(), "refused open leaves no file");

	/* commit with bytes missing: error, nothing committed */
	struct dsck_st_spec two[2] = { { "a", DSCK_U8, 1, { 4 } }, { "b", DSCK_U8, 1, { 4 } } };
	CHECK(dsck_stw_open(&stw, path, two, 2, NULL, 0, 0, &err) == DSCK_OK, "open for a short write");
	CHECK(dsck_stw_write(&stw, "abcdefg", 7, &err) == DSCK_OK, "7 of 8 bytes written");
	dsck_error_clear(&err);
	CHECK(dsck_stw_commit(&stw, &err) != DSCK_OK && strstr(err.found, "7") && strstr(err.expected, "8"),
	      "ST-W4 commit with a byte missing fails (expected %s, found %s)", err.expected, err.found);
	CHECK(access(path, F_OK) != 0 && !dir_has_tmp(), "W-R1 failed commit leaves no final or temporary file");
	/* abort */
	CHECK(dsck_stw_open(&stw, path, two, 2, NULL, 0, 0, &err) == DSCK_OK &&
	      dsck_stw_write(&stw, "abcdefgh", 8, &err) == DSCK_OK, "open and write all for abort");
	/* fd 0 open for the test below (a lone /dev/null takes the lowest fd) */
	int null_fd = fcntl(0, F_GETFD) == -1 ? open("/dev/null", O_RDONLY) : -1;
	dsck_stw_abort(&stw);
	CHECK(access(path, F_OK) != 0 && !dir_has_tmp(), "W-R1 abort leaves no final or temporary file");
	CHECK(stw.w.fd == -1 && stw.w.tmp_path == NULL && stw.order == NULL && stw.n == 0,
	      "abort leaves a never-opened writer (fd -1, not 0)");
	dsck_stw_abort(&stw); /* twice is harmless */
	CHECK(stw.w.fd == -1 && fcntl(0, F_GETFD) != -1,
	      "a second abort is harmless: fd 0 is still open");
	if (null_fd >= 0)
		close(null_fd);
	/* an existing file is replaced only on commit */
	write_file(path, "old", 3);
	CHECK(dsck_stw_open(&stw, path, two, 2, NULL, 0, 0, &err) == DSCK_OK, "open over an existing file");
	dsck_stw_abort(&stw);
	size_t n;
	unsigned char *b = read_whole(path, &n);
	CHECK(b && n == 3 && memcmp(b, "old", 3) == 0, "abort keeps the previous file intact");
	free(b);
	unlink(path);
	/* a directory that does not exist */
	dsck_error_clear(&err);
	CHECK(dsck_stw_open(&stw, "/nonexistent-dsck-dir/x.safetensors", two, 2, NULL, 0, 0, &err) ==
		      DSCK_E_NOT_FOUND, "open in a missing directory: NOT_FOUND");
}

static void test_writer_sparse(void)
{
	struct dsck_error err;
	struct dsck_stw stw;
	struct dsck_st *st = NULL;
	const char *path = tmp_path("s.safetensors");
	struct dsck_st_spec specs[] = {
		{ "big", DSCK_F32, 2, { 1024, 1024 } },
		{ "small", DSCK_U8, 1, { 3 } },
	};
	dsck_error_clear(&err);
	CHECK(dsck_stw_open(&stw, path, specs, 2, NULL, 0, 1, &err) == DSCK_OK, "sparse writer opens");
	CHECK(dsck_stw_write(&stw, "x", 1, &err) == DSCK_E_USAGE, "sparse writer takes no data");
	uint64_t want = stw.total_size;
	CHECK(dsck_stw_commit(&stw, &err) == DSCK_OK, "sparse commit");
	struct stat sb;
	CHECK(stat(path, &sb) == 0 && (uint64_t)sb.st_size == want, "SY-R4 sparse file has the full size");
	CHECK(sb.st_blocks * 512 < 1024 * 1024, "SY-R4 data are holes (%lld blocks)", (long long)sb.st_blocks);
	CHECK(dsck_st_open(path, &st, &err) == DSCK_OK && st, "sparse file opens");
	unsigned char buf[4096];
	memset(buf, 1, sizeof buf);
	CHECK(st && dsck_st_read(st, 0, 4 * 1024 * 1024 - sizeof buf, buf, sizeof buf, &err) == DSCK_OK,
	      "sparse read");
	int zero = 1;
	for (size_t i = 0; i < sizeof buf; i++)
		zero = zero && buf[i] == 0;
	CHECK(zero, "holes read back as zeros");
	dsck_st_free(st);
	unlink(path);
}

/* ---- ST-34, ST-35: sweeps ------------------------------------------------ */

static void test_sweeps(void)
{
	const char *hdr = "{\"__metadata__\":{\"format\":\"pt\"},"
			  "\"emb\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
			  "\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[12,16]},"
			  "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[16,20]}}";
	size_t len;
	unsigned char *b = st_make(hdr, strlen(hdr), 20, &len);
	struct dsck_error err;
	struct dsck_st *st = NULL;

	dsck_error_clear(&err);
	CHECK(dsck_st_parse(b, len, len, NULL, &st, &err) == DSCK_OK, "sweep base file is valid");
	dsck_st_free(st);

	/* ST-34: every cut 0..len-1, in memory (exact-size buffer) and, for a
	 * sample of cuts, through a file */
	int all_err = 1, no_result = 1;
	for (size_t cut = 0; cut < len; cut++) {
		unsigned char *c = malloc(cut ? cut : 1);
		memcpy(c, b, cut);
		st = NULL;
		dsck_error_clear(&err);
		enum dsck_err rc = dsck_st_parse(c, cut, cut, NULL, &st, &err);
		if (rc == DSCK_OK)
			all_err = 0;
		if (st)
			no_result = 0;
		dsck_st_free(st);
		free(c);
	}
	CHECK(all_err && no_result, "ST-34 every one of %zu truncations is an error", len);
	const char *path = tmp_path("cut.safetensors");
	int file_err = 1;
	for (size_t cut = 0; cut < len; cut += 7) {
		write_file(path, b, cut);
		if (open_code(path, &err) == DSCK_OK || err.code == DSCK_OK)
			file_err = 0;
	}
	CHECK(file_err, "ST-34 truncated files (every 7th cut) are errors");
	unlink(path);

	/* ST-35: each byte of prefix and header XOR 0xFF; OK or a clean error */
	size_t ok = 0, bad = 0;
	int sane = 1;
	for (size_t i = 0; i < 8 + strlen(hdr); i++) {
		unsigned char *c = malloc(len);
		memcpy(c, b, len);
		c[i] ^= 0xFF;
		st = NULL;
		dsck_error_clear(&err);
		enum dsck_err rc = dsck_st_parse(c, len, len, NULL, &st, &err);
		if (rc == DSCK_OK) {
			ok++;
			sane = sane && st != NULL;
		} else {
			bad++;
			sane = sane && st == NULL && err.code == rc && err.detail[0] != '\0';
		}
		dsck_st_free(st);
		free(c);
	}
	CHECK(sane, "ST-35 bit flips: %zu accepted, %zu refused, each refusal with a code and a detail",
	      ok, bad);
	free(b);
}

int main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/dsck-test-st-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_prefix();
	test_prefix_file();
	test_json_rules();
	test_metadata();
	test_entries();
	test_layout();
	test_tensor_cap();
	test_memory_bound();
	test_lookup_read();
	test_writer();
	test_writer_refusals();
	test_writer_sparse();
	test_sweeps();
	rmdir(tmpdir);
	return test_done();
}
