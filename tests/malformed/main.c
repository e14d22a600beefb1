/*
 * main.c - driver of the malformed-input corpus (formats.md §9).
 *
 *   malformed-corpus OUTDIR     write every case under OUTDIR/<id>/, check it
 *                               against the library, write OUTDIR/cases.tsv
 *   malformed-corpus --list     print id, expected error and what it is
 *
 * A case passes when the library returns exactly its expected code. Output
 * is TAP-style, one line per case (tests/run.sh counts them). cases.tsv has
 * one line per case: id, kind, expected exit code, expected error name,
 * input path; tests/cli/malformed.sh runs dsck-inspect over it.
 */
#include "corpus.h"
#include "../../lib/ckpt.h"
#include "../../lib/config.h"
#include "../../lib/safetensors.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct corpus_file {
	char *name;
	unsigned char *bytes;
	size_t len;
	char *link_target; /* non-NULL: a symlink */
};

struct corpus_case {
	char id[32];
	enum corpus_kind kind;
	enum dsck_err expect;
	char what[160];
	struct corpus_file *files;
	size_t n_files;
};

struct corpus {
	struct corpus_case *cases;
	size_t n, cap;
};

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fprintf(stderr, "malformed-corpus: out of memory\n");
		exit(3);
	}
	return q;
}

static struct corpus_case *corpus_new_case(struct corpus *c, const char *id,
					   enum corpus_kind kind,
					   enum dsck_err expect, const char *what)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->cases = xrealloc(c->cases, c->cap * sizeof *c->cases);
	}
	struct corpus_case *k = &c->cases[c->n++];
	memset(k, 0, sizeof *k);
	snprintf(k->id, sizeof k->id, "%s", id);
	snprintf(k->what, sizeof k->what, "%s", what);
	k->kind = kind;
	k->expect = expect;
	return k;
}

static void case_add_file(struct corpus_case *k, const char *name,
			  const void *bytes, size_t len, const char *target)
{
	k->files = xrealloc(k->files, (k->n_files + 1) * sizeof *k->files);
	struct corpus_file *f = &k->files[k->n_files++];
	f->name = strdup(name);
	f->bytes = xrealloc(NULL, len);
	if (len)
		memcpy(f->bytes, bytes, len);
	f->len = len;
	f->link_target = target ? strdup(target) : NULL;
}

void corpus_add(struct corpus *c, const char *id, enum corpus_kind kind,
		enum dsck_err expect, const char *what, const void *bytes,
		size_t len)
{
	struct corpus_case *k = corpus_new_case(c, id, kind, expect, what);
	case_add_file(k, kind == CORPUS_CONFIG ? "config.json" : "x.safetensors",
		      bytes, len, NULL);
}

void corpus_add_dir(struct corpus *c, const char *id, enum dsck_err expect,
		    const char *what)
{
	corpus_new_case(c, id, CORPUS_CKPT, expect, what);
}

void corpus_dir_file(struct corpus *c, const char *name, const void *bytes,
		     size_t len)
{
	case_add_file(&c->cases[c->n - 1], name, bytes, len, NULL);
}

void corpus_dir_symlink(struct corpus *c, const char *name, const char *target)
{
	case_add_file(&c->cases[c->n - 1], name, "", 0, target);
}

unsigned char *corpus_st_bytes(const char *header_json, size_t data_len,
			       size_t *out_len)
{
	size_t hl = strlen(header_json);
	size_t n = 8 + hl + data_len;
	unsigned char *b = xrealloc(NULL, n);
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
	memcpy(b + 8, header_json, hl);
	for (size_t i = 0; i < data_len; i++)
		b[8 + hl + i] = (unsigned char)(i * 131u + 7u);
	*out_len = n;
	return b;
}

static const char *kind_name(enum corpus_kind k)
{
	return k == CORPUS_ST ? "st" : k == CORPUS_CKPT ? "ckpt" : "config";
}

