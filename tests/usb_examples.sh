# tests/usb_examples.sh - the asyncusb examples against emulated devices
# (sourced by tests/parts/asyncusb.sh).
#
# - each example builds with the one cc command written at its top, and
#   with strict warnings;
# - ptp_info talks to the recorded Canon camera (../shared/recordings) and
#   prints its model (without the recording these checks are skipped, each
#   named on a SKIP line; the emulated camera covers the same paths);
# - usb_monitor lists the fake devices (--once) and sees one arrive and
#   leave; bulk_stream streams whole transfers and names a stall;
# - ausb list / dev-info print the expected lines, and dev-info agrees field
#   by field with lsusb -v on the camera and on the fake devices of
#   tests/usb_fakehost.c;
# - every USB example and tools/fakecam refuse a bad command line (junk,
#   trailing characters, signs, out of range) with a usage line and exit 2;
# - ptp_info ends, with exit 1 and a message, against a camera that answers
#   with nothing but zero-length packets, one that trickles a 1 MiB data
#   phase a byte at a time, and one that never answers (tools/fakecam
#   --misbehave), within its --timeout;
# - libusb allocates per submit what asyncusb.h's manual says it does
#   (bench/usb_submit_allocs.c counts it; glibc on 64-bit only).

AU_REC_DIR=${AUSB_RECORDINGS:-../shared/recordings}/canon-powershot-sx200
AU_REC_DEV=$AU_REC_DIR/canon-powershot-sx200.umockdev
AU_REC_IOCTL=$AU_REC_DIR/canon-powershot-sx200.ioctl

# au_build_example NAME: the command from the comment, then a strict build.
au_build_example() {
    local name=$1 cmd
    cmd=$(grep -m1 '^ \*   cc ' "examples/$name.c" | sed 's/^ \*   //')
    t_check "examples/$name.c builds with its own command line" bash -c "mkdir -p build && $cmd"
    local strict="$CC -std=c99 -Wall -Wextra -pedantic -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wundef \
         -O2 -I. -o $T_OUT/$name examples/$name.c \$(${PKG_CONFIG:-pkg-config} --cflags --libs libusb-1.0) -lpthread"
    # the checks of one name that run.sh may pick alone need the program too
    if t_selected "examples/$name.c"; then
        t_check "examples/$name.c builds with strict warnings" bash -c "$strict"
    else
        bash -c "$strict" >/dev/null 2>&1
    fi
}

au_replay() {
    umockdev-run -d "$AU_REC_DEV" -i /dev/bus/usb/001/011="$AU_REC_IOCTL" -- "$@"
}

au_fakehost() {
    umockdev-wrapper "$T_OUT/usb_fakehost" -- "$@"
}

# ptp_info must print exactly these five fields, with the recorded model.
au_check_ptp_output() {
    local out=$1
    grep -qx 'Model: Canon PowerShot SX200 IS' "$out" &&
    grep -qx 'Manufacturer: Canon Inc.' "$out" &&
    grep -qx 'Device version: 1-6.0.1.0' "$out" &&
    grep -qx 'Serial number: C767F1C714174C309255F70E4A7B2EE2' "$out" &&
    grep -qx 'Operations supported: 52' "$out" &&
    [ "$(wc -l <"$out")" -eq 5 ]
}

au_ptp_replay() {
    au_replay "$T_OUT/ptp_info" "$@" >"$T_OUT/ptp_info.out" 2>"$T_OUT/ptp_info.err" || return 1
    cat "$T_OUT/ptp_info.out"
    au_check_ptp_output "$T_OUT/ptp_info.out"
}

au_ptp_replay_valgrind() {
    au_replay valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --suppressions=tests/usb_valgrind.supp "$T_OUT/ptp_info" >"$T_OUT/ptp_info_vg.out" 2>&1 &&
    grep -qx 'Model: Canon PowerShot SX200 IS' "$T_OUT/ptp_info_vg.out"
}

