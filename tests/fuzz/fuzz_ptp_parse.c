/* Fuzz target: what examples/ptp_info.c parses from a camera
 * (examples/ptp_parse.h): the IN side of a PTP transaction and the
 * DeviceInfo, StorageIDs and StorageInfo datasets, on what a hostile or
 * broken device may send.
 *
 * Input: a mode byte, then bytes.
 *  - Every input: the bytes after the mode byte are parsed as each dataset
 *    (from a heap copy of exactly that length, so ASan sees any read past
 *    it).  Whatever the verdict, the strings are NUL-terminated inside
 *    their buffers; on success they are valid UTF-8 (strictly) with no
 *    control character (C0, DEL, C1: ptp_info prints them to a terminal),
 *    the array counts fit in the dataset, and the storage ids kept are the
 *    first ones of the array.
 *  - mode & 1: the bytes are IN transfers (2-byte length, at most 512, then
 *    the data) of transaction (op, tid) taken from the mode byte, fed to
 *    ptp_rx_feed until it finishes, and compared with a reference model of
 *    the USB still-image class rules: a data phase is one data container
 *    with the operation's code and transaction id, whose declared length
 *    (at most PTP_MAX_DATA of payload) its transfers fill exactly (a
 *    transfer past it is an error; zero-length packets are nothing, up to
 *    PTP_MAX_ZLPS in a row, and one more is PTP_RX_EZLP); then
 *    one response container of 12..32 bytes (whole parameters), its length
 *    field equal to the transfer, with the transaction id; anything else is
 *    an error.  Same outcome, same response code, same data.  A feed after
 *    the end is an error.
 *  - mode & 2: a well-formed DeviceInfo and StorageInfo are built from the
 *    bytes (counts, codes, strings of printable ASCII or of any UTF-16
 *    units), serialized as a camera would, and must parse back: the same
 *    numbers, printable ASCII strings unchanged, the others whole and safe
 *    as above; every cut of them must be refused.  The DeviceInfo then goes
 *    through ptp_rx as the data phase of a GetDeviceInfo (512-byte
 *    transfers, a zero-length packet after a full last one, then the
 *    response) and must come out whole.
 */
#define AUSB_NO_LIBUSB
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"
#include "examples/ptp_parse.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

