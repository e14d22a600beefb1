#!/usr/bin/env python3
"""mp_modules.py - the state_dict DeepSeek's inference/model.py expects per rank.

Usage:
  mp_modules.py CONFIG.json --mp N[,N...] [--rank R] [--deepseek DIR]
                [--commit SHA] [--label TEXT] [-o OUT.json]

Run by hand with a torch environment (not in CI). CONFIG.json is a Hugging
Face DeepSeek-V3 config (config.json of a checkpoint). Its fields are mapped
to model.py's ModelArgs:

  vocab_size, dim=hidden_size, inter_dim=intermediate_size,
  moe_inter_dim=moe_intermediate_size, n_layers=num_hidden_layers,
  n_dense_layers=first_k_dense_replace, n_heads=num_attention_heads,
  n_routed_experts, n_shared_experts, n_activated_experts=num_experts_per_tok,
  n_expert_groups=n_group, n_limited_groups=topk_group,
  score_func=scoring_func, route_scale=routed_scaling_factor, q_lora_rank,
  kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim,
  rope_theta, and from rope_scaling: original_seq_len=
  original_max_position_embeddings, rope_factor=factor, beta_fast,
  beta_slow, mscale; dtype "fp8" when quantization_config says fp8, else
  "bf16".

For every rank r of every N it builds model.py's Transformer on the meta
device (no memory, no kernels run) the way inference/generate.py does:
default dtype bfloat16, torch.distributed reporting world size N and rank
r, so that model.py's module-level world_size / rank take those values.
It then writes the persistent state_dict entries (what load_model(...,
strict=True) requires) as

  {"_meta": {...}, "N": {"r": {"name": [[shape...], "torch dtype"]}}}

with keys sorted. "_meta" names the DeepSeek-V3 commit (from git in the
checkout, or --commit), the torch version, the ModelArgs used and --label.

DIR (default $DSCK_DEEPSEEK_V3 or /tmp/dsv3) is a checkout of
github.com/deepseek-ai/DeepSeek-V3; DIR/inference is put first on sys.path.
When its kernel module (triton) cannot be imported, a stub module `kernel`
with act_quant / weight_dequant / fp8_gemm that raise is used instead: the
module tree does not need the kernels.
"""
import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import types


def model_args(cfg):
    rs = cfg.get("rope_scaling") or {}
    qc = cfg.get("quantization_config") or {}
    fp8 = qc.get("quant_method") == "fp8" or qc.get("fmt") == "e4m3"
    a = {
        "vocab_size": cfg["vocab_size"],
        "dim": cfg["hidden_size"],
        "inter_dim": cfg["intermediate_size"],
        "moe_inter_dim": cfg["moe_intermediate_size"],
        "n_layers": cfg["num_hidden_layers"],
        "n_dense_layers": cfg["first_k_dense_replace"],
        "n_heads": cfg["num_attention_heads"],
        "n_routed_experts": cfg["n_routed_experts"],
        "n_shared_experts": cfg["n_shared_experts"],
        "n_activated_experts": cfg["num_experts_per_tok"],
        "n_expert_groups": cfg.get("n_group", 1),
        "n_limited_groups": cfg.get("topk_group", 1),
        "score_func": cfg.get("scoring_func", "softmax"),
        "route_scale": cfg.get("routed_scaling_factor", 1.0),
        "q_lora_rank": cfg.get("q_lora_rank") or 0,
        "kv_lora_rank": cfg["kv_lora_rank"],
        "qk_nope_head_dim": cfg["qk_nope_head_dim"],
        "qk_rope_head_dim": cfg["qk_rope_head_dim"],
        "v_head_dim": cfg["v_head_dim"],
        "rope_theta": float(cfg.get("rope_theta", 10000.0)),
        "dtype": "fp8" if fp8 else "bf16",
    }
    if rs:
        for src, dst in (("original_max_position_embeddings", "original_seq_len"),
                         ("factor", "rope_factor"), ("beta_fast", "beta_fast"),
                         ("beta_slow", "beta_slow"), ("mscale", "mscale")):
            if src in rs:
                a[dst] = rs[src]
    return a


