/* sensor_logger - TMP102 temperature sensors on one I2C bus, read at a
 * fixed rate: one line per reading, "SECONDS  ADDRESS  TEMPERATURE C", or
 * "SECONDS  ADDRESS  error (STAGE): TEXT".  Each sensor's read is a task
 * of examples/tmp102.h: they share the bus, convert at the same time, and
 * a sensor that fails does not stop the others.
 *
 *   cc -std=c99 -O2 -I. -o build/sensor_logger examples/sensor_logger.c
 *   build/sensor_logger [--bus PATH] [--addr A[,B...]] [--rate HZ] [--count N]
 *                       [--duration SECONDS] [--simulate]
 *
 *   --bus PATH      the i2c-dev node, or its number (default /dev/i2c-1)
 *   --addr LIST     sensor addresses, 0x03 to 0x77, up to 4 (default 0x48,0x49)
 *   --rate HZ       readings per second, 0.01 to 20 (default 1)
 *   --count N       stop after N readings of each sensor (default: no limit)
 *   --duration S    stop after S seconds (default: no limit); SIGINT and
 *                   SIGTERM stop it too
 *   --simulate      no hardware: simulated sensors at 0x48 (21.5 C, warming)
 *                   and 0x49 (-3.25 C, cooling) answer with i2c-dev's timing
 *
 * Exit status: 0 when a reading succeeded, 1 when none did (or the bus
 * did not open), 2 for bad arguments (with the usage line).
 */
#define SCHD_IMPLEMENTATION
#define TMP102_IMPLEMENTATION
#include "tmp102.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SENSORS 4

static const char usage[] = "usage: sensor_logger [--bus PATH] [--addr A[,B...]] [--rate HZ] "
                            "[--count N] [--duration SECONDS] [--simulate]";

struct options { const char *bus; unsigned addr[MAX_SENSORS]; int naddr; double rate, duration; long count; int simulate; };

struct app {
    schd_loop loop;
    tmp102_bus bus;
    tmp102_sensor sensor[MAX_SENSORS];
    int nsensors;
    schd_job job;
    schd_timer stop_timer;
    schd_signal sigint, sigterm;
    long periods, count;
    int64_t t0;
    unsigned long readings, errors, skipped;
};

static void finish(struct app *a)
{
    schd_job_stop(&a->job);               /* reads in flight end by themselves */
    schd_timer_stop(&a->stop_timer, &a->loop);
    schd_signal_stop(&a->sigint, &a->loop);
    schd_signal_stop(&a->sigterm, &a->loop);
}

static void on_reading(tmp102_sensor *s, int status, void *ud)
{
    struct app *a = (struct app *)ud;
    double t = (double)(s->done_ns - a->t0) / 1e9;
    if (status == 0) {
        printf("%9.3f  0x%02x  %9.4f C\n", t, s->addr, tmp102_celsius(s));
        a->readings++;
    } else {
        printf("%9.3f  0x%02x  error (%s): %s\n", t, s->addr, tmp102_stage_name(s->stage), tmp102_strerror(status));
        a->errors++;
    }
}

static void on_period(schd_job *job, void *ud)
{
    struct app *a = (struct app *)ud;
    int i, r;
    (void)job;
    for (i = 0; i < a->nsensors; i++) {
        if ((r = tmp102_read(&a->sensor[i], on_reading, a)) == 0) continue;
        if (r == -EBUSY) a->skipped++;   /* still reading: the rate is too high for it */
        else fprintf(stderr, "sensor_logger: 0x%02x: %s\n", a->sensor[i].addr, tmp102_strerror(r));
    }
    if (a->count > 0 && ++a->periods >= a->count) finish(a);
}

static void on_stop_timer(schd_timer *t, void *ud) { (void)t; finish((struct app *)ud); }
static void on_signal(schd_signal *sig, const schd_siginfo *info, void *ud) { (void)sig; (void)info; finish((struct app *)ud); }

/* A decimal number in [lo, hi], nothing before or after it; else -1. */
static double number_arg(const char *text, double lo, double hi)
{
    char *end;
    double v;
    if ((*text < '0' || *text > '9') && *text != '.') return -1;
    v = strtod(text, &end);
    return *end || !(v >= lo && v <= hi) ? -1 : v;
}

/* Whole decimal digits, 1 to 999999999; else -1. */
static long count_arg(const char *text)
{
    size_t n = strspn(text, "0123456789");
    long v = n > 0 && n < 10 && !text[n] ? strtol(text, NULL, 10) : -1;
    return v >= 1 ? v : -1;
}

