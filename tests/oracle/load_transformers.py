#!/usr/bin/env python3
"""load_transformers.py - a dsck-convert BF16 checkpoint in Hugging Face transformers.

Usage:
  load_transformers.py BF16_DIR [--fp8 FP8_DIR] [--verbose]

Checks that a checkpoint written by `dsck-convert --to bf16` loads through
transformers' native DeepseekV3 model (model_type "deepseek_v3", no
trust_remote_code, no edits to config.json or the shards):

  - AutoConfig.from_pretrained(DIR) gives DeepseekV3Config and the config has
    no quantization_config;
  - AutoModelForCausalLM.from_pretrained(DIR, dtype=bfloat16,
    output_loading_info=True) reports no missing, mismatched or unexpected
    keys and no error messages.  transformers' DeepseekV3 has no MTP
    (next-token prediction) block, so unexpected keys under
    model.layers.<num_hidden_layers>.* are expected; they are listed on a
    separate line and do not fail the run;
  - every parameter and buffer is bfloat16, except those the model itself
    keeps in float32 (_keep_in_fp32_modules / _keep_in_fp32_modules_strict,
    e.g. mlp.gate.weight and mlp.gate.e_score_correction_bias, plus the rotary
    inv_freq buffers the model computes itself);
  - a forward pass on a few token ids gives logits of the expected shape,
    all finite;
  - independently of transformers' loader, a handful of tensors read with
    safetensors.safe_open(framework="pt") equal the model's parameters
    bit for bit (after the model's own dtype: bf16 kept, fp32-kept modules
    widened exactly); routed experts are compared against transformers'
    fused layout (gate_up_proj[e] = cat(gate_proj_e, up_proj_e),
    down_proj[e] = down_proj_e).

With --fp8 FP8_DIR the FP8 source checkpoint (quantization_config in
config.json) is also loaded, for comparison only: the script reports what
transformers does with it (refuses, needs a GPU, or dequantizes), and if it
dequantizes, how its values compare with the BF16 checkpoint's.  Nothing in
this part fails the run.

Prints one line per check ("ok" / "not ok"), "#" lines for information;
exits 1 on any failure, 2 on bad usage.

Run by hand, not in CI: torch and transformers are heavy dependencies (see
tests/oracle/requirements.txt for what CI installs).  For example:

  python3 -m venv /tmp/tfenv
  /tmp/tfenv/bin/pip install torch transformers safetensors numpy
  build/bin/dsck-synth --preset tiny -o /tmp/tf/tiny
  build/bin/dsck-convert --to bf16 /tmp/tf/tiny /tmp/tf/tiny-bf16
  /tmp/tfenv/bin/python tests/oracle/load_transformers.py /tmp/tf/tiny-bf16 \
      --fp8 /tmp/tf/tiny
"""

import argparse
import json
import os
import re
import sys
import traceback

FAILURES = []


def check(ok, name, detail=""):
    line = ("ok" if ok else "not ok") + " - " + name
    if detail:
        line += " (" + detail + ")"
    print(line, flush=True)
    if not ok:
        FAILURES.append(name)
    return ok


def info(msg):
    print("# " + msg, flush=True)


def last_lines(exc, n=4):
    lines = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    lines = [l for l in lines.rstrip().splitlines() if l.strip()]
    return lines[-n:]


def dtype_kwarg(torch):
    """transformers >= 4.56 takes dtype=; older releases only torch_dtype=."""
    import transformers
    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    if (major, minor) >= (4, 56):
        return {"dtype": torch.bfloat16}
    return {"torch_dtype": torch.bfloat16}


