/* http_get.c - one HTTP/1.1 GET over a buffered stream.
 *
 *   cc -std=c99 -O2 -I. -o build/http_get examples/http_get.c -lpthread
 *
 * Usage: build/http_get HOST PORT PATH
 * Sends the request, reads the status line and the headers with bounded line
 * reads (a line over 8 KiB, or more than 100 headers, is an error), then the
 * body by Content-Length, chunked transfer coding, or until the server
 * closes.  The body goes to stdout, the status line to stderr.
 * Exit status: 0 for a 2xx response, 2 for any other status (body still
 * written), 1 for a network or protocol error.
 *
 * Each step starts the next from its callback; the body is copied to stdout
 * one buffer at a time, so memory stays bounded whatever the server sends.
 */
#define _GNU_SOURCE 1
#define AIOS_IMPLEMENTATION
#include "aio_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define LINE_MAX_BYTES 8192
#define MAX_HEADERS 100

static aios_ctx ctx;
static aios_stream *sock, *out;
static char request[LINE_MAX_BYTES + 512];
static char body[65536];
static int exit_code = 1, status_code, chunked, until_close, headers_seen;
static unsigned long long remaining;  /* of the body, or of the current chunk */

static void finish(int code)
{
    exit_code = code;
    aios_stop(&ctx);
}

static void fail(const char *what, int code)
{
    if (code == -ECANCELED) return;  /* the context closing after a stop */
    fprintf(stderr, "http_get: %s: %s\n", what, aios_strerror(code));
    finish(1);
}

static void read_header(void);
static void read_body(void);
static void read_chunk_size(void);

/* A line without its CRLF, as a C string in a static buffer. */
static const char *take_line(aios_stream *s, int len)
{
    static char line[LINE_MAX_BYTES + 1];
    size_t n;
    const char *p = aios_data(s, &n);
    size_t k = (size_t)len;
    if (k >= 2 && p[k - 2] == '\r') k -= 2; else if (k >= 1) k -= 1;
    memcpy(line, p, k);
    line[k] = 0;
    aios_consume(s, (size_t)len);
    return line;
}

static void body_done(void)
{
    finish(status_code >= 200 && status_code < 300 ? 0 : 2);
}

static void on_body_written(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    if (status < 0) { fail("stdout", status); return; }
    read_body();
}

static void on_trailer(aios_stream *s, int status, void *ud)
{
    (void)ud;
    if (status < 0) { fail("chunk trailer", status); return; }
    if (take_line(s, status)[0] == 0) { body_done(); return; }
    aios_read_until(sock, "\n", 1, LINE_MAX_BYTES, on_trailer, NULL);
}

static void on_chunk_end(aios_stream *s, int status, void *ud)
{
    (void)ud;
    if (status < 0) { fail("chunk end", status); return; }
    if (take_line(s, status)[0] != 0) { fprintf(stderr, "http_get: malformed chunk\n"); finish(1); return; }
    read_chunk_size();
}

static void on_body(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    if (status == 0 && until_close) { body_done(); return; }
    if (status <= 0) { fail("body", status ? status : AIOS_EINCOMPLETE); return; }
    remaining -= (unsigned long long)status;
    aios_write(out, body, (size_t)status, on_body_written, NULL);
}

static void read_body(void)
{
    size_t want = sizeof body;
    if (!until_close && remaining == 0) {
        if (chunked) aios_read_until(sock, "\n", 1, LINE_MAX_BYTES, on_chunk_end, NULL);
        else body_done();
        return;
    }
    if (!until_close && remaining < want) want = (size_t)remaining;
    aios_read(sock, body, want, on_body, NULL);
}

static void on_chunk_size(aios_stream *s, int status, void *ud)
{
    const char *line;
    char *end;
    (void)ud;
    if (status < 0) { fail("chunk size", status); return; }
    line = take_line(s, status);
    remaining = strtoull(line, &end, 16);
    if (end == line || (*end && *end != ';' && *end != ' ')) {
        fprintf(stderr, "http_get: bad chunk size line\n");
        finish(1);
        return;
    }
    if (remaining == 0) { aios_read_until(sock, "\n", 1, LINE_MAX_BYTES, on_trailer, NULL); return; }
    read_body();
}

