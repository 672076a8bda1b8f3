/* Fuzz target: asyncusb.h's raw configuration-descriptor walker and the
 * interface-association parsing, on bytes from an untrusted device.
 *
 * Input: one control byte, then the raw bytes.  The raw bytes are walked
 * as they are (from a heap copy of exactly their length, so any read past
 * the end is caught by ASan) and checked against a small reference walker:
 * every descriptor yielded starts where the previous one ended, lies inside
 * the buffer and has bLength >= 2; the walk ends cleanly only on the last
 * byte, stops with a sticky AUSB_EMALFORMED on a zero, short or
 * oversized bLength or a short interface descriptor, and the tracked
 * interface / alternate setting are those of the last interface seen.
 * ausb_config_check, ausb_raw_iads, ausb_iad_parse, ausb_config_iads (on a
 * libusb configuration whose extras are slices of the input) and the
 * SuperSpeed companion lookup of ausb_ep_multiplier get the same treatment.
 * Then a well-formed configuration is built from the same bytes; it must
 * walk completely, pass ausb_config_check with the right count, give back
 * its IADs, and every cut of it short of wTotalLength must be rejected.
 *
 * FUZZ_FLAGS: $(pkg-config --cflags --libs libusb-1.0)
 */
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

#define MAXD 4096

/* One descriptor as the reference walker sees it. */
struct ref_desc { size_t off, len; };

struct ref_walk {
    struct ref_desc d[MAXD];
    int n;
    int end;             /* 0 clean end, or AUSB_EMALFORMED */
    int interface, alt;
};

/* The contract, written independently of the header: descriptors are
 * back to back; bLength is at least 2 and fits in what is left; an
 * interface descriptor has at least 9 bytes. */
static void ref_walk(const uint8_t *p, size_t len, struct ref_walk *w)
{
    size_t off = 0;
    w->n = 0;
    w->end = 0;
    w->interface = w->alt = -1;
    while (off < len) {
        size_t left = len - off, bl;
        if (left < 2) { w->end = AUSB_EMALFORMED; return; }
        bl = p[off];
        if (bl < 2 || bl > left) { w->end = AUSB_EMALFORMED; return; }
        if (p[off + 1] == AUSB_DT_INTERFACE) {
            if (bl < 9) { w->end = AUSB_EMALFORMED; return; }
            w->interface = p[off + 2];
            w->alt = p[off + 3];
        }
        CHECK(w->n < MAXD);
        w->d[w->n].off = off;
        w->d[w->n].len = bl;
        w->n++;
        off += bl;
    }
}

static struct ref_walk rw;
static volatile uint8_t sink;

/* Walks buf[0..len) with the header's iterator and compares every step
 * with the reference; returns the number of descriptors. */
static int check_walk(const uint8_t *buf, size_t len)
{
    ausb_desc_iter it, it2;
    const uint8_t *d;
    size_t dl, sum = 0;
    int r, n = 0, i;
    ref_walk(buf, len, &rw);
    ausb_desc_iter_init(&it, buf, len);
    ausb_desc_iter_init(&it2, buf, len);
    CHECK(it.interface == -1 && it.alt == -1 && it.error == 0);
    for (;;) {
        const uint8_t *d_before = (const uint8_t *)0x1;
        size_t dl_before = 12345;
        d = d_before;
        dl = dl_before;
        r = ausb_desc_next(&it, &d, &dl);
        /* the same walk with NULL out-pointers gives the same answers */
        CHECK(ausb_desc_next(&it2, NULL, NULL) == r);
        if (r != 1) break;
        CHECK(n < rw.n);
        CHECK(d >= buf && dl >= 2 && dl <= len && (size_t)(d - buf) <= len - dl);
        CHECK((size_t)(d - buf) == rw.d[n].off && dl == rw.d[n].len);
        CHECK(d[0] == dl);
        CHECK((size_t)(d - buf) == sum);   /* back to back */
        for (i = 0; i < (int)dl; i++) sink ^= d[i];   /* touch every byte (ASan) */
        sum += dl;
        n++;
        CHECK(n <= (int)(len / 2));        /* at least 2 bytes each: it terminates */
    }
    CHECK(n == rw.n);
    CHECK(r == rw.end);
    if (r == 0) CHECK(sum == len);
    else CHECK(r == AUSB_EMALFORMED && sum < len && it.error == AUSB_EMALFORMED);
    CHECK(it.interface == rw.interface && it.alt == rw.alt);
    CHECK(it2.interface == rw.interface && it2.alt == rw.alt);
    /* sticky: the end (clean or not) answers again, and again */
    CHECK(ausb_desc_next(&it, &d, &dl) == r);
    CHECK(ausb_desc_next(&it, &d, &dl) == r);
    return n;
}

