#!/usr/bin/env bash
# demo.sh - the main jobs on a synthetic checkpoint: synth tiny -> inspect ->
# verify (structure, manifest, scan) -> one flipped byte caught by verify ->
# convert to BF16 (plan, run, verify) -> back to FP8 with ue8m0 scales ->
# reshard for 2 GPUs -> a generation from the planted model, whole and
# after the conversion.
#   tests/demo.sh [BUILD]   (default build/); leaves the checkpoint in demo/
set -eu
bin=${1:-build}/bin
dir=demo/synth-tiny
rm -rf demo && mkdir -p demo
# Commands in bold on a terminal; plain text in pipes and logs.
if [ -t 1 ]; then
	step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
else
	step() { printf '\n$ %s\n' "$*"; }
fi

step dsck-synth --preset tiny -o $dir
"$bin/dsck-synth" --preset tiny -o $dir

step dsck-inspect $dir
"$bin/dsck-inspect" $dir

step dsck-inspect --tensors "'model.layers.3.mlp.experts.0.*'" $dir
"$bin/dsck-inspect" --tensors='model.layers.3.mlp.experts.0.*' $dir

step dsck-verify --manifest-write demo/tiny.manifest.json --scan $dir
"$bin/dsck-verify" --manifest-write demo/tiny.manifest.json --scan $dir

step "cp -r $dir demo/copy && flip one byte of a shard"
cp -r $dir demo/copy
shard=$(ls demo/copy/*.safetensors | sed -n 2p)
python3 - "$shard" <<'PY' 2>/dev/null || printf '\x55' | dd of="$shard" bs=1 seek=4096 conv=notrunc status=none
import sys
p = sys.argv[1]
with open(p, "r+b") as f:
    f.seek(-1000, 2); b = f.read(1); f.seek(-1000, 2); f.write(bytes([b[0] ^ 0x55]))
PY

step dsck-verify --manifest demo/tiny.manifest.json demo/copy
set +e
"$bin/dsck-verify" --manifest demo/tiny.manifest.json demo/copy
rc=$?
set -e
echo "(exit status $rc: 4 means verification mismatch)"

step dsck-convert --to bf16 --dry-run $dir demo/tiny-bf16
"$bin/dsck-convert" --to bf16 --dry-run $dir demo/tiny-bf16

step dsck-convert --to bf16 $dir demo/tiny-bf16
"$bin/dsck-convert" --to bf16 $dir demo/tiny-bf16

step dsck-verify demo/tiny-bf16
"$bin/dsck-verify" demo/tiny-bf16

step dsck-convert --to fp8 --scale-fmt ue8m0 demo/tiny-bf16 demo/tiny-fp8
"$bin/dsck-convert" --to fp8 --scale-fmt ue8m0 demo/tiny-bf16 demo/tiny-fp8
"$bin/dsck-verify" demo/tiny-fp8

step dsck-shard --plan --mp 2 $dir demo/tiny-mp2
"$bin/dsck-shard" --plan --mp 2 $dir demo/tiny-mp2
"$bin/dsck-shard" --mp 2 $dir demo/tiny-mp2

step dsck-synth --planted -o demo/planted
"$bin/dsck-synth" --planted -q -o demo/planted

step "dsck-run generate -m demo/planted -p 'hello' -n 30   # continues the alphabet"
"$bin/dsck-run" generate -m demo/planted -p 'hello' -n 30

step dsck-convert --to bf16 demo/planted demo/planted-bf16 '&&' dsck-run generate ...
"$bin/dsck-convert" -q --to bf16 demo/planted demo/planted-bf16
"$bin/dsck-run" generate -m demo/planted-bf16 -p 'hello' -n 30
