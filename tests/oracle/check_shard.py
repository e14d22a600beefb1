#!/usr/bin/env python3
"""check_shard.py - dsck-shard outputs against an independent numpy model.

Usage:
  check_shard.py mp HF_DIR MP_DIR N [--keep-mtp]
        MP_DIR holds exactly the N rank files model{r}-mp{N}.safetensors that
        DeepSeek's inference/convert.py rules give for HF_DIR (names, dtypes,
        shapes, bytes), no index, and byte-identical side files
  check_shard.py hf ORIG_DIR HF_DIR [--merge] [--max-tensors N]
        HF_DIR holds the tensors of ORIG_DIR (names, dtypes, shapes, bytes) in
        any grouping; its index (if any) matches the shard headers; --merge:
        one model.safetensors; --max-tensors N: at most N tensors per file
  check_shard.py same A B [A2 B2...]
        the same file names in A and B (hidden ones aside), byte for byte
  check_shard.py hash M1.json M2.json...
        every dsck-verify manifest has the model_sha256 of the first

The rules, recomputed here from the specification and never by dsck:
HF -> MP names: strip "model."; self_attn -> attn, mlp -> ffn;
weight_scale_inv -> scale, e_score_correction_bias -> bias; the module (the
second-to-last segment) renamed by MAP below, with a split dim or replicated.
A split tensor of size S gives rank r the rows [r*S/N, (r+1)*S/N) of its dim;
a weight and its scale are split independently along the same dim. Routed
expert E (".experts.E.") is never sliced and goes to rank E // (n_routed / N)
alone. Layers >= num_hidden_layers (MTP) are dropped unless --keep-mtp, which
adds enorm, hnorm, eh_proj, shared_head.norm (replicated), embed_tokens ->
embed and shared_head.head (both split on dim 0).

safetensors files are parsed here (8-byte little-endian header length, JSON
header, raw bytes); each must also open with safetensors.safe_open. Prints
TAP lines, one per file or per check; exits 1 on any failure.
"""
import json
import os
import re
import sys

try:
    import numpy as np
    import oracle_st as ost
except ImportError as e:  # tests/run.sh skips the oracles without them
    print("# SKIP check_shard.py: %s" % e)
    sys.exit(0)

# Module key -> (MP name, split dim or None for replicated).
MAP = {
    "embed_tokens": ("embed", 0),
    "input_layernorm": ("attn_norm", None),
    "post_attention_layernorm": ("ffn_norm", None),
    "q_proj": ("wq", 0),
    "q_a_proj": ("wq_a", None),
    "q_a_layernorm": ("q_norm", None),
    "q_b_proj": ("wq_b", 0),
    "kv_a_proj_with_mqa": ("wkv_a", None),
    "kv_a_layernorm": ("kv_norm", None),
    "kv_b_proj": ("wkv_b", 0),
    "o_proj": ("wo", 1),
    "gate": ("gate", None),
    "gate_proj": ("w1", 0),
    "down_proj": ("w2", 1),
    "up_proj": ("w3", 0),
    "norm": ("norm", None),
    "lm_head": ("head", 0),
}
# Only inside an MTP layer.
MTP_MAP = {
    "enorm": ("enorm", None),
    "hnorm": ("hnorm", None),
    "eh_proj": ("eh_proj", None),
    "head": ("head", 0),  # shared_head.head
}
SIDE_FILES = ("config.json", "generation_config.json", "tokenizer.json",
              "tokenizer_config.json")
INDEX = "model.safetensors.index.json"
LAYER_RE = re.compile(r"^model\.layers\.(\d+)\.")
EXPERT_RE = re.compile(r"\.experts\.(\d+)\.")
MP_RE = re.compile(r"^model(\d+)-mp(\d+)\.safetensors$")

def shards_of(d):
    """The HF checkpoint in d: {tensor: (Shard, file name)} and the index."""
    index = None
    if os.path.exists(os.path.join(d, INDEX)):
        with open(os.path.join(d, INDEX)) as f:
            index = json.load(f)
    files = sorted(x for x in os.listdir(d) if x.endswith(".safetensors"))
    where = {}
    shards = {}
    for x in files:
        sh = ost.Shard(os.path.join(d, x))
        shards[x] = sh
        for k in sh.tensors:
            where[k] = x
    return shards, where, index


def read_config(d):
    with open(os.path.join(d, "config.json")) as f:
        return json.load(f)


def same_bytes(p, q):
    if not os.path.exists(q) or os.path.getsize(p) != os.path.getsize(q):
        return False
    with open(p, "rb") as f, open(q, "rb") as g:
        while True:
            x, y = f.read(1 << 24), g.read(1 << 24)
            if x != y:
                return False
            if not x:
                return True


def check_side_files(src, dst):
    missing = [x for x in SIDE_FILES if os.path.exists(os.path.join(src, x))
               and not same_bytes(os.path.join(src, x), os.path.join(dst, x))]
    ost.check(not missing, "%s: config, tokenizer and generation files copied byte for byte"
          % dst, ["%s missing or different" % x for x in missing])