/* Reference ausb_config_check. */
static int ref_config_check(const uint8_t *p, size_t len, size_t *total_out)
{
    size_t total;
    int i, seen_if = 0, interfaces = 0;
    if (!p || len < 9) return AUSB_EMALFORMED;
    if (p[0] < 9 || p[1] != AUSB_DT_CONFIG) return AUSB_EMALFORMED;
    total = (size_t)p[2] | ((size_t)p[3] << 8);
    if (total < p[0] || total > len) return AUSB_EMALFORMED;
    *total_out = total;
    ref_walk(p, total, &rw);
    for (i = 0; i < rw.n; i++) {
        const uint8_t *d = p + rw.d[i].off;
        size_t dl = rw.d[i].len;
        if (i > 0 && d[1] == AUSB_DT_CONFIG) return AUSB_EMALFORMED;
        if (d[1] == AUSB_DT_ENDPOINT && (dl < 7 || !seen_if)) return AUSB_EMALFORMED;
        if (d[1] == AUSB_DT_IAD && dl < 8) return AUSB_EMALFORMED;
        if (d[1] == AUSB_DT_INTERFACE) {
            seen_if = 1;
            if (dl >= 9 && d[3] == 0) interfaces++;
        }
    }
    if (rw.end < 0) return rw.end;
    if (interfaces != p[4]) return AUSB_EMALFORMED;
    return rw.n;
}

/* IADs of one raw slice, as the header must find them (walk until the end
 * or the first malformed descriptor; IADs of at least 8 bytes). */
static int ref_iads(const uint8_t *p, size_t len, ausb_iad *out, int cap, int n)
{
    int i;
    if (!p || !len) return n;
    ref_walk(p, len, &rw);
    for (i = 0; i < rw.n; i++) {
        const uint8_t *d = p + rw.d[i].off;
        if (d[1] != AUSB_DT_IAD || rw.d[i].len < 8) continue;
        if (n < cap) {
            out[n].first_interface = d[2];
            out[n].interface_count = d[3];
            out[n].function_class = d[4];
            out[n].function_subclass = d[5];
            out[n].function_protocol = d[6];
            out[n].function_string = d[7];
        }
        n++;
    }
    return n;
}

static int iad_eq(const ausb_iad *a, const ausb_iad *b)
{
    return a->first_interface == b->first_interface && a->interface_count == b->interface_count &&
           a->function_class == b->function_class && a->function_subclass == b->function_subclass &&
           a->function_protocol == b->function_protocol && a->function_string == b->function_string;
}

static void check_raw_iads(const uint8_t *buf, size_t len, int cap)
{
    ausb_iad *out = (ausb_iad *)malloc((size_t)(cap ? cap : 1) * sizeof *out);
    ausb_iad want[8];
    size_t total = 0;
    int r, rc, i, w;
    CHECK(cap <= 8);
    r = ausb_raw_iads(buf, len, cap ? out : NULL, cap);
    rc = ref_config_check(buf, len, &total);
    if (rc < 0) {
        CHECK(r == rc);
    } else {
        w = ref_iads(buf, total, want, cap, 0);
        CHECK(r == w);
        for (i = 0; i < r && i < cap; i++) CHECK(iad_eq(&out[i], &want[i]));
    }
    free(out);
}

/* ausb_iad_parse on the first bytes of the input, with every length. */
static void check_iad_parse(const uint8_t *buf, size_t len)
{
    ausb_iad got;
    int r, ok;
    memset(&got, 0xa5, sizeof got);
    r = ausb_iad_parse(buf, len, &got);
    ok = len >= 8 && buf[0] >= 8 && buf[0] <= len && buf[1] == AUSB_DT_IAD;
    CHECK(r == (ok ? 0 : AUSB_EMALFORMED));
    if (ok) {
        CHECK(got.first_interface == buf[2] && got.interface_count == buf[3] && got.function_class == buf[4] &&
              got.function_subclass == buf[5] && got.function_protocol == buf[6] && got.function_string == buf[7]);
    }
    CHECK(ausb_iad_parse(buf, len, NULL) == r);
}

/* A libusb configuration whose extra bytes (config, two alternate settings
 * of one interface, two endpoints of the second) are slices of the input,
 * each in a heap block of its own size. */
