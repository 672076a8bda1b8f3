# tests/vm/gpiosim.sh - gpio-sim for the test VM, host side (sourced by
# tests/vm/dev_host.sh; bash).  Debian's kernel does not build gpio-sim
# (nor irq_sim, which it needs), so it is built here as one out-of-tree
# module from the kernel's own source, for exactly the VM's kernel:
#
#   vmg_module     the path of gpio-sim.ko for $VM_KVER on stdout, built
#                  once and cached in $VM_DIR/modules/$VM_KVER; false with
#                  the reason on stderr (no headers and not root, no
#                  source package, a build error)
#
# What it takes (see ../shared/VM-NOTES.md): linux-headers-$VM_KVER
# installed (their Makefiles point into /usr/src and the kbuild package;
# installed as root, never the kernel itself), three files of
# linux-source-6.1 of the same package version (drivers/gpio/gpio-sim.c,
# drivers/gpio/gpiolib.h, kernel/irq/irq_sim.c), and one change: irq_sim
# calls irq_to_desc, which the kernel does not export, to hand an interrupt
# to handle_simple_irq; generic_handle_irq reaches the same handler (the
# domain's) through exported code.  Cold, this costs a download of about
# 140 MB and a minute or so; warm, nothing (the module is cached).

vmg_module() {
    local cache=$VM_DIR/modules/$VM_KVER ko hdr src tarball work t0=$SECONDS
    ko=$cache/gpio-sim.ko
    [ -s "$ko" ] && { echo "$ko"; return 0; }
    hdr=/usr/src/linux-headers-$VM_KVER
    if [ ! -e "$hdr/Makefile" ]; then
        [ "$(id -u)" -eq 0 ] || { echo "needs linux-headers-$VM_KVER (not root: nothing installed)" >&2; return 1; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "linux-headers-$VM_KVER" \
            >"$VM_DIR/headers.log" 2>&1 ||
            { echo "apt-get install linux-headers-$VM_KVER failed: $(grep -m1 -E '^E:' "$VM_DIR/headers.log")" >&2; return 1; }
    fi
    src=$(vm_kernel_extra linux-source-6.1) || return 1
    tarball=$(ls "$src"/usr/src/linux-source-*.tar.xz 2>/dev/null | head -n 1)
    [ -n "$tarball" ] || { echo "no source tarball in linux-source-6.1" >&2; return 1; }
    work=$VM_DIR/gpio-sim-build
    rm -rf "$work" && mkdir -p "$work"
    tar -xJf "$tarball" -C "$work" --wildcards --strip-components=1 \
        '*/drivers/gpio/gpio-sim.c' '*/drivers/gpio/gpiolib.h' '*/kernel/irq/irq_sim.c' ||
        { echo "cannot extract gpio-sim's sources from $tarball" >&2; return 1; }
    # one module of two objects; gpio-sim.c includes "gpiolib.h" from its folder
    mv "$work/drivers/gpio/gpio-sim.c" "$work/gpio-sim-main.c"
    cp "$work/drivers/gpio/gpiolib.h" "$work/gpiolib.h"
    sed 's/handle_simple_irq(irq_to_desc(\([a-z_]*\)))/generic_handle_irq(\1)/' "$work/kernel/irq/irq_sim.c" >"$work/irq_sim.c"
    grep -q 'irq_to_desc' "$work/irq_sim.c" && { echo "irq_sim.c: the irq_to_desc call did not match the expected line" >&2; return 1; }
    printf 'obj-m := gpio-sim.o\ngpio-sim-y := gpio-sim-main.o irq_sim.o\n' >"$work/Kbuild"
    make -C "$hdr" M="$(cd "$work" && pwd)" modules >"$work/build.log" 2>&1 ||
        { echo "gpio-sim does not build: $(grep -m1 -E 'error|Error' "$work/build.log")" >&2; return 1; }
    mkdir -p "$cache"
    cp "$work/gpio-sim.ko" "$ko"
    echo "$((SECONDS - t0)) s" >"$cache/gpio-sim.build-seconds"
    echo "$ko"
}
