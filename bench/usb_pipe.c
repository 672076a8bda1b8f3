/* bench/usb_pipe.c - an asyncusb IN pipeline (ausb_pipe) of 512-byte bulk
 * transfers, DEPTH in flight (default 4), on endpoint EP (default 88) of
 * the fake 1234:0001 of tests/usb_fakehost.c, until N chunks were
 * delivered.  Same work as usb_libusb.c with the same DEPTH.
 *
 *   usb_pipe N [DEPTH [EP [inline]]]
 *
 * "inline" sets inline_chunks: the handler runs inside libusb's event
 * handling, as the plain libusb loop's callback does. */
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long want, errors;
static int ended;

static int on_chunk(ausb_pipe *p, ausb_transfer *t, const unsigned char *data, int len, void *user)
{
    (void)t;
    (void)data;
    (void)len;
    (void)user;
    if (p->chunks + 1 == want) ausb_pipe_stop(p);
    return 0;
}

static void on_end(ausb_pipe *p, int status, void *user)
{
    (void)p;
    (void)user;
    if (status != -ECANCELED) errors++;
    ended = 1;
}

int main(int argc, char **argv)
{
    ausb_ctx ctx;
    ausb_device dev;
    ausb_handle h;
    ausb_pipe pipe;
    ausb_pipe_config pc;
    unsigned char ep = 0x88;
    want = argc > 1 ? atol(argv[1]) : 1000;
    ausb_pipe_config_init(&pc);
    pc.transfer_len = 512;
    if (argc > 2) pc.in_flight = atoi(argv[2]);
    if (argc > 3) ep = (unsigned char)strtol(argv[3], NULL, 16);
    if (argc > 4) pc.inline_chunks = strcmp(argv[4], "inline") == 0;
    if (ausb_ctx_init(&ctx, NULL) < 0 || ausb_find_id(&dev, &ctx, 0x1234, 0x0001) < 0 || ausb_open(&h, &dev) < 0) {
        fprintf(stderr, "usb_pipe: no fake device\n");
        return 1;
    }
    if (ausb_pipe_start(&pipe, &h, ep, AUSB_EP_BULK, &pc, on_chunk, on_end, NULL) < 0) return 1;
    while (!ended && ausb_run_once(&ctx, -1) >= 0) {}
    ausb_close(&h);
    ausb_device_release(&dev);
    ausb_ctx_close(&ctx);
    printf("completed %lld bytes %lld errors %ld\n", pipe.chunks, pipe.bytes, errors);
    return errors || pipe.chunks != want;
}