au_expect_fail() { ! "$@"; }

# au_list_matches_lsusb RUNNER...: ausb list and lsusb name the same devices
# (bus, device number, ids; lsusb's names come from its database instead of
# the device, so the text after the ids is not compared).
au_list_matches_lsusb() {
    "$@" "$T_OUT/ausb" list | cut -c1-32 | sort >"$T_OUT/list_ausb.txt" || return 1
    "$@" lsusb | cut -c1-32 | sort >"$T_OUT/list_lsusb.txt" || return 1
    [ -s "$T_OUT/list_ausb.txt" ] && diff -u "$T_OUT/list_lsusb.txt" "$T_OUT/list_ausb.txt"
}

au_dev_info_camera() {
    local want="$T_OUT/dev_info_camera.want"
    cat >"$want" <<'EOF'
Bus 001 Device 011: ID 04a9:31c0 v.0002 usb v.0200 speed 480
  Device classes: 00 00 00
  Control Endpoint 00, MPS=64
  Configuration #1
    Interface #0
      Alternate Setting 0, class 06 01 01
        Bulk In Endpoint 81, MPS=512, interval=0
        Bulk Out Endpoint 02, MPS=512, interval=0
        Interrupt In Endpoint 83, MPS=8, interval=9
EOF
    au_replay "$T_OUT/ausb" dev-info 04a9 31c0 >"$T_OUT/dev_info_camera.out" &&
    diff -u "$want" "$T_OUT/dev_info_camera.out"
}

# au_lsusb_compare RUNNER VID PID: dev-info and lsusb -v on the same device.
au_lsusb_compare() {
    local runner=$1 vid=$2 pid=$3 a="$T_OUT/devinfo_${2}_$3.txt" l="$T_OUT/lsusb_${2}_$3.txt"
    $runner "$T_OUT/ausb" dev-info "$vid" "$pid" >"$a" || return 1
    $runner lsusb -v -d "$vid:$pid" >"$l" 2>/dev/null
    grep -q '^Device Descriptor:' "$l" || return 1
    python3 tests/usb_lsusb.py "$a" "$l"
}

# The comparison must notice a wrong field (a test that cannot fail is no test).
au_lsusb_detects_mismatch() {
    local a="$T_OUT/devinfo_04a9_31c0.txt" l="$T_OUT/lsusb_04a9_31c0.txt"
    sed 's/interval=9/interval=8/' "$a" >"$a.bad"
    ! python3 tests/usb_lsusb.py "$a.bad" "$l"
}

# usb_monitor --once: one arrival line per fake device, as lsusb names them.
au_monitor_once() {
    local out="$T_OUT/usb_monitor_once.out"
    au_fakehost "$T_OUT/usb_monitor" --once >"$out" || return 1
    [ "$(grep -c '^arrived Bus [0-9][0-9][0-9] Device [0-9][0-9][0-9]: ID [0-9a-f]\{4\}:[0-9a-f]\{4\}$' "$out")" -eq 7 ] &&
    grep -qx 'arrived Bus 001 Device 005: ID 1234:0001' "$out" &&
    [ "$(wc -l <"$out")" -eq 7 ]
}

# usb_monitor: the 7 present devices, then 1234:00c3 arrives and leaves
# (usb_fakehost --hotplug plugs it after the seventh line).
au_monitor_hotplug() {
    local out="$T_OUT/usb_monitor_hotplug.out"
    umockdev-wrapper "$T_OUT/usb_fakehost" --hotplug -- "$T_OUT/usb_monitor" >"$out" || return 1
    [ "$(grep -c '^arrived ' "$out")" -eq 8 ] &&
    [ "$(sed -n 8p "$out")" = 'arrived Bus 001 Device 009: ID 1234:00c3' ] &&
    [ "$(sed -n 9p "$out")" = 'left Bus 001 Device 009: ID 1234:00c3' ]
}

