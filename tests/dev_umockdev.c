/* tests/dev_umockdev.c - asyncdev.h's input devices, unmodified (no
 * ADEV_SYS_* hooks), on devices emulated by umockdev outside the VM.
 *
 * The devices are the project's own text recordings in tests/data/evdev/:
 * a description in umockdev-record's format (key.umockdev, dial.umockdev)
 * and the events in evemu's format (key.evemu, dial.evemu), which umockdev
 * replays into the device node, with the recorded gaps, while the loop
 * watches it.  Must run under libumockdev-preload (umockdev-wrapper).
 *
 * What umockdev does not play, the ioctl handler below does.  umockdev's
 * ioctl tree (umockdev_testbed_load_ioctl) replays recorded EVIOCG*
 * answers and EVIOCGRAB, but it has no entry for EVIOCSCLOCKID, which
 * adev_input_open sends first, and a node has one handler, a tree or ours:
 * without one the pty answers ENOTTY, so every open would fail.  The
 * handler answers the requests asyncdev.h makes on open and for the name:
 * EVIOCSCLOCKID (the clock asked is kept, and checked), EVIOCGRAB, and
 * EVIOCGNAME (from the description's name attribute); anything else fails
 * as the kernel's unknown requests do, and is counted.  The key state
 * (EVIOCGKEY) is left to the VM suite: a recorded answer would not follow
 * the replayed events.  Events keep the recording's times: umockdev writes
 * them as recorded, so the clock asked for changes nothing here (the VM
 * suite, tests/dev_vm.c, checks the kernel's monotonic stamps); the tests
 * map them onto the loop's clock.
 *
 * An unplug: umockdev's remove_device takes the node and the sysfs entry
 * away and sends the "remove" uevent, but a descriptor already open stays
 * connected to its pty.  The handler then answers reads with ENODEV, as
 * evdev does for a device gone, and a byte written to the pty wakes the
 * poll as the kernel's hangup would. */
#define _GNU_SOURCE 1
#define ASYNCKIT_IMPLEMENTATION
#include "sched.h"
#include "asyncdev.h"
#include "tests/harness.h"
#include <umockdev.h>
#include <linux/input.h>
#include <pthread.h>
#include <fcntl.h>
#include <unistd.h>

#ifndef DEV_UMOCKDEV_DATA
#define DEV_UMOCKDEV_DATA "tests/data/evdev"
#endif

#define KEY_NODE "/dev/input/event40"
#define KEY_SYS "/sys/devices/virtual/input/input40/event40"
#define DIAL_NODE "/dev/input/event41"

static UMockdevTestbed *bed;

/* ---- the evdev ioctls the fake answers ---- */

typedef struct fake_evdev {
    pthread_mutex_t lock;
    char name[64];
    int clock_id;        /* asked with EVIOCSCLOCKID; -1: never */
    int grabbed;         /* EVIOCGRAB's last value */
    int unknown;         /* requests the fake does not know */
    int gone;            /* unplugged: reads and ioctls fail with ENODEV */
    const char *node;
    UMockdevIoctlBase *handler;
} fake_evdev;

static fake_evdev key_dev, dial_dev;

static gboolean fake_on_ioctl(UMockdevIoctlBase *base, UMockdevIoctlClient *client, gpointer user)
{
    fake_evdev *d = (fake_evdev *)user;
    gulong req = umockdev_ioctl_client_get_request(client);
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client), *data = NULL;
    GError *err = NULL;
    long res = 0;
    int eno = 0;
    (void)base;
    pthread_mutex_lock(&d->lock);
    if (d->gone) {
        res = -1; eno = ENODEV;
    } else if (req == EVIOCSCLOCKID) {
        data = umockdev_ioctl_data_resolve(arg, 0, sizeof(int), &err);
        if (!data) { res = -1; eno = EFAULT; }
        else {
            int id = *(int *)data->data;
            if (id == CLOCK_REALTIME || id == CLOCK_MONOTONIC || id == CLOCK_BOOTTIME) d->clock_id = id;
            else { res = -1; eno = EINVAL; }
        }
    } else if (req == EVIOCGRAB) {
        d->grabbed = *(gulong *)arg->data != 0;      /* the value itself, not a pointer */
    } else if (_IOC_TYPE(req) == 'E' && _IOC_NR(req) == _IOC_NR(EVIOCGNAME(0)) && _IOC_DIR(req) == _IOC_READ) {
        size_t n = _IOC_SIZE(req), len = strlen(d->name) + 1;
        if (len > n) len = n;
        data = umockdev_ioctl_data_resolve(arg, 0, n, &err);
        if (!data) { res = -1; eno = EFAULT; }
        else { memcpy(data->data, d->name, len); res = (long)len; }   /* the kernel returns the bytes copied */
    } else {
        d->unknown++;
        res = -1; eno = EINVAL;
    }
    pthread_mutex_unlock(&d->lock);
    if (data) g_object_unref(data);
    if (err) g_error_free(err);
    umockdev_ioctl_client_complete(client, res, eno);
    return TRUE;
}

