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
import ctypes, ctypes.util, os, shutil, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
SYNC_FILE_RANGE_WRITE = 2

bin, work, ref = sys.argv[1:4]
src = os.path.join(work, "small")
out = os.path.join(work, "out")
names = sorted(os.listdir(src))
in_size = sum(os.path.getsize(os.path.join(src, f)) for f in names)

def drop_caches():  # True when the kernel let us; then every run starts cold
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False

def prepare():  # no output left, nothing dirty, same cache state each time
    shutil.rmtree(out, ignore_errors=True)
    if not drop_caches():
        subprocess.run(["sh", "-c", 'cat "$@" >/dev/null', "cat"] +
                       [os.path.join(src, f) for f in names], check=True)

dropped = drop_caches()

def run(cmd):  # wall time, peak RSS (KiB) and CPU seconds of one child (wait4)
    prepare()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {cmd}")
    return dt, ru.ru_maxrss, ru.ru_utime + ru.ru_stime

CHUNK = 2 << 20
DATA = memoryview(os.urandom(CHUNK))  # incompressible bytes to write

def read_one(path):
    buf = memoryview(bytearray(CHUNK))
    fd = os.open(path, os.O_RDONLY)
    while os.readv(fd, [buf]):
        pass
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # as the converter
    os.close(fd)

def write_one(job):
    """out_size bytes with the converter's write pattern (formats.md PL-R7):
    writeback started after each chunk (sync_file_range), fdatasync at the
    end, then the pages dropped from the cache."""
    path, out_size = job
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    pos = 0
    while pos < out_size:
        w = os.write(fd, DATA[:min(CHUNK, out_size - pos)])
        libc.sync_file_range(fd, pos, w, SYNC_FILE_RANGE_WRITE)
        pos += w
    os.fdatasync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)

def floor(sizes):
    """Reads of every input and writes of every output at once, as many
    threads for each as cores: no compute, no dependency between them."""
    prepare()
    os.makedirs(out)
    reads = sorted((os.path.join(src, f) for f in names), key=os.path.getsize, reverse=True)
    writes = sorted(((os.path.join(out, f), n) for f, n in sizes.items()), key=lambda j: -j[1])
    n = os.cpu_count()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(n) as rx, ThreadPoolExecutor(n) as wx:
        fr = [rx.submit(read_one, p) for p in reads]
        fw = [wx.submit(write_one, j) for j in writes]
        for f in fr + fw:
            f.result()
    return time.perf_counter() - t0

conv = [os.path.join(bin, "dsck-convert"), "-q", "--to", "bf16", src, out]
best_c = best_f = None
rss = 0
for _ in range(3):  # alternate, so both see the same machine state
    t, r, c = run(conv)
    sizes = {f: os.path.getsize(os.path.join(out, f)) for f in os.listdir(out)}
    rss = max(rss, r)
    if best_c is None or t < best_c:
        best_c, cpu_c = t, c
    t = floor(sizes)
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
