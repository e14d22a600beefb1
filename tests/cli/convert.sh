#!/usr/bin/env bash
# convert.sh - dsck-convert command line on the tiny FP8 checkpoint: usage
# errors, --dry-run (text and JSON), a real --to bf16 run that dsck-verify
# accepts, --json / --progress json / --max-shard-size / --only / --exclude,
# bad inputs (exit 1, one line, no final-named output), refusals (complete
# DST, a state file of other options), resume after SIGKILL at fixed kill
# points (outputs identical to a reference conversion, kept outputs checked
# and redone when damaged), out of disk (tmpfs, else ulimit -f), and a DST
# whose parent does not exist.
#   $1: directory of the tools (build/bin); $2: scratch dir (default: mktemp)
set -u
bin=${1:?usage: convert.sh BIN [SCRATCH]}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.inc"
tap_init convert "${2:-}"
cv="$bin/dsck-convert"
tool=$cv
. "$here/plan_tool.inc"

mnt="$tmp/mnt"
mounted=0
cleanup() { [ "$mounted" -eq 1 ] && umount "$mnt" 2>/dev/null && mounted=0; }
trap cleanup EXIT

"$bin/dsck-synth" --preset tiny -q -o "$tmp/tiny" >/dev/null || { ok 1 "synth tiny"; exit 1; }
src="$tmp/tiny"
ref="$tmp/ref"
# The reference every other bf16 conversion is compared with, byte for byte.
rm -rf "$ref"
"$cv" --to bf16 -q "$src" "$ref" >/dev/null 2>&1
ok $? "reference conversion --to bf16"

# --- helpers ---------------------------------------------------------------

# same_as_ref DIR: the same files as the reference, byte for byte, and
# nothing else (no temporaries, no state file)
same_as_ref() {
	[ "$(ls -A "$1")" = "$(ls -A "$ref")" ] && finals_complete "$1"
}
shard() { printf 'model-%05d-of-00005.safetensors' "$1"; }
# flip FILE OFFSET: xor one byte (negative OFFSET counts from the end)
flip() {
	python3 -c 'import sys
f = open(sys.argv[1], "r+b"); o = int(sys.argv[2])
f.seek(o, 0 if o >= 0 else 2); c = f.read(1); f.seek(-1, 1); f.write(bytes([c[0] ^ 0x5a]))' "$1" "$2"
}

# --- usage -----------------------------------------------------------------

run --help
[ "$rc" -eq 0 ] && grep -q '^usage: dsck-convert' "$tmp/out" && [ ! -s "$tmp/err" ]
ok $? "--help on stdout, exit 0"
run --version
[ "$rc" -eq 0 ] && [ "$(cat "$tmp/out")" = "dsck-convert 0.1.0" ]
ok $? "--version"
usage_fail "no arguments"
usage_fail "no --to" "$src" "$tmp/x"
usage_fail "bad --to" --to int4 "$src" "$tmp/x"
usage_fail "--scale-fmt without --to fp8" --to bf16 --scale-fmt ue8m0 "$src" "$tmp/x"
usage_fail "bad --scale-fmt" --to fp8 --scale-fmt e8 "$src" "$tmp/x"
usage_fail "unknown option" --to bf16 --frobnicate "$src" "$tmp/x"
usage_fail "bad --max-shard-size" --to bf16 --max-shard-size 5XB "$src" "$tmp/x"
usage_fail "--max-shard-size 0" --to bf16 --max-shard-size 0 "$src" "$tmp/x"
usage_fail "-j 0" --to bf16 -j 0 "$src" "$tmp/x"
usage_fail "bad --progress" --to bf16 --progress loud "$src" "$tmp/x"
usage_fail "DST missing" --to bf16 "$src"
usage_fail "three operands" --to bf16 "$src" "$tmp/x" "$tmp/y"
[ ! -e "$tmp/x" ]
ok $? "usage errors create nothing"

# --- dry run ---------------------------------------------------------------

