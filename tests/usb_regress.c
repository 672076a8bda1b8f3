/* tests/usb_regress.c - asyncusb regressions from the 2026-11-22 review:
 * closing and exiting from the callbacks they deliver, transfers the kernel
 * never gives back, a stop made before ausb_run, deferred calls at exit,
 * isochronous lengths.  Fake devices in an umockdev testbed
 * (tests/usb_fake.h); run under umockdev-wrapper. */
#define AUSB_CLOSE_WAIT_NS AUSB_MS(200) /* the URB the fake swallows: wait less */
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"
#include "tests/harness.h"
#include "tests/usb_fake.h"
#include <pthread.h>
#include <unistd.h>

static usbf_device dev1;

static int open_dev1(ausb_ctx *ctx, ausb_handle *h)
{
    ausb_device d;
    int r;
    if ((r = ausb_ctx_init(ctx, NULL)) < 0) return r;
    if ((r = ausb_find_id(&d, ctx, 0x1234, 0x0001)) < 0) { ausb_ctx_close(ctx); return r; }
    r = ausb_open(h, &d);
    ausb_device_release(&d);
    if (r < 0) ausb_ctx_close(ctx);
    return r;
}

/* An object that owns a handle and a transfer; its callback does the usual
 * "on error: close the handle, free the transfer, free the object". */
typedef struct conn {
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[8];
} conn;

static int conn_calls, conn_status;

static void conn_close_and_free(ausb_transfer *t, int status, void *user)
{
    conn *c = (conn *)user;
    conn_calls++;
    conn_status = status;
    ausb_close(&c->h);
    ausb_transfer_free(t);
    free(c);
}

static conn *conn_open(ausb_ctx *ctx, unsigned char ep, unsigned flags)
{
    conn *c = (conn *)calloc(1, sizeof *c);
    if (!c) return NULL;
    if (open_dev1(ctx, &c->h) < 0) { free(c); return NULL; }
    ausb_transfer_init(&c->t, 0);
    ausb_fill_bulk(&c->t, &c->h, ep, c->buf, 8, 0, conn_close_and_free, c);
    ausb_transfer_set_flags(&c->t, flags);
    if (ausb_submit(&c->t) < 0) {
        ausb_transfer_free(&c->t);
        ausb_close(&c->h);
        ausb_ctx_close(ctx);
        free(c);
        return NULL;
    }
    return c;
}

static void test_close_callback_may_close_and_free_the_object_owning_the_handle(void)
{
    ausb_ctx ctx;
    conn *c;
    conn_calls = 0;
    T_CHECK((c = conn_open(&ctx, 0x84, 0)) != NULL);
    T_EQ(ausb_claim(&c->h, 1), 0);
    ausb_run_once(&ctx, 0);
    ausb_close(&c->h);              /* the callback frees c (and c->h) */
    T_EQ(conn_calls, 1);
    T_EQ(conn_status, -ECANCELED);
    T_CHECK(ctx.handles == NULL);
    T_EQ(ausb_pending(&ctx), 0);
    T_EQ(usbf_count(&dev1, &dev1.driver_bound_if1), 1);   /* reattached */
    ausb_ctx_close(&ctx);
}

static void test_exit_callback_may_close_and_free_the_object_owning_the_handle(void)
{
    ausb_ctx ctx;
    conn *c;
    conn_calls = 0;
    T_CHECK((c = conn_open(&ctx, 0x84, 0)) != NULL);
    ausb_run_once(&ctx, 0);
    ausb_ctx_close(&ctx);                /* closes c->h; the callback frees c */
    T_EQ(conn_calls, 1);
    T_EQ(conn_status, -ECANCELED);
    T_CHECK(ctx.lu == NULL);
}

