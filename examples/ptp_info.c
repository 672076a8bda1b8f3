/* examples/ptp_info.c - ask a camera who it is, over PTP (the still-image
 * class), with async bulk transfers chained from their callbacks.
 *
 *   cc -std=c99 -O2 -I. -o build/ptp_info examples/ptp_info.c $(pkg-config --cflags --libs libusb-1.0)
 *
 *   build/ptp_info [--timeout SECONDS] [VID:PID]
 *       SECONDS   the whole session may take this long, 1..3600 (default 30)
 *       VID:PID   device ids in hex, e.g. 04a9:31c0 (default: the first
 *                 device with a still-image interface)
 *
 * Picks the given device, or the first with a 06/01/01 interface, claims
 * it, opens a session (id 1, transaction 0), gets DeviceInfo (transaction
 * 1), the storage ids and each storage's StorageInfo, closes the session
 * and prints what the camera says about itself: five lines of identity,
 * then one line per storage.  Exit status 1 when no camera answers; a
 * camera that tells who it is but not what storage it has gets a warning;
 * 2 for a bad command line.
 *
 * Whatever the camera does, ptp_info ends: the session has a deadline
 * (--timeout), which no transfer's own timeout outlasts (a camera can keep
 * every transfer completing and so never trip one), more than a few
 * zero-length packets in a row end it, a data phase holds at most 1 MiB,
 * and the camera's strings are printed with control characters replaced.
 *
 * What the camera sends is parsed by examples/ptp_parse.h (no I/O; fuzzed
 * by tests/fuzz/fuzz_ptp_parse.c); the quoted #include finds it next to
 * this file, so the one command above still builds the example.
 */
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"
#include "ptp_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OP_GET_DEVICE_INFO = 0x1001, OP_OPEN_SESSION = 0x1002, OP_CLOSE_SESSION = 0x1003,
       OP_GET_STORAGE_IDS = 0x1004, OP_GET_STORAGE_INFO = 0x1005 };
enum { RC_OK = 0x2001, RC_SESSION_ALREADY_OPEN = 0x201e };
enum { CHUNK = 512, MAX_STORAGES = 8, TRANSFER_MS = 5000, DEFAULT_SESSION_S = 30, MAX_SESSION_S = 3600 };
/* The steps, in order; a failed storage step still closes the session. */
enum { ST_OPEN, ST_INFO, ST_STORAGE_IDS, ST_STORAGE_INFO, ST_CLOSE, ST_DONE };

typedef struct ptp {
    ausb_handle handle;
    ausb_transfer xfer;
    unsigned char ep_in, ep_out;
    unsigned char cmd[32];
    unsigned char chunk[CHUNK];
    ptp_rx rx;                    /* data phase and response of the transaction */
    int step;                     /* ST_* */
    uint32_t tid;                 /* next transaction id */
    ptp_device_info info;         /* what DeviceInfo said */
    int have_info, info_ok;
    uint32_t storage[MAX_STORAGES];
    int nstorage, at_storage;
    char storage_text[MAX_STORAGES][2 * PTP_TEXT_MAX + 96];  /* two strings of any length, whole */
    char reason[128];             /* what ends a step, when not a transfer status */
    char failed[128];             /* why each part failed, "" when it did not */
    char storage_failed[128], close_failed[128];
    int refused;                  /* p->failed says more than "did not answer" */
    int64_t deadline;             /* the end of the session (ausb_now_ns) */
    int expired;                  /* the deadline passed first */
} ptp;

static void put32(unsigned char *p, uint32_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24); }
static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }

static void on_sent(ausb_transfer *t, int status, void *ud);
static void on_received(ausb_transfer *t, int status, void *ud);

static void send_command(ptp *p, unsigned op, int nparams, uint32_t param);

static const char *op_name(int step)
{
    static const char *const names[] = {"OpenSession", "GetDeviceInfo", "GetStorageIDs", "GetStorageInfo",
                                        "CloseSession", "?"};
    return names[step];
}

static const char *response_name(unsigned code)
{
    switch (code) {
    case 0x2002: return "General Error";
    case 0x2003: return "Session Not Open";
    case 0x2005: return "Operation Not Supported";
    case 0x2008: return "Invalid StorageID";
    case 0x2013: return "Store Not Available";
    case 0x2019: return "Device Busy";
    case 0x201d: return "Invalid Parameter";
    default: return "see the PTP specification";
    }
}

/* Identity comes first: a failure before it ends the exchange, a failure
 * while asking about storage still closes the session. */
