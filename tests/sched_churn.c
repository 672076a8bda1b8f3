/* tests/sched_churn.c - sched.h under churn for a while, everything counted.
 *
 *   SCHED_CHURN_SECONDS=S (default 3)  SCHED_CHURN_SEED=N or T_SEED=N (default: time)
 *
 * One loop; on it, for S seconds:
 *   - 128 timers started, stopped and restarted at random (one-shot and
 *     periodic, 0..3 ms): a stopped timer must never fire;
 *   - 64 task slots, restarted as soon as they end, each task doing one of:
 *     hold a FIFO lock across a yield (never two holders), take a unit of
 *     a 4-unit semaphore with a timeout (never more than 4 out), put into
 *     or get from a bounded queue with a timeout (items conserved: put ==
 *     got + left); random cancels, a finally block that gives back what
 *     the task held; exactly one on_done per start;
 *   - two other threads posting calls (each must run exactly once),
 *     sending to an async handle (the last send must be seen) and setting
 *     a thread flag a task waits on (the last set must wake it);
 *   - deferred calls (schd_soon).
 * Then the threads stop, the loop drains and closes, and the counts must
 * add up.  tests/parts/sched.sh runs it in every build and under
 * ThreadSanitizer; make soak runs it for minutes and watches its memory. */
#define _GNU_SOURCE 1
#define SCHD_IMPLEMENTATION
#include "sched.h"
#include "tests/harness.h"
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#define NTIMERS 128
#define NTASKS 64
#define SEM_UNITS 4

typedef struct ctimer {
    schd_timer t;
    int armed, periodic;
} ctimer;

typedef struct wtask {
    schd_task task;
    int kind, running, cancel_ok, holds_lock, have_sem;
    long delay_us;
    long item, got;
} wtask;

static schd_loop loop;
static ctimer timers[NTIMERS];
static wtask tasks[NTASKS];
static schd_lock g_lock;
static schd_sem g_sem;
static schd_queue g_q;
static long g_q_store[16];
static schd_async g_async;
static schd_tflag g_flag;
static schd_task flag_task;
static uint64_t rng;

static long errors, timer_fires, timer_ops, starts, dones, cancels, cancelled_results;
static long lock_holders, sem_out, sem_timeouts, items_put, items_got, sum_put, sum_got, next_item = 1;
static long soon_queued, soon_ran, flag_wakes, async_calls, async_seen;
static int flag_stop, flag_task_done;
/* shared with the other threads (atomics) */
static long posted, async_sent, flag_sets, threads_stop;
static long post_ran;

static uint64_t rnd(void)
{
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}
static long rnd_below(long n) { return (long)((rnd() >> 33) % (uint64_t)n); }

static void bad(const char *what)
{
    if (errors++ < 8) printf("error: %s\n", what);
}

/* ---- timers ---- */

static void on_timer(schd_timer *t, void *ud)
{
    ctimer *c = (ctimer *)ud;
    (void)t;
    if (!c->armed) bad("a stopped timer fired");
    timer_fires++;
    if (!c->periodic) c->armed = 0;
}

static void churn_timers(void)
{
    int k;
    for (k = 0; k < 8; k++) {
        ctimer *c = &timers[rnd_below(NTIMERS)];
        timer_ops++;
        if (c->armed && rnd_below(2) == 0) {
            schd_timer_stop(&c->t, &loop);
            c->armed = 0;
        } else {
            c->periodic = rnd_below(4) == 0;
            c->armed = 1;
            schd_timer_start(&c->t, &loop, SCHD_US(rnd_below(3000)), c->periodic ? SCHD_US(1000 + rnd_below(2000)) : 0);
        }
    }
}

/* ---- tasks ---- */

