/* Unit tests of sched.h.  Timer and scheduler logic runs on a fake clock,
 * so nothing here sleeps except the few tests of real descriptors and
 * threads. */
#define SCHD_IMPLEMENTATION
#include "sched.h"
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <unistd.h>

static int64_t fake_now;
static int64_t fake_clock(void *ud) { (void)ud; return fake_now; }

static void fake_loop(schd_loop *loop)
{
    fake_now = SCHD_SEC(1000);
    T_REQUIRE(schd_loop_init(loop) == 0);
    schd_loop_set_clock(loop, fake_clock, NULL);
}

/* Moves the fake clock forward in steps, running one iteration per step. */
static void advance(schd_loop *loop, int64_t ns, int64_t step)
{
    int64_t end = fake_now + ns;
    while (fake_now < end) {
        fake_now = fake_now + step < end ? fake_now + step : end;
        schd_loop_run_once(loop, 0);
    }
}

/* ---- timers ---- */

static int fired[64];
static int fire_order[64], fire_count;
static void on_timer(schd_timer *t, void *ud) { (void)t; fired[(intptr_t)ud]++; fire_order[fire_count++] = (int)(intptr_t)ud; }

static void reset_fired(void) { memset(fired, 0, sizeof fired); fire_count = 0; }

static void test_timer_fires_once_after_its_delay(void)
{
    schd_loop loop; schd_timer t;
    reset_fired(); fake_loop(&loop);
    schd_timer_init(&t, on_timer, (void *)0);
    T_EQ(schd_timer_start(&t, &loop, SCHD_MS(10), 0), 0);
    advance(&loop, SCHD_MS(9), SCHD_MS(1));
    T_EQ(fired[0], 0);
    advance(&loop, SCHD_MS(1), SCHD_MS(1));
    T_EQ(fired[0], 1);
    T_CHECK(!schd_timer_active(&t));
    advance(&loop, SCHD_MS(50), SCHD_MS(1));
    T_EQ(fired[0], 1);
    schd_loop_close(&loop);
}

static void test_equal_deadlines_fire_in_start_order(void)
{
    schd_loop loop; schd_timer t[8]; int i;
    reset_fired(); fake_loop(&loop);
    for (i = 0; i < 8; i++) schd_timer_init(&t[i], on_timer, (void *)(intptr_t)i);
    for (i = 7; i >= 0; i--) schd_timer_start(&t[i], &loop, SCHD_MS(5), 0);
    advance(&loop, SCHD_MS(5), SCHD_MS(5));
    T_EQ(fire_count, 8);
    for (i = 0; i < 8; i++) T_EQ(fire_order[i], 7 - i);
    schd_loop_close(&loop);
}

static int64_t seen_due[2000]; static int seen_n;
static schd_loop *seen_loop;
static void on_record(schd_timer *t, void *ud) { (void)t; (void)ud; seen_due[seen_n++] = schd_loop_now(seen_loop); }

static void test_many_timers_fire_in_deadline_order(void)
{
    static schd_timer t[2000];
    schd_loop loop; int i; unsigned r = 12345;
    fake_loop(&loop); seen_loop = &loop; seen_n = 0;
    for (i = 0; i < 2000; i++) {
        r = r * 1103515245u + 12345u;
        schd_timer_init(&t[i], on_record, NULL);
        schd_timer_start(&t[i], &loop, SCHD_US((r >> 8) % 100000), 0);
    }
    for (i = 0; i < 1000; i += 3) schd_timer_stop(&t[i], &loop);   /* some never fire */
    advance(&loop, SCHD_MS(101), SCHD_US(37));
    T_EQ(seen_n, 2000 - 334);
    for (i = 1; i < seen_n; i++) T_CHECK(seen_due[i - 1] <= seen_due[i]);
    T_EQ(loop.core.heap_len, 0);
    schd_loop_close(&loop);
}

static void test_stopped_timer_never_fires(void)
{
    schd_loop loop; schd_timer t;
    reset_fired(); fake_loop(&loop);
    schd_timer_init(&t, on_timer, (void *)1);
    schd_timer_start(&t, &loop, SCHD_MS(1), 0);
    T_EQ(schd_timer_stop(&t, &loop), 0);
    T_EQ(schd_timer_stop(&t, &loop), 0);
    advance(&loop, SCHD_MS(5), SCHD_MS(1));
    T_EQ(fired[1], 0);
    schd_loop_close(&loop);
}

static void test_restart_moves_the_deadline(void)
{
    schd_loop loop; schd_timer t;
    reset_fired(); fake_loop(&loop);
    schd_timer_init(&t, on_timer, (void *)2);
    schd_timer_start(&t, &loop, SCHD_MS(10), 0);
    advance(&loop, SCHD_MS(5), SCHD_MS(1));
    schd_timer_start(&t, &loop, SCHD_MS(10), 0);
    advance(&loop, SCHD_MS(9), SCHD_MS(1));
    T_EQ(fired[2], 0);
    advance(&loop, SCHD_MS(1), SCHD_MS(1));
    T_EQ(fired[2], 1);
    T_EQ(loop.core.heap_len, 0);
    schd_loop_close(&loop);
}

static int64_t rep_times[64]; static int rep_n;
static void on_rep(schd_timer *t, void *ud) { (void)t; rep_times[rep_n++] = schd_loop_now((schd_loop *)ud); }

static void test_repeating_timer_keeps_its_phase_and_skips_missed_periods(void)
{
    schd_loop loop; schd_timer t; int64_t t0;
    fake_loop(&loop); rep_n = 0; t0 = fake_now;
    schd_timer_init(&t, on_rep, &loop);
    schd_timer_start(&t, &loop, SCHD_MS(10), SCHD_MS(10));
    advance(&loop, SCHD_MS(23), SCHD_MS(3));      /* late by 2 ms, then 0 */
    T_EQ(rep_n, 2);
    T_EQ(schd_timer_due(&t, &loop) - t0, SCHD_MS(30));
    fake_now += SCHD_MS(55);                      /* miss five periods */
    schd_loop_run_once(&loop, 0);
    T_EQ(rep_n, 3);
    T_EQ(schd_timer_due(&t, &loop) - t0, SCHD_MS(80));
    schd_loop_close(&loop);
}

static schd_timer *victim; static schd_loop *victim_loop;
static void on_stop_victim(schd_timer *t, void *ud) { (void)t; (void)ud; schd_timer_stop(victim, victim_loop); fired[10]++; }

static void test_callback_may_stop_another_due_timer(void)
{
    schd_loop loop; schd_timer a, b;
    reset_fired(); fake_loop(&loop);
    schd_timer_init(&a, on_stop_victim, NULL);
    schd_timer_init(&b, on_timer, (void *)11);
    victim = &b; victim_loop = &loop;
    schd_timer_start(&a, &loop, SCHD_MS(1), 0);
    schd_timer_start(&b, &loop, SCHD_MS(1), 0);
    advance(&loop, SCHD_MS(2), SCHD_MS(2));
    T_EQ(fired[10], 1);
    T_EQ(fired[11], 0);
    schd_loop_close(&loop);
}

static int zero_restarts;
static void on_zero(schd_timer *t, void *ud) { zero_restarts++; schd_timer_start(t, (schd_loop *)ud, 0, 0); }

static void test_zero_delay_restart_waits_for_the_next_iteration(void)
{
    schd_loop loop; schd_timer t;
    fake_loop(&loop); zero_restarts = 0;
    schd_timer_init(&t, on_zero, &loop);
    schd_timer_start(&t, &loop, 0, 0);
    schd_loop_run_once(&loop, 0);
    T_EQ(zero_restarts, 1);
    schd_loop_run_once(&loop, 0);
    T_EQ(zero_restarts, 2);
    schd_timer_stop(&t, &loop);
    schd_loop_close(&loop);
}

static void test_timer_calls_check_their_arguments(void)
{
    schd_loop a, b; schd_timer t;
    fake_loop(&a); T_REQUIRE(schd_loop_init(&b) == 0);
    schd_timer_init(&t, on_timer, NULL);
    T_EQ(schd_timer_start(&t, &a, -1, 0), -EINVAL);
    T_EQ(schd_timer_start(&t, &a, 0, -5), -EINVAL);
    T_EQ(schd_timer_start(&t, NULL, 0, 0), -EINVAL);
    T_EQ(schd_timer_start(&t, &a, SCHD_MS(1), 0), 0);
    T_EQ(schd_timer_stop(&t, &b), -EINVAL);    /* not this loop's timer */
    T_CHECK(schd_timer_active(&t));
    schd_timer_init(&t, NULL, NULL);
    T_EQ(schd_timer_start(&t, &a, 0, 0), -EINVAL);
    schd_loop_close(&a); schd_loop_close(&b);
}

/* ---- descriptors ---- */

static int io_calls[4]; static int io_revents[4];
static schd_io *io_to_stop; static schd_loop *io_loop;
static void on_io(schd_io *io, int revents, void *ud)
{
    int i = (int)(intptr_t)ud;
    io_calls[i]++; io_revents[i] = revents;
    if (io_to_stop) { schd_io_stop(io_to_stop, io_loop); io_to_stop = NULL; }
    (void)io;
}

static void test_io_watcher_reports_readable_pipe(void)
{
    schd_loop loop; schd_io io; int p[2];
    memset(io_calls, 0, sizeof io_calls);
    T_REQUIRE(schd_loop_init(&loop) == 0 && pipe(p) == 0);
    schd_io_init(&io, p[0], on_io, (void *)0);
    T_EQ(schd_io_start(&io, &loop, SCHD_READ), 0);
    schd_loop_run_once(&loop, 0);
    T_EQ(io_calls[0], 0);
    T_EQ(write(p[1], "x", 1), 1);
    schd_loop_run_once(&loop, SCHD_MS(1000));
    T_EQ(io_calls[0], 1);
    T_CHECK(io_revents[0] & SCHD_READ);
    schd_io_stop(&io, &loop);
    T_CHECK(!schd_loop_alive(&loop));
    close(p[0]); close(p[1]);
    schd_loop_close(&loop);
}

static void test_io_interest_changes_at_run_time(void)
{
    schd_loop loop; schd_io io; int p[2];
    memset(io_calls, 0, sizeof io_calls);
    T_REQUIRE(schd_loop_init(&loop) == 0 && pipe(p) == 0);
    schd_io_init(&io, p[1], on_io, (void *)1);
    schd_io_start(&io, &loop, SCHD_WRITE);
    schd_loop_run_once(&loop, SCHD_MS(1000));
    T_EQ(io_calls[1], 1);
    T_CHECK(io_revents[1] & SCHD_WRITE);
    schd_io_start(&io, &loop, SCHD_READ);   /* a write end never reads */
    schd_loop_run_once(&loop, 0);
    T_EQ(io_calls[1], 1);
    schd_io_stop(&io, &loop);
    close(p[0]); close(p[1]);
    schd_loop_close(&loop);
}

static schd_io *io_pair[2];
static void on_io_stop_other(schd_io *io, int revents, void *ud)
{
    (void)revents;
    io_calls[(intptr_t)ud]++;
    schd_io_stop(io == io_pair[0] ? io_pair[1] : io_pair[0], io_loop);
}

/* Both ready in one iteration: whichever runs first stops the other, which
 * then is not called (its event is already in the backend's batch). */
