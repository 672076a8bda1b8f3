/* examples/usb_lines.c - line-based text over a pair of bulk endpoints.
 *
 *   cc -std=c99 -O2 -I. -o build/usb_lines examples/usb_lines.c $(pkg-config --cflags --libs libusb-1.0) -lpthread
 *
 *   build/usb_lines VID:PID IFACE EP_IN EP_OUT
 *       VID:PID        device ids in hex, e.g. 1234:0001
 *       IFACE          interface to claim, 0..255 (a kernel driver is detached)
 *       EP_IN EP_OUT   bulk endpoint addresses in hex, 81..8f and 01..0f
 *
 * Sends each line of stdin to the device and prints each line the device
 * sends as "< LINE", with control characters and bytes that are not UTF-8
 * shown as '?' (a CR before the newline is dropped).  At the end of stdin
 * it waits until the device has been quiet for a second, then exits with
 * status 0; 1 on an error, also when the device leaves, sends a line of
 * more than 4 KiB, or is still talking 10 s after the end of stdin; 2 for
 * a bad command line.  Lines wait for the device to take the ones before
 * them (at most 64 KiB queued), so a device that takes nothing holds
 * stdin back instead of filling memory.  A CDC-ACM gadget's data
 * interface or a vendor loopback are typical peers.
 *
 * The three headers work together here: asyncusb.h turns the endpoints
 * into a socket (ausb_epstream), aio_stream.h reads it line by line as it
 * would a TCP connection, and sched.h's loop drives both.
 */
#define _GNU_SOURCE 1
#define ASYNCKIT_IMPLEMENTATION
#include "sched.h"
#include "aio_stream.h"
#include "asyncusb.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_LINE = 4096, QUEUED_MAX = 65536 };
#define LINGER_NS (10 * (int64_t)1000000000)   /* after the end of stdin */

static schd_loop loop;
static schd_timer quiet;    /* after the end of stdin: the device's quiet second */
static aios_stream *dev, *in;
static int status = 1, stdin_done;
static int64_t stdin_end_ns;

static void on_dev_line(aios_stream *s, int st, void *ud);
static void on_stdin_line(aios_stream *s, int st, void *ud);

/* One line from the device, as text safe for a terminal. */
static void print_device_line(const char *p, size_t n)
{
    char text[MAX_LINE + 1];
    size_t i;
    if (n > 0 && p[n - 1] == '\r') n--;
    for (i = 0; i < n; i++) text[i] = p[i] ? p[i] : '?';   /* a NUL would cut it short */
    text[n] = 0;
    ausb_utf8_printable(text);
    printf("< %s\n", text);
    fflush(stdout);
}

static void finish(int code)
{
    status = code;
    schd_loop_stop(&loop);
}

/* An operation that did not start ends the program like one that failed. */
static void check(const char *what, int r)
{
    if (r < 0) {
        fprintf(stderr, "usb_lines: %s: %s\n", what, aios_strerror(r));
        finish(1);
    }
}

static void on_dev_line(aios_stream *s, int st, void *ud)
{
    size_t n;
    const char *p;
    (void)ud;
    if (st == -ECANCELED) return;   /* the program is closing its streams */
    if (st == AIOS_EINCOMPLETE || st < 0) {
        if (st != AIOS_EINCOMPLETE) fprintf(stderr, "usb_lines: device: %s\n", aios_strerror(st));
        else fprintf(stderr, "usb_lines: the device stream ended\n");
        finish(1);
        return;
    }
    p = aios_data(s, &n);
    print_device_line(p, (size_t)st - 1);      /* without the newline */
    aios_consume(s, (size_t)st);
    if (stdin_done && schd_now_ns() - stdin_end_ns > LINGER_NS) {
        fprintf(stderr, "usb_lines: the device is still talking 10 s after the end of input\n");
        finish(1);
        return;
    }
    if (stdin_done) check("timer", schd_timer_start(&quiet, &loop, SCHD_SEC(1), 0));   /* a new quiet second */
    check("device", aios_read_until(s, "\n", 1, MAX_LINE, on_dev_line, NULL));
}

/* The device took enough of what was queued: read stdin again. */
static void on_drained(aios_stream *s, int st, void *ud)
{
    (void)s;
    (void)ud;
    if (st < 0) return;    /* the device side failed: on_dev_line says so */
    check("stdin", aios_read_until(in, "\n", 1, MAX_LINE, on_stdin_line, NULL));
}

/* Queues bytes for the device; -1 (said, and the end) when it cannot. */
static int send_to_device(const char *p, size_t n)
{
    int r = aios_write_copy(dev, p, n, NULL, NULL);
    check("device", r);
    return r;
}

static void on_stdin_line(aios_stream *s, int st, void *ud)
{
    size_t n;
    const char *p;
    (void)ud;
    if (st < 0) {               /* end of input: wait for the device to go quiet */
        p = aios_data(s, &n);
        if (st == AIOS_EINCOMPLETE && n > 0) {     /* a last line without its newline */
            if (send_to_device(p, n) < 0 || send_to_device("\n", 1) < 0) return;
        }
        stdin_done = 1;
        stdin_end_ns = schd_now_ns();
        check("timer", schd_timer_start(&quiet, &loop, SCHD_SEC(1), 0));
        return;
    }
    p = aios_data(s, &n);
    if (send_to_device(p, (size_t)st) < 0) return;
    aios_consume(s, (size_t)st);
    if (aios_write_queued(dev) > QUEUED_MAX) check("device", aios_drain(dev, QUEUED_MAX / 2, on_drained, NULL));
    else check("stdin", aios_read_until(s, "\n", 1, MAX_LINE, on_stdin_line, NULL));
}

