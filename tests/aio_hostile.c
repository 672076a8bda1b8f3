/* tests/aio_hostile.c - aio_stream.h against peers that misbehave: endless
 * header lines, peers that never read, resets in the middle of a write,
 * half-closes, connect floods, and running out of file descriptors. */
#include "aio_common.h"

#include <sys/resource.h>

static aios_ctx ctx;
static aios_server srv;

static int raw_connect(int port, int nonblock)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) { close(fd); return -1; }
    return fd;
}

/* Sends as much as the kernel takes right now. */
static size_t raw_flood(int fd, char c, size_t max)
{
    char chunk[16384];
    size_t total = 0;
    memset(chunk, c, sizeof chunk);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    while (total < max) {
        ssize_t n = send(fd, chunk, sizeof chunk < max - total ? sizeof chunk : max - total, MSG_NOSIGNAL);
        if (n <= 0) break;
        total += (size_t)n;
    }
    return total;
}

static aios_stream *accepted[64];
static int naccepted;
static void keep_on_conn(aios_server *s, aios_stream *c, const struct sockaddr *peer, void *ud)
{
    (void)s; (void)peer; (void)ud;
    if (naccepted < 64) accepted[naccepted] = c;
    naccepted++;
}

static int start_server(const aios_server_config *cfg, aios_conn_cb cb)
{
    aios_ctx_init(&ctx);
    naccepted = 0;
    if (aios_server_init(&srv, &ctx, cfg, cb, NULL) < 0) return -1;
    if (aios_server_listen_tcp(&srv, "127.0.0.1", 0) < 0) return -1;
    return aios_server_port(&srv);
}

static void test_header_line_that_never_ends(void)
{
    int port = start_server(NULL, keep_on_conn), fd, i; t_rec r = {0}; size_t n;
    T_REQUIRE(port > 0);
    fd = raw_connect(port, 0);
    T_CHECK(t_spin(&ctx, &naccepted, 1));
    aios_read_until(accepted[0], "\r\n", 2, 8192, t_line_cb, &r);
    for (i = 0; i < 50 && r.calls == 0; i++) {
        raw_flood(fd, 'h', 65536);
        aios_run_once(&ctx, AIOS_MS(10));
    }
    T_CHECK(t_spin(&ctx, &r.calls, 1));
    T_EQ(r.status, AIOS_ETOOLONG);
    aios_data(accepted[0], &n);
    T_CHECK(n >= 8192 && n <= 65536);
    /* the server still serves others */
    {
        int fd2 = raw_connect(port, 0); t_rec r2 = {0};
        T_CHECK(t_spin(&ctx, &naccepted, 2));
        aios_read_until(accepted[1], "\n", 1, 100, t_line_cb, &r2);
        t_write_full(fd2, "fine\n", 5);
        T_CHECK(t_spin(&ctx, &r2.calls, 1));
        T_STREQ(r2.data, "fine\n");
        close(fd2);
    }
    close(fd);
    aios_ctx_close(&ctx);
}

/* The echo pattern of examples/echo_server.c, to see its memory under a peer that never reads. */
static void echo_peek(aios_stream *s, int status, void *ud);
static void echo_written(aios_stream *s, int status, void *ud)
{
    (void)ud;
    if (status < 0) return;
    aios_consume(s, aios_result_len(s));
    aios_peek(s, 1, echo_peek, NULL);
}
static void echo_peek(aios_stream *s, int status, void *ud)
{
    size_t n;
    const char *p = aios_data(s, &n);
    (void)ud;
    if (status < 0) return;
    aios_write(s, p, n, echo_written, NULL);
}
static void echo_conn(aios_server *s, aios_stream *c, const struct sockaddr *peer, void *ud)
{
    keep_on_conn(s, c, peer, ud);
    aios_peek(c, 1, echo_peek, NULL);
}

