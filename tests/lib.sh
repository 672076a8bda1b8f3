# tests/lib.sh - helpers shared by the parts in tests/parts/ (sourced).
#
#   t_suite NAME CMD...   run a test program built on tests/harness.h; its
#                         FAIL lines are shown and its counts added.  A crash,
#                         a hang (T_TIMEOUT seconds) or a missing closing
#                         line counts as one failure.
#   t_check NAME CMD...   one check that passes when CMD exits 0.
#   t_build OUT SRC... -- FLAGS   compile with $T_CC (quietly; errors become a failure)

: "${CC:=gcc}" "${CLANG:=clang}" "${CXX:=g++}" "${CLANGXX:=clang++}"
: "${CFLAGS:=}" "${T_TIMEOUT:=300}" "${T_QUICK:=}" "${CROSS:=}"
T_OUT=build/tests
mkdir -p "$T_OUT"
T_PASS=0
T_FAIL=0
T_WARN='-std=c99 -Wall -Wextra -pedantic -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wundef'

t_fail_line() { printf 'FAIL %s\n' "$*"; T_FAIL=$((T_FAIL + 1)); }

t_suite() {
    local name=$1; shift
    local log="$T_OUT/$(echo "$name" | tr ' /' '__').log"
    timeout -k 5 "$T_TIMEOUT" "$@" >"$log" 2>&1
    local rc=$?
    grep -E '^FAIL ' "$log" | sed "s|^FAIL |FAIL [$name] |"
    local closing
    closing=$(grep -E '^[A-Za-z0-9_./-]+: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ -z "$closing" ]; then
        t_fail_line "[$name] no closing line (exit $rc); last output:"
        tail -n 8 "$log" | sed 's/^/    /'
        return
    fi
    local p f
    p=$(echo "$closing" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
    f=$(echo "$closing" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
    T_PASS=$((T_PASS + p))
    T_FAIL=$((T_FAIL + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        t_fail_line "[$name] exit status $rc after all tests passed; last output:"
        tail -n 8 "$log" | sed 's/^/    /'
    fi
}

t_check() {
    local name=$1; shift
    local log="$T_OUT/check_$(echo "$name" | tr ' /' '__').log"
    if timeout -k 5 "$T_TIMEOUT" "$@" >"$log" 2>&1; then
        T_PASS=$((T_PASS + 1))
    else
        t_fail_line "[check] $name; last output:"
        tail -n 8 "$log" | sed 's/^/    /'
    fi
}

# t_have CMD: true when CMD is installed.
t_have() { command -v "$1" >/dev/null 2>&1; }

# The builds every unit suite runs in.  Each line: NAME COMPILER FLAGS|RUNNER
# A RUNNER of "-" runs the program directly.
t_variants() {
    if [ -n "$CROSS" ]; then
        echo "cross ${CROSS}gcc|-O2 -g -static|$(t_qemu_for "$CROSS")"
        return
    fi
    echo "plain $CC|-O2 -g|-"
    echo "asan+ubsan $CLANG|-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer|-"
    # the loop core's poll backend (epoll is the default everywhere else)
    echo "poll $CC|-O2 -g -DASYNCKIT_POLL|-"
    echo "poll+asan+ubsan $CLANG|-O1 -g -DASYNCKIT_POLL -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer|-"
    [ -n "$T_QUICK" ] && return
    echo "valgrind $CC|-O1 -g|valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --track-fds=no"
    t_have aarch64-linux-gnu-gcc && echo "aarch64 aarch64-linux-gnu-gcc|-O2 -g -static|qemu-aarch64"
    t_have arm-linux-gnueabihf-gcc && echo "armhf arm-linux-gnueabihf-gcc|-O2 -g -static|qemu-arm"
    t_have musl-gcc && echo "musl musl-gcc|-O2 -g -static|-"
}

t_qemu_for() {
    case "$1" in
        aarch64*) echo qemu-aarch64 ;;
        arm*) echo qemu-arm ;;
        *) echo - ;;
    esac
}

# t_unit NAME SRC [EXTRA LIBS...]: build SRC in every variant and run it.
# Set T_NO_CROSS=1 before calling for a suite that cannot run under qemu or musl.
t_unit() {
    local name=$1 src=$2; shift 2
    local line vname cc flags runner exe
    while IFS= read -r line; do
        vname=${line%% *}; line=${line#* }
        cc=${line%%|*}; line=${line#*|}
        flags=${line%%|*}; runner=${line#*|}
        if [ -n "${T_NO_CROSS:-}" ]; then
            case "$vname" in aarch64|armhf|musl|cross) continue ;; esac
        fi
        exe="$T_OUT/${name}_$(echo "$vname" | tr '+' '_')"
        if ! $cc $flags $CFLAGS -I. -o "$exe" "$src" "$@" >"$exe.build.log" 2>&1; then
            t_fail_line "[$name $vname] does not build:"
            head -n 12 "$exe.build.log" | sed 's/^/    /'
            continue
        fi
        if [ "$runner" = "-" ]; then
            t_suite "$name $vname" "$exe"
        else
            t_suite "$name $vname" $runner "$exe"
        fi
    done < <(t_variants)
}

t_summary() {
    echo "$T_PASS passed, $T_FAIL failed"
    [ "$T_FAIL" -eq 0 ]
    exit $?
}
