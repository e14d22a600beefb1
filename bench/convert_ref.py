#!/usr/bin/env python3
"""convert_ref.py - a plain numpy CPU FP8 -> BF16 conversion, the yardstick
of bench/convert.sh for `dsck-convert --to bf16`.

Usage: convert_ref.py SRC DST

What DeepSeek's fp8_cast_bf16.py does, without torch: for each shard of
SRC's index, every F8_E4M3 weight W with its F32 scale W_scale_inv becomes
bf16(float32(W) * scale[m // 128, n // 128]); scales are dropped, other
tensors copied. Headers are parsed here; data are read with numpy and
written with safetensors.numpy.save_file (which takes ml_dtypes bfloat16),
one output shard per input shard (fsynced, as dsck does), then index.json, config.json without
quantization_config, and the other files copied. Not byte-identical to
dsck's output (tensor order, config formatting); tests/oracle checks values.
"""
import json
import os
import shutil
import struct
import sys

import ml_dtypes
import numpy as np
from safetensors.numpy import save_file

DTYPES = {"F8_E4M3": ml_dtypes.float8_e4m3fn, "BF16": ml_dtypes.bfloat16,
          "F16": np.float16, "F32": np.float32}
BLOCK = 128


def header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        h = json.loads(f.read(n))
    h.pop("__metadata__", None)
    return 8 + n, h


def read(path, base, info):
    b, e = info["data_offsets"]
    a = np.fromfile(path, dtype=DTYPES[info["dtype"]], count=(e - b) // np.dtype(DTYPES[info["dtype"]]).itemsize,
                    offset=base + b)
    return a.reshape(info["shape"])


def main(src, dst):
    with open(os.path.join(src, "model.safetensors.index.json")) as f:
        wmap = json.load(f)["weight_map"]
    heads = {s: header(os.path.join(src, s)) for s in sorted(set(wmap.values()))}
    os.makedirs(dst, exist_ok=True)
    out_map, total = {}, 0
    for shard, (base, h) in heads.items():
        path = os.path.join(src, shard)
        out = {}
        for name, info in h.items():
            if name.endswith("_scale_inv"):
                continue
            a = read(path, base, info)
            if info["dtype"] == "F8_E4M3":
                sname = name + "_scale_inv"
                sb, sh = heads[wmap[sname]]
                s = read(os.path.join(src, wmap[sname]), sb, sh[sname])
                m, n = a.shape
                s = np.repeat(np.repeat(s, BLOCK, axis=0)[:m], BLOCK, axis=1)[:, :n]
                a = (a.astype(np.float32) * s).astype(ml_dtypes.bfloat16)
            out[name] = a
            out_map[name] = shard
            total += a.nbytes
        save_file(out, os.path.join(dst, shard), metadata={"format": "pt"})
        fd = os.open(os.path.join(dst, shard), os.O_RDONLY)  # durable, as dsck's outputs
        os.fsync(fd)
        os.close(fd)
    with open(os.path.join(dst, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(out_map.items()))}, f, indent=2)
    with open(os.path.join(src, "config.json")) as f:
        cfg = json.load(f)
    cfg.pop("quantization_config", None)
    cfg["torch_dtype"] = "bfloat16"
    with open(os.path.join(dst, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    for name in os.listdir(src):
        if name.endswith(".safetensors") or name in ("config.json", "model.safetensors.index.json"):
            continue
        shutil.copy(os.path.join(src, name), os.path.join(dst, name))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
