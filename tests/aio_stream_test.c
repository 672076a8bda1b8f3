/* tests/aio_stream_test.c - buffered streams, the loop contract, TCP, Unix
 * sockets and serial ports of aio_stream.h (shapes 1 and 3). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Hooks (see the manual's options): an allocator that fails on request, a
 * sendmsg that records how many buffers each call gathered, and a resolver
 * that can be slow or answer "fake.*" names with addresses of the test's. */
static int t_fail_alloc_in = -1;  /* fail the allocation this many calls ahead; -1: never */
static int t_alloc_fails(void) { return t_fail_alloc_in >= 0 && t_fail_alloc_in-- == 0; }
static void *t_malloc(size_t n) { return t_alloc_fails() ? NULL : malloc(n); }
static void *t_realloc(void *p, size_t n) { return t_alloc_fails() ? NULL : realloc(p, n); }

static int t_sendmsg_calls, t_sendmsg_max_iov;
static ssize_t t_sendmsg(int fd, const struct msghdr *m, int flags)
{
    t_sendmsg_calls++;
    if ((int)m->msg_iovlen > t_sendmsg_max_iov) t_sendmsg_max_iov = (int)m->msg_iovlen;
    return sendmsg(fd, m, flags);
}

static int t_resolve_delay_ms, t_resolve_calls, t_resolve_returned;  /* read by resolver threads: atomics */
static struct sockaddr_storage t_fake_addrs[4];
static int t_fake_naddrs;
static char t_fake_mark[] = "fake";
static int t_getaddrinfo(const char *host, const char *serv, const struct addrinfo *hints, struct addrinfo **res)
{
    int delay_ms = __atomic_load_n(&t_resolve_delay_ms, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&t_resolve_calls, 1, __ATOMIC_SEQ_CST);
    if (delay_ms > 0) {
        struct timespec ts;
        ts.tv_sec = delay_ms / 1000;
        ts.tv_nsec = (long)(delay_ms % 1000) * 1000000L;
        nanosleep(&ts, NULL);
        __atomic_add_fetch(&t_resolve_returned, 1, __ATOMIC_SEQ_CST);
    }
    if (strcmp(host, "fake.nx") == 0) return EAI_NONAME;
    if (strncmp(host, "fake.", 5) == 0) {
        struct addrinfo *head = NULL, **tail = &head;
        int i;
        for (i = 0; i < t_fake_naddrs; i++) {
            struct addrinfo *a = (struct addrinfo *)calloc(1, sizeof *a);
            a->ai_family = t_fake_addrs[i].ss_family;
            a->ai_socktype = SOCK_STREAM;
            a->ai_addr = (struct sockaddr *)&t_fake_addrs[i];
            a->ai_addrlen = a->ai_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
            a->ai_canonname = t_fake_mark;
            *tail = a;
            tail = &a->ai_next;
        }
        *res = head;
        return head ? 0 : EAI_NONAME;
    }
    return getaddrinfo(host, serv, hints, res);
}
static void t_freeaddrinfo(struct addrinfo *a)
{
    if (!a || a->ai_canonname != t_fake_mark) { freeaddrinfo(a); return; }
    while (a) { struct addrinfo *next = a->ai_next; free(a); a = next; }
}

#define AIOS_MALLOC(n) t_malloc(n)
#define AIOS_REALLOC(p, n) t_realloc((p), (n))
#define AIOS_FREE(p) free(p)
#define AIOS_SYS_SENDMSG(fd, msg, flags) t_sendmsg((fd), (msg), (flags))
#define AIOS_SYS_GETADDRINFO(h, s, hints, res) t_getaddrinfo((h), (s), (hints), (res))
#define AIOS_SYS_FREEADDRINFO(res) t_freeaddrinfo(res)
#include "aio_common.h"

#include <poll.h>
#include <termios.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#if defined(__GLIBC__)
#include <pty.h>
#else
#include <pty.h>
#endif

static aios_ctx ctx;

static void setup(void) { aios_ctx_init(&ctx); }
static void teardown(void) { aios_ctx_close(&ctx); }

/* ---- reading ---- */

static void test_read_some_delivers_bytes(void)
{
    aios_stream *s; int peer; char buf[64]; t_rec r = {0};
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    t_write_full(peer, "hello", 5);
    T_EQ(aios_read(s, buf, sizeof buf, t_rec_cb, &r), 0);
    T_EQ(r.calls, 0); /* never inside the starting call */
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    T_EQ(r.status, 5);
    T_MEMEQ(buf, "hello", 5);
    close(peer);
    teardown();
}

static void test_read_some_at_eof_gives_zero(void)
{
    aios_stream *s; int peer; char buf[8]; t_rec r = {0};
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    close(peer);
    aios_read(s, buf, sizeof buf, t_rec_cb, &r);
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    T_EQ(r.status, 0);
    teardown();
}

static void test_read_exactly_assembles_pieces(void)
{
    aios_stream *s; int peer; char buf[10]; t_rec r = {0};
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    aios_read_exactly(s, buf, 10, t_rec_cb, &r);
    t_write_full(peer, "0123", 4);
    aios_run_once(&ctx, AIOS_MS(20));
    T_EQ(r.calls, 0);
    t_write_full(peer, "456789xyz", 9);
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    T_EQ(r.status, 10);
    T_MEMEQ(buf, "0123456789", 10);
    /* the rest stays for the next read */
    r.calls = 0;
    aios_read_exactly(s, buf, 3, t_rec_cb, &r);
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    T_EQ(r.status, 3);
    T_MEMEQ(buf, "xyz", 3);
    close(peer);
    teardown();
}

static void test_read_exactly_at_eof_says_how_many(void)
{
    aios_stream *s; int peer; char buf[10]; t_rec r = {0};
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    t_write_full(peer, "abc", 3);
    close(peer);
    aios_read_exactly(s, buf, 10, t_rec_cb, &r);
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    T_EQ(r.status, AIOS_EINCOMPLETE);
    T_EQ(r.len, 3);
    T_MEMEQ(buf, "abc", 3);
    teardown();
}

static void test_read_until_splits_delimiter_across_reads(void)
{
    aios_stream *s; int peer; t_rec r = {0};
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    aios_read_until(s, "\r\n", 2, 100, t_line_cb, &r);
    t_write_full(peer, "GET / HTTP/1.1\r", 15);
    aios_run_once(&ctx, AIOS_MS(20));
    T_EQ(r.calls, 0);
    t_write_full(peer, "\nHost", 5);
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    T_EQ(r.status, 16);
    T_STREQ(r.data, "GET / HTTP/1.1\r\n");
    close(peer);
    teardown();
}

static void test_read_until_byte_by_byte(void)
{
    aios_stream *s; int peer; t_rec r = {0}; int i;
    const char *msg = "abcabcabXYZ";
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    aios_read_until(s, "abXYZ", 5, 100, t_line_cb, &r);
    for (i = 0; msg[i]; i++) {
        t_write_full(peer, msg + i, 1);
        aios_run_once(&ctx, AIOS_MS(5));
    }
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    T_EQ(r.status, 11);
    T_STREQ(r.data, msg);
    close(peer);
    teardown();
}

static void test_read_until_over_max_is_too_long(void)
{
    aios_stream *s; int peer; t_rec r = {0}; char junk[300]; size_t n;
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    memset(junk, 'a', sizeof junk);
    t_write_full(peer, junk, sizeof junk);
    aios_read_until(s, "\n", 1, 100, t_line_cb, &r);
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    T_EQ(r.status, AIOS_ETOOLONG);
    aios_data(s, &n);
    T_CHECK(n >= 100);
    close(peer);
    teardown();
}

static void test_read_until_at_eof_is_incomplete(void)
{
    aios_stream *s; int peer; t_rec r = {0};
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    t_write_full(peer, "partial", 7);
    close(peer);
    aios_read_until(s, "\n", 1, 100, t_line_cb, &r);
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    T_EQ(r.status, AIOS_EINCOMPLETE);
    teardown();
}

static void test_read_until_buffer_stays_at_high_water(void)
{
    aios_stream *s; int peer; t_rec r = {0}; char junk[8192]; size_t n; int i;
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    fcntl(peer, F_SETFL, O_NONBLOCK);
    memset(junk, 'z', sizeof junk);
    for (i = 0; i < 64; i++) if (write(peer, junk, sizeof junk) < 0) break;
    aios_set_limits(s, 4096, 0);
    aios_read_until(s, "\n", 1, 1000, t_line_cb, &r);
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    T_EQ(r.status, AIOS_ETOOLONG);
    aios_data(s, &n);
    T_CHECK(n <= 4096);
    close(peer);
    teardown();
}

static void test_peek_then_consume(void)
{
    aios_stream *s; int peer; t_rec r = {0}; size_t n; const char *p;
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    aios_peek(s, 4, t_rec_cb, &r);
    t_write_full(peer, "ab", 2);
    aios_run_once(&ctx, AIOS_MS(20));
    T_EQ(r.calls, 0);
    t_write_full(peer, "cdef", 4);
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    T_CHECK(r.status >= 4);
    p = aios_data(s, &n);
    T_CHECK(n >= 4);
    T_MEMEQ(p, "abcd", 4);
    aios_consume(s, 2);
    p = aios_data(s, &n);
    T_MEMEQ(p, "cd", 2);
    close(peer);
    teardown();
}

