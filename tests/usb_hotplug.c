/* tests/usb_hotplug.c - asyncusb hotplug on an umockdev testbed: devices
 * added and removed with uevents after the context started.  Run under
 * umockdev-wrapper. */
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"
#include "tests/harness.h"
#include "tests/usb_fake.h"
#include <pthread.h>
#include <unistd.h>

static usbf_device roothub, present, other, late, later;

typedef struct seen {
    int arrived, left, opened, open_fail, in_start;
    int pids[16];
    int n;
} seen;

static void on_hotplug(ausb_hotplug *hp, int arrived, const ausb_device *dev, void *user)
{
    seen *s = (seen *)user;
    ausb_handle h;
    (void)hp;
    if (s->n < 16) s->pids[s->n++] = (arrived ? 1 : -1) * ausb_device_descriptor(dev)->idProduct;
    if (arrived) {
        s->arrived++;
        /* allowed here: we are outside libusb's event handling */
        if (ausb_open(&h, dev) == 0) { s->opened++; ausb_close(&h); } else s->open_fail++;
    } else {
        s->left++;
    }
}

static int run_until(ausb_ctx *ctx, const int *count, int want)
{
    int i;
    for (i = 0; i < 2000 && *count < want; i++)
        if (ausb_run_once(ctx, AUSB_MS(10)) < 0) return -1;
    return *count >= want ? 0 : -1;
}

static void test_existing_devices_reported_from_dispatch_with_filter(void)
{
    ausb_ctx ctx;
    ausb_hotplug hp;
    ausb_filter f;
    seen s;
    int i;
    memset(&s, 0, sizeof s);
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    T_CHECK(ausb_hotplug_supported());
    ausb_filter_init(&f);
    f.vendor_id = 0x1234;
    f.product_id = 0x00c1;
    T_EQ(ausb_hotplug_start(&hp, &ctx, &f, AUSB_HOTPLUG_ENUMERATE, on_hotplug, &s), 0);
    T_EQ(s.arrived, 0);                     /* never inside the start call */
    T_EQ(run_until(&ctx, &s.arrived, 1), 0);
    for (i = 0; i < 20; i++) ausb_run_once(&ctx, 0);
    T_EQ(s.arrived, 1);
    T_EQ(s.pids[0], 0x00c1);
    T_EQ(s.opened, 1);
    ausb_hotplug_stop(&hp);
    /* class filter: the hub class matches only the root hub */
    memset(&s, 0, sizeof s);
    ausb_filter_init(&f);
    f.cls = 9;
    T_EQ(ausb_hotplug_start(&hp, &ctx, &f, AUSB_HOTPLUG_ENUMERATE, on_hotplug, &s), 0);
    T_EQ(run_until(&ctx, &s.arrived, 1), 0);
    for (i = 0; i < 20; i++) ausb_run_once(&ctx, 0);
    T_EQ(s.arrived, 1);
    T_EQ(s.pids[0], 0x0002);
    ausb_hotplug_stop(&hp);
    ausb_ctx_close(&ctx);
}

static void test_arrive_and_leave_through_uevents(void)
{
    ausb_ctx ctx;
    ausb_hotplug hp;
    ausb_filter f;
    ausb_handle h;
    ausb_device dev;
    seen s;
    int i;
    memset(&s, 0, sizeof s);
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    ausb_filter_init(&f);
    f.vendor_id = 0x1234;
    T_EQ(ausb_hotplug_start(&hp, &ctx, &f, 0, on_hotplug, &s), 0);
    for (i = 0; i < 20; i++) ausb_run_once(&ctx, 0);
    T_EQ(s.arrived, 0);                     /* no ENUMERATE: present ones are not reported */
    late.desc_len = usbf_std_descriptors(late.desc, 0x1234, 0x00c3);
    usbf_add(&late, "/devices/fake/usb1/1-3", 1, 4, 480);
    umockdev_testbed_uevent(usbf_testbed, late.syspath, "add");
    T_EQ(run_until(&ctx, &s.arrived, 1), 0);
    T_EQ(s.pids[0], 0x00c3);
    T_EQ(s.opened, 1);
    T_EQ(s.open_fail, 0);
    /* a handle open on it fails with no-device once it leaves */
    T_EQ(ausb_find_id(&dev, &ctx, 0x1234, 0x00c3), 0);
    T_EQ(ausb_open(&h, &dev), 0);
    ausb_device_release(&dev);
    usbf_unplug(&late);
    T_EQ(run_until(&ctx, &s.left, 1), 0);
    for (i = 0; i < 20; i++) ausb_run_once(&ctx, 0);
    T_EQ(s.left, 1);
    T_EQ(s.pids[1], -0x00c3);
    T_EQ(ausb_handle_gone(&h), 1);
    T_EQ(ausb_claim(&h, 0), -ENODEV);
    ausb_close(&h);
    /* the device that does not match the filter came and went unseen */
    ausb_hotplug_stop(&hp);
    ausb_ctx_close(&ctx);
}

