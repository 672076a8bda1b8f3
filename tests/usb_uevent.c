/* tests/usb_uevent.c - the kernel's hotplug monitor of asyncusb.h off the
 * VM: its uevent parser on good, malformed and random messages, and the
 * monitor itself on one end of a socketpair (the test plays the kernel)
 * in an umockdev testbed.  The VM (tests/usb_vm.c) runs it on real
 * uevents.  Run under umockdev-wrapper. */
#define AUSB_HOTPLUG_NODE_WAIT_NS AKC_MS(100)
/* Where the monitor opens nodes: the testbed's /dev/bus/usb, or a folder
 * that does not exist for devices whose nodes never come (umockdev 0.17
 * keeps a slot for every failed open of a path under /dev, and aborts
 * after 50). */
static const char *t_usbfs = "/dev/bus/usb";
#define AUSB__USBFS_DIR t_usbfs
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"
#include "tests/harness.h"
#include "tests/usb_fake.h"
#include <sys/socket.h>
#include <unistd.h>

static usbf_device roothub, present, late, early;

#define ADD_HEAD "add@/devices/platform/dummy_hcd.0/usb1/1-1\0ACTION=add\0"
#define DEV_TAIL "SUBSYSTEM=usb\0DEVTYPE=usb_device\0PRODUCT=525/a4a0/100\0TYPE=0/0/0\0SEQNUM=2001\0"

/* Parses the literal m (its bytes, without the compiler's final NUL)
 * from a block of exactly that size, so that a read past it is caught. */
#define PARSE(m, ev) parse_exact((m), sizeof(m) - 1, '\0', (ev))

static int parse_exact(const char *m, size_t n, char sep, struct ausb__uevent *ev)
{
    char *copy = (char *)calloc(1, n ? n : 1);
    int r;
    memcpy(copy, m, n);
    r = ausb__ue_parse(copy, n, sep, ev);
    free(copy);
    return r;
}

/* ---- the parser ---- */

static void test_parser_takes_the_kernels_add(void)
{
    struct ausb__uevent ev;
    T_EQ(PARSE(ADD_HEAD "DEVPATH=/devices/platform/dummy_hcd.0/usb1/1-1\0" DEV_TAIL
               "MAJOR=189\0MINOR=1\0DEVNAME=bus/usb/001/002\0BUSNUM=001\0DEVNUM=002\0", &ev), 0);
    T_EQ(ausb__ue_usb_action(&ev), AUSB__UE_ADD);
    T_EQ(ev.bus, 1);
    T_EQ(ev.addr, 2);
    T_EQ(ev.vid, 0x525);
    T_EQ(ev.pid, 0xa4a0);
}

static void test_parser_remove_and_other_actions(void)
{
    struct ausb__uevent ev;
    T_EQ(PARSE("remove@/x\0ACTION=remove\0" DEV_TAIL "BUSNUM=003\0DEVNUM=127\0", &ev), 0);
    T_EQ(ausb__ue_usb_action(&ev), AUSB__UE_REMOVE);
    T_EQ(ev.bus, 3);
    T_EQ(ev.addr, 127);
    T_EQ(PARSE("bind@/x\0ACTION=bind\0" DEV_TAIL "BUSNUM=003\0DEVNUM=004\0", &ev), 0);
    T_EQ(ausb__ue_usb_action(&ev), 0);
    T_EQ(PARSE("change@/x\0ACTION=change\0" DEV_TAIL "BUSNUM=003\0DEVNUM=004\0", &ev), 0);
    T_EQ(ausb__ue_usb_action(&ev), 0);
    T_EQ(PARSE("ACTION=addx\0" DEV_TAIL "BUSNUM=003\0DEVNUM=004\0", &ev), 0);
    T_EQ(ausb__ue_usb_action(&ev), 0);
}

static void test_parser_interfaces_and_other_subsystems_are_no_devices(void)
{
    struct ausb__uevent ev;
    T_EQ(PARSE(ADD_HEAD "SUBSYSTEM=usb\0DEVTYPE=usb_interface\0BUSNUM=001\0DEVNUM=002\0", &ev), 0);
    T_EQ(ausb__ue_usb_action(&ev), 0);
    T_EQ(PARSE(ADD_HEAD "SUBSYSTEM=block\0DEVTYPE=usb_device\0BUSNUM=001\0DEVNUM=002\0", &ev), 0);
    T_EQ(ausb__ue_usb_action(&ev), 0);
    T_EQ(PARSE(ADD_HEAD "DEVTYPE=usb_device\0BUSNUM=001\0DEVNUM=002\0", &ev), 0);   /* no subsystem */
    T_EQ(ausb__ue_usb_action(&ev), 0);
    T_EQ(PARSE(ADD_HEAD DEV_TAIL "BUSNUM=001\0", &ev), 0);                          /* no address */
    T_EQ(ausb__ue_usb_action(&ev), 0);
}

