/* tests/aio_threads.c - the one place aio_stream.h crosses threads: host
 * names resolve in a resolver thread that hands its answer (and its last
 * reference) back to the loop.  Many resolutions at once, with answers that
 * take a random 0-2 ms, and connects abandoned while their thread is still
 * inside getaddrinfo, or a whole context closed then.  Each connect calls
 * back exactly once; ThreadSanitizer (tests/parts/aio_stream.sh) watches
 * the handoffs, ASan and valgrind the references. */
#define _GNU_SOURCE 1
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "jitter.test": 127.0.0.1 after a random pause (rand_r: called from many
 * threads at once) */
static unsigned t_jitter_seed = 12345;
static int t_getaddrinfo(const char *host, const char *serv, const struct addrinfo *hints, struct addrinfo **res)
{
    if (host && strcmp(host, "jitter.test") == 0) {
        unsigned s = __atomic_add_fetch(&t_jitter_seed, 7919u, __ATOMIC_RELAXED);
        struct timespec ts = {0, (long)(rand_r(&s) % 2000) * 1000L};
        nanosleep(&ts, NULL);
        host = "127.0.0.1";
    }
    return getaddrinfo(host, serv, hints, res);
}
#define AIOS_SYS_GETADDRINFO(h, s, hi, r) t_getaddrinfo((h), (s), (hi), (r))

#include "aio_common.h"

#define N 48

typedef struct conn {
    aios_stream *s;
    int calls, status, abandon, echoed;
    char byte;
} conn;

static int done_count;

static void on_echo(aios_stream *s, int status, void *ud)
{
    conn *c = (conn *)ud;
    if (status == 1 && c->byte == 'x') c->echoed = 1;
    aios_close(s, NULL, NULL);
    done_count++;
}

static void on_connect(aios_stream *s, int status, void *ud)
{
    conn *c = (conn *)ud;
    c->calls++;
    c->status = status;
    if (c->abandon) return;   /* closed by the test already: -ECANCELED */
    if (status < 0) { aios_close(s, NULL, NULL); done_count++; return; }
    if (aios_write(s, "x", 1, NULL, NULL) < 0 || aios_read(s, &c->byte, 1, on_echo, c) < 0) {
        aios_close(s, NULL, NULL);
        done_count++;
    }
}

static void on_server_read(aios_stream *s, int status, void *ud)
{
    (void)ud;
    if (status > 0) {
        size_t n;
        const char *d = aios_data(s, &n);
        aios_write_copy(s, d, n, NULL, NULL);
        aios_consume(s, n);
        aios_peek(s, 1, on_server_read, NULL);
    } else {
        aios_close(s, NULL, NULL);
    }
}

static void on_accept(aios_server *srv, aios_stream *s, const struct sockaddr *peer, void *ud)
{
    (void)srv; (void)peer; (void)ud;
    aios_peek(s, 1, on_server_read, NULL);
}

static void test_many_resolutions_at_once_some_abandoned(void)
{
    aios_ctx ctx;
    aios_server srv;
    conn c[N];
    int round, k, want = 0, cancelled = 0, echoed = 0;
    T_REQUIRE(aios_ctx_init(&ctx) == 0);
    T_REQUIRE(aios_server_init(&srv, &ctx, NULL, on_accept, NULL) == 0);
    T_REQUIRE(aios_server_listen_tcp(&srv, "127.0.0.1", 0) == 0);
    for (round = 0; round < 4; round++) {
        memset(c, 0, sizeof c);
        done_count = 0;
        want = 0;
        for (k = 0; k < N; k++) {
            T_EQ(aios_tcp_connect(&c[k].s, &ctx, "jitter.test", aios_server_port(&srv), NULL, on_connect, &c[k]), 0);
            if (k % 3 == 0) {        /* abandoned while the thread resolves */
                c[k].abandon = 1;
                T_EQ(aios_close(c[k].s, NULL, NULL), 0);
            } else {
                want++;
            }
        }
        T_CHECK(t_spin(&ctx, &done_count, want));
        t_spin_ms(&ctx, 20);
        for (k = 0; k < N; k++) {
            T_EQ(c[k].calls, 1);
            if (c[k].abandon) { T_EQ(c[k].status, -ECANCELED); cancelled++; }
            else { T_EQ(c[k].status, 0); echoed += c[k].echoed; }
        }
    }
    T_EQ(echoed, 4 * (N - (N + 2) / 3));
    T_EQ(cancelled, 4 * ((N + 2) / 3));
    aios_ctx_close(&ctx);
}

static void test_context_closed_while_threads_resolve(void)
{
    int round, k;
    for (round = 0; round < 8; round++) {
        aios_ctx ctx;
        conn c[8];
        memset(c, 0, sizeof c);
        T_REQUIRE(aios_ctx_init(&ctx) == 0);
        for (k = 0; k < 8; k++) {
            c[k].abandon = 1;
            T_EQ(aios_tcp_connect(&c[k].s, &ctx, "jitter.test", 9, NULL, on_connect, &c[k]), 0);
        }
        if (round % 2) aios_run_once(&ctx, AIOS_MS(1));
        aios_ctx_close(&ctx);   /* waits for every resolver thread */
        for (k = 0; k < 8; k++) {
            T_EQ(c[k].calls, 1);   /* -ECANCELED, or refused when it got that far */
            T_CHECK(c[k].status < 0);
        }
    }
}

int main(void)
{
    t_suite("aio_threads");
    T_RUN(test_many_resolutions_at_once_some_abandoned);
    T_RUN(test_context_closed_while_threads_resolve);
    return t_done();
}
