#!/usr/bin/env bash
# tests/soak.sh - `make soak`: SOAK_SECONDS (default 600) of mixed load, all
# at once, with the resident memory of every long-running process watched.
# Not part of `make test`.
#
#   echo_server   examples/echo_server.c, one process for the whole soak
#   aio_client    tests/aio_roundtrips.c in rounds: SOAK_CONNS (5000)
#                 connections open at once, SOAK_RTS (200000) checksummed
#                 round trips, all closed; again until the time is up
#   usb_torture   tests/usb_torture.c on the umockdev testbed: random
#                 transfers, cancels, timeouts, stalls, unplug and replug
#   sched_churn   tests/sched_churn.c: timers, tasks, posts from threads
#
# VmRSS of each (from /proc/PID/status) is sampled every SOAK_INTERVAL
# seconds (default 5) and printed as a table.  Verdict, per process, over
# the samples after the first third of the run (the warm-up):
#   flat   max - min <= bound, where bound = max(1 MiB, 5% of the median)
#   trend  none: the mean of the last third of those samples exceeds the
#          mean of their first third by no more than bound / 2, and they do
#          not rise monotonically (never down, up by more than
#          max(256 KiB, bound / 4) in all)
# The soak passes when every program passes its own checks and every
# process is flat with no trend.  Exit status 0 then.
#
#   bash tests/soak.sh --selftest    the verdict on made-up samples only
#
# (The USB torture runs here for the time given; the fixed count of a
# million transfers is `USB_TORTURE_N=1000000 tests/run.sh asyncusb`.)
set -u
cd "$(dirname "$0")/.." || exit 2
: "${CC:=gcc}" "${SOAK_SECONDS:=600}" "${SOAK_INTERVAL:=5}" "${SOAK_CONNS:=5000}" "${SOAK_RTS:=200000}"
OUT=build/soak
mkdir -p "$OUT"
WARN='-std=c99 -Wall -Wextra -pedantic -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wundef'
PKG=${PKG_CONFIG:-pkg-config}

# soak_verdict SAMPLES SECONDS NAME...: the verdict for each NAME (column
# k + 1 of SAMPLES: "t rss1 rss2 ..."); status 1 when any is not flat.
soak_verdict() {
    local samples=$1 secs=$2 i=0 rc=0 name
    shift 2
    echo "RSS after the warm-up (first third), KiB:"
    for name in "$@"; do
        awk -v col=$((i + 2)) -v name="$name" -v warm=$((secs / 3)) -v endt="$secs" '
            $1 >= warm && $1 <= endt && $col != "-" { v[n++] = $col + 0 }
            END {
                if (n < 3) { printf "  %-12s too few samples (%d): no verdict\n", name, n; exit 2 }
                min = max = v[0]
                for (i = 0; i < n; i++) { if (v[i] < min) min = v[i]; if (v[i] > max) max = v[i]; s[i] = v[i] }
                for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (s[j] < s[i]) { x = s[i]; s[i] = s[j]; s[j] = x }
                med = s[int(n / 2)]
                bound = med * 0.05; if (bound < 1024) bound = 1024
                k = int(n / 3); if (k < 1) k = 1
                a = 0; b = 0
                for (i = 0; i < k; i++) { a += v[i]; b += v[n - 1 - i] }
                growth = (b - a) / k
                down = 0
                for (i = 1; i < n; i++) if (v[i] < v[i - 1]) down = 1
                rise = v[n - 1] - v[0]; mono_min = bound / 4; if (mono_min < 256) mono_min = 256
                flat = (max - min <= bound); trend = (growth > bound / 2) || (!down && rise > mono_min)
                printf "  %-12s %3d samples  min %7d  max %7d  spread %6d  bound %6d  growth %+7.0f  %s\n",
                       name, n, min, max, max - min, bound, growth,
                       (flat && !trend) ? "FLAT" : (trend ? "GROWS" : "NOT FLAT")
                exit (flat && !trend) ? 0 : 1
            }' "$samples" || rc=1
        i=$((i + 1))
    done
    return $rc
}

# --selftest: the verdict on made-up samples (tests/parts/soak.sh): flat
# ones pass; a slow leak (below the spread bound, but a trend), a jump and
# a big leak each fail.
if [ "${1:-}" = --selftest ]; then
    f=$(mktemp)
    awk 'BEGIN { for (t = 0; t <= 600; t += 5)
        printf "%d %d %d %d %d %d\n", t, 20000 + (t % 15 == 0 ? 300 : 0), 20000 + t * 1.5,
               20000 + (t > 500 ? 3000 : 0), 20000 + t * 40, 1500 + (t < 100 ? t * 10 : 1000) }' >"$f"
    out=$(soak_verdict "$f" 600 flat slowleak jump bigleak warmup)
    echo "$out"
    rm -f "$f"
    echo "$out" | grep -Eq '^  flat .* FLAT$' && echo "$out" | grep -Eq '^  slowleak .* GROWS$' &&
        echo "$out" | grep -Eq '^  jump .* (GROWS|NOT FLAT)$' && echo "$out" | grep -Eq '^  bigleak .* GROWS$' &&
        echo "$out" | grep -Eq '^  warmup .* FLAT$'
    exit $?
fi

