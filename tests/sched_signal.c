/* tests/sched_signal.c - signals through the loop (schd_signal): every
 * delivery from dispatch, several watchers per signal, the thread's mask
 * as it was once the last watcher stops, and what happens to a signal
 * that arrives before the loop runs.  The signals are real (kill, sigqueue,
 * a child's exit); each test waits with a bound, never a sleep. */
#define SCHD_IMPLEMENTATION
#include "sched.h"
#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/wait.h>

typedef struct seen {
    int calls, signo, code, pid, status, value;
    int values[8];
} seen;

static void on_signal(schd_signal *sig, const schd_siginfo *info, void *ud)
{
    seen *s = (seen *)ud;
    (void)sig;
    if (s->calls < 8) s->values[s->calls] = info->value;
    s->calls++;
    s->signo = info->signo;
    s->code = info->code;
    s->pid = info->pid;
    s->status = info->status;
    s->value = info->value;
}

/* Runs the loop until *calls reaches want, for at most 10 s. */
static void run_until(schd_loop *loop, const int *calls, int want)
{
    int64_t give_up = schd_now_ns() + SCHD_SEC(10);
    while (*calls < want && schd_now_ns() < give_up) schd_loop_run_once(loop, SCHD_MS(50));
}

/* A few more iterations that must change nothing. */
static void run_a_little(schd_loop *loop)
{
    int i;
    for (i = 0; i < 5; i++) schd_loop_run_once(loop, SCHD_MS(2));
}

static int blocked(int signo)
{
    sigset_t now;
    sigprocmask(SIG_SETMASK, NULL, &now);
    return sigismember(&now, signo);
}

static int pending(int signo)
{
    sigset_t p;
    sigemptyset(&p);
    sigpending(&p);
    return sigismember(&p, signo);
}

static void test_signal_reaches_its_watcher_from_dispatch(void)
{
    schd_loop loop; schd_signal w; seen s = {0};
    T_REQUIRE(schd_loop_init(&loop) == 0);
    schd_signal_init(&w, on_signal, &s);
    T_EQ(schd_signal_start(&w, &loop, SIGUSR1), 0);
    T_CHECK(schd_signal_active(&w));
    T_EQ(kill(getpid(), SIGUSR1), 0);
    T_EQ(s.calls, 0);                     /* never inside the call that raised it */
    run_until(&loop, &s.calls, 1);
    T_EQ(s.calls, 1);
    T_EQ(s.signo, SIGUSR1);
    T_EQ(s.code, SI_USER);
    T_EQ(s.pid, getpid());
    run_a_little(&loop);
    T_EQ(s.calls, 1);
    T_EQ(schd_signal_stop(&w, &loop), 0);
    T_CHECK(!schd_signal_active(&w));
    schd_loop_close(&loop);
}

static void test_every_watcher_of_a_signal_is_called_once(void)
{
    schd_loop loop; schd_signal w[4]; seen s[4]; int i;
    memset(s, 0, sizeof s);
    T_REQUIRE(schd_loop_init(&loop) == 0);
    for (i = 0; i < 4; i++) {
        schd_signal_init(&w[i], on_signal, &s[i]);
        T_EQ(schd_signal_start(&w[i], &loop, i < 3 ? SIGUSR2 : SIGUSR1), 0);
    }
    T_EQ(kill(getpid(), SIGUSR2), 0);
    run_until(&loop, &s[2].calls, 1);
    run_a_little(&loop);
    for (i = 0; i < 3; i++) T_EQ(s[i].calls, 1);
    T_EQ(s[3].calls, 0);
    schd_loop_close(&loop);
    for (i = 0; i < 4; i++) T_CHECK(!schd_signal_active(&w[i]));
}

/* The mask the thread had: a signal it did not block is unblocked again
 * after its last watcher, one it blocked itself stays blocked. */
