#!/usr/bin/env bash
# test_writer.sh - our safetensors writer against safetensors.numpy.save_file,
# byte for byte (check_writer.py), for tests/run.sh.
#   tests/oracle/test_writer.sh BUILD SCRATCH
set -u
here=$(cd "$(dirname "$0")" && pwd)
tool=$(cd "$1" && pwd)/tests/st-rewrite
cd "$2" && exec python3 "$here/check_writer.py" "$tool"
