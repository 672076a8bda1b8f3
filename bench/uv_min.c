/* uv_min - the libuv counterpart of bench/sched_min.c: one timer that fires
 * once; the loop runs until nothing is left, then everything is closed. */
#include <uv.h>

static int fired;

static void on_timer(uv_timer_t *t)
{
    (void)t;
    fired = 1;
}

int main(void)
{
    uv_loop_t loop;
    uv_timer_t t;
    if (uv_loop_init(&loop) != 0) return 1;
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, on_timer, 1, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return fired ? 0 : 1;
}