static int write_case(const char *outdir, const struct corpus_case *k,
		      char *input, size_t input_n)
{
	char dir[2048], path[4096];
	if ((size_t)snprintf(dir, sizeof dir, "%s/%s", outdir, k->id) >= sizeof dir)
		return -1;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -1;
	for (size_t i = 0; i < k->n_files; i++) {
		const struct corpus_file *f = &k->files[i];
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, f->name) >= sizeof path)
			return -1;
		unlink(path);
		if (f->link_target) {
			if (symlink(f->link_target, path) != 0)
				return -1;
			continue;
		}
		FILE *fp = fopen(path, "wb");
		if (!fp)
			return -1;
		size_t w = f->len ? fwrite(f->bytes, 1, f->len, fp) : 0;
		if (fclose(fp) != 0 || w != f->len)
			return -1;
	}
	int w;
	if (k->kind == CORPUS_CKPT)
		w = snprintf(input, input_n, "%s", dir);
	else
		w = snprintf(input, input_n, "%s/%s", dir, k->files[0].name);
	return w > 0 && (size_t)w < input_n ? 0 : -1;
}

/* Run the library on one case; returns the code it gave. */
static enum dsck_err check_case(const struct corpus_case *k, const char *input,
				struct dsck_error *err)
{
	enum dsck_err rc;
	dsck_error_clear(err);
	if (k->kind == CORPUS_ST) {
		struct dsck_st *st = NULL;
		rc = dsck_st_open(input, &st, err);
		dsck_st_free(st);
	} else if (k->kind == CORPUS_CONFIG) {
		struct dsck_config cfg;
		rc = dsck_config_load(input, &cfg, err);
	} else {
		struct dsck_ckpt *ck = NULL;
		rc = dsck_ckpt_open(input, &ck, err);
		dsck_ckpt_close(ck);
	}
	return rc;
}

static void corpus_release(struct corpus *c)
{
	for (size_t i = 0; i < c->n; i++) {
		for (size_t j = 0; j < c->cases[i].n_files; j++) {
			free(c->cases[i].files[j].name);
			free(c->cases[i].files[j].bytes);
			free(c->cases[i].files[j].link_target);
		}
		free(c->cases[i].files);
	}
	free(c->cases);
}

int main(int argc, char **argv)
{
	struct corpus c = { NULL, 0, 0 };
	int failed = 0;
	if (argc != 2) {
		fprintf(stderr, "usage: malformed-corpus OUTDIR | --list\n");
		return 2;
	}
	gen_st(&c);
	gen_index(&c);
	gen_config(&c);
	if (strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < c.n; i++)
			printf("%s\t%s\t%s\t%s\n", c.cases[i].id,
			       kind_name(c.cases[i].kind),
			       dsck_err_name(c.cases[i].expect), c.cases[i].what);
		corpus_release(&c);
		return 0;
	}
	const char *outdir = argv[1];
	if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
		perror(outdir);
		return 3;
	}
	char tsv[4096];
	snprintf(tsv, sizeof tsv, "%s/cases.tsv", outdir);
	FILE *list = fopen(tsv, "w");
	if (!list) {
		perror(tsv);
		return 3;
	}
	for (size_t i = 0; i < c.n; i++) {
		const struct corpus_case *k = &c.cases[i];
		char input[4096];
		struct dsck_error err;
		if (write_case(outdir, k, input, sizeof input) != 0) {
			printf("not ok %zu - %s: cannot write the case\n", i + 1, k->id);
			failed++;
			continue;
		}
		enum dsck_err got = check_case(k, input, &err);
		int ok = got == k->expect;
		char line[1024];
		dsck_error_format(&err, line, sizeof line);
		printf("%s %zu - %s %s: %s -> %s%s%s\n", ok ? "ok" : "not ok",
		       i + 1, k->id, k->what, dsck_err_name(k->expect),
		       dsck_err_name(got), got ? ": " : "", got ? line : "");
		failed += !ok;
		fprintf(list, "%s\t%s\t%d\t%s\t%s\n", k->id, kind_name(k->kind),
			dsck_err_exit_code(k->expect), dsck_err_name(k->expect),
			input);
	}
	fclose(list);
	printf("# %zu cases, %d failed\n", c.n, failed);
	corpus_release(&c);
	return failed ? 1 : 0;
}
