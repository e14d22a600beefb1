#!/usr/bin/env bash
# synth.sh - dsck-synth command line: --help/--version, the summary and
# --json on stdout, -q, exit codes (0 ok, 1 invalid input, 2 usage, 3 I/O)
# with exactly one "dsck-synth: error: ..." line on stderr, the refusals
# (non-empty directory, 671b without --sparse), overrides re-validated, no
# progress output when stderr is not a terminal, and --planted (SY-R8):
# verified, reproducible, equal to its BF16 form after dsck-convert, and,
# when dsck-run is built, greedy generation that continues the alphabet,
# kept by the conversion and lost in a copy with damaged scales.
#   $1: directory of the tools (build/bin); $2: scratch dir (default: mktemp)
set -u
bin=${1:?usage: synth.sh BIN [SCRATCH]}
. "$(dirname "$0")/tap.inc"
tap_init synth "${2:-}"
syn="$bin/dsck-synth"

# expect_fail CODE DESCRIPTION ARGS...: exit CODE, nothing on stdout, one
# stderr line starting "dsck-synth: error: "
expect_fail() {
	local code=$1 what=$2
	shift 2
	"$syn" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	[ "$rc" -eq "$code" ] && [ ! -s "$tmp/out" ] &&
		[ "$(wc -l <"$tmp/err")" -eq 1 ] &&
		grep -q '^dsck-synth: error: ' "$tmp/err"
	ok $? "$what (exit $rc, want $code)"
}

"$syn" --help >"$tmp/out" 2>"$tmp/err"
[ $? -eq 0 ] && grep -q '^usage: dsck-synth' "$tmp/out" && [ ! -s "$tmp/err" ]
ok $? "--help on stdout, exit 0"
[ "$("$syn" --version)" = "dsck-synth 0.1.0" ]
ok $? "--version"

rm -rf "$tmp/t"
"$syn" --preset tiny -o "$tmp/t" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 0 ] && [ ! -s "$tmp/err" ] && [ "$(wc -l <"$tmp/out")" -eq 1 ] &&
	grep -q '403 tensors' "$tmp/out"
ok $? "tiny: one summary line, silent stderr when not a terminal"
[ "$(ls "$tmp/t" | wc -l)" -eq 10 ] && [ -f "$tmp/t/model-00005-of-00005.safetensors" ]
ok $? "SY-R1 ten files, model-00005-of-00005"
ls -A "$tmp/t" | grep -q 'dsck-tmp'
[ $? -ne 0 ]
ok $? "W-R1 no temporary files left"

rm -rf "$tmp/q"
out=$("$syn" --preset tiny -q -o "$tmp/q" 2>&1)
[ $? -eq 0 ] && [ -z "$out" ]
ok $? "-q prints nothing"

rm -rf "$tmp/j"
"$syn" --preset tiny --dtype bf16 --json -o "$tmp/j" >"$tmp/out" 2>/dev/null
[ $? -eq 0 ] && python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
sys.exit(0 if d["files"]==10 and d["dtype"]=="bf16" and d["tensors"]==219 and d["bytes"]>0 else 1)' "$tmp/out"
ok $? "--json summary: files, tensors, bytes"

rm -rf "$tmp/def"
mkdir -p "$tmp/def"
(cd "$tmp/def" && "$syn" --preset tiny -q) && [ -f "$tmp/def/synth-tiny/config.json" ]
ok $? "default output ./synth-tiny"

expect_fail 2 "no preset" -o "$tmp/x"
expect_fail 2 "unknown preset" --preset huge -o "$tmp/x"
expect_fail 2 "unknown option" --preset tiny --frobnicate
expect_fail 2 "bad --dtype" --preset tiny --dtype fp4 -o "$tmp/x"
expect_fail 2 "bad --seed" --preset tiny --seed x1 -o "$tmp/x"
expect_fail 2 "--preset with --config" --preset tiny --config "$tmp/t/config.json"
expect_fail 2 "non-empty directory without --force" --preset tiny -o "$tmp/t"
"$syn" --preset tiny -q --force -o "$tmp/t"
ok $? "--force writes into a non-empty directory"
expect_fail 1 "--experts 6: n_group 4 must divide it" --preset tiny --experts 6 -o "$tmp/x"
grep -q "n_group" "$tmp/err"
ok $? "the error names n_group"
expect_fail 2 "671b without --sparse refused" --preset 671b -o "$tmp/x"
grep -q "688574839360 bytes" "$tmp/err"
ok $? "the refusal says how much it would write"
[ ! -e "$tmp/x" ]
ok $? "refusals create nothing"
expect_fail 3 "missing --config file" --config "$tmp/nope.json" -o "$tmp/x"
printf '{"model_type": "deepseek_v3"' >"$tmp/bad.json"
expect_fail 1 "invalid --config JSON" --config "$tmp/bad.json" -o "$tmp/x"

rm -rf "$tmp/c"
"$syn" --config "$tmp/t/config.json" --layers 3 -q -o "$tmp/c" &&
	python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
sys.exit(0 if d["num_hidden_layers"]==3 and "quantization_config" in d else 1)' "$tmp/c/config.json"
ok $? "--config FILE with --layers 3"

rm -rf "$tmp/s"
start=$(date +%s)
"$syn" --preset 671b --sparse -q -o "$tmp/s"
rc=$?
end=$(date +%s)
[ $rc -eq 0 ] && [ "$(ls "$tmp/s"/model-*-of-000163.safetensors | wc -l)" -eq 163 ]
ok $? "671b --sparse: 163 shards -of-000163"
[ $((end - start)) -lt 30 ]
ok $? "671b --sparse in seconds ($((end - start)) s)"
alloc=$(du -sk "$tmp/s" | cut -f1)
[ "$alloc" -lt 262144 ]
ok $? "SY-R4 sparse: ${alloc} KiB on disk"

