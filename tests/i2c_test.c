/* tests/i2c_test.c - examples/tmp102.h: the register values, a read as a
 * task on sched.h's loop against the simulated bus (on a fake clock, so
 * conversion times and timeouts come out exact), two sensors sharing the
 * bus, bus errors and timeouts, and i2c-dev against a kernel the test
 * plays through the driver's system-call hooks.  Two tests run on the real
 * clock: the loop keeps running during a conversion (an ordering, not a
 * timing, is asserted), and the loop's worst stall with the bus's time
 * injected (reported on a NOTE line; only structure is asserted). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fk_open(const char *path, int flags);
static int fk_ioctl(int fd, unsigned long req, void *arg);
static int fk_close(int fd);
#define TMP102_SYS_OPEN(path, flags) fk_open((path), (flags))
#define TMP102_SYS_IOCTL(fd, req, arg) fk_ioctl((fd), (unsigned long)(req), (void *)(arg))
#define TMP102_SYS_CLOSE(fd) fk_close(fd)
#define SCHD_IMPLEMENTATION
#define TMP102_IMPLEMENTATION
#include "examples/tmp102.h"
#include "harness.h"

/* ---- a fake clock for the loop and the simulated chips ---- */

static int64_t fake_now;
static int64_t fake_clock(void *ud) { (void)ud; return fake_now; }

static void advance(schd_loop *loop, int64_t ns)
{
    int64_t end = fake_now + ns;
    while (fake_now < end) {
        fake_now += SCHD_MS(1);
        schd_loop_run_once(loop, 0);
    }
}

/* ---- the bus, watched: every transaction is logged, and checked to
 * come from the device that holds the bus ---- */

struct txn { unsigned addr, reg; int write; uint16_t value; unsigned long probes; };

static struct watch {
    tmp102_sim sim;
    tmp102_bus *bus;
    struct txn log[256];
    int n;
    int foreign;          /* transactions by a device that did not hold the bus */
    int overlaps;         /* acquisitions while another device held it */
    void *owner;
    unsigned long probes; /* ticks of a timer some tests run beside the reads */
} w;

static void watch_log(unsigned addr, unsigned reg, int write, uint16_t value)
{
    schd_rhandle *h = w.bus ? w.bus->res.holder : NULL;
    if (w.bus && (!h || ((tmp102_sensor *)h->arg)->addr != addr)) w.foreign++;
    if (w.n < 256) {
        struct txn *t = &w.log[w.n++];
        t->addr = addr; t->reg = reg; t->write = write; t->value = value; t->probes = w.probes;
    }
}

static int watch_write(void *ud, unsigned addr, unsigned reg, uint16_t value)
{
    watch_log(addr, reg, 1, value);
    return tmp102_sim_ops()->write_reg(ud, addr, reg, value);
}

static int watch_read(void *ud, unsigned addr, unsigned reg, uint16_t *value)
{
    int r = tmp102_sim_ops()->read_reg(ud, addr, reg, value);
    watch_log(addr, reg, 0, r == 0 ? *value : 0);
    return r;
}

static const tmp102_bus_ops watch_ops = {watch_write, watch_read};

static void on_acquire(schd_resource *res, void *arg) { (void)res; if (w.owner) w.overlaps++; w.owner = arg; }
static void on_release(schd_resource *res, void *arg) { (void)res; (void)arg; w.owner = NULL; }

/* The index in the log of the first transaction matching, from index
 * from on; -1 when none. */
static int find_txn(int from, unsigned addr, unsigned reg, int write)
{
    int i;
    for (i = from; i < w.n; i++)
        if (w.log[i].addr == addr && w.log[i].reg == reg && w.log[i].write == write) return i;
    return -1;
}

/* ---- a loop, a bus and two sensors at 0x48 and 0x49 ---- */

struct rig { schd_loop loop; tmp102_bus bus; tmp102_sensor a, b; };

static void rig_open(struct rig *r, int fake)
{
    memset(r, 0, sizeof *r);
    memset(&w, 0, sizeof w);
    T_REQUIRE(schd_loop_init(&r->loop) == 0);
    tmp102_sim_init(&w.sim);
    if (fake) {
        fake_now = SCHD_SEC(1000);
        schd_loop_set_clock(&r->loop, fake_clock, NULL);
        w.sim.clock = fake_clock;
    }
    T_REQUIRE(tmp102_bus_init(&r->bus, &r->loop, &watch_ops, &w.sim) == 0);
    r->bus.res.on_acquire = on_acquire;
    r->bus.res.on_release = on_release;
    w.bus = &r->bus;
    T_REQUIRE(tmp102_sim_add(&w.sim, 0x48, 401) != NULL);    /* 25.0625 C */
    T_REQUIRE(tmp102_sim_add(&w.sim, 0x49, -52) != NULL);    /* -3.25 C */
    T_REQUIRE(tmp102_init(&r->a, &r->bus, 0x48) == 0);
    T_REQUIRE(tmp102_init(&r->b, &r->bus, 0x49) == 0);
}

static void rig_close(struct rig *r)
{
    schd_loop_close(&r->loop);
    w.bus = NULL;
}

static tmp102_sim_chip *chip(unsigned addr)
{
    int i;
    for (i = 0; i < TMP102_SIM_CHIPS; i++)
        if (w.sim.chip[i].addr == addr) return &w.sim.chip[i];
    return NULL;
}

struct seen { int calls, status, stage, sixteenths; };
static void on_done(tmp102_sensor *s, int status, void *ud)
{
    struct seen *e = (struct seen *)ud;
    e->calls++;
    e->status = status;
    e->stage = s->stage;
    e->sixteenths = s->sixteenths;
}

/* ---- register values ---- */

static void test_decode_normal_mode_datasheet_values(void)
{
    T_EQ(tmp102_decode_temp(0x7FF0), 2047);    /* 127.9375 C, the largest */
    T_EQ(tmp102_decode_temp(0x6400), 1600);    /* 100 C */
    T_EQ(tmp102_decode_temp(0x1900), 400);     /* 25 C */
    T_EQ(tmp102_decode_temp(0x0040), 4);       /* 0.25 C */
    T_EQ(tmp102_decode_temp(0x0010), 1);       /* 0.0625 C, one step */
    T_EQ(tmp102_decode_temp(0x000E), 0);       /* the low bits below the result are ignored */
    T_EQ(tmp102_decode_temp(0x0000), 0);
    T_EQ(tmp102_decode_temp(0xFFF0), -1);      /* -0.0625 C */
    T_EQ(tmp102_decode_temp(0xFFC0), -4);      /* -0.25 C */
    T_EQ(tmp102_decode_temp(0xE700), -400);    /* -25 C */
    T_EQ(tmp102_decode_temp(0xC900), -880);    /* -55 C */
    T_EQ(tmp102_decode_temp(0x8000), -2048);   /* -128 C, the smallest */
}

