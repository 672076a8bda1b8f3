# tests/vm/usb_host.sh - the host side of the VM's USB stage (sourced by
# tests/parts/vm.sh; bash; the guest side is tests/vm/usb.sh).
#
#   vmu_build BIN MANIFEST   builds what the stage runs into BIN (in
#                            parallel) and adds it, the kernel modules and
#                            the stage to MANIFEST; false with the build
#                            log on stderr when something does not build
#   vmu_checks DIR           the host's checks on what the guest sent back
#                            (vm_collect's DIR): ausb dev-info against
#                            lsusb -v, ausb list against lsusb, ptp_info
#                            on the FunctionFS camera, usb_lines on the
#                            loopback gadget
#
#   vmu_udevd BIN            systemd-udevd for the stage's second hotplug
#                            pass: Debian's package udev of the version of
#                            the host's libsystemd-shared (which it links),
#                            downloaded once into $VM_DIR/debs, never
#                            installed; its udevadm goes to BIN
#
# Without clang the ASan+UBSan builds are left out (tests/run.sh names
# clang once for every suite's ASan build).

VMU_SAN="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

# vmu_cc OUT COMPILER FLAGS... : one build, its log beside OUT; none when
# OUT is newer than every source it may include and was built by the same
# command (a second run of the stage builds nothing).
vmu_cc() {
    local out=$1 src
    shift
    if [ -e "$out" ] && [ "$(cat "$out.cmd" 2>/dev/null)" = "$*" ]; then
        for src in *.h core/*.h tests/harness.h tools/*.h tools/*.c examples/*.h examples/*.c tests/*_vm.c; do
            [ "$src" -nt "$out" ] && break
            src=
        done
        [ -z "$src" ] && return 0
    fi
    rm -f "$out.cmd"
    "$@" -o "$out" >"$out.log" 2>&1 || { echo "$out does not build:"; head -n 12 "$out.log"; return 1; }
    echo "$*" >"$out.cmd"
}

vmu_udevd() {
    local bin=$1 ver deb dir=$VM_DIR/extra/udev f
    ver=$(dpkg-query -W -f='${Version}' libsystemd-shared 2>/dev/null)
    [ -n "$ver" ] || { echo "needs package libsystemd-shared (the library udevadm links; installed with systemd)"; return 1; }
    if [ "$(cat "$dir/ok" 2>/dev/null)" != "$ver" ]; then
        deb=$(vm_apt_download "udev=$ver" "$VM_DIR/debs" 2>&1) || { echo "needs package udev $ver: $deb"; return 1; }
        rm -rf "$dir" && mkdir -p "$dir"
        dpkg-deb -x "$deb" "$dir" || { echo "cannot unpack $deb"; return 1; }
        echo "$ver" >"$dir/ok"
    fi
    # systemd-udevd is udevadm under another name (systemd 252)
    for f in "$dir"/usr/bin/udevadm "$dir"/bin/udevadm; do
        [ -f "$f" ] && ! [ -L "$f" ] && { cp "$f" "$bin/udevadm"; break; }
    done
    [ -x "$bin/udevadm" ] || { echo "package udev $ver has no udevadm"; return 1; }
    ldd "$bin/udevadm" | grep -q 'not found' && { echo "udevadm of udev $ver needs libraries the host lacks: $(ldd "$bin/udevadm" | grep 'not found' | tr -s ' \t\n' ' ')"; return 1; }
    return 0
}

vmu_build() {
    local bin=$1 manifest=$2 usb cc=${CC:-gcc} pids=() p bad=0 b
    mkdir -p "$bin"
    usb=$(${PKG_CONFIG:-pkg-config} --cflags --libs libusb-1.0)
    # shellcheck disable=SC2086
    {
        vmu_cc "$bin/ffsdev" $cc -std=c99 -Wall -Wextra -Werror -O2 -static -iquote . tools/ffsdev.c -lpthread & pids+=($!)
        vmu_cc "$bin/usb_vm" $cc -std=c99 -Wall -Wextra -Werror -O2 -g -iquote . tests/usb_vm.c $usb & pids+=($!)
        vmu_cc "$bin/ausb" $cc -O2 -g -I. examples/ausb.c $usb & pids+=($!)
        vmu_cc "$bin/ptp_info" $cc -O2 -g -I. examples/ptp_info.c $usb & pids+=($!)
        vmu_cc "$bin/usb_lines" $cc -O2 -g -I. examples/usb_lines.c $usb -lpthread & pids+=($!)
        if t_have "${CLANG:-clang}"; then
            vmu_cc "$bin/usb_vm_asan" ${CLANG:-clang} $VMU_SAN -iquote . tests/usb_vm.c $usb & pids+=($!)
            vmu_cc "$bin/ptp_info_asan" ${CLANG:-clang} $VMU_SAN -I. examples/ptp_info.c $usb & pids+=($!)
            vmu_cc "$bin/usb_lines_asan" ${CLANG:-clang} $VMU_SAN -I. examples/usb_lines.c $usb -lpthread & pids+=($!)
        fi
    } >&2
    for p in "${pids[@]}"; do wait "$p" || bad=1; done
    [ "$bad" = 0 ] || return 1
    {
        printf 'module %s\n' dummy_hcd libcomposite usb_f_ss_lb usb_f_fs configfs
        for b in ffsdev usb_vm ausb ptp_info usb_lines usb_vm_asan ptp_info_asan usb_lines_asan; do
            [ -e "$bin/$b" ] && echo "bin $bin/$b"
        done
        echo "bin $(command -v lsusb)"
        # udevd for the second hotplug pass, or the reason there is none
        rm -f "$bin/udevadm"
        if vmu_udevd "$bin" >"$bin/udevd.why"; then echo "bin $bin/udevadm"; else echo "file $bin/udevd.why /etc/udevd.why"; fi
        echo "stage tests/vm/usb.sh"
    } >>"$manifest"
}

# vmu_block DIR NAME: the guest's output for file NAME, on stdout; false
# when the guest sent none or its command failed.
vmu_block() {
    local f
    f=$(awk -F '\t' -v n="$2" '$1 == "file" && $2 == n { print $3 " " $4 }' "$1/index")
    [ -n "$f" ] || { echo "the VM sent no '$2'"; return 1; }
    cat "${f#* }"
    [ "${f%% *}" = 0 ]
}

vmu_dev_info_matches_lsusb() {
    local dir=$1 id=$2
    vmu_block "$dir" "dev-info-$id" >"$dir/a.txt" || { cat "$dir/a.txt"; return 1; }
    vmu_block "$dir" "lsusb-v-$id" >"$dir/l.txt" || { cat "$dir/l.txt"; return 1; }
    grep -q '^Device Descriptor:' "$dir/l.txt" && python3 tests/usb_lsusb.py "$dir/a.txt" "$dir/l.txt"
}

vmu_list_matches_lsusb() {
    local dir=$1
    vmu_block "$dir" ausb-list | cut -c1-32 | sort >"$dir/la.txt"
    vmu_block "$dir" lsusb | cut -c1-32 | sort >"$dir/ll.txt"
    [ "$(wc -l <"$dir/la.txt")" -ge 8 ] && diff -u "$dir/ll.txt" "$dir/la.txt"
}

# vmu_expect DIR NAME STATUS: the block's output is stdin and its status STATUS.
vmu_expect() {
    local f
    f=$(awk -F '\t' -v n="$2" '$1 == "file" && $2 == n { print $3 " " $4 }' "$1/index")
    [ -n "$f" ] || { echo "the VM sent no '$2'"; return 1; }
    [ "${f%% *}" = "$3" ] || { echo "exit status ${f%% *}, not $3"; cat "${f#* }"; return 1; }
    diff -u - "${f#* }"
}

vmu_ptp() {
    printf '%s\n' 'Manufacturer: AsyncKit' 'Model: AsyncKit Demo Camera' 'Device version: 1.0' \
        'Serial number: AK0123456789' 'Operations supported: 7' \
        'Storage 0x00010001: SD card (DEMO_CARD), 6800 MiB free of 7580 MiB' | vmu_expect "$1" "$2" 0
}

vmu_ptp_refused() {
    echo 'ptp_info: the camera refused GetDeviceInfo: PTP response 0x2019 (Device Busy)' | vmu_expect "$1" ptp_info-refused 1
}

vmu_usb_lines() {
    printf '< hello\n< second line\n< no newline\n' | vmu_expect "$1" "$2" 0
}

vmu_t() {
    local name=$1
    shift
    t_check "$name" bash -c '"$@"' vmu_t "$@"
}

vmu_checks() {
    local dir=$1 id b
    export -f vmu_block vmu_dev_info_matches_lsusb vmu_list_matches_lsusb vmu_expect vmu_ptp vmu_ptp_refused vmu_usb_lines
    for id in 0525:a4a0 1209:0003 1209:0002 1209:0001; do
        vmu_t "vm ausb dev-info matches lsusb -v on gadget $id" vmu_dev_info_matches_lsusb "$dir" "$id"
    done
    vmu_t "vm ausb list names the devices lsusb names" vmu_list_matches_lsusb "$dir"
    for b in "" _asan; do
        [ -n "$b" ] && ! t_have "${CLANG:-clang}" && continue
        vmu_t "vm ptp_info$b on the FunctionFS camera: identity and storage" vmu_ptp "$dir" "ptp_info$b"
        vmu_t "vm usb_lines$b on the loopback gadget" vmu_usb_lines "$dir" "usb_lines$b"
    done
    vmu_t "vm ptp_info names the operation the FunctionFS camera refused" vmu_ptp_refused "$dir"
}