static void test_last_watcher_restores_the_mask(void)
{
    schd_loop loop; schd_signal a, b, c; seen s = {0};
    sigset_t before, after, one;
    sigemptyset(&one);
    sigaddset(&one, SIGUSR1);
    sigprocmask(SIG_BLOCK, &one, NULL);   /* the program's own choice */
    sigprocmask(SIG_SETMASK, NULL, &before);
    T_CHECK(!blocked(SIGHUP));
    T_REQUIRE(schd_loop_init(&loop) == 0);
    schd_signal_init(&a, on_signal, &s);
    schd_signal_init(&b, on_signal, &s);
    schd_signal_init(&c, on_signal, &s);
    T_EQ(schd_signal_start(&a, &loop, SIGHUP), 0);
    T_EQ(schd_signal_start(&b, &loop, SIGHUP), 0);
    T_EQ(schd_signal_start(&c, &loop, SIGUSR1), 0);
    T_CHECK(blocked(SIGHUP));
    T_EQ(schd_signal_stop(&a, &loop), 0);
    T_CHECK(blocked(SIGHUP));             /* b still watches it */
    T_EQ(schd_signal_stop(&b, &loop), 0);
    T_CHECK(!blocked(SIGHUP));
    T_EQ(schd_signal_stop(&c, &loop), 0);
    T_CHECK(blocked(SIGUSR1));            /* blocked before the watcher: stays so */
    sigprocmask(SIG_SETMASK, NULL, &after);
    T_CHECK(sigismember(&after, SIGHUP) == sigismember(&before, SIGHUP));
    T_CHECK(sigismember(&after, SIGUSR1) == sigismember(&before, SIGUSR1));
    T_CHECK(sigismember(&after, SIGTERM) == sigismember(&before, SIGTERM));
    schd_loop_close(&loop);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
}

static void test_loop_close_restores_the_mask(void)
{
    schd_loop loop; schd_signal a, b; seen s = {0};
    T_REQUIRE(schd_loop_init(&loop) == 0);
    schd_signal_init(&a, on_signal, &s);
    schd_signal_init(&b, on_signal, &s);
    T_EQ(schd_signal_start(&a, &loop, SIGTERM), 0);
    T_EQ(schd_signal_start(&b, &loop, SIGWINCH), 0);
    T_CHECK(blocked(SIGTERM) && blocked(SIGWINCH));
    T_EQ(schd_loop_close(&loop), 0);
    T_CHECK(!blocked(SIGTERM) && !blocked(SIGWINCH));
    T_CHECK(!schd_signal_active(&a) && !schd_signal_active(&b));
}

/* Before the loop runs: a signal that arrives after its watcher started
 * waits, blocked, and comes with the first dispatch. */
static void test_signal_before_the_first_run_waits_for_it(void)
{
    schd_loop loop; schd_signal w; seen s = {0};
    T_REQUIRE(schd_loop_init(&loop) == 0);
    schd_signal_init(&w, on_signal, &s);
    T_EQ(schd_signal_start(&w, &loop, SIGTERM), 0);
    T_EQ(kill(getpid(), SIGTERM), 0);     /* would end the process if it were not blocked */
    T_CHECK(pending(SIGTERM));
    T_EQ(s.calls, 0);
    T_EQ(schd_loop_run_once(&loop, 0), 1);
    T_EQ(s.calls, 1);
    T_CHECK(!pending(SIGTERM));
    schd_loop_close(&loop);
}

/* A signal the program had blocked and that was already pending when the
 * watcher started comes with the first dispatch too. */
static void test_signal_pending_before_the_watcher_comes_first(void)
{
    schd_loop loop; schd_signal w; seen s = {0};
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGUSR2);
    sigprocmask(SIG_BLOCK, &one, NULL);
    T_EQ(kill(getpid(), SIGUSR2), 0);
    T_REQUIRE(schd_loop_init(&loop) == 0);
    schd_signal_init(&w, on_signal, &s);
    T_EQ(schd_signal_start(&w, &loop, SIGUSR2), 0);
    T_EQ(schd_loop_run_once(&loop, 0), 1);
    T_EQ(s.calls, 1);
    T_EQ(s.signo, SIGUSR2);
    schd_loop_close(&loop);
    T_CHECK(blocked(SIGUSR2));            /* the program blocked it: it stays so */
    sigprocmask(SIG_UNBLOCK, &one, NULL);
}

