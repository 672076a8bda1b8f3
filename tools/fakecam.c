/* tools/fakecam.c - the project's own emulated USB camera, for the demo and
 * the tests: a PTP still-image device written with the libumockdev C API
 * (through tests/usb_fake.h), next to which a command runs.
 *
 *   cc -std=c99 -O2 -iquote . -o build/fakecam tools/fakecam.c $(pkg-config --cflags --libs umockdev-1.0)
 *
 *   build/fakecam [--fail OP[=CODE]] -- COMMAND ARGS...
 *
 * Builds an umockdev testbed holding a root hub (Bus 001 Device 001) and the
 * camera (Bus 001 Device 002, ID 1209:0001, a pid.codes test id; the
 * identity is invented: "AsyncKit Demo Camera", serial AK0123456789), runs COMMAND, which
 * inherits the testbed through UMOCKDEV_DIR and LD_PRELOAD, and exits with
 * COMMAND's status.  Started outside umockdev-wrapper, it starts itself
 * again under umockdev-wrapper.  No recording is replayed: every answer is
 * computed here.
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
 * --fail OP[=CODE] (hex) makes operation OP answer response CODE (default
 * 2002, General Error), to show how a client reports a refusal.
 */
#define _POSIX_C_SOURCE 200809L
#include "tests/usb_fake.h"
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

enum { PTP_COMMAND = 1, PTP_DATA = 2, PTP_RESPONSE = 3 };
enum {
    OP_GET_DEVICE_INFO = 0x1001, OP_OPEN_SESSION = 0x1002, OP_CLOSE_SESSION = 0x1003,
    OP_GET_STORAGE_IDS = 0x1004, OP_GET_STORAGE_INFO = 0x1005, OP_GET_NUM_OBJECTS = 0x1006,
    OP_GET_OBJECT_HANDLES = 0x1007
};
enum {
    RC_OK = 0x2001, RC_GENERAL_ERROR = 0x2002, RC_SESSION_NOT_OPEN = 0x2003,
    RC_OPERATION_NOT_SUPPORTED = 0x2005, RC_INVALID_STORAGE_ID = 0x2008,
    RC_SPEC_BY_FORMAT_UNSUPPORTED = 0x2014, RC_INVALID_PARAMETER = 0x201d,
    RC_SESSION_ALREADY_OPEN = 0x201e
};
enum { BULK_MPS = 512, MAX_XFERS = 8 };

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
    OP_GET_DEVICE_INFO, OP_OPEN_SESSION, OP_CLOSE_SESSION, OP_GET_STORAGE_IDS,
    OP_GET_STORAGE_INFO, OP_GET_NUM_OBJECTS, OP_GET_OBJECT_HANDLES,
};

/* One bulk IN transfer the camera has ready: a container, and the zero
 * length packet that ends it when its length is a multiple of 512. */
typedef struct cam_xfer { size_t off, len, sent; int zlp; } cam_xfer;

typedef struct cam {
    uint32_t session;             /* 0: none open */
    unsigned fail_op, fail_code;  /* --fail */
    unsigned char cmd[64];        /* a command container being received */
    size_t cmd_len;
    size_t skip;                  /* bytes of a host data phase still to drop */
    unsigned char q[4096];        /* containers for bulk IN */
    size_t q_len;
    cam_xfer x[MAX_XFERS];
    int nx, head;
} cam;

static cam camera_state;
static usbf_device root_hub, camera;

