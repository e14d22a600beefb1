#!/usr/bin/env python3
"""compare_transformers.py - dsck-run's forward pass against transformers' DeepseekV3.

Usage:
  compare_transformers.py CASE [CASE ...] [--tokens LIST] [--dsck-run PATH]
                          [--work DIR] [--threads N]

Each CASE is either
  - a BF16 checkpoint directory (as written by `dsck-convert --to bf16`), or
  - a fixture file tests/oracle/run_fixtures/NAME.json: the checkpoint is made
    from it under --work (dsck-synth --preset tiny, the fixture's config_edits
    applied to config.json, dsck-synth --config, dsck-convert --to bf16), or
  - NAME=JSON, e.g. 'mscale-split={"rope_scaling.mscale": 0.707}': like a
    fixture, with the given config edits (dotted keys reach into objects);
    the key "_bias_shift": X instead adds X to every e_score_correction_bias
    tensor of the converted checkpoint (e.g. -1: every score + bias < 0).

For each checkpoint the script

  1. runs `dsck-run logits --all-positions --dump-layers` on the tokens;
  2. loads the checkpoint with AutoModelForCausalLM.from_pretrained(DIR,
     dtype=torch.float32, attn_implementation="eager"), no trust_remote_code,
     and reports missing / unexpected keys;
  3. runs the tokens through transformers, records the output of every
     decoder layer (forward hooks) and the logits, and prints rel-L2
     (||hf - dsck|| / ||dsck||) per layer and for the logits, the largest
     absolute logit difference and argmax agreement;
  4. repeats step 3 with transformers' modules patched, one patch at a time,
     toward the semantics of DeepSeek-V3's inference/model.py (which dsck
     follows), and with all of the forward patches together, so each line
     shows which patch closes which gap.  Two patches go the other way
     ("reverse"): they reproduce an older or alternative transformers
     behaviour to show whether it would matter on this checkpoint.

The patches (the transformers source they replace is named in PATCHES):
  router-scoring    honour config.json scoring_func (softmax); transformers'
                    DeepseekV3TopkRouter always uses sigmoid
  router-group-max  with no e_score_correction_bias, score a group by its
                    best expert (model.py: amax); transformers always sums
                    the top 2
  router-no-eps     renormalise the top-k weights without the +1e-20
  router-mask-zero  (reverse) mask losing groups with 0.0 instead of -inf
  rmsnorm           x * rsqrt(mean(x^2) + eps) * w in fp32, no cast
  yarn              cos/sin without transformers' attention_factor, softmax
                    scale qk^-0.5 * mscale^2 as model.py / dsck compute it,
                    and no YaRN at all when max_position_embeddings <=
                    original_max_position_embeddings (model.py's condition)
  rope-complex      rotate interleaved pairs as complex numbers and keep
                    the interleaved layout (model.py's apply_rotary_emb)
  rope-halves       (reverse) config.rope_interleave = False: rotate_half
                    on the checkpoint's interleaved q_pe / k_pe
  all               every forward patch above except the reverse ones

Prints a table per checkpoint and a summary; exits 0 (it measures, it does
not judge), 2 on bad usage.

Run by hand, not in CI: torch and transformers are heavy dependencies.  For
example:

  python3 -m venv /tmp/tfenv
  /tmp/tfenv/bin/pip install torch transformers safetensors numpy
  make
  /tmp/tfenv/bin/python tests/oracle/compare_transformers.py \\
      tests/oracle/run_fixtures/tiny-bf16.json \\
      tests/oracle/run_fixtures/kimi-ngroup1.json \\
      tests/oracle/run_fixtures/v2lite-softmax.json \\
      tests/oracle/run_fixtures/v2-grouped-softmax.json
"""

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_TOKENS = "3,17,100,511,1000,42,7,256,900,64,2,777"


# ----------------------------------------------------------------- checkpoints

def set_dotted(cfg, key, value):
    parts = key.split(".")
    d = cfg
    for p in parts[:-1]:
        d = d.setdefault(p, {})
    d[parts[-1]] = value


