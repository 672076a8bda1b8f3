# tests/parts/vm.sh - the test VM (tests/vm/): Debian's own kernel, fetched
# as a package at run time and never installed here, boots under QEMU
# with an initramfs of our programs; real USB gadgets (dummy_hcd,
# SourceSink, Loopback, tools/ffsdev.c through FunctionFS) stand in for
# devices.  Sourced by tests/run.sh; `tests/run.sh vm` runs only this part,
# `tests/run.sh usb_vm` (or dev_vm) only its suites, VM_ECHO=1 shows the
# console.
#
# In the VM: tests/usb_vm.c (plain and ASan+UBSan) and the checks of
# tests/vm/usb.sh; back here, the comparisons of tests/vm/usb_host.sh on
# what it sent.  Then the device stage (tests/vm/dev.sh, dev_host.sh):
# tests/dev_vm.c on gpio-sim (a module built here from Debian's kernel
# source, tests/vm/gpiosim.sh), i2c-stub and uinput.  One boot serves
# every stage.
#
# A machine that cannot run it (no QEMU, busybox, cpio, kmod or xz, no
# kernel package to download, not amd64) gets a SKIP line naming what is
# missing; with T_REQUIRE_VM=1 (set by .ci/run) that is a failure instead.
# T_VM=0 skips it on purpose.  Downloads and the unpacked kernel stay in
# build/vm (VM_DIR) for the next run.  QEMU uses KVM only where kvm_intel
# or kvm_amd is loaded (VM_ACCEL=tcg|kvm overrides); it runs under a hard
# timeout (VM_TIMEOUT seconds, 300) with no terminal.  VM_BENCH=1 adds
# the zero-copy measurement of tests/usb_vm.c (about 10 s), whose NOTE
# lines come out with the results.

[ -n "$CROSS" ] && return 0
case "$T_SUITE" in ""|usb_vm|dev_vm) ;; *) return 0 ;; esac

. tests/vm/lib.sh
. tests/vm/usb_host.sh
. tests/vm/dev_host.sh

# vm_cannot WHY [WHAT]: a SKIP line, or a failure under T_REQUIRE_VM=1.
# WHAT defaults to the whole VM; GPIO on gpio-sim needs a module built
# here, and without it the rest of the device stage still runs (CI runs
# as root, so the headers it needs are installed there: a failure).
vm_cannot() {
    local what=${2:-"the test VM (real USB gadgets under Debian's kernel)"}
    if [ -n "${T_REQUIRE_VM:-}" ] && [ "$T_REQUIRE_VM" != 0 ]; then
        t_fail_line "[vm] $what cannot run: $1 (T_REQUIRE_VM is set)"
    else
        t_skip vm "$what" "$1"
    fi
}

