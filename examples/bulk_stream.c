/* examples/bulk_stream.c - stream an IN endpoint with N transfers in flight.
 *
 *   cc -std=c99 -O2 -I. -o build/bulk_stream examples/bulk_stream.c $(pkg-config --cflags --libs libusb-1.0)
 *
 *   build/bulk_stream VID:PID EP [N] [SECONDS]
 *       VID:PID   device ids in hex, e.g. 1234:0001
 *       EP        IN endpoint address in hex, 81..8f (bulk or interrupt)
 *       N         transfers in flight, 1..64 (default 8)
 *       SECONDS   stop after this many seconds, e.g. 10 or 0.5, at most
 *                 1000000 (default: until an error or Ctrl-C)
 *
 * Prints "bytes B transfers T MB/s X" once a second and a closing line
 * "total: bytes B transfers T MB/s X status S" (also after Ctrl-C).  Exit
 * status 0 when stopped, 1 on an error, 2 for a bad command line.  Memory
 * is N transfers of 64 KiB whatever the device sends; the chunks are
 * counted, never printed.
 */
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <ctype.h>

typedef struct state {
    ausb_ctx *ctx;
    ausb_pipe *pipe;
    int64_t start, last_print, stop_at;
    long long last_bytes;
    int ended, status;
} state;

static double mbps(long long bytes, int64_t ns)
{
    return ns > 0 ? (double)bytes / 1e6 / ((double)ns / 1e9) : 0.0;
}

static int on_chunk(ausb_pipe *p, ausb_transfer *t, const unsigned char *data, int len, void *ud)
{
    (void)p;
    (void)t;
    (void)data;
    (void)len;
    (void)ud;
    return 0;   /* counted by the pipe (bytes, chunks); take the next */
}

static void on_end(ausb_pipe *p, int status, void *ud)
{
    state *s = (state *)ud;
    (void)p;
    s->ended = 1;
    s->status = status;
}

/* Ctrl-C, through the loop (no handler): the pipe stops, its end prints the total. */
static void on_sigint(ausb_signal *sig, const ausb_siginfo *info, void *ud)
{
    state *s = (state *)ud;
    (void)sig; (void)info;
    ausb_pipe_stop(s->pipe);
}

/* ---- the command line: digits only, no sign, space or junk ---- */

/* An IN endpoint address in hex, 81..8f; -1 otherwise.  The first digit
 * test keeps strtol from taking a sign, a space or 0x. */
static int parse_in_endpoint(const char *s)
{
    char *end;
    long v;
    if (!isxdigit((unsigned char)s[0])) return -1;
    v = strtol(s, &end, 16);
    return *end || end - s > 2 || v < 0x81 || v > 0x8f ? -1 : (int)v;
}

/* A decimal number with an optional fraction, in (0, max]; -1 otherwise. */
static double parse_positive(const char *s, double max)
{
    double v = 0, scale = 1;
    int digits = 0, point = 0;
    for (; *s; s++) {
        if (*s == '.' && !point) { point = 1; continue; }
        if (*s < '0' || *s > '9' || digits == 12) return -1;
        digits++;
        if (point) scale /= 10;
        v = v * 10 + (*s - '0');
    }
    v *= scale;
    return digits && v > 0 && v <= max ? v : -1;
}

static int usage(const char *why, const char *arg)
{
    if (why && arg) fprintf(stderr, "bulk_stream: %s: '%s'\n", why, arg);
    else if (why) fprintf(stderr, "bulk_stream: %s\n", why);
    fprintf(stderr, "usage: bulk_stream VID:PID EP [N] [SECONDS]   (hex ids, EP 81..8f, N 1..64, SECONDS > 0)\n");
    return 2;
}

typedef struct args { int vid, pid, ep, n; double seconds; } args;

static int parse_args(int argc, char **argv, args *a)
{
    double v;
    a->n = 8;
    a->seconds = 0;
    if (argc < 3 || argc > 5) return usage("wrong number of arguments", NULL);
    if (ausb_parse_ids(argv[1], &a->vid, &a->pid) < 0) return usage("VID:PID must be two hex ids of 1 to 4 digits", argv[1]);
    if ((a->ep = parse_in_endpoint(argv[2])) < 0) return usage("EP must be an IN endpoint address, 81..8f", argv[2]);
    if (argc > 3) {
        if ((v = parse_positive(argv[3], 64)) < 0 || strchr(argv[3], '.')) return usage("N must be a whole number 1..64", argv[3]);
        a->n = (int)v;
    }
    if (argc > 4 && (a->seconds = parse_positive(argv[4], 1e6)) < 0)
        return usage("SECONDS must be a number above 0, at most 1000000", argv[4]);
    return 0;
}