static void test_second_read_is_busy(void)
{
    aios_stream *s; int peer; char buf[4]; t_rec r = {0};
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    T_EQ(aios_read(s, buf, 4, t_rec_cb, &r), 0);
    T_EQ(aios_read(s, buf, 4, t_rec_cb, &r), -EBUSY);
    T_EQ(aios_read(NULL, buf, 4, t_rec_cb, &r), -EINVAL);
    T_EQ(aios_read_until(s, "", 0, 10, t_rec_cb, &r), -EINVAL);
    T_EQ(aios_read_until(s, "123456789", 9, 100, t_rec_cb, &r), -EINVAL); /* delimiters hold 1 to 8 bytes */
    close(peer);
    teardown();
    T_EQ(r.calls, 1); /* the started one was cancelled by the context close */
    T_EQ(r.status, -ECANCELED);
}

static void test_read_timeout(void)
{
    aios_stream *s; int peer; char buf[4]; t_rec r = {0}, r2 = {0};
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    aios_set_timeouts(s, AIOS_MS(30), 0);
    aios_read(s, buf, 4, t_rec_cb, &r);
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    T_EQ(r.status, -ETIMEDOUT);
    /* the stream is still usable */
    aios_set_timeouts(s, 0, 0);
    t_write_full(peer, "ok", 2);
    aios_read(s, buf, 4, t_rec_cb, &r2);
    T_CHECK(t_spin(&ctx, &r2.calls, 1));
    T_EQ(r2.status, 2);
    close(peer);
    teardown();
}

/* A chain of continuations: each line's callback starts the next read. */
static int chain_lines;
static void chain_cb(aios_stream *s, int status, void *ud)
{
    (void)ud;
    if (status <= 0) return;
    aios_consume(s, (size_t)status);
    chain_lines++;
    aios_read_until(s, "\n", 1, 64, chain_cb, NULL);
}

static void test_callback_starts_next_read(void)
{
    aios_stream *s; int peer; int i;
    char text[1000];
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    for (i = 0; i < 100; i++) memcpy(text + i * 10, "line 0000\n", 10), text[i * 10 + 5] = (char)('0' + i % 10);
    t_write_full(peer, text, sizeof text);
    chain_lines = 0;
    aios_read_until(s, "\n", 1, 64, chain_cb, NULL);
    T_CHECK(t_spin(&ctx, &chain_lines, 100));
    T_EQ(chain_lines, 100);
    close(peer);
    teardown();
}

/* ---- writing ---- */

static void test_write_reaches_peer(void)
{
    aios_stream *s; int peer; t_rec r = {0}; char buf[16] = {0};
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    T_EQ(aios_write(s, "ping", 4, t_rec_cb, &r), 0);
    T_EQ(r.calls, 0);
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    T_EQ(r.status, 0);
    T_EQ(read(peer, buf, sizeof buf), 4);
    T_STREQ(buf, "ping");
    close(peer);
    teardown();
}

typedef struct {
    aios_stream *rd;
    char *buf;
    size_t got, want;
    uint32_t hash;
    int done;
} t_sink;

static void sink_cb(aios_stream *s, int status, void *ud)
{
    t_sink *k = (t_sink *)ud;
    if (status <= 0) { k->done = 1; return; }
    k->hash = t_hash(k->hash, k->buf, (size_t)status);
    k->got += (size_t)status;
    if (k->got >= k->want) { k->done = 1; return; }
    aios_read(s, k->buf, 65536, sink_cb, k);
}

static void test_large_writes_arrive_in_order(void)
{
    int sv[2], i; aios_stream *a, *b; t_rec w[4]; t_sink k;
    size_t sz = 3u << 20; char *src = (char *)malloc(sz); uint32_t want;
    setup();
    memset(w, 0, sizeof w);
    T_REQUIRE(src != NULL);
    for (i = 0; i < (int)sz; i++) src[i] = (char)(i * 7 + (i >> 13));
    T_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    aios_stream_open(&a, &ctx, sv[0], 0);
    aios_stream_open(&b, &ctx, sv[1], 0);
    memset(&k, 0, sizeof k);
    k.buf = (char *)malloc(65536);
    k.want = sz + 6;
    k.hash = 2166136261u;
    aios_read(b, k.buf, 65536, sink_cb, &k);
    /* a big no-copy write, a small copied one, another big one, another small one */
    T_EQ(aios_write(a, src, sz / 2, t_rec_cb, &w[0]), 0);
    T_EQ(aios_write_copy(a, "<mid>", 5, t_rec_cb, &w[1]), 0);
    T_EQ(aios_write(a, src + sz / 2, sz - sz / 2, t_rec_cb, &w[2]), 0);
    T_EQ(aios_write_copy(a, "!", 1, t_rec_cb, &w[3]), 0);
    T_CHECK(t_spin(&ctx, &k.done, 1));
    T_CHECK(t_spin(&ctx, &w[3].calls, 1));
    want = t_hash(2166136261u, src, sz / 2);
    want = t_hash(want, "<mid>", 5);
    want = t_hash(want, src + sz / 2, sz - sz / 2);
    want = t_hash(want, "!", 1);
    T_EQ(k.got, sz + 6);
    T_EQ(k.hash, want);
    for (i = 0; i < 4; i++) { T_EQ(w[i].calls, 1); T_EQ(w[i].status, 0); }
    free(k.buf);
    free(src);
    teardown();
}

static void test_write_copy_full_at_high_water(void)
{
    aios_stream *s; int peer; char chunk[4096]; int i, r = 0, full = 0; t_rec d = {0};
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    memset(chunk, 'q', sizeof chunk);
    aios_set_limits(s, 0, 32768);
    for (i = 0; i < 1000; i++) {
        r = aios_write_copy(s, chunk, sizeof chunk, NULL, NULL);
        if (r == -EAGAIN) { full = 1; break; }
        T_EQ(r, 0);
    }
    T_CHECK(full);
    T_CHECK(aios_write_queued(s) <= 32768 + sizeof chunk);
    /* once the peer reads, a drain to zero completes */
    fcntl(peer, F_SETFL, O_NONBLOCK);
    aios_drain(s, 0, t_rec_cb, &d);
    while (d.calls == 0) {
        char sinkbuf[65536];
        while (read(peer, sinkbuf, sizeof sinkbuf) > 0) {}
        aios_run_once(&ctx, AIOS_MS(10));
    }
    T_EQ(d.status, 0);
    T_EQ(aios_write_queued(s), 0);
    close(peer);
    teardown();
}

static void test_write_timeout(void)
{
    aios_stream *s; int peer; t_rec r = {0}; size_t sz = 8u << 20; char *big = (char *)calloc(1, sz);
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    aios_set_timeouts(s, 0, AIOS_MS(50));
    aios_write(s, big, sz, t_rec_cb, &r);
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    T_EQ(r.status, -ETIMEDOUT);
    close(peer);
    teardown();
    free(big);
}

static void test_write_to_closed_peer_fails_without_sigpipe(void)
{
    aios_stream *s; int peer; t_rec r = {0}; char *big = (char *)calloc(1, 1 << 20);
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    close(peer);
    aios_write(s, big, 1 << 20, t_rec_cb, &r);
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    T_EQ(r.status, -EPIPE);
    teardown();
    free(big);
}

static void test_shutdown_half_closes(void)
{
    aios_stream *s; int peer; t_rec w = {0}, sh = {0}, rd = {0}; char buf[16]; ssize_t n;
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    aios_write(s, "last", 4, t_rec_cb, &w);
    T_EQ(aios_shutdown(s, t_rec_cb, &sh), 0);
    T_EQ(aios_write(s, "x", 1, NULL, NULL), -EPIPE);
    T_CHECK(t_spin(&ctx, &sh.calls, 1));
    T_EQ(w.status, 0);
    T_EQ(sh.status, 0);
    n = read(peer, buf, sizeof buf);
    T_EQ(n, 4);
    T_EQ(read(peer, buf, sizeof buf), 0); /* end of stream */
    /* the other direction still works */
    t_write_full(peer, "back", 4);
    aios_read(s, buf, sizeof buf, t_rec_cb, &rd);
    T_CHECK(t_spin(&ctx, &rd.calls, 1));
    T_EQ(rd.status, 4);
    close(peer);
    teardown();
}

static void test_pipe_stream(void)
{
    int p[2]; aios_stream *rd, *wr; char buf[32]; t_rec r = {0}, w = {0};
    setup();
    T_REQUIRE(pipe(p) == 0);
    aios_stream_open(&rd, &ctx, p[0], 0);
    aios_stream_open(&wr, &ctx, p[1], 0);
    aios_write(wr, "through a pipe", 14, t_rec_cb, &w);
    aios_read_exactly(rd, buf, 14, t_rec_cb, &r);
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    T_EQ(r.status, 14);
    T_MEMEQ(buf, "through a pipe", 14);
    T_EQ(w.status, 0);
    T_EQ(aios_shutdown(wr, NULL, NULL), -ENOTSOCK);
    teardown();
}

/* ---- closing ---- */

