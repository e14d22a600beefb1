#!/usr/bin/env python3
"""run_model_py.py - time DeepSeek's inference/model.py on the CPU, float32.

Usage (with a torch environment, from bench/run.sh):
  run_model_py.py CKPT_DIR --tokens 1,5,9 -n 32 [--prefill-tokens LIST]
                  [--repeat R] [--deepseek DIR] [--threads N]

The model is built and loaded as tests/oracle/run_model_py.py does
(convert.py's names for mp=1, FP8 dequantized to float32 per 128x128 block,
ModelArgs from config.json, gate bias added, the whole model in float32,
attn_impl absorb as generate.py), with max_seq_len just large enough.

Timed, in this order:
  first forward   the prompt at start_pos 0 (pays the one-time costs of a
                  first call; reported apart)
  prefill         the prompt at start_pos 0, as generate.py's first step
  decode          -n single-token forwards at positions len(prompt)...,
                  each feeding back the greedy argmax, as generate.py
  prefill again   the prompt R-1 more times and --prefill-tokens R times,
                  each at start_pos 0 (the caches are rewritten from 0);
                  the best time of each prompt is kept (default R 2)

Prints one JSON line: load_s, first_forward_s, prefill_s, prefill_n,
decode_s, decode_n, prefill_long_s, prefill_long_n, generated ids,
threads, torch version, dtype.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ORACLE = os.path.join(HERE, "..", "tests", "oracle")


def dequant(torch, w, s):
    """float32(code) * scale of its 128x128 block, one float32 multiply (as
    tests/oracle/run_model_py.dequant), by blocks on a padded view."""
    M, N = w.shape
    B = 128
    bm, bn = (M + B - 1) // B, (N + B - 1) // B
    assert s.shape == (bm, bn), (w.shape, s.shape)
    x = torch.zeros(bm * B, bn * B, dtype=torch.float32)
    x[:M, :N] = w.float()
    x = x.view(bm, B, bn, B).mul_(s.float().view(bm, 1, bn, 1))
    return x.view(bm * B, bn * B)[:M, :N].contiguous()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ckpt")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("-n", type=int, default=32)
    ap.add_argument("--prefill-tokens", default="")
    ap.add_argument("--deepseek", default=os.environ.get("DSCK_DEEPSEEK_V3", "/tmp/dsv3"))
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=2, help="prefills timed, best kept")
    o = ap.parse_args()

    t0 = time.perf_counter()
    sys.path.insert(0, ORACLE)
    from mp_modules import model_args, import_model
    import run_model_py as oracle
    model_mod, _ = import_model(os.path.join(o.deepseek, "inference"))
    import convert as ds_convert
    import torch
    from torch import nn
    if o.threads:
        torch.set_num_threads(o.threads)

    with open(os.path.join(o.ckpt, "config.json")) as f:
        cfg = json.load(f)
    a = oracle.run_args(cfg, model_args)
    tokens = [int(t) for t in o.tokens.split(",") if t]
    long_tokens = [int(t) for t in o.prefill_tokens.split(",") if t]
    a["max_seq_len"] = max(len(tokens) + o.n + 1, len(long_tokens), 16)

    torch.set_default_dtype(torch.float32)
    model_mod.attn_impl = "absorb"
    args = model_mod.ModelArgs(**a)
    model = model_mod.Transformer(args).float()
    oracle.dequant = dequant  # same values, without the repeat_interleave copies
    sd, _ = oracle.load_state_dict(torch, o.ckpt, a["n_layers"], ds_convert.mapping)
    for i, layer in enumerate(model.layers):
        gate = getattr(layer.ffn, "gate", None)
        if gate is not None and f"layers.{i}.ffn.gate.bias" in sd and gate.bias is None:
            gate.bias = nn.Parameter(torch.zeros(args.n_routed_experts, dtype=torch.float32))
    model.load_state_dict(sd, strict=True)
    del sd
    model.eval()
    load_s = time.perf_counter() - t0

    out = []
    with torch.inference_mode():
        # the first forward pays one-time costs (allocator, kernels' first
        # use): timed apart, then the prompt again at start_pos 0
        t0 = time.perf_counter()
        model(torch.tensor([tokens], dtype=torch.long), start_pos=0)
        first_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        lg = model(torch.tensor([tokens], dtype=torch.long), start_pos=0)
        prefill_s = time.perf_counter() - t0
        nxt = int(lg[0].argmax())
        out.append(nxt)
        pos = len(tokens)
        t0 = time.perf_counter()
        for _ in range(o.n):
            lg = model(torch.tensor([[nxt]], dtype=torch.long), start_pos=pos)
            nxt = int(lg[0].argmax())
            out.append(nxt)
            pos += 1
        decode_s = time.perf_counter() - t0
        # prefills again, best of --repeat (the caches are rewritten from 0)
        for _ in range(o.repeat - 1):
            t0 = time.perf_counter()
            model(torch.tensor([tokens], dtype=torch.long), start_pos=0)
            prefill_s = min(prefill_s, time.perf_counter() - t0)
        long_s = None
        for _ in range(o.repeat if long_tokens else 0):
            t0 = time.perf_counter()
            model(torch.tensor([long_tokens], dtype=torch.long), start_pos=0)
            dt = time.perf_counter() - t0
            long_s = dt if long_s is None else min(long_s, dt)
    print(json.dumps({
        "load_s": load_s, "first_forward_s": first_s, "prefill_s": prefill_s, "prefill_n": len(tokens),
        "decode_s": decode_s, "decode_n": o.n,
        "prefill_long_s": long_s, "prefill_long_n": len(long_tokens),
        "generated": out, "threads": torch.get_num_threads(),
        "torch": torch.__version__, "dtype": "float32",
    }))


if __name__ == "__main__":
    main()
