/* tests/usb_vm.c - asyncusb.h against real USB devices: the gadgets of the
 * test VM (tests/vm/usb.sh), which the kernel's dummy_hcd enumerates like
 * any device on a port.  Runs only there, as root:
 *
 *   0525:a4a0  SourceSink (the kernel's f_sourcesink, pattern mod 63):
 *              bulk IN source, bulk OUT sink, the control test requests
 *              0x5b/0x5c; its gadget "zero" is unplugged and plugged back
 *              through configfs (USB_VM_UDC: the gadget's UDC file)
 *   1209:0003  Loopback (f_loopback): what goes OUT comes back IN
 *   1209:0002  the test device of tools/ffsdev.c (FunctionFS): echo on
 *              bulk and interrupt, halts, late answers, silence
 *
 * Covers control, bulk and interrupt transfers with data checked, stalls
 * (from the kernel's function and from ours), late answers and timeouts,
 * cancel, timeout and close with URBs in flight in the kernel, a device
 * unplugged mid-stream and plugged back, pipelines, OUT queues, an
 * endpoint stream, and hotplug: the VM boots without udevd, where libusb
 * hears of no device and the kernel's monitor of asyncusb.h must; the
 * stage runs the hotplug tests again with systemd-udevd (USB_VM_UDEVD=1).
 * Without udevd a context's device list stays as it started, so a
 * replugged device is found by a new context (or through hotplug). */
#define _GNU_SOURCE 1
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"
#include "tests/harness.h"
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum { ZERO_VID = 0x0525, ZERO_PID = 0xa4a0, LOOP_VID = 0x1209, LOOP_PID = 0x0003,
       TEST_VID = 0x1209, TEST_PID = 0x0002 };
/* the test device's vendor requests (tools/ffsdev.c) */
enum { T_KEEP = 1, T_GIVE = 2, T_HALT = 3, T_DELAY = 4, T_TICKS = 6, T_RESET = 7 };
enum { T_BULK_IN = 1, T_BULK_OUT = 2, T_INT_IN = 3, T_INT_OUT = 4 };
#define T_OUT_RT (AUSB_RT_VENDOR | AUSB_RT_INTERFACE)
#define T_IN_RT (AUSB_RT_IN | AUSB_RT_VENDOR | AUSB_RT_INTERFACE)

static ausb_ctx ctx;

typedef struct dev_h {
    ausb_device dev;
    ausb_handle h;
    int found, open;
    unsigned char bulk_in, bulk_out, int_in, int_out;
} dev_h;

/* The device a test opened: not on its stack, so that a test that fails
 * half way leaves nothing behind that a later one trips on (the next
 * open closes it). */
static dev_h dv;

static int64_t ms_since(int64_t t0) { return (ausb_now_ns() - t0) / 1000000; }

/* The first endpoint of interface 0 with this type and direction; 0: none. */
static unsigned char find_ep(const ausb_device *dev, int type, int in)
{
    ausb_config_desc *c;
    const ausb_interface *i;
    const ausb_altsetting *s;
    const ausb_endpoint_desc *e;
    unsigned char a = 0;
    int k;
    if (ausb_config_active(&c, dev) != 0) return 0;
    if ((i = ausb_config_interface(c, 0)) != NULL && (s = ausb_interface_altsetting(i, 0)) != NULL)
        for (k = 0; (e = ausb_altsetting_endpoint_at(s, k)) != NULL && !a; k++)
            if (ausb_ep_type(e) == type && ausb_ep_is_in(e) == in) a = e->bEndpointAddress;
    ausb_config_free(c);
    return a;
}

static void close_dev(dev_h *d)
{
    if (d->open) ausb_close(&d->h);
    if (d->found) ausb_device_release(&d->dev);
    d->open = d->found = 0;
}

/* Finds VID:PID in c (waiting up to wait_ms for it), opens it, claims
 * interface 0 and looks up its endpoints. */
static int open_dev(ausb_ctx *c, dev_h *d, int vid, int pid, int wait_ms)
{
    int64_t t0 = ausb_now_ns();
    int r;
    close_dev(d);
    memset(d, 0, sizeof *d);
    while ((r = ausb_find_id(&d->dev, c, vid, pid)) != 0 && ms_since(t0) < wait_ms) usleep(50000);
    if (r != 0) return r;
    d->found = 1;
    if ((r = ausb_open(&d->h, &d->dev)) != 0) { close_dev(d); return r; }
    d->open = 1;
    if ((r = ausb_claim(&d->h, 0)) != 0) { close_dev(d); return r; }
    d->bulk_in = find_ep(&d->dev, AUSB_EP_BULK, 1);
    d->bulk_out = find_ep(&d->dev, AUSB_EP_BULK, 0);
    d->int_in = find_ep(&d->dev, AUSB_EP_INTERRUPT, 1);
    d->int_out = find_ep(&d->dev, AUSB_EP_INTERRUPT, 0);
    return 0;
}

/* ---- one transfer at a time ---- */

typedef struct res { int status, calls, len, seq; } res;
static int done_seq;              /* callbacks so far, for their order */

static void on_done(ausb_transfer *t, int status, void *ud)
{
    res *r = (res *)ud;
    r->status = status;
    r->len = t->actual_length;
    r->calls++;
    r->seq = ++done_seq;
}

static void run_until(ausb_ctx *c, const int *count, int want)
{
    int64_t t0 = ausb_now_ns();
    while (*count < want && ms_since(t0) < 20000) ausb_run_once(c, AUSB_MS(100));
}

/* Until nothing of c is in flight or due: a test returns with no callback
 * left to come into its stack (also when it failed half way). */
static void drain(ausb_ctx *c)
{
    int64_t t0 = ausb_now_ns();
    while (ausb_pending(c) > 0 && ms_since(t0) < 10000) ausb_run_once(c, AUSB_MS(100));
}

/* Stops a pipe that has not ended and waits for its end. */
static void end_pipe(ausb_pipe *p, const int *ended)
{
    if (!*ended) ausb_pipe_stop(p);
    run_until(&ctx, ended, 1);
}

/* A bulk, interrupt or control transfer with flags, waited for: its
 * status; *got the bytes moved (also on an error). */
static int xfer_f(ausb_handle *h, int type, unsigned char ep, void *buf, int len, unsigned timeout_ms, unsigned flags,
                  int *got)
{
    ausb_transfer t;
    res r = {0, 0, 0, 0};
    int rc;
    if ((rc = ausb_transfer_init(&t, 0)) != 0) return rc;
    if (type == AUSB_EP_CONTROL) ausb_fill_control(&t, h, buf, AUSB_MS(timeout_ms), on_done, &r);
    else if (type == AUSB_EP_INTERRUPT) ausb_fill_interrupt(&t, h, ep, buf, len, AUSB_MS(timeout_ms), on_done, &r);
    else ausb_fill_bulk(&t, h, ep, buf, len, AUSB_MS(timeout_ms), on_done, &r);
    ausb_transfer_set_flags(&t, flags);
    if ((rc = ausb_submit(&t)) == 0) {
        run_until(&ctx, &r.calls, 1);
        rc = r.calls == 1 ? r.status : -999;
        if (r.calls == 0) {      /* t and r live on this stack: the callback must come first */
            ausb_cancel(&t);
            run_until(&ctx, &r.calls, 1);
        }
    }
    if (got) *got = r.len;
    ausb_transfer_free(&t);
    return rc;
}

static int xfer(ausb_handle *h, int type, unsigned char ep, void *buf, int len, unsigned timeout_ms, int *got)
{
    return xfer_f(h, type, ep, buf, len, timeout_ms, 0, got);
}

/* A control request with len bytes of data (in or out); the bytes moved or a status. */
static int ctl(ausb_handle *h, unsigned rt, unsigned req, unsigned value, unsigned index,
               unsigned char *data, int len, unsigned timeout_ms)
{
    unsigned char b[8 + 4096];
    int got = 0, rc;
    ausb_setup(b, rt, req, value, index, (unsigned)len);
    if (!(rt & AUSB_RT_IN) && len) memcpy(b + 8, data, (size_t)len);
    rc = xfer(h, AUSB_EP_CONTROL, 0, b, 8 + len, timeout_ms, &got);
    if (rc < 0) return rc;
    if (rt & AUSB_RT_IN) memcpy(data, b + 8, (size_t)got);
    return got;
}

