/*
 * test_manifest.c - manifests (MF-R1..MF-R4): compute over a small
 * checkpoint, check file and tensor hashes against independent SHA-256s,
 * write/load round trip, comparison of every kind of difference, and a
 * model hash independent of the file split (MF-R3).
 */
#include "manifest.h"
#include "../test.h"
#include "fixtures.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[] = "/tmp/dsck-test-manifest-XXXXXX";

/* Tensor data used everywhere: name -> bytes, fixed per name. */
static void tensor_bytes(const char *name, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)(name[0] * 31 + i * 13);
}

struct spec {
	const char *name, *dtype, *shape; /* shape as JSON "[2,3]" */
	size_t nbytes;
};

static const struct spec specs[] = {
	{ "a.weight", "F32", "[3]", 12 },
	{ "b.weight", "BF16", "[2,5]", 20 },
	{ "c.bias", "I8", "[]", 1 },
	{ "d.empty", "F32", "[0,4]", 0 },
	{ "e.weight", "F8_E4M3", "[7]", 7 },
};
#define N_SPECS (sizeof specs / sizeof specs[0])

/* Write the tensors whose indices are listed (in that on-disk order) as one
 * safetensors file. */
static void write_shard(const char *dir, const char *name, const size_t *which, size_t n)
{
	char header[4096];
	unsigned char data[256];
	size_t hl = 0, off = 0;
	hl += (size_t)snprintf(header + hl, sizeof header - hl, "{");
	for (size_t k = 0; k < n; k++) {
		const struct spec *s = &specs[which[k]];
		hl += (size_t)snprintf(header + hl, sizeof header - hl,
				       "%s\"%s\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":[%zu,%zu]}",
				       k ? "," : "", s->name, s->dtype, s->shape, off, off + s->nbytes);
		tensor_bytes(s->name, data + off, s->nbytes);
		off += s->nbytes;
	}
	hl += (size_t)snprintf(header + hl, sizeof header - hl, "}");
	fixture_write_st(dir, name, header, data, off);
}

#define SH1 "model-00001-of-00002.safetensors"
#define SH2 "model-00002-of-00002.safetensors"

/* Two shards + index + tokenizer + a file the manifest must ignore. */
static void make_split_dir(const char *dir)
{
	static const size_t s1[] = { 1, 0, 3 }, s2[] = { 4, 2 };
	mkdir(dir, 0755);
	write_shard(dir, SH1, s1, 3);
	write_shard(dir, SH2, s2, 2);
	const char *idx = "{\"metadata\":{\"total_size\":40},\"weight_map\":{"
			  "\"a.weight\":\"" SH1 "\",\"b.weight\":\"" SH1 "\",\"d.empty\":\"" SH1 "\","
			  "\"e.weight\":\"" SH2 "\",\"c.bias\":\"" SH2 "\"}}";
	fixture_write_bytes(dir, "model.safetensors.index.json", idx, strlen(idx));
	fixture_write_bytes(dir, "tokenizer.json", "{\"model\":{}}", 12);
	fixture_write_bytes(dir, "README.md", "not hashed", 10);
	fixture_write_bytes(dir, ".hidden.json", "{}", 2);
}

static void make_single_dir(const char *dir)
{
	static const size_t all[] = { 4, 3, 2, 1, 0 };
	mkdir(dir, 0755);
	write_shard(dir, "model.safetensors", all, N_SPECS);
}

static int open_ckpt(const char *path, struct dsck_ckpt **ck)
{
	struct dsck_error err;
	dsck_error_clear(&err);
	enum dsck_err rc = dsck_ckpt_open(path, ck, &err);
	if (rc) {
		char line[1200];
		dsck_error_format(&err, line, sizeof line);
		printf("# open %s: %s\n", path, line);
	}
	return rc == DSCK_OK;
}

