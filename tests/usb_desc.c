/* tests/usb_desc.c - the parts of asyncusb.h that need no device: the raw
 * descriptor walker on hostile bytes, IADs, UTF-16LE decoding, setup
 * packets and error text.  Built with AUSB_NO_LIBUSB, so it needs neither
 * libusb nor its header and also runs cross-built under qemu and on musl. */
#define AUSB_IMPLEMENTATION
#define AUSB_NO_LIBUSB
#include "asyncusb.h"
#include "tests/harness.h"

/* A valid configuration: IAD, two interfaces (one with an alternate
 * setting), a class-specific descriptor and three endpoints. */
static const unsigned char good[] = {
    9, 2, 63, 0, 2, 1, 0, 0x80, 50,
    8, 0x0b, 0, 2, 0x0e, 0x03, 0x00, 4,
    9, 4, 0, 0, 1, 0x0e, 0x01, 0, 0,
    5, 0x24, 0x01, 0x00, 0x01,
    7, 5, 0x81, 3, 8, 0, 4,
    9, 4, 1, 0, 0, 0x0e, 0x02, 0, 0,
    9, 4, 1, 1, 1, 0x0e, 0x02, 0, 0,
    7, 5, 0x82, 5, 0x00, 0x14, 1,
};

/* Walks a heap copy of exactly n bytes, so any read past the end is caught
 * by the sanitizers and valgrind. */
static int walk_copy(const unsigned char *src, size_t n, int *count)
{
    unsigned char *p = (unsigned char *)malloc(n ? n : 1);
    ausb_desc_iter it;
    const uint8_t *d;
    size_t dl;
    int r, c = 0;
    long sum = 0;
    memcpy(p, src, n);
    ausb_desc_iter_init(&it, p, n);
    while ((r = ausb_desc_next(&it, &d, &dl)) == 1) {
        size_t k;
        for (k = 0; k < dl; k++) sum += d[k];
        c++;
    }
    (void)sum;
    free(p);
    if (count) *count = c;
    return r;
}

static void test_walks_a_valid_configuration(void)
{
    ausb_desc_iter it;
    const uint8_t *d;
    size_t dl;
    int types[16], n = 0;
    ausb_desc_iter_init(&it, good, sizeof good);
    while (ausb_desc_next(&it, &d, &dl) == 1 && n < 16) types[n++] = d[1];
    T_EQ(it.error, 0);
    T_EQ(n, 8);
    T_EQ(types[0], AUSB_DT_CONFIG);
    T_EQ(types[1], AUSB_DT_IAD);
    T_EQ(types[3], 0x24);
    T_EQ(types[7], AUSB_DT_ENDPOINT);
    T_EQ(it.interface, 1);
    T_EQ(it.alt, 1);
    T_EQ(ausb_config_check(good, sizeof good), 8);
}

static void test_zero_blength_stops_with_error(void)
{
    unsigned char b[sizeof good];
    int c;
    memcpy(b, good, sizeof b);
    b[17] = 0;                        /* first interface descriptor */
    T_EQ(walk_copy(b, sizeof b, &c), AUSB_EMALFORMED);
    T_EQ(c, 2);
    T_EQ(ausb_config_check(b, sizeof b), AUSB_EMALFORMED);
}

static void test_blength_of_one_stops_with_error(void)
{
    unsigned char b[sizeof good];
    memcpy(b, good, sizeof b);
    b[9] = 1;
    T_EQ(walk_copy(b, sizeof b, NULL), AUSB_EMALFORMED);
}

static void test_oversized_blength_stops_with_error(void)
{
    unsigned char b[sizeof good];
    int c;
    memcpy(b, good, sizeof b);
    b[56] = 200;                      /* last endpoint claims 200 bytes */
    T_EQ(walk_copy(b, sizeof b, &c), AUSB_EMALFORMED);
    T_EQ(c, 7);
    T_EQ(ausb_config_check(b, sizeof b), AUSB_EMALFORMED);
}

static void test_truncated_buffer_stops_with_error(void)
{
    size_t n;
    int errors = 0, clean = 0;
    for (n = 0; n < sizeof good; n++) {
        int r = walk_copy(good, n, NULL);
        if (r == AUSB_EMALFORMED) errors++;
        else if (r == 0) clean++;
        T_CHECK(ausb_config_check(good, n) < 0);   /* shorter than wTotalLength */
    }
    /* clean ends only at descriptor boundaries */
    T_EQ(clean, 8);
    T_EQ(errors, (int)sizeof good - 8);
}

