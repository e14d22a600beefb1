#!/usr/bin/env bash
# test_run.sh - dsck-run logits against DeepSeek's inference/model.py, for
# tests/run.sh. The expected logits are fixtures in run_fixtures/ (made by
# gen_run_fixtures.sh with run_model_py.py: model.py in float32, one token
# per forward call). For every case: the checkpoint is made again with
# dsck-synth as the case's JSON says, dsck-run logits --all-positions runs
# in --attn naive and absorb, and each is checked against model.py
# (rel-L2 = ||dsck - ref|| / ||ref|| over the stored positions, at most the
# case's bound, 1e-5) and for the same argmax at every position (except, in
# the long case, the near ties the case lists: model.py top-2 gap < 5e-3);
# dsck's naive and absorb must agree too (rel-L2 <= the same bound). A case
# may also ask for tensors scaled by powers of two (st-rewrite --exp2,
# built in BUILD/tests), for dsck's --mtp-output to be compared with an MTP
# block built from model.py's modules (run_model_py_mtp.py), and for a run
# with YaRN off that must differ from the fixture (gen_run_fixtures.sh says
# which). Measured values are printed as '# ' comments.
#   tests/oracle/test_run.sh BUILD SCRATCH
set -eu
build=$(cd "$1" && pwd)
bin=$build/bin
tmp=$2
here=$(cd "$(dirname "$0")" && pwd)
fix=$here/run_fixtures

if ! python3 -c 'import numpy' 2>/dev/null; then
	echo "# SKIP test_run.sh: python3 with numpy not found"
	exit 0
fi
if [ ! -x "$bin/dsck-run" ]; then
	echo "# SKIP test_run.sh: $bin/dsck-run not built"
	exit 0
fi

. "$here/tap.inc"

