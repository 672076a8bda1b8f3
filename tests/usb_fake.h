/* tests/usb_fake.h - fake USB devices for the asyncusb tests (not part of
 * the library).
 *
 * Each fake device is a sysfs entry in an in-process umockdev testbed plus
 * an ioctl handler that plays the kernel's usbfs: it accepts SUBMITURB,
 * keeps URBs pending or ready according to the endpoint, hands ready ones
 * out on REAPURB(NDELAY), honours DISCARDURB, and answers CLAIM, RELEASE,
 * SETINTERFACE, CLEAR_HALT, GETDRIVER and friends.  The handler runs on the
 * testbed's worker thread; the test thread talks to it under a mutex.
 *
 * The program must run with libumockdev-preload loaded (umockdev-wrapper),
 * and must create its devices before ausb_ctx_init / libusb_init (later ones
 * arrive with umockdev_testbed_uevent "add"; usbf_unplug and usbf_remove
 * take one away again, and the same struct can then be added anew).
 *
 * Endpoint behaviours of every fake device:
 *   0x01 OUT bulk   accepted at once; the bytes go to the loopback queue
 *   0x81 IN  bulk   waits for loopback bytes (overflow when more are queued
 *                   than the buffer holds)
 *   0x82 IN  bulk   stalls (-EPIPE)
 *   0x83 IN  intr   completes at once with 8 bytes: a counter and 0xA5s
 *   0x84 IN  bulk   held: completes only on usbf_release_held()
 *   0x85 IN  bulk   completes at once with the 5 bytes "short"
 *   0x86 IN  bulk   babble: -EOVERFLOW with the buffer full
 *   0x87 IN  iso    each packet i gets min(length, i + 1) bytes of value i;
 *                   packet 2 reports -EXDEV
 *   0x02 OUT iso    accepted at once
 *   0x03 OUT bulk   accepted at once, bytes counted only (benchmarks)
 *   0x88 IN  bulk   completes at once with the buffer filled (benchmarks)
 *   0x89 IN  bulk   like 0x88, but one poll later: the URB becomes ready
 *                   when a reap first finds nothing (as bus time would)
 *   0x8A IN  bulk   streaming: each URB is stamped with its sequence number
 *                   (4 bytes LE, then the low byte repeated) and kept until
 *                   `batch_8a` of them are pending on the fd, then all of
 *                   them complete in reverse order (out of order on
 *                   purpose); from sequence `stall_8a_from` on (when > 0)
 *                   they stall; `hold_8a` keeps them pending
 *   0x04 OUT bulk   like 0x03, but completes in reverse order in batches
 *                   of `batch_04`, and counts zero-length packets asked for
 *                   (ZERO_PACKET flag on a multiple of 512 bytes)
 *   0x05 OUT bulk   byte-stream loopback with flow control (a CDC-ACM
 *                   data interface wired to itself): accepted while the
 *                   device's buffer of `cdc_cap` bytes (default 4096) has
 *                   room for the whole URB, else pending (NAK) until 0x8B
 *                   drains it; in order
 *   0x8B IN  bulk   takes up to its length from that buffer, in order, and
 *                   waits while it is empty; stalls while `cdc_stall` is set
 *   0x8C IN  bulk   a device that sends `trickle_8c` bytes in full packets
 *                   (usbf_trickle_byte(offset) each) and then goes silent:
 *                   a URB it fills completes, one it fills in part keeps
 *                   those bytes and waits; a discard then reports them,
 *                   as the kernel does for a URB killed half way
 *   0x06 OUT bulk   the same the other way: takes `trickle_06` bytes in
 *                   all (kept in sink_06), then NAKs
 *   ep0: GET_DESCRIPTOR (device, config, string), vendor IN 0x01 -> "ping",
 *        vendor OUT 0x02 stores up to 64 bytes, anything else stalls.
 *        String index 9 always stalls (a device that fails to answer).
 *
 * A device of its own kind sets `on_submit` before usbf_add: it sees every
 * submitted URB first (under the device lock, on the worker thread) and
 * returns 1 when it took the URB (completed with usbf_push_ready or kept in
 * `pending`, where DISCARDURB and disconnects find it), 0 to leave it to
 * the behaviours above.  tools/fakecam.c builds a PTP camera this way.
 */
#ifndef USB_FAKE_H
#define USB_FAKE_H

#include <umockdev.h>
#include <dlfcn.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <linux/usbdevice_fs.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#define USBF_MAX_URBS 1024

typedef struct usbf_urb {
    UMockdevIoctlData *urb;    /* the client's struct usbdevfs_urb */
    UMockdevIoctlData *buf;    /* its buffer (NULL when empty) */
    int held;
    int delayed;
    int partial;               /* bytes it moved before it was left waiting */
    UMockdevIoctlClient *client;   /* the open fd it was submitted on */
} usbf_urb;

typedef struct usbf_device {
    char *syspath;
    char devnode[64];
    int bus, addr;
    unsigned char desc[4096];
    size_t desc_len;
    const char *strings[16];    /* index -> UTF-8 text; 0 unused */
    unsigned short langs[4];    /* string 0; none set: US English only */
    unsigned last_langid;       /* wIndex of the last string request */
    int speed_mbps;
    UMockdevIoctlBase *handler;
    pthread_mutex_t lock;       /* pthread, not GMutex: ThreadSanitizer sees it */
    usbf_urb pending[USBF_MAX_URBS];
    int npending;
    usbf_urb ready[USBF_MAX_URBS];
    int nready;
    unsigned char loop[8192];
    size_t loop_len;
    unsigned char vendor_data[64];
    int vendor_len;
    int disconnected;
    int intr_counter;
    /* what the device saw */
    int submits, discards, claims, releases, set_alts, clear_halts, resets;
    int detaches, attaches, set_configs;
    int driver_bound_if1;       /* interface 1 has a kernel driver */
    long bulk_out_bytes;
    unsigned last_out_flags;
    int unknown_ioctls;
    /* streaming endpoints */
    int batch_8a, stall_8a_from, hold_8a, batch_04;
    int seq_8a, submits_8a, zlps_04;
    long out_bytes_04;
    unsigned char out_log_04[65536];
    /* byte-stream loopback 0x05 -> 0x8B */
    unsigned char cdc[65536];
    int cdc_len, cdc_cap, cdc_stall;
    long cdc_in_bytes, cdc_out_bytes;
    int submit_errno;           /* set: every SUBMITURB fails with it (ENOMEM: usbfs's limit) */
    unsigned caps_extra;        /* more USBDEVFS_CAP_* bits to announce (CAP_MMAP) */
    /* 0x8C and 0x06: part of a transfer, then silence */
    int trickle_8c, sent_8c, trickle_06, took_06;
    unsigned char sink_06[65536];
    /* added without the driver link usbcore makes when it binds a device
     * (the kernel's add uevent comes before that) */
    int unbound;
    /* a device of its own kind (see the top comment) */
    int (*on_submit)(struct usbf_device *d, usbf_urb *u);
    void *user;
} usbf_device;

