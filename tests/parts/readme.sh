# The documentation as a user meets it (tests/readme_check.sh does the work):
#
# - every README.md program (a ```c block after <!-- readme-program: NAME.c -->)
#   builds with the cc command shown under it, beside copies of the headers;
#   builds with gcc and clang under the strict warnings; and runs, plain, with
#   ASan+UBSan and under valgrind: blink.c alone, line_client.c against
#   examples/echo_server.c, usb_names.c next to the fake devices of
#   tests/usb_fakehost.c;
# - every examples/*.c builds with the cc command in its top comment, run
#   from the repository root (-o build/X sent to a temporary folder), also
#   with gcc and clang under the strict warnings, and README.md's examples
#   table repeats that command exactly.

[ -n "$CROSS" ] && return 0

R=$T_OUT/readme
rm -rf "$R"
mkdir -p "$R"
rd_check="env CC=$CC CLANG=$CLANG bash tests/readme_check.sh"

rd_progs=$($rd_check extract "$R" 2>"$R/extract.log")
t_check "README.md has a complete program for each header" bash -c "
    cd '$R' && ls */*.c >/dev/null &&
    grep -l '\"sched.h\"' */*.c && grep -l '\"aio_stream.h\"' */*.c && grep -l '\"asyncusb.h\"' */*.c"
for rd_p in $rd_progs; do
    t_check "README program $rd_p.c builds with the command shown under it" $rd_check build "$R" "$rd_p"
    for rd_cc in "$CC" "$CLANG"; do
        t_have "$rd_cc" || continue   # the builds' SKIP line names it
        t_check "README program $rd_p.c builds with $rd_cc and strict warnings" $rd_check strict "$R" "$rd_p" "$rd_cc"
    done
    t_check "README program $rd_p.c runs and prints what it should" $rd_check run "$R" "$rd_p" plain
    t_have "$CLANG" && t_check "README program $rd_p.c runs clean under ASan+UBSan" $rd_check run "$R" "$rd_p" asan
    [ -n "$T_QUICK" ] || ! t_with readme "README program $rd_p.c under valgrind" valgrind=valgrind ||
        t_check "README program $rd_p.c runs clean under valgrind" $rd_check run "$R" "$rd_p" valgrind
done

for rd_ex in examples/*.c; do
    t_check "$rd_ex builds with the cc command of its top comment" $rd_check example_builds "$rd_ex" "$R/examples"
    for rd_cc in "$CC" "$CLANG"; do
        t_have "$rd_cc" || continue   # the builds' SKIP line names it
        t_check "$rd_ex builds with $rd_cc and strict warnings" $rd_check example_strict "$rd_ex" "$R/examples" "$rd_cc"
    done
    t_check "README.md's examples table gives $rd_ex that same command" $rd_check table_matches "$rd_ex"
done
