/* tests/dev_test.c - asyncdev.h against a kernel played by the test: the
 * system-call hooks hand out pipes for GPIO line requests and input
 * devices, so the suite runs in every build (cross and musl too); the real
 * kernel's side is tests/dev_vm.c in the test VM.  Also the quadrature
 * decoder, the retriggerable delay, sched.h's button fed with event
 * timestamps, and tasks awaiting events. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

static int fk_open(const char *path, int flags);
static int fk_ioctl(int fd, unsigned long req, void *arg);
#define ADEV_SYS_OPEN(path, flags) fk_open((path), (flags))
#define ADEV_SYS_IOCTL(fd, req, arg) fk_ioctl((fd), (unsigned long)(req), (void *)(arg))
#define ASYNCKIT_IMPLEMENTATION
#include "sched.h"
#include "asyncdev.h"
#include "harness.h"

/* ---- the kernel, played ---- */

static struct {
    int chip_fd, input_fd;            /* what fk_open gave */
    int line_w, input_w;              /* the write ends of the event pipes */
    struct adev__gpio_request req;    /* the last line request */
    struct adev__gpio_values set;     /* the last values set */
    uint64_t values;                  /* what GET_VALUES answers */
    int clock_id, grabbed, fail_clock;
    unsigned char keys[0x300 / 8];
} fk;

static void fk_reset(void)
{
    if (fk.line_w > 0) close(fk.line_w);
    if (fk.input_w > 0) close(fk.input_w);
    memset(&fk, 0, sizeof fk);
    fk.clock_id = -1;
}

static int fk_pipe(int *wr)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return -1;
    *wr = p[1];
    return p[0];
}

static int fk_open(const char *path, int flags)
{
    if (strcmp(path, "/dev/fakechip") == 0) return fk.chip_fd = open("/dev/null", flags);
    if (strcmp(path, "/fake/event0") == 0) return fk.input_fd = fk_pipe(&fk.input_w);
    errno = ENOENT;
    return -1;
}

static int fk_ioctl(int fd, unsigned long req, void *arg)
{
    if (req == ADEV__GPIO_GET_LINE) {
        memcpy(&fk.req, arg, sizeof fk.req);
        ((struct adev__gpio_request *)arg)->fd = fk_pipe(&fk.line_w);
        return 0;
    }
    if (req == ADEV__GPIO_GET_VALUES) {
        struct adev__gpio_values *v = (struct adev__gpio_values *)arg;
        v->bits = fk.values & v->mask;
        return 0;
    }
    if (req == ADEV__GPIO_SET_VALUES) {
        memcpy(&fk.set, arg, sizeof fk.set);
        return 0;
    }
    if (req == ADEV__EVIOCSCLOCKID) {
        if (fk.fail_clock) { errno = EINVAL; return -1; }
        fk.clock_id = *(int *)arg;
        return 0;
    }
    if (req == ADEV__EVIOCGRAB) { fk.grabbed = (int)(intptr_t)arg; return 0; }
    if (req == ADEV__EVIOCGNAME(64)) { strcpy((char *)arg, "fake keys"); return 9; }
    if (req == ADEV__EVIOCGKEY(0x300 / 8)) { memcpy(arg, fk.keys, sizeof fk.keys); return 0; }
    (void)fd;
    errno = ENOTTY;
    return -1;
}

static void fk_line_event(uint64_t ns, unsigned offset, int rising, unsigned seqno)
{
    struct adev__gpio_event e;
    memset(&e, 0, sizeof e);
    e.timestamp_ns = ns;
    e.offset = offset;
    e.id = rising ? ADEV__EDGE_RISING : ADEV__EDGE_FALLING;
    e.seqno = seqno;
    e.line_seqno = seqno;
    T_CHECK(write(fk.line_w, &e, sizeof e) == (ssize_t)sizeof e);
}

static void fk_input_event(int64_t ns, unsigned type, unsigned code, int value)
{
    struct adev__input_event e;
    e.sec = (unsigned long)(ns / 1000000000);
    e.usec = (unsigned long)(ns % 1000000000 / 1000);
    e.type = (uint16_t)type;
    e.code = (uint16_t)code;
    e.value = value;
    T_CHECK(write(fk.input_w, &e, sizeof e) == (ssize_t)sizeof e);
}

static int fd_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

/* ---- what callbacks saw ---- */

static adev_line_event seen[64];
static int nseen, nerr, last_err, nclosed, in_call;
static char order[256];

static void seen_reset(void)
{
    nseen = nerr = nclosed = in_call = 0;
    last_err = 1;
    order[0] = 0;
}

static void on_line(adev_lines *req, int status, const adev_line_event *ev, void *ud)
{
    (void)req; (void)ud;
    T_CHECK(!in_call);
    if (status == 0 && ev) {
        if (nseen < 64) seen[nseen] = *ev;
        nseen++;
        strcat(order, "e");
    } else {
        nerr++;
        last_err = status;
        strcat(order, "x");
    }
}

