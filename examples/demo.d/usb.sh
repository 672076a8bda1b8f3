# examples/demo.d/usb.sh - asyncusb.h in the demo (sourced by
# examples/demo.sh): ausb list, ausb dev-info and ptp_info on the project's
# own emulated camera (tools/fakecam.c: an umockdev testbed, no hardware and
# no recording), then the same examples on this machine's real devices.
#
# DEMO_USB_HOST, empty by default, is a command prefix under which "this
# machine's devices" are looked for; the tests set it to a fake testbed.

demo_usb_fake() {
    say "ausb list: the devices of an emulated USB bus, a root hub and the AsyncKit Demo Camera
   (build/fakecam -- build/ausb list)"
    build/fakecam -- build/ausb list || return 1
    say "ausb dev-info 1209 0001: the camera's descriptors, a still-image interface (06 01 01)"
    build/fakecam -- build/ausb dev-info 1209 0001 || return 1
    say "ptp_info: PTP over async bulk transfers (OpenSession, GetDeviceInfo, GetStorageIDs,
   GetStorageInfo, CloseSession), each started from the callback of the one before"
    build/fakecam -- build/ptp_info || return 1
}

# The same examples on what this machine has; nothing here fails the demo.
demo_usb_real() {
    local host=${DEMO_USB_HOST:-} list first
    # shellcheck disable=SC2086
    list=$($host build/ausb list 2>&1)
    if [ -z "$list" ]; then
        say "this machine's USB devices: build/ausb list finds none here (no USB bus visible,
   as in most containers); on a machine with USB devices the same commands show them"
        return 0
    fi
    say "ausb list: this machine's USB devices"
    printf '%s\n' "$list"
    first=$(printf '%s\n' "$list" | sed -n 's/^Bus [0-9]* Device [0-9]*: ID \([0-9a-f]\{4\}\):\([0-9a-f]\{4\}\).*/\1 \2/p' |
            grep -v '^1d6b ' | head -n 1)
    if [ -n "$first" ]; then
        say "ausb dev-info ${first}: the first of them that is not a root hub"
        # shellcheck disable=SC2086
        $host build/ausb dev-info $first
    fi
    say "ptp_info: the first still-image camera among them, if one is attached"
    # shellcheck disable=SC2086
    $host build/ptp_info 2>&1
    return 0
}

demo_usb_fake || return 1
demo_usb_real
