/* tests/fakecam_test.c - the PTP responder of tools/fakecam.c, questioned
 * with plain libusb (synchronous calls, nothing of ours in between).
 *
 *   umockdev-wrapper build/fakecam -- build/tests/fakecam_test
 *
 * Each test claims the camera, runs a few PTP transactions and checks the
 * containers that come back: well-formed answers to the operations the
 * camera lists, response codes for everything else, data phases split
 * across small reads, a host data phase dropped, the class requests. */
#include <libusb.h>
#include "tests/harness.h"

#include <stdint.h>

enum { EP_IN = 0x81, EP_OUT = 0x02, TIMEOUT_MS = 2000 };

static libusb_context *ctx;
static libusb_device_handle *h;

static uint32_t le32(const unsigned char *p)
{
    return p[0] | (p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static unsigned le16(const unsigned char *p) { return p[0] | (p[1] << 8); }
static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

/* Sends a container (type, code, tid, params); returns 0 or a libusb error. */
static int send_container(unsigned type, unsigned code, uint32_t tid, int np, const uint32_t *params)
{
    unsigned char b[32];
    int len = 12 + 4 * np, done = 0, i, r;
    put32(b, (uint32_t)len);
    b[4] = (unsigned char)type; b[5] = 0;
    b[6] = (unsigned char)code; b[7] = (unsigned char)(code >> 8);
    put32(b + 8, tid);
    for (i = 0; i < np; i++) put32(b + 12 + 4 * i, params[i]);
    r = libusb_bulk_transfer(h, EP_OUT, b, len, &done, TIMEOUT_MS);
    return r < 0 ? r : done == len ? 0 : -1;
}

/* One transaction: the command, then an optional data phase read in
 * `chunk`-byte transfers, then the response.  Returns the response code
 * (or a negative libusb error); data and response land in the buffers. */
typedef struct answer {
    unsigned char data[2048];
    size_t data_len;
    int has_data;
    unsigned char resp[64];
    int resp_len;
    int reads;                     /* bulk IN transfers it took */
} answer;

static int transact(unsigned op, uint32_t tid, int np, const uint32_t *params, int chunk, answer *a)
{
    unsigned char b[2048];
    int got, r;
    memset(a, 0, sizeof *a);
    if ((r = send_container(1, op, tid, np, params)) < 0) return r;
    for (;;) {
        r = libusb_bulk_transfer(h, EP_IN, b, chunk, &got, TIMEOUT_MS);
        if (r < 0) return r;
        a->reads++;
        if (got == 0) continue;                         /* zero length packet */
        if (got < 12) return -100;
        if (le16(b + 4) == 2) {                          /* data: read the rest */
            size_t total = le32(b), have = (size_t)got;
            if (total < 12 || total - 12 > sizeof a->data) return -101;
            memcpy(a->data, b + 12, (size_t)got - 12);
            while (have < total) {
                r = libusb_bulk_transfer(h, EP_IN, b, chunk, &got, TIMEOUT_MS);
                if (r < 0) return r;
                a->reads++;
                if (have + (size_t)got > total) return -102;
                memcpy(a->data + have - 12, b, (size_t)got);
                have += (size_t)got;
            }
            a->data_len = total - 12;
            a->has_data = 1;
            continue;
        }
        if (le16(b + 4) != 3 || le32(b) != (uint32_t)got || le32(b + 8) != tid) return -103;
        memcpy(a->resp, b, (size_t)got);
        a->resp_len = got;
        return (int)le16(b + 6);
    }
}

/* PTP string at *off: count with the NUL, UTF-16LE; ASCII decoded. */
static int ptp_string(const unsigned char *d, size_t len, size_t *off, char *out, size_t cap)
{
    size_t n, i;
    if (*off >= len) return -1;
    n = d[(*off)++];
    if (*off + 2 * n > len || n > cap) return -1;
    for (i = 0; i + 1 < n; i++) out[i] = (char)d[*off + 2 * i];
    out[n ? n - 1 : 0] = 0;
    *off += 2 * n;
    return 0;
}

static void release(void);

static int claim(void)
{
    libusb_device_handle *nh;
    release();                     /* a test that failed midway left it claimed */
    nh = libusb_open_device_with_vid_pid(ctx, 0x1209, 0x0001);
    if (!nh) return -1;
    if (libusb_claim_interface(nh, 0) < 0) { libusb_close(nh); return -1; }
    h = nh;
    return 0;
}

static void release(void)
{
    if (!h) return;
    libusb_release_interface(h, 0);
    libusb_close(h);
    h = NULL;
}

static const uint32_t session1[1] = {1};

static void test_device_info_outside_a_session(void)
{
    answer a;
    size_t off = 8;                /* version, extension id, extension version */
    char s[64];
    uint32_t nops;
    T_REQUIRE(claim() == 0);
    T_EQ(transact(0x1001, 0, 0, NULL, 512, &a), 0x2001);
    T_CHECK(a.has_data);
    T_EQ(le16(a.data), 100);
    T_EQ(ptp_string(a.data, a.data_len, &off, s, sizeof s), 0);    /* extension description */
    T_STREQ(s, "");
    off += 2;                                                    /* functional mode */
    nops = le32(a.data + off);
    T_EQ(nops, 7);
    T_EQ(le16(a.data + off + 4), 0x1001);
    off += 4 + 2 * nops;
    off += 4 + 4 + 4;                                            /* events, properties, capture formats */
    T_EQ(le32(a.data + off), 1);                                 /* image formats: JPEG */
    T_EQ(le16(a.data + off + 4), 0x3801);
    off += 6;
    T_EQ(ptp_string(a.data, a.data_len, &off, s, sizeof s), 0);
    T_STREQ(s, "AsyncKit");
    T_EQ(ptp_string(a.data, a.data_len, &off, s, sizeof s), 0);
    T_STREQ(s, "AsyncKit Demo Camera");
    T_EQ(ptp_string(a.data, a.data_len, &off, s, sizeof s), 0);
    T_STREQ(s, "1.0");
    T_EQ(ptp_string(a.data, a.data_len, &off, s, sizeof s), 0);
    T_STREQ(s, "AK0123456789");
    T_EQ(off, a.data_len);                                       /* nothing after the serial */
    release();
}

/* 64-byte reads: the data container arrives in pieces, whole. */
static void test_data_phase_in_small_reads(void)
{
    answer big, small;
    T_REQUIRE(claim() == 0);
    T_EQ(transact(0x1001, 0, 0, NULL, 512, &big), 0x2001);
    T_EQ(transact(0x1001, 0, 0, NULL, 64, &small), 0x2001);
    T_EQ(small.data_len, big.data_len);
    T_MEMEQ(small.data, big.data, big.data_len);
    T_CHECK(small.reads > 2);
    release();
}

static void test_session_rules(void)
{
    answer a;
    const uint32_t zero[1] = {0}, storage[1] = {0x00010001};
    T_REQUIRE(claim() == 0);
    T_EQ(transact(0x1004, 1, 0, NULL, 512, &a), 0x2003);        /* GetStorageIDs: Session Not Open */
    T_EQ(transact(0x1005, 2, 1, storage, 512, &a), 0x2003);
    T_EQ(transact(0x1003, 3, 0, NULL, 512, &a), 0x2003);        /* CloseSession without one */
    T_EQ(transact(0x1002, 0, 1, zero, 512, &a), 0x201d);        /* session id 0: Invalid Parameter */
    T_EQ(transact(0x1002, 0, 0, NULL, 512, &a), 0x201d);        /* no session id */
    T_EQ(transact(0x1002, 0, 1, session1, 512, &a), 0x2001);
    T_EQ(transact(0x1002, 0, 1, session1, 512, &a), 0x201e);    /* Session Already Open, with its id */
    T_EQ(a.resp_len, 16);
    T_EQ(le32(a.resp + 12), 1);
    T_EQ(transact(0x1003, 1, 0, NULL, 512, &a), 0x2001);
    T_EQ(transact(0x1003, 2, 0, NULL, 512, &a), 0x2003);
    release();
}

static void test_storage(void)
{
    answer a;
    const uint32_t storage[1] = {0x00010001}, wrong[1] = {0x00020001};
    const uint32_t all[2] = {0xffffffffUL, 0}, by_format[2] = {0x00010001, 0x3801};
    size_t off = 26;
    char s[64];
    T_REQUIRE(claim() == 0);
    T_EQ(transact(0x1002, 0, 1, session1, 512, &a), 0x2001);
    T_EQ(transact(0x1004, 1, 0, NULL, 512, &a), 0x2001);
    T_EQ(a.data_len, 8);
    T_EQ(le32(a.data), 1);
    T_EQ(le32(a.data + 4), 0x00010001);
    T_EQ(transact(0x1005, 2, 1, storage, 512, &a), 0x2001);
    T_EQ(le16(a.data), 4);                                       /* removable RAM */
    T_EQ(le16(a.data + 2), 3);                                   /* DCF */
    T_EQ(le32(a.data + 6), (uint32_t)(7580ull << 20));           /* capacity: 7580 MiB */
    T_EQ(le32(a.data + 10), (uint32_t)(7580ull << 20 >> 32));
    T_EQ(le32(a.data + 14), (uint32_t)(6800ull << 20));           /* free: 6800 MiB */
    T_EQ(le32(a.data + 18), (uint32_t)(6800ull << 20 >> 32));
    T_EQ(le32(a.data + 22), 2400);                               /* free space in images */
    T_EQ(ptp_string(a.data, a.data_len, &off, s, sizeof s), 0);
    T_STREQ(s, "SD card");
    T_EQ(ptp_string(a.data, a.data_len, &off, s, sizeof s), 0);
    T_STREQ(s, "DEMO_CARD");
    T_EQ(off, a.data_len);
    T_EQ(transact(0x1005, 3, 1, wrong, 512, &a), 0x2008);       /* Invalid StorageID */
    T_CHECK(!a.has_data);
    T_EQ(transact(0x1006, 4, 2, all, 512, &a), 0x2001);         /* GetNumObjects: none */
    T_EQ(a.resp_len, 16);
    T_EQ(le32(a.resp + 12), 0);
    T_EQ(transact(0x1007, 5, 2, all, 512, &a), 0x2001);         /* GetObjectHandles: empty array */
    T_EQ(a.data_len, 4);
    T_EQ(le32(a.data), 0);
    T_EQ(transact(0x1007, 6, 2, by_format, 512, &a), 0x2014);   /* by format: unsupported */
    T_EQ(transact(0x1003, 7, 0, NULL, 512, &a), 0x2001);
    release();
}

static void test_unknown_operations(void)
{
    answer a;
    T_REQUIRE(claim() == 0);
    T_EQ(transact(0x1002, 0, 1, session1, 512, &a), 0x2001);
    T_EQ(transact(0x1009, 1, 1, session1, 512, &a), 0x2005);    /* GetObject: Operation Not Supported */
    T_EQ(transact(0x9999, 2, 0, NULL, 512, &a), 0x2005);
    T_EQ(transact(0x1003, 3, 0, NULL, 512, &a), 0x2001);
    release();
}

/* SendObjectInfo with its data phase: refused, the data dropped, and the
 * next command answered as usual. */
static void test_host_data_phase_is_dropped(void)
{
    answer a;
    unsigned char data[600];
    int done = 0, r, got;
    unsigned char b[512];
    T_REQUIRE(claim() == 0);
    T_EQ(transact(0x1002, 0, 1, session1, 512, &a), 0x2001);
    T_EQ(send_container(1, 0x100c, 1, 0, NULL), 0);
    memset(data, 0x77, sizeof data);
    put32(data, sizeof data);
    data[4] = 2; data[5] = 0; data[6] = 0x0c; data[7] = 0x10;
    put32(data + 8, 1);
    T_EQ(libusb_bulk_transfer(h, EP_OUT, data, sizeof data, &done, TIMEOUT_MS), 0);
    T_EQ(done, (int)sizeof data);
    r = libusb_bulk_transfer(h, EP_IN, b, sizeof b, &got, TIMEOUT_MS);
    T_EQ(r, 0);
    T_EQ(got, 12);
    T_EQ(le16(b + 4), 3);
    T_EQ(le16(b + 6), 0x2005);
    T_EQ(transact(0x1004, 2, 0, NULL, 512, &a), 0x2001);
    T_EQ(le32(a.data + 4), 0x00010001);
    T_EQ(transact(0x1003, 3, 0, NULL, 512, &a), 0x2001);
    release();
}

/* Get Device Status says OK; Device Reset closes the session. */
static void test_class_requests(void)
{
    answer a;
    unsigned char st[8];
    T_REQUIRE(claim() == 0);
    T_EQ(libusb_control_transfer(h, 0xa1, 0x67, 0, 0, st, sizeof st, TIMEOUT_MS), 4);
    T_EQ(le16(st), 4);
    T_EQ(le16(st + 2), 0x2001);
    T_EQ(transact(0x1002, 0, 1, session1, 512, &a), 0x2001);
    T_EQ(libusb_control_transfer(h, 0x21, 0x66, 0, 0, NULL, 0, TIMEOUT_MS), 0);
    T_EQ(transact(0x1004, 1, 0, NULL, 512, &a), 0x2003);
    T_EQ(libusb_control_transfer(h, 0xc0, 0x01, 0, 0, st, sizeof st, TIMEOUT_MS), LIBUSB_ERROR_PIPE);  /* vendor: stall */
    release();
}

/* Nothing ever arrives on the interrupt endpoint. */
static void test_no_events(void)
{
    unsigned char b[24];
    int got = -1;
    T_REQUIRE(claim() == 0);
    T_EQ(libusb_interrupt_transfer(h, 0x83, b, sizeof b, &got, 50), LIBUSB_ERROR_TIMEOUT);
    T_EQ(got, 0);
    release();
}

int main(void)
{
    t_suite("fakecam");
    T_REQUIRE(libusb_init(&ctx) == 0);
    T_RUN(test_device_info_outside_a_session);
    T_RUN(test_data_phase_in_small_reads);
    T_RUN(test_session_rules);
    T_RUN(test_storage);
    T_RUN(test_unknown_operations);
    T_RUN(test_host_data_phase_is_dropped);
    T_RUN(test_class_requests);
    T_RUN(test_no_events);
    release();
    libusb_exit(ctx);
    return t_done();
}
