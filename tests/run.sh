#!/usr/bin/env bash
# tests/run.sh - runs every test of the project: the unit suites in several
# builds (plain, sanitizers, valgrind, cross under qemu, musl) and the
# compile matrix.  Prints one line per failure, one SKIP line per thing
# that cannot run here (with the reason: a missing tool and its package,
# the recordings of ../shared), and closes with "N passed, N failed".
# Exit status 0 only when nothing failed.
#
#   tests/run.sh                  everything
#   tests/run.sh sched            the parts (tests/parts/*.sh) whose name
#                                 contains "sched"; a word that names no
#                                 part names a suite:
#   tests/run.sh usb_faults       that suite in every build, and the checks
#                                 whose name starts with the word
#   tests/run.sh usb_faults init_failures
#                                 only the tests of that suite whose name
#                                 contains "init_failures"
#
# Environment: CC, CLANG, CXX, CFLAGS, CROSS (prefix for one cross build
# instead of the native set), T_QUICK=1 (skip valgrind and cross builds),
# T_SUITE and T_ONLY (what the two words above set), T_SEED (the seed of
# the random tests, which print the one they used), T_VARIANTS (the builds
# to use, by name: "plain asan+ubsan poll poll+asan+ubsan valgrind ...").
# Seconds per suite, check and part go to build/tests/times.txt.
set -u
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh

FILTER=${1:-}
if [ $# -ge 2 ]; then
    T_SUITE=$1
    export T_ONLY=$2
elif [ -n "$FILTER" ] && ! ls tests/parts/ | grep -q -- "$FILTER"; then
    T_SUITE=$FILTER
fi
if [ -n "$T_SUITE" ]; then
    # the parts that mention the suite; all of them run with only it selected
    FILTER=
    parts=$(grep -lw -- "$T_SUITE" tests/parts/*.sh tests/usb_examples.sh 2>/dev/null |
            sed 's|^tests/usb_examples.sh$|tests/parts/asyncusb.sh|' | sort -u)
else
    parts=$(ls tests/parts/*.sh)
fi
t_variant_skips
for part in $parts; do
    name=$(basename "$part" .sh)
    case "$name" in *"$FILTER"*) ;; *) continue ;; esac
    t_part_start=$SECONDS
    . "$part"
    echo "$((SECONDS - t_part_start)) PART $name" >>"$T_OUT/times.txt"
done
t_summary
