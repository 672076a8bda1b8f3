/* tests/aio_dgram_mcast.c - multicast through aio_stream.h's datagram
 * sockets.  IPv4 groups on the loopback interface, always; then, inside a
 * network namespace of the test's own with a veth pair (run through
 * tests/dgram_netns.sh, which sets AIO_NETNS="v0 v1"), what the loopback
 * interface cannot show: IPv6 groups, multicast loopback on and off, the
 * TTL and hop limit as a receiver sees them, and an SSDP and an mDNS-style
 * query answered.  Native builds only: qemu-user does not pass
 * IP_MULTICAST_IF or IPV6_MULTICAST_IF to the kernel. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "aio_common.h"

#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/uio.h>

static aios_ctx ctx;

typedef struct rec {
    int calls, status;
    aios_addr from;
    char data[2048];
} rec;

static void on_recv(aios_dgram *d, int status, void *ud)
{
    rec *r = (rec *)ud;
    r->calls++;
    r->status = status;
    r->from = *aios_recv_from(d);
    if (status >= 0 && (size_t)status < sizeof r->data) r->data[status] = 0;
}

static int spin(const int *flag, int want) { return t_spin(&ctx, flag, want); }

typedef struct sent_note { int calls, status; } sent_note;
static void on_sent_note(aios_dgram *d, int status, void *ud)
{
    sent_note *s = (sent_note *)ud;
    (void)d;
    s->calls++;
    s->status = status;
}

static void setup(void) { T_REQUIRE(aios_ctx_init(&ctx) == 0); }

static aios_dgram *udp_on(const char *host, int port, const aios_dgram_opts *o)
{
    aios_dgram *d = NULL;
    int r = aios_udp_open(&d, &ctx, host, port, o);
    if (r < 0) printf("aios_udp_open(%s, %d): %s\n", host ? host : "NULL", port, aios_strerror(r));
    return d;
}

static int have_ipv6(void)
{
    aios_addr a;
    int fd = socket(AF_INET6, SOCK_DGRAM, 0), ok;
    if (fd < 0) return 0;
    aios_addr_set(&a, "::1", 0);
    ok = bind(fd, aios_addr_sa(&a), a.len) == 0;
    close(fd);
    return ok;
}

/* IPv4 multicast flows on the loopback interface: joined, a member gets
 * the group's datagrams; after leaving, no more. */
static void test_ipv4_multicast_join_and_leave_on_loopback(void)
{
    aios_dgram_opts o;
    aios_dgram *m, *snd;
    aios_addr g;
    rec r;
    int port;
    memset(&r, 0, sizeof r);
    setup();
    aios_dgram_opts_init(&o);
    o.family = 4;
    o.reuseaddr = 1;
    T_REQUIRE((m = udp_on(NULL, 0, &o)) && (snd = udp_on("127.0.0.1", 0, NULL)));
    port = aios_dgram_port(m);
    T_EQ(aios_dgram_join(m, "239.255.77.1", "lo"), 0);
    T_EQ(aios_dgram_multicast_if(snd, "lo"), 0);
    T_EQ(aios_dgram_multicast_loop(snd, 1), 0);
    T_EQ(aios_dgram_multicast_ttl(snd, 1), 0);
    aios_addr_set(&g, "239.255.77.1", port);
    T_EQ(aios_recv(m, r.data, sizeof r.data, on_recv, &r), 0);
    T_EQ(aios_send(snd, "M-SEARCH", 8, &g, NULL, NULL), 0);
    T_CHECK(spin(&r.calls, 1));
    T_EQ(r.status, 8);
    T_EQ(aios_dgram_leave(m, "239.255.77.1", "lo"), 0);
    T_EQ(aios_dgram_leave(m, "239.255.77.1", "lo"), -EADDRNOTAVAIL);   /* not a member */
    T_EQ(aios_send(snd, "again", 5, &g, NULL, NULL), 0);
    t_spin_ms(&ctx, 100);
    T_EQ(r.calls, 1);
    aios_ctx_close(&ctx);
}

