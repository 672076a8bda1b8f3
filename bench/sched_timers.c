/* sched_timers - what a timer costs in sched.h: start, stop and fire, and
 * what one loop iteration with nothing to do costs.  bench/uv_timers.c does
 * the same for libuv with the same deadlines, in the same order.
 *
 *   sched_timers timers N [REPS]   ns per start, stop and fire (best of REPS)
 *   sched_timers loop ITERS        ns per iteration of an idle loop
 *
 * Deadlines are whole milliseconds, uniform in 1..SPAN_MS (libuv counts in
 * milliseconds, so both get the same order, ties included).  Stops come in
 * a shuffled order.  To fire without waiting for each deadline, the timers
 * are started while the loop's cached time is SPAN_MS old: after the sleep
 * every deadline is due and one iteration fires all of them.
 *
 * Output: key=value lines.  The bench_* functions are kept out of line so
 * that callgrind can count the instructions of each phase.
 */
#define SCHD_IMPLEMENTATION
#include "sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SPAN_MS 250

/* noipa: gcc would otherwise merge the two identical start loops */
#if defined(__clang__)
#define BENCH_PHASE static __attribute__((noinline))
#else
#define BENCH_PHASE static __attribute__((noipa))
#endif

static schd_loop loop;
static schd_timer *timers;
static uint32_t *delay_ms, *stop_order;
static size_t count;
static size_t fired;
static int failures;

/* The same generator and seed as uv_timers.c: xorshift64*. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rng_below(uint32_t bound)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545F4914F6CDD1Dull) >> 32) % bound;
}

static int64_t clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000;
    while (nanosleep(&ts, &ts) != 0) {}
}

static void on_fire(schd_timer *t, void *ud)
{
    (void)t;
    (void)ud;
    fired++;
}

BENCH_PHASE void bench_start_all(void)
{
    size_t i;
    for (i = 0; i < count; i++)
        failures += schd_timer_start(&timers[i], &loop, SCHD_MS(delay_ms[i]), 0) != 0;
}

BENCH_PHASE void bench_stop_all(void)
{
    size_t i;
    for (i = 0; i < count; i++)
        failures += schd_timer_stop(&timers[stop_order[i]], &loop) != 0;
}

/* The same work as bench_start_all, under its own name for callgrind. */
BENCH_PHASE void bench_arm_all(void)
{
    size_t i;
    for (i = 0; i < count; i++)
        failures += schd_timer_start(&timers[i], &loop, SCHD_MS(delay_ms[i]), 0) != 0;
}

BENCH_PHASE void bench_fire_all(void)
{
    schd_loop_run_once(&loop, 0);
}

BENCH_PHASE void bench_iterate(long iters)
{
    long i;
    for (i = 0; i < iters; i++) schd_loop_run_once(&loop, 0);
}

static void make_workload(size_t n)
{
    size_t i;
    count = n;
    timers = (schd_timer *)calloc(n, sizeof *timers);
    delay_ms = (uint32_t *)malloc(n * sizeof *delay_ms);
    stop_order = (uint32_t *)malloc(n * sizeof *stop_order);
    if (!timers || !delay_ms || !stop_order) {
        fprintf(stderr, "sched_timers: out of memory\n");
        exit(1);
    }
    for (i = 0; i < n; i++) {
        schd_timer_init(&timers[i], on_fire, NULL);
        delay_ms[i] = 1 + rng_below(SPAN_MS);
        stop_order[i] = (uint32_t)i;
    }
    for (i = n - 1; i > 0; i--) {   /* Fisher-Yates */
        uint32_t j = rng_below((uint32_t)(i + 1)), tmp = stop_order[i];
        stop_order[i] = stop_order[j];
        stop_order[j] = tmp;
    }
}

static int run_timers(size_t n, int reps)
{
    double best_start = 1e30, best_stop = 1e30, best_fire = 1e30;
    int fire_reps = n <= 10000 ? 4 : 1, r;
    if (reps < 1) reps = 1;
    if (fire_reps > reps) fire_reps = reps;
    make_workload(n);
    for (r = 0; r < reps; r++) {
        int64_t t0, t1, t2;
        schd_loop_update_time(&loop);
        t0 = clock_ns();
        bench_start_all();
        t1 = clock_ns();
        bench_stop_all();
        t2 = clock_ns();
        if (loop.core.heap_len != 0) failures++;
        if ((double)(t1 - t0) < best_start) best_start = (double)(t1 - t0);
        if ((double)(t2 - t1) < best_stop) best_stop = (double)(t2 - t1);
    }
    for (r = 0; r < fire_reps; r++) {
        int64_t t0, t1;
        schd_loop_update_time(&loop);
        sleep_ms(SPAN_MS + 2);      /* the cached time is now older than any deadline */
        bench_arm_all();
        fired = 0;
        t0 = clock_ns();
        bench_fire_all();
        t1 = clock_ns();
        if (fired != n || loop.core.heap_len != 0) failures++;
        if ((double)(t1 - t0) < best_fire) best_fire = (double)(t1 - t0);
    }
    printf("timers=%zu reps=%d fire_reps=%d\n", n, reps, fire_reps);
    printf("start_ns=%.1f\nstop_ns=%.1f\nfire_ns=%.1f\n", best_start / (double)n,
           best_stop / (double)n, best_fire / (double)n);
    printf("timer_bytes=%zu\nheap_entry_bytes=%zu\nheap_capacity_bytes=%zu\n", sizeof(schd_timer),
           sizeof(struct akc__tentry), (size_t)loop.core.heap_cap * sizeof(struct akc__tentry));
    free(timers);
    free(delay_ms);
    free(stop_order);
    return 0;
}

static int run_loop(long iters)
{
    schd_timer idle;
    int64_t t0, t1;
    schd_timer_init(&idle, on_fire, NULL);
    schd_timer_start(&idle, &loop, SCHD_SEC(3600), 0);
    schd_loop_run_once(&loop, 0);   /* warm up */
    t0 = clock_ns();
    bench_iterate(iters);
    t1 = clock_ns();
    if (fired != 0) failures++;
    schd_timer_stop(&idle, &loop);
    printf("iterations=%ld\niteration_ns=%.1f\n", iters, (double)(t1 - t0) / (double)iters);
    return 0;
}

int main(int argc, char **argv)
{
    long n = argc >= 3 ? atol(argv[2]) : 0;
    int rc;
    if (argc < 3 || n <= 0 || (strcmp(argv[1], "timers") != 0 && strcmp(argv[1], "loop") != 0)) {
        fprintf(stderr, "usage: %s timers N [REPS] | loop ITERS\n", argv[0]);
        return 2;
    }
    if ((rc = schd_loop_init(&loop)) < 0) {
        fprintf(stderr, "sched_timers: %s\n", schd_strerror(rc));
        return 1;
    }
    if (argv[1][0] == 't') run_timers((size_t)n, argc >= 4 ? atoi(argv[3]) : 1);
    else run_loop(n);
    schd_loop_close(&loop);
    if (failures) {
        fprintf(stderr, "sched_timers: %d operations failed or timers misfired\n", failures);
        return 1;
    }
    return 0;
}