static int t_req(dev_h *d, unsigned req, unsigned value)
{
    return ctl(&d->h, T_OUT_RT, req, value, 0, NULL, 0, 5000);
}

static int open_test(dev_h *d)
{
    int r = open_dev(&ctx, d, TEST_VID, TEST_PID, 3000);
    if (r == 0 && (r = t_req(d, T_RESET, 0)) < 0) close_dev(d);
    return r;
}

static unsigned char mod63(long long off) { return (unsigned char)((off % 512) % 63); }
static unsigned char mix(long long off) { return (unsigned char)(off * 7 + off / 251); }

/* ---- enumeration ---- */

static void test_gadgets_enumerate_at_high_speed(void)
{
    ausb_device_list l;
    int i, seen = 0, slow = 0, n = ausb_devices(&l, &ctx);
    T_CHECK(n >= 4);
    for (i = 0; i < l.count; i++) {
        const ausb_device_desc *dd = ausb_device_descriptor(&l.items[i]);
        long id = (long)dd->idVendor << 16 | dd->idProduct;
        if (id == (ZERO_VID << 16 | ZERO_PID) || id == (LOOP_VID << 16 | LOOP_PID) ||
            id == (TEST_VID << 16 | TEST_PID) || id == (0x1209 << 16 | 0x0001)) {
            seen++;
            slow += ausb_device_speed_kbps(&l.items[i]) != 480000;
        }
    }
    ausb_devices_free(&l);
    T_EQ(seen, 4);               /* SourceSink, Loopback, ours, the camera */
    T_EQ(slow, 0);
}

static void test_endpoints_found_by_type(void)
{
    T_EQ(open_test(&dv), 0);
    T_CHECK(dv.bulk_in && dv.bulk_out && dv.int_in && dv.int_out);
    close_dev(&dv);
    T_EQ(open_dev(&ctx, &dv, ZERO_VID, ZERO_PID, 3000), 0);
    T_CHECK(dv.bulk_in && dv.bulk_out && !dv.int_in);
    close_dev(&dv);
}

/* ---- control ---- */

static void test_control_on_sourcesink(void)
{
    unsigned char out[200], in[200];
    int i;
    for (i = 0; i < 200; i++) out[i] = (unsigned char)(i * 3 + 1);
    T_EQ(open_dev(&ctx, &dv, ZERO_VID, ZERO_PID, 3000), 0);
    T_EQ(ctl(&dv.h, AUSB_RT_VENDOR | AUSB_RT_DEVICE, 0x5b, 0, 0, out, 200, 2000), 200);
    memset(in, 0, sizeof in);
    T_EQ(ctl(&dv.h, AUSB_RT_IN | AUSB_RT_VENDOR | AUSB_RT_DEVICE, 0x5c, 0, 0, in, 200, 2000), 200);
    close_dev(&dv);
    T_MEMEQ(in, out, 200);
}

static void test_control_on_our_function(void)
{
    unsigned char out[100], in[256];
    int i;
    for (i = 0; i < 100; i++) out[i] = (unsigned char)(200 - i);
    T_EQ(open_test(&dv), 0);
    T_EQ(ctl(&dv.h, T_OUT_RT, T_KEEP, 0, 0, out, 100, 2000), 100);
    i = ctl(&dv.h, T_IN_RT, T_GIVE, 0, 0, in, 256, 2000);
    close_dev(&dv);
    T_EQ(i, 100);
    T_MEMEQ(in, out, 100);
}

static void test_control_stall_then_next_request_works(void)
{
    unsigned char b[8];
    T_EQ(open_test(&dv), 0);
    T_EQ(ctl(&dv.h, T_IN_RT, 0x55, 0, 0, b, 8, 2000), AUSB_ESTALL);
    T_EQ(ctl(&dv.h, T_OUT_RT, 0x55, 0, 0, NULL, 0, 2000), AUSB_ESTALL);
    T_EQ(t_req(&dv, T_RESET, 0), 0);
    close_dev(&dv);
}

/* ---- bulk ---- */

static void test_bulk_source_gives_the_pattern(void)
{
    static unsigned char b[65536];
    int got = 0, i, bad = -1;
    T_EQ(open_dev(&ctx, &dv, ZERO_VID, ZERO_PID, 3000), 0);
    T_EQ(xfer(&dv.h, AUSB_EP_BULK, dv.bulk_in, b, sizeof b, 2000, &got), 0);
    close_dev(&dv);
    T_EQ(got, (int)sizeof b);
    for (i = 0; i < got && bad < 0; i++) if (b[i] != mod63(i)) bad = i;
    T_EQ(bad, -1);
}

static void test_bulk_sink_takes_the_pattern_and_stalls_on_a_bad_byte(void)
{
    static unsigned char b[65536];
    int got = 0, i, rc;
    for (i = 0; i < (int)sizeof b; i++) b[i] = mod63(i);
    T_EQ(open_dev(&ctx, &dv, ZERO_VID, ZERO_PID, 3000), 0);
    T_EQ(xfer(&dv.h, AUSB_EP_BULK, dv.bulk_out, b, sizeof b, 2000, &got), 0);
    T_EQ(got, (int)sizeof b);
    /* the sink halts its endpoint on a byte out of pattern: this transfer
     * or the next one meets the stall */
    b[100] ^= 0x55;
    rc = xfer(&dv.h, AUSB_EP_BULK, dv.bulk_out, b, 4096, 2000, NULL);   /* one whole request of the sink */
    if (rc == 0) rc = xfer(&dv.h, AUSB_EP_BULK, dv.bulk_out, b, 512, 2000, NULL);
    T_EQ(rc, AUSB_ESTALL);
    T_EQ(ausb_clear_halt(&dv.h, dv.bulk_out), 0);
    b[100] ^= 0x55;
    T_EQ(xfer(&dv.h, AUSB_EP_BULK, dv.bulk_out, b, 4096, 2000, &got), 0);
    close_dev(&dv);
}

static void test_bulk_loopback_returns_what_went_out(void)
{
    static const int sizes[] = {1, 100, 511, 513, 3000, 4095};
    unsigned char out[4096], in[4096];
    int k, i, got;
    T_EQ(open_dev(&ctx, &dv, LOOP_VID, LOOP_PID, 3000), 0);
    for (k = 0; k < (int)(sizeof sizes / sizeof sizes[0]); k++) {
        for (i = 0; i < sizes[k]; i++) out[i] = mix(i + k);
        got = 0;
        if (xfer(&dv.h, AUSB_EP_BULK, dv.bulk_out, out, sizes[k], 2000, NULL) != 0 ||
            xfer(&dv.h, AUSB_EP_BULK, dv.bulk_in, in, sizeof in, 2000, &got) != 0 ||
            got != sizes[k] || memcmp(in, out, (size_t)got) != 0) {
            close_dev(&dv);
            T_FAILF("round trip of %d bytes: got %d", sizes[k], got);
        }
    }
    close_dev(&dv);
}

static void test_bulk_echo_on_our_function(void)
{
    unsigned char out[1000], in[2048];
    int i, got = 0;
    for (i = 0; i < 1000; i++) out[i] = mix(i);
    T_EQ(open_test(&dv), 0);
    T_EQ(xfer(&dv.h, AUSB_EP_BULK, dv.bulk_out, out, 1000, 2000, NULL), 0);
    T_EQ(xfer(&dv.h, AUSB_EP_BULK, dv.bulk_in, in, sizeof in, 2000, &got), 0);
    close_dev(&dv);
    T_EQ(got, 1000);
    T_MEMEQ(in, out, 1000);
}

/* ---- interrupt ---- */

static void test_interrupt_reports_echo(void)
{
    unsigned char out[24], in[64];
    int k, got;
    T_EQ(open_test(&dv), 0);
    for (k = 0; k < 5; k++) {
        memset(out, 0x30 + k, sizeof out);
        got = 0;
        if (xfer(&dv.h, AUSB_EP_INTERRUPT, dv.int_out, out, 24, 2000, NULL) != 0 ||
            xfer(&dv.h, AUSB_EP_INTERRUPT, dv.int_in, in, sizeof in, 2000, &got) != 0 ||
            got != 24 || memcmp(in, out, 24) != 0) {
            close_dev(&dv);
            T_FAILF("report %d: got %d bytes", k, got);
        }
    }
    close_dev(&dv);
}

