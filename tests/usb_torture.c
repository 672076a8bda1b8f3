/* tests/usb_torture.c - many transfers on a fake device (umockdev testbed,
 * tests/usb_fake.h) with a random mix of outcomes, counted to the last one.
 * Run under umockdev-wrapper.
 *
 * Environment:
 *   USB_TORTURE_N        transfers to submit (default 100000)
 *   USB_TORTURE_SECONDS  run for this long instead (soak; N is then no limit)
 *   USB_TORTURE_SEED     the PRNG seed (default from the time; always printed);
 *                        T_SEED, the name every random suite reads, too
 *   USB_TORTURE_SLOTS    transfers in flight at most (default 32)
 *   USB_TORTURE_UNPLUG   mean submits between device unplugs (default 5000)
 *   USB_TORTURE_STALL    seconds without progress that fail the run (30)
 *   USB_TORTURE_KINDS    bit mask of the transfer kinds to use (enum below;
 *                        default all; for finding what a problem needs)
 *
 * Built with -DTT_MUTANT=1 the library under test is broken on purpose
 * (its calls to libusb_submit_transfer go through a faulty wrapper): now
 * and then a submit reports success
 * but never reaches the device, so its callback never comes; with
 * -DTT_MUTANT=2 a bulk transfer now and then goes to the stalling
 * endpoint.  tests/parts/asyncusb.sh checks that the torture fails then.
 * A mutant build never unplugs the device nor reopens it: a close delivers
 * every transfer still out as cancelled, so a dropped submit followed by a
 * close passed as a cancelled transfer, and whether a close came after the
 * last drop depended on the seed (the check missed mutant 1 in 1 of 6
 * runs).  Without closes a lost callback stalls the run every time.
 *
 * Each submit picks, from a seeded PRNG: a transfer that completes at once
 * (bulk, interrupt, control, isochronous, OUT; short and full), a stall
 * (bulk endpoint or control request), an overflow, a short transfer with
 * SHORT_NOT_OK, a transfer the device holds (released later in batches) or
 * holds past a 1-5 ms timeout; on top, one in 16 is cancelled right after
 * its submit and one in 8 held ones is cancelled some dispatches later,
 * and one in 8 goes through ausb_submit_any_thread's queue.
 * Every few thousand submits the device is unplugged (its URBs fail with
 * ENODEV, udev hears "remove"); the handle is closed at once (delivering
 * from inside the close) or once its transfers came back, the old device
 * leaves the testbed, a new one arrives at another address through a
 * uevent, and the hotplug callback opens it.  Now and then the handle is
 * also closed with transfers in flight and the device opened again.
 *
 * Checked: every accepted submit gets exactly one callback (a flag and a
 * generation per transfer; callbacks == submits at the end), a refused
 * submit gets none, each status is one the transfer could have had (its
 * endpoint's outcome, -ECANCELED only after a cancel or close, no-device
 * only across an unplug, -ETIMEDOUT only with a timeout), the data of
 * every success, opens == closes, every outcome occurred, and the
 * library's own allocations all came back (ASan and valgrind builds see
 * libusb's).  Prints per-status tallies and transfers per second. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* The library's allocations, counted: all must be freed at the end. */
static long t_live_allocs;
static void *t_malloc(size_t n) { void *p = calloc(1, n); if (p) t_live_allocs++; return p; }
static void *t_realloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!p && q) t_live_allocs++;
    return q;
}
static void t_free(void *p) { if (p) t_live_allocs--; free(p); }
#define AUSB_MALLOC(n) t_malloc(n)
#define AUSB_REALLOC(p, n) t_realloc((p), (n))
#define AUSB_FREE(p) t_free(p)
#if defined(TT_MUTANT)
#include <libusb.h>
static long tt_mutant_submits;
static int tt_mutant_armed;
static int tt_mutant_submit(struct libusb_transfer *lt)
{
    if (++tt_mutant_submits % 997 == 0) {
        if (TT_MUTANT == 1) return 0;                  /* "submitted", never sent */
        tt_mutant_armed = 1;
    }
    if (tt_mutant_armed && lt->endpoint == 0x88) {     /* sent to the wrong endpoint */
        tt_mutant_armed = 0;
        lt->endpoint = 0x82;
    }
    return libusb_submit_transfer(lt);
}
#define libusb_submit_transfer tt_mutant_submit   /* what the implementation calls */
#endif
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"
#include "tests/harness.h"
#include "tests/usb_fake.h"

