#!/usr/bin/env bash
# tests/aio_peers.sh - checks of the aio_stream.h examples against real peers.
# Run from the repository root as: bash tests/aio_peers.sh CHECK [ARGS...];
# exit status 0 when the check passes.  tests/parts/aio_stream.sh runs each
# one through t_check.
set -u
cd "$(dirname "$0")/.." || exit 2
: "${CC:=gcc}" "${T_QUICK:=}"
T_WARN=${T_WARN:-'-std=c99 -Wall -Wextra -pedantic -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wundef'}
t_have() { command -v "$1" >/dev/null 2>&1; }
AIO_DIR=build/aio_peers
mkdir -p "$AIO_DIR"
aio_ex_flags="$T_WARN -O2 -g -I."

# aio_free_port: prints a TCP port nobody listens on right now, below the
# kernel's ephemeral range: after the 10,000-connection load, thousands of
# ephemeral ports sit in TIME_WAIT and a listener there may fail to bind.
aio_free_port() {
    local p lo=32768 hi
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
    [ "$lo" -gt 12000 ] || lo=32768
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        p=$((10000 + RANDOM % (lo - 10000)))
        if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return 0; fi
    done
    echo 0
}

# aio_wait_line FILE PATTERN: waits (up to 10 s) for PATTERN in FILE.
aio_wait_line() {
    local i
    for i in $(seq 1 200); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# aio_start_echo [BINARY]: starts the echo server on port 0, sets AIO_ECHO_PID and AIO_ECHO_PORT.
aio_start_echo() {
    local bin=${1:-$AIO_DIR/echo_server}
    : >"$AIO_DIR/echo.out"
    "$bin" 0 >"$AIO_DIR/echo.out" 2>"$AIO_DIR/echo.err" &
    AIO_ECHO_PID=$!
    aio_wait_line "$AIO_DIR/echo.out" '^listening on [0-9]' || return 1
    AIO_ECHO_PORT=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$AIO_DIR/echo.out" | head -n 1)
}

aio_stop_echo() {
    kill -TERM "$AIO_ECHO_PID" 2>/dev/null
    wait "$AIO_ECHO_PID"
}

aio_check_examples_build() {
    local e
    for e in echo_server http_get tcp_client serial_cat; do
        $CC $aio_ex_flags -o "$AIO_DIR/$e" "examples/$e.c" -lpthread || return 1
        # the command line in the comment at the top builds it as well
        grep -q "^ \*   cc -std=c99 -O2 -I. -o build/$e examples/$e.c -lpthread$" "examples/$e.c" || return 1
    done
    $CC -fsanitize=address,undefined -fno-sanitize-recover=all -O1 -g -I. \
        -o "$AIO_DIR/echo_server_asan" examples/echo_server.c -lpthread || return 1
    $CC -std=c99 -O2 -g -I. -o "$AIO_DIR/aio_load" tests/aio_load.c -lpthread
}

# Issue 4: with a descriptor limit of 1024 and 2,000 connections trickling
# one byte every 3 s, a new client is still served within 2 s
# (tests/aio_lockout.c starts the server itself, with that limit).
aio_check_echo_lockout() {
    $CC -std=c99 -O2 -g -I. -o "$AIO_DIR/aio_lockout" tests/aio_lockout.c || return 1
    "$AIO_DIR/aio_lockout" "${1:-$AIO_DIR/echo_server}"
}

# Issue 5: bad numbers and junk are errors with the usage line, exit 2.
aio_check_examples_usage() {
    . tests/lib.sh >/dev/null
    local a u
    u="usage: echo_server [--max-conns N] [--idle-timeout SECONDS] PORT"
    for a in "" x 70000 12a -5 "7 8" --max-conns "--max-conns 0 1" "--max-conns 1x 1" "--idle-timeout -1 0" \
             "--idle-timeout 99999999 0" "--verbose 0"; do
        t_usage_exit2 $AIO_DIR/echo_server "$u" "$a" || return 1
    done
    for a in "" h "h 0" "h 70000" "h 12x" "h -1" "h 80 extra"; do
        t_usage_exit2 $AIO_DIR/tcp_client "usage: tcp_client HOST PORT" "$a" || return 1
    done
    for a in "h 80" "h x /" "h 80 nopath" "h 0 /" "h 80 / x" "--max-time 0 h 80 /" "--max-time 1x h 80 /" \
             "--max-time h 80 /" "--max-time 86401 h 80 /" "--verbose h 80 /"; do
        t_usage_exit2 $AIO_DIR/http_get "usage: http_get [--max-time SECONDS] HOST PORT PATH" "$a" || return 1
    done
    for a in /dev/null "/dev/null 9600x" "/dev/null fast" "/dev/null -9600" "/dev/null 0"; do
        t_usage_exit2 $AIO_DIR/serial_cat "usage: serial_cat DEVICE BAUD" "$a" || return 1
    done
}

aio_check_echo_socat() {
    aio_start_echo || return 1
    local got
    got=$(printf 'hello from socat\n' | socat -t 5 - "TCP:127.0.0.1:$AIO_ECHO_PORT")
    aio_stop_echo || return 1
    [ "$got" = "hello from socat" ]
}

aio_check_echo_tcp_client() {
    aio_start_echo || return 1
    head -c 3000000 /dev/urandom >"$AIO_DIR/random.bin"
    $AIO_DIR/tcp_client 127.0.0.1 "$AIO_ECHO_PORT" <"$AIO_DIR/random.bin" >"$AIO_DIR/random.back" || return 1
    cmp "$AIO_DIR/random.bin" "$AIO_DIR/random.back" || return 1
    if (exec 3<>/dev/tcp/::1/"$AIO_ECHO_PORT") 2>/dev/null; then
        [ "$(echo six | $AIO_DIR/tcp_client ::1 "$AIO_ECHO_PORT")" = six ] || return 1
    fi
    [ "$(echo named | $AIO_DIR/tcp_client localhost "$AIO_ECHO_PORT")" = named ] || return 1
    aio_stop_echo
}

aio_check_echo_sigterm_exits_zero() {
    aio_start_echo || return 1
    kill -TERM "$AIO_ECHO_PID"
    wait "$AIO_ECHO_PID" || return 1
    head -n 1 "$AIO_DIR/echo.out" | grep -q '^listening on [0-9][0-9]*$'
}

# aio_check_echo_signal_graceful SIG: with a client connected, SIG stops new
# connections, the open one keeps being served until the client leaves, and
# then the server exits 0 at once (not after its 10-second grace period).
aio_check_echo_signal_graceful() {
    local sig=$1 line i
    aio_start_echo || return 1
    exec 3<>"/dev/tcp/127.0.0.1/$AIO_ECHO_PORT" || { aio_stop_echo; return 1; }
    printf 'before\n' >&3
    read -r -t 5 line <&3
    [ "$line" = before ] || { echo "echo before: $line"; exec 3>&-; aio_stop_echo; return 1; }
    kill "-$sig" "$AIO_ECHO_PID"
    sleep 0.3
    kill -0 "$AIO_ECHO_PID" 2>/dev/null || { echo "exited with a client still connected"; exec 3>&-; return 1; }
    if (exec 4<>"/dev/tcp/127.0.0.1/$AIO_ECHO_PORT") 2>/dev/null; then
        echo "accepted a new connection during shutdown"; exec 3>&-; aio_stop_echo; return 1
    fi
    printf 'during\n' >&3
    read -r -t 5 line <&3
    [ "$line" = during ] || { echo "echo during shutdown: $line"; exec 3>&-; aio_stop_echo; return 1; }
    exec 3>&-
    for i in $(seq 1 60); do kill -0 "$AIO_ECHO_PID" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$AIO_ECHO_PID" 2>/dev/null && { echo "still running after the last client left"; aio_stop_echo; return 1; }
    wait "$AIO_ECHO_PID"
}

aio_check_echo_load() {
    local bin=$1 conns=$2 bytes=$3
    aio_start_echo "$bin" || return 1
    "$AIO_DIR/aio_load" 127.0.0.1 "$AIO_ECHO_PORT" "$conns" "$bytes" >"$AIO_DIR/load.out" 2>&1
    local rc=$?
    cat "$AIO_DIR/load.out"
    aio_stop_echo || return 1
    [ $rc -eq 0 ] && grep -q '^aio_load: 1 passed, 0 failed$' "$AIO_DIR/load.out"
}

aio_check_echo_valgrind() {
    t_have valgrind || return 0
    : >"$AIO_DIR/echo.out"
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
        $AIO_DIR/echo_server 0 >"$AIO_DIR/echo.out" 2>"$AIO_DIR/echo_vg.err" &
    AIO_ECHO_PID=$!
    aio_wait_line "$AIO_DIR/echo.out" '^listening on [0-9]' || { kill "$AIO_ECHO_PID"; return 1; }
    AIO_ECHO_PORT=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$AIO_DIR/echo.out")
    "$AIO_DIR/aio_load" 127.0.0.1 "$AIO_ECHO_PORT" 50 20000 || { kill "$AIO_ECHO_PID"; return 1; }
    kill -TERM "$AIO_ECHO_PID"
    wait "$AIO_ECHO_PID" || { cat "$AIO_DIR/echo_vg.err"; return 1; }
}

# nginx on a loopback port: a static file (Content-Length) and the same file
# through sub_filter, which drops the length and makes nginx answer chunked.
aio_start_nginx() {
    local d=$PWD/$AIO_DIR/nginx
    rm -rf "$d"
    mkdir -p "$d/www/chunked" "$d/tmp"
    head -c 1048573 /dev/urandom >"$d/www/file.bin"
    cp "$d/www/file.bin" "$d/www/chunked/file.bin"
    seq 1 20000 >"$d/www/chunked/numbers.txt"
    local attempt
    for attempt in 1 2 3; do   # another program may take the free port first
    AIO_NGINX_PORT=$(aio_free_port)
    cat >"$d/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 64; }
http {
access_log off;
client_body_temp_path $d/tmp/body;
proxy_temp_path $d/tmp/proxy;
fastcgi_temp_path $d/tmp/fastcgi;
uwsgi_temp_path $d/tmp/uwsgi;
scgi_temp_path $d/tmp/scgi;
types { application/octet-stream bin; text/plain txt; }
gzip off;
server {
    listen 127.0.0.1:$AIO_NGINX_PORT;
    root $d/www;
    location /chunked/ {
        sub_filter_types *;
        sub_filter 'no such text appears' 'x';
    }
}
}
EOF
    nginx -p "$d" -c "$d/nginx.conf" >"$d/stdout" 2>&1 &
    AIO_NGINX_PID=$!
    local i
    for i in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$AIO_NGINX_PORT/file.bin" && return 0
        kill -0 "$AIO_NGINX_PID" 2>/dev/null || break   # it gave up (port taken): next port
        sleep 0.05
    done
    aio_stop_nginx
    done
    cat "$d/error.log" "$d/stdout" 2>/dev/null | tail -n 5
    return 1
}

aio_stop_nginx() {
    kill -QUIT "$AIO_NGINX_PID" 2>/dev/null
    wait "$AIO_NGINX_PID" 2>/dev/null
    return 0
}

aio_check_http_get_nginx() {
    local d=$AIO_DIR/nginx rc=0
    aio_start_nginx || { aio_stop_nginx; return 1; }
    # Content-Length
    $AIO_DIR/http_get 127.0.0.1 "$AIO_NGINX_PORT" /file.bin >"$d/got.bin" 2>"$d/status.txt" || rc=1
    cmp "$d/www/file.bin" "$d/got.bin" || rc=1
    grep -q '^HTTP/1.1 200 OK$' "$d/status.txt" || rc=1
    # chunked: make sure nginx really chunked it, then compare bytes
    curl -s -D "$d/headers.txt" -o /dev/null "http://127.0.0.1:$AIO_NGINX_PORT/chunked/file.bin"
    grep -qi '^transfer-encoding: chunked' "$d/headers.txt" || { echo "nginx did not chunk"; rc=1; }
    $AIO_DIR/http_get 127.0.0.1 "$AIO_NGINX_PORT" /chunked/file.bin >"$d/got_chunked.bin" 2>/dev/null || rc=1
    cmp "$d/www/chunked/file.bin" "$d/got_chunked.bin" || rc=1
    $AIO_DIR/http_get localhost "$AIO_NGINX_PORT" /chunked/numbers.txt >"$d/got_numbers.txt" 2>/dev/null || rc=1
    cmp "$d/www/chunked/numbers.txt" "$d/got_numbers.txt" || rc=1
    # the same bytes as curl fetches
    curl -s "http://127.0.0.1:$AIO_NGINX_PORT/chunked/numbers.txt" | cmp - "$d/got_numbers.txt" || rc=1
    # a missing file: status 404 on stderr, exit status 2
    $AIO_DIR/http_get 127.0.0.1 "$AIO_NGINX_PORT" /missing >/dev/null 2>"$d/status404.txt"
    [ $? -eq 2 ] || rc=1
    grep -q '^HTTP/1.1 404' "$d/status404.txt" || rc=1
    aio_stop_nginx
    return $rc
}

# aio_start_socat_http SCRIPT: serves each connection on 127.0.0.1 with the
# shell SCRIPT (socat); sets AIO_SOCAT_PID and AIO_SOCAT_PORT.
aio_start_socat_http() {
    local script=$1 up=0 attempt port
    port=$(aio_free_port)
    for attempt in 1 2 3; do
        socat -T 10 "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" "EXEC:$script" >"$AIO_DIR/socat.err" 2>&1 &
        AIO_SOCAT_PID=$!
        for _ in $(seq 1 200); do
            if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then up=1; break; fi
            kill -0 "$AIO_SOCAT_PID" 2>/dev/null || break
            sleep 0.05
        done
        [ $up -eq 1 ] && break
        kill "$AIO_SOCAT_PID" 2>/dev/null; wait "$AIO_SOCAT_PID" 2>/dev/null
        cat "$AIO_DIR/socat.err"
        port=$(aio_free_port)
    done
    AIO_SOCAT_PORT=$port
    [ $up -eq 1 ]
}

aio_stop_socat_http() {
    kill "$AIO_SOCAT_PID" 2>/dev/null
    wait "$AIO_SOCAT_PID" 2>/dev/null
    return 0
}

# A hostile HTTP peer (socat): a header line that never ends.
aio_check_http_get_endless_header() {
    local rc
    printf '%s\n' '#!/bin/sh' \
        'printf "HTTP/1.1 200 OK\r\nX-Endless: "' \
        'head -c 10000000 /dev/zero | tr "\\000" a' >"$AIO_DIR/endless.sh"
    chmod +x "$AIO_DIR/endless.sh"
    aio_start_socat_http "$AIO_DIR/endless.sh" || { aio_stop_socat_http; return 1; }
    $AIO_DIR/http_get 127.0.0.1 "$AIO_SOCAT_PORT" / >/dev/null 2>"$AIO_DIR/endless.err"
    rc=$?
    aio_stop_socat_http
    cat "$AIO_DIR/endless.err"
    [ $rc -eq 1 ] && grep -q 'no delimiter within the maximum length' "$AIO_DIR/endless.err"
}

# A hostile HTTP peer that sends a header line every 0.2 s, for ever: each
# read completes in time, but the whole response has a deadline
# (--max-time 1), so http_get gives up after about a second.
aio_check_http_get_trickled_headers() {
    local rc t0 took
    printf '%s\n' '#!/bin/sh' \
        'printf "HTTP/1.1 200 OK\r\n"' \
        'while printf "X-Slow: 1\r\n"; do sleep 0.2; done' >"$AIO_DIR/trickle.sh"
    chmod +x "$AIO_DIR/trickle.sh"
    aio_start_socat_http "$AIO_DIR/trickle.sh" || { aio_stop_socat_http; return 1; }
    t0=$(date +%s%N)
    timeout 20 $AIO_DIR/http_get --max-time 1 127.0.0.1 "$AIO_SOCAT_PORT" / >/dev/null 2>"$AIO_DIR/trickle.err"
    rc=$?
    took=$((($(date +%s%N) - t0) / 1000000))
    aio_stop_socat_http
    cat "$AIO_DIR/trickle.err"
    echo "exit $rc after $took ms"
    [ $rc -eq 1 ] && [ "$took" -ge 900 ] && [ "$took" -lt 3000 ] &&
        grep -q '^http_get: header: Connection timed out$' "$AIO_DIR/trickle.err"
}

# serial_cat on one end of a socat pseudo-terminal pair.
aio_check_serial_cat_pty() {
    local d=$PWD/$AIO_DIR/pty rc=0
    rm -rf "$d"
    mkdir -p "$d"
    socat "pty,raw,echo=0,link=$d/ttyA" "pty,raw,echo=0,link=$d/ttyB" 2>/dev/null &
    local spid=$!
    for _ in $(seq 1 100); do [ -e "$d/ttyA" ] && [ -e "$d/ttyB" ] && break; sleep 0.05; done
    mkfifo "$d/in"
    $AIO_DIR/serial_cat "$d/ttyA" 115200 <"$d/in" >"$d/out" 2>"$d/err" &
    local cpid=$!
    exec 7>"$d/in"
    # port -> stdout, with bytes a cooked terminal would have changed
    printf 'to stdout\r\n\003\177end\n' >"$d/ttyB"
    # stdin -> port
    exec 8<"$d/ttyB"
    printf 'to the port\n' >&7
    local got
    got=$(timeout 5 head -c 12 <&8)
    [ "$got" = "to the port" ] || { echo "port got: $got"; rc=1; }
    for _ in $(seq 1 100); do [ "$(wc -c <"$d/out")" -ge 17 ] && break; sleep 0.05; done
    printf 'to stdout\r\n\003\177end\n' | cmp - "$d/out" || rc=1
    stty -F "$d/ttyA" -a 2>/dev/null | grep -q 'speed 115200' || { echo "baud not set"; rc=1; }
    exec 7>&- 8<&-
    kill -TERM "$cpid" 2>/dev/null
    wait "$cpid" || { echo "serial_cat exit $?"; cat "$d/err"; rc=1; }
    kill "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    return $rc
}

# ---- many concurrent connections, numbered and checksummed round trips ----
# (issue 6: 10,000 connections open at once, a million round trips; the
# client is tests/aio_roundtrips.c, the server examples/echo_server.c as its
# own process, both with RLIMIT_NOFILE raised for that many sockets.)

# aio_nofile NEED: raises this shell's fd limit (inherited by what it
# starts) to NEED: soft up to hard, and the hard limit too where allowed.
# Sets AIO_NOFILE to the limit that holds afterwards.
aio_nofile() {
    local need=$1 hard
    hard=$(ulimit -Hn)
    if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
        ulimit -Hn "$need" 2>/dev/null ||
            echo "note: the fd hard limit is $hard and cannot be raised to $need" >&2
    fi
    hard=$(ulimit -Hn)
    if [ "$hard" = unlimited ] || [ "$hard" -ge "$need" ]; then ulimit -Sn "$need"; else ulimit -Sn "$hard"; fi
    AIO_NOFILE=$(ulimit -Sn)
}

aio_build_roundtrips() {
    [ "$AIO_DIR/aio_roundtrips" -nt tests/aio_roundtrips.c ] && [ "$AIO_DIR/echo_faulty" -nt examples/echo_server.c ] &&
        [ "$AIO_DIR/echo_faulty" -nt tests/aio_echo_faulty.c ] && [ "$AIO_DIR/aio_roundtrips" -nt aio_stream.h ] &&
        [ "$AIO_DIR/aio_roundtrips_asan" -nt aio_stream.h ] && return 0
    $CC $aio_ex_flags -O2 -o "$AIO_DIR/aio_roundtrips" tests/aio_roundtrips.c -lpthread || return 1
    ${CLANG:-clang} -fsanitize=address,undefined -fno-sanitize-recover=all -O1 -g -I. \
        -o "$AIO_DIR/aio_roundtrips_asan" tests/aio_roundtrips.c -lpthread || return 1
    $CC $aio_ex_flags -o "$AIO_DIR/echo_faulty" tests/aio_echo_faulty.c || return 1
}

# aio_check_echo_roundtrips SERVER CLIENT CONNS ROUNDTRIPS [CLIENT OPTIONS...]
# SERVER and CLIENT: binaries (plain, asan: built above).  When the fd limit
# cannot hold CONNS, fewer connections run and a "REDUCED:" line says so.
aio_check_echo_roundtrips() {
    local server=$1 client=$2 conns=$3 rts=$4 limit rc
    shift 4
    aio_build_roundtrips || return 1
    case "$server" in echo_server) server=$AIO_DIR/echo_server ;; asan) server=$AIO_DIR/echo_server_asan ;; esac
    case "$client" in plain) client=$AIO_DIR/aio_roundtrips ;; asan) client=$AIO_DIR/aio_roundtrips_asan ;; esac
    [ -x "$server" ] || $CC $aio_ex_flags -o $AIO_DIR/echo_server examples/echo_server.c -lpthread || return 1
    aio_nofile $((conns + 64))
    limit=$AIO_NOFILE
    if [ "$limit" -lt $((conns + 64)) ]; then
        echo "REDUCED: the fd limit ($limit) allows $((limit - 64)) connections per process, not $conns"
        conns=$((limit - 64))
    fi
    aio_start_echo "$server" || return 1
    "$client" 127.0.0.1 "$AIO_ECHO_PORT" "$conns" "$rts" --server-pid "$AIO_ECHO_PID" "$@" \
        >"$AIO_DIR/roundtrips.out" 2>&1
    rc=$?
    cat "$AIO_DIR/roundtrips.out"
    aio_stop_echo || { echo "echo server exit status $?"; cat "$AIO_DIR/echo.err"; return 1; }
    [ $rc -eq 0 ] && grep -q '^aio_roundtrips: 1 passed, 0 failed$' "$AIO_DIR/roundtrips.out"
}

# aio_check_roundtrips_catch FAULT COUNTER: against an echo server that
# damages one send on purpose (tests/aio_echo_faulty.c), the client must
# fail and count the damage under COUNTER (lost, duplicated, reordered).
aio_check_roundtrips_catch() {
    local fault=$1 counter=$2 rc
    aio_build_roundtrips || return 1
    aio_nofile 2100
    ECHO_FAULT=$fault ECHO_FAULT_AFTER=200000 aio_start_echo "$AIO_DIR/echo_faulty" || return 1
    "$AIO_DIR/aio_roundtrips" 127.0.0.1 "$AIO_ECHO_PORT" 2000 100000 >"$AIO_DIR/roundtrips_$fault.out" 2>&1
    rc=$?
    cat "$AIO_DIR/roundtrips_$fault.out"
    aio_stop_echo
    [ $rc -ne 0 ] && grep -Eq "(^|, )$counter [1-9]" "$AIO_DIR/roundtrips_$fault.out" &&
        grep -q '^aio_roundtrips: 0 passed, 1 failed$' "$AIO_DIR/roundtrips_$fault.out"
}

"$@"
