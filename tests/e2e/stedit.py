#!/usr/bin/env python3
"""stedit.py - make broken copies of a checkpoint for dsck-verify's tests.

Works on raw bytes (any dtype, no numpy): parses a shard's header, applies
one edit, rewrites the shard and keeps model.safetensors.index.json in step.

  stedit.py DIR drop NAME                 remove a tensor
  stedit.py DIR retype NAME DTYPE SHAPE   relabel dtype and shape (same bytes)
  stedit.py DIR add NAME DTYPE SHAPE      append a zero tensor to the first shard
  stedit.py DIR poke NAME INDEX HEXBYTES  overwrite bytes of a tensor at INDEX
  stedit.py DIR config KEY JSON           set a config.json key (JSON value)
"""
import json
import os
import struct
import sys


def read_shard(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", None)
    return header, meta, data


def write_shard(path, header, meta, tensors):
    """tensors: list of (name, dtype, shape, bytes) in file order."""
    h = {}
    if meta is not None:
        h["__metadata__"] = meta
    off = 0
    for name, dtype, shape, b in tensors:
        h[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(b)]}
        off += len(b)
    text = json.dumps(h, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for t in tensors:
            f.write(t[3])
    os.replace(path + ".tmp", path)


def load(path):
    header, meta, data = read_shard(path)
    items = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])
    return meta, [(k, v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]])
                  for k, v in items]


def index_path(d):
    return os.path.join(d, "model.safetensors.index.json")


def shard_of(d, name):
    with open(index_path(d)) as f:
        return json.load(f)["weight_map"][name]


def update_index(d, name, shard, delta):
    p = index_path(d)
    with open(p) as f:
        idx = json.load(f)
    if shard is None:
        del idx["weight_map"][name]
    else:
        idx["weight_map"][name] = shard
    idx["metadata"]["total_size"] += delta
    with open(p, "w") as f:
        json.dump(idx, f, indent=2, sort_keys=True)
        f.write("\n")


def main():
    d, op, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if op == "config":
        p = os.path.join(d, "config.json")
        with open(p) as f:
            cfg = json.load(f)
        cfg[args[0]] = json.loads(args[1])
        with open(p, "w") as f:
            json.dump(cfg, f, indent=2)
        return
    if op == "add":
        shard = sorted(x for x in os.listdir(d) if x.endswith(".safetensors"))[0]
    else:
        shard = shard_of(d, args[0])
    path = os.path.join(d, shard)
    meta, tensors = load(path)
    if op == "drop":
        b = [t for t in tensors if t[0] == args[0]][0][3]
        tensors = [t for t in tensors if t[0] != args[0]]
        update_index(d, args[0], None, -len(b))
    elif op == "retype":
        tensors = [(n, args[1], json.loads(args[2]), b) if n == args[0] else (n, dt, s, b)
                   for n, dt, s, b in tensors]
    elif op == "add":
        shape = json.loads(args[2])
        size = {"F32": 4, "BF16": 2, "F16": 2, "F8_E4M3": 1}[args[1]]
        for s in shape:
            size *= s
        tensors.append((args[0], args[1], shape, bytes(size)))
        update_index(d, args[0], shard, size)
    elif op == "poke":
        i, new = int(args[1]), bytes.fromhex(args[2])
        tensors = [(n, dt, s, b[:i] + new + b[i + len(new):]) if n == args[0] else (n, dt, s, b)
                   for n, dt, s, b in tensors]
    else:
        sys.exit(f"unknown op {op}")
    write_shard(path, None, meta, tensors)


if __name__ == "__main__":
    main()
