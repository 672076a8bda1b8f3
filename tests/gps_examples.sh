#!/usr/bin/env bash
# tests/gps_examples.sh - examples/gps_logger.c as a board owner runs it,
# against tools/gpssim.c, a GPS module simulated on a pseudo-terminal.
# Run from the repository root as: bash tests/gps_examples.sh CHECK;
# exit status 0 when the check passes.  tests/parts/aio_stream.sh runs
# each one through t_check.
#
# The simulator waits for the logger's own lines ("expect") before it goes
# on, so nothing here is ordered by a sleep; the silence times are long
# enough that a loaded machine cannot make the logger see a pause the
# module did not make (and the one check of a pause uses 2 s).
set -u
cd "$(dirname "$0")/.." || exit 2
: "${CC:=gcc}" "${CLANG:=clang}" "${T_QUICK:=}"
T_WARN=${T_WARN:-'-std=c99 -Wall -Wextra -pedantic -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wundef'}
D=build/gps_examples
mkdir -p "$D"
SIM=$D/gpssim
LOGGER=$D/gps_logger
VALGRIND="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect"

# gps_run NAME LOGGER-ARGS...: the script $D/NAME.sim against the logger
# (GPS_RUNNER before it, if set); stdout to $D/NAME.out, stderr to
# $D/NAME.err; returns the simulator's status, which is the logger's.
gps_run() {
    local name=$1
    shift
    # shellcheck disable=SC2086
    "$SIM" "$D/$name.sim" -- ${GPS_RUNNER:-} "${GPS_LOGGER:-$LOGGER}" "$@" >"$D/$name.out" 2>"$D/$name.err"
}

# gps_status NAME WANT GOT: true when the exit status GOT is WANT; else shows the outputs.
gps_status() {
    [ "$3" -eq "$2" ] && return 0
    echo "$1: exit $3, expected $2; stdout:"; cat "$D/$1.out"; echo "stderr:"; cat "$D/$1.err"
    return 1
}

# No byte of the output that a terminal would act on: printable ASCII and newlines only.
gps_printable() {
    [ "$(LC_ALL=C tr -d '\n -~' <"$1" | wc -c)" -eq 0 ] || { echo "$1 holds control bytes:"; od -c "$1" | head; return 1; }
}

gps_check_build() {
    $CC $T_WARN -O2 -g -I. -o "$LOGGER" examples/gps_logger.c -lpthread || return 1
    $CC $T_WARN -O2 -g -o "$SIM" tools/gpssim.c || return 1
    # the commands of the comments build them as well
    grep -q '^ \*   cc -std=c99 -O2 -I. -o build/gps_logger examples/gps_logger.c -lpthread$' examples/gps_logger.c &&
    grep -q '^ \*   cc -std=c99 -O2 -o build/gpssim tools/gpssim.c$' tools/gpssim.c || return 1
    cc -std=c99 -O2 -I. -o "$D/gps_logger_cmd" examples/gps_logger.c -lpthread &&
    cc -std=c99 -O2 -o "$D/gpssim_cmd" tools/gpssim.c || return 1
    if command -v "$CLANG" >/dev/null 2>&1; then
        $CLANG -std=c99 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -I. \
            -o "$D/gps_logger_asan" examples/gps_logger.c -lpthread || return 1
    fi
}

# Junk, numbers out of range, trailing characters, a missing value: usage, exit 2.
gps_check_usage() {
    . tests/lib.sh >/dev/null
    local a u="usage: gps_logger [--silence SECONDS] [--duration SECONDS] [--count N] [--verbose] DEVICE BAUD"
    for a in "" /dev/null "/dev/null 9600 x" "/dev/null 9600x" "/dev/null 0" "/dev/null -9600" "/dev/null +9600" \
             "/dev/null 4000001" "/dev/null 0x2580" "--silence 0 /dev/null 9600" "--silence 0.0001 /dev/null 9600" \
             "--silence 1.2345 /dev/null 9600" "--silence .5 /dev/null 9600" "--silence 5. /dev/null 9600" \
             "--silence 86400.001 /dev/null 9600" "--silence 1e3 /dev/null 9600" "--silence -1 /dev/null 9600" \
             "--duration x /dev/null 9600" "--duration 10000000 /dev/null 9600" "--count 0 /dev/null 9600" \
             "--count 1x /dev/null 9600" "--count 1000000001 /dev/null 9600" "--count" "--silence" \
             "--verbose" "--bogus /dev/null 9600" "--verbose=1 /dev/null 9600" "-v /dev/null 9600" \
             "/dev/null 9600 --count 1"; do
        t_usage_exit2 "$LOGGER" "$u" "$a" || return 1
    done
    for a in "" "x" "x --" "x -- " "--timeout 0 x -- true" "--timeout 1x x -- true" "--timeout"; do
        t_usage_exit2 "$SIM" "usage: gpssim [--timeout SECONDS] SCRIPT -- COMMAND ARGS..." "$a" || return 1
    done
}

