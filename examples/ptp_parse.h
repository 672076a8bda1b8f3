/* ptp_parse.h - what examples/ptp_info.c reads from a camera, on its own so
 * that tests/fuzz/fuzz_ptp_parse.c can feed it hostile devices: the IN side
 * of a PTP transaction (data phase, response) and the datasets DeviceInfo,
 * StorageIDs and StorageInfo.  Strings come out as printable UTF-8.
 * No I/O; the one allocation is the data phase, at most PTP_MAX_DATA.
 * Include it after asyncusb.h (strings go through ausb_utf16le_to_utf8);
 * all functions are static.
 */
#ifndef PTP_PARSE_H
#define PTP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define PTP_FN static __attribute__((unused))
#else
#define PTP_FN static
#endif

enum { PTP_COMMAND = 1, PTP_DATA = 2, PTP_RESPONSE = 3 };
/* PTP_MAX_ZLPS: the class sends one zero-length packet, after a container
 * that fills whole packets; a camera that answers every read with one
 * would hold the reader for ever without a transfer ever failing. */
enum { PTP_MAX_DATA = 1 << 20, PTP_MAX_ZLPS = 4 };
enum { PTP_RX_MORE = 0, PTP_RX_DONE = 1, PTP_RX_EPROTO = -1, PTP_RX_ENOMEM = -2, PTP_RX_EZLP = -3 };