static void test_peer_that_reads_nothing_stays_bounded(void)
{
    int port = start_server(NULL, echo_conn), fd, i; size_t n, sent = 0;
    T_REQUIRE(port > 0);
    fd = raw_connect(port, 0);
    T_CHECK(t_spin(&ctx, &naccepted, 1));
    for (i = 0; i < 200; i++) {
        size_t k = raw_flood(fd, 'e', 1 << 20);
        sent += k;
        aios_run_once(&ctx, AIOS_MS(5));
        if (k == 0 && i > 20) break;
    }
    aios_data(accepted[0], &n);
    T_CHECK(sent > 65536);           /* the peer did push more than a buffer */
    T_CHECK(n <= 65536);             /* read buffer at its high-water mark */
    T_CHECK(aios_write_queued(accepted[0]) <= 65536);
    close(fd);
    aios_ctx_close(&ctx);
}

static void test_peer_resets_mid_write(void)
{
    int port = start_server(NULL, keep_on_conn), fd; t_rec w = {0}; char buf[4096];
    size_t sz = 16u << 20; char *big = (char *)calloc(1, sz); struct linger lg;
    T_REQUIRE(port > 0 && big);
    fd = raw_connect(port, 0);
    T_CHECK(t_spin(&ctx, &naccepted, 1));
    aios_write(accepted[0], big, sz, t_rec_cb, &w);
    aios_run_once(&ctx, AIOS_MS(10));
    T_CHECK(recv(fd, buf, sizeof buf, 0) > 0);
    lg.l_onoff = 1;
    lg.l_linger = 0;
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd); /* sends a reset */
    T_CHECK(t_spin(&ctx, &w.calls, 1));
    T_CHECK(w.status == -ECONNRESET || w.status == -EPIPE);
    T_EQ(w.calls, 1);
    aios_ctx_close(&ctx);
    free(big);
}

static void test_half_close_both_directions(void)
{
    int port = start_server(NULL, keep_on_conn); aios_stream *c; t_rec conn = {0}, sr = {0}, cr = {0}, ce = {0}, ssh = {0};
    char sbuf[32], cbuf[32];
    T_REQUIRE(port > 0);
    aios_tcp_connect(&c, &ctx, "127.0.0.1", port, NULL, t_rec_cb, &conn);
    T_CHECK(t_spin(&ctx, &naccepted, 1));
    /* client: request, then no more from this side */
    aios_write(c, "question", 8, NULL, NULL);
    aios_shutdown(c, NULL, NULL);
    aios_read_exactly(accepted[0], sbuf, 8, t_rec_cb, &sr);
    T_CHECK(t_spin(&ctx, &sr.calls, 1));
    T_EQ(sr.status, 8);
    sr.calls = 0;
    aios_read(accepted[0], sbuf, sizeof sbuf, t_rec_cb, &sr);
    T_CHECK(t_spin(&ctx, &sr.calls, 1));
    T_EQ(sr.status, 0); /* the server sees the client's end of stream */
    /* server: answer on the half that is still open, then close its side too */
    aios_write(accepted[0], "answer", 6, NULL, NULL);
    aios_shutdown(accepted[0], t_rec_cb, &ssh);
    aios_read_exactly(c, cbuf, 6, t_rec_cb, &cr);
    T_CHECK(t_spin(&ctx, &cr.calls, 1));
    T_EQ(cr.status, 6);
    T_MEMEQ(cbuf, "answer", 6);
    aios_read(c, cbuf, sizeof cbuf, t_rec_cb, &ce);
    T_CHECK(t_spin(&ctx, &ce.calls, 1));
    T_EQ(ce.status, 0);
    T_EQ(ssh.status, 0);
    aios_ctx_close(&ctx);
}

static void test_connect_flood_past_maximum(void)
{
    aios_server_config cfg; int port, fds[60], i, ended = 0, guard;
    aios_server_config_init(&cfg);
    cfg.max_conns = 10;
    port = start_server(&cfg, keep_on_conn);
    T_REQUIRE(port > 0);
    for (i = 0; i < 60; i++) fds[i] = raw_connect(port, 1);
    for (guard = 0; guard < 2000 && srv.stats.accepted + srv.stats.rejected < 60; guard++) aios_run_once(&ctx, AIOS_MS(10));
    T_EQ(srv.stats.accepted, 10);
    T_EQ(srv.stats.rejected, 50);
    T_EQ(naccepted, 10);
    /* the rejected ones see the end of the stream (or a reset) */
    for (i = 0; i < 60; i++) {
        char b;
        struct pollfd p;
        p.fd = fds[i]; p.events = POLLIN;
        if (poll(&p, 1, 0) == 1 && recv(fds[i], &b, 1, MSG_DONTWAIT) <= 0) ended++;
    }
    T_EQ(ended, 50);
    /* after the flood, a slot that frees up serves a newcomer */
    aios_close(accepted[0], NULL, NULL);
    aios_run_once(&ctx, 0);
    {
        int late = raw_connect(port, 1);
        T_CHECK(t_spin(&ctx, &naccepted, 11));
        T_EQ(srv.stats.accepted, 11);
        close(late);
    }
    for (i = 0; i < 60; i++) close(fds[i]);
    aios_ctx_close(&ctx);
}