# A device that is not there, one that is no terminal, a rate the port
# does not have: a message, exit 1.
gps_check_bad_device() {
    local out
    out=$("$LOGGER" /nonexistent/ttyGPS 9600 2>&1 >/dev/null)
    [ $? -eq 1 ] && [ "$out" = "gps_logger: /nonexistent/ttyGPS: open: No such file or directory" ] ||
        { echo "missing device: $out"; return 1; }
    out=$("$LOGGER" /dev/null 9600 2>&1 >/dev/null)
    [ $? -eq 1 ] && [ "$out" = "gps_logger: /dev/null: open: Inappropriate ioctl for device" ] ||
        { echo "not a terminal: $out"; return 1; }
    printf '%s\n' 'nmea GPGSV,1,1,00' >"$D/rate.sim"
    gps_run rate @tty 9601   # no such rate
    gps_status rate 1 $? && grep -q '^gps_logger: /dev/pts/[0-9]*: open: Invalid argument$' "$D/rate.err" &&
        [ ! -s "$D/rate.out" ]
}

# Three epochs of a receiver going north-east, GGA and RMC each, a GSV
# between: three fix lines with every value, then --count ends it.
gps_fix_script() {
    cat >"$D/fix.sim" <<'EOF'
nmea GNGGA,093010.00,5230.12345,N,01324.54321,E,1,09,0.90,34.5,M,39.1,M,,
nmea GNRMC,093010.00,A,5230.12345,N,01324.54321,E,0.150,273.40,150624,,,A
nmea GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00
nmea GNGGA,093011.00,5230.12400,N,01324.54400,E,1,09,0.90,34.6,M,39.1,M,,
nmea GNRMC,093011.00,A,5230.12400,N,01324.54400,E,0.160,273.50,150624,,,A
nmea GNRMC,093012.00,A,3352.1260,S,15112.6360,W,12.5,5.0,150624,,,D
nmea GNGGA,093012.00,3352.1260,S,15112.6360,W,2,10,0.80,-2.25,M,39.1,M,1.0,0100
EOF
}

gps_fix_expected() {
    cat <<'EOF'
fix 2024-06-15 09:30:10.000 lat 52.5020575 lon 13.4090535 alt 34.500 m quality 1 sats 9 hdop 0.90 speed 0.150 kn course 273.40
fix 2024-06-15 09:30:11.000 lat 52.5020667 lon 13.4090667 alt 34.600 m quality 1 sats 9 hdop 0.90 speed 0.160 kn course 273.50
fix 2024-06-15 09:30:12.000 lat -33.8687667 lon -151.2106000 alt -2.250 m quality 2 sats 10 hdop 0.80 speed 12.500 kn course 5.00
EOF
}

gps_check_fixes() {
    gps_fix_script
    gps_run fix --silence 60 --count 3 @tty 9600
    gps_status fix 0 $? || return 1
    gps_fix_expected | diff -u - "$D/fix.out" || return 1
    [ "$(cat "$D/fix.err")" = "gps_logger: lines: 6 decoded, 1 not decoded, 0 bad checksum, 0 no checksum, 0 too long, 0 malformed, 0 not NMEA; fixes: 3" ] ||
        { cat "$D/fix.err"; return 1; }
}

