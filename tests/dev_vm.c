/* tests/dev_vm.c - asyncdev.h and examples/tmp102.h against the real
 * kernel of the test VM (tests/vm/dev.sh prepares it).  Runs only there,
 * as root:
 *
 *   DEV_VM_CHIP   a gpio-sim chip (gpiochipN) of 8 lines; its simulator's
 *                 sysfs folder DEV_VM_SIM holds sim_gpioK/pull (what
 *                 drives an input) and sim_gpioK/value (what an output is)
 *   DEV_VM_I2C    the i2c-dev node of i2c-stub's adapter, which serves
 *                 SMBus register maps at DEV_VM_I2C_ADDR (one TMP102)
 *   /dev/uinput   input devices the tests create themselves
 *
 * Covers inputs with bias and edges, the kernel's timestamps and sequence
 * numbers, an edge storm that overflows the kernel's event queue (lost
 * events), outputs read back by the simulator, a close that delivers what
 * the kernel still held; the TMP102 driver's i2c-dev path on SMBus word
 * transfers; key and relative-axis devices feeding sched.h's button and
 * the encoder, a dropped frame, a device removed while watched. */
#define _GNU_SOURCE 1
#define ASYNCKIT_IMPLEMENTATION
#define TMP102_IMPLEMENTATION
#include "sched.h"
#include "asyncdev.h"
#include "examples/tmp102.h"
#include "tests/harness.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/i2c.h>
#include <linux/i2c-dev.h>
#include <linux/uinput.h>

static const char *chip, *sim;

/* ---- the simulator's side ---- */

static int sim_write(unsigned line, const char *attr, const char *text)
{
    char path[256];
    int fd, r;
    snprintf(path, sizeof path, "%s/sim_gpio%u/%s", sim, line, attr);
    if ((fd = open(path, O_WRONLY)) < 0) return -errno;
    r = write(fd, text, strlen(text)) < 0 ? -errno : 0;
    close(fd);
    return r;
}

/* The level the simulator sees on a line: 0, 1, or <0. */
static int sim_value(unsigned line)
{
    char path[256], c = '?';
    int fd;
    snprintf(path, sizeof path, "%s/sim_gpio%u/value", sim, line);
    if ((fd = open(path, O_RDONLY)) < 0) return -errno;
    if (read(fd, &c, 1) != 1) c = '?';
    close(fd);
    return c == '0' ? 0 : c == '1' ? 1 : -EIO;
}

static int sim_pull(unsigned line, int up) { return sim_write(line, "pull", up ? "pull-up" : "pull-down"); }

/* ---- lines, watched ---- */

#define MAXEV 256
static adev_line_event got[MAXEV];
static int ngot, closed, last_status;

static void on_line(adev_lines *req, int status, const adev_line_event *ev, void *ud)
{
    (void)req; (void)ud;
    last_status = status;
    if (ev && ngot < MAXEV) got[ngot++] = *ev;
}

static void on_close(adev_lines *req, int status, const adev_line_event *ev, void *ud)
{
    (void)req; (void)ev; (void)ud;
    closed = ngot + 1;          /* after how many events the close came */
    last_status = status;
}

/* Runs the context until n events came or a second went by. */
static void run_until_events(adev_ctx *ctx, int n)
{
    int64_t end = adev_now_ns() + ADEV_SEC(1);
    while (ngot < n && adev_now_ns() < end) adev_run_once(ctx, ADEV_MS(50));
}

static int open_line(adev_lines *req, adev_ctx *ctx, unsigned line, unsigned flags, unsigned buffer)
{
    adev_line_config cfg;
    adev_line_config_init(&cfg);
    cfg.flags = flags;
    cfg.consumer = "dev_vm";
    cfg.event_buffer = buffer;
    ngot = 0; closed = 0; last_status = 1;
    return adev_lines_open(req, ctx, chip, &line, 1, &cfg);
}

static void close_line(adev_ctx *ctx, adev_lines *req)
{
    int64_t end = adev_now_ns() + ADEV_SEC(1);
    adev_lines_close(req, on_close, NULL);
    while (!closed && adev_now_ns() < end) adev_run_once(ctx, ADEV_MS(50));
}