/* Reads go to the pty umockdev replays the events into, unless the device
 * is gone. */
static gboolean fake_on_read(UMockdevIoctlBase *base, UMockdevIoctlClient *client, gpointer user)
{
    fake_evdev *d = (fake_evdev *)user;
    int gone;
    (void)base;
    pthread_mutex_lock(&d->lock);
    gone = d->gone;
    pthread_mutex_unlock(&d->lock);
    if (!gone) return FALSE;
    umockdev_ioctl_client_complete(client, -1, ENODEV);
    return TRUE;
}

/* A device description file, its leading comment left out (umockdev's
 * parser takes none). */
static void fake_add(fake_evdev *d, const char *file, const char *node, const char *sys)
{
    char path[512], *text = NULL, *body;
    GError *err = NULL;
    gchar *name, *root;
    snprintf(path, sizeof path, "%s/%s", DEV_UMOCKDEV_DATA, file);
    if (!g_file_get_contents(path, &text, NULL, &err)) {
        printf("dev_umockdev: %s: %s\n", path, err->message);
        exit(2);
    }
    body = text;
    while (*body == '#') {
        char *nl = strchr(body, '\n');
        body = nl ? nl + 1 : body + strlen(body);
    }
    if (!umockdev_testbed_add_from_string(bed, body, &err)) {
        printf("dev_umockdev: %s: %s\n", path, err ? err->message : "?");
        exit(2);
    }
    g_free(text);
    pthread_mutex_init(&d->lock, NULL);
    d->clock_id = -1;
    d->node = node;
    root = umockdev_testbed_get_root_dir(bed);
    snprintf(path, sizeof path, "%s%s/name", root, sys);
    g_free(root);
    if (g_file_get_contents(path, &name, NULL, NULL)) {
        snprintf(d->name, sizeof d->name, "%s", g_strchomp(name));   /* sysfs ends it with a newline */
        g_free(name);
    }
    d->handler = umockdev_ioctl_base_new();
    g_signal_connect(d->handler, "handle-ioctl", G_CALLBACK(fake_on_ioctl), d);
    g_signal_connect(d->handler, "handle-read", G_CALLBACK(fake_on_read), d);
    if (!umockdev_testbed_attach_ioctl(bed, node, d->handler, &err)) {
        printf("dev_umockdev: attach_ioctl %s: %s\n", node, err ? err->message : "?");
        exit(2);
    }
}

/* Starts umockdev's replay of an evemu file into a node. */
static int play(const char *node, const char *file)
{
    char path[512];
    GError *err = NULL;
    snprintf(path, sizeof path, "%s/%s", DEV_UMOCKDEV_DATA, file);
    if (umockdev_testbed_load_evemu_events(bed, node, path, &err)) return 0;
    printf("dev_umockdev: %s: %s\n", path, err ? err->message : "?");
    if (err) g_error_free(err);
    return -1;
}

/* ---- what the tests watch ---- */

#define MAXEV 64
static adev_input_event iev[MAXEV];
static int niev, in_closed, in_status;
static schd_button *button;
static adev_encoder *encoder;
static int64_t rec_t0, mono_t0;   /* the first event's recorded time, and when it came */

static void on_input(adev_input *in, int status, const adev_input_event *ev, void *ud)
{
    (void)in; (void)ud;
    in_status = status;
    if (!ev) return;
    if (niev == 0) { rec_t0 = ev->time_ns; mono_t0 = adev_now_ns(); }
    if (niev < MAXEV) iev[niev++] = *ev;
    /* the recording's clock, moved onto the loop's */
    if (button && ev->type == ADEV_EV_KEY) schd_button_feed_at(button, ev->value != 0, mono_t0 + (ev->time_ns - rec_t0));
    if (encoder && ev->type == ADEV_EV_REL) adev_encoder_move(encoder, ev->value);
}

static void on_input_close(adev_input *in, int status, const adev_input_event *ev, void *ud)
{
    (void)in; (void)ev; (void)ud; (void)status;
    in_closed = 1;
}

static char btn_log[256];
static void on_btn(schd_button *b, int ev, void *ud)
{
    (void)b; (void)ud;
    strcat(btn_log, schd_button_event_name(ev));
    strcat(btn_log, " ");
}

static void run_loop_for(schd_loop *loop, int64_t ns)
{
    int64_t end = adev_now_ns() + ns;
    while (adev_now_ns() < end) schd_loop_run_once(loop, ADEV_MS(20));
}