# The same under valgrind, and with ASan+UBSan.
gps_check_fixes_valgrind() {
    gps_fix_script
    GPS_RUNNER=$VALGRIND gps_run fix --silence 60 --count 3 @tty 9600
    gps_status fix 0 $? || return 1
    gps_fix_expected | diff -u - "$D/fix.out"
}

# Noise of every kind, each line named and escaped with --verbose; the
# fixes between them come out whole; nothing raw reaches the output.
gps_noise_script() {
    {
        echo 'raw \x1b[31mred\x1b[0m\x07\x00\xff\x9b2J\r\n'
        echo 'nmea GPGGA,120000,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,'
        echo 'badsum GPRMC,120000,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W'
        echo 'raw $GPRMC,120000,A,no checksum\r\n'
        echo "raw $(printf 'A%.0s' $(seq 1 200))\\r\\n"
        echo 'nmea GPRMC,120000,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W'
        echo 'raw \x00\x01\x02\x03\x04\x05\x06\x1a\x11\x13\x7f'
        echo 'nmea GPRMC,120001,A,9107.038,N,01131.000,E,022.4,084.4,230394,003.1,W'
        echo 'raw back\\slash and tab\t\r\n'
        echo 'nmea PUBX,00,081350.00,4717.113210,N'
        echo 'raw $GPGGA,120001,4807.0'
        echo 'raw 38,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48\r\n'
        echo 'nmea GPRMC,120001,V,,,,,,,230394,,,N'
        echo 'expect fix lost'
        echo 'nmea GPRMC,120002,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W'
        echo 'nmea GPGGA,120002,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,'
    } >"$D/noise.sim"
}

