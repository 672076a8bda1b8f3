# tests/parts/aio_stream.sh - aio_stream.h: unit suites in every build variant,
# then the examples against real peers (nginx, socat, curl, our own load
# client, pseudo-terminals).  Sourced by tests/run.sh.
#
# AIO_LOAD_CONNS (default 1000) and AIO_LOAD_BYTES (default 65536) size the
# load run against the examples built into build/aio_peers; AIO_RT_CONNS (10000) and AIO_RT_COUNT
# (1000000) the round-trip run.

t_unit aio_stream tests/aio_stream_test.c -lpthread
t_unit aio_hostile tests/aio_hostile.c -lpthread
# AIOS_NO_RESOLVER: numeric addresses only, host names refused; no -lpthread
t_unit aio_noresolver tests/aio_noresolver.c
t_unit aio_regress tests/aio_regress.c -lpthread
# the fault sweep: each hooked call of four scenarios fails in turn (tests/aio_fault.c)
t_unit aio_fault tests/aio_fault.c -lpthread
# the resolver threads (aio_stream.h's only other threads): many at once,
# abandoned mid-resolution, a dead resolver; also under ThreadSanitizer
# with the suites that resolve names
t_unit aio_threads tests/aio_threads.c -lpthread
if [ -z "$CROSS" ] && [ -z "$T_QUICK" ] && t_with aio "the ThreadSanitizer builds of aio_threads, aio_stream_test, aio_regress" "$CLANG=clang"; then
    for aio_tsan in aio_threads aio_stream_test aio_regress; do
        t_selected "$aio_tsan" || continue
        if $CLANG -std=c99 -O1 -g -fsanitize=thread -I. -o "$T_OUT/${aio_tsan}_tsan" "tests/$aio_tsan.c" -lpthread \
                >"$T_OUT/${aio_tsan}_tsan.build.log" 2>&1; then
            TSAN_OPTIONS=halt_on_error=1 t_suite "$aio_tsan tsan" "$T_OUT/${aio_tsan}_tsan"
        else
            t_fail_line "[$aio_tsan tsan] does not build: $(head -n 3 "$T_OUT/${aio_tsan}_tsan.build.log")"
        fi
    done
fi
if [ -f tests/aio_sched.c ] && grep -q schd_source_add sched.h 2>/dev/null; then
    t_unit aio_sched tests/aio_sched.c -lpthread
    # tasks await every operation; the bridge compiled by either header
    t_unit aio_await tests/aio_await.c -lpthread
    t_unit aio_await_aiofirst tests/aio_await_aiofirst.c -lpthread
fi
# datagrams: UDP over IPv4, IPv6 and dual stack, Unix datagram sockets,
# truncation, batches, the per-iteration bound, the send queue's bound,
# broadcast and IPv4 multicast on lo; then tasks awaiting them, and the
# pace of a timer and a TCP echo while a flood of datagrams comes in
t_unit aio_dgram tests/aio_dgram.c -lpthread
if [ -f tests/aio_sched.c ] && grep -q schd_source_add sched.h 2>/dev/null; then
    t_unit aio_dgram_await tests/aio_dgram_await.c -lpthread
    t_unit aio_dgram_await_aiofirst tests/aio_dgram_await_aiofirst.c -lpthread
    t_unit aio_dgram_flood tests/aio_dgram_flood.c -lpthread
