/* tests/usb_core.c - asyncusb against fake devices (umockdev testbed):
 * context and loop, enumeration, handles, every transfer type and outcome.
 * Run under umockdev-wrapper. */
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"
#include "tests/harness.h"
#include "tests/usb_fake.h"
#include <pthread.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

static usbf_device roothub, hub, dev1, dev2, dev3, lie, zero, cut;

/* ---- helpers ---- */

typedef struct rec {
    int calls;
    int status;
    int actual;
    int order[256];
} rec;

static void on_done(ausb_transfer *t, int status, void *user)
{
    rec *r = (rec *)user;
    if (r->calls < 256) r->order[r->calls] = (int)(intptr_t)t->ud;
    r->calls++;
    r->status = status;
    r->actual = t->actual_length;
}

/* Runs the loop until *count reaches want; a safety bound, not a timing
 * assertion, stops a hung test. */
static int run_until(ausb_ctx *ctx, const int *count, int want)
{
    int i;
    for (i = 0; i < 200000 && *count < want; i++)
        if (ausb_run_once(ctx, AUSB_MS(20)) < 0) return -1;
    return *count >= want ? 0 : -1;
}

static int open_dev(ausb_ctx *ctx, usbf_device *d, ausb_handle *h)
{
    ausb_filter f;
    ausb_device dev;
    int r;
    ausb_filter_init(&f);
    f.bus = d->bus;
    f.pred = NULL;
    if ((r = ausb_ctx_init(ctx, NULL)) < 0) return r;
    {
        ausb_device_list l;
        int i, found = -1;
        ausb_devices(&l, ctx);
        for (i = 0; i < l.count; i++)
            if (ausb_device_address(&l.items[i]) == d->addr && ausb_device_bus(&l.items[i]) == d->bus) found = i;
        if (found < 0) { ausb_devices_free(&l); return -1; }
        ausb_device_copy(&dev, &l.items[found]);
        ausb_devices_free(&l);
    }
    r = ausb_open(h, &dev);
    ausb_device_release(&dev);
    return r;
}

/* ---- context, enumeration, descriptors ---- */

static void test_enumerates_every_fake_device(void)
{
    ausb_ctx ctx;
    ausb_device_list l;
    int i, seen = 0, bus1 = 0;
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    T_CHECK(ausb_devices(&l, &ctx) >= 5);
    for (i = 0; i < l.count; i++) {
        if (ausb_device_bus(&l.items[i]) == 1) bus1++;
        const ausb_device_desc *dd = ausb_device_descriptor(&l.items[i]);
        if (dd->idVendor == 0x1234 && dd->idProduct == 0x0001) {
            char path[32];
            uint8_t ports[8];
            seen++;
            T_EQ(ausb_device_bus(&l.items[i]), 1);
            T_EQ(ausb_device_address(&l.items[i]), 5);
            T_EQ(ausb_device_speed_kbps(&l.items[i]), 480000);
            T_STREQ(ausb_speed_text(ausb_device_speed_kbps(&l.items[i])), "480");
            T_EQ(ausb_device_port_path(&l.items[i], path, sizeof path), 5);
            T_STREQ(path, "1-1.2");
            T_EQ(ausb_device_ports(&l.items[i], ports, 8), 2);
            T_EQ(ports[0], 1);
            T_EQ(ports[1], 2);
            T_EQ(dd->bcdDevice, 0x0100);
            T_EQ(dd->bcdUSB, 0x0200);
            T_EQ(dd->bMaxPacketSize0, 64);
        }
    }
    T_EQ(seen, 1);
    T_EQ(bus1, 5);
    ausb_devices_free(&l);
    ausb_ctx_close(&ctx);
}

/* Devices on bus 3 report broken configuration bytes: a wTotalLength that
 * lies, a zero bLength, a configuration cut short.  Enumeration goes on,
 * each broken tree is an error for that device only. */
static void test_hostile_descriptors_fail_cleanly(void)
{
    ausb_ctx ctx;
    ausb_device_list l;
    int i, bus3 = 0, malformed = 0, parsed = 0;
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    T_CHECK(ausb_devices(&l, &ctx) >= 5);
    for (i = 0; i < l.count; i++) {
        ausb_config_desc *cfg;
        int r;
        if (ausb_device_bus(&l.items[i]) != 3) continue;
        bus3++;
        r = ausb_config_get(&cfg, &l.items[i], 0);
        if (r == 0) {
            parsed++;
            T_CHECK(cfg->bNumInterfaces <= 2);
            ausb_config_free(cfg);
        } else {
            T_EQ(r, AUSB_EMALFORMED);
            T_EQ(ausb_device_descriptor(&l.items[i])->idProduct, 0x00b2);
            malformed++;
        }
    }
    T_CHECK(bus3 >= 2);        /* libusb drops the cut one at enumeration */
    T_EQ(malformed, 1);
    T_EQ(parsed, bus3 - 1);
    ausb_devices_free(&l);
    ausb_ctx_close(&ctx);
}

static int is_addr6(const ausb_device *d, void *user)
{
    (void)user;
    return ausb_device_address(d) == 6;
}

static void test_find_by_id_class_bus_port_serial_predicate(void)
{
    ausb_ctx ctx;
    ausb_device d;
    ausb_filter f;
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    T_EQ(ausb_find_id(&d, &ctx, 0x1234, 0x0002), 0);
    T_EQ(ausb_device_address(&d), 6);
    ausb_device_release(&d);
    T_EQ(ausb_find_id(&d, &ctx, 0xdead, 0xbeef), -ENOENT);

    ausb_filter_init(&f);
    f.cls = 0x0e;                       /* only on an interface of dev3 */
    T_EQ(ausb_find(&d, &ctx, &f), 0);
    T_EQ(ausb_device_descriptor(&d)->idProduct, 0x0003);
    ausb_device_release(&d);

    ausb_filter_init(&f);
    f.port_path = "1-1.3";
    T_EQ(ausb_find(&d, &ctx, &f), 0);
    T_EQ(ausb_device_descriptor(&d)->idProduct, 0x0002);
    ausb_device_release(&d);

    ausb_filter_init(&f);
    f.serial = "SN-TWO";
    T_EQ(ausb_find(&d, &ctx, &f), 0);
    T_EQ(ausb_device_descriptor(&d)->idProduct, 0x0002);
    ausb_device_release(&d);

    ausb_filter_init(&f);
    f.bus = 1;
    f.pred = is_addr6;
    T_EQ(ausb_find(&d, &ctx, &f), 0);
    T_EQ(ausb_device_address(&d), 6);
    ausb_device_release(&d);

    ausb_filter_init(&f);
    f.bus = 2;
    T_EQ(ausb_find(&d, &ctx, &f), -ENOENT);
    ausb_ctx_close(&ctx);
}

