/* tests/aio_dgram_await.c - sched.h tasks await datagrams: each await
 * ends with what the callback would have said, and a timeout or a
 * cancellation in the middle takes the operation back with the socket
 * still usable (a receive has taken no datagram; a send not yet gone
 * never goes).  Built twice, with either header first (AWAIT_AIO_FIRST):
 * the second one compiles the bridge. */
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

static void run_task(schd_task *t)
{
    int64_t give_up = schd_now_ns() + SCHD_SEC(20);
    while (schd_task_state(t) != SCHD_TASK_DONE && schd_now_ns() < give_up) schd_loop_run_once(&loop, SCHD_MS(50));
}

/* At least one iteration, however late the process gets the processor
 * back: the fill loop below counts on one to hand its datagram to the
 * kernel (with none, a loaded machine took a send not yet tried for one
 * the kernel refused). */
static void run_ms(int ms)
{
    int64_t end = schd_now_ns() + SCHD_MS(ms);
    do schd_loop_run_once(&loop, SCHD_MS(5)); while (schd_now_ns() < end);
}

static aios_dgram *udp(void)
{
    aios_dgram *d = NULL;
    return aios_udp_open(&d, &ctx, "127.0.0.1", 0, NULL) == 0 ? d : NULL;
}

typedef struct pingpong {
    schd_task task;
    aios_dgram *a, *b;
    aios_addr to;
    int st[6], n;
    char buf[64];
    aios_addr from;
} pingpong;

/* Sends, receives, answers, receives the answer; then a receive that runs
 * out of time, and one that comes after it and still gets its datagram. */
static int pingpong_task(schd_task *t)
{
    pingpong *p = SCHD_CONTAINER_OF(t, pingpong, task);
    SCHD_TASK_BEGIN(t);
    AIOS_AWAIT_SEND(t, p->a, "ping", 4, &p->to);
    p->st[0] = SCHD_STATUS(t);
    AIOS_AWAIT_RECV(t, p->b, p->buf, sizeof p->buf);
    p->st[1] = SCHD_STATUS(t);
    p->from = *aios_recv_from(p->b);
    AIOS_AWAIT_SEND(t, p->b, "pong!", 5, &p->from);
    p->st[2] = SCHD_STATUS(t);
    AIOS_AWAIT_RECV(t, p->a, p->buf, sizeof p->buf);
    p->st[3] = SCHD_STATUS(t);
    schd_task_timeout(t, SCHD_MS(30));
    AIOS_AWAIT_RECV(t, p->b, p->buf, sizeof p->buf);
    p->st[4] = SCHD_STATUS(t);
    aios_send(p->a, "late", 4, &p->to, NULL, NULL);
    AIOS_AWAIT_RECV(t, p->b, p->buf, 2);   /* cut to 2 bytes */
    p->st[5] = SCHD_STATUS(t);
    SCHD_TASK_END(t);
}

static void test_a_task_sends_and_receives(void)
{
    static pingpong p;
    memset(&p, 0, sizeof p);
    setup();
    T_REQUIRE((p.a = udp()) && (p.b = udp()));
    aios_addr_set(&p.to, "127.0.0.1", aios_dgram_port(p.b));
    T_EQ(schd_task_start(&p.task, &loop, pingpong_task, NULL), 0);
    run_task(&p.task);
    T_EQ(schd_task_state(&p.task), SCHD_TASK_DONE);
    T_EQ(p.st[0], 0);
    T_EQ(p.st[1], 4);
    T_EQ(p.st[2], 0);
    T_EQ(p.st[3], 5);
    T_EQ(p.st[4], -ETIMEDOUT);
    T_EQ(p.st[5], -EMSGSIZE);             /* "late" reached the receive after the timeout */
    T_MEMEQ(p.buf, "la", 2);
    T_EQ(aios_recv_size(p.b), 4);
    teardown();
}

typedef struct waiter { schd_task task; aios_dgram *d; char buf[16]; int st, finally_ran; } waiter;