typedef struct ticks { int n, end_status, ended; uint32_t next; int bad; } ticks;

static int on_tick(ausb_pipe *p, ausb_transfer *t, const unsigned char *data, int len, void *ud)
{
    ticks *k = (ticks *)ud;
    uint32_t seq = data[0] | data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
    (void)t;
    if (len != 8 || seq != k->next) k->bad++;
    k->next = seq + 1;
    ++k->n;
    (void)p;
    return 0;
}

static void on_ticks_end(ausb_pipe *p, int status, void *ud)
{
    ticks *k = (ticks *)ud;
    (void)p;
    k->end_status = status;
    k->ended++;
}

static void test_interrupt_pipeline_gets_device_reports_in_order(void)
{
    ausb_pipe p;
    ausb_pipe_config pc;
    ticks k;
    int i;
    memset(&k, 0, sizeof k);
    T_EQ(open_test(&dv), 0);
    ausb_pipe_config_init(&pc);
    pc.in_flight = 4;
    pc.transfer_len = 64;
    T_EQ(ausb_pipe_start(&p, &dv.h, dv.int_in, AUSB_EP_INTERRUPT, &pc, on_tick, on_ticks_end, &k), 0);
    i = t_req(&dv, T_TICKS, 20);
    run_until(&ctx, &k.n, 20);
    end_pipe(&p, &k.ended);
    close_dev(&dv);
    T_EQ(i, 0);
    T_EQ(k.n, 20);
    T_EQ(k.bad, 0);
    T_EQ(k.ended, 1);
    T_EQ(k.end_status, -ECANCELED);
}

/* ---- stalls, late answers, timeouts ---- */

static void test_halted_bulk_in_stalls_until_cleared(void)
{
    unsigned char b[512];
    int got = 0;
    T_EQ(open_test(&dv), 0);
    T_EQ(t_req(&dv, T_HALT, T_BULK_IN), 0);
    T_EQ(xfer(&dv.h, AUSB_EP_BULK, dv.bulk_in, b, sizeof b, 2000, NULL), AUSB_ESTALL);
    T_EQ(xfer(&dv.h, AUSB_EP_BULK, dv.bulk_in, b, sizeof b, 2000, NULL), AUSB_ESTALL);
    T_EQ(ausb_clear_halt(&dv.h, dv.bulk_in), 0);
    memset(b, 0x5a, 100);
    T_EQ(xfer(&dv.h, AUSB_EP_BULK, dv.bulk_out, b, 100, 2000, NULL), 0);
    T_EQ(xfer(&dv.h, AUSB_EP_BULK, dv.bulk_in, b, sizeof b, 2000, &got), 0);
    close_dev(&dv);
    T_EQ(got, 100);
}

static void test_halted_interrupt_out_stalls_until_cleared(void)
{
    unsigned char b[64];
    int got = 0;
    memset(b, 1, sizeof b);
    T_EQ(open_test(&dv), 0);
    T_EQ(t_req(&dv, T_HALT, T_INT_OUT), 0);
    T_EQ(xfer(&dv.h, AUSB_EP_INTERRUPT, dv.int_out, b, 8, 2000, NULL), AUSB_ESTALL);
    T_EQ(ausb_clear_halt(&dv.h, dv.int_out), 0);
    T_EQ(xfer(&dv.h, AUSB_EP_INTERRUPT, dv.int_out, b, 8, 2000, NULL), 0);
    T_EQ(xfer(&dv.h, AUSB_EP_INTERRUPT, dv.int_in, b, 64, 2000, &got), 0);   /* its echo */
    T_EQ(got, 8);
    close_dev(&dv);
}

static void test_late_answers_arrive_late(void)
{
    unsigned char b[512];
    int64_t t0;
    int got = 0;
    T_EQ(open_test(&dv), 0);
    T_EQ(t_req(&dv, T_DELAY, 300), 0);
    memset(b, 7, 100);
    T_EQ(xfer(&dv.h, AUSB_EP_BULK, dv.bulk_out, b, 100, 2000, NULL), 0);
    t0 = ausb_now_ns();
    T_EQ(xfer(&dv.h, AUSB_EP_BULK, dv.bulk_in, b, sizeof b, 5000, &got), 0);
    T_CHECK(ms_since(t0) >= 250);
    T_EQ(got, 100);
    t0 = ausb_now_ns();
    T_EQ(ctl(&dv.h, T_IN_RT, T_GIVE, 0, 0, b, 64, 5000), 0);
    T_CHECK(ms_since(t0) >= 250);
    T_EQ(t_req(&dv, T_RESET, 0), 0);
    close_dev(&dv);
}

static void test_silent_endpoints_time_out(void)
{
    unsigned char b[512];
    int64_t t0, ms;
    T_EQ(open_test(&dv), 0);
    t0 = ausb_now_ns();
    T_EQ(xfer(&dv.h, AUSB_EP_BULK, dv.bulk_in, b, sizeof b, 200, NULL), -ETIMEDOUT);
    ms = ms_since(t0);
    T_CHECK(ms >= 190 && ms < 3000);
    t0 = ausb_now_ns();
    T_EQ(xfer(&dv.h, AUSB_EP_INTERRUPT, dv.int_in, b, 64, 150, NULL), -ETIMEDOUT);
    ms = ms_since(t0);
    T_CHECK(ms >= 140 && ms < 3000);
    close_dev(&dv);
}

/* The echo sends 1024 bytes as two full packets and no short one, so a
 * read of 4096 goes on waiting: it times out with those bytes. */
static void test_timed_out_bulk_in_keeps_the_full_packets_that_arrived(void)
{
    unsigned char out[1024], in[4096];
    int i, got = -1;
    for (i = 0; i < 1024; i++) out[i] = mix(i + 5);
    memset(in, 0, sizeof in);
    T_EQ(open_test(&dv), 0);
    T_EQ(xfer_f(&dv.h, AUSB_EP_BULK, dv.bulk_out, out, 1024, 2000, AUSB_ZERO_PACKET, NULL), 0);
    T_EQ(xfer(&dv.h, AUSB_EP_BULK, dv.bulk_in, in, sizeof in, 200, &got), -ETIMEDOUT);
    close_dev(&dv);
    T_EQ(got, 1024);
    T_MEMEQ(in, out, 1024);
}

typedef struct kept { int calls, len, status, end_status, ended; unsigned char data[4096]; } kept;

static int on_keep(ausb_pipe *p, ausb_transfer *t, const unsigned char *data, int len, void *ud)
{
    kept *k = (kept *)ud;
    (void)p;
    if (k->len + len <= (int)sizeof k->data) memcpy(k->data + k->len, data, (size_t)len);
    k->calls++;
    k->len += len;
    k->status = t->status;
    return 0;
}

static void on_keep_end(ausb_pipe *p, int status, void *ud)
{
    kept *k = (kept *)ud;
    (void)p;
    k->end_status = status;
    k->ended++;
}

static void test_pipeline_hands_over_the_packets_of_a_timed_out_transfer(void)
{
    ausb_pipe p;
    ausb_pipe_config pc;
    unsigned char out[2048];
    kept k;
    int i;
    memset(&k, 0, sizeof k);
    for (i = 0; i < 2048; i++) out[i] = mix(i);
    T_EQ(open_test(&dv), 0);
    ausb_pipe_config_init(&pc);
    pc.in_flight = 2;
    pc.transfer_len = 4096;
    pc.timeout_ns = AUSB_MS(250);
    T_EQ(ausb_pipe_start(&p, &dv.h, dv.bulk_in, AUSB_EP_BULK, &pc, on_keep, on_keep_end, &k), 0);
    T_EQ(xfer_f(&dv.h, AUSB_EP_BULK, dv.bulk_out, out, 2048, 2000, AUSB_ZERO_PACKET, NULL), 0);
    run_until(&ctx, &k.ended, 1);
    end_pipe(&p, &k.ended);
    close_dev(&dv);
    T_EQ(k.ended, 1);
    T_EQ(k.calls, 1);
    T_EQ(k.len, 2048);
    T_EQ(k.status, -ETIMEDOUT);
    T_EQ(k.end_status, -ETIMEDOUT);
    T_MEMEQ(k.data, out, 2048);
}

