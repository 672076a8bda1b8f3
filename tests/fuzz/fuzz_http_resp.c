/* Fuzz target: the HTTP/1.1 response parser of examples/http_get.c
 * (examples/http_resp.h), on what a hostile or broken server may send.
 *
 * Input: one byte that picks the sizes of the body reads, then the bytes the
 * server sends before it closes.  A driver does what http_get does with
 * aio_stream.h: asks the parser what to read; reads a line the way
 * aios_read_until("\n", 8192) does (AIOS_ETOOLONG when 8192 bytes hold no
 * LF, AIOS_EINCOMPLETE at the end: both end the program with an error), or
 * body bytes the way aios_read does (1..min(asked, 64 KiB) of them, here of
 * pseudo-random sizes; 0 at the end, which goes to http_resp_eof).
 *
 * The outcome is compared with a reference written separately here, which
 * parses the whole input at once by the rules of RFC 9112 that http_get
 * follows:
 *  - status line "HTTP/1.x NNN[ reason]", code 100..599, the reason without
 *    control characters; lines end in LF or CRLF, with no other CR or NUL;
 *  - header fields "name: value" (name a token, no whitespace before the
 *    colon, no obsolete line folding), at most 100 per response;
 *  - interim 1xx responses are skipped (at most 16), 101 is an error;
 *  - 204 and 304 have no body; Transfer-Encoding wins over Content-Length:
 *    chunked when it is the last coding, else the body runs to the close;
 *    Content-Length is digits only, and two different values are an error;
 *    no length at all: the body runs to the close;
 *  - chunk sizes are hex digits without overflow, then optional whitespace
 *    and a ';' extension; chunk data ends with an empty line; trailer
 *    fields follow the header rules and the same count.
 * Same verdict, and for a good response the same status and the same body
 * bytes.  The parser must also end: every step takes input or finishes.
 */
#include "examples/http_resp.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

#define MAX_INPUT (1 << 20)
#define REF_MAX_INTERIM 16

/* ---- the reference: whole input at once ---- */

typedef struct ref {
    const unsigned char *in;
    size_t n, pos;
    int status, fields;
    unsigned char *body;
    size_t body_len;
} ref;

static const char *ref_why_text;  /* the rule a response broke */
#define REF_FAIL(r_, text) do { (void)(r_); ref_why_text = (text); return -1; } while (0)

static int ref_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int ref_ieq(const unsigned char *a, size_t n, const char *b)
{
    size_t i;
    if (strlen(b) != n) return 0;
    for (i = 0; i < n; i++) {
        unsigned char x = a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z') y = (unsigned char)(y + 32);
        if (x != y) return 0;
    }
    return 1;
}

/* Next line without its line end: 0, or -1 (too long, cut off, CR or NUL inside). */
static int ref_line(ref *r, const unsigned char **p, size_t *len)
{
    size_t avail = r->n - r->pos, lim = avail < HTTP_RESP_LINE_MAX ? avail : HTTP_RESP_LINE_MAX, i, k;
    const unsigned char *s = r->in + r->pos;
    for (i = 0; i < lim && s[i] != '\n'; i++) {}
    if (i == lim) REF_FAIL(r, lim == HTTP_RESP_LINE_MAX ? "line too long" : "cut off in a line");
    r->pos += i + 1;
    k = i;
    if (k > 0 && s[k - 1] == '\r') k--;
    for (i = 0; i < k; i++)
        if (s[i] == '\r' || s[i] == 0) REF_FAIL(r, "CR or NUL in a line");
    *p = s;
    *len = k;
    return 0;
}

static int ref_ows(unsigned char c) { return c == ' ' || c == '\t'; }

/* A field line: -1 malformed; else name and trimmed value. */
static int ref_field(const unsigned char *p, size_t len, size_t *name_len, const unsigned char **v, size_t *vlen)
{
    size_t c, i, a, b;
    for (c = 0; c < len && p[c] != ':'; c++) {}
    if (c == len || c == 0) return -1;
    for (i = 0; i < c; i++)
        if (!ref_tchar(p[i])) return -1;
    a = c + 1;
    b = len;
    while (a < b && ref_ows(p[a])) a++;
    while (b > a && ref_ows(p[b - 1])) b--;
    *name_len = c;
    *v = p + a;
    *vlen = b - a;
    return 0;
}

