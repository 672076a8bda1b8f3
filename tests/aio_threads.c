/* tests/aio_threads.c - the one place aio_stream.h crosses threads: host
 * names resolve in a bounded pool of resolver threads that hand their
 * answers back to the loop.  Many resolutions at once, with answers that
 * take a random 0-2 ms, and connects abandoned while their thread is still
 * inside getaddrinfo, or a whole context closed then; and a resolver that
 * never answers (a DNS outage).  Each connect calls back exactly once;
 * ThreadSanitizer (tests/parts/aio_stream.sh) watches the handoffs, ASan
 * and valgrind the memory, which the abandoned threads free themselves:
 * every test waits for the library's last block to go before it ends. */
#define _GNU_SOURCE 1
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Three threads at most per context (the default is 4): the tests see the
 * bound at work. */
#define AIOS_RESOLVER_THREADS 3

/* The library's blocks still allocated, from any thread. */
static int t_live;
static void *t_malloc(size_t n)
{
    void *p = malloc(n);
    if (p) __atomic_add_fetch(&t_live, 1, __ATOMIC_SEQ_CST);
    return p;
}
static void *t_realloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q && !p) __atomic_add_fetch(&t_live, 1, __ATOMIC_SEQ_CST);
    return q;
}
static void t_free(void *p)
{
    if (p) __atomic_sub_fetch(&t_live, 1, __ATOMIC_SEQ_CST);
    free(p);
}
#define AIOS_MALLOC(n) t_malloc(n)
#define AIOS_REALLOC(p, n) t_realloc((p), (n))
#define AIOS_FREE(p) t_free(p)

/* "dead.test": a DNS server that does not answer until the test opens the
 * gate (or a watchdog does, so that a build whose close waits for it fails
 * instead of hanging).  Counts the calls inside at once and in all. */
static pthread_mutex_t t_gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t t_gate_cond = PTHREAD_COND_INITIALIZER;
static int t_gate_open, t_dead_inside, t_dead_inside_max, t_dead_calls;
static int t_dead_getaddrinfo(void)
{
    pthread_mutex_lock(&t_gate_lock);
    t_dead_calls++;
    if (++t_dead_inside > t_dead_inside_max) t_dead_inside_max = t_dead_inside;
    while (!t_gate_open) pthread_cond_wait(&t_gate_cond, &t_gate_lock);
    t_dead_inside--;
    pthread_mutex_unlock(&t_gate_lock);
    return EAI_AGAIN;
}
static void t_gate_set(int open)
{
    pthread_mutex_lock(&t_gate_lock);
    t_gate_open = open;
    pthread_cond_broadcast(&t_gate_cond);
    pthread_mutex_unlock(&t_gate_lock);
}
static int t_dead_now(int *field)
{
    int v;
    pthread_mutex_lock(&t_gate_lock);
    v = *field;
    pthread_mutex_unlock(&t_gate_lock);
    return v;
}

/* "jitter.test": 127.0.0.1 after a random pause (rand_r: called from many
 * threads at once) */
static unsigned t_jitter_seed = 12345;
static int t_getaddrinfo(const char *host, const char *serv, const struct addrinfo *hints, struct addrinfo **res)
{
    if (host && strcmp(host, "dead.test") == 0) return t_dead_getaddrinfo();
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

/* Waits (up to 10 s) until every block of the library is freed: the
 * threads of a closed context free what they hold when they return. */
static int t_all_freed(void)
{
    int i;
    for (i = 0; i < 10000 && __atomic_load_n(&t_live, __ATOMIC_SEQ_CST) != 0; i++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    return __atomic_load_n(&t_live, __ATOMIC_SEQ_CST) == 0;
}

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
    T_CHECK(t_all_freed());
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
        aios_ctx_close(&ctx);   /* the threads still resolving go on alone */
        for (k = 0; k < 8; k++) {
            T_EQ(c[k].calls, 1);   /* -ECANCELED, or refused when it got that far */
            T_CHECK(c[k].status < 0);
        }
    }
    T_CHECK(t_all_freed());
}

/* Opens the gate after 2 s unless the test did. */
static void *t_watchdog(void *arg)
{
    struct timespec until;
    (void)arg;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    pthread_mutex_lock(&t_gate_lock);
    while (!t_gate_open && pthread_cond_timedwait(&t_gate_cond, &t_gate_lock, &until) == 0) {}
    pthread_mutex_unlock(&t_gate_lock);
    t_gate_set(1);
    return NULL;
}

/* 64 connects while the DNS server is dead: three threads resolve (the
 * rest wait in the queue, costing no thread), aios_ctx_close returns at
 * once with every connect cancelled, and the three threads free their
 * lookups when getaddrinfo finally returns.  The queued lookups never run. */
static void test_dead_resolver_holds_neither_threads_nor_close(void)
{
    aios_ctx ctx;
    conn c[64];
    pthread_t dog;
    int k, i;
    int64_t t0, took;
    memset(c, 0, sizeof c);
    t_gate_set(0);
    T_REQUIRE(pthread_create(&dog, NULL, t_watchdog, NULL) == 0);
    T_REQUIRE(aios_ctx_init(&ctx) == 0);
    for (k = 0; k < 64; k++) {
        c[k].abandon = 1;
        T_EQ(aios_tcp_connect(&c[k].s, &ctx, "dead.test", 80, NULL, on_connect, &c[k]), 0);
    }
    for (i = 0; i < 500 && t_dead_now(&t_dead_inside) < 3; i++) aios_run_once(&ctx, AIOS_MS(2));
    t_spin_ms(&ctx, 50);                        /* time for more threads, were there any */
    T_EQ(aios_run_once(&ctx, 0), 1);            /* the lookups keep the loop alive */
    t0 = aios_now_ns();
    aios_ctx_close(&ctx);
    took = aios_now_ns() - t0;
    t_gate_set(1);
    pthread_join(dog, NULL);
    T_CHECK(t_all_freed());
    T_EQ(t_dead_now(&t_dead_inside_max), 3);
    T_CHECK(took < AIOS_MS(100));
    for (k = 0; k < 64; k++) {
        T_EQ(c[k].calls, 1);
        T_EQ(c[k].status, -ECANCELED);
    }
    T_EQ(t_dead_now(&t_dead_calls), 3);         /* the 61 queued never reached getaddrinfo */
}

int main(void)
{
    t_suite("aio_threads");
    T_RUN(test_many_resolutions_at_once_some_abandoned);
    T_RUN(test_context_closed_while_threads_resolve);
    T_RUN(test_dead_resolver_holds_neither_threads_nor_close);
    return t_done();
}
