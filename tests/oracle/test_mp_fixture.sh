#!/usr/bin/env bash
# test_mp_fixture.sh - dsck-shard --mp N on the tiny preset against the
# module tree of DeepSeek-V3's inference/model.py, recorded per rank in
# mp_modules_tiny.json (made by mp_modules.py with torch; this test needs
# only python3). For N = 1, 2, 4 and every rank r, the header of
# model{r}-mp{N}.safetensors (8-byte LE length + JSON, read here) must
# hold every state_dict key of model.py's Transformer for rank r of N, with
# the same shape and dtype, and no other key, so that load_model(...,
# strict=True) in generate.py accepts it. One documented exception, printed
# as "# note" lines: model.py creates Gate.bias only when dim == 7168
# (model.py:564 at the fixture's commit), while the checkpoint carries
# e_score_correction_bias for every MoE layer and convert.py copies it as
# ffn.gate.bias; for any other dim that key is extra in the rank files.
#   tests/oracle/test_mp_fixture.sh BUILD SCRATCH
set -u
bin=$1/bin
tmp=$2
here=$(cd "$(dirname "$0")" && pwd)
rc=0
rm -rf "$tmp/tiny" "$tmp/mp1" "$tmp/mp2" "$tmp/mp4"
mkdir -p "$tmp"
"$bin/dsck-synth" --preset tiny -q -o "$tmp/tiny" || rc=1
for n in 1 2 4; do
	"$bin/dsck-shard" -q --mp "$n" "$tmp/tiny" "$tmp/mp$n" || rc=1
done
python3 - "$here/mp_modules_tiny.json" "$tmp" <<'PY' || rc=1
import json, os, re, struct, sys

fixture_path, tmp = sys.argv[1:3]
with open(fixture_path) as f:
    fx = json.load(f)
meta = fx["_meta"]
DT = {"float8_e4m3fn": "F8_E4M3", "bfloat16": "BF16", "float32": "F32"}
N = FAILED = 0


def check(cond, what, detail=""):
    global N, FAILED
    N += 1
    if cond:
        print(f"ok {N} - {what}")
    else:
        FAILED += 1
        print(f"not ok {N} - {what}" + (f"  # {detail}" if detail else ""))


def short(names, k=6):
    names = sorted(names)
    return ", ".join(names[:k]) + (f" ... ({len(names)} in all)" if len(names) > k else "")


print(f"# fixture: DeepSeek-V3 {meta['deepseek_v3_commit']}, torch {meta['torch']}, "
      f"config {meta['config']}")

# The fixture must describe this config: the ModelArgs fields mp_modules.py
# derives, recomputed from the synth config.json.
with open(os.path.join(tmp, "tiny", "config.json")) as f:
    cfg = json.load(f)
rs = cfg.get("rope_scaling") or {}
want = {
    "vocab_size": cfg["vocab_size"], "dim": cfg["hidden_size"],
    "inter_dim": cfg["intermediate_size"], "moe_inter_dim": cfg["moe_intermediate_size"],
    "n_layers": cfg["num_hidden_layers"], "n_dense_layers": cfg["first_k_dense_replace"],
    "n_heads": cfg["num_attention_heads"], "n_routed_experts": cfg["n_routed_experts"],
    "n_shared_experts": cfg["n_shared_experts"],
    "n_activated_experts": cfg["num_experts_per_tok"],
    "q_lora_rank": cfg.get("q_lora_rank") or 0, "kv_lora_rank": cfg["kv_lora_rank"],
    "qk_nope_head_dim": cfg["qk_nope_head_dim"], "qk_rope_head_dim": cfg["qk_rope_head_dim"],
    "v_head_dim": cfg["v_head_dim"],
    "dtype": "fp8" if "quantization_config" in cfg else "bf16",
}
args = meta["model_args"]
diff = {k: (v, args.get(k)) for k, v in want.items() if args.get(k) != v}
check(not diff, "fixture was made from this config (tiny preset)",
      f"differs (config, fixture): {diff}; regenerate with mp_modules.py")

dim, dense, experts = args["dim"], args["n_dense_layers"], args["n_routed_experts"]
gate_bias = re.compile(r"layers\.(\d+)\.ffn\.gate\.bias$")


def allowed_extra(name, h):
    """model.py:564 - Gate.bias exists only when dim == 7168."""
    m = gate_bias.match(name)
    return (m is not None and dim != 7168 and int(m.group(1)) >= dense
            and int(m.group(1)) < args["n_layers"]
            and h["dtype"] == "F32" and h["shape"] == [experts])


noted = False
for n in sorted((k for k in fx if k != "_meta"), key=int):
    d = os.path.join(tmp, f"mp{n}")
    files = sorted(f for f in os.listdir(d) if f.endswith(".safetensors")) if os.path.isdir(d) else []
    check(files == sorted(f"model{r}-mp{n}.safetensors" for r in range(int(n))),
          f"mp{n}: rank files model{{0..{int(n) - 1}}}-mp{n}.safetensors", f"found {files}")
    for r in sorted(fx[n], key=int):
        exp = fx[n][r]
        path = os.path.join(d, f"model{r}-mp{n}.safetensors")
        tag = f"mp{n} rank {r}"
        try:
            with open(path, "rb") as f:
                hlen = struct.unpack("<Q", f.read(8))[0]
                hdr = json.loads(f.read(hlen))
            hdr.pop("__metadata__", None)
        except (OSError, ValueError, struct.error) as e:
            check(False, f"{tag}: header readable", str(e))
            continue
        missing = set(exp) - set(hdr)
        extra = set(hdr) - set(exp)
        excused = {k for k in extra if allowed_extra(k, hdr[k])}
        check(not missing, f"{tag}: all {len(exp)} keys of model.py's state_dict present",
              f"missing {short(missing)}")
        check(not (extra - excused), f"{tag}: no key model.py does not have"
              + (f" (besides {len(excused)} documented)" if excused else ""),
              f"unexpected {short(extra - excused)}")
        if excused:
            if not noted:
                print(f"# note: model.py (DeepSeek-V3 {meta['deepseek_v3_commit'][:12]}) "
                      f"line 564 creates Gate.bias only when dim == 7168; this config has "
                      f"dim {dim}, so its Gate has no bias, while the checkpoint holds "
                      f"e_score_correction_bias [{experts}] F32 for every MoE layer and "
                      f"convert.py renames it to ffn.gate.bias. load_model(strict=True) "
                      f"would report these as unexpected keys; with dim 7168 (V3/R1) "
                      f"they load.")
                noted = True
            print(f"# note: {tag}: extra {short(excused)}")
        bad = [f"{k}: {hdr[k]['shape']} {hdr[k]['dtype']} vs {exp[k][0]} {DT.get(exp[k][1], exp[k][1])}"
               for k in sorted(set(exp) & set(hdr))
               if hdr[k]["shape"] != exp[k][0] or hdr[k]["dtype"] != DT.get(exp[k][1], exp[k][1])]
        check(not bad, f"{tag}: shapes and dtypes as model.py's", "; ".join(bad[:4]))
sys.exit(1 if FAILED else 0)
PY
exit $rc