static void on_closed(adev_lines *req, int status, const adev_line_event *ev, void *ud)
{
    (void)req; (void)ud;
    T_EQ(status, 0);
    T_CHECK(ev == NULL);
    nclosed++;
    strcat(order, "c");
}

static const unsigned two[2] = {17, 4};

static void open_two(adev_ctx *ctx, adev_lines *req, unsigned flags)
{
    adev_line_config cfg;
    fk_reset();
    seen_reset();
    T_REQUIRE(adev_ctx_init(ctx) == 0);
    adev_line_config_init(&cfg);
    cfg.flags = flags;
    T_REQUIRE(adev_lines_open(req, ctx, "fakechip", two, 2, &cfg) == 0);
}

static void run_until_idle(adev_ctx *ctx)
{
    int i;
    for (i = 0; i < 20; i++) (void)adev_run_once(ctx, 0);
}

/* ---- the kernel's interface, as the kernel's headers have it ---- */

#if defined(__has_include)
#if __has_include(<linux/gpio.h>) && __has_include(<linux/input.h>)
#define DEV_HAVE_UAPI 1
#include <linux/gpio.h>
#include <linux/input.h>
#endif
#endif

static void test_uapi_matches_the_kernel_headers(void)
{
#ifdef DEV_HAVE_UAPI
    T_EQ(sizeof(struct adev__gpio_request), sizeof(struct gpio_v2_line_request));
    T_EQ(offsetof(struct adev__gpio_request, fd), offsetof(struct gpio_v2_line_request, fd));
    T_EQ(offsetof(struct adev__gpio_request, config), offsetof(struct gpio_v2_line_request, config));
    T_EQ(offsetof(struct adev__gpio_request, num_lines), offsetof(struct gpio_v2_line_request, num_lines));
    T_EQ(sizeof(struct adev__gpio_config), sizeof(struct gpio_v2_line_config));
    T_EQ(offsetof(struct adev__gpio_config, attrs), offsetof(struct gpio_v2_line_config, attrs));
    T_EQ(sizeof(struct adev__gpio_event), sizeof(struct gpio_v2_line_event));
    T_EQ(offsetof(struct adev__gpio_event, seqno), offsetof(struct gpio_v2_line_event, seqno));
    T_EQ(sizeof(struct adev__gpio_chipinfo), sizeof(struct gpiochip_info));
    T_EQ(ADEV__GPIO_GET_LINE, GPIO_V2_GET_LINE_IOCTL);
    T_EQ(ADEV__GPIO_GET_VALUES, GPIO_V2_LINE_GET_VALUES_IOCTL);
    T_EQ(ADEV__GPIO_SET_VALUES, GPIO_V2_LINE_SET_VALUES_IOCTL);
    T_EQ(ADEV__GPIO_GET_CHIPINFO, GPIO_GET_CHIPINFO_IOCTL);
    T_EQ(ADEV_LINE_PULL_UP, GPIO_V2_LINE_FLAG_BIAS_PULL_UP);
    T_EQ(ADEV_LINE_EDGE_FALLING, GPIO_V2_LINE_FLAG_EDGE_FALLING);
    T_EQ(ADEV_LINE_BIAS_DISABLED, GPIO_V2_LINE_FLAG_BIAS_DISABLED);
    T_EQ(sizeof(struct adev__input_event), sizeof(struct input_event));
    T_EQ(offsetof(struct adev__input_event, type), offsetof(struct input_event, type));
    T_EQ(ADEV__EVIOCSCLOCKID, EVIOCSCLOCKID);
    T_EQ(ADEV__EVIOCGRAB, EVIOCGRAB);
    T_EQ(ADEV__EVIOCGNAME(64), EVIOCGNAME(64));
    T_EQ(ADEV__EVIOCGKEY(96), EVIOCGKEY(96));
    T_EQ(ADEV__EVIOCGSW(96), EVIOCGSW(96));
    T_EQ(ADEV_SYN_DROPPED, SYN_DROPPED);
    T_EQ(ADEV_EV_SW, EV_SW);
#else
    T_EQ(sizeof(struct adev__gpio_request), 592);   /* no kernel headers here (musl): the known sizes */
    T_EQ(sizeof(struct adev__gpio_event), 48);
    T_EQ(sizeof(struct adev__input_event), 2 * sizeof(long) + 8);
#endif
}

/* ---- GPIO lines ---- */

