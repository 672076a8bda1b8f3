/* tests/aio_regress.c - regression tests for the defects of the 2026-11-22
 * review of aio_stream.h, one behaviour each, named after what must hold. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <stdlib.h>

/* An allocator that fails on request (see the manual's options). */
static int t_fail_alloc_in = -1;  /* fail the allocation this many calls ahead; -1: never */
static int t_alloc_fails(void) { return t_fail_alloc_in >= 0 && t_fail_alloc_in-- == 0; }
static void *t_malloc(size_t n) { return t_alloc_fails() ? NULL : malloc(n); }
static void *t_realloc(void *p, size_t n) { return t_alloc_fails() ? NULL : realloc(p, n); }
#define AIOS_MALLOC(n) t_malloc(n)
#define AIOS_REALLOC(p, n) t_realloc((p), (n))
#define AIOS_FREE(p) free(p)

/* A resolver that fails names under "eai-system." with EAI_SYSTEM and errno
 * ECONNREFUSED (as when the DNS server refuses), in the thread that resolves. */
#include <netdb.h>
#include <errno.h>
#include <string.h>
#include <time.h>
static int t_slow_returned;  /* answers of "slow." names, counted as they return */
static int t_getaddrinfo(const char *host, const char *serv, const struct addrinfo *hints, struct addrinfo **res)
{
    if (host && strncmp(host, "eai-system.", 11) == 0) {
        errno = ECONNREFUSED;
        return EAI_SYSTEM;
    }
    if (host && strncmp(host, "slow.", 5) == 0) {  /* a DNS server that takes its time */
        struct timespec ts = {0, 300 * 1000000L};
        nanosleep(&ts, NULL);
        __atomic_add_fetch(&t_slow_returned, 1, __ATOMIC_SEQ_CST);
        return EAI_NONAME;
    }
    return getaddrinfo(host, serv, hints, res);
}
#define AIOS_SYS_GETADDRINFO(h, s, hi, r) t_getaddrinfo((h), (s), (hi), (r))

#include "aio_common.h"

/* Length-prefixed frames, the empty one among them, each read started from
 * outside the callbacks (as a task resumed by the loop would): the empty
 * read_exactly comes right after a read that filled all its room. */
static void test_empty_read_exactly_after_a_full_read_is_not_end_of_stream(void)
{
    aios_ctx ctx;
    aios_stream *s;
    int peer, frames = 0;
    unsigned char hdr[1];
    char body[64];
    t_rec h, b;
    static const int want_len[3] = {0, 3, 2};
    T_REQUIRE(aios_ctx_init(&ctx) == 0);
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    t_write_full(peer, "\0\3abc\2xy", 8);  /* the peer stays connected */
    while (frames < 3) {
        memset(&h, 0, sizeof h);
        memset(&b, 0, sizeof b);
        T_EQ(aios_read_exactly(s, hdr, 1, t_rec_cb, &h), 0);
        T_EQ(t_spin(&ctx, &h.calls, 1), 1);
        T_EQ(h.status, 1);
        T_EQ(hdr[0], want_len[frames]);
        T_EQ(aios_read_exactly(s, hdr[0] ? body : NULL, hdr[0], t_rec_cb, &b), 0);
        T_EQ(t_spin(&ctx, &b.calls, 1), 1);
        T_EQ(b.status, hdr[0]);
        frames++;
    }
    T_MEMEQ(body, "xy", 2);
    aios_ctx_close(&ctx);
    close(peer);
}

static int t_sigpipe_blocked(void)
{
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, SIGPIPE);
}

static int t_sigpipe_pending(void)
{
    sigset_t p;
    sigemptyset(&p);
    sigpending(&p);
    return sigismember(&p, SIGPIPE);
}

/* With SIGPIPE at its default action, a write to a pipe whose reader is gone
 * fails with -EPIPE; the process lives, and no SIGPIPE is left blocked or
 * pending. */