rm -rf "$tmp/dry"
run --to bf16 --dry-run "$src" "$tmp/dry"
rc_dry=$rc
missing=0
for p in "$ref"/*; do grep -qF "${p##*/}" "$tmp/out" || missing=1; done
[ "$rc_dry" -eq 0 ] && [ "$missing" -eq 0 ]
ok $? "--dry-run: exit 0, every output file listed"
[ ! -e "$tmp/dry" ]
ok $? "--dry-run does not create DST"
run --to bf16 -n --json "$src" "$tmp/dry"
[ "$rc" -eq 0 ] && python3 -m json.tool "$tmp/out" >/dev/null
ok $? "--dry-run --json parses"
# Planned names and sizes are those of the real conversion.
python3 - "$tmp/out" "$ref" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
real = {f: os.path.getsize(os.path.join(sys.argv[2], f)) for f in os.listdir(sys.argv[2])}
plan = {f["name"]: f["bytes"] for f in d["files"]}
sys.exit(0 if plan == real and d["output_bytes"] == sum(real.values()) else 1)
PY
ok $? "--dry-run --json: files, sizes and output_bytes match the real output"
[ ! -e "$tmp/dry" ]
ok $? "--dry-run --json does not create DST"

# --- real runs -------------------------------------------------------------

rm -rf "$tmp/b"
run --to bf16 -j 1 "$src" "$tmp/b"
[ "$rc" -eq 0 ] && [ ! -s "$tmp/out" ] && [ "$(lines "$tmp/err")" -eq 1 ] &&
	grep -q '^dsck-convert: 5 files written' "$tmp/err"
ok $? "--to bf16: exit 0, stdout empty, one summary line (exit $rc)"
"$bin/dsck-verify" -q "$tmp/b" >/dev/null 2>&1
ok $? "dsck-verify accepts the bf16 output"
same_as_ref "$tmp/b"
ok $? "-j 1 output identical to the default-threads reference; no dot-files left"
python3 - "$tmp/b" <<'PY'
import json, sys
c = json.load(open(sys.argv[1] + "/config.json"))
sys.exit(0 if "quantization_config" not in c and c.get("torch_dtype") == "bfloat16" else 1)
PY
ok $? "config.json: no quantization_config, torch_dtype bfloat16"

rm -rf "$tmp/j"
run --to bf16 --json "$src" "$tmp/j"
[ "$rc" -eq 0 ] && python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["files_written"] == 5 and d["files_kept"] == 0 else 1)' "$tmp/out"
ok $? "--json result parses: files_written 5, files_kept 0"

rm -rf "$tmp/p"
run --to bf16 --progress json "$src" "$tmp/p"
[ "$rc" -eq 0 ] && [ ! -s "$tmp/out" ] && python3 - "$tmp/err" <<'PY'
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
ok = len(objs) >= 2 and all(o.get("progress") == "convert" for o in objs) and objs[-1].get("done") is True
sys.exit(0 if ok else 1)
PY
ok $? "--progress json: JSON lines on stderr, the last one done"

rm -rf "$tmp/m"
run --to bf16 -q --max-shard-size 5MB "$src" "$tmp/m"
n_m=0
for p in "$tmp"/m/model-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9].safetensors; do
	[ -e "$p" ] && n_m=$((n_m + 1))
done
[ "$rc" -eq 0 ] && [ "$n_m" -gt 5 ] && [ -f "$tmp/m/$(printf 'model-%05d-of-%05d.safetensors' "$n_m" "$n_m")" ]
ok $? "--max-shard-size 5MB: $n_m shards model-XXXXX-of-YYYYY"
"$bin/dsck-verify" -q "$tmp/m" >/dev/null 2>&1
ok $? "--max-shard-size output verifies"
# Tensor data of each shard stays within 5 MB (the header comes on top).
python3 - "$tmp/m" <<'PY'
import glob, os, struct, sys
for p in glob.glob(sys.argv[1] + "/*.safetensors"):
    n = struct.unpack("<Q", open(p, "rb").read(8))[0]
    if os.path.getsize(p) - 8 - n > 5000000:
        sys.exit(1)
PY
ok $? "--max-shard-size 5MB: no shard holds more than 5 MB of tensor data"