#define TT_VID 0x1234
#define TT_PID 0x7070
#define TT_MAX_SLOTS 256

enum {
    K_FULL, K_DELAYED, K_INTR, K_SHORT, K_SHORT_NOT_OK, K_PING, K_CTRL_OUT, K_OUT, K_ISO,
    K_STALL, K_CTRL_STALL, K_OVERFLOW, K_HELD, K_TIMEOUT, K_COUNT
};
static const char *const kind_names[K_COUNT] = {
    "bulk in full", "bulk in next poll", "interrupt in", "bulk in short", "short, SHORT_NOT_OK",
    "control in", "control out", "bulk out", "iso in", "bulk stall", "control stall",
    "overflow", "held", "held past timeout"
};
static const int kind_weight[K_COUNT] = {12, 8, 10, 8, 3, 6, 4, 8, 4, 5, 3, 4, 9, 8};

typedef struct slot {
    ausb_transfer t;
    int idx, kind;
    int outstanding;            /* accepted by submit, callback not yet seen */
    unsigned long gen_sub, gen_cb;
    long cancel_at;             /* dispatch round for a later cancel; 0: none */
    int cancelled;              /* ausb_cancel was called on this submit */
    int dev_gen, close_gen;     /* unplugs and closes counted at submit */
    int release_gen;            /* usbf_release_held batches at submit */
    unsigned char buf[600];
} slot;

enum { S_WAIT_ARRIVAL, S_RUNNING, S_UNPLUGGED };

static usbf_device roothub, dev;
static ausb_ctx ctx;
static ausb_handle h;
static ausb_hotplug hp;
static slot *slots;
static int nslots = 32, state, handle_open;
static uint64_t rng;
static long long target = 100000, submits, refused, callbacks, outstanding_total;
static long long double_cb, gen_bad, unexpected, data_bad;
static long long tally_ok, tally_cancel, tally_timeout, tally_stall, tally_nodev, tally_overflow, tally_io, tally_other;
static long long cancels_now, cancels_later, refused_nodev, refused_closed, refused_other, remote_submits;
static int dev_gen, close_gen, release_gen, unplugs, lefts, arrivals, opens, closes, reopens, generation;
static long long next_unplug, next_reopen;
static long unplug_every = 5000;
static long round_no;
static int draining, close_at_once, in_close;
static double deadline_s, stall_s = 30;

static uint64_t rnd(void)
{
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}
static long rnd_below(long n) { return (long)(rnd() >> 33) % n; }

static double now_s(void) { return (double)ausb_now_ns() / 1e9; }

static int want_more(void)
{
    if (draining) return 0;
    if (deadline_s > 0) return now_s() < deadline_s;
    return submits < target;
}

static void note_bad(slot *s, int status, const char *what)
{
    if (unexpected + data_bad + double_cb + gen_bad < 8)
        printf("slot %d (%s): %s, status %d (%s)\n", s->idx, kind_names[s->kind], what, status, ausb_strerror(status));
}

static int status_allowed(const slot *s, int status)
{
    int crossed_unplug = s->dev_gen != dev_gen, crossed_close = s->close_gen != close_gen;
    if (status == -ECANCELED) return s->cancelled || crossed_close;
    if (status == -ENODEV) return crossed_unplug;
    switch (s->kind) {
    case K_SHORT_NOT_OK: return status == -EIO;
    case K_STALL: case K_CTRL_STALL: return status == AUSB_ESTALL;
    case K_OVERFLOW: return status == AUSB_EBABBLE;
    case K_HELD: return status == 0 && s->release_gen != release_gen;
    case K_TIMEOUT: return status == -ETIMEDOUT || (status == 0 && s->release_gen != release_gen);
    default: return status == 0;
    }
}

static int all_bytes(const unsigned char *p, int n, unsigned char v)
{
    int i;
    for (i = 0; i < n; i++) if (p[i] != v) return 0;
    return 1;
}

