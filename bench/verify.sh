#!/usr/bin/env bash
# verify.sh - the data paths of dsck-verify on `dsck-synth --preset small`
# (~1.1 GB), against peers measured in the same run:
#   read floor     cat of every file to /dev/null (page cache warm)
#   sha256sum      coreutils over the same files, one process
#   --manifest-write   SHA-256 of every file and tensor (-j all cores)
#   --scan             dequantized NaN/Inf/scale scan (-j all cores)
# Prints times, GB/s, peak RSS and the ratios. Peak RSS should stay near
# threads x 8 MiB + headers whatever the model size (compare with tiny).
#   bench/verify.sh [BUILD]  (default build/)
set -eu
bin=$(cd "${1:-build}" && pwd)/bin
work=$(mktemp -d "${TMPDIR:-/tmp}/dsck-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$bin/dsck-synth" --preset small -q -o "$work/small" >/dev/null
"$bin/dsck-synth" --preset tiny -q -o "$work/tiny" >/dev/null
cat "$work"/small/* >/dev/null # warm the page cache for every contender

python3 - "$bin" "$work" <<'PY'
import os, subprocess, sys, time
bin, work = sys.argv[1], sys.argv[2]
small = os.path.join(work, "small")
files = sorted(os.path.join(small, f) for f in os.listdir(small))
size = sum(os.path.getsize(f) for f in files)

def run(cmd, reps=3):  # best wall time of reps runs
    best = None
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best

t_cat = run(["sh", "-c", 'cat "$@" >/dev/null', "cat"] + files)
t_sha = run(["sha256sum"] + files)
mf = os.path.join(work, "m.json")
t_man = run([os.path.join(bin, "dsck-verify"), "-q", "--manifest-write", mf, small])
t_scan = run([os.path.join(bin, "dsck-verify"), "-q", "--scan", small])

def rss_of(cmd):  # peak RSS of one child, KiB (its own rusage, from wait4)
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"failed: {cmd}")
    return ru.ru_maxrss
rss_man = rss_of([os.path.join(bin, "dsck-verify"), "-q", "--manifest-write", mf, small])
rss_scan = rss_of([os.path.join(bin, "dsck-verify"), "-q", "--scan", small])
rss_tiny = rss_of([os.path.join(bin, "dsck-verify"), "-q", "--scan", os.path.join(work, "tiny")])

gb = size / 1e9
print(f"input: {len(files)} files, {size:,} bytes, {os.cpu_count()} cores")
print(f"read floor (cat)        : {t_cat:.2f} s  {gb / t_cat:.2f} GB/s")
print(f"sha256sum               : {t_sha:.2f} s  {gb / t_sha:.2f} GB/s")
print(f"verify --manifest-write : {t_man:.2f} s  {gb / t_man:.2f} GB/s  "
      f"ratio to sha256sum {t_man / t_sha:.2f}, to read floor {t_man / t_cat:.2f}  peak RSS {rss_man / 1024:.0f} MiB")
print(f"verify --scan           : {t_scan:.2f} s  {gb / t_scan:.2f} GB/s  "
      f"ratio to read floor {t_scan / t_cat:.2f}  peak RSS {rss_scan / 1024:.0f} MiB (tiny: {rss_tiny / 1024:.0f} MiB)")
PY
