#!/usr/bin/env bash
# shard.sh - dsck-shard command line: usage errors, the rank counts of the
# 671B checkpoint (--plan on the sparse synthetic one: 1..16 work, 32 and 3
# are refused with the valid list), real runs on the tiny checkpoint (MP(2),
# MP -> MP, MP -> HF with --like / --merge / --max-tensors, --json,
# --progress json), bad MP inputs (a rank file missing, ranks that disagree
# on a shape, a name outside DeepSeek's MP layout), refusals and --force,
# resume after SIGKILL at fixed kill points, and a DST whose parent does not
# exist.
#   $1: directory of the tools (build/bin); $2: scratch dir (default: mktemp)
set -u
bin=${1:?usage: shard.sh BIN [SCRATCH]}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.inc"
tap_init shard "${2:-}"
shd="$bin/dsck-shard"
tool=$shd
. "$here/plan_tool.inc"

rm -rf "$tmp/tiny" "$tmp/big"
"$bin/dsck-synth" --preset tiny -q -o "$tmp/tiny" >/dev/null || { ok 1 "synth tiny"; exit 1; }
"$bin/dsck-synth" --preset 671b --sparse -q -o "$tmp/big" >/dev/null || { ok 1 "synth 671b --sparse"; exit 1; }
src="$tmp/tiny"
# Every MP(4) output is compared with this one, byte for byte.
ref="$tmp/ref4"
rm -rf "$ref"
"$shd" --mp 4 -q "$src" "$ref" >/dev/null 2>&1
ok $? "reference run --mp 4 on tiny"

# --- helpers ---------------------------------------------------------------

# refused N LIST PATTERN: the last run refused N ranks: exit 1, nothing on
# stdout, the error line (naming a tensor) matching PATTERN, then the valid
# rank counts LIST
refused() {
	[ "$rc" -eq 1 ] && [ ! -s "$tmp/out" ] && [ "$(lines "$tmp/err")" -eq 2 ] &&
		head -n1 "$tmp/err" | grep -qE -- "^dsck-shard: error: cannot split over $1 ranks: .*$3" &&
		[ "$(tail -n1 "$tmp/err")" = "valid rank counts for this checkpoint: $2" ]
}

# same_files A B: the same file names, byte for byte, and nothing else (no
# temporaries, no state file)
same_files() {
	local p
	[ "$(ls -A "$1")" = "$(ls -A "$2")" ] || return 1
	for p in "$2"/*; do
		cmp -s "$p" "$1/${p##*/}" || return 1
	done
}
# sthdr FILE: the tensor names of a safetensors file, one a line, sorted
sthdr() {
	python3 -c 'import json, struct, sys
f = open(sys.argv[1], "rb")
h = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
h.pop("__metadata__", None)
print("\n".join(sorted(h)))' "$1"
}
# mpedit FILE shape NAME SHAPE | rename NAME NEW: edit a rank file's header
# in place (the tensor bytes stay; a new shape must keep the byte count)
mpedit() {
	python3 - "$@" <<'PY'
import json, struct, sys
p, op, name = sys.argv[1], sys.argv[2], sys.argv[3]
with open(p, "rb") as f:
    h = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    data = f.read()
if op == "shape":
    h[name]["shape"] = json.loads(sys.argv[4])
else:
    h[sys.argv[4]] = h.pop(name)
t = json.dumps(h, separators=(",", ":")).encode()
t += b" " * (-len(t) % 8)
with open(p, "wb") as f:
    f.write(struct.pack("<Q", len(t)) + t + data)
PY
}
side="config.json generation_config.json tokenizer.json tokenizer_config.json"

# --- usage -----------------------------------------------------------------