static int data_ok(slot *s)
{
    ausb_transfer *t = &s->t;
    switch (s->kind) {
    case K_FULL: case K_DELAYED: return t->actual_length == 512 && all_bytes(s->buf, 512, 0x5a);
    case K_INTR: return t->actual_length == 8 && all_bytes(s->buf + 1, 7, 0xa5);
    case K_SHORT: return t->actual_length == 5 && memcmp(s->buf, "short", 5) == 0 && s->buf[5] == 0;
    case K_PING: return t->actual_length == 4 && memcmp(ausb_control_data(t), "ping", 4) == 0;
    case K_CTRL_OUT: return t->actual_length == 8;
    case K_OUT: return t->actual_length == 300;
    case K_ISO:
        return t->actual_length == 1 + 2 + 3 + 4 && ausb_iso_packet_length(t, 3) == 4 &&
               ausb_iso_packet_data(t, 3)[0] == 3 && ausb_iso_packet_status(t, 2) != 0 &&
               ausb_iso_packet_status(t, 1) == 0;
    case K_HELD: case K_TIMEOUT: return t->actual_length == 16 && all_bytes(s->buf, 16, 0x42);
    default: return 1;
    }
}

static void tally(int status)
{
    switch (status) {
    case 0: tally_ok++; break;
    case -ECANCELED: tally_cancel++; break;
    case -ETIMEDOUT: tally_timeout++; break;
    case AUSB_ESTALL: tally_stall++; break;
    case -ENODEV: tally_nodev++; break;
    case AUSB_EBABBLE: tally_overflow++; break;
    case -EIO: tally_io++; break;
    default: tally_other++; break;
    }
}

static unsigned long kinds_mask = ~0ul;   /* USB_TORTURE_KINDS: bit k allows kind k */

static int pick_kind(void)
{
    static int total;
    int k, r;
    if (!total) for (k = 0; k < K_COUNT; k++) total += (kinds_mask >> k & 1) ? kind_weight[k] : 0;
    if (!total) return K_FULL;
    r = (int)rnd_below(total);
    for (k = 0; k < K_COUNT; k++) {
        int w = (kinds_mask >> k & 1) ? kind_weight[k] : 0;
        if (r < w) return k;
        r -= w;
    }
    return K_FULL;
}

static void on_done(ausb_transfer *t, int status, void *user);

/* Fills slot s with a fresh random transfer and submits it. */
static void submit_slot(slot *s)
{
    ausb_transfer *t = &s->t;
    int r;
    if (s->outstanding || !handle_open) return;
    s->kind = pick_kind();
    s->cancel_at = 0;
    s->cancelled = 0;
    memset(s->buf, 0, sizeof s->buf);
    switch (s->kind) {
    case K_FULL: ausb_fill_bulk(t, &h, 0x88, s->buf, 512, 0, on_done, s); break;
    case K_DELAYED: ausb_fill_bulk(t, &h, 0x89, s->buf, 512, 0, on_done, s); break;
    case K_INTR: ausb_fill_interrupt(t, &h, 0x83, s->buf, 8, 0, on_done, s); break;
    case K_SHORT: ausb_fill_bulk(t, &h, 0x85, s->buf, 64, 0, on_done, s); break;
    case K_SHORT_NOT_OK:
        ausb_fill_bulk(t, &h, 0x85, s->buf, 64, 0, on_done, s);
        ausb_transfer_set_flags(t, AUSB_SHORT_NOT_OK);
        break;
    case K_PING:
        ausb_setup(s->buf, AUSB_RT_IN | AUSB_RT_VENDOR, 0x01, 0, 0, 4);
        ausb_fill_control(t, &h, s->buf, 0, on_done, s);
        break;
    case K_CTRL_OUT:
        ausb_setup(s->buf, AUSB_RT_VENDOR, 0x02, 0, 0, 8);
        memcpy(s->buf + 8, "torture!", 8);
        ausb_fill_control(t, &h, s->buf, 0, on_done, s);
        break;
    case K_OUT: ausb_fill_bulk(t, &h, 0x03, s->buf, 300, 0, on_done, s); break;
    case K_ISO: (void)ausb_fill_iso(t, &h, 0x87, s->buf, 32, 4, 8, 0, on_done, s); break;
    case K_STALL: ausb_fill_bulk(t, &h, 0x82, s->buf, 64, 0, on_done, s); break;
    case K_CTRL_STALL:
        ausb_setup(s->buf, AUSB_RT_IN | AUSB_RT_VENDOR, 0x33, 0, 0, 16);
        ausb_fill_control(t, &h, s->buf, 0, on_done, s);
        break;
    case K_OVERFLOW: ausb_fill_bulk(t, &h, 0x86, s->buf, 64, 0, on_done, s); break;
    case K_HELD: ausb_fill_bulk(t, &h, 0x84, s->buf, 512, 0, on_done, s); break;
    case K_TIMEOUT: ausb_fill_bulk(t, &h, 0x84, s->buf, 512, AUSB_MS(1 + (unsigned)rnd_below(5)), on_done, s); break;
    }
    s->dev_gen = dev_gen;
    s->close_gen = close_gen;
    s->release_gen = release_gen;
    /* one in 8 through the queue other threads use (from this thread: the
     * loop submits it on its next dispatch, or a close delivers it) */
    if (state == S_RUNNING && !in_close && rnd_below(8) == 0) {
        r = ausb_submit_any_thread(t);
        if (r == 0) remote_submits++;
    } else {
        r = ausb_submit(t);
    }
    if (r < 0) {
        refused++;
        if (r == -ENODEV) refused_nodev++;
        else if (r == AUSB_ECLOSED) refused_closed++;
        else { refused_other++; if (refused_other <= 3) printf("submit refused: %s\n", ausb_strerror(r)); }
        return;
    }
    submits++;
    s->outstanding = 1;
    s->gen_sub++;
    outstanding_total++;
    if (rnd_below(16) == 0) {
        cancels_now++;
        s->cancelled = 1;
        (void)ausb_cancel(t);
    } else if ((s->kind == K_HELD || s->kind == K_TIMEOUT) && rnd_below(8) == 0) {
        s->cancel_at = round_no + 1 + rnd_below(20);
    }
}

