# tests/parts/runner.sh - the test runner itself, run in a copy of this tree
# placed where nothing is beside it (no ../shared):
#
# - `tests/run.sh SUITE TEST` runs that one test of that suite;
# - `make test` without root and with packages missing (stand-ins: a PATH
#   without umockdev, clang and valgrind, a dpkg-query that knows no package,
#   an id that says uid 1000) runs what it can, names each thing it skips
#   and why, and succeeds;
# - in a clone with no ../shared the checks that need the recorded camera
#   are skipped and named, and the emulated camera's checks pass.

[ -n "$CROSS" ] && return 0
[ -z "$T_SUITE" ] || return 0   # whole runs and `tests/run.sh runner` only

RN=$PWD/$T_OUT/runner
rm -rf "$RN"
mkdir -p "$RN/lonely/asynckit"
tar --exclude=./build --exclude=./.git -cf - . | tar -xf - -C "$RN/lonely/asynckit"
RN_TREE=$(cd "$RN/lonely/asynckit" && pwd)

# rn_run LOG CMD...: CMD in the copy (no recordings named by the caller's
# environment), all output to LOG; returns CMD's status.
rn_run() {
    local log=$1
    shift
    (cd "$RN_TREE" && env -u AUSB_RECORDINGS -u T_SUITE -u T_ONLY T_QUICK=1 "$@") >"$log" 2>&1
}

rn_one_test() {
    local log=$RN/one.log
    rn_run "$log" bash tests/run.sh aio_regress test_stop_before_run_counts || { cat "$log"; return 1; }
    grep -qx 'aio_regress: 1 passed, 0 failed' "$RN_TREE/build/tests/aio_regress_plain.log" &&
    ! grep -q '^FAIL' "$log" && tail -n 1 "$log" | grep -Eq '^[1-9][0-9]* passed, 0 failed$' ||
        { cat "$log"; return 1; }
    # a name that matches nothing is an error, not a silent success
    ! rn_run "$RN/none.log" bash tests/run.sh aio_regress no_such_test_anywhere &&
    grep -q 'nothing ran' "$RN/none.log"
}

# A bin folder of the machine's commands without umockdev, clang and
# valgrind; dpkg-query knows no package and id says uid 1000.
rn_bare_bin() {
    local bin=$RN/bin d f
    rm -rf "$bin"
    mkdir -p "$bin"
    for d in /usr/local/bin /usr/bin /bin /usr/sbin /sbin; do
        [ -d "$d" ] || continue
        for f in "$d"/*; do
            case "${f##*/}" in
                umockdev-*|clang|clang-*|clang++|valgrind*|dpkg-query|id) continue ;;
            esac
            [ -e "$bin/${f##*/}" ] || ln -s "$f" "$bin/${f##*/}"
        done
    done
    printf '#!/bin/sh\nexit 1\n' >"$bin/dpkg-query"
    printf '#!/bin/sh\necho 1000\n' >"$bin/id"
    chmod +x "$bin/dpkg-query" "$bin/id"
    echo "$bin"
}

rn_make_test_without_root() {
    local bin log=$RN/noroot.log
    bin=$(rn_bare_bin)
    # one suite that runs (its ASan build skipped) and one that cannot
    rn_run "$log" env PATH="$bin" T_SUITE=aio_regress make -s test || { cat "$log"; return 1; }
    grep -q '^Not root, so nothing is installed' "$log" &&
    grep -qx 'SKIP \[builds\] the ASan+UBSan build of every suite: needs clang (package clang)' "$log" &&
    grep -Eq '^[1-9][0-9]* passed, 0 failed$' "$log" && ! grep -q '^FAIL' "$log" || { cat "$log"; return 1; }
    rn_run "$log" env PATH="$bin" T_SUITE=usb_faults make -s test || { cat "$log"; return 1; }
    grep -q '^SKIP \[asyncusb\] the USB suites (.*usb_faults.*): needs umockdev-wrapper (package umockdev)' "$log" &&
    grep -qx '0 passed, 0 failed' "$log" && ! grep -q '^FAIL' "$log" || { cat "$log"; return 1; }
}

rn_no_shared() {
    local log=$RN/lonely.log
    [ ! -e "$RN/lonely/shared" ] || return 1
    rn_run "$log" bash tests/run.sh ptp_info || { cat "$log"; return 1; }
    grep -q '^SKIP \[asyncusb\] ptp_info replays the recorded camera: Model: Canon PowerShot SX200 IS: needs the recording ../shared/recordings/' "$log" &&
    grep -q '^SKIP \[asyncusb\] ptp_info VID:PID selects the camera: needs the recording' "$log" &&
    grep -Eq '^[1-9][0-9]* passed, 0 failed$' "$log" && ! grep -q '^FAIL' "$log" || { cat "$log"; return 1; }
}

rn_t() {
    local name=$1
    shift
    t_check "$name" bash -c '"$@"' rn_t "$@"
}

export RN RN_TREE
export -f rn_run rn_one_test rn_bare_bin rn_make_test_without_root rn_no_shared
rn_t "run.sh SUITE TEST runs that one test" rn_one_test
rn_t "make test without root or packages skips what is missing, names it, and passes" rn_make_test_without_root
if t_have umockdev-wrapper && t_have lsusb; then
    rn_t "in a clone with no ../shared the recorded camera's checks are skipped and named" rn_no_shared
fi