static void check_config_iads(const uint8_t *buf, size_t len, int cap)
{
    struct libusb_config_descriptor cfg;
    struct libusb_interface itf;
    struct libusb_interface_descriptor alts[2];
    struct libusb_endpoint_descriptor eps[2];
    unsigned char *slice[5];
    size_t cut[6], sl[5];
    ausb_iad *out = (ausb_iad *)malloc((size_t)(cap ? cap : 1) * sizeof *out);
    ausb_iad want[8];
    int i, n, w = 0;
    memset(&cfg, 0, sizeof cfg);
    memset(&itf, 0, sizeof itf);
    memset(alts, 0, sizeof alts);
    memset(eps, 0, sizeof eps);
    cut[0] = 0;
    cut[5] = len;
    for (i = 1; i < 5; i++) cut[i] = len ? (size_t)buf[i % len] * len / 256 : 0;
    for (i = 1; i < 5; i++) if (cut[i] < cut[i - 1]) cut[i] = cut[i - 1];
    for (i = 0; i < 5; i++) {
        sl[i] = cut[i + 1] - cut[i];
        slice[i] = sl[i] ? (unsigned char *)malloc(sl[i]) : NULL;
        if (sl[i]) memcpy(slice[i], buf + cut[i], sl[i]);
    }
    cfg.extra = slice[0]; cfg.extra_length = (int)sl[0];
    cfg.bNumInterfaces = 1;
    cfg.interface = &itf;
    itf.altsetting = alts;
    itf.num_altsetting = 2;
    alts[0].extra = slice[1]; alts[0].extra_length = (int)sl[1];
    alts[1].extra = slice[2]; alts[1].extra_length = (int)sl[2];
    alts[1].bNumEndpoints = 2;
    alts[1].endpoint = eps;
    eps[0].extra = slice[3]; eps[0].extra_length = (int)sl[3];
    eps[1].extra = slice[4]; eps[1].extra_length = (int)sl[4];
    n = ausb_config_iads(&cfg, cap ? out : NULL, cap);
    w = ref_iads(slice[0], sl[0], want, cap, w);
    w = ref_iads(slice[1], sl[1], want, cap, w);
    w = ref_iads(slice[2], sl[2], want, cap, w);
    w = ref_iads(slice[3], sl[3], want, cap, w);
    w = ref_iads(slice[4], sl[4], want, cap, w);
    CHECK(n == w);
    for (i = 0; i < n && i < cap; i++) CHECK(iad_eq(&out[i], &want[i]));
    CHECK(ausb_config_iads(NULL, out, cap) == -EINVAL);

    /* the SuperSpeed companion of an isochronous / interrupt endpoint */
    for (i = 0; i < 4; i++) {
        int got, exp = 1, k;
        eps[1].bmAttributes = (uint8_t)i;
        got = ausb_ep_multiplier(&eps[1], 5000000);
        if (i == AUSB_EP_ISOCHRONOUS || i == AUSB_EP_INTERRUPT) {
            ref_walk(slice[4], sl[4], &rw);
            for (k = 0; k < rw.n; k++) {
                const uint8_t *c = slice[4] + rw.d[k].off;
                if (c[1] == AUSB_DT_SS_EP_COMPANION && rw.d[k].len >= 6) {
                    int mult = i == AUSB_EP_ISOCHRONOUS ? (c[3] & 3) + 1 : 1;
                    exp = ((c[2] & 0x0f) + 1) * (mult > 3 ? 3 : mult);
                    break;
                }
            }
        }
        CHECK(got == exp);
        CHECK(got >= 1 && got <= 48);
    }
    for (i = 0; i < 5; i++) free(slice[i]);
    free(out);
}

/* Builds a well-formed configuration from the input: each input byte pair
 * picks a descriptor kind and a length; contents come from the input too. */