static void test_chip_info_names_the_simulator(void)
{
    char name[32], label[32];
    unsigned lines = 0;
    T_EQ(adev_chip_info(chip, name, label, &lines), 0);
    T_STREQ(name, chip);
    T_EQ(lines, 8);
    T_CHECK(strncmp(label, "gpio-sim", 8) == 0);
}

static void test_bias_sets_the_level_an_input_reads(void)
{
    adev_ctx ctx; adev_lines req;
    uint64_t bits = 9;
    T_REQUIRE(adev_ctx_init(&ctx) == 0);
    T_EQ(open_line(&req, &ctx, 1, ADEV_LINE_INPUT | ADEV_LINE_PULL_UP, 0), 0);
    T_EQ(adev_lines_get(&req, &bits), 0);
    T_EQ(bits, 1);
    T_EQ(sim_value(1), 1);
    close_line(&ctx, &req);
    T_EQ(open_line(&req, &ctx, 1, ADEV_LINE_INPUT | ADEV_LINE_PULL_DOWN, 0), 0);
    T_EQ(adev_lines_get(&req, &bits), 0);
    T_EQ(bits, 0);
    close_line(&ctx, &req);
    /* active low: the same pull-down level reads as active */
    T_EQ(open_line(&req, &ctx, 1, ADEV_LINE_INPUT | ADEV_LINE_PULL_DOWN | ADEV_LINE_ACTIVE_LOW, 0), 0);
    T_EQ(adev_lines_get(&req, &bits), 0);
    T_EQ(bits, 1);
    close_line(&ctx, &req);
    adev_ctx_close(&ctx);
}

static void test_edges_carry_the_kernels_times_and_numbers(void)
{
    adev_ctx ctx; adev_lines req;
    int64_t before[4], after[4];
    int i;
    T_REQUIRE(adev_ctx_init(&ctx) == 0);
    T_EQ(open_line(&req, &ctx, 0, ADEV_LINE_EDGE_BOTH | ADEV_LINE_PULL_DOWN, 0), 0);
    T_EQ(adev_lines_watch(&req, on_line, NULL), 0);
    for (i = 0; i < 4; i++) {
        before[i] = adev_now_ns();
        T_EQ(sim_pull(0, !(i & 1)), 0);          /* up, down, up, down */
        after[i] = adev_now_ns();
        adev_run_once(&ctx, 0);
    }
    run_until_events(&ctx, 4);
    T_EQ(ngot, 4);
    for (i = 0; i < 4; i++) {
        T_EQ(got[i].rising, !(i & 1));
        T_EQ(got[i].seqno, i + 1);
        T_EQ(got[i].line_seqno, i + 1);
        T_EQ(got[i].offset, 0);
        T_EQ(got[i].index, 0);
        T_EQ(got[i].missed, 0);
        /* CLOCK_MONOTONIC, taken while the write that made the edge ran */
        T_CHECK(got[i].time_ns >= before[i] && got[i].time_ns <= after[i]);
    }
    T_EQ(req.missed, 0);
    close_line(&ctx, &req);
    T_EQ(closed, 5);
    adev_ctx_close(&ctx);
}

static void test_only_the_edges_asked_for_come(void)
{
    adev_ctx ctx; adev_lines req;
    int i;
    T_REQUIRE(adev_ctx_init(&ctx) == 0);
    T_EQ(open_line(&req, &ctx, 3, ADEV_LINE_EDGE_FALLING | ADEV_LINE_PULL_DOWN, 0), 0);
    T_EQ(adev_lines_watch(&req, on_line, NULL), 0);
    for (i = 0; i < 6; i++) T_EQ(sim_pull(3, !(i & 1)), 0);
    run_until_events(&ctx, 3);
    adev_run_once(&ctx, ADEV_MS(50));                 /* nothing more comes */
    T_EQ(ngot, 3);
    for (i = 0; i < ngot; i++) T_EQ(got[i].rising, 0);
    close_line(&ctx, &req);
    adev_ctx_close(&ctx);
}

/* 200 edges while nobody reads, into a queue of 16: the kernel keeps the
 * newest, and the gap in its numbers is reported as lost events. */