static void test_decode_extended_mode_datasheet_values(void)
{
    /* bit 0 set: 13 bits, left-justified at bit 3 */
    T_EQ(tmp102_decode_temp(0x4B01), 2400);    /* 150 C */
    T_EQ(tmp102_decode_temp(0x3201), 1600);    /* 100 C */
    T_EQ(tmp102_decode_temp(0x7FF9), 4095);    /* 255.9375 C */
    T_EQ(tmp102_decode_temp(0x0009), 1);
    T_EQ(tmp102_decode_temp(0x0001), 0);
    T_EQ(tmp102_decode_temp(0xFFF9), -1);
    T_EQ(tmp102_decode_temp(0xE481), -880);    /* -55 C */
    T_EQ(tmp102_decode_temp(0x8001), -4096);
    T_CHECK(tmp102_decode_temp(0x4B01) != tmp102_decode_temp(0x4B00));   /* the mode bit matters */
}

static void test_limits_round_trip_at_their_boundaries(void)
{
    static const int normal[] = {-2048, -2047, -1, 0, 1, 2046, 2047};
    static const int extended[] = {-4096, -4095, -1, 0, 1, 4094, 4095};
    uint16_t raw = 0;
    unsigned i;
    for (i = 0; i < sizeof normal / sizeof normal[0]; i++) {
        T_EQ(tmp102_encode_limit(normal[i], 0, &raw), 0);
        T_EQ(raw & 0xF, 0);
        T_EQ(tmp102_decode_limit(raw, 0), normal[i]);
        T_EQ(tmp102_encode_limit(extended[i], 1, &raw), 0);
        T_EQ(raw & 0x7, 0);
        T_EQ(tmp102_decode_limit(raw, 1), extended[i]);
    }
    T_EQ(tmp102_encode_limit(1600, 0, &raw), 0);
    T_EQ(raw, 0x6400);
    T_EQ(tmp102_encode_limit(-880, 1, &raw), 0);
    T_EQ(raw, 0xE480);
    T_EQ(tmp102_encode_limit(2048, 0, &raw), -ERANGE);
    T_EQ(tmp102_encode_limit(-2049, 0, &raw), -ERANGE);
    T_EQ(tmp102_encode_limit(4096, 1, &raw), -ERANGE);
    T_EQ(tmp102_encode_limit(-4097, 1, &raw), -ERANGE);
    T_EQ(tmp102_encode_limit(0, 0, NULL), -EINVAL);
}

/* ---- a read ---- */

static void test_a_read_starts_a_one_shot_and_collects_it(void)
{
    struct rig r; struct seen e = {0, 1, -1, 0};
    rig_open(&r, 1);
    T_EQ(tmp102_read(&r.a, on_done, &e), 0);
    T_EQ(e.calls, 0);                          /* never inside the call */
    advance(&r.loop, SCHD_MS(40));
    T_EQ(e.calls, 1);
    T_EQ(e.status, 0);
    T_EQ(r.a.sixteenths, 401);
    T_EQ(r.a.raw, 0x1910);
    T_CHECK(tmp102_celsius(&r.a) == 25.0625);
    T_EQ(r.a.done_ns - r.a.started_ns, SCHD_MS(26));
    T_EQ(r.a.polls, 0);
    /* shutdown, the one-shot, then one hold: is it done, and the result */
    T_EQ(w.n, 4);
    T_CHECK(w.log[0].write && w.log[0].reg == TMP102_REG_CONFIG && w.log[0].value == TMP102_CFG_SD);
    T_CHECK(w.log[1].write && w.log[1].value == (TMP102_CFG_SD | TMP102_CFG_OS));
    T_CHECK(!w.log[2].write && w.log[2].reg == TMP102_REG_CONFIG && (w.log[2].value & TMP102_CFG_OS));
    T_CHECK(!w.log[3].write && w.log[3].reg == TMP102_REG_TEMP);
    /* the next read: the sensor is in shutdown already */
    T_EQ(tmp102_read(&r.a, on_done, &e), 0);
    advance(&r.loop, SCHD_MS(40));
    T_EQ(e.calls, 2);
    T_EQ(w.n, 7);
    T_EQ(chip(0x48)->conversions, 2);
    T_CHECK(r.bus.res.holder == NULL);
    T_EQ(r.bus.res.acquisitions, 4);
    rig_close(&r);
}

static void test_a_slow_conversion_is_looked_at_again(void)
{
    struct rig r; struct seen e = {0, 1, -1, 0};
    rig_open(&r, 1);
    w.sim.conversion_ns = SCHD_MS(33);         /* a slow part: longer than the 26 ms waited */
    T_EQ(tmp102_read(&r.a, on_done, &e), 0);
    advance(&r.loop, SCHD_MS(60));
    T_EQ(e.calls, 1);
    T_EQ(e.status, 0);
    T_EQ(r.a.polls, 2);                        /* at 26 and 31 ms, done at 36 */
    T_EQ(r.a.done_ns - r.a.started_ns, SCHD_MS(36));
    T_EQ(r.a.sixteenths, 401);
    rig_close(&r);
}

static void test_extended_mode_reads_13_bits(void)
{
    struct rig r; struct seen e = {0, 1, -1, 0};
    rig_open(&r, 1);
    chip(0x48)->sixteenths = 2400;             /* 150 C: beyond 12 bits */
    r.a.config = TMP102_CFG_EM;
    T_EQ(tmp102_read(&r.a, on_done, &e), 0);
    advance(&r.loop, SCHD_MS(40));
    T_EQ(e.status, 0);
    T_EQ(w.log[1].value, TMP102_CFG_SD | TMP102_CFG_OS | TMP102_CFG_EM);
    T_EQ(r.a.raw, 0x4B01);
    T_EQ(r.a.sixteenths, 2400);
    /* without it the sensor saturates at 127.9375 C */
    r.a.config = 0;
    T_EQ(tmp102_read(&r.a, on_done, &e), 0);
    advance(&r.loop, SCHD_MS(40));
    T_EQ(r.a.sixteenths, 2047);
    rig_close(&r);
}