static int order_log[8], order_n;
static void order_cb(aios_stream *s, int status, void *ud)
{
    (void)s;
    if (order_n < 8) order_log[order_n++] = (int)(intptr_t)ud * 1000 + (status < 0 ? -status : status);
}

static void test_close_cancels_everything_once(void)
{
    aios_stream *s; int peer; char buf[8]; size_t sz = 8u << 20; char *big = (char *)calloc(1, sz);
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    order_n = 0;
    aios_read(s, buf, sizeof buf, order_cb, (void *)1);
    aios_write(s, big, sz, order_cb, (void *)2);
    aios_drain(s, 0, order_cb, (void *)3);
    T_EQ(aios_close(s, order_cb, (void *)4), 0);
    T_EQ(order_n, 0);
    aios_run_once(&ctx, 0);
    aios_run_once(&ctx, 0);
    T_EQ(order_n, 4);
    T_EQ(order_log[0], 1000 + ECANCELED);
    T_EQ(order_log[1], 2000 + ECANCELED);
    T_EQ(order_log[2], 3000 + ECANCELED);
    T_EQ(order_log[3], 4000);
    close(peer);
    teardown();
    T_EQ(order_n, 4);
    free(big);
}

static int closed_inside;
static void close_self_cb(aios_stream *s, int status, void *ud)
{
    (void)status; (void)ud;
    T_EQ(aios_close(s, NULL, NULL), 0);
    T_EQ(aios_close(s, NULL, NULL), AIOS_ECLOSED);
    closed_inside++;
}

static void test_callback_may_close_its_stream(void)
{
    aios_stream *s; int peer; char buf[8]; t_rec w = {0};
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    closed_inside = 0;
    t_write_full(peer, "x", 1);
    aios_write(s, "unsent?", 7, t_rec_cb, &w);
    aios_read(s, buf, sizeof buf, close_self_cb, NULL);
    T_CHECK(t_spin(&ctx, &closed_inside, 1));
    T_CHECK(t_spin(&ctx, &w.calls, 1));
    T_EQ(w.calls, 1);
    close(peer);
    teardown();
    T_EQ(closed_inside, 1);
}

static void test_close_graceful_flushes_then_closes(void)
{
    aios_stream *s; int peer; t_rec w = {0}, c = {0}, rd = {0}; char buf[64]; char got[64]; size_t n = 0; ssize_t k;
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    aios_read(s, buf, sizeof buf, t_rec_cb, &rd);
    aios_write_copy(s, "goodbye", 7, t_rec_cb, &w);
    T_EQ(aios_close_graceful(s, AIOS_MS(1000), t_rec_cb, &c), 0);
    T_EQ(aios_write(s, "late", 4, NULL, NULL), AIOS_ECLOSED);
    T_CHECK(t_spin(&ctx, &c.calls, 1));
    T_EQ(rd.status, -ECANCELED);
    T_EQ(w.status, 0);
    T_EQ(c.status, 0);
    while ((k = read(peer, got + n, sizeof got - n)) > 0) n += (size_t)k;
    T_EQ(n, 7);
    T_MEMEQ(got, "goodbye", 7);
    close(peer);
    teardown();
}

static void test_close_graceful_gives_up_after_timeout(void)
{
    aios_stream *s; int peer; t_rec w = {0}, c = {0}; size_t sz = 8u << 20; char *big = (char *)calloc(1, sz);
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    aios_write(s, big, sz, t_rec_cb, &w);
    aios_close_graceful(s, AIOS_MS(30), t_rec_cb, &c);
    T_CHECK(t_spin(&ctx, &c.calls, 1));
    T_EQ(c.status, -ETIMEDOUT);   /* the close says it gave up */
    T_EQ(w.status, -ECANCELED);   /* the write it dropped was cancelled */
    T_EQ(c.calls, 1);
    close(peer);
    teardown();
    free(big);
}

static void test_abort_during_graceful_close_keeps_one_close_callback(void)
{
    aios_stream *s; int peer; t_rec w = {0}, g = {0}, other = {0}; size_t sz = 8u << 20; char *big = (char *)calloc(1, sz);
    setup();
    T_REQUIRE(big && t_pair(&ctx, &s, &peer) == 0);
    aios_write(s, big, sz, t_rec_cb, &w); /* the peer never reads: the flush cannot finish */
    T_EQ(aios_close_graceful(s, AIOS_MS(10000), t_rec_cb, &g), 0);
    T_EQ(aios_close(s, t_rec_cb, &other), -EBUSY); /* would orphan the graceful callback */
    T_EQ(aios_close(s, NULL, NULL), 0);                /* cuts it short */
    T_CHECK(t_spin(&ctx, &g.calls, 1));
    t_spin_ms(&ctx, 20);
    T_EQ(g.calls, 1);
    T_EQ(other.calls, 0);
    T_EQ(w.calls, 1);
    T_EQ(w.status, -ECANCELED);
    close(peer);
    teardown();
    free(big);
}

static void test_ctx_close_delivers_pending(void)
{
    aios_stream *s; int peer; char buf[8]; t_rec r = {0}, c = {0};
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    aios_read(s, buf, sizeof buf, t_rec_cb, &r);
    aios_run_once(&ctx, 0);
    aios_stream_set_ud(s, &c);
    teardown();
    T_EQ(r.calls, 1);
    T_EQ(r.status, -ECANCELED);
    close(peer);
}

/* ---- the loop contract (shape 3: a foreign poll loop) ---- */

/* With epoll the context is one descriptor (its epoll set) whatever it
 * holds; with poll, one entry per descriptor waiting for something. */
static void test_prepare_reports_count_beyond_cap(void)
{
    aios_stream *s[3]; int peer[3], i, n, want; char buf[3][4]; struct pollfd fds[8]; int64_t dl = INT64_MAX;
#if defined(ASYNCKIT_POLL)
    want = 3;
#else
    want = 1;
#endif
    setup();
    for (i = 0; i < 3; i++) {
        T_REQUIRE(t_pair(&ctx, &s[i], &peer[i]) == 0);
        aios_read(s[i], buf[i], 4, NULL, NULL);
    }
    n = aios_prepare(&ctx, fds, 0, &dl);
    T_EQ(n, want);
    T_EQ(dl, INT64_MAX);
    n = aios_prepare(&ctx, fds, 8, &dl);
    T_EQ(n, want);
    for (i = 0; i < n; i++) T_EQ(fds[i].events, POLLIN);
    aios_dispatch(&ctx, fds, n);
    for (i = 0; i < 3; i++) close(peer[i]);
    teardown();
}

static void test_deferred_completion_makes_deadline_due(void)
{
    aios_stream *s; int peer; char buf[8]; struct pollfd fds[4]; int64_t dl = INT64_MAX; t_rec r = {0};
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    t_write_full(peer, "abcdef", 6);
    aios_peek(s, 6, t_rec_cb, &r);
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    /* the bytes are buffered: the next read completes without polling */
    aios_read(s, buf, sizeof buf, t_rec_cb, &r);
    aios_prepare(&ctx, fds, 4, &dl);
    T_CHECK(dl <= aios_now_ns());
    aios_dispatch(&ctx, fds, 0);
    T_EQ(r.calls, 2);
    T_EQ(r.status, 6);
    close(peer);
    teardown();
}

static void test_prepare_lowers_deadline_for_timeout(void)
{
    aios_stream *s; int peer; char buf[4]; struct pollfd fds[4]; int64_t dl, before;
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    aios_set_timeouts(s, AIOS_MS(5000), 0);
    before = aios_now_ns();
    aios_read(s, buf, 4, NULL, NULL);
    dl = INT64_MAX;
    aios_prepare(&ctx, fds, 4, &dl);
    aios_dispatch(&ctx, fds, 0);
    dl = INT64_MAX;
    aios_prepare(&ctx, fds, 4, &dl);
    T_CHECK(dl > before && dl <= aios_now_ns() + (int64_t)5000 * 1000000);
    dl = before; /* an earlier deadline of the caller stays */
    aios_prepare(&ctx, fds, 4, &dl);
    T_EQ(dl, before);
    close(peer);
    teardown();
}

typedef struct { aios_stream *s; char buf[512]; int echoed; char peer[64]; } t_echo;
static void echo_read_cb(aios_stream *s, int status, void *ud);
static void echo_write_cb(aios_stream *s, int status, void *ud)
{
    t_echo *e = (t_echo *)ud;
    if (status < 0) { aios_close(s, NULL, NULL); return; }
    aios_read(s, e->buf, sizeof e->buf, echo_read_cb, e);
}
static void echo_read_cb(aios_stream *s, int status, void *ud)
{
    t_echo *e = (t_echo *)ud;
    if (status <= 0) { aios_close(s, NULL, NULL); return; }
    e->echoed += status;
    aios_write(s, e->buf, (size_t)status, echo_write_cb, e);
}
static t_echo server_echo;
static void echo_on_conn(aios_server *srv, aios_stream *s, const struct sockaddr *peer, void *ud)
{
    (void)srv; (void)ud;
    if (aios_format_addr(peer, server_echo.peer, sizeof server_echo.peer) < 0) server_echo.peer[0] = 0;
    server_echo.s = s;
    aios_read(s, server_echo.buf, sizeof server_echo.buf, echo_read_cb, &server_echo);
}

