#!/usr/bin/env bash
# tests/fuzz/run.sh - builds every libFuzzer target tests/fuzz/fuzz_*.c with
# clang (-fsanitize=fuzzer,address,undefined) and runs each for a budget,
# starting from its seed corpus in tests/fuzz/corpus/NAME (copied: new
# inputs stay under build/fuzz).  Prints executions per target.
#
#   tests/fuzz/run.sh [SECONDS] [FILTER]      (make fuzz FUZZ_SECONDS=N)
#   T_SEED=N tests/fuzz/run.sh ...            libFuzzer's seed (it prints the one
#                                             it used on a failure)
#
# A target's extra compile flags come from a line "FUZZ_FLAGS: ..." in its
# source (evaluated by the shell, so $(pkg-config ...) works).
set -u
cd "$(dirname "$0")/../.." || exit 2
SECONDS_EACH=${1:-${FUZZ_SECONDS:-60}}
FILTER=${2:-}
: "${CLANG:=clang}"
OUT=build/fuzz
mkdir -p "$OUT"
status=0
printf '%-28s %14s %10s  %s\n' target executions exec/s result
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c); name=${name#fuzz_}
    case "$name" in *"$FILTER"*) ;; *) continue ;; esac
    flags=$(sed -n 's/.*FUZZ_FLAGS: *\(.*\)$/\1/p' "$src" | head -n 1)
    flags=$(eval echo "$flags")
    exe=$OUT/fuzz_$name
    # shellcheck disable=SC2086
    if ! $CLANG -std=c99 -g -O1 -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
            -o "$exe" "$src" $flags >"$exe.build.log" 2>&1; then
        printf '%-28s %14s %10s  %s\n' "$name" - - "does not build (see $exe.build.log)"
        status=1
        continue
    fi
    work=$OUT/corpus/$name
    mkdir -p "$work"
    [ -d tests/fuzz/corpus/$name ] && cp -n tests/fuzz/corpus/$name/* "$work"/ 2>/dev/null
    log=$OUT/$name.log
    # libFuzzer prints "INFO: Seed: N"; T_SEED=N runs the same way again
    "$exe" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        ${T_SEED:+-seed="$T_SEED"} -artifact_prefix="$OUT/$name-" "$work" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    if [ $rc -eq 0 ]; then result=ok; else result="FAILED (exit $rc, see $log)"; status=1; fi
    printf '%-28s %14s %10s  %s\n' "$name" "${execs:-?}" "${rate:-?}" "$result"
    [ $rc -eq 0 ] || grep -E 'INFO: Seed:|ERROR|check failed|SUMMARY' "$log" | head -n 6 | sed 's/^/    /'
done
exit $status
