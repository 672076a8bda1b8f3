/* tests/aio_dgram.c - datagrams in aio_stream.h: UDP over IPv4, IPv6 and
 * dual stack, Unix datagram sockets, truncation reported and never silent,
 * batches (one recvmmsg for many datagrams, one sendmmsg for a pass's
 * sends), the per-iteration bound, the bounded send queue, errors that
 * belong to one datagram, close, broadcast, and the signal watcher of
 * the context.  Peers are real sockets on 127.0.0.1 and ::1.  Multicast
 * is in tests/aio_dgram_mcast.c (qemu-user does not pass its options). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <stddef.h>
#include <sys/socket.h>
static int t_recvmmsg_calls, t_sendmmsg_calls, t_sendmmsg_sizes[64];
/* Counting hooks (the header takes them instead of the C library's calls). */
static int t_recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
{
    t_recvmmsg_calls++;
    return recvmmsg(fd, v, n, flags, NULL);
}
static int t_sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
{
    if (t_sendmmsg_calls < 64) t_sendmmsg_sizes[t_sendmmsg_calls] = (int)n;
    t_sendmmsg_calls++;
    return sendmmsg(fd, v, n, flags);
}
#define AIOS_SYS_RECVMMSG(fd, v, n, flags) t_recvmmsg((fd), (v), (n), (flags))
#define AIOS_SYS_SENDMMSG(fd, v, n, flags) t_sendmmsg((fd), (v), (n), (flags))
#include "aio_common.h"

#include <stdint.h>
#include <net/if.h>
#include <sys/stat.h>
#include <sys/un.h>

static aios_ctx ctx;

typedef struct rec {
    int calls, status;
    size_t size;
    aios_addr from;
    char data[2048];
    int order[64];
} rec;

static void on_recv(aios_dgram *d, int status, void *ud)
{
    rec *r = (rec *)ud;
    if (r->calls < 64) r->order[r->calls] = status;
    r->calls++;
    r->status = status;
    r->size = aios_recv_size(d);
    r->from = *aios_recv_from(d);
}

/* Receives again from its callback, up to limit datagrams. */
typedef struct again { rec r; int limit; aios_dgram *d; } again;
static void on_recv_again(aios_dgram *d, int status, void *ud)
{
    again *a = (again *)ud;
    on_recv(d, status, &a->r);
    if (status >= 0 && a->r.calls < a->limit) aios_recv(d, a->r.data, sizeof a->r.data, on_recv_again, a);
}

typedef struct sent { int calls, status, order[64]; } sent;
static void on_sent(aios_dgram *d, int status, void *ud)
{
    sent *s = (sent *)ud;
    (void)d;
    if (s->calls < 64) s->order[s->calls] = status;
    s->calls++;
    s->status = status;
}

static int spin(const int *flag, int want)
{
    return t_spin(&ctx, flag, want);
}

static void setup(void)
{
    T_REQUIRE(aios_ctx_init(&ctx) == 0);
    t_recvmmsg_calls = t_sendmmsg_calls = 0;
}

static aios_dgram *udp_on(const char *host, const aios_dgram_opts *o)
{
    aios_dgram *d = NULL;
    int r = aios_udp_open(&d, &ctx, host, 0, o);
    if (r < 0) printf("aios_udp_open(%s): %s\n", host ? host : "NULL", aios_strerror(r));
    return d;
}

/* The address to send to a socket bound to host. */
static aios_addr addr_of(const char *host, const aios_dgram *d)
{
    aios_addr a;
    aios_addr_set(&a, host, aios_dgram_port(d));
    return a;
}

/* 1 where ::1 can be bound (IPv6 present). */
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

/* ---- sending and receiving ---- */

static void test_udp_round_trip_names_the_sender(void)
{
    aios_dgram *a, *b;
    aios_addr to, local;
    rec r;
    sent s = {0};
    char name[64];
    memset(&r, 0, sizeof r);
    setup();
    T_REQUIRE((a = udp_on("127.0.0.1", NULL)) && (b = udp_on("127.0.0.1", NULL)));
    T_CHECK(aios_dgram_port(b) > 0);
    to = addr_of("127.0.0.1", b);
    T_EQ(aios_recv(b, r.data, sizeof r.data, on_recv, &r), 0);
    T_EQ(aios_send(a, "ping", 4, &to, on_sent, &s), 0);
    T_EQ(s.calls, 0);                     /* never inside the call */
    T_EQ(r.calls, 0);
    T_CHECK(spin(&r.calls, 1));
    T_EQ(s.calls, 1);
    T_EQ(s.status, 0);
    T_EQ(r.status, 4);
    T_MEMEQ(r.data, "ping", 4);
    T_EQ(r.size, 4);
    T_EQ(aios_dgram_local(a, &local), 0);
    T_CHECK(aios_addr_equal(&r.from, &local));
    T_CHECK(aios_format_addr(aios_addr_sa(&r.from), name, sizeof name) > 0);
    T_EQ(strncmp(name, "127.0.0.1:", 10), 0);
    aios_ctx_close(&ctx);
}

