/*
 * test_kernels.c - the conversion kernels (kernels/convert.h).
 *
 *   1. The reference kernels against the ml_dtypes oracle
 *      tests/oracle/kernel_table.txt (gen_kernel_tables.py): all 256 e4m3
 *      codes x 8 scales to BF16, and all 65536 BF16 codes x 3 scales to
 *      e4m3 (the oracle clips to +-448 before casting; see the generator).
 *   2. Hand-picked edge cases of the e4m3 rounding: saturation, NaN signs,
 *      -0, subnormal ties, carries into the exponent.
 *   3. The AVX2 kernels (when the CPU has AVX2) and the dispatched kernels
 *      bit-identical to the reference: on the exhaustive inputs, on a
 *      strided sweep of float32 bit patterns, and on random buffers of odd
 *      lengths at every start offset 0..31 (not vector-aligned pointers,
 *      vector loops plus scalar tails).
 *
 * Usage: test_kernels [TABLE]   (default tests/oracle/kernel_table.txt)
 * DSCK_TEST_FULL=1 sweeps all 2^32 float32 patterns instead of every 257th.
 */
#include "convert.h"
#include "fp8.h"
#include "../test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

static float bits_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Parse count values of width hex digits each from s; 0 on success. */
static int parse_hex(const char *s, size_t count, int width, uint32_t *out)
{
	for (size_t i = 0; i < count; i++) {
		uint32_t v = 0;
		for (int k = 0; k < width; k++) {
			int d = hex_digit(s[i * (size_t)width + (size_t)k]);
			if (d < 0)
				return -1;
			v = v << 4 | (uint32_t)d;
		}
		out[i] = v;
	}
	return hex_digit(s[count * (size_t)width]) < 0 ? 0 : -1;
}

/* Print up to 4 mismatches of one comparison, return the mismatch count. */
static size_t diff_u16(const char *tag, const uint16_t *got,
		       const uint16_t *want, size_t n)
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		if (got[i] != want[i] && ++bad <= 4)
			printf("#   %s [%zu]: got 0x%04X, want 0x%04X\n", tag, i,
			       got[i], want[i]);
	return bad;
}

static size_t diff_u8(const char *tag, const uint8_t *got, const uint8_t *want,
		      size_t n)
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		if (got[i] != want[i] && ++bad <= 4)
			printf("#   %s [%zu]: got 0x%02X, want 0x%02X\n", tag, i,
			       got[i], want[i]);
	return bad;
}

static size_t diff_f32(const char *tag, const float *got, const float *want,
		       size_t n)
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		if (f32_bits(got[i]) != f32_bits(want[i]) && ++bad <= 4)
			printf("#   %s [%zu]: got %a, want %a\n", tag, i,
			       (double)got[i], (double)want[i]);
	return bad;
}

/* Implementations compared with the reference: AVX2 and the dispatcher. */
struct impl {
	const char *name;
	void (*e4m3_to_bf16)(const uint8_t *, size_t, float, uint16_t *);
	void (*e4m3_to_f32)(const uint8_t *, size_t, float, float *);
	void (*f32_to_e4m3)(const float *, size_t, float, uint8_t *);
	void (*bf16_to_e4m3)(const uint16_t *, size_t, float, uint8_t *);
};

static const struct impl impl_avx2 = {
	"avx2", dsck_k_avx2_e4m3_to_bf16, dsck_k_avx2_e4m3_to_f32,
	dsck_k_avx2_f32_to_e4m3, dsck_k_avx2_bf16_to_e4m3,
};
static const struct impl impl_dispatch = {
	"dispatch", dsck_k_e4m3_to_bf16, dsck_k_e4m3_to_f32,
	dsck_k_f32_to_e4m3, dsck_k_bf16_to_e4m3,
};

static int n_e4m3_bf16, n_bf16_e4m3;
static float scales_dq[16], scales_q[16];
static int n_dq, n_q;

