#!/usr/bin/env bash
# test_stats.sh - run the stats oracle (check_stats.py) for tests/run.sh.
#   tests/oracle/test_stats.sh BUILD SCRATCH
set -u
exec python3 "$(dirname "$0")/check_stats.py" "$1/bin" "$2"
