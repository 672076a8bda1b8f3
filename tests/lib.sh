# tests/lib.sh - helpers shared by the parts in tests/parts/ (sourced).
#
#   t_suite NAME CMD...   run a test program built on tests/harness.h; its
#                         FAIL lines are shown and its counts added.  A crash,
#                         a hang (T_TIMEOUT seconds) or a missing closing
#                         line counts as one failure.
#   t_check NAME CMD...   one check that passes when CMD exits 0.
#   t_skip PART WHAT WHY  say that WHAT does not run, and why (a SKIP line).
#   t_lacks ITEM...       prints what of ITEM is missing, each with the
#                         package that brings it; false when nothing is.
#                         ITEM: a command "CMD=PACKAGE" or a pkg-config
#                         module "pc:MODULE=PACKAGE".
#
# T_SUITE=NAME runs only the suites called NAME (the first word of a
# t_suite name, in every build) and the checks whose name starts with that
# word; T_ONLY=TEST runs only the tests whose name contains TEST (read by
# tests/harness.h).  A random test prints "seed N" and reads T_SEED; when
# it fails, the seed is repeated under its FAIL line.

: "${CC:=gcc}" "${CLANG:=clang}" "${CXX:=g++}" "${CLANGXX:=clang++}"
: "${CFLAGS:=}" "${T_TIMEOUT:=300}" "${T_QUICK:=}" "${CROSS:=}" "${T_SUITE:=}"
T_OUT=build/tests
mkdir -p "$T_OUT"
# seconds per suite and check, for finding what is slow (a run inside a run appends)
[ -n "${T_NESTED:-}" ] || : >"$T_OUT/times.txt"
export T_NESTED=1
T_PASS=0
T_FAIL=0
T_SKIP=0
T_WARN='-std=c99 -Wall -Wextra -pedantic -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wundef'

t_fail_line() { printf 'FAIL %s\n' "$*"; T_FAIL=$((T_FAIL + 1)); }

t_skip() {
    local part=$1 what=$2 why=$3
    printf 'SKIP [%s] %s: %s\n' "$part" "$what" "$why"
    T_SKIP=$((T_SKIP + 1))
}

# t_selected NAME: false when T_SUITE picks another suite.
t_selected() { [ -z "$T_SUITE" ] || [ "${1%% *}" = "$T_SUITE" ]; }

# t_seed_note LOG: the seed a random test printed, again, for a rerun.
t_seed_note() {
    grep -m 1 -E '^seed [0-9]+' "$1" | sed 's/^/    /'
}

