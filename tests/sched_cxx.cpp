// Stackless tasks compiled as C++: the await macros must be valid C++11 and
// behave as in C.  Built and run by the compile matrix.
#define SCHD_IMPLEMENTATION
#include "sched.h"
#include <cstdio>

struct worker {
    schd_task task;
    schd_event *ev;
    schd_lock *lock;
    int step;
};

static int work(schd_task *t)
{
    worker *w = SCHD_CONTAINER_OF(t, worker, task);
    SCHD_TASK_BEGIN(t);
    w->step = 1;
    SCHD_AWAIT_DELAY(t, SCHD_MS(1));
    w->step = 2;
    SCHD_AWAIT_LOCK(t, w->lock);
    w->step = 3;
    schd_task_timeout(t, SCHD_MS(2));
    SCHD_AWAIT_EVENT(t, w->ev);
    w->step = SCHD_STATUS(t) == -ETIMEDOUT ? 4 : 99;
    SCHD_TASK_FINALLY(t);
    schd_lock_release(w->lock);
    SCHD_TASK_END(t);
}

int main()
{
    schd_loop loop;
    schd_event ev;
    schd_lock lock;
    worker w = worker();
    if (schd_loop_init(&loop) != 0) return 1;
    schd_event_init(&ev);
    schd_lock_init(&lock);
    w.ev = &ev;
    w.lock = &lock;
    schd_task_start(&w.task, &loop, work, NULL);
    schd_loop_run(&loop);
    schd_loop_close(&loop);
    std::printf("step=%d locked=%d\n", w.step, schd_lock_locked(&lock));
    return w.step == 4 && !schd_lock_locked(&lock) ? 0 : 1;
}
