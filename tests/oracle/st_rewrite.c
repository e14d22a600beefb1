/*
 * st_rewrite.c - oracle helper: `st-rewrite IN OUT` reads IN with the strict
 * reader and writes every tensor and every metadata pair to OUT with the
 * streaming writer, copying data in 1 MiB chunks through dsck_st_read.
 * tests/oracle/check_writer.py compares OUT byte for byte with what
 * safetensors.numpy.save_file wrote for IN (formats.md ST-W1, ST-W2).
 *
 * `st-rewrite --exp2 SUFFIX K [--exp2 SUFFIX K ...] IN OUT` also multiplies
 * every element of each BF16 or F32 tensor whose name ends with SUFFIX by
 * 2^K, exactly: only the exponent field changes, so the mantissa bits are
 * kept and no rounding happens (an element that would leave the normal
 * range is an error; zeros stay zero). test_run.sh and gen_run_fixtures.sh
 * use it to tone down a synthetic checkpoint's q_a_layernorm weights, which
 * scales every attention score of the layer by 2^K (formats.md RT-R12).
 * Exit codes follow the tools (0 ok, 1 invalid input, 2 usage, 3 I/O).
 */
#include "safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REWRITE_CHUNK (1u << 20) /* bytes per read/write */
#define REWRITE_MAX_EXP2 16      /* --exp2 options at most */

struct exp2_rule {
	const char *suffix;
	int k;
};

/* The 2^k of the first rule whose suffix ends name; 0 when none matches. */
static int rule_for(const struct exp2_rule *rules, int n_rules, const char *name,
		    size_t len)
{
	for (int r = 0; r < n_rules; r++) {
		size_t sl = strlen(rules[r].suffix);
		if (sl <= len && memcmp(name + len - sl, rules[r].suffix, sl) == 0)
			return rules[r].k;
	}
	return 0;
}

/*
 * Add k to the biased exponent of n little-endian elements of width bytes
 * (2: BF16, 8 exponent bits at bit 7; 4: F32, at bit 23). Returns -1 when
 * an element is subnormal, Inf or NaN, or its result would be.
 */
static int scale_exp2(unsigned char *p, size_t n, size_t width, int k)
{
	unsigned shift = width == 2 ? 7 : 23;
	for (size_t i = 0; i < n; i++, p += width) {
		uint32_t v = 0;
		for (size_t b = 0; b < width; b++)
			v |= (uint32_t)p[b] << (8 * b);
		int e = (int)((v >> shift) & 0xffu);
		if ((v & ~(1u << (8 * width - 1))) == 0)
			continue; /* +-0 */
		if (e == 0 || e == 0xff || e + k <= 0 || e + k >= 0xff)
			return -1;
		v = (v & ~(0xffu << shift)) | ((uint32_t)(e + k) << shift);
		for (size_t b = 0; b < width; b++)
			p[b] = (unsigned char)(v >> (8 * b));
	}
	return 0;
}

static int rewrite_fail(const struct dsck_error *e)
{
	char line[1024];
	dsck_error_format(e, line, sizeof line);
	fprintf(stderr, "st-rewrite: error: %s\n", line);
	return dsck_err_exit_code(e->code);
}

int main(int argc, char **argv)
{
	struct dsck_error err;
	struct dsck_st *st = NULL;
	struct dsck_st_spec *specs = NULL;
	const char **kv = NULL;
	unsigned char *buf = NULL;
	struct dsck_stw stw;
	int opened = 0, status = 0;
	enum dsck_err rc;
	struct exp2_rule rules[REWRITE_MAX_EXP2];
	int n_rules = 0, a = 1;

	dsck_error_clear(&err);
	while (a + 2 < argc && strcmp(argv[a], "--exp2") == 0) {
		char *end;
		long k = strtol(argv[a + 2], &end, 10);
		if (n_rules == REWRITE_MAX_EXP2 || !*argv[a + 1] || *end || end == argv[a + 2] ||
		    k < -126 || k > 126) {
			fprintf(stderr, "st-rewrite: bad --exp2 %s %s\n", argv[a + 1], argv[a + 2]);
			return DSCK_EXIT_USAGE;
		}
		rules[n_rules].suffix = argv[a + 1];
		rules[n_rules].k = (int)k;
		n_rules++;
		a += 3;
	}
	if (argc - a != 2) {
		fprintf(stderr, "usage: st-rewrite [--exp2 SUFFIX K]... IN OUT\n");
		return DSCK_EXIT_USAGE;
	}
	rc = dsck_st_open(argv[a], &st, &err);
	if (rc)
		goto out;
	specs = calloc(st->n_tensors ? st->n_tensors : 1, sizeof *specs);
	kv = calloc(st->n_meta ? 2 * st->n_meta : 1, sizeof *kv);
	buf = malloc(REWRITE_CHUNK);
	if (!specs || !kv || !buf) {
		rc = dsck_error_set(&err, DSCK_E_NOMEM, "rewrite tables");
		goto out;
	}
	for (size_t i = 0; i < st->n_tensors; i++) {
		const struct dsck_st_tensor *t = &st->tensors[i];
		specs[i].name = t->name;
		specs[i].dtype = t->dtype;
		specs[i].ndim = t->ndim;
		for (uint32_t d = 0; d < t->ndim; d++)
			specs[i].shape[d] = t->shape[d];
	}
	for (size_t m = 0; m < st->n_meta; m++) {
		kv[2 * m] = st->meta[m].key;
		kv[2 * m + 1] = st->meta[m].value;
	}
	rc = dsck_stw_open(&stw, argv[a + 1], specs, st->n_tensors, kv, st->n_meta, 0, &err);
	if (rc)
		goto out;
	opened = 1;
	/* specs[i] is st->tensors[i]; stw.order gives the on-disk order */
	for (size_t k = 0; k < stw.n; k++) {
		size_t i = stw.order[k];
		const struct dsck_st_tensor *t = &st->tensors[i];
		uint64_t size = t->end - t->begin;
		int e2 = rule_for(rules, n_rules, t->name, t->name_len);
		size_t width = t->dtype == DSCK_BF16 ? 2 : t->dtype == DSCK_F32 ? 4 : 0;
		if (e2 && !width) {
			rc = dsck_error_set(&err, DSCK_E_UNSUPPORTED, "--exp2 on %.*s: not BF16 or F32",
					    (int)t->name_len, t->name);
			goto out;
		}
		for (uint64_t off = 0; off < size;) {
			/* whole chunks of elements: REWRITE_CHUNK is a multiple of 4 */
			size_t n = size - off < REWRITE_CHUNK ? (size_t)(size - off) : REWRITE_CHUNK;
			rc = dsck_st_read(st, i, off, buf, n, &err);
			if (rc)
				goto out;
			if (e2 && scale_exp2(buf, n / width, width, e2)) {
				rc = dsck_error_set(&err, DSCK_E_UNSUPPORTED,
						    "--exp2 on %.*s: an element leaves the normal range",
						    (int)t->name_len, t->name);
				goto out;
			}
			rc = dsck_stw_write(&stw, buf, n, &err);
			if (rc)
				goto out;
			off += n;
		}
	}
	opened = 0;
	rc = dsck_stw_commit(&stw, &err);
out:
	if (opened)
		dsck_stw_abort(&stw);
	if (rc)
		status = rewrite_fail(&err);
	free(buf);
	free(kv);
	free(specs);
	dsck_st_free(st);
	return status;
}