/* Echo one byte, then close: how a server under descriptor pressure frees slots. */
static int served;
static void one_byte_written(aios_stream *s, int status, void *ud)
{
    (void)ud;
    if (status == 0) served++;
    aios_close(s, NULL, NULL);
}
static char one_byte[64];
static void one_byte_read(aios_stream *s, int status, void *ud)
{
    (void)ud;
    if (status != 1) { aios_close(s, NULL, NULL); return; }
    aios_write(s, "y", 1, one_byte_written, NULL);
}
static int hold_phase = 1;
static void fd_conn(aios_server *s, aios_stream *c, const struct sockaddr *peer, void *ud)
{
    keep_on_conn(s, c, peer, ud);
    if (!hold_phase) aios_read(c, one_byte, 1, one_byte_read, NULL);
}

static int under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "valgrind") != NULL;
}

static void test_fd_exhaustion_pauses_and_recovers(void)
{
    enum { N = 30 };
    int port = start_server(NULL, fd_conn), fds[N], i, top = 0, wakes = 0, got = 0;
    struct rlimit old, low;
    int64_t end;
    T_REQUIRE(port > 0);
    hold_phase = 1;
    served = 0;
    for (i = 0; i < N; i++) {
        fds[i] = raw_connect(port, 0); /* completes in the listen queue, before any accept */
        T_REQUIRE(fds[i] >= 0);
        t_write_full(fds[i], "x", 1);
    }
    top = dup(0); /* the lowest free descriptor number */
    close(top);
    getrlimit(RLIMIT_NOFILE, &old);
    low = old;
    low.rlim_cur = (rlim_t)top + 5; /* room for at most five accepted connections */
    T_REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
    for (i = 0; i < 200 && srv.stats.fd_exhausted == 0; i++) aios_run_once(&ctx, AIOS_MS(10));
    T_CHECK(srv.stats.fd_exhausted >= 1);
    T_CHECK(naccepted <= 5);
    /* while out of descriptors the loop sleeps between retries instead of spinning */
    end = aios_now_ns() + 300 * 1000000LL;
    while (aios_now_ns() < end) { aios_run_once(&ctx, AIOS_MS(50)); wakes++; }
    T_CHECK(wakes < 60);
    /* recovery: the held connections go, the rest are accepted and served */
    hold_phase = 0;
    for (i = 0; i < naccepted && i < 64; i++) aios_close(accepted[i], NULL, NULL);
    naccepted = 0;
    {
        int guard;
        for (guard = 0; guard < 3000 && served < N - 5; guard++) aios_run_once(&ctx, AIOS_MS(10));
    }
    setrlimit(RLIMIT_NOFILE, &old);
    for (i = 0; i < N; i++) {
        char b = 0;
        struct pollfd p;
        p.fd = fds[i]; p.events = POLLIN;
        if (poll(&p, 1, 0) == 1 && recv(fds[i], &b, 1, MSG_DONTWAIT) == 1 && b == 'y') got++;
        close(fds[i]);
    }
    if (getenv("T_DEBUG")) printf("served %d got %d accepted %lu exhausted %lu wakes %d\n", served, got, srv.stats.accepted, srv.stats.fd_exhausted, wakes);
    /* valgrind emulates the descriptor limit by closing what the kernel
     * accepted, so there each EMFILE loses that one connection */
    T_CHECK(served >= N - 5 - (under_valgrind() ? (int)srv.stats.fd_exhausted : 0));
    T_EQ(got, served);
    aios_ctx_close(&ctx);
}

