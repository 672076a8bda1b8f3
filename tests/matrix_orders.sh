#!/usr/bin/env bash
# tests/matrix_orders.sh - the three headers in one file, in every order,
# each declarations-only, with its implementation macro or with its static
# macro, each macro defined just before its header's #include.
#
#   tests/matrix_orders.sh all DIR        every order x every mode (162 files),
#                                         gcc -fsyntax-only -std=c99
#   tests/matrix_orders.sh sample DIR     27 files (every mode combination
#                                         once, the order turning), under
#                                         gcc -std=c11, g++ -std=c++11 and
#                                         clang -std=c99
#   tests/matrix_orders.sh dev DIR        asyncdev.h at each place in every
#                                         order of the three, in each of its
#                                         modes, the others' modes turning
#                                         (72 files, gcc -std=c99; and the
#                                         first 24 as C++11)
# Prints each failing file with the compiler's first error; exit 1 if any.
set -u
what=$1 dir=$2
mkdir -p "$dir"
WARN='-Wall -Wextra -pedantic -Werror -Wshadow -Wundef'
USB=$(pkg-config --cflags libusb-1.0 2>/dev/null)
headers=(sched.h aio_stream.h asyncusb.h asyncdev.h)
prefix=(SCHD AIOS AUSB ADEV)
orders=("0 1 2" "0 2 1" "1 0 2" "1 2 0" "2 0 1" "2 1 0")

# write_file FILE ORDER MODES: MODES is three digits, one per header
# (0 declarations, 1 implementation, 2 static), in header order.
write_file() {
    local file=$1 order=$2 modes=$3 i m
    : >"$file"
    for i in $order; do
        m=${modes:$i:1}
        [ "$m" = 1 ] && echo "#define ${prefix[$i]}_IMPLEMENTATION" >>"$file"
        [ "$m" = 2 ] && echo "#define ${prefix[$i]}_STATIC" >>"$file"
        echo "#include \"${headers[$i]}\"" >>"$file"
    done
    echo 'int main(void) { return 0; }' >>"$file"
}

jobs=()
case $what in
all)
    for o in "${!orders[@]}"; do
        for m in $(seq 0 26); do
            modes="$((m / 9))$((m / 3 % 3))$((m % 3))"
            f="$dir/o${o}_m$modes.c"
            write_file "$f" "${orders[$o]}" "$modes"
            jobs+=("gcc -std=c99 $WARN -fsyntax-only -iquote . $USB $f")
        done
    done ;;
sample)
    for m in $(seq 0 26); do
        modes="$((m / 9))$((m / 3 % 3))$((m % 3))"
        f="$dir/s_m$modes.c"
        write_file "$f" "${orders[$((m % 6))]}" "$modes"
        cp "$f" "${f%.c}.cpp"
        jobs+=("gcc -std=c11 $WARN -fsyntax-only -iquote . $USB $f"
               "g++ -std=c++11 $WARN -fsyntax-only -iquote . $USB ${f%.c}.cpp"
               "clang -std=c99 $WARN -fsyntax-only -iquote . $USB $f")
    done ;;
dev)
    n=0
    for o in "${!orders[@]}"; do
        for place in 0 1 2 3; do
            set -- ${orders[$o]}
            order4=$(echo "${@:1:$place} 3 ${@:$((place + 1))}" | tr -s ' ')
            for dm in 0 1 2; do
                m=$(( (n * 3 + dm) % 27 ))
                modes="$((m / 9))$((m / 3 % 3))$((m % 3))$dm"
                f="$dir/d_o${o}p${place}_m$modes.c"
                write_file "$f" "$order4" "$modes"
                jobs+=("gcc -std=c99 $WARN -fsyntax-only -iquote . $USB $f")
                if [ "$dm" = 1 ] && [ "$place" -lt 2 ]; then
                    cp "$f" "${f%.c}.cpp"
                    jobs+=("g++ -std=c++11 $WARN -fsyntax-only -iquote . $USB ${f%.c}.cpp")
                fi
            done
            n=$((n + 1))
        done
    done ;;
*) echo "usage: $0 all|sample|dev DIR" >&2; exit 2 ;;
esac
printf '%s\n' "${jobs[@]}" |
    xargs -P "$(nproc)" -I{} bash -c 'out=$({} 2>&1) || { echo "FAILED: {}"; echo "$out" | grep -m1 error; exit 1; }' 