# only_check DIR MODE: compare dtypes with the source: FP8 weights matching
# '*.mlp.*' are converted (MODE only) or kept with their scales (MODE exclude),
# the others the reverse; everything else keeps its dtype.
only_check() {
	"$bin/dsck-inspect" --jsonl "$src" >"$tmp/src.jsonl" &&
		"$bin/dsck-inspect" --jsonl "$1" >"$tmp/dst.jsonl" &&
		python3 - "$tmp/src.jsonl" "$tmp/dst.jsonl" "$2" <<'PY'
import json, sys
a = {t["name"]: t["dtype"] for t in map(json.loads, open(sys.argv[1]))}
b = {t["name"]: t["dtype"] for t in map(json.loads, open(sys.argv[2]))}
only = sys.argv[3] == "only"
want = {}
for n, dt in a.items():
    base = n[:-len("_scale_inv")] if n.endswith("_scale_inv") else n
    conv = (".mlp." in base) == only
    if n.endswith("_scale_inv"):
        if not conv:
            want[n] = dt
    else:
        want[n] = "BF16" if conv and dt == "F8_E4M3" else dt
# both kinds remain: the glob split the checkpoint
sys.exit(0 if b == want and {"F8_E4M3", "BF16"} <= set(b.values()) else 1)
PY
}
rm -rf "$tmp/only"
run --to bf16 -q --only '*.mlp.*' "$src" "$tmp/only"
[ "$rc" -eq 0 ] && only_check "$tmp/only" only
ok $? "--only '*.mlp.*': MLP weights BF16 without scales, the rest stays FP8 with scales"
rm -rf "$tmp/excl"
run --to bf16 -q --exclude '*.mlp.*' "$src" "$tmp/excl"
[ "$rc" -eq 0 ] && only_check "$tmp/excl" exclude
ok $? "--exclude '*.mlp.*': MLP weights stay FP8 with scales, the rest BF16"

# --- bad inputs ------------------------------------------------------------

fresh() { rm -rf "$tmp/${1:?}" "$tmp/$1.out" && cp -r "$src" "$tmp/$1"; }
# bad_input NAME PATTERN DESC: convert $tmp/NAME: exit 1, one line matching
# PATTERN, nothing under a final name in the output (PL-R3, CV-R2: bad
# scales and grids are found before anything is written)
bad_input() {
	run --to bf16 "$tmp/$1" "$tmp/$1.out"
	one_error 1 "$2"
	ok $? "$3: exit 1, one line naming it (exit $rc)"
	no_final "$tmp/$1.out"
	ok $? "$3: nothing under a final name, no temporaries in DST"
}
w=model.layers.0.self_attn.q_a_proj.weight
sh1=$(shard 1)
fresh noscale && edit "$tmp/noscale" drop ${w}_scale_inv
bad_input noscale "noscale/$sh1: tensor '$w': .*${w}_scale_inv" "FP8 weight without its scale"

s=model.layers.0.self_attn.kv_b_proj.weight_scale_inv
fresh grid && edit "$tmp/grid" retype $s F32 "[2, 8]"
bad_input grid "grid/$sh1: tensor '$s': .*expected F32 \[8, 2\].*found F32 \[2, 8\]" "scale grid of the wrong shape"

# Scale values: the error gives the file offset of the bad F32.
soff=$("$bin/dsck-inspect" --jsonl --tensors "${w}_scale_inv" "$src" | python3 -c 'import json,sys; print(json.load(sys.stdin)["offset"])')
# NAME BYTE-INDEX F32-BYTES
for v in "nan 4 0000c07f" "inf 8 0000807f" "zero 20 00000000" "negative 0 000080bf"; do
	read -r what at hex <<<"$v"
	fresh "s$what" && edit "$tmp/s$what" poke ${w}_scale_inv "$at" "$hex"
	bad_input "s$what" "s$what/$sh1: tensor '${w}_scale_inv': byte $((soff + at)): .*scale" "$what scale"
done

# A bad scale in the last shard: found by the scale check before any output
# exists (PL-R3), so DST is not even created.
e=model.layers.4.mlp.experts.15.down_proj.weight_scale_inv
fresh late && edit "$tmp/late" poke $e 0 0000c07f
run --to bf16 "$tmp/late" "$tmp/late.out"
one_error 1 "late/$(shard 5): tensor '$e': byte [0-9]+: "
ok $? "NaN scale in the last shard: exit 1, one line (exit $rc)"
[ ! -e "$tmp/late.out" ]
ok $? "NaN scale in the last shard: DST not created"

sh3=$(shard 3)
fresh trunc && truncate -s -1000 "$tmp/trunc/$sh3"
run --to bf16 "$tmp/trunc" "$tmp/trunc.out"
one_error 1 "trunc/$sh3: byte [0-9]+: .*truncated"
ok $? "truncated shard: exit 1, one line naming it (exit $rc)"
[ ! -e "$tmp/trunc.out" ]
ok $? "truncated shard: DST not created"

