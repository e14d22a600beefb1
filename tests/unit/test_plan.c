/*
 * test_plan.c - the plan engine against plain loops over the reference
 * kernels (formats.md PL-R2..PL-R8), with a tile budget so small that
 * tiles split rows, cross scale blocks and split columns; config edits
 * (CV-R5) and size parsing.
 */
#include "../test.h"

#include "arith.h"

#include "../../kernels/convert.h"
#include "ckpt.h"
#include "config.h"
#include "convert_plan.h"
#include "plan.h"
#include "safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

/* Inputs: 2-D shapes; FP8 codes avoid the NaN codes 0x7F/0xFF. */
#define W_R 300
#define W_C 260
#define WIDE_C 20000
#define B_R 37
#define B_C 50
#define C_R 200
#define C_C 300

static uint8_t w[W_R * W_C], wide[3 * WIDE_C];
static float w_s[3 * 3], wide_s[1 * 157];
static uint16_t bt[B_R * B_C], ct[C_R * C_C];
static float v[1000];

static uint8_t code(void)
{
	uint8_t c = (uint8_t)rnd();
	return (c & 0x7F) == 0x7F ? 0x7E : c;
}

static float pos_scale(void)
{
	return ldexpf(1.0f + (float)(rnd() % 1000) / 1000.0f, -(int)(rnd() % 12));
}

static uint16_t bf16_val(void)
{
	float x = ldexpf((float)((int)(rnd() % 20001) - 10000) / 10000.0f, (int)(rnd() % 6) - 3);
	return dsck_k_f32_to_bf16_rne(x);
}

static int write_input(const char *path)
{
	struct dsck_st_spec s[7] = {
		{ "w", DSCK_F8_E4M3, 2, { W_R, W_C } },
		{ "w_scale_inv", DSCK_F32, 2, { 3, 3 } },
		{ "wide", DSCK_F8_E4M3, 2, { 3, WIDE_C } },
		{ "wide_scale_inv", DSCK_F32, 2, { 1, 157 } },
		{ "b", DSCK_BF16, 2, { B_R, B_C } },
		{ "c", DSCK_BF16, 2, { C_R, C_C } },
		{ "v", DSCK_F32, 1, { 1000 } },
	};
	const void *data[7] = { w, w_s, wide, wide_s, bt, ct, v };
	size_t bytes[7] = { sizeof w, sizeof w_s, sizeof wide, sizeof wide_s, sizeof bt,
			    sizeof ct, sizeof v };
	struct dsck_stw stw;
	struct dsck_error err;
	if (dsck_stw_open(&stw, path, s, 7, NULL, 0, 0, &err))
		return -1;
	for (size_t k = 0; k < 7; k++) {
		size_t i = stw.order[k];
		if (dsck_stw_write(&stw, data[i], bytes[i], &err))
			return -1;
	}
	return dsck_stw_commit(&stw, &err) ? -1 : 0;
}

static void make_inputs(void)
{
	for (size_t i = 0; i < sizeof w; i++)
		w[i] = code();
	for (size_t i = 0; i < sizeof wide; i++)
		wide[i] = code();
	for (size_t i = 0; i < 9; i++)
		w_s[i] = pos_scale();
	for (size_t i = 0; i < 157; i++)
		wide_s[i] = pos_scale();
	for (size_t i = 0; i < B_R * B_C; i++)
		bt[i] = bf16_val();
	for (size_t i = 0; i < C_R * C_C; i++)
		ct[i] = bf16_val();
	ct[5] = 0;                 /* a block of zeros and one with one zero row */
	for (size_t r = 128; r < C_R; r++)
		for (size_t c = 256; c < C_C; c++)
			ct[r * C_C + c] = 0;
	for (size_t i = 0; i < 1000; i++)
		v[i] = (float)rnd() / 65536.0f;
}

static int64_t ck_idx(const struct dsck_ckpt *ck, const char *name)
{
	const struct dsck_ckpt_tensor *t = dsck_ckpt_find(ck, name, strlen(name));
	return t ? (int64_t)(t - ck->tensors) : -1;
}

