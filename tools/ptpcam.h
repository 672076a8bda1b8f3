/* tools/ptpcam.h - the emulated PTP camera's logic with no transport: what
 * it answers, not how the bytes travel.  Two transports carry it:
 * tools/fakecam.h (an umockdev testbed: tools/fakecam.c, the quick suites)
 * and tools/ffsdev.c (a real gadget through the kernel's FunctionFS, in the
 * test VM).  All functions are static; it needs only libc.
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
 * A cam's fail_op / fail_code make one operation answer a refusal; under
 * misbehave FAKECAM_TRICKLE every command begins a 1 MiB data container
 * (trickle_hdr, trickle_left) that a transport sends a byte at a time.
 *
 * What a transport uses:
 *   cam_bulk_out(c, bytes, n)      what the host sent on bulk OUT, in any pieces
 *   cam_in_front(c)                the oldest container waiting for bulk IN
 *                                  (NULL: none): c->q + x->off, x->len bytes
 *   cam_in_pop(c)                  that container has gone
 *   cam_class_request(c, ...)      a class request on ep0
 *   cam_reset(c)                   drop what is queued (Cancel, a reset, unplug)
 *   fakecam_descriptors(buf)       device and configuration descriptors
 *   cam_strings[]                  the strings they name, by index
 */
#ifndef PTPCAM_H
#define PTPCAM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

#define CAM_MANUFACTURER "AsyncKit"
#define CAM_PRODUCT "Demo Camera"             /* USB product string */
#define CAM_MODEL "AsyncKit Demo Camera"      /* PTP model */
#define CAM_VERSION "1.0"
#define CAM_SERIAL "AK0123456789"

/* The string descriptors, by index (0: none). */
static const char *const cam_strings[5] = {
    NULL, CAM_MANUFACTURER, CAM_PRODUCT, CAM_SERIAL, "Still Image Capture"
};

static const unsigned short cam_ops[] = {
    CAM_OP_GET_DEVICE_INFO, CAM_OP_OPEN_SESSION, CAM_OP_CLOSE_SESSION, CAM_OP_GET_STORAGE_IDS,
    CAM_OP_GET_STORAGE_INFO, CAM_OP_GET_NUM_OBJECTS, CAM_OP_GET_OBJECT_HANDLES,
};

/* One container the camera has ready for bulk IN: off and len are the
 * camera's; sent, and zlp (a container of a multiple of 512 bytes ends
 * with a zero length packet), are for the transport to track. */
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
    cam_put_string(o, CAM_MANUFACTURER);
    cam_put_string(o, CAM_MODEL);
    cam_put_string(o, CAM_VERSION);
    cam_put_string(o, CAM_SERIAL);
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

static cam_xfer *cam_in_front(cam *c)
{
    return c->head < c->nx ? &c->x[c->head] : NULL;
}

/* The front container has gone; once all have, the queue starts over. */
static void cam_in_pop(cam *c)
{
    if (c->head < c->nx) c->head++;
    if (c->head == c->nx) c->nx = c->head = 0, c->q_len = 0;
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

/* A class request of the still-image class on ep0 (rt, req: the setup
 * packet's first two bytes; data: its data stage, len bytes, filled for an
 * IN request).  Returns the bytes answered (IN), 0 (OUT, accepted), or -1
 * for a stall. */
static int cam_class_request(cam *c, unsigned rt, unsigned req, unsigned char *data, unsigned len)
{
    if (rt == 0xa1 && req == 0x67 && len >= 4) {           /* Get Device Status: OK */
        data[0] = 4; data[1] = 0;
        data[2] = CAM_RC_OK & 0xff; data[3] = CAM_RC_OK >> 8;
        return 4;
    }
    if (rt == 0x21 && req == 0x64) {                        /* Cancel */
        cam_reset(c);
        return 0;
    }
    if (rt == 0x21 && req == 0x66) {                        /* Device Reset */
        cam_reset(c);
        c->session = 0;
        return 0;
    }
    return -1;
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

#endif