static void test_an_edge_storm_is_reported_as_lost_events(void)
{
    enum { EDGES = 200, QUEUE = 16 };
    adev_ctx ctx; adev_lines req;
    unsigned long missed_seen = 0;
    int i;
    T_REQUIRE(adev_ctx_init(&ctx) == 0);
    T_EQ(open_line(&req, &ctx, 2, ADEV_LINE_EDGE_BOTH | ADEV_LINE_PULL_DOWN, QUEUE), 0);
    for (i = 0; i < EDGES; i++) T_EQ(sim_pull(2, !(i & 1)), 0);
    T_EQ(adev_lines_watch(&req, on_line, NULL), 0);
    run_until_events(&ctx, QUEUE);
    adev_run_once(&ctx, ADEV_MS(50));
    T_EQ(ngot, QUEUE);
    for (i = 0; i < ngot; i++) missed_seen += got[i].missed;
    T_EQ(got[0].missed, EDGES - QUEUE);               /* all before the first kept one */
    T_EQ(missed_seen, EDGES - QUEUE);
    T_EQ(req.missed, EDGES - QUEUE);
    T_EQ(got[ngot - 1].seqno, EDGES);                 /* the kernel saw every edge */
    T_EQ(got[ngot - 1].rising, 0);                    /* and the last was down */
    for (i = 1; i < ngot; i++) T_EQ(got[i].rising, !got[i - 1].rising);
    /* after the storm the line works as before */
    T_EQ(sim_pull(2, 1), 0);
    run_until_events(&ctx, QUEUE + 1);
    T_EQ(ngot, QUEUE + 1);
    T_EQ(got[QUEUE].seqno, EDGES + 1);
    T_EQ(got[QUEUE].missed, 0);
    close_line(&ctx, &req);
    adev_ctx_close(&ctx);
}

static void test_outputs_are_what_the_simulator_sees(void)
{
    adev_ctx ctx; adev_lines req;
    adev_line_config cfg;
    const unsigned lines[2] = {4, 5};
    uint64_t bits = 9;
    T_REQUIRE(adev_ctx_init(&ctx) == 0);
    adev_line_config_init(&cfg);
    cfg.flags = ADEV_LINE_OUTPUT;
    cfg.values = 1;                                  /* line 4 high, line 5 low */
    T_EQ(adev_lines_open(&req, &ctx, chip, lines, 2, &cfg), 0);
    T_EQ(sim_value(4), 1);
    T_EQ(sim_value(5), 0);
    T_EQ(adev_lines_set(&req, 2, 3), 0);
    T_EQ(sim_value(4), 0);
    T_EQ(sim_value(5), 1);
    T_EQ(adev_lines_set(&req, 1, 1), 0);             /* the mask leaves line 5 alone */
    T_EQ(sim_value(4), 1);
    T_EQ(sim_value(5), 1);
    T_EQ(adev_lines_get(&req, &bits), 0);
    T_EQ(bits, 3);
    closed = 0;
    close_line(&ctx, &req);
    T_CHECK(closed);
    adev_ctx_close(&ctx);
}

static void test_a_line_held_by_another_request_is_busy(void)
{
    adev_ctx ctx; adev_lines a, b;
    T_REQUIRE(adev_ctx_init(&ctx) == 0);
    T_EQ(open_line(&a, &ctx, 6, ADEV_LINE_INPUT, 0), 0);
    T_EQ(open_line(&b, &ctx, 6, ADEV_LINE_INPUT, 0), -EBUSY);
    close_line(&ctx, &a);
    adev_ctx_close(&ctx);
}

/* Edges the kernel holds when the close is asked for still come, before
 * the close's own callback. */
static void test_close_delivers_what_the_kernel_held(void)
{
    adev_ctx ctx; adev_lines req;
    int i;
    T_REQUIRE(adev_ctx_init(&ctx) == 0);
    T_EQ(open_line(&req, &ctx, 7, ADEV_LINE_EDGE_BOTH | ADEV_LINE_PULL_DOWN, 0), 0);
    T_EQ(adev_lines_watch(&req, on_line, NULL), 0);
    for (i = 0; i < 5; i++) T_EQ(sim_pull(7, !(i & 1)), 0);
    close_line(&ctx, &req);
    T_EQ(ngot, 5);
    T_EQ(closed, 6);
    T_EQ(last_status, 0);
    T_EQ(got[4].seqno, 5);
    adev_ctx_close(&ctx);
}