static void add(struct dsck_plan *p, const struct dsck_ckpt *ck, const char *name,
		const char *src, enum dsck_xform xf, enum dsck_dtype dt, uint32_t ndim,
		uint64_t r, uint64_t c, int64_t src_scale, int64_t out_scale)
{
	struct dsck_plan_tensor t;
	struct dsck_error err;
	memset(&t, 0, sizeof t);
	t.name = (char *)name;
	t.dtype = dt;
	t.ndim = ndim;
	t.shape[0] = r;
	t.shape[1] = c;
	t.xf = xf;
	t.src = (uint32_t)ck_idx(ck, src);
	t.src_scale = src_scale;
	t.out_scale = out_scale;
	dsck_plan_add_tensor(p, &t, NULL, &err);
}

/* Expected ue8m0 scale by search: the smallest 2^k with amax <= 464 * 2^k. */
static float ue8m0_expected(float amax)
{
	if (amax < 1e-4f)
		amax = 1e-4f;
	for (int k = -60; k < 60; k++)
		if (amax <= ldexpf(464.0f, k))
			return ldexpf(1.0f, k);
	return NAN;
}

/* Reference quantization of a BF16 [R, C] tensor in 128x128 blocks. */
static void quant_ref(const uint16_t *x, size_t R, size_t C, int ue8m0,
		      uint8_t *q, float *s)
{
	size_t gc = (C + 127) / 128;
	for (size_t bi = 0; bi < (R + 127) / 128; bi++)
		for (size_t bj = 0; bj < gc; bj++) {
			float amax = 0;
			for (size_t r = bi * 128; r < R && r < bi * 128 + 128; r++)
				for (size_t c = bj * 128; c < C && c < bj * 128 + 128; c++) {
					uint32_t u = (uint32_t)x[r * C + c] << 16;
					float f;
					memcpy(&f, &u, 4);
					if (fabsf(f) > amax)
						amax = fabsf(f);
				}
			float sc = ue8m0 ? ue8m0_expected(amax) : (amax < 1e-4f ? 1e-4f : amax) / 448.0f;
			s[bi * gc + bj] = sc;
			for (size_t r = bi * 128; r < R && r < bi * 128 + 128; r++)
				for (size_t c = bj * 128; c < C && c < bj * 128 + 128; c++) {
					uint32_t u = (uint32_t)x[r * C + c] << 16;
					float f;
					memcpy(&f, &u, 4);
					q[r * C + c] = dsck_k_f32_to_e4m3_sat(f / sc);
				}
		}
}

static int read_tensor(const char *path, const char *name, void *buf, size_t n)
{
	struct dsck_st *st = NULL;
	struct dsck_error err;
	int rc = -1;
	if (dsck_st_open(path, &st, &err))
		return -1;
	long i = dsck_st_find(st, name, strlen(name));
	if (i >= 0 && st->tensors[i].end - st->tensors[i].begin == n &&
	    !dsck_st_read(st, (size_t)i, 0, buf, n, &err))
		rc = 0;
	dsck_st_free(st);
	return rc;
}

