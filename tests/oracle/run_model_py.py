#!/usr/bin/env python3
"""run_model_py.py - logits of DeepSeek's inference/model.py, in float32.

Usage:
  run_model_py.py CKPT_DIR --tokens 1,5,9 -o OUT.npy [--attn naive|absorb]
                  [--dump-layers DIR] [--no-prefill-check] [--prefill-tol T]
                  [--deepseek DIR] [--meta OUT.json]

Run by hand with a torch environment (not in CI); the fixtures it makes
are checked in CI by test_run.sh without torch.

CKPT_DIR is a Hugging Face DeepSeek-V3-layout checkpoint (config.json and
*.safetensors). The model is DeepSeek's own inference/model.py, imported
from a checkout of github.com/deepseek-ai/DeepSeek-V3 (--deepseek, default
$DSCK_DEEPSEEK_V3 or /tmp/dsv3), with these choices:

  * Tensor names follow inference/convert.py for mp=1: "model." stripped,
    self_attn -> attn, mlp -> ffn, weight_scale_inv -> scale,
    e_score_correction_bias -> bias, then convert.py's `mapping` table
    (imported from the checkout) on the second-to-last name part. Layers
    at or past num_hidden_layers (the MTP layers) are dropped, as convert.py
    drops model.layers.61.
  * FP8 weights are dequantized to float32 as kernel.weight_dequant does:
    float32(code) * scale of its 128x128 block, one float32 multiply.
  * ModelArgs come from config.json through mp_modules.model_args, with
    max_seq_len = max_position_embeddings (so YaRN and the mscale^2 softmax
    factor are on exactly when that exceeds original_max_position_embeddings),
    max_batch_size 1 and dtype "bf16" (plain Linear weights, no FP8 GEMM).
  * The whole model runs in float32: default dtype float32, the module is
    built, converted with .float(), then load_state_dict(strict=True).
  * model.attn_impl is set to --attn before the model is built (it picks
    the caches) and stays set for the forward pass.

The logits of every position come from feeding the prompt one token at a
time with start_pos = i: Transformer.forward returns the last position
only, and its causal mask is only right for a prefill at start_pos 0. A
full prefill of the prompt is also run and its last-position logits are
compared with the last step's (printed; exit 1 when their rel-L2 exceeds
--prefill-tol, default 1e-4, or the argmax differs). The two orders of
float32 work differ by rounding only (one GEMM over the prompt against one
GEMV per token); on the synthetic checkpoints, whose activations reach
~1e5 after the first block, that has measured 1e-5 to 2e-5.

Output: float32 .npy [n, vocab]. --dump-layers DIR writes DIR/layer_NN.npy
[n, dim], the output of each Block (as dsck-run --dump-layers). --meta
writes a JSON with the model.py commit, torch version and ModelArgs.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BLOCK = 128


def deepseek_commit(ds):
    try:
        return subprocess.run(["git", "-C", ds, "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def dequant(torch, w, s):
    """kernel.weight_dequant on the CPU: y = float32(w) * s[i // 128, j // 128]."""
    M, N = w.shape
    assert s.shape == ((M + BLOCK - 1) // BLOCK, (N + BLOCK - 1) // BLOCK), (w.shape, s.shape)
    full = s.float().repeat_interleave(BLOCK, 0).repeat_interleave(BLOCK, 1)[:M, :N]
    return w.float() * full


def model_py_name(name, mapping):
    """One HF tensor name as model.py names it (convert.py's rules, mp=1)."""
    if name.startswith("model."):
        name = name[len("model."):]
    name = name.replace("self_attn", "attn")
    name = name.replace("mlp", "ffn")
    name = name.replace("weight_scale_inv", "scale")
    name = name.replace("e_score_correction_bias", "bias")
    key = name.split(".")[-2]
    if key not in mapping:
        sys.exit(f"run_model_py: key {key} of {name} not in convert.py's mapping")
    return name.replace(key, mapping[key][0])


def float32_state_dict(torch, raw):
    """Tensors by model.py name -> float32, FP8 weights dequantized with their
    .scale (the scales themselves are dropped). Returns (dict, FP8 count)."""
    sd = {}
    n_fp8 = 0
    for name, t in raw.items():
        if name.endswith(".scale"):
            if name[:-len(".scale")] + ".weight" not in raw:
                sys.exit(f"run_model_py: {name} without its weight")
            continue
        if t.dtype == torch.float8_e4m3fn:
            sname = name[:-len(".weight")] + ".scale"
            if not name.endswith(".weight") or sname not in raw:
                sys.exit(f"run_model_py: FP8 {name} without a scale")
            sd[name] = dequant(torch, t, raw[sname])
            n_fp8 += 1
        else:
            sd[name] = t.float()
    return sd, n_fp8


def checkpoint_tensors(ckpt):
    """(HF name, safe_open handle) of every tensor of the checkpoint."""
    from safetensors import safe_open
    files = sorted(f for f in os.listdir(ckpt) if f.endswith(".safetensors"))
    if not files:
        sys.exit(f"run_model_py: no .safetensors in {ckpt}")
    for fn in files:
        with safe_open(os.path.join(ckpt, fn), framework="pt", device="cpu") as f:
            for name in f.keys():
                yield name, f


def load_state_dict(torch, ckpt, n_layers, mapping):
    """HF tensors -> model.py names (convert.py rules, mp=1), FP8 dequantized."""
    raw = {}
    for name, f in checkpoint_tensors(ckpt):
        parts = name.split(".")
        if (len(parts) > 2 and parts[0] == "model" and parts[1] == "layers"
                and int(parts[2]) >= n_layers):
            continue  # MTP layers: not part of model.py's Transformer
        t = f.get_tensor(name)
        name = model_py_name(name, mapping)
        if name in raw:
            sys.exit(f"run_model_py: {name} twice")
        raw[name] = t
    return float32_state_dict(torch, raw)



def run_args(cfg, model_args):
    """ModelArgs for the float32 runs: mp_modules.model_args, with the
    softmax-scale mscale taken from HF's mscale_all_dim (reference notes,
    1.3; model_args takes rope_scaling.mscale, equal in V3 configs), dtype
    "bf16" (weights arrive dequantized: plain Linear, no FP8 GEMM),
    max_seq_len = max_position_embeddings and max_batch_size 1."""
    a = model_args(cfg)
    rs = cfg.get("rope_scaling") or {}
    if rs.get("mscale_all_dim"):
        a["mscale"] = rs["mscale_all_dim"]
    a["dtype"] = "bf16"
    a["max_seq_len"] = cfg["max_position_embeddings"]
    a["max_batch_size"] = 1
    return a

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ckpt")
    ap.add_argument("--tokens", required=True, help="token ids, comma-separated")
    ap.add_argument("-o", "--out", required=True, help="logits .npy [n, vocab]")
    ap.add_argument("--attn", choices=("naive", "absorb"), default="absorb")
    ap.add_argument("--dump-layers", help="write DIR/layer_NN.npy [n, dim]")
    ap.add_argument("--no-prefill-check", action="store_true")
    ap.add_argument("--prefill-tol", type=float, default=1e-4,
                    help="largest prefill vs one-token-steps rel-L2 accepted (default 1e-4)")
    ap.add_argument("--deepseek", default=os.environ.get("DSCK_DEEPSEEK_V3", "/tmp/dsv3"))
    ap.add_argument("--meta", help="write run details as JSON here")
    ap.add_argument("--threads", type=int, default=0)
    o = ap.parse_args()

    sys.path.insert(0, HERE)
    from mp_modules import model_args, import_model
    inference = os.path.join(o.deepseek, "inference")
    model_mod, stub = import_model(inference)  # puts inference/ on sys.path
    import convert as ds_convert  # DeepSeek's convert.py: its name mapping table
    import torch
    from torch import nn
    if o.threads:
        torch.set_num_threads(o.threads)

    with open(os.path.join(o.ckpt, "config.json")) as f:
        cfg = json.load(f)
    a = run_args(cfg, model_args)
    if abs(cfg.get("rms_norm_eps", 1e-6) - 1e-6) > 1e-12:
        print(f"# warning: rms_norm_eps {cfg['rms_norm_eps']}; model.py uses 1e-6")
    tokens = [int(t) for t in o.tokens.split(",") if t != ""]
    if not tokens or min(tokens) < 0 or max(tokens) >= a["vocab_size"]:
        sys.exit("run_model_py: token ids must be in [0, vocab_size)")
    if len(tokens) > a["max_seq_len"]:
        sys.exit("run_model_py: more tokens than max_position_embeddings")

    torch.set_default_dtype(torch.float32)
    model_mod.attn_impl = o.attn
    args = model_mod.ModelArgs(**a)
    model = model_mod.Transformer(args).float()

    sd, n_fp8 = load_state_dict(torch, o.ckpt, a["n_layers"], ds_convert.mapping)
    # model.py gives Gate a bias only when dim == 7168 (model.py L564). The
    # checkpoint's e_score_correction_bias is part of the routing rule
    # (topk_method noaux_tc), so when it is there each Gate gets a float32
    # bias parameter and Gate.forward adds it for expert selection.
    n_bias = 0
    for i, layer in enumerate(model.layers):
        gate = getattr(layer.ffn, "gate", None)
        if gate is None:
            continue
        key = f"layers.{i}.ffn.gate.bias"
        if key in sd and gate.bias is None:
            gate.bias = nn.Parameter(torch.zeros(args.n_routed_experts, dtype=torch.float32))
            n_bias += 1
    model.load_state_dict(sd, strict=True)
    for k, v in model.state_dict().items():
        assert v.dtype == torch.float32, (k, v.dtype)
    model.eval()

    n = len(tokens)
    dumps = [[] for _ in model.layers]
    hooks = []
    if o.dump_layers:
        for i, layer in enumerate(model.layers):
            def hook(mod, inp, out, i=i):
                dumps[i].append(out[0].detach().float().numpy().copy())
            hooks.append(layer.register_forward_hook(hook))

    rows = []
    with torch.inference_mode():
        for i, t in enumerate(tokens):
            lg = model(torch.tensor([[t]], dtype=torch.long), start_pos=i)
            rows.append(lg[0].float().numpy().copy())
    for h in hooks:
        h.remove()
    logits = np.stack(rows).astype(np.float32)
    np.save(o.out, logits)
    if o.dump_layers:
        os.makedirs(o.dump_layers, exist_ok=True)
        for i, d in enumerate(dumps):
            np.save(os.path.join(o.dump_layers, f"layer_{i:02d}.npy"),
                    np.concatenate(d, axis=0).astype(np.float32))

    rc = 0
    prefill_rel = None
    if not o.no_prefill_check and n > 1:
        with torch.inference_mode():
            last = model(torch.tensor([tokens], dtype=torch.long), start_pos=0)[0].float().numpy()
        prefill_rel = float(np.linalg.norm(last - logits[-1]) / np.linalg.norm(logits[-1]))
        same = int(last.argmax()) == int(logits[-1].argmax())
        print(f"# prefill vs one-token steps, last position: rel-L2 {prefill_rel:.3e}, "
              f"argmax {'same' if same else 'DIFFERS'}")
        if prefill_rel > o.prefill_tol or not same:
            print("run_model_py: prefill and one-token steps disagree", file=sys.stderr)
            rc = 1
    print(f"# {o.ckpt}: {n} tokens, attn {o.attn}, {n_fp8} FP8 weights dequantized, "
          f"{n_bias} gate biases, logits {logits.shape} -> {o.out}")
    if o.meta:
        meta = {
            "source": "github.com/deepseek-ai/DeepSeek-V3 inference/model.py",
            "deepseek_v3_commit": deepseek_commit(o.deepseek),
            "torch": torch.__version__,
            "kernel_stub": stub,
            "compute_dtype": "float32",
            "attn_impl": o.attn,
            "model_args": a,
            "gate_bias_added": n_bias,
            "fp8_weights_dequantized": n_fp8,
            "prefill_vs_steps_rel_l2": prefill_rel,
        }
        with open(o.meta, "w") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
            f.write("\n")
    return rc


if __name__ == "__main__":
    sys.exit(main())