static void check_table_line(char *line)
{
	char tag[16];
	unsigned sbits;
	int off = 0;
	if (sscanf(line, "%15s 0x%x %n", tag, &sbits, &off) != 2 || off == 0) {
		CHECK(0, "table line parses: %.40s", line);
		return;
	}
	float scale = bits_f32(sbits);
	const char *hex = line + off;
	if (strcmp(tag, "e4m3_bf16") == 0) {
		uint32_t want32[256];
		uint16_t want[256], got[256];
		uint8_t codes[256];
		int ok = parse_hex(hex, 256, 4, want32) == 0;
		CHECK(ok, "e4m3_bf16 scale %a: 256 hex codes", (double)scale);
		if (!ok)
			return;
		for (int i = 0; i < 256; i++) {
			want[i] = (uint16_t)want32[i];
			codes[i] = (uint8_t)i;
		}
		dsck_k_ref_e4m3_to_bf16(codes, 256, scale, got);
		CHECK_EQ_U64(diff_u16("ref e4m3->bf16", got, want, 256), 0,
			     "ref e4m3->bf16, all 256 codes, scale %a = ml_dtypes",
			     (double)scale);
		if (n_dq < 16)
			scales_dq[n_dq++] = scale;
		n_e4m3_bf16++;
	} else if (strcmp(tag, "bf16_e4m3") == 0) {
		uint32_t *want32 = malloc(65536 * sizeof *want32);
		uint8_t *want = malloc(65536), *got = malloc(65536);
		uint16_t *codes = malloc(65536 * sizeof *codes);
		if (!want32 || !want || !got || !codes)
			abort();
		int ok = parse_hex(hex, 65536, 2, want32) == 0;
		CHECK(ok, "bf16_e4m3 scale %a: 65536 hex codes", (double)scale);
		if (ok) {
			float *xs = malloc(65536 * sizeof *xs);
			uint8_t *got2 = malloc(65536);
			if (!xs || !got2)
				abort();
			for (uint32_t i = 0; i < 65536; i++) {
				want[i] = (uint8_t)want32[i];
				codes[i] = (uint16_t)i;
				xs[i] = bits_f32(i << 16);
			}
			dsck_k_ref_bf16_to_e4m3(codes, 65536, scale, got);
			CHECK_EQ_U64(diff_u8("ref bf16->e4m3", got, want, 65536), 0,
				     "ref bf16->e4m3, all 65536 codes, scale %a = ml_dtypes",
				     (double)scale);
			dsck_k_ref_f32_to_e4m3(xs, 65536, scale, got2);
			CHECK_EQ_U64(diff_u8("ref f32->e4m3", got2, want, 65536), 0,
				     "ref f32->e4m3, all 65536 bf16 values, scale %a = ml_dtypes",
				     (double)scale);
			free(xs);
			free(got2);
			if (n_q < 16)
				scales_q[n_q++] = scale;
			n_bf16_e4m3++;
		}
		free(want32);
		free(want);
		free(got);
		free(codes);
	} else {
		CHECK(0, "known table record %s", tag);
	}
}

static void check_table(const char *path)
{
	FILE *fp = fopen(path, "r");
	CHECK(fp != NULL, "open oracle table %s", path);
	if (!fp)
		return;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, fp) > 0) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		check_table_line(line);
	}
	free(line);
	fclose(fp);
	CHECK_EQ_U64(n_e4m3_bf16, 8, "table has 8 e4m3_bf16 scales");
	CHECK_EQ_U64(n_bf16_e4m3, 3, "table has 3 bf16_e4m3 scales");
}