static void test_inline_callback_may_close_and_free_the_object_owning_the_handle(void)
{
    ausb_ctx ctx;
    conn *c;
    conn_calls = 0;
    T_CHECK((c = conn_open(&ctx, 0x85, AUSB_INLINE_CALLBACK)) != NULL);   /* 0x85: at once */
    T_EQ(ausb_claim(&c->h, 1), 0);
    while (conn_calls < 1) if (ausb_run_once(&ctx, AUSB_MS(20)) < 0) break;
    T_EQ(conn_calls, 1);            /* the callback closed the handle and freed c */
    T_EQ(conn_status, 0);
    T_CHECK(ctx.handles == NULL);   /* the close finished when libusb returned */
    T_EQ(usbf_count(&dev1, &dev1.driver_bound_if1), 1);   /* reattached */
    ausb_ctx_close(&ctx);
}

static ausb_handle chain_h;
static int chain_calls, chain_submit;

/* A streaming chain with inline callbacks: the first one closes the handle
 * and, as any continuation does, submits again. */
static void chain_close_then_submit(ausb_transfer *t, int status, void *user)
{
    (void)user;
    chain_calls++;
    if (chain_calls == 1) {
        ausb_close(&chain_h);
        chain_submit = ausb_submit(t);
    } else if (status == 0 && chain_calls < 1000) {
        (void)ausb_submit(t);
    }
}

static void test_submit_after_close_from_an_inline_callback_fails_closed(void)
{
    ausb_ctx ctx;
    ausb_transfer t;
    unsigned char buf[8];
    chain_calls = 0;
    chain_submit = 99;
    T_EQ(open_dev1(&ctx, &chain_h), 0);
    ausb_transfer_init(&t, 0);
    ausb_fill_bulk(&t, &chain_h, 0x85, buf, 8, AUSB_MS(1000), chain_close_then_submit, NULL);
    ausb_transfer_set_flags(&t, AUSB_INLINE_CALLBACK);
    T_EQ(ausb_submit(&t), 0);
    while (chain_calls < 1) if (ausb_run_once(&ctx, AUSB_MS(20)) < 0) break;
    T_EQ(chain_submit, AUSB_ECLOSED);
    T_EQ(chain_calls, 1);           /* the chain stopped with the close */
    T_CHECK(ctx.handles == NULL);
    T_EQ(ausb_pending(&ctx), 0);
    ausb_transfer_free(&t);
    ausb_ctx_close(&ctx);
}

/* Two handles: A's inline callback closes A with a held transfer still in
 * flight, so A's close finishes after libusb returns; the held transfer's
 * cancelled callback then closes B, the next handle in the list, and frees
 * it. */
typedef struct pair {
    ausb_handle a;
    conn *b;
    int held_calls;
} pair;

static void pair_close_a(ausb_transfer *t, int status, void *user)
{
    (void)t; (void)status;
    ausb_close(&((pair *)user)->a);
}

static void pair_close_b(ausb_transfer *t, int status, void *user)
{
    pair *p = (pair *)user;
    (void)t; (void)status;
    p->held_calls++;
    ausb_close(&p->b->h);
    free(p->b);
    p->b = NULL;
}

static void test_deferred_close_whose_callback_closes_the_next_handle(void)
{
    ausb_ctx ctx;
    ausb_transfer t[2];
    unsigned char buf[2][8];
    pair p;
    ausb_device d;
    int i;
    memset(&p, 0, sizeof p);
    T_CHECK((p.b = (conn *)calloc(1, sizeof *p.b)) != NULL);
    T_EQ(open_dev1(&ctx, &p.b->h), 0);
    T_EQ(ausb_find_id(&d, &ctx, 0x1234, 0x0001), 0);
    T_EQ(ausb_open(&p.a, &d), 0);            /* opened last: first in the list */
    ausb_device_release(&d);
    for (i = 0; i < 2; i++) ausb_transfer_init(&t[i], 0);
    ausb_fill_bulk(&t[0], &p.a, 0x84, buf[0], 8, 0, pair_close_b, &p);    /* held */
    ausb_fill_bulk(&t[1], &p.a, 0x85, buf[1], 8, 0, pair_close_a, &p);    /* at once */
    ausb_transfer_set_flags(&t[1], AUSB_INLINE_CALLBACK);
    T_EQ(ausb_submit(&t[0]), 0);
    T_EQ(ausb_submit(&t[1]), 0);
    while (p.held_calls < 1) if (ausb_run_once(&ctx, AUSB_MS(20)) < 0) break;
    T_EQ(p.held_calls, 1);
    T_CHECK(p.b == NULL);
    T_CHECK(ctx.handles == NULL);
    for (i = 0; i < 2; i++) ausb_transfer_free(&t[i]);
    ausb_ctx_close(&ctx);
}

