#!/usr/bin/env bash
# tests/readme_check.sh - the checks behind tests/parts/readme.sh, one per
# call (run from the repository root):
#
#   extract DIR              writes every README.md program to DIR/NAME/NAME.c
#                            with the cc command shown under it in DIR/NAME/cmd,
#                            beside copies of the headers; prints the names
#   build DIR NAME           runs that command in DIR/NAME
#   strict DIR NAME CC       builds it with CC and the family's strict warnings
#   run DIR NAME VARIANT     builds (VARIANT plain, asan or valgrind) and runs it
#   example_cmd FILE         prints the cc command of an example's top comment
#   example_builds FILE OUT  runs that command with -o build/X turned into OUT/X
#   example_strict FILE OUT CC   the same with the compiler CC and the strict warnings
#   table_matches FILE       README.md's examples table gives FILE that command
#
# A README program is a fenced ```c block whose previous line is
# <!-- readme-program: NAME.c -->; its command is the first line after the
# block that starts with four spaces and "cc ".
set -u
WARN='-std=c99 -Wall -Wextra -pedantic -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wundef'
SAN='-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer'
VALGRIND='valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect'
: "${CC:=gcc}" "${CLANG:=clang}" "${PKG_CONFIG:=pkg-config}"

die() { echo "$*" >&2; exit 1; }

extract() {
    local dir=$1 name
    awk -v dir="$dir" '
        /^<!-- readme-program: [A-Za-z0-9_.-]+\.c -->$/ { name = $3; sub(/\.c$/, "", name); want = 1; next }
        want == 1 && /^```c$/ { want = 2; system("mkdir -p " dir "/" name); out = dir "/" name "/" name ".c"; printf "" > out; next }
        want == 1 { want = 0; next }
        want == 2 && /^```$/ { close(out); want = 3; next }
        want == 2 { print > out; next }
        want == 3 && /^    cc / { sub(/^    /, ""); print > (dir "/" name "/cmd"); close(dir "/" name "/cmd"); print name; want = 0; next }
    ' README.md || return 1
}

# The headers sit beside the program, as in a user's tree after copying them.
prog_dir() {
    local d=$1/$2
    [ -f "$d/$2.c" ] || die "no README program $2"
    cp sched.h aio_stream.h asyncusb.h "$d/"
    echo "$d"
}

libs_for() {   # the libraries a program needs, from the headers it includes
    local src=$1 libs=""
    grep -q '"aio_stream.h"' "$src" && libs="$libs -lpthread"
    grep -q '"asyncusb.h"' "$src" && libs="$libs $($PKG_CONFIG --cflags --libs libusb-1.0)"
    echo "$libs"
}

build() {
    local d
    d=$(prog_dir "$1" "$2") || return 1
    [ -s "$d/cmd" ] || die "README program $2 has no cc command under it"
    (cd "$d" && rm -f "$2" && bash -c "$(cat cmd)" && [ -x "$2" ])
}

strict() {
    local d
    d=$(prog_dir "$1" "$2") || return 1
    # shellcheck disable=SC2046
    $3 $WARN -O2 -I"$d" -o "$d/$2_strict_$(basename "$3")" "$d/$2.c" $(libs_for "$d/$2.c")
}

# The fake USB devices, built once per run.
fakehost() {
    local out=$1/usb_fakehost
    [ -x "$out" ] && { echo "$out"; return 0; }
    command -v umockdev-wrapper >/dev/null 2>&1 || die "umockdev-wrapper missing (make deps)"
    # shellcheck disable=SC2046
    $CC -O2 -g -iquote . -o "$out" tests/usb_fakehost.c $($PKG_CONFIG --cflags --libs umockdev-1.0) ||
        die "tests/usb_fakehost.c does not build"
    echo "$out"
}

# start_echo_server DIR D: examples/echo_server.c, built with the command of
# its comment into DIR, started on a free port; sets pid and port.
start_echo_server() {
    local dir=$1 srv_out=$2/echo_server.out i
    [ -x "$dir/echo_server" ] || example_builds examples/echo_server.c "$dir" || return 1
    "$dir/echo_server" 0 >"$srv_out" 2>&1 &
    pid=$!
    port=""
    for i in $(seq 1 100); do
        port=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$srv_out")
        [ -n "$port" ] && return 0
        sleep 0.05
    done
    kill "$pid"; wait "$pid"
    die "echo_server did not start"
}

