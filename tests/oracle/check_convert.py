#!/usr/bin/env python3
"""check_convert.py - dsck-convert outputs against an independent numpy model.

Usage:
  check_convert.py dequant SRC DST --to bf16|f16|f32
  check_convert.py quant SRC DST [--ue8m0]
  check_convert.py layout A B          same tensor names, dtypes and shapes
  check_convert.py same A B            shards and index byte for byte
  check_convert.py roundtrip-stats A B FP8 -> BF16 -> FP8 drift (float scales)
  check_convert.py edge DIR [--huge]   write edge-case values into DIR, in place

Every expectation is recomputed here from the specification, never by dsck:
safetensors files are parsed by this script (8-byte little-endian header
length, JSON header, raw little-endian data viewed with numpy / ml_dtypes),
and each output shard must also open with safetensors.safe_open(framework=
"numpy") (tensors whose dtype that backend cannot return, F8, are listed
only).

dequant: y = float32(e4m3fn(W)) * S[m // 128, n // 128] in float32, then
rounded to the target dtype (RNE); scales dropped; BF16/F16 tensors cast to
the target through float32; F32 tensors kept (widening only).
quant: the 2-D projections of the decoder blocks (MTP block included) in
128x128 blocks: amax = max(max |x|, 1e-4) in float32; s = amax / 448, or with
--ue8m0 the smallest power of two with amax / s <= 464; q = e4m3fn(x / s)
(float32 division, RNE, saturated to +-448); s stored as NAME_scale_inv.

Both also check index.json (weight_map and total_size), config.json (only
quantization_config and torch_dtype may differ, every other byte kept) and
the byte-identical tokenizer / generation config files. Prints TAP lines,
one per file or per check; exits 1 on any failure.
"""
import json
import os
import re
import sys

try:
    import ml_dtypes
    import numpy as np
    import oracle_st as ost
except ImportError as e:  # tests/run.sh skips the oracles without them
    print("# SKIP check_convert.py: %s" % e)
    sys.exit(0)

BLOCK = 128
E4M3 = ml_dtypes.float8_e4m3fn
TARGET = {"bf16": "BF16", "f16": "F16", "f32": "F32"}
TORCH_DTYPE = {"bf16": "bfloat16", "f16": "float16", "f32": "float32"}
COPIED_FILES = ("tokenizer.json", "tokenizer_config.json", "generation_config.json")
# The projections --to fp8 quantizes (any decoder block, the MTP one too).
QUANT_RE = re.compile(
    r"^model\.layers\.\d+\.(?:"
    r"self_attn\.(?:q_a_proj|q_b_proj|q_proj|kv_a_proj_with_mqa|kv_b_proj|o_proj)"
    r"|mlp\.(?:experts\.\d+\.|shared_experts\.)?(?:gate_proj|up_proj|down_proj)"
    r")\.weight$")
QUANT_CONFIG = {"activation_scheme": "dynamic", "fmt": "e4m3",
                "quant_method": "fp8", "weight_block_size": [128, 128]}

class Checkpoint:
    def __init__(self, d):
        self.dir = d
        with open(os.path.join(d, "model.safetensors.index.json")) as f:
            self.index = json.load(f)
        self.wmap = self.index["weight_map"]
        self.shard_names = sorted(set(self.wmap.values()))
        self.shards = {s: ost.Shard(os.path.join(d, s)) for s in self.shard_names}
        self.where = {}  # tensor -> shard name, from the shard headers
        for s, sh in self.shards.items():
            for k in sh.tensors:
                self.where[k] = s

    def info(self, name):
        return self.shards[self.where[name]].tensors[name]

    def array(self, name):
        return self.shards[self.where[name]].array(name)

    def raw(self, name):
        return self.shards[self.where[name]].raw(name)


def nbytes(t):
    return t["data_offsets"][1] - t["data_offsets"][0]


# --- the numpy model ------------------------------------------------------

def expand(grid, shape):
    """Per-element view of a [ceil(M/128), ceil(N/128)] block grid."""
    m, n = shape
    return np.repeat(np.repeat(grid, BLOCK, axis=0)[:m], BLOCK, axis=1)[:, :n]


# float32 of each E4M3 code (ml_dtypes' conversion, table-driven for speed)
E4M3_F32 = np.arange(256, dtype=np.uint8).view(E4M3).astype(np.float32)


def dequant(w, s):
    y = E4M3_F32[w.view(np.uint8)] * expand(s.astype(np.float32), w.shape)
    return y.astype(np.float32)


