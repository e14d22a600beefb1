#!/usr/bin/env bash
# inspect.sh - dsck-inspect end to end on a tiny synthetic checkpoint:
# summary, --json, --jsonl, --tensors, --stats, the optional GLOB rule, the
# three input kinds (directory, index.json, one .safetensors), exit codes
# (0 ok, 1 invalid input, 2 usage, 3 I/O), --help/--version, and clean
# pipes (no progress output when stderr is not a terminal).
#   $1: directory of the tools (build/bin); $2: scratch dir (default: mktemp)
set -u
bin=${1:?usage: inspect.sh BIN [SCRATCH]}
. "$(dirname "$0")/tap.inc"
tap_init inspect "${2:-}"
insp="$bin/dsck-inspect"
ck="$tmp/tiny"

# json_check FILE PYTHON-EXPR: the expression over d (the parsed document) is true
json_check() {
	python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" 2>/dev/null
}

rm -rf "$ck"
"$bin/dsck-synth" --preset tiny -q -o "$ck" >/dev/null 2>&1
ok $? "dsck-synth --preset tiny"

# Summary.
"$insp" "$ck" >"$tmp/sum.txt" 2>"$tmp/sum.err"
ok $? "summary exits 0"
grep -q '^shards: *5$' "$tmp/sum.txt" && grep -q '^tensors: *403$' "$tmp/sum.txt" &&
	grep -q '^layout: *FP8' "$tmp/sum.txt" && grep -q '^findings:' "$tmp/sum.txt" &&
	grep -q 'main [0-9.]*M (14,112,992)' "$tmp/sum.txt"
ok $? "summary shows shards, tensors, layout, main parameters, findings"
[ ! -s "$tmp/sum.err" ]
ok $? "summary writes nothing on stderr"

# --json.
"$insp" --json "$ck" >"$tmp/sum.json"
ok $? "--json exits 0"
json_check "$tmp/sum.json" 'all(k in d for k in ("path","family","config","shards","tensors","payload_bytes","file_bytes","header_bytes","bytes_by_dtype","params","layout","findings"))'
ok $? "--json is valid JSON with every summary key"
json_check "$tmp/sum.json" 'd["tensors"]==403 and d["shards"]==5 and d["params"]["main"]==14112992 and sum(d["bytes_by_dtype"].values())==d["payload_bytes"] and isinstance(d["payload_bytes"],int)'
ok $? "--json numbers are integers and consistent (bytes by dtype sum to the payload)"
json_check "$tmp/sum.json" 'd["config"]["model_type"]=="deepseek_v3" and d["layout"]["kind"]=="fp8" and d["config"]["auto_map"] is True and d["findings"]==[]'
ok $? "--json config, layout, auto_map noted, no findings on a healthy checkpoint"

# --tensors, text and JSON; the optional GLOB.
"$insp" --json --tensors "$ck" >"$tmp/t.json"
json_check "$tmp/t.json" 'len(d["tensor_list"])==403 and all(set(t)=={"name","dtype","shape","bytes","shard","offset"} for t in d["tensor_list"]) and sum(t["bytes"] for t in d["tensor_list"])==d["payload_bytes"]'
ok $? "--tensors before PATH takes no GLOB: all 403 tensors listed"
"$insp" --tensors 'model.layers.0.*' "$ck" >"$tmp/t1.txt"
"$insp" --tensors='model.layers.0.*' "$ck" >"$tmp/t2.txt"
cmp -s "$tmp/t1.txt" "$tmp/t2.txt" && grep -q '^NAME ' "$tmp/t1.txt" &&
	[ "$(sed -n '/^NAME /,$p' "$tmp/t1.txt" | tail -n +2 | grep -vc '^model\.layers\.0\.')" -eq 0 ] &&
	[ "$(sed -n '/^NAME /,$p' "$tmp/t1.txt" | tail -n +2 | wc -l)" -gt 5 ]
ok $? "--tensors GLOB and --tensors=GLOB select the same tensors, all matching"

# --jsonl.
"$insp" --jsonl --tensors "$ck" >"$tmp/t.jsonl"
ok $? "--jsonl --tensors exits 0"
python3 -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if len(rows)==403 and all("offset" in r for r in rows) else 1)' "$tmp/t.jsonl" 2>/dev/null
ok $? "--jsonl: 403 lines, one JSON object each, no summary"

# --stats: piped, so no progress on stderr; thread count does not matter.
"$insp" --stats 'model.layers.1.mlp.*' "$ck" >"$tmp/s.txt" 2>"$tmp/s.err"
ok $? "--stats GLOB exits 0"
grep -q '^NAME .*MEAN .*STD' "$tmp/s.txt" && grep -q 'blocks$' "$tmp/s.txt"
ok $? "--stats table with dequantized FP8 rows"
[ ! -s "$tmp/s.err" ]
ok $? "no progress output when stderr is not a terminal"
"$insp" --jsonl --stats -j 1 "$ck" >"$tmp/j1.jsonl" 2>/dev/null &&
	"$insp" --jsonl --stats -j 4 "$ck" >"$tmp/j4.jsonl" 2>/dev/null &&
	cmp -s "$tmp/j1.jsonl" "$tmp/j4.jsonl"