static void test_multicast_options_and_their_errors(void)
{
    aios_dgram_opts o;
    aios_dgram *d, *d6;
    int v = 0;
    socklen_t len = sizeof v;
    setup();
    aios_dgram_opts_init(&o);
    o.family = 4;
    T_REQUIRE((d = udp_on(NULL, 0, &o)) != NULL);
    T_EQ(aios_dgram_multicast_ttl(d, 7), 0);
    T_EQ(getsockopt(aios_dgram_fd(d), IPPROTO_IP, IP_MULTICAST_TTL, &v, &len), 0);
    T_EQ(v & 0xff, 7);
    T_EQ(aios_dgram_multicast_ttl(d, 256), -EINVAL);
    T_EQ(aios_dgram_multicast_if(d, "no-such-if0"), -ENODEV);
    T_EQ(aios_dgram_join(d, "not an address", NULL), -EINVAL);
    T_EQ(aios_dgram_join(d, "239.1.1.1", "no-such-if0"), -ENODEV);
    T_EQ(aios_dgram_join(NULL, "239.1.1.1", NULL), -EINVAL);
    if (have_ipv6()) {
        T_REQUIRE((d6 = udp_on("::", 0, NULL)) != NULL);
        T_EQ(aios_dgram_multicast_ttl(d6, 3), 0);
        len = sizeof v;
        T_EQ(getsockopt(aios_dgram_fd(d6), IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &v, &len), 0);
        T_EQ(v, 3);
        T_EQ(aios_dgram_multicast_loop(d6, 0), 0);
        len = sizeof v;
        T_EQ(getsockopt(aios_dgram_fd(d6), IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &v, &len), 0);
        T_EQ(v, 0);
        T_EQ(aios_dgram_multicast_if(d6, "lo"), 0);
    }
    aios_ctx_close(&ctx);
}

/* ---- inside the namespace: v0 and v1, a veth pair ---- */

static char if0[32], if1[32];

static aios_dgram_opts shared_port(int family)
{
    aios_dgram_opts o;
    aios_dgram_opts_init(&o);
    o.family = family;
    o.reuseaddr = 1;   /* several members on one port */
    return o;
}

/* IPv6 multicast leaves v0 and arrives on v1, where the member joined;
 * after leaving, nothing more. */
static void test_ipv6_group_over_veth_join_and_leave(void)
{
    aios_dgram_opts o = shared_port(6);
    aios_dgram *m, *snd;
    aios_addr g;
    rec r;
    memset(&r, 0, sizeof r);
    setup();
    T_REQUIRE((m = udp_on("::", 0, &o)) && (snd = udp_on("::", 0, NULL)));
    T_EQ(aios_dgram_join(m, "ff02::1:77", if1), 0);
    T_EQ(aios_dgram_multicast_if(snd, if0), 0);
    T_EQ(aios_addr_set(&g, "ff02::1:77", aios_dgram_port(m)), 0);
    T_EQ(aios_recv(m, r.data, sizeof r.data, on_recv, &r), 0);
    T_EQ(aios_send(snd, "hello group", 11, &g, NULL, NULL), 0);
    T_CHECK(spin(&r.calls, 1));
    T_EQ(r.status, 11);
    T_EQ(aios_addr_sa(&r.from)->sa_family, AF_INET6);
    T_EQ(aios_dgram_leave(m, "ff02::1:77", if1), 0);
    T_EQ(aios_send(snd, "gone", 4, &g, NULL, NULL), 0);
    t_spin_ms(&ctx, 150);
    T_EQ(r.calls, 1);
    aios_ctx_close(&ctx);
}

#ifndef IPV6_MULTICAST_ALL
#define IPV6_MULTICAST_ALL 29
#endif
#ifndef IP_MULTICAST_ALL
#define IP_MULTICAST_ALL 49
#endif

