#!/usr/bin/env bash
# tests/dgram_peers.sh - examples/udp_echo.c against real peers: socat over
# IPv4 and IPv6, a Python sender (every size from empty to the limit, one
# beyond it, every byte compared), its signals, its command line, and a
# multicast group answered inside a network namespace of its own.
# Run from the repository root: bash tests/dgram_peers.sh CHECK; exit
# status 0 when the check passes.  tests/parts/aio_stream.sh runs each one
# through t_check.
set -u
cd "$(dirname "$0")/.." || exit 2
: "${CC:=gcc}"
D=build/dgram_peers
mkdir -p "$D"
UE=$D/udp_echo

# The example, built with the command of its top comment (into $D).
dp_build() {
    local cmd
    cmd=$(grep -m1 '^ \*   cc ' examples/udp_echo.c | sed 's/^ \*   //; s| -o build/| -o '"$D"'/|')
    eval "$cmd"
}

# dp_start [ARGS...]: udp_echo ARGS 0 in the background; sets PID and PORT.
dp_start() {
    local i
    : >"$D/out"
    "$UE" "$@" 0 >"$D/out" 2>"$D/err" &
    PID=$!
    for i in $(seq 1 100); do
        PORT=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$D/out")
        [ -n "$PORT" ] && return 0
        sleep 0.05
    done
    kill "$PID"; wait "$PID"
    echo "udp_echo did not start"; cat "$D/err"
    return 1
}

# dp_stop SIG N: SIG ends it with status 0 after "echoed N datagrams".
dp_stop() {
    kill "-$1" "$PID"
    wait "$PID" || { echo "exit $? after SIG$1"; cat "$D/out" "$D/err"; return 1; }
    tail -n 1 "$D/out" | grep -qx "echoed $2 datagrams" || { echo "closing line:"; cat "$D/out"; return 1; }
}

dp_check_build() { dp_build; }

dp_check_socat() {
    local got
    dp_start || return 1
    got=$(printf 'over ipv4' | socat -t 1 - "UDP4:127.0.0.1:$PORT")
    [ "$got" = "over ipv4" ] || { echo "ipv4: [$got]"; dp_stop TERM 1; return 1; }
    if ! socat -T 1 - "UDP6:[::1]:$PORT" </dev/null >/dev/null 2>&1; then
        dp_stop TERM 1
        return
    fi
    got=$(printf 'over ipv6' | socat -t 1 - "UDP6:[::1]:$PORT")
    [ "$got" = "over ipv6" ] || { echo "ipv6: [$got]"; dp_stop TERM 2; return 1; }
    dp_stop TERM 2
}

# Every size from 0 to 2048 bytes comes back whole, random bytes compared;
# 2049 and 3000 bytes come back not at all, each named on stderr.
dp_check_python() {
    dp_start || return 1
    python3 - "$PORT" <<'EOF' || { dp_stop TERM 0; return 1; }
import os, socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
sizes = list(range(0, 2049, 7)) + [2048]
for n in sizes:
    data = os.urandom(n)
    s.sendto(data, ("127.0.0.1", port))
    back, frm = s.recvfrom(4096)
    if back != data or frm[1] != port:
        sys.exit("size %d: %d bytes back from %r" % (n, len(back), frm))
for n in (2049, 3000):
    s.sendto(b"x" * n, ("127.0.0.1", port))
s.settimeout(0.3)
try:
    back = s.recv(4096)
    sys.exit("a datagram of %d bytes came back" % len(back))
except socket.timeout:
    pass
print("%d sizes echoed whole" % len(sizes))
EOF
    dp_stop INT "$(python3 -c 'print(len(range(0, 2049, 7)) + 1)')" || return 1
    grep -q '^udp_echo: 2049-byte datagram from 127\.0\.0\.1:[0-9]* cut, not echoed$' "$D/err" &&
    grep -q '^udp_echo: 3000-byte datagram from 127\.0\.0\.1:[0-9]* cut, not echoed$' "$D/err"
}

