/*
 * test_stats.c - lib/stats.h on a two-shard checkpoint built here:
 * an FP8 weight [300, 200] in shard 1 whose block scale [3, 2] (six distinct
 * values) lives in shard 2, compared with a plain double-precision reference;
 * bitwise equality for 1, 3 and 4 threads and for small chunks that cut rows
 * and scale blocks; NaN/Inf/zero counting; a scale of the wrong shape; an
 * unsupported dtype; the accumulator's merge.
 */
#include "ckpt.h"
#include "fp8.h"
#include "index.h"
#include "safetensors.h"
#include "stats.h"
#include "../test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROWS 300
#define COLS 200

static uint8_t w_codes[ROWS * COLS];
static const float w_scale[3][2] = { { 0.5f, 2.0f }, { 0.125f, 3.0f }, { 0.3f, 7.0f } };
static const float f_vals[8] = { 1.0f, -2.0f, NAN, INFINITY, 0.0f, -0.0f, 3.5f, -INFINITY };

/* Write one shard: specs[i] with bytes data[i]. */
static int shard_write(const char *path, const struct dsck_st_spec *specs,
		       const void *const *data, const size_t *len, size_t n)
{
	struct dsck_stw stw;
	struct dsck_error err;
	dsck_error_clear(&err);
	if (dsck_stw_open(&stw, path, specs, n, NULL, 0, 0, &err))
		return -1;
	for (size_t k = 0; k < n; k++) {
		size_t i = stw.order[k];
		if (dsck_stw_write(&stw, data[i], len[i], &err)) {
			dsck_stw_abort(&stw);
			return -1;
		}
	}
	return dsck_stw_commit(&stw, &err) ? -1 : 0;
}

static struct dsck_st_spec spec2(const char *name, enum dsck_dtype t, uint64_t a,
				 uint64_t b)
{
	struct dsck_st_spec s;
	memset(&s, 0, sizeof s);
	s.name = name;
	s.dtype = t;
	s.ndim = 2;
	s.shape[0] = a;
	s.shape[1] = b;
	return s;
}

static struct dsck_st_spec spec1(const char *name, enum dsck_dtype t, uint64_t a)
{
	struct dsck_st_spec s = spec2(name, t, a, 0);
	s.ndim = 1;
	s.shape[1] = 0;
	return s;
}

/* Reference: dequantize with float products, then plain double sums. */
static void reference(struct dsck_stats *r)
{
	double sum = 0, mn = INFINITY, mx = -INFINITY, am = 0;
	static double y[ROWS * COLS];
	memset(r, 0, sizeof *r);
	for (int m = 0; m < ROWS; m++) {
		for (int n = 0; n < COLS; n++) {
			float x = dsck_fp8_e4m3_to_f32(w_codes[m * COLS + n]);
			float v = x * w_scale[m / 128][n / 128];
			double d = (double)v;
			y[m * COLS + n] = d;
			r->count++;
			if (isnan(d)) {
				r->nan_count++;
				continue;
			}
			r->finite++;
			if (d == 0)
				r->zero_count++;
			sum += d;
			mn = fmin(mn, d);
			mx = fmax(mx, d);
			am = fmax(am, fabs(d));
		}
	}
	r->mean = sum / (double)r->finite;
	double m2 = 0;
	for (int i = 0; i < ROWS * COLS; i++)
		if (!isnan(y[i]))
			m2 += (y[i] - r->mean) * (y[i] - r->mean);
	r->m2 = m2;
	r->min = mn;
	r->max = mx;
	r->absmax = am;
}

static int rel_close(double a, double b, double tol)
{
	return fabs(a - b) <= tol * fmax(fabs(a), fabs(b)) || a == b;
}

struct prog {
	uint64_t last_done, total;
	int calls;
};

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct prog *p = ctx;
	p->last_done = done;
	p->total = total;
	p->calls++;
}

static const struct dsck_tensor_stats *result_find(const struct dsck_tensor_stats *r,
						   size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(r[i].name, name) == 0)
			return &r[i];
	return NULL;
}