def make_checkpoint(name, edits, args, synth_args=()):
    bindir = os.path.dirname(args.dsck_run)
    base = os.path.join(args.work, name + "-src")
    bf16 = os.path.join(args.work, name + "-bf16")
    for d in (bf16, base):
        if os.path.exists(os.path.join(d, "config.json")) and (d == bf16 or "bf16" in synth_args):
            return d
    tiny = os.path.join(args.work, "preset-tiny")
    if not os.path.exists(os.path.join(tiny, "config.json")):
        subprocess.run([os.path.join(bindir, "dsck-synth"), "--preset", "tiny", "-q", "-o", tiny], check=True)
    with open(os.path.join(tiny, "config.json")) as f:
        cfg = json.load(f)
    for k, v in edits.items():
        set_dotted(cfg, k, v)
    cpath = os.path.join(args.work, name + ".config.json")
    with open(cpath, "w") as f:
        json.dump(cfg, f, indent=2)
    subprocess.run([os.path.join(bindir, "dsck-synth"), "--config", cpath, *synth_args, "-q", "-o", base],
                   check=True)
    if "bf16" in synth_args:  # already a BF16 checkpoint
        return base
    subprocess.run([os.path.join(bindir, "dsck-convert"), "--to", "bf16", "-q", base, bf16], check=True)
    return bf16


def resolve_case(case, args):
    if os.path.isdir(case):
        return os.path.basename(os.path.normpath(case)), case
    if case.endswith(".json") and os.path.isfile(case):
        with open(case) as f:
            fx = json.load(f)
        synth = fx["synth"]
        sargs = [a for a in synth.get("args", [])]
        ckpt = make_checkpoint(fx["case"], synth.get("config_edits", {}), args, sargs)
        npy = os.path.join(os.path.dirname(os.path.abspath(case)), (fx.get("logits") or {}).get("absorb", ""))
        if os.path.isfile(npy) and fx.get("tokens"):
            args.fixture_logits[fx["case"]] = (npy, fx["tokens"], fx.get("stored_from", 0),
                                               "--dtype" in sargs and "bf16" in sargs)
        return fx["case"], ckpt
    if "=" in case:
        name, js = case.split("=", 1)
        edits = json.loads(js)
        shift = edits.pop("_bias_shift", None)
        ckpt = make_checkpoint(name, edits, args)
        if shift is not None:
            ckpt = shift_bias(ckpt, float(shift), os.path.join(args.work, name + "-shifted"))
        return name, ckpt
    sys.exit("compare_transformers.py: %s: not a directory, fixture or NAME=JSON" % case)


def shift_bias(src, shift, dst):
    """Copy of checkpoint SRC with every e_score_correction_bias plus SHIFT
    (a tensor edit, so dsck and transformers read the same values): with a
    shift of -1 every sigmoid score plus bias is negative."""
    import shutil
    import torch
    from safetensors.torch import load_file, save_file
    if os.path.exists(dst):
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    for fn in sorted(os.listdir(dst)):
        if not fn.endswith(".safetensors"):
            continue
        path = os.path.join(dst, fn)
        t = load_file(path)
        hit = [k for k in t if k.endswith("e_score_correction_bias")]
        if hit:
            for k in hit:
                t[k] = (t[k].float() + shift).to(t[k].dtype)
            save_file(t, path, metadata={"format": "pt"})
    return dst


# ----------------------------------------------------------------------- dsck

def run_dsck(ckpt, tokens, args, tag):
    out = os.path.join(args.work, tag + ".dsck")
    os.makedirs(out, exist_ok=True)
    logits = os.path.join(out, "logits.npy")
    layers = os.path.join(out, "layers")
    os.makedirs(layers, exist_ok=True)
    cmd = [args.dsck_run, "logits", "-q", "-m", ckpt, "--tokens", tokens, "--all-positions",
           "-o", logits, "--dump-layers", layers]
    if args.threads:
        cmd += ["-t", str(args.threads)]
    subprocess.run(cmd, check=True)
    hs = []
    i = 0
    while os.path.exists(os.path.join(layers, "layer_%02d.npy" % i)):
        hs.append(np.load(os.path.join(layers, "layer_%02d.npy" % i)).astype(np.float64))
        i += 1
    return np.load(logits).astype(np.float64), hs


