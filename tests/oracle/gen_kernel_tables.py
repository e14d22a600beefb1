#!/usr/bin/env python3
"""gen_kernel_tables.py - write tests/oracle/kernel_table.txt from ml_dtypes.

The table is the oracle of tests/unit/test_kernels.c (kernels/convert.h).
One record per line, SCALE being the float32 bit pattern of the scale:

    e4m3_bf16 0xSSSSSSSS HEX   all 256 F8_E4M3 codes, ascending: 4 hex digits
                               of the BF16 result per code
    bf16_e4m3 0xSSSSSSSS HEX   all 65536 BF16 codes, ascending: 2 hex digits
                               of the F8_E4M3 result per code
    e4m3_f16 0xSSSSSSSS HEX    all 256 F8_E4M3 codes, ascending: 4 hex digits
                               of the F16 result per code
    f16_f32 HEX                all 65536 F16 codes, ascending: 8 hex digits
                               of the float32 bits per code
    f32_narrow 0xXXXXXXXX HHHH BBBB
                               one float32 input (bit pattern) and its F16
                               (HHHH) and BF16 (BBBB) bits; one line per input

e4m3_bf16 is DeepSeek-V3's weight_dequant: the code decoded to float32,
one np.float32 multiply by the scale, then .astype(ml_dtypes.bfloat16)
(round-to-nearest-even; NaN gives sign|0x7FC0).

bf16_e4m3 is the quantisation: the BF16 code widened to float32, one
np.float32 division by the scale, then .astype(ml_dtypes.float8_e4m3fn).
ml_dtypes does not saturate: a value past 464 (and infinity) becomes NaN,
while the dsck kernels saturate to +-448. So the generator clips every value
to [-448, 448] before the cast (np.clip keeps NaN as NaN and maps +-inf to
+-448); values in (448, 464] round to 448 either way. This clip is the only
place where the oracle is not plain ml_dtypes.

e4m3_f16 is the same float32 product as e4m3_bf16, then
.astype(np.float16) (round-to-nearest-even, overflow to inf). f32_narrow
holds edge cases (ties at the BF16 and F16 rounding points, the F16
overflow boundary 65504/65520, the F16 subnormal range and its 2^-25 ties,
float32 subnormals, +-0, +-inf, NaNs of both signs and several payloads)
with both signs, then seeded random bit patterns, over all float32 and
within the F16 exponent range; F16 via np.float16, BF16 via ml_dtypes.

NaN: numpy keeps a NaN's payload, the kernels do not fully. For float32 ->
F16 numpy truncates the payload (0x7F800001 -> 0x7C01); the kernels give
sign|0x7E00 for every NaN, so the generator writes that for NaN inputs.
For F16 -> float32 numpy does not set the quiet bit of a signalling NaN
(0x7C01 -> 0x7F802000); the kernels quiet it (0x7FC02000, as x86's
vcvtph2ps and lib/fp8.c), so the generator sets bit 22 of every NaN
result. Quiet NaNs (0x7E00..) are unchanged by this. These NaN rules and
the e4m3 clip above are the only places where the oracle is not plain
numpy/ml_dtypes.

Usage: python3 tests/oracle/gen_kernel_tables.py > tests/oracle/kernel_table.txt
"""
import sys

import ml_dtypes
import numpy as np

# Dequant scales: 1, a power of two, typical block scales, the largest sane
# one, and scales whose products are float32 subnormals (2^-126, and a
# subnormal scale itself).
DEQUANT_SCALES = [1.0, 2.0 ** -7, 3.7e-3, 448.0, 1.2345678e-2, 0.1,
                  2.0 ** -126, 1e-40]
# Quant scales: 1, a small one (most BF16 values saturate) and a large one
# (most values become e4m3 subnormals or zero).
QUANT_SCALES = [1.0, 3.7e-3, 1000.0]


def f32_hex(x):
    return "0x%08X" % int(np.array([x], dtype=np.float32).view(np.uint32)[0])


# Extra dequant scales for F16: products in the F16 subnormal range, near
# its overflow, and an odd scale.
F16_SCALES = [1.0, 2.0 ** -7, 3.7e-3, 448.0, 2.0 ** -20, 146.3, 0.1,
              2.0 ** -126]
# Seeds of the random float32 patterns.
SEED = 20240607
N_RANDOM_ALL = 3000
N_RANDOM_F16 = 1500


def f16_bits(x):
    """float32 array -> F16 bits, NaN -> sign|0x7E00."""
    with np.errstate(over="ignore", invalid="ignore"):
        h = x.astype(np.float16).view(np.uint16).copy()
    nan = np.isnan(x)
    sign = (x.view(np.uint32) >> 16).astype(np.uint16) & np.uint16(0x8000)
    h[nan] = sign[nan] | np.uint16(0x7E00)
    return h