/* ---- sharing the bus ---- */

static void test_two_sensors_share_the_bus_without_overlap(void)
{
    struct rig r; struct seen ea = {0, 1, -1, 0}, eb = {0, 1, -1, 0};
    int round, from = 0;
    rig_open(&r, 1);
    for (round = 0; round < 5; round++) {
        int a_start, b_start, a_result;
        T_EQ(tmp102_read(&r.a, on_done, &ea), 0);
        T_EQ(tmp102_read(&r.b, on_done, &eb), 0);
        advance(&r.loop, SCHD_MS(50));
        T_EQ(ea.calls, round + 1);
        T_EQ(eb.calls, round + 1);
        T_EQ(ea.status, 0);
        T_EQ(eb.status, 0);
        /* the conversions overlap: B starts before A's result is taken */
        a_start = find_txn(from, 0x48, TMP102_REG_CONFIG, 1);
        b_start = find_txn(from, 0x49, TMP102_REG_CONFIG, 1);
        a_result = find_txn(from, 0x48, TMP102_REG_TEMP, 0);
        T_CHECK(a_start >= 0 && b_start >= 0 && a_result >= 0);
        T_CHECK(a_start < b_start && b_start < a_result);
        /* and neither waited for the other's: each took one conversion time */
        T_EQ(r.a.done_ns - r.a.started_ns, SCHD_MS(26));
        T_EQ(r.b.done_ns - r.b.started_ns, SCHD_MS(26));
        from = w.n;
    }
    T_EQ(r.a.sixteenths, 401);
    T_EQ(r.b.sixteenths, -52);
    T_EQ(w.foreign, 0);
    T_EQ(w.overlaps, 0);
    T_EQ(r.bus.res.acquisitions, 20);          /* two holds per read */
    rig_close(&r);
}

static void on_probe(schd_timer *t, void *ud) { (void)t; (void)ud; w.probes++; }

/* The real clock: while a conversion runs the loop serves a 1 ms timer.
 * Timers fire in deadline order however late the loop runs, so the
 * probe, due before the conversion's end, has ticked before the result
 * is read, on any machine; a driver that waited inside a callback would
 * let it tick 0 times. */
static void test_the_loop_runs_on_during_a_conversion(void)
{
    struct rig r; struct seen ea = {0, 1, -1, 0}, eb = {0, 1, -1, 0};
    schd_timer probe;
    int i, a_start, a_look;
    rig_open(&r, 0);
    schd_timer_init(&probe, on_probe, NULL);
    T_REQUIRE(schd_timer_start(&probe, &r.loop, SCHD_MS(1), SCHD_MS(1)) == 0);
    T_EQ(tmp102_read(&r.a, on_done, &ea), 0);
    T_EQ(tmp102_read(&r.b, on_done, &eb), 0);
    for (i = 0; i < 100000 && (ea.calls == 0 || eb.calls == 0); i++) schd_loop_run_once(&r.loop, SCHD_MS(100));
    T_EQ(ea.status, 0);
    T_EQ(eb.status, 0);
    a_start = find_txn(0, 0x48, TMP102_REG_CONFIG, 1);
    a_look = find_txn(0, 0x48, TMP102_REG_CONFIG, 0);
    T_CHECK(a_start >= 0 && a_look > a_start);
    T_CHECK(w.log[a_look].probes > w.log[a_start].probes);
    T_CHECK(r.a.done_ns - r.a.started_ns >= SCHD_MS(26));   /* it did wait for the conversion */
    T_EQ(w.foreign, 0);
    schd_timer_stop(&probe, &r.loop);
    rig_close(&r);
}

/* ---- timeouts and errors ---- */

static void test_a_sensor_that_never_finishes_times_out(void)
{
    struct rig r; struct seen e = {0, 1, -1, 0};
    rig_open(&r, 1);
    chip(0x48)->never_ready = 1;
    T_EQ(tmp102_read(&r.a, on_done, &e), 0);
    advance(&r.loop, SCHD_MS(150));
    T_EQ(e.calls, 1);
    T_EQ(e.status, -ETIMEDOUT);
    T_EQ(e.stage, TMP102_STAGE_CONVERSION);
    T_EQ(r.a.done_ns - r.a.started_ns, SCHD_MS(100));   /* the whole read's timeout */
    T_EQ(r.a.polls, 15);                                /* 26, 31, ... 96 ms */
    T_CHECK(r.bus.res.holder == NULL);
    /* it recovers: the next read shuts it down again and reads it */
    chip(0x48)->never_ready = 0;
    T_EQ(tmp102_read(&r.a, on_done, &e), 0);
    advance(&r.loop, SCHD_MS(50));
    T_EQ(e.calls, 2);
    T_EQ(e.status, 0);
    T_EQ(r.a.sixteenths, 401);
    rig_close(&r);
}

static void test_waiting_for_the_bus_counts_in_the_timeout(void)
{
    struct rig r; struct seen e = {0, 1, -1, 0};
    schd_rhandle hog;
    rig_open(&r, 1);
    schd_resource_handle(&r.bus.res, &hog, NULL);
    T_EQ(schd_resource_try(&hog), 0);          /* another driver keeps the bus */
    r.a.timeout_ns = SCHD_MS(30);
    T_EQ(tmp102_read(&r.a, on_done, &e), 0);
    advance(&r.loop, SCHD_MS(50));
    T_EQ(e.calls, 1);
    T_EQ(e.status, -ETIMEDOUT);
    T_EQ(e.stage, TMP102_STAGE_BUS);
    T_EQ(r.a.done_ns - r.a.started_ns, SCHD_MS(30));
    T_EQ(w.sim.transactions, 0);
    T_EQ(schd_resource_release(&hog), 0);
    T_CHECK(r.bus.res.holder == NULL);         /* the timed-out wait took nothing */
    T_EQ(tmp102_read(&r.a, on_done, &e), 0);
    advance(&r.loop, SCHD_MS(50));
    T_EQ(e.status, 0);
    rig_close(&r);
}

