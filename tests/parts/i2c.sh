# examples/tmp102.h and examples/sensor_logger.c: the driver's suite in
# every build (tests/i2c_test.c: the simulated bus on a fake clock, a
# played i2c-dev, the loop's stall with the bus's time injected, reported
# on NOTE lines); the header's names and modes as the matrix checks the
# family's.  The kernel's own i2c-dev (i2c-stub in the test VM) is not run.

rm -f "$T_OUT"/i2c_*.log
t_unit i2c tests/i2c_test.c
for i2c_log in "$T_OUT"/i2c_*.log; do
    case $i2c_log in *.build.log) continue ;; esac
    [ -e "$i2c_log" ] || continue
    i2c_v=$(basename "$i2c_log" .log); i2c_v=${i2c_v#i2c_}
    grep -h '^NOTE ' "$i2c_log" | sed "s/^NOTE /NOTE [i2c $i2c_v] /"
done

[ -n "$CROSS" ] && return 0

I2C=$T_OUT/i2c
mkdir -p "$I2C"
printf '#define SCHD_IMPLEMENTATION\n#define TMP102_IMPLEMENTATION\n#include "examples/tmp102.h"\nint main(void) { return tmp102_decode_temp(0x7ff0) == 2047 ? 0 : 1; }\n' >"$I2C/both.c"
cp "$I2C/both.c" "$I2C/both.cpp"
printf '#define TMP102_IMPLEMENTATION\n#include "examples/tmp102.h"\n' >"$I2C/impl.c"
printf '#define SCHD_IMPLEMENTATION\n#define TMP102_STATIC\n#include "examples/tmp102.h"\nint main(void) { return tmp102_strerror(0) == 0; }\n' >"$I2C/static.c"

for i2c_cc in "$CC" "$CLANG" musl-gcc aarch64-linux-gnu-gcc; do
    t_have "$i2c_cc" || continue   # the builds' SKIP lines name the missing compilers
    # musl-gcc finds no <linux/i2c-dev.h>: the header must not need it
    t_check "tmp102.h strict C99 with $i2c_cc" $i2c_cc $T_WARN -I. -c "$I2C/both.c" -o "$I2C/both_$i2c_cc.o"
done
for i2c_cxx in "$CXX" "$CLANGXX"; do
    t_have "$i2c_cxx" || continue
    t_check "tmp102.h as C++11 with $i2c_cxx" $i2c_cxx -std=c++11 -Wall -Wextra -pedantic -Werror -Wshadow -Wundef \
        -I. -c "$I2C/both.cpp" -o "$I2C/both_$i2c_cxx.o"
done
t_check "tmp102.h names everything it defines tmp102_" bash -c "
    $CC $T_WARN -I. -c '$I2C/impl.c' -o '$I2C/impl.o' || exit 1
    bad=\$(nm --defined-only '$I2C/impl.o' | awk '\$2 ~ /^[tTdDbBrR]\$/ {print \$3}' | grep -v '\\.' | grep -v '^tmp102_')
    [ -z \"\$bad\" ] || { echo \"unprefixed: \$bad\"; exit 1; }
    [ -n \"\$(nm -g --defined-only '$I2C/impl.o' | grep ' tmp102_read\$')\" ]"
t_check "tmp102.h with TMP102_STATIC keeps every name static" bash -c "
    $CC $T_WARN -I. -o '$I2C/static' '$I2C/static.c' && '$I2C/static' &&
    ! nm -g --defined-only '$I2C/static' | awk '{print \$3}' | grep -q '^tmp102_'"
t_check "tmp102.h declares its private functions with TMP102_PRIVATE" bash -c "
    bad=\$(grep -nE '^static [^=]*\\(' examples/tmp102.h)
    [ -z \"\$bad\" ] || { echo \"plain static: \$bad\"; exit 1; }"
