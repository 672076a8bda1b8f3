/* Fuzz target: asyncusb.h's string-descriptor decoding.
 *
 * Input: two control bytes (an output size and a mode), then the bytes.
 * 1. ausb_utf16le_to_utf8 on the bytes, into a heap block of exactly the
 *    chosen size (0..400): the result is NUL-terminated inside the block,
 *    valid UTF-8 (strictly: shortest forms, no surrogates, nothing above
 *    U+10FFFF), never longer than the block allows, equal to a reference
 *    decoder's output when that fits and otherwise its longest prefix that
 *    ends on a character boundary (-ENOSPC); ASCII input comes back as is.
 * 2. The two steps of ausb_read_string, driven directly with the bytes as
 *    what the device answered (a handle marked gone, so nothing reaches
 *    libusb): the language list picks US English when offered, else the
 *    first language, and an empty or malformed list fails with
 *    AUSB_EMALFORMED; a string descriptor is cut to min(bLength, bytes
 *    received) and decoded as in 1; the callback runs exactly once.
 *
 * FUZZ_FLAGS: $(pkg-config --cflags --libs libusb-1.0)
 */
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

/* Strict UTF-8 validation of s[0..n); returns the number of characters or -1. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    int chars = 0;
    while (i < n) {
        unsigned long cp;
        size_t len, k;
        unsigned char c = s[i];
        if (c < 0x80) { i++; chars++; continue; }
        if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
        else return -1;
        if (i + len > n) return -1;
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return -1;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return -1;   /* overlong */
        if (cp >= 0xd800 && cp <= 0xdfff) return -1;                            /* surrogate */
        if (cp > 0x10ffff) return -1;
        i += len;
        chars++;
    }
    return chars;
}

/* Reference decoder: UTF-16LE (odd last byte ignored), pairs joined, lone
 * halves as U+FFFD.  Writes the UTF-8 and the end offset of every character. */