static void test_empty_datagram_is_status_zero(void)
{
    aios_dgram *a, *b;
    aios_addr to;
    rec r;
    memset(&r, 0, sizeof r);
    r.status = 99;
    setup();
    T_REQUIRE((a = udp_on("127.0.0.1", NULL)) && (b = udp_on("127.0.0.1", NULL)));
    to = addr_of("127.0.0.1", b);
    T_EQ(aios_recv(b, r.data, sizeof r.data, on_recv, &r), 0);
    T_EQ(aios_send(a, NULL, 0, &to, NULL, NULL), 0);
    T_CHECK(spin(&r.calls, 1));
    T_EQ(r.status, 0);
    T_EQ(r.size, 0);
    aios_ctx_close(&ctx);
}

/* Longer than the buffer: -EMSGSIZE, the first bytes kept, the whole
 * length told; longer than the socket's recv_size: the same. */
static void test_truncation_is_reported_never_silent(void)
{
    aios_dgram *a, *b, *c;
    aios_dgram_opts o;
    aios_addr to, toc;
    char big[3000], small[10];
    rec r, rc;
    int i;
    for (i = 0; i < (int)sizeof big; i++) big[i] = (char)('a' + i % 26);
    memset(&r, 0, sizeof r);
    memset(&rc, 0, sizeof rc);
    setup();
    aios_dgram_opts_init(&o);
    o.recv_size = 64;
    T_REQUIRE((a = udp_on("127.0.0.1", NULL)) && (b = udp_on("127.0.0.1", NULL)) && (c = udp_on("127.0.0.1", &o)));
    to = addr_of("127.0.0.1", b);
    toc = addr_of("127.0.0.1", c);
    T_EQ(aios_recv(b, small, sizeof small, on_recv, &r), 0);
    T_EQ(aios_send(a, big, 100, &to, NULL, NULL), 0);
    T_CHECK(spin(&r.calls, 1));
    T_EQ(r.status, -EMSGSIZE);
    T_EQ(r.size, 100);
    T_MEMEQ(small, big, 10);
    T_EQ(aios_recv(c, rc.data, sizeof rc.data, on_recv, &rc), 0);
    T_EQ(aios_send(a, big, 3000, &toc, NULL, NULL), 0);
    T_CHECK(spin(&rc.calls, 1));
    T_EQ(rc.status, -EMSGSIZE);
    T_EQ(rc.size, 3000);
    T_MEMEQ(rc.data, big, 64);
    /* a whole one after a cut one: nothing of the first leaks into it */
    T_EQ(aios_recv(b, small, sizeof small, on_recv, &r), 0);
    T_EQ(aios_send(a, "whole", 5, &to, NULL, NULL), 0);
    T_CHECK(spin(&r.calls, 2));
    T_EQ(r.status, 5);
    T_MEMEQ(small, "whole", 5);
    aios_ctx_close(&ctx);
}

static void test_dual_stack_socket_takes_ipv4_and_ipv6(void)
{
    aios_dgram *srv, *c4, *c6 = NULL;
    aios_addr to4, to6, l4;
    rec r;
    int v6 = have_ipv6();
    memset(&r, 0, sizeof r);
    setup();
    T_REQUIRE((srv = udp_on(NULL, NULL)) && (c4 = udp_on("127.0.0.1", NULL)));
    to4 = addr_of("127.0.0.1", srv);
    T_EQ(aios_recv(srv, r.data, sizeof r.data, on_recv, &r), 0);
    T_EQ(aios_send(c4, "four", 4, &to4, NULL, NULL), 0);
    T_CHECK(spin(&r.calls, 1));
    T_EQ(aios_addr_sa(&r.from)->sa_family, AF_INET);   /* not ::ffff:127.0.0.1 */
    T_EQ(aios_dgram_local(c4, &l4), 0);
    T_CHECK(aios_addr_equal(&r.from, &l4));
    if (v6) {
        T_REQUIRE((c6 = udp_on("::1", NULL)) != NULL);
        to6 = addr_of("::1", srv);
        T_EQ(aios_recv(srv, r.data, sizeof r.data, on_recv, &r), 0);
        T_EQ(aios_send(c6, "six", 3, &to6, NULL, NULL), 0);
        T_CHECK(spin(&r.calls, 2));
        T_EQ(aios_addr_sa(&r.from)->sa_family, AF_INET6);
        T_EQ(r.status, 3);
    }
    aios_ctx_close(&ctx);
}

/* A dual-stack socket answers an IPv4 peer at the address it was given. */
static void test_dual_stack_socket_replies_to_an_ipv4_peer(void)
{
    aios_dgram *srv, *cli;
    aios_addr to;
    rec rs, rcl;
    memset(&rs, 0, sizeof rs);
    memset(&rcl, 0, sizeof rcl);
    setup();
    T_REQUIRE((srv = udp_on("*", NULL)) && (cli = udp_on("127.0.0.1", NULL)));
    to = addr_of("127.0.0.1", srv);
    T_EQ(aios_recv(srv, rs.data, sizeof rs.data, on_recv, &rs), 0);
    T_EQ(aios_recv(cli, rcl.data, sizeof rcl.data, on_recv, &rcl), 0);
    T_EQ(aios_send(cli, "q", 1, &to, NULL, NULL), 0);
    T_CHECK(spin(&rs.calls, 1));
    T_EQ(aios_send(srv, "answer", 6, &rs.from, NULL, NULL), 0);
    T_CHECK(spin(&rcl.calls, 1));
    T_EQ(rcl.status, 6);
    aios_ctx_close(&ctx);
}

