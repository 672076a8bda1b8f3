/* tools/ffsdev.c - the project's own USB devices as real gadgets: a USB
 * function written in user space through the kernel's FunctionFS, in a
 * gadget it makes through configfs, so that a real host controller (the
 * test VM's dummy_hcd, or a board's device port) enumerates it.  It talks
 * to the kernel only (no libusb, no libc beyond POSIX and Linux calls) and
 * links statically.
 *
 *   cc -std=c99 -O2 -static -iquote . -o build/ffsdev tools/ffsdev.c -lpthread
 *
 *   ffsdev [--udc UDC] [--name NAME] [--fail OP[=CODE]] camera|test
 *   ffsdev --ffs DIR [--fail OP[=CODE]] camera|test
 *
 * Without --ffs it makes the gadget /sys/kernel/config/usb_gadget/NAME
 * (NAME defaults to the device's name) with one function ffs.NAME, mounts
 * that at /dev/ffs-NAME, writes the function's descriptors, binds the
 * gadget to UDC (default: the first in /sys/class/udc), prints one line
 * "ffsdev: NAME ready on UDC" and serves until SIGTERM or SIGINT, after
 * which it unbinds and removes what it made.  With --ffs it serves a
 * FunctionFS instance someone else mounted at DIR and bound.
 *
 * camera  the PTP camera of tools/ptpcam.h (1209:0001), which tools/fakecam.c
 *         serves under umockdev: same logic, another transport.  --fail OP
 *         makes operation OP answer CODE (hex; default 2002), as there.
 *         Containers of a multiple of 512 bytes end with a zero length
 *         packet (the packet size at high speed, dummy_hcd's default).
 * test    a device for the error paths of a host library (1209:0002),
 *         vendor interface ff/00/00 with four endpoints, found by type and
 *         direction (the controller picks their numbers): bulk IN (1),
 *         bulk OUT (2), interrupt IN (3, 64 bytes), interrupt OUT (4).
 *         Each transfer on bulk OUT comes back on bulk IN, each on
 *         interrupt OUT on interrupt IN (send lengths that are not a
 *         multiple of the packet size, or a zero length packet, so the
 *         device sees where a transfer ends).  Vendor requests to the
 *         interface (bmRequestType 0x41 out, 0xc1 in):
 *           0x01 OUT  keep the data stage (up to 256 bytes)
 *           0x02 IN   give it back
 *           0x03 OUT  halt endpoint wValue (1..4, as above); what it had
 *                     queued to send is dropped
 *           0x04 OUT  answer every later IN (echo, ticks, request 0x02)
 *                     wValue ms late
 *           0x06 OUT  send wValue reports on interrupt IN (after what is
 *                     queued there): 8 bytes each, the sequence number
 *                     and the count (LE32)
 *           0x07 OUT  drop what is queued or in flight to the host, no
 *                     delay
 *         Anything else stalls.  A read of an IN endpoint with nothing
 *         queued is simply not answered: that is how a host meets a
 *         timeout, and how it keeps URBs in flight to cancel.
 */
#define _GNU_SOURCE 1
#include "ptpcam.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/aio_abi.h>
#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>

enum { MAX_EPS = 4, EP_BUF = 16384, MAX_EVENTS = 16 };

typedef struct ffs_ep {
    int fd, in;
    int busy;                     /* 0 idle, 1 data in flight, 2 its zero length packet */
    int zlp;                      /* the data in flight ends with a zero length packet */
    int64_t due;                  /* IN: something waits to be sent at this time (0: no) */
    struct iocb cb;
    unsigned char buf[EP_BUF];
} ffs_ep;

typedef struct dev dev;

/* What a device is; the engine below carries its bytes. */
typedef struct personality {
    const char *name;
    size_t (*descriptors)(unsigned char *out);   /* device and one configuration */
    const char *const *strings;                  /* by index; 4: the interface's */
    void (*reset)(dev *d);                       /* (re)configured or gone: start over */
    /* A control request to the interface.  IN: fill data (wLength bytes at
     * most) and return the length; OUT: return 0 to take the data stage.
     * -1 stalls.  *delay_ms makes an IN answer late. */
    int (*setup)(dev *d, const struct usb_ctrlrequest *r, unsigned char *data, int *delay_ms);
    void (*control_out)(dev *d, const struct usb_ctrlrequest *r, const unsigned char *data, int n);
    void (*out)(dev *d, int ep, const unsigned char *b, size_t n);
    /* The next transfer for IN endpoint ep: copied to buf, its length (-1:
     * none); *zlp asks for a zero length packet after it, *due_ns for the
     * earliest time to send it. */
    long (*in_next)(dev *d, int ep, unsigned char *buf, size_t cap, int *zlp, int64_t *due_ns);
    void (*in_done)(dev *d, int ep);             /* that transfer has gone */
} personality;

