# asyncdev.h: the unit suite in every build, against a kernel the test
# plays through the header's system-call hooks (tests/dev_test.c); the
# real kernel's side runs in the test VM (tests/parts/vm.sh, tests/dev_vm.c).
# examples/gpio_counter.c runs here on a chip played by tools/fakegpio.h
# (tests/dev_examples.sh), and in the VM on gpio-sim, with the same output.
# tests/dev_umockdev.c reads input devices umockdev emulates (below).

t_unit dev tests/dev_test.c
if [ -z "$CROSS" ]; then
    dev_ex="env CC=$CC CLANG=$CLANG bash tests/dev_examples.sh"
    if t_check "gpio_counter builds with its comment's command, strict and on a played chip" $dev_ex build; then
        t_check "gpio_counter on a played chip: turns, a click and a long press" $dev_ex counter
        t_have "$CLANG" && t_check "gpio_counter with ASan+UBSan on a played chip" $dev_ex counter asan
    fi
fi

# dev_umockdev: the input devices, read by the header as it is (no system
# call hooks), on key and dial devices umockdev emulates from the
# project's own recordings (tests/data/evdev/), under libumockdev-preload;
# the native builds only.  Quote includes: glib's <pthread.h> wants the
# system's <sched.h>.
if [ -z "$CROSS" ]; then
    if ad_missing=$(t_lacks umockdev-wrapper=umockdev pc:umockdev-1.0=libumockdev-dev); then
        t_skip asyncdev "dev_umockdev (input devices emulated by umockdev)" "$ad_missing"
    else
        # shellcheck disable=SC2046
        T_NO_CROSS=1 T_UNIT_INC="-iquote ." T_UNIT_WRAP="env ASAN_OPTIONS=verify_asan_link_order=0 umockdev-wrapper" \
            t_unit dev_umockdev tests/dev_umockdev.c $(${PKG_CONFIG:-pkg-config} --cflags --libs umockdev-1.0)
    fi
fi
