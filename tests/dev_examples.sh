#!/usr/bin/env bash
# tests/dev_examples.sh - examples/gpio_counter.c as a user runs it, on a
# chip played by tools/fakegpio.h (a named pipe: "OFFSET LEVEL" lines are
# edges).  The same turns and presses as in the test VM on gpio-sim
# (tests/vm/dev.sh), and the same output (tests/gpio_counter.expected).
# Run from the repository root as: bash tests/dev_examples.sh CHECK;
# exit status 0 when the check passes; tests/parts/asyncdev.sh runs each.
#
#   build      the example builds with the command its comment gives,
#              strict, and with the played chip (plain; ASan+UBSan where
#              clang is)
#   counter [asan]   the counter turned both ways, clicked and held
#
# Each step waits for the line the one before it makes; only the presses
# last (a click 0.1 s, the long press until "bye").
set -u
cd "$(dirname "$0")/.." || exit 2
: "${CC:=gcc}" "${CLANG:=clang}"
T_WARN=${T_WARN:-'-std=c99 -Wall -Wextra -pedantic -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wundef'}
D=build/dev_examples
mkdir -p "$D"

dev_build() {
    # shellcheck disable=SC2086
    $CC -std=c99 -O2 -I. -o "$D/gpio_counter" examples/gpio_counter.c &&
    $CC $T_WARN -O2 -I. -o "$D/gpio_counter_strict" examples/gpio_counter.c &&
    $CC $T_WARN -O2 -I. -include tools/fakegpio.h -o "$D/gpio_counter_fake" examples/gpio_counter.c || return 1
    if command -v "$CLANG" >/dev/null 2>&1; then
        $CLANG -std=c99 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
            -I. -include tools/fakegpio.h -o "$D/gpio_counter_fake_asan" examples/gpio_counter.c || return 1
    fi
    # the usage line, and a chip that is not there
    "$D/gpio_counter" 2>"$D/usage.err"; [ $? -eq 2 ] && grep -qx 'usage: gpio_counter CHIP BUTTON A B' "$D/usage.err" &&
    { "$D/gpio_counter" "$D/no-such-chip" 0 1 2 2>"$D/nochip.err"; [ $? -eq 1 ]; } &&
    grep -q 'No such file or directory' "$D/nochip.err"
}

# dev_lines N: until the counter has printed N lines (5 s at most)
dev_lines() {
    local i
    for i in $(seq 100); do
        [ "$(wc -l <"$OUT")" -ge "$1" ] && return 0
        sleep 0.05
    done
    echo "the counter printed no line $1"
    return 1
}
# through a descriptor of our own that also reads: a write never waits for
# the counter to open the pipe, nor blocks once it has gone
dev_edge() { echo "$1 $2" >&3; }
dev_detent() { dev_edge "$1" 1 && dev_edge "$2" 1 && dev_edge "$1" 0 && dev_edge "$2" 0; }

dev_counter() {
    local prog=$D/gpio_counter_fake${1:+_$1} pid rc
    [ -x "$prog" ] || { echo "$prog is not built"; return 1; }
    CHIP=$D/chip${1:+_$1}
    OUT=$D/counter${1:+_$1}.out
    rm -f "$CHIP" && mkfifo "$CHIP" && exec 3<>"$CHIP" || return 1
    "$prog" "$CHIP" 0 1 2 >"$OUT" 2>&1 &
    pid=$!
    dev_lines 1 &&
    dev_detent 1 2 && dev_lines 2 && dev_detent 1 2 && dev_lines 3 &&
    dev_detent 2 1 && dev_lines 4 && dev_detent 2 1 && dev_lines 5 && dev_detent 2 1 && dev_lines 6 &&
    dev_edge 0 1 && sleep 0.1 && dev_edge 0 0 && dev_lines 7 &&
    dev_detent 1 2 && dev_lines 8 &&
    dev_edge 0 1 && dev_lines 9
    dev_edge 0 0
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    exec 3>&-
    { echo "counter on $CHIP: button 0, encoder 1 2"; cat tests/gpio_counter.expected; } | diff -u - "$OUT" || return 1
    [ "$rc" -eq 0 ] || { echo "exit status $rc"; return 1; }
}

case "${1:-}" in
    build) dev_build ;;
    counter) dev_counter "${2:-}" ;;
    *) echo "usage: tests/dev_examples.sh build|counter [asan]" >&2; exit 2 ;;
esac