def narrow_inputs():
    """The float32 bit patterns of the f32_narrow records."""
    pos = [
        0x00000000, 0x00000001, 0x007FFFFF, 0x00800000, 0x00008000,
        0x00018000, 0x3F800000,
        # BF16 ties and neighbours (low 16 bits 0x8000 with even/odd kept)
        0x3F808000, 0x3F818000, 0x3F808001, 0x3F807FFF, 0x3F7F8000,
        0x4B7F8000, 0x7F7F8000, 0x7F7F7FFF, 0x7F7F8001, 0x7F7FFFFF,
        0x7F7EFFFF, 0x7F7E8000,
        # F16 ties in the normal range (low 13 bits 0x1000)
        0x3F801000, 0x3F803000, 0x3F801001, 0x3F800FFF, 0x3FFFF000,
        0x387FF000, 0x38801000, 0x38803000, 0x477FD000, 0x477FB000,
        # F16 overflow boundary: 65504, 65519.99, 65520 (tie -> inf), 65536
        0x477FE000, 0x477FEFFF, 0x477FF000, 0x477FF001, 0x47800000,
        0x477FE001, 0x477FDFFF,
        # F16 subnormal range: 2^-24, 2^-25 (tie -> 0), 1.5 and 2.5 * 2^-24
        0x33800000, 0x33000000, 0x33000001, 0x32FFFFFF, 0x33C00000,
        0x34200000, 0x34400000, 0x38800000, 0x387FFFFF, 0x387FE000,
        0x387FC000, 0x387FA000, 0x32800000, 0x2F800000, 0x3A000000,
        0x38000000, 0x37FFF000, 0x37801000,
        # infinity, NaNs with several payloads
        0x7F800000, 0x7F800001, 0x7FC00000, 0x7FFFFFFF, 0x7FA00000,
        0x7F802000, 0x7FC01234, 0x7F801FFF,
    ]
    vals = list(pos) + [v | 0x80000000 for v in pos]
    # every 61st positive finite F16 value, the midpoints above it and the
    # float32 values one ulp either side of those midpoints
    for h in range(0, 0x7C00, 61):
        f = int(np.array([h], dtype=np.uint16).view(np.float16)
                .astype(np.float32).view(np.uint32)[0])
        g = int(np.array([h + 1], dtype=np.uint16).view(np.float16)
                .astype(np.float32).view(np.uint32)[0])
        mid = np.float32((np.float64(np.array([f], np.uint32)
                                     .view(np.float32)[0]) +
                          np.float64(np.array([g], np.uint32)
                                     .view(np.float32)[0])) / 2)
        m = int(np.array([mid], dtype=np.float32).view(np.uint32)[0])
        vals += [f, m, m - 1, m + 1, m | 0x80000000]
    rng = np.random.default_rng(SEED)
    vals += [int(v) for v in rng.integers(0, 2 ** 32, N_RANDOM_ALL,
                                            dtype=np.uint64)]
    # random patterns with exponents 100..143, around the F16 range
    e = rng.integers(100, 144, N_RANDOM_F16, dtype=np.uint64)
    m = rng.integers(0, 2 ** 23, N_RANDOM_F16, dtype=np.uint64)
    sg = rng.integers(0, 2, N_RANDOM_F16, dtype=np.uint64)
    vals += [int(v) for v in (sg << 31) | (e << 23) | m]
    # drop repeats, keep the order
    return np.array(list(dict.fromkeys(vals)), dtype=np.uint32)


def main():
    out = sys.stdout
    out.write("# conversion kernel oracle, generated by gen_kernel_tables.py "
              "with ml_dtypes %s; do not edit\n" % ml_dtypes.__version__)
    codes8 = np.arange(256, dtype=np.uint8)
    w = codes8.view(ml_dtypes.float8_e4m3fn).astype(np.float32)
    for s in DEQUANT_SCALES:
        y = (w * np.float32(s)).astype(ml_dtypes.bfloat16).view(np.uint16)
        out.write("e4m3_bf16 %s %s\n" % (f32_hex(s),
                  "".join("%04X" % int(v) for v in y)))
    codes16 = np.arange(65536, dtype=np.uint16)
    x = codes16.view(ml_dtypes.bfloat16).astype(np.float32)
    for s in QUANT_SCALES:
        with np.errstate(invalid="ignore", over="ignore"):
            q = np.clip(x / np.float32(s), np.float32(-448), np.float32(448))
        c = q.astype(ml_dtypes.float8_e4m3fn).view(np.uint8)
        out.write("bf16_e4m3 %s %s\n" % (f32_hex(s), c.tobytes().hex().upper()))
    for s in F16_SCALES:
        y = f16_bits(w * np.float32(s))
        out.write("e4m3_f16 %s %s\n" % (f32_hex(s),
                  "".join("%04X" % int(v) for v in y)))
    f = codes16.view(np.float16).astype(np.float32).view(np.uint32).copy()
    nan = (f & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000)
    f[nan] |= np.uint32(0x400000)
    out.write("f16_f32 %s\n" % "".join("%08X" % int(v) for v in f))
    xin = narrow_inputs()
    xf = xin.view(np.float32)
    h = f16_bits(xf)
    with np.errstate(over="ignore", invalid="ignore"):
        b = xf.astype(ml_dtypes.bfloat16).view(np.uint16)
    for i in range(len(xin)):
        out.write("f32_narrow 0x%08X %04X %04X\n"
                  % (int(xin[i]), int(h[i]), int(b[i])))


if __name__ == "__main__":
    main()