static void test_ipv6_only_and_ipv4_only_sockets(void)
{
    aios_dgram_opts o;
    aios_dgram *d;
    aios_addr l;
    setup();
    aios_dgram_opts_init(&o);
    o.family = 4;
    T_REQUIRE((d = udp_on(NULL, &o)) != NULL);
    T_EQ(aios_dgram_local(d, &l), 0);
    T_EQ(aios_addr_sa(&l)->sa_family, AF_INET);
    T_EQ(aios_udp_open(&d, &ctx, "::1", 0, &o), -EAFNOSUPPORT);
    if (have_ipv6()) {
        int v = 0;
        socklen_t len = sizeof v;
        o.family = 6;
        o.v6only = 1;
        T_REQUIRE((d = udp_on(NULL, &o)) != NULL);
        T_EQ(getsockopt(aios_dgram_fd(d), IPPROTO_IPV6, IPV6_V6ONLY, &v, &len), 0);
        T_EQ(v, 1);
        T_EQ(aios_udp_open(&d, &ctx, "127.0.0.1", 0, &o), -EAFNOSUPPORT);
    }
    aios_ctx_close(&ctx);
}

static void test_a_datagram_waiting_still_completes_from_dispatch(void)
{
    aios_dgram *a, *b;
    aios_addr to;
    again ag;
    rec r;
    int i;
    memset(&ag, 0, sizeof ag);
    memset(&r, 0, sizeof r);
    setup();
    T_REQUIRE((a = udp_on("127.0.0.1", NULL)) && (b = udp_on("127.0.0.1", NULL)));
    to = addr_of("127.0.0.1", b);
    for (i = 0; i < 3; i++) T_EQ(aios_send(a, "x", 1, &to, NULL, NULL), 0);
    ag.limit = 1;
    T_EQ(aios_recv(b, ag.r.data, sizeof ag.r.data, on_recv_again, &ag), 0);
    T_CHECK(spin(&ag.r.calls, 1));        /* one recvmmsg took all three into the ring */
    T_EQ(aios_recv(b, r.data, sizeof r.data, on_recv, &r), 0);
    T_EQ(r.calls, 0);                     /* in the ring already, yet not inside the call */
    T_EQ(aios_run_once(&ctx, 0) >= 0, 1);
    T_EQ(r.calls, 1);
    T_EQ(aios_recv(b, r.data, sizeof r.data, on_recv, &r), 0);
    T_EQ(aios_recv(b, r.data, sizeof r.data, on_recv, &r), -EBUSY);   /* one receive at a time */
    T_CHECK(spin(&r.calls, 2));
    aios_ctx_close(&ctx);
}

/* A busy receiver pays one system call for a batch of datagrams. */
static void test_one_recvmmsg_takes_a_batch(void)
{
    aios_dgram *a, *b;
    aios_addr to;
    again ag;
    int i;
    char byte;
    memset(&ag, 0, sizeof ag);
    setup();
    T_REQUIRE((a = udp_on("127.0.0.1", NULL)) && (b = udp_on("127.0.0.1", NULL)));
    to = addr_of("127.0.0.1", b);
    for (i = 0; i < 40; i++) {
        byte = (char)i;
        T_EQ(aios_send(a, &byte, 1, &to, NULL, NULL), 0);
    }
    T_CHECK(spin(&t_sendmmsg_calls, 1));
    T_EQ(t_sendmmsg_calls, 1);            /* the 40 sends of one pass: one sendmmsg */
    T_EQ(t_sendmmsg_sizes[0], 40);
    ag.limit = 40;
    T_EQ(aios_recv(b, ag.r.data, sizeof ag.r.data, on_recv_again, &ag), 0);
    T_CHECK(spin(&ag.r.calls, 40));
    T_CHECK(t_recvmmsg_calls <= 4);       /* batches of 16: 3 calls (one more may find none) */
    for (i = 0; i < 40; i++) T_EQ(ag.r.order[i], 1);
    aios_ctx_close(&ctx);
}