static void test_foreign_poll_loop_runs_tcp_echo(void)
{
    aios_server srv; aios_stream *c; t_rec conn = {0}, rd = {0}; char buf[64];
    struct pollfd *fds = NULL; int cap = 0, guard;
    setup();
    memset(&server_echo, 0, sizeof server_echo);
    T_REQUIRE(aios_server_init(&srv, &ctx, NULL, echo_on_conn, NULL) == 0);
    T_EQ(aios_server_listen_tcp(&srv, "127.0.0.1", 0), 0);
    T_CHECK(aios_server_port(&srv) > 0);
    T_EQ(aios_tcp_connect(&c, &ctx, "127.0.0.1", aios_server_port(&srv), NULL, t_rec_cb, &conn), 0);
    aios_write(c, "foreign", 7, NULL, NULL);
    aios_read_exactly(c, buf, 7, t_rec_cb, &rd);
    for (guard = 0; guard < 2000 && rd.calls == 0; guard++) {
        int64_t dl = INT64_MAX, now;
        int n = aios_prepare(&ctx, fds, cap, &dl), ms;
        if (n > cap) { cap = n; fds = (struct pollfd *)realloc(fds, (size_t)cap * sizeof *fds); continue; }
        now = aios_now_ns();
        ms = dl == INT64_MAX ? 1000 : dl <= now ? 0 : (int)((dl - now) / 1000000 + 1);
        poll(fds, (nfds_t)n, ms);
        aios_dispatch(&ctx, fds, n);
    }
    T_EQ(conn.status, 0);
    T_EQ(rd.status, 7);
    T_MEMEQ(buf, "foreign", 7);
    free(fds);
    teardown();
}

/* ---- TCP ---- */

static void test_tcp_echo_ipv4_and_peer_address(void)
{
    aios_server srv; aios_stream *c; t_rec conn = {0}, rd = {0}; char buf[64];
    setup();
    memset(&server_echo, 0, sizeof server_echo);
    aios_server_init(&srv, &ctx, NULL, echo_on_conn, NULL);
    T_EQ(aios_server_listen_tcp(&srv, "127.0.0.1", 0), 0);
    aios_tcp_connect(&c, &ctx, "127.0.0.1", aios_server_port(&srv), NULL, t_rec_cb, &conn);
    aios_write(c, "over tcp", 8, NULL, NULL);
    aios_read_exactly(c, buf, 8, t_rec_cb, &rd);
    T_CHECK(t_spin(&ctx, &rd.calls, 1));
    T_EQ(conn.calls, 1);
    T_EQ(conn.status, 0);
    T_EQ(rd.status, 8);
    T_MEMEQ(buf, "over tcp", 8);
    T_EQ(srv.stats.accepted, 1);
    {   /* the handler saw the client's own address and port */
        struct sockaddr_in me; socklen_t l = sizeof me; char want[64];
        T_EQ(getsockname(aios_stream_fd(c), (struct sockaddr *)&me, &l), 0);
        snprintf(want, sizeof want, "127.0.0.1:%u", (unsigned)ntohs(me.sin_port));
        T_STREQ(server_echo.peer, want);
    }
    teardown();
}

