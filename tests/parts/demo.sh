# tests/parts/demo.sh - `make demo` and its emulated camera (sourced by
# tests/run.sh).
#
# - tools/fakecam.c builds with the command in its comment and with strict
#   warnings (gcc and clang); its PTP responder answers plain libusb as the
#   still-image class wants (tests/fakecam_test.c, plain and ASan+UBSan);
# - ptp_info on the camera prints its identity and storage, also with both
#   built with ASan+UBSan and with ptp_info under valgrind; a refused
#   operation (fakecam --fail) gives a clear error;
# - ausb list / dev-info show the camera, and dev-info agrees with lsusb -v;
# - the demo's USB part shows "this machine's" devices when there are some
#   (a fake testbed stands in), tests/deps.sh demo asks for exactly the
#   demo's packages on a bare machine, and `make demo` runs to the end
#   without a terminal.

[ -n "$CROSS" ] && return 0

dm_pkg() { ${PKG_CONFIG:-pkg-config} "$@"; }

# dm_expect_ptp OUT: the camera's identity and storage, nothing else.
dm_expect_ptp() {
    printf '%s\n' 'Manufacturer: AsyncKit' 'Model: AsyncKit Demo Camera' 'Device version: 1.0' \
        'Serial number: AK0123456789' 'Operations supported: 7' \
        'Storage 0x00010001: SD card (DEMO_CARD), 6800 MiB free of 7580 MiB' | diff -u - "$1"
}

# dm_fakecam FAKECAM CMD...: CMD next to the camera, stdout to $T_OUT/dm.out
# and stderr to $T_OUT/dm.err; returns CMD's status.
dm_fakecam() {
    local cam=$1
    shift
    "$cam" -- "$@" >"$T_OUT/dm.out" 2>"$T_OUT/dm.err"
}

dm_ptp() {
    dm_fakecam "$T_OUT/fakecam" "$T_OUT/ptp_info" "$@" || { cat "$T_OUT/dm.err"; return 1; }
    dm_expect_ptp "$T_OUT/dm.out" && [ ! -s "$T_OUT/dm.err" ]
}

# Both sides built with ASan+UBSan (leaks included).
dm_ptp_asan() {
    ASAN_OPTIONS=verify_asan_link_order=0 dm_fakecam "$T_OUT/fakecam_asan" "$T_OUT/ptp_info_asan" ||
        { cat "$T_OUT/dm.err"; return 1; }
    dm_expect_ptp "$T_OUT/dm.out" && [ ! -s "$T_OUT/dm.err" ]
}

dm_ptp_valgrind() {
    dm_fakecam "$T_OUT/fakecam" valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --suppressions=tests/usb_valgrind.supp "$T_OUT/ptp_info" ||
        { cat "$T_OUT/dm.err"; return 1; }
    dm_expect_ptp "$T_OUT/dm.out"
}

# GetDeviceInfo refused: exit 1, one line naming operation and response.
dm_ptp_refused() {
    ! "$T_OUT/fakecam" --fail 1001=2019 -- "$T_OUT/ptp_info" >"$T_OUT/dm.out" 2>"$T_OUT/dm.err" &&
    [ ! -s "$T_OUT/dm.out" ] &&
    [ "$(cat "$T_OUT/dm.err")" = 'ptp_info: the camera refused GetDeviceInfo: PTP response 0x2019 (Device Busy)' ]
}

# GetStorageInfo refused: the identity, no storage line, a warning, exit 0.
dm_ptp_storage_refused() {
    "$T_OUT/fakecam" --fail 1005=2008 -- "$T_OUT/ptp_info" >"$T_OUT/dm.out" 2>"$T_OUT/dm.err" &&
    printf '%s\n' 'Manufacturer: AsyncKit' 'Model: AsyncKit Demo Camera' 'Device version: 1.0' \
        'Serial number: AK0123456789' 'Operations supported: 7' | diff -u - "$T_OUT/dm.out" &&
    [ "$(cat "$T_OUT/dm.err")" = 'ptp_info: warning: no storage information: the camera refused GetStorageInfo: PTP response 0x2008 (Invalid StorageID)' ]
}

dm_list() {
    dm_fakecam "$T_OUT/fakecam" "$T_OUT/ausb" list &&
    printf '%s\n' 'Bus 001 Device 001: ID 1d6b:0002' 'Bus 001 Device 002: ID 1209:0001 AsyncKit Demo Camera' |
        diff -u - "$T_OUT/dm.out"
}

dm_dev_info() {
    dm_fakecam "$T_OUT/fakecam" "$T_OUT/ausb" dev-info 1209 0001 &&
    diff -u - "$T_OUT/dm.out" <<'EOF'
Bus 001 Device 002: ID 1209:0001 v.0100 usb v.0200 speed 480
  Device classes: 00 00 00
  Control Endpoint 00, MPS=64
  Configuration #1
    Interface #0
      Alternate Setting 0, class 06 01 01
        Bulk In Endpoint 81, MPS=512, interval=0
        Bulk Out Endpoint 02, MPS=512, interval=0
        Interrupt In Endpoint 83, MPS=24, interval=8
EOF
}

