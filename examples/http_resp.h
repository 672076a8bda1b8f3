/* http_resp.h - the HTTP/1.1 response parser of examples/http_get.c, on its
 * own so that tests/fuzz/fuzz_http_resp.c can feed it hostile responses.
 *
 * A push parser with no I/O: the reader asks what to read next
 * (http_resp_want), reads it, and hands it over: a whole line with its LF
 * (http_resp_line), the count of body bytes it read (http_resp_body), or the
 * end of the stream (http_resp_eof).  Every call returns what to read next.
 * Memory is the struct; nothing is allocated.  All functions are static:
 * include it in one file.
 *
 * What it accepts (RFC 9112, strictly where a lax reading would let a
 * server make the body mean something else):
 *  - lines end in LF or CRLF and hold no other CR and no NUL;
 *  - status line "HTTP/1.x NNN[ reason]", code 100..599, the reason without
 *    control characters (http_get prints it);
 *  - fields "name: value", the name a token with nothing between it and the
 *    colon, no obsolete line folding, at most HTTP_RESP_MAX_FIELDS per
 *    response, trailer fields included;
 *  - interim 1xx responses are skipped (at most HTTP_RESP_MAX_INTERIM); 101
 *    is an error, since http_get never asks to switch protocols;
 *  - 204 and 304 have no body.  Transfer-Encoding overrides Content-Length:
 *    chunked when it is the last coding, else the body runs until the
 *    server closes.  Content-Length is decimal digits only; two different
 *    values are an error.  With neither, the body runs until the close;
 *  - a chunk size is hex digits that fit in 64 bits, then optional spaces or
 *    tabs and a ';' extension (ignored); chunk data ends with an empty line.
 */
#ifndef HTTP_RESP_H
#define HTTP_RESP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HTTP_RESP_LINE_MAX 8192   /* bytes of a line, its line end included */
#define HTTP_RESP_MAX_FIELDS 100  /* header and trailer fields of a response */
#define HTTP_RESP_MAX_INTERIM 16  /* 1xx responses before the final one */

#if defined(__GNUC__)
#define HTTP_RESP_FN static __attribute__((unused))
#else
#define HTTP_RESP_FN static
#endif

enum http_resp_want {
    HTTP_RESP_LINE = 1,  /* a line ending in LF, at most HTTP_RESP_LINE_MAX bytes */
    HTTP_RESP_BODY,      /* body bytes, at most *max of them */
    HTTP_RESP_DONE,      /* the response is complete */
    HTTP_RESP_FAILED     /* malformed: http_resp.error says why */
};

enum { HTTP_RESP_S_STATUS, HTTP_RESP_S_HEADER, HTTP_RESP_S_BODY, HTTP_RESP_S_CHUNK_SIZE,
       HTTP_RESP_S_CHUNK_END, HTTP_RESP_S_TRAILER, HTTP_RESP_S_DONE, HTTP_RESP_S_FAILED };

typedef struct http_resp {
    int state;
    int status;                    /* status code of the response being read */
    int fields, interim;
    int te, chunked, have_length, until_close;
    unsigned long long length;     /* Content-Length */
    unsigned long long remaining;  /* of the body, or of the current chunk */
    const char *error;
} http_resp;

HTTP_RESP_FN void http_resp_init(http_resp *r)
{
    memset(r, 0, sizeof *r);
    r->state = HTTP_RESP_S_STATUS;
}

HTTP_RESP_FN int http_resp_want(const http_resp *r, size_t *max)
{
    size_t m = HTTP_RESP_LINE_MAX;
    int w = HTTP_RESP_LINE;
    switch (r->state) {
    case HTTP_RESP_S_BODY:
        w = HTTP_RESP_BODY;
        m = r->until_close || r->remaining > (size_t)-1 ? (size_t)-1 : (size_t)r->remaining;
        break;
    case HTTP_RESP_S_DONE: w = HTTP_RESP_DONE; m = 0; break;
    case HTTP_RESP_S_FAILED: w = HTTP_RESP_FAILED; m = 0; break;
    default: break;
    }
    if (max) *max = m;
    return w;
}

HTTP_RESP_FN int http_resp_fail(http_resp *r, const char *why)
{
    r->state = HTTP_RESP_S_FAILED;
    r->error = why;
    return HTTP_RESP_FAILED;
}

