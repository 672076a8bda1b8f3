/* bench/loop_iter_event.c - bench/loop_iter.c on libevent: N idle read
 * events and a timer of zero that is added again at every iteration (an
 * event made active by hand would skip the wait altogether).
 *
 *   cc -O2 -o build/bench/loop_iter_event bench/loop_iter_event.c -levent
 *
 * Usage: loop_iter_event N ITERATIONS   (prints ns per iteration)
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void on_read(evutil_socket_t fd, short what, void *ud) { (void)fd; (void)what; (void)ud; }
static long left;
static struct event *kick;
static const struct timeval zero = {0, 0};
static void on_kick(evutil_socket_t fd, short what, void *ud)
{
    (void)fd; (void)what; (void)ud;
    if (--left > 0) event_add(kick, &zero);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double run(struct event_base *base, long iters)
{
    double t0, t1;
    left = iters;
    event_add(kick, &zero);
    t0 = now_ns();
    while (left > 0) event_base_loop(base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
    t1 = now_ns();
    return (t1 - t0) / (double)iters;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10, i;
    long iters = argc > 2 ? atol(argv[2]) : 200000;
    struct event_base *base = event_base_new();
    int *fds = calloc((size_t)n + 1, sizeof *fds);
    for (i = 0; i < n; i++) {
        if (i % 2 == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, &fds[i]) < 0) { perror("socketpair"); return 1; }
        event_add(event_new(base, fds[i], EV_READ | EV_PERSIST, on_read, NULL), NULL);
    }
    kick = evtimer_new(base, on_kick, NULL);
    run(base, 1000);
    printf("%.1f\n", run(base, iters));
    return 0;
}