/* Issue 4: peers that each hold a connection and trickle a byte now and
 * then kept every slot.  With evict_idle, a connection arriving at
 * max_conns takes the place of the one whose last byte is oldest. */
static t_rec evict_rec[64];
static void evict_conn(aios_server *s, aios_stream *c, const struct sockaddr *peer, void *ud)
{
    keep_on_conn(s, c, peer, ud);
    if (naccepted <= 64) aios_read(c, evict_rec[naccepted - 1].data, 1, t_rec_cb, &evict_rec[naccepted - 1]);
}

static void test_at_the_cap_a_newcomer_evicts_the_connection_idle_longest(void)
{
    aios_server_config cfg;
    int port, fd[4], i;
    aios_server_config_init(&cfg);
    cfg.max_conns = 3;
    cfg.evict_idle = 1;
    memset(evict_rec, 0, sizeof evict_rec);
    port = start_server(&cfg, evict_conn);
    T_REQUIRE(port > 0);
    for (i = 0; i < 3; i++) {
        fd[i] = raw_connect(port, 0);
        T_CHECK(t_spin(&ctx, &naccepted, i + 1));
    }
    /* the first and the third speak: the second is now idle longest */
    t_write_full(fd[0], "a", 1);
    T_CHECK(t_spin(&ctx, &evict_rec[0].calls, 1));
    t_write_full(fd[2], "c", 1);
    T_CHECK(t_spin(&ctx, &evict_rec[2].calls, 1));
    fd[3] = raw_connect(port, 0);
    T_CHECK(t_spin(&ctx, &naccepted, 4));
    T_CHECK(t_spin(&ctx, &evict_rec[1].calls, 1));
    T_EQ(evict_rec[1].status, -ECANCELED);      /* the idle one, closed */
    T_EQ(srv.stats.evicted, 1);
    T_EQ(srv.stats.rejected, 0);
    t_write_full(fd[3], "d", 1);                 /* the newcomer is served */
    T_CHECK(t_spin(&ctx, &evict_rec[3].calls, 1));
    T_EQ(evict_rec[3].status, 1);
    T_EQ(evict_rec[0].status, 1);
    T_EQ(aios_stream_fd(accepted[0]) >= 0, 1);  /* the active ones stay */
    T_EQ(aios_stream_fd(accepted[2]) >= 0, 1);
    T_EQ(srv.stats.active, 3);
    /* the next newcomer evicts the oldest speaker, not the one just served:
     * the first peer sees its end of stream, the fourth does not */
    {
        int late = raw_connect(port, 0);
        char b;
        T_CHECK(t_spin(&ctx, &naccepted, 5));
        t_spin_ms(&ctx, 20);
        T_EQ(srv.stats.evicted, 2);
        T_EQ(recv(fd[0], &b, 1, MSG_DONTWAIT), 0);
        T_EQ(recv(fd[3], &b, 1, MSG_DONTWAIT), -1);
        T_EQ(errno, EAGAIN);
        close(late);
    }
    for (i = 0; i < 4; i++) close(fd[i]);
    aios_ctx_close(&ctx);
}

/* ... and one that finds the process out of descriptors (EMFILE) too. */
static void test_out_of_descriptors_a_newcomer_evicts_the_connection_idle_longest(void)
{
    aios_server_config cfg;
    struct rlimit old, low;
    int port, fd[6], i, top;
    aios_server_config_init(&cfg);
    cfg.evict_idle = 1;
    memset(evict_rec, 0, sizeof evict_rec);
    port = start_server(&cfg, evict_conn);
    T_REQUIRE(port > 0);
    for (i = 0; i < 6; i++) { fd[i] = raw_connect(port, 0); T_REQUIRE(fd[i] >= 0); }
    top = dup(0);  /* the lowest free descriptor number */
    close(top);
    getrlimit(RLIMIT_NOFILE, &old);
    low = old;
    low.rlim_cur = (rlim_t)top + 3;  /* room for three accepted connections */
    T_REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
    T_CHECK(t_spin(&ctx, &naccepted, 6));
    setrlimit(RLIMIT_NOFILE, &old);
    T_EQ(srv.stats.fd_exhausted, 0);            /* never paused: each newcomer took a place */
    T_CHECK(srv.stats.evicted >= 3);
    T_EQ(srv.stats.rejected, 0);
    T_EQ(evict_rec[0].status, -ECANCELED);     /* the first, idle longest, went first */
    T_EQ(aios_stream_fd(accepted[5]) >= 0, 1);  /* the last is served */
    for (i = 0; i < 6; i++) close(fd[i]);
    aios_ctx_close(&ctx);
}

