#!/usr/bin/env python3
"""check_writer.py - the dsck safetensors writer against the reference one.

Usage: check_writer.py PATH/TO/st-rewrite

For each case, safetensors.numpy.save_file writes a file; st-rewrite reads
it with the strict dsck reader and writes it again with the dsck streaming
writer. formats.md ST-W1/ST-W2 require the two files to be byte-identical
(same tensors, at most one metadata key). The dsck output is also loaded
back with safetensors.numpy.load_file and compared array by array.
Prints TAP lines; exits 1 if any check fails.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

try:
    import ml_dtypes
except ImportError:  # the BF16/FP8 cases are skipped without it
    ml_dtypes = None

N_RUN = 0
N_FAILED = 0


def check(ok, what):
    global N_RUN, N_FAILED
    N_RUN += 1
    if not ok:
        N_FAILED += 1
    print(("ok" if ok else "not ok") + " %d - %s" % (N_RUN, what), flush=True)


def values(dtype, shape, seed):
    """Deterministic, non-zero where possible, so misplaced bytes show."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape)) if len(shape) else 1
    dt = np.dtype(dtype)
    if dt == np.bool_:
        a = rng.integers(0, 2, n).astype(np.bool_)
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        a = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
    elif dt.kind == "c":
        a = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(dt)
    else:
        a = (rng.standard_normal(n) * 4).astype(np.float32).astype(dt)
    return a.reshape(shape)


def cases():
    basic = [np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64,
             np.float16, np.float32, np.float64]
    extra = [np.uint16, np.uint32, np.uint64, np.complex64]
    if ml_dtypes is not None:
        extra += [ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn,
                  ml_dtypes.float8_e5m2, ml_dtypes.float8_e8m0fnu,
                  ml_dtypes.float8_e4m3fnuz, ml_dtypes.float8_e5m2fnuz]

    # One tensor per dtype, names in the reverse of dtype rank order so that
    # a writer sorting by name alone (or by rank ascending) is caught.
    every = {}
    for k, dt in enumerate(basic + extra):
        name = "t%02d.%s" % (40 - k, np.dtype(dt).name)
        every[name] = values(dt, (3, k % 4 + 1), k)
    yield "every dtype, one metadata key", every, {"format": "np"}

    # Same dtype, names whose bytewise order differs from other orders:
    # upper case before lower case, '.' before digits, prefixes first,
    # UTF-8 after ASCII, JSON escapes.
    names = ["b", "a", "B", "a.b", "a0", "a", "ab", "z\u00e9", "Z",
             "quote\"d", "back\\slash", "tab\there", "nl\nx", "ctl\x01",
             "del\x7f", "slash/", "\u4e2d\u6587"]
    same = {}
    for k, n in enumerate(dict.fromkeys(names)):
        same[n] = values(np.float32, (2,), 100 + k)
    yield "same dtype, bytewise name order and escapes", same, None

    yield "zero-size and scalar tensors", {
        "empty_a": np.zeros((0,), np.float32),
        "empty_b": np.zeros((2, 0), np.float32),
        "empty_c": np.zeros((0, 5, 3), np.int64),
        "scalar_f64": np.array(2.5, np.float64),
        "scalar_i8": np.array(-3, np.int8),
        "scalar_bool": np.array(True),
        "vec": values(np.float16, (5,), 7),
    }, {"k": "v"}

    yield "metadata key and value with escapes", {
        "w": values(np.int32, (4, 4), 9),
    }, {"key \"q\"\t": "value\\\n\u00fc\x1f"}

    yield "metadata only, no tensors", {}, {"total": "0"}
    yield "no tensors, no metadata", {}, None
    yield "odd sizes, padding", {
        "x": values(np.uint8, (1,), 1),
        "y": values(np.uint8, (7,), 2),
        "z": values(np.int16, (3,), 3),
    }, None
    yield "larger than one copy chunk", {
        "big": values(np.float32, (1024, 300), 5),
        "small": values(np.float64, (3,), 6),
    }, None


def main():
    if len(sys.argv) != 2:
        print("usage: check_writer.py PATH/TO/st-rewrite", file=sys.stderr)
        return 2
    tool = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="dsck-oracle-") as tmp:
        for k, (what, tensors, meta) in enumerate(cases()):
            ref = os.path.join(tmp, "ref%d.safetensors" % k)
            ours = os.path.join(tmp, "ours%d.safetensors" % k)
            save_file(tensors, ref, metadata=meta)
            r = subprocess.run([tool, ref, ours], capture_output=True,
                               text=True)
            check(r.returncode == 0,
                  "%s: st-rewrite exits 0 %s" % (what, r.stderr.strip()))
            if r.returncode != 0:
                continue
            with open(ref, "rb") as f:
                a = f.read()
            with open(ours, "rb") as f:
                b = f.read()
            same = a == b
            if not same:
                first = next((i for i in range(min(len(a), len(b)))
                              if a[i] != b[i]), min(len(a), len(b)))
                print("#   first difference at byte %d: ref %r ours %r" %
                      (first, a[first:first + 40], b[first:first + 40]))
            check(same, "%s: bytes equal save_file (%d bytes)" % (what, len(a)))
            # load_file maps dtypes to plain numpy only: the ml_dtypes
            # tensors (BF16, FP8) are covered by the byte comparison above.
            plain = {n: a for n, a in tensors.items()
                     if a.dtype.type.__module__ == "numpy"}
            if len(plain) == len(tensors):
                back = load_file(ours)
            else:
                with safe_open(ours, framework="numpy") as f:
                    back = {n: None for n in f.keys()}
                    for n in plain:
                        back[n] = f.get_tensor(n)
            ok = set(back) == set(tensors)
            for name, arr in plain.items():
                got = back.get(name)
                ok = ok and got is not None and got.dtype == arr.dtype \
                    and got.shape == arr.shape \
                    and got.tobytes() == arr.tobytes()
            check(ok, "%s: load_file gives the same arrays (%d of %d "
                  "tensors in plain numpy dtypes)" % (what, len(plain),
                                                      len(tensors)))
            leftovers = [n for n in os.listdir(tmp) if ".dsck-tmp-" in n]
            check(not leftovers, "%s: no temporary file left" % what)
    print("# %d checks, %d failed" % (N_RUN, N_FAILED))
    return 1 if N_FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