static void test_a_bus_kept_from_the_collection_times_out_at_stage_bus(void)
{
    struct rig r; struct seen e = {0, 1, -1, 0};
    schd_rhandle hog;
    rig_open(&r, 1);
    schd_resource_handle(&r.bus.res, &hog, NULL);
    T_EQ(tmp102_read(&r.a, on_done, &e), 0);
    advance(&r.loop, SCHD_MS(10));             /* converting, the bus free */
    T_EQ(schd_resource_try(&hog), 0);          /* and now kept */
    advance(&r.loop, SCHD_MS(150));
    T_EQ(e.calls, 1);
    T_EQ(e.status, -ETIMEDOUT);
    T_EQ(e.stage, TMP102_STAGE_BUS);
    T_EQ(r.a.done_ns - r.a.started_ns, SCHD_MS(100));
    T_EQ(w.n, 2);                              /* the start, and nothing after it */
    T_EQ(schd_resource_release(&hog), 0);
    rig_close(&r);
}

static void test_a_bus_error_on_one_sensor_leaves_the_other_working(void)
{
    struct rig r; struct seen ea = {0, 1, -1, 0}, eb = {0, 1, -1, 0};
    int round, from;
    rig_open(&r, 1);
    chip(0x49)->fail = -EIO;
    for (round = 0; round < 3; round++) {
        T_EQ(tmp102_read(&r.a, on_done, &ea), 0);
        T_EQ(tmp102_read(&r.b, on_done, &eb), 0);
        advance(&r.loop, SCHD_MS(50));
        T_EQ(ea.status, 0);
        T_EQ(eb.status, -EIO);
        T_EQ(eb.stage, TMP102_STAGE_START);
    }
    T_EQ(ea.calls, 3);
    T_EQ(eb.calls, 3);
    T_EQ(r.bus.errors, 3);
    T_CHECK(r.bus.res.holder == NULL);
    /* the fault clears: 0x49 is shut down again and read */
    chip(0x49)->fail = 0;
    from = w.n;
    T_EQ(tmp102_read(&r.b, on_done, &eb), 0);
    advance(&r.loop, SCHD_MS(50));
    T_EQ(eb.status, 0);
    T_EQ(eb.sixteenths, -52);
    T_EQ(w.log[from].value, TMP102_CFG_SD);
    rig_close(&r);
}

static void test_bus_errors_name_their_stage(void)
{
    struct rig r; struct seen e = {0, 1, -1, 0};
    tmp102_sensor none;
    rig_open(&r, 1);
    T_EQ(tmp102_init(&none, &r.bus, 0x4a), 0);   /* nothing answers there */
    T_EQ(tmp102_read(&none, on_done, &e), 0);
    advance(&r.loop, SCHD_MS(10));
    T_EQ(e.status, -ENXIO);
    T_EQ(e.stage, TMP102_STAGE_START);
    chip(0x48)->fail = -ETIMEDOUT;              /* the adapter gives up while collecting */
    chip(0x48)->fail_after = 2;
    T_EQ(tmp102_read(&r.a, on_done, &e), 0);
    advance(&r.loop, SCHD_MS(50));
    T_EQ(e.status, -ETIMEDOUT);
    T_EQ(e.stage, TMP102_STAGE_RESULT);
    chip(0x48)->fail = -EREMOTEIO;              /* the temperature read fails */
    chip(0x48)->fail_after = 3;
    T_EQ(tmp102_read(&r.a, on_done, &e), 0);
    advance(&r.loop, SCHD_MS(50));
    T_EQ(e.status, -EREMOTEIO);
    T_EQ(e.stage, TMP102_STAGE_RESULT);
    T_EQ(e.calls, 3);
    T_CHECK(r.bus.res.holder == NULL);
    T_STREQ(tmp102_stage_name(TMP102_STAGE_RESULT), "result");
    T_STREQ(tmp102_strerror(-ENXIO), strerror(ENXIO));
    rig_close(&r);
}

static void test_a_second_operation_while_one_runs_is_refused(void)
{
    struct rig r; struct seen e = {0, 1, -1, 0}, e2 = {0, 1, -1, 0};
    rig_open(&r, 1);
    T_EQ(tmp102_read(&r.a, on_done, &e), 0);
    T_EQ(tmp102_read(&r.a, on_done, &e2), -EBUSY);
    T_EQ(tmp102_set_limits(&r.a, 0, 10, on_done, &e2), -EBUSY);
    advance(&r.loop, SCHD_MS(40));
    T_EQ(e.calls, 1);
    T_EQ(e.status, 0);
    T_EQ(e2.calls, 0);
    rig_close(&r);
}

static void test_cancel_ends_a_read_once_and_frees_the_bus(void)
{
    struct rig r; struct seen ea = {0, 1, -1, 0}, eb = {0, 1, -1, 0};
    schd_rhandle hog;
    rig_open(&r, 1);
    T_EQ(tmp102_read(&r.a, on_done, &ea), 0);
    T_EQ(tmp102_read(&r.b, on_done, &eb), 0);
    advance(&r.loop, SCHD_MS(10));             /* both converting */
    T_EQ(tmp102_cancel(&r.a), 0);
    advance(&r.loop, SCHD_MS(40));
    T_EQ(ea.calls, 1);
    T_EQ(ea.status, -ECANCELED);
    T_EQ(eb.calls, 1);
    T_EQ(eb.status, 0);
    T_EQ(tmp102_cancel(&r.a), -EALREADY);
    /* cancelled while waiting for the bus: the wait is withdrawn */
    schd_resource_handle(&r.bus.res, &hog, NULL);
    T_EQ(schd_resource_try(&hog), 0);
    T_EQ(tmp102_read(&r.a, on_done, &ea), 0);
    advance(&r.loop, SCHD_MS(5));
    T_EQ(tmp102_cancel(&r.a), 0);
    advance(&r.loop, SCHD_MS(5));
    T_EQ(ea.calls, 2);
    T_EQ(ea.status, -ECANCELED);
    T_EQ(schd_resource_release(&hog), 0);
    T_CHECK(r.bus.res.holder == NULL);
    T_EQ(w.foreign, 0);
    rig_close(&r);
}

static void test_closing_the_loop_ends_reads_in_flight(void)
{
    struct rig r; struct seen ea = {0, 1, -1, 0}, eb = {0, 1, -1, 0};
    rig_open(&r, 1);
    T_EQ(tmp102_read(&r.a, on_done, &ea), 0);
    T_EQ(tmp102_read(&r.b, on_done, &eb), 0);
    advance(&r.loop, SCHD_MS(10));
    rig_close(&r);
    T_EQ(ea.calls, 1);
    T_EQ(ea.status, -ECANCELED);
    T_EQ(eb.calls, 1);
    T_EQ(eb.status, -ECANCELED);
}

