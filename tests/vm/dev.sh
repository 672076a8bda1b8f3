# tests/vm/dev.sh - the device stage of the test VM (busybox sh, sourced by
# tests/vm/init after the USB stage).  Three kinds of device, all made by
# the kernel's own simulators:
#
#   gpio-sim    one chip of 8 lines, "dev_vm", configured through configfs;
#               its lines are driven through the simulator's sysfs `pull`
#               and read back through `value` (built by tests/vm/gpiosim.sh:
#               absent when the host could not build it, and then the host
#               has said why)
#   i2c-stub    an SMBus adapter that serves a register map at 0x48 (a
#               TMP102 as far as its driver can tell), through i2c-dev
#   uinput      key and relative-axis devices tests/dev_vm.c creates itself
#
# Then tests/dev_vm.c in each build there is, and examples/gpio_counter.c
# on three of the chip's lines, driven as a user's hand would, its output
# sent to the host (tests/vm/dev_host.sh compares it).

DEV_SIM=/sys/kernel/config/gpio-sim/dev_vm

# dev_gpiosim: a live chip of 8 lines; sets DEV_VM_CHIP and DEV_VM_SIM.
dev_gpiosim() {
    modprobe gpio-sim || return 1
    grep -q " /sys/kernel/config " /proc/mounts || mount -t configfs configfs /sys/kernel/config
    mkdir -p "$DEV_SIM/bank0" && echo 8 >"$DEV_SIM/bank0/num_lines" && echo 1 >"$DEV_SIM/live" || return 1
    DEV_VM_CHIP=$(cat "$DEV_SIM/bank0/chip_name")
    DEV_VM_SIM=/sys/bus/gpio/devices/$DEV_VM_CHIP
    export DEV_VM_CHIP DEV_VM_SIM
    [ -e "/dev/$DEV_VM_CHIP" ] && [ -e "$DEV_VM_SIM/sim_gpio7/pull" ]
}

dev_pull() { echo "pull-$2" >"$DEV_VM_SIM/sim_gpio$1/pull"; }
# one detent of the encoder on lines 1 (A) and 2 (B): the first line given
# closes first, and the contacts close to ground
dev_detent() { dev_pull "$1" down && dev_pull "$2" down && dev_pull "$1" up && dev_pull "$2" up; }
# dev_lines N: until the counter has printed N lines
dev_lines() { vm_wait_for 5 sh -c '[ "$(wc -l </tmp/counter.out)" -ge "$1" ]' _ "$1"; }

# dev_counter: the counter example, turned both ways, clicked, held; its
# output on stdout, its exit status as ours.  Each step waits for the
# line the one before it makes, never for time; only the press itself
# lasts (a click 0.1 s, beyond the debounce; the long press until "bye").
dev_counter() {
    local pid rc
    gpio_counter "$DEV_VM_CHIP" 0 1 2 >/tmp/counter.out 2>&1 &
    pid=$!
    dev_lines 1 &&
    dev_detent 1 2 && dev_lines 2 && dev_detent 1 2 && dev_lines 3 &&
    dev_detent 2 1 && dev_lines 4 && dev_detent 2 1 && dev_lines 5 && dev_detent 2 1 && dev_lines 6 &&
    dev_pull 0 down && sleep 0.1 && dev_pull 0 up && dev_lines 7 &&
    dev_detent 1 2 && dev_lines 8 &&
    dev_pull 0 down && dev_lines 9
    dev_pull 0 up
    vm_wait_for 5 sh -c '! kill -0 "$1"' _ "$pid" || kill "$pid"
    wait "$pid"
    rc=$?
    cat /tmp/counter.out
    return "$rc"
}

# dev_i2cstub: i2c-stub serving one chip at 0x48; sets DEV_VM_I2C.
dev_i2cstub() {
    local a
    modprobe i2c-dev && modprobe i2c-stub chip_addr=0x48 || return 1
    for a in /sys/class/i2c-dev/*; do
        grep -q 'stub' "$a/name" 2>/dev/null && DEV_VM_I2C=/dev/${a##*/}
    done
    export DEV_VM_I2C DEV_VM_I2C_ADDR=0x48
    [ -n "$DEV_VM_I2C" ] && [ -e "$DEV_VM_I2C" ]
}

if [ -e "/lib/modules/$(uname -r)/extra/gpio-sim.ko" ]; then
    vm_run check "gpio-sim makes a chip of 8 lines through configfs" dev_gpiosim
fi
vm_run check "i2c-stub serves a chip at 0x48 through i2c-dev" dev_i2cstub
vm_run check "uinput and evdev load" sh -c 'modprobe uinput && modprobe evdev && [ -e /dev/uinput ]'
# vm_run runs a check in this shell: the names the checks set stay set
vm_run suite "dev_vm plain" dev_vm
[ -x /t/dev_vm_asan ] && vm_run suite "dev_vm asan+ubsan" dev_vm_asan
[ -n "$DEV_VM_CHIP" ] && vm_run file gpio_counter dev_counter