/* "0x48,0x49" (hexadecimal with 0x, or decimal): 0, or -1 when malformed. */
static int addr_list(const char *text, struct options *o)
{
    o->naddr = 0;
    for (;;) {
        char *end;
        unsigned long v;
        int i;
        if (*text < '0' || *text > '9' || o->naddr == MAX_SENSORS) return -1;
        v = strtoul(text, &end, text[0] == '0' && (text[1] == 'x' || text[1] == 'X') ? 16 : 10);
        if (end == text || v < 0x03 || v > 0x77) return -1;
        for (i = 0; i < o->naddr; i++) if (o->addr[i] == v) return -1;
        o->addr[o->naddr++] = (unsigned)v;
        if (*end == 0) return 0;
        if (*end != ',') return -1;
        text = end + 1;
    }
}

static int parse(int argc, char **argv, struct options *o)
{
    int i;
    for (i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--simulate") == 0) { o->simulate = 1; continue; }
        if (!val) return -1;
        i++;
        if (strcmp(opt, "--bus") == 0 && *val) o->bus = val;
        else if (strcmp(opt, "--addr") == 0) { if (addr_list(val, o) < 0) return -1; }
        else if (strcmp(opt, "--rate") == 0) { if ((o->rate = number_arg(val, 0.01, 20)) < 0) return -1; }
        else if (strcmp(opt, "--duration") == 0) { if ((o->duration = number_arg(val, 0.001, 1e6)) < 0) return -1; }
        else if (strcmp(opt, "--count") == 0) { if ((o->count = count_arg(val)) < 0) return -1; }
        else return -1;
    }
    return 0;
}

/* The bus: i2c-dev, or simulated sensors that answer as the real ones would. */
static int open_bus(struct app *a, const struct options *o, tmp102_i2cdev *dev, tmp102_sim *sim)
{
    int r;
    if (o->simulate) {
        tmp102_sim_init(sim);
        sim->latency_ns = SCHD_US(400);            /* a register read at 100 kHz */
        tmp102_sim_add(sim, 0x48, 344)->step = 1;   /* 21.5 C, warming by 1/16 C per reading */
        tmp102_sim_add(sim, 0x49, -52)->step = -1;  /* -3.25 C, cooling */
        return tmp102_bus_init(&a->bus, &a->loop, tmp102_sim_ops(), sim);
    }
    if ((r = tmp102_i2cdev_open(dev, o->bus, 0)) < 0) return r;
    tmp102_i2cdev_set_timeout(dev, SCHD_MS(50));   /* a hung bus stalls the loop this long at most */
    return tmp102_bus_init(&a->bus, &a->loop, tmp102_i2cdev_ops(), dev);
}

static int start(struct app *a, const struct options *o)
{
    int i, r = 0;
    for (i = 0; i < o->naddr && r == 0; i++) r = tmp102_init(&a->sensor[i], &a->bus, o->addr[i]);
    a->nsensors = o->naddr;
    a->count = o->count;
    a->t0 = schd_loop_now(&a->loop);
    schd_timer_init(&a->stop_timer, on_stop_timer, a);
    schd_signal_init(&a->sigint, on_signal, a);
    schd_signal_init(&a->sigterm, on_signal, a);
    if (r == 0) r = schd_signal_start(&a->sigint, &a->loop, SIGINT);
    if (r == 0) r = schd_signal_start(&a->sigterm, &a->loop, SIGTERM);
    if (r == 0 && o->duration > 0) r = schd_timer_start(&a->stop_timer, &a->loop, SCHD_SECF(o->duration), 0);
    if (r == 0) r = schd_job_start(&a->job, &a->loop, schd_hz(o->rate), on_period, a);
    return r;
}

int main(int argc, char **argv)
{
    static struct app a;
    static tmp102_i2cdev dev = {-1, 0, -1, 0};
    static tmp102_sim sim;
    struct options o = {"/dev/i2c-1", {0x48, 0x49}, 2, 1.0, 0, 0, 0};
    int r;

    if (parse(argc, argv, &o) < 0) {
        fprintf(stderr, "%s\n", usage);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);   /* a line per reading, also into a pipe */
    if ((r = schd_loop_init(&a.loop)) < 0) {
        fprintf(stderr, "sensor_logger: %s\n", schd_strerror(r));
        return 1;
    }
    if ((r = open_bus(&a, &o, &dev, &sim)) < 0) fprintf(stderr, "sensor_logger: %s: %s\n", o.bus, tmp102_strerror(r));
    else if ((r = start(&a, &o)) < 0) fprintf(stderr, "sensor_logger: %s\n", schd_strerror(r));
    else if ((r = schd_loop_run(&a.loop)) < 0) fprintf(stderr, "sensor_logger: %s\n", schd_strerror(r));
    finish(&a);
    schd_loop_close(&a.loop);                  /* ends a read still going */
    tmp102_i2cdev_close(&dev);
    printf("readings=%lu errors=%lu skipped=%lu\n", a.readings, a.errors, a.skipped);
    return r == 0 && a.readings > 0 ? 0 : 1;
}
