/* tests/aio_await.c - sched.h tasks await aio_stream.h's operations: each
 * await completes with what the callback would have said, and a timeout or
 * a cancellation in the middle of each leaves the stream usable (no byte
 * lost, none twice).  Built twice, with either header included first
 * (AWAIT_AIO_FIRST): the second one compiles the bridge. */
#ifdef AWAIT_AIO_FIRST
#define AIOS_IMPLEMENTATION
#include "aio_stream.h"
#define SCHD_IMPLEMENTATION
#include "sched.h"
#else
#define SCHD_IMPLEMENTATION
#include "sched.h"
#define AIOS_IMPLEMENTATION
#include "aio_stream.h"
#endif
#include "tests/harness.h"
#include <errno.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static schd_loop loop;
static schd_source src;
static aios_ctx ctx;

static void setup(void)
{
    T_REQUIRE(schd_loop_init(&loop) == 0 && aios_ctx_init(&ctx) == 0);
    T_REQUIRE(aios_attach(&ctx, &loop, &src) == 0);
}

static void teardown(void)
{
    schd_source_remove(&src);
    aios_ctx_close(&ctx);
    schd_loop_close(&loop);
}

/* Runs the loop until the task has ended (a bound, not a timing check). */
static void run_task(schd_task *t)
{
    int64_t give_up = schd_now_ns() + SCHD_SEC(20);
    while (schd_task_state(t) != SCHD_TASK_DONE && schd_now_ns() < give_up) schd_loop_run_once(&loop, SCHD_MS(50));
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = (const char *)p;
    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k <= 0) return;
        c += k;
        n -= (size_t)k;
    }
}

/* ---- a conversation: connect, write, read until, read exactly, drain, shutdown ---- */

typedef struct talk {
    schd_task task;
    aios_server srv;
    aios_stream *c;
    int port, st[8], n;
    char buf[16];
} talk;

static void on_conn_echo_line(aios_server *srv, aios_stream *s, const struct sockaddr *peer, void *ud);

static void echo_line(aios_stream *s, int status, void *ud)
{
    size_t n;
    const char *d = aios_data(s, &n);
    (void)ud;
    if (status <= 0) { aios_close(s, NULL, NULL); return; }
    aios_write_copy(s, d, (size_t)status, NULL, NULL);
    aios_consume(s, (size_t)status);
    aios_read_until(s, "\n", 1, 256, echo_line, NULL);
}

static void on_conn_echo_line(aios_server *srv, aios_stream *s, const struct sockaddr *peer, void *ud)
{
    (void)srv; (void)peer; (void)ud;
    aios_read_until(s, "\n", 1, 256, echo_line, NULL);
}

static int talk_task(schd_task *t)
{
    talk *k = SCHD_CONTAINER_OF(t, talk, task);
    SCHD_TASK_BEGIN(t);
    AIOS_AWAIT_CONNECT(t, &k->c, &ctx, "127.0.0.1", k->port, NULL);
    k->st[0] = SCHD_STATUS(t);
    AIOS_AWAIT_WRITE(t, k->c, "ping\npong\n", 10);
    k->st[1] = SCHD_STATUS(t);
    AIOS_AWAIT_READ_UNTIL(t, k->c, "\n", 1, 64);
    k->st[2] = SCHD_STATUS(t);
    if (k->st[2] > 0) aios_consume(k->c, (size_t)k->st[2]);
    AIOS_AWAIT_READ_EXACTLY(t, k->c, k->buf, 5);
    k->st[3] = SCHD_STATUS(t);
    AIOS_AWAIT_DRAIN(t, k->c, 0);
    k->st[4] = SCHD_STATUS(t);
    AIOS_AWAIT_SHUTDOWN(t, k->c);
    k->st[5] = SCHD_STATUS(t);
    aios_close(k->c, NULL, NULL);
    AIOS_AWAIT_SERVER_SHUTDOWN(t, &k->srv, SCHD_SEC(1));
    k->st[6] = SCHD_STATUS(t);
    SCHD_TASK_END(t);
}

static void test_a_task_connects_writes_reads_and_shuts_down(void)
{
    static talk k;
    memset(&k, 0, sizeof k);
    setup();
    T_REQUIRE(aios_server_init(&k.srv, &ctx, NULL, on_conn_echo_line, NULL) == 0);
    T_REQUIRE(aios_server_listen_tcp(&k.srv, "127.0.0.1", 0) == 0);
    k.port = aios_server_port(&k.srv);
    T_EQ(schd_task_start(&k.task, &loop, talk_task, NULL), 0);
    run_task(&k.task);
    T_EQ(schd_task_state(&k.task), SCHD_TASK_DONE);
    T_EQ(k.st[0], 0);
    T_EQ(k.st[1], 0);
    T_EQ(k.st[2], 5);                          /* "ping\n" */
    T_EQ(k.st[3], 5);
    T_MEMEQ(k.buf, "pong\n", 5);
    T_EQ(k.st[4], 0);
    T_EQ(k.st[5], 0);
    T_EQ(k.st[6], 0);
    teardown();
}