/* One that arrived before any watcher, unblocked, met its disposition: a
 * SIGWINCH (ignored by default) is gone for good. */
static void test_signal_before_any_watcher_meets_its_disposition(void)
{
    schd_loop loop; schd_signal w; seen s = {0};
    T_CHECK(!blocked(SIGWINCH));
    T_EQ(kill(getpid(), SIGWINCH), 0);
    T_REQUIRE(schd_loop_init(&loop) == 0);
    schd_signal_init(&w, on_signal, &s);
    T_EQ(schd_signal_start(&w, &loop, SIGWINCH), 0);
    run_a_little(&loop);
    T_EQ(s.calls, 0);
    schd_loop_close(&loop);
}

/* Stopped before the loop read it: the signal is taken, not turned into
 * the default action (SIGUSR1 would end the process) when the mask is
 * restored. */
static void test_signal_unread_at_the_last_stop_is_dropped(void)
{
    schd_loop loop; schd_signal w; seen s = {0};
    T_REQUIRE(schd_loop_init(&loop) == 0);
    schd_signal_init(&w, on_signal, &s);
    T_EQ(schd_signal_start(&w, &loop, SIGUSR1), 0);
    T_EQ(kill(getpid(), SIGUSR1), 0);
    T_EQ(schd_signal_stop(&w, &loop), 0);
    T_CHECK(!blocked(SIGUSR1));
    T_CHECK(!pending(SIGUSR1));
    run_a_little(&loop);
    T_EQ(s.calls, 0);
    schd_loop_close(&loop);
}

/* Standard signals do not queue: two before a dispatch are one call.
 * Real-time signals queue: each is a call, in order, with its value. */
static void test_standard_signals_merge_realtime_ones_queue(void)
{
    schd_loop loop; schd_signal a, b; seen sa = {0}, sb = {0};
    union sigval v;
    int i;
    T_REQUIRE(schd_loop_init(&loop) == 0);
    schd_signal_init(&a, on_signal, &sa);
    schd_signal_init(&b, on_signal, &sb);
    T_EQ(schd_signal_start(&a, &loop, SIGUSR1), 0);
    T_EQ(schd_signal_start(&b, &loop, SIGRTMIN + 1), 0);
    T_EQ(kill(getpid(), SIGUSR1), 0);
    T_EQ(kill(getpid(), SIGUSR1), 0);
    for (i = 1; i <= 3; i++) {
        v.sival_int = i * 10;
        T_EQ(sigqueue(getpid(), SIGRTMIN + 1, v), 0);
    }
    run_until(&loop, &sb.calls, 3);
    run_a_little(&loop);
    T_EQ(sa.calls, 1);
    T_EQ(sb.calls, 3);
    T_EQ(sb.code, SI_QUEUE);
    T_EQ(sb.values[0], 10);
    T_EQ(sb.values[1], 20);
    T_EQ(sb.values[2], 30);
    schd_loop_close(&loop);
}

/* ---- callbacks that change the watchers ---- */

static schd_loop *cb_loop;
static schd_signal cb_w[3];
static int cb_calls[3];

static void on_stop_the_others(schd_signal *sig, const schd_siginfo *info, void *ud)
{
    int i, me = (int)(intptr_t)ud;
    (void)info;
    cb_calls[me]++;
    for (i = 0; i < 3; i++)
        if (&cb_w[i] != sig) schd_signal_stop(&cb_w[i], cb_loop);
}