/* At most recv_max datagrams per loop iteration, whatever is waiting. */
static void test_recv_max_bounds_an_iteration(void)
{
    aios_dgram_opts o;
    aios_dgram *a, *b;
    aios_addr to;
    again ag;
    int i, before;
    memset(&ag, 0, sizeof ag);
    setup();
    aios_dgram_opts_init(&o);
    o.recv_max = 5;
    T_REQUIRE((a = udp_on("127.0.0.1", NULL)) && (b = udp_on("127.0.0.1", &o)));
    to = addr_of("127.0.0.1", b);
    for (i = 0; i < 20; i++) T_EQ(aios_send(a, "d", 1, &to, NULL, NULL), 0);
    T_CHECK(spin(&t_sendmmsg_calls, 1));
    t_spin_ms(&ctx, 20);                  /* all 20 wait in b's socket */
    ag.limit = 20;
    T_EQ(aios_recv(b, ag.r.data, sizeof ag.r.data, on_recv_again, &ag), 0);
    for (i = 0; i < 20 && ag.r.calls < 20; i++) {
        before = ag.r.calls;
        aios_run_once(&ctx, AIOS_MS(100));
        T_CHECK(ag.r.calls - before <= 5);
    }
    T_EQ(ag.r.calls, 20);
    T_CHECK(i >= 4);
    aios_ctx_close(&ctx);
}

/* Sends complete in order, and a pass's sends go out together. */
static void test_sends_complete_in_order(void)
{
    aios_dgram *a, *b;
    aios_addr to;
    sent s;
    again ag;
    int i;
    char msg[8];
    memset(&s, 0, sizeof s);
    memset(&ag, 0, sizeof ag);
    setup();
    T_REQUIRE((a = udp_on("127.0.0.1", NULL)) && (b = udp_on("127.0.0.1", NULL)));
    to = addr_of("127.0.0.1", b);
    ag.limit = 10;
    T_EQ(aios_recv(b, ag.r.data, sizeof ag.r.data, on_recv_again, &ag), 0);
    for (i = 0; i < 10; i++) {
        memset(msg, 'a' + i, sizeof msg);
        T_EQ(aios_send(a, msg, (size_t)(i % 8) + 1, &to, on_sent, &s), 0);
    }
    T_CHECK(aios_send_queued(a) > 10 * 8);
    T_CHECK(spin(&ag.r.calls, 10));
    T_EQ(s.calls, 10);
    T_EQ(aios_send_queued(a), 0);
    for (i = 0; i < 10; i++) {
        T_EQ(s.order[i], 0);
        T_EQ(ag.r.order[i], i % 8 + 1);   /* loopback keeps the order */
    }
    aios_ctx_close(&ctx);
}

/* A sender faster than the network meets the queue's bound: -EAGAIN,
 * nothing queued, and room again once the queue went out. */
static void test_full_send_queue_is_eagain(void)
{
    aios_dgram_opts o;
    aios_dgram *a;
    aios_addr to;
    char chunk[1000];
    int i, accepted = 0, r = 0;
    sent s = {0};
    memset(chunk, 'q', sizeof chunk);
    setup();
    aios_dgram_opts_init(&o);
    o.send_hwm = 4096;
    T_REQUIRE((a = udp_on("127.0.0.1", &o)) != NULL);
    aios_addr_set(&to, "127.0.0.1", 9);   /* discard: nobody needs to read */
    for (i = 0; i < 100 && (r = aios_send(a, chunk, sizeof chunk, &to, on_sent, &s)) == 0; i++) accepted++;
    T_EQ(r, -EAGAIN);
    T_EQ(accepted, 3);                    /* 3 x (1000 + header + address) fit in 4096 */
    T_CHECK(aios_send_queued(a) <= 4096);
    T_EQ(aios_send(a, chunk, 5000, &to, NULL, NULL), -EMSGSIZE);   /* could never fit */
    T_CHECK(spin(&s.calls, 3));
    T_EQ(aios_send_queued(a), 0);
    T_EQ(aios_send(a, chunk, sizeof chunk, &to, on_sent, &s), 0);
    T_CHECK(spin(&s.calls, 4));
    aios_ctx_close(&ctx);
}

/* A datagram the kernel refuses fails alone: the next one still goes. */
static void test_a_refused_datagram_fails_alone(void)
{
    aios_dgram *a, *b;
    aios_addr to;
    static char huge[70000];
    sent s;
    rec r;
    memset(&s, 0, sizeof s);
    memset(&r, 0, sizeof r);
    setup();
    T_REQUIRE((a = udp_on("127.0.0.1", NULL)) && (b = udp_on("127.0.0.1", NULL)));
    to = addr_of("127.0.0.1", b);
    T_EQ(aios_recv(b, r.data, sizeof r.data, on_recv, &r), 0);
    T_EQ(aios_send(a, huge, sizeof huge, &to, on_sent, &s), 0);   /* more than UDP carries */
    T_EQ(aios_send(a, "fine", 4, &to, on_sent, &s), 0);
    T_CHECK(spin(&s.calls, 2));
    T_EQ(s.order[0], -EMSGSIZE);
    T_EQ(s.order[1], 0);
    T_CHECK(spin(&r.calls, 1));
    T_EQ(r.status, 4);
    aios_ctx_close(&ctx);
}

/* Connected: the default peer, and only its datagrams; an ICMP refusal of
 * an earlier send reaches the next receive. */
