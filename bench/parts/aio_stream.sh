# bench/parts/aio_stream.sh - echo server benchmarks of aio_stream.h against
# libuv, libevent bufferevents and a blocking thread-per-connection ceiling.
# Sourced by bench/run.sh (also runs alone: bash bench/parts/aio_stream.sh).
# One run, one table: round trips/s with 1 and 100 connections, bulk MiB/s
# for AIO_BENCH_MIB (1024) MiB, server RSS bytes per idle connection, and the
# text each echo server adds to an empty program (static, -Os, gc-sections).
# Server pinned to CPU 0, client to CPU 1.  The machine may be shared, so the
# throughput rows are the best of AIO_BENCH_ROUNDS (3) rounds that go round
# all four servers in turn: a burst of someone else's load then hits one
# round of every server instead of all rounds of one.

# The limits of examples/echo_server.c are its own choice for a server
# on the open network (a cap from the descriptor limit, a 60 s idle
# deadline per read); the comparison sets them for a benchmark: a cap
# above every connection it opens, no deadline (none of the others keeps one).
aio_bench_server_args() {
    [ "$1" = aios ] && echo "--max-conns 100000 --idle-timeout 0"
}

aio_bench() (
    set -u
    local B=build/bench mib=${AIO_BENCH_MIB:-1024} secs=${AIO_BENCH_SECONDS:-2} idle_n=${AIO_BENCH_IDLE:-4000}
    local rounds=${AIO_BENCH_ROUNDS:-3}
    mkdir -p "$B"
    local cc=${CC:-gcc}
    $cc -O2 -o $B/aio_bench_client bench/aio_bench_client.c || return 1
    $cc -std=c99 -O2 -I. -o $B/aio_echo_aios examples/echo_server.c -lpthread || return 1
    $cc -O2 -o $B/aio_echo_uv bench/aio_echo_uv.c -luv || return 1
    $cc -O2 -o $B/aio_echo_event bench/aio_echo_event.c -levent || return 1
    $cc -O2 -o $B/aio_echo_block bench/aio_echo_block.c -lpthread || return 1

    local pin_s="" pin_c=""
    if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then pin_s="taskset -c 0"; pin_c="taskset -c 1"; fi

    declare -A R
    local name round
    best() {  # best KEY VALUE: keep the higher
        [ -n "$2" ] || return 0
        if [ -z "${R[$1]:-}" ] || [ "$2" -gt "${R[$1]}" ]; then R[$1]=$2; fi
    }
    for round in $(seq 1 "$rounds"); do
        for name in aios uv event block; do
            : >$B/$name.out
            # shellcheck disable=SC2046
            $pin_s $B/aio_echo_$name $(aio_bench_server_args $name) 0 >$B/$name.out 2>$B/$name.err &
            local pid=$! port="" i
            for i in $(seq 1 100); do
                port=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' $B/$name.out)
                [ -n "$port" ] && break
                sleep 0.05
            done
            best $name.rtt1 "$($pin_c $B/aio_bench_client rtt "$port" 1 "$secs")"
            best $name.rtt100 "$($pin_c $B/aio_bench_client rtt "$port" 100 "$secs")"
            best $name.bulk "$($pin_c $B/aio_bench_client bulk "$port" "$mib")"
            kill $pid 2>/dev/null
            wait $pid 2>/dev/null
        done
    done
    for name in aios uv event block; do
        R[$name.idle]=-
        [ $name = block ] && continue
        # idle connections on a fresh server, so freed memory is not reused
        : >$B/$name.out
        # shellcheck disable=SC2046
        $pin_s $B/aio_echo_$name $(aio_bench_server_args $name) 0 >$B/$name.out 2>$B/$name.err &
        pid=$!
        port=""
        for i in $(seq 1 100); do
            port=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' $B/$name.out)
            [ -n "$port" ] && break
            sleep 0.05
        done
        R[$name.idle]=$($pin_c $B/aio_bench_client idle "$port" "$idle_n" "$pid")
        kill $pid 2>/dev/null
        wait $pid 2>/dev/null
    done

    # code size: text added over an empty program, static, -Os, gc-sections
    local sflags="-Os -ffunction-sections -fdata-sections -Wl,--gc-sections -static -s"
    text() { size "$1" | awk 'NR==2 {print $1}'; }
    if command -v musl-gcc >/dev/null 2>&1; then
        musl-gcc $sflags -o $B/empty_musl bench/aio_empty.c &&
        musl-gcc -std=c99 $sflags -I. -o $B/size_aios_musl examples/echo_server.c &&
        R[aios.text_musl]=$(( $(text $B/size_aios_musl) - $(text $B/empty_musl) ))
        # of which the header's own functions (the rest is musl: malloc, the vDSO clock, inet_pton, syscalls)
        musl-gcc -std=c99 ${sflags% -s} -I. -o $B/size_aios_musl_syms examples/echo_server.c &&
        R[aios.text_own]=$(nm -S $B/size_aios_musl_syms | awk '$3 ~ /^[tT]$/ && $4 ~ /^aios/ { s += ("0x" $2) + 0 } END { print s + 0 }')
    fi
    $cc $sflags -o $B/empty_glibc bench/aio_empty.c
    $cc -std=c99 $sflags -I. -o $B/size_aios examples/echo_server.c -lpthread 2>/dev/null &&
        R[aios.text]=$(( $(text $B/size_aios) - $(text $B/empty_glibc) ))
    $cc $sflags -o $B/size_uv bench/aio_echo_uv.c -l:libuv_a.a -lpthread -ldl 2>/dev/null &&
        R[uv.text]=$(( $(text $B/size_uv) - $(text $B/empty_glibc) ))
    $cc $sflags -o $B/size_event bench/aio_echo_event.c -l:libevent.a 2>/dev/null &&
        R[event.text]=$(( $(text $B/size_event) - $(text $B/empty_glibc) ))
    $cc $sflags -o $B/size_block bench/aio_echo_block.c -lpthread 2>/dev/null &&
        R[block.text]=$(( $(text $B/size_block) - $(text $B/empty_glibc) ))

    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
    row() {  # label key better(high|low)
        local k=$2
        printf '%-34s %12s %12s %12s %12s   %8s %8s %8s\n' "$1" "${R[aios.$k]:--}" "${R[uv.$k]:--}" "${R[event.$k]:--}" "${R[block.$k]:--}" \
            "$(ratio "${R[aios.$k]:-}" "${R[uv.$k]:-}")" "$(ratio "${R[aios.$k]:-}" "${R[event.$k]:-}")" "$(ratio "${R[aios.$k]:-}" "${R[block.$k]:-}")"
    }
    echo
    echo "aio_stream.h echo server benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs${pin_s:+, pinned}, best of $rounds rounds, load $(cut -d' ' -f1-3 /proc/loadavg))"
    printf '%-34s %12s %12s %12s %12s   %8s %8s %8s\n' "" aio_stream libuv libevent blocking "aios/uv" "aios/ev" "aios/blk"
    row "round trips/s, 1 connection" rtt1
    row "round trips/s, 100 connections" rtt100
    row "bulk MiB/s ($mib MiB echoed)" bulk
    row "RSS bytes per idle connection" idle
    row "added text bytes (glibc static)" text
    printf '%-34s %12s\n' "added text bytes (musl static)" "${R[aios.text_musl]:--}"
    printf '%-34s %12s\n' "  of which aio_stream.h functions" "${R[aios.text_own]:--}"
    echo "(higher is better for the first three rows, lower for the last three)"
)

aio_bench