static int have_ipv6(void)
{
    struct sockaddr_in6 a;
    int fd = socket(AF_INET6, SOCK_STREAM, 0), ok;
    if (fd < 0) return 0;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void test_tcp_echo_ipv6(void)
{
    aios_server srv; aios_stream *c; t_rec conn = {0}, rd = {0}; char buf[16];
    if (!have_ipv6()) return;
    setup();
    aios_server_init(&srv, &ctx, NULL, echo_on_conn, NULL);
    T_EQ(aios_server_listen_tcp(&srv, "::1", 0), 0);
    T_EQ(aios_tcp_connect(&c, &ctx, "[::1]", aios_server_port(&srv), NULL, t_rec_cb, &conn), 0);
    aios_write(c, "six", 3, NULL, NULL);
    aios_read_exactly(c, buf, 3, t_rec_cb, &rd);
    T_CHECK(t_spin(&ctx, &rd.calls, 1));
    T_EQ(conn.status, 0);
    T_EQ(rd.status, 3);
    teardown();
}

static void test_dual_stack_listener_accepts_ipv4_and_ipv6(void)
{
    aios_server srv; aios_stream *c; t_rec conn = {0}, rd = {0}; char buf[16];
    setup();
    aios_server_init(&srv, &ctx, NULL, echo_on_conn, NULL);
    T_EQ(aios_server_listen_tcp(&srv, NULL, 0), 0);
    aios_tcp_connect(&c, &ctx, "127.0.0.1", aios_server_port(&srv), NULL, t_rec_cb, &conn);
    aios_write(c, "dual", 4, NULL, NULL);
    aios_read_exactly(c, buf, 4, t_rec_cb, &rd);
    T_CHECK(t_spin(&ctx, &rd.calls, 1));
    T_EQ(rd.status, 4);
    if (have_ipv6()) {
        t_rec conn6 = {0}, rd6 = {0};
        T_EQ(aios_tcp_connect(&c, &ctx, "::1", aios_server_port(&srv), NULL, t_rec_cb, &conn6), 0);
        aios_write(c, "six!", 4, NULL, NULL);
        aios_read_exactly(c, buf, 4, t_rec_cb, &rd6);
        T_CHECK(t_spin(&ctx, &rd6.calls, 1));
        T_EQ(conn6.status, 0);
        T_EQ(rd6.status, 4);
        T_MEMEQ(buf, "six!", 4);
        T_EQ(srv.stats.accepted, 2);
    }
    teardown();
}

static void test_connect_by_name(void)
{
    aios_server srv; aios_stream *c; t_rec conn = {0}, rd = {0}; char buf[16];
    setup();
    aios_server_init(&srv, &ctx, NULL, echo_on_conn, NULL);
    T_EQ(aios_server_listen_tcp(&srv, "127.0.0.1", 0), 0);
    /* "localhost" may list ::1 first, where nobody listens: the next address must win */
    T_EQ(aios_tcp_connect(&c, &ctx, "localhost", aios_server_port(&srv), NULL, t_rec_cb, &conn), 0);
    aios_write(c, "name", 4, NULL, NULL);
    aios_read_exactly(c, buf, 4, t_rec_cb, &rd);
    T_CHECK(t_spin(&ctx, &rd.calls, 1));
    T_EQ(conn.status, 0);
    T_EQ(rd.status, 4);
    teardown();
}

static void test_close_during_resolution_cancels(void)
{
    aios_stream *c; t_rec conn = {0};
    setup();
    T_EQ(aios_tcp_connect(&c, &ctx, "localhost", 9, NULL, t_rec_cb, &conn), 0);
    aios_close(c, NULL, NULL);
    aios_run_once(&ctx, 0);
    T_EQ(conn.calls, 1);
    T_EQ(conn.status, -ECANCELED);
    teardown();
}

static int free_port(void)
{
    struct sockaddr_in a; socklen_t l = sizeof a; int fd = socket(AF_INET, SOCK_STREAM, 0), port;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void test_connect_refused(void)
{
    aios_stream *c; t_rec conn = {0}; char buf[4]; t_rec rd = {0};
    setup();
    aios_tcp_connect(&c, &ctx, "127.0.0.1", free_port(), NULL, t_rec_cb, &conn);
    T_CHECK(t_spin(&ctx, &conn.calls, 1));
    T_EQ(conn.status, -ECONNREFUSED);
    T_EQ(aios_read(c, buf, 4, t_rec_cb, &rd), -ENOTCONN);
    aios_close(c, NULL, NULL);
    teardown();
}

static void test_connect_timeout(void)
{
    /* A listener that never accepts, with its queue full, drops further SYNs. */
    struct sockaddr_in a; socklen_t l = sizeof a; int lfd, fillers[8], i; aios_stream *c;
    t_rec conn = {0}; aios_tcp_opts o;
    setup();
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(lfd, (struct sockaddr *)&a, sizeof a);
    listen(lfd, 0);
    getsockname(lfd, (struct sockaddr *)&a, &l);
    for (i = 0; i < 8; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fillers[i], (struct sockaddr *)&a, sizeof a);
    }
    aios_tcp_opts_init(&o);
    o.timeout_ns = AIOS_MS(150);
    aios_tcp_connect(&c, &ctx, "127.0.0.1", ntohs(a.sin_port), &o, t_rec_cb, &conn);
    T_CHECK(t_spin(&ctx, &conn.calls, 1));
    T_EQ(conn.status, -ETIMEDOUT);
    for (i = 0; i < 8; i++) close(fillers[i]);
    close(lfd);
    teardown();
}

static void test_bad_arguments_are_errors(void)
{
    aios_stream *c;
    setup();
    T_EQ(aios_tcp_connect(&c, &ctx, "127.0.0.1", 0, NULL, NULL, NULL), -EINVAL);
    T_EQ(aios_tcp_connect(&c, &ctx, NULL, 80, NULL, NULL, NULL), -EINVAL);
    T_EQ(aios_stream_open(&c, &ctx, -1, 0), -EINVAL);
    T_EQ(aios_serial_open(&c, &ctx, "/dev/null", 12345), -EINVAL);
    T_EQ(aios_write(NULL, "x", 1, NULL, NULL), -EINVAL);
    T_STREQ(aios_strerror(AIOS_ETOOLONG), "no delimiter within the maximum length");
    T_STREQ(aios_strerror(-ETIMEDOUT), strerror(ETIMEDOUT));
    teardown();
}

static void test_format_addr(void)
{
    struct sockaddr_in v4; struct sockaddr_in6 v6; char buf[64];
    memset(&v4, 0, sizeof v4);
    v4.sin_family = AF_INET;
    v4.sin_port = htons(8080);
    inet_pton(AF_INET, "10.1.2.3", &v4.sin_addr);
    T_EQ(aios_format_addr((struct sockaddr *)&v4, buf, sizeof buf), 13);
    T_STREQ(buf, "10.1.2.3:8080");
    memset(&v6, 0, sizeof v6);
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(443);
    inet_pton(AF_INET6, "fe80::1", &v6.sin6_addr);
    aios_format_addr((struct sockaddr *)&v6, buf, sizeof buf);
    T_STREQ(buf, "[fe80::1]:443");
    T_EQ(aios_format_addr((struct sockaddr *)&v6, buf, 4), -ENOSPC);
}

/* ---- server limits and shutdown ---- */

static aios_stream *held[8];
static int nheld;
static void hold_on_conn(aios_server *srv, aios_stream *s, const struct sockaddr *peer, void *ud)
{
    (void)srv; (void)peer; (void)ud;
    if (nheld < 8) held[nheld++] = s;
}

static void test_max_conns_rejects_extra(void)
{
    aios_server srv; aios_server_config cfg; aios_stream *c[3]; t_rec conn[3], rd = {0}; char buf[4]; int i;
    setup();
    nheld = 0;
    memset(conn, 0, sizeof conn);
    aios_server_config_init(&cfg);
    cfg.max_conns = 2;
    aios_server_init(&srv, &ctx, &cfg, hold_on_conn, NULL);
    aios_server_listen_tcp(&srv, "127.0.0.1", 0);
    for (i = 0; i < 2; i++) {
        aios_tcp_connect(&c[i], &ctx, "127.0.0.1", aios_server_port(&srv), NULL, t_rec_cb, &conn[i]);
        T_CHECK(t_spin(&ctx, &nheld, i + 1));
    }
    aios_tcp_connect(&c[2], &ctx, "127.0.0.1", aios_server_port(&srv), NULL, t_rec_cb, &conn[2]);
    aios_read(c[2], buf, 4, t_rec_cb, &rd);
    T_CHECK(t_spin(&ctx, &rd.calls, 1));
    T_CHECK(rd.status <= 0); /* closed at once: end of stream or reset */
    T_EQ(srv.stats.rejected, 1);
    T_EQ(nheld, 2);
    teardown();
}

static void test_max_conns_pause_waits_for_a_slot(void)
{
    aios_server srv; aios_server_config cfg; aios_stream *c[3]; t_rec conn[3]; int i;
    setup();
    nheld = 0;
    memset(conn, 0, sizeof conn);
    aios_server_config_init(&cfg);
    cfg.max_conns = 2;
    cfg.reject_over_max = 0;
    aios_server_init(&srv, &ctx, &cfg, hold_on_conn, NULL);
    aios_server_listen_tcp(&srv, "127.0.0.1", 0);
    for (i = 0; i < 3; i++)
        aios_tcp_connect(&c[i], &ctx, "127.0.0.1", aios_server_port(&srv), NULL, t_rec_cb, &conn[i]);
    T_CHECK(t_spin(&ctx, &nheld, 2));
    t_spin_ms(&ctx, 50);
    T_EQ(nheld, 2);
    T_EQ(srv.stats.rejected, 0);
    aios_close(held[0], NULL, NULL);
    T_CHECK(t_spin(&ctx, &nheld, 3));
    T_EQ(srv.stats.accepted, 3);
    teardown();
}

typedef struct { int calls, status; } t_srec;
static void srv_done_cb(aios_server *srv, int status, void *ud)
{
    t_srec *r = (t_srec *)ud;
    (void)srv;
    r->calls++;
    r->status = status;
}

static void test_graceful_shutdown_forces_stragglers(void)
{
    aios_server srv; aios_stream *c[2]; t_rec conn[2], rd = {0}; t_srec done = {0, 0}; char buf[4];
    setup();
    nheld = 0;
    memset(conn, 0, sizeof conn);
    aios_server_init(&srv, &ctx, NULL, hold_on_conn, NULL);
    aios_server_listen_tcp(&srv, "127.0.0.1", 0);
    aios_tcp_connect(&c[0], &ctx, "127.0.0.1", aios_server_port(&srv), NULL, t_rec_cb, &conn[0]);
    aios_tcp_connect(&c[1], &ctx, "127.0.0.1", aios_server_port(&srv), NULL, t_rec_cb, &conn[1]);
    T_CHECK(t_spin(&ctx, &nheld, 2));
    aios_read(held[1], buf, 4, t_rec_cb, &rd); /* an idle handler waiting for input */
    T_EQ(aios_server_shutdown(&srv, AIOS_MS(100), srv_done_cb, &done), 0);
    T_EQ(aios_server_shutdown(&srv, AIOS_MS(100), srv_done_cb, &done), AIOS_ECLOSED);
    aios_close(held[0], NULL, NULL); /* this one finishes in time */
    T_CHECK(t_spin(&ctx, &done.calls, 1));
    T_EQ(done.status, 1);
    T_EQ(rd.status, -ECANCELED);
    T_EQ(srv.stats.forced, 1);
    teardown();
    T_EQ(done.calls, 1);
}

static void test_shutdown_without_connections_closes_listener(void)
{
    aios_server srv; t_srec done = {0, 0}; aios_stream *c; t_rec conn = {0}; int port;
    setup();
    aios_server_init(&srv, &ctx, NULL, hold_on_conn, NULL);
    aios_server_listen_tcp(&srv, "127.0.0.1", 0);
    port = aios_server_port(&srv);
    aios_server_shutdown(&srv, AIOS_MS(1000), srv_done_cb, &done);
    T_EQ(done.calls, 0);
    T_CHECK(t_spin(&ctx, &done.calls, 1));
    T_EQ(done.status, 0);
    aios_tcp_connect(&c, &ctx, "127.0.0.1", port, NULL, t_rec_cb, &conn);
    T_CHECK(t_spin(&ctx, &conn.calls, 1));
    T_EQ(conn.status, -ECONNREFUSED);
    teardown();
}

static void test_reuseport_shares_a_port(void)
{
    aios_server a, b, c; aios_server_config cfg;
    setup();
    aios_server_config_init(&cfg);
    T_EQ(cfg.reuseport, 0); /* off unless asked for */
    aios_server_init(&c, &ctx, &cfg, hold_on_conn, NULL);
    cfg.reuseport = 1;
    aios_server_init(&a, &ctx, &cfg, hold_on_conn, NULL);
    aios_server_init(&b, &ctx, &cfg, hold_on_conn, NULL);
    T_EQ(aios_server_listen_tcp(&a, "127.0.0.1", 0), 0);
    T_EQ(aios_server_listen_tcp(&b, "127.0.0.1", aios_server_port(&a)), 0);
    T_EQ(aios_server_port(&b), aios_server_port(&a));
    /* a server without the option cannot join them */
    T_EQ(aios_server_listen_tcp(&c, "127.0.0.1", aios_server_port(&a)), -EADDRINUSE);
    teardown();
}

/* ---- Unix sockets ---- */

static void test_unix_socket_echo(void)
{
    aios_server srv; aios_stream *c; t_rec conn = {0}, rd = {0}; char path[64], buf[16];
    setup();
    snprintf(path, sizeof path, "/tmp/aios_test_%d.sock", (int)getpid());
    aios_server_init(&srv, &ctx, NULL, echo_on_conn, NULL);
    T_EQ(aios_server_listen_unix(&srv, path), 0);
    T_EQ(aios_unix_connect(&c, &ctx, path, t_rec_cb, &conn), 0);
    aios_write(c, "unix!", 5, NULL, NULL);
    aios_read_exactly(c, buf, 5, t_rec_cb, &rd);
    T_CHECK(t_spin(&ctx, &rd.calls, 1));
    T_EQ(conn.status, 0);
    T_EQ(rd.status, 5);
    T_MEMEQ(buf, "unix!", 5);
    aios_server_shutdown(&srv, 0, NULL, NULL);
    aios_run_once(&ctx, 0);
    T_CHECK(access(path, F_OK) != 0); /* the socket file is gone */
    teardown();
}

/* ---- serial ports on a pseudo-terminal ---- */

static void test_serial_pty_both_ways_raw(void)
{
    int master, slave; char name[128]; aios_stream *s; t_rec rd = {0}, w = {0};
    struct termios tio; char buf[64]; size_t n = 0; ssize_t k; int tries;
    setup();
    T_REQUIRE(openpty(&master, &slave, name, NULL, NULL) == 0);
    T_EQ(aios_serial_open(&s, &ctx, name, 115200), 0);
    T_EQ(tcgetattr(aios_stream_fd(s), &tio), 0);
    T_EQ(cfgetospeed(&tio), B115200);
    T_EQ(cfgetispeed(&tio), B115200);
    T_EQ(tio.c_lflag & (ICANON | ECHO | ISIG), 0);
    T_EQ(tio.c_cflag & CSIZE, CS8);
    /* port to master: bytes pass untouched (no newline translation) */
    aios_write(s, "a\nb\r\x03", 5, t_rec_cb, &w);
    T_CHECK(t_spin(&ctx, &w.calls, 1));
    for (tries = 0; tries < 100 && n < 5; tries++) {
        struct pollfd p; p.fd = master; p.events = POLLIN;
        if (poll(&p, 1, 100) > 0 && (k = read(master, buf + n, sizeof buf - n)) > 0) n += (size_t)k;
    }
    T_EQ(n, 5);
    T_MEMEQ(buf, "a\nb\r\x03", 5);
    /* master to port */
    t_write_full(master, "\x7f" "xyz\n", 5);
    aios_read_exactly(s, buf, 5, t_rec_cb, &rd);
    T_CHECK(t_spin(&ctx, &rd.calls, 1));
    T_EQ(rd.status, 5);
    T_MEMEQ(buf, "\x7f" "xyz\n", 5);
    close(slave);
    teardown();
    close(master);
}

/* ---- writes: allocation order, gathering, copy or no copy, drain ---- */

static void test_write_without_memory_sends_nothing(void)
{
    aios_stream *s; int peer; t_rec r = {0}; char buf[16];
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    t_fail_alloc_in = 0;
    T_EQ(aios_write(s, "abc", 3, t_rec_cb, &r), -ENOMEM);
    t_fail_alloc_in = 0;
    T_EQ(aios_write_copy(s, "def", 3, t_rec_cb, &r), -ENOMEM);
    t_fail_alloc_in = -1;
    aios_run_once(&ctx, AIOS_MS(10));
    T_EQ(r.calls, 0);
    /* a write that did not start put nothing on the wire */
    T_EQ(recv(peer, buf, sizeof buf, MSG_DONTWAIT), -1);
    T_EQ(aios_write(s, "ok", 2, t_rec_cb, &r), 0);
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    T_EQ(r.status, 0);
    T_EQ(recv(peer, buf, sizeof buf, 0), 2);
    T_MEMEQ(buf, "ok", 2);
    close(peer);
    teardown();
}

static void test_write_copy_out_of_memory_after_partial_send_fails_through_callback(void)
{
    aios_stream *s; int peer; t_rec r = {0}; size_t sz = 4u << 20; char *big = (char *)calloc(1, sz);
    setup();
    T_REQUIRE(big && t_pair(&ctx, &s, &peer) == 0);
    aios_set_limits(s, 0, sz);   /* a copy of up to sz may be queued */
    t_fail_alloc_in = 1; /* the request is allocated, the copy of what the kernel refused is not */
    T_EQ(aios_write_copy(s, big, sz, t_rec_cb, &r), 0);
    t_fail_alloc_in = -1;
    T_EQ(r.calls, 0);
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    T_EQ(r.status, -ENOMEM);
    T_EQ(aios_write_queued(s), 0);
    T_EQ(aios_write(s, "x", 1, NULL, NULL), -ENOMEM); /* part went out: the write side stays failed */
    t_spin_ms(&ctx, 20);
    T_EQ(r.calls, 1);
    close(peer);
    teardown();
    free(big);
}

static void test_queued_writes_are_gathered(void)
{
    aios_stream *s; int peer, i; t_rec w[10]; size_t sz = 4u << 20; char *big = (char *)calloc(1, sz);
    static char sinkbuf[65536]; int64_t give_up;
    setup();
    memset(w, 0, sizeof w);
    T_REQUIRE(big && t_pair(&ctx, &s, &peer) == 0);
    fcntl(peer, F_SETFL, O_NONBLOCK);
    T_EQ(aios_write(s, big, sz, NULL, NULL), 0); /* fills the socket; the rest waits */
    for (i = 0; i < 10; i++) T_EQ(aios_write_copy(s, "0123456789", 10, t_rec_cb, &w[i]), 0);
    t_sendmsg_max_iov = 0;
    t_sendmsg_calls = 0;
    give_up = aios_now_ns() + (int64_t)20 * 1000000000;
    while (w[9].calls == 0 && aios_now_ns() < give_up) {
        while (read(peer, sinkbuf, sizeof sinkbuf) > 0) {}
        aios_run_once(&ctx, AIOS_MS(10));
    }
    T_EQ(w[9].calls, 1);
    T_EQ(w[9].status, 0);
    T_CHECK(t_sendmsg_calls > 0);
    T_EQ(t_sendmsg_max_iov, 11); /* the big rest and all ten small ones in one call */
    close(peer);
    teardown();
    free(big);
}

/* Reads everything from fd, remembering two byte positions. */
typedef struct { size_t got; char at[2]; size_t pos[2]; } t_tap;
static void tap_read(int fd, t_tap *t)
{
    static char b[65536];
    ssize_t k;
    while ((k = read(fd, b, sizeof b)) > 0) {
        int j;
        for (j = 0; j < 2; j++)
            if (t->pos[j] >= t->got && t->pos[j] < t->got + (size_t)k) t->at[j] = b[t->pos[j] - t->got];
        t->got += (size_t)k;
    }
}

static void test_write_sends_from_caller_buffer_write_copy_from_its_copy(void)
{
    aios_stream *s; int peer; t_rec wa = {0}, wb = {0}; size_t sz = 4u << 20; t_tap tap;
    char *a = (char *)malloc(sz), *b = (char *)malloc(sz); int64_t give_up;
    setup();
    T_REQUIRE(a && b && t_pair(&ctx, &s, &peer) == 0);
    aios_set_limits(s, 0, sz);   /* a copy of up to sz may be queued */
    memset(a, 'a', sz);
    memset(b, 'b', sz);
    memset(&tap, 0, sizeof tap);
    tap.pos[0] = sz - 1;
    tap.pos[1] = 2 * sz - 1;
    T_EQ(aios_write(s, a, sz, t_rec_cb, &wa), 0);
    T_EQ(aios_write_copy(s, b, sz, t_rec_cb, &wb), 0);
    a[sz - 1] = 'A'; /* aios_write sends from the caller's buffer: the change goes out */
    b[sz - 1] = 'B'; /* aios_write_copy took its own copy: the change does not */
    fcntl(peer, F_SETFL, O_NONBLOCK);
    give_up = aios_now_ns() + (int64_t)20 * 1000000000;
    while (tap.got < 2 * sz && aios_now_ns() < give_up) {
        tap_read(peer, &tap);
        aios_run_once(&ctx, AIOS_MS(10));
    }
    T_EQ(tap.got, 2 * sz);
    T_EQ(tap.at[0], 'A');
    T_EQ(tap.at[1], 'b');
    T_EQ(wa.status, 0);
    T_EQ(wb.status, 0);
    close(peer);
    teardown();
    free(a);
    free(b);
}

static size_t drain_queued_at_cb;
static void drain_rec_cb(aios_stream *s, int status, void *ud)
{
    drain_queued_at_cb = aios_write_queued(s);
    t_rec_cb(s, status, ud);
}

static void test_drain_fires_at_low_water_mark(void)
{
    aios_stream *s; int peer; t_rec w = {0}, d = {0}; size_t sz = 2u << 20; char *big = (char *)calloc(1, sz);
    static char sinkbuf[16384]; int64_t give_up;
    setup();
    T_REQUIRE(big && t_pair(&ctx, &s, &peer) == 0);
    fcntl(peer, F_SETFL, O_NONBLOCK);
    T_EQ(aios_write(s, big, sz, t_rec_cb, &w), 0);
    T_EQ(aios_drain(s, sz / 2, drain_rec_cb, &d), 0);
    T_EQ(aios_drain(s, 0, drain_rec_cb, &d), -EBUSY);
    aios_run_once(&ctx, AIOS_MS(10));
    T_EQ(d.calls, 0); /* more than the mark is still queued */
    give_up = aios_now_ns() + (int64_t)20 * 1000000000;
    while (d.calls == 0 && aios_now_ns() < give_up) {
        if (read(peer, sinkbuf, sizeof sinkbuf) < 0) {}
        aios_run_once(&ctx, AIOS_MS(5));
    }
    T_EQ(d.calls, 1);
    T_EQ(d.status, 0);
    T_CHECK(drain_queued_at_cb <= sz / 2);
    T_CHECK(drain_queued_at_cb > 0); /* it fired at the mark, not at the end */
    T_EQ(w.calls, 0);
    close(peer);
    teardown();
    free(big);
}

static void test_read_until_resumes_scan_where_it_stopped(void)
{
    aios_stream *s; int peer, i; t_rec r = {0}; size_t n;
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    T_EQ(aios_read_until(s, "\r\n", 2, 4096, t_line_cb, &r), 0);
    for (i = 1; i <= 50; i++) {
        t_write_full(peer, "xxxxxxxxx\r", 10);
        while (aios_data(s, &n), n < (size_t)i * 10) aios_run_once(&ctx, AIOS_MS(20));
        /* everything buffered was looked at once; the next scan starts at its end */
        T_EQ(s->rscan, n);
        T_EQ(r.calls, 0);
    }
    t_write_full(peer, "\n", 1);
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    T_EQ(r.status, 501);
    close(peer);
    teardown();
}

/* ---- resolving and connecting ---- */

static void test_numeric_address_skips_resolution(void)
{
    aios_server srv; aios_stream *c; t_rec conn = {0}, conn2 = {0}; int before;
    setup();
    aios_server_init(&srv, &ctx, NULL, hold_on_conn, NULL);
    T_EQ(aios_server_listen_tcp(&srv, "127.0.0.1", 0), 0);
    before = __atomic_load_n(&t_resolve_calls, __ATOMIC_SEQ_CST);
    T_EQ(aios_tcp_connect(&c, &ctx, "127.0.0.1", aios_server_port(&srv), NULL, t_rec_cb, &conn), 0);
    T_CHECK(t_spin(&ctx, &conn.calls, 1));
    T_EQ(conn.status, 0);
    T_EQ(__atomic_load_n(&t_resolve_calls, __ATOMIC_SEQ_CST), before);
    T_EQ(aios_tcp_connect(&c, &ctx, "localhost", aios_server_port(&srv), NULL, t_rec_cb, &conn2), 0);
    T_CHECK(t_spin(&ctx, &conn2.calls, 1));
    T_EQ(conn2.status, 0);
    T_EQ(__atomic_load_n(&t_resolve_calls, __ATOMIC_SEQ_CST), before + 1);
    teardown();
}

static void test_name_not_found(void)
{
    aios_stream *c; t_rec conn = {0};
    setup();
    T_EQ(aios_tcp_connect(&c, &ctx, "fake.nx", 80, NULL, t_rec_cb, &conn), 0);
    T_CHECK(t_spin(&ctx, &conn.calls, 1));
    T_EQ(conn.status, AIOS_ENOTFOUND);
    aios_close(c, NULL, NULL);
    teardown();
}

static void t_fake_v4(int i, int port)
{
    struct sockaddr_in *a = (struct sockaddr_in *)(void *)&t_fake_addrs[i];
    memset(&t_fake_addrs[i], 0, sizeof t_fake_addrs[i]);
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static int peer_port(aios_stream *c)
{
    struct sockaddr_in a; socklen_t l = sizeof a;
    if (getpeername(aios_stream_fd(c), (struct sockaddr *)&a, &l) < 0) return -1;
    return ntohs(a.sin_port);
}

static void test_connect_tries_each_address_in_turn(void)
{
    aios_server srv; aios_stream *c; t_rec conn = {0}; aios_tcp_opts o;
    setup();
    nheld = 0;
    aios_server_init(&srv, &ctx, NULL, hold_on_conn, NULL);
    T_EQ(aios_server_listen_tcp(&srv, "127.0.0.1", 0), 0);
    t_fake_v4(0, free_port());              /* refuses */
    t_fake_v4(1, aios_server_port(&srv));   /* answers */
    t_fake_naddrs = 2;
    aios_tcp_opts_init(&o);
    o.attempt_delay_ns = 0; /* strictly one after the other */
    T_EQ(aios_tcp_connect(&c, &ctx, "fake.seq", 1, &o, t_rec_cb, &conn), 0);
    T_CHECK(t_spin(&ctx, &conn.calls, 1));
    T_EQ(conn.status, 0);
    T_EQ(peer_port(c), aios_server_port(&srv));
    T_CHECK(t_spin(&ctx, &nheld, 1));
    T_EQ(srv.stats.accepted, 1);
    t_fake_naddrs = 0;
    teardown();
}

/* A listener whose queue is full: SYNs to it are dropped, so a connect stalls. */
static int stalled_listener(int *fillers, int nfill, int *port)
{
    struct sockaddr_in a; socklen_t l = sizeof a; int lfd = socket(AF_INET, SOCK_STREAM, 0), i;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(lfd, (struct sockaddr *)&a, sizeof a);
    listen(lfd, 0);
    getsockname(lfd, (struct sockaddr *)&a, &l);
    for (i = 0; i < nfill; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fillers[i], (struct sockaddr *)&a, sizeof a);
    }
    *port = ntohs(a.sin_port);
    return lfd;
}

static void test_connect_races_past_a_stalled_address(void)
{
    aios_server srv; aios_stream *c; t_rec conn = {0}; aios_tcp_opts o; int fillers[8], lfd, bport, i;
    int64_t start, took;
    setup();
    aios_server_init(&srv, &ctx, NULL, hold_on_conn, NULL);
    T_EQ(aios_server_listen_tcp(&srv, "127.0.0.1", 0), 0);
    lfd = stalled_listener(fillers, 8, &bport);
    t_fake_v4(0, bport);                    /* never answers */
    t_fake_v4(1, aios_server_port(&srv));   /* answers */
    t_fake_naddrs = 2;
    aios_tcp_opts_init(&o);
    o.attempt_delay_ns = AIOS_MS(100);
    o.timeout_ns = AIOS_MS(10000);
    start = aios_now_ns();
    T_EQ(aios_tcp_connect(&c, &ctx, "fake.race", 1, &o, t_rec_cb, &conn), 0);
    T_CHECK(t_spin(&ctx, &conn.calls, 1));
    took = aios_now_ns() - start;
    T_EQ(conn.status, 0);
    T_EQ(peer_port(c), aios_server_port(&srv));
    T_CHECK(took >= (int64_t)90 * 1000000);   /* the second attempt waited its turn */
    T_CHECK(took < (int64_t)3000 * 1000000);  /* and did not wait for the first to give up */
    t_fake_naddrs = 0;
    for (i = 0; i < 8; i++) close(fillers[i]);
    close(lfd);
    teardown();
}

static void test_slow_resolution_is_abandoned_at_the_deadline(void)
{
#ifdef AIOS_NO_THREADS
    return; /* without the resolver thread a name resolves inside dispatch, as documented */
#else
    aios_stream *c; t_rec conn = {0}; aios_tcp_opts o; int64_t start, took; int i;
    setup();
    aios_tcp_opts_init(&o);
    o.timeout_ns = AIOS_MS(50);
    __atomic_store_n(&t_resolve_returned, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&t_resolve_delay_ms, 800, __ATOMIC_SEQ_CST);
    start = aios_now_ns();
    T_EQ(aios_tcp_connect(&c, &ctx, "localhost", 9, &o, t_rec_cb, &conn), 0);
    T_CHECK(t_spin(&ctx, &conn.calls, 1));
    took = aios_now_ns() - start;
    T_EQ(conn.status, -ETIMEDOUT);
    T_CHECK(took < (int64_t)600 * 1000000); /* the loop did not wait for the resolver */
    aios_close(c, NULL, NULL);
    teardown();
    /* the resolver thread finishes on its own and frees its request */
    for (i = 0; i < 2000 && !__atomic_load_n(&t_resolve_returned, __ATOMIC_SEQ_CST); i++) usleep(1000);
    usleep(20000);
    __atomic_store_n(&t_resolve_delay_ms, 0, __ATOMIC_SEQ_CST);
#endif
}

static int sock_int(int fd, int level, int name)
{
    int v = -1; socklen_t l = sizeof v;
    if (getsockopt(fd, level, name, &v, &l) < 0) return -1;
    return v;
}

static void test_client_nodelay_and_keepalive_options(void)
{
    aios_server srv; aios_stream *c1, *c2; t_rec conn1 = {0}, conn2 = {0}; aios_tcp_opts o;
    setup();
    aios_server_init(&srv, &ctx, NULL, hold_on_conn, NULL);
    T_EQ(aios_server_listen_tcp(&srv, "127.0.0.1", 0), 0);
    aios_tcp_opts_init(&o);
    T_EQ(o.nodelay, 1);
    o.keepalive_ns = AIOS_SEC(7);
    aios_tcp_connect(&c1, &ctx, "127.0.0.1", aios_server_port(&srv), &o, t_rec_cb, &conn1);
    aios_tcp_opts_init(&o);
    o.nodelay = 0;
    aios_tcp_connect(&c2, &ctx, "127.0.0.1", aios_server_port(&srv), &o, t_rec_cb, &conn2);
    T_CHECK(t_spin(&ctx, &conn1.calls, 1));
    T_CHECK(t_spin(&ctx, &conn2.calls, 1));
    T_EQ(conn1.status, 0);
    T_EQ(conn2.status, 0);
    T_CHECK(sock_int(aios_stream_fd(c1), IPPROTO_TCP, TCP_NODELAY) > 0);
    T_CHECK(sock_int(aios_stream_fd(c1), SOL_SOCKET, SO_KEEPALIVE) > 0);
    T_EQ(sock_int(aios_stream_fd(c1), IPPROTO_TCP, TCP_KEEPIDLE), 7);
    T_EQ(sock_int(aios_stream_fd(c2), IPPROTO_TCP, TCP_NODELAY), 0);
    T_EQ(sock_int(aios_stream_fd(c2), SOL_SOCKET, SO_KEEPALIVE), 0);
    teardown();
}

static void test_server_socket_options(void)
{
    aios_server a, b; aios_server_config cfg; aios_stream *c; t_rec conn = {0};
    setup();
    nheld = 0;
    aios_server_init(&a, &ctx, NULL, hold_on_conn, NULL);
    T_EQ(aios_server_listen_tcp(&a, "127.0.0.1", 0), 0);
    T_CHECK(sock_int(a.lis[0].io.fd, SOL_SOCKET, SO_REUSEADDR) > 0);
    aios_tcp_connect(&c, &ctx, "127.0.0.1", aios_server_port(&a), NULL, t_rec_cb, &conn);
    T_CHECK(t_spin(&ctx, &nheld, 1));
    T_CHECK(sock_int(aios_stream_fd(held[0]), IPPROTO_TCP, TCP_NODELAY) > 0);
    aios_server_config_init(&cfg);
    cfg.reuseaddr = 0;
    cfg.nodelay = 0;
    aios_server_init(&b, &ctx, &cfg, hold_on_conn, NULL);
    T_EQ(aios_server_listen_tcp(&b, "127.0.0.1", 0), 0);
    T_EQ(sock_int(b.lis[0].io.fd, SOL_SOCKET, SO_REUSEADDR), 0);
    aios_tcp_connect(&c, &ctx, "127.0.0.1", aios_server_port(&b), NULL, t_rec_cb, &conn);
    T_CHECK(t_spin(&ctx, &nheld, 2));
    T_EQ(sock_int(aios_stream_fd(held[1]), IPPROTO_TCP, TCP_NODELAY), 0);
    teardown();
}

static int count_established(const int *fds, int n, int ms)
{
    struct pollfd p[16]; int i, up = 0; int64_t end = aios_now_ns() + (int64_t)ms * 1000000;
    do {   /* at least once: p is read below */
        for (i = 0; i < n; i++) { p[i].fd = fds[i]; p[i].events = POLLOUT; p[i].revents = 0; }
        poll(p, (nfds_t)n, 20);
    } while (aios_now_ns() < end);
    for (i = 0; i < n; i++) up += (p[i].revents & POLLOUT) && sock_int(fds[i], SOL_SOCKET, SO_ERROR) == 0;
    return up;
}

static void test_backlog_bounds_the_listen_queue(void)
{
    aios_server srv; aios_server_config cfg; int fds[8], i; struct sockaddr_in a;
    setup();
    aios_server_config_init(&cfg);
    cfg.backlog = 2;
    aios_server_init(&srv, &ctx, &cfg, hold_on_conn, NULL);
    T_EQ(aios_server_listen_tcp(&srv, "127.0.0.1", 0), 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)aios_server_port(&srv));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* the loop does not run: the kernel queues backlog + 1 and drops the rest's SYNs */
    for (i = 0; i < 8; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fds[i], (struct sockaddr *)&a, sizeof a);
    }
    T_EQ(count_established(fds, 8, 200), 3);
    for (i = 0; i < 8; i++) close(fds[i]);
    teardown();
}