# field JSON EXPR: a value of a case file, EXPR in terms of c
field() {
	python3 -c 'import json, sys; c = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# The comparison of one case: CASE.json DSCK_NAIVE.npy DSCK_ABSORB.npy
compare=$tmp/compare.py
mkdir -p "$tmp"
rm -rf "${tmp:?}"/*
cat >"$compare" <<'EOF'
import json, os, sys
import numpy as np
case_file, naive, absorb = sys.argv[1:4]
c = json.load(open(case_file))
fix = os.path.dirname(case_file)
name, frm, tol = c["case"], c["stored_from"], c["rel_l2_bound"]
dsck = {"naive": np.load(naive), "absorb": np.load(absorb)}
ref = {m: np.load(os.path.join(fix, f)) for m, f in c["logits"].items()}
argmax = np.array(c["argmax"])
near = np.array(c.get("argmax_near_ties", []), dtype=int)
n, vocab = len(c["tokens"]), len(ref["absorb"][0])
rel = lambda a, b: float(np.linalg.norm(a - b) / np.linalg.norm(b))
for m, v in dsck.items():
    ok = v.shape == (n, vocab) and v.dtype == np.float32
    print(f"{'ok' if ok else 'not ok'} - {name} --attn {m}: logits float32 "
          f"[{n}, {vocab}] (got {list(v.shape)} {v.dtype})")
    if not ok:
        sys.exit(0)
pos = f"positions {frm}..{n - 1}" if frm else f"all {n} positions"
for m, v in dsck.items():
    r = m if m in ref else "absorb"
    e = rel(v[frm:], ref[r])
    print(f"# {name}: dsck {m} vs model.py {r}, {pos}: rel-L2 {e:.3e} (bound {tol:g})")
    for r2 in ref:
        if r2 != r:
            print(f"# {name}: dsck {m} vs model.py {r2}: rel-L2 {rel(v[frm:], ref[r2]):.3e}")
    print(f"{'ok' if e <= tol else 'not ok'} - {name} --attn {m} vs model.py {r}: "
          f"rel-L2 <= {tol:g}")
    am = v.argmax(axis=1)
    diff = am != argmax
    tied = np.zeros(n, bool)
    tied[near] = True
    bad = np.nonzero(diff & ~tied)[0]
    for p in bad[:5]:
        print(f"# {name} --attn {m} position {p}: argmax {am[p]}, model.py {argmax[p]}")
    where = f"all {n} positions"
    if len(near):
        where = (f"{n - len(near)} of {n} positions (model.py top-2 gap < "
                 f"{c['argmax_tie_margin']:g} at the rest)")
        print(f"# {name} --attn {m}: argmax differs at {int((diff & tied).sum())} of "
              f"{len(near)} near ties")
    print(f"{'ok' if len(bad) == 0 else 'not ok'} - {name} --attn {m}: same argmax as "
          f"model.py at {where} ({len(bad)} differ)")
e = rel(dsck["naive"], dsck["absorb"])
b = max(tol, 1e-5)
print(f"# {name}: dsck naive vs absorb, all {n} positions: rel-L2 {e:.3e}")
print(f"{'ok' if e <= b else 'not ok'} - {name}: dsck naive and absorb agree (rel-L2 <= {b:g})")
EOF

# The MTP logits of one case: CASE.json DSCK_NAIVE.npy DSCK_ABSORB.npy
compare_mtp=$tmp/compare_mtp.py
cat >"$compare_mtp" <<'EOF'
import json, os, sys
import numpy as np
case_file, naive, absorb = sys.argv[1:4]
c = json.load(open(case_file))
mtp = c["mtp"]
ref = np.load(os.path.join(os.path.dirname(case_file), mtp["logits"]))
tol, name = mtp["rel_l2_bound"], c["case"]
argmax = np.array(mtp["argmax"])
rel = lambda a, b: float(np.linalg.norm(a - b) / np.linalg.norm(b))
for m, f in (("naive", naive), ("absorb", absorb)):
    v = np.load(f)
    ok = v.shape == ref.shape and v.dtype == np.float32
    print(f"{'ok' if ok else 'not ok'} - {name} --attn {m} --mtp-output: float32 "
          f"{list(ref.shape)} (got {list(v.shape)} {v.dtype})")
    if not ok:
        continue
    e = rel(v, ref)
    print(f"# {name}: dsck {m} MTP logits vs model.py-built MTP block, all "
          f"{len(ref)} rows: rel-L2 {e:.3e} (bound {tol:g}), max abs diff "
          f"{float(np.abs(v - ref).max()):.3e}")
    print(f"{'ok' if e <= tol else 'not ok'} - {name} --attn {m}: MTP logits vs "
          f"model.py-built MTP block, rel-L2 <= {tol:g}")
    bad = np.nonzero(v.argmax(axis=1) != argmax)[0]
    for p in bad[:5]:
        print(f"# {name} --attn {m} MTP row {p}: argmax {v[p].argmax()}, oracle {argmax[p]}")
    print(f"{'ok' if len(bad) == 0 else 'not ok'} - {name} --attn {m}: MTP argmax as the "
          f"oracle at all {len(ref)} rows ({len(bad)} differ)")
EOF

# YaRN switched off must move the logits well away from model.py's (with
# YaRN on): CASE.json DSCK_YARN_OFF.npy
yarn_off=$tmp/yarn_off.py
cat >"$yarn_off" <<'EOF'
import json, os, sys
import numpy as np
case_file, off = sys.argv[1:3]
c = json.load(open(case_file))
ref = np.load(os.path.join(os.path.dirname(case_file), c["logits"]["absorb"]))
v = np.load(off)[c["stored_from"]:]
e = float(np.linalg.norm(v - ref) / np.linalg.norm(ref))
lim = c["yarn_off_min_rel_l2"]
print(f"# {c['case']}: dsck with YaRN off vs model.py with YaRN on: rel-L2 {e:.3e} "
      f"({e / c['rel_l2_bound']:.0f}x the bound), argmax differs at "
      f"{int((v.argmax(axis=1) != ref.argmax(axis=1)).sum())} of {len(ref)} stored positions")
print(f"{'ok' if e > lim else 'not ok'} - {c['case']}: YaRN off changes the logits "
      f"(rel-L2 > {lim:g})")
EOF

# The tiny preset's config.json: the base the variants edit.
"$bin/dsck-synth" --preset tiny -q -o "$tmp/tiny-preset"

cases=("$fix"/*.json)
if [ ! -f "${cases[0]}" ]; then
	tap 1 "fixtures in $fix"
	exit 1
fi
for cf in "${cases[@]}"; do
	name=$(field "$cf" 'c["case"]')
	dir=$tmp/$name
	# the checkpoint, as the case says (gen_run_fixtures.sh does the same)
	args=$(field "$cf" '" ".join(c["synth"]["args"])')
	edits=$(field "$cf" 'len(c["synth"]["config_edits"])')
	rc=0
	if [ "$edits" -eq 0 ]; then
		# shellcheck disable=SC2086
		"$bin/dsck-synth" --preset tiny $args -q -o "$dir" || rc=$?
	else
		python3 - "$tmp/tiny-preset/config.json" "$cf" "$tmp/$name.config.json" <<-'EOF'
			import json, sys
			c = json.load(open(sys.argv[1]))
			c.update(json.load(open(sys.argv[2]))["synth"]["config_edits"])
			json.dump(c, open(sys.argv[3], "w"), indent=2)
		EOF
		# shellcheck disable=SC2086
		"$bin/dsck-synth" --config "$tmp/$name.config.json" $args -q -o "$dir" || rc=$?
	fi
	tap "$rc" "dsck-synth $name exits 0"
	[ "$rc" -eq 0 ] || continue
	if [ "$(field "$cf" 'c["synth"].get("convert", "")')" = bf16 ]; then
		# the same weights in the BF16 layout
		rc=0
		"$bin/dsck-convert" --to bf16 -q "$dir" "$dir.conv" || rc=$?
		rm -rf "$dir"
		mv "$dir.conv" "$dir"
		tap "$rc" "dsck-convert --to bf16 $name exits 0"
	fi
	rw=$(field "$cf" '" ".join("--exp2 %s %d" % (s, k) for s, k in c["synth"].get("rewrite_exp2", []))')
	if [ -n "$rw" ]; then
		# tensors scaled by powers of two, as gen_run_fixtures.sh does
		rc=0
		for f in "$dir"/*.safetensors; do
			# shellcheck disable=SC2086
			"$build/tests/st-rewrite" $rw "$f" "$f.rw" && mv "$f.rw" "$f" || rc=1
		done
		tap "$rc" "st-rewrite $rw on $name exits 0"
	fi
	tokens=$(field "$cf" '",".join(str(t) for t in c["tokens"])')
	mtp=$(field "$cf" 'int("mtp" in c)')
	ran=0
	for mode in naive absorb; do
		rc=0
		more=()
		[ "$mtp" -eq 0 ] || more=(--mtp-output "$tmp/$name.$mode.mtp.npy")
		"$bin/dsck-run" logits -m "$dir" --tokens "$tokens" --all-positions --attn "$mode" \
			-q -o "$tmp/$name.$mode.npy" "${more[@]}" || rc=$?
		tap "$rc" "dsck-run logits $name --attn $mode${more:+ --mtp-output} exits 0"
		[ "$rc" -ne 0 ] || ran=$((ran + 1))
	done
	if [ "$ran" -eq 2 ]; then
		py_tap "compare $name" "$compare" "$cf" "$tmp/$name.naive.npy" "$tmp/$name.absorb.npy"
		if [ "$mtp" -eq 1 ]; then
			# RT-R11: the MTP block against one built from model.py's modules
			py_tap "compare $name MTP" "$compare_mtp" "$cf" "$tmp/$name.naive.mtp.npy" \
				"$tmp/$name.absorb.mtp.npy"
		fi
	fi
	# RT-R10: the short cases again as 2 and 4 tensor-parallel ranks
	nt=$(field "$cf" 'len(c["tokens"])')
	if [ "$nt" -le 64 ] && command -v mpirun >/dev/null 2>&1; then
		for np in 2 4; do
			ran=0
			for mode in naive absorb; do
				rc=0
				OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
				OMPI_MCA_rmaps_base_oversubscribe=1 ASAN_OPTIONS=detect_leaks=0 \
					timeout 300 mpirun -np "$np" "$bin/dsck-run" logits -m "$dir" \
					--tokens "$tokens" --all-positions --attn "$mode" -q \
					-o "$tmp/$name.mp$np.$mode.npy" >/dev/null 2>&1 || rc=$?
				tap "$rc" "mpirun -np $np dsck-run logits $name --attn $mode exits 0"
				[ "$rc" -ne 0 ] || ran=$((ran + 1))
			done
			if [ "$ran" -eq 2 ]; then
				py_tap "compare $name mp$np" "$compare" "$cf" "$tmp/$name.mp$np.naive.npy" \
					"$tmp/$name.mp$np.absorb.npy"
			fi
		done
	fi
	if [ "$(field "$cf" 'c.get("yarn_off_min_rel_l2", 0) > 0')" = True ]; then
		# the same weights with YaRN off: original_max_position_embeddings
		# raised to max_position_embeddings (its frequencies and mscale^2
		# apply only when the limit exceeds it; lowering the limit instead
		# would cap the positions below the prompt's)
		python3 - "$dir/config.json" <<-'EOF'
			import json, sys
			c = json.load(open(sys.argv[1]))
			c["rope_scaling"]["original_max_position_embeddings"] = c["max_position_embeddings"]
			json.dump(c, open(sys.argv[1], "w"), indent=2)
		EOF
		rc=0
		"$bin/dsck-run" logits -m "$dir" --tokens "$tokens" --all-positions --attn absorb \
			-q -o "$tmp/$name.yarnoff.npy" || rc=$?
		tap "$rc" "dsck-run logits $name with YaRN off exits 0"
		[ "$rc" -ne 0 ] || py_tap "YaRN off $name" "$yarn_off" "$cf" "$tmp/$name.yarnoff.npy"
	fi
	rm -rf "$dir" "$tmp/$name".*
done

rm -rf "${tmp:?}"/*
exit $fail
