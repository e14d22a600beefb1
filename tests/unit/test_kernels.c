/*
 * test_kernels.c - the conversion kernels (kernels/convert.h).
 *
 *   1. Every implementation the CPU runs (ref, avx2, avx512, and the
 *      dispatcher) against the ml_dtypes/numpy oracle
 *      tests/oracle/kernel_table.txt (gen_kernel_tables.py): all 256 e4m3
 *      codes x 8 scales to BF16 and to F16, all 65536 BF16 codes x 3 scales
 *      to e4m3 (the oracle clips to +-448 before casting; see the
 *      generator), all 65536 F16 codes to float32, and some 7000 float32
 *      edge cases and random patterns to F16 and BF16.
 *   2. Hand-picked edge cases of the single-element helpers (e4m3, bf16 and
 *      f16 rounding: saturation/overflow, NaN signs, -0, subnormal ties,
 *      carries into the exponent) and of amax.
 *   3. The SIMD kernels and the dispatched kernels bit-identical to the
 *      reference: on the exhaustive inputs, on a strided sweep of float32
 *      bit patterns, and on random buffers of odd lengths at odd start
 *      offsets (not vector-aligned pointers, vector loops plus tails), with
 *      NaN, inf, subnormal inputs and odd scales mixed in; every kernel
 *      writes exactly n elements.
 *
 * Usage: test_kernels [TABLE]   (default tests/oracle/kernel_table.txt)
 * DSCK_TEST_FULL=1 sweeps all 2^32 float32 patterns instead of every 257th
 * (e4m3) and every 4099th (bf16, f16).
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

static size_t diff_u32(const char *tag, const uint32_t *got,
		       const uint32_t *want, size_t n)
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		if (got[i] != want[i] && ++bad <= 4)
			printf("#   %s [%zu]: got 0x%08X, want 0x%08X\n", tag, i,
			       got[i], want[i]);
	return bad;
}

/* One set of kernels: the reference, a SIMD set or the dispatcher. */
struct impl {
	const char *name;
	void (*e4m3_to_bf16)(const uint8_t *, size_t, float, uint16_t *);
	void (*e4m3_to_f32)(const uint8_t *, size_t, float, float *);
	void (*f32_to_e4m3)(const float *, size_t, float, uint8_t *);
	void (*bf16_to_e4m3)(const uint16_t *, size_t, float, uint8_t *);
	void (*bf16_to_f32)(const uint16_t *, size_t, float *);
	void (*f32_to_bf16)(const float *, size_t, uint16_t *);
	void (*f16_to_f32)(const uint16_t *, size_t, float *);
	void (*f32_to_f16)(const float *, size_t, uint16_t *);
	void (*e4m3_to_f16)(const uint8_t *, size_t, float, uint16_t *);
	float (*amax_f32)(const float *, size_t);
};

static const struct impl impl_ref = {
	"ref", dsck_k_ref_e4m3_to_bf16, dsck_k_ref_e4m3_to_f32,
	dsck_k_ref_f32_to_e4m3, dsck_k_ref_bf16_to_e4m3,
	dsck_k_ref_bf16_to_f32, dsck_k_ref_f32_to_bf16,
	dsck_k_ref_f16_to_f32, dsck_k_ref_f32_to_f16,
	dsck_k_ref_e4m3_to_f16, dsck_k_ref_amax_f32,
};
static const struct impl impl_avx2 = {
	"avx2", dsck_k_avx2_e4m3_to_bf16, dsck_k_avx2_e4m3_to_f32,
	dsck_k_avx2_f32_to_e4m3, dsck_k_avx2_bf16_to_e4m3,
	dsck_k_avx2_bf16_to_f32, dsck_k_avx2_f32_to_bf16,
	dsck_k_avx2_f16_to_f32, dsck_k_avx2_f32_to_f16,
	dsck_k_avx2_e4m3_to_f16, dsck_k_avx2_amax_f32,
};
static const struct impl impl_avx512 = {
	"avx512", dsck_k_avx512_e4m3_to_bf16, dsck_k_avx512_e4m3_to_f32,
	dsck_k_avx512_f32_to_e4m3, dsck_k_avx512_bf16_to_e4m3,
	dsck_k_avx512_bf16_to_f32, dsck_k_avx512_f32_to_bf16,
	dsck_k_avx512_f16_to_f32, dsck_k_avx512_f32_to_f16,
	dsck_k_avx512_e4m3_to_f16, dsck_k_avx512_amax_f32,
};
static const struct impl impl_dispatch = {
	"dispatch", dsck_k_e4m3_to_bf16, dsck_k_e4m3_to_f32,
	dsck_k_f32_to_e4m3, dsck_k_bf16_to_e4m3,
	dsck_k_bf16_to_f32, dsck_k_f32_to_bf16,
	dsck_k_f16_to_f32, dsck_k_f32_to_f16,
	dsck_k_e4m3_to_f16, dsck_k_amax_f32,
};

