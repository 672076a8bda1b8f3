#!/usr/bin/env bash
# tools/stamp_core.sh - copies the family's loop core (core/core.h) into
# every header, between the lines "/* ==== asynckit core begin ==== */" and
# "/* ==== asynckit core end ==== */".  Edit core/core.h, then run this.
#
#   tools/stamp_core.sh           rewrite the headers that differ
#   tools/stamp_core.sh --check   change nothing; exit 1 naming every
#                                 header whose copy differs (make test runs this)
set -eu
cd "$(dirname "$0")/.."
src=core/core.h
begin='/* ==== asynckit core begin ==== */'
end='/* ==== asynckit core end ==== */'
check=0
[ "${1:-}" = --check ] && check=1
status=0
for h in sched.h aio_stream.h asyncusb.h; do
    [ -f "$h" ] || continue
    n_begin=$(grep -cxF "$begin" "$h" || true)
    n_end=$(grep -cxF "$end" "$h" || true)
    if [ "$n_begin" != 1 ] || [ "$n_end" != 1 ]; then
        echo "$h: needs exactly one core begin and one core end line (has $n_begin and $n_end)" >&2
        status=1
        continue
    fi
    tmp=$(mktemp)
    awk -v b="$begin" -v e="$end" -v src="$src" '
        $0 == b { while ((getline line < src) > 0) print line; skip = 1; next }
        $0 == e { skip = 0; next }
        !skip { print }
    ' "$h" >"$tmp"
    if cmp -s "$tmp" "$h"; then
        rm -f "$tmp"
    elif [ $check = 1 ]; then
        echo "$h: its copy of the loop core differs from $src (run tools/stamp_core.sh)" >&2
        rm -f "$tmp"
        status=1
    else
        cat "$tmp" >"$h"
        rm -f "$tmp"
        echo "stamped $h"
    fi
done
exit $status