/* The Loopback function keeps a few requests' worth of OUT data until the
 * host reads it back: a long write times out with what it took, and
 * exactly those bytes come back. */
static void test_timed_out_bulk_out_reports_what_the_device_took(void)
{
    static unsigned char out[262144], in[262144];
    int i, got = -1, back = 0, n = 0, rc = 0;
    for (i = 0; i < (int)sizeof out; i++) out[i] = mix(i + 11);
    T_EQ(open_dev(&ctx, &dv, LOOP_VID, LOOP_PID, 3000), 0);
    T_EQ(xfer(&dv.h, AUSB_EP_BULK, dv.bulk_out, out, sizeof out, 300, &got), -ETIMEDOUT);
    while (back < (int)sizeof in && rc == 0) {
        rc = xfer(&dv.h, AUSB_EP_BULK, dv.bulk_in, in + back, 16384, 150, &n);
        back += n;
    }
    close_dev(&dv);
    T_CHECK(got > 0 && got < (int)sizeof out);
    T_EQ(got % 512, 0);
    T_EQ(rc, -ETIMEDOUT);
    T_EQ(back, got);
    T_MEMEQ(in, out, (size_t)(back > 0 ? back : 1));
}

static void test_late_control_answer_times_out_and_the_device_recovers(void)
{
    unsigned char b[64];
    T_EQ(open_test(&dv), 0);
    T_EQ(t_req(&dv, T_DELAY, 1000), 0);
    T_EQ(ctl(&dv.h, T_IN_RT, T_GIVE, 0, 0, b, 64, 200), -ETIMEDOUT);
    /* the device answers the next request once its late answer has failed */
    T_EQ(t_req(&dv, T_RESET, 0), 0);
    T_EQ(ctl(&dv.h, T_IN_RT, T_GIVE, 0, 0, b, 64, 2000), 0);
    close_dev(&dv);
}

/* ---- URBs in flight in the kernel ---- */

enum { NQ = 8 };

typedef struct many { ausb_transfer t[NQ]; res r[NQ]; unsigned char b[NQ][512]; } many;

/* NQ reads nobody answers, submitted and left in the kernel for a while. */
static int submit_silent_reads(dev_h *d, many *m, int timeout_step_ms)
{
    int i;
    memset(m, 0, sizeof *m);
    for (i = 0; i < NQ; i++) {
        if (ausb_transfer_init(&m->t[i], 0) != 0) return -1;
        if (i % 2) ausb_fill_interrupt(&m->t[i], &d->h, d->int_in, m->b[i], 64,
                                       AUSB_MS(timeout_step_ms * (i + 1)), on_done, &m->r[i]);
        else ausb_fill_bulk(&m->t[i], &d->h, d->bulk_in, m->b[i], 512,
                            AUSB_MS(timeout_step_ms * (i + 1)), on_done, &m->r[i]);
        if (ausb_submit(&m->t[i]) != 0) return -1;
    }
    ausb_run_once(&ctx, AUSB_MS(50));
    for (i = 0; i < NQ; i++)
        if (m->r[i].calls || ausb_transfer_state(&m->t[i]) != AUSB_XFER_INFLIGHT) return -2;
    return 0;
}

static int calls_total(const many *m, int want_status)
{
    int i, n = 0;
    for (i = 0; i < NQ; i++) n += m->r[i].calls == 1 && m->r[i].status == want_status;
    return n;
}

static void free_all(many *m)
{
    int i;
    for (i = 0; i < NQ; i++) ausb_transfer_free(&m->t[i]);
}

static int echo_works(dev_h *d)
{
    unsigned char b[512];
    int got = 0;
    memset(b, 9, 33);
    return xfer(&d->h, AUSB_EP_BULK, d->bulk_out, b, 33, 2000, NULL) == 0 &&
           xfer(&d->h, AUSB_EP_BULK, d->bulk_in, b, sizeof b, 2000, &got) == 0 && got == 33;
}

static void test_cancel_in_flight_calls_back_once_each(void)
{
    static many m;
    int i, n;
    T_EQ(open_test(&dv), 0);
    T_EQ(submit_silent_reads(&dv, &m, 0), 0);
    for (i = 0; i < NQ; i++) T_EQ(ausb_cancel(&m.t[i]), 0);
    ausb_cancel(&m.t[0]);                   /* again: nothing more */
    for (i = 0; i < 40; i++) ausb_run_once(&ctx, AUSB_MS(10));
    n = calls_total(&m, -ECANCELED);
    free_all(&m);
    T_EQ(n, NQ);
    T_CHECK(echo_works(&dv));
    close_dev(&dv);
}

static void test_timeouts_in_flight_come_in_deadline_order(void)
{
    static many m;
    int i, order_ok = 1, n, done = 0;
    int64_t t0;
    T_EQ(open_test(&dv), 0);
    t0 = ausb_now_ns();
    T_EQ(submit_silent_reads(&dv, &m, 60), 0);
    while (done < NQ && ms_since(t0) < 5000) {
        ausb_run_once(&ctx, AUSB_MS(20));
        for (i = done = 0; i < NQ; i++) done += m.r[i].calls;
    }
    for (i = 1; i < NQ; i++) order_ok &= m.r[i].seq > m.r[i - 1].seq;
    n = calls_total(&m, -ETIMEDOUT);
    free_all(&m);
    T_EQ(n, NQ);
    T_CHECK(order_ok);
    T_CHECK(echo_works(&dv));
    close_dev(&dv);
}

static void test_close_with_urbs_in_flight_delivers_them_first(void)
{
    static many m;
    int n;
    T_EQ(open_test(&dv), 0);
    T_EQ(submit_silent_reads(&dv, &m, 0), 0);
    ausb_close(&dv.h);
    dv.open = 0;
    n = calls_total(&m, -ECANCELED);
    free_all(&m);
    close_dev(&dv);
    T_EQ(n, NQ);
    /* and the device serves the next handle */
    T_EQ(open_test(&dv), 0);
    T_CHECK(echo_works(&dv));
    close_dev(&dv);
}

/* ---- streams ---- */

typedef struct flow {
    unsigned char (*gen)(long long);   /* the byte expected at an offset */
    long long want, got, bad_at;
    int ended, end_status;
    int unplug_at_ms;             /* unplug test: when to pull the gadget (0: never) */
    int64_t t0;
    int unplugged;
} flow;

static int on_pattern(ausb_pipe *p, ausb_transfer *t, const unsigned char *data, int len, void *ud)
{
    flow *f = (flow *)ud;
    int i;
    (void)t;
    for (i = 0; i < len; i++)
        if (f->bad_at < 0 && data[i] != f->gen(f->got + i)) f->bad_at = f->got + i;
    f->got += len;
    if (f->want && f->got >= f->want) ausb_pipe_stop(p);
    return 0;
}

static void on_flow_end(ausb_pipe *p, int status, void *ud)
{
    flow *f = (flow *)ud;
    (void)p;
    f->ended++;
    f->end_status = status;
}

static void test_pipeline_streams_the_source_in_order(void)
{
    ausb_pipe p;
    ausb_pipe_config pc;
    flow f;
    memset(&f, 0, sizeof f);
    f.gen = mod63;
    f.want = 4 << 20;
    f.bad_at = -1;
    T_EQ(open_dev(&ctx, &dv, ZERO_VID, ZERO_PID, 3000), 0);
    ausb_pipe_config_init(&pc);
    pc.in_flight = 16;
    T_EQ(ausb_pipe_start(&p, &dv.h, dv.bulk_in, AUSB_EP_BULK, &pc, on_pattern, on_flow_end, &f), 0);
    run_until(&ctx, &f.ended, 1);
    end_pipe(&p, &f.ended);
    close_dev(&dv);
    T_EQ(f.end_status, -ECANCELED);
    T_CHECK(f.got >= f.want);
    T_EQ(f.bad_at, -1);
}

typedef struct sent { int calls, bad; long long bytes; } sent;

static void on_sent(ausb_outq *q, int status, int len, void *ud)
{
    sent *s = (sent *)ud;
    (void)q;
    s->calls++;
    if (status != 0) s->bad++;
    else s->bytes += len;
}