static void test_parser_rejects_malformed_numbers(void)
{
    static const char *const bad[] = {"BUSNUM=0", "BUSNUM=256", "BUSNUM=", "BUSNUM=0001", "BUSNUM=01a",
                                      "BUSNUM=-1", "BUSNUM= 1", "DEVNUM=0", "DEVNUM=128", "DEVNUM=999",
                                      "DEVNUM=1\n", "DEVNUM=+5"};
    char m[256];
    struct ausb__uevent ev;
    size_t i, n;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = (size_t)snprintf(m, sizeof m, "ACTION=add%cSUBSYSTEM=usb%cDEVTYPE=usb_device%c%s%cBUSNUM=001", 0, 0, 0,
                             bad[i], 0);
        /* the later BUSNUM does not mend an earlier bad one, nor DEVNUM */
        if (parse_exact(m, n, '\0', &ev) != -EINVAL) T_FAILF("%s accepted", bad[i]);
    }
}

static void test_parser_devname_fills_in_and_must_agree(void)
{
    struct ausb__uevent ev;
    T_EQ(PARSE(ADD_HEAD DEV_TAIL "DEVNAME=bus/usb/002/017\0", &ev), 0);
    T_EQ(ausb__ue_usb_action(&ev), AUSB__UE_ADD);
    T_EQ(ev.bus, 2);
    T_EQ(ev.addr, 17);
    T_EQ(PARSE(ADD_HEAD DEV_TAIL "DEVNAME=bus/usb/002/017\0BUSNUM=002\0DEVNUM=018\0", &ev), -EINVAL);
    T_EQ(PARSE(ADD_HEAD DEV_TAIL "BUSNUM=003\0DEVNUM=017\0DEVNAME=bus/usb/002/017\0", &ev), -EINVAL);
    /* a name of another shape says nothing */
    T_EQ(PARSE(ADD_HEAD DEV_TAIL "DEVNAME=../../etc/passwd\0BUSNUM=001\0DEVNUM=002\0", &ev), 0);
    T_EQ(ev.bus, 1);
    T_EQ(ev.addr, 2);
    T_EQ(PARSE(ADD_HEAD DEV_TAIL "DEVNAME=bus/usb/000/017\0", &ev), 0);
    T_EQ(ausb__ue_usb_action(&ev), 0);
}

static void test_parser_leaves_odd_products_unknown(void)
{
    static const char *const odd[] = {"PRODUCT=", "PRODUCT=525", "PRODUCT=525/a4a0", "PRODUCT=12345/1/1",
                                      "PRODUCT=525/A4A0/100", "PRODUCT=525//100", "PRODUCT=525/a4a0/100/7",
                                      "PRODUCT=x/y/z"};
    char m[256];
    struct ausb__uevent ev;
    size_t i, n;
    for (i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        n = (size_t)snprintf(m, sizeof m, "ACTION=add%cSUBSYSTEM=usb%cDEVTYPE=usb_device%cBUSNUM=001%cDEVNUM=002%c%s",
                             0, 0, 0, 0, 0, odd[i]);
        if (parse_exact(m, n, '\0', &ev) != 0 || ev.vid != -1 || ev.pid != -1 || ausb__ue_usb_action(&ev) != AUSB__UE_ADD)
            T_FAILF("%s: vid %d pid %d", odd[i], ev.vid, ev.pid);
    }
}

static void test_parser_refuses_udevds_format_and_empty_messages(void)
{
    struct ausb__uevent ev;
    T_EQ(PARSE("libudev\0\xfe\xed\xca\xfe" "ACTION=add\0" DEV_TAIL "BUSNUM=001\0DEVNUM=002\0", &ev), -EINVAL);
    T_EQ(parse_exact("", 0, '\0', &ev), -EINVAL);
    T_EQ(ausb__ue_parse(NULL, 10, '\0', &ev), -EINVAL);
    T_EQ(PARSE("\0\0\0", &ev), 0);
    T_EQ(ausb__ue_usb_action(&ev), 0);
}