/* Edge cases of the single-element helpers, written out by hand. */
static void check_edges(void)
{
	static const struct {
		float q;
		uint8_t want;
	} e[] = {
		{ 0.0f, 0x00 },
		{ -0.0f, 0x80 },
		{ 448.0f, 0x7E },
		{ -448.0f, 0xFE },
		{ 460.0f, 0x7E },          /* rounds to 448 */
		{ 464.0f, 0x7E },          /* tie, saturated */
		{ 1e30f, 0x7E },           /* finite overflow saturates */
		{ -1e30f, 0xFE },
		{ INFINITY, 0x7E },        /* infinity saturates too */
		{ -INFINITY, 0xFE },
		{ NAN, 0x7F },
		{ -NAN, 0xFF },
		{ 0x1p-9f, 0x01 },         /* smallest subnormal */
		{ 0x1p-10f, 0x00 },        /* tie to even: 0 */
		{ 0x1.000002p-10f, 0x01 }, /* just above the tie */
		{ 0x3p-10f, 0x02 },        /* 1.5 * 2^-9: tie to even, 2 */
		{ 0x5p-10f, 0x02 },        /* 2.5 * 2^-9: tie to even, 2 */
		{ 0x7p-9f, 0x07 },         /* largest subnormal */
		{ 0xFp-10f, 0x08 },        /* 7.5 * 2^-9: tie, up to 2^-6 */
		{ 0x1p-6f, 0x08 },         /* smallest normal */
		{ 1.0f, 0x38 },
		{ 1.0625f, 0x38 },         /* tie between 1 and 1.125: even */
		{ 1.1875f, 0x3A },         /* tie between 1.125 and 1.25: even */
		{ 1.9375f, 0x40 },         /* carry into the exponent: 2.0 */
		{ -3.0f, 0xC4 },
		{ 0x1p-149f, 0x00 },       /* float32 subnormal */
		{ -0x1p-149f, 0x80 },
	};
	size_t bad = 0;
	for (size_t i = 0; i < sizeof e / sizeof e[0]; i++) {
		uint8_t got = dsck_k_f32_to_e4m3_sat(e[i].q);
		if (got != e[i].want && ++bad <= 8)
			printf("#   e4m3(%a): got 0x%02X, want 0x%02X\n",
			       (double)e[i].q, got, e[i].want);
	}
	CHECK_EQ_U64(bad, 0, "f32->e4m3 edge cases (saturation, NaN, -0, ties)");

	static const struct {
		uint32_t in;
		uint16_t want;
	} b[] = {
		{ 0x3F800000u, 0x3F80 },
		{ 0x3F808000u, 0x3F80 }, /* tie, even stays */
		{ 0x3F818000u, 0x3F82 }, /* tie, odd rounds up */
		{ 0x3F808001u, 0x3F81 },
		{ 0x7F7FFFFFu, 0x7F80 }, /* FLT_MAX rounds to inf */
		{ 0x7F800000u, 0x7F80 },
		{ 0xFF800000u, 0xFF80 },
		{ 0x7F800001u, 0x7FC0 }, /* signalling NaN -> quiet */
		{ 0xFFFFFFFFu, 0xFFC0 },
		{ 0x80000000u, 0x8000 },
		{ 0x00008000u, 0x0000 }, /* subnormal tie */
		{ 0x00018000u, 0x0002 },
	};
	bad = 0;
	for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
		uint16_t got = dsck_k_f32_to_bf16_rne(bits_f32(b[i].in));
		if (got != b[i].want && ++bad <= 8)
			printf("#   bf16(0x%08X): got 0x%04X, want 0x%04X\n",
			       b[i].in, got, b[i].want);
	}
	CHECK_EQ_U64(bad, 0, "f32->bf16 edge cases (ties, overflow, NaN)");
}

/* xorshift64*: reproducible random test data. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

#define BUF_N 4096

/* One implementation against the reference: exhaustive inputs, strided
 * float32 sweep, random buffers at odd lengths and offsets. */