static void test_set_limits_writes_tlow_and_thigh(void)
{
    struct rig r; struct seen e = {0, 1, -1, 0};
    rig_open(&r, 1);
    T_EQ(tmp102_set_limits(&r.a, -80, 480, on_done, &e), 0);   /* -5 C and 30 C */
    advance(&r.loop, SCHD_MS(5));
    T_EQ(e.calls, 1);
    T_EQ(e.status, 0);
    T_EQ(chip(0x48)->tlow, 0xFB00);
    T_EQ(chip(0x48)->thigh, 0x1E00);
    T_EQ(w.n, 3);                              /* the settings, then the limits */
    T_EQ(w.log[0].reg, TMP102_REG_CONFIG);
    T_EQ(w.log[0].value, TMP102_CFG_SD);
    T_EQ(tmp102_set_limits(&r.a, 0, 2400, on_done, &e), -ERANGE);   /* 150 C needs 13 bits */
    T_EQ(tmp102_set_limits(&r.a, 10, 0, on_done, &e), -EINVAL);
    T_EQ(w.n, 3);
    /* extended mode: the chip takes EM before the 13-bit limits */
    r.a.config = TMP102_CFG_EM;
    T_EQ(tmp102_set_limits(&r.a, -880, 2400, on_done, &e), 0);
    advance(&r.loop, SCHD_MS(5));
    T_EQ(e.calls, 2);
    T_EQ(e.status, 0);
    T_EQ(w.log[3].value, TMP102_CFG_SD | TMP102_CFG_EM);
    T_EQ(chip(0x48)->tlow, 0xE480);
    T_EQ(chip(0x48)->thigh, 0x4B00);
    T_EQ(w.n, 6);
    /* a read after it needs no shutdown first */
    T_EQ(tmp102_read(&r.a, on_done, &e), 0);
    advance(&r.loop, SCHD_MS(40));
    T_EQ(e.status, 0);
    T_EQ(w.n, 9);
    rig_close(&r);
}

static void test_bad_arguments_are_refused(void)
{
    struct rig r; tmp102_sensor s; tmp102_bus bus;
    static const tmp102_bus_ops half = {watch_write, NULL};
    rig_open(&r, 1);
    T_EQ(tmp102_init(&s, &r.bus, 0x02), -EINVAL);
    T_EQ(tmp102_init(&s, &r.bus, 0x78), -EINVAL);
    T_EQ(tmp102_init(NULL, &r.bus, 0x48), -EINVAL);
    T_EQ(tmp102_bus_init(&bus, &r.loop, &half, NULL), -EINVAL);
    T_EQ(tmp102_bus_init(&bus, NULL, &watch_ops, NULL), -EINVAL);
    T_EQ(tmp102_read(NULL, NULL, NULL), -EINVAL);
    r.a.timeout_ns = 0;
    T_EQ(tmp102_read(&r.a, NULL, NULL), -EINVAL);
    r.a.timeout_ns = SCHD_MS(100);
    r.a.poll_ns = 0;
    T_EQ(tmp102_read(&r.a, NULL, NULL), -EINVAL);
    T_CHECK(tmp102_sim_add(&w.sim, 0x48, 0) == NULL);   /* taken */
    T_CHECK(tmp102_sim_add(&w.sim, 0x80, 0) == NULL);
    T_EQ(w.sim.transactions, 0);
    rig_close(&r);
}

/* A read from a task: the sensor's own task, joined. */
struct reader { schd_task task; tmp102_sensor *s; int result; };

static int reader_task(schd_task *t)
{
    struct reader *rd = SCHD_CONTAINER_OF(t, struct reader, task);
    SCHD_TASK_BEGIN(t);
    if (tmp102_read(rd->s, NULL, NULL) == 0) SCHD_AWAIT_JOIN(t, &rd->s->task);
    rd->result = rd->s->status == 0 ? rd->s->sixteenths : rd->s->status;
    SCHD_TASK_END(t);
}

static void test_a_task_awaits_a_read_by_joining_it(void)
{
    struct rig r; struct reader rd;
    rig_open(&r, 1);
    memset(&rd, 0, sizeof rd);
    rd.s = &r.b;
    rd.result = 12345;
    T_EQ(schd_task_start(&rd.task, &r.loop, reader_task, NULL), 0);
    advance(&r.loop, SCHD_MS(40));
    T_EQ(schd_task_state(&rd.task), SCHD_TASK_DONE);
    T_EQ(rd.result, -52);
    rig_close(&r);
}

/* ---- i2c-dev, with the kernel played by the test ---- */

#if defined(__has_include)
#if __has_include(<linux/i2c-dev.h>) && __has_include(<linux/i2c.h>)
#define I2C_HAVE_UAPI 1
#include <linux/i2c.h>
#include <linux/i2c-dev.h>
#endif
#endif

static struct {
    int fd;                     /* what fk_open gave; -1 once closed */
    char path[64];
    unsigned long funcs;
    int slave, slaves_set, busy_addr;
    unsigned long timeout;
    int rdwr_short;             /* RDWR answers one message fewer */
    int nmsgs, msg_len[2], msg_flags[2], msg_addr[2];
    uint8_t wrote[3];
    uint16_t smbus_word;        /* as the last SMBus write handed it */
    int smbus_calls, rdwr_calls;
} fk;

static void fk_reset(unsigned long funcs)
{
    memset(&fk, 0, sizeof fk);
    fk.fd = -1;
    fk.slave = -1;
    fk.funcs = funcs;
    tmp102_sim_init(&w.sim);
    w.bus = NULL;
    w.sim.conversion_ns = 0;
    tmp102_sim_add(&w.sim, 0x48, 0x123);      /* raw 0x1230: bytes that show their order */
    tmp102_sim_add(&w.sim, 0x49, -52);
}

static int fk_open(const char *path, int flags)
{
    snprintf(fk.path, sizeof fk.path, "%s", path);
    if (strcmp(path, "/dev/i2c-3") != 0) { errno = ENOENT; return -1; }
    (void)flags;
    return fk.fd = open("/dev/null", O_RDWR | O_CLOEXEC);
}