/* Exit with a watch still running and notifications queued: they are
 * dropped (nothing delivered during exit, nothing leaked: the sanitizer and
 * valgrind builds check), and a later stop is harmless. */
static void test_exit_stops_running_watches(void)
{
    ausb_ctx ctx;
    ausb_hotplug hp, hp2;
    seen s;
    memset(&s, 0, sizeof s);
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    T_EQ(ausb_hotplug_start(&hp, &ctx, NULL, AUSB_HOTPLUG_ENUMERATE, on_hotplug, &s), 0);
    T_EQ(ausb_hotplug_start(&hp2, &ctx, NULL, AUSB_HOTPLUG_ENUMERATE, on_hotplug, &s), 0);
    T_CHECK(hp.head != NULL);               /* the present devices are queued */
    ausb_hotplug_stop(&hp2);                /* one stopped first, one left running */
    ausb_ctx_close(&ctx);
    T_EQ(s.arrived, 0);
    T_CHECK(hp.head == NULL);
    ausb_hotplug_stop(&hp);
    ausb_hotplug_stop(&hp2);
    T_EQ(s.arrived + s.left, 0);
}

/* A started watch keeps ausb_run going, as a watcher keeps a loop going
 * (ausb_run used to return at once when only watches were started): a
 * device plugged in later is reported, and the notification that stops
 * the watch ends the run.  A guard thread stops a run that hangs. */
static void stop_at_arrival(ausb_hotplug *hp, int arrived, const ausb_device *dev, void *user)
{
    seen *s = (seen *)user;
    (void)dev;
    if (!arrived) return;
    s->arrived++;
    ausb_hotplug_stop(hp);
}

static void plug_later(ausb_deferred *d, void *user)
{
    (void)d; (void)user;
    later.desc_len = usbf_std_descriptors(later.desc, 0x1234, 0x00c4);
    usbf_add(&later, "/devices/fake/usb1/1-4", 1, 6, 480);
    umockdev_testbed_uevent(usbf_testbed, later.syspath, "add");
}

static int guard_done;
static void *guard_run(void *arg)
{
    int i;
    for (i = 0; i < 500 && !__atomic_load_n(&guard_done, __ATOMIC_SEQ_CST); i++) usleep(10000);
    if (!__atomic_load_n(&guard_done, __ATOMIC_SEQ_CST)) ausb_stop((ausb_ctx *)arg);
    return NULL;
}

static void test_a_started_watch_keeps_run_going(void)
{
    ausb_ctx ctx;
    ausb_hotplug hp;
    ausb_filter f;
    ausb_deferred d;
    pthread_t guard;
    seen s;
    int i;
    memset(&s, 0, sizeof s);
    memset(&d, 0, sizeof d);                /* ausb_defer reads it: zeroed storage */
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    ausb_filter_init(&f);
    f.product_id = 0x00c4;
    T_EQ(ausb_hotplug_start(&hp, &ctx, &f, 0, stop_at_arrival, &s), 0);
    T_EQ(ausb_pending(&ctx), 0);            /* a watch is no pending work... */
    T_EQ(ausb_run_once(&ctx, 0), 1);        /* ...but keeps the context alive */
    ausb_defer(&d, &ctx, plug_later, NULL);
    __atomic_store_n(&guard_done, 0, __ATOMIC_SEQ_CST);
    T_REQUIRE(pthread_create(&guard, NULL, guard_run, &ctx) == 0);
    T_EQ(ausb_run(&ctx), 0);
    __atomic_store_n(&guard_done, 1, __ATOMIC_SEQ_CST);
    pthread_join(guard, NULL);
    T_EQ(s.arrived, 1);
    T_EQ(ausb_run_once(&ctx, 0), 0);        /* the watch stopped: nothing left */
    usbf_unplug(&later);
    for (i = 0; i < 20; i++) ausb_run_once(&ctx, 0);
    ausb_ctx_close(&ctx);
}

int main(void)
{
    t_suite("usb_hotplug");
    usbf_init();
    roothub.desc_len = usbf_hub_descriptors(roothub.desc);
    usbf_add(&roothub, "/devices/fake/usb1", 1, 1, 480);
    present.desc_len = usbf_std_descriptors(present.desc, 0x1234, 0x00c1);
    usbf_add(&present, "/devices/fake/usb1/1-1", 1, 2, 480);
    other.desc_len = usbf_std_descriptors(other.desc, 0x5678, 0x00c2);
    usbf_add(&other, "/devices/fake/usb1/1-2", 1, 3, 480);
    T_RUN(test_existing_devices_reported_from_dispatch_with_filter);
    T_RUN(test_arrive_and_leave_through_uevents);
    T_RUN(test_exit_stops_running_watches);
    T_RUN(test_a_started_watch_keeps_run_going);
    usbf_done();
    return t_done();
}