static void fail(ptp *p, int status)
{
    int storage = p->step == ST_STORAGE_IDS || p->step == ST_STORAGE_INFO;
    char *why = p->step == ST_CLOSE ? p->close_failed : storage ? p->storage_failed : p->failed;
    if (!why[0]) snprintf(why, sizeof p->failed, "%s", p->reason[0] ? p->reason : ausb_strerror(status));
    if (why == p->failed && p->reason[0]) p->refused = 1;
    p->reason[0] = 0;
    if (storage) {
        p->step = ST_CLOSE;
        send_command(p, OP_CLOSE_SESSION, 0, 0);
        return;
    }
    p->step = ST_DONE;
}

/* A failure that is not a transfer's: the camera said something wrong. */
static void stop(ptp *p, const char *why)
{
    snprintf(p->reason, sizeof p->reason, "%s", why);
    fail(p, AUSB_EFAIL);
}

/* A transfer's timeout never reaches past the session's deadline. */
static unsigned transfer_timeout(const ptp *p)
{
    int64_t left_ms = (p->deadline - ausb_now_ns()) / 1000000 + 1;
    return left_ms < TRANSFER_MS ? (unsigned)(left_ms > 1 ? left_ms : 1) : TRANSFER_MS;
}

/* From a callback: 1 when the session's time is up (it then ends). */
static int expired(ptp *p)
{
    if (ausb_now_ns() < p->deadline) return 0;
    p->expired = 1;
    p->step = ST_DONE;
    return 1;
}

static void receive(ptp *p)
{
    int r;
    ausb_fill_bulk(&p->xfer, &p->handle, p->ep_in, p->chunk, CHUNK, AUSB_MS(transfer_timeout(p)), on_received, p);
    if ((r = ausb_submit(&p->xfer)) < 0) fail(p, r);
}

static void send_command(ptp *p, unsigned op, int nparams, uint32_t param)
{
    int len = 12 + 4 * nparams, r;
    uint32_t tid = p->tid++;
    put32(p->cmd, (uint32_t)len);
    put16(p->cmd + 4, PTP_COMMAND);
    put16(p->cmd + 6, op);
    put32(p->cmd + 8, tid);
    if (nparams) put32(p->cmd + 12, param);
    ptp_rx_start(&p->rx, (uint16_t)op, tid);
    ausb_fill_bulk(&p->xfer, &p->handle, p->ep_out, p->cmd, len, AUSB_MS(transfer_timeout(p)), on_sent, p);
    if ((r = ausb_submit(&p->xfer)) < 0) fail(p, r);
}

static int read_storage_ids(ptp *p);
static int read_storage_info(ptp *p);

/* The operation of step p->step has answered OK: keep what it sent, ask
 * the next question. */
static void next_step(ptp *p)
{
    switch (p->step) {
    case ST_OPEN:
        p->step = ST_INFO;
        send_command(p, OP_GET_DEVICE_INFO, 0, 0);
        return;
    case ST_INFO:
        if (!p->rx.got_data) { stop(p, "DeviceInfo came without data"); return; }
        p->have_info = 1;
        p->info_ok = ptp_device_info_parse(p->rx.data, p->rx.data_len, &p->info) == 0;
        p->step = ST_STORAGE_IDS;
        send_command(p, OP_GET_STORAGE_IDS, 0, 0);
        return;
    case ST_STORAGE_IDS:
        if (read_storage_ids(p) < 0) { stop(p, "malformed StorageIDs"); return; }
        break;
    case ST_STORAGE_INFO:
        if (read_storage_info(p) < 0) { stop(p, "malformed StorageInfo"); return; }
        p->at_storage++;
        break;
    default:
        p->step = ST_DONE;
        return;
    }
    if (p->at_storage < p->nstorage) {
        p->step = ST_STORAGE_INFO;
        send_command(p, OP_GET_STORAGE_INFO, 1, p->storage[p->at_storage]);
    } else {
        p->step = ST_CLOSE;
        send_command(p, OP_CLOSE_SESSION, 0, 0);
    }
}

static void on_sent(ausb_transfer *t, int status, void *ud)
{
    ptp *p = (ptp *)ud;
    (void)t;
    if (expired(p)) return;
    if (status != 0) { fail(p, status); return; }
    receive(p);
}