static int fk_close(int fd)
{
    if (fd == fk.fd) fk.fd = -1;
    return close(fd);
}

static int fk_fail(int e) { errno = e; return -1; }

static int fk_rdwr(struct tmp102__i2c_rdwr *x)
{
    const tmp102_bus_ops *sim = tmp102_sim_ops();
    uint16_t v = 0;
    int i, r;
    fk.rdwr_calls++;
    fk.nmsgs = (int)x->nmsgs;
    for (i = 0; i < 2 && i < (int)x->nmsgs; i++) {
        fk.msg_len[i] = x->msgs[i].len;
        fk.msg_flags[i] = x->msgs[i].flags;
        fk.msg_addr[i] = x->msgs[i].addr;
    }
    if (x->nmsgs == 1 && x->msgs[0].len == 3 && !x->msgs[0].flags) {
        memcpy(fk.wrote, x->msgs[0].buf, 3);
        r = sim->write_reg(&w.sim, x->msgs[0].addr, fk.wrote[0], (uint16_t)(fk.wrote[1] << 8 | fk.wrote[2]));
        return r < 0 ? fk_fail(-r) : 1;
    }
    if (x->nmsgs != 2 || x->msgs[0].len != 1 || x->msgs[1].len != 2 || !(x->msgs[1].flags & TMP102__I2C_M_RD))
        return fk_fail(EINVAL);
    r = sim->read_reg(&w.sim, x->msgs[0].addr, x->msgs[0].buf[0], &v);
    if (r < 0) return fk_fail(-r);
    x->msgs[1].buf[0] = (uint8_t)(v >> 8);    /* the sensor sends its high byte first */
    x->msgs[1].buf[1] = (uint8_t)v;
    return fk.rdwr_short ? 1 : 2;
}

static int fk_smbus(struct tmp102__smbus_ioctl *io)
{
    const tmp102_bus_ops *sim = tmp102_sim_ops();
    uint16_t v = 0;
    int r;
    fk.smbus_calls++;
    if (io->size != TMP102__SMBUS_WORD || fk.slave < 0) return fk_fail(EINVAL);
    if (io->read_write == TMP102__SMBUS_WRITE) {
        fk.smbus_word = io->data->word;         /* low byte first on the wire */
        r = sim->write_reg(&w.sim, (unsigned)fk.slave, io->command,
                           (uint16_t)((io->data->word & 0xff) << 8 | io->data->word >> 8));
        return r < 0 ? fk_fail(-r) : 0;
    }
    r = sim->read_reg(&w.sim, (unsigned)fk.slave, io->command, &v);
    if (r < 0) return fk_fail(-r);
    io->data->word = (uint16_t)((v >> 8) | (v & 0xff) << 8);   /* first byte in the low half */
    return 0;
}

static int fk_ioctl(int fd, unsigned long req, void *arg)
{
    if (fd != fk.fd) return fk_fail(EBADF);
    switch (req) {
    case TMP102__I2C_FUNCS: *(unsigned long *)arg = fk.funcs; return 0;
    case TMP102__I2C_TIMEOUT: fk.timeout = (unsigned long)(uintptr_t)arg; return 0;
    case TMP102__I2C_SLAVE:
        if ((int)(uintptr_t)arg == fk.busy_addr) return fk_fail(EBUSY);
        fk.slave = (int)(uintptr_t)arg;
        fk.slaves_set++;
        return 0;
    case TMP102__I2C_RDWR: return fk_rdwr((struct tmp102__i2c_rdwr *)arg);
    case TMP102__I2C_SMBUS: return fk_smbus((struct tmp102__smbus_ioctl *)arg);
    default: return fk_fail(ENOTTY);
    }
}

#define FK_I2C_AND_SMBUS 0x0eff0001ul   /* what most adapters report */
#define FK_SMBUS_ONLY    0x007f0000ul   /* quick, byte, byte data, word data (i2c-stub) */

static void test_i2cdev_numbers_match_the_kernel_headers(void)
{
#ifdef I2C_HAVE_UAPI
    T_EQ(TMP102__I2C_SLAVE, I2C_SLAVE);
    T_EQ(TMP102__I2C_TIMEOUT, I2C_TIMEOUT);
    T_EQ(TMP102__I2C_FUNCS, I2C_FUNCS);
    T_EQ(TMP102__I2C_RDWR, I2C_RDWR);
    T_EQ(TMP102__I2C_SMBUS, I2C_SMBUS);
    T_EQ(TMP102__I2C_M_RD, I2C_M_RD);
    T_EQ(TMP102__FUNC_I2C, I2C_FUNC_I2C);
    T_EQ(TMP102__FUNC_WORD, I2C_FUNC_SMBUS_WORD_DATA);
    T_EQ(TMP102__SMBUS_READ, I2C_SMBUS_READ);
    T_EQ(TMP102__SMBUS_WRITE, I2C_SMBUS_WRITE);
    T_EQ(TMP102__SMBUS_WORD, I2C_SMBUS_WORD_DATA);
    T_EQ(sizeof(struct tmp102__i2c_msg), sizeof(struct i2c_msg));
    T_EQ(offsetof(struct tmp102__i2c_msg, len), offsetof(struct i2c_msg, len));
    T_EQ(offsetof(struct tmp102__i2c_msg, buf), offsetof(struct i2c_msg, buf));
    T_EQ(sizeof(struct tmp102__i2c_rdwr), sizeof(struct i2c_rdwr_ioctl_data));
    T_EQ(offsetof(struct tmp102__i2c_rdwr, nmsgs), offsetof(struct i2c_rdwr_ioctl_data, nmsgs));
    T_EQ(sizeof(union tmp102__smbus_data), sizeof(union i2c_smbus_data));
    T_EQ(sizeof(struct tmp102__smbus_ioctl), sizeof(struct i2c_smbus_ioctl_data));
    T_EQ(offsetof(struct tmp102__smbus_ioctl, size), offsetof(struct i2c_smbus_ioctl_data, size));
    T_EQ(offsetof(struct tmp102__smbus_ioctl, data), offsetof(struct i2c_smbus_ioctl_data, data));
#else
    /* no kernel headers here (musl): the layouts they would give */
    T_EQ(offsetof(struct tmp102__i2c_msg, buf), 8);
    T_EQ(sizeof(struct tmp102__i2c_msg), 8 + sizeof(void *));
    T_EQ(sizeof(union tmp102__smbus_data), 34);
    T_EQ(offsetof(struct tmp102__smbus_ioctl, data), 8);
#endif
}