static void reset_watch(void)
{
    niev = 0; in_closed = 0; in_status = 1;
    btn_log[0] = 0;
    button = NULL; encoder = NULL;
}

/* ---- the tests ---- */

/* A field of the fake, read under its lock (its handler runs on
 * umockdev's worker thread). */
static int fake_get(fake_evdev *d, const int *field)
{
    int v;
    pthread_mutex_lock(&d->lock);
    v = *field;
    pthread_mutex_unlock(&d->lock);
    return v;
}

/* What the open asked of the device (the monotonic clock, the grab or
 * not), its name as read back; then the watch, and umockdev plays the
 * events. */
static void opened_then_play(adev_input *in, fake_evdev *d, const char *name, int grab, const char *events)
{
    char got[64];
    T_EQ(fake_get(d, &d->clock_id), CLOCK_MONOTONIC);
    T_EQ(fake_get(d, &d->grabbed), grab);
    T_EQ(adev_input_name(in, got, sizeof got), 0);
    T_STREQ(got, name);
    T_EQ(adev_input_watch(in, on_input, NULL), 0);
    T_EQ(play(d->node, events), 0);
}

/* key.evemu: a press of 80 ms, then one held 700 ms.  The events come as
 * recorded, times and all, and sched.h's button makes a click of the
 * first and a long press of the second. */
static void key_round(schd_loop *loop, adev_input *in)
{
    int64_t end;
    opened_then_play(in, &key_dev, "asyncdev test key", 1, "key.evemu");
    if (t_current_failed) return;
    end = adev_now_ns() + ADEV_SEC(5);
    while (niev < 8 && adev_now_ns() < end) schd_loop_run_once(loop, ADEV_MS(20));
    run_loop_for(loop, ADEV_MS(100));        /* the last release's debounce */
    T_EQ(niev, 8);
    T_EQ(iev[0].type, ADEV_EV_KEY);
    T_EQ(iev[0].code, KEY_ENTER);
    T_EQ(iev[0].value, 1);
    T_EQ(iev[1].type, ADEV_EV_SYN);
    T_EQ(iev[1].code, ADEV_SYN_REPORT);
    T_EQ(iev[2].value, 0);
    T_EQ(iev[4].value, 1);
    T_EQ(iev[6].value, 0);
    /* the recorded seconds and microseconds, decoded */
    T_EQ(iev[0].time_ns, ADEV_SEC(1000) + ADEV_MS(100));
    T_EQ(iev[2].time_ns, ADEV_SEC(1000) + ADEV_MS(180));
    T_EQ(iev[6].time_ns, ADEV_SEC(1001) + ADEV_MS(200));
    T_EQ(in->events, 8);
    T_EQ(in->dropped, 0);
    T_STREQ(btn_log, "press release click press long release ");
    T_EQ(fake_get(&key_dev, &key_dev.unknown), 0);
}

static void test_key_recording_clicks_and_long_presses(void)
{
    schd_loop loop; schd_source src; adev_ctx ctx; adev_input in; schd_button b;
    schd_button_config cfg = schd_button_config_init();
    int opened;
    reset_watch();
    T_REQUIRE(schd_loop_init(&loop) == 0 && adev_ctx_init(&ctx) == 0);
    T_REQUIRE(adev_attach(&ctx, &loop, &src) == 0);
    cfg.double_ns = 0;
    cfg.long_ns = ADEV_MS(500);
    T_REQUIRE(schd_button_init(&b, &loop, &cfg, on_btn, NULL) == 0);
    button = &b;
    opened = adev_input_open(&in, &ctx, KEY_NODE, ADEV_INPUT_GRAB) == 0;
    if (opened) {
        key_round(&loop, &in);
        adev_input_close(&in, on_input_close, NULL);
        run_loop_for(&loop, ADEV_MS(50));
    }
    button = NULL;
    schd_button_stop(&b);
    schd_source_remove(&src);
    adev_ctx_close(&ctx);
    schd_loop_close(&loop);
    T_CHECK(opened);
    T_CHECK(in_closed);
}

/* dial.evemu: REL_DIAL by +1 +1 -1 +3 -2: the encoder ends 2 detents on. */
static void dial_round(adev_ctx *ctx, adev_input *in, adev_encoder *e)
{
    int64_t end;
    opened_then_play(in, &dial_dev, "asyncdev test dial", 0, "dial.evemu");
    if (t_current_failed) return;
    end = adev_now_ns() + ADEV_SEC(5);
    while (niev < 10 && adev_now_ns() < end) adev_run_once(ctx, ADEV_MS(20));
    T_EQ(niev, 10);
    T_EQ(e->position, 2);
    T_EQ(e->errors, 0);
    T_EQ(iev[6].type, ADEV_EV_REL);
    T_EQ(iev[6].code, REL_DIAL);
    T_EQ(iev[6].value, 3);
    T_EQ(iev[8].value, -2);
    T_EQ(iev[8].time_ns, ADEV_SEC(2000) + ADEV_MS(180));
}

