# bench/parts/aio_stream.sh - echo servers side by side: aio_stream.h on its
# epoll and poll backends, libuv, libevent bufferevents and a bare epoll loop
# written by hand (the ceiling for one thread).  Sourced by bench/run.sh
# (also runs alone: bash bench/parts/aio_stream.sh).
#
# One table: round trips/s (64-byte messages) with 1 and 100 connections,
# 100 active while 1,000 and 10,000 more sit idle, 10 active with 5,000
# idle; bulk MiB/s (AIO_BENCH_MIB, 1024 MiB echoed); server RSS bytes per
# idle connection; the text each server adds to an empty program.  Then the
# cost of one loop iteration with 10 and 10,000 idle descriptors registered.
#
# Servers pinned to CPU 0, client to CPU 1.  The round-trip rows run every
# server at once and make them take turns (bench/aio_bench_client.c, mode
# alt): AIO_BENCH_CYCLES (60) cycles of AIO_BENCH_SLICE (0.2) s per server,
# each cycle starting with the next server, after one uncounted cycle.  A
# burst of someone else's load then falls on neighbouring slices of every
# server alike; each figure is the median of a server's slices, and the
# paired ratios are medians of the per-cycle ratios of aios's slice to the
# other server's.  In the 10,000-idle row a second aios server with no idle
# connections (aios0) takes its turns too, so that what idle connections
# cost is a paired ratio as well.  Bulk MiB/s is the median of
# AIO_BENCH_ROUNDS (5) rounds against the same servers.  Below the tables,
# the spread of the slices (lowest and highest as a share of the median)
# for the rows with goals: a ratio closer to 1 than the spread is not a
# difference one slice can show.  Then what one round trip costs, which
# does not depend on the machine's noise: system calls (strace -c) and
# user-space instructions (valgrind's callgrind) in the server for each
# round trip of one connection.
#
# A second table, UDP echo (bench/udp_echo_aios.c against libuv's uv_udp in
# bench/udp_echo_uv.c, plain and with UV_UDP_RECVMMSG): round trips/s with 1
# and 10 pingers (bench/udp_bench_client.c: a socket each, one 64-byte
# datagram in flight each), AIO_UDP_SECONDS (2) per measurement, median of
# AIO_BENCH_ROUNDS, pinned the same way; under a minute in all.
# AIO_BENCH_SECTIONS="echo udp" picks the tables (AIO_BENCH_SECTIONS=udp
# bash bench/parts/aio_stream.sh runs the UDP one alone).