static void test_io_callback_may_stop_another_ready_watcher(void)
{
    schd_loop loop; schd_io a, b; int p[2], q[2];
    memset(io_calls, 0, sizeof io_calls);
    T_REQUIRE(schd_loop_init(&loop) == 0 && pipe(p) == 0 && pipe(q) == 0);
    schd_io_init(&a, p[0], on_io_stop_other, (void *)2);
    schd_io_init(&b, q[0], on_io_stop_other, (void *)3);
    io_pair[0] = &a; io_pair[1] = &b; io_loop = &loop;
    schd_io_start(&a, &loop, SCHD_READ);
    schd_io_start(&b, &loop, SCHD_READ);
    T_EQ(write(p[1], "x", 1), 1); T_EQ(write(q[1], "x", 1), 1);
    schd_loop_run_once(&loop, SCHD_MS(1000));
    T_EQ(io_calls[2] + io_calls[3], 1);
    T_CHECK(schd_io_active(&a) != schd_io_active(&b));
    schd_io_stop(&a, &loop);
    schd_io_stop(&b, &loop);
    close(p[0]); close(p[1]); close(q[0]); close(q[1]);
    schd_loop_close(&loop);
}

static void test_io_on_closed_descriptor_is_reported_and_stopped(void)
{
    schd_loop loop; schd_io io; int p[2];
    memset(io_calls, 0, sizeof io_calls);
    T_REQUIRE(schd_loop_init(&loop) == 0 && pipe(p) == 0);
    schd_io_init(&io, p[0], on_io, (void *)0);
    schd_io_start(&io, &loop, SCHD_READ);
    close(p[0]); close(p[1]);
    schd_loop_run_once(&loop, SCHD_MS(1000));
    T_EQ(io_calls[0], 1);
    T_CHECK(io_revents[0] & POLLNVAL);
    T_CHECK(!schd_io_active(&io));
    T_CHECK(!schd_loop_alive(&loop));
    schd_loop_close(&loop);
}

/* ---- deferred calls and the loop ---- */

static int soon_calls; static schd_loop *soon_loop;
static void on_soon(void *ud) { (void)ud; soon_calls++; }
static void on_soon_again(void *ud) { soon_calls++; if ((intptr_t)ud > 0) schd_soon(soon_loop, on_soon_again, (void *)((intptr_t)ud - 1)); }

static void test_soon_runs_from_the_loop_not_inside_the_call(void)
{
    schd_loop loop;
    fake_loop(&loop); soon_calls = 0;
    T_EQ(schd_soon(&loop, on_soon, NULL), 0);
    T_EQ(soon_calls, 0);
    schd_loop_run_once(&loop, 0);
    T_EQ(soon_calls, 1);
    schd_loop_close(&loop);
}

static void test_soon_queued_by_soon_waits_one_iteration(void)
{
    schd_loop loop; int i;
    fake_loop(&loop); soon_calls = 0; soon_loop = &loop;
    schd_soon(&loop, on_soon_again, (void *)3);
    for (i = 1; i <= 4; i++) { schd_loop_run_once(&loop, 0); T_EQ(soon_calls, i); }
    T_CHECK(!schd_loop_alive(&loop));
    schd_loop_close(&loop);
}

static void on_defer(schd_defer *d, void *ud) { (void)d; (void)ud; soon_calls++; }

static void test_cancelled_defer_does_not_run(void)
{
    schd_loop loop; schd_defer d1, d2;
    fake_loop(&loop); soon_calls = 0;
    memset(&d1, 0, sizeof d1); memset(&d2, 0, sizeof d2);
    schd_defer_start(&d1, &loop, on_defer, NULL);
    schd_defer_start(&d1, &loop, on_defer, NULL);   /* no-op: already queued */
    schd_defer_start(&d2, &loop, on_defer, NULL);
    schd_defer_cancel(&d2, &loop);
    schd_loop_run_once(&loop, 0);
    T_EQ(soon_calls, 1);
    schd_loop_close(&loop);
}

static void test_run_returns_when_nothing_is_left(void)
{
    schd_loop loop; schd_timer t;
    reset_fired();
    T_REQUIRE(schd_loop_init(&loop) == 0);
    schd_timer_init(&t, on_timer, (void *)5);
    schd_timer_start(&t, &loop, SCHD_MS(2), 0);
    T_EQ(schd_loop_run(&loop), 0);
    T_EQ(fired[5], 1);
    schd_loop_close(&loop);
}

static void on_stop_loop(schd_timer *t, void *ud) { (void)t; schd_loop_stop((schd_loop *)ud); fired[6]++; }

static void test_stop_ends_run_after_the_current_iteration(void)
{
    schd_loop loop; schd_timer t, forever;
    reset_fired();
    T_REQUIRE(schd_loop_init(&loop) == 0);
    schd_timer_init(&t, on_stop_loop, &loop);
    schd_timer_init(&forever, on_timer, (void *)7);
    schd_timer_start(&t, &loop, SCHD_MS(1), 0);
    schd_timer_start(&forever, &loop, SCHD_SEC(3600), 0);
    T_EQ(schd_loop_run(&loop), 0);
    T_EQ(fired[6], 1);
    T_CHECK(schd_timer_active(&forever));
    schd_loop_close(&loop);
    T_CHECK(!schd_timer_active(&forever));
}

static void on_close_inside(schd_timer *t, void *ud) { (void)t; fired[8] = schd_loop_close((schd_loop *)ud); }

static void test_close_from_inside_the_loop_is_refused(void)
{
    schd_loop loop; schd_timer t;
    reset_fired();
    T_REQUIRE(schd_loop_init(&loop) == 0);
    schd_timer_init(&t, on_close_inside, &loop);
    schd_timer_start(&t, &loop, 0, 0);
    schd_loop_run(&loop);
    T_EQ(fired[8], -EBUSY);
    T_EQ(schd_loop_close(&loop), 0);
}

static void test_close_from_a_foreign_dispatch_is_refused(void)
{
    schd_loop loop; schd_timer t; struct pollfd fds[4]; int64_t dl = SCHD_NO_DEADLINE; int n;
    reset_fired();
    T_REQUIRE(schd_loop_init(&loop) == 0);
    schd_timer_init(&t, on_close_inside, &loop);
    schd_timer_start(&t, &loop, 0, 0);
    n = schd_loop_prepare(&loop, fds, 4, &dl);
    schd_loop_dispatch(&loop, fds, n);
    T_EQ(fired[8], -EBUSY);
    T_EQ(schd_loop_close(&loop), 0);
}

static void test_run_once_waits_for_its_timeout(void)
{
    schd_loop loop; int64_t t0, dt;
    T_REQUIRE(schd_loop_init(&loop) == 0);
    t0 = schd_now_ns();
    schd_loop_run_once(&loop, SCHD_MS(30));
    dt = schd_now_ns() - t0;
    T_CHECK(dt >= SCHD_MS(29));    /* never early; no upper bound on a busy machine */
    schd_loop_close(&loop);
}

/* Shape 3: a hand-written poll loop drives a schd_loop. */
static void test_foreign_loop_drives_timers_and_descriptors(void)
{
    schd_loop loop; schd_timer t; schd_io io; int p[2], rounds = 0;
    struct pollfd fds[16];
    reset_fired(); memset(io_calls, 0, sizeof io_calls);
    T_REQUIRE(schd_loop_init(&loop) == 0 && pipe(p) == 0);
    schd_timer_init(&t, on_timer, (void *)9);
    schd_timer_start(&t, &loop, SCHD_MS(5), 0);
    schd_io_init(&io, p[0], on_io, (void *)0);
    schd_io_start(&io, &loop, SCHD_READ);
    T_EQ(write(p[1], "x", 1), 1);
    while ((fired[9] == 0 || io_calls[0] == 0) && rounds++ < 100) {
        int64_t deadline = SCHD_NO_DEADLINE, now;
        int n = schd_loop_prepare(&loop, fds, 16, &deadline), ms;
        T_CHECK(n <= 16);
        T_CHECK(deadline != SCHD_NO_DEADLINE);
        now = schd_now_ns();
        ms = deadline <= now ? 0 : (int)((deadline - now + 999999) / 1000000);
        poll(fds, (nfds_t)n, ms);
        schd_loop_dispatch(&loop, fds, n);
        if (io_calls[0] && schd_io_active(&io)) { char c; T_EQ(read(p[0], &c, 1), 1); schd_io_stop(&io, &loop); }
    }
    T_EQ(fired[9], 1);
    T_EQ(io_calls[0], 1);
    close(p[0]); close(p[1]);
    schd_loop_close(&loop);
}

/* A source in the style of the other headers: one pipe and a deadline. */
struct pipe_source { int fd; int64_t deadline; int dispatched, readable, expired; };

static int ps_prepare(void *ctx, struct pollfd *fds, int cap, int64_t *deadline)
{
    struct pipe_source *ps = (struct pipe_source *)ctx;
    if (cap >= 1) { fds[0].fd = ps->fd; fds[0].events = POLLIN; fds[0].revents = 0; }
    if (ps->deadline < *deadline) *deadline = ps->deadline;
    return 1;
}

static void ps_dispatch(void *ctx, struct pollfd *fds, int n)
{
    struct pipe_source *ps = (struct pipe_source *)ctx;
    ps->dispatched++;
    if (n == 1 && (fds[0].revents & POLLIN)) ps->readable++;
    if (schd_now_ns() >= ps->deadline) { ps->expired++; ps->deadline = SCHD_NO_DEADLINE; }
}

static void test_source_joins_the_same_poll_with_its_deadline(void)
{
    schd_loop loop; schd_source src; struct pipe_source ps; int p[2], i;
    T_REQUIRE(schd_loop_init(&loop) == 0 && pipe(p) == 0);
    memset(&ps, 0, sizeof ps);
    ps.fd = p[0];
    ps.deadline = schd_now_ns() + SCHD_MS(20);
    T_EQ(schd_source_add(&src, &loop, ps_prepare, ps_dispatch, &ps), 0);
    for (i = 0; i < 100 && !ps.expired; i++) schd_loop_run_once(&loop, -1);
    T_EQ(ps.expired, 1);       /* the loop slept until the source's deadline, no longer */
    T_EQ(ps.readable, 0);
    T_EQ(write(p[1], "x", 1), 1);
    schd_loop_run_once(&loop, -1);
    T_EQ(ps.readable, 1);
    schd_source_remove(&src);
    T_CHECK(!schd_loop_alive(&loop));
    close(p[0]); close(p[1]);
    schd_loop_close(&loop);
}

static void test_a_loop_can_be_the_source_of_another(void)
{
    schd_loop outer, inner; schd_source src; schd_timer t; int i;
    reset_fired();
    T_REQUIRE(schd_loop_init(&outer) == 0 && schd_loop_init(&inner) == 0);
    schd_timer_init(&t, on_timer, (void *)12);
    schd_timer_start(&t, &inner, SCHD_MS(3), 0);
    schd_source_add(&src, &outer, schd_loop_prepare, schd_loop_dispatch, &inner);
    for (i = 0; i < 100 && !fired[12]; i++) schd_loop_run_once(&outer, -1);
    T_EQ(fired[12], 1);
    schd_source_remove(&src);
    schd_loop_close(&inner); schd_loop_close(&outer);
}

/* ---- threads ---- */

static int async_calls;
static void on_async(schd_async *a, void *ud) { (void)a; (void)ud; async_calls++; }
static void *send_async(void *arg) { schd_async_send((schd_async *)arg); return NULL; }