# Bursts from Python: 20 bursts of 50 datagrams sent at once (more than
# one receive batch, fewer than the socket buffers hold), each burst back
# whole before the next: every datagram once, unchanged.
dp_check_python_burst() {
    dp_start || return 1
    python3 - "$PORT" <<'EOF' || { dp_stop TERM 0; return 1; }
import socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
for burst in range(20):
    sent = [("%03d:%02d:" % (burst, i)).encode() * (i + 1) for i in range(50)]
    for d in sent:
        s.sendto(d, ("127.0.0.1", port))
    got = sorted(s.recv(4096) for _ in sent)
    if got != sorted(sent):
        sys.exit("burst %d: %d back, %d of them sent" % (burst, len(got), len(set(got) & set(sent))))
print("1000 datagrams in 20 bursts back whole")
EOF
    dp_stop TERM 1000
}

dp_check_usage() {
    local a out rc
    for a in "" x 70000 "--join" "--join 239.1.1.1" "--join 239.1.1.1 x" "1 2" "--leave 239.1.1.1 0"; do
        # shellcheck disable=SC2086
        out=$("$UE" $a 2>&1 >/dev/null </dev/null); rc=$?
        [ $rc -eq 2 ] && [ "$out" = "usage: udp_echo [--join GROUP] PORT" ] || { echo "[$a]: exit $rc, [$out]"; return 1; }
    done
    out=$("$UE" --join not-a-group 0 2>&1 >/dev/null); rc=$?
    [ $rc -eq 1 ] && [ "$out" = "udp_echo: join not-a-group: Invalid argument" ] || { echo "bad group: $rc [$out]"; return 1; }
}

# Inside tests/dgram_netns.sh's namespace: udp_echo joins an SSDP group
# on v1 and an mDNS-style IPv6 group; Python queries each group out of v0
# and gets the answer from the responder's port.
dp_check_multicast_inner() {
    "$UE" --join 239.255.255.250%v1 1900 >"$D/mc4.out" 2>"$D/mc4.err" &
    local p4=$!
    "$UE" --join ff02::fb%v1 5353 >"$D/mc6.out" 2>"$D/mc6.err" &
    local p6=$! rc=0
    sleep 0.3
    python3 - <<'EOF' || rc=1
import socket, struct, sys
v0 = socket.if_nametoindex("v0")
q = b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, struct.pack("4s4si", b"\0" * 4, b"\0" * 4, v0))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
s.settimeout(2)
s.sendto(q, ("239.255.255.250", 1900))
back, frm = s.recvfrom(2048)
if back != q or frm[1] != 1900: sys.exit("ssdp: %r from %r" % (back, frm))
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, v0)
s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
s6.settimeout(2)
s6.sendto(b"\0\0\0\0\0\1\0\0\0\0\0\0\5local\0\0\1\0\1", ("ff02::fb", 5353, 0, v0))
back, frm = s6.recvfrom(2048)
if frm[1] != 5353 or not back.endswith(b"local\0\0\1\0\1"): sys.exit("mdns: %r from %r" % (back, frm))
print("ssdp and mdns-style groups answered")
EOF
    kill -TERM "$p4" "$p6"
    wait "$p4" || rc=1
    wait "$p6" || rc=1
    grep -qx 'echoed 1 datagrams' "$D/mc4.out" && grep -qx 'echoed 1 datagrams' "$D/mc6.out" || { cat "$D"/mc*.out "$D"/mc*.err; rc=1; }
    return $rc
}

dp_check_multicast() {
    unshare -n bash tests/dgram_netns.sh bash tests/dgram_peers.sh dp_check_multicast_inner
}

check=${1:-}
shift || true
case $check in
    dp_check_*) "$check" "$@" ;;
    *) echo "usage: tests/dgram_peers.sh dp_check_NAME" >&2; exit 2 ;;
esac
