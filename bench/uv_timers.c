/* uv_timers - the libuv side of bench/sched_timers.c: ns per timer start,
 * stop and fire, and per idle loop iteration, on the same deadlines in the
 * same order.
 *
 *   uv_timers timers N [REPS]
 *   uv_timers loop ITERS
 *
 * libuv starts a timer relative to its cached time (uv_now), refreshed at
 * the top of every uv_run iteration or by uv_update_time.  As on the sched.h
 * side, the fire phase starts every timer while that cached time is SPAN_MS
 * old, so one uv_run(UV_RUN_NOWAIT) finds all of them due.
 */
#define _POSIX_C_SOURCE 200809L
#include <uv.h>

#include <stdint.h>
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

static uv_loop_t loop;
static uv_timer_t *timers;
static uint32_t *delay_ms, *stop_order;
static size_t count;
static size_t fired;
static int failures;

/* The same generator and seed as sched_timers.c: xorshift64*. */
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

static void on_fire(uv_timer_t *t)
{
    (void)t;
    fired++;
}

BENCH_PHASE void bench_start_all(void)
{
    size_t i;
    for (i = 0; i < count; i++)
        failures += uv_timer_start(&timers[i], on_fire, delay_ms[i], 0) != 0;
}

BENCH_PHASE void bench_stop_all(void)
{
    size_t i;
    for (i = 0; i < count; i++)
        failures += uv_timer_stop(&timers[stop_order[i]]) != 0;
}

BENCH_PHASE void bench_arm_all(void)
{
    size_t i;
    for (i = 0; i < count; i++)
        failures += uv_timer_start(&timers[i], on_fire, delay_ms[i], 0) != 0;
}

BENCH_PHASE void bench_fire_all(void)
{
    uv_run(&loop, UV_RUN_NOWAIT);
}

BENCH_PHASE void bench_iterate(long iters)
{
    long i;
    for (i = 0; i < iters; i++) uv_run(&loop, UV_RUN_NOWAIT);
}

static void make_workload(size_t n)
{
    size_t i;
    count = n;
    timers = (uv_timer_t *)calloc(n, sizeof *timers);
    delay_ms = (uint32_t *)malloc(n * sizeof *delay_ms);
    stop_order = (uint32_t *)malloc(n * sizeof *stop_order);
    if (!timers || !delay_ms || !stop_order) {
        fprintf(stderr, "uv_timers: out of memory\n");
        exit(1);
    }
    for (i = 0; i < n; i++) {
        uv_timer_init(&loop, &timers[i]);
        delay_ms[i] = 1 + rng_below(SPAN_MS);
        stop_order[i] = (uint32_t)i;
    }
    for (i = n - 1; i > 0; i--) {
        uint32_t j = rng_below((uint32_t)(i + 1)), tmp = stop_order[i];
        stop_order[i] = stop_order[j];
        stop_order[j] = tmp;
    }
}

/* Handles go back to the loop through uv_close before it can be closed. */
static void close_all(void)
{
    size_t i;
    for (i = 0; i < count; i++) uv_close((uv_handle_t *)&timers[i], NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
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
        uv_update_time(&loop);
        t0 = clock_ns();
        bench_start_all();
        t1 = clock_ns();
        bench_stop_all();
        t2 = clock_ns();
        if (uv_loop_alive(&loop)) failures++;
        if ((double)(t1 - t0) < best_start) best_start = (double)(t1 - t0);
        if ((double)(t2 - t1) < best_stop) best_stop = (double)(t2 - t1);
    }
    for (r = 0; r < fire_reps; r++) {
        int64_t t0, t1;
        uv_update_time(&loop);
        sleep_ms(SPAN_MS + 2);
        bench_arm_all();
        fired = 0;
        t0 = clock_ns();
        bench_fire_all();
        t1 = clock_ns();
        if (fired != n || uv_loop_alive(&loop)) failures++;
        if ((double)(t1 - t0) < best_fire) best_fire = (double)(t1 - t0);
    }
    printf("timers=%zu reps=%d fire_reps=%d\n", n, reps, fire_reps);
    printf("start_ns=%.1f\nstop_ns=%.1f\nfire_ns=%.1f\n", best_start / (double)n,
           best_stop / (double)n, best_fire / (double)n);
    printf("timer_bytes=%zu\nheap_entry_bytes=0\nheap_capacity_bytes=0\n", sizeof(uv_timer_t));
    close_all();
    free(timers);
    free(delay_ms);
    free(stop_order);
    return 0;
}

static int run_loop(long iters)
{
    uv_timer_t idle;
    int64_t t0, t1;
    uv_timer_init(&loop, &idle);
    uv_timer_start(&idle, on_fire, 3600 * 1000, 0);
    uv_run(&loop, UV_RUN_NOWAIT);   /* warm up */
    t0 = clock_ns();
    bench_iterate(iters);
    t1 = clock_ns();
    if (fired != 0) failures++;
    uv_close((uv_handle_t *)&idle, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
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
    if ((rc = uv_loop_init(&loop)) < 0) {
        fprintf(stderr, "uv_timers: %s\n", uv_strerror(rc));
        return 1;
    }
    if (argv[1][0] == 't') run_timers((size_t)n, argc >= 4 ? atoi(argv[3]) : 1);
    else run_loop(n);
    if ((rc = uv_loop_close(&loop)) != 0) {
        fprintf(stderr, "uv_timers: loop close: %s\n", uv_strerror(rc));
        failures++;
    }
    if (failures) {
        fprintf(stderr, "uv_timers: %d operations failed or timers misfired\n", failures);
        return 1;
    }
    return 0;
}