static void test_a_callback_may_stop_the_other_watchers(void)
{
    schd_loop loop; int i;
    cb_loop = &loop;
    memset(cb_calls, 0, sizeof cb_calls);
    T_REQUIRE(schd_loop_init(&loop) == 0);
    for (i = 0; i < 3; i++) {
        schd_signal_init(&cb_w[i], on_stop_the_others, (void *)(intptr_t)i);
        T_EQ(schd_signal_start(&cb_w[i], &loop, SIGUSR1), 0);
    }
    T_EQ(kill(getpid(), SIGUSR1), 0);
    for (i = 0; i < 200 && cb_calls[0] + cb_calls[1] + cb_calls[2] == 0; i++) schd_loop_run_once(&loop, SCHD_MS(50));
    run_a_little(&loop);
    T_EQ(cb_calls[0] + cb_calls[1] + cb_calls[2], 1);   /* the first one called stopped the rest */
    T_EQ(schd_signal_active(&cb_w[0]) + schd_signal_active(&cb_w[1]) + schd_signal_active(&cb_w[2]), 1);
    T_CHECK(blocked(SIGUSR1));
    schd_loop_close(&loop);
    T_CHECK(!blocked(SIGUSR1));
}

static void on_stop_self(schd_signal *sig, const schd_siginfo *info, void *ud)
{
    (void)info;
    ((seen *)ud)->calls++;
    schd_signal_stop(sig, cb_loop);
}

/* The last watcher stopping itself ends the loop's run: it kept it alive. */
static void test_a_watcher_keeps_the_loop_running(void)
{
    schd_loop loop; schd_signal w; seen s = {0};
    pid_t child;
    cb_loop = &loop;
    T_REQUIRE(schd_loop_init(&loop) == 0);
    T_EQ(schd_loop_alive(&loop), 0);
    schd_signal_init(&w, on_stop_self, &s);
    T_EQ(schd_signal_start(&w, &loop, SIGUSR2), 0);
    T_EQ(schd_loop_alive(&loop), 1);
    child = fork();
    T_REQUIRE(child >= 0);
    if (child == 0) {   /* the signal comes from another process, a little later */
        usleep(20000);
        kill(getppid(), SIGUSR2);
        _exit(0);
    }
    T_EQ(schd_loop_run(&loop), 0);        /* returns once the watcher stopped */
    T_EQ(s.calls, 1);
    T_EQ(schd_loop_alive(&loop), 0);
    waitpid(child, NULL, 0);
    schd_loop_close(&loop);
}

static void test_a_watcher_moves_to_another_signal(void)
{
    schd_loop loop; schd_signal w; seen s = {0};
    T_REQUIRE(schd_loop_init(&loop) == 0);
    schd_signal_init(&w, on_signal, &s);
    T_EQ(schd_signal_start(&w, &loop, SIGUSR1), 0);
    T_EQ(schd_signal_start(&w, &loop, SIGUSR2), 0);
    T_CHECK(!blocked(SIGUSR1));
    T_CHECK(blocked(SIGUSR2));
    T_EQ(kill(getpid(), SIGUSR2), 0);
    run_until(&loop, &s.calls, 1);
    T_EQ(s.signo, SIGUSR2);
    schd_loop_close(&loop);
}

/* SIGCHLD tells which child ended and how; the program still reaps it. */
static void test_sigchld_names_the_child_and_its_status(void)
{
    schd_loop loop; schd_signal w; seen s = {0};
    pid_t child;
    int st = 0;
    T_REQUIRE(schd_loop_init(&loop) == 0);
    schd_signal_init(&w, on_signal, &s);
    T_EQ(schd_signal_start(&w, &loop, SIGCHLD), 0);
    child = fork();
    T_REQUIRE(child >= 0);
    if (child == 0) _exit(7);
    run_until(&loop, &s.calls, 1);
    T_EQ(s.calls, 1);
    T_EQ(s.pid, child);
    T_EQ(s.code, CLD_EXITED);
    T_EQ(s.status, 7);
    T_EQ(waitpid(child, &st, 0), child);
    T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7);
    schd_loop_close(&loop);
}

