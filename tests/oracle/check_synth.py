#!/usr/bin/env python3
"""check_synth.py - independent check of a dsck-synth directory.

Usage: check_synth.py DIR [--sparse]

Rebuilds the expected tensor inventory from config.json in Python
(formats.md §5, written here from the rules, not from lib/inventory.c),
then opens every shard with the reference `safetensors` reader (safe_open,
framework "numpy") for names and metadata, and reads data through the
header offsets with ml_dtypes for F8_E4M3 / BF16 (numpy has neither).
Checks names, dtypes and shapes against the config and the index, the
shard naming (SY-R3), and the values: FP8 codes spread over the finite
range without NaN codes, scales positive, finite and varied, norms near
1, router bias small, embeddings ~N(0, 0.02). With --sparse the data must
be all zero (file holes, SY-R4). Also checks tokenizer.json for unique
ids, special tokens at 0 and 1, and merges whose parts and results are in
the vocab. Prints TAP lines "ok N - ..."; exits 1 on any failure.
"""
import json
import math
import os
import re
import struct
import sys

import ml_dtypes
import numpy as np
from safetensors import safe_open

N = 0
FAILED = 0


def check(cond, what, detail=""):
    global N, FAILED
    N += 1
    if cond:
        print(f"ok {N} - {what}")
    else:
        FAILED += 1
        print(f"not ok {N} - {what}" + (f"  # {detail}" if detail else ""))


def expected_inventory(cfg):
    """name -> (dtype, shape), in the order of INV-R7."""
    fp8 = "quantization_config" in cfg
    br, bc = (cfg["quantization_config"].get("weight_block_size", [128, 128])
              if fp8 else (128, 128))
    h = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    nope, rope, v = (cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"],
                     cfg["v_head_dim"])
    ql = cfg.get("q_lora_rank")
    kvl = cfg["kv_lora_rank"]
    vocab = cfg["vocab_size"]
    layers = cfg["num_hidden_layers"]
    mtp = cfg.get("num_nextn_predict_layers", 0)
    experts = cfg.get("n_routed_experts") or 0
    shared = cfg.get("n_shared_experts") or 0
    moe_inter = cfg.get("moe_intermediate_size", 0)
    fkd = cfg.get("first_k_dense_replace", 0)
    freq = cfg.get("moe_layer_freq", 1)
    inv = {}

    def proj(name, out, inn):
        inv[name + ".weight"] = ("F8_E4M3" if fp8 else "BF16", [out, inn])
        if fp8:
            inv[name + ".weight_scale_inv"] = (
                "F32", [math.ceil(out / br), math.ceil(inn / bc)])

    inv["model.embed_tokens.weight"] = ("BF16", [vocab, h])
    for L in range(layers + mtp):
        p = f"model.layers.{L}."
        inv[p + "input_layernorm.weight"] = ("BF16", [h])
        inv[p + "post_attention_layernorm.weight"] = ("BF16", [h])
        if ql:
            proj(p + "self_attn.q_a_proj", ql, h)
            inv[p + "self_attn.q_a_layernorm.weight"] = ("BF16", [ql])
            proj(p + "self_attn.q_b_proj", heads * (nope + rope), ql)
        else:
            proj(p + "self_attn.q_proj", heads * (nope + rope), h)
        proj(p + "self_attn.kv_a_proj_with_mqa", kvl + rope, h)
        inv[p + "self_attn.kv_a_layernorm.weight"] = ("BF16", [kvl])
        proj(p + "self_attn.kv_b_proj", heads * (nope + v), kvl)
        proj(p + "self_attn.o_proj", h, heads * v)
        if experts > 0 and L >= fkd and L % freq == 0:
            inv[p + "mlp.gate.weight"] = ("BF16", [experts, h])
            if cfg.get("topk_method") == "noaux_tc":
                inv[p + "mlp.gate.e_score_correction_bias"] = ("F32", [experts])
            for e in range(experts):
                proj(p + f"mlp.experts.{e}.gate_proj", moe_inter, h)
                proj(p + f"mlp.experts.{e}.up_proj", moe_inter, h)
                proj(p + f"mlp.experts.{e}.down_proj", h, moe_inter)
            if shared > 0:
                proj(p + "mlp.shared_experts.gate_proj", shared * moe_inter, h)
                proj(p + "mlp.shared_experts.up_proj", shared * moe_inter, h)
                proj(p + "mlp.shared_experts.down_proj", h, shared * moe_inter)
        else:
            inter = cfg["intermediate_size"]
            proj(p + "mlp.gate_proj", inter, h)
            proj(p + "mlp.up_proj", inter, h)
            proj(p + "mlp.down_proj", h, inter)
        if L >= layers:
            inv[p + "enorm.weight"] = ("BF16", [h])
            inv[p + "hnorm.weight"] = ("BF16", [h])
            inv[p + "eh_proj.weight"] = ("BF16", [h, 2 * h])
            inv[p + "embed_tokens.weight"] = ("BF16", [vocab, h])
            inv[p + "shared_head.norm.weight"] = ("BF16", [h])
            inv[p + "shared_head.head.weight"] = ("BF16", [vocab, h])
    inv["model.norm.weight"] = ("BF16", [h])
    if not cfg.get("tie_word_embeddings", False):
        inv["lm_head.weight"] = ("BF16", [vocab, h])
    return inv