/* Writes total bytes of gen(offset) through q, 16 KiB at a time. */
static void feed(ausb_outq *q, long long *off, long long total, unsigned char (*gen)(long long))
{
    unsigned char b[16384];
    int i, n, r;
    while (*off < total) {
        n = total - *off < (long long)sizeof b ? (int)(total - *off) : (int)sizeof b;
        for (i = 0; i < n; i++) b[i] = gen(*off + i);
        if ((r = ausb_outq_write(q, b, n)) == -EAGAIN) return;
        if (r != 0) { *off = total; return; }
        *off += n;
    }
}

static void test_outq_fills_the_sink(void)
{
    ausb_outq q;
    sent s = {0, 0, 0};
    long long off = 0, total = 4 << 20;
    int64_t t0 = ausb_now_ns();
    T_EQ(open_dev(&ctx, &dv, ZERO_VID, ZERO_PID, 3000), 0);
    T_EQ(ausb_outq_init(&q, &dv.h, dv.bulk_out, 8, 16384, 0, AUSB_SEC(5), on_sent, &s), 0);
    while (s.bytes < total && !s.bad && ms_since(t0) < 20000) {
        feed(&q, &off, total, mod63);
        ausb_run_once(&ctx, AUSB_MS(100));
    }
    ausb_outq_close(&q);
    drain(&ctx);
    close_dev(&dv);
    T_EQ(s.bad, 0);
    T_EQ(s.bytes, total);
    T_EQ(s.calls, (int)(total / 16384));
}

static void test_loopback_pipeline_out_queue_and_in_pipe_together(void)
{
    ausb_outq q;
    ausb_pipe p;
    ausb_pipe_config pc;
    sent s = {0, 0, 0};
    flow f;
    long long off = 0;
    int64_t t0 = ausb_now_ns();
    memset(&f, 0, sizeof f);
    f.gen = mix;
    f.want = 1 << 20;
    f.bad_at = -1;
    T_EQ(open_dev(&ctx, &dv, LOOP_VID, LOOP_PID, 3000), 0);
    ausb_pipe_config_init(&pc);
    pc.in_flight = 8;
    T_EQ(ausb_pipe_start(&p, &dv.h, dv.bulk_in, AUSB_EP_BULK, &pc, on_pattern, on_flow_end, &f), 0);
    T_EQ(ausb_outq_init(&q, &dv.h, dv.bulk_out, 4, 16384, 0, AUSB_SEC(5), on_sent, &s), 0);
    while (!f.ended && !s.bad && ms_since(t0) < 20000) {
        feed(&q, &off, f.want, mix);
        ausb_run_once(&ctx, AUSB_MS(100));
    }
    ausb_outq_close(&q);
    end_pipe(&p, &f.ended);
    drain(&ctx);
    close_dev(&dv);
    T_EQ(s.bad, 0);
    T_EQ(f.got, f.want);
    T_EQ(f.bad_at, -1);
}

typedef struct es_end { int calls, status; } es_end;

static void on_es_end(ausb_epstream *es, int status, void *ud)
{
    es_end *e = (es_end *)ud;
    (void)es;
    e->calls++;
    e->status = status;
}

static void test_endpoint_stream_over_the_loopback(void)
{
    ausb_epstream es;
    es_end e = {0, 0};
    static unsigned char out[200000], in[200000];
    long long w = 0, r = 0;
    int fd, i;
    int64_t t0 = ausb_now_ns();
    for (i = 0; i < (int)sizeof out; i++) out[i] = mix(i);
    T_EQ(open_dev(&ctx, &dv, LOOP_VID, LOOP_PID, 3000), 0);
    T_EQ(ausb_epstream_open(&es, &dv.h, dv.bulk_in, dv.bulk_out, NULL, on_es_end, &e), 0);
    fd = ausb_epstream_fd(&es);
    while (r < (long long)sizeof in && !e.calls && ms_since(t0) < 20000) {
        ssize_t n;
        if (w < (long long)sizeof out && (n = write(fd, out + w, sizeof out - (size_t)w)) > 0) w += n;
        ausb_run_once(&ctx, AUSB_MS(20));
        while ((n = read(fd, in + r, sizeof in - (size_t)r)) > 0) r += n;
    }
    ausb_epstream_close(&es);
    run_until(&ctx, &e.calls, 1);
    drain(&ctx);
    close(fd);
    close_dev(&dv);
    T_EQ(r, (long long)sizeof in);
    T_MEMEQ(in, out, sizeof in);
    T_EQ(e.calls, 1);
    T_EQ(e.status, -ECANCELED);
}

/* ---- zero-copy buffers ---- */

/* Streams `total` bytes of the source through depth transfers of 64 KiB,
 * with or without buffers mapped from usbfs: the pipe's zero_copy, the
 * rate in MB/s and this process's CPU seconds (user and system: the
 * kernel's copy to a plain buffer is system time of the reaping
 * process).  Every chunk's first and last bytes are checked (all of them
 * when check_all); -1 on any error. */
typedef struct src_run { int zero_copy; double mbps, cpu_s; flow f; } src_run;

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int on_ends(ausb_pipe *p, ausb_transfer *t, const unsigned char *data, int len, void *ud)
{
    flow *f = (flow *)ud;
    (void)t;
    if (len > 0 && f->bad_at < 0 && (data[0] != mod63(f->got) || data[len - 1] != mod63(f->got + len - 1)))
        f->bad_at = f->got;
    f->got += len;
    if (f->got >= f->want) ausb_pipe_stop(p);
    return 0;
}

static int source_run(src_run *s, int zero_copy, int depth, long long total, int check_all)
{
    ausb_pipe p;
    ausb_pipe_config pc;
    double c0;
    int64_t t0;
    memset(s, 0, sizeof *s);
    s->f.gen = mod63;
    s->f.want = total;
    s->f.bad_at = -1;
    if (open_dev(&ctx, &dv, ZERO_VID, ZERO_PID, 3000) != 0) return -1;
    ausb_set_zero_copy(&dv.h, zero_copy);
    ausb_pipe_config_init(&pc);
    pc.in_flight = depth;
    pc.transfer_len = 65536;
    c0 = cpu_now();
    t0 = ausb_now_ns();
    if (ausb_pipe_start(&p, &dv.h, dv.bulk_in, AUSB_EP_BULK, &pc, check_all ? on_pattern : on_ends, on_flow_end, &s->f) != 0) {
        close_dev(&dv);
        return -1;
    }
    s->zero_copy = p.zero_copy;
    run_until(&ctx, &s->f.ended, 1);
    end_pipe(&p, &s->f.ended);
    s->mbps = (double)s->f.got / ((ausb_now_ns() - t0) / 1e9) / 1e6;
    s->cpu_s = cpu_now() - c0;
    close_dev(&dv);
    return s->f.end_status == -ECANCELED && s->f.got >= total && s->f.bad_at < 0 ? 0 : -1;
}

static void test_zero_copy_pipes_map_usbfs_and_plain_ones_do_not(void)
{
    src_run on, off;
    T_EQ(source_run(&on, 1, 4, 1 << 20, 1), 0);
    T_EQ(source_run(&off, 0, 4, 1 << 20, 1), 0);
    T_EQ(on.zero_copy, 1);
    T_EQ(off.zero_copy, 0);
}

/* The sink halts on a byte out of pattern: what a zero-copy OUT queue
 * sends arrives intact. */
static void test_zero_copy_out_queue_fills_the_sink(void)
{
    ausb_outq q;
    sent s = {0, 0, 0};
    long long off = 0, total = 1 << 20;
    int64_t t0 = ausb_now_ns();
    int zc;
    T_EQ(open_dev(&ctx, &dv, ZERO_VID, ZERO_PID, 3000), 0);
    T_EQ(ausb_outq_init(&q, &dv.h, dv.bulk_out, 8, 16384, 0, AUSB_SEC(5), on_sent, &s), 0);
    zc = q.zero_copy;
    while (s.bytes < total && !s.bad && ms_since(t0) < 20000) {
        feed(&q, &off, total, mod63);
        ausb_run_once(&ctx, AUSB_MS(100));
    }
    ausb_outq_close(&q);
    drain(&ctx);
    close_dev(&dv);
    T_EQ(zc, 1);
    T_EQ(s.bad, 0);
    T_EQ(s.bytes, total);
}