/* ---- I2C: i2c-stub's register map through the TMP102 driver ---- */

static int i2c_put_word(const char *path, unsigned addr, unsigned reg, uint16_t sensor_order)
{
    union i2c_smbus_data data;
    struct i2c_smbus_ioctl_data io;
    int fd = open(path, O_RDWR), r;
    if (fd < 0) return -errno;
    data.word = (uint16_t)((sensor_order << 8) | (sensor_order >> 8));   /* SMBus: low byte first */
    io.read_write = I2C_SMBUS_WRITE;
    io.command = (uint8_t)reg;
    io.size = I2C_SMBUS_WORD_DATA;
    io.data = &data;
    r = ioctl(fd, I2C_SLAVE, addr) < 0 || ioctl(fd, I2C_SMBUS, &io) < 0 ? -errno : 0;
    close(fd);
    return r;
}

static int tmp_done, tmp_status;
static void on_tmp(tmp102_sensor *s, int status, void *ud) { (void)s; (void)ud; tmp_done++; tmp_status = status; }

/* One read of the sensor at addr; its status. */
static int tmp_read(tmp102_sensor *s, unsigned addr)
{
    schd_loop loop; tmp102_bus bus; tmp102_i2cdev dev;
    int64_t end;
    const char *path = getenv("DEV_VM_I2C");
    int r;
    if (!path) return -ENOENT;
    if ((r = tmp102_i2cdev_open(&dev, path, 0)) != 0) return r;
    schd_loop_init(&loop);
    tmp102_bus_init(&bus, &loop, tmp102_i2cdev_ops(), &dev);
    tmp102_init(s, &bus, addr);
    tmp_done = 0; tmp_status = 1;
    r = tmp102_read(s, on_tmp, NULL);
    end = adev_now_ns() + ADEV_SEC(2);
    while (r == 0 && !tmp_done && adev_now_ns() < end) schd_loop_run_once(&loop, ADEV_MS(50));
    if (r == 0) r = tmp_done == 1 ? tmp_status : -ETIMEDOUT;
    if (dev.smbus != 1) r = -EPROTO;                 /* i2c-stub has no plain I2C */
    schd_loop_close(&loop);
    tmp102_i2cdev_close(&dev);
    return r;
}

static void test_tmp102_reads_the_stubs_registers(void)
{
    tmp102_sensor s;
    unsigned addr = (unsigned)strtoul(getenv("DEV_VM_I2C_ADDR") ? getenv("DEV_VM_I2C_ADDR") : "0x48", NULL, 0);
    T_EQ(i2c_put_word(getenv("DEV_VM_I2C"), addr, 0, 0x1910), 0);   /* 25.0625 degC */
    T_EQ(tmp_read(&s, addr), 0);
    T_EQ(s.raw, 0x1910);
    T_EQ(s.sixteenths, 401);
    T_EQ(i2c_put_word(getenv("DEV_VM_I2C"), addr, 0, 0xe700), 0);   /* -25 degC */
    T_EQ(tmp_read(&s, addr), 0);
    T_EQ(s.sixteenths, -400);
}

static void test_tmp102_at_an_address_nobody_serves_fails(void)
{
    tmp102_sensor s;
    int r = tmp_read(&s, 0x4b);
    T_CHECK(r < 0 && r != -ETIMEDOUT && r != -EPROTO);
    T_EQ(s.stage, TMP102_STAGE_START);
}

/* ---- input devices made with uinput ---- */

/* what the events of the test running feed, if anything */
static schd_button *button;
static adev_encoder *encoder;

typedef struct udev_made { int fd; char event[300]; } udev_made;

static int emit(int fd, unsigned type, unsigned code, int value)
{
    struct input_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = (unsigned short)type;
    ev.code = (unsigned short)code;
    ev.value = value;
    return write(fd, &ev, sizeof ev) == (ssize_t)sizeof ev ? 0 : -errno;
}