static void test_bad_signals_and_arguments_are_refused(void)
{
    schd_loop loop, other; schd_signal w, z; seen s = {0};
    static const int bad[] = {0, -1, SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, 1000};
    unsigned i;
    T_REQUIRE(schd_loop_init(&loop) == 0 && schd_loop_init(&other) == 0);
    schd_signal_init(&w, on_signal, &s);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) T_EQ(schd_signal_start(&w, &loop, bad[i]), -EINVAL);
    T_CHECK(!schd_signal_active(&w));
    T_EQ(schd_signal_start(NULL, &loop, SIGINT), -EINVAL);
    T_EQ(schd_signal_start(&w, NULL, SIGINT), -EINVAL);
    memset(&z, 0, sizeof z);              /* never initialised */
    T_EQ(schd_signal_start(&z, &loop, SIGINT), -EINVAL);
    T_EQ(schd_signal_start(&w, &loop, SIGINT), 0);
    T_EQ(schd_signal_start(&w, &other, SIGINT), -EINVAL);   /* started on another loop */
    T_EQ(schd_signal_stop(&w, &other), -EINVAL);
    T_EQ(schd_signal_stop(&z, &loop), 0);                   /* not started: nothing to do */
    T_EQ(schd_signal_stop(&w, &loop), 0);
    T_EQ(schd_signal_stop(&w, &loop), 0);
    schd_loop_close(&other);
    schd_loop_close(&loop);
    /* a closed loop has no allocator: refused, not a call through NULL */
    T_EQ(schd_signal_start(&w, &loop, SIGINT), -EINVAL);
    T_CHECK(!schd_signal_active(&w));
}

/* A second loop of the thread may watch other signals at the same time. */
static void test_two_loops_watch_different_signals(void)
{
    schd_loop a, b; schd_signal wa, wb; seen sa = {0}, sb = {0};
    T_REQUIRE(schd_loop_init(&a) == 0 && schd_loop_init(&b) == 0);
    schd_signal_init(&wa, on_signal, &sa);
    schd_signal_init(&wb, on_signal, &sb);
    T_EQ(schd_signal_start(&wa, &a, SIGUSR1), 0);
    T_EQ(schd_signal_start(&wb, &b, SIGUSR2), 0);
    T_EQ(kill(getpid(), SIGUSR2), 0);
    T_EQ(kill(getpid(), SIGUSR1), 0);
    run_until(&a, &sa.calls, 1);
    run_until(&b, &sb.calls, 1);
    T_EQ(sa.signo, SIGUSR1);
    T_EQ(sb.signo, SIGUSR2);
    schd_loop_close(&a);
    T_CHECK(!blocked(SIGUSR1) && blocked(SIGUSR2));
    schd_loop_close(&b);
    T_CHECK(!blocked(SIGUSR2));
}

int main(void)
{
    t_suite("sched_signal");
    T_RUN(test_signal_reaches_its_watcher_from_dispatch);
    T_RUN(test_every_watcher_of_a_signal_is_called_once);
    T_RUN(test_last_watcher_restores_the_mask);
    T_RUN(test_loop_close_restores_the_mask);
    T_RUN(test_signal_before_the_first_run_waits_for_it);
    T_RUN(test_signal_pending_before_the_watcher_comes_first);
    T_RUN(test_signal_before_any_watcher_meets_its_disposition);
    T_RUN(test_signal_unread_at_the_last_stop_is_dropped);
    T_RUN(test_standard_signals_merge_realtime_ones_queue);
    T_RUN(test_a_callback_may_stop_the_other_watchers);
    T_RUN(test_a_watcher_keeps_the_loop_running);
    T_RUN(test_a_watcher_moves_to_another_signal);
    T_RUN(test_sigchld_names_the_child_and_its_status);
    T_RUN(test_bad_signals_and_arguments_are_refused);
    T_RUN(test_two_loops_watch_different_signals);
    return t_done();
}