/* ---- a timeout in the middle of each read leaves every byte in place ---- */

typedef struct reader {
    schd_task task;
    aios_stream *s;
    int st[6];
    char buf[16];
} reader;

static int reader_task(schd_task *t)
{
    reader *r = SCHD_CONTAINER_OF(t, reader, task);
    SCHD_TASK_BEGIN(t);
    schd_task_timeout(t, SCHD_MS(30));
    AIOS_AWAIT_READ_UNTIL(t, r->s, "\n", 1, 64);     /* "ab" arrived, no newline */
    r->st[0] = SCHD_STATUS(t);
    schd_task_timeout(t, SCHD_MS(30));
    AIOS_AWAIT_READ_EXACTLY(t, r->s, r->buf, 8);     /* 5 of 8 bytes */
    r->st[1] = SCHD_STATUS(t);
    SCHD_AWAIT_DELAY(t, 0);
    r->st[2] = SCHD_STATUS(t);                       /* the test writes the rest now */
    AIOS_AWAIT_READ_EXACTLY(t, r->s, r->buf, 8);
    r->st[3] = SCHD_STATUS(t);
    SCHD_TASK_END(t);
}

static void test_timeouts_mid_read_lose_no_byte(void)
{
    static reader r;
    int sv[2];
    memset(&r, 0, sizeof r);
    setup();
    T_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    T_REQUIRE(aios_stream_open(&r.s, &ctx, sv[0], 0) == 0);
    write_all(sv[1], "ab", 2);
    T_EQ(schd_task_start(&r.task, &loop, reader_task, NULL), 0);
    while (r.st[0] == 0) schd_loop_run_once(&loop, SCHD_MS(50));
    T_EQ(r.st[0], -ETIMEDOUT);
    write_all(sv[1], "cde", 3);                     /* with "ab": 5 of the 8 */
    while (r.st[1] == 0) schd_loop_run_once(&loop, SCHD_MS(50));
    T_EQ(r.st[1], -ETIMEDOUT);
    write_all(sv[1], "fgh", 3);
    run_task(&r.task);
    T_EQ(r.st[3], 8);
    T_MEMEQ(r.buf, "abcdefgh", 8);                  /* in order, each once */
    aios_close(r.s, NULL, NULL);
    close(sv[1]);
    teardown();
}

/* ---- a cancelled task's read: the finally block reads on ---- */

typedef struct canc {
    schd_task task;
    aios_stream *s;
    int first, second;
} canc;

static int canc_task(schd_task *t)
{
    canc *c = SCHD_CONTAINER_OF(t, canc, task);
    SCHD_TASK_BEGIN(t);
    AIOS_AWAIT_READ_UNTIL(t, c->s, "\n", 1, 64);
    c->first = SCHD_STATUS(t);
    SCHD_TASK_FINALLY(t);
    c->first = SCHD_STATUS(t);
    AIOS_AWAIT_READ_UNTIL(t, c->s, "\n", 1, 64);
    c->second = SCHD_STATUS(t);
    SCHD_TASK_END(t);
}

static void test_cancel_mid_read_then_read_again(void)
{
    static canc c;
    int sv[2];
    memset(&c, 0, sizeof c);
    setup();
    T_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    T_REQUIRE(aios_stream_open(&c.s, &ctx, sv[0], 0) == 0);
    write_all(sv[1], "hel", 3);
    T_EQ(schd_task_start(&c.task, &loop, canc_task, NULL), 0);
    schd_loop_run_once(&loop, SCHD_MS(20));
    schd_loop_run_once(&loop, SCHD_MS(20));
    T_EQ(schd_task_cancel(&c.task), 0);
    schd_loop_run_once(&loop, 0);
    T_EQ(c.first, -ECANCELED);
    write_all(sv[1], "lo\n", 3);
    run_task(&c.task);
    T_EQ(c.second, 6);                            /* "hello\n": nothing lost */
    aios_close(c.s, NULL, NULL);
    close(sv[1]);
    teardown();
}

/* ---- a write that times out half sent finishes from a copy ---- */

typedef struct writer {
    schd_task task;
    aios_stream *s;
    int st;
    char *data;
    size_t n;
} writer;

static int writer_task(schd_task *t)
{
    writer *w = SCHD_CONTAINER_OF(t, writer, task);
    SCHD_TASK_BEGIN(t);
    schd_task_timeout(t, SCHD_MS(30));
    AIOS_AWAIT_WRITE(t, w->s, w->data, w->n);       /* the peer does not read yet */
    w->st = SCHD_STATUS(t);
    memset(w->data, 'X', w->n);                     /* the buffer is the task's again */
    SCHD_TASK_END(t);
}

