/*
 * test_dot.c - the AVX2+FMA dot product against the reference (dot.h):
 * within a few ulps of sum |a_i b_i| for lengths around the 32-lane
 * blocks, unaligned pointers, and values of mixed sign and magnitude;
 * exact on integers small enough that no sum rounds.
 */
#include "../test.h"

#include "../../kernels/dot.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

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
	return test_done();
}
