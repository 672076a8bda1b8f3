# A short fuzzing budget per target (make fuzz runs the long form).  Each
# run starts with the seed corpus, so the corpus also serves as regression
# inputs.  T_FUZZ_SECONDS sets the budget (default 5; `make fuzz` runs longer).

[ -n "$CROSS" ] && return 0
t_with fuzz "the fuzz targets" "$CLANG=clang" || return 0
# libFuzzer's runtime comes in a package of its own
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
    >"$T_OUT/fuzz_probe.c"
if ! $CLANG -fsanitize=fuzzer -o "$T_OUT/fuzz_probe" "$T_OUT/fuzz_probe.c" >/dev/null 2>&1; then
    t_skip fuzz "the fuzz targets" "needs libFuzzer for $CLANG (package libclang-rt-14-dev)"
    return 0
fi
for f_src in tests/fuzz/fuzz_*.c; do
    f_name=$(basename "$f_src" .c); f_name=${f_name#fuzz_}
    t_check "fuzz $f_name for ${T_FUZZ_SECONDS:-5} s: no crash, leak or hang" \
        bash tests/fuzz/run.sh "${T_FUZZ_SECONDS:-5}" "$f_name"
done