struct dev {
    const personality *p;
    pthread_mutex_t lock;         /* everything below and the personality's state */
    int ep0, nep, enabled;
    ffs_ep ep[MAX_EPS + 1];       /* 1..nep, in the order of the descriptors */
    aio_context_t aio;
    int aio_fd, wake_fd;
    volatile int quit, ep0_done;
    pthread_t ep0_thread;
    char gadget[200], ffs_dir[200], udc[256], name[64];
    int made;                     /* what of the gadget we made: for the teardown */
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void put16(unsigned char *p, unsigned v) { p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; }
static void put32(unsigned char *p, uint32_t v) { put16(p, v & 0xffff); put16(p + 2, v >> 16); }

/* ---- kernel AIO on the endpoint files (raw system calls) ---- */

static int kaio_setup(unsigned n, aio_context_t *ctx) { return (int)syscall(SYS_io_setup, n, ctx); }
static int kaio_submit(aio_context_t ctx, struct iocb *cb) { return (int)syscall(SYS_io_submit, ctx, 1L, &cb); }
static void kaio_cancel(aio_context_t ctx, struct iocb *cb)
{
    struct io_event ev;
    (void)syscall(SYS_io_cancel, ctx, cb, &ev);
}
static int kaio_reap(aio_context_t ctx, struct io_event *ev, int n)
{
    struct timespec zero = {0, 0};
    return (int)syscall(SYS_io_getevents, ctx, 0L, (long)n, ev, &zero);
}

static void wake(dev *d)
{
    uint64_t one = 1;
    if (write(d->wake_fd, &one, sizeof one) < 0) {}
}

/* Starts a transfer of n bytes on endpoint i; busy: what it is (1 data, 2
 * a zero length packet).  EAGAIN: the function is not enabled (yet, or any
 * more), and ENABLE kicks again. */
static void ep_submit(dev *d, int i, size_t n, int busy)
{
    ffs_ep *e = &d->ep[i];
    memset(&e->cb, 0, sizeof e->cb);
    e->cb.aio_data = (uint64_t)i;
    e->cb.aio_fildes = (uint32_t)e->fd;
    e->cb.aio_lio_opcode = e->in ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
    e->cb.aio_buf = (uint64_t)(uintptr_t)e->buf;
    e->cb.aio_nbytes = n;
    e->cb.aio_flags = IOCB_FLAG_RESFD;
    e->cb.aio_resfd = (uint32_t)d->aio_fd;
    if (kaio_submit(d->aio, &e->cb) == 1) e->busy = busy;
    else if (errno != EAGAIN) fprintf(stderr, "ffsdev: io_submit on ep%d: %s\n", i, strerror(errno));
}

/* Starts what endpoint i can do now: a read on OUT, the next transfer on IN. */
static void kick(dev *d, int i)
{
    ffs_ep *e = &d->ep[i];
    long n;
    int64_t due = 0;
    if (!d->enabled || e->busy || e->fd < 0) return;
    if (!e->in) { ep_submit(d, i, EP_BUF, 1); return; }
    e->zlp = 0;
    n = d->p->in_next(d, i, e->buf, EP_BUF, &e->zlp, &due);
    e->due = 0;
    if (n < 0) return;
    if (due > now_ns()) { e->due = due; wake(d); return; }
    ep_submit(d, i, (size_t)n, 1);
}

static void kick_all(dev *d)
{
    int i;
    for (i = 1; i <= d->nep; i++) kick(d, i);
}

/* Called with the lock held, from either thread. */
static void cancel_all(dev *d)
{
    int i;
    for (i = 1; i <= d->nep; i++)
        if (d->ep[i].busy) kaio_cancel(d->aio, &d->ep[i].cb);
}

/* Takes back what the IN endpoints have in flight (the personality has
 * dropped it). */
static void cancel_in(dev *d)
{
    int i;
    for (i = 1; i <= d->nep; i++)
        if (d->ep[i].in && d->ep[i].busy) kaio_cancel(d->aio, &d->ep[i].cb);
}

/* Halts endpoint i: I/O in the wrong direction on its file does that. */
static void ffs_halt(dev *d, int i)
{
    ffs_ep *e = &d->ep[i];
    unsigned char b = 0;
    int tries;
    if (i < 1 || i > d->nep) return;
    if (e->busy) kaio_cancel(d->aio, &e->cb);   /* a controller halts no IN endpoint with a queue */
    for (tries = 0; tries < 100; tries++) {
        ssize_t r = e->in ? read(e->fd, &b, 1) : write(e->fd, &b, 1);
        if (r < 0 && errno == EAGAIN) { usleep(1000); continue; }
        break;
    }
}

/* AIO completions (main thread). */
static void reap(dev *d)
{
    struct io_event ev[MAX_EVENTS];
    uint64_t count;
    int n, k;
    if (read(d->aio_fd, &count, sizeof count) < 0) {}
    pthread_mutex_lock(&d->lock);
    while ((n = kaio_reap(d->aio, ev, MAX_EVENTS)) > 0) {
        for (k = 0; k < n; k++) {
            int i = (int)ev[k].data;
            ffs_ep *e = &d->ep[i];
            long res = (long)ev[k].res;
            int was = e->busy;
            e->busy = 0;
            if (!e->in) {
                if (res > 0 && d->enabled) d->p->out(d, i, e->buf, (size_t)res);
                kick_all(d);
            } else if (res >= 0 && was == 1 && e->zlp) {
                ep_submit(d, i, 0, 2);
            } else {
                if (res >= 0) d->p->in_done(d, i);
                kick(d, i);
            }
        }
    }
    pthread_mutex_unlock(&d->lock);
}

/* ---- ep0: events and control requests (its own thread, since an answer
 * may wait for a host that has gone) ---- */

static void answer_setup(dev *d, const struct usb_ctrlrequest *r)
{
    unsigned char data[4096];
    unsigned len = r->wLength < sizeof data ? r->wLength : (unsigned)sizeof data;
    int delay_ms = 0, n;
    pthread_mutex_lock(&d->lock);
    n = d->p->setup(d, r, data, &delay_ms);
    pthread_mutex_unlock(&d->lock);
    if (r->bRequestType & USB_DIR_IN) {
        if (n < 0) { if (read(d->ep0, data, 0) < 0) {} return; }   /* the wrong direction stalls */
        if (delay_ms > 0) {
            struct timespec ts = {delay_ms / 1000, (long)(delay_ms % 1000) * 1000000};
            nanosleep(&ts, NULL);
        }
        if (write(d->ep0, data, (size_t)n < len ? (size_t)n : len) < 0) {}  /* the host may have gone */
    } else if (n < 0) {
        if (write(d->ep0, data, 0) < 0) {}
    } else {
        ssize_t got = read(d->ep0, data, len);
        if (got >= 0 && d->p->control_out) {
            pthread_mutex_lock(&d->lock);
            d->p->control_out(d, r, data, (int)got);
            pthread_mutex_unlock(&d->lock);
        }
    }
}

static void *ep0_loop(void *arg)
{
    dev *d = (dev *)arg;
    struct usb_functionfs_event ev[4];
    while (!d->quit) {
        ssize_t n = read(d->ep0, ev, sizeof ev);
        int k;
        if (n < 0) {
            if (errno == EINTR || errno == EIDRM || errno == EAGAIN) continue;
            if (!d->quit) fprintf(stderr, "ffsdev: reading ep0: %s\n", strerror(errno));
            break;
        }
        for (k = 0; k < (int)(n / (ssize_t)sizeof ev[0]); k++) {
            switch (ev[k].type) {
            case FUNCTIONFS_ENABLE:
                pthread_mutex_lock(&d->lock);
                d->enabled = 1;
                d->p->reset(d);
                kick_all(d);
                pthread_mutex_unlock(&d->lock);
                break;
            case FUNCTIONFS_DISABLE:
            case FUNCTIONFS_UNBIND:
                pthread_mutex_lock(&d->lock);
                d->enabled = 0;
                cancel_all(d);
                d->p->reset(d);
                pthread_mutex_unlock(&d->lock);
                break;
            case FUNCTIONFS_SETUP:
                answer_setup(d, &ev[k].u.setup);
                break;
            default:
                break;
            }
        }
    }
    d->ep0_done = 1;
    return NULL;
}

/* ---- the function's descriptors and strings, from the personality's ---- */

/* The interface and endpoints of desc (a device and configuration
 * descriptor set) at full speed (fs) or high speed, into out: FunctionFS
 * wants both.  Returns the descriptor count. */
static int function_descs(const unsigned char *desc, size_t len, int fs, unsigned char *out, size_t *n)
{
    size_t off = 18 + 9;
    int count = 0;
    while (off + 2 <= len && desc[off] >= 2 && off + desc[off] <= len) {
        unsigned char *o = out + *n;
        memcpy(o, desc + off, desc[off]);
        if (o[1] == USB_DT_INTERFACE && o[8]) o[8] = 1;   /* the function's own string 1 */
        if (o[1] == USB_DT_ENDPOINT && fs) {
            unsigned mps = o[4] | (o[5] << 8);
            if ((o[3] & 3) == USB_ENDPOINT_XFER_BULK) mps = 64;
            if ((o[3] & 3) == USB_ENDPOINT_XFER_INT) {
                unsigned frames = o[6] ? (1u << (o[6] - 1)) / 8 : 1;   /* microframes to frames */
                if (mps > 64) mps = 64;
                o[6] = (unsigned char)(frames ? (frames > 255 ? 255 : frames) : 1);
            }
            put16(o + 4, mps);
        }
        *n += desc[off];
        off += desc[off];
        count++;
    }
    return count;
}

static int write_descriptors(dev *d)
{
    unsigned char desc[512], blob[1024], str[256];
    size_t len = d->p->descriptors(desc), n = 20, sl;
    const char *iface = d->p->strings[4];
    int fs, hs, i;
    fs = function_descs(desc, len, 1, blob, &n);
    hs = function_descs(desc, len, 0, blob, &n);
    put32(blob, FUNCTIONFS_DESCRIPTORS_MAGIC_V2);
    put32(blob + 4, (uint32_t)n);
    put32(blob + 8, FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC);
    put32(blob + 12, (uint32_t)fs);
    put32(blob + 16, (uint32_t)hs);
    if (write(d->ep0, blob, n) != (ssize_t)n) return -1;
    sl = strlen(iface) + 1;
    put32(str, FUNCTIONFS_STRINGS_MAGIC);
    put32(str + 4, (uint32_t)(16 + 2 + sl));
    put32(str + 8, 1);                      /* strings */
    put32(str + 12, 1);                     /* languages */
    put16(str + 16, 0x0409);
    memcpy(str + 18, iface, sl);
    if (write(d->ep0, str, 18 + sl) != (ssize_t)(18 + sl)) return -1;
    /* the endpoint files exist now: one per endpoint, in descriptor order */
    d->nep = 0;
    for (i = 1; i <= MAX_EPS; i++) {
        char path[260];
        snprintf(path, sizeof path, "%s/ep%d", d->ffs_dir, i);
        d->ep[i].fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (d->ep[i].fd < 0) break;
        d->nep = i;
    }
    /* directions, in the same order */
    for (i = 1, n = 18 + 9; n + 2 <= len && i <= d->nep; n += desc[n])
        if (desc[n + 1] == USB_DT_ENDPOINT) d->ep[i++].in = (desc[n + 2] & USB_DIR_IN) != 0;
    return d->nep > 0 ? 0 : -1;
}

/* ---- the gadget in configfs ---- */

#define GADGETS "/sys/kernel/config/usb_gadget"

static int putf(const char *dir, const char *file, const char *fmt, ...)
{
    char path[400], text[128];
    va_list ap;
    int fd, ok;
    size_t n;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0) return -1;
    n = strlen(text);
    ok = write(fd, text, n ? n : 1) >= 0;   /* an empty write still needs a byte: "\n" */
    close(fd);
    return ok ? 0 : -1;
}