static void test_open_builds_the_kernels_request(void)
{
    adev_ctx ctx; adev_lines req; adev_line_config cfg;
    unsigned off[3] = {3, 9, 1};
    fk_reset();
    T_REQUIRE(adev_ctx_init(&ctx) == 0);
    adev_line_config_init(&cfg);
    cfg.flags = ADEV_LINE_EDGE_BOTH | ADEV_LINE_PULL_UP | ADEV_LINE_ACTIVE_LOW;
    cfg.debounce_ns = ADEV_MS(5) + 1;
    cfg.consumer = "buttons";
    cfg.event_buffer = 7;
    T_REQUIRE(adev_lines_open(&req, &ctx, "fakechip", off, 3, &cfg) == 0);
    T_EQ(fk.req.num_lines, 3);
    T_EQ(fk.req.offsets[1], 9);
    T_EQ(fk.req.event_buffer_size, 7);
    T_STREQ(fk.req.consumer, "buttons");
    T_EQ(fk.req.config.flags, ADEV_LINE_EDGE_BOTH | ADEV_LINE_PULL_UP | ADEV_LINE_ACTIVE_LOW | ADEV_LINE_INPUT);
    T_EQ(fk.req.config.num_attrs, 1);
    T_EQ(fk.req.config.attrs[0].attr.id, ADEV__ATTR_DEBOUNCE);
    {
        uint32_t us;
        memcpy(&us, &fk.req.config.attrs[0].attr.value, sizeof us);
        T_EQ(us, 5001);   /* rounded up to whole microseconds */
    }
    T_EQ(fk.req.config.attrs[0].mask, 7);
    T_CHECK(!fd_open(fk.chip_fd));   /* the chip's descriptor is not kept */
    T_CHECK(adev_lines_fd(&req) >= 0);
    adev_ctx_close(&ctx);
}

static void test_outputs_get_their_first_values_and_set_by_mask(void)
{
    adev_ctx ctx; adev_lines req; adev_line_config cfg; uint64_t bits = 99;
    unsigned off[2] = {0, 1};
    fk_reset();
    T_REQUIRE(adev_ctx_init(&ctx) == 0);
    adev_line_config_init(&cfg);
    cfg.flags = ADEV_LINE_OUTPUT;
    cfg.values = 0xff;
    T_REQUIRE(adev_lines_open(&req, &ctx, "/dev/fakechip", off, 2, &cfg) == 0);
    T_EQ(fk.req.config.flags, ADEV_LINE_OUTPUT);
    T_EQ(fk.req.config.attrs[0].attr.id, ADEV__ATTR_OUTPUT_VALUES);
    T_EQ(fk.req.config.attrs[0].attr.value, 3);
    T_EQ(adev_lines_set(&req, 2, 0xf0 | 2), 0);
    T_EQ(fk.set.mask, 2);
    T_EQ(fk.set.bits, 2);
    fk.values = 0xfd;
    T_EQ(adev_lines_get(&req, &bits), 0);
    T_EQ(bits, 1);
    adev_ctx_close(&ctx);
}

static void test_open_refuses_what_the_kernel_would(void)
{
    adev_ctx ctx; adev_lines req; adev_line_config cfg;
    unsigned off[65] = {0};
    fk_reset();
    T_REQUIRE(adev_ctx_init(&ctx) == 0);
    adev_line_config_init(&cfg);
    T_EQ(adev_lines_open(&req, &ctx, "fakechip", off, 0, &cfg), -EINVAL);
    T_EQ(adev_lines_open(&req, &ctx, "fakechip", off, 65, &cfg), -EINVAL);
    cfg.flags = ADEV_LINE_OUTPUT | ADEV_LINE_EDGE_RISING;
    T_EQ(adev_lines_open(&req, &ctx, "fakechip", off, 1, &cfg), -EINVAL);
    cfg.flags = 1u << 11;   /* the realtime clock: events must be CLOCK_MONOTONIC */
    T_EQ(adev_lines_open(&req, &ctx, "fakechip", off, 1, &cfg), -EINVAL);
    cfg.flags = ADEV_LINE_INPUT;
    cfg.debounce_ns = -1;
    T_EQ(adev_lines_open(&req, &ctx, "fakechip", off, 1, &cfg), -EINVAL);
    T_EQ(adev_lines_open(&req, &ctx, "nochip", off, 1, NULL), -ENOENT);
    adev_ctx_close(&ctx);
}

static void test_events_come_from_the_loop_with_the_kernels_times(void)
{
    adev_ctx ctx; adev_lines req;
    open_two(&ctx, &req, ADEV_LINE_EDGE_BOTH);
    fk_line_event(1000, 4, 1, 1);
    fk_line_event(2000, 17, 0, 2);
    fk_line_event(3000, 4, 0, 3);
    in_call = 1;
    T_EQ(adev_lines_watch(&req, on_line, NULL), 0);
    in_call = 0;
    T_EQ(nseen, 0);
    run_until_idle(&ctx);
    T_EQ(nseen, 3);
    T_EQ(seen[0].time_ns, 1000);
    T_EQ(seen[0].offset, 4);
    T_EQ(seen[0].index, 1);
    T_EQ(seen[0].rising, 1);
    T_EQ(seen[1].index, 0);
    T_EQ(seen[1].rising, 0);
    T_EQ(seen[2].seqno, 3);
    T_EQ(seen[2].missed, 0);
    T_EQ(req.events, 3);
    adev_ctx_close(&ctx);
    T_EQ(nerr, 0);   /* a watch ends at a close without an error call */
}