# A weight and its scale in different shards: converted as usual; the scale
# is dropped, so the output is the reference itself.
fresh split && python3 - "$tmp/split" ${w}_scale_inv <<'PY'
import json, os, struct, sys
d, name = sys.argv[1], sys.argv[2]
def load(p):
    with open(p, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        data = f.read()
    meta = h.pop("__metadata__", None)
    items = sorted(h.items(), key=lambda kv: kv[1]["data_offsets"][0])
    return meta, [(k, v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in items]
def save(p, meta, ts):
    h = {} if meta is None else {"__metadata__": meta}
    off = 0
    for k, dt, sh, b in ts:
        h[k] = {"dtype": dt, "shape": sh, "data_offsets": [off, off + len(b)]}
        off += len(b)
    t = json.dumps(h, separators=(",", ":")).encode()
    t += b" " * (-len(t) % 8)
    with open(p, "wb") as f:
        f.write(struct.pack("<Q", len(t)) + t + b"".join(x[3] for x in ts))
ip = os.path.join(d, "model.safetensors.index.json")
idx = json.load(open(ip))
a = idx["weight_map"][name]
b = sorted(set(idx["weight_map"].values()) - {a})[-1]
ma, ta = load(os.path.join(d, a))
mb, tb = load(os.path.join(d, b))
save(os.path.join(d, a), ma, [x for x in ta if x[0] != name])
save(os.path.join(d, b), mb, tb + [x for x in ta if x[0] == name])
idx["weight_map"][name] = b
json.dump(idx, open(ip, "w"), indent=2, sort_keys=True)
PY
run --to bf16 -q "$tmp/split" "$tmp/split.out"
[ "$rc" -eq 0 ] && "$bin/dsck-verify" -q "$tmp/split.out" >/dev/null 2>&1
ok $? "weight and scale in different shards: converts and verifies (exit $rc)"
same_as_ref "$tmp/split.out"
ok $? "weight and scale in different shards: output identical to the reference"

# --- refusals --------------------------------------------------------------

run --to bf16 "$src" "$tmp/b"
one_error 2 "$sh1.*--force"
ok $? "complete DST: exit 2 naming the file and --force (exit $rc)"
# The clashing output is a file of DST, not a tensor.
grep -qF "$tmp/b/$sh1" "$tmp/err"
ok $? "complete DST: the error names DST/$sh1 as a file"
same_as_ref "$tmp/b"
ok $? "complete DST: the refused run changed nothing"
run --to bf16 -q --force "$src" "$tmp/b"
[ "$rc" -eq 0 ] && same_as_ref "$tmp/b"
ok $? "complete DST with --force: exit 0, identical output (exit $rc)"

rm -rf "$tmp/o"
kill_when "$tmp/o" "$(shard 2)" --to f16 -j 1 "$src" "$tmp/o"
[ "$krc" -ne 0 ] && [ -e "$tmp/o/.dsck-convert.state" ]
ok $? "--to f16 killed mid-run leaves a state file"
run --to bf16 "$src" "$tmp/o"
one_error 2 "--force"
ok $? "state file of other options: exit 2 mentioning --force (exit $rc)"
run --to bf16 -q --force "$src" "$tmp/o"
[ "$rc" -eq 0 ] && same_as_ref "$tmp/o"
ok $? "state file of other options with --force: exit 0, identical to the reference (exit $rc)"

# --- resume after SIGKILL --------------------------------------------------

# Fixed kill points: delays, then "once shard K is committed". A run that
# ended before its kill is checked as complete instead.
for point in 0 0.002 0.005 0.01 0.02 0.03 0.05 0.08 shard1 shard2 shard3 shard4 shard5; do
	d="$tmp/k"
	rm -rf "$d"
	case $point in
	shard*) kill_when "$d" "$(shard "${point#shard}")" --to bf16 -j 1 "$src" "$d" ;;
	*)
		"$cv" --to bf16 -j 1 "$src" "$d" >/dev/null 2>&1 &
		pid=$!
		sleep "$point"
		kill -9 "$pid" 2>/dev/null
		{ wait "$pid"; } 2>/dev/null
		krc=$?
		;;
	esac
	finals_complete "$d"
	ok $? "kill at $point: every final-named file is complete (cmp reference)"
	if [ "$krc" -eq 0 ]; then
		same_as_ref "$d"
		ok $? "kill at $point: the run had ended; output identical to the reference"
	else
		run --to bf16 -j 1 "$src" "$d"
		[ "$rc" -eq 0 ] && same_as_ref "$d"
		ok $? "kill at $point: rerun exit 0, identical to the reference, no temporaries or state (exit $rc)"
	fi
done

# Kept outputs: with shard 3 committed, shards 1 and 2 are in the state file.
rm -rf "$tmp/r"
kill_when "$tmp/r" "$(shard 3)" --to bf16 -j 1 "$src" "$tmp/r"
run --to bf16 -j 1 "$src" "$tmp/r"
kept=$(sed -n 's/.*, \([0-9]*\) kept from the interrupted run.*/\1/p' "$tmp/err")
[ "$krc" -ne 0 ] && [ "$rc" -eq 0 ] && [ "${kept:-0}" -ge 1 ] && same_as_ref "$tmp/r"
ok $? "resume keeps committed outputs (${kept:-0} kept) and ends identical to the reference"

# A kept output damaged after the kill is checked and redone.
for dmg in "data byte" "header byte" "truncated" "appended"; do
	rm -rf "$tmp/r"
	kill_when "$tmp/r" "$(shard 3)" --to bf16 -j 1 "$src" "$tmp/r"
	f="$tmp/r/$sh1"
	case $dmg in
	"data byte") flip "$f" -12345 ;;
	"header byte") flip "$f" 40 ;;
	truncated) truncate -s -1 "$f" ;;
	appended) printf x >>"$f" ;;
	esac
	run --to bf16 -j 1 "$src" "$tmp/r"
	[ "$krc" -ne 0 ] && [ "$rc" -eq 0 ] && grep -q 'redone after failing their check' "$tmp/err" &&
		same_as_ref "$tmp/r"
	ok $? "kept output with a $dmg: redone, output identical to the reference (exit $rc)"