# bulk_stream on the fake's always-ready endpoint 0x88 for half a second:
# a closing line whose bytes are whole 64 KiB transfers.
au_bulk_stream() {
    local out="$T_OUT/bulk_stream.out" last b t
    au_fakehost "$T_OUT/bulk_stream" 1234:0001 88 "$1" 0.5 >"$out" || return 1
    last=$(tail -n 1 "$out")
    echo "$last" | grep -Eq '^total: bytes [0-9]+ transfers [0-9]+ MB/s [0-9.]+ status stopped$' || return 1
    b=$(echo "$last" | awk '{print $3}')
    t=$(echo "$last" | awk '{print $5}')
    [ "$t" -gt 0 ] && [ "$b" -eq $((t * 65536)) ]
}

# au_interrupt SIG OUT PROGRAM ARGS: PROGRAM under the fake host, given SIG
# once it has run half a second; succeeds when it then exits with status 0
# (its output in OUT).  The signal goes to PROGRAM alone, not to the
# usb_fakehost that forked it.
au_interrupt() {
    local sig=$1 out=$2 bg child i rc
    shift 2
    au_fakehost "$@" >"$out" &
    bg=$!
    child=
    for i in $(seq 1 100); do   # bg runs usb_fakehost, whose child is PROGRAM
        child=$(pgrep -P "$bg" | head -n 1)
        [ -n "$child" ] && child=$(pgrep -P "$child" | head -n 1)
        [ -n "$child" ] && break
        sleep 0.05
    done
    [ -n "$child" ] || { kill "$bg"; wait "$bg"; return 1; }
    sleep 0.5
    kill "-$sig" "$child"
    wait "$bg"
    rc=$?
    [ "$rc" -eq 0 ] || { echo "exit $rc after SIG$sig"; cat "$out"; return 1; }
}

# Ctrl-C ends an endless stream cleanly: the closing line, status 0.
au_bulk_stream_sigint() {
    local out="$T_OUT/bulk_stream_sigint.out"
    au_interrupt INT "$out" "$T_OUT/bulk_stream" 1234:0001 88 4 || return 1
    tail -n 1 "$out" | grep -Eq '^total: bytes [1-9][0-9]* transfers [0-9]+ MB/s [0-9.]+ status stopped$'
}

# usb_monitor leaves its loop on SIGINT and on SIGTERM with status 0.
au_monitor_signal() {
    local out="$T_OUT/usb_monitor_signal.out"
    au_interrupt "$1" "$out" "$T_OUT/usb_monitor" || return 1
    [ "$(grep -c '^arrived ' "$out")" -eq 7 ]
}

# A stalling endpoint: no bytes, the stall named, a failure exit.
au_bulk_stream_stall() {
    local out="$T_OUT/bulk_stream_stall.out"
    ! au_fakehost "$T_OUT/bulk_stream" 1234:0001 82 4 >"$out" &&
    grep -qx 'total: bytes 0 transfers 0 MB/s 0.0 status endpoint stalled' "$out"
}

# usb_lines over the fake's byte-stream loopback (OUT 05 -> IN 8b): every
# stdin line comes back, also a last one without its newline.
au_usb_lines() {
    local out="$T_OUT/usb_lines.out"
    printf 'hello\nsecond line\nno newline' | au_fakehost "$T_OUT/usb_lines" 1234:0001 0 8b 05 >"$out" || return 1
    [ "$(cat "$out")" = "$(printf '< hello\n< second line\n< no newline')" ]
}

# usb_lines on a stalling IN endpoint: the stall named, a failure exit.
au_usb_lines_stall() {
    local err="$T_OUT/usb_lines_stall.err"
    ! printf 'x\n' | au_fakehost "$T_OUT/usb_lines" 1234:0001 0 82 05 >/dev/null 2>"$err" &&
    grep -q 'endpoint stalled' "$err"
}