run --help
[ "$rc" -eq 0 ] && grep -q '^usage: dsck-shard' "$tmp/out" && [ ! -s "$tmp/err" ]
ok $? "--help on stdout, exit 0"
run --version
[ "$rc" -eq 0 ] && [ "$(cat "$tmp/out")" = "dsck-shard 0.1.0" ]
ok $? "--version"
usage_fail "no arguments"
usage_fail "no mode" "$src" "$tmp/x"
usage_fail "both --mp and --hf" --mp 2 --hf "$src" "$tmp/x"
usage_fail "--mp 0" --mp 0 "$src" "$tmp/x"
usage_fail "--mp x" --mp x "$src" "$tmp/x"
usage_fail "--like with --mp" --mp 2 --like "$src/model.safetensors.index.json" "$src" "$tmp/x"
usage_fail "--max-tensors with --mp" --mp 2 --max-tensors 5 "$src" "$tmp/x"
usage_fail "--keep-mtp with --hf" --hf --keep-mtp "$src" "$tmp/x"
usage_fail "--merge with --max-tensors" --hf --merge --max-tensors 5 "$src" "$tmp/x"
usage_fail "--merge with --max-shard-size" --hf --merge --max-shard-size 5MB "$src" "$tmp/x"
usage_fail "--max-tensors 0" --hf --max-tensors 0 "$src" "$tmp/x"
usage_fail "bad --max-shard-size" --hf --max-shard-size 5XB "$src" "$tmp/x"
usage_fail "-j 0" --mp 2 -j 0 "$src" "$tmp/x"
usage_fail "bad --progress" --mp 2 --progress loud "$src" "$tmp/x"
usage_fail "DST missing" --mp 2 "$src"
usage_fail "three operands" --mp 2 "$src" "$tmp/x" "$tmp/y"
usage_fail "unknown option" --mp 2 --frobnicate "$src" "$tmp/x"
[ ! -e "$tmp/x" ]
ok $? "usage errors create nothing"

# --- rank counts of the 671B checkpoint (--plan) ---------------------------

big="$tmp/big"
rm -rf "$tmp/out671"
# A plan costs time in proportion to N (seconds for 16 under ASan), so
# N = 16 is planned once, as JSON, which lists its files too.
for N in 1 2 4 8; do
	run --plan --mp "$N" "$big" "$tmp/out671"
	listed=0
	for ((r = 0; r < N; r++)); do
		grep -qE "^ +model$r-mp$N\.safetensors " "$tmp/out" && listed=$((listed + 1))
	done
	[ "$rc" -eq 0 ] && [ "$listed" -eq "$N" ] &&
		[ "$(grep -cE 'model[0-9]+-mp[0-9]+\.safetensors' "$tmp/out")" -eq "$N" ] &&
		grep -qx 'valid rank counts for this checkpoint: 1, 2, 4, 8, 16' "$tmp/out"
	ok $? "671B --plan --mp $N: exit 0, lists model0..$((N - 1))-mp$N and the valid counts (exit $rc)"
done
run --plan --json --mp 16 "$big" "$tmp/out671"
[ "$rc" -eq 0 ] && python3 - "$tmp/out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ranks = [f for f in d["files"] if f["name"].startswith("model")]
ok = (sorted(f["name"] for f in ranks) == sorted("model%d-mp16.safetensors" % r for r in range(16))
      and all(f["tensors"] == 6907 and f["tensor_bytes"] == 43139382208 for f in ranks)
      and d["ranks"] == 16 and d["valid_ranks"] == [1, 2, 4, 8, 16])
sys.exit(0 if ok else 1)
PY
ok $? "671B --plan --json --mp 16: exit 0, model0..15-mp16 of 6907 tensors and 43,139,382,208 tensor bytes each, valid 1, 2, 4, 8, 16 (exit $rc)"
# 18432 dense-MLP rows are 144 blocks of 128: 32 ranks would split a block.
run --plan --mp 32 "$big" "$tmp/out671"
refused 32 "1, 2, 4, 8, 16" "tensor 'model\.layers\.0\.mlp\.(gate|up|down)_proj\.weight(_scale_inv)?': .*scale grid"
ok $? "671B --plan --mp 32: exit 1, layer 0's dense MLP and its scale grid, then the valid counts (exit $rc)"
run --plan --mp 3 "$big" "$tmp/out671"
refused 3 "1, 2, 4, 8, 16" "tensor '[^']+': "
ok $? "671B --plan --mp 3: exit 1, one reason, then the valid counts (exit $rc)"
run --plan --json --mp 32 "$big" "$tmp/out671"
refused 32 "1, 2, 4, 8, 16" "tensor '[^']+': .*scale grid"
ok $? "671B --plan --json --mp 32: the same refusal (exit $rc)"
# A refused N without --plan: the same answer, before anything is written.
run --mp 32 "$big" "$tmp/out671"
refused 32 "1, 2, 4, 8, 16" "tensor '[^']+': .*scale grid"
ok $? "671B --mp 32 (no --plan): refused the same way (exit $rc)"
[ ! -e "$tmp/out671" ]
ok $? "671B plans and refusals never create OUT"