/* The interface that owns the endpoint and its type (bulk when the tree
 * does not say: libusb may have left part of a malformed one out). */
static void find_endpoint(const ausb_device *dev, int ep, int *iface, int *type, int *packet)
{
    ausb_config_desc *cfg;
    const ausb_interface *in;
    const ausb_altsetting *s;
    const ausb_endpoint_desc *epd = NULL;
    int i, a;
    *iface = 0;
    *type = AUSB_EP_BULK;
    *packet = 64;
    if (ausb_config_active(&cfg, dev) < 0) return;
    for (i = 0; !epd && (in = ausb_config_interface_at(cfg, i)) != NULL; i++)
        for (a = 0; !epd && (s = ausb_interface_altsetting_at(in, a)) != NULL; a++)
            if ((epd = ausb_altsetting_endpoint(s, (unsigned char)ep)) != NULL) *iface = s->bInterfaceNumber;
    if (epd) {
        *type = ausb_ep_type(epd);
        if (ausb_ep_packet_size(epd) > 0) *packet = ausb_ep_packet_size(epd);
    }
    ausb_config_free(cfg);
    if (*type == AUSB_EP_ISOCHRONOUS || *type == AUSB_EP_CONTROL) *type = AUSB_EP_BULK;
}

int main(int argc, char **argv)
{
    ausb_ctx ctx;
    ausb_device dev;
    ausb_handle h;
    ausb_pipe pipe;
    ausb_signal sigint;
    ausb_pipe_config pc;
    state s;
    args a;
    int r, type, iface, packet;
    if ((r = parse_args(argc, argv, &a)) != 0) return r;
    if ((r = ausb_ctx_init(&ctx, NULL)) < 0) {
        fprintf(stderr, "bulk_stream: %s\n", ausb_strerror(r));
        return 1;
    }
    if ((r = ausb_find_id(&dev, &ctx, a.vid, a.pid)) < 0) {
        fprintf(stderr, "bulk_stream: %04x:%04x: %s\n", a.vid, a.pid, ausb_strerror(r));
        ausb_ctx_close(&ctx);
        return 1;
    }
    find_endpoint(&dev, a.ep, &iface, &type, &packet);
    r = ausb_open(&h, &dev);
    ausb_device_release(&dev);
    if (r < 0 || (r = ausb_claim(&h, iface)) < 0) {
        fprintf(stderr, "bulk_stream: open/claim: %s\n", ausb_strerror(r));
        ausb_ctx_close(&ctx);
        return 1;
    }
    memset(&s, 0, sizeof s);
    s.ctx = &ctx;
    ausb_pipe_config_init(&pc);
    pc.in_flight = a.n;
    pc.transfer_len = type == AUSB_EP_INTERRUPT ? packet : 65536;
    memset(&pipe, 0, sizeof pipe);
    if ((r = ausb_pipe_start(&pipe, &h, (unsigned char)a.ep, type, &pc, on_chunk, on_end, &s)) < 0) {
        fprintf(stderr, "bulk_stream: %s\n", ausb_strerror(r));
        ausb_close(&h);
        ausb_ctx_close(&ctx);
        return 1;
    }
    s.pipe = &pipe;
    ausb_signal_init(&sigint, on_sigint, &s);
    if ((r = ausb_signal_start(&sigint, &ctx, SIGINT)) < 0) {
        fprintf(stderr, "bulk_stream: SIGINT: %s\n", ausb_strerror(r));
        ausb_pipe_stop(&pipe);
    }
    s.start = s.last_print = ausb_now_ns();
    s.stop_at = a.seconds > 0 ? s.start + (int64_t)(a.seconds * 1e9) : INT64_MAX;
    while (!s.ended) {
        int64_t now;
        if ((r = ausb_run_once(&ctx, AUSB_MS(100))) < 0) {
            fprintf(stderr, "bulk_stream: %s\n", ausb_strerror(r));
            break;
        }
        now = ausb_now_ns();
        if (now - s.last_print >= 1000000000) {
            printf("bytes %lld transfers %lld MB/s %.1f\n", pipe.bytes, pipe.chunks,
                   mbps(pipe.bytes - s.last_bytes, now - s.last_print));
            fflush(stdout);
            s.last_print = now;
            s.last_bytes = pipe.bytes;
        }
        if (now >= s.stop_at) ausb_pipe_stop(&pipe);
    }
    printf("total: bytes %lld transfers %lld MB/s %.1f status %s\n", pipe.bytes, pipe.chunks,
           mbps(pipe.bytes, ausb_now_ns() - s.start), s.status == -ECANCELED ? "stopped" : ausb_strerror(s.status));
    ausb_close(&h);
    ausb_ctx_close(&ctx);
    return r >= 0 && (s.status == -ECANCELED || s.status == 0) ? 0 : 1;
}