/* The oracle table, parsed once (check_table) and then compared with each
 * implementation (check_table_impl). */
#define TAB_SCALES 16
#define TAB_NARROW 16384
static float scales_dq[TAB_SCALES], scales_q[TAB_SCALES], scales_h[TAB_SCALES];
static int n_dq, n_q, n_h;
static uint16_t want_e4m3_bf16[TAB_SCALES][256], want_e4m3_f16[TAB_SCALES][256];
static uint8_t *want_bf16_e4m3[TAB_SCALES];
static uint32_t want_f16_f32[65536];
static int have_f16_f32;
static uint32_t narrow_in[TAB_NARROW];
static uint16_t narrow_f16[TAB_NARROW], narrow_bf16[TAB_NARROW];
static size_t n_narrow;
static int table_bad_lines;

/* 256 codes of 4 hex digits -> out; 0 on success. */
static int parse_codes16(const char *hex, uint16_t *out)
{
	uint32_t v[256];
	if (parse_hex(hex, 256, 4, v) != 0)
		return -1;
	for (int i = 0; i < 256; i++)
		out[i] = (uint16_t)v[i];
	return 0;
}

static void parse_table_line(char *line)
{
	char tag[16];
	unsigned a, h, b;
	int off = 0;
	if (sscanf(line, "%15s %n", tag, &off) != 1 || off == 0)
		goto bad;
	if (strcmp(tag, "f32_narrow") == 0) {
		if (sscanf(line + off, "0x%x %x %x", &a, &h, &b) != 3 ||
		    n_narrow >= TAB_NARROW)
			goto bad;
		narrow_in[n_narrow] = a;
		narrow_f16[n_narrow] = (uint16_t)h;
		narrow_bf16[n_narrow] = (uint16_t)b;
		n_narrow++;
		return;
	}
	if (strcmp(tag, "f16_f32") == 0) {
		if (parse_hex(line + off, 65536, 8, want_f16_f32) != 0)
			goto bad;
		have_f16_f32 = 1;
		return;
	}
	unsigned sbits;
	int off2 = 0;
	if (sscanf(line + off, "0x%x %n", &sbits, &off2) != 1 || off2 == 0)
		goto bad;
	float scale = bits_f32(sbits);
	const char *hex = line + off + off2;
	if (strcmp(tag, "e4m3_bf16") == 0 && n_dq < TAB_SCALES) {
		if (parse_codes16(hex, want_e4m3_bf16[n_dq]) != 0)
			goto bad;
		scales_dq[n_dq++] = scale;
	} else if (strcmp(tag, "e4m3_f16") == 0 && n_h < TAB_SCALES) {
		if (parse_codes16(hex, want_e4m3_f16[n_h]) != 0)
			goto bad;
		scales_h[n_h++] = scale;
	} else if (strcmp(tag, "bf16_e4m3") == 0 && n_q < TAB_SCALES) {
		uint32_t *v = malloc(65536 * sizeof *v);
		uint8_t *w = malloc(65536);
		if (!v || !w)
			abort();
		if (parse_hex(hex, 65536, 2, v) != 0) {
			free(v);
			free(w);
			goto bad;
		}
		for (size_t i = 0; i < 65536; i++)
			w[i] = (uint8_t)v[i];
		free(v);
		want_bf16_e4m3[n_q] = w;
		scales_q[n_q++] = scale;
	} else {
		goto bad;
	}
	return;
bad:
	if (++table_bad_lines <= 4)
		printf("#   bad table line: %.40s\n", line);
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
		parse_table_line(line);
	}
	free(line);
	fclose(fp);
	CHECK_EQ_U64(table_bad_lines, 0, "every table line parses");
	CHECK_EQ_U64(n_dq, 8, "table has 8 e4m3_bf16 scales");
	CHECK_EQ_U64(n_q, 3, "table has 3 bf16_e4m3 scales");
	CHECK_EQ_U64(n_h, 8, "table has 8 e4m3_f16 scales");
	CHECK(have_f16_f32, "table has the 65536 f16_f32 codes");
	CHECK(n_narrow >= 5000, "table has %zu f32_narrow inputs", n_narrow);
}

