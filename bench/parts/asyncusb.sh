#!/usr/bin/env bash
# bench/parts/asyncusb.sh - CPU instructions per completed USB transfer
# (valgrind's callgrind) for asyncusb, a plain libusb async loop doing the
# same work, and python-libusb1, on the same emulated device; then
# streaming (ausb_pipe) against plain libusb with 1, 4, 16 and 64 in flight.
#
# Workload: bulk IN transfers of 512 bytes from the fake device 1234:0001 of
# tests/usb_fakehost.c, DEPTH in flight, each resubmitted from its callback.
# Endpoint 88 completes an URB at once, 89 one poll later (as bus time
# would).  Each program runs twice, with N1 and N2 transfers; the
# difference divided by N2 - N1 removes start-up and enumeration.
#
# "all" counts every instruction of the process; "no emul" leaves out the
# umockdev preload's ioctl emulation (a socket round trip per usbfs ioctl
# that a real kernel does in a cheap system call), so it shows the cost of
# the libraries themselves.
set -u
cd "$(dirname "$0")/../.." || exit 2
: "${CC:=gcc}" "${PKG_CONFIG:=pkg-config}"
B_OUT=${B_OUT:-build/bench}
mkdir -p "$B_OUT"
N1=${AUSB_BENCH_N1:-200}
N2=${AUSB_BENCH_N2:-1200}
PY=${AUSB_BENCH_PYTHON:-/usr/bin/python3}

need() { command -v "$1" >/dev/null 2>&1 || { echo "asyncusb bench: $1 missing (make deps)"; exit 1; }; }
need valgrind
need callgrind_annotate
need umockdev-wrapper

LIBUSB=$($PKG_CONFIG --cflags --libs libusb-1.0)
UMOCK=$($PKG_CONFIG --cflags --libs umockdev-1.0)
# shellcheck disable=SC2086
$CC -O2 -g -iquote . -o "$B_OUT/usb_fakehost" tests/usb_fakehost.c $UMOCK || exit 1
# shellcheck disable=SC2086
$CC -std=c99 -O2 -g -I. -o "$B_OUT/usb_ausb" bench/usb_ausb.c $LIBUSB || exit 1
# shellcheck disable=SC2086
$CC -std=c99 -O2 -g -o "$B_OUT/usb_libusb" bench/usb_libusb.c $LIBUSB || exit 1
# shellcheck disable=SC2086
$CC -std=c99 -O2 -g -I. -o "$B_OUT/usb_pipe" bench/usb_pipe.c $LIBUSB || exit 1
have_py=1
"$PY" -c 'import usb1' 2>/dev/null || have_py=0

# ir FILE: "total emulation" instruction counts of one callgrind profile.
ir() {
    callgrind_annotate --inclusive=yes "$1" 2>/dev/null | awk '
        /PROGRAM TOTALS/ { gsub(",", "", $1); t = $1 }
        /\?\?\?:ioctl \[.*libumockdev-preload/ { gsub(",", "", $1); e = $1 }
        END { print t + 0, e + 0 }'
}

# measure NAME EP DEPTH CMD... [-- EXTRA]: prints "all noemul" per transfer.
measure() {
    local name=$1 ep=$2 depth=$3 n out t1 e1 t2 e2 extra=
    shift 3
    case "${*: -1}" in inline) extra=inline; set -- "${@:1:$(($# - 1))}" ;; esac
    for n in "$N1" "$N2"; do
        out="$B_OUT/cg.$name.$ep.$depth.$n"
        rm -f "$out"
        if ! umockdev-wrapper "$B_OUT/usb_fakehost" -- valgrind --tool=callgrind --callgrind-out-file="$out" \
                "$@" "$n" "$depth" "$ep" $extra >"$out.log" 2>&1 || ! grep -q "completed $n bytes" "$out.log"; then
            echo "failed failed"
            return
        fi
    done
    read -r t1 e1 < <(ir "$B_OUT/cg.$name.$ep.$depth.$N1")
    read -r t2 e2 < <(ir "$B_OUT/cg.$name.$ep.$depth.$N2")
    awk -v t1="$t1" -v e1="$e1" -v t2="$t2" -v e2="$e2" -v n="$((N2 - N1))" \
        'BEGIN { printf "%d %d\n", (t2 - t1) / n, ((t2 - e2) - (t1 - e1)) / n }'
}

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "failed" || b == "failed" || b == 0) print "-"; else printf "%+.1f%%\n", 100 * (a - b) / b }'; }

