#!/usr/bin/env bash
# tests/dgram_netns.sh - runs a command inside a network namespace of its
# own with a veth pair, for the multicast tests that the loopback interface
# cannot carry (IPv6 multicast does not flow on lo).
#
#   unshare -n bash tests/dgram_netns.sh COMMAND ARGS...
#
# Inside: lo up; v0 (10.9.0.1/24) and v1 (10.9.0.2/24) joined as a veth
# pair, both up, with IPv6 link-local addresses usable at once (no
# duplicate address detection); since both ends belong to this one
# namespace, packets from a local source are accepted where they arrive.
# The command runs with AIO_NETNS="v0 v1".  Exit status: the command's, or
# 3 when the namespace could not be set up.
#
#   bash tests/dgram_netns.sh --can   exit 0 when unshare -n and veth work here
set -u
if [ "${1:-}" = --can ]; then
    unshare -n sh -c 'ip link add v0 type veth peer name v1' >/dev/null 2>&1
    exit $?
fi
setup() {
    local i
    echo 0 >/proc/sys/net/ipv6/conf/default/accept_dad &&
    echo 0 >/proc/sys/net/ipv6/conf/all/accept_dad &&
    ip link set lo up &&
    ip link add v0 type veth peer name v1 &&
    ip addr add 10.9.0.1/24 dev v0 &&
    ip addr add 10.9.0.2/24 dev v1 || return 1
    for i in all default v0 v1; do
        echo 1 >"/proc/sys/net/ipv4/conf/$i/accept_local" &&
        echo 0 >"/proc/sys/net/ipv4/conf/$i/rp_filter" || return 1
    done
    ip link set v0 up && ip link set v1 up
}
setup || { echo "dgram_netns: could not set up the namespace" >&2; exit 3; }
AIO_NETNS="v0 v1" exec "$@"