/* USBDEVFS_RESET fails with ENODEV: the device has to be re-enumerated. */
static int reset_enodev;

static gboolean reset_refuser(UMockdevIoctlBase *b, UMockdevIoctlClient *c, gpointer u)
{
    if (reset_enodev && umockdev_ioctl_client_get_request(c) == USBDEVFS_RESET) {
        umockdev_ioctl_client_complete(c, -1, ENODEV);
        return TRUE;
    }
    return usbf_on_ioctl(b, c, u);
}

static void test_reset_that_needs_re_enumeration_marks_the_handle_gone(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[8];
    T_EQ(open_dev1(&ctx, &h), 0);
    g_signal_handlers_disconnect_by_func(dev1.handler, (gpointer)usbf_on_ioctl, &dev1);
    g_signal_connect(dev1.handler, "handle-ioctl", G_CALLBACK(reset_refuser), &dev1);
    reset_enodev = 1;
    T_EQ(ausb_reset(&h), -ENOENT);
    reset_enodev = 0;
    T_EQ(ausb_handle_gone(&h), 1);
    ausb_transfer_init(&t, 0);
    ausb_fill_bulk(&t, &h, 0x85, buf, 8, 0, NULL, NULL);
    T_EQ(ausb_submit(&t), -ENODEV);
    ausb_transfer_free(&t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
    g_signal_handlers_disconnect_by_func(dev1.handler, (gpointer)reset_refuser, &dev1);
    g_signal_connect(dev1.handler, "handle-ioctl", G_CALLBACK(usbf_on_ioctl), &dev1);
}

static ausb_ctx exit_ctx;
static int exit_calls, exit_returned;

static void exit_from_callback(ausb_transfer *t, int status, void *user)
{
    (void)t; (void)status; (void)user;
    exit_calls++;
    ausb_ctx_close(&exit_ctx);
    exit_returned++;
}

static void test_exit_from_a_callback_that_close_delivers_returns(void)
{
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[8];
    exit_calls = exit_returned = 0;
    T_EQ(open_dev1(&exit_ctx, &h), 0);
    ausb_transfer_init(&t, 0);
    ausb_fill_bulk(&t, &h, 0x84, buf, 8, 0, exit_from_callback, NULL);
    T_EQ(ausb_submit(&t), 0);
    ausb_run_once(&exit_ctx, 0);
    ausb_close(&h);
    T_EQ(exit_calls, 1);
    T_EQ(exit_returned, 1);
    T_CHECK(exit_ctx.lu == NULL);   /* the context is gone */
    ausb_transfer_free(&t);
}

static void test_exit_from_a_callback_that_exit_delivers_does_nothing(void)
{
    ausb_handle h[2];
    ausb_transfer t[2];
    unsigned char buf[2][8];
    int i;
    exit_calls = exit_returned = 0;
    T_EQ(open_dev1(&exit_ctx, &h[0]), 0);
    {
        ausb_device d;
        T_EQ(ausb_find_id(&d, &exit_ctx, 0x1234, 0x0001), 0);
        T_EQ(ausb_open(&h[1], &d), 0);
        ausb_device_release(&d);
    }
    for (i = 0; i < 2; i++) {
        ausb_transfer_init(&t[i], 0);
        ausb_fill_bulk(&t[i], &h[i], 0x84, buf[i], 8, 0, exit_from_callback, NULL);
        T_EQ(ausb_submit(&t[i]), 0);
    }
    ausb_run_once(&exit_ctx, 0);
    ausb_ctx_close(&exit_ctx);
    T_EQ(exit_calls, 2);            /* both handles closed, each once */
    T_EQ(exit_returned, 2);
    T_CHECK(exit_ctx.lu == NULL);
    for (i = 0; i < 2; i++) ausb_transfer_free(&t[i]);
}

/* The fake accepts DISCARDURB but keeps the URB: a host controller that
 * does not give a cancelled URB back. */
static int swallow_discard;

static gboolean discard_swallower(UMockdevIoctlBase *b, UMockdevIoctlClient *c, gpointer u)
{
    if (swallow_discard && umockdev_ioctl_client_get_request(c) == USBDEVFS_DISCARDURB) {
        umockdev_ioctl_client_complete(c, 0, 0);
        return TRUE;
    }
    return usbf_on_ioctl(b, c, u);
}

typedef struct rec {
    int calls, status;
} rec;

static void on_done(ausb_transfer *t, int status, void *user)
{
    rec *r = (rec *)user;
    (void)t;
    r->calls++;
    r->status = status;
}

static void test_close_delivers_a_transfer_the_kernel_never_gives_back(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[8];
    rec r;
    memset(&r, 0, sizeof r);
    g_signal_handlers_disconnect_by_func(dev1.handler, (gpointer)usbf_on_ioctl, &dev1);
    g_signal_connect(dev1.handler, "handle-ioctl", G_CALLBACK(discard_swallower), &dev1);
    swallow_discard = 1;
    T_EQ(open_dev1(&ctx, &h), 0);
    ausb_transfer_init(&t, 0);
    ausb_fill_bulk(&t, &h, 0x84, buf, 8, 0, on_done, &r);
    T_EQ(ausb_submit(&t), 0);
    ausb_run_once(&ctx, 0);
    ausb_close(&h);
    swallow_discard = 0;
    T_EQ(r.calls, 1);
    T_EQ(r.status, -ECANCELED);
    T_EQ(ausb_transfer_state(&t), AUSB_XFER_IDLE);
    T_EQ(ausb_pending(&ctx), 0);
    T_CHECK(ctx.handles == NULL);
    usbf_release_held(&dev1, 8);    /* the URB finally comes back: nothing more */
    ausb_run_once(&ctx, AUSB_MS(20));
    T_EQ(r.calls, 1);
    ausb_transfer_free(&t);
    ausb_ctx_close(&ctx);
}

static void *stop_now(void *arg)
{
    ausb_stop((ausb_ctx *)arg);
    return NULL;
}

static void test_stop_made_just_before_run_ends_it(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[8];
    pthread_t th;
    rec r;
    memset(&r, 0, sizeof r);
    T_EQ(open_dev1(&ctx, &h), 0);
    ausb_transfer_init(&t, 0);
    /* held; the timeout only ends a run that missed the stop */
    ausb_fill_bulk(&t, &h, 0x84, buf, 8, AUSB_MS(2000), on_done, &r);
    T_EQ(ausb_submit(&t), 0);
    T_EQ(pthread_create(&th, NULL, stop_now, &ctx), 0);
    pthread_join(th, NULL);
    T_EQ(ausb_run(&ctx), 0);
    T_EQ(r.calls, 0);               /* returned for the stop, t still in flight */
    T_EQ(ausb_transfer_state(&t), AUSB_XFER_INFLIGHT);
    ausb_close(&h);
    T_EQ(r.calls, 1);
    ausb_transfer_free(&t);
    ausb_ctx_close(&ctx);
}

static ausb_ctx defer_ctx;
static ausb_deferred d1, d2;
static int first_calls, second_calls;

static void second(ausb_deferred *d, void *user) { (void)d; (void)user; second_calls++; }

static void first(ausb_deferred *d, void *user)
{
    (void)d; (void)user;
    first_calls++;
    ausb_defer(&d2, &defer_ctx, second, NULL);
}

static void rearm(ausb_deferred *d, void *user)
{
    (void)user;
    first_calls++;
    ausb_defer(d, &defer_ctx, rearm, NULL);
}

static void test_exit_runs_calls_deferred_by_deferred_calls(void)
{
    ausb_ctx ctx2;
    first_calls = second_calls = 0;
    memset(&d1, 0, sizeof d1);
    memset(&d2, 0, sizeof d2);
    T_EQ(ausb_ctx_init(&defer_ctx, NULL), 0);
    ausb_defer(&d1, &defer_ctx, first, NULL);
    ausb_ctx_close(&defer_ctx);
    T_EQ(first_calls, 1);
    T_EQ(second_calls, 1);
    T_EQ(d2.core.next == NULL, 1);
    T_EQ(ausb_ctx_init(&ctx2, NULL), 0);      /* the node serves a new context */
    ausb_defer(&d2, &ctx2, second, NULL);
    ausb_run_once(&ctx2, 0);
    T_EQ(second_calls, 2);
    ausb_ctx_close(&ctx2);
}

static void test_exit_ends_a_deferred_call_that_always_rearms(void)
{
    first_calls = 0;
    memset(&d1, 0, sizeof d1);
    T_EQ(ausb_ctx_init(&defer_ctx, NULL), 0);
    ausb_defer(&d1, &defer_ctx, rearm, NULL);
    ausb_ctx_close(&defer_ctx);
    T_CHECK(first_calls >= 1);
    T_EQ(d1.core.next == NULL, 1);
}

static void test_isochronous_actual_length_is_the_sum_of_the_packets(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[4 * 8];
    rec r;
    memset(&r, 0, sizeof r);
    T_EQ(open_dev1(&ctx, &h), 0);
    T_EQ(ausb_transfer_init(&t, 4), 0);
    T_EQ(ausb_fill_iso(&t, &h, 0x87, buf, sizeof buf, 4, 8, AUSB_MS(1000), on_done, &r), 0);
    T_EQ(ausb_submit(&t), 0);
    while (r.calls < 1) if (ausb_run_once(&ctx, AUSB_MS(20)) < 0) break;
    T_EQ(r.calls, 1);
    T_EQ(r.status, 0);
    T_EQ(t.actual_length, 1 + 2 + 3 + 4);     /* packet i gets i + 1 bytes */
    ausb_transfer_free(&t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_short_not_ok_does_not_fail_isochronous_transfers(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[4 * 8];
    rec r;
    memset(&r, 0, sizeof r);
    T_EQ(open_dev1(&ctx, &h), 0);
    T_EQ(ausb_transfer_init(&t, 4), 0);
    T_EQ(ausb_fill_iso(&t, &h, 0x87, buf, sizeof buf, 4, 8, AUSB_MS(1000), on_done, &r), 0);
    ausb_transfer_set_flags(&t, AUSB_SHORT_NOT_OK);
    T_EQ(ausb_submit(&t), 0);
    while (r.calls < 1) if (ausb_run_once(&ctx, AUSB_MS(20)) < 0) break;
    T_EQ(r.calls, 1);
    T_EQ(r.status, 0);
    T_EQ(ausb_iso_packet_status(&t, 0), 0);
    ausb_transfer_free(&t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

/* Found by tests/usb_torture.c: a continuation that resubmits from a
 * callback that ausb_close delivers got -EINVAL ("invalid argument"), while
 * the same from an inline close gets AUSB_ECLOSED; a handle that is
 * closing or closed answers AUSB_ECLOSED everywhere. */
static ausb_handle resub_h;
static int resub_calls, resub_status, resub_submit, resub_claim;

static void resubmit_from_close(ausb_transfer *t, int status, void *user)
{
    (void)user;
    resub_calls++;
    resub_status = status;
    resub_submit = ausb_submit(t);
    resub_claim = ausb_claim(&resub_h, 0);
}

static void test_resubmit_from_a_callback_that_close_delivers_fails_closed(void)
{
    ausb_ctx ctx;
    ausb_transfer t;
    unsigned char buf[8];
    resub_calls = 0;
    resub_submit = resub_claim = 99;
    T_EQ(open_dev1(&ctx, &resub_h), 0);
    ausb_transfer_init(&t, 0);
    ausb_fill_bulk(&t, &resub_h, 0x84, buf, 8, 0, resubmit_from_close, NULL);   /* held */
    T_EQ(ausb_submit(&t), 0);
    ausb_run_once(&ctx, 0);
    ausb_close(&resub_h);
    T_EQ(resub_calls, 1);
    T_EQ(resub_status, -ECANCELED);
    T_EQ(resub_submit, AUSB_ECLOSED);
    T_EQ(resub_claim, AUSB_ECLOSED);
    T_EQ(ausb_submit(&t), AUSB_ECLOSED);   /* and after the close returned */
    T_EQ(ausb_pending(&ctx), 0);
    ausb_transfer_free(&t);
    ausb_ctx_close(&ctx);
    T_EQ(resub_calls, 1);
}

/* Found reviewing the cross-thread path for the torture: a transfer queued
 * with ausb_submit_any_thread and not yet picked up by the loop ignored
 * ausb_cancel (it went out and completed as if never cancelled)... */
static void test_cancel_of_a_transfer_queued_from_any_thread_cancels_it(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[512];
    rec r;
    int i;
    memset(&r, 0, sizeof r);
    T_EQ(open_dev1(&ctx, &h), 0);
    ausb_transfer_init(&t, 0);
    ausb_fill_bulk(&t, &h, 0x88, buf, sizeof buf, 0, on_done, &r);   /* completes at once */
    T_EQ(ausb_submit_any_thread(&t), 0);
    T_EQ(ausb_cancel(&t), 0);
    for (i = 0; i < 50 && r.calls < 1; i++) ausb_run_once(&ctx, AUSB_MS(10));
    for (i = 0; i < 5; i++) ausb_run_once(&ctx, 0);
    T_EQ(r.calls, 1);
    T_EQ(r.status, -ECANCELED);
    ausb_transfer_free(&t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

/* ... and ausb_close left such a transfer queued: it was submitted after
 * the close returned, through the handle's storage, which the caller may
 * have freed by then.  Close now delivers it before it returns. */
static void test_close_delivers_a_transfer_queued_from_any_thread(void)
{
    ausb_ctx ctx;
    ausb_handle *h = (ausb_handle *)calloc(1, sizeof *h);
    ausb_transfer t;
    unsigned char buf[8];
    rec r;
    int i;
    memset(&r, 0, sizeof r);
    T_REQUIRE(h != NULL);
    T_EQ(open_dev1(&ctx, h), 0);
    ausb_transfer_init(&t, 0);
    ausb_fill_bulk(&t, h, 0x84, buf, sizeof buf, 0, on_done, &r);   /* held */
    T_EQ(ausb_submit_any_thread(&t), 0);
    ausb_close(h);
    T_EQ(r.calls, 1);
    T_EQ(r.status, -ECANCELED);
    free(h);
    for (i = 0; i < 5; i++) ausb_run_once(&ctx, 0);
    T_EQ(r.calls, 1);
    T_EQ(ausb_pending(&ctx), 0);
    ausb_transfer_free(&t);
    ausb_ctx_close(&ctx);
}

/* ... and one queued for a handle already closed got no callback at all
 * when ausb_ctx_close came first: exit now reports it (AUSB_ECLOSED). */
static void test_exit_reports_a_transfer_queued_for_a_closed_handle(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[8];
    rec r;
    memset(&r, 0, sizeof r);
    T_EQ(open_dev1(&ctx, &h), 0);
    ausb_transfer_init(&t, 0);
    ausb_fill_bulk(&t, &h, 0x88, buf, sizeof buf, 0, on_done, &r);
    ausb_close(&h);
    T_EQ(ausb_submit_any_thread(&t), 0);
    ausb_ctx_close(&ctx);
    T_EQ(r.calls, 1);
    T_EQ(r.status, AUSB_ECLOSED);
    ausb_transfer_free(&t);
}

/* Issue 7: ausb_open on a handle still open cleared it and linked it into
 * the context's list again, pointing at itself; ausb_hotplug_start on a
 * watch still started did the same to the list of watches.  Both are
 * refused with -EBUSY and change nothing. */
static void on_watch(ausb_hotplug *p, int arrived, const ausb_device *d, void *user)
{
    (void)p; (void)arrived; (void)d; (void)user;
}

static void test_open_or_watch_again_while_still_registered_is_refused(void)
{
    ausb_ctx ctx;
    ausb_handle h, other;
    ausb_device d;
    ausb_hotplug hp;
    T_EQ(open_dev1(&ctx, &h), 0);
    T_EQ(ausb_find_id(&d, &ctx, 0x1234, 0x0001), 0);
    T_EQ(ausb_open(&h, &d), -EBUSY);
    T_CHECK(ctx.handles == &h && h.next == NULL && h.lh != NULL);
    T_EQ(ausb_open(&other, &d), 0);            /* another handle is fine */
    T_EQ(ausb_open(&other, &d), -EBUSY);
    T_CHECK(ctx.handles == &other && other.next == &h && h.next == NULL);
    ausb_close(&other);
    T_EQ(ausb_open(&other, &d), 0);            /* closed: free again */
    ausb_close(&other);
    if (ausb_hotplug_supported()) {
        T_EQ(ausb_hotplug_start(&hp, &ctx, NULL, 0, on_watch, NULL), 0);
        T_EQ(ausb_hotplug_start(&hp, &ctx, NULL, 0, on_watch, NULL), -EBUSY);
        T_CHECK(ctx.hotplugs == &hp && hp.next == NULL);
        ausb_hotplug_stop(&hp);
        T_EQ(ausb_hotplug_start(&hp, &ctx, NULL, 0, on_watch, NULL), 0);
    }
    ausb_device_release(&d);
    ausb_close(&h);
    ausb_ctx_close(&ctx);                           /* returns; stops the watch */
}

/* ---- from the review of 0.2.0 (API fixes) ---- */

/* A transfer the caller owns on the heap, freed while in flight: its
 * callback comes once, with the transfer already released (nothing is
 * left to free: the ASan and valgrind builds see no leak), and it frees
 * the storage, which the library does not touch afterwards.  It used to
 * be only cancelled, and the caller had to free it again in the callback. */
typedef struct owned {
    ausb_transfer t;
    unsigned char buf[8];
    int *calls, *status, *released;
} owned;

static void owned_done(ausb_transfer *t, int status, void *ud)
{
    owned *o = (owned *)ud;
    (*o->calls)++;
    *o->status = status;
    *o->released = ausb_transfer_buffer(t) == NULL && ausb_submit(t) == -EINVAL;
    free(o);
}

static owned *owned_new(ausb_handle *h, unsigned char ep, int *calls, int *status, int *released)
{
    owned *o = (owned *)calloc(1, sizeof *o);
    if (!o) return NULL;
    if (ausb_transfer_init(&o->t, 0) < 0) { free(o); return NULL; }
    o->calls = calls;
    o->status = status;
    o->released = released;
    ausb_fill_bulk(&o->t, h, ep, o->buf, sizeof o->buf, 0, owned_done, o);
    return o;
}

static void test_transfer_freed_in_flight_is_freed_after_its_callback(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    owned *o;
    int calls = 0, status = 1, released = 0, i;
    T_EQ(open_dev1(&ctx, &h), 0);
    T_CHECK((o = owned_new(&h, 0x84, &calls, &status, &released)) != NULL);   /* held */
    T_EQ(ausb_submit(&o->t), 0);
    ausb_run_once(&ctx, 0);
    ausb_transfer_free(&o->t);
    T_EQ(calls, 0);                      /* never inside the call */
    for (i = 0; i < 100 && calls < 1; i++) ausb_run_once(&ctx, AUSB_MS(10));
    for (i = 0; i < 5; i++) ausb_run_once(&ctx, 0);
    T_EQ(calls, 1);
    T_EQ(status, -ECANCELED);
    T_EQ(released, 1);
    T_EQ(ausb_pending(&ctx), 0);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

/* The same for one queued from another thread and not yet submitted, and
 * for one still in flight when its handle closes; a second free, from the
 * callback or after it, does nothing. */
static void owned_done_frees_again(ausb_transfer *t, int status, void *ud)
{
    ausb_transfer_free(t);
    owned_done(t, status, ud);
}

static void test_transfer_freed_while_queued_or_at_close_is_freed_once(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    owned *o;
    int calls = 0, status = 1, released = 0, i;
    T_EQ(open_dev1(&ctx, &h), 0);
    T_CHECK((o = owned_new(&h, 0x88, &calls, &status, &released)) != NULL);   /* at once */
    o->t.cb = owned_done_frees_again;
    T_EQ(ausb_submit_any_thread(&o->t), 0);
    ausb_transfer_free(&o->t);
    ausb_transfer_free(&o->t);
    for (i = 0; i < 100 && calls < 1; i++) ausb_run_once(&ctx, AUSB_MS(10));
    T_EQ(calls, 1);
    T_EQ(status, -ECANCELED);
    T_EQ(released, 1);
    T_CHECK((o = owned_new(&h, 0x84, &calls, &status, &released)) != NULL);   /* held */
    T_EQ(ausb_submit(&o->t), 0);
    ausb_transfer_free(&o->t);
    ausb_close(&h);                      /* delivers it before it returns */
    T_EQ(calls, 2);
    T_EQ(status, -ECANCELED);
    T_EQ(released, 1);
    ausb_ctx_close(&ctx);
}

int main(void)
{
    t_suite("usb_regress");
    usbf_init();
    dev1.strings[1] = "Fake Inc"; dev1.strings[2] = "Loop"; dev1.strings[3] = "SN";
    dev1.desc_len = usbf_std_descriptors(dev1.desc, 0x1234, 0x0001);
    dev1.driver_bound_if1 = 1;
    usbf_add(&dev1, "/devices/fake/usb1/1-2", 1, 5, 480);

    T_RUN(test_close_callback_may_close_and_free_the_object_owning_the_handle);
    T_RUN(test_exit_callback_may_close_and_free_the_object_owning_the_handle);
    T_RUN(test_inline_callback_may_close_and_free_the_object_owning_the_handle);
    T_RUN(test_submit_after_close_from_an_inline_callback_fails_closed);
    T_RUN(test_deferred_close_whose_callback_closes_the_next_handle);
    T_RUN(test_reset_that_needs_re_enumeration_marks_the_handle_gone);
    T_RUN(test_exit_from_a_callback_that_close_delivers_returns);
    T_RUN(test_exit_from_a_callback_that_exit_delivers_does_nothing);
    T_RUN(test_stop_made_just_before_run_ends_it);
    T_RUN(test_exit_runs_calls_deferred_by_deferred_calls);
    T_RUN(test_exit_ends_a_deferred_call_that_always_rearms);
    T_RUN(test_isochronous_actual_length_is_the_sum_of_the_packets);
    T_RUN(test_short_not_ok_does_not_fail_isochronous_transfers);
    T_RUN(test_resubmit_from_a_callback_that_close_delivers_fails_closed);
    T_RUN(test_cancel_of_a_transfer_queued_from_any_thread_cancels_it);
    T_RUN(test_close_delivers_a_transfer_queued_from_any_thread);
    T_RUN(test_exit_reports_a_transfer_queued_for_a_closed_handle);
    T_RUN(test_open_or_watch_again_while_still_registered_is_refused);
    T_RUN(test_transfer_freed_in_flight_is_freed_after_its_callback);
    T_RUN(test_transfer_freed_while_queued_or_at_close_is_freed_once);
    T_RUN(test_close_delivers_a_transfer_the_kernel_never_gives_back);   /* last: swaps the ioctl handler */
    usbf_done();
    return t_done();
}