/* Every cut of a good message (no final NUL, a field cut short): never a
 * read past its end (ASan's build checks), never an event with numbers
 * out of range. */
static void test_parser_every_cut_stays_inside(void)
{
    static const char m[] = ADD_HEAD DEV_TAIL "DEVNAME=bus/usb/001/002\0BUSNUM=001\0DEVNUM=002\0";
    struct ausb__uevent ev;
    size_t n;
    int bad = 0, adds = 0;
    for (n = 1; n < sizeof m; n++) {
        int r = parse_exact(m, n, '\0', &ev);
        if (r == 0 && ausb__ue_usb_action(&ev)) {
            adds++;
            if (ev.bus != 1 || ev.addr != 2) bad++;
        }
    }
    T_EQ(bad, 0);
    T_CHECK(adds > 0);
}

/* sysfs's uevent files: the same fields, one a line. */
static void test_parser_reads_sysfs_uevent_files(void)
{
    static const char m[] = "MAJOR=189\nMINOR=130\nDEVNAME=bus/usb/002/003\nDEVTYPE=usb_device\nDRIVER=usb\n"
                            "PRODUCT=1209/2/100\nTYPE=0/0/0\nBUSNUM=002\nDEVNUM=003\n";
    struct ausb__uevent ev;
    T_EQ(parse_exact(m, sizeof m - 1, '\n', &ev), 0);
    T_EQ(ev.device, 1);
    T_EQ(ev.usb, 0);
    T_EQ(ev.bus, 2);
    T_EQ(ev.addr, 3);
    T_EQ(ev.vid, 0x1209);
    T_EQ(ev.pid, 2);
}

static unsigned long long rnd_state;
static unsigned rnd(void)
{
    rnd_state = rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)(rnd_state >> 33);
}

/* Random messages from pieces of real ones and noise. */
static void test_parser_random_messages(void)
{
    static const char *const pieces[] = {"ACTION=", "add", "remove", "SUBSYSTEM=", "usb", "DEVTYPE=", "usb_device",
                                         "BUSNUM=", "DEVNUM=", "DEVNAME=", "bus/usb/", "PRODUCT=", "/", "=", "@",
                                         "0", "1", "9", "00", "127", "255", "256", "a", "f", "\n", "libudev"};
    char m[600];
    struct ausb__uevent ev;
    int k, bad = 0, events = 0;
    const char *e = getenv("T_SEED");
    unsigned long long seed = e ? strtoull(e, NULL, 0) : (unsigned long long)ausb_now_ns();
    printf("seed %llu (rerun with T_SEED=%llu)\n", seed, seed);
    rnd_state = seed;
    for (k = 0; k < 20000; k++) {
        size_t n = 0, want = rnd() % sizeof m;
        while (n < want) {
            unsigned c = rnd() % 8;
            const char *p = pieces[rnd() % (sizeof pieces / sizeof pieces[0])];
            if (c == 0) m[n++] = 0;
            else if (c == 1) m[n++] = (char)rnd();
            else while (*p && n < want) m[n++] = *p++;
        }
        if (parse_exact(m, n, (rnd() & 1) ? '\0' : '\n', &ev) == 0 && ausb__ue_usb_action(&ev)) {
            events++;
            if (ev.bus < 1 || ev.bus > 255 || ev.addr < 1 || ev.addr > 127) bad++;
        }
    }
    T_EQ(bad, 0);
    (void)events;
}

/* ---- the monitor on a socketpair ---- */

typedef struct seen { int arrived, left, opened, pid; } seen;

static void on_hotplug(ausb_hotplug *hp, int arrived, const ausb_device *dev, void *ud)
{
    seen *s = (seen *)ud;
    ausb_handle h;
    (void)hp;
    if (!arrived) { s->left++; return; }
    s->arrived++;
    s->pid = ausb_device_descriptor(dev)->idProduct;
    if (ausb_open(&h, dev) == 0) { s->opened++; ausb_close(&h); }
}

static int kernel_says(int fd, const char *action, int bus, int addr, int pid)
{
    char m[512];
    int n = snprintf(m, sizeof m, "%s@/devices/fake/usb%d/x%cACTION=%s%cSUBSYSTEM=usb%cDEVTYPE=usb_device%c"
                     "BUSNUM=%03d%cDEVNUM=%03d%cPRODUCT=1234/%x/0%c", action, bus, 0, action, 0, 0, 0, bus, 0, addr, 0, pid, 0);
    return send(fd, m, (size_t)n, MSG_DONTWAIT) == n ? 0 : -1;
}

