#!/usr/bin/env bash
# downloads.sh - the broken downloads users meet most (a Git LFS pointer, an
# HTML error page, a truncated shard) each get one line that says what the
# file is and what to do, with exit 1, from every tool that reads headers.
#   $1: tools dir; $2: scratch dir
set -u
bin=$1 tmp=$2
n=0
check() { # check NAME PATTERN TOOL ARGS...
	local name=$1 pat=$2
	shift 2
	local err rc
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	n=$((n + 1))
	if [ "$rc" -eq 1 ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] && grep -qE -- "$pat" <<<"$err"; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name: exit $rc: $err"
	fi
}
"$bin/dsck-synth" --preset tiny -q -o "$tmp/tiny" >/dev/null || { echo "not ok 1 - synth"; exit 1; }
shard=$(ls "$tmp/tiny" | grep -m1 -- '-00003-of-')

cp -r "$tmp/tiny" "$tmp/lfs"
printf 'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 4287000\n' >"$tmp/lfs/$shard"
check "LFS pointer: inspect names it" "$shard: byte 0: .*Git LFS pointer.*git lfs pull" "$bin/dsck-inspect" "$tmp/lfs"
check "LFS pointer: verify names it" "$shard: byte 0: .*Git LFS pointer" "$bin/dsck-verify" "$tmp/lfs"

cp -r "$tmp/tiny" "$tmp/html"
printf '<!DOCTYPE html><html><body>502 Bad Gateway</body></html>\n' >"$tmp/html/$shard"
check "HTML error page instead of a shard" "$shard: .*HTML page.*download it again" "$bin/dsck-inspect" "$tmp/html"

cp -r "$tmp/tiny" "$tmp/trunc"
truncate -s -1000 "$tmp/trunc/$shard"
check "truncated shard" "$shard: byte [0-9]+: .*truncated: an incomplete download.*\(expected file size [0-9]+ .*found [0-9]+ bytes\)" "$bin/dsck-inspect" "$tmp/trunc"

cp -r "$tmp/tiny" "$tmp/gone"
rm "$tmp/gone/$shard"
err=$("$bin/dsck-inspect" "$tmp/gone" 2>&1 >/dev/null); rc=$?
n=$((n + 1))
[ "$rc" -eq 1 ] && grep -q "$shard" <<<"$err" && echo "ok $n - missing shard named (exit 1)" || echo "not ok $n - missing shard: exit $rc: $err"

# A FIFO where a shard should be: refused at once, never waited on (G-R5).
cp -r "$tmp/tiny" "$tmp/fifo"
rm "$tmp/fifo/$shard" && mkfifo "$tmp/fifo/$shard"
err=$(timeout 20 "$bin/dsck-inspect" "$tmp/fifo" 2>&1 >/dev/null); rc=$?
n=$((n + 1))
[ "$rc" -eq 3 ] && grep -q "$shard.*not a regular file" <<<"$err" && echo "ok $n - FIFO as a shard: exit 3 at once" || echo "not ok $n - FIFO as a shard: exit $rc: $err"