static uint32_t cam_le32(const unsigned char *p)
{
    return p[0] | (p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* ---- building datasets ---- */

typedef struct cam_buf { unsigned char b[1024]; size_t n; } cam_buf;

static void put8(cam_buf *o, unsigned v) { if (o->n < sizeof o->b) o->b[o->n++] = (unsigned char)v; }
static void put16(cam_buf *o, unsigned v) { put8(o, v & 0xff); put8(o, (v >> 8) & 0xff); }
static void put32(cam_buf *o, uint32_t v) { put16(o, v & 0xffff); put16(o, (unsigned)(v >> 16)); }
static void put64(cam_buf *o, uint64_t v) { put32(o, (uint32_t)v); put32(o, (uint32_t)(v >> 32)); }

/* A PTP string: count of UTF-16 units with the NUL, then the units (ASCII
 * here); the empty string is the single byte 0. */
static void put_string(cam_buf *o, const char *s)
{
    size_t n = strlen(s);
    if (n == 0) { put8(o, 0); return; }
    put8(o, (unsigned)(n + 1));
    while (*s) put16(o, (unsigned char)*s++);
    put16(o, 0);
}

static void device_info(cam_buf *o)
{
    size_t i;
    put16(o, 100);                 /* PTP 1.00 */
    put32(o, 0);                   /* no vendor extension */
    put16(o, 0);
    put_string(o, "");
    put16(o, 0);                   /* standard functional mode */
    put32(o, (uint32_t)(sizeof cam_ops / sizeof cam_ops[0]));
    for (i = 0; i < sizeof cam_ops / sizeof cam_ops[0]; i++) put16(o, cam_ops[i]);
    put32(o, 0);                   /* events */
    put32(o, 0);                   /* device properties */
    put32(o, 0);                   /* capture formats: it cannot take pictures */
    put32(o, 1);                   /* image formats: EXIF/JPEG */
    put16(o, 0x3801);
    put_string(o, cam_manufacturer);
    put_string(o, cam_model);
    put_string(o, cam_version);
    put_string(o, cam_serial);
}

static void storage_info(cam_buf *o)
{
    put16(o, 0x0004);              /* removable RAM */
    put16(o, 0x0003);              /* DCF */
    put16(o, 0x0000);              /* read-write */
    put64(o, 7580 * CAM_MIB);      /* max capacity */
    put64(o, 6800 * CAM_MIB);      /* free space */
    put32(o, 2400);                /* free space in images */
    put_string(o, "SD card");
    put_string(o, "DEMO_CARD");
}

/* ---- the bulk IN queue ---- */

static void queue_container(cam *c, unsigned type, unsigned code, uint32_t tid,
                            const unsigned char *payload, size_t n)
{
    cam_buf h;
    cam_xfer *x;
    if (c->nx >= MAX_XFERS || c->q_len + 12 + n > sizeof c->q) return;
    h.n = 0;
    put32(&h, (uint32_t)(12 + n));
    put16(&h, type);
    put16(&h, code);
    put32(&h, tid);
    x = &c->x[c->nx++];
    x->off = c->q_len;
    x->len = 12 + n;
    x->sent = 0;
    x->zlp = x->len % BULK_MPS == 0;
    memcpy(c->q + c->q_len, h.b, 12);
    if (n) memcpy(c->q + c->q_len + 12, payload, n);
    c->q_len += x->len;
}

static void respond(cam *c, unsigned code, uint32_t tid, int nparams, uint32_t param)
{
    cam_buf p;
    p.n = 0;
    if (nparams) put32(&p, param);
    queue_container(c, PTP_RESPONSE, code, tid, p.b, p.n);
}

/* Hands queued bytes to the pending bulk IN URBs, oldest first.  A URB
 * ends with a full buffer or with the end of a container; a container of
 * a multiple of 512 bytes ends with a zero length packet, which a URB
 * with room left takes along. */
static void serve(usbf_device *d, cam *c)
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

static int need_session(cam *c, uint32_t tid)
{
    if (c->session) return 1;
    respond(c, RC_SESSION_NOT_OPEN, tid, 0, 0);
    return 0;
}

/* Storage parameters: our one storage, or 0xFFFFFFFF for all of them. */
static int storage_ok(cam *c, uint32_t tid, uint32_t id, int all_allowed)
{
    if (id == CAM_STORAGE || (all_allowed && id == 0xffffffffUL)) return 1;
    respond(c, RC_INVALID_STORAGE_ID, tid, 0, 0);
    return 0;
}

static void command(cam *c, const unsigned char *b, size_t len)
{
    unsigned op = b[6] | (b[7] << 8);
    uint32_t tid = cam_le32(b + 8), p[5] = {0, 0, 0, 0, 0};
    int np = (int)((len - 12) / 4), i;
    cam_buf data;
    data.n = 0;
    for (i = 0; i < np && i < 5; i++) p[i] = cam_le32(b + 12 + 4 * i);
    if (c->fail_op && op == c->fail_op) { respond(c, c->fail_code, tid, 0, 0); return; }
    switch (op) {
    case OP_GET_DEVICE_INFO:
        device_info(&data);
        queue_container(c, PTP_DATA, op, tid, data.b, data.n);
        respond(c, RC_OK, tid, 0, 0);
        return;
    case OP_OPEN_SESSION:
        if (np < 1 || p[0] == 0) respond(c, RC_INVALID_PARAMETER, tid, 0, 0);
        else if (c->session) respond(c, RC_SESSION_ALREADY_OPEN, tid, 1, c->session);
        else { c->session = p[0]; respond(c, RC_OK, tid, 0, 0); }
        return;
    case OP_CLOSE_SESSION:
        if (!need_session(c, tid)) return;
        c->session = 0;
        respond(c, RC_OK, tid, 0, 0);
        return;
    case OP_GET_STORAGE_IDS:
        if (!need_session(c, tid)) return;
        put32(&data, 1);
        put32(&data, CAM_STORAGE);
        queue_container(c, PTP_DATA, op, tid, data.b, data.n);
        respond(c, RC_OK, tid, 0, 0);
        return;
    case OP_GET_STORAGE_INFO:
        if (!need_session(c, tid) || !storage_ok(c, tid, p[0], 0)) return;
        storage_info(&data);
        queue_container(c, PTP_DATA, op, tid, data.b, data.n);
        respond(c, RC_OK, tid, 0, 0);
        return;
    case OP_GET_NUM_OBJECTS:
    case OP_GET_OBJECT_HANDLES:
        if (!need_session(c, tid) || !storage_ok(c, tid, p[0], 1)) return;
        if (p[1] != 0) { respond(c, RC_SPEC_BY_FORMAT_UNSUPPORTED, tid, 0, 0); return; }
        if (op == OP_GET_NUM_OBJECTS) { respond(c, RC_OK, tid, 1, 0); return; }
        put32(&data, 0);           /* the card is empty */
        queue_container(c, PTP_DATA, op, tid, data.b, data.n);
        respond(c, RC_OK, tid, 0, 0);
        return;
    default:
        respond(c, RC_OPERATION_NOT_SUPPORTED, tid, 0, 0);
        return;
    }
}

/* Bytes from bulk OUT: command containers (which may come in pieces) are
 * answered; a host data phase (for an operation we refuse) is dropped. */
static void bulk_out(cam *c, const unsigned char *b, size_t n)
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
            if (type == PTP_COMMAND) command(c, c->cmd, c->cmd_len);
            c->cmd_len = 0;
        }
    }
}

