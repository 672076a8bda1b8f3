# A short fuzzing budget per target (make fuzz runs the long form).  Each
# run starts with the seed corpus, so the corpus also serves as regression
# inputs.  T_FUZZ_SECONDS sets the budget (default 5; `make fuzz` runs longer).

[ -n "$CROSS" ] && return 0
if ! t_have "$CLANG"; then
    t_fail_line "[fuzz] clang is missing"
    return 0
fi
for f_src in tests/fuzz/fuzz_*.c; do
    f_name=$(basename "$f_src" .c); f_name=${f_name#fuzz_}
    t_check "fuzz $f_name for ${T_FUZZ_SECONDS:-5} s: no crash, leak or hang" \
        bash tests/fuzz/run.sh "${T_FUZZ_SECONDS:-5}" "$f_name"
done