def to_dtype(x32, target):
    if target == "BF16":
        return x32.astype(ml_dtypes.bfloat16)
    if target == "F16":
        return x32.astype(np.float16)
    return x32.astype(np.float32)


def block_amax(x):
    """max |x| over each 128x128 block (edge blocks partial), float32."""
    m, n = x.shape
    gm, gn = -(-m // BLOCK), -(-n // BLOCK)
    a = np.zeros((gm * BLOCK, gn * BLOCK), np.float32)
    a[:m, :n] = np.abs(x)
    return a.reshape(gm, BLOCK, gn, BLOCK).max(axis=(1, 3))


def ue8m0_scale(amax):
    """Smallest power of two s with amax / s <= 464 (float32 division)."""
    e = np.ceil(np.log2(amax.astype(np.float64) / 464.0)).astype(np.int32)
    for _ in range(3):  # log2 rounding can be off by one either way
        s = np.ldexp(np.float32(1), e).astype(np.float32)
        e = np.where(amax / s > np.float32(464), e + 1, e)
        s_half = np.ldexp(np.float32(1), e - 1).astype(np.float32)
        e = np.where(amax / s_half <= np.float32(464), e - 1, e)
    return np.ldexp(np.float32(1), e).astype(np.float32)


def quant(x, ue8m0):
    x = x.astype(np.float32)
    amax = np.maximum(block_amax(x), np.float32(1e-4))
    s = ue8m0_scale(amax) if ue8m0 else (amax / np.float32(448)).astype(np.float32)
    r = (x / expand(s, x.shape)).astype(np.float32)
    # ml_dtypes turns values above 448 into NaN: saturate first (RNE would
    # give 448 for (448, 464] anyway).
    q = np.clip(r, -448, 448).astype(E4M3)
    return q, s


# --- checks shared by dequant and quant -------------------------------------

def first_diff(a, b):
    a, b = np.asarray(a).reshape(-1), np.asarray(b).reshape(-1)
    ne = np.flatnonzero(a.view(np.uint8 if a.itemsize == 1 else "u%d" % a.itemsize)
                        != b.view(np.uint8 if b.itemsize == 1 else "u%d" % b.itemsize))
    if ne.size == 0:
        return None
    i = ne[0]
    return "%d of %d differ, first at flat %d: got %r want %r" % (
        ne.size, a.size, i, float(a[i]), float(b[i]))


def check_index(out):
    errs = []
    if out.wmap != out.where:
        missing = set(out.where) ^ set(out.wmap)
        moved = [k for k in out.wmap if k in out.where and out.wmap[k] != out.where[k]]
        errs.append("weight_map vs shards: %d names differ, %d in another shard"
                    % (len(missing), len(moved)))
    total = sum(nbytes(out.info(k)) for k in out.where)
    got = out.index.get("metadata", {}).get("total_size")
    if got != total:
        errs.append("total_size %r, tensors hold %d bytes" % (got, total))
    ost.check(not errs, "%s: index.json weight_map matches the shards, total_size %d"
          % (out.dir, total), errs)


def json_members(text):
    """Top-level members of a JSON object: [(key, key_start, value_end)]."""
    dec = json.JSONDecoder()
    ws = re.compile(r"\s*")
    i = ws.match(text, 0).end()
    assert text[i] == "{"
    i = ws.match(text, i + 1).end()
    out = []
    while text[i] != "}":
        key, j = dec.raw_decode(text, i)
        j = ws.match(text, j).end()
        assert text[j] == ":"
        j = ws.match(text, j + 1).end()
        _, end = dec.raw_decode(text, j)
        out.append((key, i, end))
        i = ws.match(text, end).end()
        if text[i] == ",":
            i = ws.match(text, i + 1).end()
    return out


def without(text, keys):
    """text minus the members in keys (with their separating comma)."""
    mem = json_members(text)
    cut = []
    for n, (k, start, end) in enumerate(mem):
        if k not in keys:
            continue
        if n > 0:  # from the end of the previous value: takes its comma
            cut.append((mem[n - 1][2], end))
        elif n + 1 < len(mem):  # first member: up to the next key
            cut.append((start, mem[n + 1][1]))
        else:
            cut.append((start, end))
    for b, e in sorted(cut, reverse=True):
        text = text[:b] + text[e:]
    return text


def check_config(src, dst, torch_dtype, qconfig):
    with open(os.path.join(src, "config.json")) as f:
        a = f.read()
    with open(os.path.join(dst, "config.json")) as f:
        b = f.read()
    errs = []
    try:
        cb = json.loads(b)
        if torch_dtype is not None and cb.get("torch_dtype") != torch_dtype:
            errs.append("torch_dtype %r, want %r" % (cb.get("torch_dtype"), torch_dtype))
        if cb.get("quantization_config") != qconfig:
            errs.append("quantization_config %r, want %r" % (cb.get("quantization_config"), qconfig))
        edited = {"quantization_config"} | ({"torch_dtype"} if torch_dtype else set())
        ra, rb = without(a, edited), without(b, edited)
        if ra != rb:
            i = next((i for i, (x, y) in enumerate(zip(ra, rb)) if x != y), min(len(ra), len(rb)))
            errs.append("other bytes differ near %r / %r" % (ra[max(0, i - 30):i + 30], rb[max(0, i - 30):i + 30]))
    except (ValueError, AssertionError, IndexError) as e:
        errs.append("config.json: %s" % e)
    ost.check(not errs, "%s: config.json quantization_config %s, torch_dtype %s, other bytes kept"
          % (dst, "set" if qconfig else "removed", torch_dtype), errs)


def check_copied(src, dst):
    errs = []
    for name in COPIED_FILES:
        p = os.path.join(src, name)
        if not os.path.exists(p):
            continue
        q = os.path.join(dst, name)
        if not os.path.exists(q):
            errs.append("%s missing" % name)
            continue
        with open(p, "rb") as f, open(q, "rb") as g:
            if f.read() != g.read():
                errs.append("%s differs" % name)
    ost.check(not errs, "%s: %s byte-identical" % (dst, ", ".join(COPIED_FILES)), errs)


def check_shard_set(src, out):
    ost.check(src.shard_names == out.shard_names
          and all(os.path.exists(os.path.join(out.dir, s)) for s in src.shard_names),
          "%s: the %d shard names of the input" % (out.dir, len(src.shard_names)),
          ["input %s, output %s" % (src.shard_names, out.shard_names)])


def check_inventory(src, out, expect):
    """expect: out tensor name -> (shard, dtype, shape)."""
    errs = []
    for k in sorted(set(expect) | set(out.where)):
        if k not in out.where:
            errs.append("%s missing" % k)
        elif k not in expect:
            errs.append("%s unexpected" % k)
        else:
            t = out.info(k)
            got = (out.where[k], t["dtype"], list(t["shape"]))
            if got != expect[k]:
                errs.append("%s: %s, want %s" % (k, got, expect[k]))
    ost.check(not errs, "%s: %d tensors, each in its input shard with the expected dtype and shape"
          % (out.dir, len(expect)), errs)


# --- subcommands ------------------------------------------------------------

def cmd_dequant(src_dir, dst_dir, to):
    target = TARGET[to]
    src, out = Checkpoint(src_dir), Checkpoint(dst_dir)
    check_shard_set(src, out)
    expect = {}
    for k, s in src.where.items():
        t = src.info(k)
        if k.endswith("_scale_inv") and k[:-len("_scale_inv")] in src.where \
                and src.info(k[:-len("_scale_inv")])["dtype"] == "F8_E4M3":
            continue
        dt = t["dtype"]
        if dt in ("F8_E4M3", "BF16", "F16") or (dt == "F32" and target == "F32"):
            dt = target
        expect[k] = (s, dt, list(t["shape"]))
    check_inventory(src, out, expect)
    n_deq = 0
    for sname in out.shard_names:
        sh = out.shards[sname]
        errs = sh.layout_errors() + ost.safe_open_errors(sh)
        n = 0
        for k in sorted(sh.tensors):
            if k not in expect or k not in src.where:
                continue
            t = src.info(k)
            if t["dtype"] == "F8_E4M3":
                want = to_dtype(dequant(src.array(k), src.array(k + "_scale_inv")), target)
                n_deq += 1
            elif t["dtype"] in ("BF16", "F16") or (t["dtype"] == "F32" and target == "F32"):
                want = to_dtype(src.array(k).astype(np.float32), target)
            else:
                want = src.array(k)
            got = out.array(k)
            if got.dtype != want.dtype or got.shape != want.shape or got.tobytes() != want.tobytes():
                d = first_diff(got, want) if got.shape == want.shape and got.dtype == want.dtype else \
                    "%s %s, want %s %s" % (got.dtype, got.shape, want.dtype, want.shape)
                errs.append("%s: %s" % (k, d))
            n += 1
        ost.check(not errs, "%s: %d tensors bit-identical to numpy (--to %s), layout and safe_open ok"
              % (sh.path, n, to), errs)
    print("# %d FP8 weights dequantized" % n_deq)
    check_index(out)
    check_config(src_dir, dst_dir, TORCH_DTYPE[to], None)
    check_copied(src_dir, dst_dir)


def fp8_layout_dtype(name, dtype):
    """dtype a non-quantized float tensor has in an upstream FP8 checkpoint."""
    if dtype not in ("BF16", "F16", "F32"):
        return dtype
    if QUANT_RE.match(name):
        return dtype  # only 2-D projections are quantized; others as they are
    return "F32" if name.endswith("e_score_correction_bias") else "BF16"


def cmd_quant(src_dir, dst_dir, ue8m0):
    src, out = Checkpoint(src_dir), Checkpoint(dst_dir)
    check_shard_set(src, out)
    expect, quantized = {}, set()
    for k, s in src.where.items():
        t = src.info(k)
        expect[k] = (s, fp8_layout_dtype(k, t["dtype"]), list(t["shape"]))
        if QUANT_RE.match(k) and len(t["shape"]) == 2 and t["dtype"] in ("BF16", "F16", "F32"):
            m, n = t["shape"]
            quantized.add(k)
            expect[k] = (s, "F8_E4M3", [m, n])
            expect[k + "_scale_inv"] = (s, "F32", [-(-m // BLOCK), -(-n // BLOCK)])
    check_inventory(src, out, expect)
    for sname in out.shard_names:
        sh = out.shards[sname]
        errs = sh.layout_errors() + ost.safe_open_errors(sh)
        nq = nc = 0
        for k in sorted(sh.tensors):
            if k.endswith("_scale_inv") and k[:-len("_scale_inv")] in quantized:
                continue  # checked with its weight
            if k not in src.where:
                continue  # reported by the inventory check
            if k in quantized:
                q, s = quant(src.array(k), ue8m0)
                for name, want in ((k, q), (k + "_scale_inv", s)):
                    if name not in out.where:
                        continue
                    got = out.array(name)
                    if got.shape != want.shape or got.dtype != want.dtype or got.tobytes() != want.tobytes():
                        errs.append("%s: %s" % (name, first_diff(got, want) if got.shape == want.shape
                                                else "shape %s, want %s" % (got.shape, want.shape)))
                nq += 1
            else:
                # CV-R3: the rest takes the upstream FP8 layout's dtypes
                # (BF16; the router bias F32), cast RNE through f32
                want_dt = fp8_layout_dtype(k, src.info(k)["dtype"])
                if want_dt == src.info(k)["dtype"]:
                    if out.raw(k) != src.raw(k):
                        errs.append("%s: not copied unchanged" % k)
                else:
                    want = to_dtype(src.array(k).astype(np.float32), want_dt)
                    if out.raw(k) != want.tobytes():
                        errs.append("%s: not cast to %s" % (k, want_dt))
                nc += 1
        ost.check(not errs, "%s: %d weights quantized as numpy (%s scales), %d copied, layout and safe_open ok"
              % (sh.path, nq, "ue8m0" if ue8m0 else "float", nc), errs)
    check_index(out)
    qc = dict(QUANT_CONFIG)
    if ue8m0:
        qc["scale_fmt"] = "ue8m0"
    # formats.md CV-R5: an FP8 checkpoint says torch_dtype bfloat16
    check_config(src_dir, dst_dir, "bfloat16", qc)
    check_copied(src_dir, dst_dir)


def cmd_layout(a_dir, b_dir):
    a, b = Checkpoint(a_dir), Checkpoint(b_dir)
    errs = []
    for k in sorted(set(a.where) | set(b.where)):
        if k not in a.where or k not in b.where:
            errs.append("%s only in %s" % (k, a_dir if k in a.where else b_dir))
            continue
        ta, tb = a.info(k), b.info(k)
        if (ta["dtype"], ta["shape"]) != (tb["dtype"], tb["shape"]):
            errs.append("%s: %s %s vs %s %s" % (k, ta["dtype"], ta["shape"], tb["dtype"], tb["shape"]))
    ost.check(not errs, "%s and %s: same %d tensor names, dtypes and shapes"
          % (a_dir, b_dir, len(a.where)), errs)


def cmd_same(a_dir, b_dir):
    a = Checkpoint(a_dir)
    for name in a.shard_names + ["model.safetensors.index.json"]:
        p, q = os.path.join(a_dir, name), os.path.join(b_dir, name)
        ok = os.path.exists(q) and os.path.getsize(p) == os.path.getsize(q)
        if ok:
            with open(p, "rb") as f, open(q, "rb") as g:
                while ok:
                    x, y = f.read(1 << 24), g.read(1 << 24)
                    ok = x == y
                    if not x:
                        break
        ost.check(ok, "%s byte-identical to %s" % (q, p))


def cmd_roundtrip_stats(a_dir, b_dir):
    """A, B: FP8 checkpoints, B = quant(dequant(A)); drift of codes and scales."""
    a, b = Checkpoint(a_dir), Checkpoint(b_dir)
    codes = codes_changed = scales = scales_changed = 0
    worst, errs = 0.0, []
    for k in sorted(a.where):
        if a.info(k)["dtype"] != "F8_E4M3":
            continue
        qa, sa = a.array(k), a.array(k + "_scale_inv")
        qb, sb = b.array(k), b.array(k + "_scale_inv")
        codes += qa.size
        codes_changed += int(np.count_nonzero(qa.view(np.uint8) != qb.view(np.uint8)))
        scales += sa.size
        scales_changed += int(np.count_nonzero(sa.view(np.uint32) != sb.view(np.uint32)))
        ya, yb = dequant(qa, sa).astype(np.float64), dequant(qb, sb).astype(np.float64)
        # B re-rounds y = q * s once to E4M3: at most half an E4M3 ulp,
        # 2^-4 relative for normal codes, or half the smallest subnormal
        # step, 2^-10 * s', absolute. Before that, y and the block amax
        # (hence s') were rounded to BF16 (2^-9 relative each), which moves
        # y / s' by less than 2^-7 relative. Anything beyond that is a wrong
        # code or a wrong scale, not rounding.
        smax = np.maximum(expand(sa, qa.shape), expand(sb, qb.shape)).astype(np.float64)
        bound = (2.0 ** -4 + 2.0 ** -7) * np.abs(ya) + 2.0 ** -10 * smax
        d = np.abs(yb - ya)
        if np.any(d > bound):
            errs.append("%s: %d elements beyond the bound" % (k, int(np.count_nonzero(d > bound))))
        nz = ya != 0
        if np.any(nz):
            worst = max(worst, float(np.max(d[nz] / np.abs(ya[nz]))))
    print("# float round trip %s -> BF16 -> FP8: %d of %d FP8 codes changed (%.6f%%), "
          "%d of %d scales changed (%.2f%%), max relative change of a dequantized value %.3g (2^%.2f)"
          % (os.path.basename(a_dir), codes_changed, codes, 100.0 * codes_changed / max(codes, 1), scales_changed, scales,
             100.0 * scales_changed / max(scales, 1), worst, np.log2(worst) if worst > 0 else float("-inf")))
    ost.check(not errs and codes > 0,
          "%s: dequantized values within one E4M3 rounding (+ BF16 roundings) of %s"
          % (b_dir, a_dir), errs)


def e4m3_values():
    """The finite E4M3 values, ascending, as float32."""
    v = np.arange(256, dtype=np.uint8).view(E4M3).astype(np.float32)
    return np.unique(v[np.isfinite(v)])


def edge_fp8(w_shape, s_shape, rng):
    """Every finite E4M3 code; scales for RNE ties, subnormal results and
    overflow (f16 inf at 1e35, f32 inf at 3e36)."""
    codes = np.arange(w_shape[0] * w_shape[1], dtype=np.int64) % 256
    codes = np.where((codes & 0x7f) == 0x7f, 0, codes).astype(np.uint8)  # no NaN
    special = np.array([1.0, 1 + 2.0 ** -8, 1 + 3 * 2.0 ** -9, 1e-38, 2.0 ** -130,
                        1e35, 3e36, 1 / 3.0], np.float32)
    s = rng.uniform(1e-5, 1e-3, s_shape).astype(np.float32).reshape(-1)
    s[:min(s.size, special.size)] = special[:s.size]
    return codes.reshape(w_shape).view(E4M3), s.reshape(s_shape)


def edge_float(shape, rng, top):
    """Blocks that exercise the quantizer: zeros, amax below the 1e-4 floor,
    -0.0, a 2^+-40 range (E4M3 underflow), values up to top, exact E4M3 ties
    of x / s, and ue8m0 amax at and just above 464 * 2^k."""
    m, n = shape
    x = rng.standard_normal(shape).astype(np.float32) * 0.02
    grid = [(r, c) for r in range(0, m, BLOCK) for c in range(0, n, BLOCK)]
    v = e4m3_values()
    for i, (r, c) in enumerate(grid):
        b = x[r:r + BLOCK, c:c + BLOCK]
        kind = i % 10
        if kind == 0:
            b[...] = 0
        elif kind == 1:
            b[...] = rng.uniform(-5e-5, 5e-5, b.shape)
        elif kind == 2:
            b[...] = -0.0
            b[0, 0] = 1e-3
        elif kind == 3:
            b[...] = rng.standard_normal(b.shape) * np.exp2(rng.integers(-40, 40, b.shape))
        elif kind == 4:
            b[...] = np.float32(top) * rng.choice([-1, 1, 0.5], b.shape)
        elif kind == 5:  # s = 56 / 448 = 2^-3 exactly: x / s are E4M3 midpoints
            mid = (v[:-1] + v[1:]) / 2
            b[...] = rng.choice(mid, b.shape) * np.float32(0.125)
            b[0, 0] = 56
        elif kind == 6:  # ue8m0 boundary: amax = 464 * 2^-8 exactly
            b[0, 0] = 464 * 2.0 ** -8
        elif kind == 7:  # just above it: the next power of two
            b[0, 0] = np.nextafter(np.float32(464 * 2.0 ** -8), np.float32(1))
        elif kind == 8:
            b[...] = rng.choice(v, b.shape) * np.float32(2.0 ** -12)  # on the grid
    return x


def cmd_edge(d, huge):
    """Overwrites, in place, the data of the first projections of the first
    shard with edge cases (headers unchanged). huge: blocks reach the BF16
    maximum, whose FP8 form dequantizes to Inf (no round trip); else a
    quarter of it."""
    top = float(ml_dtypes.finfo(ml_dtypes.bfloat16).max) / (1 if huge else 4)
    ck = Checkpoint(d)
    rng = np.random.default_rng(1)
    sname = ck.shard_names[0]
    sh = ck.shards[sname]
    done = []
    with open(sh.path, "r+b") as f:
        def put(name, arr):
            t = sh.tensors[name]
            data = np.ascontiguousarray(arr).astype(ost.DTYPES[t["dtype"]]).tobytes()
            assert len(data) == nbytes(t)
            f.seek(sh.base + t["data_offsets"][0])
            f.write(data)
        for k in sorted(sh.tensors):
            t = sh.tensors[k]
            if not QUANT_RE.match(k) or len(t["shape"]) != 2:
                continue
            if t["dtype"] == "F8_E4M3":
                st = sh.tensors.get(k + "_scale_inv")
                if st is None:
                    continue
                w, s = edge_fp8(t["shape"], st["shape"], rng)
                put(k, w)
                put(k + "_scale_inv", s)
            elif t["dtype"] in ("BF16", "F16", "F32"):
                x = edge_float(t["shape"], rng, top)
                if t["dtype"] == "F16":
                    x = np.clip(x, -60000, 60000)
                put(k, x)
            else:
                continue
            done.append(k)
            if len(done) == 3:
                break
    ost.check(len(done) == 3, "%s: edge-case data written into %s" % (sname, ", ".join(done)))


def main(argv):
    if len(argv) >= 3 and argv[0] == "dequant" and "--to" in argv:
        to = argv[argv.index("--to") + 1]
        cmd_dequant(argv[1], argv[2], to)
    elif len(argv) >= 3 and argv[0] == "quant":
        cmd_quant(argv[1], argv[2], "--ue8m0" in argv[3:])
    elif len(argv) == 3 and argv[0] == "layout":
        cmd_layout(argv[1], argv[2])
    elif len(argv) == 3 and argv[0] == "same":
        cmd_same(argv[1], argv[2])
    elif len(argv) >= 2 and argv[0] == "edge":
        cmd_edge(argv[1], "--huge" in argv[2:])
    elif len(argv) == 3 and argv[0] == "roundtrip-stats":
        cmd_roundtrip_stats(argv[1], argv[2])
    else:
        sys.exit(__doc__)
    return 1 if ost.failed() else 0


if __name__ == "__main__":
    with np.errstate(over="ignore", invalid="ignore"):  # edge cases overflow on purpose
        sys.exit(main(sys.argv[1:]))