static void on_received(ausb_transfer *t, int status, void *ud)
{
    ptp *p = (ptp *)ud;
    int r;
    uint16_t code;
    char why[128];
    if (expired(p)) return;
    if (status != 0) { fail(p, status); return; }
    r = ptp_rx_feed(&p->rx, p->chunk, (size_t)t->actual_length);
    if (r == PTP_RX_ENOMEM) { fail(p, -ENOMEM); return; }
    if (r == PTP_RX_EZLP) {
        snprintf(why, sizeof why, "the camera answered %s with nothing but zero-length packets", op_name(p->step));
        stop(p, why);
        return;
    }
    if (r < 0) {
        snprintf(why, sizeof why, "the camera's answer to %s breaks the PTP protocol", op_name(p->step));
        stop(p, why);
        return;
    }
    if (r == PTP_RX_MORE) { receive(p); return; }
    code = p->rx.response;
    if (code != RC_OK && !(p->step == ST_OPEN && code == RC_SESSION_ALREADY_OPEN)) {
        snprintf(why, sizeof why, "the camera refused %s: PTP response 0x%04x (%s)",
                 op_name(p->step), code, response_name(code));
        stop(p, why);
        return;
    }
    next_step(p);
}

static int print_device_info(const ptp *p)
{
    if (!p->info_ok) { fprintf(stderr, "ptp_info: malformed DeviceInfo\n"); return -1; }
    printf("Manufacturer: %s\n", p->info.manufacturer);
    printf("Model: %s\n", p->info.model);
    printf("Device version: %s\n", p->info.version);
    printf("Serial number: %s\n", p->info.serial);
    printf("Operations supported: %u\n", (unsigned)p->info.operations);
    return 0;
}

/* ---- storage ---- */

/* GetStorageIDs: an array of 32-bit ids (the first MAX_STORAGES kept). */
static int read_storage_ids(ptp *p)
{
    if (!p->rx.got_data) return -1;
    return ptp_storage_ids_parse(p->rx.data, p->rx.data_len, p->storage, MAX_STORAGES, &p->nstorage);
}

/* StorageInfo: one line naming the storage, its label and its space. */
static int read_storage_info(ptp *p)
{
    ptp_storage_info si;
    if (!p->rx.got_data || ptp_storage_info_parse(p->rx.data, p->rx.data_len, &si) < 0) return -1;
    snprintf(p->storage_text[p->at_storage], sizeof p->storage_text[0],
             "Storage 0x%08lx: %s (%s), %llu MiB free of %llu MiB", (unsigned long)p->storage[p->at_storage],
             si.description[0] ? si.description : "no description", si.label[0] ? si.label : "no label",
             (unsigned long long)(si.free_bytes >> 20), (unsigned long long)(si.capacity >> 20));
    return 0;
}

/* ---- device selection ---- */

/* vid and pid < 0: the first still-image device. */
static int find_camera(ausb_ctx *ctx, int vid, int pid, ausb_device *dev)
{
    ausb_filter f;
    ausb_filter_init(&f);
    if (vid >= 0) {
        f.vendor_id = vid;
        f.product_id = pid;
    } else {
        f.cls = 6;
        f.subclass = 1;
        f.protocol = 1;
    }
    return ausb_find(dev, ctx, &f);
}

/* The still-image interface and its bulk endpoints. */
static int find_interface(const ausb_device *dev, int *iface, unsigned char *in, unsigned char *out)
{
    ausb_config_desc *cfg;
    const ausb_interface *itf;
    const ausb_altsetting *s;
    const ausb_endpoint_desc *ep;
    int i, a, e, found = -1, only_one;
    if (ausb_config_active(&cfg, dev) < 0 && ausb_config_get(&cfg, dev, 0) < 0) return -1;
    /* the tree as libusb parsed it: walked with the accessors, which stop
     * where a malformed configuration left an array out */
    only_one = ausb_config_interface_at(cfg, 0) && !ausb_config_interface_at(cfg, 1);
    for (i = 0; found < 0 && (itf = ausb_config_interface_at(cfg, i)) != NULL; i++) {
        for (a = 0; found < 0 && (s = ausb_interface_altsetting_at(itf, a)) != NULL; a++) {
            *in = *out = 0;
            for (e = 0; (ep = ausb_altsetting_endpoint_at(s, e)) != NULL; e++) {
                if (ausb_ep_type(ep) != AUSB_EP_BULK) continue;
                if (ausb_ep_is_in(ep) && !*in) *in = ep->bEndpointAddress;
                if (!ausb_ep_is_in(ep) && !*out) *out = ep->bEndpointAddress;
            }
            if (*in && *out && (s->bInterfaceClass == 6 || only_one)) found = s->bInterfaceNumber;
        }
    }
    ausb_config_free(cfg);
    *iface = found;
    return found < 0 ? -1 : 0;
}

/* ---- the command line ---- */