static uint32_t rd32_(const unsigned char *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* Strict UTF-8 with no control character: 1, else 0. */
static int safe_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned long cp;
        size_t len, k;
        if (*p < 0x80) {
            if (*p < 0x20 || *p == 0x7f) return 0;
            p++;
            continue;
        }
        if (*p >= 0xc2 && *p <= 0xdf) { len = 2; cp = *p & 0x1f; }
        else if (*p >= 0xe0 && *p <= 0xef) { len = 3; cp = *p & 0x0f; }
        else if (*p >= 0xf0 && *p <= 0xf4) { len = 4; cp = *p & 0x07; }
        else return 0;
        for (k = 1; k < len; k++) {
            if ((p[k] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (p[k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return 0;
        if (cp >= 0x80 && cp <= 0x9f) return 0;   /* C1 controls */
        p += len;
    }
    return 1;
}

/* The strings are NUL-terminated inside their buffers; after a good parse
 * (printed then) they are also safe to print. */
static void check_strings(const ptp_device_info *di, int printed)
{
    const char *s[5];
    int i;
    s[0] = di->vendor_ext; s[1] = di->manufacturer; s[2] = di->model; s[3] = di->version; s[4] = di->serial;
    for (i = 0; i < 5; i++) {
        CHECK(memchr(s[i], 0, PTP_TEXT_MAX) != NULL);
        if (printed) CHECK(safe_utf8(s[i]));
    }
}

static int parse_copy(const unsigned char *d, size_t n, ptp_device_info *di)
{
    unsigned char *copy = (unsigned char *)malloc(n ? n : 1);
    int r;
    if (n) memcpy(copy, d, n);
    r = ptp_device_info_parse(n ? copy : NULL, n, di);
    free(copy);
    return r;
}

static int parse_storage_copy(const unsigned char *d, size_t n, ptp_storage_info *si)
{
    unsigned char *copy = (unsigned char *)malloc(n ? n : 1);
    int r;
    if (n) memcpy(copy, d, n);
    r = ptp_storage_info_parse(n ? copy : NULL, n, si);
    if (r == 0) {
        CHECK(safe_utf8(si->description) && safe_utf8(si->label));
    }
    CHECK(memchr(si->description, 0, PTP_TEXT_MAX) && memchr(si->label, 0, PTP_TEXT_MAX));
    free(copy);
    return r;
}

static void check_storage_ids(const unsigned char *d, size_t n)
{
    unsigned char *copy = (unsigned char *)malloc(n ? n : 1);
    uint32_t ids[8];
    int got = -1, i;
    if (n) memcpy(copy, d, n);
    if (ptp_storage_ids_parse(n ? copy : NULL, n, ids, 8, &got) == 0) {
        uint32_t count = rd32_(d);
        CHECK(n >= 4 && count <= (n - 4) / 4);
        CHECK(got == (count < 8 ? (int)count : 8));
        for (i = 0; i < got; i++) CHECK(ids[i] == rd32_(d + 4 + 4 * (size_t)i));
    } else {
        CHECK(n < 4 || rd32_(d) > (n - 4) / 4);
    }
    free(copy);
}

/* ---- the reference model of one transaction's IN side ---- */

static uint32_t rd32(const unsigned char *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static unsigned rd16(const unsigned char *p) { return p[0] | (unsigned)p[1] << 8; }

typedef struct model {
    unsigned op;
    uint32_t tid;
    int in_data, have_data, done, zlps;
    size_t expected;
    unsigned char *data;
    size_t data_len;
    unsigned response;
} model;

/* 0 more, 1 done, -1 error, -2 too many zero-length packets in a row */
static int model_feed(model *m, const unsigned char *b, size_t n)
{
    if (n == 0) return ++m->zlps > PTP_MAX_ZLPS ? -2 : 0;
    m->zlps = 0;
    if (m->in_data) {
        if (n > m->expected - m->data_len) return -1;
        memcpy(m->data + m->data_len, b, n);
        m->data_len += n;
        if (m->data_len == m->expected) m->in_data = 0;
        return 0;
    }
    if (n < 12) return -1;
    if (rd16(b + 4) == PTP_DATA) {
        uint32_t len = rd32(b);
        if (m->have_data || len < 12 || len - 12 > PTP_MAX_DATA) return -1;
        if (rd16(b + 6) != m->op || rd32(b + 8) != m->tid || n > len) return -1;
        m->have_data = 1;
        m->expected = len - 12;
        m->data = (unsigned char *)malloc(m->expected + 1);
        m->data_len = n - 12;
        memcpy(m->data, b + 12, n - 12);
        m->in_data = m->data_len < m->expected;
        return 0;
    }
    if (rd16(b + 4) == PTP_RESPONSE) {
        if (rd32(b) != n || n > 32 || (n - 12) % 4 != 0 || rd32(b + 8) != m->tid) return -1;
        m->response = rd16(b + 6);
        return 1;
    }
    return -1;
}

static void run_transactions(const unsigned char *in, size_t n, unsigned op, uint32_t tid)
{
    ptp_rx rx;
    model m;
    size_t pos = 0;
    int r = PTP_RX_MORE, mr = 0;
    memset(&rx, 0, sizeof rx);
    memset(&m, 0, sizeof m);
    m.op = op;
    m.tid = tid;
    ptp_rx_start(&rx, (uint16_t)op, tid);
    while (pos + 2 <= n && r == PTP_RX_MORE) {
        size_t len = rd16(in + pos) % 513;
        unsigned char *t;
        pos += 2;
        if (len > n - pos) len = n - pos;
        t = (unsigned char *)malloc(len ? len : 1);   /* exactly the transfer */
        memcpy(t, in + pos, len);
        pos += len;
        r = ptp_rx_feed(&rx, t, len);
        mr = model_feed(&m, t, len);
        free(t);
        CHECK(r == PTP_RX_MORE || r == PTP_RX_DONE || r == PTP_RX_EPROTO || r == PTP_RX_EZLP);  /* no memory failure here */
        CHECK((r == PTP_RX_MORE) == (mr == 0));
        CHECK((r == PTP_RX_DONE) == (mr == 1));
        CHECK((r == PTP_RX_EZLP) == (mr == -2));
        CHECK(rx.data_len <= PTP_MAX_DATA);
    }
    if (r == PTP_RX_DONE) {
        unsigned char z[12] = {12, 0, 0, 0, 3, 0, 1, 0x20, 0, 0, 0, 0};
        CHECK(rx.response == m.response);
        CHECK(rx.data_len == m.data_len);
        CHECK(m.data_len == 0 || memcmp(rx.data, m.data, m.data_len) == 0);
        z[8] = (unsigned char)tid; z[9] = (unsigned char)(tid >> 8); z[10] = (unsigned char)(tid >> 16); z[11] = (unsigned char)(tid >> 24);
        CHECK(ptp_rx_feed(&rx, z, sizeof z) == PTP_RX_EPROTO);   /* the transaction is over */
    }
    if (r == PTP_RX_DONE && op == 0x1001) {
        ptp_device_info di;
        int ok = ptp_device_info_parse(rx.data, rx.data_len, &di) == 0;
        check_strings(&di, ok);
    }
    if (r == PTP_RX_DONE && op == 0x1005) {
        ptp_storage_info si;
        (void)parse_storage_copy(rx.data, rx.data_len, &si);
    }
    free(m.data);
    ptp_rx_free(&rx);
}

/* ---- building a dataset as a camera would ---- */

typedef struct src { const unsigned char *p; size_t n, i; } src;
static unsigned take(src *s) { return s->i < s->n ? s->p[s->i++] : 0; }

static size_t put16(unsigned char *o, size_t at, unsigned v) { o[at] = (unsigned char)v; o[at + 1] = (unsigned char)(v >> 8); return at + 2; }
static size_t put32(unsigned char *o, size_t at, uint32_t v) { at = put16(o, at, v & 0xffff); return put16(o, at, v >> 16); }

/* Bytes of the printable UTF-8 of n UTF-16 units: up to the first NUL
 * unit, pairs joined (4 bytes), lone surrogates as U+FFFD (3), control
 * characters (C0, DEL, C1) as one replacement byte. */
static size_t printable_len(const unsigned *u, unsigned n)
{
    size_t len = 0;
    unsigned i;
    for (i = 0; i < n && u[i] != 0; i++) {
        if (u[i] >= 0xd800 && u[i] <= 0xdbff && i + 1 < n && u[i + 1] >= 0xdc00 && u[i + 1] <= 0xdfff) { len += 4; i++; }
        else if (u[i] >= 0xd800 && u[i] <= 0xdfff) len += 3;
        else if (u[i] < 0x20 || (u[i] >= 0x7f && u[i] <= 0x9f)) len += 1;
        else len += u[i] < 0x80 ? 1 : u[i] < 0x800 ? 2 : 3;
    }
    return len;
}

/* A string of up to 254 characters: printable ASCII (kind 0) or any units. */
static size_t put_string(unsigned char *o, size_t at, src *s, char *ascii, int *is_ascii, size_t *plen)
{
    unsigned units[254];
    unsigned n = take(s), kind = n & 1, i;
    n = (n >> 1) % 60;
    if (take(s) == 0xff) n = 254;                 /* now and then the longest */
    *is_ascii = kind == 0;
    o[at++] = (unsigned char)(n ? n + 1 : 0);
    for (i = 0; i < n; i++) {
        unsigned u;
        if (kind == 0) {
            u = 0x20 + take(s) % 95;
            ascii[i] = (char)u;
        } else {
            u = take(s) | take(s) << 8;
            if (take(s) & 1) u &= 0xff;           /* mostly ASCII and Latin-1, controls included */
        }
        units[i] = u;
        at = put16(o, at, u);
    }
    ascii[n] = 0;
    *plen = printable_len(units, n);
    if (n) at = put16(o, at, 0);
    return at;
}

static void round_trip(const unsigned char *in, size_t n)
{
    static unsigned char ds[8192];
    char text[5][256];
    int ascii[5];
    size_t plen[5];
    uint32_t counts[5];
    unsigned v[4];
    size_t at = 0, cut;
    src s;
    ptp_device_info di;
    int i;
    s.p = in; s.n = n; s.i = 0;
    v[0] = take(&s) | take(&s) << 8;
    v[1] = take(&s);
    v[2] = take(&s);
    v[3] = take(&s) | take(&s) << 8;
    at = put16(ds, at, v[0]);
    at = put32(ds, at, v[1]);
    at = put16(ds, at, v[2]);
    at = put_string(ds, at, &s, text[0], &ascii[0], &plen[0]);
    at = put16(ds, at, v[3]);
    for (i = 0; i < 5; i++) {
        uint32_t k;
        counts[i] = take(&s) % 70;
        at = put32(ds, at, counts[i]);
        for (k = 0; k < counts[i]; k++) at = put16(ds, at, 0x1000 + k);
    }
    for (i = 1; i < 5; i++) at = put_string(ds, at, &s, text[i], &ascii[i], &plen[i]);

    CHECK(parse_copy(ds, at, &di) == 0);
    check_strings(&di, 1);
    CHECK(di.standard_version == v[0] && di.vendor_ext_id == v[1] && di.vendor_ext_version == v[2] && di.functional_mode == v[3]);
    CHECK(di.operations == counts[0] && di.events == counts[1] && di.properties == counts[2]);
    CHECK(di.capture_formats == counts[3] && di.image_formats == counts[4]);
    {
        const char *got[5];
        got[0] = di.vendor_ext; got[1] = di.manufacturer; got[2] = di.model; got[3] = di.version; got[4] = di.serial;
        for (i = 0; i < 5; i++) {
            if (ascii[i]) CHECK(strcmp(got[i], text[i]) == 0);
            CHECK(strlen(got[i]) == plen[i]);        /* whole, never cut */
        }
    }
    for (cut = 0; cut < at; cut += 1 + cut / 16) CHECK(parse_copy(ds, cut, &di) < 0);
    CHECK(parse_copy(ds, at - 1, &di) < 0);

    {   /* as the data phase of GetDeviceInfo, transaction 1 */
        static unsigned char c[8192 + 12];
        size_t total = at + 12, off = 0;
        ptp_rx rx;
        int r = PTP_RX_MORE;
        unsigned char resp[12] = {12, 0, 0, 0, 3, 0, 0x01, 0x20, 1, 0, 0, 0};
        memset(&rx, 0, sizeof rx);
        put32(c, 0, (uint32_t)total);
        put16(c, 4, PTP_DATA);
        put16(c, 6, 0x1001);
        put32(c, 8, 1);
        memcpy(c + 12, ds, at);
        ptp_rx_start(&rx, 0x1001, 1);
        while (off < total) {
            size_t k = total - off < 512 ? total - off : 512;
            CHECK(ptp_rx_feed(&rx, c + off, k) == PTP_RX_MORE);
            off += k;
        }
        if (total % 512 == 0) CHECK(ptp_rx_feed(&rx, c, 0) == PTP_RX_MORE);
        r = ptp_rx_feed(&rx, resp, sizeof resp);
        CHECK(r == PTP_RX_DONE && rx.response == 0x2001);
        CHECK(rx.data_len == at && memcmp(rx.data, ds, at) == 0);
        ptp_rx_free(&rx);
    }
}

/* A StorageInfo as a camera would send it, from the bytes read backwards
 * (so that it differs from the DeviceInfo built from the same input). */
static void round_trip_storage(const unsigned char *in, size_t n)
{
    static unsigned char ds[4096], rev[4096];
    char text[2][256];
    int ascii[2], i;
    size_t plen[2], at = 0, cut, k;
    unsigned v[3];
    uint64_t cap, fr;
    uint32_t imgs;
    src s;
    ptp_storage_info si;
    for (k = 0; k < n && k < sizeof rev; k++) rev[k] = in[n - 1 - k];
    s.p = rev; s.n = k; s.i = 0;
    v[0] = take(&s); v[1] = take(&s); v[2] = take(&s);
    cap = (uint64_t)take(&s) << 56 | (uint64_t)take(&s) << 32 | take(&s);
    fr = (uint64_t)take(&s) << 40 | take(&s);
    imgs = take(&s) | (uint32_t)take(&s) << 24;
    at = put16(ds, at, v[0]);
    at = put16(ds, at, v[1]);
    at = put16(ds, at, v[2]);
    at = put32(ds, at, (uint32_t)cap);
    at = put32(ds, at, (uint32_t)(cap >> 32));
    at = put32(ds, at, (uint32_t)fr);
    at = put32(ds, at, (uint32_t)(fr >> 32));
    at = put32(ds, at, imgs);
    for (i = 0; i < 2; i++) at = put_string(ds, at, &s, text[i], &ascii[i], &plen[i]);
    CHECK(parse_storage_copy(ds, at, &si) == 0);
    CHECK(si.storage_type == v[0] && si.filesystem_type == v[1] && si.access == v[2]);
    CHECK(si.capacity == cap && si.free_bytes == fr && si.free_images == imgs);
    if (ascii[0]) CHECK(strcmp(si.description, text[0]) == 0);
    if (ascii[1]) CHECK(strcmp(si.label, text[1]) == 0);
    CHECK(strlen(si.description) == plen[0] && strlen(si.label) == plen[1]);
    for (cut = 0; cut < at; cut += 1 + cut / 16) CHECK(parse_storage_copy(ds, cut, &si) < 0);
    CHECK(parse_storage_copy(ds, at - 1, &si) < 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ptp_device_info di;
    unsigned mode;
    if (size < 1) return 0;
    mode = data[0];
    if (parse_copy(data + 1, size - 1, &di) == 0) {
        check_strings(&di, 1);
        CHECK((size_t)di.operations + di.events + di.properties + di.capture_formats + di.image_formats <= (size - 1) / 2);
    } else {
        check_strings(&di, 0);
    }
    if (mode & 1) {
        static const unsigned ops[4] = {0x1001, 0x1002, 0x1003, 0x1005};
        run_transactions(data + 1, size - 1, ops[(mode >> 2) & 3], (mode >> 4) & 3);
    }
    {
        ptp_storage_info si;
        (void)parse_storage_copy(data + 1, size - 1, &si);
        check_storage_ids(data + 1, size - 1);
    }
    if (mode & 2) {
        round_trip(data + 1, size - 1);
        round_trip_storage(data + 1, size - 1);
    }
    return 0;
}