static void test_async_send_from_a_thread_wakes_the_loop(void)
{
    schd_loop loop; schd_async a; pthread_t th; int i;
    T_REQUIRE(schd_loop_init(&loop) == 0);
    async_calls = 0;
    schd_async_init(&a, &loop, on_async, NULL);
    T_REQUIRE(pthread_create(&th, NULL, send_async, &a) == 0);
    for (i = 0; i < 50 && !async_calls; i++) schd_loop_run_once(&loop, SCHD_MS(1000));
    pthread_join(th, NULL);
    T_EQ(async_calls, 1);
    schd_async_send(&a); schd_async_send(&a); schd_async_send(&a);
    schd_loop_run_once(&loop, SCHD_MS(1000));
    T_EQ(async_calls, 2);                        /* coalesced */
    schd_async_close(&a);
    T_CHECK(!schd_loop_alive(&loop));
    schd_loop_close(&loop);
}

#define POSTERS 4
#define POSTS 1000
static int post_seen[POSTERS * POSTS];
static void on_post(void *ud) { post_seen[(intptr_t)ud]++; }
struct poster { schd_loop *loop; int base; };
static void *post_many(void *arg)
{
    struct poster *p = (struct poster *)arg; int i;
    for (i = 0; i < POSTS; i++) while (schd_loop_post(p->loop, on_post, (void *)(intptr_t)(p->base + i)) != 0) {}
    return NULL;
}

static void test_posts_from_many_threads_each_run_once(void)
{
    schd_loop loop; pthread_t th[POSTERS]; struct poster ps[POSTERS]; int i, total = 0, rounds = 0;
    T_REQUIRE(schd_loop_init(&loop) == 0);
    memset(post_seen, 0, sizeof post_seen);
    for (i = 0; i < POSTERS; i++) { ps[i].loop = &loop; ps[i].base = i * POSTS; pthread_create(&th[i], NULL, post_many, &ps[i]); }
    while (total < POSTERS * POSTS && rounds++ < 100000) {
        schd_loop_run_once(&loop, SCHD_MS(100));
        for (total = 0, i = 0; i < POSTERS * POSTS; i++) total += post_seen[i];
    }
    for (i = 0; i < POSTERS; i++) pthread_join(th[i], NULL);
    schd_loop_run_once(&loop, 0);
    for (i = 0; i < POSTERS * POSTS; i++) if (post_seen[i] != 1) break;
    T_EQ(i, POSTERS * POSTS);
    schd_loop_close(&loop);
}

/* ---- tasks ---- */

struct counter_task { schd_task task; int steps; int limit; int64_t delay; int log[16]; int nlog; };

static int counting(schd_task *t)
{
    struct counter_task *c = SCHD_CONTAINER_OF(t, struct counter_task, task);
    SCHD_TASK_BEGIN(t);
    for (c->steps = 0; c->steps < c->limit; c->steps++) {
        if (c->delay) SCHD_AWAIT_DELAY(t, c->delay);
        else SCHD_YIELD(t);
    }
    SCHD_TASK_EXIT(t, c->steps * 10);
    SCHD_TASK_END(t);
}

static void test_task_starts_from_the_loop_and_resumes_after_delays(void)
{
    schd_loop loop; struct counter_task c;
    fake_loop(&loop);
    memset(&c, 0, sizeof c); c.limit = 3; c.delay = SCHD_MS(10);
    T_EQ(schd_task_start(&c.task, &loop, counting, NULL), 0);
    T_EQ(schd_task_state(&c.task), SCHD_TASK_READY);
    T_EQ(c.steps, 0);
    schd_loop_run_once(&loop, 0);
    T_EQ(schd_task_state(&c.task), SCHD_TASK_WAITING);
    advance(&loop, SCHD_MS(25), SCHD_MS(1));
    T_EQ(c.steps, 2);
    advance(&loop, SCHD_MS(5), SCHD_MS(1));
    T_EQ(schd_task_state(&c.task), SCHD_TASK_DONE);
    T_EQ(schd_task_result(&c.task), 30);
    T_EQ(schd_task_start(&c.task, &loop, counting, NULL), 0);   /* a done task can restart */
    schd_loop_close(&loop);
}

static int order_log[64], order_n;
struct yielder { schd_task task; int id, i; };
static int yielding(schd_task *t)
{
    struct yielder *y = SCHD_CONTAINER_OF(t, struct yielder, task);
    SCHD_TASK_BEGIN(t);
    for (y->i = 0; y->i < 3; y->i++) { order_log[order_n++] = y->id; SCHD_YIELD(t); }
    SCHD_TASK_END(t);
}

static void test_yield_interleaves_tasks_in_turn(void)
{
    schd_loop loop; struct yielder a, b; int i;
    static const int want[6] = {1, 2, 1, 2, 1, 2};
    fake_loop(&loop); order_n = 0;
    memset(&a, 0, sizeof a); memset(&b, 0, sizeof b); a.id = 1; b.id = 2;
    schd_task_start(&a.task, &loop, yielding, NULL);
    schd_task_start(&b.task, &loop, yielding, NULL);
    for (i = 0; i < 10; i++) schd_loop_run_once(&loop, 0);
    T_EQ(order_n, 6);
    for (i = 0; i < 6; i++) T_EQ(order_log[i], want[i]);
    schd_loop_close(&loop);
}

struct joiner { schd_task task; schd_task *other; int got, status; };
static int joining(schd_task *t)
{
    struct joiner *j = SCHD_CONTAINER_OF(t, struct joiner, task);
    SCHD_TASK_BEGIN(t);
    SCHD_AWAIT_JOIN(t, j->other);
    j->status = SCHD_STATUS(t);
    j->got = schd_task_result(j->other);
    SCHD_TASK_END(t);
}

static void test_join_waits_for_the_result(void)
{
    schd_loop loop; struct counter_task c; struct joiner j;
    fake_loop(&loop);
    memset(&c, 0, sizeof c); memset(&j, 0, sizeof j);
    c.limit = 2; c.delay = SCHD_MS(5); j.other = &c.task; j.got = -1;
    schd_task_start(&c.task, &loop, counting, NULL);
    schd_task_start(&j.task, &loop, joining, NULL);
    advance(&loop, SCHD_MS(4), SCHD_MS(1));
    T_EQ(j.got, -1);
    advance(&loop, SCHD_MS(10), SCHD_MS(1));
    T_EQ(j.got, 20);
    T_EQ(j.status, 0);
    schd_loop_close(&loop);
}

struct guarded { schd_task task; schd_event *ev; int finally_runs, after_wait, status; int64_t timeout; int await_in_finally; };
static int guarded_wait(schd_task *t)
{
    struct guarded *g = SCHD_CONTAINER_OF(t, struct guarded, task);
    SCHD_TASK_BEGIN(t);
    if (g->timeout) schd_task_timeout(t, g->timeout);
    SCHD_AWAIT_EVENT(t, g->ev);
    g->status = SCHD_STATUS(t);
    g->after_wait++;
    SCHD_TASK_FINALLY(t);
    g->finally_runs++;
    if (g->await_in_finally) SCHD_AWAIT_DELAY(t, SCHD_MS(1));
    g->finally_runs += 10 * g->await_in_finally;
    SCHD_TASK_END(t);
}

static int done_calls, done_result;
static void on_task_done(schd_task *t, int result, void *ud) { (void)t; (void)ud; done_calls++; done_result = result; }

static void test_cancel_while_waiting_runs_finally_and_reports_cancelled(void)
{
    schd_loop loop; schd_event ev; struct guarded g;
    fake_loop(&loop); schd_event_init(&ev);
    memset(&g, 0, sizeof g); g.ev = &ev; done_calls = 0;
    schd_task_start(&g.task, &loop, guarded_wait, NULL);
    schd_task_on_done(&g.task, on_task_done, NULL);
    schd_loop_run_once(&loop, 0);
    T_EQ(schd_task_cancel(&g.task), 0);
    T_EQ(schd_task_cancel(&g.task), -EALREADY);
    schd_loop_run_once(&loop, 0);
    T_EQ(g.after_wait, 0);
    T_EQ(g.finally_runs, 1);
    T_EQ(schd_task_result(&g.task), -ECANCELED);
    T_EQ(done_calls, 1);
    T_EQ(done_result, -ECANCELED);
    T_EQ(ev.waiters.count, 0);
    schd_event_set(&ev);
    schd_loop_run_once(&loop, 0);
    T_EQ(done_calls, 1);
    schd_loop_close(&loop);
}

static void test_await_works_inside_finally_after_cancel(void)
{
    schd_loop loop; schd_event ev; struct guarded g;
    fake_loop(&loop); schd_event_init(&ev);
    memset(&g, 0, sizeof g); g.ev = &ev; g.await_in_finally = 1;
    schd_task_start(&g.task, &loop, guarded_wait, NULL);
    schd_loop_run_once(&loop, 0);
    schd_task_cancel(&g.task);
    schd_loop_run_once(&loop, 0);
    T_EQ(g.finally_runs, 1);
    advance(&loop, SCHD_MS(2), SCHD_MS(1));
    T_EQ(g.finally_runs, 11);
    T_EQ(schd_task_state(&g.task), SCHD_TASK_DONE);
    schd_loop_close(&loop);
}

static void test_cancel_before_the_first_run_skips_the_body(void)
{
    schd_loop loop; schd_event ev; struct guarded g;
    fake_loop(&loop); schd_event_init(&ev);
    memset(&g, 0, sizeof g); g.ev = &ev;
    schd_task_start(&g.task, &loop, guarded_wait, NULL);
    schd_task_cancel(&g.task);
    schd_loop_run_once(&loop, 0);
    T_EQ(g.finally_runs, 0);
    T_EQ(g.after_wait, 0);
    T_EQ(schd_task_result(&g.task), -ECANCELED);
    schd_loop_close(&loop);
}

static void test_timeout_on_a_wait_reports_timed_out(void)
{
    schd_loop loop; schd_event ev; struct guarded g;
    fake_loop(&loop); schd_event_init(&ev);
    memset(&g, 0, sizeof g); g.ev = &ev; g.timeout = SCHD_MS(50);
    schd_task_start(&g.task, &loop, guarded_wait, NULL);
    schd_loop_run_once(&loop, 0);
    advance(&loop, SCHD_MS(49), SCHD_MS(1));
    T_EQ(g.after_wait, 0);
    advance(&loop, SCHD_MS(1), SCHD_MS(1));
    T_EQ(g.after_wait, 1);
    T_EQ(g.status, -ETIMEDOUT);
    T_EQ(g.finally_runs, 1);                 /* normal flow also runs finally */
    T_EQ(ev.waiters.count, 0);
    T_EQ(schd_task_result(&g.task), 0);
    schd_loop_close(&loop);
}

static void test_timeout_is_not_reported_when_the_wait_ends_first(void)
{
    schd_loop loop; schd_event ev; struct guarded g;
    fake_loop(&loop); schd_event_init(&ev);
    memset(&g, 0, sizeof g); g.ev = &ev; g.timeout = SCHD_MS(50);
    schd_task_start(&g.task, &loop, guarded_wait, NULL);
    advance(&loop, SCHD_MS(10), SCHD_MS(1));
    schd_event_set(&ev);
    advance(&loop, SCHD_MS(100), SCHD_MS(1));
    T_EQ(g.status, 0);
    T_EQ(g.after_wait, 1);
    T_EQ(loop.core.heap_len, 0);
    schd_loop_close(&loop);
}

