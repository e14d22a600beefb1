"""oracle_st.py - what the Python oracles share: TAP output, and
safetensors files parsed here (not through dsck, and not only through the
safetensors package), with safetensors' own reader as a second opinion.

    import oracle_st as ost
    ost.check(ok, "what", notes)      # "ok N - what" / "not ok N - what"
    ost.failed()                      # how many checks failed so far
    sh = ost.Shard(path)
    sh.layout_errors() + ost.safe_open_errors(sh)
"""
import json
import os
import struct
import sys

import ml_dtypes
import numpy as np
from safetensors import safe_open

DTYPES = {
    "F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2,
    "F8_E8M0": ml_dtypes.float8_e8m0fnu, "BF16": ml_dtypes.bfloat16, "F16": np.float16, "F32": np.float32,
    "F64": np.float64, "BOOL": np.bool_, "U8": np.uint8, "I8": np.int8,
    "I16": np.int16, "U16": np.uint16, "I32": np.int32, "U32": np.uint32,
    "I64": np.int64, "U64": np.uint64,
}
ITEMSIZE = {k: np.dtype(v).itemsize for k, v in DTYPES.items()}

_run = 0
_fail = 0


def check(ok, what, notes=()):
    """One TAP line; after a failure, up to 8 notes as "#" lines."""
    global _run, _fail
    _run += 1
    if not ok:
        _fail += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", _run, what))
    notes = [] if ok else list(notes)
    for line in notes[:8]:
        print("#   " + line)
    if len(notes) > 8:
        print("#   ... %d more" % (len(notes) - 8))
    sys.stdout.flush()


def failed():
    return _fail


def checks():
    return _run


class Shard:
    """One .safetensors file: header parsed here, tensors read on demand."""

    def __init__(self, path):
        self.path = path
        self.size = os.path.getsize(path)
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            hdr = json.loads(f.read(n))
        self.base = 8 + n
        self.meta = hdr.pop("__metadata__", None)
        self.tensors = hdr  # name -> {dtype, shape, data_offsets}

    def layout_errors(self):
        """Offsets contiguous from 0, sizes = dtype x shape (a dtype not
        listed is an error), the file size, data 8-aligned."""
        errs = []
        spans = sorted((t["data_offsets"][0], t["data_offsets"][1], k)
                       for k, t in self.tensors.items())
        pos = 0
        for b, e, k in spans:
            t = self.tensors[k]
            want = int(np.prod(t["shape"], dtype=np.int64)) * ITEMSIZE.get(t["dtype"], 0)
            if b != pos:
                errs.append("%s: starts at %d, expected %d" % (k, b, pos))
            if e - b != want:
                errs.append("%s: %d bytes for %s %s" % (k, e - b, t["dtype"], t["shape"]))
            pos = e
        if self.base + pos != self.size:
            errs.append("file size %d, header says %d" % (self.size, self.base + pos))
        if self.base % 8:
            errs.append("data starts at %d, not 8-aligned" % self.base)
        return errs

    def raw(self, name):
        b, e = self.tensors[name]["data_offsets"]
        with open(self.path, "rb") as f:
            f.seek(self.base + b)
            return f.read(e - b)

    def array(self, name):
        t = self.tensors[name]
        return np.frombuffer(self.raw(name), dtype=DTYPES[t["dtype"]]).reshape(t["shape"])


def safe_open_errors(sh):
    """safetensors' numpy reader opens the file, lists the same names, and
    returns the same bytes for every tensor it has a numpy dtype for."""
    errs = []
    try:
        with safe_open(sh.path, framework="numpy") as f:
            keys = set(f.keys())
            if keys != set(sh.tensors):
                errs.append("safe_open keys differ from the header")
            for k in sorted(keys):
                if sh.tensors[k]["dtype"].startswith("F8"):
                    continue  # no numpy dtype in safetensors' backend
                try:
                    a = f.get_tensor(k)
                except (TypeError, AttributeError, ValueError):
                    continue
                if a.tobytes() != sh.raw(k):
                    errs.append("safe_open %s: data differ" % k)
    except Exception as e:  # noqa: BLE001 - any failure to open is the finding
        errs.append("safe_open: %s" % e)
    return errs
