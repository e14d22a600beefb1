#!/usr/bin/env bash
# shard.sh - dsck-shard --mp 8 on `dsck-synth --preset small --experts 64`
# (~1.4 GB FP8; valid rank counts 1, 2, 4, 8), against peers measured in the
# same run:
#   I/O floor    read every input file and, at the same time, write as many
#                bytes per rank file as dsck-shard, with its write pattern
#                (writeback started per 2 MiB with sync_file_range,
#                fdatasync per file, pages dropped after); as many threads
#                as cores for each
#   convert.py   DeepSeek-V3's inference/convert.py --model-parallel 8
#                --n-experts 64, run with $DSCK_TORCH_PYTHON (default
#                /tmp/tfenv/bin/python) from the checkout $DSCK_DEEPSEEK_V3
#                (default /tmp/dsv3); skipped, and said why, when either is
#                missing. convert.py does not fsync: its time is printed as
#                is and with a `sync` of its output added.
# convert.py skips the MTP layer only by the literal name "model.layers.61"
# (the 671B layout) and stops with "Key eh_proj not found in mapping" on any
# other MTP index (shown once on the tiny preset). So every contender runs
# on the small preset with its MTP layer (model.layers.<num_hidden_layers>)
# removed: same shards and index otherwise, num_nextn_predict_layers 0.
# After the timed runs, dsck's and convert.py's rank files are compared:
# tensor names, shapes, dtypes and data bytes per rank (headers parsed here).
# Page caches are dropped before each timed run when /proc/sys/vm/drop_caches
# is writable (said in the output); otherwise every run reads a warm cache.
# Prints times, peak RSS and the ratios convert.py / dsck (goal >= 5),
# dsck RSS / convert.py RSS (goal <= 1/10), dsck / floor (goal <= 1.3).
# No pass/fail.
#   bench/shard.sh [BUILD]  (default build/)
set -eu
bin=$(cd "${1:-build}" && pwd)/bin
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/dsck-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$bin/dsck-synth" --preset small --experts 64 -q -o "$work/small" >/dev/null
"$bin/dsck-synth" --preset tiny -q -o "$work/tiny" >/dev/null

python3 - "$bin" "$work" "${DSCK_TORCH_PYTHON:-/tmp/tfenv/bin/python}" \
	"${DSCK_DEEPSEEK_V3:-/tmp/dsv3}" "$here" <<'PY'
import hashlib, json, os, re, shutil, struct, subprocess, sys, time

MP, EXPERTS = 8, 64

bin, work, torch_py, ds, here = sys.argv[1:6]
sys.path.insert(0, here)
import benchlib as bl  # noqa: E402

preset = os.path.join(work, "small")
src = os.path.join(work, "small-nomtp")
out = os.path.join(work, "out")


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)), 8 + n