static int worker(schd_task *t)
{
    wtask *w = SCHD_CONTAINER_OF(t, wtask, task);
    SCHD_TASK_BEGIN(t);
    SCHD_AWAIT_DELAY(t, SCHD_US(w->delay_us));
    if (w->kind == 0) {
        SCHD_AWAIT_LOCK(t, &g_lock);
        if (SCHD_STATUS(t) == 0) {
            if (lock_holders++ != 0) bad("two holders of the lock");
            w->holds_lock = 1;
            SCHD_YIELD(t);
            w->holds_lock = 0;
            lock_holders--;
            schd_lock_release(&g_lock);
        }
    } else if (w->kind == 1) {
        schd_task_timeout(t, SCHD_US(300));
        SCHD_AWAIT_SEM(t, &g_sem);
        if (SCHD_STATUS(t) == 0) {
            if (++sem_out > SEM_UNITS) bad("more semaphore units out than it has");
            w->have_sem = 1;
            SCHD_AWAIT_DELAY(t, SCHD_US(100));
            w->have_sem = 0;
            sem_out--;
            schd_sem_release(&g_sem);
        } else if (SCHD_STATUS(t) == -ETIMEDOUT) {
            sem_timeouts++;
        }
    } else if (w->kind == 2) {
        w->item = next_item++;
        schd_task_timeout(t, SCHD_US(500));
        SCHD_AWAIT_PUT(t, &g_q, &w->item);
        if (SCHD_STATUS(t) == 0) { items_put++; sum_put += w->item; }
    } else {
        schd_task_timeout(t, SCHD_US(500));
        SCHD_AWAIT_GET(t, &g_q, &w->got);
        if (SCHD_STATUS(t) == 0) { items_got++; sum_got += w->got; }
    }
    SCHD_TASK_FINALLY(t);
    /* cancelled: give back what is held (the lock goes back by itself) */
    if (w->holds_lock) { w->holds_lock = 0; lock_holders--; }
    if (w->have_sem) { w->have_sem = 0; sem_out--; schd_sem_release(&g_sem); }
    SCHD_TASK_END(t);
}

static void on_task_done(schd_task *t, int result, void *ud)
{
    wtask *w = (wtask *)ud;
    (void)t;
    if (!w->running) bad("on_done for a task that was not running");
    w->running = 0;
    dones++;
    if (result == -ECANCELED) {
        cancelled_results++;
        if (!w->cancel_ok) bad("-ECANCELED without a cancel");
    } else if (result != 0) {
        bad("a task result other than 0 or -ECANCELED");
    }
}

static void churn_tasks(void)
{
    int k;
    for (k = 0; k < NTASKS; k++) {
        wtask *w = &tasks[k];
        if (w->running) continue;
        w->kind = (int)rnd_below(4);
        w->delay_us = rnd_below(3) == 0 ? 0 : rnd_below(1000);
        w->cancel_ok = 0;
        w->running = 1;
        schd_task_on_done(&w->task, on_task_done, w);
        if (schd_task_start(&w->task, &loop, worker, w) != 0) { w->running = 0; bad("task start refused"); continue; }
        starts++;
    }
    for (k = 0; k < 3; k++) {
        wtask *w = &tasks[rnd_below(NTASKS)];
        if (w->running && schd_task_cancel(&w->task) == 0) { w->cancel_ok = 1; cancels++; }
    }
}

/* ---- the flag a task waits on, set from other threads ---- */

static int flag_waiter(schd_task *t)
{
    SCHD_TASK_BEGIN(t);
    while (!flag_stop) {
        SCHD_AWAIT_TFLAG(t, &g_flag);
        if (SCHD_STATUS(t) != 0) break;
        flag_wakes++;
    }
    flag_task_done = 1;
    SCHD_TASK_END(t);
}

static void on_async(schd_async *a, void *ud)
{
    (void)a; (void)ud;
    async_calls++;
    async_seen = __atomic_load_n(&async_sent, __ATOMIC_ACQUIRE);
}

static void on_post(void *ud)
{
    (void)ud;
    __atomic_add_fetch(&post_ran, 1, __ATOMIC_RELAXED);
}

static void on_soon(void *ud)
{
    (void)ud;
    soon_ran++;
}

static void *poster(void *arg)
{
    struct timespec pause = {0, 50000};
    (void)arg;
    while (!__atomic_load_n(&threads_stop, __ATOMIC_ACQUIRE)) {
        int k;
        for (k = 0; k < 8; k++)
            if (schd_loop_post(&loop, on_post, NULL) == 0) __atomic_add_fetch(&posted, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&async_sent, 1, __ATOMIC_RELEASE);
        schd_async_send(&g_async);
        __atomic_add_fetch(&flag_sets, 1, __ATOMIC_RELAXED);
        schd_tflag_set(&g_flag);
        nanosleep(&pause, NULL);
    }
    return NULL;
}

static double now_s(void) { return (double)schd_now_ns() / 1e9; }

static double seconds = 3;

