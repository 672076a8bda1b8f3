/* http_get.c - one HTTP/1.1 GET over a buffered stream.
 *
 *   cc -std=c99 -O2 -I. -o build/http_get examples/http_get.c -lpthread
 *
 * Usage: build/http_get [--max-time SECONDS] HOST PORT PATH
 * Sends the request, reads the status line and the headers with bounded line
 * reads (a line over 8 KiB, or more than 100 headers, is an error), skips
 * interim 1xx responses, then reads the body by Content-Length, chunked
 * transfer coding, or until the server closes.  The body goes to stdout,
 * the status line to stderr.  A response that could be read two ways
 * (conflicting lengths, a malformed field or chunk size) is an error.
 * The whole exchange, connect included, has one deadline (--max-time,
 * 60 s by default), so a server that trickles its response a line at a
 * time cannot hold the program longer.
 * Exit status: 0 for a 2xx response, 2 for any other status (body still
 * written), 1 for a network or protocol error, for a response that ends
 * before all of it arrived and for the deadline; 2 with the usage line for
 * bad arguments (PORT is 1 to 65535 in decimal digits, PATH starts with
 * '/', SECONDS is 1 to 86400).
 *
 * Each step starts the next from its callback; the body is copied to stdout
 * one buffer at a time, so memory stays bounded whatever the server sends.
 * The parsing is examples/http_resp.h (a push parser with no I/O, which
 * tests/fuzz/fuzz_http_resp.c fuzzes); the quoted #include finds it next to
 * this file, so the one command above still builds the example.
 */
#define _GNU_SOURCE 1
#define AIOS_IMPLEMENTATION
#include "aio_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_resp.h"

static aios_ctx ctx;
static aios_stream *sock, *out;
static char request[HTTP_RESP_LINE_MAX + 512];
static char body[65536];
static http_resp resp;
static int exit_code = 1;
static int64_t deadline;   /* of the whole exchange */

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

static void on_line(aios_stream *s, int status, void *ud);
static void on_body(aios_stream *s, int status, void *ud);

/* What is left of the deadline bounds the next read and write: -1 (and
 * the program ends) when nothing is left. */
static int bound_by_deadline(void)
{
    int64_t left = deadline - aios_now_ns();
    int r = left > 0 ? aios_set_timeouts(sock, left, left) : -ETIMEDOUT;
    if (r == 0) r = aios_set_timeouts(out, 0, left);
    if (r < 0) fail("response", r);
    return r;
}

/* Starts the read the parser asks for, or ends the program. */
static void next(void)
{
    size_t max;
    int r;
    if (bound_by_deadline() < 0) return;
    switch (http_resp_want(&resp, &max)) {
    case HTTP_RESP_LINE:
        r = aios_read_until(sock, "\n", 1, HTTP_RESP_LINE_MAX, on_line, NULL);
        break;
    case HTTP_RESP_BODY:
        r = aios_read(sock, body, max < sizeof body ? max : sizeof body, on_body, NULL);
        break;
    case HTTP_RESP_DONE:
        finish(resp.status >= 200 && resp.status < 300 ? 0 : 2);
        return;
    default:
        fprintf(stderr, "http_get: %s\n", resp.error);
        finish(1);
        return;
    }
    if (r < 0) fail("read", r);
}

static const char *line_name(void)
{
    switch (resp.state) {
    case HTTP_RESP_S_STATUS: return "status line";
    case HTTP_RESP_S_HEADER: return "header";
    case HTTP_RESP_S_CHUNK_SIZE: return "chunk size";
    case HTTP_RESP_S_CHUNK_END: return "chunk end";
    default: return "chunk trailer";
    }
}

static void on_line(aios_stream *s, int status, void *ud)
{
    size_t n;
    const char *p = aios_data(s, &n);
    int was_status = resp.state == HTTP_RESP_S_STATUS;
    (void)ud;
    if (status < 0) { fail(line_name(), status); return; }
    if (http_resp_line(&resp, p, (size_t)status) != HTTP_RESP_FAILED && was_status) {
        int k = status;  /* the status line, without its line end */
        while (k > 0 && (p[k - 1] == '\n' || p[k - 1] == '\r')) k--;
        fprintf(stderr, "%.*s\n", k, p);
    }
    aios_consume(s, (size_t)status);
    next();
}

static void on_body_written(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    if (status < 0) { fail("stdout", status); return; }
    next();
}

static void on_body(aios_stream *s, int status, void *ud)
{
    int r;
    (void)s; (void)ud;
    if (status < 0) { fail("body", status); return; }
    if (status == 0) { http_resp_eof(&resp); next(); return; }
    http_resp_body(&resp, (size_t)status);
    if ((r = aios_write(out, body, (size_t)status, on_body_written, NULL)) < 0) fail("stdout", r);
}

static void on_request_sent(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    if (status < 0) fail("request", status);
}

static void on_connected(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    if (status < 0) { fail("connect", status); return; }
    http_resp_init(&resp);
    next();
}

/* lo..hi in decimal digits, or -1. */
static long decimal(const char *text, long lo, long hi)
{
    char *end;
    long v;
    if (*text < '0' || *text > '9') return -1;
    errno = 0;
    v = strtol(text, &end, 10);
    return *end || errno || v < lo || v > hi ? -1 : v;
}

int main(int argc, char **argv)
{
    long max_time = 60, port = -1;
    int out_flags = fcntl(1, F_GETFL), n, r;
    const char *host, *path;
    aios_tcp_opts opts;

    if (argc >= 3 && strcmp(argv[1], "--max-time") == 0) {
        max_time = decimal(argv[2], 1, 86400);
        argc -= 2;
        argv += 2;
    }
    if (argc == 4) port = decimal(argv[2], 1, 65535);
    if (max_time < 0 || port < 0 || !*argv[1] || argv[3][0] != '/') {
        fprintf(stderr, "usage: http_get [--max-time SECONDS] HOST PORT PATH\n");
        return 2;
    }
    host = argv[1];
    path = argv[3];
    if (strlen(path) > HTTP_RESP_LINE_MAX || strlen(host) > 255) {
        fprintf(stderr, "http_get: argument too long\n");
        return 1;
    }
    n = snprintf(request, sizeof request,
                 "GET %s HTTP/1.1\r\nHost: %s%s%s:%ld\r\nUser-Agent: aio_stream-http_get\r\n"
                 "Accept: */*\r\nConnection: close\r\n\r\n",
                 path, strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port);

    if ((r = aios_ctx_init(&ctx)) < 0) {
        fprintf(stderr, "http_get: %s\n", aios_strerror(r));
        return 1;
    }
    deadline = aios_now_ns() + AIOS_SEC(max_time);
    aios_tcp_opts_init(&opts);
    opts.timeout_ns = AIOS_SEC(max_time);
    r = aios_tcp_connect(&sock, &ctx, host, (int)port, &opts, on_connected, NULL);
    if (r == 0) r = aios_stream_open(&out, &ctx, 1, AIOS_NOCLOSE);
    /* queued until the connection is up */
    if (r == 0) r = aios_write(sock, request, (size_t)n, on_request_sent, NULL);
    if (r == 0) r = aios_run(&ctx);
    if (r < 0) fprintf(stderr, "http_get: %s\n", aios_strerror(r));
    aios_ctx_close(&ctx);
    if (out_flags >= 0) (void)fcntl(1, F_SETFL, out_flags);   /* stdout blocks again, as the shell expects */
    return r < 0 ? 1 : exit_code;
}
