/* examples/ptp_info.c - ask a camera who it is, over PTP (the still-image
 * class), with async bulk transfers chained from their callbacks.
 *
 *   cc -std=c99 -O2 -I. -o build/ptp_info examples/ptp_info.c $(pkg-config --cflags --libs libusb-1.0)
 *
 *   build/ptp_info [VID:PID]
 *
 * Picks the given device, or the first with a 06/01/01 interface, claims
 * it, opens a session (id 1, transaction 0), gets DeviceInfo (transaction
 * 1), closes the session and prints what the camera says about itself.
 * Exit status 1 when no camera answers.
 */
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PTP_COMMAND = 1, PTP_DATA = 2, PTP_RESPONSE = 3 };
enum { OP_GET_DEVICE_INFO = 0x1001, OP_OPEN_SESSION = 0x1002, OP_CLOSE_SESSION = 0x1003 };
enum { RC_OK = 0x2001, RC_SESSION_ALREADY_OPEN = 0x201e };
enum { CHUNK = 512, MAX_DATA = 1 << 20 };

typedef struct ptp {
    ausb_handle handle;
    ausb_transfer xfer;
    unsigned char ep_in, ep_out;
    unsigned char cmd[32];
    unsigned char chunk[CHUNK];
    unsigned char *data;          /* data phase payload, header stripped */
    size_t data_len, data_expected;
    int in_data;
    int step;                     /* 0 open, 1 device info, 2 close, 3 done */
    int failed;                   /* status of the first failure, 0 if none */
    int close_failed;
} ptp;

static uint32_t le32(const unsigned char *p) { return p[0] | (p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }
static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static void put32(unsigned char *p, uint32_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24); }
static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }

static void on_sent(ausb_transfer *t, int status, void *user);
static void on_received(ausb_transfer *t, int status, void *user);

static void fail(ptp *p, int status)
{
    if (p->step == 2) p->close_failed = status ? status : AUSB_ERROR;
    else if (!p->failed) p->failed = status ? status : AUSB_ERROR;
    p->step = 3;
}

static void receive(ptp *p)
{
    int r;
    ausb_fill_bulk(&p->xfer, &p->handle, p->ep_in, p->chunk, CHUNK, 5000, on_received, p);
    if ((r = ausb_submit(&p->xfer)) < 0) fail(p, r);
}

static void send_command(ptp *p, unsigned op, uint32_t tid, int nparams, uint32_t param)
{
    int len = 12 + 4 * nparams, r;
    put32(p->cmd, (uint32_t)len);
    put16(p->cmd + 4, PTP_COMMAND);
    put16(p->cmd + 6, op);
    put32(p->cmd + 8, tid);
    if (nparams) put32(p->cmd + 12, param);
    ausb_fill_bulk(&p->xfer, &p->handle, p->ep_out, p->cmd, len, 5000, on_sent, p);
    if ((r = ausb_submit(&p->xfer)) < 0) fail(p, r);
}

static void next_step(ptp *p)
{
    if (p->step == 1) send_command(p, OP_GET_DEVICE_INFO, 1, 0, 0);
    else if (p->step == 2) send_command(p, OP_CLOSE_SESSION, 2, 0, 0);
}

static void on_sent(ausb_transfer *t, int status, void *user)
{
    ptp *p = (ptp *)user;
    (void)t;
    if (status != 0) { fail(p, status); return; }
    p->in_data = 0;
    receive(p);
}

static int append(ptp *p, const unsigned char *b, size_t n)
{
    unsigned char *nd;
    if (p->data_len + n > MAX_DATA) return -1;
    nd = (unsigned char *)realloc(p->data, p->data_len + n + 1);
    if (!nd) return -1;
    p->data = nd;
    memcpy(p->data + p->data_len, b, n);
    p->data_len += n;
    return 0;
}