static int frame(int fd, unsigned type, unsigned code, int value)
{
    int r = emit(fd, type, code, value);
    return r ? r : emit(fd, EV_SYN, SYN_REPORT, 0);
}

/* A uinput device with one key (key != 0) or one relative axis (rel >= 0);
 * its event node in u->event. */
static int uinput_make(udev_made *u, const char *name, unsigned key, int rel)
{
    struct uinput_setup setup;
    char sys[64], dir[160];
    DIR *d;
    struct dirent *e;
    button = NULL;                               /* a test that failed half way may have left them */
    encoder = NULL;
    u->fd = open("/dev/uinput", O_WRONLY | O_NONBLOCK);
    u->event[0] = 0;
    if (u->fd < 0) return -errno;
    if (key) { ioctl(u->fd, UI_SET_EVBIT, EV_KEY); ioctl(u->fd, UI_SET_KEYBIT, key); }
    if (rel >= 0) { ioctl(u->fd, UI_SET_EVBIT, EV_REL); ioctl(u->fd, UI_SET_RELBIT, rel); }
    memset(&setup, 0, sizeof setup);
    setup.id.bustype = BUS_VIRTUAL;
    setup.id.vendor = 0x1209;
    setup.id.product = 0x0005;
    snprintf(setup.name, sizeof setup.name, "%s", name);
    if (ioctl(u->fd, UI_DEV_SETUP, &setup) < 0 || ioctl(u->fd, UI_DEV_CREATE) < 0 ||
        ioctl(u->fd, UI_GET_SYSNAME(sizeof sys), sys) < 0) return -errno;
    snprintf(dir, sizeof dir, "/sys/devices/virtual/input/%s", sys);
    if (!(d = opendir(dir))) return -errno;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "event", 5) == 0) snprintf(u->event, sizeof u->event, "/dev/input/%s", e->d_name);
    closedir(d);
    return u->event[0] && access(u->event, R_OK) == 0 ? 0 : -ENOENT;
}

static void uinput_gone(udev_made *u)
{
    if (u->fd < 0) return;
    ioctl(u->fd, UI_DEV_DESTROY);
    close(u->fd);
    u->fd = -1;
}

static adev_input_event iev[MAXEV];
static int niev, in_closed, in_status;

static void on_input(adev_input *in, int status, const adev_input_event *ev, void *ud)
{
    (void)in; (void)ud;
    in_status = status;
    if (!ev) return;
    if (niev < MAXEV) iev[niev++] = *ev;
    if (button && ev->type == ADEV_EV_KEY) schd_button_feed_at(button, ev->value != 0, ev->time_ns);
    if (encoder && ev->type == ADEV_EV_REL) adev_encoder_move(encoder, ev->value);
}

static void on_input_close(adev_input *in, int status, const adev_input_event *ev, void *ud)
{
    (void)in; (void)ev; (void)ud; (void)status;
    in_closed = 1;
}

static char btn_log[256];
static int64_t btn_t0;
static void on_btn(schd_button *b, int ev, void *ud)
{
    char one[48];
    (void)ud;
    snprintf(one, sizeof one, "%s ", schd_button_event_name(ev));
    strcat(btn_log, one);
    if (ev == SCHD_BTN_PRESS && (b->event_ns - btn_t0 < ADEV_MS(20) || b->event_ns - btn_t0 > ADEV_MS(200)))
        strcat(btn_log, "(late) ");
}

static void run_loop_until(schd_loop *loop, int *flag, int64_t ns)
{
    int64_t end = adev_now_ns() + ns;
    while (!*flag && adev_now_ns() < end) schd_loop_run_once(loop, ADEV_MS(20));
}

/* A press held 60 ms on a real key device: the button, fed the kernel's
 * monotonic times, reports press and release, and the key's state is
 * what the kernel says.  The checks run in a function of their own, so
 * that a failing one still lets the test take its button and loop down. */