static int waiter_task(schd_task *t)
{
    waiter *w = SCHD_CONTAINER_OF(t, waiter, task);
    SCHD_TASK_BEGIN(t);
    AIOS_AWAIT_RECV(t, w->d, w->buf, sizeof w->buf);
    w->st = SCHD_STATUS(t);
    SCHD_TASK_FINALLY(t);
    w->finally_ran = 1;
    SCHD_TASK_END(t);
}

static int got_calls, got_status;
static char got_buf[16];
static void on_got(aios_dgram *d, int status, void *ud) { (void)d; (void)ud; got_calls++; got_status = status; }

/* Cancelled while it waits: the receive is taken back, and the datagram
 * that comes next goes to the socket's next receive. */
static void test_cancel_takes_the_receive_back(void)
{
    static waiter w;
    aios_dgram *a;
    aios_addr to;
    memset(&w, 0, sizeof w);
    got_calls = 0;
    setup();
    T_REQUIRE((a = udp()) && (w.d = udp()));
    T_EQ(schd_task_start(&w.task, &loop, waiter_task, NULL), 0);
    run_ms(10);
    T_EQ(schd_task_state(&w.task), SCHD_TASK_WAITING);
    T_EQ(schd_task_cancel(&w.task), 0);
    run_task(&w.task);
    T_EQ(w.finally_ran, 1);
    T_EQ(schd_task_result(&w.task), -ECANCELED);
    T_EQ(aios_recv(w.d, got_buf, sizeof got_buf, on_got, NULL), 0);   /* not -EBUSY: it is free */
    aios_addr_set(&to, "127.0.0.1", aios_dgram_port(w.d));
    T_EQ(aios_send(a, "next", 4, &to, NULL, NULL), 0);
    run_ms(50);
    T_EQ(got_calls, 1);
    T_EQ(got_status, 4);
    teardown();
}

typedef struct sender { schd_task task; aios_dgram *d; int st; } sender;

static int sender_task(schd_task *t)
{
    sender *s = SCHD_CONTAINER_OF(t, sender, task);
    SCHD_TASK_BEGIN(t);
    schd_task_timeout(t, SCHD_MS(40));
    AIOS_AWAIT_SEND(t, s->d, "marker", 6, NULL);
    s->st = SCHD_STATUS(t);
    SCHD_TASK_END(t);
}

/* A send the kernel cannot take yet (the peer of a socket pair reads
 * nothing) ends by its timeout, and never goes out afterwards. */
static void test_timed_out_send_never_goes(void)
{
    static sender s;
    int sv[2], i, queued = 0, n, markers = 0, total = 0;
    char buf[64];
    memset(&s, 0, sizeof s);
    setup();
    T_REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
    T_EQ(aios_dgram_open(&s.d, &ctx, sv[0], 0, NULL), 0);
    for (i = 0; i < 2000 && aios_send_queued(s.d) == 0; i++) {   /* until the kernel refuses one */
        T_EQ(aios_send(s.d, "fill", 4, NULL, NULL, NULL), 0);
        queued++;
        run_ms(1);
    }
    T_CHECK(aios_send_queued(s.d) > 0);
    T_EQ(schd_task_start(&s.task, &loop, sender_task, NULL), 0);
    run_task(&s.task);
    T_EQ(s.st, -ETIMEDOUT);
    for (i = 0; i < 400 && total < queued; i++) {   /* the peer reads; the rest goes out */
        while ((n = (int)recv(sv[1], buf, sizeof buf, MSG_DONTWAIT)) > 0) {
            total++;
            if (n == 6 && memcmp(buf, "marker", 6) == 0) markers++;
        }
        run_ms(2);
    }
    T_EQ(total, queued);
    T_EQ(markers, 0);
    close(sv[1]);
    teardown();
}

int main(void)
{
    t_suite("aio_dgram_await");
    T_RUN(test_a_task_sends_and_receives);
    T_RUN(test_cancel_takes_the_receive_back);
    T_RUN(test_timed_out_send_never_goes);
    return t_done();
}
