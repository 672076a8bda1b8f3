/* sched_min - the smallest useful sched.h program: one timer that fires
 * once; the loop runs until nothing is left.  bench/parts/sched.sh builds it
 * with -Os and --gc-sections and counts the text it adds to
 * bench/sched_empty.c.  bench/uv_min.c is the libuv counterpart. */
#define SCHD_IMPLEMENTATION
#include "sched.h"

static int fired;

static void on_timer(schd_timer *t, void *ud)
{
    (void)t;
    (void)ud;
    fired = 1;
}

int main(void)
{
    schd_loop loop;
    schd_timer t;
    if (schd_loop_init(&loop) < 0) return 1;
    schd_timer_init(&t, on_timer, NULL);
    schd_timer_start(&t, &loop, SCHD_MS(1), 0);
    schd_loop_run(&loop);
    schd_loop_close(&loop);
    return fired ? 0 : 1;
}