static void test_close_cancels_live_tasks_and_calls_done_once(void)
{
    schd_loop loop; schd_event ev; struct guarded g;
    fake_loop(&loop); schd_event_init(&ev);
    memset(&g, 0, sizeof g); g.ev = &ev; done_calls = 0;
    schd_task_start(&g.task, &loop, guarded_wait, NULL);
    schd_task_on_done(&g.task, on_task_done, NULL);
    schd_loop_run_once(&loop, 0);
    schd_loop_close(&loop);
    T_EQ(done_calls, 1);
    T_EQ(done_result, -ECANCELED);
    T_EQ(g.finally_runs, 1);
}

/* ---- primitives ---- */

struct locker { schd_task task; schd_lock *lock; int id; int hold_ms; int cancel_me; };
static int lock_log[32], lock_n;
static int locking(schd_task *t)
{
    struct locker *l = SCHD_CONTAINER_OF(t, struct locker, task);
    SCHD_TASK_BEGIN(t);
    SCHD_AWAIT_LOCK(t, l->lock);
    lock_log[lock_n++] = l->id;
    SCHD_AWAIT_DELAY(t, SCHD_MS(l->hold_ms));
    lock_log[lock_n++] = -l->id;
    if (!l->cancel_me) schd_lock_release(l->lock);   /* the cancelled one relies on auto-release */
    SCHD_TASK_END(t);
}

static void test_lock_is_fifo_and_exclusive(void)
{
    schd_loop loop; schd_lock lk; struct locker l[3]; int i;
    static const int want[6] = {1, -1, 2, -2, 3, -3};
    fake_loop(&loop); schd_lock_init(&lk); lock_n = 0;
    memset(l, 0, sizeof l);
    for (i = 0; i < 3; i++) { l[i].lock = &lk; l[i].id = i + 1; l[i].hold_ms = 5; schd_task_start(&l[i].task, &loop, locking, NULL); }
    schd_loop_run_once(&loop, 0);
    T_EQ(schd_lock_try(&lk), -EBUSY);
    advance(&loop, SCHD_MS(20), SCHD_MS(1));
    T_EQ(lock_n, 6);
    for (i = 0; i < 6; i++) T_EQ(lock_log[i], want[i]);
    T_CHECK(!schd_lock_locked(&lk));
    T_EQ(schd_lock_release(&lk), -EPERM);
    schd_loop_close(&loop);
}

static void test_lock_is_released_when_its_holder_is_cancelled(void)
{
    schd_loop loop; schd_lock lk; struct locker a, b;
    fake_loop(&loop); schd_lock_init(&lk); lock_n = 0;
    memset(&a, 0, sizeof a); memset(&b, 0, sizeof b);
    a.lock = b.lock = &lk; a.id = 1; b.id = 2; a.hold_ms = 100; b.hold_ms = 1; a.cancel_me = 1;
    schd_task_start(&a.task, &loop, locking, NULL);
    schd_task_start(&b.task, &loop, locking, NULL);
    advance(&loop, SCHD_MS(5), SCHD_MS(1));
    T_EQ(lock_n, 1);
    schd_task_cancel(&a.task);
    advance(&loop, SCHD_MS(5), SCHD_MS(1));
    T_EQ(lock_n, 3);
    T_EQ(lock_log[1], 2);
    T_CHECK(!schd_lock_locked(&lk));
    schd_loop_close(&loop);
}

static void test_cancel_after_grant_keeps_the_grant_until_the_next_await(void)
{
    schd_loop loop; schd_lock lk; struct locker a, b;
    fake_loop(&loop); schd_lock_init(&lk); lock_n = 0;
    memset(&a, 0, sizeof a); memset(&b, 0, sizeof b);
    a.lock = b.lock = &lk; a.id = 1; b.id = 2; a.hold_ms = 1; b.hold_ms = 1; b.cancel_me = 1;
    schd_task_start(&a.task, &loop, locking, NULL);
    schd_task_start(&b.task, &loop, locking, NULL);
    schd_loop_run_once(&loop, 0);
    fake_now += SCHD_MS(1);
    schd_loop_run_once(&loop, 0);            /* a releases: b is granted, not yet run */
    T_EQ(schd_task_state(&b.task), SCHD_TASK_READY);
    schd_task_cancel(&b.task);
    schd_loop_run_once(&loop, 0);            /* b runs with the lock ... */
    schd_loop_run_once(&loop, 0);            /* ... and sees the cancellation at its delay */
    T_EQ(lock_n, 3);
    T_EQ(lock_log[2], 2);
    T_EQ(schd_task_state(&b.task), SCHD_TASK_DONE);
    T_CHECK(!schd_lock_locked(&lk));         /* released at its end */
    schd_loop_close(&loop);
}

struct evw { schd_task task; schd_event *ev; int woke; };
static int event_waiting(schd_task *t)
{
    struct evw *e = SCHD_CONTAINER_OF(t, struct evw, task);
    SCHD_TASK_BEGIN(t);
    SCHD_AWAIT_EVENT(t, e->ev);
    e->woke++;
    SCHD_TASK_END(t);
}

static void test_event_wakes_every_waiter_and_stays_set(void)
{
    schd_loop loop; schd_event ev; struct evw w[3]; int i;
    fake_loop(&loop); schd_event_init(&ev);
    memset(w, 0, sizeof w);
    for (i = 0; i < 3; i++) { w[i].ev = &ev; schd_task_start(&w[i].task, &loop, event_waiting, NULL); }
    schd_loop_run_once(&loop, 0);
    T_EQ(ev.waiters.count, 3);
    schd_event_set(&ev);
    schd_loop_run_once(&loop, 0);
    for (i = 0; i < 3; i++) T_EQ(w[i].woke, 1);
    schd_task_start(&w[0].task, &loop, event_waiting, NULL);
    schd_loop_run_once(&loop, 0);
    T_EQ(w[0].woke, 2);
    T_CHECK(schd_event_is_set(&ev));
    schd_loop_close(&loop);
}

struct semw { schd_task task; schd_sem *s; int got; };
static int sem_taking(schd_task *t)
{
    struct semw *w = SCHD_CONTAINER_OF(t, struct semw, task);
    SCHD_TASK_BEGIN(t);
    SCHD_AWAIT_SEM(t, w->s);
    w->got = 1;
    SCHD_TASK_END(t);
}

static void test_semaphore_counts_and_is_bounded(void)
{
    schd_loop loop; schd_sem s; struct semw w[3]; int i, got = 0;
    fake_loop(&loop); schd_sem_init(&s, 2, 2);
    memset(w, 0, sizeof w);
    for (i = 0; i < 3; i++) { w[i].s = &s; schd_task_start(&w[i].task, &loop, sem_taking, NULL); }
    schd_loop_run_once(&loop, 0);
    for (i = 0; i < 3; i++) got += w[i].got;
    T_EQ(got, 2);
    T_EQ(w[2].got, 0);
    T_EQ(schd_sem_release(&s), 0);          /* handed to the waiter */
    schd_loop_run_once(&loop, 0);
    T_EQ(w[2].got, 1);
    T_EQ(schd_sem_value(&s), 0);
    T_EQ(schd_sem_release(&s), 0);
    T_EQ(schd_sem_release(&s), 0);
    T_EQ(schd_sem_release(&s), -EOVERFLOW);
    T_EQ(schd_sem_try(&s), 0);
    T_EQ(schd_sem_value(&s), 1);
    schd_loop_close(&loop);
}

struct barw { schd_task task; schd_barrier *b; int passed; int64_t timeout; int status; };
static int barrier_waiting(schd_task *t)
{
    struct barw *w = SCHD_CONTAINER_OF(t, struct barw, task);
    SCHD_TASK_BEGIN(t);
    if (w->timeout) schd_task_timeout(t, w->timeout);
    SCHD_AWAIT_BARRIER(t, w->b);
    w->status = SCHD_STATUS(t);
    w->passed++;
    SCHD_TASK_END(t);
}

static void test_barrier_releases_all_parties_together(void)
{
    schd_loop loop; schd_barrier b; struct barw w[3]; int i;
    fake_loop(&loop); schd_barrier_init(&b, 3);
    memset(w, 0, sizeof w);
    w[0].b = w[1].b = w[2].b = &b;
    w[0].timeout = SCHD_MS(5);
    schd_task_start(&w[0].task, &loop, barrier_waiting, NULL);
    schd_task_start(&w[1].task, &loop, barrier_waiting, NULL);
    advance(&loop, SCHD_MS(6), SCHD_MS(1));
    T_EQ(w[0].status, -ETIMEDOUT);           /* gave up: no longer counted */
    T_EQ(b.waiters.count, 1);
    schd_task_start(&w[2].task, &loop, barrier_waiting, NULL);
    schd_loop_run_once(&loop, 0);
    T_EQ(w[1].passed + w[2].passed, 0);
    w[0].timeout = 0;
    schd_task_start(&w[0].task, &loop, barrier_waiting, NULL);
    schd_loop_run_once(&loop, 0);
    schd_loop_run_once(&loop, 0);
    for (i = 0; i < 3; i++) T_EQ(w[i].passed, i == 0 ? 2 : 1);
    T_EQ(b.cycles, 1);
    schd_loop_close(&loop);
}

struct qw { schd_task task; schd_queue *q; int items[8]; int n, want, i; int put_from; int64_t timeout; };
static int q_getting(schd_task *t)
{
    struct qw *w = SCHD_CONTAINER_OF(t, struct qw, task);
    SCHD_TASK_BEGIN(t);
    while (w->n < w->want) {
        if (w->timeout) schd_task_timeout(t, w->timeout);
        SCHD_AWAIT_GET(t, w->q, &w->items[w->n]);
        if (SCHD_STATUS(t) != 0) break;
        w->n++;
    }
    SCHD_TASK_END(t);
}
static int q_putting(schd_task *t)
{
    struct qw *w = SCHD_CONTAINER_OF(t, struct qw, task);
    SCHD_TASK_BEGIN(t);
    for (w->i = 0; w->i < w->want; w->i++) {
        w->items[0] = w->put_from + w->i;
        SCHD_AWAIT_PUT(t, w->q, &w->items[0]);
        w->n++;
    }
    SCHD_TASK_END(t);
}

static void test_queue_is_fifo_and_bounded_in_both_directions(void)
{
    schd_loop loop; schd_queue q; int storage[2]; struct qw p, g; int i;
    fake_loop(&loop);
    T_EQ(schd_queue_init(&q, storage, sizeof(int), 2, SCHD_QUEUE_BLOCK), 0);
    memset(&p, 0, sizeof p); memset(&g, 0, sizeof g);
    p.q = g.q = &q; p.want = 6; p.put_from = 100; g.want = 6;
    schd_task_start(&p.task, &loop, q_putting, NULL);
    schd_loop_run_once(&loop, 0);
    T_EQ(p.n, 2);                           /* full: the third put waits */
    T_EQ(schd_queue_len(&q), 2);
    schd_task_start(&g.task, &loop, q_getting, NULL);
    for (i = 0; i < 20; i++) schd_loop_run_once(&loop, 0);
    T_EQ(p.n, 6);
    T_EQ(g.n, 6);
    for (i = 0; i < 6; i++) T_EQ(g.items[i], 100 + i);
    T_EQ(schd_queue_len(&q), 0);
    schd_loop_close(&loop);
}

