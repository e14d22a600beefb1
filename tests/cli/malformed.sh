#!/usr/bin/env bash
# malformed.sh - every case of the malformed-input corpus through dsck-inspect:
# the documented exit code, exactly one line on stderr naming the problem,
# nothing on stdout, and no crash (formats.md §9, G-R3).
#   $1: directory of the tools; $2: scratch dir; DSCK_CORPUS: the corpus
#   written by build/tests/malformed-corpus (with cases.tsv).
set -u
bin=$1
corpus=${DSCK_CORPUS:?}
n=0
while IFS=$'\t' read -r id kind want_exit want_name input; do
	# A valid config alone is not a checkpoint: the library check covers it.
	if [ "$kind" = config ] && [ "$want_exit" = 0 ]; then
		continue
	fi
	[ "$kind" = config ] && input=$(dirname "$input")
	n=$((n + 1))
	out=$("$bin/dsck-inspect" "$input" 2>"$corpus/.stderr")
	rc=$?
	lines=$(wc -l <"$corpus/.stderr")
	if [ "$want_exit" = 0 ]; then
		if [ "$rc" -eq 0 ]; then
			echo "ok $n - $id: accepted (exit 0)"
		else
			echo "not ok $n - $id: expected exit 0, got $rc: $(head -c 300 "$corpus/.stderr")"
		fi
		continue
	fi
	if [ "$rc" -eq "$want_exit" ] && [ "$lines" -eq 1 ] && [ -z "$out" ] &&
		grep -q '^dsck-inspect: error: ' "$corpus/.stderr"; then
		echo "ok $n - $id: exit $rc, $(head -c 160 "$corpus/.stderr")"
	else
		echo "not ok $n - $id ($want_name): expected exit $want_exit and one stderr line, got exit $rc, $lines lines: $(head -c 300 "$corpus/.stderr")"
	fi
done <"$corpus/cases.tsv"
rm -f "$corpus/.stderr"
[ "$n" -gt 0 ] || { echo "not ok 1 - corpus is empty"; exit 1; }
