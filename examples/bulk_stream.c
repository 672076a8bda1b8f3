/* examples/bulk_stream.c - stream an IN endpoint with N transfers in flight.
 *
 *   cc -std=c99 -O2 -I. -o build/bulk_stream examples/bulk_stream.c $(pkg-config --cflags --libs libusb-1.0)
 *
 *   build/bulk_stream VID:PID EP [N] [SECONDS]
 *       VID:PID   device ids in hex, e.g. 1234:0001
 *       EP        IN endpoint address in hex, e.g. 81 (bulk or interrupt)
 *       N         transfers in flight, 1..64 (default 8)
 *       SECONDS   stop after this many seconds (default: until an error)
 *
 * Prints "bytes B transfers T MB/s X" once a second and a closing line
 * "total: bytes B transfers T MB/s X status S" (also after Ctrl-C).
 */
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) { (void)sig; interrupted = 1; }

typedef struct state {
    ausb_ctx *ctx;
    int64_t start, last_print, stop_at;
    long long last_bytes;
    int ended, status;
} state;

static double mbps(long long bytes, int64_t ns)
{
    return ns > 0 ? (double)bytes / 1e6 / ((double)ns / 1e9) : 0.0;
}

static int on_chunk(ausb_pipe *p, ausb_transfer *t, const unsigned char *data, int len, void *user)
{
    (void)p;
    (void)t;
    (void)data;
    (void)len;
    (void)user;
    return 0;
}

static void on_end(ausb_pipe *p, int status, void *user)
{
    state *s = (state *)user;
    (void)p;
    s->ended = 1;
    s->status = status;
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
    ausb_ctx ctx;
    ausb_device dev;
    ausb_handle h;
    ausb_pipe pipe;
    ausb_pipe_config pc;
    state s;
    const ausb_endpoint_desc *epd = NULL;
    ausb_config_desc *cfg = NULL;
    int vid, pid, ep, n = 8, r, i, a, type = AUSB_EP_BULK, iface = 0;
    double seconds = 0;
    char *end;
    if (argc < 3 || parse_ids(argv[1], &vid, &pid) < 0) {
        fprintf(stderr, "usage: %s VID:PID EP [N] [SECONDS]\n", argv[0]);
        return 2;
    }
    ep = (int)strtol(argv[2], &end, 16);
    if (*end || !(ep & 0x80) || ep > 0xff) { fprintf(stderr, "bulk_stream: EP must be an IN endpoint (81..8f)\n"); return 2; }
    if (argc > 3) n = atoi(argv[3]);
    if (argc > 4) seconds = atof(argv[4]);
    if (n < 1 || n > 64) { fprintf(stderr, "bulk_stream: N must be 1..64\n"); return 2; }
    if ((r = ausb_init(&ctx, NULL)) < 0 || (r = ausb_find_id(&ctx, vid, pid, &dev)) < 0) {
        fprintf(stderr, "bulk_stream: %04x:%04x: %s\n", vid, pid, ausb_strerror(r));
        if (ctx.lu) ausb_exit(&ctx);
        return 1;
    }
    /* the interface that owns the endpoint, and its type */
    if (ausb_config_active(&dev, &cfg) == 0) {
        for (i = 0; i < cfg->bNumInterfaces && !epd; i++)
            for (a = 0; a < cfg->interface[i].num_altsetting && !epd; a++)
                if ((epd = ausb_altsetting_endpoint(&cfg->interface[i].altsetting[a], (unsigned char)ep)) != NULL)
                    iface = cfg->interface[i].altsetting[a].bInterfaceNumber;
        if (epd) type = ausb_ep_type(epd);
        ausb_config_free(cfg);
    }
    if (type == AUSB_EP_ISOCHRONOUS || type == AUSB_EP_CONTROL) type = AUSB_EP_BULK;
    r = ausb_open(&dev, &h);
    ausb_device_release(&dev);
    if (r < 0 || (r = ausb_claim(&h, iface)) < 0) {
        fprintf(stderr, "bulk_stream: open/claim: %s\n", ausb_strerror(r));
        ausb_exit(&ctx);
        return 1;
    }
    memset(&s, 0, sizeof s);
    s.ctx = &ctx;
    ausb_pipe_config_init(&pc);
    pc.in_flight = n;
    pc.transfer_len = type == AUSB_EP_INTERRUPT ? (epd ? ausb_ep_packet_size(epd) : 64) : 65536;
    memset(&pipe, 0, sizeof pipe);
    if ((r = ausb_pipe_start(&pipe, &h, (unsigned char)ep, type, &pc, on_chunk, on_end, &s)) < 0) {
        fprintf(stderr, "bulk_stream: %s\n", ausb_strerror(r));
        ausb_close(&h);
        ausb_exit(&ctx);
        return 1;
    }
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigint;
        sigaction(SIGINT, &sa, NULL);
    }
    s.start = s.last_print = ausb_now_ns();
    s.stop_at = seconds > 0 ? s.start + (int64_t)(seconds * 1e9) : INT64_MAX;
    while (!s.ended) {
        int64_t now;
        if ((r = ausb_run_once(&ctx, 100)) < 0) break;
        now = ausb_now_ns();
        if (now - s.last_print >= 1000000000) {
            printf("bytes %lld transfers %lld MB/s %.1f\n", pipe.bytes, pipe.chunks,
                   mbps(pipe.bytes - s.last_bytes, now - s.last_print));
            fflush(stdout);
            s.last_print = now;
            s.last_bytes = pipe.bytes;
        }
        if (now >= s.stop_at || interrupted) ausb_pipe_stop(&pipe);
    }
    printf("total: bytes %lld transfers %lld MB/s %.1f status %s\n", pipe.bytes, pipe.chunks,
           mbps(pipe.bytes, ausb_now_ns() - s.start), s.status == -ECANCELED ? "stopped" : ausb_strerror(s.status));
    ausb_close(&h);
    ausb_exit(&ctx);
    return s.status == -ECANCELED || s.status == 0 ? 0 : 1;
}