static void check_impl(const struct impl *im)
{
	static uint8_t codes[256 + 64], b_ref[65536 + 64], b_got[65536 + 64];
	static uint16_t h_ref[BUF_N + 64], h_got[BUF_N + 64], bf[65536 + 64];
	static float f_ref[BUF_N + 64], f_got[BUF_N + 64], xs[65536 + 64];
	size_t bad;

	for (int i = 0; i < 256; i++)
		codes[i] = (uint8_t)i;
	bad = 0;
	for (int k = 0; k < n_dq; k++) {
		dsck_k_ref_e4m3_to_bf16(codes, 256, scales_dq[k], h_ref);
		im->e4m3_to_bf16(codes, 256, scales_dq[k], h_got);
		bad += diff_u16("e4m3->bf16", h_got, h_ref, 256);
		dsck_k_ref_e4m3_to_f32(codes, 256, scales_dq[k], f_ref);
		im->e4m3_to_f32(codes, 256, scales_dq[k], f_got);
		bad += diff_f32("e4m3->f32", f_got, f_ref, 256);
	}
	CHECK_EQ_U64(bad, 0, "%s e4m3->bf16/f32 = ref, 256 codes x %d scales",
		     im->name, n_dq);

	for (uint32_t i = 0; i < 65536; i++) {
		bf[i] = (uint16_t)i;
		xs[i] = bits_f32(i << 16);
	}
	bad = 0;
	for (int k = 0; k < n_q; k++) {
		dsck_k_ref_bf16_to_e4m3(bf, 65536, scales_q[k], b_ref);
		im->bf16_to_e4m3(bf, 65536, scales_q[k], b_got);
		bad += diff_u8("bf16->e4m3", b_got, b_ref, 65536);
		im->f32_to_e4m3(xs, 65536, scales_q[k], b_got);
		bad += diff_u8("f32->e4m3", b_got, b_ref, 65536);
	}
	CHECK_EQ_U64(bad, 0, "%s bf16/f32->e4m3 = ref, 65536 codes x %d scales",
		     im->name, n_q);

	/* float32 bit patterns with stride 257 (prime; 16.7 million of
	 * them): every exponent, many mantissas, both signs, NaN payloads;
	 * scale 1 and 3.7e-3. DSCK_TEST_FULL=1 makes it all 2^32 patterns. */
	const char *full = getenv("DSCK_TEST_FULL");
	uint32_t stride = full && strcmp(full, "1") == 0 ? 1u : 257u;
	bad = 0;
	uint64_t u = 0;
	size_t swept = 0;
	for (;;) {
		size_t m = 0;
		while (m < 65536 && u <= 0xFFFFFFFFu) {
			xs[m++] = bits_f32((uint32_t)u);
			u += stride;
		}
		if (m == 0)
			break;
		for (int k = 0; k < 2; k++) {
			float s = k ? 3.7e-3f : 1.0f;
			dsck_k_ref_f32_to_e4m3(xs, m, s, b_ref);
			im->f32_to_e4m3(xs, m, s, b_got);
			bad += diff_u8("f32 sweep->e4m3", b_got, b_ref, m);
		}
		swept += m;
		if (m < 65536)
			break;
	}
	CHECK_EQ_U64(bad, 0, "%s f32->e4m3 = ref on %zu strided float32 patterns",
		     im->name, swept);

	/* random buffers: every start offset 0..31 elements, odd lengths */
	bad = 0;
	size_t runs = 0;
	for (int off = 0; off < 32; off++) {
		for (int r = 0; r < 6; r++) {
			size_t len = (size_t)(rng_next() % (BUF_N - 64)) | 1;
			if (r == 0)
				len = (size_t)off; /* short: tail only, 0 included */
			float s = bits_f32(0x3A000000u + (uint32_t)(rng_next() % 0x4000000u));
			for (size_t i = 0; i < len + (size_t)off; i++) {
				uint64_t v = rng_next();
				b_got[i] = (uint8_t)v;
				bf[i] = (uint16_t)(v >> 8);
				xs[i] = bits_f32((uint32_t)(v >> 32));
				/* half of the floats in a realistic range */
				if (v & 0x100)
					xs[i] = (float)((int64_t)(v >> 40) - (1 << 23)) * 0x1p-14f;
			}
			memcpy(b_ref, b_got, len + (size_t)off); /* e4m3 input copy */
			dsck_k_ref_e4m3_to_bf16(b_ref + off, len, s, h_ref);
			im->e4m3_to_bf16(b_ref + off, len, s, h_got + off);
			bad += diff_u16("rand e4m3->bf16", h_got + off, h_ref, len);
			dsck_k_ref_e4m3_to_f32(b_ref + off, len, s, f_ref);
			im->e4m3_to_f32(b_ref + off, len, s, f_got + off);
			bad += diff_f32("rand e4m3->f32", f_got + off, f_ref, len);
			dsck_k_ref_f32_to_e4m3(xs + off, len, s, b_ref);
			im->f32_to_e4m3(xs + off, len, s, b_got + off);
			bad += diff_u8("rand f32->e4m3", b_got + off, b_ref, len);
			dsck_k_ref_bf16_to_e4m3(bf + off, len, s, b_ref);
			im->bf16_to_e4m3(bf + off, len, s, b_got + off);
			bad += diff_u8("rand bf16->e4m3", b_got + off, b_ref, len);
			runs++;
		}
	}
	CHECK_EQ_U64(bad, 0, "%s = ref on %zu random buffers (offsets 0..31, odd lengths)",
		     im->name, runs);
}

