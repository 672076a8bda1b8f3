# tests/parts/aio_stream.sh - aio_stream.h: unit suites in every build variant,
# then the examples against real peers (nginx, socat, curl, our own load
# client, pseudo-terminals).  Sourced by tests/run.sh.
#
# AIO_LOAD_CONNS (default 1000) and AIO_LOAD_BYTES (default 65536) size the
# load run against build/echo_server.

t_unit aio_stream tests/aio_stream_test.c -lpthread
t_unit aio_hostile tests/aio_hostile.c -lpthread
if [ -f tests/aio_sched.c ] && grep -q schd_source_add sched.h 2>/dev/null; then
    # -fno-sanitize=pointer-overflow: until schd_loop_prepare stops adding an
    # offset to a NULL fds pointer (cap 0 on its first call)
    t_unit aio_sched tests/aio_sched.c -lpthread -fno-sanitize=pointer-overflow
fi

# The examples and real peers run natively only.
if [ -z "$CROSS" ]; then
    aio_peers="env CC=$CC T_QUICK=$T_QUICK bash tests/aio_peers.sh"
    if t_check "aio examples build" $aio_peers aio_check_examples_build; then
        t_check "aio echo_server with socat" $aio_peers aio_check_echo_socat
        t_check "aio echo_server with tcp_client" $aio_peers aio_check_echo_tcp_client
        t_check "aio echo_server SIGTERM exits 0" $aio_peers aio_check_echo_sigterm_exits_zero
        t_check "aio echo_server load ${AIO_LOAD_CONNS:-1000} conns" \
            $aio_peers aio_check_echo_load build/echo_server "${AIO_LOAD_CONNS:-1000}" "${AIO_LOAD_BYTES:-65536}"
        t_check "aio echo_server asan load" \
            $aio_peers aio_check_echo_load build/aio_peers/echo_server_asan "${AIO_LOAD_CONNS:-1000}" 16384
        [ -n "$T_QUICK" ] || t_check "aio echo_server under valgrind" $aio_peers aio_check_echo_valgrind
        if t_have nginx && t_have curl; then
            t_check "aio http_get with nginx" $aio_peers aio_check_http_get_nginx
        else
            t_fail_line "[aio] nginx or curl missing"
        fi
        t_check "aio http_get endless header" $aio_peers aio_check_http_get_endless_header
        t_check "aio serial_cat on a pty pair" $aio_peers aio_check_serial_cat_pty
    fi
fi