static int mkdirf(const char *fmt, const char *a, const char *b)
{
    char path[400];
    snprintf(path, sizeof path, fmt, a, b);
    return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static void rmdirf(const char *fmt, const char *a, const char *b)
{
    char path[400];
    snprintf(path, sizeof path, fmt, a, b);
    if (rmdir(path) < 0) {}
}

static void first_udc(char *out, size_t cap)
{
    DIR *dir = opendir("/sys/class/udc");
    struct dirent *e;
    out[0] = 0;
    if (!dir) return;
    while ((e = readdir(dir)) != NULL)
        if (e->d_name[0] != '.' && (!out[0] || strcmp(e->d_name, out) < 0)) snprintf(out, cap, "%s", e->d_name);
    closedir(dir);
}

static int make_gadget(dev *d)
{
    unsigned char desc[512];
    const char *const *s = d->p->strings;
    const char *g = d->gadget;
    char link[400], target[400];
    d->p->descriptors(desc);
    if (mkdir(GADGETS, 0755) < 0 && errno != EEXIST) {}
    if (access(GADGETS, F_OK) < 0 && mount("none", "/sys/kernel/config", "configfs", 0, NULL) < 0) {
        fprintf(stderr, "ffsdev: no configfs at /sys/kernel/config (modprobe libcomposite): %s\n", strerror(errno));
        return -1;
    }
    if (mkdirf("%s%s", g, "") < 0) { fprintf(stderr, "ffsdev: mkdir %s: %s\n", g, strerror(errno)); return -1; }
    d->made = 1;
    putf(g, "idVendor", "0x%04x", desc[8] | (desc[9] << 8));
    putf(g, "idProduct", "0x%04x", desc[10] | (desc[11] << 8));
    putf(g, "bcdDevice", "0x%04x", desc[12] | (desc[13] << 8));
    putf(g, "bcdUSB", "0x%04x", desc[2] | (desc[3] << 8));
    putf(g, "bDeviceClass", "%u", desc[4]);
    putf(g, "bDeviceSubClass", "%u", desc[5]);
    putf(g, "bDeviceProtocol", "%u", desc[6]);
    putf(g, "bMaxPacketSize0", "%u", desc[7]);
    mkdirf("%s/strings/0x409%s", g, "");
    snprintf(target, sizeof target, "%s/strings/0x409", g);
    if (desc[14]) putf(target, "manufacturer", "%s", s[desc[14]]);
    if (desc[15]) putf(target, "product", "%s", s[desc[15]]);
    if (desc[16]) putf(target, "serialnumber", "%s", s[desc[16]]);
    mkdirf("%s/configs/c.1%s", g, "");
    snprintf(target, sizeof target, "%s/configs/c.1", g);
    putf(target, "bmAttributes", "0x%02x", desc[18 + 7]);
    putf(target, "MaxPower", "%u", desc[18 + 8] * 2);
    if (mkdirf("%s/functions/ffs.%s", g, d->name) < 0) {
        fprintf(stderr, "ffsdev: cannot make function ffs.%s (modprobe usb_f_fs): %s\n", d->name, strerror(errno));
        return -1;
    }
    d->made = 2;
    snprintf(target, sizeof target, "%s/functions/ffs.%s", g, d->name);
    snprintf(link, sizeof link, "%s/configs/c.1/ffs.%s", g, d->name);
    if (symlink(target, link) < 0 && errno != EEXIST) return -1;
    d->made = 3;
    snprintf(d->ffs_dir, sizeof d->ffs_dir, "/dev/ffs-%s", d->name);
    if (mkdir(d->ffs_dir, 0755) < 0 && errno != EEXIST) return -1;
    if (mount(d->name, d->ffs_dir, "functionfs", 0, NULL) < 0) {
        fprintf(stderr, "ffsdev: mount functionfs %s: %s\n", d->name, strerror(errno));
        return -1;
    }
    d->made = 4;
    return 0;
}

static void unmake_gadget(dev *d)
{
    const char *g = d->gadget;
    char path[400];
    if (d->made >= 5) putf(g, "UDC", "\n");
    if (d->made >= 4) { umount2(d->ffs_dir, MNT_DETACH); rmdir(d->ffs_dir); }
    if (d->made >= 3) { snprintf(path, sizeof path, "%s/configs/c.1/ffs.%s", g, d->name); unlink(path); }
    if (d->made >= 2) rmdirf("%s/functions/ffs.%s", g, d->name);
    if (d->made >= 1) {
        rmdirf("%s/configs/c.1%s", g, "");
        rmdirf("%s/strings/0x409%s", g, "");
        rmdirf("%s%s", g, "");
    }
}

/* ---- the camera: tools/ptpcam.h on bulk IN 1, bulk OUT 2, interrupt IN 3 ---- */

static cam camera;

static void cam_p_reset(dev *d) { (void)d; cam_reset(&camera); camera.session = 0; }

static int cam_p_setup(dev *d, const struct usb_ctrlrequest *r, unsigned char *data, int *delay_ms)
{
    (void)d; (void)delay_ms;
    if ((r->bRequestType & USB_TYPE_MASK) != USB_TYPE_CLASS) return -1;
    return cam_class_request(&camera, r->bRequestType, r->bRequest, data, r->wLength < 4096 ? r->wLength : 4096);
}

static void cam_p_out(dev *d, int ep, const unsigned char *b, size_t n)
{
    (void)d;
    if (ep == 2) cam_bulk_out(&camera, b, n);
}

static long cam_p_in_next(dev *d, int ep, unsigned char *buf, size_t cap, int *zlp, int64_t *due)
{
    cam_xfer *x = cam_in_front(&camera);
    (void)d; (void)due;
    if (ep != 1 || !x || x->len > cap) return -1;    /* interrupt IN: no events, ever */
    memcpy(buf, camera.q + x->off, x->len);
    *zlp = x->zlp;
    return (long)x->len;
}

static void cam_p_in_done(dev *d, int ep) { (void)d; if (ep == 1) cam_in_pop(&camera); }

static const personality camera_personality = {
    "camera", fakecam_descriptors, cam_strings, cam_p_reset, cam_p_setup, NULL,
    cam_p_out, cam_p_in_next, cam_p_in_done
};

/* ---- the test device ---- */

enum { T_BULK_IN = 1, T_BULK_OUT = 2, T_INT_IN = 3, T_INT_OUT = 4, T_SLOTS = 8 };
enum { T_KEEP = 1, T_GIVE = 2, T_HALT = 3, T_DELAY = 4, T_TICKS = 6, T_RESET = 7 };

typedef struct t_slot { size_t n; int64_t due; unsigned char b[EP_BUF]; } t_slot;
/* A queue per IN endpoint; what does not fit is dropped (a test device). */
typedef struct t_queue { t_slot s[T_SLOTS]; int head, count; } t_queue;

static struct {
    t_queue q[2];                 /* bulk IN, interrupt IN */
    unsigned char ctl[256];
    int ctl_len, delay_ms;
    unsigned ticks, tick;         /* reports asked for, and the next one */
    int sending_tick;             /* interrupt IN carries a report, not an echo */
} tdev;

static const char *const test_strings[5] = {
    NULL, "AsyncKit", "Test Device", "AK-TEST-0001", "Bulk and interrupt test function"
};

static size_t test_descriptors(unsigned char *o)
{
    static const unsigned char b[] = {
        18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x09, 0x12, 0x02, 0x00, 0x00, 0x01, 1, 2, 3, 1,
        9, 2, 46, 0, 1, 1, 0, 0x80, 50,                     /* bus powered, 100 mA */
        9, 4, 0, 0, 4, 0xff, 0x00, 0x00, 4,                 /* vendor */
        7, 5, 0x81, 2, 0x00, 0x02, 0,
        7, 5, 0x02, 2, 0x00, 0x02, 0,
        7, 5, 0x83, 3, 0x40, 0x00, 4,                       /* 64 bytes every 1 ms */
        7, 5, 0x04, 3, 0x40, 0x00, 4,
    };
    memcpy(o, b, sizeof b);
    return sizeof b;
}

static t_queue *t_queue_of(int ep) { return ep == T_BULK_IN ? &tdev.q[0] : ep == T_INT_IN ? &tdev.q[1] : NULL; }

static void t_push(int ep, const unsigned char *b, size_t n)
{
    t_queue *q = t_queue_of(ep);
    t_slot *s;
    if (!q || q->count == T_SLOTS || n > EP_BUF) return;
    s = &q->s[(q->head + q->count++) % T_SLOTS];
    memcpy(s->b, b, n);
    s->n = n;
    s->due = tdev.delay_ms ? now_ns() + (int64_t)tdev.delay_ms * 1000000 : 0;
}

static void t_reset(dev *d)
{
    (void)d;
    tdev.q[0].count = tdev.q[1].count = 0;
    tdev.delay_ms = 0;
    tdev.ticks = tdev.tick = 0;
}

static int t_setup(dev *d, const struct usb_ctrlrequest *r, unsigned char *data, int *delay_ms)
{
    unsigned v = r->wValue;
    if ((r->bRequestType & USB_TYPE_MASK) != USB_TYPE_VENDOR) return -1;
    if (r->bRequestType & USB_DIR_IN) {
        if (r->bRequest != T_GIVE) return -1;
        memcpy(data, tdev.ctl, (size_t)tdev.ctl_len);
        *delay_ms = tdev.delay_ms;
        return tdev.ctl_len;
    }
    switch (r->bRequest) {
    case T_KEEP: return r->wLength <= sizeof tdev.ctl ? 0 : -1;
    case T_HALT:
        if (v < 1 || (int)v > d->nep) return -1;
        if (t_queue_of((int)v)) t_queue_of((int)v)->count = 0;
        ffs_halt(d, (int)v);
        return 0;
    case T_DELAY: tdev.delay_ms = (int)v; return 0;
    case T_TICKS:
        tdev.ticks = v;
        tdev.tick = 0;
        kick(d, T_INT_IN);
        return 0;
    case T_RESET: t_reset(d); tdev.ctl_len = 0; cancel_in(d); return 0;
    default: return -1;
    }
}

static void t_control_out(dev *d, const struct usb_ctrlrequest *r, const unsigned char *data, int n)
{
    (void)d;
    if (r->bRequest == T_KEEP && n <= (int)sizeof tdev.ctl) { memcpy(tdev.ctl, data, (size_t)n); tdev.ctl_len = n; }
}

static void t_out(dev *d, int ep, const unsigned char *b, size_t n)
{
    (void)d;
    t_push(ep == T_BULK_OUT ? T_BULK_IN : T_INT_IN, b, n);
}

static long t_in_next(dev *d, int ep, unsigned char *buf, size_t cap, int *zlp, int64_t *due)
{
    t_queue *q = t_queue_of(ep);
    t_slot *s;
    (void)d; (void)zlp;
    if (ep == T_INT_IN) tdev.sending_tick = !q->count && tdev.tick < tdev.ticks;
    if (tdev.sending_tick && ep == T_INT_IN) {
        put32(buf, tdev.tick);
        put32(buf + 4, tdev.ticks);
        *due = tdev.delay_ms ? now_ns() + (int64_t)tdev.delay_ms * 1000000 : 0;
        return 8;
    }
    if (!q || !q->count) return -1;
    s = &q->s[q->head];
    if (s->n > cap) return -1;
    memcpy(buf, s->b, s->n);
    *due = s->due;
    return (long)s->n;
}

static void t_in_done(dev *d, int ep)
{
    t_queue *q = t_queue_of(ep);
    (void)d;
    if (ep == T_INT_IN && tdev.sending_tick) { tdev.tick++; tdev.sending_tick = 0; return; }
    if (q && q->count) { q->head = (q->head + 1) % T_SLOTS; q->count--; }
}

static const personality test_personality = {
    "test", test_descriptors, test_strings, t_reset, t_setup, t_control_out,
    t_out, t_in_next, t_in_done
};

/* ---- the runner ---- */

static int usage(const char *why, const char *arg)
{
    if (why) fprintf(stderr, "ffsdev: %s: '%s'\n", why, arg);
    fprintf(stderr, "usage: ffsdev [--udc UDC] [--name NAME] [--ffs DIR] [--fail OP[=CODE]] camera|test\n");
    return 2;
}

static int parse_fail(const char *arg)
{
    char *end;
    unsigned long op = strtoul(arg, &end, 16), code = CAM_RC_GENERAL_ERROR;
    if (end == arg || op == 0 || op > 0xffff) return -1;
    if (*end == '=') {
        const char *c = end + 1;
        code = strtoul(c, &end, 16);
        if (end == c || code > 0xffff) return -1;
    }
    if (*end) return -1;
    camera.fail_op = (unsigned)op;
    camera.fail_code = (unsigned)code;
    return 0;
}

/* The main thread: AIO completions, due IN transfers, signals. */
static void serve(dev *d, int sig_fd)
{
    while (!d->quit) {
        struct pollfd pf[3] = {{d->aio_fd, POLLIN, 0}, {d->wake_fd, POLLIN, 0}, {sig_fd, POLLIN, 0}};
        int64_t next = 0, now;
        int i, timeout = -1;
        pthread_mutex_lock(&d->lock);
        for (i = 1; i <= d->nep; i++)
            if (d->ep[i].due && (!next || d->ep[i].due < next)) next = d->ep[i].due;
        pthread_mutex_unlock(&d->lock);
        if (next) {
            now = now_ns();
            timeout = next <= now ? 0 : (int)((next - now + 999999) / 1000000);
        }
        if (poll(pf, 3, timeout) < 0 && errno != EINTR) break;
        if (pf[2].revents) d->quit = 1;
        if (pf[1].revents) {
            uint64_t v;
            if (read(d->wake_fd, &v, sizeof v) < 0) {}
        }
        if (pf[0].revents) reap(d);
        pthread_mutex_lock(&d->lock);
        now = now_ns();
        for (i = 1; i <= d->nep; i++)
            if (d->ep[i].due && d->ep[i].due <= now) kick(d, i);
        pthread_mutex_unlock(&d->lock);
    }
}

static void on_usr1(int sig) { (void)sig; }

static dev device;

int main(int argc, char **argv)
{
    dev *d = &device;
    const char *udc = NULL, *name = NULL, *ffs = NULL;
    char path[400];
    sigset_t sigs;
    struct sigaction sa;
    int i, sig_fd, status = 1;
    for (i = 1; i < argc - 1; i += 2) {
        if (strcmp(argv[i], "--udc") == 0) udc = argv[i + 1];
        else if (strcmp(argv[i], "--name") == 0) name = argv[i + 1];
        else if (strcmp(argv[i], "--ffs") == 0) ffs = argv[i + 1];
        else if (strcmp(argv[i], "--fail") == 0) { if (parse_fail(argv[i + 1]) < 0) return usage("--fail wants OP[=CODE] in hex", argv[i + 1]); }
        else return usage("unknown option", argv[i]);
    }
    if (i != argc - 1) return usage(NULL, NULL);
    if (strcmp(argv[i], "camera") == 0) d->p = &camera_personality;
    else if (strcmp(argv[i], "test") == 0) d->p = &test_personality;
    else return usage("no such device", argv[i]);
    snprintf(d->name, sizeof d->name, "%s", name ? name : d->p->name);
    snprintf(d->gadget, sizeof d->gadget, GADGETS "/%s", d->name);
    for (i = 0; i <= MAX_EPS; i++) d->ep[i].fd = -1;
    pthread_mutex_init(&d->lock, NULL);

    /* SIGTERM and SIGINT end the serving loop; SIGUSR1 wakes ep0's thread */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);

    if (ffs) snprintf(d->ffs_dir, sizeof d->ffs_dir, "%s", ffs);
    else if (make_gadget(d) < 0) goto out;
    snprintf(path, sizeof path, "%.200s/ep0", d->ffs_dir);
    if ((d->ep0 = open(path, O_RDWR | O_CLOEXEC)) < 0) { fprintf(stderr, "ffsdev: %s: %s\n", path, strerror(errno)); goto out; }
    if (write_descriptors(d) < 0) { fprintf(stderr, "ffsdev: FunctionFS refused the descriptors: %s\n", strerror(errno)); goto out; }
    d->aio_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->aio_fd < 0 || d->wake_fd < 0 || sig_fd < 0 || kaio_setup(64, &d->aio) < 0) {
        fprintf(stderr, "ffsdev: eventfd, signalfd or io_setup: %s\n", strerror(errno));
        goto out;
    }
    if (pthread_create(&d->ep0_thread, NULL, ep0_loop, d) != 0) goto out;
    if (!ffs) {
        if (udc) snprintf(d->udc, sizeof d->udc, "%s", udc);
        else first_udc(d->udc, sizeof d->udc);
        if (!d->udc[0] || putf(d->gadget, "UDC", "%s", d->udc) < 0) {
            fprintf(stderr, "ffsdev: cannot bind to UDC '%s': %s\n", d->udc, strerror(errno));
            d->quit = 1;
        } else {
            d->made = 5;
        }
    }
    if (!d->quit) {
        printf("ffsdev: %s ready on %s\n", d->name, ffs ? d->ffs_dir : d->udc);
        fflush(stdout);
        serve(d, sig_fd);
        status = 0;
    }
    if (d->made >= 5) { putf(d->gadget, "UDC", "\n"); d->made = 4; }
    d->quit = 1;
    while (!d->ep0_done) {          /* until the signal finds it inside its read */
        pthread_kill(d->ep0_thread, SIGUSR1);
        usleep(10000);
    }
    pthread_join(d->ep0_thread, NULL);
out:
    for (i = 1; i <= MAX_EPS; i++) if (d->ep[i].fd >= 0) close(d->ep[i].fd);
    if (d->ep0 > 0) close(d->ep0);
    if (!ffs) unmake_gadget(d);
    return status;
}
