#!/usr/bin/env bash
# inspect.sh - header-only inspection of the 671B layout, against Python.
#
# Writes `dsck-synth --preset 671b --sparse` (163 shards of file holes:
# 688 GB apparent, ~20 MB on disk), then, in the same run, best of 5:
#   dsck-inspect --json DIR            headers + index + config + inventory check
#   python safetensors safe_open loop  the 163 headers only
#   the same loop + json.load(index)   the same inputs dsck reads
# and the bytes each dsck run reads (rchar of /proc, a waited child).
# Prints times and the ratios dsck / python.
#   bench/inspect.sh [BUILD]  (default build/)
set -eu
bin=$(cd "${1:-build}" && pwd)/bin
work=$(mktemp -d "${TMPDIR:-/tmp}/dsck-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$bin/dsck-synth" --preset 671b --sparse -q -o "$work/671b" >/dev/null

python3 - "$bin/dsck-inspect" "$work/671b" <<'PY'
import json, os, struct, subprocess, sys, time
from safetensors import safe_open

insp, d = sys.argv[1], sys.argv[2]
shards = sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".safetensors"))
index = os.path.join(d, "model.safetensors.index.json")
header_bytes = 0
for p in shards:
    with open(p, "rb") as f:
        header_bytes += 8 + struct.unpack("<Q", f.read(8))[0]
meta_bytes = header_bytes + os.path.getsize(index) + os.path.getsize(os.path.join(d, "config.json"))

def rchar():
    for line in open("/proc/self/io"):
        if line.startswith("rchar:"):
            return int(line.split()[1])

def run_dsck():
    r0 = rchar()
    out = subprocess.run([insp, "--json", d], check=True, capture_output=True).stdout
    return json.loads(out), rchar() - r0

def py_headers():
    n = 0
    for p in shards:
        with safe_open(p, "numpy") as s:
            n += len(list(s.keys()))
    return n

def py_headers_index():
    n = py_headers()
    with open(index) as f:
        json.load(f)
    return n

def best(fn, reps=5):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); r = fn(); ts.append(time.perf_counter() - t0)
    return min(ts), r

t_dsck, (doc, read) = best(run_dsck)
t_py, n_py = best(py_headers)
t_pyi, _ = best(py_headers_index)
print(f"checkpoint: {doc['shards']} shards, {doc['tensors']:,} tensors, "
      f"{doc['payload_bytes']:,} payload bytes, {doc['params']['main']:,} main parameters "
      f"(python counted {n_py:,} tensors)")
print(f"dsck-inspect --json          : {t_dsck:.3f} s, read {read:,} bytes = "
      f"{read / meta_bytes:.2f} x the {meta_bytes:,} bytes of headers, index and config")
print(f"python safe_open loop        : {t_py:.3f} s  (ratio dsck/python {t_dsck / t_py:.2f})")
print(f"python safe_open + index json: {t_pyi:.3f} s  (ratio dsck/python {t_dsck / t_pyi:.2f})")
PY
