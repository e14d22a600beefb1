#!/usr/bin/env bash
# verify.sh - synth -> inspect -> verify round trips, and every kind of
# finding dsck-verify must report on a broken copy (exit 4, naming the tensor
# and the shard).   $1: tools dir; $2: scratch dir
set -u
bin=$1 tmp=$2
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
bad() { n=$((n + 1)); echo "not ok $n - $*"; }
# expect_verify NAME EXIT PATTERN DIR [ARGS...]: exit code and a stdout line
expect_verify() {
	local name=$1 want=$2 pat=$3 dir=$4
	shift 4
	local out rc
	out=$("$bin/dsck-verify" "$@" "$dir" 2>&1)
	rc=$?
	if [ "$rc" -eq "$want" ] && grep -qE -- "$pat" <<<"$out"; then
		ok "$name (exit $rc)"
	else
		bad "$name: want exit $want and /$pat/, got exit $rc: $(head -c 400 <<<"$out")"
	fi
}
fresh() { rm -rf "$tmp/$1" && cp -r "$tmp/tiny" "$tmp/$1"; }
edit() { python3 "$(dirname "$0")/stedit.py" "$@"; }

"$bin/dsck-synth" --preset tiny -q -o "$tmp/tiny" >/dev/null || { bad "synth tiny"; exit 1; }
"$bin/dsck-synth" --preset tiny --dtype bf16 -q -o "$tmp/tiny-bf16" >/dev/null || { bad "synth tiny bf16"; exit 1; }

expect_verify "healthy FP8 tiny verifies" 0 "^OK" "$tmp/tiny"
expect_verify "healthy BF16 tiny verifies" 0 "^OK" "$tmp/tiny-bf16"
out=$("$bin/dsck-verify" --json "$tmp/tiny")
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["ok"] and d["checks"]["structure"]=="ok" and d["n_findings"]==0' "$out" &&
	ok "--json reports ok" || bad "--json reports ok: $out"
"$bin/dsck-verify" -q "$tmp/tiny" >"$tmp/q.out" 2>&1 && [ ! -s "$tmp/q.out" ] &&
	ok "-q prints nothing when all is well" || bad "-q prints nothing: $(cat "$tmp/q.out")"

w=model.layers.0.self_attn.q_a_proj.weight
fresh drop-scale && edit "$tmp/drop-scale" drop ${w}_scale_inv
expect_verify "FP8 weight without scale" 4 "^no_scale +$w \(model-" "$tmp/drop-scale"

fresh drop-w && edit "$tmp/drop-w" drop model.layers.1.mlp.down_proj.weight
expect_verify "missing weight; its scale is orphaned" 4 "^orphan_scale +model.layers.1.mlp.down_proj.weight_scale_inv" "$tmp/drop-w"
expect_verify "missing weight is named" 4 "^missing +model.layers.1.mlp.down_proj.weight" "$tmp/drop-w"

s=model.layers.0.self_attn.kv_b_proj.weight_scale_inv
fresh grid && shape=$(python3 -c "
import json,struct,sys,os
d=sys.argv[1]; sh=json.load(open(d+'/model.safetensors.index.json'))['weight_map'][sys.argv[2]]
f=open(os.path.join(d,sh),'rb'); n=struct.unpack('<Q',f.read(8))[0]; h=json.loads(f.read(n))
print(json.dumps(h[sys.argv[2]]['shape'][::-1]))" "$tmp/grid" $s) && edit "$tmp/grid" retype $s F32 "$shape"
expect_verify "scale grid of the wrong shape" 4 "^shape +$s .*expected \[" "$tmp/grid"

b=model.layers.2.mlp.gate.e_score_correction_bias
fresh bias && edit "$tmp/bias" retype $b BF16 "[32]"
expect_verify "router bias not F32" 4 "^dtype +$b .*expected F32" "$tmp/bias"

fresh extra && edit "$tmp/extra" add model.layers.0.self_attn.q_proj.bias F32 "[4]"
expect_verify "unexpected tensor" 4 "^unexpected +model.layers.0.self_attn.q_proj.bias" "$tmp/extra"

rm -rf "$tmp/stale" && cp -r "$tmp/tiny-bf16" "$tmp/stale" &&
	edit "$tmp/stale" config quantization_config '{"activation_scheme":"dynamic","fmt":"e4m3","quant_method":"fp8","weight_block_size":[128,128]}'
expect_verify "BF16 checkpoint with a stale quantization_config" 4 "^config .*quantization_config" "$tmp/stale"
c=$("$bin/dsck-verify" --json "$tmp/stale" | python3 -c 'import json,sys; print(json.load(sys.stdin)["n_findings"])')
[ "$c" = 1 ] && ok "stale quantization_config is one finding, not one per tensor" || bad "stale config gives $c findings"

fresh vocab && edit "$tmp/vocab" config vocab_size 2048
expect_verify "config disagrees with the tensors (CF-06)" 4 "^shape +model.embed_tokens.weight .*expected \[2048" "$tmp/vocab"

# "-": the manifest through a pipe.
"$bin/dsck-verify" --manifest-write - "$tmp/tiny" 2>/dev/null | "$bin/dsck-verify" -q --manifest - "$tmp/tiny" >"$tmp/pipe.out" 2>&1
rc=$?
[ $rc -eq 0 ] && [ ! -s "$tmp/pipe.out" ] && ok "--manifest-write - | --manifest -" || bad "manifest through a pipe: exit $rc $(cat "$tmp/pipe.out")"
"$bin/dsck-verify" --manifest-write - "$tmp/tiny" 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["dsck_manifest"]==1 and len(d["tensors"])>400' &&
	ok "--manifest-write - prints only the manifest on stdout" || bad "--manifest-write - stdout is not a clean manifest"

# Manifests: one flipped byte anywhere names the file and the tensor.
"$bin/dsck-verify" -q --manifest-write "$tmp/m.json" "$tmp/tiny" && ok "manifest written" || bad "manifest write"
expect_verify "a copy matches its manifest" 0 "" "$tmp/tiny" --manifest "$tmp/m.json"
t=model.layers.3.mlp.experts.5.up_proj.weight
fresh flip && edit "$tmp/flip" poke $t 100 ff
sh=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]+'/model.safetensors.index.json'))['weight_map'][sys.argv[2]])" "$tmp/flip" $t)
expect_verify "flipped byte: tensor named" 4 "^tensor_hash +$t \($sh\)" "$tmp/flip" --manifest "$tmp/m.json"
expect_verify "flipped byte: file named" 4 "^file_hash +$sh" "$tmp/flip" --manifest "$tmp/m.json"
expect_verify "flipped byte: model hash differs" 4 "^model_hash +model_sha256: expected [0-9a-f]{64}, found [0-9a-f]{64}" "$tmp/flip" --manifest "$tmp/m.json"
expect_verify "flipped byte: structure still fine, manifest mismatch" 4 "structure ok, manifest mismatch" "$tmp/flip" --manifest "$tmp/m.json"
fresh gone && rm "$tmp/gone/tokenizer.json"
expect_verify "missing tokenizer file named" 4 "^file_missing +tokenizer.json" "$tmp/gone" --manifest "$tmp/m.json"

