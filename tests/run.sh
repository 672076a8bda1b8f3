#!/usr/bin/env bash
# tests/run.sh - runs every test of the project: the unit suites in several
# builds (plain, sanitizers, valgrind, cross under qemu, musl) and the
# compile matrix.  Prints one line per failure and closes with
# "N passed, N failed".  Exit status 0 only when nothing failed.
#
#   tests/run.sh              everything
#   tests/run.sh sched        only the parts whose name contains "sched"
#
# Environment: CC, CLANG, CXX, CFLAGS, CROSS (prefix for one cross build
# instead of the native set), T_QUICK=1 (skip valgrind and cross builds).
set -u
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh

FILTER=${1:-}
for part in tests/parts/*.sh; do
    name=$(basename "$part" .sh)
    case "$name" in *"$FILTER"*) ;; *) continue ;; esac
    . "$part"
done
t_summary