static int http_resp__goto(http_resp *r, int state)
{
    r->state = state;
    return http_resp_want(r, NULL);
}

static int http_resp__ows(char c) { return c == ' ' || c == '\t'; }
static int http_resp__digit(char c) { return c >= '0' && c <= '9'; }

static int http_resp__tchar(char c)
{
    return http_resp__digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Case-insensitive comparison of p[0..n) with a lower-case word. */
static int http_resp__is(const char *p, size_t n, const char *word)
{
    size_t i;
    for (i = 0; i < n; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (word[i] == 0 || c != word[i]) return 0;
    }
    return word[n] == 0;
}

/* 1 when the last coding of a Transfer-Encoding list is chunked (empty
 * list elements do not count; parameters after ';' are ignored). */
static int http_resp__last_coding_chunked(const char *v, size_t n)
{
    size_t end = n;
    for (;;) {
        size_t start = end, a, b, i;
        while (start > 0 && v[start - 1] != ',') start--;
        a = start;
        b = end;
        for (i = a; i < b; i++) if (v[i] == ';') { b = i; break; }
        while (a < b && http_resp__ows(v[a])) a++;
        while (b > a && http_resp__ows(v[b - 1])) b--;
        if (b > a) return http_resp__is(v + a, b - a, "chunked");
        if (start == 0) return 0;
        end = start - 1;
    }
}

/* A header or trailer field; headers also set the body's framing. */
static int http_resp__field(http_resp *r, const char *p, size_t n, int trailer)
{
    size_t colon, a, b, i;
    if (++r->fields > HTTP_RESP_MAX_FIELDS) return http_resp_fail(r, "too many header fields");
    if (http_resp__ows(p[0])) return http_resp_fail(r, "folded header line");
    for (colon = 0; colon < n && p[colon] != ':'; colon++)
        if (!http_resp__tchar(p[colon])) return http_resp_fail(r, "malformed header field name");
    if (colon == n || colon == 0) return http_resp_fail(r, "header line without a field name and colon");
    a = colon + 1;
    b = n;
    while (a < b && http_resp__ows(p[a])) a++;
    while (b > a && http_resp__ows(p[b - 1])) b--;
    if (trailer) return HTTP_RESP_LINE;
    if (http_resp__is(p, colon, "content-length")) {
        unsigned long long x = 0;
        if (a == b) return http_resp_fail(r, "empty Content-Length");
        for (i = a; i < b; i++) {
            if (!http_resp__digit(p[i])) return http_resp_fail(r, "Content-Length is not a number");
            if (x > (~0ULL - 9) / 10) return http_resp_fail(r, "Content-Length too large");
            x = x * 10 + (unsigned)(p[i] - '0');
        }
        if (r->have_length && x != r->length) return http_resp_fail(r, "two different Content-Length values");
        r->have_length = 1;
        r->length = x;
    } else if (http_resp__is(p, colon, "transfer-encoding")) {
        r->te = 1;  /* the last field's last coding decides */
        r->chunked = http_resp__last_coding_chunked(p + a, b - a);
    }
    return HTTP_RESP_LINE;
}

static int http_resp__status_line(http_resp *r, const char *p, size_t n)
{
    size_t i;
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || !http_resp__digit(p[7]) || p[8] != ' ')
        return http_resp_fail(r, "not an HTTP/1.x status line");
    if (p[9] < '1' || p[9] > '5' || !http_resp__digit(p[10]) || !http_resp__digit(p[11]) || (n > 12 && p[12] != ' '))
        return http_resp_fail(r, "malformed status code");
    for (i = 13; i < n; i++)
        if ((unsigned char)p[i] == 0x7f || ((unsigned char)p[i] < 0x20 && p[i] != '\t'))
            return http_resp_fail(r, "control character in the reason phrase");
    r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    r->fields = 0;
    r->te = r->chunked = r->have_length = r->until_close = 0;
    r->length = 0;
    return http_resp__goto(r, HTTP_RESP_S_HEADER);
}

