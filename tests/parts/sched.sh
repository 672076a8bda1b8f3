# sched.h: the unit suite in every build, then the examples as a user runs them.

t_unit sched tests/sched_test.c -lpthread
t_unit sched_fault tests/sched_fault.c -lpthread
# issue 6: timers, tasks, posts, async sends and thread flags churning for
# SCHED_CHURN_SECONDS (3) with every count checked; make soak runs it longer.
t_unit sched_churn tests/sched_churn.c -lpthread
# signals through the loop: real kill, sigqueue and SIGCHLD; the thread's
# mask as it was after the last watcher; signals before the loop runs
t_unit sched_signal tests/sched_signal.c -lpthread

if [ -z "$CROSS" ]; then
    # `make all` into a folder of the part's own: other parts build into
    # build/ at the same time (tests/run.sh runs parts side by side)
    export SCHD_BIN=$T_OUT/make_all
    make -s all BUILD="$SCHD_BIN" >"$T_OUT/make_all.log" 2>&1 || t_fail_line "[sched] make all failed: $(tail -n 3 "$T_OUT/make_all.log")"

    # sched_demo: the exact line format, and run counts that match the rates
    # (bounds wide enough for a loaded machine: a count can only fall short
    # when the machine stalls for whole periods, and those are overruns).
    t_check "sched_demo prints one line per job in the fixed format" bash -c '
        out=$($SCHD_BIN/sched_demo 2) || exit 1
        echo "$out"
        [ "$(echo "$out" | wc -l)" -eq 3 ] || exit 1
        echo "$out" | grep -Eq "^job button hz=80\.00 runs=[0-9]+ late_max_us=[0-9]+ overruns=[0-9]+$" &&
        echo "$out" | grep -Eq "^job display hz=15\.00 runs=[0-9]+ late_max_us=[0-9]+ overruns=[0-9]+$" &&
        echo "$out" | grep -Eq "^job sensor hz=2\.00 runs=[0-9]+ late_max_us=[0-9]+ overruns=[0-9]+$" || exit 1
        echo "$out" | awk "{ split(\$3,h,\"=\"); split(\$4,r,\"=\"); split(\$6,o,\"=\");
            want = h[2] * 2; got = r[2] + o[2];
            if (got > want + 1 || got < want - 1) { print \"bad count: \" \$0; exit 1 } }"'
    # issue 5: bad numbers and junk are errors, with the usage line and exit 2
    export -f t_usage_exit2
    t_check "sched_demo, shared_bus and button reject bad arguments: usage line, exit 2" bash -c '
        for a in "" abc 2x -1 0 nan 1e9 "1 2"; do t_usage_exit2 $SCHD_BIN/sched_demo "usage: sched_demo SECONDS" "$a" || exit 1; done
        for a in x 2s -3 0 "1 2"; do t_usage_exit2 $SCHD_BIN/shared_bus "usage: shared_bus [SECONDS]" "$a" || exit 1; done
        for a in x -- "- -"; do t_usage_exit2 $SCHD_BIN/button "usage: button [-]" "$a" || exit 1; done'
    t_check "button rejects junk in its script" bash -c '
        ! printf "1 30
abc
" | $SCHD_BIN/button - >/dev/null 2>&1 && ! printf "1 30
0
" | $SCHD_BIN/button - >/dev/null 2>&1'
    t_check "shared_bus interleaves two devices without overlap" bash -c '
        out=$($SCHD_BIN/shared_bus 1) || exit 1
        echo "$out" | tail -n 1 | grep -Eq "^transactions=[1-9][0-9]* overlaps=0 readings=[1-9]" &&
        echo "$out" | grep -q "sdcard  writes block" && echo "$out" | grep -q "sensor  reads result"'
    t_check "button prints the events of the built-in script" bash -c '
        diff <($SCHD_BIN/button) - <<EOT
    27 ms  press
   150 ms  release
   427 ms  click
   750 ms  press
   840 ms  release
   960 ms  press
   961 ms  double
  1040 ms  release
  1740 ms  press
  2740 ms  long
  3040 ms  release
EOT'
    t_check "button reads a script from stdin and rejects bad steps" bash -c '
        [ "$(printf "1 30\n0 500\n" | $SCHD_BIN/button - | tr -s " ")" = "$(printf " 20 ms press\n 50 ms release\n 420 ms click")" ] &&
        ! printf "7 10\n" | $SCHD_BIN/button - 2>/dev/null'
    if [ -z "$T_QUICK" ] && t_with sched "sched_demo, shared_bus and button under valgrind" valgrind=valgrind; then
        for ex in "sched_demo 0.5" "shared_bus 0.3" "button"; do
            t_check "$ex is clean under valgrind" valgrind -q --error-exitcode=99 --leak-check=full $SCHD_BIN/$ex
        done
    fi
fi

# ThreadSanitizer over the suite: posts from four threads, async handles and
# the thread-safe flag are the parts another thread may call.
if [ -z "$CROSS" ] && [ -z "$T_QUICK" ] && t_with sched "the ThreadSanitizer builds of sched and sched_churn" "$CLANG=clang"; then
    if ! t_selected sched; then
        :
    elif $CLANG -std=c99 -O1 -g -fsanitize=thread -I. -o "$T_OUT/sched_tsan" tests/sched_test.c -lpthread \
            >"$T_OUT/sched_tsan.build.log" 2>&1; then
        TSAN_OPTIONS=halt_on_error=1 t_suite "sched tsan" "$T_OUT/sched_tsan"
    else
        t_fail_line "[sched tsan] does not build: $(head -n 3 "$T_OUT/sched_tsan.build.log")"
    fi
    # the same under load: two threads posting, sending and setting the
    # flag while the loop churns (tests/sched_churn.c)
    if ! t_selected sched_churn; then
        :
    elif $CLANG -std=c99 -O1 -g -fsanitize=thread -I. -o "$T_OUT/sched_churn_tsan" tests/sched_churn.c -lpthread \
            >"$T_OUT/sched_churn_tsan.build.log" 2>&1; then
        TSAN_OPTIONS=halt_on_error=1 t_suite "sched_churn tsan" "$T_OUT/sched_churn_tsan"
    else
        t_fail_line "[sched_churn tsan] does not build: $(head -n 3 "$T_OUT/sched_churn_tsan.build.log")"
    fi
fi