static void test_a_gap_in_the_kernels_numbers_reports_lost_events(void)
{
    adev_ctx ctx; adev_lines req;
    open_two(&ctx, &req, ADEV_LINE_EDGE_BOTH);
    fk_line_event(1000, 4, 1, 3);    /* two dropped before the first read */
    fk_line_event(2000, 4, 0, 4);
    fk_line_event(3000, 4, 1, 9);    /* four more */
    adev_lines_watch(&req, on_line, NULL);
    run_until_idle(&ctx);
    T_EQ(nseen, 3);
    T_EQ(seen[0].missed, 2);
    T_EQ(seen[1].missed, 0);
    T_EQ(seen[2].missed, 4);
    T_EQ(req.missed, 6);
    adev_ctx_close(&ctx);
}

static void test_a_read_takes_one_event_and_the_next_waits(void)
{
    adev_ctx ctx; adev_lines req; adev_line_event out;
    open_two(&ctx, &req, ADEV_LINE_EDGE_BOTH);
    fk_line_event(1000, 4, 1, 1);
    fk_line_event(2000, 17, 1, 2);
    T_EQ(adev_lines_read(&req, &out, on_line, NULL), 0);
    T_EQ(adev_lines_read(&req, &out, on_line, NULL), -EBUSY);
    T_EQ(adev_lines_watch(&req, on_line, NULL), -EBUSY);
    run_until_idle(&ctx);
    T_EQ(nseen, 1);
    T_EQ(out.time_ns, 1000);
    in_call = 1;
    T_EQ(adev_lines_read(&req, &out, on_line, NULL), 0);   /* from what was read already */
    in_call = 0;
    T_EQ(nseen, 1);
    run_until_idle(&ctx);
    T_EQ(nseen, 2);
    T_EQ(out.offset, 17);
    adev_ctx_close(&ctx);
}

static void test_close_delivers_the_events_in_flight_then_closes(void)
{
    adev_ctx ctx; adev_lines req; int fd;
    open_two(&ctx, &req, ADEV_LINE_EDGE_BOTH);
    fd = adev_lines_fd(&req);
    T_EQ(adev_lines_watch(&req, on_line, NULL), 0);
    fk_line_event(1000, 4, 1, 1);
    fk_line_event(2000, 4, 0, 2);
    in_call = 1;
    T_EQ(adev_lines_close(&req, on_closed, NULL), 0);
    in_call = 0;
    T_EQ(adev_lines_close(&req, on_closed, NULL), ADEV_ECLOSED);
    T_EQ(adev_lines_read(&req, NULL, on_line, NULL), ADEV_ECLOSED);
    T_EQ(nclosed, 0);
    run_until_idle(&ctx);
    T_STREQ(order, "eec");
    T_CHECK(!fd_open(fd));
    T_EQ(adev_run_once(&ctx, 0), 0);   /* nothing left to keep the loop */
    adev_ctx_close(&ctx);
}

static void test_close_cancels_a_read_that_has_nothing(void)
{
    adev_ctx ctx; adev_lines req;
    open_two(&ctx, &req, ADEV_LINE_EDGE_BOTH);
    T_EQ(adev_lines_read(&req, NULL, on_line, NULL), 0);
    T_EQ(adev_lines_close(&req, on_closed, NULL), 0);
    run_until_idle(&ctx);
    T_STREQ(order, "xc");
    T_EQ(last_err, -ECANCELED);
    adev_ctx_close(&ctx);
}

static adev_lines *closer_req;
static void on_line_close_at_first(adev_lines *req, int status, const adev_line_event *ev, void *ud)
{
    on_line(req, status, ev, ud);
    if (nseen == 1) T_EQ(adev_lines_close(closer_req, on_closed, NULL), 0);
}

static void test_a_callback_may_close_its_request(void)
{
    adev_ctx ctx; adev_lines req;
    open_two(&ctx, &req, ADEV_LINE_EDGE_BOTH);
    closer_req = &req;
    fk_line_event(1000, 4, 1, 1);
    fk_line_event(2000, 4, 0, 2);
    fk_line_event(3000, 4, 1, 3);
    adev_lines_watch(&req, on_line_close_at_first, NULL);
    run_until_idle(&ctx);
    T_STREQ(order, "eeec");   /* what was in flight, then the close, once */
    adev_ctx_close(&ctx);
}