/* USB_VM_BENCH=1 (the plain build): 64 MiB from the source at depths 4
 * and 16, copied and zero-copy, in alternating rounds; one NOTE line per
 * depth with the medians of three rounds (figures of an emulated bus:
 * compare them with each other only). */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void test_zero_copy_measured_against_copied_buffers(void)
{
    static const int depths[2] = {4, 16};
    enum { ROUNDS = 3 };
    double mb[2][ROUNDS], cpu[2][ROUNDS];
    src_run r;
    int d, k, z;
    const char *bench = getenv("USB_VM_BENCH");
    if (!bench || !*bench) return;
    for (d = 0; d < 2; d++) {
        for (k = 0; k < ROUNDS; k++)
            for (z = 0; z < 2; z++) {
                int mode = (k & 1) ? 1 - z : z;      /* alternate which goes first */
                T_EQ(source_run(&r, mode, depths[d], 64LL << 20, 0), 0);
                T_EQ(r.zero_copy, mode);
                mb[mode][k] = r.mbps;
                cpu[mode][k] = r.cpu_s;
            }
        for (z = 0; z < 2; z++) {
            qsort(mb[z], ROUNDS, sizeof mb[z][0], cmp_double);
            qsort(cpu[z], ROUNDS, sizeof cpu[z][0], cmp_double);
        }
        printf("NOTE zero-copy: 64 MiB bulk IN from SourceSink, depth %d x 64 KiB (median of %d): "
               "copied %.1f MB/s, %.2f s CPU; zero-copy %.1f MB/s, %.2f s CPU\n",
               depths[d], ROUNDS, mb[0][ROUNDS / 2], cpu[0][ROUNDS / 2], mb[1][ROUNDS / 2], cpu[1][ROUNDS / 2]);
        fflush(stdout);
    }
}

/* ---- the usbfs memory limit ---- */

#define USBFS_MB "/sys/module/usbcore/parameters/usbfs_memory_mb"

static int usbfs_mb_read(void)
{
    char b[32];
    int fd = open(USBFS_MB, O_RDONLY), n;
    if (fd < 0) return -1;
    n = (int)read(fd, b, sizeof b - 1);
    close(fd);
    if (n <= 0) return -1;
    b[n] = 0;
    return atoi(b);
}

static int usbfs_mb_write(int mb)
{
    char b[32];
    int fd = open(USBFS_MB, O_WRONLY), ok;
    if (fd < 0) return -1;
    snprintf(b, sizeof b, "%d\n", mb);
    ok = write(fd, b, strlen(b)) > 0;
    close(fd);
    return ok ? 0 : -1;
}

static int usbfs_mb_saved = -1;

/* Each test below lowers the limit; the next one (and the rest of the
 * suite) starts from the kernel's own value again, also after a failure. */
static void usbfs_restore(void)
{
    if (usbfs_mb_saved >= 0) (void)usbfs_mb_write(usbfs_mb_saved);
}

static void usbfs_refuses_a_pipeline_up_front(void)
{
    ausb_pipe p;
    ausb_outq q;
    ausb_pipe_config pc;
    ausb_transfer t;
    static unsigned char big[2 << 20];
    flow f;
    res r = {0, 0, 0, 0};
    int rc;
    memset(&f, 0, sizeof f);
    f.gen = mod63;
    f.want = 1 << 20;
    f.bad_at = -1;
    T_EQ(usbfs_mb_write(1), 0);
    T_EQ(open_dev(&ctx, &dv, ZERO_VID, ZERO_PID, 3000), 0);
    T_EQ(ausb_usbfs_limit(&ctx), 1 << 20);
    ausb_pipe_config_init(&pc);
    pc.in_flight = 64;
    pc.transfer_len = 65536;
    T_EQ(ausb_pipe_start(&p, &dv.h, dv.bulk_in, AUSB_EP_BULK, &pc, on_pattern, on_flow_end, &f), -ENOBUFS);
    T_EQ(ausb_pending(&ctx), 0);
    T_EQ(ausb_outq_init(&q, &dv.h, dv.bulk_out, 32, 65536, 0, 0, NULL, NULL), -ENOBUFS);
    T_EQ(ausb_transfer_init(&t, 0), 0);
    ausb_fill_bulk(&t, &dv.h, dv.bulk_in, big, sizeof big, AUSB_SEC(2), on_done, &r);
    rc = ausb_submit(&t);
    if (rc == 0) run_until(&ctx, &r.calls, 1);
    ausb_transfer_free(&t);
    T_EQ(rc, -ENOBUFS);
    T_EQ(ausb_usbfs_in_use(&ctx), 0);
    /* what fits streams as usual */
    pc.in_flight = 8;
    T_EQ(ausb_pipe_start(&p, &dv.h, dv.bulk_in, AUSB_EP_BULK, &pc, on_pattern, on_flow_end, &f), 0);
    run_until(&ctx, &f.ended, 1);
    end_pipe(&p, &f.ended);
    close_dev(&dv);
    T_EQ(f.end_status, -ECANCELED);
    T_CHECK(f.got >= f.want);
    T_EQ(f.bad_at, -1);
    T_EQ(ausb_usbfs_in_use(&ctx), 0);
}

static void test_usbfs_limit_refuses_a_large_pipeline_up_front(void)
{
    usbfs_mb_saved = usbfs_mb_read();
    T_CHECK(usbfs_mb_saved >= 0);
    usbfs_refuses_a_pipeline_up_front();
    usbfs_restore();
}

/* The kernel counts every program's URBs: with the limit lowered behind
 * the context's back (as another program's transfers would use it up), a
 * submit it refuses reads as the limit too. */
static void usbfs_kernel_refusal(void)
{
    ausb_pipe p;
    ausb_pipe_config pc;
    kept k;
    unsigned char b[16384];
    res r = {0, 0, 0, 0};
    ausb_transfer t;
    int rc;
    memset(&k, 0, sizeof k);
    T_EQ(usbfs_mb_write(0), 0);
    T_EQ(open_test(&dv), 0);
    ausb_pipe_config_init(&pc);
    pc.in_flight = 16;
    pc.transfer_len = 65536;            /* 1 MiB waiting on a silent endpoint */
    T_EQ(ausb_pipe_start(&p, &dv.h, dv.bulk_in, AUSB_EP_BULK, &pc, on_keep, on_keep_end, &k), 0);
    T_EQ(usbfs_mb_write(1), 0);
    T_EQ(ausb_transfer_init(&t, 0), 0);
    ausb_fill_interrupt(&t, &dv.h, dv.int_in, b, 64, AUSB_MS(200), on_done, &r);
    rc = ausb_submit(&t);
    if (rc == 0) run_until(&ctx, &r.calls, 1);
    ausb_transfer_free(&t);
    end_pipe(&p, &k.ended);
    close_dev(&dv);
    T_EQ(rc, -ENOBUFS);
    T_EQ(k.ended, 1);
    T_EQ(k.end_status, -ECANCELED);
}

static void test_submit_the_kernel_refuses_for_memory_reads_as_enobufs(void)
{
    usbfs_mb_saved = usbfs_mb_read();
    T_CHECK(usbfs_mb_saved >= 0);
    usbfs_kernel_refusal();
    usbfs_restore();
}

/* ---- unplug and replug ---- */

static int write_udc(const char *text)
{
    const char *path = getenv("USB_VM_UDC") ? getenv("USB_VM_UDC") : "/sys/kernel/config/usb_gadget/zero/UDC";
    int fd = open(path, O_WRONLY), ok;
    if (fd < 0) return -1;
    ok = write(fd, text, strlen(text)) >= 0;
    close(fd);
    return ok ? 0 : -1;
}

static int on_stream_then_unplug(ausb_pipe *p, ausb_transfer *t, const unsigned char *data, int len, void *ud)
{
    flow *f = (flow *)ud;
    on_pattern(p, t, data, len, ud);
    if (!f->unplugged && f->got >= (1 << 20)) {
        f->unplugged = 1;
        if (write_udc("\n") < 0) f->unplugged = -1;
    }
    return 0;
}

