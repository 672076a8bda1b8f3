/* Fuzz target: descriptor bytes through libusb's own parser, then through
 * asyncusb.h's tree accessors.  The other USB targets fuzz the library's
 * raw walker; this one fuzzes what libusb 1.0.26 makes of hostile bytes
 * (it can report success with an endpoint array left NULL) and what the
 * library then does with that tree.
 *
 * The route: ausb_wrap_fd, the library's Android/Termux path, hands a file
 * descriptor to libusb_wrap_sys_device, and libusb's Linux backend reads a
 * wrapped descriptor's device and configuration descriptors with read(),
 * exactly as from a usbfs node.  Here the descriptor is a memfd holding
 * the input, and the few usbfs ioctls libusb sends it on the way
 * (CONNECTINFO, GET_SPEED, CONTROL for the active configuration,
 * GET_CAPABILITIES) are answered by an ioctl() defined in this file, which
 * the executable exports ahead of libc's.  No umockdev, no process per
 * input: libusb's real parser (linux_usbfs.c splitting the configurations,
 * descriptor.c building the tree) runs in-process thousands of times a
 * second.  umockdev's testbed would also reach that parser, through sysfs,
 * but at some tens of inputs a second; tests/usb_hostile.c takes that route
 * on a fixed sweep.
 *
 * Input: a control byte, then the bytes the device would give (device
 * descriptor, configurations).  Control bits 0-2: the speed usbfs
 * reports; bit 3: the GET_CONFIGURATION request fails; bits 4-7: the
 * active configuration's value (0: 1).
 *
 * Checks, besides no crash, leak or undefined behaviour: the _at walk
 * stays inside the counts; every lookup by number or address finds an
 * entry with that number or address; ausb_config_verify agrees with a
 * reference sum of the lengths the walk saw; the class filter agrees with
 * the interfaces the walk saw; ausb_config_iads never reports more than it
 * counted; ausb_config_raw_check fails cleanly (no sysfs for a wrapped fd).
 *
 * FUZZ_FLAGS: $(pkg-config --cflags --libs libusb-1.0)
 */
#define _GNU_SOURCE 1
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"
#include <linux/usbdevice_fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

static int fz_fd = -1;
static unsigned char fz_ctl;

/* libusb 1.0.26's parser leaks the alternate-setting array of an
 * interface it gives up on; libusb has no frame pointers, so only its
 * module can be named (tests/usb_lsan.supp says more). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libusb-1.0.so\n"; }

/* usbfs as far as libusb asks it about a wrapped descriptor. */
static int fz_usbfs(unsigned long req, void *arg)
{
    /* the kernel's enum usb_device_speed: unknown, low, full, high,
     * wireless, super, super plus; then one it does not have */
    static const int speeds[8] = {0, 1, 2, 3, 4, 5, 6, 99};
    if (req == USBDEVFS_CONNECTINFO) {
        struct usbdevfs_connectinfo *ci = (struct usbdevfs_connectinfo *)arg;
        ci->devnum = 7;
        ci->slow = 0;
        return 0;
    }
    if (req == USBDEVFS_GET_SPEED) return speeds[fz_ctl & 7];
    if (req == USBDEVFS_CONTROL && !(fz_ctl & 8)) {
        struct usbdevfs_ctrltransfer *c = (struct usbdevfs_ctrltransfer *)arg;
        if (c->bRequestType == 0x80 && c->bRequest == 0x08 && c->wLength >= 1 && c->data) {
            *(unsigned char *)c->data = (unsigned char)(fz_ctl >> 4 ? fz_ctl >> 4 : 1);
            return 1;
        }
    }
    errno = ENOTTY;
    return -1;
}

/* Defined here, ahead of libc's (and ASan's weak interceptor): the memfd
 * is answered above, every other descriptor goes to the kernel. */
int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    void *arg;
    va_start(ap, req);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (fd == fz_fd && fz_fd >= 0) return fz_usbfs(req, arg);
    return (int)syscall(SYS_ioctl, fd, req, arg);
}

/* What the walk saw of one configuration. */
typedef struct seen {
    long bytes;                /* descriptor and extra lengths, as the reference sums them */
    int interfaces, camera, bad_extra;
} seen;

static long extra_len(const unsigned char *extra, int n, int *bad)
{
    if (n < 0 || (n > 0 && !extra)) { *bad = 1; return 0; }
    return n;
}

static volatile unsigned char sink;

static void touch(const unsigned char *p, int n)
{
    int i;
    for (i = 0; p && i < n; i++) sink ^= p[i];
}

