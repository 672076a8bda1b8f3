/* tools/fakecam.h - the emulated PTP camera of tools/fakecam.c as a device
 * that any program with an umockdev testbed can add (tests/usb_fake.h):
 * fakecam.c runs a command next to one, tests/usb_hostile.c gives its
 * responder hostile descriptor sets.  All functions are static.
 *
 * The camera: one configuration, interface 0 of class 06/01/01 (still
 * image, PTP) with bulk IN 0x81, bulk OUT 0x02 (512 bytes) and interrupt IN
 * 0x83 (no events ever arrive there).  Its PTP responder answers
 *   GetDeviceInfo  OpenSession  CloseSession  GetStorageIDs
 *   GetStorageInfo GetNumObjects GetObjectHandles
 * with well-formed containers about one empty 7580 MiB SD card (storage
 * 0x00010001), and anything else with a response code: Operation Not
 * Supported, Session Not Open, Session Already Open, Invalid StorageID,
 * Invalid Parameter, Specification By Format Unsupported.  The class
 * requests Get Device Status, Cancel and Device Reset work on ep0.
 *
 * A cam's fail_op / fail_code make one operation answer a refusal, and its
 * misbehave mode makes bulk IN hostile (FAKECAM_ZLP, _TRICKLE, _SILENT:
 * see cam_misbehave_in).
 */
#ifndef FAKECAM_H
#define FAKECAM_H

#include "tests/usb_fake.h"
#include <stdint.h>

enum { CAM_PTP_COMMAND = 1, CAM_PTP_DATA = 2, CAM_PTP_RESPONSE = 3 };
enum {
    CAM_OP_GET_DEVICE_INFO = 0x1001, CAM_OP_OPEN_SESSION = 0x1002, CAM_OP_CLOSE_SESSION = 0x1003,
    CAM_OP_GET_STORAGE_IDS = 0x1004, CAM_OP_GET_STORAGE_INFO = 0x1005, CAM_OP_GET_NUM_OBJECTS = 0x1006,
    CAM_OP_GET_OBJECT_HANDLES = 0x1007
};
enum {
    CAM_RC_OK = 0x2001, CAM_RC_GENERAL_ERROR = 0x2002, CAM_RC_SESSION_NOT_OPEN = 0x2003,
    CAM_RC_OPERATION_NOT_SUPPORTED = 0x2005, CAM_RC_INVALID_STORAGE_ID = 0x2008,
    CAM_RC_SPEC_BY_FORMAT_UNSUPPORTED = 0x2014, CAM_RC_INVALID_PARAMETER = 0x201d,
    CAM_RC_SESSION_ALREADY_OPEN = 0x201e
};
enum { CAM_BULK_MPS = 512, CAM_MAX_XFERS = 8 };

#define CAM_VID 0x1209
#define CAM_PID 0x0001
#define CAM_STORAGE 0x00010001UL
#define CAM_MIB 1048576ULL

static const char *const cam_manufacturer = "AsyncKit";
static const char *const cam_product = "Demo Camera";       /* USB product string */
static const char *const cam_model = "AsyncKit Demo Camera"; /* PTP model */
static const char *const cam_version = "1.0";
static const char *const cam_serial = "AK0123456789";

static const unsigned short cam_ops[] = {
    CAM_OP_GET_DEVICE_INFO, CAM_OP_OPEN_SESSION, CAM_OP_CLOSE_SESSION, CAM_OP_GET_STORAGE_IDS,
    CAM_OP_GET_STORAGE_INFO, CAM_OP_GET_NUM_OBJECTS, CAM_OP_GET_OBJECT_HANDLES,
};

/* One bulk IN transfer the camera has ready: a container, and the zero
 * length packet that ends it when its length is a multiple of 512. */
typedef struct cam_xfer { size_t off, len, sent; int zlp; } cam_xfer;

/* --misbehave: a camera that never lets a client finish. */
enum { FAKECAM_WELL = 0, FAKECAM_ZLP, FAKECAM_TRICKLE, FAKECAM_SILENT };