static void test_unplug_mid_stream_and_plug_back(void)
{
    ausb_pipe p;
    ausb_pipe_config pc;
    ausb_ctx c2;
    flow f;
    unsigned char b[8192], one = 0;
    char udc[64] = "";
    int fd, got = 0, i, k, bad = -1;
    memset(&f, 0, sizeof f);
    f.gen = mod63;
    f.bad_at = -1;
    /* the UDC the gadget is bound to, to bind it again */
    fd = open(getenv("USB_VM_UDC") ? getenv("USB_VM_UDC") : "/sys/kernel/config/usb_gadget/zero/UDC", O_RDONLY);
    T_CHECK(fd >= 0);
    i = (int)read(fd, udc, sizeof udc - 1);
    close(fd);
    T_CHECK(i > 1);
    udc[i] = 0;
    T_EQ(open_dev(&ctx, &dv, ZERO_VID, ZERO_PID, 3000), 0);
    ausb_pipe_config_init(&pc);
    pc.in_flight = 8;
    T_EQ(ausb_pipe_start(&p, &dv.h, dv.bulk_in, AUSB_EP_BULK, &pc, on_stream_then_unplug, on_flow_end, &f), 0);
    run_until(&ctx, &f.ended, 1);
    end_pipe(&p, &f.ended);
    T_EQ(f.unplugged, 1);
    T_EQ(f.ended, 1);
    T_EQ(f.end_status, -ENODEV);
    T_EQ(f.bad_at, -1);
    T_CHECK(ausb_handle_gone(&dv.h));
    T_EQ(xfer(&dv.h, AUSB_EP_BULK, dv.bulk_in, &one, 1, 500, NULL), -ENODEV);
    close_dev(&dv);
    /* plugged back: without udevd a context made before it arrived never
     * lists it (only a hotplug watch hears of it); one made after it does */
    T_EQ(write_udc(udc), 0);
    for (k = 0; k < 50; k++) {
        T_EQ(ausb_ctx_init(&c2, NULL), 0);
        if ((i = open_dev(&c2, &dv, ZERO_VID, ZERO_PID, 0)) == 0) break;
        ausb_ctx_close(&c2);
        usleep(100000);
    }
    if (i == 0) {
        res r = {0, 0, 0, 0};
        ausb_transfer t;
        ausb_transfer_init(&t, 0);
        ausb_fill_bulk(&t, &dv.h, dv.bulk_in, b, sizeof b, AUSB_SEC(2), on_done, &r);
        if (ausb_submit(&t) == 0) {
            run_until(&c2, &r.calls, 1);
            if (r.calls == 0) { ausb_cancel(&t); run_until(&c2, &r.calls, 1); }
        }
        ausb_transfer_free(&t);
        got = r.status == 0 ? r.len : r.status;
        close_dev(&dv);
        ausb_ctx_close(&c2);
    }
    T_EQ(i, 0);
    T_EQ(got, (int)sizeof b);
    for (i = 0; i < got && bad < 0; i++) if (b[i] != mod63(i)) bad = i;
    T_EQ(bad, -1);
}

/* ---- hotplug: the zero gadget unplugged and plugged back ----
 *
 * The stage runs the tests named test_hotplug_* twice: without udevd (as
 * the VM boots: libusb alone hears nothing, the kernel's monitor hears it
 * all) and with systemd-udevd running (USB_VM_UDEVD=1: libusb hears it
 * too, and a watch left to choose takes libusb's); test_kernel_monitor_*
 * do not depend on udevd and run in the first pass only. */

typedef struct hp_seen {
    int arrived, left;
    int have;                   /* dev holds the last arrival's device */
    ausb_device dev;
} hp_seen;

static int udevd_runs(void) { return getenv("USB_VM_UDEVD") && atoi(getenv("USB_VM_UDEVD")) == 1; }

static void on_hp(ausb_hotplug *hp, int arrived, const ausb_device *dev, void *ud)
{
    hp_seen *s = (hp_seen *)ud;
    (void)hp;
    if (!arrived) { s->left++; return; }
    s->arrived++;
    if (s->have) ausb_device_release(&s->dev);
    s->have = ausb_device_copy(&s->dev, dev) == 0;
}

static void hp_forget(hp_seen *s)
{
    if (s->have) ausb_device_release(&s->dev);
    memset(s, 0, sizeof *s);
}

/* Runs c until s saw that many departures and arrivals, or ms passed. */
static int hp_wait(ausb_ctx *c, const hp_seen *s, int left, int arrived, int ms)
{
    int64_t t0 = ausb_now_ns();
    while ((s->left < left || s->arrived < arrived) && ms_since(t0) < ms) ausb_run_once(c, AUSB_MS(50));
    return s->left >= left && s->arrived >= arrived;
}

static int hp_start(ausb_hotplug *hp, ausb_ctx *c, unsigned flags, hp_seen *s)
{
    ausb_filter f;
    ausb_filter_init(&f);
    f.vendor_id = ZERO_VID;
    f.product_id = ZERO_PID;
    memset(s, 0, sizeof *s);
    return ausb_hotplug_start(hp, c, &f, flags, on_hp, s);
}

static char hp_udc[64];

static int hp_unplug(void)
{
    const char *path = getenv("USB_VM_UDC") ? getenv("USB_VM_UDC") : "/sys/kernel/config/usb_gadget/zero/UDC";
    int fd = open(path, O_RDONLY), n;
    if (fd < 0) return -1;
    n = (int)read(fd, hp_udc, sizeof hp_udc - 1);
    close(fd);
    if (n < 2) return -1;
    hp_udc[n] = 0;
    return write_udc("\n");
}

/* Streams 8 KiB of the source pattern from a device a notification gave. */
static int hp_stream_from(ausb_ctx *c, const ausb_device *dev)
{
    static unsigned char b[8192];
    dev_h d;
    res r = {0, 0, 0, 0};
    ausb_transfer t;
    int i;
    memset(&d, 0, sizeof d);
    if (ausb_device_copy(&d.dev, dev) != 0) return -1;
    d.found = 1;
    if (ausb_open(&d.h, &d.dev) != 0 || (d.open = 1, ausb_claim(&d.h, 0)) != 0) { close_dev(&d); return -2; }
    if (!(d.bulk_in = find_ep(&d.dev, AUSB_EP_BULK, 1))) { close_dev(&d); return -5; }   /* seen unconfigured */
    ausb_transfer_init(&t, 0);
    ausb_fill_bulk(&t, &d.h, d.bulk_in, b, sizeof b, AUSB_SEC(2), on_done, &r);
    if (ausb_submit(&t) == 0) run_until(c, &r.calls, 1);
    if (r.calls == 0) { ausb_cancel(&t); run_until(c, &r.calls, 1); }
    ausb_transfer_free(&t);
    close_dev(&d);
    if (r.status != 0 || r.len != (int)sizeof b) return -3;
    for (i = 0; i < r.len; i++) if (b[i] != mod63(i)) return -4;
    return 0;
}

/* A bulk IN submitted on h of context c: the submit's error, or the
 * callback's status. */
static int xfer_on(ausb_ctx *c, ausb_handle *h, unsigned char ep, unsigned char *b, int len)
{
    ausb_transfer t;
    res r = {0, 0, 0, 0};
    int rc;
    if (ausb_transfer_init(&t, 0) != 0) return -ENOMEM;
    ausb_fill_bulk(&t, h, ep, b, len, AUSB_MS(500), on_done, &r);
    if ((rc = ausb_submit(&t)) == 0) {
        run_until(c, &r.calls, 1);
        if (r.calls == 0) { ausb_cancel(&t); run_until(c, &r.calls, 1); }
        rc = r.status;
    }
    ausb_transfer_free(&t);
    return rc;
}

static void test_hotplug_source_follows_udevd(void)
{
    ausb_hotplug hp;
    hp_seen s;
    T_EQ(hp_start(&hp, &ctx, 0, &s), 0);
    T_EQ(ausb_hotplug_source(&hp), udevd_runs() ? AUSB_HOTPLUG_LIBUSB : AUSB_HOTPLUG_KERNEL);
    ausb_hotplug_stop(&hp);
    T_EQ(ausb_hotplug_source(&hp), 0u);
}

/* A kernel watch with ENUMERATE reports the gadget present now, as a
 * device at the place a context made now finds it (sysfs gives a device
 * made from its node its port path). */