# --- real runs on tiny -----------------------------------------------------

rm -rf "$tmp/mp2"
run --mp 2 "$src" "$tmp/mp2"
[ "$rc" -eq 0 ] && [ ! -s "$tmp/out" ] && [ "$(lines "$tmp/err")" -eq 1 ] &&
	grep -q '^dsck-shard: 2 files written' "$tmp/err"
ok $? "--mp 2: exit 0, stdout empty, one summary line (exit $rc)"
[ "$(ls -A "$tmp/mp2" | tr '\n' ' ')" = "config.json generation_config.json model0-mp2.safetensors \
model1-mp2.safetensors tokenizer.json tokenizer_config.json " ]
ok $? "--mp 2: model0-mp2, model1-mp2 and the side files, nothing else"
c=0
for f in $side; do cmp -s "$src/$f" "$tmp/mp2/$f" || c=1; done
ok $c "--mp 2: config.json and tokenizer files copied unchanged"
# MP names only, no MTP layer (layers from num_hidden_layers on dropped).
nl=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["num_hidden_layers"])' "$src/config.json")
{ sthdr "$tmp/mp2/model0-mp2.safetensors"; sthdr "$tmp/mp2/model1-mp2.safetensors"; } >"$tmp/names"
! grep -qE "^model\.|^layers\.$nl\." "$tmp/names" && grep -qx 'embed.weight' "$tmp/names" &&
	grep -qx 'layers.0.attn.wq_b.weight' "$tmp/names"
ok $? "--mp 2: DeepSeek MP names, MTP layer $nl dropped"

rm -rf "$tmp/dry"
run --plan --json --mp 2 "$src" "$tmp/dry"
[ "$rc" -eq 0 ] && python3 - "$tmp/out" "$tmp/mp2" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
real = {f: os.path.getsize(os.path.join(sys.argv[2], f)) for f in os.listdir(sys.argv[2])}
plan = {f["name"]: f["bytes"] for f in d["files"]}
sys.exit(0 if plan == real and d["valid_ranks"] == [1, 2, 4] else 1)
PY
ok $? "--plan --json --mp 2: names and sizes are those of the real output (exit $rc)"
[ ! -e "$tmp/dry" ]
ok $? "--plan --json does not create DST"

rm -rf "$tmp/j"
run --mp 2 --json "$src" "$tmp/j"
[ "$rc" -eq 0 ] && python3 -m json.tool "$tmp/out" >/dev/null && python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["files_written"] == 2 and d["files_kept"] == 0 else 1)' "$tmp/out"
ok $? "--json result parses: files_written 2, files_kept 0 (exit $rc)"
same_files "$tmp/j" "$tmp/mp2"
ok $? "--json run writes the same files"

rm -rf "$tmp/p"
run --mp 2 --progress json "$src" "$tmp/p"
[ "$rc" -eq 0 ] && [ ! -s "$tmp/out" ] && python3 - "$tmp/err" <<'PY'
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
ok = len(objs) >= 2 and all(o.get("progress") == "shard" for o in objs) and objs[-1].get("done") is True
sys.exit(0 if ok else 1)
PY
ok $? "--progress json: JSON lines on stderr, the last one done (exit $rc)"

rm -rf "$tmp/j1"
run --mp 4 -j 1 -q "$src" "$tmp/j1"
[ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ] && same_files "$tmp/j1" "$ref"
ok $? "--mp 4 -j 1 -q: silent, identical to the default-threads reference (exit $rc)"

rm -rf "$tmp/mp3"
run --mp 3 "$src" "$tmp/mp3"
refused 3 "1, 2, 4" "tensor '[^']+': .*rows"
ok $? "--mp 3 on tiny: exit 1, the reason, then the valid counts 1, 2, 4 (exit $rc)"
[ ! -e "$tmp/mp3" ]
ok $? "--mp 3 on tiny: DST not created"

# A tensor without a place in the MP layout is refused by name.
rm -rf "$tmp/foo" && cp -r "$src" "$tmp/foo" &&
	edit "$tmp/foo" add model.layers.0.self_attn.foo.weight BF16 "[4,4]"
run --plan --mp 2 "$tmp/foo" "$tmp/foo.out"
refused 2 none "tensor 'model\.layers\.0\.self_attn\.foo\.weight'"
ok $? "a tensor with no MP name: --plan refuses every N, naming it (exit $rc)"