static void test_timeout_mid_write_sends_every_byte_once(void)
{
    static writer w;
    int sv[2], sz = 4096;
    size_t i, got = 0;
    char *in;
    memset(&w, 0, sizeof w);
    setup();
    w.n = 1 << 20;
    w.data = (char *)malloc(w.n);
    in = (char *)malloc(w.n + 1);
    T_REQUIRE(w.data && in && socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    for (i = 0; i < w.n; i++) w.data[i] = (char)('a' + i % 26);
    T_REQUIRE(aios_stream_open(&w.s, &ctx, sv[0], 0) == 0);
    T_EQ(schd_task_start(&w.task, &loop, writer_task, NULL), 0);
    run_task(&w.task);
    T_EQ(w.st, -ETIMEDOUT);
    while (got < w.n) {                             /* now read everything */
        ssize_t k;
        schd_loop_run_once(&loop, 0);
        k = recv(sv[1], in + got, w.n + 1 - got, MSG_DONTWAIT);
        if (k > 0) got += (size_t)k;
        else if (k == 0) break;
    }
    T_EQ(got, w.n);
    for (i = 0; i < got; i++)
        if (in[i] != (char)('a' + i % 26)) { T_FAILF("byte %zu is %c", i, in[i]); }
    aios_close(w.s, NULL, NULL);
    close(sv[1]);
    free(w.data);
    free(in);
    teardown();
}

/* ---- a connect that times out is abandoned; the stream closes normally ---- */

typedef struct conn { schd_task task; aios_stream *s; int st; const char *path; } conn;

static int connect_task(schd_task *t)
{
    conn *c = SCHD_CONTAINER_OF(t, conn, task);
    SCHD_TASK_BEGIN(t);
    schd_task_timeout(t, SCHD_MS(30));
    AIOS_AWAIT_UNIX_CONNECT(t, &c->s, &ctx, c->path);   /* its backlog is full: retried for seconds */
    c->st = SCHD_STATUS(t);
    SCHD_TASK_END(t);
}

static void test_timeout_mid_connect_leaves_a_stream_to_close(void)
{
    static conn c;
    struct sockaddr_un a;
    int lfd, fill[8], nfill = 0, i;
    memset(&c, 0, sizeof c);
    memset(&a, 0, sizeof a);
    setup();
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof a.sun_path, "/tmp/aio_await_%d.sock", (int)getpid());
    unlink(a.sun_path);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    T_REQUIRE(lfd >= 0 && bind(lfd, (struct sockaddr *)&a, sizeof a) == 0 && listen(lfd, 0) == 0);
    while (nfill < 8) {                        /* fill the backlog: the next connect gets EAGAIN */
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { close(fd); break; }
        fill[nfill++] = fd;
    }
    c.path = a.sun_path;
    T_EQ(schd_task_start(&c.task, &loop, connect_task, NULL), 0);
    run_task(&c.task);
    T_EQ(c.st, -ETIMEDOUT);
    T_CHECK(c.s != NULL);
    if (c.s) {
        T_EQ(aios_stream_fd(c.s), -1);
        T_EQ(aios_close(c.s, NULL, NULL), 0);
    }
    for (i = 0; i < nfill; i++) close(fill[i]);
    close(lfd);
    unlink(a.sun_path);
    teardown();
}

/* ---- an await that cannot start says why at once ---- */

typedef struct bad { schd_task task; aios_stream *s; int st; char b[4]; } bad;

static int bad_task(schd_task *t)
{
    bad *b = SCHD_CONTAINER_OF(t, bad, task);
    SCHD_TASK_BEGIN(t);
    AIOS_AWAIT_READ(t, b->s, b->b, 0);
    b->st = SCHD_STATUS(t);
    SCHD_TASK_END(t);
}

static void test_an_await_that_cannot_start_reports_at_once(void)
{
    static bad b;
    int sv[2];
    memset(&b, 0, sizeof b);
    setup();
    T_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    T_REQUIRE(aios_stream_open(&b.s, &ctx, sv[0], 0) == 0);
    T_EQ(schd_task_start(&b.task, &loop, bad_task, NULL), 0);
    run_task(&b.task);
    T_EQ(b.st, -EINVAL);
    aios_close(b.s, NULL, NULL);
    close(sv[1]);
    teardown();
}

int main(void)
{
#ifdef AWAIT_AIO_FIRST
    t_suite("aio_await_aiofirst");
#else
    t_suite("aio_await");
#endif
    T_RUN(test_a_task_connects_writes_reads_and_shuts_down);
    T_RUN(test_timeouts_mid_read_lose_no_byte);
    T_RUN(test_cancel_mid_read_then_read_again);
    T_RUN(test_timeout_mid_write_sends_every_byte_once);
    T_RUN(test_timeout_mid_connect_leaves_a_stream_to_close);
    T_RUN(test_an_await_that_cannot_start_reports_at_once);
    return t_done();
}
