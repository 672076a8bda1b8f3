# tests/vm/lib.sh - the test VM, host side: a Debian kernel booted under
# QEMU with an initramfs of our test programs (sourced by tests/parts/vm.sh;
# bash).
#
#   vm_lacks               "needs ..." naming each missing tool and its
#                          package; false when nothing is missing
#   vm_kernel              resolves the kernel version from Debian's
#                          linux-image-amd64 at run time, downloads and
#                          unpacks that package once (cached in $VM_DIR),
#                          extracts vmlinux for a direct (PVH) boot; sets
#                          VM_KVER and VM_KDIR, or says why not (stderr)
#   vm_kernel_extra PKG    another package of the same kernel version
#                          (linux-source-6.1, for modules Debian does not
#                          build): downloaded and unpacked into
#                          $VM_DIR/extra/PKG (stdout: that path).  Headers
#                          to build against are installed instead
#                          (linux-headers-$VM_KVER: their Makefiles point
#                          into /usr/src and /usr/lib/linux-kbuild-*)
#   vm_initramfs MANIFEST OUT
#                          the initramfs: busybox as /init (tests/vm/init),
#                          the manifest's modules (and what they need),
#                          programs (and the libraries ldd names), files
#                          and stages
#   vm_accel               "kvm" where the host has a usable one (kvm_intel
#                          or kvm_amd loaded, /dev/kvm writable), else "tcg";
#                          VM_ACCEL=kvm|tcg overrides
#   vm_boot INITRD LOG     boots it under a hard timeout (VM_TIMEOUT, 300 s),
#                          no terminal needed; the console goes to LOG
#                          (and to stdout with VM_ECHO=1)
#
# The manifest, one item a line ('#' starts a comment):
#   module NAME            a module of the kernel package, loaded by a stage
#                          with modprobe
#   modfile PATH           a module built elsewhere (gpio-sim, later)
#   bin PATH [NAME]        a program, as /t/NAME (default: its file name)
#   file PATH DEST         a file, as DEST
#   stage PATH             a stage script of the guest, sourced in order
#   env NAME=VALUE         a variable every stage sees
#
# Inside the guest a stage reports through vm_run (tests/vm/init); the host
# reads the markers back with tests/parts/vm.sh.  Nothing here is installed
# on the host: the kernel package is unpacked into $VM_DIR only.

: "${VM_DIR:=build/vm}" "${VM_TIMEOUT:=300}" "${VM_MEM:=1024}"
VM_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# depmod and friends live in sbin, which a user's PATH may lack
PATH=$PATH:/usr/sbin:/sbin

vm_lacks() {
    local out= item cmd pkg
    for item in qemu-system-x86_64=qemu-system-x86 busybox=busybox-static cpio=cpio depmod=kmod \
                xz=xz-utils apt-get=apt dpkg-deb=dpkg; do
        cmd=${item%%=*}; pkg=${item#*=}
        command -v "$cmd" >/dev/null 2>&1 || out="${out:+$out, }$cmd (package $pkg)"
    done
    case "$(dpkg --print-architecture 2>/dev/null)" in
        amd64) ;;
        *) out="${out:+$out, }an amd64 host (the programs run inside as built here)" ;;
    esac
    [ -n "$out" ] && printf 'needs %s\n' "$out"
}