static void test_connected_socket(void)
{
    aios_dgram *a, *b, *c, *gone;
    aios_addr ta, tb, tg;
    rec r;
    sent s = {0};
    memset(&r, 0, sizeof r);
    setup();
    T_REQUIRE((a = udp_on("127.0.0.1", NULL)) && (b = udp_on("127.0.0.1", NULL)) && (c = udp_on("127.0.0.1", NULL)));
    ta = addr_of("127.0.0.1", a);
    tb = addr_of("127.0.0.1", b);
    T_EQ(aios_send(a, "x", 1, NULL, NULL, NULL), -EDESTADDRREQ);
    T_EQ(aios_dgram_connect(b, &ta), 0);
    T_EQ(aios_dgram_connect(a, &tb), 0);
    T_EQ(aios_send(c, "from c", 6, &tb, NULL, NULL), 0);   /* b is connected to a: dropped */
    T_EQ(aios_send(a, "from a", 6, NULL, &on_sent, &s), 0);
    T_EQ(aios_recv(b, r.data, sizeof r.data, on_recv, &r), 0);
    T_CHECK(spin(&r.calls, 1));
    T_EQ(r.status, 6);
    T_MEMEQ(r.data, "from a", 6);
    T_EQ(s.status, 0);
    /* a peer that is gone: the kernel's refusal comes to the next receive */
    T_REQUIRE((gone = udp_on("127.0.0.1", NULL)) != NULL);
    tg = addr_of("127.0.0.1", gone);
    T_EQ(aios_dgram_close(gone, NULL, NULL), 0);
    T_EQ(aios_dgram_connect(c, &tg), 0);
    T_EQ(aios_send(c, "anyone?", 7, NULL, NULL, NULL), 0);
    memset(&r, 0, sizeof r);
    T_EQ(aios_recv(c, r.data, sizeof r.data, on_recv, &r), 0);
    T_CHECK(spin(&r.calls, 1));
    T_EQ(r.status, -ECONNREFUSED);
    T_EQ(aios_dgram_connect(c, NULL), 0);                   /* dissolved: anyone again */
    T_EQ(aios_send(a, "x", 1, &tg, NULL, NULL), 0);
    aios_ctx_close(&ctx);
}

/* ---- closing ---- */

static int close_order[8], close_n;
static void note_recv(aios_dgram *d, int status, void *ud) { (void)d; (void)ud; close_order[close_n++] = 100 + (status == -ECANCELED); }
static void note_send(aios_dgram *d, int status, void *ud) { (void)d; (void)ud; close_order[close_n++] = 200 + (status == -ECANCELED); }
static void note_close(aios_dgram *d, int status, void *ud) { (void)d; (void)ud; close_order[close_n++] = 300 + (status == 0); }

static void test_close_ends_everything_once_in_order(void)
{
    aios_dgram *a;
    aios_addr to;
    char buf[16];
    int i;
    close_n = 0;
    setup();
    T_REQUIRE((a = udp_on("127.0.0.1", NULL)) != NULL);
    to = addr_of("127.0.0.1", a);
    T_EQ(aios_recv(a, buf, sizeof buf, note_recv, NULL), 0);
    for (i = 0; i < 3; i++) T_EQ(aios_send(a, "z", 1, &to, note_send, NULL), 0);
    T_EQ(aios_dgram_close(a, note_close, NULL), 0);
    T_EQ(close_n, 0);                     /* from dispatch only */
    T_EQ(aios_dgram_close(a, NULL, NULL), AIOS_ECLOSED);
    T_EQ(aios_send(a, "z", 1, &to, NULL, NULL), AIOS_ECLOSED);
    T_EQ(aios_recv(a, buf, sizeof buf, note_recv, NULL), AIOS_ECLOSED);
    aios_run_once(&ctx, 0);
    T_EQ(close_n, 5);
    T_EQ(close_order[0], 101);
    T_EQ(close_order[1], 201);
    T_EQ(close_order[2], 201);
    T_EQ(close_order[3], 201);
    T_EQ(close_order[4], 301);
    T_EQ(aios_run_once(&ctx, 0), 0);      /* nothing left */
    aios_ctx_close(&ctx);
}

static void close_self(aios_dgram *d, int status, void *ud)
{
    rec *r = (rec *)ud;
    on_recv(d, status, r);
    aios_dgram_close(d, NULL, NULL);
}

static void test_close_from_its_own_callback(void)
{
    aios_dgram *a, *b;
    aios_addr to;
    rec r;
    memset(&r, 0, sizeof r);
    setup();
    T_REQUIRE((a = udp_on("127.0.0.1", NULL)) && (b = udp_on("127.0.0.1", NULL)));
    to = addr_of("127.0.0.1", b);
    T_EQ(aios_recv(b, r.data, sizeof r.data, close_self, &r), 0);
    T_EQ(aios_send(a, "bye", 3, &to, NULL, NULL), 0);
    T_EQ(aios_send(a, "more", 4, &to, NULL, NULL), 0);
    T_CHECK(spin(&r.calls, 1));
    t_spin_ms(&ctx, 20);
    T_EQ(r.calls, 1);
    aios_ctx_close(&ctx);
}