static void test_accepts_per_iteration_are_bounded(void)
{
    aios_server srv; aios_server_config cfg; int fds[6], i; struct sockaddr_in a;
    setup();
    nheld = 0;
    aios_server_config_init(&cfg);
    cfg.accept_batch = 2;
    aios_server_init(&srv, &ctx, &cfg, hold_on_conn, NULL);
    T_EQ(aios_server_listen_tcp(&srv, "127.0.0.1", 0), 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)aios_server_port(&srv));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (i = 0; i < 6; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        T_EQ(connect(fds[i], (struct sockaddr *)&a, sizeof a), 0); /* queued, not yet accepted */
    }
    aios_run_once(&ctx, AIOS_MS(1000));
    T_EQ(nheld, 2);
    aios_run_once(&ctx, AIOS_MS(1000));
    T_EQ(nheld, 4);
    aios_run_once(&ctx, AIOS_MS(1000));
    T_EQ(nheld, 6);
    for (i = 0; i < 6; i++) close(fds[i]);
    teardown();
}


/* A read continuation whose bytes are always there already. */
static int greedy_calls;
static size_t greedy_bytes;
static char greedy_buf[4096];
static void greedy_cb(aios_stream *s, int status, void *ud)
{
    (void)ud;
    if (status <= 0) return;
    greedy_calls++;
    greedy_bytes += (size_t)status;
    aios_read(s, greedy_buf, sizeof greedy_buf, greedy_cb, NULL);
}