# MP(4) -> MP(2) gives what HF -> MP(2) gives.
rm -rf "$tmp/m42"
run --mp 2 -q "$ref" "$tmp/m42"
[ "$rc" -eq 0 ] && same_files "$tmp/m42" "$tmp/mp2"
ok $? "--mp 2 from MP(4): identical to --mp 2 from HF (exit $rc)"
# --keep-mtp on an MP input whose MTP layer is gone: the files must not
# claim MTP kept (dsck.mtp "dropped"), or the run is refused.
rm -rf "$tmp/k42"
run --mp 2 --keep-mtp -q "$ref" "$tmp/k42"
if [ "$rc" -eq 0 ]; then
	python3 - "$tmp/k42" <<'PY'
import glob, json, struct, sys
for p in glob.glob(sys.argv[1] + "/model*-mp2.safetensors"):
    f = open(p, "rb")
    h = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    if h["__metadata__"].get("dsck.mtp") != "dropped":
        sys.exit(1)
PY
else
	one_error 1 "--keep-mtp|MTP"
fi
ok $? "--keep-mtp from an MP input without MTP: metadata dsck.mtp \"dropped\", or exit 1 (exit $rc)"

# HF output
rm -rf "$tmp/merge"
run --hf --merge -q "$ref" "$tmp/merge"
[ "$rc" -eq 0 ] && [ "$(cd "$tmp/merge" && ls *.safetensors)" = "model.safetensors" ]
ok $? "--hf --merge from MP(4): one model.safetensors (exit $rc)"
rm -rf "$tmp/merge"
run --hf --merge -q "$src" "$tmp/merge"
[ "$rc" -eq 0 ] && [ "$(cd "$tmp/merge" && ls *.safetensors)" = "model.safetensors" ] &&
	"$bin/dsck-verify" -q "$tmp/merge" >/dev/null 2>&1
ok $? "--hf --merge from HF: one model.safetensors that dsck-verify accepts (exit $rc)"
rm -rf "$tmp/mt"
run --hf --max-tensors 50 -q "$src" "$tmp/mt"
[ "$rc" -eq 0 ] && [ -f "$tmp/mt/model.safetensors.index.json" ] && python3 - "$tmp/mt" <<'PY'
import glob, json, re, struct, sys
fs = sorted(glob.glob(sys.argv[1] + "/*.safetensors"))
ok = len(fs) > 1 and all(re.search(r"/model-\d{5}-of-%05d\.safetensors$" % len(fs), p) for p in fs)
for p in fs:
    f = open(p, "rb")
    h = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    h.pop("__metadata__", None)
    ok = ok and 0 < len(h) <= 50
sys.exit(0 if ok else 1)
PY
ok $? "--hf --max-tensors 50: several model-XXXXX-of-YYYYY files of at most 50 tensors, an index (exit $rc)"
"$bin/dsck-verify" -q "$tmp/mt" >/dev/null 2>&1
ok $? "--hf --max-tensors 50 output verifies"

# HF -> MP(2) --keep-mtp -> HF --like the original index: the original files.
rm -rf "$tmp/k2" "$tmp/back"
"$shd" --mp 2 --keep-mtp -q "$src" "$tmp/k2" >/dev/null 2>&1
run --hf --like "$src/model.safetensors.index.json" -q "$tmp/k2" "$tmp/back"
[ "$rc" -eq 0 ] && same_files "$tmp/back" "$src"
ok $? "--keep-mtp MP(2) -> --hf --like: byte for byte the original checkpoint (exit $rc)"
# Without --keep-mtp the index lists tensors the MP files no longer have.
rm -rf "$tmp/back"
run --hf --like "$src/model.safetensors.index.json" "$tmp/mp2" "$tmp/back"
one_error 1 "tensor 'model\.layers\.$nl\.[^']+'.*--keep-mtp"
ok $? "--like an index with MTP tensors, MTP dropped: exit 1, one line naming one and --keep-mtp (exit $rc)"
[ ! -e "$tmp/back" ]
ok $? "--like refusal: DST not created"

# --- bad MP input ----------------------------------------------------------