static void test_engine(const char *dir, int ue8m0, unsigned threads)
{
	char in[512], out[512], file[700];
	struct dsck_ckpt *ck = NULL;
	struct dsck_error err;
	struct dsck_plan p;
	struct dsck_plan_result res;
	const char *tag = ue8m0 ? "ue8m0" : "float";

	snprintf(in, sizeof in, "%s/in.safetensors", dir);
	snprintf(out, sizeof out, "%s/out-%s-%u", dir, tag, threads);
	dsck_error_clear(&err);
	CHECK(dsck_ckpt_open(in, &ck, &err) == DSCK_OK, "open input (%s)", err.detail);
	if (!ck)
		return;
	dsck_plan_init(&p, "test");
	p.scale_ue8m0 = ue8m0;
	dsck_plan_add_file(&p, "a.safetensors", &err);
	add(&p, ck, "w", "w", DSCK_XF_DEQUANT, DSCK_BF16, 2, W_R, W_C, ck_idx(ck, "w_scale_inv"), -1);
	add(&p, ck, "wide", "wide", DSCK_XF_DEQUANT, DSCK_F32, 2, 3, WIDE_C,
	    ck_idx(ck, "wide_scale_inv"), -1);
	add(&p, ck, "b", "b", DSCK_XF_CAST, DSCK_F32, 2, B_R, B_C, -1, -1);
	add(&p, ck, "v", "v", DSCK_XF_COPY, DSCK_F32, 1, 1000, 0, -1, -1);
	dsck_plan_add_file(&p, "b.safetensors", &err);
	size_t qi = p.n;
	add(&p, ck, "c", "c", DSCK_XF_QUANT, DSCK_F8_E4M3, 2, C_R, C_C, -1, (int64_t)qi + 1);
	add(&p, ck, "c_scale_inv", "c", DSCK_XF_QSCALE, DSCK_F32, 2, 2, 3, -1, (int64_t)qi);
	add(&p, ck, "wh", "wide", DSCK_XF_DEQUANT, DSCK_F16, 2, 3, WIDE_C,
	    ck_idx(ck, "wide_scale_inv"), -1);
	/* a slice: rows 130..259, cols 3..202 of w placed at (1, 5) of a 131 x 210 tensor */
	struct dsck_plan_piece pc = { (uint32_t)ck_idx(ck, "w"), 130, 3, 1, 5, 129, 200 };
	dsck_plan_add_piece(&p, &pc, NULL, &err);
	add(&p, ck, "slice", "w", DSCK_XF_COPY, DSCK_F8_E4M3, 2, 131, 210, -1, -1);
	p.t[p.n - 1].npieces = 1;
	CHECK(dsck_plan_layout(&p, &err) == DSCK_OK, "layout (%s)", err.detail);

	struct dsck_plan_opts o = { .threads = threads, .mem_budget = 1 };
	dsck_error_clear(&err);
	enum dsck_err rc = dsck_plan_execute(&p, ck, out, &o, &res, &err);
	CHECK(rc == DSCK_OK, "%s, %u threads: execute (%s)", tag, threads, err.detail);
	CHECK_EQ_U64(res.files_written, 2, "%s: two files written", tag);

	/* PL-R3: dequant = f32(code) * scale, RNE to the output dtype */
	static uint16_t got16[W_R * W_C], want16[W_R * W_C];
	snprintf(file, sizeof file, "%s/a.safetensors", out);
	for (size_t r = 0; r < W_R; r++)
		for (size_t c = 0; c < W_C; c += 128) {
			size_t n = W_C - c < 128 ? W_C - c : 128;
			dsck_k_ref_e4m3_to_bf16(w + r * W_C + c, n, w_s[(r / 128) * 3 + c / 128],
						want16 + r * W_C + c);
		}
	CHECK(read_tensor(file, "w", got16, sizeof got16) == 0 &&
	      memcmp(got16, want16, sizeof got16) == 0, "%s: dequant to BF16 across row tiles", tag);
	static float gotf[3 * WIDE_C], wantf[3 * WIDE_C];
	for (size_t r = 0; r < 3; r++)
		for (size_t c = 0; c < WIDE_C; c += 128) {
			size_t n = WIDE_C - c < 128 ? WIDE_C - c : 128;
			dsck_k_ref_e4m3_to_f32(wide + r * WIDE_C + c, n, wide_s[c / 128],
					       wantf + r * WIDE_C + c);
		}
	CHECK(read_tensor(file, "wide", gotf, sizeof gotf) == 0 &&
	      memcmp(gotf, wantf, sizeof gotf) == 0, "%s: dequant to F32 across column tiles", tag);
	float bf[B_R * B_C], bw[B_R * B_C];
	for (size_t i = 0; i < B_R * B_C; i++) {
		uint32_t u = (uint32_t)bt[i] << 16;
		memcpy(&bw[i], &u, 4);
	}
	CHECK(read_tensor(file, "b", bf, sizeof bf) == 0 && memcmp(bf, bw, sizeof bf) == 0,
	      "%s: BF16 -> F32 cast", tag);
	float vv[1000];
	CHECK(read_tensor(file, "v", vv, sizeof vv) == 0 && memcmp(vv, v, sizeof v) == 0,
	      "%s: copy", tag);

	/* PL-R4: quantization with edge blocks and column tiles */
	static uint8_t q[C_R * C_C], qw[C_R * C_C];
	float s[6], sw[6];
	quant_ref(ct, C_R, C_C, ue8m0, qw, sw);
	snprintf(file, sizeof file, "%s/b.safetensors", out);
	CHECK(read_tensor(file, "c", q, sizeof q) == 0 && memcmp(q, qw, sizeof q) == 0,
	      "%s: quantized codes", tag);
	CHECK(read_tensor(file, "c_scale_inv", s, sizeof s) == 0 && memcmp(s, sw, sizeof s) == 0,
	      "%s: quantized scales", tag);
	CHECK(sw[5] == (ue8m0 ? ldexpf(1.0f, -22) : 1e-4f / 448.0f),
	      "%s: an all-zero block gets the floor scale", tag);
	static uint16_t h[3 * WIDE_C], hw[3 * WIDE_C];
	for (size_t r = 0; r < 3; r++)
		for (size_t c = 0; c < WIDE_C; c += 128) {
			size_t n = WIDE_C - c < 128 ? WIDE_C - c : 128;
			dsck_k_ref_e4m3_to_f16(wide + r * WIDE_C + c, n, wide_s[c / 128],
					       hw + r * WIDE_C + c);
		}
	CHECK(read_tensor(file, "wh", h, sizeof h) == 0 && memcmp(h, hw, sizeof h) == 0,
	      "%s: dequant to F16", tag);
	static uint8_t sl[131 * 210], slw[131 * 210];
	memset(slw, 0, sizeof slw);
	for (size_t r = 0; r < 129; r++)
		memcpy(slw + (1 + r) * 210 + 5, w + (130 + r) * W_C + 3, 200);
	CHECK(read_tensor(file, "slice", sl, sizeof sl) == 0 && memcmp(sl, slw, sizeof sl) == 0,
	      "%s: a piece lands at its offset", tag);

	/* PL-R8: a second run refuses to overwrite, --force redoes */
	struct stat sb;
	snprintf(file, sizeof file, "%s/.dsck-test.state", out);
	CHECK(stat(file, &sb) != 0, "%s: no state file after a complete run", tag);
	dsck_error_clear(&err);
	rc = dsck_plan_execute(&p, ck, out, &o, &res, &err);
	CHECK(rc == DSCK_E_USAGE && strstr(err.detail, "--force"),
	      "%s: outputs without a state file are refused", tag);
	o.force = 1;
	rc = dsck_plan_execute(&p, ck, out, &o, &res, &err);
	CHECK(rc == DSCK_OK && res.files_written == 2, "%s: --force redoes them", tag);

	/* PL-R6: an interrupted run (stopped after its first commit) is
	 * resumed: the committed file is checked and kept */
	char out2[600];
	snprintf(out2, sizeof out2, "%s-resume", out);
	o.stop_after = 1;
	rc = dsck_plan_execute(&p, ck, out2, &o, &res, &err);
	snprintf(file, sizeof file, "%s/.dsck-test.state", out2);
	CHECK(rc != DSCK_OK && stat(file, &sb) == 0, "%s: a stopped run leaves its state", tag);
	o.stop_after = 0;
	rc = dsck_plan_execute(&p, ck, out2, &o, &res, &err);
	/* with several threads both files may have been committed */
	CHECK(rc == DSCK_OK && res.files_kept >= 1 && res.files_kept + res.files_written == 2,
	      "%s: rerun keeps the committed files, writes the rest", tag);
	/* the same, with the committed file damaged before the rerun */
	char out3[600];
	snprintf(out3, sizeof out3, "%s-damaged", out);
	o.stop_after = 1;
	dsck_plan_execute(&p, ck, out3, &o, &res, &err);
	o.stop_after = 0;
	snprintf(file, sizeof file, "%s/a.safetensors", out3);
	FILE *fb = fopen(file, "r+b");
	if (fb) {
		fseek(fb, -3, SEEK_END);
		fputc(0x55, fb);
		fclose(fb);
	}
	rc = dsck_plan_execute(&p, ck, out3, &o, &res, &err);
	CHECK(rc == DSCK_OK && res.files_redone == 1 && res.files_written >= 1 &&
	      res.files_kept + res.files_written == 2, "%s: a damaged committed file is redone", tag);
	snprintf(file, sizeof file, "%s/a.safetensors", out3);
	CHECK(read_tensor(file, "v", vv, sizeof vv) == 0 && memcmp(vv, v, sizeof v) == 0,
	      "%s: and correct again", tag);
	dsck_plan_release(&p);
	dsck_ckpt_close(ck);
}