gps_noise_expected() {
    cat <<'EOF'
skip not an NMEA sentence: \x1b[31mred\x1b[0m\x07\x00\xff\x9b2J
skip bad checksum: $GPRMC,120000,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*65
skip no checksum: $GPRMC,120000,A,no checksum
skip line over 128 bytes: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA...
fix 1994-03-23 12:00:00.000 lat 48.1173000 lon 11.5166667 alt 545.400 m quality 1 sats 8 hdop 0.90 speed 22.400 kn course 84.40
skip malformed field 3 of GPRMC: \x00\x01\x02\x03\x04\x05\x06\x1a\x11\x13\x7f$GPRMC,120001,A,9107.038,N,01131.000,E,022.4,084.4,230394,003.1,W*61
skip not an NMEA sentence: back\\slash and tab\x09
skip sentence not decoded: $PUBX,00,081350.00,4717.113210,N*5B
fix lost
fix 1994-03-23 12:00:02.000 lat 48.1173000 lon 11.5166667 alt 545.400 m quality 1 sats 8 hdop 0.90 speed 22.400 kn course 84.40
EOF
}

gps_check_noise() {
    gps_noise_script
    gps_run noise --verbose --silence 60 --count 2 @tty 9600
    gps_status noise 0 $? || return 1
    gps_noise_expected | diff -u - "$D/noise.out" || return 1
    gps_printable "$D/noise.out" || return 1
    [ "$(cat "$D/noise.err")" = "gps_logger: lines: 6 decoded, 1 not decoded, 1 bad checksum, 1 no checksum, 1 too long, 1 malformed, 2 not NMEA; fixes: 2" ] ||
        { cat "$D/noise.err"; return 1; }
    # without --verbose only the fixes
    gps_run noise --silence 60 --count 2 @tty 9600
    gps_status noise 0 $? || return 1
    gps_noise_expected | grep -v '^skip ' | diff -u - "$D/noise.out"
}

gps_check_noise_asan() {
    gps_noise_script
    GPS_LOGGER=$D/gps_logger_asan gps_run noise --verbose --silence 60 --count 2 @tty 9600
    gps_status noise 0 $? || return 1
    gps_noise_expected | diff -u - "$D/noise.out"
}

# The module stops in the middle of a sentence: "no data" after the
# silence time, the sentence whole once it goes on, "data again", and a
# clean stop on SIGTERM.
gps_check_silence() {
    cat >"$D/silence.sim" <<'EOF'
nmea GPGGA,120000,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,
nmea GPRMC,120000,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W
expect fix 1994-03-23 12:00:00.000
raw $GPRMC,120001,A,4807.038,N,01131.000,E,022.4,084.4,230394,00
expect no data for 2 s
raw 3.1,W*65\r\n
expect data again
nmea GPGGA,120001,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,
expect fix 1994-03-23 12:00:01.000
kill TERM
EOF
    gps_run silence --silence 2 @tty 9600
    gps_status silence 0 $? || return 1
    printf '%s\n' \
        'fix 1994-03-23 12:00:00.000 lat 48.1173000 lon 11.5166667 alt 545.400 m quality 1 sats 8 hdop 0.90 speed 22.400 kn course 84.40' \
        'no data for 2 s' 'data again' \
        'fix 1994-03-23 12:00:01.000 lat 48.1173000 lon 11.5166667 alt 545.400 m quality 1 sats 8 hdop 0.90 speed 22.400 kn course 84.40' |
        diff -u - "$D/silence.out"
}

# The module hangs up (an unplug): a message, exit 1, the count still given.
gps_check_hangup() {
    cat >"$D/hangup.sim" <<'EOF'
nmea GPGGA,120000,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,
nmea GPRMC,120000,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W
expect fix
hangup
EOF
    gps_run hangup --silence 60 @tty 9600
    gps_status hangup 1 $? || return 1
    grep -Eq '^gps_logger: /dev/pts/[0-9]+: (the port hung up|read: Input/output error)$' "$D/hangup.err" &&
        grep -q '^gps_logger: lines: 2 decoded, .*; fixes: 1$' "$D/hangup.err" || { cat "$D/hangup.err"; return 1; }
}

# --duration: exit 0 after it when sentences came, 1 when only noise did
# (a wrong baud rate looks like this).
gps_check_duration() {
    printf '%s\n' 'raw \xf0\x0f\xe1\x1e garbage at the wrong rate\r\n' 'raw \xff\xfe\r\n' >"$D/wrongrate.sim"
    gps_run wrongrate --duration 1 @tty 9600
    gps_status wrongrate 1 $? || return 1
    grep -q '^gps_logger: /dev/pts/[0-9]*: no NMEA data$' "$D/wrongrate.err" && [ ! -s "$D/wrongrate.out" ] ||
        { cat "$D/wrongrate.err"; return 1; }
    printf '%s\n' 'nmea GPRMC,120000,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W' >"$D/duration.sim"
    gps_run duration --duration 1 @tty 9600
    gps_status duration 0 $? || return 1
    # the RMC alone is an epoch: handed out at the end
    [ "$(cat "$D/duration.out")" = 'fix 1994-03-23 12:00:00.000 lat 48.1173000 lon 11.5166667 speed 22.400 kn course 84.40' ]
}

# The checks above must be able to fail: a logger that prints a wrong
# longitude, and one that leaves a control byte raw, are caught.
gps_check_mutants() {
    sed 's/print_fixed("lon", f->lon_e7, 7, "")/print_fixed("lon", f->lon_e7 + 1, 7, "")/' examples/gps_logger.c \
        >"$D/mutant_lon.c"
    sed 's/else if (c >= 0x20 \&\& c < 0x7f) putchar(c);/else if (c != 0x7f) putchar(c);/' examples/gps_logger.c \
        >"$D/mutant_raw.c"
    ! cmp -s examples/gps_logger.c "$D/mutant_lon.c" && ! cmp -s examples/gps_logger.c "$D/mutant_raw.c" || return 1
    $CC -O0 -I. -Iexamples -o "$D/mutant_lon" "$D/mutant_lon.c" -lpthread &&
    $CC -O0 -I. -Iexamples -o "$D/mutant_raw" "$D/mutant_raw.c" -lpthread || return 1
    ! GPS_LOGGER=$D/mutant_lon gps_check_fixes >/dev/null 2>&1 || { echo "a wrong longitude passed"; return 1; }
    gps_noise_script
    GPS_LOGGER=$D/mutant_raw gps_run noise --verbose --silence 60 --count 2 @tty 9600
    ! gps_printable "$D/noise.out" >/dev/null || { echo "a raw control byte passed"; return 1; }
}

check=${1:-}
case $check in
    gps_check_*) "$check" ;;
    *) echo "usage: tests/gps_examples.sh gps_check_NAME" >&2; exit 2 ;;
esac
