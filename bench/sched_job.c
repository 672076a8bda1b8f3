/* sched_job - a 1 kHz job for SECONDS: how late each run comes and how far
 * the last run is from where a perfect clock would put it.
 *
 *   sched_job SECONDS
 *
 * Lateness of a run is the CLOCK_MONOTONIC time at the callback minus the
 * due time of the period it serves (anchor + k periods; a run that skipped
 * periods serves the oldest one it replaces).  Drift is the time of the last
 * run minus (anchor + N periods) with N the period of the last run: with no
 * cumulative drift it stays as small as one lateness, and the mean time per
 * period between the first and the last run is the period.  Output:
 * key=value.
 * bench/uv_job.c is the libuv counterpart.
 */
#define SCHD_IMPLEMENTATION
#include "sched.h"

#include <stdio.h>
#include <stdlib.h>

#define PERIOD_NS 1000000

static schd_loop loop;
static schd_job job;
static int64_t *late_ns;
static size_t runs, cap, off_grid;
static int64_t last_run_ns, last_due_ns, first_run_ns, first_due_ns;

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

static void on_tick(schd_job *j, void *ud)
{
    int64_t now = clock_ns();
    /* the job noted how late the loop came for the period it serves */
    int64_t due = schd_loop_now(&loop) - j->late_last;
    (void)ud;
    if (runs < cap) late_ns[runs] = now - due;
    if ((due - job.anchor) % PERIOD_NS != 0) off_grid++;   /* the schedule slid */
    fit_add((double)((due - job.anchor) / PERIOD_NS), (double)(now - job.anchor));
    if (runs == 0) {
        first_run_ns = now;
        first_due_ns = due;
    }
    runs++;
    last_run_ns = now;
    last_due_ns = due;
}

static void on_time_up(schd_timer *t, void *ud)
{
    (void)t;
    (void)ud;
    schd_job_stop(&job);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    double seconds = argc == 2 ? atof(argv[1]) : 0;
    schd_timer stop;
    size_t n;
    int64_t k_first, k_last;
    int rc;
    if (seconds <= 0 || seconds > 3600) {
        fprintf(stderr, "usage: %s SECONDS\n", argv[0]);
        return 2;
    }
    cap = (size_t)(seconds * 1000) + 16;
    late_ns = (int64_t *)malloc(cap * sizeof *late_ns);
    if (!late_ns || (rc = schd_loop_init(&loop)) < 0) {
        fprintf(stderr, "sched_job: cannot start\n");
        return 1;
    }
    schd_job_start(&job, &loop, schd_hz(1000), on_tick, NULL);
    schd_timer_init(&stop, on_time_up, NULL);
    schd_timer_start(&stop, &loop, (int64_t)(seconds * 1e9), 0);
    schd_loop_run(&loop);

    n = runs < cap ? runs : cap;
    if (n == 0) {
        fprintf(stderr, "sched_job: the job never ran\n");
        return 1;
    }
    qsort(late_ns, n, sizeof *late_ns, cmp_i64);
    k_first = (first_due_ns - job.anchor) / PERIOD_NS;
    k_last = (last_due_ns - job.anchor) / PERIOD_NS;
    printf("runs=%zu\nperiods=%lld\nskipped=%llu\n", runs, (long long)k_last,
           (unsigned long long)job.overruns);
    /* the due time the job set itself is the ideal one: both rows agree */
    printf("late_p50_us=%.1f\nlate_p99_us=%.1f\nlate_max_us=%.1f\n", late_ns[(n - 1) / 2] / 1e3,
           late_ns[(n - 1) * 99 / 100] / 1e3, late_ns[n - 1] / 1e3);
    printf("late_own_p50_us=%.1f\nlate_own_p99_us=%.1f\nlate_own_max_us=%.1f\n",
           late_ns[(n - 1) / 2] / 1e3, late_ns[(n - 1) * 99 / 100] / 1e3, late_ns[n - 1] / 1e3);
    printf("off_grid=%zu\n", off_grid);
    printf("drift_us=%.1f\n", (last_run_ns - (job.anchor + k_last * PERIOD_NS)) / 1e3);
    printf("mean_period_ns=%.1f\n",
           k_last > k_first ? (double)(last_run_ns - first_run_ns) / (double)(k_last - k_first) : 0.0);
    printf("fit_period_ns=%.1f\n", fit_m2 > 0 ? fit_c / fit_m2 : 0.0);
    schd_loop_close(&loop);
    free(late_ns);
    return 0;
}