t_suite() {
    local name=$1; shift
    t_selected "$name" || return 0
    local log="$T_OUT/$(echo "$name" | tr ' /' '__').log" t0=$SECONDS
    timeout -k 5 "$T_TIMEOUT" "$@" >"$log" 2>&1
    local rc=$?
    echo "$((SECONDS - t0)) $name" >>"$T_OUT/times.txt"
    grep -E '^FAIL ' "$log" | sed "s|^FAIL |FAIL [$name] |"
    local closing
    closing=$(grep -E '^[A-Za-z0-9_./-]+: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ -z "$closing" ]; then
        t_fail_line "[$name] no closing line (exit $rc); last output:"
        tail -n 8 "$log" | sed 's/^/    /'
        t_seed_note "$log"
        return
    fi
    local p f
    p=$(echo "$closing" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
    f=$(echo "$closing" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
    T_PASS=$((T_PASS + p))
    T_FAIL=$((T_FAIL + f))
    [ "$f" -gt 0 ] && t_seed_note "$log"
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        t_fail_line "[$name] exit status $rc after all tests passed; last output:"
        tail -n 8 "$log" | sed 's/^/    /'
    fi
}

t_check() {
    local name=$1; shift
    t_selected "$name" || return 0
    local log="$T_OUT/check_$(echo "$name" | tr ' /' '__').log" t0=$SECONDS rc=0
    timeout -k 5 "$T_TIMEOUT" "$@" >"$log" 2>&1 || rc=$?
    echo "$((SECONDS - t0)) check $name" >>"$T_OUT/times.txt"
    if [ $rc -eq 0 ]; then
        T_PASS=$((T_PASS + 1))
    else
        t_fail_line "[check] $name; last output:"
        tail -n 8 "$log" | sed 's/^/    /'
        t_seed_note "$log"
        return 1
    fi
}

# t_usage_exit2 PROGRAM USAGE ARGS: PROGRAM ARGS (words) must exit with
# status 2 and print the line USAGE to stderr, and nothing to stdout.
t_usage_exit2() {
    local prog=$1 usage=$2 out err rc
    shift 2
    err=$(mktemp)
    # shellcheck disable=SC2086
    out=$("$prog" $1 </dev/null 2>"$err"); rc=$?
    if [ "$rc" -ne 2 ] || [ -n "$out" ] || ! grep -qxF "$usage" "$err"; then
        echo "$prog $1: exit $rc, stdout '$out', stderr:"; cat "$err"; rm -f "$err"; return 1
    fi
    rm -f "$err"
}

# t_have CMD: true when CMD is installed.
t_have() { command -v "$1" >/dev/null 2>&1; }

# t_with PART WHAT ITEM...: true when every ITEM (as for t_lacks) is here;
# otherwise a SKIP line says that WHAT does not run and what it needs.
t_with() {
    local part=$1 what=$2 m
    shift 2
    t_selected "$what" || return 1
    m=$(t_lacks "$@") || return 0
    t_skip "$part" "$what" "$m"
    return 1
}

t_lacks() {
    local item what pkg out=
    for item in "$@"; do
        what=${item%%=*}; pkg=${item#*=}
        case "$what" in
            pc:*) ${PKG_CONFIG:-pkg-config} --exists "${what#pc:}" 2>/dev/null && continue
                  what="${what#pc:} (pkg-config)" ;;
            *) t_have "$what" && continue ;;
        esac
        out="${out:+$out, }$what (package $pkg)"
    done
    [ -n "$out" ] && printf 'needs %s\n' "$out"
}

# The builds every unit suite runs in.  Each line: NAME COMPILER FLAGS|RUNNER
# A RUNNER of "-" runs the program directly.  Only the plain build
# is optimised fully (-O2, where gcc's flow warnings and the fast paths
# live); the others compile at -O1 or, for the sanitizers, -O0, which
# finds the same faults and compiles four times faster: most of
# `make test` is compiling the headers once per build.
t_variants() {
    if [ -n "$CROSS" ]; then
        echo "cross ${CROSS}gcc|-O1 -g -static|$(t_qemu_for "$CROSS")"
        return
    fi
    echo "plain $CC|-O2 -g|-"
    t_have "$CLANG" && echo "asan+ubsan $CLANG|-O0 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer|-"
    # the loop core's poll backend (epoll is the default everywhere else)
    echo "poll $CC|-O1 -g -DASYNCKIT_POLL|-"
    t_have "$CLANG" && echo "poll+asan+ubsan $CLANG|-O0 -g -DASYNCKIT_POLL -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer|-"
    [ -n "$T_QUICK" ] && return
    t_have valgrind && echo "valgrind $CC|-O1 -g|valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --track-fds=no"
    t_have aarch64-linux-gnu-gcc && t_have qemu-aarch64 && echo "aarch64 aarch64-linux-gnu-gcc|-O1 -g -static|qemu-aarch64"
    t_have arm-linux-gnueabihf-gcc && t_have qemu-arm && echo "armhf arm-linux-gnueabihf-gcc|-O1 -g -static|qemu-arm"
    t_have musl-gcc && echo "musl musl-gcc|-O1 -g -static|-"
}

# The builds t_variants leaves out for want of a tool, one SKIP line each
# (once per run; tests/run.sh calls it before the parts).
t_variant_skips() {
    local m before=$T_SKIP
    t_variant_skips_list
    T_SKIP_BUILDS=$((T_SKIP - before))
}
T_SKIP_BUILDS=0
t_variant_skips_list() {
    local m
    [ -n "$CROSS" ] && return
    m=$(t_lacks "$CLANG=clang") && t_skip builds "the ASan+UBSan build of every suite" "$m"
    [ -n "$T_QUICK" ] && { t_skip builds "valgrind and cross builds" "T_QUICK is set"; return; }
    m=$(t_lacks valgrind=valgrind) && t_skip builds "the valgrind build of every suite" "$m"
    m=$(t_lacks aarch64-linux-gnu-gcc=gcc-aarch64-linux-gnu qemu-aarch64=qemu-user) &&
        t_skip builds "the aarch64 build of every suite" "$m"
    m=$(t_lacks arm-linux-gnueabihf-gcc=gcc-arm-linux-gnueabihf qemu-arm=qemu-user) &&
        t_skip builds "the armhf build of every suite" "$m"
    m=$(t_lacks musl-gcc=musl-tools) && t_skip builds "the musl build of every suite" "$m"
}

t_qemu_for() {
    case "$1" in
        aarch64*) echo qemu-aarch64 ;;
        arm*) echo qemu-arm ;;
        *) echo - ;;
    esac
}

