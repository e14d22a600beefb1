#!/usr/bin/env bash
# convert.sh - dsck-convert --to bf16 on `dsck-synth --preset small` (~1.1 GB
# FP8 in, ~1.9 GB BF16 out), against peers measured in the same run:
#   I/O floor    read every input file and, at the same time, write as
#                many bytes per output file as the converter, with its
#                write pattern (writeback started per 2 MiB with
#                sync_file_range, fdatasync per file, pages dropped after);
#                as many threads as cores for each
#   convert_ref  bench/convert_ref.py, plain numpy + ml_dtypes + safetensors
# Page caches are dropped before each timed run when /proc/sys/vm/drop_caches
# is writable (said in the output); otherwise every run reads a warm cache.
# Prints times, GB/s, peak RSS and the ratios convert / floor (goal <= 1.3)
# and python / dsck. No pass/fail.
#   bench/convert.sh [BUILD]  (default build/)
set -eu
bin=$(cd "${1:-build}" && pwd)/bin
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/dsck-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$bin/dsck-synth" --preset small -q -o "$work/small" >/dev/null

python3 - "$bin" "$work" "$here/convert_ref.py" <<'PY'
import os, shutil, sys

bin, work, ref = sys.argv[1:4]
sys.path.insert(0, os.path.dirname(ref))
import benchlib as bl  # noqa: E402

src = os.path.join(work, "small")
out = os.path.join(work, "out")
names = sorted(os.listdir(src))
inputs = [os.path.join(src, f) for f in names]
in_size = sum(os.path.getsize(p) for p in inputs)
dropped = bl.drop_caches()


def run(cmd):  # every run starts from the same cache state, no output left
    bl.prepare(out, inputs)
    return bl.run(cmd)


conv = [os.path.join(bin, "dsck-convert"), "-q", "--to", "bf16", src, out]
best_c = best_f = None
rss = 0
for _ in range(3):  # alternate, so both see the same machine state
    t, r, c = run(conv)
    sizes = {f: os.path.getsize(os.path.join(out, f)) for f in os.listdir(out)}
    rss = max(rss, r)
    if best_c is None or t < best_c:
        best_c, cpu_c = t, c
    t = bl.io_floor(inputs, sizes, os.path.join(work, "floor"))
    best_f = t if best_f is None else min(best_f, t)
out_size = sum(sizes.values())
t_py, rss_py, _ = run([sys.executable, ref, src, out])
shutil.rmtree(out, ignore_errors=True)

gb_in, gb_out = in_size / 1e9, out_size / 1e9
print(f"input: {len(names)} files, {in_size:,} bytes; output {len(sizes)} files, "
      f"{out_size:,} bytes; {os.cpu_count()} cores; page cache "
      + ("dropped before each run" if dropped else "NOT dropped (warm reads): drop_caches not writable"))
print(f"dsck-convert --to bf16 : {best_c:.2f} s  read {gb_in / best_c:.2f} GB/s, "
      f"wrote {gb_out / best_c:.2f} GB/s, {(gb_in + gb_out) / best_c:.2f} GB/s in+out  "
      f"CPU {cpu_c:.2f} s  peak RSS {rss / 1024:.0f} MiB")
print(f"I/O floor (reads || writes+sync): {best_f:.2f} s  "
      f"{(gb_in + gb_out) / best_f:.2f} GB/s in+out  ratio convert / floor {best_c / best_f:.2f} (goal <= 1.3)")
print(f"convert_ref.py (numpy): {t_py:.2f} s  peak RSS {rss_py / 1024:.0f} MiB  "
      f"ratio python / dsck {t_py / best_c:.2f}")
PY