static int compute(const char *path, unsigned threads, size_t buf, struct dsck_manifest *m)
{
	struct dsck_ckpt *ck = NULL;
	struct dsck_error err;
	struct dsck_manifest_opts o = { threads, buf, NULL, NULL };
	int ok = 0;
	if (!open_ckpt(path, &ck))
		return 0;
	dsck_error_clear(&err);
	enum dsck_err rc = dsck_manifest_compute(ck, &o, m, &err);
	if (rc) {
		char line[1200];
		dsck_error_format(&err, line, sizeof line);
		printf("# compute %s: %s\n", path, line);
	}
	ok = rc == DSCK_OK;
	dsck_ckpt_close(ck);
	return ok;
}

static const struct dsck_manifest_tensor *find_tensor(const struct dsck_manifest *m,
						      const char *name)
{
	for (size_t i = 0; i < m->n_tensors; i++)
		if (strcmp(m->tensors[i].name, name) == 0)
			return &m->tensors[i];
	return NULL;
}

static const struct dsck_manifest_file *find_file(const struct dsck_manifest *m,
						  const char *name)
{
	for (size_t i = 0; i < m->n_files; i++)
		if (strcmp(m->files[i].name, name) == 0)
			return &m->files[i];
	return NULL;
}

static void file_sha(const char *dir, const char *name, char hex[DSCK_SHA256_HEX], uint64_t *size)
{
	char path[1024];
	unsigned char buf[4096];
	struct dsck_error err;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
	if (f)
		fclose(f);
	*size = n;
	dsck_sha256_buf(buf, n, hex, &err);
}

/* Recorded differences. */
struct diffs {
	size_t n;
	struct dsck_manifest_diff d[32];
	char file[32][64], tensor[32][64];
};

static void on_diff(const struct dsck_manifest_diff *d, void *user)
{
	struct diffs *r = user;
	if (r->n < 32) {
		r->d[r->n] = *d;
		snprintf(r->file[r->n], 64, "%s", d->file ? d->file : "");
		snprintf(r->tensor[r->n], 64, "%s", d->tensor ? d->tensor : "");
	}
	r->n++;
}

static int has_diff(const struct diffs *r, enum dsck_manifest_diff_kind k,
		    const char *file, const char *tensor)
{
	for (size_t i = 0; i < r->n && i < 32; i++)
		if (r->d[i].kind == k && strcmp(r->file[i], file ? file : "") == 0 &&
		    strcmp(r->tensor[i], tensor ? tensor : "") == 0)
			return 1;
	return 0;
}

struct prog {
	uint64_t last_done, total;
	size_t calls;
	int monotonic;
};

static void on_progress(uint64_t done, uint64_t total, void *user)
{
	struct prog *p = user;
	if (done < p->last_done || done > total)
		p->monotonic = 0;
	p->last_done = done;
	p->total = total;
	p->calls++;
}