static UMockdevTestbed *usbf_testbed;

/* Registers GIO's GTask type, which starts GLib's worker context.  GIO is
 * libumockdev's own dependency, not one of the program's (its pkg-config
 * names no -lgio-2.0), so the function is looked up in the process. */
static void usbf_ensure_gtask(void)
{
    void *self = dlopen(NULL, RTLD_LAZY), *sym = self ? dlsym(self, "g_task_get_type") : NULL;
    GType (*task_type)(void);
    if (sym) {
        memcpy(&task_type, &sym, sizeof task_type);
        g_type_ensure(task_type());
    }
    if (self) dlclose(self);
}

G_GNUC_UNUSED static void usbf_init(void)
{
    const char *pre = getenv("LD_PRELOAD");
    if (!pre || !strstr(pre, "umockdev-preload")) {
        fprintf(stderr, "usb_fake: run under umockdev-wrapper (libumockdev-preload)\n");
        exit(77);
    }
    /* The testbed's worker thread would otherwise create two of GLib's
     * descriptors on its own clock, after this returns: the default main
     * context (pushed as its thread default) and GLib's worker context
     * (started by GTask's type registration when an ioctl handler begins
     * to listen).  A test that counts this process's descriptors then sees
     * one more at its end than at its start whenever the thread was slow
     * to start.  Created here, by the caller, both exist before any test
     * counts. */
    (void)g_main_context_default();
    usbf_ensure_gtask();
    usbf_testbed = umockdev_testbed_new();
}

static struct usbdevfs_urb *usbf_u(usbf_urb *u) { return (struct usbdevfs_urb *)u->urb->data; }

G_GNUC_UNUSED static void usbf_push_ready(usbf_device *d, usbf_urb u, int status, int actual)
{
    struct usbdevfs_urb *s = usbf_u(&u);
    s->status = status;
    s->actual_length = actual;
    if (d->nready < USBF_MAX_URBS) d->ready[d->nready++] = u;
}

G_GNUC_UNUSED static void usbf_fill_in(usbf_urb *u, const void *src, size_t n)
{
    if (u->buf && n) memcpy(u->buf->data, src, n);
}

/* Serves pending 0x81 URBs from the loopback queue. */
G_GNUC_UNUSED static void usbf_serve_loop(usbf_device *d)
{
    int i = 0;
    while (i < d->npending && d->loop_len > 0) {
        usbf_urb u = d->pending[i];
        struct usbdevfs_urb *s = usbf_u(&u);
        if (s->endpoint != 0x81) { i++; continue; }
        memmove(&d->pending[i], &d->pending[i + 1], (size_t)(d->npending - i - 1) * sizeof(usbf_urb));
        d->npending--;
        if (d->loop_len > (size_t)s->buffer_length) {
            usbf_fill_in(&u, d->loop, (size_t)s->buffer_length);
            d->loop_len = 0;
            usbf_push_ready(d, u, -EOVERFLOW, s->buffer_length);
        } else {
            usbf_fill_in(&u, d->loop, d->loop_len);
            usbf_push_ready(d, u, 0, (int)d->loop_len);
            d->loop_len = 0;
        }
    }
}

/* Moves bytes through the 0x05 -> 0x8B loopback while anything can move:
 * the oldest pending IN takes what is buffered, the oldest pending OUT
 * goes in when it fits whole. */
G_GNUC_UNUSED static int usbf_first_pending(usbf_device *d, unsigned char ep)
{
    int i;
    for (i = 0; i < d->npending; i++)
        if (usbf_u(&d->pending[i])->endpoint == ep) return i;
    return -1;
}

G_GNUC_UNUSED static void usbf_serve_cdc(usbf_device *d)
{
    int cap = d->cdc_cap > 0 && d->cdc_cap <= (int)sizeof d->cdc ? d->cdc_cap : 4096;
    for (;;) {
        int i = usbf_first_pending(d, 0x8b), n, st = 0;
        usbf_urb u;
        struct usbdevfs_urb *s;
        if (i >= 0 && (d->cdc_stall || d->cdc_len > 0)) {
            u = d->pending[i];
            s = usbf_u(&u);
            n = d->cdc_stall ? 0 : (s->buffer_length < d->cdc_len ? s->buffer_length : d->cdc_len);
            usbf_fill_in(&u, d->cdc, (size_t)n);
            memmove(d->cdc, d->cdc + n, (size_t)(d->cdc_len - n));
            d->cdc_len -= n;
            d->cdc_in_bytes += n;
            if (d->cdc_stall) st = -EPIPE;
        } else if ((i = usbf_first_pending(d, 0x05)) >= 0 &&
                   d->cdc_len + usbf_u(&d->pending[i])->buffer_length <= cap) {
            u = d->pending[i];
            s = usbf_u(&u);
            n = s->buffer_length;
            if (n && u.buf) memcpy(d->cdc + d->cdc_len, u.buf->data, (size_t)n);
            d->cdc_len += n;
            d->cdc_out_bytes += n;
        } else {
            return;
        }
        memmove(&d->pending[i], &d->pending[i + 1], (size_t)(d->npending - i - 1) * sizeof(usbf_urb));
        d->npending--;
        usbf_push_ready(d, u, st, n);
    }
}

/* Sets or clears the stall of 0x8B; a waiting IN URB fails at once. */
G_GNUC_UNUSED static void usbf_cdc_stall(usbf_device *d, int on)
{
    pthread_mutex_lock(&d->lock);
    d->cdc_stall = on;
    usbf_serve_cdc(d);
    pthread_mutex_unlock(&d->lock);
}