static void key_round(schd_loop *loop, adev_input *in, int fd)
{
    char name[64];
    int64_t before, after;
    int never = 0;
    T_EQ(adev_input_name(in, name, sizeof name), 0);
    T_STREQ(name, "dev_vm button");
    T_EQ(adev_input_watch(in, on_input, NULL), 0);
    before = adev_now_ns();
    btn_t0 = before;
    T_EQ(frame(fd, EV_KEY, KEY_ENTER, 1), 0);
    after = adev_now_ns();
    schd_loop_run_once(loop, ADEV_MS(10));
    T_EQ(adev_input_key_state(in, KEY_ENTER), 1);
    usleep(60000);
    T_EQ(frame(fd, EV_KEY, KEY_ENTER, 0), 0);
    run_loop_until(loop, &never, ADEV_MS(200));    /* the release's debounce and click */
    T_EQ(adev_input_key_state(in, KEY_ENTER), 0);
    T_EQ(niev, 4);                                   /* key, report, key, report */
    T_EQ(iev[0].type, ADEV_EV_KEY);
    T_EQ(iev[0].value, 1);
    T_EQ(iev[1].type, ADEV_EV_SYN);
    /* the kernel's time is CLOCK_MONOTONIC (EVIOCSCLOCKID), not wall time */
    T_CHECK(iev[0].time_ns >= before && iev[0].time_ns <= after);
    T_CHECK(iev[2].time_ns - iev[0].time_ns >= ADEV_MS(55));
    T_STREQ(btn_log, "press release click ");
}

static void test_uinput_key_drives_the_button(void)
{
    udev_made u;
    schd_loop loop; schd_source src; adev_ctx ctx; adev_input in; schd_button b;
    schd_button_config cfg = schd_button_config_init();
    int opened;
    T_EQ(uinput_make(&u, "dev_vm button", KEY_ENTER, -1), 0);
    T_REQUIRE(schd_loop_init(&loop) == 0 && adev_ctx_init(&ctx) == 0);
    T_REQUIRE(adev_attach(&ctx, &loop, &src) == 0);
    cfg.double_ns = 0; cfg.long_ns = 0;
    T_REQUIRE(schd_button_init(&b, &loop, &cfg, on_btn, NULL) == 0);
    button = &b; niev = 0; btn_log[0] = 0; in_closed = 0;
    opened = adev_input_open(&in, &ctx, u.event, 0) == 0;
    if (opened) {
        key_round(&loop, &in, u.fd);
        adev_input_close(&in, on_input_close, NULL);
        run_loop_until(&loop, &in_closed, ADEV_SEC(1));
    }
    button = NULL;
    schd_button_stop(&b);
    schd_source_remove(&src);
    adev_ctx_close(&ctx);
    schd_loop_close(&loop);
    uinput_gone(&u);
    T_CHECK(opened);
    T_CHECK(in_closed);
}

static void test_uinput_dial_moves_the_encoder(void)
{
    udev_made u;
    adev_ctx ctx; adev_input in; adev_encoder e;
    const int moves[5] = {1, 1, -1, 3, -2};
    int i;
    int64_t end;
    T_EQ(uinput_make(&u, "dev_vm dial", 0, REL_DIAL), 0);
    T_REQUIRE(adev_ctx_init(&ctx) == 0);
    adev_encoder_init(&e, 4, 0, 0);
    encoder = &e; niev = 0; in_closed = 0;
    T_EQ(adev_input_open(&in, &ctx, u.event, ADEV_INPUT_GRAB), 0);
    T_EQ(adev_input_watch(&in, on_input, NULL), 0);
    for (i = 0; i < 5; i++) T_EQ(frame(u.fd, EV_REL, REL_DIAL, moves[i]), 0);
    end = adev_now_ns() + ADEV_SEC(1);
    while (niev < 10 && adev_now_ns() < end) adev_run_once(&ctx, ADEV_MS(50));
    T_EQ(niev, 10);
    T_EQ(e.position, 2);
    T_EQ(e.errors, 0);
    T_EQ(iev[6].code, REL_DIAL);
    T_EQ(iev[6].value, 3);
    encoder = NULL;
    adev_input_close(&in, on_input_close, NULL);
    while (!in_closed && adev_now_ns() < end) adev_run_once(&ctx, ADEV_MS(50));
    T_CHECK(in_closed);
    adev_ctx_close(&ctx);
    uinput_gone(&u);
}