static void test_kernel_monitor_enumerates_the_gadget(void)
{
    ausb_hotplug hp;
    ausb_ctx c2;
    ausb_device dev;
    hp_seen s;
    char seen_at[64] = "", listed_at[64] = "";
    int r = hp_start(&hp, &ctx, AUSB_HOTPLUG_KERNEL | AUSB_HOTPLUG_ENUMERATE, &s), in_start = s.arrived, arrived, left;
    hp_wait(&ctx, &s, 0, 1, 3000);
    ausb_hotplug_stop(&hp);
    arrived = s.arrived;
    left = s.left;
    if (s.have) ausb_device_port_path(&s.dev, seen_at, sizeof seen_at);
    hp_forget(&s);
    if (ausb_ctx_init(&c2, NULL) == 0) {
        if (ausb_find_id(&dev, &c2, ZERO_VID, ZERO_PID) == 0) {
            ausb_device_port_path(&dev, listed_at, sizeof listed_at);
            ausb_device_release(&dev);
        }
        ausb_ctx_close(&c2);
    }
    T_EQ(r, 0);
    T_EQ(in_start, 0);                      /* never inside the start */
    T_EQ(arrived, 1);
    T_EQ(left, 0);
    T_CHECK(listed_at[0] != 0);
    T_STREQ(seen_at, listed_at);
}

/* Watches left to choose and on the kernel's monitor in one context, and
 * libusb's in another: the device of the arrival opens and streams.  No
 * handle is open on the gadget anywhere in the process: without udevd
 * libusb still reports the departure of a device whose open handle fails
 * (in every context), never an arrival.  Nothing returns early: the gadget
 * is plugged back and the contexts closed whatever happened. */
static void test_hotplug_unplug_and_replug_reported(void)
{
    ausb_ctx c, cl;
    ausb_hotplug any, lib, ker;
    hp_seen sa, sl, sk;
    int udevd = udevd_runs(), unplugged, replugged = -1, rc_any = -9, rc_ker = -9;
    int a_left, a_arr, l_left, l_arr, k_left, k_arr;
    unsigned src;
    close_dev(&dv);
    T_REQUIRE(ausb_ctx_init(&c, NULL) == 0);
    T_REQUIRE(ausb_ctx_init(&cl, NULL) == 0);
    hp_start(&any, &c, 0, &sa);
    hp_start(&lib, &cl, AUSB_HOTPLUG_LIBUSB, &sl);
    hp_start(&ker, &c, AUSB_HOTPLUG_KERNEL, &sk);
    src = ausb_hotplug_source(&any);
    unplugged = hp_unplug();
    if (unplugged == 0) {
        hp_wait(&c, &sk, 1, 0, 5000);
        hp_wait(&c, &sa, 1, 0, 5000);
        replugged = write_udc(hp_udc);
        hp_wait(&c, &sk, 1, 1, 5000);
        hp_wait(&c, &sa, 1, 1, 5000);
        /* libusb's: both with udevd; without, nothing however long one waits */
        hp_wait(&cl, &sl, 1, 1, udevd ? 5000 : 300);
        if (sa.have) rc_any = hp_stream_from(&c, &sa.dev);
        if (sk.have) rc_ker = hp_stream_from(&c, &sk.dev);
    }
    ausb_hotplug_stop(&any);
    ausb_hotplug_stop(&lib);
    ausb_hotplug_stop(&ker);
    a_left = sa.left, a_arr = sa.arrived, l_left = sl.left, l_arr = sl.arrived, k_left = sk.left, k_arr = sk.arrived;
    hp_forget(&sa);
    hp_forget(&sl);
    hp_forget(&sk);
    ausb_ctx_close(&c);
    ausb_ctx_close(&cl);
    T_EQ(unplugged, 0);
    T_EQ(replugged, 0);
    T_EQ(src, udevd ? AUSB_HOTPLUG_LIBUSB : AUSB_HOTPLUG_KERNEL);
    T_EQ(k_left, 1);
    T_EQ(k_arr, 1);
    T_EQ(a_left, 1);
    T_EQ(a_arr, 1);
    T_EQ(rc_any, 0);
    T_EQ(rc_ker, 0);
    T_EQ(l_left, udevd ? 1 : 0);
    T_EQ(l_arr, udevd ? 1 : 0);
}

/* The kernel's monitor marks the handles of a device that left gone when
 * the departure comes (later submits fail at once with -ENODEV). */
static void test_kernel_monitor_marks_handles_of_a_departed_device_gone(void)
{
    ausb_ctx c;
    ausb_hotplug ker;
    hp_seen sk;
    unsigned char one;
    int opened, unplugged, replugged = -1, gone = 0, left = 0, submit = 0;
    T_REQUIRE(ausb_ctx_init(&c, NULL) == 0);
    opened = open_dev(&c, &dv, ZERO_VID, ZERO_PID, 3000);
    hp_start(&ker, &c, AUSB_HOTPLUG_KERNEL, &sk);
    unplugged = hp_unplug();
    if (unplugged == 0) {
        hp_wait(&c, &sk, 1, 0, 5000);
        left = sk.left;
        gone = opened == 0 && ausb_handle_gone(&dv.h);
        if (opened == 0) submit = xfer_on(&c, &dv.h, dv.bulk_in, &one, 1);
        close_dev(&dv);
        replugged = write_udc(hp_udc);
        hp_wait(&c, &sk, 1, 1, 5000);
    }
    close_dev(&dv);
    ausb_hotplug_stop(&ker);
    hp_forget(&sk);
    ausb_ctx_close(&c);
    T_EQ(opened, 0);
    T_EQ(unplugged, 0);
    T_EQ(replugged, 0);
    T_EQ(left, 1);
    T_CHECK(gone);
    T_EQ(submit, -ENODEV);
}

int main(void)
{
    t_suite("usb_vm");
    T_REQUIRE(ausb_ctx_init(&ctx, NULL) == 0);
    T_RUN(test_gadgets_enumerate_at_high_speed);
    T_RUN(test_endpoints_found_by_type);
    T_RUN(test_control_on_sourcesink);
    T_RUN(test_control_on_our_function);
    T_RUN(test_control_stall_then_next_request_works);
    T_RUN(test_bulk_source_gives_the_pattern);
    T_RUN(test_bulk_sink_takes_the_pattern_and_stalls_on_a_bad_byte);
    T_RUN(test_bulk_loopback_returns_what_went_out);
    T_RUN(test_bulk_echo_on_our_function);
    T_RUN(test_interrupt_reports_echo);
    T_RUN(test_interrupt_pipeline_gets_device_reports_in_order);
    T_RUN(test_halted_bulk_in_stalls_until_cleared);
    T_RUN(test_halted_interrupt_out_stalls_until_cleared);
    T_RUN(test_late_answers_arrive_late);
    T_RUN(test_silent_endpoints_time_out);
    T_RUN(test_late_control_answer_times_out_and_the_device_recovers);
    T_RUN(test_timed_out_bulk_in_keeps_the_full_packets_that_arrived);
    T_RUN(test_pipeline_hands_over_the_packets_of_a_timed_out_transfer);
    T_RUN(test_timed_out_bulk_out_reports_what_the_device_took);
    T_RUN(test_cancel_in_flight_calls_back_once_each);
    T_RUN(test_timeouts_in_flight_come_in_deadline_order);
    T_RUN(test_close_with_urbs_in_flight_delivers_them_first);
    T_RUN(test_pipeline_streams_the_source_in_order);
    T_RUN(test_outq_fills_the_sink);
    T_RUN(test_loopback_pipeline_out_queue_and_in_pipe_together);
    T_RUN(test_endpoint_stream_over_the_loopback);
    T_RUN(test_zero_copy_pipes_map_usbfs_and_plain_ones_do_not);
    T_RUN(test_zero_copy_out_queue_fills_the_sink);
    T_RUN(test_zero_copy_measured_against_copied_buffers);
    T_RUN(test_usbfs_limit_refuses_a_large_pipeline_up_front);
    T_RUN(test_submit_the_kernel_refuses_for_memory_reads_as_enobufs);
    T_RUN(test_unplug_mid_stream_and_plug_back);
    T_RUN(test_hotplug_source_follows_udevd);
    T_RUN(test_kernel_monitor_enumerates_the_gadget);
    T_RUN(test_hotplug_unplug_and_replug_reported);
    T_RUN(test_kernel_monitor_marks_handles_of_a_departed_device_gone);
    close_dev(&dv);
    ausb_ctx_close(&ctx);
    return t_done();
}