# bad_mp NAME PATTERN DESC ARGS...: dsck-shard ARGS $tmp/NAME $tmp/NAME.out
# exits 1 with one line matching PATTERN and creates no output file
bad_mp() {
	local d=$1 pat=$2 what=$3
	shift 3
	rm -rf "$tmp/$d.out"
	run "$@" "$tmp/$d" "$tmp/$d.out"
	one_error 1 "$pat"
	ok $? "$what: exit 1, one line (exit $rc)"
	no_final "$tmp/$d.out"
	ok $? "$what: nothing under a final name"
}
fresh() { rm -rf "$tmp/${1:?}" && cp -r "$ref" "$tmp/$1"; }

# Without rank 1 the rank files are incomplete: named as missing (MP-R4).
fresh miss && rm "$tmp/miss/model1-mp4.safetensors"
bad_mp miss "miss: .*rank file .* missing .*no model1-mp4.safetensors" "MP(4) without model1-mp4 (--hf)" --hf --merge
bad_mp miss "miss: .*rank file .* missing .*no model1-mp4.safetensors" "MP(4) without model1-mp4 (--mp 2)" --mp 2

# Rank 2's slice of a row-split weight with the same bytes but another shape.
fresh shp && mpedit "$tmp/shp/model2-mp4.safetensors" shape layers.0.attn.wq_b.weight "[128,384]"
bad_mp shp "tensor '(model\.layers\.0\.self_attn\.q_b_proj|layers\.0\.attn\.wq_b)\.weight'" \
	"rank 2 with a wq_b slice of another shape (--hf)" --hf --merge
bad_mp shp "tensor '(model\.layers\.0\.self_attn\.q_b_proj|layers\.0\.attn\.wq_b)\.weight'" \
	"rank 2 with a wq_b slice of another shape (--mp 2)" --mp 2
# A replica that is not the same on every rank.
fresh rep && mpedit "$tmp/rep/model3-mp4.safetensors" shape norm.weight "[32,10]"
bad_mp rep "tensor '(model\.)?norm\.weight'" "rank 3 with a replica of another shape" --hf --merge

fresh name && mpedit "$tmp/name/model1-mp4.safetensors" rename norm.weight bogus.weight
bad_mp name "name/model1-mp4\.safetensors: tensor 'bogus\.weight': .*MP" \
	"rank 1 with a tensor name outside the MP layout" --hf --merge
fresh hfname && mpedit "$tmp/hfname/model1-mp4.safetensors" rename layers.0.attn.wq_b.weight \
	model.layers.0.self_attn.q_b_proj.weight
bad_mp hfname "hfname/model1-mp4\.safetensors: tensor 'model\.layers\.0\.self_attn\.q_b_proj\.weight'" \
	"rank 1 with an HF name among MP names" --mp 2

# --- refusals --------------------------------------------------------------

run --mp 2 "$src" "$tmp/mp2"
one_error 2 "$tmp/mp2/model0-mp2\.safetensors: .*--force"
ok $? "complete DST: exit 2 naming the file and --force (exit $rc)"
same_files "$tmp/mp2" "$tmp/j"
ok $? "complete DST: the refused run changed nothing"
run --mp 2 -q --force "$src" "$tmp/mp2"
[ "$rc" -eq 0 ] && same_files "$tmp/mp2" "$tmp/j"
ok $? "complete DST with --force: exit 0, identical output (exit $rc)"

rm -rf "$tmp/o"
kill_when "$tmp/o" model1-mp4.safetensors --mp 4 -j 1 "$src" "$tmp/o"
[ "$krc" -ne 0 ] && [ -e "$tmp/o/.dsck-shard.state" ]
ok $? "--mp 4 killed mid-run leaves a state file"
run --mp 2 "$src" "$tmp/o"
one_error 2 "--force"
ok $? "state file of other options: exit 2 mentioning --force (exit $rc)"
run --mp 4 -q --force "$src" "$tmp/o"
[ "$rc" -eq 0 ] && same_files "$tmp/o" "$ref"
ok $? "state file of other options, rerun as --mp 4: identical to the reference (exit $rc)"

# --- resume after SIGKILL --------------------------------------------------