static void test_wtotallength_lies_are_rejected(void)
{
    unsigned char b[sizeof good];
    memcpy(b, good, sizeof b);
    b[2] = 200;                       /* longer than what we have */
    T_EQ(ausb_config_check(b, sizeof b), AUSB_EMALFORMED);
    T_EQ(ausb_raw_iads(b, sizeof b, NULL, 0), AUSB_EMALFORMED);
    b[2] = 4;                         /* shorter than the header */
    T_EQ(ausb_config_check(b, sizeof b), AUSB_EMALFORMED);
    b[2] = 30;                        /* cuts the class-specific descriptor */
    T_EQ(ausb_config_check(b, sizeof b), AUSB_EMALFORMED);
    b[2] = 26;                        /* ends on a boundary: fewer descriptors */
    T_EQ(ausb_config_check(b, sizeof b), AUSB_EMALFORMED);   /* and one interface of two */
    b[4] = 1;
    T_EQ(ausb_config_check(b, sizeof b), 3);
}

static void test_interface_count_must_match_the_interfaces_present(void)
{
    unsigned char b[sizeof good];
    memcpy(b, good, sizeof b);
    b[4] = 3;                         /* bNumInterfaces 3, two present */
    T_EQ(ausb_config_check(b, sizeof b), AUSB_EMALFORMED);
    T_EQ(ausb_raw_iads(b, sizeof b, NULL, 0), AUSB_EMALFORMED);
    b[4] = 0;                         /* none claimed, two present */
    T_EQ(ausb_config_check(b, sizeof b), AUSB_EMALFORMED);
    b[4] = 1;
    T_EQ(ausb_config_check(b, sizeof b), AUSB_EMALFORMED);
    b[4] = 2;                         /* the alternate setting is no interface */
    T_EQ(ausb_config_check(b, sizeof b), 8);
}

static void test_short_interface_and_endpoint_descriptors_are_rejected(void)
{
    static const unsigned char short_if[] = {9, 2, 17, 0, 1, 1, 0, 0x80, 50, 4, 4, 0, 0, 4, 5, 0x81, 3};
    static const unsigned char orphan_ep[] = {9, 2, 16, 0, 1, 1, 0, 0x80, 50, 7, 5, 0x81, 3, 8, 0, 4};
    static const unsigned char not_config[] = {9, 4, 9, 0, 1, 1, 0, 0x80, 50};
    static const unsigned char nested_config[] = {9, 2, 18, 0, 1, 1, 0, 0x80, 50, 9, 2, 9, 0, 1, 1, 0, 0x80, 50};
    T_EQ(ausb_config_check(short_if, sizeof short_if), AUSB_EMALFORMED);
    T_EQ(ausb_config_check(orphan_ep, sizeof orphan_ep), AUSB_EMALFORMED);
    T_EQ(ausb_config_check(not_config, sizeof not_config), AUSB_EMALFORMED);
    T_EQ(ausb_config_check(nested_config, sizeof nested_config), AUSB_EMALFORMED);
    T_EQ(ausb_config_check(NULL, 10), AUSB_EMALFORMED);
}

static void test_error_is_sticky(void)
{
    static const unsigned char b[] = {3, 0x24, 1, 0, 0x24, 2, 0x24};
    ausb_desc_iter it;
    const uint8_t *d;
    size_t dl;
    ausb_desc_iter_init(&it, b, sizeof b);
    T_EQ(ausb_desc_next(&it, &d, &dl), 1);
    T_EQ(ausb_desc_next(&it, &d, &dl), AUSB_EMALFORMED);
    T_EQ(ausb_desc_next(&it, &d, &dl), AUSB_EMALFORMED);
    ausb_desc_iter_init(&it, NULL, 100);
    T_EQ(ausb_desc_next(&it, &d, &dl), 0);
    ausb_desc_iter_init(NULL, b, sizeof b);
    T_EQ(ausb_desc_next(NULL, &d, &dl), -EINVAL);
    ausb_setup(NULL, 0, 0, 0, 0, 0);
    T_EQ(ausb_iad_parse(NULL, 8, NULL), AUSB_EMALFORMED);
}

/* Every single-byte corruption and every length of a mutated buffer: the
 * walker must end (error or clean) without reading out of bounds. */