/* More frames than evdev's buffer holds, unread: the kernel says
 * SYN_DROPPED, the header counts it, and the key's state is still right. */
static void test_uinput_overflow_is_a_dropped_frame(void)
{
    udev_made u;
    adev_ctx ctx; adev_input in;
    int i, seen;
    int64_t end;
    T_EQ(uinput_make(&u, "dev_vm flood", KEY_A, -1), 0);
    T_REQUIRE(adev_ctx_init(&ctx) == 0);
    niev = 0; in_closed = 0;
    T_EQ(adev_input_open(&in, &ctx, u.event, 0), 0);
    for (i = 0; i < 400; i++) T_EQ(frame(u.fd, EV_KEY, KEY_A, !(i & 1)), 0);
    T_EQ(frame(u.fd, EV_KEY, KEY_A, 1), 0);         /* ends pressed */
    T_EQ(adev_input_watch(&in, on_input, NULL), 0);
    end = adev_now_ns() + ADEV_SEC(1);
    do {                                         /* until a pass brings nothing */
        seen = niev;
        adev_run_once(&ctx, ADEV_MS(50));
    } while ((niev == 0 || niev != seen) && adev_now_ns() < end);
    T_CHECK(in.dropped >= 1);
    T_CHECK(niev < 800);
    T_EQ(adev_input_key_state(&in, KEY_A), 1);
    adev_input_close(&in, on_input_close, NULL);
    while (!in_closed && adev_now_ns() < end) adev_run_once(&ctx, ADEV_MS(50));
    adev_ctx_close(&ctx);
    uinput_gone(&u);
}

static void test_uinput_device_removed_ends_the_watch(void)
{
    udev_made u;
    adev_ctx ctx; adev_input in;
    int64_t end;
    int calls_after = 0;
    T_EQ(uinput_make(&u, "dev_vm gone", KEY_B, -1), 0);
    T_REQUIRE(adev_ctx_init(&ctx) == 0);
    niev = 0; in_closed = 0; in_status = 1;
    T_EQ(adev_input_open(&in, &ctx, u.event, 0), 0);
    T_EQ(adev_input_watch(&in, on_input, NULL), 0);
    uinput_gone(&u);
    end = adev_now_ns() + ADEV_SEC(1);
    while (in_status == 1 && adev_now_ns() < end) adev_run_once(&ctx, ADEV_MS(50));
    T_EQ(in_status, -ENODEV);
    in_status = 1;
    adev_run_once(&ctx, ADEV_MS(20));
    calls_after = in_status != 1;
    T_EQ(calls_after, 0);                            /* once */
    adev_input_close(&in, on_input_close, NULL);
    while (!in_closed && adev_now_ns() < end) adev_run_once(&ctx, ADEV_MS(50));
    T_CHECK(in_closed);
    adev_ctx_close(&ctx);
}

int main(void)
{
    t_suite("dev_vm");
    chip = getenv("DEV_VM_CHIP");
    sim = getenv("DEV_VM_SIM");
    if (chip && sim) {
        T_RUN(test_chip_info_names_the_simulator);
        T_RUN(test_bias_sets_the_level_an_input_reads);
        T_RUN(test_edges_carry_the_kernels_times_and_numbers);
        T_RUN(test_only_the_edges_asked_for_come);
        T_RUN(test_an_edge_storm_is_reported_as_lost_events);
        T_RUN(test_outputs_are_what_the_simulator_sees);
        T_RUN(test_a_line_held_by_another_request_is_busy);
        T_RUN(test_close_delivers_what_the_kernel_held);
    }
    if (getenv("DEV_VM_I2C")) {
        T_RUN(test_tmp102_reads_the_stubs_registers);
        T_RUN(test_tmp102_at_an_address_nobody_serves_fails);
    }
    if (access("/dev/uinput", W_OK) == 0) {
        T_RUN(test_uinput_key_drives_the_button);
        T_RUN(test_uinput_dial_moves_the_encoder);
        T_RUN(test_uinput_overflow_is_a_dropped_frame);
        T_RUN(test_uinput_device_removed_ends_the_watch);
    }
    return t_done();
}