static void on_done(ausb_transfer *t, int status, void *user)
{
    slot *s = (slot *)user;
    if (t != &s->t) { gen_bad++; return; }
    if (!s->outstanding) { note_bad(s, status, "a callback nobody was waiting for"); double_cb++; return; }
    s->outstanding = 0;
    outstanding_total--;
    callbacks++;
    if (++s->gen_cb != s->gen_sub) { note_bad(s, status, "callback generation differs"); gen_bad++; }
    tally(status);
    if (!status_allowed(s, status)) { note_bad(s, status, "unexpected status"); unexpected++; }
    else if (status == 0 && !data_ok(s)) { note_bad(s, status, "wrong data"); data_bad++; }
    /* the continuation: the next transfer from inside this callback, also
     * on a handle whose device is gone (refused with no-device) and now and
     * then on one that is closing (refused as closed) */
    if (want_more() && ((state != S_WAIT_ARRIVAL && !in_close) || rnd_below(4) == 0)) submit_slot(s);
}

static void close_handle(void)
{
    if (!handle_open) return;
    close_gen++;
    in_close = 1;
    ausb_close(&h);    /* delivers what was in flight before it returns */
    in_close = 0;
    handle_open = 0;
    closes++;
}

static int open_and_claim(const ausb_device *d)
{
    int r = ausb_open(&h, d);
    if (r < 0) { printf("open: %s\n", ausb_strerror(r)); return r; }
    opens++;
    handle_open = 1;
    r = ausb_claim(&h, 0);
    if (r < 0) { printf("claim: %s\n", ausb_strerror(r)); close_handle(); return r; }
    return 0;
}

static void on_hotplug(ausb_hotplug *p, int arrived, const ausb_device *d, void *user)
{
    (void)p; (void)user;
    if (!arrived) { lefts++; return; }
    arrivals++;
    if (state == S_WAIT_ARRIVAL && !handle_open && ausb_device_address(d) == dev.addr && open_and_claim(d) == 0)
        state = S_RUNNING;
}

static void plug_device(void)
{
    generation++;
    dev.desc_len = usbf_std_descriptors(dev.desc, TT_VID, TT_PID);
    usbf_add(&dev, "/devices/fake/usb1/1-1", 1, 2 + generation % 120, 480);
}

static void unplug(void)
{
    unplugs++;
    dev_gen++;
    state = S_UNPLUGGED;
    close_at_once = unplugs % 2;   /* both ways, in turn */
    usbf_unplug(&dev);
    if (close_at_once) close_handle();   /* transfers still out come back inside */
    next_unplug = submits + unplug_every / 2 + rnd_below(unplug_every);
}