static void on_received(ausb_transfer *t, int status, void *user)
{
    ptp *p = (ptp *)user;
    size_t got = (size_t)t->actual_length;
    uint16_t type, code;
    if (status != 0) { fail(p, status); return; }
    if (p->in_data) {                               /* rest of a data phase */
        if (append(p, p->chunk, got) < 0) { fail(p, -ENOMEM); return; }
        if (p->data_len >= p->data_expected) p->in_data = 0;
        receive(p);
        return;
    }
    if (got == 0) { receive(p); return; }           /* zero-length packet */
    if (got < 12) { fail(p, AUSB_ERROR_IO); return; }
    type = le16(p->chunk + 4);
    code = le16(p->chunk + 6);
    if (type == PTP_DATA) {
        uint32_t total = le32(p->chunk);
        if (total < 12 || total - 12 > MAX_DATA) { fail(p, AUSB_ERROR_IO); return; }
        p->data_len = 0;
        p->data_expected = total - 12;
        if (append(p, p->chunk + 12, got - 12) < 0) { fail(p, -ENOMEM); return; }
        p->in_data = p->data_len < p->data_expected;
        receive(p);
        return;
    }
    if (type != PTP_RESPONSE) { fail(p, AUSB_ERROR_IO); return; }
    if (code != RC_OK && !(p->step == 0 && code == RC_SESSION_ALREADY_OPEN)) {
        fprintf(stderr, "ptp_info: operation failed with response 0x%04x\n", code);
        fail(p, AUSB_ERROR);
        return;
    }
    p->step++;
    next_step(p);
}

/* ---- DeviceInfo dataset ---- */

typedef struct reader { const unsigned char *p; size_t len, off; int bad; } reader;

static unsigned rd16(reader *r)
{
    if (r->off + 2 > r->len) { r->bad = 1; return 0; }
    r->off += 2;
    return le16(r->p + r->off - 2);
}

static uint32_t rd32(reader *r)
{
    if (r->off + 4 > r->len) { r->bad = 1; return 0; }
    r->off += 4;
    return le32(r->p + r->off - 4);
}

static uint32_t rd_array16(reader *r)
{
    uint32_t n = rd32(r);
    if (r->bad || n > (r->len - r->off) / 2) { r->bad = 1; return 0; }
    r->off += (size_t)n * 2;
    return n;
}

static void rd_string(reader *r, char *out, size_t cap)
{
    size_t n;
    out[0] = 0;
    if (r->off + 1 > r->len) { r->bad = 1; return; }
    n = r->p[r->off++];                              /* characters, with the NUL */
    if (n * 2 > r->len - r->off) { r->bad = 1; return; }
    if (n > 1 && ausb_utf16le_to_utf8(r->p + r->off, (n - 1) * 2, out, cap) < 0 && !out[0]) r->bad = 1;
    r->off += n * 2;
}

static int print_device_info(const unsigned char *d, size_t len)
{
    reader r = {d, len, 0, 0};
    char skip[512], manufacturer[512], model[512], version[512], serial[512];
    uint32_t ops;
    rd16(&r);                 /* standard version */
    rd32(&r);                 /* vendor extension id */
    rd16(&r);                 /* vendor extension version */
    rd_string(&r, skip, sizeof skip);
    rd16(&r);                 /* functional mode */
    ops = rd_array16(&r);
    rd_array16(&r);           /* events */
    rd_array16(&r);           /* device properties */
    rd_array16(&r);           /* capture formats */
    rd_array16(&r);           /* image formats */
    rd_string(&r, manufacturer, sizeof manufacturer);
    rd_string(&r, model, sizeof model);
    rd_string(&r, version, sizeof version);
    rd_string(&r, serial, sizeof serial);
    if (r.bad) { fprintf(stderr, "ptp_info: malformed DeviceInfo\n"); return -1; }
    printf("Manufacturer: %s\n", manufacturer);
    printf("Model: %s\n", model);
    printf("Device version: %s\n", version);
    printf("Serial number: %s\n", serial);
    printf("Operations supported: %u\n", (unsigned)ops);
    return 0;
}