# vm_apt_download PKG[=VERSION] DIR: the .deb into DIR (its path on stdout).
vm_apt_download() {
    local want=$1 dir=$2 name=${1%%=*} ver= f
    [ "$want" != "$name" ] && ver=${want#*=}
    mkdir -p "$dir"
    f=$(ls "$dir/${name}_${ver//:/%3a}"*.deb 2>/dev/null | head -n 1)
    if [ -z "$f" ]; then
        # as root, apt's download user (_apt) may not write to DIR: root does
        (cd "$dir" && if [ "$(id -u)" -eq 0 ]; then apt-get -q -o APT::Sandbox::User=root download "$want"
                      else apt-get -q download "$want"; fi) >"$dir/download.log" 2>&1
        f=$(ls "$dir/${name}_${ver//:/%3a}"*.deb 2>/dev/null | head -n 1)
    fi
    [ -n "$f" ] || { echo "apt-get download $want failed: $(grep -m1 -E '^(E|W):' "$dir/download.log")" >&2; return 1; }
    echo "$f"
}

# The kernel package that linux-image-amd64 depends on now, as
# "PACKAGE VERSION".
vm_kernel_resolve() {
    local dep
    dep=$(apt-cache show --no-all-versions linux-image-amd64 2>/dev/null |
          sed -n 's/^Depends: \(linux-image-[^ ,]*\) (= \([^)]*\)).*/\1 \2/p' | head -n 1)
    [ -n "$dep" ] || { echo "apt-cache knows no linux-image-amd64 (apt-get update first)" >&2; return 1; }
    echo "$dep"
}

# vm_kernel: as root, a package list that knows no kernel, or names one
# the archive no longer has, is refreshed once (apt-get update) and the
# kernel asked for again; offline, the kernel already in the cache serves.
vm_kernel() {
    local cached
    vm_kernel_once && return 0
    if [ "$(id -u)" -eq 0 ] && [ -z "${VM_UPDATED:-}" ]; then
        VM_UPDATED=1
        echo "the package lists are refreshed (apt-get update)" >&2
        apt-get update -qq >/dev/null 2>&1
        vm_kernel_once && return 0
    fi
    cached=$(ls -d "$VM_DIR"/kernel/*/ok 2>/dev/null | sort -V | tail -n 1)
    [ -n "$cached" ] || return 1
    VM_KDIR=${cached%/ok}
    VM_KVER=${VM_KDIR##*/}
    VM_KPKG_VERSION=$(cat "$VM_KDIR/version")
    echo "the kernel of the cache serves: $VM_KVER" >&2
}

vm_kernel_once() {
    local pkg ver deb dir off
    read -r pkg ver < <(vm_kernel_resolve) || return 1
    [ -n "$pkg" ] || return 1
    VM_KVER=${pkg#linux-image-}
    VM_KPKG_VERSION=$ver
    dir=$VM_DIR/kernel/$VM_KVER
    VM_KDIR=$dir
    [ -e "$dir/ok" ] && return 0
    deb=$(vm_apt_download "$pkg=$ver" "$VM_DIR/debs") || return 1
    rm -rf "$dir" && mkdir -p "$dir"
    # only the kernel and its modules: the rest is documentation
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir" ./boot ./lib/modules ||
        { echo "cannot unpack $deb" >&2; return 1; }
    # vmlinuz is a boot stub and an xz stream: the stream is the kernel
    # itself, which QEMU boots directly (PVH) without the slow stub
    off=$(LC_ALL=C grep -obUa $'\xfd''7zXZ' "$dir/boot/vmlinuz-$VM_KVER" | head -n 1 | cut -d: -f1)
    [ -n "$off" ] || { echo "no xz stream in vmlinuz-$VM_KVER" >&2; return 1; }
    tail -c +$((off + 1)) "$dir/boot/vmlinuz-$VM_KVER" | xz -dcq >"$dir/vmlinux" 2>/dev/null
    head -c 4 "$dir/vmlinux" | grep -q 'ELF' || { echo "vmlinux from vmlinuz-$VM_KVER is no ELF file" >&2; return 1; }
    echo "$ver" >"$dir/version"
    touch "$dir/ok"
    # older kernels of the cache are of no use any more (their packages
    # have left the archive too)
    for old in "$VM_DIR"/kernel/*; do
        [ "$old" = "$dir" ] || rm -rf "$old"
    done
    for old in "$VM_DIR"/debs/linux-image-*.deb; do
        case "$old" in "$deb") ;; *) rm -f "$old" ;; esac
    done
    return 0
}

vm_kernel_extra() {
    local pkg=$1 deb dir=$VM_DIR/extra/$1
    [ -e "$dir/ok" ] && { echo "$dir"; return 0; }
    deb=$(vm_apt_download "$pkg=$VM_KPKG_VERSION" "$VM_DIR/debs") || return 1
    rm -rf "$dir" && mkdir -p "$dir"
    dpkg-deb -x "$deb" "$dir" && touch "$dir/ok" && echo "$dir"
}

vm_accel() {
    if [ -n "${VM_ACCEL:-}" ]; then
        echo "$VM_ACCEL"
    elif [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
        echo kvm
    else
        # no KVM, or a paravirtual one (kvm_pvm) on which a stock kernel
        # never reaches /init: software emulation
        echo tcg
    fi
}

# vm_copy_libs ROOT PROGRAM: the shared libraries PROGRAM needs, and the loader.
vm_copy_libs() {
    local root=$1 lib
    ldd "$2" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p' |
    while read -r lib; do
        [ -e "$root$lib" ] && continue
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
}

# vm_module_closure ROOT NAME: NAME and what modules.dep says it needs, copied into ROOT.
vm_module_closure() {
    local root=$1 name=$2 mdir=$VM_KDIR/lib/modules/$VM_KVER path dep
    path=$(grep -m 1 -E "(^|/)${name//_/[_-]}\.ko(\.[a-z]+)?:" "$mdir/modules.dep" | cut -d: -f1)
    if [ -z "$path" ]; then
        grep -qE "(^|/)${name//_/[_-]}\.ko" "$mdir/modules.builtin" && return 0
        echo "no module $name in the kernel package" >&2
        return 1
    fi
    for dep in $path $(grep -m 1 "^$path:" "$mdir/modules.dep" | cut -d: -f2); do
        [ -e "$root/lib/modules/$VM_KVER/$dep" ] && continue
        mkdir -p "$root/lib/modules/$VM_KVER/$(dirname "$dep")"
        cp "$mdir/$dep" "$root/lib/modules/$VM_KVER/$dep"
    done
}

vm_initramfs() {
    local manifest=$1 out=$2 root kind a b n=0
    root=$VM_DIR/root
    rm -rf "$root"
    mkdir -p "$root"/{bin,t,stages,proc,sys,dev,tmp,run,etc} "$root/lib/modules/$VM_KVER"
    [ -e "$VM_KDIR/lib/modules/$VM_KVER/modules.dep" ] ||
        depmod -b "$VM_KDIR" "$VM_KVER" || { echo "depmod failed for $VM_KDIR" >&2; return 1; }
    cp "$(command -v busybox)" "$root/bin/busybox"
    vm_copy_libs "$root" "$root/bin/busybox"
    cp "$VM_HERE/init" "$root/init"
    chmod 755 "$root/init"
    cp "$VM_KDIR/lib/modules/$VM_KVER"/modules.{order,builtin,builtin.modinfo} "$root/lib/modules/$VM_KVER/"
    : >"$root/etc/vm.env"
    while read -r kind a b; do
        case "$kind" in
            ''|'#'*) continue ;;
            module) vm_module_closure "$root" "$a" || return 1 ;;
            modfile) mkdir -p "$root/lib/modules/$VM_KVER/extra" && cp "$a" "$root/lib/modules/$VM_KVER/extra/" ;;
            bin) cp "$a" "$root/t/${b:-$(basename "$a")}" && vm_copy_libs "$root" "$a" || return 1 ;;
            file) mkdir -p "$root$(dirname "$b")" && cp -L "$a" "$root$b" || return 1 ;;
            stage) n=$((n + 1)); cp "$a" "$root/stages/$(printf '%02d' "$n")-$(basename "$a")" || return 1 ;;
            env) printf 'export %q\n' "$a" >>"$root/etc/vm.env" ;;
            *) echo "vm_initramfs: unknown manifest line: $kind $a $b" >&2; return 1 ;;
        esac
    done <"$manifest"
    depmod -b "$root" "$VM_KVER" || return 1
    (cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet) >"$out"
}

vm_boot() {
    local initrd=$1 log=$2 accel cpu
    accel=$(vm_accel)
    # q35, not microvm: under TCG on a busy host the kernel cannot
    # calibrate its clock against microvm's PIT and, with no HPET there,
    # hangs before /init; q35's HPET serves.  TCG: QEMU's default CPU model
    cpu=qemu64
    [ "$accel" = kvm ] && cpu=host
    # -nodefaults and a serial console on stdio: no terminal, no display,
    # nothing read from stdin; poweroff -f in the guest ends QEMU
    timeout -k 5 "$VM_TIMEOUT" qemu-system-x86_64 -M "q35,accel=$accel" -cpu "$cpu" -m "$VM_MEM" \
        -kernel "$VM_KDIR/vmlinux" -initrd "$initrd" \
        -append "console=ttyS0 loglevel=3 panic=-1 oops=panic" \
        -nodefaults -no-user-config -display none -serial stdio -no-reboot </dev/null 2>&1 |
        if [ "${VM_ECHO:-}" = 1 ]; then tee "$log"; else cat >"$log"; fi
    return "${PIPESTATUS[0]}"
}

# vm_collect LOG DIR: the console's reports, taken apart into DIR: one file
# per block (DIR/KIND/NAME, spaces in NAME as '_'), and DIR/index with a
# line "KIND<TAB>NAME<TAB>STATUS<TAB>FILE<TAB>SECONDS" per block, DIR/skips with the
# guest's skip lines, DIR/done when the guest finished all its stages.
vm_collect() {
    local log=$1 dir=$2
    rm -rf "$dir"
    mkdir -p "$dir/suite" "$dir/check" "$dir/file"
    : >"$dir/index"
    : >"$dir/skips"
    tr -d '\r' <"$log" | awk -v dir="$dir" '
        /^@@vm begin (suite|check|file) / {
            kind = $3; name = $0; sub(/^@@vm begin [a-z]+ /, "", name)
            f = name; gsub(/[^A-Za-z0-9_.:+-]/, "_", f); f = dir "/" kind "/" f
            printf "" > f; open = 1; next
        }
        /^@@vm end -?[0-9]+( [0-9.]+)?$/ && open {
            close(f); printf "%s\t%s\t%s\t%s\t%s\n", kind, name, $3, f, $4 >> (dir "/index"); open = 0; next
        }
        /^@@vm skip / { sub(/^@@vm skip /, ""); print >> (dir "/skips"); next }
        /^@@vm done/ { printf "" > (dir "/done"); next }
        open { print >> f }'
}