/* UTF-8 (trusted test text) to UTF-16LE; returns bytes written. */
static size_t usbf_utf8_to_utf16le(const unsigned char *in, unsigned char *out, size_t cap)
{
    size_t o = 0;
    while (*in && o + 4 <= cap) {
        unsigned long cp;
        if (in[0] < 0x80) { cp = in[0]; in += 1; }
        else if ((in[0] & 0xe0) == 0xc0) { cp = ((in[0] & 0x1fUL) << 6) | (in[1] & 0x3f); in += 2; }
        else if ((in[0] & 0xf0) == 0xe0) { cp = ((in[0] & 0x0fUL) << 12) | ((in[1] & 0x3fUL) << 6) | (in[2] & 0x3f); in += 3; }
        else { cp = ((in[0] & 0x07UL) << 18) | ((in[1] & 0x3fUL) << 12) | ((in[2] & 0x3fUL) << 6) | (in[3] & 0x3f); in += 4; }
        if (cp >= 0x10000) {
            unsigned long v = cp - 0x10000, hi = 0xd800 | (v >> 10), lo = 0xdc00 | (v & 0x3ff);
            out[o++] = (unsigned char)hi; out[o++] = (unsigned char)(hi >> 8);
            out[o++] = (unsigned char)lo; out[o++] = (unsigned char)(lo >> 8);
        } else {
            out[o++] = (unsigned char)cp; out[o++] = (unsigned char)(cp >> 8);
        }
    }
    return o;
}

static const char *usbf_string(usbf_device *d, int idx)
{
    if (idx <= 0 || idx >= 16) return NULL;
    return d->strings[idx];
}

/* Control transfer on ep0: returns status, sets *actual. */
G_GNUC_UNUSED static int usbf_control(usbf_device *d, usbf_urb *u, int *actual)
{
    struct usbdevfs_urb *s = usbf_u(u);
    unsigned char *b = u->buf ? u->buf->data : NULL;
    unsigned rt, req, val, idx, len;
    unsigned char out[256];
    size_t n = 0;
    if (!b || s->buffer_length < 8) return -EPIPE;
    rt = b[0]; req = b[1]; val = b[2] | (b[3] << 8); idx = b[4] | (b[5] << 8); len = b[6] | (b[7] << 8);
    (void)idx;
    *actual = 0;
    if (rt == 0x80 && req == 0x06) {
        unsigned type = val >> 8, index = val & 0xff;
        if (type == 1) { n = 18; memcpy(out, d->desc, 18); }
        else if (type == 2) {
            /* walk configurations in the stored blob */
            size_t off = 18; unsigned c = 0;
            while (off + 4 <= d->desc_len) {
                size_t tl = d->desc[off + 2] | (d->desc[off + 3] << 8);
                if (c == index) { n = tl < sizeof out ? tl : sizeof out; memcpy(out, d->desc + off, n); break; }
                off += tl; c++;
            }
            if (!n) return -EPIPE;
        } else if (type == 3) {
            if (index == 0) {
                int k, nl = 0;
                for (k = 0; k < 4 && d->langs[k]; k++, nl++) {
                    out[2 + 2 * k] = (unsigned char)d->langs[k];
                    out[3 + 2 * k] = (unsigned char)(d->langs[k] >> 8);
                }
                if (!nl) { out[2] = 0x09; out[3] = 0x04; nl = 1; }
                out[0] = (unsigned char)(2 + 2 * nl); out[1] = 3; n = out[0];
            } else {
                const char *str = usbf_string(d, (int)index);
                d->last_langid = idx;
                if (!str || index == 9) return -EPIPE;
                n = 2 + usbf_utf8_to_utf16le((const unsigned char *)str, out + 2, 252);
                out[0] = (unsigned char)n; out[1] = 3;
            }
        } else return -EPIPE;
    } else if (rt == 0xc0 && req == 0x01) {
        memcpy(out, "ping", 4); n = 4;
    } else if (rt == 0x40 && req == 0x02) {
        d->vendor_len = len > 64 ? 64 : (int)len;
        memcpy(d->vendor_data, b + 8, (size_t)d->vendor_len);
        *actual = (int)len;
        return 0;
    } else if ((rt & 0x80) == 0 && len == 0 && (req == 0x01 || req == 0x03)) {
        return 0;   /* SET/CLEAR_FEATURE */
    } else {
        return -EPIPE;
    }
    if (n > len) n = len;
    memcpy(b + 8, out, n);
    *actual = (int)n;
    return 0;
}

/* Completes the pending URBs of `ep` on `client`, newest first. */
G_GNUC_UNUSED static void usbf_release_reverse(usbf_device *d, unsigned char ep, UMockdevIoctlClient *client, int status_ok)
{
    int i;
    for (i = d->npending - 1; i >= 0; i--) {
        usbf_urb u = d->pending[i];
        struct usbdevfs_urb *s = usbf_u(&u);
        if (s->endpoint != ep || (client && u.client != client)) continue;
        memmove(&d->pending[i], &d->pending[i + 1], (size_t)(d->npending - i - 1) * sizeof(usbf_urb));
        d->npending--;
        if (status_ok) usbf_push_ready(d, u, 0, s->buffer_length);
        else usbf_push_ready(d, u, u.held, u.held ? 0 : s->buffer_length);
    }
}

G_GNUC_UNUSED static int usbf_pending_on(usbf_device *d, unsigned char ep, UMockdevIoctlClient *client)
{
    int i, n = 0;
    for (i = 0; i < d->npending; i++)
        if (usbf_u(&d->pending[i])->endpoint == ep && d->pending[i].client == client) n++;
    return n;
}

/* The byte 0x8C sends at a given offset of its stream. */
G_GNUC_UNUSED static unsigned char usbf_trickle_byte(long off) { return (unsigned char)(off * 7 + off / 255 + 1); }

/* 0x8C and 0x06: the URB moves what is left of the endpoint's budget;
 * whole, it completes, else it waits holding its part. */