fi
# multicast, in the native builds (qemu-user does not pass IP_MULTICAST_IF
# and IPV6_MULTICAST_IF on); IPv6 groups, loopback off, the TTL on the
# wire and the discovery queries inside a network namespace of the test's
# own with a veth pair (tests/dgram_netns.sh), where that is permitted
aio_mc_ns=
aio_mc_why="needs unshare -n and a veth pair (root, or CAP_SYS_ADMIN and CAP_NET_ADMIN; packages util-linux and iproute2)"
[ -z "$CROSS" ] && t_have unshare && t_have ip && bash tests/dgram_netns.sh --can && aio_mc_ns="unshare -n bash tests/dgram_netns.sh"
if [ -z "$CROSS" ] && t_selected aio_dgram_mcast; then
    [ -n "$aio_mc_ns" ] || t_skip aio "aio_dgram_mcast inside a network namespace (IPv6 groups over veth, loopback off, TTL and hop limit on the wire, SSDP and mDNS-style queries)" "$aio_mc_why"
    while IFS= read -r aio_mc_line; do
        aio_mc_v=${aio_mc_line%% *}; aio_mc_line=${aio_mc_line#* }
        case "$aio_mc_v" in aarch64|armhf|cross) continue ;; esac
        aio_mc_cc=${aio_mc_line%%|*}; aio_mc_line=${aio_mc_line#*|}
        aio_mc_flags=${aio_mc_line%%|*}; aio_mc_run=${aio_mc_line#*|}
        [ "$aio_mc_run" = - ] && aio_mc_run=
        aio_mc_exe="$T_OUT/aio_dgram_mcast_$(echo "$aio_mc_v" | tr '+' '_')"
        if $aio_mc_cc $aio_mc_flags $CFLAGS -I. -o "$aio_mc_exe" tests/aio_dgram_mcast.c -lpthread >"$aio_mc_exe.build.log" 2>&1; then
            # shellcheck disable=SC2086
            t_suite "aio_dgram_mcast $aio_mc_v" $aio_mc_ns $aio_mc_run "$aio_mc_exe"
        else
            t_fail_line "[aio_dgram_mcast $aio_mc_v] does not build:"
            head -n 12 "$aio_mc_exe.build.log" | sed 's/^/    /'
        fi
    done < <(t_variants)
fi

# The examples and real peers run natively only.
if [ -z "$CROSS" ]; then
    # AIOS_NO_THREADS: names resolve inside dispatch; no thread, no -lpthread
    if $CC -O2 -g -DAIOS_NO_THREADS -I. -o "$T_OUT/aio_stream_nothreads" tests/aio_stream_test.c \
        >"$T_OUT/aio_stream_nothreads.build.log" 2>&1; then
        t_suite "aio_stream AIOS_NO_THREADS" "$T_OUT/aio_stream_nothreads"
    else
        t_fail_line "[aio_stream AIOS_NO_THREADS] does not build:"
        head -n 12 "$T_OUT/aio_stream_nothreads.build.log" | sed 's/^/    /'
    fi
    aio_peers="env CC=$CC T_QUICK=$T_QUICK bash tests/aio_peers.sh"
    if t_check "aio examples build" $aio_peers aio_check_examples_build; then
        t_with aio "aio echo_server with socat" socat=socat &&
            t_check "aio echo_server with socat" $aio_peers aio_check_echo_socat
        t_check "aio echo_server with tcp_client" $aio_peers aio_check_echo_tcp_client
        t_check "aio echo_server SIGTERM exits 0" $aio_peers aio_check_echo_sigterm_exits_zero
        t_check "aio examples reject bad arguments: usage line, exit 2" $aio_peers aio_check_examples_usage
        t_check "aio echo_server at 1024 descriptors serves a new client while 2000 peers trickle" \
            $aio_peers aio_check_echo_lockout
        t_check "aio echo_server SIGTERM with a client: graceful" $aio_peers aio_check_echo_signal_graceful TERM
        t_check "aio echo_server SIGINT with a client: graceful" $aio_peers aio_check_echo_signal_graceful INT
        t_check "aio echo_server load ${AIO_LOAD_CONNS:-1000} conns" \
            $aio_peers aio_check_echo_load build/aio_peers/echo_server "${AIO_LOAD_CONNS:-1000}" "${AIO_LOAD_BYTES:-65536}"
        t_check "aio echo_server asan load" \
            $aio_peers aio_check_echo_load build/aio_peers/echo_server_asan "${AIO_LOAD_CONNS:-1000}" 16384
        [ -n "$T_QUICK" ] || ! t_with aio "aio echo_server under valgrind" valgrind=valgrind ||
            t_check "aio echo_server under valgrind" $aio_peers aio_check_echo_valgrind
        # issue 6: 10,000 connections open at once, a million checksummed
        # round trips (AIO_RT_CONNS, AIO_RT_COUNT), then the same client
        # with ASan on both sides and fewer round trips; and the client must
        # catch a server that loses, duplicates or reorders one byte.
        t_check "aio echo_server ${AIO_RT_CONNS:-10000} conns ${AIO_RT_COUNT:-1000000} round trips" \
            $aio_peers aio_check_echo_roundtrips echo_server plain "${AIO_RT_CONNS:-10000}" "${AIO_RT_COUNT:-1000000}"
        t_check "aio echo_server asan ${AIO_RT_CONNS:-10000} conns 100000 round trips" \
            $aio_peers aio_check_echo_roundtrips asan asan "${AIO_RT_CONNS:-10000}" 100000
        for aio_rt_log in "$T_OUT"/check_aio_echo_server_*round_trips.log; do
            [ -e "$aio_rt_log" ] && grep -h '^REDUCED:' "$aio_rt_log" | sed 's/^/NOTE [aio round trips] /'
        done
        t_check "aio round trips catch a lost byte" $aio_peers aio_check_roundtrips_catch drop lost
        t_check "aio round trips catch a duplicated byte" $aio_peers aio_check_roundtrips_catch dup duplicated
        t_check "aio round trips catch a reordered byte" $aio_peers aio_check_roundtrips_catch delay reordered
        t_with aio "aio http_get with nginx" nginx=nginx-light curl=curl &&
            t_check "aio http_get with nginx" $aio_peers aio_check_http_get_nginx
        t_check "aio http_get endless header" $aio_peers aio_check_http_get_endless_header
        t_check "aio http_get trickled headers: one deadline for the response" \
            $aio_peers aio_check_http_get_trickled_headers
        t_check "aio serial_cat on a pty pair" $aio_peers aio_check_serial_cat_pty
    fi
    # examples/udp_echo.c against socat and Python (tests/dgram_peers.sh)
    dgram_peers="env CC=$CC bash tests/dgram_peers.sh"
    if t_check "udp_echo builds with the command of its comment" $dgram_peers dp_check_build; then
        t_with aio "udp_echo with socat over IPv4 and IPv6" socat=socat &&
            t_check "udp_echo with socat over IPv4 and IPv6" $dgram_peers dp_check_socat
        if t_with aio "udp_echo with a Python sender" python3=python3; then
            t_check "udp_echo with a Python sender: every size whole, longer ones named and not echoed" $dgram_peers dp_check_python
            t_check "udp_echo with a Python sender: bursts of 50 back whole" $dgram_peers dp_check_python_burst
        fi
        t_check "udp_echo rejects bad arguments: usage line, exit 2" $dgram_peers dp_check_usage
        if [ -z "$aio_mc_ns" ]; then
            t_selected udp_echo && t_skip aio "udp_echo answers SSDP and mDNS-style groups in a namespace" "$aio_mc_why"
        elif t_with aio "udp_echo answers SSDP and mDNS-style groups in a namespace" python3=python3; then
            t_check "udp_echo answers SSDP and mDNS-style groups in a namespace" $dgram_peers dp_check_multicast
        fi
    fi
fi

# A GPS on a serial port: examples/nmea.h alone, then behind a serial port
# on a pseudo-terminal that the test plays as the module (good streams, bad
# checksums, noise, sentences cut at every byte, over-long lines, silence,
# a hang-up: tests/gps_test.c); then examples/gps_logger.c as a user runs
# it, against tools/gpssim.c, a module simulated on a pseudo-terminal
# (tests/gps_examples.sh).
t_unit gps tests/gps_test.c -lpthread
if [ -z "$CROSS" ]; then
    gps_ex="env CC=$CC CLANG=$CLANG bash tests/gps_examples.sh"
    if t_check "gps logger and simulator build, also with the commands of their comments" $gps_ex gps_check_build; then
        t_check "gps logger and simulator reject bad arguments: usage line, exit 2" $gps_ex gps_check_usage
        t_check "gps logger: a missing device, no terminal, a rate the port lacks: exit 1" $gps_ex gps_check_bad_device
        t_check "gps logger prints one line per fix, every value exact" $gps_ex gps_check_fixes
        t_check "gps logger skips noise, bad checksums, long lines, names each escaped" $gps_ex gps_check_noise
        t_have "$CLANG" && t_check "gps logger with ASan+UBSan through the noise" $gps_ex gps_check_noise_asan
        [ -n "$T_QUICK" ] || ! t_with aio "gps logger under valgrind" valgrind=valgrind ||
            t_check "gps logger under valgrind" $gps_ex gps_check_fixes_valgrind
        t_check "gps logger says when the module falls silent and when it talks again" $gps_ex gps_check_silence
        t_check "gps logger exits 1 when the module hangs up" $gps_ex gps_check_hangup
        t_check "gps logger --duration: exit 0 with data, 1 without" $gps_ex gps_check_duration
        t_check "gps logger checks catch a wrong longitude and a raw control byte" $gps_ex gps_check_mutants
    fi
fi