NP_DTYPE = {"F8_E4M3": np.uint8, "BF16": ml_dtypes.bfloat16,
            "F32": np.float32}


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
    return 8 + n, hdr


def main():
    args = sys.argv[1:]
    sparse = "--sparse" in args
    args = [a for a in args if a != "--sparse"]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    d = args[0]
    for f in ("config.json", "generation_config.json",
              "model.safetensors.index.json", "tokenizer.json",
              "tokenizer_config.json"):
        check(os.path.isfile(os.path.join(d, f)), f"SY-R1 {f} present")
    cfg = json.load(open(os.path.join(d, "config.json")))
    idx = json.load(open(os.path.join(d, "model.safetensors.index.json")))
    inv = expected_inventory(cfg)
    wm = idx["weight_map"]
    check(set(wm) == set(inv), "index names equal the config inventory",
          f"{len(wm)} vs {len(inv)}")
    shards = sorted(set(wm.values()))
    m = [re.fullmatch(r"model-(\d{5})-of-(\d{5,6})\.safetensors", s)
         for s in shards]
    check(all(m), "SY-R3 shard names model-NNNNN-of-MMMMM(M)")
    if all(m):
        total = int(m[0].group(2))
        check(len(shards) == total and
              [int(x.group(1)) for x in m] == list(range(1, total + 1)),
              f"shards numbered 1..{total}, every one non-empty")

    seen = {}
    payload = 0
    codes = np.zeros(256, dtype=np.int64)
    scales_min, scales_max, scale_bad, scale_distinct = math.inf, 0.0, 0, set()
    norm_dev, bias_max, embed_std = 0.0, 0.0, []
    nonzero = 0
    for s in shards:
        path = os.path.join(d, s)
        with safe_open(path, framework="numpy") as f:
            keys = set(f.keys())
            meta = f.metadata() or {}
        start, hdr = read_header(path)
        hdr.pop("__metadata__", None)
        check(keys == set(hdr), f"{s}: safe_open sees the header's tensors")
        check(meta.get("format") == "pt", f"{s}: __metadata__ format pt")
        # sparse: pread a sample of each tensor (faulting holes in through
        # a mapping zero-fills whole readahead windows: slow)
        data = None if sparse else np.memmap(path, dtype=np.uint8, mode="r")
        fd = os.open(path, os.O_RDONLY)
        for name, t in hdr.items():
            seen[name] = (t["dtype"], t["shape"], s)
            b, e = t["data_offsets"]
            payload += e - b
            if sparse:
                sample = os.pread(fd, min(e - b, 4096), start + b)
                nonzero += len(sample) - sample.count(0)
                continue
            raw = data[start + b:start + e]
            vals = raw.view(NP_DTYPE[t["dtype"]])
            if t["dtype"] == "F8_E4M3":
                codes += np.bincount(vals, minlength=256)
            elif name.endswith("weight_scale_inv"):
                v = vals.astype(np.float64)
                scale_bad += int(np.count_nonzero(~np.isfinite(v) | (v <= 0)))
                scales_min = min(scales_min, float(v.min()))
                scales_max = max(scales_max, float(v.max()))
                scale_distinct.update(np.unique(v[:64]).tolist())
            elif "norm" in name:
                v = vals.astype(np.float64)
                norm_dev = max(norm_dev, float(np.abs(v - 1.0).max()))
            elif name.endswith("e_score_correction_bias"):
                bias_max = max(bias_max, float(np.abs(vals).max()))
            elif "embed_tokens" in name:
                embed_std.append(float(vals.astype(np.float64).std()))
        os.close(fd)
    check(set(seen) == set(wm) and all(wm[n] == seen[n][2] for n in seen),
          "IX-R7 every tensor in the shard the index names")
    bad = [n for n in inv if n in seen and
           (seen[n][0], seen[n][1]) != inv[n]]
    check(not bad, "dtypes and shapes match the config", ", ".join(bad[:3]))
    check(idx["metadata"]["total_size"] == payload,
          "IX-R8 total_size equals the tensor bytes",
          f"{idx['metadata']['total_size']} vs {payload}")
    fp8 = "quantization_config" in cfg
    if sparse:
        check(nonzero == 0, "SY-R4 sparse data are all zero")
    elif fp8:
        distinct = int(np.count_nonzero(codes))
        check(distinct >= 200, "FP8 codes cover the range",
              f"{distinct} distinct codes")
        check(codes[0x7F] == 0 and codes[0xFF] == 0, "no FP8 NaN codes")
        check(codes[0x7E] > 0 and codes[0xFE] > 0, "FP8 reaches +-448")
        check(scale_bad == 0, "scales positive and finite")
        if cfg["quantization_config"].get("scale_fmt") == "ue8m0":
            pow2 = all(math.frexp(x)[0] == 0.5 for x in scale_distinct)
            check(pow2 and scales_max / scales_min > 16,
                  "ue8m0 scales are varied powers of two",
                  f"min {scales_min} max {scales_max}")
        else:
            check(scales_max / scales_min > 16 and len(scale_distinct) > 100,
                  "scales vary across blocks",
                  f"min {scales_min} max {scales_max}")
    else:
        check(not any(n.endswith("_scale_inv") for n in seen),
              "BF16 checkpoint has no scales")
    if not sparse:
        check(0 < norm_dev <= 0.06, "norms near 1.0", f"max |x-1| {norm_dev}")
        if cfg.get("topk_method") == "noaux_tc" and cfg.get("n_routed_experts"):
            check(0 < bias_max < 0.1, "e_score_correction_bias small",
                  f"max |x| {bias_max}")
        check(embed_std and all(0.015 < s < 0.025 for s in embed_std),
              "embeddings ~N(0, 0.02)", str(embed_std))

    tj = json.load(open(os.path.join(d, "tokenizer.json")))
    vocab = tj["model"]["vocab"]
    check(tj["model"]["type"] == "BPE", "tokenizer model is BPE")
    ids = list(vocab.values())
    check(len(set(ids)) == len(ids) and sorted(ids) == list(range(len(ids))),
          "vocab ids unique and dense")
    check(len(ids) <= cfg["vocab_size"], "tokenizer fits vocab_size rows")
    added = {a["content"]: a["id"] for a in tj["added_tokens"]}
    check(added.get("<｜begin▁of▁sentence｜>") == 0 and
          added.get("<｜end▁of▁sentence｜>") == 1, "bos id 0, eos id 1")
    check(all(vocab.get(c) == i for c, i in added.items()),
          "added tokens agree with the vocab")
    bad_merges = []
    for mg in tj["model"]["merges"]:
        a, b = mg.split(" ") if isinstance(mg, str) else mg
        if a not in vocab or b not in vocab or a + b not in vocab:
            bad_merges.append(mg)
    check(not bad_merges and len(tj["model"]["merges"]) >= 100,
          "merges: parts and results in the vocab", str(bad_merges[:3]))
    byte_tokens = sum(1 for t in vocab if len(t) == 1)
    check(byte_tokens >= 256, "256 byte-level tokens")
    tc = json.load(open(os.path.join(d, "tokenizer_config.json")))
    check(tc.get("add_bos_token") is True and tc.get("add_eos_token") is False
          and tc.get("tokenizer_class") == "LlamaTokenizerFast"
          and "chat_template" in tc, "tokenizer_config fields")
    print(f"1..{N}")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