static void test_a_device_gone_ends_the_watch_once(void)
{
    adev_ctx ctx; adev_lines req;
    open_two(&ctx, &req, ADEV_LINE_EDGE_BOTH);
    adev_lines_watch(&req, on_line, NULL);
    fk_line_event(1000, 4, 1, 1);
    close(fk.line_w);
    fk.line_w = 0;
    run_until_idle(&ctx);
    T_STREQ(order, "ex");
    T_EQ(last_err, -ENODEV);
    T_EQ(adev_lines_close(&req, on_closed, NULL), 0);
    run_until_idle(&ctx);
    T_STREQ(order, "exc");
    adev_ctx_close(&ctx);
}

static void test_closing_the_context_ends_everything_once(void)
{
    adev_ctx ctx; adev_lines req, req2; adev_line_config cfg;
    open_two(&ctx, &req, ADEV_LINE_EDGE_BOTH);
    adev_line_config_init(&cfg);
    T_REQUIRE(adev_lines_open(&req2, &ctx, "fakechip", two, 1, &cfg) == 0);
    T_EQ(adev_lines_read(&req, NULL, on_line, NULL), 0);
    T_EQ(adev_lines_close(&req2, on_closed, NULL), 0);
    adev_ctx_close(&ctx);
    T_EQ(nerr, 1);
    T_EQ(last_err, -ECANCELED);
    T_EQ(nclosed, 1);
    T_EQ(adev_lines_read(&req, NULL, on_line, NULL), -EINVAL);
}

/* ---- input devices ---- */

static adev_input_event iseen[32];
static int niseen, nierr, ilast_err;
static void on_input(adev_input *in, int status, const adev_input_event *ev, void *ud)
{
    (void)in; (void)ud;
    if (status == 0) { if (niseen < 32) iseen[niseen] = *ev; niseen++; }
    else { nierr++; ilast_err = status; }
}

static void test_input_open_asks_for_the_monotonic_clock_and_a_grab(void)
{
    adev_ctx ctx; adev_input in; char name[64];
    fk_reset();
    T_REQUIRE(adev_ctx_init(&ctx) == 0);
    T_EQ(adev_input_open(&in, &ctx, "/fake/event0", ADEV_INPUT_GRAB), 0);
    T_EQ(fk.clock_id, CLOCK_MONOTONIC);
    T_EQ(fk.grabbed, 1);
    T_EQ(adev_input_name(&in, name, sizeof name), 0);
    T_STREQ(name, "fake keys");
    fk.keys[30 / 8] = 1u << (30 % 8);
    T_EQ(adev_input_key_state(&in, 30), 1);
    T_EQ(adev_input_key_state(&in, 31), 0);
    T_EQ(adev_input_key_state(&in, 0x300), -EINVAL);
    adev_ctx_close(&ctx);
    fk_reset();
    fk.fail_clock = 1;
    T_REQUIRE(adev_ctx_init(&ctx) == 0);
    T_EQ(adev_input_open(&in, &ctx, "/fake/event0", 0), -EINVAL);
    T_CHECK(!fd_open(fk.input_fd));
    T_EQ(adev_input_open(&in, &ctx, "/fake/none", 0), -ENOENT);
    adev_ctx_close(&ctx);
}

static void test_input_events_and_a_dropped_frame(void)
{
    adev_ctx ctx; adev_input in;
    fk_reset();
    niseen = nierr = 0;
    T_REQUIRE(adev_ctx_init(&ctx) == 0);
    T_REQUIRE(adev_input_open(&in, &ctx, "/fake/event0", 0) == 0);
    fk_input_event(ADEV_SEC(5) + ADEV_US(250), ADEV_EV_KEY, 28, 1);
    fk_input_event(ADEV_SEC(5) + ADEV_US(250), ADEV_EV_SYN, ADEV_SYN_REPORT, 0);
    fk_input_event(ADEV_SEC(6), ADEV_EV_SYN, ADEV_SYN_DROPPED, 0);
    fk_input_event(ADEV_SEC(6), ADEV_EV_REL, 8, 1);     /* the broken frame's rest */
    fk_input_event(ADEV_SEC(6), ADEV_EV_SYN, ADEV_SYN_REPORT, 0);
    fk_input_event(ADEV_SEC(7), ADEV_EV_REL, 8, -2);
    fk_input_event(ADEV_SEC(7), ADEV_EV_SYN, ADEV_SYN_REPORT, 0);
    T_EQ(adev_input_watch(&in, on_input, NULL), 0);
    run_until_idle(&ctx);
    T_EQ(niseen, 5);
    T_EQ(iseen[0].time_ns, ADEV_SEC(5) + ADEV_US(250));
    T_EQ(iseen[0].type, ADEV_EV_KEY);
    T_EQ(iseen[0].code, 28);
    T_EQ(iseen[0].value, 1);
    T_EQ(iseen[2].code, ADEV_SYN_DROPPED);
    T_EQ(iseen[3].type, ADEV_EV_REL);
    T_EQ(iseen[3].value, -2);
    T_EQ(in.dropped, 1);
    close(fk.input_w);   /* unplugged */
    fk.input_w = 0;
    run_until_idle(&ctx);
    T_EQ(nierr, 1);
    T_EQ(ilast_err, -ENODEV);
    adev_ctx_close(&ctx);
}