static void test_churn_adds_up(void)
{
    pthread_t th[2];
    double end, give_up, next_round;
    long left = 0, v;
    int k, rounds = 0;
    T_EQ(schd_loop_init(&loop), 0);
    schd_lock_init(&g_lock);
    schd_sem_init(&g_sem, SEM_UNITS, SEM_UNITS);
    T_EQ(schd_queue_init(&g_q, g_q_store, sizeof g_q_store[0], 16, SCHD_QUEUE_BLOCK), 0);
    T_EQ(schd_async_init(&g_async, &loop, on_async, NULL), 0);
    T_EQ(schd_tflag_init(&g_flag, &loop), 0);
    T_EQ(schd_task_start(&flag_task, &loop, flag_waiter, NULL), 0);
    for (k = 0; k < NTIMERS; k++) schd_timer_init(&timers[k].t, on_timer, &timers[k]);
    for (k = 0; k < 2; k++) T_EQ(pthread_create(&th[k], NULL, poster, NULL), 0);
    end = now_s() + seconds;
    next_round = now_s();
    while (now_s() < end) {
        rounds++;
        churn_timers();
        churn_tasks();
        if (schd_soon(&loop, on_soon, NULL) == 0) soon_queued++;
        /* at most 4000 rounds a second: the loop waits in between */
        next_round += 0.00025;
        do schd_loop_run_once(&loop, SCHD_MS(1)); while (now_s() < next_round);
    }
    /* stop the other threads, then everything must come out even */
    __atomic_store_n(&threads_stop, 1, __ATOMIC_RELEASE);
    for (k = 0; k < 2; k++) pthread_join(th[k], NULL);
    for (k = 0; k < NTIMERS; k++) { schd_timer_stop(&timers[k].t, &loop); timers[k].armed = 0; }
    flag_stop = 1;
    schd_tflag_set(&g_flag);   /* the last set must wake the waiter */
    give_up = now_s() + 20;
    while (now_s() < give_up &&
           (__atomic_load_n(&post_ran, __ATOMIC_RELAXED) != posted || dones != starts || soon_ran != soon_queued ||
            async_seen != async_sent || !flag_task_done))
        schd_loop_run_once(&loop, SCHD_MS(5));
    while (schd_queue_try_get(&g_q, &v) == 0) { left++; sum_got += v; }
    printf("%d rounds in %.0f s: %ld timer ops, %ld fires; %ld tasks (%ld cancelled, %ld ended cancelled), "
           "%ld semaphore timeouts; queue: %ld put, %ld got, %ld left\n", rounds, seconds, timer_ops, timer_fires,
           starts, cancels, cancelled_results, sem_timeouts, items_put, items_got, left);
    printf("threads: %ld posts, %ld ran; %ld async sends, %ld calls; %ld flag sets, %ld wakes; %ld soon\n",
           posted, post_ran, async_sent, async_calls, flag_sets, flag_wakes, soon_ran);
    T_EQ(errors, 0);
    T_EQ(dones, starts);
    T_EQ(post_ran, posted);
    T_EQ(async_seen, async_sent);
    T_CHECK(async_calls >= 1 && async_calls <= async_sent);
    T_CHECK(flag_task_done);
    T_CHECK(flag_wakes >= 1 && flag_wakes <= flag_sets + 1);
    T_EQ(soon_ran, soon_queued);
    T_EQ(items_put, items_got + left);
    T_EQ(sum_put, sum_got);
    T_EQ(lock_holders, 0);
    T_EQ(sem_out, 0);
    T_EQ(schd_sem_value(&g_sem), SEM_UNITS);
    T_CHECK(timer_fires > 0 && cancels > 0 && cancelled_results > 0 && items_got > 0 && sem_timeouts >= 0);
    schd_async_close(&g_async);
    schd_tflag_close(&g_flag);
    T_EQ(schd_loop_close(&loop), 0);
}

int main(void)
{
    const char *e;
    unsigned long long seed = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 20);
    if ((e = getenv("SCHED_CHURN_SECONDS")) != NULL && atof(e) > 0) seconds = atof(e);
    if ((e = getenv("T_SEED")) != NULL) seed = strtoull(e, NULL, 0);
    if ((e = getenv("SCHED_CHURN_SEED")) != NULL) seed = strtoull(e, NULL, 0);
    printf("seed %llu (rerun with T_SEED=%llu)\n", seed, seed);
    rng = seed ? seed : 1;
    t_suite("sched_churn");
    T_RUN(test_churn_adds_up);
    return t_done();
}