/* Whole seconds, 1..MAX_SESSION_S, digits only. */
static int parse_seconds(const char *s, int *out)
{
    int v = 0, n = 0;
    for (; *s; s++, n++) {
        if (*s < '0' || *s > '9' || n == 4) return -1;
        v = v * 10 + (*s - '0');
    }
    if (n == 0 || v < 1 || v > MAX_SESSION_S) return -1;
    *out = v;
    return 0;
}

static int usage(const char *why, const char *arg)
{
    if (why && arg) fprintf(stderr, "ptp_info: %s: '%s'\n", why, arg);
    else if (why) fprintf(stderr, "ptp_info: %s\n", why);
    fprintf(stderr, "usage: ptp_info [--timeout SECONDS] [VID:PID]   (SECONDS 1..%d, default %d; ids in hex)\n",
            MAX_SESSION_S, DEFAULT_SESSION_S);
    return 2;
}

/* 0, or 2 after the usage line; *vid stays -1 without VID:PID. */
static int parse_args(int argc, char **argv, int *seconds, int *vid, int *pid)
{
    int i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--timeout") == 0) {
            if (++i == argc) return usage("--timeout needs a value", NULL);
            if (parse_seconds(argv[i], seconds) < 0) return usage("SECONDS must be a whole number 1..3600", argv[i]);
        } else if (*vid < 0) {
            if (ausb_parse_ids(argv[i], vid, pid) < 0) return usage("VID:PID must be two hex ids of 1 to 4 digits", argv[i]);
        } else {
            return usage("one device at a time", argv[i]);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    ausb_ctx ctx;
    ausb_device dev;
    ptp p;
    int iface, r, rc = 1, seconds = DEFAULT_SESSION_S, vid = -1, pid = -1;
    memset(&p, 0, sizeof p);
    if ((r = parse_args(argc, argv, &seconds, &vid, &pid)) != 0) return r;
    p.deadline = ausb_now_ns() + (int64_t)seconds * 1000000000;
    if ((r = ausb_ctx_init(&ctx, NULL)) < 0) { fprintf(stderr, "ptp_info: %s\n", ausb_strerror(r)); return 1; }
    if ((r = find_camera(&ctx, vid, pid, &dev)) < 0) {
        if (r == -ENOENT) fprintf(stderr, "ptp_info: no camera found\n");
        else fprintf(stderr, "ptp_info: looking for a camera: %s\n", ausb_strerror(r));
        ausb_ctx_close(&ctx);
        return 1;
    }
    if (find_interface(&dev, &iface, &p.ep_in, &p.ep_out) < 0) {
        fprintf(stderr, "ptp_info: no still-image interface with bulk endpoints\n");
        goto out_dev;
    }
    if ((r = ausb_open(&p.handle, &dev)) < 0) { fprintf(stderr, "ptp_info: open: %s\n", ausb_strerror(r)); goto out_dev; }
    if ((r = ausb_claim(&p.handle, iface)) < 0) { fprintf(stderr, "ptp_info: claim: %s\n", ausb_strerror(r)); goto out_close; }
    if ((r = ausb_transfer_init(&p.xfer, 0)) < 0) { fprintf(stderr, "ptp_info: %s\n", ausb_strerror(r)); goto out_close; }
    send_command(&p, OP_OPEN_SESSION, 1, 1);
    while (p.step < ST_DONE && ausb_pending(&ctx))
        if ((r = ausb_run_once(&ctx, -1)) < 0) break;
    if (r < 0) {
        fprintf(stderr, "ptp_info: %s\n", ausb_strerror(r));
    } else if (p.expired) {
        fprintf(stderr, "ptp_info: the camera did not finish the session within %d s (--timeout)\n", seconds);
    } else if (p.failed[0] || p.step < ST_DONE || !p.have_info) {
        if (p.refused) fprintf(stderr, "ptp_info: %s\n", p.failed);
        else fprintf(stderr, "ptp_info: camera did not answer: %s\n", p.failed[0] ? p.failed : ausb_strerror(AUSB_EFAIL));
    } else {
        int i;
        if (p.storage_failed[0]) fprintf(stderr, "ptp_info: warning: no storage information: %s\n", p.storage_failed);
        if (p.close_failed[0]) fprintf(stderr, "ptp_info: warning: CloseSession failed: %s\n", p.close_failed);
        rc = print_device_info(&p) < 0 ? 1 : 0;
        for (i = 0; rc == 0 && i < p.at_storage; i++) printf("%s\n", p.storage_text[i]);
    }
    ausb_transfer_free(&p.xfer);
out_close:
    ausb_close(&p.handle);
out_dev:
    ausb_device_release(&dev);
    ausb_ctx_close(&ctx);
    ptp_rx_free(&p.rx);
    return rc;
}