/* Linux gives a socket bound to the wildcard the groups that any socket
 * of the host joined on the interface a datagram came in by
 * (IP_MULTICAST_ALL); these members want their own joins only. */
static void own_joins_only(aios_dgram *d, int family)
{
    int zero = 0;
    if (family == 4) (void)setsockopt(aios_dgram_fd(d), IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero);
    else (void)setsockopt(aios_dgram_fd(d), IPPROTO_IPV6, IPV6_MULTICAST_ALL, &zero, sizeof zero);
}

/* A member on the sending interface gets the host's own datagrams only
 * with multicast loopback on; an IPv4 member where they arrive (v1) gets
 * them always.  (IPv6 matches a membership by group alone, whatever its
 * interface, so there the member on v0 stays alone: v1, joined by nobody,
 * drops what arrives.) */
static void loop_on_and_off(int family, const char *group)
{
    aios_dgram_opts o = shared_port(family);
    aios_dgram *on_v0, *on_v1 = NULL, *snd;
    aios_addr g;
    rec r0, r1;
    sent_note s = {0, 1};
    int port;
    memset(&r0, 0, sizeof r0);
    memset(&r1, 0, sizeof r1);
    setup();
    T_REQUIRE((on_v0 = udp_on(NULL, 0, &o)) != NULL);
    port = aios_dgram_port(on_v0);
    T_REQUIRE((snd = udp_on(NULL, 0, &o)) != NULL);
    own_joins_only(on_v0, family);
    T_EQ(aios_dgram_join(on_v0, group, if0), 0);
    if (family == 4) {
        T_REQUIRE((on_v1 = udp_on(NULL, port, &o)) != NULL);
        own_joins_only(on_v1, family);
        T_EQ(aios_dgram_join(on_v1, group, if1), 0);
        T_EQ(aios_recv(on_v1, r1.data, sizeof r1.data, on_recv, &r1), 0);
    }
    T_EQ(aios_dgram_multicast_if(snd, if0), 0);
    T_EQ(aios_dgram_multicast_loop(snd, 0), 0);
    aios_addr_set(&g, group, port);
    T_EQ(aios_recv(on_v0, r0.data, sizeof r0.data, on_recv, &r0), 0);
    T_EQ(aios_send(snd, "off", 3, &g, on_sent_note, &s), 0);
    T_CHECK(spin(&s.calls, 1));
    T_EQ(s.status, 0);                    /* it went */
    if (on_v1) T_CHECK(spin(&r1.calls, 1));
    t_spin_ms(&ctx, 100);
    T_EQ(r0.calls, 0);                    /* yet not back to this host's member on v0 */
    T_EQ(aios_dgram_multicast_loop(snd, 1), 0);
    if (on_v1) T_EQ(aios_recv(on_v1, r1.data, sizeof r1.data, on_recv, &r1), 0);
    T_EQ(aios_send(snd, "on", 2, &g, NULL, NULL), 0);
    T_CHECK(spin(&r0.calls, 1));
    if (on_v1) T_CHECK(spin(&r1.calls, 2));
    T_STREQ(r0.data, "on");
    aios_ctx_close(&ctx);
}

static void test_multicast_loopback_on_and_off_ipv6(void) { loop_on_and_off(6, "ff02::1:78"); }
static void test_multicast_loopback_on_and_off_ipv4(void) { loop_on_and_off(4, "239.255.77.2"); }