static void test_compute(const char *dir)
{
	struct dsck_manifest m1 = DSCK_MANIFEST_INIT, m3 = DSCK_MANIFEST_INIT;
	struct dsck_error err;
	char hex[DSCK_SHA256_HEX];
	unsigned char data[64];
	uint64_t size;

	CHECK(compute(dir, 1, 0, &m1), "compute, 1 thread, default buffer");
	CHECK_EQ_U64(m1.n_files, 4, "MF-R1: 2 shards, index, tokenizer; not README, not hidden");
	CHECK(find_file(&m1, SH1) && find_file(&m1, SH2) &&
	      find_file(&m1, "model.safetensors.index.json") && find_file(&m1, "tokenizer.json") &&
	      !find_file(&m1, "README.md"), "MF-R1: the expected files");
	int sorted = 1;
	for (size_t i = 1; i < m1.n_files; i++)
		sorted &= strcmp(m1.files[i - 1].name, m1.files[i].name) < 0;
	CHECK(sorted, "files sorted by name");
	CHECK_EQ_U64(m1.n_tensors, N_SPECS, "every tensor");

	/* File hashes equal a SHA-256 of the whole file. */
	int files_ok = 1;
	for (size_t i = 0; i < m1.n_files; i++) {
		file_sha(dir, m1.files[i].name, hex, &size);
		files_ok &= strcmp(hex, m1.files[i].sha256) == 0 && size == m1.files[i].size;
	}
	CHECK(files_ok, "MF-R1: every file hash and size is right");

	/* MF-R2: tensor hashes equal a SHA-256 of its bytes (zero-size too). */
	int tensors_ok = 1;
	for (size_t i = 0; i < N_SPECS; i++) {
		const struct dsck_manifest_tensor *t = find_tensor(&m1, specs[i].name);
		tensor_bytes(specs[i].name, data, specs[i].nbytes);
		dsck_sha256_buf(data, specs[i].nbytes, hex, &err);
		tensors_ok &= t && strcmp(hex, t->sha256) == 0;
	}
	CHECK(tensors_ok, "MF-R2: every tensor hash is the SHA-256 of its bytes");
	const struct dsck_manifest_tensor *b = find_tensor(&m1, "b.weight");
	CHECK(b && b->file && strcmp(b->file, SH1) == 0 && b->dtype == DSCK_BF16 &&
	      b->ndim == 2 && b->shape[0] == 2 && b->shape[1] == 5, "tensor dtype, shape and file");
	const struct dsck_manifest_tensor *c = find_tensor(&m1, "c.bias");
	CHECK(c && c->ndim == 0 && strcmp(c->file, SH2) == 0, "scalar tensor");

	/* MF-R3 computed here independently. */
	struct dsck_sha256 h;
	dsck_sha256_init(&h, &err);
	static const char *const order[] = { "a.weight", "b.weight", "c.bias", "d.empty", "e.weight" };
	static const char *const dt[] = { "F32", "BF16", "I8", "F32", "F8_E4M3" };
	static const char *const shp[] = { "3", "2,5", "", "0,4", "7" };
	static const size_t nb[] = { 12, 20, 1, 0, 7 };
	for (size_t i = 0; i < 5; i++) {
		unsigned char raw[32];
		tensor_bytes(order[i], data, nb[i]);
		dsck_sha256_buf(data, nb[i], hex, &err);
		for (int k = 0; k < 32; k++) {
			unsigned v;
			sscanf(hex + 2 * k, "%2x", &v);
			raw[k] = (unsigned char)v;
		}
		dsck_sha256_update(&h, order[i], strlen(order[i]) + 1, &err);
		dsck_sha256_update(&h, dt[i], strlen(dt[i]) + 1, &err);
		dsck_sha256_update(&h, shp[i], strlen(shp[i]) + 1, &err);
		dsck_sha256_update(&h, raw, 32, &err);
	}
	dsck_sha256_final(&h, hex, &err);
	CHECK(strcmp(hex, m1.model_sha256) == 0, "MF-R3: model_sha256 as specified");

	/* Threads and tiny buffers (chunks cross tensor and header bounds)
	 * give the same manifest. */
	static const size_t bufs[] = { 1, 3, 5, 64 };
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
		CHECK(compute(dir, 3, bufs[i], &m3) &&
		      dsck_manifest_compare(&m1, &m3, NULL, NULL) == 0,
		      "3 threads, %zu-byte buffer: identical", bufs[i]);
		dsck_manifest_release(&m3);
	}
	CHECK(compute(dir, 64, 2, &m3) && dsck_manifest_compare(&m1, &m3, NULL, NULL) == 0,
	      "more threads than files: identical");
	dsck_manifest_release(&m3);

	/* Progress reaches the total, monotonically. */
	struct dsck_ckpt *ck = NULL;
	struct prog p = { 0, 0, 0, 1 };
	struct dsck_manifest_opts o = { 2, 7, on_progress, &p };
	uint64_t total = 0;
	for (size_t i = 0; i < m1.n_files; i++)
		total += m1.files[i].size;
	CHECK(open_ckpt(dir, &ck) && dsck_manifest_compute(ck, &o, &m3, &err) == DSCK_OK,
	      "compute with progress");
	CHECK(p.calls > 1 && p.monotonic && p.last_done == total && p.total == total,
	      "progress is monotonic and ends at the byte total");
	dsck_manifest_release(&m3);
	dsck_ckpt_close(ck);

	dsck_manifest_release(&m1);
	CHECK(m1.files == NULL && m1.n_tensors == 0, "release resets");
}

