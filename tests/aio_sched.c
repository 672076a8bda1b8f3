/* tests/aio_sched.c - aio_stream.h driven by the sched.h loop (shape 2):
 * one poll() for both, through schd_source_add(aios_dispatch, aios_prepare). */
#define SCHD_IMPLEMENTATION
#include "sched.h"
#include "aio_common.h"

static schd_loop loop;
static aios_ctx ctx;
static schd_source src;

static void setup(void)
{
    schd_loop_init(&loop);
    aios_ctx_init(&ctx);
    schd_source_add(&src, &loop, aios_prepare, aios_dispatch, &ctx);
}

static void teardown(void)
{
    schd_source_remove(&src);
    aios_ctx_close(&ctx);
    schd_loop_close(&loop);
}

/* Runs the sched.h loop (never aios_run_once) until *flag reaches want. */
static int spin_sched(const int *flag, int want)
{
    int64_t give_up = aios_now_ns() + (int64_t)20 * 1000000000;
    while (*flag < want && aios_now_ns() < give_up) schd_loop_run_once(&loop, SCHD_MS(100));
    return *flag >= want;
}

static char srv_buf[256];
static void srv_read(aios_stream *s, int status, void *ud);
static void srv_written(aios_stream *s, int status, void *ud)
{
    (void)ud;
    if (status == 0) aios_read(s, srv_buf, sizeof srv_buf, srv_read, NULL);
}
static void srv_read(aios_stream *s, int status, void *ud)
{
    (void)ud;
    if (status <= 0) { aios_close(s, NULL, NULL); return; }
    aios_write(s, srv_buf, (size_t)status, srv_written, NULL);
}
static void srv_conn(aios_server *srv, aios_stream *s, const struct sockaddr *peer, void *ud)
{
    (void)srv; (void)peer; (void)ud;
    aios_read(s, srv_buf, sizeof srv_buf, srv_read, NULL);
}

static int ticks;
static void on_tick(schd_timer *t, void *ud)
{
    (void)t; (void)ud;
    ticks++;
}

static void test_tcp_echo_on_the_sched_loop(void)
{
    aios_server srv; aios_stream *c; t_rec conn = {0}, rd = {0}; char buf[32]; schd_timer tick;
    setup();
    ticks = 0;
    schd_timer_init(&tick, on_tick, NULL);
    schd_timer_start(&tick, &loop, 1000000, 1000000); /* a sched.h timer shares the poll */
    aios_server_init(&srv, &ctx, NULL, srv_conn, NULL);
    T_EQ(aios_server_listen_tcp(&srv, "127.0.0.1", 0), 0);
    aios_tcp_connect(&c, &ctx, "127.0.0.1", aios_server_port(&srv), NULL, t_rec_cb, &conn);
    aios_write(c, "shared loop", 11, NULL, NULL);
    aios_read_exactly(c, buf, 11, t_rec_cb, &rd);
    T_CHECK(spin_sched(&rd.calls, 1));
    T_EQ(conn.status, 0);
    T_EQ(rd.status, 11);
    T_MEMEQ(buf, "shared loop", 11);
    T_CHECK(spin_sched(&ticks, 3));
    schd_timer_stop(&tick, &loop);
    teardown();
}

static void test_aios_deadline_sets_the_poll_timeout(void)
{
    aios_stream *s; int peer; char buf[4]; t_rec r = {0}; int64_t start; int iterations = 0;
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    aios_set_timeouts(s, AIOS_MS(50), 0);
    aios_read(s, buf, sizeof buf, t_rec_cb, &r);
    start = aios_now_ns();
    /* without the deadline each iteration would sleep the full 10 s */
    while (r.calls == 0 && iterations < 20) { schd_loop_run_once(&loop, SCHD_MS(10000)); iterations++; }
    T_EQ(r.status, -ETIMEDOUT);
    T_CHECK(aios_now_ns() - start < (int64_t)5000 * 1000000);
    close(peer);
    teardown();
}

static void test_buffered_data_completes_without_new_input(void)
{
    aios_stream *s; int peer; t_rec a = {0}, b = {0}; int iterations = 0; int64_t start;
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    t_write_full(peer, "one\ntwo\n", 8);
    aios_read_until(s, "\n", 1, 16, t_line_cb, &a);
    T_CHECK(spin_sched(&a.calls, 1));
    /* "two\n" is already buffered: the deferred completion must not wait for poll */
    aios_read_until(s, "\n", 1, 16, t_line_cb, &b);
    start = aios_now_ns();
    while (b.calls == 0 && iterations < 5) { schd_loop_run_once(&loop, SCHD_MS(10000)); iterations++; }
    T_STREQ(b.data, "two\n");
    T_CHECK(aios_now_ns() - start < (int64_t)5000 * 1000000);
    close(peer);
    teardown();
}

static void stop_loop_cb(aios_stream *s, int status, void *ud)
{
    t_rec *r = (t_rec *)ud;
    (void)s;
    r->calls++;
    r->status = status;
    schd_loop_stop(&loop);
}

static void test_sched_run_until_stop_from_aios_callback(void)
{
    aios_stream *s; int peer; char buf[8]; t_rec r = {0};
    setup();
    T_REQUIRE(t_pair(&ctx, &s, &peer) == 0);
    t_write_full(peer, "bye", 3);
    aios_read(s, buf, sizeof buf, stop_loop_cb, &r);
    schd_loop_run(&loop);
    T_EQ(r.calls, 1);
    T_EQ(r.status, 3);
    close(peer);
    teardown();
}

int main(void)
{
    t_suite("aio_sched");
    T_RUN(test_tcp_echo_on_the_sched_loop);
    T_RUN(test_aios_deadline_sets_the_poll_timeout);
    T_RUN(test_buffered_data_completes_without_new_input);
    T_RUN(test_sched_run_until_stop_from_aios_callback);
    return t_done();
}