# dev-info and lsusb -v field by field; then the comparison must notice a
# field changed behind its back.
dm_lsusb() {
    local a="$T_OUT/dm_devinfo.txt" l="$T_OUT/dm_lsusb.txt"
    "$T_OUT/fakecam" -- "$T_OUT/ausb" dev-info 1209 0001 >"$a" || return 1
    "$T_OUT/fakecam" -- lsusb -v -d 1209:0001 >"$l" 2>/dev/null
    grep -q '^Device Descriptor:' "$l" && grep -q 'bInterfaceClass *6' "$l" || return 1
    python3 tests/usb_lsusb.py "$a" "$l" || return 1
    sed 's/MPS=24, interval=8/MPS=24, interval=9/' "$a" >"$a.bad"
    ! python3 tests/usb_lsusb.py "$a.bad" "$l" >/dev/null
}

# ausb list and lsusb name the same devices next to the camera (bus,
# device, ids; lsusb's names come from its own database): what the
# recorded camera's testbed checked, in a clone without the recording too.
dm_list_lsusb() {
    "$T_OUT/fakecam" -- "$T_OUT/ausb" list | cut -c1-32 | sort >"$T_OUT/dm_list_ausb.txt" || return 1
    "$T_OUT/fakecam" -- lsusb | cut -c1-32 | sort >"$T_OUT/dm_list_lsusb.txt" || return 1
    [ -s "$T_OUT/dm_list_ausb.txt" ] && diff -u "$T_OUT/dm_list_lsusb.txt" "$T_OUT/dm_list_ausb.txt"
}

# The demo's USB part with a fake testbed standing in for the machine's own
# devices: they are listed, the first that is no root hub described.
dm_demo_real_devices() {
    local out="$T_OUT/dm_usb_part.out"
    # the demo runs the programs make builds: build them now, a fresh clone has none
    make -s --no-print-directory build/ausb build/ptp_info build/fakecam >"$T_OUT/dm_make.log" 2>&1 ||
        { cat "$T_OUT/dm_make.log"; return 1; }
    DEMO_USB_HOST="umockdev-wrapper $T_OUT/usb_fakehost --" \
        bash -c 'say() { printf "== %s\n" "$*"; }; . examples/demo.d/usb.sh' >"$out" 2>&1 || return 1
    grep -qx '== ausb list: this machine'"'"'s USB devices' "$out" &&
    grep -qx 'Bus 001 Device 005: ID 1234:0001 Fake Inc Loop Gadget' "$out" &&
    grep -qx '== ausb dev-info 1234 0005: the first of them that is not a root hub' "$out" &&
    grep -qx '      Alternate Setting 0, class 03 01 02' "$out" &&
    grep -qx 'ptp_info: no camera found' "$out"
}

# On a machine with nothing installed and no root, deps.sh demo asks for the
# demo's packages and only those.  Stand-ins: dpkg-query knows no package,
# id says uid 1000, and PATH holds bash's helpers but no compiler.
dm_deps_demo() {
    local bin="$T_OUT/dm_bare_bin" t out
    rm -rf "$bin"; mkdir -p "$bin"
    for t in grep dpkg sed cat; do ln -s "$(command -v "$t")" "$bin/$t"; done
    printf '#!/bin/sh\nexit 1\n' >"$bin/dpkg-query"
    printf '#!/bin/sh\necho 1000\n' >"$bin/id"
    chmod +x "$bin/dpkg-query" "$bin/id"
    out=$(PATH="$bin" "$BASH" tests/deps.sh demo 2>&1) && return 1
    [ "$(printf '%s\n' "$out" | tail -n 1)" = '  sudo apt-get install -y gcc make pkg-config libusb-1.0-0-dev umockdev libumockdev-dev' ] ||
        { printf '%s\n' "$out"; return 1; }
    # the full list still asks for the cross toolchains
    out=$(PATH="$bin" "$BASH" tests/deps.sh 2>&1)
    printf '%s\n' "$out" | grep -q 'gcc-aarch64-linux-gnu'
}

# make demo from start to end, no terminal, and what it shows.
dm_make_demo() {
    local out="$T_OUT/dm_make_demo.out"
    make demo </dev/null >"$out" 2>&1 || { tail -n 20 "$out"; return 1; }
    grep -q '^job button hz=80.00 ' "$out" &&
    grep -qx 'tcp_client receives: hello, asynckit' "$out" &&
    grep -qx 'echo_server: SIGTERM, graceful shutdown, exit status 0' "$out" &&
    grep -qx 'Bus 001 Device 002: ID 1209:0001 AsyncKit Demo Camera' "$out" &&
    grep -qx '      Alternate Setting 0, class 06 01 01' "$out" &&
    grep -qx 'Model: AsyncKit Demo Camera' "$out" &&
    grep -qx 'Storage 0x00010001: SD card (DEMO_CARD), 6800 MiB free of 7580 MiB' "$out" &&
    ! grep -q $'\033' "$out"
}