static void test_config_edit(void)
{
	struct dsck_error err;
	char *out = NULL;
	size_t len = 0;
	const char *a = "{\n  \"a\": 1,\n  \"quantization_config\": {\"x\": [1, 2]},\n  \"torch_dtype\": \"bfloat16\",\n  \"z\": null\n}\n";
	CHECK(dsck_config_edit(a, strlen(a), "float16", NULL, 0, &out, &len, &err) == DSCK_OK &&
	      strcmp(out, "{\n  \"a\": 1,\n  \"torch_dtype\": \"float16\",\n  \"z\": null\n}\n") == 0,
	      "config edit: quantization_config removed, dtype set, rest kept");
	free(out);
	const char *b = "{\"quantization_config\": {}, \"b\": 2}";
	CHECK(dsck_config_edit(b, strlen(b), "bfloat16", NULL, 0, &out, &len, &err) == DSCK_OK &&
	      strcmp(out, "{\"b\": 2,\n  \"torch_dtype\": \"bfloat16\"}") == 0,
	      "config edit: first member removed, torch_dtype added");
	free(out);
	const char *c = "{\"b\": 2, \"quantization_config\": {\"q\": 1}}";
	CHECK(dsck_config_edit(c, strlen(c), "bfloat16", "{\"n\": 2}", 0, &out, &len, &err) == DSCK_OK &&
	      strcmp(out, "{\"b\": 2, \"quantization_config\": {\"n\": 2},\n  \"torch_dtype\": \"bfloat16\"}") == 0,
	      "config edit: quantization_config replaced");
	free(out);
	CHECK(dsck_config_edit(c, strlen(c), "bfloat16", NULL, 1, &out, &len, &err) == DSCK_OK &&
	      strstr(out, "{\"q\": 1}") != NULL, "config edit: quantization_config kept");
	free(out);
	const char *d = "{\"dtype\": \"float32\"}";
	CHECK(dsck_config_edit(d, strlen(d), "bfloat16", "{}", 0, &out, &len, &err) == DSCK_OK &&
	      strcmp(out, "{\"dtype\": \"bfloat16\",\n  \"quantization_config\": {}}") == 0,
	      "config edit: the newer dtype key, quantization_config added");
	free(out);
	CHECK(dsck_config_edit("[1]", 3, "bfloat16", NULL, 0, &out, &len, &err) != DSCK_OK,
	      "config edit: not an object");
	free(out);
}