static void reset(cam *c)
{
    c->nx = c->head = 0;
    c->q_len = 0;
    c->cmd_len = 0;
    c->skip = 0;
}

/* Class requests of the still-image class on ep0; 0 leaves standard ones
 * (descriptors, features) to usb_fake.h. */
static int control(usbf_device *d, usbf_urb *u, cam *c)
{
    struct usbdevfs_urb *s = usbf_u(u);
    unsigned char *b = u->buf ? u->buf->data : NULL;
    unsigned rt, req, len;
    if (!b || s->buffer_length < 8) return 0;
    rt = b[0]; req = b[1]; len = b[6] | (b[7] << 8);
    if ((rt & 0x60) == 0) return 0;
    if (rt == 0xa1 && req == 0x67 && len >= 4) {           /* Get Device Status: OK */
        static const unsigned char ok[4] = {4, 0, RC_OK & 0xff, RC_OK >> 8};
        memcpy(b + 8, ok, 4);
        usbf_push_ready(d, *u, 0, 4);
    } else if (rt == 0x21 && req == 0x64) {                 /* Cancel */
        reset(c);
        usbf_push_ready(d, *u, 0, (int)len);
    } else if (rt == 0x21 && req == 0x66) {                 /* Device Reset */
        reset(c);
        c->session = 0;
        usbf_push_ready(d, *u, 0, 0);
    } else {
        usbf_push_ready(d, *u, -EPIPE, 0);
    }
    return 1;
}