ok $? "--stats output identical with -j 1 and -j 4"
"$insp" --json --stats='*q_a_proj.weight' "$ck" >"$tmp/s.json"
json_check "$tmp/s.json" 'len(d["stats"])==5 and all(s["dequantized"] and s["count"]>0 and s["std"]>0 for s in d["stats"])'
ok $? "--json --stats=GLOB: stats array of the matching tensors"

# Other input kinds.
"$insp" --json "$ck/model.safetensors.index.json" >"$tmp/ix.json"
json_check "$tmp/ix.json" 'd["tensors"]==403'
ok $? "an index.json path opens the whole checkpoint"
one=$(ls "$ck"/*.safetensors | head -n 1)
"$insp" --json "$one" >"$tmp/one.json"
json_check "$tmp/one.json" 'd["shards"]==1 and d["tensors"]>0'
ok $? "a single .safetensors file opens alone"

# A header with leading whitespace is accepted and reported (ST-R6).
python3 - "$tmp/ws.safetensors" <<'PY'
import struct, sys
h = b' {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
h += b' ' * (-len(h) % 8)
open(sys.argv[1], 'wb').write(struct.pack('<Q', len(h)) + h + b'\0' * 8)
PY
"$insp" --json "$tmp/ws.safetensors" >"$tmp/ws.json"
json_check "$tmp/ws.json" 'any(f["kind"]=="leading_whitespace" for f in d["findings"])'
ok $? "leading whitespace before '{' is a finding, exit 0"

# The 671B layout, sparse: the numbers, and header-only: the bytes the
# process reads (rchar of /proc, reaped children included) are about the
# header and index bytes, never the 688 GB of data.
rm -rf "$tmp/big"
if "$bin/dsck-synth" --preset 671b --sparse -q -o "$tmp/big" >/dev/null 2>&1; then
	"$insp" "$tmp/big" >"$tmp/big.txt" 2>&1
	rc=$?
	[ "$rc" -eq 0 ] && grep -q '^shards: *163$' "$tmp/big.txt" &&
		grep -q '^tensors: *91,991$' "$tmp/big.txt" &&
		grep -q '(688,574,839,360 bytes)' "$tmp/big.txt" &&
		grep -q 'main 671.03B (671,026,419,200)' "$tmp/big.txt"
	ok $? "671b sparse: 163 shards, 91,991 tensors, 688,574,839,360 bytes, 671,026,419,200 main parameters"
	read -r rchar meta <<<"$(python3 - "$insp" "$tmp/big" <<'PY'
import os, struct, subprocess, sys
def rchar():
    for line in open("/proc/self/io"):
        if line.startswith("rchar:"):
            return int(line.split()[1])
d = sys.argv[2]
meta = os.path.getsize(os.path.join(d, "model.safetensors.index.json")) + os.path.getsize(os.path.join(d, "config.json"))
for n in os.listdir(d):
    if n.endswith(".safetensors"):
        with open(os.path.join(d, n), "rb") as f:
            meta += 8 + struct.unpack("<Q", f.read(8))[0]
before = rchar()
subprocess.run([sys.argv[1], d], stdout=subprocess.DEVNULL, check=True)
print(rchar() - before, meta)
PY
)"
	[ -n "$rchar" ] && [ "$rchar" -le $((2 * meta + 16 * 1024 * 1024)) ]
	ok $? "671b sparse summary is header-only: read $rchar bytes for $meta bytes of headers, index and config"
else
	ok 1 "dsck-synth --preset 671b --sparse"
fi
rm -rf "$tmp/big"

# Errors: one stderr line, nothing on stdout, documented exit code.
expect_error() { # expect_error CODE DESCRIPTION ARGS...
	local want=$1 what=$2
	shift 2
	"$insp" "$@" >"$tmp/e.out" 2>"$tmp/e.err"
	local rc=$?
	[ "$rc" -eq "$want" ] && [ ! -s "$tmp/e.out" ] && grep -q '^dsck-inspect: ' "$tmp/e.err"
	ok $? "$what: exit $want (got $rc)"
}
expect_error 3 "missing path" "$tmp/does-not-exist"
[ "$(wc -l <"$tmp/e.err")" -eq 1 ] && grep -q '^dsck-inspect: error: ' "$tmp/e.err"
ok $? "missing path: exactly one 'dsck-inspect: error:' line"
printf 'this is not a safetensors file at all' >"$tmp/corrupt.safetensors"
expect_error 1 "corrupt .safetensors file" "$tmp/corrupt.safetensors"
expect_error 2 "no PATH"
grep -q "try 'dsck-inspect --help'" "$tmp/e.err"
ok $? "usage error points to --help"
expect_error 2 "unknown option" --bogus "$ck"
expect_error 2 "--json with --jsonl" --json --jsonl "$ck"
expect_error 2 "bad -j" -j 0 "$ck"
expect_error 2 "two paths" "$ck" "$ck"

# --help and --version.
"$insp" --help >"$tmp/h.out" 2>"$tmp/h.err"
[ $? -eq 0 ] && grep -q '^usage: dsck-inspect' "$tmp/h.out" && grep -q 'examples' "$tmp/h.out" &&
	[ ! -s "$tmp/h.err" ]
ok $? "--help: usage with examples on stdout, exit 0"
[ "$("$insp" --version)" = "dsck-inspect 0.1.0" ]
ok $? "--version prints 'dsck-inspect 0.1.0'"

tap_end