typedef struct cam {
    uint32_t session;             /* 0: none open */
    unsigned fail_op, fail_code;  /* --fail */
    int misbehave;                /* FAKECAM_* */
    unsigned char trickle_hdr[12];   /* FAKECAM_TRICKLE: the container begun */
    long trickle_left;            /* its bytes still to send, one per transfer */
    unsigned char cmd[64];        /* a command container being received */
    size_t cmd_len;
    size_t skip;                  /* bytes of a host data phase still to drop */
    unsigned char q[4096];        /* containers for bulk IN */
    size_t q_len;
    cam_xfer x[CAM_MAX_XFERS];
    int nx, head;
} cam;

static uint32_t cam_le32(const unsigned char *p)
{
    return p[0] | (p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* ---- building datasets ---- */

typedef struct cam_buf { unsigned char b[1024]; size_t n; } cam_buf;

static void cam_put8(cam_buf *o, unsigned v) { if (o->n < sizeof o->b) o->b[o->n++] = (unsigned char)v; }
static void cam_put16(cam_buf *o, unsigned v) { cam_put8(o, v & 0xff); cam_put8(o, (v >> 8) & 0xff); }
static void cam_put32(cam_buf *o, uint32_t v) { cam_put16(o, v & 0xffff); cam_put16(o, (unsigned)(v >> 16)); }
static void cam_put64(cam_buf *o, uint64_t v) { cam_put32(o, (uint32_t)v); cam_put32(o, (uint32_t)(v >> 32)); }

/* A PTP string: count of UTF-16 units with the NUL, then the units (ASCII
 * here); the empty string is the single byte 0. */
static void cam_put_string(cam_buf *o, const char *s)
{
    size_t n = strlen(s);
    if (n == 0) { cam_put8(o, 0); return; }
    cam_put8(o, (unsigned)(n + 1));
    while (*s) cam_put16(o, (unsigned char)*s++);
    cam_put16(o, 0);
}

static void cam_device_info(cam_buf *o)
{
    size_t i;
    cam_put16(o, 100);                 /* PTP 1.00 */
    cam_put32(o, 0);                   /* no vendor extension */
    cam_put16(o, 0);
    cam_put_string(o, "");
    cam_put16(o, 0);                   /* standard functional mode */
    cam_put32(o, (uint32_t)(sizeof cam_ops / sizeof cam_ops[0]));
    for (i = 0; i < sizeof cam_ops / sizeof cam_ops[0]; i++) cam_put16(o, cam_ops[i]);
    cam_put32(o, 0);                   /* events */
    cam_put32(o, 0);                   /* device properties */
    cam_put32(o, 0);                   /* capture formats: it cannot take pictures */
    cam_put32(o, 1);                   /* image formats: EXIF/JPEG */
    cam_put16(o, 0x3801);
    cam_put_string(o, cam_manufacturer);
    cam_put_string(o, cam_model);
    cam_put_string(o, cam_version);
    cam_put_string(o, cam_serial);
}

static void cam_storage_info(cam_buf *o)
{
    cam_put16(o, 0x0004);              /* removable RAM */
    cam_put16(o, 0x0003);              /* DCF */
    cam_put16(o, 0x0000);              /* read-write */
    cam_put64(o, 7580 * CAM_MIB);      /* max capacity */
    cam_put64(o, 6800 * CAM_MIB);      /* free space */
    cam_put32(o, 2400);                /* free space in images */
    cam_put_string(o, "SD card");
    cam_put_string(o, "DEMO_CARD");
}

/* ---- the bulk IN queue ---- */

static void cam_queue_container(cam *c, unsigned type, unsigned code, uint32_t tid,
                            const unsigned char *payload, size_t n)
{
    cam_buf h;
    cam_xfer *x;
    if (c->nx >= CAM_MAX_XFERS || c->q_len + 12 + n > sizeof c->q) return;
    h.n = 0;
    cam_put32(&h, (uint32_t)(12 + n));
    cam_put16(&h, type);
    cam_put16(&h, code);
    cam_put32(&h, tid);
    x = &c->x[c->nx++];
    x->off = c->q_len;
    x->len = 12 + n;
    x->sent = 0;
    x->zlp = x->len % CAM_BULK_MPS == 0;
    memcpy(c->q + c->q_len, h.b, 12);
    if (n) memcpy(c->q + c->q_len + 12, payload, n);
    c->q_len += x->len;
}

static void cam_respond(cam *c, unsigned code, uint32_t tid, int nparams, uint32_t param)
{
    cam_buf p;
    p.n = 0;
    if (nparams) cam_put32(&p, param);
    cam_queue_container(c, CAM_PTP_RESPONSE, code, tid, p.b, p.n);
}

/* Hands queued bytes to the pending bulk IN URBs, oldest first.  A URB
 * ends with a full buffer or with the end of a container; a container of
 * a multiple of 512 bytes ends with a zero length packet, which a URB
 * with room left takes along. */
static void cam_serve(usbf_device *d, cam *c)
{
    while (c->head < c->nx) {
        cam_xfer *x = &c->x[c->head];
        int i;
        usbf_urb u;
        struct usbdevfs_urb *s;
        size_t n, room;
        for (i = 0; i < d->npending && usbf_u(&d->pending[i])->endpoint != 0x81; i++) {}
        if (i == d->npending) return;
        u = d->pending[i];
        s = usbf_u(&u);
        memmove(&d->pending[i], &d->pending[i + 1], (size_t)(d->npending - i - 1) * sizeof(usbf_urb));
        d->npending--;
        room = s->buffer_length > 0 ? (size_t)s->buffer_length : 0;
        n = x->len - x->sent < room ? x->len - x->sent : room;
        usbf_fill_in(&u, c->q + x->off + x->sent, n);
        x->sent += n;
        if (x->sent == x->len && x->zlp && (n < room || n == 0)) x->zlp = 0;
        usbf_push_ready(d, u, 0, (int)n);
        if (x->sent == x->len && !x->zlp) c->head++;
    }
    c->nx = c->head = 0;
    c->q_len = 0;
}

/* ---- the responder ---- */

static int cam_need_session(cam *c, uint32_t tid)
{
    if (c->session) return 1;
    cam_respond(c, CAM_RC_SESSION_NOT_OPEN, tid, 0, 0);
    return 0;
}

/* Storage parameters: our one storage, or 0xFFFFFFFF for all of them. */
static int cam_storage_ok(cam *c, uint32_t tid, uint32_t id, int all_allowed)
{
    if (id == CAM_STORAGE || (all_allowed && id == 0xffffffffUL)) return 1;
    cam_respond(c, CAM_RC_INVALID_STORAGE_ID, tid, 0, 0);
    return 0;
}

static void cam_command(cam *c, const unsigned char *b, size_t len)
{
    unsigned op = b[6] | (b[7] << 8);
    uint32_t tid = cam_le32(b + 8), p[5] = {0, 0, 0, 0, 0};
    int np = (int)((len - 12) / 4), i;
    cam_buf data;
    data.n = 0;
    if (c->misbehave == FAKECAM_TRICKLE) {
        /* a data container of 1 MiB whose bytes never stop coming slowly */
        data.n = 0;
        cam_put32(&data, 12 + CAM_MIB);
        cam_put16(&data, CAM_PTP_DATA);
        cam_put16(&data, op);
        cam_put32(&data, tid);
        memcpy(c->trickle_hdr, data.b, 12);
        c->trickle_left = 12 + (long)CAM_MIB;
        return;
    }
    for (i = 0; i < np && i < 5; i++) p[i] = cam_le32(b + 12 + 4 * i);
    if (c->fail_op && op == c->fail_op) { cam_respond(c, c->fail_code, tid, 0, 0); return; }
    switch (op) {
    case CAM_OP_GET_DEVICE_INFO:
        cam_device_info(&data);
        cam_queue_container(c, CAM_PTP_DATA, op, tid, data.b, data.n);
        cam_respond(c, CAM_RC_OK, tid, 0, 0);
        return;
    case CAM_OP_OPEN_SESSION:
        if (np < 1 || p[0] == 0) cam_respond(c, CAM_RC_INVALID_PARAMETER, tid, 0, 0);
        else if (c->session) cam_respond(c, CAM_RC_SESSION_ALREADY_OPEN, tid, 1, c->session);
        else { c->session = p[0]; cam_respond(c, CAM_RC_OK, tid, 0, 0); }
        return;
    case CAM_OP_CLOSE_SESSION:
        if (!cam_need_session(c, tid)) return;
        c->session = 0;
        cam_respond(c, CAM_RC_OK, tid, 0, 0);
        return;
    case CAM_OP_GET_STORAGE_IDS:
        if (!cam_need_session(c, tid)) return;
        cam_put32(&data, 1);
        cam_put32(&data, CAM_STORAGE);
        cam_queue_container(c, CAM_PTP_DATA, op, tid, data.b, data.n);
        cam_respond(c, CAM_RC_OK, tid, 0, 0);
        return;
    case CAM_OP_GET_STORAGE_INFO:
        if (!cam_need_session(c, tid) || !cam_storage_ok(c, tid, p[0], 0)) return;
        cam_storage_info(&data);
        cam_queue_container(c, CAM_PTP_DATA, op, tid, data.b, data.n);
        cam_respond(c, CAM_RC_OK, tid, 0, 0);
        return;
    case CAM_OP_GET_NUM_OBJECTS:
    case CAM_OP_GET_OBJECT_HANDLES:
        if (!cam_need_session(c, tid) || !cam_storage_ok(c, tid, p[0], 1)) return;
        if (p[1] != 0) { cam_respond(c, CAM_RC_SPEC_BY_FORMAT_UNSUPPORTED, tid, 0, 0); return; }
        if (op == CAM_OP_GET_NUM_OBJECTS) { cam_respond(c, CAM_RC_OK, tid, 1, 0); return; }
        cam_put32(&data, 0);           /* the card is empty */
        cam_queue_container(c, CAM_PTP_DATA, op, tid, data.b, data.n);
        cam_respond(c, CAM_RC_OK, tid, 0, 0);
        return;
    default:
        cam_respond(c, CAM_RC_OPERATION_NOT_SUPPORTED, tid, 0, 0);
        return;
    }
}

/* Bytes from bulk OUT: command containers (which may come in pieces) are
 * answered; a host data phase (for an operation we refuse) is dropped. */
static void cam_bulk_out(cam *c, const unsigned char *b, size_t n)
{
    while (n > 0) {
        size_t want, take;
        if (c->skip) {
            take = n < c->skip ? n : c->skip;
            c->skip -= take; b += take; n -= take;
            continue;
        }
        want = c->cmd_len < 4 ? 4 : cam_le32(c->cmd);
        if (c->cmd_len >= 4 && (want < 12 || want > sizeof c->cmd)) {
            /* too long for a command: a data phase, or garbage; drop it */
            c->skip = want > c->cmd_len ? want - c->cmd_len : 0;
            c->cmd_len = 0;
            continue;
        }
        take = want - c->cmd_len < n ? want - c->cmd_len : n;
        memcpy(c->cmd + c->cmd_len, b, take);
        c->cmd_len += take; b += take; n -= take;
        if (c->cmd_len >= 12 && c->cmd_len == cam_le32(c->cmd)) {
            unsigned type = c->cmd[4] | (c->cmd[5] << 8);
            if (type == CAM_PTP_COMMAND) cam_command(c, c->cmd, c->cmd_len);
            c->cmd_len = 0;
        }
    }
}

static void cam_reset(cam *c)
{
    c->nx = c->head = 0;
    c->q_len = 0;
    c->cmd_len = 0;
    c->skip = 0;
}

/* Class requests of the still-image class on ep0; 0 leaves standard ones
 * (descriptors, features) to usb_fake.h. */
static int cam_control(usbf_device *d, usbf_urb *u, cam *c)
{
    struct usbdevfs_urb *s = usbf_u(u);
    unsigned char *b = u->buf ? u->buf->data : NULL;
    unsigned rt, req, len;
    if (!b || s->buffer_length < 8) return 0;
    rt = b[0]; req = b[1]; len = b[6] | (b[7] << 8);
    if ((rt & 0x60) == 0) return 0;
    if (rt == 0xa1 && req == 0x67 && len >= 4) {           /* Get Device Status: OK */
        static const unsigned char ok[4] = {4, 0, CAM_RC_OK & 0xff, CAM_RC_OK >> 8};
        memcpy(b + 8, ok, 4);
        usbf_push_ready(d, *u, 0, 4);
    } else if (rt == 0x21 && req == 0x64) {                 /* Cancel */
        cam_reset(c);
        usbf_push_ready(d, *u, 0, (int)len);
    } else if (rt == 0x21 && req == 0x66) {                 /* Device Reset */
        cam_reset(c);
        c->session = 0;
        usbf_push_ready(d, *u, 0, 0);
    } else {
        usbf_push_ready(d, *u, -EPIPE, 0);
    }
    return 1;
}

/* A bulk IN URB under --misbehave: 1 when taken.  zlp: it completes at
 * once and empty; silent: it is never answered (only a cancel ends it);
 * trickle: the header of the 1 MiB container, then one zero byte each. */
static int cam_misbehave_in(usbf_device *d, usbf_urb *u, cam *c)
{
    struct usbdevfs_urb *s = usbf_u(u);
    static const unsigned char zero = 0;
    switch (c->misbehave) {
    case FAKECAM_ZLP:
        usbf_push_ready(d, *u, 0, 0);
        return 1;
    case FAKECAM_SILENT:
        d->pending[d->npending++] = *u;
        return 1;
    case FAKECAM_TRICKLE:
        if (c->trickle_left <= 0 || s->buffer_length < 12) { d->pending[d->npending++] = *u; return 1; }
        if (c->trickle_left == 12 + (long)CAM_MIB) {
            usbf_fill_in(u, c->trickle_hdr, 12);
            c->trickle_left -= 12;
            usbf_push_ready(d, *u, 0, 12);
        } else {
            usbf_fill_in(u, &zero, 1);
            c->trickle_left--;
            usbf_push_ready(d, *u, 0, 1);
        }
        return 1;
    default:
        return 0;
    }
}

/* Sees every URB submitted to the camera (under the device lock). */
static int cam_submit(usbf_device *d, usbf_urb *u)
{
    cam *c = (cam *)d->user;
    struct usbdevfs_urb *s = usbf_u(u);
    if (s->type == USBDEVFS_URB_TYPE_CONTROL) return cam_control(d, u, c);
    switch (s->endpoint) {
    case 0x02:
        if (u->buf && s->buffer_length > 0) cam_bulk_out(c, u->buf->data, (size_t)s->buffer_length);
        usbf_push_ready(d, *u, 0, s->buffer_length);
        cam_serve(d, c);
        return 1;
    case 0x81:
        if (cam_misbehave_in(d, u, c)) return 1;
        d->pending[d->npending++] = *u;
        cam_serve(d, c);
        return 1;
    case 0x83:                                              /* events: none, ever */
        d->pending[d->npending++] = *u;
        return 1;
    default:
        usbf_push_ready(d, *u, -EPIPE, 0);
        return 1;
    }
}

/* The camera's device and configuration descriptors; their length. */
static size_t fakecam_descriptors(unsigned char *o)
{
    static const unsigned char b[] = {
        18, 1, 0x00, 0x02, 0, 0, 0, 64, CAM_VID & 0xff, CAM_VID >> 8, CAM_PID & 0xff, CAM_PID >> 8,
        0x00, 0x01, 1, 2, 3, 1,
        9, 2, 39, 0, 1, 1, 0, 0x80, 250,                    /* bus powered, 500 mA */
        9, 4, 0, 0, 3, 0x06, 0x01, 0x01, 4,                 /* still image, PTP */
        7, 5, 0x81, 2, 0x00, 0x02, 0,
        7, 5, 0x02, 2, 0x00, 0x02, 0,
        7, 5, 0x83, 3, 0x18, 0x00, 8,                       /* 24 bytes every 16 ms */
    };
    memcpy(o, b, sizeof b);
    return sizeof b;
}

/* Makes d the camera (its strings and responder, with state c) without
 * touching its descriptors; usbf_add it afterwards. */
G_GNUC_UNUSED static void fakecam_attach(usbf_device *d, cam *c)
{
    d->strings[1] = cam_manufacturer;
    d->strings[2] = cam_product;
    d->strings[3] = cam_serial;
    d->strings[4] = "Still Image Capture";
    d->on_submit = cam_submit;
    d->user = c;
}

/* The camera with its own descriptors, added to the testbed. */
G_GNUC_UNUSED static void fakecam_add(usbf_device *d, cam *c, const char *devpath, int bus, int addr)
{
    fakecam_attach(d, c);
    d->desc_len = fakecam_descriptors(d->desc);
    usbf_add(d, devpath, bus, addr, 480);
}

#endif