# One changed byte anywhere in a shard (length prefix, header JSON, header
# padding, first/middle/last data byte): exit 4, naming the shard, and the
# tensor for data bytes. A broken header cannot be opened, so verify falls
# back to comparing the files the manifest lists.
sh2=$(ls "$tmp/tiny" | grep -m1 -- '-00002-of-')
python3 - "$tmp/tiny/$sh2" >"$tmp/positions" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
h.pop("__metadata__", None)
def owner(off):
    rel = off - 8 - n
    for k, v in h.items():
        if v["data_offsets"][0] <= rel < v["data_offsets"][1]:
            return k
    return "-"
size = len(b)
for off in (0, 3, 8, 9 + n // 2, 8 + n - 1, 8 + n, 8 + n + (size - 8 - n) // 2, size - 1):
    print(off, owner(off))
PY
while read -r off who; do
	rm -rf "$tmp/sweep" && cp -r "$tmp/tiny" "$tmp/sweep"
	python3 -c 'import sys; p, o = sys.argv[1], int(sys.argv[2]); f = open(p, "r+b"); f.seek(o); c = f.read(1); f.seek(o); f.write(bytes([c[0] ^ 0x5a]))' "$tmp/sweep/$sh2" "$off"
	pat="$sh2"
	[ "$who" != - ] && pat="^tensor_hash +$who \\($sh2\\)"
	expect_verify "changed byte at offset $off of $sh2 ($who)" 4 "$pat" "$tmp/sweep" --manifest "$tmp/m.json"
done <"$tmp/positions"

# A byte changed inside a tensor's header entry breaks the JSON there: the
# header finding names that tensor (MF-R5).
read -r hoff hname <<<"$(python3 - "$tmp/tiny/$sh2" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = b[8:8 + n].decode()
name = [k for k in json.loads(h) if k != "__metadata__"][0]
print(8 + h.index('"%s":{' % name) + len(name) + 4, name)   # the quote before "dtype"
PY
)"
rm -rf "$tmp/sweep" && cp -r "$tmp/tiny" "$tmp/sweep"
python3 -c 'import sys; p, o = sys.argv[1], int(sys.argv[2]); f = open(p, "r+b"); f.seek(o); f.write(b"#")' "$tmp/sweep/$sh2" "$hoff"
expect_verify "changed byte in the header entry of $hname: tensor named" 4 "^header +$hname \($sh2\)" "$tmp/sweep" --manifest "$tmp/m.json"

# --scan: NaN values and zero scales.
fresh nan && edit "$tmp/nan" poke model.layers.0.self_attn.o_proj.weight 7 7f && \
	edit "$tmp/nan" poke model.layers.0.mlp.up_proj.weight_scale_inv 0 00000000
expect_verify "--scan: NaN in an FP8 weight" 4 "^values +model.layers.0.self_attn.o_proj.weight .*1 NaN" "$tmp/nan" --scan
expect_verify "--scan: zero scale" 4 "^values +model.layers.0.mlp.up_proj.weight_scale_inv .*1 zero" "$tmp/nan" --scan
expect_verify "--scan: healthy tiny is clean" 0 "" "$tmp/tiny" --scan

# Usage and I/O errors.
"$bin/dsck-verify" >/dev/null 2>&1; [ $? -eq 2 ] && ok "no PATH: exit 2" || bad "no PATH exit"
"$bin/dsck-verify" --manifest a --manifest-write b x >/dev/null 2>&1; [ $? -eq 2 ] && ok "exclusive options: exit 2" || bad "exclusive options exit"
"$bin/dsck-verify" "$tmp/does-not-exist" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 3 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && ok "missing dir: exit 3, one line" || bad "missing dir: exit $rc $(cat "$tmp/err")"
"$bin/dsck-verify" --help | grep -q "^usage: dsck-verify" && ok "--help" || bad "--help"
"$bin/dsck-verify" --version | grep -qE "^dsck-verify [0-9]" && ok "--version" || bad "--version"
