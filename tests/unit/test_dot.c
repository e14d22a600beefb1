/*
 * test_dot.c - the AVX2+FMA dot product and the AVX-512 FP8 row kernel
 * against their references (dot.h):
 * within a few ulps of sum |a_i b_i| for lengths around the 32-lane
 * blocks, unaligned pointers, and values of mixed sign and magnitude;
 * exact on integers small enough that no sum rounds.
 */
#include "../test.h"

#include "../../kernels/dot.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 88172645463325252ull;
static float rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ldexpf((float)((int)(rng % 20001) - 10000) / 10000.0f, (int)(rng >> 40) % 9 - 4);
}

int main(void)
{
	static float a[4200], b[4200];
	const size_t lens[] = { 0, 1, 7, 31, 32, 33, 63, 64, 65, 127, 128, 129, 512, 1000, 4099 };
	int bad = 0;
	for (size_t i = 0; i < 4200; i++) {
		a[i] = rnd();
		b[i] = rnd();
	}
	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++)
		for (size_t off = 0; off < 3; off++) {
			size_t n = lens[k];
			float r = dsck_k_dot_ref(a + off, b + off, n);
			float v = dsck_k_dot_avx2(a + off, b + off, n);
			double mag = 0;
			for (size_t i = 0; i < n; i++)
				mag += fabs((double)a[off + i] * b[off + i]);
			if (fabs((double)r - v) > 8 * 1.2e-7 * mag + 1e-30) {
				bad++;
				printf("#   n %zu off %zu: ref %.9g avx2 %.9g\n", n, off, r, v);
			}
		}
	CHECK(bad == 0, "avx2 dot within 8 ulps of sum |ab| of the reference (%s dispatched)",
	      dsck_k_dot_impl());
	for (size_t i = 0; i < 1000; i++) {
		a[i] = (float)((int)(i % 17) - 8);
		b[i] = (float)((int)(i % 13) - 6);
	}
	CHECK(dsck_k_dot_ref(a, b, 1000) == dsck_k_dot_avx2(a, b, 1000) &&
	      dsck_k_dot(a, b, 1000) == dsck_k_dot_ref(a, b, 1000),
	      "exact on small integers, every implementation");
	double want = 0;
	for (size_t i = 0; i < 1000; i++)
		want += (double)a[i] * b[i];
	CHECK((double)dsck_k_dot_ref(a, b, 1000) == want, "the reference equals the exact sum");
	/* the FP8 row kernel: codes of every value, block scales, partial
	 * last blocks, within a few ulps of the sum of |terms| */
	static uint8_t codes[4200];
	float scales[80]; /* n 4096 in blocks of 64 */
	int bad8 = 0;
	for (size_t i = 0; i < 4200; i++) {
		uint8_t c8 = (uint8_t)(rng >> 24);
		rnd();
		codes[i] = (c8 & 0x7F) == 0x7F ? 0x7E : c8;
		a[i] = rnd();
	}
	for (size_t k = 0; k < 80; k++)
		scales[k] = ldexpf(1.0f + (float)k / 40.0f, -(int)(k % 9));
	/* both AVX-512 versions (each runs the next one down on a CPU
	 * without its instructions) */
	typedef float (*row_fn)(const uint8_t *, const float *, const float *, size_t, size_t);
	const row_fn impl[] = { dsck_k_row_e4m3_avx512, dsck_k_row_e4m3_avx512vbmi };
	const char *impl_name[] = { "avx512", "avx512vbmi" };
	const size_t rows[] = { 1, 16, 64, 100, 128, 129, 192, 256, 300, 1000, 4096 };
	for (int v = 0; v < 2; v++) {
		bad8 = 0;
		for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
			for (size_t bc = 64; bc <= 128; bc += 64) {
				size_t n = rows[r];
				float expect = dsck_k_row_e4m3_ref(codes, scales, a, n, bc);
				float got = impl[v](codes, scales, a, n, bc);
				double mag = 0;
				for (size_t i = 0; i < n; i++) {
					float wv = dsck_k_row_e4m3_ref(codes + i, scales + i / bc, a + i, 1, bc);
					mag += fabs((double)wv);
				}
				if (fabs((double)expect - got) > 16 * 1.2e-7 * mag + 1e-30) {
					bad8++;
					printf("#   n %zu bc %zu: ref %.9g %s %.9g\n", n, bc, expect,
					       impl_name[v], got);
				}
			}
		CHECK(bad8 == 0, "FP8 row kernel %s within 16 ulps of sum |terms| of the reference",
		      impl_name[v]);
		for (size_t at = 5; at < 4096; at += 1000) { /* a NaN code anywhere */
			uint8_t keep = codes[at];
			int nan_ok = 1;
			for (int c = 0x7F; c <= 0xFF; c += 0x80) {
				codes[at] = (uint8_t)c;
				nan_ok &= isnan(impl[v](codes, scales, a, 4096, 128)) &&
					  isnan(dsck_k_row_e4m3_ref(codes, scales, a, 4096, 128));
			}
			codes[at] = keep;
			CHECK(nan_ok, "%s: NaN codes 0x7F and 0xFF at column %zu give NaN", impl_name[v], at);
		}
		uint8_t c5 = codes[5], c6 = codes[6], c7 = codes[7];
		codes[5] = 0x08; /* the smallest normal, 2^-6 */
		codes[6] = 0x01; /* the smallest subnormal, 2^-9 */
		codes[7] = 0xFE; /* -448 */
		float one[128] = { 0 };
		one[5] = 1;
		one[6] = 1;
		one[7] = 0x1p-20f;
		float sc1 = 1, want8 = 0.015625f + 0.001953125f - 448 * 0x1p-20f;
		CHECK(impl[v](codes, &sc1, one, 128, 128) == want8 &&
		      dsck_k_row_e4m3_ref(codes, &sc1, one, 128, 128) == want8,
		      "%s: normal, subnormal and negative codes decode exactly", impl_name[v]);
		codes[5] = c5;
		codes[6] = c6;
		codes[7] = c7;
	}
	/* one row against S tokens: each token's result is its one-token
	 * result bit for bit (same kernel order), for S across the groups of 4 */
	{
		static float xs[9 * 1100];
		float ys[9 * 3], one[9];
		int same = 1;
		for (size_t i = 0; i < 9 * 1100; i++)
			xs[i] = rnd();
		for (size_t S = 1; S <= 9; S++)
			for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
				size_t n = rows[r] > 1024 ? 1024 : rows[r];
				dsck_k_rows_e4m3_avx512vbmi(codes, scales, xs, 1100, S, n, 128, ys, 3);
				for (size_t t = 0; t < S; t++) {
					one[t] = dsck_k_row_e4m3_avx512vbmi(codes, scales, xs + t * 1100, n, 128);
					same &= memcmp(&one[t], &ys[t * 3], sizeof one[t]) == 0;
				}
				dsck_k_rows_e4m3(codes, scales, xs, 1100, S, n, 128, ys, 3);
				for (size_t t = 0; t < S; t++)
					same &= fabsf(ys[t * 3] - dsck_k_row_e4m3(codes, scales, xs + t * 1100, n, 128)) == 0;
			}
		CHECK(same, "FP8 row against 1..9 tokens: each equals its one-token kernel bit for bit");
		uint8_t c300 = codes[300];
		codes[300] = 0xFF;
		dsck_k_rows_e4m3_avx512vbmi(codes, scales, xs, 1100, 3, 1024, 128, ys, 1);
		CHECK(isnan(ys[0]) && isnan(ys[1]) && isnan(ys[2]), "a NaN code gives NaN for every token");
		codes[300] = c300;
	}
	/* the FP8 row axpy: y += a * scale * e4m3 per block, against the
	 * reference within an ulp or two of each |term| + |y| */
	{
		static float ya[4200], yr[4200];
		int bada = 0;
		for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
			for (size_t bc = 64; bc <= 128; bc += 64) {
				size_t n = rows[r];
				for (size_t i = 0; i < n; i++)
					ya[i] = yr[i] = b[i];
				dsck_k_axpy_e4m3_ref(codes, scales, -0.75f, yr, n, bc);
				dsck_k_axpy_e4m3_avx512(codes, scales, -0.75f, ya, n, bc);
				dsck_k_axpy_e4m3(codes, scales, -0.75f, b + 2000, 0, bc); /* n 0: nothing */
				for (size_t i = 0; i < n; i++) {
					float t = dsck_k_row_e4m3_ref(codes + i, scales + i / bc, a, 1, bc);
					double lim = 4 * 1.2e-7 * (fabs((double)b[i]) + 0.75 * fabs((double)t / a[0]));
					if (!(fabs((double)ya[i] - yr[i]) <= lim + 1e-30)) {
						printf("#   axpy n %zu bc %zu i %zu: ref %.9g avx512 %.9g code %02x\n", n,
						       bc, i, yr[i], ya[i], codes[i]);
						bada++;
						break;
					}
				}
			}
		CHECK(bada == 0, "FP8 row axpy avx512 within a few ulps of the reference");
		float y1[128] = { 0 }, sc2 = 2;
		uint8_t cz[128] = { 0 };
		cz[3] = 0x01;  /* 2^-9 */
		cz[4] = 0xFE;  /* -448 */
		cz[5] = 0x7F;  /* NaN */
		dsck_k_axpy_e4m3_avx512(cz, &sc2, 0.5f, y1, 128, 128);
		CHECK(y1[3] == 0x1p-9f && y1[4] == -448.0f && isnan(y1[5]) && y1[6] == 0,
		      "axpy decodes subnormal, negative and NaN codes");
	}
	static uint16_t wb[4200];
	int badb = 0;
	for (size_t i = 0; i < 4200; i++) {
		float f = rnd();
		uint32_t u;
		memcpy(&u, &f, 4);
		wb[i] = (uint16_t)(u >> 16);
		a[i] = rnd();
	}
	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
		size_t n = lens[k];
		float r = dsck_k_dot_bf16_ref(wb, a, n), v = dsck_k_dot_bf16_avx512(wb, a, n);
		double mag = 0;
		for (size_t i = 0; i < n; i++)
			mag += fabs((double)dsck_k_dot_bf16_ref(wb + i, a + i, 1));
		if (fabs((double)r - v) > 8 * 1.2e-7 * mag + 1e-30) {
			badb++;
			printf("#   bf16 n %zu: ref %.9g avx512 %.9g\n", n, r, v);
		}
	}
	CHECK(badb == 0, "BF16 dot within 8 ulps of sum |ab| of the reference");
	return test_done();
}
