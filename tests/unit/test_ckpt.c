/*
 * test_ckpt.c - opening checkpoints: directory with and without an index,
 * an index path, a single file; the cross-checks IX-R5..IX-R9; reads.
 * Fixtures are written byte by byte here (8-byte LE length + header + data)
 * so these tests do not depend on the safetensors writer.
 */
#include "ckpt.h"
#include "../test.h"
#include "fixtures.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[] = "/tmp/dsck-test-ckpt-XXXXXX";
static int case_no;

/* A fresh empty directory under root; returns a static path. */
static const char *new_dir(void)
{
	static char path[512];
	snprintf(path, sizeof path, "%s/c%d", root, ++case_no);
	mkdir(path, 0755);
	return path;
}

/* A safetensors file: header as given, then data_len bytes where byte i of
 * the data is (seed + i * 7) & 0xff. */
static void write_st(const char *dir, const char *name, const char *header,
		     size_t data_len, unsigned seed)
{
	unsigned char *data = malloc(data_len ? data_len : 1);
	if (!data) {
		printf("# out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < data_len; i++)
		data[i] = (unsigned char)(seed + i * 7);
	fixture_write_st(dir, name, header, data, data_len);
	free(data);
}

/* Shard A: a F32[2] (8 bytes), b I8[3] (3 bytes). Shard B: c BF16[2,2]. */
#define HDR_A "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," \
	      "\"b\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[8,11]}}"
#define HDR_B "{\"c\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}"
#define HDR_A_C "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," \
		"\"c\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[8,11]}}"
#define SH_A "model-00001-of-00002.safetensors"
#define SH_B "model-00002-of-00002.safetensors"
#define IX_AB "{\"metadata\":{\"total_size\":19},\"weight_map\":{\"a\":\"" SH_A "\"," \
	      "\"b\":\"" SH_A "\",\"c\":\"" SH_B "\"}}"

static void two_shards(const char *d, const char *index)
{
	write_st(d, SH_A, HDR_A, 11, 1);
	write_st(d, SH_B, HDR_B, 8, 2);
	if (index)
		fixture_write_text(d, "model.safetensors.index.json", index);
}

static enum dsck_err open_expect(const char *path, enum dsck_err want,
				 struct dsck_error *err)
{
	struct dsck_ckpt *ck = NULL;
	dsck_error_clear(err);
	enum dsck_err rc = dsck_ckpt_open(path, &ck, err);
	if (rc != want) {
		char line[1200];
		dsck_error_format(err, line, sizeof line);
		printf("#   got %s: %s; want %s\n", dsck_err_name(rc), line, dsck_err_name(want));
	}
	if (rc == DSCK_OK)
		dsck_ckpt_close(ck);
	else
		CHECK(ck == NULL, "no ckpt handed out on error");
	return rc;
}

static void test_index_dir(void)
{
	struct dsck_ckpt *ck = NULL;
	struct dsck_error err;
	const char *d = new_dir();
	char path[1024];
	two_shards(d, IX_AB);

	dsck_error_clear(&err);
	CHECK(dsck_ckpt_open(d, &ck, &err) == DSCK_OK, "directory with an index opens");
	if (!ck)
		return;
	CHECK(ck->has_index && !ck->has_config, "index used, no config");
	CHECK_EQ_U64(ck->n_shards, 2, "two shards");
	CHECK_EQ_U64(ck->n, 3, "three tensors");
	CHECK(ck->n == 3 && strcmp(ck->tensors[0].t->name, "a") == 0 &&
	      strcmp(ck->tensors[1].t->name, "b") == 0 && strcmp(ck->tensors[2].t->name, "c") == 0,
	      "tensor table sorted by name");
	CHECK_EQ_U64(ck->payload_bytes, 19, "payload bytes");
	CHECK_EQ_U64(ck->header_bytes, (8 + strlen(HDR_A)) + (8 + strlen(HDR_B)), "header bytes");
	CHECK_EQ_U64(ck->file_bytes, ck->header_bytes + 19, "file bytes");
	const struct dsck_ckpt_tensor *c = dsck_ckpt_find(ck, "c", 1);
	CHECK(c && c->shard == 1 && strcmp(ck->shard_names[c->shard], SH_B) == 0,
	      "find c in shard B");
	CHECK(dsck_ckpt_find(ck, "zz", 2) == NULL, "find an absent name");
	unsigned char buf[8];
	CHECK(c && dsck_ckpt_read(ck, c, 0, buf, 8, &err) == DSCK_OK && buf[0] == 2 && buf[1] == 9,
	      "read c's bytes from its shard");
	const struct dsck_ckpt_tensor *b = dsck_ckpt_find(ck, "b", 1);
	CHECK(b && dsck_ckpt_read(ck, b, 1, buf, 2, &err) == DSCK_OK &&
	      buf[0] == (unsigned char)(1 + 9 * 7) && buf[1] == (unsigned char)(1 + 10 * 7),
	      "read inside b at an offset");
	CHECK(b && dsck_ckpt_read(ck, b, 2, buf, 2, &err) != DSCK_OK,
	      "a read past the tensor's end is refused");
	dsck_ckpt_close(ck);

	/* The same directory through its index path. */
	snprintf(path, sizeof path, "%s/model.safetensors.index.json", d);
	ck = NULL;
	CHECK(dsck_ckpt_open(path, &ck, &err) == DSCK_OK && ck && ck->n == 3 && ck->has_index,
	      "an index path opens its directory");
	dsck_ckpt_close(ck);

	/* A single file. */
	snprintf(path, sizeof path, "%s/%s", d, SH_B);
	ck = NULL;
	CHECK(dsck_ckpt_open(path, &ck, &err) == DSCK_OK && ck && ck->n == 1 &&
	      !ck->has_index && ck->n_shards == 1 && strcmp(ck->shard_names[0], SH_B) == 0,
	      "a single .safetensors file is the whole checkpoint");
	dsck_ckpt_close(ck);

	/* Relative path without a slash: a single file in the current dir. */
	char cwd[1024];
	if (getcwd(cwd, sizeof cwd) && chdir(d) == 0) {
		ck = NULL;
		CHECK(dsck_ckpt_open(SH_A, &ck, &err) == DSCK_OK && ck && ck->n == 2,
		      "a bare file name opens");
		dsck_ckpt_close(ck);
		CHECK(chdir(cwd) == 0, "back to the old directory");
	}

	snprintf(path, sizeof path, "%s/nope", d);
	open_expect(path, DSCK_E_NOT_FOUND, &err);
	CHECK(err.code == DSCK_E_NOT_FOUND, "a missing path is NOT_FOUND");
	fixture_write_text(d, "notes.md", "x");
	snprintf(path, sizeof path, "%s/notes.md", d);
	CHECK(open_expect(path, DSCK_E_USAGE, &err) == DSCK_E_USAGE,
	      "a file that is neither index nor shard is USAGE");
}

static void test_config(void)
{
	struct dsck_ckpt *ck = NULL;
	struct dsck_error err;
	const char *d = new_dir();
	two_shards(d, IX_AB);
	fixture_write_text(d, "config.json",
		   "{\"model_type\": \"deepseek_v3\", \"vocab_size\": 1024, \"hidden_size\": 64,"
		   " \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
		   " \"intermediate_size\": 128, \"kv_lora_rank\": 16, \"q_lora_rank\": null,"
		   " \"qk_nope_head_dim\": 16, \"qk_rope_head_dim\": 8, \"v_head_dim\": 16}");
	dsck_error_clear(&err);
	enum dsck_err rc = dsck_ckpt_open(d, &ck, &err);
	if (rc) {
		char line[1200];
		dsck_error_format(&err, line, sizeof line);
		printf("# %s\n", line);
	}
	CHECK(rc == DSCK_OK && ck && ck->has_config && ck->cfg.hidden_size == 64,
	      "config.json is parsed when present");
	dsck_ckpt_close(ck);

	fixture_write_text(d, "config.json", "{}");
	CHECK(open_expect(d, DSCK_E_CONFIG_MISSING, &err) == DSCK_E_CONFIG_MISSING,
	      "config errors propagate");
	fixture_write_text(d, "config.json", "{");
	CHECK(open_expect(d, DSCK_E_INVALID_JSON, &err) == DSCK_E_INVALID_JSON,
	      "a broken config.json is INVALID_JSON");
}

static void test_index_errors(void)
{
	struct dsck_error err;
	const char *d;
	char target[1024];

	/* IX-R6 */
	d = new_dir();
	write_st(d, SH_A, HDR_A, 11, 1);
	fixture_write_text(d, "model.safetensors.index.json", IX_AB);
	CHECK(open_expect(d, DSCK_E_MISSING_SHARD, &err) == DSCK_E_MISSING_SHARD &&
	      strstr(err.file, SH_B) != NULL, "IX-R6: a listed shard that is missing, named");

	/* IX-R5: a symlinked shard, even one pointing inside the directory. */
	d = new_dir();
	two_shards(d, IX_AB);
	snprintf(target, sizeof target, "%s/%s", d, SH_B);
	unlink(target);
	write_st(d, "real.safetensors", HDR_B, 8, 2);
	CHECK(symlink("real.safetensors", target) == 0, "make a symlink");
	CHECK(open_expect(d, DSCK_E_BAD_SHARD_PATH, &err) == DSCK_E_BAD_SHARD_PATH,
	      "IX-R5: a symlinked shard is refused");
	unlink(target);
	CHECK(symlink("/etc/hostname", target) == 0, "make a symlink out of the directory");
	CHECK(open_expect(d, DSCK_E_BAD_SHARD_PATH, &err) == DSCK_E_BAD_SHARD_PATH,
	      "IX-R5: a symlink pointing outside is refused");
	unlink(target);
	CHECK(symlink("../../nowhere.safetensors", target) == 0, "make a dangling symlink");
	CHECK(open_expect(d, DSCK_E_BAD_SHARD_PATH, &err) == DSCK_E_BAD_SHARD_PATH,
	      "IX-R5: a dangling symlink is refused, not reported missing");

	/* IX-R7: the index lists a tensor the shard lacks. */
	d = new_dir();
	two_shards(d, "{\"weight_map\":{\"a\":\"" SH_A "\",\"b\":\"" SH_A "\",\"c\":\"" SH_B "\","
		      "\"d\":\"" SH_B "\"}}");
	CHECK(open_expect(d, DSCK_E_INDEX_MISMATCH, &err) == DSCK_E_INDEX_MISMATCH &&
	      strcmp(err.tensor, "d") == 0, "IX-R7: listed but absent, names the tensor");

	/* IX-R7: a shard holds a tensor the index does not list. */
	d = new_dir();
	two_shards(d, "{\"weight_map\":{\"a\":\"" SH_A "\",\"c\":\"" SH_B "\"}}");
	CHECK(open_expect(d, DSCK_E_INDEX_MISMATCH, &err) == DSCK_E_INDEX_MISMATCH &&
	      strcmp(err.tensor, "b") == 0 && strstr(err.found, SH_A) != NULL,
	      "IX-R7: unlisted tensor, names tensor and shard");

	/* IX-R7: a tensor in the wrong shard. */
	d = new_dir();
	two_shards(d, "{\"weight_map\":{\"a\":\"" SH_A "\",\"b\":\"" SH_B "\",\"c\":\"" SH_B "\"}}");
	CHECK(open_expect(d, DSCK_E_INDEX_MISMATCH, &err) == DSCK_E_INDEX_MISMATCH &&
	      strcmp(err.tensor, "b") == 0 && strstr(err.expected, SH_B) != NULL &&
	      strstr(err.found, SH_A) != NULL,
	      "IX-R7: wrong shard, names the tensor and both shards");

	/* IX-R7: a tensor in two shards. */
	d = new_dir();
	write_st(d, SH_A, HDR_A_C, 11, 1);
	write_st(d, SH_B, HDR_B, 8, 2);
	fixture_write_text(d, "model.safetensors.index.json",
		   "{\"weight_map\":{\"a\":\"" SH_A "\",\"c\":\"" SH_B "\"}}");
	CHECK(open_expect(d, DSCK_E_INDEX_MISMATCH, &err) == DSCK_E_INDEX_MISMATCH &&
	      strcmp(err.tensor, "c") == 0 && strstr(err.found, SH_A) && strstr(err.found, SH_B),
	      "IX-R7: a tensor in two shards names both");

	/* IX-R8 */
	d = new_dir();
	two_shards(d, "{\"metadata\":{\"total_size\":20},\"weight_map\":{\"a\":\"" SH_A "\","
		      "\"b\":\"" SH_A "\",\"c\":\"" SH_B "\"}}");
	CHECK(open_expect(d, DSCK_E_INDEX_MISMATCH, &err) == DSCK_E_INDEX_MISMATCH &&
	      strcmp(err.expected, "20") == 0 && strstr(err.found, "19") != NULL,
	      "IX-R8: total_size off by one, expected vs found");
	d = new_dir();
	two_shards(d, "{\"weight_map\":{\"a\":\"" SH_A "\",\"b\":\"" SH_A "\",\"c\":\"" SH_B "\"}}");
	CHECK(open_expect(d, DSCK_OK, &err) == DSCK_OK, "IX-R8: total_size absent is fine");

	/* IX-R1..R4 through the directory. */
	d = new_dir();
	two_shards(d, "[]");
	CHECK(open_expect(d, DSCK_E_INVALID_JSON, &err) == DSCK_E_INVALID_JSON,
	      "IX-R1: index top level not an object");
	d = new_dir();
	two_shards(d, "{\"weight_map\":{\"a\":\"../" SH_A "\"}}");
	CHECK(open_expect(d, DSCK_E_BAD_SHARD_PATH, &err) == DSCK_E_BAD_SHARD_PATH,
	      "IX-R4: ../ in a shard name");

	/* The index itself is not read through a symlink. */
	d = new_dir();
	two_shards(d, NULL);
	fixture_write_text(d, "other.json", IX_AB);
	snprintf(target, sizeof target, "%s/model.safetensors.index.json", d);
	CHECK(symlink("other.json", target) == 0, "symlinked index");
	CHECK(open_expect(d, DSCK_E_BAD_SHARD_PATH, &err) == DSCK_E_BAD_SHARD_PATH,
	      "a symlinked index is refused");
}

static void test_no_index(void)
{
	struct dsck_ckpt *ck = NULL;
	struct dsck_error err;
	const char *d;

	/* IX-R9: model.safetensors alone, even with a broken sibling. */
	d = new_dir();
	write_st(d, "model.safetensors", HDR_B, 8, 2);
	fixture_write_text(d, "junk.safetensors", "not a safetensors file");
	dsck_error_clear(&err);
	CHECK(dsck_ckpt_open(d, &ck, &err) == DSCK_OK && ck && ck->n == 1 && ck->n_shards == 1,
	      "IX-R9: model.safetensors alone is used");
	dsck_ckpt_close(ck);

	/* IX-R9: every *.safetensors in name order. */
	d = new_dir();
	write_st(d, "z.safetensors", HDR_B, 8, 2);
	write_st(d, "a.safetensors", HDR_A, 11, 1);
	fixture_write_text(d, "readme.txt", "hello");
	ck = NULL;
	CHECK(dsck_ckpt_open(d, &ck, &err) == DSCK_OK && ck && ck->n_shards == 2 &&
	      strcmp(ck->shard_names[0], "a.safetensors") == 0 &&
	      strcmp(ck->shard_names[1], "z.safetensors") == 0 && ck->n == 3,
	      "IX-R9: glob sorted by name");
	dsck_ckpt_close(ck);

	/* IX-R9: a name in two files. */
	d = new_dir();
	write_st(d, "x1.safetensors", HDR_A_C, 11, 1);
	write_st(d, "x2.safetensors", HDR_B, 8, 2);
	CHECK(open_expect(d, DSCK_E_INDEX_MISMATCH, &err) == DSCK_E_INDEX_MISMATCH &&
	      strcmp(err.tensor, "c") == 0, "IX-R9: a tensor in two files");

	/* IX-R9 with a symlink. */
	d = new_dir();
	write_st(d, "x1.safetensors", HDR_A, 11, 1);
	char link[1024];
	snprintf(link, sizeof link, "%s/x2.safetensors", d);
	CHECK(symlink("/etc/hostname", link) == 0, "symlink");
	CHECK(open_expect(d, DSCK_E_BAD_SHARD_PATH, &err) == DSCK_E_BAD_SHARD_PATH,
	      "IX-R5 also holds without an index");

	/* Nothing to open. */
	d = new_dir();
	fixture_write_text(d, "readme.txt", "hello");
	CHECK(open_expect(d, DSCK_E_NOT_FOUND, &err) == DSCK_E_NOT_FOUND,
	      "a directory without shards is NOT_FOUND");

	/* A malformed shard propagates its own error. */
	d = new_dir();
	fixture_write_text(d, "model.safetensors", "1234567");
	CHECK(open_expect(d, DSCK_E_HEADER_TOO_SMALL, &err) == DSCK_E_HEADER_TOO_SMALL,
	      "a shard's own error propagates");

	/* Empty shard (ST-R27 style: {} with no data) is a valid, empty ckpt. */
	d = new_dir();
	write_st(d, "model.safetensors", "{}", 0, 0);
	ck = NULL;
	CHECK(dsck_ckpt_open(d, &ck, &err) == DSCK_OK && ck && ck->n == 0 &&
	      ck->payload_bytes == 0, "an empty shard gives an empty checkpoint");
	dsck_ckpt_close(ck);
}
/* Many shards, several broken: shards are parsed by a pool of threads (and
 * ahead of the index), yet the error is always the lowest-numbered failing
 * shard's, as a sequential open reports it. */
#define MANY 24
static void many_shards(const char *d, const int *broken, size_t n_broken,
			const char *extra)
{
	char index[8192], name[64], hdr[256];
	size_t used = (size_t)snprintf(index, sizeof index, "{\"weight_map\":{");
	for (int i = 0; i < MANY; i++) {
		int bad = 0;
		for (size_t k = 0; k < n_broken; k++)
			bad |= broken[k] == i;
		snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", i + 1, MANY);
		/* a broken shard declares 8 data bytes and holds 4 (ST-R14) */
		snprintf(hdr, sizeof hdr,
			 "{\"t%02d\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", i);
		write_st(d, name, hdr, bad ? 4 : 8, (unsigned)i);
		used += (size_t)snprintf(index + used, sizeof index - used, "%s\"t%02d\":\"%s\"",
					 i ? "," : "", i, name);
	}
	snprintf(index + used, sizeof index - used, "}%s}", extra ? extra : "");
	fixture_write_text(d, "model.safetensors.index.json", index);
}

static void test_parallel(void)
{
	struct dsck_error err;
	struct dsck_ckpt *ck = NULL;
	const char *d;
	char path[1024];

	d = new_dir();
	many_shards(d, NULL, 0, NULL);
	dsck_error_clear(&err);
	CHECK(dsck_ckpt_open(d, &ck, &err) == DSCK_OK && ck->n == MANY && ck->n_shards == MANY &&
	      dsck_ckpt_find(ck, "t07", 3) && dsck_ckpt_find(ck, "t07", 3)->shard == 7 &&
	      strcmp(ck->tensors[MANY - 1].t->name, "t23") == 0,
	      "%d shards parsed in parallel, table by name, every tensor found", MANY);
	dsck_ckpt_close(ck);

	static const int broken[] = { 19, 5, 11 };
	for (int rep = 0; rep < 20; rep++) {
		d = new_dir();
		many_shards(d, broken, 3, NULL);
		CHECK(open_expect(d, DSCK_E_INCOMPLETE_BUFFER, &err) == DSCK_E_INCOMPLETE_BUFFER &&
		      strstr(err.file, "model-00006-of-00024") != NULL,
		      "three broken shards: the lowest-numbered one is reported (run %d)", rep);
	}

	/* Speculation: a broken file the index does not name changes nothing;
	 * a named shard the listing missed (absent) is still MISSING_SHARD. */
	d = new_dir();
	many_shards(d, NULL, 0, NULL);
	write_st(d, "stray.safetensors", "{\"x\":", 0, 0);
	write_st(d, "zz-stray.safetensors", HDR_A, 11, 1);
	CHECK(open_expect(d, DSCK_OK, &err) == DSCK_OK,
	      "broken and valid .safetensors files the index does not name are ignored");
	snprintf(path, sizeof path, "%s/model-00003-of-00024.safetensors", d);
	unlink(path);
	CHECK(open_expect(d, DSCK_E_MISSING_SHARD, &err) == DSCK_E_MISSING_SHARD &&
	      strstr(err.file, "model-00003-of-00024") != NULL,
	      "a named shard absent from the directory: MISSING_SHARD, named");
	/* A FIFO the index does not name is never opened (it would block). */
	snprintf(path, sizeof path, "%s/fifo.safetensors", d);
	CHECK(mkfifo(path, 0644) == 0, "make a FIFO");
	write_st(d, "model-00003-of-00024.safetensors",
		 "{\"t02\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 2);
	CHECK(open_expect(d, DSCK_OK, &err) == DSCK_OK,
	      "a FIFO named *.safetensors beside the shards is not opened");

	/* An index error stops the speculative parsing and is what is reported. */
	d = new_dir();
	many_shards(d, NULL, 0, ",\"weight_map\":{}");
	CHECK(open_expect(d, DSCK_E_DUPLICATE_KEY, &err) == DSCK_E_DUPLICATE_KEY,
	      "an index error while shards are parsed ahead: the index's error");
}

static void rm_tree(const char *path)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", path);
}

int main(void)
{
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	test_index_dir();
	test_config();
	test_index_errors();
	test_no_index();
	test_parallel();
	rm_tree(root);
	return test_done();
}