# Fixed kill points: delays, then "once rank R is committed". A run that
# ended before its kill is checked as complete instead.
for point in 0 0.002 0.005 0.01 0.02 0.03 0.05 0.08 rank0 rank1 rank2 rank3; do
	d="$tmp/k"
	rm -rf "$d"
	case $point in
	rank*) kill_when "$d" "model${point#rank}-mp4.safetensors" --mp 4 -j 1 "$src" "$d" ;;
	*)
		"$shd" --mp 4 -j 1 "$src" "$d" >/dev/null 2>&1 &
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
		same_files "$d" "$ref"
		ok $? "kill at $point: the run had ended; output identical to the reference"
	else
		run --mp 4 -j 1 "$src" "$d"
		[ "$rc" -eq 0 ] && same_files "$d" "$ref"
		ok $? "kill at $point: rerun exit 0, identical to the reference, no temporaries or state (exit $rc)"
	fi
done

# Kept outputs: with rank 3 committed, earlier ranks are in the state file.
rm -rf "$tmp/r"
kill_when "$tmp/r" model3-mp4.safetensors --mp 4 -j 1 "$src" "$tmp/r"
run --mp 4 -j 1 "$src" "$tmp/r"
kept=$(sed -n 's/.*, \([0-9]*\) kept from the interrupted run.*/\1/p' "$tmp/err")
[ "$krc" -ne 0 ] && [ "$rc" -eq 0 ] && [ "${kept:-0}" -ge 1 ] && same_files "$tmp/r" "$ref"
ok $? "resume keeps committed ranks (${kept:-0} kept) and ends identical to the reference"

# A kept rank damaged after the kill is checked and redone.
rm -rf "$tmp/r"
kill_when "$tmp/r" model3-mp4.safetensors --mp 4 -j 1 "$src" "$tmp/r"
truncate -s -1 "$tmp/r/model0-mp4.safetensors"
run --mp 4 -j 1 "$src" "$tmp/r"
[ "$krc" -ne 0 ] && [ "$rc" -eq 0 ] && grep -q 'redone after failing their check' "$tmp/err" &&
	same_files "$tmp/r" "$ref"
ok $? "kept rank truncated after the kill: redone, identical to the reference (exit $rc)"

# --- out of disk, DST parent missing ---------------------------------------

# A file size limit makes write fail with EFBIG (SIGXFSZ ignored).
rm -rf "$tmp/fs"
(
	trap '' XFSZ
	ulimit -f 4000
	exec "$shd" --mp 2 --no-space-check "$src" "$tmp/fs"
) >"$tmp/out" 2>"$tmp/err"
rc=$?
one_error 3 "$tmp/fs/model[01]-mp2\.safetensors: "
ok $? "ulimit -f 4000: exit 3, one line naming the rank file (exit $rc)"
no_tmp "$tmp/fs" && [ ! -e "$tmp/fs/model0-mp2.safetensors" ] && [ ! -e "$tmp/fs/model1-mp2.safetensors" ]
ok $? "ulimit -f 4000: no partial rank file, no temporaries"

run --mp 2 "$src" "$tmp/no/such/dst"
one_error 3 "$tmp/no/such/dst"
ok $? "DST parent missing: exit 3, one line naming it (exit $rc)"
[ ! -e "$tmp/no" ]
ok $? "DST parent missing: nothing created"

# MF-R6: the model hash of MP(N) files (MTP kept) is the HF checkpoint's,
# through HF -> MP2 -> MP4; without the MTP layer it differs
hash_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["model_sha256"])' "$1"; }
"$bin/dsck-verify" -q --manifest-write "$tmp/h.json" "$src" >/dev/null 2>&1
for chain in "mh2 --mp 2 --keep-mtp $src" "mh4 --mp 4 --keep-mtp $tmp/mh2"; do
	# shellcheck disable=SC2086
	set -- $chain
	d=$1
	shift
	rm -rf "$tmp/$d"
	"$shd" -q "$@" "$tmp/$d" >/dev/null 2>&1 &&
		"$bin/dsck-verify" -q --manifest-write "$tmp/$d.json" "$tmp/$d" >/dev/null 2>&1 &&
		[ "$(hash_of "$tmp/$d.json")" = "$(hash_of "$tmp/h.json")" ]
	ok $? "model hash of $d (MP, MTP kept) equals the HF checkpoint's"
done
"$bin/dsck-verify" -q --manifest "$tmp/mh4.json" "$tmp/mh4" >/dev/null 2>&1
ok $? "dsck-verify --manifest on MP files: exit 0"
"$bin/dsck-verify" "$tmp/mh4" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q -- "--manifest or --scan" "$tmp/err"
ok $? "dsck-verify structure check on MP files: refused with the way out"

tap_end