/* One implementation against the oracle table. */
static void check_table_impl(const struct impl *im)
{
	static uint8_t codes[256], b_got[65536];
	static uint16_t bf[65536], h_got[TAB_NARROW];
	static float xs[TAB_NARROW > 65536 ? TAB_NARROW : 65536];
	static uint32_t u_got[65536];
	static float f_got[65536];
	size_t bad;

	for (int i = 0; i < 256; i++)
		codes[i] = (uint8_t)i;
	bad = 0;
	for (int k = 0; k < n_dq; k++) {
		im->e4m3_to_bf16(codes, 256, scales_dq[k], h_got);
		bad += diff_u16("e4m3->bf16", h_got, want_e4m3_bf16[k], 256);
	}
	CHECK_EQ_U64(bad, 0, "%s e4m3->bf16 = ml_dtypes, 256 codes x %d scales",
		     im->name, n_dq);
	bad = 0;
	for (int k = 0; k < n_h; k++) {
		im->e4m3_to_f16(codes, 256, scales_h[k], h_got);
		bad += diff_u16("e4m3->f16", h_got, want_e4m3_f16[k], 256);
	}
	CHECK_EQ_U64(bad, 0, "%s e4m3->f16 = numpy, 256 codes x %d scales",
		     im->name, n_h);

	for (uint32_t i = 0; i < 65536; i++) {
		bf[i] = (uint16_t)i;
		xs[i] = bits_f32(i << 16);
	}
	bad = 0;
	for (int k = 0; k < n_q; k++) {
		im->bf16_to_e4m3(bf, 65536, scales_q[k], b_got);
		bad += diff_u8("bf16->e4m3", b_got, want_bf16_e4m3[k], 65536);
		im->f32_to_e4m3(xs, 65536, scales_q[k], b_got);
		bad += diff_u8("f32->e4m3", b_got, want_bf16_e4m3[k], 65536);
	}
	CHECK_EQ_U64(bad, 0,
		     "%s bf16/f32->e4m3 = ml_dtypes, 65536 codes x %d scales",
		     im->name, n_q);

	if (have_f16_f32) {
		im->f16_to_f32(bf, 65536, f_got);
		for (size_t i = 0; i < 65536; i++)
			u_got[i] = f32_bits(f_got[i]);
		CHECK_EQ_U64(diff_u32("f16->f32", u_got, want_f16_f32, 65536), 0,
			     "%s f16->f32 = numpy (NaN quieted), all 65536 codes",
			     im->name);
	}

	for (size_t i = 0; i < n_narrow; i++)
		xs[i] = bits_f32(narrow_in[i]);
	im->f32_to_f16(xs, n_narrow, h_got);
	CHECK_EQ_U64(diff_u16("f32->f16", h_got, narrow_f16, n_narrow), 0,
		     "%s f32->f16 = numpy on %zu edge/random inputs", im->name,
		     n_narrow);
	im->f32_to_bf16(xs, n_narrow, h_got);
	CHECK_EQ_U64(diff_u16("f32->bf16", h_got, narrow_bf16, n_narrow), 0,
		     "%s f32->bf16 = ml_dtypes on %zu edge/random inputs",
		     im->name, n_narrow);
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

/* Edge cases of the float16 helpers and amax, written out by hand. */
static void check_edges_f16(void)
{
	static const struct {
		uint32_t in;
		uint16_t want;
	} h[] = {
		{ 0x3F800000u, 0x3C00 }, /* 1 */
		{ 0x3F801000u, 0x3C00 }, /* tie, even stays */
		{ 0x3F803000u, 0x3C02 }, /* tie, odd rounds up */
		{ 0x3F801001u, 0x3C01 },
		{ 0x477FE000u, 0x7BFF }, /* 65504, largest finite */
		{ 0x477FEFFFu, 0x7BFF }, /* just below the tie */
		{ 0x477FF000u, 0x7C00 }, /* 65520: tie, rounds to inf */
		{ 0xC77FF000u, 0xFC00 },
		{ 0x7F7FFFFFu, 0x7C00 }, /* FLT_MAX -> inf */
		{ 0x7F800000u, 0x7C00 },
		{ 0xFF800000u, 0xFC00 },
		{ 0x7F800001u, 0x7E00 }, /* signalling NaN -> quiet, no payload */
		{ 0x7FFFFFFFu, 0x7E00 },
		{ 0xFFC00000u, 0xFE00 },
		{ 0x80000000u, 0x8000 },
		{ 0x38800000u, 0x0400 }, /* 2^-14, smallest normal */
		{ 0x387FF000u, 0x0400 }, /* 1023.75 * 2^-24: up to normal */
		{ 0x387FE000u, 0x0400 }, /* 1023.5 * 2^-24: tie, up to normal */
		{ 0x387FC000u, 0x03FF }, /* 1023 * 2^-24, largest subnormal */
		{ 0x387FA000u, 0x03FE }, /* 1022.5 * 2^-24: tie, down to even */
		{ 0x33800000u, 0x0001 }, /* 2^-24, smallest subnormal */
		{ 0x33000000u, 0x0000 }, /* 2^-25: tie to even, 0 */
		{ 0x33000001u, 0x0001 }, /* just above the tie */
		{ 0x33C00000u, 0x0002 }, /* 1.5 * 2^-24: tie, 2 */
		{ 0x34200000u, 0x0002 }, /* 2.5 * 2^-24: tie, 2 */
		{ 0xB3C00000u, 0x8002 },
		{ 0x00000001u, 0x0000 }, /* float32 subnormal */
		{ 0x80000001u, 0x8000 },
	};
	size_t bad = 0;
	for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
		uint16_t got = dsck_k_f32_to_f16_rne(bits_f32(h[i].in));
		if (got != h[i].want && ++bad <= 8)
			printf("#   f16(0x%08X): got 0x%04X, want 0x%04X\n",
			       h[i].in, got, h[i].want);
	}
	CHECK_EQ_U64(bad, 0, "f32->f16 edge cases (ties, overflow, subnormals, NaN)");

	/* f16 -> f32 against the scalar decoder of lib/fp8.c, all codes */
	uint16_t codes[256];
	float got[256];
	bad = 0;
	for (uint32_t base = 0; base < 65536; base += 256) {
		for (uint32_t i = 0; i < 256; i++)
			codes[i] = (uint16_t)(base + i);
		dsck_k_ref_f16_to_f32(codes, 256, got);
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t want = f32_bits(dsck_fp8_f16_to_f32(codes[i]));
			if (f32_bits(got[i]) != want && ++bad <= 4)
				printf("#   f16 0x%04X: got 0x%08X, want 0x%08X\n",
				       codes[i], f32_bits(got[i]), want);
		}
	}
	CHECK_EQ_U64(bad, 0, "ref f16->f32 = dsck_fp8_f16_to_f32, all 65536 codes");

	/* f16 -> f32 -> f16 is the identity on all non-NaN codes, and maps
	 * NaNs to sign|0x7E00 */
	bad = 0;
	for (uint32_t c = 0; c < 65536; c++) {
		uint16_t back = dsck_k_f32_to_f16_rne(dsck_fp8_f16_to_f32((uint16_t)c));
		uint16_t want = (c & 0x7FFF) > 0x7C00 ? (uint16_t)((c & 0x8000) | 0x7E00)
						      : (uint16_t)c;
		if (back != want && ++bad <= 4)
			printf("#   f16 round trip 0x%04X -> 0x%04X\n", c, back);
	}
	CHECK_EQ_U64(bad, 0, "f16 -> f32 -> f16 round trip, all 65536 codes");

	static const float a1[] = { -3.0f, 2.0f, 0.5f };
	static const float a2[] = { -0.0f };
	static const float a3[] = { 1.0f, -INFINITY, 2.0f };
	static const float a4[] = { 1.0f, INFINITY, -NAN, 2.0f };
	static const float a5[] = { 0x1p-149f, -0x1p-140f };
	int ok = f32_bits(dsck_k_ref_amax_f32(a1, 0)) == 0 &&
		 dsck_k_ref_amax_f32(a1, 3) == 3.0f &&
		 f32_bits(dsck_k_ref_amax_f32(a2, 1)) == 0 &&
		 dsck_k_ref_amax_f32(a3, 3) == INFINITY &&
		 f32_bits(dsck_k_ref_amax_f32(a4, 4)) == 0x7FC00000u &&
		 dsck_k_ref_amax_f32(a5, 2) == 0x1p-140f;
	CHECK(ok, "amax edge cases (empty, -0, inf, NaN, subnormals)");
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