# usb_lines against a device that never answers (IN 84 holds every
# transfer): a second after the end of stdin it exits 0.  It used to wait
# for a line that never came.
au_usb_lines_quiet() {
    local t0 took rc
    t0=$(date +%s%N)
    printf 'x\n' | timeout 10 umockdev-wrapper "$T_OUT/usb_fakehost" -- "$T_OUT/usb_lines" 1234:0001 0 84 01 >/dev/null
    rc=$?
    took=$((($(date +%s%N) - t0) / 1000000))
    echo "exit $rc after $took ms"
    [ "$rc" -eq 0 ] && [ "$took" -lt 5000 ]
}

# au_usage_exit PROGRAM ARGS...: exit 2, a usage line on stderr, nothing on
# stdout (PROGRAM relative to $T_OUT).
au_usage_exit() {
    local prog=$1 rc
    shift
    "$T_OUT/$prog" "$@" >"$T_OUT/usage.out" 2>"$T_OUT/usage.err" </dev/null
    rc=$?
    [ "$rc" -eq 2 ] && grep -q '^usage: ' "$T_OUT/usage.err" && [ ! -s "$T_OUT/usage.out" ] ||
        { echo "exit $rc"; cat "$T_OUT/usage.err"; return 1; }
}

# au_ptp_hostile MODE SECONDS WANT: ptp_info against fakecam --misbehave
# MODE with --timeout SECONDS: exit 1 within SECONDS + 3 s, nothing on
# stdout, and a message on stderr that contains WANT.
au_ptp_hostile() {
    local mode=$1 secs=$2 want=$3 start rc
    start=$(date +%s)
    timeout -k 2 $((secs + 20)) "$T_OUT/fakecam_usb" --misbehave "$mode" -- "$T_OUT/ptp_info" --timeout "$secs" \
        >"$T_OUT/ptp_hostile.out" 2>"$T_OUT/ptp_hostile.err"
    rc=$?
    cat "$T_OUT/ptp_hostile.err"
    [ "$rc" -eq 1 ] && [ $(($(date +%s) - start)) -le $((secs + 3)) ] && [ ! -s "$T_OUT/ptp_hostile.out" ] &&
        grep -q "$want" "$T_OUT/ptp_hostile.err"
}

# The bad command lines: "PROGRAM|ARG ARG..." (no empty arguments).
au_bad_command_lines() {
    cat <<'EOF'
ausb|dev-info zz 0001
ausb|dev-info -1 -1
ausb|dev-info 1234x 0001
ausb|dev-info 12345 0001
ausb|dev-info 0x12 0001
ausb|dev-info 1234
ausb|dev-info 1234 0001 extra
ausb|list extra
ausb|frob
ptp_info|--timeout
ptp_info|--timeout 0
ptp_info|--timeout 1x
ptp_info|--timeout 3601
ptp_info|1234:0001x
ptp_info|1234
ptp_info|-1:-1
ptp_info|1234:0001 1234:0002
bulk_stream|1234:0001
bulk_stream|1234:0001 0x88
bulk_stream|1234:0001 80
bulk_stream|1234:0001 -81
bulk_stream|1234:0001 88 0
bulk_stream|1234:0001 88 65
bulk_stream|1234:0001 88 8x
bulk_stream|1234:0001 88 8 1.5s
bulk_stream|1234:0001 88 8 -1
bulk_stream|12:34:56 88
usb_lines|1234:0001 x 8b 05
usb_lines|1234:0001 256 8b 05
usb_lines|1234:0001 -0 8b 05
usb_lines|1234:0001 0 0b 05
usb_lines|1234:0001 0 8b 85
usb_lines|1234:0001 0 8b
usb_lines|1234:0001 0 8b 05 06
usb_monitor|--once extra
usb_monitor|--twice
fakecam_usb|--fail 10x1 -- true
fakecam_usb|--fail 0 -- true
fakecam_usb|--fail 1001=12345 -- true
fakecam_usb|--misbehave loud -- true
fakecam_usb|--fail
fakecam_usb|--
EOF
}