/* ---- device selection ---- */

static int find_camera(ausb_ctx *ctx, const char *arg, ausb_device *dev)
{
    ausb_filter f;
    ausb_filter_init(&f);
    if (arg) {
        unsigned vid, pid;
        if (sscanf(arg, "%x:%x", &vid, &pid) != 2) return -EINVAL;
        f.vendor_id = (int)vid;
        f.product_id = (int)pid;
    } else {
        f.cls = 6;
        f.subclass = 1;
        f.protocol = 1;
    }
    return ausb_find(ctx, &f, dev);
}

/* The still-image interface and its bulk endpoints. */
static int find_interface(const ausb_device *dev, int *iface, unsigned char *in, unsigned char *out)
{
    ausb_config_desc *cfg;
    int i, a, e, found = -1;
    if (ausb_config_active(dev, &cfg) < 0 && ausb_config_get(dev, 0, &cfg) < 0) return -1;
    for (i = 0; i < cfg->bNumInterfaces && found < 0; i++) {
        for (a = 0; a < cfg->interface[i].num_altsetting && found < 0; a++) {
            const ausb_altsetting *s = &cfg->interface[i].altsetting[a];
            *in = *out = 0;
            for (e = 0; e < s->bNumEndpoints; e++) {
                const ausb_endpoint_desc *ep = &s->endpoint[e];
                if (ausb_ep_type(ep) != AUSB_EP_BULK) continue;
                if (ausb_ep_is_in(ep) && !*in) *in = ep->bEndpointAddress;
                if (!ausb_ep_is_in(ep) && !*out) *out = ep->bEndpointAddress;
            }
            if (*in && *out && (s->bInterfaceClass == 6 || cfg->bNumInterfaces == 1)) found = s->bInterfaceNumber;
        }
    }
    ausb_config_free(cfg);
    *iface = found;
    return found < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    ausb_ctx ctx;
    ausb_device dev;
    ptp p;
    int iface, r, rc = 1;
    memset(&p, 0, sizeof p);
    if ((r = ausb_init(&ctx, NULL)) < 0) { fprintf(stderr, "ptp_info: %s\n", ausb_strerror(r)); return 1; }
    if ((r = find_camera(&ctx, argc > 1 ? argv[1] : NULL, &dev)) < 0) {
        fprintf(stderr, "ptp_info: no camera found: %s\n", ausb_strerror(r));
        ausb_exit(&ctx);
        return 1;
    }
    if (find_interface(&dev, &iface, &p.ep_in, &p.ep_out) < 0) {
        fprintf(stderr, "ptp_info: no still-image interface with bulk endpoints\n");
        goto out_dev;
    }
    if ((r = ausb_open(&dev, &p.handle)) < 0) { fprintf(stderr, "ptp_info: open: %s\n", ausb_strerror(r)); goto out_dev; }
    if ((r = ausb_claim(&p.handle, iface)) < 0) { fprintf(stderr, "ptp_info: claim: %s\n", ausb_strerror(r)); goto out_close; }
    if ((r = ausb_transfer_init(&p.xfer, 0)) < 0) goto out_close;
    send_command(&p, OP_OPEN_SESSION, 0, 1, 1);
    while (p.step < 3 && ausb_pending(&ctx)) ausb_run_once(&ctx, -1);
    if (p.failed || p.step < 3) {
        fprintf(stderr, "ptp_info: camera did not answer: %s\n", ausb_strerror(p.failed ? p.failed : AUSB_ERROR));
    } else {
        if (p.close_failed) fprintf(stderr, "ptp_info: warning: CloseSession failed: %s\n", ausb_strerror(p.close_failed));
        rc = print_device_info(p.data, p.data_len) < 0 ? 1 : 0;
    }
    ausb_transfer_free(&p.xfer);
out_close:
    ausb_close(&p.handle);
out_dev:
    ausb_device_release(&dev);
    ausb_exit(&ctx);
    free(p.data);
    return rc;
}
