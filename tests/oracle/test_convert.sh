#!/usr/bin/env bash
# test_convert.sh - dsck-convert against the numpy model of check_convert.py,
# for tests/run.sh:
#   small FP8 -> bf16, every tensor bit-identical (plus config, index,
#   tokenizer files, dsck-verify); tiny FP8 -> f16 / f32; synth BF16 tiny ->
#   fp8 (float and ue8m0 scales); F16 / F32 -> fp8; the same on edge-case
#   data; the ue8m0 FP8 -> BF16 -> FP8 round trip byte for byte; the float
#   round trip's drift printed as a comment.
#   tests/oracle/test_convert.sh BUILD SCRATCH
set -eu
bin=$(cd "$1" && pwd)/bin
tmp=$2
here=$(cd "$(dirname "$0")" && pwd)
check="$here/check_convert.py"

if ! python3 -c 'import numpy, safetensors, ml_dtypes' 2>/dev/null; then
	echo "# SKIP test_convert.sh: python3 with numpy, safetensors and ml_dtypes not found"
	exit 0
fi

. "$here/tap.inc"
# py ARGS...: check_convert.py ARGS, its TAP lines folded into ours
py() {
	py_tap "check_convert.py $1" "$check" "$@"
}
# conv DESC ARGS...: dsck-convert -q ARGS, exit status as one TAP line
conv() {
	local desc=$1 rc=0
	shift
	"$bin/dsck-convert" -q "$@" || rc=$?
	tap "$rc" "dsck-convert $desc exits 0"
}
# verify DIR: dsck-verify accepts the output
verify() {
	local rc=0
	"$bin/dsck-verify" -q "$1" >/dev/null || rc=$?
	tap "$rc" "dsck-verify $(basename "$1") exits 0"
}

mkdir -p "$tmp"
rm -rf "${tmp:?}"/*
"$bin/dsck-synth" --preset small -q -o "$tmp/small"
"$bin/dsck-synth" --preset tiny -q -o "$tmp/tiny"
"$bin/dsck-synth" --preset tiny --dtype bf16 -q -o "$tmp/tinyb"

# Dequantization: the acceptance run on small, then f16 / f32 on tiny.
conv "--to bf16 small" --to bf16 "$tmp/small" "$tmp/small-bf16"
py dequant "$tmp/small" "$tmp/small-bf16" --to bf16
verify "$tmp/small-bf16"
rm -rf "$tmp/small" "$tmp/small-bf16" # 3 GB: free it before the rest
for to in f16 f32; do
	conv "--to $to tiny" --to "$to" "$tmp/tiny" "$tmp/tiny-$to"
	py dequant "$tmp/tiny" "$tmp/tiny-$to" --to "$to"
	verify "$tmp/tiny-$to"
done

# Quantization of a BF16 checkpoint: same layout as the synth FP8 one.
conv "--to fp8 tinyb" --to fp8 "$tmp/tinyb" "$tmp/tinyb-fp8"
py quant "$tmp/tinyb" "$tmp/tinyb-fp8"
py layout "$tmp/tiny" "$tmp/tinyb-fp8"
verify "$tmp/tinyb-fp8"
conv "--to fp8 --scale-fmt ue8m0 tinyb" --to fp8 --scale-fmt ue8m0 "$tmp/tinyb" "$tmp/tinyb-ue"
py quant "$tmp/tinyb" "$tmp/tinyb-ue" --ue8m0
verify "$tmp/tinyb-ue"
# F16 and F32 sources: the other tensors are cast to the upstream FP8
# layout's dtypes (BF16, router bias F32; formats.md CV-R3).
for to in f16 f32; do
	conv "--to fp8 tiny-$to" --to fp8 "$tmp/tiny-$to" "$tmp/tiny-$to-fp8"
	py quant "$tmp/tiny-$to" "$tmp/tiny-$to-fp8"
	verify "$tmp/tiny-$to-fp8"
done

# Round trips. ue8m0 codes times a power of two are exact in BF16 and give
# back the same amax, so the second FP8 checkpoint must equal the first.
# roundtrip NAME SCALE_FMT: NAME -> bf16 (checked) -> fp8 as NAME-rt
roundtrip() {
	conv "--to bf16 $1" --to bf16 "$tmp/$1" "$tmp/$1-bf16"
	py dequant "$tmp/$1" "$tmp/$1-bf16" --to bf16
	conv "--to fp8 --scale-fmt $2 $1-bf16 (round trip)" --to fp8 --scale-fmt "$2" \
		"$tmp/$1-bf16" "$tmp/$1-rt"
}
roundtrip tinyb-ue ue8m0
py same "$tmp/tinyb-ue" "$tmp/tinyb-ue-rt"
# Float scales: measured, and bounded by one E4M3 rounding. From dsck's
# own FP8 (scales amax / 448 of BF16 data) and from the synth FP8, whose
# scales are not of that form.
roundtrip tinyb-fp8 float
py roundtrip-stats "$tmp/tinyb-fp8" "$tmp/tinyb-fp8-rt"
roundtrip tiny float
py roundtrip-stats "$tmp/tiny" "$tmp/tiny-rt"

# Edge cases: every E4M3 code, subnormal and overflowing products, RNE
# ties; zero and sub-1e-4 blocks, 2^+-40 ranges, ue8m0 boundaries.
# edge SRC DST [--huge]: a copy of SRC with edge-case values
edge() {
	rm -rf "$2"
	cp -r "$1" "$2"
	py edge "$2" "${@:3}"
}
edge "$tmp/tiny" "$tmp/tiny-edge"
for to in bf16 f16 f32; do
	conv "--to $to tiny-edge" --to "$to" "$tmp/tiny-edge" "$tmp/tiny-edge-$to"
	py dequant "$tmp/tiny-edge" "$tmp/tiny-edge-$to" --to "$to"
done
edge "$tmp/tinyb" "$tmp/tinyb-edge"
conv "--to fp8 tinyb-edge" --to fp8 "$tmp/tinyb-edge" "$tmp/tinyb-edge-fp8"
py quant "$tmp/tinyb-edge" "$tmp/tinyb-edge-fp8"
conv "--to fp8 --scale-fmt ue8m0 tinyb-edge" --to fp8 --scale-fmt ue8m0 \
	"$tmp/tinyb-edge" "$tmp/tinyb-edge-ue"
py quant "$tmp/tinyb-edge" "$tmp/tinyb-edge-ue" --ue8m0
roundtrip tinyb-edge-ue ue8m0
py same "$tmp/tinyb-edge-ue" "$tmp/tinyb-edge-ue-rt"
# Up to the BF16 maximum: quantized only (its FP8 form dequantizes to Inf).
edge "$tmp/tinyb" "$tmp/tinyb-huge" --huge
for fmt in float ue8m0; do
	conv "--to fp8 --scale-fmt $fmt tinyb-huge" --to fp8 --scale-fmt "$fmt" \
		"$tmp/tinyb-huge" "$tmp/tinyb-huge-$fmt"
done
py quant "$tmp/tinyb-huge" "$tmp/tinyb-huge-float"
py quant "$tmp/tinyb-huge" "$tmp/tinyb-huge-ue8m0" --ue8m0

rm -rf "${tmp:?}"/*
exit $fail
