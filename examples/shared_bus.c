/* shared_bus - two simulated devices share one SPI bus through a managed
 * resource.  Each has its own chip-select line, which the resource's
 * acquire and release hooks drive; the log shows that no two transactions
 * ever overlap, and the program fails if one did.
 *
 *   cc -std=c99 -O2 -I. -o build/shared_bus examples/shared_bus.c
 *   build/shared_bus [SECONDS]        (default 2; a decimal number, more than 0,
 *                                      at most 3600; else the usage line, exit 2)
 */
#define SCHD_IMPLEMENTATION
#include "sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct spi_bus { const char *owner; int transactions, overlaps; int64_t t0; };
struct chip_select { const char *device; int pin; };

static schd_loop loop;
static struct spi_bus bus;

static double now_s(void) { return (double)(schd_loop_now(&loop) - bus.t0) / 1e9; }

static void select_chip(schd_resource *res, void *arg)
{
    struct chip_select *cs = (struct chip_select *)arg;
    struct spi_bus *b = (struct spi_bus *)res->object;
    if (b->owner) b->overlaps++;
    b->owner = cs->device;
    printf("%8.3f  CS%d low   %-7s begins\n", now_s(), cs->pin, cs->device);
}

static void deselect_chip(schd_resource *res, void *arg)
{
    struct chip_select *cs = (struct chip_select *)arg;
    struct spi_bus *b = (struct spi_bus *)res->object;
    b->owner = NULL;
    b->transactions++;
    printf("%8.3f  CS%d high  %-7s ends\n", now_s(), cs->pin, cs->device);
}

/* A BME680-like sensor: write a measurement request, let others use the
 * bus during the conversion, then read the result back. */
struct sensor { schd_task task; schd_rhandle bus; int reading; };

static int sensor_cycle(schd_task *t)
{
    struct sensor *s = SCHD_CONTAINER_OF(t, struct sensor, task);
    SCHD_TASK_BEGIN(t);
    SCHD_AWAIT_ACQUIRE(t, &s->bus);
    printf("%8.3f        sensor  writes measure request\n", now_s());
    SCHD_AWAIT_DELAY(t, SCHD_MS(3));          /* clocking out the bytes */
    schd_resource_release(&s->bus);
    SCHD_AWAIT_DELAY(t, SCHD_MS(100));        /* conversion time: bus is free */
    SCHD_AWAIT_ACQUIRE(t, &s->bus);
    s->reading++;
    printf("%8.3f        sensor  reads result %d\n", now_s(), s->reading);
    SCHD_AWAIT_DELAY(t, SCHD_MS(2));
    schd_resource_release(&s->bus);
    SCHD_TASK_END(t);
}

/* An SD card logger: long block writes that hold the bus for a while. */
struct sdcard { schd_task task; schd_rhandle bus; int block; };

static int sdcard_cycle(schd_task *t)
{
    struct sdcard *c = SCHD_CONTAINER_OF(t, struct sdcard, task);
    SCHD_TASK_BEGIN(t);
    SCHD_AWAIT_ACQUIRE(t, &c->bus);
    for (c->block = 0; c->block < 4; c->block++) {
        printf("%8.3f        sdcard  writes block %d\n", now_s(), c->block);
        SCHD_AWAIT_DELAY(t, SCHD_MS(10));
    }
    schd_resource_release(&c->bus);
    SCHD_TASK_END(t);
}

static void on_time_up(schd_timer *t, void *ud) { (void)t; (void)ud; schd_loop_stop(&loop); }

/* A decimal number in (0, max], nothing before or after it; else -1. */
static double seconds_arg(const char *text, double max)
{
    char *end;
    double v;
    if ((*text < '0' || *text > '9') && *text != '.') return -1;
    v = strtod(text, &end);
    return *end || !(v > 0 && v <= max) ? -1 : v;
}

int main(int argc, char **argv)
{
    static struct chip_select cs_sensor = {"sensor", 4}, cs_sdcard = {"sdcard", 5};
    schd_resource spi;
    struct sensor sensor;
    struct sdcard sdcard;
    schd_job sensor_job, sdcard_job;
    schd_timer stop;
    double seconds = argc > 1 ? seconds_arg(argv[1], 3600) : 2.0;
    int r;

    if (argc > 2 || seconds <= 0) {
        fprintf(stderr, "usage: shared_bus [SECONDS]\n");
        return 2;
    }
    if ((r = schd_loop_init(&loop)) < 0) {
        fprintf(stderr, "shared_bus: %s\n", schd_strerror(r));
        return 1;
    }
    /* jobs and tasks start from zeroed storage */
    memset(&sensor, 0, sizeof sensor);
    memset(&sdcard, 0, sizeof sdcard);
    memset(&sensor_job, 0, sizeof sensor_job);
    memset(&sdcard_job, 0, sizeof sdcard_job);
    bus.t0 = schd_loop_now(&loop);
    schd_resource_init(&spi, &bus, select_chip, deselect_chip);
    schd_resource_handle(&spi, &sensor.bus, &cs_sensor);
    schd_resource_handle(&spi, &sdcard.bus, &cs_sdcard);
    schd_timer_init(&stop, on_time_up, NULL);
    r = schd_job_start_task(&sensor_job, &loop, schd_period(SCHD_MS(123)), &sensor.task, sensor_cycle, NULL);
    if (r == 0) r = schd_job_start_task(&sdcard_job, &loop, schd_period(SCHD_MS(300)), &sdcard.task, sdcard_cycle, NULL);
    if (r == 0) r = schd_timer_start(&stop, &loop, (int64_t)(seconds * 1e9), 0);
    if (r == 0) r = schd_loop_run(&loop);
    if (r < 0) fprintf(stderr, "shared_bus: %s\n", schd_strerror(r));

    schd_job_stop(&sensor_job);
    schd_job_stop(&sdcard_job);
    schd_loop_close(&loop);   /* cancels a task still on the bus: it lets go */
    printf("transactions=%d overlaps=%d readings=%d\n", bus.transactions, bus.overlaps, sensor.reading);
    return r == 0 && bus.overlaps == 0 && bus.transactions > 0 ? 0 : 1;
}
