/* uv_job - the libuv side of bench/sched_job.c: a repeating 1 ms timer
 * (uv_timer_start(t, cb, 1, 1)) for SECONDS.
 *
 *   uv_job SECONDS
 *
 * The ideal schedule is anchor + k ms, the anchor being uv_now() when the
 * timer starts and k the number of the callback.  libuv re-arms a repeating
 * timer from the loop time of the callback, so every late wake-up moves
 * the rest of the schedule: lateness against the ideal schedule grows, and
 * that growth is the drift.  late_own_* is lateness against the due time
 * libuv itself set (the previous callback's loop time + 1 ms), which shows
 * the wake-up jitter without the drift.  Output: key=value.
 */
#define _POSIX_C_SOURCE 200809L
#include <uv.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PERIOD_NS 1000000

static uv_loop_t loop;
static uv_timer_t tick, stop;
static int64_t *late_ns, *late_own_ns;
static size_t runs, cap, off_grid;
static int64_t anchor_ns, first_run_ns, last_run_ns, own_due_ns;

static int64_t clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Least-squares slope of run time against period number, online: the
 * period the schedule actually keeps, hardly moved by a few late runs. */
static double fit_n, fit_mk, fit_mt, fit_c, fit_m2;
static void fit_add(double k, double t)
{
    double dk = k - fit_mk;
    fit_n += 1;
    fit_mk += dk / fit_n;
    fit_mt += (t - fit_mt) / fit_n;
    fit_c += dk * (t - fit_mt);
    fit_m2 += dk * (k - fit_mk);
}

static void on_tick(uv_timer_t *t)
{
    int64_t now = clock_ns();
    (void)t;
    runs++;
    if (runs <= cap) {
        late_ns[runs - 1] = now - (anchor_ns + (int64_t)runs * PERIOD_NS);
        late_own_ns[runs - 1] = now - own_due_ns;
    }
    if (own_due_ns != anchor_ns + (int64_t)runs * PERIOD_NS) off_grid++;   /* the schedule slid */
    fit_add((double)runs, (double)(now - anchor_ns));
    if (runs == 1) first_run_ns = now;
    last_run_ns = now;
    own_due_ns = (int64_t)uv_now(&loop) * 1000000 + PERIOD_NS;   /* where libuv re-arms it */
}

static void on_time_up(uv_timer_t *t)
{
    (void)t;
    uv_timer_stop(&tick);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void print_stats(const char *name, int64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_i64);
    printf("%s_p50_us=%.1f\n%s_p99_us=%.1f\n%s_max_us=%.1f\n", name, v[(n - 1) / 2] / 1e3, name,
           v[(n - 1) * 99 / 100] / 1e3, name, v[n - 1] / 1e3);
}

int main(int argc, char **argv)
{
    double seconds = argc == 2 ? atof(argv[1]) : 0;
    size_t n;
    if (seconds <= 0 || seconds > 3600) {
        fprintf(stderr, "usage: %s SECONDS\n", argv[0]);
        return 2;
    }
    cap = (size_t)(seconds * 1000) + 16;
    late_ns = (int64_t *)malloc(cap * sizeof *late_ns);
    late_own_ns = (int64_t *)malloc(cap * sizeof *late_own_ns);
    if (!late_ns || !late_own_ns || uv_loop_init(&loop) != 0) {
        fprintf(stderr, "uv_job: cannot start\n");
        return 1;
    }
    uv_timer_init(&loop, &tick);
    uv_timer_init(&loop, &stop);
    uv_update_time(&loop);
    anchor_ns = (int64_t)uv_now(&loop) * 1000000;
    own_due_ns = anchor_ns + PERIOD_NS;
    uv_timer_start(&tick, on_tick, 1, 1);
    uv_timer_start(&stop, on_time_up, (uint64_t)(seconds * 1000), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_close((uv_handle_t *)&stop, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);

    n = runs < cap ? runs : cap;
    if (n == 0) {
        fprintf(stderr, "uv_job: the timer never fired\n");
        return 1;
    }
    /* periods: how many the ideal schedule holds up to the last run */
    printf("runs=%zu\nperiods=%lld\nskipped=0\n", runs, (long long)((last_run_ns - anchor_ns) / PERIOD_NS));
    print_stats("late", late_ns, n);
    print_stats("late_own", late_own_ns, n);
    printf("off_grid=%zu\n", off_grid);
    printf("drift_us=%.1f\n", (last_run_ns - (anchor_ns + (int64_t)runs * PERIOD_NS)) / 1e3);
    printf("mean_period_ns=%.1f\n", runs > 1 ? (double)(last_run_ns - first_run_ns) / (double)(runs - 1) : 0.0);
    printf("fit_period_ns=%.1f\n", fit_m2 > 0 ? fit_c / fit_m2 : 0.0);
    free(late_ns);
    free(late_own_ns);
    return 0;
}