dm_t() {
    local name=$1
    shift
    t_check "$name" bash -c '"$@"' dm_t "$@"
}

dm_tests() {
    local um usb san="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" cmd cc
    um=$(dm_pkg --cflags --libs umockdev-1.0)
    usb=$(dm_pkg --cflags --libs libusb-1.0)
    cmd=$(grep -m1 '^ \*   cc ' tools/fakecam.c | sed 's/^ \*   //')
    t_check "tools/fakecam.c builds with its own command line" bash -c "mkdir -p build && $cmd"
    for cc in "$CC" "$CLANG"; do
        # shellcheck disable=SC2086
        t_check "tools/fakecam.c builds with strict warnings ($cc)" \
            $cc $T_WARN -O2 -iquote . -o "$T_OUT/fakecam" tools/fakecam.c $um
    done
    # shellcheck disable=SC2086
    if ! $CC -O1 -g -iquote . -o "$T_OUT/fakecam" tools/fakecam.c $um >"$T_OUT/fakecam.build.log" 2>&1 ||
       ! $CLANG $san -iquote . -o "$T_OUT/fakecam_asan" tools/fakecam.c $um >>"$T_OUT/fakecam.build.log" 2>&1 ||
       ! $CC -O1 -g -I. -o "$T_OUT/ptp_info" examples/ptp_info.c $usb >>"$T_OUT/fakecam.build.log" 2>&1 ||
       ! $CLANG $san -I. -o "$T_OUT/ptp_info_asan" examples/ptp_info.c $usb >>"$T_OUT/fakecam.build.log" 2>&1 ||
       ! $CC -O1 -g -I. -o "$T_OUT/ausb" examples/ausb.c $usb >>"$T_OUT/fakecam.build.log" 2>&1 ||
       ! $CC -O1 -g -iquote . -o "$T_OUT/usb_fakehost" tests/usb_fakehost.c $um >>"$T_OUT/fakecam.build.log" 2>&1; then
        t_fail_line "[demo] the camera, ptp_info, ausb or usb_fakehost does not build:"
        head -n 12 "$T_OUT/fakecam.build.log" | sed 's/^/    /'
        return
    fi
    # tests/fakecam_test.c in two builds, next to the plain camera
    local v exe flags
    for v in plain asan; do
        exe="$T_OUT/fakecam_test_$v"
        flags="-O1 -g"; cc=$CC
        [ "$v" = asan ] && { flags=$san; cc=$CLANG; }
        # shellcheck disable=SC2086
        if $cc $T_WARN $flags -iquote . -o "$exe" tests/fakecam_test.c $usb >"$exe.build.log" 2>&1; then
            ASAN_OPTIONS=verify_asan_link_order=0 t_suite "fakecam $v" "$T_OUT/fakecam" -- "$exe"
        else
            t_fail_line "[fakecam $v] does not build:"
            head -n 12 "$exe.build.log" | sed 's/^/    /'
        fi
    done
    export T_OUT
    export -f dm_expect_ptp dm_fakecam dm_ptp dm_ptp_asan dm_ptp_valgrind dm_ptp_refused dm_ptp_storage_refused \
        dm_list dm_dev_info dm_lsusb dm_list_lsusb dm_demo_real_devices dm_deps_demo dm_make_demo
    dm_t "ptp_info on fakecam: identity and storage" dm_ptp
    dm_t "ptp_info 1209:0001 selects the camera" dm_ptp 1209:0001
    dm_t "ptp_info on fakecam, both built with ASan+UBSan" dm_ptp_asan
    [ -z "$T_QUICK" ] && t_with demo "ptp_info on fakecam under valgrind" valgrind=valgrind &&
        dm_t "ptp_info on fakecam under valgrind" dm_ptp_valgrind
    dm_t "ptp_info names the operation the camera refused and fails" dm_ptp_refused
    dm_t "ptp_info warns when the camera refuses StorageInfo and keeps the identity" dm_ptp_storage_refused
    dm_t "ausb list on fakecam: the root hub and the camera" dm_list
    dm_t "ausb dev-info 1209 0001 on fakecam: the camera tree" dm_dev_info
    dm_t "ausb dev-info on fakecam matches lsusb -v" dm_lsusb
    dm_t "ausb list on fakecam names the devices lsusb names" dm_list_lsusb
    dm_t "the demo shows the machine's own USB devices when there are some" dm_demo_real_devices
    dm_t "tests/deps.sh demo asks for the demo's packages only" dm_deps_demo
    dm_t "make demo runs to the end without a terminal" dm_make_demo
}

if dm_missing=$(t_lacks umockdev-wrapper=umockdev lsusb=usbutils python3=python3 "$CLANG=clang" \
                       pc:libusb-1.0=libusb-1.0-0-dev pc:umockdev-1.0=libumockdev-dev); then
    t_skip demo "the emulated camera, ptp_info and ausb on it, make demo" "$dm_missing"
else
    dm_tests
fi