static void test_ring_queue_overwrites_the_oldest(void)
{
    schd_queue q; int storage[3], i, v;
    T_EQ(schd_queue_init(&q, storage, sizeof(int), 3, SCHD_QUEUE_OVERWRITE), 0);
    for (i = 1; i <= 5; i++) T_EQ(schd_queue_try_put(&q, &i), 0);
    T_EQ(q.dropped, 2);
    for (i = 3; i <= 5; i++) { T_EQ(schd_queue_try_get(&q, &v), 0); T_EQ(v, i); }
    T_EQ(schd_queue_try_get(&q, &v), -EAGAIN);
    T_EQ(schd_queue_init(&q, storage, 0, 3, SCHD_QUEUE_BLOCK), -EINVAL);
}

static void test_timed_out_getter_loses_no_item(void)
{
    schd_loop loop; schd_queue q; int storage[2], v = 42, out = 0; struct qw g;
    fake_loop(&loop);
    schd_queue_init(&q, storage, sizeof(int), 2, SCHD_QUEUE_BLOCK);
    memset(&g, 0, sizeof g); g.q = &q; g.want = 1; g.timeout = SCHD_MS(3);
    schd_task_start(&g.task, &loop, q_getting, NULL);
    advance(&loop, SCHD_MS(4), SCHD_MS(1));
    T_EQ(g.n, 0);
    T_EQ(schd_queue_try_put(&q, &v), 0);    /* nobody waits any more: it stays queued */
    T_EQ(schd_queue_try_get(&q, &out), 0);
    T_EQ(out, 42);
    schd_loop_close(&loop);
}

struct gatherer { schd_task task; schd_gather *g; int status, woke; };
static int gathering(schd_task *t)
{
    struct gatherer *w = SCHD_CONTAINER_OF(t, struct gatherer, task);
    SCHD_TASK_BEGIN(t);
    SCHD_AWAIT_GATHER(t, w->g);
    w->status = SCHD_STATUS(t);
    w->woke = 1;
    SCHD_TASK_END(t);
}
struct failer { schd_task task; int64_t after; int result; };
static int failing(schd_task *t)
{
    struct failer *f = SCHD_CONTAINER_OF(t, struct failer, task);
    SCHD_TASK_BEGIN(t);
    SCHD_AWAIT_DELAY(t, f->after);
    SCHD_TASK_EXIT(t, f->result);
    SCHD_TASK_END(t);
}

static void test_gather_waits_for_all_and_reports_the_first_error(void)
{
    schd_loop loop; schd_gather g; struct failer f[3]; struct gatherer w;
    fake_loop(&loop); schd_gather_init(&g);
    memset(f, 0, sizeof f); memset(&w, 0, sizeof w);
    f[0].after = SCHD_MS(1); f[0].result = 0;
    f[1].after = SCHD_MS(2); f[1].result = -EIO;
    f[2].after = SCHD_MS(3); f[2].result = -EPIPE;
    schd_task_start(&f[0].task, &loop, failing, NULL);
    schd_task_start(&f[1].task, &loop, failing, NULL);
    schd_task_start(&f[2].task, &loop, failing, NULL);
    T_EQ(schd_gather_add_task(&g, &f[0].task), 0);
    T_EQ(schd_gather_add_task(&g, &f[1].task), 0);
    T_EQ(schd_gather_add_task(&g, &f[2].task), 0);
    schd_gather_add(&g, 1);
    w.g = &g;
    schd_task_start(&w.task, &loop, gathering, NULL);
    advance(&loop, SCHD_MS(5), SCHD_MS(1));
    T_EQ(w.woke, 0);                        /* the extra operation is still out */
    schd_gather_done(&g, 0);
    schd_loop_run_once(&loop, 0);
    T_EQ(w.woke, 1);
    T_EQ(w.status, -EIO);
    schd_loop_close(&loop);
}

struct compw { schd_task task; schd_completion *c; int status, woke; };
static int completing(schd_task *t)
{
    struct compw *w = SCHD_CONTAINER_OF(t, struct compw, task);
    SCHD_TASK_BEGIN(t);
    SCHD_AWAIT_COMPLETION(t, w->c);
    w->status = SCHD_STATUS(t);
    w->woke++;
    SCHD_TASK_END(t);
}

static void test_completion_carries_the_status_once(void)
{
    schd_loop loop; schd_completion c; struct compw a, b;
    fake_loop(&loop); schd_completion_init(&c);
    memset(&a, 0, sizeof a); memset(&b, 0, sizeof b); a.c = b.c = &c;
    schd_task_start(&a.task, &loop, completing, NULL);
    schd_loop_run_once(&loop, 0);
    T_EQ(schd_completion_signal(&c, -EPIPE), 0);
    T_EQ(schd_completion_signal(&c, 0), -EALREADY);
    schd_loop_run_once(&loop, 0);
    T_EQ(a.woke, 1); T_EQ(a.status, -EPIPE);
    schd_task_start(&b.task, &loop, completing, NULL);   /* already done: no wait */
    schd_loop_run_once(&loop, 0);
    T_EQ(b.woke, 1); T_EQ(b.status, -EPIPE);
    schd_loop_close(&loop);
}

struct flagw { schd_task task; schd_tflag *f; int woke; };
static int flag_waiting(schd_task *t)
{
    struct flagw *w = SCHD_CONTAINER_OF(t, struct flagw, task);
    SCHD_TASK_BEGIN(t);
    SCHD_AWAIT_TFLAG(t, w->f);
    w->woke++;
    SCHD_AWAIT_TFLAG(t, w->f);
    w->woke++;
    SCHD_TASK_END(t);
}
static void *set_flag(void *arg) { schd_tflag_set((schd_tflag *)arg); return NULL; }

static void test_thread_flag_set_from_a_thread_wakes_a_task(void)
{
    schd_loop loop; schd_tflag f; struct flagw w; pthread_t th; int i;
    T_REQUIRE(schd_loop_init(&loop) == 0);
    schd_tflag_init(&f, &loop);
    memset(&w, 0, sizeof w); w.f = &f;
    schd_task_start(&w.task, &loop, flag_waiting, NULL);
    schd_loop_run_once(&loop, 0);
    T_REQUIRE(pthread_create(&th, NULL, set_flag, &f) == 0);
    for (i = 0; i < 50 && !w.woke; i++) schd_loop_run_once(&loop, SCHD_MS(1000));
    pthread_join(th, NULL);
    T_EQ(w.woke, 1);                          /* the flag was cleared by the wake-up */
    schd_loop_run_once(&loop, 0);
    T_EQ(w.woke, 1);
    schd_tflag_set(&f);
    for (i = 0; i < 50 && w.woke < 2; i++) schd_loop_run_once(&loop, SCHD_MS(1000));
    T_EQ(w.woke, 2);
    schd_tflag_close(&f);
    schd_loop_close(&loop);
}

static int cbw_calls, cbw_status;
static void on_waiter(schd_waiter *w, int status, void *ud) { (void)w; (void)ud; cbw_calls++; cbw_status = status; }

static void test_callback_waiter_runs_later_and_exactly_once(void)
{
    schd_loop loop; schd_lock lk; schd_waiter w1, w2;
    fake_loop(&loop); schd_lock_init(&lk); cbw_calls = 0;
    schd_waiter_init(&w1, &loop, on_waiter, NULL);
    schd_waiter_init(&w2, &loop, on_waiter, NULL);
    T_EQ(schd_lock_acquire_cb(&lk, &w1), 0);
    T_EQ(cbw_calls, 0);                      /* granted, but not inside the call */
    T_EQ(schd_lock_acquire_cb(&lk, &w1), -EINVAL);   /* still in use */
    schd_loop_run_once(&loop, 0);
    T_EQ(cbw_calls, 1); T_EQ(cbw_status, 0);
    T_EQ(schd_lock_acquire_cb(&lk, &w2), 0);
    T_EQ(schd_waiter_cancel(&w2), 0);
    T_EQ(schd_waiter_cancel(&w2), -EALREADY);
    schd_loop_run_once(&loop, 0);
    T_EQ(cbw_calls, 2); T_EQ(cbw_status, -ECANCELED);
    T_EQ(schd_lock_release(&lk), 0);
    T_CHECK(!schd_lock_locked(&lk));
    schd_loop_close(&loop);
}

/* ---- managed resource ---- */

static char bus_log[256]; static int bus_busy, bus_overlaps;
static void bus_on(schd_resource *r, void *arg) { (void)r; if (bus_busy) bus_overlaps++; bus_busy = 1; strcat(bus_log, "+"); strcat(bus_log, (const char *)arg); }
static void bus_off(schd_resource *r, void *arg) { (void)r; bus_busy = 0; strcat(bus_log, "-"); strcat(bus_log, (const char *)arg); }

struct user { schd_task task; schd_rhandle *h; int rounds, i, status, got; int64_t timeout; };
static int bus_using(schd_task *t)
{
    struct user *u = SCHD_CONTAINER_OF(t, struct user, task);
    SCHD_TASK_BEGIN(t);
    for (u->i = 0; u->i < u->rounds; u->i++) {
        if (u->timeout) schd_task_timeout(t, u->timeout);
        SCHD_AWAIT_ACQUIRE(t, u->h);
        u->status = SCHD_STATUS(t);
        if (u->status != 0) break;
        u->got++;
        SCHD_AWAIT_DELAY(t, SCHD_MS(2));
        schd_resource_release(u->h);
    }
    SCHD_TASK_END(t);
}

static void test_resource_hooks_pair_up_and_never_overlap(void)
{
    schd_loop loop; schd_resource bus; schd_rhandle ha, hb; struct user a, b;
    fake_loop(&loop); bus_log[0] = 0; bus_busy = bus_overlaps = 0;
    schd_resource_init(&bus, NULL, bus_on, bus_off);
    schd_resource_handle(&bus, &ha, (void *)"A");
    schd_resource_handle(&bus, &hb, (void *)"B");
    memset(&a, 0, sizeof a); memset(&b, 0, sizeof b);
    a.h = &ha; b.h = &hb; a.rounds = b.rounds = 2;
    schd_task_start(&a.task, &loop, bus_using, NULL);
    schd_task_start(&b.task, &loop, bus_using, NULL);
    advance(&loop, SCHD_MS(20), SCHD_MS(1));
    T_STREQ(bus_log, "+A-A+B-B+A-A+B-B");     /* FIFO turns, no starvation */
    T_EQ(bus_overlaps, 0);
    T_EQ(bus.acquisitions, 4);
    T_EQ(schd_resource_release(&ha), -EPERM);
    schd_loop_close(&loop);
}

static void test_resource_acquire_times_out_without_taking_it(void)
{
    schd_loop loop; schd_resource bus; schd_rhandle ha, hb; struct user a, b;
    fake_loop(&loop); bus_log[0] = 0; bus_busy = 0;
    schd_resource_init(&bus, NULL, bus_on, bus_off);
    schd_resource_handle(&bus, &ha, (void *)"A");
    schd_resource_handle(&bus, &hb, (void *)"B");
    T_EQ(schd_resource_try(&ha), 0);
    memset(&b, 0, sizeof b); b.h = &hb; b.rounds = 1; b.timeout = SCHD_MS(5);
    schd_task_start(&b.task, &loop, bus_using, NULL);
    advance(&loop, SCHD_MS(6), SCHD_MS(1));
    T_EQ(b.status, -ETIMEDOUT);
    T_EQ(b.got, 0);
    T_EQ(schd_resource_release(&ha), 0);
    T_CHECK(!schd_lock_locked(&bus.lock));   /* the timed-out waiter got nothing */
    T_STREQ(bus_log, "+A-A");
    (void)a;
    schd_loop_close(&loop);
}

