/* Fuzz target: the timer heap under any sequence of starts, restarts,
 * stops and clock steps, with callbacks that stop or restart other timers.
 * After every step the heap must be a valid heap whose positions agree with
 * the timers, every due timer must have fired exactly when the clock passed
 * its deadline, and none early. */
#define SCHD_IMPLEMENTATION
#include "sched.h"
#include <stdio.h>
#include <stdlib.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)
#define NT 32

static int64_t now;
static int64_t clock_fn(void *ud) { (void)ud; return now; }

struct model { int active; int64_t due, period; };
static struct model m[NT];
static schd_timer timers[NT];
static schd_loop loop;
static int chain[NT];   /* what timer i's callback does to another: -1 nothing */

static void check_heap(void)
{
    uint32_t i;
    int j, active = 0;
    for (i = 0; i < loop.core.heap_len; i++) {
        CHECK(loop.core.heap[i].t->pos == i + 1);
        if (i > 0) CHECK(!akc__tless(&loop.core.heap[i], &loop.core.heap[(i - 1) / 2]));
    }
    for (j = 0; j < NT; j++) {
        CHECK(schd_timer_active(&timers[j]) == m[j].active);
        if (m[j].active) { active++; CHECK(schd_timer_due(&timers[j], &loop) == m[j].due); }
    }
    CHECK((uint32_t)active == loop.core.heap_len);
}

static void on_fire(schd_timer *t, void *ud)
{
    int i = (int)(intptr_t)ud, c;
    CHECK(m[i].active && m[i].due <= now);
    if (m[i].period > 0) {
        int64_t next = m[i].due + m[i].period;
        if (next <= now) next += ((now - next) / m[i].period + 1) * m[i].period;
        m[i].due = next;
    } else {
        m[i].active = 0;
    }
    (void)t;
    c = chain[i];
    if (c >= 0 && c != i) {       /* stop another timer from inside a callback */
        schd_timer_stop(&timers[c], &loop);
        m[c].active = 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t i;
    int j;
    now = 1000000000;
    if (schd_loop_init(&loop) != 0) return 0;
    schd_loop_set_clock(&loop, clock_fn, NULL);
    for (j = 0; j < NT; j++) {
        schd_timer_init(&timers[j], on_fire, (void *)(intptr_t)j);
        m[j].active = 0;
        chain[j] = -1;
    }
    for (i = 0; i + 2 < size; i += 3) {
        int op = data[i] & 3, id = data[i + 1] % NT;
        int64_t arg = (int64_t)data[i + 2] * 1000;
        switch (op) {
        case 0:   /* start or restart, one-shot or repeating */
            CHECK(schd_timer_start(&timers[id], &loop, arg, (data[i] & 4) ? arg + 1 : 0) == 0);
            m[id].active = 1;
            m[id].due = now + arg;
            m[id].period = (data[i] & 4) ? arg + 1 : 0;
            break;
        case 1:
            CHECK(schd_timer_stop(&timers[id], &loop) == 0);
            m[id].active = 0;
            break;
        case 2:
            chain[id] = (data[i + 2] & 0x80) ? -1 : data[i + 2] % NT;
            break;
        default:  /* time passes; one iteration runs what is due */
            now += arg;
            schd_loop_run_once(&loop, 0);
            for (j = 0; j < NT; j++) CHECK(!m[j].active || m[j].due > now);
            break;
        }
        check_heap();
    }
    schd_loop_close(&loop);
    for (j = 0; j < NT; j++) CHECK(!schd_timer_active(&timers[j]));
    return 0;
}