# AUSB_BENCH_ONLY=stream skips to the streaming table.
if [ "${AUSB_BENCH_ONLY:-}" != stream ]; then
echo "instructions per completed transfer (callgrind), $((N2 - N1)) transfers of 512 bytes"
printf '%-34s %9s %9s %9s %9s %9s %12s %16s %10s\n' "workload" "asyncusb" "vs libusb" "inline" "vs libusb" "libusb" "python-usb1" "(no emul) ausb" "libusb"
for cfg in "88 4" "89 4" "89 16"; do
    set -- $cfg
    ep=$1 depth=$2
    read -r aa an < <(measure ausb "$ep" "$depth" "$B_OUT/usb_ausb")
    read -r ia in_ < <(measure ausbinline "$ep" "$depth" "$B_OUT/usb_ausb" inline)
    read -r la ln < <(measure libusb "$ep" "$depth" "$B_OUT/usb_libusb")
    pa="-"
    if [ "$have_py" = 1 ] && [ "$depth" = 4 ]; then
        read -r pa pn < <(measure python1 "$ep" "$depth" "$PY" bench/usb_python1.py)
    fi
    case $ep in 88) what="at once" ;; *) what="one poll later" ;; esac
    printf '%-34s %9s %9s %9s %9s %9s %12s %16s %10s\n' "ep $ep ($what), depth $depth" "$aa" "$(pct "$aa" "$la")" \
        "$ia" "$(pct "$ia" "$la")" "$la" "$pa" "$an ($(pct "$an" "$ln"))" "$ln"
done
[ "$have_py" = 1 ] || echo "python3-usb1 not importable by $PY: python column skipped"
echo "note: by default asyncusb runs callbacks after libusb's event handling returns (so they may"
echo "call any function, close their handle...); a plain libusb loop resubmits inside it and, on an"
echo "emulated device that answers at once, reaps the next URB in the same call.  The difference is"
echo "one libusb_handle_events call per loop iteration, spread over the transfers of that iteration."
echo "\"inline\" is asyncusb with AUSB_INLINE_CALLBACK, whose callbacks run inside libusb's event"
echo "handling like the plain loop's (and may only record, resubmit, cancel or free transfers)."
fi

# Streaming: an ausb_pipe against the plain libusb loop with the same number
# in flight, on endpoint 89 (one poll later).  Instructions per byte from
# callgrind as above; MB/s from one timed run of AUSB_BENCH_NT transfers
# without valgrind (on an emulated device: a socket round trip per ioctl
# bounds it, not the bus).
NT=${AUSB_BENCH_NT:-20000}
# mbs_args PROG DEPTH [inline]: MB/s of NT transfers on ep 89.
mbs_args() {
    local prog=$1 depth=$2 t0 t1
    shift 2
    t0=$(date +%s%N)
    umockdev-wrapper "$B_OUT/usb_fakehost" -- "$prog" "$NT" "$depth" 89 "$@" >/dev/null 2>&1 || { echo "-"; return; }
    t1=$(date +%s%N)
    awk -v b="$((NT * 512))" -v ns="$((t1 - t0))" 'BEGIN { printf "%.2f\n", b / 1e6 / (ns / 1e9) }'
}
per_byte() { awk -v a="$1" 'BEGIN { if (a == "failed") print "failed"; else printf "%.2f\n", a / 512 }'; }
echo
echo "streaming, 512-byte bulk IN transfers on ep 89: instructions per byte (callgrind, $((N2 - N1)) transfers)"
echo "and MB/s ($NT transfers, wall clock: noisy, bound by the emulation's socket round trips)"
echo "pipe: ausb_pipe, handler from dispatch; inline: ausb_pipe with inline_chunks; libusb: plain loop"
printf '%-9s %8s %8s %8s %8s %8s | %7s %7s %7s %8s %8s\n' "in flight" "pipe" "inline" "libusb" "pipe" "inline" \
    "pipe" "inline" "libusb" "pipe" "inline"
printf '%-9s %8s %8s %8s %8s %8s | %7s %7s %7s %8s %8s\n' "" "ins/B" "ins/B" "ins/B" "vs lib" "vs lib" \
    "MB/s" "MB/s" "MB/s" "vs lib" "vs lib"
for depth in 1 4 16 64; do
    read -r pa pn < <(measure pipe 89 "$depth" "$B_OUT/usb_pipe")
    read -r ia in_ < <(measure pipeinline 89 "$depth" "$B_OUT/usb_pipe" inline)
    read -r la ln < <(measure libusb 89 "$depth" "$B_OUT/usb_libusb")
    pm=$(mbs_args "$B_OUT/usb_pipe" "$depth")
    im=$(mbs_args "$B_OUT/usb_pipe" "$depth" inline)
    lm=$(mbs_args "$B_OUT/usb_libusb" "$depth")
    printf '%-9s %8s %8s %8s %8s %8s | %7s %7s %7s %8s %8s\n' "$depth" "$(per_byte "$pa")" "$(per_byte "$ia")" \
        "$(per_byte "$la")" "$(pct "$pa" "$la")" "$(pct "$ia" "$la")" "$pm" "$im" "$lm" "$(pct "$pm" "$lm")" "$(pct "$im" "$lm")"
done