/* After an unplug: once libusb saw the device leave and the handle is
 * closed, the old device goes and a new one arrives. */
static void replug_when_ready(void)
{
    if (lefts < unplugs) return;
    if (handle_open) {
        if (outstanding_total > 0) return;
        close_handle();
    }
    usbf_remove(&dev);
    plug_device();
    state = S_WAIT_ARRIVAL;
    umockdev_testbed_uevent(usbf_testbed, dev.syspath, "add");
}

static void reopen(void)
{
    ausb_device d;
    reopens++;
    close_handle();
    next_reopen = submits + 2 * unplug_every / 3 + rnd_below(unplug_every);
    if (ausb_find_id(&d, &ctx, TT_VID, TT_PID) != 0) { printf("reopen: device not found\n"); state = S_WAIT_ARRIVAL; return; }
    if (open_and_claim(&d) != 0) state = S_WAIT_ARRIVAL;
    ausb_device_release(&d);
}

static void test_every_submit_calls_back_exactly_once(void)
{
    ausb_filter f;
    double t0, t1, last_progress_t;
    long long last_progress = -1;
    int i, finished = 0;
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    ausb_filter_init(&f);
    f.vendor_id = TT_VID;
    f.product_id = TT_PID;
    state = S_WAIT_ARRIVAL;
    T_EQ(ausb_hotplug_start(&hp, &ctx, &f, AUSB_HOTPLUG_ENUMERATE, on_hotplug, NULL), 0);
    for (i = 0; i < nslots; i++) {
        slots[i].idx = i;
        T_EQ(ausb_transfer_init(&slots[i].t, 4), 0);
    }
    next_unplug = unplug_every / 2 + rnd_below(unplug_every);
    next_reopen = 2 * unplug_every / 3 + rnd_below(unplug_every);
    t0 = last_progress_t = now_s();
    while (!finished) {
        round_no++;
        if (state == S_RUNNING)
            for (i = 0; i < nslots; i++)
                if (!slots[i].outstanding && want_more()) submit_slot(&slots[i]);
        if (ausb_run_once(&ctx, AUSB_MS(5)) < 0) { printf("run_once failed\n"); break; }
        for (i = 0; i < nslots; i++) {
            slot *s = &slots[i];
            if (s->outstanding && s->cancel_at && s->cancel_at <= round_no && !s->cancelled) {
                s->cancelled = 1;
                cancels_later++;
                (void)ausb_cancel(&s->t);
            }
        }
        if (round_no % 8 == 0 || (draining && round_no % 2 == 0)) {
            if (state != S_UNPLUGGED && usbf_release_held(&dev, 16) > 0) release_gen++;
        }
        if (state == S_RUNNING && !want_more() && !draining) draining = 1;
        if (state == S_RUNNING && !draining && submits >= next_unplug) unplug();
        else if (state == S_RUNNING && !draining && submits >= next_reopen) reopen();
        if (state == S_UNPLUGGED) replug_when_ready();
        if (draining && outstanding_total == 0 && state != S_UNPLUGGED) finished = 1;
        if (callbacks + refused + arrivals + lefts != last_progress) {
            last_progress = callbacks + refused + arrivals + lefts;
            last_progress_t = now_s();
        } else if (now_s() - last_progress_t > stall_s) {
            printf("no progress for %.0f s: state %d, %lld outstanding, %d unplugs, %d left, %d arrivals\n",
                   stall_s, state, outstanding_total, unplugs, lefts, arrivals);
            break;
        }
    }
    t1 = now_s();
    close_handle();
    ausb_hotplug_stop(&hp);
    for (i = 0; i < nslots; i++) ausb_transfer_free(&slots[i].t);
    ausb_ctx_close(&ctx);
    printf("transfers %lld submitted, %lld callbacks, %lld refused (no device %lld, closed %lld, other %lld)\n",
           submits, callbacks, refused, refused_nodev, refused_closed, refused_other);
    printf("statuses: ok %lld, cancelled %lld, timed out %lld, stall %lld, no device %lld, overflow %lld, "
           "io %lld, other %lld\n", tally_ok, tally_cancel, tally_timeout, tally_stall, tally_nodev,
           tally_overflow, tally_io, tally_other);
    printf("cancels: %lld right after submit, %lld later; %lld submits from the any-thread queue; unplugs %d "
           "(%d left, %d arrivals), reopens %d, opens %d, closes %d\n", cancels_now, cancels_later, remote_submits,
           unplugs, lefts, arrivals, reopens, opens, closes);
    printf("errors: %lld double callbacks, %lld generation, %lld unexpected statuses, %lld wrong data\n",
           double_cb, gen_bad, unexpected, data_bad);
    printf("time %.2f s, %.0f transfers/s through umockdev\n", t1 - t0, callbacks / (t1 - t0 > 0 ? t1 - t0 : 1));
    printf("library allocations still live after ausb_ctx_close: %ld\n", t_live_allocs);
    fflush(stdout);
    T_CHECK(finished);
    T_EQ(callbacks, submits);
    T_EQ(outstanding_total, 0);
    for (i = 0; i < nslots; i++) T_EQ(slots[i].gen_cb, slots[i].gen_sub);
    T_EQ(double_cb, 0);
    T_EQ(gen_bad, 0);
    T_EQ(unexpected, 0);
    T_EQ(data_bad, 0);
    T_EQ(tally_other, 0);
    T_EQ(refused_other, 0);
    T_EQ(opens, closes);
    T_EQ(t_live_allocs, 0);
    if (deadline_s <= 0) T_CHECK(submits >= target);
    /* the mix really happened: every outcome at least once */
    if (submits >= 20000 && kinds_mask == ~0ul) {
        T_CHECK(tally_ok > 0 && tally_cancel > 0 && tally_timeout > 0 && tally_stall > 0);
        T_CHECK(tally_nodev > 0 && tally_overflow > 0 && tally_io > 0);
        T_CHECK(unplugs > 0 && reopens > 0 && cancels_now > 0 && cancels_later > 0);
        T_CHECK(refused_nodev > 0 && refused_closed > 0 && remote_submits > 0);
    }
}