# --------------------------------------------------------------- transformers

def load_hf(ckpt):
    import torch
    from transformers import AutoModelForCausalLM
    model, info = AutoModelForCausalLM.from_pretrained(
        ckpt, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    model.eval()
    return model, info


def hf_forward(model, ids):
    import torch
    layers = model.model.layers
    outs = [None] * len(layers)
    hooks = []
    for i, layer in enumerate(layers):
        def hook(mod, inp, out, i=i):
            t = out[0] if isinstance(out, tuple) else out
            outs[i] = t.detach()[0].double().numpy()
        hooks.append(layer.register_forward_hook(hook))
    try:
        with torch.no_grad():
            o = model(input_ids=torch.tensor([ids]), output_hidden_states=True, use_cache=False)
    finally:
        for h in hooks:
            h.remove()
    return o.logits[0].double().numpy(), outs, o.hidden_states


def rel_l2(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


# -------------------------------------------------------------------- patches
#
# Every patch is a context manager taking (model, cfg_json) that changes
# transformers' behaviour while active and restores it afterwards.

def _hf_module():
    from transformers.models.deepseek_v3 import modeling_deepseek_v3 as m
    return m


@contextlib.contextmanager
def patch_router(model, cfg, scoring=False, group_max=False, no_eps=False, mask_zero=False):
    """Replace DeepseekV3TopkRouter.forward (modeling_deepseek_v3.py, class
    DeepseekV3TopkRouter) with a copy whose choices can be switched to
    model.py's Gate.forward."""
    import torch
    import torch.nn.functional as F
    m = _hf_module()
    cls = m.DeepseekV3TopkRouter
    orig = cls.forward
    softmax = cfg.get("scoring_func", "sigmoid") == "softmax"
    # whether the checkpoint has a bias; transformers keeps a zero buffer when it does not
    has_bias = cfg.get("topk_method", "noaux_tc") == "noaux_tc"

    def forward(self, hidden_states):
        hidden_states = hidden_states.view(-1, self.hidden_dim)
        router_logits = F.linear(hidden_states.type(torch.float32), self.weight.type(torch.float32))
        if scoring and softmax:
            scores = router_logits.softmax(dim=-1, dtype=torch.float32)
        else:
            scores = router_logits.sigmoid()
        scores_for_choice = scores + self.e_score_correction_bias
        grouped = scores_for_choice.view(-1, self.num_group, self.num_experts // self.num_group)
        if group_max and not has_bias:
            group_scores = grouped.amax(dim=-1)
        else:
            group_scores = grouped.topk(2, dim=-1)[0].sum(dim=-1)
        group_idx = torch.topk(group_scores, k=self.topk_group, dim=-1, sorted=False)[1]
        group_mask = torch.zeros_like(group_scores)
        group_mask.scatter_(1, group_idx, 1)
        score_mask = (group_mask.unsqueeze(-1)
                      .expand(-1, self.num_group, self.num_experts // self.num_group)
                      .reshape(-1, self.num_experts))
        fill = 0.0 if mask_zero else float("-inf")
        scores_for_choice = scores_for_choice.masked_fill(~score_mask.bool(), fill)
        topk_indices = torch.topk(scores_for_choice, k=self.top_k, dim=-1, sorted=False)[1]
        topk_weights = scores.gather(1, topk_indices)
        if self.norm_topk_prob:
            denominator = topk_weights.sum(dim=-1, keepdim=True) + (0.0 if no_eps else 1e-20)
            topk_weights /= denominator
        topk_weights = topk_weights * self.routed_scaling_factor
        return router_logits, topk_weights, topk_indices

    cls.forward = forward
    try:
        yield
    finally:
        cls.forward = orig


@contextlib.contextmanager
def patch_rmsnorm(model, cfg):
    """DeepseekV3RMSNorm.forward: fp32 normalise, cast to the input dtype,
    times weight -> model.py's F.rms_norm(x, (dim,), weight, eps)."""
    import torch
    m = _hf_module()
    cls = m.DeepseekV3RMSNorm
    orig = cls.forward

    def forward(self, x):
        return torch.nn.functional.rms_norm(x, (x.shape[-1],), self.weight, self.variance_epsilon)

    cls.forward = forward
    try:
        yield
    finally:
        cls.forward = orig


def modelpy_softmax_scale(cfg, qk_head_dim):
    """dsck / model.py: qk^-0.5, times mscale^2 when YaRN is on, with
    mscale = 0.1 * m * ln(factor) + 1 (m: mscale_all_dim, else mscale)."""
    scale = qk_head_dim ** -0.5
    rs = cfg.get("rope_scaling") or {}
    if modelpy_yarn_on(cfg):
        ms = rs.get("mscale_all_dim") or rs.get("mscale", 1.0)
        f = rs.get("factor", 1.0)
        if f > 1:
            mscale = 0.1 * ms * math.log(f) + 1.0
            scale *= mscale * mscale
    return scale


def modelpy_yarn_on(cfg):
    """model.py applies YaRN only when max_seq_len > original_seq_len; dsck
    compares max_position_embeddings with original_max_position_embeddings."""
    rs = cfg.get("rope_scaling") or {}
    return bool(rs) and cfg.get("max_position_embeddings", 0) > rs.get("original_max_position_embeddings", 0)


@contextlib.contextmanager
def patch_yarn(model, cfg):
    """DeepseekV3RotaryEmbedding.attention_scaling -> 1 (cos/sin unscaled),
    DeepseekV3Attention.scaling -> model.py's softmax_scale, and, when
    model.py would not apply YaRN at all (max_position_embeddings <=
    original_max_position_embeddings), plain RoPE frequencies."""
    import torch
    rot = model.model.rotary_emb
    old_as = rot.attention_scaling
    old_inv = rot.inv_freq.clone()
    olds = [l.self_attn.scaling for l in model.model.layers]
    rot.attention_scaling = 1.0
    if not modelpy_yarn_on(cfg):
        d = model.config.qk_rope_head_dim
        base = float(cfg.get("rope_theta", 10000.0))
        rot.inv_freq.copy_(1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.float) / d)))
    for l in model.model.layers:
        l.self_attn.scaling = modelpy_softmax_scale(cfg, l.self_attn.qk_head_dim)
    try:
        yield
    finally:
        rot.attention_scaling = old_as
        rot.inv_freq.copy_(old_inv)
        for l, s in zip(model.model.layers, olds):
            l.self_attn.scaling = s


@contextlib.contextmanager
def patch_rope_complex(model, cfg):
    """apply_rotary_pos_emb_interleave (de-interleaves into [evens | odds])
    -> model.py's apply_rotary_emb: view_as_complex on interleaved pairs,
    the result stays interleaved."""
    import torch
    m = _hf_module()
    orig = m.apply_rotary_pos_emb_interleave

    def rot(x, cos, sin):
        c = torch.complex(cos, sin)  # [.., 1, S, d/2]
        xc = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2).contiguous())
        return torch.view_as_real(xc * c).flatten(-2).to(x.dtype)

    def interleave(q, k, cos, sin, position_ids=None, unsqueeze_dim=1):
        cos = cos[..., : cos.shape[-1] // 2].unsqueeze(unsqueeze_dim)
        sin = sin[..., : sin.shape[-1] // 2].unsqueeze(unsqueeze_dim)
        return rot(q, cos, sin), rot(k, cos, sin)

    m.apply_rotary_pos_emb_interleave = interleave
    try:
        yield
    finally:
        m.apply_rotary_pos_emb_interleave = orig


@contextlib.contextmanager
def patch_rope_halves(model, cfg):
    old = model.config.rope_interleave
    model.config.rope_interleave = False
    for l in model.model.layers:
        l.self_attn.config.rope_interleave = False
    try:
        yield
    finally:
        model.config.rope_interleave = old
        for l in model.model.layers:
            l.self_attn.config.rope_interleave = old


@contextlib.contextmanager
def patch_all(model, cfg):
    with patch_router(model, cfg, scoring=True, group_max=True, no_eps=True), \
            patch_rmsnorm(model, cfg), patch_yarn(model, cfg), patch_rope_complex(model, cfg):
        yield


PATCHES = [
    ("router-scoring", lambda m, c: patch_router(m, c, scoring=True),
     "DeepseekV3TopkRouter.forward: router_logits.sigmoid() regardless of scoring_func"),
    ("router-group-max", lambda m, c: patch_router(m, c, group_max=True),
     "DeepseekV3TopkRouter.forward: group score = topk(2).sum even without a bias"),
    ("router-no-eps", lambda m, c: patch_router(m, c, no_eps=True),
     "DeepseekV3TopkRouter.forward: topk_weights.sum() + 1e-20"),
    ("router-mask-zero", lambda m, c: patch_router(m, c, mask_zero=True),
     "(reverse) masked_fill(..., 0.0) as older transformers did; 5.24 uses -inf"),
    ("rmsnorm", patch_rmsnorm,
     "DeepseekV3RMSNorm.forward: weight * x.to(input_dtype)"),
    ("yarn", patch_yarn,
     "DeepseekV3RotaryEmbedding: cos/sin * attention_scaling, YaRN inv_freq whenever rope_type is yarn;"
     " Attention.scaling = yarn_apply_mscale"),
    ("rope-complex", patch_rope_complex,
     "apply_rotary_pos_emb_interleave: even/odd split, output de-interleaved"),
    ("rope-halves", patch_rope_halves,
     "(reverse) rope_interleave False: rotate_half on interleaved weights"),
    ("all", patch_all, "all forward patches except the reverse ones"),
]


# ----------------------------------------------------------------------- main

def describe_config(cfg, model):
    rs = cfg.get("rope_scaling") or {}
    rot = model.model.rotary_emb
    a0 = model.model.layers[0].self_attn
    return ("n_group %s topk_group %s scoring_func %s topk_method %s norm_topk_prob %s; "
            "rope_scaling factor %s mscale %s mscale_all_dim %s; transformers attention_factor %.6g, "
            "softmax scale %.6g (dsck %.6g)" % (
                cfg.get("n_group"), cfg.get("topk_group"), cfg.get("scoring_func"), cfg.get("topk_method"),
                cfg.get("norm_topk_prob"), rs.get("factor"), rs.get("mscale"), rs.get("mscale_all_dim"),
                rot.attention_scaling, a0.scaling, modelpy_softmax_scale(cfg, a0.qk_head_dim)))


def compare_case(name, ckpt, args, summary):
    import torch
    ids = [int(t) for t in args.tokens.split(",")]
    d_logits, d_layers = run_dsck(ckpt, args.tokens, args, name)
    with open(os.path.join(ckpt, "config.json")) as f:
        cfg = json.load(f)
    model, info = load_hf(ckpt)
    n = model.config.num_hidden_layers
    print("== %s (%s)" % (name, ckpt))
    print("# " + describe_config(cfg, model))
    for k in ("missing_keys", "mismatched_keys", "error_msgs"):
        v = info.get(k) or []
        if v:
            print("# %s: %s" % (k, ", ".join(sorted(str(x) for x in v))))
    unexp = sorted(info.get("unexpected_keys") or [])
    if unexp:
        mtp = [k for k in unexp if k.startswith("model.layers.%d." % n)]
        print("# unexpected keys: %d (%d under model.layers.%d.*, the MTP block transformers does not build)"
              % (len(unexp), len(mtp), n))
    if len(d_layers) != n:
        print("# dsck dumped %d layers, transformers has %d" % (len(d_layers), n))

    h_logits, h_layers, hs = hf_forward(model, ids)
    # output_hidden_states: check how it lines up with the layer outputs
    hs = [t[0].double().numpy() for t in hs]
    where = []
    for i, h in enumerate(hs):
        j = [k for k, x in enumerate(h_layers) if x is not None and np.array_equal(x, h)]
        where.append("%d=%s" % (i, ("layer%d" % j[0]) if j else ("embed" if i == 0 else "other")))
    print("# output_hidden_states: %d tensors (%s)" % (len(hs), " ".join(where)))

    cols = ["layer%d" % i for i in range(n)]
    print("%-18s %s %10s %10s %7s" % ("patch", " ".join("%10s" % c for c in cols), "logits", "max|d|", "argmax"))

    def row(label, hl, hl_layers):
        per = [rel_l2(hl_layers[i], d_layers[i]) if i < len(d_layers) else float("nan") for i in range(n)]
        lg = rel_l2(hl, d_logits)
        mx = float(np.abs(hl - d_logits).max())
        am = int((hl.argmax(-1) == d_logits.argmax(-1)).sum())
        print("%-18s %s %10.3e %10.3e %4d/%-2d" % (label, " ".join("%10.3e" % p for p in per), lg, mx, am, len(ids)),
              flush=True)
        summary.append((name, label, lg, am, len(ids)))
        return lg

    row("none", h_logits, h_layers)
    fx = args.fixture_logits.get(name)
    if fx and fx[1] == ids:
        ref = np.load(fx[0]).astype(np.float64)
        sl = slice(fx[2], fx[2] + ref.shape[0]) if ref.ndim == 2 else slice(len(ids) - 1, len(ids))
        ref = ref.reshape(-1, ref.shape[-1])
        print("# model.py fixture %s (%s): rel-L2 dsck %.3e, transformers %.3e" % (
            os.path.basename(fx[0]), "same BF16 weights" if fx[3] else
            "model.py ran the FP8 checkpoint; these are its BF16 conversion",
            rel_l2(d_logits[sl], ref), rel_l2(h_logits[sl], ref)))
    for pname, ctx, _ in PATCHES:
        with ctx(model, cfg):
            pl, pls, _ = hf_forward(model, ids)
        row(pname, pl, pls)
    del model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="+")
    ap.add_argument("--tokens", default=DEFAULT_TOKENS)
    ap.add_argument("--dsck-run", default=os.path.join(ROOT, "build", "bin", "dsck-run"))
    ap.add_argument("--work", default=None, help="scratch directory (default: a new temporary one)")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    args.fixture_logits = {}
    if not os.access(args.dsck_run, os.X_OK):
        print("compare_transformers.py: %s: not executable (run make)" % args.dsck_run, file=sys.stderr)
        return 2
    if args.work is None:
        args.work = tempfile.mkdtemp(prefix="dsck-hf-")
    os.makedirs(args.work, exist_ok=True)

    import torch
    import transformers
    torch.manual_seed(0)
    print("# torch %s, transformers %s, %s" % (torch.__version__, transformers.__version__,
                                               _hf_module().__file__))
    print("# rel-L2 = ||transformers - dsck|| / ||dsck|| over all positions; hidden states are the"
          " outputs of each decoder block (residual stream)")
    for pname, _, what in PATCHES:
        print("# patch %-17s %s" % (pname, what))
    summary = []
    for case in args.cases:
        name, ckpt = resolve_case(case, args)
        compare_case(name, ckpt, args, summary)

    print("== summary: logits rel-L2 (argmax agreement)")
    names = []
    for s in summary:
        if s[0] not in names:
            names.append(s[0])
    labels = ["none"] + [p[0] for p in PATCHES]
    print("%-18s %s" % ("patch", " ".join("%22s" % nm for nm in names)))
    for lab in labels:
        cells = []
        for nm in names:
            r = [s for s in summary if s[0] == nm and s[1] == lab]
            cells.append("%22s" % ("%.3e (%d/%d)" % (r[0][2], r[0][3], r[0][4]) if r else "-"))
        print("%-18s %s" % (lab, " ".join(cells)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