G_GNUC_UNUSED static void usbf_trickle(usbf_device *d, usbf_urb u, int in)
{
    struct usbdevfs_urb *s = usbf_u(&u);
    int *done = in ? &d->sent_8c : &d->took_06, left = (in ? d->trickle_8c : d->trickle_06) - *done, n, i;
    n = left < 0 ? 0 : left < s->buffer_length ? left : s->buffer_length;
    if (in && u.buf)
        for (i = 0; i < n; i++) u.buf->data[i] = usbf_trickle_byte(*done + i);
    if (!in && u.buf && *done + n <= (int)sizeof d->sink_06) memcpy(d->sink_06 + *done, u.buf->data, (size_t)n);
    *done += n;
    if (n == s->buffer_length) {
        usbf_push_ready(d, u, 0, n);
        return;
    }
    u.partial = n;
    d->pending[d->npending++] = u;
}

/* Decides what a freshly submitted URB does. Called under the lock. */
G_GNUC_UNUSED static void usbf_accept(usbf_device *d, usbf_urb u)
{
    struct usbdevfs_urb *s = usbf_u(&u);
    int actual = 0, st, i;
    unsigned char tmp[8];
    if (d->on_submit && d->on_submit(d, &u)) return;
    switch (s->type == USBDEVFS_URB_TYPE_CONTROL ? 0x00 : s->endpoint) {
    case 0x00:
        st = usbf_control(d, &u, &actual);
        usbf_push_ready(d, u, st, actual);
        return;
    case 0x01:
        if (d->loop_len + (size_t)s->buffer_length <= sizeof d->loop && u.buf) {
            memcpy(d->loop + d->loop_len, u.buf->data, (size_t)s->buffer_length);
            d->loop_len += (size_t)s->buffer_length;
        }
        usbf_push_ready(d, u, 0, s->buffer_length);
        usbf_serve_loop(d);
        return;
    case 0x03:
        d->bulk_out_bytes += s->buffer_length;
        d->last_out_flags = s->flags;
        usbf_push_ready(d, u, 0, s->buffer_length);
        return;
    case 0x02:
        for (i = 0; i < s->number_of_packets; i++) {
            s->iso_frame_desc[i].actual_length = s->iso_frame_desc[i].length;
            s->iso_frame_desc[i].status = 0;
        }
        usbf_push_ready(d, u, 0, s->buffer_length);
        return;
    case 0x81:
        d->pending[d->npending++] = u;
        usbf_serve_loop(d);
        return;
    case 0x82:
        usbf_push_ready(d, u, -EPIPE, 0);
        return;
    case 0x83:
        memset(tmp, 0xa5, sizeof tmp);
        tmp[0] = (unsigned char)d->intr_counter++;
        actual = s->buffer_length < 8 ? s->buffer_length : 8;
        usbf_fill_in(&u, tmp, (size_t)actual);
        usbf_push_ready(d, u, 0, actual);
        return;
    case 0x84:
        u.held = 1;
        d->pending[d->npending++] = u;
        return;
    case 0x85:
        actual = s->buffer_length < 5 ? s->buffer_length : 5;
        usbf_fill_in(&u, "short", (size_t)actual);
        usbf_push_ready(d, u, 0, actual);
        return;
    case 0x86:
        if (u.buf) memset(u.buf->data, 0xee, (size_t)s->buffer_length);
        usbf_push_ready(d, u, -EOVERFLOW, s->buffer_length);
        return;
    case 0x88:
        if (u.buf) memset(u.buf->data, 0x5a, (size_t)s->buffer_length);
        usbf_push_ready(d, u, 0, s->buffer_length);
        return;
    case 0x89:
        if (u.buf) memset(u.buf->data, 0x5a, (size_t)s->buffer_length);
        u.delayed = 1;
        d->pending[d->npending++] = u;
        return;
    case 0x8a: {
        unsigned seq = (unsigned)d->seq_8a++;
        d->submits_8a++;
        if (u.buf) {
            memset(u.buf->data, (int)(seq & 0xff), (size_t)s->buffer_length);
            for (i = 0; i < 4 && i < s->buffer_length; i++) u.buf->data[i] = (unsigned char)(seq >> (8 * i));
        }
        u.held = d->stall_8a_from > 0 && (int)seq >= d->stall_8a_from ? -EPIPE : 0;
        d->pending[d->npending++] = u;
        if (!d->hold_8a && usbf_pending_on(d, 0x8a, u.client) >= (d->batch_8a > 0 ? d->batch_8a : 1))
            usbf_release_reverse(d, 0x8a, u.client, 0);
        return;
    }
    case 0x04:
        if (u.buf && d->out_bytes_04 + s->buffer_length <= (long)sizeof d->out_log_04)
            memcpy(d->out_log_04 + d->out_bytes_04, u.buf->data, (size_t)s->buffer_length);
        d->out_bytes_04 += s->buffer_length;
        if ((s->flags & USBDEVFS_URB_ZERO_PACKET) && s->buffer_length % 512 == 0) d->zlps_04++;
        d->pending[d->npending++] = u;
        if (usbf_pending_on(d, 0x04, u.client) >= (d->batch_04 > 0 ? d->batch_04 : 1))
            usbf_release_reverse(d, 0x04, u.client, 1);
        return;
    case 0x8c:
    case 0x06:
        usbf_trickle(d, u, s->endpoint == 0x8c);
        return;
    case 0x05:
    case 0x8b:
        d->pending[d->npending++] = u;
        usbf_serve_cdc(d);
        return;
    case 0x87: {
        size_t off = 0;
        actual = 0;
        for (i = 0; i < s->number_of_packets; i++) {
            unsigned len = s->iso_frame_desc[i].length;
            unsigned got = len < (unsigned)(i + 1) ? len : (unsigned)(i + 1);
            if (u.buf) memset(u.buf->data + off, i, got);
            s->iso_frame_desc[i].actual_length = got;
            s->iso_frame_desc[i].status = i == 2 ? (unsigned)-EXDEV : 0;
            off += len;
            actual += (int)got;
        }
        usbf_push_ready(d, u, 0, actual);
        return;
    }
    default:
        usbf_push_ready(d, u, -EPIPE, 0);
        return;
    }
}

/* Gives up the references the URB holds (umockdev_ioctl_data_resolve hands
 * each one over: every resolved block is unreferenced exactly once). */
