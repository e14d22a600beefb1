"""benchlib.py - what the bench scripts share: cold caches, timing a child
process, the I/O floor of the plan-engine tools, and finding the torch peer.
"""
import ctypes
import ctypes.util
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
SYNC_FILE_RANGE_WRITE = 2
CHUNK = 2 << 20
_DATA = memoryview(os.urandom(CHUNK))  # incompressible bytes to write


def drop_caches():
    """True when the kernel let us: the next run starts cold."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def prepare(out, inputs):
    """No output left at out, nothing dirty, the same cache state each time:
    dropped, or else every input read once (warm)."""
    shutil.rmtree(out, ignore_errors=True)
    if not drop_caches():
        subprocess.run(["sh", "-c", 'cat "$@" >/dev/null', "cat"] + list(inputs), check=True)


def run(cmd, cwd=None):
    """Wall seconds, peak RSS (KiB) and CPU seconds of one child (wait4);
    exits with its stderr's tail when it fails."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {cmd}\n{err.decode(errors='replace')[-2000:]}")
    return dt, ru.ru_maxrss, ru.ru_utime + ru.ru_stime


def _read_one(path):
    buf = memoryview(bytearray(CHUNK))
    fd = os.open(path, os.O_RDONLY)
    while os.readv(fd, [buf]):
        pass
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # as the tools
    os.close(fd)


def _write_one(job):
    """size bytes with the tools' write pattern (formats.md PL-R7):
    writeback started after each chunk (sync_file_range), fdatasync at the
    end, then the pages dropped from the cache."""
    path, size = job
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    pos = 0
    while pos < size:
        w = os.write(fd, _DATA[:min(CHUNK, size - pos)])
        _libc.sync_file_range(fd, pos, w, SYNC_FILE_RANGE_WRITE)
        pos += w
    os.fdatasync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)


def io_floor(inputs, sizes, out):
    """Seconds to read every input and, at the same time, write sizes
    {name: bytes} into out, as many threads for each as cores: no compute,
    no dependency between them. out is removed again."""
    prepare(out, inputs)
    os.makedirs(out)
    reads = sorted(inputs, key=os.path.getsize, reverse=True)
    writes = sorted(((os.path.join(out, f), n) for f, n in sizes.items()), key=lambda j: -j[1])
    n = os.cpu_count()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(n) as rx, ThreadPoolExecutor(n) as wx:
        fr = [rx.submit(_read_one, p) for p in reads]
        fw = [wx.submit(_write_one, j) for j in writes]
        for f in fr + fw:
            f.result()
    dt = time.perf_counter() - t0
    shutil.rmtree(out)
    return dt


def torch_peer(torch_py, ds, script, modules):
    """Why DeepSeek's inference/SCRIPT cannot run under torch_py (a python
    that must import modules), or None when it can."""
    if not (os.path.isfile(torch_py) and os.access(torch_py, os.X_OK)):
        return f"no python at {torch_py} (set DSCK_TORCH_PYTHON)"
    if not os.path.isfile(os.path.join(ds, "inference", script)):
        return f"no DeepSeek-V3 checkout at {ds} (set DSCK_DEEPSEEK_V3)"
    chk = subprocess.run([torch_py, "-c", "import " + ", ".join(modules)],
                         capture_output=True, text=True)
    if chk.returncode:
        return f"{torch_py} cannot import {', '.join(modules)}: " + \
            (chk.stderr.strip().splitlines() or ["?"])[-1]
    return None


def git_commit(d):
    """HEAD of the checkout d, or a note that it has no git metadata."""
    g = subprocess.run(["git", "-C", d, "rev-parse", "HEAD"], capture_output=True, text=True)
    return g.stdout.strip() if g.returncode == 0 else "unknown (no git metadata)"