static void test_roundtrip_and_compare(const char *dir)
{
	struct dsck_manifest m = DSCK_MANIFEST_INIT, back = DSCK_MANIFEST_INIT,
			     now = DSCK_MANIFEST_INIT;
	struct dsck_error err;
	char path[1024];
	struct diffs r;

	CHECK(compute(dir, 2, 0, &m), "compute");
	snprintf(path, sizeof path, "%s/dsck-manifest.json", dir);
	dsck_error_clear(&err);
	CHECK(dsck_manifest_write(&m, path, &err) == DSCK_OK, "write the manifest into the directory");
	CHECK(dsck_manifest_load(path, &back, &err) == DSCK_OK, "load it back");
	memset(&r, 0, sizeof r);
	CHECK(dsck_manifest_compare(&m, &back, on_diff, &r) == 0 && r.n == 0,
	      "MF-R4: loaded equals computed");
	CHECK(back.n_tensors && back.tensors[0].file == NULL, "loaded tensors carry no file");
	CHECK(compute(dir, 2, 0, &now) && dsck_manifest_compare(&back, &now, NULL, NULL) == 0,
	      "a manifest inside the directory does not list itself");
	dsck_manifest_release(&now);

	/* Flip one data byte of b.weight in shard 1. */
	char shard[1024];
	snprintf(shard, sizeof shard, "%s/%s", dir, SH1);
	FILE *f = fopen(shard, "r+b");
	unsigned char hb[8];
	uint64_t hl = 0;
	CHECK(f && fread(hb, 1, 8, f) == 8, "read the header length");
	for (int i = 7; i >= 0; i--)
		hl = hl << 8 | hb[i];
	/* Shard 1 holds b.weight first (offset 0): flip its 4th byte. */
	if (f) {
		fseek(f, (long)(8 + hl + 3), SEEK_SET);
		int ch = fgetc(f);
		fseek(f, (long)(8 + hl + 3), SEEK_SET);
		fputc(ch ^ 0x01, f);
		fclose(f);
	}
	CHECK(compute(dir, 2, 0, &now), "recompute after the flip");
	memset(&r, 0, sizeof r);
	size_t n = dsck_manifest_compare(&back, &now, on_diff, &r);
	CHECK(has_diff(&r, DSCK_DIFF_FILE_HASH, SH1, NULL), "MF-R4: names the shard file");
	CHECK(has_diff(&r, DSCK_DIFF_TENSOR_HASH, SH1, "b.weight"),
	      "MF-R4: names the tensor and its file");
	CHECK(has_diff(&r, DSCK_DIFF_MODEL_HASH, NULL, NULL), "MF-R4: model hash differs");
	CHECK_EQ_U64(n, 3, "exactly three differences");
	CHECK(n == r.n, "the count equals the reports");
	dsck_manifest_release(&now);

	/* Missing and unexpected files. */
	snprintf(path, sizeof path, "%s/tokenizer.json", dir);
	unlink(path);
	fixture_write_bytes(dir, "generation_config.json", "{}", 2);
	CHECK(compute(dir, 1, 0, &now), "recompute after file changes");
	memset(&r, 0, sizeof r);
	dsck_manifest_compare(&back, &now, on_diff, &r);
	CHECK(has_diff(&r, DSCK_DIFF_FILE_MISSING, "tokenizer.json", NULL), "MF-R4: file missing");
	CHECK(has_diff(&r, DSCK_DIFF_FILE_UNEXPECTED, "generation_config.json", NULL),
	      "MF-R4: file unexpected");

	/* dtype, shape, missing and unexpected tensors, file size. */
	struct dsck_manifest_tensor *t = (struct dsck_manifest_tensor *)find_tensor(&now, "a.weight");
	if (t) {
		t->dtype = DSCK_I32;
		t->shape[0] = 4;
	}
	free(now.tensors[4].name); /* e.weight -> z.extra (stays sorted) */
	now.tensors[4].name = strdup("z.extra");
	struct dsck_manifest_file *fl = (struct dsck_manifest_file *)find_file(&now, SH2);
	if (fl)
		fl->size += 1;
	memset(&r, 0, sizeof r);
	n = dsck_manifest_compare(&back, &now, on_diff, &r);
	CHECK(has_diff(&r, DSCK_DIFF_TENSOR_DTYPE, SH1, "a.weight"), "MF-R4: dtype differs");
	CHECK(has_diff(&r, DSCK_DIFF_TENSOR_SHAPE, SH1, "a.weight"), "MF-R4: shape differs");
	CHECK(has_diff(&r, DSCK_DIFF_TENSOR_MISSING, NULL, "e.weight"),
	      "MF-R4: tensor missing (loaded side knows no file)");
	CHECK(has_diff(&r, DSCK_DIFF_TENSOR_UNEXPECTED, SH2, "z.extra"), "MF-R4: tensor unexpected");
	CHECK(has_diff(&r, DSCK_DIFF_FILE_SIZE, SH2, NULL), "MF-R4: size differs");
	int shape_text = 0;
	for (size_t i = 0; i < r.n && i < 32; i++)
		if (r.d[i].kind == DSCK_DIFF_TENSOR_SHAPE)
			shape_text = strcmp(r.d[i].expected, "[3]") == 0 &&
				     strcmp(r.d[i].found, "[4]") == 0;
	CHECK(shape_text, "shape difference shows both shapes");
	CHECK(strcmp(dsck_manifest_diff_name(DSCK_DIFF_TENSOR_HASH), "TENSOR_HASH") == 0,
	      "kind names");
	dsck_manifest_release(&now);
	dsck_manifest_release(&back);
	dsck_manifest_release(&m);
}