echo "soak: building"
$CC $WARN -O2 -g -I. -o "$OUT/echo_server" examples/echo_server.c -lpthread || exit 1
$CC $WARN -O2 -g -I. -o "$OUT/aio_roundtrips" tests/aio_roundtrips.c -lpthread || exit 1
$CC $WARN -O2 -g -I. -o "$OUT/sched_churn" tests/sched_churn.c -lpthread || exit 1
have_usb=1
if command -v umockdev-wrapper >/dev/null 2>&1 && $PKG --exists libusb-1.0 umockdev-1.0 2>/dev/null; then
    # shellcheck disable=SC2046
    $CC -O2 -g -iquote . -o "$OUT/usb_torture" tests/usb_torture.c $($PKG --cflags --libs libusb-1.0 umockdev-1.0) ||
        exit 1
else
    echo "soak: umockdev or libusb missing (make deps): no USB torture"
    have_usb=0
fi

# Descriptors for SOAK_CONNS sockets in the server and in the client.
need=$((SOAK_CONNS + 64))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
    ulimit -Hn "$need" 2>/dev/null || echo "soak: note: the fd hard limit is $hard and cannot be raised to $need"
fi
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
    echo "REDUCED: the fd limit ($hard) allows $((hard - 64)) connections, not $SOAK_CONNS"
    SOAK_CONNS=$((hard - 64))
    need=$hard
fi
ulimit -Sn "$need"

names=()
pids=()
logs=()
start() {   # start NAME LOG CMD...
    local name=$1 log=$2
    shift 2
    "$@" >"$log" 2>&1 &
    names+=("$name")
    pids+=("$!")
    logs+=("$log")
}

: >"$OUT/echo.out"
"$OUT/echo_server" 0 >"$OUT/echo.out" 2>"$OUT/echo.err" &
echo_pid=$!
for _ in $(seq 1 200); do grep -q '^listening on [0-9]' "$OUT/echo.out" && break; sleep 0.05; done
port=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$OUT/echo.out" | head -n 1)
[ -n "$port" ] || { echo "soak: echo_server did not start"; cat "$OUT/echo.err"; kill "$echo_pid"; exit 1; }
names+=(echo_server); pids+=("$echo_pid"); logs+=("$OUT/echo.err")

start aio_client "$OUT/aio_client.log" "$OUT/aio_roundtrips" 127.0.0.1 "$port" "$SOAK_CONNS" "$SOAK_RTS" \
    --server-pid "$echo_pid" --seconds "$SOAK_SECONDS"
[ $have_usb -eq 1 ] && start usb_torture "$OUT/usb_torture.log" \
    env USB_TORTURE_SECONDS="$SOAK_SECONDS" umockdev-wrapper "$OUT/usb_torture"
start sched_churn "$OUT/sched_churn.log" env SCHED_CHURN_SECONDS="$SOAK_SECONDS" "$OUT/sched_churn"

echo "soak: $SOAK_SECONDS s, VmRSS in KiB every $SOAK_INTERVAL s (echo_server on port $port," \
     "$SOAK_CONNS connections a round)"
header=$(printf '%7s' 't(s)'; for n in "${names[@]}"; do printf ' %12s' "$n"; done)
echo "$header"
samples="$OUT/rss.tsv"
: >"$samples"
t0=$(date +%s.%N)
rss_of() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
while :; do
    sleep "$SOAK_INTERVAL"
    t=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
    line=$t
    alive=0
    for i in "${!pids[@]}"; do
        r=$(rss_of "${pids[$i]}")
        [ "${names[$i]}" != echo_server ] && [ -n "$r" ] && alive=1
        line="$line ${r:--}"
    done
    echo "$line" >>"$samples"
    # shellcheck disable=SC2086
    set -- $line
    printf '%7s' "$1"; shift; for v in "$@"; do printf ' %12s' "$v"; done; echo
    [ $alive -eq 1 ] || break
    [ "$t" -gt $((SOAK_SECONDS + 120)) ] && { echo "soak: still running 120 s after the end"; break; }
done

status=0
for i in "${!pids[@]}"; do
    [ "${names[$i]}" = echo_server ] && continue
    if wait "${pids[$i]}" && grep -Eq '^[a-z_]+: [1-9][0-9]* passed, 0 failed$' "${logs[$i]}"; then
        echo "soak: ${names[$i]} passed its checks"
    else
        echo "soak: ${names[$i]} FAILED; last output:"
        tail -n 12 "${logs[$i]}" | sed 's/^/    /'
        status=1
    fi
done
kill -TERM "$echo_pid" 2>/dev/null
wait "$echo_pid" || { echo "soak: echo_server exit status $?"; status=1; }

grep -h '^rounds\|^connections\|^time' "$OUT/aio_client.log" | head -n 4 | sed 's/^/    aio_client: /'
[ $have_usb -eq 1 ] && grep -h '^transfers\|^statuses\|^time\|^cancels' "$OUT/usb_torture.log" | sed 's/^/    usb_torture: /'
grep -h 'rounds in\|^threads' "$OUT/sched_churn.log" | sed 's/^/    sched_churn: /'

soak_verdict "$samples" "$SOAK_SECONDS" "${names[@]}" || status=1
[ $status -eq 0 ] && echo "soak: PASS" || echo "soak: FAIL"
exit $status