static void test_mutations_never_read_out_of_bounds(void)
{
    unsigned char b[sizeof good];
    size_t pos, n;
    unsigned seed = 12345;
    int runs = 0, bad = 0;
    static const unsigned char vals[] = {0, 1, 2, 3, 7, 9, 0x0b, 0x40, 0x7f, 0xff};
    for (pos = 0; pos < sizeof good; pos++) {
        size_t v;
        for (v = 0; v < sizeof vals; v++) {
            int r, c;
            memcpy(b, good, sizeof b);
            b[pos] = vals[v];
            r = walk_copy(b, sizeof b, &c);
            if (r != 0 && r != AUSB_EMALFORMED) bad++;
            r = ausb_config_check(b, sizeof b);
            if (r < 0 && r != AUSB_EMALFORMED) bad++;
            runs++;
        }
    }
    for (n = 0; n < 2000; n++) {
        size_t len = (seed = seed * 1103515245u + 12345u) % (sizeof b + 1), k;
        for (k = 0; k < len; k++) b[k] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
        if (len > 1 && (seed & 1)) { b[0] = 9; b[1] = 2; b[2] = (unsigned char)len; b[3] = 0; }
        if (walk_copy(b, len, NULL) > 0) bad++;
        {
            unsigned char *p = (unsigned char *)malloc(len ? len : 1);
            memcpy(p, b, len);
            (void)ausb_config_check(p, len);
            (void)ausb_raw_iads(p, len, NULL, 0);
            free(p);
        }
        runs++;
    }
    T_EQ(bad, 0);
    T_EQ(runs, (int)sizeof good * (int)sizeof vals + 2000);
}

static void test_iads_from_raw_bytes(void)
{
    ausb_iad iads[2];
    static const unsigned char bad_iad[] = {7, 0x0b, 0, 2, 0x0e, 3, 0};
    T_EQ(ausb_raw_iads(good, sizeof good, iads, 2), 1);
    T_EQ(iads[0].first_interface, 0);
    T_EQ(iads[0].interface_count, 2);
    T_EQ(iads[0].function_class, 0x0e);
    T_EQ(iads[0].function_subclass, 0x03);
    T_EQ(iads[0].function_string, 4);
    T_EQ(ausb_raw_iads(good, sizeof good, NULL, 0), 1);
    T_EQ(ausb_iad_parse(bad_iad, sizeof bad_iad, iads), AUSB_EMALFORMED);
}

static void test_utf16_ascii_and_bmp(void)
{
    static const unsigned char in[] = {'C', 0, 'a', 0, 0xe9, 0x00, 0xac, 0x20};   /* "Caé€" */
    char out[32];
    T_EQ(ausb_utf16le_to_utf8(in, sizeof in, out, sizeof out), 7);
    T_STREQ(out, "Ca\xc3\xa9\xe2\x82\xac");
}

static void test_utf16_surrogate_pairs_and_lone_halves(void)
{
    static const unsigned char pair[] = {0x3d, 0xd8, 0x00, 0xde};            /* U+1F600 */
    static const unsigned char lone_hi[] = {0x3d, 0xd8, 'x', 0};
    static const unsigned char lone_lo[] = {0x00, 0xde};
    static const unsigned char hi_at_end[] = {'a', 0, 0x3d, 0xd8};
    char out[16];
    T_EQ(ausb_utf16le_to_utf8(pair, sizeof pair, out, sizeof out), 4);
    T_STREQ(out, "\xf0\x9f\x98\x80");
    T_EQ(ausb_utf16le_to_utf8(lone_hi, sizeof lone_hi, out, sizeof out), 4);
    T_STREQ(out, "\xef\xbf\xbdx");
    T_EQ(ausb_utf16le_to_utf8(lone_lo, sizeof lone_lo, out, sizeof out), 3);
    T_STREQ(out, "\xef\xbf\xbd");
    T_EQ(ausb_utf16le_to_utf8(hi_at_end, sizeof hi_at_end, out, sizeof out), 4);
    T_STREQ(out, "a\xef\xbf\xbd");
}

static void test_utf16_odd_length_and_small_output(void)
{
    static const unsigned char in[] = {'a', 0, 0xac, 0x20, 'b'};
    char out[5];
    T_EQ(ausb_utf16le_to_utf8(in, sizeof in, out, sizeof out), 4);   /* odd byte ignored */
    T_STREQ(out, "a\xe2\x82\xac");
    T_EQ(ausb_utf16le_to_utf8(in, sizeof in, out, 3), -ENOSPC);     /* cut before the euro */
    T_STREQ(out, "a");
    T_EQ(ausb_utf16le_to_utf8(in, 0, out, sizeof out), 0);
    T_STREQ(out, "");
    T_EQ(ausb_utf16le_to_utf8(in, sizeof in, NULL, 4), -EINVAL);
}