# --planted (SY-R8)
rm -rf "$tmp/pl" "$tmp/pl2" "$tmp/plb" "$tmp/plc"
"$syn" --planted -o "$tmp/pl" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 0 ] && [ ! -s "$tmp/err" ] && grep -q '403 tensors.*fp8, planted$' "$tmp/out"
ok $? "--planted: the tiny layout in FP8, summary says planted"
"$bin/dsck-verify" "$tmp/pl" >/dev/null 2>&1
ok $? "--planted: dsck-verify accepts it"
expect_fail 2 "--planted with --sparse refused" --planted --sparse -o "$tmp/x"
python3 -c 'import json,sys
c = json.load(open(sys.argv[1])); c["tie_word_embeddings"] = True
json.dump(c, open(sys.argv[2], "w"))' "$tmp/pl/config.json" "$tmp/tied.json"
expect_fail 1 "--planted with tied embeddings refused" --planted --config "$tmp/tied.json" -o "$tmp/x"
grep -q "tie_word_embeddings" "$tmp/err" && [ ! -e "$tmp/x" ]
ok $? "the refusal names tie_word_embeddings and creates nothing"
"$syn" --planted -q -o "$tmp/pl2" &&
	"$bin/dsck-verify" -q --manifest-write "$tmp/pl.manifest" "$tmp/pl" >/dev/null 2>&1 &&
	"$bin/dsck-verify" -q --manifest "$tmp/pl.manifest" "$tmp/pl2" >/dev/null 2>&1
ok $? "SY-R2 --planted written twice: the same bytes"
"$syn" --planted --dtype bf16 -q -o "$tmp/plb" &&
	"$bin/dsck-verify" "$tmp/plb" >/dev/null 2>&1
ok $? "--planted --dtype bf16 verifies"
rm -rf "$tmp/plj"
"$syn" --planted --json -o "$tmp/plj" >"$tmp/out" 2>/dev/null &&
	python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["planted"] is True and d["dtype"] == "fp8" and d["tensors"] == 403 else 1)' "$tmp/out"
ok $? "--planted --json: \"planted\": true"
"$bin/dsck-convert" --to bf16 -q "$tmp/pl" "$tmp/plc" &&
	"$bin/dsck-verify" -q --manifest-write "$tmp/plb.manifest" "$tmp/plb" >/dev/null 2>&1 &&
	"$bin/dsck-verify" -q --manifest-write "$tmp/plc.manifest" "$tmp/plc" >/dev/null 2>&1 &&
	python3 -c 'import json,sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
sys.exit(0 if a["model_sha256"] == b["model_sha256"] else 1)' "$tmp/plb.manifest" "$tmp/plc.manifest"
ok $? "SY-R8 --planted converted to bf16 = --planted --dtype bf16 (model hash)"

# scale_times DIR TENSOR...: multiply every F32 value of each tensor by 2^20
# in place (a conversion that lost the scales' exponent)
scale_times() {
	python3 - "$@" <<'PY'
import glob, json, os, struct, sys
d, names = sys.argv[1], set(sys.argv[2:])
hit = 0
for f in sorted(glob.glob(os.path.join(d, "*.safetensors"))):
    with open(f, "r+b") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        h = json.loads(fh.read(n))
        for name, t in h.items():
            if name not in names or t["dtype"] != "F32":
                continue
            a, b = t["data_offsets"]
            fh.seek(8 + n + a)
            v = struct.unpack("<%df" % ((b - a) // 4), fh.read(b - a))
            fh.seek(8 + n + a)
            fh.write(struct.pack("<%df" % len(v), *[x * 2.0 ** 20 for x in v]))
            hit += 1
sys.exit(0 if hit == len(names) else 1)
PY
}

run="$bin/dsck-run"
want=pqrstuvwxyzabcdefghijklmnopqrs
if [ -x "$run" ]; then
	for attn in naive absorb; do
		got=$("$run" generate -m "$tmp/pl" -p hello -n 30 -q --attn "$attn" 2>"$tmp/err")
		[ "$got" = "$want" ]
		ok $? "planted, --attn $attn: 'hello' -> '$got'"
	done
	got=$(for p in zebra 'Hi!' 'The quick brown fox' x; do
		"$run" generate -m "$tmp/pl" -p "$p" -n 8 -q 2>/dev/null; done | tr '\n' ' ')
	[ "$got" = "bcdefghi abcdefgh yzabcdef yzabcdef " ]
	ok $? "planted: 'zebra', 'Hi!', 'The quick brown fox', 'x' -> '$got'"
	got=$("$run" generate -m "$tmp/plc" -p hello -n 30 -q --attn naive 2>/dev/null)/$("$run" generate -m "$tmp/plc" -p hello -n 30 -q 2>/dev/null)
	[ "$got" = "$want/$want" ]
	ok $? "planted after dsck-convert --to bf16: the same continuation"
	rm -rf "$tmp/plx"
	cp -r "$tmp/pl" "$tmp/plx" &&
		scale_times "$tmp/plx" model.layers.0.mlp.down_proj.weight_scale_inv \
			model.layers.0.self_attn.o_proj.weight_scale_inv &&
		"$bin/dsck-verify" "$tmp/plx" >/dev/null 2>&1
	ok $? "planted with layer 0's o_proj and down_proj scales x 2^20: structure still verifies"
	got=$("$run" generate -m "$tmp/plx" -p hello -n 30 -q 2>/dev/null)
	[ -n "$got" ] && [ "$got" != "$want" ]
	ok $? "... but generation breaks: 'hello' -> '$got'"
else
	echo "# SKIP planted generation: no $run"
fi

echo "1..$n"
tap_end
