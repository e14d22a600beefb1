#!/usr/bin/env python3
"""check_stats.py - dsck-inspect --stats against numpy + ml_dtypes.

Usage: check_stats.py BIN DIR

BIN is the directory of the built tools (build/bin). A tiny synthetic
checkpoint is written into DIR/tiny with dsck-synth (unless DIR/tiny already
holds one), then `dsck-inspect --jsonl --stats DIR/tiny` is compared, tensor
by tensor, with an independent recomputation: headers parsed here (8-byte
length + JSON), data viewed with numpy/ml_dtypes, FP8 weights dequantized as
float32(x) * float32(scale[m // br, n // bc]) with the block size of
config.json (reference notes §4.1), statistics over the finite values in
float64. (safetensors' numpy backend cannot return F8/BF16 arrays, so the
data are sliced from the files directly.)

Counts and min/max/absmax must match exactly; mean and std within a
relative 1e-6. Prints TAP lines; exits 1 on any failure.
"""
import json
import os
import struct
import subprocess
import sys

import ml_dtypes
import numpy as np

import oracle_st as ost


def load_tensors(ckdir):
    """name -> numpy array, for every tensor of every shard of the index."""
    with open(os.path.join(ckdir, "model.safetensors.index.json")) as f:
        shards = sorted(set(json.load(f)["weight_map"].values()))
    out = {}
    for shard in shards:
        with open(os.path.join(ckdir, shard), "rb") as f:
            blob = f.read()
        (n,) = struct.unpack("<Q", blob[:8])
        header = json.loads(blob[8:8 + n])
        base = 8 + n
        for name, info in header.items():
            if name == "__metadata__":
                continue
            b, e = info["data_offsets"]
            dt = ost.DTYPES.get(info["dtype"])
            if dt is None:
                continue
            arr = np.frombuffer(blob[base + b:base + e], dtype=dt)
            out[name] = arr.reshape(info["shape"])
    return out


def expected_stats(name, arrays, block):
    a = arrays[name]
    scale = arrays.get(name + "_scale_inv")
    deq = a.dtype in (ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2) and scale is not None
    if deq:
        br, bc = block
        s = scale.astype(np.float32)
        full = np.repeat(np.repeat(s, br, axis=0), bc, axis=1)[:a.shape[0], :a.shape[1]]
        y = (a.astype(np.float32) * full).astype(np.float64)
    else:
        y = a.astype(np.float64)
    y = y.reshape(-1)
    fin = y[np.isfinite(y)]
    r = {"count": int(y.size), "nan": int(np.isnan(y).sum()),
         "inf": int(np.isinf(y).sum()), "zero": int((y == 0).sum()),
         "finite": int(fin.size), "dequantized": bool(deq)}
    if fin.size:
        r.update(min=float(fin.min()), max=float(fin.max()),
                 absmax=float(np.abs(fin).max()), mean=float(fin.mean()),
                 std=float(fin.std()))
    return r


def close(a, b, tol):
    return abs(a - b) <= tol * max(abs(a), abs(b)) or a == b


def main():
    if len(sys.argv) != 3:
        print("usage: check_stats.py BIN DIR", file=sys.stderr)
        return 2
    bindir, scratch = sys.argv[1], sys.argv[2]
    ckdir = os.path.join(scratch, "tiny")
    if not os.path.exists(os.path.join(ckdir, "config.json")):
        rc = subprocess.run([os.path.join(bindir, "dsck-synth"), "--preset", "tiny",
                             "-q", "-o", ckdir]).returncode
        ost.check(rc == 0, "dsck-synth --preset tiny")
        if rc:
            return 1
    proc = subprocess.run([os.path.join(bindir, "dsck-inspect"), "--jsonl", "--stats",
                           "-j", "3", ckdir], capture_output=True, text=True)
    ost.check(proc.returncode == 0 and proc.stderr == "",
          "dsck-inspect --jsonl --stats exits 0 with a clean stderr")
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]

    with open(os.path.join(ckdir, "config.json")) as f:
        cfg = json.load(f)
    block = tuple((cfg.get("quantization_config") or {}).get("weight_block_size", [128, 128]))
    arrays = load_tensors(ckdir)
    ost.check(len(rows) == len(arrays) and len(rows) > 0,
          "one line per tensor (%d lines, %d tensors)" % (len(rows), len(arrays)))

    bad = {"counts": [], "minmax": [], "moments": [], "dequant": []}
    n_deq = 0
    for row in rows:
        name, got = row["name"], row["stats"]
        if name not in arrays:
            bad["counts"].append("%s: not in the files" % name)
            continue
        want = expected_stats(name, arrays, block)
        n_deq += want["dequantized"]
        for k in ("count", "nan", "inf", "zero", "finite"):
            if got[k] != want[k]:
                bad["counts"].append("%s: %s %s != %s" % (name, k, got[k], want[k]))
        if got["dequantized"] != want["dequantized"]:
            bad["dequant"].append("%s: dequantized %s" % (name, got["dequantized"]))
        if want["finite"]:
            for k in ("min", "max", "absmax"):
                if got[k] != want[k]:
                    bad["minmax"].append("%s: %s %r != %r" % (name, k, got[k], want[k]))
            for k in ("mean", "std"):
                if got[k] is None or not close(got[k], want[k], 1e-6):
                    bad["moments"].append("%s: %s %r != %r" % (name, k, got[k], want[k]))
    ost.check(not bad["counts"], "count/NaN/Inf/zero/finite exact for every tensor", bad["counts"])
    ost.check(not bad["minmax"], "min/max/absmax exact for every tensor", bad["minmax"])
    ost.check(not bad["moments"], "mean/std within 1e-6 relative for every tensor", bad["moments"])
    ost.check(not bad["dequant"] and n_deq > 0,
          "every FP8 weight with a scale was dequantized (%d)" % n_deq, bad["dequant"])
    print("# %d checks, %d failed" % (ost.checks(), ost.failed()))
    return 1 if ost.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
