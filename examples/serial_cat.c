/* serial_cat.c - copies a serial port to stdout and stdin to the port.
 *
 *   cc -std=c99 -O2 -I. -o build/serial_cat examples/serial_cat.c -lpthread
 *
 * Usage: build/serial_cat DEVICE BAUD      e.g. /dev/ttyUSB0 115200
 * BAUD is a rate in decimal digits (anything else: the usage line, exit 2).
 * The port is opened raw (8N1, no echo, no flow control).  At the end of
 * stdin the program keeps copying from the port; it exits with status 0 when
 * the port hangs up or on SIGINT / SIGTERM, and with 1 on an error.
 *
 * The signals arrive through a signalfd that the loop reads like the port;
 * writes to a terminal or pipe whose reader has gone fail with -EPIPE (the
 * library never lets SIGPIPE kill the program).
 */
#define _GNU_SOURCE 1
#define AIOS_IMPLEMENTATION
#include "aio_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static aios_ctx ctx;
static aios_stream *port, *in, *out;
static aios_signal sigterm, sigint;
static char to_port[4096], from_port[4096];
static int failed;

static void stop_with(int code, const char *what, int err)
{
    if (err == -ECANCELED) return;  /* the context closing after a stop */
    if (what) fprintf(stderr, "serial_cat: %s: %s\n", what, aios_strerror(err));
    failed = code;
    aios_stop(&ctx);
}

/* An operation that did not start ends the program like one that failed. */
static void check(const char *what, int r)
{
    if (r < 0) stop_with(1, what, r);
}

static void on_port(aios_stream *s, int status, void *ud);
static void on_stdin(aios_stream *s, int status, void *ud);

static void on_printed(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    if (status < 0) { stop_with(1, "stdout", status); return; }
    check("port", aios_read(port, from_port, sizeof from_port, on_port, NULL));
}

static void on_port(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    /* a pseudo-terminal reports its hang-up as EIO */
    if (status == 0 || status == -EIO) { stop_with(0, NULL, 0); return; }
    if (status < 0) { stop_with(1, "port", status); return; }
    check("stdout", aios_write(out, from_port, (size_t)status, on_printed, NULL));
}

static void on_sent(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    if (status < 0) { stop_with(1, "port write", status); return; }
    check("stdin", aios_read(in, to_port, sizeof to_port, on_stdin, NULL));
}

static void on_stdin(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    if (status == 0) return;  /* end of input: keep listening to the port */
    if (status < 0) { stop_with(1, "stdin", status); return; }
    check("port write", aios_write(port, to_port, (size_t)status, on_sent, NULL));
}

/* SIGINT and SIGTERM come through the loop (no handler): a clean stop. */
static void on_signal(aios_signal *sig, const aios_siginfo *info, void *ud)
{
    (void)sig; (void)info; (void)ud;
    stop_with(0, NULL, 0);
}

static int watch_signals(void)
{
    int r;
    aios_signal_init(&sigterm, on_signal, NULL);
    aios_signal_init(&sigint, on_signal, NULL);
    if ((r = aios_signal_start(&sigterm, &ctx, SIGTERM)) < 0) return r;
    return aios_signal_start(&sigint, &ctx, SIGINT);
}

/* A rate from 1 to 4000000 in decimal digits, or -1. */
static long baud_rate(const char *text)
{
    char *end;
    long v;
    if (*text < '0' || *text > '9') return -1;
    errno = 0;
    v = strtol(text, &end, 10);
    return *end || errno || v < 1 || v > 4000000 ? -1 : v;
}

int main(int argc, char **argv)
{
    int in_flags = fcntl(0, F_GETFL), out_flags = fcntl(1, F_GETFL), r;
    const char *what;
    long baud;

    if (argc != 3 || !*argv[1] || (baud = baud_rate(argv[2])) < 0) {
        fprintf(stderr, "usage: serial_cat DEVICE BAUD\n");
        return 2;
    }
    if ((r = aios_ctx_init(&ctx)) < 0) {
        fprintf(stderr, "serial_cat: %s\n", aios_strerror(r));
        return 1;
    }
    what = argv[1];
    r = aios_serial_open(&port, &ctx, argv[1], (int)baud);
    if (r == 0) { what = "signals"; r = watch_signals(); }
    if (r == 0) { what = "stdin"; r = aios_stream_open(&in, &ctx, 0, AIOS_NOCLOSE); }
    if (r == 0) { what = "stdout"; r = aios_stream_open(&out, &ctx, 1, AIOS_NOCLOSE); }
    if (r == 0) { what = argv[1]; r = aios_read(port, from_port, sizeof from_port, on_port, NULL); }
    if (r == 0) { what = "stdin"; r = aios_read(in, to_port, sizeof to_port, on_stdin, NULL); }
    if (r == 0) { what = "loop"; r = aios_run(&ctx); }
    if (r < 0) fprintf(stderr, "serial_cat: %s: %s\n", what, aios_strerror(r));
    aios_ctx_close(&ctx);   /* stops the watchers: the signal mask as it was */
    /* stdin and stdout may be shared with the shell: give them back as found */
    if (in_flags >= 0) (void)fcntl(0, F_SETFL, in_flags);
    if (out_flags >= 0) (void)fcntl(1, F_SETFL, out_flags);
    return r < 0 ? 1 : failed;
}