/* 1: the last coding of a Transfer-Encoding value is chunked. */
static int ref_last_chunked(const unsigned char *v, size_t n)
{
    size_t end = n;
    for (;;) {
        size_t start = end, a, b;
        while (start > 0 && v[start - 1] != ',') start--;
        a = start;
        b = end;
        for (size_t i = a; i < b; i++) if (v[i] == ';') { b = i; break; }
        while (a < b && ref_ows(v[a])) a++;
        while (b > a && ref_ows(v[b - 1])) b--;
        if (b > a) return ref_ieq(v + a, b - a, "chunked");
        if (start == 0) return 0;
        end = start - 1;
    }
}

static void ref_add_body(ref *r, const unsigned char *p, size_t n)
{
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
}

/* 0: a good response (r->status, r->body); -1: an error. */
static int ref_parse(ref *r)
{
    int interim = 0;
    for (;;) {
        const unsigned char *p;
        size_t len, i;
        int have_len = 0, te = 0, chunked = 0;
        unsigned long long clen = 0;
        if (ref_line(r, &p, &len) < 0) return -1;
        if (len < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' || p[8] != ' ') REF_FAIL(r, "status line: version");
        if (p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9') REF_FAIL(r, "status line: code");
        if (len > 12 && p[12] != ' ') REF_FAIL(r, "status line: no space after the code");
        for (i = 12; i < len; i++)
            if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f) REF_FAIL(r, "status line: control character");
        r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
        r->fields = 0;
        for (;;) {
            size_t nl, vl;
            const unsigned char *v;
            if (ref_line(r, &p, &len) < 0) return -1;
            if (len == 0) break;
            if (++r->fields > HTTP_RESP_MAX_FIELDS) REF_FAIL(r, "too many fields");
            if (ref_field(p, len, &nl, &v, &vl) < 0) REF_FAIL(r, "field syntax");
            if (ref_ieq(p, nl, "Content-Length")) {
                unsigned long long x = 0;
                if (vl == 0) REF_FAIL(r, "Content-Length: empty");
                for (i = 0; i < vl; i++) {
                    if (v[i] < '0' || v[i] > '9') REF_FAIL(r, "Content-Length: not a number");
                    if (x > (~0ULL - 9) / 10) REF_FAIL(r, "Content-Length: overflow");
                    x = x * 10 + (unsigned)(v[i] - '0');
                }
                if (have_len && x != clen) REF_FAIL(r, "Content-Length: two values");
                have_len = 1;
                clen = x;
            } else if (ref_ieq(p, nl, "Transfer-Encoding")) {
                te = 1;
                chunked = ref_last_chunked(v, vl);
            }
        }
        if (r->status >= 100 && r->status < 200) {
            if (r->status == 101) REF_FAIL(r, "101");
            if (++interim > REF_MAX_INTERIM) REF_FAIL(r, "too many interim responses");
            continue;
        }
        if (r->status == 204 || r->status == 304) return 0;
        if (te && chunked) break;
        if (!te && have_len) {
            if (r->n - r->pos < clen) REF_FAIL(r, "body cut short");
            ref_add_body(r, r->in + r->pos, (size_t)clen);
            return 0;
        }
        ref_add_body(r, r->in + r->pos, r->n - r->pos);  /* to the close */
        return 0;
    }
    for (;;) {  /* chunked */
        const unsigned char *p;
        size_t len, i = 0;
        unsigned long long size = 0;
        if (ref_line(r, &p, &len) < 0) return -1;
        for (; i < len; i++) {
            unsigned d;
            if (p[i] >= '0' && p[i] <= '9') d = p[i] - '0';
            else if (p[i] >= 'a' && p[i] <= 'f') d = p[i] - 'a' + 10;
            else if (p[i] >= 'A' && p[i] <= 'F') d = p[i] - 'A' + 10;
            else break;
            if (size > (~0ULL >> 4)) REF_FAIL(r, "chunk size: overflow");
            size = size << 4 | d;
        }
        if (i == 0) REF_FAIL(r, "chunk size: no digits");
        while (i < len && ref_ows(p[i])) i++;
        if (i < len && p[i] != ';') REF_FAIL(r, "chunk size: junk after the size");
        if (size == 0) break;
        if (r->n - r->pos < size) REF_FAIL(r, "chunk cut short");
        ref_add_body(r, r->in + r->pos, (size_t)size);
        r->pos += (size_t)size;
        if (ref_line(r, &p, &len) < 0) return -1;
        if (len != 0) REF_FAIL(r, "chunk data not followed by an empty line");
    }
    for (;;) {  /* trailer fields */
        const unsigned char *p, *v;
        size_t len, nl, vl;
        if (ref_line(r, &p, &len) < 0) return -1;
        if (len == 0) return 0;
        if (++r->fields > HTTP_RESP_MAX_FIELDS) REF_FAIL(r, "too many fields");
        if (ref_field(p, len, &nl, &v, &vl) < 0) REF_FAIL(r, "trailer field syntax");
    }
}

/* ---- the driver: what http_get does ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char body[MAX_INPUT], ref_body[MAX_INPUT];
    const unsigned char *in;
    size_t n, pos = 0, body_len = 0;
    unsigned rng;
    http_resp r;
    ref rf;
    int want, ok, ref_ok, steps = 0;

    if (size < 1 || size > MAX_INPUT) return 0;
    rng = data[0] * 2654435761u + 1;
    in = data + 1;
    n = size - 1;

    http_resp_init(&r);
    for (;;) {
        size_t max;
        CHECK(++steps <= (int)n + 4);          /* every step takes input or ends */
        want = http_resp_want(&r, &max);
        if (want == HTTP_RESP_LINE) {
            size_t lim = n - pos < HTTP_RESP_LINE_MAX ? n - pos : HTTP_RESP_LINE_MAX, i;
            const unsigned char *lf = (const unsigned char *)memchr(in + pos, '\n', lim);
            CHECK(max == HTTP_RESP_LINE_MAX);
            if (!lf) { want = http_resp_fail(&r, "no line"); break; }  /* AIOS_ETOOLONG or AIOS_EINCOMPLETE */
            i = (size_t)(lf - (in + pos)) + 1;
            {   /* from a heap block of exactly the line, as aios_data hands it over */
                char *copy = (char *)malloc(i);
                memcpy(copy, in + pos, i);
                want = http_resp_line(&r, copy, i);
                free(copy);
            }
            pos += i;
        } else if (want == HTTP_RESP_BODY) {
            size_t k;
            CHECK(max > 0);
            if (pos == n) {
                want = http_resp_eof(&r);
                CHECK(want == HTTP_RESP_DONE || want == HTTP_RESP_FAILED);
                break;
            }
            rng = rng * 1103515245u + 12345u;
            k = 1 + (rng >> 8) % (rng & 0x80 ? 7 : 70000);
            if (k > 65536) k = 65536;
            if (k > max) k = max;
            if (k > n - pos) k = n - pos;
            memcpy(body + body_len, in + pos, k);
            body_len += k;
            pos += k;
            want = http_resp_body(&r, k);
        } else {
            break;
        }
        if (want == HTTP_RESP_DONE || want == HTTP_RESP_FAILED) break;
    }
    ok = want == HTTP_RESP_DONE;
    CHECK(http_resp_want(&r, NULL) == want);   /* the verdict stays */
    if (!ok) CHECK(r.error && r.error[0]);

    memset(&rf, 0, sizeof rf);
    rf.in = in;
    rf.n = n;
    rf.body = ref_body;
    ref_ok = ref_parse(&rf) == 0;
#ifdef FUZZ_TRACE
    fprintf(stderr, "parser: %s (%s) status %d body %zu; reference: %s (%s) status %d body %zu\n", ok ? "ok" : "failed",
            ok ? "" : r.error, r.status, body_len, ref_ok ? "ok" : "failed", ref_ok ? "" : ref_why_text, rf.status, rf.body_len);
#endif
    CHECK(ok == ref_ok);
    if (ok) {
        CHECK(r.status == rf.status);
        CHECK(body_len == rf.body_len);
        CHECK(memcmp(body, ref_body, body_len) == 0);
    }
    return 0;
}