G_GNUC_UNUSED static void usbf_drop(usbf_urb *u)
{
    if (u->buf) g_object_unref(u->buf);
    g_object_unref(u->urb);
}

G_GNUC_UNUSED static gboolean usbf_on_ioctl(UMockdevIoctlBase *base, UMockdevIoctlClient *client, gpointer user)
{
    usbf_device *d = (usbf_device *)user;
    gulong req = umockdev_ioctl_client_get_request(client);
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    GError *err = NULL;
    long res = 0;
    int eno = 0, i;
    (void)base;

    pthread_mutex_lock(&d->lock);
    if (req == USBDEVFS_GET_CAPABILITIES) {
        UMockdevIoctlData *data = umockdev_ioctl_data_resolve(arg, 0, sizeof(guint32), &err);
        if (data) *(guint32 *)data->data = USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_BULK_CONTINUATION |
                                           USBDEVFS_CAP_NO_PACKET_SIZE_LIM | USBDEVFS_CAP_REAP_AFTER_DISCONNECT |
                                           d->caps_extra;
        if (data) g_object_unref(data);
    } else if (req == USBDEVFS_SUBMITURB) {
        gulong client_ptr = *(gulong *)arg->data;
        UMockdevIoctlData *data = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb), &err);
        struct usbdevfs_urb *s = data ? (struct usbdevfs_urb *)data->data : NULL;
        d->submits++;
        if (!s) { res = -1; eno = EFAULT; }
        else if (d->disconnected) { res = -1; eno = ENODEV; }
        else if (d->submit_errno) { res = -1; eno = d->submit_errno; }
        else if (d->npending >= USBF_MAX_URBS - 1 || d->nready >= USBF_MAX_URBS - 1) { res = -1; eno = ENOMEM; }
        else {
            usbf_urb u;
            if (s->type == USBDEVFS_URB_TYPE_ISO && s->number_of_packets > 0) {
                size_t full = sizeof(struct usbdevfs_urb) + (size_t)s->number_of_packets * sizeof(struct usbdevfs_iso_packet_desc);
                UMockdevIoctlData *first = data;
                umockdev_ioctl_data_reload(arg, NULL);
                *(gulong *)arg->data = client_ptr;   /* resolve() had swapped in a local pointer */
                data = umockdev_ioctl_data_resolve(arg, 0, full, &err);
                /* umockdev 0.17's reload drops the first block from arg's
                 * children without releasing their reference to it (one
                 * leaked per iso URB): with a new block in its place, a
                 * reference besides ours is that stray one. */
                if (data != first && G_OBJECT(first)->ref_count == 2) g_object_unref(first);
                g_object_unref(first);
                s = (struct usbdevfs_urb *)data->data;
            }
            u.urb = data;     /* resolve gave us a reference: the URB keeps it until reaped */
            data = NULL;
            u.buf = NULL;
            u.held = 0;
            u.delayed = 0;
            u.partial = 0;
            u.client = client;
            if (s->buffer_length > 0) {
                u.buf = umockdev_ioctl_data_resolve(u.urb, G_STRUCT_OFFSET(struct usbdevfs_urb, buffer),
                                                    (gsize)s->buffer_length, &err);
            }
            usbf_accept(d, u);
        }
        if (data) g_object_unref(data);   /* refused */
    } else if (req == USBDEVFS_REAPURB || req == USBDEVFS_REAPURBNDELAY) {
        /* like the kernel, each open fd reaps only the URBs submitted on it */
        int k = 0;
        while (k < d->nready && d->ready[k].client != client) k++;
        if (k < d->nready) {
            UMockdevIoctlData *data = umockdev_ioctl_data_resolve(arg, 0, sizeof(void *), &err);
            usbf_urb u = d->ready[k];
            memmove(&d->ready[k], &d->ready[k + 1], (size_t)(d->nready - k - 1) * sizeof(usbf_urb));
            d->nready--;
            umockdev_ioctl_data_set_ptr(data, 0, u.urb);
            g_object_unref(data);
            usbf_drop(&u);
        } else {
            res = -1;
            eno = d->disconnected ? ENODEV : EAGAIN;
            for (i = 0; i < d->npending;) {      /* 0x89: ready from now on */
                usbf_urb u = d->pending[i];
                if (!u.delayed || u.client != client) { i++; continue; }
                memmove(&d->pending[i], &d->pending[i + 1], (size_t)(d->npending - i - 1) * sizeof(usbf_urb));
                d->npending--;
                usbf_push_ready(d, u, 0, usbf_u(&u)->buffer_length);
            }
        }
    } else if (req == USBDEVFS_DISCARDURB) {
        gulong addr = *(gulong *)arg->data;
        res = -1; eno = EINVAL;
        d->discards++;
        for (i = 0; i < d->npending; i++) {
            if (d->pending[i].urb->client_addr == addr && d->pending[i].client == client) {
                usbf_urb u = d->pending[i];
                memmove(&d->pending[i], &d->pending[i + 1], (size_t)(d->npending - i - 1) * sizeof(usbf_urb));
                d->npending--;
                usbf_push_ready(d, u, -ENOENT, u.partial);   /* killed: what it moved so far */
                res = 0; eno = 0;
                break;
            }
        }
    } else if (req == USBDEVFS_CLAIMINTERFACE) {
        d->claims++;
        if (d->disconnected) { res = -1; eno = ENODEV; }
    } else if (req == USBDEVFS_RELEASEINTERFACE) {
        d->releases++;
    } else if (req == USBDEVFS_SETINTERFACE) {
        d->set_alts++;
    } else if (req == USBDEVFS_SETCONFIGURATION) {
        d->set_configs++;
    } else if (req == USBDEVFS_CLEAR_HALT) {
        d->clear_halts++;
    } else if (req == USBDEVFS_RESET) {
        d->resets++;
    } else if (req == USBDEVFS_GETDRIVER) {
        UMockdevIoctlData *data = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_getdriver), &err);
        struct usbdevfs_getdriver *g = data ? (struct usbdevfs_getdriver *)data->data : NULL;
        if (g && g->interface == 1 && d->driver_bound_if1) {
            snprintf(g->driver, sizeof g->driver, "fakedrv");
        } else {
            res = -1; eno = ENODATA;
        }
        if (data) g_object_unref(data);
    } else if (req == USBDEVFS_IOCTL) {
        UMockdevIoctlData *data = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_ioctl), &err);
        struct usbdevfs_ioctl *io = data ? (struct usbdevfs_ioctl *)data->data : NULL;
        if (io && io->ioctl_code == (int)USBDEVFS_DISCONNECT) {
            if (io->ifno == 1 && d->driver_bound_if1) { d->driver_bound_if1 = 0; d->detaches++; }
            else { res = -1; eno = ENODATA; }
        } else if (io && io->ioctl_code == (int)USBDEVFS_CONNECT) {
            if (io->ifno == 1) { d->driver_bound_if1 = 1; d->attaches++; }
        } else { res = -1; eno = ENOTTY; }
        if (data) g_object_unref(data);
    } else if (req == USBDEVFS_CONNECTINFO) {
        UMockdevIoctlData *data = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_connectinfo), &err);
        if (data) {
            struct usbdevfs_connectinfo *ci = (struct usbdevfs_connectinfo *)data->data;
            ci->devnum = (unsigned)d->addr;
            ci->slow = d->speed_mbps == 1;
            g_object_unref(data);
        }
    } else if (req == USBDEVFS_DISCONNECT_CLAIM) {
        res = -1; eno = ENOTTY;
    } else {
        d->unknown_ioctls++;
        res = -1; eno = ENOTTY;
    }
    pthread_mutex_unlock(&d->lock);
    if (err) g_error_free(err);
    umockdev_ioctl_client_complete(client, res, eno);
    return TRUE;
}