static void read_chunk_size(void)
{
    aios_read_until(sock, "\n", 1, LINE_MAX_BYTES, on_chunk_size, NULL);
}

static void on_header(aios_stream *s, int status, void *ud)
{
    const char *line, *colon;
    (void)ud;
    if (status < 0) { fail("header", status); return; }
    line = take_line(s, status);
    if (line[0] == 0) {  /* end of headers */
        if (status_code == 204 || status_code == 304 || (status_code >= 100 && status_code < 200)) { body_done(); return; }
        if (chunked) read_chunk_size();
        else read_body();
        return;
    }
    if (++headers_seen > MAX_HEADERS) { fprintf(stderr, "http_get: too many headers\n"); finish(1); return; }
    colon = strchr(line, ':');
    if (colon) {
        const char *v = colon + 1;
        size_t name_len = (size_t)(colon - line);
        while (*v == ' ' || *v == '\t') v++;
        if (name_len == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
            remaining = strtoull(v, NULL, 10);
            until_close = 0;
        } else if (name_len == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0 && strstr(v, "chunked")) {
            chunked = 1;
            until_close = 0;
        }
    }
    read_header();
}

static void read_header(void)
{
    aios_read_until(sock, "\n", 1, LINE_MAX_BYTES, on_header, NULL);
}

static void on_status(aios_stream *s, int status, void *ud)
{
    const char *line;
    (void)ud;
    if (status < 0) { fail("status line", status); return; }
    line = take_line(s, status);
    fprintf(stderr, "%s\n", line);
    if (strncmp(line, "HTTP/1.", 7) != 0 || strlen(line) < 12) { fprintf(stderr, "http_get: not HTTP\n"); finish(1); return; }
    status_code = atoi(line + 9);
    until_close = 1;
    read_header();
}

static void on_connected(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    if (status < 0) { fail("connect", status); return; }
    aios_read_until(sock, "\n", 1, LINE_MAX_BYTES, on_status, NULL);
}

int main(int argc, char **argv)
{
    int out_flags = fcntl(1, F_GETFL), n, r;
    aios_tcp_opts opts;
    struct sigaction sa;
    int port;

    if (argc != 4) { fprintf(stderr, "usage: %s HOST PORT PATH\n", argv[0]); return 1; }
    port = atoi(argv[2]);
    if (strlen(argv[3]) > LINE_MAX_BYTES || strlen(argv[1]) > 255) { fprintf(stderr, "http_get: argument too long\n"); return 1; }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);  /* stdout may be a pipe */

    aios_ctx_init(&ctx);
    aios_tcp_opts_init(&opts);
    opts.timeout_ms = 30000;
    r = aios_tcp_connect(&ctx, &sock, argv[1], port, &opts, on_connected, NULL);
    if (r < 0) { fprintf(stderr, "http_get: %s\n", aios_strerror(r)); return 1; }
    aios_set_timeouts(sock, 60000, 60000);
    if (aios_stream_open(&ctx, &out, 1, AIOS_NOCLOSE) < 0) { fprintf(stderr, "http_get: bad stdout\n"); return 1; }
    n = snprintf(request, sizeof request,
                 "GET %s HTTP/1.1\r\nHost: %s%s%s:%d\r\nUser-Agent: aio_stream-http_get\r\n"
                 "Accept: */*\r\nConnection: close\r\n\r\n",
                 argv[3], strchr(argv[1], ':') ? "[" : "", argv[1], strchr(argv[1], ':') ? "]" : "", port);
    aios_write(sock, request, (size_t)n, NULL, NULL);  /* queued until the connection is up */
    aios_run(&ctx);
    aios_ctx_close(&ctx);
    if (out_flags >= 0) fcntl(1, F_SETFL, out_flags);
    return exit_code;
}