static void test_write_to_pipe_without_reader_fails_with_epipe_not_sigpipe(void)
{
    aios_ctx ctx;
    aios_stream *s;
    int p[2];
    t_rec w, w2;
    void (*old)(int) = signal(SIGPIPE, SIG_DFL);
    memset(&w, 0, sizeof w);
    memset(&w2, 0, sizeof w2);
    T_REQUIRE(aios_ctx_init(&ctx) == 0);
    T_REQUIRE(pipe(p) == 0);
    close(p[0]);
    T_REQUIRE(aios_stream_open(&ctx, &s, p[1], 0) == 0);
    T_EQ(aios_write_copy(s, "x", 1, t_rec_cb, &w), 0);
    T_EQ(t_spin(&ctx, &w.calls, 1), 1);
    T_EQ(w.status, -EPIPE);
    T_CHECK(!t_sigpipe_blocked());
    T_CHECK(!t_sigpipe_pending());
    aios_ctx_close(&ctx);
    signal(SIGPIPE, old);
}

/* The same through the queued path: the reader goes away while a write waits. */
static void test_queued_write_to_pipe_whose_reader_leaves_fails_with_epipe(void)
{
    aios_ctx ctx;
    aios_stream *s;
    int p[2];
    t_rec w;
    static char big[1 << 20];
    void (*old)(int) = signal(SIGPIPE, SIG_DFL);
    memset(&w, 0, sizeof w);
    T_REQUIRE(aios_ctx_init(&ctx) == 0);
    T_REQUIRE(pipe(p) == 0);
    T_REQUIRE(aios_stream_open(&ctx, &s, p[1], 0) == 0);
    T_EQ(aios_write(s, big, sizeof big, t_rec_cb, &w), 0);  /* more than the pipe holds */
    aios_run_once(&ctx, 0);
    T_EQ(w.calls, 0);
    close(p[0]);
    T_EQ(t_spin(&ctx, &w.calls, 1), 1);
    T_EQ(w.status, -EPIPE);
    T_CHECK(!t_sigpipe_blocked());
    T_CHECK(!t_sigpipe_pending());
    aios_ctx_close(&ctx);
    signal(SIGPIPE, old);
}

static long t_drains;
#define T_DRAIN_GUARD 1000000L
static void t_rearm_drain(aios_stream *s, int status, void *ud)
{
    (void)status;
    (void)ud;
    if (++t_drains < T_DRAIN_GUARD) aios_drain(s, 0, t_rearm_drain, NULL);
}

/* A drain callback that re-arms at once runs a bounded number of times per
 * dispatch, and the loop keeps serving other streams meanwhile. */
static void test_rearming_drain_callback_does_not_starve_the_loop(void)
{
    aios_ctx ctx;
    aios_stream *s, *t;
    int peer_s, peer_t;
    char buf[4];
    t_rec r;
    memset(&r, 0, sizeof r);
    t_drains = 0;
    T_REQUIRE(aios_ctx_init(&ctx) == 0);
    T_REQUIRE(t_pair(&ctx, &s, &peer_s) == 0);
    T_REQUIRE(t_pair(&ctx, &t, &peer_t) == 0);
    T_EQ(aios_read(t, buf, sizeof buf, t_rec_cb, &r), 0);
    T_EQ(aios_drain(s, 0, t_rearm_drain, NULL), 0);
    aios_run_once(&ctx, 0);
    T_CHECK(t_drains > 0);
    T_CHECK(t_drains < T_DRAIN_GUARD);
    t_write_full(peer_t, "ping", 4);
    T_EQ(t_spin(&ctx, &r.calls, 1), 1);
    T_EQ(r.status, 4);
    T_CHECK(t_drains < T_DRAIN_GUARD);
    aios_ctx_close(&ctx);
    close(peer_s);
    close(peer_t);
}

/* A graceful close with no timeout outlives the read deadline that was set:
 * the queued write completes once the peer reads, long after that deadline. */