static void test_resource_is_released_when_its_holder_is_cancelled(void)
{
    schd_loop loop; schd_resource bus; schd_rhandle ha, hb; struct user a, b;
    fake_loop(&loop); bus_log[0] = 0; bus_busy = 0;
    schd_resource_init(&bus, NULL, bus_on, bus_off);
    schd_resource_handle(&bus, &ha, (void *)"A");
    schd_resource_handle(&bus, &hb, (void *)"B");
    memset(&a, 0, sizeof a); memset(&b, 0, sizeof b);
    a.h = &ha; b.h = &hb; a.rounds = b.rounds = 1;
    schd_task_start(&a.task, &loop, bus_using, NULL);
    schd_task_start(&b.task, &loop, bus_using, NULL);
    schd_loop_run_once(&loop, 0);
    schd_task_cancel(&a.task);               /* while it holds the bus */
    advance(&loop, SCHD_MS(5), SCHD_MS(1));
    T_STREQ(bus_log, "+A-A+B-B");
    T_EQ(b.got, 1);
    schd_loop_close(&loop);
}

/* ---- frequency scheduler ---- */

static int64_t job_times[4096]; static int job_n;
static void on_job(schd_job *j, void *ud) { (void)ud; if (job_n < 4096) job_times[job_n] = schd_loop_now(j->loop); job_n++; }

static void test_job_at_80_hz_runs_on_exact_periods(void)
{
    schd_loop loop; schd_job j; int64_t t0; int i;
    memset(&j, 0, sizeof j);
    fake_loop(&loop); job_n = 0; t0 = fake_now;
    T_EQ(schd_job_start(&j, &loop, schd_hz(80), on_job, NULL), 0);
    advance(&loop, SCHD_SEC(10), SCHD_US(250));
    T_EQ(job_n, 800);
    T_EQ(j.runs, 800);
    T_EQ(j.overruns, 0);
    for (i = 0; i < 800; i++) if (job_times[i] != t0 + (int64_t)(i + 1) * 12500000) break;
    T_EQ(i, 800);
    schd_job_stop(&j);
    schd_loop_close(&loop);
}

static void test_job_at_15_hz_has_no_cumulative_drift(void)
{
    schd_loop loop; schd_job j; uint64_t k;
    memset(&j, 0, sizeof j);
    fake_loop(&loop); job_n = 0;
    T_EQ(schd_job_start(&j, &loop, schd_hz(15), on_job, NULL), 0);
    /* a day of periods: each exactly floor(k * 1e9 / 15) after the start */
    for (k = 0; k <= 15ull * 86400; k += 997) T_EQ(schd_job_due(&j, k) - j.anchor, (int64_t)(k * 1000000000ull / 15));
    /* and a simulated hour with an irregular loop: 54000 runs, never early */
    advance(&loop, SCHD_SEC(3600), SCHD_US(20011));
    T_EQ(j.runs, 54000);
    T_EQ(j.overruns, 0);
    T_CHECK(j.late_max < SCHD_US(20011));
    T_EQ(schd_job_due(&j, j.next) - j.anchor, (int64_t)(54001ull * 1000000000ull / 15));
    schd_loop_close(&loop);
}

static void test_job_rates_from_hz_and_periods(void)
{
    schd_rate r = schd_hz(0.2);
    T_EQ(r.num / r.den, SCHD_SEC(5));
    r = schd_period(SCHD_MS(1500));
    T_EQ(r.num, SCHD_MS(1500)); T_EQ(r.den, 1);
    r = schd_hz(0);
    T_EQ(r.den, 0);
    {
        schd_loop loop; schd_job j;
        memset(&j, 0, sizeof j);
        fake_loop(&loop);
        T_EQ(schd_job_start(&j, &loop, schd_hz(-3), on_job, NULL), -EINVAL);
        T_EQ(schd_job_start(&j, &loop, schd_period(0), on_job, NULL), -EINVAL);
        schd_loop_close(&loop);
    }
}

static void test_late_job_skips_missed_periods_and_counts_them(void)
{
    schd_loop loop; schd_job j;
    memset(&j, 0, sizeof j);
    fake_loop(&loop); job_n = 0;
    schd_job_start(&j, &loop, schd_period(SCHD_MS(10)), on_job, NULL);
    advance(&loop, SCHD_MS(20), SCHD_MS(1));
    T_EQ(job_n, 2);
    fake_now += SCHD_MS(45);                  /* due: 30, 40, 50, 60 */
    schd_loop_run_once(&loop, 0);
    T_EQ(job_n, 3);
    T_EQ(j.overruns, 3);
    T_EQ(j.late_last, SCHD_MS(35));
    T_EQ(schd_job_due(&j, j.next) - j.anchor, SCHD_MS(70));
    schd_loop_close(&loop);
}

static void test_late_job_may_catch_up_a_bounded_number(void)
{
    schd_loop loop; schd_job j;
    memset(&j, 0, sizeof j);
    fake_loop(&loop); job_n = 0;
    schd_job_start(&j, &loop, schd_period(SCHD_MS(10)), on_job, NULL);
    schd_job_set_late_policy(&j, SCHD_LATE_CATCHUP, 2);
    fake_now += SCHD_MS(65);                  /* due: 10 .. 60 */
    schd_loop_run_once(&loop, 0);
    schd_loop_run_once(&loop, 0);
    schd_loop_run_once(&loop, 0);
    schd_loop_run_once(&loop, 0);
    T_EQ(job_n, 3);                           /* one on time-ish, two caught up */
    T_EQ(j.overruns, 3);
    T_EQ(schd_job_due(&j, j.next) - j.anchor, SCHD_MS(70));
    schd_loop_close(&loop);
}

struct slow { schd_task task; int started; };
static int slow_run(schd_task *t)
{
    struct slow *s = SCHD_CONTAINER_OF(t, struct slow, task);
    SCHD_TASK_BEGIN(t);
    s->started++;
    SCHD_AWAIT_DELAY(t, SCHD_MS(25));
    SCHD_TASK_END(t);
}

static void test_job_never_starts_its_task_twice(void)
{
    schd_loop loop; schd_job j; struct slow s;
    memset(&j, 0, sizeof j);
    fake_loop(&loop); memset(&s, 0, sizeof s);
    T_EQ(schd_job_start_task(&j, &loop, schd_period(SCHD_MS(10)), &s.task, slow_run, NULL), 0);
    advance(&loop, SCHD_MS(100), SCHD_MS(1));
    /* a 25 ms run every 10 ms: starts at 10, 40, 70, 100; the periods between are overruns */
    T_EQ(s.started, 4);
    T_EQ(j.runs, 4);
    T_EQ(j.overruns, 6);
    schd_job_stop(&j);
    schd_loop_close(&loop);
}

static void test_job_pause_resume_and_rate_change(void)
{
    schd_loop loop; schd_job j;
    memset(&j, 0, sizeof j);
    fake_loop(&loop); job_n = 0;
    schd_job_start(&j, &loop, schd_period(SCHD_MS(10)), on_job, NULL);
    advance(&loop, SCHD_MS(25), SCHD_MS(1));
    T_EQ(job_n, 2);
    schd_job_pause(&j);
    advance(&loop, SCHD_MS(100), SCHD_MS(1));
    T_EQ(job_n, 2);
    schd_job_resume(&j);
    advance(&loop, SCHD_MS(10), SCHD_MS(1));
    T_EQ(job_n, 3);
    T_EQ(schd_job_set_rate(&j, schd_period(SCHD_MS(50))), 0);
    advance(&loop, SCHD_MS(49), SCHD_MS(1));
    T_EQ(job_n, 3);
    advance(&loop, SCHD_MS(1), SCHD_MS(1));
    T_EQ(job_n, 4);
    T_EQ(schd_job_set_rate(&j, schd_hz(1e9)), -EINVAL);
    schd_job_stop(&j);
    schd_loop_close(&loop);
}

/* ---- pushbutton ---- */

static char btn_log[256];
static void on_btn(schd_button *b, int ev, void *ud) { (void)b; (void)ud; strcat(btn_log, schd_button_event_name(ev)); strcat(btn_log, " "); }

static void button_script(schd_loop *loop, schd_button *b, const int *levels_ms, int n)
{
    int i;
    for (i = 0; i < n; i += 2) { schd_button_feed(b, levels_ms[i]); advance(loop, SCHD_MS(levels_ms[i + 1]), SCHD_MS(1)); }
}

static void test_button_debounces_bounces(void)
{
    schd_loop loop; schd_button b;
    static const int s[] = {1, 3, 0, 2, 1, 4, 0, 1, 1, 100, 0, 3, 1, 2, 0, 600};
    fake_loop(&loop); btn_log[0] = 0;
    schd_button_init(&b, &loop, NULL, on_btn, NULL);
    button_script(&loop, &b, s, (int)(sizeof s / sizeof s[0]));
    T_STREQ(btn_log, "press release click ");
    schd_button_stop(&b);
    schd_loop_close(&loop);
}

static void test_button_reports_long_press(void)
{
    schd_loop loop; schd_button b;
    static const int s[] = {1, 1500, 0, 600};
    fake_loop(&loop); btn_log[0] = 0;
    schd_button_init(&b, &loop, NULL, on_btn, NULL);
    button_script(&loop, &b, s, 4);
    T_STREQ(btn_log, "press long release ");
    schd_loop_close(&loop);
}

static void test_button_reports_double_press(void)
{
    schd_loop loop; schd_button b;
    static const int s[] = {1, 100, 0, 100, 1, 100, 0, 600};
    fake_loop(&loop); btn_log[0] = 0;
    schd_button_init(&b, &loop, NULL, on_btn, NULL);
    button_script(&loop, &b, s, 8);
    T_STREQ(btn_log, "press release press double release ");
    schd_loop_close(&loop);
}

static void test_button_active_low_and_no_double(void)
{
    schd_loop loop; schd_button b; schd_button_config cfg = schd_button_config_init();
    static const int s[] = {1, 50, 0, 100, 1, 100, 0, 100, 1, 100};
    cfg.active_level = 0; cfg.double_ns = 0;
    fake_loop(&loop); btn_log[0] = 0;
    schd_button_init(&b, &loop, &cfg, on_btn, NULL);
    button_script(&loop, &b, s, 10);
    T_STREQ(btn_log, "press release click press release click ");
    schd_loop_close(&loop);
}

static void test_strerror_names_codes(void)
{
    T_STREQ(schd_strerror(0), "success");
    T_STREQ(schd_strerror(-ETIMEDOUT), strerror(ETIMEDOUT));
    T_STREQ(schd_strerror(-ECANCELED), strerror(ECANCELED));
    T_CHECK(strlen(schd_strerror(-ENOENT)) > 0);
    T_STREQ(schd_strerror(5), "not an error code");
}

/* ---- regressions from review ---- */

static schd_async *rv_b; static int rv_b_calls;
static void rv_on_b(schd_async *a, void *ud) { (void)a; (void)ud; rv_b_calls++; }
static void rv_on_a(schd_async *a, void *ud) { (void)a; (void)ud; schd_async_close(rv_b); free(rv_b); rv_b = NULL; }

