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
# T_SUITE and T_ONLY (what the two words above set), T_JOBS (parts run
# side by side, 2 by default; 1 runs them in turn), T_SEED (the seed of
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

# The parts run side by side, T_JOBS at a time (2 where there are two
# CPUs or more, else 1): most of a part's time is spent compiling or
# waiting on a peer, so a second lane fills the machine.  Parts that
# share outputs stay in one group, in turn: asyncusb and demo (the fake
# hosts and the USB examples in build/tests), aio_stream and sched.  A
# group's output is printed whole when it ends; its counts are added up.
if [ -z "${T_JOBS:-}" ]; then
    T_JOBS=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
    [ "$T_JOBS" -gt 2 ] && T_JOBS=2
fi
[ "$T_JOBS" -ge 1 ] 2>/dev/null || T_JOBS=1
selected=
for part in $parts; do
    name=$(basename "$part" .sh)
    case "$name" in *"$FILTER"*) selected="$selected $name" ;; esac
done
# the longest groups first, so that the short ones fill in beside them
groups=
for g in "asyncusb demo" "aio_stream sched" readme packaging fuzz runner vm matrix soak; do
    line=
    for name in $g; do case " $selected " in *" $name "*) line="$line $name" ;; esac; done
    [ -n "$line" ] && groups="$groups${line# }
"
done
for name in $selected; do   # parts not named above
    case " $(echo $groups) " in *" $name "*) ;; *) groups="$groups$name
" ;; esac
done

# run_group PARTS INDEX (in a subshell: the parts are sourced, and may set
# positional parameters of their own)
run_group() {
    local names=$1 idx=$2 name
    T_PASS=0 T_FAIL=0 T_SKIP=0
    for name in $names; do
        t_part_start=$SECONDS
        . "tests/parts/$name.sh"
        echo "$((SECONDS - t_part_start)) PART $name" >>"$T_OUT/times.txt"
    done
    echo "$T_PASS $T_FAIL $T_SKIP" >"$GDIR/$idx.count"
}

# a folder of this run's own: checks start nested runs in the same tree
mkdir -p "$T_OUT"
GDIR=$(mktemp -d "$PWD/$T_OUT/groups.XXXXXX") || exit 2
gi=0
declare -A running=()
while IFS= read -r g; do
    [ -n "$g" ] || continue
    if [ "$T_JOBS" -le 1 ]; then
        (run_group "$g" "$gi") </dev/null
    else
        while [ "${#running[@]}" -ge "$T_JOBS" ]; do
            wait -n
            for pid in "${!running[@]}"; do
                kill -0 "$pid" 2>/dev/null && continue
                cat "$GDIR/${running[$pid]}.out"
                unset "running[$pid]"
            done
        done
        (run_group "$g" "$gi") </dev/null >"$GDIR/$gi.out" 2>&1 &
        running[$!]=$gi
    fi
    gi=$((gi + 1))
done <<<"$groups"
for pid in "${!running[@]}"; do
    wait "$pid"
done
for pid in "${!running[@]}"; do
    cat "$GDIR/${running[$pid]}.out"
done
i=0
while [ "$i" -lt "$gi" ]; do
    if [ -f "$GDIR/$i.count" ]; then
        read -r p f k <"$GDIR/$i.count"
        T_PASS=$((T_PASS + p)) T_FAIL=$((T_FAIL + f)) T_SKIP=$((T_SKIP + k))
    else
        t_fail_line "[run] the group of parts number $i ended early"
    fi
    i=$((i + 1))
done
rm -rf "$GDIR"
t_summary