/* The kernels never write past dst[n-1]. */
static void check_bounds(const struct impl *im)
{
	uint8_t src8[80], dst8[80];
	uint16_t src16[80], dst16[80];
	float srcf[80], dstf[80];
	memset(src8, 0x38, sizeof src8);
	for (int i = 0; i < 80; i++) {
		src16[i] = 0x3F80;
		srcf[i] = 1.0f;
	}
	int ok = 1;
	for (size_t n = 0; n <= 72; n++) {
		memset(dst8, 0xAA, sizeof dst8);
		memset(dst16, 0xAA, sizeof dst16);
		memset(dstf, 0xAA, sizeof dstf);
		im->e4m3_to_bf16(src8, n, 1.0f, dst16);
		im->e4m3_to_f32(src8, n, 1.0f, dstf);
		im->f32_to_e4m3(srcf, n, 1.0f, dst8);
		for (size_t i = n; i < 80; i++)
			ok &= dst8[i] == 0xAA && dst16[i] == 0xAAAA &&
			      f32_bits(dstf[i]) == 0xAAAAAAAAu;
		memset(dst8, 0xAA, sizeof dst8);
		im->bf16_to_e4m3(src16, n, 1.0f, dst8);
		for (size_t i = 0; i < 80; i++)
			ok &= dst8[i] == (i < n ? 0x38 : 0xAA);
	}
	CHECK(ok, "%s writes exactly n elements, n = 0..72", im->name);
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "tests/oracle/kernel_table.txt";
	check_table(path);
	check_edges();

	printf("# dispatcher chose %s\n", dsck_k_impl_name());
	const char *env = getenv("DSCK_KERNELS");
	if (env && strcmp(env, "ref") == 0)
		CHECK(strcmp(dsck_k_impl_name(), "ref") == 0,
		      "DSCK_KERNELS=ref forces the reference");
	else
		CHECK(strcmp(dsck_k_impl_name(),
			     dsck_k_avx2_usable() ? "avx2" : "ref") == 0,
		      "dispatcher picks avx2 exactly when the CPU has it");

	check_impl(&impl_dispatch);
	check_bounds(&impl_dispatch);
	if (dsck_k_avx2_usable()) {
		check_impl(&impl_avx2);
		check_bounds(&impl_avx2);
	} else {
		printf("# SKIP avx2 kernels: the CPU has no AVX2\n");
	}
	return test_done();
}