static void test_split_independent(const char *split, const char *single)
{
	struct dsck_manifest a = DSCK_MANIFEST_INIT, b = DSCK_MANIFEST_INIT;
	struct diffs r;
	CHECK(compute(split, 2, 0, &a) && compute(single, 2, 0, &b), "compute both layouts");
	CHECK(strcmp(a.model_sha256, b.model_sha256) == 0,
	      "MF-R3: model hash independent of the file split");
	memset(&r, 0, sizeof r);
	dsck_manifest_compare(&a, &b, on_diff, &r);
	int only_files = r.n > 0;
	for (size_t i = 0; i < r.n && i < 32; i++)
		only_files &= r.d[i].kind == DSCK_DIFF_FILE_MISSING ||
			      r.d[i].kind == DSCK_DIFF_FILE_UNEXPECTED;
	CHECK(only_files, "only files differ between the layouts, no tensor");

	/* A single .safetensors path: the manifest holds just that file. */
	char path[1024];
	struct dsck_manifest c = DSCK_MANIFEST_INIT;
	snprintf(path, sizeof path, "%s/model.safetensors", single);
	CHECK(compute(path, 1, 0, &c) && c.n_files == 1 &&
	      strcmp(c.model_sha256, b.model_sha256) == 0, "single file path");
	dsck_manifest_release(&c);
	dsck_manifest_release(&a);
	dsck_manifest_release(&b);
}

