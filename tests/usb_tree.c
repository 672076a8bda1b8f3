/* tests/usb_tree.c - asyncusb.h's accessors on hand-built libusb trees.
 *
 * libusb 1.0.26, the version Debian ships, hands back an alternate setting
 * with bNumEndpoints 3 and endpoint NULL when an endpoint descriptor runs
 * past the end of its configuration, and reports success.  Other versions
 * may leave other arrays out.  These tests build struct
 * libusb_config_descriptor trees by hand with exactly those shapes: NULL
 * arrays under non-zero counts, negative counts, zero counts over real
 * arrays, counts below the array's length, extras without bytes.  Every
 * array is a heap block of exactly its length, so ASan and valgrind see
 * any read past it.  No device and no libusb call: the tree is all there is.
 * Also the command-line parsing of ids (ausb_parse_ids).
 */
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"
#include "tests/harness.h"

/* A tree of one interface with one alternate setting and n endpoints:
 * the camera's (bulk 81, bulk 02, interrupt 83), heap blocks throughout. */
typedef struct tree {
    ausb_config_desc cfg;
    struct libusb_interface *ifs;
    struct libusb_interface_descriptor *alts;
    struct libusb_endpoint_descriptor *eps;
} tree;

static void *t_dup(const void *src, size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p && n) memcpy(p, src, n);
    return p;
}

static const unsigned char iad_bytes[8] = {8, AUSB_DT_IAD, 0, 1, 0x06, 0x01, 0x01, 0};

static void tree_build(tree *t)
{
    static const uint8_t addr[3] = {0x81, 0x02, 0x83}, attr[3] = {2, 2, 3};
    int e;
    memset(t, 0, sizeof *t);
    t->eps = (struct libusb_endpoint_descriptor *)calloc(3, sizeof *t->eps);
    for (e = 0; e < 3; e++) {
        t->eps[e].bLength = 7;
        t->eps[e].bDescriptorType = AUSB_DT_ENDPOINT;
        t->eps[e].bEndpointAddress = addr[e];
        t->eps[e].bmAttributes = attr[e];
        t->eps[e].wMaxPacketSize = e == 2 ? 8 : 512;
    }
    t->alts = (struct libusb_interface_descriptor *)calloc(1, sizeof *t->alts);
    t->alts[0].bLength = 9;
    t->alts[0].bDescriptorType = AUSB_DT_INTERFACE;
    t->alts[0].bNumEndpoints = 3;
    t->alts[0].bInterfaceClass = 6;
    t->alts[0].endpoint = t->eps;
    t->ifs = (struct libusb_interface *)calloc(1, sizeof *t->ifs);
    t->ifs[0].altsetting = t->alts;
    t->ifs[0].num_altsetting = 1;
    t->cfg.bLength = 9;
    t->cfg.bDescriptorType = AUSB_DT_CONFIG;
    t->cfg.wTotalLength = 9 + 8 + 9 + 3 * 7;
    t->cfg.bNumInterfaces = 1;
    t->cfg.bConfigurationValue = 1;
    t->cfg.interface = t->ifs;
    t->cfg.extra = (const unsigned char *)t_dup(iad_bytes, sizeof iad_bytes);
    t->cfg.extra_length = (int)sizeof iad_bytes;
}

static void tree_free(tree *t)
{
    free((void *)t->cfg.extra);
    free(t->eps);
    free(t->alts);
    free(t->ifs);
}