static void test_async_closed_by_another_in_the_same_batch_never_runs(void)
{
    schd_loop loop; schd_async a;
    T_REQUIRE(schd_loop_init(&loop) == 0);
    rv_b = (schd_async *)malloc(sizeof *rv_b); rv_b_calls = 0;
    schd_async_init(&a, &loop, rv_on_a, NULL);
    schd_async_init(rv_b, &loop, rv_on_b, NULL);
    schd_async_send(&a);
    schd_async_send(rv_b);
    schd_loop_run_once(&loop, 0);
    T_EQ(rv_b_calls, 0);
    T_CHECK(rv_b == NULL);
    schd_async_close(&a);
    schd_loop_close(&loop);
}

static void test_timers_keep_order_past_32_bit_start_numbers(void)
{
    schd_loop loop; schd_timer t[6]; int i;
    reset_fired(); fake_loop(&loop);
    loop.core.timer_seq = 0xFFFFFFFDu;                 /* three starts before 2^32 */
    for (i = 0; i < 6; i++) { schd_timer_init(&t[i], on_timer, (void *)(intptr_t)i); schd_timer_start(&t[i], &loop, SCHD_MS(5), 0); }
    advance(&loop, SCHD_MS(5), SCHD_MS(5));
    T_EQ(fire_count, 6);
    for (i = 0; i < 6; i++) T_EQ(fire_order[i], i);
    schd_loop_close(&loop);
}

static int rv_done_calls, rv_nested_close;
static void rv_on_done_close(schd_task *t, int result, void *ud) { (void)t; (void)result; rv_done_calls++; rv_nested_close = schd_loop_close((schd_loop *)ud); }
static void rv_on_done_restart(schd_task *t, int result, void *ud) { (void)result; rv_done_calls++; rv_nested_close = schd_task_start(t, (schd_loop *)ud, guarded_wait, NULL); }

static void test_close_refuses_reentry_from_its_own_callbacks(void)
{
    schd_loop loop; schd_event ev; struct guarded g1, g2;
    fake_loop(&loop); schd_event_init(&ev);
    memset(&g1, 0, sizeof g1); memset(&g2, 0, sizeof g2);
    g1.ev = g2.ev = &ev; rv_done_calls = 0;
    schd_task_start(&g1.task, &loop, guarded_wait, NULL);
    schd_task_start(&g2.task, &loop, guarded_wait, NULL);
    schd_task_on_done(&g1.task, rv_on_done_close, &loop);
    schd_task_on_done(&g2.task, rv_on_done_restart, &loop);
    schd_loop_run_once(&loop, 0);
    T_EQ(schd_loop_close(&loop), 0);
    T_EQ(rv_done_calls, 2);
    T_CHECK(rv_nested_close == -EBUSY || rv_nested_close == -ECANCELED);
}

struct cleaner { schd_task task; schd_event *ev; char *buf; int cleaned; };
static int cleaning(schd_task *t)
{
    struct cleaner *c = SCHD_CONTAINER_OF(t, struct cleaner, task);
    SCHD_TASK_BEGIN(t);
    c->buf = (char *)malloc(100);
    SCHD_AWAIT_EVENT(t, c->ev);
    SCHD_TASK_FINALLY(t);
    SCHD_AWAIT_DELAY(t, SCHD_MS(1));   /* e.g. let a device settle */
    free(c->buf);
    c->cleaned = 1;
    SCHD_TASK_END(t);
}

static void test_close_lets_finally_blocks_with_delays_finish(void)
{
    schd_loop loop; schd_event ev; struct cleaner c;
    fake_loop(&loop); schd_event_init(&ev);
    memset(&c, 0, sizeof c); c.ev = &ev;
    schd_task_start(&c.task, &loop, cleaning, NULL);
    schd_loop_run_once(&loop, 0);
    schd_loop_close(&loop);
    T_EQ(c.cleaned, 1);               /* and no leak under the sanitizers */
}

static void test_close_delivers_grants_made_while_tasks_end(void)
{
    schd_loop loop; schd_lock lk; struct locker a; schd_waiter w;
    fake_loop(&loop); schd_lock_init(&lk); lock_n = 0; cbw_calls = 0;
    memset(&a, 0, sizeof a); a.lock = &lk; a.id = 1; a.hold_ms = 100; a.cancel_me = 1;
    schd_task_start(&a.task, &loop, locking, NULL);
    schd_loop_run_once(&loop, 0);
    schd_waiter_init(&w, &loop, on_waiter, NULL);
    schd_lock_acquire_cb(&lk, &w);
    schd_loop_close(&loop);
    T_EQ(cbw_calls, 1);               /* the hand-off reached the callback */
    T_EQ(cbw_status, 0);
}

static int rv_b_prepared;
static int rv_prep_remove(void *ctx, struct pollfd *fds, int cap, int64_t *dl) { (void)fds; (void)cap; (void)dl; schd_source_remove((schd_source *)ctx); return 0; }
static int rv_prep_deadline(void *ctx, struct pollfd *fds, int cap, int64_t *dl) { (void)ctx; (void)fds; (void)cap; rv_b_prepared++; if (*dl > schd_now_ns()) *dl = schd_now_ns(); return 0; }
static void rv_dispatch_nop(void *ctx, struct pollfd *fds, int n) { (void)ctx; (void)fds; (void)n; }

static void test_source_removing_itself_in_prepare_hides_no_other(void)
{
    schd_loop loop; schd_source a, b;
    T_REQUIRE(schd_loop_init(&loop) == 0);
    rv_b_prepared = 0;
    schd_source_add(&b, &loop, rv_prep_deadline, rv_dispatch_nop, &b);
    schd_source_add(&a, &loop, rv_prep_remove, rv_dispatch_nop, &a);   /* first in the list */
    T_EQ(schd_source_add(&a, &loop, rv_prep_remove, rv_dispatch_nop, &a), -EBUSY);
    schd_loop_run_once(&loop, SCHD_MS(5000));                  /* would sleep 5 s if b were skipped */
    T_CHECK(rv_b_prepared >= 1);
    schd_source_remove(&b);
    schd_loop_close(&loop);
}

static void test_huge_times_saturate_instead_of_overflowing(void)
{
    schd_loop loop; schd_timer t; schd_job j;
    reset_fired(); fake_loop(&loop); memset(&j, 0, sizeof j);
    schd_timer_init(&t, on_timer, (void *)3);
    T_EQ(schd_timer_start(&t, &loop, SCHD_NO_DEADLINE, 0), 0);
    T_EQ(schd_timer_due(&t, &loop), SCHD_NO_DEADLINE);
    schd_timer_start(&t, &loop, 0, INT64_MAX);        /* repeating with an absurd period */
    advance(&loop, SCHD_MS(2), SCHD_MS(1));
    T_EQ(fired[3], 1);
    T_EQ(schd_job_start(&j, &loop, schd_period(INT64_MAX), on_job, NULL), -EINVAL);
    schd_timer_stop(&t, &loop);
    schd_loop_close(&loop);
}

static schd_button *rv_btn; static int rv_btn_events;
static void rv_on_btn_free(schd_button *b, int ev, void *ud) { (void)ev; (void)ud; rv_btn_events++; schd_button_stop(b); free(b); rv_btn = NULL; }

static void test_button_callback_may_stop_and_free_its_button(void)
{
    schd_loop loop;
    fake_loop(&loop); rv_btn_events = 0;
    rv_btn = (schd_button *)malloc(sizeof *rv_btn);
    T_EQ(schd_button_init(rv_btn, &loop, NULL, rv_on_btn_free, NULL), 0);
    schd_button_feed(rv_btn, 1);
    advance(&loop, SCHD_MS(2000), SCHD_MS(1));
    T_EQ(rv_btn_events, 1);
    T_CHECK(rv_btn == NULL);
    T_CHECK(!schd_loop_alive(&loop));
    schd_loop_close(&loop);
}

static void test_button_long_press_opens_no_double_window(void)
{
    schd_loop loop; schd_button b; schd_button_config cfg = schd_button_config_init();
    static const int s[] = {1, 300, 0, 50, 1, 50, 0, 600};
    cfg.long_ns = SCHD_MS(200);
    fake_loop(&loop); btn_log[0] = 0;
    T_EQ(schd_button_init(&b, &loop, &cfg, on_btn, NULL), 0);
    button_script(&loop, &b, s, 8);
    T_STREQ(btn_log, "press long release press release click ");
    cfg.debounce_ns = -1;
    T_EQ(schd_button_init(&b, &loop, &cfg, on_btn, NULL), -EINVAL);
    schd_loop_close(&loop);
}

static void test_starting_a_timer_of_another_loop_changes_nothing(void)
{
    schd_loop a, b; schd_timer t;
    reset_fired(); fake_loop(&a); T_REQUIRE(schd_loop_init(&b) == 0);
    schd_timer_init(&t, on_timer, (void *)4);
    schd_timer_start(&t, &a, SCHD_MS(1), 0);
    T_EQ(schd_timer_start(&t, &b, SCHD_MS(1), SCHD_MS(1)), -EINVAL);
    advance(&a, SCHD_MS(10), SCHD_MS(1));
    T_EQ(fired[4], 1);                                /* still the one-shot it was */
    schd_loop_close(&a); schd_loop_close(&b);
}

static void test_async_init_twice_is_refused(void)
{
    schd_loop loop; schd_async a;
    T_REQUIRE(schd_loop_init(&loop) == 0);
    T_EQ(schd_async_init(&a, &loop, on_async, NULL), 0);
    T_EQ(schd_async_init(&a, &loop, on_async, NULL), -EBUSY);
    schd_async_close(&a);
    T_CHECK(!schd_loop_alive(&loop));
    schd_loop_close(&loop);
}

static void test_settings_made_before_start_survive_it(void)
{
    schd_loop loop; schd_job j; struct counter_task c;
    fake_loop(&loop); memset(&j, 0, sizeof j); memset(&c, 0, sizeof c); done_calls = 0;
    schd_job_set_late_policy(&j, SCHD_LATE_CATCHUP, 2);
    schd_job_start(&j, &loop, schd_period(SCHD_MS(10)), on_job, NULL);
    T_EQ(j.policy, SCHD_LATE_CATCHUP);
    T_EQ(j.catchup_max, 2);
    c.limit = 1;
    schd_task_on_done(&c.task, on_task_done, NULL);
    schd_task_start(&c.task, &loop, counting, NULL);
    advance(&loop, SCHD_MS(5), SCHD_MS(1));
    T_EQ(done_calls, 1);
    schd_job_stop(&j);
    schd_loop_close(&loop);
}

static void test_closing_a_thread_flag_cancels_its_waiter(void)
{
    schd_loop loop; schd_tflag f; struct flagw w;
    fake_loop(&loop);
    schd_tflag_init(&f, &loop);
    memset(&w, 0, sizeof w); w.f = &f;
    schd_task_start(&w.task, &loop, flag_waiting, NULL);
    schd_loop_run_once(&loop, 0);
    schd_tflag_close(&f);
    schd_loop_run_once(&loop, 0);
    schd_loop_run_once(&loop, 0);
    T_EQ(w.woke, 2);                                  /* both awaits end, cancelled */
    T_EQ(schd_task_state(&w.task), SCHD_TASK_DONE);
    schd_loop_close(&loop);
}