/* A float32 test input: a quarter random bit patterns, a quarter realistic
 * weights, a quarter values around the float16 range, a quarter special
 * values (NaNs, infinities, zeros, subnormals, rounding ties). */
static float rand_input(void)
{
	static const uint32_t special[] = {
		0x7FC00000u, 0xFFC00000u, 0x7F800001u, 0xFFA00001u, 0x7F800000u,
		0xFF800000u, 0x00000000u, 0x80000000u, 0x00000001u, 0x807FFFFFu,
		0x33000000u, 0x33C00000u, 0xB3800000u, 0x387FF000u, 0x477FF000u,
		0xC77FE000u, 0x3F808000u, 0x3F818000u, 0x3F801000u, 0x43E00000u,
		0x43E80000u, 0x3A800000u, 0x7F7FFFFFu, 0xFF7F8000u,
	};
	uint64_t v = rng_next();
	uint32_t lo = (uint32_t)(v >> 32);
	switch (v & 3) {
	case 0:
		return bits_f32(lo);
	case 1:
		return (float)((int64_t)(lo >> 8) - (1 << 23)) * 0x1p-14f;
	case 2: /* exponents 100..143, either sign */
		return bits_f32((lo & 0x807FFFFFu) |
				(100u + (uint32_t)(v >> 8 & 0xFF) % 44u) << 23);
	default:
		return bits_f32(special[(v >> 8) % (sizeof special / sizeof special[0])]);
	}
}