/* Sees every URB submitted to the camera (under the device lock). */
static int camera_submit(usbf_device *d, usbf_urb *u)
{
    cam *c = (cam *)d->user;
    struct usbdevfs_urb *s = usbf_u(u);
    if (s->type == USBDEVFS_URB_TYPE_CONTROL) return control(d, u, c);
    switch (s->endpoint) {
    case 0x02:
        if (u->buf && s->buffer_length > 0) bulk_out(c, u->buf->data, (size_t)s->buffer_length);
        usbf_push_ready(d, *u, 0, s->buffer_length);
        serve(d, c);
        return 1;
    case 0x81:
        d->pending[d->npending++] = *u;
        serve(d, c);
        return 1;
    case 0x83:                                              /* events: none, ever */
        d->pending[d->npending++] = *u;
        return 1;
    default:
        usbf_push_ready(d, *u, -EPIPE, 0);
        return 1;
    }
}

static size_t camera_descriptors(unsigned char *o)
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

/* ---- the runner ---- */

static int under_umockdev(void)
{
    const char *pre = getenv("LD_PRELOAD");
    return pre && strstr(pre, "umockdev-preload");
}

static void usage(void)
{
    fprintf(stderr, "usage: fakecam [--fail OP[=CODE]] -- COMMAND ARGS...\n");
}

int main(int argc, char **argv)
{
    int i = 1, status;
    pid_t pid;
    cam *c = &camera_state;
    while (i < argc && strcmp(argv[i], "--") != 0) {
        if (strcmp(argv[i], "--fail") == 0 && i + 1 < argc) {
            char *end;
            c->fail_op = (unsigned)strtoul(argv[i + 1], &end, 16);
            c->fail_code = RC_GENERAL_ERROR;
            if (*end == '=') c->fail_code = (unsigned)strtoul(end + 1, &end, 16);
            if (*end || c->fail_op == 0 || c->fail_code > 0xffff) { usage(); return 2; }
            i += 2;
        } else {
            usage();
            return 2;
        }
    }
    if (i < argc) i++;
    if (i >= argc) { usage(); return 2; }
    if (!under_umockdev()) {
        /* umockdev-wrapper preloads the library that makes the testbed
         * visible; start again under it (once: the variable says so). */
        char **args;
        int k;
        if (getenv("FAKECAM_WRAPPED")) {
            fprintf(stderr, "fakecam: needs umockdev-wrapper (Debian package umockdev)\n");
            return 2;
        }
        if (!(args = (char **)calloc((size_t)argc + 2, sizeof *args))) return 2;
        setenv("FAKECAM_WRAPPED", "1", 1);
        args[0] = (char *)"umockdev-wrapper";
        for (k = 0; k < argc; k++) args[k + 1] = argv[k];
        execvp(args[0], args);
        fprintf(stderr, "fakecam: cannot start umockdev-wrapper (Debian package umockdev): %s\n", strerror(errno));
        free(args);
        return 2;
    }
    usbf_init();
    root_hub.desc_len = usbf_hub_descriptors(root_hub.desc);
    usbf_add(&root_hub, "/devices/fake/usb1", 1, 1, 480);
    camera.strings[1] = cam_manufacturer;
    camera.strings[2] = cam_product;
    camera.strings[3] = cam_serial;
    camera.strings[4] = "Still Image Capture";
    camera.desc_len = camera_descriptors(camera.desc);
    camera.on_submit = camera_submit;
    camera.user = c;
    usbf_add(&camera, "/devices/fake/usb1/1-1", 1, 2, 480);
    fflush(NULL);
    pid = fork();
    if (pid < 0) { perror("fakecam: fork"); return 2; }
    if (pid == 0) {
        execvp(argv[i], argv + i);
        fprintf(stderr, "fakecam: %s: %s\n", argv[i], strerror(errno));
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) { perror("fakecam: waitpid"); status = 2 << 8; break; }
    }
    usbf_done();
    g_free(root_hub.syspath);
    g_free(camera.syspath);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
