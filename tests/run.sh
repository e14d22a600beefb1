#!/usr/bin/env bash
# run.sh - run the test suite against one or more builds and count results.
#
#   tests/run.sh BUILD LABEL [BUILD LABEL ...]
#
# For each build: unit test programs, the malformed-input corpus, the CLI and
# end-to-end scripts (tests/cli/*.sh, tests/e2e/*.sh with the build's bin/
# as $1 and a scratch dir as $2), and, for the first build only, the Python
# oracles in tests/oracle/ (skipped, and said so, when numpy/safetensors are
# missing). Every program prints TAP-style "ok N - ..." / "not ok N - ..."
# lines; a program that exits non-zero without a "not ok" line (a crash, a
# sanitizer report) counts as one more failure. Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."

passed=0
failed=0
skipped=0
failures=()

# run_prog LABEL NAME CMD... : run one test program, count its lines
run_prog() {
	local label=$1 name=$2
	shift 2
	local log rc ok notok skip
	log=$(mktemp)
	timeout 900 "$@" >"$log" 2>&1
	rc=$?
	ok=$(grep -c '^ok ' "$log")
	notok=$(grep -c '^not ok ' "$log")
	skip=$(grep -c '^# SKIP' "$log")
	passed=$((passed + ok))
	failed=$((failed + notok))
	skipped=$((skipped + skip))
	if [ "$rc" -ne 0 ] && [ "$notok" -eq 0 ]; then
		failed=$((failed + 1))
		failures+=("[$label] $name: exited $rc without a failing check")
		tail -n 20 "$log" | sed 's/^/    /'
	fi
	while IFS= read -r line; do
		failures+=("[$label] $name: $line")
	done < <(grep '^not ok ' "$log")
	grep '^# SKIP' "$log" | sed "s|^|[$label] $name: |"
	printf '%-6s %-40s %4d ok %4d not ok\n' "$label" "$name" "$ok" "$notok"
	rm -f "$log"
}

first=1
while [ $# -ge 2 ]; do
	build=$(cd "$1" && pwd) label=$2
	shift 2
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/dsck-test.XXXXXX")
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] || continue
		run_prog "$label" "unit/$(basename "$t")" "$t"
	done
	rm -rf "$build/malformed"
	run_prog "$label" "malformed/corpus" "$build/tests/malformed-corpus" "$build/malformed"
	for s in tests/cli/*.sh tests/e2e/*.sh; do
		[ -f "$s" ] || continue
		d="$scratch/$(basename "$s" .sh)"
		mkdir -p "$d"
		run_prog "$label" "${s#tests/}" env DSCK_CORPUS="$build/malformed" \
			bash "$s" "$build/bin" "$d"
	done
	if [ "$first" -eq 1 ]; then
		if python3 -c 'import numpy, safetensors, ml_dtypes' 2>/dev/null; then
			for p in tests/oracle/test_*.sh; do
				[ -f "$p" ] || continue
				d="$scratch/$(basename "$p" .sh)"
				mkdir -p "$d"
				run_prog "$label" "${p#tests/}" bash "$p" "$build" "$d"
			done
		else
			echo "# SKIP oracle tests: python3 with numpy, safetensors and ml_dtypes not found (pip install -r tests/oracle/requirements.txt)"
			skipped=$((skipped + 1))
		fi
	fi
	rm -rf "$scratch"
	first=0
done

if [ ${#failures[@]} -gt 0 ]; then
	echo
	echo "Failures:"
	printf '  %s\n' "${failures[@]}"
fi
echo
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