def weight_map(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            return json.load(f)["weight_map"]
    from safetensors import safe_open
    wm = {}
    for name in sorted(os.listdir(d)):
        if name.endswith(".safetensors"):
            with safe_open(os.path.join(d, name), framework="pt") as f:
                for k in f.keys():
                    wm[k] = name
    return wm


def read_tensor(d, wm, name):
    from safetensors import safe_open
    with safe_open(os.path.join(d, wm[name]), framework="pt") as f:
        return f.get_tensor(name)


def fp32_patterns(model):
    pats = []
    for attr in ("_keep_in_fp32_modules", "_keep_in_fp32_modules_strict"):
        v = getattr(model, attr, None) or []
        pats.extend(v)
    return sorted(set(pats))


def kept_fp32(name, pats):
    if name.endswith("inv_freq"):  # rotary tables, computed by the model
        return True
    return any(re.search(r"(^|\.)" + re.escape(p) + r"($|\.)", name) for p in pats)


def pick_layers(cfg):
    """One dense layer and one MoE layer of the main stack."""
    k = getattr(cfg, "first_k_dense_replace", 0)
    n = cfg.num_hidden_layers
    dense = 0 if k > 0 else None
    moe = k if k < n else None
    return dense, moe


def compare_values(model, d, wm, cfg, torch):
    """Model parameters against the safetensors files, bit for bit."""
    params = dict(model.named_parameters())
    params.update(dict(model.named_buffers()))
    dense, moe = pick_layers(cfg)
    E = getattr(cfg, "n_routed_experts", None) or getattr(cfg, "num_local_experts", 0)
    inter = cfg.moe_intermediate_size
    plain = ["model.embed_tokens.weight", "lm_head.weight", "model.norm.weight"]
    if dense is not None:
        L = "model.layers.%d." % dense
        plain += [L + "self_attn.q_a_proj.weight", L + "self_attn.kv_b_proj.weight",
                  L + "mlp.down_proj.weight", L + "input_layernorm.weight"]
    experts = []
    if moe is not None:
        L = "model.layers.%d." % moe
        plain += [L + "self_attn.o_proj.weight", L + "mlp.gate.weight",
                  L + "mlp.gate.e_score_correction_bias",
                  L + "mlp.shared_experts.up_proj.weight"]
        experts = [(moe, e) for e in sorted({0, E // 2, E - 1})]
    if getattr(cfg, "tie_word_embeddings", False):
        plain.remove("lm_head.weight")

    for name in plain:
        if name not in wm:
            check(False, "value " + name, "not in the checkpoint")
            continue
        if name not in params:
            check(False, "value " + name, "not in the model")
            continue
        p = params[name].detach().cpu()
        t = read_tensor(d, wm, name)
        if tuple(p.shape) != tuple(t.shape):
            check(False, "value " + name, "shape %s vs file %s" % (tuple(p.shape), tuple(t.shape)))
            continue
        same = torch.equal(p, t.to(p.dtype))
        check(same, "value " + name, "file %s, model %s" % (str(t.dtype).replace("torch.", ""),
                                                           str(p.dtype).replace("torch.", "")))

    for layer, e in experts:
        L = "model.layers.%d.mlp.experts." % layer
        fused = L + "gate_up_proj" in params
        for proj in ("gate_proj", "up_proj", "down_proj"):
            fname = "%s%d.%s.weight" % (L, e, proj)
            if fname not in wm:
                check(False, "value " + fname, "not in the checkpoint")
                continue
            t = read_tensor(d, wm, fname)
            if fused:
                if proj == "down_proj":
                    p = params[L + "down_proj"][e]
                else:
                    gu = params[L + "gate_up_proj"][e]
                    p = gu[:inter] if proj == "gate_proj" else gu[inter:]
                where = "fused %s[%d]" % ("down_proj" if proj == "down_proj" else "gate_up_proj", e)
            else:
                if fname not in params:
                    check(False, "value " + fname, "not in the model")
                    continue
                p = params[fname]
                where = "per-expert"
            p = p.detach().cpu()
            if tuple(p.shape) != tuple(t.shape):
                check(False, "value " + fname, "%s shape %s vs file %s" % (where, tuple(p.shape), tuple(t.shape)))
                continue
            check(torch.equal(p, t.to(p.dtype)), "value " + fname, where)


def check_bf16(bdir, verbose):
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM

    with open(os.path.join(bdir, "config.json")) as f:
        raw = json.load(f)
    check("quantization_config" not in raw, "config.json has no quantization_config")
    info("config.json torch_dtype: %r, model_type: %r, architectures: %r"
         % (raw.get("torch_dtype", raw.get("dtype")), raw.get("model_type"), raw.get("architectures")))

    try:
        cfg = AutoConfig.from_pretrained(bdir)
    except Exception as exc:  # noqa: BLE001
        check(False, "AutoConfig.from_pretrained", " | ".join(last_lines(exc)))
        return
    check(type(cfg).__name__ == "DeepseekV3Config", "AutoConfig.from_pretrained without trust_remote_code",
          type(cfg).__name__)
    check(getattr(cfg, "quantization_config", None) is None, "config object has no quantization_config")

    kw = dtype_kwarg(torch)
    try:
        model, linfo = AutoModelForCausalLM.from_pretrained(
            bdir, output_loading_info=True, **kw)
    except Exception as exc:  # noqa: BLE001
        check(False, "AutoModelForCausalLM.from_pretrained(%s=bfloat16)" % list(kw)[0],
              " | ".join(last_lines(exc)))
        return
    check(type(model).__name__ == "DeepseekV3ForCausalLM",
          "AutoModelForCausalLM.from_pretrained(%s=bfloat16) without trust_remote_code" % list(kw)[0],
          type(model).__name__)
    model.eval()

    n = cfg.num_hidden_layers
    mtp = re.compile(r"^model\.layers\.%d\." % n)
    missing = sorted(linfo.get("missing_keys", []))
    unexpected = sorted(linfo.get("unexpected_keys", []))
    mismatched = list(linfo.get("mismatched_keys", []))
    errors = list(linfo.get("error_msgs", []))
    unexp_mtp = [k for k in unexpected if mtp.match(k)]
    unexp_other = [k for k in unexpected if not mtp.match(k)]
    check(not missing, "no missing keys", "%d: %s" % (len(missing), ", ".join(missing[:8])) if missing else "")
    check(not unexp_other, "no unexpected keys outside the MTP layer",
          "%d: %s" % (len(unexp_other), ", ".join(unexp_other[:8])) if unexp_other else "")
    check(not mismatched, "no mismatched keys", str(mismatched[:4]) if mismatched else "")
    check(not errors, "no loading error messages", str(errors[:4]) if errors else "")
    info("MTP layer model.layers.%d.* not in this model (expected): %d unexpected key(s)%s"
         % (n, len(unexp_mtp), (": " + ", ".join(unexp_mtp)) if verbose else ""))

    pats = fp32_patterns(model)
    bad = []
    f32 = []
    counts = {}
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        counts[t.dtype] = counts.get(t.dtype, 0) + 1
        if t.dtype == torch.bfloat16:
            continue
        if t.dtype == torch.float32 and kept_fp32(name, pats):
            f32.append(name)
            continue
        bad.append("%s %s" % (name, t.dtype))
    info("model keeps in float32: %s -> %d tensor(s)%s"
         % (pats, len(f32), (": " + ", ".join(f32)) if verbose else ""))
    info("parameter/buffer dtypes: " + ", ".join("%s x%d" % (str(k).replace("torch.", ""), v)
                                                 for k, v in sorted(counts.items(), key=str)))
    check(not bad, "every parameter and buffer bfloat16 except float32-kept ones",
          "; ".join(bad[:8]) if bad else "")

    ids = torch.tensor([[cfg.bos_token_id or 0, 5, 17, 99, cfg.vocab_size - 1, 42]], dtype=torch.long)
    try:
        with torch.no_grad():
            out = model(input_ids=ids)
        logits = out.logits
        shape_ok = tuple(logits.shape) == (1, ids.shape[1], cfg.vocab_size)
        finite = bool(torch.isfinite(logits).all())
        check(shape_ok and finite, "forward pass on %d token ids gives finite logits" % ids.shape[1],
              "shape %s, dtype %s, finite %s, |max| %.4g"
              % (tuple(logits.shape), str(logits.dtype).replace("torch.", ""), finite,
                 float(logits.float().abs().max())))
    except Exception as exc:  # noqa: BLE001
        check(False, "forward pass", " | ".join(last_lines(exc)))

    wm = weight_map(bdir)
    compare_values(model, bdir, wm, cfg, torch)
    return model


class LogCapture:
    """Collects transformers' warnings (its load report included) while active."""

    def __init__(self):
        import io
        import logging
        self.buf = io.StringIO()
        self.handler = logging.StreamHandler(self.buf)

    def __enter__(self):
        import transformers
        self.level = transformers.logging.get_verbosity()
        self.root = transformers.logging.get_logger("transformers")
        self.root.addHandler(self.handler)
        transformers.logging.disable_default_handler()
        transformers.logging.set_verbosity_warning()
        return self

    def __exit__(self, *exc):
        import transformers
        self.root.removeHandler(self.handler)
        transformers.logging.enable_default_handler()
        transformers.logging.set_verbosity(self.level)
        return False

    def notable(self, limit=6):
        """Warnings, distinct error messages, and how many tensors failed conversion."""
        out, errors, failed = [], [], set()
        for line in self.buf.getvalue().splitlines():
            line = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
            m = re.match(r"Error: (\w+) on tensors destined for (\S+)\.", line)
            if m:
                failed.add((m.group(1), m.group(2)))
            elif re.match(r"\w*(Error|Exception): ", line):
                if line not in errors:
                    errors.append(line)
            elif re.search(r"(GPU|XPU|dequantizing|requires)", line) and "|" not in line:
                if line not in out:
                    out.append(line)
        out += errors[:limit]
        if len(errors) > limit:
            out.append("... %d more distinct error message(s)" % (len(errors) - limit))
        if failed:
            ops = sorted({op for op, _ in failed})
            out.append("%d target tensor(s) failed conversion in %s" % (len(failed), ", ".join(ops)))
        return out


def probe_fp8(fdir, bmodel, verbose):
    """Report only: what transformers does with the FP8 source checkpoint."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    info("--- FP8 source %s (report only, never a failure) ---" % fdir)
    try:
        cfg = AutoConfig.from_pretrained(fdir)
        qc = getattr(cfg, "quantization_config", None)
        info("fp8 config: %s, quantization_config: %s" % (type(cfg).__name__, qc))
    except Exception as exc:  # noqa: BLE001
        info("fp8 AutoConfig failed: " + " | ".join(last_lines(exc)))
        return
    info("torch.cuda.is_available(): %s" % torch.cuda.is_available())
    kw = dtype_kwarg(torch)
    with LogCapture() as log:
        try:
            model, linfo = AutoModelForCausalLM.from_pretrained(fdir, output_loading_info=True, **kw)
        except Exception as exc:  # noqa: BLE001
            model = None
            info("fp8 load raised: " + " | ".join(last_lines(exc, 1)))
    for line in log.notable():
        info("fp8 log: " + line)
    if model is None:
        return
    hq = getattr(model, "hf_quantizer", None)
    qc = getattr(hq, "quantization_config", None) if hq is not None else None
    info("fp8 loaded: %s, quantizer %s, dequantize=%s"
         % (type(model).__name__, type(hq).__name__ if hq is not None else None,
            getattr(qc, "dequantize", None)))
    n = cfg.num_hidden_layers
    mtp = re.compile(r"^model\.layers\.%d\." % n)
    miss = sorted(linfo.get("missing_keys", []))
    unexp = [k for k in linfo.get("unexpected_keys", []) if not mtp.match(k)]
    info("fp8 missing keys: %d%s; unexpected outside MTP: %d%s"
         % (len(miss), (" " + ", ".join(miss[:6])) if miss else "",
            len(unexp), (" " + ", ".join(sorted(unexp)[:6])) if unexp else ""))
    counts = {}
    for _, t in list(model.named_parameters()):
        counts[t.dtype] = counts.get(t.dtype, 0) + 1
    info("fp8 parameter dtypes: " + ", ".join("%s x%d" % (str(k).replace("torch.", ""), v)
                                              for k, v in sorted(counts.items(), key=str)))
    try:
        with torch.no_grad():
            ids = torch.tensor([[0, 5, 17, 99, cfg.vocab_size - 1, 42]], dtype=torch.long)
            lg = model(input_ids=ids).logits
        info("fp8 forward: logits %s %s, finite %s"
             % (tuple(lg.shape), str(lg.dtype).replace("torch.", ""), bool(torch.isfinite(lg).all())))
        if bmodel is not None:
            with torch.no_grad():
                lb = bmodel(input_ids=ids).logits
            info("fp8-load vs bf16-checkpoint logits: max |diff| %.4g, argmax equal %s"
                 % (float((lg.float() - lb.float()).abs().max()),
                    bool(torch.equal(lg.argmax(-1), lb.argmax(-1)))))
    except Exception as exc:  # noqa: BLE001
        info("fp8 forward raised: " + " | ".join(last_lines(exc)))
    if bmodel is None:
        return
    bp = dict(bmodel.named_parameters())
    fp = dict(model.named_parameters())
    same = diff = skipped = 0
    worst = (0.0, None)
    for name, p in bp.items():
        q = fp.get(name)
        if q is None or q.shape != p.shape or q.dtype != p.dtype:
            skipped += 1
            continue
        if torch.equal(p, q):
            same += 1
        else:
            diff += 1
            d = float((p.float() - q.float()).abs().max())
            if d > worst[0]:
                worst = (d, name)
    info("transformers' own FP8 dequantization vs dsck-convert BF16: %d parameter(s) bit-identical, "
         "%d differ (max |diff| %.4g in %s), %d not comparable (absent, other shape or dtype)"
         % (same, diff, worst[0], worst[1], skipped))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bf16_dir")
    ap.add_argument("--fp8", metavar="FP8_DIR", help="also try the FP8 source (report only)")
    ap.add_argument("--verbose", action="store_true",
                    help="keep transformers' own log and progress bars, list MTP keys")
    args = ap.parse_args()
    if not os.path.isfile(os.path.join(args.bf16_dir, "config.json")):
        print("usage: no config.json in %s" % args.bf16_dir, file=sys.stderr)
        return 2

    try:
        import torch
        import transformers
    except ImportError as exc:
        print("not ok - import torch/transformers (%s)" % exc)
        return 1
    if not args.verbose:
        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    info("torch %s, transformers %s, safetensors %s"
         % (torch.__version__, transformers.__version__,
            __import__("safetensors").__version__))
    try:
        from transformers import DeepseekV3ForCausalLM  # noqa: F401
    except ImportError:
        print("not ok - transformers %s has no native DeepseekV3ForCausalLM" % transformers.__version__)
        return 1

    bmodel = check_bf16(args.bf16_dir, args.verbose)
    if args.fp8:
        try:
            probe_fp8(args.fp8, bmodel, args.verbose)
        except Exception as exc:  # noqa: BLE001
            info("fp8 probe raised: " + " | ".join(last_lines(exc)))

    if FAILURES:
        print("# %d check(s) failed" % len(FAILURES))
        return 1
    print("# all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