static void walk_endpoints(const ausb_altsetting *s, int speed, seen *w)
{
    const ausb_endpoint_desc *ep;
    int e;
    for (e = 0; (ep = ausb_altsetting_endpoint_at(s, e)) != NULL; e++) {
        const ausb_endpoint_desc *found = ausb_altsetting_endpoint(s, ep->bEndpointAddress);
        CHECK(e < s->bNumEndpoints);
        CHECK(found && found->bEndpointAddress == ep->bEndpointAddress);
        CHECK(ausb_ep_multiplier(ep, speed) >= 1 && ausb_ep_multiplier(ep, speed) <= 48);
        (void)ausb_ep_interval_us(ep, speed);
        touch(ep->extra, ep->extra_length);
        w->bytes += ep->bLength + extra_len(ep->extra, ep->extra_length, &w->bad_extra);
    }
    CHECK(e <= s->bNumEndpoints);
}

static void walk_config(const ausb_config_desc *cfg, int speed, seen *w)
{
    const ausb_interface *in;
    const ausb_altsetting *s;
    ausb_iad iads[4];
    int i, a, n;
    memset(w, 0, sizeof *w);
    w->bytes = cfg->bLength + extra_len(cfg->extra, cfg->extra_length, &w->bad_extra);
    touch(cfg->extra, cfg->extra_length);
    for (i = 0; (in = ausb_config_interface_at(cfg, i)) != NULL; i++) {
        CHECK(i < cfg->bNumInterfaces);
        if (in->num_altsetting < 1 || !in->altsetting) w->bad_extra = 1;
        for (a = 0; (s = ausb_interface_altsetting_at(in, a)) != NULL; a++) {
            const ausb_altsetting *by_alt = ausb_interface_altsetting(in, s->bAlternateSetting);
            const ausb_interface *by_number = ausb_config_interface(cfg, s->bInterfaceNumber);
            CHECK(a < in->num_altsetting);
            CHECK(by_alt && by_alt->bAlternateSetting == s->bAlternateSetting);
            if (a == 0) CHECK(by_number && by_number->altsetting[0].bInterfaceNumber == s->bInterfaceNumber);
            if (s->bNumEndpoints && !s->endpoint) w->bad_extra = 1;
            if (s->bInterfaceClass == 6 && s->bInterfaceSubClass == 1 && s->bInterfaceProtocol == 1) w->camera = 1;
            touch(s->extra, s->extra_length);
            w->bytes += s->bLength + extra_len(s->extra, s->extra_length, &w->bad_extra);
            walk_endpoints(s, speed, w);
        }
        w->interfaces++;
    }
    if (cfg->bNumInterfaces && !cfg->interface) w->bad_extra = 1;
    n = ausb_config_iads(cfg, iads, 4);
    CHECK(n >= 0);
}

static void check_device(ausb_handle *h)
{
    const ausb_device *dev = ausb_handle_device(h);
    ausb_config_desc *cfg;
    ausb_filter f;
    seen w;
    int c, camera = 0, r, speed = ausb_device_speed_kbps(dev);
    for (c = 0; c < dev->desc.bNumConfigurations; c++) {
        if (ausb_config_get(&cfg, dev, c) < 0) continue;
        walk_config(cfg, speed, &w);
        r = ausb_config_verify(cfg);
        CHECK(r == 0 || r == AUSB_EMALFORMED);
        /* the reference: an interface, every count with its array, and
         * the lengths the walk saw add up to wTotalLength */
        CHECK((r == 0) == (w.interfaces > 0 && !w.bad_extra && w.bytes == cfg->wTotalLength));
        camera |= w.camera;
        CHECK(ausb_config_raw_check(dev, c) < 0);   /* a wrapped fd has no sysfs entry */
        ausb_config_free(cfg);
    }
    if (ausb_config_active(&cfg, dev) == 0) {
        walk_config(cfg, speed, &w);
        ausb_config_free(cfg);
    }
    ausb_filter_init(&f);
    f.cls = 6;
    f.subclass = 1;
    f.protocol = 1;
    if (!(dev->desc.bDeviceClass == 6 && dev->desc.bDeviceSubClass == 1 && dev->desc.bDeviceProtocol == 1))
        CHECK(ausb_device_matches(dev, &f) == camera);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ausb_ctx ctx;
    static int ready;
    ausb_handle h;
    if (!ready) {
        ausb_ctx_config cfg;
        ausb_ctx_config_init(&cfg);
        cfg.no_discovery = 1;
        CHECK(ausb_ctx_init(&ctx, &cfg) == 0);
        fz_fd = memfd_create("fuzz_usb_libusb", MFD_CLOEXEC);
        CHECK(fz_fd >= 0);
        ready = 1;
    }
    if (size < 1 || size > 65536) return 0;
    fz_ctl = data[0];
    CHECK(ftruncate(fz_fd, 0) == 0);
    CHECK(pwrite(fz_fd, data + 1, size - 1, 0) == (ssize_t)(size - 1));
    if (ausb_wrap_fd(&h, &ctx, fz_fd) < 0) return 0;
    check_device(&h);
    ausb_close(&h);
    return 0;
}
