#!/usr/bin/env bash
# examples/demo.sh - the demonstration behind `make demo`: the family at work
# on what every machine has: sched.h here, aio_stream.h and asyncusb.h (an
# emulated camera, then the machine's own USB devices) in examples/demo.d/.
# Run through make, which installs what is missing and builds the examples
# and build/fakecam.
set -u
cd "$(dirname "$0")/.." || exit 2

# Bold headings on a terminal, plain ones in a log.
if [ -t 1 ]; then say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else say() { printf '\n== %s\n' "$*"; }
fi

for f in sched_demo shared_bus button echo_server tcp_client ausb ptp_info fakecam; do
    [ -x "build/$f" ] || { echo "demo: build/$f is missing: run make demo" >&2; exit 2; }
done

say "sched_demo 3: jobs at 80 Hz, 15 Hz and every 0.5 s on one loop"
build/sched_demo 3 || exit 1

say "shared_bus: two devices share one SPI bus through a managed resource"
build/shared_bus 1 | tail -n 12 || exit 1

say "button: the debouncer reads a bouncy click, a double press and a long press"
build/button || exit 1

for part in examples/demo.d/*.sh; do
    [ -e "$part" ] || continue
    . "$part" || exit 1
done
echo