static void test_setup_packets(void)
{
    unsigned char s[8];
    static const unsigned char want_desc[8] = {0x80, 0x06, 0x02, 0x03, 0x09, 0x04, 0xff, 0x00};
    static const unsigned char want_clear[8] = {0x02, 0x01, 0x00, 0x00, 0x81, 0x00, 0x00, 0x00};
    static const unsigned char want_status[8] = {0x81, 0x00, 0x00, 0x00, 0x02, 0x00, 0x02, 0x00};
    ausb_setup_get_descriptor(s, AUSB_DT_STRING, 2, 0x0409, 255);
    T_MEMEQ(s, want_desc, 8);
    ausb_setup_feature(s, 0, AUSB_RT_ENDPOINT, 0, 0x81);
    T_MEMEQ(s, want_clear, 8);
    ausb_setup_get_status(s, AUSB_RT_INTERFACE, 2);
    T_MEMEQ(s, want_status, 8);
}

/* Device text on its way to a terminal: controls (C0, DEL, C1) and bytes
 * that are no well-formed UTF-8 each become one '?'; the rest is kept. */
static void test_printable_text(void)
{
    char s[64];
    strcpy(s, "\x1b]0;pwned\x07\x1b[2J Cam\x7f");
    T_EQ(ausb_utf8_printable(s), 4);
    T_STREQ(s, "?]0;pwned??[2J Cam?");
    strcpy(s, "Gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x93\xb7");     /* u-umlaut, sharp s, euro, camera */
    T_EQ(ausb_utf8_printable(s), 0);
    T_STREQ(s, "Gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x93\xb7");
    strcpy(s, "a\xc2\x9b" "2Jb\xc2\x85");                   /* C1: CSI and NEL */
    T_EQ(ausb_utf8_printable(s), 2);
    T_STREQ(s, "a?2Jb?");
    strcpy(s, "\x9b\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82");  /* stray, overlong, surrogate, too high, cut */
    T_EQ(ausb_utf8_printable(s), 12);
    T_STREQ(s, "????????????");
    s[0] = 0;
    T_EQ(ausb_utf8_printable(s), 0);
    T_EQ(ausb_utf8_printable(NULL), -EINVAL);
}

static void test_error_text(void)
{
    T_STREQ(ausb_strerror(AUSB_ESTALL), "endpoint stalled");
    T_STREQ(ausb_strerror(AUSB_EBABBLE), "overflow: device sent more data than requested");
    T_STREQ(ausb_strerror(AUSB_EMALFORMED), "malformed descriptor");
    T_STREQ(ausb_strerror(-ECANCELED), strerror(ECANCELED));
    T_STREQ(ausb_strerror(-5000), "unknown error");
    T_STREQ(ausb_speed_text(480000), "480");
    T_STREQ(ausb_speed_text(1500), "1.5");
    T_STREQ(ausb_speed_text(10000000), "10000");
    T_STREQ(ausb_ep_type_name(AUSB_EP_INTERRUPT), "Interrupt");
}

int main(void)
{
    t_suite("usb_desc");
    T_RUN(test_walks_a_valid_configuration);
    T_RUN(test_zero_blength_stops_with_error);
    T_RUN(test_blength_of_one_stops_with_error);
    T_RUN(test_oversized_blength_stops_with_error);
    T_RUN(test_truncated_buffer_stops_with_error);
    T_RUN(test_wtotallength_lies_are_rejected);
    T_RUN(test_interface_count_must_match_the_interfaces_present);
    T_RUN(test_short_interface_and_endpoint_descriptors_are_rejected);
    T_RUN(test_error_is_sticky);
    T_RUN(test_mutations_never_read_out_of_bounds);
    T_RUN(test_iads_from_raw_bytes);
    T_RUN(test_utf16_ascii_and_bmp);
    T_RUN(test_utf16_surrogate_pairs_and_lone_halves);
    T_RUN(test_utf16_odd_length_and_small_output);
    T_RUN(test_setup_packets);
    T_RUN(test_printable_text);
    T_RUN(test_error_text);
    return t_done();
}