static void run_ms(ausb_ctx *ctx, int ms)
{
    int64_t t0 = ausb_now_ns();
    while (ausb_now_ns() - t0 < AUSB_MS(ms)) ausb_run_once(ctx, AUSB_MS(5));
}

static int run_until(ausb_ctx *ctx, const int *count, int want)
{
    int i;
    for (i = 0; i < 300 && *count < want; i++) ausb_run_once(ctx, AUSB_MS(10));
    return *count >= want ? 0 : -1;
}

static void test_source_flags_and_environment(void)
{
    ausb_ctx ctx;
    ausb_hotplug hp;
    seen s;
    memset(&s, 0, sizeof s);
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    T_EQ(ausb_hotplug_start(&hp, &ctx, NULL, AUSB_HOTPLUG_LIBUSB | AUSB_HOTPLUG_KERNEL, on_hotplug, &s), -EINVAL);
    /* umockdev plays udevd: left to choose, a watch takes libusb's */
    T_EQ(ausb_hotplug_start(&hp, &ctx, NULL, 0, on_hotplug, &s), 0);
    T_EQ(ausb_hotplug_source(&hp), AUSB_HOTPLUG_LIBUSB);
    ausb_hotplug_stop(&hp);
    setenv("AUSB_HOTPLUG", "kernel", 1);
    T_EQ(ausb_hotplug_start(&hp, &ctx, NULL, 0, on_hotplug, &s), 0);
    T_EQ(ausb_hotplug_source(&hp), AUSB_HOTPLUG_KERNEL);
    ausb_hotplug_stop(&hp);
    T_EQ(ausb_hotplug_start(&hp, &ctx, NULL, AUSB_HOTPLUG_LIBUSB, on_hotplug, &s), 0);   /* flags first */
    T_EQ(ausb_hotplug_source(&hp), AUSB_HOTPLUG_LIBUSB);
    ausb_hotplug_stop(&hp);
    unsetenv("AUSB_HOTPLUG");
    ausb_ctx_close(&ctx);
    T_EQ(s.arrived + s.left, 0);
}

/* A device the kernel announces: reported from dispatch once its node
 * opens, as a device that opens; its departure marks its handles gone. */
static void test_monitor_reports_a_device_that_comes_and_goes(void)
{
    ausb_ctx ctx;
    ausb_hotplug hp;
    ausb_handle h;
    ausb_device dev;
    seen s;
    int sv[2], opened = -1;
    memset(&s, 0, sizeof s);
    T_REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0);
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    T_EQ(ausb__hotplug_start_fd(&hp, &ctx, NULL, 0, on_hotplug, &s, sv[0]), 0);
    T_EQ(ausb_hotplug_source(&hp), AUSB_HOTPLUG_KERNEL);
    late.desc_len = usbf_std_descriptors(late.desc, 0x1234, 0x00c3);
    usbf_add(&late, "/devices/fake/usb1/1-3", 1, 4, 480);
    umockdev_testbed_uevent(usbf_testbed, late.syspath, "add");   /* libusb's list has it */
    T_EQ(kernel_says(sv[1], "add", 1, 4, 0xc3), 0);
    T_EQ(kernel_says(sv[1], "add", 1, 4, 0xc3), 0);              /* said twice: reported once */
    T_EQ(s.arrived, 0);
    T_EQ(run_until(&ctx, &s.arrived, 1), 0);
    run_ms(&ctx, 30);
    T_EQ(s.arrived, 1);
    T_EQ(s.pid, 0xc3);
    T_EQ(s.opened, 1);
    if (ausb_find_id(&dev, &ctx, 0x1234, 0x00c3) == 0) {
        opened = ausb_open(&h, &dev);
        ausb_device_release(&dev);
    }
    T_EQ(opened, 0);
    usbf_unplug(&late);
    T_EQ(kernel_says(sv[1], "remove", 1, 4, 0xc3), 0);
    T_EQ(kernel_says(sv[1], "remove", 1, 4, 0xc3), 0);           /* a second one: nothing */
    T_EQ(run_until(&ctx, &s.left, 1), 0);
    run_ms(&ctx, 30);
    T_EQ(s.left, 1);
    T_EQ(ausb_handle_gone(&h), 1);
    ausb_close(&h);
    ausb_hotplug_stop(&hp);
    ausb_ctx_close(&ctx);
    usbf_remove(&late);
    close(sv[1]);
}