/* aios_ctx_close delivers every callback of every socket. */
static void test_ctx_close_delivers_every_callback(void)
{
    aios_dgram *a;
    aios_addr to;
    char buf[4];
    close_n = 0;
    setup();
    T_REQUIRE((a = udp_on("127.0.0.1", NULL)) != NULL);
    to = addr_of("127.0.0.1", a);
    T_EQ(aios_recv(a, buf, sizeof buf, note_recv, NULL), 0);
    T_EQ(aios_send(a, "z", 1, &to, note_send, NULL), 0);
    aios_ctx_close(&ctx);
    T_EQ(close_n, 2);
    T_EQ(close_order[0], 101);
    T_EQ(close_order[1], 201);
}

/* ---- Unix datagram sockets ---- */

static void test_unix_dgram_round_trip(void)
{
    aios_dgram *srv, *cli, *abs_srv;
    aios_addr to, ta;
    char path[64];
    rec rs, rc;
    struct stat st;
    memset(&rs, 0, sizeof rs);
    memset(&rc, 0, sizeof rc);
    snprintf(path, sizeof path, "/tmp/aio_dgram_%d.sock", (int)getpid());
    setup();
    T_EQ(aios_unix_dgram_open(&srv, &ctx, path, NULL), 0);
    T_EQ(aios_unix_dgram_open(&cli, &ctx, NULL, NULL), 0);   /* autobind, so that it can be answered */
    T_EQ(aios_addr_unix(&to, path), 0);
    T_EQ(aios_recv(srv, rs.data, sizeof rs.data, on_recv, &rs), 0);
    T_EQ(aios_recv(cli, rc.data, sizeof rc.data, on_recv, &rc), 0);
    T_EQ(aios_send(cli, "hello", 5, &to, NULL, NULL), 0);
    T_CHECK(spin(&rs.calls, 1));
    T_EQ(rs.status, 5);
    T_EQ(aios_addr_sa(&rs.from)->sa_family, AF_UNIX);
    T_EQ(aios_send(srv, "back", 4, &rs.from, NULL, NULL), 0);
    T_CHECK(spin(&rc.calls, 1));
    T_EQ(rc.status, 4);
    /* the abstract namespace */
    T_EQ(aios_unix_dgram_open(&abs_srv, &ctx, "@aio_dgram_test", NULL), 0);
    T_EQ(aios_addr_unix(&ta, "@aio_dgram_test"), 0);
    memset(&rs, 0, sizeof rs);
    T_EQ(aios_recv(abs_srv, rs.data, sizeof rs.data, on_recv, &rs), 0);
    T_EQ(aios_send(cli, "abstract", 8, &ta, NULL, NULL), 0);
    T_CHECK(spin(&rs.calls, 1));
    T_EQ(rs.status, 8);
    T_EQ(stat(path, &st), 0);
    aios_ctx_close(&ctx);
    T_CHECK(stat(path, &st) < 0);         /* its socket file went with it */
}

static void test_unix_dgram_stale_file_replaced_live_one_refused(void)
{
    aios_dgram *a, *b;
    char path[64];
    aios_addr un;
    int fd;
    snprintf(path, sizeof path, "/tmp/aio_dgram_stale_%d.sock", (int)getpid());
    unlink(path);
    fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    aios_addr_unix(&un, path);
    T_REQUIRE(fd >= 0 && bind(fd, aios_addr_sa(&un), un.len) == 0);
    close(fd);                            /* the file stays, nobody behind it */
    setup();
    T_EQ(aios_unix_dgram_open(&a, &ctx, path, NULL), 0);
    T_EQ(aios_unix_dgram_open(&b, &ctx, path, NULL), -EADDRINUSE);
    aios_ctx_close(&ctx);
    T_CHECK(access(path, F_OK) < 0);
}

static void test_dgram_open_wraps_any_datagram_socket(void)
{
    aios_dgram *d, *e;
    int sv[2], st[2];
    rec r;
    memset(&r, 0, sizeof r);
    setup();
    T_REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, st) == 0);
    T_EQ(aios_dgram_open(&e, &ctx, st[0], 0, NULL), -EPROTOTYPE);
    T_EQ(aios_dgram_open(&d, &ctx, sv[0], AIOS_NOCLOSE, NULL), 0);
    T_EQ(aios_dgram_open(&e, &ctx, sv[0], 0, NULL), -EBUSY);
    T_EQ(aios_dgram_open(&e, &ctx, -1, 0, NULL), -EINVAL);
    T_EQ(aios_dgram_fd(d), sv[0]);
    T_EQ(aios_recv(d, r.data, sizeof r.data, on_recv, &r), 0);
    T_EQ(send(sv[1], "pair", 4, 0), 4);
    T_CHECK(spin(&r.calls, 1));
    T_EQ(r.status, 4);
    T_EQ(aios_send(d, "back", 4, NULL, NULL, NULL), 0);   /* a connected pair: its peer is the default */
    t_spin_ms(&ctx, 10);
    T_EQ(recv(sv[1], r.data, sizeof r.data, MSG_DONTWAIT), 4);
    aios_ctx_close(&ctx);
    T_EQ(fcntl(sv[0], F_GETFD) >= 0, 1);  /* AIOS_NOCLOSE: still the program's */
    close(sv[0]); close(sv[1]); close(st[0]); close(st[1]);
}

