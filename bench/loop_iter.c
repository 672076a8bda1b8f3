/* bench/loop_iter.c - the cost of one loop iteration with N idle
 * descriptors registered (N/2 socket pairs, both ends watched) (each watched for input that never comes) and a
 * deferred call that keeps the loop busy, on sched.h.  With epoll the cost
 * should not grow with N; with poll it does.
 *
 *   cc -std=c99 -O2 -I. -o build/bench/loop_iter bench/loop_iter.c
 *   cc -std=c99 -O2 -I. -DASYNCKIT_POLL -o build/bench/loop_iter_poll bench/loop_iter.c
 *
 * Usage: loop_iter N ITERATIONS   (prints ns per iteration)
 */
#define SCHD_IMPLEMENTATION
#include "sched.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_io(schd_io *io, int revents, void *ud) { (void)io; (void)revents; (void)ud; }

static long left;
static schd_loop loop;
static void again(void *ud)
{
    (void)ud;
    if (--left > 0) schd_soon(&loop, again, NULL);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10, i;
    long iters = argc > 2 ? atol(argv[2]) : 200000;
    schd_io *ios = (schd_io *)calloc((size_t)n, sizeof *ios);
    int *fds = (int *)calloc((size_t)n + 1, sizeof *fds);
    int64_t t0, t1;
    if (!ios || !fds || schd_loop_init(&loop) < 0) return 1;
    for (i = 0; i < n; i++) {
        if (i % 2 == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, &fds[i]) < 0) { perror("socketpair"); return 1; }
        schd_io_init(&ios[i], fds[i], on_io, NULL);
        if (schd_io_start(&ios[i], &loop, SCHD_READ) < 0) return 1;
    }
    left = 1000;                              /* warm up */
    schd_soon(&loop, again, NULL);
    while (left > 0) schd_loop_run_once(&loop, 0);
    left = iters;
    schd_soon(&loop, again, NULL);
    t0 = schd_now_ns();
    while (left > 0) schd_loop_run_once(&loop, 0);
    t1 = schd_now_ns();
    printf("%.1f\n", (double)(t1 - t0) / (double)iters);
    for (i = 0; i < n; i++) schd_io_stop(&ios[i], &loop);
    schd_loop_close(&loop);
    for (i = 0; i < n; i++) close(fds[i]);
    free(ios);
    free(fds);
    return 0;
}