/* ---- the quadrature decoder ---- */

static int turn(adev_encoder *e, const char *states)
{
    int sum = 0;
    for (; *states; states++) {
        int s = *states - '0';
        sum += adev_encoder_feed(e, (s >> 1) & 1, s & 1);
    }
    return sum;
}

static void test_encoder_counts_detents_both_ways(void)
{
    adev_encoder e;
    adev_encoder_init(&e, 4, 0, 0);
    /* A leads B: 00 10 11 01 00 is one detent forward ("0" "2" "3" "1") */
    T_EQ(turn(&e, "2310"), 1);
    T_EQ(turn(&e, "23102310"), 2);
    T_EQ(e.position, 3);
    T_EQ(turn(&e, "1320"), -1);
    T_EQ(e.position, 2);
    T_EQ(turn(&e, "2020202"), 0);       /* a bouncing contact moves nothing */
    T_EQ(turn(&e, "0"), 0);
    T_EQ(e.position, 2);
    T_EQ(e.errors, 0);
}

static void test_encoder_counts_skipped_states_as_errors(void)
{
    adev_encoder e;
    adev_encoder_init(&e, 4, 0, 0);
    T_EQ(turn(&e, "3"), 0);    /* both lines changed: an edge was missed */
    T_EQ(e.errors, 1);
    T_EQ(e.position, 0);
    adev_encoder_init(&e, 2, 0, 0);
    T_EQ(turn(&e, "2310"), 2);  /* half-step encoders: two detents a cycle */
    adev_encoder_init(&e, 1, 1, 1);
    T_EQ(adev_encoder_line(&e, 0, 0), 1);   /* A falls first: 11 -> 01 is a step forward */
    T_EQ(adev_encoder_line(&e, 1, 0), 1);
    T_EQ(adev_encoder_move(&e, -3), -3);
    T_EQ(e.position, -1);
}

/* ---- the retriggerable delay ---- */

static int64_t fake_now;
static int64_t fake_clock(void *ud) { (void)ud; return fake_now; }
static int fired, waited, wait_status;
static int64_t fired_at;
static void on_fire(adev_delay *d, int status, void *ud) { (void)ud; T_EQ(status, 0); fired++; fired_at = d->ctx->core.now; }
static void on_wait(adev_delay *d, int status, void *ud) { (void)d; (void)ud; waited++; wait_status = status; }

static void at(adev_ctx *ctx, int64_t t) { fake_now = t; (void)adev_run_once(ctx, 0); }

static void test_delay_fires_once_when_triggers_stop(void)
{
    adev_ctx ctx; adev_delay d;
    T_REQUIRE(adev_ctx_init(&ctx) == 0);
    ctx.core.clock = fake_clock;
    fired = waited = 0;
    fake_now = ADEV_SEC(100);
    adev_delay_init(&d, &ctx, ADEV_MS(50), on_fire, NULL);
    T_EQ(adev_delay_running(&d), 0);
    T_EQ(adev_delay_trigger(&d, 0), 0);
    at(&ctx, ADEV_SEC(100) + ADEV_MS(30));
    T_EQ(adev_delay_trigger(&d, 0), 0);       /* restarts: due at +80 */
    at(&ctx, ADEV_SEC(100) + ADEV_MS(60));
    T_EQ(fired, 0);
    T_EQ(adev_delay_due(&d), ADEV_SEC(100) + ADEV_MS(80));
    at(&ctx, ADEV_SEC(100) + ADEV_MS(80));
    T_EQ(fired, 1);
    T_EQ(fired_at, ADEV_SEC(100) + ADEV_MS(80));
    at(&ctx, ADEV_SEC(101));
    T_EQ(fired, 1);
    T_EQ(d.triggers, 2);
    T_EQ(adev_delay_running(&d), 0);
    adev_ctx_close(&ctx);
}

