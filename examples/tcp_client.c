/* tcp_client.c - sends stdin to a TCP server and prints what comes back.
 *
 *   cc -std=c99 -O2 -I. -o build/tcp_client examples/tcp_client.c -lpthread
 *
 * Usage: build/tcp_client HOST PORT
 * HOST is a name or a numeric IPv4/IPv6 address, PORT 1 to 65535 in decimal
 * digits (anything else: the usage line, exit status 2).  At the end of stdin the
 * write side of the connection is shut down; the program exits when the peer
 * closes, with status 0, or 1 on an error.
 *
 * Two copies run at once, each a chain of callbacks: stdin to the socket
 * and the socket to stdout.  stdout may be a pipe whose reader goes away:
 * the library's writes never let SIGPIPE kill the program (they fail with
 * -EPIPE instead).
 */
#define _GNU_SOURCE 1
#define AIOS_IMPLEMENTATION
#include "aio_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

static aios_ctx ctx;
static aios_stream *sock, *in, *out;
static char up[65536], down[65536];
static int failed;

static void fail(const char *what, int code)
{
    if (code == -ECANCELED) return;  /* the context closing after a stop */
    fprintf(stderr, "tcp_client: %s: %s\n", what, aios_strerror(code));
    failed = 1;
    aios_stop(&ctx);
}

/* An operation that did not start ends the program like one that failed. */
static void check(const char *what, int r)
{
    if (r < 0) fail(what, r);
}

static void on_stdin(aios_stream *s, int status, void *ud);
static void on_sock(aios_stream *s, int status, void *ud);

static void on_sent(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    if (status < 0) { fail("send", status); return; }
    check("stdin", aios_read(in, up, sizeof up, on_stdin, NULL));
}

static void on_stdin(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    if (status < 0) { fail("stdin", status); return; }
    if (status == 0) {  /* end of input: tell the peer, keep reading its answer */
        check("shutdown", aios_shutdown(sock, NULL, NULL));
        return;
    }
    check("send", aios_write(sock, up, (size_t)status, on_sent, NULL));
}

static void on_printed(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    if (status < 0) { fail("stdout", status); return; }
    check("receive", aios_read(sock, down, sizeof down, on_sock, NULL));
}

static void on_sock(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    if (status < 0) { fail("receive", status); return; }
    if (status == 0) { aios_stop(&ctx); return; }  /* the peer closed */
    check("stdout", aios_write(out, down, (size_t)status, on_printed, NULL));
}

static void on_connected(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    if (status < 0) { fail("connect", status); return; }
    check("stdin", aios_read(in, up, sizeof up, on_stdin, NULL));
    check("receive", aios_read(sock, down, sizeof down, on_sock, NULL));
}

/* 1..65535 in decimal digits, or -1. */
static int port_number(const char *text)
{
    char *end;
    long v;
    if (*text < '0' || *text > '9') return -1;
    errno = 0;
    v = strtol(text, &end, 10);
    return *end || errno || v < 1 || v > 65535 ? -1 : (int)v;
}

int main(int argc, char **argv)
{
    int in_flags = fcntl(0, F_GETFL), out_flags = fcntl(1, F_GETFL), port, r;
    const char *what;
    aios_tcp_opts opts;

    if (argc != 3 || !*argv[1] || (port = port_number(argv[2])) < 0) {
        fprintf(stderr, "usage: tcp_client HOST PORT\n");
        return 2;
    }
    if ((r = aios_ctx_init(&ctx)) < 0) {
        fprintf(stderr, "tcp_client: %s\n", aios_strerror(r));
        return 1;
    }
    aios_tcp_opts_init(&opts);
    opts.timeout_ns = AIOS_SEC(30);
    what = argv[1];
    r = aios_tcp_connect(&sock, &ctx, argv[1], port, &opts, on_connected, NULL);
    if (r == 0) { what = "stdin"; r = aios_stream_open(&in, &ctx, 0, AIOS_NOCLOSE); }
    if (r == 0) { what = "stdout"; r = aios_stream_open(&out, &ctx, 1, AIOS_NOCLOSE); }
    if (r == 0) { what = "loop"; r = aios_run(&ctx); }
    if (r < 0) {
        fprintf(stderr, "tcp_client: %s: %s\n", what, aios_strerror(r));
        failed = 1;
    }
    aios_ctx_close(&ctx);
    /* stdin and stdout may be shared with the shell: give them back as found */
    if (in_flags >= 0) (void)fcntl(0, F_SETFL, in_flags);
    if (out_flags >= 0) (void)fcntl(1, F_SETFL, out_flags);
    return failed;
}