static void on_quiet(schd_timer *t, void *ud)
{
    (void)t;
    (void)ud;
    finish(0);
}

static void on_usb_end(ausb_epstream *es, int st, void *ud)
{
    (void)es;
    (void)ud;
    if (st != 0 && st != -ECANCELED) fprintf(stderr, "usb_lines: USB: %s\n", ausb_strerror(st));
}

/* ---- the command line: digits only, no sign, space or junk ---- */

/* An endpoint address in hex within [lo, hi]; -1 otherwise.  The first
 * digit test keeps strtol from taking a sign, a space or 0x. */
static int parse_endpoint(const char *s, int lo, int hi)
{
    char *end;
    long v;
    if (!isxdigit((unsigned char)s[0])) return -1;
    v = strtol(s, &end, 16);
    return *end || end - s > 2 || v < lo || v > hi ? -1 : (int)v;
}

static int usage(const char *why, const char *arg)
{
    if (why && arg) fprintf(stderr, "usb_lines: %s: '%s'\n", why, arg);
    else if (why) fprintf(stderr, "usb_lines: %s\n", why);
    fprintf(stderr, "usage: usb_lines VID:PID IFACE EP_IN EP_OUT   (hex ids, IFACE 0..255, hex endpoints, e.g. 81 01)\n");
    return 2;
}

typedef struct args { int vid, pid, iface, ep_in, ep_out; } args;

static int parse_args(int argc, char **argv, args *a)
{
    int k;
    if (argc != 5) return usage("wrong number of arguments", NULL);
    if (ausb_parse_ids(argv[1], &a->vid, &a->pid) < 0) return usage("VID:PID must be two hex ids of 1 to 4 digits", argv[1]);
    for (k = 0, a->iface = 0; argv[2][k]; k++) {
        if (argv[2][k] < '0' || argv[2][k] > '9' || k == 3) return usage("IFACE must be 0..255", argv[2]);
        a->iface = a->iface * 10 + (argv[2][k] - '0');
    }
    if (k == 0 || a->iface > 255) return usage("IFACE must be 0..255", argv[2]);
    if ((a->ep_in = parse_endpoint(argv[3], 0x81, 0x8f)) < 0) return usage("EP_IN must be an IN endpoint address, 81..8f", argv[3]);
    if ((a->ep_out = parse_endpoint(argv[4], 0x01, 0x0f)) < 0) return usage("EP_OUT must be an OUT endpoint address, 01..0f", argv[4]);
    return 0;
}

int main(int argc, char **argv)
{
    ausb_ctx usb;
    aios_ctx aio;
    ausb_device d;
    ausb_handle h;
    ausb_epstream es;
    schd_source su, sa;
    args a;
    int r;

    if ((r = parse_args(argc, argv, &a)) != 0) return r;
    if ((r = ausb_ctx_init(&usb, NULL)) < 0) { fprintf(stderr, "usb_lines: %s\n", ausb_strerror(r)); return 1; }
    if ((r = ausb_find_id(&d, &usb, a.vid, a.pid)) < 0) {
        fprintf(stderr, "usb_lines: %04x:%04x: %s\n", a.vid, a.pid, ausb_strerror(r));
        ausb_ctx_close(&usb);
        return 1;
    }
    r = ausb_open(&h, &d);
    ausb_device_release(&d);
    if (r == 0) r = ausb_claim(&h, a.iface);
    if (r == 0) r = ausb_epstream_open(&es, &h, (unsigned char)a.ep_in, (unsigned char)a.ep_out, NULL, on_usb_end, NULL);
    if (r < 0) {
        fprintf(stderr, "usb_lines: %s\n", ausb_strerror(r));
        ausb_ctx_close(&usb);
        return 1;
    }
    /* one loop for both contexts: each is a source of it */
    if ((r = schd_loop_init(&loop)) < 0) {
        fprintf(stderr, "usb_lines: %s\n", schd_strerror(r));
        ausb_close(&h);
        ausb_ctx_close(&usb);
        return 1;
    }
    schd_timer_init(&quiet, on_quiet, NULL);
    r = aios_ctx_init(&aio);
    if (r == 0) r = schd_source_add(&su, &loop, ausb_prepare, ausb_dispatch, &usb);
    if (r == 0) r = schd_source_add(&sa, &loop, aios_prepare, aios_dispatch, &aio);
    if (r == 0) r = aios_stream_open(&dev, &aio, ausb_epstream_fd(&es), 0);
    if (r == 0) r = aios_stream_open(&in, &aio, 0, AIOS_NOCLOSE);
    if (r == 0) r = aios_read_until(dev, "\n", 1, MAX_LINE, on_dev_line, NULL);
    if (r == 0) r = aios_read_until(in, "\n", 1, MAX_LINE, on_stdin_line, NULL);
    if (r == 0) r = schd_loop_run(&loop);
    if (r < 0) {
        fprintf(stderr, "usb_lines: %s\n", schd_strerror(r));
        status = 1;
    }
    aios_ctx_close(&aio);          /* closes our end of the socket */
    ausb_epstream_close(&es);      /* stop the transfers now; on_end(-ECANCELED) */
    ausb_close(&h);
    schd_timer_stop(&quiet, &loop);
    schd_source_remove(&su);
    schd_source_remove(&sa);
    ausb_ctx_close(&usb);
    schd_loop_close(&loop);
    return status;
}