static void test_delay_counts_from_an_events_time_and_stops_quietly(void)
{
    adev_ctx ctx; adev_delay d;
    T_REQUIRE(adev_ctx_init(&ctx) == 0);
    ctx.core.clock = fake_clock;
    fired = waited = 0;
    fake_now = ADEV_SEC(10);
    adev_delay_init(&d, &ctx, ADEV_MS(50), on_fire, NULL);
    T_EQ(adev_delay_trigger_at(&d, ADEV_SEC(10) - ADEV_MS(40), ADEV_MS(100)), 0);
    T_EQ(adev_delay_due(&d), ADEV_SEC(10) + ADEV_MS(60));
    T_EQ(adev_delay_wait(&d, on_wait, NULL), 0);
    T_EQ(adev_delay_wait(&d, on_wait, NULL), -EBUSY);
    adev_delay_stop(&d);
    T_EQ(waited, 1);
    T_EQ(wait_status, -ECANCELED);
    at(&ctx, ADEV_SEC(11));
    T_EQ(fired, 0);
    T_EQ(adev_delay_wait(&d, on_wait, NULL), 0);   /* waits for the next expiry, whenever */
    adev_delay_trigger(&d, 0);
    at(&ctx, ADEV_SEC(11) + ADEV_MS(50));
    T_EQ(fired, 1);
    T_EQ(waited, 2);
    T_EQ(wait_status, 0);
    T_EQ(adev_delay_wait(&d, on_wait, NULL), 0);
    adev_ctx_close(&ctx);                         /* a waiter is told */
    T_EQ(waited, 3);
    T_EQ(wait_status, -ECANCELED);
}

/* ---- sched.h's button fed with the kernel's timestamps ---- */

static schd_loop *btn_loop;
static char btn_log[256];
static void on_btn(schd_button *b, int ev, void *ud)
{
    char one[48];
    (void)ud;
    snprintf(one, sizeof one, "%s@%lld ", schd_button_event_name(ev),
             (long long)((b->event_ns - ADEV_SEC(1000)) / 1000000));
    strcat(btn_log, one);
}

static int64_t sfake(void *ud) { (void)ud; return fake_now; }
static schd_button *btn_of_line;
static void on_line_to_button(adev_lines *req, int status, const adev_line_event *ev, void *ud)
{
    (void)req; (void)ud;
    if (status == 0) schd_button_feed_at(btn_of_line, ev->rising, ev->time_ns);
}

static void steps(schd_loop *loop, int64_t until)
{
    while (fake_now < until) {
        fake_now += ADEV_MS(1);
        (void)schd_loop_run_once(loop, 0);
    }
}

static void test_button_judges_late_events_by_their_timestamps(void)
{
    schd_loop loop; schd_source src; adev_ctx ctx; adev_lines req; schd_button b;
    const int64_t t0 = ADEV_SEC(1000);
    open_two(&ctx, &req, ADEV_LINE_EDGE_BOTH);
    T_REQUIRE(schd_loop_init(&loop) == 0);
    fake_now = t0;
    schd_loop_set_clock(&loop, sfake, NULL);
    ctx.core.clock = sfake;
    btn_loop = &loop;
    btn_log[0] = 0;
    T_REQUIRE(schd_button_init(&b, &loop, NULL, on_btn, NULL) == 0);
    btn_of_line = &b;
    T_REQUIRE(adev_attach(&ctx, &loop, &src) == 0);
    adev_lines_watch(&req, on_line_to_button, NULL);
    /* a bounce, a 30 ms press, and another 60 ms press, all read at once
     * 200 ms after the first edge: the kernel's times decide */
    fk_line_event((uint64_t)(t0 + ADEV_MS(0)), 17, 1, 1);
    fk_line_event((uint64_t)(t0 + ADEV_MS(3)), 17, 0, 2);
    fk_line_event((uint64_t)(t0 + ADEV_MS(10)), 17, 1, 3);
    fk_line_event((uint64_t)(t0 + ADEV_MS(40)), 17, 0, 4);
    fk_line_event((uint64_t)(t0 + ADEV_MS(100)), 17, 1, 5);
    fk_line_event((uint64_t)(t0 + ADEV_MS(160)), 17, 0, 6);
    fake_now = t0 + ADEV_MS(200);
    steps(&loop, t0 + ADEV_MS(700));
    T_STREQ(btn_log, "press@30 release@60 press@120 double@120 release@180 ");
    schd_button_stop(&b);
    schd_source_remove(&src);
    adev_ctx_close(&ctx);
    schd_loop_close(&loop);
}

static void test_button_fed_at_times_gives_long_press_from_the_edge(void)
{
    schd_loop loop; schd_button b;
    const int64_t t0 = ADEV_SEC(1000);
    T_REQUIRE(schd_loop_init(&loop) == 0);
    fake_now = t0;
    schd_loop_set_clock(&loop, sfake, NULL);
    btn_log[0] = 0;
    T_REQUIRE(schd_button_init(&b, &loop, NULL, on_btn, NULL) == 0);
    fake_now = t0 + ADEV_MS(50);          /* the press reaches us 50 ms late */
    schd_button_feed_at(&b, 1, t0);
    steps(&loop, t0 + ADEV_MS(1100));
    schd_button_feed_at(&b, 0, t0 + ADEV_MS(1100));
    steps(&loop, t0 + ADEV_MS(1600));
    T_STREQ(btn_log, "press@20 long@1020 release@1120 ");
    schd_button_stop(&b);
    schd_loop_close(&loop);
}

