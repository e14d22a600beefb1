/*
 * fixtures.h - test inputs shared by the unit tests: the family's
 * config.json files and small files written into scratch directories.
 *
 * The configs live once, as files, in tests/fuzz/seeds/fuzz_config/ (the
 * fuzz seeds); tests read them from there, with the repository root as the
 * working directory (tests/run.sh changes to it). A fixture that cannot be
 * read or written ends the test program with exit status 1 after a "#"
 * line, which tests/run.sh counts as a failure.
 */
#ifndef DSCK_TEST_FIXTURES_H
#define DSCK_TEST_FIXTURES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURE_CONFIG_DIR "tests/fuzz/seeds/fuzz_config/"

/* The configs of formats.md §4 the tests use (values of the reference
 * notes: deepseek-v3.md §1.1 and §7). */
enum fixture_config {
	FIXTURE_671B,      /* DeepSeek-V3 / R1 671B, as published, byte for byte */
	FIXTURE_KIMI_K2,
	FIXTURE_MOONLIGHT, /* Moonlight-16B-A3B */
	FIXTURE_V2_LITE,   /* DeepSeek-V2-Lite */
	FIXTURE_MINIMAL,   /* only the CF-R2 required fields: a dense model */
	FIXTURE_CONFIG_COUNT,
};

/* Read a whole file into a new NUL-terminated buffer; exits on failure. */
static inline char *fixture_read(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	long n = -1;

	if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)n + 1)) &&
	    fread(text, 1, (size_t)n, f) == (size_t)n) {
		text[n] = '\0';
		fclose(f);
		return text;
	}
	printf("# cannot read fixture %s (run from the repository root)\n", path);
	exit(1);
}

/*
 * The text of config which, read once and kept for the life of the test
 * program (reachable, so not a leak to LeakSanitizer). The caller must not
 * free it.
 */
static inline const char *fixture_config(enum fixture_config which)
{
	static const char *const files[FIXTURE_CONFIG_COUNT] = {
		[FIXTURE_671B] = "deepseek-v3-671b.json",
		[FIXTURE_KIMI_K2] = "kimi-k2.json",
		[FIXTURE_MOONLIGHT] = "moonlight-16b-a3b.json",
		[FIXTURE_V2_LITE] = "deepseek-v2-lite.json",
		[FIXTURE_MINIMAL] = "minimal-dense.json",
	};
	static char *texts[FIXTURE_CONFIG_COUNT];
	char path[256];

	if (!texts[which]) {
		snprintf(path, sizeof path, "%s%s", FIXTURE_CONFIG_DIR, files[which]);
		texts[which] = fixture_read(path);
	}
	return texts[which];
}

/* Write n bytes as dir/name (created or truncated); exits on failure. */
static inline void fixture_write_bytes(const char *dir, const char *name,
				       const void *p, size_t n)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n) {
		printf("# cannot write %s\n", path);
		exit(1);
	}
	fclose(f);
}

static inline void fixture_write_text(const char *dir, const char *name,
				      const char *text)
{
	fixture_write_bytes(dir, name, text, strlen(text));
}

/*
 * Write dir/name as a safetensors file byte by byte, without the library's
 * writer (so reader tests do not depend on it): the 8-byte little-endian
 * length of header, header as given (unchecked, unpadded), then data_len
 * bytes of data.
 */
static inline void fixture_write_st(const char *dir, const char *name,
				    const char *header, const void *data,
				    size_t data_len)
{
	size_t hl = strlen(header), n = 8 + hl + data_len;
	unsigned char *b = malloc(n);

	if (!b) {
		printf("# out of memory writing %s\n", name);
		exit(1);
	}
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
	memcpy(b + 8, header, hl);
	if (data_len)
		memcpy(b + 8 + hl, data, data_len);
	fixture_write_bytes(dir, name, b, n);
	free(b);
}

#endif