/* Device descriptor + configurations, as raw bytes in d->desc. */
G_GNUC_UNUSED static void usbf_set_descriptors(usbf_device *d, const unsigned char *bytes, size_t len)
{
    memcpy(d->desc, bytes, len);
    d->desc_len = len;
}

/* A standard test device: one configuration, interface 0 with every
 * endpoint listed above, interface 1 (vendor class, kernel driver bound). */
G_GNUC_UNUSED static size_t usbf_std_descriptors(unsigned char *o, unsigned vid, unsigned pid)
{
    static const unsigned char eps[][7] = {
        {7, 5, 0x01, 2, 0x00, 0x02, 0}, {7, 5, 0x81, 2, 0x00, 0x02, 0}, {7, 5, 0x82, 2, 0x00, 0x02, 0},
        {7, 5, 0x83, 3, 0x08, 0x00, 4}, {7, 5, 0x84, 2, 0x00, 0x02, 0}, {7, 5, 0x85, 2, 0x00, 0x02, 0},
        {7, 5, 0x86, 2, 0x00, 0x02, 0}, {7, 5, 0x87, 1, 0x00, 0x14, 1}, {7, 5, 0x02, 1, 0x00, 0x04, 1},
        {7, 5, 0x03, 2, 0x00, 0x02, 0}, {7, 5, 0x88, 2, 0x00, 0x02, 0}, {7, 5, 0x89, 2, 0x00, 0x02, 0},
    };
    size_t n = 0, cfg, k;
    const int neps = (int)(sizeof eps / sizeof eps[0]);
    unsigned char dev[18] = {18, 1, 0x00, 0x02, 0, 0, 0, 64, 0, 0, 0, 0, 0x00, 0x01, 1, 2, 3, 1};
    dev[8] = (unsigned char)vid; dev[9] = (unsigned char)(vid >> 8);
    dev[10] = (unsigned char)pid; dev[11] = (unsigned char)(pid >> 8);
    memcpy(o, dev, 18); n = 18;
    cfg = n;
    o[n++] = 9; o[n++] = 2; o[n++] = 0; o[n++] = 0; o[n++] = 2; o[n++] = 1; o[n++] = 0; o[n++] = 0x80; o[n++] = 50;
    o[n++] = 9; o[n++] = 4; o[n++] = 0; o[n++] = 0; o[n++] = (unsigned char)neps; o[n++] = 0xff; o[n++] = 0; o[n++] = 0; o[n++] = 0;
    for (k = 0; k < (size_t)neps; k++) { memcpy(o + n, eps[k], 7); n += 7; }
    o[n++] = 9; o[n++] = 4; o[n++] = 1; o[n++] = 0; o[n++] = 0; o[n++] = 0xff; o[n++] = 1; o[n++] = 2; o[n++] = 0;
    o[cfg + 2] = (unsigned char)((n - cfg) & 0xff);
    o[cfg + 3] = (unsigned char)((n - cfg) >> 8);
    return n;
}

/* Composite device: IADs, alternate settings, class-specific extras, a
 * high-bandwidth iso endpoint, two configurations. */
G_GNUC_UNUSED static size_t usbf_unusual_descriptors(unsigned char *o)
{
    static const unsigned char dev[18] = {18, 1, 0x00, 0x02, 0xef, 0x02, 0x01, 64, 0x34, 0x12, 0x03, 0x00,
                                          0x10, 0x02, 1, 2, 0, 2};
    static const unsigned char cfg1[] = {
        9, 2, 0, 0, 3, 1, 0, 0x80, 100,
        8, 0x0b, 0, 2, 0x0e, 0x03, 0x00, 0,            /* IAD: video, interfaces 0-1 */
        9, 4, 0, 0, 1, 0x0e, 0x01, 0x00, 0,
        5, 0x24, 0x01, 0x00, 0x01,                     /* class-specific interface */
        7, 5, 0x83, 3, 0x10, 0x00, 6,
        9, 4, 1, 0, 0, 0x0e, 0x02, 0x00, 0,
        9, 4, 1, 1, 1, 0x0e, 0x02, 0x00, 0,
        7, 5, 0x81, 5, 0x00, 0x14, 1,                  /* iso 1024 x 3 */
        8, 0x0b, 2, 1, 0x01, 0x01, 0x00, 0,            /* IAD: audio, interface 2 */
        9, 4, 2, 0, 1, 0x01, 0x01, 0x00, 0,
        7, 5, 0x84, 2, 0x00, 0x02, 0,
    };
    static const unsigned char cfg2[] = {
        9, 2, 0, 0, 1, 2, 0, 0x80, 100,
        9, 4, 0, 0, 1, 0xff, 0xff, 0xff, 0,
        7, 5, 0x84, 2, 0x00, 0x02, 0,
    };
    size_t n = 0;
    memcpy(o + n, dev, sizeof dev); n += sizeof dev;
    memcpy(o + n, cfg1, sizeof cfg1);
    o[n + 2] = (unsigned char)sizeof cfg1;
    n += sizeof cfg1;
    memcpy(o + n, cfg2, sizeof cfg2);
    o[n + 2] = (unsigned char)sizeof cfg2;
    n += sizeof cfg2;
    return n;
}