done

# --- out of disk -----------------------------------------------------------

mkdir -p "$mnt"
if mount -t tmpfs -o size=20m tmpfs "$mnt" 2>/dev/null; then
	mounted=1
	# 38 MB of output on a 20 MB filesystem.
	run --to bf16 "$src" "$mnt/a"
	one_error 3 "disk space"
	ok $? "tmpfs 20 MB: the preflight refuses, exit 3, one line (exit $rc)"
	no_final "$mnt/a"
	ok $? "tmpfs 20 MB: nothing under a final name"
	run --to bf16 --no-space-check "$src" "$mnt/b"
	one_error 3 "$mnt/b/model-[0-9]{5}-of-00005\.safetensors: .*(space|No space left)"
	ok $? "--no-space-check on tmpfs 20 MB: ENOSPC, exit 3, one line naming the file (exit $rc)"
	finals_complete "$mnt/b" && no_tmp "$mnt/b" && [ ! -e "$mnt/b/config.json" ]
	ok $? "--no-space-check on tmpfs 20 MB: no partial final-named file, no temporaries"
	# More room: the same command resumes.
	rm -rf "$mnt/a"
	if mount -o remount,size=60m "$mnt" 2>/dev/null; then
		run --to bf16 --no-space-check "$src" "$mnt/b"
		[ "$rc" -eq 0 ] && same_as_ref "$mnt/b"
		ok $? "after growing the filesystem the rerun completes identical to the reference (exit $rc)"
	else
		echo "# SKIP tmpfs remount not permitted"
	fi
	umount "$mnt" && mounted=0
else
	echo "# SKIP tmpfs out-of-disk checks: mount not permitted"
fi

# Fallback that needs no privilege: a file size limit makes write fail with
# EFBIG (SIGXFSZ ignored).
rm -rf "$tmp/fs"
(
	trap '' XFSZ
	ulimit -f 4000
	exec "$cv" --to bf16 --no-space-check "$src" "$tmp/fs"
) >"$tmp/out" 2>"$tmp/err"
rc=$?
one_error 3 "$tmp/fs/model-[0-9]{5}-of-00005\.safetensors: .*(too large|File too large)"
ok $? "ulimit -f 4000: exit 3, one line naming the file (exit $rc)"
finals_complete "$tmp/fs" && no_tmp "$tmp/fs"
ok $? "ulimit -f 4000: no partial final-named file, no temporaries"

# --- DST whose parent does not exist ---------------------------------------

run --to bf16 "$src" "$tmp/no/such/dst"
one_error 3 "$tmp/no/such/dst"
ok $? "DST parent missing: exit 3, one line naming it (exit $rc)"
[ ! -e "$tmp/no" ]
ok $? "DST parent missing: nothing created"

cleanup
tap_end