/* ---- broadcast and multicast ---- */

static void test_broadcast_needs_its_option(void)
{
    aios_dgram_opts o;
    aios_dgram *a, *b;
    aios_addr bc;
    sent s;
    rec r;
    memset(&s, 0, sizeof s);
    memset(&r, 0, sizeof r);
    setup();
    aios_dgram_opts_init(&o);
    o.family = 4;
    T_REQUIRE((a = udp_on("127.0.0.1", NULL)) && (b = udp_on(NULL, &o)));
    aios_addr_set(&bc, "127.255.255.255", aios_dgram_port(b));
    T_EQ(aios_send(a, "all", 3, &bc, on_sent, &s), 0);
    T_CHECK(spin(&s.calls, 1));
    T_EQ(s.status, -EACCES);
    T_EQ(aios_dgram_broadcast(a, 1), 0);
    T_EQ(aios_recv(b, r.data, sizeof r.data, on_recv, &r), 0);
    T_EQ(aios_send(a, "all", 3, &bc, on_sent, &s), 0);
    T_CHECK(spin(&r.calls, 1));
    T_EQ(s.order[1], 0);
    T_EQ(r.status, 3);
    aios_ctx_close(&ctx);
}

/* ---- addresses ---- */

static void test_addresses(void)
{
    aios_addr a, b;
    char text[80];
    T_EQ(aios_addr_set(&a, "192.0.2.7", 53), 0);
    T_EQ(aios_addr_port(&a), 53);
    T_EQ(aios_format_addr(aios_addr_sa(&a), text, sizeof text), 12);
    T_STREQ(text, "192.0.2.7:53");
    T_EQ(aios_addr_set(&b, "192.0.2.7", 53), 0);
    T_CHECK(aios_addr_equal(&a, &b));
    T_EQ(aios_addr_set(&b, "192.0.2.7", 54), 0);
    T_CHECK(!aios_addr_equal(&a, &b));
    T_EQ(aios_addr_set(&a, "[2001:db8::1]", 5353), 0);
    T_EQ(aios_addr_sa(&a)->sa_family, AF_INET6);
    T_CHECK(aios_format_addr(aios_addr_sa(&a), text, sizeof text) > 0);
    T_STREQ(text, "[2001:db8::1]:5353");
    T_EQ(aios_addr_set(&a, "ff02::fb%lo", 5353), 0);
    T_EQ((int)((const struct sockaddr_in6 *)(const void *)aios_addr_sa(&a))->sin6_scope_id, (int)if_nametoindex("lo"));
    T_EQ(aios_addr_set(&a, "ff02::fb%no-such-if0", 1), -ENODEV);
    T_EQ(aios_addr_set(&a, "example.com", 53), -EINVAL);   /* numeric only */
    T_EQ(aios_addr_set(&a, "1.2.3.4", 70000), -EINVAL);
    T_EQ(aios_addr_unix(&a, "/run/x.sock"), 0);
    T_EQ(aios_addr_sa(&a)->sa_family, AF_UNIX);
    T_EQ(aios_addr_port(&a), 0);
    T_EQ(aios_addr_unix(&b, "@x.sock"), 0);
    T_CHECK(!aios_addr_equal(&a, &b));
    T_EQ(b.len, offsetof(struct sockaddr_un, sun_path) + 7);
    T_EQ(aios_addr_unix(&a, ""), -ENAMETOOLONG);
}

static void test_bad_arguments(void)
{
    aios_dgram *d;
    aios_addr none;
    char buf[4];
    setup();
    memset(&none, 0, sizeof none);
    T_EQ(aios_udp_open(NULL, &ctx, NULL, 0, NULL), -EINVAL);
    T_EQ(aios_udp_open(&d, &ctx, NULL, 70000, NULL), -EINVAL);
    T_EQ(aios_udp_open(&d, &ctx, "not-numeric", 0, NULL), -EINVAL);
    T_REQUIRE((d = udp_on("127.0.0.1", NULL)) != NULL);
    T_EQ(aios_recv(d, NULL, 4, on_recv, NULL), -EINVAL);
    T_EQ(aios_recv(d, buf, sizeof buf, NULL, NULL), -EINVAL);
    T_EQ(aios_send(d, NULL, 4, NULL, NULL, NULL), -EINVAL);
    T_EQ(aios_send(d, "x", 1, &none, NULL, NULL), -EINVAL);
    T_EQ(aios_send(NULL, "x", 1, &none, NULL, NULL), -EINVAL);
    T_EQ(aios_dgram_close(NULL, NULL, NULL), -EINVAL);
    aios_ctx_close(&ctx);
}

static void on_sig_closed(aios_signal *sig, const aios_siginfo *info, void *ud)
{
    (void)sig; (void)info;
    ++*(int *)ud;
}

/* Sizes near SIZE_MAX: with an unbounded queue (send_hwm SIZE_MAX) a
 * length from a failed computation must be refused, not wrap the size
 * check into a small allocation and a huge copy (found in review). */
