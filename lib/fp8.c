/*
 * fp8.c - scalar dtype -> float conversions (fp8.h).
 *
 * Decoding is done from the bit fields, never by type punning through
 * unions of different sizes: every value is assembled as IEEE single bits and
 * copied with memcpy. The e4m3 table is built once with pthread_once so
 * concurrent stats workers share it without a race.
 */
#include "fp8.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "dsck reads little-endian tensor bytes directly: little-endian hosts only"
#endif

static float bits_to_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/*
 * e4m3fn: s eeee mmm. e == 0: subnormal m/8 * 2^-6 = m * 2^-9. e == 15 and
 * m == 7: NaN (no infinities, D-R1). Else (1 + m/8) * 2^(e-7).
 */
static float e4m3_decode(uint8_t b)
{
	unsigned sign = b >> 7, e = (b >> 3) & 0xF, m = b & 0x7;
	float v;
	if (e == 0xF && m == 0x7)
		return sign ? -NAN : NAN;
	if (e == 0)
		v = ldexpf((float)m, -9);
	else
		v = bits_to_f32(((uint32_t)(e - 7 + 127) << 23) | ((uint32_t)m << 20));
	return sign ? -v : v;
}

static float e4m3_table[256];
static pthread_once_t e4m3_once = PTHREAD_ONCE_INIT;

static void e4m3_table_build(void)
{
	for (unsigned i = 0; i < 256; i++)
		e4m3_table[i] = e4m3_decode((uint8_t)i);
}

const float *dsck_fp8_e4m3_table(void)
{
	pthread_once(&e4m3_once, e4m3_table_build);
	return e4m3_table;
}

float dsck_fp8_e4m3_to_f32(uint8_t b)
{
	return dsck_fp8_e4m3_table()[b];
}

float dsck_fp8_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31;
	uint32_t e = (h >> 10) & 0x1F, m = h & 0x3FF;
	float v;
	if (e == 0) {
		/* zero or subnormal: m * 2^-24, exact in float */
		v = ldexpf((float)m, -24);
		return sign ? -v : v;
	}
	if (e == 0x1F)
		return bits_to_f32(sign | 0x7F800000u | (m ? (0x400000u | (m << 13)) : 0));
	return bits_to_f32(sign | ((e - 15 + 127) << 23) | (m << 13));
}

/* e5m2 is the high byte of an IEEE half: same bias, same specials. */
float dsck_fp8_e5m2_to_f32(uint8_t b)
{
	return dsck_fp8_f16_to_f32((uint16_t)((unsigned)b << 8));
}

float dsck_fp8_e8m0_to_f32(uint8_t b)
{
	if (b == 0xFF)
		return NAN;
	return ldexpf(1.0f, (int)b - 127);
}

float dsck_fp8_bf16_to_f32(uint16_t h)
{
	return bits_to_f32((uint32_t)h << 16);
}

int dsck_fp8_can_convert(enum dsck_dtype t)
{
	switch (t) {
	case DSCK_BOOL:
	case DSCK_U8:
	case DSCK_I8:
	case DSCK_I16:
	case DSCK_U16:
	case DSCK_I32:
	case DSCK_U32:
	case DSCK_I64:
	case DSCK_U64:
	case DSCK_F16:
	case DSCK_BF16:
	case DSCK_F32:
	case DSCK_F64:
	case DSCK_F8_E4M3:
	case DSCK_F8_E5M2:
	case DSCK_F8_E8M0:
		return 1;
	default:
		return 0;
	}
}

/*
 * One loop per (source type, destination type): SRC_T is the C type of an
 * element, EXPR turns the loaded element `x` into the destination value.
 * memcpy per element handles unaligned tensor data (offsets are only
 * byte-aligned in safetensors).
 */
#define CONVERT_LOOP(DST_T, SRC_T, EXPR)                                  \
	do {                                                              \
		const unsigned char *p_ = src;                            \
		for (size_t i_ = 0; i_ < n; i_++) {                       \
			SRC_T x;                                          \
			memcpy(&x, p_ + i_ * sizeof(SRC_T), sizeof x);    \
			dst[i_] = (DST_T)(EXPR);                          \
		}                                                         \
	} while (0)

#define CONVERT_ALL(DST_T)                                                    \
	do {                                                                  \
		const float *e4m3_ = dsck_fp8_e4m3_table();                   \
		switch (t) {                                                  \
		case DSCK_BOOL:                                               \
			CONVERT_LOOP(DST_T, uint8_t, x != 0);                 \
			break;                                                \
		case DSCK_U8:                                                 \
			CONVERT_LOOP(DST_T, uint8_t, x);                      \
			break;                                                \
		case DSCK_I8:                                                 \
			CONVERT_LOOP(DST_T, int8_t, x);                       \
			break;                                                \
		case DSCK_I16:                                                \
			CONVERT_LOOP(DST_T, int16_t, x);                      \
			break;                                                \
		case DSCK_U16:                                                \
			CONVERT_LOOP(DST_T, uint16_t, x);                     \
			break;                                                \
		case DSCK_I32:                                                \
			CONVERT_LOOP(DST_T, int32_t, x);                      \
			break;                                                \
		case DSCK_U32:                                                \
			CONVERT_LOOP(DST_T, uint32_t, x);                     \
			break;                                                \
		case DSCK_I64:                                                \
			CONVERT_LOOP(DST_T, int64_t, x);                      \
			break;                                                \
		case DSCK_U64:                                                \
			CONVERT_LOOP(DST_T, uint64_t, x);                     \
			break;                                                \
		case DSCK_F16:                                                \
			CONVERT_LOOP(DST_T, uint16_t, dsck_fp8_f16_to_f32(x)); \
			break;                                                \
		case DSCK_BF16:                                               \
			CONVERT_LOOP(DST_T, uint16_t, dsck_fp8_bf16_to_f32(x)); \
			break;                                                \
		case DSCK_F32:                                                \
			CONVERT_LOOP(DST_T, float, x);                        \
			break;                                                \
		case DSCK_F64:                                                \
			CONVERT_LOOP(DST_T, double, x);                       \
			break;                                                \
		case DSCK_F8_E4M3:                                            \
			CONVERT_LOOP(DST_T, uint8_t, e4m3_[x]);               \
			break;                                                \
		case DSCK_F8_E5M2:                                            \
			CONVERT_LOOP(DST_T, uint8_t, dsck_fp8_e5m2_to_f32(x)); \
			break;                                                \
		case DSCK_F8_E8M0:                                            \
			CONVERT_LOOP(DST_T, uint8_t, dsck_fp8_e8m0_to_f32(x)); \
			break;                                                \
		default:                                                      \
			return -1;                                            \
		}                                                             \
	} while (0)

int dsck_fp8_convert_f64(enum dsck_dtype t, const void *src, size_t n,
			 double *dst)
{
	CONVERT_ALL(double);
	return 0;
}

int dsck_fp8_convert_f32(enum dsck_dtype t, const void *src, size_t n,
			 float *dst)
{
	CONVERT_ALL(float);
	return 0;
}