aio_bench() (
    set -u
    local B=build/bench mib=${AIO_BENCH_MIB:-1024} secs=${AIO_BENCH_SECONDS:-2} idle_n=${AIO_BENCH_IDLE:-4000}
    local rounds=${AIO_BENCH_ROUNDS:-5} cc=${CC:-gcc} slice=${AIO_BENCH_SLICE:-0.2} cycles=${AIO_BENCH_CYCLES:-60} port0
    local servers="aios aios_poll uv event epoll"
    mkdir -p "$B"
    $cc -O2 -o $B/aio_bench_client bench/aio_bench_client.c || return 1
    $cc -std=c99 -O2 -I. -o $B/aio_echo_aios bench/aio_echo.c || return 1
    $cc -std=c99 -O2 -I. -DASYNCKIT_POLL -o $B/aio_echo_aios_poll bench/aio_echo.c || return 1
    $cc -O2 -o $B/aio_echo_uv bench/aio_echo_uv.c -luv || return 1
    $cc -O2 -o $B/aio_echo_event bench/aio_echo_event.c -levent || return 1
    $cc -O2 -o $B/aio_echo_epoll bench/aio_echo_epoll.c || return 1

    # 10,000 idle connections need about 10,200 descriptors on each side
    ulimit -n "$(ulimit -Hn)" 2>/dev/null
    local fdmax big=10000 mid=5000 note=""
    fdmax=$(ulimit -n)
    if [ "$fdmax" != unlimited ] && [ "$fdmax" -lt 10300 ]; then
        big=$((fdmax - 300)); mid=$((big / 2))
        note=" (REDUCED: descriptor limit $fdmax)"
    fi

    local pin_s="" pin_c=""
    if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then pin_s="taskset -c 0"; pin_c="taskset -c 1"; fi

    declare -A V   # V[server.key] = the values of every round, space separated
    start_server() {  # start_server NAME [PROGRAM]: sets pid and port
        : >"$B/$1.out"
        $pin_s "$B/aio_echo_${2:-$1}" 0 >"$B/$1.out" 2>"$B/$1.err" &
        pid=$!
        port=""
        local i
        for i in $(seq 1 100); do
            port=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$B/$1.out")
            [ -n "$port" ] && break
            sleep 0.05
        done
    }
    stop_server() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
    add() { [ -n "$2" ] && V[$1]="${V[$1]:-} $2"; return 0; }
    # the servers in turn, round R starting with the Rth
    rotate() { local list=($1) i n; n=${#list[@]}; for i in $(seq 0 $((n - 1))); do echo "${list[$(( (i + $2 - 1) % n ))]}"; done; }
    local name round pid port
    # Round trips: every server runs at once (all pinned to one CPU, the idle
    # ones asleep in their wait), and the client's interleaved mode makes them
    # take turns in slices of $slice s, $cycles cycles per row, each cycle
    # starting with the next server.  A burst of someone else's load then hits
    # neighbouring slices of every server alike, and the ratios below pair each
    # slice of aios with the other server's slice of the same cycle.  A second
    # aios server without idle connections (aios0) runs beside the others in
    # the 10,000-idle row, so that what idle connections cost is paired too.
    declare -A P N   # P[name] = pid, N[port] = name
    local ports0="" line k rest
    for name in $servers aios0; do
        start_server $name ${name%0}
        [ -n "$port" ] || { echo "aio_echo_$name did not start: $(cat "$B/$name.err")" >&2; return 1; }
        P[$name]=$pid; N[$port]=$name
        if [ $name = aios0 ]; then port0=$port; else ports0="$ports0 $port"; fi
    done
    alt_row() {  # alt_row KEY CONNS IDLE [EXTRA PORT]
        local out
        out=$($pin_c $B/aio_bench_client alt "$slice" "$cycles" "$2" "$3" $ports0 ${4:-}) || { echo "aio_bench_client alt $2 $3 failed" >&2; return 1; }
        while read -r k rest; do V[${N[${k%%/*}]}.$1]="$rest"; done <<<"$out"
    }
    alt_row rtt1 1 0
    alt_row rtt100 100 0
    alt_row rtt100_1k 100 1000
    alt_row rtt100_big 100 "$big" "$port0/0"
    alt_row rtt10_mid 10 "$mid"
    for round in $(seq 1 "$rounds"); do
        for name in $(rotate "$servers" "$round"); do
            port=$(for k in "${!N[@]}"; do [ "${N[$k]}" = $name ] && echo $k; done)
            add $name.bulk "$($pin_c $B/aio_bench_client bulk "$port" "$mib")"
        done
    done
    for name in $servers aios0; do kill "${P[$name]}" 2>/dev/null; wait "${P[$name]}" 2>/dev/null; done
    for name in $servers; do
        # idle connections on a fresh server, so freed memory is not reused
        start_server $name
        add $name.idle "$($pin_c $B/aio_bench_client idle "$port" "$idle_n" "$pid")"
        stop_server
    done

    # code size: text added over an empty program, static, -Os, gc-sections
    local sflags="-Os -ffunction-sections -fdata-sections -Wl,--gc-sections -static -s"
    text() { size "$1" | awk 'NR==2 {print $1}'; }
    $cc $sflags -o $B/empty_glibc bench/aio_empty.c
    $cc -std=c99 $sflags -I. -o $B/size_aios bench/aio_echo.c 2>/dev/null &&
        add aios.text $(( $(text $B/size_aios) - $(text $B/empty_glibc) ))
    $cc -std=c99 $sflags -I. -DASYNCKIT_POLL -o $B/size_aios_poll bench/aio_echo.c 2>/dev/null &&
        add aios_poll.text $(( $(text $B/size_aios_poll) - $(text $B/empty_glibc) ))
    $cc $sflags -o $B/size_uv bench/aio_echo_uv.c -l:libuv_a.a -lpthread -ldl 2>/dev/null &&
        add uv.text $(( $(text $B/size_uv) - $(text $B/empty_glibc) ))
    $cc $sflags -o $B/size_event bench/aio_echo_event.c -l:libevent.a 2>/dev/null &&
        add event.text $(( $(text $B/size_event) - $(text $B/empty_glibc) ))
    $cc $sflags -o $B/size_epoll bench/aio_echo_epoll.c 2>/dev/null &&
        add epoll.text $(( $(text $B/size_epoll) - $(text $B/empty_glibc) ))
    local min_poll=- min_epoll=- min_own=-
    if command -v musl-gcc >/dev/null 2>&1; then
        musl-gcc $sflags -o $B/empty_musl bench/aio_empty.c &&
        musl-gcc -std=c99 $sflags -I. -DASYNCKIT_POLL -o $B/echo_min_poll bench/echo_min.c &&
        min_poll=$(( $(text $B/echo_min_poll) - $(text $B/empty_musl) ))
        musl-gcc -std=c99 $sflags -I. -o $B/echo_min_epoll bench/echo_min.c &&
        min_epoll=$(( $(text $B/echo_min_epoll) - $(text $B/empty_musl) ))
        # of which the library's own functions (the rest is musl: malloc, the clock, inet_pton, syscalls)
        musl-gcc -std=c99 ${sflags% -s} -I. -DASYNCKIT_POLL -o $B/echo_min_syms bench/echo_min.c &&
        min_own=$(nm -S $B/echo_min_syms | awk '$3 ~ /^[tT]$/ && $4 ~ /^(aios|akc)_/ { s += ("0x" $2) + 0 } END { print s + 0 }')
    fi

    median() { echo "$1" | tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else printf "%.0f\n", (a[NR/2]+a[NR/2+1])/2}'; }
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
    row() {  # label key
        local k=$2 a p u e x
        a=$(median "${V[aios.$k]:-}"); p=$(median "${V[aios_poll.$k]:-}"); u=$(median "${V[uv.$k]:-}")
        e=$(median "${V[event.$k]:-}"); x=$(median "${V[epoll.$k]:-}")
        printf '%-38s %10s %10s %10s %10s %10s   %7s %7s %7s\n' "$1" "$a" "$p" "$u" "$e" "$x" \
            "$(ratio "$a" "$u")" "$(ratio "$a" "$e")" "$(ratio "$a" "$x")"
    }
    echo
    echo "Echo servers ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs${pin_s:+, pinned}, load $(cut -d' ' -f1-3 /proc/loadavg))$note"
    echo "(round trips: median of $cycles interleaved slices of $slice s; bulk: median of $rounds rounds)"
    printf '%-38s %10s %10s %10s %10s %10s   %7s %7s %7s\n' "" "aios" "aios poll" libuv libevent "bare epoll" "/uv" "/event" "/epoll"
    row "round trips/s, 1 connection" rtt1
    row "round trips/s, 100 connections" rtt100
    row "  the same, 1,000 more idle" rtt100_1k
    row "  the same, $big more idle" rtt100_big
    row "round trips/s, 10 active, $mid idle" rtt10_mid
    row "bulk MiB/s ($mib MiB echoed)" bulk
    row "RSS bytes per idle connection" idle
    row "added text bytes (glibc static)" text
    echo "(higher is better for the first six rows, lower for the last two)"
    local a0 abig
    a0=$(median "${V[aios.rtt100]:-}"); abig=$(median "${V[aios.rtt100_big]:-}")
    # the median of the per-cycle ratios of two servers' slices
    pratio() {
        [ -n "${V[$1]:-}" ] && [ -n "${V[$2]:-}" ] || { echo -; return; }
        paste <(echo ${V[$1]} | tr ' ' '\n') <(echo ${V[$2]} | tr ' ' '\n') |
            awk '$2 > 0 { printf "%.4f\n", $1 / $2 }' | sort -n |
            awk '{a[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) printf "%.2f\n", a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'
    }
    echo
    echo "Paired ratios: aios (epoll) against each server, the median of the $cycles per-cycle ratios"
    printf '%-38s %7s %7s %7s %7s\n' "" "/poll" "/uv" "/event" "/epoll"
    for k in rtt1:"round trips/s, 1 connection" rtt100:"round trips/s, 100 connections" \
             rtt100_1k:"  the same, 1,000 more idle" rtt100_big:"  the same, $big more idle" \
             rtt10_mid:"round trips/s, 10 active, $mid idle"; do
        printf '%-38s %7s %7s %7s %7s\n' "${k#*:}" "$(pratio aios_poll.${k%%:*} aios.${k%%:*} | awk '{ if ($1 == "-" || $1 == 0) print "-"; else printf "%.2f", 1 / $1 }')" \
            "$(pratio aios.${k%%:*} uv.${k%%:*})" "$(pratio aios.${k%%:*} event.${k%%:*})" "$(pratio aios.${k%%:*} epoll.${k%%:*})"
    done
    local a0 abig
    a0=$(median "${V[aios.rtt100]:-}"); abig=$(median "${V[aios.rtt100_big]:-}")
    echo "aios with $big idle keeps $(ratio "$abig" "$a0") of its 100-connection throughput (medians of two rows);"
    echo "  paired in one row against a second aios server with none idle (aios0: median $(median "${V[aios0.rtt100_big]:-}")): $(pratio aios.rtt100_big aios0.rtt100_big)"
    # lowest and highest slice as shares of the median, per server
    spread() {
        local m lo hi
        m=$(median "$1"); lo=$(echo "$1" | tr ' ' '\n' | grep -v '^$' | sort -n | head -n 1)
        hi=$(echo "$1" | tr ' ' '\n' | grep -v '^$' | sort -n | tail -n 1)
        if [ "$m" = - ]; then echo -; else echo "$(ratio "$lo" "$m")-$(ratio "$hi" "$m")"; fi
    }
    echo "spread of the $cycles slices (lowest-highest / median):"
    for k in rtt1 rtt100 rtt100_big; do
        printf '  %-12s' "$k"
        for name in $servers; do printf ' %s %s' "$name" "$(spread "${V[$name.$k]:-}")"; done
        echo
    done
    echo "smallest echo server (bench/echo_min.c, musl static, -Os): poll backend $min_poll bytes of text, epoll $min_epoll; of which the library's functions $min_own"

    # what one round trip of one connection costs the server, free of noise
    if command -v strace >/dev/null 2>&1 && command -v valgrind >/dev/null 2>&1; then
        local sc ir t r c
        for name in $servers; do
            start_server $name
            strace -c -o "$B/$name.strace" -p "$pid" 2>/dev/null & t=$!
            sleep 0.3
            r=$($pin_c $B/aio_bench_client rtt "$port" 1 1)
            kill -INT "$t"; wait "$t" 2>/dev/null
            stop_server
            sc=$(awk -v r="$r" '$NF == "total" { if (r > 0) printf "%.2f", $(NF-2) / r }' "$B/$name.strace")
            : >"$B/$name.out"
            $pin_s valgrind --tool=callgrind --callgrind-out-file="$B/$name.cg" "$B/aio_echo_$name" 0 >"$B/$name.out" 2>"$B/$name.vg" &
            pid=$!
            port=""
            for t in $(seq 1 100); do
                port=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$B/$name.out"); [ -n "$port" ] && break; sleep 0.1
            done
            r=$($pin_c $B/aio_bench_client rtt "$port" 1 2)
            stop_server
            c=$(sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$B/$name.vg")
            ir=$(awk -v r="$r" -v c="$c" 'BEGIN { if (r > 0 && c > 0) printf "%.0f", c / (r * 2) }')
            add $name.sys "$sc"; add $name.ir "$ir"
        done
        echo
        echo "One round trip of one connection, in the server (setup included, spread over the round trips)"
        printf '%-38s %10s %10s %10s %10s %10s\n' "" "aios" "aios poll" libuv libevent "bare epoll"
        row "system calls (strace -c)" sys
        row "user-space instructions (callgrind)" ir
    fi

    # one loop iteration with idle descriptors registered
    $cc -std=c99 -O2 -I. -o $B/loop_iter bench/loop_iter.c &&
    $cc -std=c99 -O2 -I. -DASYNCKIT_POLL -o $B/loop_iter_poll bench/loop_iter.c &&
    $cc -O2 -o $B/loop_iter_uv bench/loop_iter_uv.c -luv &&
    $cc -O2 -o $B/loop_iter_event bench/loop_iter_event.c -levent || return 1
    local n it kind
    declare -A L
    for round in $(seq 1 "$rounds"); do
        for n in 10 10000; do
            for kind in "" _poll _uv _event; do
                it=200000
                [ "$kind" = _poll ] && [ $n = 10000 ] && it=2000
                L[$kind.$n]="${L[$kind.$n]:-} $($pin_s $B/loop_iter$kind $n $it)"
            done
        done
    done
    echo
    echo "One loop iteration (ns, median of $rounds) with idle descriptors registered and a deferred call ready"
    printf '%-22s %10s %10s %10s %10s\n' "" "sched" "sched poll" libuv libevent
    for n in 10 10000; do
        printf '%-22s %10s %10s %10s %10s\n' "$n descriptors" "$(median "${L[.$n]}")" "$(median "${L[_poll.$n]}")" \
            "$(median "${L[_uv.$n]}")" "$(median "${L[_event.$n]}")"
    done
    echo "sched (epoll) 10,000 against 10: $(ratio "$(median "${L[.10000]}")" "$(median "${L[.10]}")")x (goal: at most 2)"
)

# UDP echo: aio_stream.h's datagram sockets against libuv's uv_udp
aio_udp_bench() (
    set -u
    local B=build/bench secs=${AIO_UDP_SECONDS:-2} rounds=${AIO_BENCH_ROUNDS:-3} cc=${CC:-gcc}
    local servers="aios aios_poll uv uv_mmsg"
    mkdir -p "$B"
    $cc -std=c99 -O2 -o $B/udp_bench_client bench/udp_bench_client.c || return 1
    $cc -std=c99 -O2 -I. -o $B/udp_echo_aios bench/udp_echo_aios.c || return 1
    $cc -std=c99 -O2 -I. -DASYNCKIT_POLL -o $B/udp_echo_aios_poll bench/udp_echo_aios.c || return 1
    $cc -std=c99 -O2 -o $B/udp_echo_uv bench/udp_echo_uv.c -luv || return 1

    local pin_s="" pin_c=""
    if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then pin_s="taskset -c 0"; pin_c="taskset -c 1"; fi

    declare -A V   # V[server.pingers] = the values of every round, space separated
    local name round pid port n i bin arg
    for round in $(seq 1 "$rounds"); do
        for name in $servers; do
            bin=$B/udp_echo_${name%_mmsg}; arg=""
            [ "$name" = uv_mmsg ] && arg=mmsg
            : >"$B/udp_$name.out"
            $pin_s $bin 0 $arg >"$B/udp_$name.out" 2>"$B/udp_$name.err" &
            pid=$!
            port=""
            for i in $(seq 1 100); do
                port=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$B/udp_$name.out")
                [ -n "$port" ] && break
                sleep 0.05
            done
            [ -n "$port" ] || echo "udp_echo_$name did not start: $(cat "$B/udp_$name.err")" >&2
            for n in 1 10; do
                [ -n "$port" ] || continue
                V[$name.$n]="${V[$name.$n]:-} $($pin_c $B/udp_bench_client "$port" $n "$secs" 2>"$B/udp_client.err")"
                [ -s "$B/udp_client.err" ] && sed "s/^/$name, $n pingers, round $round: /" "$B/udp_client.err" >&2
            done
            kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
        done
    done

    median() { echo "$1" | tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else printf "%.0f\n", (a[NR/2]+a[NR/2+1])/2}'; }
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
    local fmt='%-24s %10s %10s %10s %10s   %7s %8s\n' a p u m
    echo
    echo "UDP echo, 64-byte datagrams ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs${pin_s:+, pinned}, median of $rounds rounds of $secs s, load $(cut -d' ' -f1-3 /proc/loadavg))"
    printf "$fmt" "" aios "aios poll" libuv "uv mmsg" "/uv" "/uv mmsg"
    for n in 1 10; do
        a=$(median "${V[aios.$n]:-}"); p=$(median "${V[aios_poll.$n]:-}")
        u=$(median "${V[uv.$n]:-}"); m=$(median "${V[uv_mmsg.$n]:-}")
        printf "$fmt" "round trips/s, $n pinger$([ $n = 1 ] || echo s)" "$a" "$p" "$u" "$m" "$(ratio "$a" "$u")" "$(ratio "$a" "$m")"
    done
    echo "(ratios: aios on epoll against libuv; goal: at least 1.00)"
)

aio_status=0
for section in ${AIO_BENCH_SECTIONS:-echo udp}; do
    case "$section" in
    echo) aio_bench || aio_status=1 ;;
    udp) aio_udp_bench || aio_status=1 ;;
    *) echo "aio_stream.sh: unknown section $section (echo, udp)" >&2; aio_status=1 ;;
    esac
done
[ $aio_status = 0 ]   # the part's status (bench/run.sh runs it with bash)