/* Every accessor on one tree; returns how many endpoints the walk found. */
static int walk_all(const ausb_config_desc *cfg)
{
    const ausb_interface *in;
    const ausb_altsetting *s;
    const ausb_endpoint_desc *ep;
    ausb_iad iads[4];
    int i, a, e, n = 0;
    for (i = 0; (in = ausb_config_interface_at(cfg, i)) != NULL; i++) {
        for (a = 0; (s = ausb_interface_altsetting_at(in, a)) != NULL; a++) {
            for (e = 0; (ep = ausb_altsetting_endpoint_at(s, e)) != NULL; e++) {
                n++;
                (void)ausb_ep_max_packet(ep, 5000000);
                (void)ausb_ep_interval_us(ep, 480000);
                (void)ausb_altsetting_endpoint(s, ep->bEndpointAddress);
            }
            (void)ausb_altsetting_endpoint(s, 0x81);
            (void)ausb_interface_altsetting(in, s->bAlternateSetting);
        }
        (void)ausb_interface_altsetting(in, 0);
    }
    (void)ausb_config_interface(cfg, 0);
    (void)ausb_config_iads(cfg, iads, 4);
    (void)ausb_config_verify(cfg);
    return n;
}

static void test_a_whole_tree_walks_and_verifies(void)
{
    tree t;
    ausb_iad iad;
    tree_build(&t);
    T_EQ(walk_all(&t.cfg), 3);
    T_EQ(ausb_config_verify(&t.cfg), 0);
    T_CHECK(ausb_config_interface(&t.cfg, 0) == &t.ifs[0]);
    T_CHECK(ausb_altsetting_endpoint(&t.alts[0], 0x83) == &t.eps[2]);
    T_EQ(ausb_config_iads(&t.cfg, &iad, 1), 1);
    T_EQ(iad.function_class, 6);
    t.cfg.wTotalLength++;                      /* one byte libusb did not keep */
    T_EQ(ausb_config_verify(&t.cfg), AUSB_EMALFORMED);
    t.cfg.wTotalLength -= 2;
    T_EQ(ausb_config_verify(&t.cfg), AUSB_EMALFORMED);
    tree_free(&t);
}

/* The shape libusb 1.0.26 returns for an endpoint whose bLength runs past
 * the end: the count stays, the array is NULL. */
static void test_endpoint_count_without_its_array(void)
{
    tree t;
    tree_build(&t);
    t.alts[0].endpoint = NULL;
    T_EQ(walk_all(&t.cfg), 0);
    T_CHECK(ausb_altsetting_endpoint(&t.alts[0], 0x81) == NULL);
    T_CHECK(ausb_altsetting_endpoint_at(&t.alts[0], 0) == NULL);
    T_EQ(ausb_config_iads(&t.cfg, NULL, 0), 1);   /* what is there still counts */
    T_EQ(ausb_config_verify(&t.cfg), AUSB_EMALFORMED);
    t.alts[0].endpoint = t.eps;
    tree_free(&t);
}

static void test_altsetting_count_without_its_array_or_below_zero(void)
{
    tree t;
    tree_build(&t);
    t.ifs[0].altsetting = NULL;
    T_EQ(walk_all(&t.cfg), 0);
    T_CHECK(ausb_config_interface(&t.cfg, 0) == NULL);
    T_CHECK(ausb_interface_altsetting(&t.ifs[0], 0) == NULL);
    T_EQ(ausb_config_verify(&t.cfg), AUSB_EMALFORMED);
    t.ifs[0].altsetting = t.alts;
    t.ifs[0].num_altsetting = -3;
    T_EQ(walk_all(&t.cfg), 0);
    T_CHECK(ausb_interface_altsetting_at(&t.ifs[0], 0) == NULL);
    T_EQ(ausb_config_verify(&t.cfg), AUSB_EMALFORMED);
    t.ifs[0].num_altsetting = 0;                  /* an interface of no settings */
    T_EQ(walk_all(&t.cfg), 0);
    T_EQ(ausb_config_verify(&t.cfg), AUSB_EMALFORMED);
    tree_free(&t);
}

static void test_interface_count_without_its_array(void)
{
    tree t;
    tree_build(&t);
    t.cfg.interface = NULL;
    t.cfg.bNumInterfaces = 255;
    T_EQ(walk_all(&t.cfg), 0);
    T_CHECK(ausb_config_interface(&t.cfg, 0) == NULL);
    T_CHECK(ausb_config_interface_at(&t.cfg, 254) == NULL);
    T_EQ(ausb_config_iads(&t.cfg, NULL, 0), 1);
    T_EQ(ausb_config_verify(&t.cfg), AUSB_EMALFORMED);
    t.cfg.interface = t.ifs;
    tree_free(&t);
}