/* A device usbcore has not bound yet (no driver link) is not taken at
 * its add: it may not have its configuration yet.  Past the wait it is
 * taken all the same. */
static void test_monitor_waits_for_usbcore_to_bind(void)
{
    ausb_ctx ctx;
    ausb_hotplug hp;
    seen s;
    int sv[2], early_arrivals, late_arrivals;
    memset(&s, 0, sizeof s);
    T_REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0);
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    T_EQ(ausb__hotplug_start_fd(&hp, &ctx, NULL, 0, on_hotplug, &s, sv[0]), 0);
    early.desc_len = usbf_std_descriptors(early.desc, 0x1234, 0x00c5);
    early.unbound = 1;
    usbf_add(&early, "/devices/fake/usb1/1-5", 1, 9, 480);
    umockdev_testbed_uevent(usbf_testbed, early.syspath, "add");
    T_EQ(kernel_says(sv[1], "add", 1, 9, 0xc5), 0);
    run_ms(&ctx, 40);
    early_arrivals = s.arrived;
    run_ms(&ctx, 200);                      /* past AUSB_HOTPLUG_NODE_WAIT_NS (100 ms here) */
    late_arrivals = s.arrived;
    ausb_hotplug_stop(&hp);
    ausb_ctx_close(&ctx);
    usbf_unplug(&early);
    usbf_remove(&early);
    close(sv[1]);
    T_EQ(early_arrivals, 0);
    T_EQ(late_arrivals, 1);
    T_EQ(s.pid, 0xc5);
}

/* Adds whose node never opens are never reported and forgotten after the
 * bounded tries; removes of unknown devices, other subsystems and garbage
 * change nothing; a device present at the start that leaves is reported
 * (without ENUMERATE its arrival was not). */
static void test_monitor_ignores_what_it_cannot_use(void)
{
    ausb_ctx ctx;
    ausb_hotplug hp;
    seen s;
    int sv[2], i, waiting;
    memset(&s, 0, sizeof s);
    T_REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0);
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    T_EQ(ausb__hotplug_start_fd(&hp, &ctx, NULL, 0, on_hotplug, &s, sv[0]), 0);
    t_usbfs = "/nonexistent/usbfs";
    for (i = 1; i <= 20; i++) kernel_says(sv[1], "add", 9, i, 0x99);    /* no such nodes */
    kernel_says(sv[1], "remove", 9, 100, 0x99);
    send(sv[1], "garbage", 7, MSG_DONTWAIT);
    send(sv[1], "ACTION=add\0SUBSYSTEM=usb\0DEVTYPE=usb_device\0BUSNUM=1\0DEVNUM=300", 64, MSG_DONTWAIT);
    run_ms(&ctx, 30);
    waiting = hp.ndevs;
    run_ms(&ctx, 250);
    T_CHECK(waiting >= 20);                 /* they waited for their nodes... */
    T_EQ(akc_timer_active(&hp.retry), 0);   /* ...and were given up */
    T_EQ(s.arrived + s.left, 0);
    kernel_says(sv[1], "remove", present.bus, present.addr, 0xc1);
    T_EQ(run_until(&ctx, &s.left, 1), 0);
    T_EQ(s.arrived, 0);
    ausb_hotplug_stop(&hp);
    ausb_ctx_close(&ctx);
    close(sv[1]);
    t_usbfs = "/dev/bus/usb";
}

/* A flood: each dispatch reads a bounded batch (others are served in
 * between), the devices kept stay bounded, and nothing is reported. */
