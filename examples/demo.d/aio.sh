# examples/demo.d/aio.sh - aio_stream.h in the demo (sourced by
# examples/demo.sh): echo_server on a free loopback port, one round trip
# with tcp_client, then a clean stop of the server.

demo_aio() {
    local dir log pid port="" i got rc msg="hello, asynckit"
    dir=$(mktemp -d) || return 1
    log=$dir/echo_server.out
    say "echo_server 0 and tcp_client: a round trip over TCP on 127.0.0.1"
    build/echo_server 0 >"$log" 2>"$dir/echo_server.err" &
    pid=$!
    for i in $(seq 50); do                       # "listening on PORT" within 5 s
        port=$(sed -n 's/^listening on \([0-9][0-9]*\)$/\1/p' "$log")
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        echo "echo_server did not start:"; cat "$dir/echo_server.err"
        kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"
        return 1
    fi
    echo "echo_server: listening on $port (port 0 asked for a free one)"
    echo "tcp_client sends:    $msg"
    got=$(printf '%s\n' "$msg" | timeout 10 build/tcp_client 127.0.0.1 "$port")
    rc=$?
    echo "tcp_client receives: $got"
    kill -TERM "$pid"
    wait "$pid"
    i=$?
    echo "echo_server: SIGTERM, graceful shutdown, exit status $i"
    rm -rf "$dir"
    [ "$rc" -eq 0 ] && [ "$got" = "$msg" ] && [ "$i" -eq 0 ]
}

demo_aio || return 1