static void test_descriptor_tree_and_endpoint_helpers(void)
{
    ausb_ctx ctx;
    ausb_device d;
    ausb_config_desc *cfg;
    const ausb_altsetting *s;
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    T_EQ(ausb_find_id(&d, &ctx, 0x1234, 0x0001), 0);
    T_EQ(ausb_config_get(&cfg, &d, 0), 0);
    T_EQ(cfg->bNumInterfaces, 2);
    s = &cfg->interface[0].altsetting[0];
    T_EQ(s->bNumEndpoints, 12);
    T_EQ(ausb_ep_type(&s->endpoint[0]), AUSB_EP_BULK);
    T_EQ(ausb_ep_is_in(&s->endpoint[1]), 1);
    T_EQ(ausb_ep_number(&s->endpoint[1]), 1);
    T_EQ(ausb_ep_type(&s->endpoint[3]), AUSB_EP_INTERRUPT);
    T_EQ(ausb_ep_interval_us(&s->endpoint[3], 480000), 1000);   /* 2^(4-1) x 125 */
    T_EQ(ausb_ep_interval_us(&s->endpoint[3], 12000), 4000);    /* 4 frames */
    T_EQ(ausb_ep_type(&s->endpoint[7]), AUSB_EP_ISOCHRONOUS);
    T_EQ(ausb_ep_packet_size(&s->endpoint[7]), 1024);
    T_EQ(ausb_ep_multiplier(&s->endpoint[7], 480000), 3);
    T_EQ(ausb_ep_max_packet(&s->endpoint[7], 480000), 3072);
    T_EQ(ausb_ep_max_packet(&s->endpoint[7], 12000), 1024);
    T_STREQ(ausb_ep_type_name(ausb_ep_type(&s->endpoint[7])), "Isochronous");
    ausb_config_free(cfg);
    ausb_device_release(&d);
    ausb_ctx_close(&ctx);
}

static void test_unusual_descriptors_configs_alts_iads_extras(void)
{
    ausb_ctx ctx;
    ausb_device d;
    ausb_config_desc *cfg;
    ausb_iad iads[4];
    ausb_desc_iter it;
    const uint8_t *p;
    size_t n;
    int cs = 0;
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    T_EQ(ausb_find_id(&d, &ctx, 0x1234, 0x0003), 0);
    T_EQ(ausb_device_descriptor(&d)->bNumConfigurations, 2);
    T_EQ(ausb_config_get(&cfg, &d, 0), 0);
    T_EQ(cfg->bNumInterfaces, 3);
    T_EQ(cfg->interface[1].num_altsetting, 2);
    T_EQ(cfg->interface[1].altsetting[1].bAlternateSetting, 1);
    T_EQ(ausb_ep_max_packet(&cfg->interface[1].altsetting[1].endpoint[0], 480000), 3072);
    T_CHECK(ausb_config_interface(cfg, 1) == &cfg->interface[1]);
    T_CHECK(ausb_config_interface(cfg, 7) == NULL);
    T_CHECK(ausb_interface_altsetting(&cfg->interface[1], 1) == &cfg->interface[1].altsetting[1]);
    T_CHECK(ausb_interface_altsetting(&cfg->interface[1], 2) == NULL);
    T_CHECK(ausb_altsetting_endpoint(&cfg->interface[1].altsetting[1], 0x81) ==
            &cfg->interface[1].altsetting[1].endpoint[0]);
    T_CHECK(ausb_altsetting_endpoint(&cfg->interface[1].altsetting[1], 0x01) == NULL);
    T_EQ(ausb_config_iads(cfg, iads, 4), 2);
    T_EQ(iads[0].first_interface, 0);
    T_EQ(iads[0].interface_count, 2);
    T_EQ(iads[0].function_class, 0x0e);
    T_EQ(iads[1].first_interface, 2);
    T_EQ(iads[1].function_class, 0x01);
    /* the class-specific descriptor after interface 0 is walkable */
    ausb_desc_iter_init(&it, cfg->interface[0].altsetting[0].extra, (size_t)cfg->interface[0].altsetting[0].extra_length);
    while (ausb_desc_next(&it, &p, &n) == 1) if (p[1] == 0x24) cs++;
    T_EQ(it.error, 0);
    T_EQ(cs, 1);
    ausb_config_free(cfg);
    T_EQ(ausb_config_get(&cfg, &d, 1), 0);
    T_EQ(cfg->bConfigurationValue, 2);
    T_EQ(cfg->bNumInterfaces, 1);
    ausb_config_free(cfg);
    T_CHECK(ausb_config_get(&cfg, &d, 2) < 0);
    ausb_device_release(&d);
    ausb_ctx_close(&ctx);
}

static void test_wrap_fd_without_discovery(void)
{
    ausb_ctx ctx;
    ausb_ctx_config cfg;
    ausb_device_list l;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[8];
    rec r;
    int fd;
    memset(&r, 0, sizeof r);
    ausb_ctx_config_init(&cfg);
    cfg.no_discovery = 1;           /* sticky in libusb 1.0.26: runs last */
    T_EQ(ausb_ctx_init(&ctx, &cfg), 0);
    T_EQ(ausb_devices(&l, &ctx), 0);
    ausb_devices_free(&l);
    fd = open(dev1.devnode, O_RDWR);
    T_CHECK(fd >= 0);
    T_EQ(ausb_wrap_fd(&h, &ctx, fd), 0);
    T_EQ(ausb_device_descriptor(ausb_handle_device(&h))->idProduct, 0x0001);
    T_EQ(ausb_claim(&h, 0), 0);
    ausb_transfer_init(&t, 0);
    ausb_fill_bulk(&t, &h, 0x85, buf, 8, AUSB_MS(1000), on_done, &r);
    T_EQ(ausb_submit(&t), 0);
    T_EQ(run_until(&ctx, &r.calls, 1), 0);
    T_EQ(r.status, 0);
    T_MEMEQ(buf, "short", 5);
    ausb_transfer_free(&t);
    ausb_close(&h);
    close(fd);
    T_EQ(ausb_wrap_fd(&h, &ctx, -1), -EINVAL);
    ausb_ctx_close(&ctx);
}

static void test_options_log_level_and_no_discovery(void)
{
    ausb_ctx ctx;
    ausb_ctx_config cfg;
    ausb_device_list l;
    ausb_ctx_config_init(&cfg);
    cfg.log_level = 1;
    T_EQ(ausb_ctx_init(&ctx, &cfg), 0);
    T_CHECK(ausb_devices(&l, &ctx) >= 5);
    ausb_devices_free(&l);
    ausb_ctx_close(&ctx);
    /* libusb 1.0.26 keeps this option for every later context of the
     * process: this test runs last. */
    cfg.log_level = 0;
    cfg.no_discovery = 1;
    T_EQ(ausb_ctx_init(&ctx, &cfg), 0);
    T_EQ(ausb_devices(&l, &ctx), 0);
    ausb_devices_free(&l);
    ausb_ctx_close(&ctx);
}

/* ---- transfers ---- */

typedef struct echo {
    ausb_transfer out, in;
    unsigned char obuf[64], ibuf[64];
    int round, rounds, failed;
    rec r;
} echo;

static void echo_in_done(ausb_transfer *t, int status, void *user);

static void echo_send(echo *e)
{
    int i;
    for (i = 0; i < 64; i++) e->obuf[i] = (unsigned char)(e->round * 7 + i);
    ausb_fill_bulk(&e->out, e->out.handle, 0x01, e->obuf, 10 + e->round, AUSB_MS(1000), NULL, e);
    if (ausb_submit(&e->out) < 0) e->failed++;
    ausb_fill_bulk(&e->in, e->in.handle, 0x81, e->ibuf, 64, AUSB_MS(1000), echo_in_done, e);
    if (ausb_submit(&e->in) < 0) e->failed++;
}

static void echo_in_done(ausb_transfer *t, int status, void *user)
{
    echo *e = (echo *)user;
    if (status != 0 || t->actual_length != 10 + e->round || memcmp(e->ibuf, e->obuf, (size_t)t->actual_length) != 0)
        e->failed++;
    e->r.calls++;
    if (++e->round < e->rounds) echo_send(e);   /* the continuation */
}

