/* Fault injection for sched.h: every allocation and system call the loop
 * makes goes through a hook here that can fail the n-th call.  A scenario
 * with timers, watchers, deferred calls, posts and tasks runs once to count
 * the calls, then once per call site with that call failing.  Each run
 * must end cleanly: every operation either refused at once with an error or
 * completed exactly once, and (under the sanitizers and valgrind) no leak. */
#define _GNU_SOURCE
#include <stddef.h>
#include <errno.h>
#include <poll.h>

static long fi_calls, fi_fail_at = -1;
static int fi_should_fail(void) { return ++fi_calls == fi_fail_at; }

void *fi_malloc(size_t n);
void *fi_realloc(void *p, size_t n);
int fi_eventfd(unsigned v, int flags);
int fi_poll(struct pollfd *fds, unsigned long n, int ms);
struct epoll_event;
int fi_epoll_create1(int flags);
int fi_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
int fi_epoll_wait(int epfd, struct epoll_event *ev, int n, int ms);

#define SCHD_MALLOC(n) fi_malloc(n)
#define SCHD_REALLOC(p, n) fi_realloc((p), (n))
#define SCHD_FREE(p) free(p)
#define AKC_SYS_EVENTFD(v, f) fi_eventfd((v), (f))
#define AKC_SYS_PPOLL(fds, n, ts, sig) ((void)(ts), (void)(sig), fi_poll((fds), (n), 0))
#define AKC_SYS_EPOLL_CREATE1(f) fi_epoll_create1(f)
#define AKC_SYS_EPOLL_CTL(e, op, fd, ev) fi_epoll_ctl((e), (op), (fd), (ev))
#define AKC_SYS_EPOLL_WAIT(e, ev, n, ms) ((void)(ms), fi_epoll_wait((e), (ev), (n), 0))
#define AKC_NO_PWAIT2 1
#define SCHD_IMPLEMENTATION
#include "sched.h"
#include "harness.h"
#include <unistd.h>

void *fi_malloc(size_t n) { return fi_should_fail() ? NULL : malloc(n); }
void *fi_realloc(void *p, size_t n) { return fi_should_fail() ? NULL : realloc(p, n); }
int fi_eventfd(unsigned v, int flags) { if (fi_should_fail()) { errno = EMFILE; return -1; } return eventfd(v, flags); }
#if !defined(ASYNCKIT_POLL)
#include <sys/epoll.h>
int fi_epoll_create1(int flags) { if (fi_should_fail()) { errno = EMFILE; return -1; } return epoll_create1(flags); }
int fi_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    if (fi_should_fail()) { errno = ENOMEM; return -1; }
    return epoll_ctl(epfd, op, fd, ev);
}
int fi_epoll_wait(int epfd, struct epoll_event *ev, int n, int ms)
{
    if (fi_should_fail()) { errno = ENOMEM; return -1; }
    return epoll_wait(epfd, ev, n, ms);
}
#endif
int fi_poll(struct pollfd *fds, unsigned long n, int ms)
{
    if (fi_should_fail()) { errno = ENOMEM; return -1; }
    return poll(fds, (nfds_t)n, ms);
}

static int started, completed, twice;
static char seen[4096];
static void mark(int id) { if (seen[id]++) twice++; completed++; }

static void on_timer(schd_timer *t, void *ud) { (void)t; mark((int)(intptr_t)ud); }
static void on_soon(void *ud) { mark((int)(intptr_t)ud); }
static void on_io(schd_io *io, int re, void *ud) { char c; (void)re; if (read(io->core.fd, &c, 1) == 1) mark((int)(intptr_t)ud); }

struct worker { schd_task task; schd_lock *lock; schd_queue *q; int id, item; };
static int work(schd_task *t)
{
    struct worker *w = SCHD_CONTAINER_OF(t, struct worker, task);
    SCHD_TASK_BEGIN(t);
    SCHD_AWAIT_LOCK(t, w->lock);
    SCHD_AWAIT_DELAY(t, 0);
    schd_lock_release(w->lock);
    w->item = w->id;
    SCHD_AWAIT_PUT(t, w->q, &w->item);
    SCHD_TASK_END(t);
}
static void on_task_done(schd_task *t, int result, void *ud) { (void)t; (void)result; mark((int)(intptr_t)ud); }