#define BUF_N 4096

/* One implementation against the reference on exhaustive inputs. */
static void check_exhaustive(const struct impl *im)
{
	static uint8_t codes[256], b_ref[65536], b_got[65536];
	static uint16_t h_ref[65536], h_got[65536], bf[65536];
	static float f_ref[65536], f_got[65536], xs[65536];
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
	for (int k = 0; k < n_h; k++) {
		dsck_k_ref_e4m3_to_f16(codes, 256, scales_h[k], h_ref);
		im->e4m3_to_f16(codes, 256, scales_h[k], h_got);
		bad += diff_u16("e4m3->f16", h_got, h_ref, 256);
	}
	CHECK_EQ_U64(bad, 0, "%s e4m3->bf16/f32/f16 = ref, 256 codes x %d scales",
		     im->name, n_dq + n_h);

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

	/* the 16-bit formats: every code widened, and every widened BF16 and
	 * F16 value narrowed again (all exponents, both signs, NaNs) */
	bad = 0;
	dsck_k_ref_bf16_to_f32(bf, 65536, f_ref);
	im->bf16_to_f32(bf, 65536, f_got);
	bad += diff_f32("bf16->f32", f_got, f_ref, 65536);
	for (uint32_t i = 0; i < 65536; i++)
		bad += f32_bits(f_got[i]) != f32_bits(dsck_fp8_bf16_to_f32(bf[i]));
	dsck_k_ref_f16_to_f32(bf, 65536, f_ref);
	im->f16_to_f32(bf, 65536, f_got);
	bad += diff_f32("f16->f32", f_got, f_ref, 65536);
	CHECK_EQ_U64(bad, 0, "%s bf16/f16->f32 = ref, all 65536 codes", im->name);

	bad = 0;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			memcpy(xs, f_ref, sizeof xs); /* the widened F16 values */
		dsck_k_ref_f32_to_f16(xs, 65536, h_ref);
		im->f32_to_f16(xs, 65536, h_got);
		bad += diff_u16("f32->f16", h_got, h_ref, 65536);
		dsck_k_ref_f32_to_bf16(xs, 65536, h_ref);
		im->f32_to_bf16(xs, 65536, h_got);
		bad += diff_u16("f32->bf16", h_got, h_ref, 65536);
	}
	CHECK_EQ_U64(bad, 0, "%s f32->f16/bf16 = ref on all BF16 and F16 values",
		     im->name);
}

/*
 * Float32 bit patterns with a stride, all implementations at once against
 * the reference (computed once per chunk): f32->e4m3 at scales 1 and
 * 3.7e-3 on every 257th pattern (prime; 16.7 million of them: every
 * exponent, many mantissas, both signs, NaN payloads), f32->bf16 and
 * f32->f16 on every 4099th (1 million). DSCK_TEST_FULL=1 makes both all
 * 2^32 patterns.
 */
