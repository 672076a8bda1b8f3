/* bench/loop_iter_uv.c - bench/loop_iter.c on libuv: N idle uv_poll_t
 * handles and an idle handle that keeps each iteration from waiting.
 *
 *   cc -O2 -o build/bench/loop_iter_uv bench/loop_iter_uv.c -luv
 *
 * Usage: loop_iter_uv N ITERATIONS   (prints ns per iteration)
 */
#include <uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_poll(uv_poll_t *p, int status, int events) { (void)p; (void)status; (void)events; }
static long left;
static void on_idle(uv_idle_t *h) { if (--left <= 0) uv_idle_stop(h); }

static double run(uv_loop_t *loop, uv_idle_t *idle, long iters)
{
    uint64_t t0, t1;
    left = iters;
    uv_idle_start(idle, on_idle);
    t0 = uv_hrtime();
    while (left > 0) uv_run(loop, UV_RUN_NOWAIT);
    t1 = uv_hrtime();
    return (double)(t1 - t0) / (double)iters;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10, i;
    long iters = argc > 2 ? atol(argv[2]) : 200000;
    uv_loop_t *loop = uv_default_loop();
    uv_poll_t *polls = calloc((size_t)n, sizeof *polls);
    uv_idle_t idle;
    int *fds = calloc((size_t)n + 1, sizeof *fds);
    for (i = 0; i < n; i++) {
        if (i % 2 == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, &fds[i]) < 0) { perror("socketpair"); return 1; }
        uv_poll_init(loop, &polls[i], fds[i]);
        uv_poll_start(&polls[i], UV_READABLE, on_poll);
    }
    uv_idle_init(loop, &idle);
    run(loop, &idle, 1000);
    printf("%.1f\n", run(loop, &idle, iters));
    return 0;
}
