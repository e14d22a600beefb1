#!/usr/bin/env bash
# inspect.sh - header-only inspection of the 671B layout.
#
# Writes `dsck-synth --preset 671b --sparse` (163 shards of file holes,
# ~689 GB apparent, no disk), then times `dsck-inspect --json` on it and a
# Python safetensors safe_open loop over the same 163 files in the same run,
# and counts the bytes each reads (read_bytes of /proc/PID/io, so page-cache
# hits count too via rchar). Prints the ratio.
#   bench/inspect.sh [BUILD]  (default build/)
set -eu
bin=${1:-build}/bin
work=$(mktemp -d "${TMPDIR:-/tmp}/dsck-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$bin/dsck-synth" --preset 671b --sparse -q -o "$work/671b" >/dev/null

header_bytes=$(python3 - "$work/671b" <<'PY'
import os, struct, sys
d = sys.argv[1]; t = 0
for n in sorted(os.listdir(d)):
    if n.endswith(".safetensors"):
        with open(os.path.join(d, n), "rb") as f:
            t += 8 + struct.unpack("<Q", f.read(8))[0]
print(t)
PY
)

# rchar: bytes passed through read()/pread() by the process.
measure() { # out_file cmd...
	local out=$1; shift
	python3 - "$out" "$@" <<'PY'
import subprocess, sys, time, resource
out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
p = subprocess.Popen(cmd, stdout=open(out, "w"))
rchar = 0
while p.poll() is None:
    try:
        for line in open(f"/proc/{p.pid}/io"):
            if line.startswith("rchar:"):
                rchar = int(line.split()[1])
    except OSError:
        pass
    time.sleep(0.002)
dt = time.perf_counter() - t0
if p.returncode != 0:
    sys.exit(f"command failed: {cmd}")
print(f"{dt:.4f} {rchar}")
PY
}

read -r t_dsck r_dsck <<<"$(measure "$work/out.json" "$bin/dsck-inspect" --json "$work/671b")"
read -r t_py r_py <<<"$(measure "$work/out.txt" python3 -c '
import os, sys
from safetensors import safe_open
d = sys.argv[1]; n = 0
for f in sorted(os.listdir(d)):
    if f.endswith(".safetensors"):
        with safe_open(os.path.join(d, f), "numpy") as s:
            n += len(list(s.keys()))
print(n)' "$work/671b")"

python3 - "$work/out.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"checkpoint: {d['shards']} shards, {d['tensors']} tensors, {d['payload_bytes']} payload bytes, {d['params']['main']} main parameters")
PY
echo "python safe_open loop counted $(cat "$work/out.txt") tensors"
awk -v td="$t_dsck" -v tp="$t_py" -v rd="$r_dsck" -v rp="$r_py" -v hb="$header_bytes" 'BEGIN {
	printf "dsck-inspect --json : %.3f s, read %d bytes (%.2fx the header bytes %d)\n", td, rd, rd / hb, hb
	printf "python safe_open    : %.3f s\n", tp
	printf "ratio dsck / python : %.2f (time)\n", td / tp
}'