int main(void)
{
    const char *e;
    unsigned long long seed = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 20);
    if ((e = getenv("USB_TORTURE_N")) != NULL) target = atoll(e);
    if ((e = getenv("USB_TORTURE_SECONDS")) != NULL && atof(e) > 0) deadline_s = atof(e);
    if ((e = getenv("T_SEED")) != NULL) seed = strtoull(e, NULL, 0);
    if ((e = getenv("USB_TORTURE_SEED")) != NULL) seed = strtoull(e, NULL, 0);
    if ((e = getenv("USB_TORTURE_SLOTS")) != NULL) nslots = atoi(e);
    if ((e = getenv("USB_TORTURE_UNPLUG")) != NULL) unplug_every = atol(e);
    if ((e = getenv("USB_TORTURE_STALL")) != NULL && atof(e) > 0) stall_s = atof(e);
    if ((e = getenv("USB_TORTURE_KINDS")) != NULL) kinds_mask = strtoul(e, NULL, 0);
#if defined(TT_MUTANT)
    unplug_every = 1000000000L;   /* no unplug, no reopen: see the top comment */
#endif
    if (nslots < 1 || nslots > TT_MAX_SLOTS || unplug_every < 10 || target < 1) {
        fprintf(stderr, "usb_torture: bad settings\n");
        return 2;
    }
    printf("seed %llu (rerun with T_SEED=%llu), %s %.0f, %d in flight, unplug every ~%ld submits\n", seed, seed,
           deadline_s > 0 ? "seconds" : "transfers", deadline_s > 0 ? deadline_s : (double)target, nslots,
           unplug_every);
    fflush(stdout);
    rng = seed ? seed : 1;
    t_suite("usb_torture");
    usbf_init();
    roothub.desc_len = usbf_hub_descriptors(roothub.desc);
    usbf_add(&roothub, "/devices/fake/usb1", 1, 1, 480);
    plug_device();
    slots = (slot *)calloc((size_t)nslots, sizeof *slots);
    T_REQUIRE(slots != NULL);
    if (deadline_s > 0) deadline_s += now_s();
    T_RUN(test_every_submit_calls_back_exactly_once);
    free(slots);
    usbf_done();
    return t_done();
}