# t_check runs a command through timeout(1): shell functions go via bash -c.
au_t() {
    local name=$1
    shift
    t_check "$name" bash -c '"$@"' au_t "$@"
}

au_examples() {
    local libs
    export T_OUT AU_REC_DIR AU_REC_DEV AU_REC_IOCTL   # not CC: a later part cross-builds with make
    export -f au_replay au_fakehost au_check_ptp_output au_ptp_replay au_ptp_replay_valgrind \
        au_expect_fail au_dev_info_camera au_lsusb_compare au_lsusb_detects_mismatch au_list_matches_lsusb \
        au_monitor_once au_monitor_hotplug au_bulk_stream au_bulk_stream_stall au_interrupt au_bulk_stream_sigint \
        au_monitor_signal au_usb_lines au_usb_lines_stall au_usb_lines_quiet \
        au_usage_exit au_ptp_hostile
    au_build_example ausb
    au_build_example ptp_info
    au_build_example usb_monitor
    au_build_example bulk_stream
    au_build_example usb_lines
    libs=$(${PKG_CONFIG:-pkg-config} --cflags --libs umockdev-1.0)
    # shellcheck disable=SC2086
    if ! $CC -O2 -g -iquote . -o "$T_OUT/usb_fakehost" tests/usb_fakehost.c $libs >"$T_OUT/usb_fakehost.build.log" 2>&1 ||
       ! $CC -O2 -g -iquote . -o "$T_OUT/fakecam_usb" tools/fakecam.c $libs >>"$T_OUT/usb_fakehost.build.log" 2>&1; then
        t_fail_line "[asyncusb] tests/usb_fakehost.c or tools/fakecam.c does not build"
        return
    fi
    local line prog args
    while IFS= read -r line; do
        prog=${line%%|*}; args=${line#*|}
        # shellcheck disable=SC2086
        au_t "$prog $args: usage line, exit 2" au_usage_exit "$prog" $args
    done < <(au_bad_command_lines)
    au_t "ptp_info ends on a camera of endless zero-length packets" au_ptp_hostile zlp 10 'nothing but zero-length packets'
    au_t "ptp_info --timeout 2 ends on a camera that trickles a 1 MiB data phase" au_ptp_hostile trickle 2 'within 2 s (--timeout)'
    au_t "ptp_info --timeout 1 ends on a camera that never answers" au_ptp_hostile silent 1 'within 1 s (--timeout)'
    if [ ! -r "$AU_REC_DEV" ] || [ ! -r "$AU_REC_IOCTL" ]; then
        # A clone with nothing beside it has no recording.  Each check that
        # needs it is named; tests/parts/demo.sh runs the same paths (ptp_info
        # by default and by VID:PID, under valgrind, dev-info, lsusb -v field
        # by field and a wrong field caught, list against lsusb) on the
        # emulated camera of tools/fakecam.c.
        local c
        for c in "ptp_info replays the recorded camera: Model: Canon PowerShot SX200 IS" \
                 "ptp_info VID:PID selects the camera" "ptp_info on the camera under valgrind" \
                 "ausb dev-info prints the camera tree of the issue" "ausb list shows the camera" \
                 "ausb dev-info matches lsusb -v: camera 04a9:31c0" "the lsusb comparison catches a wrong field" \
                 "ausb list names the devices lsusb names: camera testbed"; do
            [ -n "$T_QUICK" ] && [ "$c" = "ptp_info on the camera under valgrind" ] && continue
            t_selected "$c" && t_skip asyncusb "$c" \
                "needs the recording $AU_REC_DIR (../shared/recordings, or AUSB_RECORDINGS=DIR); the emulated camera covers the same paths (tests/parts/demo.sh)"
        done
    else
        au_t "ptp_info replays the recorded camera: Model: Canon PowerShot SX200 IS" au_ptp_replay
        au_t "ptp_info VID:PID selects the camera" au_ptp_replay 04a9:31c0
        [ -z "$T_QUICK" ] && au_t "ptp_info on the camera under valgrind" au_ptp_replay_valgrind
        au_t "ausb dev-info prints the camera tree of the issue" au_dev_info_camera
        t_check "ausb list shows the camera" bash -c \
            "umockdev-run -d '$AU_REC_DEV' -- '$T_OUT/ausb' list | grep -qx 'Bus 001 Device 011: ID 04a9:31c0'"
        au_t "ausb dev-info matches lsusb -v: camera 04a9:31c0" au_lsusb_compare "umockdev-run -d $AU_REC_DEV --" 04a9 31c0
        au_t "the lsusb comparison catches a wrong field" au_lsusb_detects_mismatch
        au_t "ausb list names the devices lsusb names: camera testbed" au_list_matches_lsusb umockdev-run -d "$AU_REC_DEV" --
    fi
    au_t "ptp_info exits non-zero when no camera answers" au_expect_fail au_fakehost "$T_OUT/ptp_info"
    if [ "$(getconf LONG_BIT)" = 64 ] && ldd --version 2>&1 | grep -qi 'gnu libc\|glibc'; then
        # shellcheck disable=SC2046
        $CC -std=c99 -O2 -g -I. -o "$T_OUT/usb_submit_allocs" bench/usb_submit_allocs.c \
            $(${PKG_CONFIG:-pkg-config} --cflags --libs libusb-1.0) >"$T_OUT/usb_submit_allocs.build.log" 2>&1
        au_t "libusb allocates per submit what asyncusb.h's manual says" au_fakehost "$T_OUT/usb_submit_allocs" --expect
    else
        t_skip asyncusb "libusb's allocations per submit, counted" "needs glibc on a 64-bit system"
    fi
    t_check "ausb list prints strings the device gives" bash -c \
        "umockdev-wrapper '$T_OUT/usb_fakehost' -- '$T_OUT/ausb' list | grep -qx 'Bus 001 Device 005: ID 1234:0001 Fake Inc Loop Gadget'"
    au_t "ausb list names the devices lsusb names: fake testbed" au_list_matches_lsusb au_fakehost
    au_t "ausb dev-info fails for an absent device" au_expect_fail au_fakehost "$T_OUT/ausb" dev-info dead beef
    au_t "usb_monitor --once lists the fake devices as arrivals" au_monitor_once
    au_t "usb_monitor prints arrived and left as a device comes and goes" au_monitor_hotplug
    au_t "bulk_stream VID:PID 88 1 streams whole transfers" au_bulk_stream 1
    au_t "bulk_stream VID:PID 88 16 streams whole transfers" au_bulk_stream 16
    au_t "bulk_stream names a stall and fails" au_bulk_stream_stall
    au_t "bulk_stream ends on Ctrl-C (SIGINT through the loop) with its total" au_bulk_stream_sigint
    au_t "usb_monitor exits 0 on SIGINT" au_monitor_signal INT
    au_t "usb_monitor exits 0 on SIGTERM" au_monitor_signal TERM
    au_t "usb_lines: lines through an endpoint stream and aio_stream.h" au_usb_lines
    au_t "usb_lines names a stall and fails" au_usb_lines_stall
    au_t "usb_lines ends a second after stdin when the device stays quiet" au_usb_lines_quiet
    local pid
    for pid in 0001 0003 0004 0005; do
        au_t "ausb dev-info matches lsusb -v: fake 1234:$pid" au_lsusb_compare au_fakehost 1234 "$pid"
    done
}

if au_missing=$(t_lacks umockdev-run=umockdev lsusb=usbutils python3=python3 pc:libusb-1.0=libusb-1.0-0-dev \
                       pc:umockdev-1.0=libumockdev-dev); then
    t_skip asyncusb "the USB examples against emulated devices" "$au_missing"
else
    au_examples
fi
