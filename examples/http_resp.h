/* http_resp.h - the HTTP/1.1 response parser of examples/http_get.c, on its
 * own so that tests/fuzz/fuzz_http_resp.c can feed it hostile responses.
 *
 * A push parser with no I/O: the reader asks what to read next
 * (http_resp_want), reads it, and hands it over: a whole line with its LF
 * (http_resp_line), the count of body bytes it read (http_resp_body), or the
 * end of the stream (http_resp_eof).  Every call returns what to read next.
 * Memory is the struct; nothing is allocated.  All functions are static:
 * include it in one file.
 */
#ifndef HTTP_RESP_H
#define HTTP_RESP_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_RESP_LINE_MAX 8192   /* bytes of a line, its line end included */
#define HTTP_RESP_MAX_FIELDS 100  /* header fields of a response */

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
    int status;                    /* status code */
    int chunked, until_close, headers_seen;
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

static int http_resp__to_body(http_resp *r)
{
    if (!r->until_close && r->remaining == 0) {
        r->state = r->chunked ? HTTP_RESP_S_CHUNK_END : HTTP_RESP_S_DONE;
        return http_resp_want(r, NULL);
    }
    r->state = HTTP_RESP_S_BODY;
    return HTTP_RESP_BODY;
}

HTTP_RESP_FN int http_resp_line(http_resp *r, const char *text, size_t len)
{
    char line[HTTP_RESP_LINE_MAX + 1];
    size_t k = len;
    if (len > HTTP_RESP_LINE_MAX) return http_resp_fail(r, "line too long");
    if (k >= 2 && text[k - 2] == '\r') k -= 2; else if (k >= 1) k -= 1;
    memcpy(line, text, k);
    line[k] = 0;
    switch (r->state) {
    case HTTP_RESP_S_STATUS:
        if (strncmp(line, "HTTP/1.", 7) != 0 || strlen(line) < 12) return http_resp_fail(r, "not HTTP");
        r->status = atoi(line + 9);
        r->until_close = 1;
        r->state = HTTP_RESP_S_HEADER;
        return HTTP_RESP_LINE;
    case HTTP_RESP_S_HEADER: {
        const char *colon;
        if (line[0] == 0) {  /* end of headers */
            if (r->status == 204 || r->status == 304 || (r->status >= 100 && r->status < 200)) {
                r->state = HTTP_RESP_S_DONE;
                return HTTP_RESP_DONE;
            }
            if (r->chunked) { r->state = HTTP_RESP_S_CHUNK_SIZE; return HTTP_RESP_LINE; }
            return http_resp__to_body(r);
        }
        if (++r->headers_seen > HTTP_RESP_MAX_FIELDS) return http_resp_fail(r, "too many headers");
        colon = strchr(line, ':');
        if (colon) {
            const char *v = colon + 1;
            size_t name_len = (size_t)(colon - line);
            while (*v == ' ' || *v == '\t') v++;
            if (name_len == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
                r->remaining = strtoull(v, NULL, 10);
                r->until_close = 0;
            } else if (name_len == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0 && strstr(v, "chunked")) {
                r->chunked = 1;
                r->until_close = 0;
            }
        }
        return HTTP_RESP_LINE;
    }
    case HTTP_RESP_S_CHUNK_SIZE: {
        char *end;
        r->remaining = strtoull(line, &end, 16);
        if (end == line || (*end && *end != ';' && *end != ' ')) return http_resp_fail(r, "bad chunk size line");
        if (r->remaining == 0) { r->state = HTTP_RESP_S_TRAILER; return HTTP_RESP_LINE; }
        return http_resp__to_body(r);
    }
    case HTTP_RESP_S_CHUNK_END:
        if (line[0] != 0) return http_resp_fail(r, "malformed chunk");
        r->state = HTTP_RESP_S_CHUNK_SIZE;
        return HTTP_RESP_LINE;
    case HTTP_RESP_S_TRAILER:
        if (line[0] == 0) { r->state = HTTP_RESP_S_DONE; return HTTP_RESP_DONE; }
        return HTTP_RESP_LINE;
    default:
        return http_resp_fail(r, "line where none was asked for");
    }
}

/* n body bytes were read (n <= the max http_resp_want gave). */
HTTP_RESP_FN int http_resp_body(http_resp *r, size_t n)
{
    if (r->state != HTTP_RESP_S_BODY) return http_resp_fail(r, "body where none was asked for");
    if (r->until_close) return HTTP_RESP_BODY;
    r->remaining -= n;
    return http_resp__to_body(r);
}

/* The peer closed the stream. */
HTTP_RESP_FN int http_resp_eof(http_resp *r)
{
    if (r->state == HTTP_RESP_S_BODY && r->until_close) {
        r->state = HTTP_RESP_S_DONE;
        return HTTP_RESP_DONE;
    }
    if (r->state == HTTP_RESP_S_DONE) return HTTP_RESP_DONE;
    return http_resp_fail(r, "end of stream before the response was complete");
}

#endif
