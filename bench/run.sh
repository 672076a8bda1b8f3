#!/usr/bin/env bash
# bench/run.sh - runs every benchmark in bench/parts/ (not part of make test).
# Each part prints its own table; figures are ratios from this one run.
#   bench/run.sh            everything
#   bench/run.sh sched      only parts whose name contains "sched"
set -u
cd "$(dirname "$0")/.." || exit 2
: "${CC:=gcc}"
B_OUT=build/bench
mkdir -p "$B_OUT"
FILTER=${1:-}
status=0
for part in bench/parts/*.sh; do
    [ -e "$part" ] || continue
    name=$(basename "$part" .sh)
    case "$name" in *"$FILTER"*) ;; *) continue ;; esac
    echo "== $name"
    bash "$part" || { echo "bench part $name failed"; status=1; }
    echo
done
exit $status