/* Zero counts over real arrays: nothing is visited; the bytes the arrays
 * stand for are missing from the total. */
static void test_zero_counts_hide_their_arrays(void)
{
    tree t;
    tree_build(&t);
    t.alts[0].bNumEndpoints = 0;
    T_EQ(walk_all(&t.cfg), 0);
    T_CHECK(ausb_altsetting_endpoint(&t.alts[0], 0x81) == NULL);
    T_EQ(ausb_config_verify(&t.cfg), AUSB_EMALFORMED);
    t.alts[0].bNumEndpoints = 3;
    t.cfg.bNumInterfaces = 0;
    T_EQ(walk_all(&t.cfg), 0);
    T_EQ(ausb_config_verify(&t.cfg), AUSB_EMALFORMED);
    t.cfg.wTotalLength = 9 + 8;                   /* even when its length agrees: no interface */
    T_EQ(ausb_config_verify(&t.cfg), AUSB_EMALFORMED);
    tree_free(&t);
}

/* libusb cuts a count below its array when it stops early: only the
 * counted entries exist. */
static void test_counts_below_the_array_length_are_honoured(void)
{
    tree t;
    tree_build(&t);
    t.alts[0].bNumEndpoints = 1;
    T_EQ(walk_all(&t.cfg), 1);
    T_CHECK(ausb_altsetting_endpoint(&t.alts[0], 0x81) == &t.eps[0]);
    T_CHECK(ausb_altsetting_endpoint(&t.alts[0], 0x83) == NULL);
    T_CHECK(ausb_altsetting_endpoint_at(&t.alts[0], 1) == NULL);
    T_CHECK(ausb_altsetting_endpoint_at(&t.alts[0], -1) == NULL);
    T_EQ(ausb_config_verify(&t.cfg), AUSB_EMALFORMED);
    t.cfg.wTotalLength = 9 + 8 + 9 + 7;
    T_EQ(ausb_config_verify(&t.cfg), 0);
    tree_free(&t);
}

/* Extras: a length without bytes and a negative length are no extras. */
static void test_extras_without_bytes_or_below_zero(void)
{
    tree t;
    tree_build(&t);
    free((void *)t.cfg.extra);
    t.cfg.extra = NULL;
    T_EQ(ausb_config_iads(&t.cfg, NULL, 0), 0);
    T_EQ(ausb_config_verify(&t.cfg), AUSB_EMALFORMED);
    t.cfg.extra_length = 0;
    t.cfg.wTotalLength -= 8;
    T_EQ(ausb_config_verify(&t.cfg), 0);
    t.eps[2].extra = NULL;
    t.eps[2].extra_length = 6;                    /* a companion that is not there */
    t.eps[2].bmAttributes = AUSB_EP_ISOCHRONOUS;
    T_EQ(ausb_ep_multiplier(&t.eps[2], 5000000), 1);
    T_EQ(ausb_config_iads(&t.cfg, NULL, 0), 0);
    T_EQ(ausb_config_verify(&t.cfg), AUSB_EMALFORMED);
    t.eps[2].extra_length = -7;
    T_EQ(walk_all(&t.cfg), 3);
    T_EQ(ausb_config_verify(&t.cfg), AUSB_EMALFORMED);
    t.alts[0].extra_length = -1;
    t.eps[2].extra_length = 0;
    T_EQ(ausb_config_iads(&t.cfg, NULL, 0), 0);
    T_EQ(ausb_config_verify(&t.cfg), AUSB_EMALFORMED);
    tree_free(&t);
}

