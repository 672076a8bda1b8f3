# tests/vm/dev_host.sh - the host side of the VM's device stage (sourced by
# tests/parts/vm.sh after usb_host.sh; bash; the guest side is
# tests/vm/dev.sh).
#
#   vmd_build BIN MANIFEST   builds tests/dev_vm.c (plain, and ASan+UBSan
#                            where clang is) and gpio-sim.ko for the VM's
#                            kernel (tests/vm/gpiosim.sh, cached), and adds
#                            them, the kernel's own modules (i2c-stub,
#                            i2c-dev, uinput, evdev) and the stage to
#                            MANIFEST; false with the build log on stderr
#                            when a program does not build.  A module that
#                            cannot be built is no failure here: its reason
#                            is left in VMD_NO_GPIOSIM for the part to name
#                            (a SKIP line, or a failure under T_REQUIRE_VM)
#   vmd_checks DIR           the host's checks on what the guest sent back:
#                            examples/gpio_counter.c's output on gpio-sim

. "$VM_HERE/gpiosim.sh"

VMD_NO_GPIOSIM=

vmd_build() {
    local bin=$1 manifest=$2 cc=${CC:-gcc} pids=() p bad=0 ko
    mkdir -p "$bin"
    # shellcheck disable=SC2086
    {
        # the example, built by the command its comment gives
        vmu_cc "$bin/gpio_counter" $cc -std=c99 -O2 -I. examples/gpio_counter.c & pids+=($!)
        vmu_cc "$bin/dev_vm" $cc -std=c99 -Wall -Wextra -Werror -O2 -g -iquote . tests/dev_vm.c & pids+=($!)
        if t_have "${CLANG:-clang}"; then
            vmu_cc "$bin/dev_vm_asan" ${CLANG:-clang} $VMU_SAN -iquote . tests/dev_vm.c & pids+=($!)
        fi
    } >&2
    for p in "${pids[@]}"; do wait "$p" || bad=1; done
    [ "$bad" = 0 ] || return 1
    if ko=$(vmg_module 2>"$VM_DIR/gpio-sim.log"); then
        echo "modfile $ko" >>"$manifest"
    else
        VMD_NO_GPIOSIM=$(tail -n 1 "$VM_DIR/gpio-sim.log")
    fi
    {
        printf 'module %s\n' i2c-stub i2c-dev uinput evdev configfs
        for p in dev_vm dev_vm_asan gpio_counter; do
            [ -e "$bin/$p" ] && echo "bin $bin/$p"
        done
        echo "stage tests/vm/dev.sh"
    } >>"$manifest"
}

# the same turns and presses as tests/dev_examples.sh on a played chip, and
# the same output
vmd_counter() {
    local chip
    chip=$(vmu_block "$1" gpio_counter | sed -n '1s/^counter on \(gpiochip[0-9]*\):.*/\1/p')
    { echo "counter on ${chip:-?}: button 0, encoder 1 2"; cat tests/gpio_counter.expected; } |
        vmu_expect "$1" gpio_counter 0
}

vmd_checks() {
    [ -n "$VMD_NO_GPIOSIM" ] && return 0
    export -f vmd_counter
    vmu_t "vm gpio_counter: an encoder and a button on gpio-sim drive the count" vmd_counter "$1"
}