run() {
    local dir=$1 name=$2 variant=$3 d exe runner="" out
    d=$(prog_dir "$dir" "$name") || return 1
    exe=$d/${name}_$variant
    case $variant in
        plain) $CC -O2 -g -I"$d" -o "$exe" "$d/$name.c" $(libs_for "$d/$name.c") || return 1 ;;
        asan) $CLANG $SAN -I"$d" -o "$exe" "$d/$name.c" $(libs_for "$d/$name.c") || return 1 ;;
        valgrind) $CC -O1 -g -I"$d" -o "$exe" "$d/$name.c" $(libs_for "$d/$name.c") || return 1
                  runner="$VALGRIND --suppressions=tests/usb_valgrind.supp" ;;
        *) die "unknown variant $variant" ;;
    esac
    out=$d/$name.$variant.out
    case $name in
        blink)
            $runner "$exe" >"$out" || return 1
            cat "$out"
            [ "$(head -n 5 "$out")" = "$(printf 'blink %s\n' 0 1 2 3 4)" ] &&
            [ "$(wc -l <"$out")" -eq 6 ] && tail -n 1 "$out" | grep -Eqx 'sampled [0-9]+ times' ;;
        line_client)
            # against examples/echo_server.c, built with the command of its comment
            local pid port rc
            start_echo_server "$dir" "$d" || return 1
            $runner "$exe" 127.0.0.1 "$port" >"$out"
            rc=$?
            kill -TERM "$pid"; wait "$pid"
            cat "$out"
            [ "$rc" -eq 0 ] && [ "$(cat "$out")" = "reply: hello" ] || return 1
            # and a refused connection is an error, not a reply
            ! $runner "$exe" 127.0.0.1 1 >"$out.refused" 2>/dev/null && [ ! -s "$out.refused" ] ;;
        usb_names)
            local host
            host=$(fakehost "$dir") || return 1
            # shellcheck disable=SC2086
            ASAN_OPTIONS=verify_asan_link_order=0 umockdev-wrapper "$host" -- $runner "$exe" >"$out" || return 1
            cat "$out"
            grep -qx '1234:0001 Loop Gadget' "$out" ;;
        echo_camera)
            # echo_server from its own command, the emulated camera around the program
            [ -x "$dir/fakecam" ] || example_builds tools/fakecam.c "$dir" || return 1
            local pid port rc
            start_echo_server "$dir" "$d" || return 1
            # shellcheck disable=SC2086
            ASAN_OPTIONS=verify_asan_link_order=0 "$dir/fakecam" -- $runner "$exe" 127.0.0.1 "$port" >"$out"
            rc=$?
            kill -TERM "$pid"; wait "$pid"
            cat "$out"
            [ "$rc" -eq 0 ] && [ "$(cat "$out")" = "$(printf '%s\n' 'echo: hello' 'echo: from a task' 'echo: bye' \
                'camera: Demo Camera')" ] ;;
        *) die "README program $name is built but never run: add its check to tests/readme_check.sh" ;;
    esac
}

example_cmd() {
    awk 'NR == 1 && !/^\/\*/ { exit } /\*\// { exit }
         /^ \*[ \t]+cc / { sub(/^ \*[ \t]+/, ""); print; exit }' "$1"
}

example_builds() {
    local file=$1 out=$2 cmd name
    cmd=$(example_cmd "$file")
    [ -n "$cmd" ] || die "$file: no cc command in its top comment"
    name=$(basename "$file" .c)
    case " $cmd " in *" -o build/$name "*) ;; *) die "$file: its command does not write build/$name: $cmd" ;; esac
    mkdir -p "$out"
    rm -f "$out/$name"
    bash -c "${cmd/-o build\/$name /-o $out/$name }" && [ -x "$out/$name" ]
}

example_strict() {
    local file=$1 out=$2 compiler=$3 cmd name
    cmd=$(example_cmd "$file")
    [ -n "$cmd" ] || die "$file: no cc command in its top comment"
    name=$(basename "$file" .c)
    mkdir -p "$out"
    cmd=${cmd/-o build\/$name /-o $out/${name}_strict_$(basename "$compiler") }
    bash -c "$compiler $WARN ${cmd#cc }"
}

table_matches() {
    local file=$1 want row got
    want=$(example_cmd "$file")
    [ -n "$want" ] || die "$file: no cc command in its top comment"
    row=$(grep -F "| \`$file\` |" README.md | head -n 1)
    [ -n "$row" ] || die "README.md's examples table has no row for $file"
    got=$(echo "$row" | awk -F' [|] ' '{ print $2 }' | sed 's/^`//; s/`$//')
    [ "$got" = "$want" ] || die "README.md: $file: table has [$got], comment has [$want]"
}

cmd=${1:-}
shift || true
case $cmd in
    extract|build|strict|run|example_cmd|example_builds|example_strict|table_matches) "$cmd" "$@" ;;
    *) die "usage: tests/readme_check.sh extract|build|strict|run|example_cmd|example_builds|example_strict|table_matches ..." ;;
esac