int main(void)
{
	char dir[] = "/tmp/dsck-test-stats.XXXXXX";
	char p1[256], p2[256], pidx[256];
	struct dsck_error err;
	struct dsck_ckpt *ck = NULL;
	dsck_error_clear(&err);

	CHECK(mkdtemp(dir) != NULL, "temp dir");
	/* Codes: a scrambled walk over all 256 values (NaN 0x7F/0xFF included). */
	uint32_t st = 12345;
	for (int i = 0; i < ROWS * COLS; i++) {
		st = st * 1103515245u + 12345u;
		w_codes[i] = (uint8_t)(st >> 16);
	}
	uint8_t bad_codes[4 * 4] = { 0 };
	float bad_scale[2] = { 1.0f, 1.0f };
	uint32_t c64[4] = { 0 };

	snprintf(p1, sizeof p1, "%s/model-00001-of-00002.safetensors", dir);
	snprintf(p2, sizeof p2, "%s/model-00002-of-00002.safetensors", dir);
	snprintf(pidx, sizeof pidx, "%s/model.safetensors.index.json", dir);

	struct dsck_st_spec s1[3] = {
		spec2("w.weight", DSCK_F8_E4M3, ROWS, COLS),
		spec1("f.weight", DSCK_F32, 8),
		spec2("bad.weight", DSCK_F8_E4M3, 4, 4),
	};
	const void *d1[3] = { w_codes, f_vals, bad_codes };
	size_t l1[3] = { sizeof w_codes, sizeof f_vals, sizeof bad_codes };
	struct dsck_st_spec s2[3] = {
		spec2("w.weight_scale_inv", DSCK_F32, 3, 2),
		spec1("bad.weight_scale_inv", DSCK_F32, 2), /* wants [1, 1] */
		spec1("z.complex", DSCK_C64, 2),
	};
	const void *d2[3] = { w_scale, bad_scale, c64 };
	size_t l2[3] = { sizeof w_scale, sizeof bad_scale, sizeof c64 };
	CHECK(shard_write(p1, s1, d1, l1, 3) == 0, "write shard 1");
	CHECK(shard_write(p2, s2, d2, l2, 3) == 0, "write shard 2");

	const char *names[6] = { "w.weight", "f.weight", "bad.weight",
				 "w.weight_scale_inv", "bad.weight_scale_inv", "z.complex" };
	uint32_t shard_of[6] = { 0, 0, 0, 1, 1, 1 };
	const char *shards[2] = { "model-00001-of-00002.safetensors",
				  "model-00002-of-00002.safetensors" };
	uint64_t total = 0;
	for (int i = 0; i < 3; i++)
		total += l1[i] + l2[i];
	CHECK(dsck_index_write(pidx, names, shard_of, 6, shards, total, &err) == DSCK_OK,
	      "write index");
	enum dsck_err rc = dsck_ckpt_open(dir, &ck, &err);
	CHECK(rc == DSCK_OK && ck && ck->n == 6, "open the two-shard checkpoint (%s)",
	      dsck_strerror(rc));
	if (rc != DSCK_OK)
		goto done;

	struct dsck_stats ref;
	reference(&ref);

	/* Default chunking, all good tensors. */
	struct dsck_tensor_stats *r = NULL;
	size_t n = 0;
	struct prog pg = { 0, 0, 0 };
	rc = dsck_stats_compute(ck, "[!b]*", 2, on_progress, &pg, &r, &n, &err);
	CHECK(rc == DSCK_OK && n == 4, "compute stats of 4 tensors (%s)", dsck_strerror(rc));
	const struct dsck_tensor_stats *w = r ? result_find(r, n, "w.weight") : NULL;
	CHECK(w && w->dequantized && w->block_rows == 128 && w->block_cols == 128 &&
		      w->scale_name && strcmp(w->scale_name, "w.weight_scale_inv") == 0,
	      "FP8 weight dequantized with its scale from the other shard");
	if (w) {
		CHECK_EQ_U64(w->s.count, ROWS * COLS, "count");
		CHECK_EQ_U64(w->s.nan_count, ref.nan_count, "NaN count (e4m3 0x7F/0xFF)");
		CHECK(ref.nan_count > 0, "reference has NaNs");
		CHECK_EQ_U64(w->s.inf_count, 0, "no Inf in e4m3");
		CHECK_EQ_U64(w->s.zero_count, ref.zero_count, "zero count");
		CHECK_EQ_U64(w->s.finite, ref.finite, "finite count");
		CHECK(w->s.min == ref.min && w->s.max == ref.max && w->s.absmax == ref.absmax,
		      "min %g max %g absmax %g exact", w->s.min, w->s.max, w->s.absmax);
		CHECK(rel_close(w->s.mean, ref.mean, 1e-12), "mean %.17g vs %.17g",
		      w->s.mean, ref.mean);
		CHECK(rel_close(dsck_stats_std(&w->s), sqrt(ref.m2 / (double)ref.finite), 1e-12),
		      "std %.17g", dsck_stats_std(&w->s));
		CHECK(ref.max == 448.0 * 7.0 || ref.max > 448.0,
		      "the 7.0 block scale reaches the maximum (%g)", ref.max);
	}
	const struct dsck_tensor_stats *f = r ? result_find(r, n, "f.weight") : NULL;
	CHECK(f && !f->dequantized && f->s.count == 8 && f->s.nan_count == 1 &&
		      f->s.inf_count == 2 && f->s.zero_count == 2 && f->s.min == -2.0 &&
		      f->s.max == 3.5 && f->s.absmax == 3.5 && f->s.finite == 5,
	      "F32 tensor: NaN, +-Inf and +-0 counted, min/max over finite values");
	if (f)
		CHECK(rel_close(f->s.mean, 2.5 / 5, 1e-15), "F32 mean over finite values");
	const struct dsck_tensor_stats *z = r ? result_find(r, n, "z.complex") : NULL;
	CHECK(z && !z->computed && z->s.count == 2 && z->s.finite == 0,
	      "C64 tensor listed but not computed");
	const struct dsck_tensor_stats *sc = r ? result_find(r, n, "w.weight_scale_inv") : NULL;
	CHECK(sc && sc->s.count == 6 && sc->s.max == 7.0 && sc->s.min == 0.125,
	      "scale tensor has its own raw stats");
	CHECK(pg.calls > 0 && pg.last_done == pg.total &&
		      pg.total == sizeof w_codes + sizeof f_vals + sizeof w_scale,
	      "progress reaches the total (%llu of %llu bytes)",
	      (unsigned long long)pg.last_done, (unsigned long long)pg.total);

	/* Thread and chunk independence: tiny chunks cut rows and scale blocks. */
	struct dsck_tensor_stats *a = NULL, *b = NULL, *c = NULL;
	size_t na = 0, nb = 0, nc = 0;
	struct dsck_stats_opts o = { "w.weight", 1, 1000, NULL, NULL };
	rc = dsck_stats_compute_opts(ck, &o, &a, &na, &err);
	o.threads = 4;
	rc |= dsck_stats_compute_opts(ck, &o, &b, &nb, &err);
	o.threads = 3;
	rc |= dsck_stats_compute_opts(ck, &o, &c, &nc, &err);
	CHECK(rc == DSCK_OK && na == 1 && nb == 1 && nc == 1, "60 chunks of 1000 elements");
	if (na == 1 && nb == 1 && nc == 1) {
		CHECK(memcmp(&a[0].s, &b[0].s, sizeof a[0].s) == 0 &&
			      memcmp(&a[0].s, &c[0].s, sizeof a[0].s) == 0,
		      "1, 3 and 4 threads give bitwise equal results");
		CHECK(a[0].s.min == ref.min && a[0].s.max == ref.max &&
			      a[0].s.nan_count == ref.nan_count &&
			      rel_close(a[0].s.mean, ref.mean, 1e-12) &&
			      rel_close(a[0].s.m2, ref.m2, 1e-12),
		      "small chunks agree with the reference");
	}
	dsck_stats_free(a);
	dsck_stats_free(b);
	dsck_stats_free(c);
	o.chunk_bytes = 77; /* chunks shorter than a row: partial segments only */
	o.threads = 4;
	rc = dsck_stats_compute_opts(ck, &o, &a, &na, &err);
	CHECK(rc == DSCK_OK && na == 1 && a[0].s.max == ref.max && a[0].s.min == ref.min &&
		      rel_close(a[0].s.mean, ref.mean, 1e-12) &&
		      rel_close(a[0].s.m2, ref.m2, 1e-12),
	      "chunks of 77 elements agree with the reference");
	dsck_stats_free(a);

	/* Wrong scale shape: a clear error naming the scale. */
	struct dsck_tensor_stats *e = NULL;
	size_t ne = 0;
	dsck_error_clear(&err);
	rc = dsck_stats_compute(ck, "bad.*", 2, NULL, NULL, &e, &ne, &err);
	char line[1024];
	dsck_error_format(&err, line, sizeof line);
	printf("# %s\n", line);
	CHECK(rc == DSCK_E_MODEL_MISMATCH && e == NULL && ne == 0,
	      "scale of the wrong shape is MODEL_MISMATCH");
	CHECK(strcmp(err.tensor, "bad.weight_scale_inv") == 0 && strstr(err.expected, "[1, 1]") &&
		      strstr(err.found, "[2]"),
	      "error names the scale, expected and found shapes");

	/* No match: empty result. */
	rc = dsck_stats_compute(ck, "nothing*", 0, NULL, NULL, &e, &ne, &err);
	CHECK(rc == DSCK_OK && ne == 0 && e == NULL, "a glob matching nothing gives 0 results");
	dsck_stats_free(r);

	/* Accumulator merge equals a single pass. */
	double v[10000];
	for (int i = 0; i < 10000; i++)
		v[i] = sin(i * 0.37) * 1e3 + 5.0;
	struct dsck_stats whole, h1, h2;
	dsck_stats_init(&whole);
	dsck_stats_init(&h1);
	dsck_stats_init(&h2);
	dsck_stats_add(&whole, v, 10000);
	dsck_stats_add(&h1, v, 3333);
	dsck_stats_add(&h2, v + 3333, 10000 - 3333);
	dsck_stats_merge(&h1, &h2);
	CHECK(h1.count == 10000 && h1.min == whole.min && h1.max == whole.max &&
		      rel_close(h1.mean, whole.mean, 1e-13) && rel_close(h1.m2, whole.m2, 1e-12),
	      "merge of two parts equals the whole");

done:
	dsck_ckpt_close(ck);
	unlink(p1);
	unlink(p2);
	unlink(pidx);
	rmdir(dir);
	return test_done();
}
