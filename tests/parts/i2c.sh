# examples/tmp102.h and examples/sensor_logger.c: the driver's suite in
# every build (tests/i2c_test.c: the simulated bus on a fake clock, a
# played i2c-dev, the loop's stall with the bus's time injected, reported
# on NOTE lines); the header's names and modes as the matrix checks the
# family's; and the logger as a user runs it, against the simulated
# sensors.  The kernel's own i2c-dev runs in the test VM: i2c-stub's
# registers read through the driver (tests/dev_vm.c, tests/parts/vm.sh).

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

# The logger, built by the Makefile's rule (the same command as its comment)
if ! make -s BUILD="$I2C" "$I2C/sensor_logger" >"$I2C/make.log" 2>&1; then
    t_fail_line "[i2c] sensor_logger does not build: $(tail -n 3 "$I2C/make.log")"
    return 0
fi
export I2C_LOGGER=$I2C/sensor_logger
# a logger that never ends fails its check within a minute, not at T_TIMEOUT
export I2C_RUN="timeout -k 5 60 $I2C_LOGGER"
t_check "sensor_logger reads two simulated sensors at a fixed rate" bash -c '
    out=$($I2C_RUN --simulate --rate 20 --count 3) || { echo "exit $?"; exit 1; }
    echo "$out"
    [ "$(echo "$out" | wc -l)" -eq 7 ] || exit 1
    echo "$out" | head -n 6 | grep -Evq "^ +[0-9]+\.[0-9]{3}  0x4[89] +-?[0-9]+\.[0-9]{4} C$" && exit 1
    [ "$(echo "$out" | grep "  0x48 " | awk "{print \$3}" | tr "\n" " ")" = "21.5000 21.5625 21.6250 " ] &&
    [ "$(echo "$out" | grep "  0x49 " | awk "{print \$3}" | tr "\n" " ")" = "-3.2500 -3.3125 -3.3750 " ] &&
    [ "$(echo "$out" | tail -n 1)" = "readings=6 errors=0 skipped=0" ]'
t_check "sensor_logger reports a sensor that fails and keeps reading the other" bash -c '
    out=$($I2C_RUN --simulate --addr 0x4a,0x48 --rate 20 --count 3) || { echo "exit $?"; exit 1; }
    echo "$out"
    [ "$(echo "$out" | grep -c "  0x4a  error (start): No such device or address$")" -eq 3 ] &&
    [ "$(echo "$out" | grep -Ec "  0x48 +21\.[0-9]{4} C$")" -eq 3 ] &&
    [ "$(echo "$out" | tail -n 1)" = "readings=3 errors=3 skipped=0" ]'
t_check "sensor_logger exits 1 when no reading succeeds or the bus does not open" bash -c '
    out=$($I2C_RUN --simulate --addr 0x4a --rate 20 --count 2); rc=$?
    echo "$out"; [ $rc -eq 1 ] && [ "$(echo "$out" | tail -n 1)" = "readings=0 errors=2 skipped=0" ] || exit 1
    err=$($I2C_RUN --bus /nonexistent/i2c-9 --count 1 2>&1 >/dev/null); rc=$?
    echo "$err"; [ $rc -eq 1 ] && [ "$err" = "sensor_logger: /nonexistent/i2c-9: No such file or directory" ]'
export -f t_usage_exit2
t_check "sensor_logger rejects bad arguments: usage line, exit 2" bash -c '
    u="usage: sensor_logger [--bus PATH] [--addr A[,B...]] [--rate HZ] [--count N] [--duration SECONDS] [--simulate]"
    for a in "--rate 0" "--rate abc" "--rate 21" "--rate 1x" "--rate -1" "--rate" "--count 0" "--count 1.5" \
             "--count -3" "--count 1e3" "--count 12345678901" "--addr 0x80" "--addr 0x02" "--addr 0x48,0x48" \
             "--addr 0x48," "--addr 72x" "--addr ,0x48" "--addr 0x48,0x49,0x4a,0x4b,0x4c" "--duration -1" \
             "--duration 0" "--duration" "--bus" "--bogus" "extra" "--simulate junk" "-h"; do
        t_usage_exit2 $I2C_LOGGER "$u" "$a" || exit 1
    done'
t_check "sensor_logger stops at --duration, and at SIGINT with its summary" bash -c '
    out=$($I2C_RUN --simulate --rate 20 --duration 0.3) || exit 1
    echo "$out" | tail -n 1 | grep -Eq "^readings=[1-9][0-9]* errors=0 skipped=0$" || { echo "$out"; exit 1; }
    f=$(mktemp); $I2C_LOGGER --simulate --rate 20 >"$f" & pid=$!
    for i in $(seq 1 400); do grep -q " C$" "$f" && break; sleep 0.05; done
    kill -INT $pid
    for i in $(seq 1 600); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
    kill -0 $pid 2>/dev/null && { kill -KILL $pid; echo "still running 60 s after SIGINT"; }
    wait $pid; rc=$?
    cat "$f"; last=$(tail -n 1 "$f"); rm -f "$f"
    [ $rc -eq 0 ] && echo "$last" | grep -Eq "^readings=[1-9][0-9]* errors=0 skipped=0$"'
if [ -z "$T_QUICK" ] && t_with i2c "sensor_logger under valgrind" valgrind=valgrind; then
    t_check "sensor_logger under valgrind" valgrind -q --error-exitcode=99 --leak-check=full \
        "$I2C_LOGGER" --simulate --addr 0x48,0x4b --rate 20 --count 2
fi
if t_have musl-gcc; then
    t_check "sensor_logger built static with musl-gcc runs" bash -c "
        musl-gcc -std=c99 -O2 -static -I. -o '$I2C/sensor_logger_musl' examples/sensor_logger.c &&
        timeout -k 5 60 '$I2C/sensor_logger_musl' --simulate --rate 20 --count 1 | tail -n 1 | grep -qx 'readings=2 errors=0 skipped=0'"
fi
