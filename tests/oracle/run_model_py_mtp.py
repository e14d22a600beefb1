#!/usr/bin/env python3
"""run_model_py_mtp.py - the MTP block's logits, built from DeepSeek's model.py.

Usage:
  run_model_py_mtp.py CKPT_DIR --tokens 1,5,9 -o OUT.npy [--attn naive|absorb]
                      [--main-out MAIN.npy] [--deepseek DIR] [--meta OUT.json]

Run by hand with a torch environment (not in CI); the fixture it makes is
checked in CI by test_run.sh against dsck-run logits --mtp-output.

DeepSeek's inference/model.py has no MTP module (convert.py drops the MTP
layer), so this assembles one from model.py's own parts, the way vLLM's
deepseek_mtp.py and formats.md RT-R11 describe it. The main model is built
and loaded exactly as run_model_py.py does (float32, FP8 dequantized,
convert.py's names) and fed one token per forward call. For the first MTP
layer L = num_hidden_layers (model.layers.L.*):

  * Block(layer_id=L, args): model.py's MLA and MoE with the layer's
    self_attn/mlp tensors under convert.py's names, its own KV cache;
  * RMSNorm enorm, hnorm, shared_head.norm; Linear eh_proj [dim, 2*dim];
    ParallelEmbedding embed_tokens and Linear shared_head.head (the main
    model's embed / head when the layer has none).

For positions i = 0 .. n-2, with h_i the main model's last residual at
position i (the input of its final norm):

  x_i = eh_proj(cat(enorm(embed(t_{i+1})), hnorm(norm(h_i))))
  y_i = Block(x_i, start_pos=i, freqs_cis[i], mask None)
  logits_i = shared_head.head(shared_head.norm(y_i))   (predicts t_{i+2})

norm(h_i) is the main model's final RMSNorm: vLLM hands the MTP layer the
hidden states DeepseekV2Model.forward returns, which are after that norm.
vLLM also zeroes the embedding at position 0 (its speculative-decoding
inputs do not need it); that is not done here: row 0 is embed(t_1) like
every other row.

Output: float32 .npy [n-1, vocab]. --main-out writes the main model's
logits [n, vocab] of the same run (a cross-check against run_model_py.py).
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ckpt")
    ap.add_argument("--tokens", required=True, help="token ids, comma-separated (at least 2)")
    ap.add_argument("-o", "--out", required=True, help="MTP logits .npy [n-1, vocab]")
    ap.add_argument("--attn", choices=("naive", "absorb"), default="absorb")
    ap.add_argument("--main-out", help="main model logits .npy [n, vocab]")
    ap.add_argument("--deepseek", default=os.environ.get("DSCK_DEEPSEEK_V3", "/tmp/dsv3"))
    ap.add_argument("--meta", help="write run details as JSON here")
    ap.add_argument("--threads", type=int, default=0)
    o = ap.parse_args()

    sys.path.insert(0, HERE)
    from mp_modules import model_args, import_model
    import run_model_py as rmp
    model_mod, stub = import_model(os.path.join(o.deepseek, "inference"))
    import convert as ds_convert
    import torch
    from torch import nn
    if o.threads:
        torch.set_num_threads(o.threads)

    with open(os.path.join(o.ckpt, "config.json")) as f:
        cfg = json.load(f)
    a = rmp.run_args(cfg, model_args)
    L = a["n_layers"]
    if not cfg.get("num_nextn_predict_layers"):
        sys.exit("run_model_py_mtp: config.json has no num_nextn_predict_layers")
    tokens = [int(t) for t in o.tokens.split(",") if t != ""]
    if len(tokens) < 2 or min(tokens) < 0 or max(tokens) >= a["vocab_size"]:
        sys.exit("run_model_py_mtp: at least 2 token ids in [0, vocab_size)")
    if len(tokens) > a["max_seq_len"]:
        sys.exit("run_model_py_mtp: more tokens than max_position_embeddings")

    torch.set_default_dtype(torch.float32)
    model_mod.attn_impl = o.attn
    args = model_mod.ModelArgs(**a)
    model = model_mod.Transformer(args).float()
    sd, n_fp8 = rmp.load_state_dict(torch, o.ckpt, L, ds_convert.mapping)

    # The MTP layer's tensors: the block under convert.py's names, the rest
    # under their own (enorm, hnorm, eh_proj, shared_head.*, embed_tokens).
    prefix = f"model.layers.{L}."
    own = ("enorm.", "hnorm.", "eh_proj.", "shared_head.", "embed_tokens.")
    raw = {}
    for name, f in rmp.checkpoint_tensors(o.ckpt):
        if not name.startswith(prefix):
            continue
        short = name[len(prefix):]
        if short.startswith(own):
            short = short.replace("weight_scale_inv", "scale")
            key = "mtp." + short
        else:
            key = "block." + rmp.model_py_name(short, ds_convert.mapping)
        if key in raw:
            sys.exit(f"run_model_py_mtp: {key} twice")
        raw[key] = f.get_tensor(name)
    msd, n_fp8_mtp = rmp.float32_state_dict(torch, raw)
    if "mtp.eh_proj.weight" not in msd:
        sys.exit(f"run_model_py_mtp: no {prefix}eh_proj.weight in {o.ckpt}")

    # Modules are built after the Transformer, so Linear.dtype is its
    # (bf16, plain weights); .float() then makes them float32 like it.
    dim, vocab = args.dim, args.vocab_size
    block = model_mod.Block(L, args).float()
    enorm = model_mod.RMSNorm(dim).float()
    hnorm = model_mod.RMSNorm(dim).float()
    eh_proj = model_mod.Linear(2 * dim, dim).float()
    head_norm = model_mod.RMSNorm(dim).float()
    head = model_mod.Linear(dim, vocab).float()
    embed = model_mod.ParallelEmbedding(vocab, dim).float()

    def take(mod, key, fallback):
        w = msd.pop(key, None)
        if w is None and fallback is None:
            sys.exit(f"run_model_py_mtp: no {prefix}{key[len('mtp.'):]} in {o.ckpt}")
        if w is None:
            w = sd[fallback]
        mod.load_state_dict({"weight": w}, strict=True)

    take(enorm, "mtp.enorm.weight", None)
    take(hnorm, "mtp.hnorm.weight", None)
    take(eh_proj, "mtp.eh_proj.weight", None)
    take(head_norm, "mtp.shared_head.norm.weight", None)
    take(head, "mtp.shared_head.head.weight", "head.weight")
    take(embed, "mtp.embed_tokens.weight", "embed.weight")
    bsd = {k[len("block."):]: v for k, v in msd.items() if k.startswith("block.")}
    extra = [k for k in msd if not k.startswith("block.")]
    if extra:
        sys.exit(f"run_model_py_mtp: MTP tensors not used: {extra}")

    # e_score_correction_bias: as run_model_py.py, a float32 Gate bias
    n_bias = 0
    for i, layer in enumerate(list(model.layers) + [block]):
        gate = getattr(layer.ffn, "gate", None)
        key = f"layers.{i}.ffn.gate.bias" if i < L else "ffn.gate.bias"
        if gate is not None and gate.bias is None and key in (sd if i < L else bsd):
            gate.bias = nn.Parameter(torch.zeros(args.n_routed_experts, dtype=torch.float32))
            n_bias += 1
    model.load_state_dict(sd, strict=True)
    block.load_state_dict(bsd, strict=True)
    mods = (model, block, enorm, hnorm, eh_proj, head_norm, head, embed)
    for mod in mods:
        for k, v in mod.state_dict().items():
            assert v.dtype == torch.float32, (k, v.dtype)
        mod.eval()

    # h_i: the input of the main model's final norm, one token per call
    hid = []
    hook = model.norm.register_forward_hook(lambda m, inp, out: hid.append(inp[0][0, -1].clone()))
    n = len(tokens)
    main_rows, rows = [], []
    with torch.inference_mode():
        for i, t in enumerate(tokens):
            lg = model(torch.tensor([[t]], dtype=torch.long), start_pos=i)
            main_rows.append(lg[0].float().numpy().copy())
        hook.remove()
        for i in range(n - 1):
            h = model.norm(hid[i].view(1, 1, dim))
            e = embed(torch.tensor([[tokens[i + 1]]], dtype=torch.long))
            x = eh_proj(torch.cat([enorm(e), hnorm(h)], dim=-1))
            y = block(x, i, model.freqs_cis[i:i + 1], None)
            rows.append(head(head_norm(y))[0, -1].float().numpy().copy())
    logits = np.stack(rows).astype(np.float32)
    np.save(o.out, logits)
    if o.main_out:
        np.save(o.main_out, np.stack(main_rows).astype(np.float32))
    print(f"# {o.ckpt}: MTP layer {L}, {n} tokens, attn {o.attn}, "
          f"{n_fp8 + n_fp8_mtp} FP8 weights dequantized, {n_bias} gate biases, "
          f"MTP logits {logits.shape} -> {o.out}")
    if o.meta:
        meta = {
            "source": "github.com/deepseek-ai/DeepSeek-V3 inference/model.py "
                      "(Block, RMSNorm, Linear, ParallelEmbedding)",
            "deepseek_v3_commit": rmp.deepseek_commit(o.deepseek),
            "torch": torch.__version__,
            "kernel_stub": stub,
            "compute_dtype": "float32",
            "attn_impl": o.attn,
            "model_args": a,
            "mtp_layer": L,
            "gate_bias_added": n_bias,
            "fp8_weights_dequantized": n_fp8 + n_fp8_mtp,
            "hidden_state": "main model's last residual, then its final norm, then hnorm",
            "position_0_embedding": "embed(t_1), not zeroed",
        }
        with open(o.meta, "w") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