static void check_built(const uint8_t *data, size_t size, int cap)
{
    uint8_t *b = (uint8_t *)malloc(65535);
    size_t off = 9, offs[MAXD], lens[MAXD], k = 0, cut;
    int nd = 1, nif = 0, niad = 0, last_if = -1, last_alt = -1, seen_if = 0, r, i;
    ausb_iad iads[8], got[8];
    ausb_desc_iter it;
    const uint8_t *d;
    size_t dl;
    offs[0] = 0;
    lens[0] = 9;
    while (k + 1 < size && nd < 300) {
        uint8_t kind = data[k], extra = data[k + 1];
        size_t bl;
        uint8_t type;
        k += 2;
        switch (kind % 5) {
        case 0: type = AUSB_DT_INTERFACE; bl = 9 + extra % 4; break;
        case 1: type = seen_if ? AUSB_DT_ENDPOINT : AUSB_DT_INTERFACE; bl = (seen_if ? 7 : 9) + extra % 3; break;
        case 2: type = AUSB_DT_IAD; bl = 8 + extra % 3; break;
        case 3: type = AUSB_DT_SS_EP_COMPANION; bl = 6; break;
        default:  /* class-specific or vendor: any length, any type but those above */
            type = (uint8_t)(0x20 + (kind >> 3) % 8);
            bl = 2 + extra % 40;
            break;
        }
        if (off + bl > 65535) break;
        b[off] = (uint8_t)bl;
        b[off + 1] = type;
        for (i = 2; i < (int)bl; i++) b[off + i] = k + (size_t)i < size ? data[k + (size_t)i] : (uint8_t)i;
        if (type == AUSB_DT_INTERFACE) {
            seen_if = 1;
            if (nif == 255 && b[off + 3] == 0) b[off + 3] = 1;   /* bNumInterfaces is one byte */
            last_if = b[off + 2];
            last_alt = b[off + 3];
            if (last_alt == 0) nif++;
        }
        if (type == AUSB_DT_IAD) {
            if (niad < 8) {
                iads[niad].first_interface = b[off + 2];
                iads[niad].interface_count = b[off + 3];
                iads[niad].function_class = b[off + 4];
                iads[niad].function_subclass = b[off + 5];
                iads[niad].function_protocol = b[off + 6];
                iads[niad].function_string = b[off + 7];
            }
            niad++;
        }
        offs[nd] = off;
        lens[nd] = bl;
        nd++;
        off += bl;
    }
    b[0] = 9; b[1] = AUSB_DT_CONFIG; b[2] = (uint8_t)(off & 0xff); b[3] = (uint8_t)(off >> 8);
    b[4] = (uint8_t)nif; b[5] = 1; b[6] = 0; b[7] = 0x80; b[8] = 50;
    {
        /* in a block of exactly its size */
        uint8_t *p = (uint8_t *)malloc(off);
        memcpy(p, b, off);
        ausb_desc_iter_init(&it, p, off);
        for (i = 0; (r = ausb_desc_next(&it, &d, &dl)) == 1; i++) {
            CHECK(i < nd);
            CHECK((size_t)(d - p) == offs[i] && dl == lens[i]);
        }
        CHECK(r == 0 && i == nd);
        CHECK(it.interface == last_if && it.alt == last_alt);
        CHECK(ausb_config_check(p, off) == nd);
        CHECK(check_walk(p, off) == nd);
        r = ausb_raw_iads(p, off, got, cap);
        CHECK(r == niad);
        for (i = 0; i < niad && i < cap; i++) CHECK(iad_eq(&got[i], &iads[i]));
        /* a lying wTotalLength: longer than the bytes there are */
        if (off < 65535) {
            p[2] = (uint8_t)((off + 1) & 0xff); p[3] = (uint8_t)((off + 1) >> 8);
            CHECK(ausb_config_check(p, off) == AUSB_EMALFORMED);
            CHECK(ausb_raw_iads(p, off, got, cap) == AUSB_EMALFORMED);
            p[2] = (uint8_t)(off & 0xff); p[3] = (uint8_t)(off >> 8);
        }
        free(p);
    }
    /* truncations: never accepted by the checker; the walker ends cleanly
     * exactly at descriptor boundaries */
    cut = size ? (size_t)data[size - 1] * off / 256 : 0;
    {
        uint8_t *p = (uint8_t *)malloc(cut ? cut : 1);
        int boundary = 0;
        memcpy(p, b, cut);
        for (i = 0; i < nd; i++) if (offs[i] == cut) boundary = 1;
        CHECK(ausb_config_check(p, cut) == AUSB_EMALFORMED);
        ausb_desc_iter_init(&it, p, cut);
        while ((r = ausb_desc_next(&it, &d, &dl)) == 1) {}
        CHECK(r == ((boundary || cut == 0) ? 0 : AUSB_EMALFORMED));
        free(p);
    }
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t ctl, *buf;
    size_t len;
    int cap;
    if (size < 1 || size > 8192) return 0;
    ctl = data[0];
    len = size - 1;
    cap = ctl % 9;
    buf = (uint8_t *)malloc(len ? len : 1);
    memcpy(buf, data + 1, len);
    (void)check_walk(buf, len);
    {
        size_t total = 0;
        CHECK(ausb_config_check(buf, len) == ref_config_check(buf, len, &total));
    }
    CHECK(ausb_config_check(NULL, len) == AUSB_EMALFORMED);
    check_raw_iads(buf, len, cap);
    check_iad_parse(buf, len);
    check_iad_parse(buf, len < 9 ? len : (size_t)(ctl >> 4) % 9 + 0);
    check_config_iads(buf, len, cap);
    check_built(buf, len, cap);
    free(buf);
    return 0;
}