/* A whole read of each sensor over the played i2c-dev. */
static void read_over_i2cdev(tmp102_i2cdev *dev, struct seen *ea, struct seen *eb)
{
    schd_loop loop; tmp102_bus bus; tmp102_sensor a, b;
    int i;
    T_REQUIRE(schd_loop_init(&loop) == 0);
    T_REQUIRE(tmp102_bus_init(&bus, &loop, tmp102_i2cdev_ops(), dev) == 0);
    T_REQUIRE(tmp102_init(&a, &bus, 0x48) == 0 && tmp102_init(&b, &bus, 0x49) == 0);
    a.conversion_ns = b.conversion_ns = 0;     /* the played chips convert at once */
    tmp102_read(&a, on_done, ea);
    tmp102_read(&b, on_done, eb);
    for (i = 0; i < 50 && (ea->calls == 0 || eb->calls == 0); i++) schd_loop_run_once(&loop, SCHD_MS(10));
    schd_loop_close(&loop);
}

static void test_i2cdev_uses_one_rdwr_per_transaction(void)
{
    tmp102_i2cdev dev; struct seen ea = {0, 1, -1, 0}, eb = {0, 1, -1, 0};
    fk_reset(FK_I2C_AND_SMBUS);
    T_EQ(tmp102_i2cdev_open(&dev, "3", 0), 0);  /* a number is /dev/i2c-N */
    T_STREQ(fk.path, "/dev/i2c-3");
    T_EQ(dev.smbus, 0);
    read_over_i2cdev(&dev, &ea, &eb);
    T_EQ(ea.status, 0);
    T_EQ(ea.sixteenths, 0x123);
    T_EQ(eb.status, 0);
    T_EQ(eb.sixteenths, -52);
    T_EQ(fk.smbus_calls, 0);
    /* the last: the temperature of 0x49, a pointer write and a 2-byte read */
    T_EQ(fk.nmsgs, 2);
    T_EQ(fk.msg_len[0], 1);
    T_EQ(fk.msg_flags[0], 0);
    T_EQ(fk.msg_len[1], 2);
    T_EQ(fk.msg_flags[1], TMP102__I2C_M_RD);
    T_EQ(fk.msg_addr[1], 0x49);
    /* a configuration write is one message: the pointer and two bytes */
    T_EQ(fk.wrote[0], TMP102_REG_CONFIG);
    T_EQ(fk.wrote[1], (TMP102_CFG_SD | TMP102_CFG_OS) >> 8);
    T_EQ(fk.wrote[2], 0);
    T_EQ(fk.rdwr_calls, 8);
    T_EQ(fk.slaves_set, 4);                    /* asked once per change of address */
    tmp102_i2cdev_close(&dev);
    T_EQ(fk.fd, -1);
}

static void test_i2cdev_smbus_only_adapters_get_swapped_words(void)
{
    tmp102_i2cdev dev; struct seen ea = {0, 1, -1, 0}, eb = {0, 1, -1, 0};
    fk_reset(FK_SMBUS_ONLY);
    T_EQ(tmp102_i2cdev_open(&dev, "/dev/i2c-3", 0), 0);
    T_EQ(dev.smbus, 1);
    read_over_i2cdev(&dev, &ea, &eb);
    T_EQ(ea.status, 0);
    T_EQ(ea.sixteenths, 0x123);                /* 0x1230 on the wire as 0x12, 0x30 */
    T_EQ(eb.sixteenths, -52);
    T_EQ(fk.rdwr_calls, 0);
    T_EQ(fk.smbus_calls, 8);
    T_EQ(fk.smbus_word, 0x0081);               /* SD | OS, high byte first on the wire */
    T_EQ(fk.slaves_set, 4);                    /* only when the address changes: A A B B A A B B */
    tmp102_i2cdev_close(&dev);
    /* asked for, SMBus also where plain I2C works */
    fk_reset(FK_I2C_AND_SMBUS);
    T_EQ(tmp102_i2cdev_open(&dev, "/dev/i2c-3", TMP102_I2CDEV_SMBUS), 0);
    T_EQ(dev.smbus, 1);
    tmp102_i2cdev_close(&dev);
}

static void test_i2cdev_refusals_and_errors(void)
{
    tmp102_i2cdev dev; struct seen ea = {0, 1, -1, 0}, eb = {0, 1, -1, 0};
    fk_reset(FK_I2C_AND_SMBUS);
    T_EQ(tmp102_i2cdev_open(&dev, "/dev/i2c-9", 0), -ENOENT);
    T_EQ(tmp102_i2cdev_open(&dev, "", 0), -EINVAL);
    T_EQ(tmp102_i2cdev_open(&dev, "3", 8), -EINVAL);
    fk_reset(0x00010000ul);                    /* quick commands only */
    T_EQ(tmp102_i2cdev_open(&dev, "3", 0), -ENOTSUP);
    T_EQ(fk.fd, -1);                           /* closed again */
    /* a kernel driver holds 0x49; the adapter bounds its transfers */
    fk_reset(FK_I2C_AND_SMBUS);
    fk.busy_addr = 0x49;
    T_EQ(tmp102_i2cdev_open(&dev, "3", 0), 0);
    T_EQ(tmp102_i2cdev_set_timeout(&dev, SCHD_MS(25)), 0);
    T_EQ(fk.timeout, 3);                       /* 10 ms steps, rounded up */
    T_EQ(tmp102_i2cdev_set_timeout(&dev, 0), -EINVAL);
    read_over_i2cdev(&dev, &ea, &eb);
    T_EQ(ea.status, 0);
    T_EQ(eb.status, -EBUSY);
    T_EQ(eb.stage, TMP102_STAGE_START);
    /* a transfer the kernel cut short */
    fk.rdwr_short = 1;
    fk.busy_addr = 0;
    memset(&ea, 0, sizeof ea);
    memset(&eb, 0, sizeof eb);
    read_over_i2cdev(&dev, &ea, &eb);
    T_EQ(ea.status, -EIO);
    T_EQ(ea.stage, TMP102_STAGE_RESULT);
    /* no device at the address: the kernel's -ENXIO comes through */
    fk.rdwr_short = 0;
    w.sim.chip[1].addr = 0x4c;
    memset(&eb, 0, sizeof eb);
    read_over_i2cdev(&dev, &ea, &eb);
    T_EQ(eb.status, -ENXIO);
    tmp102_i2cdev_close(&dev);
    tmp102_i2cdev_close(&dev);                 /* twice: nothing */
    T_EQ(fk.fd, -1);
}