static void test_size_parse(void)
{
	uint64_t sz = 0;
	CHECK(dsck_size_parse("5GB", &sz) == 0 && sz == 5000000000ull, "5GB");
	CHECK(dsck_size_parse("4GiB", &sz) == 0 && sz == (4ull << 30), "4GiB");
	CHECK(dsck_size_parse("123", &sz) == 0 && sz == 123, "plain bytes");
	CHECK(dsck_size_parse("0", &sz) != 0, "zero refused");
	CHECK(dsck_size_parse("5XB", &sz) != 0 && dsck_size_parse("", &sz) != 0 &&
	      dsck_size_parse("-1", &sz) != 0 && dsck_size_parse("99999999999TB", &sz) != 0,
	      "bad sizes refused");
	CHECK(dsck_size_parse("99999999999999999999", &sz) != 0 &&
	      dsck_size_parse("18446744073709551615", &sz) == 0 && sz == UINT64_MAX,
	      "a number past 2^64 - 1 refused, 2^64 - 1 taken");
	CHECK(dsck_u64_parse("18446744073709551615", UINT64_MAX, &sz) == 0 && sz == UINT64_MAX &&
	      dsck_u64_parse("18446744073709551616", UINT64_MAX, &sz) != 0 &&
	      dsck_u64_parse("12", 11, &sz) != 0 && dsck_u64_parse("+1", 9, &sz) != 0 &&
	      dsck_u64_parse(" 1", 9, &sz) != 0 && dsck_u64_parse("1x", 9, &sz) != 0 &&
	      dsck_u64_parse("", 9, &sz) != 0 && dsck_u64_parse("0", 9, &sz) == 0 && sz == 0,
	      "dsck_u64_parse: whole decimal text within max, overflow refused");
}

int main(void)
{
	char dir[] = "/tmp/dsck-test-plan-XXXXXX";
	char in[600];
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	make_inputs();
	snprintf(in, sizeof in, "%s/in.safetensors", dir);
	CHECK(write_input(in) == 0, "write the input");
	test_engine(dir, 0, 1);
	test_engine(dir, 1, 3);
	test_config_edit();
	test_size_parse();
	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return test_done();
}