/* What a plain socket joined on v1 sees of the sender's TTL / hop limit. */
static int received_ttl(int fd, int family)
{
    char buf[64], cbuf[256];
    struct iovec iov;
    struct msghdr msg;
    struct cmsghdr *c;
    int tries;
    for (tries = 0; tries < 200; tries++) {
        memset(&msg, 0, sizeof msg);
        iov.iov_base = buf;
        iov.iov_len = sizeof buf;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf;
        msg.msg_controllen = sizeof cbuf;
        if (recvmsg(fd, &msg, MSG_DONTWAIT) >= 0) {
            for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                int v;
                if ((family == 4 && c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
                    (family == 6 && c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
                    memcpy(&v, CMSG_DATA(c), sizeof v);
                    return v;
                }
            }
            return -1;
        }
        t_spin_ms(&ctx, 10);
    }
    return -2;
}

static void ttl_on_the_wire(int family, const char *group, int ttl)
{
    aios_dgram_opts o = shared_port(family);
    aios_dgram *snd;
    aios_addr g, bind_to;
    int fd, one = 1;
    setup();
    fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM, 0);
    T_REQUIRE(fd >= 0);
    aios_addr_set(&bind_to, family == 4 ? "0.0.0.0" : "::", 0);
    T_REQUIRE(bind(fd, aios_addr_sa(&bind_to), bind_to.len) == 0);
    if (family == 4) {
        struct ip_mreqn m;
        memset(&m, 0, sizeof m);
        inet_pton(AF_INET, group, &m.imr_multiaddr);
        m.imr_ifindex = (int)if_nametoindex(if1);
        T_REQUIRE(setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) == 0);
        T_REQUIRE(setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof one) == 0);
    } else {
        struct ipv6_mreq m;
        memset(&m, 0, sizeof m);
        inet_pton(AF_INET6, group, &m.ipv6mr_multiaddr);
        m.ipv6mr_interface = if_nametoindex(if1);
        T_REQUIRE(setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m) == 0);
        T_REQUIRE(setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one) == 0);
    }
    {
        aios_addr l;
        socklen_t len = sizeof l.u.bytes;
        T_REQUIRE(getsockname(fd, (struct sockaddr *)(void *)l.u.bytes, &len) == 0);
        l.len = len;
        aios_addr_set(&g, group, aios_addr_port(&l));
    }
    T_REQUIRE((snd = udp_on(NULL, 0, &o)) != NULL);
    T_EQ(aios_dgram_multicast_if(snd, if0), 0);
    T_EQ(aios_dgram_multicast_loop(snd, 0), 0);
    T_EQ(aios_dgram_multicast_ttl(snd, ttl), 0);
    T_EQ(aios_send(snd, "ttl", 3, &g, NULL, NULL), 0);
    t_spin_ms(&ctx, 10);
    T_EQ(received_ttl(fd, family), ttl);
    close(fd);
    aios_ctx_close(&ctx);
}

static void test_hop_limit_seen_on_the_wire_ipv6(void) { ttl_on_the_wire(6, "ff02::1:79", 7); }
static void test_ttl_seen_on_the_wire_ipv4(void) { ttl_on_the_wire(4, "239.255.77.3", 5); }

/* ---- answering discovery queries ---- */

typedef struct responder { aios_dgram *d; char buf[1500]; const char *answer; int answered; } responder;

/* Answers every datagram to its sender, unicast, and waits for the next. */
static void on_query(aios_dgram *d, int status, void *ud)
{
    responder *rs = (responder *)ud;
    if (status >= 0 && aios_send(d, rs->answer, strlen(rs->answer), aios_recv_from(d), NULL, NULL) == 0) rs->answered++;
    if (status != -ECANCELED) aios_recv(d, rs->buf, sizeof rs->buf, on_query, rs);
}

/* SSDP: an M-SEARCH to 239.255.255.250:1900 (leaving by v0, the querier's
 * interface), a member on v1 answers the querier at its own address. */
