/* examples/usb_lines.c - line-based text over a pair of bulk endpoints.
 *
 *   cc -std=c99 -O2 -I. -o build/usb_lines examples/usb_lines.c $(pkg-config --cflags --libs libusb-1.0) -lpthread
 *
 *   build/usb_lines VID:PID IFACE EP_IN EP_OUT
 *       VID:PID        device ids in hex, e.g. 1234:0001
 *       IFACE          interface to claim (a kernel driver is detached)
 *       EP_IN EP_OUT   bulk endpoint addresses in hex, e.g. 81 01
 *
 * Sends each line of stdin to the device and prints each line the device
 * sends as "< LINE".  At the end of stdin it waits until the device has
 * been quiet for a second, then exits with status 0; 1 on an error, also
 * when the device leaves.  A CDC-ACM gadget's data interface or a vendor
 * loopback are typical peers.
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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static schd_loop loop;
static aios_stream *dev, *in;
static int status = 1, stdin_done;

static void on_dev_line(aios_stream *s, int st, void *ud);

static void finish(int code)
{
    status = code;
    schd_loop_stop(&loop);
}

static void on_dev_line(aios_stream *s, int st, void *ud)
{
    size_t n;
    const char *p;
    (void)ud;
    if (st == -ETIMEDOUT && stdin_done) { finish(0); return; }  /* quiet for a second */
    if (st == AIOS_EINCOMPLETE || st < 0) {
        if (st != AIOS_EINCOMPLETE) fprintf(stderr, "usb_lines: device: %s\n", aios_strerror(st));
        else fprintf(stderr, "usb_lines: the device stream ended\n");
        finish(1);
        return;
    }
    p = aios_data(s, &n);
    printf("< %.*s\n", st - 1, p);      /* without the newline */
    fflush(stdout);
    aios_consume(s, (size_t)st);
    aios_read_until(s, "\n", 1, 4096, on_dev_line, NULL);
}

static void on_stdin_line(aios_stream *s, int st, void *ud)
{
    size_t n;
    const char *p;
    (void)ud;
    if (st < 0) {               /* end of input: wait for the device to go quiet */
        p = aios_data(s, &n);
        if (st == AIOS_EINCOMPLETE && n > 0) {     /* a last line without its newline */
            aios_write_copy(dev, p, n, NULL, NULL);
            aios_write_copy(dev, "\n", 1, NULL, NULL);
        }
        stdin_done = 1;
        aios_set_timeouts(dev, 1000, 0);
        return;
    }
    p = aios_data(s, &n);
    aios_write_copy(dev, p, (size_t)st, NULL, NULL);
    aios_consume(s, (size_t)st);
    aios_read_until(s, "\n", 1, 4096, on_stdin_line, NULL);
}

static void on_usb_end(ausb_epstream *es, int st, void *ud)
{
    (void)es;
    (void)ud;
    if (st != 0 && st != -ECANCELED) fprintf(stderr, "usb_lines: USB: %s\n", ausb_strerror(st));
}

static int parse_ids(const char *arg, int *vid, int *pid)
{
    char *end;
    long v = strtol(arg, &end, 16), q;
    if (end == arg || *end != ':' || v < 0 || v > 0xffff) return -1;
    arg = end + 1;
    q = strtol(arg, &end, 16);
    if (end == arg || *end || q < 0 || q > 0xffff) return -1;
    *vid = (int)v;
    *pid = (int)q;
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
    int vid, pid, iface, ep_in, ep_out, r;

    if (argc != 5 || parse_ids(argv[1], &vid, &pid) < 0) {
        fprintf(stderr, "usage: %s VID:PID IFACE EP_IN EP_OUT   (hex endpoints, e.g. 81 01)\n", argv[0]);
        return 2;
    }
    iface = atoi(argv[2]);
    ep_in = (int)strtol(argv[3], NULL, 16);
    ep_out = (int)strtol(argv[4], NULL, 16);
    if (!(ep_in & 0x80) || (ep_out & 0x80) || ep_in > 0xff || ep_out <= 0) {
        fprintf(stderr, "usb_lines: EP_IN needs bit 7 set (e.g. 81), EP_OUT clear (e.g. 01)\n");
        return 2;
    }
    if ((r = ausb_init(&usb, NULL)) < 0) { fprintf(stderr, "usb_lines: %s\n", ausb_strerror(r)); return 1; }
    if ((r = ausb_find_id(&usb, vid, pid, &d)) < 0) {
        fprintf(stderr, "usb_lines: %04x:%04x: %s\n", vid, pid, ausb_strerror(r));
        ausb_exit(&usb);
        return 1;
    }
    r = ausb_open(&d, &h);
    ausb_device_release(&d);
    if (r == 0) r = ausb_claim(&h, iface);
    if (r == 0) r = ausb_epstream_open(&es, &h, (unsigned char)ep_in, (unsigned char)ep_out, NULL, on_usb_end, NULL);
    if (r < 0) {
        fprintf(stderr, "usb_lines: %s\n", ausb_strerror(r));
        ausb_exit(&usb);
        return 1;
    }
    schd_loop_init(&loop);
    aios_ctx_init(&aio);
    schd_source_add(&loop, &su, ausb_prepare, ausb_dispatch, &usb);
    schd_source_add(&loop, &sa, aios_prepare, aios_dispatch, &aio);
    if (aios_stream_open(&aio, &dev, ausb_epstream_fd(&es), 0) < 0 ||
        aios_stream_open(&aio, &in, 0, AIOS_NOCLOSE) < 0) {
        fprintf(stderr, "usb_lines: cannot set up the streams\n");
        return 1;
    }
    aios_read_until(dev, "\n", 1, 4096, on_dev_line, NULL);
    aios_read_until(in, "\n", 1, 4096, on_stdin_line, NULL);
    schd_loop_run(&loop);
    aios_ctx_close(&aio);          /* closes our end of the socket */
    ausb_epstream_close(&es);      /* stop the transfers now; on_end(-ECANCELED) */
    ausb_close(&h);
    schd_source_remove(&su);
    schd_source_remove(&sa);
    ausb_exit(&usb);
    schd_loop_close(&loop);
    return status;
}