static int http_resp__end_of_head(http_resp *r)
{
    if (r->status < 200) {  /* interim: the real response follows */
        if (r->status == 101) return http_resp_fail(r, "101 Switching Protocols, which was not asked for");
        if (++r->interim > HTTP_RESP_MAX_INTERIM) return http_resp_fail(r, "too many interim responses");
        return http_resp__goto(r, HTTP_RESP_S_STATUS);
    }
    if (r->status == 204 || r->status == 304) return http_resp__goto(r, HTTP_RESP_S_DONE);
    if (r->te) {
        if (r->chunked) return http_resp__goto(r, HTTP_RESP_S_CHUNK_SIZE);
        r->until_close = 1;  /* another coding last: the close ends it */
        return http_resp__goto(r, HTTP_RESP_S_BODY);
    }
    if (r->have_length) {
        r->remaining = r->length;
        return http_resp__goto(r, r->length ? HTTP_RESP_S_BODY : HTTP_RESP_S_DONE);
    }
    r->until_close = 1;
    return http_resp__goto(r, HTTP_RESP_S_BODY);
}

static int http_resp__chunk_size(http_resp *r, const char *p, size_t n)
{
    unsigned long long size = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned d;
        char c = p[i];
        if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
        else break;
        if (size > (~0ULL >> 4)) return http_resp_fail(r, "chunk size too large");
        size = size << 4 | d;
    }
    if (i == 0) return http_resp_fail(r, "bad chunk size line");
    while (i < n && http_resp__ows(p[i])) i++;
    if (i < n && p[i] != ';') return http_resp_fail(r, "bad chunk size line");
    if (size == 0) return http_resp__goto(r, HTTP_RESP_S_TRAILER);
    r->remaining = size;
    return http_resp__goto(r, HTTP_RESP_S_BODY);
}

/* A line as read, with its LF (and the CR before it, if any). */
HTTP_RESP_FN int http_resp_line(http_resp *r, const char *p, size_t len)
{
    size_t n, i;
    if (r->state == HTTP_RESP_S_BODY || r->state >= HTTP_RESP_S_DONE)
        return r->state == HTTP_RESP_S_FAILED ? HTTP_RESP_FAILED : http_resp_fail(r, "line where none was asked for");
    if (len == 0 || len > HTTP_RESP_LINE_MAX || p[len - 1] != '\n') return http_resp_fail(r, "line without its end");
    n = len - 1;
    if (n > 0 && p[n - 1] == '\r') n--;
    for (i = 0; i < n; i++)
        if (p[i] == '\r' || p[i] == 0) return http_resp_fail(r, "CR or NUL inside a line");
    switch (r->state) {
    case HTTP_RESP_S_STATUS: return http_resp__status_line(r, p, n);
    case HTTP_RESP_S_HEADER: return n == 0 ? http_resp__end_of_head(r) : http_resp__field(r, p, n, 0);
    case HTTP_RESP_S_CHUNK_SIZE: return http_resp__chunk_size(r, p, n);
    case HTTP_RESP_S_CHUNK_END:
        if (n != 0) return http_resp_fail(r, "chunk data longer than its size");
        return http_resp__goto(r, HTTP_RESP_S_CHUNK_SIZE);
    default:  /* trailer */
        return n == 0 ? http_resp__goto(r, HTTP_RESP_S_DONE) : http_resp__field(r, p, n, 1);
    }
}

/* n body bytes were read (no more than the max http_resp_want gave). */
HTTP_RESP_FN int http_resp_body(http_resp *r, size_t n)
{
    if (r->state != HTTP_RESP_S_BODY) return http_resp_fail(r, "body where none was asked for");
    if (r->until_close) return HTTP_RESP_BODY;
    if (n > r->remaining) return http_resp_fail(r, "more body than was asked for");
    r->remaining -= n;
    if (r->remaining > 0) return HTTP_RESP_BODY;
    return http_resp__goto(r, r->chunked ? HTTP_RESP_S_CHUNK_END : HTTP_RESP_S_DONE);
}

/* The server closed the connection. */
HTTP_RESP_FN int http_resp_eof(http_resp *r)
{
    if (r->state == HTTP_RESP_S_BODY && r->until_close) return http_resp__goto(r, HTTP_RESP_S_DONE);
    if (r->state == HTTP_RESP_S_DONE || r->state == HTTP_RESP_S_FAILED) return http_resp_want(r, NULL);
    return http_resp_fail(r, "connection closed before the response was complete");
}

#endif