G_GNUC_UNUSED static size_t usbf_hub_descriptors(unsigned char *o)
{
    static const unsigned char b[] = {
        18, 1, 0x00, 0x02, 0x09, 0x00, 0x01, 64, 0x6b, 0x1d, 0x02, 0x00, 0x15, 0x05, 3, 2, 1, 1,
        9, 2, 25, 0, 1, 1, 0, 0xe0, 0,
        9, 4, 0, 0, 1, 0x09, 0x00, 0x00, 0,
        7, 5, 0x81, 3, 4, 0, 12,
    };
    memcpy(o, b, sizeof b);
    return sizeof b;
}

/* SuperSpeed device: bulk and iso endpoints with companion descriptors. */
G_GNUC_UNUSED static size_t usbf_superspeed_descriptors(unsigned char *o)
{
    static const unsigned char b[] = {
        18, 1, 0x00, 0x03, 0, 0, 0, 9, 0x34, 0x12, 0x04, 0x00, 0x01, 0x00, 0, 0, 0, 1,
        9, 2, 57, 0, 1, 1, 0, 0x80, 50,
        9, 4, 0, 0, 3, 0xff, 0, 0, 0,
        7, 5, 0x81, 2, 0x00, 0x04, 0,
        6, 0x30, 3, 0, 0, 0,                           /* burst 4 */
        7, 5, 0x02, 2, 0x00, 0x04, 0,
        6, 0x30, 0, 0, 0, 0,
        7, 5, 0x83, 1, 0x00, 0x04, 1,
        6, 0x30, 1, 1, 0x00, 0x10,                     /* burst 2, mult 2 */
    };
    memcpy(o, b, sizeof b);
    return sizeof b;
}

/* Low-speed device: one interrupt endpoint, 10 ms. */
G_GNUC_UNUSED static size_t usbf_lowspeed_descriptors(unsigned char *o)
{
    static const unsigned char b[] = {
        18, 1, 0x10, 0x01, 0, 0, 0, 8, 0x34, 0x12, 0x05, 0x00, 0x00, 0x02, 0, 0, 0, 1,
        9, 2, 34, 0, 1, 1, 0, 0xa0, 50,
        9, 4, 0, 0, 1, 0x03, 0x01, 0x02, 0,
        9, 0x21, 0x11, 0x01, 0x00, 0x01, 0x22, 0x34, 0x00,   /* HID class descriptor */
        7, 5, 0x81, 3, 0x08, 0x00, 10,
    };
    memcpy(o, b, sizeof b);
    return sizeof b;
}

static char *usbf_hex(const unsigned char *b, size_t n)
{
    char *s = (char *)g_malloc(2 * n + 1);
    size_t i;
    for (i = 0; i < n; i++) sprintf(s + 2 * i, "%02X", b[i]);
    s[2 * n] = 0;
    return s;
}

/* Adds a device at bus/addr with sysfs path `devpath` (e.g.
 * "/devices/fake/usb1/1-2"; the last part is the port path). Call before
 * ausb_ctx_init.  Parents need not exist (add them first to get a tree). */
G_GNUC_UNUSED static void usbf_add(usbf_device *d, const char *devpath, int bus, int addr, int speed_mbps)
{
    GString *s = g_string_new(NULL);
    const unsigned char *dd = d->desc;
    char *hex = usbf_hex(d->desc, d->desc_len);
    GError *err = NULL;
    int k;
    d->bus = bus; d->addr = addr;
    d->speed_mbps = speed_mbps ? speed_mbps : 480;
    pthread_mutex_init(&d->lock, NULL);
    snprintf(d->devnode, sizeof d->devnode, "/dev/bus/usb/%03d/%03d", bus, addr);
    g_string_append_printf(s, "P: %s\nN: bus/usb/%03d/%03d=%s\n", devpath, bus, addr, hex);
    g_string_append_printf(s, "E: DEVNAME=%s\nE: DEVTYPE=usb_device\nE: SUBSYSTEM=usb\nE: DRIVER=usb\n", d->devnode);
    g_string_append_printf(s, "E: BUSNUM=%03d\nE: DEVNUM=%03d\nE: PRODUCT=%x/%x/%x\n", bus, addr,
                           dd[8] | (dd[9] << 8), dd[10] | (dd[11] << 8), dd[12] | (dd[13] << 8));
    g_string_append_printf(s, "A: busnum=%d\\n\nA: devnum=%d\\n\nA: dev=189:%d\n", bus, addr, (bus - 1) * 128 + addr - 1);
    if (d->speed_mbps == 1) g_string_append(s, "A: speed=1.5\n");
    else g_string_append_printf(s, "A: speed=%d\n", d->speed_mbps);
    g_string_append_printf(s, "A: bConfigurationValue=1\nA: idVendor=%02x%02x\nA: idProduct=%02x%02x\n", dd[9], dd[8], dd[11], dd[10]);
    g_string_append_printf(s, "A: bcdDevice=%02x%02x\nA: bDeviceClass=%02x\nA: bDeviceSubClass=%02x\nA: bDeviceProtocol=%02x\n",
                           dd[13], dd[12], dd[4], dd[5], dd[6]);
    g_string_append_printf(s, "A: bMaxPacketSize0=%d\nA: bNumConfigurations=%d\nA: devpath=%s\n", dd[7], dd[17],
                           strchr(strrchr(devpath, '/'), '-') ? strchr(strrchr(devpath, '/'), '-') + 1 : "0");
    for (k = 1; k <= 3; k++) {
        static const char *const names[4] = {"", "manufacturer", "product", "serial"};
        if (d->strings[k]) g_string_append_printf(s, "A: %s=%s\n", names[k], d->strings[k]);
    }
    g_string_append_printf(s, "H: descriptors=%s\n", hex);
    if (!d->unbound) g_string_append(s, "L: driver=../../../bus/usb/drivers/usb\n");   /* bound by usbcore */
    if (!umockdev_testbed_add_from_string(usbf_testbed, s->str, &err)) {
        fprintf(stderr, "usb_fake: add %s: %s\n", devpath, err ? err->message : "?");
        exit(2);
    }
    d->syspath = g_strconcat("/sys", devpath, NULL);
    g_string_free(s, TRUE);
    g_free(hex);
    d->handler = umockdev_ioctl_base_new();
    g_signal_connect(d->handler, "handle-ioctl", G_CALLBACK(usbf_on_ioctl), d);
    if (!umockdev_testbed_attach_ioctl(usbf_testbed, d->devnode, d->handler, &err)) {
        fprintf(stderr, "usb_fake: attach_ioctl %s: %s\n", d->devnode, err ? err->message : "?");
        exit(2);
    }
}