# --- the numpy model ------------------------------------------------------

def mp_name(hf, n_layers, keep_mtp):
    """(MP name, split dim, expert index or None), None to drop, or a str
    error for a name the rules do not cover."""
    m = LAYER_RE.match(hf)
    mtp = m is not None and int(m.group(1)) >= n_layers
    if mtp and not keep_mtp:
        return None
    name = hf[len("model."):] if hf.startswith("model.") else hf
    segs = name.split(".")
    segs = ["attn" if s == "self_attn" else "ffn" if s == "mlp" else s for s in segs]
    segs[-1] = {"weight_scale_inv": "scale", "e_score_correction_bias": "bias"}.get(segs[-1], segs[-1])
    if len(segs) < 2:
        return "%s: no module key" % hf
    key = segs[-2]
    table = dict(MAP, **MTP_MAP) if mtp else MAP
    if key == "head" and segs[-3:-2] != ["shared_head"]:
        return "%s: head outside shared_head" % hf
    if key not in table:
        return "%s: module %s not in the mapping" % (hf, key)
    segs[-2], dim = table[key]
    e = EXPERT_RE.search(hf)
    return ".".join(segs), dim, (int(e.group(1)) if e else None)


def expected_ranks(hf_dir, n, keep_mtp):
    """{rank: {name: (dtype, shape, bytes)}} and a list of rule errors."""
    cfg = read_config(hf_dir)
    n_layers = cfg["num_hidden_layers"]
    n_routed = cfg.get("n_routed_experts") or 0
    shards, where, _ = shards_of(hf_dir)
    errs = []
    if n_routed % n:
        errs.append("n_routed_experts %d not divisible by %d" % (n_routed, n))
        return {}, errs
    per_rank = n_routed // n if n_routed else 1
    out = {r: {} for r in range(n)}
    for hf in sorted(where):
        got = mp_name(hf, n_layers, keep_mtp)
        if got is None:
            continue
        if isinstance(got, str):
            errs.append(got)
            continue
        name, dim, expert = got
        t = shards[where[hf]].tensors[hf]
        raw = shards[where[hf]].raw(hf)
        if expert is not None:
            out[expert // per_rank][name] = (t["dtype"], list(t["shape"]), raw)
            continue
        if dim is None:
            for r in range(n):
                out[r][name] = (t["dtype"], list(t["shape"]), raw)
            continue
        shape = list(t["shape"])
        if shape[dim] % n:
            errs.append("%s: dim %d of %s not divisible by %d" % (hf, dim, shape, n))
            continue
        a = np.frombuffer(raw, dtype=np.uint8).reshape(shape + [ost.ITEMSIZE[t["dtype"]]])
        step = shape[dim] // n
        for r in range(n):
            sl = [slice(None)] * a.ndim
            sl[dim] = slice(r * step, (r + 1) * step)
            part = np.ascontiguousarray(a[tuple(sl)])
            pshape = shape[:]
            pshape[dim] = step
            out[r][name] = (t["dtype"], pshape, part.tobytes())
    return out, errs


# --- commands -------------------------------------------------------------

def cmd_mp(hf_dir, mp_dir, n, keep_mtp):
    want, errs = expected_ranks(hf_dir, n, keep_mtp)
    ost.check(not errs, "%s: --mp %d%s is valid under the rules"
          % (hf_dir, n, " --keep-mtp" if keep_mtp else ""), errs)
    if errs:
        return
    names = ["model%d-mp%d.safetensors" % (r, n) for r in range(n)]
    present = sorted(x for x in os.listdir(mp_dir)
                     if x.endswith(".safetensors") or x.endswith(".index.json"))
    ost.check(present == sorted(names), "%s: exactly the %d rank files, no index" % (mp_dir, n),
          ["found %s" % " ".join(present)])
    for r, fname in enumerate(names):
        p = os.path.join(mp_dir, fname)
        if not os.path.exists(p):
            ost.check(False, "%s: missing" % fname)
            continue
        sh = ost.Shard(p)
        errs = sh.layout_errors() + ost.safe_open_errors(sh)
        exp = want[r]
        for k in sorted(set(sh.tensors) | set(exp)):
            if k not in exp:
                errs.append("%s: unexpected" % k)
                continue
            if k not in sh.tensors:
                errs.append("%s: missing" % k)
                continue
            t = sh.tensors[k]
            dt, shape, data = exp[k]
            if (t["dtype"], list(t["shape"])) != (dt, shape):
                errs.append("%s: %s %s, expected %s %s" % (k, t["dtype"], t["shape"], dt, shape))
            elif sh.raw(k) != data:
                errs.append("%s: bytes differ" % k)
        meta = sh.meta or {}
        if meta.get("format") != "pt":
            errs.append("__metadata__ format is %r, expected 'pt'" % meta.get("format"))
        dsck = " ".join("%s=%s" % (k, v) for k, v in sorted(meta.items()) if k != "format")
        ost.check(not errs, "%s: %d tensors as expected (%s)" % (fname, len(exp), dsck or "no dsck keys"),
              errs)
    check_side_files(hf_dir, mp_dir)


def cmd_hf(orig_dir, hf_dir, merge, max_tensors):
    o_shards, o_where, _ = shards_of(orig_dir)
    shards, where, index = shards_of(hf_dir)
    # Each file: valid on its own, and the grouping asked for.
    for x, sh in sorted(shards.items()):
        errs = sh.layout_errors() + ost.safe_open_errors(sh)
        if max_tensors and len(sh.tensors) > max_tensors:
            errs.append("%d tensors, more than %d" % (len(sh.tensors), max_tensors))
        ost.check(not errs, "%s/%s: %d tensors, header and data consistent"
              % (os.path.basename(hf_dir), x, len(sh.tensors)), errs)
    if merge:
        ost.check(list(shards) == ["model.safetensors"], "%s: one model.safetensors" % hf_dir,
              ["found %s" % " ".join(shards)])
    # The index (when there is one) must describe the files.
    errs = []
    if index is None:
        if len(shards) != 1:
            errs.append("no index for %d files" % len(shards))
    else:
        wmap = index.get("weight_map", {})
        if wmap != where:
            bad = sorted(k for k in set(wmap) | set(where) if wmap.get(k) != where.get(k))
            errs += ["%s: index says %s, found in %s" % (k, wmap.get(k), where.get(k))
                     for k in bad]
        total = sum(t["data_offsets"][1] - t["data_offsets"][0]
                    for sh in shards.values() for t in sh.tensors.values())
        got = index.get("metadata", {}).get("total_size")
        if got != total:
            errs.append("total_size %s, tensors hold %d bytes" % (got, total))
    ost.check(not errs, "%s: %s" % (hf_dir, "index matches the files" if index is not None
                                 else "single file, no index"), errs)
    # Every tensor of the original, same dtype, shape and bytes; no other.
    errs = []
    dup = sum(len(sh.tensors) for sh in shards.values()) - len(where)
    if dup:
        errs.append("%d names in more than one file" % dup)
    for k in sorted(set(o_where) | set(where)):
        if k not in where:
            errs.append("%s: missing" % k)
            continue
        if k not in o_where:
            errs.append("%s: unexpected" % k)
            continue
        a, b = o_shards[o_where[k]], shards[where[k]]
        ta, tb = a.tensors[k], b.tensors[k]
        if (ta["dtype"], ta["shape"]) != (tb["dtype"], tb["shape"]):
            errs.append("%s: %s %s, expected %s %s" % (k, tb["dtype"], tb["shape"],
                                                      ta["dtype"], ta["shape"]))
        elif a.raw(k) != b.raw(k):
            errs.append("%s: bytes differ" % k)
    ost.check(not errs, "%s: the %d tensors of %s, byte for byte"
          % (hf_dir, len(o_where), orig_dir), errs)
    check_side_files(orig_dir, hf_dir)


def listing(d):
    return sorted(x for x in os.listdir(d)
                  if not x.startswith(".") and os.path.isfile(os.path.join(d, x)))


def cmd_same(a_dir, b_dir):
    la, lb = listing(a_dir), listing(b_dir)
    errs = ["only in %s: %s" % (d, " ".join(sorted(set(x) - set(y))))
            for d, x, y in ((a_dir, la, lb), (b_dir, lb, la)) if set(x) - set(y)]
    errs += ["%s differs" % x for x in la if x in lb and not same_bytes(
        os.path.join(a_dir, x), os.path.join(b_dir, x))]
    ost.check(not errs, "%s and %s: the same %d files, byte for byte" % (a_dir, b_dir, len(la)),
          errs)


def cmd_hash(paths):
    hashes = []
    for p in paths:
        with open(p) as f:
            hashes.append(json.load(f).get("model_sha256"))
    first = hashes[0]
    for p, h in zip(paths[1:], hashes[1:]):
        ost.check(h is not None and h == first, "%s: model_sha256 %s" % (p, (h or "none")[:16]),
              ["expected %s (%s)" % (first, paths[0])])


def main(argv):
    if len(argv) >= 4 and argv[0] == "mp":
        cmd_mp(argv[1], argv[2], int(argv[3]), "--keep-mtp" in argv[4:])
    elif len(argv) >= 3 and argv[0] == "hf":
        mt = int(argv[argv.index("--max-tensors") + 1]) if "--max-tensors" in argv else 0
        cmd_hf(argv[1], argv[2], "--merge" in argv[3:], mt)
    elif len(argv) >= 3 and len(argv) % 2 == 1 and argv[0] == "same":
        for a, b in zip(argv[1::2], argv[2::2]):
            cmd_same(a, b)
    elif len(argv) >= 3 and argv[0] == "hash":
        cmd_hash(argv[1:])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 1 if ost.failed() else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