/* ---- the loop's worst stall, with the bus's time injected ---- */

static struct { int64_t worst_ns; unsigned long worst_txns, dispatches; } stall;

/* One iteration as a foreign loop would run it, so that the time the
 * loop spends working (dispatch) is measured apart from its waiting. */
static void iterate_measured(schd_loop *loop)
{
    struct pollfd fds[8];
    int64_t deadline = SCHD_NO_DEADLINE, now, t0, took;
    unsigned long txns;
    int n = schd_loop_prepare(loop, fds, 8, &deadline), ms;
    now = schd_now_ns();
    ms = deadline == SCHD_NO_DEADLINE ? 100 : deadline <= now ? 0 : (int)((deadline - now + 999999) / 1000000);
    (void)poll(fds, (nfds_t)(n < 8 ? n : 8), ms > 100 ? 100 : ms);
    txns = w.sim.transactions;
    t0 = schd_now_ns();
    schd_loop_dispatch(loop, fds, n < 8 ? n : 8);
    took = schd_now_ns() - t0;
    stall.dispatches++;
    if (took > stall.worst_ns) stall.worst_ns = took;
    if (w.sim.transactions - txns > stall.worst_txns) stall.worst_txns = w.sim.transactions - txns;
}

static void reads_with_latency(int64_t latency, int hung, struct seen *ea, struct seen *eb, tmp102_bus *out)
{
    struct rig r;
    int round, i;
    rig_open(&r, 0);
    w.sim.latency_ns = latency;
    if (hung) {                                /* 0x49's transactions hang until the adapter gives up */
        chip(0x49)->latency_ns = hung;
        chip(0x49)->fail = -ETIMEDOUT;
    }
    memset(&stall, 0, sizeof stall);
    for (round = 0; round < 4; round++) {
        int calls_a = ea->calls, calls_b = eb->calls;
        T_EQ(tmp102_read(&r.a, on_done, ea), 0);
        T_EQ(tmp102_read(&r.b, on_done, eb), 0);
        for (i = 0; i < 10000 && (ea->calls == calls_a || eb->calls == calls_b); i++) iterate_measured(&r.loop);
    }
    *out = r.bus;
    T_EQ(w.foreign, 0);
    T_EQ(w.overlaps, 0);
    rig_close(&r);
}

static void test_worst_loop_stall_with_injected_bus_timing(void)
{
    struct seen ea = {0, 1, -1, 0}, eb = {0, 1, -1, 0};
    tmp102_bus bus;
    double worst, hung_worst;
    unsigned long txns;
    const int64_t latency = SCHD_US(500);      /* a 5-byte transfer at 100 kHz, and the kernel's part */
    reads_with_latency(latency, 0, &ea, &eb, &bus);
    T_EQ(ea.calls, 4);
    T_EQ(ea.status, 0);
    T_EQ(eb.status, 0);
    /* structure: at most two transactions per sensor in one iteration,
     * and the longest transaction is the injected one (lower bounds only:
     * a loaded machine can only make them longer) */
    T_CHECK(stall.worst_txns >= 1 && stall.worst_txns <= 4);
    T_CHECK(bus.longest_ns >= latency);
    T_CHECK(stall.worst_ns >= latency);
    worst = (double)stall.worst_ns / 1e6;
    txns = stall.worst_txns;
    printf("NOTE i2c stall: %.2f ms per transaction injected: worst dispatch %.2f ms (at most %lu transactions in one),"
           " longest transaction %.2f ms, %lu dispatches\n",
           (double)latency / 1e6, worst, txns, (double)bus.longest_ns / 1e6, stall.dispatches);
    /* a hung transaction: the stall is the adapter's timeout */
    memset(&ea, 0, sizeof ea);
    memset(&eb, 0, sizeof eb);
    reads_with_latency(latency, SCHD_MS(20), &ea, &eb, &bus);
    T_EQ(ea.status, 0);
    T_EQ(eb.status, -ETIMEDOUT);
    T_EQ(eb.stage, TMP102_STAGE_START);
    T_CHECK(stall.worst_ns >= SCHD_MS(20));
    hung_worst = (double)stall.worst_ns / 1e6;
    printf("NOTE i2c stall: a transaction that hangs 20 ms and fails (ETIMEDOUT): worst dispatch %.2f ms\n", hung_worst);
}

int main(void)
{
    t_suite("i2c");
    T_RUN(test_decode_normal_mode_datasheet_values);
    T_RUN(test_decode_extended_mode_datasheet_values);
    T_RUN(test_limits_round_trip_at_their_boundaries);
    T_RUN(test_a_read_starts_a_one_shot_and_collects_it);
    T_RUN(test_a_slow_conversion_is_looked_at_again);
    T_RUN(test_extended_mode_reads_13_bits);
    T_RUN(test_two_sensors_share_the_bus_without_overlap);
    T_RUN(test_the_loop_runs_on_during_a_conversion);
    T_RUN(test_a_sensor_that_never_finishes_times_out);
    T_RUN(test_waiting_for_the_bus_counts_in_the_timeout);
    T_RUN(test_a_bus_kept_from_the_collection_times_out_at_stage_bus);
    T_RUN(test_a_bus_error_on_one_sensor_leaves_the_other_working);
    T_RUN(test_bus_errors_name_their_stage);
    T_RUN(test_a_second_operation_while_one_runs_is_refused);
    T_RUN(test_cancel_ends_a_read_once_and_frees_the_bus);
    T_RUN(test_closing_the_loop_ends_reads_in_flight);
    T_RUN(test_set_limits_writes_tlow_and_thigh);
    T_RUN(test_bad_arguments_are_refused);
    T_RUN(test_a_task_awaits_a_read_by_joining_it);
    T_RUN(test_i2cdev_numbers_match_the_kernel_headers);
    T_RUN(test_i2cdev_uses_one_rdwr_per_transaction);
    T_RUN(test_i2cdev_smbus_only_adapters_get_swapped_words);
    T_RUN(test_i2cdev_refusals_and_errors);
    T_RUN(test_worst_loop_stall_with_injected_bus_timing);
    return t_done();
}