static void test_graceful_close_without_timeout_ignores_the_read_deadline(void)
{
    aios_ctx ctx;
    aios_stream *s;
    int peer;
    char buf[16], tmp[65536];
    static char big[1 << 20];
    size_t got = 0;
    t_rec rd, w, cl;
    memset(&rd, 0, sizeof rd);
    memset(&w, 0, sizeof w);
    memset(&cl, 0, sizeof cl);
    T_REQUIRE(aios_ctx_init(&ctx) == 0);
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    T_EQ(aios_set_timeouts(s, 1, 0), 0);  /* read deadline: 1 ms */
    T_EQ(aios_read(s, buf, sizeof buf, t_rec_cb, &rd), 0);
    T_EQ(aios_write(s, big, sizeof big, t_rec_cb, &w), 0);  /* the peer is not reading yet */
    T_EQ(aios_close_graceful(s, -1, t_rec_cb, &cl), 0);
    t_spin_ms(&ctx, 100);  /* well past the read deadline */
    T_EQ(rd.calls, 1);
    T_EQ(rd.status, -ECANCELED);
    T_EQ(w.calls, 0);
    T_EQ(cl.calls, 0);
    fcntl(peer, F_SETFL, fcntl(peer, F_GETFL) | O_NONBLOCK);
    {
        int64_t give_up = aios_now_ns() + (int64_t)20 * 1000000000;
        while (!cl.calls && aios_now_ns() < give_up) {
            ssize_t n;
            while ((n = read(peer, tmp, sizeof tmp)) > 0) got += (size_t)n;
            aios_run_once(&ctx, 10);
        }
    }
    T_EQ(cl.calls, 1);
    T_EQ(w.calls, 1);
    T_EQ(w.status, 0);
    {
        ssize_t n;
        while ((n = read(peer, tmp, sizeof tmp)) > 0) got += (size_t)n;
    }
    T_EQ(got, sizeof big);
    aios_ctx_close(&ctx);
    close(peer);
}

/* When the graceful close cannot get memory for its timer it closes at
 * once: it succeeds, and the close callback runs exactly once. */
static void test_graceful_close_out_of_memory_closes_at_once(void)
{
    aios_ctx ctx;
    aios_stream *s;
    int peer, r;
    t_rec cl;
    memset(&cl, 0, sizeof cl);
    T_REQUIRE(aios_ctx_init(&ctx) == 0);
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    t_fail_alloc_in = 0;  /* the stream's side structure */
    r = aios_close_graceful(s, 100, t_rec_cb, &cl);
    t_fail_alloc_in = -1;
    T_EQ(r, 0);
    T_EQ(cl.calls, 0);  /* never inside the call */
    T_EQ(t_spin(&ctx, &cl.calls, 1), 1);
    T_EQ(cl.status, 0);
    aios_ctx_close(&ctx);
    T_EQ(cl.calls, 1);
    close(peer);
}

/* EAI_SYSTEM reports the errno of the resolving thread, not whatever the
 * loop thread's errno happens to be. */
static void test_resolver_system_error_reports_the_resolvers_errno(void)
{
    aios_ctx ctx;
    aios_stream *s;
    t_rec cn;
    int64_t give_up = aios_now_ns() + (int64_t)20 * 1000000000;
    memset(&cn, 0, sizeof cn);
    T_REQUIRE(aios_ctx_init(&ctx) == 0);
    T_EQ(aios_tcp_connect(&ctx, &s, "eai-system.invalid", 80, NULL, t_rec_cb, &cn), 0);
    while (!cn.calls && aios_now_ns() < give_up) {
        errno = ENOSPC;  /* a stale errno of the loop thread */
        aios_run_once(&ctx, 50);
    }
    T_EQ(cn.calls, 1);
    T_EQ(cn.status, -ECONNREFUSED);
    aios_close(s, NULL, NULL);
    aios_ctx_close(&ctx);
}

static aios_ctx *t_close_me;
static void t_close_ctx_cb(aios_stream *s, int status, void *ud)
{
    (void)s;
    (void)status;
    (void)ud;
    aios_ctx_close(t_close_me);
}

/* aios_ctx_close from a callback closes the context once that dispatch is
 * over: the other stream's read is cancelled through its callback and its
 * descriptor is closed. */
