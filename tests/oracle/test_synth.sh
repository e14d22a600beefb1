#!/usr/bin/env bash
# test_synth.sh - run the synth oracle (check_synth.py) for tests/run.sh on
# three dsck-synth outputs: tiny FP8, tiny BF16 with overrides, and the
# 671b preset in sparse mode.
#   tests/oracle/test_synth.sh BUILD SCRATCH
set -u
bin=$1/bin
tmp=$2
here=$(dirname "$0")
rc=0
rm -rf "$tmp/tiny" "$tmp/tiny-bf16" "$tmp/671b"
"$bin/dsck-synth" --preset tiny -q -o "$tmp/tiny" || rc=1
python3 "$here/check_synth.py" "$tmp/tiny" || rc=1
"$bin/dsck-synth" --preset tiny --dtype bf16 --layers 3 --experts 8 --seed 7 \
	-q -o "$tmp/tiny-bf16" || rc=1
python3 "$here/check_synth.py" "$tmp/tiny-bf16" || rc=1
"$bin/dsck-synth" --preset 671b --sparse -q -o "$tmp/671b" || rc=1
python3 "$here/check_synth.py" "$tmp/671b" --sparse || rc=1
exit $rc