static void test_monitor_flood_is_bounded(void)
{
    ausb_ctx ctx;
    ausb_hotplug hp;
    seen s;
    char b[16];
    int sv[2], i, sent = 0, rounds = 0, most = 0, left_after_one, base;
    memset(&s, 0, sizeof s);
    T_REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0);
    i = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &i, sizeof i);
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    T_EQ(ausb__hotplug_start_fd(&hp, &ctx, NULL, 0, on_hotplug, &s, sv[0]), 0);
    base = hp.ndevs;                        /* those sysfs shows */
    t_usbfs = "/nonexistent/usbfs";
    for (i = 0; i < 60 && kernel_says(sv[1], "add", 20, i + 1, 1) == 0; i++) sent++;
    ausb_run_once(&ctx, 0);
    left_after_one = recv(sv[0], b, sizeof b, MSG_PEEK | MSG_DONTWAIT) > 0;
    T_EQ(sent, 60);
    T_CHECK(left_after_one);                /* 60 queued, one dispatch took a batch */
    for (i = 0; i < 3000; i++) {
        int bus = 30 + i % 8, addr = i / 8 % 127 + 1;
        if (kernel_says(sv[1], (i % 3) ? "add" : "remove", bus, addr, 1) < 0) {
            ausb_run_once(&ctx, 0);
            rounds++;
        }
        if (hp.ndevs > most) most = hp.ndevs;
    }
    /* until the socket is read and the devices waiting are given up */
    for (i = 0; i < 3000 && (hp.ndevs > base || recv(sv[0], b, sizeof b, MSG_PEEK | MSG_DONTWAIT) > 0); i++) {
        ausb_run_once(&ctx, AUSB_MS(10));
        if (hp.ndevs > most) most = hp.ndevs;
    }
    T_CHECK(most <= 512);
    T_EQ(hp.ndevs, base);
    T_EQ(s.arrived + s.left, 0);
    ausb_hotplug_stop(&hp);
    ausb_ctx_close(&ctx);
    close(sv[1]);
    t_usbfs = "/dev/bus/usb";
    (void)rounds;
}

/* Closing the context with devices waiting, the retry timer armed and
 * notifications queued delivers nothing and leaks nothing. */
static void test_close_with_the_monitor_busy(void)
{
    ausb_ctx ctx;
    ausb_hotplug hp, hp2;
    seen s;
    int sv[2], sv2[2], i, timer, queued;
    memset(&s, 0, sizeof s);
    T_REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0);
    T_REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv2) == 0);
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    T_EQ(ausb__hotplug_start_fd(&hp, &ctx, NULL, 0, on_hotplug, &s, sv[0]), 0);
    t_usbfs = "/nonexistent/usbfs";
    for (i = 1; i <= 5; i++) kernel_says(sv[1], "add", 9, i, 0x99);
    ausb_run_once(&ctx, 0);
    t_usbfs = "/dev/bus/usb";
    timer = akc_timer_active(&hp.retry);
    /* a second watch whose present devices are queued, not yet delivered */
    T_EQ(ausb__hotplug_start_fd(&hp2, &ctx, NULL, AUSB_HOTPLUG_ENUMERATE, on_hotplug, &s, sv2[0]), 0);
    queued = hp2.head != NULL;
    ausb_ctx_close(&ctx);
    T_CHECK(timer);
    T_CHECK(queued);
    T_EQ(s.arrived + s.left, 0);
    ausb_hotplug_stop(&hp);                 /* after the close: harmless */
    ausb_hotplug_stop(&hp2);
    T_EQ(s.arrived + s.left, 0);
    close(sv[1]);
    close(sv2[1]);
}

int main(void)
{
    t_suite("usb_uevent");
    T_RUN(test_parser_takes_the_kernels_add);
    T_RUN(test_parser_remove_and_other_actions);
    T_RUN(test_parser_interfaces_and_other_subsystems_are_no_devices);
    T_RUN(test_parser_rejects_malformed_numbers);
    T_RUN(test_parser_devname_fills_in_and_must_agree);
    T_RUN(test_parser_leaves_odd_products_unknown);
    T_RUN(test_parser_refuses_udevds_format_and_empty_messages);
    T_RUN(test_parser_every_cut_stays_inside);
    T_RUN(test_parser_reads_sysfs_uevent_files);
    T_RUN(test_parser_random_messages);
    usbf_init();
    roothub.desc_len = usbf_hub_descriptors(roothub.desc);
    usbf_add(&roothub, "/devices/fake/usb1", 1, 1, 480);
    present.desc_len = usbf_std_descriptors(present.desc, 0x1234, 0x00c1);
    usbf_add(&present, "/devices/fake/usb1/1-1", 1, 2, 480);
    T_RUN(test_source_flags_and_environment);
    T_RUN(test_monitor_reports_a_device_that_comes_and_goes);
    T_RUN(test_monitor_waits_for_usbcore_to_bind);
    T_RUN(test_monitor_ignores_what_it_cannot_use);
    T_RUN(test_monitor_flood_is_bounded);
    T_RUN(test_close_with_the_monitor_busy);
    usbf_done();
    return t_done();
}