def import_model(inference_dir):
    sys.path.insert(0, inference_dir)
    try:
        importlib.import_module("kernel")
        stub = False
    except Exception:  # triton missing or unusable here: stub the kernels
        sys.modules.pop("kernel", None)
        d = tempfile.mkdtemp(prefix="mp-modules-kernel.")
        with open(os.path.join(d, "kernel.py"), "w") as f:
            f.write("def _no(*a, **k):\n"
                    "    raise RuntimeError('kernel stub: no kernels here')\n"
                    "act_quant = weight_dequant = fp8_gemm = _no\n")
        sys.path.insert(0, d)
        stub = True
    return importlib.import_module("model"), stub


def state_dict_layout(model_mod, torch, args, n, r):
    import torch.distributed as dist
    saved = (dist.is_initialized, dist.get_world_size, dist.get_rank)
    dist.is_initialized = lambda: True
    dist.get_world_size = lambda *a, **k: n
    dist.get_rank = lambda *a, **k: r
    try:
        torch.set_default_dtype(torch.bfloat16)  # as generate.py
        with torch.device("meta"):
            m = model_mod.Transformer(model_mod.ModelArgs(**args))
        assert (model_mod.world_size, model_mod.rank) == (n, r)
        return {k: [list(v.shape), str(v.dtype).replace("torch.", "")]
                for k, v in sorted(m.state_dict().items())}
    finally:
        dist.is_initialized, dist.get_world_size, dist.get_rank = saved


def dump(out):
    """Sorted JSON, one tensor per line (diffable when committed)."""
    j = lambda v: json.dumps(v, sort_keys=True, separators=(",", ":"))
    parts = ['{"_meta":' + j(out["_meta"])]
    for n in sorted((k for k in out if k != "_meta"), key=int):
        ranks = []
        for r in sorted(out[n], key=int):
            rows = ",\n".join(f"    {j(k)}:{j(v)}" for k, v in sorted(out[n][r].items()))
            ranks.append(f'  {j(r)}:{{\n{rows}\n  }}')
        parts.append(f'{j(n)}:{{\n' + ",\n".join(ranks) + "\n }")
    return ",\n ".join(parts) + "\n}\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("config")
    ap.add_argument("--mp", required=True, help="rank counts, comma-separated")
    ap.add_argument("--rank", type=int, help="only this rank (default: all)")
    ap.add_argument("--deepseek", default=os.environ.get("DSCK_DEEPSEEK_V3", "/tmp/dsv3"))
    ap.add_argument("--commit", help="DeepSeek-V3 commit (default: git rev-parse in --deepseek)")
    ap.add_argument("--label", default="", help="what CONFIG.json is, for _meta")
    ap.add_argument("-o", "--out", help="output JSON (default stdout)")
    o = ap.parse_args()

    with open(o.config) as f:
        args = model_args(json.load(f))
    inference = os.path.join(o.deepseek, "inference")
    commit = o.commit
    if not commit:
        try:
            commit = subprocess.run(["git", "-C", o.deepseek, "rev-parse", "HEAD"],
                                    capture_output=True, text=True,
                                    check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            commit = "unknown"
    model_mod, stub = import_model(inference)
    import torch

    out = {"_meta": {
        "source": "github.com/deepseek-ai/DeepSeek-V3 inference/model.py",
        "deepseek_v3_commit": commit,
        "torch": torch.__version__,
        "kernel_stub": stub,
        "config": o.label or os.path.basename(o.config),
        "model_args": args,
        "format": {"N": {"r": {"name": ["shape", "torch dtype"]}}},
    }}
    for n in sorted(int(x) for x in o.mp.split(",")):
        ranks = [o.rank] if o.rank is not None else range(n)
        out[str(n)] = {str(r): state_dict_layout(model_mod, torch, args, n, r)
                       for r in ranks}
    text = dump(out)
    if o.out:
        with open(o.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