/* ---- tasks await events and the delay ---- */

struct waiter { schd_task task; adev_lines *req; adev_delay *d; adev_line_event ev; int got[4], n; };

static int waiting_task(schd_task *t)
{
    struct waiter *w = SCHD_CONTAINER_OF(t, struct waiter, task);
    SCHD_TASK_BEGIN(t);
    schd_task_timeout(t, ADEV_MS(20));
    ADEV_AWAIT_LINE_EVENT(t, w->req, &w->ev);
    w->got[w->n++] = SCHD_STATUS(t);                 /* nothing came: -ETIMEDOUT */
    ADEV_AWAIT_LINE_EVENT(t, w->req, &w->ev);
    w->got[w->n++] = SCHD_STATUS(t) == 0 ? (int)w->ev.offset : SCHD_STATUS(t);
    adev_delay_trigger(w->d, ADEV_MS(30));
    ADEV_AWAIT_DELAY(t, w->d);
    w->got[w->n++] = SCHD_STATUS(t);
    SCHD_TASK_END(t);
}

static void test_a_task_awaits_edges_and_the_delay(void)
{
    schd_loop loop; schd_source src; adev_ctx ctx; adev_lines req; adev_delay d;
    struct waiter w;
    int i;
    open_two(&ctx, &req, ADEV_LINE_EDGE_BOTH);
    T_REQUIRE(schd_loop_init(&loop) == 0);
    fake_now = ADEV_SEC(50);
    schd_loop_set_clock(&loop, sfake, NULL);
    ctx.core.clock = sfake;
    T_REQUIRE(adev_attach(&ctx, &loop, &src) == 0);
    adev_delay_init(&d, &ctx, ADEV_MS(10), NULL, NULL);
    memset(&w, 0, sizeof w);
    w.req = &req;
    w.d = &d;
    schd_task_start(&w.task, &loop, waiting_task, NULL);
    steps(&loop, ADEV_SEC(50) + ADEV_MS(25));
    T_EQ(w.n, 1);
    T_EQ(w.got[0], -ETIMEDOUT);
    fk_line_event(1, 4, 1, 1);
    for (i = 0; i < 5; i++) (void)schd_loop_run_once(&loop, 0);
    T_EQ(w.n, 2);
    T_EQ(w.got[1], 4);
    steps(&loop, ADEV_SEC(50) + ADEV_MS(54));
    T_EQ(w.n, 2);
    steps(&loop, ADEV_SEC(50) + ADEV_MS(60));
    T_EQ(w.n, 3);
    T_EQ(w.got[2], 0);
    T_EQ(schd_task_state(&w.task), SCHD_TASK_DONE);
    schd_source_remove(&src);
    adev_ctx_close(&ctx);
    schd_loop_close(&loop);
}

int main(void)
{
    t_suite("dev");
    T_RUN(test_uapi_matches_the_kernel_headers);
    T_RUN(test_open_builds_the_kernels_request);
    T_RUN(test_outputs_get_their_first_values_and_set_by_mask);
    T_RUN(test_open_refuses_what_the_kernel_would);
    T_RUN(test_events_come_from_the_loop_with_the_kernels_times);
    T_RUN(test_a_gap_in_the_kernels_numbers_reports_lost_events);
    T_RUN(test_a_read_takes_one_event_and_the_next_waits);
    T_RUN(test_close_delivers_the_events_in_flight_then_closes);
    T_RUN(test_close_cancels_a_read_that_has_nothing);
    T_RUN(test_a_callback_may_close_its_request);
    T_RUN(test_a_device_gone_ends_the_watch_once);
    T_RUN(test_closing_the_context_ends_everything_once);
    T_RUN(test_input_open_asks_for_the_monotonic_clock_and_a_grab);
    T_RUN(test_input_events_and_a_dropped_frame);
    T_RUN(test_encoder_counts_detents_both_ways);
    T_RUN(test_encoder_counts_skipped_states_as_errors);
    T_RUN(test_delay_fires_once_when_triggers_stop);
    T_RUN(test_delay_counts_from_an_events_time_and_stops_quietly);
    T_RUN(test_button_judges_late_events_by_their_timestamps);
    T_RUN(test_button_fed_at_times_gives_long_press_from_the_edge);
    T_RUN(test_a_task_awaits_edges_and_the_delay);
    fk_reset();
    return t_done();
}