def strip_mtp(a, b):
    """Copy checkpoint a to b without the layers >= num_hidden_layers."""
    os.makedirs(b)
    with open(os.path.join(a, "config.json")) as f:
        cfg = json.load(f)
    keep_layers = cfg["num_hidden_layers"]
    mtp = re.compile(r"model\.layers\.(\d+)\.")
    drop = lambda k: (m := mtp.match(k)) is not None and int(m.group(1)) >= keep_layers
    with open(os.path.join(a, "model.safetensors.index.json")) as f:
        index = json.load(f)
    for fn in sorted(set(index["weight_map"].values())):
        hdr, base = read_header(os.path.join(a, fn))
        meta = hdr.pop("__metadata__", None)
        kept = sorted((k for k in hdr if not drop(k)), key=lambda k: hdr[k]["data_offsets"][0])
        if not kept:
            continue
        new, pos = ({"__metadata__": meta} if meta is not None else {}), 0
        for k in kept:
            lo, hi = hdr[k]["data_offsets"]
            new[k] = dict(hdr[k], data_offsets=[pos, pos + hi - lo])
            pos += hi - lo
        h = json.dumps(new, separators=(",", ":")).encode()
        h += b" " * (-len(h) % 8)
        with open(os.path.join(a, fn), "rb") as fi, open(os.path.join(b, fn), "wb") as fo:
            fo.write(struct.pack("<Q", len(h)) + h)
            for k in kept:
                lo, hi = hdr[k]["data_offsets"]
                fi.seek(base + lo)
                left = hi - lo
                while left:
                    chunk = fi.read(min(left, 8 << 20))
                    fo.write(chunk)
                    left -= len(chunk)
    index["weight_map"] = {k: v for k, v in index["weight_map"].items() if not drop(k)}
    files = set(index["weight_map"].values())
    index.setdefault("metadata", {})["total_size"] = sum(
        hi - lo for fn in files
        for k, v in read_header(os.path.join(b, fn))[0].items() if k != "__metadata__"
        for lo, hi in [v["data_offsets"]])
    with open(os.path.join(b, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
    cfg["num_nextn_predict_layers"] = 0
    with open(os.path.join(b, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    for fn in os.listdir(a):
        if not fn.endswith(".safetensors") and fn not in ("config.json", "model.safetensors.index.json"):
            shutil.copyfile(os.path.join(a, fn), os.path.join(b, fn))
    return sum(1 for k in index["weight_map"]), len(files)


n_tensors, n_files = strip_mtp(preset, src)
shutil.rmtree(preset)
names = sorted(f for f in os.listdir(src) if f.endswith(".safetensors"))
in_size = sum(os.path.getsize(os.path.join(src, f)) for f in names)
inputs = [os.path.join(src, f) for f in names]
dropped = bl.drop_caches()


def run(cmd, d, cwd=None):  # every run starts from the same cache state, no output left
    bl.prepare(d, inputs)
    return bl.run(cmd, cwd=cwd)


ranks = [f"model{r}-mp{MP}.safetensors" for r in range(MP)]
shard = [os.path.join(bin, "dsck-shard"), "-q", "--mp", str(MP), src, out]
best_s = best_f = None
rss = 0
for _ in range(3):  # alternate, so both see the same machine state
    t, r, c = run(shard, out)
    sizes = {f: os.path.getsize(os.path.join(out, f)) for f in ranks}
    rss = max(rss, r)
    if best_s is None or t < best_s:
        best_s, cpu_s = t, c
    t = bl.io_floor(inputs, sizes, os.path.join(work, "floor"))
    best_f = t if best_f is None else min(best_f, t)
out_size = sum(sizes.values())
dsck_out = os.path.join(work, "out-dsck")
os.rename(out, dsck_out)

# the peer
why = bl.torch_peer(torch_py, ds, "convert.py", ("torch", "safetensors", "tqdm"))
commit = "?"
if why is None:
    commit = bl.git_commit(ds)
    inf = os.path.join(ds, "inference")
    py_out = os.path.join(work, "out-py")
    t_py, rss_py, cpu_py = run([torch_py, "convert.py", "--hf-ckpt-path", src, "--save-path",
                                py_out, "--n-experts", str(EXPERTS),
                                "--model-parallel", str(MP)], py_out, cwd=inf)
    t0 = time.perf_counter()
    subprocess.run(["sync", "-f", py_out], check=True)
    t_sync = time.perf_counter() - t0
    # the preset as dsck-synth writes it (MTP at layers.<num_hidden_layers>), on tiny
    tiny_out = os.path.join(work, "tiny-py")
    p = subprocess.run([torch_py, "convert.py", "--hf-ckpt-path", os.path.join(work, "tiny"),
                        "--save-path", tiny_out, "--n-experts", "16", "--model-parallel", "1"],
                       cwd=inf, capture_output=True, text=True)
    tiny_note = ("exit 0" if p.returncode == 0 else
                 f"exit {p.returncode}: " + (p.stderr.strip().splitlines() or ["?"])[-1])

gb_in, gb_out = in_size / 1e9, out_size / 1e9
print(f"input: small preset, {EXPERTS} experts, MTP layer removed: {len(names)} files, "
      f"{n_tensors} tensors, {in_size:,} bytes; output {MP} rank files, {out_size:,} bytes; "
      f"{os.cpu_count()} cores; page cache "
      + ("dropped before each run" if dropped else
         "NOT dropped (warm reads): /proc/sys/vm/drop_caches not writable"))
print(f"dsck-shard --mp {MP}: {best_s:.2f} s  read {gb_in / best_s:.2f} GB/s, "
      f"wrote {gb_out / best_s:.2f} GB/s  CPU {cpu_s:.2f} s  peak RSS {rss / 1024:.0f} MiB")
print(f"I/O floor (reads || writes+sync): {best_f:.2f} s  "
      f"{(gb_in + gb_out) / best_f:.2f} GB/s in+out  ratio dsck / floor {best_s / best_f:.2f} (goal <= 1.3)")
if why is not None:
    print(f"convert.py: skipped ({why})")
    sys.exit(0)
print(f"convert.py (DeepSeek-V3 {commit}, {torch_py}): {t_py:.2f} s "
      f"(+ sync of its output {t_sync:.2f} s)  CPU {cpu_py:.2f} s  peak RSS {rss_py / 1024:.0f} MiB")
print(f"ratio convert.py / dsck: {t_py / best_s:.2f} ({(t_py + t_sync) / best_s:.2f} with sync) "
      f"(goal >= 5)   RSS dsck / convert.py: {rss / rss_py:.3f} = 1/{rss_py / max(rss, 1):.1f} "
      f"(goal <= 1/10)")
print(f"convert.py on the tiny preset as written (MTP at layers.4): {tiny_note}")

# same tensors per rank?
diffs, same_files, n_cmp, meta_diff = [], 0, 0, set()
for fn in ranks:
    a, b = os.path.join(dsck_out, fn), os.path.join(py_out, fn)
    if not os.path.exists(b):
        diffs.append(f"{fn}: missing in convert.py's output")
        continue
    (ha, ba), (hb, bb) = read_header(a), read_header(b)
    ma, mb = ha.pop("__metadata__", None), hb.pop("__metadata__", None)
    for k in sorted(set(ha) ^ set(hb)):
        diffs.append(f"{fn}: {k} only in " + ("dsck" if k in ha else "convert.py"))
    with open(a, "rb") as fa, open(b, "rb") as fb:
        for k in sorted(set(ha) & set(hb)):
            if (ha[k]["dtype"], ha[k]["shape"]) != (hb[k]["dtype"], hb[k]["shape"]):
                diffs.append(f"{fn}: {k}: dsck {ha[k]['dtype']} {ha[k]['shape']}, "
                             f"convert.py {hb[k]['dtype']} {hb[k]['shape']}")
                continue
            (alo, ahi), (blo, bhi) = ha[k]["data_offsets"], hb[k]["data_offsets"]
            fa.seek(ba + alo)
            fb.seek(bb + blo)
            if ahi - alo != bhi - blo or fa.read(ahi - alo) != fb.read(bhi - blo):
                diffs.append(f"{fn}: {k}: data bytes differ")
    with open(a, "rb") as fa, open(b, "rb") as fb:
        same_files += hashlib.file_digest(fa, "sha256").digest() == \
            hashlib.file_digest(fb, "sha256").digest()
    if ma != mb:
        meta_diff.add(f"__metadata__ dsck {ma}, convert.py {mb}")
    n_cmp += len(ha)
for m in sorted(meta_diff):
    print(f"# rank file {m}")
print(f"dsck vs convert.py output, {MP} ranks, {n_cmp} tensors: "
      + ("same names, shapes, dtypes and data bytes" if not diffs else f"{len(diffs)} differences")
      + f"; {same_files}/{MP} rank files byte-identical")
for d in diffs[:20]:
    print(f"  {d}")
PY