static void check_sweep(const struct impl *const *ims, int n_ims)
{
	static float xs[65536];
	static uint8_t b_ref[65536], b_got[65536];
	static uint16_t h_ref[65536], h_got[65536];
	const char *full = getenv("DSCK_TEST_FULL");
	int is_full = full && strcmp(full, "1") == 0;
	size_t bad[8] = { 0 }, swept[2] = { 0 };

	for (int pass = 0; pass < 2; pass++) {
		uint32_t stride = is_full ? 1u : pass == 0 ? 257u : 4099u;
		uint64_t u = 0;
		for (;;) {
			size_t m = 0;
			while (m < 65536 && u <= 0xFFFFFFFFu) {
				xs[m++] = bits_f32((uint32_t)u);
				u += stride;
			}
			if (m == 0)
				break;
			if (pass == 0) {
				for (int k = 0; k < 2; k++) {
					float s = k ? 3.7e-3f : 1.0f;
					dsck_k_ref_f32_to_e4m3(xs, m, s, b_ref);
					for (int j = 0; j < n_ims; j++) {
						ims[j]->f32_to_e4m3(xs, m, s, b_got);
						bad[j] += diff_u8("f32 sweep->e4m3", b_got, b_ref, m);
					}
				}
			} else {
				dsck_k_ref_f32_to_bf16(xs, m, h_ref);
				for (int j = 0; j < n_ims; j++) {
					ims[j]->f32_to_bf16(xs, m, h_got);
					bad[4 + j] += diff_u16("f32 sweep->bf16", h_got, h_ref, m);
				}
				dsck_k_ref_f32_to_f16(xs, m, h_ref);
				for (int j = 0; j < n_ims; j++) {
					ims[j]->f32_to_f16(xs, m, h_got);
					bad[4 + j] += diff_u16("f32 sweep->f16", h_got, h_ref, m);
				}
			}
			swept[pass] += m;
			if (m < 65536)
				break;
		}
	}
	for (int j = 0; j < n_ims; j++) {
		CHECK_EQ_U64(bad[j], 0, "%s f32->e4m3 = ref on %zu strided float32 patterns",
			     ims[j]->name, swept[0]);
		CHECK_EQ_U64(bad[4 + j], 0,
			     "%s f32->bf16/f16 = ref on %zu strided float32 patterns",
			     ims[j]->name, swept[1]);
	}
}