/* Runs the scenario; returns 0 when it ended cleanly. */
static int scenario(void)
{
    static schd_timer timers[200];
    static schd_io ios[8];
    static struct worker workers[8];
    int pipes[8][2], i, rc, id = 1, qstore[8];
    schd_loop loop;
    schd_lock lock;
    schd_queue q;
    started = completed = twice = 0;
    memset(seen, 0, sizeof seen);
    if (schd_loop_init(&loop) != 0) return 0;          /* refused at once: fine */
    schd_lock_init(&lock);
    schd_queue_init(&q, qstore, sizeof(int), 8, SCHD_QUEUE_BLOCK);
    for (i = 0; i < 200; i++, id++) {
        schd_timer_init(&timers[i], on_timer, (void *)(intptr_t)id);
        if (schd_timer_start(&timers[i], &loop, SCHD_US(i % 7), 0) == 0) started++;
    }
    for (i = 0; i < 8; i++, id++) {
        if (pipe(pipes[i]) != 0) return 1;
        schd_io_init(&ios[i], pipes[i][0], on_io, (void *)(intptr_t)id);
        if (schd_io_start(&ios[i], &loop, SCHD_READ) == 0) {
            started++;
            if (write(pipes[i][1], "x", 1) != 1) return 1;
        }
    }
    for (i = 0; i < 40; i++, id++) if (schd_soon(&loop, on_soon, (void *)(intptr_t)id) == 0) started++;
    for (i = 0; i < 10; i++, id++) if (schd_loop_post(&loop, on_soon, (void *)(intptr_t)id) == 0) started++;
    memset(workers, 0, sizeof workers);
    for (i = 0; i < 8; i++, id++) {
        workers[i].lock = &lock; workers[i].q = &q; workers[i].id = id;
        schd_task_on_done(&workers[i].task, on_task_done, (void *)(intptr_t)id);
        if (schd_task_start(&workers[i].task, &loop, work, NULL) == 0) started++;
    }
    for (i = 0; i < 200 && completed < started; i++) {
        int j;
        rc = schd_loop_run_once(&loop, SCHD_MS(10));
        if (rc < 0 && rc != -ENOMEM) return 2;            /* poll errors say ENOMEM here */
        for (j = 0; j < 8; j++) if (schd_io_active(&ios[j]) && seen[201 + j]) schd_io_stop(&ios[j], &loop);
    }
    for (i = 0; i < 8; i++) { schd_io_stop(&ios[i], &loop); close(pipes[i][0]); close(pipes[i][1]); }
    schd_loop_close(&loop);
    if (twice) return 3;
    return completed == started ? 0 : 4;
}

static void test_scenario_runs_clean_without_faults(void)
{
    fi_fail_at = -1; fi_calls = 0;
    T_EQ(scenario(), 0);
    T_CHECK(started > 250);
    T_CHECK(fi_calls > 10);
}

static void test_every_failing_call_site_is_handled(void)
{
    long total, n;
    fi_fail_at = -1; fi_calls = 0;
    scenario();
    total = fi_calls;
    for (n = 1; n <= total; n++) {
        int rc;
        fi_fail_at = n; fi_calls = 0;
        rc = scenario();
        if (rc != 0) T_FAILF("failing call %ld of %ld: scenario ended with %d (started %d, completed %d, twice %d)",
                             n, total, rc, started, completed, twice);
    }
    printf("# sched fault sweep: %ld call sites failed in turn\n", total);
}

int main(void)
{
    t_suite("sched_fault");
    T_RUN(test_scenario_runs_clean_without_faults);
    T_RUN(test_every_failing_call_site_is_handled);
    return t_done();
}