static void test_ssdp_search_answered(void)
{
    static const char search[] = "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
                                 "MAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n";
    aios_dgram_opts o = shared_port(4);
    aios_dgram *q;
    responder rs;
    aios_addr g;
    rec r;
    memset(&rs, 0, sizeof rs);
    memset(&r, 0, sizeof r);
    rs.answer = "HTTP/1.1 200 OK\r\nST: ssdp:all\r\nUSN: uuid:asynckit-test\r\n\r\n";
    setup();
    T_REQUIRE((rs.d = udp_on(NULL, 1900, &o)) != NULL);
    T_EQ(aios_dgram_join(rs.d, "239.255.255.250", if1), 0);
    T_EQ(aios_recv(rs.d, rs.buf, sizeof rs.buf, on_query, &rs), 0);
    T_REQUIRE((q = udp_on("10.9.0.1", 0, NULL)) != NULL);
    T_EQ(aios_dgram_multicast_if(q, if0), 0);
    T_EQ(aios_dgram_multicast_ttl(q, 2), 0);    /* SSDP's recommended TTL */
    aios_addr_set(&g, "239.255.255.250", 1900);
    T_EQ(aios_recv(q, r.data, sizeof r.data - 1, on_recv, &r), 0);
    T_EQ(aios_send(q, search, sizeof search - 1, &g, NULL, NULL), 0);
    T_CHECK(spin(&r.calls, 1));
    T_EQ(rs.answered, 1);
    T_CHECK(r.status > 0 && strncmp(r.data, "HTTP/1.1 200 OK\r\n", 17) == 0);
    T_EQ(aios_addr_port(&r.from), 1900);
    aios_ctx_close(&ctx);
}

/* mDNS-style over IPv6: a query to ff02::fb%v0 port 5353 (the interface
 * named in the address), answered unicast to the querier's link-local
 * address. */
static void test_mdns_style_query_answered_over_ipv6(void)
{
    static const unsigned char query[] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                                          8, 'a', 's', 'y', 'n', 'c', 'k', 'i', 't', 5, 'l', 'o', 'c', 'a', 'l', 0,
                                          0, 1, 0, 1};
    aios_dgram_opts o = shared_port(6);
    aios_dgram *q;
    responder rs;
    aios_addr g;
    char group[64];
    rec r;
    memset(&rs, 0, sizeof rs);
    memset(&r, 0, sizeof r);
    rs.answer = "answer";
    setup();
    T_REQUIRE((rs.d = udp_on(NULL, 5353, &o)) != NULL);
    T_EQ(aios_dgram_join(rs.d, "ff02::fb", if1), 0);
    T_EQ(aios_recv(rs.d, rs.buf, sizeof rs.buf, on_query, &rs), 0);
    T_REQUIRE((q = udp_on("::", 0, NULL)) != NULL);
    snprintf(group, sizeof group, "ff02::fb%%%s", if0);
    T_EQ(aios_addr_set(&g, group, 5353), 0);
    T_EQ(aios_recv(q, r.data, sizeof r.data - 1, on_recv, &r), 0);
    T_EQ(aios_send(q, query, sizeof query, &g, NULL, NULL), 0);
    T_CHECK(spin(&r.calls, 1));
    T_EQ(rs.answered, 1);
    T_STREQ(r.data, "answer");
    T_EQ(aios_addr_port(&r.from), 5353);
    aios_ctx_close(&ctx);
}

int main(void)
{
    const char *ns = getenv("AIO_NETNS");
    t_suite("aio_dgram_mcast");
    T_RUN(test_ipv4_multicast_join_and_leave_on_loopback);
    T_RUN(test_multicast_options_and_their_errors);
    if (ns && sscanf(ns, "%31s %31s", if0, if1) == 2) {
        T_RUN(test_ipv6_group_over_veth_join_and_leave);
        T_RUN(test_multicast_loopback_on_and_off_ipv6);
        T_RUN(test_multicast_loopback_on_and_off_ipv4);
        T_RUN(test_hop_limit_seen_on_the_wire_ipv6);
        T_RUN(test_ttl_seen_on_the_wire_ipv4);
        T_RUN(test_ssdp_search_answered);
        T_RUN(test_mdns_style_query_answered_over_ipv6);
    }
    return t_done();
}