static void test_fast_input_cannot_monopolise_an_iteration(void)
{
    aios_stream *s; int peer, sz = 4 << 20; size_t pushed = 0; static char chunk[65536]; int64_t give_up;
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    setsockopt(peer, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    fcntl(peer, F_SETFL, O_NONBLOCK);
    memset(chunk, 'g', sizeof chunk);
    for (;;) { ssize_t k = write(peer, chunk, sizeof chunk); if (k <= 0) break; pushed += (size_t)k; }
    T_CHECK(pushed >= 100 * sizeof greedy_buf);
    greedy_calls = 0;
    greedy_bytes = 0;
    aios_read(s, greedy_buf, sizeof greedy_buf, greedy_cb, NULL);
    aios_run_once(&ctx, AIOS_MS(100));
    /* full reads skip the poll for a few rounds, then the loop polls again */
    T_CHECK(greedy_calls >= 1);
    T_CHECK(greedy_calls <= 16);
    give_up = aios_now_ns() + (int64_t)20 * 1000000000;
    while (greedy_bytes < pushed && aios_now_ns() < give_up) aios_run_once(&ctx, AIOS_MS(10));
    T_EQ(greedy_bytes, pushed);
    close(peer);
    teardown();
}

int main(void)
{
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill the suite: the library must avoid it */
    t_suite("aio_stream");
    T_RUN(test_read_some_delivers_bytes);
    T_RUN(test_read_some_at_eof_gives_zero);
    T_RUN(test_read_exactly_assembles_pieces);
    T_RUN(test_read_exactly_at_eof_says_how_many);
    T_RUN(test_read_until_splits_delimiter_across_reads);
    T_RUN(test_read_until_byte_by_byte);
    T_RUN(test_read_until_over_max_is_too_long);
    T_RUN(test_read_until_at_eof_is_incomplete);
    T_RUN(test_read_until_buffer_stays_at_high_water);
    T_RUN(test_peek_then_consume);
    T_RUN(test_second_read_is_busy);
    T_RUN(test_read_timeout);
    T_RUN(test_callback_starts_next_read);
    T_RUN(test_fast_input_cannot_monopolise_an_iteration);
    T_RUN(test_write_reaches_peer);
    T_RUN(test_large_writes_arrive_in_order);
    T_RUN(test_write_copy_full_at_high_water);
    T_RUN(test_write_timeout);
    T_RUN(test_write_to_closed_peer_fails_without_sigpipe);
    T_RUN(test_shutdown_half_closes);
    T_RUN(test_pipe_stream);
    T_RUN(test_close_cancels_everything_once);
    T_RUN(test_callback_may_close_its_stream);
    T_RUN(test_close_graceful_flushes_then_closes);
    T_RUN(test_close_graceful_gives_up_after_timeout);
    T_RUN(test_abort_during_graceful_close_keeps_one_close_callback);
    T_RUN(test_ctx_close_delivers_pending);
    T_RUN(test_prepare_reports_count_beyond_cap);
    T_RUN(test_deferred_completion_makes_deadline_due);
    T_RUN(test_prepare_lowers_deadline_for_timeout);
    T_RUN(test_foreign_poll_loop_runs_tcp_echo);
    T_RUN(test_tcp_echo_ipv4_and_peer_address);
    T_RUN(test_tcp_echo_ipv6);
    T_RUN(test_dual_stack_listener_accepts_ipv4_and_ipv6);
    T_RUN(test_connect_by_name);
    T_RUN(test_close_during_resolution_cancels);
    T_RUN(test_connect_refused);
    T_RUN(test_connect_timeout);
    T_RUN(test_bad_arguments_are_errors);
    T_RUN(test_format_addr);
    T_RUN(test_max_conns_rejects_extra);
    T_RUN(test_max_conns_pause_waits_for_a_slot);
    T_RUN(test_graceful_shutdown_forces_stragglers);
    T_RUN(test_shutdown_without_connections_closes_listener);
    T_RUN(test_reuseport_shares_a_port);
    T_RUN(test_unix_socket_echo);
    T_RUN(test_serial_pty_both_ways_raw);
    T_RUN(test_write_without_memory_sends_nothing);
    T_RUN(test_write_copy_out_of_memory_after_partial_send_fails_through_callback);
    T_RUN(test_queued_writes_are_gathered);
    T_RUN(test_write_sends_from_caller_buffer_write_copy_from_its_copy);
    T_RUN(test_drain_fires_at_low_water_mark);
    T_RUN(test_read_until_resumes_scan_where_it_stopped);
    T_RUN(test_numeric_address_skips_resolution);
    T_RUN(test_name_not_found);
    T_RUN(test_connect_tries_each_address_in_turn);
    T_RUN(test_connect_races_past_a_stalled_address);
    T_RUN(test_slow_resolution_is_abandoned_at_the_deadline);
    T_RUN(test_client_nodelay_and_keepalive_options);
    T_RUN(test_server_socket_options);
    T_RUN(test_backlog_bounds_the_listen_queue);
    T_RUN(test_accepts_per_iteration_are_bounded);
    return t_done();
}