static size_t ref_decode(const uint8_t *in, size_t bytes, unsigned char *out, size_t *ends, size_t *nchars)
{
    size_t units = bytes / 2, i = 0, o = 0, nc = 0;
    while (i < units) {
        unsigned long u = in[2 * i] | ((unsigned long)in[2 * i + 1] << 8), cp = u;
        i++;
        if (u >= 0xd800 && u <= 0xdbff && i < units) {
            unsigned long lo = in[2 * i] | ((unsigned long)in[2 * i + 1] << 8);
            if (lo >= 0xdc00 && lo <= 0xdfff) { cp = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00); i++; }
        }
        if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
        if (cp < 0x80) out[o++] = (unsigned char)cp;
        else if (cp < 0x800) { out[o++] = (unsigned char)(0xc0 | (cp >> 6)); out[o++] = (unsigned char)(0x80 | (cp & 0x3f)); }
        else if (cp < 0x10000) {
            out[o++] = (unsigned char)(0xe0 | (cp >> 12));
            out[o++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
            out[o++] = (unsigned char)(0x80 | (cp & 0x3f));
        } else {
            out[o++] = (unsigned char)(0xf0 | (cp >> 18));
            out[o++] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
            out[o++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
            out[o++] = (unsigned char)(0x80 | (cp & 0x3f));
        }
        ends[nc++] = o;
    }
    *nchars = nc;
    return o;
}

static unsigned char want[3 * 4096 + 4];
static size_t ends[4096];

/* Decodes in[0..bytes) into a block of exactly cap bytes and checks it. */
static void check_decode(const uint8_t *in, size_t bytes, size_t cap)
{
    char *out = (char *)malloc(cap ? cap : 1);
    size_t wl, nc, fit, k, ascii = 1;
    int r;
    wl = ref_decode(in, bytes, want, ends, &nc);
    memset(out, 0x5a, cap ? cap : 1);
    r = ausb_utf16le_to_utf8(in, bytes, cap ? out : NULL, cap);
    if (cap == 0) {
        CHECK(r == -EINVAL);
        free(out);
        return;
    }
    /* (U+0000 in the input decodes to a 0 byte, so lengths are compared
     * with the return value / the reference, not with strlen) */
    if (wl + 1 <= cap) {
        CHECK(r == (int)wl);
        fit = wl;
    } else {
        /* cut at the last character boundary that leaves room for the NUL */
        fit = 0;
        for (k = 0; k < nc && ends[k] + 1 <= cap; k++) fit = ends[k];
        CHECK(r == -ENOSPC);
    }
    /* terminated inside the block, not longer than it, valid UTF-8 */
    CHECK(fit < cap && out[fit] == 0);
    CHECK(memcmp(out, want, fit) == 0);
    CHECK(utf8_valid((const unsigned char *)out, fit) >= 0);
    /* ASCII (no NUL) round-trips */
    for (k = 0; k + 1 < bytes; k += 2)
        if (in[k + 1] != 0 || in[k] == 0 || in[k] >= 0x80) { ascii = 0; break; }
    if (ascii && bytes / 2 + 1 <= cap) {
        CHECK(r == (int)(bytes / 2));
        for (k = 0; k < bytes / 2; k++) CHECK((unsigned char)out[k] == in[2 * k]);
    }
    /* the NULL input is an empty string */
    CHECK(ausb_utf16le_to_utf8(NULL, bytes, out, cap) == 0 && out[0] == 0);
    free(out);
}

/* --- ausb_read_string's steps, driven by hand ---------------------------- */

static int calls, last_status;
static char last_text[400];
static int last_text_null;

static void on_string(ausb_string_req *req, int status, const char *utf8, void *user)
{
    (void)req;
    CHECK(user == (void *)&calls);
    calls++;
    last_status = status;
    last_text_null = utf8 == NULL;
    if (utf8) {
        size_t n = strlen(utf8);
        CHECK(n < sizeof last_text);
        memcpy(last_text, utf8, n + 1);
    }
}

static uint16_t ref_pick_lang(const uint8_t *d, int len)
{
    int i, n;
    uint16_t first = 0;
    if (len < 4 || d[1] != AUSB_DT_STRING) return 0;
    n = d[0] < len ? d[0] : len;
    for (i = 2; i + 1 < n; i += 2) {
        uint16_t l = (uint16_t)(d[i] | (d[i + 1] << 8));
        if (l == 0x0409) return 0x0409;
        if (!first) first = l;
    }
    return first;
}

static void drive_step(int step, const uint8_t *answer, size_t alen)
{
    static ausb_ctx ctx;
    static ausb_handle h;
    ausb_string_req *req = (ausb_string_req *)malloc(sizeof *req);
    int len = (int)(alen > 255 ? 255 : alen);
    memset(req, 0, sizeof *req);
    memset(&h, 0, sizeof h);
    h.ctx = &ctx;
    h.lh = (libusb_device_handle *)(void *)&h;   /* never dereferenced: the handle is gone */
    h.gone = 1;
    CHECK(ausb_transfer_init(&req->xfer, 0) == 0);
    req->handle = &h;
    req->cb = on_string;
    req->ud = &calls;
    req->index = 3;
    req->step = step;
    memcpy(req->buf + 8, answer, (size_t)len);
    req->xfer.actual_length = len;
    req->xfer.handle = &h;
    calls = 0;
    last_status = 1;
    ausb__string_step(&req->xfer, 0, req);
    CHECK(calls == 1);
    CHECK(req->xfer.lt == NULL);   /* the transfer was freed */
    if (step == 0) {
        uint16_t lang = ref_pick_lang(answer, len);
        if (!lang) {
            CHECK(last_status == AUSB_EMALFORMED && last_text_null);
            CHECK(h.langid == 0);
        } else {
            /* the language is kept; the second request fails on the gone handle */
            CHECK(h.langid == lang);
            CHECK(last_status == -ENODEV && last_text_null);
        }
    } else if (len < 2 || answer[1] != AUSB_DT_STRING || answer[0] < 2) {
        CHECK(last_status == AUSB_EMALFORMED && last_text_null);
    } else {
        size_t nc, wl, n = (size_t)(answer[0] < len ? answer[0] : len);
        wl = ref_decode(answer + 2, n - 2, want, ends, &nc);
        CHECK(last_status == 0 && !last_text_null);
        CHECK(wl + 1 <= sizeof req->text);   /* the text buffer holds any descriptor */
        {
            /* the callback's C string ends at the first U+0000, if any */
            const unsigned char *z = (const unsigned char *)memchr(want, 0, wl);
            size_t cl = z ? (size_t)(z - want) : wl;
            CHECK(strlen(last_text) == cl && memcmp(last_text, want, cl) == 0);
        }
        CHECK(utf8_valid((const unsigned char *)last_text, strlen(last_text)) >= 0);
    }
    /* a failed transfer reaches the callback once, with its status */
    CHECK(ausb_transfer_init(&req->xfer, 0) == 0);
    req->step = step;
    calls = 0;
    ausb__string_step(&req->xfer, -ETIMEDOUT, req);
    CHECK(calls == 1 && last_status == -ETIMEDOUT && last_text_null && req->xfer.lt == NULL);
    /* and the public entry refuses a gone handle without a callback */
    calls = 0;
    CHECK(ausb_read_string(req, &h, 3, AUSB_MS(100), on_string, &calls) == -ENODEV);
    CHECK(ausb_read_string(req, &h, 0, AUSB_MS(100), on_string, &calls) == -EINVAL);
    CHECK(calls == 0);
    free(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cap, bytes;
    const uint8_t *in;
    if (size < 2 || size > 2 + 8192) return 0;
    cap = (size_t)data[0] * 401 / 256 + (data[1] & 0x80 ? 0 : data[1] % 2);
    in = data + 2;
    bytes = size - 2;
    {
        /* the input in a heap block of its own size */
        uint8_t *copy = (uint8_t *)malloc(bytes ? bytes : 1);
        memcpy(copy, in, bytes);
        check_decode(copy, bytes, cap);
        check_decode(copy, bytes, bytes * 2 + 1);        /* always room */
        check_decode(copy, bytes, (size_t)(data[1] & 7)); /* tiny */
        free(copy);
    }
    drive_step(0, in, bytes);
    drive_step(1, in, bytes);
    return 0;
}