static int parse_expect(const char *text, enum dsck_err want)
{
	struct dsck_manifest m;
	struct dsck_error err;
	dsck_error_clear(&err);
	enum dsck_err rc = dsck_manifest_parse(text, strlen(text), "m.json", &m, &err);
	dsck_manifest_release(&m);
	if (rc != want)
		printf("#   got %s (%s), want %s\n", dsck_err_name(rc), err.detail,
		       dsck_err_name(want));
	return rc == want;
}

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_load_errors(void)
{
	char t[2048];
	const char *fmt = "{\"dsck_manifest\": %s, \"files\": {%s}, \"model_sha256\": \"%s\","
			  " \"tensors\": {%s}}";
#define DOC(ver, files, model, tensors) (snprintf(t, sizeof t, fmt, ver, files, model, tensors), t)
	const char *okf = "\"a.safetensors\": {\"sha256\": \"" H64 "\", \"size\": 5}";
	const char *okt = "\"w\": {\"dtype\": \"F8_E4M3\", \"sha256\": \"" H64 "\", \"shape\": [2, 3]}";

	CHECK(parse_expect(DOC("1", okf, H64, okt), DSCK_OK), "a valid manifest parses");
	CHECK(parse_expect(DOC("1", "", H64, ""), DSCK_OK), "empty files and tensors");
	CHECK(parse_expect(DOC("2", okf, H64, okt), DSCK_E_INVALID_MANIFEST), "version 2");
	CHECK(parse_expect(DOC("\"1\"", okf, H64, okt), DSCK_E_INVALID_MANIFEST), "version a string");
	CHECK(parse_expect(DOC("1", okf, "abc", okt), DSCK_E_INVALID_MANIFEST), "short model hash");
	CHECK(parse_expect(DOC("1", okf, "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", okt),
			   DSCK_E_INVALID_MANIFEST), "uppercase hex refused");
	CHECK(parse_expect(DOC("1", "\"a/b\": {\"sha256\": \"" H64 "\", \"size\": 5}", H64, okt),
			   DSCK_E_INVALID_MANIFEST), "file name with a slash");
	CHECK(parse_expect(DOC("1", "\"a\": {\"sha256\": \"" H64 "\"}", H64, okt),
			   DSCK_E_INVALID_MANIFEST), "file without size");
	CHECK(parse_expect(DOC("1", "\"a\": {\"sha256\": \"" H64 "\", \"size\": -1}", H64, okt),
			   DSCK_E_INVALID_MANIFEST), "negative size");
	CHECK(parse_expect(DOC("1", "\"a\": {\"sha256\": \"" H64 "\", \"size\": 1, \"x\": 1}", H64, okt),
			   DSCK_E_INVALID_MANIFEST), "unknown file key");
	CHECK(parse_expect(DOC("1", okf, H64, "\"w\": {\"dtype\": \"f32\", \"sha256\": \"" H64 "\", \"shape\": []}"),
			   DSCK_E_INVALID_MANIFEST), "unknown dtype");
	CHECK(parse_expect(DOC("1", okf, H64, "\"w\": {\"dtype\": \"F32\", \"sha256\": \"" H64
				   "\", \"shape\": [1,1,1,1,1,1,1,1,1]}"),
			   DSCK_E_INVALID_MANIFEST), "9 dimensions");
	CHECK(parse_expect(DOC("1", okf, H64, "\"w\": {\"dtype\": \"F32\", \"sha256\": \"" H64
				   "\", \"shape\": [1,1,1,1,1,1,1,1]}"),
			   DSCK_OK), "8 dimensions");
	CHECK(parse_expect(DOC("1", okf, H64, "\"w\": {\"dtype\": \"F32\", \"sha256\": \"" H64
				   "\", \"shape\": 3}"),
			   DSCK_E_INVALID_MANIFEST), "shape not an array");
	CHECK(parse_expect(DOC("1", okf, H64, "\"w\": [1]"), DSCK_E_INVALID_MANIFEST),
	      "tensor entry not an object");
	CHECK(parse_expect("{\"dsck_manifest\": 1}", DSCK_E_INVALID_MANIFEST), "missing keys");
	CHECK(parse_expect("[]", DSCK_E_INVALID_MANIFEST), "top level an array");
	CHECK(parse_expect("{", DSCK_E_INVALID_JSON), "broken JSON");
	snprintf(t, sizeof t, "{\"dsck_manifest\": 1, \"dsck_manifest\": 1}");
	CHECK(parse_expect(t, DSCK_E_DUPLICATE_KEY), "duplicate key");
	CHECK(parse_expect(DOC("1", okf, H64, "\"w\": {\"dtype\": \"F32\", \"sha256\": \"" H64
				   "\", \"shape\": [], \"file\": \"a\"}"),
			   DSCK_E_INVALID_MANIFEST), "unknown tensor key");
#undef DOC
}

int main(void)
{
	char split[600], single[600];
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(split, sizeof split, "%s/split", root);
	snprintf(single, sizeof single, "%s/single", root);
	make_split_dir(split);
	make_single_dir(single);

	test_compute(split);
	test_split_independent(split, single);
	test_roundtrip_and_compare(split);
	test_load_errors();

	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", root);
	return test_done();
}