static void test_null_arguments(void)
{
    T_CHECK(ausb_config_interface_at(NULL, 0) == NULL);
    T_CHECK(ausb_interface_altsetting_at(NULL, 0) == NULL);
    T_CHECK(ausb_altsetting_endpoint_at(NULL, 0) == NULL);
    T_CHECK(ausb_config_interface(NULL, 0) == NULL);
    T_CHECK(ausb_interface_altsetting(NULL, 0) == NULL);
    T_CHECK(ausb_altsetting_endpoint(NULL, 0x81) == NULL);
    T_EQ(ausb_config_verify(NULL), -EINVAL);
    T_EQ(ausb_config_iads(NULL, NULL, 0), -EINVAL);
}

/* Every combination of the shapes above at once, on a tree of two
 * interfaces: the walk never reads outside a block (ASan, valgrind). */
static void test_every_mix_of_missing_arrays_and_odd_counts(void)
{
    static const int counts[] = {0, 1, 2, 3, 255, -1};
    tree t;
    int mask, c;
    tree_build(&t);
    for (mask = 0; mask < 16; mask++) {
        for (c = 0; c < (int)(sizeof counts / sizeof counts[0]); c++) {
            struct libusb_interface two[2];
            int n = counts[c], k;
            memset(two, 0, sizeof two);
            two[0] = t.ifs[0];
            two[1].altsetting = (mask & 1) ? NULL : t.alts;
            two[1].num_altsetting = n > 1 ? 1 : n;
            t.alts[0].endpoint = (mask & 2) ? NULL : t.eps;
            t.alts[0].bNumEndpoints = (uint8_t)(n >= 0 && n <= 3 ? n : (mask & 2) ? 255 : 3);
            t.cfg.interface = (mask & 4) ? NULL : two;
            t.cfg.bNumInterfaces = (uint8_t)(n >= 0 && n <= 2 ? n : (mask & 4) ? 255 : 2);
            t.cfg.extra_length = (mask & 8) ? n : (int)sizeof iad_bytes;
            if (t.cfg.extra_length > (int)sizeof iad_bytes) t.cfg.extra_length = (int)sizeof iad_bytes;
            k = walk_all(&t.cfg);
            T_CHECK(k >= 0 && k <= 6);
        }
    }
    t.alts[0].endpoint = t.eps;
    tree_free(&t);
}

/* Ids from a command line, as lsusb -d takes them, and nothing else. */
static void test_parse_ids(void)
{
    static const char *const bad[] = {"", ":", "1234", "1234:", ":0001", "12345:0001", "1234:00001", "-1:-1",
                                      " 12:34", "12:34 ", "0x12:34", "12:+34", "1g:34", "12:34:56", "12;34"};
    int vid = -7, pid = -7;
    size_t i;
    T_EQ(ausb_parse_ids("04a9:31c0", &vid, &pid), 0);
    T_EQ(vid, 0x04a9);
    T_EQ(pid, 0x31c0);
    T_EQ(ausb_parse_ids("F:fFfF", &vid, &pid), 0);
    T_EQ(vid, 0xf);
    T_EQ(pid, 0xffff);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vid = pid = -7;
        if (ausb_parse_ids(bad[i], &vid, &pid) != -EINVAL || vid != -7 || pid != -7) T_FAILF("accepted '%s'", bad[i]);
    }
    T_EQ(ausb_parse_ids(NULL, &vid, &pid), -EINVAL);
}

int main(void)
{
    t_suite("usb_tree");
    T_RUN(test_a_whole_tree_walks_and_verifies);
    T_RUN(test_endpoint_count_without_its_array);
    T_RUN(test_altsetting_count_without_its_array_or_below_zero);
    T_RUN(test_interface_count_without_its_array);
    T_RUN(test_zero_counts_hide_their_arrays);
    T_RUN(test_counts_below_the_array_length_are_honoured);
    T_RUN(test_extras_without_bytes_or_below_zero);
    T_RUN(test_null_arguments);
    T_RUN(test_every_mix_of_missing_arrays_and_odd_counts);
    T_RUN(test_parse_ids);
    return t_done();
}