static void test_send_sizes_never_wrap(void)
{
    aios_dgram_opts o;
    aios_dgram *d;
    aios_addr to;
    setup();
    aios_dgram_opts_init(&o);
    o.send_hwm = (size_t)-1;
    T_REQUIRE((d = udp_on("127.0.0.1", &o)) != NULL);
    to = addr_of("127.0.0.1", d);
    T_EQ(aios_send(d, "x", (size_t)-1, &to, NULL, NULL), -EMSGSIZE);
    T_EQ(aios_send(d, "x", (size_t)-1 - 8, &to, NULL, NULL), -EMSGSIZE);
    T_EQ(aios_send_queued(d), 0);
    T_EQ(aios_send(d, "x", 1, &to, NULL, NULL), 0);   /* the socket still works */
    aios_ctx_close(&ctx);
}

/* One owner per descriptor: a stream or a second datagram socket on the
 * descriptor a datagram socket holds is refused, so the receive waiting
 * on it is not cut off from its readiness (found in review). */
static void test_a_held_descriptor_is_refused_to_streams_too(void)
{
    aios_dgram *d, *d2;
    aios_stream *st;
    char buf[8];
    static rec r;
    setup();
    memset(&r, 0, sizeof r);
    T_REQUIRE((d = udp_on("127.0.0.1", NULL)) != NULL);
    T_EQ(aios_recv(d, buf, sizeof buf, on_recv, &r), 0);
    T_EQ(aios_stream_open(&st, &ctx, aios_dgram_fd(d), AIOS_NOCLOSE), -EBUSY);
    T_EQ(aios_dgram_open(&d2, &ctx, aios_dgram_fd(d), AIOS_NOCLOSE, NULL), -EBUSY);
    aios_ctx_close(&ctx);
    T_EQ(r.calls, 1);   /* the receive ends once, at the close */
    T_EQ(r.status, -ECANCELED);
}

/* A closed context has no allocator: a watcher is refused, no crash. */
static void test_signal_on_a_closed_context_is_refused(void)
{
    aios_signal w;
    int got = 0;
    setup();
    aios_ctx_close(&ctx);
    aios_signal_init(&w, on_sig_closed, &got);
    T_EQ(aios_signal_start(&w, &ctx, SIGUSR1), -EINVAL);
    T_EQ(aios_signal_active(&w), 0);
}

/* ---- the context's signal watcher ---- */

static void on_sig(aios_signal *sig, const aios_siginfo *info, void *ud)
{
    (void)sig;
    *(int *)ud = info->signo;
}

static void test_signal_through_the_context(void)
{
    aios_signal w;
    int got = 0;
    setup();
    aios_signal_init(&w, on_sig, &got);
    T_EQ(aios_signal_start(&w, &ctx, SIGUSR1), 0);
    T_EQ(aios_signal_start(&w, &ctx, SIGKILL), -EINVAL);   /* refused: it stays on SIGUSR1 */
    T_EQ(aios_signal_start(&w, &ctx, SIGUSR1), 0);
    T_EQ(kill(getpid(), SIGUSR1), 0);
    T_EQ(aios_run_once(&ctx, AIOS_SEC(5)), 1);   /* the watcher keeps the context alive */
    T_EQ(got, SIGUSR1);
    T_EQ(aios_signal_stop(&w, &ctx), 0);
    T_EQ(aios_run_once(&ctx, 0), 0);
    aios_ctx_close(&ctx);
}

int main(void)
{
    t_suite("aio_dgram");
    T_RUN(test_udp_round_trip_names_the_sender);
    T_RUN(test_empty_datagram_is_status_zero);
    T_RUN(test_truncation_is_reported_never_silent);
    T_RUN(test_dual_stack_socket_takes_ipv4_and_ipv6);
    T_RUN(test_dual_stack_socket_replies_to_an_ipv4_peer);
    T_RUN(test_ipv6_only_and_ipv4_only_sockets);
    T_RUN(test_a_datagram_waiting_still_completes_from_dispatch);
    T_RUN(test_one_recvmmsg_takes_a_batch);
    T_RUN(test_recv_max_bounds_an_iteration);
    T_RUN(test_sends_complete_in_order);
    T_RUN(test_full_send_queue_is_eagain);
    T_RUN(test_a_refused_datagram_fails_alone);
    T_RUN(test_connected_socket);
    T_RUN(test_close_ends_everything_once_in_order);
    T_RUN(test_close_from_its_own_callback);
    T_RUN(test_ctx_close_delivers_every_callback);
    T_RUN(test_unix_dgram_round_trip);
    T_RUN(test_unix_dgram_stale_file_replaced_live_one_refused);
    T_RUN(test_dgram_open_wraps_any_datagram_socket);
    T_RUN(test_broadcast_needs_its_option);
    T_RUN(test_addresses);
    T_RUN(test_bad_arguments);
    T_RUN(test_send_sizes_never_wrap);
    T_RUN(test_a_held_descriptor_is_refused_to_streams_too);
    T_RUN(test_signal_on_a_closed_context_is_refused);
    T_RUN(test_signal_through_the_context);
    return t_done();
}