static void test_idle_slow_clients_do_not_block_others(void)
{
    int port = start_server(NULL, echo_conn), idle[40], i, fd; char buf[8]; ssize_t n = 0; int tries;
    T_REQUIRE(port > 0);
    for (i = 0; i < 40; i++) { idle[i] = raw_connect(port, 0); t_write_full(idle[i], "", 0); }
    T_CHECK(t_spin(&ctx, &naccepted, 40));
    fd = raw_connect(port, 0);
    t_write_full(fd, "alive", 5);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    for (tries = 0; tries < 500 && n < 5; tries++) {
        ssize_t k;
        aios_run_once(&ctx, AIOS_MS(10));
        k = recv(fd, buf + n, sizeof buf - (size_t)n, 0);
        if (k > 0) n += k;
    }
    T_EQ(n, 5);
    T_MEMEQ(buf, "alive", 5);
    for (i = 0; i < 40; i++) close(idle[i]);
    close(fd);
    aios_ctx_close(&ctx);
}

/* Slow-loris: a client that trickles a header line one byte at a time,
 * never finishing it.  The per-operation read timeout is a deadline for the
 * whole line, not reset by each byte, so the line fails with -ETIMEDOUT
 * long before the trickle would end (bounded in time), holding no more than
 * it received (bounded in memory), while a well-behaved client is answered
 * meanwhile. */
static void test_slow_loris_trickle_times_out_while_others_are_served(void)
{
    int port = start_server(NULL, keep_on_conn), fd, fd2, i; t_rec r = {0}, r2 = {0}; size_t n;
    T_REQUIRE(port > 0);
    fd = raw_connect(port, 0);
    T_CHECK(t_spin(&ctx, &naccepted, 1));
    T_EQ(aios_set_timeouts(accepted[0], AIOS_MS(300), 0), 0);
    aios_read_until(accepted[0], "\r\n", 2, 8192, t_line_cb, &r);
    fd2 = raw_connect(port, 0);
    T_CHECK(t_spin(&ctx, &naccepted, 2));
    aios_read_until(accepted[1], "\n", 1, 100, t_line_cb, &r2);
    /* one byte every 10 ms for up to 10 s: the deadline must cut it short */
    for (i = 0; i < 1000 && r.calls == 0; i++) {
        if (send(fd, "x", 1, MSG_NOSIGNAL) != 1) break;
        if (i == 5) t_write_full(fd2, "fine\n", 5);
        t_spin_ms(&ctx, 10);
    }
    if (r.calls != 1) fprintf(stderr, "slow-loris: %d bytes sent, no callback\n", i);
    T_EQ(r.calls, 1);
    T_EQ(r.status, -ETIMEDOUT);
    T_CHECK(i < 1000);
    aios_data(accepted[0], &n);
    T_CHECK(n <= (size_t)i + 1);
    T_CHECK(t_spin(&ctx, &r2.calls, 1));
    T_STREQ(r2.data, "fine\n");
    close(fd);
    close(fd2);
    aios_ctx_close(&ctx);
}

int main(void)
{
    t_suite("aio_hostile");
    T_RUN(test_slow_loris_trickle_times_out_while_others_are_served);
    T_RUN(test_header_line_that_never_ends);
    T_RUN(test_peer_that_reads_nothing_stays_bounded);
    T_RUN(test_peer_resets_mid_write);
    T_RUN(test_half_close_both_directions);
    T_RUN(test_connect_flood_past_maximum);
    T_RUN(test_fd_exhaustion_pauses_and_recovers);
    T_RUN(test_idle_slow_clients_do_not_block_others);
    T_RUN(test_at_the_cap_a_newcomer_evicts_the_connection_idle_longest);
    if (!under_valgrind())  /* valgrind closes what the kernel accepted past the limit */
        T_RUN(test_out_of_descriptors_a_newcomer_evicts_the_connection_idle_longest);
    return t_done();
}