static uint32_t ptp_le32(const unsigned char *p) { return p[0] | (p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }
static uint16_t ptp_le16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/* ---- the IN side of one transaction ---- */

/* What the USB still-image class allows after a command: at most one data
 * container, with the command's operation code and transaction id, whose
 * declared length its transfers fill exactly (zero-length packets aside),
 * then one response container of 12..32 bytes (whole 4-byte parameters),
 * its length field equal to the transfer, with the transaction id.
 * Anything else is PTP_RX_EPROTO, and so is a transfer after the response;
 * more than PTP_MAX_ZLPS zero-length packets in a row are PTP_RX_EZLP. */
typedef struct ptp_rx {
    uint16_t op;
    uint32_t tid;
    unsigned char *data;          /* data phase payload, header stripped */
    size_t data_len, data_expected, data_cap;
    int in_data, got_data, done;   /* got_data: this transaction had a data phase */
    int zlps;                     /* zero-length packets in a row */
    uint16_t response;            /* response code, once PTP_RX_DONE */
} ptp_rx;

/* Starts a transaction; the data of the last one is dropped (its buffer kept). */
PTP_FN void ptp_rx_start(ptp_rx *rx, uint16_t op, uint32_t tid)
{
    rx->op = op;
    rx->tid = tid;
    rx->data_len = rx->data_expected = 0;
    rx->in_data = rx->got_data = rx->done = 0;
    rx->zlps = 0;
    rx->response = 0;
}

PTP_FN void ptp_rx_free(ptp_rx *rx)
{
    free(rx->data);
    memset(rx, 0, sizeof *rx);
}

static int ptp_rx__append(ptp_rx *rx, const unsigned char *b, size_t n)
{
    if (n > rx->data_expected - rx->data_len) return PTP_RX_EPROTO;  /* past the declared length */
    if (rx->data_len + n > rx->data_cap) {
        /* the declared length is known and bounded: one allocation for it */
        unsigned char *nd = (unsigned char *)realloc(rx->data, rx->data_expected + 1);
        if (!nd) return PTP_RX_ENOMEM;
        rx->data = nd;
        rx->data_cap = rx->data_expected;
    }
    if (n) memcpy(rx->data + rx->data_len, b, n);
    rx->data_len += n;
    rx->in_data = rx->data_len < rx->data_expected;
    return PTP_RX_MORE;
}

/* One IN transfer of `got` bytes: PTP_RX_MORE (read again), PTP_RX_DONE
 * (rx->response holds the response code) or an error. */
PTP_FN int ptp_rx_feed(ptp_rx *rx, const unsigned char *b, size_t got)
{
    uint32_t len;
    uint16_t type;
    if (rx->done) return PTP_RX_EPROTO;
    if (got == 0) return ++rx->zlps > PTP_MAX_ZLPS ? PTP_RX_EZLP : PTP_RX_MORE;
    rx->zlps = 0;
    if (rx->in_data) return ptp_rx__append(rx, b, got);  /* rest of the data phase */
    if (got < 12) return PTP_RX_EPROTO;
    len = ptp_le32(b);
    type = ptp_le16(b + 4);
    if (type == PTP_DATA) {
        if (rx->got_data || len < 12 || len - 12 > PTP_MAX_DATA) return PTP_RX_EPROTO;
        if (ptp_le16(b + 6) != rx->op || ptp_le32(b + 8) != rx->tid) return PTP_RX_EPROTO;
        rx->got_data = 1;
        rx->data_len = 0;
        rx->data_expected = len - 12;
        return ptp_rx__append(rx, b + 12, got - 12);
    }
    if (type != PTP_RESPONSE || len != got || got > 32 || (got - 12) % 4 != 0 || ptp_le32(b + 8) != rx->tid)
        return PTP_RX_EPROTO;
    rx->response = ptp_le16(b + 6);
    rx->done = 1;
    return PTP_RX_DONE;
}

/* ---- the DeviceInfo dataset ---- */

/* A PTP string has at most 254 characters besides its NUL: 3 bytes of UTF-8
 * each, or 4 for a surrogate pair, so this holds any of them whole. */
#define PTP_TEXT_MAX 768

typedef struct ptp_device_info {
    unsigned standard_version, vendor_ext_id, vendor_ext_version, functional_mode;
    uint32_t operations, events, properties, capture_formats, image_formats;  /* counts */
    char vendor_ext[PTP_TEXT_MAX], manufacturer[PTP_TEXT_MAX], model[PTP_TEXT_MAX];
    char version[PTP_TEXT_MAX], serial[PTP_TEXT_MAX];
} ptp_device_info;

typedef struct ptp_reader { const unsigned char *p; size_t len, off; int bad; } ptp_reader;

static unsigned ptp__rd16(ptp_reader *r)
{
    if (r->off + 2 > r->len) { r->bad = 1; return 0; }
    r->off += 2;
    return ptp_le16(r->p + r->off - 2);
}

static uint32_t ptp__rd32(ptp_reader *r)
{
    if (r->off + 4 > r->len) { r->bad = 1; return 0; }
    r->off += 4;
    return ptp_le32(r->p + r->off - 4);
}

static uint64_t ptp__rd64(ptp_reader *r)
{
    uint64_t lo = ptp__rd32(r);
    return lo | ((uint64_t)ptp__rd32(r) << 32);
}

static uint32_t ptp__rd_array16(ptp_reader *r)
{
    uint32_t n = ptp__rd32(r);
    if (r->bad || n > (r->len - r->off) / 2) { r->bad = 1; return 0; }
    r->off += (size_t)n * 2;
    return n;
}

/* A string as printable UTF-8: it ends at its first NUL character, and
 * control characters (C0, DEL, C1: terminal escapes from a hostile device)
 * become '?'. */
static void ptp__rd_string(ptp_reader *r, char *out, size_t cap)
{
    unsigned char units[2 * 255];
    size_t n, i;
    out[0] = 0;
    if (r->off + 1 > r->len) { r->bad = 1; return; }
    n = r->p[r->off++];                              /* characters, with the NUL */
    if (n * 2 > r->len - r->off) { r->bad = 1; return; }
    for (i = 0; i + 1 < n; i++) {
        unsigned u = ptp_le16(r->p + r->off + 2 * i);
        if (u == 0) break;
        if (u < 0x20 || (u >= 0x7f && u <= 0x9f)) u = '?';
        units[2 * i] = (unsigned char)u;
        units[2 * i + 1] = (unsigned char)(u >> 8);
    }
    if (i > 0 && ausb_utf16le_to_utf8(units, 2 * i, out, cap) < 0) r->bad = 1;
    r->off += n * 2;
}

/* 0, or -1 for a malformed dataset. */
PTP_FN int ptp_device_info_parse(const unsigned char *d, size_t len, ptp_device_info *di)
{
    ptp_reader r;
    r.p = d;
    r.len = len;
    r.off = 0;
    r.bad = 0;
    memset(di, 0, sizeof *di);
    di->standard_version = ptp__rd16(&r);
    di->vendor_ext_id = ptp__rd32(&r);
    di->vendor_ext_version = ptp__rd16(&r);
    ptp__rd_string(&r, di->vendor_ext, sizeof di->vendor_ext);
    di->functional_mode = ptp__rd16(&r);
    di->operations = ptp__rd_array16(&r);
    di->events = ptp__rd_array16(&r);
    di->properties = ptp__rd_array16(&r);
    di->capture_formats = ptp__rd_array16(&r);
    di->image_formats = ptp__rd_array16(&r);
    ptp__rd_string(&r, di->manufacturer, sizeof di->manufacturer);
    ptp__rd_string(&r, di->model, sizeof di->model);
    ptp__rd_string(&r, di->version, sizeof di->version);
    ptp__rd_string(&r, di->serial, sizeof di->serial);
    return r.bad ? -1 : 0;
}

/* ---- storage ---- */

/* GetStorageIDs: an array of 32-bit ids, the first `max` kept in ids[]. */
PTP_FN int ptp_storage_ids_parse(const unsigned char *d, size_t len, uint32_t *ids, int max, int *n)
{
    ptp_reader r;
    uint32_t count, i;
    r.p = d;
    r.len = len;
    r.off = 0;
    r.bad = 0;
    *n = 0;
    count = ptp__rd32(&r);
    if (r.bad || count > (r.len - r.off) / 4) return -1;
    for (i = 0; i < count; i++) {
        uint32_t id = ptp__rd32(&r);
        if (*n < max) ids[(*n)++] = id;
    }
    return 0;
}

typedef struct ptp_storage_info {
    unsigned storage_type, filesystem_type, access;
    uint64_t capacity, free_bytes;
    uint32_t free_images;
    char description[PTP_TEXT_MAX], label[PTP_TEXT_MAX];
} ptp_storage_info;

/* 0, or -1 for a malformed dataset. */
PTP_FN int ptp_storage_info_parse(const unsigned char *d, size_t len, ptp_storage_info *si)
{
    ptp_reader r;
    r.p = d;
    r.len = len;
    r.off = 0;
    r.bad = 0;
    memset(si, 0, sizeof *si);
    si->storage_type = ptp__rd16(&r);
    si->filesystem_type = ptp__rd16(&r);
    si->access = ptp__rd16(&r);
    si->capacity = ptp__rd64(&r);
    si->free_bytes = ptp__rd64(&r);
    si->free_images = ptp__rd32(&r);
    ptp__rd_string(&r, si->description, sizeof si->description);
    ptp__rd_string(&r, si->label, sizeof si->label);
    return r.bad ? -1 : 0;
}

#endif
