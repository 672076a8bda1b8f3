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
 * Writing to a terminal or pipe whose reader has gone raises SIGPIPE, which
 * the program ignores so that it sees EPIPE instead.
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
#include <unistd.h>

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

static void on_port(aios_stream *s, int status, void *ud);
static void on_stdin(aios_stream *s, int status, void *ud);

static void on_printed(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    if (status < 0) { stop_with(1, "stdout", status); return; }
    aios_read(port, from_port, sizeof from_port, on_port, NULL);
}

static void on_port(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    /* a pseudo-terminal reports its hang-up as EIO */
    if (status == 0 || status == -EIO) { stop_with(0, NULL, 0); return; }
    if (status < 0) { stop_with(1, "port", status); return; }
    aios_write(out, from_port, (size_t)status, on_printed, NULL);
}

static void on_sent(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    if (status < 0) { stop_with(1, "port write", status); return; }
    aios_read(in, to_port, sizeof to_port, on_stdin, NULL);
}

static void on_stdin(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    if (status <= 0) return;  /* end of input: keep listening to the port */
    aios_write(port, to_port, (size_t)status, on_sent, NULL);
}

/* SIGINT and SIGTERM come through the loop (no handler): a clean stop. */
static void on_signal(aios_signal *sig, const aios_siginfo *info, void *ud)
{
    (void)sig; (void)info; (void)ud;
    stop_with(0, NULL, 0);
}

int main(int argc, char **argv)
{
    int in_flags = fcntl(0, F_GETFL), out_flags = fcntl(1, F_GETFL), r;
    struct sigaction sa;

    {
        char *end = argv[argc == 3 ? 2 : 0];
        long baud = 0;
        if (argc == 3 && *end >= '0' && *end <= '9') { errno = 0; baud = strtol(argv[2], &end, 10); }
        if (argc != 3 || !*argv[1] || *end || errno || baud <= 0 || baud > 4000000) {
            if (argc == 3) fprintf(stderr, "serial_cat: bad baud rate: %s\n", argv[2]);
            fprintf(stderr, "usage: serial_cat DEVICE BAUD\n");
            return 2;
        }
        aios_ctx_init(&ctx);
        r = aios_serial_open(&port, &ctx, argv[1], (int)baud);
    }
    if (r < 0) { fprintf(stderr, "serial_cat: %s: %s\n", argv[1], aios_strerror(r)); return 1; }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    aios_signal_init(&sigterm, on_signal, NULL);
    aios_signal_init(&sigint, on_signal, NULL);
    if ((r = aios_signal_start(&sigterm, &ctx, SIGTERM)) < 0 || (r = aios_signal_start(&sigint, &ctx, SIGINT)) < 0) {
        fprintf(stderr, "serial_cat: signals: %s\n", aios_strerror(r));
        return 1;
    }
    if (aios_stream_open(&in, &ctx, 0, AIOS_NOCLOSE) < 0 ||
        aios_stream_open(&out, &ctx, 1, AIOS_NOCLOSE) < 0) {
        fprintf(stderr, "serial_cat: cannot set up stdin/stdout\n");
        return 1;
    }
    aios_read(port, from_port, sizeof from_port, on_port, NULL);
    aios_read(in, to_port, sizeof to_port, on_stdin, NULL);
    aios_run(&ctx);
    aios_ctx_close(&ctx);   /* stops the watchers: the signals' mask as it was */
    if (in_flags >= 0) fcntl(0, F_SETFL, in_flags);
    if (out_flags >= 0) fcntl(1, F_SETFL, out_flags);
    return failed;
}
