#!/usr/bin/env bash
# test_shard.sh - dsck-shard against the numpy model of check_shard.py, for
# tests/run.sh, on tiny FP8 and tiny BF16:
#   HF -> MP(N), N = 1, 2, 4, with and without --keep-mtp, every rank tensor
#   checked (BF16 also N = 8); N = 3 refused, and 8 for FP8; MP(N) -> MP(M)
#   byte-identical to the direct HF -> MP(M); HF -> MP(N) -> HF --like the
#   original index, and HF -> MP4 -> MP2 -> HF, byte-identical to the
#   original (refused when the MP side dropped the MTP layer); MP -> HF in
#   the default grouping, --hf --merge and --hf --max-tensors 50: all
#   tensors kept, dsck-verify passes, and every HF end keeps the model hash.
#   tests/oracle/test_shard.sh BUILD SCRATCH
set -eu
bin=$(cd "$1" && pwd)/bin
tmp=$2
here=$(cd "$(dirname "$0")" && pwd)
check="$here/check_shard.py"

if ! python3 -c 'import numpy, safetensors, ml_dtypes' 2>/dev/null; then
	echo "# SKIP test_shard.sh: python3 with numpy, safetensors and ml_dtypes not found"
	exit 0
fi

. "$here/tap.inc"
# py ARGS...: check_shard.py ARGS, its TAP lines folded into ours
py() {
	py_tap "check_shard.py $1" "$check" "$@"
}
# shard ARGS...: dsck-shard -q ARGS, exit status as one TAP line (paths
# relative to SCRATCH)
shard() {
	local rc=0 args="$*"
	"$bin/dsck-shard" -q "$@" || rc=$?
	tap "$rc" "dsck-shard ${args//"$tmp/"/} exits 0"
}
# verify DIR: dsck-verify accepts DIR and writes its manifest to DIR.manifest
# (beside DIR, so that it is no file of the checkpoint)
verify() {
	local rc=0
	"$bin/dsck-verify" -q --manifest-write "$1.manifest" "$1" >/dev/null || rc=$?
	tap "$rc" "dsck-verify $(basename "$1") exits 0"
}

mkdir -p "$tmp"
rm -rf "${tmp:?}"/*

for dt in fp8 bf16; do
	t=$tmp/$dt
	"$bin/dsck-synth" --preset tiny --dtype "$dt" -q -o "$t"
	verify "$t"
	idx=$t/model.safetensors.index.json
	hashes=()

	# HF -> MP(N): the split rules, tensor by tensor.
	for N in 1 2 4; do
		shard --mp "$N" "$t" "$t-mp$N"
		py mp "$t" "$t-mp$N" "$N"
		shard --mp "$N" --keep-mtp "$t" "$t-mp${N}k"
		py mp "$t" "$t-mp${N}k" "$N" --keep-mtp
	done
	# Rank counts that do not divide the model: refused, nothing written.
	# FP8 also needs whole 128-blocks of scale per rank, so 8 is out; BF16
	# splits o_proj's 512 columns into 8 ranks.
	bad="3 8"
	if [ "$dt" = bf16 ]; then
		bad=3
		shard --mp 8 --keep-mtp "$t" "$t-mp8k"
		py mp "$t" "$t-mp8k" 8 --keep-mtp
	fi
	for N in $bad; do
		rc=0
		"$bin/dsck-shard" -q --mp "$N" "$t" "$t-mp$N" 2>/dev/null || rc=$?
		ok=1
		if [ "$rc" -eq 1 ] && [ ! -e "$t-mp$N/model0-mp$N.safetensors" ]; then ok=0; fi
		tap "$ok" "dsck-shard --mp $N $dt refused (exit $rc), no rank file"
	done

	# MP(N) -> MP(M) equals HF -> MP(M), MTP dropped or kept all along.
	pairs=()
	for pair in 1:4 2:4 4:2 4:1 2:1; do
		a=${pair%:*} b=${pair#*:}
		shard --mp "$b" "$t-mp$a" "$t-mp$a-mp$b"
		shard --mp "$b" --keep-mtp "$t-mp${a}k" "$t-mp${a}k-mp${b}k"
		pairs+=("$t-mp$b" "$t-mp$a-mp$b" "$t-mp${b}k" "$t-mp${a}k-mp${b}k")
	done
	py same "${pairs[@]}"

	# Back to HF in the original's grouping: the original, byte for byte.
	pairs=()
	for src in mp1k mp2k mp4k mp4k-mp2k; do
		shard --hf --like "$idx" "$t-$src" "$t-$src-hf"
		verify "$t-$src-hf"
		pairs+=("$t" "$t-$src-hf")
		hashes+=("$t-$src-hf.manifest")
	done
	py same "${pairs[@]}"
	# Without its MTP layer, MP cannot fill the original's index: refused.
	rc=0
	"$bin/dsck-shard" -q --hf --like "$idx" "$t-mp2" "$t-mp2-hf" 2>/dev/null || rc=$?
	ok=1
	if [ "$rc" -eq 1 ] && ! ls "$t-mp2-hf"/*.safetensors >/dev/null 2>&1; then ok=0; fi
	tap "$ok" "dsck-shard --hf --like from $dt-mp2 (MTP dropped) refused (exit $rc), no shard"
	# Other groupings: same tensors, valid checkpoints, same model hash.
	for src in mp1k mp4k; do
		shard --hf "$t-$src" "$t-$src-hfd"
		py hf "$t" "$t-$src-hfd"
		verify "$t-$src-hfd"
		hashes+=("$t-$src-hfd.manifest")
	done
	shard --hf --merge "$t" "$t-merge"
	py hf "$t" "$t-merge" --merge
	verify "$t-merge"
	shard --hf --max-tensors 50 "$t" "$t-mt50"
	py hf "$t" "$t-mt50" --max-tensors 50
	verify "$t-mt50"
	hashes+=("$t-merge.manifest" "$t-mt50.manifest")
	py hash "$t.manifest" "${hashes[@]}"

	rm -rf "${t:?}"*
done

rm -rf "${tmp:?}"/*
exit $fail