static void test_bad_input_gets_an_error_not_a_crash(void)
{
    schd_sem s; int64_t dl = 0;
    T_STREQ(schd_strerror(INT_MIN), "unknown error");
    schd_sem_init(&s, INT_MAX, 0);
    T_EQ(schd_sem_release(&s), -EOVERFLOW);
    schd_event_set(NULL);
    schd_button_feed(NULL, 1);
    schd_defer_start(NULL, NULL, NULL, NULL);
    schd_loop_stop(NULL);
    T_EQ(schd_loop_prepare(NULL, NULL, 0, &dl), -EINVAL);
    schd_loop_dispatch(NULL, NULL, 0);
    T_EQ(schd_task_cancel(NULL), -EALREADY);
    T_EQ(schd_queue_try_put(NULL, &dl), -EINVAL);
    T_EQ(schd_timer_stop(NULL, NULL), -EINVAL);
    T_EQ(schd_loop_init(NULL), -EINVAL);
}

/* ---- the loop's life cycle (issue 11) ---- */

static int lc_calls, lc_status;
static void lc_on_wait(schd_waiter *w, int status, void *ud) { (void)w; (void)ud; lc_calls++; lc_status = status; }

/* A callback waiter still queued on a primitive when the loop closes
 * gets -ECANCELED, and a later release does not reach the closed loop. */
static void test_loop_close_cancels_callback_waiters(void)
{
    schd_loop *loop = (schd_loop *)malloc(sizeof *loop);
    schd_sem sem; schd_waiter w;
    T_REQUIRE(loop && schd_loop_init(loop) == 0);
    lc_calls = 0; lc_status = 1;
    schd_sem_init(&sem, 0, 0);
    schd_waiter_init(&w, loop, lc_on_wait, NULL);
    T_EQ(schd_sem_acquire_cb(&sem, &w), 0);
    T_EQ(schd_loop_close(loop), 0);
    T_EQ(lc_calls, 1);
    T_EQ(lc_status, -ECANCELED);
    free(loop);                               /* the sem outlives the loop */
    T_EQ(schd_sem_release(&sem), 0);
    T_EQ(schd_sem_value(&sem), 1);
    T_EQ(lc_calls, 1);
}

/* Started outside any callback, a timer counts from the clock, not from
 * the time the last iteration cached. */
static void test_timer_started_outside_a_callback_counts_from_now(void)
{
    schd_loop loop; schd_timer t;
    reset_fired(); fake_loop(&loop);
    schd_loop_run_once(&loop, 0);             /* caches the time */
    fake_now += SCHD_MS(50);                  /* time passes with no iteration */
    schd_timer_init(&t, on_timer, (void *)0);
    T_EQ(schd_timer_start(&t, &loop, SCHD_MS(100), 0), 0);
    T_EQ(schd_timer_due(&t, &loop), fake_now + SCHD_MS(100));
    advance(&loop, SCHD_MS(99), SCHD_MS(1));
    T_EQ(fire_count, 0);
    advance(&loop, SCHD_MS(1), SCHD_MS(1));
    T_EQ(fire_count, 1);
    schd_loop_close(&loop);
}

static void lc_on_job(schd_job *j, void *ud) { (void)j; (void)ud; }

/* A job started long after the loop's last iteration has missed nothing. */
static void test_job_started_late_reports_no_overruns(void)
{
    static schd_job job;
    schd_loop loop;
    fake_loop(&loop);
    memset(&job, 0, sizeof job);
    fake_now += SCHD_MS(300);                 /* 300 ms after init, no iteration */
    T_EQ(schd_job_start(&job, &loop, schd_hz(100), lc_on_job, NULL), 0);
    advance(&loop, SCHD_MS(10), SCHD_MS(10));
    T_EQ(job.runs, 1);
    T_EQ(job.overruns, 0);
    schd_job_stop(&job);
    schd_loop_close(&loop);
}

static int lc_deferred;
static void lc_on_defer(schd_defer *d, void *ud) { (void)d; (void)ud; lc_deferred++; }

/* schd_defer_init makes storage that was never zeroed safe to start. */
static void test_defer_init_makes_any_storage_safe(void)
{
    schd_loop loop; schd_defer *d = (schd_defer *)malloc(sizeof *d);
    T_REQUIRE(d && schd_loop_init(&loop) == 0);
    memset(d, 0xA5, sizeof *d);               /* what malloc may hand back */
    schd_defer_init(d, lc_on_defer, NULL);
    lc_deferred = 0;
    schd_defer_start(d, &loop, lc_on_defer, NULL);
    schd_defer_start(d, &loop, lc_on_defer, NULL);   /* queued already: keeps its place */
    schd_loop_run_once(&loop, 0);
    T_EQ(lc_deferred, 1);
    schd_loop_close(&loop);
    free(d);
}

/* A semaphore never holds more than its maximum: schd_sem_init(&s, 5, 2)
 * used to give it the value 5.  Such a call, or a negative count or
 * maximum, is refused, and s is left in range all the same. */
static void test_semaphore_init_above_its_maximum_is_refused(void)
{
    schd_sem s;
    T_EQ(schd_sem_init(&s, 5, 2), -EINVAL);
    T_EQ(schd_sem_value(&s), 2);
    T_EQ(schd_sem_release(&s), -EOVERFLOW);
    T_EQ(schd_sem_init(&s, -1, 2), -EINVAL);
    T_EQ(schd_sem_value(&s), 0);
    T_EQ(schd_sem_init(&s, 3, -1), -EINVAL);
    T_EQ(schd_sem_value(&s), 3);               /* max below 0 reads as unbounded */
    T_EQ(schd_sem_init(NULL, 1, 1), -EINVAL);
    T_EQ(schd_sem_init(&s, 2, 2), 0);
    T_EQ(schd_sem_init(&s, 7, 0), 0);          /* unbounded */
    T_EQ(schd_sem_value(&s), 7);
}

int main(void)
{
    t_suite("sched");
    T_RUN(test_timer_fires_once_after_its_delay);
    T_RUN(test_equal_deadlines_fire_in_start_order);
    T_RUN(test_many_timers_fire_in_deadline_order);
    T_RUN(test_stopped_timer_never_fires);
    T_RUN(test_restart_moves_the_deadline);
    T_RUN(test_repeating_timer_keeps_its_phase_and_skips_missed_periods);
    T_RUN(test_callback_may_stop_another_due_timer);
    T_RUN(test_zero_delay_restart_waits_for_the_next_iteration);
    T_RUN(test_timer_calls_check_their_arguments);
    T_RUN(test_io_watcher_reports_readable_pipe);
    T_RUN(test_io_interest_changes_at_run_time);
    T_RUN(test_io_callback_may_stop_another_ready_watcher);
    T_RUN(test_io_on_closed_descriptor_is_reported_and_stopped);
    T_RUN(test_soon_runs_from_the_loop_not_inside_the_call);
    T_RUN(test_soon_queued_by_soon_waits_one_iteration);
    T_RUN(test_cancelled_defer_does_not_run);
    T_RUN(test_run_returns_when_nothing_is_left);
    T_RUN(test_stop_ends_run_after_the_current_iteration);
    T_RUN(test_close_from_inside_the_loop_is_refused);
    T_RUN(test_close_from_a_foreign_dispatch_is_refused);
    T_RUN(test_run_once_waits_for_its_timeout);
    T_RUN(test_foreign_loop_drives_timers_and_descriptors);
    T_RUN(test_source_joins_the_same_poll_with_its_deadline);
    T_RUN(test_a_loop_can_be_the_source_of_another);
    T_RUN(test_async_send_from_a_thread_wakes_the_loop);
    T_RUN(test_posts_from_many_threads_each_run_once);
    T_RUN(test_task_starts_from_the_loop_and_resumes_after_delays);
    T_RUN(test_yield_interleaves_tasks_in_turn);
    T_RUN(test_join_waits_for_the_result);
    T_RUN(test_cancel_while_waiting_runs_finally_and_reports_cancelled);
    T_RUN(test_await_works_inside_finally_after_cancel);
    T_RUN(test_cancel_before_the_first_run_skips_the_body);
    T_RUN(test_timeout_on_a_wait_reports_timed_out);
    T_RUN(test_timeout_is_not_reported_when_the_wait_ends_first);
    T_RUN(test_close_cancels_live_tasks_and_calls_done_once);
    T_RUN(test_lock_is_fifo_and_exclusive);
    T_RUN(test_lock_is_released_when_its_holder_is_cancelled);
    T_RUN(test_cancel_after_grant_keeps_the_grant_until_the_next_await);
    T_RUN(test_event_wakes_every_waiter_and_stays_set);
    T_RUN(test_semaphore_counts_and_is_bounded);
    T_RUN(test_barrier_releases_all_parties_together);
    T_RUN(test_queue_is_fifo_and_bounded_in_both_directions);
    T_RUN(test_ring_queue_overwrites_the_oldest);
    T_RUN(test_timed_out_getter_loses_no_item);
    T_RUN(test_gather_waits_for_all_and_reports_the_first_error);
    T_RUN(test_completion_carries_the_status_once);
    T_RUN(test_thread_flag_set_from_a_thread_wakes_a_task);
    T_RUN(test_callback_waiter_runs_later_and_exactly_once);
    T_RUN(test_resource_hooks_pair_up_and_never_overlap);
    T_RUN(test_resource_acquire_times_out_without_taking_it);
    T_RUN(test_resource_is_released_when_its_holder_is_cancelled);
    T_RUN(test_job_at_80_hz_runs_on_exact_periods);
    T_RUN(test_job_at_15_hz_has_no_cumulative_drift);
    T_RUN(test_job_rates_from_hz_and_periods);
    T_RUN(test_late_job_skips_missed_periods_and_counts_them);
    T_RUN(test_late_job_may_catch_up_a_bounded_number);
    T_RUN(test_job_never_starts_its_task_twice);
    T_RUN(test_job_pause_resume_and_rate_change);
    T_RUN(test_button_debounces_bounces);
    T_RUN(test_button_reports_long_press);
    T_RUN(test_button_reports_double_press);
    T_RUN(test_button_active_low_and_no_double);
    T_RUN(test_strerror_names_codes);
    T_RUN(test_async_closed_by_another_in_the_same_batch_never_runs);
    T_RUN(test_timers_keep_order_past_32_bit_start_numbers);
    T_RUN(test_close_refuses_reentry_from_its_own_callbacks);
    T_RUN(test_close_lets_finally_blocks_with_delays_finish);
    T_RUN(test_close_delivers_grants_made_while_tasks_end);
    T_RUN(test_source_removing_itself_in_prepare_hides_no_other);
    T_RUN(test_huge_times_saturate_instead_of_overflowing);
    T_RUN(test_button_callback_may_stop_and_free_its_button);
    T_RUN(test_button_long_press_opens_no_double_window);
    T_RUN(test_starting_a_timer_of_another_loop_changes_nothing);
    T_RUN(test_async_init_twice_is_refused);
    T_RUN(test_settings_made_before_start_survive_it);
    T_RUN(test_closing_a_thread_flag_cancels_its_waiter);
    T_RUN(test_bad_input_gets_an_error_not_a_crash);
    T_RUN(test_loop_close_cancels_callback_waiters);
    T_RUN(test_timer_started_outside_a_callback_counts_from_now);
    T_RUN(test_job_started_late_reports_no_overruns);
    T_RUN(test_defer_init_makes_any_storage_safe);
    T_RUN(test_semaphore_init_above_its_maximum_is_refused);
    return t_done();
}