vm_part() {
    local m t0 t1 rc kind name st f log=$VM_DIR/console.log dir=$VM_DIR/out manifest=$VM_DIR/manifest
    if [ "${T_VM:-1}" = 0 ]; then vm_cannot "T_VM=0 is set"; return; fi
    if m=$(vm_lacks) || m=$(t_lacks pc:libusb-1.0=libusb-1.0-0-dev lsusb=usbutils python3=python3); then
        vm_cannot "$m"
        return
    fi
    mkdir -p "$VM_DIR"
    t0=$(date +%s)
    if ! vm_kernel 2>"$VM_DIR/kernel.log"; then
        vm_cannot "needs Debian's kernel package: $(tail -n 1 "$VM_DIR/kernel.log")"
        return
    fi
    : >"$manifest"
    [ -n "${T_ONLY:-}" ] && echo "env T_ONLY=$T_ONLY" >>"$manifest"
    [ -n "${VM_BENCH:-}" ] && echo "env VM_BENCH=$VM_BENCH" >>"$manifest"
    if ! vmu_build "$VM_DIR/bin" "$manifest" 2>"$VM_DIR/build.log" ||
       ! vmd_build "$VM_DIR/bin" "$manifest" 2>>"$VM_DIR/build.log"; then
        t_fail_line "[vm] the programs for the VM do not build:"
        head -n 20 "$VM_DIR/build.log" | sed 's/^/    /'
        return
    fi
    if ! vm_initramfs "$manifest" "$VM_DIR/initramfs.cpio" 2>"$VM_DIR/initramfs.log"; then
        t_fail_line "[vm] no initramfs:"
        grep -v 'WARNING' "$VM_DIR/initramfs.log" | head -n 8 | sed 's/^/    /'
        return
    fi
    t1=$(date +%s)
    vm_boot "$VM_DIR/initramfs.cpio" "$log"
    rc=$?
    vm_collect "$log" "$dir"
    if [ ! -e "$dir/done" ]; then
        t_fail_line "[vm] the VM did not finish (QEMU exit $rc$([ "$rc" = 124 ] && echo ", killed after ${VM_TIMEOUT} s")); last console lines ($log):"
        tail -n 12 "$log" | sed 's/^/    /'
    fi
    while IFS=$'\t' read -r kind name st f _; do
        case "$kind" in
            suite) t_suite "$name" bash -c 'cat "$1"; exit "$2"' _ "$f" "$st"
                   grep '^NOTE ' "$f" | sed "s/^NOTE /NOTE [$name] /" ;;
            check) t_check "vm $name" bash -c 'cat "$1"; exit "$2"' _ "$f" "$st" ;;
        esac
    done <"$dir/index"
    if [ -e "$dir/done" ]; then
        vmu_checks "$dir"
        vmd_checks "$dir"
    fi
    [ -n "$VMD_NO_GPIOSIM" ] && vm_cannot "$VMD_NO_GPIOSIM" "GPIO on gpio-sim in the test VM (the GPIO tests of tests/dev_vm.c, gpio_counter there)"
    while IFS= read -r m; do
        t_skip vm "${m%%: *}" "${m#*: }"
    done <"$dir/skips"
    echo "NOTE [vm] kernel $VM_KVER under $(vm_accel): $(( $(date +%s) - t0 )) s for the stage, $(( $(date +%s) - t1 )) s of them in QEMU"
}

# The part itself: without QEMU it says so on a SKIP line that names the
# package, and with T_REQUIRE_VM=1 that is a failure (a nested run, with a
# PATH that lacks qemu-system-x86_64).
vm_selftest() {
    local bin=$T_OUT/vm_noqemu d f out
    rm -rf "$bin" && mkdir -p "$bin"
    for d in /usr/local/bin /usr/bin /bin; do
        for f in "$d"/*; do
            case "${f##*/}" in qemu-system-*) continue ;; esac
            [ -e "$bin/${f##*/}" ] || ln -s "$f" "$bin/${f##*/}"
        done
    done
    out=$(env PATH="$bin" VM_SELFTEST=1 T_REQUIRE_VM= bash tests/run.sh vm 2>&1)
    echo "$out" | grep -qx 'SKIP \[vm\] .*: needs qemu-system-x86_64 (package qemu-system-x86)' &&
        echo "$out" | grep -qx '0 passed, 0 failed' || { echo "$out"; return 1; }
    out=$(env PATH="$bin" VM_SELFTEST=1 T_REQUIRE_VM=1 bash tests/run.sh vm 2>&1) && { echo "$out"; return 1; }
    echo "$out" | grep -q '^FAIL \[vm\] .*needs qemu-system-x86_64.*T_REQUIRE_VM is set' || { echo "$out"; return 1; }
}

if [ -z "${VM_SELFTEST:-}" ] && [ -z "$T_SUITE" ]; then
    export T_OUT
    export -f vm_selftest
    t_check "vm stage without QEMU: skipped and named, or failed under T_REQUIRE_VM=1" bash -c vm_selftest
fi
vm_part
