# tests/vm/usb.sh - the USB stage of the test VM (busybox sh, sourced by
# tests/vm/init).  dummy_hcd gives four host ports, each with a device
# controller behind it, and four gadgets are plugged in:
#
#   dummy_udc.0  "zero"    0525:a4a0  SourceSink (pattern mod 63), a configfs gadget
#   dummy_udc.1  "loop"    1209:0003  Loopback, a configfs gadget
#   dummy_udc.2  "test"    1209:0002  tools/ffsdev.c test (FunctionFS)
#   dummy_udc.3  "camera"  1209:0001  tools/ffsdev.c camera (FunctionFS,
#                                     the logic of tools/ptpcam.h)
#
# Then: what the host compares (lsusb -v and ausb dev-info per gadget, ausb
# list and lsusb, ptp_info and usb_lines outputs), tests/usb_vm.c in each
# build there is (its hotplug tests without udevd, as the VM boots),
# ptp_info on a camera that refuses GetDeviceInfo, and the hotplug tests of
# tests/usb_vm.c again with systemd-udevd running.
# One gadget per controller: a device-wide vendor request (SourceSink's
# control test) reaches the function only when it is alone in its
# configuration.

USB_GADGETS=/sys/kernel/config/usb_gadget

# usb_gadget NAME UDC VID PID PRODUCT FUNCTION [ATTR=VALUE...]: a configfs
# gadget with one function of the kernel's, bound to UDC.
usb_gadget() {
    local g=$USB_GADGETS/$1 udc=$2 f=$6 kv
    mkdir -p "$g" && cd "$g" || return 1
    echo "$3" >idVendor && echo "$4" >idProduct && echo 0x0100 >bcdDevice
    mkdir -p strings/0x409 configs/c.1 "functions/$f"
    echo AsyncKit >strings/0x409/manufacturer
    echo "$5" >strings/0x409/product
    echo 120 >configs/c.1/MaxPower
    shift 6
    for kv in "$@"; do echo "${kv#*=}" >"functions/$f/${kv%%=*}"; done
    ln -s "$g/functions/$f" configs/c.1/
    echo "$udc" >UDC
    cd /
}

# usb_dev VID PID: the sysfs folder of that device (false when absent).
usb_dev() {
    local d
    for d in /sys/bus/usb/devices/*-*; do
        [ -e "$d/idVendor" ] || continue
        [ "$(cat "$d/idVendor"):$(cat "$d/idProduct")" = "$1:$2" ] && { echo "$d"; return 0; }
    done
    return 1
}

usb_all_there() {
    usb_dev 0525 a4a0 && usb_dev 1209 0003 && usb_dev 1209 0002 && usb_dev 1209 0001
}

# usb_ep VID PID IN|OUT: the bulk endpoint of interface 0 in that direction (hex).
usb_ep() {
    local d e
    d=$(usb_dev "$1" "$2") || return 1
    for e in "$d"/*:1.0/ep_*; do
        [ "$(cat "$e/type")" = Bulk ] && [ "$(cat "$e/direction")" = "$(echo "$3" | tr A-Z a-z)" ] &&
            { cat "$e/bEndpointAddress"; return 0; }
    done
    return 1
}

# usb_ffsdev NAME ARGS...: tools/ffsdev.c in the background until it says ready.
usb_ffsdev() {
    local name=$1
    shift
    ffsdev --name "$name" "$@" >"/tmp/ffsdev-$name.log" 2>&1 &
    echo $! >"/tmp/ffsdev-$name.pid"
    vm_wait_for 10 grep -q ready "/tmp/ffsdev-$name.log"
}

usb_lines_check() {
    printf 'hello\nsecond line\nno newline' | "$1" 1209:0003 0 "$(usb_ep 1209 0003 in)" "$(usb_ep 1209 0003 out)"
}

if ! modprobe dummy_hcd num=4 || ! modprobe libcomposite || ! modprobe usb_f_ss_lb || ! modprobe usb_f_fs; then
    vm_skip "the USB stage: the kernel's gadget modules do not load"
else
    grep -q " /sys/kernel/config " /proc/mounts || mount -t configfs configfs /sys/kernel/config
    usb_gadget zero dummy_udc.0 0x0525 0xa4a0 "Gadget Zero" SourceSink.0 pattern=1
    usb_gadget loop dummy_udc.1 0x1209 0x0003 "Loopback" Loopback.0
    usb_ffsdev test --udc dummy_udc.2 test
    usb_ffsdev camera --udc dummy_udc.3 camera
    vm_wait_for 10 usb_all_there
    vm_run check "the four gadgets enumerate" usb_all_there
    for id in 0525:a4a0 1209:0003 1209:0002 1209:0001; do
        vm_run file "lsusb-v-$id" lsusb -v -d "$id"
        vm_run file "dev-info-$id" ausb dev-info "${id%:*}" "${id#*:}"
    done
    vm_run file ausb-list ausb list
    vm_run file lsusb lsusb
    for b in "" _asan; do
        [ -x "/t/ptp_info$b" ] || continue
        vm_run file "ptp_info$b" "ptp_info$b"
        vm_run file "usb_lines$b" usb_lines_check "usb_lines$b"
    done
    vm_run suite "usb_vm plain" env USB_VM_UDC=$USB_GADGETS/zero/UDC USB_VM_BENCH="${VM_BENCH:-}" usb_vm
    [ -x /t/usb_vm_asan ] && vm_run suite "usb_vm asan+ubsan" env USB_VM_UDC=$USB_GADGETS/zero/UDC usb_vm_asan
    # the camera again, refusing GetDeviceInfo: ffsdev ends cleanly on
    # SIGTERM (the gadget unbound and removed) and starts again
    kill "$(cat /tmp/ffsdev-camera.pid)"
    wait "$(cat /tmp/ffsdev-camera.pid)"
    vm_run check "ffsdev ends on SIGTERM and removes its gadget" test ! -e $USB_GADGETS/camera
    usb_ffsdev camera --udc dummy_udc.3 --fail 1001=2019 camera
    vm_wait_for 10 usb_dev 1209 0001
    vm_run file ptp_info-refused ptp_info
    # hotplug with udevd (systemd-udevd is udevadm under that name): libusb
    # hears of devices now, and a watch left to choose takes libusb's
    if [ -x /t/udevadm ]; then
        ln -sf udevadm /t/systemd-udevd
        if systemd-udevd --daemon --resolve-names=never >/tmp/udevd.log 2>&1 &&
           vm_wait_for 10 test -S /run/udev/control; then
            vm_run suite "usb_vm hotplug with udevd" env T_ONLY=hotplug USB_VM_UDEVD=1 USB_VM_UDC=$USB_GADGETS/zero/UDC usb_vm
            udevadm control --exit
        else
            vm_skip "hotplug with udevd: systemd-udevd does not start: $(tail -n 3 /tmp/udevd.log | tr '\n' ' ')"
        fi
    else
        vm_skip "hotplug with udevd: $(cat /etc/udevd.why 2>/dev/null || echo 'no systemd-udevd in the VM')"
    fi
fi