/* One implementation against the reference on random buffers. */
static void check_random(const struct impl *im)
{
	static uint8_t b_in[BUF_N + 64], b_ref[BUF_N + 64], b_got[BUF_N + 64];
	static uint16_t h_ref[BUF_N + 64], h_got[BUF_N + 64], bf[BUF_N + 64];
	static float f_ref[BUF_N + 64], f_got[BUF_N + 64], xs[BUF_N + 64];
	size_t bad = 0, runs = 0;

	/* the original kernels: every start offset 0..31 elements, odd
	 * lengths, random scales */
	for (int off = 0; off < 32; off++) {
		for (int r = 0; r < 6; r++) {
			size_t len = (size_t)(rng_next() % (BUF_N - 64)) | 1;
			if (r == 0)
				len = (size_t)off; /* short: tail only, 0 included */
			float s = bits_f32(0x3A000000u + (uint32_t)(rng_next() % 0x4000000u));
			for (size_t i = 0; i < len + (size_t)off; i++) {
				uint64_t v = rng_next();
				b_in[i] = (uint8_t)v;
				bf[i] = (uint16_t)(v >> 8);
				xs[i] = bits_f32((uint32_t)(v >> 32));
				/* half of the floats in a realistic range */
				if (v & 0x100)
					xs[i] = (float)((int64_t)(v >> 40) - (1 << 23)) * 0x1p-14f;
			}
			dsck_k_ref_e4m3_to_bf16(b_in + off, len, s, h_ref);
			im->e4m3_to_bf16(b_in + off, len, s, h_got + off);
			bad += diff_u16("rand e4m3->bf16", h_got + off, h_ref, len);
			dsck_k_ref_e4m3_to_f32(b_in + off, len, s, f_ref);
			im->e4m3_to_f32(b_in + off, len, s, f_got + off);
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

	/* all kernels: the lengths around the vector widths, offsets 0..7,
	 * special values mixed in, odd scales (subnormal, overflowing F16,
	 * odd mantissas) */
	static const float scales[] = {
		1.0f, 3.7e-3f, 146.3f, 0x1p-20f, 1e-40f, 448.0f, 0.1f, 65504.0f,
		-2.5f, 0x1.234568p-7f,
	};
	const size_t n_scales = sizeof scales / sizeof scales[0];
	static const size_t lens[] = { 0, 1, 7, 15, 16, 17, 31, 33, 63, 65, 1000 };
	bad = 0;
	runs = 0;
	for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
		for (int off = 0; off < 8; off++) {
			size_t len = lens[li];
			if (len == 1000)
				len += (size_t)(rng_next() % 64);
			float s = scales[rng_next() % n_scales];
			for (size_t i = 0; i < len + (size_t)off; i++) {
				uint64_t v = rng_next();
				b_in[i] = (uint8_t)v;
				xs[i] = rand_input();
				/* half the 16-bit codes random, half NaN/inf/
				 * subnormal/zero codes of F16 and BF16 */
				bf[i] = (uint16_t)(v >> 8);
				if (v & 0x10000000)
					bf[i] = (uint16_t)((v >> 32 & 0x80FF) |
							   ((v & 0x20000000) ? 0x7C00 : 0x7F80) *
								   ((v >> 30) & 1));
			}
			dsck_k_ref_e4m3_to_bf16(b_in + off, len, s, h_ref);
			im->e4m3_to_bf16(b_in + off, len, s, h_got + off);
			bad += diff_u16("e4m3->bf16", h_got + off, h_ref, len);
			dsck_k_ref_e4m3_to_f32(b_in + off, len, s, f_ref);
			im->e4m3_to_f32(b_in + off, len, s, f_got + off);
			bad += diff_f32("e4m3->f32", f_got + off, f_ref, len);
			dsck_k_ref_e4m3_to_f16(b_in + off, len, s, h_ref);
			im->e4m3_to_f16(b_in + off, len, s, h_got + off);
			bad += diff_u16("e4m3->f16", h_got + off, h_ref, len);
			dsck_k_ref_f32_to_e4m3(xs + off, len, s, b_ref);
			im->f32_to_e4m3(xs + off, len, s, b_got + off);
			bad += diff_u8("f32->e4m3", b_got + off, b_ref, len);
			dsck_k_ref_bf16_to_e4m3(bf + off, len, s, b_ref);
			im->bf16_to_e4m3(bf + off, len, s, b_got + off);
			bad += diff_u8("bf16->e4m3", b_got + off, b_ref, len);
			dsck_k_ref_bf16_to_f32(bf + off, len, f_ref);
			im->bf16_to_f32(bf + off, len, f_got + off);
			bad += diff_f32("bf16->f32", f_got + off, f_ref, len);
			dsck_k_ref_f16_to_f32(bf + off, len, f_ref);
			im->f16_to_f32(bf + off, len, f_got + off);
			bad += diff_f32("f16->f32", f_got + off, f_ref, len);
			dsck_k_ref_f32_to_bf16(xs + off, len, h_ref);
			im->f32_to_bf16(xs + off, len, h_got + off);
			bad += diff_u16("f32->bf16", h_got + off, h_ref, len);
			dsck_k_ref_f32_to_f16(xs + off, len, h_ref);
			im->f32_to_f16(xs + off, len, h_got + off);
			bad += diff_u16("f32->f16", h_got + off, h_ref, len);
			runs++;
		}
	}
	CHECK_EQ_U64(bad, 0,
		     "%s = ref, all kernels, %zu buffers (lengths 0..1063, offsets 0..7, specials)",
		     im->name, runs);

	/* amax: finite data, then one inf, then one NaN at a random place
	 * (vector body or tail), then a NaN in the last element */
	bad = 0;
	runs = 0;
	for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
		for (int off = 0; off < 8; off++) {
			size_t len = lens[li] + (lens[li] == 1000 ? (size_t)(rng_next() % 64) : 0);
			for (size_t i = 0; i < len + (size_t)off; i++)
				xs[i] = (float)((int64_t)(rng_next() >> 40) - (1 << 23)) * 0x1p-14f;
			for (int step = 0; step < 4 && len > 0; step++) {
				size_t at = step == 3 ? len - 1 : (size_t)(rng_next() % len);
				if (step == 1)
					xs[off + at] = (rng_next() & 1) ? INFINITY : -INFINITY;
				else if (step >= 2)
					xs[off + at] = bits_f32((uint32_t)(rng_next() | 0x7F800001u));
				float want = dsck_k_ref_amax_f32(xs + off, len);
				float got = im->amax_f32(xs + off, len);
				if (f32_bits(got) != f32_bits(want) && ++bad <= 4)
					printf("#   amax len %zu step %d: got 0x%08X, want 0x%08X\n",
					       len, step, f32_bits(got), f32_bits(want));
				runs++;
			}
			if (len == 0)
				bad += f32_bits(im->amax_f32(xs + off, 0)) != 0;
		}
	}
	CHECK_EQ_U64(bad, 0, "%s amax = ref on %zu buffers (finite, inf, NaN at random places)",
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
		for (int k = 0; k < 8; k++) {
			memset(dst8, 0xAA, sizeof dst8);
			memset(dst16, 0xAA, sizeof dst16);
			memset(dstf, 0xAA, sizeof dstf);
			switch (k) {
			case 0:
				im->e4m3_to_bf16(src8, n, 1.0f, dst16);
				break;
			case 1:
				im->e4m3_to_f32(src8, n, 1.0f, dstf);
				break;
			case 2:
				im->f32_to_e4m3(srcf, n, 1.0f, dst8);
				break;
			case 3:
				im->bf16_to_e4m3(src16, n, 1.0f, dst8);
				break;
			case 4:
				im->bf16_to_f32(src16, n, dstf);
				break;
			case 5:
				im->f32_to_bf16(srcf, n, dst16);
				im->f32_to_f16(srcf + 1, n, dst16); /* same result */
				break;
			case 6:
				im->f16_to_f32(src16, n, dstf);
				break;
			default:
				im->e4m3_to_f16(src8, n, 1.0f, dst16);
				break;
			}
			for (size_t i = n; i < 80; i++)
				ok &= dst8[i] == 0xAA && dst16[i] == 0xAAAA &&
				      f32_bits(dstf[i]) == 0xAAAAAAAAu;
			/* and every element below n is written */
			for (size_t i = 0; i < n; i++)
				ok &= dst8[i] != 0xAA || dst16[i] != 0xAAAA ||
				      f32_bits(dstf[i]) != 0xAAAAAAAAu;
		}
	}
	CHECK(ok, "%s writes exactly n elements, n = 0..72", im->name);
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "tests/oracle/kernel_table.txt";
	check_table(path);
	check_edges();
	check_edges_f16();

	int has_avx2 = dsck_k_avx2_usable(), has_avx512 = dsck_k_avx512_usable();
	printf("# dispatcher chose %s; CPU: avx2 %s, avx512 %s\n",
	       dsck_k_impl_name(), has_avx2 ? "yes" : "no",
	       has_avx512 ? "yes" : "no");
	const char *env = getenv("DSCK_KERNELS");
	int limit = 2;
	if (env && strcmp(env, "ref") == 0)
		limit = 0;
	else if (env && strcmp(env, "avx2") == 0)
		limit = 1;
	const char *want = limit >= 2 && has_avx512 ? "avx512"
			   : limit >= 1 && has_avx2 ? "avx2"
						    : "ref";
	CHECK(strcmp(dsck_k_impl_name(), want) == 0,
	      "dispatcher picks %s (DSCK_KERNELS=%s, best usable at or below)",
	      want, env ? env : "unset");

	const struct impl *ims[4];
	int n_ims = 0;
	ims[n_ims++] = &impl_dispatch;
	if (has_avx2)
		ims[n_ims++] = &impl_avx2;
	else
		printf("# SKIP avx2 kernels: the CPU has no AVX2+F16C\n");
	if (has_avx512)
		ims[n_ims++] = &impl_avx512;
	else
		printf("# SKIP avx512 kernels: the CPU has no AVX512F/BW/VL\n");

	check_table_impl(&impl_ref);
	check_bounds(&impl_ref);
	for (int j = 0; j < n_ims; j++) {
		check_table_impl(ims[j]);
		check_exhaustive(ims[j]);
		check_random(ims[j]);
		check_bounds(ims[j]);
	}
	check_sweep(ims, n_ims);

	for (int k = 0; k < n_q; k++)
		free(want_bf16_e4m3[k]);
	return test_done();
}