static void test_ctx_close_from_a_callback_closes_the_context(void)
{
    aios_ctx *ctx = (aios_ctx *)malloc(sizeof *ctx);
    aios_stream *s, *t;
    int peer_s, peer_t;
    char b1[4], b2[4];
    t_rec r;
    memset(&r, 0, sizeof r);
    T_REQUIRE(ctx && aios_ctx_init(ctx) == 0);
    t_close_me = ctx;
    T_REQUIRE(t_pair(ctx, &s, &peer_s) == 0);
    T_REQUIRE(t_pair(ctx, &t, &peer_t) == 0);
    T_EQ(aios_read(s, b1, sizeof b1, t_close_ctx_cb, NULL), 0);
    T_EQ(aios_read(t, b2, sizeof b2, t_rec_cb, &r), 0);
    t_write_full(peer_s, "x", 1);
    {
        int64_t give_up = aios_now_ns() + (int64_t)20 * 1000000000;
        while (!r.calls && aios_now_ns() < give_up) aios_run_once(ctx, 50);
    }
    T_EQ(r.calls, 1);
    T_EQ(r.status, -ECANCELED);
    T_EQ(aios_run_once(ctx, 0), 0);  /* nothing left */
    T_EQ(read(peer_t, b2, sizeof b2), 0);  /* our end is closed */
    free(ctx);
    close(peer_s);
    close(peer_t);
}

/* A resolver thread still inside getaddrinfo does not outlive the context:
 * aios_ctx_close returns after it has. */
static void test_ctx_close_waits_for_the_resolver_thread(void)
{
    aios_ctx ctx;
    aios_stream *s;
    t_rec cn;
    memset(&cn, 0, sizeof cn);
    t_slow_returned = 0;
    T_REQUIRE(aios_ctx_init(&ctx) == 0);
    T_EQ(aios_tcp_connect(&ctx, &s, "slow.invalid", 80, NULL, t_rec_cb, &cn), 0);
    aios_run_once(&ctx, 0);
    T_EQ(aios_close(s, NULL, NULL), 0);
    aios_ctx_close(&ctx);
    T_EQ(cn.calls, 1);  /* -ECANCELED; AIOS_ENOTFOUND when names resolve inside dispatch */
    T_EQ(__atomic_load_n(&t_slow_returned, __ATOMIC_SEQ_CST), 1);
}

/* The write high-water mark bounds the heap that copied writes hold, not
 * just their payload: 1-byte copies to a peer that never reads stop at a
 * few thousand against a 64 KiB mark. */
static void test_write_high_water_mark_counts_request_overhead(void)
{
    aios_ctx ctx;
    aios_stream *s;
    int peer, r;
    long n = 0;
    T_REQUIRE(aios_ctx_init(&ctx) == 0);
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    aios_set_limits(s, 0, 64 * 1024);
    while ((r = aios_write_copy(s, "x", 1, NULL, NULL)) == 0 && n < 1000000) n++;
    T_EQ(r, AIOS_EFULL);
    T_CHECK(n < 64 * 1024 / 16);
    aios_ctx_close(&ctx);
    close(peer);
}

/* read_exactly refuses more than its int status can report. */
static void test_read_exactly_beyond_int_max_is_refused(void)
{
    aios_ctx ctx;
    aios_stream *s;
    int peer;
    char b[1];
    T_REQUIRE(aios_ctx_init(&ctx) == 0);
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    T_EQ(aios_read_exactly(s, b, (size_t)INT_MAX + 1, t_rec_cb, NULL), -EINVAL);
    T_EQ(aios_read_exactly(s, b, 1, NULL, NULL), 0);  /* nothing was left pending */
    aios_ctx_close(&ctx);
    close(peer);
}

int main(void)
{
    t_suite("aio_regress");
    T_RUN(test_empty_read_exactly_after_a_full_read_is_not_end_of_stream);
    T_RUN(test_write_to_pipe_without_reader_fails_with_epipe_not_sigpipe);
    T_RUN(test_queued_write_to_pipe_whose_reader_leaves_fails_with_epipe);
    T_RUN(test_rearming_drain_callback_does_not_starve_the_loop);
    T_RUN(test_graceful_close_without_timeout_ignores_the_read_deadline);
    T_RUN(test_graceful_close_out_of_memory_closes_at_once);
    T_RUN(test_resolver_system_error_reports_the_resolvers_errno);
    T_RUN(test_ctx_close_from_a_callback_closes_the_context);
    T_RUN(test_ctx_close_waits_for_the_resolver_thread);
    T_RUN(test_write_high_water_mark_counts_request_overhead);
    T_RUN(test_read_exactly_beyond_int_max_is_refused);
    return t_done();
}
