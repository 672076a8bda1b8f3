#!/usr/bin/env bash
# tests/deps.sh - makes sure the tools the tests, benchmarks and demo use are
# here.  As root it installs what is missing with apt-get; otherwise it
# prints the command to run and fails.
#
#   tests/deps.sh demo   only what `make demo` needs: a compiler, make,
#                        pkg-config, libusb and umockdev (no cross
#                        toolchains, no foreign architectures)
#   tests/deps.sh test   what `make test` runs first: the same as without an
#                        argument, except that without root it only names
#                        what is missing and succeeds, since tests/run.sh
#                        skips what needs a missing package and says so
set -u
mode=${1:-all}
need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
want_cmd() { have_cmd "$1" || need+=("$2"); }
want_pkg() { have_pkg "$1" || need+=("$1"); }

want_cmd gcc gcc
want_cmd g++ g++
want_cmd clang clang
want_cmd make make
want_cmd pkg-config pkg-config
want_cmd valgrind valgrind
want_cmd aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
want_cmd arm-linux-gnueabihf-gcc gcc-arm-linux-gnueabihf
want_cmd qemu-aarch64 qemu-user
want_cmd musl-gcc musl-tools
want_pkg libusb-1.0-0-dev
want_cmd umockdev-run umockdev
want_pkg libumockdev-dev
want_cmd lsusb usbutils
want_pkg libuv1-dev
want_pkg libevent-dev
want_cmd nginx nginx-light
want_cmd socat socat
want_cmd ip iproute2
want_cmd unshare util-linux
want_cmd curl curl
want_pkg python3-usb1
want_pkg libclang-rt-14-dev
# the test VM (tests/parts/vm.sh): QEMU and what builds its initramfs; the
# kernel itself is downloaded as a package at run time, never installed
vm_need=()
for vm_item in qemu-system-x86_64=qemu-system-x86 busybox=busybox-static cpio=cpio depmod=kmod xz=xz-utils; do
    have_cmd "${vm_item%%=*}" || [ -x "/sbin/${vm_item%%=*}" ] || vm_need+=("${vm_item#*=}")
done
# libusb for the cross targets, so asyncusb.h and its examples cross-build
foreign=$(dpkg --print-foreign-architectures 2>/dev/null)
for arch in arm64 armhf; do
    [ "$mode" = demo ] && break
    have_pkg "libusb-1.0-0-dev:$arch" || need+=("libusb-1.0-0-dev:$arch")
done
if [ "$mode" = demo ]; then
    demo_pkgs=" gcc make pkg-config libusb-1.0-0-dev umockdev libumockdev-dev "
    keep=()
    for p in "${need[@]}"; do
        case "$demo_pkgs" in *" $p "*) keep+=("$p") ;; esac
    done
    need=("${keep[@]}")
    vm_need=()
fi

all=("${need[@]}" "${vm_need[@]}")
[ ${#all[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    if [ "$mode" = test ]; then
        echo "Not root, so nothing is installed.  Missing: ${all[*]}" >&2
        echo "The tests that need them are skipped, each named on a SKIP line.  To run everything:" >&2
        echo "  sudo apt-get install -y ${all[*]}" >&2
        exit 0
    fi
    echo "Missing packages. Install them with:" >&2
    echo "  sudo apt-get install -y ${all[*]}" >&2
    exit 1
fi
echo "Installing: ${all[*]}"
export DEBIAN_FRONTEND=noninteractive
for arch in arm64 armhf; do
    [ "$mode" = demo ] && break
    case " $foreign " in *" $arch "*) ;; *) dpkg --add-architecture "$arch" ;; esac
done
# A mirror caught mid-sync fails one index now and then; what matters is
# whether the packages install.
apt-get update -qq >/dev/null 2>&1 || echo "apt-get update reported errors; trying the install anyway" >&2
if [ ${#need[@]} -gt 0 ]; then
    apt-get install -y -qq "${need[@]}" >/dev/null || {
        echo "apt-get install failed for: ${need[*]}" >&2; exit 1; }
fi
# without QEMU's recommends (a GUI, firmware, block drivers): half the time
if [ ${#vm_need[@]} -gt 0 ]; then
    apt-get install -y -qq --no-install-recommends "${vm_need[@]}" >/dev/null || {
        echo "apt-get install failed for: ${vm_need[*]}" >&2; exit 1; }
fi