static void test_bulk_loopback_continuation_chain(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    echo e;
    memset(&e, 0, sizeof e);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    T_EQ(ausb_claim(&h, 0), 0);
    ausb_transfer_init(&e.out, 0);
    ausb_transfer_init(&e.in, 0);
    e.out.handle = e.in.handle = &h;
    e.rounds = 20;
    echo_send(&e);
    T_EQ(run_until(&ctx, &e.r.calls, 20), 0);
    T_EQ(e.failed, 0);
    ausb_transfer_free(&e.out);
    ausb_transfer_free(&e.in);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void simple(usbf_device *d, unsigned char ep, int len, unsigned flags, unsigned timeout,
                   rec *r, unsigned char *buf)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    memset(r, 0, sizeof *r);
    r->status = 12345;
    if (open_dev(&ctx, d, &h) < 0) return;
    ausb_transfer_init(&t, 0);
    if (ep & 0x80) ausb_fill_bulk(&t, &h, ep, buf, len, AUSB_MS(timeout), on_done, r);
    else ausb_fill_bulk(&t, &h, ep, buf, len, AUSB_MS(timeout), on_done, r);
    ausb_transfer_set_flags(&t, flags);
    if (ausb_submit(&t) == 0) {
        if (r->calls != 0) r->calls = 100;   /* never inside submit */
        run_until(&ctx, &r->calls, 1);
    }
    ausb_transfer_free(&t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_stall_is_named(void)
{
    rec r;
    unsigned char buf[64];
    simple(&dev1, 0x82, 64, 0, 1000, &r, buf);
    T_EQ(r.calls, 1);
    T_EQ(r.status, AUSB_ESTALL);
    T_STREQ(ausb_strerror(r.status), "endpoint stalled");
}

static void test_short_packet_completes_with_its_length(void)
{
    rec r;
    unsigned char buf[64];
    simple(&dev1, 0x85, 64, 0, 1000, &r, buf);
    T_EQ(r.calls, 1);
    T_EQ(r.status, 0);
    T_EQ(r.actual, 5);
    T_MEMEQ(buf, "short", 5);
}

static void test_short_not_ok_turns_short_packet_into_error(void)
{
    rec r;
    unsigned char buf[64];
    simple(&dev1, 0x85, 64, AUSB_SHORT_NOT_OK, 1000, &r, buf);
    T_EQ(r.calls, 1);
    T_EQ(r.status, -EIO);
    T_EQ(r.actual, 5);
}

static void test_overflow_is_named(void)
{
    rec r;
    unsigned char buf[64];
    simple(&dev1, 0x86, 64, 0, 1000, &r, buf);
    T_EQ(r.calls, 1);
    T_EQ(r.status, AUSB_EBABBLE);
}

static void test_timeout_reports_etimedout_and_discards(void)
{
    rec r;
    unsigned char buf[64];
    int before = usbf_count(&dev1, &dev1.discards);
    simple(&dev1, 0x84, 64, 0, 30, &r, buf);
    T_EQ(r.calls, 1);
    T_EQ(r.status, -ETIMEDOUT);
    T_EQ(usbf_count(&dev1, &dev1.discards) - before, 1);
    T_EQ(usbf_pending(&dev1), 0);
}

static void test_zero_packet_flag_reaches_the_urb(void)
{
    rec r;
    unsigned char buf[512];
    memset(buf, 1, sizeof buf);
    simple(&dev1, 0x03, 512, AUSB_ZERO_PACKET, 1000, &r, buf);
    T_EQ(r.calls, 1);
    T_EQ(r.status, 0);
    T_EQ(r.actual, 512);
    T_CHECK(usbf_count(&dev1, (int *)&dev1.last_out_flags) & USBDEVFS_URB_ZERO_PACKET);
}

static void test_cancel_is_idempotent_and_calls_back_once(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[64];
    rec r;
    memset(&r, 0, sizeof r);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    ausb_transfer_init(&t, 0);
    ausb_fill_bulk(&t, &h, 0x84, buf, 64, 0, on_done, &r);
    T_EQ(ausb_submit(&t), 0);
    T_EQ(ausb_submit(&t), -EBUSY);
    T_EQ(ausb_cancel(&t), 0);
    T_EQ(ausb_cancel(&t), 0);
    T_EQ(r.calls, 0);
    T_EQ(run_until(&ctx, &r.calls, 1), 0);
    T_EQ(ausb_cancel(&t), 0);
    ausb_run_once(&ctx, 0);
    ausb_run_once(&ctx, 0);
    T_EQ(r.calls, 1);
    T_EQ(r.status, -ECANCELED);
    ausb_transfer_free(&t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_cancel_racing_completion_calls_back_once(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[64];
    rec r;
    int i;
    memset(&r, 0, sizeof r);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    ausb_transfer_init(&t, 0);
    for (i = 0; i < 10; i++) {
        /* 0x85 is complete inside the device before submit returns */
        ausb_fill_bulk(&t, &h, 0x85, buf, 64, 0, on_done, &r);
        T_EQ(ausb_submit(&t), 0);
        T_EQ(ausb_cancel(&t), 0);
        T_EQ(ausb_cancel(&t), 0);
        T_EQ(run_until(&ctx, &r.calls, i + 1), 0);
        T_CHECK(r.status == 0 || r.status == -ECANCELED);
        if (r.status == 0) T_EQ(r.actual, 5);
    }
    ausb_run_once(&ctx, 0);
    T_EQ(r.calls, 10);
    ausb_transfer_free(&t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_interrupt_in_resubmitted_from_callback(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[8];
    rec r;
    int first = -1, i;
    memset(&r, 0, sizeof r);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    ausb_transfer_init(&t, 0);
    for (i = 0; i < 3; i++) {
        ausb_fill_interrupt(&t, &h, 0x83, buf, 8, AUSB_MS(1000), on_done, &r);
        T_EQ(ausb_submit(&t), 0);
        T_EQ(run_until(&ctx, &r.calls, i + 1), 0);
        T_EQ(r.status, 0);
        T_EQ(r.actual, 8);
        T_EQ(buf[7], 0xa5);
        if (first < 0) first = buf[0];
        else T_EQ(buf[0], (first + i) & 0xff);
    }
    ausb_transfer_free(&t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_control_in_out_and_stall(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[8 + 64];
    rec r;
    memset(&r, 0, sizeof r);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    ausb_transfer_init(&t, 0);

    ausb_setup(buf, AUSB_RT_IN | AUSB_RT_VENDOR | AUSB_RT_DEVICE, 0x01, 0, 0, 16);
    ausb_fill_control(&t, &h, buf, AUSB_MS(1000), on_done, &r);
    T_EQ(ausb_submit(&t), 0);
    T_EQ(run_until(&ctx, &r.calls, 1), 0);
    T_EQ(r.status, 0);
    T_EQ(r.actual, 4);
    T_MEMEQ(ausb_control_data(&t), "ping", 4);

    ausb_setup(buf, AUSB_RT_VENDOR | AUSB_RT_DEVICE, 0x02, 0, 0, 6);
    memcpy(buf + 8, "hello!", 6);
    ausb_fill_control(&t, &h, buf, AUSB_MS(1000), on_done, &r);
    T_EQ(ausb_submit(&t), 0);
    T_EQ(run_until(&ctx, &r.calls, 2), 0);
    T_EQ(r.status, 0);
    pthread_mutex_lock(&dev1.lock);
    T_EQ(dev1.vendor_len, 6);
    T_MEMEQ(dev1.vendor_data, "hello!", 6);
    pthread_mutex_unlock(&dev1.lock);

    ausb_setup_get_descriptor(buf, AUSB_DT_DEVICE, 0, 0, 18);
    ausb_fill_control(&t, &h, buf, AUSB_MS(1000), on_done, &r);
    T_EQ(ausb_submit(&t), 0);
    T_EQ(run_until(&ctx, &r.calls, 3), 0);
    T_EQ(r.status, 0);
    T_EQ(r.actual, 18);
    T_MEMEQ(buf + 8, dev1.desc, 18);

    ausb_setup(buf, AUSB_RT_IN | AUSB_RT_VENDOR | AUSB_RT_DEVICE, 0x77, 0, 0, 4);
    ausb_fill_control(&t, &h, buf, AUSB_MS(1000), on_done, &r);
    T_EQ(ausb_submit(&t), 0);
    T_EQ(run_until(&ctx, &r.calls, 4), 0);
    T_EQ(r.status, AUSB_ESTALL);

    ausb_setup_feature(buf, 0, AUSB_RT_ENDPOINT, 0, 0x81);
    ausb_fill_control(&t, &h, buf, AUSB_MS(1000), on_done, &r);
    T_EQ(ausb_submit(&t), 0);
    T_EQ(run_until(&ctx, &r.calls, 5), 0);
    T_EQ(r.status, 0);

    ausb_transfer_free(&t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_isochronous_in_packets_and_statuses(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[4 * 8];
    rec r;
    int i;
    memset(&r, 0, sizeof r);
    memset(buf, 0xff, sizeof buf);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    T_EQ(ausb_transfer_init(&t, 4), 0);
    T_EQ(ausb_fill_iso(&t, &h, 0x87, buf, sizeof buf, 5, 8, AUSB_MS(1000), on_done, &r), -EINVAL);
    T_EQ(ausb_fill_iso(&t, &h, 0x87, buf, sizeof buf, 4, 8, AUSB_MS(1000), on_done, &r), 0);
    T_EQ(ausb_submit(&t), 0);
    T_EQ(run_until(&ctx, &r.calls, 1), 0);
    T_EQ(r.status, 0);
    T_EQ(ausb_iso_packets(&t), 4);
    for (i = 0; i < 4; i++) {
        T_EQ(ausb_iso_packet_length(&t, i), i + 1);
        T_EQ(ausb_iso_packet_data(&t, i) - buf, i * 8);
        T_EQ(ausb_iso_packet_data(&t, i)[0], i);
        T_EQ(ausb_iso_packet_status(&t, i), i == 2 ? -EIO : 0);
    }
    T_EQ(buf[8 + 2], 0xff);     /* past packet 1's two bytes: untouched */
    ausb_transfer_free(&t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_isochronous_out(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[3 * 16];
    rec r;
    int i;
    memset(&r, 0, sizeof r);
    memset(buf, 3, sizeof buf);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    T_EQ(ausb_transfer_init(&t, 3), 0);
    T_EQ(ausb_fill_iso(&t, &h, 0x02, buf, sizeof buf, 3, 16, AUSB_MS(1000), on_done, &r), 0);
    T_EQ(ausb_submit(&t), 0);
    T_EQ(run_until(&ctx, &r.calls, 1), 0);
    T_EQ(r.status, 0);
    for (i = 0; i < 3; i++) {
        T_EQ(ausb_iso_packet_length(&t, i), 16);
        T_EQ(ausb_iso_packet_status(&t, i), 0);
    }
    ausb_transfer_free(&t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

#define MANY 100

static void test_many_transfers_in_flight(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    static ausb_transfer t[MANY];
    static unsigned char buf[MANY][16];
    rec r;
    int i, bad = 0;
    memset(&r, 0, sizeof r);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    for (i = 0; i < MANY; i++) {
        ausb_transfer_init(&t[i], 0);
        ausb_fill_bulk(&t[i], &h, 0x84, buf[i], 16, 0, on_done, &r);
        T_EQ(ausb_submit(&t[i]), 0);
    }
    for (i = 0; i < 5; i++) ausb_run_once(&ctx, 0);
    T_EQ(r.calls, 0);
    T_EQ(usbf_pending(&dev1), MANY);
    T_EQ(ausb_pending(&ctx), MANY);
    T_EQ(usbf_release_held(&dev1, 3), MANY);
    T_EQ(run_until(&ctx, &r.calls, MANY), 0);
    for (i = 0; i < MANY; i++) {
        if (t[i].status != 0 || t[i].actual_length != 3 || buf[i][0] != 0x42 || buf[i][2] != 0x42) bad++;
        ausb_transfer_free(&t[i]);
    }
    T_EQ(bad, 0);
    T_EQ(ausb_pending(&ctx), 0);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_close_cancels_in_flight_and_delivers_before_return(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t[10];
    unsigned char buf[10][8];
    rec r;
    int i, rel = usbf_count(&dev1, &dev1.releases);
    memset(&r, 0, sizeof r);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    T_EQ(ausb_claim(&h, 0), 0);
    for (i = 0; i < 10; i++) {
        ausb_transfer_init(&t[i], 0);
        ausb_fill_bulk(&t[i], &h, 0x84, buf[i], 8, 0, on_done, &r);
        T_EQ(ausb_submit(&t[i]), 0);
    }
    ausb_close(&h);
    T_EQ(r.calls, 10);
    T_EQ(r.status, -ECANCELED);
    T_EQ(usbf_count(&dev1, &dev1.releases) - rel, 1);   /* the forgotten release */
    T_EQ(usbf_pending(&dev1), 0);
    T_EQ(ausb_pending(&ctx), 0);
    for (i = 0; i < 10; i++) {
        T_EQ(t[i].status, -ECANCELED);
        ausb_transfer_free(&t[i]);
    }
    ausb_ctx_close(&ctx);
}

typedef struct closer {
    ausb_handle *h;
    int calls;
    int statuses[8];
} closer;

static void close_from_callback(ausb_transfer *t, int status, void *user)
{
    closer *c = (closer *)user;
    (void)t;
    c->statuses[c->calls++] = status;
    if (c->calls == 1) ausb_close(c->h);
}

static void test_callback_may_close_its_handle(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t[4];
    unsigned char buf[4][8];
    closer c;
    int i;
    memset(&c, 0, sizeof c);
    c.h = &h;
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    for (i = 0; i < 4; i++) ausb_transfer_init(&t[i], 0);
    ausb_fill_bulk(&t[0], &h, 0x85, buf[0], 8, 0, close_from_callback, &c);
    for (i = 1; i < 4; i++) ausb_fill_bulk(&t[i], &h, 0x84, buf[i], 8, 0, close_from_callback, &c);
    for (i = 0; i < 4; i++) T_EQ(ausb_submit(&t[i]), 0);
    T_EQ(run_until(&ctx, &c.calls, 4), 0);
    T_EQ(c.statuses[0], 0);
    for (i = 1; i < 4; i++) T_EQ(c.statuses[i], -ECANCELED);
    T_EQ(ausb_submit(&t[0]), AUSB_ECLOSED);    /* handle is closed */
    for (i = 0; i < 4; i++) ausb_transfer_free(&t[i]);
    ausb_ctx_close(&ctx);
}

static void free_self(ausb_transfer *t, int status, void *user)
{
    int *calls = (int *)user;
    (void)status;
    (*calls)++;
    ausb_transfer_free(t);
    free(t);
}

static void test_callback_may_free_its_transfer(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    static unsigned char buf[8];
    int calls = 0, i;
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    for (i = 0; i < 3; i++) {
        ausb_transfer *t = (ausb_transfer *)malloc(sizeof *t);
        ausb_transfer_init(t, 0);
        ausb_fill_bulk(t, &h, 0x85, buf, 8, 0, free_self, &calls);
        T_EQ(ausb_submit(t), 0);
    }
    T_EQ(run_until(&ctx, &calls, 3), 0);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

typedef struct inl {
    int calls, bad, rounds, dispatches_seen;
} inl;

static void inline_next(ausb_transfer *t, int status, void *user)
{
    inl *c = (inl *)user;
    c->calls++;
    if (status != 0 || t->actual_length != 5) c->bad++;
    if (c->calls < c->rounds && ausb_submit(t) < 0) c->bad++;
}

static void test_inline_callback_resubmits_inside_event_handling(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[8];
    inl c;
    int iterations = 0;
    memset(&c, 0, sizeof c);
    c.rounds = 20;
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    ausb_transfer_init(&t, 0);
    ausb_fill_bulk(&t, &h, 0x85, buf, 8, AUSB_MS(1000), inline_next, &c);
    ausb_transfer_set_flags(&t, AUSB_INLINE_CALLBACK);
    T_EQ(ausb_submit(&t), 0);
    T_EQ(c.calls, 0);                       /* still never inside submit */
    while (c.calls < 20 && iterations < 100000) { ausb_run_once(&ctx, AUSB_MS(10)); iterations++; }
    T_EQ(c.calls, 20);
    T_EQ(c.bad, 0);
    T_CHECK(iterations < 20);               /* several completions per iteration */
    ausb_transfer_free(&t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_inline_callbacks_in_flight_at_close_come_from_close(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t[2];
    unsigned char buf[2][8];
    rec r;
    int i;
    memset(&r, 0, sizeof r);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    for (i = 0; i < 2; i++) {
        ausb_transfer_init(&t[i], 0);
        ausb_fill_bulk(&t[i], &h, 0x84, buf[i], 8, 0, on_done, &r);
        ausb_transfer_set_flags(&t[i], AUSB_INLINE_CALLBACK);
        T_EQ(ausb_submit(&t[i]), 0);
    }
    ausb_run_once(&ctx, 0);
    T_EQ(r.calls, 0);
    ausb_close(&h);
    T_EQ(r.calls, 2);
    T_EQ(r.status, -ECANCELED);
    for (i = 0; i < 2; i++) ausb_transfer_free(&t[i]);
    ausb_ctx_close(&ctx);
}

static void inline_close(ausb_transfer *t, int status, void *user)
{
    closer *c = (closer *)user;
    (void)t;
    c->statuses[c->calls++] = status;
    if (c->calls == 1) ausb_close(c->h);
}

static void test_inline_callback_may_close_its_handle(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t[3];
    unsigned char buf[3][8];
    closer c;
    int i;
    memset(&c, 0, sizeof c);
    c.h = &h;
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    T_EQ(ausb_claim(&h, 1), 0);
    for (i = 0; i < 3; i++) {
        ausb_transfer_init(&t[i], 0);
        ausb_fill_bulk(&t[i], &h, i == 0 ? 0x85 : 0x84, buf[i], 8, 0, inline_close, &c);
        ausb_transfer_set_flags(&t[i], AUSB_INLINE_CALLBACK);
        T_EQ(ausb_submit(&t[i]), 0);
    }
    T_EQ(run_until(&ctx, &c.calls, 3), 0);
    T_EQ(c.statuses[0], 0);
    T_EQ(c.statuses[1], -ECANCELED);
    T_EQ(c.statuses[2], -ECANCELED);
    T_CHECK(ctx.handles == NULL);            /* closed once libusb returned */
    T_EQ(usbf_count(&dev1, &dev1.driver_bound_if1), 1);   /* reattached */
    for (i = 0; i < 3; i++) ausb_transfer_free(&t[i]);
    ausb_ctx_close(&ctx);
}

static void test_free_in_flight_only_cancels(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[8];
    rec r;
    memset(&r, 0, sizeof r);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    ausb_transfer_init(&t, 0);
    ausb_fill_bulk(&t, &h, 0x84, buf, 8, 0, on_done, &r);
    T_EQ(ausb_submit(&t), 0);
    ausb_transfer_free(&t);
    T_EQ(ausb_transfer_state(&t), AUSB_XFER_INFLIGHT);
    T_EQ(run_until(&ctx, &r.calls, 1), 0);
    T_EQ(r.status, -ECANCELED);
    ausb_transfer_free(&t);
    T_CHECK(t.lt == NULL);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_disconnect_fails_pending_and_later_submits(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t[5];
    unsigned char buf[5][8];
    rec r;
    int i;
    memset(&r, 0, sizeof r);
    T_EQ(open_dev(&ctx, &dev2, &h), 0);
    T_EQ(ausb_claim(&h, 0), 0);
    for (i = 0; i < 5; i++) {
        ausb_transfer_init(&t[i], 0);
        ausb_fill_bulk(&t[i], &h, 0x84, buf[i], 8, 0, on_done, &r);
        T_EQ(ausb_submit(&t[i]), 0);
    }
    ausb_run_once(&ctx, 0);
    T_EQ(r.calls, 0);
    usbf_disconnect(&dev2);
    T_EQ(run_until(&ctx, &r.calls, 5), 0);
    for (i = 0; i < 5; i++) T_EQ(t[i].status, -ENODEV);
    T_EQ(ausb_handle_gone(&h), 1);
    T_EQ(ausb_submit(&t[0]), -ENODEV);
    T_EQ(ausb_claim(&h, 1), -ENODEV);
    ausb_run_once(&ctx, 0);
    T_EQ(r.calls, 5);
    for (i = 0; i < 5; i++) ausb_transfer_free(&t[i]);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_auto_detach_and_reattach_on_close(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    int det = usbf_count(&dev1, &dev1.detaches), att = usbf_count(&dev1, &dev1.attaches);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    T_EQ(ausb_claim(&h, 1), 0);
    T_EQ(usbf_count(&dev1, &dev1.detaches) - det, 1);
    T_EQ(usbf_count(&dev1, &dev1.driver_bound_if1), 0);
    ausb_close(&h);
    T_EQ(usbf_count(&dev1, &dev1.attaches) - att, 1);
    T_EQ(usbf_count(&dev1, &dev1.driver_bound_if1), 1);
    ausb_ctx_close(&ctx);
}

static void test_release_reattaches_and_is_not_repeated_at_close(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    int rel = usbf_count(&dev1, &dev1.releases), att = usbf_count(&dev1, &dev1.attaches);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    T_EQ(ausb_claim(&h, 1), 0);
    T_EQ(ausb_release(&h, 1), 0);
    T_EQ(ausb_release(&h, 1), -ENOENT);
    T_EQ(usbf_count(&dev1, &dev1.attaches) - att, 1);
    ausb_close(&h);
    T_EQ(usbf_count(&dev1, &dev1.releases) - rel, 1);
    T_EQ(usbf_count(&dev1, &dev1.attaches) - att, 1);
    ausb_ctx_close(&ctx);
}

static void test_alt_setting_config_clear_halt_reset(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    int a = usbf_count(&dev1, &dev1.set_alts), c = usbf_count(&dev1, &dev1.clear_halts);
    int rs = usbf_count(&dev1, &dev1.resets), sc = usbf_count(&dev1, &dev1.set_configs);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    T_EQ(ausb_claim(&h, 0), 0);
    T_EQ(ausb_set_altsetting(&h, 0, 0), 0);
    T_EQ(ausb_clear_halt(&h, 0x82), 0);
    T_EQ(ausb_release(&h, 0), 0);
    T_EQ(ausb_set_configuration(&h, 1), 0);
    T_EQ(ausb_reset(&h), 0);
    T_EQ(usbf_count(&dev1, &dev1.set_alts) - a, 1);
    T_EQ(usbf_count(&dev1, &dev1.clear_halts) - c, 1);
    T_EQ(usbf_count(&dev1, &dev1.resets) - rs, 1);
    T_CHECK(usbf_count(&dev1, &dev1.set_configs) - sc <= 1);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

typedef struct strs {
    int calls;
    int status[4];
    char text[4][64];
} strs;

static void on_string(ausb_string_req *req, int status, const char *utf8, void *user)
{
    strs *s = (strs *)user;
    int i = s->calls;
    (void)req;
    s->status[i] = status;
    snprintf(s->text[i], sizeof s->text[i], "%s", utf8 ? utf8 : "(null)");
    s->calls++;
}

static void test_strings_async_with_one_failing(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    static ausb_string_req req[4];
    strs s;
    memset(&s, 0, sizeof s);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    T_EQ(ausb_read_string(&req[0], &h, 1, AUSB_MS(1000), on_string, &s), 0);
    T_EQ(run_until(&ctx, &s.calls, 1), 0);
    T_EQ(ausb_read_string(&req[1], &h, 9, AUSB_MS(1000), on_string, &s), 0);
    T_EQ(run_until(&ctx, &s.calls, 2), 0);
    T_EQ(ausb_read_string(&req[2], &h, 2, AUSB_MS(1000), on_string, &s), 0);
    T_EQ(ausb_read_string(&req[3], &h, 3, AUSB_MS(1000), on_string, &s), 0);
    T_EQ(run_until(&ctx, &s.calls, 4), 0);
    T_EQ(s.status[0], 0);
    T_STREQ(s.text[0], "Fake Inc");
    T_EQ(s.status[1], AUSB_ESTALL);
    T_STREQ(s.text[1], "(null)");
    T_EQ(s.status[2], 0);
    T_STREQ(s.text[2], "Loop Gadget");
    T_EQ(s.status[3], 0);
    T_STREQ(s.text[3], "SN-ONE");
    T_EQ(ausb_read_string(&req[0], &h, 0, AUSB_MS(1000), on_string, &s), -EINVAL);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_strings_language_from_the_device_list_and_utf8(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    static ausb_string_req req[2];
    strs s;
    memset(&s, 0, sizeof s);
    T_EQ(open_dev(&ctx, &dev3, &h), 0);             /* offers German, then French */
    T_EQ(ausb_read_string(&req[0], &h, 1, AUSB_MS(1000), on_string, &s), 0);
    T_EQ(run_until(&ctx, &s.calls, 1), 0);
    T_EQ(s.status[0], 0);
    T_STREQ(s.text[0], "Gr\xc3\xbc\xc3\x9f\x65 \xe2\x82\xac \xf0\x9f\x98\x80");
    T_EQ(usbf_count(&dev3, (int *)&dev3.last_langid), 0x0407);
    T_EQ(ausb_read_string(&req[1], &h, 2, AUSB_MS(1000), on_string, &s), 0);   /* language list cached */
    T_EQ(run_until(&ctx, &s.calls, 2), 0);
    T_STREQ(s.text[1], "Composite");
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

/* Cancel lands when the transfer's timeout has passed but libusb has not
 * handled it yet: one callback, with either outcome. */
static void test_cancel_racing_timeout_calls_back_once(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[8];
    rec r;
    int i;
    memset(&r, 0, sizeof r);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    ausb_transfer_init(&t, 0);
    for (i = 0; i < 5; i++) {
        int64_t until;
        ausb_fill_bulk(&t, &h, 0x84, buf, 8, AUSB_MS(1), on_done, &r);
        T_EQ(ausb_submit(&t), 0);
        until = ausb_now_ns() + 3000000;
        while (ausb_now_ns() < until) {}          /* let the 1 ms timeout pass */
        T_EQ(ausb_cancel(&t), 0);
        T_EQ(run_until(&ctx, &r.calls, i + 1), 0);
        T_CHECK(r.status == -ETIMEDOUT || r.status == -ECANCELED);
    }
    ausb_run_once(&ctx, 0);
    T_EQ(r.calls, 5);
    T_EQ(usbf_pending(&dev1), 0);
    ausb_transfer_free(&t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_exit_closes_open_handles_and_delivers(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[8];
    rec r;
    memset(&r, 0, sizeof r);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    ausb_transfer_init(&t, 0);
    ausb_fill_bulk(&t, &h, 0x84, buf, 8, 0, on_done, &r);
    T_EQ(ausb_submit(&t), 0);
    ausb_ctx_close(&ctx);
    T_EQ(r.calls, 1);
    T_EQ(r.status, -ECANCELED);
    ausb_transfer_free(&t);
}

static void test_several_devices_at_once(void)
{
    ausb_ctx ctx;
    ausb_device d3;
    ausb_handle h1, h3;
    ausb_transfer t1, t3;
    unsigned char b1[8], b3[8];
    rec r;
    memset(&r, 0, sizeof r);
    T_EQ(open_dev(&ctx, &dev1, &h1), 0);
    T_EQ(ausb_find_id(&d3, &ctx, 0x1234, 0x0003), 0);
    T_EQ(ausb_open(&h3, &d3), 0);
    ausb_device_release(&d3);
    ausb_transfer_init(&t1, 0);
    ausb_transfer_init(&t3, 0);
    ausb_fill_bulk(&t1, &h1, 0x84, b1, 8, 0, on_done, &r);
    ausb_fill_bulk(&t3, &h3, 0x84, b3, 8, 0, on_done, &r);
    T_EQ(ausb_submit(&t1), 0);
    T_EQ(ausb_submit(&t3), 0);
    T_EQ(usbf_release_held(&dev3, 2), 1);
    T_EQ(run_until(&ctx, &r.calls, 1), 0);
    T_CHECK(t3.status == 0 && t3.actual_length == 2);
    T_EQ(ausb_transfer_state(&t1), AUSB_XFER_INFLIGHT);
    T_EQ(usbf_release_held(&dev1, 4), 1);
    T_EQ(run_until(&ctx, &r.calls, 2), 0);
    T_CHECK(t1.status == 0 && t1.actual_length == 4);
    ausb_transfer_free(&t1);
    ausb_transfer_free(&t3);
    ausb_close(&h3);
    ausb_close(&h1);
    ausb_ctx_close(&ctx);
}

/* Shape 3: a hand-written poll loop drives the context. */
static void test_foreign_poll_loop_drives_transfers(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t[3];
    unsigned char buf[3][8];
    struct pollfd small[1], *fds = small;
    int cap = 1, i, iter;
    rec r;
    memset(&r, 0, sizeof r);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    for (i = 0; i < 3; i++) {
        ausb_transfer_init(&t[i], 0);
        ausb_fill_bulk(&t[i], &h, i == 2 ? 0x84 : 0x85, buf[i], 8, AUSB_MS(i == 2 ? 20 : 0), on_done, &r);
        T_EQ(ausb_submit(&t[i]), 0);
    }
    for (iter = 0; iter < 100000 && r.calls < 3; iter++) {
        int64_t deadline = INT64_MAX, now;
        int n = ausb_prepare(&ctx, fds, cap, &deadline), timeout = -1;
        if (n > cap) {
            fds = (struct pollfd *)(fds == small ? malloc((size_t)n * sizeof *fds) : realloc(fds, (size_t)n * sizeof *fds));
            cap = n;
            deadline = INT64_MAX;
            n = ausb_prepare(&ctx, fds, cap, &deadline);
        }
#if defined(ASYNCKIT_POLL)
        T_CHECK(n >= 2);                    /* our eventfd + libusb's */
#else
        T_EQ(n, 1);                         /* the context's epoll set */
#endif
        T_EQ(fds[0].events, POLLIN);
        now = ausb_now_ns();
        if (deadline != INT64_MAX) timeout = deadline <= now ? 0 : (int)((deadline - now) / 1000000 + 1);
        if (timeout < 0 || timeout > 50) timeout = 50;
        poll(fds, (nfds_t)n, timeout);
        ausb_dispatch(&ctx, fds, n);
    }
    T_EQ(r.calls, 3);
    T_EQ(t[0].status, 0);
    T_EQ(t[1].status, 0);
    T_EQ(t[2].status, -ETIMEDOUT);
    if (fds != small) free(fds);
    for (i = 0; i < 3; i++) ausb_transfer_free(&t[i]);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

/* The descriptors libusb asked the context to watch, and how many of
 * them for POLLOUT alone (what a usbfs node asks for). */
static int lu_watched(const ausb_ctx *ctx, int *pollout_only)
{
    const struct ausb__lufd *n;
    int count = 0;
    *pollout_only = 0;
    for (n = ctx->lu_fds; n; n = n->next) {
        count++;
        if (n->io.want == POLLOUT) (*pollout_only)++;
    }
    return count;
}

static void test_usbfs_fd_is_watched_for_pollout_only(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    int n, out, before, out_before;
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    before = lu_watched(&ctx, &out_before);
    ausb_ctx_close(&ctx);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    n = lu_watched(&ctx, &out);
    T_EQ(n, before + 1);
    T_EQ(out, out_before + 1);
    ausb_close(&h);
    T_EQ(lu_watched(&ctx, &out), before);
    ausb_ctx_close(&ctx);
}

static void on_deferred(ausb_deferred *d, void *user)
{
    (void)d;
    (*(int *)user)++;
}

static void test_deferred_callback_runs_from_dispatch_with_due_deadline(void)
{
    ausb_ctx ctx;
    ausb_deferred d;
    struct pollfd fds[16];
    int64_t deadline = INT64_MAX;
    int calls = 0, n;
    memset(&d, 0xA5, sizeof d);       /* any content: ausb_deferred_init prepares it */
    ausb_deferred_init(&d);
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    ausb_defer(&d, &ctx, on_deferred, &calls);
    ausb_defer(&d, &ctx, on_deferred, &calls);   /* already queued: once */
    T_EQ(calls, 0);
    n = ausb_prepare(&ctx, fds, 16, &deadline);
    T_CHECK(deadline <= ausb_now_ns());      /* due: a host loop waits no longer */
    T_EQ(poll(fds, (nfds_t)n, 0) >= 0, 1);
    ausb_dispatch(&ctx, fds, n);
    T_EQ(calls, 1);
    T_EQ(ausb_pending(&ctx), 0);
    T_EQ(ausb_run(&ctx), 0);
    ausb_ctx_close(&ctx);
}

/* Shape 3 with a real foreign loop: a GLib GSource that forwards its
 * prepare / check / dispatch to ausb_prepare / ausb_dispatch. */
typedef struct ausb_gsource {
    GSource base;
    ausb_ctx *ctx;
    GPollFD gfds[16];
    int n;
    int64_t deadline;
} ausb_gsource;

static gboolean gs_prepare(GSource *base, gint *timeout)
{
    ausb_gsource *s = (ausb_gsource *)base;
    struct pollfd fds[16];
    int i, n;
    int64_t now;
    for (i = 0; i < s->n; i++) g_source_remove_poll(base, &s->gfds[i]);
    s->deadline = INT64_MAX;
    n = ausb_prepare(s->ctx, fds, 16, &s->deadline);
    s->n = n > 16 ? 16 : n;
    for (i = 0; i < s->n; i++) {
        s->gfds[i].fd = fds[i].fd;
        s->gfds[i].events = (gushort)fds[i].events;
        s->gfds[i].revents = 0;
        g_source_add_poll(base, &s->gfds[i]);
    }
    now = ausb_now_ns();
    if (s->deadline == INT64_MAX) *timeout = -1;
    else *timeout = s->deadline <= now ? 0 : (gint)((s->deadline - now) / 1000000 + 1);
    return s->deadline <= now;
}

static gboolean gs_check(GSource *base)
{
    ausb_gsource *s = (ausb_gsource *)base;
    int i;
    for (i = 0; i < s->n; i++) if (s->gfds[i].revents) return TRUE;
    return s->deadline <= ausb_now_ns();
}

static gboolean gs_dispatch(GSource *base, GSourceFunc cb, gpointer ud)
{
    ausb_gsource *s = (ausb_gsource *)base;
    struct pollfd fds[16];
    int i;
    (void)cb;
    (void)ud;
    for (i = 0; i < s->n; i++) {
        fds[i].fd = s->gfds[i].fd;
        fds[i].events = (short)s->gfds[i].events;
        fds[i].revents = (short)s->gfds[i].revents;
    }
    ausb_dispatch(s->ctx, fds, s->n);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs gs_funcs = {gs_prepare, gs_check, gs_dispatch, NULL, NULL, NULL};

static gboolean count_tick(gpointer ud)
{
    (*(int *)ud)++;
    return G_SOURCE_REMOVE;
}

static void test_glib_main_loop_drives_transfers(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    echo e;
    GMainContext *gctx = g_main_context_new();
    GSource *src = g_source_new(&gs_funcs, sizeof(ausb_gsource));
    GSource *tick = g_timeout_source_new(1);
    int ticks = 0, i;
    memset(&e, 0, sizeof e);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    ((ausb_gsource *)src)->ctx = &ctx;
    g_source_attach(src, gctx);
    g_source_set_callback(tick, count_tick, &ticks, NULL);
    g_source_attach(tick, gctx);
    ausb_transfer_init(&e.out, 0);
    ausb_transfer_init(&e.in, 0);
    e.out.handle = e.in.handle = &h;
    e.rounds = 10;
    echo_send(&e);
    for (i = 0; i < 200000 && (e.r.calls < 10 || ticks < 1); i++) g_main_context_iteration(gctx, TRUE);
    T_EQ(e.r.calls, 10);
    T_EQ(e.failed, 0);
    T_EQ(ticks, 1);
    g_source_destroy(src);
    g_source_unref(src);
    g_source_unref(tick);
    g_main_context_unref(gctx);
    ausb_transfer_free(&e.out);
    ausb_transfer_free(&e.in);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void *stop_later(void *arg)
{
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    ausb_stop((ausb_ctx *)arg);
    return NULL;
}

static void test_stop_from_another_thread_ends_run(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[8];
    pthread_t th;
    rec r;
    memset(&r, 0, sizeof r);
    T_EQ(open_dev(&ctx, &dev1, &h), 0);
    ausb_transfer_init(&t, 0);
    ausb_fill_bulk(&t, &h, 0x84, buf, 8, 0, on_done, &r);
    T_EQ(ausb_submit(&t), 0);
    T_EQ(pthread_create(&th, NULL, stop_later, &ctx), 0);
    T_EQ(ausb_run(&ctx), 0);                      /* returns with t in flight */
    pthread_join(th, NULL);
    T_EQ(r.calls, 0);
    T_EQ(ausb_transfer_state(&t), AUSB_XFER_INFLIGHT);
    ausb_close(&h);
    T_EQ(r.calls, 1);
    T_EQ(r.status, -ECANCELED);
    ausb_transfer_free(&t);
    ausb_ctx_close(&ctx);
}

static void test_errors_have_text(void)
{
    T_STREQ(ausb_strerror(-ENODEV), strerror(ENODEV));     /* system errors: the C library's words */
    T_STREQ(ausb_strerror(-ETIMEDOUT), strerror(ETIMEDOUT));
    T_STREQ(ausb_strerror(-ECANCELED), strerror(ECANCELED));
    T_CHECK(strlen(ausb_strerror(-ENOENT)) > 0);
    T_EQ(ausb_from_libusb(LIBUSB_ERROR_PIPE, 0), AUSB_ESTALL);
    T_EQ(ausb_from_libusb(LIBUSB_TRANSFER_OVERFLOW, 1), AUSB_EBABBLE);
    T_EQ(ausb_submit(NULL), -EINVAL);
    T_EQ(ausb_cancel(NULL), -EINVAL);
    T_EQ(ausb_ctx_init(NULL, NULL), -EINVAL);
    T_EQ(ausb_open(NULL, NULL), -EINVAL);
    T_EQ(ausb_device_bus(NULL), -EINVAL);
    T_EQ(ausb_device_address(NULL), -EINVAL);
    T_EQ(ausb_device_ports(NULL, NULL, 0), -EINVAL);
    T_EQ(ausb_device_speed_kbps(NULL), 0);
    T_EQ(ausb_ep_type(NULL), -EINVAL);
    T_EQ(ausb_ep_max_packet(NULL, 480000), -EINVAL);
    T_EQ(ausb_ep_interval_us(NULL, 480000), -EINVAL);
    T_EQ(ausb_config_get(NULL, NULL, 0), -EINVAL);
    T_EQ(ausb_devices(NULL, NULL), -EINVAL);
    T_EQ(ausb_claim(NULL, 0), -EINVAL);
    T_EQ(ausb_transfer_init(NULL, 0), -EINVAL);
    T_EQ(ausb_read_string(NULL, NULL, 1, 0, NULL, NULL), -EINVAL);
    T_EQ(ausb_prepare(NULL, NULL, 0, NULL), 0);
    ausb_dispatch(NULL, NULL, 0);
    ausb_close(NULL);
    ausb_ctx_close(NULL);
    ausb_transfer_free(NULL);
}

int main(void)
{
    t_suite("usb_core");
    usbf_init();
    hub.desc_len = usbf_hub_descriptors(hub.desc);
    roothub.desc_len = usbf_hub_descriptors(roothub.desc);
    usbf_add(&roothub, "/devices/fake/usb1", 1, 1, 480);
    usbf_add(&hub, "/devices/fake/usb1/1-1", 1, 2, 480);
    dev1.strings[1] = "Fake Inc"; dev1.strings[2] = "Loop Gadget"; dev1.strings[3] = "SN-ONE";
    dev1.desc_len = usbf_std_descriptors(dev1.desc, 0x1234, 0x0001);
    dev1.driver_bound_if1 = 1;
    usbf_add(&dev1, "/devices/fake/usb1/1-1.2", 1, 5, 480);
    dev2.strings[1] = "Fake Inc"; dev2.strings[2] = "Doomed"; dev2.strings[3] = "SN-TWO";
    dev2.desc_len = usbf_std_descriptors(dev2.desc, 0x1234, 0x0002);
    usbf_add(&dev2, "/devices/fake/usb1/1-1.3", 1, 6, 480);
    dev3.desc_len = usbf_unusual_descriptors(dev3.desc);
    dev3.langs[0] = 0x0407; dev3.langs[1] = 0x040c;
    lie.desc_len = usbf_std_descriptors(lie.desc, 0x1234, 0x00b1);
    lie.desc[18 + 2] = 0xff;                        /* wTotalLength 0x0fff */
    lie.desc[18 + 3] = 0x0f;
    usbf_add(&lie, "/devices/fake/usb3/3-1", 3, 2, 480);
    zero.desc_len = usbf_std_descriptors(zero.desc, 0x1234, 0x00b2);
    zero.desc[18 + 9 + 9 + 7 * 2] = 0;             /* third endpoint: bLength 0 */
    usbf_add(&zero, "/devices/fake/usb3/3-2", 3, 3, 480);
    cut.desc_len = usbf_std_descriptors(cut.desc, 0x1234, 0x00b3);
    cut.desc_len = 18 + 5;                          /* configuration cut short */
    usbf_add(&cut, "/devices/fake/usb3/3-3", 3, 4, 480);
    dev3.strings[1] = "Gr\xc3\xbc\xc3\x9f\x65 \xe2\x82\xac \xf0\x9f\x98\x80"; dev3.strings[2] = "Composite";
    usbf_add(&dev3, "/devices/fake/usb1/1-1.4", 1, 7, 480);

    T_RUN(test_errors_have_text);
    T_RUN(test_enumerates_every_fake_device);
    T_RUN(test_find_by_id_class_bus_port_serial_predicate);
    T_RUN(test_descriptor_tree_and_endpoint_helpers);
    T_RUN(test_unusual_descriptors_configs_alts_iads_extras);
    T_RUN(test_hostile_descriptors_fail_cleanly);
    T_RUN(test_usbfs_fd_is_watched_for_pollout_only);
    T_RUN(test_deferred_callback_runs_from_dispatch_with_due_deadline);
    T_RUN(test_bulk_loopback_continuation_chain);
    T_RUN(test_stall_is_named);
    T_RUN(test_short_packet_completes_with_its_length);
    T_RUN(test_short_not_ok_turns_short_packet_into_error);
    T_RUN(test_overflow_is_named);
    T_RUN(test_timeout_reports_etimedout_and_discards);
    T_RUN(test_zero_packet_flag_reaches_the_urb);
    T_RUN(test_cancel_is_idempotent_and_calls_back_once);
    T_RUN(test_cancel_racing_completion_calls_back_once);
    T_RUN(test_interrupt_in_resubmitted_from_callback);
    T_RUN(test_control_in_out_and_stall);
    T_RUN(test_isochronous_in_packets_and_statuses);
    T_RUN(test_isochronous_out);
    T_RUN(test_many_transfers_in_flight);
    T_RUN(test_close_cancels_in_flight_and_delivers_before_return);
    T_RUN(test_callback_may_close_its_handle);
    T_RUN(test_callback_may_free_its_transfer);
    T_RUN(test_free_in_flight_only_cancels);
    T_RUN(test_inline_callback_resubmits_inside_event_handling);
    T_RUN(test_inline_callbacks_in_flight_at_close_come_from_close);
    T_RUN(test_inline_callback_may_close_its_handle);
    T_RUN(test_auto_detach_and_reattach_on_close);
    T_RUN(test_release_reattaches_and_is_not_repeated_at_close);
    T_RUN(test_alt_setting_config_clear_halt_reset);
    T_RUN(test_strings_async_with_one_failing);
    T_RUN(test_strings_language_from_the_device_list_and_utf8);
    T_RUN(test_cancel_racing_timeout_calls_back_once);
    T_RUN(test_exit_closes_open_handles_and_delivers);
    T_RUN(test_several_devices_at_once);
    T_RUN(test_foreign_poll_loop_drives_transfers);
    T_RUN(test_stop_from_another_thread_ends_run);
    T_RUN(test_glib_main_loop_drives_transfers);
    T_RUN(test_disconnect_fails_pending_and_later_submits);
    T_RUN(test_options_log_level_and_no_discovery);
    T_RUN(test_wrap_fd_without_discovery);
    usbf_done();
    return t_done();
}