/* Completes every held URB (endpoint 0x84) with `n` bytes of 0x42. */
G_GNUC_UNUSED static int usbf_release_held(usbf_device *d, int n)
{
    int i = 0, done = 0;
    pthread_mutex_lock(&d->lock);
    while (i < d->npending) {
        usbf_urb u = d->pending[i];
        struct usbdevfs_urb *s = usbf_u(&u);
        int got;
        if (!u.held) { i++; continue; }
        memmove(&d->pending[i], &d->pending[i + 1], (size_t)(d->npending - i - 1) * sizeof(usbf_urb));
        d->npending--;
        got = n < s->buffer_length ? n : s->buffer_length;
        if (u.buf && got > 0) memset(u.buf->data, 0x42, (size_t)got);
        usbf_push_ready(d, u, 0, got);
        done++;
    }
    pthread_mutex_unlock(&d->lock);
    return done;
}

/* The device goes away: pending URBs fail with -ENODEV (as the kernel
 * reports them), and later submits fail with ENODEV. */
G_GNUC_UNUSED static void usbf_disconnect(usbf_device *d)
{
    pthread_mutex_lock(&d->lock);
    d->disconnected = 1;
    while (d->npending > 0) {
        usbf_urb u = d->pending[--d->npending];
        usbf_push_ready(d, u, -ENODEV, 0);
    }
    pthread_mutex_unlock(&d->lock);
}

/* Unplugged: pending URBs fail with -ENODEV and udev hears "remove". */
G_GNUC_UNUSED static void usbf_unplug(usbf_device *d)
{
    usbf_disconnect(d);
    umockdev_testbed_uevent(usbf_testbed, d->syspath, "remove");
}

/* Takes an unplugged device out of the testbed for good, once no handle
 * has it open: its ioctl handler and sysfs entry go, URBs never reaped are
 * dropped, and the struct may be given to usbf_add again as a new device
 * (its descriptors, strings and languages are kept; everything else is
 * reset).  With it a long test can unplug and plug devices without end. */
G_GNUC_UNUSED static void usbf_remove(usbf_device *d)
{
    GError *err = NULL;
    unsigned char desc[4096];
    size_t desc_len = d->desc_len;
    const char *strings[16];
    unsigned short langs[4];
    int i;
    if (!umockdev_testbed_detach_ioctl(usbf_testbed, d->devnode, &err)) {
        fprintf(stderr, "usb_fake: detach_ioctl %s: %s\n", d->devnode, err ? err->message : "?");
        exit(2);
    }
    g_object_unref(d->handler);
    umockdev_testbed_remove_device(usbf_testbed, d->syspath);
    g_free(d->syspath);
    for (i = 0; i < d->npending; i++) usbf_drop(&d->pending[i]);
    for (i = 0; i < d->nready; i++) usbf_drop(&d->ready[i]);
    pthread_mutex_destroy(&d->lock);
    memcpy(desc, d->desc, desc_len);
    memcpy(strings, d->strings, sizeof strings);
    memcpy(langs, d->langs, sizeof langs);
    memset(d, 0, sizeof *d);
    memcpy(d->desc, desc, desc_len);
    d->desc_len = desc_len;
    memcpy(d->strings, strings, sizeof strings);
    memcpy(d->langs, langs, sizeof langs);
}

/* Completes every held 0x8A URB now, newest first. */
G_GNUC_UNUSED static void usbf_flush_8a(usbf_device *d)
{
    pthread_mutex_lock(&d->lock);
    usbf_release_reverse(d, 0x8a, NULL, 0);
    pthread_mutex_unlock(&d->lock);
}

G_GNUC_UNUSED static void usbf_set(usbf_device *d, int *field, int value)
{
    pthread_mutex_lock(&d->lock);
    *field = value;
    pthread_mutex_unlock(&d->lock);
}

G_GNUC_UNUSED static int usbf_count(usbf_device *d, int *field)
{
    int v;
    pthread_mutex_lock(&d->lock);
    v = *field;
    pthread_mutex_unlock(&d->lock);
    return v;
}

G_GNUC_UNUSED static int usbf_pending(usbf_device *d)
{
    return usbf_count(d, &d->npending);
}

G_GNUC_UNUSED static void usbf_done(void)
{
    if (usbf_testbed) g_object_unref(usbf_testbed);
    usbf_testbed = NULL;
}

#ifdef ASYNCUSB_H
/* For tests that include asyncusb.h first: initialises ctx, opens the fake
 * device d (found by bus and address) and claims interface 0.  On failure
 * before the open, ctx is already exited. */
G_GNUC_UNUSED static int usbf_open(ausb_ctx *ctx, usbf_device *d, ausb_handle *h)
{
    ausb_device_list l;
    ausb_device dev;
    int i, found = -1, r;
    if ((r = ausb_ctx_init(ctx, NULL)) < 0) return r;
    ausb_devices(&l, ctx);
    for (i = 0; i < l.count; i++)
        if (ausb_device_address(&l.items[i]) == d->addr && ausb_device_bus(&l.items[i]) == d->bus) found = i;
    if (found < 0) { ausb_devices_free(&l); ausb_ctx_close(ctx); return -1; }
    ausb_device_copy(&dev, &l.items[found]);
    ausb_devices_free(&l);
    r = ausb_open(h, &dev);
    ausb_device_release(&dev);
    if (r == 0) r = ausb_claim(h, 0);
    return r;
}
#endif

#endif
