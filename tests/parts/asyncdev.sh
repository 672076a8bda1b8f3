# asyncdev.h: the unit suite in every build, against a kernel the test
# plays through the header's system-call hooks (tests/dev_test.c); the
# real kernel's side runs in the test VM (tests/parts/vm.sh, tests/dev_vm.c).
# examples/gpio_counter.c runs here on a chip played by tools/fakegpio.h
# (tests/dev_examples.sh), and in the VM on gpio-sim, with the same output.

t_unit dev tests/dev_test.c
if [ -z "$CROSS" ]; then
    dev_ex="env CC=$CC CLANG=$CLANG bash tests/dev_examples.sh"
    if t_check "gpio_counter builds with its comment's command, strict and on a played chip" $dev_ex build; then
        t_check "gpio_counter on a played chip: turns, a click and a long press" $dev_ex counter
        t_have "$CLANG" && t_check "gpio_counter with ASan+UBSan on a played chip" $dev_ex counter asan
    fi
fi