# t_unit NAME SRC [EXTRA LIBS...]: build SRC in every variant and run it.
# Set T_NO_CROSS=1 before calling for a suite that cannot run under qemu or musl,
# T_UNIT_INC for the include flag (-I. unless set: "-iquote ." keeps the
# headers from shadowing system ones of the same name, such as <sched.h>),
# T_UNIT_WRAP for a command that runs each build (e.g. under umockdev).
# t_variant_wanted NAME: T_VARIANTS (names, space separated) picks builds,
# e.g. T_VARIANTS="plain asan+ubsan" for many quick runs in a row.
t_variant_wanted() { [ -z "${T_VARIANTS:-}" ] || [[ " $T_VARIANTS " == *" $1 "* ]]; }

t_unit() {
    local name=$1 src=$2; shift 2
    local line vname cc flags runner exe i
    local -a vnames=() exes=() runners=() pids=()
    t_selected "$name" || return 0
    # Every variant builds at once (the builds, not the runs, take most of
    # the time), then the suites run one after the other.
    while IFS= read -r line; do
        vname=${line%% *}; line=${line#* }
        cc=${line%%|*}; line=${line#*|}
        flags=${line%%|*}; runner=${line#*|}
        if [ -n "${T_NO_CROSS:-}" ]; then
            case "$vname" in aarch64|armhf|musl|cross) continue ;; esac
        fi
        t_variant_wanted "$vname" || continue
        exe="$T_OUT/${name}_$(echo "$vname" | tr '+' '_')"
        # shellcheck disable=SC2086
        $cc $flags $CFLAGS ${T_UNIT_INC:--I.} -o "$exe" "$src" "$@" >"$exe.build.log" 2>&1 &
        pids+=($!); vnames+=("$vname"); exes+=("$exe"); runners+=("$runner")
    done < <(t_variants)
    for i in "${!pids[@]}"; do
        if ! wait "${pids[$i]}"; then
            t_fail_line "[$name ${vnames[$i]}] does not build:"
            head -n 12 "${exes[$i]}.build.log" | sed 's/^/    /'
            continue
        fi
        if [ "${runners[$i]}" = "-" ]; then
            # shellcheck disable=SC2086
            t_suite "$name ${vnames[$i]}" ${T_UNIT_WRAP:-} "${exes[$i]}"
        else
            # shellcheck disable=SC2086
            t_suite "$name ${vnames[$i]}" ${T_UNIT_WRAP:-} ${runners[$i]} "${exes[$i]}"
        fi
    done
}

t_summary() {
    if [ $((T_PASS + T_FAIL + T_SKIP - T_SKIP_BUILDS)) -eq 0 ]; then
        t_fail_line "[run] nothing ran${T_SUITE:+: no suite or check is called $T_SUITE}${T_ONLY:+ (tests matching $T_ONLY)}"
    fi
    [ "$T_SKIP" -gt 0 ] && echo "$T_SKIP skipped (the SKIP lines above say what and why)"
    echo "$T_PASS passed, $T_FAIL failed"
    [ "$T_FAIL" -eq 0 ]
    exit $?
}
