#!/usr/bin/env bash
# tools/stamp_core.sh - copies the blocks every header of the family shares
# from their one source into each header that carries them, between the
# lines "/* ==== asynckit NAME begin ==== */" and "/* ==== asynckit NAME end ==== */":
#
#   core              core/core.h         sched.h aio_stream.h asyncusb.h asyncdev.h
#   aio-sched bridge  core/bridge_aio.h   sched.h aio_stream.h
#   usb-sched bridge  core/bridge_usb.h   sched.h asyncusb.h
#   dev-sched bridge  core/bridge_dev.h   sched.h asyncdev.h
#
# Edit the source, then run this.
#
#   tools/stamp_core.sh           rewrite the headers that differ
#   tools/stamp_core.sh --check   change nothing; exit 1 naming every
#                                 header whose copy differs (make test runs this)
set -eu
cd "$(dirname "$0")/.."
check=0
[ "${1:-}" = --check ] && check=1
status=0

stamp() {  # stamp NAME SOURCE HEADER...
    local name=$1 src=$2 h n_begin n_end tmp begin end
    shift 2
    begin="/* ==== asynckit $name begin ==== */"
    end="/* ==== asynckit $name end ==== */"
    for h in "$@"; do
        [ -f "$h" ] || continue
        n_begin=$(grep -cxF "$begin" "$h" || true)
        n_end=$(grep -cxF "$end" "$h" || true)
        if [ "$n_begin" != 1 ] || [ "$n_end" != 1 ]; then
            echo "$h: needs exactly one '$name' begin and end line (has $n_begin and $n_end)" >&2
            status=1
            continue
        fi
        tmp=$(mktemp)
        awk -v b="$begin" -v e="$end" -v src="$src" '
            $0 == b { while ((getline line < src) > 0) print line; close(src); skip = 1; next }
            $0 == e { skip = 0; next }
            !skip { print }
        ' "$h" >"$tmp"
        if cmp -s "$tmp" "$h"; then
            rm -f "$tmp"
        elif [ $check = 1 ]; then
            echo "$h: its copy of $src differs (run tools/stamp_core.sh)" >&2
            rm -f "$tmp"
            status=1
        else
            cat "$tmp" >"$h"
            rm -f "$tmp"
            echo "stamped $name into $h"
        fi
    done
}

stamp core core/core.h sched.h aio_stream.h asyncusb.h asyncdev.h
stamp "aio-sched bridge" core/bridge_aio.h sched.h aio_stream.h
stamp "usb-sched bridge" core/bridge_usb.h sched.h asyncusb.h
stamp "dev-sched bridge" core/bridge_dev.h sched.h asyncdev.h
exit $status