static void test_dial_recording_moves_the_encoder(void)
{
    adev_ctx ctx; adev_input in; adev_encoder e;
    int64_t end;
    int opened;
    reset_watch();
    T_REQUIRE(adev_ctx_init(&ctx) == 0);
    adev_encoder_init(&e, 4, 0, 0);
    encoder = &e;
    opened = adev_input_open(&in, &ctx, DIAL_NODE, 0) == 0;
    if (opened) {
        dial_round(&ctx, &in, &e);
        encoder = NULL;
        adev_input_close(&in, on_input_close, NULL);
        end = adev_now_ns() + ADEV_SEC(1);
        while (!in_closed && adev_now_ns() < end) adev_run_once(&ctx, ADEV_MS(20));
    }
    encoder = NULL;
    adev_ctx_close(&ctx);
    T_CHECK(opened);
    T_CHECK(in_closed);
}

/* The key device unplugged while watched: the watch ends with -ENODEV,
 * once; the close still comes; the node is gone for a new open. */
static void unplug_round(adev_ctx *ctx, adev_input *in)
{
    int64_t end;
    int fd, calls_after;
    T_EQ(adev_input_watch(in, on_input, NULL), 0);
    adev_run_once(ctx, ADEV_MS(20));
    T_EQ(in_status, 1);                              /* nothing yet */
    pthread_mutex_lock(&key_dev.lock);
    key_dev.gone = 1;
    pthread_mutex_unlock(&key_dev.lock);
    umockdev_testbed_remove_device(bed, KEY_SYS);
    fd = umockdev_testbed_get_dev_fd(bed, KEY_NODE);
    T_CHECK(fd >= 0 && write(fd, "", 1) == 1);       /* the hangup's wake-up */
    end = adev_now_ns() + ADEV_SEC(2);
    while (in_status == 1 && adev_now_ns() < end) adev_run_once(ctx, ADEV_MS(20));
    T_EQ(in_status, -ENODEV);
    T_EQ(niev, 0);
    in_status = 1;
    adev_run_once(ctx, ADEV_MS(50));
    calls_after = in_status != 1;
    T_EQ(calls_after, 0);                            /* once */
}

static void test_unplugged_device_ends_the_watch(void)
{
    adev_ctx ctx; adev_input in, again;
    int64_t end;
    int opened, closed_first, reopen;
    reset_watch();
    T_REQUIRE(adev_ctx_init(&ctx) == 0);
    opened = adev_input_open(&in, &ctx, KEY_NODE, 0) == 0;
    if (opened) {
        unplug_round(&ctx, &in);
        adev_input_close(&in, on_input_close, NULL);
        end = adev_now_ns() + ADEV_SEC(1);
        while (!in_closed && adev_now_ns() < end) adev_run_once(&ctx, ADEV_MS(20));
    }
    closed_first = in_closed;
    reopen = adev_input_open(&again, &ctx, KEY_NODE, 0);   /* the node is gone */
    if (reopen == 0) {
        in_closed = 0;
        adev_input_close(&again, on_input_close, NULL);
        end = adev_now_ns() + ADEV_SEC(1);
        while (!in_closed && adev_now_ns() < end) adev_run_once(&ctx, ADEV_MS(20));
    }
    adev_ctx_close(&ctx);
    T_CHECK(opened);
    T_CHECK(closed_first);
    T_EQ(reopen, -ENOENT);
}

int main(void)
{
    t_suite("dev_umockdev");
    bed = umockdev_testbed_new();
    if (!getenv("LD_PRELOAD") || !strstr(getenv("LD_PRELOAD"), "umockdev")) {
        printf("dev_umockdev: run me under umockdev-wrapper\n");
        return 2;
    }
    fake_add(&key_dev, "key.umockdev", KEY_NODE, "/sys/devices/virtual/input/input40");
    fake_add(&dial_dev, "dial.umockdev", DIAL_NODE, "/sys/devices/virtual/input/input41");
    T_RUN(test_key_recording_clicks_and_long_presses);
    T_RUN(test_dial_recording_moves_the_encoder);
    T_RUN(test_unplugged_device_ends_the_watch);       /* last: the key device goes */
    umockdev_testbed_detach_ioctl(bed, DIAL_NODE, NULL);
    umockdev_testbed_detach_ioctl(bed, KEY_NODE, NULL);
    g_object_unref(key_dev.handler);
    g_object_unref(dial_dev.handler);
    g_object_unref(bed);
    return t_done();
}
